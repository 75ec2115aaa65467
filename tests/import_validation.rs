//! Every import passes the catalog's one check (issue #13, items 1 and 8):
//! a hostile rouge-format file (a 5 MB synopsis, a 100,000-character title,
//! 5,000 genres, `javascript:` URLs, an id of u64::MAX) has each record
//! skipped with its position and reason, changes nothing else, and leaves
//! the id counter alone, so the next `/anime admin add` gets a fresh id.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use rouge::app::{App, Settings};
use rouge::core::caller::Caller;
use rouge::core::clock::ManualClock;
use rouge::core::reply::Reply;
use rouge::import::{self, Format};
use rouge::store::{MAX_ENTRY_ID, Store};
use serde_json::{Value, json};

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

fn export(app: &App) -> String {
    let mut out = Vec::new();
    import::rouge_json::write(&app.export_entries(), &mut out).expect("export");
    String::from_utf8(out).expect("utf-8")
}

fn rouge_file(entries: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"format": "rouge-catalog", "version": 1, "entries": entries}))
        .expect("JSON")
}

/// One hostile entry per case, with the reason it must be skipped for.
fn hostile() -> Vec<(Value, &'static str)> {
    let genres: Vec<String> = (0..5000).map(|i| format!("Genre {i}")).collect();
    vec![
        (
            json!({"id": 100, "title": "Long Synopsis", "synopsis": "x".repeat(5 << 20)}),
            "the synopsis is longer than 4000 characters",
        ),
        (
            json!({"id": 101, "title": "T".repeat(100_000)}),
            "the title is longer than 200 characters",
        ),
        (
            json!({"id": 102, "title": "Many Genres", "genres": genres}),
            "more than 32 genres",
        ),
        (
            json!({"id": 103, "title": "Script Picture", "picture": "javascript:alert(1)"}),
            "the picture is not an http(s) URL",
        ),
        (
            json!({"id": 104, "title": "Script Link",
                   "links": [{"label": "x", "url": "javascript:alert(document.cookie)"}]}),
            "a link is not an http(s) URL",
        ),
        (
            json!({"id": u64::MAX, "title": "Pinned Counter"}),
            "the id 18446744073709551615 is outside the ids entries can have (1 to 9007199254740991)",
        ),
        (
            json!({"id": MAX_ENTRY_ID + 1, "title": "Just Past"}),
            "outside the ids entries can have",
        ),
        (json!({"id": 0, "title": "Zero"}), "the id 0 is outside"),
    ]
}

#[test]
fn each_hostile_record_is_skipped_with_its_reason_and_nothing_else_changes() {
    let app = demo_app();
    let before = export(&app);
    let cases = hostile();
    let file = rouge_file(cases.iter().map(|(v, _)| v.clone()).collect());
    let summary = app
        .import(Format::Rouge, &file, "test", |_, _| {})
        .expect("the file is read");
    assert_eq!(
        (summary.added, summary.updated, summary.skipped.len()),
        (0, 0, cases.len()),
        "{summary}"
    );
    for (i, (_, reason)) in cases.iter().enumerate() {
        let skipped = summary
            .skipped
            .iter()
            .find(|s| s.position == format!("entries[{i}]"))
            .unwrap_or_else(|| panic!("entries[{i}] is not skipped: {:?}", summary.skipped));
        assert!(
            skipped.reason.contains(reason),
            "entries[{i}]: {:?} lacks {reason:?}",
            skipped.reason
        );
        assert!(
            skipped.reason.len() < 300,
            "a reason never repeats the value"
        );
    }
    assert_eq!(export(&app), before, "nothing else changed");
}

#[test]
fn after_a_hostile_import_an_add_still_gets_a_fresh_id() {
    let app = demo_app();
    let demo = app.len() as u64;
    let file = rouge_file(hostile().into_iter().map(|(v, _)| v).collect());
    app.import(Format::Rouge, &file, "test", |_, _| {})
        .expect("the file is read");
    let owner = Caller::local_owner();
    let mut ids = Vec::new();
    for title in ["Fresh One", "Fresh Two"] {
        match app.handle_line(&owner, &format!("/anime admin add \"{title}\"")) {
            Reply::Done(notice) => ids.push(notice.id.expect("an id")),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        ids,
        [demo + 1, demo + 2],
        "fresh ids right after the demo's"
    );
    assert_eq!(app.len() as u64, demo + 2, "no entry was overwritten");
    for (id, title) in ids.iter().zip(["Fresh One", "Fresh Two"]) {
        assert_eq!(app.entry(*id).expect("entry").title, title);
    }
    assert_eq!(app.entry(1).expect("#1").title, "メタリックルージュ");
}

#[test]
fn a_valid_record_beside_hostile_ones_is_imported() {
    let app = demo_app();
    let mut entries: Vec<Value> = hostile().into_iter().map(|(v, _)| v).collect();
    entries.push(
        json!({"id": 500, "title": "A Fine Entry", "genres": ["Drama"],
                        "picture": "https://img.example/fine.jpg"}),
    );
    let summary = app
        .import(Format::Rouge, &rouge_file(entries), "test", |_, _| {})
        .expect("the file is read");
    assert_eq!((summary.added, summary.skipped.len()), (1, 8), "{summary}");
    assert_eq!(app.entry(500).expect("kept id").title, "A Fine Entry");
}
