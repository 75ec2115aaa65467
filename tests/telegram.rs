#![cfg(feature = "telegram")]
//! The Telegram adapter end to end: the real teloxide client against a local
//! Bot API mock on 127.0.0.1 that checks every request against the published
//! API (`../shared/specs/telegram-bot-api.json`).

#[path = "support/serve.rs"]
mod serve;
#[path = "support/telegram_mock.rs"]
mod telegram_mock;

use std::sync::Arc;
use std::time::Duration;

use rouge::adapters::telegram::{self, TelegramNotifier};
use rouge::app::dispatch::Dispatcher;
use rouge::app::{App, Settings};
use rouge::config::Config;
use rouge::core::announce::limits::{DispatchSettings, RateLimits};
use rouge::core::caller::{ChatRef, Platform};
use rouge::core::clock::SystemClock;
use rouge::store::Store;
use secrecy::SecretString;
use serde_json::Value;
use telegram_mock::{Failure, TelegramMock};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "123456:TEST-token";
const OWNER: i64 = 4242;
const WAIT: Duration = Duration::from_secs(10);

macro_rules! require_spec {
    () => {
        if !TelegramMock::spec_available() {
            println!("skipping: ../shared/specs/telegram-bot-api.json not found");
            return;
        }
    };
}

/// A running adapter (and dispatcher) against a fresh mock.
struct Harness {
    mock: TelegramMock,
    app: App,
    /// The app's store, to check what it recorded.
    store: Store,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Harness {
    async fn start() -> Harness {
        let mock = TelegramMock::start(TOKEN).await;
        let settings = Settings {
            owners: vec![format!("telegram:{OWNER}")],
            ..Settings::default()
        };
        let store = Store::temporary().expect("store");
        let app = App::open(store.clone(), settings, Arc::new(SystemClock)).expect("app");
        let mut config = Config::load_without_env(None).expect("defaults").telegram;
        config.api_url = mock.url();
        let bot = telegram::bot(&SecretString::from(TOKEN), &config).expect("bot");
        let stop = CancellationToken::new();
        let adapter = tokio::spawn({
            let (app, stop) = (app.clone(), stop.clone());
            async move {
                telegram::run(app, bot, config, None, stop)
                    .await
                    .expect("the adapter runs")
            }
        });
        let harness = Harness {
            mock,
            app,
            store,
            stop,
            tasks: vec![adapter],
        };
        harness.mock.wait_for("getupdates", 1, WAIT).await;
        harness
    }

    fn start_dispatcher(&mut self) {
        let mut config = Config::load_without_env(None).expect("defaults").telegram;
        config.api_url = self.mock.url();
        let bot = telegram::bot(&SecretString::from(TOKEN), &config).expect("bot");
        let settings = DispatchSettings {
            backoff_base: Duration::from_millis(200),
            ..DispatchSettings::with_limits(RateLimits::TELEGRAM)
        };
        let dispatcher = Dispatcher::new(
            self.app.clone(),
            Arc::new(TelegramNotifier::new(bot)),
            settings,
        );
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            dispatcher.run(stop, Duration::from_secs(2)).await
        }));
    }

    /// Sends a chat line from `user` in `chat` and waits for the bot's `n`-th sendMessage to that chat.
    async fn say(
        &self,
        chat: i64,
        chat_type: &str,
        user: i64,
        text: &str,
    ) -> Vec<telegram_mock::Request> {
        let before = self.sent_to(chat).len();
        self.mock
            .push_update(TelegramMock::text_message(chat, chat_type, user, text));
        self.wait_sent(chat, before + 1).await
    }

    fn sent_to(&self, chat: i64) -> Vec<telegram_mock::Request> {
        self.mock
            .requests()
            .into_iter()
            .filter(|r| {
                matches!(r.method.as_str(), "sendmessage" | "sendphoto")
                    && r.chat_id() == Some(chat)
            })
            .collect()
    }

    async fn wait_sent(&self, chat: i64, count: usize) -> Vec<telegram_mock::Request> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let sent = self.sent_to(chat);
            if sent.len() >= count || tokio::time::Instant::now() > deadline {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        assert!(
            self.mock.violations().is_empty(),
            "requests the Bot API would reject: {:#?}",
            self.mock.violations()
        );
        self.stop.cancel();
        for task in self.tasks {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("stops in time")
                .expect("no panic");
        }
    }
}

fn text_of(request: &telegram_mock::Request) -> String {
    request.text().unwrap_or_default().to_owned()
}

fn buttons(request: &telegram_mock::Request) -> Vec<(String, String)> {
    request
        .field("reply_markup")
        .and_then(|m| m["inline_keyboard"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or("").to_owned(),
                b["callback_data"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_gets_the_card_and_the_command_menu_is_published() {
    require_spec!();
    let h = Harness::start().await;
    assert_eq!(h.mock.requests_to("setmycommands").len(), 1);
    let sent = h.say(42, "private", 42, "/anime metallic rouge").await;
    let card = text_of(sent.last().expect("a reply"));
    for fact in [
        "Metallic Rouge",
        "TV",
        "13 × 24 min",
        "Tamil",
        "480p, 720p, 1080p",
        "IMDb 5.9",
        "MyAnimeList 6.2",
        "average <b>6.1</b>",
    ] {
        assert!(card.contains(fact), "{fact:?} missing in {card}");
    }
    assert_eq!(
        sent.last().and_then(|r| r.str_field("parse_mode")),
        Some("HTML")
    );
    // In a group, a command for another bot is not ours; ours with our name is.
    let before = h.sent_to(-100).len();
    h.mock.push_update(TelegramMock::text_message(
        -100,
        "group",
        7,
        "/anime@other_bot frieren",
    ));
    let sent = h
        .say(
            -100,
            "group",
            7,
            &format!("/anime@{} frieren", h.mock.bot_username()),
        )
        .await;
    assert_eq!(sent.len(), before + 1);
    assert!(text_of(&sent[before]).contains("Frieren"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picker_button_gets_the_chosen_card() {
    require_spec!();
    let h = Harness::start().await;
    let sent = h.say(42, "private", 42, "/anime scores de").await;
    let picker = sent.last().expect("a reply");
    let choices = buttons(picker);
    assert!(text_of(picker).contains("Which one"), "{}", text_of(picker));
    let (_, data) = choices.first().expect("buttons").clone();
    assert!(data.starts_with("/anime scores #"), "{data}");
    let message_id = picker.i64_field("reply_to_message_id").unwrap_or(1);
    h.mock
        .push_update(TelegramMock::callback_query(42, 42, message_id, &data));
    let sent = h.wait_sent(42, 2).await;
    assert!(
        text_of(&sent[1]).contains("Scores for"),
        "{}",
        text_of(&sent[1])
    );
    assert_eq!(
        h.mock.wait_for("answercallbackquery", 1, WAIT).await.len(),
        1
    );

    // Tampered and outdated buttons are answered, not obeyed.
    for data in ["/anime admin delete #1", "garbage", "/anime #999999"] {
        h.mock
            .push_update(TelegramMock::callback_query(42, 42, message_id, data));
    }
    let answers = h.mock.wait_for("answercallbackquery", 4, WAIT).await;
    assert!(
        answers[1]
            .str_field("text")
            .is_some_and(|t| t.contains("no longer valid"))
    );
    assert!(
        answers[3]
            .str_field("text")
            .is_some_and(|t| t.contains("no entry #999999"))
    );
    assert!(
        h.app.entry(1).is_some(),
        "a tampered button deletes nothing"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_queries_get_cards_as_articles() {
    require_spec!();
    let h = Harness::start().await;
    h.mock
        .push_update(TelegramMock::inline_query(42, "metallic"));
    let answers = h.mock.wait_for("answerinlinequery", 1, WAIT).await;
    let results = answers[0]
        .field("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(!results.is_empty() && results.len() <= 10);
    assert_eq!(results[0]["title"], "Metallic Rouge");
    assert!(
        results[0]["input_message_content"]["message_text"]
            .as_str()
            .is_some_and(|t| t.contains("average"))
    );
    h.mock.push_update(TelegramMock::inline_query(42, ""));
    let answers = h.mock.wait_for("answerinlinequery", 2, WAIT).await;
    assert_eq!(answers[1].field("results"), Some(&Value::Array(Vec::new())));
    assert_eq!(answers[0].field("is_personal"), Some(&Value::Bool(true)));
    // An adult title is no inline result until the person turns them on.
    h.say(
        OWNER,
        "private",
        OWNER,
        "/anime admin add \"Metallic Nights\" kind=tv adult=yes",
    )
    .await;
    let titles = |answer: &telegram_mock::Request| -> Vec<String> {
        answer
            .field("results")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r["title"].as_str().map(str::to_owned))
            .collect()
    };
    h.mock
        .push_update(TelegramMock::inline_query(42, "metallic"));
    let answers = h.mock.wait_for("answerinlinequery", 3, WAIT).await;
    assert!(!titles(&answers[2]).contains(&"Metallic Nights".to_owned()));
    h.say(42, "private", 42, "/anime me adult on").await;
    h.mock
        .push_update(TelegramMock::inline_query(42, "metallic"));
    let answers = h.mock.wait_for("answerinlinequery", 4, WAIT).await;
    assert!(
        titles(&answers[3]).contains(&"Metallic Nights".to_owned()),
        "{:?}",
        titles(&answers[3])
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_group_admins_subscribe_and_an_episode_posts_exactly_once() {
    require_spec!();
    let mut h = Harness::start().await;
    h.start_dispatcher();
    let group = -1001;
    h.mock.set_member_status(group, 10, "administrator");
    h.mock.set_member_status(group, 11, "member");
    let refused = h
        .say(group, "supergroup", 11, "/anime subscribe metallic rouge")
        .await;
    assert!(
        text_of(refused.last().expect("reply")).contains("Only this chat's admins"),
        "{:?}",
        refused.last()
    );
    let done = h
        .say(group, "supergroup", 10, "/anime subscribe metallic rouge")
        .await;
    assert!(
        text_of(done.last().expect("reply")).contains("Subscribed this chat"),
        "{:?}",
        done.last()
    );
    let before = h.sent_to(group).len();
    let owner_reply = h
        .say(
            OWNER,
            "private",
            OWNER,
            "/anime admin episode metallic rouge ep=13 audio=Tamil qualities=480p/720p/1080p",
        )
        .await;
    assert!(text_of(owner_reply.last().expect("reply")).contains("Announcing it in 1 chat"));
    let posts = h.wait_sent(group, before + 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts_after = h.sent_to(group);
    assert_eq!(posts_after.len(), posts.len(), "exactly one post");
    let post = text_of(posts.last().expect("post"));
    assert!(
        post.contains("New episode") && post.contains("episode 13") && post.contains("Tamil"),
        "{post}"
    );
    let commands: Vec<String> = buttons(posts.last().expect("post"))
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        commands,
        ["/anime #1", "/anime follow #1"],
        "a group's post offers Follow"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_a_403_deactivates() {
    require_spec!();
    let mut h = Harness::start().await;
    let (slow, gone) = (-2001, -2002);
    for chat in [slow, gone] {
        h.mock.set_member_status(chat, 10, "creator");
        h.say(chat, "supergroup", 10, "/anime subscribe #1").await;
    }
    h.mock
        .fail("sendmessage", Some(slow), Failure::RetryAfter(1), 1);
    h.mock
        .fail("sendmessage", Some(gone), Failure::Forbidden, 1);
    h.say(
        OWNER,
        "private",
        OWNER,
        "/anime admin episode #1 ep=12 audio=Tamil",
    )
    .await;
    let slow_before = h.sent_to(slow).len();
    h.start_dispatcher();
    // The rate-limited attempt, then the delivery a second later.
    let sent = h.wait_sent(slow, slow_before + 2).await;
    assert!(text_of(sent.last().expect("post")).contains("episode 12"));
    let gone_chat = ChatRef {
        platform: Platform::Telegram,
        chat_id: gone.to_string(),
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while h
        .store
        .subscriptions_of(&gone_chat)
        .expect("subs")
        .iter()
        .any(|s| s.active)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the 403 should deactivate the subscription"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_from_a_group_deep_links_and_the_private_alert_comes_once_until_a_block() {
    require_spec!();
    let mut h = Harness::start().await;
    let (group, user) = (-3001, 77);
    // From a group: a button that opens the private chat with the follow.
    let sent = h.say(group, "supergroup", user, "/anime follow #1").await;
    let reply = sent.last().expect("a reply");
    assert!(
        text_of(reply).contains("open a private chat"),
        "{}",
        text_of(reply)
    );
    let urls: Vec<String> = reply
        .field("reply_markup")
        .and_then(|m| m["inline_keyboard"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["url"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        urls,
        [format!(
            "https://t.me/{}?start=follow-1_{group}",
            h.mock.bot_username()
        )]
    );
    // The deep link starts the private chat with its payload.
    let sent = h
        .say(user, "private", user, &format!("/start follow-1_{group}"))
        .await;
    assert!(
        text_of(sent.last().expect("a reply")).contains("You follow Metallic Rouge"),
        "{}",
        text_of(sent.last().expect("a reply"))
    );
    // The private alert, once.
    let before = h.sent_to(user).len();
    h.say(OWNER, "private", OWNER, "/anime admin episode #1 ep=12")
        .await;
    h.start_dispatcher();
    let sent = h.wait_sent(user, before + 1).await;
    let alert = sent.last().expect("the alert");
    assert!(text_of(alert).contains("episode 12"));
    let commands: Vec<String> = buttons(alert).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        commands,
        ["/anime #1"],
        "the card, and no Follow where it already comes"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.sent_to(user).len(), before + 1, "one alert");
    // Blocked: the next alert's 403 stops the follow…
    h.mock
        .fail("sendmessage", Some(user), Failure::Forbidden, 1);
    h.say(OWNER, "private", OWNER, "/anime admin episode #1 ep=13")
        .await;
    let personal = ChatRef {
        platform: Platform::Telegram,
        chat_id: user.to_string(),
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while h
        .store
        .subscriptions_of(&personal)
        .expect("subs")
        .iter()
        .any(|s| s.active)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the 403 should deactivate the follow"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // …and the person is told why when they come back.
    let sent = h.say(user, "private", user, "/anime following").await;
    let text = text_of(sent.last().expect("a reply"));
    assert!(text.contains("your private alerts stopped"), "{text}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_replies_or_silence_and_never_stops_the_bot() {
    require_spec!();
    let h = Harness::start().await;
    let long = format!("/anime {}", "x".repeat(4090));
    let cases = [
        ("/anime", "Tell me a title"),
        ("/anime frobnicate the thing", "Nothing matches"),
        (long.as_str(), "too long"),
        ("/anime <script>&amp;</script>", "Nothing matches"),
        ("/anime rate metallic rouge 11", "1 to 10"),
        ("/anime admin delete #1", "Only the bot's owners"),
    ];
    let mut expected = 0;
    for (text, answer) in cases {
        expected += 1;
        let sent = h.say(42, "private", 42, text).await;
        assert_eq!(sent.len(), expected, "one reply to {text:.40}");
        assert!(
            text_of(&sent[expected - 1]).contains(answer),
            "{text:.40} → {}",
            text_of(&sent[expected - 1])
        );
    }
    // Silence: stickers (no text), other bots' commands, non-commands in groups.
    let mut sticker = TelegramMock::text_message(42, "private", 42, "x");
    if let Some(message) = sticker.get_mut("message").and_then(Value::as_object_mut) {
        message.remove("text");
        message.insert("sticker".into(), serde_json::json!({"file_id": "s", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1, "is_animated": false, "is_video": false}));
    }
    h.mock.push_update(sticker);
    h.mock.push_update(TelegramMock::text_message(
        -5,
        "group",
        7,
        "just chatting about rouge",
    ));
    h.mock.push_update(TelegramMock::text_message(
        -5,
        "group",
        7,
        "/start@other_bot",
    ));
    // The bot is still alive and answering.
    let sent = h.say(42, "private", 42, "/help").await;
    assert!(text_of(sent.last().expect("reply")).contains("Commands"));
    assert!(h.sent_to(-5).is_empty());
    h.stop().await;
}

/// The operator's secret for `/backup`, given to the bot and to `rouge backup`.
const BACKUP_TOKEN: &str = "a-long-random-backup-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rouge_serve_answers_through_the_mock_and_stops_on_sigterm() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let http_port = serve::free_port();
    let serving = serve::start(
        &dir.path().join("data"),
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("ROUGE_TELEGRAM__API_URL", mock.url()),
            ("ROUGE_HTTP__LISTEN", format!("127.0.0.1:{http_port}")),
            ("BACKUP_TOKEN", BACKUP_TOKEN.to_owned()),
            ("RUST_LOG", "trace".to_owned()),
        ],
    );
    assert!(
        !mock.wait_for("getupdates", 1, WAIT).await.is_empty(),
        "serve polls for updates"
    );
    mock.push_update(TelegramMock::text_message(
        42,
        "private",
        42,
        "/anime metallic rouge",
    ));
    let sent = mock.wait_for("sendmessage", 1, WAIT).await;
    assert!(
        sent.first()
            .is_some_and(|r| r.text().is_some_and(|t| t.contains("Metallic Rouge"))),
        "{sent:?}"
    );

    // The operator's endpoints answer while it runs.
    let health = reqwest::get(format!("http://127.0.0.1:{http_port}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let components: Value = health.json().await.expect("json");
    assert_eq!(components["components"]["telegram"], true, "{components}");
    assert_eq!(
        components["components"]["dispatcher:telegram"], true,
        "{components}"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{http_port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("rouge_commands_total{command=\"info\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rouge_lookup_seconds_count 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rouge_dead_letters 0"), "{metrics}");
    assert!(
        metrics.contains("rouge_outbox_depth{platform=\"telegram\"} 0"),
        "{metrics}"
    );

    let health = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .arg("health")
        .env("ROUGE_HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .output()
        .expect("rouge health runs");
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stdout)
    );

    // A consistent backup while it runs, through its http.listen.
    let backup = dir.path().join("live.backup");
    let backed_up = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["backup", "--out"])
        .arg(&backup)
        .env("ROUGE_HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .env("BACKUP_TOKEN", BACKUP_TOKEN)
        .output()
        .expect("rouge backup runs");
    assert!(
        backed_up.status.success(),
        "{}",
        String::from_utf8_lossy(&backed_up.stderr)
    );
    let restored = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .arg("--data-dir")
        .arg(dir.path().join("restored"))
        .arg("restore")
        .arg(&backup)
        .output()
        .expect("rouge restore runs");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );

    let (status, logs) = serving.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status:?}; logs:\n{logs}");
    assert!(
        !logs.contains(TOKEN) && !logs.contains("TEST-token"),
        "the token must never be logged:\n{logs}"
    );
    assert!(mock.violations().is_empty(), "{:#?}", mock.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_checks_the_secret_token() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let app = App::open(
        Store::temporary().expect("store"),
        Settings::default(),
        Arc::new(SystemClock),
    )
    .expect("app");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let mut config = Config::load_without_env(None).expect("defaults").telegram;
    config.api_url = mock.url();
    config.webhook_url = format!("http://127.0.0.1:{port}/telegram-hook");
    config.webhook_listen = format!("127.0.0.1:{port}");
    let bot = telegram::bot(&SecretString::from(TOKEN), &config).expect("bot");
    let stop = CancellationToken::new();
    let adapter = tokio::spawn({
        let (app, stop) = (app.clone(), stop.clone());
        async move {
            telegram::run(
                app,
                bot,
                config,
                Some(SecretString::from("s3cret-token")),
                stop,
            )
            .await
        }
    });
    let set = mock.wait_for("setwebhook", 1, WAIT).await;
    assert_eq!(
        set.first().and_then(|r| r.str_field("secret_token")),
        Some("s3cret-token")
    );
    let update = serde_json::json!({"update_id": 1, "message": TelegramMock::text_message(42, "private", 42, "/anime frieren")["message"]});
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/telegram-hook");
    let mut forged = None;
    for _ in 0..100 {
        match client
            .post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", "wrong")
            .json(&update)
            .send()
            .await
        {
            Ok(response) => {
                forged = Some(response.status().as_u16());
                break;
            }
            // The server may still be binding.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(forged, Some(401), "a request without the secret is refused");
    let unsigned = client.post(&url).json(&update).send().await.expect("post");
    assert_eq!(unsigned.status().as_u16(), 401);
    let genuine = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "s3cret-token")
        .json(&update)
        .send()
        .await
        .expect("post");
    assert!(genuine.status().is_success(), "{}", genuine.status());
    let sent = mock.wait_for("sendmessage", 1, WAIT).await;
    assert!(
        sent.first()
            .and_then(|r| r.text())
            .is_some_and(|t| t.contains("Frieren")),
        "{sent:?}"
    );
    assert_eq!(
        mock.requests_to("sendmessage").len(),
        1,
        "the forged requests did nothing"
    );
    stop.cancel();
    tokio::time::timeout(WAIT, adapter)
        .await
        .expect("stops")
        .expect("no panic")
        .expect("clean exit");
    assert!(mock.violations().is_empty(), "{:#?}", mock.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_with_a_picture_keeps_the_caption_within_telegrams_limit() {
    require_spec!();
    let h = Harness::start().await;
    let synopsis = "A long synopsis with <tags> & ampersands. ".repeat(60);
    let owner = h.say(OWNER, "private", OWNER, &format!(
        "/anime admin add \"Picture Test <b>\" picture=https://img.example/cover.jpg synopsis=\"{synopsis}\" genres=Drama"
    )).await;
    assert!(
        text_of(owner.last().expect("reply")).contains("Added"),
        "{:?}",
        owner.last()
    );
    h.say(42, "private", 42, "/anime picture test <b>").await;
    let photos = h.mock.wait_for("sendphoto", 1, WAIT).await;
    let caption = photos[0]
        .str_field("caption")
        .unwrap_or_default()
        .to_owned();
    assert!(caption.contains("Picture Test &lt;b&gt;"), "{caption}");
    assert!(rouge::adapters::telegram::render::visible_len(&caption) <= 1024);
    // The rest of the card follows as text, and the keyboard is on the last message.
    let rest = h.wait_sent(42, 2).await;
    assert!(text_of(rest.last().expect("follow-up")).contains("ampersands"));
    assert!(rest.last().and_then(|r| r.field("reply_markup")).is_some());
    h.stop().await;
}

/// Look-ups under load through the real adapter: 2,000 messages from 2,000
/// users at once. Prints throughput and reply-latency percentiles (a
/// measurement for BENCHMARKS.md, not an assertion on speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_ups_under_load() {
    require_spec!();
    let h = Harness::start().await;
    const USERS: i64 = 2000;
    let queries = [
        "metallic rouge",
        "frieren",
        "naruto",
        "金属口红",
        "steins gate",
        "spy family",
        "one piece",
        "chainsaw man",
    ];
    let started = std::time::Instant::now();
    let mut pushed = std::collections::HashMap::new();
    for user in 0..USERS {
        let chat = 100_000 + user;
        let query = queries[user as usize % queries.len()];
        h.mock.push_update(TelegramMock::text_message(
            chat,
            "private",
            chat,
            &format!("/anime {query}"),
        ));
        pushed.insert(chat, started.elapsed());
    }
    let mut answered: std::collections::HashMap<i64, Duration> = std::collections::HashMap::new();
    while answered.len() < USERS as usize {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {USERS} answered",
            answered.len()
        );
        let now = started.elapsed();
        for r in h.mock.requests_to("sendmessage") {
            if let Some(chat) = r.chat_id() {
                answered.entry(chat).or_insert(now);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = started.elapsed();
    let mut latencies: Vec<Duration> = answered
        .iter()
        .map(|(chat, at)| at.saturating_sub(pushed[chat]))
        .collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{USERS} look-ups in {total:.2?}: {:.0}/s; reply latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        USERS as f64 / total.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
    h.stop().await;
}
