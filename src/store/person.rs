//! What the store keeps about one person, and forgetting it: their
//! personal chat (follows, own settings, its outbox rows and the note of why
//! posting there stopped), their ratings, and their name on subscriptions
//! they made and on audit records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::announce::TxResult;
use super::{AuditRecord, Store, StoreError, decode, encode, keys, records};
use crate::core::caller::ChatRef;

/// The name that replaces a forgotten person's on the records that stay.
pub const FORGOTTEN: &str = "a forgotten user";

/// Why and when the bot stopped posting to a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What forgetting a person removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub follows: usize,
    pub ratings: usize,
    /// Queued, delivered and dead-lettered announcements of their chat.
    pub posts: usize,
    /// Subscriptions and audit records that named them and now do not.
    pub redacted: usize,
}

/// `text` with every mention of `user` (`platform:id`) replaced by
/// [`FORGOTTEN`]; `None` when it names them nowhere. A longer id that merely
/// starts with theirs (`telegram:420` for `telegram:42`) is someone else's.
fn redacted(text: &str, user: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut found = false;
    while let Some(at) = rest.find(user) {
        let after = &rest[at + user.len()..];
        let whole = !after.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        out.push_str(&rest[..at]);
        out.push_str(if whole { FORGOTTEN } else { user });
        found |= whole;
        rest = after;
    }
    out.push_str(rest);
    found.then_some(out)
}

/// `stopped ‖ 0 ‖ chat key` in the meta tree.
fn stopped_key(chat: &ChatRef) -> Vec<u8> {
    let mut key = b"stopped\0".to_vec();
    key.extend_from_slice(keys::chat(chat).as_bytes());
    key
}

impl Store {
    /// A chat's settings if it ever set any.
    pub fn chat_settings_if_set(
        &self,
        chat: &ChatRef,
    ) -> Result<Option<crate::core::announce::ChatSettings>, StoreError> {
        if self.chats.contains_key(keys::chat(chat))? {
            Ok(Some(self.chat_settings(chat)?))
        } else {
            Ok(None)
        }
    }

    /// Notes why the bot stopped posting to `chat`, for the next command
    /// from there ([`Store::stopped`]).
    pub(super) fn note_stopped(&self, chat: &ChatRef, stopped: &Stopped) -> Result<(), StoreError> {
        self.meta.insert(stopped_key(chat), encode(stopped)?)?;
        Ok(())
    }

    /// Why the bot stopped posting to `chat`, until the note is cleared.
    pub fn stopped(&self, chat: &ChatRef) -> Result<Option<Stopped>, StoreError> {
        self.meta
            .get(stopped_key(chat))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Removes the note of why posting to `chat` stopped (it was told).
    pub fn clear_stopped(&self, chat: &ChatRef) -> Result<(), StoreError> {
        let _gate = self.writing();
        self.meta.remove(stopped_key(chat))?;
        Ok(())
    }

    /// Deletes everything kept about the person `user` (`platform:user_id`)
    /// whose personal chat is `chat`, in one transaction: the chat's
    /// subscriptions, settings, outbox rows and stop note, the person's
    /// ratings; subscriptions they made elsewhere and audit records keep
    /// [`FORGOTTEN`] in place of their name.
    pub fn forget_person(&self, chat: &ChatRef, user: &str) -> Result<Forgotten, StoreError> {
        let _gate = self.writing();
        let _outbox = self.outbox();
        let chat_key = keys::chat(chat);
        let mut forgotten = Forgotten::default();
        let mut remove_subs = Vec::new();
        let mut rewrite_subs = Vec::new();
        for row in self.subs.iter() {
            let (key, value) = row?;
            let mut sub = super::announce::subscription_from(&value)?;
            if sub.chat == *chat {
                remove_subs.push((
                    key.to_vec(),
                    super::announce::chat_sub_key(chat, sub.target),
                ));
                forgotten.follows += 1;
            } else if sub.created_by == user {
                sub.created_by = FORGOTTEN.to_owned();
                rewrite_subs.push((key.to_vec(), records::encode_subscription(&sub)));
                forgotten.redacted += 1;
            }
        }
        let mut ratings = Vec::new();
        for key in self.ratings.iter().keys() {
            let key = key?;
            if key.get(8..) == Some(user.as_bytes()) {
                ratings.push(key.to_vec());
            }
        }
        forgotten.ratings = ratings.len();
        let mut posts = Vec::new();
        for key in self.jobs.iter().keys() {
            let key = key?;
            if super::outbox::names_chat(&key, chat_key.as_bytes()) {
                posts.push(key.to_vec());
            }
        }
        forgotten.posts = posts.len();
        let mut audit = Vec::new();
        for row in self.audit.iter() {
            let (key, value) = row?;
            let mut record: AuditRecord = decode(&value)?;
            let summary = redacted(&record.summary, user);
            if record.who == user || summary.is_some() {
                if record.who == user {
                    record.who = FORGOTTEN.to_owned();
                }
                if let Some(summary) = summary {
                    record.summary = summary;
                }
                audit.push((key.to_vec(), encode(&record)?));
                forgotten.redacted += 1;
            }
        }
        let stopped = stopped_key(chat);
        (
            &self.subs,
            &self.chat_subs,
            &self.chats,
            &self.ratings,
            &self.jobs,
            &self.audit,
            &self.meta,
        )
            .transaction(
                |(subs, chat_subs, chats, ratings_t, jobs, audit_t, meta)| -> TxResult<()> {
                    for (key, index) in &remove_subs {
                        subs.remove(key.as_slice())?;
                        chat_subs.remove(index.as_slice())?;
                    }
                    for (key, value) in &rewrite_subs {
                        subs.insert(key.as_slice(), value.as_slice())?;
                    }
                    chats.remove(chat_key.as_bytes())?;
                    for key in &ratings {
                        ratings_t.remove(key.as_slice())?;
                    }
                    for key in &posts {
                        jobs.remove(key.as_slice())?;
                    }
                    for (key, value) in &audit {
                        audit_t.insert(key.as_slice(), value.as_slice())?;
                    }
                    meta.remove(stopped.as_slice())?;
                    Ok(())
                },
            )?;
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_mentions_are_redacted() {
        assert_eq!(
            redacted("edit by telegram:42, then telegram:420", "telegram:42").as_deref(),
            Some("edit by a forgotten user, then telegram:420")
        );
        assert_eq!(redacted("telegram:420 only", "telegram:42"), None);
        assert_eq!(redacted("", "telegram:42"), None);
    }
}
