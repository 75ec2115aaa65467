//! Chat settings and subscriptions, and the schedule's watermark; the
//! outbox is in [`super::outbox`].
//!
//! - `chats`: chat key → [`ChatSettings`]
//! - `subs`: target (9 bytes) ‖ chat key → [`Subscription`]
//! - `chat_subs`: chat key ‖ 0 ‖ target → ∅ (a chat's subscriptions)

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Store, StoreError, decode, encode};
use crate::core::announce::{ChatSettings, Subscription, Target};
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

pub(super) fn target_bytes(target: Target) -> [u8; 9] {
    let mut out = [0u8; 9];
    if let Target::Entry(id) = target {
        out[0] = 1;
        out[1..].copy_from_slice(&id.to_be_bytes());
    }
    out
}

pub(super) fn sub_key(target: Target, chat: &ChatRef) -> Vec<u8> {
    let mut key = target_bytes(target).to_vec();
    key.extend_from_slice(chat.key().as_bytes());
    key
}

fn chat_prefix(chat: &ChatRef) -> Vec<u8> {
    let mut key = chat.key().into_bytes();
    key.push(0);
    key
}

pub(super) fn chat_sub_key(chat: &ChatRef, target: Target) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(&target_bytes(target));
    key
}

pub(super) fn platform_byte(platform: Platform) -> u8 {
    match platform {
        Platform::Local => 0,
        Platform::Telegram => 1,
        Platform::Discord => 2,
    }
}

pub(super) fn platform_of(byte: u8) -> Option<Platform> {
    [Platform::Local, Platform::Telegram, Platform::Discord]
        .into_iter()
        .find(|&p| platform_byte(p) == byte)
}

pub(super) fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

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
