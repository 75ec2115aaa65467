//! IMDb's non-commercial `title.ratings.tsv` (<https://developer.imdb.com/non-commercial-datasets/>,
//! personal and non-commercial use only), plain or gzipped as IMDb publishes
//! it (`title.ratings.tsv.gz`; told by the gzip magic bytes, not the name):
//!
//! ```text
//! tconst⇥averageRating⇥numVotes
//! tt0000001⇥5.7⇥2100
//! ```
//! (⇥ is a tab.)
//!
//! Every entry whose `external_ids["imdb"]` is a line's `tconst` gets the
//! line as its `imdb` score (10-point scale, with its votes), dated the day
//! of the import ([`Context::today`]): the file carries no date of its own,
//! and IMDb rebuilds it daily, so a fresh download is as of the day it is
//! imported. (The file's modification date would say when it was
//! downloaded, but an import is handed the file's bytes only.) A score line
//! dated later than that is kept ([`merge::put_score`](super::merge)).
//!
//! The file has about 1.5 million lines, nearly all for titles that are not
//! anime: it is read one line at a time (each at most [`MAX_LINE`] bytes,
//! through a streaming gzip decoder), and only the lines of IMDb ids the
//! catalog has ([`Context::imdb_ids`]) are kept, so memory follows the
//! catalog, not the file. Lines for other ids are counted as ignored;
//! malformed lines are skipped and counted, the first [`LISTED_MALFORMED`]
//! listed with their line number. A file whose first line is not the header,
//! or whose gzip stream is damaged, is refused whole.
//!
//! An IMDb id on more than one entry names a show, not one work (an owner's
//! link, say, on two seasons): neither entry gets its rating, and the
//! conflict is reported. This format never adds entries.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader};

use chrono::NaiveDate;
use flate2::read::MultiGzDecoder;

use super::merge::put_score;
use super::{
    Context, Counted, Facts, Format, ImportError, Parsed, Plan, Skipped, Summary, checked,
};
use crate::core::catalog::Catalog;
use crate::core::catalog::model::{EntryId, SourceScore};

/// The score source these ratings are recorded under.
pub const SOURCE: &str = "imdb";
/// The header IMDb's file starts with.
const HEADER: &str = "tconst\taverageRating\tnumVotes";
/// The longest line read (IMDb's are about 20 bytes); the rest of a longer
/// one is passed over, so a file without line breaks cannot fill memory.
pub const MAX_LINE: usize = 1024;
/// How many malformed lines are listed in the summary's `skipped`.
pub const LISTED_MALFORMED: usize = 20;
/// Far more lines than IMDb's file has (about 1.6 million in 2026): past
/// this a file is refused, so that a small gzip file that unpacks to
/// gigabytes cannot keep an import running for minutes.
pub const MAX_LINES: usize = 20_000_000;

/// One line's rating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// 1.0 to 10.0.
    pub value: f64,
    pub votes: u64,
    /// Its line in the file, counted from 1 (the header is line 1).
    pub line: usize,
}

/// What a ratings file says about the catalog's IMDb ids.
#[derive(Debug, Default)]
pub struct Ratings {
    /// The rating of each IMDb id kept (see the module docs).
    pub by_id: HashMap<String, Rating>,
    /// The date the scores are as of ([`Context::today`]).
    pub as_of: Option<NaiveDate>,
    /// Lines for IMDb ids the catalog does not have.
    pub ignored: usize,
    /// Lines that are not `tconst`, a rating and a vote count.
    pub malformed: usize,
}

/// Reads a ratings file, keeping the lines of `context`'s IMDb ids.
pub fn parse(bytes: &[u8], context: &Context) -> Result<Parsed, ImportError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        read(
            BufReader::with_capacity(1 << 16, MultiGzDecoder::new(bytes)),
            context,
        )
    } else {
        read(bytes, context)
    }
}

fn read(mut reader: impl BufRead, context: &Context) -> Result<Parsed, ImportError> {
    let damaged = |e: io::Error| shape(format!("the gzip stream cannot be read: {e}"));
    let mut line = Vec::with_capacity(64);
    let header_fits = next_line(&mut reader, &mut line)
        .map_err(damaged)?
        .ok_or_else(|| shape("the file is empty".into()))?;
    let header = String::from_utf8_lossy(&line);
    let header = header.trim_start_matches('\u{feff}').trim_end();
    if !header_fits || header != HEADER {
        return Err(shape(format!(
            "the first line is \"{}\", not IMDb's header (tconst, averageRating, numVotes)",
            header.chars().take(60).collect::<String>()
        )));
    }
    let mut ratings = Ratings {
        as_of: context.today,
        ..Ratings::default()
    };
    let mut skipped = Vec::new();
    let mut number = 1;
    while let Some(fits) = next_line(&mut reader, &mut line).map_err(damaged)? {
        number += 1;
        if number > MAX_LINES {
            return Err(shape(format!(
                "it has more than {MAX_LINES} lines, far more than IMDb's ratings"
            )));
        }
        let parsed = if fits {
            rating(&line)
        } else {
            Err(format!("the line is longer than {MAX_LINE} bytes"))
        };
        match parsed {
            Ok(None) => {}
            Ok(Some((id, rating))) => {
                let wanted = context.imdb_ids.as_ref().is_none_or(|ids| ids.contains(id));
                if wanted {
                    let line = number;
                    ratings
                        .by_id
                        .insert(id.to_owned(), Rating { line, ..rating });
                } else {
                    ratings.ignored += 1;
                }
            }
            Err(reason) => {
                ratings.malformed += 1;
                if skipped.len() < LISTED_MALFORMED {
                    skipped.push(Skipped {
                        position: format!("line {number}"),
                        reason,
                    });
                }
            }
        }
    }
    Ok(Parsed {
        skipped,
        facts: Facts::Ratings(ratings),
        ..Parsed::default()
    })
}

/// Reads the next line into `line` without its line break, keeping at most
/// [`MAX_LINE`] bytes of it. `None` at the end of the file; `Some(false)`
/// when the line was longer (what did not fit is passed over).
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    line.clear();
    let mut fits = true;
    let mut any = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (chunk, used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if fits && line.len() + chunk.len() <= MAX_LINE {
            line.extend_from_slice(chunk);
        } else {
            fits = false;
        }
        reader.consume(used);
        if done {
            return Ok(Some(fits));
        }
    }
}

/// One line as an IMDb id and its rating; `None` for a blank line.
fn rating(line: &[u8]) -> Result<Option<(&str, Rating)>, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(line).map_err(|_| "the line is not UTF-8".to_owned())?;
    let mut fields = text.split('\t');
    let (Some(id), Some(value), Some(votes), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("the line is not three tab-separated fields".into());
    };
    if !is_title_id(id) {
        return Err(format!(
            "\"{}\" is not an IMDb title id (tt and digits)",
            id.chars().take(40).collect::<String>()
        ));
    }
    let value = value
        .parse::<f64>()
        .ok()
        .filter(|v| (1.0..=10.0).contains(v))
        .ok_or_else(|| format!("\"{value}\" is not a rating from 1 to 10"))?;
    let votes = votes
        .parse::<u64>()
        .map_err(|_| format!("\"{votes}\" is not a number of votes"))?;
    Ok(Some((
        id,
        Rating {
            value,
            votes,
            line: 0,
        },
    )))
}

/// `tt` and digits, as IMDb's title ids are.
pub fn is_title_id(id: &str) -> bool {
    id.len() > 2
        && id.len() <= 20
        && id.starts_with("tt")
        && id[2..].bytes().all(|b| b.is_ascii_digit())
}

/// Gives every entry with a rated IMDb id its score (see the module docs).
pub(super) fn plan(existing: &Catalog, ratings: Ratings, mut skipped: Vec<Skipped>) -> Plan {
    let mut summary = Summary {
        counted: Counted::Ratings,
        ignored: ratings.ignored,
        malformed: ratings.malformed,
        ..Summary::default()
    };
    // In IMDb id order, so that the entries are written in a stable order.
    let mut by_imdb: BTreeMap<&str, Vec<EntryId>> = BTreeMap::new();
    for entry in existing.entries() {
        if let Some(id) = entry.external_ids.get(SOURCE) {
            by_imdb.entry(id).or_default().push(entry.id);
        }
    }
    let mut put = Vec::new();
    for (imdb, mut ids) in by_imdb {
        let Some(rating) = ratings.by_id.get(imdb) else {
            continue;
        };
        let position = format!("line {}", rating.line);
        ids.sort_unstable();
        let [id] = ids[..] else {
            let names: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
            summary.conflicts += 1;
            skipped.push(Skipped {
                position,
                reason: format!(
                    "IMDb {imdb} is the IMDb id of {}: a rating names one title, so none of them gets it",
                    names.join(", ")
                ),
            });
            continue;
        };
        let Some(stored) = existing.get(id) else {
            continue;
        };
        let mut entry = stored.clone();
        let score = SourceScore {
            source: SOURCE.into(),
            value: rating.value,
            scale_max: 10.0,
            votes: Some(rating.votes),
            as_of: ratings.as_of,
        };
        if !put_score(&mut entry.scores, &score) {
            summary.unchanged += 1;
            continue;
        }
        match checked(&entry) {
            Ok(()) => {
                summary.updated += 1;
                put.push(entry);
            }
            Err(reason) => skipped.push(Skipped {
                position,
                reason: format!("#{id} with this rating would fail the check ({reason})"),
            }),
        }
    }
    summary.skipped = skipped;
    Plan {
        put,
        splits: Vec::new(),
        summary,
    }
}

fn shape(reason: String) -> ImportError {
    ImportError::Shape {
        format: Format::ImdbRatings,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::Write;

    use super::*;
    use crate::core::catalog::model::Entry;

    const FILE: &str = "tconst\taverageRating\tnumVotes\n\
                        tt0000001\t5.7\t2100\n\
                        tt21268592\t5.9\t3120\n\
                        tt0000002\t11\t5\n\
                        not a line\n\
                        \n\
                        tt0000003\t6.0\t0\r\n";

    fn catalog() -> Catalog {
        let mut rouge = Entry::new(1, "メタリックルージュ");
        rouge
            .external_ids
            .insert("imdb".into(), "tt21268592".into());
        rouge.scores.push(SourceScore {
            source: "mal".into(),
            value: 6.2,
            scale_max: 10.0,
            votes: None,
            as_of: None,
        });
        let other = Entry::new(2, "Other");
        Catalog::build(vec![rouge, other])
    }

    fn context(catalog: &Catalog) -> Context {
        Context::of(
            catalog,
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
        )
    }

    fn gzip(text: &str) -> Vec<u8> {
        let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let written = out.write_all(text.as_bytes()).and_then(|()| out.finish());
        written.unwrap_or_else(|e| panic!("{e}"))
    }

    fn parsed(bytes: &[u8], context: &Context) -> Parsed {
        parse(bytes, context).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn keeps_only_the_catalogs_ids_and_counts_the_rest() {
        let catalog = catalog();
        for bytes in [FILE.as_bytes().to_vec(), gzip(FILE)] {
            let parsed = parsed(&bytes, &context(&catalog));
            let Facts::Ratings(ratings) = &parsed.facts else {
                panic!("ratings")
            };
            assert_eq!(ratings.by_id.len(), 1);
            let rating = ratings.by_id["tt21268592"];
            assert_eq!((rating.value, rating.votes, rating.line), (5.9, 3120, 3));
            assert_eq!((ratings.ignored, ratings.malformed), (2, 2));
            let positions: Vec<&str> = parsed.skipped.iter().map(|s| s.position.as_str()).collect();
            assert_eq!(positions, ["line 4", "line 5"]);
            assert!(parsed.skipped[0].reason.contains("from 1 to 10"));
        }
    }

    #[test]
    fn the_entry_gets_a_dated_score_with_votes() {
        let catalog = catalog();
        let plan = plan_of(&catalog, FILE.as_bytes());
        assert_eq!(plan.put.len(), 1);
        let imdb = plan.put[0].scores.iter().find(|s| s.source == "imdb");
        assert_eq!(
            imdb,
            Some(&SourceScore {
                source: "imdb".into(),
                value: 5.9,
                scale_max: 10.0,
                votes: Some(3120),
                as_of: NaiveDate::from_ymd_opt(2026, 12, 1),
            })
        );
        assert_eq!(
            plan.summary.to_string(),
            "1 entry rated by IMDb (1 updated, 0 unchanged), 0 conflicts skipped, \
             2 lines for titles not in the catalog, 2 malformed lines skipped"
        );
        let after = Catalog::build(plan.put);
        let again = plan_of(&after, FILE.as_bytes());
        assert!(again.put.is_empty());
        assert_eq!((again.summary.updated, again.summary.unchanged), (0, 1));
    }

    fn plan_of(catalog: &Catalog, bytes: &[u8]) -> Plan {
        super::super::plan(catalog, parsed(bytes, &context(catalog)))
    }

    #[test]
    fn a_fresher_score_stays() {
        let mut rouge = Entry::new(1, "Metallic Rouge");
        rouge
            .external_ids
            .insert("imdb".into(), "tt21268592".into());
        let fresh = SourceScore {
            source: "imdb".into(),
            value: 6.0,
            scale_max: 10.0,
            votes: Some(4000),
            as_of: NaiveDate::from_ymd_opt(2027, 1, 1),
        };
        rouge.scores.push(fresh.clone());
        let catalog = Catalog::build(vec![rouge]);
        let plan = plan_of(&catalog, FILE.as_bytes());
        assert!(plan.put.is_empty());
        assert_eq!(plan.summary.unchanged, 1);
    }

    #[test]
    fn an_imdb_id_on_two_entries_rates_neither() {
        let mut a = Entry::new(3, "Show, season 1");
        a.external_ids.insert("imdb".into(), "tt0000001".into());
        let mut b = Entry::new(4, "Show, season 2");
        b.external_ids.insert("imdb".into(), "tt0000001".into());
        let catalog = Catalog::build(vec![a, b]);
        let plan = plan_of(&catalog, FILE.as_bytes());
        assert!(plan.put.is_empty());
        assert_eq!(plan.summary.conflicts, 1);
        let skipped = &plan.summary.skipped[2];
        assert_eq!(skipped.position, "line 2");
        assert!(skipped.reason.contains("#3, #4"), "{}", skipped.reason);
    }

    #[test]
    fn long_lines_and_broken_files() {
        let long = format!(
            "{HEADER}\ntt1\t{}\t1\ntt0000001\t5.7\t2100\n",
            "9".repeat(5000)
        );
        let all = Context::default();
        let read = parsed(long.as_bytes(), &all);
        let Facts::Ratings(ratings) = &read.facts else {
            panic!("ratings")
        };
        assert_eq!((ratings.by_id.len(), ratings.malformed), (1, 1));
        assert!(read.skipped[0].reason.contains("longer than"));

        for (bytes, why) in [
            (b"".to_vec(), "empty"),
            (b"id,rating\n".to_vec(), "IMDb's header"),
            (gzip(FILE)[..30].to_vec(), "gzip"),
        ] {
            let err = parse(&bytes, &all).map(|_| ()).err().map(|e| e.to_string());
            assert!(err.as_deref().is_some_and(|e| e.contains(why)), "{err:?}");
        }
        let no_ids = Context {
            imdb_ids: Some(HashSet::new()),
            today: None,
        };
        let read = parsed(FILE.as_bytes(), &no_ids);
        let Facts::Ratings(ratings) = &read.facts else {
            panic!("ratings")
        };
        assert_eq!((ratings.by_id.len(), ratings.ignored), (0, 3));
    }

    #[test]
    fn title_ids() {
        assert!(is_title_id("tt0000001"));
        assert!(!is_title_id("tt"));
        assert!(!is_title_id("nm0000001"));
        assert!(!is_title_id("tt12a"));
    }
}
