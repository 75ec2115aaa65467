//! The announcement trees: chat settings, subscriptions, the outbox with its
//! due-time index, and the delivered and dead-letter logs.
//!
//! - `chats`: chat key → [`ChatSettings`]
//! - `subs`: target (9 bytes) ‖ chat key → [`Subscription`]
//! - `chat_subs`: chat key ‖ 0 ‖ target → ∅ (a chat's subscriptions)
//! - `outbox`: job key → [`Job`]; `outbox_due`: platform ‖ due ms ‖ job key → ∅
//! - `delivered`: job key → [`Delivered`]; `dead`: job key → [`DeadLetter`]
//!
//! A job key is (entry, episode, variant, chat), so a job is queued at most
//! once across the outbox, delivered and dead trees.

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Store, StoreError, decode, encode};
use crate::core::announce::{
    ChatSettings, DeadKind, DeadLetter, Delivered, Job, Subscription, Target,
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

fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

/// `platform ‖ due ms ‖ job key`: the outbox in due order per platform.
pub(super) fn due_key(job: &Job) -> Vec<u8> {
    let mut key = vec![platform_byte(job.chat.platform)];
    key.extend_from_slice(&millis(job.due_at).to_be_bytes());
    key.extend_from_slice(&job.key());
    key
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
        self.chats.insert(chat.key(), encode(settings)?)?;
        Ok(())
    }

    /// Adds or reactivates a subscription.
    pub fn subscribe(&self, sub: &Subscription) -> Result<Subscribed, StoreError> {
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

    /// Up to `limit` jobs of `platform` due at `now`, earliest first.
    pub fn due_jobs(
        &self,
        platform: Platform,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let start = vec![platform_byte(platform)];
        let mut end = start.clone();
        end.extend_from_slice(&(millis(now) + 1).to_be_bytes());
        let mut jobs = Vec::new();
        for key in self.outbox_due.range(start..end).keys().take(limit) {
            let key = key?;
            let job_key = key.get(9..).unwrap_or_default();
            match self.outbox.get(job_key)? {
                Some(v) => jobs.push(decode(&v)?),
                None => {
                    return Err(StoreError::Corrupt(
                        "the due index names a job that is not queued".into(),
                    ));
                }
            }
        }
        Ok(jobs)
    }

    /// When `platform`'s earliest queued job is due.
    pub fn next_due(&self, platform: Platform) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(key) = self
            .outbox_due
            .scan_prefix([platform_byte(platform)])
            .keys()
            .next()
            .transpose()?
        else {
            return Ok(None);
        };
        let ms = super::keys::decode_u64(key.get(1..9).unwrap_or_default())
            .ok_or_else(|| StoreError::Corrupt("bad due key".into()))?;
        Ok(DateTime::from_timestamp_millis(
            i64::try_from(ms).unwrap_or(i64::MAX),
        ))
    }

    /// Number of queued jobs of `platform`.
    pub fn queued(&self, platform: Platform) -> usize {
        self.outbox_due
            .scan_prefix([platform_byte(platform)])
            .count()
    }

    /// Records a post and removes the job from the outbox, in one step.
    pub fn mark_delivered(
        &self,
        job: &Job,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = job.key();
        let due = due_key(job);
        let value = encode(&Delivered {
            job: job.clone(),
            message_id: message_id.to_owned(),
            at,
        })?;
        (&self.outbox, &self.outbox_due, &self.delivered).transaction(
            |(outbox, outbox_due, delivered)| -> TxResult<()> {
                outbox.remove(key.as_slice())?;
                outbox_due.remove(due.as_slice())?;
                delivered.insert(key.as_slice(), value.as_slice())?;
                Ok(())
            },
        )?;
        Ok(())
    }

    /// Moves a queued job to a new due time (and records its attempts).
    pub fn reschedule(&self, old: &Job, new: &Job) -> Result<(), StoreError> {
        let key = new.key();
        let (old_due, new_due) = (due_key(old), due_key(new));
        let value = encode(new)?;
        (&self.outbox, &self.outbox_due).transaction(|(outbox, outbox_due)| -> TxResult<()> {
            if outbox.get(key.as_slice())?.is_none() {
                // Delivered or withdrawn meanwhile: nothing to reschedule.
                return Ok(());
            }
            outbox_due.remove(old_due.as_slice())?;
            outbox_due.insert(new_due.as_slice(), &[])?;
            outbox.insert(key.as_slice(), value.as_slice())?;
            Ok(())
        })?;
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
        self.dead_letter_all(std::slice::from_ref(job), kind, reason, at)
    }

    fn dead_letter_all(
        &self,
        jobs: &[Job],
        kind: DeadKind,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let rows = jobs
            .iter()
            .map(|job| {
                let letter = DeadLetter {
                    job: job.clone(),
                    kind,
                    reason: reason.to_owned(),
                    at,
                };
                Ok((job.key(), due_key(job), encode(&letter)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        (&self.outbox, &self.outbox_due, &self.dead).transaction(
            |(outbox, outbox_due, dead)| -> TxResult<()> {
                for (key, due, letter) in &rows {
                    outbox.remove(key.as_slice())?;
                    outbox_due.remove(due.as_slice())?;
                    dead.insert(key.as_slice(), letter.as_slice())?;
                }
                Ok(())
            },
        )?;
        Ok(())
    }

    fn queued_for_chat(&self, chat: &ChatRef) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        for value in self.outbox.iter().values() {
            let job: Job = decode(&value?)?;
            if &job.chat == chat {
                jobs.push(job);
            }
        }
        Ok(jobs)
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
                self.subs.insert(sub_key(sub.target, chat), encode(&sub)?)?;
                changed += 1;
            }
        }
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
            job_rows.push((
                job.key(),
                due_key(job),
                moved.key(),
                due_key(&moved),
                encode(&moved)?,
            ));
        }
        (
            &self.chats,
            &self.subs,
            &self.chat_subs,
            &self.outbox,
            &self.outbox_due,
        )
            .transaction(
                |(chats, subs_t, chat_subs, outbox, outbox_due)| -> TxResult<()> {
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
                    for (old, old_due, new, new_due, value) in &job_rows {
                        outbox.remove(old.as_slice())?;
                        outbox_due.remove(old_due.as_slice())?;
                        outbox.insert(new.as_slice(), value.as_slice())?;
                        outbox_due.insert(new_due.as_slice(), &[])?;
                    }
                    Ok(())
                },
            )?;
        Ok(())
    }

    /// Queued, delivered and dead-lettered jobs, of one entry or of all.
    pub fn deliveries(
        &self,
        entry: Option<EntryId>,
        limit: usize,
    ) -> Result<Deliveries, StoreError> {
        let prefix = entry
            .map(|id| id.to_be_bytes().to_vec())
            .unwrap_or_default();
        fn newest<T: for<'de> serde::Deserialize<'de>>(
            tree: &sled::Tree,
            prefix: &[u8],
            limit: usize,
        ) -> Result<Vec<T>, StoreError> {
            tree.scan_prefix(prefix)
                .values()
                .rev()
                .take(limit)
                .map(|v| decode(&v?))
                .collect()
        }
        Ok(Deliveries {
            queued: newest(&self.outbox, &prefix, limit)?,
            delivered: newest(&self.delivered, &prefix, limit)?,
            dead: newest(&self.dead, &prefix, limit)?,
        })
    }

    /// Whether a job with this key was ever delivered.
    pub fn was_delivered(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.delivered.contains_key(key)?)
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
        self.meta.insert(WATERMARK, &millis(at).to_be_bytes())?;
        Ok(())
    }
}
