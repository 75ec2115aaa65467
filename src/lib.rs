//! # Rouge
//!
//! A self-hosted anime info bot: title look-ups, score summaries and a
//! catalog that admins edit from chat, over an embedded store.
//!
//! # Layout
//!
//! - [`core`]: the platform-neutral core; it never names a chat platform.
//!   - [`core::app`]: the cheap-to-clone [`core::app::App`] handle that executes commands.
//!   - [`core::command`]: the command grammar, parsed once into a `Command`.
//!   - [`core::reply`]: platform-neutral replies (card, picker, list, error, help).
//!   - [`core::model`]: catalog entries and their fields.
//!   - [`core::catalog`]: the in-memory catalog (entries, title index, external ids).
//!   - [`core::search`]: the typo-tolerant title index.
//!   - [`core::text`]: title normalisation (NFKC, case, kana, punctuation).
//!   - [`core::scores`]: score normalisation, summaries and community scores.
//!   - [`core::admin`]: typed field edits and audit descriptions.
//!   - [`core::caller`]: who is asking, and from which platform.
//!   - [`core::clock`]: time as a dependency.
//!   - [`core::demo`]: the built-in demo catalog.
//!   - [`core::announce`]: subscriptions, release events, outbox jobs, the `Notifier` trait.
//!   - [`core::dispatch`]: the rate-limited dispatcher that drains the outbox.
//!   - [`core::schedule`]: ISO-8601 repeating broadcast rules and time zones.
//! - [`store`]: the sled store: one tree per entity, the announcement outbox, transactions,
//!   schema migrations.
//! - [`import`]: bangumi-data, anime-offline-database and rouge JSON imports, and the merge.
//! - [`adapters`]: the console, the Telegram adapter (feature `telegram`) and
//!   the text rendering they share.
//! - [`config`]: layered configuration (built-in defaults, file, environment).
//! - [`secrets`]: bot tokens and keys from the environment or a git-ignored file.
//! - [`serve`]: `rouge serve`: adapters, dispatchers and the schedule ticker.
//! - [`shutdown`]: one shutdown token for SIGINT and SIGTERM.
//! - [`cli`]: the `rouge` subcommands behind `main`.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod import;
pub mod secrets;
pub mod serve;
pub mod shutdown;
pub mod store;
