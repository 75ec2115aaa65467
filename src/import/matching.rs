//! Which stored entry a work of a file may be (see the [parent module](super)
//! for the rules): the evidence a work and an entry share, how strong it is,
//! and every stored entry a work lays a claim to.
//!
//! A work and an entry are compared on the most specific source both carry
//! ([`SPECIFIC_SOURCES`] first): the same id there makes the entry a
//! candidate, a different id rules it out whatever else they share, and so
//! does a start more than a year away without any of the work's titles. An
//! entry that shares no source with the work is a candidate only with the
//! same title, kind and first air date.

use std::collections::{BTreeMap, HashMap};

use super::Rules;
use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Entry, EntryId, Kind};
use crate::core::catalog::text;

/// Sources whose ids are compared first, most specific first; any other
/// source follows in alphabetical order. bangumi subjects name one work in
/// bangumi-data; of the rest, bangumi-data 0.3.208 points 6 AniList, 9
/// MyAnimeList and 7 AniDB ids at more than one work. Kitsu (from the
/// offline database) names one work but is rarely beside the others.
pub const SPECIFIC_SOURCES: [&str; 5] = ["bangumi", "anilist", "mal", "anidb", "kitsu"];

/// How specific a source is: higher is more specific; 1 for other sources.
fn specificity(source: &str) -> u8 {
    SPECIFIC_SOURCES
        .iter()
        .position(|s| *s == source)
        .map_or(1, |i| (SPECIFIC_SOURCES.len() - i + 1) as u8)
}

/// `ids`, most specific source first: [`SPECIFIC_SOURCES`] in their order,
/// then the others in alphabetical order.
pub(super) fn by_specificity(
    ids: &BTreeMap<String, String>,
) -> impl Iterator<Item = (&String, &String)> {
    SPECIFIC_SOURCES
        .iter()
        .filter_map(|s| ids.get_key_value(*s))
        .chain(
            ids.iter()
                .filter(|(s, _)| !SPECIFIC_SOURCES.contains(&s.as_str())),
        )
}

/// Evidence levels beside the sources: the same id and main title in our own
/// export beats every source, the title fallback is below all of them.
const BY_OWN_ID: u8 = u8::MAX;
const BY_TITLE: u8 = 0;

/// The most specific source both id maps carry: `a`'s id there and whether
/// `b` has the same one.
pub(super) fn decisive<'a>(
    a: &'a BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> Option<(&'a str, &'a str, bool)> {
    by_specificity(a)
        .find_map(|(s, id)| b.get(s).map(|other| (s.as_str(), id.as_str(), other == id)))
}

/// How well an entry fits a work, compared field by field (derived order:
/// evidence first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Strength {
    evidence: u8,
    /// 3: the same first air date; 2: a day apart (an earlier version
    /// stored bangumi-data's UTC dates); 1: the same season; 0: otherwise.
    date: u8,
    kind: u8,
    /// 2: the work's main title is the entry's; 1: one of its titles; 0: neither.
    title: u8,
}

impl Strength {
    fn of(evidence: u8, work: &Entry, entry: &Entry) -> Strength {
        let date = match (work.aired_from, entry.aired_from) {
            (Some(a), Some(b)) if a == b => 3,
            (Some(a), Some(b)) if (a - b).num_days().abs() <= 1 => 2,
            _ if work.season_or_derived().is_some()
                && work.season_or_derived() == entry.season_or_derived() =>
            {
                1
            }
            _ => 0,
        };
        let kind = matches!((work.kind, entry.kind), (Some(a), Some(b)) if same_kind(a, b));
        let key = text::fold(&work.title).key;
        let title = if text::fold(&entry.title).key == key {
            2
        } else {
            u8::from(entry.all_titles().any(|(t, _)| text::fold(t).key == key))
        };
        Strength {
            evidence,
            date,
            kind: u8::from(kind),
            title,
        }
    }
}

/// bangumi-data calls web series `web` where other sources say ONA.
fn same_kind(a: Kind, b: Kind) -> bool {
    a == b || matches!((a, b), (Kind::Web, Kind::Ona) | (Kind::Ona, Kind::Web))
}

/// Identity for records without a shared source: the same title, kind and
/// first air date is the same anime. A day apart counts as the same date:
/// an earlier version stored bangumi-data's UTC dates, a day before the
/// local ones for late-night premieres.
fn same_work(a: &Entry, b: &Entry) -> bool {
    a.kind == b.kind
        && match (a.aired_from, b.aired_from) {
            (Some(x), Some(y)) => (x - y).num_days().abs() <= 1,
            (x, y) => x == y,
        }
}

/// Whether an entry that shares an id with a work started more than a year
/// away from it and has none of its titles: then it is another work behind a
/// franchise-level id (ONE PIECE and its 2026 arc both carry MyAnimeList 21),
/// however the ids agree.
fn years_apart(work: &Entry, entry: &Entry) -> bool {
    let apart = match (work.aired_from, entry.aired_from) {
        (Some(a), Some(b)) => (a - b).num_days().abs() > 366,
        _ => match (work.season_or_derived(), entry.season_or_derived()) {
            (Some(a), Some(b)) => (a.year - b.year).abs() > 1,
            _ => false,
        },
    };
    let key = text::fold(&work.title).key;
    apart && !entry.all_titles().any(|(t, _)| text::fold(t).key == key)
}

/// A stored entry a work may be: a candidate with its strength, or an entry
/// that shares an id with the work but is told apart on a more specific one.
pub(super) struct Claim {
    pub(super) entry: EntryId,
    pub(super) strength: Option<Strength>,
    /// The evidence, for messages: `mal 21`.
    pub(super) why: String,
}

/// Stored entries by external id; unlike [`Catalog::by_external`] it keeps
/// every entry that carries an id, since franchise-level ids are shared.
pub(super) struct IdIndex<'a>(HashMap<(&'a str, &'a str), Vec<EntryId>>);

impl<'a> IdIndex<'a> {
    pub(super) fn of(existing: &'a Catalog) -> IdIndex<'a> {
        let mut map: HashMap<(&str, &str), Vec<EntryId>> = HashMap::new();
        for entry in existing.entries() {
            for (source, id) in &entry.external_ids {
                map.entry((source, id)).or_default().push(entry.id);
            }
        }
        for ids in map.values_mut() {
            ids.sort_unstable();
        }
        IdIndex(map)
    }

    /// The stored entries that carry `source`'s id `id`.
    pub(super) fn carrying<'s>(&'s self, source: &'s str, id: &'s str) -> &'s [EntryId] {
        self.0.get(&(source, id)).map_or(&[], Vec::as_slice)
    }

    /// Every stored entry that shares an id with `entry`, in id order.
    pub(super) fn sharing(&self, entry: &Entry) -> Vec<EntryId> {
        let mut ids: Vec<EntryId> = entry
            .external_ids
            .iter()
            .filter_map(|(s, i)| self.0.get(&(s.as_str(), i.as_str())))
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The stored entries `work` may be (see the module docs).
pub(super) fn claims(
    existing: &Catalog,
    index: &IdIndex,
    work: &Entry,
    rules: Rules,
) -> Vec<Claim> {
    let mut out = Vec::new();
    if rules.keep_ids
        && let Some(stored) = existing.get(work.id)
        && work.id != 0
        && stored.title == work.title
    {
        out.push(Claim {
            entry: work.id,
            strength: Some(Strength::of(BY_OWN_ID, work, stored)),
            why: format!("id {} and title", work.id),
        });
    }
    let seen = |out: &[Claim], id| out.iter().any(|c| c.entry == id);
    for id in index.sharing(work) {
        let Some(stored) = existing.get(id) else {
            continue;
        };
        let Some((source, value, same)) = decisive(&work.external_ids, &stored.external_ids) else {
            continue;
        };
        if seen(&out, id) {
            continue;
        }
        out.push(Claim {
            entry: id,
            strength: (same && !years_apart(work, stored))
                .then(|| Strength::of(specificity(source), work, stored)),
            why: format!("{source} {value}"),
        });
    }
    let mut by_title = existing.by_title(&work.title);
    by_title.sort_unstable();
    for id in by_title {
        if let Some(stored) = existing.get(id)
            && !seen(&out, id)
            && decisive(&work.external_ids, &stored.external_ids).is_none()
            && same_work(stored, work)
        {
            out.push(Claim {
                entry: id,
                strength: Some(Strength::of(BY_TITLE, work, stored)),
                why: "title, kind and first air date".into(),
            });
        }
    }
    out
}
