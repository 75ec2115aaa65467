//! AniList's GraphQL API: works by id, 50 to a request, and the airing
//! schedule, whose episode numbers and times Rouge announces.

mod map;
mod query;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;

use super::gate::Gate;
use super::transport::{self, Answer};
use super::{SourceSettings, today};
use crate::core::source::{
    ScheduledAiring, Source, SourceEntry, SourceError, SourceFuture, SourceId, SourceStatus,
};

/// AniList's largest page, so the most ids one request asks for.
const BATCH: usize = 50;
/// The most schedule pages one [`Source::schedule`] call reads (1,000
/// airings): a wider window is the caller's mistake, not a reason to spend
/// the whole budget.
const MAX_SCHEDULE_PAGES: u32 = 20;
/// The largest answer read: a full page of 50 works with their relations
/// is well under a megabyte.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The AniList source. Cheap to share behind an `Arc`; calls may run
/// concurrently and share one budget.
pub struct AniList {
    http: reqwest::Client,
    gate: Gate,
}

impl AniList {
    /// AniList at `settings.url` over the shared `http` client
    /// ([`super::http_client`]).
    pub fn new(http: reqwest::Client, settings: SourceSettings) -> AniList {
        AniList {
            http,
            gate: Gate::new(SourceId::AniList, settings),
        }
    }

    /// One query; the `Page` of its answer.
    async fn page(
        &self,
        query: String,
        variables: serde_json::Value,
    ) -> Result<query::Page, SourceError> {
        let request = self
            .http
            .post(&self.gate.settings().url)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&json!({ "query": query, "variables": variables }));
        transport::exchange(&self.gate, request, MAX_BODY, parse_page).await
    }

    async fn fetch_all(&self, ids: &[String]) -> Result<Vec<SourceEntry>, SourceError> {
        // AniList ids are GraphQL Ints (32 bits); anything else names no work.
        let mut ids: Vec<i32> = ids.iter().filter_map(|id| id.trim().parse().ok()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let page = self
                .page(query::media_query(), json!({ "ids": chunk }))
                .await?;
            let today = today();
            out.extend(page.media.into_iter().filter_map(|m| map::entry(m, today)));
        }
        Ok(out)
    }

    async fn schedule_all(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScheduledAiring>, SourceError> {
        if to <= from {
            return Ok(Vec::new());
        }
        // `(from, to]` in AniList's exclusive bounds, within its 32-bit Ints.
        let int = |t: i64| t.clamp(0, i64::from(i32::MAX));
        let (after, before) = (int(from.timestamp()), int(to.timestamp() + 1));
        let mut out = Vec::new();
        for page in 1..=MAX_SCHEDULE_PAGES {
            let vars = json!({ "page": page, "from": after, "to": before });
            let answer = self.page(query::schedule_query(), vars).await?;
            let today = today();
            out.extend(
                answer
                    .airing_schedules
                    .into_iter()
                    .filter_map(|a| scheduled(a, today)),
            );
            let more = answer.page_info.and_then(|p| p.has_next_page);
            if more != Some(true) {
                break;
            }
        }
        Ok(out)
    }
}

/// A schedule row: its episode and time, and the work (its next airing
/// listing this one too). A row whose work AniList left out still names
/// the work's id.
fn scheduled(row: query::Airing, today: chrono::NaiveDate) -> Option<ScheduledAiring> {
    let (episode, at) = map::airing(&row)?;
    let mut entry = match row.media {
        Some(media) => map::entry(*media, today)?,
        None => SourceEntry {
            external_id: row.media_id?.to_string(),
            ..SourceEntry::default()
        },
    };
    if !entry.airings.contains(&(episode, at)) {
        entry.airings.push((episode, at));
    }
    Some(ScheduledAiring { episode, at, entry })
}

/// The `Page` of a GraphQL answer. Errors with data are a partial answer and
/// used; errors without are the query's fault (AniList's 400) or AniList's.
fn parse_page(answer: Answer) -> Result<query::Page, SourceError> {
    let envelope: query::Envelope = serde_json::from_slice(&answer.body)
        .map_err(|e| SourceError::Malformed(format!("AniList's answer is not JSON: {e}")))?;
    let first_error = envelope
        .errors
        .iter()
        .find_map(|e| e.message.as_deref())
        .and_then(|m| super::clip(m, 160));
    if answer.status != StatusCode::OK {
        let why = first_error.unwrap_or_else(|| format!("HTTP {}", answer.status.as_u16()));
        return Err(SourceError::Malformed(format!(
            "AniList refused the query: {why}"
        )));
    }
    match (envelope.data.and_then(|d| d.page), first_error) {
        (Some(page), _) => Ok(page),
        (None, Some(why)) => Err(SourceError::Malformed(format!(
            "AniList answered an error: {why}"
        ))),
        (None, None) => Err(SourceError::Malformed(
            "AniList's answer has no Page".to_owned(),
        )),
    }
}

impl Source for AniList {
    fn id(&self) -> SourceId {
        SourceId::AniList
    }

    fn batch(&self) -> usize {
        BATCH
    }

    /// Several requests when given more than [`BATCH`] ids; if any fails
    /// the call fails (a partial answer would read as "unknown works").
    fn fetch<'a>(&'a self, ids: &'a [String]) -> SourceFuture<'a, Vec<SourceEntry>> {
        Box::pin(self.fetch_all(ids))
    }

    /// Pages through the window (at most [`MAX_SCHEDULE_PAGES`]), each page
    /// within the budget.
    fn schedule<'a>(
        &'a self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> SourceFuture<'a, Vec<ScheduledAiring>> {
        Box::pin(self.schedule_all(from, to))
    }

    fn status(&self) -> SourceStatus {
        self.gate.status()
    }
}
