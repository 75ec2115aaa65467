//! Releases and the jobs they queue: what every chat is told about a new
//! episode ([`Announcement`]), one [`Job`] per chat that wants it
//! ([`jobs_for`]), and the episodes broadcast rules make due
//! ([`broadcast_events`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::projection::Projection;
use super::{ChatSettings, Subscription, Target, Variant};
use crate::core::caller::ChatRef;
use crate::core::catalog::model::{Entry, EntryId, Link, Unit};

/// One released episode, as an event to announce.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseEvent {
    pub entry: EntryId,
    /// The episode's number (its identity only, for an unnumbered one; 0
    /// for a whole season).
    pub episode: u32,
    pub unit: Unit,
    pub variant: Variant,
    pub at: DateTime<Utc>,
    /// For a broadcast, the stream it aired on: only chats following that
    /// stream hear of it from this event. `None` (an owner's release):
    /// every chat that wants the audio.
    pub stream: Option<String>,
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
    /// A numbered episode, an unnumbered one, or the whole season.
    #[serde(default, skip_serializing_if = "is_episode")]
    pub unit: Unit,
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
    /// Where and when it aired for this chat, when that is not the
    /// release's own (a chat following a later or earlier stream).
    pub aired: Option<(String, DateTime<Utc>)>,
}

impl Job {
    /// What this chat is told.
    pub fn announcement(&self) -> Announcement {
        let mut announcement = Announcement {
            next_episode: self.next_episode,
            tz: self.tz.clone(),
            mention_role: self.mention_role.clone(),
            ..(*self.release).clone()
        };
        if let Some((stream, at)) = &self.aired {
            announcement.stream = Some(stream.clone());
            announcement.released_at = *at;
        }
        announcement
    }

    /// What makes this job one of a kind: the release and the chat.
    pub fn id(&self) -> JobId {
        JobId {
            entry: self.entry,
            episode: self.episode,
            variant: self.variant.clone(),
            chat: self.chat.clone(),
        }
    }
}

/// A job's identity: one release (entry, episode, variant) in one chat.
/// The store never queues two jobs with the same identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobId {
    pub entry: EntryId,
    pub episode: u32,
    pub variant: String,
    pub chat: ChatRef,
}

fn is_episode(unit: &Unit) -> bool {
    *unit == Unit::Episode
}

/// What every chat is told about `event` (see [`Announcement::shared`]).
fn shared_announcement(entry: &Entry, event: &ReleaseEvent) -> Announcement {
    Announcement {
        entry: entry.id,
        title: entry.display_title().to_owned(),
        episode: event.episode,
        unit: event.unit,
        episode_title: event.episode_title.clone(),
        episodes_total: entry.episodes,
        audio: event.audio.clone(),
        qualities: event.qualities.clone(),
        stream: event.stream.clone(),
        released_at: event.at,
        picture: entry.picture.clone(),
        links: entry.links.iter().take(2).cloned().collect(),
        next_episode: None,
        tz: String::new(),
        mention_role: None,
    }
}

/// The numbered episode after `event` on `stream`, if the projection has one.
fn next_episode(
    projection: Option<&Projection>,
    event: &ReleaseEvent,
    stream: &str,
) -> Option<NextEpisode> {
    let next = projection?.next_after(stream, event.at)?;
    (next.unit == Unit::Episode && next.number > event.episode).then_some((next.number, next.at))
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
    let projection = Projection::of(entry);
    // The next episode depends only on the chat's stream: computed once per stream.
    let mut next_by_stream: Vec<(&str, Option<NextEpisode>)> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    // A chat subscribed both to the entry and to everything gets one job.
    let mut chats = std::collections::HashSet::new();
    for (sub, settings) in subscribers {
        let follows = event.stream.as_ref().is_none_or(|s| *s == settings.stream);
        // Everything means everything this chat may see.
        let hidden = sub.target == Target::All && entry.is_adult_title() && !settings.adult;
        if !follows
            || hidden
            || !sub.covers(entry)
            || !event.variant.wanted_by(settings)
            || !chats.insert(&sub.chat)
        {
            continue;
        }
        let stream = settings.stream.as_str();
        let next = match next_by_stream.iter().find(|(s, _)| *s == stream) {
            Some((_, next)) => *next,
            None => {
                let next = next_episode(projection.as_ref(), event, stream);
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
            aired: event.stream.clone().map(|stream| (stream, event.at)),
        });
    }
    jobs
}

/// The airings of `entry` on every stream in `(after, until]`, as release
/// events of the original audio, earliest first (see [`Projection`]).
pub fn broadcast_events(
    entry: &Entry,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<ReleaseEvent> {
    let Some(projection) = Projection::of(entry) else {
        return Vec::new();
    };
    projection
        .all_airings_between(after, until)
        .into_iter()
        .map(|airing| ReleaseEvent {
            entry: entry.id,
            episode: airing.number,
            unit: airing.unit,
            variant: Variant::audio(None),
            at: airing.at,
            stream: Some(airing.stream),
            audio: None,
            qualities: Vec::new(),
            episode_title: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::announce::Target;
    use crate::core::caller::Platform;
    use crate::core::catalog::model::{Broadcast, Kind};

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
            unit: Unit::Episode,
            variant: Variant::audio(Some("Tamil")),
            at: DateTime::UNIX_EPOCH,
            stream: None,
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
        assert_ne!(jobs[0].id(), jobs[1].id());
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
        assert_eq!(events[0].variant, Variant::audio(None));
        assert_eq!(events[0].stream.as_deref(), Some("tv"));
        let settings = ChatSettings::default();
        let projection = Projection::of(&entry);
        let next = next_episode(projection.as_ref(), &events[0], &settings.stream);
        assert_eq!(next.map(|n| n.0), Some(3));
        // A chat that follows another stream hears of it from that stream only.
        let other_stream = ChatSettings {
            stream: "crunchyroll".into(),
            ..ChatSettings::default()
        };
        let subscribers = [(sub("x", Target::Entry(1)), other_stream)];
        assert!(jobs_for(&entry, &events[0], &subscribers).is_empty());
    }
}
