#![cfg(feature = "discord")]
//! The Discord adapter end to end: the real serenity client (REST and
//! gateway) against a local mock on 127.0.0.1 that validates every request
//! against Discord's OpenAPI document (`../shared/specs/discord-openapi.json`).

#[path = "support/discord_mock.rs"]
mod discord_mock;
#[path = "support/serve.rs"]
mod serve;

use std::sync::Arc;
use std::time::Duration;

use discord_mock::{DiscordMock, Failure};
use rouge::adapters::discord::{self, DiscordNotifier};
use rouge::app::dispatch::Dispatcher;
use rouge::app::{App, Settings};
use rouge::config::{Config, DiscordConfig};
use rouge::core::announce::limits::{DispatchSettings, RateLimits};
use rouge::core::caller::{ChatRef, Platform};
use rouge::core::clock::SystemClock;
use rouge::store::Store;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GmOcK1.rouge-test-secret";
const APP_ID: u64 = 1_200_000_000_000_000_002;
const GUILD: u64 = 800_000_000_000_000_001;
const CHANNEL: u64 = 900_000_000_000_000_042;
const OWNER: u64 = 700_000_000_000_000_001;
const MEMBER: u64 = 700_000_000_000_000_007;
/// Manage Server (1 << 5).
const MANAGE_GUILD: &str = "32";
const CALLBACK: &str = "/interactions/{interaction_id}/{interaction_token}/callback";
const MESSAGES: &str = "/channels/{channel_id}/messages";
const GLOBAL_COMMANDS: &str = "/applications/{application_id}/commands";
const OPEN_DM: &str = "/users/@me/channels";
const WAIT: Duration = Duration::from_secs(15);

macro_rules! require_spec {
    () => {
        if !DiscordMock::spec_available() {
            println!("skipping: ../shared/specs/discord-openapi.json not found");
            return;
        }
    };
}

struct Harness {
    mock: DiscordMock,
    app: App,
    /// The app's store, to check what it recorded.
    store: Store,
    config: DiscordConfig,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    next_id: u64,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    /// Starts the adapter with its configuration changed by `configure`.
    async fn start_with(configure: impl FnOnce(&mut DiscordConfig)) -> Harness {
        let mock = DiscordMock::start(TOKEN, APP_ID).await;
        let settings = Settings {
            owners: vec![format!("discord:{OWNER}")],
            ..Settings::default()
        };
        let store = Store::temporary().expect("store");
        let app = App::open(store.clone(), settings, Arc::new(SystemClock)).expect("app");
        let mut config = Config::load_without_env(None).expect("defaults").discord;
        config.api_base = mock.url();
        configure(&mut config);
        let stop = CancellationToken::new();
        let adapter = tokio::spawn({
            let (app, config, stop) = (app.clone(), config.clone(), stop.clone());
            async move {
                discord::run(app, SecretString::from(TOKEN), config, stop)
                    .await
                    .expect("the adapter runs")
            }
        });
        assert!(
            mock.wait_for_session(WAIT).await,
            "no gateway session: {:?}",
            mock.violations()
        );
        Harness {
            mock,
            app,
            store,
            config,
            stop,
            tasks: vec![adapter],
            next_id: 1000,
        }
    }

    fn start_dispatcher(&mut self) {
        let http = Arc::new(discord::http(&SecretString::from(TOKEN), &self.config));
        let settings = DispatchSettings {
            backoff_base: Duration::from_millis(200),
            ..DispatchSettings::with_limits(RateLimits::DISCORD)
        };
        let dispatcher = Dispatcher::new(
            self.app.clone(),
            Arc::new(DiscordNotifier::new(http)),
            settings,
        );
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            dispatcher.run(stop, Duration::from_secs(2)).await
        }));
    }

    /// Dispatches an interaction and returns the adapter's callback body.
    async fn interact(&mut self, payload: Value) -> Value {
        let before = self.mock.requests_to("POST", CALLBACK).len();
        assert_eq!(self.mock.dispatch("INTERACTION_CREATE", payload), 1);
        let callbacks = self.mock.wait_for("POST", CALLBACK, before + 1, WAIT).await;
        assert!(
            callbacks.len() > before,
            "no answer; violations: {:?}",
            self.mock.violations()
        );
        callbacks[before].body.clone()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    async fn slash(
        &mut self,
        user: u64,
        permissions: &str,
        name: &str,
        sub: &str,
        options: Value,
    ) -> Value {
        let payload = self.slash_payload(GUILD, CHANNEL, user, permissions, name, sub, options);
        self.interact(payload).await
    }

    /// A slash command's interaction in `guild` (0: the bot's DM).
    #[allow(clippy::too_many_arguments)]
    fn slash_payload(
        &mut self,
        guild: u64,
        channel: u64,
        user: u64,
        permissions: &str,
        name: &str,
        sub: &str,
        options: Value,
    ) -> Value {
        let id = self.id();
        self.mock.interaction_command(
            id,
            guild,
            channel,
            user,
            permissions,
            name,
            json!([{ "type": 1, "name": sub, "options": options }]),
        )
    }

    /// A press of the button `custom_id` in [`CHANNEL`] (on the last message
    /// the bot posted with it there, if any).
    fn button(&mut self, user: u64, permissions: &str, custom_id: &str) -> Value {
        let id = self.id();
        self.mock.interaction_component(
            id,
            GUILD,
            CHANNEL,
            user,
            permissions,
            custom_id,
            2,
            Vec::new(),
            None,
        )
    }

    /// The active subscriptions of a Discord channel.
    fn subscriptions(&self, channel: u64) -> usize {
        let chat = ChatRef {
            platform: Platform::Discord,
            chat_id: channel.to_string(),
        };
        self.store
            .subscriptions_of(&chat)
            .expect("subscriptions")
            .iter()
            .filter(|s| s.active)
            .count()
    }

    /// The titles `user` follows: active subscriptions of their personal chat.
    fn follows(&self, user: u64) -> usize {
        let chat = ChatRef {
            platform: Platform::Discord,
            chat_id: format!("dm:{user}"),
        };
        self.store
            .subscriptions_of(&chat)
            .expect("subscriptions")
            .iter()
            .filter(|s| s.active)
            .count()
    }

    /// An owner's `/anime-admin episode` for #1; the reply's text.
    async fn release(&mut self, episode: u64) -> String {
        let options = json!([{ "type": 3, "name": "title", "value": "#1" }, { "type": 4, "name": "number", "value": episode }]);
        let reply = self
            .slash(OWNER, MANAGE_GUILD, "anime-admin", "episode", options)
            .await;
        embed_text(&reply)
    }

    /// The posts the bot attempted in `channel` (answered or refused).
    fn posts_to(&self, channel: u64) -> Vec<discord_mock::Request> {
        self.mock
            .requests_to("POST", MESSAGES)
            .into_iter()
            .filter(|r| r.param_u64("channel_id") == Some(channel))
            .collect()
    }

    /// Waits until the bot attempted `count` posts in `channel`; all of them.
    async fn wait_for_posts(&self, channel: u64, count: usize) -> Vec<discord_mock::Request> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let posts = self.posts_to(channel);
            if posts.len() >= count || tokio::time::Instant::now() >= deadline {
                return posts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        assert!(
            self.mock.violations().is_empty(),
            "requests Discord would reject: {:#?}",
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

fn embed_text(callback: &Value) -> String {
    let embed = &callback["data"]["embeds"][0];
    let mut text = format!(
        "{} {}",
        embed["title"].as_str().unwrap_or(""),
        embed["description"].as_str().unwrap_or("")
    );
    for field in embed["fields"].as_array().cloned().unwrap_or_default() {
        text.push_str(&format!(
            " | {}: {}",
            field["name"].as_str().unwrap_or(""),
            field["value"].as_str().unwrap_or("")
        ));
    }
    text
}

/// The custom ids of a message's buttons, in order.
fn buttons(message: &Value) -> Vec<String> {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["type"] == 2)
        .filter_map(|c| c["custom_id"].as_str().map(String::from))
        .collect()
}

fn ephemeral(callback: &Value) -> bool {
    callback["data"]["flags"]
        .as_u64()
        .is_some_and(|f| f & 64 != 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_and_info_answers_with_an_embed() {
    require_spec!();
    let mut h = Harness::start().await;
    h.mock
        .wait_for("PUT", "/applications/{application_id}/commands", 1, WAIT)
        .await;
    let names: Vec<String> = h
        .mock
        .global_commands()
        .iter()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["anime", "anime-admin"]);
    let callback = h
        .slash(
            MEMBER,
            "0",
            "anime",
            "info",
            json!([{ "type": 3, "name": "title", "value": "metallic rouge" }]),
        )
        .await;
    assert_eq!(callback["type"], 4);
    let text = embed_text(&callback);
    for fact in [
        "Metallic Rouge",
        "13 × 24 min",
        "Tamil",
        "480p, 720p, 1080p",
        "IMDb 5.9",
        "MyAnimeList 6.2",
        "average **6.1**",
    ] {
        assert!(text.contains(fact), "{fact:?} missing in {text}");
    }
    assert_eq!(
        callback["data"]["allowed_mentions"]["parse"],
        json!([]),
        "the bot never pings"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_offers_titles_and_a_picker_choice_gets_the_card() {
    require_spec!();
    let mut h = Harness::start().await;
    let id = h.id();
    let payload = h.mock.interaction_autocomplete(
        id, GUILD, CHANNEL, MEMBER, "0", "anime",
        json!([{ "type": 1, "name": "info", "options": [{ "type": 3, "name": "title", "value": "metalic" }] }]),
        "title",
    );
    let callback = h.interact(payload).await;
    assert_eq!(callback["type"], 8);
    let choices = callback["data"]["choices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!choices.is_empty() && choices.len() <= 25);
    assert_eq!(choices[0]["value"], "#1");

    let picker = h
        .slash(
            MEMBER,
            "0",
            "anime",
            "scores",
            json!([{ "type": 3, "name": "title", "value": "de" }]),
        )
        .await;
    let options = picker["data"]["components"][0]["components"][0]["options"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let value = options
        .first()
        .and_then(|o| o["value"].as_str())
        .expect("a choice")
        .to_owned();
    let id = h.id();
    let payload = h.mock.interaction_component(
        id,
        GUILD,
        CHANNEL,
        MEMBER,
        "0",
        discord::render::PICKER_ID,
        3,
        vec![value.clone()],
        None,
    );
    let card = h.interact(payload).await;
    assert!(
        embed_text(&card).starts_with("Scores for"),
        "{}",
        embed_text(&card)
    );
    // A forged component asking for an admin command is refused.
    let payload = h.button(MEMBER, "0", "/anime admin delete #1");
    let refused = h.interact(payload).await;
    assert!(ephemeral(&refused) && embed_text(&refused).contains("no longer valid"));
    assert!(h.app.entry(1).is_some());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_server_subscribes_and_an_owners_episode_posts_once() {
    require_spec!();
    let mut h = Harness::start().await;
    h.start_dispatcher();
    let title = json!([{ "type": 3, "name": "title", "value": "#1" }]);
    let refused = h
        .slash(MEMBER, "0", "anime", "subscribe", title.clone())
        .await;
    assert!(
        ephemeral(&refused) && embed_text(&refused).contains("Only this chat's admins"),
        "{}",
        embed_text(&refused)
    );
    let done = h
        .slash(MEMBER, MANAGE_GUILD, "anime", "subscribe", title.clone())
        .await;
    assert!(
        embed_text(&done).contains("Subscribed this chat"),
        "{}",
        embed_text(&done)
    );
    let not_owner = h.slash(MEMBER, MANAGE_GUILD, "anime-admin", "episode", json!([
        { "type": 3, "name": "title", "value": "#1" }, { "type": 4, "name": "number", "value": 13 }
    ])).await;
    assert!(embed_text(&not_owner).contains("Only the bot's owners"));
    let released = h.slash(OWNER, MANAGE_GUILD, "anime-admin", "episode", json!([
        { "type": 3, "name": "title", "value": "#1" }, { "type": 4, "name": "number", "value": 13 },
        { "type": 3, "name": "audio", "value": "Tamil" }, { "type": 3, "name": "qualities", "value": "480p/720p/1080p" }
    ])).await;
    assert!(
        embed_text(&released).contains("Announcing it in 1 chat"),
        "{}",
        embed_text(&released)
    );
    let posts = h.mock.wait_for("POST", MESSAGES, 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.mock.requests_to("POST", MESSAGES).len(),
        1,
        "exactly one post"
    );
    let post = &posts[0];
    assert_eq!(post.param_u64("channel_id"), Some(CHANNEL));
    let embed = &post.body["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .is_some_and(|t| t.contains("episode 13")),
        "{embed}"
    );
    assert_eq!(post.body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(
        buttons(&post.body),
        ["/anime #1", "/anime follow #1"],
        "an announcement offers the card and following"
    );

    // Its Follow button follows the title for whoever presses it, privately.
    let payload = h.button(MEMBER, "0", "/anime follow #1");
    assert!(
        payload["message"]["embeds"][0]["title"]
            .as_str()
            .is_some_and(|t| t.contains("episode 13")),
        "the button is the announcement's: {}",
        payload["message"]
    );
    let followed = h.interact(payload).await;
    assert!(
        ephemeral(&followed) && embed_text(&followed).contains("You follow"),
        "{followed}"
    );
    assert_eq!(h.follows(MEMBER), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_unknown_channel_deactivates() {
    require_spec!();
    let mut h = Harness::start().await;
    let (slow, gone) = (900_000_000_000_000_100u64, 900_000_000_000_000_101u64);
    for channel in [slow, gone] {
        let id = h.id();
        let payload = h.mock.interaction_command(id, GUILD, channel, MEMBER, MANAGE_GUILD, "anime", json!([{ "type": 1, "name": "subscribe", "options": [{ "type": 3, "name": "title", "value": "#1" }] }]));
        h.interact(payload).await;
    }
    h.mock.fail(
        "POST",
        MESSAGES,
        Some(slow),
        Failure::RateLimited {
            retry_after: 0.5,
            global: false,
        },
        1,
    );
    h.mock
        .fail("POST", MESSAGES, Some(gone), Failure::UnknownChannel, 1);
    h.slash(OWNER, MANAGE_GUILD, "anime-admin", "episode", json!([{ "type": 3, "name": "title", "value": "#1" }, { "type": 4, "name": "number", "value": 12 }])).await;
    h.start_dispatcher();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let to_slow = h
            .mock
            .requests_to("POST", MESSAGES)
            .iter()
            .filter(|r| r.param_u64("channel_id") == Some(slow))
            .count();
        if to_slow >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rate-limited post should be retried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gone_chat = ChatRef {
        platform: Platform::Discord,
        chat_id: gone.to_string(),
    };
    while h
        .store
        .subscriptions_of(&gone_chat)
        .expect("subs")
        .iter()
        .any(|s| s.active)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Unknown Channel should deactivate the subscription"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_ephemeral_reply() {
    require_spec!();
    let mut h = Harness::start().await;
    let long = "@everyone <@&1> **x** ".repeat(5);
    let cases = [
        (
            "info",
            json!([{ "type": 3, "name": "title", "value": long }]),
            "Nothing matches",
        ),
        (
            "settings",
            json!([{ "type": 3, "name": "setting", "value": "tz" }, { "type": 3, "name": "value", "value": "Mars/Base" }]),
            "not a time zone",
        ),
        (
            "rate",
            json!([{ "type": 3, "name": "title", "value": "#424242" }, { "type": 4, "name": "rating", "value": 5 }]),
            "no entry",
        ),
    ];
    for (sub, options, expected) in cases {
        let callback = h.slash(MEMBER, MANAGE_GUILD, "anime", sub, options).await;
        assert!(ephemeral(&callback), "{callback}");
        let text = embed_text(&callback);
        assert!(text.contains(expected), "{sub}: {text}");
        assert!(
            !text.replace("\\@everyone", "").contains("@everyone"),
            "mentions are escaped: {text}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interactions_endpoint_verifies_signatures_and_freshness() {
    require_spec!();
    // The mock only builds the interaction payloads here.
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let app = App::open(
        Store::temporary().expect("store"),
        Settings::default(),
        Arc::new(SystemClock),
    )
    .expect("app");
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
    let verifier =
        discord::endpoint::verifier(&SecretString::from(discord_mock::public_key_hex(&key)))
            .expect("key");
    assert!(discord::endpoint::verifier(&SecretString::from("not-hex")).is_err());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/interactions",
        listener.local_addr().expect("addr")
    );
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let stop = stop.clone();
        let router = discord::endpoint::router(app, verifier);
        async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        }
    });
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>, signature: Option<(String, String)>| {
        let mut request = client
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some((sig, ts)) = signature {
            request = request
                .header("X-Signature-Ed25519", sig)
                .header("X-Signature-Timestamp", ts);
        }
        request.send()
    };
    let ping = serde_json::to_vec(&json!({"type": 1, "id": "1", "application_id": APP_ID.to_string(), "token": "t", "version": 1})).expect("json");
    let response = post(ping.clone(), Some(discord_mock::sign_now(&key, &ping)))
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().await.expect("json")["type"], 1);

    let command = mock.interaction_command(77, GUILD, CHANNEL, MEMBER, "0", "anime", json!([{ "type": 1, "name": "info", "options": [{ "type": 3, "name": "title", "value": "metallic rouge" }] }]));
    let body = serde_json::to_vec(&command).expect("json");
    let response = post(body.clone(), Some(discord_mock::sign_now(&key, &body)))
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["type"], 4);
    assert!(embed_text(&answer).contains("average **6.1**"), "{answer}");
    assert!(!ephemeral(&answer));

    // The endpoint knows user installs too: private answers, chat changes explained.
    for (id, sub, expected) in [
        (78, "info", "average **6.1**"),
        (79, "subscribe", "not installed in this server"),
    ] {
        let payload = discord_mock::user_installed(mock.interaction_command(id, GUILD, CHANNEL, MEMBER, MANAGE_GUILD, "anime", json!([{ "type": 1, "name": sub, "options": [{ "type": 3, "name": "title", "value": "metallic rouge" }] }])));
        let body = serde_json::to_vec(&payload).expect("json");
        let response = post(body.clone(), Some(discord_mock::sign_now(&key, &body)))
            .await
            .expect("post");
        let answer: Value = response.json().await.expect("json");
        assert!(ephemeral(&answer), "{sub}: {answer}");
        assert!(embed_text(&answer).contains(expected), "{sub}: {answer}");
    }

    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (sig, ts) = discord_mock::sign_now(&key, &body);
    for (label, body, signature) in [
        ("unsigned", body.clone(), None),
        (
            "forged",
            body.clone(),
            Some(discord_mock::sign_now(&other, &body)),
        ),
        ("tampered", tampered, Some((sig.clone(), ts.clone()))),
        (
            "replayed an hour later",
            body.clone(),
            Some((discord_mock::sign(&key, &old, &body), old.clone())),
        ),
        (
            "garbage signature",
            body.clone(),
            Some(("zz".into(), ts.clone())),
        ),
    ] {
        let response = post(body, signature).await.expect("post");
        assert_eq!(response.status().as_u16(), 401, "{label}");
    }
    let malformed = b"{\"type\": 2, \"nonsense\": true}".to_vec();
    let response = post(
        malformed.clone(),
        Some(discord_mock::sign_now(&key, &malformed)),
    )
    .await
    .expect("post");
    assert_eq!(response.status().as_u16(), 400);
    stop.cancel();
    server.await.expect("no panic").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rouge_serve_answers_through_the_mocks_and_stops_on_sigterm() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let serving = serve::start(
        &dir.path().join("data"),
        &[
            ("DISCORD_TOKEN", TOKEN.to_owned()),
            ("ROUGE_DISCORD__API_BASE", mock.url()),
            ("ROUGE_HTTP__LISTEN", "127.0.0.1:0".to_owned()),
            ("RUST_LOG", "trace".to_owned()),
        ],
    );
    assert!(
        mock.wait_for_session(WAIT).await,
        "serve connects to the gateway: {:?}",
        mock.violations()
    );
    mock.wait_for("PUT", "/applications/{application_id}/commands", 1, WAIT)
        .await;
    let payload = mock.interaction_command(5, GUILD, CHANNEL, MEMBER, "0", "anime", json!([{ "type": 1, "name": "info", "options": [{ "type": 3, "name": "title", "value": "metallic rouge" }] }]));
    assert_eq!(mock.dispatch("INTERACTION_CREATE", payload), 1);
    let callbacks = mock.wait_for("POST", CALLBACK, 1, WAIT).await;
    assert!(
        callbacks
            .first()
            .is_some_and(|c| embed_text(&c.body).contains("Metallic Rouge")),
        "{callbacks:?}"
    );

    let (status, logs) = serving.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status:?}; logs:\n{logs}");
    assert!(
        !logs.contains("rouge-test-secret"),
        "the token must never be logged"
    );
    assert!(mock.violations().is_empty(), "{:#?}", mock.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_may_mention_a_role_and_nothing_else() {
    require_spec!();
    let mut h = Harness::start().await;
    h.start_dispatcher();
    const ROLE: u64 = 600_000_000_000_000_003;
    let done = h
        .slash(MEMBER, MANAGE_GUILD, "anime", "subscribe", json!([
            { "type": 3, "name": "title", "value": "#1" }, { "type": 8, "name": "role", "value": ROLE.to_string() }
        ]))
        .await;
    assert!(
        embed_text(&done).contains("Subscribed this chat"),
        "{}",
        embed_text(&done)
    );
    h.slash(OWNER, MANAGE_GUILD, "anime-admin", "episode", json!([{ "type": 3, "name": "title", "value": "#1" }, { "type": 4, "name": "number", "value": 2 }])).await;
    let posts = h.mock.wait_for("POST", MESSAGES, 1, WAIT).await;
    let post = posts.first().expect("a post");
    assert_eq!(post.body["content"], format!("<@&{ROLE}>"));
    assert_eq!(
        post.body["allowed_mentions"]["roles"],
        json!([ROLE.to_string()])
    );
    assert_eq!(post.body["allowed_mentions"]["parse"], json!([]));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_commands_install_to_servers_and_users_and_work_in_every_context() {
    require_spec!();
    let h = Harness::start().await;
    let put = h.mock.wait_for("PUT", GLOBAL_COMMANDS, 1, WAIT).await;
    let sent = put.first().expect("a bulk overwrite").body.clone();
    let sent = sent.as_array().expect("a list of commands");
    assert_eq!(sent.len(), 2);
    for command in sent {
        assert_eq!(command["integration_types"], json!([0, 1]), "{command}");
        assert_eq!(command["contexts"], json!([0, 1, 2]), "{command}");
    }
    // What Discord keeps (and the mock checked against the OpenAPI document).
    for command in h.mock.global_commands() {
        assert_eq!(command["integration_types"], json!([0, 1]), "{command}");
        assert_eq!(command["contexts"], json!([0, 1, 2]), "{command}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_commands_carry_no_install_contexts() {
    require_spec!();
    let h = Harness::start_with(|config| config.dev_guild = GUILD).await;
    let route = "/applications/{application_id}/guilds/{guild_id}/commands";
    let put = h.mock.wait_for("PUT", route, 1, WAIT).await;
    let sent = put.first().expect("a bulk overwrite").body.clone();
    for command in sent.as_array().expect("a list of commands") {
        assert!(command.get("integration_types").is_none(), "{command}");
        assert!(command.get("contexts").is_none(), "{command}");
    }
    assert!(h.mock.requests_to("PUT", GLOBAL_COMMANDS).is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_install_in_a_server_without_rouge_answers_only_the_caller() {
    require_spec!();
    let mut h = Harness::start().await;
    let title = json!([{ "type": 3, "name": "title", "value": "#1" }]);
    let payload = h.slash_payload(GUILD, CHANNEL, MEMBER, "0", "anime", "info", title.clone());
    let card = h.interact(discord_mock::user_installed(payload)).await;
    assert_eq!(card["type"], 4);
    assert!(ephemeral(&card), "{card}");
    assert!(embed_text(&card).contains("Metallic Rouge"), "{card}");

    // The same look-up where the server added Rouge is public.
    let payload = h.slash_payload(GUILD, CHANNEL, MEMBER, "0", "anime", "info", title.clone());
    assert!(!ephemeral(&h.interact(payload).await));

    // Changing the chat is explained instead, whoever asks: Rouge could not post here.
    let tz = json!([{ "type": 3, "name": "setting", "value": "tz" }, { "type": 3, "name": "value", "value": "Europe/Paris" }]);
    for (user, permissions, sub, options) in [
        (MEMBER, "0", "subscribe", title.clone()),
        (MEMBER, MANAGE_GUILD, "subscribe", title.clone()),
        (OWNER, MANAGE_GUILD, "subscribe", title.clone()),
        (MEMBER, MANAGE_GUILD, "unsubscribe", title.clone()),
        (MEMBER, MANAGE_GUILD, "settings", tz.clone()),
    ] {
        let payload = h.slash_payload(GUILD, CHANNEL, user, permissions, "anime", sub, options);
        let refused = h.interact(discord_mock::user_installed(payload)).await;
        let text = embed_text(&refused);
        assert!(ephemeral(&refused), "{sub}: {refused}");
        assert!(
            text.contains("not installed in this server") && text.contains("Manage Server"),
            "{sub}: {text}"
        );
    }
    // A subscribe button on an ephemeral card is refused the same way.
    let payload = h.button(MEMBER, MANAGE_GUILD, "/anime subscribe #1");
    let refused = h.interact(discord_mock::user_installed(payload)).await;
    assert!(ephemeral(&refused));
    assert!(embed_text(&refused).contains("not installed in this server"));
    assert_eq!(h.subscriptions(CHANNEL), 0);

    // Reading the chat's settings and the owners' catalog commands still work, privately.
    let payload = h.slash_payload(GUILD, CHANNEL, MEMBER, "0", "anime", "settings", json!([]));
    let settings = h.interact(discord_mock::user_installed(payload)).await;
    assert!(ephemeral(&settings) && !embed_text(&settings).contains("not installed"));
    let episode = json!([{ "type": 3, "name": "title", "value": "#1" }, { "type": 4, "name": "number", "value": 13 }]);
    let payload = h.slash_payload(
        GUILD,
        CHANNEL,
        OWNER,
        "0",
        "anime-admin",
        "episode",
        episode,
    );
    let released = h.interact(discord_mock::user_installed(payload)).await;
    assert!(ephemeral(&released));
    assert!(
        embed_text(&released).contains("released episode 13"),
        "{}",
        embed_text(&released)
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_dm_is_the_users_own_chat_and_other_dms_answer_privately() {
    require_spec!();
    let mut h = Harness::start().await;
    let (dm, group_dm) = (900_000_000_000_000_200u64, 900_000_000_000_000_201u64);
    let title = json!([{ "type": 3, "name": "title", "value": "#1" }]);

    // The bot's DM, with Rouge installed to a server or only to the user: public answers,
    // and the user may subscribe their own DM.
    let payload = h.slash_payload(0, dm, MEMBER, "0", "anime", "info", title.clone());
    let card = h.interact(payload).await;
    assert!(!ephemeral(&card) && embed_text(&card).contains("Metallic Rouge"));
    let payload = h.slash_payload(0, dm, MEMBER, "0", "anime", "subscribe", title.clone());
    let done = h.interact(discord_mock::user_installed(payload)).await;
    assert!(
        embed_text(&done).contains("Subscribed this chat"),
        "{}",
        embed_text(&done)
    );
    assert_eq!(h.subscriptions(dm), 1);

    // A group DM between users: only the caller sees answers, and it cannot be subscribed.
    let payload = h.slash_payload(0, group_dm, MEMBER, "0", "anime", "info", title.clone());
    let card = h.interact(discord_mock::in_private_channel(payload)).await;
    assert!(ephemeral(&card) && embed_text(&card).contains("Metallic Rouge"));
    let payload = h.slash_payload(0, group_dm, MEMBER, "0", "anime", "subscribe", title);
    let refused = h.interact(discord_mock::in_private_channel(payload)).await;
    assert!(ephemeral(&refused));
    assert!(
        embed_text(&refused).contains("cannot post in this conversation"),
        "{}",
        embed_text(&refused)
    );
    assert_eq!(h.subscriptions(group_dm), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_get_one_dm_per_episode_wherever_they_followed_from() {
    require_spec!();
    let mut h = Harness::start().await;
    h.start_dispatcher();
    let (in_server, user_installed, in_bot_dm) = (
        MEMBER,
        700_000_000_000_000_008u64,
        700_000_000_000_000_009u64,
    );
    let bot_dm = 900_000_000_000_000_300u64;
    let title = json!([{ "type": 3, "name": "title", "value": "#1" }]);
    for (user, payload) in [
        (
            in_server,
            h.slash_payload(
                GUILD,
                CHANNEL,
                in_server,
                "0",
                "anime",
                "follow",
                title.clone(),
            ),
        ),
        (
            user_installed,
            discord_mock::user_installed(h.slash_payload(
                GUILD,
                CHANNEL,
                user_installed,
                "0",
                "anime",
                "follow",
                title.clone(),
            )),
        ),
        (
            in_bot_dm,
            h.slash_payload(0, bot_dm, in_bot_dm, "0", "anime", "follow", title.clone()),
        ),
    ] {
        let done = h.interact(payload).await;
        assert!(
            embed_text(&done).contains("You follow Metallic Rouge"),
            "{user}: {}",
            embed_text(&done)
        );
        assert!(ephemeral(&done), "{user}: only the follower sees it");
        assert_eq!(h.follows(user), 1, "{user}");
    }
    // Following is the person's own: no chat was subscribed.
    assert_eq!(h.subscriptions(CHANNEL) + h.subscriptions(bot_dm), 0);

    let released = h.release(12).await;
    assert!(released.contains("Announcing it in 3 chats"), "{released}");
    let followers = [in_server, user_installed, in_bot_dm];
    for user in followers {
        let posts = h.wait_for_posts(h.mock.dm_channel(user), 1).await;
        assert_eq!(posts.len(), 1, "{user}: one DM");
        let post = &posts[0].body;
        assert!(
            post["embeds"][0]["title"]
                .as_str()
                .is_some_and(|t| t.contains("episode 12")),
            "{post}"
        );
        assert_eq!(post["allowed_mentions"]["parse"], json!([]));
        assert_eq!(
            buttons(post),
            ["/anime #1"],
            "no Follow button for a follower"
        );
    }
    let opened: Vec<u64> = h
        .mock
        .requests_to("POST", OPEN_DM)
        .iter()
        .filter_map(|r| {
            r.body["recipient_id"]
                .as_str()
                .and_then(|id| id.parse().ok())
        })
        .collect();
    assert_eq!(opened.len(), 3, "{opened:?}");
    for user in followers {
        assert!(opened.contains(&user), "{user} in {opened:?}");
    }
    assert!(h.posts_to(CHANNEL).is_empty() && h.posts_to(bot_dm).is_empty());

    // The next episode reuses the DMs it opened, one post each.
    let released = h.release(13).await;
    assert!(released.contains("Announcing it in 3 chats"), "{released}");
    for user in followers {
        let posts = h.wait_for_posts(h.mock.dm_channel(user), 2).await;
        assert_eq!(posts.len(), 2, "{user}");
        assert!(
            posts[1].body["embeds"][0]["title"]
                .as_str()
                .is_some_and(|t| t.contains("episode 13")),
            "{}",
            posts[1].body
        );
    }
    assert_eq!(
        h.mock.requests_to("POST", OPEN_DM).len(),
        3,
        "each DM opened once"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_dm_stops_the_follow_and_the_next_command_says_why() {
    require_spec!();
    let mut h = Harness::start().await;
    h.start_dispatcher();
    let title = json!([{ "type": 3, "name": "title", "value": "#1" }]);
    h.slash(MEMBER, MANAGE_GUILD, "anime", "subscribe", title.clone())
        .await;
    let done = h.slash(MEMBER, "0", "anime", "follow", title.clone()).await;
    assert!(
        embed_text(&done).contains("You follow"),
        "{}",
        embed_text(&done)
    );
    let dm = h.mock.dm_channel(MEMBER);
    h.mock
        .fail("POST", MESSAGES, Some(dm), Failure::CannotMessageUser, 1);

    assert!(h.release(12).await.contains("Announcing it in 2 chats"));
    assert_eq!(h.wait_for_posts(dm, 1).await.len(), 1, "the DM was tried");
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.follows(MEMBER) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "50007 should stop the follow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.wait_for_posts(CHANNEL, 1).await.len(),
        1,
        "the channel still gets its post"
    );

    // The next episode reaches the channel only: the DM is not tried again.
    let released = h.release(13).await;
    assert!(released.contains("Announcing it in 1 chat."), "{released}");
    assert_eq!(h.wait_for_posts(CHANNEL, 2).await.len(), 2);
    assert_eq!(h.posts_to(dm).len(), 1, "no second attempt");

    // The follower is told why, once, on their next command.
    let following = h.slash(MEMBER, "0", "anime", "following", json!([])).await;
    let text = embed_text(&following);
    assert!(
        text.contains("your private alerts stopped") && text.contains("error 50007"),
        "{text}"
    );
    let again = h.slash(MEMBER, "0", "anime", "following", json!([])).await;
    assert!(
        !embed_text(&again).contains("stopped"),
        "{}",
        embed_text(&again)
    );
    h.stop().await;
}
