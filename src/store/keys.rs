//! Typed keys: fixed-width big-endian integers so sled's byte order is the
//! numeric order, which keeps prefix and range scans meaningful.

use crate::core::announce::Job;
use crate::core::caller::{ChatRef, Platform};
use crate::core::catalog::model::EntryId;

pub fn entry(id: EntryId) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes an 8-byte big-endian id; `None` for a key of another width.
pub fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// `entry ‖ user`: all ratings of an entry share the entry's 8-byte prefix.
pub fn rating(entry: EntryId, user: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + user.len());
    key.extend_from_slice(&entry.to_be_bytes());
    key.extend_from_slice(user.as_bytes());
    key
}

pub fn audit(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// `entry ‖ seq`: the audit records of one entry, oldest first.
pub fn audit_by_entry(entry: EntryId, seq: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&entry.to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// `platform:chat_id`: a chat's key in the chat, subscription and outbox trees.
pub fn chat(chat: &ChatRef) -> String {
    format!("{}:{}", chat.platform, chat.chat_id)
}

/// The chat a key names (the inverse of [`chat`]).
pub fn parse_chat(key: &str) -> Option<ChatRef> {
    let (platform, chat_id) = key.split_once(':')?;
    Some(ChatRef {
        platform: Platform::from_name(platform)?,
        chat_id: chat_id.to_owned(),
    })
}

/// `entry ‖ episode ‖ variant ‖ 0`: a release's identity, and the start of
/// the key of every job it queues.
pub fn release(entry: EntryId, episode: u32, variant: &str) -> Vec<u8> {
    // Room for the chat key a job key appends.
    let mut key = Vec::with_capacity(12 + variant.len() + 1 + 32);
    key.extend_from_slice(&entry.to_be_bytes());
    key.extend_from_slice(&episode.to_be_bytes());
    key.extend_from_slice(variant.as_bytes());
    key.push(0);
    key
}

/// `entry ‖ episode ‖ variant ‖ 0 ‖ chat`: a job's key, ordered by entry.
pub fn job(job: &Job) -> Vec<u8> {
    job_of(job.entry, job.episode, &job.variant, &job.chat)
}

/// The key of the job of a release in `chat`.
pub fn job_of(entry: EntryId, episode: u32, variant: &str, chat: &ChatRef) -> Vec<u8> {
    let mut key = release(entry, episode, variant);
    key.extend_from_slice(self::chat(chat).as_bytes());
    key
}

/// A job's identity read back from its key: (entry, episode, variant, chat).
pub fn parse_job(key: &[u8]) -> Option<(EntryId, u32, String, ChatRef)> {
    let (entry, episode, variant) = parse_release(key)?;
    let chat_key = key.get(12 + variant.len() + 1..)?;
    let chat = parse_chat(std::str::from_utf8(chat_key).ok()?)?;
    Some((entry, episode, variant, chat))
}

/// A release's identity read back from its key, or from the start of a
/// job key: (entry, episode, variant).
pub fn parse_release(key: &[u8]) -> Option<(EntryId, u32, String)> {
    let entry = EntryId::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let episode = u32::from_be_bytes(key.get(8..12)?.try_into().ok()?);
    let rest = key.get(12..)?;
    let zero = rest.iter().position(|&b| b == 0)?;
    let variant = std::str::from_utf8(rest.get(..zero)?).ok()?.to_owned();
    Some((entry, episode, variant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_keys_sort_numerically() {
        assert!(entry(2) < entry(10));
        assert!(audit_by_entry(1, 300) < audit_by_entry(2, 1));
        assert_eq!(decode_u64(&entry(513)), Some(513));
        assert_eq!(decode_u64(&[1, 2]), None);
    }

    #[test]
    fn rating_keys_group_by_entry() {
        let a = rating(1, "telegram:9");
        let b = rating(2, "");
        assert!(a < b);
        assert!(a.starts_with(&entry(1)));
    }
}
