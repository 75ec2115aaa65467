//! Catalog imports: each format's parser turns a file into [`Incoming`]
//! records; [`plan`] merges them into the catalog without duplicating
//! entries or overwriting what an admin edited.

pub mod bangumi_data;
pub mod offline_db;
pub mod rouge_json;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::core::model::{Entry, EntryId, Field, TitleLang};

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

/// Looks entries up by id and by external id while planning.
pub trait Existing {
    fn get(&self, id: EntryId) -> Option<&Entry>;
    fn by_external(&self, source: &str, id: &str) -> Option<EntryId>;
}

/// Merges `parsed` into the catalog: a record matched by any external id
/// (or, for the rouge format, by a free id) updates that entry; others are
/// added. Two records of the same file that share an external id become one.
pub fn plan(existing: &impl Existing, parsed: Parsed, keep_ids: bool) -> Plan {
    let mut plan = Plan {
        summary: Summary {
            skipped: parsed.skipped,
            ..Summary::default()
        },
        ..Plan::default()
    };
    // Entries this plan touches, by position in `plan.put`.
    let mut touched: HashMap<EntryId, usize> = HashMap::new();
    let mut new_by_external: HashMap<(String, String), usize> = HashMap::new();
    let mut new_ids: HashMap<EntryId, usize> = HashMap::new();
    let mut added_slots = Vec::new();
    for incoming in parsed.records {
        let external: Vec<(String, String)> = incoming
            .entry
            .external_ids
            .iter()
            .map(|(s, i)| (s.clone(), i.clone()))
            .collect();
        // Our own exports also match by id, when the title agrees.
        let same_id = (keep_ids
            && existing
                .get(incoming.entry.id)
                .is_some_and(|e| e.title == incoming.entry.title))
        .then_some(incoming.entry.id);
        let matched = external
            .iter()
            .find_map(|(s, i)| existing.by_external(s, i))
            .or(same_id);
        let slot = if let Some(id) = matched {
            match touched.get(&id) {
                Some(&slot) => slot,
                None => {
                    let Some(current) = existing.get(id) else {
                        continue;
                    };
                    plan.put.push(current.clone());
                    touched.insert(id, plan.put.len() - 1);
                    plan.put.len() - 1
                }
            }
        } else if let Some(&slot) = external.iter().find_map(|k| new_by_external.get(k)) {
            slot
        } else {
            let mut entry = incoming.entry.clone();
            let id_free = keep_ids
                && entry.id != 0
                && existing.get(entry.id).is_none()
                && !new_ids.contains_key(&entry.id);
            if !id_free {
                entry.id = 0;
            }
            if entry.id != 0 {
                new_ids.insert(entry.id, plan.put.len());
            }
            plan.put.push(entry);
            added_slots.push(plan.put.len() - 1);
            for key in &external {
                new_by_external.insert(key.clone(), plan.put.len() - 1);
            }
            continue;
        };
        merge(&mut plan.put[slot], incoming);
        for key in external {
            new_by_external.entry(key).or_insert(slot);
        }
    }
    plan.summary.added = added_slots.len();
    let mut changed = vec![true; plan.put.len()];
    for (&id, &slot) in &touched {
        if existing.get(id) == Some(&plan.put[slot]) {
            changed[slot] = false;
            plan.summary.unchanged += 1;
        } else {
            plan.summary.updated += 1;
        }
    }
    let mut i = 0;
    plan.put.retain(|_| {
        i += 1;
        changed[i - 1]
    });
    plan
}

/// Copies what `incoming` knows into `entry`, except fields an admin locked.
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
    take!(Field::Aired, aired_from, option);
    take!(Field::Ended, aired_to, option);
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
