//! A storm of 429s from AniList while the app refreshes many entries, with
//! the real AniList client against the spec-checked mock on 127.0.0.1: the
//! client never sends while it is locked out, and once the storm has passed
//! every entry is refreshed.

#[path = "support/anilist_mock.rs"]
mod anilist_mock;

use std::sync::Arc;
use std::time::Duration;

use anilist_mock::{AniListConfig, AniListMock};
use rouge::app::{App, RefreshSettings, Settings, SyncTarget};
use rouge::core::caller::{Caller, Platform};
use rouge::core::catalog::model::{Entry, Kind};
use rouge::core::clock::SystemClock;
use rouge::core::reply::Reply;
use rouge::core::source::Source;
use rouge::import::Format;
use rouge::sources::{AniList, RateLimit, SourceSettings, http_client};
use rouge::store::Store;
use serde_json::json;

/// Subscribed entries: 12 requests of 50.
const ENTRIES: u64 = 600;

fn anilist_id(id: u64) -> u64 {
    600_000 + id
}

/// An app over a temporary store with `ENTRIES` imported entries carrying
/// AniList ids, each subscribed to by one of ten chats.
fn subscribed_app() -> App {
    let settings = Settings {
        seed_demo: false,
        ..Settings::default()
    };
    let app = App::open(
        Store::temporary().expect("a store"),
        settings,
        Arc::new(SystemClock),
    )
    .expect("the app opens");
    let entries: Vec<Entry> = (1..=ENTRIES)
        .map(|id| {
            let mut entry = Entry::new(id, format!("Storm Test {id}"));
            entry.kind = Some(Kind::Tv);
            entry
                .external_ids
                .insert("anilist".into(), anilist_id(id).to_string());
            entry
        })
        .collect();
    let mut file = Vec::new();
    rouge::import::rouge_json::write(&entries, &mut file).expect("a rouge file");
    app.import(Format::Rouge, &file, "test", |_, _| {})
        .expect("the catalog imports");
    for id in 1..=ENTRIES {
        let chat = (1_000 + id % 10).to_string();
        let admin = Caller {
            platform: Platform::Telegram,
            user_id: chat.clone(),
            chat_id: chat,
            is_chat_admin: true,
            is_group: false,
        };
        let reply = app.handle_line(&admin, &format!("/anime subscribe #{id}"));
        assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
    }
    app
}

/// How many entries AniList has answered for (with the synopsis it gave).
fn refreshed(app: &App) -> u64 {
    (1..=ENTRIES)
        .filter_map(|id| app.entry(id))
        .filter(|e| e.fetched.contains_key("anilist") && e.synopsis.is_some())
        .count() as u64
}

/// AniList in its degraded mode, and worse: it says it allows 90 requests a
/// minute but answers the fourth request in any second with a 429 and a
/// one-second lock-out, so a client trusting it meets a 429 every few
/// requests. A lock-out as long as the window means the first request after
/// it is within budget again.
async fn storming_mock() -> AniListMock {
    let config = AniListConfig::default()
        .without_fixtures()
        .budget(3, Duration::from_secs(1))
        .lockout(Duration::from_secs(1))
        .advertise(90);
    let mock = AniListMock::start_with(config).await;
    for id in 1..=ENTRIES {
        mock.put_media(json!({
            "id": anilist_id(id), "type": "ANIME", "format": "TV", "status": "FINISHED",
            "title": {"romaji": format!("Storm Test {id}")},
            "description": format!("Work {id} of the storm."),
            "episodes": 12, "isAdult": false
        }));
    }
    mock
}

/// A client that trusts the service's word: 60 requests a minute.
fn trusting_client(mock: &AniListMock) -> Arc<dyn Source> {
    let settings = SourceSettings {
        url: mock.url(),
        limits: vec![RateLimit::per_minute(60)],
        timeout: Duration::from_secs(5),
        ..SourceSettings::anilist()
    };
    Arc::new(AniList::new(http_client().expect("a client"), settings))
}

/// The mock's answers in order: no request may come while a 429's lock-out
/// lasts, which the mock would answer with another 429. Returns the 429s.
fn assert_no_request_during_a_lockout(mock: &AniListMock) -> usize {
    let statuses: Vec<u16> = mock.requests().iter().map(|r| r.status).collect();
    for (i, pair) in statuses.windows(2).enumerate() {
        assert!(
            !(pair[0] == 429 && pair[1] != 200),
            "request #{} came during the lock-out of #{i}: {statuses:?}",
            i + 1
        );
    }
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(
        mock.violations().len(),
        limited,
        "every 429 was a request that found the limit"
    );
    assert!(mock.invalid_queries().is_empty() && mock.unsupported().is_empty());
    limited
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_through_a_429_storm_keeps_the_lockouts_and_loses_nothing() {
    if let Err(e) = anilist_mock::spec() {
        println!("skipping: {e}");
        return;
    }
    let mock = storming_mock().await;
    let app = subscribed_app();
    let client = trusting_client(&mock);
    drop(app.attach_sources(vec![Arc::clone(&client)], RefreshSettings::default()));
    let changed = app.sync(SyncTarget::Subscribed, |_, _| {}).await;
    let limited = assert_no_request_during_a_lockout(&mock);
    assert!(limited >= 2, "a storm: {limited} 429s");
    assert_eq!(refreshed(&app), ENTRIES, "every entry after the storm");
    assert_eq!(changed as u64, ENTRIES);
    let media: Vec<usize> = mock
        .requests()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.ids.len())
        .collect();
    assert_eq!(
        media.iter().sum::<usize>() as u64,
        ENTRIES,
        "each entry asked for once when answered: {media:?}"
    );
    let status = client.status();
    assert_eq!(status.rate_limited as usize, limited);
    assert!(status.healthy, "healthy again after the storm: {status:?}");
    mock.stop().await;
}

/// The background refresher (`rouge serve`) in the same storm: what a 429
/// refused is stale still, so the next check of subscribed entries asks
/// for it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresher_through_a_429_storm_keeps_the_lockouts_and_loses_nothing() {
    if let Err(e) = anilist_mock::spec() {
        println!("skipping: {e}");
        return;
    }
    let mock = storming_mock().await;
    let app = subscribed_app();
    let settings = RefreshSettings {
        subscribed_check: Duration::from_millis(300),
        ..RefreshSettings::default()
    };
    let refresher = app.attach_sources(vec![trusting_client(&mock)], settings);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(refresher.run(stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while refreshed(&app) < ENTRIES {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {ENTRIES} refreshed after {} requests: {:?}",
            refreshed(&app),
            mock.requests().len(),
            app.source_reports()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    running.await.expect("the refresher stops");
    let limited = assert_no_request_during_a_lockout(&mock);
    assert!(limited >= 2, "a storm: {limited} 429s");
    // Queued again by the next check while still queued, an entry is not
    // asked for a second time once it is fresh.
    let answered: usize = mock
        .requests()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.ids.len())
        .sum();
    assert_eq!(answered as u64, ENTRIES, "each entry answered once");
    mock.stop().await;
}
