//! Chat settings and subscriptions, and the schedule's watermark; the
//! outbox is in [`super::outbox`].
//!
//! - `chats`: chat key → [`ChatSettings`]
//! - `subs`: target (9 bytes) ‖ chat key → [`Subscription`]
//! - `chat_subs`: chat key ‖ 0 ‖ target → ∅ (a chat's subscriptions)

use chrono::{DateTime, NaiveDate, Utc};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Store, StoreError, records};
use crate::core::announce::{ChatSettings, Subscription, Target};
use crate::core::caller::{ChatRef, Platform};
use crate::core::catalog::model::EntryId;

const WATERMARK: &[u8] = b"schedule_watermark";
/// How current the catalog's schedule data is (the newest date an import saw).
const DATA_AS_OF: &[u8] = b"schedule_data_as_of";

/// What a subscribe did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    Added,
    /// It existed but had been deactivated; it is active again.
    Reactivated,
    AlreadyActive,
}

/// Reads the settings of chats asked for in ascending key order: steps
/// through the `chats` tree while the next chat is near (a fan-out to most
/// chats reads each row once) and seeks when it is far (a few chats among
/// many), so it costs at most a look-up per chat.
struct SettingsCursor<'a> {
    tree: &'a sled::Tree,
    rows: Option<std::iter::Peekable<sled::Iter>>,
}

impl<'a> SettingsCursor<'a> {
    /// Rows stepped over before seeking instead.
    const STEPS: usize = 8;

    fn new(tree: &'a sled::Tree) -> Self {
        SettingsCursor { tree, rows: None }
    }

    fn find(&mut self, chat_key: &[u8]) -> Result<ChatSettings, StoreError> {
        let tree = self.tree;
        let rows = self
            .rows
            .get_or_insert_with(|| tree.range(chat_key..).peekable());
        for _ in 0..Self::STEPS {
            match rows.peek() {
                Some(Ok((key, _))) if key.as_ref() < chat_key => {
                    rows.next();
                }
                Some(Ok((key, value))) if key.as_ref() == chat_key => {
                    let settings = settings_from(value)?;
                    rows.next();
                    return Ok(settings);
                }
                Some(Ok(_)) | None => return Ok(ChatSettings::default()),
                Some(Err(_)) => {
                    return match rows.next() {
                        Some(Err(err)) => Err(err.into()),
                        _ => Ok(ChatSettings::default()),
                    };
                }
            }
        }
        // Far ahead: seek.
        let rows = self.rows.insert(tree.range(chat_key..).peekable());
        match rows.peek() {
            Some(Ok((key, value))) if key.as_ref() == chat_key => {
                let settings = settings_from(value)?;
                rows.next();
                Ok(settings)
            }
            Some(Err(_)) => match rows.next() {
                Some(Err(err)) => Err(err.into()),
                _ => Ok(ChatSettings::default()),
            },
            _ => Ok(ChatSettings::default()),
        }
    }
}

pub(super) fn subscription_from(bytes: &[u8]) -> Result<Subscription, StoreError> {
    records::decode_subscription(bytes)
        .ok_or_else(|| StoreError::Corrupt("a subscription's record does not decode".into()))
}

fn settings_from(bytes: &[u8]) -> Result<ChatSettings, StoreError> {
    records::decode_settings(bytes)
        .ok_or_else(|| StoreError::Corrupt("a chat's settings do not decode".into()))
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
    key.extend_from_slice(super::keys::chat(chat).as_bytes());
    key
}

fn chat_prefix(chat: &ChatRef) -> Vec<u8> {
    let mut key = super::keys::chat(chat).into_bytes();
    key.push(0);
    key
}

pub(super) fn chat_sub_key(chat: &ChatRef, target: Target) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(&target_bytes(target));
    key
}

pub(super) fn platform_byte(platform: Platform) -> u8 {
    platform.info().code
}

pub(super) fn platform_of(byte: u8) -> Option<Platform> {
    Platform::from_code(byte)
}

pub(super) fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl Store {
    /// A chat's settings (the defaults if it never set any).
    pub fn chat_settings(&self, chat: &ChatRef) -> Result<ChatSettings, StoreError> {
        Ok(match self.chats.get(super::keys::chat(chat))? {
            Some(v) => settings_from(&v)?,
            None => ChatSettings::default(),
        })
    }

    pub fn set_chat_settings(
        &self,
        chat: &ChatRef,
        settings: &ChatSettings,
    ) -> Result<(), StoreError> {
        let _gate = self.writing();
        self.chats
            .insert(super::keys::chat(chat), records::encode_settings(settings))?;
        Ok(())
    }

    /// Adds or reactivates a subscription.
    pub fn subscribe(&self, sub: &Subscription) -> Result<Subscribed, StoreError> {
        let _gate = self.writing();
        let key = sub_key(sub.target, &sub.chat);
        let outcome = match self.subs.get(&key)? {
            Some(v) if subscription_from(&v)?.active => return Ok(Subscribed::AlreadyActive),
            Some(_) => Subscribed::Reactivated,
            None => Subscribed::Added,
        };
        let value = records::encode_subscription(sub);
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
            sub.extend_from_slice(super::keys::chat(chat).as_bytes());
            if let Some(v) = self.subs.get(&sub)? {
                out.push(subscription_from(&v)?);
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
            // Subscriptions come in chat-key order, as the settings do.
            let mut settings = SettingsCursor::new(&self.chats);
            for row in self.subs.scan_prefix(target_bytes(target)) {
                let (key, value) = row?;
                let sub = subscription_from(&value)?;
                let settings = settings.find(key.get(9..).unwrap_or_default())?;
                out.push((sub, settings));
            }
        }
        Ok(out)
    }

    /// The entries that at least one active subscription names (not `all`).
    pub fn subscribed_entries(&self) -> Result<Vec<EntryId>, StoreError> {
        let mut out: Vec<EntryId> = Vec::new();
        for row in self.subs.scan_prefix([1u8]) {
            let (key, value) = row?;
            let Some(id) = key.get(1..9).and_then(super::keys::decode_u64) else {
                continue;
            };
            if out.last() != Some(&id) && subscription_from(&value)?.active {
                out.push(id);
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

    /// The newest date the catalog's imported schedule data knows of.
    pub fn data_as_of(&self) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self
            .meta
            .get(DATA_AS_OF)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok()))
    }

    /// Records how current an import's data is; an older file never makes
    /// the catalog look older than it is.
    pub fn note_data_as_of(&self, date: NaiveDate) -> Result<(), StoreError> {
        if self.data_as_of()?.is_some_and(|known| known >= date) {
            return Ok(());
        }
        let _gate = self.writing();
        self.meta.insert(DATA_AS_OF, date.to_string().as_bytes())?;
        Ok(())
    }

    pub fn set_schedule_watermark(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _gate = self.writing();
        self.meta.insert(WATERMARK, &millis(at).to_be_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{subscription, telegram};

    fn chat(i: usize) -> ChatRef {
        telegram(&format!("{i:04}"))
    }

    fn sub(i: usize, target: Target) -> Subscription {
        subscription(chat(i), target)
    }

    /// Dense and sparse subscribers, chats with and without settings: each
    /// subscriber comes with exactly its own chat's settings.
    #[test]
    fn subscribers_come_with_their_own_settings() {
        let store = Store::temporary().unwrap();
        for i in (0..400).filter(|i| i % 3 != 0) {
            let settings = ChatSettings {
                delay_min: i as u32,
                ..ChatSettings::default()
            };
            store.set_chat_settings(&chat(i), &settings).unwrap();
        }
        for i in 0..150 {
            store.subscribe(&sub(i, Target::Entry(1))).unwrap();
        }
        for i in (150..400).step_by(37) {
            store.subscribe(&sub(i, Target::Entry(1))).unwrap();
        }
        for i in [2, 5, 399] {
            store.subscribe(&sub(i, Target::All)).unwrap();
        }
        let found = store.subscribers_of(1).unwrap();
        assert_eq!(found.len(), 150 + 7 + 3);
        for (sub, settings) in &found {
            assert_eq!(
                settings,
                &store.chat_settings(&sub.chat).unwrap(),
                "{}",
                sub.chat
            );
        }
        assert_eq!(found[0].1, ChatSettings::default(), "chat 0 has none");
        assert_eq!(found[1].1.delay_min, 1);
    }
}
