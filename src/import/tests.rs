//! The plan's rules on small catalogs: matching, listings, splits, locked
//! fields and the summary.

use chrono::NaiveDate;

use super::*;
use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Broadcast, Field, Kind, Link};

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn entry(id: EntryId, title: &str, ids: &[(&str, &str)], aired: Option<NaiveDate>) -> Entry {
    let mut entry = Entry::new(id, title);
    entry.external_ids = ids
        .iter()
        .map(|(s, i)| (s.to_string(), i.to_string()))
        .collect();
    entry.aired_from = aired;
    entry.kind = Some(Kind::Tv);
    entry
}

fn record(title: &str, ids: &[(&str, &str)], aired: Option<NaiveDate>) -> Incoming {
    Incoming {
        entry: entry(0, title, ids, aired),
        title_lang: TitleLang::Ja,
        listing: None,
        position: format!("items[{title}]"),
    }
}

fn parsed(records: Vec<Incoming>) -> Parsed {
    Parsed {
        records,
        ..Parsed::default()
    }
}

fn counts(plan: &Plan) -> (usize, usize, usize, usize, usize) {
    let s = &plan.summary;
    (s.added, s.merged, s.updated, s.unchanged, s.skipped.len())
}

/// The plan's entries with ids given as the app would, for a second import.
fn stored(plan: Plan, first_id: EntryId) -> Catalog {
    let mut next = first_id;
    Catalog::build(
        plan.put
            .into_iter()
            .map(|mut e| {
                if e.id == 0 {
                    e.id = next;
                    next += 1;
                }
                e
            })
            .collect(),
    )
}

fn bangumi(items: &str) -> Parsed {
    let file = format!(
        r#"{{"siteMeta": {{"bangumi": {{"title": "番组计划", "urlTemplate": "https://bangumi.tv/subject/{{{{id}}}}", "type": "info"}},
            "mal": {{"title": "MyAnimeList", "urlTemplate": "https://myanimelist.net/anime/{{{{id}}}}", "type": "info"}}}},
          "items": [{items}]}}"#
    );
    match bangumi_data::parse(file.as_bytes()) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{e}"),
    }
}

/// Real items (bangumi-data, CC BY 4.0), trimmed: two works behind one
/// franchise MAL id, and a Chinese and a Japanese listing of one work.
const SIBLINGS: &str = r#"
    {"title": "ONE PIECE", "type": "tv", "lang": "ja", "begin": "1999-10-20T10:00:00.000Z", "end": "",
     "broadcast": "R/1999-10-20T10:00:00.000Z/P7D",
     "sites": [{"site": "bangumi", "id": "975"}, {"site": "mal", "id": "21"}]},
    {"title": "一人之下 the outcast", "type": "web", "lang": "ja", "begin": "2016-07-02T12:00:00.000Z", "end": "2016-09-24T12:00:00.000Z",
     "sites": [{"site": "bangumi", "id": "175457"}]},
    {"title": "一人之下", "type": "web", "lang": "zh-Hans", "begin": "2016-07-02T12:00:00.000Z", "end": "2016-10-01T12:00:00.000Z",
     "sites": [{"site": "bangumi", "id": "175457"}]},
    {"title": "ONE PIECE エルバフ編", "titleTranslate": {"zh-Hans": ["海贼王 艾尔巴夫篇"]}, "type": "tv", "lang": "ja",
     "begin": "2026-04-05T14:15:00.000Z", "end": "", "broadcast": "R/2026-04-05T14:15:00.000Z/P7D",
     "sites": [{"site": "bangumi", "id": "602059"}, {"site": "mal", "id": "21"}]}
"#;

#[test]
fn external_ids_match_and_locked_fields_stay() {
    let mut stored = entry(7, "Metallic Rouge", &[("mal", "54794")], None);
    stored.episodes = Some(12);
    stored.locked.insert(Field::Episodes);
    let catalog = Catalog::build(vec![stored]);

    let mut incoming = record(
        "メタリックルージュ",
        &[("mal", "54794"), ("anidb", "17926")],
        None,
    );
    incoming.entry.episodes = Some(13);
    incoming.entry.duration_min = Some(24);
    let plan = plan(&catalog, parsed(vec![incoming]));
    assert_eq!(counts(&plan), (0, 0, 1, 0, 0));
    let merged = &plan.put[0];
    assert_eq!(merged.id, 7);
    assert_eq!(merged.title, "Metallic Rouge", "the main title is kept");
    assert_eq!(merged.title_in(TitleLang::Ja), Some("メタリックルージュ"));
    assert_eq!(merged.episodes, Some(12), "locked by an admin");
    assert_eq!(merged.duration_min, Some(24));
    assert_eq!(
        merged.external_ids.get("anidb").map(String::as_str),
        Some("17926")
    );
}

#[test]
fn without_a_shared_source_only_title_kind_and_date_match() {
    let catalog = Catalog::build(vec![entry(3, "鬼太郎", &[("mal", "1")], date(1968, 1, 3))]);
    let plan = plan(
        &catalog,
        parsed(vec![
            record("鬼太郎", &[], date(1968, 1, 3)),
            record("鬼太郎", &[], date(2018, 4, 1)),
            record("鬼太郎", &[], date(2018, 4, 1)),
            // The same title and date, but another work on the id both carry.
            record("鬼太郎", &[("mal", "9")], date(1968, 1, 3)),
        ]),
    );
    assert_eq!(
        counts(&plan),
        (3, 0, 0, 1, 0),
        "a shared title never merges two records of one file"
    );
}

#[test]
fn duplicate_listings_are_one_work_and_a_franchise_id_is_not() {
    let plan = plan(&Catalog::default(), bangumi(SIBLINGS));
    assert_eq!(counts(&plan), (3, 1, 0, 0, 0));
    let titles: Vec<&str> = plan.put.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        ["ONE PIECE", "一人之下 the outcast", "ONE PIECE エルバフ編"]
    );
    let outcast = &plan.put[1];
    assert_eq!(outcast.title_in(TitleLang::ZhHans), Some("一人之下"));
    assert_eq!(
        (outcast.aired_from, outcast.aired_to),
        (date(2016, 7, 2), date(2016, 10, 1)),
        "listings of one work span both"
    );
    let one_piece = &plan.put[0];
    assert!(one_piece.all_titles().all(|(t, _)| !t.contains("エルバフ")));
    assert_eq!(one_piece.aired_from, date(1999, 10, 20));
    assert_eq!(plan.put[2].aired_from, date(2026, 4, 5));
    assert!(
        plan.summary.to_string().starts_with(
            "3 added, 1 merged as duplicate listings, 0 updated, 0 unchanged, 0 skipped"
        )
    );
}

#[test]
fn reimporting_an_unchanged_file_changes_nothing() {
    let first = plan(&Catalog::default(), bangumi(SIBLINGS));
    let catalog = stored(first, 1);
    let again = plan(&catalog, bangumi(SIBLINGS));
    assert_eq!(counts(&again), (0, 1, 0, 3, 0));
    assert!(again.put.is_empty() && again.splits.is_empty());
}

#[test]
fn across_files_the_most_specific_shared_source_decides() {
    let catalog = Catalog::build(vec![
        entry(
            1,
            "ONE PIECE",
            &[("bangumi", "975"), ("mal", "21"), ("anilist", "21")],
            date(1999, 10, 20),
        ),
        entry(
            2,
            "ONE PIECE エルバフ編",
            &[("bangumi", "602059"), ("mal", "21"), ("anilist", "21")],
            date(2026, 4, 5),
        ),
        entry(
            3,
            "ONE PIECE FILM",
            &[("mal", "21"), ("anilist", "999")],
            date(2000, 3, 4),
        ),
    ]);
    // Offline-db style: no bangumi id; AniList decides, the season breaks the tie.
    let mut one_piece = record(
        "One Piece",
        &[("mal", "21"), ("anilist", "21"), ("kitsu", "12")],
        None,
    );
    one_piece.entry.season = Some(crate::core::catalog::model::Season::of_date(
        NaiveDate::from_ymd_opt(1999, 10, 1).unwrap_or_default(),
    ));
    // Shares MyAnimeList 21 with all three, but AniList tells it apart from #1 and #2.
    let film = record(
        "One Piece Movie 1",
        &[("mal", "21"), ("anilist", "999")],
        None,
    );
    let plan = plan(&catalog, parsed(vec![one_piece, film]));
    assert_eq!(counts(&plan), (0, 0, 2, 0, 0), "{:?}", plan.summary.skipped);
    let ids: Vec<EntryId> = plan.put.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 3]);
    assert_eq!(
        plan.put[0].external_ids.get("kitsu").map(String::as_str),
        Some("12")
    );
}

#[test]
fn an_entry_with_the_records_bangumi_id_is_its_work() {
    let catalog = Catalog::build(vec![
        entry(
            1,
            "ONE PIECE",
            &[("bangumi", "975"), ("mal", "21")],
            date(1999, 10, 20),
        ),
        entry(2, "One Piece", &[("mal", "21")], date(1999, 10, 20)),
    ]);
    let plan = plan(&catalog, bangumi(SIBLINGS));
    // ONE PIECE is #1 (bangumi 975), not #2 (MyAnimeList only). エルバフ編
    // is told apart from #1 by bangumi, and from #2 (a duplicate of ONE
    // PIECE) by starting 27 years later under another title.
    assert_eq!(counts(&plan), (2, 1, 1, 0, 0), "{:?}", plan.summary.skipped);
    assert_eq!(plan.put[0].id, 1);
    assert!(plan.put.iter().all(|e| e.id != 2));
    assert!(
        plan.put
            .iter()
            .any(|e| e.id == 0 && e.title == "ONE PIECE エルバフ編")
    );
}

#[test]
fn candidates_that_cannot_be_told_apart_are_reported() {
    let catalog = Catalog::build(vec![
        entry(12, "ONE PIECE", &[("mal", "21")], None),
        entry(13, "ONE PIECE エルバフ編", &[("mal", "21")], None),
    ]);
    let plan = plan(
        &catalog,
        parsed(vec![record(
            "Wan Pīsu",
            &[("mal", "21"), ("anilist", "21")],
            None,
        )]),
    );
    assert_eq!(counts(&plan), (0, 0, 0, 0, 1));
    assert!(plan.put.is_empty(), "neither entry is touched");
    let reason = &plan.summary.skipped[0].reason;
    assert!(
        reason.contains("#12 \"ONE PIECE\" and #13 \"ONE PIECE エルバフ編\"")
            && reason.contains("mal 21")
            && reason.contains("/anime admin edit #12 id.anilist=21"),
        "{reason}"
    );
    assert_eq!(plan.summary.skipped[0].position, "items[Wan Pīsu]");
}

#[test]
fn two_records_of_a_file_never_silently_share_an_entry() {
    let catalog = Catalog::build(vec![entry(5, "Shingeki", &[("mal", "51535")], None)]);
    let plan = plan(
        &catalog,
        parsed(vec![
            record("Kanketsu-hen Part 2", &[("mal", "51535")], None),
            record("Shingeki", &[("mal", "51535")], None),
        ]),
    );
    // The second record's title fits #5 better, so it takes #5 although it comes later.
    assert_eq!(counts(&plan), (0, 0, 0, 1, 1));
    assert_eq!(
        plan.summary.skipped[0].position,
        "items[Kanketsu-hen Part 2]"
    );
    assert!(
        plan.summary.skipped[0]
            .reason
            .contains("which items[Shingeki] \"Shingeki\""),
        "{}",
        plan.summary.skipped[0].reason
    );
}

#[test]
fn our_own_export_keeps_ids_and_matches_by_id_and_title() {
    let catalog = Catalog::build(vec![
        entry(15, "ONE PIECE", &[("mal", "21")], date(1999, 10, 20)),
        entry(
            16,
            "ONE PIECE エルバフ編",
            &[("mal", "21")],
            date(2026, 4, 5),
        ),
    ]);
    let export = |id, title: &str, aired| Incoming {
        entry: entry(id, title, &[("mal", "21")], aired),
        title_lang: TitleLang::Main,
        listing: None,
        position: format!("entries[{id}]"),
    };
    let rules = Rules {
        keep_ids: true,
        split_absorbed: false,
    };
    let again = plan(
        &catalog,
        Parsed {
            records: vec![
                export(16, "ONE PIECE エルバフ編", date(2026, 4, 5)),
                export(15, "ONE PIECE", date(1999, 10, 20)),
            ],
            rules,
            ..Parsed::default()
        },
    );
    assert_eq!(counts(&again), (0, 0, 0, 2, 0));
    let fresh = plan(
        &Catalog::default(),
        Parsed {
            records: vec![
                export(16, "ONE PIECE エルバフ編", None),
                export(15, "ONE PIECE", None),
            ],
            rules,
            ..Parsed::default()
        },
    );
    let ids: Vec<EntryId> = fresh.put.iter().map(|e| e.id).collect();
    assert_eq!(ids, [16, 15], "two entries, ids kept");
}

/// ONE PIECE as an earlier version stored it after merging エルバフ編 into
/// it by their shared MyAnimeList id.
fn absorbed_one_piece() -> Entry {
    let mut old = entry(
        7,
        "ONE PIECE",
        &[("bangumi", "975"), ("mal", "21")],
        date(1999, 10, 20),
    );
    old.add_alt_title("ONE PIECE エルバフ編", TitleLang::Ja);
    old.add_alt_title("海贼王 艾尔巴夫篇", TitleLang::ZhHans);
    old.add_alt_title("One Piece (admin alias)", TitleLang::Synonym);
    for id in ["975", "602059"] {
        old.links.push(Link {
            label: "番组计划".into(),
            url: format!("https://bangumi.tv/subject/{id}"),
        });
    }
    old.links.push(Link {
        label: "MyAnimeList".into(),
        url: "https://myanimelist.net/anime/21".into(),
    });
    old.broadcasts.push(Broadcast {
        platform: "tv".into(),
        rule: "R/2026-04-05T14:15:00.000Z/P7D".into(),
        ends: None,
    });
    old.episodes = Some(1150);
    old.locked.insert(Field::Episodes);
    old
}

#[test]
fn an_entry_that_absorbed_another_work_is_split() {
    let catalog = Catalog::build(vec![absorbed_one_piece()]);
    let plan = plan(&catalog, bangumi(SIBLINGS));
    assert_eq!(plan.summary.split, 1);
    let [split] = plan.splits.as_slice() else {
        panic!("{:?}", plan.splits)
    };
    assert_eq!(
        (split.from, split.title.as_str()),
        (7, "ONE PIECE エルバフ編")
    );
    let new = &plan.put[split.put];
    assert_eq!((new.id, new.title.as_str()), (0, "ONE PIECE エルバフ編"));
    assert_eq!(
        new.external_ids.get("bangumi").map(String::as_str),
        Some("602059")
    );

    let Some(old) = plan.put.iter().find(|e| e.id == 7) else {
        panic!("#7 is updated")
    };
    assert_eq!(old.title, "ONE PIECE");
    let alts: Vec<&str> = old.alt_titles.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        alts,
        ["One Piece (admin alias)"],
        "only what came from エルバフ編 leaves"
    );
    let urls: Vec<&str> = old.links.iter().map(|l| l.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://bangumi.tv/subject/975",
            "https://myanimelist.net/anime/21"
        ]
    );
    let rules: Vec<&str> = old.broadcasts.iter().map(|b| b.rule.as_str()).collect();
    assert_eq!(rules, ["R/1999-10-20T10:00:00.000Z/P7D"]);
    assert_eq!(old.episodes, Some(1150), "the admin's edit stays");
    assert!(
        plan.summary.to_string().contains("1 split off"),
        "{}",
        plan.summary
    );

    // Once split, the next import changes nothing.
    let after = stored(plan, 100);
    let again = super::plan(&after, bangumi(SIBLINGS));
    assert_eq!(
        counts(&again),
        (0, 1, 0, 3, 0),
        "{:?}",
        again.summary.skipped
    );
}

#[test]
fn a_locked_field_stays_when_an_entry_is_split() {
    let mut old = absorbed_one_piece();
    old.locked.insert(Field::Links);
    let links = old.links.clone();
    let plan = plan(&Catalog::build(vec![old]), bangumi(SIBLINGS));
    assert_eq!(plan.summary.split, 1);
    let Some(old) = plan.put.iter().find(|e| e.id == 7) else {
        panic!("#7 is updated")
    };
    assert_eq!(old.links, links);
}

#[test]
fn the_summary_reads_well() {
    let summary = Summary {
        added: 8466,
        merged: 17,
        unchanged: 1_234_567,
        data_as_of: date(2026, 4, 29),
        ..Summary::default()
    };
    assert_eq!(
        summary.to_string(),
        "8,466 added, 17 merged as duplicate listings, 0 updated, 1,234,567 unchanged, 0 skipped; data as of 2026-04-29"
    );
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
}

#[test]
fn a_field_a_live_source_filled_stays_like_a_locked_one() {
    use crate::core::catalog::model::{Provenance, SourceScore};
    let fetched = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    let score = |source: &str, value: f64, as_of: Option<NaiveDate>| SourceScore {
        source: source.into(),
        value,
        scale_max: 10.0,
        votes: None,
        as_of,
    };
    let mut stored = entry(7, "Metallic Rouge", &[("mal", "54794")], date(2024, 1, 11));
    stored.synopsis = Some("AniList's synopsis.".into());
    stored.episodes = Some(13);
    for field in [Field::Synopsis, Field::Episodes] {
        stored.provenance.insert(
            field,
            Provenance {
                source: "anilist".into(),
                at: fetched,
            },
        );
    }
    stored.scores = vec![
        score("mal", 6.2, date(2026, 12, 1)),
        score("offline-db", 6.0, date(2024, 1, 1)),
    ];
    let catalog = Catalog::build(vec![stored]);

    let mut older = record("Metallic Rouge", &[("mal", "54794")], date(2024, 1, 11));
    older.entry.synopsis = Some("An old file's synopsis.".into());
    older.entry.episodes = Some(12);
    older.entry.duration_min = Some(24);
    older.entry.scores = vec![
        score("mal", 7.0, date(2025, 1, 1)),
        score("offline-db", 6.4, date(2025, 1, 1)),
    ];
    let plan = plan(&catalog, parsed(vec![older]));
    assert_eq!(counts(&plan), (0, 0, 1, 0, 0));
    let merged = &plan.put[0];
    assert_eq!(merged.synopsis.as_deref(), Some("AniList's synopsis."));
    assert_eq!(merged.episodes, Some(13), "the source's value stays");
    assert_eq!(
        merged.duration_min,
        Some(24),
        "a field no source filled is taken"
    );
    let scores: Vec<(&str, f64)> = merged
        .scores
        .iter()
        .map(|s| (s.source.as_str(), s.value))
        .collect();
    assert_eq!(
        scores,
        [("mal", 6.2), ("offline-db", 6.4)],
        "a fresher score stays, an older one is replaced"
    );
}

#[test]
fn a_merge_that_would_fail_the_check_leaves_the_entry_as_it_was() {
    let mut stored = entry(7, "Show", &[("mal", "1")], date(2020, 1, 1));
    stored.aired_to = date(2021, 1, 1);
    let catalog = Catalog::build(vec![stored]);
    // Begins after the stored end and gives no end of its own.
    let plan = plan(
        &catalog,
        parsed(vec![record("Show", &[("mal", "1")], date(2022, 4, 1))]),
    );
    assert_eq!(counts(&plan), (0, 0, 0, 0, 1));
    assert!(plan.put.is_empty());
    let skipped = &plan.summary.skipped[0];
    assert_eq!(skipped.position, "items[Show]");
    assert!(
        skipped
            .reason
            .contains("it cannot end (2021-01-01) before it begins (2022-04-01)")
            && skipped.reason.contains("#7 is left as it was"),
        "{}",
        skipped.reason
    );
}

#[test]
fn a_record_that_fails_the_check_is_skipped_before_planning() {
    let mut bad = record("Bad", &[], None);
    bad.entry.picture = Some("javascript:alert(1)".into());
    let mut far = record("Far", &[], None);
    far.entry.id = crate::core::catalog::model::MAX_ENTRY_ID + 1;
    let plan = plan(
        &Catalog::default(),
        parsed(vec![bad, far, record("Good", &[], None)]),
    );
    assert_eq!(counts(&plan), (1, 0, 0, 0, 2));
    let reasons: Vec<&str> = plan
        .summary
        .skipped
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert!(reasons[0].starts_with("the picture is not an http(s) URL"));
    assert!(reasons[1].contains("outside the ids entries can have"));
}

#[test]
fn formats_by_name() {
    for format in Format::ALL {
        assert_eq!(format.to_string().parse::<Format>(), Ok(format));
    }
    assert_eq!(
        "imdb".parse::<Format>(),
        Err(
            "unknown format \"imdb\" (bangumi-data, offline-db, rouge, imdb-ratings or anime-lists)"
                .to_owned()
        )
    );
}
