//! One builder per command table entry: [`Args`] in, a checked [`Command`]
//! out, or a [`ParseError`] that says what to type instead. Every value is
//! validated here, whichever platform the arguments came from.

use chrono::{DateTime, NaiveDate, Utc};

use super::args::{Args, Value, is_open_quote};
use super::spec::usage_of;
use super::{
    AdminCommand, Command, EpisodeInput, MAX_AIRING_DAYS, MAX_EPISODE, MAX_TOP, MAX_YEAR, MIN_YEAR,
    MeChange, ParseError, ScoreInput, SettingsChange, SubTarget, TitleRef, usage,
};
use crate::core::announce::MAX_DELAY_MIN;
use crate::core::announce::schedule;
use crate::core::catalog::edit::{self, FieldValue, MAX_TITLE_CHARS};
use crate::core::catalog::model::{Field, Kind, SeasonName, TitleLang};
use crate::core::catalog::scores;

/// A title argument: `#id`, or text to look up.
fn title_ref(text: &str, command: &str) -> Result<TitleRef, ParseError> {
    let text = text
        .trim()
        .trim_matches(|c| is_open_quote(c).is_some() || matches!(c, '"' | '\u{201D}' | '」'));
    let text = text.trim();
    if text.is_empty() {
        return Err(usage("Which title?", usage_of(command)));
    }
    let chars = text.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(ParseError::TooLong {
            what: "title",
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
            .map_err(|_| usage(format!("#{id} is not a valid id."), usage_of(command)));
    }
    Ok(TitleRef::Query(text.to_owned()))
}

/// The required `title` option of `command`.
fn title(args: &Args, command: &str) -> Result<TitleRef, ParseError> {
    title_ref(&args.text("title").unwrap_or_default(), command)
}

/// The optional `title` option of `command`.
fn optional_title(args: &Args, command: &str) -> Result<Option<TitleRef>, ParseError> {
    args.text("title")
        .map(|t| title_ref(&t, command))
        .transpose()
}

/// A whole number from `min` to `max`, or `bad` to say what was wrong.
fn number(
    args: &Args,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    bad: impl FnOnce(&str) -> ParseError,
) -> Result<Option<i64>, ParseError> {
    let Some(value) = args.get(name) else {
        return Ok(None);
    };
    let parsed = match value {
        Value::Integer(n) => Some(*n),
        Value::Text(t) => t.trim().parse::<i64>().ok(),
        Value::Role(_) | Value::Pairs(_) => None,
    };
    match parsed {
        Some(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(bad(&args.text(name).unwrap_or_default())),
    }
}

pub(super) fn info(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Info(title(args, "info")?))
}

pub(super) fn scores(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Scores(title(args, "scores")?))
}

pub(super) fn rate(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("rate");
    if args.get("rating").is_none() {
        return Err(usage("Give a title and a rating from 1 to 10.", u));
    }
    let rating = number(args, "rating", 1..=10, |text| {
        usage(
            format!("\"{text}\" is not a rating: use a whole number from 1 to 10."),
            u,
        )
    })?
    .unwrap_or(1) as u8;
    Ok(Command::Rate {
        title: title(args, "rate")?,
        rating,
    })
}

pub(super) fn top(args: &Args) -> Result<Command, ParseError> {
    let limit = number(args, "count", 1..=MAX_TOP as i64, |_| {
        usage(format!("Ask for 1 to {MAX_TOP} titles."), usage_of("top"))
    })?
    .map_or(10, |n| n as usize);
    let genre = args.text("genre");
    if let Some(g) = &genre
        && g.chars().count() > MAX_TITLE_CHARS
    {
        return Err(ParseError::TooLong {
            what: "genre",
            chars: g.chars().count(),
            limit: MAX_TITLE_CHARS,
        });
    }
    Ok(Command::Top { genre, limit })
}

pub(super) fn help(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Help {
        topic: args.text("command").map(|t| t.to_ascii_lowercase()),
    })
}

pub(super) fn airing(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("airing");
    let days = number(args, "days", 1..=i64::from(MAX_AIRING_DAYS), |text| {
        usage(
            format!("\"{text}\" is not a number of days from 1 to {MAX_AIRING_DAYS}."),
            u,
        )
    })?
    .map_or(2, |d| d as u32);
    let page = number(args, "page", 1..=1000, |text| {
        usage(format!("\"{text}\" is not a page number."), u)
    })?
    .map_or(1, |p| p as usize);
    Ok(Command::Airing { days, page })
}

/// `<title>` or `all`, with `all`'s kind and genre filters.
fn sub_target(args: &Args, command: &'static str) -> Result<SubTarget, ParseError> {
    let u = usage_of(command);
    let title = args.text("title").unwrap_or_default();
    let (kind, genre) = (args.text("kind"), args.text("genre"));
    if !title.eq_ignore_ascii_case("all") {
        if let Some(key) = [("kind", &kind), ("genre", &genre)]
            .iter()
            .find_map(|(k, v)| v.is_some().then_some(*k))
        {
            return Err(usage(format!("\"{key}=\" is not used here."), u));
        }
        return Ok(SubTarget::Title(title_ref(&title, command)?));
    }
    let kind = kind
        .map(|k| {
            k.parse::<Kind>().map_err(|_| {
                usage(
                    format!("\"{k}\" is not a kind (tv, movie, ova, ona, web, special)."),
                    u,
                )
            })
        })
        .transpose()?;
    let genre = genre
        .map(|g| edit::checked_word(&g).map_err(|m| usage(m, u)))
        .transpose()?;
    Ok(SubTarget::All { kind, genre })
}

pub(super) fn subscribe(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("subscribe");
    let mention_role = match args.get("role") {
        None => None,
        Some(Value::Role(id)) => Some(id.to_string()),
        Some(_) => {
            let value = args.text("role").unwrap_or_default();
            let id = value.trim_start_matches("<@&").trim_end_matches('>');
            if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(usage(format!("role=\"{value}\" is not a role id."), u));
            }
            Some(id.to_owned())
        }
    };
    Ok(Command::Subscribe {
        target: sub_target(args, "subscribe")?,
        mention_role,
    })
}

pub(super) fn unsubscribe(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Unsubscribe(sub_target(args, "unsubscribe")?))
}

pub(super) fn subscriptions(_: &Args) -> Result<Command, ParseError> {
    Ok(Command::Subscriptions)
}

pub(super) fn settings(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("settings");
    let what = args.text("setting").unwrap_or_default();
    let value = args.text("value").unwrap_or_default();
    Ok(Command::Settings(settings_change(&what, &value, u)?))
}

/// `/anime me`: the settings `/anime settings` has, for the caller's own
/// alerts, or `forget`.
pub(super) fn me(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("me");
    let what = args.text("setting").unwrap_or_default();
    let value = args.text("value").unwrap_or_default();
    if what.eq_ignore_ascii_case("forget") {
        if !value.is_empty() {
            return Err(usage("/anime me forget takes nothing after it.", u));
        }
        return Ok(Command::Me(MeChange::Forget));
    }
    Ok(Command::Me(MeChange::Settings(settings_change(
        &what, &value, u,
    )?)))
}

/// One setting and its value, checked (`what` empty: show them).
fn settings_change(what: &str, value: &str, u: &'static str) -> Result<SettingsChange, ParseError> {
    let value = value.to_owned();
    let need = |v: &str| {
        if v.is_empty() {
            Err(usage(format!("Give a value for {what}."), u))
        } else {
            Ok(())
        }
    };
    let change = match what.to_ascii_lowercase().as_str() {
        "" => SettingsChange::Show,
        "tz" | "timezone" | "zone" => {
            need(&value)?;
            let tz = schedule::time_zone(&value).map_err(|e| usage(e.to_string(), u))?;
            SettingsChange::TimeZone(tz.name().to_owned())
        }
        "delay" => match value.trim_end_matches("min").trim().parse::<u32>() {
            Ok(m) if m <= MAX_DELAY_MIN => SettingsChange::DelayMinutes(m),
            _ => {
                return Err(usage(
                    format!(
                        "\"{value}\" is not a delay: use whole minutes from 0 to {MAX_DELAY_MIN} (one week)."
                    ),
                    u,
                ));
            }
        },
        "audio" => {
            need(&value)?;
            if value.eq_ignore_ascii_case("any") || value.eq_ignore_ascii_case("all") {
                SettingsChange::Audio(Vec::new())
            } else {
                let langs = edit::split_list(&value);
                if langs.len() > 16 {
                    return Err(usage("At most 16 audio languages.", u));
                }
                SettingsChange::Audio(
                    langs
                        .iter()
                        .map(|l| edit::checked_word(l).map(|w| w.to_lowercase()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|m| usage(m, u))?,
                )
            }
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
            SettingsChange::Stream(stream)
        }
        "adult" => match value.to_ascii_lowercase().as_str() {
            "on" | "yes" | "true" => SettingsChange::Adult(true),
            "off" | "no" | "false" => SettingsChange::Adult(false),
            _ => return Err(usage("Say adult on or adult off.", u)),
        },
        other => return Err(usage(format!("Unknown setting \"{other}\"."), u)),
    };
    Ok(change)
}

pub(super) fn random(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Random {
        genre: genre(args, "random")?,
    })
}

/// The optional `genre` option, checked like a genre an admin sets.
fn genre(args: &Args, command: &'static str) -> Result<Option<String>, ParseError> {
    args.text("genre")
        .map(|g| edit::checked_word(&g).map_err(|m| usage(m, usage_of(command))))
        .transpose()
}

/// `[winter|spring|summer|fall] [year]` in either order (the text form
/// writes both in the `season` option; Discord gives `year` apart).
pub(super) fn season(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("season");
    let years = i64::from(MIN_YEAR)..=i64::from(MAX_YEAR);
    let bad_year = |text: &str| {
        usage(
            format!("\"{text}\" is not a year from {MIN_YEAR} to {MAX_YEAR}."),
            u,
        )
    };
    let mut year = number(args, "year", years.clone(), bad_year)?.map(|y| y as i32);
    let mut season = None;
    for word in args.text("season").unwrap_or_default().split_whitespace() {
        if let Ok(name) = word.parse::<SeasonName>()
            && season.is_none()
        {
            season = Some(name);
        } else if let Ok(y) = word.parse::<i64>()
            && year.is_none()
        {
            if !years.contains(&y) {
                return Err(bad_year(word));
            }
            year = Some(y as i32);
        } else {
            return Err(usage(
                format!("\"{word}\" is not a season (winter, spring, summer, fall) or a year."),
                u,
            ));
        }
    }
    let page = number(args, "page", 1..=1000, |text| {
        usage(format!("\"{text}\" is not a page number."), u)
    })?
    .map_or(1, |p| p as usize);
    Ok(Command::Season { season, year, page })
}

pub(super) fn related(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Related(title(args, "related")?))
}

pub(super) fn follow(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Follow {
        title: title(args, "follow")?,
        from: None,
    })
}

pub(super) fn unfollow(args: &Args) -> Result<Command, ParseError> {
    let text = args.text("title").unwrap_or_default();
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(Command::Unfollow(None));
    }
    Ok(Command::Unfollow(Some(title(args, "unfollow")?)))
}

pub(super) fn following(_: &Args) -> Result<Command, ParseError> {
    Ok(Command::Following)
}

/// Typed field values from `key=value` pairs.
fn fields(args: &Args, command: &'static str) -> Result<Vec<FieldValue>, ParseError> {
    let u = usage_of(command);
    args.pairs("fields", u)?
        .iter()
        .map(|(k, v)| edit::parse_field(k, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| usage(m, u))
}

pub(super) fn add(args: &Args) -> Result<Command, ParseError> {
    let TitleRef::Query(title) = title(args, "add")? else {
        return Err(usage(
            "A new entry needs a title, not an id.",
            usage_of("add"),
        ));
    };
    Ok(Command::Admin(AdminCommand::Add {
        title,
        fields: fields(args, "add")?,
    }))
}

pub(super) fn edit(args: &Args) -> Result<Command, ParseError> {
    let target = title(args, "edit")?;
    let fields = fields(args, "edit")?;
    if fields.is_empty() {
        return Err(usage(
            format!("What should change? Fields: {}", Field::names()),
            usage_of("edit"),
        ));
    }
    Ok(Command::Admin(AdminCommand::Edit { target, fields }))
}

pub(super) fn delete(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Admin(AdminCommand::Delete {
        target: title(args, "delete")?,
    }))
}

pub(super) fn alias(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("alias");
    let target = title(args, "alias")?;
    let mut add = Vec::new();
    let mut remove = Vec::new();
    let mut lang = TitleLang::Synonym;
    for (key, value) in args.pairs("fields", u)? {
        match key.as_str() {
            "add" => add.push(edit::checked_title(&value).map_err(|m| usage(m, u))?),
            "remove" => remove.push(value),
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
    Ok(Command::Admin(AdminCommand::Alias {
        target,
        add: add.into_iter().map(|a| (a, lang)).collect(),
        remove,
    }))
}

pub(super) fn score(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("score");
    let target = title(args, "score")?;
    let mut set: Vec<ScoreInput> = Vec::new();
    let mut remove = Vec::new();
    let (mut votes, mut scale, mut as_of) = (None, None, None);
    for (key, value) in args.pairs("fields", u)? {
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
                    Some(NaiveDate::parse_from_str(&value, "%Y-%m-%d").map_err(|_| {
                        usage(format!("date=\"{value}\" is not a YYYY-MM-DD date."), u)
                    })?)
            }
            source => {
                let number: f64 = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| usage(format!("{source}=\"{value}\" is not a score."), u))?;
                let known = scores::source(source);
                set.push(ScoreInput {
                    source: known.map_or_else(|| source.to_owned(), |s| s.key.to_owned()),
                    value: number,
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
    Ok(Command::Admin(AdminCommand::Score {
        target,
        set,
        remove,
    }))
}

pub(super) fn episode(args: &Args) -> Result<Command, ParseError> {
    let u = usage_of("episode");
    let target = title(args, "episode")?;
    let number = number(args, "number", 1..=i64::from(MAX_EPISODE), |text| {
        usage(
            format!("Episode \"{text}\" must be a number from 1 to {MAX_EPISODE}."),
            u,
        )
    })?
    .ok_or_else(|| usage("Which episode? Give ep=<number>.", u))? as u32;
    let word = |name: &str| {
        args.text(name)
            .map(|v| edit::checked_word(&v).map_err(|m| usage(m, u)))
            .transpose()
    };
    let released_at = args
        .text("at")
        .map(|at| {
            DateTime::parse_from_rfc3339(&at)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    usage(
                        format!(
                            "at=\"{at}\" is not an RFC 3339 time such as 2024-04-03T16:25:00Z."
                        ),
                        u,
                    )
                })
        })
        .transpose()?;
    Ok(Command::Admin(AdminCommand::Episode {
        target,
        episode: EpisodeInput {
            number,
            audio: word("audio")?,
            qualities: args
                .text("qualities")
                .map(|q| edit::split_list(&q))
                .unwrap_or_default(),
            title: args
                .text("episode_title")
                .map(|t| edit::checked_title(&t).map_err(|m| usage(m, u)))
                .transpose()?,
            released_at,
        },
    }))
}

pub(super) fn audit(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Admin(AdminCommand::Audit {
        target: optional_title(args, "audit")?,
    }))
}

pub(super) fn deliveries(args: &Args) -> Result<Command, ParseError> {
    Ok(Command::Admin(AdminCommand::Deliveries {
        target: optional_title(args, "deliveries")?,
    }))
}
