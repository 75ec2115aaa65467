//! The live-data port: what a source (AniList, Jikan for MyAnimeList, …)
//! says about a work, and the [`Source`] trait the `sources` module
//! implements over HTTP and tests implement with fakes. The core stays
//! network-free: it only merges what a source said into an entry.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use super::catalog::model::RelationKind;
use super::catalog::model::{
    AltTitle, Entry, Field, Kind, Link, ListedAiring, Provenance, Related, Season, SourceScore,
    Status,
};

/// The live sources Rouge knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceId {
    AniList,
    /// MyAnimeList's data, through the Jikan API.
    Jikan,
}

impl SourceId {
    pub const ALL: [SourceId; 2] = [SourceId::AniList, SourceId::Jikan];

    /// Its name in config, metrics, logs and provenance.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceId::AniList => "anilist",
            SourceId::Jikan => "jikan",
        }
    }

    /// The external id (`Entry::external_ids` key) it is asked by.
    pub fn id_key(self) -> &'static str {
        match self {
            SourceId::AniList => "anilist",
            SourceId::Jikan => "mal",
        }
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another work a source links to this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    pub kind: RelationKind,
    /// Its id at the same source.
    pub external_id: String,
    pub title: String,
}

/// What one source says about one work, as fetched. Every field is
/// optional: a source that does not know something says nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceEntry {
    /// The work's id at this source (`SourceId::id_key`).
    pub external_id: String,
    /// Ids at other sources it names (AniList names the MyAnimeList id).
    pub other_ids: Vec<(String, String)>,
    /// Every title it knows (romaji, English, native, synonyms).
    pub titles: Vec<AltTitle>,
    /// Plain text: HTML removed, spoilers left out.
    pub synopsis: Option<String>,
    /// An http(s) image URL.
    pub picture: Option<String>,
    /// Genres, themes, demographics.
    pub genres: Vec<String>,
    /// Tags that are not spoilers.
    pub tags: Vec<String>,
    pub kind: Option<Kind>,
    pub episodes: Option<u32>,
    pub duration_min: Option<u32>,
    pub status: Option<Status>,
    pub season: Option<Season>,
    pub aired_from: Option<NaiveDate>,
    pub aired_to: Option<NaiveDate>,
    /// The main studios.
    pub studios: Vec<String>,
    /// Streaming and official links; a stream's language in its label.
    pub links: Vec<Link>,
    pub relations: Vec<Relation>,
    /// A trailer's URL.
    pub trailer: Option<String>,
    pub is_adult: Option<bool>,
    /// The source's own score, with its number of votes.
    pub score: Option<SourceScore>,
    pub popularity: Option<u64>,
    /// Its rank by score at the source (MyAnimeList).
    pub rank: Option<u32>,
    /// Episodes and their air times the source knows (the next airing,
    /// the schedule window).
    pub airings: Vec<(u32, DateTime<Utc>)>,
    /// The broadcast as the source writes it ("Thursdays at 00:00 (JST)").
    pub broadcast: Option<String>,
}

/// One airing in a source's schedule window, with the work it belongs to
/// (so works the catalog does not know yet can be added).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledAiring {
    pub episode: u32,
    pub at: DateTime<Utc>,
    pub entry: SourceEntry,
}

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Over the budget or told to wait (429): try again after this long.
    #[error("rate-limited; try again in {}s", .retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// The service refuses all requests (AniList's 403 "API disabled").
    #[error("the service is switched off: {0}")]
    Disabled(String),
    /// A server error, a timeout or a dropped connection: back off, retry.
    #[error("the service did not answer properly: {0}")]
    Transient(String),
    /// An answer that is not what the API documents.
    #[error("a malformed answer: {0}")]
    Malformed(String),
    /// Switched off in the configuration (or `offline`).
    #[error("the source is off")]
    Off,
}

/// How a source is doing, for `/healthz`, `/metrics` and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// Requests sent since start.
    pub requests: u64,
    /// Answers that were 429s.
    pub rate_limited: u64,
    /// Failed requests (5xx, timeouts, dropped connections, malformed answers).
    pub errors: u64,
    /// Requests left in the current budget window.
    pub budget_left: u32,
    /// Answering well (`false`: degraded — failing, locked out or switched off).
    pub healthy: bool,
    /// Why not, in a few words (`"locked out for 60s after a 429"`).
    pub detail: Option<String>,
}

/// A boxed future, so sources can be held as trait objects.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// A live data source. Implementations keep their own request budget and
/// wait within it (up to a bound) rather than exceed it.
pub trait Source: Send + Sync + 'static {
    fn id(&self) -> SourceId;

    /// The most ids one [`Source::fetch`] sends in one request.
    fn batch(&self) -> usize;

    /// What the source says about these works (by their ids at this source).
    /// Works it does not know are left out of the answer.
    fn fetch<'a>(&'a self, ids: &'a [String]) -> SourceFuture<'a, Vec<SourceEntry>>;

    /// Whether it keeps an airing schedule ([`Source::schedule`] asks it).
    fn has_schedule(&self) -> bool {
        true
    }

    /// The airings in `(from, to]`; a source without a schedule answers none.
    fn schedule<'a>(
        &'a self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> SourceFuture<'a, Vec<ScheduledAiring>>;

    /// How it is doing.
    fn status(&self) -> SourceStatus;
}

/// Of two live sources, which one's word wins for a field both fill.
fn precedence(source: &str) -> u8 {
    match source {
        "anilist" => 2,
        "jikan" => 1,
        _ => 0,
    }
}

/// Most listed airings an entry keeps (the newest).
const MAX_LISTED: usize = 64;
/// Most links an entry keeps.
const MAX_LINKS: usize = 32;

impl SourceEntry {
    /// Merges what `source` said, fetched at `at`, into `entry`. An owner's
    /// edit (a locked field) always stands; otherwise a source fills a field
    /// that is empty, came from an import, or came from itself or a source
    /// it takes precedence over (AniList over Jikan), and the field keeps
    /// its provenance. Titles join the alternative titles; links and listed
    /// airings are merged; the source's score line is replaced. Returns
    /// whether anything changed.
    pub fn apply_to(self, entry: &mut Entry, source: SourceId, at: DateTime<Utc>) -> bool {
        let before = entry.clone();
        let name = source.as_str();
        let fill = |entry: &mut Entry, field: Field| -> bool {
            let free = !entry.locked.contains(&field)
                && entry
                    .provenance
                    .get(&field)
                    .is_none_or(|p| precedence(&p.source) <= precedence(name));
            if free {
                entry.provenance.insert(
                    field,
                    Provenance {
                        source: name.to_owned(),
                        at,
                    },
                );
            }
            free
        };
        macro_rules! take {
            ($field:expr, $slot:ident, $value:expr) => {
                if let Some(value) = $value
                    && fill(entry, $field)
                {
                    entry.$slot = Some(value);
                }
            };
            ($field:expr, $slot:ident, list $value:expr) => {
                if !$value.is_empty() && fill(entry, $field) {
                    entry.$slot = $value;
                }
            };
        }
        take!(Field::Synopsis, synopsis, self.synopsis);
        take!(Field::Picture, picture, self.picture);
        take!(Field::Kind, kind, self.kind);
        take!(Field::Episodes, episodes, self.episodes);
        take!(Field::Duration, duration_min, self.duration_min);
        take!(Field::Status, status, self.status);
        take!(Field::Season, season, self.season);
        take!(Field::Aired, aired_from, self.aired_from);
        take!(Field::Ended, aired_to, self.aired_to);
        take!(Field::Genres, genres, list self.genres);
        take!(Field::Studios, studios, list self.studios);
        for title in &self.titles {
            entry.add_alt_title(&title.text, title.lang);
        }
        if !entry.locked.contains(&Field::Links) {
            for link in self.links {
                if entry.links.len() < MAX_LINKS && !entry.links.iter().any(|l| l.url == link.url) {
                    entry.links.push(link);
                }
            }
        }
        for (key, id) in self.other_ids {
            entry.external_ids.entry(key).or_insert(id);
        }
        // Only AniList lists tags.
        if !self.tags.is_empty() {
            entry.tags = self.tags;
        }
        // Each source's relations replace only its own.
        if !self.relations.is_empty() {
            entry.relations.retain(|r| r.source != name);
            entry
                .relations
                .extend(self.relations.into_iter().map(|r| Related {
                    kind: r.kind,
                    source: name.to_owned(),
                    external_id: r.external_id,
                    title: r.title,
                }));
        }
        // The source that takes precedence (AniList) sets the trailer; the
        // other only fills an empty one.
        if let Some(trailer) = self.trailer
            && (entry.trailer.is_none() || precedence(name) == precedence("anilist"))
        {
            entry.trailer = Some(trailer);
        }
        // A source that calls a work adult is believed over one that does
        // not (showing an adult title where they are off is the worse
        // error); only the source that said so can take it back.
        if let Some(adult) = self.is_adult
            && !entry.locked.contains(&Field::Adult)
        {
            let said_by_other = entry.is_adult == Some(true)
                && entry
                    .provenance
                    .get(&Field::Adult)
                    .is_some_and(|p| p.source != name);
            if adult || !said_by_other {
                entry.is_adult = Some(adult);
                entry.provenance.insert(
                    Field::Adult,
                    Provenance {
                        source: name.to_owned(),
                        at,
                    },
                );
            }
        }
        entry.popularity = self.popularity.or(entry.popularity);
        entry.rank = self.rank.or(entry.rank);
        entry.broadcast_text = self.broadcast.or(entry.broadcast_text.take());
        if let Some(score) = self.score {
            match entry.scores.iter_mut().find(|s| s.source == score.source) {
                Some(s) => *s = score,
                None => entry.scores.push(score),
            }
        }
        merge_airings(&mut entry.listed_airings, &self.airings);
        entry.fetched.insert(name.to_owned(), at);
        *entry != before
    }
}

/// Newer listings win per episode; the list stays in episode order, the
/// newest [`MAX_LISTED`] kept.
fn merge_airings(listed: &mut Vec<ListedAiring>, new: &[(u32, DateTime<Utc>)]) {
    for &(episode, at) in new {
        match listed.iter_mut().find(|a| a.episode == episode) {
            Some(a) => a.at = at,
            None => listed.push(ListedAiring { episode, at }),
        }
    }
    listed.sort_by_key(|a| a.episode);
    if listed.len() > MAX_LISTED {
        listed.drain(..listed.len() - MAX_LISTED);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::core::catalog::model::TitleLang;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0)
            .single()
            .expect("a time")
    }

    fn rouge() -> SourceEntry {
        SourceEntry {
            external_id: "162985".into(),
            synopsis: Some("A synopsis.".into()),
            genres: vec!["Action".into(), "Mecha".into()],
            studios: vec!["Bones".into()],
            episodes: Some(13),
            titles: vec![AltTitle {
                text: "Metallic Rouge".into(),
                lang: TitleLang::Romaji,
            }],
            score: Some(SourceScore {
                source: "anilist".into(),
                value: 63.0,
                scale_max: 100.0,
                votes: Some(21_500),
                as_of: None,
            }),
            airings: vec![(5, at(16))],
            ..SourceEntry::default()
        }
    }

    #[test]
    fn a_source_fills_what_it_may_and_says_so() {
        let mut entry = Entry::new(1, "メタリックルージュ");
        entry.genres = vec!["Sci-Fi".into()];
        entry.locked.insert(Field::Studios);
        entry.studios = vec!["An owner's studio".into()];
        assert!(rouge().apply_to(&mut entry, SourceId::AniList, at(1)));
        assert_eq!(entry.synopsis.as_deref(), Some("A synopsis."));
        assert_eq!(
            entry.genres,
            ["Action", "Mecha"],
            "an import's value gives way"
        );
        assert_eq!(
            entry.studios,
            ["An owner's studio"],
            "an owner's edit stands"
        );
        assert_eq!(entry.provenance[&Field::Synopsis].source, "anilist");
        assert!(entry.title_in(TitleLang::Romaji).is_some());
        assert_eq!(
            entry.listed_airings,
            [ListedAiring {
                episode: 5,
                at: at(16)
            }]
        );
        // Jikan does not overwrite what AniList filled, but adds its own score.
        let jikan = SourceEntry {
            synopsis: Some("Another synopsis.".into()),
            score: Some(SourceScore {
                source: "mal".into(),
                value: 6.2,
                scale_max: 10.0,
                votes: Some(48_213),
                as_of: None,
            }),
            ..SourceEntry::default()
        };
        assert!(jikan.apply_to(&mut entry, SourceId::Jikan, at(2)));
        assert_eq!(entry.synopsis.as_deref(), Some("A synopsis."));
        assert_eq!(entry.scores.len(), 2);
        // The same answer again changes nothing but the fetch time.
        let mut again = entry.clone();
        rouge().apply_to(&mut again, SourceId::AniList, at(1));
        assert_eq!(again, entry);
    }

    #[test]
    fn adult_is_believed_from_either_source_and_taken_back_only_by_it() {
        let mut entry = Entry::new(1, "A title");
        let says = |adult: bool| SourceEntry {
            is_adult: Some(adult),
            ..SourceEntry::default()
        };
        says(false).apply_to(&mut entry, SourceId::AniList, at(1));
        assert_eq!(entry.is_adult, Some(false));
        says(true).apply_to(&mut entry, SourceId::Jikan, at(2));
        assert_eq!(entry.is_adult, Some(true), "Jikan's Rx rating counts");
        says(false).apply_to(&mut entry, SourceId::AniList, at(3));
        assert_eq!(
            entry.is_adult,
            Some(true),
            "AniList cannot clear Jikan's word"
        );
        says(false).apply_to(&mut entry, SourceId::Jikan, at(4));
        assert_eq!(entry.is_adult, Some(false), "Jikan takes its own word back");
        // An owner's `adult=` stands against both.
        entry.is_adult = Some(false);
        entry.locked.insert(Field::Adult);
        says(true).apply_to(&mut entry, SourceId::AniList, at(5));
        assert_eq!(entry.is_adult, Some(false));
    }

    #[test]
    fn relations_and_trailers_keep_to_their_source() {
        let relation = |id: &str| Relation {
            kind: RelationKind::Sequel,
            external_id: id.into(),
            title: format!("Work {id}"),
        };
        let mut entry = Entry::new(1, "A title");
        let anilist = SourceEntry {
            relations: vec![relation("10")],
            trailer: Some("https://www.youtube.com/watch?v=aaaaaaaaaaa".into()),
            ..SourceEntry::default()
        };
        anilist.apply_to(&mut entry, SourceId::AniList, at(1));
        let jikan = SourceEntry {
            relations: vec![relation("20"), relation("21")],
            trailer: Some("https://www.youtube.com/watch?v=bbbbbbbbbbb".into()),
            ..SourceEntry::default()
        };
        jikan.apply_to(&mut entry, SourceId::Jikan, at(2));
        let ids: Vec<(&str, &str)> = entry
            .relations
            .iter()
            .map(|r| (r.source.as_str(), r.external_id.as_str()))
            .collect();
        assert_eq!(ids, [("anilist", "10"), ("jikan", "20"), ("jikan", "21")]);
        assert_eq!(
            entry.trailer.as_deref(),
            Some("https://www.youtube.com/watch?v=aaaaaaaaaaa"),
            "Jikan only fills an empty trailer"
        );
    }
}
