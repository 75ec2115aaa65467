//! Rouge's own catalog format: what `rouge export` writes and
//! `rouge import --format rouge` reads back.
//!
//! ```json
//! {"format": "rouge-catalog", "version": 1, "entries": [<Entry>, …]}
//! ```
//! Each entry is [`Entry`] as serde writes it. Version 1 is the only
//! version so far; a reader refuses versions it does not know.
//!
//! An export lists each entry once, so every record is a work of its own; a
//! record keeps its id where that id is free and matches the entry with its
//! id and main title first ([`Rules::keep_ids`]), so a round trip is exact.
//!
//! An entry whose id is outside 1 to [`MAX_ENTRY_ID`] is skipped: a kept id
//! past the store's range would pin its id counter (issue #13), and 0 is
//! no entry's. Every entry then passes the import's one check
//! ([`checked`](super::checked)) like any other record.

use serde::{Deserialize, Serialize};

use super::{Format, ImportError, Incoming, Parsed, Rules, Skipped};
use crate::core::catalog::model::MAX_ENTRY_ID;
use crate::core::catalog::model::{Entry, TitleLang};

/// The `format` tag of an export.
pub const FORMAT_TAG: &str = "rouge-catalog";
/// The export version this build writes.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct ExportRef<'a> {
    format: &'static str,
    version: u32,
    entries: &'a [Entry],
}

#[derive(Deserialize)]
struct ExportFile {
    format: String,
    version: u32,
    entries: Vec<serde_json::Value>,
}

/// Writes `entries` (in id order) as a rouge export, pretty-printed so that
/// exports diff well.
pub fn write(entries: &[Entry], out: &mut impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(
        &mut *out,
        &ExportRef {
            format: FORMAT_TAG,
            version: VERSION,
            entries,
        },
    )?;
    out.write_all(b"\n")
}

/// Reads a rouge export; entries that do not decode are skipped.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let file: ExportFile = serde_json::from_slice(bytes).map_err(|e| shape(format!("{e}")))?;
    if file.format != FORMAT_TAG {
        return Err(shape(format!(
            "the format tag is \"{}\", not \"{FORMAT_TAG}\"",
            file.format
        )));
    }
    if file.version != VERSION {
        return Err(shape(format!(
            "export version {} is not supported (this build reads {VERSION})",
            file.version
        )));
    }
    let mut parsed = Parsed {
        rules: Rules {
            keep_ids: true,
            split_absorbed: false,
        },
        ..Parsed::default()
    };
    for (i, value) in file.entries.into_iter().enumerate() {
        match serde_json::from_value::<Entry>(value) {
            Ok(entry)
                if crate::core::catalog::text::fold(&entry.title)
                    .key
                    .is_empty() =>
            {
                parsed.skipped.push(Skipped {
                    position: format!("entries[{i}]"),
                    reason: "the title has no letter or digit".into(),
                })
            }
            Ok(entry) if !(1..=MAX_ENTRY_ID).contains(&entry.id) => parsed.skipped.push(Skipped {
                position: format!("entries[{i}]"),
                reason: format!(
                    "{}; an export never has one, so nothing of this entry was imported",
                    super::id_out_of_range(entry.id)
                ),
            }),
            Ok(entry) => parsed.records.push(Incoming {
                entry,
                title_lang: TitleLang::Main,
                listing: None,
                position: format!("entries[{i}]"),
            }),
            Err(e) => parsed.skipped.push(Skipped {
                position: format!("entries[{i}]"),
                reason: e.to_string(),
            }),
        }
    }
    Ok(parsed)
}

fn shape(reason: String) -> ImportError {
    ImportError::Shape {
        format: Format::Rouge,
        reason,
    }
}
