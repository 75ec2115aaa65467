//! The announcement trees: chat settings, subscriptions, the outbox in due
//! order, and the delivered and dead-letter logs.
//!
//! - `chats`: chat key → [`ChatSettings`]
//! - `subs`: target (9 bytes) ‖ chat key → [`Subscription`]
//! - `chat_subs`: chat key ‖ 0 ‖ target → ∅ (a chat's subscriptions)
//! - `jobs`, one tree so that moving a job is one atomic batch:
//!   - `r` ‖ release key → the release's shared [`Announcement`] (JSON), kept
//!     once per release (empty for a release migrated from schema 1 with
//!     no job left queued)
//!   - `d` ‖ platform ‖ due ms ‖ job key ‖ group flag → the job's own part,
//!     a compact [`QueuedRecord`]: the queue, in due order per platform. The
//!     dispatcher reads chat and group from the key and decodes only the
//!     jobs it can send; a queued job is one record.
//!   - `D` ‖ job key → a compact [`DeliveredRecord`]; `x` ‖ job key →
//!     [`DeadRecord`] (JSON)
//!
//! A job key is the release key (entry, episode, variant) and the chat, so a
//! job is queued at most once across queued, delivered and dead. A release
//! without a record has never queued a job, which spares a new release's
//! fan-out the look-ups that prove it. Every write to the outbox holds the
//! store's outbox lock, so those look-ups and the writes that follow them
//! see no other outbox change in between.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::records::{DeliveredRecord, QueuedRecord};
use super::{Store, StoreError, decode, encode};
use crate::core::announce::{
    self, Announcement, ChatSettings, DeadKind, DeadLetter, Delivered, Job, Subscription, Target,
};
use crate::core::caller::{ChatRef, Platform};
use crate::core::model::EntryId;

const WATERMARK: &[u8] = b"schedule_watermark";

/// What a subscribe did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    Added,
    /// It existed but had been deactivated; it is active again.
    Reactivated,
    AlreadyActive,
}

/// Jobs, posts and dead letters, for `/anime admin deliveries`.
#[derive(Debug, Default)]
pub struct Deliveries {
    pub queued: Vec<Job>,
    pub delivered: Vec<Delivered>,
    pub dead: Vec<DeadLetter>,
}

pub(super) fn target_bytes(target: Target) -> [u8; 9] {
    let mut out = [0u8; 9];
    if let Target::Entry(id) = target {
        out[0] = 1;
        out[1..].copy_from_slice(&id.to_be_bytes());
    }
    out
}

fn sub_key(target: Target, chat: &ChatRef) -> Vec<u8> {
    let mut key = target_bytes(target).to_vec();
    key.extend_from_slice(chat.key().as_bytes());
    key
}

fn chat_prefix(chat: &ChatRef) -> Vec<u8> {
    let mut key = chat.key().into_bytes();
    key.push(0);
    key
}

fn chat_sub_key(chat: &ChatRef, target: Target) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(&target_bytes(target));
    key
}

fn platform_byte(platform: Platform) -> u8 {
    match platform {
        Platform::Local => 0,
        Platform::Telegram => 1,
        Platform::Discord => 2,
    }
}

fn platform_of(byte: u8) -> Option<Platform> {
    [Platform::Local, Platform::Telegram, Platform::Discord]
        .into_iter()
        .find(|&p| platform_byte(p) == byte)
}

fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

const RELEASE: u8 = b'r';
const DUE: u8 = b'd';
const DELIVERED: u8 = b'D';
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

pub(super) fn delivered_key(job_key: &[u8]) -> Vec<u8> {
    prefixed(DELIVERED, job_key)
}

pub(super) fn dead_key(job_key: &[u8]) -> Vec<u8> {
    prefixed(DEAD, job_key)
}

/// `d ‖ platform ‖ due ms ‖ job key ‖ group`: where a queued job is kept.
pub(super) fn due_key(job: &Job) -> Vec<u8> {
    due_key_of(job, &job.key())
}

fn due_key_of(job: &Job, job_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(10 + job_key.len() + 1);
    key.push(DUE);
    key.push(platform_byte(job.chat.platform));
    key.extend_from_slice(&millis(job.due_at).to_be_bytes());
    key.extend_from_slice(job_key);
    key.push(u8::from(job.is_group));
    key
}

/// A queued job as the queue's key names it, with its record not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueJob {
    pub key: Vec<u8>,
    pub due_at: DateTime<Utc>,
    pub chat: ChatRef,
    pub is_group: bool,
    record: sled::IVec,
}

fn decode_due(index_key: &[u8], record: sled::IVec) -> Option<DueJob> {
    let platform = platform_of(*index_key.get(1)?)?;
    let ms = super::keys::decode_u64(index_key.get(2..10)?)?;
    let (&group, job_key) = index_key.get(10..)?.split_last()?;
    // A job key is entry (8) ‖ episode (4) ‖ variant ‖ 0 ‖ chat key.
    let rest = job_key.get(12..)?;
    let zero = rest.iter().position(|&b| b == 0)?;
    let chat_key = std::str::from_utf8(rest.get(zero + 1..)?).ok()?;
    let (_, chat_id) = chat_key.split_once(':')?;
    Some(DueJob {
        key: job_key.to_vec(),
        due_at: DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)?,
        chat: ChatRef {
            platform,
            chat_id: chat_id.to_owned(),
        },
        is_group: group == 1,
        record,
    })
}

fn due_row(row: sled::Result<(sled::IVec, sled::IVec)>) -> Result<DueJob, StoreError> {
    let (key, value) = row?;
    decode_due(&key, value).ok_or_else(|| StoreError::Corrupt("bad outbox queue key".into()))
}

/// The release part of a job key: up to and including the 0 after the variant.
pub(super) fn release_of(job_key: &[u8]) -> Option<&[u8]> {
    let zero = job_key.get(12..)?.iter().position(|&b| b == 0)?;
    job_key.get(..12 + zero + 1)
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

fn corrupt_key() -> StoreError {
    StoreError::Corrupt("a job key does not name an entry, episode, variant and chat".into())
}

/// Releases already read, for a reader of many jobs of few releases (the
/// dispatcher). A release's record never changes once it has content, so
/// nothing here goes stale; it is cleared when it grows past a bound.
#[derive(Debug, Default)]
pub struct ReleaseCache {
    releases: HashMap<Vec<u8>, Announcement>,
}

impl ReleaseCache {
    const MAX: usize = 256;
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl Store {
    /// A chat's settings (the defaults if it never set any).
    pub fn chat_settings(&self, chat: &ChatRef) -> Result<ChatSettings, StoreError> {
        Ok(match self.chats.get(chat.key())? {
            Some(v) => decode(&v)?,
            None => ChatSettings::default(),
        })
    }

    pub fn set_chat_settings(
        &self,
        chat: &ChatRef,
        settings: &ChatSettings,
    ) -> Result<(), StoreError> {
        let _gate = self.writing();
        self.chats.insert(chat.key(), encode(settings)?)?;
        Ok(())
    }

    /// Adds or reactivates a subscription.
    pub fn subscribe(&self, sub: &Subscription) -> Result<Subscribed, StoreError> {
        let _gate = self.writing();
        let key = sub_key(sub.target, &sub.chat);
        let outcome = match self.subs.get(&key)? {
            Some(v) if decode::<Subscription>(&v)?.active => return Ok(Subscribed::AlreadyActive),
            Some(_) => Subscribed::Reactivated,
            None => Subscribed::Added,
        };
        let value = encode(sub)?;
        let index = chat_sub_key(&sub.chat, sub.target);
        (&self.subs, &self.chat_subs).transaction(|(subs, chat_subs)| -> TxResult<()> {
            subs.insert(key.as_slice(), value.as_slice())?;
            chat_subs.insert(index.as_slice(), &[])?;
            Ok(())
        })?;
        Ok(outcome)
    }

    /// Removes a subscription; `false` when there was none.
    pub fn unsubscribe(&self, chat: &ChatRef, target: Target) -> Result<bool, StoreError> {
        let _gate = self.writing();
        let key = sub_key(target, chat);
        let index = chat_sub_key(chat, target);
        Ok(
            (&self.subs, &self.chat_subs).transaction(|(subs, chat_subs)| -> TxResult<bool> {
                chat_subs.remove(index.as_slice())?;
                Ok(subs.remove(key.as_slice())?.is_some())
            })?,
        )
    }

    /// A chat's subscriptions, active or not.
    pub fn subscriptions_of(&self, chat: &ChatRef) -> Result<Vec<Subscription>, StoreError> {
        let prefix = chat_prefix(chat);
        let mut out = Vec::new();
        for key in self.chat_subs.scan_prefix(&prefix).keys() {
            let key = key?;
            let mut sub = key.get(prefix.len()..).unwrap_or_default().to_vec();
            sub.extend_from_slice(chat.key().as_bytes());
            if let Some(v) = self.subs.get(&sub)? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    /// Every subscription that may cover `entry` (to it, or to everything),
    /// with its chat's settings. [`Subscription::covers`] decides.
    pub fn subscribers_of(
        &self,
        entry: EntryId,
    ) -> Result<Vec<(Subscription, ChatSettings)>, StoreError> {
        let mut out = Vec::new();
        for target in [Target::Entry(entry), Target::All] {
            for value in self.subs.scan_prefix(target_bytes(target)).values() {
                let sub: Subscription = decode(&value?)?;
                let settings = self.chat_settings(&sub.chat)?;
                out.push((sub, settings));
            }
        }
        Ok(out)
    }

    /// The queued jobs of `platform` due at `now`, earliest first, read
    /// lazily; nothing is decoded until [`Store::due_job`].
    pub fn due_index(
        &self,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = Result<DueJob, StoreError>> + '_ {
        let start = vec![DUE, platform_byte(platform)];
        let mut end = start.clone();
        end.extend_from_slice(&(millis(now) + 1).to_be_bytes());
        self.jobs.range(start..end).map(due_row)
    }

    /// Every queued job's place in the queue, of all platforms.
    pub(super) fn all_queued(&self) -> impl Iterator<Item = Result<DueJob, StoreError>> + '_ {
        self.jobs.scan_prefix([DUE]).map(due_row)
    }

    /// The queued job `due` names, with its announcement; `cache` keeps the
    /// releases already read.
    pub fn due_job(&self, due: &DueJob, cache: &mut ReleaseCache) -> Result<Job, StoreError> {
        let own = QueuedRecord::decode(&due.record)
            .ok_or_else(|| StoreError::Corrupt("a queued job's record does not decode".into()))?;
        let (entry, episode, variant, _) =
            announce::parse_job_key(&due.key).ok_or_else(corrupt_key)?;
        let release = release_of(&due.key).ok_or_else(corrupt_key)?;
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
            cache.releases.insert(release.to_vec(), decode(&value)?);
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
            announcement: Announcement {
                next_episode: own.next_episode,
                tz: own.tz,
                mention_role: own.mention_role,
                ..shared.clone()
            },
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
        match self.jobs.scan_prefix([DUE, platform_byte(platform)]).next() {
            Some(row) => Ok(Some(due_row(row)?.due_at)),
            None => Ok(None),
        }
    }

    /// Number of queued jobs of `platform`.
    pub fn queued(&self, platform: Platform) -> usize {
        self.jobs
            .scan_prefix([DUE, platform_byte(platform)])
            .count()
    }

    /// Records a post and removes the job from the queue, in one atomic batch.
    pub fn mark_delivered(
        &self,
        job: &Job,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.mark_delivered_all(&[(job, message_id)], at)
    }

    /// Records several posts (a dispatcher round) in one atomic batch.
    pub fn mark_delivered_all(
        &self,
        posts: &[(&Job, &str)],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _gate = self.writing();
        let _outbox = self.outbox();
        let mut batch = sled::Batch::default();
        for (job, message_id) in posts {
            let key = job.key();
            batch.remove(due_key_of(job, &key));
            batch.insert(delivered_key(&key), DeliveredRecord::encode(at, message_id));
        }
        self.jobs.apply_batch(batch)?;
        Ok(())
    }

    /// Moves a queued job to a new due time (and records its attempts).
    pub fn reschedule(&self, old: &Job, new: &Job) -> Result<(), StoreError> {
        let _gate = self.writing();
        let _outbox = self.outbox();
        let mut batch = sled::Batch::default();
        batch.remove(due_key(old));
        batch.insert(due_key(new), QueuedRecord::encode(new));
        self.jobs.apply_batch(batch)?;
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
            let key = job.key();
            batch.remove(due_key_of(job, &key));
            batch.insert(dead_key(&key), DeadRecord::encode(job, kind, reason, at)?);
        }
        self.jobs.apply_batch(batch)?;
        Ok(())
    }

    /// The queued jobs `wanted` picks by key, in the queue's order.
    pub(super) fn queued_where(
        &self,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<Job>, StoreError> {
        let mut cache = ReleaseCache::default();
        let mut jobs = Vec::new();
        for due in self.all_queued() {
            let due = due?;
            if wanted(&due.key) {
                jobs.push(self.due_job(&due, &mut cache)?);
            }
        }
        Ok(jobs)
    }

    fn queued_for_chat(&self, chat: &ChatRef) -> Result<Vec<Job>, StoreError> {
        // The chat is the end of the job key.
        let wanted = chat.key();
        self.queued_where(|key| {
            release_of(key).is_some_and(|r| key.get(r.len()..) == Some(wanted.as_bytes()))
        })
    }

    /// The bot may no longer post to `chat`: its subscriptions are
    /// deactivated and its queued jobs dead-lettered. Returns how many
    /// subscriptions were deactivated.
    pub fn deactivate_chat(
        &self,
        chat: &ChatRef,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut changed = 0;
        for mut sub in self.subscriptions_of(chat)? {
            if sub.active {
                sub.active = false;
                sub.inactive_reason = Some(reason.to_owned());
                let _gate = self.writing();
                self.subs.insert(sub_key(sub.target, chat), encode(&sub)?)?;
                changed += 1;
            }
        }
        let _gate = self.writing();
        let _outbox = self.outbox();
        self.dead_letter_all(
            &self.queued_for_chat(chat)?,
            DeadKind::Forbidden,
            reason,
            at,
        )?;
        Ok(changed)
    }

    /// The chat moved (a Telegram group became a supergroup): its settings,
    /// subscriptions and queued jobs move to `to`, in one transaction.
    pub fn migrate_chat(&self, from: &ChatRef, to: &ChatRef) -> Result<(), StoreError> {
        let _gate = self.writing();
        let _outbox = self.outbox();
        let settings = self.chats.get(from.key())?;
        let subs = self.subscriptions_of(from)?;
        let jobs = self.queued_for_chat(from)?;
        let mut sub_rows = Vec::new();
        for sub in &subs {
            let mut moved = sub.clone();
            moved.chat = to.clone();
            sub_rows.push((
                sub_key(sub.target, from),
                chat_sub_key(from, sub.target),
                sub_key(sub.target, to),
                chat_sub_key(to, sub.target),
                encode(&moved)?,
            ));
        }
        let mut job_rows = Vec::new();
        for job in &jobs {
            let mut moved = job.clone();
            moved.chat = to.clone();
            job_rows.push((due_key(job), due_key(&moved), QueuedRecord::encode(&moved)));
        }
        (&self.chats, &self.subs, &self.chat_subs, &self.jobs).transaction(
            |(chats, subs_t, chat_subs, jobs_t)| -> TxResult<()> {
                if let Some(settings) = &settings {
                    chats.remove(from.key().as_bytes())?;
                    chats.insert(to.key().as_bytes(), settings.as_ref())?;
                }
                for (old, old_index, new, new_index, value) in &sub_rows {
                    subs_t.remove(old.as_slice())?;
                    chat_subs.remove(old_index.as_slice())?;
                    subs_t.insert(new.as_slice(), value.as_slice())?;
                    chat_subs.insert(new_index.as_slice(), &[])?;
                }
                for (old, new, value) in &job_rows {
                    jobs_t.remove(old.as_slice())?;
                    jobs_t.insert(new.as_slice(), value.as_slice())?;
                }
                Ok(())
            },
        )?;
        Ok(())
    }

    /// Queued jobs (the first `limit` in due order), delivered posts and
    /// dead letters (the last `limit` in key order), of one entry or of all.
    pub fn deliveries(
        &self,
        entry: Option<EntryId>,
        limit: usize,
    ) -> Result<Deliveries, StoreError> {
        let id = entry
            .map(|id| id.to_be_bytes().to_vec())
            .unwrap_or_default();
        let newest = |tag: u8| -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
            Ok(self
                .jobs
                .scan_prefix(prefixed(tag, &id))
                .rev()
                .take(limit)
                .collect::<Result<_, _>>()?)
        };
        let mut queued = self.queued_where(|key| key.starts_with(&id))?;
        queued.truncate(limit);
        let delivered = newest(DELIVERED)?
            .iter()
            .map(|(k, v)| {
                let (entry, episode, variant, chat) =
                    announce::parse_job_key(k.get(1..).unwrap_or_default())
                        .ok_or_else(corrupt_key)?;
                let record = DeliveredRecord::decode(v).ok_or_else(|| {
                    StoreError::Corrupt("a delivered post's record does not decode".into())
                })?;
                Ok(Delivered {
                    entry,
                    episode,
                    variant,
                    chat,
                    message_id: record.message_id,
                    at: record.at,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let dead = newest(DEAD)?
            .iter()
            .map(|(k, v)| {
                let (entry, episode, variant, chat) =
                    announce::parse_job_key(k.get(1..).unwrap_or_default())
                        .ok_or_else(corrupt_key)?;
                let record: DeadRecord = decode(v)?;
                Ok(DeadLetter {
                    entry,
                    episode,
                    variant,
                    chat,
                    attempts: record.attempts,
                    kind: record.kind,
                    reason: record.reason,
                    at: record.at,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Deliveries {
            queued,
            delivered,
            dead,
        })
    }

    /// Number of dead-lettered jobs (failed, forbidden, expired, withdrawn).
    pub fn dead_letters(&self) -> usize {
        self.jobs.scan_prefix([DEAD]).count()
    }

    /// Whether the job with this key was delivered.
    pub fn was_delivered(&self, job_key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.jobs.contains_key(delivered_key(job_key))?)
    }

    /// Up to when broadcast schedules have been processed.
    pub fn schedule_watermark(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .meta
            .get(WATERMARK)?
            .and_then(|v| super::keys::decode_u64(&v))
            .and_then(|ms| DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)))
    }

    pub fn set_schedule_watermark(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _gate = self.writing();
        self.meta.insert(WATERMARK, &millis(at).to_be_bytes())?;
        Ok(())
    }
}
