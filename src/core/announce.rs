//! New-episode announcements: subscriptions, chat settings, release events,
//! the outbox's jobs, and the [`Notifier`] trait every platform implements.
//!
//! A release event (an admin's `episode`, a broadcast rule reaching its air
//! time, or an import) is recorded together with one outbox job per matching
//! chat, in one store transaction. A job's identity is (entry, episode,
//! variant, chat), so the same release can never be queued or delivered
//! twice. The dispatcher ([`super::dispatch`]) drains due jobs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::caller::{ChatRef, Platform};
use super::model::{Entry, EntryId, Kind, Link};
use super::schedule::{Bounds, Rule};
use super::text;

/// Longest announcement delay a chat may set: one week.
pub const MAX_DELAY_MIN: u32 = 7 * 24 * 60;

/// What a subscription follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Entry(EntryId),
    /// Every entry (optionally filtered by kind or genre).
    All,
}

/// A chat's subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub chat: ChatRef,
    pub target: Target,
    /// For `All`: only this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// For `All`: only entries with this genre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    pub active: bool,
    /// Why it was deactivated (the bot was removed from the chat, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_reason: Option<String>,
    /// A role to mention with each announcement (a Discord role id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention_role: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    /// Whether a release of `entry` concerns this subscription.
    pub fn covers(&self, entry: &Entry) -> bool {
        if !self.active {
            return false;
        }
        match self.target {
            Target::Entry(id) => id == entry.id,
            Target::All => {
                self.kind.is_none_or(|k| entry.kind == Some(k))
                    && self.genre.as_ref().is_none_or(|g| {
                        let g = text::fold(g).key;
                        entry.genres.iter().any(|have| text::fold(have).key == g)
                    })
            }
        }
    }
}

/// Per-chat announcement settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSettings {
    /// IANA time zone for times shown in this chat.
    pub tz: String,
    /// Minutes to wait after a release before announcing it.
    pub delay_min: u32,
    /// Audio languages to announce (lower case); empty means all.
    #[serde(default)]
    pub audio: Vec<String>,
    /// The stream whose broadcast schedule this chat follows (`tv`, or a
    /// site such as `crunchyroll`); `none` turns schedule announcements off.
    pub stream: String,
    /// A group or channel (stricter platform rate limits apply).
    #[serde(default)]
    pub is_group: bool,
}

impl Default for ChatSettings {
    fn default() -> Self {
        ChatSettings {
            tz: "UTC".into(),
            delay_min: 0,
            audio: Vec::new(),
            stream: "tv".into(),
            is_group: false,
        }
    }
}

/// Which variant of an episode a release is: an audio language (the admin
/// `episode` command; `original` when none is given) or a stream's broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variant {
    Audio(String),
    Stream(String),
}

impl Variant {
    /// The variant for a release in `audio` (`None`: the original audio).
    pub fn audio(audio: Option<&str>) -> Variant {
        Variant::Audio(audio.map_or_else(|| "original".to_owned(), str::to_lowercase))
    }

    /// `audio:tamil`, `stream:tv`: the variant part of a job's key.
    pub fn key(&self) -> String {
        match self {
            Variant::Audio(a) => format!("audio:{a}"),
            Variant::Stream(s) => format!("stream:{s}"),
        }
    }

    /// Whether a chat with `settings` wants this variant.
    pub fn wanted_by(&self, settings: &ChatSettings) -> bool {
        match self {
            Variant::Audio(a) => settings.audio.is_empty() || settings.audio.iter().any(|w| w == a),
            Variant::Stream(s) => &settings.stream == s,
        }
    }
}

/// One released episode, as an event to announce.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseEvent {
    pub entry: EntryId,
    pub episode: u32,
    pub variant: Variant,
    pub at: DateTime<Utc>,
    pub audio: Option<String>,
    pub qualities: Vec<String>,
    pub episode_title: Option<String>,
}

/// An episode number and when it airs.
pub type NextEpisode = (u32, DateTime<Utc>);

/// What an announcement says; adapters render it, in the chat's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    pub entry: EntryId,
    pub title: String,
    pub episode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episodes_total: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qualities: Vec<String>,
    /// The stream whose schedule this comes from, for broadcast releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    pub released_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// The next episode on the chat's stream, if the schedule knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_episode: Option<NextEpisode>,
    /// The chat's time zone, for rendering times.
    pub tz: String,
    /// A role the chat asked to have mentioned (Discord).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention_role: Option<String>,
}

/// A queued announcement for one chat: the release's shared content (kept
/// once per release, in memory and in the store; see
/// [`Announcement::shared`]) and what is this chat's own (time zone,
/// mention, next episode on the chat's stream), so a fan-out to thousands of
/// chats copies and writes little. [`Job::announcement`] puts them together.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub entry: EntryId,
    pub episode: u32,
    pub variant: String,
    pub chat: ChatRef,
    pub is_group: bool,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What every chat is told about the release.
    pub release: Arc<Announcement>,
    /// The chat's time zone, for rendering times.
    pub tz: String,
    /// A role the chat asked to have mentioned (Discord).
    pub mention_role: Option<String>,
    /// The next episode on the chat's stream, if the schedule knows it.
    pub next_episode: Option<NextEpisode>,
}

impl Job {
    /// What this chat is told.
    pub fn announcement(&self) -> Announcement {
        Announcement {
            next_episode: self.next_episode,
            tz: self.tz.clone(),
            mention_role: self.mention_role.clone(),
            ..(*self.release).clone()
        }
    }

    /// `entry ‖ episode ‖ variant ‖ 0 ‖ chat`: a job's identity, ordered by entry.
    pub fn key(&self) -> Vec<u8> {
        job_key(self.entry, self.episode, &self.variant, &self.chat)
    }
}

/// `entry ‖ episode ‖ variant ‖ 0`: a release's identity, and the start of
/// the key of every job it queues.
pub fn release_key(entry: EntryId, episode: u32, variant: &str) -> Vec<u8> {
    // Room for the chat key a job key appends.
    let mut key = Vec::with_capacity(12 + variant.len() + 1 + 32);
    key.extend_from_slice(&entry.to_be_bytes());
    key.extend_from_slice(&episode.to_be_bytes());
    key.extend_from_slice(variant.as_bytes());
    key.push(0);
    key
}

/// The store key of a job.
pub fn job_key(entry: EntryId, episode: u32, variant: &str, chat: &ChatRef) -> Vec<u8> {
    let mut key = release_key(entry, episode, variant);
    key.extend_from_slice(chat.key().as_bytes());
    key
}

/// A job's identity read back from its key: (entry, episode, variant, chat).
pub fn parse_job_key(key: &[u8]) -> Option<(EntryId, u32, String, ChatRef)> {
    let (entry, episode, variant) = parse_release_key(key)?;
    let chat_key = key.get(12 + variant.len() + 1..)?;
    let chat = ChatRef::from_key(std::str::from_utf8(chat_key).ok()?)?;
    Some((entry, episode, variant, chat))
}

/// A release's identity read back from its key, or from the start of a
/// job key: (entry, episode, variant).
pub fn parse_release_key(key: &[u8]) -> Option<(EntryId, u32, String)> {
    let entry = EntryId::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let episode = u32::from_be_bytes(key.get(8..12)?.try_into().ok()?);
    let rest = key.get(12..)?;
    let zero = rest.iter().position(|&b| b == 0)?;
    let variant = std::str::from_utf8(rest.get(..zero)?).ok()?.to_owned();
    Some((entry, episode, variant))
}

/// A job that was posted: what it was, and the platform's message id. The
/// announcement itself is not kept (it was posted).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub entry: EntryId,
    pub episode: u32,
    pub variant: String,
    pub chat: ChatRef,
    pub message_id: String,
    pub at: DateTime<Utc>,
}

/// Why a job ended without a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadKind {
    /// Gave up after the configured number of attempts.
    Failed,
    /// The bot may not post there any more (removed, chat gone).
    Forbidden,
    /// It came due longer ago than the catch-up window (the bot was down).
    Expired,
    /// The entry was deleted before it was sent.
    Withdrawn,
}

/// A job that ended without a post.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub entry: EntryId,
    pub episode: u32,
    pub variant: String,
    pub chat: ChatRef,
    /// Send attempts made before it ended.
    pub attempts: u32,
    pub kind: DeadKind,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// How a send went, as a notifier reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Posted; the platform's message id.
    Delivered { message_id: String },
    /// Rate-limited: try again after this long. `global` when the whole bot
    /// is limited rather than this chat.
    RetryAfter { after: Duration, global: bool },
    /// A server or network error: back off and retry.
    Transient(String),
    /// The bot may not post to this chat (403, chat not found).
    Forbidden(String),
    /// The platform refused this message itself (a 400 for its content):
    /// retrying cannot help, so it is dead-lettered at once.
    Rejected(String),
    /// The chat moved (Telegram's `migrate_to_chat_id`): resend there.
    Migrated { to_chat_id: String },
}

/// A platform's way of posting announcements. Implemented by each adapter
/// and by recording fakes in tests.
pub trait Notifier: Send + Sync + 'static {
    fn platform(&self) -> Platform;
    fn send(
        &self,
        chat: &ChatRef,
        announcement: &Announcement,
    ) -> impl Future<Output = SendOutcome> + Send;
}

/// What every chat is told about `event` (see [`Announcement::shared`]).
fn shared_announcement(entry: &Entry, event: &ReleaseEvent) -> Announcement {
    let stream = match &event.variant {
        Variant::Stream(s) => Some(s.clone()),
        Variant::Audio(_) => None,
    };
    Announcement {
        entry: entry.id,
        title: entry.display_title().to_owned(),
        episode: event.episode,
        episode_title: event.episode_title.clone(),
        episodes_total: entry.episodes,
        audio: event.audio.clone(),
        qualities: event.qualities.clone(),
        stream,
        released_at: event.at,
        picture: entry.picture.clone(),
        links: entry.links.iter().take(2).cloned().collect(),
        next_episode: None,
        tz: String::new(),
        mention_role: None,
    }
}

/// The episode after `event` on `stream`, if the entry's schedule knows it.
fn next_episode(entry: &Entry, event: &ReleaseEvent, stream: &str) -> Option<NextEpisode> {
    entry
        .broadcasts
        .iter()
        .find(|b| b.platform == stream)
        .and_then(|b| {
            let rule: Rule = b.rule.parse().ok()?;
            rule.next_after(
                event.at,
                Bounds {
                    ends: b.ends,
                    episodes: entry.episodes,
                },
            )
        })
        .filter(|(n, _)| *n > event.episode)
}

impl Announcement {
    /// The part of an announcement every chat shares, as the store keeps it
    /// once per release: without the chat's time zone, mention and next
    /// episode (which follows the chat's stream).
    pub fn shared(&self) -> Announcement {
        Announcement {
            next_episode: None,
            tz: String::new(),
            mention_role: None,
            ..self.clone()
        }
    }
}

/// The jobs `event` creates: one per chat whose active subscription covers
/// `entry` and whose settings want this variant, due after the chat's delay.
pub fn jobs_for(
    entry: &Entry,
    event: &ReleaseEvent,
    subscribers: &[(Subscription, ChatSettings)],
) -> Vec<Job> {
    let variant = event.variant.key();
    let shared = Arc::new(shared_announcement(entry, event));
    // The next episode depends only on the chat's stream: computed once per stream.
    let mut next_by_stream: Vec<(&str, Option<NextEpisode>)> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    // A chat subscribed both to the entry and to everything gets one job.
    let mut chats = std::collections::HashSet::new();
    for (sub, settings) in subscribers {
        if !sub.covers(entry) || !event.variant.wanted_by(settings) || !chats.insert(&sub.chat) {
            continue;
        }
        let stream = settings.stream.as_str();
        let next = match next_by_stream.iter().find(|(s, _)| *s == stream) {
            Some((_, next)) => *next,
            None => {
                let next = next_episode(entry, event, stream);
                next_by_stream.push((stream, next));
                next
            }
        };
        jobs.push(Job {
            entry: entry.id,
            episode: event.episode,
            variant: variant.clone(),
            chat: sub.chat.clone(),
            is_group: settings.is_group,
            due_at: event.at + chrono::Duration::minutes(i64::from(settings.delay_min)),
            attempts: 0,
            last_error: None,
            release: Arc::clone(&shared),
            tz: settings.tz.clone(),
            mention_role: sub.mention_role.clone(),
            next_episode: next,
        });
    }
    jobs
}

/// Episodes of `entry` whose broadcast on some stream aired in `(after, until]`.
pub fn broadcast_events(
    entry: &Entry,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<ReleaseEvent> {
    let mut events = Vec::new();
    for broadcast in &entry.broadcasts {
        let Ok(rule) = broadcast.rule.parse::<Rule>() else {
            continue;
        };
        let bounds = Bounds {
            ends: broadcast.ends,
            episodes: entry.episodes,
        };
        for (episode, at) in rule.episodes_between(after, until, bounds) {
            events.push(ReleaseEvent {
                entry: entry.id,
                episode,
                variant: Variant::Stream(broadcast.platform.clone()),
                at,
                audio: None,
                qualities: Vec::new(),
                episode_title: None,
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Broadcast;

    fn chat(id: &str) -> ChatRef {
        ChatRef {
            platform: Platform::Telegram,
            chat_id: id.into(),
        }
    }

    fn sub(chat_id: &str, target: Target) -> Subscription {
        Subscription {
            chat: chat(chat_id),
            target,
            kind: None,
            genre: None,
            active: true,
            inactive_reason: None,
            mention_role: None,
            created_by: "test".into(),
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    fn rouge() -> Entry {
        let mut e = Entry::new(1, "Metallic Rouge");
        e.kind = Some(Kind::Tv);
        e.genres = vec!["Mecha".into()];
        e.episodes = Some(13);
        e.broadcasts.push(Broadcast {
            platform: "tv".into(),
            rule: "R/2024-01-10T16:25:00.000Z/P7D".into(),
            ends: None,
        });
        e
    }

    fn tamil_13() -> ReleaseEvent {
        ReleaseEvent {
            entry: 1,
            episode: 13,
            variant: Variant::audio(Some("Tamil")),
            at: DateTime::UNIX_EPOCH,
            audio: Some("Tamil".into()),
            qualities: vec!["480p".into(), "720p".into(), "1080p".into()],
            episode_title: None,
        }
    }

    #[test]
    fn one_job_per_chat_that_wants_the_variant() {
        let entry = rouge();
        let tamil_only = ChatSettings {
            audio: vec!["tamil".into()],
            delay_min: 30,
            ..ChatSettings::default()
        };
        let hindi_only = ChatSettings {
            audio: vec!["hindi".into()],
            ..ChatSettings::default()
        };
        let mut mecha = sub("c", Target::All);
        mecha.genre = Some("mecha".into());
        let mut movies = sub("d", Target::All);
        movies.kind = Some(Kind::Movie);
        let mut gone = sub("e", Target::Entry(1));
        gone.active = false;
        let subscribers = vec![
            (sub("a", Target::Entry(1)), tamil_only.clone()),
            (sub("a", Target::All), tamil_only),
            (sub("b", Target::Entry(1)), hindi_only),
            (mecha, ChatSettings::default()),
            (movies, ChatSettings::default()),
            (gone, ChatSettings::default()),
            (sub("f", Target::Entry(2)), ChatSettings::default()),
        ];
        let jobs = jobs_for(&entry, &tamil_13(), &subscribers);
        let chats: Vec<&str> = jobs.iter().map(|j| j.chat.chat_id.as_str()).collect();
        assert_eq!(chats, ["a", "c"]);
        assert_eq!(
            jobs[0].due_at,
            DateTime::UNIX_EPOCH + chrono::Duration::minutes(30)
        );
        assert_eq!(jobs[0].variant, "audio:tamil");
        assert_ne!(jobs[0].key(), jobs[1].key());
    }

    #[test]
    fn broadcast_events_follow_the_rule() {
        let entry = rouge();
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc)
        };
        let events = broadcast_events(
            &entry,
            at("2024-01-16T00:00:00Z"),
            at("2024-01-25T00:00:00Z"),
        );
        assert_eq!(events.iter().map(|e| e.episode).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(events[0].variant, Variant::Stream("tv".into()));
        let settings = ChatSettings::default();
        let next = next_episode(&entry, &events[0], &settings.stream);
        assert_eq!(next.map(|n| n.0), Some(3));
        let other_stream = ChatSettings {
            stream: "crunchyroll".into(),
            ..ChatSettings::default()
        };
        assert!(!events[0].variant.wanted_by(&other_stream));
    }
}
