//! What the bot says about airing shows on the real bangumi-data file
//! (8,483 anime, CC BY 4.0, credit "bangumi-data"), whose newest item
//! begins 2026-04-29, with the clock at 2026-12-01: `/anime airing 7` and a
//! simulated week of announcements to a chat subscribed to everything name
//! no episode past what the data supports. Skips (and says why) when
//! `../shared` is absent.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rouge::app::dispatch::Dispatcher;
use rouge::app::{App, Settings};
use rouge::core::announce::limits::{DispatchSettings, RateLimits};
use rouge::core::announce::{Announcement, Notifier, SendOutcome};
use rouge::core::caller::{Caller, ChatRef, Platform};
use rouge::core::catalog::model::Unit;
use rouge::core::clock::ManualClock;
use rouge::core::reply::Reply;
use rouge::import::Format;
use rouge::store::Store;

fn data() -> Option<Vec<u8>> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bangumi-data.json"
    ));
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(err) => {
            eprintln!("skipping: cannot read {} ({err})", path.display());
            None
        }
    }
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// The real catalog, imported with the clock at `now`.
fn imported(bytes: &[u8], clock: &ManualClock) -> App {
    let settings = Settings {
        seed_demo: false,
        ..Settings::default()
    };
    let app = App::open(
        Store::temporary().expect("a store"),
        settings,
        Arc::new(clock.clone()),
    )
    .expect("the app opens");
    app.import(Format::BangumiData, bytes, "test", |_, _| {})
        .expect("the file imports");
    app
}

/// Every airing line's (entry, title, detail).
fn airing(app: &App, days: u32) -> Vec<(u64, String, String)> {
    let mut lines = Vec::new();
    let mut page = 1;
    loop {
        let reply = app.handle_line(
            &Caller::local_owner(),
            &format!("/anime airing {days} page={page}"),
        );
        let Reply::List(list) = reply else {
            panic!("airing is a list: {reply:?}")
        };
        lines.extend(
            list.items
                .into_iter()
                .map(|i| (i.id.expect("an entry"), i.text, i.detail)),
        );
        if list.next.is_none() {
            return lines;
        }
        page += 1;
    }
}

/// Checks an airing line's episode against what the data vouches for: the
/// entry's episode count, or one cour (13) when the count is unknown (a
/// fresh import has no release to extend it).
fn supported(app: &App, (id, title, detail): &(u64, String, String)) {
    let entry = app.entry(*id).expect("the entry");
    let bound = entry.episodes.unwrap_or(13);
    assert!(
        number(detail).is_none_or(|n| n <= bound),
        "a phantom episode: {title} — {detail} (the data vouches for {bound})"
    );
    assert!(
        !title.contains("名探偵コナン"),
        "Conan has no anchor: {title} — {detail}"
    );
}

/// The episode number an airing line names, if it names one.
fn number(detail: &str) -> Option<u32> {
    detail
        .strip_prefix("episode ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn the_airing_list_names_only_episodes_the_data_supports() {
    let Some(bytes) = data() else { return };
    // Seven months past the data: nothing it knows still airs.
    let clock = ManualClock::new(at(2026, 12, 1));
    let app = imported(&bytes, &clock);
    let now = airing(&app, 7);
    eprintln!("/anime airing 7 at 2026-12-01: {} lines", now.len());
    for line in &now {
        supported(&app, line);
    }
    let Reply::List(list) = app.handle_line(&Caller::local_owner(), "/anime airing 7") else {
        panic!("a list")
    };
    assert!(
        list.note
            .as_deref()
            .is_some_and(|n| n.contains("2026-04-29")),
        "the list says how old the data is: {:?}",
        list.note
    );
    // Within the data's time: April 2026's new shows air, numbered from 1.
    clock.set(at(2026, 5, 1));
    let may = airing(&app, 7);
    eprintln!("/anime airing 7 at 2026-05-01: {} lines", may.len());
    assert!(!may.is_empty(), "shows air in the data's own time");
    for line in &may {
        supported(&app, line);
    }
}

/// Records every announcement posted.
struct Recorder(Mutex<Vec<Announcement>>);

impl Notifier for Recorder {
    fn platform(&self) -> Platform {
        Platform::Local
    }

    async fn send(&self, _: &ChatRef, announcement: &Announcement) -> SendOutcome {
        let mut posts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        posts.push(announcement.clone());
        SendOutcome::Delivered {
            message_id: posts.len().to_string(),
        }
    }
}

#[test]
fn a_week_of_announcements_to_everything_names_no_phantom_episode() {
    let Some(bytes) = data() else { return };
    let clock = ManualClock::new(at(2026, 12, 1));
    let app = imported(&bytes, &clock);
    let reply = app.handle_line(&Caller::local_owner(), "/anime subscribe all");
    assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
    // The first run only sets where the schedule starts.
    app.process_schedule().expect("the schedule runs");
    let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
    let mut dispatcher = Dispatcher::new(
        app.clone(),
        Arc::clone(&recorder),
        DispatchSettings::with_limits(RateLimits::LOCAL),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for _ in 0..7 * 24 {
        clock.advance(Duration::hours(1));
        app.process_schedule().expect("the schedule runs");
        runtime
            .block_on(dispatcher.drain_once())
            .expect("the outbox drains");
    }
    let posts = recorder.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    eprintln!(
        "a week from 2026-12-01, subscribed to all: {} posts",
        posts.len()
    );
    for post in &posts {
        let bound = app
            .entry(post.entry)
            .expect("the entry")
            .episodes
            .unwrap_or(13);
        assert!(
            post.unit != Unit::Episode || post.episode <= bound,
            "a phantom episode: {} — episode {} (the data vouches for {bound})",
            post.title,
            post.episode
        );
    }
}
