//! The command table: one declarative [`CommandSpec`] per command — its
//! name, options with their types, limits and choices, who may run it, its
//! usage and help text, and the function that turns its arguments into a
//! [`Command`]. The text parser, `/anime help`, Telegram's command menu and
//! Discord's slash-command registration all read this table, and Discord's
//! structured options reach [`CommandSpec::build`] without going back
//! through text.

use super::build;
use super::{Args, Command, MAX_AIRING_DAYS, MAX_EPISODE, MAX_TOP, MAX_YEAR, MIN_YEAR, ParseError};
use crate::core::catalog::edit::MAX_TITLE_CHARS;

/// Which command a spec belongs to: `/anime <name>` or `/anime admin <name>`
/// (Discord registers the admin group as a command of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Anime,
    Admin,
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Anyone,
    /// The chat's admins (and the bot's owners); for settings, only changes.
    ChatAdmins,
    /// The bot's owners.
    Owners,
}

/// The type of an option, with its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// A title in any language, or `#id`; platforms offer completions.
    Title,
    /// Free text of at most `max` characters.
    Text { max: usize },
    /// A whole number from `min` to `max`.
    Integer { min: i64, max: i64 },
    /// One of these `(label, value)` pairs.
    Choice(&'static [(&'static str, &'static str)]),
    /// A role to mention (Discord).
    Role,
    /// `key=value` pairs (quote values with spaces).
    Pairs,
}

/// One option of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// The option's name (Discord's option name, and its key in [`Args`]).
    pub name: &'static str,
    pub about: &'static str,
    pub kind: OptionKind,
    pub required: bool,
    /// In the text form, the keys of its `key=value` pair; empty when the
    /// text form carries it otherwise (see [`TextForm`]).
    pub keys: &'static [&'static str],
}

/// How a command's arguments are written in a chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextForm {
    /// No arguments.
    Bare,
    /// Everything after the command name is one value: this option.
    Whole(&'static str),
    /// Words, then a last word: `lead` then `last`. The last word is taken
    /// only when it looks like a number unless `last` is required.
    LeadLast {
        lead: &'static str,
        last: &'static str,
    },
    /// Words (the `lead` option), then `key=value` pairs: options with
    /// `keys` take theirs, a [`OptionKind::Pairs`] option takes the rest.
    LeadPairs { lead: &'static str },
    /// A first word, then the rest of the line as one value.
    FirstRest {
        first: &'static str,
        rest: &'static str,
    },
}

/// Everything about one command.
pub struct CommandSpec {
    pub name: &'static str,
    /// Other names the text form accepts.
    pub aliases: &'static [&'static str],
    pub group: Group,
    pub access: Access,
    /// How to write it, as help and parse errors quote it.
    pub usage: &'static str,
    /// What it does (help text, and Discord's description, at most 100 characters).
    pub about: &'static str,
    pub options: &'static [OptionSpec],
    pub text: TextForm,
    /// Turns the command's arguments into a [`Command`], checking every value.
    pub build: fn(&Args) -> Result<Command, ParseError>,
}

impl CommandSpec {
    /// The option called `name`.
    pub fn option(&self, name: &str) -> Option<&'static OptionSpec> {
        self.options.iter().find(|o| o.name == name)
    }
}

const fn title(required: bool) -> OptionSpec {
    OptionSpec {
        name: "title",
        about: "A title, in any language (or #id)",
        kind: OptionKind::Title,
        required,
        keys: &[],
    }
}

const FIELDS: OptionSpec = OptionSpec {
    name: "fields",
    about: "key=value pairs, e.g. episodes=13 audio=Tamil",
    kind: OptionKind::Pairs,
    required: false,
    keys: &[],
};

const GENRE: OptionSpec = OptionSpec {
    name: "genre",
    about: "Only this genre",
    kind: OptionKind::Text {
        max: MAX_TITLE_CHARS,
    },
    required: false,
    keys: &[],
};

const PAGE: OptionSpec = OptionSpec {
    name: "page",
    about: "Which page of the list",
    kind: OptionKind::Integer { min: 1, max: 1000 },
    required: false,
    keys: &["page"],
};

/// The settings a chat has; a person has the same for their own alerts.
const SETTINGS: &[(&str, &str)] = &[
    ("time zone", "tz"),
    ("delay (minutes)", "delay"),
    ("audio languages", "audio"),
    ("stream", "stream"),
    ("adult titles", "adult"),
];

const ME_SETTINGS: &[(&str, &str)] = &[
    ("time zone", "tz"),
    ("delay (minutes)", "delay"),
    ("audio languages", "audio"),
    ("stream", "stream"),
    ("adult titles", "adult"),
    ("forget me", "forget"),
];

/// Which setting of `/anime settings` or `/anime me`.
const fn setting(
    about: &'static str,
    choices: &'static [(&'static str, &'static str)],
) -> OptionSpec {
    OptionSpec {
        name: "setting",
        about,
        kind: OptionKind::Choice(choices),
        required: false,
        keys: &[],
    }
}

/// The new value of a setting.
const fn value(about: &'static str) -> OptionSpec {
    OptionSpec {
        name: "value",
        about,
        kind: OptionKind::Text { max: 100 },
        required: false,
        keys: &[],
    }
}

const fn required(option: OptionSpec) -> OptionSpec {
    OptionSpec {
        required: true,
        ..option
    }
}

/// Every command, in the order help lists them.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "info",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime <title>  or  /anime info <title>",
        about: "the card of a title (a title may be #id)",
        options: &[title(true)],
        text: TextForm::Whole("title"),
        build: build::info,
    },
    CommandSpec {
        name: "scores",
        aliases: &["score"],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime scores <title>",
        about: "scores from every source, their summary and the community score",
        options: &[title(true)],
        text: TextForm::Whole("title"),
        build: build::scores,
    },
    CommandSpec {
        name: "rate",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime rate <title> <1-10>",
        about: "rate a title; rating again replaces your rating",
        options: &[
            title(true),
            OptionSpec {
                name: "rating",
                about: "1 to 10",
                kind: OptionKind::Integer { min: 1, max: 10 },
                required: true,
                keys: &[],
            },
        ],
        text: TextForm::LeadLast {
            lead: "title",
            last: "rating",
        },
        build: build::rate,
    },
    CommandSpec {
        name: "top",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime top [genre] [n]",
        about: "the best summary scores, optionally in one genre",
        options: &[
            GENRE,
            OptionSpec {
                name: "count",
                about: "How many (1 to 25)",
                kind: OptionKind::Integer {
                    min: 1,
                    max: MAX_TOP as i64,
                },
                required: false,
                keys: &[],
            },
        ],
        text: TextForm::LeadLast {
            lead: "genre",
            last: "count",
        },
        build: build::top,
    },
    CommandSpec {
        name: "help",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime help [command]",
        about: "every command and how to use it",
        options: &[OptionSpec {
            name: "command",
            about: "Help on one command",
            kind: OptionKind::Text { max: 32 },
            required: false,
            keys: &[],
        }],
        text: TextForm::Whole("command"),
        build: build::help,
    },
    CommandSpec {
        name: "airing",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime airing [days]",
        about: "episodes airing soon, in this chat's time zone (1 to 14 days, default 2)",
        options: &[
            OptionSpec {
                name: "days",
                about: "How many days ahead (1 to 14)",
                kind: OptionKind::Integer {
                    min: 1,
                    max: MAX_AIRING_DAYS as i64,
                },
                required: false,
                keys: &[],
            },
            PAGE,
        ],
        text: TextForm::LeadPairs { lead: "days" },
        build: build::airing,
    },
    CommandSpec {
        name: "subscribe",
        aliases: &[],
        group: Group::Anime,
        access: Access::ChatAdmins,
        usage: "/anime subscribe <title> | all [kind=tv] [genre=…] [role=<role id>]",
        about: "chat admins: announce new episodes in this chat",
        options: &[
            title(true),
            OptionSpec {
                name: "kind",
                about: "With all: only this kind (tv, movie, ova, ona, web, special)",
                kind: OptionKind::Text { max: 16 },
                required: false,
                keys: &["kind", "type"],
            },
            OptionSpec {
                name: "genre",
                about: "With all: only this genre",
                kind: OptionKind::Text { max: 64 },
                required: false,
                keys: &["genre"],
            },
            OptionSpec {
                name: "role",
                about: "A role to mention with each announcement",
                kind: OptionKind::Role,
                required: false,
                keys: &["role"],
            },
        ],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::subscribe,
    },
    CommandSpec {
        name: "unsubscribe",
        aliases: &[],
        group: Group::Anime,
        access: Access::ChatAdmins,
        usage: "/anime unsubscribe <title> | all",
        about: "chat admins: stop announcing a title here",
        options: &[title(true)],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::unsubscribe,
    },
    CommandSpec {
        name: "subscriptions",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime subscriptions",
        about: "what this chat is subscribed to, and its settings",
        options: &[],
        text: TextForm::Bare,
        build: build::subscriptions,
    },
    CommandSpec {
        name: "settings",
        aliases: &[],
        group: Group::Anime,
        access: Access::ChatAdmins,
        usage: "/anime settings [tz <Area/City> | delay <minutes> | audio <languages>|any | stream <tv|site>|none | adult on|off]",
        about: "chat admins: time zone, delay, audio languages, the stream to follow, adult titles",
        options: &[
            setting("Which setting", SETTINGS),
            value("The new value (e.g. Asia/Kolkata, 30, tamil,japanese, tv, off)"),
        ],
        text: TextForm::FirstRest {
            first: "setting",
            rest: "value",
        },
        build: build::settings,
    },
    CommandSpec {
        name: "random",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime random [genre]",
        about: "a random title, optionally of one genre",
        options: &[GENRE],
        text: TextForm::Whole("genre"),
        build: build::random,
    },
    CommandSpec {
        name: "season",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime season [winter|spring|summer|fall] [year] [page=N]",
        about: "a season's titles, TV first, best scores first (default: this season here)",
        options: &[
            OptionSpec {
                name: "season",
                about: "Which season (default: the current one)",
                kind: OptionKind::Choice(&[
                    ("winter", "winter"),
                    ("spring", "spring"),
                    ("summer", "summer"),
                    ("fall", "fall"),
                ]),
                required: false,
                keys: &[],
            },
            OptionSpec {
                name: "year",
                about: "Which year (default: this year)",
                kind: OptionKind::Integer {
                    min: MIN_YEAR as i64,
                    max: MAX_YEAR as i64,
                },
                required: false,
                keys: &["year"],
            },
            PAGE,
        ],
        text: TextForm::LeadPairs { lead: "season" },
        build: build::season,
    },
    CommandSpec {
        name: "related",
        aliases: &["relations"],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime related <title>",
        about: "prequels, sequels, side stories and films, in airing order",
        options: &[title(true)],
        text: TextForm::Whole("title"),
        build: build::related,
    },
    CommandSpec {
        name: "follow",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime follow <title>",
        about: "get a private message when a new episode is out",
        options: &[title(true)],
        text: TextForm::Whole("title"),
        build: build::follow,
    },
    CommandSpec {
        name: "unfollow",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime unfollow <title> | all",
        about: "stop the private messages about a title (or all)",
        options: &[title(true)],
        text: TextForm::Whole("title"),
        build: build::unfollow,
    },
    CommandSpec {
        name: "following",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime following",
        about: "the titles you follow, and your settings",
        options: &[],
        text: TextForm::Bare,
        build: build::following,
    },
    CommandSpec {
        name: "me",
        aliases: &[],
        group: Group::Anime,
        access: Access::Anyone,
        usage: "/anime me [tz <Area/City> | delay <minutes> | audio <languages>|any | adult on|off | forget]",
        about: "your own settings for private alerts; forget deletes all Rouge keeps about you",
        options: &[
            setting("Which setting (or forget)", ME_SETTINGS),
            value("The new value (e.g. Europe/Berlin, 30, japanese, off)"),
        ],
        text: TextForm::FirstRest {
            first: "setting",
            rest: "value",
        },
        build: build::me,
    },
    CommandSpec {
        name: "add",
        aliases: &[],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin add <title> [field=value …]",
        about: "add an entry",
        options: &[
            OptionSpec {
                name: "title",
                about: "The new title",
                kind: OptionKind::Text {
                    max: MAX_TITLE_CHARS,
                },
                required: true,
                keys: &[],
            },
            FIELDS,
        ],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::add,
    },
    CommandSpec {
        name: "edit",
        aliases: &[],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin edit <title> field=value [field=value …]",
        about: "change fields (an empty value clears one)",
        options: &[title(true), required(FIELDS)],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::edit,
    },
    CommandSpec {
        name: "delete",
        aliases: &["remove"],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin delete <title>",
        about: "remove an entry and its ratings",
        options: &[title(true)],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::delete,
    },
    CommandSpec {
        name: "alias",
        aliases: &[],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin alias <title> add=<alias> [lang=en|ja|zh-Hans|zh-Hant|romaji|synonym] | remove=<alias>",
        about: "add or remove an alternative title",
        options: &[title(true), required(FIELDS)],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::alias,
    },
    CommandSpec {
        name: "score",
        aliases: &[],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin score <title> <source>=<value> [votes=N] [scale=MAX] [date=YYYY-MM-DD] | remove=<source>",
        about: "set a source's score (imdb, mal, anilist, kitsu, anidb, bangumi, …)",
        options: &[title(true), required(FIELDS)],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::score,
    },
    CommandSpec {
        name: "episode",
        aliases: &["ep"],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin episode <title> ep=<n> [audio=<language>] [qualities=480p/720p/1080p] [title=\"…\"] [at=<RFC 3339 time>]",
        about: "record a released episode",
        options: &[
            title(true),
            OptionSpec {
                name: "number",
                about: "Episode number",
                kind: OptionKind::Integer {
                    min: 1,
                    max: MAX_EPISODE as i64,
                },
                required: true,
                keys: &["ep", "episode", "number"],
            },
            OptionSpec {
                name: "audio",
                about: "Audio language, e.g. Tamil",
                kind: OptionKind::Text { max: 40 },
                required: false,
                keys: &["audio", "dub"],
            },
            OptionSpec {
                name: "qualities",
                about: "e.g. 480p/720p/1080p",
                kind: OptionKind::Text { max: 100 },
                required: false,
                keys: &["qualities", "quality"],
            },
            OptionSpec {
                name: "episode_title",
                about: "The episode's own title",
                kind: OptionKind::Text {
                    max: MAX_TITLE_CHARS,
                },
                required: false,
                keys: &["title"],
            },
            OptionSpec {
                name: "at",
                about: "When it was released (RFC 3339, e.g. 2024-04-03T16:25:00Z)",
                kind: OptionKind::Text { max: 40 },
                required: false,
                keys: &["at"],
            },
        ],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::episode,
    },
    CommandSpec {
        name: "audit",
        aliases: &[],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin audit [title]",
        about: "who changed what, newest first",
        options: &[title(false)],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::audit,
    },
    CommandSpec {
        name: "deliveries",
        aliases: &[],
        group: Group::Admin,
        access: Access::Owners,
        usage: "/anime admin deliveries [title]",
        about: "queued, delivered and failed announcements, with the reason",
        options: &[title(false)],
        text: TextForm::LeadPairs { lead: "title" },
        build: build::deliveries,
    },
];

/// The command of `group` called `name` (or one of its aliases), any case.
pub fn find(group: Group, name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| {
        c.group == group
            && (c.name.eq_ignore_ascii_case(name)
                || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
    })
}

/// The usage line of the command `name` (help's topics are command names).
pub fn usage_of(name: &str) -> &'static str {
    COMMANDS
        .iter()
        .find(|c| c.name == name)
        .map_or("/anime help", |c| c.usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is consistent: unique names per group, text forms name
    /// real options, Discord's limits hold.
    #[test]
    fn the_table_is_consistent() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert!(
                !COMMANDS[..i]
                    .iter()
                    .any(|d| d.group == c.group && d.name == c.name),
                "{} twice",
                c.name
            );
            assert!(c.about.chars().count() <= 100, "{}: about too long", c.name);
            let named = |n: &str| c.option(n).is_some();
            match c.text {
                TextForm::Bare => assert!(c.options.is_empty()),
                TextForm::Whole(o) | TextForm::LeadPairs { lead: o } => assert!(named(o)),
                TextForm::LeadLast { lead, last } => assert!(named(lead) && named(last)),
                TextForm::FirstRest { first, rest } => assert!(named(first) && named(rest)),
            }
            for o in c.options {
                assert!(o.name.len() <= 32 && o.about.chars().count() <= 100);
            }
        }
        assert_eq!(find(Group::Anime, "SCORE").map(|c| c.name), Some("scores"));
        assert!(find(Group::Anime, "add").is_none());
        assert_eq!(usage_of("rate"), "/anime rate <title> <1-10>");
    }
}
