//! Jikan v4, MyAnimeList's data: one work per request, revalidated with
//! `If-None-Match` so an unchanged work costs Jikan (and MyAnimeList behind
//! it) a 304 instead of a page.

mod model;

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};

use super::gate::Gate;
use super::transport::{self, Answer};
use super::{SourceSettings, today};
use crate::core::source::{
    ScheduledAiring, Source, SourceEntry, SourceError, SourceFuture, SourceId, SourceStatus,
};

/// The most works whose ETag and entry are remembered; the oldest go first.
const CACHE_ENTRIES: usize = 1_024;
/// The largest answer read (a full record is a few kilobytes).
const MAX_BODY: usize = 1024 * 1024;
/// The longest ETag kept (Jikan's are MD5 hex).
const MAX_ETAG: usize = 128;

/// The Jikan source. Cheap to share behind an `Arc`; calls may run
/// concurrently and share one budget.
pub struct Jikan {
    http: reqwest::Client,
    gate: Gate,
    cache: Mutex<EtagCache>,
}

/// What the last full answer for a work said, and its ETag.
struct Cached {
    etag: String,
    entry: SourceEntry,
}

#[derive(Default)]
struct EtagCache {
    entries: HashMap<String, Cached>,
    /// Ids in the order they were first stored, for eviction.
    order: VecDeque<String>,
}

impl EtagCache {
    fn etag(&self, id: &str) -> Option<String> {
        self.entries.get(id).map(|c| c.etag.clone())
    }

    fn put(&mut self, id: &str, etag: String, entry: SourceEntry) {
        if self
            .entries
            .insert(id.to_owned(), Cached { etag, entry })
            .is_none()
        {
            self.order.push_back(id.to_owned());
        }
        while self.entries.len() > CACHE_ENTRIES {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
    }
}

/// What one request learnt about a work.
enum Answered {
    Full(Box<SourceEntry>, Option<String>),
    NotModified,
    Unknown,
}

impl Jikan {
    /// Jikan at `settings.url` (its `/v4` root) over the shared `http`
    /// client ([`super::http_client`]).
    pub fn new(http: reqwest::Client, settings: SourceSettings) -> Jikan {
        Jikan {
            http,
            gate: Gate::new(SourceId::Jikan, settings),
            cache: Mutex::new(EtagCache::default()),
        }
    }

    fn cache(&self) -> MutexGuard<'_, EtagCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn fetch_all(&self, ids: &[String]) -> Result<Vec<SourceEntry>, SourceError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            // MyAnimeList ids are positive integers; anything else names no work.
            let Ok(id) = id.trim().parse::<u64>() else {
                continue;
            };
            if let Some(entry) = self.fetch_one(&id.to_string()).await? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    async fn fetch_one(&self, id: &str) -> Result<Option<SourceEntry>, SourceError> {
        let url = format!("{}/anime/{id}/full", self.gate.settings().base());
        let mut request = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        let etag = self.cache().etag(id);
        if let Some(etag) = &etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let revalidating = etag.is_some();
        let answered = transport::exchange(&self.gate, request, MAX_BODY, |answer| {
            parse(answer, revalidating)
        })
        .await?;
        Ok(match answered {
            Answered::Full(entry, etag) => {
                if let Some(etag) = etag {
                    self.cache().put(id, etag, (*entry).clone());
                }
                Some(*entry)
            }
            // Only when the entry was evicted while the request was out.
            Answered::NotModified => Some(self.cached(id).ok_or_else(|| {
                SourceError::Transient("a 304 for a work no longer cached".to_owned())
            })?),
            Answered::Unknown => None,
        })
    }

    /// The remembered entry, confirmed today: its score's as-of moves on.
    fn cached(&self, id: &str) -> Option<SourceEntry> {
        let mut entry = self.cache().entries.get(id)?.entry.clone();
        if let Some(score) = &mut entry.score {
            score.as_of = Some(today());
        }
        Some(entry)
    }
}

fn parse(answer: Answer, revalidating: bool) -> Result<Answered, SourceError> {
    match answer.status {
        StatusCode::NOT_MODIFIED if revalidating => Ok(Answered::NotModified),
        StatusCode::NOT_FOUND => Ok(Answered::Unknown),
        StatusCode::OK => {
            let envelope: model::Envelope = serde_json::from_slice(&answer.body)
                .map_err(|e| SourceError::Malformed(format!("Jikan's answer is not JSON: {e}")))?;
            let anime = envelope
                .data
                .ok_or_else(|| SourceError::Malformed("Jikan's answer has no data".to_owned()))?;
            let entry = model::entry(anime, today())
                .ok_or_else(|| SourceError::Malformed("Jikan's answer has no mal_id".to_owned()))?;
            let etag = answer
                .header(ETAG)
                .filter(|e| e.len() <= MAX_ETAG)
                .map(str::to_owned);
            Ok(Answered::Full(Box::new(entry), etag))
        }
        status => {
            let why = transport::error_message(&answer.body)
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            Err(SourceError::Malformed(format!(
                "Jikan refused the request: {why}"
            )))
        }
    }
}

impl Source for Jikan {
    fn id(&self) -> SourceId {
        SourceId::Jikan
    }

    /// Jikan has no batch look-up: one work per request.
    fn batch(&self) -> usize {
        1
    }

    /// One request per id, in order, each within the budget; if any fails
    /// the call fails.
    fn fetch<'a>(&'a self, ids: &'a [String]) -> SourceFuture<'a, Vec<SourceEntry>> {
        Box::pin(self.fetch_all(ids))
    }

    /// MyAnimeList's schedule has weekdays, not episode numbers: AniList's
    /// is the one Rouge announces from.
    fn has_schedule(&self) -> bool {
        false
    }

    fn schedule<'a>(
        &'a self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> SourceFuture<'a, Vec<ScheduledAiring>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn status(&self) -> SourceStatus {
        self.gate.status()
    }
}
