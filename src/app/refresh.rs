//! Keeping the catalog current from the live sources, offline-first and
//! politely. The store answers at once; the [`Refresher`] fills and
//! refreshes entries in the background — only what people look at, what
//! chats subscribe to, and what airs in the schedule window, never the
//! whole catalog on a timer (both services forbid mass collection). Each
//! source keeps its own budget (`sources`); this module only decides what
//! to ask for, and merges the answers (`SourceEntry::apply_to`).
//!
//! A card of an entry never fetched before may wait a short while for its
//! first fetch ([`RefreshSettings::first_fetch_wait`]); a stale one is
//! refreshed after the answer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::lookup::Resolved;
use super::{App, AuditRecord};
use crate::core::catalog::model::{Entry, EntryId, Status, TitleLang};
use crate::core::source::{Source, SourceEntry, SourceError, SourceId, SourceStatus};
use crate::store::{Change, StoreError};

/// How the refresher behaves (from `[sources]` in the config).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshSettings {
    /// How long a card of a never-fetched entry waits for its first fetch.
    pub first_fetch_wait: Duration,
    /// How old an airing (or upcoming) entry's data may be.
    pub ttl_airing: chrono::Duration,
    /// How old a finished entry's data may be.
    pub ttl_finished: chrono::Duration,
    /// How old scores may be (the Jikan source: MyAnimeList's score).
    pub ttl_scores: chrono::Duration,
    /// How often the airing schedule is polled.
    pub airing_poll: Duration,
    /// The schedule window: this far back…
    pub window_back: chrono::Duration,
    /// …and this far ahead.
    pub window_ahead: chrono::Duration,
    /// How often subscribed entries are checked for staleness.
    pub subscribed_check: Duration,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            first_fetch_wait: Duration::from_millis(800),
            ttl_airing: chrono::Duration::hours(6),
            ttl_finished: chrono::Duration::days(7),
            ttl_scores: chrono::Duration::hours(24),
            airing_poll: Duration::from_secs(15 * 60),
            window_back: chrono::Duration::days(2),
            window_ahead: chrono::Duration::days(7),
            subscribed_check: Duration::from_secs(10 * 60),
        }
    }
}

/// One entry to refresh from one source, and who waits for it.
struct Wanted {
    entry: EntryId,
    done: Option<std::sync::mpsc::Sender<()>>,
}

/// A source with its queue, as the app holds it.
pub(super) struct Connected {
    source: Arc<dyn Source>,
    queue: mpsc::UnboundedSender<Wanted>,
    queued: Arc<AtomicUsize>,
}

/// The sources attached to an app, and the refresher's settings.
pub(super) struct Sources {
    connected: Vec<Connected>,
    settings: RefreshSettings,
}

/// What `/healthz` and `/metrics` say of a source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceReport {
    pub source: SourceId,
    #[serde(flatten)]
    pub status: SourceStatus,
    /// Entries waiting to be asked for.
    pub queued: usize,
    /// How far past its time to live the stalest entry it filled is, in seconds.
    pub oldest_stale_secs: i64,
}

/// A source, the receiving end of its queue, and the queue's length.
type Queue = (
    Arc<dyn Source>,
    mpsc::UnboundedReceiver<Wanted>,
    Arc<AtomicUsize>,
);

/// The background half: one task per source, draining its queue in
/// batches, plus the schedule poll and the check of subscribed entries.
pub struct Refresher {
    app: App,
    queues: Vec<Queue>,
}

impl App {
    /// Attaches live sources (none: the bot works from the store alone, as
    /// offline) and returns the refresher to run. Attach once, before use.
    pub fn attach_sources(
        &self,
        sources: Vec<Arc<dyn Source>>,
        settings: RefreshSettings,
    ) -> Refresher {
        let mut connected = Vec::new();
        let mut queues = Vec::new();
        for source in sources {
            let (tx, rx) = mpsc::unbounded_channel();
            let queued = Arc::new(AtomicUsize::new(0));
            connected.push(Connected {
                source: Arc::clone(&source),
                queue: tx,
                queued: Arc::clone(&queued),
            });
            queues.push((source, rx, queued));
        }
        if self
            .inner
            .sources
            .set(Sources {
                connected,
                settings,
            })
            .is_err()
        {
            warn!("sources were attached twice; the second set is ignored");
        }
        Refresher {
            app: self.clone(),
            queues,
        }
    }

    fn sources(&self) -> Option<&Sources> {
        self.inner.sources.get()
    }

    /// How each attached source is doing.
    pub fn source_reports(&self) -> Vec<SourceReport> {
        let Some(sources) = self.sources() else {
            return Vec::new();
        };
        let now = self.now();
        let catalog = self.catalog();
        sources
            .connected
            .iter()
            .map(|c| {
                let id = c.source.id();
                let oldest = catalog
                    .entries()
                    .filter_map(|e| {
                        let at = *e.fetched.get(id.as_str())?;
                        Some((now - at - ttl(e, id, &sources.settings)).num_seconds())
                    })
                    .max()
                    .unwrap_or(0)
                    .max(0);
                SourceReport {
                    source: id,
                    status: c.source.status(),
                    queued: c.queued.load(Ordering::Relaxed),
                    oldest_stale_secs: oldest,
                }
            })
            .collect()
    }

    /// The entry as fresh as the sources can make it in time for a look-up:
    /// one never fetched waits up to `first_fetch_wait` for its first
    /// fetch; a stale one is asked for in the background.
    pub(super) fn fresh(&self, entry: Arc<Entry>) -> Arc<Entry> {
        let Some(sources) = self.sources() else {
            return entry;
        };
        let now = self.now();
        let mut waits = Vec::new();
        for c in &sources.connected {
            let id = c.source.id();
            if !entry.external_ids.contains_key(id.id_key()) {
                continue;
            }
            let done = match entry.fetched.get(id.as_str()) {
                None => {
                    let (tx, rx) = std::sync::mpsc::channel();
                    waits.push(rx);
                    Some(tx)
                }
                Some(&at) if now - at > ttl(&entry, id, &sources.settings) => None,
                Some(_) => continue,
            };
            c.queued.fetch_add(1, Ordering::Relaxed);
            let _ = c.queue.send(Wanted {
                entry: entry.id,
                done,
            });
        }
        if waits.is_empty() {
            return entry;
        }
        let deadline = std::time::Instant::now() + sources.settings.first_fetch_wait;
        for rx in waits {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let _ = rx.recv_timeout(left);
        }
        self.entry(entry.id).unwrap_or(entry)
    }

    /// Merges what `source` said into the entries it names (by its ids);
    /// with `discover`, works the catalog does not know are added. Returns
    /// how many entries changed.
    pub fn apply_source(
        &self,
        source: SourceId,
        found: Vec<SourceEntry>,
        discover: bool,
    ) -> Result<usize, StoreError> {
        let _writer = self.write_lock();
        let now = self.now();
        let mut change = Change::default();
        let mut discovered = Vec::new();
        for item in found {
            let existing = self
                .catalog()
                .by_external(source.id_key(), &item.external_id)
                .and_then(|id| self.catalog().entry(id));
            let mut entry = match existing {
                Some(entry) => (*entry).clone(),
                None if discover => {
                    let Some(mut entry) = new_entry(&item, source) else {
                        continue;
                    };
                    entry.id = 0;
                    discovered.push(entry.title.clone());
                    entry
                }
                None => continue,
            };
            let before = entry.clone();
            let changed = item.apply_to(&mut entry, source, now) || entry.id == 0;
            // What a source says passes the same check as an owner's edit.
            if let Err(why) = crate::core::catalog::edit::check(&entry) {
                warn!(source = %source, entry = entry.id, cause = %why, "ignoring an answer that would not be a valid entry");
                continue;
            }
            if changed {
                change
                    .audit
                    .extend(self.corrections(&before, &mut entry, source));
                change.put.push(entry);
            }
        }
        let new = change.put.iter().filter(|e| e.id == 0).count() as u64;
        if new > 0 {
            let mut ids = self.store().allocate_ids(new)?;
            for entry in change.put.iter_mut().filter(|e| e.id == 0) {
                entry.id = ids
                    .next()
                    .ok_or_else(|| StoreError::Corrupt("id allocation came up short".into()))?;
            }
            change.audit.push(self.audit_record(
                &format!("source:{source}"),
                "discover",
                format!(
                    "added {new} airing title{} from {source}: {}",
                    if new == 1 { "" } else { "s" },
                    discovered.join(", ")
                ),
                None,
                None,
                None,
            ));
        }
        let changed = change.put.len();
        if changed > 0 {
            self.commit(change)?;
        }
        Ok(changed)
    }

    /// Marks the entries with these ids at `source` as asked now, though it
    /// said nothing of them; nothing else of them changes.
    pub(super) fn note_unknown(&self, source: SourceId, ids: &[String]) -> Result<(), StoreError> {
        let _writer = self.write_lock();
        let now = self.now();
        let mut change = Change::default();
        for id in ids {
            let Some(entry) = self
                .catalog()
                .by_external(source.id_key(), id)
                .and_then(|e| self.catalog().entry(e))
            else {
                continue;
            };
            info!(source = %source, entry = entry.id, external_id = %id, "the source does not know this id");
            let mut entry = (*entry).clone();
            entry.fetched.insert(source.as_str().to_owned(), now);
            change.put.push(entry);
        }
        if !change.put.is_empty() {
            self.commit(change)?;
        }
        Ok(())
    }

    /// Releases the schedule recorded that `source`'s word now contradicts
    /// (another number or time) are removed, each with an audit record.
    fn corrections(&self, before: &Entry, entry: &mut Entry, source: SourceId) -> Vec<AuditRecord> {
        let Some(projection) = crate::core::announce::projection::Projection::of(entry) else {
            return Vec::new();
        };
        let wrong: Vec<_> = entry
            .releases
            .iter()
            .filter(|r| r.from_schedule)
            .filter(|r| {
                let at = r.released_at;
                !projection
                    .all_airings_between(at - chrono::Duration::seconds(1), at)
                    .iter()
                    .any(|a| a.number == r.number)
            })
            .cloned()
            .collect();
        if wrong.is_empty() {
            return Vec::new();
        }
        entry.releases.retain(|r| !wrong.contains(r));
        let summary = wrong
            .iter()
            .map(|r| {
                format!(
                    "episode {} at {}",
                    r.number,
                    r.released_at.format("%Y-%m-%d %H:%M UTC")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        vec![self.audit_record(
            &format!("source:{source}"),
            "correct",
            format!("{source}'s schedule contradicts the projected {summary}; removed"),
            Some(entry.id),
            Some(before.clone()),
            None,
        )]
    }

    /// Entries that chats subscribe to by name, whose data `source` should
    /// refresh (stale, or never fetched).
    fn stale_subscribed(&self, source: SourceId, settings: &RefreshSettings) -> Vec<EntryId> {
        let Ok(ids) = self.store().subscribed_entries() else {
            return Vec::new();
        };
        ids.into_iter()
            .filter(|&id| self.wants_refresh(id, source, settings))
            .collect()
    }

    /// Whether `source` should be asked about entry `id`: it has an id
    /// there, and the source's data of it is stale or was never fetched.
    fn wants_refresh(&self, id: EntryId, source: SourceId, settings: &RefreshSettings) -> bool {
        let now = self.now();
        self.entry(id).is_some_and(|e| {
            e.external_ids.contains_key(source.id_key())
                && e.fetched
                    .get(source.as_str())
                    .is_none_or(|&at| now - at > ttl(&e, source, settings))
        })
    }
}

/// How long `source`'s data about `entry` stays fresh.
fn ttl(entry: &Entry, source: SourceId, settings: &RefreshSettings) -> chrono::Duration {
    if source == SourceId::Jikan {
        return settings.ttl_scores;
    }
    match entry.status {
        Some(Status::Finished) => settings.ttl_finished,
        _ => settings.ttl_airing,
    }
}

/// A new entry for a work a source lists and the catalog does not know.
fn new_entry(item: &SourceEntry, source: SourceId) -> Option<Entry> {
    let pick = |lang: TitleLang| item.titles.iter().find(|t| t.lang == lang);
    let main = pick(TitleLang::Ja)
        .or_else(|| pick(TitleLang::Romaji))
        .or_else(|| item.titles.first())?;
    let mut entry = Entry::new(0, main.text.clone());
    entry
        .external_ids
        .insert(source.id_key().to_owned(), item.external_id.clone());
    Some(entry)
}

impl Refresher {
    /// Runs every source's task, the schedule poll and the subscribed check
    /// until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let app = self.app;
        let mut tasks = tokio::task::JoinSet::new();
        for (source, rx, queued) in self.queues {
            tasks.spawn(drain(app.clone(), source, rx, queued, shutdown.clone()));
        }
        tasks.spawn(poll(app.clone(), shutdown.clone()));
        while tasks.join_next().await.is_some() {}
        info!("refresher stopped");
    }
}

/// Gathers what is queued for `source` in batches of its size and asks.
async fn drain(
    app: App,
    source: Arc<dyn Source>,
    mut rx: mpsc::UnboundedReceiver<Wanted>,
    queued: Arc<AtomicUsize>,
    shutdown: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return,
            wanted = rx.recv() => match wanted {
                Some(w) => w,
                None => return,
            },
        };
        // A moment for more to come, so they share a request.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut batch = vec![first];
        while batch.len() < source.batch().max(1) * 4 {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        queued.fetch_sub(
            batch.len().min(queued.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        // An entry queued twice (a look-up and the subscribed check) was
        // fresh again by the time its second turn came: it is not asked twice.
        let settings = app
            .sources()
            .map(|s| s.settings.clone())
            .unwrap_or_default();
        let ids: BTreeSet<EntryId> = batch
            .iter()
            .map(|w| w.entry)
            .filter(|&id| app.wants_refresh(id, source.id(), &settings))
            .collect();
        if !ids.is_empty() {
            refresh(&app, &*source, ids.into_iter().collect()).await;
        }
        for w in batch {
            if let Some(done) = w.done {
                let _ = done.send(());
            }
        }
    }
}

/// Asks `source` about `entries` (by its ids), in batches, and merges the
/// answers. Returns how many entries changed.
pub(super) async fn refresh(app: &App, source: &dyn Source, entries: Vec<EntryId>) -> usize {
    let mut changed = 0;
    for chunk in source_ids(app, source, &entries).chunks(source.batch().max(1)) {
        match ask(app, source, chunk).await {
            Ok(n) => changed += n,
            Err(SourceError::Off) => return changed,
            Err(err) => {
                debug!(source = %source.id(), cause = %err, "a refresh failed; the store answers");
            }
        }
    }
    changed
}

/// How many times `rouge sync` asks again for a batch the source refused for
/// its budget, waiting out each lock-out, before it leaves the batch out.
const SYNC_RETRIES: u32 = 5;

/// [`refresh`] of one batch for `rouge sync`, which is asked to refresh all
/// it names: a batch refused for the source's budget (a 429's lock-out, or a
/// wait longer than the source's patience) is asked again once the source
/// allows it, rather than left out.
async fn refresh_waiting(app: &App, source: &dyn Source, entries: &[EntryId]) -> usize {
    let ids = source_ids(app, source, entries);
    if ids.is_empty() {
        return 0;
    }
    let mut retries = 0;
    loop {
        match ask(app, source, &ids).await {
            Ok(n) => return n,
            Err(SourceError::RateLimited { retry_after }) if retries < SYNC_RETRIES => {
                retries += 1;
                debug!(source = %source.id(), wait_s = retry_after.as_secs_f64(), "rate-limited; asking again after the wait");
                tokio::time::sleep(retry_after).await;
            }
            Err(err) => {
                debug!(source = %source.id(), cause = %err, "a refresh failed; the store answers");
                return 0;
            }
        }
    }
}

/// `source`'s ids of `entries` (those it has one for).
fn source_ids(app: &App, source: &dyn Source, entries: &[EntryId]) -> Vec<String> {
    let key = source.id().id_key();
    entries
        .iter()
        .filter_map(|&id| app.entry(id)?.external_ids.get(key).cloned())
        .collect()
}

/// Asks `source` about `ids` and merges the answer; how many entries changed.
async fn ask(app: &App, source: &dyn Source, ids: &[String]) -> Result<usize, SourceError> {
    let found = source.fetch(ids).await?;
    // Ids the source answered without (it does not know them) count as
    // asked: they wait for their TTL like the rest, rather than a look-up
    // asking again, and spending the budget, every time.
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !found.iter().any(|f| &f.external_id == *id))
        .cloned()
        .collect();
    let changed = apply_off_runtime(app, source.id(), found, false).await;
    if !unknown.is_empty() {
        let (app, id) = (app.clone(), source.id());
        let noted = tokio::task::spawn_blocking(move || app.note_unknown(id, &unknown)).await;
        if let Ok(Err(err)) = noted {
            warn!(source = %id, cause = %err, "cannot note the ids a source does not know");
        }
    }
    Ok(changed)
}

/// [`App::apply_source`] on a blocking thread (the store writes to disk).
async fn apply_off_runtime(
    app: &App,
    source: SourceId,
    found: Vec<SourceEntry>,
    discover: bool,
) -> usize {
    let app = app.clone();
    match tokio::task::spawn_blocking(move || app.apply_source(source, found, discover)).await {
        Ok(Ok(n)) => n,
        Ok(Err(err)) => {
            warn!(source = %source, cause = %err, "cannot store what a source said");
            0
        }
        Err(err) => {
            warn!(source = %source, cause = %err, "merging a source's answer failed");
            0
        }
    }
}

/// The schedule window, polled every `airing_poll` (adding works that air
/// and the catalog does not know), and subscribed entries checked for
/// staleness every `subscribed_check`.
async fn poll(app: App, shutdown: CancellationToken) {
    let Some(settings) = app.sources().map(|s| s.settings.clone()) else {
        return;
    };
    let mut airing = tokio::time::interval(settings.airing_poll);
    let mut subscribed = tokio::time::interval(settings.subscribed_check);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = airing.tick() => {
                poll_airing(&app, &settings).await;
            }
            _ = subscribed.tick() => {
                queue_stale_subscribed(&app, &settings);
            }
        }
    }
}

/// One poll of every source's schedule window.
pub(super) async fn poll_airing(app: &App, settings: &RefreshSettings) -> usize {
    let Some(sources) = app.sources() else {
        return 0;
    };
    let now = app.now();
    let (from, to) = (now - settings.window_back, now + settings.window_ahead);
    let mut changed = 0;
    for c in sources.connected.iter().filter(|c| c.source.has_schedule()) {
        let airings = c.source.schedule(from, to).await;
        if airings.is_ok() {
            // The schedule is known as of now: cards and lists stop saying
            // how old the imported file's schedules are.
            let store = app.store().clone();
            let today = now.date_naive();
            let noted = tokio::task::spawn_blocking(move || store.note_data_as_of(today)).await;
            if !matches!(noted, Ok(Ok(()))) {
                warn!(source = %c.source.id(), "could not record the schedule's date");
            }
        }
        match airings {
            Ok(airings) if !airings.is_empty() => {
                // One entry per work, with every airing of the window.
                let mut works: HashMap<String, SourceEntry> = HashMap::new();
                for airing in airings {
                    let work = works
                        .entry(airing.entry.external_id.clone())
                        .or_insert(airing.entry);
                    if !work.airings.contains(&(airing.episode, airing.at)) {
                        work.airings.push((airing.episode, airing.at));
                    }
                }
                let found: Vec<SourceEntry> = works.into_values().collect();
                changed += apply_off_runtime(app, c.source.id(), found, true).await;
            }
            Ok(_) => {}
            Err(err) => debug!(source = %c.source.id(), cause = %err, "the schedule poll failed"),
        }
    }
    changed
}

fn queue_stale_subscribed(app: &App, settings: &RefreshSettings) {
    let Some(sources) = app.sources() else {
        return;
    };
    for c in &sources.connected {
        for entry in app.stale_subscribed(c.source.id(), settings) {
            c.queued.fetch_add(1, Ordering::Relaxed);
            let _ = c.queue.send(Wanted { entry, done: None });
        }
    }
}

/// What an explicit sync asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncTarget {
    Entries(Vec<EntryId>),
    Subscribed,
    Airing,
}

impl App {
    /// The entry `rouge sync TITLE` names: `#id`, or a title the look-up
    /// settles on. The error says what to type instead (the candidates of
    /// an ambiguous title, by id).
    pub fn sync_entry(&self, title: &str) -> Result<EntryId, String> {
        let title = match crate::core::command::parse(&format!("/anime info {title}")) {
            Ok(crate::core::command::Command::Info(title)) => title,
            Ok(_) => return Err(format!("\"{title}\" is not a title")),
            Err(err) => return Err(err.to_string()),
        };
        match self.resolve(&title, |id| format!("#{id}"), false) {
            Ok(Resolved::One(entry)) => Ok(entry.id),
            Ok(Resolved::Choose(picker)) => Err(format!(
                "\"{}\" could be any of these; name one by its id: {}",
                picker.query,
                picker
                    .choices
                    .iter()
                    .map(|c| format!("#{} {}", c.id, c.title))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(err) => Err(err.to_string()),
        }
    }

    /// `rouge sync`: refreshes `target` now from every attached source,
    /// calling `progress(done, total)` as batches complete. Returns how
    /// many entries changed.
    pub async fn sync(&self, target: SyncTarget, mut progress: impl FnMut(usize, usize)) -> usize {
        let Some(sources) = self.sources() else {
            return 0;
        };
        if target == SyncTarget::Airing {
            progress(0, 1);
            let changed = poll_airing(self, &sources.settings).await;
            progress(1, 1);
            return changed;
        }
        let entries = match self.sync_entries(target) {
            Ok(entries) => entries,
            Err(err) => {
                warn!(cause = %err, "cannot read the subscribed entries");
                return 0;
            }
        };
        let total = entries.len() * sources.connected.len();
        let mut done = 0;
        let mut changed = 0;
        progress(0, total);
        for c in &sources.connected {
            for chunk in entries.chunks(c.source.batch().max(1)) {
                changed += refresh_waiting(self, &*c.source, chunk).await;
                done += chunk.len();
                progress(done, total);
            }
        }
        changed
    }

    /// The entries a sync of `target` refreshes (none for the airing
    /// window, which is read as a whole).
    fn sync_entries(&self, target: SyncTarget) -> Result<Vec<EntryId>, StoreError> {
        match target {
            SyncTarget::Entries(ids) => Ok(ids),
            SyncTarget::Subscribed => self.store().subscribed_entries(),
            SyncTarget::Airing => Ok(Vec::new()),
        }
    }

    /// How many entries a sync of `target` refreshes.
    pub fn sync_len(&self, target: &SyncTarget) -> Result<usize, StoreError> {
        self.sync_entries(target.clone()).map(|e| e.len())
    }

    /// How long a sync of `n` entries takes at least, by the sources' budgets
    /// (for the ETA): the slowest source's requests at its rate.
    pub fn sync_requests(&self, n: usize) -> Vec<(SourceId, usize)> {
        self.sources()
            .map(|s| {
                s.connected
                    .iter()
                    .map(|c| (c.source.id(), n.div_ceil(c.source.batch().max(1))))
                    .collect()
            })
            .unwrap_or_default()
    }
}
