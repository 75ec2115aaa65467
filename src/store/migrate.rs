//! Schema versions of the data directory and the forward migrations between them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sled::Db;

use super::StoreError;
use super::outbox::{
    DeadRecord, ReleaseRecord, delivered_row, due_key, release_of, release_record_key,
};
use super::records::{self, DeliveredRecord, QueuedRecord};
use crate::core::announce::projection::Projection;
use crate::core::announce::schedule::Rule;
use crate::core::announce::{Announcement, ChatSettings, DeadKind, Job, Subscription};
use crate::core::caller::ChatRef;
use crate::core::catalog::model::{Entry, EntryId, Release};

/// The schema this build writes.
///
/// - 1: the first schema.
/// - 2: the outbox keeps a release's announcement once (`r` records), a
///   queued job as one row in due order with its own part in a compact
///   binary record, which its delivered post replaces in place; chat
///   settings and subscriptions are compact binary records too.
/// - 3: releases a broadcast schedule made are marked (`from_schedule`);
///   those the entry's schedule does not support (an episode number from a
///   stream's own start, or past what the data vouches for) are removed.
pub const CURRENT: u32 = 3;

/// Where the schema version is kept in `meta`.
pub const VERSION_KEY: &[u8] = b"schema_version";

/// A forward migration from `from` to `from + 1`.
type Migration = fn(&Db) -> Result<(), StoreError>;

/// Migrations by the version they start from; a change to the stored shape
/// adds a function here and bumps [`CURRENT`].
const MIGRATIONS: &[(u32, Migration)] = &[(1, to_compact_records), (2, to_truthful_releases)];

/// 2 → 3: schedule-made releases marked, unsupported ones removed.
fn to_truthful_releases(db: &Db) -> Result<(), StoreError> {
    let mut removed = 0usize;
    recode(db, "entries", "catalog entry", |bytes| {
        let mut entry: Entry = serde_json::from_slice(bytes)?;
        let before = entry.releases.len();
        if !mark_schedule_releases(&mut entry) {
            return Ok(None);
        }
        removed += before - entry.releases.len();
        Ok(Some(serde_json::to_vec(&entry)?))
    })?;
    if removed > 0 {
        tracing::info!(removed, "removed releases no schedule supports");
    }
    Ok(())
}

/// Marks the releases of `entry` that its broadcast rules made (the
/// original audio, nothing an owner added, at an air time of a rule) and
/// keeps only those its schedule supports. Returns whether it changed.
pub(super) fn mark_schedule_releases(entry: &mut Entry) -> bool {
    let rules: Vec<Rule> = entry
        .broadcasts
        .iter()
        .filter_map(|b| b.rule.parse().ok())
        .collect();
    let made_by_schedule = |r: &Release| {
        r.audio.is_none()
            && r.qualities.is_empty()
            && r.title.is_none()
            && rules.iter().any(|rule| {
                rule.index_at_or_before(r.released_at)
                    .and_then(|k| rule.nth(k))
                    == Some(r.released_at)
            })
    };
    let before = entry.releases.clone();
    let (scheduled, mut kept): (Vec<Release>, Vec<Release>) = entry
        .releases
        .drain(..)
        .partition(|r| r.from_schedule || made_by_schedule(r));
    entry.releases = kept.clone();
    if let Some(projection) = Projection::of(entry) {
        for mut release in scheduled {
            let at = release.released_at;
            let supported = projection
                .all_airings_between(at - chrono::Duration::seconds(1), at)
                .iter()
                .any(|a| a.number == release.number);
            if supported {
                release.from_schedule = true;
                kept.push(release);
            }
        }
    }
    kept.sort_by_key(|r| r.key());
    entry.releases = kept;
    entry.releases != before
}

/// 1 → 2: the outbox's new shape, and binary settings and subscriptions.
fn to_compact_records(db: &Db) -> Result<(), StoreError> {
    split_outbox_records(db)?;
    recode(db, "chats", "chat settings", |bytes| {
        if records::decode_settings(bytes).is_some() {
            return Ok(None);
        }
        let settings: ChatSettings = serde_json::from_slice(bytes)?;
        Ok(Some(records::encode_settings(&settings)))
    })?;
    recode(db, "subs", "subscription", |bytes| {
        if records::decode_subscription(bytes).is_some() {
            return Ok(None);
        }
        let sub: Subscription = serde_json::from_slice(bytes)?;
        Ok(Some(records::encode_subscription(&sub)))
    })
}

/// Rewrites every record of `tree` that `recode` changes, in one batch.
fn recode(
    db: &Db,
    tree: &str,
    what: &str,
    mut recode: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, serde_json::Error>,
) -> Result<(), StoreError> {
    let tree = db.open_tree(tree)?;
    let mut batch = sled::Batch::default();
    for row in tree.iter() {
        let (key, value) = row?;
        let new = recode(&value)
            .map_err(|e| StoreError::Corrupt(format!("cannot migrate a {what} record: {e}")))?;
        if let Some(new) = new {
            batch.insert(key, new);
        }
    }
    tree.apply_batch(batch)?;
    Ok(())
}

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
            release: std::sync::Arc::new(self.announcement.shared()),
            tz: self.announcement.tz,
            mention_role: self.announcement.mention_role,
            next_episode: self.announcement.next_episode,
            aired: None,
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

/// 1 → 2: moves each queued job (`q` ‖ job key → JSON, with an empty
/// due-index row) into its row as a compact record, each delivered post
/// (`D` ‖ job key → JSON) into a delivered row (placed at its delivery time,
/// since its due time was not kept), rewrites the dead letters in their new
/// shape, and gives every release a record (its announcement, taken from one
/// of its queued jobs; empty when none is queued any more). One atomic batch;
/// a record already in the new shape is left alone, so a migration cut short
/// by a crash (before the version is stamped) simply runs again.
fn split_outbox_records(db: &Db) -> Result<(), StoreError> {
    let jobs = db.open_tree("jobs")?;
    let corrupt = |what: &str, err: serde_json::Error| {
        StoreError::Corrupt(format!("cannot migrate a {what} record: {err}"))
    };
    let mut batch = sled::Batch::default();
    // Each release seen, with the announcement of one of its queued jobs.
    let mut releases: HashMap<Vec<u8>, Option<Announcement>> = HashMap::new();
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
            // Schema 1's due index; the queued job below fills it in.
            b'd' if value.is_empty() => batch.remove(key.as_ref()),
            b'q' => {
                let job = serde_json::from_slice::<V1Job>(&value)
                    .map_err(|e| corrupt("queued job", e))?
                    .into_job();
                releases.insert(release()?, Some((*job.release).clone()));
                batch.remove(key.as_ref());
                batch.insert(due_key(&job), QueuedRecord::encode(&job));
            }
            b'D' => {
                let old: V1Delivered =
                    serde_json::from_slice(&value).map_err(|e| corrupt("delivered", e))?;
                let (_, _, _, chat) =
                    super::keys::parse_job(job_key).ok_or_else(|| corrupt_key(job_key))?;
                batch.remove(key.as_ref());
                batch.insert(
                    delivered_row(chat.platform, old.at, job_key),
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
    // Their rows may lie anywhere in time, so their earliest due is the epoch.
    for (release, announcement) in releases {
        let key = release_record_key(&release);
        match announcement {
            Some(announcement) => batch.insert(
                key,
                super::encode(&ReleaseRecord {
                    earliest_due: DateTime::UNIX_EPOCH,
                    announcement,
                })?,
            ),
            None if !jobs.contains_key(&key)? => batch.insert(key, &[]),
            None => {}
        }
    }
    jobs.apply_batch(batch)?;
    Ok(())
}

fn corrupt_key(key: &[u8]) -> StoreError {
    StoreError::Corrupt(format!("cannot migrate the outbox key {key:?}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::announce::{Announcement, DeadKind};
    use crate::core::caller::Platform;
    use crate::store::{Change, Store};

    use crate::store::fixtures::{tamil_13 as announcement, telegram as chat};

    /// A job as schema 1 wrote it.
    fn v1_job(chat_id: &str, attempts: u32) -> serde_json::Value {
        json!({
            "entry": 1, "episode": 13, "variant": "audio:tamil",
            "chat": chat(chat_id), "is_group": false,
            "due_at": "2024-04-03T16:25:00Z", "attempts": attempts,
            "last_error": "HTTP 502",
            "announcement": announcement("Asia/Kolkata"),
        })
    }

    fn key(tag: u8, chat_id: &str) -> Vec<u8> {
        let mut key = vec![tag];
        key.extend(super::super::keys::job_of(
            1,
            13,
            "audio:tamil",
            &chat(chat_id),
        ));
        key
    }

    /// A schema-1 data directory: one queued job (with its due-index row),
    /// one delivered post and one dead letter, all of one release, and one
    /// delivered post of a release with nothing queued.
    /// Opens the raw engine, waiting while a handle dropped a moment ago in
    /// this process still holds the directory's lock.
    fn raw_open(dir: &std::path::Path) -> sled::Db {
        let started = std::time::Instant::now();
        loop {
            match sled::open(dir) {
                Ok(db) => return db,
                Err(err) if started.elapsed() > std::time::Duration::from_secs(5) => {
                    panic!("cannot open {}: {err}", dir.display())
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }

    fn write_v1(dir: &std::path::Path) {
        let db = raw_open(dir);
        db.open_tree("meta")
            .unwrap()
            .insert(VERSION_KEY, &1u32.to_be_bytes())
            .unwrap();
        // Chat 10 follows entry 1 and set its time zone.
        let settings = json!({"tz": "Asia/Kolkata", "delay_min": 30, "audio": ["tamil"],
            "stream": "tv", "is_group": true});
        db.open_tree("chats")
            .unwrap()
            .insert(
                super::super::keys::chat(&chat("10")),
                serde_json::to_vec(&settings).unwrap(),
            )
            .unwrap();
        let sub = json!({"chat": chat("10"), "target": {"entry": 1}, "active": true,
            "mention_role": "77", "created_by": "telegram:10",
            "created_at": "2024-04-01T00:00:00Z"});
        let mut sub_key = vec![1];
        sub_key.extend_from_slice(&1u64.to_be_bytes());
        sub_key.extend_from_slice(super::super::keys::chat(&chat("10")).as_bytes());
        db.open_tree("subs")
            .unwrap()
            .insert(sub_key, serde_json::to_vec(&sub).unwrap())
            .unwrap();
        let jobs = db.open_tree("jobs").unwrap();
        let queued = serde_json::to_vec(&v1_job("10", 2)).unwrap();
        let index = due_key(&serde_json::from_slice::<V1Job>(&queued).unwrap().into_job());
        jobs.insert(key(b'q', "10"), queued).unwrap();
        jobs.insert(index, &[]).unwrap();
        let delivered = json!({
            "entry": 1, "episode": 13, "variant": "audio:tamil", "chat": chat("11"),
            "message_id": "m-11", "at": "2024-04-03T16:26:00Z",
        });
        jobs.insert(key(b'D', "11"), serde_json::to_vec(&delivered).unwrap())
            .unwrap();
        let dead = json!({
            "job": v1_job("12", 8), "kind": "failed", "reason": "gave up after 8 attempts",
            "at": "2024-04-04T00:00:00Z",
        });
        jobs.insert(key(b'x', "12"), serde_json::to_vec(&dead).unwrap())
            .unwrap();
        let mut other = vec![b'D'];
        other.extend(super::super::keys::job_of(
            1,
            12,
            "audio:tamil",
            &chat("11"),
        ));
        jobs.insert(other, serde_json::to_vec(&delivered).unwrap())
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn schema_1_outboxes_are_migrated_and_stay_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        write_v1(dir.path());
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(CURRENT));

        assert_eq!(store.queued(Platform::Telegram), 1);
        let subscribers = store.subscribers_of(1).unwrap();
        assert_eq!(subscribers.len(), 1);
        let (sub, settings) = &subscribers[0];
        assert_eq!(
            (
                sub.chat.clone(),
                sub.mention_role.as_deref(),
                settings.tz.as_str()
            ),
            (chat("10"), Some("77"), "Asia/Kolkata")
        );
        assert_eq!((settings.delay_min, settings.is_group), (30, true));
        let found = store.deliveries(Some(1), 10).unwrap();
        let job = found.queued[0].clone();
        assert_eq!(job.chat, chat("10"));
        assert_eq!(job.announcement(), announcement("Asia/Kolkata"));
        assert_eq!(
            (job.attempts, job.last_error.as_deref()),
            (2, Some("HTTP 502"))
        );

        assert_eq!(found.queued.len(), 1);
        let posts: Vec<_> = found
            .delivered
            .iter()
            .map(|d| (d.episode, d.chat.chat_id.as_str(), d.message_id.as_str()))
            .collect();
        assert_eq!(posts, [(13, "11", "m-11"), (12, "11", "m-11")]);
        assert_eq!(found.dead.len(), 1);
        assert_eq!(
            (
                found.dead[0].kind,
                found.dead[0].attempts,
                found.dead[0].chat.chat_id.as_str()
            ),
            (DeadKind::Failed, 8, "12")
        );

        // The release is announced again: the three chats that had it get
        // nothing new, a fourth gets its job, in every release.
        let again = |episode: u32, chat_id: &str| Job {
            episode,
            chat: chat(chat_id),
            attempts: 0,
            release: std::sync::Arc::new(Announcement {
                episode,
                ..announcement("")
            }),
            ..job.clone()
        };
        let change = Change {
            jobs: ["10", "11", "12", "13"]
                .into_iter()
                .map(|c| again(13, c))
                .chain([again(12, "11"), again(12, "14")])
                .collect(),
            ..Change::default()
        };
        assert_eq!(store.apply(change, Utc::now()).unwrap(), 2);
        let queued = store.deliveries(Some(1), 10).unwrap().queued;
        let late = queued
            .iter()
            .find(|j| j.chat == chat("14"))
            .expect("queued");
        assert_eq!(
            (late.episode, late.announcement().episode),
            (12, 12),
            "the empty release record got content"
        );
        drop(store);

        // Opening it again changes nothing.
        let store = Store::open_waiting(dir.path(), std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(store.deliveries(Some(1), 10).unwrap().queued.len(), 3);
    }

    #[test]
    fn a_migration_cut_short_runs_again_safely() {
        let dir = tempfile::tempdir().unwrap();
        write_v1(dir.path());
        {
            let db = raw_open(dir.path());
            // The batch landed, the version stamp did not.
            split_outbox_records(&db).unwrap();
            db.flush().unwrap();
        }
        let store = Store::open_waiting(dir.path(), std::time::Duration::from_secs(5)).unwrap();
        let found = store.deliveries(Some(1), 10).unwrap();
        assert_eq!(
            (found.queued.len(), found.delivered.len(), found.dead.len()),
            (1, 2, 1)
        );
        assert_eq!(found.queued[0].announcement(), announcement("Asia/Kolkata"));
    }

    #[test]
    fn a_schema_1_backup_is_migrated_as_it_is_restored() {
        let dir = tempfile::tempdir().unwrap();
        write_v1(dir.path());
        let db = raw_open(dir.path());
        let trees = db
            .tree_names()
            .into_iter()
            .map(|name| {
                let tree = db.open_tree(&name).unwrap();
                let records = tree
                    .iter()
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                    .collect();
                let name = String::from_utf8(name.to_vec()).unwrap();
                let name = if name == "__sled__default" {
                    "default".into()
                } else {
                    name
                };
                (name, records)
            })
            .collect();
        let snapshot = crate::store::Snapshot {
            schema_version: 1,
            trees,
        };
        let store = Store::temporary().unwrap();
        store.restore(&snapshot).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(CURRENT));
        let found = store.deliveries(Some(1), 10).unwrap();
        assert_eq!(
            (found.queued.len(), found.delivered.len(), found.dead.len()),
            (1, 2, 1)
        );
        assert_eq!(store.subscribers_of(1).unwrap().len(), 1);
    }

    /// A schema-2 entry whose schedule made phantom releases (a stream's own
    /// numbering, a run past the data) keeps only the releases its schedule
    /// supports, marked as the schedule's; an owner's release stays as it was.
    #[test]
    fn schema_2_phantom_releases_are_removed() {
        use crate::core::catalog::model::{Broadcast, Release, Unit};
        let time = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let release = |number: u32, at: &str| Release {
            number,
            unit: Unit::Episode,
            from_schedule: false,
            audio: None,
            qualities: Vec::new(),
            title: None,
            released_at: time(at),
        };
        let mut entry = Entry::new(7, "A show of unknown length");
        entry.broadcasts = vec![
            Broadcast {
                platform: "tv".into(),
                rule: "R/2026-04-05T15:00:00Z/P7D".into(),
                ends: None,
            },
            Broadcast {
                platform: "site".into(),
                rule: "R/2026-06-01T03:00:00Z/P7D".into(),
                ends: None,
            },
        ];
        let mut owners = release(1, "2026-04-06T10:00:00Z");
        owners.audio = Some("Tamil".into());
        entry.releases = vec![
            owners.clone(),
            // Episode 2 on tv: supported.
            release(2, "2026-04-12T15:00:00Z"),
            // The site's own count: its first airing called episode 1,
            // when it picked the show up at the tv's episode 9.
            release(1, "2026-06-01T03:00:00Z"),
            // Week 36 of the tv rule: past one cour with no evidence.
            release(36, "2026-12-06T15:00:00Z"),
        ];
        assert!(mark_schedule_releases(&mut entry));
        let kept: Vec<(u32, bool)> = entry
            .releases
            .iter()
            .map(|r| (r.number, r.from_schedule))
            .collect();
        assert_eq!(kept, [(1, false), (2, true)]);
        assert_eq!(entry.releases[0], owners);
        assert!(
            !mark_schedule_releases(&mut entry),
            "a second run changes nothing"
        );
    }
}
