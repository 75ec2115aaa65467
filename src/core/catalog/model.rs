//! The catalog's data model: what Rouge knows about one title.
//!
//! Entries are plain serde values; the store keeps them as JSON and the
//! `rouge` export format is exactly this shape, so a field added here needs a
//! `#[serde(default)]` to keep old stores and exports readable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A catalog entry's identifier, shown to users as `#<id>`.
pub type EntryId = u64;

/// The highest entry id Rouge hands out or accepts from a file or a backup
/// (2^53 − 1: exact in every JSON reader).
pub const MAX_ENTRY_ID: EntryId = (1 << 53) - 1;

/// Everything the catalog knows about one anime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: EntryId,
    /// The main title, usually the original (Japanese) one.
    pub title: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_titles: Vec<AltTitle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub season: Option<Season>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aired_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aired_to: Option<NaiveDate>,
    /// Planned or final number of episodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episodes: Option<u32>,
    /// Minutes per episode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_min: Option<u32>,
    /// Audio languages available (original and dubs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<String>,
    /// Video qualities available, such as `720p`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qualities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub studios: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synopsis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Identifier per source (`mal`, `anidb`, `anilist`, `bangumi`, `kitsu`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_ids: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<SourceScore>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broadcasts: Vec<Broadcast>,
    /// Released episodes, ordered by number then audio language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<Release>,
    /// An owner's word that the show runs on past what the data says
    /// (`/anime admin edit <title> airing=ongoing current=<n>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ongoing: Option<Ongoing>,
    /// Fields an admin edited; imports and sources never overwrite them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub locked: BTreeSet<Field>,
    /// Tags a source gives (never its spoiler tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Prequels, sequels, side stories, … as a source links them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Related>,
    /// A trailer's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailer: Option<String>,
    /// For adults only, as a source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_adult: Option<bool>,
    /// How many people follow it at AniList.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popularity: Option<u64>,
    /// Its rank by score at MyAnimeList.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    /// The broadcast as a source writes it ("Thursdays at 00:00 (JST)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast_text: Option<String>,
    /// Episodes and air times a source listed (AniList's airing schedule):
    /// they decide the numbers and times where they reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listed_airings: Vec<ListedAiring>,
    /// Which live source filled which field, and when.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<Field, Provenance>,
    /// When each live source last answered for this entry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fetched: BTreeMap<String, DateTime<Utc>>,
}

impl Entry {
    /// For adults only: a source says so (`isAdult`), or it has the Hentai
    /// or Erotica genre. Chats and people see such titles only when they
    /// turned adult titles on.
    pub fn is_adult_title(&self) -> bool {
        self.is_adult == Some(true)
            || self
                .genres
                .iter()
                .any(|g| g.eq_ignore_ascii_case("hentai") || g.eq_ignore_ascii_case("erotica"))
    }

    /// A new entry with only a title.
    pub fn new(id: EntryId, title: impl Into<String>) -> Self {
        Entry {
            id,
            title: title.into(),
            alt_titles: Vec::new(),
            kind: None,
            genres: Vec::new(),
            status: None,
            season: None,
            aired_from: None,
            aired_to: None,
            episodes: None,
            duration_min: None,
            audio: Vec::new(),
            subtitles: Vec::new(),
            qualities: Vec::new(),
            studios: Vec::new(),
            synopsis: None,
            picture: None,
            links: Vec::new(),
            external_ids: BTreeMap::new(),
            scores: Vec::new(),
            broadcasts: Vec::new(),
            releases: Vec::new(),
            ongoing: None,
            locked: BTreeSet::new(),
            tags: Vec::new(),
            relations: Vec::new(),
            trailer: None,
            is_adult: None,
            popularity: None,
            rank: None,
            broadcast_text: None,
            listed_airings: Vec::new(),
            provenance: BTreeMap::new(),
            fetched: BTreeMap::new(),
        }
    }

    /// Every title this entry is known by: the main one first.
    pub fn all_titles(&self) -> impl Iterator<Item = (&str, TitleLang)> {
        std::iter::once((self.title.as_str(), TitleLang::Main))
            .chain(self.alt_titles.iter().map(|t| (t.text.as_str(), t.lang)))
    }

    /// The first title in `lang`, if any.
    pub fn title_in(&self, lang: TitleLang) -> Option<&str> {
        self.alt_titles
            .iter()
            .find(|t| t.lang == lang)
            .map(|t| t.text.as_str())
    }

    /// The title to show first: English where known, else the main title.
    pub fn display_title(&self) -> &str {
        self.title_in(TitleLang::En).unwrap_or(&self.title)
    }

    /// Adds an alternative title unless the entry already has that exact text.
    pub fn add_alt_title(&mut self, text: &str, lang: TitleLang) -> bool {
        let text = text.trim();
        if text.is_empty() || self.all_titles().any(|(t, _)| t == text) {
            return false;
        }
        self.alt_titles.push(AltTitle {
            text: text.to_owned(),
            lang,
        });
        true
    }

    /// The season, given or derived from the first air date.
    pub fn season_or_derived(&self) -> Option<Season> {
        self.season.or_else(|| self.aired_from.map(Season::of_date))
    }

    /// The status, given or derived from the air dates as of `today`.
    /// `None` when the dates cannot tell: it has begun and no end is known
    /// (the schedule decides then; see `core::announce::projection`).
    pub fn status_as_of(&self, today: NaiveDate) -> Option<Status> {
        if self.status.is_some() {
            return self.status;
        }
        match (self.aired_from, self.aired_to) {
            (Some(from), _) if from > today => Some(Status::Upcoming),
            (Some(_), Some(to)) if to < today => Some(Status::Finished),
            (Some(_), Some(_)) => Some(Status::Airing),
            _ => None,
        }
    }

    /// Records a release, replacing one with the same number and audio language.
    /// Returns `true` when the release is new.
    pub fn record_release(&mut self, release: Release) -> bool {
        let key = release.key();
        match self.releases.binary_search_by(|r| r.key().cmp(&key)) {
            Ok(i) => {
                self.releases[i] = release;
                false
            }
            Err(i) => {
                self.releases.insert(i, release);
                true
            }
        }
    }
}

/// An alternative title and its language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AltTitle {
    pub text: String,
    pub lang: TitleLang,
}

/// The language (or role) of a title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TitleLang {
    /// The entry's main title.
    #[serde(rename = "main")]
    Main,
    #[serde(rename = "ja")]
    Ja,
    #[serde(rename = "zh-Hans")]
    ZhHans,
    #[serde(rename = "zh-Hant")]
    ZhHant,
    #[serde(rename = "en")]
    En,
    #[serde(rename = "romaji")]
    Romaji,
    /// Any other spelling or alias.
    #[serde(rename = "synonym")]
    Synonym,
}

impl TitleLang {
    pub const ALL: [TitleLang; 7] = [
        TitleLang::Main,
        TitleLang::Ja,
        TitleLang::ZhHans,
        TitleLang::ZhHant,
        TitleLang::En,
        TitleLang::Romaji,
        TitleLang::Synonym,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TitleLang::Main => "main",
            TitleLang::Ja => "ja",
            TitleLang::ZhHans => "zh-Hans",
            TitleLang::ZhHant => "zh-Hant",
            TitleLang::En => "en",
            TitleLang::Romaji => "romaji",
            TitleLang::Synonym => "synonym",
        }
    }
}

impl FromStr for TitleLang {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        TitleLang::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// How a title is distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Tv,
    Movie,
    Ova,
    Ona,
    Web,
    Special,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Tv,
        Kind::Movie,
        Kind::Ova,
        Kind::Ona,
        Kind::Web,
        Kind::Special,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Tv => "TV",
            Kind::Movie => "Movie",
            Kind::Ova => "OVA",
            Kind::Ona => "ONA",
            Kind::Web => "Web",
            Kind::Special => "Special",
        }
    }
}

impl FromStr for Kind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Kind::ALL
            .into_iter()
            .find(|k| k.label().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// Whether a title has aired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Upcoming,
    Airing,
    Finished,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Upcoming => "Not Yet Aired",
            Status::Airing => "Currently Airing",
            Status::Finished => "Finished Airing",
        }
    }
}

impl FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "upcoming" | "not-yet-aired" | "notyetaired" => Ok(Status::Upcoming),
            "airing" | "ongoing" | "currently-airing" => Ok(Status::Airing),
            "finished" | "finished-airing" | "ended" => Ok(Status::Finished),
            _ => Err(()),
        }
    }
}

/// A broadcast season.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Season {
    pub name: SeasonName,
    pub year: i32,
}

impl Season {
    /// The anime season a date falls in (winter = January to March).
    pub fn of_date(date: NaiveDate) -> Season {
        use chrono::Datelike;
        let name = match date.month() {
            1..=3 => SeasonName::Winter,
            4..=6 => SeasonName::Spring,
            7..=9 => SeasonName::Summer,
            _ => SeasonName::Fall,
        };
        Season {
            name,
            year: date.year(),
        }
    }
}

impl fmt::Display for Season {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name.label(), self.year)
    }
}

impl FromStr for Season {
    type Err = ();
    /// Parses `winter 2024` or `2024 winter`.
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.split_whitespace();
        let (a, b) = (parts.next().ok_or(())?, parts.next().ok_or(())?);
        if parts.next().is_some() {
            return Err(());
        }
        let (name, year) = match a.parse::<i32>() {
            Ok(year) => (b, year),
            Err(_) => (a, b.parse().map_err(|_| ())?),
        };
        if !(1900..=2200).contains(&year) {
            return Err(());
        }
        Ok(Season {
            name: name.parse()?,
            year,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeasonName {
    Winter,
    Spring,
    Summer,
    Fall,
}

impl SeasonName {
    pub fn label(self) -> &'static str {
        match self {
            SeasonName::Winter => "Winter",
            SeasonName::Spring => "Spring",
            SeasonName::Summer => "Summer",
            SeasonName::Fall => "Fall",
        }
    }
}

impl FromStr for SeasonName {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "winter" => Ok(SeasonName::Winter),
            "spring" => Ok(SeasonName::Spring),
            "summer" => Ok(SeasonName::Summer),
            "fall" | "autumn" => Ok(SeasonName::Fall),
            _ => Err(()),
        }
    }
}

/// A labelled web link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// One source's score for an entry, on that source's own scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceScore {
    /// Source key, lower case: `imdb`, `mal`, `anilist`, …
    pub source: String,
    pub value: f64,
    /// The top of the source's scale (10 for MyAnimeList, 100 for AniList).
    pub scale_max: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
}

/// A repeating broadcast on one platform, from an ISO-8601 repeating interval
/// such as `R/2024-01-10T16:25:00.000Z/P7D`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    /// Where it airs (`tv` for the original broadcast, else a site key).
    pub platform: String,
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<DateTime<Utc>>,
}

/// How two works are related, as a source says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    Prequel,
    Sequel,
    SideStory,
    Parent,
    Alternative,
    Other,
}

/// Another work linked to an entry by a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub kind: RelationKind,
    /// The source that links it (`anilist`), and its id there.
    pub source: String,
    pub external_id: String,
    pub title: String,
}

/// An airing a source listed: which episode, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedAiring {
    pub episode: u32,
    pub at: DateTime<Utc>,
}

/// Who filled a field, and when: a live source's name and fetch time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub source: String,
    pub at: DateTime<Utc>,
}

/// An owner's word that a show continues: its current episode (the one
/// that aired last when the owner said so), if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ongoing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u32>,
    /// When the owner said so: the anchor of the episode numbers.
    pub as_of: DateTime<Utc>,
}

/// What a release is: one numbered episode (the usual case), an episode of
/// a long-running show whose number nothing vouches for, or a whole season
/// made available at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    #[default]
    Episode,
    /// Its `number` only tells releases apart; it is never shown.
    Unnumbered,
    /// All episodes at once; `number` is 0.
    WholeSeason,
}

impl Unit {
    fn is_episode(&self) -> bool {
        *self == Unit::Episode
    }
}

/// A released episode in one audio language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub number: u32,
    #[serde(default, skip_serializing_if = "Unit::is_episode")]
    pub unit: Unit,
    /// Recorded because a broadcast schedule reached its air time (not by
    /// an owner, an import or a source): a projection, replaced when better
    /// evidence comes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_schedule: bool,
    /// Audio language; `None` is the original audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qualities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub released_at: DateTime<Utc>,
}

impl Release {
    /// Ordering and identity: one release per (number, audio language).
    pub fn key(&self) -> (u32, String) {
        (
            self.number,
            self.audio.as_deref().unwrap_or("").to_lowercase(),
        )
    }
}

/// An editable field of an entry, as named in `/anime admin edit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Kind,
    Genres,
    Status,
    Season,
    Aired,
    Ended,
    Episodes,
    Duration,
    Audio,
    Subtitles,
    Qualities,
    Studios,
    Synopsis,
    Picture,
    Links,
    /// Whether the show continues past what the data says (`airing=`, `current=`).
    Airing,
    /// Whether it is an adult title (`adult=yes|no`), kept out of chats
    /// that do not allow them.
    Adult,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::Title,
        Field::Kind,
        Field::Genres,
        Field::Status,
        Field::Season,
        Field::Aired,
        Field::Ended,
        Field::Episodes,
        Field::Duration,
        Field::Audio,
        Field::Subtitles,
        Field::Qualities,
        Field::Studios,
        Field::Synopsis,
        Field::Picture,
        Field::Links,
        Field::Airing,
        Field::Adult,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Kind => "kind",
            Field::Genres => "genres",
            Field::Status => "status",
            Field::Season => "season",
            Field::Aired => "aired",
            Field::Ended => "ended",
            Field::Episodes => "episodes",
            Field::Duration => "duration",
            Field::Audio => "audio",
            Field::Subtitles => "subtitles",
            Field::Qualities => "qualities",
            Field::Studios => "studios",
            Field::Synopsis => "synopsis",
            Field::Picture => "picture",
            Field::Links => "links",
            Field::Airing => "airing",
            Field::Adult => "adult",
        }
    }

    /// Every field name, comma separated, for help and error texts.
    pub fn names() -> String {
        Field::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromStr for Field {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "type" => "kind",
            "genre" | "tags" => "genres",
            "dub" | "dubs" | "languages" => "audio",
            "subs" => "subtitles",
            "quality" => "qualities",
            "studio" => "studios",
            "eps" => "episodes",
            "image" | "cover" => "picture",
            "link" => "links",
            "start" => "aired",
            "end" => "ended",
            other => other,
        };
        Field::ALL.into_iter().find(|f| f.name() == alias).ok_or(())
    }
}
