//! The application handle: one cheap-to-clone [`App`] that every adapter
//! shares. It owns the store and the in-memory catalog and executes
//! commands: parse once, execute here, render in the adapter.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use tracing::{info, warn};

use crate::core::caller::{Caller, LOCAL_OWNER, Platform};
use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Entry, EntryId};
use crate::core::catalog::scores;
use crate::core::clock::Clock;
use crate::core::command::{self, Command, Group, ParseError};
use crate::core::reply::{ErrorKind, HelpEntry, HelpView, Reply, ScoresView};
use crate::import::{Format, ImportError};
use crate::store::{AuditRecord, Change, Store, StoreError};

/// Settings the core needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bot owners as `platform:user_id`.
    pub owners: Vec<String>,
    /// How many choices a picker offers.
    pub picker_size: usize,
    /// Seed the built-in demo catalog into an empty store.
    pub seed_demo: bool,
    /// Releases older than this when they come due (the bot was down) are
    /// recorded without a post.
    pub catch_up: chrono::Duration,
    /// Schedule data older than this is called out on cards and lists.
    pub stale_after: chrono::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            owners: Vec::new(),
            picker_size: 5,
            seed_demo: true,
            catch_up: chrono::Duration::hours(24),
            stale_after: chrono::Duration::days(30),
        }
    }
}

/// Why a command failed; becomes a [`Reply::Error`].
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("Nothing matches \"{0}\". Check the spelling, or try a shorter part of the title.")]
    NotFound(String),
    #[error("There is no entry #{0}.")]
    NoSuchId(EntryId),
    #[error(
        "#{0} is an adult title, hidden in this chat. A chat admin can show adult titles with /anime settings adult on (in a private chat: /anime me adult on)."
    )]
    Hidden(EntryId),
    #[error("Only the bot's owners can change the catalog (you are {0}).")]
    NotOwner(String),
    #[error("Only this chat's admins can change its subscriptions and settings.")]
    NotChatAdmin,
    #[error("{0}")]
    BadInput(String),
    #[error("Something went wrong on our side and nothing was changed; please try again later.")]
    Store(#[from] StoreError),
}

impl CommandError {
    fn kind(&self) -> ErrorKind {
        match self {
            CommandError::Parse(_) | CommandError::BadInput(_) => ErrorKind::BadInput,
            CommandError::NotFound(_) | CommandError::NoSuchId(_) => ErrorKind::NotFound,
            CommandError::NotOwner(_) | CommandError::NotChatAdmin | CommandError::Hidden(_) => {
                ErrorKind::NotAllowed
            }
            CommandError::Store(_) => ErrorKind::Unavailable,
        }
    }
}

/// An import that could not run; the store is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    #[error(transparent)]
    File(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How current the catalog's schedule data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Freshness {
    /// The newest date the imported schedule data knows of.
    pub as_of: chrono::NaiveDate,
    pub days_old: i64,
    /// Older than the configured threshold.
    pub stale: bool,
}

/// The store's figures as `/metrics` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStatus {
    /// Announcement jobs waiting, by platform.
    pub queued: Vec<(Platform, usize)>,
    /// Announcements that ended without a post.
    pub dead_letters: usize,
    pub bytes_on_disk: u64,
}

/// The shared application handle.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    catalog: RwLock<Catalog>,
    /// Serialises writers so the store and the catalog change in the same order.
    writer: Mutex<()>,
    owners: HashSet<String>,
    picker_size: usize,
    catch_up: chrono::Duration,
    stale_after: chrono::Duration,
    clock: Arc<dyn Clock>,
    /// Woken whenever jobs are queued, so dispatchers need not poll.
    queued: Arc<tokio::sync::Notify>,
    metrics: crate::core::metrics::Metrics,
    /// The live sources, once attached (none: the store alone).
    sources: std::sync::OnceLock<refresh::Sources>,
}

mod announce;
mod browse;
pub mod dispatch;
mod edit;
mod importing;
mod lookup;
mod personal;
mod refresh;

use lookup::Resolved;
pub use lookup::SearchResult;
pub use refresh::{RefreshSettings, Refresher, SourceReport, SyncTarget};

/// Who seeds the demo catalog, in the audit log.
const SEEDER: &str = "rouge:demo-seed";

impl App {
    /// Loads the catalog from `store`; an empty store gets the demo catalog
    /// when `settings.seed_demo` is set.
    pub fn open(
        store: Store,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<App, ImportFailure> {
        let started = Instant::now();
        let catalog = Catalog::build(store.load_entries()?);
        let app = App {
            inner: Arc::new(Inner {
                store,
                catalog: RwLock::new(catalog),
                writer: Mutex::new(()),
                owners: settings.owners.into_iter().collect(),
                picker_size: settings.picker_size.clamp(2, 10),
                catch_up: settings.catch_up,
                stale_after: settings.stale_after,
                clock,
                queued: Arc::new(tokio::sync::Notify::new()),
                metrics: crate::core::metrics::Metrics::default(),
                sources: std::sync::OnceLock::new(),
            }),
        };
        if settings.seed_demo && app.inner.store.is_empty() {
            let summary = app.import(
                Format::Rouge,
                crate::core::catalog::demo::CATALOG.as_bytes(),
                SEEDER,
                |_, _| {},
            )?;
            info!(added = summary.added, "seeded the demo catalog");
        }
        info!(
            entries = app.catalog().len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "catalog loaded"
        );
        if let Some(freshness) = app.data_freshness()
            && freshness.stale
        {
            warn!(
                data_as_of = %freshness.as_of,
                days_old = freshness.days_old,
                "the catalog's schedule data is old: episode numbers and times past it are not announced; import a newer bangumi-data file"
            );
        }
        Ok(app)
    }

    /// The store, for the app's own modules; nothing outside the app holds it.
    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Makes every write so far durable (before the process exits).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.store().flush()
    }

    /// How current the catalog's schedule data is, if an import said.
    pub fn data_freshness(&self) -> Option<Freshness> {
        let as_of = self.store().data_as_of().ok()??;
        let days_old = (self.now().date_naive() - as_of).num_days();
        Some(Freshness {
            as_of,
            days_old,
            stale: days_old > self.inner.stale_after.num_days(),
        })
    }

    /// One short line when the schedule data is old, for cards and lists.
    pub(super) fn stale_note(&self) -> Option<String> {
        let f = self.data_freshness().filter(|f| f.stale)?;
        Some(format!(
            "Schedule data as of {} ({} days old): later episodes and changes are not known.",
            f.as_of, f.days_old
        ))
    }

    /// Whether the store answers reads.
    pub fn store_readable(&self) -> bool {
        self.store().schema_version().is_ok()
    }

    /// What `/metrics` reports about the store (it counts rows: not for a hot path).
    pub fn store_status(&self) -> StoreStatus {
        let store = self.store();
        StoreStatus {
            queued: Platform::ALL
                .into_iter()
                .map(|p| (p, store.queued(p)))
                .collect(),
            dead_letters: store.dead_letters(),
            bytes_on_disk: store.size_on_disk().unwrap_or(0),
        }
    }

    /// Writes a consistent backup of the whole store in the backup format
    /// to `out` (writers wait while the snapshot is taken, not while it is
    /// written).
    pub fn backup_to(&self, out: &mut impl std::io::Write) -> Result<(), StoreError> {
        let snapshot = self.store().snapshot()?;
        crate::store::backup::write(&snapshot, out)
            .map_err(|e| StoreError::Corrupt(format!("cannot write the backup: {e}")))
    }

    /// The store's identity (see `Store::id`).
    pub fn store_id(&self) -> Result<String, StoreError> {
        self.store().id()
    }

    /// Counters and component health for `/metrics` and `/healthz`.
    pub fn metrics(&self) -> &crate::core::metrics::Metrics {
        &self.inner.metrics
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    fn catalog(&self) -> RwLockReadGuard<'_, Catalog> {
        self.inner.catalog.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lock(&self) -> MutexGuard<'_, ()> {
        self.inner.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of entries in the catalog.
    pub fn len(&self) -> usize {
        self.catalog().len()
    }

    pub fn is_empty(&self) -> bool {
        self.catalog().is_empty()
    }

    pub fn entry(&self, id: EntryId) -> Option<Arc<Entry>> {
        self.catalog().entry(id)
    }

    /// Whether `caller` may change the catalog.
    pub fn is_owner(&self, caller: &Caller) -> bool {
        (caller.platform == Platform::Local && caller.user_id == LOCAL_OWNER)
            || self.inner.owners.contains(&caller.key())
    }

    /// Parses and executes one chat line.
    pub fn handle_line(&self, caller: &Caller, line: &str) -> Reply {
        self.execute_parsed(caller, command::parse(line))
    }

    /// Executes what [`command::parse`] made of a line: the command, or the
    /// reply that explains why the line is not one. Adapters that look at the
    /// command first (to check chat-admin status) call this.
    pub fn execute_parsed(&self, caller: &Caller, parsed: Result<Command, ParseError>) -> Reply {
        match parsed {
            Ok(cmd) => self.execute(caller, cmd),
            Err(err) => {
                self.inner.metrics.command("unparsed", "bad_input");
                info!(platform = %caller.platform, outcome = "bad_input", "command refused");
                error_reply(&CommandError::Parse(err))
            }
        }
    }

    /// Executes a parsed command for `caller`.
    pub fn execute(&self, caller: &Caller, cmd: Command) -> Reply {
        let started = Instant::now();
        let name = cmd.name();
        let lookup = matches!(cmd, Command::Info(_) | Command::Scores(_));
        let result = self
            .run(caller, cmd)
            .map(|reply| self.with_stopped_notice(caller, reply));
        let took = started.elapsed();
        let latency_us = took.as_micros() as u64;
        if lookup {
            self.inner.metrics.lookup(took);
        }
        match result {
            Ok(reply) => {
                self.inner.metrics.command(name, "ok");
                info!(command = name, platform = %caller.platform, latency_us, outcome = "ok", "command");
                reply
            }
            Err(err) => {
                if let CommandError::Store(cause) = &err {
                    warn!(command = name, cause = %cause, "command failed in the store");
                }
                self.inner.metrics.command(name, err.kind().as_str());
                info!(command = name, platform = %caller.platform, latency_us, outcome = err.kind().as_str(), "command");
                error_reply(&err)
            }
        }
    }

    fn run(&self, caller: &Caller, cmd: Command) -> Result<Reply, CommandError> {
        match cmd {
            Command::Info(title) => Ok(
                match self.resolve_for(caller, &title, |id| format!("/anime #{id}"))? {
                    Resolved::One(entry) => Reply::Card(Box::new(self.card(&self.fresh(entry))?)),
                    Resolved::Choose(picker) => Reply::Picker(picker),
                },
            ),
            Command::Scores(title) => Ok(
                match self.resolve_for(caller, &title, |id| format!("/anime scores #{id}"))? {
                    Resolved::One(entry) => {
                        let entry = self.fresh(entry);
                        Reply::Scores(Box::new(ScoresView {
                            id: entry.id,
                            title: entry.display_title().to_owned(),
                            scores: scores::summarise(&entry.scores),
                            community: scores::community(&self.inner.store.ratings(entry.id)?),
                        }))
                    }
                    Resolved::Choose(picker) => Reply::Picker(picker),
                },
            ),
            Command::Rate { title, rating } => self.rate(caller, &title, rating),
            Command::Top { genre, limit } => self.top(caller, genre.as_deref(), limit),
            Command::Help { topic } => Ok(self.help(caller, topic.as_deref())),
            Command::Airing { days, page } => self.airing(caller, days, page),
            Command::Subscriptions => self.subscriptions(caller),
            Command::Subscribe {
                target,
                mention_role,
            } => {
                self.require_chat_admin(caller)?;
                self.subscribe(caller, target, mention_role)
            }
            Command::Unsubscribe(target) => {
                self.require_chat_admin(caller)?;
                self.unsubscribe(caller, target)
            }
            Command::Settings(change) => self.settings(caller, change),
            Command::Random { genre } => self.random(caller, genre.as_deref()),
            Command::Season { season, year, page } => self.season(caller, season, year, page),
            Command::Related(title) => self.related(caller, &title),
            Command::Follow { title, from } => self.follow(caller, &title, from.as_deref()),
            Command::Unfollow(title) => self.unfollow(caller, title.as_ref()),
            Command::Following => self.following(caller),
            Command::Me(change) => self.me(caller, change),
            Command::Admin(admin) => {
                if !self.is_owner(caller) {
                    return Err(CommandError::NotOwner(caller.key()));
                }
                self.admin(caller, admin)
            }
        }
    }

    /// The help of every command `caller` may run, of the admin group, or
    /// of one command; from the command table.
    fn help(&self, caller: &Caller, topic: Option<&str>) -> Reply {
        let owner = self.is_owner(caller);
        let lines = command::spec::COMMANDS
            .iter()
            .filter(|h| match topic {
                Some("admin") => h.group == Group::Admin,
                Some(t) => h.name == t,
                None => h.group == Group::Anime || owner,
            })
            .map(|h| HelpEntry {
                usage: h.usage.to_owned(),
                about: h.about.to_owned(),
            })
            .collect::<Vec<_>>();
        if lines.is_empty() {
            return Reply::error(ErrorKind::BadInput, "No help on that; try /anime help");
        }
        Reply::Help(HelpView { lines })
    }

    fn audit_record(
        &self,
        who: &str,
        action: &str,
        summary: String,
        entry: Option<EntryId>,
        before: Option<Entry>,
        after: Option<Entry>,
    ) -> AuditRecord {
        AuditRecord {
            seq: 0,
            at: self.now(),
            who: who.to_owned(),
            action: action.to_owned(),
            summary,
            entry,
            before,
            after,
        }
    }

    /// Writes a change durably (flushed before returning), then updates the
    /// in-memory catalog and wakes the dispatchers if jobs were queued.
    /// Callers hold the writer lock. Returns how many jobs were queued.
    fn commit(&self, change: Change) -> Result<usize, StoreError> {
        let puts = change.put.clone();
        let deletes = change.delete.clone();
        let queued = self.inner.store.apply(change, self.now())?;
        self.inner.store.flush()?;
        if queued > 0 {
            self.inner.queued.notify_waiters();
        }
        let mut catalog = self
            .inner
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for id in deletes {
            catalog.remove(id);
        }
        for entry in puts {
            catalog.upsert(entry);
        }
        Ok(queued)
    }

    /// Notified whenever announcement jobs are queued.
    pub fn queued_signal(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.inner.queued)
    }

    /// How long after coming due a release is still announced.
    pub fn catch_up(&self) -> chrono::Duration {
        self.inner.catch_up
    }
}

fn error_reply(err: &CommandError) -> Reply {
    let mut message = err.to_string();
    match err {
        CommandError::Parse(ParseError::NotACommand) => message.push_str(" Try /anime help."),
        CommandError::NotOwner(_) => message
            .push_str(" Owners are listed in the bot's config (owners = [\"platform:user_id\"])."),
        _ => {}
    }
    Reply::error(err.kind(), message)
}
