//! Who is asking: every adapter turns its platform's user into a [`Caller`].

use std::fmt;

use serde::{Deserialize, Serialize};

pub use super::platform::{Personal, Platform};

/// The user behind a command, and the chat it was sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub platform: Platform,
    pub user_id: String,
    pub chat_id: String,
    /// Whether the user administers this chat (group admin, Manage Server).
    pub is_chat_admin: bool,
    /// Whether the chat is a group or channel rather than a private chat
    /// (platforms limit posting to groups more strictly).
    pub is_group: bool,
}

/// The local user that shell access acts as: an owner.
pub const LOCAL_OWNER: &str = "owner";

impl Caller {
    /// The local shell's owner (`rouge console`, `rouge ask`).
    pub fn local_owner() -> Caller {
        Caller::local(LOCAL_OWNER)
    }

    /// A local caller named `name` (`rouge ask --as-user NAME`).
    pub fn local(name: &str) -> Caller {
        Caller {
            platform: Platform::Local,
            user_id: name.to_owned(),
            chat_id: "console".to_owned(),
            // The console chat is the owner's; other local users are members.
            is_chat_admin: name == LOCAL_OWNER,
            is_group: false,
        }
    }

    /// `platform:user_id`, as owners are listed in the config.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform, self.user_id)
    }

    /// The chat that holds this person's follows and own settings, where
    /// their private alerts go.
    pub fn personal_chat(&self) -> ChatRef {
        let chat_id = match self.platform.info().personal {
            Personal::TheChat => self.chat_id.clone(),
            Personal::UserChat => self.user_id.clone(),
            Personal::Opened { prefix } => format!("{prefix}{}", self.user_id),
        };
        ChatRef {
            platform: self.platform,
            chat_id,
        }
    }

    /// Whether the bot can write to this person privately now: not when
    /// the platform needs the person to open the private chat first and
    /// they wrote from a group.
    pub fn reachable_privately(&self) -> bool {
        !(self.platform.info().personal == Personal::UserChat && self.is_group)
    }

    /// The chat this caller wrote in.
    pub fn chat(&self) -> ChatRef {
        ChatRef {
            platform: self.platform,
            chat_id: self.chat_id.clone(),
        }
    }
}

/// A chat on a platform: where subscriptions live and announcements go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChatRef {
    pub platform: Platform,
    pub chat_id: String,
}

impl ChatRef {
    /// The local console's chat.
    pub fn console() -> ChatRef {
        Caller::local_owner().chat()
    }
}

impl fmt::Display for ChatRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.chat_id)
    }
}
