//! The backup file format, version 1: every tree of the store, byte for byte.
//!
//! ```json
//! {"format": "rouge-backup", "version": 1, "schema_version": 1,
//!  "trees": {"entries": [["<key hex>", "<value hex>"], …], "meta": […], …}}
//! ```
//! Keys and values are lower-case hex. `schema_version` is the store schema
//! the records are in; `rouge restore` refuses a newer one and migrates an
//! older one as it restores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Snapshot;

pub const FORMAT_TAG: &str = "rouge-backup";
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    schema_version: u32,
    trees: BTreeMap<String, Vec<(String, String)>>,
}

/// A backup file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a rouge backup: {0}")]
    Format(String),
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Writes `snapshot` as a backup file.
pub fn write(snapshot: &Snapshot, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let file = File {
        format: FORMAT_TAG.into(),
        version: VERSION,
        schema_version: snapshot.schema_version,
        trees: snapshot
            .trees
            .iter()
            .map(|(name, records)| {
                (
                    name.clone(),
                    records.iter().map(|(k, v)| (hex(k), hex(v))).collect(),
                )
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &file)?;
    out.write_all(b"\n")
}

/// Reads a backup file.
pub fn read(bytes: &[u8]) -> Result<Snapshot, BackupError> {
    let file: File =
        serde_json::from_slice(bytes).map_err(|e| BackupError::Format(e.to_string()))?;
    if file.format != FORMAT_TAG {
        return Err(BackupError::Format(format!(
            "the format tag is \"{}\"",
            file.format
        )));
    }
    if file.version != VERSION {
        return Err(BackupError::Format(format!(
            "backup version {} is not supported (this build reads {VERSION})",
            file.version
        )));
    }
    let mut trees = Vec::new();
    for (name, records) in file.trees {
        let records = records
            .into_iter()
            .map(|(k, v)| Some((unhex(&k)?, unhex(&v)?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                BackupError::Format(format!("tree \"{name}\" holds a record that is not hex"))
            })?;
        trees.push((name, records));
    }
    Ok(Snapshot {
        schema_version: file.schema_version,
        trees,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        let snapshot = Snapshot {
            schema_version: 1,
            trees: vec![("entries".into(), vec![(vec![0, 1], b"{}".to_vec())])],
        };
        let mut out = Vec::new();
        write(&snapshot, &mut out).expect("write");
        assert_eq!(read(&out).expect("read"), snapshot);
        assert!(read(b"{}").is_err());
        assert!(
            read(br#"{"format":"rouge-catalog","version":1,"schema_version":1,"trees":{}}"#)
                .is_err()
        );
        assert!(read(br#"{"format":"rouge-backup","version":1,"schema_version":1,"trees":{"x":[["zz","00"]]}}"#).is_err());
    }
}
