//! Look-ups: resolving a title to one entry (or a picker), the card, the
//! scores view, ratings, the top list and `rouge search`.

use std::sync::Arc;

use serde::Serialize;

use super::{App, CommandError};
use crate::core::announce::projection::Projection;
use crate::core::caller::Caller;
use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Entry, EntryId, Kind, Release, Status, TitleLang};
use crate::core::catalog::search::{Hit, MatchKind};
use crate::core::catalog::{scores, text};
use crate::core::command::TitleRef;
use crate::core::reply::{Card, Choice, ListItem, ListView, NextEpisode, Picker, Reply};

/// One look-up result, as `rouge search --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub id: EntryId,
    pub title: String,
    pub matched: String,
    pub score: f32,
    #[serde(rename = "match")]
    pub how: MatchKind,
    pub external_ids: std::collections::BTreeMap<String, String>,
}

/// The title an admin command or look-up settled on.
pub(super) enum Resolved {
    One(Arc<Entry>),
    Choose(Picker),
}

impl App {
    /// Whether adult titles may appear where `caller` writes: a group's
    /// setting, or in a private chat the person's own (`/anime me adult`).
    pub(super) fn shows_adult(&self, caller: &Caller) -> Result<bool, CommandError> {
        let chat = if caller.is_group {
            caller.chat()
        } else {
            caller.personal_chat()
        };
        Ok(self.store().chat_settings(&chat)?.adult)
    }

    /// Resolves a title for an owner's command: every entry counts.
    pub(super) fn resolve(
        &self,
        title: &TitleRef,
        pick: impl Fn(EntryId) -> String,
        strict: bool,
    ) -> Result<Resolved, CommandError> {
        self.resolve_where(title, pick, strict, true)
    }

    /// Resolves a title for `caller`: an adult title is found only where
    /// adult titles are on; asked for by `#id`, it is said to be hidden.
    pub(super) fn resolve_for(
        &self,
        caller: &Caller,
        title: &TitleRef,
        pick: impl Fn(EntryId) -> String,
    ) -> Result<Resolved, CommandError> {
        let adult = self.shows_adult(caller)?;
        self.resolve_where(title, pick, false, adult)
    }

    fn resolve_where(
        &self,
        title: &TitleRef,
        pick: impl Fn(EntryId) -> String,
        strict: bool,
        adult: bool,
    ) -> Result<Resolved, CommandError> {
        let query = match title {
            TitleRef::Id(id) => {
                let entry = self.entry(*id).ok_or(CommandError::NoSuchId(*id))?;
                if !adult && entry.is_adult_title() {
                    return Err(CommandError::Hidden(*id));
                }
                return Ok(Resolved::One(entry));
            }
            TitleRef::Query(q) => q,
        };
        let catalog = self.catalog();
        let hits = catalog.search_where(query, self.inner.picker_size, |e| {
            adult || !e.is_adult_title()
        });
        let Some(top) = hits.first() else {
            return Err(CommandError::NotFound(query.clone()));
        };
        let runner_up = hits.get(1).map_or(0.0, |h| h.score);
        let confident = if strict {
            top.how == MatchKind::Exact && runner_up < 1.0
        } else {
            // An exact title, a strong match well ahead of the next, or the
            // only candidate at all.
            (top.score >= 0.97 && runner_up < 0.97)
                || (top.score >= 0.85 && top.score - runner_up >= 0.08)
                || top.score - runner_up >= 0.25
        };
        if confident && let Some(entry) = catalog.entry(top.entry) {
            return Ok(Resolved::One(entry));
        }
        let choices = hits
            .iter()
            .filter_map(|h| catalog.entry(h.entry))
            .map(|e| Choice {
                id: e.id,
                title: e.display_title().to_owned(),
                detail: detail(&e),
                command: pick(e.id),
            })
            .collect();
        Ok(Resolved::Choose(Picker {
            query: query.clone(),
            choices,
        }))
    }

    pub(super) fn card(&self, entry: &Entry) -> Result<Card, CommandError> {
        let display = entry.display_title().to_owned();
        let mut other_titles: Vec<String> = Vec::new();
        let candidates = std::iter::once(entry.title.as_str()).chain(
            [TitleLang::Ja, TitleLang::ZhHans, TitleLang::ZhHant]
                .into_iter()
                .filter_map(|l| entry.title_in(l)),
        );
        for t in candidates {
            if t != display && !other_titles.iter().any(|o| o == t) {
                other_titles.push(t.to_owned());
            }
        }
        let mut latest_releases: Vec<Release> = entry.releases.clone();
        latest_releases.sort_by(|a, b| {
            b.released_at
                .cmp(&a.released_at)
                .then(b.number.cmp(&a.number))
        });
        latest_releases.truncate(3);
        let now = self.now();
        let projection = Projection::of(entry);
        Ok(Card {
            id: entry.id,
            title: display,
            other_titles,
            kind: entry.kind.map(|k| k.label().to_owned()),
            genres: entry.genres.clone(),
            status: self.status(entry, projection.as_ref()),
            season: entry.season_or_derived().map(|s| s.to_string()),
            aired_from: entry.aired_from,
            aired_to: entry.aired_to,
            episodes: entry.episodes,
            duration_min: entry.duration_min,
            audio: entry.audio.clone(),
            subtitles: entry.subtitles.clone(),
            qualities: entry.qualities.clone(),
            studios: entry.studios.clone(),
            synopsis: entry.synopsis.clone(),
            picture: entry.picture.clone(),
            links: entry.links.clone(),
            scores: scores::summarise(&entry.scores),
            community: scores::community(&self.inner.store.ratings(entry.id)?),
            latest_releases,
            next_episode: projection.as_ref().and_then(|p| {
                let next = p.next_after(p.primary(), now)?;
                Some(NextEpisode {
                    number: next.number,
                    unit: next.unit,
                    at: next.at,
                })
            }),
            note: (!entry.broadcasts.is_empty())
                .then(|| self.stale_note())
                .flatten(),
        })
    }

    /// What the card says of the status: given or by the air dates, else by
    /// the schedule; unknown (as of the data's date) when the schedule has
    /// run out and no end date is known, never "airing" by default.
    fn status(&self, entry: &Entry, projection: Option<&Projection>) -> Option<String> {
        let now = self.now();
        if let Some(status) = entry.status_as_of(now.date_naive()) {
            return Some(status.label().to_owned());
        }
        entry.aired_from?;
        let single =
            entry.kind == Some(Kind::Movie) || projection.is_some_and(|p| p.is_whole_season());
        let airing = entry.ongoing.is_some() || projection.is_some_and(|p| p.continues_after(now));
        Some(match (single, airing) {
            (true, _) => Status::Finished.label().to_owned(),
            (false, true) => Status::Airing.label().to_owned(),
            (false, false) => match self.data_freshness() {
                Some(f) => format!("Status unknown (data as of {})", f.as_of),
                None => "Status unknown".to_owned(),
            },
        })
    }

    pub(super) fn rate(
        &self,
        caller: &Caller,
        title: &TitleRef,
        rating: u8,
    ) -> Result<Reply, CommandError> {
        let entry =
            match self.resolve_for(caller, title, |id| format!("/anime rate #{id} {rating}"))? {
                Resolved::One(entry) => entry,
                Resolved::Choose(picker) => return Ok(Reply::Picker(picker)),
            };
        let previous = self
            .inner
            .store
            .set_rating(entry.id, &caller.key(), rating)?;
        let community = scores::community(&self.inner.store.ratings(entry.id)?);
        let mut text = match previous {
            Some(old) => format!(
                "You rated {} {rating}/10 (it was {old}).",
                entry.display_title()
            ),
            None => format!("You rated {} {rating}/10.", entry.display_title()),
        };
        match community.score {
            Some(score) => text.push_str(&format!(
                " Community score: {score} from {} ratings.",
                community.ratings
            )),
            None => text.push_str(&format!(
                " The community score appears after {} ratings ({} so far).",
                scores::COMMUNITY_MIN_RATINGS,
                community.ratings
            )),
        }
        Ok(Reply::done(text, Some(entry.id)))
    }

    pub(super) fn top(
        &self,
        caller: &Caller,
        genre: Option<&str>,
        limit: usize,
    ) -> Result<Reply, CommandError> {
        let mut ranked: Vec<(scores::Tenths, u64, Arc<Entry>)> = self
            .visible(caller, genre)?
            .into_iter()
            .filter_map(|e| {
                let summary = scores::summarise(&e.scores).summary?;
                let votes = e.scores.iter().filter_map(|s| s.votes).sum();
                Some((summary, votes, e))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.id.cmp(&b.2.id)));
        ranked.truncate(limit);
        let heading = match genre {
            Some(g) => format!("Top {limit} in {g}"),
            None => format!("Top {limit}"),
        };
        Ok(Reply::List(ListView {
            note: None,
            previous: None,
            next: None,
            heading,
            empty: match genre {
                Some(g) => format!("No scored titles in the genre \"{g}\"."),
                None => "No title has a score yet.".into(),
            },
            items: ranked
                .into_iter()
                .map(|(score, _, e)| ListItem {
                    at: None,
                    id: Some(e.id),
                    text: e.display_title().to_owned(),
                    detail: format!("{score} · {}", detail(&e)),
                })
                .collect(),
        }))
    }

    /// Every entry `caller` may see where they write, optionally only of
    /// one genre (compared folded).
    pub(super) fn visible(
        &self,
        caller: &Caller,
        genre: Option<&str>,
    ) -> Result<Vec<Arc<Entry>>, CommandError> {
        let adult = self.shows_adult(caller)?;
        let wanted = genre.map(|g| text::fold(g).key);
        Ok(self
            .catalog()
            .entries()
            .filter(|e| adult || !e.is_adult_title())
            .filter(|e| {
                wanted
                    .as_ref()
                    .is_none_or(|w| e.genres.iter().any(|g| &text::fold(g).key == w))
            })
            .cloned()
            .collect())
    }

    /// Title suggestions as `caller` types (autocomplete, inline mode):
    /// only titles that may appear where they write.
    pub fn suggest(&self, caller: &Caller, typed: &str, limit: usize) -> Vec<SearchResult> {
        let adult = self.shows_adult(caller).unwrap_or(false);
        let catalog = self.catalog();
        catalog
            .search_where(&text::clean_input(typed), limit, |e| {
                adult || !e.is_adult_title()
            })
            .into_iter()
            .filter_map(|hit| search_result(&catalog, hit))
            .collect()
    }

    /// Ranked look-up for `rouge search`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchResult> {
        let catalog = self.catalog();
        catalog
            .search(&text::clean_input(query), limit)
            .into_iter()
            .filter_map(|hit| search_result(&catalog, hit))
            .collect()
    }
}

fn search_result(catalog: &Catalog, hit: Hit) -> Option<SearchResult> {
    let entry = catalog.entry(hit.entry)?;
    Some(SearchResult {
        id: entry.id,
        title: entry.title.clone(),
        matched: hit.matched,
        score: (hit.score * 1000.0).round() / 1000.0,
        how: hit.how,
        external_ids: entry.external_ids.clone(),
    })
}

/// `, page 2 of 5` for a list's heading; nothing for a list of one page.
pub(super) fn of_pages(page: usize, pages: usize) -> String {
    if pages > 1 {
        format!(", page {page} of {pages}")
    } else {
        String::new()
    }
}

/// `TV · 2024` for pickers and lists.
pub(super) fn detail(entry: &Entry) -> String {
    let mut parts = Vec::new();
    if let Some(kind) = entry.kind {
        parts.push(kind.label().to_owned());
    }
    if let Some(season) = entry.season_or_derived() {
        parts.push(season.year.to_string());
    }
    if parts.is_empty() {
        parts.push(format!("#{}", entry.id));
    }
    parts.join(" · ")
}
