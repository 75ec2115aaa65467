//! Catalog imports: each format's parser turns a file into [`Incoming`]
//! records; [`plan`] decides which stored entry each work of the file is and
//! merges it in, without duplicating entries, mixing distinct works or
//! overwriting what an admin edited.
//!
//! How works are told apart. bangumi-data points several seasons, arcs and
//! films at one franchise-level MyAnimeList, AniDB or AniList id, so "shares
//! an id" is not "is the same work":
//!
//! - **Within one file** every record is a work of its own, unless the format
//!   says two records list the same work by giving them the same
//!   [`Incoming::listing`] key (bangumi-data: the same bangumi subject and the
//!   same start, such as a Chinese and a Japanese listing of 一人之下). Such
//!   listings are folded into one work first and counted as `merged`. A
//!   shared id or title never merges two records of one file.
//! - **Onto stored entries** a work and an entry are compared on the most
//!   specific source both carry ([`SPECIFIC_SOURCES`] first): the same id
//!   there makes the entry a candidate, a different id rules it out whatever
//!   else they share; so does a start more than a year away without any of
//!   the work's titles (a 2026 arc behind ONE PIECE's id). An entry that
//!   shares no source with the work is a candidate only with the same title,
//!   kind and first air date. The best candidate is matched on the more
//!   specific source, then has the same first air date (or season), the same
//!   kind, the same title (main title before alternative ones).
//! - **Never two for one without saying so.** Works are matched strongest
//!   claim first. An entry another work of the file took is read again as
//!   that work made it: if it now carries an id that tells this work apart
//!   (the other work's bangumi id), it is simply not this work's. A work whose
//!   best candidates cannot be told apart, or whose best candidate another
//!   work took and still matches, is skipped with a reason naming the entries
//!   and the edit that tells them apart. That is the kinder choice for a curator: a merge would
//!   mix two works in one entry that only hand edits can separate, and an
//!   addition could duplicate a work the catalog already has, while a skipped
//!   record is one edit and a re-import away.
//! - **Splits.** When the file names each work by an id of its own
//!   ([`Rules::split_absorbed`]: bangumi-data), an entry that carries a work's
//!   main title among its alternative titles and shares an id or a link with
//!   it, while the rules above tell the work apart from the entry, absorbed the
//!   work in an import by an earlier version. The work becomes its own entry
//!   again and what came from it leaves the old entry ([`Plan::splits`]).

pub mod bangumi_data;
pub mod offline_db;
pub mod rouge_json;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Entry, EntryId, Field, Kind, TitleLang};
use crate::core::catalog::text;

/// The file formats `rouge import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// bangumi-data's `data.json` (`{siteMeta, items}`).
    BangumiData,
    /// manami-project's anime-offline-database, JSON or JSONL.
    OfflineDb,
    /// What `rouge export` writes.
    Rouge,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bangumi-data" => Ok(Format::BangumiData),
            "offline-db" => Ok(Format::OfflineDb),
            "rouge" => Ok(Format::Rouge),
            other => Err(format!(
                "unknown format \"{other}\" (bangumi-data, offline-db or rouge)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::BangumiData => "bangumi-data",
            Format::OfflineDb => "offline-db",
            Format::Rouge => "rouge",
        })
    }
}

/// A file that cannot be imported at all; the store is left unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a {format} file: {reason}")]
    Shape { format: Format, reason: String },
}

/// One record from a file, before it is merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The record as an entry. Its `id` is kept only by the rouge format,
    /// and only when that id is free.
    pub entry: Entry,
    /// The language of `entry.title`, used when it becomes an alias of an
    /// existing entry.
    pub title_lang: TitleLang,
    /// Which work of the file this record lists, when the format can tell:
    /// records of one file with the same key are listings of one work and
    /// become one entry. `None`: a work of its own.
    pub listing: Option<String>,
    /// Where the record is in the file, as in [`Skipped::position`].
    pub position: String,
}

/// A record that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it is in the file: the index in the array (0-based) or the line (1-based) for JSONL.
    pub position: String,
    pub reason: String,
}

/// How a format's records are told apart and matched (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// Our own exports: a record keeps its id where that id is free, and the
    /// entry with the record's id and main title is its work, so that an
    /// export imports back exactly.
    pub keep_ids: bool,
    /// The file names each work by an id of its own (bangumi-data's subject
    /// and start), so an entry that carries a work's main title and ids while
    /// the file tells the work apart from it absorbed the work in an earlier
    /// import, and is split back.
    pub split_absorbed: bool,
}

/// What a parser read from a file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<Incoming>,
    pub skipped: Vec<Skipped>,
    pub rules: Rules,
    /// How current the file's schedule data is: for bangumi-data the newest
    /// date in the file (items' begin and end, sites' begin, as UTC dates
    /// since it describes the file, not one work's region). `None` when the
    /// format has no schedules (offline-db: its `lastUpdate` dates scores
    /// and synonyms, not air times) or does not say (a rouge export).
    pub data_as_of: Option<NaiveDate>,
}

/// Parses `bytes` in `format`.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Parsed, ImportError> {
    match format {
        Format::BangumiData => bangumi_data::parse(bytes),
        Format::OfflineDb => offline_db::parse(bytes),
        Format::Rouge => rouge_json::parse(bytes),
    }
}

/// The outcome of an import. Every record read is counted once: as the one
/// record of a new (`added`), changed (`updated`) or `unchanged` entry, as a
/// duplicate listing folded into another record (`merged`), or as `skipped`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub added: usize,
    /// Records that listed the same work as another record of the file.
    pub merged: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Works split off an entry that an earlier import had wrongly merged
    /// them into (each is also counted as added, its old entry as updated).
    pub split: usize,
    pub skipped: Vec<Skipped>,
    /// How current the file's schedule data is ([`Parsed::data_as_of`]).
    pub data_as_of: Option<NaiveDate>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} merged as duplicate listings, {} updated, {} unchanged, {} skipped",
            thousands(self.added),
            thousands(self.merged),
            thousands(self.updated),
            thousands(self.unchanged),
            thousands(self.skipped.len())
        )?;
        if self.split > 0 {
            write!(
                f,
                ", {} split off entries an earlier import had merged them into",
                thousands(self.split)
            )?;
        }
        if let Some(date) = self.data_as_of {
            write!(f, "; data as of {date}")?;
        }
        Ok(())
    }
}

/// `8466` as `8,466`, for summaries people read.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The entries an import writes, and its summary.
#[derive(Debug, Default)]
pub struct Plan {
    /// New and changed entries; new ones have id 0 until ids are allocated.
    pub put: Vec<Entry>,
    /// Works split back off entries that had absorbed them, one audit line each.
    pub splits: Vec<Split>,
    pub summary: Summary,
}

/// A work split off the entry an earlier import had merged it into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The entry that had absorbed the work. It keeps its id and main title,
    /// so ratings, subscriptions and admin edits stay with it.
    pub from: EntryId,
    pub from_title: String,
    /// The work's main title.
    pub title: String,
    /// The work's new entry, as an index into [`Plan::put`] (its id is
    /// allocated when the plan is written).
    pub put: usize,
}

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

/// Evidence levels beside the sources: the same id and main title in our own
/// export beats every source, the title fallback is below all of them.
const BY_OWN_ID: u8 = u8::MAX;
const BY_TITLE: u8 = 0;

/// The most specific source both id maps carry: `a`'s id there and whether
/// `b` has the same one.
fn decisive<'a>(
    a: &'a BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> Option<(&'a str, &'a str, bool)> {
    SPECIFIC_SOURCES
        .iter()
        .filter_map(|s| a.get_key_value(*s))
        .chain(
            a.iter()
                .filter(|(s, _)| !SPECIFIC_SOURCES.contains(&s.as_str())),
        )
        .find_map(|(s, id)| b.get(s).map(|other| (s.as_str(), id.as_str(), other == id)))
}

/// How well an entry fits a work, compared field by field (derived order:
/// evidence first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Strength {
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
struct Claim {
    entry: EntryId,
    strength: Option<Strength>,
    /// The evidence, for messages: `mal 21`.
    why: String,
}

/// Stored entries by external id; unlike [`Catalog::by_external`] it keeps
/// every entry that carries an id, since franchise-level ids are shared.
struct IdIndex<'a>(HashMap<(&'a str, &'a str), Vec<EntryId>>);

impl<'a> IdIndex<'a> {
    fn of(existing: &'a Catalog) -> IdIndex<'a> {
        let mut map: HashMap<(&str, &str), Vec<EntryId>> = HashMap::new();
        for entry in existing.entries() {
            for (source, id) in &entry.external_ids {
                map.entry((source, id)).or_default().push(entry.id);
            }
        }
        IdIndex(map)
    }

    /// Every stored entry that shares an id with `entry`, in id order.
    fn sharing(&self, entry: &Entry) -> Vec<EntryId> {
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
fn claims(existing: &Catalog, index: &IdIndex, work: &Entry, rules: Rules) -> Vec<Claim> {
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

/// What becomes of one work of the file.
enum Decision {
    /// It updates this stored entry.
    Merge(EntryId),
    /// It becomes a new entry, split off these stored entries (none: a
    /// plain addition).
    New(Vec<EntryId>),
    Skip(String),
}

/// The entries a plan writes, with what each one was before.
#[derive(Default)]
struct Slots {
    put: Vec<Entry>,
    /// The stored entry a slot updates; `None` for a new entry.
    origin: Vec<Option<EntryId>>,
    /// The work of the file merged into a slot, if any.
    work: Vec<Option<usize>>,
    by_existing: HashMap<EntryId, usize>,
}

impl Slots {
    fn push(&mut self, entry: Entry, origin: Option<EntryId>, work: Option<usize>) -> usize {
        self.put.push(entry);
        self.origin.push(origin);
        self.work.push(work);
        let slot = self.put.len() - 1;
        if let Some(id) = origin {
            self.by_existing.insert(id, slot);
        }
        slot
    }

    /// The slot of a stored entry, made on first use.
    fn of_existing(&mut self, existing: &Catalog, id: EntryId) -> Option<usize> {
        if let Some(&slot) = self.by_existing.get(&id) {
            return Some(slot);
        }
        let entry = existing.get(id)?.clone();
        Some(self.push(entry, Some(id), None))
    }

    /// A stored entry as this plan has it so far.
    fn current<'a>(&'a self, existing: &'a Catalog, id: EntryId) -> Option<&'a Entry> {
        match self.by_existing.get(&id) {
            Some(&slot) => Some(&self.put[slot]),
            None => existing.get(id),
        }
    }

    /// The work of the file already merged into a stored entry.
    fn taker(&self, id: EntryId) -> Option<usize> {
        self.by_existing.get(&id).and_then(|&slot| self.work[slot])
    }
}

/// Folds the file's duplicate listings (records with the same
/// [`Incoming::listing`] key) into one work each, in file order.
fn works(records: Vec<Incoming>) -> Vec<Incoming> {
    let mut works: Vec<Incoming> = Vec::with_capacity(records.len());
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for record in records {
        if let Some(key) = &record.listing {
            if let Some(&w) = by_key.get(key) {
                merge(&mut works[w].entry, &record, Dates::Widen);
                continue;
            }
            by_key.insert(key.clone(), works.len());
        }
        works.push(record);
    }
    works
}

/// Merges `parsed` into the catalog (see the module docs): each work of the
/// file updates the entry it is, becomes a new entry, or is skipped with a
/// reason; entries that had absorbed a work are split.
pub fn plan(existing: &Catalog, parsed: Parsed) -> Plan {
    let Parsed {
        records,
        mut skipped,
        rules,
        data_as_of,
    } = parsed;
    let read = records.len();
    let mut works = works(records);
    let index = IdIndex::of(existing);
    let claims: Vec<Vec<Claim>> = works
        .iter()
        .map(|w| claims(existing, &index, &w.entry, rules))
        .collect();
    // Strongest claim first; the file's order only between equal claims.
    let mut order: Vec<usize> = (0..works.len()).collect();
    order.sort_by_key(|&w| std::cmp::Reverse(claims[w].iter().filter_map(|c| c.strength).max()));
    let mut slots = Slots::default();
    let mut decisions: Vec<Option<Decision>> = works.iter().map(|_| None).collect();
    for w in order {
        let decision = decide(existing, &slots, &works, w, &claims[w], rules);
        if let Decision::Merge(id) = decision
            && let Some(slot) = slots.of_existing(existing, id)
        {
            merge(&mut slots.put[slot], &works[w], Dates::Replace);
            slots.work[slot] = Some(w);
        }
        decisions[w] = Some(decision);
    }
    // New entries in file order, so that a fresh import numbers them as the file lists them.
    let mut taken_ids: HashSet<EntryId> = HashSet::new();
    let mut absorbed = Vec::new();
    for (w, decision) in decisions.into_iter().enumerate() {
        match decision {
            Some(Decision::New(from)) => {
                // Only a split's work is read again (by `strip`); the rest move.
                let mut entry = if from.is_empty() {
                    std::mem::replace(&mut works[w].entry, Entry::new(0, ""))
                } else {
                    works[w].entry.clone()
                };
                let keep = rules.keep_ids
                    && entry.id != 0
                    && existing.get(entry.id).is_none()
                    && taken_ids.insert(entry.id);
                if !keep {
                    entry.id = 0;
                }
                let slot = slots.push(entry, None, Some(w));
                absorbed.extend(from.into_iter().map(|id| (id, w, slot)));
            }
            Some(Decision::Skip(reason)) => skipped.push(Skipped {
                position: works[w].position.clone(),
                reason,
            }),
            Some(Decision::Merge(_)) | None => {}
        }
    }
    let mut splits = Vec::new();
    for (id, w, new_slot) in absorbed {
        let Some(slot) = slots.of_existing(existing, id) else {
            continue;
        };
        let keep = slots.work[slot].map(|k| &works[k]);
        strip(&mut slots.put[slot], &works[w], keep);
        splits.push(Split {
            from: id,
            from_title: slots.put[slot].title.clone(),
            title: works[w].entry.title.clone(),
            put: new_slot,
        });
    }
    let mut plan = Plan {
        summary: Summary {
            merged: read - works.len(),
            split: splits.len(),
            skipped,
            data_as_of,
            ..Summary::default()
        },
        ..Plan::default()
    };
    // Unchanged entries are not written, so slots and `put` indices differ.
    let mut put_index = vec![usize::MAX; slots.put.len()];
    for (slot, (entry, origin)) in slots.put.into_iter().zip(slots.origin).enumerate() {
        match origin {
            None => plan.summary.added += 1,
            Some(id) if existing.get(id) == Some(&entry) => {
                plan.summary.unchanged += 1;
                continue;
            }
            Some(_) => plan.summary.updated += 1,
        }
        put_index[slot] = plan.put.len();
        plan.put.push(entry);
    }
    for split in &mut splits {
        split.put = put_index[split.put];
    }
    plan.splits = splits;
    plan
}

/// Which stored entry work `w` is, given what the plan has merged so far.
fn decide(
    existing: &Catalog,
    slots: &Slots,
    works: &[Incoming],
    w: usize,
    claims: &[Claim],
    rules: Rules,
) -> Decision {
    let work = &works[w].entry;
    // A candidate another work took is re-read as that work made it: once
    // it carries the other work's ids, it may no longer match this one.
    let mut live: Vec<(&Claim, Option<usize>)> = Vec::new();
    let mut apart: Vec<EntryId> = Vec::new();
    for claim in claims {
        let Some(current) = slots.current(existing, claim.entry) else {
            continue;
        };
        let taker = slots.taker(claim.entry);
        let told_apart = claim.strength.is_none()
            || (taker.is_some()
                && matches!(
                    decisive(&work.external_ids, &current.external_ids),
                    Some((_, _, false))
                ));
        if told_apart {
            apart.push(claim.entry);
        } else {
            live.push((claim, taker));
        }
    }
    let absorbed_by = |ids: &[EntryId]| -> Vec<EntryId> {
        ids.iter()
            .copied()
            .filter(|&id| {
                rules.split_absorbed
                    && slots
                        .current(existing, id)
                        .is_some_and(|e| carries(e, work))
            })
            .collect()
    };
    let Some(top) = live.iter().filter_map(|(c, _)| c.strength).max() else {
        return Decision::New(absorbed_by(&apart));
    };
    let best: Vec<&(&Claim, Option<usize>)> = live
        .iter()
        .filter(|(c, _)| c.strength == Some(top))
        .collect();
    let name = |id: EntryId| match slots.current(existing, id) {
        Some(e) => format!("#{id} \"{}\"", e.title),
        None => format!("#{id}"),
    };
    match best.as_slice() {
        [(claim, None)] => Decision::Merge(claim.entry),
        [(claim, Some(taker))] => {
            let absorbed = rules.split_absorbed
                && slots
                    .current(existing, claim.entry)
                    .is_some_and(|e| carries(e, work));
            if absorbed {
                let mut from = vec![claim.entry];
                from.extend(absorbed_by(&apart));
                return Decision::New(from);
            }
            let other = &works[*taker];
            Decision::Skip(format!(
                "matches {} ({}), which {} \"{}\" of this file matched as well or better; \
                 not merged, so that two works do not become one entry (if this one is \
                 missing, add it with /anime admin add)",
                name(claim.entry),
                claim.why,
                other.position,
                other.entry.title
            ))
        }
        _ => {
            let names: Vec<String> = best.iter().map(|(c, _)| name(c.entry)).collect();
            let first = best[0].0.entry;
            let hint = SPECIFIC_SOURCES
                .iter()
                .filter_map(|s| work.external_ids.get_key_value(*s))
                .chain(work.external_ids.iter())
                .find(|(s, _)| {
                    best.iter().all(|(c, _)| {
                        slots
                            .current(existing, c.entry)
                            .is_none_or(|e| !e.external_ids.contains_key(*s))
                    })
                })
                .map_or_else(
                    || "tell them apart with /anime admin edit (an id or the first air date) and import again".to_owned(),
                    |(s, id)| format!("link the right one with /anime admin edit #{first} id.{s}={id} and import again"),
                );
            Decision::Skip(format!(
                "matches {} equally ({}); not merged, so that one record does not update two entries; {hint}",
                and_list(&names),
                best[0].0.why
            ))
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Whether `entry` shows the marks an earlier import left when it merged
/// `work` into it: the work's main title as an alternative title, beside an
/// id or a link of the work's.
fn carries(entry: &Entry, work: &Entry) -> bool {
    entry.title != work.title
        && entry.alt_titles.iter().any(|t| t.text == work.title)
        && (work
            .external_ids
            .iter()
            .any(|(s, id)| entry.external_ids.get(s) == Some(id))
            || work
                .links
                .iter()
                .any(|l| entry.links.iter().any(|m| m.url == l.url)))
}

/// Takes back from `entry` what an import by an earlier version merged in
/// from `absorbed`: its titles, links and broadcasts, unless `keep` (the
/// entry's own work in this file, when it has one) has them too. With `keep`,
/// the ids `keep` does not carry go as well and the air dates become
/// `keep`'s, which the earlier merge had widened to span both works; without
/// it, which ids and dates were the entry's own is unknown, and they stay.
/// The main title, locked fields, releases and everything stored under the
/// entry's id (ratings, subscriptions) stay.
fn strip(entry: &mut Entry, absorbed: &Incoming, keep: Option<&Incoming>) {
    let keep = keep.map(|k| &k.entry);
    let theirs: HashSet<&str> = absorbed.entry.all_titles().map(|(t, _)| t).collect();
    entry.alt_titles.retain(|t| {
        !theirs.contains(t.text.as_str())
            || keep.is_some_and(|k| k.all_titles().any(|(text, _)| text == t.text))
    });
    let free = |f: Field| !entry.locked.contains(&f);
    let (links, aired, ended) = (free(Field::Links), free(Field::Aired), free(Field::Ended));
    let has_link = |e: &Entry, url: &str| e.links.iter().any(|l| l.url == url);
    if links {
        entry.links.retain(|l| {
            !has_link(&absorbed.entry, &l.url) || keep.is_some_and(|k| has_link(k, &l.url))
        });
    }
    entry.broadcasts.retain(|b| {
        !absorbed.entry.broadcasts.contains(b) || keep.is_some_and(|k| k.broadcasts.contains(b))
    });
    if let Some(keep) = keep {
        entry.external_ids.retain(|s, id| {
            absorbed.entry.external_ids.get(s) != Some(id) || keep.external_ids.get(s) == Some(id)
        });
        if aired {
            entry.aired_from = keep.aired_from;
        }
        if ended {
            entry.aired_to = keep.aired_to;
        }
    }
}

/// How a merge treats air dates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dates {
    /// Listings of one work in one file: the earliest start and latest end.
    Widen,
    /// A work onto its entry: the work's own dates, where it has them, so
    /// that importing a file twice changes nothing the second time.
    Replace,
}

/// Copies what `incoming` knows into `entry`, except fields an admin locked.
/// (One step per field, in the model's order: long, but flat.)
fn merge(entry: &mut Entry, incoming: &Incoming, dates: Dates) {
    let new = &incoming.entry;
    let locked = entry.locked.clone();
    let free = |f: Field| !locked.contains(&f);
    if new.title != entry.title {
        let lang = if incoming.title_lang == TitleLang::Main {
            TitleLang::Synonym
        } else {
            incoming.title_lang
        };
        entry.add_alt_title(&new.title, lang);
    }
    for alt in &new.alt_titles {
        entry.add_alt_title(&alt.text, alt.lang);
    }
    macro_rules! take {
        ($field:expr, $name:ident, option) => {
            if free($field) && new.$name.is_some() {
                entry.$name = new.$name.clone();
            }
        };
        ($field:expr, $name:ident, list) => {
            if free($field) && !new.$name.is_empty() {
                entry.$name = new.$name.clone();
            }
        };
    }
    take!(Field::Kind, kind, option);
    take!(Field::Genres, genres, list);
    take!(Field::Status, status, option);
    take!(Field::Season, season, option);
    match dates {
        Dates::Replace => {
            take!(Field::Aired, aired_from, option);
            take!(Field::Ended, aired_to, option);
        }
        Dates::Widen => {
            if free(Field::Aired) {
                entry.aired_from = match (entry.aired_from, new.aired_from) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => b.or(a),
                };
            }
            if free(Field::Ended) {
                entry.aired_to = match (entry.aired_to, new.aired_to) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => b.or(a),
                };
            }
        }
    }
    take!(Field::Episodes, episodes, option);
    take!(Field::Duration, duration_min, option);
    take!(Field::Audio, audio, list);
    take!(Field::Subtitles, subtitles, list);
    take!(Field::Qualities, qualities, list);
    take!(Field::Studios, studios, list);
    take!(Field::Synopsis, synopsis, option);
    take!(Field::Picture, picture, option);
    if free(Field::Links) {
        for link in &new.links {
            if !entry.links.iter().any(|l| l.url == link.url) {
                entry.links.push(link.clone());
            }
        }
    }
    for (source, id) in &new.external_ids {
        entry
            .external_ids
            .entry(source.clone())
            .or_insert_with(|| id.clone());
    }
    for score in &new.scores {
        match entry.scores.iter_mut().find(|s| s.source == score.source) {
            Some(s) => *s = score.clone(),
            None => entry.scores.push(score.clone()),
        }
    }
    for broadcast in &new.broadcasts {
        match entry
            .broadcasts
            .iter_mut()
            .find(|b| b.platform == broadcast.platform)
        {
            Some(b) => *b = broadcast.clone(),
            None => entry.broadcasts.push(broadcast.clone()),
        }
    }
    for release in &new.releases {
        entry.record_release(release.clone());
    }
    entry.locked.extend(new.locked.iter().copied());
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::core::catalog::Catalog;
    use crate::core::catalog::model::{Broadcast, Link};

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    fn entry(id: EntryId, title: &str, ids: &[(&str, &str)], aired: Option<NaiveDate>) -> Entry {
        let mut entry = Entry::new(id, title);
        entry.external_ids = ids
            .iter()
            .map(|(s, i)| (s.to_string(), i.to_string()))
            .collect();
        entry.aired_from = aired;
        entry.kind = Some(Kind::Tv);
        entry
    }

    fn record(title: &str, ids: &[(&str, &str)], aired: Option<NaiveDate>) -> Incoming {
        Incoming {
            entry: entry(0, title, ids, aired),
            title_lang: TitleLang::Ja,
            listing: None,
            position: format!("items[{title}]"),
        }
    }

    fn parsed(records: Vec<Incoming>) -> Parsed {
        Parsed {
            records,
            ..Parsed::default()
        }
    }

    fn counts(plan: &Plan) -> (usize, usize, usize, usize, usize) {
        let s = &plan.summary;
        (s.added, s.merged, s.updated, s.unchanged, s.skipped.len())
    }

    /// The plan's entries with ids given as the app would, for a second import.
    fn stored(plan: Plan, first_id: EntryId) -> Catalog {
        let mut next = first_id;
        Catalog::build(
            plan.put
                .into_iter()
                .map(|mut e| {
                    if e.id == 0 {
                        e.id = next;
                        next += 1;
                    }
                    e
                })
                .collect(),
        )
    }

    fn bangumi(items: &str) -> Parsed {
        let file = format!(
            r#"{{"siteMeta": {{"bangumi": {{"title": "番组计划", "urlTemplate": "https://bangumi.tv/subject/{{{{id}}}}", "type": "info"}},
                "mal": {{"title": "MyAnimeList", "urlTemplate": "https://myanimelist.net/anime/{{{{id}}}}", "type": "info"}}}},
              "items": [{items}]}}"#
        );
        match bangumi_data::parse(file.as_bytes()) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        }
    }

    /// Real items (bangumi-data, CC BY 4.0), trimmed: two works behind one
    /// franchise MAL id, and a Chinese and a Japanese listing of one work.
    const SIBLINGS: &str = r#"
        {"title": "ONE PIECE", "type": "tv", "lang": "ja", "begin": "1999-10-20T10:00:00.000Z", "end": "",
         "broadcast": "R/1999-10-20T10:00:00.000Z/P7D",
         "sites": [{"site": "bangumi", "id": "975"}, {"site": "mal", "id": "21"}]},
        {"title": "一人之下 the outcast", "type": "web", "lang": "ja", "begin": "2016-07-02T12:00:00.000Z", "end": "2016-09-24T12:00:00.000Z",
         "sites": [{"site": "bangumi", "id": "175457"}]},
        {"title": "一人之下", "type": "web", "lang": "zh-Hans", "begin": "2016-07-02T12:00:00.000Z", "end": "2016-10-01T12:00:00.000Z",
         "sites": [{"site": "bangumi", "id": "175457"}]},
        {"title": "ONE PIECE エルバフ編", "titleTranslate": {"zh-Hans": ["海贼王 艾尔巴夫篇"]}, "type": "tv", "lang": "ja",
         "begin": "2026-04-05T14:15:00.000Z", "end": "", "broadcast": "R/2026-04-05T14:15:00.000Z/P7D",
         "sites": [{"site": "bangumi", "id": "602059"}, {"site": "mal", "id": "21"}]}
    "#;

    #[test]
    fn external_ids_match_and_locked_fields_stay() {
        let mut stored = entry(7, "Metallic Rouge", &[("mal", "54794")], None);
        stored.episodes = Some(12);
        stored.locked.insert(Field::Episodes);
        let catalog = Catalog::build(vec![stored]);

        let mut incoming = record(
            "メタリックルージュ",
            &[("mal", "54794"), ("anidb", "17926")],
            None,
        );
        incoming.entry.episodes = Some(13);
        incoming.entry.duration_min = Some(24);
        let plan = plan(&catalog, parsed(vec![incoming]));
        assert_eq!(counts(&plan), (0, 0, 1, 0, 0));
        let merged = &plan.put[0];
        assert_eq!(merged.id, 7);
        assert_eq!(merged.title, "Metallic Rouge", "the main title is kept");
        assert_eq!(merged.title_in(TitleLang::Ja), Some("メタリックルージュ"));
        assert_eq!(merged.episodes, Some(12), "locked by an admin");
        assert_eq!(merged.duration_min, Some(24));
        assert_eq!(
            merged.external_ids.get("anidb").map(String::as_str),
            Some("17926")
        );
    }

    #[test]
    fn without_a_shared_source_only_title_kind_and_date_match() {
        let catalog = Catalog::build(vec![entry(3, "鬼太郎", &[("mal", "1")], date(1968, 1, 3))]);
        let plan = plan(
            &catalog,
            parsed(vec![
                record("鬼太郎", &[], date(1968, 1, 3)),
                record("鬼太郎", &[], date(2018, 4, 1)),
                record("鬼太郎", &[], date(2018, 4, 1)),
                // The same title and date, but another work on the id both carry.
                record("鬼太郎", &[("mal", "9")], date(1968, 1, 3)),
            ]),
        );
        assert_eq!(
            counts(&plan),
            (3, 0, 0, 1, 0),
            "a shared title never merges two records of one file"
        );
    }

    #[test]
    fn duplicate_listings_are_one_work_and_a_franchise_id_is_not() {
        let plan = plan(&Catalog::default(), bangumi(SIBLINGS));
        assert_eq!(counts(&plan), (3, 1, 0, 0, 0));
        let titles: Vec<&str> = plan.put.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(
            titles,
            ["ONE PIECE", "一人之下 the outcast", "ONE PIECE エルバフ編"]
        );
        let outcast = &plan.put[1];
        assert_eq!(outcast.title_in(TitleLang::ZhHans), Some("一人之下"));
        assert_eq!(
            (outcast.aired_from, outcast.aired_to),
            (date(2016, 7, 2), date(2016, 10, 1)),
            "listings of one work span both"
        );
        let one_piece = &plan.put[0];
        assert!(one_piece.all_titles().all(|(t, _)| !t.contains("エルバフ")));
        assert_eq!(one_piece.aired_from, date(1999, 10, 20));
        assert_eq!(plan.put[2].aired_from, date(2026, 4, 5));
        assert!(plan.summary.to_string().starts_with(
            "3 added, 1 merged as duplicate listings, 0 updated, 0 unchanged, 0 skipped"
        ));
    }

    #[test]
    fn reimporting_an_unchanged_file_changes_nothing() {
        let first = plan(&Catalog::default(), bangumi(SIBLINGS));
        let catalog = stored(first, 1);
        let again = plan(&catalog, bangumi(SIBLINGS));
        assert_eq!(counts(&again), (0, 1, 0, 3, 0));
        assert!(again.put.is_empty() && again.splits.is_empty());
    }

    #[test]
    fn across_files_the_most_specific_shared_source_decides() {
        let catalog = Catalog::build(vec![
            entry(
                1,
                "ONE PIECE",
                &[("bangumi", "975"), ("mal", "21"), ("anilist", "21")],
                date(1999, 10, 20),
            ),
            entry(
                2,
                "ONE PIECE エルバフ編",
                &[("bangumi", "602059"), ("mal", "21"), ("anilist", "21")],
                date(2026, 4, 5),
            ),
            entry(
                3,
                "ONE PIECE FILM",
                &[("mal", "21"), ("anilist", "999")],
                date(2000, 3, 4),
            ),
        ]);
        // Offline-db style: no bangumi id; AniList decides, the season breaks the tie.
        let mut one_piece = record(
            "One Piece",
            &[("mal", "21"), ("anilist", "21"), ("kitsu", "12")],
            None,
        );
        one_piece.entry.season = Some(crate::core::catalog::model::Season::of_date(
            NaiveDate::from_ymd_opt(1999, 10, 1).unwrap_or_default(),
        ));
        // Shares MyAnimeList 21 with all three, but AniList tells it apart from #1 and #2.
        let film = record(
            "One Piece Movie 1",
            &[("mal", "21"), ("anilist", "999")],
            None,
        );
        let plan = plan(&catalog, parsed(vec![one_piece, film]));
        assert_eq!(counts(&plan), (0, 0, 2, 0, 0), "{:?}", plan.summary.skipped);
        let ids: Vec<EntryId> = plan.put.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(
            plan.put[0].external_ids.get("kitsu").map(String::as_str),
            Some("12")
        );
    }

    #[test]
    fn an_entry_with_the_records_bangumi_id_is_its_work() {
        let catalog = Catalog::build(vec![
            entry(
                1,
                "ONE PIECE",
                &[("bangumi", "975"), ("mal", "21")],
                date(1999, 10, 20),
            ),
            entry(2, "One Piece", &[("mal", "21")], date(1999, 10, 20)),
        ]);
        let plan = plan(&catalog, bangumi(SIBLINGS));
        // ONE PIECE is #1 (bangumi 975), not #2 (MyAnimeList only). エルバフ編
        // is told apart from #1 by bangumi, and from #2 (a duplicate of ONE
        // PIECE) by starting 27 years later under another title.
        assert_eq!(counts(&plan), (2, 1, 1, 0, 0), "{:?}", plan.summary.skipped);
        assert_eq!(plan.put[0].id, 1);
        assert!(plan.put.iter().all(|e| e.id != 2));
        assert!(
            plan.put
                .iter()
                .any(|e| e.id == 0 && e.title == "ONE PIECE エルバフ編")
        );
    }

    #[test]
    fn candidates_that_cannot_be_told_apart_are_reported() {
        let catalog = Catalog::build(vec![
            entry(12, "ONE PIECE", &[("mal", "21")], None),
            entry(13, "ONE PIECE エルバフ編", &[("mal", "21")], None),
        ]);
        let plan = plan(
            &catalog,
            parsed(vec![record(
                "Wan Pīsu",
                &[("mal", "21"), ("anilist", "21")],
                None,
            )]),
        );
        assert_eq!(counts(&plan), (0, 0, 0, 0, 1));
        assert!(plan.put.is_empty(), "neither entry is touched");
        let reason = &plan.summary.skipped[0].reason;
        assert!(
            reason.contains("#12 \"ONE PIECE\" and #13 \"ONE PIECE エルバフ編\"")
                && reason.contains("mal 21")
                && reason.contains("/anime admin edit #12 id.anilist=21"),
            "{reason}"
        );
        assert_eq!(plan.summary.skipped[0].position, "items[Wan Pīsu]");
    }

    #[test]
    fn two_records_of_a_file_never_silently_share_an_entry() {
        let catalog = Catalog::build(vec![entry(5, "Shingeki", &[("mal", "51535")], None)]);
        let plan = plan(
            &catalog,
            parsed(vec![
                record("Kanketsu-hen Part 2", &[("mal", "51535")], None),
                record("Shingeki", &[("mal", "51535")], None),
            ]),
        );
        // The second record's title fits #5 better, so it takes #5 although it comes later.
        assert_eq!(counts(&plan), (0, 0, 0, 1, 1));
        assert_eq!(
            plan.summary.skipped[0].position,
            "items[Kanketsu-hen Part 2]"
        );
        assert!(
            plan.summary.skipped[0]
                .reason
                .contains("which items[Shingeki] \"Shingeki\""),
            "{}",
            plan.summary.skipped[0].reason
        );
    }

    #[test]
    fn our_own_export_keeps_ids_and_matches_by_id_and_title() {
        let catalog = Catalog::build(vec![
            entry(15, "ONE PIECE", &[("mal", "21")], date(1999, 10, 20)),
            entry(
                16,
                "ONE PIECE エルバフ編",
                &[("mal", "21")],
                date(2026, 4, 5),
            ),
        ]);
        let export = |id, title: &str, aired| Incoming {
            entry: entry(id, title, &[("mal", "21")], aired),
            title_lang: TitleLang::Main,
            listing: None,
            position: format!("entries[{id}]"),
        };
        let rules = Rules {
            keep_ids: true,
            split_absorbed: false,
        };
        let again = plan(
            &catalog,
            Parsed {
                records: vec![
                    export(16, "ONE PIECE エルバフ編", date(2026, 4, 5)),
                    export(15, "ONE PIECE", date(1999, 10, 20)),
                ],
                rules,
                ..Parsed::default()
            },
        );
        assert_eq!(counts(&again), (0, 0, 0, 2, 0));
        let fresh = plan(
            &Catalog::default(),
            Parsed {
                records: vec![
                    export(16, "ONE PIECE エルバフ編", None),
                    export(15, "ONE PIECE", None),
                ],
                rules,
                ..Parsed::default()
            },
        );
        let ids: Vec<EntryId> = fresh.put.iter().map(|e| e.id).collect();
        assert_eq!(ids, [16, 15], "two entries, ids kept");
    }

    /// ONE PIECE as an earlier version stored it after merging エルバフ編 into
    /// it by their shared MyAnimeList id.
    fn absorbed_one_piece() -> Entry {
        let mut old = entry(
            7,
            "ONE PIECE",
            &[("bangumi", "975"), ("mal", "21")],
            date(1999, 10, 20),
        );
        old.add_alt_title("ONE PIECE エルバフ編", TitleLang::Ja);
        old.add_alt_title("海贼王 艾尔巴夫篇", TitleLang::ZhHans);
        old.add_alt_title("One Piece (admin alias)", TitleLang::Synonym);
        for id in ["975", "602059"] {
            old.links.push(Link {
                label: "番组计划".into(),
                url: format!("https://bangumi.tv/subject/{id}"),
            });
        }
        old.links.push(Link {
            label: "MyAnimeList".into(),
            url: "https://myanimelist.net/anime/21".into(),
        });
        old.broadcasts.push(Broadcast {
            platform: "tv".into(),
            rule: "R/2026-04-05T14:15:00.000Z/P7D".into(),
            ends: None,
        });
        old.episodes = Some(1150);
        old.locked.insert(Field::Episodes);
        old
    }

    #[test]
    fn an_entry_that_absorbed_another_work_is_split() {
        let catalog = Catalog::build(vec![absorbed_one_piece()]);
        let plan = plan(&catalog, bangumi(SIBLINGS));
        assert_eq!(plan.summary.split, 1);
        let [split] = plan.splits.as_slice() else {
            panic!("{:?}", plan.splits)
        };
        assert_eq!(
            (split.from, split.title.as_str()),
            (7, "ONE PIECE エルバフ編")
        );
        let new = &plan.put[split.put];
        assert_eq!((new.id, new.title.as_str()), (0, "ONE PIECE エルバフ編"));
        assert_eq!(
            new.external_ids.get("bangumi").map(String::as_str),
            Some("602059")
        );

        let Some(old) = plan.put.iter().find(|e| e.id == 7) else {
            panic!("#7 is updated")
        };
        assert_eq!(old.title, "ONE PIECE");
        let alts: Vec<&str> = old.alt_titles.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(
            alts,
            ["One Piece (admin alias)"],
            "only what came from エルバフ編 leaves"
        );
        let urls: Vec<&str> = old.links.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://bangumi.tv/subject/975",
                "https://myanimelist.net/anime/21"
            ]
        );
        let rules: Vec<&str> = old.broadcasts.iter().map(|b| b.rule.as_str()).collect();
        assert_eq!(rules, ["R/1999-10-20T10:00:00.000Z/P7D"]);
        assert_eq!(old.episodes, Some(1150), "the admin's edit stays");
        assert!(
            plan.summary.to_string().contains("1 split off"),
            "{}",
            plan.summary
        );

        // Once split, the next import changes nothing.
        let after = stored(plan, 100);
        let again = super::plan(&after, bangumi(SIBLINGS));
        assert_eq!(
            counts(&again),
            (0, 1, 0, 3, 0),
            "{:?}",
            again.summary.skipped
        );
    }

    #[test]
    fn a_locked_field_stays_when_an_entry_is_split() {
        let mut old = absorbed_one_piece();
        old.locked.insert(Field::Links);
        let links = old.links.clone();
        let plan = plan(&Catalog::build(vec![old]), bangumi(SIBLINGS));
        assert_eq!(plan.summary.split, 1);
        let Some(old) = plan.put.iter().find(|e| e.id == 7) else {
            panic!("#7 is updated")
        };
        assert_eq!(old.links, links);
    }

    #[test]
    fn the_summary_reads_well() {
        let summary = Summary {
            added: 8466,
            merged: 17,
            unchanged: 1_234_567,
            data_as_of: date(2026, 4, 29),
            ..Summary::default()
        };
        assert_eq!(
            summary.to_string(),
            "8,466 added, 17 merged as duplicate listings, 0 updated, 1,234,567 unchanged, 0 skipped; data as of 2026-04-29"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }
}
