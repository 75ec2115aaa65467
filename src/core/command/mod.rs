//! The one command grammar: a chat line (or a Discord interaction, mapped by
//! its adapter) is parsed once into a [`Command`], then executed by the core.
//!
//! ```text
//! /anime <title>                      best match (a picker when unsure)
//! /anime info <title>                 the same
//! /anime scores <title>               per-source scores and summary
//! /anime rate <title> <1-10>          your community rating
//! /anime top [genre] [n]              best summary scores
//! /anime help [topic]
//! /anime admin add|edit|delete|alias|score|episode|audit …   owners only
//! ```
//! A `<title>` may be `#<id>`. Admin arguments after the title are
//! `key=value` pairs; quote values with spaces (`synopsis="…"`).

use chrono::{DateTime, NaiveDate, Utc};

use super::catalog::edit::{self as admin, FieldValue};
use super::catalog::model::{EntryId, Kind, TitleLang};

/// Longest chat line accepted (Telegram's message limit).
pub const MAX_LINE_CHARS: usize = 4096;
pub use super::catalog::edit::MAX_TITLE_CHARS;
/// Most entries `/anime top` lists.
pub const MAX_TOP: usize = 25;
/// Highest episode number accepted.
pub const MAX_EPISODE: u32 = 9999;

/// One parsed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show the card of the best match.
    Info(TitleRef),
    Scores(TitleRef),
    Rate {
        title: TitleRef,
        rating: u8,
    },
    Top {
        genre: Option<String>,
        limit: usize,
    },
    Help {
        topic: Option<String>,
    },
    /// Upcoming episodes in the next `days` days.
    Airing {
        days: u32,
        /// 1-based page of the list.
        page: usize,
    },
    /// Chat admins: announce new episodes of a title (or of everything) here.
    Subscribe {
        target: SubTarget,
        /// A role to mention with each announcement (Discord role id).
        mention_role: Option<String>,
    },
    Unsubscribe(SubTarget),
    Subscriptions,
    /// Chat admins: show or change the chat's announcement settings.
    Settings(SettingsChange),
    Admin(AdminCommand),
}

/// What a chat subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubTarget {
    Title(TitleRef),
    /// Everything, optionally only one kind or genre.
    All {
        kind: Option<Kind>,
        genre: Option<String>,
    },
}

/// `/anime settings …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsChange {
    Show,
    /// An IANA time zone, already validated.
    TimeZone(String),
    DelayMinutes(u32),
    /// Audio languages to announce (lower case); empty means all.
    Audio(Vec<String>),
    /// The stream whose schedule to follow, or `none`.
    Stream(String),
}

impl Command {
    /// A short stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Info(_) => "info",
            Command::Scores(_) => "scores",
            Command::Rate { .. } => "rate",
            Command::Top { .. } => "top",
            Command::Help { .. } => "help",
            Command::Airing { .. } => "airing",
            Command::Subscribe { .. } => "subscribe",
            Command::Unsubscribe(_) => "unsubscribe",
            Command::Subscriptions => "subscriptions",
            Command::Settings(_) => "settings",
            Command::Admin(a) => a.name(),
        }
    }
}

impl Command {
    /// Whether only a chat's admins (or owners) may run it; adapters look up
    /// the caller's chat-admin status only for these.
    pub fn needs_chat_admin(&self) -> bool {
        matches!(self, Command::Subscribe { .. } | Command::Unsubscribe(_))
            || matches!(self, Command::Settings(change) if *change != SettingsChange::Show)
    }

    /// Whether it may come from a button (callback data, a select menu): a
    /// read or a caller's own action on an entry named by id, never an admin
    /// command, so tampered button data can do nothing a user could not type.
    pub fn is_button_safe(&self) -> bool {
        matches!(
            self,
            Command::Info(TitleRef::Id(_))
                | Command::Scores(TitleRef::Id(_))
                | Command::Airing { .. }
                | Command::Rate {
                    title: TitleRef::Id(_),
                    ..
                }
                | Command::Subscribe {
                    target: SubTarget::Title(TitleRef::Id(_)),
                    mention_role: None
                }
                | Command::Unsubscribe(SubTarget::Title(TitleRef::Id(_)))
        )
    }
}

/// Names an entry: exactly by id, or by a title to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TitleRef {
    Id(EntryId),
    Query(String),
}

impl TitleRef {
    /// How to write this reference back into a command line.
    pub fn to_arg(&self) -> String {
        match self {
            TitleRef::Id(id) => format!("#{id}"),
            TitleRef::Query(q) => q.clone(),
        }
    }
}

/// Catalog changes; only owners may run them.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminCommand {
    Add {
        title: String,
        fields: Vec<FieldValue>,
    },
    Edit {
        target: TitleRef,
        fields: Vec<FieldValue>,
    },
    Delete {
        target: TitleRef,
    },
    Alias {
        target: TitleRef,
        add: Vec<(String, TitleLang)>,
        remove: Vec<String>,
    },
    Score {
        target: TitleRef,
        set: Vec<ScoreInput>,
        remove: Vec<String>,
    },
    Episode {
        target: TitleRef,
        episode: EpisodeInput,
    },
    Audit {
        target: Option<TitleRef>,
    },
    /// Queued, delivered and dead-lettered announcements.
    Deliveries {
        target: Option<TitleRef>,
    },
}

impl AdminCommand {
    pub fn name(&self) -> &'static str {
        match self {
            AdminCommand::Add { .. } => "admin add",
            AdminCommand::Edit { .. } => "admin edit",
            AdminCommand::Delete { .. } => "admin delete",
            AdminCommand::Alias { .. } => "admin alias",
            AdminCommand::Score { .. } => "admin score",
            AdminCommand::Episode { .. } => "admin episode",
            AdminCommand::Audit { .. } => "admin audit",
            AdminCommand::Deliveries { .. } => "admin deliveries",
        }
    }
}

/// One source's score as an admin gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreInput {
    pub source: String,
    pub value: f64,
    pub scale_max: f64,
    pub votes: Option<u64>,
    pub as_of: Option<NaiveDate>,
}

/// A released episode as an admin announces it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeInput {
    pub number: u32,
    pub audio: Option<String>,
    pub qualities: Vec<String>,
    pub title: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
}

/// Why a line is not a valid command; the text says what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("That is not an /anime command.")]
    NotACommand,
    #[error("Tell me a title, for example: /anime frieren")]
    Empty,
    #[error("That message is too long ({chars} characters); the limit is {limit}.")]
    TooLong { chars: usize, limit: usize },
    #[error("{message}\nUsage: {usage}")]
    Usage {
        message: String,
        usage: &'static str,
    },
}

fn usage(message: impl Into<String>, usage: &'static str) -> ParseError {
    ParseError::Usage {
        message: message.into(),
        usage,
    }
}

/// One line of the help text: how to call a command and what it does.
pub struct HelpLine {
    pub topic: &'static str,
    pub usage: &'static str,
    pub about: &'static str,
    pub admin: bool,
}

/// The help text, one line per command; parse errors quote the same usage.
pub const HELP: &[HelpLine] = &[
    HelpLine {
        topic: "info",
        usage: "/anime <title>  or  /anime info <title>",
        about: "the card of a title (a title may be #id)",
        admin: false,
    },
    HelpLine {
        topic: "scores",
        usage: "/anime scores <title>",
        about: "scores from every source, their summary and the community score",
        admin: false,
    },
    HelpLine {
        topic: "rate",
        usage: "/anime rate <title> <1-10>",
        about: "rate a title; rating again replaces your rating",
        admin: false,
    },
    HelpLine {
        topic: "top",
        usage: "/anime top [genre] [n]",
        about: "the best summary scores, optionally in one genre",
        admin: false,
    },
    HelpLine {
        topic: "help",
        usage: "/anime help [command]",
        about: "this help",
        admin: false,
    },
    HelpLine {
        topic: "airing",
        usage: "/anime airing [days]",
        about: "episodes airing soon, in this chat's time zone (1 to 14 days, default 2)",
        admin: false,
    },
    HelpLine {
        topic: "subscribe",
        usage: "/anime subscribe <title> | all [kind=tv] [genre=…] [role=<role id>]",
        about: "chat admins: announce new episodes in this chat",
        admin: false,
    },
    HelpLine {
        topic: "unsubscribe",
        usage: "/anime unsubscribe <title> | all",
        about: "chat admins: stop announcing a title here",
        admin: false,
    },
    HelpLine {
        topic: "subscriptions",
        usage: "/anime subscriptions",
        about: "what this chat is subscribed to, and its settings",
        admin: false,
    },
    HelpLine {
        topic: "settings",
        usage: "/anime settings [tz <Area/City> | delay <minutes> | audio <languages>|any | stream <tv|site>|none]",
        about: "chat admins: time zone, announcement delay, audio languages and the stream to follow",
        admin: false,
    },
    HelpLine {
        topic: "add",
        usage: "/anime admin add <title> [field=value …]",
        about: "add an entry",
        admin: true,
    },
    HelpLine {
        topic: "edit",
        usage: "/anime admin edit <title> field=value [field=value …]",
        about: "change fields (an empty value clears one)",
        admin: true,
    },
    HelpLine {
        topic: "delete",
        usage: "/anime admin delete <title>",
        about: "remove an entry and its ratings",
        admin: true,
    },
    HelpLine {
        topic: "alias",
        usage: "/anime admin alias <title> add=<alias> [lang=en|ja|zh-Hans|zh-Hant|romaji|synonym] | remove=<alias>",
        about: "add or remove an alternative title",
        admin: true,
    },
    HelpLine {
        topic: "score",
        usage: "/anime admin score <title> <source>=<value> [votes=N] [scale=MAX] [date=YYYY-MM-DD] | remove=<source>",
        about: "set a source's score (imdb, mal, anilist, kitsu, anidb, bangumi, …)",
        admin: true,
    },
    HelpLine {
        topic: "episode",
        usage: "/anime admin episode <title> ep=<n> [audio=<language>] [qualities=480p/720p/1080p] [title=\"…\"] [at=<RFC 3339 time>]",
        about: "record a released episode",
        admin: true,
    },
    HelpLine {
        topic: "audit",
        usage: "/anime admin audit [title]",
        about: "who changed what, newest first",
        admin: true,
    },
    HelpLine {
        topic: "deliveries",
        usage: "/anime admin deliveries [title]",
        about: "queued, delivered and failed announcements, with the reason",
        admin: true,
    },
];

fn usage_of(topic: &str) -> &'static str {
    HELP.iter()
        .find(|h| h.topic == topic)
        .map_or("/anime help", |h| h.usage)
}

/// A token of a command line; quoted tokens never count as `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    quoted: bool,
}

impl Token {
    /// `(key, value)` when the token is an unquoted `key=value` pair.
    fn pair(&self) -> Option<(String, &str)> {
        if self.quoted {
            return None;
        }
        let (key, value) = self.text.split_once('=')?;
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        valid.then(|| (key.to_ascii_lowercase(), value))
    }
}

fn is_open_quote(c: char) -> Option<char> {
    match c {
        '"' => Some('"'),
        '\u{201C}' => Some('\u{201D}'),
        '「' => Some('」'),
        _ => None,
    }
}

/// Splits on white space; `"…"` (or “…”, 「…」) quotes a whole token or the
/// value of a `key="…"` pair. An unclosed quote runs to the end of the line.
fn tokenize(line: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut text = String::new();
        let mut quoted = false;
        if let Some(close) = is_open_quote(first) {
            chars.next();
            quoted = true;
            for c in chars.by_ref() {
                if c == close {
                    break;
                }
                text.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                text.push(c);
                if c == '='
                    && let Some(close) = chars.peek().and_then(|&q| is_open_quote(q))
                {
                    chars.next();
                    for c in chars.by_ref() {
                        if c == close {
                            break;
                        }
                        text.push(c);
                    }
                    break;
                }
            }
        }
        tokens.push(Token { text, quoted });
    }
    tokens
}

/// Parses a chat line such as `/anime scores frieren`.
///
/// The line must start with `/anime` (`/help` and `/start` show the help).
/// A Telegram-style `/anime@botname` is the adapter's to strip.
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let chars = line.chars().count();
    if chars > MAX_LINE_CHARS {
        return Err(ParseError::TooLong {
            chars,
            limit: MAX_LINE_CHARS,
        });
    }
    let line = super::catalog::text::clean_input(line);
    let (head, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    match head.to_ascii_lowercase().as_str() {
        "/anime" => parse_anime(rest.trim()),
        "/help" | "/start" => Ok(Command::Help { topic: None }),
        _ => Err(ParseError::NotACommand),
    }
}

fn parse_anime(rest: &str) -> Result<Command, ParseError> {
    if rest.is_empty() {
        return Err(ParseError::Empty);
    }
    let (sub, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let args = args.trim();
    match sub.to_ascii_lowercase().as_str() {
        "info" => Ok(Command::Info(title_ref(args, "info")?)),
        "scores" | "score" => Ok(Command::Scores(title_ref(args, "scores")?)),
        "rate" => parse_rate(args),
        "top" => parse_top(args),
        "help" => Ok(Command::Help {
            topic: (!args.is_empty()).then(|| args.to_ascii_lowercase()),
        }),
        "admin" => parse_admin(args).map(Command::Admin),
        "airing" => parse_airing(args),
        "subscribe" => {
            parse_sub_target(args, "subscribe").map(|(target, mention_role)| Command::Subscribe {
                target,
                mention_role,
            })
        }
        "unsubscribe" => {
            parse_sub_target(args, "unsubscribe").map(|(target, _)| Command::Unsubscribe(target))
        }
        "subscriptions" => Ok(Command::Subscriptions),
        "settings" => parse_settings(args).map(Command::Settings),
        _ => Ok(Command::Info(title_ref(rest, "info")?)),
    }
}

/// A title argument: `#id`, or text to look up.
fn title_ref(text: &str, topic: &'static str) -> Result<TitleRef, ParseError> {
    let text = text
        .trim()
        .trim_matches(|c| is_open_quote(c).is_some() || matches!(c, '"' | '\u{201D}' | '」'));
    let text = text.trim();
    if text.is_empty() {
        return Err(usage("Which title?", usage_of(topic)));
    }
    let chars = text.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(ParseError::TooLong {
            chars,
            limit: MAX_TITLE_CHARS,
        });
    }
    if let Some(id) = text.strip_prefix('#')
        && !id.is_empty()
        && id.chars().all(|c| c.is_ascii_digit())
    {
        return id
            .parse()
            .map(TitleRef::Id)
            .map_err(|_| usage(format!("#{id} is not a valid id."), usage_of(topic)));
    }
    Ok(TitleRef::Query(text.to_owned()))
}

fn parse_rate(args: &str) -> Result<Command, ParseError> {
    let (title, rating) = args
        .rsplit_once(' ')
        .ok_or_else(|| usage("Give a title and a rating from 1 to 10.", usage_of("rate")))?;
    let rating = match rating.parse::<i64>() {
        Ok(r @ 1..=10) => r as u8,
        _ => {
            return Err(usage(
                format!("\"{rating}\" is not a rating: use a whole number from 1 to 10."),
                usage_of("rate"),
            ));
        }
    };
    Ok(Command::Rate {
        title: title_ref(title, "rate")?,
        rating,
    })
}

fn parse_top(args: &str) -> Result<Command, ParseError> {
    let mut words: Vec<&str> = args.split_whitespace().collect();
    let mut limit = 10;
    if let Some(last) = words.last()
        && let Ok(n) = last.parse::<i64>()
    {
        if !(1..=MAX_TOP as i64).contains(&n) {
            return Err(usage(
                format!("Ask for 1 to {MAX_TOP} titles."),
                usage_of("top"),
            ));
        }
        limit = n as usize;
        words.pop();
    }
    let genre = words.join(" ");
    if genre.chars().count() > MAX_TITLE_CHARS {
        return Err(ParseError::TooLong {
            chars: genre.chars().count(),
            limit: MAX_TITLE_CHARS,
        });
    }
    Ok(Command::Top {
        genre: (!genre.is_empty()).then_some(genre),
        limit,
    })
}

/// Splits admin arguments into the title part and its `key=value` pairs.
fn title_and_pairs(
    args: &str,
    topic: &'static str,
) -> Result<(String, Vec<(String, String)>), ParseError> {
    let tokens = tokenize(args);
    let split = tokens
        .iter()
        .position(|t| t.pair().is_some())
        .unwrap_or(tokens.len());
    let title = tokens[..split]
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut pairs = Vec::new();
    for token in &tokens[split..] {
        let (key, value) = token.pair().ok_or_else(|| {
            usage(
                format!(
                    "\"{}\" should be a key=value pair (quote values with spaces).",
                    token.text
                ),
                usage_of(topic),
            )
        })?;
        pairs.push((key, value.trim().to_owned()));
    }
    Ok((title, pairs))
}

fn parse_admin(args: &str) -> Result<AdminCommand, ParseError> {
    const ADMIN_USAGE: &str = "/anime admin add|edit|delete|alias|score|episode|audit|deliveries … (see /anime help admin)";
    let (sub, rest) = args.split_once(' ').unwrap_or((args, ""));
    let sub = sub.to_ascii_lowercase();
    let topic: &'static str = match sub.as_str() {
        "add" => "add",
        "edit" => "edit",
        "delete" | "remove" => "delete",
        "alias" => "alias",
        "score" => "score",
        "episode" | "ep" => "episode",
        "audit" => "audit",
        "deliveries" => "deliveries",
        "" => return Err(usage("Which admin command?", ADMIN_USAGE)),
        other => {
            return Err(usage(
                format!("Unknown admin command \"{other}\"."),
                ADMIN_USAGE,
            ));
        }
    };
    let (title, pairs) = title_and_pairs(rest, topic)?;
    let no_pairs = |pairs: &[(String, String)]| match pairs.first() {
        Some((key, _)) => Err(usage(
            format!("\"{key}=\" is not used here."),
            usage_of(topic),
        )),
        None => Ok(()),
    };
    match topic {
        "add" => {
            let title = title_ref(&title, topic)?;
            let TitleRef::Query(title) = title else {
                return Err(usage(
                    "A new entry needs a title, not an id.",
                    usage_of(topic),
                ));
            };
            Ok(AdminCommand::Add {
                title,
                fields: parse_fields(&pairs, topic)?,
            })
        }
        "edit" => {
            let target = title_ref(&title, topic)?;
            if pairs.is_empty() {
                return Err(usage(
                    format!(
                        "What should change? Fields: {}",
                        super::catalog::model::Field::names()
                    ),
                    usage_of(topic),
                ));
            }
            Ok(AdminCommand::Edit {
                target,
                fields: parse_fields(&pairs, topic)?,
            })
        }
        "delete" => {
            no_pairs(&pairs)?;
            Ok(AdminCommand::Delete {
                target: title_ref(&title, topic)?,
            })
        }
        "alias" => parse_alias(title_ref(&title, topic)?, &pairs),
        "score" => parse_score(title_ref(&title, topic)?, &pairs),
        "episode" => parse_episode(title_ref(&title, topic)?, &pairs),
        _ => {
            no_pairs(&pairs)?;
            let target = (!title.is_empty())
                .then(|| title_ref(&title, topic))
                .transpose()?;
            Ok(if topic == "audit" {
                AdminCommand::Audit { target }
            } else {
                AdminCommand::Deliveries { target }
            })
        }
    }
}

/// Most days `/anime airing` looks ahead.
pub const MAX_AIRING_DAYS: u32 = 14;

fn parse_airing(args: &str) -> Result<Command, ParseError> {
    let u = usage_of("airing");
    let (mut days, mut page) = (2, 1);
    for word in args.split_whitespace() {
        if let Some(p) = word.strip_prefix("page=") {
            page = p
                .parse::<usize>()
                .ok()
                .filter(|p| (1..=1000).contains(p))
                .ok_or_else(|| usage(format!("\"{p}\" is not a page number."), u))?;
        } else {
            days = match word.parse::<u32>() {
                Ok(d @ 1..=MAX_AIRING_DAYS) => d,
                _ => {
                    return Err(usage(
                        format!("\"{word}\" is not a number of days from 1 to {MAX_AIRING_DAYS}."),
                        u,
                    ));
                }
            };
        }
    }
    Ok(Command::Airing { days, page })
}

/// `<title>` or `all [kind=…] [genre=…]`, and for subscribe an optional
/// `role=<id>` to mention with each announcement (Discord).
fn parse_sub_target(
    args: &str,
    topic: &'static str,
) -> Result<(SubTarget, Option<String>), ParseError> {
    let u = usage_of(topic);
    let (title, pairs) = title_and_pairs(args, topic)?;
    let all = title.eq_ignore_ascii_case("all");
    let (mut kind, mut genre, mut role) = (None, None, None);
    for (key, value) in &pairs {
        match key.as_str() {
            "kind" | "type" if all => {
                kind = Some(value.parse::<Kind>().map_err(|_| {
                    usage(
                        format!("\"{value}\" is not a kind (tv, movie, ova, ona, web, special)."),
                        u,
                    )
                })?)
            }
            "genre" if all => genre = Some(admin::checked_word(value).map_err(|m| usage(m, u))?),
            "role" if topic == "subscribe" => {
                let id = value.trim_start_matches("<@&").trim_end_matches('>');
                if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(usage(format!("role=\"{value}\" is not a role id."), u));
                }
                role = Some(id.to_owned());
            }
            other => return Err(usage(format!("\"{other}=\" is not used here."), u)),
        }
    }
    if topic == "unsubscribe" && all && (kind.is_some() || genre.is_some()) {
        return Err(usage("Unsubscribe from all takes no filters.", u));
    }
    let target = if all {
        SubTarget::All { kind, genre }
    } else {
        SubTarget::Title(title_ref(&title, topic)?)
    };
    Ok((target, role))
}

fn parse_settings(args: &str) -> Result<SettingsChange, ParseError> {
    let u = usage_of("settings");
    let (what, value) = args.split_once(' ').unwrap_or((args, ""));
    let value = value.trim();
    let need = |v: &str| {
        if v.is_empty() {
            Err(usage(format!("Give a value for {what}."), u))
        } else {
            Ok(())
        }
    };
    match what.to_ascii_lowercase().as_str() {
        "" => Ok(SettingsChange::Show),
        "tz" | "timezone" | "zone" => {
            need(value)?;
            let tz =
                super::announce::schedule::time_zone(value).map_err(|e| usage(e.to_string(), u))?;
            Ok(SettingsChange::TimeZone(tz.name().to_owned()))
        }
        "delay" => match value.trim_end_matches("min").trim().parse::<u32>() {
            Ok(m) if m <= super::announce::MAX_DELAY_MIN => Ok(SettingsChange::DelayMinutes(m)),
            _ => Err(usage(
                format!(
                    "\"{value}\" is not a delay: use whole minutes from 0 to {} (one week).",
                    super::announce::MAX_DELAY_MIN
                ),
                u,
            )),
        },
        "audio" => {
            need(value)?;
            if value.eq_ignore_ascii_case("any") || value.eq_ignore_ascii_case("all") {
                return Ok(SettingsChange::Audio(Vec::new()));
            }
            let langs = admin::split_list(value);
            if langs.len() > 16 {
                return Err(usage("At most 16 audio languages.", u));
            }
            langs
                .iter()
                .map(|l| admin::checked_word(l).map(|w| w.to_lowercase()))
                .collect::<Result<Vec<_>, _>>()
                .map(SettingsChange::Audio)
                .map_err(|m| usage(m, u))
        }
        "stream" => {
            let stream = value.to_ascii_lowercase();
            let valid = !stream.is_empty()
                && stream.len() <= 32
                && stream
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
            if !valid {
                return Err(usage(
                    "Give a stream name such as tv, crunchyroll or bilibili (or none).",
                    u,
                ));
            }
            Ok(SettingsChange::Stream(stream))
        }
        other => Err(usage(format!("Unknown setting \"{other}\"."), u)),
    }
}

/// Typed field values from `key=value` pairs.
fn parse_fields(
    pairs: &[(String, String)],
    topic: &'static str,
) -> Result<Vec<FieldValue>, ParseError> {
    pairs
        .iter()
        .map(|(k, v)| admin::parse_field(k, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| usage(m, usage_of(topic)))
}

fn parse_alias(target: TitleRef, pairs: &[(String, String)]) -> Result<AdminCommand, ParseError> {
    let u = usage_of("alias");
    let mut add = Vec::new();
    let mut remove = Vec::new();
    let mut lang = TitleLang::Synonym;
    for (key, value) in pairs {
        match key.as_str() {
            "add" => add.push(admin::checked_title(value).map_err(|m| usage(m, u))?),
            "remove" => remove.push(value.clone()),
            "lang" => {
                lang = value
                    .parse()
                    .ok()
                    .filter(|l| *l != TitleLang::Main)
                    .ok_or_else(|| usage(format!("Unknown language \"{value}\"."), u))?;
            }
            other => return Err(usage(format!("\"{other}=\" is not used here."), u)),
        }
    }
    if add.is_empty() && remove.is_empty() {
        return Err(usage("Give add=<alias> or remove=<alias>.", u));
    }
    Ok(AdminCommand::Alias {
        target,
        add: add.into_iter().map(|a| (a, lang)).collect(),
        remove,
    })
}

fn parse_score(target: TitleRef, pairs: &[(String, String)]) -> Result<AdminCommand, ParseError> {
    let u = usage_of("score");
    let mut set: Vec<ScoreInput> = Vec::new();
    let mut remove = Vec::new();
    let (mut votes, mut scale, mut as_of) = (None, None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "remove" => remove.push(value.to_ascii_lowercase()),
            "votes" => {
                votes =
                    Some(value.parse::<u64>().map_err(|_| {
                        usage(format!("votes=\"{value}\" is not a whole number."), u)
                    })?)
            }
            "scale" => {
                let max = value
                    .parse::<f64>()
                    .ok()
                    .filter(|m| m.is_finite() && *m > 0.0 && *m <= 1000.0);
                scale = Some(max.ok_or_else(|| {
                    usage(
                        format!("scale=\"{value}\" must be a number from 1 to 1000."),
                        u,
                    )
                })?);
            }
            "date" => {
                as_of =
                    Some(NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
                        usage(format!("date=\"{value}\" is not a YYYY-MM-DD date."), u)
                    })?)
            }
            source => {
                let value: f64 = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| usage(format!("{source}=\"{value}\" is not a score."), u))?;
                let known = super::catalog::scores::source(source);
                let key = known.map_or_else(|| source.to_owned(), |s| s.key.to_owned());
                set.push(ScoreInput {
                    source: key,
                    value,
                    scale_max: known.map_or(10.0, |s| s.scale_max),
                    votes: None,
                    as_of: None,
                });
            }
        }
    }
    if (votes.is_some() || scale.is_some() || as_of.is_some()) && set.len() != 1 {
        return Err(usage(
            "votes=, scale= and date= go with exactly one source's score.",
            u,
        ));
    }
    for s in &mut set {
        s.votes = votes;
        s.as_of = as_of;
        if let Some(max) = scale {
            s.scale_max = max;
        }
        if s.value > s.scale_max {
            return Err(usage(
                format!(
                    "{} = {} is above its scale's top ({}); give scale= if it differs.",
                    s.source, s.value, s.scale_max
                ),
                u,
            ));
        }
    }
    if set.is_empty() && remove.is_empty() {
        return Err(usage(
            "Give at least one <source>=<value>, or remove=<source>.",
            u,
        ));
    }
    Ok(AdminCommand::Score {
        target,
        set,
        remove,
    })
}

fn parse_episode(target: TitleRef, pairs: &[(String, String)]) -> Result<AdminCommand, ParseError> {
    let u = usage_of("episode");
    let mut number = None;
    let mut episode = EpisodeInput {
        number: 0,
        audio: None,
        qualities: Vec::new(),
        title: None,
        released_at: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "ep" | "episode" | "number" => {
                number = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_EPISODE).contains(n))
                        .ok_or_else(|| usage(format!("Episode \"{value}\" must be a number from 1 to {MAX_EPISODE}."), u))?,
                )
            }
            "audio" | "dub" => episode.audio = Some(admin::checked_word(value).map_err(|m| usage(m, u))?),
            "qualities" | "quality" => episode.qualities = admin::split_list(value),
            "title" => episode.title = Some(admin::checked_title(value).map_err(|m| usage(m, u))?),
            "at" => {
                episode.released_at = Some(
                    DateTime::parse_from_rfc3339(value)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| usage(format!("at=\"{value}\" is not an RFC 3339 time such as 2024-04-03T16:25:00Z."), u))?,
                )
            }
            other => return Err(usage(format!("\"{other}=\" is not used here."), u)),
        }
    }
    episode.number = number.ok_or_else(|| usage("Which episode? Give ep=<number>.", u))?;
    Ok(AdminCommand::Episode { target, episode })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(
            parse("/anime metallic rouge"),
            Ok(Command::Info(TitleRef::Query("metallic rouge".into())))
        );
        assert_eq!(
            parse("/anime info #12"),
            Ok(Command::Info(TitleRef::Id(12)))
        );
        assert_eq!(
            parse("/ANIME   Scores   frieren "),
            Ok(Command::Scores(TitleRef::Query("frieren".into())))
        );
        assert_eq!(parse("/help"), Ok(Command::Help { topic: None }));
        assert_eq!(parse("hello"), Err(ParseError::NotACommand));
        assert_eq!(parse("/anime"), Err(ParseError::Empty));
        assert_eq!(parse("/anime \u{200B}\u{202E} "), Err(ParseError::Empty));
    }

    #[test]
    fn ratings_must_be_one_to_ten() {
        assert_eq!(
            parse("/anime rate metallic rouge 8"),
            Ok(Command::Rate {
                title: TitleRef::Query("metallic rouge".into()),
                rating: 8
            })
        );
        for bad in ["0", "11", "-1", "NaN", "abc", "7.5", "99999999999999999999"] {
            let err = parse(&format!("/anime rate metallic rouge {bad}")).unwrap_err();
            assert!(err.to_string().contains("1 to 10"), "{bad}: {err}");
        }
        assert!(parse("/anime rate 8").is_err());
    }

    #[test]
    fn top_takes_optional_genre_and_count() {
        assert_eq!(
            parse("/anime top"),
            Ok(Command::Top {
                genre: None,
                limit: 10
            })
        );
        assert_eq!(
            parse("/anime top sci-fi 5"),
            Ok(Command::Top {
                genre: Some("sci-fi".into()),
                limit: 5
            })
        );
        assert!(parse("/anime top 0").is_err());
        assert!(parse("/anime top 26").is_err());
    }

    #[test]
    fn admin_pairs_and_quotes() {
        let cmd = parse(
            r#"/anime admin edit metallic rouge episodes=13 synopsis="A long story" audio=Tamil"#,
        )
        .unwrap();
        let Command::Admin(AdminCommand::Edit { target, fields }) = cmd else {
            panic!("not an edit")
        };
        assert_eq!(target, TitleRef::Query("metallic rouge".into()));
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[1], FieldValue::Synopsis(Some("A long story".into())));
        let Command::Admin(AdminCommand::Add { title, .. }) =
            parse("/anime admin add \"A = B\" kind=tv").unwrap()
        else {
            panic!("not an add")
        };
        assert_eq!(title, "A = B");
    }

    #[test]
    fn admin_errors_name_the_problem() {
        let err = parse("/anime admin edit frieren colour=red")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour") && err.contains("episodes"), "{err}");
        assert!(
            parse("/anime admin edit frieren")
                .unwrap_err()
                .to_string()
                .contains("What should change")
        );
        assert!(
            parse("/anime admin frobnicate x")
                .unwrap_err()
                .to_string()
                .contains("frobnicate")
        );
        assert!(parse("/anime admin episode frieren ep=0").is_err());
        assert!(parse("/anime admin episode frieren ep=100000").is_err());
        assert!(parse("/anime admin score frieren imdb=11").is_err());
        assert!(parse("/anime admin score frieren imdb=NaN").is_err());
    }

    #[test]
    fn episode_and_score_commands() {
        let Command::Admin(AdminCommand::Episode { episode, .. }) = parse(
            "/anime admin episode metallic rouge ep=13 audio=Tamil qualities=480p/720p/1080p",
        )
        .unwrap() else {
            panic!("not an episode")
        };
        assert_eq!(episode.number, 13);
        assert_eq!(episode.audio.as_deref(), Some("Tamil"));
        assert_eq!(episode.qualities, ["480p", "720p", "1080p"]);
        let Command::Admin(AdminCommand::Score { set, .. }) =
            parse("/anime admin score #1 imdb=5.9 MyAnimeList=6.2").unwrap()
        else {
            panic!("not a score")
        };
        assert_eq!(
            set.iter().map(|s| s.source.as_str()).collect::<Vec<_>>(),
            ["imdb", "mal"]
        );
    }

    #[test]
    fn subscriptions_settings_and_airing() {
        assert_eq!(
            parse("/anime subscribe metallic rouge"),
            Ok(Command::Subscribe {
                target: SubTarget::Title(TitleRef::Query("metallic rouge".into())),
                mention_role: None
            })
        );
        assert_eq!(
            parse("/anime subscribe all kind=tv genre=Mecha"),
            Ok(Command::Subscribe {
                target: SubTarget::All {
                    kind: Some(Kind::Tv),
                    genre: Some("Mecha".into())
                },
                mention_role: None
            })
        );
        assert_eq!(
            parse("/anime subscribe #1 role=<@&123456>"),
            Ok(Command::Subscribe {
                target: SubTarget::Title(TitleRef::Id(1)),
                mention_role: Some("123456".into())
            })
        );
        assert!(parse("/anime subscribe #1 role=@everyone").is_err());
        assert!(parse("/anime unsubscribe #1 role=1").is_err());
        assert_eq!(
            parse("/anime unsubscribe ALL"),
            Ok(Command::Unsubscribe(SubTarget::All {
                kind: None,
                genre: None
            }))
        );
        assert!(parse("/anime subscribe").is_err());
        assert!(parse("/anime subscribe all colour=red").is_err());
        assert_eq!(
            parse("/anime settings"),
            Ok(Command::Settings(SettingsChange::Show))
        );
        assert_eq!(
            parse("/anime settings tz asia/kolkata"),
            Ok(Command::Settings(SettingsChange::TimeZone(
                "Asia/Kolkata".into()
            )))
        );
        assert_eq!(
            parse("/anime settings delay 30"),
            Ok(Command::Settings(SettingsChange::DelayMinutes(30)))
        );
        assert_eq!(
            parse("/anime settings audio Tamil, Japanese"),
            Ok(Command::Settings(SettingsChange::Audio(vec![
                "tamil".into(),
                "japanese".into()
            ])))
        );
        assert_eq!(
            parse("/anime settings audio any"),
            Ok(Command::Settings(SettingsChange::Audio(Vec::new())))
        );
        for bad in [
            "/anime settings tz Mars/Base",
            "/anime settings tz",
            "/anime settings delay -5",
            "/anime settings delay 99999",
            "/anime settings delay soon",
            "/anime settings stream <b>",
            "/anime settings colour red",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("/anime airing"),
            Ok(Command::Airing { days: 2, page: 1 })
        );
        assert_eq!(
            parse("/anime airing 7"),
            Ok(Command::Airing { days: 7, page: 1 })
        );
        assert_eq!(
            parse("/anime airing 7 page=3"),
            Ok(Command::Airing { days: 7, page: 3 })
        );
        assert!(parse("/anime airing 7 page=0").is_err());
        assert!(parse("/anime airing 0").is_err());
        assert!(parse("/anime airing 100").is_err());
    }

    #[test]
    fn huge_input_is_refused_not_parsed() {
        let long = format!("/anime {}", "a".repeat(10_000));
        assert!(matches!(parse(&long), Err(ParseError::TooLong { .. })));
        let title = format!("/anime {}", "a".repeat(300));
        assert!(matches!(
            parse(&title),
            Err(ParseError::TooLong { limit: 200, .. })
        ));
    }
}
