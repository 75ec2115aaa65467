//! bangumi-data's `data.json` (<https://github.com/bangumi-data/bangumi-data>,
//! CC BY 4.0, credit "bangumi-data"):
//!
//! ```json
//! {"siteMeta": {"<site>": {"title", "urlTemplate", "type"}, …}, "items": [<item>, …]}
//! ```
//!
//! How an item becomes an [`Entry`]:
//! - `title` is the main title and `lang` its language; each
//!   `titleTranslate` text is an alternative title in its language, unless
//!   it is longer than the catalog keeps (200 characters: one English title
//!   in 0.3.208 has 207), when it is left out rather than the whole item.
//! - `type` (tv, web, movie, ova) is the kind; `begin` and `end`, ISO
//!   timestamps that may be empty, give the air dates as dates in the item's
//!   own region (see `zone`): Metallic Rouge begins 2024-01-10T16:25Z, which
//!   is 01:25 on 2024-01-11 in Tokyo, the day it premiered. A bare date is
//!   that date. The status is left unset because it follows from the dates.
//! - `officialSite` is a link, and so is every site that siteMeta calls an
//!   info or onair site: its own `url`, else its `urlTemplate` with `{{id}}`
//!   replaced, labelled with the siteMeta title. Resource (download) sites and
//!   sites siteMeta does not know get no link.
//! - Info sites give external ids under their lower-case key (`bangumi`,
//!   `mal`, `anidb`, `anilist`, `tmdb`), except TMDB ids that name a whole
//!   show (`tv/<id>`) or its bucket of specials (`tv/<id>/season/0`): only a
//!   season or a film names one work, and identity is about works.
//! - An item's listing key is its bangumi subject and its start: two items
//!   with both the same (a Chinese and a Japanese listing of one show) are one
//!   work. Items sharing only a MyAnimeList, AniDB or AniList id are not: the
//!   file points several seasons, arcs and films at one franchise-level id.
//! - The item's `broadcast` is the `tv` broadcast; each onair site with a
//!   `broadcast` adds one under the site's key, ending at the site's `end` or
//!   else the item's. Broadcast rules and ends stay UTC instants.
//! - The file's data horizon ([`Parsed::data_as_of`]) is the newest of the
//!   items' `begin` and `end` and the sites' `begin`, as a UTC date.
//!
//! A file that is not an object with an `items` array, or whose siteMeta does
//! not decode, is refused. An item that does not decode, has an unreadable
//! date or a title without letters or digits is skipped as `items[<index>]`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;

use super::{Format, ImportError, Incoming, Parsed, Rules, Skipped};
use crate::core::catalog::model::{Broadcast, Entry, Kind, Link, TitleLang};

/// Keys of sites whose ids name one title, for sites siteMeta does not list.
const ID_SITES: [&str; 4] = ["bangumi", "mal", "anidb", "anilist"];
/// The info site whose ids name a whole show, unless they name a season or a film.
const SHOW_ID_SITE: &str = "tmdb";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SiteMeta {
    title: String,
    #[serde(default)]
    url_template: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    title: String,
    title_translate: Option<BTreeMap<String, Vec<String>>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    lang: Option<String>,
    official_site: Option<String>,
    begin: Option<String>,
    broadcast: Option<String>,
    end: Option<String>,
    sites: Option<Vec<Site>>,
}

#[derive(Deserialize)]
struct Site {
    site: String,
    id: Option<String>,
    begin: Option<String>,
    url: Option<String>,
    broadcast: Option<String>,
    end: Option<String>,
}

/// Reads a bangumi-data `data.json`; items that do not decode are skipped.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let Value::Object(mut file) = serde_json::from_slice(bytes)? else {
        return Err(shape("the top level is not an object"));
    };
    let Some(Value::Array(items)) = file.remove("items") else {
        return Err(shape("there is no `items` array"));
    };
    let site_meta: BTreeMap<String, SiteMeta> = match file.remove("siteMeta") {
        Some(meta) => serde_json::from_value(meta).map_err(|e| shape(&format!("siteMeta: {e}")))?,
        None => BTreeMap::new(),
    };
    let mut parsed = Parsed {
        rules: Rules {
            keep_ids: false,
            split_absorbed: true,
        },
        ..Parsed::default()
    };
    for (i, value) in items.into_iter().enumerate() {
        let position = format!("items[{i}]");
        match item(value, &site_meta, position.clone()) {
            Ok((incoming, newest)) => {
                parsed.data_as_of = parsed.data_as_of.max(newest);
                parsed.records.push(incoming);
            }
            Err(reason) => parsed.skipped.push(Skipped { position, reason }),
        }
    }
    Ok(parsed)
}

/// An item as a record, and the newest date it mentions.
fn item(
    value: Value,
    site_meta: &BTreeMap<String, SiteMeta>,
    position: String,
) -> Result<(Incoming, Option<NaiveDate>), String> {
    let item: Item = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let title = item.title.trim();
    if crate::core::catalog::text::fold(title).key.is_empty() {
        return Err("the title has no letter or digit".into());
    }
    let mut entry = Entry::new(0, title);
    for (lang, texts) in item.title_translate.iter().flatten() {
        for text in texts {
            super::add_fitting_title(&mut entry, text, title_lang(lang));
        }
    }
    entry.kind = non_empty(item.kind.as_deref()).and_then(kind);
    let lang = item.lang.as_deref().unwrap_or_default().trim();
    let begin = timestamp("begin", item.begin.as_deref())?;
    let end = timestamp("end", item.end.as_deref())?;
    entry.aired_from = begin.map(|t| t.date_in(zone(lang)));
    entry.aired_to = end.map(|t| t.date_in(zone(lang)));
    let mut newest = begin.max(end).map(When::utc_date);
    let end = end.map(When::instant);
    if let Some(url) = non_empty(item.official_site.as_deref()) {
        push_link(&mut entry, "Official site", url);
    }
    if let Some(rule) = non_empty(item.broadcast.as_deref()) {
        entry.broadcasts.push(Broadcast {
            platform: "tv".into(),
            rule: rule.to_owned(),
            ends: end,
        });
    }
    for site in item.sites.iter().flatten() {
        let key = site.site.trim();
        let meta = site_meta.get(key);
        // A site's begin only dates the data; one that does not read is no reason to skip the item.
        let site_begin = timestamp("a site's begin", site.begin.as_deref())
            .ok()
            .flatten();
        newest = newest.max(site_begin.map(When::utc_date));
        if let Some(source) = id_source(key, meta)
            && let Some(id) = non_empty(site.id.as_deref())
            && names_one_work(&source, id)
        {
            entry
                .external_ids
                .entry(source)
                .or_insert_with(|| id.to_owned());
        }
        let Some(meta) = meta else { continue };
        let onair = meta.kind == "onair";
        if !onair && meta.kind != "info" {
            continue;
        }
        if let Some(url) = site_url(site, meta) {
            let label = non_empty(Some(&meta.title)).unwrap_or(key);
            push_link(&mut entry, label, &url);
        }
        if onair
            && let Some(rule) = non_empty(site.broadcast.as_deref())
            && !entry.broadcasts.iter().any(|b| b.platform == key)
        {
            let ends = timestamp("a site's end", site.end.as_deref())?
                .map(When::instant)
                .or(end);
            entry.broadcasts.push(Broadcast {
                platform: key.to_owned(),
                rule: rule.to_owned(),
                ends,
            });
        }
    }
    let listing = entry.external_ids.get("bangumi").map(|subject| {
        let start = begin.map(When::key).unwrap_or_default();
        format!("bangumi {subject} from {start}")
    });
    let incoming = Incoming {
        entry,
        title_lang: title_lang(lang),
        listing,
        position,
    };
    Ok((incoming, newest))
}

/// The time zone an item's air dates are read in: its region's, from `lang`.
/// bangumi-data's times are UTC instants, and a late-night premiere in Tokyo
/// falls on the day before in UTC (74 % of the items in 0.3.208).
/// English-language items are read in UTC: they are US web and TV releases
/// (RWBY, Castlevania, Robotech) whose times are either midnight UTC, a bare
/// day, or a US daytime, both already on the published date, which a US zone
/// would move a day earlier for the midnight ones. Other languages: UTC.
fn zone(lang: &str) -> Tz {
    match lang {
        "ja" => chrono_tz::Asia::Tokyo,
        "zh-Hans" => chrono_tz::Asia::Shanghai,
        "zh-Hant" => chrono_tz::Asia::Taipei,
        _ => chrono_tz::UTC,
    }
}

fn title_lang(lang: &str) -> TitleLang {
    match lang {
        "ja" => TitleLang::Ja,
        "zh-Hans" => TitleLang::ZhHans,
        "zh-Hant" => TitleLang::ZhHant,
        "en" => TitleLang::En,
        _ => TitleLang::Synonym,
    }
}

fn kind(kind: &str) -> Option<Kind> {
    match kind.to_ascii_lowercase().as_str() {
        "tv" => Some(Kind::Tv),
        "web" => Some(Kind::Web),
        "movie" => Some(Kind::Movie),
        "ova" => Some(Kind::Ova),
        _ => None,
    }
}

/// The external-id source a site's id is recorded under, if any.
fn id_source(key: &str, meta: Option<&SiteMeta>) -> Option<String> {
    let source = key.to_ascii_lowercase();
    let info = match meta {
        Some(meta) => meta.kind == "info",
        None => ID_SITES.contains(&source.as_str()),
    };
    info.then_some(source)
}

/// Whether an id names one work: TMDB's `tv/<id>` names a whole show and
/// `tv/<id>/season/0` its specials, while bangumi-data's items are per season.
fn names_one_work(source: &str, id: &str) -> bool {
    source != SHOW_ID_SITE
        || id.starts_with("movie/")
        || (id.contains("/season/") && !id.ends_with("/season/0"))
}

/// The site's own `url` wins: bangumi-data sets it where the template does not fit.
fn site_url(site: &Site, meta: &SiteMeta) -> Option<String> {
    if let Some(url) = non_empty(site.url.as_deref()) {
        return Some(url.to_owned());
    }
    let id = non_empty(site.id.as_deref())?;
    let template = meta.url_template.trim();
    template
        .contains("{{id}}")
        .then(|| template.replace("{{id}}", id))
}

/// Adds a link unless its URL is already there or is not a web address
/// (the data has a few typos such as `ttp://`).
fn push_link(entry: &mut Entry, label: &str, url: &str) {
    let web = url.starts_with("https://") || url.starts_with("http://");
    if web && !url.contains(char::is_whitespace) && !entry.links.iter().any(|l| l.url == url) {
        entry.links.push(Link {
            label: label.to_owned(),
            url: url.to_owned(),
        });
    }
}

/// A time in the file: an instant, or a bare date, which names a day
/// wherever the work airs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum When {
    Instant(DateTime<Utc>),
    Date(NaiveDate),
}

impl When {
    /// The day this falls on in `zone`; a bare date is that date.
    fn date_in(self, zone: Tz) -> NaiveDate {
        match self {
            When::Instant(t) => t.with_timezone(&zone).date_naive(),
            When::Date(d) => d,
        }
    }

    /// As an instant, for broadcast ends: a bare date is midnight UTC.
    fn instant(self) -> DateTime<Utc> {
        match self {
            When::Instant(t) => t,
            When::Date(d) => d.and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// The UTC day, for the data horizon, which describes the file rather
    /// than one work's region.
    fn utc_date(self) -> NaiveDate {
        self.date_in(chrono_tz::UTC)
    }

    /// One spelling per time, for listing keys (`…000Z` and `+09:00` forms agree).
    fn key(self) -> String {
        match self {
            When::Instant(t) => t.to_rfc3339(),
            When::Date(d) => d.to_string(),
        }
    }
}

/// Reads an ISO timestamp such as `2024-01-10T16:25:00.000Z` or a bare
/// date; an empty string is no time.
fn timestamp(field: &str, value: Option<&str>) -> Result<Option<When>, String> {
    let Some(value) = non_empty(value) else {
        return Ok(None);
    };
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(When::Instant(time.with_timezone(&Utc))));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|date| Some(When::Date(date)))
        .map_err(|_| format!("{field} \"{value}\" is not an ISO date"))
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

fn shape(reason: &str) -> ImportError {
    ImportError::Shape {
        format: Format::BangumiData,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE_META: &str = r#"{
        "bangumi": {"title": "番组计划", "urlTemplate": "https://bangumi.tv/subject/{{id}}", "type": "info"},
        "tmdb": {"title": "The Movie DB", "urlTemplate": "https://www.themoviedb.org/{{id}}", "type": "info"},
        "mal": {"title": "MyAnimeList", "urlTemplate": "https://myanimelist.net/anime/{{id}}", "type": "info"},
        "aniList": {"title": "AniList", "urlTemplate": "https://anilist.co/anime/{{id}}", "type": "info"},
        "gamer": {"title": "動畫瘋", "urlTemplate": "https://acg.gamer.com.tw/acgDetail.php?s={{id}}", "type": "onair"},
        "gamer_hk": {"title": "動畫瘋 HK", "urlTemplate": "https://acg.gamer.com.tw/acgDetail.php?s={{id}}", "type": "onair"},
        "iqiyi": {"title": "爱奇艺", "urlTemplate": "https://www.iqiyi.com/{{id}}.html", "type": "onair"},
        "mikan": {"title": "蜜柑计划", "urlTemplate": "https://mikanani.me/Home/Bangumi/{{id}}", "type": "resource"}
    }"#;

    fn file(items: &str) -> Vec<u8> {
        format!(r#"{{"siteMeta": {SITE_META}, "items": [{items}]}}"#).into_bytes()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        match DateTime::parse_from_rfc3339(text) {
            Ok(time) => time.with_timezone(&Utc),
            Err(e) => panic!("bad test timestamp {text}: {e}"),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    fn link(label: &str, url: &str) -> Link {
        Link {
            label: label.into(),
            url: url.into(),
        }
    }

    const FULL: &str = r#"{
        "title": " メタリックルージュ ",
        "titleTranslate": {"en": ["METALLIC ROUGE", "Metallic Rouge"], "zh-Hans": ["金属胭脂", "金属口红"], "zh-Hant": ["金屬口紅", " "], "ja": ["メタリックルージュ"]},
        "type": "tv",
        "lang": "ja",
        "officialSite": "https://metallicrouge.jp/",
        "begin": "2024-01-10T16:25:00.000Z",
        "broadcast": "R/2024-01-10T16:25:00.000Z/P7D",
        "end": "2024-04-03T16:25:00.000Z",
        "comment": "",
        "sites": [
            {"site": "bangumi", "id": "425595"},
            {"site": "gamer", "id": "131110", "begin": "2024-01-10T16:55:00.000Z", "broadcast": "R/2024-01-10T16:55:00.000Z/P7D"},
            {"site": "gamer_hk", "id": "131110", "begin": "", "broadcast": "R/2024-01-10T16:55:00.000Z/P7D", "end": "2024-03-01"},
            {"site": "iqiyi", "begin": "", "url": "http://www.iqiyi.com/v_19rrifx03h.html", "broadcast": ""},
            {"site": "mikan", "id": "3232"},
            {"site": "tmdb", "id": "tv/222787"},
            {"site": "mal", "id": " 54794 "},
            {"site": "aniList", "id": "162985"},
            {"site": "anidb", "id": "17926"},
            {"site": "netflix", "id": "81753309", "broadcast": "R/2025-02-27T16:00:00.000Z/P7D"}
        ]
    }"#;

    #[test]
    fn maps_an_item_field_by_field() {
        let parsed = match parse(&file(FULL)) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        let [
            Incoming {
                entry, title_lang, ..
            },
        ] = parsed.records.as_slice()
        else {
            panic!("expected one record, got {:?}", parsed.records)
        };
        assert_eq!(*title_lang, TitleLang::Ja);
        assert_eq!(entry.id, 0);
        assert_eq!(entry.title, "メタリックルージュ");
        let alts: Vec<_> = entry
            .alt_titles
            .iter()
            .map(|a| (a.text.as_str(), a.lang))
            .collect();
        assert_eq!(
            alts,
            [
                ("METALLIC ROUGE", TitleLang::En),
                ("Metallic Rouge", TitleLang::En),
                ("金属胭脂", TitleLang::ZhHans),
                ("金属口红", TitleLang::ZhHans),
                ("金屬口紅", TitleLang::ZhHant),
            ]
        );
        assert_eq!(entry.kind, Some(Kind::Tv));
        assert_eq!(entry.status, None);
        assert_eq!(entry.season, None);
        // 16:25 UTC is 01:25 the next day in Tokyo.
        assert_eq!(entry.aired_from, date(2024, 1, 11));
        assert_eq!(entry.aired_to, date(2024, 4, 4));
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
                ("bangumi", "425595"),
                ("mal", "54794")
            ]
        );
        assert_eq!(
            entry.links,
            [
                link("Official site", "https://metallicrouge.jp/"),
                link("番组计划", "https://bangumi.tv/subject/425595"),
                link("動畫瘋", "https://acg.gamer.com.tw/acgDetail.php?s=131110"),
                link("爱奇艺", "http://www.iqiyi.com/v_19rrifx03h.html"),
                link("The Movie DB", "https://www.themoviedb.org/tv/222787"),
                link("MyAnimeList", "https://myanimelist.net/anime/54794"),
                link("AniList", "https://anilist.co/anime/162985"),
            ]
        );
        let item_end = Some(utc("2024-04-03T16:25:00Z"));
        assert_eq!(
            entry.broadcasts,
            [
                Broadcast {
                    platform: "tv".into(),
                    rule: "R/2024-01-10T16:25:00.000Z/P7D".into(),
                    ends: item_end
                },
                Broadcast {
                    platform: "gamer".into(),
                    rule: "R/2024-01-10T16:55:00.000Z/P7D".into(),
                    ends: item_end
                },
                Broadcast {
                    platform: "gamer_hk".into(),
                    rule: "R/2024-01-10T16:55:00.000Z/P7D".into(),
                    ends: Some(utc("2024-03-01T00:00:00Z")),
                },
            ]
        );
        assert!(entry.genres.is_empty() && entry.scores.is_empty() && entry.episodes.is_none());
    }

    #[test]
    fn sparse_items_and_languages() {
        let items = r#"
            {"title": "某科学的超电磁炮", "titleTranslate": {}, "type": "web", "lang": "zh-Hans",
             "officialSite": "", "begin": "", "end": "", "sites": []},
            {"title": "Cat Planet", "type": "special", "lang": "en", "officialSite": "ttp://typo.example",
             "begin": "2020-02-29", "broadcast": " ", "end": ""},
            {"title": "Bare", "lang": "ko", "sites": [{"site": "MAL", "id": "7"}, {"site": "kitsu", "id": "9"}]}
        "#;
        let parsed = match parse(&file(items)) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        let [a, b, c] = parsed.records.as_slice() else {
            panic!("{:?}", parsed.records)
        };
        assert_eq!(a.title_lang, TitleLang::ZhHans);
        assert_eq!(a.entry.kind, Some(Kind::Web));
        assert_eq!((a.entry.aired_from, a.entry.aired_to), (None, None));
        assert!(
            a.entry.links.is_empty()
                && a.entry.broadcasts.is_empty()
                && a.entry.alt_titles.is_empty()
        );

        assert_eq!(b.title_lang, TitleLang::En);
        assert_eq!(b.entry.kind, None);
        assert_eq!(b.entry.aired_from, date(2020, 2, 29));
        assert!(
            b.entry.links.is_empty(),
            "a URL that is not http(s) is dropped"
        );
        assert!(b.entry.broadcasts.is_empty());

        // Sites siteMeta does not list give ids when they are known id sites, never links.
        assert_eq!(c.title_lang, TitleLang::Synonym);
        let ids: Vec<_> = c
            .entry
            .external_ids
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(ids, [("mal", "7")]);
        assert!(c.entry.links.is_empty());
    }

    #[test]
    fn skips_malformed_items_with_their_position() {
        let items = r#"
            {"title": "Good"},
            {"title": 5},
            {"titleTranslate": {"en": ["No title"]}},
            {"title": " ！？ "},
            {"title": "Bad date", "begin": "yesterday"},
            "not an item",
            {"title": "Bad sites", "sites": {"site": "mal"}},
            {"title": "Bad site end", "sites": [{"site": "gamer", "id": "1", "broadcast": "R/x/P7D", "end": "soon"}]},
            {"title": "Also good", "begin": null, "titleTranslate": {"en": ["Also Good"]}}
        "#;
        let parsed = match parse(&file(items)) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        let titles: Vec<_> = parsed
            .records
            .iter()
            .map(|r| r.entry.title.as_str())
            .collect();
        assert_eq!(titles, ["Good", "Also good"]);
        let positions: Vec<_> = parsed.skipped.iter().map(|s| s.position.as_str()).collect();
        assert_eq!(
            positions,
            [
                "items[1]", "items[2]", "items[3]", "items[4]", "items[5]", "items[6]", "items[7]"
            ]
        );
        let reasons: Vec<_> = parsed.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("invalid type"), "{}", reasons[0]);
        assert!(
            reasons[1].contains("missing field `title`"),
            "{}",
            reasons[1]
        );
        assert_eq!(reasons[2], "the title has no letter or digit");
        assert_eq!(reasons[3], "begin \"yesterday\" is not an ISO date");
        assert!(reasons[6].contains("\"soon\""), "{}", reasons[6]);
    }

    #[test]
    fn refuses_malformed_files() {
        for bad in [
            &b"not json"[..],
            b"",
            b"[1,2]",
            b"{}",
            br#"{"items": 5}"#,
            br#"{"siteMeta": {}}"#,
            br#"{"siteMeta": 5, "items": []}"#,
            br#"{"siteMeta": {"mal": {"title": 1}}, "items": []}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(parse(b"not json"), Err(ImportError::Json(_))));
        assert!(matches!(
            parse(b"{}"),
            Err(ImportError::Shape {
                format: Format::BangumiData,
                ..
            })
        ));
        // siteMeta is optional: without it there are ids but no site links.
        let parsed =
            match parse(br#"{"items": [{"title": "X", "sites": [{"site": "mal", "id": "1"}]}]}"#) {
                Ok(parsed) => parsed,
                Err(e) => panic!("{e}"),
            };
        assert_eq!(parsed.records.len(), 1);
        assert!(parsed.records[0].entry.links.is_empty());
    }

    #[test]
    fn dates_are_read_in_the_items_region() {
        let items = r#"
            {"title": "Tokyo late night", "lang": "ja", "begin": "2024-01-10T16:25:00.000Z", "end": "2024-04-03T14:59:00.000Z",
             "broadcast": "R/2024-01-10T16:25:00.000Z/P7D"},
            {"title": "Shanghai", "lang": "zh-Hans", "begin": "2016-01-08T15:00:00.000Z", "end": "2016-03-25T16:00:00.000Z"},
            {"title": "Taipei", "lang": "zh-Hant", "begin": "2020-06-30T16:00:00.000Z"},
            {"title": "RWBY", "lang": "en", "begin": "1985-03-04T00:00:00.000Z", "end": "2013-07-18T23:30:00.000Z"},
            {"title": "Elsewhere", "lang": "ko", "begin": "2021-05-01T20:00:00.000Z"},
            {"title": "Bare", "lang": "ja", "begin": "2010-06-25", "end": "2010-06-26",
             "broadcast": "R/2010-06-25T15:00:00.000Z/P7D"},
            {"title": "Offset", "lang": "ja", "begin": "2024-01-11T01:25:00+09:00"}
        "#;
        let parsed = match parse(&file(items)) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        let dates: Vec<_> = parsed
            .records
            .iter()
            .map(|r| (r.entry.title.as_str(), r.entry.aired_from, r.entry.aired_to))
            .collect();
        assert_eq!(
            dates,
            [
                // 01:25 in Tokyo, the next day; 23:59 the same day.
                ("Tokyo late night", date(2024, 1, 11), date(2024, 4, 3)),
                // 23:00 in Shanghai is still the 8th (it is 00:00 on the 9th in Tokyo).
                ("Shanghai", date(2016, 1, 8), date(2016, 3, 26)),
                ("Taipei", date(2020, 7, 1), None),
                ("RWBY", date(1985, 3, 4), date(2013, 7, 18)),
                ("Elsewhere", date(2021, 5, 1), None),
                ("Bare", date(2010, 6, 25), date(2010, 6, 26)),
                ("Offset", date(2024, 1, 11), None),
            ]
        );
        let season = parsed.records[0].entry.season_or_derived();
        assert_eq!(
            season.map(|s| s.to_string()).as_deref(),
            Some("Winter 2024")
        );
        // Broadcast ends stay instants; a bare end is midnight UTC.
        let ends: Vec<_> = parsed
            .records
            .iter()
            .flat_map(|r| r.entry.broadcasts.iter().map(|b| b.ends))
            .collect();
        assert_eq!(
            ends,
            [
                Some(utc("2024-04-03T14:59:00Z")),
                Some(utc("2010-06-26T00:00:00Z"))
            ]
        );
    }

    #[test]
    fn listing_keys_are_the_bangumi_subject_and_start() {
        let items = r#"
            {"title": "一人之下 the outcast", "lang": "ja", "begin": "2016-07-02T12:00:00.000Z", "sites": [{"site": "bangumi", "id": "175457"}]},
            {"title": "一人之下", "lang": "zh-Hans", "begin": "2016-07-02T20:00:00+08:00", "sites": [{"site": "bangumi", "id": "175457"}]},
            {"title": "Fate/strange Fake(TVシリーズ)", "lang": "ja", "begin": "2026-01-03T14:30:00.000Z", "sites": [{"site": "bangumi", "id": "175457"}]},
            {"title": "No subject", "lang": "ja", "begin": "2016-07-02T12:00:00.000Z", "sites": [{"site": "mal", "id": "1"}]},
            {"title": "No start", "lang": "ja", "sites": [{"site": "bangumi", "id": "9"}]}
        "#;
        let parsed = match parse(&file(items)) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        let keys: Vec<Option<&str>> = parsed
            .records
            .iter()
            .map(|r| r.listing.as_deref())
            .collect();
        assert_eq!(keys[0], keys[1], "the same subject and instant");
        assert_ne!(keys[0], keys[2], "the same subject, another start");
        assert_eq!(keys[3], None);
        assert_eq!(keys[4], Some("bangumi 9 from "));
        let positions: Vec<&str> = parsed.records.iter().map(|r| r.position.as_str()).collect();
        assert_eq!(
            positions,
            ["items[0]", "items[1]", "items[2]", "items[3]", "items[4]"]
        );
        assert_eq!(
            parsed.rules,
            Rules {
                keep_ids: false,
                split_absorbed: true
            }
        );
    }

    #[test]
    fn tmdb_ids_only_where_they_name_one_work() {
        let items = r#"
            {"title": "Show", "sites": [{"site": "tmdb", "id": "tv/1429"}]},
            {"title": "Season", "sites": [{"site": "tmdb", "id": "tv/158198/season/5"}]},
            {"title": "Specials", "sites": [{"site": "tmdb", "id": "tv/158198/season/0"}]},
            {"title": "Film", "sites": [{"site": "tmdb", "id": "movie/129"}]}
        "#;
        let parsed = match parse(&file(items)) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        let ids: Vec<Option<&str>> = parsed
            .records
            .iter()
            .map(|r| r.entry.external_ids.get("tmdb").map(String::as_str))
            .collect();
        assert_eq!(
            ids,
            [None, Some("tv/158198/season/5"), None, Some("movie/129")]
        );
        // Every TMDB id still gives its link.
        assert!(parsed.records.iter().all(|r| r.entry.links.len() == 1));
    }

    #[test]
    fn the_data_horizon_is_the_newest_date_in_the_file() {
        let items = r#"
            {"title": "Old", "begin": "2020-01-01T00:00:00.000Z", "end": "2020-03-01T00:00:00.000Z"},
            {"title": "Site starts later", "begin": "2021-01-01T00:00:00.000Z",
             "sites": [{"site": "gamer", "id": "1", "begin": "2026-04-29T16:00:00.000Z"}, {"site": "iqiyi", "begin": "someday"}]},
            {"title": "Ends latest but is broken", "begin": "soon", "end": "2030-01-01T00:00:00.000Z"}
        "#;
        let parsed = match parse(&file(items)) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            parsed.records.len(),
            2,
            "a site's unreadable begin skips nothing"
        );
        assert_eq!(parsed.skipped.len(), 1);
        // 16:00 UTC is already the 30th in Tokyo; the horizon describes the file, in UTC.
        assert_eq!(parsed.data_as_of, date(2026, 4, 29));
        let empty = match parse(&file("")) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(empty.data_as_of, None);
    }

    #[test]
    fn reads_the_real_data_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/bangumi-data.json"
        );
        let Ok(bytes) = std::fs::read(path) else {
            println!("skipping: ../shared/data/bangumi-data.json not found");
            return;
        };
        let parsed = match parse(&bytes) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        };
        assert!(
            parsed.skipped.is_empty(),
            "{:?}",
            &parsed.skipped[..parsed.skipped.len().min(5)]
        );
        assert_eq!(parsed.records.len(), 8483);
        let Some(rouge) = parsed
            .records
            .iter()
            .map(|r| &r.entry)
            .find(|e| e.title == "メタリックルージュ")
        else {
            panic!("メタリックルージュ is missing");
        };
        for (source, id) in [
            ("bangumi", "425595"),
            ("mal", "54794"),
            ("anidb", "17926"),
            ("anilist", "162985"),
        ] {
            assert_eq!(
                rouge.external_ids.get(source).map(String::as_str),
                Some(id),
                "{source}"
            );
        }
        assert!(
            !rouge.external_ids.contains_key("tmdb"),
            "tv/222787 names the show"
        );
        assert_eq!(parsed.data_as_of, date(2026, 4, 29));
        let listings: std::collections::HashSet<_> = parsed
            .records
            .iter()
            .filter_map(|r| r.listing.as_ref())
            .collect();
        let keyed = parsed
            .records
            .iter()
            .filter(|r| r.listing.is_some())
            .count();
        assert_eq!(keyed - listings.len(), 10, "duplicate listings in 0.3.208");
        assert_eq!(rouge.kind, Some(Kind::Tv));
        assert_eq!(
            rouge.aired_from,
            date(2024, 1, 11),
            "the day it premiered in Japan"
        );
        assert!(
            rouge
                .alt_titles
                .iter()
                .any(|a| a.text == "Metallic Rouge" && a.lang == TitleLang::En)
        );
        assert!(
            rouge
                .alt_titles
                .iter()
                .any(|a| a.text == "金属口红" && a.lang == TitleLang::ZhHans)
        );
        let tv = rouge.broadcasts.iter().find(|b| b.platform == "tv");
        assert_eq!(
            tv.map(|b| b.rule.as_str()),
            Some("R/2024-01-10T16:25:00.000Z/P7D")
        );
        // Resource sites (mikan, bangumi_moe) give no links.
        assert!(
            rouge
                .links
                .iter()
                .all(|l| !l.url.contains("mikanani.me") && !l.url.contains("bangumi.moe"))
        );
    }
}
