//! The demo catalog's air dates are the ones the bangumi-data importer
//! gives its works (dates in the work's own region: Japan for Japanese
//! items), so the seed card says aired 2024-01-11 before any import, and an
//! import of the real file does not move them (except the end of the
//! demo's ONE PIECE, which the demo keeps airing). Needs `../shared`; skips
//! with a note without it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rouge::core::catalog::demo::CATALOG;
use rouge::core::catalog::model::Status;
use rouge::import::{self, Format};

fn data() -> Option<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bangumi-data.json"
    );
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            eprintln!(
                "skipping: {path} cannot be read ({e}); the ../shared folder is not beside the repository"
            );
            None
        }
    }
}

type Dates = (Option<NaiveDate>, Option<NaiveDate>);

/// Two listings' dates as one: `pick` of both, else the one there is.
fn widen(
    a: Option<NaiveDate>,
    b: Option<NaiveDate>,
    pick: fn(NaiveDate, NaiveDate) -> NaiveDate,
) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

#[test]
fn demo_dates_are_the_importers() {
    let Some(bytes) = data() else { return };
    let file = import::parse(Format::BangumiData, &bytes).expect("bangumi-data parses");
    // Each bangumi subject's work as the importer makes it: its listings
    // (records with one listing key) span the earliest start and latest end.
    let mut works: BTreeMap<String, BTreeMap<String, Dates>> = BTreeMap::new();
    for record in &file.records {
        let Some(subject) = record.entry.external_ids.get("bangumi") else {
            continue;
        };
        let key = record.listing.clone().unwrap_or_default();
        let dates = works
            .entry(subject.clone())
            .or_default()
            .entry(key)
            .or_insert((record.entry.aired_from, record.entry.aired_to));
        dates.0 = widen(dates.0, record.entry.aired_from, std::cmp::min);
        dates.1 = widen(dates.1, record.entry.aired_to, std::cmp::max);
    }
    let demo = import::parse(Format::Rouge, CATALOG.as_bytes()).expect("the demo parses");
    let mut wrong = Vec::new();
    for record in &demo.records {
        let entry = &record.entry;
        let subject = &entry.external_ids["bangumi"];
        let listings = &works[subject];
        assert_eq!(listings.len(), 1, "#{}: one work per subject", entry.id);
        let Some(&(from, to)) = listings.values().next() else {
            continue;
        };
        // The demo's ONE PIECE is the show still airing (its status and the
        // 2026 broadcast rule say so), while the file's item 975 ends where
        // the エルバフ編 item takes over: the demo keeps no end for it.
        let ongoing = entry.status == Some(Status::Airing) && entry.aired_to.is_none();
        let expected = (from, if ongoing { None } else { to });
        if (entry.aired_from, entry.aired_to) != expected {
            wrong.push(format!(
                "#{} {}: {:?} in the demo, {:?} by the importer",
                entry.id,
                entry.title,
                (entry.aired_from, entry.aired_to),
                expected
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_seed_entry_aired_on_the_day_it_premiered_in_tokyo() {
    let demo = import::parse(Format::Rouge, CATALOG.as_bytes()).expect("the demo parses");
    let rouge = &demo.records[0].entry;
    assert_eq!(rouge.title, "メタリックルージュ");
    // Its broadcast begins 2024-01-10T16:25Z: 01:25 on the 11th in Tokyo.
    assert_eq!(rouge.aired_from, NaiveDate::from_ymd_opt(2024, 1, 11));
}

#[test]
fn the_seed_card_says_aired_2024_01_11_without_any_import() {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use rouge::app::{App, Settings};
    use rouge::core::caller::Caller;
    use rouge::core::clock::ManualClock;
    use rouge::core::reply::Reply;
    use rouge::store::Store;

    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    );
    let app = App::open(
        Store::temporary().expect("store"),
        Settings::default(),
        Arc::new(clock),
    )
    .expect("app opens");
    let Reply::Card(card) = app.handle_line(&Caller::local_owner(), "/anime metallic rouge") else {
        panic!("a card")
    };
    assert_eq!(
        (card.aired_from, card.aired_to),
        (
            NaiveDate::from_ymd_opt(2024, 1, 11),
            NaiveDate::from_ymd_opt(2024, 4, 4)
        )
    );
}
