//! Shared values for the store's unit tests.

use chrono::{DateTime, TimeZone, Utc};

use crate::core::announce::{Announcement, Subscription, Target};
use crate::core::caller::{ChatRef, Platform};

/// A Telegram chat.
pub fn telegram(chat_id: &str) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        chat_id: chat_id.into(),
    }
}

/// An active subscription made by "test" at the epoch.
pub fn subscription(chat: ChatRef, target: Target) -> Subscription {
    Subscription {
        chat,
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

/// The canonical release: Metallic Rouge episode 13, Tamil audio,
/// 480p/720p/1080p, as a chat in `tz` is told it.
pub fn tamil_13(tz: &str) -> Announcement {
    Announcement {
        entry: 1,
        title: "Metallic Rouge".into(),
        episode: 13,
        episode_title: None,
        episodes_total: Some(13),
        audio: Some("Tamil".into()),
        qualities: vec!["480p".into(), "720p".into(), "1080p".into()],
        stream: None,
        unit: Default::default(),
        released_at: Utc
            .with_ymd_and_hms(2024, 4, 3, 16, 25, 0)
            .single()
            .expect("a valid time"),
        picture: None,
        links: Vec::new(),
        next_episode: None,
        tz: tz.into(),
        mention_role: None,
    }
}
