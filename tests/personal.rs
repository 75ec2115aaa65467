//! Issue #14 through the public API: following a title and the private
//! alert (one, in the follower's zone), the deep link from a group, the
//! stop note after a block, `me forget` leaving no trace in a backup, the
//! adult filter on every surface (inline mode: tests/telegram.rs), the season chart, random and relations.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rouge::app::dispatch::Dispatcher;
use rouge::app::{App, Settings};
use rouge::core::announce::limits::{DispatchSettings, RateLimits};
use rouge::core::announce::{Announcement, Notifier, SendOutcome};
use rouge::core::caller::{Caller, ChatRef, Platform};
use rouge::core::clock::{Clock, ManualClock};
use rouge::core::command::{self, Command, MeChange, TitleRef};
use rouge::core::reply::{ErrorKind, Reply};
use rouge::store::Store;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
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

fn owner() -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: "1".into(),
        chat_id: "1".into(),
        is_chat_admin: true,
        is_group: false,
    }
}

/// Someone writing in the group `-100`.
fn in_group(user: &str) -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: user.into(),
        chat_id: "-100".into(),
        is_chat_admin: false,
        is_group: true,
    }
}

/// Someone in their private chat with the bot.
fn in_private(user: &str) -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: user.into(),
        chat_id: user.into(),
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

fn done_text(reply: Reply) -> String {
    match ok(reply) {
        Reply::Done(notice) => notice.text,
        other => panic!("a confirmation, not {other:?}"),
    }
}

fn list_ids(reply: Reply) -> Vec<u64> {
    match ok(reply) {
        Reply::List(list) => list.items.iter().filter_map(|i| i.id).collect(),
        other => panic!("a list, not {other:?}"),
    }
}

/// Records every post and answers with `outcome`.
struct Recorder {
    outcome: Mutex<SendOutcome>,
    sent: Mutex<Vec<(ChatRef, Announcement)>>,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            outcome: Mutex::new(SendOutcome::Delivered {
                message_id: "m".into(),
            }),
            sent: Mutex::new(Vec::new()),
        })
    }

    fn sent_to(&self, chat: &str) -> Vec<Announcement> {
        self.sent
            .lock()
            .expect("lock")
            .iter()
            .filter(|(c, _)| c.chat_id == chat)
            .map(|(_, a)| a.clone())
            .collect()
    }
}

impl Notifier for Recorder {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn send(&self, chat: &ChatRef, announcement: &Announcement) -> SendOutcome {
        assert_eq!(chat.platform, Platform::Telegram, "posted off-platform");
        self.sent
            .lock()
            .expect("lock")
            .push((chat.clone(), announcement.clone()));
        self.outcome.lock().expect("lock").clone()
    }
}

/// Sends everything due, stepping the clock a second at a time.
fn drain(app: &App, notifier: &Arc<Recorder>, clock: &ManualClock, steps: usize) {
    let settings = DispatchSettings {
        max_attempts: 3,
        ..DispatchSettings::with_limits(RateLimits::TELEGRAM)
    };
    let mut dispatcher = Dispatcher::new(app.clone(), Arc::clone(notifier), settings);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for _ in 0..steps {
        let now = clock.now();
        for job in dispatcher.take(now).expect("take") {
            let outcome = runtime.block_on(notifier.send(&job.chat, &job.announcement()));
            dispatcher.finish(&job, outcome, now).expect("finish");
        }
        clock.advance(chrono::Duration::seconds(1));
    }
}

#[test]
fn a_follow_from_a_group_asks_for_the_private_chat_and_the_deep_link_follows() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    let admin = Caller {
        is_chat_admin: true,
        ..in_group("7")
    };
    ok(app.handle_line(&admin, "/anime settings tz Asia/Kolkata"));
    let Reply::StartPrivately(start) =
        app.handle_line(&in_group("42"), "/anime follow metallic rouge")
    else {
        panic!("a deep link, not a follow the bot could not deliver")
    };
    // The entry, and the group whose settings the first follow copies.
    assert_eq!(start.payload, "follow-1_-100");
    assert!(
        start.payload.len() <= 64,
        "Telegram's limit on start parameters"
    );
    // Nothing is followed until the private chat confirms.
    let following = app.handle_line(&in_private("42"), "/anime following");
    assert_eq!(list_ids(following), Vec::<u64>::new());
    // The deep link opens the private chat with /start follow-1.
    assert_eq!(
        command::parse("/start follow-1_-100"),
        Ok(Command::Follow {
            title: TitleRef::Id(1),
            from: Some("-100".into())
        })
    );
    for bad in [
        "/start follow-x",
        "/start follow-1_abc",
        "/start follow-1_",
        "/start hello",
    ] {
        assert_eq!(
            command::parse(bad),
            Ok(Command::Help { topic: None }),
            "{bad}"
        );
    }
    let text = done_text(app.handle_line(&in_private("42"), "/start follow-1_-100"));
    assert!(
        text.contains("You follow Metallic Rouge") && text.contains("Asia/Kolkata"),
        "the group's zone is the follower's first: {text}"
    );
    assert_eq!(
        list_ids(app.handle_line(&in_private("42"), "/anime following")),
        [1]
    );
    let again = app.handle_line(&in_private("42"), "/anime follow #1");
    assert!(
        matches!(&again, Reply::Error(e) if e.message.contains("already follow")),
        "{again:?}"
    );
}

#[test]
fn a_follower_gets_one_private_alert_in_their_own_zone_and_delay() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    // The group's zone is the default for a first follow from there…
    let admin = Caller {
        is_chat_admin: true,
        ..in_group("7")
    };
    ok(app.handle_line(&admin, "/anime settings tz Asia/Kolkata"));
    ok(app.handle_line(&admin, "/anime subscribe metallic rouge"));
    ok(app.handle_line(&in_private("42"), "/anime follow metallic rouge"));
    // …and a person's own settings are theirs.
    ok(app.handle_line(&in_private("43"), "/anime me tz Europe/Berlin"));
    ok(app.handle_line(&in_private("43"), "/anime me delay 30"));
    ok(app.handle_line(&in_private("43"), "/anime follow #1"));
    let me = done_text(app.handle_line(&in_private("43"), "/anime me"));
    assert!(
        me.contains("Europe/Berlin") && me.contains("delay 30 min"),
        "{me}"
    );

    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=13"));
    let notifier = Recorder::new();
    drain(&app, &notifier, &clock, 5);
    assert_eq!(notifier.sent_to("-100").len(), 1, "the group's post");
    let alerts = notifier.sent_to("42");
    assert_eq!(alerts.len(), 1, "one private alert");
    assert_eq!(alerts[0].episode, 13);
    assert_eq!(
        alerts[0].tz, "UTC",
        "42 followed from a private chat with default settings"
    );
    assert!(notifier.sent_to("43").is_empty(), "43 waits 30 minutes");
    clock.advance(chrono::Duration::minutes(30));
    drain(&app, &notifier, &clock, 5);
    let alerts = notifier.sent_to("43");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].tz, "Europe/Berlin");
    // Restarting the dispatcher sends nothing twice.
    drain(&app, &notifier, &clock, 5);
    assert_eq!(notifier.sent_to("42").len(), 1);
    assert_eq!(notifier.sent_to("43").len(), 1);
}

#[test]
fn a_block_stops_the_alerts_and_the_next_command_says_why() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    ok(app.handle_line(&in_private("42"), "/anime follow metallic rouge"));
    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=12"));
    let notifier = Recorder::new();
    *notifier.outcome.lock().expect("lock") =
        SendOutcome::Forbidden("Forbidden: bot was blocked by the user".into());
    drain(&app, &notifier, &clock, 5);
    assert_eq!(notifier.sent_to("42").len(), 1);
    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=13"));
    drain(&app, &notifier, &clock, 5);
    assert_eq!(
        notifier.sent_to("42").len(),
        1,
        "deactivated: no second try"
    );
    let Reply::Card(card) = app.handle_line(&in_private("42"), "/anime #1") else {
        panic!("a card")
    };
    let note = card.note.unwrap_or_default();
    assert!(
        note.contains("your private alerts stopped") && note.contains("blocked"),
        "{note}"
    );
    // Told once.
    let Reply::Card(card) = app.handle_line(&in_private("42"), "/anime #1") else {
        panic!("a card")
    };
    assert!(card.note.is_none_or(|n| !n.contains("stopped")));
    // Following again turns the alerts back on.
    let text = done_text(app.handle_line(&in_private("42"), "/anime follow #1"));
    assert!(text.contains("You follow"), "{text}");
}

#[test]
fn unfollow_one_or_all() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    let me = in_private("42");
    ok(app.handle_line(&me, "/anime follow #1"));
    ok(app.handle_line(&me, "/anime follow #2"));
    ok(app.handle_line(&me, "/anime follow #3"));
    assert!(done_text(app.handle_line(&me, "/anime unfollow #2")).contains("no longer follow"));
    assert_eq!(list_ids(app.handle_line(&me, "/anime following")), [1, 3]);
    let not = app.handle_line(&me, "/anime unfollow #2");
    assert!(matches!(not, Reply::Error(_)));
    let text = done_text(app.handle_line(&me, "/anime unfollow all"));
    assert!(text.contains("2 titles"), "{text}");
    assert!(list_ids(app.handle_line(&me, "/anime following")).is_empty());
}

#[test]
fn me_forget_leaves_no_record_of_the_person_in_a_backup() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    // The person: follows, own settings, a rating, a group subscription
    // they made as its admin, a delivered alert.
    let id = "918273645";
    let me = in_private(id);
    ok(app.handle_line(&me, "/anime follow #1"));
    ok(app.handle_line(&me, "/anime me tz Asia/Tokyo"));
    ok(app.handle_line(&me, "/anime rate #2 9"));
    let as_admin = Caller {
        is_chat_admin: true,
        ..in_group(id)
    };
    ok(app.handle_line(&as_admin, "/anime subscribe #3"));
    ok(app.handle_line(&owner(), "/anime admin episode #1 ep=13"));
    let notifier = Recorder::new();
    drain(&app, &notifier, &clock, 5);
    assert_eq!(notifier.sent_to(id).len(), 1);
    let mut before = Vec::new();
    app.backup_to(&mut before).expect("backup");
    assert!(contains(&before, id), "the backup held the person before");

    let reply = app.execute(&me, Command::Me(MeChange::Forget));
    let text = done_text(reply);
    assert!(
        text.contains("1 follow") && text.contains("1 rating"),
        "{text}"
    );
    let mut after = Vec::new();
    app.backup_to(&mut after).expect("backup");
    assert!(!contains(&after, id), "no trace of {id} in the backup");
    // The audit log says only that it happened; the group keeps its subscription.
    assert!(contains(&after, "a forgotten user"));
    let admin = Caller {
        is_chat_admin: true,
        ..in_group("5")
    };
    assert_eq!(
        list_ids(app.handle_line(&admin, "/anime subscriptions")),
        [3]
    );
    assert!(list_ids(app.handle_line(&me, "/anime following")).is_empty());
}

/// Whether a backup holds `needle` anywhere (records are hex-encoded).
fn contains(backup: &[u8], needle: &str) -> bool {
    let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
    [needle, hex.as_str()]
        .iter()
        .any(|n| backup.windows(n.len()).any(|w| w == n.as_bytes()))
}

/// The demo catalog plus two adult titles (one by the source's flag, one by
/// genre) that would lead every list they are on.
fn with_adult_titles(app: &App) -> (u64, u64) {
    let add = |line: &str| match ok(app.handle_line(&owner(), line)) {
        Reply::Done(notice) => notice.id.expect("an id"),
        other => panic!("{other:?}"),
    };
    let flagged = add(
        "/anime admin add \"Moonlit Garden\" kind=tv adult=yes aired=2026-10-03 genres=Romance",
    );
    let by_genre = add("/anime admin add \"Velvet Nights\" kind=tv aired=2026-10-10 genres=Hentai");
    for id in [flagged, by_genre] {
        ok(app.handle_line(
            &owner(),
            &format!("/anime admin score #{id} mal=9.9 votes=100000"),
        ));
    }
    (flagged, by_genre)
}

#[test]
fn adult_titles_appear_nowhere_until_a_chat_turns_them_on() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    let (flagged, by_genre) = with_adult_titles(&app);
    // And one that airs this week, for the airing list.
    let mut airing = rouge::core::catalog::model::Entry::new(900, "Velvet Weekly");
    airing.genres = vec!["Erotica".into()];
    airing
        .broadcasts
        .push(rouge::core::catalog::model::Broadcast {
            platform: "tv".into(),
            rule: "R/2026-11-26T15:00:00Z/P7D".into(),
            ends: None,
        });
    let mut file = Vec::new();
    rouge::import::rouge_json::write(&[airing], &mut file).expect("a file");
    app.import(rouge::import::Format::Rouge, &file, "test", |_, _| {})
        .expect("imports");
    let member = in_group("42");
    let hidden = |ids: &[u64]| !ids.contains(&flagged) && !ids.contains(&by_genre);
    assert!(!list_ids(app.handle_line(&member, "/anime airing 7")).contains(&900));

    // Look-ups by title find nothing; by id, the card is hidden.
    let lookup = app.handle_line(&member, "/anime moonlit garden");
    assert!(
        matches!(&lookup, Reply::Error(e) if e.kind == ErrorKind::NotFound),
        "{lookup:?}"
    );
    let exact = app.handle_line(&member, &format!("/anime #{by_genre}"));
    assert!(
        matches!(&exact, Reply::Error(e) if e.message.contains("hidden in this chat")),
        "{exact:?}"
    );
    assert!(
        app.suggest(&member, "moonlit", 10).is_empty(),
        "autocomplete"
    );
    assert!(hidden(&list_ids(app.handle_line(&member, "/anime top 25"))));
    assert!(hidden(&list_ids(
        app.handle_line(&member, "/anime season fall 2026")
    )));
    for _ in 0..40 {
        let Reply::Card(card) = app.handle_line(&member, "/anime random") else {
            panic!("a card")
        };
        assert!(hidden(&[card.id]), "random picked an adult title");
    }
    // An `all` subscription does not announce them.
    let admin = Caller {
        is_chat_admin: true,
        ..in_group("7")
    };
    ok(app.handle_line(&admin, "/anime subscribe all"));
    ok(app.handle_line(&owner(), &format!("/anime admin episode #{flagged} ep=1")));
    let notifier = Recorder::new();
    drain(&app, &notifier, &clock, 3);
    assert!(notifier.sent_to("-100").is_empty(), "no adult announcement");

    // Turned on, they are everywhere.
    ok(app.handle_line(&admin, "/anime settings adult on"));
    assert!(list_ids(app.handle_line(&member, "/anime airing 7")).contains(&900));
    assert!(matches!(
        app.handle_line(&member, "/anime moonlit garden"),
        Reply::Card(_)
    ));
    assert_eq!(app.suggest(&member, "moonlit", 10)[0].id, flagged);
    assert!(list_ids(app.handle_line(&member, "/anime top 3")).contains(&flagged));
    assert_eq!(
        list_ids(app.handle_line(&member, "/anime season fall 2026"))[..2],
        [flagged, by_genre]
    );
    ok(app.handle_line(&owner(), &format!("/anime admin episode #{flagged} ep=2")));
    drain(&app, &notifier, &clock, 3);
    assert_eq!(notifier.sent_to("-100").len(), 1);
    // A person's own setting decides in their private chat.
    let private = in_private("42");
    assert!(matches!(
        app.handle_line(&private, &format!("/anime #{flagged}")),
        Reply::Error(_)
    ));
    ok(app.handle_line(&private, "/anime me adult on"));
    assert!(matches!(
        app.handle_line(&private, &format!("/anime #{flagged}")),
        Reply::Card(_)
    ));
}

#[test]
fn the_season_chart_lists_tv_first_by_score_in_pages() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    let add = |line: &str| match ok(app.handle_line(&owner(), line)) {
        Reply::Done(notice) => notice.id.expect("an id"),
        other => panic!("{other:?}"),
    };
    let film = add("/anime admin add \"Winter Film\" kind=movie aired=2026-11-20");
    ok(app.handle_line(&owner(), &format!("/anime admin score #{film} mal=9.5")));
    let mut shows = Vec::new();
    for i in 0..20 {
        let id = add(&format!(
            "/anime admin add \"Fall Show {i}\" kind=tv aired=2026-10-{:02}",
            i + 1
        ));
        ok(app.handle_line(
            &owner(),
            &format!("/anime admin score #{id} mal={}.{}", 5 + i / 10, i % 10),
        ));
        shows.push(id);
    }
    // Default: the current season (2026-12-01 is fall) in the chat's zone.
    let Reply::List(first) = app.handle_line(&in_group("42"), "/anime season") else {
        panic!("a list")
    };
    assert!(
        first.heading.starts_with("Fall 2026: 21 titles"),
        "{}",
        first.heading
    );
    let ids: Vec<u64> = first.items.iter().filter_map(|i| i.id).collect();
    assert_eq!(ids[0], shows[19], "the best TV title first");
    assert_eq!(ids.len(), 15);
    let next = first.next.expect("a second page");
    let Reply::List(second) = app.handle_line(&in_group("42"), &next) else {
        panic!("a list")
    };
    let last: Vec<u64> = second.items.iter().filter_map(|i| i.id).collect();
    assert_eq!(last.last(), Some(&film), "TV first, the film after");
    assert!(second.previous.is_some());
    for bad in ["/anime season autumnish", "/anime season fall 1800"] {
        assert!(matches!(
            app.handle_line(&in_group("42"), bad),
            Reply::Error(e) if e.kind == ErrorKind::BadInput
        ));
    }
}

#[test]
fn random_keeps_to_the_genre_asked_for() {
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    for _ in 0..20 {
        let Reply::Card(card) = app.handle_line(&in_group("42"), "/anime random mecha") else {
            panic!("a card")
        };
        assert_eq!(card.id, 1, "only Metallic Rouge is Mecha in the demo");
    }
    let none = app.handle_line(&in_group("42"), "/anime random nosuchgenre");
    assert!(matches!(none, Reply::Error(_)));
}

#[test]
fn related_lists_relations_and_siblings_in_airing_order() {
    use rouge::core::catalog::model::{Entry, Kind, Related, RelationKind};
    let clock = ManualClock::new(start());
    let app = open(Store::temporary().expect("store"), &clock);
    // Three works bangumi-data points at one franchise-level MAL id (each
    // its own bangumi subject), and a sequel a source links by AniList id.
    let work = |id: u64, title: &str, kind: Kind, aired: &str, bangumi: &str| {
        let mut e = Entry::new(id, title);
        e.kind = Some(kind);
        e.aired_from = aired.parse().ok();
        e.external_ids.insert("bangumi".into(), bangumi.into());
        e.external_ids.insert("mal".into(), "777".into());
        e
    };
    let mut second = work(102, "Tower Saga Season 2", Kind::Tv, "2024-04-05", "b2");
    let first = work(100, "Tower Saga", Kind::Tv, "2022-01-07", "b1");
    let film = work(
        101,
        "Tower Saga: The Movie",
        Kind::Movie,
        "2023-06-16",
        "b3",
    );
    let mut third = Entry::new(103, "Tower Saga Season 3");
    third.aired_from = "2026-10-02".parse().ok();
    third.external_ids.insert("anilist".into(), "5003".into());
    second.relations = vec![
        Related {
            kind: RelationKind::Sequel,
            source: "anilist".into(),
            external_id: "5003".into(),
            title: "Tower Saga Season 3".into(),
        },
        Related {
            kind: RelationKind::SideStory,
            source: "anilist".into(),
            external_id: "9999".into(),
            title: "Tower Saga Picture Drama".into(),
        },
    ];
    let mut file = Vec::new();
    rouge::import::rouge_json::write(&[first, film, second, third], &mut file).expect("a file");
    app.import(rouge::import::Format::Rouge, &file, "test", |_, _| {})
        .expect("imports");
    let Reply::List(list) = app.handle_line(&in_group("42"), "/anime related #102") else {
        panic!("a list")
    };
    let lines: Vec<(Option<u64>, &str)> = list
        .items
        .iter()
        .map(|i| (i.id, i.detail.split(" · ").next().unwrap_or_default()))
        .collect();
    assert_eq!(
        lines,
        [
            (Some(100), "same franchise"),
            (Some(101), "same franchise"),
            (Some(103), "sequel"),
            (None, "side story"),
        ],
        "airing order, the unknown work last, without itself"
    );
    let Reply::List(none) = app.handle_line(&in_group("42"), "/anime related frieren") else {
        panic!("a list")
    };
    assert!(none.items.is_empty() && none.empty.contains("No relations"));
}
