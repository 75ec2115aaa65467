//! Announcements end to end through the public API: subscriptions, release
//! events, the durable outbox and the dispatcher, with a recording notifier
//! and a manual clock (no sleeping).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rouge::app::dispatch::Dispatcher;
use rouge::app::{App, Settings};
use rouge::core::announce::limits::{DispatchSettings, Rate, RateLimits};
use rouge::core::announce::{Announcement, Notifier, SendOutcome};
use rouge::core::caller::{Caller, ChatRef, Platform};
use rouge::core::clock::ManualClock;
use rouge::core::reply::{ErrorKind, Reply};
use rouge::store::Store;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn open(store: Store, clock: &ManualClock) -> App {
    let settings = Settings {
        owners: vec!["telegram:1".into()],
        ..Settings::default()
    };
    App::open(store, settings, Arc::new(clock.clone())).expect("app opens")
}

fn admin_of(chat: &str) -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: format!("admin-{chat}"),
        chat_id: chat.into(),
        is_chat_admin: true,
        is_group: true,
    }
}

fn member_of(chat: &str) -> Caller {
    Caller {
        is_chat_admin: false,
        user_id: format!("member-{chat}"),
        ..admin_of(chat)
    }
}

fn owner() -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: "1".into(),
        chat_id: "owner-dm".into(),
        is_chat_admin: true,
        is_group: false,
    }
}

fn ok(reply: Reply) -> Reply {
    assert!(
        !matches!(reply, Reply::Error(_)),
        "unexpected error: {reply:?}"
    );
    reply
}

/// What a scripted notifier answers for one send.
type Script = dyn Fn(&ChatRef, usize) -> SendOutcome + Send + Sync;

/// Records every send; answers by a script of (chat, attempt number for that chat).
struct Recorder {
    script: Box<Script>,
    sent: Mutex<Vec<(ChatRef, Announcement)>>,
}

impl Recorder {
    fn new(
        script: impl Fn(&ChatRef, usize) -> SendOutcome + Send + Sync + 'static,
    ) -> Arc<Recorder> {
        Arc::new(Recorder {
            script: Box::new(script),
            sent: Mutex::new(Vec::new()),
        })
    }

    fn delivering() -> Arc<Recorder> {
        Recorder::new(|_, _| SendOutcome::Delivered {
            message_id: "m".into(),
        })
    }

    fn attempts(&self, chat: &ChatRef) -> usize {
        self.sent
            .lock()
            .expect("lock")
            .iter()
            .filter(|(c, _)| c == chat)
            .count()
    }

    fn per_chat(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (chat, _) in self.sent.lock().expect("lock").iter() {
            *counts.entry(chat.chat_id.clone()).or_insert(0) += 1;
        }
        counts
    }
}

impl Notifier for Recorder {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn send(&self, chat: &ChatRef, announcement: &Announcement) -> SendOutcome {
        assert_eq!(
            chat.platform,
            Platform::Telegram,
            "a Telegram notifier was asked to post elsewhere"
        );
        let attempt = self.attempts(chat) + 1;
        self.sent
            .lock()
            .expect("lock")
            .push((chat.clone(), announcement.clone()));
        (self.script)(chat, attempt)
    }
}

fn dispatch_settings() -> DispatchSettings {
    DispatchSettings {
        max_attempts: 3,
        ..DispatchSettings::with_limits(RateLimits::TELEGRAM)
    }
}

/// Drives the dispatcher step by step on the manual clock until the outbox
/// is empty (or `max_steps`), advancing time by `step` between rounds.
fn drain(
    dispatcher: &mut Dispatcher<Recorder>,
    notifier: &Recorder,
    clock: &ManualClock,
    step: chrono::Duration,
    max_steps: usize,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for _ in 0..max_steps {
        let now = clock.now_utc();
        for job in dispatcher.take(now).expect("take") {
            let outcome = runtime.block_on(notifier.send(&job.chat, &job.announcement()));
            dispatcher.finish(&job, outcome, now).expect("finish");
        }
        clock.advance(step);
    }
}

trait Now {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl Now for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        rouge::core::clock::Clock::now(self)
    }
}

#[test]
fn only_chat_admins_change_subscriptions_and_mistakes_get_clear_replies() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    let refused = app.handle_line(&member_of("g1"), "/anime subscribe metallic rouge");
    assert!(
        matches!(&refused, Reply::Error(e) if e.kind == ErrorKind::NotAllowed),
        "{refused:?}"
    );
    ok(app.handle_line(&admin_of("g1"), "/anime subscribe metallic rouge"));
    let twice = app.handle_line(&admin_of("g1"), "/anime subscribe #1");
    assert!(
        matches!(&twice, Reply::Error(e) if e.message.contains("already subscribed")),
        "{twice:?}"
    );
    let not_subscribed = app.handle_line(&admin_of("g1"), "/anime unsubscribe frieren");
    assert!(
        matches!(&not_subscribed, Reply::Error(e) if e.message.contains("not subscribed")),
        "{not_subscribed:?}"
    );
    for bad in [
        "/anime settings tz Mars/Olympus",
        "/anime settings delay -5",
        "/anime settings delay 1000000",
    ] {
        assert!(
            matches!(app.handle_line(&admin_of("g1"), bad), Reply::Error(_)),
            "{bad}"
        );
    }
    assert!(
        matches!(app.handle_line(&member_of("g1"), "/anime settings delay 5"), Reply::Error(e) if e.kind == ErrorKind::NotAllowed)
    );
    // Members may look.
    let Reply::List(list) = app.handle_line(&member_of("g1"), "/anime subscriptions") else {
        panic!("a list")
    };
    assert_eq!(list.items.len(), 1);
}

#[test]
fn an_owners_episode_command_posts_exactly_once_per_subscribed_chat() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    for chat in ["g1", "g2", "g3"] {
        ok(app.handle_line(&admin_of(chat), "/anime subscribe metallic rouge"));
    }
    ok(app.handle_line(&admin_of("g3"), "/anime settings audio hindi"));
    ok(app.handle_line(&admin_of("g4"), "/anime subscribe frieren"));
    let reply = ok(app.handle_line(
        &owner(),
        "/anime admin episode metallic rouge ep=13 audio=Tamil qualities=480p/720p/1080p",
    ));
    assert!(
        matches!(&reply, Reply::Done(n) if n.text.contains("Announcing it in 2 chats")),
        "{reply:?}"
    );
    // The same release again queues nothing new.
    ok(app.handle_line(
        &owner(),
        "/anime admin episode metallic rouge ep=13 audio=Tamil qualities=480p/720p/1080p",
    ));

    let notifier = Recorder::delivering();
    let mut dispatcher = Dispatcher::new(app.clone(), Arc::clone(&notifier), dispatch_settings());
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::seconds(1),
        10,
    );
    let counts = notifier.per_chat();
    assert_eq!(counts.get("g1"), Some(&1));
    assert_eq!(counts.get("g2"), Some(&1));
    assert_eq!(counts.get("g3"), None, "g3 only wants Hindi audio");
    assert_eq!(counts.get("g4"), None);
    let sent = notifier.sent.lock().expect("lock");
    let a = &sent[0].1;
    assert_eq!(
        (a.title.as_str(), a.episode, a.audio.as_deref()),
        ("Metallic Rouge", 13, Some("Tamil"))
    );
    assert_eq!(a.qualities, ["480p", "720p", "1080p"]);
    drop(sent);
    let Reply::List(deliveries) =
        app.handle_line(&owner(), "/anime admin deliveries metallic rouge")
    else {
        panic!("a list")
    };
    assert_eq!(
        deliveries
            .items
            .iter()
            .filter(|i| i.text.starts_with("delivered"))
            .count(),
        2
    );
}

#[test]
fn rate_limits_retry_after_and_failures() {
    let clock = ManualClock::new(start());
    let store = Store::temporary().expect("store");
    let app = open(store.clone(), &clock);
    for chat in ["slow", "broken", "gone", "moved", "fine"] {
        ok(app.handle_line(&admin_of(chat), "/anime subscribe #1"));
    }
    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=12 audio=Tamil"));
    let notifier = Recorder::new(|chat, attempt| match (chat.chat_id.as_str(), attempt) {
        ("slow", 1) => SendOutcome::RetryAfter {
            after: Duration::from_secs(30),
            global: false,
        },
        ("broken", _) => SendOutcome::Transient("502 Bad Gateway".into()),
        ("gone", _) => SendOutcome::Forbidden("403: bot was kicked from the group chat".into()),
        ("moved", 1) => SendOutcome::Migrated {
            to_chat_id: "moved-super".into(),
        },
        _ => SendOutcome::Delivered {
            message_id: format!("{}-{attempt}", chat.chat_id),
        },
    });
    let mut dispatcher = Dispatcher::new(app.clone(), Arc::clone(&notifier), dispatch_settings());
    // The first round: every chat is tried once, and one failure stalls no other chat.
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::seconds(1),
        1,
    );
    assert_eq!(notifier.per_chat().get("fine"), Some(&1));
    // 29 seconds later "slow" is still waiting out its retry_after.
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::seconds(1),
        29,
    );
    assert_eq!(notifier.per_chat().get("slow"), Some(&1));
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::minutes(1),
        120,
    );
    let counts = notifier.per_chat();
    assert_eq!(counts.get("slow"), Some(&2), "delivered after the wait");
    assert_eq!(
        counts.get("broken"),
        Some(&3),
        "max_attempts, then dead-lettered"
    );
    assert_eq!(counts.get("gone"), Some(&1), "forbidden is final");
    assert_eq!(counts.get("moved"), Some(&1));
    assert_eq!(
        counts.get("moved-super"),
        Some(&1),
        "resent to the chat it moved to"
    );
    assert_eq!(store.queued(Platform::Telegram), 0);

    let gone = ChatRef {
        platform: Platform::Telegram,
        chat_id: "gone".into(),
    };
    let subs = store.subscriptions_of(&gone).expect("subs");
    assert!(
        subs.iter().all(|s| !s.active),
        "the kicked chat's subscription is deactivated"
    );
    let moved = ChatRef {
        platform: Platform::Telegram,
        chat_id: "moved-super".into(),
    };
    assert_eq!(
        store.subscriptions_of(&moved).expect("subs").len(),
        1,
        "the subscription followed the chat"
    );
    let Reply::List(deliveries) = app.handle_line(&owner(), "/anime admin deliveries #1") else {
        panic!("a list")
    };
    let failed = deliveries
        .items
        .iter()
        .find(|i| i.text.starts_with("failed"))
        .expect("a failed job");
    assert!(failed.detail.contains("502 Bad Gateway"), "{failed:?}");
    assert!(
        deliveries
            .items
            .iter()
            .any(|i| i.text.starts_with("forbidden") && i.detail.contains("kicked"))
    );

    // A deactivated chat gets nothing more, even for a new episode.
    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=13 audio=Tamil"));
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::seconds(1),
        5,
    );
    assert_eq!(notifier.per_chat().get("gone"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_notifier_times_out_and_the_job_is_retried() {
    struct Hangs(Mutex<usize>);
    impl Notifier for Hangs {
        fn platform(&self) -> Platform {
            Platform::Telegram
        }
        async fn send(&self, _: &ChatRef, _: &Announcement) -> SendOutcome {
            let first = {
                let mut calls = self.0.lock().expect("lock");
                *calls += 1;
                *calls == 1
            };
            if first {
                std::future::pending::<()>().await;
            }
            SendOutcome::Delivered {
                message_id: "late".into(),
            }
        }
    }
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    ok(app.handle_line(&admin_of("g"), "/anime subscribe #1"));
    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=1"));
    let settings = DispatchSettings {
        send_timeout: Duration::from_secs(5),
        ..dispatch_settings()
    };
    let mut dispatcher = Dispatcher::new(app.clone(), Arc::new(Hangs(Mutex::new(0))), settings);
    let first = dispatcher.drain_once().await.expect("drain");
    assert_eq!(
        (first.delivered, first.retried),
        (0, 1),
        "the hung send timed out"
    );
    clock.advance(chrono::Duration::minutes(5));
    let second = dispatcher.drain_once().await.expect("drain");
    assert_eq!(second.delivered, 1);
}

#[test]
fn crashes_lose_nothing_and_repeat_only_what_was_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(start());
    const CHATS: usize = 300;
    {
        let app = open(Store::open(dir.path()).expect("store"), &clock);
        for i in 0..CHATS {
            ok(app.handle_line(&admin_of(&format!("c{i}")), "/anime subscribe #1"));
        }
        ok(app.handle_line(&owner(), "/anime admin episode #1 ep=13 audio=Tamil"));
    }
    let notifier = Recorder::delivering();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut in_flight_at_crashes = 0;
    let mut crashes = 0;
    // A fixed sequence of crash points: after k sends of a round, before recording them.
    let mut crash_after = [
        3usize, 0, 17, 1, 29, 8, 30, 2, 11, 25, 5, 19, 0, 13, 7, 22, 4, 16, 9, 28,
    ]
    .into_iter()
    .cycle();
    loop {
        // In one process a dropped store may release its lock a moment later.
        let store = Store::open_waiting(dir.path(), Duration::from_secs(10))
            .expect("the store reopens after every crash");
        let app = open(store.clone(), &clock);
        if store.queued(Platform::Telegram) == 0 {
            break;
        }
        let mut dispatcher =
            Dispatcher::new(app.clone(), Arc::clone(&notifier), dispatch_settings());
        let jobs = dispatcher.take(clock.now_utc()).expect("take");
        let crash_at = if crashes < 20 {
            crash_after.next().unwrap_or(0).min(jobs.len())
        } else {
            usize::MAX
        };
        let mut sent_unrecorded = 0;
        for (i, job) in jobs.iter().enumerate() {
            let outcome = runtime.block_on(notifier.send(&job.chat, &job.announcement()));
            if i >= crash_at {
                // Sent, and the process died before recording it.
                sent_unrecorded += 1;
                break;
            }
            dispatcher
                .finish(job, outcome, clock.now_utc())
                .expect("finish");
        }
        if crash_at != usize::MAX {
            crashes += 1;
            in_flight_at_crashes += sent_unrecorded;
        }
        // Drop everything without a flush: a crash.
        drop(dispatcher);
        drop(app);
        clock.advance(chrono::Duration::seconds(1));
    }
    let counts = notifier.per_chat();
    let lost = (0..CHATS)
        .filter(|i| !counts.contains_key(&format!("c{i}")))
        .count();
    let duplicated: usize = counts.values().map(|n| n.saturating_sub(1)).sum();
    println!(
        "crashes: {crashes}, in flight at crashes: {in_flight_at_crashes}, lost: {lost}, duplicated: {duplicated}"
    );
    assert_eq!(crashes, 20);
    assert_eq!(lost, 0);
    assert!(
        duplicated <= in_flight_at_crashes,
        "{duplicated} duplicates, {in_flight_at_crashes} in flight"
    );
}

#[test]
fn broadcast_schedules_announce_after_the_delay_and_catch_up_after_downtime() {
    // Metallic Rouge airs weekly from 2024-01-10 16:25 UTC.
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2024, 1, 9, 0, 0, 0)
            .single()
            .expect("time"),
    );
    let app = open(Store::temporary().expect("store"), &clock);
    ok(app.handle_line(&admin_of("g"), "/anime subscribe metallic rouge"));
    ok(app.handle_line(&admin_of("g"), "/anime settings delay 30"));
    ok(app.handle_line(&admin_of("g"), "/anime settings tz Asia/Tokyo"));
    assert_eq!(
        app.process_schedule().expect("schedule"),
        0,
        "the first run only sets the starting point"
    );

    let notifier = Recorder::delivering();
    let mut dispatcher = Dispatcher::new(app.clone(), Arc::clone(&notifier), dispatch_settings());
    // Episode 1 airs; nothing is posted before the chat's 30-minute delay.
    clock.set(
        Utc.with_ymd_and_hms(2024, 1, 10, 16, 26, 0)
            .single()
            .expect("time"),
    );
    assert_eq!(app.process_schedule().expect("schedule"), 1);
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::minutes(1),
        20,
    );
    assert!(notifier.per_chat().is_empty(), "the delay is not over yet");
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::minutes(1),
        20,
    );
    assert_eq!(notifier.per_chat().get("g"), Some(&1));
    {
        let sent = notifier.sent.lock().expect("lock");
        let a = &sent[0].1;
        assert_eq!(
            (a.episode, a.stream.as_deref(), a.tz.as_str()),
            (1, Some("tv"), "Asia/Tokyo")
        );
        assert_eq!(a.next_episode.map(|n| n.0), Some(2));
    }
    // The bot is down for three weeks: episodes 2 and 3 are too old to
    // announce and are only recorded; episode 4 aired within the window.
    clock.set(
        Utc.with_ymd_and_hms(2024, 1, 31, 20, 0, 0)
            .single()
            .expect("time"),
    );
    assert_eq!(app.process_schedule().expect("schedule"), 1);
    drain(
        &mut dispatcher,
        &notifier,
        &clock,
        chrono::Duration::minutes(1),
        5,
    );
    let episodes: Vec<u32> = notifier
        .sent
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, a)| a.episode)
        .collect();
    assert_eq!(episodes, [1, 4]);
    let entry = app.entry(1).expect("entry");
    let recorded: Vec<u32> = entry
        .releases
        .iter()
        .filter(|r| r.audio.is_none())
        .map(|r| r.number)
        .collect();
    assert_eq!(recorded, [1, 2, 3, 4]);
    // Processing the same time again changes nothing.
    assert_eq!(app.process_schedule().expect("schedule"), 0);
}

#[test]
fn a_deleted_entry_withdraws_its_queued_announcements() {
    let clock = ManualClock::new(start());
    let store = Store::temporary().expect("store");
    let app = open(store.clone(), &clock);
    ok(app.handle_line(&admin_of("g"), "/anime subscribe frieren"));
    ok(app.handle_line(&admin_of("g"), "/anime settings delay 60"));
    ok(app.handle_line(&owner(), "/anime admin episode #2 ep=1 audio=English"));
    assert_eq!(store.queued(Platform::Telegram), 1);
    ok(app.handle_line(&owner(), "/anime admin delete #2"));
    assert_eq!(store.queued(Platform::Telegram), 0);
    let gone = app.handle_line(&owner(), "/anime admin episode #2 ep=2");
    assert!(
        matches!(&gone, Reply::Error(e) if e.kind == ErrorKind::NotFound),
        "{gone:?}"
    );
    let Reply::List(deliveries) = app.handle_line(&owner(), "/anime admin deliveries") else {
        panic!("a list")
    };
    assert!(
        deliveries
            .items
            .iter()
            .any(|i| i.text.starts_with("withdrawn")),
        "{deliveries:?}"
    );
}

#[test]
fn the_airing_view_uses_the_chats_time_zone() {
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2024, 3, 5, 0, 0, 0)
            .single()
            .expect("time"),
    );
    let app = open(Store::temporary().expect("store"), &clock);
    ok(app.handle_line(&admin_of("ny"), "/anime settings tz America/New_York"));
    let Reply::List(list) = app.handle_line(&member_of("ny"), "/anime airing 14") else {
        panic!("a list")
    };
    let rouge: Vec<&str> = list
        .items
        .iter()
        .filter(|i| i.text.contains("Metallic Rouge"))
        .map(|i| i.text.as_str())
        .collect();
    // 16:25 UTC is 11:25 before the 10 March change to daylight saving time, 12:25 after.
    assert!(
        rouge.contains(&"2024-03-06 11:25 EST · Metallic Rouge"),
        "{rouge:?}"
    );
    assert!(
        rouge.contains(&"2024-03-13 12:25 EDT · Metallic Rouge"),
        "{rouge:?}"
    );
    assert!(list.heading.contains("America/New_York"));
}

#[test]
fn a_long_airing_list_comes_in_pages() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    let entries: Vec<serde_json::Value> = (0..30)
        .map(|i| {
            serde_json::json!({
                "id": 100 + i,
                "title": format!("Daily Show {i}"),
                "kind": "tv",
                "broadcasts": [{"platform": "tv", "rule": format!("R/2026-11-20T{:02}:00:00Z/P1D", i % 24)}]
            })
        })
        .collect();
    let file = serde_json::json!({"format": "rouge-catalog", "version": 1, "entries": entries})
        .to_string();
    app.import(
        rouge::import::Format::Rouge,
        file.as_bytes(),
        "test",
        |_, _| {},
    )
    .expect("import");
    let Reply::List(first) = app.handle_line(&member_of("g"), "/anime airing 2") else {
        panic!("a list")
    };
    assert_eq!(first.items.len(), 25);
    assert!(first.heading.contains("page 1 of 3"), "{}", first.heading);
    assert_eq!(first.previous, None);
    let next = first.next.clone().expect("a next page");
    assert_eq!(next, "/anime airing 2 page=2");
    assert!(rouge::core::command::parse(&next).is_ok_and(|c| c.is_button_safe()));
    let Reply::List(second) = app.handle_line(&member_of("g"), &next) else {
        panic!("a list")
    };
    assert_eq!(second.previous.as_deref(), Some("/anime airing 2 page=1"));
    assert_ne!(first.items[0].text, second.items[0].text);
    let Reply::List(last) = app.handle_line(&member_of("g"), "/anime airing 2 page=99") else {
        panic!("a list")
    };
    assert!(last.heading.contains("page 3 of 3") && last.next.is_none());
}

#[test]
fn rate_limit_windows_survive_a_restart() {
    let clock = ManualClock::new(start());
    let store = Store::temporary().expect("store");
    let app = open(store.clone(), &clock);
    for chat in ["c1", "c2", "c3", "c4", "c5"] {
        ok(app.handle_line(&admin_of(chat), "/anime subscribe #1"));
    }
    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=12 audio=Tamil"));
    // Three posts a minute overall.
    let settings = DispatchSettings::with_limits(RateLimits {
        global: Rate::new(3, Duration::from_secs(60)),
        ..RateLimits::TELEGRAM
    });
    let notifier = Recorder::delivering();
    let mut first = Dispatcher::new(app.clone(), Arc::clone(&notifier), settings.clone());
    drain(
        &mut first,
        &notifier,
        &clock,
        chrono::Duration::seconds(1),
        1,
    );
    assert_eq!(notifier.sent.lock().expect("lock").len(), 3);
    drop(first);

    // The process starts again a few seconds later, with the same store.
    clock.advance(chrono::Duration::seconds(5));
    let app = open(store, &clock);
    let mut second = Dispatcher::new(app, Arc::clone(&notifier), settings);
    assert!(
        second.take(clock.now_utc()).expect("take").is_empty(),
        "the three posts of the last minute still count after a restart"
    );
    clock.advance(chrono::Duration::seconds(56));
    let jobs = second.take(clock.now_utc()).expect("take");
    assert_eq!(jobs.len(), 2, "a minute after the first posts, the rest go");
}
