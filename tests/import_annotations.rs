//! The two formats that annotate entries the catalog has (issue #12, item
//! 4): `anime-lists` links ids in bulk, then `imdb-ratings` gives every
//! entry with an IMDb id its score, so that the seed card reads
//! "IMDb 5.9 · MyAnimeList 6.2 · average 6.1" from the files alone. With
//! votes for IMDb only, the rule in `core::catalog::scores` takes the plain
//! mean (votes weigh only when every source has them): (5.9 + 6.2) / 2 =
//! 6.05, shown as 6.1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use rouge::app::{App, Settings};
use rouge::core::caller::Caller;
use rouge::core::catalog::scores::Method;
use rouge::core::clock::ManualClock;
use rouge::core::reply::{Card, Reply};
use rouge::import::{Format, Summary};
use rouge::store::Store;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).expect("fixture")
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    out.write_all(bytes).expect("gzip");
    out.finish().expect("gzip")
}

fn demo_app() -> App {
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    );
    App::open(
        Store::temporary().expect("temporary store"),
        Settings::default(),
        Arc::new(clock),
    )
    .expect("app opens")
}

fn import(app: &App, format: Format, bytes: &[u8]) -> Summary {
    let summary = app
        .import(format, bytes, "test", |_, _| {})
        .unwrap_or_else(|e| panic!("{format}: {e}"));
    eprintln!("{format}: {summary}");
    summary
}

fn seed_card(app: &App) -> Card {
    match app.handle_line(&Caller::local_owner(), "/anime metallic rouge") {
        Reply::Card(card) => *card,
        other => panic!("{other:?}"),
    }
}

#[test]
fn anime_lists_links_only_what_is_unambiguous() {
    let app = demo_app();
    let summary = import(
        &app,
        Format::AnimeLists,
        &fixture("anime-lists-sample.json"),
    );
    assert_eq!(
        (
            summary.updated,
            summary.ids_added,
            summary.unchanged,
            summary.conflicts,
            summary.ignored,
            summary.malformed
        ),
        (1, 1, 3, 1, 2, 1),
        "{:?}",
        summary.skipped
    );
    assert_eq!(summary.added, 0, "this file never creates entries");
    let rouge = app.entry(1).expect("#1");
    assert_eq!(rouge.external_ids["imdb"], "tt21268592");
    // Attack on Titan's IMDb id is given for two records: it names the
    // show, not one work, and is not linked.
    let titan = app.entry(4).expect("#4");
    assert!(!titan.external_ids.contains_key("imdb"));
    let conflict = summary
        .skipped
        .iter()
        .find(|s| s.position == "[5]")
        .expect("the SPY×FAMILY record is a conflict");
    assert!(
        conflict.reason.contains("anidb 16947, not 1"),
        "{}",
        conflict.reason
    );
    assert_eq!(
        summary.to_string(),
        "1 ids linked on 1 entry (3 matched already had them), 1 conflicts skipped, \
         2 records for works not in the catalog, 1 malformed records skipped"
    );
    let again = import(
        &app,
        Format::AnimeLists,
        &fixture("anime-lists-sample.json"),
    );
    assert_eq!((again.updated, again.unchanged), (0, 4));
}

#[test]
fn after_anime_lists_and_imdb_ratings_the_seed_card_reads_as_promised() {
    let app = demo_app();
    import(
        &app,
        Format::AnimeLists,
        &fixture("anime-lists-sample.json"),
    );
    let ratings = import(
        &app,
        Format::ImdbRatings,
        &fixture("imdb-ratings-sample.tsv"),
    );
    assert_eq!(
        (
            ratings.updated,
            ratings.ignored,
            ratings.malformed,
            ratings.added
        ),
        (1, 3, 1, 0)
    );
    assert_eq!(ratings.skipped[0].position, "line 6");
    assert!(
        ratings.to_string().starts_with("1 entry rated by IMDb"),
        "{ratings}"
    );

    let card = seed_card(&app);
    let lines: Vec<(&str, f64, Option<u64>, Option<NaiveDate>)> = card
        .scores
        .sources
        .iter()
        .map(|s| (s.label.as_str(), s.value, s.votes, s.as_of))
        .collect();
    assert_eq!(
        lines,
        [
            (
                "IMDb",
                5.9,
                Some(3120),
                NaiveDate::from_ymd_opt(2026, 12, 1)
            ),
            (
                "MyAnimeList",
                6.2,
                None,
                NaiveDate::from_ymd_opt(2024, 4, 10)
            ),
        ]
    );
    assert_eq!(card.scores.method, Some(Method::Mean));
    assert_eq!(
        card.scores.summary.map(|s| s.to_string()).as_deref(),
        Some("6.1")
    );
    let text = rouge::adapters::console::render(&Reply::Card(Box::new(card)));
    assert!(
        text.contains("IMDb 5.9 · MyAnimeList 6.2 · average 6.1"),
        "{text}"
    );

    // The same file gzipped, as IMDb publishes it, is the same ratings.
    let again = import(
        &app,
        Format::ImdbRatings,
        &gzip(&fixture("imdb-ratings-sample.tsv")),
    );
    assert_eq!((again.updated, again.unchanged, again.malformed), (0, 1, 1));
}

#[test]
fn without_ids_linked_no_entry_is_rated() {
    let app = demo_app();
    let ratings = import(
        &app,
        Format::ImdbRatings,
        &fixture("imdb-ratings-sample.tsv"),
    );
    assert_eq!((ratings.updated, ratings.ignored), (0, 4));
    let card = seed_card(&app);
    assert_eq!(card.scores.sources[0].votes, None, "the demo's own line");
}

fn rouge(data: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rouge"));
    cmd.arg("--data-dir").arg(data).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("ROUGE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("ROUGE_OFFLINE", "true");
    cmd.output().expect("rouge runs")
}

#[test]
fn the_cli_imports_both_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let gz = dir.path().join("title.ratings.tsv.gz");
    std::fs::write(&gz, gzip(&fixture("imdb-ratings-sample.tsv"))).expect("write");
    let lists = fixture_path("anime-lists-sample.json");
    for (format, file) in [("anime-lists", lists.as_path()), ("imdb-ratings", &gz)] {
        let path = file.to_str().expect("a UTF-8 path");
        let out = rouge(&data, &["import", "--format", format, path]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("Imported "), "{stdout}");
    }
    let out = rouge(&data, &["ask", "/anime scores metallic rouge"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("IMDb: 5.9 · 3120 votes"), "{text}");
    let help = rouge(&data, &["import", "--format", "imdb", "x"]);
    let stderr = String::from_utf8_lossy(&help.stderr);
    assert!(
        stderr.contains("imdb-ratings") && stderr.contains("anime-lists"),
        "{stderr}"
    );
}
