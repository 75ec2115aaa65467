#![cfg(feature = "telegram")]
//! `rouge serve` as a real process with a live source: the Telegram adapter
//! against the Telegram mock and AniList against the AniList mock, both on
//! 127.0.0.1. AniList's airing schedule decides which episodes come due;
//! the process is killed with SIGKILL after the refresh that learnt them
//! and again while a refresh and the fan-out are both under way, and every
//! chat still gets each episode's post exactly once. `/healthz` says the
//! source is degraded while AniList fails, and healthy once it answers.

#[path = "support/anilist_mock.rs"]
mod anilist_mock;
#[path = "support/serve.rs"]
mod serve;
#[path = "support/telegram_mock.rs"]
mod telegram_mock;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anilist_mock::{AniListConfig, AniListMock, Failure};
use chrono::{DateTime, Utc};
use rouge::app::{App, Settings};
use rouge::core::caller::{Caller, Platform};
use rouge::core::catalog::model::{Broadcast, Entry, Kind};
use rouge::core::clock::SystemClock;
use rouge::core::reply::Reply;
use rouge::import::Format;
use rouge::store::Store;
use serde_json::json;
use telegram_mock::TelegramMock;

const TOKEN: &str = "123456:TEST-token";
const CHATS: i64 = 60;
/// Someone asking the bot what airs (not a subscriber).
const VIEWER: i64 = 777;

/// A show in the catalog and what AniList lists for it: (episode, seconds
/// after the first airing).
struct Show {
    entry: u64,
    anilist: i64,
    title: &'static str,
    airings: [(u32, i64); 2],
}

/// Two shows; a double episode each, the four posts a second apart, so a
/// chat's posts keep within Telegram's one a second per chat.
const SHOWS: [Show; 2] = [
    Show {
        entry: 1,
        anilist: 991_001,
        title: "Kill Test Alpha",
        airings: [(9, 0), (10, 2)],
    },
    Show {
        entry: 2,
        anilist: 991_002,
        title: "Kill Test Beta",
        airings: [(4, 1), (5, 3)],
    },
];

fn chat(i: i64) -> i64 {
    20_000 + i
}

fn timestamp(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).expect("a valid time")
}

/// A data directory whose catalog holds the shows, as bangumi-data gives
/// them: a weekly broadcast rule that began ten weeks ago, at a time of day
/// half a day from `first` (so the rule alone makes nothing come due during
/// the test) and no episode count. Every chat subscribes to both.
fn prepare(data: &std::path::Path, first: i64) {
    let app = App::open(
        Store::open(data).expect("store"),
        Settings {
            seed_demo: false,
            ..Settings::default()
        },
        Arc::new(SystemClock),
    )
    .expect("app");
    let slot = timestamp(first + 12 * 3600) - chrono::Duration::weeks(10);
    let entries: Vec<Entry> = SHOWS
        .iter()
        .map(|show| {
            let mut entry = Entry::new(show.entry, show.title);
            entry.kind = Some(Kind::Tv);
            entry
                .external_ids
                .insert("anilist".into(), show.anilist.to_string());
            entry.broadcasts.push(Broadcast {
                platform: "tv".into(),
                rule: format!("R/{}/P7D", slot.format("%Y-%m-%dT%H:%M:%S.000Z")),
                ends: None,
            });
            entry
        })
        .collect();
    let mut file = Vec::new();
    rouge::import::rouge_json::write(&entries, &mut file).expect("a rouge file");
    app.import(Format::Rouge, &file, "test", |_, _| {})
        .expect("the shows import");
    for i in 0..CHATS {
        let admin = Caller {
            platform: Platform::Telegram,
            user_id: chat(i).to_string(),
            chat_id: chat(i).to_string(),
            is_chat_admin: true,
            is_group: false,
        };
        for show in &SHOWS {
            let reply = app.handle_line(&admin, &format!("/anime subscribe #{}", show.entry));
            assert!(matches!(reply, Reply::Done(_)), "{reply:?}");
        }
    }
}

/// AniList with the two shows airing from `first` (Unix seconds) on.
async fn anilist(first: i64) -> AniListMock {
    let mock = AniListMock::start_with(AniListConfig::default().without_fixtures()).await;
    for show in &SHOWS {
        mock.put_media(json!({
            "id": show.anilist, "type": "ANIME", "format": "TV", "status": "RELEASING",
            "title": {"romaji": show.title, "userPreferred": show.title},
            "episodes": 12, "duration": 24, "isAdult": false
        }));
        for (episode, after) in show.airings {
            mock.put_airing(
                json!({"airingAt": first + after, "episode": episode, "mediaId": show.anilist}),
            );
        }
    }
    mock
}

fn start(data: &std::path::Path, telegram: &TelegramMock, anilist: &AniListMock) -> serve::Serve {
    serve::start(
        data,
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("ROUGE_TELEGRAM__API_URL", telegram.url()),
            ("ROUGE_HTTP__LISTEN", String::new()),
            ("ROUGE_SEED_DEMO", "false".to_owned()),
            ("ROUGE_BACKUP__EVERY_HOURS", "0".to_owned()),
            ("ROUGE_OFFLINE", "false".to_owned()),
            ("ROUGE_SOURCES__ANILIST__URL", anilist.url()),
            // A request AniList leaves unanswered stays in flight until the kill.
            ("ROUGE_SOURCES__ANILIST__TIMEOUT_SECS", "60".to_owned()),
            ("ROUGE_SOURCES__JIKAN__ENABLED", "false".to_owned()),
            ("ROUGE_ANNOUNCE__SCHEDULE_INTERVAL_SECS", "1".to_owned()),
            // The mock does not rate-limit; a higher limit keeps the test short.
            (
                "ROUGE_ANNOUNCE__TELEGRAM__GLOBAL_PER_SECOND",
                "300".to_owned(),
            ),
        ],
    )
}

/// One post: (chat, show title, episode).
type Post = (i64, String, u32);

/// The announcements `telegram` accepted (a refused send is not a post).
fn posts(telegram: &TelegramMock) -> Vec<Post> {
    telegram
        .sent_messages()
        .iter()
        .filter_map(|m| {
            let text = m["text"].as_str()?;
            let rest = text.split_once("New episode: ")?.1;
            let (title, rest) = rest.split_once(" — episode ")?;
            let episode = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            Some((m["chat"]["id"].as_i64()?, title.to_owned(), episode))
        })
        .collect()
}

/// The sends to each chat that `telegram` refused.
fn refused(telegram: &TelegramMock) -> HashMap<i64, usize> {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for request in telegram.requests_to("sendmessage") {
        if let Some(chat) = request.chat_id() {
            *counts.entry(chat).or_default() += 1;
        }
    }
    for message in telegram.sent_messages() {
        if let Some(n) = message["chat"]["id"]
            .as_i64()
            .and_then(|c| counts.get_mut(&c))
        {
            *n = n.saturating_sub(1);
        }
    }
    counts
}

/// Every post the test expects, once each.
fn expected() -> Vec<Post> {
    let mut all = Vec::new();
    for i in 0..CHATS {
        for show in &SHOWS {
            for (episode, _) in show.airings {
                all.push((chat(i), show.title.to_owned(), episode));
            }
        }
    }
    all
}

async fn until(what: &str, within: Duration, serving: &mut serve::Serve, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        serving.assert_running();
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_refresh_and_its_fan_out_posts_each_episode_once() {
    if !TelegramMock::spec_available() || !AniListMock::spec_available() {
        println!("skipping: ../shared/specs not found");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Far enough ahead for the first run to learn the schedule first.
    let first = Utc::now().timestamp() + 25;
    prepare(&data, first);
    let anilist = anilist(first).await;
    let telegram = TelegramMock::start(TOKEN).await;

    // 1. The refresh: AniList's schedule reaches the catalog (the bot lists
    // its episode numbers), then a SIGKILL before anything is due.
    let mut serving = start(&data, &telegram, &anilist);
    let listed = |telegram: &TelegramMock| {
        telegram.sent_messages().iter().any(|m| {
            m["chat"]["id"].as_i64() == Some(VIEWER)
                && m["text"].as_str().is_some_and(|t| {
                    t.contains("Kill Test Alpha")
                        && t.contains("episode 9")
                        && t.contains("Kill Test Beta")
                        && t.contains("episode 4")
                })
        })
    };
    let started = Instant::now();
    while !listed(&telegram) {
        serving.assert_running();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the bot never listed AniList's episodes"
        );
        telegram.push_update(TelegramMock::text_message(
            VIEWER,
            "private",
            VIEWER,
            "/anime airing 1",
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        Utc::now().timestamp() < first - 2,
        "the machine is too slow: the first episode is nearly due before the first kill"
    );
    serving.kill();
    assert!(posts(&telegram).is_empty(), "nothing was due yet");

    // 2. AniList stops answering (the restart's schedule poll hangs) and
    // the episodes come due from what the first run stored. Once a quarter
    // of the posts are out, Telegram refuses every send (a 429, so that no
    // send is answered-but-unrecorded at the kill: those are repeated by
    // design, see tests/process.rs); once the refusals are being retried,
    // SIGKILL with the fan-out half done and the refresh in flight.
    anilist.fail_always(Failure::Hang);
    let mut serving = start(&data, &telegram, &anilist);
    let total = expected().len();
    until(
        "a quarter of the posts",
        Duration::from_secs(60),
        &mut serving,
        || posts(&telegram).len() >= total / 4,
    )
    .await;
    telegram.fail(
        "sendmessage",
        None,
        telegram_mock::Failure::RetryAfter(1),
        1_000_000,
    );
    until(
        "a refused send retried",
        Duration::from_secs(30),
        &mut serving,
        || refused(&telegram).values().any(|&n| n >= 2),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hanging = anilist.requests().iter().filter(|r| r.status == 0).count();
    assert!(hanging >= 1, "a refresh is in flight at the kill");
    let before_kill = posts(&telegram);
    assert!(
        before_kill.len() < total,
        "the fan-out was under way at the kill"
    );
    serving.kill();

    // 3. Both services are back (the bot meets a Telegram server that
    // accepts its sends); the restart polls AniList's schedule again.
    anilist.clear_failures();
    let asked_before = anilist.requests().len();
    let telegram_after = TelegramMock::start(TOKEN).await;
    let mut serving = start(&data, &telegram_after, &anilist);
    let all = || {
        let mut got = posts(&telegram);
        got.extend(posts(&telegram_after));
        got
    };
    until("every post", Duration::from_secs(60), &mut serving, || {
        let got = all();
        expected().iter().all(|p| got.contains(p))
    })
    .await;
    // Time for a repeat to show: the schedule ticks every second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, logs) = serving.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{logs}");
    assert!(
        anilist.requests()[asked_before..]
            .iter()
            .any(|r| r.status == 200 && r.page_fields.iter().any(|f| f == "airingSchedules")),
        "the restart read AniList's schedule again"
    );

    let mut counts: HashMap<Post, usize> = HashMap::new();
    for post in all() {
        *counts.entry(post).or_default() += 1;
    }
    let lost: Vec<Post> = expected()
        .into_iter()
        .filter(|p| !counts.contains_key(p))
        .collect();
    let repeated: Vec<(&Post, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let unexpected: Vec<&Post> = counts.keys().filter(|p| !expected().contains(p)).collect();
    println!(
        "{total} posts expected; {} before the second kill, {} after; lost {}, repeated {}",
        before_kill.len(),
        posts(&telegram_after).len(),
        lost.len(),
        repeated.len()
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(repeated.is_empty(), "posted more than once: {repeated:?}");
    assert!(
        unexpected.is_empty(),
        "only AniList's episodes: {unexpected:?}"
    );
    assert!(telegram.violations().is_empty() && telegram_after.violations().is_empty());
    assert!(anilist.invalid_queries().is_empty() && anilist.unsupported().is_empty());
    assert!(anilist.violations().is_empty());
}

/// `/healthz` of a running bot while AniList answers 503: still 200 (the
/// bot answers from the store) but `degraded`, naming the source; and
/// healthy again once a look-up's refresh gets an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_says_degraded_while_anilist_fails_and_ok_once_it_answers() {
    if !TelegramMock::spec_available() || !AniListMock::spec_available() {
        println!("skipping: ../shared/specs not found");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let telegram = TelegramMock::start(TOKEN).await;
    // The fixtures hold Metallic Rouge, in the demo catalog with its AniList id.
    let anilist = AniListMock::start().await;
    anilist.fail_always(Failure::Unavailable);
    let port = serve::free_port();
    let mut serving = serve::start(
        &dir.path().join("data"),
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("ROUGE_TELEGRAM__API_URL", telegram.url()),
            ("ROUGE_HTTP__LISTEN", format!("127.0.0.1:{port}")),
            ("ROUGE_BACKUP__EVERY_HOURS", "0".to_owned()),
            ("ROUGE_OFFLINE", "false".to_owned()),
            ("ROUGE_SOURCES__ANILIST__URL", anilist.url()),
            ("ROUGE_SOURCES__ANILIST__TIMEOUT_SECS", "2".to_owned()),
            ("ROUGE_SOURCES__JIKAN__ENABLED", "false".to_owned()),
        ],
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    let health = || async {
        let response = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .ok()?;
        let code = response.status().as_u16();
        let body: serde_json::Value = response.json().await.ok()?;
        Some((code, body))
    };
    let wait_for = |status: &'static str| async move {
        let started = Instant::now();
        loop {
            if let Some((code, body)) = health().await
                && body["status"] == status
            {
                return (code, body);
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "/healthz never said {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    // The schedule poll at start meets the 503.
    let (code, body) = wait_for("degraded").await;
    assert_eq!(
        code, 200,
        "a failing source does not make the bot unhealthy"
    );
    let source = &body["sources"][0];
    assert_eq!(source["source"], "anilist", "{body}");
    assert_eq!(source["healthy"], false, "{body}");
    assert!(
        source["detail"].as_str().is_some_and(|d| d.contains("503")),
        "{body}"
    );
    assert_eq!(body["components"]["telegram"], true, "{body}");
    serving.assert_running();

    // AniList is back; a card never fetched asks for it, and the answer heals the source.
    anilist.clear_failures();
    telegram.push_update(TelegramMock::text_message(
        42,
        "private",
        42,
        "/anime metallic rouge",
    ));
    let (code, body) = wait_for("ok").await;
    assert_eq!(code, 200);
    assert_eq!(body["sources"][0]["healthy"], true, "{body}");
    let (status, logs) = serving.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{logs}");
    assert!(
        anilist
            .requests()
            .iter()
            .any(|r| r.status == 200 && r.ids.contains(&162_985)),
        "the look-up's refresh was answered"
    );
    assert!(anilist.invalid_queries().is_empty() && anilist.unsupported().is_empty());
}
