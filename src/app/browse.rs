//! Browsing beyond one title: a random pick, a season's chart and a
//! title's relations. Each shows only titles the caller's chat may see.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use chrono::Datelike;

use super::lookup::{Resolved, detail, of_pages};
use super::{App, CommandError};
use crate::core::announce::schedule;
use crate::core::caller::Caller;
use crate::core::catalog::model::{Entry, Kind, RelationKind, Season, SeasonName};
use crate::core::catalog::scores;
use crate::core::command::TitleRef;
use crate::core::reply::{ListItem, ListView, Reply};

/// Lines on one page of a season chart.
const SEASON_LINES: usize = 15;
/// Most relations listed.
const RELATED_LINES: usize = 25;

impl App {
    pub(super) fn random(
        &self,
        caller: &Caller,
        genre: Option<&str>,
    ) -> Result<Reply, CommandError> {
        let mut candidates = self.visible(caller, genre)?;
        if candidates.is_empty() {
            return Err(CommandError::BadInput(match genre {
                Some(g) => format!(
                    "No title has the genre \"{g}\". /anime top {g} shows the genre's best, if it has any."
                ),
                None => "The catalog has no title to pick.".to_owned(),
            }));
        }
        // The catalog's order is a hash map's: sorted, so that the pick
        // depends only on the random number.
        candidates.sort_by_key(|e| e.id);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_i64(self.now().timestamp_nanos_opt().unwrap_or_default());
        let pick = (hasher.finish() % candidates.len() as u64) as usize;
        let entry = Arc::clone(&candidates[pick]);
        Ok(Reply::Card(Box::new(self.card(&self.fresh(entry))?)))
    }

    pub(super) fn season(
        &self,
        caller: &Caller,
        name: Option<SeasonName>,
        year: Option<i32>,
        page: usize,
    ) -> Result<Reply, CommandError> {
        let settings = self.store().chat_settings(&caller.chat())?;
        let tz = schedule::time_zone(&settings.tz).unwrap_or(chrono_tz::Tz::UTC);
        let today = self.now().with_timezone(&tz).date_naive();
        let current = Season::of_date(today);
        let wanted = Season {
            name: name.unwrap_or(current.name),
            year: year.unwrap_or(today.year()),
        };
        let mut chart: Vec<(bool, Option<scores::Tenths>, u64, Arc<Entry>)> = self
            .visible(caller, None)?
            .into_iter()
            .filter(|e| e.season_or_derived() == Some(wanted))
            .map(|e| {
                let votes = e.scores.iter().filter_map(|s| s.votes).sum();
                (
                    e.kind == Some(Kind::Tv),
                    scores::summarise(&e.scores).summary,
                    votes,
                    e,
                )
            })
            .collect();
        // TV first, then the best summary score (unscored last), the most
        // votes, the title.
        chart.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then(b.2.cmp(&a.2))
                .then_with(|| a.3.display_title().cmp(b.3.display_title()))
        });
        let total = chart.len();
        let pages = total.div_ceil(SEASON_LINES).max(1);
        let page = page.min(pages);
        let command = |page: usize| {
            format!(
                "/anime season {} {} page={page}",
                wanted.name.label().to_lowercase(),
                wanted.year
            )
        };
        let items = chart
            .into_iter()
            .skip((page - 1) * SEASON_LINES)
            .take(SEASON_LINES)
            .map(|(_, score, _, e)| ListItem {
                id: Some(e.id),
                text: e.display_title().to_owned(),
                detail: match score {
                    Some(score) => format!("{score} · {}", detail(&e)),
                    None => detail(&e),
                },
                at: None,
            })
            .collect();
        let of_pages = of_pages(page, pages);
        Ok(Reply::List(ListView {
            heading: format!(
                "{wanted}: {total} title{}{of_pages}",
                if total == 1 { "" } else { "s" }
            ),
            note: None,
            items,
            empty: format!("The catalog has no title of {wanted}."),
            previous: (page > 1).then(|| command(page - 1)),
            next: (page < pages).then(|| command(page + 1)),
        }))
    }

    pub(super) fn related(&self, caller: &Caller, title: &TitleRef) -> Result<Reply, CommandError> {
        let entry = match self.resolve_for(caller, title, |id| format!("/anime related #{id}"))? {
            Resolved::One(entry) => entry,
            Resolved::Choose(picker) => return Ok(Reply::Picker(picker)),
        };
        let adult = self.shows_adult(caller)?;
        let catalog = self.catalog();
        let mut seen = BTreeSet::from([entry.id]);
        // (first aired, the relation's label, the line)
        let mut lines: Vec<(Option<chrono::NaiveDate>, ListItem)> = Vec::new();
        for related in &entry.relations {
            let found = catalog
                .by_external(&related.source, &related.external_id)
                .and_then(|id| catalog.entry(id));
            match found {
                Some(other) if !seen.insert(other.id) => {}
                Some(other) if !adult && other.is_adult_title() => {}
                Some(other) => lines.push((
                    other.aired_from,
                    ListItem {
                        id: Some(other.id),
                        text: other.display_title().to_owned(),
                        detail: format!("{} · {}", relation_label(related.kind), detail(&other)),
                        at: None,
                    },
                )),
                None => lines.push((
                    None,
                    ListItem {
                        id: None,
                        text: related.title.clone(),
                        detail: format!("{} · not in the catalog", relation_label(related.kind)),
                        at: None,
                    },
                )),
            }
        }
        // Works that share an id with this one at a source that names a
        // whole franchise (bangumi-data points seasons and films at one
        // MyAnimeList or AniDB id): the same franchise.
        for other in catalog.entries() {
            let shares = other
                .external_ids
                .iter()
                .any(|(source, id)| entry.external_ids.get(source) == Some(id));
            if shares && (adult || !other.is_adult_title()) && seen.insert(other.id) {
                lines.push((
                    other.aired_from,
                    ListItem {
                        id: Some(other.id),
                        text: other.display_title().to_owned(),
                        detail: format!("same franchise · {}", detail(other)),
                        at: None,
                    },
                ));
            }
        }
        // Airing order: dated works by their first air date, then the rest.
        lines.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.text.cmp(&b.1.text),
        });
        lines.truncate(RELATED_LINES);
        let name = entry.display_title();
        Ok(Reply::List(ListView {
            heading: format!("Related to {name}, in airing order"),
            note: None,
            items: lines.into_iter().map(|(_, item)| item).collect(),
            empty: format!(
                "No relations of {name} are known yet (the live sources add them when they refresh it)."
            ),
            previous: None,
            next: None,
        }))
    }
}

fn relation_label(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::Prequel => "prequel",
        RelationKind::Sequel => "sequel",
        RelationKind::SideStory => "side story",
        RelationKind::Parent => "parent story",
        RelationKind::Alternative => "alternative version",
        RelationKind::Other => "related",
    }
}
