//! The one command grammar. A chat line (console, `rouge ask`, Telegram) or
//! a platform's structured command (Discord) becomes a [`Command`] once;
//! the core executes it. Every command is one entry of the table in
//! [`spec`] — name, options, limits, access, usage and help — and one
//! builder in `build`, which checks every value whichever way the
//! arguments came ([`Args`]).
//!
//! ```text
//! /anime <title>                      best match (a picker when unsure)
//! /anime info|scores <title>          card; per-source scores and summary
//! /anime rate <title> <1-10>          your community rating
//! /anime top [genre] [n]              best summary scores
//! /anime airing [days]                upcoming episodes in the chat's zone
//! /anime subscribe|unsubscribe <title>|all, /anime subscriptions
//! /anime settings [tz|delay|audio|stream|adult <value>]
//! /anime random [genre] · /anime season [season] [year] · /anime related <title>
//! /anime follow|unfollow <title>, /anime following, /anime me [tz|delay|audio|adult <value>|forget]
//! /anime help [command]
//! /anime admin add|edit|delete|alias|score|episode|audit|deliveries …   owners only
//! ```
//! A `<title>` may be `#<id>`. Arguments after a title are `key=value`
//! pairs; quote values with spaces (`synopsis="…"`).

mod args;
mod build;
pub mod spec;

pub use args::{Args, Value};
pub use spec::{Access, CommandSpec, Group, OptionKind, OptionSpec};

use chrono::{DateTime, NaiveDate, Utc};

use super::catalog::edit::FieldValue;
use super::catalog::model::{EntryId, Kind, SeasonName, TitleLang};

/// Longest chat line accepted (Telegram's message limit).
pub const MAX_LINE_CHARS: usize = 4096;
pub use super::catalog::edit::MAX_TITLE_CHARS;
/// Most entries `/anime top` lists.
pub const MAX_TOP: usize = 25;
pub use super::catalog::edit::MAX_EPISODE;
/// Most days `/anime airing` looks ahead.
pub const MAX_AIRING_DAYS: u32 = 14;
/// The years `/anime season` accepts (the first TV anime aired in 1917's
/// decade of shorts; nothing is planned past 2100).
pub const MIN_YEAR: i32 = 1917;
pub const MAX_YEAR: i32 = 2100;

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
    /// A random title the chat may see, optionally of one genre.
    Random {
        genre: Option<String>,
    },
    /// A season's titles; `None` means the current one in the chat's zone.
    Season {
        season: Option<SeasonName>,
        year: Option<i32>,
        /// 1-based page of the chart.
        page: usize,
    },
    /// Prequels, sequels, side stories and films of a title.
    Related(TitleRef),
    /// A private alert for each new episode of a title; `from` names the
    /// chat (on the same platform) whose settings a first follow copies,
    /// when it is not the chat the command came from (a deep link from a
    /// group).
    Follow {
        title: TitleRef,
        from: Option<String>,
    },
    /// Stop following a title; `None`: every title.
    Unfollow(Option<TitleRef>),
    Following,
    /// The caller's own settings, or forgetting them.
    Me(MeChange),
    Admin(AdminCommand),
}

/// `/anime me …`: the caller's own settings (those of their private
/// alerts), or deleting everything kept about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeChange {
    Settings(SettingsChange),
    Forget,
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
    /// Whether adult titles may appear.
    Adult(bool),
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
            Command::Random { .. } => "random",
            Command::Season { .. } => "season",
            Command::Related(_) => "related",
            Command::Follow { .. } => "follow",
            Command::Unfollow(_) => "unfollow",
            Command::Following => "following",
            Command::Me(MeChange::Forget) => "me forget",
            Command::Me(MeChange::Settings(_)) => "me",
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
                | Command::Related(TitleRef::Id(_))
                | Command::Follow {
                    title: TitleRef::Id(_),
                    from: None
                }
                | Command::Unfollow(Some(TitleRef::Id(_)))
                | Command::Season { .. }
                | Command::Random { .. }
        )
    }
}

/// Names an entry: exactly by id, or by a title to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TitleRef {
    Id(EntryId),
    Query(String),
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
    #[error("That {what} is too long ({chars} characters); {what}s are at most {limit}.")]
    TooLong {
        /// What is too long: a `message`, a `title`, a `genre`.
        what: &'static str,
        chars: usize,
        limit: usize,
    },
    #[error("A quote is not closed: {0}. Close it, or leave the quote out.")]
    OpenQuote(String),
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

/// Parses a chat line such as `/anime scores frieren`.
///
/// The line must start with `/anime` (`/help` and `/start` show the help).
/// A Telegram-style `/anime@botname` is the adapter's to strip.
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let chars = line.chars().count();
    if chars > MAX_LINE_CHARS {
        return Err(ParseError::TooLong {
            what: "message",
            chars,
            limit: MAX_LINE_CHARS,
        });
    }
    let line = super::catalog::text::clean_input(line);
    let (head, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    match head.to_ascii_lowercase().as_str() {
        "/anime" => parse_anime(rest.trim()),
        "/start" => Ok(parse_start(rest.trim())),
        "/help" => Ok(Command::Help { topic: None }),
        _ => Err(ParseError::NotACommand),
    }
}

/// `/start [payload]`: a deep link's action in a private chat (see
/// [`StartPrivately`](super::reply::StartPrivately)): `follow-<id>`, or
/// `follow-<id>_<chat id>` to copy that chat's settings; else the help.
fn parse_start(payload: &str) -> Command {
    let Some(rest) = payload.strip_prefix("follow-") else {
        return Command::Help { topic: None };
    };
    let (id, from) = match rest.split_once('_') {
        Some((id, chat)) => (id, Some(chat)),
        None => (rest, None),
    };
    let chat_ok = |c: &&str| {
        let digits = c.strip_prefix('-').unwrap_or(c);
        !digits.is_empty() && digits.len() <= 20 && digits.chars().all(|d| d.is_ascii_digit())
    };
    match (id.parse::<EntryId>(), from.map(|c| Some(c).filter(chat_ok))) {
        (Ok(id), None) => Command::Follow {
            title: TitleRef::Id(id),
            from: None,
        },
        (Ok(id), Some(Some(chat))) => Command::Follow {
            title: TitleRef::Id(id),
            from: Some(chat.to_owned()),
        },
        _ => Command::Help { topic: None },
    }
}

fn parse_anime(rest: &str) -> Result<Command, ParseError> {
    if rest.is_empty() {
        return Err(ParseError::Empty);
    }
    let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
    if name.eq_ignore_ascii_case("admin") {
        const ADMIN_USAGE: &str = "/anime admin add|edit|delete|alias|score|episode|audit|deliveries … (see /anime help admin)";
        let (name, args) = args.trim().split_once(' ').unwrap_or((args.trim(), ""));
        if name.is_empty() {
            return Err(usage("Which admin command?", ADMIN_USAGE));
        }
        let spec = spec::find(Group::Admin, name)
            .ok_or_else(|| usage(format!("Unknown admin command \"{name}\"."), ADMIN_USAGE))?;
        return (spec.build)(&Args::from_text(spec, args)?);
    }
    match spec::find(Group::Anime, name) {
        Some(spec) => (spec.build)(&Args::from_text(spec, args)?),
        // `/anime <title>` is a look-up.
        None => build::info(&Args::new().with("title", Value::Text(rest.to_owned()))),
    }
}

/// The command a platform's structured form stands for: the table entry
/// `name` of `group`, with its arguments already typed.
pub fn from_args(group: Group, name: &str, args: &Args) -> Result<Command, ParseError> {
    let spec = spec::find(group, name).ok_or(ParseError::NotACommand)?;
    (spec.build)(args)
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

    /// A platform's typed options and the text form reach the same command.
    #[test]
    fn typed_arguments_build_what_the_text_parses() {
        let text = |t: &str| Value::Text(t.into());
        let cases = [
            (
                Group::Anime,
                "rate",
                Args::new()
                    .with("title", text("#1"))
                    .with("rating", Value::Integer(8)),
                "/anime rate #1 8",
            ),
            (
                Group::Anime,
                "airing",
                Args::new().with("days", Value::Integer(7)),
                "/anime airing 7",
            ),
            (
                Group::Anime,
                "subscribe",
                Args::new()
                    .with("title", text("#1"))
                    .with("role", Value::Role(123456)),
                "/anime subscribe #1 role=<@&123456>",
            ),
            (
                Group::Anime,
                "settings",
                Args::new()
                    .with("setting", text("tz"))
                    .with("value", text("asia/kolkata")),
                "/anime settings tz asia/kolkata",
            ),
            (
                Group::Admin,
                "episode",
                Args::new()
                    .with("title", text("metallic rouge"))
                    .with("number", Value::Integer(13))
                    .with("audio", text("Tamil"))
                    .with("qualities", text("480p/720p/1080p")),
                "/anime admin episode metallic rouge ep=13 audio=Tamil qualities=480p/720p/1080p",
            ),
            (
                Group::Admin,
                "edit",
                Args::new()
                    .with("title", text("metallic rouge"))
                    .with("fields", text("episodes=13 synopsis=\"A long story\"")),
                "/anime admin edit metallic rouge episodes=13 synopsis=\"A long story\"",
            ),
        ];
        for (group, name, args, line) in cases {
            assert_eq!(from_args(group, name, &args), parse(line), "{line}");
        }
        assert!(
            from_args(
                Group::Anime,
                "rate",
                &Args::new()
                    .with("title", text("#1"))
                    .with("rating", Value::Integer(11))
            )
            .is_err(),
            "typed values get the same checks"
        );
        assert_eq!(
            from_args(Group::Anime, "frobnicate", &Args::new()),
            Err(ParseError::NotACommand)
        );
    }

    /// A quote left open is said, not silently run to the end of the line;
    /// a long title's message names the title's own limit; a huge count is
    /// a count, not a genre.
    #[test]
    fn open_quotes_long_titles_and_huge_counts_are_said_plainly() {
        let err = parse("/anime admin edit frieren synopsis=\"A story episodes=13").unwrap_err();
        assert!(matches!(err, ParseError::OpenQuote(_)), "{err}");
        assert!(err.to_string().contains("A story"), "{err}");
        let title = format!("/anime {}", "a".repeat(4000));
        let err = parse(&title).unwrap_err().to_string();
        assert!(
            err.contains("title") && err.contains("200") && !err.contains("message"),
            "{err}"
        );
        let err = parse("/anime top 99999999999999999999")
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 to 25"), "{err}");
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
