//! Catalog imports: each format's parser turns a file into [`Incoming`]
//! records; [`plan`] merges them into the catalog without duplicating
//! entries or overwriting what an admin edited.

pub mod bangumi_data;
pub mod offline_db;
pub mod rouge_json;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Entry, EntryId, Field, TitleLang};
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
}

/// A record that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it is in the file: the index in the array (0-based) or the line (1-based) for JSONL.
    pub position: String,
    pub reason: String,
}

/// What a parser read from a file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<Incoming>,
    pub skipped: Vec<Skipped>,
}

/// Parses `bytes` in `format`.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Parsed, ImportError> {
    match format {
        Format::BangumiData => bangumi_data::parse(bytes),
        Format::OfflineDb => offline_db::parse(bytes),
        Format::Rouge => rouge_json::parse(bytes),
    }
}

/// The outcome of an import.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: Vec<Skipped>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} unchanged, {} skipped",
            self.added,
            self.updated,
            self.unchanged,
            self.skipped.len()
        )
    }
}

/// The entries an import writes, and its summary.
#[derive(Debug, Default)]
pub struct Plan {
    /// New and changed entries; new ones have id 0 until ids are allocated.
    pub put: Vec<Entry>,
    pub summary: Summary,
}

/// Identity for records without a shared external id: the same title, kind
/// and first air date is the same anime.
fn same_work(a: &Entry, b: &Entry) -> bool {
    a.kind == b.kind && a.aired_from == b.aired_from
}

/// The entries a plan writes, with what each one was before.
#[derive(Default)]
struct Slots {
    put: Vec<Entry>,
    /// The stored entry a slot updates; `None` for a new entry.
    origin: Vec<Option<EntryId>>,
    by_existing: HashMap<EntryId, usize>,
    by_external: HashMap<(String, String), usize>,
    by_title: HashMap<String, Vec<usize>>,
}

impl Slots {
    fn push(&mut self, entry: Entry, origin: Option<EntryId>) -> usize {
        self.put.push(entry);
        self.origin.push(origin);
        let slot = self.put.len() - 1;
        if let Some(id) = origin {
            self.by_existing.insert(id, slot);
        }
        slot
    }

    /// Remembers a slot's identities so later records of the file find it.
    fn index(&mut self, slot: usize) {
        let entry = &self.put[slot];
        for (source, id) in &entry.external_ids {
            self.by_external
                .entry((source.clone(), id.clone()))
                .or_insert(slot);
        }
        let slots = self
            .by_title
            .entry(text::fold(&entry.title).key)
            .or_default();
        if !slots.contains(&slot) {
            slots.push(slot);
        }
    }

    /// A slot this plan already has for `entry`.
    fn find(&self, entry: &Entry) -> Option<usize> {
        entry
            .external_ids
            .iter()
            .find_map(|(s, i)| self.by_external.get(&(s.clone(), i.clone())).copied())
            .or_else(|| {
                self.by_title
                    .get(&text::fold(&entry.title).key)?
                    .iter()
                    .copied()
                    .find(|&slot| same_work(&self.put[slot], entry))
            })
    }
}

/// The stored entry `entry` is the same anime as: by any external id, then
/// (for our own exports) by id and title, then by title, kind and first air date.
fn find_existing(existing: &Catalog, entry: &Entry, keep_ids: bool) -> Option<EntryId> {
    entry
        .external_ids
        .iter()
        .find_map(|(s, i)| existing.by_external(s, i))
        .or_else(|| {
            (keep_ids
                && existing
                    .get(entry.id)
                    .is_some_and(|e| e.title == entry.title))
            .then_some(entry.id)
        })
        .or_else(|| {
            existing
                .by_title(&entry.title)
                .into_iter()
                .find(|&id| existing.get(id).is_some_and(|e| same_work(e, entry)))
        })
}

/// Merges `parsed` into the catalog: a record updates the entry it is the
/// same anime as (see [`find_existing`]), records of one file that are the
/// same anime become one entry, and the rest are added. `keep_ids` keeps a
/// new record's id when it is free (the rouge format).
pub fn plan(existing: &Catalog, parsed: Parsed, keep_ids: bool) -> Plan {
    let mut slots = Slots::default();
    for incoming in parsed.records {
        let slot = match find_existing(existing, &incoming.entry, keep_ids) {
            Some(id) => match slots.by_existing.get(&id) {
                Some(&slot) => Some(slot),
                None => existing
                    .get(id)
                    .cloned()
                    .map(|current| slots.push(current, Some(id))),
            },
            None => slots.find(&incoming.entry),
        };
        let slot = match slot {
            Some(slot) => {
                merge(&mut slots.put[slot], incoming);
                slot
            }
            None => {
                let mut entry = incoming.entry;
                let id_free = keep_ids
                    && entry.id != 0
                    && existing.get(entry.id).is_none()
                    && !slots.put.iter().any(|e| e.id == entry.id);
                if !id_free {
                    entry.id = 0;
                }
                slots.push(entry, None)
            }
        };
        slots.index(slot);
    }
    let mut plan = Plan {
        summary: Summary {
            skipped: parsed.skipped,
            ..Summary::default()
        },
        ..Plan::default()
    };
    for (entry, origin) in slots.put.into_iter().zip(slots.origin) {
        match origin {
            None => plan.summary.added += 1,
            Some(id) if existing.get(id) == Some(&entry) => {
                plan.summary.unchanged += 1;
                continue;
            }
            Some(_) => plan.summary.updated += 1,
        }
        plan.put.push(entry);
    }
    plan
}

/// Copies what `incoming` knows into `entry`, except fields an admin locked.
/// (One step per field, in the model's order: long, but flat.)
fn merge(entry: &mut Entry, incoming: Incoming) {
    let Incoming {
        entry: new,
        title_lang,
    } = incoming;
    let locked = entry.locked.clone();
    let free = |f: Field| !locked.contains(&f);
    if new.title != entry.title {
        let lang = if title_lang == TitleLang::Main {
            TitleLang::Synonym
        } else {
            title_lang
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
    // Several records of one anime (parts, arcs) span its whole run.
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
    take!(Field::Episodes, episodes, option);
    take!(Field::Duration, duration_min, option);
    take!(Field::Audio, audio, list);
    take!(Field::Subtitles, subtitles, list);
    take!(Field::Qualities, qualities, list);
    take!(Field::Studios, studios, list);
    take!(Field::Synopsis, synopsis, option);
    take!(Field::Picture, picture, option);
    if free(Field::Links) {
        for link in new.links {
            if !entry.links.iter().any(|l| l.url == link.url) {
                entry.links.push(link);
            }
        }
    }
    for (source, id) in new.external_ids {
        entry.external_ids.entry(source).or_insert(id);
    }
    for score in new.scores {
        match entry.scores.iter_mut().find(|s| s.source == score.source) {
            Some(s) => *s = score,
            None => entry.scores.push(score),
        }
    }
    for broadcast in new.broadcasts {
        match entry
            .broadcasts
            .iter_mut()
            .find(|b| b.platform == broadcast.platform)
        {
            Some(b) => *b = broadcast,
            None => entry.broadcasts.push(broadcast),
        }
    }
    for release in new.releases {
        entry.record_release(release);
    }
    entry.locked.extend(new.locked);
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::core::catalog::Catalog;

    fn record(title: &str, ids: &[(&str, &str)], aired: Option<(i32, u32, u32)>) -> Incoming {
        let mut entry = Entry::new(0, title);
        entry.external_ids = ids
            .iter()
            .map(|(s, i)| (s.to_string(), i.to_string()))
            .collect();
        entry.aired_from = aired.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
        Incoming {
            entry,
            title_lang: TitleLang::Ja,
        }
    }

    fn parsed(records: Vec<Incoming>) -> Parsed {
        Parsed {
            records,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn external_ids_match_and_locked_fields_stay() {
        let mut stored = Entry::new(7, "Metallic Rouge");
        stored.external_ids.insert("mal".into(), "54794".into());
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
        let plan = plan(&catalog, parsed(vec![incoming]), false);
        assert_eq!((plan.summary.added, plan.summary.updated), (0, 1));
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
    fn records_without_ids_match_by_title_kind_and_date() {
        let catalog = Catalog::build(vec![{
            let mut e = Entry::new(3, "鬼太郎");
            e.aired_from = NaiveDate::from_ymd_opt(1968, 1, 3);
            e
        }]);
        let plan = plan(
            &catalog,
            parsed(vec![
                record("鬼太郎", &[], Some((1968, 1, 3))),
                record("鬼太郎", &[], Some((2018, 4, 1))),
                record("鬼太郎", &[], Some((2018, 4, 1))),
            ]),
            false,
        );
        assert_eq!(
            (
                plan.summary.added,
                plan.summary.updated,
                plan.summary.unchanged
            ),
            (1, 0, 1)
        );
        assert_eq!(plan.put.len(), 1);
        assert_eq!(
            plan.put[0].id, 0,
            "the 2018 series is new; its two records are one entry"
        );
    }

    #[test]
    fn records_of_one_file_sharing_an_id_become_one_entry() {
        let catalog = Catalog::default();
        let plan = plan(
            &catalog,
            parsed(vec![
                record("ONE PIECE", &[("mal", "21")], Some((1999, 10, 20))),
                record(
                    "ONE PIECE エルバフ編",
                    &[("mal", "21"), ("anidb", "69")],
                    Some((2026, 4, 5)),
                ),
            ]),
            false,
        );
        assert_eq!(plan.summary.added, 1);
        assert_eq!(plan.put[0].title, "ONE PIECE");
        assert!(
            plan.put[0]
                .all_titles()
                .any(|(t, _)| t == "ONE PIECE エルバフ編")
        );
        assert_eq!(plan.put[0].external_ids.len(), 2);
        assert_eq!(
            plan.put[0].aired_from,
            NaiveDate::from_ymd_opt(1999, 10, 20),
            "the run starts with its first part"
        );
    }
}
