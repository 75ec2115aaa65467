#![cfg(all(feature = "telegram", feature = "discord"))]
//! The whole process under faults: `rouge serve` as a real process against
//! the Telegram and Discord mocks at once, killed with SIGKILL again and
//! again during a fan-out to 1,000 chats (and to 1,000 followers' private
//! chats), restarted each time. Every chat must get its post exactly once,
//! apart from at most the sends in flight at each kill, and the store must
//! open cleanly after every kill.

#[path = "support/discord_mock.rs"]
mod discord_mock;
#[path = "support/serve.rs"]
mod serve;
#[path = "support/telegram_mock.rs"]
mod telegram_mock;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use discord_mock::DiscordMock;
use rouge::app::{App, Settings};
use rouge::core::caller::{Caller, Platform};
use rouge::core::clock::SystemClock;
use rouge::store::Store;
use telegram_mock::TelegramMock;

const TELEGRAM_TOKEN: &str = "123456:TEST-token";
const DISCORD_TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GmOcK1.rouge-test-secret";
const APP_ID: u64 = 1_200_000_000_000_000_002;
const CHATS_PER_PLATFORM: u64 = 500;
const KILLS: usize = 12;
/// The dispatcher's default number of sends in flight per platform.
const MAX_IN_FLIGHT: usize = 16;
/// What one kill can repeat per platform: the sends not yet answered (at
/// most `MAX_IN_FLIGHT`) plus the round whose answers were recorded but not
/// yet flushed to disk (at most as many again).
const REPEATABLE_PER_KILL: usize = 2 * 2 * MAX_IN_FLIGHT;

fn discord_channel(i: u64) -> u64 {
    900_000_000_000_100_000 + i
}

fn telegram_chat(i: u64) -> i64 {
    10_000 + i as i64
}

fn start(data: &std::path::Path, telegram: &TelegramMock, discord: &DiscordMock) -> serve::Serve {
    serve::start(
        data,
        &[
            ("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN.to_owned()),
            ("DISCORD_TOKEN", DISCORD_TOKEN.to_owned()),
            ("ROUGE_TELEGRAM__API_URL", telegram.url()),
            ("ROUGE_DISCORD__API_BASE", discord.url()),
            ("ROUGE_HTTP__LISTEN", String::new()),
            ("RUST_LOG", "info".to_owned()),
            // The mocks do not rate-limit; faster limits keep the test short.
            (
                "ROUGE_ANNOUNCE__TELEGRAM__GLOBAL_PER_SECOND",
                "300".to_owned(),
            ),
            (
                "ROUGE_ANNOUNCE__DISCORD__GLOBAL_PER_SECOND",
                "300".to_owned(),
            ),
        ],
    )
}

/// Announcements per chat that the mocks accepted so far (a refused send,
/// such as a 429, is not a post).
fn posts(telegram: &TelegramMock, discord: &DiscordMock) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in telegram.sent_messages() {
        if message["text"]
            .as_str()
            .is_some_and(|t| t.contains("New episode"))
        {
            *counts
                .entry(format!("t{}", message["chat"]["id"]))
                .or_insert(0) += 1;
        }
    }
    for message in discord.messages() {
        if message["embeds"][0]["title"]
            .as_str()
            .is_some_and(|t| t.contains("New episode"))
        {
            *counts
                .entry(format!(
                    "d{}",
                    message["channel_id"].as_str().unwrap_or_default()
                ))
                .or_insert(0) += 1;
        }
    }
    counts
}

/// Subscribes `n` chats per platform and queues one release for them.
fn queue_fan_out(data: &std::path::Path, n: u64) {
    let app = App::open(
        Store::open(data).expect("store"),
        Settings::default(),
        Arc::new(SystemClock),
    )
    .expect("app");
    for i in 0..n {
        for (platform, chat) in [
            (Platform::Telegram, telegram_chat(i).to_string()),
            (Platform::Discord, discord_channel(i).to_string()),
        ] {
            let admin = Caller {
                platform,
                user_id: "1".into(),
                chat_id: chat,
                is_chat_admin: true,
                is_group: false,
            };
            app.handle_line(&admin, "/anime subscribe #1");
        }
    }
    let reply = app.handle_line(
        &Caller::local_owner(),
        "/anime admin episode #1 ep=13 audio=Tamil",
    );
    assert!(
        format!("{reply:?}").contains(&format!("{} chats", 2 * n)),
        "{reply:?}"
    );
}

async fn wait_for_posts(
    telegram: &TelegramMock,
    discord: &DiscordMock,
    count: usize,
    serving: &mut serve::Serve,
) {
    let started = Instant::now();
    while posts(telegram, discord).len() < count {
        serving.assert_running();
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {count} posts",
            posts(telegram, discord).len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Both platform mocks, or `None` (after saying why) without the published specs.
async fn mocks() -> Option<(TelegramMock, DiscordMock)> {
    if !TelegramMock::spec_available() || !DiscordMock::spec_available() {
        println!("skipping: ../shared/specs not found");
        return None;
    }
    Some((
        TelegramMock::start(TELEGRAM_TOKEN).await,
        DiscordMock::start(DISCORD_TOKEN, APP_ID).await,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_a_429_storm_during_fan_out_lose_nothing() {
    let Some((telegram, discord)) = mocks().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    queue_fan_out(&data, 100);
    // A storm of 429s on Telegram: the first 150 sends are refused.
    telegram.fail(
        "sendmessage",
        None,
        telegram_mock::Failure::RetryAfter(1),
        150,
    );
    discord.fail(
        "POST",
        "/channels/{channel_id}/messages",
        None,
        discord_mock::Failure::RateLimited {
            retry_after: 0.5,
            global: false,
        },
        50,
    );
    let mut serving = start(&data, &telegram, &discord);
    wait_for_posts(&telegram, &discord, 60, &mut serving).await;
    let (status, _) = serving.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    let mut serving = start(&data, &telegram, &discord);
    wait_for_posts(&telegram, &discord, 200, &mut serving).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = serving.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    let counts = posts(&telegram, &discord);
    assert_eq!(counts.len(), 200, "every chat got its post");
    let duplicated: usize = counts.values().map(|n| n - 1).sum();
    // A clean stop records what it sent: nothing may repeat.
    assert_eq!(duplicated, 0, "{counts:?}");
    assert!(telegram.violations().is_empty() && discord.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_fan_out_loses_nothing_and_repeats_only_in_flight_sends() {
    let Some((telegram, discord)) = mocks().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // The whole fan-out is queued before the first start.
    queue_fan_out(&data, CHATS_PER_PLATFORM);
    kill_during_fan_out(&data, &telegram, &discord, 2 * CHATS_PER_PLATFORM as usize).await;
}

/// 1,000 people follow a title from their private chats: each private
/// alert arrives exactly once, apart from sends in flight at each kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_fan_out_to_1000_followers_loses_nothing() {
    let Some((telegram, discord)) = mocks().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let followers = 2 * CHATS_PER_PLATFORM;
    {
        let app = App::open(
            Store::open(&data).expect("store"),
            Settings::default(),
            Arc::new(SystemClock),
        )
        .expect("app");
        for i in 0..followers {
            let user = telegram_chat(i).to_string();
            let person = Caller {
                platform: Platform::Telegram,
                user_id: user.clone(),
                chat_id: user,
                is_chat_admin: true,
                is_group: false,
            };
            let reply = app.handle_line(&person, "/anime follow #1");
            assert!(format!("{reply:?}").contains("You follow"), "{reply:?}");
        }
        let reply = app.handle_line(
            &Caller::local_owner(),
            "/anime admin episode #1 ep=13 audio=Tamil",
        );
        assert!(
            format!("{reply:?}").contains(&format!("{followers} chats")),
            "{reply:?}"
        );
    }
    kill_during_fan_out(&data, &telegram, &discord, followers as usize).await;
}

/// Starts `rouge serve` on `data` and kills it with SIGKILL at spread-out
/// moments of a queued fan-out to `total` chats, restarting it each time,
/// until every chat has its post; then checks nothing was lost, at most the
/// sends in flight were repeated, and the store opens cleanly.
async fn kill_during_fan_out(
    data: &std::path::Path,
    telegram: &TelegramMock,
    discord: &DiscordMock,
    total: usize,
) {
    let mut kills = 0;
    let started = Instant::now();
    // Kill at spread-out moments: after a number of posts, not of seconds.
    let mut targets = (1..=KILLS).map(|k| k * total / (KILLS + 2)).peekable();
    loop {
        let mut serving = start(data, telegram, discord);
        let target = targets.peek().copied();
        loop {
            let delivered = posts(telegram, discord).len();
            if target.is_some_and(|t| delivered >= t) || delivered >= total {
                break;
            }
            serving.assert_running();
            assert!(
                started.elapsed() < Duration::from_secs(240),
                "the fan-out did not finish ({delivered} of {total})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if target.is_some() && posts(telegram, discord).len() < total {
            serving.kill();
            kills += 1;
            targets.next();
            continue;
        }
        // Everything delivered: let the last round be recorded, then stop it properly.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, _) = serving.terminate(Duration::from_secs(10)).await;
        assert!(status.success(), "{status:?}");
        break;
    }

    let counts = posts(telegram, discord);
    let lost = total - counts.len();
    let duplicated: usize = counts.values().map(|n| n - 1).sum();
    println!(
        "{kills} kills; {total} chats; lost {lost}; duplicated {duplicated} (in-flight bound {})",
        kills * REPEATABLE_PER_KILL
    );
    assert!(
        kills >= 10,
        "only {kills} kills happened during the fan-out"
    );
    assert_eq!(lost, 0);
    assert!(
        duplicated <= kills * REPEATABLE_PER_KILL,
        "{duplicated} duplicates"
    );
    // The store opens cleanly and agrees: nothing left queued.
    let store = Store::open_waiting(data, Duration::from_secs(10))
        .expect("the store opens after the kills");
    assert_eq!(
        store.queued(Platform::Telegram) + store.queued(Platform::Discord),
        0
    );
    assert!(
        telegram.violations().is_empty(),
        "{:#?}",
        telegram.violations()
    );
    assert!(
        discord.violations().is_empty(),
        "{:#?}",
        discord.violations()
    );
}

/// A TCP proxy on 127.0.0.1 in front of `target` that misbehaves like a bad
/// network: after start-up it drops every third new connection at once and cuts every
/// connection it forwards after `life`. Returns its address and a counter of
/// the connections it cut while forwarding.
async fn flaky_proxy(
    target: std::net::SocketAddr,
    life: Duration,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    let cut = Arc::new(AtomicUsize::new(0));
    let cut_count = Arc::clone(&cut);
    tokio::spawn(async move {
        let mut accepted = 0usize;
        while let Ok((mut client, _)) = listener.accept().await {
            accepted += 1;
            // Start-up gets through (a failed gateway look-up at start stops
            // serve by design, for a supervisor to restart it); after that
            // every third new connection is dropped.
            if accepted > 10 && accepted.is_multiple_of(3) {
                drop(client);
                continue;
            }
            let cut = Arc::clone(&cut_count);
            tokio::spawn(async move {
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                if tokio::time::timeout(
                    life,
                    tokio::io::copy_bidirectional(&mut client, &mut upstream),
                )
                .await
                .is_err()
                {
                    cut.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    (address, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_lose_nothing() {
    let Some((telegram, discord)) = mocks().await else {
        return;
    };
    let target: std::net::SocketAddr = discord
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("mock address");
    let (proxy, cut) = flaky_proxy(target, Duration::from_millis(200)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    queue_fan_out(&data, 100);
    // Discord's REST traffic goes through the flaky proxy; failed sends are retried quickly.
    let mut serving = serve::start(
        &data,
        &[
            ("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN.to_owned()),
            ("DISCORD_TOKEN", DISCORD_TOKEN.to_owned()),
            ("ROUGE_TELEGRAM__API_URL", telegram.url()),
            ("ROUGE_DISCORD__API_BASE", format!("http://{proxy}")),
            ("ROUGE_HTTP__LISTEN", String::new()),
            ("ROUGE_ANNOUNCE__MAX_ATTEMPTS", "100".to_owned()),
            ("ROUGE_ANNOUNCE__BACKOFF_BASE_SECS", "1".to_owned()),
            ("ROUGE_ANNOUNCE__BACKOFF_MAX_SECS", "1".to_owned()),
            ("ROUGE_ANNOUNCE__SEND_TIMEOUT_SECS", "2".to_owned()),
        ],
    );
    wait_for_posts(&telegram, &discord, 200, &mut serving).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = serving.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    let counts = posts(&telegram, &discord);
    let duplicated: usize = counts.values().map(|n| n - 1).sum();
    let cut = cut.load(std::sync::atomic::Ordering::Relaxed);
    println!("200 chats; lost 0; duplicated {duplicated}; connections cut while forwarding {cut}");
    assert_eq!(counts.len(), 200);
    // A connection cut after the post was made but before its answer arrived
    // repeats that one post, at most.
    assert!(
        duplicated <= cut,
        "{duplicated} repeats for {cut} cut connections"
    );
    assert!(
        discord.violations().is_empty(),
        "{:#?}",
        discord.violations()
    );
}

/// Discord cannot be reached at start (nothing listens at its address):
/// the bot keeps running, Telegram answers, `/healthz` says which adapter
/// is down; a token Telegram refuses stops the process with a clear message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_platform_does_not_take_the_other_down() {
    let Some((telegram, _discord)) = mocks().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let http_port = serve::free_port();
    let nowhere = format!("http://127.0.0.1:{}", serve::free_port());
    let mut serving = serve::start(
        &dir.path().join("data"),
        &[
            ("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN.to_owned()),
            ("DISCORD_TOKEN", DISCORD_TOKEN.to_owned()),
            ("ROUGE_TELEGRAM__API_URL", telegram.url()),
            ("ROUGE_DISCORD__API_BASE", nowhere),
            ("ROUGE_HTTP__LISTEN", format!("127.0.0.1:{http_port}")),
            ("RUST_LOG", "warn".to_owned()),
        ],
    );
    telegram.push_update(TelegramMock::text_message(
        42,
        "private",
        42,
        "/anime metallic rouge",
    ));
    let sent = telegram
        .wait_for("sendmessage", 1, Duration::from_secs(30))
        .await;
    assert!(
        !sent.is_empty(),
        "Telegram answers while Discord is unreachable"
    );
    serving.assert_running();
    let health: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
        .get(format!("http://127.0.0.1:{http_port}/healthz"))
        .send()
        .await
        .expect("healthz answers")
        .json()
        .await
        .expect("json");
    assert_eq!(health["components"]["telegram"], true, "{health}");
    assert_eq!(health["components"]["discord"], false, "{health}");
    let (status, logs) = serving.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{logs}");
    assert!(logs.contains("retrying"), "{logs}");

    let refused = serve::start(
        &dir.path().join("data"),
        &[
            ("TELEGRAM_BOT_TOKEN", "999999:WRONG-token".to_owned()),
            ("ROUGE_TELEGRAM__API_URL", telegram.url()),
            ("ROUGE_HTTP__LISTEN", String::new()),
        ],
    );
    let (status, logs) = refused.wait_exit(Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(logs.contains("rejected the bot token"), "{logs}");
    assert!(
        !logs.contains("WRONG-token"),
        "the token is never printed: {logs}"
    );
}

/// `rouge serve` writes a backup by itself at start when the newest is
/// older than a day (here: there is none), keeps the newest few, and the
/// backup restores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_writes_automatic_backups_and_keeps_the_newest() {
    let Some((telegram, _discord)) = mocks().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let backups = dir.path().join("data-backups");
    std::fs::create_dir_all(&backups).expect("dir");
    for old in [
        "rouge-20200101-000000.backup",
        "rouge-20200102-000000.backup",
    ] {
        std::fs::write(backups.join(old), b"old").expect("an old backup");
        let file = std::fs::File::options()
            .write(true)
            .open(backups.join(old))
            .expect("opens");
        let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
        file.set_modified(two_days_ago).expect("dated");
    }
    let serving = serve::start(
        &dir.path().join("data"),
        &[
            ("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN.to_owned()),
            ("ROUGE_TELEGRAM__API_URL", telegram.url()),
            ("ROUGE_HTTP__LISTEN", String::new()),
            ("ROUGE_BACKUP__KEEP", "2".to_owned()),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut serving = serving;
    let newest = loop {
        let mut names: Vec<String> = std::fs::read_dir(&backups)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if names
            .iter()
            .any(|n| !n.starts_with("rouge-2020") && n.ends_with(".backup"))
        {
            break names;
        }
        if Instant::now() > deadline {
            let (_, logs) = serving.terminate(Duration::from_secs(20)).await;
            panic!("no automatic backup: {names:?}\n{logs}");
        }
        serving.assert_running();
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, logs) = serving.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{logs}");
    assert_eq!(newest.len(), 2, "the two newest are kept: {newest:?}");
    assert_eq!(newest[0], "rouge-20200102-000000.backup");
    let restored = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .arg("--data-dir")
        .arg(dir.path().join("restored"))
        .arg("restore")
        .arg(backups.join(&newest[1]))
        .env("ROUGE_OFFLINE", "true")
        .output()
        .expect("rouge restore runs");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
}
