//! The live-data port: what a source (AniList, Jikan for MyAnimeList, …)
//! says about a work, and the [`Source`] trait the `sources` module
//! implements over HTTP and tests implement with fakes. The core stays
//! network-free: it only merges what a source said into an entry.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::catalog::model::{AltTitle, Kind, Link, Season, SourceScore, Status};

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

/// How two works are related, as AniList says.
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

    /// The airings in `(from, to]`; a source without a schedule answers none.
    fn schedule<'a>(
        &'a self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> SourceFuture<'a, Vec<ScheduledAiring>>;

    /// How it is doing.
    fn status(&self) -> SourceStatus;
}
