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
//!
//! **One check for everything written.** Every record a parser yields and
//! every entry a plan writes, after merging, passes [`checked`]: the
//! catalog's one validation (`core::catalog::edit::check`: lengths, counts,
//! dates in order, http(s)-only URLs) and an id the store can hold. A record
//! that fails is skipped with its position and the reason; an entry that
//! would fail after merging is left as it was and its work is skipped. What
//! an owner edited or a live source filled is never overwritten (see
//! [`merge`](self::merge)).
//!
//! **Formats that annotate.** `imdb-ratings` and `anime-lists` never add
//! entries: they give scores or ids to entries the catalog already has
//! ([`Facts`]), planned by their own modules.
//!
//! Modules: [`matching`] (which entries a work may be), [`plan`](self::plan)
//! (deciding, placing and checking), [`split`] (works an earlier import
//! merged wrongly), [`merge`](self::merge) (what a work writes into its entry), one per
//! format.

pub mod anime_lists;
pub mod bangumi_data;
pub mod imdb_ratings;
mod matching;
mod merge;
pub mod offline_db;
mod plan;
pub mod rouge_json;
mod split;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

pub use matching::SPECIFIC_SOURCES;
pub use plan::plan;

use crate::core::catalog::Catalog;
use crate::core::catalog::model::MAX_ENTRY_ID;
use crate::core::catalog::model::{Entry, EntryId, TitleLang};

/// The file formats `rouge import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// bangumi-data's `data.json` (`{siteMeta, items}`).
    BangumiData,
    /// manami-project's anime-offline-database, JSON or JSONL.
    OfflineDb,
    /// What `rouge export` writes.
    Rouge,
    /// IMDb's non-commercial `title.ratings.tsv`, plain or gzipped: IMDb
    /// scores for entries whose IMDb id is known.
    ImdbRatings,
    /// Fribb/anime-lists' `anime-list-full.json`: ids of other sites for
    /// entries the catalog has.
    AnimeLists,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 5] = [
        Format::BangumiData,
        Format::OfflineDb,
        Format::Rouge,
        Format::ImdbRatings,
        Format::AnimeLists,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::BangumiData => "bangumi-data",
            Format::OfflineDb => "offline-db",
            Format::Rouge => "rouge",
            Format::ImdbRatings => "imdb-ratings",
            Format::AnimeLists => "anime-lists",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Format::ALL.iter().map(|f| f.name().to_owned()).collect();
                format!("unknown format \"{s}\" ({})", or_list(&names))
            })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
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

/// What a file says about entries the catalog already has, for the formats
/// that never add entries.
#[derive(Debug, Default)]
pub enum Facts {
    /// The file's records are works ([`Parsed::records`]).
    #[default]
    None,
    /// imdb-ratings: IMDb scores by IMDb id.
    Ratings(imdb_ratings::Ratings),
    /// anime-lists: the ids one work has at several sites, per record.
    Ids(anime_lists::Mappings),
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
    /// What an annotating format gives instead of records.
    pub facts: Facts,
}

/// What an import knows besides the file.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The IMDb ids the catalog has. imdb-ratings keeps only their lines, so
    /// that its memory follows the catalog, not IMDb's 1.5 million lines;
    /// `None` keeps every line.
    pub imdb_ids: Option<HashSet<String>>,
    /// The day of the import: the as-of date of the scores an imdb-ratings
    /// file gives, since the file itself carries no date (IMDb rebuilds it
    /// daily, so a fresh download is as of the day it is imported).
    pub today: Option<NaiveDate>,
}

impl Context {
    /// What `catalog` and the date tell a parser.
    pub fn of(catalog: &Catalog, today: NaiveDate) -> Context {
        Context {
            imdb_ids: Some(
                catalog
                    .entries()
                    .filter_map(|e| e.external_ids.get("imdb").cloned())
                    .collect(),
            ),
            today: Some(today),
        }
    }
}

/// Parses `bytes` in `format`, without a [`Context`]: imdb-ratings keeps
/// every line and dates no score.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Parsed, ImportError> {
    parse_with(format, bytes, &Context::default())
}

/// Parses `bytes` in `format`. Records that fail [`checked`] are skipped
/// here already, with their position and the reason.
pub fn parse_with(format: Format, bytes: &[u8], context: &Context) -> Result<Parsed, ImportError> {
    let mut parsed = match format {
        Format::BangumiData => bangumi_data::parse(bytes),
        Format::OfflineDb => offline_db::parse(bytes),
        Format::Rouge => rouge_json::parse(bytes),
        Format::ImdbRatings => imdb_ratings::parse(bytes, context),
        Format::AnimeLists => anime_lists::parse(bytes),
    }?;
    let records = std::mem::take(&mut parsed.records);
    for record in records {
        match checked(&record.entry) {
            Ok(()) => parsed.records.push(record),
            Err(reason) => parsed.skipped.push(Skipped {
                position: record.position,
                reason,
            }),
        }
    }
    Ok(parsed)
}

/// The one check every record of a file and every entry an import writes
/// passes: [`edit::check`](crate::core::catalog::edit::check), which every
/// other write passes too, and an id the store can hold (0 until one is
/// allocated, else at most [`MAX_ENTRY_ID`]).
pub fn checked(entry: &Entry) -> Result<(), String> {
    if entry.id > MAX_ENTRY_ID {
        return Err(id_out_of_range(entry.id));
    }
    crate::core::catalog::edit::check(entry)
}

/// Adds an alternative title the catalog can keep: one longer than its
/// limit, or past its count of alternative titles, is left out. Importers
/// and merges use it so that one title too many, or one over-long English
/// title (bangumi-data 0.3.208 has a 207-character one), does not cost the
/// whole work; the main title is never dropped this way.
fn add_fitting_title(entry: &mut Entry, text: &str, lang: TitleLang) -> bool {
    use crate::core::catalog::edit::{MAX_ALT_TITLES, MAX_TITLE_CHARS};
    entry.alt_titles.len() < MAX_ALT_TITLES
        && text.trim().chars().count() <= MAX_TITLE_CHARS
        && entry.add_alt_title(text, lang)
}

/// Why an entry id cannot be stored (an id past [`MAX_ENTRY_ID`] would pin
/// the store's id counter, so that new entries could collide).
fn id_out_of_range(id: EntryId) -> String {
    format!("the id {id} is outside the ids entries can have (1 to {MAX_ENTRY_ID})")
}

/// What a [`Summary`] counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Works, added to or merged into the catalog.
    #[default]
    Works,
    /// imdb-ratings: entries given an IMDb score.
    Ratings,
    /// anime-lists: entries given other sites' ids.
    Ids,
}

/// The outcome of an import. Every record read is counted once: as the one
/// record of a new (`added`), changed (`updated`) or `unchanged` entry, as a
/// duplicate listing folded into another record (`merged`), or as `skipped`.
/// Annotating formats ([`Counted::Ratings`], [`Counted::Ids`]) count the
/// entries they changed as `updated` and those they matched but left as
/// they were as `unchanged`; their records for works the catalog lacks are
/// `ignored`, and their unreadable lines `malformed`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub counted: Counted,
    pub added: usize,
    /// Records that listed the same work as another record of the file.
    pub merged: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Works split off an entry that an earlier import had wrongly merged
    /// them into (each is also counted as added, its old entry as updated).
    pub split: usize,
    /// Skipped records, with where and why. imdb-ratings lists only the first
    /// [`imdb_ratings::LISTED_MALFORMED`] malformed lines (all are counted in
    /// `malformed`).
    pub skipped: Vec<Skipped>,
    /// How current the file's schedule data is ([`Parsed::data_as_of`]).
    pub data_as_of: Option<NaiveDate>,
    /// anime-lists: ids added to entries, in all.
    pub ids_added: usize,
    /// anime-lists and imdb-ratings: records not applied because they
    /// disagree with the catalog or cannot name one entry (each also in
    /// `skipped`).
    pub conflicts: usize,
    /// Records for works the catalog does not have, left alone.
    pub ignored: usize,
    /// Lines or records that could not be read.
    pub malformed: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.counted {
            Counted::Works => self.fmt_works(f),
            Counted::Ratings => write!(
                f,
                "{} rated by IMDb ({} updated, {} unchanged), {} conflicts skipped, \
                 {} lines for titles not in the catalog, {} malformed lines skipped",
                entries(self.updated + self.unchanged),
                thousands(self.updated),
                thousands(self.unchanged),
                thousands(self.conflicts),
                thousands(self.ignored),
                thousands(self.malformed)
            ),
            Counted::Ids => write!(
                f,
                "{} ids linked on {} ({} matched already had them), {} conflicts skipped, \
                 {} records for works not in the catalog, {} malformed records skipped",
                thousands(self.ids_added),
                entries(self.updated),
                thousands(self.unchanged),
                thousands(self.conflicts),
                thousands(self.ignored),
                thousands(self.malformed)
            ),
        }
    }
}

impl Summary {
    fn fmt_works(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// `1 entry`, `2 entries`.
fn entries(n: usize) -> String {
    match n {
        1 => "1 entry".to_owned(),
        n => format!("{} entries", thousands(n)),
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

#[cfg(test)]
mod tests;
