//! The durable store: sled, one tree per entity, typed big-endian keys, and
//! one transaction for every group of writes that belong together.
//!
//! Nothing outside this module names sled, so another engine can replace it
//! without touching the core.

mod announce;
pub mod backup;
#[cfg(test)]
mod fixtures;
mod keys;
pub mod migrate;
mod outbox;
mod person;
mod records;

pub use announce::Subscribed;
pub use outbox::{Deliveries, DueJob, JobKey, RecentPost, ReleaseCache};
pub use person::{FORGOTTEN, Forgotten, Stopped};

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Transactional, Tree};

use crate::core::announce::{DeadKind, Job};
use crate::core::catalog::model::{Entry, EntryId};

/// What can go wrong below the core.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory is in use by another rouge process (only one may open it at a time)"
    )]
    Locked,
    #[error(
        "the data directory was written by a newer rouge (schema {found}, this build reads up to {supported})"
    )]
    TooNew { found: u32, supported: u32 },
    #[error("no migration from schema version {from}")]
    NoMigration { from: u32 },
    #[error("the data directory is not empty; restore into a new, empty one")]
    NotEmpty,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the catalog has no entry ids left (the highest is {MAX_ENTRY_ID})")]
    IdsExhausted,
    #[error(
        "disk full: the data directory's disk has no space left; nothing was changed. Free some space and try again"
    )]
    DiskFull,
    #[error("storage engine: {0}")]
    Engine(sled::Error),
}

impl From<sled::Error> for StoreError {
    fn from(err: sled::Error) -> Self {
        match &err {
            sled::Error::Io(io) if is_disk_full(io) => StoreError::DiskFull,
            _ => StoreError::Engine(err),
        }
    }
}

/// Whether an I/O error says the disk is full (ENOSPC, or a quota).
pub(crate) fn is_disk_full(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || err.raw_os_error() == Some(28)
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(err: TransactionError<StoreError>) -> Self {
        match err {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Engine(e),
        }
    }
}

/// One admin or import change, as it is kept in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// `platform:user_id` of whoever made the change.
    pub who: String,
    /// What was done: `add`, `edit`, `delete`, `alias`, `score`, `episode`, `import`.
    pub action: String,
    /// A one-line description of the change.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Entry>,
}

/// A tree's records, key and value, in key order.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// A consistent copy of every tree: what a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub schema_version: u32,
    /// Tree name → its records in key order.
    pub trees: Vec<(String, Records)>,
}

#[cfg(test)]
impl Snapshot {
    /// Loses a release's shared record, as a hand-edited backup might: the
    /// jobs it queued can then no longer be read.
    pub(crate) fn lose_release(&mut self, entry: EntryId, episode: u32, variant: &str) {
        let gone = outbox::release_record_key(&keys::release(entry, episode, variant));
        for (name, records) in &mut self.trees {
            if name == "jobs" {
                records.retain(|(key, _)| key != &gone);
            }
        }
    }
}

/// Writes that land together or not at all.
#[derive(Debug, Default)]
pub struct Change {
    /// Entries to insert or replace (ids come from [`Store::allocate_ids`]).
    pub put: Vec<Entry>,
    /// Entries to remove, with their community ratings.
    pub delete: Vec<EntryId>,
    /// Audit records; `seq` is assigned when the change is applied.
    pub audit: Vec<AuditRecord>,
    /// Announcement jobs to queue; one whose key was ever queued is skipped.
    pub jobs: Vec<Job>,
}

/// The handle to the data directory; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    entries: Tree,
    ratings: Tree,
    audit: Tree,
    audit_by_entry: Tree,
    meta: Tree,
    chats: Tree,
    subs: Tree,
    chat_subs: Tree,
    /// Queued jobs, their due index, delivered posts and dead letters, under
    /// key prefixes (see [`announce`]), so a job's moves are single-tree batches.
    jobs: Tree,
    /// Writers hold it shared; a backup holds it exclusively, so the
    /// snapshot it takes is consistent across trees.
    gate: Arc<RwLock<()>>,
    /// Held by every write to the outbox (`jobs`), so a check of what is
    /// queued and the writes it decides stay together; it guards the
    /// outbox's floors.
    outbox: Arc<Mutex<outbox::Floors>>,
}

const NEXT_ID: &[u8] = b"next_entry_id";
const STORE_ID: &[u8] = b"store_id";
/// The file in the data directory that names the store's identity.
const STORE_ID_FILE: &str = "rouge-store-id";

/// Removes what an interrupted snapshot leaves: sled writes a snapshot to
/// `snap.<lsn>.generating` and renames it when it is complete, but it reads
/// the newest `snap.*` file whatever its name, so a half-written one (a
/// full disk, a crash) would make the store refuse to open ("Read
/// corrupted data") even after space is freed. Such a file is never a
/// complete snapshot; sled makes a new one from its log.
fn discard_interrupted_snapshots(dir: &Path) {
    let Ok(files) = std::fs::read_dir(dir) else {
        return;
    };
    for file in files.flatten() {
        let name = file.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(file.path()) {
                Ok(()) => tracing::warn!(file = %name, "removed an interrupted snapshot"),
                Err(err) => {
                    tracing::warn!(file = %name, cause = %err, "cannot remove an interrupted snapshot")
                }
            }
        }
    }
}

/// 128 random bits as hex, from the standard library's randomly keyed hasher.
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

pub use crate::core::catalog::model::MAX_ENTRY_ID;
const NEXT_AUDIT: &[u8] = b"next_audit_seq";

impl Store {
    /// Opens (or creates) the store in `dir` and migrates it to the current schema.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        discard_interrupted_snapshots(dir);
        let store = Self::from_config(sled::Config::new().path(dir))?;
        // Readable without opening the store (which only one process may):
        // `rouge backup` checks that a running bot serves this store.
        let id_file = dir.join(STORE_ID_FILE);
        if std::fs::read_to_string(&id_file).ok().as_deref() != Some(store.id()?.as_str()) {
            std::fs::write(&id_file, store.id()?).map_err(|e| {
                if is_disk_full(&e) {
                    StoreError::DiskFull
                } else {
                    StoreError::Engine(sled::Error::Io(e))
                }
            })?;
        }
        Ok(store)
    }

    /// This store's identity: random, made when it was created, kept in a
    /// backup (a restored store is the same store).
    pub fn id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.meta.get(STORE_ID)? {
            return Ok(String::from_utf8_lossy(&id).into_owned());
        }
        let id = random_id();
        let _gate = self.writing();
        self.meta
            .compare_and_swap(STORE_ID, None as Option<&[u8]>, Some(id.as_bytes()))?
            .ok();
        Ok(self
            .meta
            .get(STORE_ID)?
            .map_or(id, |v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The identity of the store in `dir`, read without opening it.
    pub fn id_in(dir: &Path) -> Option<String> {
        std::fs::read_to_string(dir.join(STORE_ID_FILE))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// [`Store::open`], waiting up to `patience` while another process
    /// still holds the data directory (a previous instance shutting down
    /// while a supervisor starts the next one).
    pub fn open_waiting(dir: &Path, patience: std::time::Duration) -> Result<Store, StoreError> {
        let started = std::time::Instant::now();
        loop {
            match Self::open(dir) {
                Err(StoreError::Locked) if started.elapsed() < patience => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// A throw-away store that lives in memory and vanishes on drop.
    pub fn temporary() -> Result<Store, StoreError> {
        Self::from_config(sled::Config::new().temporary(true))
    }

    fn from_config(config: sled::Config) -> Result<Store, StoreError> {
        let db = config.open().map_err(|err| match err {
            // sled wraps the lock failure's WouldBlock in an error of its own kind.
            sled::Error::Io(ref io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("could not acquire lock") =>
            {
                StoreError::Locked
            }
            other => StoreError::from(other),
        })?;
        let store = Store {
            entries: db.open_tree("entries")?,
            ratings: db.open_tree("ratings")?,
            audit: db.open_tree("audit")?,
            audit_by_entry: db.open_tree("audit_by_entry")?,
            meta: db.open_tree("meta")?,
            chats: db.open_tree("chats")?,
            subs: db.open_tree("subs")?,
            chat_subs: db.open_tree("chat_subs")?,
            jobs: db.open_tree("jobs")?,
            gate: Arc::new(RwLock::new(())),
            outbox: Arc::new(Mutex::new(outbox::Floors::default())),
            db,
        };
        migrate::run(&store.db, &store.meta)?;
        Ok(store)
    }

    /// Taken by every write, so that a backup can wait for writes to settle.
    fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Taken by every write to the outbox (after [`Store::writing`]).
    fn outbox(&self) -> MutexGuard<'_, outbox::Floors> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The schema version recorded in the data directory.
    pub fn schema_version(&self) -> Result<Option<u32>, StoreError> {
        migrate::version(&self.meta)
    }

    /// Whether the catalog holds no entry at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, in id order. A record that does not decode is an error,
    /// never silently dropped.
    pub fn load_entries(&self) -> Result<Vec<Entry>, StoreError> {
        self.entries
            .iter()
            .values()
            .map(|value| decode::<Entry>(&value?))
            .collect()
    }

    pub fn entry(&self, id: EntryId) -> Result<Option<Entry>, StoreError> {
        self.entries
            .get(keys::entry(id))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Reserves `n` fresh entry ids. Ids lost to a failed write are never reused.
    ///
    /// A new id is never one an entry already has, whatever the counter
    /// holds (a damaged or hand-edited backup, an import that kept a high
    /// id): allocation starts past the highest stored id.
    pub fn allocate_ids(&self, n: u64) -> Result<std::ops::Range<EntryId>, StoreError> {
        let _gate = self.writing();
        let past_stored = match self.entries.last()? {
            Some((key, _)) => keys::decode_u64(&key)
                .ok_or_else(|| StoreError::Corrupt("an entry key is not 8 bytes".into()))?
                .checked_add(1)
                .ok_or(StoreError::IdsExhausted)?,
            None => 1,
        };
        let mut range = None;
        self.meta.update_and_fetch(NEXT_ID, |old| {
            // A counter that cannot be right (damaged, or past the highest
            // id) is ignored: the stored entries decide.
            let counter = old
                .filter(|v| v.len() == 8)
                .and_then(keys::decode_u64)
                .filter(|c| *c <= MAX_ENTRY_ID + 1)
                .unwrap_or(1);
            let start = counter.max(past_stored).max(1);
            match start.checked_add(n).filter(|end| *end <= MAX_ENTRY_ID + 1) {
                Some(end) => {
                    range = Some(start..end);
                    Some(end.to_be_bytes().to_vec())
                }
                None => {
                    range = None;
                    old.map(|v| v.to_vec())
                }
            }
        })?;
        range.ok_or(StoreError::IdsExhausted)
    }

    /// Adds `n` to a counter in `meta` (starting from 1) and returns the new value.
    fn bump_counter(&self, key: &[u8], n: u64) -> Result<u64, StoreError> {
        let _gate = self.writing();
        let updated = self.meta.update_and_fetch(key, |old| {
            let current = old.and_then(keys::decode_u64).unwrap_or(1);
            Some(current.saturating_add(n).to_be_bytes().to_vec())
        })?;
        updated
            .as_deref()
            .and_then(keys::decode_u64)
            .ok_or_else(|| StoreError::Corrupt("counter is not 8 bytes".into()))
    }

    /// Applies a change in one transaction: every entry, deletion (with the
    /// entry's ratings, and its queued jobs withdrawn), audit record and new
    /// job lands, or none does. Returns how many jobs were queued.
    ///
    /// Jobs are written per release: its shared announcement once (if it has
    /// none yet), then each chat's small record. A release that had no record
    /// has never queued a job; only a release seen before pays for finding
    /// which of its jobs were queued, delivered or dead-lettered already.
    pub fn apply(&self, mut change: Change, now: DateTime<Utc>) -> Result<usize, StoreError> {
        if !change.audit.is_empty() {
            let n = change.audit.len() as u64;
            let end = self.bump_counter(NEXT_AUDIT, n)?;
            for (record, seq) in change.audit.iter_mut().zip(end - n..end) {
                record.seq = seq;
            }
        }
        let _gate = self.writing();
        let mut floors = self.outbox();
        let puts = change
            .put
            .iter()
            .map(|e| Ok((keys::entry(e.id), encode(e)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let audits = change
            .audit
            .iter()
            .map(|a| Ok((a.seq, a.entry, encode(a)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let releases = self.new_jobs(&change.jobs)?;
        let mut rating_keys = Vec::new();
        let mut withdrawn = Vec::new();
        for id in &change.delete {
            for key in self.ratings.scan_prefix(keys::entry(*id)).keys() {
                rating_keys.push(key?);
            }
            let entry = keys::entry(*id);
            for job in self.queued_where(&floors, |key| key.starts_with(&entry))? {
                let letter = outbox::DeadRecord::encode(
                    &job,
                    DeadKind::Withdrawn,
                    "the entry was deleted",
                    now,
                )?;
                withdrawn.push((keys::job(&job), outbox::due_key(&job), letter));
            }
        }
        let trees = (
            &self.entries,
            &self.ratings,
            &self.audit,
            &self.audit_by_entry,
            &self.jobs,
        );
        trees.transaction(|(entries, ratings, audit, audit_by_entry, jobs_tree)| {
            for (key, value) in &puts {
                entries.insert(key, value.as_slice())?;
            }
            for id in &change.delete {
                entries.remove(&keys::entry(*id))?;
            }
            for key in &rating_keys {
                ratings.remove(key)?;
            }
            for (seq, entry, value) in &audits {
                audit.insert(&keys::audit(*seq), value.as_slice())?;
                if let Some(entry) = entry {
                    audit_by_entry.insert(&keys::audit_by_entry(*entry, *seq), &[])?;
                }
            }
            for (key, due, letter) in &withdrawn {
                jobs_tree.remove(due.as_slice())?;
                jobs_tree.insert(outbox::dead_key(key), letter.as_slice())?;
            }
            for release in &releases {
                if let Some(record) = &release.record {
                    jobs_tree.insert(release.key.as_slice(), record.as_slice())?;
                }
                for (due, record) in &release.jobs {
                    jobs_tree.insert(due.as_slice(), record.as_slice())?;
                }
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        self.queued_rows_written(&mut floors, &releases);
        Ok(releases.iter().map(|r| r.jobs.len()).sum())
    }

    /// Sets `user`'s rating of an entry; returns the rating it replaced.
    pub fn set_rating(
        &self,
        entry: EntryId,
        user: &str,
        value: u8,
    ) -> Result<Option<u8>, StoreError> {
        let _gate = self.writing();
        let old = self.ratings.insert(keys::rating(entry, user), &[value])?;
        Ok(old.and_then(|v| v.first().copied()))
    }

    /// Every rating of an entry, as values 1–10.
    pub fn ratings(&self, entry: EntryId) -> Result<Vec<u8>, StoreError> {
        self.ratings
            .scan_prefix(keys::entry(entry))
            .values()
            .map(|v| {
                v?.first()
                    .copied()
                    .ok_or_else(|| StoreError::Corrupt("empty rating".into()))
            })
            .collect()
    }

    /// The newest audit records, newest first; only one entry's when `entry` is given.
    pub fn audit(
        &self,
        entry: Option<EntryId>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let seqs: Vec<u64> = match entry {
            Some(id) => self
                .audit_by_entry
                .scan_prefix(keys::entry(id))
                .keys()
                .rev()
                .take(limit)
                .map(|k| {
                    let k = k?;
                    keys::decode_u64(&k[8..])
                        .ok_or_else(|| StoreError::Corrupt("bad audit index key".into()))
                })
                .collect::<Result<_, _>>()?,
            None => self
                .audit
                .iter()
                .keys()
                .rev()
                .take(limit)
                .map(|k| {
                    keys::decode_u64(&k?).ok_or_else(|| StoreError::Corrupt("bad audit key".into()))
                })
                .collect::<Result<_, _>>()?,
        };
        seqs.into_iter()
            .map(|seq| {
                let value = self
                    .audit
                    .get(keys::audit(seq))?
                    .ok_or_else(|| StoreError::Corrupt(format!("audit record {seq} is missing")))?;
                decode(&value)
            })
            .collect()
    }

    /// Makes sure ids up to and including `id` are never allocated again
    /// (an import that keeps its records' ids calls this).
    pub fn reserve_through(&self, id: EntryId) -> Result<(), StoreError> {
        let _gate = self.writing();
        self.meta.update_and_fetch(NEXT_ID, |old| {
            let current = old.and_then(keys::decode_u64).unwrap_or(1);
            Some(current.max(id.saturating_add(1)).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// Every tree's records, taken while no write is under way, so the copy
    /// is consistent across trees (writers wait for it).
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let _exclusive = self.gate.write().unwrap_or_else(|e| e.into_inner());
        let mut trees = Vec::new();
        for (name, tree) in self.named_trees() {
            let records = tree
                .iter()
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<Result<Vec<_>, _>>()?;
            trees.push((name.to_owned(), records));
        }
        Ok(Snapshot {
            schema_version: migrate::version(&self.meta)?.unwrap_or(migrate::CURRENT),
            trees,
        })
    }

    /// Loads a snapshot into this store, which must be empty (a data
    /// directory that was only just created). Tree by tree in batches, then
    /// migrated from the backup's schema to this build's, flushed at the end.
    pub fn restore(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let _gate = self.writing();
        if snapshot.schema_version > migrate::CURRENT {
            return Err(StoreError::TooNew {
                found: snapshot.schema_version,
                supported: migrate::CURRENT,
            });
        }
        if snapshot.schema_version == 0 {
            return Err(StoreError::NoMigration { from: 0 });
        }
        let used = self.named_trees().iter().any(|(name, tree)| match *name {
            // A new store holds its schema version and its identity.
            "meta" => tree.iter().keys().any(|k| {
                k.map_or(true, |k| {
                    k.as_ref() != migrate::VERSION_KEY && k.as_ref() != STORE_ID
                })
            }),
            _ => !tree.is_empty(),
        });
        if used {
            return Err(StoreError::NotEmpty);
        }
        if let Some((_, entries)) = snapshot.trees.iter().find(|(name, _)| name == "entries")
            && let Some((key, _)) = entries.iter().find(|(key, _)| {
                keys::decode_u64(key)
                    .is_none_or(|id| key.len() != 8 || id == 0 || id > MAX_ENTRY_ID)
            })
        {
            return Err(StoreError::Corrupt(format!(
                "the backup holds an entry with an impossible id ({}); entry ids run from 1 to {MAX_ENTRY_ID}",
                keys::decode_u64(key)
                    .map_or_else(|| format!("{} bytes", key.len()), |id| id.to_string())
            )));
        }
        if let Some((_, entries)) = snapshot.trees.iter().find(|(name, _)| name == "entries") {
            for (_, value) in entries {
                let entry: Entry = decode(value)?;
                crate::core::catalog::edit::check(&entry).map_err(|why| {
                    StoreError::Corrupt(format!(
                        "the backup's entry #{} is not valid: {why}",
                        entry.id
                    ))
                })?;
            }
        }
        let trees = self.named_trees();
        for (name, records) in &snapshot.trees {
            let tree = trees
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, tree)| tree)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("the backup has an unknown tree \"{name}\""))
                })?;
            let mut batch = sled::Batch::default();
            for (key, value) in records {
                batch.insert(key.as_slice(), value.as_slice());
            }
            tree.apply_batch(batch)?;
        }
        // The records are in the backup's schema: say so, and bring them up
        // to this build's.
        self.meta
            .insert(migrate::VERSION_KEY, &snapshot.schema_version.to_be_bytes())?;
        migrate::run(&self.db, &self.meta)?;
        self.flush()
    }

    fn named_trees(&self) -> [(&'static str, &Tree); 10] {
        [
            ("entries", &self.entries),
            ("ratings", &self.ratings),
            ("audit", &self.audit),
            ("audit_by_entry", &self.audit_by_entry),
            ("meta", &self.meta),
            ("chats", &self.chats),
            ("subs", &self.subs),
            ("chat_subs", &self.chat_subs),
            ("jobs", &self.jobs),
            ("default", &self.db),
        ]
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode a record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_entries(ids: &[EntryId]) -> Store {
        let store = Store::temporary().expect("a store");
        let change = Change {
            put: ids
                .iter()
                .map(|&id| Entry::new(id, format!("#{id}")))
                .collect(),
            ..Change::default()
        };
        store.apply(change, DateTime::UNIX_EPOCH).expect("written");
        store
    }

    /// Whatever the counter says — pinned at the top, one byte long, zero,
    /// or behind an entry an import kept — a new id is never one an entry has.
    #[test]
    fn a_new_id_never_collides_whatever_the_counter_says() {
        for counter in [
            u64::MAX.to_be_bytes().to_vec(),
            vec![1],
            0u64.to_be_bytes().to_vec(),
            2u64.to_be_bytes().to_vec(),
        ] {
            let store = with_entries(&[1, 2, 40]);
            store.meta.insert(NEXT_ID, counter.clone()).expect("set");
            let ids = store.allocate_ids(3).expect("ids");
            assert_eq!(ids, 41..44, "counter {counter:?}");
            assert_eq!(store.allocate_ids(1).expect("ids"), 44..45);
        }
        let full = with_entries(&[MAX_ENTRY_ID]);
        assert!(matches!(
            full.allocate_ids(1),
            Err(StoreError::IdsExhausted)
        ));
    }

    /// A backup with an impossible entry id is refused with a clear message.
    #[test]
    fn a_backup_with_an_out_of_range_id_is_refused() {
        let store = with_entries(&[1]);
        let mut snapshot = store.snapshot().expect("a snapshot");
        for (name, records) in &mut snapshot.trees {
            if name == "entries" {
                records.push((u64::MAX.to_be_bytes().to_vec(), b"{}".to_vec()));
            }
        }
        let err = Store::temporary()
            .expect("a store")
            .restore(&snapshot)
            .expect_err("refused");
        assert!(err.to_string().contains("impossible id"), "{err}");
    }

    /// A snapshot interrupted by a full disk leaves a `snap.*.generating`
    /// file; the store opens anyway, with everything it held.
    #[test]
    fn an_interrupted_snapshot_does_not_stop_the_store_from_opening() {
        let dir = tempfile::tempdir().expect("a dir");
        {
            let store = Store::open(dir.path()).expect("opens");
            let change = Change {
                put: vec![Entry::new(1, "Metallic Rouge")],
                ..Change::default()
            };
            store.apply(change, DateTime::UNIX_EPOCH).expect("written");
            store.flush().expect("flushed");
        }
        for name in [
            "snap.FFFFFFFFFFFFFFFF.generating",
            "snap.7FFFFFFFFFFFFFFF.generating",
        ] {
            std::fs::write(dir.path().join(name), b"").expect("a leftover");
        }
        let store = Store::open_waiting(dir.path(), std::time::Duration::from_secs(5))
            .expect("the store reopens");
        assert_eq!(store.load_entries().expect("read").len(), 1);
    }
}
