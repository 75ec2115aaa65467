//! Catalog edits: typed field values parsed from `key=value` pairs, applied
//! to an entry, and described for the audit log.

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{Entry, Field, Kind, Link, Ongoing, Season, Status};

/// Longest free text (synopsis) an admin may set.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most items in a list field.
pub const MAX_LIST_ITEMS: usize = 32;

/// A new value for one field; `None` or an empty list clears it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Title(String),
    Kind(Option<Kind>),
    Genres(Vec<String>),
    Status(Option<Status>),
    Season(Option<Season>),
    Aired(Option<NaiveDate>),
    Ended(Option<NaiveDate>),
    Episodes(Option<u32>),
    Duration(Option<u32>),
    Audio(Vec<String>),
    Subtitles(Vec<String>),
    Qualities(Vec<String>),
    Studios(Vec<String>),
    Synopsis(Option<String>),
    Picture(Option<String>),
    Links(Vec<Link>),
    /// `airing=ongoing` (the show continues past what the data says), or
    /// `airing=` to leave it to the data again.
    Ongoing(bool),
    /// `current=<n>`: the episode that aired last (and the show continues).
    Current(u32),
    /// `adult=yes|no`, or `adult=` to leave it to the sources again.
    Adult(Option<bool>),
    /// `id.<source>=<id>`: an external identifier (not a locked field).
    ExternalId(String, Option<String>),
}

impl FieldValue {
    /// The field this value belongs to; `None` for external ids.
    pub fn field(&self) -> Option<Field> {
        Some(match self {
            FieldValue::Title(_) => Field::Title,
            FieldValue::Kind(_) => Field::Kind,
            FieldValue::Genres(_) => Field::Genres,
            FieldValue::Status(_) => Field::Status,
            FieldValue::Season(_) => Field::Season,
            FieldValue::Aired(_) => Field::Aired,
            FieldValue::Ended(_) => Field::Ended,
            FieldValue::Episodes(_) => Field::Episodes,
            FieldValue::Duration(_) => Field::Duration,
            FieldValue::Audio(_) => Field::Audio,
            FieldValue::Subtitles(_) => Field::Subtitles,
            FieldValue::Qualities(_) => Field::Qualities,
            FieldValue::Studios(_) => Field::Studios,
            FieldValue::Synopsis(_) => Field::Synopsis,
            FieldValue::Picture(_) => Field::Picture,
            FieldValue::Links(_) => Field::Links,
            FieldValue::Ongoing(_) | FieldValue::Current(_) => Field::Airing,
            FieldValue::Adult(_) => Field::Adult,
            FieldValue::ExternalId(..) => return None,
        })
    }

    /// Writes the value into `entry`; `now` dates an owner's word on the
    /// schedule (the anchor of `current=`).
    pub fn apply(self, entry: &mut Entry, now: DateTime<Utc>) {
        match self {
            FieldValue::Title(t) => entry.title = t,
            FieldValue::Kind(v) => entry.kind = v,
            FieldValue::Genres(v) => entry.genres = v,
            FieldValue::Status(v) => entry.status = v,
            FieldValue::Season(v) => entry.season = v,
            FieldValue::Aired(v) => entry.aired_from = v,
            FieldValue::Ended(v) => entry.aired_to = v,
            FieldValue::Episodes(v) => entry.episodes = v,
            FieldValue::Duration(v) => entry.duration_min = v,
            FieldValue::Audio(v) => entry.audio = v,
            FieldValue::Subtitles(v) => entry.subtitles = v,
            FieldValue::Qualities(v) => entry.qualities = v,
            FieldValue::Studios(v) => entry.studios = v,
            FieldValue::Synopsis(v) => entry.synopsis = v,
            FieldValue::Picture(v) => entry.picture = v,
            FieldValue::Links(v) => entry.links = v,
            FieldValue::Adult(v) => entry.is_adult = v,
            FieldValue::Ongoing(false) => entry.ongoing = None,
            FieldValue::Ongoing(true) => {
                let current = entry.ongoing.and_then(|o| o.current);
                entry.ongoing = Some(Ongoing {
                    current,
                    as_of: now,
                });
            }
            FieldValue::Current(n) => {
                entry.ongoing = Some(Ongoing {
                    current: Some(n),
                    as_of: now,
                })
            }
            FieldValue::ExternalId(source, Some(id)) => {
                entry.external_ids.insert(source, id);
            }
            FieldValue::ExternalId(source, None) => {
                entry.external_ids.remove(&source);
            }
        }
    }
}

/// Parses `key=value` into a typed field value, or says what is wrong.
/// (One arm per field, each with its own check: long, but one table.)
pub fn parse_field(key: &str, value: &str) -> Result<FieldValue, String> {
    if let Some(source) = key.strip_prefix("id.") {
        let source = source.to_ascii_lowercase();
        if source.is_empty() || value.chars().count() > 64 {
            return Err(format!(
                "\"{key}={value}\" is not an external id (id.<source>=<id>)."
            ));
        }
        return Ok(FieldValue::ExternalId(source, opt(value)));
    }
    if key.eq_ignore_ascii_case("current") {
        return value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_EPISODE).contains(n))
            .map(FieldValue::Current)
            .ok_or_else(|| {
                format!("current=\"{value}\" must be an episode number from 1 to {MAX_EPISODE}.")
            });
    }
    let field: Field = key.parse().map_err(|_| {
        format!(
            "Unknown field \"{key}\". Fields: {}, id.<source>.",
            Field::names()
        )
    })?;
    let bad = |what: &str| format!("{}=\"{value}\" is not {what}.", field.name());
    Ok(match field {
        Field::Title => FieldValue::Title(checked_title(value)?),
        Field::Airing => match value.trim().to_ascii_lowercase().as_str() {
            "ongoing" | "continues" | "long-running" => FieldValue::Ongoing(true),
            "" | "auto" | "data" => FieldValue::Ongoing(false),
            _ => return Err(bad("ongoing (or empty, to follow the data again)")),
        },
        Field::Adult => FieldValue::Adult(match value.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            "" | "auto" | "data" => None,
            _ => return Err(bad("yes or no (or empty, to follow the sources again)")),
        }),
        Field::Kind => FieldValue::Kind(match opt(value) {
            None => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| bad("a kind (tv, movie, ova, ona, web, special)"))?,
            ),
        }),
        Field::Status => FieldValue::Status(match opt(value) {
            None => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| bad("a status (upcoming, airing, finished)"))?,
            ),
        }),
        Field::Season => FieldValue::Season(match opt(value) {
            None => None,
            Some(v) => Some(
                v.replace(['-', '_'], " ")
                    .parse()
                    .map_err(|_| bad("a season such as winter-2024"))?,
            ),
        }),
        Field::Aired | Field::Ended => {
            let date = match opt(value) {
                None => None,
                Some(v) => Some(
                    NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                        .map_err(|_| bad("a YYYY-MM-DD date"))?,
                ),
            };
            if field == Field::Aired {
                FieldValue::Aired(date)
            } else {
                FieldValue::Ended(date)
            }
        }
        Field::Episodes | Field::Duration => {
            let n = match opt(value) {
                None => None,
                Some(v) => Some(
                    v.trim_end_matches("min")
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=10_000).contains(n))
                        .ok_or_else(|| bad("a whole number from 1 to 10000"))?,
                ),
            };
            if field == Field::Episodes {
                FieldValue::Episodes(n)
            } else {
                FieldValue::Duration(n)
            }
        }
        Field::Genres => FieldValue::Genres(checked_list(value)?),
        Field::Audio => FieldValue::Audio(checked_list(value)?),
        Field::Subtitles => FieldValue::Subtitles(checked_list(value)?),
        Field::Qualities => FieldValue::Qualities(checked_list(value)?),
        Field::Studios => FieldValue::Studios(checked_list(value)?),
        Field::Synopsis => {
            if value.chars().count() > MAX_TEXT_CHARS {
                return Err(format!(
                    "The synopsis is limited to {MAX_TEXT_CHARS} characters."
                ));
            }
            FieldValue::Synopsis(opt(value))
        }
        Field::Picture => FieldValue::Picture(match opt(value) {
            None => None,
            Some(v) => Some(checked_url(&v).ok_or_else(|| bad("an http(s) URL"))?),
        }),
        Field::Links => FieldValue::Links(
            split_list(value)
                .into_iter()
                .map(|url| {
                    let url = checked_url(&url)
                        .ok_or_else(|| format!("links: \"{url}\" is not an http(s) URL."))?;
                    Ok(Link {
                        label: link_label(&url),
                        url,
                    })
                })
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Highest episode number accepted anywhere.
pub const MAX_EPISODE: u32 = 9999;

/// Longest title (or title query) accepted anywhere.
pub const MAX_TITLE_CHARS: usize = 200;

fn opt(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// A title: not empty, not absurdly long, no control characters.
pub fn checked_title(value: &str) -> Result<String, String> {
    let t = super::text::clean_input(value);
    if super::text::fold(&t).key.is_empty() {
        return Err("A title needs at least one letter or digit.".into());
    }
    if t.chars().count() > MAX_TITLE_CHARS {
        return Err(format!(
            "Titles are limited to {} characters.",
            MAX_TITLE_CHARS
        ));
    }
    Ok(t)
}

/// One short word or phrase (a language, a quality).
pub fn checked_word(value: &str) -> Result<String, String> {
    let w = super::text::clean_input(value);
    let w = w.trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '「' | '」'));
    if w.chars().count() > 40 || !w.chars().any(char::is_alphanumeric) {
        return Err(format!(
            "\"{value}\" should be 1 to 40 characters, with a letter or digit."
        ));
    }
    Ok(w.to_owned())
}

/// Splits `a,b` or `a/b` into trimmed, non-empty items.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', '/', '|'])
        .map(super::text::clean_input)
        .filter(|s| !s.is_empty())
        .collect()
}

fn checked_list(value: &str) -> Result<Vec<String>, String> {
    let items = split_list(value);
    if items.len() > MAX_LIST_ITEMS {
        return Err(format!("Lists are limited to {MAX_LIST_ITEMS} items."));
    }
    items.iter().map(|i| checked_word(i)).collect()
}

fn checked_url(url: &str) -> Option<String> {
    let url = url.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'));
    ok.then(|| url.to_owned())
}

/// Most alternative titles an entry keeps.
pub const MAX_ALT_TITLES: usize = 64;
/// Most links, scores, external ids, broadcasts or releases an entry keeps.
const MAX_ITEMS: usize = 64;
/// Most releases an entry keeps.
const MAX_RELEASES: usize = 10_000;

/// The one check every write of an entry passes — an owner's edit, every
/// importer, a restored backup, a live source: lengths, counts, dates in
/// order, and only http(s) URLs, so no path can store what another refuses.
pub fn check(entry: &Entry) -> Result<(), String> {
    let too_long = |what: &str, text: &str, max: usize| -> Result<(), String> {
        if text.chars().count() > max {
            Err(format!("{what} is longer than {max} characters"))
        } else {
            Ok(())
        }
    };
    too_long("the title", &entry.title, MAX_TITLE_CHARS)?;
    if entry.alt_titles.len() > MAX_ALT_TITLES {
        return Err(format!("more than {MAX_ALT_TITLES} alternative titles"));
    }
    for t in &entry.alt_titles {
        too_long("an alternative title", &t.text, MAX_TITLE_CHARS)?;
    }
    if let Some(synopsis) = &entry.synopsis {
        too_long("the synopsis", synopsis, MAX_TEXT_CHARS)?;
    }
    for (name, list) in [
        ("genres", &entry.genres),
        ("tags", &entry.tags),
        ("audio languages", &entry.audio),
        ("subtitle languages", &entry.subtitles),
        ("qualities", &entry.qualities),
        ("studios", &entry.studios),
    ] {
        if list.len() > MAX_LIST_ITEMS {
            return Err(format!("more than {MAX_LIST_ITEMS} {name}"));
        }
        for item in list {
            too_long(&format!("one of the {name}"), item, 64)?;
        }
    }
    let url = |what: &str, u: &str| -> Result<(), String> {
        checked_url(u).map(|_| ()).ok_or_else(|| {
            format!(
                "{what} is not an http(s) URL: \"{}\"",
                u.chars().take(60).collect::<String>()
            )
        })
    };
    if let Some(picture) = &entry.picture {
        url("the picture", picture)?;
    }
    if let Some(trailer) = &entry.trailer {
        url("the trailer", trailer)?;
    }
    for link in &entry.links {
        url("a link", &link.url)?;
        too_long("a link's label", &link.label, 100)?;
    }
    for (what, n) in [
        ("links", entry.links.len()),
        ("scores", entry.scores.len()),
        ("external ids", entry.external_ids.len()),
        ("broadcasts", entry.broadcasts.len()),
        ("relations", entry.relations.len()),
    ] {
        if n > MAX_ITEMS {
            return Err(format!("more than {MAX_ITEMS} {what}"));
        }
    }
    if entry.releases.len() > MAX_RELEASES {
        return Err(format!("more than {MAX_RELEASES} releases"));
    }
    for (source, id) in &entry.external_ids {
        too_long("an external id's source", source, 32)?;
        too_long("an external id", id, 64)?;
    }
    for b in &entry.broadcasts {
        too_long("a broadcast's platform", &b.platform, 32)?;
        too_long("a broadcast rule", &b.rule, 128)?;
    }
    if let (Some(from), Some(to)) = (entry.aired_from, entry.aired_to)
        && from > to
    {
        return Err(format!("it cannot end ({to}) before it begins ({from})"));
    }
    Ok(())
}

/// A link's label: its host name.
pub fn link_label(url: &str) -> String {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(url)
        .trim_start_matches("www.")
        .to_owned()
}

/// A field's value as text, for audit summaries.
pub fn field_text(entry: &Entry, field: Field) -> String {
    let list = |v: &[String]| v.join(", ");
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    match field {
        Field::Title => entry.title.clone(),
        Field::Kind => opt(entry.kind.map(|k| k.label().to_owned())),
        Field::Genres => list(&entry.genres),
        Field::Status => opt(entry.status.map(|s| s.label().to_owned())),
        Field::Season => opt(entry.season.map(|s| s.to_string())),
        Field::Aired => opt(entry.aired_from.map(|d| d.to_string())),
        Field::Ended => opt(entry.aired_to.map(|d| d.to_string())),
        Field::Episodes => opt(entry.episodes.map(|n| n.to_string())),
        Field::Duration => opt(entry.duration_min.map(|n| format!("{n} min"))),
        Field::Audio => list(&entry.audio),
        Field::Subtitles => list(&entry.subtitles),
        Field::Qualities => list(&entry.qualities),
        Field::Studios => list(&entry.studios),
        Field::Synopsis => opt(entry.synopsis.as_ref().map(|s| {
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() {
                format!("{short}…")
            } else {
                short
            }
        })),
        Field::Picture => opt(entry.picture.clone()),
        Field::Airing => match entry.ongoing {
            None => "—".into(),
            Some(Ongoing {
                current: Some(n),
                as_of,
            }) => format!("ongoing, episode {n} as of {}", as_of.format("%Y-%m-%d")),
            Some(Ongoing { current: None, .. }) => "ongoing".into(),
        },
        Field::Links => entry
            .links
            .iter()
            .map(|l| l.url.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        Field::Adult => opt(entry
            .is_adult
            .map(|a| if a { "yes" } else { "no" }.to_owned())),
    }
}

/// `episodes: 12 → 13; audio: — → Tamil` for every field that differs.
pub fn describe_changes(before: &Entry, after: &Entry) -> String {
    let mut parts: Vec<String> = Field::ALL
        .iter()
        .filter_map(|&f| {
            let (a, b) = (field_text(before, f), field_text(after, f));
            (a != b).then(|| format!("{}: {} → {}", f.name(), a, b))
        })
        .collect();
    if before.external_ids != after.external_ids {
        parts.push("external ids changed".into());
    }
    if before.alt_titles != after.alt_titles {
        parts.push("titles changed".into());
    }
    if before.scores != after.scores {
        parts.push("scores changed".into());
    }
    if before.releases != after.releases {
        parts.push("episodes released changed".into());
    }
    if parts.is_empty() {
        "no change".into()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typed_values() {
        assert_eq!(
            parse_field("type", "TV"),
            Ok(FieldValue::Kind(Some(Kind::Tv)))
        );
        assert_eq!(parse_field("eps", "13"), Ok(FieldValue::Episodes(Some(13))));
        assert_eq!(
            parse_field("duration", "24min"),
            Ok(FieldValue::Duration(Some(24)))
        );
        assert_eq!(parse_field("episodes", ""), Ok(FieldValue::Episodes(None)));
        assert_eq!(
            parse_field("qualities", "480p/720p/1080p"),
            Ok(FieldValue::Qualities(vec![
                "480p".into(),
                "720p".into(),
                "1080p".into()
            ]))
        );
        assert!(matches!(
            parse_field("season", "winter-2024"),
            Ok(FieldValue::Season(Some(_)))
        ));
        assert!(
            matches!(parse_field("id.mal", "54794"), Ok(FieldValue::ExternalId(s, Some(id))) if s == "mal" && id == "54794")
        );
    }

    #[test]
    fn refuses_bad_values() {
        assert!(parse_field("kind", "cartoon").is_err());
        assert!(parse_field("episodes", "-1").is_err());
        assert!(parse_field("episodes", "many").is_err());
        assert!(parse_field("picture", "javascript:alert(1)").is_err());
        assert!(parse_field("title", "").is_err());
        assert!(parse_field("title", "!!!").is_err());
        assert!(parse_field("synopsis", &"x".repeat(5000)).is_err());
        assert!(
            parse_field("colour", "red")
                .unwrap_err()
                .contains("Unknown field")
        );
    }

    #[test]
    fn describes_what_changed() {
        let before = Entry::new(1, "A");
        let mut after = before.clone();
        after.episodes = Some(13);
        assert_eq!(describe_changes(&before, &after), "episodes: — → 13");
        assert_eq!(describe_changes(&before, &before), "no change");
    }
}
