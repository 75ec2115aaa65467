//! The outbox: announcement jobs in due order, each turned into its
//! delivered post in place, and the dead letters.
//!
//! All in the `jobs` tree:
//!
//! - `r` ‖ release key → [`ReleaseRecord`] (JSON): the release's shared
//!   [`Announcement`], kept once per release, and the earliest due time of
//!   any of its jobs. Empty for a release migrated from schema 1 with no job
//!   left queued.
//! - `d` ‖ platform ‖ due ms ‖ job key ‖ group flag → a compact record
//!   ([`super::records`]): a queued job's own part (time zone, mention, next
//!   episode, attempts), replaced by its delivered post (time, message id)
//!   when it is sent. Queueing a job writes one row and recording its post
//!   overwrites that row: one write each, and the row never moves.
//! - `x` ‖ job key → [`DeadRecord`] (JSON): a job that ended without a post.
//!
//! A job key is the release key (entry, episode, variant) and the chat, so a
//! job is queued at most once across queued, delivered and dead. A release
//! without a record has never queued a job, which spares a new release's
//! fan-out the look-ups that prove it; a release seen before looks through
//! the rows due since its earliest job.
//!
//! The delivered rows stay among the queued ones, so readers of the queue
//! start at each platform's *floor*: every row before it is delivered. The
//! floors live in memory under the outbox lock, which every write to the
//! outbox holds: a writer that queues a row below a floor lowers it, and the
//! dispatcher raises it past the delivered rows it reads, unless a row was
//! queued while it read. After a start the floors are at the beginning, and
//! the first read walks past the history once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;

mod chats;
mod enqueue;

use super::announce::{TxResult, chat_sub_key, millis, platform_byte, platform_of, sub_key};
use super::records::{self, DeliveredRecord, QueuedRecord};
use super::{Store, StoreError, decode, encode};
use crate::core::announce::{Announcement, DeadKind, DeadLetter, Delivered, Job};
use crate::core::caller::{ChatRef, Platform};
use crate::core::catalog::model::EntryId;

const RELEASE: u8 = b'r';
const DUE: u8 = b'd';
const DEAD: u8 = b'x';

fn prefixed(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(tag);
    out.extend_from_slice(key);
    out
}

pub(super) fn release_record_key(release_key: &[u8]) -> Vec<u8> {
    prefixed(RELEASE, release_key)
}

pub(super) fn dead_key(job_key: &[u8]) -> Vec<u8> {
    prefixed(DEAD, job_key)
}

/// `d ‖ platform`: where a platform's rows start.
fn platform_start(platform: Platform) -> Vec<u8> {
    vec![DUE, platform_byte(platform)]
}

/// Just past the last row of `platform` due at `at`.
fn platform_until(platform: Platform, at: DateTime<Utc>) -> Vec<u8> {
    let mut end = platform_start(platform);
    end.extend_from_slice(&(millis(at) + 1).to_be_bytes());
    end
}

/// Just past the last row of `platform`.
fn platform_end(platform: Platform) -> Vec<u8> {
    vec![DUE, platform_byte(platform) + 1]
}

/// `d ‖ platform ‖ due ms ‖ job key ‖ group`: a job's row.
pub(super) fn due_key(job: &Job) -> Vec<u8> {
    due_key_of(
        job.chat.platform,
        job.due_at,
        &crate::store::keys::job(job),
        job.is_group,
    )
}

fn due_key_of(platform: Platform, due_at: DateTime<Utc>, job_key: &[u8], group: bool) -> Vec<u8> {
    let mut key = Vec::with_capacity(10 + job_key.len() + 1);
    key.push(DUE);
    key.push(platform_byte(platform));
    key.extend_from_slice(&millis(due_at).to_be_bytes());
    key.extend_from_slice(job_key);
    key.push(u8::from(group));
    key
}

/// A delivered row for a post whose due time is not known (schema 1 kept
/// none): placed at the time it was delivered.
pub(super) fn delivered_row(platform: Platform, at: DateTime<Utc>, job_key: &[u8]) -> Vec<u8> {
    due_key_of(platform, at, job_key, false)
}

/// The release part of a job key: up to and including the 0 after the variant.
pub(super) fn release_of(job_key: &[u8]) -> Option<&[u8]> {
    let zero = job_key.get(12..)?.iter().position(|&b| b == 0)?;
    job_key.get(..12 + zero + 1)
}

/// Whether an outbox row (queued, delivered or dead-lettered) is a job of
/// the chat whose key is `chat`.
pub(super) fn names_chat(row: &[u8], chat: &[u8]) -> bool {
    let job_key = match row.first() {
        // The due row ends with the group flag.
        Some(&DUE) => row.get(10..row.len().saturating_sub(1)),
        Some(&DEAD) => row.get(1..),
        _ => None,
    };
    job_key.is_some_and(|key| {
        release_of(key).is_some_and(|release| key.get(release.len()..) == Some(chat))
    })
}

/// A post a dispatcher recorded: where it went and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentPost {
    pub chat: ChatRef,
    pub is_group: bool,
    pub at: DateTime<Utc>,
}

/// A queued job's identity as the store keys it; opaque outside the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobKey(Vec<u8>);

impl JobKey {
    pub fn of(job: &Job) -> JobKey {
        JobKey(crate::store::keys::job(job))
    }
}

/// A row of the queue, its record not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueJob {
    pub key: JobKey,
    pub due_at: DateTime<Utc>,
    pub chat: ChatRef,
    pub is_group: bool,
    /// The row's own key and record, as stored.
    row: sled::IVec,
    record: sled::IVec,
}

impl DueJob {
    fn is_queued(&self) -> bool {
        records::is_queued(&self.record)
    }
}

fn decode_row(row_key: sled::IVec, record: sled::IVec) -> Option<DueJob> {
    let platform = platform_of(*row_key.get(1)?)?;
    let ms = crate::store::keys::decode_u64(row_key.get(2..10)?)?;
    let (&group, job_key) = row_key.get(10..)?.split_last()?;
    let release = release_of(job_key)?;
    let chat_key = std::str::from_utf8(job_key.get(release.len()..)?).ok()?;
    let (_, chat_id) = chat_key.split_once(':')?;
    Some(DueJob {
        key: JobKey(job_key.to_vec()),
        due_at: DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)?,
        chat: ChatRef {
            platform,
            chat_id: chat_id.to_owned(),
        },
        is_group: group == 1,
        row: row_key.clone(),
        record,
    })
}

fn row(row: sled::Result<(sled::IVec, sled::IVec)>) -> Result<DueJob, StoreError> {
    let (key, value) = row?;
    decode_row(key, value).ok_or_else(|| StoreError::Corrupt("bad outbox row key".into()))
}

fn corrupt_key() -> StoreError {
    StoreError::Corrupt("a job key does not name an entry, episode, variant and chat".into())
}

/// A release as the outbox keeps it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReleaseRecord {
    /// No job of the release is due earlier.
    pub earliest_due: DateTime<Utc>,
    /// What every chat is told ([`Announcement::shared`]).
    pub announcement: Announcement,
}

/// Why a job ended without a post, as the store keeps it; the rest of the
/// dead letter is its key.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DeadRecord {
    pub attempts: u32,
    pub kind: DeadKind,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl DeadRecord {
    pub(super) fn encode(
        job: &Job,
        kind: DeadKind,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<u8>, StoreError> {
        encode(&DeadRecord {
            attempts: job.attempts,
            kind,
            reason: reason.to_owned(),
            at,
        })
    }
}

/// Jobs, posts and dead letters, for `/anime admin deliveries`.
#[derive(Debug, Default)]
pub struct Deliveries {
    pub queued: Vec<Job>,
    pub delivered: Vec<Delivered>,
    pub dead: Vec<DeadLetter>,
}

/// Releases already read, for a reader of many jobs of few releases (the
/// dispatcher). A release's announcement never changes once stored, so
/// nothing here goes stale; it is cleared when it grows past a bound.
#[derive(Debug, Default)]
pub struct ReleaseCache {
    releases: HashMap<Vec<u8>, Arc<Announcement>>,
}

impl ReleaseCache {
    const MAX: usize = 256;
}

/// Each platform's floor (see the module's notes), guarded by the outbox lock.
#[derive(Debug, Default)]
pub(super) struct Floors {
    /// By platform byte: the floor's row key (`None`: the platform's start)
    /// and how many times a row was queued below a floor.
    floors: [(Option<Vec<u8>>, u64); 3],
}

impl Floors {
    fn slot(&mut self, platform: Platform) -> &mut (Option<Vec<u8>>, u64) {
        &mut self.floors[usize::from(platform_byte(platform))]
    }

    /// Where reading `platform`'s queue starts, and the generation to hand
    /// back to [`Floors::raise`].
    fn get(&self, platform: Platform) -> (Vec<u8>, u64) {
        let (key, generation) = &self.floors[usize::from(platform_byte(platform))];
        (
            key.clone().unwrap_or_else(|| platform_start(platform)),
            *generation,
        )
    }

    /// A row was queued at `row_key`.
    fn lower(&mut self, platform: Platform, row_key: &[u8]) {
        let slot = self.slot(platform);
        slot.1 += 1;
        if slot.0.as_deref().is_some_and(|floor| row_key < floor) {
            slot.0 = Some(row_key.to_vec());
        }
    }

    /// Every row up to and including `row_key` is delivered, as read since
    /// `generation`; ignored if a row was queued since.
    fn raise(&mut self, platform: Platform, generation: u64, row_key: &[u8]) {
        let slot = self.slot(platform);
        if slot.1 == generation {
            let mut past = row_key.to_vec();
            past.push(0);
            if slot.0.as_ref().is_none_or(|floor| &past > floor) {
                slot.0 = Some(past);
            }
        }
    }
}

impl Store {
    /// Every row from `from` up to `until`, queued or delivered.
    fn rows_from(
        &self,
        from: Vec<u8>,
        until: Vec<u8>,
    ) -> impl Iterator<Item = Result<DueJob, StoreError>> + '_ {
        self.jobs.range(from..until).map(row)
    }

    /// The queued jobs of `platform` from `start` (a floor and its
    /// generation) up to `until`, earliest first, read lazily; nothing is
    /// decoded until [`Store::due_job`]. With `raise`, the delivered rows
    /// read at the floor raise it (the caller must not hold the outbox lock).
    fn queued_rows_from(
        &self,
        platform: Platform,
        (floor, generation): (Vec<u8>, u64),
        until: Vec<u8>,
        raise: bool,
    ) -> impl Iterator<Item = Result<DueJob, StoreError>> + '_ {
        // Delivered rows at the floor: raised past every so often, and when
        // the first queued row shows where they end.
        let mut leading = raise;
        let mut passed: Option<(sled::IVec, usize)> = None;
        self.jobs.range(floor..until).filter_map(move |read| {
            let (key, value) = match read {
                Ok(row) => row,
                Err(err) => return Some(Err(err.into())),
            };
            if records::is_queued(&value) {
                if let Some((last, _)) = passed.take() {
                    self.outbox().raise(platform, generation, &last);
                }
                leading = false;
                return Some(
                    decode_row(key, value)
                        .ok_or_else(|| StoreError::Corrupt("bad outbox row key".into())),
                );
            }
            if leading {
                let run = passed.as_ref().map_or(0, |(_, n)| n + 1);
                if run % 64 == 63 {
                    self.outbox().raise(platform, generation, &key);
                }
                passed = Some((key, run));
            }
            None
        })
    }

    /// [`Store::queued_rows_from`] the floor, raising it; for callers that
    /// do not hold the outbox lock.
    fn queued_rows(
        &self,
        platform: Platform,
        until: Vec<u8>,
    ) -> impl Iterator<Item = Result<DueJob, StoreError>> + '_ {
        let start = self.outbox().get(platform);
        self.queued_rows_from(platform, start, until, true)
    }

    /// The posts to `platform` recorded in `since..=now`, oldest first, for
    /// a dispatcher that starts again to count against its rate limits. A
    /// post is sent at most `lag` after its row came due (the catch-up
    /// window and the send timeout), so only the rows due since
    /// `since - lag` are read.
    pub fn recent_posts(
        &self,
        platform: Platform,
        since: DateTime<Utc>,
        lag: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<RecentPost>, StoreError> {
        let mut from = platform_start(platform);
        from.extend_from_slice(&millis(since - lag).to_be_bytes());
        let mut posts = Vec::new();
        for read in self
            .jobs
            .range(from..platform_until(platform, now))
            .map(row)
        {
            let due = read?;
            if due.is_queued() {
                continue;
            }
            let record = DeliveredRecord::decode(&due.record).ok_or_else(|| {
                StoreError::Corrupt("a delivered post's record does not decode".into())
            })?;
            if record.at >= since && record.at <= now {
                posts.push(RecentPost {
                    chat: due.chat,
                    is_group: due.is_group,
                    at: record.at,
                });
            }
        }
        posts.sort_by_key(|post| post.at);
        Ok(posts)
    }

    /// The queued jobs of `platform` due at `now`, earliest first.
    pub fn due_index(
        &self,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = Result<DueJob, StoreError>> + '_ {
        self.queued_rows(platform, platform_until(platform, now))
    }

    /// Every queued job's row, of all platforms; the caller holds the
    /// outbox lock (`floors`).
    fn all_queued<'s>(
        &'s self,
        floors: &Floors,
    ) -> impl Iterator<Item = Result<DueJob, StoreError>> + 's {
        let starts: Vec<_> = Platform::ALL
            .into_iter()
            .map(|p| (p, floors.get(p)))
            .collect();
        starts
            .into_iter()
            .flat_map(|(p, start)| self.queued_rows_from(p, start, platform_end(p), false))
    }

    /// The queued job `due` names, with its announcement; `cache` keeps the
    /// releases already read.
    pub fn due_job(&self, due: &DueJob, cache: &mut ReleaseCache) -> Result<Job, StoreError> {
        let own = QueuedRecord::decode(&due.record)
            .ok_or_else(|| StoreError::Corrupt("a queued job's record does not decode".into()))?;
        let (entry, episode, variant) =
            crate::store::keys::parse_release(&due.key.0).ok_or_else(corrupt_key)?;
        let release = release_of(&due.key.0).ok_or_else(corrupt_key)?;
        if !cache.releases.contains_key(release) {
            let value = self
                .jobs
                .get(release_record_key(release))?
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the release of a queued job (#{entry} episode {episode}, {variant}) is missing"
                    ))
                })?;
            if cache.releases.len() >= ReleaseCache::MAX {
                cache.releases.clear();
            }
            let record: ReleaseRecord = decode(&value)?;
            cache
                .releases
                .insert(release.to_vec(), Arc::new(record.announcement));
        }
        let shared = cache
            .releases
            .get(release)
            .ok_or_else(|| StoreError::Corrupt("a release vanished from the cache".into()))?;
        Ok(Job {
            entry,
            episode,
            variant,
            chat: due.chat.clone(),
            is_group: due.is_group,
            due_at: due.due_at,
            attempts: own.attempts,
            last_error: own.last_error,
            release: Arc::clone(shared),
            tz: own.tz,
            mention_role: own.mention_role,
            next_episode: own.next_episode,
            aired: own.aired,
        })
    }

    /// Up to `limit` jobs of `platform` due at `now`, earliest first.
    pub fn due_jobs(
        &self,
        platform: Platform,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let mut cache = ReleaseCache::default();
        self.due_index(platform, now)
            .take(limit)
            .map(|due| self.due_job(&due?, &mut cache))
            .collect()
    }

    /// When `platform`'s earliest queued job is due.
    pub fn next_due(&self, platform: Platform) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.queued_rows(platform, platform_end(platform))
            .next()
            .transpose()
            .map(|due| due.map(|d| d.due_at))
    }

    /// Number of queued jobs of `platform`.
    pub fn queued(&self, platform: Platform) -> usize {
        self.queued_rows(platform, platform_end(platform)).count()
    }

    /// Records a post in place of its job.
    pub fn mark_delivered(
        &self,
        job: &Job,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.mark_delivered_all(&[(job, message_id)], at)
    }

    /// Records several posts (a dispatcher round). Each post is one write
    /// over its job's row, so each lands whole; a crash between two can only
    /// leave a post that was sent recorded as still queued.
    pub fn mark_delivered_all(
        &self,
        posts: &[(&Job, &str)],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _gate = self.writing();
        let _outbox = self.outbox();
        for (job, message_id) in posts {
            self.jobs
                .insert(due_key(job), DeliveredRecord::encode(at, message_id))?;
        }
        Ok(())
    }

    /// Moves a queued job to a new due time (and records its attempts).
    pub fn reschedule(&self, old: &Job, new: &Job) -> Result<(), StoreError> {
        let _gate = self.writing();
        let mut floors = self.outbox();
        let row = due_key(new);
        let mut batch = sled::Batch::default();
        batch.remove(due_key(old));
        batch.insert(row.as_slice(), QueuedRecord::encode(new));
        self.jobs.apply_batch(batch)?;
        floors.lower(new.chat.platform, &row);
        Ok(())
    }

    /// Ends a job without a post.
    pub fn dead_letter(
        &self,
        job: &Job,
        kind: DeadKind,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _gate = self.writing();
        let _outbox = self.outbox();
        self.dead_letter_all(std::slice::from_ref(job), kind, reason, at)
    }

    /// Ends a job whose record cannot be read (a damaged store or backup):
    /// its row becomes a dead letter, so the rest of the queue goes on.
    pub fn dead_letter_damaged(
        &self,
        due: &DueJob,
        why: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _gate = self.writing();
        let _outbox = self.outbox();
        let letter = encode(&DeadRecord {
            attempts: 0,
            kind: DeadKind::Failed,
            reason: format!("its stored record is damaged: {why}"),
            at,
        })?;
        let mut batch = sled::Batch::default();
        batch.remove(due.row.clone());
        batch.insert(dead_key(&due.key.0), letter);
        self.jobs.apply_batch(batch)?;
        Ok(())
    }

    /// Callers hold the write gate and the outbox lock.
    fn dead_letter_all(
        &self,
        jobs: &[Job],
        kind: DeadKind,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for job in jobs {
            batch.remove(due_key(job));
            batch.insert(
                dead_key(&crate::store::keys::job(job)),
                DeadRecord::encode(job, kind, reason, at)?,
            );
        }
        self.jobs.apply_batch(batch)?;
        Ok(())
    }

    /// The queued jobs whose key `wanted` picks, in due order per platform;
    /// the caller holds the outbox lock (`floors`).
    pub(super) fn queued_where(
        &self,
        floors: &Floors,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<Job>, StoreError> {
        let mut cache = ReleaseCache::default();
        let mut jobs = Vec::new();
        for due in self.all_queued(floors) {
            let due = due?;
            if wanted(&due.key.0) {
                jobs.push(self.due_job(&due, &mut cache)?);
            }
        }
        Ok(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::announce::{ChatSettings, Target};
    use crate::store::fixtures::{subscription, tamil_13, telegram};
    use crate::store::{Change, Snapshot};

    fn chat(i: u32) -> ChatRef {
        telegram(&format!("-100{i}"))
    }

    fn release() -> Announcement {
        tamil_13("")
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).expect("a valid time")
    }

    fn job(i: u32, release: &Arc<Announcement>) -> Job {
        Job {
            entry: 1,
            episode: 13,
            variant: "audio:tamil".into(),
            chat: chat(i),
            is_group: i.is_multiple_of(2),
            due_at: at(i64::from(i)),
            attempts: i,
            last_error: None,
            release: Arc::clone(release),
            tz: "Asia/Kolkata".into(),
            mention_role: Some("7".into()),
            next_episode: None,
            aired: None,
        }
    }

    /// A store with settings, subscriptions, queued jobs, a post and a dead
    /// letter, as a snapshot.
    fn populated() -> Snapshot {
        let store = Store::temporary().unwrap();
        let release = Arc::new(release());
        for i in 0..4 {
            store
                .set_chat_settings(&chat(i), &ChatSettings::default())
                .unwrap();
            store
                .subscribe(&subscription(chat(i), Target::Entry(1)))
                .unwrap();
        }
        let jobs: Vec<Job> = (0..4).map(|i| job(i, &release)).collect();
        let change = Change {
            jobs: jobs.clone(),
            ..Change::default()
        };
        assert_eq!(store.apply(change, at(0)).unwrap(), 4);
        store.mark_delivered(&jobs[0], "m0", at(5)).unwrap();
        store
            .dead_letter(&jobs[1], DeadKind::Failed, "gave up", at(6))
            .unwrap();
        store.snapshot().unwrap()
    }

    /// Reads everything a damaged store could be asked for; any answer is
    /// fine but a panic.
    fn read_all(store: &Store) {
        let _ = store.deliveries(None, 100);
        let _ = store.deliveries(Some(1), 100);
        let _ = store.subscribers_of(1);
        let _ = store.due_jobs(Platform::Telegram, at(1_000), 100);
        let _ = store.next_due(Platform::Telegram);
        let _ = store.queued(Platform::Telegram);
        let _ = store.dead_letters();
        for i in 0..4 {
            let _ = store.chat_settings(&chat(i));
            let _ = store.subscriptions_of(&chat(i));
        }
        // The release again: one chat that has it, one that does not.
        let release = Arc::new(release());
        let change = Change {
            jobs: vec![job(3, &release), job(9, &release)],
            ..Change::default()
        };
        let _ = store.apply(change, at(10));
    }

    /// Damaged records (a byte changed, cut short, grown) and damaged
    /// outbox keys, as a hostile backup could carry them: every reader
    /// answers, with an error where it must, and nothing panics.
    #[test]
    fn damaged_records_and_keys_never_panic_a_reader() {
        let base = populated();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..150 {
            let mut snapshot = base.clone();
            let trees: Vec<usize> = snapshot
                .trees
                .iter()
                .enumerate()
                .filter(|(_, (name, records))| {
                    ["jobs", "subs", "chats"].contains(&name.as_str()) && !records.is_empty()
                })
                .map(|(i, _)| i)
                .collect();
            let tree = trees[next() as usize % trees.len()];
            let records = &mut snapshot.trees[tree].1;
            let pick = next() as usize % records.len();
            let (key, value) = &mut records[pick];
            let target = if round % 4 == 3 { key } else { value };
            match next() % 3 {
                0 if !target.is_empty() => {
                    let at = next() as usize % target.len();
                    target[at] ^= (next() % 255 + 1) as u8;
                }
                1 => {
                    let len = next() as usize % (target.len() + 1);
                    target.truncate(len);
                }
                _ => target.extend_from_slice(&next().to_be_bytes()),
            }
            let store = Store::temporary().unwrap();
            if store.restore(&snapshot).is_ok() {
                read_all(&store);
            }
        }
    }
}
