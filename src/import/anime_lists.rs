//! The community id-mapping list, Fribb/anime-lists' `anime-list-full.json`
//! (<https://github.com/Fribb/anime-lists>): a JSON array of records, each
//! the ids one work has at several sites, such as
//!
//! ```json
//! [{"mal_id": 54794, "anilist_id": 162985, "anidb_id": 17926, "imdb_id": "tt21268592", "type": "TV"}, …]
//! ```
//!
//! Ids may be numbers or strings; `null`, `""` and `"unknown"` are no id.
//! The keys read, and the external-id sources they become, are
//! [`ID_KEYS`]; `themoviedb_id` becomes `tmdb` `movie/<id>` for a `MOVIE`
//! only, since TMDB's TV ids (like `thetvdb_id`, which is not read) name a
//! whole show, not one season. An id given as an array names several works
//! and is left out. A record that is not an object, or with an id that is
//! neither, is skipped as `[<index>]`.
//!
//! This file never creates entries; it links ids in bulk, and only where
//! that is unambiguous:
//! - **Ids that name one work.** An id that several records of the file give
//!   (a show's IMDb id on each of its seasons) names no one work: it is
//!   neither matched on nor linked.
//! - **Matching** follows the import's rules: a record is the entry that
//!   carries its most specific id ([`SPECIFIC_SOURCES`] first) that the
//!   catalog has. When several entries carry that id (a franchise-level
//!   MyAnimeList id), the record is a conflict: one record never links two
//!   entries. A record with no id the catalog has is ignored.
//! - **Linking** adds the ids the entry lacks. The record is a conflict,
//!   and nothing of it is linked, when an id it would add is another entry's,
//!   when the entry has another id at one of the record's sources (the two
//!   disagree about which work this is), or when a second record of the file
//!   matches the same entry. Conflicts are skipped with a reason naming the
//!   entries, and counted.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

#[cfg(doc)]
use super::SPECIFIC_SOURCES;
use super::matching::{IdIndex, by_specificity};
use super::{Counted, Facts, Format, ImportError, Parsed, Plan, Skipped, Summary, checked};
use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Entry, EntryId};

/// The keys of a record that are read, and the source each id is recorded
/// under (the keys the other importers use for the same sites).
pub const ID_KEYS: [(&str, &str); 11] = [
    ("mal_id", "mal"),
    ("anilist_id", "anilist"),
    ("anidb_id", "anidb"),
    ("kitsu_id", "kitsu"),
    ("imdb_id", "imdb"),
    ("livechart_id", "livechart"),
    ("anime-planet_id", "anime-planet"),
    ("notify.moe_id", "notify"),
    ("anisearch_id", "anisearch"),
    ("simkl_id", "simkl"),
    ("animecountdown_id", "animecountdown"),
];

/// The longest id kept (the catalog's limit on an external id).
const MAX_ID_CHARS: usize = 64;

/// One record: the ids of one work, by source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdRecord {
    pub ids: BTreeMap<String, String>,
    /// `[<index>]` in the file.
    pub position: String,
}

/// The records of a file.
#[derive(Debug, Default)]
pub struct Mappings {
    pub records: Vec<IdRecord>,
    /// Records skipped as unreadable (each also in [`Parsed::skipped`]).
    pub malformed: usize,
}

/// Reads the list; records that do not decode are skipped.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let values: Vec<Value> = serde_json::from_slice(bytes)
        .map_err(|e| shape(format!("it is not a JSON array of records: {e}")))?;
    let mut mappings = Mappings::default();
    let mut skipped = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let position = format!("[{i}]");
        match record(&value) {
            Ok(ids) => mappings.records.push(IdRecord { ids, position }),
            Err(reason) => {
                mappings.malformed += 1;
                skipped.push(Skipped { position, reason });
            }
        }
    }
    Ok(Parsed {
        skipped,
        facts: Facts::Ids(mappings),
        ..Parsed::default()
    })
}

/// A record's ids by source.
fn record(value: &Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(fields) = value else {
        return Err("the record is not an object".into());
    };
    let mut ids = BTreeMap::new();
    for (key, source) in ID_KEYS {
        if let Some(id) = id(fields.get(key), key)? {
            if source == "imdb" && !super::imdb_ratings::is_title_id(&id) {
                return Err(format!(
                    "{key} \"{id}\" is not an IMDb title id (tt and digits)"
                ));
            }
            ids.insert(source.to_owned(), id);
        }
    }
    let movie = fields
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("movie"));
    if let Some(id) = id(fields.get("themoviedb_id"), "themoviedb_id")?
        && movie
    {
        ids.insert("tmdb".to_owned(), format!("movie/{id}"));
    }
    Ok(ids)
}

/// One id as text: `None` when there is none or it names several works.
fn id(value: Option<&Value>, key: &str) -> Result<Option<String>, String> {
    let text = match value {
        None | Some(Value::Null) | Some(Value::Array(_)) => return Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) => n.to_string(),
            None => return Err(format!("{key} {n} is not an id")),
        },
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(other) => return Err(format!("{key} is not an id: {other}")),
    };
    if text.is_empty() || text.eq_ignore_ascii_case("unknown") {
        return Ok(None);
    }
    if text.chars().count() > MAX_ID_CHARS
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
    {
        return Err(format!(
            "{key} \"{}\" is not an id",
            text.chars().take(40).collect::<String>()
        ));
    }
    Ok(Some(text))
}

/// What one record is to the catalog.
enum Match {
    /// No id of it is the catalog's.
    Ignored,
    /// This entry, by this id (`mal 21`).
    Entry(EntryId, String),
    Conflict(String),
}

/// Links each record's ids onto its entry (see the module docs).
pub(super) fn plan(existing: &Catalog, mappings: Mappings, mut skipped: Vec<Skipped>) -> Plan {
    let Mappings { records, malformed } = mappings;
    let mut summary = Summary {
        counted: Counted::Ids,
        malformed,
        ..Summary::default()
    };
    let index = IdIndex::of(existing);
    let matches = find_all(existing, &index, &records);
    let mut matched_by: HashMap<EntryId, Vec<usize>> = HashMap::new();
    for (i, (_, found)) in matches.iter().enumerate() {
        if let Match::Entry(id, _) = found {
            matched_by.entry(*id).or_default().push(i);
        }
    }
    let mut put = Vec::new();
    for (i, (ids, found)) in matches.into_iter().enumerate() {
        let outcome = match found {
            Match::Ignored => {
                summary.ignored += 1;
                continue;
            }
            Match::Conflict(reason) => Err(reason),
            Match::Entry(id, why) if matched_by.get(&id).is_some_and(|m| m.len() > 1) => {
                let others: Vec<&str> = matched_by[&id]
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| records[j].position.as_str())
                    .collect();
                Err(format!(
                    "matches #{id} ({why}), which {} of this file matches as well; \
                     not linked, so that two works do not share an entry",
                    others.join(", ")
                ))
            }
            Match::Entry(id, why) => link(existing, &index, id, &why, &ids),
        };
        match outcome {
            Ok(None) => summary.unchanged += 1,
            Ok(Some((entry, added))) => {
                summary.updated += 1;
                summary.ids_added += added;
                put.push(entry);
            }
            Err(reason) => {
                summary.conflicts += 1;
                skipped.push(Skipped {
                    position: records[i].position.clone(),
                    reason,
                });
            }
        }
    }
    summary.skipped = skipped;
    Plan {
        put,
        splits: Vec::new(),
        summary,
    }
}

/// What each record is to the catalog, with the ids of it that name one
/// work: those no other record of the file gives as well.
fn find_all(
    existing: &Catalog,
    index: &IdIndex,
    records: &[IdRecord],
) -> Vec<(BTreeMap<String, String>, Match)> {
    let mut given: HashMap<(&str, &str), usize> = HashMap::new();
    for record in records {
        for (source, id) in &record.ids {
            *given.entry((source, id)).or_default() += 1;
        }
    }
    records
        .iter()
        .map(|record| {
            let ids: BTreeMap<String, String> = record
                .ids
                .iter()
                .filter(|(s, id)| given.get(&(s.as_str(), id.as_str())) == Some(&1))
                .map(|(s, id)| (s.clone(), id.clone()))
                .collect();
            let found = find(existing, index, &ids);
            (ids, found)
        })
        .collect()
}

/// The entry that carries the most specific of `ids` the catalog has.
fn find(existing: &Catalog, index: &IdIndex, ids: &BTreeMap<String, String>) -> Match {
    for (source, id) in by_specificity(ids) {
        match index.carrying(source, id) {
            [] => continue,
            [entry] => return Match::Entry(*entry, format!("{source} {id}")),
            several => {
                return Match::Conflict(format!(
                    "{source} {id} is the id of {}; not linked, so that one record does not link two entries",
                    names(existing, several)
                ));
            }
        }
    }
    Match::Ignored
}

/// The entry `id` with the ids of `ids` it lacks, and how many were added;
/// `None` when it lacks none. An error says why the record is a conflict
/// (a disagreement, an id another entry has, or an entry that would fail
/// the check).
fn link(
    existing: &Catalog,
    index: &IdIndex,
    id: EntryId,
    why: &str,
    ids: &BTreeMap<String, String>,
) -> Result<Option<(Entry, usize)>, String> {
    let Some(stored) = existing.get(id) else {
        return Ok(None);
    };
    let mut entry = stored.clone();
    let mut added = 0;
    for (source, value) in ids {
        match stored.external_ids.get(source) {
            Some(have) if have == value => {}
            Some(have) => {
                return Err(format!(
                    "matches #{id} \"{}\" ({why}), which has {source} {have}, not {value}; \
                     not linked, since the two disagree about which work this is",
                    stored.title
                ));
            }
            None => {
                let others = index.carrying(source, value);
                if !others.is_empty() {
                    return Err(format!(
                        "matches #{id} \"{}\" ({why}), but {source} {value} is already the id of {}; \
                         not linked, so that no two entries share an id",
                        stored.title,
                        names(existing, others)
                    ));
                }
                entry.external_ids.insert(source.clone(), value.clone());
                added += 1;
            }
        }
    }
    if added == 0 {
        return Ok(None);
    }
    checked(&entry)
        .map(|()| Some((entry, added)))
        .map_err(|reason| format!("#{id} with these ids would fail the check ({reason})"))
}

/// `#12 "ONE PIECE" and #13 "ONE PIECE エルバフ編"`.
fn names(existing: &Catalog, ids: &[EntryId]) -> String {
    let names: Vec<String> = ids
        .iter()
        .map(|&id| match existing.get(id) {
            Some(e) => format!("#{id} \"{}\"", e.title),
            None => format!("#{id}"),
        })
        .collect();
    match names.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
        _ => names.concat(),
    }
}

fn shape(reason: String) -> ImportError {
    ImportError::Shape {
        format: Format::AnimeLists,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: EntryId, title: &str, ids: &[(&str, &str)]) -> Entry {
        let mut entry = Entry::new(id, title);
        for (s, i) in ids {
            entry.external_ids.insert((*s).into(), (*i).into());
        }
        entry
    }

    fn plan_of(catalog: &Catalog, file: &str) -> Plan {
        match parse(file.as_bytes()) {
            Ok(parsed) => super::super::plan(catalog, parsed),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn reads_numbers_strings_and_nothing() {
        let file = r#"[
            {"mal_id": 54794, "anilist_id": "162985", "imdb_id": "tt21268592", "kitsu_id": null,
             "themoviedb_id": "unknown", "anime-planet_id": "metallic-rouge", "type": "TV"},
            {"mal_id": [1, 2], "themoviedb_id": 129, "type": "MOVIE", "thetvdb_id": 5},
            {"themoviedb_id": 37854, "type": "TV"},
            "not a record",
            {"mal_id": -3},
            {"imdb_id": "21268592"}
        ]"#;
        let parsed = parse(file.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let Facts::Ids(mappings) = &parsed.facts else {
            panic!("ids")
        };
        let ids: Vec<Vec<(&str, &str)>> = mappings
            .records
            .iter()
            .map(|r| {
                r.ids
                    .iter()
                    .map(|(s, i)| (s.as_str(), i.as_str()))
                    .collect()
            })
            .collect();
        assert_eq!(
            ids,
            [
                vec![
                    ("anilist", "162985"),
                    ("anime-planet", "metallic-rouge"),
                    ("imdb", "tt21268592"),
                    ("mal", "54794")
                ],
                vec![("tmdb", "movie/129")],
                vec![],
            ]
        );
        let positions: Vec<&str> = parsed.skipped.iter().map(|s| s.position.as_str()).collect();
        assert_eq!(positions, ["[3]", "[4]", "[5]"]);
        assert_eq!(mappings.malformed, 3);
        assert!(parse(br#"{"mal_id": 1}"#).is_err());
    }

    #[test]
    fn links_what_an_entry_lacks_by_its_most_specific_id() {
        let catalog = Catalog::build(vec![
            entry(
                1,
                "Metallic Rouge",
                &[("mal", "54794"), ("anilist", "162985")],
            ),
            entry(2, "Frieren", &[("mal", "52991")]),
        ]);
        let plan = plan_of(
            &catalog,
            r#"[{"anilist_id": 162985, "mal_id": 54794, "anidb_id": 17926, "imdb_id": "tt21268592"},
                {"mal_id": 52991},
                {"mal_id": 99999, "kitsu_id": 5}]"#,
        );
        let s = &plan.summary;
        assert_eq!(
            (s.updated, s.unchanged, s.ids_added, s.ignored, s.conflicts),
            (1, 1, 2, 1, 0)
        );
        assert_eq!(plan.put[0].external_ids["imdb"], "tt21268592");
        assert_eq!(plan.put[0].external_ids["anidb"], "17926");
        assert_eq!(
            s.to_string(),
            "2 ids linked on 1 entry (1 matched already had them), 0 conflicts skipped, \
             1 records for works not in the catalog, 0 malformed records skipped"
        );
    }

    #[test]
    fn never_links_one_record_to_two_entries_nor_one_id_to_two() {
        let catalog = Catalog::build(vec![
            entry(12, "ONE PIECE", &[("mal", "21")]),
            entry(13, "ONE PIECE エルバフ編", &[("mal", "21")]),
            entry(20, "NARUTO", &[("mal", "20"), ("anidb", "239")]),
            entry(
                30,
                "SPY×FAMILY",
                &[("mal", "50265"), ("kitsu", "1"), ("anilist", "140960")],
            ),
            entry(31, "DEATH NOTE", &[("mal", "1535")]),
            entry(40, "Season 1", &[("mal", "100")]),
            entry(41, "Season 2", &[("mal", "101")]),
        ]);
        let plan = plan_of(
            &catalog,
            r#"[{"mal_id": 21, "imdb_id": "tt0388629"},
                {"mal_id": 20, "anidb_id": 9999},
                {"mal_id": 1535, "kitsu_id": 1},
                {"mal_id": 100, "imdb_id": "tt2560140"},
                {"mal_id": 101, "imdb_id": "tt2560140"},
                {"mal_id": 50265, "anidb_id": 16947},
                {"anilist_id": 140960, "livechart_id": 7}]"#,
        );
        let s = &plan.summary;
        assert_eq!(
            (s.updated, s.unchanged, s.conflicts, s.ignored),
            (0, 2, 5, 0),
            "{:?}",
            s.skipped
        );
        assert!(plan.put.is_empty());
        let reasons: Vec<&str> = s.skipped.iter().map(|k| k.reason.as_str()).collect();
        assert!(
            reasons[0].contains("#12 \"ONE PIECE\" and #13"),
            "{}",
            reasons[0]
        );
        assert!(reasons[1].contains("anidb 239, not 9999"), "{}", reasons[1]);
        assert!(
            reasons[2].contains("kitsu 1 is already the id of #30"),
            "{}",
            reasons[2]
        );
        // Two records that match one entry (#30) are both conflicts.
        assert!(reasons[3].contains("[6]"), "{}", reasons[3]);
        assert_eq!(s.skipped[4].position, "[6]");
    }
}
