//! Who is asking: every adapter turns its platform's user into a [`Caller`].

use std::fmt;

use serde::Serialize;

/// Where a command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// The local console or command line.
    Local,
    Telegram,
    Discord,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Local => "local",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user behind a command, and the chat it was sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub platform: Platform,
    pub user_id: String,
    pub chat_id: String,
    /// Whether the user administers this chat (group admin, Manage Server).
    pub is_chat_admin: bool,
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
            is_chat_admin: true,
        }
    }

    /// `platform:user_id`, as owners are listed in the config.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform, self.user_id)
    }
}
