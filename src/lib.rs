//! # Rouge
//!
//! A self-hosted anime info bot: title look-ups, score summaries and a
//! catalog that admins edit from chat, over an embedded store.
//!
//! # Layout
//!
//! Read top to bottom: each folder uses only those above it (`core` uses
//! nothing of the crate's outside itself).
//!
//! - [`core`]: the platform-neutral domain; no I/O, never names a chat platform's crate.
//!   - [`core::platform`]: every chat platform once: name, store code, posting limits, secrets,
//!     where a person is written to privately.
//!   - [`core::caller`]: who is asking ([`core::caller::Caller`]) and in which chat.
//!   - [`core::clock`]: time as a dependency (a manual clock in tests).
//!   - [`core::catalog`]: entries ([`core::catalog::model`]), title folding and the typo-tolerant
//!     index, the in-memory catalog, scores, field edits and the demo catalog.
//!   - [`core::announce`]: subscriptions and chat settings, releases and their jobs, broadcast
//!     schedules, send outcomes and the `Notifier` port, the dispatcher's rate windows.
//!   - [`core::command`]: the command table ([`core::command::spec`]) and the one grammar,
//!     parsed or built once into a `Command`.
//!   - [`core::reply`]: platform-neutral replies (card, scores, picker, list, notice, help, error,
//!     a request to open a private chat).
//!   - [`core::metrics`]: counters and component health for `/metrics` and `/healthz`.
//! - [`store`]: the sled store (nothing else names sled or a key layout): trees, keys,
//!   the announcement outbox, transactions, backups, schema migrations.
//! - [`import`]: bangumi-data, anime-offline-database, rouge JSON, IMDb ratings and id-mapping files, and the merge plan.
//! - [`sources`]: the live sources (AniList, Jikan) over one shared HTTP client, a budget each.
//! - [`app`]: the cheap-to-clone [`app::App`] handle that executes commands (look-ups,
//!   browsing, edits, imports, announcements, each person's follows and settings) over the
//!   store, and the dispatcher that drains the outbox.
//! - [`adapters`]: the words every reply is written in ([`adapters::text`]), the console,
//!   Telegram (feature `telegram`), Discord (feature `discord`) and the operator's HTTP
//!   endpoints, each only converting input to commands and laying out replies.
//! - [`config`]: layered configuration (built-in defaults, file, environment).
//! - [`secrets`]: bot tokens and keys from the environment or a git-ignored file.
//! - [`live`]: the live sources of a running process: attaching them, their refresher beside
//!   a command-line session, and `rouge sync`.
//! - [`serve`]: `rouge serve`: every configured adapter, the refresher, the schedule ticker,
//!   automatic backups, one shutdown.
//! - [`shutdown`]: one shutdown token for SIGINT and SIGTERM.
//! - [`cli`]: the `rouge` subcommands behind `main`.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod import;
pub mod live;
pub mod secrets;
pub mod serve;
pub mod shutdown;
pub mod sources;
pub mod store;
