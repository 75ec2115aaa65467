//! manami-project's anime-offline-database
//! (<https://github.com/manami-project/anime-offline-database>, ODbL 1.0 and
//! DbCL 1.0), in either of its two shapes:
//!
//! - JSON: `{"license", "repository", "scoreRange", "lastUpdate", "data": [<anime>, …]}`,
//!   with positions `data[<index>]`;
//! - JSONL: a metadata line (the same object without `data`), then one anime
//!   per line, with positions `line <n>` counted from 1.
//!
//! Telling them apart: a file that is one JSON value is the JSON shape and
//! must be an object with a `data` array. Any other file is JSONL, whose first
//! non-blank line must be a JSON object without `data`; that line is the
//! metadata unless it has `sources`, in which case the file has no metadata
//! line and it is the first anime. Blank lines are ignored and a line that is
//! not JSON is skipped. (A JSONL file of the metadata line alone is thus one
//! JSON value without `data`, and refused.)
//!
//! How an anime becomes an [`Entry`]:
//! - `title` is the main title (romaji), `synonyms` are synonym titles (as
//!   many as the catalog keeps, each no longer than its title limit);
//! - `type`, `episodes` (0 is unknown), `status` and `animeSeason` map onto the
//!   fields of the same meaning, leaving out `UNKNOWN` and `UNDEFINED`;
//! - `picture` is kept unless it is the database's `no_pic` placeholder;
//! - `duration` (seconds) becomes whole minutes, at least 1;
//! - the first eight `tags` become genres and `studios` the studios,
//!   capitalised where the database has them in lower case;
//! - every `sources` URL is a link, and those of known sites give external ids;
//! - the optional `score` gives an `offline-db` score on the file's
//!   `scoreRange` scale, dated by its `lastUpdate`.
//!
//! Every anime is a work of its own (the database already merges the sites'
//! listings of one work, so no two of its records are the same anime), and
//! every source id names one work. Only `title` and `sources` are required of
//! an anime: they name it and match it to the catalog. An anime missing either, with an empty `sources`,
//! with a title without letters or digits, or with a field of the wrong type
//! is skipped.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Format, ImportError, Incoming, Parsed, Skipped};
use crate::core::catalog::model::{Entry, Kind, Link, Season, SourceScore, Status, TitleLang};

/// How many tags become genres: the database's tags are uncurated and many.
const MAX_GENRES: usize = 8;

/// The source key of the score this format gives.
const SCORE_SOURCE: &str = "offline-db";

/// Sites whose anime pages name one title: host, the path before the id, and
/// the external-id source.
const ID_SITES: [(&str, &str, &str); 11] = [
    ("myanimelist.net", "anime/", "mal"),
    ("anidb.net", "anime/", "anidb"),
    ("anilist.co", "anime/", "anilist"),
    ("kitsu.app", "anime/", "kitsu"),
    ("kitsu.io", "anime/", "kitsu"),
    ("anime-planet.com", "anime/", "anime-planet"),
    ("livechart.me", "anime/", "livechart"),
    ("notify.moe", "anime/", "notify"),
    ("anisearch.com", "anime/", "anisearch"),
    ("simkl.com", "anime/", "simkl"),
    ("animecountdown.com", "", "animecountdown"),
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Anime {
    sources: Vec<String>,
    title: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    episodes: Option<u32>,
    status: Option<String>,
    anime_season: Option<AnimeSeason>,
    picture: Option<String>,
    duration: Option<Duration>,
    synonyms: Option<Vec<String>>,
    studios: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    score: Option<Score>,
}

#[derive(Deserialize)]
struct AnimeSeason {
    season: Option<String>,
    year: Option<i32>,
}

#[derive(Deserialize)]
struct Duration {
    value: f64,
    unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Score {
    arithmetic_mean: Option<f64>,
    median: Option<f64>,
}

/// What the file's metadata says about every anime in it.
struct Meta {
    scale_max: f64,
    as_of: Option<NaiveDate>,
}

impl Meta {
    fn read(meta: &Map<String, Value>) -> Meta {
        let scale_max = meta
            .get("scoreRange")
            .and_then(|range| range.get("maxInclusive"))
            .and_then(Value::as_f64)
            .filter(|max| max.is_finite() && *max > 0.0)
            .unwrap_or(10.0);
        let as_of = meta
            .get("lastUpdate")
            .and_then(Value::as_str)
            .and_then(|date| NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok());
        Meta { scale_max, as_of }
    }
}

/// Reads an anime-offline-database file, JSON or JSONL; anime that do not
/// decode are skipped.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => parse_json(value),
        Err(whole) => parse_jsonl(bytes, whole),
    }
}

fn parse_json(value: Value) -> Result<Parsed, ImportError> {
    let Value::Object(mut file) = value else {
        return Err(shape("the top level is not an object"));
    };
    let Some(Value::Array(data)) = file.remove("data") else {
        return Err(shape("there is no `data` array"));
    };
    let meta = Meta::read(&file);
    let mut parsed = Parsed::default();
    for (i, value) in data.into_iter().enumerate() {
        let position = format!("data[{i}]");
        let result = anime(value, &meta, &position);
        record(&mut parsed, position, result);
    }
    Ok(parsed)
}

/// `whole` is why the file is not one JSON value, reported when it is not
/// JSONL either.
fn parse_jsonl(bytes: &[u8], whole: serde_json::Error) -> Result<Parsed, ImportError> {
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_ascii()))
        .filter(|(_, line)| !line.is_empty());
    let Some((first_line, first)) = lines.next() else {
        return Err(whole.into());
    };
    let Ok(first) = serde_json::from_slice::<Value>(first) else {
        return Err(whole.into());
    };
    let Value::Object(first) = first else {
        return Err(shape("the first line is not a JSON object"));
    };
    if first.contains_key("data") {
        // A JSON-shape file followed by something else: report the JSON error.
        return Err(whole.into());
    }
    let meta = Meta::read(&first);
    let mut parsed = Parsed::default();
    if first.contains_key("sources") {
        let position = format!("line {first_line}");
        let result = anime(Value::Object(first), &meta, &position);
        record(&mut parsed, position, result);
    }
    for (n, line) in lines {
        let position = format!("line {n}");
        let result = serde_json::from_slice(line)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|value| anime(value, &meta, &position));
        record(&mut parsed, position, result);
    }
    Ok(parsed)
}

fn record(parsed: &mut Parsed, position: String, result: Result<Incoming, String>) {
    match result {
        Ok(incoming) => parsed.records.push(incoming),
        Err(reason) => parsed.skipped.push(Skipped { position, reason }),
    }
}

fn anime(value: Value, meta: &Meta, position: &str) -> Result<Incoming, String> {
    let anime: Anime = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let title = anime.title.trim();
    if crate::core::catalog::text::fold(title).key.is_empty() {
        return Err("the title has no letter or digit".into());
    }
    let sources: Vec<&str> = anime
        .sources
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if sources.is_empty() {
        return Err("there are no sources".into());
    }
    let mut entry = Entry::new(0, title);
    for synonym in anime.synonyms.iter().flatten() {
        super::add_fitting_title(&mut entry, synonym, TitleLang::Synonym);
    }
    entry.kind = anime.kind.as_deref().and_then(kind);
    entry.episodes = anime.episodes.filter(|&n| n > 0);
    entry.status = anime.status.as_deref().and_then(status);
    entry.season = anime.anime_season.and_then(|s| {
        let name = s.season?.trim().parse().ok()?;
        Some(Season {
            name,
            year: s.year?,
        })
    });
    entry.picture = anime
        .picture
        .as_deref()
        .map(str::trim)
        .filter(|url| is_web_url(url) && !url.contains("no_pic"))
        .map(str::to_owned);
    entry.duration_min = anime
        .duration
        .filter(|d| {
            d.unit
                .as_deref()
                .is_none_or(|unit| unit.trim().eq_ignore_ascii_case("seconds"))
        })
        .map(|d| d.value)
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .map(|secs| ((secs / 60.0).round() as u32).max(1));
    entry.genres = names(anime.tags.iter().flatten(), MAX_GENRES);
    entry.studios = names(anime.studios.iter().flatten(), usize::MAX);
    for url in sources {
        if let Some((source, id)) = external_id(url) {
            entry
                .external_ids
                .entry(source.to_owned())
                .or_insert_with(|| id.to_owned());
        }
        if is_web_url(url) && !entry.links.iter().any(|l| l.url == url) {
            entry.links.push(Link {
                label: crate::core::catalog::edit::link_label(url),
                url: url.to_owned(),
            });
        }
    }
    if let Some(value) = anime
        .score
        .and_then(|s| s.arithmetic_mean.or(s.median))
        .filter(|v| v.is_finite())
    {
        entry.scores.push(SourceScore {
            source: SCORE_SOURCE.into(),
            value,
            scale_max: meta.scale_max,
            votes: None,
            as_of: meta.as_of,
        });
    }
    Ok(Incoming {
        entry,
        title_lang: TitleLang::Romaji,
        listing: None,
        position: position.to_owned(),
    })
}

fn kind(kind: &str) -> Option<Kind> {
    match kind.trim().to_ascii_uppercase().as_str() {
        "TV" => Some(Kind::Tv),
        "MOVIE" => Some(Kind::Movie),
        "OVA" => Some(Kind::Ova),
        "ONA" => Some(Kind::Ona),
        "SPECIAL" => Some(Kind::Special),
        _ => None,
    }
}

fn status(status: &str) -> Option<Status> {
    match status.trim().to_ascii_uppercase().as_str() {
        "FINISHED" => Some(Status::Finished),
        "ONGOING" => Some(Status::Airing),
        "UPCOMING" => Some(Status::Upcoming),
        _ => None,
    }
}

/// Up to `max` distinct non-empty names, capitalised.
fn names<'a>(raw: impl Iterator<Item = &'a String>, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in raw.map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if out.len() == max {
            break;
        }
        let name = title_case(name);
        if !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            out.push(name);
        }
    }
    out
}

/// Capitalises each word of a lower-case name (`sci-fi` → `Sci-Fi`,
/// `j.c.staff` → `J.C.Staff`); a name with capitals is kept as written.
fn title_case(name: &str) -> String {
    if name.chars().any(char::is_uppercase) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    let mut word_start = true;
    for c in name.chars() {
        if word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        word_start = c.is_whitespace() || matches!(c, '-' | '.' | '/');
    }
    out
}

/// The external id a source URL names, such as `("mal", "54794")` for
/// `https://myanimelist.net/anime/54794`.
fn external_id(url: &str) -> Option<(&'static str, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let &(_, prefix, source) = ID_SITES.iter().find(|(site, _, _)| *site == host)?;
    let id = path.strip_prefix(prefix)?.split(['/', '?', '#']).next()?;
    (!id.is_empty()).then_some((source, id))
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(char::is_whitespace)
}

fn shape(reason: &str) -> ImportError {
    ImportError::Shape {
        format: Format::OfflineDb,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::model::SeasonName;

    const META: &str = r#""license": {"name": "ODbL 1.0 + DbCL 1.0", "url": "https://example.org/license"},
        "repository": "https://github.com/manami-project/anime-offline-database",
        "scoreRange": {"minInclusive": 1.0, "maxInclusive": 10.0},
        "lastUpdate": "2025-01-05""#;

    const ROUGE: &str = r#"{"sources": ["https://anidb.net/anime/17926", "https://anilist.co/anime/162985",
        "https://kitsu.app/anime/47609", "https://myanimelist.net/anime/54794", "https://www.anime-planet.com/anime/metallic-rouge",
        "https://animecountdown.com/1578960", "https://notify.moe/anime/abc?x=1", "https://example.org/anime/1", "ftp://odd"],
        "title": " Metallic Rouge ", "type": "TV", "episodes": 13, "status": "FINISHED",
        "animeSeason": {"season": "WINTER", "year": 2024},
        "picture": "https://cdn.example.org/rouge.jpg", "thumbnail": "https://cdn.example.org/rouge-t.jpg",
        "duration": {"value": 1440, "unit": "SECONDS"},
        "score": {"arithmeticGeometricMean": 6.1, "arithmeticMean": 6.2, "median": 6.0},
        "synonyms": ["メタリックルージュ", "Metallic Rouge", "METALLIC ROUGE", " "],
        "studios": ["bones", "Bones", "j.c.staff"], "producers": ["aniplex"], "relatedAnime": [],
        "tags": ["action", "mecha", "sci-fi", "action", "a", "b", "c", "d", "e", "f"]}"#;

    const SPARSE: &str = r#"{"sources": ["https://kitsu.io/anime/99"], "title": "Nanika", "type": "UNKNOWN",
        "episodes": 0, "status": "UNKNOWN", "animeSeason": {"season": "UNDEFINED", "year": 2030},
        "picture": "https://raw.githubusercontent.com/manami-project/anime-offline-database/master/pics/no_pic.png",
        "synonyms": [], "studios": [], "tags": []}"#;

    fn ok(bytes: &[u8]) -> Parsed {
        match parse(bytes) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        }
    }

    fn link(url: &str) -> Link {
        Link {
            label: crate::core::catalog::edit::link_label(url),
            url: url.into(),
        }
    }

    fn check_rouge(incoming: &Incoming) {
        let entry = &incoming.entry;
        assert_eq!(incoming.title_lang, TitleLang::Romaji);
        assert_eq!(entry.id, 0);
        assert_eq!(entry.title, "Metallic Rouge");
        let alts: Vec<_> = entry
            .alt_titles
            .iter()
            .map(|a| (a.text.as_str(), a.lang))
            .collect();
        assert_eq!(
            alts,
            [
                ("メタリックルージュ", TitleLang::Synonym),
                ("METALLIC ROUGE", TitleLang::Synonym)
            ]
        );
        assert_eq!(entry.kind, Some(Kind::Tv));
        assert_eq!(entry.episodes, Some(13));
        assert_eq!(entry.status, Some(Status::Finished));
        assert_eq!(
            entry.season,
            Some(Season {
                name: SeasonName::Winter,
                year: 2024
            })
        );
        assert_eq!(
            entry.picture.as_deref(),
            Some("https://cdn.example.org/rouge.jpg")
        );
        assert_eq!(entry.duration_min, Some(24));
        assert_eq!(
            entry.genres,
            ["Action", "Mecha", "Sci-Fi", "A", "B", "C", "D", "E"]
        );
        assert_eq!(entry.studios, ["Bones", "J.C.Staff"]);
        let ids: Vec<_> = entry
            .external_ids
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("anidb", "17926"),
                ("anilist", "162985"),
                ("anime-planet", "metallic-rouge"),
                ("animecountdown", "1578960"),
                ("kitsu", "47609"),
                ("mal", "54794"),
                ("notify", "abc"),
            ]
        );
        assert_eq!(
            entry.links,
            [
                link("https://anidb.net/anime/17926"),
                link("https://anilist.co/anime/162985"),
                link("https://kitsu.app/anime/47609"),
                link("https://myanimelist.net/anime/54794"),
                link("https://www.anime-planet.com/anime/metallic-rouge"),
                link("https://animecountdown.com/1578960"),
                link("https://notify.moe/anime/abc?x=1"),
                link("https://example.org/anime/1"),
            ]
        );
        assert_eq!(entry.links[4].label, "anime-planet.com");
        assert_eq!(
            entry.scores,
            [SourceScore {
                source: "offline-db".into(),
                value: 6.2,
                scale_max: 10.0,
                votes: None,
                as_of: NaiveDate::from_ymd_opt(2025, 1, 5),
            }]
        );
        assert!(
            entry.aired_from.is_none() && entry.broadcasts.is_empty() && entry.synopsis.is_none()
        );
    }

    fn check_sparse(incoming: &Incoming) {
        let entry = &incoming.entry;
        assert_eq!(entry.title, "Nanika");
        assert_eq!(
            entry.external_ids.get("kitsu").map(String::as_str),
            Some("99")
        );
        assert_eq!(
            (entry.kind, entry.episodes, entry.status, entry.season),
            (None, None, None, None)
        );
        assert_eq!((entry.picture.as_deref(), entry.duration_min), (None, None));
        assert!(entry.genres.is_empty() && entry.studios.is_empty() && entry.scores.is_empty());
        assert!(entry.alt_titles.is_empty());
    }

    #[test]
    fn json_shape_maps_field_by_field() {
        let file = format!(
            r#"{{{META}, "data": [{ROUGE}, {SPARSE},
                {{"sources": ["https://anidb.net/anime/1"]}},
                {{"sources": ["https://anidb.net/anime/2"], "title": "・・・"}},
                {{"sources": ["https://anidb.net/anime/3"], "title": "Wrong", "episodes": "twelve"}},
                {{"title": "No sources"}},
                {{"sources": [" "], "title": "Empty sources"}},
                [1],
                {{"sources": ["https://anidb.net/anime/4"], "title": "Short", "duration": {{"value": 20, "unit": "SECONDS"}},
                  "score": {{"median": 7.5}}}}
            ]}}"#
        );
        let parsed = ok(file.as_bytes());
        let positions: Vec<_> = parsed.skipped.iter().map(|s| s.position.as_str()).collect();
        assert_eq!(
            positions,
            [
                "data[2]", "data[3]", "data[4]", "data[5]", "data[6]", "data[7]"
            ]
        );
        let reasons: Vec<_> = parsed.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(
            reasons[0].contains("missing field `title`"),
            "{}",
            reasons[0]
        );
        assert_eq!(reasons[1], "the title has no letter or digit");
        assert!(reasons[2].contains("invalid type"), "{}", reasons[2]);
        assert!(
            reasons[3].contains("missing field `sources`"),
            "{}",
            reasons[3]
        );
        assert_eq!(reasons[4], "there are no sources");
        let [rouge, sparse, short] = parsed.records.as_slice() else {
            panic!("{:?}", parsed.records)
        };
        check_rouge(rouge);
        check_sparse(sparse);
        assert_eq!(short.entry.duration_min, Some(1));
        assert_eq!(short.entry.scores.first().map(|s| s.value), Some(7.5));
    }

    #[test]
    fn jsonl_shape_maps_and_skips_by_line() {
        let meta = format!(r#"{{{META}}}"#).replace('\n', " ");
        let rouge = ROUGE.replace('\n', " ");
        let sparse = SPARSE.replace('\n', " ");
        let file = format!(
            "{meta}\r\n{rouge}\r\n\n{{not json\n{{\"sources\": [\"https://anidb.net/anime/1\"], \"title\": \"\"}}\n{sparse}\n  \n"
        );
        let parsed = ok(file.as_bytes());
        let skipped: Vec<_> = parsed
            .skipped
            .iter()
            .map(|s| (s.position.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(skipped[0].0, "line 4");
        assert!(skipped[0].1.starts_with("not JSON: "), "{}", skipped[0].1);
        assert_eq!(skipped[1], ("line 5", "the title has no letter or digit"));
        let [rouge, sparse] = parsed.records.as_slice() else {
            panic!("{:?}", parsed.records)
        };
        check_rouge(rouge);
        check_sparse(sparse);
    }

    #[test]
    fn jsonl_without_metadata_or_score_range() {
        let file = format!(
            "\u{feff}{}\n{}\n",
            SPARSE.replace('\n', " "),
            ROUGE.replace('\n', " ")
        );
        let parsed = ok(file.as_bytes());
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        let [sparse, rouge] = parsed.records.as_slice() else {
            panic!("{:?}", parsed.records)
        };
        check_sparse(sparse);
        let score = rouge.entry.scores.first();
        assert_eq!(score.map(|s| (s.scale_max, s.as_of)), Some((10.0, None)));

        let file = format!(
            "{{\"scoreRange\": {{\"minInclusive\": 0, \"maxInclusive\": 100}}, \"lastUpdate\": \"soon\"}}\n{}",
            ROUGE.replace('\n', " ")
        );
        let parsed = ok(file.as_bytes());
        let score = parsed.records.first().and_then(|r| r.entry.scores.first());
        assert_eq!(score.map(|s| (s.scale_max, s.as_of)), Some((100.0, None)));
    }

    #[test]
    fn refuses_malformed_files() {
        for bad in [
            &b"not json"[..],
            b"",
            b"  \n \n",
            b"[1,2]",
            b"{}",
            br#"{"data": 5}"#,
            br#"{"license": {}, "repository": "x"}"#,
            b"[1]\n[2]",
            b"5\n{\"title\": \"x\", \"sources\": []}",
            b"{\"data\": []}\n{\"data\": []}",
            b"{\n\"data\": [\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(parse(b"not json"), Err(ImportError::Json(_))));
        assert!(matches!(
            parse(b"{}"),
            Err(ImportError::Shape {
                format: Format::OfflineDb,
                ..
            })
        ));
        assert!(matches!(parse(b"[1]\n[2]"), Err(ImportError::Shape { .. })));
    }

    #[test]
    fn external_ids_by_host() {
        for (url, expected) in [
            (
                "https://myanimelist.net/anime/54794",
                Some(("mal", "54794")),
            ),
            (
                "http://www.MyAnimeList.net/anime/54794/Metallic_Rouge",
                Some(("mal", "54794")),
            ),
            ("https://kitsu.io/anime/47609", Some(("kitsu", "47609"))),
            (
                "https://livechart.me/anime/11813",
                Some(("livechart", "11813")),
            ),
            (
                "https://anisearch.com/anime/18349",
                Some(("anisearch", "18349")),
            ),
            (
                "https://simkl.com/anime/2165337",
                Some(("simkl", "2165337")),
            ),
            ("https://myanimelist.net/manga/1", None),
            ("https://anilist.co/anime/", None),
            ("https://anidb.net", None),
            ("https://example.org/anime/1", None),
        ] {
            assert_eq!(external_id(url), expected, "{url}");
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => panic!("{path}: {e}"),
        }
    }

    #[test]
    fn sample_fixtures_agree() {
        let json = ok(&fixture("offline-db-sample.json"));
        let jsonl = ok(&fixture("offline-db-sample.jsonl"));
        assert!(
            json.skipped.is_empty() && jsonl.skipped.is_empty(),
            "{:?} {:?}",
            json.skipped,
            jsonl.skipped
        );
        let entries =
            |p: &Parsed| -> Vec<Entry> { p.records.iter().map(|r| r.entry.clone()).collect() };
        assert_eq!(entries(&json), entries(&jsonl));
        assert_eq!(json.records[0].position, "data[0]");
        assert_eq!(json.records.len(), 4);
        let Some(rouge) = json
            .records
            .iter()
            .map(|r| &r.entry)
            .find(|e| e.title == "Metallic Rouge")
        else {
            panic!("Metallic Rouge is missing");
        };
        let ids: Vec<_> = rouge
            .external_ids
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("anidb", "17926"),
                ("anilist", "162985"),
                ("kitsu", "47609"),
                ("mal", "54794")
            ]
        );
        assert_eq!(rouge.kind, Some(Kind::Tv));
        assert_eq!(rouge.episodes, Some(13));
        assert_eq!(rouge.status, Some(Status::Finished));
        assert_eq!(
            rouge.season,
            Some(Season {
                name: SeasonName::Winter,
                year: 2024
            })
        );
        assert_eq!(rouge.duration_min, Some(24));
        assert_eq!(rouge.studios, ["Bones"]);
        assert_eq!(rouge.genres, ["Action", "Mecha", "Sci-Fi"]);
        assert_eq!(
            rouge.scores.first().map(|s| (s.value, s.scale_max)),
            Some((6.2, 10.0))
        );
    }
}
