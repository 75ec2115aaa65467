//! Typed keys: fixed-width big-endian integers so sled's byte order is the
//! numeric order, which keeps prefix and range scans meaningful.

use crate::core::model::EntryId;

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
