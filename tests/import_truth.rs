//! The import tells the truth on the real bangumi-data file (0.3.208, CC BY
//! 4.0, credit "bangumi-data"): one entry per work, duplicate listings folded
//! and counted, a re-import that changes nothing, air dates in the work's own
//! zone, the file's data horizon, and stores written by the previous version
//! (which merged every record sharing any id) split back with an audit line.
//!
//! Skips (and says why) when `../shared` is absent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use rouge::app::{App, Settings};
use rouge::core::caller::{Caller, Platform};
use rouge::core::catalog::model::Entry;
use rouge::core::clock::ManualClock;
use rouge::core::reply::Reply;
use rouge::import::{self, Format, Summary};
use rouge::store::Store;

/// Works that bangumi-data points at one franchise-level MyAnimeList, AniDB
/// or AniList id, and that the previous version merged into one entry.
const SIBLINGS: &[&[&str]] = &[
    &["ONE PIECE", "ONE PIECE エルバフ編"],
    &[
        "進撃の巨人 The Final Season 完結編 前編",
        "進撃の巨人 The Final Season 完結編 後編",
    ],
    &[
        "ヤマトよ永遠に REBEL3199 第一章 黒の侵略",
        "ヤマトよ永遠に REBEL3199 第二章 赤日の出撃",
        "ヤマトよ永遠に REBEL3199 第三章 群青のアステロイド",
        "ヤマトよ永遠に REBEL3199 第四章 水色の乙女",
    ],
    &[
        "劇場版総集編 ガールズバンドクライ 青春狂走曲",
        "劇場版総集編 ガールズバンドクライ なぁ、未来。",
    ],
    &[
        "ガールズ&パンツァー もっとらぶらぶ作戦です! 第1幕",
        "ガールズ＆パンツァー もっとらぶらぶ作戦です！ 第2幕",
    ],
    &[
        "“文学少女”メモワールI-夢見る少女の前奏曲（プレリュード）-",
        "“文学少女”メモワールII-ソラ舞う天使の鎮魂曲（レクイエム）-",
        "“文学少女”メモワールIII-恋する乙女の狂想曲（ラプソディ）-",
    ],
    &[
        "Re:ゼロから始める異世界生活 3rd season 襲撃編",
        "Re:ゼロから始める異世界生活 3rd season",
    ],
    &["岸辺露伴は動かない「六壁坂」", "岸辺露伴は動かない OVA"],
    // One bangumi subject with two starts: a special and the TV series.
    &["Fate/strange Fake", "Fate/strange Fake(TVシリーズ)"],
];

/// Records in 0.3.208 that list another record's work again (the same
/// subject and start: a Chinese and a Japanese listing).
const DUPLICATE_LISTINGS: usize = 10;

fn data() -> Option<Vec<u8>> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bangumi-data.json"
    ));
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            eprintln!(
                "skipping: {} cannot be read ({e}; the ../shared folder is not beside the repository)",
                path.display()
            );
            None
        }
    }
}

fn empty_app(store: Store) -> App {
    let settings = Settings {
        seed_demo: false,
        owners: vec!["telegram:1".into()],
        ..Settings::default()
    };
    // The clock the issue measured with.
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    );
    App::open(store, settings, Arc::new(clock)).expect("app opens")
}

fn import(app: &App, format: Format, bytes: &[u8]) -> Summary {
    app.import(format, bytes, "test", |_, _| {})
        .expect("the file imports")
}

/// The entry an exact title finds first.
fn first_hit(app: &App, title: &str) -> (u64, String) {
    let hits = app.search(title, 5);
    let Some(first) = hits.first() else {
        panic!("{title:?} finds nothing")
    };
    (first.id, first.title.clone())
}

/// Each sibling is an entry of its own that its exact title finds first.
/// One exception is a title two entries both carry ("Fate/strange Fake" is
/// also the TV series' English title): the bot offers a picker for those,
/// so the work's own entry must be among the hits instead.
fn check_siblings(app: &App) {
    for group in SIBLINGS {
        let mut ids = Vec::new();
        for &title in *group {
            let hits = app.search(title, 5);
            let own = hits.iter().find(|h| h.title == title);
            let Some(own) = own else {
                panic!("{title:?} does not find its own entry: {hits:?}")
            };
            let first = &hits[0];
            let shared = app
                .entry(first.id)
                .is_some_and(|e| e.all_titles().any(|(t, _)| t == title));
            assert!(
                first.id == own.id || shared,
                "{title:?} finds #{} {:?} first",
                first.id,
                first.title
            );
            if first.id != own.id {
                eprintln!(
                    "{title:?} is also a title of #{} {:?}",
                    first.id, first.title
                );
            }
            ids.push(own.id);
        }
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "{group:?} share entries: {ids:?}"
        );
    }
}

fn aired_from(app: &App, title: &str) -> Option<NaiveDate> {
    let (id, _) = first_hit(app, title);
    app.entry(id).and_then(|e| e.aired_from)
}

#[test]
fn the_real_file_imports_one_entry_per_work_and_reimports_as_a_no_op() {
    let Some(bytes) = data() else { return };
    let app = empty_app(Store::temporary().expect("store"));
    let first = import(&app, Format::BangumiData, &bytes);
    eprintln!("first import: {first}");
    for skipped in &first.skipped {
        eprintln!("  skipped {}: {}", skipped.position, skipped.reason);
    }
    assert_eq!(
        first.merged, DUPLICATE_LISTINGS,
        "only duplicate listings merge"
    );
    assert!(first.skipped.is_empty());
    assert_eq!(first.added + first.merged, 8483);
    assert_eq!(app.len(), first.added);
    assert_eq!(first.data_as_of, NaiveDate::from_ymd_opt(2026, 4, 29));

    check_siblings(&app);
    // A Chinese and a Japanese listing of one work are one entry.
    assert_eq!(
        first_hit(&app, "一人之下").0,
        first_hit(&app, "一人之下 the outcast").0
    );

    // Metallic Rouge begins 2024-01-10T16:25Z: 01:25 on the 11th in Tokyo.
    assert_eq!(
        aired_from(&app, "メタリックルージュ"),
        NaiveDate::from_ymd_opt(2024, 1, 11)
    );
    let owner = Caller::local_owner();
    let Reply::Card(card) = app.handle_line(&owner, "/anime メタリックルージュ") else {
        panic!("a card")
    };
    assert_eq!(card.aired_from, NaiveDate::from_ymd_opt(2024, 1, 11));

    let again = import(&app, Format::BangumiData, &bytes);
    eprintln!("re-import: {again}");
    for skipped in &again.skipped {
        eprintln!("  skipped {}: {}", skipped.position, skipped.reason);
    }
    assert_eq!(
        (again.added, again.updated, again.skipped.len(), again.split),
        (0, 0, 0, 0)
    );
    assert_eq!(again.unchanged, first.added);
}

/// The previous version's import, kept here to build the stores it wrote:
/// records of one file merged when they shared any external id or the same
/// main title, kind and first air date; air dates widened to span them.
mod previous_version {
    use std::collections::HashMap;

    use rouge::core::catalog::model::{Entry, Field, TitleLang};
    use rouge::core::catalog::text;
    use rouge::import::Incoming;

    pub fn import(records: Vec<Incoming>) -> Vec<Entry> {
        let mut put: Vec<Entry> = Vec::new();
        let mut by_external: HashMap<(String, String), usize> = HashMap::new();
        let mut by_title: HashMap<String, Vec<usize>> = HashMap::new();
        for incoming in records {
            let e = &incoming.entry;
            let found = e
                .external_ids
                .iter()
                .find_map(|(s, i)| by_external.get(&(s.clone(), i.clone())).copied())
                .or_else(|| {
                    by_title
                        .get(&text::fold(&e.title).key)?
                        .iter()
                        .copied()
                        .find(|&slot| {
                            put[slot].kind == e.kind && put[slot].aired_from == e.aired_from
                        })
                });
            let slot = match found {
                Some(slot) => {
                    merge(&mut put[slot], incoming);
                    slot
                }
                None => {
                    put.push(incoming.entry);
                    put.len() - 1
                }
            };
            for (source, id) in &put[slot].external_ids {
                by_external
                    .entry((source.clone(), id.clone()))
                    .or_insert(slot);
            }
            let slots = by_title
                .entry(text::fold(&put[slot].title).key)
                .or_default();
            if !slots.contains(&slot) {
                slots.push(slot);
            }
        }
        put
    }

    fn merge(entry: &mut Entry, incoming: Incoming) {
        let new = incoming.entry;
        if new.title != entry.title {
            let lang = match incoming.title_lang {
                TitleLang::Main => TitleLang::Synonym,
                lang => lang,
            };
            entry.add_alt_title(&new.title, lang);
        }
        for alt in &new.alt_titles {
            entry.add_alt_title(&alt.text, alt.lang);
        }
        if new.kind.is_some() && !entry.locked.contains(&Field::Kind) {
            entry.kind = new.kind;
        }
        entry.aired_from = match (entry.aired_from, new.aired_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => b.or(a),
        };
        entry.aired_to = match (entry.aired_to, new.aired_to) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => b.or(a),
        };
        for link in new.links {
            if !entry.links.iter().any(|l| l.url == link.url) {
                entry.links.push(link);
            }
        }
        for (source, id) in new.external_ids {
            entry.external_ids.entry(source).or_insert(id);
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
    }
}

/// The file's records as the previous version's parser read them: air dates
/// as UTC dates, and no TMDB ids.
fn previous_records(bytes: &[u8]) -> Vec<import::Incoming> {
    let raw: serde_json::Value = serde_json::from_slice(bytes).expect("JSON");
    let utc_date = |item: &serde_json::Value, field: &str| {
        let text = item[field].as_str()?;
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc).date_naive())
    };
    let mut records = import::parse(Format::BangumiData, bytes)
        .expect("parses")
        .records;
    for record in &mut records {
        let index: usize = record
            .position
            .trim_start_matches("items[")
            .trim_end_matches(']')
            .parse()
            .expect("items[<n>]");
        let item = &raw["items"][index];
        record.entry.aired_from = utc_date(item, "begin");
        record.entry.aired_to = utc_date(item, "end");
        record.entry.external_ids.remove("tmdb");
    }
    records
}

fn user(id: &str) -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: id.into(),
        chat_id: "chat".into(),
        is_chat_admin: true,
        is_group: true,
    }
}

#[test]
fn a_store_written_by_the_previous_version_is_split_back() {
    let Some(bytes) = data() else { return };
    let old: Vec<Entry> = previous_version::import(previous_records(&bytes))
        .into_iter()
        .zip(1..)
        .map(|(entry, id)| Entry { id, ..entry })
        .collect();
    let one_piece = old
        .iter()
        .find(|e| e.title == "ONE PIECE")
        .expect("ONE PIECE")
        .id;
    let absorbed_by_one_piece = old.iter().find(|e| e.id == one_piece).is_some_and(|e| {
        e.alt_titles
            .iter()
            .any(|a| a.text == "ONE PIECE エルバフ編")
    });
    assert!(
        absorbed_by_one_piece,
        "the previous rule merged ONE PIECE エルバフ編"
    );
    let old_count = old.len();

    // The previous version's store, through our own export format.
    let store = Store::temporary().expect("store");
    let app = empty_app(store.clone());
    let mut export = Vec::new();
    import::rouge_json::write(&old, &mut export).expect("export");
    import(&app, Format::Rouge, &export);
    assert_eq!(app.len(), old_count);
    // What users made under ONE PIECE's title.
    let owner = Caller::local_owner();
    for line in [
        format!("/anime rate #{one_piece} 9"),
        format!("/anime subscribe #{one_piece}"),
    ] {
        let reply = app.handle_line(&user("5"), &line);
        assert!(matches!(reply, Reply::Done(_)), "{line}: {reply:?}");
    }
    let edited = app.handle_line(
        &owner,
        &format!("/anime admin edit #{one_piece} episodes=1150"),
    );
    assert!(matches!(edited, Reply::Done(_)), "{edited:?}");

    let summary = import(&app, Format::BangumiData, &bytes);
    eprintln!("import onto the previous version's store ({old_count} entries): {summary}");
    for skipped in &summary.skipped {
        eprintln!("  skipped {}: {}", skipped.position, skipped.reason);
    }
    assert!(summary.skipped.is_empty());
    let expected_splits: usize = SIBLINGS.iter().map(|g| g.len() - 1).sum();
    assert_eq!(
        summary.split, expected_splits,
        "one split per absorbed work"
    );
    assert_eq!(app.len(), 8483 - DUPLICATE_LISTINGS);
    check_siblings(&app);

    // ONE PIECE keeps its id, its rating, its subscription and the admin's edit.
    assert_eq!(
        first_hit(&app, "ONE PIECE"),
        (one_piece, "ONE PIECE".to_owned())
    );
    assert_eq!(store.ratings(one_piece).expect("ratings"), [9]);
    assert_eq!(
        store.subscribers_of(one_piece).expect("subscribers").len(),
        1
    );
    let entry = app.entry(one_piece).expect("ONE PIECE");
    assert_eq!(entry.episodes, Some(1150));
    assert!(entry.all_titles().all(|(t, _)| !t.contains("エルバフ")));
    assert_eq!(entry.aired_from, NaiveDate::from_ymd_opt(1999, 10, 20));
    let (elbaf, _) = first_hit(&app, "ONE PIECE エルバフ編");
    assert!(store.ratings(elbaf).expect("ratings").is_empty());

    let Reply::List(audit) = app.handle_line(&owner, &format!("/anime admin audit #{one_piece}"))
    else {
        panic!("audit is a list")
    };
    let lines: Vec<String> = audit
        .items
        .iter()
        .map(|i| format!("{} · {}", i.text, i.detail))
        .collect();
    let wanted = format!(
        "split \"ONE PIECE エルバフ編\" off #{one_piece} into #{elbaf} (wrongly merged by an earlier import)"
    );
    assert!(lines.iter().any(|l| l.contains(&wanted)), "{lines:#?}");

    // Each split is one audit line, on the entry it came off.
    let mut audited: HashMap<u64, usize> = HashMap::new();
    for group in SIBLINGS {
        let first = app
            .search(group[0], 5)
            .into_iter()
            .find(|h| h.title == group[0])
            .map_or(0, |h| h.id);
        let Reply::List(audit) = app.handle_line(&owner, &format!("/anime admin audit #{first}"))
        else {
            panic!("audit is a list")
        };
        let splits = audit
            .items
            .iter()
            .filter(|i| i.detail.starts_with("split \"") || i.text.contains("split"))
            .count();
        audited.insert(first, splits);
    }
    eprintln!("split audit lines per entry: {audited:?}");
    assert_eq!(audited.values().sum::<usize>(), expected_splits);

    let again = import(&app, Format::BangumiData, &bytes);
    eprintln!("re-import after the split: {again}");
    assert_eq!(
        (again.added, again.updated, again.skipped.len(), again.split),
        (0, 0, 0, 0)
    );
}

#[test]
fn onto_the_demo_catalog_and_then_the_offline_database() {
    let Some(bytes) = data() else { return };
    let settings = Settings {
        owners: vec!["telegram:1".into()],
        ..Settings::default()
    };
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    );
    let app = App::open(
        Store::temporary().expect("store"),
        settings,
        Arc::new(clock),
    )
    .expect("app opens");
    let demo = app.len();
    let first = import(&app, Format::BangumiData, &bytes);
    eprintln!("onto the {demo} demo entries: {first}");
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    assert_eq!(
        (first.added + first.updated + first.unchanged, first.merged),
        (8483 - DUPLICATE_LISTINGS, DUPLICATE_LISTINGS)
    );
    assert_eq!(
        app.len(),
        8483 - DUPLICATE_LISTINGS,
        "every demo entry is a work of the file"
    );
    check_siblings(&app);
    let again = import(&app, Format::BangumiData, &bytes);
    eprintln!("re-import: {again}");
    assert_eq!((again.added, again.updated, again.skipped.len()), (0, 0, 0));

    // Across files: the offline database's records match on AniList, the
    // most specific id both carry.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/offline-db-sample.json"
    );
    let sample = std::fs::read(path).expect("fixture");
    let offline = import(&app, Format::OfflineDb, &sample);
    eprintln!("offline-db sample: {offline}");
    assert_eq!(
        (offline.added, offline.updated, offline.skipped.len()),
        (1, 3, 0),
        "three known works and one new: {:?}",
        offline.skipped
    );
    assert_eq!(
        offline.data_as_of, None,
        "the offline database has no schedules"
    );
    assert_eq!(app.len(), 8483 - DUPLICATE_LISTINGS + 1);
    for title in ["COWBOY BEBOP", "君の名は。"] {
        let (id, _) = first_hit(&app, title);
        let entry = app.entry(id).expect("entry");
        assert!(
            entry.scores.iter().any(|s| s.source == "offline-db"),
            "{title}"
        );
    }
    let rouge = app.entry(1).expect("#1");
    assert_eq!(rouge.title, "メタリックルージュ");
    assert!(rouge.scores.iter().any(|s| s.source == "offline-db"));
    assert_eq!(rouge.aired_from, NaiveDate::from_ymd_opt(2024, 1, 11));
}
