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

use std::io::Write as _;

use serde::Deserialize;

use super::Snapshot;

pub const FORMAT_TAG: &str = "rouge-backup";
pub const VERSION: u32 = 1;

#[derive(Deserialize)]
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

/// Writes `snapshot` as a backup file, record by record: the file is
/// never built whole in memory beside the snapshot.
pub fn write(snapshot: &Snapshot, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    write!(
        out,
        "{{\"format\":\"{FORMAT_TAG}\",\"version\":{VERSION},\"schema_version\":{},\"trees\":{{",
        snapshot.schema_version
    )?;
    let mut trees: Vec<&(String, super::Records)> = snapshot.trees.iter().collect();
    trees.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, records)) in trees.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut out, name)?;
        out.write_all(b":[")?;
        for (j, (key, value)) in records.iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            write!(out, "[\"{}\",\"{}\"]", hex(key), hex(value))?;
        }
        out.write_all(b"]")?;
    }
    out.write_all(b"}}\n")?;
    out.flush()
}

/// How long ago the newest backup in `dir` was written, if there is one.
pub fn newest_age(dir: &std::path::Path) -> Option<std::time::Duration> {
    rotating(dir)
        .ok()?
        .last()
        .and_then(|p| std::fs::metadata(p).ok()?.modified().ok())
        .and_then(|t| t.elapsed().ok())
}

/// The automatic backups in `dir`, oldest first (their names sort by time).
fn rotating(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("rouge-") && n.ends_with(".backup"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Writes a new backup into `dir` (made if missing) with `write`, renames
/// it into place when complete, and removes all but the `keep` newest.
/// Returns the new file's path; a failure leaves no partial file.
pub fn write_rotating(
    dir: &std::path::Path,
    keep: u32,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = format!(
        "rouge-{}.backup",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    let path = dir.join(&name);
    let partial = dir.join(format!("{name}.partial"));
    let written = (|| {
        let mut file = std::fs::File::create(&partial)?;
        write(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&partial, &path)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    let all = rotating(dir)?;
    let excess = all.len().saturating_sub(keep.max(1) as usize);
    for old in &all[..excess] {
        std::fs::remove_file(old)?;
    }
    Ok(path)
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
