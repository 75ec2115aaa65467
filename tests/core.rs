//! The core through its public API: a temporary store, a manual clock, chat
//! lines in, replies out.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use rouge::app::{App, Settings};
use rouge::core::caller::{Caller, Platform};
use rouge::core::clock::ManualClock;
use rouge::core::reply::{Card, ErrorKind, Reply};
use rouge::import::Format;
use rouge::store::Store;

fn clock() -> ManualClock {
    ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
            .single()
            .expect("valid time"),
    )
}

fn demo_app() -> App {
    demo_app_and_store().0
}

/// The demo app and its store, for tests that look into the store itself.
fn demo_app_and_store() -> (App, Store) {
    let settings = Settings {
        owners: vec!["telegram:1".into()],
        ..Settings::default()
    };
    let store = Store::temporary().expect("temporary store");
    let app = App::open(store.clone(), settings, Arc::new(clock())).expect("app opens");
    (app, store)
}

fn user(platform: Platform, id: &str) -> Caller {
    Caller {
        platform,
        user_id: id.into(),
        chat_id: "chat".into(),
        is_chat_admin: false,
        is_group: true,
    }
}

fn card(reply: Reply) -> Card {
    match reply {
        Reply::Card(card) => *card,
        other => panic!("expected a card, got {other:?}"),
    }
}

fn error_kind(reply: &Reply) -> Option<ErrorKind> {
    match reply {
        Reply::Error(e) => Some(e.kind),
        _ => None,
    }
}

fn snapshot(app: &App) -> String {
    let mut out = Vec::new();
    rouge::import::rouge_json::write(&app.export_entries(), &mut out).expect("export");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn the_seed_entry_answers_with_its_exact_facts() {
    let app = demo_app();
    let owner = Caller::local_owner();
    let card = card(app.handle_line(&owner, "/anime metallic rouge"));
    assert_eq!(card.title, "Metallic Rouge");
    assert_eq!(card.kind.as_deref(), Some("TV"));
    assert_eq!(card.episodes, Some(13));
    assert_eq!(card.duration_min, Some(24));
    assert!(card.audio.iter().any(|a| a == "Tamil"));
    assert_eq!(card.qualities, ["480p", "720p", "1080p"]);
    assert_eq!(card.status.as_deref(), Some("Finished Airing"));
    let by_source: Vec<(String, f64)> = card
        .scores
        .sources
        .iter()
        .map(|s| (s.label.clone(), s.value))
        .collect();
    assert_eq!(
        by_source,
        [("IMDb".to_string(), 5.9), ("MyAnimeList".to_string(), 6.2)]
    );
    assert_eq!(
        card.scores.summary.map(|s| s.to_string()).as_deref(),
        Some("6.1")
    );
    assert_eq!(card.community.ratings, 0);
    let text = rouge::adapters::console::render(&Reply::Card(Box::new(card)));
    assert!(text.contains("be the first"), "{text}");
}

#[test]
fn look_ups_work_in_every_script_and_with_typos() {
    let app = demo_app();
    let owner = Caller::local_owner();
    for query in [
        "メタリックルージュ",
        "金属口红",
        "metalic rouge",
        "METALLIC ROUGE",
        "#1",
    ] {
        assert_eq!(
            card(app.handle_line(&owner, &format!("/anime {query}"))).id,
            1,
            "{query}"
        );
    }
}

#[test]
fn an_owners_edit_shows_in_the_next_look_up_and_the_audit_log() {
    let app = demo_app();
    let owner = user(Platform::Telegram, "1");
    let reply = app.handle_line(
        &owner,
        "/anime admin edit metallic rouge episodes=14 audio=Japanese/Tamil/Telugu",
    );
    assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
    let card = card(app.handle_line(&owner, "/anime metallic rouge"));
    assert_eq!(card.episodes, Some(14));
    assert!(card.audio.iter().any(|a| a == "Telugu"));

    let Reply::List(audit) = app.handle_line(&owner, "/anime admin audit metallic rouge") else {
        panic!("audit is a list")
    };
    assert_eq!(audit.items.len(), 1);
    assert!(
        audit.items[0].text.contains("telegram:1"),
        "{:?}",
        audit.items[0]
    );
    assert!(
        audit.items[0].detail.contains("episodes: 13 → 14"),
        "{:?}",
        audit.items[0]
    );
}

#[test]
fn a_non_owners_admin_command_is_refused_and_changes_nothing() {
    let app = demo_app();
    let before = snapshot(&app);
    for line in [
        "/anime admin edit metallic rouge episodes=99",
        "/anime admin delete #1",
        "/anime admin add Something New",
        "/anime admin episode #1 ep=13 audio=Tamil",
    ] {
        for caller in [
            user(Platform::Telegram, "2"),
            user(Platform::Discord, "1"),
            Caller::local("guest"),
        ] {
            let reply = app.handle_line(&caller, line);
            assert_eq!(
                error_kind(&reply),
                Some(ErrorKind::NotAllowed),
                "{line}: {reply:?}"
            );
        }
    }
    assert_eq!(snapshot(&app), before);
}

#[test]
fn ratings_replace_and_show_a_community_score_from_three() {
    let app = demo_app();
    let rate = |who: &str, n: u8| {
        app.handle_line(
            &user(Platform::Telegram, who),
            &format!("/anime rate metallic rouge {n}"),
        )
    };
    assert!(matches!(rate("10", 6), Reply::Done(_)));
    assert!(matches!(rate("10", 8), Reply::Done(_)));
    rate("11", 7);
    assert_eq!(
        card(app.handle_line(&Caller::local_owner(), "/anime #1"))
            .community
            .score,
        None
    );
    rate("12", 8);
    let card = card(app.handle_line(&Caller::local_owner(), "/anime #1"));
    assert_eq!(card.community.ratings, 3);
    // 8, 7, 8 → 7.67 → 7.7
    assert_eq!(
        card.community.score.map(|s| s.to_string()).as_deref(),
        Some("7.7")
    );
}

#[test]
fn hostile_and_malformed_input_gets_a_clear_reply_and_writes_nothing() {
    let app = demo_app();
    let owner = Caller::local_owner();
    let before = snapshot(&app);
    let huge = format!("/anime {}", "x".repeat(10_000));
    let long_title = format!("/anime {}", "ab".repeat(150));
    let lines = [
        "",
        "   ",
        "/anime",
        "/anime    ",
        huge.as_str(),
        long_title.as_str(),
        "/anime \u{0}\u{7}\u{1b}[31m",
        "/anime \u{200B}\u{200D}\u{FEFF}",
        "/anime \u{202E}egour cillatem",
        "/anime 🔥🔥🔥",
        "/anime rate metallic rouge 0",
        "/anime rate metallic rouge 11",
        "/anime rate metallic rouge -1",
        "/anime rate metallic rouge NaN",
        "/anime rate metallic rouge abc",
        "/anime admin edit metallic rouge colour=red",
        "/anime admin edit metallic rouge episodes=-3",
        "/anime admin edit #999999 episodes=3",
        "/anime #999999",
        "/anime #18446744073709551616",
        "/anime admin add Metallic Rouge",
        "/anime admin add メタリックルージュ kind=tv",
        "/anime admin edit #2 title=\"Metallic Rouge\"",
        "/anime admin episode #1 ep=0",
        "/anime admin episode #1 ep=100000",
        "/anime admin episode #1 ep=14",
        "/anime admin alias #1 remove=nothing-like-this",
        "/anime admin score #1 imdb=abc",
        "/anime admin frobnicate",
        "/anime admin",
        "/anime top 0",
        "/anime help nonsense",
        "/notacommand",
        "<script>alert(1)</script>",
    ];
    for line in lines {
        let reply = app.handle_line(&owner, line);
        let Reply::Error(err) = &reply else {
            panic!("{line:?} should be refused, got {reply:?}")
        };
        assert!(!err.message.is_empty());
        assert!(
            err.message.len() < 2000,
            "{line:?}: the reply should stay short"
        );
    }
    assert_eq!(
        snapshot(&app),
        before,
        "nothing may be written by refused input"
    );
    // Emoji and invisible characters around a real title still find it.
    assert_eq!(
        card(app.handle_line(&owner, "/anime 🔥 metallic\u{200B} rouge 🔥")).id,
        1
    );
}

#[test]
fn admin_add_alias_score_episode_and_delete() {
    let (app, store) = demo_app_and_store();
    let owner = Caller::local_owner();
    let Reply::Done(added) = app.handle_line(
        &owner,
        "/anime admin add \"Rouge Test\" kind=ova episodes=2 genres=Drama",
    ) else {
        panic!("added")
    };
    let id = added.id.expect("new id");
    assert!(matches!(
        app.handle_line(
            &owner,
            &format!("/anime admin alias #{id} add=\"Test of Rouge\" lang=en")
        ),
        Reply::Done(_)
    ));
    assert_eq!(card(app.handle_line(&owner, "/anime test of rouge")).id, id);
    assert!(matches!(
        app.handle_line(
            &owner,
            &format!("/anime admin score #{id} anilist=74 votes=1000")
        ),
        Reply::Done(_)
    ));
    let scores = card(app.handle_line(&owner, &format!("/anime #{id}"))).scores;
    assert_eq!(
        scores.summary.map(|s| s.to_string()).as_deref(),
        Some("7.4")
    );

    let reply = app.handle_line(&owner, "/anime admin episode metallic rouge ep=13 audio=Tamil qualities=480p/720p/1080p title=\"The End\"");
    assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
    let seed = card(app.handle_line(&owner, "/anime #1"));
    let release = &seed.latest_releases[0];
    assert_eq!(
        (release.number, release.audio.as_deref()),
        (13, Some("Tamil"))
    );
    assert_eq!(release.qualities, ["480p", "720p", "1080p"]);

    app.handle_line(
        &user(Platform::Telegram, "5"),
        &format!("/anime rate #{id} 9"),
    );
    assert!(matches!(
        app.handle_line(&owner, &format!("/anime admin delete #{id}")),
        Reply::Done(_)
    ));
    assert_eq!(
        error_kind(&app.handle_line(&owner, &format!("/anime #{id}"))),
        Some(ErrorKind::NotFound)
    );
    assert!(store.ratings(id).expect("ratings").is_empty());
    let Reply::List(audit) = app.handle_line(&owner, "/anime admin audit") else {
        panic!("audit")
    };
    let actions: Vec<&str> = audit
        .items
        .iter()
        .map(|i| i.text.rsplit(" · ").next().unwrap_or(""))
        .collect();
    assert_eq!(actions[..5], ["delete", "episode", "score", "alias", "add"]);
}

#[test]
fn unsure_look_ups_offer_a_picker() {
    let app = demo_app();
    let reply = app.handle_line(&Caller::local_owner(), "/anime scores the");
    match reply {
        Reply::Picker(p) => assert!(
            p.choices
                .iter()
                .all(|c| c.command.starts_with("/anime scores #"))
        ),
        Reply::Error(e) => assert_eq!(e.kind, ErrorKind::NotFound),
        other => panic!("a vague query should not guess: {other:?}"),
    }
}

#[test]
fn edits_survive_a_restart_and_the_schema_is_stamped() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let app = App::open(
            Store::open(dir.path()).expect("open"),
            Settings::default(),
            Arc::new(clock()),
        )
        .expect("app");
        app.handle_line(
            &Caller::local_owner(),
            "/anime admin edit #1 synopsis=\"Kept across restarts\"",
        );
    }
    let store =
        Store::open_waiting(dir.path(), std::time::Duration::from_secs(10)).expect("reopen");
    assert_eq!(
        store.schema_version().expect("version"),
        Some(rouge::store::migrate::CURRENT)
    );
    let app = App::open(store, Settings::default(), Arc::new(clock())).expect("app");
    let card = card(app.handle_line(&Caller::local_owner(), "/anime #1"));
    assert_eq!(card.synopsis.as_deref(), Some("Kept across restarts"));
    assert_eq!(app.len(), 16, "the demo catalog is seeded once, not again");
}

#[test]
fn a_second_process_gets_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = Store::open(dir.path()).expect("open");
    let err = Store::open(dir.path()).err().expect("second open fails");
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn export_then_import_round_trips_exactly() {
    let app = demo_app();
    let owner = Caller::local_owner();
    app.handle_line(
        &owner,
        "/anime admin edit #3 episodes=25 subtitles=English,French",
    );
    app.handle_line(
        &owner,
        "/anime admin episode #1 ep=12 audio=Tamil qualities=720p at=2024-03-27T17:00:00Z",
    );
    let exported = snapshot(&app);

    let fresh = App::open(
        Store::temporary().expect("store"),
        Settings {
            seed_demo: false,
            ..Settings::default()
        },
        Arc::new(clock()),
    )
    .expect("app");
    let summary = fresh
        .import(Format::Rouge, exported.as_bytes(), "test", |_, _| {})
        .expect("import");
    assert_eq!(
        (summary.added, summary.updated, summary.skipped.len()),
        (16, 0, 0)
    );
    assert_eq!(snapshot(&fresh), exported);

    // Importing the same export again matches every entry and changes nothing.
    let again = fresh
        .import(Format::Rouge, exported.as_bytes(), "test", |_, _| {})
        .expect("import");
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 16));
    assert_eq!(snapshot(&fresh), exported);
}

#[test]
fn a_malformed_file_leaves_the_store_unchanged() {
    let app = demo_app();
    let before = snapshot(&app);
    for bytes in [
        &b"not json"[..],
        b"{}",
        b"[1,2,3]",
        b"{\"format\":\"other\",\"version\":1,\"entries\":[]}",
        b"",
    ] {
        assert!(app.import(Format::Rouge, bytes, "test", |_, _| {}).is_err());
        assert!(
            app.import(Format::BangumiData, bytes, "test", |_, _| {})
                .is_err()
        );
    }
    assert_eq!(snapshot(&app), before);
}

#[test]
fn malformed_records_are_skipped_with_their_position() {
    let app = demo_app();
    let file = r#"{"format":"rouge-catalog","version":1,"entries":[
        {"id": 500, "title": "Good One"},
        {"id": "x", "title": 5},
        {"id": 501, "title": "!!!"}
    ]}"#;
    let summary = app
        .import(Format::Rouge, file.as_bytes(), "test", |_, _| {})
        .expect("import");
    assert_eq!(summary.added, 1);
    let positions: Vec<&str> = summary
        .skipped
        .iter()
        .map(|s| s.position.as_str())
        .collect();
    assert_eq!(positions, ["entries[1]", "entries[2]"]);
}

#[test]
fn reimport_never_overwrites_an_admin_edit() {
    let app = demo_app();
    let owner = Caller::local_owner();
    app.handle_line(&owner, "/anime admin edit #1 episodes=12 kind=ona");
    let mut export = Vec::new();
    let mut entries = app.export_entries();
    // Pretend a source says otherwise about every field.
    entries[0].episodes = Some(13);
    entries[0].kind = Some(rouge::core::catalog::model::Kind::Tv);
    entries[0].locked.clear();
    entries[0].duration_min = Some(25);
    rouge::import::rouge_json::write(&entries, &mut export).expect("write");
    app.import(Format::Rouge, &export, "test", |_, _| {})
        .expect("import");
    let card = card(app.handle_line(&owner, "/anime #1"));
    assert_eq!(card.episodes, Some(12), "admin edit kept");
    assert_eq!(card.kind.as_deref(), Some("ONA"), "admin edit kept");
    assert_eq!(card.duration_min, Some(25), "unlocked field updated");
    assert_eq!(app.len(), 16, "matched, not duplicated");
}

/// A setting no announcement could match is refused, naming what can.
#[test]
fn settings_that_cannot_match_are_refused() {
    let app = demo_app();
    let admin = Caller {
        is_chat_admin: true,
        ..user(Platform::Telegram, "9")
    };
    for line in [
        "/anime settings audio \"\"",
        "/anime settings audio klingon",
        "/anime settings stream zzz",
    ] {
        let reply = app.handle_line(&admin, line);
        assert_eq!(
            error_kind(&reply),
            Some(ErrorKind::BadInput),
            "{line}: {reply:?}"
        );
    }
    let Reply::Error(err) = app.handle_line(&admin, "/anime settings stream zzz") else {
        panic!("an error")
    };
    assert!(
        err.message.contains("tv") && err.message.contains("crunchyroll"),
        "{}",
        err.message
    );
    for line in [
        "/anime settings audio Tamil",
        "/anime settings stream crunchyroll",
        "/anime settings stream none",
        "/anime settings audio any",
    ] {
        let reply = app.handle_line(&admin, line);
        assert!(matches!(reply, Reply::Done(_)), "{line}: {reply:?}");
    }
}

/// Owners cannot make two entries alike or an entry impossible: an alias
/// that is another entry's title, an external id another entry has, an
/// end before the beginning, an episode released in the future.
#[test]
fn owners_cannot_make_entries_collide_or_contradict_themselves() {
    let app = demo_app();
    let owner = user(Platform::Telegram, "1");
    let Reply::Card(frieren) = app.handle_line(&owner, "/anime frieren") else {
        panic!("a card")
    };
    let Reply::Card(rouge) = app.handle_line(&owner, "/anime metallic rouge") else {
        panic!("a card")
    };
    let refused = [
        format!("/anime admin alias #{} add=\"{}\"", rouge.id, frieren.title),
        format!("/anime admin edit #{} id.mal=54794", frieren.id),
        format!(
            "/anime admin edit #{} aired=2030-01-01 ended=2020-01-01",
            rouge.id
        ),
        format!(
            "/anime admin episode #{} ep=5 at=2099-01-01T00:00:00Z",
            rouge.id
        ),
        format!(
            "/anime admin edit #{} picture=javascript:alert(1)",
            rouge.id
        ),
    ];
    for line in &refused {
        let reply = app.handle_line(&owner, line);
        assert_eq!(
            error_kind(&reply),
            Some(ErrorKind::BadInput),
            "{line}: {reply:?}"
        );
    }
    let Reply::Card(after) = app.handle_line(&owner, &format!("/anime #{}", rouge.id)) else {
        panic!("a card")
    };
    assert_eq!(after.aired_from, rouge.aired_from, "nothing was written");
}
