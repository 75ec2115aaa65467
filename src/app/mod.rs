//! The application handle: one cheap-to-clone [`App`] that every adapter
//! shares. It owns the store and the in-memory catalog and executes
//! commands: parse once, execute here, render in the adapter.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use serde::Serialize;
use tracing::{info, warn};

use crate::core::announce::Job;
use crate::core::caller::{Caller, LOCAL_OWNER, Platform};
use crate::core::catalog::Catalog;
use crate::core::catalog::edit::{self as admin, FieldValue};
use crate::core::catalog::model::{Entry, EntryId, Field, Release, SourceScore, TitleLang};
use crate::core::catalog::search::MatchKind;
use crate::core::catalog::{scores, text};
use crate::core::clock::Clock;
use crate::core::command::{
    self, AdminCommand, Command, EpisodeInput, ParseError, ScoreInput, TitleRef,
};
use crate::core::reply::{
    Card, Choice, ErrorKind, HelpEntry, HelpView, ListItem, ListView, NextEpisode, Picker, Reply,
    ScoresView,
};
use crate::import::{self, Format, ImportError};
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            owners: Vec::new(),
            picker_size: 5,
            seed_demo: true,
            catch_up: chrono::Duration::hours(24),
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
            CommandError::NotOwner(_) | CommandError::NotChatAdmin => ErrorKind::NotAllowed,
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

/// One look-up result, as `rouge search --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub id: EntryId,
    pub title: String,
    pub matched: String,
    pub score: f32,
    #[serde(rename = "match")]
    pub how: MatchKind,
    pub external_ids: std::collections::BTreeMap<String, String>,
}

/// The title an admin command or look-up settled on.
enum Resolved {
    One(Arc<Entry>),
    Choose(Picker),
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
    clock: Arc<dyn Clock>,
    /// Woken whenever jobs are queued, so dispatchers need not poll.
    queued: Arc<tokio::sync::Notify>,
    metrics: crate::core::metrics::Metrics,
}

mod announce;
pub mod dispatch;

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
                clock,
                queued: Arc::new(tokio::sync::Notify::new()),
                metrics: crate::core::metrics::Metrics::default(),
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
        Ok(app)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
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
        let result = self.run(caller, cmd);
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
                match self.resolve(&title, |id| format!("/anime #{id}"), false)? {
                    Resolved::One(entry) => Reply::Card(Box::new(self.card(&entry)?)),
                    Resolved::Choose(picker) => Reply::Picker(picker),
                },
            ),
            Command::Scores(title) => Ok(
                match self.resolve(&title, |id| format!("/anime scores #{id}"), false)? {
                    Resolved::One(entry) => Reply::Scores(Box::new(ScoresView {
                        id: entry.id,
                        title: entry.display_title().to_owned(),
                        scores: scores::summarise(&entry.scores),
                        community: scores::community(&self.inner.store.ratings(entry.id)?),
                    })),
                    Resolved::Choose(picker) => Reply::Picker(picker),
                },
            ),
            Command::Rate { title, rating } => self.rate(caller, &title, rating),
            Command::Top { genre, limit } => Ok(self.top(genre.as_deref(), limit)),
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
            Command::Admin(admin) => {
                if !self.is_owner(caller) {
                    return Err(CommandError::NotOwner(caller.key()));
                }
                self.admin(caller, admin)
            }
        }
    }

    /// Finds the entry a title names. Look-ups settle on a confident best
    /// match; admin writes (`strict`) need an exact, unique title or an id.
    fn resolve(
        &self,
        title: &TitleRef,
        pick: impl Fn(EntryId) -> String,
        strict: bool,
    ) -> Result<Resolved, CommandError> {
        let query = match title {
            TitleRef::Id(id) => {
                return self
                    .entry(*id)
                    .map(Resolved::One)
                    .ok_or(CommandError::NoSuchId(*id));
            }
            TitleRef::Query(q) => q,
        };
        let catalog = self.catalog();
        let hits = catalog.search(query, self.inner.picker_size);
        let Some(top) = hits.first() else {
            return Err(CommandError::NotFound(query.clone()));
        };
        let runner_up = hits.get(1).map_or(0.0, |h| h.score);
        let confident = if strict {
            top.how == MatchKind::Exact && runner_up < 1.0
        } else {
            // An exact title, a strong match well ahead of the next, or the
            // only candidate at all.
            (top.score >= 0.97 && runner_up < 0.97)
                || (top.score >= 0.85 && top.score - runner_up >= 0.08)
                || top.score - runner_up >= 0.25
        };
        if confident && let Some(entry) = catalog.entry(top.entry) {
            return Ok(Resolved::One(entry));
        }
        let choices = hits
            .iter()
            .filter_map(|h| catalog.entry(h.entry))
            .map(|e| Choice {
                id: e.id,
                title: e.display_title().to_owned(),
                detail: detail(&e),
                command: pick(e.id),
            })
            .collect();
        Ok(Resolved::Choose(Picker {
            query: query.clone(),
            choices,
        }))
    }

    fn card(&self, entry: &Entry) -> Result<Card, CommandError> {
        let display = entry.display_title().to_owned();
        let mut other_titles: Vec<String> = Vec::new();
        let candidates = std::iter::once(entry.title.as_str()).chain(
            [TitleLang::Ja, TitleLang::ZhHans, TitleLang::ZhHant]
                .into_iter()
                .filter_map(|l| entry.title_in(l)),
        );
        for t in candidates {
            if t != display && !other_titles.iter().any(|o| o == t) {
                other_titles.push(t.to_owned());
            }
        }
        let mut latest_releases: Vec<Release> = entry.releases.clone();
        latest_releases.sort_by(|a, b| {
            b.released_at
                .cmp(&a.released_at)
                .then(b.number.cmp(&a.number))
        });
        latest_releases.truncate(3);
        Ok(Card {
            id: entry.id,
            title: display,
            other_titles,
            kind: entry.kind.map(|k| k.label().to_owned()),
            genres: entry.genres.clone(),
            status: entry
                .status_as_of(self.now().date_naive())
                .map(|s| s.label().to_owned()),
            season: entry.season_or_derived().map(|s| s.to_string()),
            aired_from: entry.aired_from,
            aired_to: entry.aired_to,
            episodes: entry.episodes,
            duration_min: entry.duration_min,
            audio: entry.audio.clone(),
            subtitles: entry.subtitles.clone(),
            qualities: entry.qualities.clone(),
            studios: entry.studios.clone(),
            synopsis: entry.synopsis.clone(),
            picture: entry.picture.clone(),
            links: entry.links.clone(),
            scores: scores::summarise(&entry.scores),
            community: scores::community(&self.inner.store.ratings(entry.id)?),
            latest_releases,
            next_episode: next_broadcast(entry, self.now()),
        })
    }

    fn rate(&self, caller: &Caller, title: &TitleRef, rating: u8) -> Result<Reply, CommandError> {
        let entry = match self.resolve(title, |id| format!("/anime rate #{id} {rating}"), false)? {
            Resolved::One(entry) => entry,
            Resolved::Choose(picker) => return Ok(Reply::Picker(picker)),
        };
        let previous = self
            .inner
            .store
            .set_rating(entry.id, &caller.key(), rating)?;
        let community = scores::community(&self.inner.store.ratings(entry.id)?);
        let mut text = match previous {
            Some(old) => format!(
                "You rated {} {rating}/10 (it was {old}).",
                entry.display_title()
            ),
            None => format!("You rated {} {rating}/10.", entry.display_title()),
        };
        match community.score {
            Some(score) => text.push_str(&format!(
                " Community score: {score} from {} ratings.",
                community.ratings
            )),
            None => text.push_str(&format!(
                " The community score appears after {} ratings ({} so far).",
                scores::COMMUNITY_MIN_RATINGS,
                community.ratings
            )),
        }
        Ok(Reply::done(text, Some(entry.id)))
    }

    fn top(&self, genre: Option<&str>, limit: usize) -> Reply {
        let wanted = genre.map(|g| text::fold(g).key);
        let catalog = self.catalog();
        let mut ranked: Vec<(scores::Tenths, u64, Arc<Entry>)> = catalog
            .entries()
            .filter(|e| {
                wanted
                    .as_ref()
                    .is_none_or(|w| e.genres.iter().any(|g| &text::fold(g).key == w))
            })
            .filter_map(|e| {
                let summary = scores::summarise(&e.scores).summary?;
                let votes = e.scores.iter().filter_map(|s| s.votes).sum();
                Some((summary, votes, Arc::clone(e)))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.id.cmp(&b.2.id)));
        ranked.truncate(limit);
        let heading = match genre {
            Some(g) => format!("Top {limit} in {g}"),
            None => format!("Top {limit}"),
        };
        Reply::List(ListView {
            previous: None,
            next: None,
            heading,
            empty: match genre {
                Some(g) => format!("No scored titles in the genre \"{g}\"."),
                None => "No title has a score yet.".into(),
            },
            items: ranked
                .into_iter()
                .map(|(score, _, e)| ListItem {
                    at: None,
                    id: Some(e.id),
                    text: e.display_title().to_owned(),
                    detail: format!("{score} · {}", detail(&e)),
                })
                .collect(),
        })
    }

    fn help(&self, caller: &Caller, topic: Option<&str>) -> Reply {
        let owner = self.is_owner(caller);
        let lines = command::HELP
            .iter()
            .filter(|h| match topic {
                Some("admin") => h.admin,
                Some(t) => h.topic == t,
                None => !h.admin || owner,
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

    fn admin(&self, caller: &Caller, cmd: AdminCommand) -> Result<Reply, CommandError> {
        let who = caller.key();
        let _writer = self.write_lock();
        match cmd {
            AdminCommand::Add { title, fields } => self.add(&who, title, fields),
            AdminCommand::Edit { target, fields } => self.modify(&who, &target, "edit", |entry| {
                let before = entry.clone();
                for value in fields {
                    if let Some(field) = value.field() {
                        entry.locked.insert(field);
                    }
                    value.apply(entry);
                }
                Ok(admin::describe_changes(&before, entry))
            }),
            AdminCommand::Delete { target } => self.delete(&who, &target),
            AdminCommand::Alias {
                target,
                add,
                remove,
            } => self.modify(&who, &target, "alias", |entry| {
                let mut done = Vec::new();
                for alias in remove {
                    let key = text::fold(&alias).key;
                    let before = entry.alt_titles.len();
                    entry.alt_titles.retain(|t| text::fold(&t.text).key != key);
                    if entry.alt_titles.len() == before {
                        return Err(CommandError::BadInput(format!(
                            "\"{alias}\" is not an alternative title of {}.",
                            entry.display_title()
                        )));
                    }
                    done.push(format!("removed \"{alias}\""));
                }
                for (alias, lang) in add {
                    if !entry.add_alt_title(&alias, lang) {
                        return Err(CommandError::BadInput(format!(
                            "{} already has the title \"{alias}\".",
                            entry.display_title()
                        )));
                    }
                    done.push(format!("added \"{alias}\" ({})", lang.as_str()));
                }
                Ok(done.join("; "))
            }),
            AdminCommand::Score {
                target,
                set,
                remove,
            } => self.modify(&who, &target, "score", |entry| {
                set_scores(entry, set, remove, self.now().date_naive())
            }),
            AdminCommand::Episode { target, episode } => {
                self.release_episode(&who, &target, episode)
            }
            AdminCommand::Deliveries { target } => {
                let entry = match target {
                    None => None,
                    Some(t) => match self.resolve(
                        &t,
                        |id| format!("/anime admin deliveries #{id}"),
                        false,
                    )? {
                        Resolved::One(e) => Some(e.id),
                        Resolved::Choose(p) => return Ok(Reply::Picker(p)),
                    },
                };
                self.deliveries_view(entry)
            }
            AdminCommand::Audit { target } => {
                let entry = match target {
                    None => None,
                    Some(t) => {
                        match self.resolve(&t, |id| format!("/anime admin audit #{id}"), false)? {
                            Resolved::One(e) => Some(e.id),
                            Resolved::Choose(p) => return Ok(Reply::Picker(p)),
                        }
                    }
                };
                Ok(self.audit_view(entry)?)
            }
        }
    }

    fn add(
        &self,
        who: &str,
        title: String,
        fields: Vec<FieldValue>,
    ) -> Result<Reply, CommandError> {
        let title = admin::checked_title(&title).map_err(CommandError::BadInput)?;
        self.refuse_duplicate_title(&title, None)?;
        let id = self.inner.store.allocate_ids(1)?.start;
        let mut entry = Entry::new(id, title);
        entry.locked.insert(Field::Title);
        for value in fields {
            if let Some(field) = value.field() {
                entry.locked.insert(field);
            }
            value.apply(&mut entry);
        }
        self.refuse_duplicate_title(&entry.title, None)?;
        let reply = Reply::done(format!("Added #{id} {}.", entry.display_title()), Some(id));
        self.commit(Change {
            audit: vec![self.audit_record(
                who,
                "add",
                format!("added \"{}\"", entry.title),
                Some(id),
                None,
                Some(entry.clone()),
            )],
            put: vec![entry],
            ..Change::default()
        })?;
        Ok(reply)
    }

    fn delete(&self, who: &str, target: &TitleRef) -> Result<Reply, CommandError> {
        let entry = self.resolve_strict(target)?;
        let reply = Reply::done(
            format!(
                "Deleted #{} {} and its ratings.",
                entry.id,
                entry.display_title()
            ),
            Some(entry.id),
        );
        self.commit(Change {
            delete: vec![entry.id],
            audit: vec![self.audit_record(
                who,
                "delete",
                format!("deleted \"{}\"", entry.title),
                Some(entry.id),
                Some((*entry).clone()),
                None,
            )],
            ..Change::default()
        })?;
        Ok(reply)
    }

    /// Applies `edit` to a copy of the target entry and commits it with an
    /// audit record; `edit` returns the change's description.
    fn modify(
        &self,
        who: &str,
        target: &TitleRef,
        action: &str,
        edit: impl FnOnce(&mut Entry) -> Result<String, CommandError>,
    ) -> Result<Reply, CommandError> {
        self.modify_announcing(who, target, action, edit, |_| Ok(Vec::new()))
    }

    /// [`Self::modify`], also queueing the announcement jobs that `jobs`
    /// derives from the edited entry, in the same transaction.
    fn modify_announcing(
        &self,
        who: &str,
        target: &TitleRef,
        action: &str,
        edit: impl FnOnce(&mut Entry) -> Result<String, CommandError>,
        jobs: impl FnOnce(&Entry) -> Result<Vec<Job>, CommandError>,
    ) -> Result<Reply, CommandError> {
        let before = self.resolve_strict(target)?;
        let mut after = (*before).clone();
        let description = edit(&mut after)?;
        if after == *before {
            return Ok(Reply::done(
                format!(
                    "Nothing changed for #{} {}.",
                    after.id,
                    after.display_title()
                ),
                Some(after.id),
            ));
        }
        if after.title != before.title {
            self.refuse_duplicate_title(&after.title, Some(after.id))?;
        }
        let mut text = format!(
            "Updated #{} {}: {description}.",
            after.id,
            after.display_title()
        );
        let jobs = jobs(&after)?;
        let queued = self.commit(Change {
            audit: vec![self.audit_record(
                who,
                action,
                description,
                Some(after.id),
                Some((*before).clone()),
                Some(after.clone()),
            )],
            put: vec![after],
            jobs,
            ..Change::default()
        })?;
        if queued > 0 {
            text.push_str(&format!(
                " Announcing it in {queued} chat{}.",
                if queued == 1 { "" } else { "s" }
            ));
        }
        Ok(Reply::done(text, Some(before.id)))
    }

    fn resolve_strict(&self, target: &TitleRef) -> Result<Arc<Entry>, CommandError> {
        match self.resolve(target, |id| format!("/anime #{id}"), true)? {
            Resolved::One(entry) => Ok(entry),
            Resolved::Choose(picker) => {
                let options = picker
                    .choices
                    .iter()
                    .map(|c| format!("#{} {} ({})", c.id, c.title, c.detail))
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(CommandError::BadInput(format!(
                    "\"{}\" does not name one entry exactly. Use its #id: {options}",
                    picker.query
                )))
            }
        }
    }

    fn refuse_duplicate_title(
        &self,
        title: &str,
        except: Option<EntryId>,
    ) -> Result<(), CommandError> {
        let key = text::fold(title).key;
        let catalog = self.catalog();
        let clash = catalog.search(title, 10).into_iter().find(|h| {
            h.how == MatchKind::Exact
                && Some(h.entry) != except
                && text::fold(&h.matched).key == key
        });
        match clash {
            Some(hit) => Err(CommandError::BadInput(format!(
                "#{} already has the title \"{}\". Edit that entry with /anime admin edit #{} …, or choose a different title.",
                hit.entry, hit.matched, hit.entry
            ))),
            None => Ok(()),
        }
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

    fn audit_view(&self, entry: Option<EntryId>) -> Result<Reply, CommandError> {
        let records = self.inner.store.audit(entry, 20)?;
        let heading = match entry.and_then(|id| self.entry(id)) {
            Some(e) => format!("Changes to #{} {}", e.id, e.display_title()),
            None => "Recent catalog changes".into(),
        };
        Ok(Reply::List(ListView {
            previous: None,
            next: None,
            heading,
            empty: "No changes recorded yet.".into(),
            items: records
                .into_iter()
                .map(|r| ListItem {
                    at: Some(r.at),
                    id: r.entry,
                    text: format!(
                        "{} · {} · {}",
                        r.at.format("%Y-%m-%d %H:%M UTC"),
                        r.who,
                        r.action
                    ),
                    detail: r.summary,
                })
                .collect(),
        }))
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

    /// Ranked look-up for `rouge search`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchResult> {
        let catalog = self.catalog();
        catalog
            .search(&text::clean_input(query), limit)
            .into_iter()
            .filter_map(|hit| {
                let entry = catalog.entry(hit.entry)?;
                Some(SearchResult {
                    id: entry.id,
                    title: entry.title.clone(),
                    matched: hit.matched,
                    score: (hit.score * 1000.0).round() / 1000.0,
                    how: hit.how,
                    external_ids: entry.external_ids.clone(),
                })
            })
            .collect()
    }

    /// Imports a file's bytes. A malformed file changes nothing; malformed
    /// records are skipped and listed in the summary. `progress` is called
    /// with (done, total) records while planning.
    pub fn import(
        &self,
        format: Format,
        bytes: &[u8],
        who: &str,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<import::Summary, ImportFailure> {
        let parsed = import::parse(format, bytes)?;
        progress(0, parsed.records.len());
        let _writer = self.write_lock();
        let mut plan = {
            let catalog = self.catalog();
            import::plan(&*catalog, parsed, format == Format::Rouge)
        };
        let total = plan.put.len();
        progress(total / 2, total);
        let new = plan.put.iter().filter(|e| e.id == 0).count() as u64;
        let mut ids = self.inner.store.allocate_ids(new)?;
        for entry in plan.put.iter_mut().filter(|e| e.id == 0) {
            entry.id = ids
                .next()
                .ok_or_else(|| StoreError::Corrupt("id allocation came up short".into()))?;
        }
        if let Some(max) = plan.put.iter().map(|e| e.id).max() {
            self.inner.store.reserve_through(max)?;
        }
        let summary = plan.summary;
        let audit = self.audit_record(
            who,
            "import",
            format!("import {format}: {summary}"),
            None,
            None,
            None,
        );
        let jobs = self.import_jobs(&plan.put)?;
        self.commit(Change {
            put: plan.put,
            audit: vec![audit],
            jobs,
            ..Change::default()
        })?;
        progress(total, total);
        info!(%format, added = summary.added, updated = summary.updated, skipped = summary.skipped.len(), "import finished");
        Ok(summary)
    }

    /// Every entry in id order, for `rouge export`.
    pub fn export_entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self.catalog().entries().map(|e| (**e).clone()).collect();
        entries.sort_by_key(|e| e.id);
        entries
    }
}

/// The next episode of the original broadcast after `now`.
fn next_broadcast(entry: &Entry, now: chrono::DateTime<chrono::Utc>) -> Option<NextEpisode> {
    let broadcast = entry.broadcasts.iter().find(|b| b.platform == "tv")?;
    let rule: crate::core::announce::schedule::Rule = broadcast.rule.parse().ok()?;
    let bounds = crate::core::announce::schedule::Bounds {
        ends: broadcast.ends,
        episodes: entry.episodes,
    };
    rule.next_after(now, bounds)
        .map(|(number, at)| NextEpisode { number, at })
}

/// `TV · 2024` for pickers and lists.
fn detail(entry: &Entry) -> String {
    let mut parts = Vec::new();
    if let Some(kind) = entry.kind {
        parts.push(kind.label().to_owned());
    }
    if let Some(season) = entry.season_or_derived() {
        parts.push(season.year.to_string());
    }
    if parts.is_empty() {
        parts.push(format!("#{}", entry.id));
    }
    parts.join(" · ")
}

fn set_scores(
    entry: &mut Entry,
    set: Vec<ScoreInput>,
    remove: Vec<String>,
    today: chrono::NaiveDate,
) -> Result<String, CommandError> {
    let mut done = Vec::new();
    for source in remove {
        let key = scores::source(&source).map_or(source.clone(), |s| s.key.to_owned());
        let before = entry.scores.len();
        entry.scores.retain(|s| s.source != key);
        if entry.scores.len() == before {
            return Err(CommandError::BadInput(format!(
                "{} has no {} score.",
                entry.display_title(),
                scores::label(&key)
            )));
        }
        done.push(format!("removed {}", scores::label(&key)));
    }
    for input in set {
        done.push(format!("{} {}", scores::label(&input.source), input.value));
        let score = SourceScore {
            source: input.source,
            value: input.value,
            scale_max: input.scale_max,
            votes: input.votes,
            as_of: Some(input.as_of.unwrap_or(today)),
        };
        match entry.scores.iter_mut().find(|s| s.source == score.source) {
            Some(s) => *s = score,
            None => entry.scores.push(score),
        }
    }
    Ok(done.join("; "))
}

/// Records a released episode, and the language and qualities it adds.
fn record_episode(
    entry: &mut Entry,
    input: EpisodeInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, CommandError> {
    if let Some(total) = entry.episodes
        && input.number > total
    {
        return Err(CommandError::BadInput(format!(
            "{} has {total} episodes; set episodes= with /anime admin edit first if that changed.",
            entry.display_title()
        )));
    }
    let release = Release {
        number: input.number,
        audio: input.audio.clone(),
        qualities: input.qualities.clone(),
        title: input.title,
        released_at: input.released_at.unwrap_or(now),
    };
    if let Some(audio) = &input.audio
        && !entry.audio.iter().any(|a| a.eq_ignore_ascii_case(audio))
    {
        entry.audio.push(audio.clone());
    }
    for q in &input.qualities {
        if !entry
            .qualities
            .iter()
            .any(|have| have.eq_ignore_ascii_case(q))
        {
            entry.qualities.push(q.clone());
        }
    }
    let mut what = format!("episode {}", input.number);
    if let Some(audio) = &input.audio {
        what.push_str(&format!(", {audio} audio"));
    }
    if !input.qualities.is_empty() {
        what.push_str(&format!(", {}", input.qualities.join("/")));
    }
    Ok(if entry.record_release(release) {
        format!("released {what}")
    } else {
        format!("updated {what}")
    })
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
