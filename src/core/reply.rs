//! Platform-neutral replies. The core answers every command with a [`Reply`];
//! each adapter renders it (plain text for the console, JSON for `--json`,
//! HTML for Telegram, embeds for Discord) and never decides what to say.

use chrono::NaiveDate;
use serde::Serialize;

use super::announce::Announcement;
use super::catalog::model::{EntryId, Link, Release, Unit};
use super::catalog::scores::{Community, Summary};

/// What the core says back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Card(Box<Card>),
    Scores(Box<ScoresView>),
    /// Several titles fit; the user picks one.
    Picker(Picker),
    List(ListView),
    /// A change was made (or a rating recorded).
    Done(Notice),
    Help(HelpView),
    Error(ErrorReply),
    /// A new episode, posted to a subscribed chat.
    Announcement(Box<Announcement>),
    /// The person must open a private chat with the bot first (following
    /// from a group where the platform needs that).
    StartPrivately(StartPrivately),
}

/// What to open privately, and what it does there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartPrivately {
    pub text: String,
    /// The start parameter that runs the action in the private chat
    /// (`follow-<id>`; `/start <payload>` reads it back).
    pub payload: String,
}

/// Everything shown about one entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    pub id: EntryId,
    /// The title to show first (English where known).
    pub title: String,
    /// Other titles worth showing (main, Japanese, Chinese), without repeats.
    pub other_titles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub genres: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub season: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aired_from: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aired_to: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_min: Option<u32>,
    pub audio: Vec<String>,
    pub subtitles: Vec<String>,
    pub qualities: Vec<String>,
    pub studios: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synopsis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    pub links: Vec<Link>,
    pub scores: Summary,
    pub community: Community,
    /// The most recent releases, newest first.
    pub latest_releases: Vec<Release>,
    /// The next episode on the original (`tv`) broadcast, if scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_episode: Option<NextEpisode>,
    /// One line that qualifies what the card says (old schedule data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An upcoming episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextEpisode {
    pub number: u32,
    pub unit: Unit,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// `episode 5 of 13`, `a new episode`, `all 12 episodes`: an airing's words.
pub fn episode_words(unit: Unit, number: u32, total: Option<u32>) -> String {
    match (unit, total) {
        (Unit::Episode, Some(total)) => format!("episode {number} of {total}"),
        (Unit::Episode, None) => format!("episode {number}"),
        (Unit::Unnumbered, _) => "a new episode".to_owned(),
        (Unit::WholeSeason, Some(1)) => "out now".to_owned(),
        (Unit::WholeSeason, Some(total)) => format!("all {total} episodes"),
        (Unit::WholeSeason, None) => "the whole season".to_owned(),
    }
}

/// `/anime scores`: the per-source detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoresView {
    pub id: EntryId,
    pub title: String,
    pub scores: Summary,
    pub community: Community,
}

/// A choice between titles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Picker {
    pub query: String,
    pub choices: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub id: EntryId,
    pub title: String,
    /// Kind and year, e.g. `TV · 2024`.
    pub detail: String,
    /// The command line that picks this choice (for buttons and menus).
    pub command: String,
}

/// A titled list: top scores, audit records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListView {
    pub heading: String,
    /// One line under the heading that qualifies the whole list (old data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub items: Vec<ListItem>,
    /// Shown when `items` is empty.
    pub empty: String,
    /// The command lines of the neighbouring pages, when the list has more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<EntryId>,
    pub text: String,
    pub detail: String,
    /// The time this line is about, for adapters that show relative times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A confirmation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<EntryId>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelpView {
    pub lines: Vec<HelpEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelpEntry {
    pub usage: String,
    pub about: String,
}

/// What kind of failure, so adapters can style it (and tests can branch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input was not understood; the message says how to fix it.
    BadInput,
    NotFound,
    /// The caller may not do this.
    NotAllowed,
    /// The bot could not do it right now (storage failure); nothing changed.
    Unavailable,
}

impl ErrorKind {
    /// A stable lower-case name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NotAllowed => "not_allowed",
            ErrorKind::Unavailable => "unavailable",
        }
    }
}

/// A failure the user is told about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

impl Reply {
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Reply {
        Reply::Error(ErrorReply {
            kind,
            message: message.into(),
        })
    }

    /// The answer to a button that carries no command this bot obeys
    /// (tampered, foreign, or from an older version of the bot).
    pub fn stale_button() -> Reply {
        Reply::error(ErrorKind::BadInput, "This button is no longer valid.")
    }

    /// The answer when a command could not run at all (it failed on our side).
    pub fn apology() -> Reply {
        Reply::error(
            ErrorKind::Unavailable,
            "Something went wrong on our side; please try again.",
        )
    }

    /// Puts `notice` before what the reply says, where the reply has room
    /// for a line of its own; `false` when it has none (nothing changed).
    pub fn add_notice(&mut self, notice: &str) -> bool {
        let before = |text: &str| format!("{notice}\n\n{text}");
        let note = |note: &mut Option<String>| {
            *note = Some(match note.take() {
                Some(old) => before(&old),
                None => notice.to_owned(),
            });
        };
        match self {
            Reply::Done(n) => n.text = before(&n.text),
            Reply::Error(e) => e.message = before(&e.message),
            Reply::List(list) => note(&mut list.note),
            Reply::Card(card) => note(&mut card.note),
            _ => return false,
        }
        true
    }

    pub fn done(text: impl Into<String>, id: Option<EntryId>) -> Reply {
        Reply::Done(Notice {
            text: text.into(),
            id,
        })
    }
}
