//! The chat platforms as data: one [`PlatformInfo`] per [`Platform`] — its
//! name, its code in store keys, its published posting limits and the
//! secrets its adapter needs. A new platform is a variant, an entry in
//! [`PLATFORMS`] and an adapter module.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where a command came from and where announcements go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// The local console or command line.
    Local,
    Telegram,
    Discord,
}

/// What Rouge knows about a platform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlatformInfo {
    pub platform: Platform,
    /// Lower case, as in config keys, owner ids (`telegram:12345`) and logs.
    pub name: &'static str,
    /// Its byte in store keys; never reused for another platform.
    pub code: u8,
    /// The platform's published posting limits, the default of
    /// `announce.<name>` in the config.
    pub limits: RateLimits,
    /// The secrets its adapter reads (from the secrets file, or the
    /// environment in upper case).
    pub secrets: &'static [&'static str],
    /// Where a person's private alerts go.
    pub personal: Personal,
}

/// Where a platform lets the bot write to one person privately: the chat
/// that holds a person's follows and own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personal {
    /// The chat the person writes in (the local console).
    TheChat,
    /// The private chat whose id is the person's user id, which the person
    /// must open first: from a group, following asks them to start it.
    UserChat,
    /// A direct-message channel the adapter opens when it first posts:
    /// `prefix` and the user id name it.
    Opened { prefix: &'static str },
}

/// Every platform.
pub static PLATFORMS: [PlatformInfo; 3] = [
    PlatformInfo {
        platform: Platform::Local,
        name: "local",
        code: 0,
        limits: RateLimits::LOCAL,
        secrets: &[],
        personal: Personal::TheChat,
    },
    PlatformInfo {
        platform: Platform::Telegram,
        name: "telegram",
        code: 1,
        limits: RateLimits::TELEGRAM,
        secrets: &["telegram_bot_token", "telegram_webhook_secret"],
        personal: Personal::UserChat,
    },
    PlatformInfo {
        platform: Platform::Discord,
        name: "discord",
        code: 2,
        limits: RateLimits::DISCORD,
        secrets: &["discord_token", "discord_public_key"],
        personal: Personal::Opened { prefix: "dm:" },
    },
];

impl Platform {
    /// Every platform, in [`PLATFORMS`] order.
    pub const ALL: [Platform; 3] = [Platform::Local, Platform::Telegram, Platform::Discord];

    /// This platform's entry in [`PLATFORMS`].
    pub fn info(self) -> &'static PlatformInfo {
        PLATFORMS
            .iter()
            .find(|i| i.platform == self)
            .unwrap_or(&PLATFORMS[0])
    }

    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    /// The platform named `name` (the inverse of [`Platform::as_str`]).
    pub fn from_name(name: &str) -> Option<Platform> {
        PLATFORMS
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.platform)
    }

    /// The platform whose store code is `code`.
    pub fn from_code(code: u8) -> Option<Platform> {
        PLATFORMS
            .iter()
            .find(|i| i.code == code)
            .map(|i| i.platform)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `count` sends per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }
}

/// A platform's posting limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// All sends of the bot.
    pub global: Rate,
    /// Sends to any one chat.
    pub per_chat: Rate,
    /// Sends to any one group or channel, on top of `per_chat`.
    pub per_group: Rate,
}

impl RateLimits {
    /// Telegram's published limits: 30 messages a second overall, one a
    /// second per chat, 20 a minute per group or channel.
    pub const TELEGRAM: RateLimits = RateLimits {
        global: Rate::new(30, Duration::from_secs(1)),
        per_chat: Rate::new(1, Duration::from_secs(1)),
        per_group: Rate::new(20, Duration::from_secs(60)),
    };
    /// Discord's: 50 requests a second overall, 5 per 5 seconds per channel.
    pub const DISCORD: RateLimits = RateLimits {
        global: Rate::new(50, Duration::from_secs(1)),
        per_chat: Rate::new(5, Duration::from_secs(5)),
        per_group: Rate::new(5, Duration::from_secs(5)),
    };
    /// The local console: effectively unlimited.
    pub const LOCAL: RateLimits = RateLimits {
        global: Rate::new(1000, Duration::from_secs(1)),
        per_chat: Rate::new(1000, Duration::from_secs(1)),
        per_group: Rate::new(1000, Duration::from_secs(1)),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_has_one_entry_with_its_own_name_and_code() {
        for (i, platform) in Platform::ALL.into_iter().enumerate() {
            assert_eq!(PLATFORMS[i].platform, platform);
            assert_eq!(Platform::from_name(platform.as_str()), Some(platform));
            assert_eq!(Platform::from_code(platform.info().code), Some(platform));
        }
        let codes: std::collections::HashSet<u8> = PLATFORMS.iter().map(|p| p.code).collect();
        assert_eq!(codes.len(), PLATFORMS.len());
    }
}
