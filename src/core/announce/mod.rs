//! New-episode announcements: what chats subscribe to and how they want to
//! be told ([`Subscription`], [`ChatSettings`], [`Variant`]), the releases
//! and jobs a fan-out makes ([`release`]), broadcast schedules
//! ([`schedule`]), how sends end ([`outcome`], the [`outcome::Notifier`]
//! port every platform implements) and the posting limits the dispatcher
//! keeps ([`limits`]).
//!
//! A release event (an admin's `episode`, a broadcast rule reaching its air
//! time, or an import) is recorded together with one outbox job per matching
//! chat, in one store transaction. A job's identity is (entry, episode,
//! variant, chat), so the same release can never be queued or delivered
//! twice.

pub mod limits;
pub mod outcome;
pub mod projection;
pub mod release;
pub mod schedule;

pub use outcome::{DeadKind, DeadLetter, Delivered, Notifier, SendOutcome};
pub use release::{Announcement, Job, JobId, NextEpisode, ReleaseEvent};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::caller::ChatRef;
use super::catalog::model::{Entry, EntryId, Kind};
use super::catalog::text;

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
    /// Whether adult titles may appear (look-ups, lists, `all`
    /// announcements); off unless a chat admin turns it on.
    #[serde(default)]
    pub adult: bool,
}

impl Default for ChatSettings {
    fn default() -> Self {
        ChatSettings {
            tz: "UTC".into(),
            delay_min: 0,
            audio: Vec::new(),
            stream: "tv".into(),
            is_group: false,
            adult: false,
        }
    }
}

/// Which variant of an episode a release is: its audio language
/// (`original` when none is given). One release per (entry, episode,
/// variant); a broadcast is the original audio, whichever stream it airs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant(String);

impl Variant {
    /// The variant for a release in `audio` (`None`: the original audio).
    pub fn audio(audio: Option<&str>) -> Variant {
        Variant(audio.map_or_else(|| "original".to_owned(), str::to_lowercase))
    }

    /// `audio:tamil`: the variant part of a job's identity.
    pub fn key(&self) -> String {
        format!("audio:{}", self.0)
    }

    /// Whether a chat with `settings` wants this variant.
    pub fn wanted_by(&self, settings: &ChatSettings) -> bool {
        settings.audio.is_empty() || settings.audio.contains(&self.0)
    }
}
