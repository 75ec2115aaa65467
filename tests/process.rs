#![cfg(all(feature = "telegram", feature = "discord"))]
//! The whole process under faults: `rouge serve` as a real process against
//! the Telegram and Discord mocks at once, killed with SIGKILL again and
//! again during a fan-out to 1,000 chats, restarted each time. Every chat
//! must get its post exactly once, apart from at most the sends in flight at
//! each kill, and the store must open cleanly after every kill.

#[path = "support/discord_mock.rs"]
mod discord_mock;
#[path = "support/telegram_mock.rs"]
mod telegram_mock;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use discord_mock::DiscordMock;
use rouge::core::app::{App, Settings};
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

fn serve(data: &std::path::Path, telegram: &TelegramMock, discord: &DiscordMock) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rouge"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ROUGE_") {
            command.env_remove(key);
        }
    }
    command
        .arg("--data-dir")
        .arg(data)
        .arg("serve")
        .current_dir(data.parent().expect("a parent"))
        .env("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
        .env("DISCORD_TOKEN", DISCORD_TOKEN)
        .env("ROUGE_TELEGRAM__API_URL", telegram.url())
        .env("ROUGE_DISCORD__API_BASE", discord.url())
        .env("ROUGE_HTTP__LISTEN", "")
        // The mocks do not rate-limit; faster limits keep the test short.
        .env("ROUGE_ANNOUNCE__TELEGRAM__GLOBAL_PER_SECOND", "300")
        .env("ROUGE_ANNOUNCE__DISCORD__GLOBAL_PER_SECOND", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rouge serve starts")
}

/// Posts per chat seen by the mocks so far.
fn posts(telegram: &TelegramMock, discord: &DiscordMock) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in telegram.requests_to("sendmessage") {
        if r.text().is_some_and(|t| t.contains("New episode")) {
            *counts
                .entry(format!("t{}", r.chat_id().unwrap_or_default()))
                .or_insert(0) += 1;
        }
    }
    for r in discord.requests_to("POST", "/channels/{channel_id}/messages") {
        *counts
            .entry(format!(
                "d{}",
                r.param_u64("channel_id").unwrap_or_default()
            ))
            .or_insert(0) += 1;
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
    child: &mut Child,
) {
    let started = Instant::now();
    while posts(telegram, discord).len() < count {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("rouge serve exited by itself with {status:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {count} posts",
            posts(telegram, discord).len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_a_429_storm_during_fan_out_lose_nothing() {
    if !TelegramMock::spec_available() || !DiscordMock::spec_available() {
        println!("skipping: ../shared/specs not found");
        return;
    }
    let telegram = TelegramMock::start(TELEGRAM_TOKEN).await;
    let discord = DiscordMock::start(DISCORD_TOKEN, APP_ID).await;
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
    let mut child = serve(&data, &telegram, &discord);
    wait_for_posts(&telegram, &discord, 60, &mut child).await;
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "SIGTERM must stop serve within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let mut child = serve(&data, &telegram, &discord);
    wait_for_posts(&telegram, &discord, 200, &mut child).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(child.wait().expect("exit").success());
    let counts = posts(&telegram, &discord);
    assert_eq!(counts.len(), 200, "every chat got its post");
    let duplicated: usize = counts.values().map(|n| n - 1).sum();
    // A clean stop records what it sent: nothing may repeat.
    assert_eq!(duplicated, 0, "{counts:?}");
    assert!(telegram.violations().is_empty() && discord.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_fan_out_loses_nothing_and_repeats_only_in_flight_sends() {
    if !TelegramMock::spec_available() || !DiscordMock::spec_available() {
        println!("skipping: ../shared/specs not found");
        return;
    }
    let telegram = TelegramMock::start(TELEGRAM_TOKEN).await;
    let discord = DiscordMock::start(DISCORD_TOKEN, APP_ID).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // The whole fan-out is queued before the first start.
    queue_fan_out(&data, CHATS_PER_PLATFORM);

    let total = 2 * CHATS_PER_PLATFORM as usize;
    let mut kills = 0;
    let started = Instant::now();
    // Kill at spread-out moments: after a number of posts, not of seconds.
    let mut targets = (1..=KILLS).map(|k| k * total / (KILLS + 2)).peekable();
    loop {
        let mut child = serve(&data, &telegram, &discord);
        let target = targets.peek().copied();
        loop {
            let delivered = posts(&telegram, &discord).len();
            if target.is_some_and(|t| delivered >= t) || delivered >= total {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("rouge serve exited by itself with {status:?}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(240),
                "the fan-out did not finish ({delivered} of {total})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if target.is_some() && posts(&telegram, &discord).len() < total {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            kills += 1;
            targets.next();
            continue;
        }
        // Everything delivered: let the last round be recorded, then stop it properly.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(term.success());
        let status = child.wait().expect("exit");
        assert!(status.success(), "{status:?}");
        break;
    }

    let counts = posts(&telegram, &discord);
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
    let store = Store::open(&data).expect("the store opens after the kills");
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
