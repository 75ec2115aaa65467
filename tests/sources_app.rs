//! Live sources through the app's public API, with fake sources (the HTTP
//! clients are tested against spec-checked mocks in `tests/sources.rs`):
//! cards filled from both sources, a source's airing schedule deciding the
//! announced episode numbers and times, owners' edits surviving, and the
//! bot answering from the store when the sources are down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rouge::app::dispatch::Dispatcher;
use rouge::app::{App, RefreshSettings, Settings, SyncTarget};
use rouge::core::announce::limits::{DispatchSettings, RateLimits};
use rouge::core::announce::{Announcement, Notifier, SendOutcome};
use rouge::core::caller::{Caller, ChatRef, Platform};
use rouge::core::catalog::model::{
    AltTitle, Broadcast, Entry, Kind, SourceScore, Status, TitleLang, Unit,
};
use rouge::core::clock::ManualClock;
use rouge::core::reply::Reply;
use rouge::core::source::{
    ScheduledAiring, Source, SourceEntry, SourceError, SourceFuture, SourceId, SourceStatus,
};
use rouge::import::Format;
use rouge::store::Store;

/// A source that answers from what the test put in it, counts its
/// requests, can be switched to failing, and panics on ids it was never
/// told about (a fake that allows no surprise).
struct Fake {
    id: SourceId,
    entries: Mutex<HashMap<String, SourceEntry>>,
    schedule: Mutex<Vec<ScheduledAiring>>,
    down: AtomicBool,
    requests: AtomicUsize,
    expected: Vec<String>,
}

impl Fake {
    fn new(id: SourceId, expected: &[&str]) -> Arc<Fake> {
        Arc::new(Fake {
            id,
            entries: Mutex::new(HashMap::new()),
            schedule: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            expected: expected.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn put(&self, entry: SourceEntry) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(entry.external_id.clone(), entry);
    }

    fn set_schedule(&self, airings: Vec<ScheduledAiring>) {
        *self.schedule.lock().unwrap_or_else(|e| e.into_inner()) = airings;
    }
}

impl Source for Fake {
    fn id(&self) -> SourceId {
        self.id
    }

    fn batch(&self) -> usize {
        50
    }

    fn fetch<'a>(&'a self, ids: &'a [String]) -> SourceFuture<'a, Vec<SourceEntry>> {
        Box::pin(async move {
            self.requests.fetch_add(1, Ordering::SeqCst);
            for id in ids {
                assert!(
                    self.expected.contains(id),
                    "{} was asked about {id}",
                    self.id
                );
            }
            if self.down.load(Ordering::SeqCst) {
                return Err(SourceError::Transient("connection refused".into()));
            }
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            Ok(ids
                .iter()
                .filter_map(|id| entries.get(id).cloned())
                .collect())
        })
    }

    fn schedule<'a>(
        &'a self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> SourceFuture<'a, Vec<ScheduledAiring>> {
        Box::pin(async move {
            self.requests.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(SourceError::Transient("connection refused".into()));
            }
            Ok(self
                .schedule
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone())
        })
    }

    fn status(&self) -> SourceStatus {
        let down = self.down.load(Ordering::SeqCst);
        SourceStatus {
            requests: self.requests.load(Ordering::SeqCst) as u64,
            healthy: !down,
            detail: down.then(|| "connection refused".to_owned()),
            ..SourceStatus::default()
        }
    }
}

/// Records the posts, in order.
struct Posts(Mutex<Vec<(DateTime<Utc>, Announcement)>>, ManualClock);

impl Notifier for Posts {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn send(&self, _: &ChatRef, a: &Announcement) -> SendOutcome {
        let mut posts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        posts.push((rouge::core::clock::Clock::now(&self.1), a.clone()));
        SendOutcome::Delivered {
            message_id: posts.len().to_string(),
        }
    }
}

/// A recorder of posts on the manual clock, and a dispatcher posting to it.
fn posting(app: &App, clock: &ManualClock) -> (Arc<Posts>, Dispatcher<Posts>) {
    let posts = Arc::new(Posts(Mutex::new(Vec::new()), clock.clone()));
    let dispatcher = Dispatcher::new(
        app.clone(),
        Arc::clone(&posts),
        DispatchSettings::with_limits(RateLimits::LOCAL),
    );
    (posts, dispatcher)
}

fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0)
        .single()
        .expect("a valid time")
}

fn owner() -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: "1".into(),
        chat_id: "1".into(),
        is_chat_admin: true,
        is_group: false,
    }
}

fn chat_admin(chat: &str) -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: format!("admin-{chat}"),
        chat_id: chat.into(),
        is_chat_admin: true,
        is_group: true,
    }
}

/// The demo catalog with the two fakes attached (not running: the tests
/// drive refreshes with `App::sync`).
fn app(clock: &ManualClock, anilist: &Arc<Fake>, jikan: &Arc<Fake>) -> App {
    let settings = Settings {
        owners: vec!["telegram:1".into()],
        ..Settings::default()
    };
    let app = App::open(
        Store::temporary().expect("a store"),
        settings,
        Arc::new(clock.clone()),
    )
    .expect("the app opens");
    let refresh = RefreshSettings {
        first_fetch_wait: std::time::Duration::from_millis(50),
        ..RefreshSettings::default()
    };
    drop(app.attach_sources(
        vec![
            Arc::clone(anilist) as Arc<dyn Source>,
            Arc::clone(jikan) as Arc<dyn Source>,
        ],
        refresh,
    ));
    app
}

fn rouge_anilist() -> SourceEntry {
    SourceEntry {
        external_id: "162985".into(),
        titles: vec![AltTitle {
            text: "Metallic Rouge".into(),
            lang: TitleLang::Romaji,
        }],
        synopsis: Some("Rouge Redstar, an android, hunts the Immortal Nine.".into()),
        genres: vec!["Action".into(), "Mecha".into(), "Sci-Fi".into()],
        studios: vec!["Bones".into()],
        episodes: Some(13),
        status: Some(Status::Finished),
        score: Some(SourceScore {
            source: "anilist".into(),
            value: 63.0,
            scale_max: 100.0,
            votes: Some(21_500),
            as_of: None,
        }),
        ..SourceEntry::default()
    }
}

fn rouge_jikan() -> SourceEntry {
    SourceEntry {
        external_id: "54794".into(),
        synopsis: Some("Another synopsis.".into()),
        score: Some(SourceScore {
            source: "mal".into(),
            value: 6.2,
            scale_max: 10.0,
            votes: Some(48_213),
            as_of: None,
        }),
        rank: Some(7412),
        ..SourceEntry::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn a_card_gains_what_both_sources_say_and_an_owners_edit_survives() {
    let clock = ManualClock::new(at(1, 12));
    let anilist = Fake::new(SourceId::AniList, &["162985"]);
    let jikan = Fake::new(SourceId::Jikan, &["54794"]);
    anilist.put(rouge_anilist());
    jikan.put(rouge_jikan());
    let app = app(&clock, &anilist, &jikan);
    let id = app.search("metallic rouge", 1)[0].id;
    // An owner sets the studios by hand first.
    let edit = app.handle_line(
        &owner(),
        &format!("/anime admin edit #{id} studios=\"Bones Inc.\""),
    );
    assert!(matches!(edit, Reply::Done(_)), "{edit:?}");
    runtime().block_on(app.sync(SyncTarget::Entries(vec![id]), |_, _| {}));
    let Reply::Card(card) = app.handle_line(&owner(), &format!("/anime #{id}")) else {
        panic!("a card")
    };
    assert_eq!(
        card.synopsis.as_deref(),
        Some("Rouge Redstar, an android, hunts the Immortal Nine."),
        "AniList's synopsis wins over Jikan's"
    );
    assert!(card.genres.iter().any(|g| g == "Mecha"));
    assert_eq!(card.studios, ["Bones Inc."], "the owner's edit stands");
    let sources: Vec<&str> = card
        .scores
        .sources
        .iter()
        .map(|s| s.label.as_str())
        .collect();
    assert!(
        sources.contains(&"AniList")
            && sources.contains(&"MyAnimeList")
            && sources.contains(&"IMDb"),
        "{sources:?}"
    );
    assert!(
        card.scores
            .sources
            .iter()
            .all(|s| s.votes.is_some() || s.label == "IMDb")
    );
    // A second refresh keeps the owner's edit too.
    runtime().block_on(app.sync(SyncTarget::Entries(vec![id]), |_, _| {}));
    assert_eq!(app.entry(id).expect("the entry").studios, ["Bones Inc."]);
}

#[test]
fn with_the_sources_down_every_command_answers_from_the_store() {
    let clock = ManualClock::new(at(1, 12));
    let anilist = Fake::new(SourceId::AniList, &["162985"]);
    let jikan = Fake::new(SourceId::Jikan, &["54794"]);
    anilist.down.store(true, Ordering::SeqCst);
    jikan.down.store(true, Ordering::SeqCst);
    let app = app(&clock, &anilist, &jikan);
    let started = std::time::Instant::now();
    let reply = app.handle_line(&owner(), "/anime metallic rouge");
    assert!(matches!(reply, Reply::Card(_)), "{reply:?}");
    // The refresher is not running: the first-fetch wait ran out, then the
    // store answered.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    runtime().block_on(app.sync(SyncTarget::Airing, |_, _| {}));
    let reports = app.source_reports();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| !r.status.healthy));
}

/// A show the data's rule would number from April (it would say episode
/// 35 now): AniList's schedule decides the episodes and times announced,
/// and its count ends them.
#[test]
fn the_sources_schedule_decides_what_is_announced() {
    let clock = ManualClock::new(at(1, 0));
    let anilist = Fake::new(SourceId::AniList, &["900001"]);
    let jikan = Fake::new(SourceId::Jikan, &[]);
    let app = app(&clock, &anilist, &jikan);
    // Weekly on Thursdays at 15:00 UTC since April, and on a site two
    // hours later.
    let mut show = Entry::new(9_000, "Starlight Relay");
    show.kind = Some(Kind::Tv);
    show.external_ids.insert("anilist".into(), "900001".into());
    for (platform, rule) in [
        ("tv", "R/2026-04-02T15:00:00Z/P7D"),
        ("site", "R/2026-04-02T17:00:00Z/P7D"),
    ] {
        show.broadcasts.push(Broadcast {
            platform: platform.into(),
            rule: rule.into(),
            ends: None,
        });
    }
    let mut file = Vec::new();
    rouge::import::rouge_json::write(&[show], &mut file).expect("a rouge file");
    app.import(Format::Rouge, &file, "test", |_, _| {})
        .expect("the show imports");
    let id = app.search("starlight relay", 1)[0].id;
    // AniList: episode 9 at T (Thursday 16:00, an hour late), a double
    // episode 10 and 11 a week later, 12 episodes in all.
    let t = at(3, 16);
    let airing = |episode: u32, at: DateTime<Utc>| ScheduledAiring {
        episode,
        at,
        entry: SourceEntry {
            external_id: "900001".into(),
            episodes: Some(12),
            status: Some(Status::Airing),
            ..SourceEntry::default()
        },
    };
    anilist.set_schedule(vec![
        airing(9, t),
        airing(10, t + Duration::days(7)),
        airing(11, t + Duration::days(7) + Duration::minutes(30)),
    ]);
    for (chat, stream) in [("-100", "tv"), ("-200", "site")] {
        for line in [
            format!("/anime subscribe #{id}"),
            format!("/anime settings stream {stream}"),
        ] {
            let reply = app.handle_line(&chat_admin(chat), &line);
            assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
        }
    }
    let rt = runtime();
    rt.block_on(app.sync(SyncTarget::Airing, |_, _| {}));
    app.process_schedule().expect("the schedule starts");
    let (posts, mut dispatcher) = posting(&app, &clock);
    // Four weeks, hour by hour; on the second day AniList moves episode 10
    // (and 11 with it) a day later, before it aired.
    for hour in 0..28 * 24 {
        clock.advance(Duration::hours(1));
        if hour == 30 {
            anilist.set_schedule(vec![
                airing(9, t),
                airing(10, t + Duration::days(8)),
                airing(11, t + Duration::days(8) + Duration::minutes(30)),
            ]);
            rt.block_on(app.sync(SyncTarget::Airing, |_, _| {}));
        }
        app.process_schedule().expect("the schedule runs");
        rt.block_on(dispatcher.drain_once())
            .expect("the outbox drains");
    }
    let posts = posts.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let on = |stream: &str| -> Vec<(u32, DateTime<Utc>)> {
        posts
            .iter()
            .filter(|(_, a)| a.stream.as_deref() == Some(stream))
            .map(|(when, a)| {
                assert_eq!(a.unit, Unit::Episode);
                (a.episode, *when)
            })
            .collect()
    };
    let tv = on("tv");
    let site = on("site");
    assert_eq!(
        tv.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [9, 10, 11, 12],
        "9 at T, the delayed double episode in order, the last one; never 13"
    );
    assert_eq!(
        site.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [9, 10, 11, 12],
        "the same episodes on the other stream"
    );
    assert!(
        tv[0].1 >= t && tv[0].1 < t + Duration::hours(1),
        "{:?}",
        tv[0]
    );
    assert!(
        site[0].1 >= t + Duration::hours(2),
        "the stream's offset: {:?}",
        site[0]
    );
    assert!(
        tv[1].1 >= t + Duration::days(8),
        "the delayed episode came at its new time"
    );
    assert_eq!(posts.len(), 8, "one post per episode and chat");
}

/// A show the catalog did not have, found in AniList's airing window:
/// it has no broadcast rule, yet a chat subscribed to everything gets its
/// episode when AniList says it airs.
#[test]
fn a_discovered_show_is_announced_from_the_sources_schedule_alone() {
    let clock = ManualClock::new(at(1, 0));
    let anilist = Fake::new(SourceId::AniList, &["900002"]);
    let jikan = Fake::new(SourceId::Jikan, &[]);
    let app = app(&clock, &anilist, &jikan);
    let reply = app.handle_line(&chat_admin("-100"), "/anime subscribe all");
    assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
    let t = at(2, 15);
    anilist.set_schedule(vec![ScheduledAiring {
        episode: 4,
        at: t,
        entry: SourceEntry {
            external_id: "900002".into(),
            titles: vec![AltTitle {
                text: "Comet Lantern".into(),
                lang: TitleLang::Romaji,
            }],
            kind: Some(Kind::Tv),
            episodes: Some(12),
            status: Some(Status::Airing),
            ..SourceEntry::default()
        },
    }]);
    let rt = runtime();
    rt.block_on(app.sync(SyncTarget::Airing, |_, _| {}));
    let found = app.search("comet lantern", 1);
    assert_eq!(found.len(), 1, "the show was added from the schedule");
    assert!(
        app.entry(found[0].id)
            .is_some_and(|e| e.broadcasts.is_empty())
    );
    app.process_schedule().expect("the schedule starts");
    let (posts, mut dispatcher) = posting(&app, &clock);
    for _ in 0..3 * 24 {
        clock.advance(Duration::hours(1));
        app.process_schedule().expect("the schedule runs");
        rt.block_on(dispatcher.drain_once())
            .expect("the outbox drains");
    }
    let posts = posts.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let episodes: Vec<u32> = posts.iter().map(|(_, a)| a.episode).collect();
    assert_eq!(episodes, [4], "AniList's episode, once");
    assert!(posts[0].0 >= t);
}

/// An id the source does not know (it answers without it) counts as asked:
/// the entry waits for its TTL like any other instead of every look-up
/// asking again.
#[test]
fn an_id_the_source_does_not_know_is_not_asked_again_at_once() {
    let clock = ManualClock::new(at(1, 12));
    let anilist = Fake::new(SourceId::AniList, &["162985"]);
    let jikan = Fake::new(SourceId::Jikan, &["54794"]);
    jikan.put(rouge_jikan());
    let app = app(&clock, &anilist, &jikan);
    let id = app.search("metallic rouge", 1)[0].id;
    let before = app.entry(id).expect("the entry");
    runtime().block_on(app.sync(SyncTarget::Entries(vec![id]), |_, _| {}));
    let after = app.entry(id).expect("the entry");
    assert_eq!(
        after.fetched.get("anilist"),
        Some(&at(1, 12)),
        "asked at 12:00, though AniList said nothing"
    );
    assert!(after.fetched.contains_key("jikan"), "Jikan answered");
    assert_eq!(after.title, before.title, "nothing else of it changed");
}
