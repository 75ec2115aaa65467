//! Posting limits: the sliding windows ([`Limiter`]) a dispatcher keeps to
//! stay within a platform's [`RateLimits`], globally, per chat and per group.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::core::caller::ChatRef;
pub use crate::core::platform::{Rate, RateLimits};

/// How a dispatcher behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchSettings {
    pub limits: RateLimits,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub send_timeout: Duration,
    pub max_in_flight: usize,
}

impl DispatchSettings {
    /// Defaults with the given limits.
    pub fn with_limits(limits: RateLimits) -> DispatchSettings {
        DispatchSettings {
            limits,
            max_attempts: 8,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(1800),
            send_timeout: Duration::from_secs(30),
            max_in_flight: 16,
        }
    }
}

/// A sliding window: at most `count` sends in any span of `per`. Unlike a
/// token bucket, it never lets a burst exceed the limit over any window.
#[derive(Debug, Clone, Default)]
struct Window {
    sent: std::collections::VecDeque<DateTime<Utc>>,
    /// No sends before this (a 429's `retry_after`).
    paused_until: Option<DateTime<Utc>>,
}

impl Window {
    fn forget_old(&mut self, rate: Rate, now: DateTime<Utc>) {
        let span = chrono::Duration::from_std(rate.per).unwrap_or_default();
        while self.sent.front().is_some_and(|&t| now - t >= span) {
            self.sent.pop_front();
        }
    }

    fn ready(&mut self, rate: Rate, now: DateTime<Utc>) -> bool {
        if self.paused_until.is_some_and(|until| now < until) {
            return false;
        }
        self.forget_old(rate, now);
        self.sent.len() < rate.count as usize
    }

    /// When the window next has room.
    fn next_room(&self, rate: Rate) -> Option<DateTime<Utc>> {
        let span = chrono::Duration::from_std(rate.per).unwrap_or_default();
        let room = (self.sent.len() >= rate.count as usize)
            .then(|| self.sent.front().map(|&t| t + span))
            .flatten();
        match (room, self.paused_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn idle(&mut self, rate: Rate, now: DateTime<Utc>) -> bool {
        self.forget_old(rate, now);
        self.sent.is_empty() && self.paused_until.is_none_or(|p| p <= now)
    }
}

/// A fast hasher (the multiply-rotate scheme of rustc's FxHash) for the
/// dispatcher's per-job maps. Their keys are chat ids and job keys the
/// platforms assign, not text a user chooses, so the flooding resistance
/// of the standard hasher buys nothing here.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map or set built with [`FastHasher`].
pub type Fast = BuildHasherDefault<FastHasher>;

/// The windows of one platform: global, per chat and per group.
pub struct Limiter {
    limits: RateLimits,
    global: Window,
    chats: HashMap<ChatRef, Window, Fast>,
    groups: HashMap<ChatRef, Window, Fast>,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            global: Window::default(),
            chats: HashMap::default(),
            groups: HashMap::default(),
        }
    }

    /// Records a send to `chat` if every window that applies has room.
    pub fn try_acquire(&mut self, chat: &ChatRef, is_group: bool, now: DateTime<Utc>) -> bool {
        let limits = self.limits;
        if !self.global.ready(limits.global, now) {
            return false;
        }
        // A chat seen for the first time has room; it gets its windows
        // only when it is sent to.
        if self
            .chats
            .get_mut(chat)
            .is_some_and(|w| !w.ready(limits.per_chat, now))
        {
            return false;
        }
        if is_group
            && self
                .groups
                .get_mut(chat)
                .is_some_and(|w| !w.ready(limits.per_group, now))
        {
            return false;
        }
        self.count_send(chat, is_group, now);
        true
    }

    /// How far back a send still counts against some window.
    pub fn memory(&self) -> Duration {
        let RateLimits {
            global,
            per_chat,
            per_group,
        } = self.limits;
        global.per.max(per_chat.per).max(per_group.per)
    }

    /// Counts a send in every window it falls in, without checking them:
    /// for [`Limiter::try_acquire`], and for a send made before this limiter
    /// existed (a post recorded before a restart), so a bot that restarts
    /// does not start with empty windows. Sends are counted oldest first.
    pub fn count_send(&mut self, chat: &ChatRef, is_group: bool, at: DateTime<Utc>) {
        if is_group {
            self.groups
                .entry(chat.clone())
                .or_default()
                .sent
                .push_back(at);
        }
        self.chats
            .entry(chat.clone())
            .or_default()
            .sent
            .push_back(at);
        self.global.sent.push_back(at);
    }

    pub fn global_ready(&mut self, now: DateTime<Utc>) -> bool {
        self.global.ready(self.limits.global, now)
    }

    pub fn pause(&mut self, chat: Option<&ChatRef>, until: DateTime<Utc>) {
        let window = match chat {
            Some(chat) => self.chats.entry(chat.clone()).or_default(),
            None => &mut self.global,
        };
        window.paused_until = Some(window.paused_until.map_or(until, |p| p.max(until)));
    }

    /// When the global window next has room, if it is full now.
    pub fn global_next(&self) -> Option<DateTime<Utc>> {
        self.global.next_room(self.limits.global)
    }

    /// Forgets idle chats so the maps do not grow without bound.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let limits = self.limits;
        self.chats.retain(|_, w| !w.idle(limits.per_chat, now));
        self.groups.retain(|_, w| !w.idle(limits.per_group, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::caller::Platform;

    #[test]
    fn windows_allow_their_rate() {
        let t0 = DateTime::UNIX_EPOCH;
        let mut limiter = Limiter::new(RateLimits::TELEGRAM);
        let chat = ChatRef {
            platform: Platform::Telegram,
            chat_id: "1".into(),
        };
        assert!(limiter.try_acquire(&chat, false, t0));
        assert!(
            !limiter.try_acquire(&chat, false, t0),
            "one a second per chat"
        );
        assert!(limiter.try_acquire(&chat, false, t0 + chrono::Duration::seconds(1)));
        // 30 a second overall.
        let sent = (0..100)
            .filter(|i| {
                limiter.try_acquire(
                    &ChatRef {
                        platform: chat.platform,
                        chat_id: format!("c{i}"),
                    },
                    false,
                    t0 + chrono::Duration::seconds(1),
                )
            })
            .count();
        assert_eq!(sent, 29);
        limiter.pause(None, t0 + chrono::Duration::seconds(10));
        assert!(!limiter.try_acquire(&chat, false, t0 + chrono::Duration::seconds(5)));
        assert!(limiter.try_acquire(&chat, false, t0 + chrono::Duration::seconds(10)));
    }

    #[test]
    fn groups_get_twenty_in_any_minute() {
        let t0 = DateTime::UNIX_EPOCH;
        let mut limiter = Limiter::new(RateLimits::TELEGRAM);
        let group = ChatRef {
            platform: Platform::Telegram,
            chat_id: "-100".into(),
        };
        let sent: Vec<i64> = (0..120)
            .filter(|s| limiter.try_acquire(&group, true, t0 + chrono::Duration::seconds(*s)))
            .collect();
        assert_eq!(sent.len(), 40);
        for (i, at) in sent.iter().enumerate() {
            let in_minute = sent[i..].iter().take_while(|&&t| t < at + 60).count();
            assert!(
                in_minute <= 20,
                "{in_minute} sends in the minute from {at}s"
            );
        }
    }
}
