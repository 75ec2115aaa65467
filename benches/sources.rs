//! The live sources against the spec-checked AniList and Jikan mocks of
//! `tests/support` on 127.0.0.1: nothing here reaches the internet.
//!
//! Two parts:
//!
//! 1. **Refreshing 1,000 subscribed entries** through the real AniList
//!    client. Printed first (measurements, not criterion benchmarks), each
//!    on a fresh app and a fresh mock: `App::sync` of the subscribed
//!    entries (what `rouge sync --subscribed` does) and the background
//!    refresher's first check of stale subscribed entries (what `rouge
//!    serve` does), both at AniList's own budget of 30 requests a minute on
//!    the client and on the mock; then the sync again at a budget that
//!    binds (5 requests a second on both). Each reports the requests sent,
//!    the requests the mock refused as over its budget, the entries
//!    refreshed and the wall time; then the fetches and the merging of a
//!    sync are timed apart. `sources/refresh_1000_subscribed`
//!    (criterion) repeats the sync on one app with a budget that never
//!    binds (1,000,000 a minute on both), so its figure is the cost of a
//!    refresh, the mock's own work (it shares the process) included.
//! 2. **The command path with the sources on**, `command/card` and
//!    `command/top`: `/anime <title>` cards and `/anime top` on two apps
//!    holding the same 1,000 entries, filled from the mocks: `store_only`
//!    has no source attached, `sources_on` has AniList and Jikan attached to
//!    the mocks and the refresher running beside it, as `rouge serve` has
//!    them. Every entry is fresh, so a look-up must not ask a source; the
//!    requests the mocks received while the commands ran are printed.
//!
//! Run with `cargo bench --bench sources`; BENCHMARKS.md has the figures.
//! Without `../shared/specs` (the mocks check every request against the
//! services' published descriptions) it says so and exits.

#[path = "../tests/support/anilist_mock.rs"]
mod anilist_mock;
#[path = "../tests/support/jikan_mock.rs"]
mod jikan_mock;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anilist_mock::{AniListConfig, AniListMock};
use criterion::{Criterion, SamplingMode, Throughput};
use jikan_mock::{JikanConfig, JikanMock};
use rouge::app::{App, RefreshSettings, Settings, SyncTarget};
use rouge::core::caller::{Caller, Platform};
use rouge::core::catalog::model::{Entry, Kind};
use rouge::core::clock::SystemClock;
use rouge::core::reply::Reply;
use rouge::core::source::{Source, SourceId};
use rouge::import::Format;
use rouge::sources::{AniList, Jikan, RateLimit, SourceSettings, http_client};
use rouge::store::Store;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// Subscribed entries under `cargo bench` (100 under `cargo test --benches`).
const ENTRIES: usize = 1_000;
/// The chats that subscribe to them, each to every hundredth entry.
const CHATS: usize = 100;
/// Card look-ups per pass of `command/card`.
const QUERIES: usize = 200;
/// A step through the entries that visits each once (coprime with 100 and 1,000).
const STRIDE: usize = 389;
/// AniList's own budget, which Rouge keeps by default.
const ANILIST_BUDGET: RateLimit = RateLimit::per_minute(30);
/// A budget that binds within a run: 20 requests take at least 3 s.
const BINDING_BUDGET: RateLimit = RateLimit::per_second(5);
/// A budget that never binds, for the repeated runs.
const OPEN_BUDGET: RateLimit = RateLimit::per_minute(1_000_000);

// ---------------------------------------------------------------------------
// The catalog, and what the services say of it
// ---------------------------------------------------------------------------

const FIRST: [&str; 25] = [
    "Crimson",
    "Silver",
    "Midnight",
    "Starlight",
    "Hollow",
    "Velvet",
    "Iron",
    "Paper",
    "Neon",
    "Quiet",
    "Golden",
    "Broken",
    "Frozen",
    "Hidden",
    "Wandering",
    "Electric",
    "Crystal",
    "Scarlet",
    "Emerald",
    "Shadow",
    "Lunar",
    "Solar",
    "Azure",
    "Ember",
    "Phantom",
];
const SECOND: [&str; 40] = [
    "Harbor",
    "Relay",
    "Garden",
    "Academy",
    "Knight",
    "Circuit",
    "Festival",
    "Signal",
    "Orchestra",
    "Frontier",
    "Kitchen",
    "Lantern",
    "Voyage",
    "Archive",
    "Railway",
    "Detective",
    "Bakery",
    "Cathedral",
    "Monsoon",
    "Paladin",
    "Observatory",
    "Carnival",
    "Labyrinth",
    "Tournament",
    "Workshop",
    "Lighthouse",
    "Samurai",
    "Outpost",
    "Requiem",
    "Alchemist",
    "Horizon",
    "Sanctuary",
    "Mechanic",
    "Serenade",
    "Citadel",
    "Expedition",
    "Greenhouse",
    "Symphony",
    "Wanderer",
    "Vanguard",
];

/// Entry `i`'s title: 1,000 different two-word titles.
fn title(i: usize) -> String {
    format!(
        "{} {}",
        FIRST[i % FIRST.len()],
        SECOND[(i / FIRST.len()) % SECOND.len()]
    )
}

fn entry_id(i: usize) -> u64 {
    i as u64 + 1
}

fn anilist_id(i: usize) -> i64 {
    700_001 + i as i64
}

fn mal_id(i: usize) -> i64 {
    800_001 + i as i64
}

/// The catalog as an import brings it: titles and the two services' ids,
/// nothing else (no synopsis, genres or scores yet).
fn catalog_file(entries: usize) -> Vec<u8> {
    let entries: Vec<Entry> = (0..entries)
        .map(|i| {
            let mut entry = Entry::new(entry_id(i), title(i));
            entry.kind = Some(Kind::Tv);
            entry
                .external_ids
                .insert("anilist".into(), anilist_id(i).to_string());
            entry
                .external_ids
                .insert("mal".into(), mal_id(i).to_string());
            entry
        })
        .collect();
    let mut file = Vec::new();
    rouge::import::rouge_json::write(&entries, &mut file).expect("the catalog should serialise");
    file
}

/// The first record of a mock's fixture file, as a template.
fn template(path: &str, list: &str) -> Value {
    let text = std::fs::read_to_string(path).expect("the mock's fixture should be readable");
    let file: Value = serde_json::from_str(&text).expect("the fixture should be JSON");
    file[list][0].clone()
}

/// AniList's record of entry `i`: the full shape of the Metallic Rouge
/// fixture (description, tags, studios, links, score distribution) under
/// the entry's ids and title.
fn anilist_media(template: &Value, i: usize) -> Value {
    let mut media = template.clone();
    let title = title(i);
    media["id"] = json!(anilist_id(i));
    media["idMal"] = json!(mal_id(i));
    media["title"] = json!({
        "romaji": title, "english": title, "native": format!("ベンチ{i}"), "userPreferred": title
    });
    media["synonyms"] = json!([]);
    media["averageScore"] = json!(50 + (i % 45));
    media["meanScore"] = json!(50 + (i % 45));
    media["popularity"] = json!(1_000 + i);
    media["siteUrl"] = json!(format!("https://anilist.co/anime/{}", anilist_id(i)));
    media
}

/// Jikan's record of entry `i`, in the `anime_full` shape of its fixture.
fn jikan_anime(template: &Value, i: usize) -> Value {
    let mut anime = template.clone();
    let title = title(i);
    anime["mal_id"] = json!(mal_id(i));
    anime["url"] = json!(format!("https://myanimelist.net/anime/{}", mal_id(i)));
    anime["titles"] = json!([
        {"type": "Default", "title": title},
        {"type": "English", "title": title}
    ]);
    anime["title"] = json!(title);
    anime["title_english"] = json!(title);
    anime["title_japanese"] = json!(format!("ベンチ{i}"));
    anime["score"] = json!(5.0 + (i % 45) as f64 / 10.0);
    anime["scored_by"] = json!(10_000 + i);
    anime["rank"] = json!(1 + i);
    anime
}

fn fill_anilist(mock: &AniListMock, entries: usize) {
    let template = template(
        &format!("{}/metallic-rouge.json", anilist_mock::FIXTURES_DIR),
        "media",
    );
    for i in 0..entries {
        mock.put_media(anilist_media(&template, i));
    }
}

fn fill_jikan(mock: &JikanMock, entries: usize) {
    let template = template(
        &format!("{}/metallic-rouge.json", jikan_mock::FIXTURES_DIR),
        "anime",
    );
    for i in 0..entries {
        mock.put_anime(jikan_anime(&template, i));
    }
}

/// An AniList mock that allows `budget` (and locks out for AniList's
/// minute when it is broken), holding every entry's record.
fn anilist_mock(rt: &Runtime, entries: usize, budget: RateLimit) -> AniListMock {
    let config = AniListConfig::default()
        .without_fixtures()
        .budget(budget.requests, budget.per);
    let mock = rt.block_on(AniListMock::start_with(config));
    fill_anilist(&mock, entries);
    mock
}

// ---------------------------------------------------------------------------
// Apps and clients
// ---------------------------------------------------------------------------

/// The admin of chat `c`, a private Telegram chat.
fn chat_admin(c: usize) -> Caller {
    let id = (100_000_000 + c).to_string();
    Caller {
        platform: Platform::Telegram,
        user_id: id.clone(),
        chat_id: id,
        is_chat_admin: true,
        is_group: false,
    }
}

/// Someone looking titles up.
fn user() -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: "42".into(),
        chat_id: "42".into(),
        is_chat_admin: false,
        is_group: false,
    }
}

/// An app over a fresh temporary store holding the imported catalog, every
/// entry subscribed to by one of [`CHATS`] chats.
fn subscribed_app(entries: usize) -> App {
    let settings = Settings {
        seed_demo: false,
        ..Settings::default()
    };
    let store = Store::temporary().expect("a temporary store should open");
    let app = App::open(store, settings, Arc::new(SystemClock)).expect("the app should open");
    app.import(Format::Rouge, &catalog_file(entries), "bench", |_, _| {})
        .expect("the catalog should import");
    for i in 0..entries {
        let id = entry_id(i);
        assert_eq!(app.entry(id).map(|e| e.title.clone()), Some(title(i)));
        let reply = app.handle_line(&chat_admin(i % CHATS), &format!("/anime subscribe #{id}"));
        assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
    }
    app
}

fn anilist_client(url: String, budget: RateLimit) -> Arc<dyn Source> {
    let settings = SourceSettings {
        url,
        limits: vec![budget],
        ..SourceSettings::anilist()
    };
    Arc::new(AniList::new(
        http_client().expect("an HTTP client"),
        settings,
    ))
}

fn jikan_client(url: String) -> Arc<dyn Source> {
    let settings = SourceSettings {
        url,
        limits: vec![OPEN_BUDGET],
        ..SourceSettings::jikan()
    };
    Arc::new(Jikan::new(http_client().expect("an HTTP client"), settings))
}

/// How many of the entries `source` has answered for, with what it said
/// (a synopsis) in the store.
fn refreshed(app: &App, entries: usize, source: SourceId) -> usize {
    (0..entries)
        .filter_map(|i| app.entry(entry_id(i)))
        .filter(|e| e.fetched.contains_key(source.as_str()) && e.synopsis.is_some())
        .count()
}

// ---------------------------------------------------------------------------
// Part 1: refreshing the subscribed entries
// ---------------------------------------------------------------------------

/// What one refresh of every subscribed entry cost.
struct RefreshRun {
    requests: usize,
    /// Requests for works (`Page { media(id_in: …) }`), and the most ids one asked for.
    media_requests: usize,
    most_ids: usize,
    violations: usize,
    refreshed: usize,
    took: Duration,
}

impl RefreshRun {
    fn of(mock: &AniListMock, app: &App, entries: usize, took: Duration) -> RefreshRun {
        let requests = mock.requests();
        assert!(
            mock.invalid_queries().is_empty() && mock.unsupported().is_empty(),
            "the mock refused a query: {:?}",
            mock.invalid_queries()
        );
        let media: Vec<_> = requests.iter().filter(|r| !r.ids.is_empty()).collect();
        RefreshRun {
            requests: requests.len(),
            media_requests: media.len(),
            most_ids: media.iter().map(|r| r.ids.len()).max().unwrap_or(0),
            violations: mock.violations().len(),
            refreshed: refreshed(app, entries, SourceId::AniList),
            took,
        }
    }

    fn print(&self, what: &str, budget: RateLimit) {
        println!(
            "{what}, budget {} per {} s on client and mock: {} requests ({} for works, \
             at most {} ids each), {} over the mock's budget, {} entries refreshed, {:.2} s",
            budget.requests,
            budget.per.as_secs(),
            self.requests,
            self.media_requests,
            self.most_ids,
            self.violations,
            self.refreshed,
            self.took.as_secs_f64()
        );
    }
}

/// `App::sync` of every subscribed entry on a fresh app and mock.
fn sync_run(rt: &Runtime, entries: usize, budget: RateLimit) -> RefreshRun {
    let mock = anilist_mock(rt, entries, budget);
    let app = subscribed_app(entries);
    drop(app.attach_sources(
        vec![anilist_client(mock.url(), budget)],
        RefreshSettings::default(),
    ));
    let started = Instant::now();
    rt.block_on(app.sync(SyncTarget::Subscribed, |_, _| {}));
    let run = RefreshRun::of(&mock, &app, entries, started.elapsed());
    rt.block_on(mock.stop());
    run
}

/// The background refresher on a fresh app and mock, from its start until
/// every subscribed entry is refreshed: its first schedule poll and its
/// first check of stale subscribed entries, which queues all of them.
fn refresher_run(rt: &Runtime, entries: usize, budget: RateLimit) -> RefreshRun {
    let mock = anilist_mock(rt, entries, budget);
    let app = subscribed_app(entries);
    let refresher = app.attach_sources(
        vec![anilist_client(mock.url(), budget)],
        RefreshSettings::default(),
    );
    let stop = CancellationToken::new();
    let started = Instant::now();
    let running = rt.spawn(refresher.run(stop.clone()));
    while refreshed(&app, entries, SourceId::AniList) < entries {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the refresher refreshed only {} of {entries} entries",
            refreshed(&app, entries, SourceId::AniList)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = started.elapsed();
    stop.cancel();
    rt.block_on(running).expect("the refresher should stop");
    let run = RefreshRun::of(&mock, &app, entries, took);
    rt.block_on(mock.stop());
    run
}

/// Where a sync's time goes, on a fresh app and mock with a budget that never
/// binds: fetching every entry (the 20 requests, the mock's work included)
/// apart from merging the answers and storing them, 50 entries a commit as
/// a sync does.
fn split_run(rt: &Runtime, entries: usize) -> (Duration, Duration) {
    let mock = anilist_mock(rt, entries, OPEN_BUDGET);
    let app = subscribed_app(entries);
    let client = anilist_client(mock.url(), OPEN_BUDGET);
    let ids: Vec<String> = (0..entries).map(|i| anilist_id(i).to_string()).collect();
    let started = Instant::now();
    let found = rt
        .block_on(client.fetch(&ids))
        .expect("the mock should answer");
    let fetching = started.elapsed();
    let started = Instant::now();
    for batch in found.chunks(50) {
        app.apply_source(SourceId::AniList, batch.to_vec(), false)
            .expect("the answers should merge");
    }
    let merging = started.elapsed();
    assert_eq!(refreshed(&app, entries, SourceId::AniList), entries);
    rt.block_on(mock.stop());
    (fetching, merging)
}

/// The printed measurements of part 1; each must have kept the budget.
fn refresh_report(rt: &Runtime, entries: usize) {
    println!("refreshing {entries} subscribed entries through the AniList client:");
    let runs = [
        (
            "App::sync (rouge sync --subscribed)",
            ANILIST_BUDGET,
            sync_run(rt, entries, ANILIST_BUDGET),
        ),
        (
            "the refresher (rouge serve)",
            ANILIST_BUDGET,
            refresher_run(rt, entries, ANILIST_BUDGET),
        ),
        (
            "App::sync at a binding budget",
            BINDING_BUDGET,
            sync_run(rt, entries, BINDING_BUDGET),
        ),
    ];
    for (what, budget, run) in &runs {
        run.print(what, *budget);
        assert_eq!(run.violations, 0, "{what}: the budget was broken");
        assert_eq!(run.refreshed, entries, "{what}: entries were left out");
    }
    let (fetching, merging) = split_run(rt, entries);
    println!(
        "of a sync: fetching alone {:.2} s (the mock's work included), merging and storing alone {:.2} s",
        fetching.as_secs_f64(),
        merging.as_secs_f64()
    );
}

/// `iters` syncs of every subscribed entry of `app`.
fn syncs(rt: &Runtime, app: &App, iters: u64) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        black_box(rt.block_on(app.sync(SyncTarget::Subscribed, |_, _| {})));
    }
    started.elapsed()
}

// ---------------------------------------------------------------------------
// Part 2: the command path
// ---------------------------------------------------------------------------

/// Two apps with the same entries, filled from the mocks: one without
/// sources, one with both attached and its refresher running.
struct Apps {
    store_only: App,
    sources_on: App,
    anilist: AniListMock,
    jikan: JikanMock,
    stop: CancellationToken,
    refresher: tokio::task::JoinHandle<()>,
}

fn command_apps(rt: &Runtime, entries: usize) -> Apps {
    let anilist = anilist_mock(rt, entries, OPEN_BUDGET);
    let jikan = rt.block_on(JikanMock::start_with(
        JikanConfig::default().without_fixtures().unlimited(),
    ));
    fill_jikan(&jikan, entries);
    let store_only = subscribed_app(entries);
    let sources_on = subscribed_app(entries);
    let refresher = sources_on.attach_sources(
        vec![
            anilist_client(anilist.url(), OPEN_BUDGET),
            jikan_client(jikan.url()),
        ],
        RefreshSettings::default(),
    );
    // The same answers merged the same way into both, so that their stores
    // differ in nothing but the sources attached.
    for (source, key, client) in [
        (
            SourceId::AniList,
            "anilist",
            anilist_client(anilist.url(), OPEN_BUDGET),
        ),
        (SourceId::Jikan, "mal", jikan_client(jikan.url())),
    ] {
        let ids: Vec<String> = (0..entries)
            .filter_map(|i| {
                store_only
                    .entry(entry_id(i))?
                    .external_ids
                    .get(key)
                    .cloned()
            })
            .collect();
        let found = rt
            .block_on(client.fetch(&ids))
            .expect("the mock should answer");
        for app in [&store_only, &sources_on] {
            app.apply_source(source, found.clone(), false)
                .expect("the answers should merge");
        }
    }
    for app in [&store_only, &sources_on] {
        for source in [SourceId::AniList, SourceId::Jikan] {
            assert_eq!(refreshed(app, entries, source), entries, "{source}");
        }
    }
    // The refresher's start: one schedule poll; every subscribed entry is fresh.
    let before = anilist.requests().len();
    let stop = CancellationToken::new();
    let refresher = rt.spawn(refresher.run(stop.clone()));
    let started = Instant::now();
    while anilist.requests().len() == before {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the refresher did not poll"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(500));
    Apps {
        store_only,
        sources_on,
        anilist,
        jikan,
        stop,
        refresher,
    }
}

/// The look-up lines: exact titles of entries spread through the catalog.
fn card_queries(entries: usize) -> Vec<(u64, String)> {
    (0..QUERIES.min(entries))
        .map(|k| {
            let i = k * STRIDE % entries;
            (entry_id(i), format!("/anime {}", title(i)))
        })
        .collect()
}

/// Every line answers with the right card, on both apps, before anything is timed.
fn check_answers(apps: &Apps, queries: &[(u64, String)]) {
    for app in [&apps.store_only, &apps.sources_on] {
        for (id, line) in queries {
            match app.handle_line(&user(), line) {
                Reply::Card(card) => assert_eq!(card.id, *id, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        let top = app.handle_line(&user(), "/anime top");
        assert!(!matches!(top, Reply::Error(_)), "{top:?}");
    }
}

fn card_pass(app: &App, queries: &[(u64, String)]) {
    let caller = user();
    for (_, line) in queries {
        black_box(app.handle_line(&caller, line));
    }
}

/// True under `cargo bench`; false under `cargo test --benches`, where
/// criterion runs each benchmark once and the catalog is made small.
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

fn main() {
    if let Err(why) = anilist_mock::spec().and_then(|_| jikan_mock::spec().map(|_| ())) {
        // The mocks check every request against the services' published
        // descriptions, which live outside the crate.
        eprintln!("sources bench skipped: {why}");
        return;
    }
    let entries = if benchmarking() { ENTRIES } else { 100 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let listing = std::env::args().any(|a| a == "--list");
    if !listing {
        refresh_report(&rt, entries);
    }

    let mut c = Criterion::default().configure_from_args();
    let mock = anilist_mock(&rt, entries, OPEN_BUDGET);
    let app = subscribed_app(entries);
    drop(app.attach_sources(
        vec![anilist_client(mock.url(), OPEN_BUDGET)],
        RefreshSettings::default(),
    ));
    let mut group = c.benchmark_group("sources");
    group
        .throughput(Throughput::Elements(entries as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));
    group.bench_function(format!("refresh_{entries}_subscribed"), |b| {
        b.iter_custom(|iters| syncs(&rt, &app, iters))
    });
    group.finish();
    let (requests, each) = (mock.requests().len(), entries.div_ceil(50));
    println!(
        "refresh_{entries}_subscribed: {} refreshes, {requests} requests ({each} each), \
         {} over the mock's budget",
        requests / each,
        mock.violations().len()
    );
    assert!(mock.violations().is_empty(), "the budget was broken");
    rt.block_on(mock.stop());

    let apps = command_apps(&rt, entries);
    let queries = card_queries(entries);
    check_answers(&apps, &queries);
    let asked = (apps.anilist.requests().len(), apps.jikan.requests().len());
    let mut group = c.benchmark_group("command/card");
    group
        .throughput(Throughput::Elements(queries.len() as u64))
        .sample_size(50)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("store_only", |b| {
        b.iter(|| card_pass(&apps.store_only, &queries))
    });
    group.bench_function("sources_on", |b| {
        b.iter(|| card_pass(&apps.sources_on, &queries))
    });
    group.finish();
    let mut group = c.benchmark_group("command/top");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(10));
    for (name, app) in [
        ("store_only", &apps.store_only),
        ("sources_on", &apps.sources_on),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(app.handle_line(&user(), "/anime top")))
        });
    }
    group.finish();
    let during = (
        apps.anilist.requests().len() - asked.0,
        apps.jikan.requests().len() - asked.1,
    );
    println!(
        "requests while the commands ran: AniList {}, Jikan {} (every entry fresh)",
        during.0, during.1
    );
    assert_eq!(during, (0, 0), "a look-up of a fresh entry asked a source");
    apps.stop.cancel();
    rt.block_on(apps.refresher)
        .expect("the refresher should stop");
    rt.block_on(apps.anilist.stop());
    rt.block_on(apps.jikan.stop());
    c.final_summary();
}
