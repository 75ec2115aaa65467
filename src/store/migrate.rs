//! Schema versions of the data directory and the forward migrations between them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sled::Db;

use super::StoreError;
use super::announce::{DeadRecord, release_of, release_record_key};
use super::records::{DeliveredRecord, QueuedRecord};
use crate::core::announce::{Announcement, DeadKind, Job};
use crate::core::caller::ChatRef;
use crate::core::model::EntryId;

/// The schema this build writes.
///
/// - 1: the first schema.
/// - 2: the outbox keeps a release's announcement once (`r` records) and
///   each job's own part, and each delivered post, in a compact binary
///   record instead of JSON.
pub const CURRENT: u32 = 2;

/// Where the schema version is kept in `meta`.
pub const VERSION_KEY: &[u8] = b"schema_version";

/// A forward migration from `from` to `from + 1`.
type Migration = fn(&Db) -> Result<(), StoreError>;

/// Migrations by the version they start from; a change to the stored shape
/// adds a function here and bumps [`CURRENT`].
const MIGRATIONS: &[(u32, Migration)] = &[(1, split_outbox_records)];

/// Brings the store up to [`CURRENT`]; a fresh store is stamped directly.
pub fn run(db: &Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let found = match meta.get(VERSION_KEY)? {
        Some(bytes) => {
            Some(u32::from_be_bytes(bytes.as_ref().try_into().map_err(
                |_| StoreError::Corrupt("schema_version is not 4 bytes".into()),
            )?))
        }
        None => None,
    };
    let mut version = match found {
        None => CURRENT,
        Some(v) if v > CURRENT => {
            return Err(StoreError::TooNew {
                found: v,
                supported: CURRENT,
            });
        }
        Some(v) => v,
    };
    while version < CURRENT {
        let step = MIGRATIONS
            .iter()
            .find(|(from, _)| *from == version)
            .ok_or(StoreError::NoMigration { from: version })?;
        (step.1)(db)?;
        version += 1;
        tracing::info!(version, "migrated store schema");
        meta.insert(VERSION_KEY, &version.to_be_bytes())?;
    }
    meta.insert(VERSION_KEY, &version.to_be_bytes())?;
    Ok(())
}

/// The schema version recorded in the store.
pub fn version(meta: &sled::Tree) -> Result<Option<u32>, StoreError> {
    Ok(meta
        .get(VERSION_KEY)?
        .and_then(|b| b.as_ref().try_into().ok().map(u32::from_be_bytes)))
}

/// A queued job as schema 1 kept it: everything, announcement included, in JSON.
#[derive(Deserialize)]
struct V1Job {
    entry: EntryId,
    episode: u32,
    variant: String,
    chat: ChatRef,
    #[serde(default)]
    is_group: bool,
    due_at: DateTime<Utc>,
    attempts: u32,
    #[serde(default)]
    last_error: Option<String>,
    announcement: Announcement,
}

impl V1Job {
    fn into_job(self) -> Job {
        Job {
            entry: self.entry,
            episode: self.episode,
            variant: self.variant,
            chat: self.chat,
            is_group: self.is_group,
            due_at: self.due_at,
            attempts: self.attempts,
            last_error: self.last_error,
            announcement: self.announcement,
        }
    }
}

#[derive(Deserialize)]
struct V1Delivered {
    message_id: String,
    at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct V1DeadLetter {
    job: V1Job,
    kind: DeadKind,
    reason: String,
    at: DateTime<Utc>,
}

/// 1 → 2: rewrites the outbox's queued, delivered and dead records in their
/// new shapes and gives every release a record (its announcement, taken from
/// one of its queued jobs; empty when none is queued any more). One atomic
/// batch; a record already in the new shape is left alone, so a migration
/// cut short by a crash (before the version is stamped) simply runs again.
fn split_outbox_records(db: &Db) -> Result<(), StoreError> {
    let jobs = db.open_tree("jobs")?;
    let corrupt = |what: &str, err: serde_json::Error| {
        StoreError::Corrupt(format!("cannot migrate a {what} record: {err}"))
    };
    let mut batch = sled::Batch::default();
    // Each release seen, with the announcement of one of its queued jobs.
    let mut releases: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
    for row in jobs.iter() {
        let (key, value) = row?;
        let Some((&tag, job_key)) = key.split_first() else {
            continue;
        };
        let release = || {
            release_of(job_key)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| StoreError::Corrupt("an outbox key without a release".into()))
        };
        match tag {
            b'q' if QueuedRecord::decode(&value).is_none() => {
                let job = serde_json::from_slice::<V1Job>(&value)
                    .map_err(|e| corrupt("queued job", e))?
                    .into_job();
                let announcement = super::encode(&job.announcement.shared())?;
                releases.insert(release()?, Some(announcement));
                batch.insert(key.as_ref(), QueuedRecord::encode(&job));
            }
            b'D' if DeliveredRecord::decode(&value).is_none() => {
                let old: V1Delivered =
                    serde_json::from_slice(&value).map_err(|e| corrupt("delivered", e))?;
                batch.insert(
                    key.as_ref(),
                    DeliveredRecord::encode(old.at, &old.message_id),
                );
                releases.entry(release()?).or_default();
            }
            b'x' => {
                if let Ok(old) = serde_json::from_slice::<V1DeadLetter>(&value) {
                    let record =
                        DeadRecord::encode(&old.job.into_job(), old.kind, &old.reason, old.at)?;
                    batch.insert(key.as_ref(), record);
                }
                releases.entry(release()?).or_default();
            }
            _ => {}
        }
    }
    // Releases with a queued job get its announcement; the rest an empty
    // record, which says "jobs of this release exist" and nothing more.
    for (release, announcement) in releases {
        let key = release_record_key(&release);
        match announcement {
            Some(announcement) => batch.insert(key, announcement),
            None if !jobs.contains_key(&key)? => batch.insert(key, &[]),
            None => {}
        }
    }
    jobs.apply_batch(batch)?;
    Ok(())
}
