//! Compact binary encodings of the per-chat records a fan-out reads or
//! writes thousands of times: subscriptions and chat settings (read for
//! every subscriber), a queued job's own part, and the delivered post that
//! replaces it in place. Everything else is JSON.
//!
//! Every record starts with a tag byte that says which of the two it is (and
//! lets a later build tell an old shape from a new one); numbers are
//! big-endian, strings are a length and UTF-8 bytes. Decoding checks every
//! length and rejects trailing bytes: a damaged record is an error, never a
//! panic or a half-read job.

use chrono::{DateTime, Utc};

use crate::core::announce::{ChatSettings, Job, Subscription, Target};
use crate::core::catalog::model::Kind;

/// The tag of a queued job's record.
const QUEUED: u8 = 1;
/// The tag of a delivered post's record.
const DELIVERED: u8 = 2;
/// The tag of a subscription's record.
const SUBSCRIPTION: u8 = 3;
/// The tag of a chat's settings.
const SETTINGS: u8 = 4;
/// The tag of a queued job's record that also says where and when it aired
/// for its chat (records with [`QUEUED`] have no such part).
const QUEUED_AIRED: u8 = 5;

/// Whether an outbox record is a queued job's (rather than a delivered post's).
pub fn is_queued(record: &[u8]) -> bool {
    matches!(record.first(), Some(&QUEUED | &QUEUED_AIRED))
}

/// What a queued job keeps of its own; the rest of it is its key (due
/// time, job key and group flag) and its release's shared announcement.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedRecord {
    pub attempts: u32,
    pub tz: String,
    pub mention_role: Option<String>,
    pub next_episode: Option<(u32, DateTime<Utc>)>,
    pub last_error: Option<String>,
    /// The stream it aired on for this chat, and when.
    pub aired: Option<(String, DateTime<Utc>)>,
}

/// A delivered post: when, and the platform's message id.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveredRecord {
    pub at: DateTime<Utc>,
    pub message_id: String,
}

struct Writer(Vec<u8>);

impl Writer {
    fn new(tag: u8, capacity: usize) -> Writer {
        let mut out = Vec::with_capacity(capacity + 1);
        out.push(tag);
        Writer(out)
    }

    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn time(&mut self, at: DateTime<Utc>) {
        self.0
            .extend_from_slice(&at.timestamp_millis().to_be_bytes());
    }

    fn str(&mut self, s: &str) {
        // Longer strings are cut at a character boundary; no field comes near.
        let mut end = s.len().min(u32::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u32(end as u32);
        self.0.extend_from_slice(&s.as_bytes()[..end]);
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader after the tag byte, if it is `tag`.
    fn new(tag: u8, bytes: &'a [u8]) -> Option<Reader<'a>> {
        match bytes.split_first()? {
            (&found, rest) if found == tag => Some(Reader(rest)),
            _ => None,
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn time(&mut self) -> Option<DateTime<Utc>> {
        let ms = i64::from_be_bytes(self.take(8)?.try_into().ok()?);
        DateTime::from_timestamp_millis(ms)
    }

    fn str(&mut self) -> Option<String> {
        let len = usize::try_from(self.u32()?).ok()?;
        Some(std::str::from_utf8(self.take(len)?).ok()?.to_owned())
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        if self.flag()? {
            self.str().map(Some)
        } else {
            Some(None)
        }
    }

    /// The value read, if nothing is left over.
    fn done<T>(self, value: T) -> Option<T> {
        self.0.is_empty().then_some(value)
    }
}

impl QueuedRecord {
    /// The record of `job`'s own part.
    pub fn encode(job: &Job) -> Vec<u8> {
        let strings = job.tz.len()
            + job.mention_role.as_ref().map_or(0, String::len)
            + job.last_error.as_ref().map_or(0, String::len);
        let tag = if job.aired.is_some() {
            QUEUED_AIRED
        } else {
            QUEUED
        };
        let mut w = Writer::new(tag, 56 + strings);
        w.u32(job.attempts);
        w.str(&job.tz);
        w.opt_str(job.mention_role.as_deref());
        match job.next_episode {
            Some((episode, at)) => {
                w.u8(1);
                w.u32(episode);
                w.time(at);
            }
            None => w.u8(0),
        }
        w.opt_str(job.last_error.as_deref());
        if let Some((stream, at)) = &job.aired {
            w.str(stream);
            w.time(*at);
        }
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Option<QueuedRecord> {
        let aired = bytes.first() == Some(&QUEUED_AIRED);
        let mut r = Reader::new(if aired { QUEUED_AIRED } else { QUEUED }, bytes)?;
        let attempts = r.u32()?;
        let tz = r.str()?;
        let mention_role = r.opt_str()?;
        let next_episode = if r.flag()? {
            Some((r.u32()?, r.time()?))
        } else {
            None
        };
        let last_error = r.opt_str()?;
        let aired = if aired {
            Some((r.str()?, r.time()?))
        } else {
            None
        };
        r.done(QueuedRecord {
            attempts,
            tz,
            mention_role,
            next_episode,
            last_error,
            aired,
        })
    }
}

/// A subscription's record.
pub fn encode_subscription(sub: &Subscription) -> Vec<u8> {
    let mut w = Writer::new(SUBSCRIPTION, 64);
    w.str(&super::keys::chat(&sub.chat));
    match sub.target {
        Target::All => w.u8(0),
        Target::Entry(id) => {
            w.u8(1);
            w.u64(id);
        }
    }
    w.opt_str(sub.kind.map(Kind::label));
    w.opt_str(sub.genre.as_deref());
    w.u8(u8::from(sub.active));
    w.opt_str(sub.inactive_reason.as_deref());
    w.opt_str(sub.mention_role.as_deref());
    w.str(&sub.created_by);
    w.time(sub.created_at);
    w.0
}

pub fn decode_subscription(bytes: &[u8]) -> Option<Subscription> {
    let mut r = Reader::new(SUBSCRIPTION, bytes)?;
    let chat = super::keys::parse_chat(&r.str()?)?;
    let target = match r.u8()? {
        0 => Target::All,
        1 => Target::Entry(r.u64()?),
        _ => return None,
    };
    let kind = match r.opt_str()? {
        Some(label) => Some(label.parse::<Kind>().ok()?),
        None => None,
    };
    let genre = r.opt_str()?;
    let active = r.flag()?;
    let inactive_reason = r.opt_str()?;
    let mention_role = r.opt_str()?;
    let created_by = r.str()?;
    let created_at = r.time()?;
    r.done(Subscription {
        chat,
        target,
        kind,
        genre,
        active,
        inactive_reason,
        mention_role,
        created_by,
        created_at,
    })
}

/// A chat's settings' record.
pub fn encode_settings(settings: &ChatSettings) -> Vec<u8> {
    let mut w = Writer::new(SETTINGS, 32);
    w.str(&settings.tz);
    w.u32(settings.delay_min);
    w.u32(u32::try_from(settings.audio.len()).unwrap_or(u32::MAX));
    for audio in &settings.audio {
        w.str(audio);
    }
    w.str(&settings.stream);
    w.u8(u8::from(settings.is_group));
    w.u8(u8::from(settings.adult));
    w.0
}

pub fn decode_settings(bytes: &[u8]) -> Option<ChatSettings> {
    let mut r = Reader::new(SETTINGS, bytes)?;
    let tz = r.str()?;
    let delay_min = r.u32()?;
    let count = r.u32()?;
    // Each language takes at least its 4-byte length: a count the record
    // cannot hold is damage, not a reason to reserve memory.
    if usize::try_from(count).ok()? > r.0.len() / 4 {
        return None;
    }
    let audio = (0..count).map(|_| r.str()).collect::<Option<Vec<_>>>()?;
    let stream = r.str()?;
    let is_group = r.flag()?;
    // Records written before the adult setting existed end here.
    let adult = if r.0.is_empty() { false } else { r.flag()? };
    r.done(ChatSettings {
        tz,
        delay_min,
        audio,
        stream,
        is_group,
        adult,
    })
}

impl DeliveredRecord {
    pub fn encode(at: DateTime<Utc>, message_id: &str) -> Vec<u8> {
        let mut w = Writer::new(DELIVERED, 12 + message_id.len());
        w.time(at);
        w.str(message_id);
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Option<DeliveredRecord> {
        let mut r = Reader::new(DELIVERED, bytes)?;
        let at = r.time()?;
        let message_id = r.str()?;
        r.done(DeliveredRecord { at, message_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::caller::{ChatRef, Platform};
    use crate::store::fixtures::tamil_13;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("a valid time")
    }

    fn job(record: &QueuedRecord) -> Job {
        Job {
            entry: 1,
            episode: 13,
            variant: "audio:tamil".into(),
            chat: ChatRef {
                platform: Platform::Discord,
                chat_id: "42".into(),
            },
            is_group: false,
            due_at: at(0),
            attempts: record.attempts,
            last_error: record.last_error.clone(),
            release: std::sync::Arc::new(tamil_13("")),
            tz: record.tz.clone(),
            mention_role: record.mention_role.clone(),
            next_episode: record.next_episode,
            aired: record.aired.clone(),
        }
    }

    fn full() -> QueuedRecord {
        QueuedRecord {
            attempts: 3,
            tz: "Asia/Kolkata".into(),
            mention_role: Some("1234567890".into()),
            next_episode: Some((14, at(1_705_508_700_000))),
            last_error: Some("HTTP 502 — «bad gateway»".into()),
            aired: Some(("crunchyroll".into(), at(1_705_506_900_000))),
        }
    }

    #[test]
    fn queued_records_round_trip() {
        let bare = QueuedRecord {
            attempts: 0,
            tz: String::new(),
            mention_role: None,
            next_episode: None,
            last_error: None,
            aired: None,
        };
        for record in [full(), bare] {
            let bytes = QueuedRecord::encode(&job(&record));
            assert_eq!(QueuedRecord::decode(&bytes), Some(record));
        }
    }

    #[test]
    fn subscriptions_and_settings_round_trip() {
        let mut sub = Subscription {
            chat: ChatRef {
                platform: Platform::Discord,
                chat_id: "123:456".into(),
            },
            target: Target::Entry(7),
            kind: None,
            genre: None,
            active: true,
            inactive_reason: None,
            mention_role: None,
            created_by: "discord:9".into(),
            created_at: at(1_700_000_000_123),
        };
        assert_eq!(
            decode_subscription(&encode_subscription(&sub)),
            Some(sub.clone())
        );
        sub.target = Target::All;
        sub.kind = Some(Kind::Ova);
        sub.genre = Some("Mecha".into());
        sub.active = false;
        sub.inactive_reason = Some("forbidden".into());
        sub.mention_role = Some("555".into());
        let bytes = encode_subscription(&sub);
        assert_eq!(decode_subscription(&bytes), Some(sub));
        for len in 0..bytes.len() {
            assert_eq!(decode_subscription(&bytes[..len]), None, "cut at {len}");
        }
        let settings = ChatSettings {
            tz: "Asia/Kolkata".into(),
            delay_min: 30,
            audio: vec!["tamil".into(), "hindi".into()],
            stream: "crunchyroll".into(),
            is_group: true,
            adult: true,
        };
        let bytes = encode_settings(&settings);
        assert_eq!(decode_settings(&bytes), Some(settings.clone()));
        // Without its last byte it is a record written before the adult
        // setting existed: adult titles off.
        let old = &bytes[..bytes.len() - 1];
        assert_eq!(
            decode_settings(old),
            Some(ChatSettings {
                adult: false,
                ..settings
            })
        );
        for len in 0..old.len() {
            assert_eq!(decode_settings(&bytes[..len]), None, "cut at {len}");
        }
        // A language count far beyond what the record holds.
        let mut huge = vec![SETTINGS, 0, 0, 0, 0, 0, 0, 0, 0];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_settings(&huge), None);
        // The first schema's JSON is not mistaken for a record.
        assert_eq!(decode_settings(br#"{"tz":"UTC"}"#), None);
    }

    #[test]
    fn delivered_records_round_trip() {
        let bytes = DeliveredRecord::encode(at(7), "message 42");
        assert_eq!(
            DeliveredRecord::decode(&bytes),
            Some(DeliveredRecord {
                at: at(7),
                message_id: "message 42".into()
            })
        );
    }

    #[test]
    fn damaged_records_are_rejected_not_misread() {
        let bytes = QueuedRecord::encode(&job(&full()));
        // Every truncation, a byte too many, another format, a bad flag.
        for len in 0..bytes.len() {
            assert_eq!(QueuedRecord::decode(&bytes[..len]), None, "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(QueuedRecord::decode(&longer), None);
        let mut other = bytes.clone();
        other[0] = DELIVERED;
        assert_eq!(QueuedRecord::decode(&other), None);
        assert!(is_queued(&bytes) && !is_queued(&other) && !is_queued(&[]));
        let mut flag = bytes.clone();
        flag[1 + 4 + 4 + "Asia/Kolkata".len()] = 7; // mention_role's

        assert_eq!(QueuedRecord::decode(&flag), None);
        // JSON (the first schema's records) is not mistaken for a record.
        assert_eq!(QueuedRecord::decode(br#"{"entry":1}"#), None);
        // A length far past the end.
        let mut huge = vec![DELIVERED];
        huge.extend_from_slice(&[0; 8]);
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(DeliveredRecord::decode(&huge), None);
    }
}
