//! An in-process mock of Discord (REST API v10 and the gateway) for integration tests.
//!
//! Include it with
//! `#[path = "support/discord_mock.rs"] mod discord_mock;`
//! and point serenity at it:
//!
//! ```ignore
//! let http = HttpBuilder::new(token)
//!     .proxy(mock.url())
//!     .ratelimiter_disabled(true)
//!     .application_id(ApplicationId::new(application_id))
//!     .build();
//! ```
//!
//! The rate limiter must be off: serenity ignores the proxy while its own limiter is on.
//! A `serenity::Client` built with `ClientBuilder::new_with_http(http, intents)` asks
//! `GET /api/v10/gateway` for the websocket URL; the mock answers
//! `ws://127.0.0.1:PORT/gateway-ws` (serenity appends `?v=10`, nothing else) and speaks the
//! gateway there: HELLO, IDENTIFY → READY, heartbeats, and events sent with
//! [`DiscordMock::dispatch`].
//!
//! One axum server on 127.0.0.1 (never anything else) serves both. Every REST request is
//! recorded and validated against Discord's OpenAPI document
//! `../shared/specs/discord-openapi.json` (loaded at runtime, never copied): the method and
//! path must match a path template, `Authorization: Bot <token>` must be right, path and query
//! parameters and the JSON body (or a multipart `payload_json`) must satisfy the operation's
//! schemas. On top of the schema the mock checks Discord's documented limits the document
//! cannot express (embed totals, bot message length, command names, option ordering,
//! autocomplete choices, interaction callback rules). Each problem becomes a readable string in
//! [`DiscordMock::violations`] and the request is answered like Discord would, usually
//! `400 {"message":"Invalid Form Body","code":50035,"errors":{...}}` with the nested
//! `_errors` serenity turns into `DiscordJsonSingleError { path: "embeds.0.title", .. }`.
//! Tests should assert the violation list is empty.
//!
//! Behaviour worth knowing:
//! - Routes in [`Request::route`] are the document's templates, e.g.
//!   `/webhooks/{webhook_id}/{webhook_token}/messages/@original`. Methods taking a route
//!   ([`DiscordMock::requests_to`], [`DiscordMock::wait_for`], [`DiscordMock::fail`]) ignore
//!   parameter names and an `/api/v10` prefix, so `/webhooks/{app}/{token}/messages/@original`
//!   works too.
//! - An unknown path answers `404 {"message":"404: Not Found","code":0}`, a known path with
//!   the wrong method `405`, a wrong or missing token `401 {"message":"401: Unauthorized",
//!   "code":0}`, all recorded as violations (a missing token is fine where the document allows
//!   anonymous calls: interaction callbacks and webhooks).
//! - Interactions made with the `interaction_*` builders (or dispatched as
//!   `INTERACTION_CREATE`) are tracked: the callback must come within the deadline (3 s, see
//!   [`DiscordMock::set_callback_deadline`]; later → `404 Unknown interaction`, code 10062), at
//!   most once (`400`, code 40060), with a type that fits the interaction (autocomplete → 8,
//!   update-message types only for components), and the follow-up webhook
//!   (`/webhooks/{application_id}/{token}`) works only after the callback (`404 Unknown
//!   Webhook`, code 10015). All of these are violations too.
//! - Failures injected with [`DiscordMock::fail`] are served only for requests that are
//!   otherwise valid. A 429 carries the body `{"message","retry_after","global","code":0}`
//!   and the headers `Retry-After`, `X-RateLimit-*` (and `X-RateLimit-Global`); with the rate
//!   limiter disabled serenity hands back `Error::Http(HttpError::UnsuccessfulRequest(r))`
//!   with `r.status_code == 429`, `r.error.message == "You are being rate limited."`,
//!   `r.error.code == 0`, and **no** retry-after: serenity drops the headers and the
//!   `retry_after` field. Read it from [`DiscordMock::fail`]'s argument or with a raw client.
//! - serenity 0.12.5 checks a few limits itself before sending (content over 2000 characters,
//!   more than 10 embeds, one embed over 6000 characters → `Error::Model`); the mock catches
//!   the rest (a title over 256, more than 25 fields, 6000 summed over all embeds, ...).
//! - Unknown but documented routes answer 204, `[]` or `{}` following the document's success
//!   response, and are recorded.
//! - String lengths are counted in Unicode scalar values, like Discord and serenity.
//! - Integer fields accept digit strings where Discord does (64-bit fields such as
//!   `default_member_permissions`, which serenity sends as a string), and snowflake strings
//!   accept JSON integers. `oneOf` is checked like `anyOf` (the document's unions are told
//!   apart by their `type`); when no branch fits, the best-fitting branch's problems are shown.
//! - The `interaction_*` builders make interactions of an app installed to the guild (context
//!   0, `authorizing_integration_owners` `{"0": guild}`), or in the bot's DM with `guild_id` 0
//!   (context 1, `{"0": "0", "1": user}`). [`user_installed`] turns one into what a
//!   user-only install receives (`{"1": user}`, in a guild that never added the app or in the
//!   bot's DM), [`in_private_channel`] moves a DM one into a group DM between users
//!   (context 2).
//! - Interaction deadlines run from the builder call, or from [`DiscordMock::dispatch`] of
//!   the `INTERACTION_CREATE`. A request answered with an injected failure changes no state
//!   (a failed callback does not acknowledge the interaction).
//! - `POST /users/@me/channels` (a bot opening a DM) needs `recipient_id` and answers a DM
//!   channel (type 1) whose id is the same every time for a recipient:
//!   [`DiscordMock::dm_channel`] tells it beforehand, so a test can make posts there fail,
//!   e.g. with [`Failure::CannotMessageUser`] (what Discord answers when the person closed
//!   their DMs or blocked the bot). `GET /channels/{id}` knows these channels too.
//!
//! The gateway: HELLO (`heartbeat_interval` 41250) on connect; IDENTIFY with the token (bare
//! or `Bot `-prefixed, serenity sends the latter) → READY (`s` 1, with `v`, `user`, `guilds:
//! []`, `session_id`, `resume_gateway_url` = the same URL, `shard` if given, `application
//! {id, flags}`); HEARTBEAT → HEARTBEAT_ACK at any time; RESUME → INVALID_SESSION `false`
//! (resuming is not supported); a wrong token closes with 4004, other ops before IDENTIFY with
//! 4003, a second IDENTIFY with 4005, unknown ops with 4001 (all violations). serenity asks for
//! `compress: true`; the mock still sends plain text frames, which serenity reads fine.
#![allow(dead_code)]

// Each mock stands alone (tests include one or both), so both load the shared modules.
#[allow(clippy::duplicate_mod)]
#[path = "mock_common.rs"]
mod common;
#[allow(clippy::duplicate_mod)]
#[path = "multipart.rs"]
mod multipart;
use common::{FailRules, Listener, Server, content_type, form_pairs, int, lock, percent_decode};
use multipart::parse_multipart;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};

/// Where Discord's OpenAPI document lives (outside the crate, shared by the team).
pub const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/specs/discord-openapi.json"
);

/// The REST prefix serenity uses (`https://discord.com` is replaced by the proxy URL).
pub const API_PREFIX: &str = "/api/v10";

/// Path of the gateway websocket on the mock.
pub const GATEWAY_WS_PATH: &str = "/gateway-ws";

/// Heartbeat interval announced in HELLO (Discord's usual value).
pub const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

/// Bot user id when the token's first segment is not a base64-encoded id.
pub const DEFAULT_BOT_USER_ID: u64 = 1_100_000_000_000_000_001;

/// The bot's username as `GET /users/@me` and READY report it.
pub const BOT_USERNAME: &str = "Rouge Test";

/// `attachment_size_limit` in interaction payloads (10 MiB, an unboosted guild).
pub const ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// Permissions of the bot in interaction payloads (`app_permissions`): view channel, send
/// messages, embed links, attach files, read history, use external emojis, add reactions.
pub const APP_PERMISSIONS: &str = "379968";

/// How long an interaction may wait for its callback by default.
pub const CALLBACK_DEADLINE: Duration = Duration::from_secs(3);

const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
const MESSAGE_FLAG_EPHEMERAL: u64 = 1 << 6;
const MESSAGE_FLAG_LOADING: u64 = 1 << 7;
const MESSAGE_FLAG_COMPONENTS_V2: u64 = 1 << 15;

/// One REST request received by the mock.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// The path as received, e.g. `/api/v10/channels/1/messages`.
    pub path: String,
    /// The raw query string (serenity sends e.g. `&wait=true`), empty if none.
    pub query: String,
    /// The OpenAPI path template it matched, e.g. `/channels/{channel_id}/messages`; empty if
    /// none matched.
    pub route: String,
    /// Path parameters by template name (`channel_id` → `"1"`).
    pub params: BTreeMap<String, String>,
    /// The JSON body (`payload_json` for multipart requests), `Null` without a body.
    pub body: Value,
    /// File names of multipart file parts, in order.
    pub files: Vec<String>,
}

impl Request {
    /// A path parameter (`channel_id`, `interaction_token`, ...).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A path parameter as a number (snowflakes).
    pub fn param_u64(&self, name: &str) -> Option<u64> {
        self.param(name)?.parse().ok()
    }

    /// A query parameter (serenity writes `?&name=value`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// `content` of a message body (or of an interaction callback's `data`).
    pub fn content(&self) -> Option<&str> {
        self.body
            .get("content")
            .or_else(|| self.body.get("data").and_then(|d| d.get("content")))
            .and_then(Value::as_str)
    }

    /// `embeds` of a message body (or of an interaction callback's `data`).
    pub fn embeds(&self) -> Vec<Value> {
        self.body
            .get("embeds")
            .or_else(|| self.body.get("data").and_then(|d| d.get("embeds")))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// A failure to inject with [`DiscordMock::fail`].
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// 429 `{"message":"You are being rate limited.","retry_after":…,"global":…,"code":0}`
    /// with `Retry-After`, `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket/Scope` (and
    /// `X-RateLimit-Global: true` when global).
    RateLimited { retry_after: f64, global: bool },
    /// 403 `{"message":"Missing Access","code":50001}`.
    Forbidden,
    /// 403 `{"message":"Missing Permissions","code":50013}`.
    MissingPermissions,
    /// 404 `{"message":"Unknown Channel","code":10003}`.
    UnknownChannel,
    /// 404 `{"message":"Unknown Message","code":10008}`.
    UnknownMessage,
    /// 403 `{"message":"Cannot send messages to this user","code":50007}`: the recipient of a
    /// DM closed their DMs (to the server's members, or all) or blocked the bot.
    CannotMessageUser,
    /// 502 `{"message":"502: Bad Gateway","code":0}`.
    ServerError,
    /// Any other error: HTTP status, Discord error code and message.
    Custom {
        status: u16,
        code: i64,
        message: String,
    },
}

impl Failure {
    fn response(&self) -> Response {
        match self {
            Failure::RateLimited {
                retry_after,
                global,
            } => rate_limited(*retry_after, *global),
            Failure::Forbidden => discord_error(403, 50001, "Missing Access"),
            Failure::MissingPermissions => discord_error(403, 50013, "Missing Permissions"),
            Failure::UnknownChannel => discord_error(404, 10003, "Unknown Channel"),
            Failure::UnknownMessage => discord_error(404, 10008, "Unknown Message"),
            Failure::CannotMessageUser => {
                discord_error(403, 50007, "Cannot send messages to this user")
            }
            Failure::ServerError => discord_error(502, 0, "502: Bad Gateway"),
            Failure::Custom {
                status,
                code,
                message,
            } => discord_error(*status, *code, message),
        }
    }
}

/// Handle to a running mock. Cheap to clone; the server stops on [`DiscordMock::stop`] or
/// when the last handle is dropped.
#[derive(Clone)]
pub struct DiscordMock {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    server: Server,
}

struct Shared {
    token: String,
    application_id: u64,
    bot_id: u64,
    addr: SocketAddr,
    spec: Arc<Spec>,
    state: Mutex<MockState>,
    counter: AtomicU64,
    /// Turns `true` when the mock stops; gateway sessions close then.
    stopping: watch::Receiver<bool>,
}

struct MockState {
    requests: Vec<Request>,
    violations: Vec<String>,
    failures: FailRules<FailRule, Failure>,
    /// Messages the mock knows (sent by the bot or handed to the builders), by id.
    messages: HashMap<u64, Value>,
    /// Guild of a channel, learned from the interaction builders.
    channel_guilds: HashMap<u64, u64>,
    /// The DM channel of each recipient the bot opened one with (or a test asked about).
    dm_channels: HashMap<u64, u64>,
    global_commands: Vec<Value>,
    guild_commands: HashMap<u64, Vec<Value>>,
    interactions: HashMap<u64, InteractionRecord>,
    callback_deadline: Option<Duration>,
    sessions: Vec<Session>,
    next_session: u64,
    identified_total: usize,
    gateway_received: Vec<Value>,
    gateway_sent: Vec<Value>,
}

struct Session {
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    ready: bool,
    seq: u64,
    session_id: String,
    intents: u64,
}

enum Outgoing {
    Text(String),
    Close(u16, String),
}

struct InteractionRecord {
    token: String,
    /// Interaction type (2 command, 3 component, 4 autocomplete, 5 modal submit).
    kind: u64,
    created: Instant,
    /// The callback type once acknowledged.
    acknowledged: Option<u64>,
    channel_id: u64,
    /// The message shown as the original response (or the component's message).
    original: Option<u64>,
    component_message: Option<u64>,
}

/// Which requests a [`DiscordMock::fail`] rule answers.
struct FailRule {
    method: String,
    route: String,
    channel_id: Option<u64>,
}

fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// Normalizes a route for comparison: no `/api/vN` prefix, `{anything}` → `{}`, no trailing `/`.
fn route_key(route: &str) -> String {
    let mut r = route.trim();
    for prefix in ["/api/v10", "/api/v9"] {
        if let Some(rest) = r.strip_prefix(prefix) {
            r = rest;
        }
    }
    let segments: Vec<String> = r
        .trim_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                "{}".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect();
    format!("/{}", segments.join("/"))
}

/// Decodes standard or URL-safe base64 (padding optional).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// The bot user id a Discord token encodes in its first segment, if it does.
pub fn bot_id_from_token(token: &str) -> Option<u64> {
    let token = token.trim().trim_start_matches("Bot ").trim();
    let first = token.split('.').next()?;
    let decoded = base64_decode(first)?;
    let text = String::from_utf8(decoded).ok()?;
    text.parse().ok().filter(|id| *id > 0)
}

/// Encodes a user id as the first segment of a Discord-style token.
pub fn token_for_bot_id(bot_id: u64, secret: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = bot_id.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    format!("{out}.GmOcK1.{secret}")
}

fn user_json(user_id: u64) -> Value {
    json!({
        "id": user_id.to_string(),
        "username": format!("user{user_id}"),
        "global_name": format!("User {user_id}"),
        "discriminator": "0",
        "avatar": null,
        "public_flags": 0,
        "flags": 0,
        "banner": null,
        "accent_color": null,
        "avatar_decoration_data": null,
    })
}

fn member_json(user_id: u64, permissions: &str) -> Value {
    json!({
        "user": user_json(user_id),
        "roles": [],
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "nick": null,
        "avatar": null,
        "banner": null,
        "permissions": permissions,
        "communication_disabled_until": null,
        "unusual_dm_activity_until": null,
    })
}

/// Removes `null` members from objects (recursively), as Discord omits most absent fields.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

impl DiscordMock {
    /// Whether Discord's OpenAPI document is present (tests skip when it is not).
    pub fn spec_available() -> bool {
        common::spec_available(SPEC_PATH)
    }

    /// Starts the mock for `token` (with or without `Bot `) and `application_id`.
    ///
    /// The bot user id comes from the token's first segment when it is a base64-encoded id
    /// (as in real tokens, see [`token_for_bot_id`]), else [`DEFAULT_BOT_USER_ID`].
    /// Panics if the document cannot be loaded; check [`DiscordMock::spec_available`] first.
    pub async fn start(token: &str, application_id: u64) -> DiscordMock {
        let spec = match spec() {
            Ok(spec) => spec,
            Err(e) => panic!("discord mock: {e}"),
        };
        let token = token.trim().trim_start_matches("Bot ").trim().to_owned();
        let bot_id = bot_id_from_token(&token).unwrap_or(DEFAULT_BOT_USER_ID);
        let listener = Listener::bind("discord mock").await;
        let shared = Arc::new(Shared {
            token,
            application_id,
            bot_id,
            addr: listener.addr(),
            spec,
            state: Mutex::new(MockState {
                requests: Vec::new(),
                violations: Vec::new(),
                failures: FailRules::new(),
                messages: HashMap::new(),
                channel_guilds: HashMap::new(),
                dm_channels: HashMap::new(),
                global_commands: Vec::new(),
                guild_commands: HashMap::new(),
                interactions: HashMap::new(),
                callback_deadline: Some(CALLBACK_DEADLINE),
                sessions: Vec::new(),
                next_session: 1,
                identified_total: 0,
                gateway_received: Vec::new(),
                gateway_sent: Vec::new(),
            }),
            counter: AtomicU64::new(1),
            stopping: listener.stopping(),
        });
        let app = Router::new()
            .route(GATEWAY_WS_PATH, get(gateway_upgrade))
            .fallback(handle_rest)
            .with_state(shared.clone());
        let server = listener.serve(app);
        DiscordMock {
            inner: Arc::new(Handle { shared, server }),
        }
    }

    /// `http://127.0.0.1:PORT`, what `HttpBuilder::proxy` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.shared.addr)
    }

    /// `ws://127.0.0.1:PORT/gateway-ws`, what `GET /gateway` answers.
    pub fn gateway_url(&self) -> String {
        self.inner.shared.gateway_url()
    }

    /// The bot's user id.
    pub fn bot_user_id(&self) -> u64 {
        self.inner.shared.bot_id
    }

    /// The application id the mock was started with.
    pub fn application_id(&self) -> u64 {
        self.inner.shared.application_id
    }

    /// The bot's user object as `GET /users/@me` reports it.
    pub fn bot_user(&self) -> Value {
        self.inner.shared.bot_user()
    }

    /// A fresh snowflake (ids of messages, commands, ...), increasing.
    pub fn snowflake(&self) -> u64 {
        self.inner.shared.snowflake()
    }

    fn state(&self) -> MutexGuard<'_, MockState> {
        lock(&self.inner.shared.state)
    }

    /// Every REST request received so far, in order (also those that were rejected).
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Requests with `method` (case-insensitive) to `route` (a template; parameter names and
    /// an `/api/v10` prefix are ignored).
    pub fn requests_to(&self, method: &str, route: &str) -> Vec<Request> {
        let method = method.to_ascii_uppercase();
        let key = route_key(route);
        self.state()
            .requests
            .iter()
            .filter(|r| r.method == method && !r.route.is_empty() && route_key(&r.route) == key)
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests (not the violations).
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// Polls every 20 ms until at least `count` requests match or `timeout` passes; returns
    /// the matching requests received by then (possibly fewer).
    pub async fn wait_for(
        &self,
        method: &str,
        route: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<Request> {
        common::poll_for(count, timeout, || self.requests_to(method, route)).await
    }

    /// Makes the next `times` valid requests with `method` to `route` (for any channel, or
    /// only where the path's `channel_id` is `channel_id`) fail with `failure`.
    pub fn fail(
        &self,
        method: &str,
        route: &str,
        channel_id: Option<u64>,
        failure: Failure,
        times: usize,
    ) {
        let rule = FailRule {
            method: method.to_ascii_uppercase(),
            route: route_key(route),
            channel_id,
        };
        self.state().failures.add(rule, failure, times);
    }

    /// Every request Discord would reject, as readable strings.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Forgets the recorded violations.
    pub fn clear_violations(&self) {
        self.state().violations.clear();
    }

    /// How long an interaction may wait for its callback (`None`: forever). Default 3 s.
    pub fn set_callback_deadline(&self, deadline: Option<Duration>) {
        self.state().callback_deadline = deadline;
    }

    /// A message the mock knows (sent or edited by the bot, or given to a builder).
    pub fn message(&self, message_id: u64) -> Option<Value> {
        self.state().messages.get(&message_id).cloned()
    }

    /// Every message the bot really posted (answered with success), in no order.
    pub fn messages(&self) -> Vec<Value> {
        self.state().messages.values().cloned().collect()
    }

    /// The id of the bot's DM channel with `user`: what `POST /users/@me/channels` answers
    /// for that recipient, now and later.
    pub fn dm_channel(&self, user: u64) -> u64 {
        self.inner.shared.dm_channel(user)
    }

    /// The global commands as last registered.
    pub fn global_commands(&self) -> Vec<Value> {
        self.state().global_commands.clone()
    }

    /// A guild's commands as last registered.
    pub fn guild_commands(&self, guild_id: u64) -> Vec<Value> {
        self.state()
            .guild_commands
            .get(&guild_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The callback type an interaction was acknowledged with, if it was.
    pub fn interaction_callback_type(&self, interaction_id: u64) -> Option<u64> {
        self.state()
            .interactions
            .get(&interaction_id)
            .and_then(|i| i.acknowledged)
    }

    // -----------------------------------------------------------------------------------------
    // Gateway
    // -----------------------------------------------------------------------------------------

    /// Waits until at least one client has IDENTIFYed and received READY; false on timeout.
    pub async fn wait_for_session(&self, timeout: Duration) -> bool {
        common::poll_until(timeout, || self.sessions() > 0).await
    }

    /// Connected sessions that got READY.
    pub fn sessions(&self) -> usize {
        self.state().sessions.iter().filter(|s| s.ready).count()
    }

    /// Successful IDENTIFYs since the start (reconnects count again).
    pub fn identified_total(&self) -> usize {
        self.state().identified_total
    }

    /// Every gateway payload clients sent (IDENTIFY, heartbeats, ...), in order.
    pub fn gateway_received(&self) -> Vec<Value> {
        self.state().gateway_received.clone()
    }

    /// Every gateway payload the mock sent (HELLO, READY, dispatches, ...), in order.
    pub fn gateway_sent(&self) -> Vec<Value> {
        self.state().gateway_sent.clone()
    }

    /// Sends `{"op":0,"t":event_name,"s":seq,"d":data}` to every READY session (each with its
    /// own increasing `s`) and returns how many sessions got it. An `INTERACTION_CREATE`
    /// starts the interaction's callback deadline now.
    pub fn dispatch(&self, event_name: &str, data: Value) -> usize {
        let shared = &self.inner.shared;
        let mut st = lock(&shared.state);
        if event_name == "INTERACTION_CREATE" {
            shared.register_interaction(&mut st, &data);
        }
        let mut sent = Vec::new();
        let mut reached = 0;
        for session in st.sessions.iter_mut().filter(|s| s.ready) {
            session.seq += 1;
            let frame = json!({ "op": 0, "t": event_name, "s": session.seq, "d": data });
            if session.tx.send(Outgoing::Text(frame.to_string())).is_ok() {
                reached += 1;
                sent.push(frame);
            }
        }
        st.gateway_sent.extend(sent);
        reached
    }

    /// Closes every gateway connection with `code` (e.g. 4000 to make serenity reconnect).
    pub fn close_sessions(&self, code: u16, reason: &str) {
        let mut st = self.state();
        for session in st.sessions.drain(..) {
            let _ = session.tx.send(Outgoing::Close(code, reason.to_owned()));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Interaction payloads
    // -----------------------------------------------------------------------------------------

    /// A complete APPLICATION_COMMAND (type 2) interaction serenity 0.12.5 accepts, for a chat
    /// input command `name` with `options` (a JSON array of `{"name","type","value"}` /
    /// sub-command `{"name","type":1,"options":[...]}` objects, or `Null`).
    ///
    /// `guild_id` 0 makes it a DM interaction (`user` instead of `member`, channel type 1).
    /// `permissions` is the member's permission bit string (e.g. `"8"` for administrator).
    /// User (6) and channel (7) options get `resolved` entries. The command id is the one the
    /// bot registered under that name, if any. The interaction is tracked (see module docs).
    #[allow(clippy::too_many_arguments)]
    pub fn interaction_command(
        &self,
        id: u64,
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        permissions: &str,
        name: &str,
        options: Value,
    ) -> Value {
        self.command_like(
            2,
            id,
            guild_id,
            channel_id,
            user_id,
            permissions,
            name,
            options,
        )
    }

    /// An APPLICATION_COMMAND_AUTOCOMPLETE (type 4) interaction: like
    /// [`DiscordMock::interaction_command`], with the option named `focused` (searched in
    /// sub-commands too) marked `"focused": true` and its value turned into the partial string
    /// the user typed, as Discord sends it. Panics if no option has that name.
    #[allow(clippy::too_many_arguments)]
    pub fn interaction_autocomplete(
        &self,
        id: u64,
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        permissions: &str,
        name: &str,
        options: Value,
        focused: &str,
    ) -> Value {
        let mut options = if options.is_null() {
            json!([])
        } else {
            options
        };
        if !mark_focused(&mut options, focused) {
            panic!("discord mock: no option named {focused:?} in {options}");
        }
        self.command_like(
            4,
            id,
            guild_id,
            channel_id,
            user_id,
            permissions,
            name,
            options,
        )
    }

    /// A MESSAGE_COMPONENT (type 3) interaction: a button (`component_type` 2) or select menu
    /// (3 string, 5 user, 6 role, 7 mentionable, 8 channel; `values` are the picks) with
    /// `custom_id` on `message`. Without a message the mock uses the last message it knows in
    /// that channel carrying that `custom_id`, else makes one from the bot. Missing required
    /// message fields are filled in.
    #[allow(clippy::too_many_arguments)]
    pub fn interaction_component(
        &self,
        id: u64,
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        permissions: &str,
        custom_id: &str,
        component_type: u8,
        values: Vec<String>,
        message: Option<Value>,
    ) -> Value {
        let shared = &self.inner.shared;
        let message = {
            let st = lock(&shared.state);
            match message {
                Some(m) => shared.complete_message(m, channel_id),
                None => st
                    .messages
                    .values()
                    .filter(|m| {
                        m.get("channel_id").and_then(int::<u64>) == Some(channel_id)
                            && contains_custom_id(m.get("components"), custom_id)
                    })
                    .max_by_key(|m| m.get("id").and_then(int::<u64>).unwrap_or(0))
                    .cloned()
                    .unwrap_or_else(|| {
                        let component = if component_type == 2 {
                            json!({ "type": 2, "style": 1, "label": "Button", "custom_id": custom_id })
                        } else {
                            json!({
                                "type": component_type,
                                "custom_id": custom_id,
                                "options": if component_type == 3 {
                                    values.iter().map(|v| json!({"label": v, "value": v})).collect::<Vec<_>>()
                                } else {
                                    Vec::new()
                                },
                            })
                        };
                        shared.complete_message(
                            json!({ "components": [{ "type": 1, "components": [component] }] }),
                            channel_id,
                        )
                    }),
            }
        };
        let message_id = message.get("id").and_then(int::<u64>).unwrap_or(0);
        let mut data = json!({ "custom_id": custom_id, "component_type": component_type });
        if matches!(component_type, 3 | 5..=8) {
            data["values"] = json!(values);
        }
        if component_type == 5 {
            let users: Map<String, Value> = values
                .iter()
                .filter_map(|v| v.parse::<u64>().ok())
                .map(|u| (u.to_string(), user_json(u)))
                .collect();
            data["resolved"] = json!({ "users": users });
        }
        let mut payload = self.base_interaction(3, id, guild_id, channel_id, user_id, permissions);
        payload.insert("data".into(), data);
        payload.insert("message".into(), message.clone());
        let payload = Value::Object(payload);
        let mut st = lock(&shared.state);
        st.messages.insert(message_id, message);
        shared.register_interaction(&mut st, &payload);
        if let Some(rec) = st.interactions.get_mut(&id) {
            rec.component_message = Some(message_id);
            rec.original = Some(message_id);
        }
        payload
    }

    #[allow(clippy::too_many_arguments)]
    fn command_like(
        &self,
        kind: u64,
        id: u64,
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        permissions: &str,
        name: &str,
        options: Value,
    ) -> Value {
        let shared = &self.inner.shared;
        let command_id = {
            let st = lock(&shared.state);
            let find = |cmds: &[Value]| {
                cmds.iter()
                    .find(|c| {
                        c.get("name").and_then(Value::as_str) == Some(name)
                            && c.get("type").and_then(Value::as_u64).unwrap_or(1) == 1
                    })
                    .and_then(|c| c.get("id").and_then(int::<u64>))
            };
            st.guild_commands
                .get(&guild_id)
                .and_then(|c| find(c))
                .map(|id| (id, true))
                .or_else(|| find(&st.global_commands).map(|id| (id, false)))
        };
        let (command_id, guild_command) = command_id.unwrap_or_else(|| (shared.snowflake(), false));
        let mut data = json!({ "id": command_id.to_string(), "name": name, "type": 1 });
        if guild_command {
            data["guild_id"] = json!(guild_id.to_string());
        }
        if let Some(opts) = options.as_array()
            && !opts.is_empty()
        {
            data["options"] = options.clone();
            let mut users = Map::new();
            let mut members = Map::new();
            let mut channels = Map::new();
            collect_resolved(opts, &mut |kind, value| match kind {
                6 => {
                    if let Some(u) = int::<u64>(value) {
                        users.insert(u.to_string(), user_json(u));
                        if guild_id != 0 {
                            let mut m = member_json(u, "0");
                            if let Some(obj) = m.as_object_mut() {
                                obj.remove("user");
                            }
                            members.insert(u.to_string(), m);
                        }
                    }
                }
                7 => {
                    if let Some(c) = int::<u64>(value) {
                        channels.insert(
                            c.to_string(),
                            json!({ "id": c.to_string(), "name": format!("channel-{c}"),
                                    "type": 0, "permissions": APP_PERMISSIONS, "flags": 0 }),
                        );
                    }
                }
                _ => {}
            });
            let mut resolved = Map::new();
            if !users.is_empty() {
                resolved.insert("users".into(), Value::Object(users));
            }
            if !members.is_empty() {
                resolved.insert("members".into(), Value::Object(members));
            }
            if !channels.is_empty() {
                resolved.insert("channels".into(), Value::Object(channels));
            }
            if !resolved.is_empty() {
                data["resolved"] = Value::Object(resolved);
            }
        }
        let mut payload =
            self.base_interaction(kind, id, guild_id, channel_id, user_id, permissions);
        payload.insert("data".into(), data);
        let payload = Value::Object(payload);
        let mut st = lock(&shared.state);
        shared.register_interaction(&mut st, &payload);
        payload
    }

    fn base_interaction(
        &self,
        kind: u64,
        id: u64,
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        permissions: &str,
    ) -> Map<String, Value> {
        let shared = &self.inner.shared;
        let token = format!("aW50ZXJhY3Rpb246{id}mock{:x}", shared.snowflake() ^ 0x5eed);
        let mut p = Map::new();
        p.insert("id".into(), json!(id.to_string()));
        p.insert(
            "application_id".into(),
            json!(shared.application_id.to_string()),
        );
        p.insert("type".into(), json!(kind));
        p.insert("token".into(), json!(token));
        p.insert("version".into(), json!(1));
        p.insert("channel_id".into(), json!(channel_id.to_string()));
        p.insert("app_permissions".into(), json!(APP_PERMISSIONS));
        p.insert("locale".into(), json!("en-US"));
        p.insert("entitlements".into(), json!([]));
        p.insert("attachment_size_limit".into(), json!(ATTACHMENT_SIZE_LIMIT));
        if guild_id != 0 {
            lock(&shared.state)
                .channel_guilds
                .insert(channel_id, guild_id);
            p.insert("guild_id".into(), json!(guild_id.to_string()));
            p.insert("guild_locale".into(), json!("en-US"));
            p.insert(
                "guild".into(),
                json!({ "id": guild_id.to_string(), "locale": "en-US", "features": [] }),
            );
            p.insert(
                "channel".into(),
                json!({
                    "id": channel_id.to_string(),
                    "type": 0,
                    "name": format!("channel-{channel_id}"),
                    "guild_id": guild_id.to_string(),
                    "position": 0,
                    "permissions": permissions,
                    "flags": 0,
                    "nsfw": false,
                    "parent_id": null,
                    "topic": null,
                    "last_message_id": null,
                    "rate_limit_per_user": 0,
                }),
            );
            p.insert("member".into(), member_json(user_id, permissions));
            p.insert(
                "authorizing_integration_owners".into(),
                json!({ "0": guild_id.to_string() }),
            );
            p.insert("context".into(), json!(0));
        } else {
            p.insert(
                "channel".into(),
                json!({
                    "id": channel_id.to_string(),
                    "type": 1,
                    "flags": 0,
                    "last_message_id": null,
                    "recipients": [user_json(user_id)],
                }),
            );
            p.insert("user".into(), user_json(user_id));
            p.insert(
                "authorizing_integration_owners".into(),
                json!({ "0": "0", "1": user_id.to_string() }),
            );
            p.insert("context".into(), json!(1));
        }
        p
    }

    /// Stops the server and closes gateway connections (for every clone of this handle).
    pub async fn stop(self) {
        self.inner.server.stop().await;
    }
}

fn mark_focused(options: &mut Value, focused: &str) -> bool {
    let Some(items) = options.as_array_mut() else {
        return false;
    };
    for option in items {
        if option.get("name").and_then(Value::as_str) == Some(focused) {
            let value = match option.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            option["value"] = json!(value);
            option["focused"] = json!(true);
            return true;
        }
        if let Some(sub) = option.get_mut("options")
            && mark_focused(sub, focused)
        {
            return true;
        }
    }
    false
}

fn collect_resolved(options: &[Value], f: &mut dyn FnMut(u64, &Value)) {
    for option in options {
        let kind = option.get("type").and_then(Value::as_u64).unwrap_or(0);
        if let Some(sub) = option.get("options").and_then(Value::as_array) {
            collect_resolved(sub, f);
        }
        if let Some(value) = option.get("value") {
            f(kind, value);
        }
    }
}

fn contains_custom_id(components: Option<&Value>, custom_id: &str) -> bool {
    match components {
        Some(Value::Array(items)) => items.iter().any(|c| {
            c.get("custom_id").and_then(Value::as_str) == Some(custom_id)
                || contains_custom_id(c.get("components"), custom_id)
                || contains_custom_id(c.get("accessory").map(|a| json!([a])).as_ref(), custom_id)
        }),
        _ => false,
    }
}

/// `app_permissions` Discord documents for DMs and group DMs between users: attach files,
/// embed links, mention everyone.
pub const PRIVATE_CHANNEL_APP_PERMISSIONS: &str = "180224";

/// An interaction from the `interaction_*` builders as Discord sends it when the app is
/// installed only to the invoking user: `authorizing_integration_owners` is `{"1": user}`. A
/// guild interaction stays in its guild (context 0, a guild that never added the app; the
/// member and their permissions are still sent); a DM one stays the bot's DM (context 1).
pub fn user_installed(mut payload: Value) -> Value {
    let user = invoking_user(&payload);
    payload["authorizing_integration_owners"] = json!({ "1": user });
    payload
}

/// A DM interaction from the `interaction_*` builders moved into a group DM between users
/// (context 2, channel type 3), which only a user install reaches: owners `{"1": user}` and
/// the `app_permissions` Discord documents for such channels. Panics on a guild interaction.
pub fn in_private_channel(payload: Value) -> Value {
    assert!(
        payload.get("guild_id").is_none(),
        "discord mock: a private channel has no guild"
    );
    let mut payload = user_installed(payload);
    let user = payload["user"].clone();
    payload["context"] = json!(2);
    payload["app_permissions"] = json!(PRIVATE_CHANNEL_APP_PERMISSIONS);
    payload["channel"] = json!({
        "id": payload["channel_id"].clone(),
        "type": 3,
        "flags": 0,
        "last_message_id": null,
        "name": null,
        "icon": null,
        "owner_id": user["id"].clone(),
        "recipients": [user],
    });
    payload
}

/// The id (a string) of the user behind an interaction payload.
fn invoking_user(payload: &Value) -> Value {
    payload
        .pointer("/member/user/id")
        .or_else(|| payload.pointer("/user/id"))
        .cloned()
        .unwrap_or(Value::Null)
}

impl Shared {
    fn gateway_url(&self) -> String {
        format!("ws://{}{GATEWAY_WS_PATH}", self.addr)
    }

    fn snowflake(&self) -> u64 {
        let ms = u64::try_from(chrono::Utc::now().timestamp_millis())
            .unwrap_or(DISCORD_EPOCH_MS)
            .saturating_sub(DISCORD_EPOCH_MS);
        (ms << 22) | (self.counter.fetch_add(1, Ordering::Relaxed) & 0x3F_FFFF)
    }

    fn bot_user(&self) -> Value {
        json!({
            "id": self.bot_id.to_string(),
            "username": BOT_USERNAME.to_lowercase().replace(' ', "_"),
            "global_name": BOT_USERNAME,
            "discriminator": "0",
            "avatar": null,
            "bot": true,
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
        })
    }

    fn current_user(&self) -> Value {
        let mut me = self.bot_user();
        me["verified"] = json!(true);
        me["mfa_enabled"] = json!(false);
        me["locale"] = json!("en-US");
        me["email"] = Value::Null;
        me["premium_type"] = json!(0);
        me
    }

    /// The DM channel with `user`, made on first use.
    fn dm_channel(&self, user: u64) -> u64 {
        let mut st = lock(&self.state);
        if let Some(&channel) = st.dm_channels.get(&user) {
            return channel;
        }
        let channel = self.snowflake();
        st.dm_channels.insert(user, channel);
        channel
    }

    /// Fills in what serenity's `Message` requires, keeping what `m` has.
    fn complete_message(&self, m: Value, channel_id: u64) -> Value {
        let mut base = json!({
            "id": self.snowflake().to_string(),
            "channel_id": channel_id.to_string(),
            "type": 0,
            "author": self.bot_user(),
            "content": "",
            "timestamp": now_rfc3339(),
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": false,
            "flags": 0,
        });
        if let (Some(obj), Value::Object(given)) = (base.as_object_mut(), m) {
            obj.extend(given);
        }
        base
    }

    fn register_interaction(&self, st: &mut MockState, payload: &Value) {
        let Some(id) = payload.get("id").and_then(int::<u64>) else {
            return;
        };
        let Some(token) = payload.get("token").and_then(Value::as_str) else {
            return;
        };
        let kind = payload.get("type").and_then(Value::as_u64).unwrap_or(0);
        let channel_id = payload.get("channel_id").and_then(int::<u64>).unwrap_or(0);
        let component_message = payload
            .get("message")
            .and_then(|m| m.get("id"))
            .and_then(int::<u64>);
        match st.interactions.get_mut(&id) {
            Some(rec) if rec.token == token => {
                if rec.acknowledged.is_none() {
                    rec.created = Instant::now();
                }
            }
            _ => {
                st.interactions.insert(
                    id,
                    InteractionRecord {
                        token: token.to_owned(),
                        kind,
                        created: Instant::now(),
                        acknowledged: None,
                        channel_id,
                        original: component_message,
                        component_message,
                    },
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signing (HTTP interactions endpoint)
// ---------------------------------------------------------------------------------------------

/// Signs an interactions-endpoint request body like Discord: the `X-Signature-Ed25519` value
/// (lower-case hex) for `timestamp ‖ body`; send `timestamp` as `X-Signature-Timestamp`.
pub fn sign(key: &ed25519_dalek::SigningKey, timestamp: &str, body: &[u8]) -> String {
    use ed25519_dalek::Signer as _;
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    hex(&key.sign(&message).to_bytes())
}

/// Signs `body` with the current Unix time: `(X-Signature-Ed25519, X-Signature-Timestamp)`.
pub fn sign_now(key: &ed25519_dalek::SigningKey, body: &[u8]) -> (String, String) {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    (sign(key, &timestamp, body), timestamp)
}

/// The public key as the Developer Portal shows it (hex), what `Verifier::new` takes.
pub fn public_key_hex(key: &ed25519_dalek::SigningKey) -> String {
    hex(key.verifying_key().as_bytes())
}

/// POSTs a signed interaction to an interactions endpoint (on 127.0.0.1) like Discord does;
/// returns the status and the body (JSON, or a string if it is not JSON).
pub async fn deliver_interaction(
    endpoint_url: &str,
    key: &ed25519_dalek::SigningKey,
    interaction: &Value,
) -> (u16, Value) {
    let body = serde_json::to_vec(interaction).expect("interaction JSON");
    let (signature, timestamp) = sign_now(key, &body);
    let response = reqwest::Client::new()
        .post(endpoint_url)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            "Discord-Interactions/1.0 (+https://discord.com)",
        )
        .header("X-Signature-Ed25519", signature)
        .header("X-Signature-Timestamp", timestamp)
        .body(body)
        .send()
        .await
        .expect("request to the interactions endpoint");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn discord_error(status: u16, code: i64, message: &str) -> Response {
    json_response(status, json!({ "message": message, "code": code }))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn rate_limited(retry_after: f64, global: bool) -> Response {
    let mut response = json_response(
        429,
        json!({
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global,
            "code": 0,
        }),
    );
    let reset = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + retry_after;
    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("retry-after", format!("{}", retry_after.ceil() as u64));
    put("x-ratelimit-limit", "5".into());
    put("x-ratelimit-remaining", "0".into());
    put("x-ratelimit-reset", format!("{reset:.3}"));
    put("x-ratelimit-reset-after", format!("{retry_after:.3}"));
    put("x-ratelimit-bucket", "abcd1234mockbucket".into());
    put(
        "x-ratelimit-scope",
        if global { "global" } else { "user" }.into(),
    );
    if global {
        put("x-ratelimit-global", "true".into());
    }
    response
}

/// One validation problem: where in the request, Discord's error code, a message.
#[derive(Clone, Debug)]
struct Problem {
    path: Vec<String>,
    code: &'static str,
    message: String,
}

impl Problem {
    fn new(path: &[String], code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            path: path.to_vec(),
            code,
            message: message.into(),
        }
    }

    fn at(path: &[String], key: &str, code: &'static str, message: impl Into<String>) -> Problem {
        let mut p = path.to_vec();
        p.push(key.to_owned());
        Problem::new(&p, code, message)
    }

    fn path_str(&self) -> String {
        if self.path.is_empty() {
            "<body>".to_owned()
        } else {
            self.path.join(".")
        }
    }
}

fn extend_path(path: &[String], key: impl ToString) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(key.to_string());
    p
}

/// The nested `errors` object Discord sends with code 50035.
fn errors_json(problems: &[Problem]) -> Value {
    let mut root = Value::Object(Map::new());
    for p in problems {
        let mut node = &mut root;
        for segment in &p.path {
            node = node
                .as_object_mut()
                .expect("error node object")
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let list = node
            .as_object_mut()
            .expect("error node object")
            .entry("_errors")
            .or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.push(json!({ "code": p.code, "message": p.message }));
        }
    }
    root
}

// ---------------------------------------------------------------------------------------------
// REST handling
// ---------------------------------------------------------------------------------------------

/// An error Discord answers outside of "Invalid Form Body".
struct ApiError {
    status: u16,
    code: i64,
    message: String,
    why: String,
}

impl ApiError {
    fn new(status: u16, code: i64, message: &str, why: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.to_owned(),
            why: why.into(),
        }
    }
}

struct Body {
    json: Value,
    files: Vec<String>,
}

fn parse_body(content_type: &str, raw: &[u8]) -> Result<Body, ApiError> {
    if raw.is_empty() {
        return Ok(Body {
            json: Value::Null,
            files: Vec::new(),
        });
    }
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let boundary = multipart::boundary(content_type).ok_or_else(|| {
            ApiError::new(
                400,
                50035,
                "Invalid Form Body",
                "multipart without boundary",
            )
        })?;
        let parts = parse_multipart(raw, &boundary)
            .map_err(|e| ApiError::new(400, 50035, "Invalid Form Body", e))?;
        let mut json = Value::Object(Map::new());
        let mut files = Vec::new();
        for part in parts {
            if part.name == "payload_json" {
                json = serde_json::from_slice(&part.data).map_err(|e| {
                    ApiError::new(
                        400,
                        50109,
                        "The request body contains invalid JSON.",
                        format!("payload_json is not JSON: {e}"),
                    )
                })?;
            } else if let Some(filename) = part.filename {
                files.push(filename);
            } else if let Some(obj) = json.as_object_mut() {
                obj.insert(
                    part.name,
                    Value::String(String::from_utf8_lossy(&part.data).into_owned()),
                );
            }
        }
        return Ok(Body { json, files });
    }
    if !ct.starts_with("application/json") {
        return Err(ApiError::new(
            400,
            50035,
            "Invalid Form Body",
            format!("unsupported Content-Type {content_type:?} (serenity sends JSON or multipart)"),
        ));
    }
    let json = serde_json::from_slice(raw).map_err(|e| {
        ApiError::new(
            400,
            50109,
            "The request body contains invalid JSON.",
            format!("body is not JSON: {e}"),
        )
    })?;
    Ok(Body {
        json,
        files: Vec::new(),
    })
}

async fn handle_rest(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let method = method.as_str().to_ascii_uppercase();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let spec = shared.spec.clone();

    let mut request = Request {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        route: String::new(),
        params: BTreeMap::new(),
        body: Value::Null,
        files: Vec::new(),
    };
    let content_type = content_type(&headers);
    let body = parse_body(&content_type, &raw);
    if let Ok(b) = &body {
        request.body = b.json.clone();
        request.files = b.files.clone();
    }

    let violation = |request: Request, what: String, response: Response| -> Response {
        let mut st = lock(&shared.state);
        st.violations.push(what);
        st.requests.push(request);
        response
    };

    // Version prefix and route.
    let Some(api_path) = path.strip_prefix(API_PREFIX) else {
        return violation(
            request,
            format!("{method} {path}: not under {API_PREFIX}"),
            discord_error(404, 0, "404: Not Found"),
        );
    };
    let segments: Vec<String> = api_path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let (route, op, params) = match spec.match_route(&method, &segments) {
        Ok(found) => found,
        Err(RouteError::NotFound) => {
            return violation(
                request,
                format!("{method} {path}: no such route in the API"),
                discord_error(404, 0, "404: Not Found"),
            );
        }
        Err(RouteError::MethodNotAllowed(template)) => {
            request.route = template.clone();
            return violation(
                request,
                format!("{method} {template}: method not allowed for this route"),
                discord_error(405, 0, "405: Method Not Allowed"),
            );
        }
    };
    request.route = route.template.clone();
    request.params = params.clone();
    let label = format!("{method} {}", route.template);

    // Authorization.
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let expected = format!("Bot {}", shared.token);
    match auth {
        Some(a) if a == expected => {}
        Some(a) => {
            let shown = if a.starts_with("Bot ") {
                "a different bot token".to_owned()
            } else {
                format!(
                    "{:?} (no \"Bot \" prefix or wrong scheme)",
                    a.split(' ').next().unwrap_or("")
                )
            };
            return violation(
                request,
                format!("{label}: Authorization is {shown}"),
                discord_error(401, 0, "401: Unauthorized"),
            );
        }
        None if op.anonymous_ok => {}
        None => {
            return violation(
                request,
                format!("{label}: no Authorization header"),
                discord_error(401, 0, "401: Unauthorized"),
            );
        }
    }

    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return violation(
                request,
                format!("{label}: {}", e.why),
                discord_error(e.status, e.code, &e.message),
            );
        }
    };

    // Parameters and body.
    let validator = Validator { root: &spec.root };
    let mut problems = Vec::new();
    for p in &op.params {
        let raw_value = match p.location.as_str() {
            "path" => params.get(&p.name).cloned(),
            "query" => form_pairs(&query)
                .into_iter()
                .find(|(k, _)| *k == p.name)
                .map(|(_, v)| v),
            _ => continue,
        };
        match raw_value {
            Some(v) => {
                let value = validator.coerce_param(&p.schema, &v);
                validator.validate(
                    &p.schema,
                    &value,
                    std::slice::from_ref(&p.name),
                    &mut problems,
                    0,
                );
            }
            None if p.required => problems.push(Problem::new(
                std::slice::from_ref(&p.name),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            )),
            None => {}
        }
    }
    let mut api_errors = Vec::new();
    let has_body = !body.json.is_null() || !body.files.is_empty();
    match &op.body {
        Some(schema) if has_body => {
            discord_checks(
                &method,
                &route.template,
                &body,
                &mut problems,
                &mut api_errors,
            );
            validator.validate(schema, &body.json, &[], &mut problems, 0);
        }
        Some(_) if op.body_required => problems.push(Problem::new(
            &[],
            "BASE_TYPE_REQUIRED",
            "A request body is required",
        )),
        _ => {}
    }
    // Deduplicate by (path, code), keeping the first (Discord-specific checks come first).
    let mut seen = HashSet::new();
    problems.retain(|p| seen.insert((p.path.clone(), p.code)));

    if !problems.is_empty() {
        let response = json_response(
            400,
            json!({
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": errors_json(&problems),
            }),
        );
        let mut st = lock(&shared.state);
        for p in &problems {
            st.violations.push(format!(
                "{label}: {}: {} ({})",
                p.path_str(),
                p.message,
                p.code
            ));
        }
        st.requests.push(request);
        return response;
    }
    if let Some(e) = api_errors.into_iter().next() {
        return violation(
            request,
            format!("{label}: {}", e.why),
            discord_error(e.status, e.code, &e.message),
        );
    }

    lock(&shared.state).requests.push(request);

    // Injected failures (served instead of the answer; they change no state).
    {
        let key = route_key(&route.template);
        let channel_id = params.get("channel_id").and_then(|c| c.parse::<u64>().ok());
        let hit = lock(&shared.state).failures.take(|rule| {
            rule.method == method
                && rule.route == key
                && (rule.channel_id.is_none() || rule.channel_id == channel_id)
        });
        if let Some(failure) = hit {
            return failure.response();
        }
    }

    // Interaction and application state.
    if let Err(e) = state_checks(&shared, &method, &route.template, &params, &body.json) {
        lock(&shared.state)
            .violations
            .push(format!("{label}: {}", e.why));
        return discord_error(e.status, e.code, &e.message);
    }

    answer(
        &shared,
        &method,
        &route.template,
        &params,
        &query,
        &body,
        op.success,
    )
}

fn param_u64(params: &BTreeMap<String, String>, name: &str) -> u64 {
    params.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Checks that depend on what happened before (interactions, application id).
fn state_checks(
    shared: &Shared,
    method: &str,
    template: &str,
    params: &BTreeMap<String, String>,
    body: &Value,
) -> Result<(), ApiError> {
    if template.starts_with("/applications/{application_id}") {
        let app = param_u64(params, "application_id");
        if app != shared.application_id {
            return Err(ApiError::new(
                403,
                50001,
                "Missing Access",
                format!(
                    "application_id {app} is not this bot's application ({})",
                    shared.application_id
                ),
            ));
        }
    }
    let mut st = lock(&shared.state);
    let deadline = st.callback_deadline;
    if template == "/interactions/{interaction_id}/{interaction_token}/callback" {
        let id = param_u64(params, "interaction_id");
        let token = params.get("interaction_token").cloned().unwrap_or_default();
        let callback_type = body.get("type").and_then(Value::as_u64).unwrap_or(0);
        let Some(rec) = st.interactions.get_mut(&id) else {
            return Ok(());
        };
        if rec.token != token {
            return Err(ApiError::new(
                401,
                50027,
                "Invalid Webhook Token",
                format!("token does not belong to interaction {id}"),
            ));
        }
        if let Some(previous) = rec.acknowledged {
            return Err(ApiError::new(
                400,
                40060,
                "Interaction has already been acknowledged.",
                format!(
                    "interaction {id} was already acknowledged (type {previous}), second callback type {callback_type}"
                ),
            ));
        }
        if let Some(limit) = deadline {
            let waited = rec.created.elapsed();
            if waited > limit {
                return Err(ApiError::new(
                    404,
                    10062,
                    "Unknown interaction",
                    format!(
                        "callback for interaction {id} came after {} ms (limit {} ms)",
                        waited.as_millis(),
                        limit.as_millis()
                    ),
                ));
            }
        }
        let allowed: &[u64] = match rec.kind {
            1 => &[1],
            2 => &[4, 5, 9, 12],
            3 => &[4, 5, 6, 7, 9, 12],
            4 => &[8],
            5 => &[4, 5, 6, 7],
            _ => &[1, 4, 5, 6, 7, 8, 9, 12],
        };
        if !allowed.contains(&callback_type) {
            return Err(ApiError::new(
                400,
                50035,
                "Invalid Form Body",
                format!(
                    "callback type {callback_type} is not valid for a {} interaction (allowed: {allowed:?})",
                    interaction_kind_name(rec.kind)
                ),
            ));
        }
        rec.acknowledged = Some(callback_type);
        return Ok(());
    }
    if template.starts_with("/webhooks/{webhook_id}/{webhook_token}") {
        let webhook_id = param_u64(params, "webhook_id");
        let token = params.get("webhook_token").cloned().unwrap_or_default();
        let Some((id, rec)) = st.interactions.iter().find(|(_, r)| r.token == token) else {
            return Ok(());
        };
        if webhook_id != shared.application_id {
            return Err(ApiError::new(
                404,
                10015,
                "Unknown Webhook",
                format!(
                    "interaction webhook addressed with id {webhook_id}, not the application id {}",
                    shared.application_id
                ),
            ));
        }
        if rec.acknowledged.is_none() {
            return Err(ApiError::new(
                404,
                10015,
                "Unknown Webhook",
                format!(
                    "{method} on interaction {id}'s webhook before the interaction was acknowledged"
                ),
            ));
        }
    }
    Ok(())
}

fn interaction_kind_name(kind: u64) -> &'static str {
    match kind {
        1 => "PING",
        2 => "APPLICATION_COMMAND",
        3 => "MESSAGE_COMPONENT",
        4 => "APPLICATION_COMMAND_AUTOCOMPLETE",
        5 => "MODAL_SUBMIT",
        _ => "unknown",
    }
}

// ---------------------------------------------------------------------------------------------
// Discord's limits beyond the schema
// ---------------------------------------------------------------------------------------------

fn chars(v: Option<&Value>) -> usize {
    v.and_then(Value::as_str).map_or(0, |s| s.chars().count())
}

fn max_len(obj: &Value, key: &str, max: usize, path: &[String], out: &mut Vec<Problem>) -> usize {
    let n = chars(obj.get(key));
    if n > max {
        out.push(Problem::at(
            path,
            key,
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {max} or fewer in length."),
        ));
    }
    n
}

fn bad_length(
    obj: &Value,
    key: &str,
    min: usize,
    max: usize,
    path: &[String],
    out: &mut Vec<Problem>,
) {
    if let Some(s) = obj.get(key).and_then(Value::as_str) {
        let n = s.chars().count();
        if n < min || n > max {
            out.push(Problem::at(
                path,
                key,
                "BASE_TYPE_BAD_LENGTH",
                format!("Must be between {min} and {max} in length."),
            ));
        }
    }
}

fn blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

fn check_url(
    v: Option<&Value>,
    key: &str,
    schemes: &[&str],
    path: &[String],
    out: &mut Vec<Problem>,
) {
    let Some(url) = v.and_then(Value::as_str) else {
        return;
    };
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme {
        Some(s) if schemes.contains(&s.as_str()) => {}
        Some(s) => out.push(Problem::at(
            path,
            key,
            "URL_TYPE_INVALID_SCHEME",
            format!("Scheme \"{s}\" is not supported. Scheme must be one of {schemes:?}."),
        )),
        None => out.push(Problem::at(
            path,
            key,
            "URL_TYPE_INVALID_URL",
            "Not a well formed URL.",
        )),
    }
}

/// Content, embeds and components of a message body (channel message, webhook, callback data).
fn check_message_body(
    body: &Value,
    path: &[String],
    require_nonempty: bool,
    files: usize,
    out: &mut Vec<Problem>,
    api_errors: &mut Vec<ApiError>,
) {
    if !body.is_object() {
        return;
    }
    max_len(body, "content", 2000, path, out);
    let embeds = body
        .get("embeds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let ep = extend_path(&extend_path(path, "embeds"), i);
        total += max_len(embed, "title", 256, &ep, out);
        total += max_len(embed, "description", 4096, &ep, out);
        check_url(embed.get("url"), "url", &["http", "https"], &ep, out);
        if let Some(fields) = embed.get("fields").and_then(Value::as_array) {
            if fields.len() > 25 {
                out.push(Problem::at(
                    &ep,
                    "fields",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ));
            }
            for (j, field) in fields.iter().enumerate() {
                let fp = extend_path(&extend_path(&ep, "fields"), j);
                for key in ["name", "value"] {
                    if blank(field.get(key)) {
                        out.push(Problem::at(
                            &fp,
                            key,
                            "BASE_TYPE_REQUIRED",
                            "This field is required",
                        ));
                    }
                }
                total += max_len(field, "name", 256, &fp, out);
                total += max_len(field, "value", 1024, &fp, out);
            }
        }
        if let Some(footer) = embed.get("footer").filter(|f| f.is_object()) {
            let fp = extend_path(&ep, "footer");
            if blank(footer.get("text")) {
                out.push(Problem::at(
                    &fp,
                    "text",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            }
            total += max_len(footer, "text", 2048, &fp, out);
            check_url(
                footer.get("icon_url"),
                "icon_url",
                &["http", "https", "attachment"],
                &fp,
                out,
            );
        }
        if let Some(author) = embed.get("author").filter(|a| a.is_object()) {
            let ap = extend_path(&ep, "author");
            if blank(author.get("name")) {
                out.push(Problem::at(
                    &ap,
                    "name",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            }
            total += max_len(author, "name", 256, &ap, out);
            check_url(author.get("url"), "url", &["http", "https"], &ap, out);
            check_url(
                author.get("icon_url"),
                "icon_url",
                &["http", "https", "attachment"],
                &ap,
                out,
            );
        }
        for key in ["image", "thumbnail"] {
            if let Some(media) = embed.get(key).filter(|m| m.is_object()) {
                let mp = extend_path(&ep, key);
                if media.get("url").is_none() {
                    out.push(Problem::at(
                        &mp,
                        "url",
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    ));
                }
                check_url(
                    media.get("url"),
                    "url",
                    &["http", "https", "attachment"],
                    &mp,
                    out,
                );
            }
        }
    }
    if total > 6000 {
        out.push(Problem::at(
            path,
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            format!("Embed size exceeds maximum size of 6000 (these embeds total {total})"),
        ));
    }
    let flags = body.get("flags").and_then(int::<u64>).unwrap_or(0);
    let components = body
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if flags & MESSAGE_FLAG_COMPONENTS_V2 == 0 {
        if components.len() > 5 {
            out.push(Problem::at(
                path,
                "components",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 5 or fewer in length.",
            ));
        }
        for (i, row) in components.iter().enumerate() {
            if row.get("type").and_then(Value::as_u64) != Some(1) {
                out.push(Problem::new(
                    &extend_path(&extend_path(path, "components"), i),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "Top-level components must be action rows unless the IS_COMPONENTS_V2 flag is set",
                ));
            }
        }
    }
    let mut custom_ids = HashSet::new();
    check_components(
        &components,
        &extend_path(path, "components"),
        &mut custom_ids,
        out,
    );
    if require_nonempty {
        let nonempty = |key: &str| match body.get(key) {
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(_)) => true,
            _ => false,
        };
        if ![
            "content",
            "embeds",
            "components",
            "sticker_ids",
            "attachments",
            "poll",
        ]
        .iter()
        .any(|k| nonempty(k))
            && files == 0
        {
            api_errors.push(ApiError::new(
                400,
                50006,
                "Cannot send an empty message",
                "message without content, embeds, components, stickers, files or poll",
            ));
        }
    }
}

fn check_components(
    components: &[Value],
    path: &[String],
    custom_ids: &mut HashSet<String>,
    out: &mut Vec<Problem>,
) {
    for (i, c) in components.iter().enumerate() {
        let cp = extend_path(path, i);
        if let Some(id) = c.get("custom_id").and_then(Value::as_str)
            && !custom_ids.insert(id.to_owned())
        {
            out.push(Problem::at(
                &cp,
                "custom_id",
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                format!("Component custom id cannot be duplicated ({id:?})"),
            ));
        }
        match c.get("type").and_then(Value::as_u64) {
            Some(2) => {
                let style = c.get("style").and_then(Value::as_u64).unwrap_or(0);
                let has_url = !blank(c.get("url"));
                let has_custom_id = !blank(c.get("custom_id"));
                match style {
                    5 if !has_url => out.push(Problem::at(
                        &cp,
                        "url",
                        "BUTTON_COMPONENT_URL_REQUIRED",
                        "A link button requires a url",
                    )),
                    5 if has_custom_id => out.push(Problem::at(
                        &cp,
                        "custom_id",
                        "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                        "A link button cannot have a custom_id",
                    )),
                    5 | 6 => {}
                    _ if !has_custom_id => out.push(Problem::at(
                        &cp,
                        "custom_id",
                        "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
                        "A non-link button requires a custom_id",
                    )),
                    _ if has_url => out.push(Problem::at(
                        &cp,
                        "url",
                        "BUTTON_COMPONENT_URL_NOT_ALLOWED",
                        "Only link buttons can have a url",
                    )),
                    _ => {}
                }
                if style == 5 {
                    check_url(c.get("url"), "url", &["http", "https", "discord"], &cp, out);
                }
                if blank(c.get("label")) && c.get("emoji").is_none_or(Value::is_null) && style != 6
                {
                    out.push(Problem::at(
                        &cp,
                        "label",
                        "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                        "A button needs a label or an emoji",
                    ));
                }
            }
            Some(3) => {
                let options = c
                    .get("options")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if options == 0 || options > 25 {
                    out.push(Problem::at(
                        &cp,
                        "options",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 25 in length.",
                    ));
                }
                let min = c.get("min_values").and_then(Value::as_u64).unwrap_or(1);
                let max = c.get("max_values").and_then(Value::as_u64).unwrap_or(1);
                if min > max || max as usize > options.max(1) {
                    out.push(Problem::at(
                        &cp,
                        "max_values",
                        "SELECT_COMPONENT_VALUES_INVALID",
                        format!("min_values {min} / max_values {max} do not fit {options} options"),
                    ));
                }
            }
            _ => {}
        }
        if let Some(children) = c.get("components").and_then(Value::as_array) {
            check_components(children, &extend_path(&cp, "components"), custom_ids, out);
        }
        if let Some(accessory) = c.get("accessory").filter(|a| a.is_object()) {
            check_components(
                std::slice::from_ref(accessory),
                &extend_path(&cp, "accessory"),
                custom_ids,
                out,
            );
        }
    }
}

fn valid_command_name(name: &str, chat_input: bool) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 || n > 32 {
        return Err(format!("{name:?} must be 1-32 characters long"));
    }
    if !chat_input {
        return Ok(());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphabetic() || c.is_numeric() || matches!(c, '-' | '_' | '\'')))
    {
        return Err(format!(
            "{name:?} contains {c:?}; chat input names must match ^[-_'\\p{{L}}\\p{{N}}]{{1,32}}$"
        ));
    }
    if name.chars().any(char::is_uppercase) {
        return Err(format!(
            "{name:?} must be lower case where the letters have a lower case variant"
        ));
    }
    Ok(())
}

/// A command object (create, bulk overwrite or, with `partial`, edit). Returns the characters
/// counted towards Discord's 4000 per command.
fn check_command(cmd: &Value, path: &[String], partial: bool, out: &mut Vec<Problem>) -> usize {
    if !cmd.is_object() {
        return 0;
    }
    let kind = cmd.get("type").and_then(Value::as_u64).unwrap_or(1);
    let chat_input = kind == 1;
    let mut total = 0;
    if let Some(name) = cmd.get("name").and_then(Value::as_str) {
        total += name.chars().count();
        if let Err(e) = valid_command_name(name, chat_input) {
            out.push(Problem::at(
                path,
                "name",
                "APPLICATION_COMMAND_INVALID_NAME",
                e,
            ));
        }
    }
    let description = cmd.get("description").and_then(Value::as_str);
    if chat_input {
        match description {
            Some(d) => {
                total += d.chars().count();
                bad_length(cmd, "description", 1, 100, path, out);
            }
            None if !partial => out.push(Problem::at(
                path,
                "description",
                "BASE_TYPE_REQUIRED",
                "This field is required (chat input commands need a description)",
            )),
            None => {}
        }
    } else if description.is_some_and(|d| !d.is_empty()) {
        out.push(Problem::at(
            path,
            "description",
            "APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED",
            "User and message commands cannot have a description",
        ));
    }
    if let Some(options) = cmd.get("options").and_then(Value::as_array) {
        if !chat_input && !options.is_empty() {
            out.push(Problem::at(
                path,
                "options",
                "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED",
                "User and message commands cannot have options",
            ));
        }
        total += check_options(options, &extend_path(path, "options"), 0, out);
    }
    if total > 4000 {
        out.push(Problem::new(
            path,
            "APPLICATION_COMMAND_TOO_LARGE",
            format!("Command exceeds maximum size (4000), it has {total} characters"),
        ));
    }
    total
}

fn check_options(
    options: &[Value],
    path: &[String],
    depth: usize,
    out: &mut Vec<Problem>,
) -> usize {
    let mut total = 0;
    if options.len() > 25 {
        out.push(Problem::new(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    let mut names = HashSet::new();
    let mut seen_optional = false;
    let kinds: Vec<u64> = options
        .iter()
        .map(|o| o.get("type").and_then(Value::as_u64).unwrap_or(0))
        .collect();
    let subcommands = kinds.iter().filter(|k| matches!(k, 1 | 2)).count();
    if subcommands > 0 && subcommands < kinds.len() {
        out.push(Problem::new(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-commands and sub-command groups cannot be mixed with other options",
        ));
    }
    for (i, option) in options.iter().enumerate() {
        let op = extend_path(path, i);
        let kind = kinds[i];
        if let Some(name) = option.get("name").and_then(Value::as_str) {
            total += name.chars().count();
            if let Err(e) = valid_command_name(name, true) {
                out.push(Problem::at(
                    &op,
                    "name",
                    "APPLICATION_COMMAND_INVALID_NAME",
                    e,
                ));
            }
            if !names.insert(name.to_owned()) {
                out.push(Problem::at(
                    &op,
                    "name",
                    "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                    format!("Option name {name:?} is already used"),
                ));
            }
        }
        if let Some(d) = option.get("description").and_then(Value::as_str) {
            total += d.chars().count();
        }
        bad_length(option, "description", 1, 100, &op, out);
        let required = option
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !matches!(kind, 1 | 2) {
            if required && seen_optional {
                out.push(Problem::at(
                    &op,
                    "required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                ));
            }
            if !required {
                seen_optional = true;
            }
        }
        let choices = option
            .get("choices")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if choices.len() > 25 {
            out.push(Problem::at(
                &op,
                "choices",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            ));
        }
        if !choices.is_empty() && option.get("autocomplete").and_then(Value::as_bool) == Some(true)
        {
            out.push(Problem::at(
                &op,
                "autocomplete",
                "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES_CONFLICT",
                "Autocomplete cannot be enabled on an option with choices",
            ));
        }
        for (j, choice) in choices.iter().enumerate() {
            let cp = extend_path(&extend_path(&op, "choices"), j);
            total += chars(choice.get("name"));
            bad_length(choice, "name", 1, 100, &cp, out);
            if let Some(v) = choice.get("value").and_then(Value::as_str) {
                total += v.chars().count();
                max_len(choice, "value", 100, &cp, out);
            }
        }
        if let Some(sub) = option.get("options").and_then(Value::as_array) {
            match kind {
                1 if depth <= 1 => {
                    if sub
                        .iter()
                        .any(|o| matches!(o.get("type").and_then(Value::as_u64), Some(1 | 2)))
                    {
                        out.push(Problem::at(
                            &op,
                            "options",
                            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                            "A sub-command cannot contain sub-commands",
                        ));
                    }
                    total += check_options(sub, &extend_path(&op, "options"), depth + 1, out);
                }
                2 if depth == 0 => {
                    if sub
                        .iter()
                        .any(|o| o.get("type").and_then(Value::as_u64) != Some(1))
                    {
                        out.push(Problem::at(
                            &op,
                            "options",
                            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                            "A sub-command group may only contain sub-commands",
                        ));
                    }
                    total += check_options(sub, &extend_path(&op, "options"), depth + 1, out);
                }
                1 | 2 => out.push(Problem::at(
                    &op,
                    "options",
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-commands nest at most group → sub-command",
                )),
                _ if !sub.is_empty() => out.push(Problem::at(
                    &op,
                    "options",
                    "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED",
                    "Only sub-commands and groups have options",
                )),
                _ => {}
            }
        }
    }
    total
}

fn check_command_list(cmds: &[Value], out: &mut Vec<Problem>) {
    let mut seen = HashSet::new();
    let mut per_type: HashMap<u64, usize> = HashMap::new();
    for (i, cmd) in cmds.iter().enumerate() {
        let path = vec![i.to_string()];
        check_command(cmd, &path, false, out);
        let kind = cmd.get("type").and_then(Value::as_u64).unwrap_or(1);
        *per_type.entry(kind).or_default() += 1;
        if let Some(name) = cmd.get("name").and_then(Value::as_str)
            && !seen.insert((kind, name.to_owned()))
        {
            out.push(Problem::at(
                &path,
                "name",
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                format!("Application command names must be unique ({name:?})"),
            ));
        }
    }
    for (kind, limit) in [(1, 100), (2, 15), (3, 15)] {
        if per_type.get(&kind).copied().unwrap_or(0) > limit {
            out.push(Problem::new(
                &[],
                "APPLICATION_COMMANDS_TOO_MANY",
                format!("At most {limit} commands of type {kind}"),
            ));
        }
    }
}

fn check_callback(
    body: &Value,
    files: usize,
    out: &mut Vec<Problem>,
    api_errors: &mut Vec<ApiError>,
) {
    let Some(kind) = body.get("type").and_then(Value::as_u64) else {
        return;
    };
    let data_path = vec!["data".to_owned()];
    let data = body.get("data").filter(|d| d.is_object());
    match kind {
        1 | 5 | 6 => {}
        4 => match data {
            Some(d) => check_message_body(d, &data_path, true, files, out, api_errors),
            None => out.push(Problem::new(
                &data_path,
                "BASE_TYPE_REQUIRED",
                "This field is required (type 4 needs a message)",
            )),
        },
        7 => {
            if let Some(d) = data {
                check_message_body(d, &data_path, false, files, out, api_errors);
            }
        }
        8 => match data
            .and_then(|d| d.get("choices"))
            .and_then(Value::as_array)
        {
            Some(choices) => {
                let cp = extend_path(&data_path, "choices");
                if choices.len() > 25 {
                    out.push(Problem::new(
                        &cp,
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 25 or fewer in length.",
                    ));
                }
                for (i, choice) in choices.iter().enumerate() {
                    let p = extend_path(&cp, i);
                    bad_length(choice, "name", 1, 100, &p, out);
                    if choice.get("value").is_none() {
                        out.push(Problem::at(
                            &p,
                            "value",
                            "BASE_TYPE_REQUIRED",
                            "This field is required",
                        ));
                    }
                    max_len(choice, "value", 100, &p, out);
                }
            }
            None => out.push(Problem::at(
                &data_path,
                "choices",
                "BASE_TYPE_REQUIRED",
                "This field is required (type 8 needs data.choices)",
            )),
        },
        9 => match data {
            Some(d) => {
                for key in ["custom_id", "title", "components"] {
                    if d.get(key).is_none() {
                        out.push(Problem::at(
                            &data_path,
                            key,
                            "BASE_TYPE_REQUIRED",
                            "This field is required",
                        ));
                    }
                }
                bad_length(d, "custom_id", 1, 100, &data_path, out);
                bad_length(d, "title", 1, 45, &data_path, out);
                let rows = d
                    .get("components")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if rows == 0 || rows > 5 {
                    out.push(Problem::at(
                        &data_path,
                        "components",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 5 in length.",
                    ));
                }
            }
            None => out.push(Problem::new(
                &data_path,
                "BASE_TYPE_REQUIRED",
                "This field is required (type 9 needs a modal)",
            )),
        },
        other => out.push(Problem::at(
            &[],
            "type",
            "BASE_TYPE_CHOICES",
            format!("Value must be one of {{1, 4, 5, 6, 7, 8, 9}} (got {other})."),
        )),
    }
}

/// Discord's documented limits the schema cannot express, by route.
fn discord_checks(
    method: &str,
    template: &str,
    body: &Body,
    out: &mut Vec<Problem>,
    api_errors: &mut Vec<ApiError>,
) {
    let json = &body.json;
    let files = body.files.len();
    match (method, template) {
        ("POST", "/channels/{channel_id}/messages")
        | ("POST", "/webhooks/{webhook_id}/{webhook_token}") => {
            check_message_body(json, &[], true, files, out, api_errors)
        }
        ("PATCH", "/channels/{channel_id}/messages/{message_id}")
        | ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
        | ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}") => {
            check_message_body(json, &[], false, files, out, api_errors)
        }
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback") => {
            check_callback(json, files, out, api_errors)
        }
        // A bot opens one-to-one DMs only: group DMs need OAuth2 access tokens.
        ("POST", "/users/@me/channels") if blank(json.get("recipient_id")) => {
            out.push(Problem::at(
                &[],
                "recipient_id",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ))
        }
        ("PUT", "/applications/{application_id}/commands")
        | ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands") => {
            if let Some(cmds) = json.as_array() {
                check_command_list(cmds, out);
            }
        }
        ("POST", "/applications/{application_id}/commands")
        | ("POST", "/applications/{application_id}/guilds/{guild_id}/commands") => {
            check_command(json, &[], false, out);
        }
        ("PATCH", "/applications/{application_id}/commands/{command_id}")
        | ("PATCH", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}") => {
            check_command(json, &[], true, out);
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// A response message for a request body (content, embeds, components, flags, files).
fn message_from_body(
    shared: &Shared,
    id: u64,
    channel_id: u64,
    body: &Value,
    files: &[String],
) -> Value {
    let mut m = shared.complete_message(json!({ "id": id.to_string() }), channel_id);
    apply_edit(&mut m, body, files);
    m
}

/// Applies the fields of a create/edit body to a stored message.
fn apply_edit(m: &mut Value, body: &Value, files: &[String]) {
    let Some(obj) = m.as_object_mut() else {
        return;
    };
    if let Some(content) = body.get("content") {
        obj.insert("content".into(), json!(content.as_str().unwrap_or("")));
    }
    if let Some(embeds) = body.get("embeds") {
        let embeds: Vec<Value> = embeds
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| {
                        let mut e = strip_nulls(e);
                        if let Some(o) = e.as_object_mut() {
                            o.entry("type").or_insert_with(|| json!("rich"));
                        }
                        e
                    })
                    .collect()
            })
            .unwrap_or_default();
        obj.insert("embeds".into(), json!(embeds));
    }
    if let Some(components) = body.get("components") {
        let components = if components.is_null() {
            json!([])
        } else {
            strip_nulls(components)
        };
        obj.insert("components".into(), components);
    }
    if let Some(flags) = body.get("flags").and_then(int::<u64>) {
        obj.insert("flags".into(), json!(flags));
    }
    if let Some(tts) = body.get("tts").and_then(Value::as_bool) {
        obj.insert("tts".into(), json!(tts));
    }
    if let Some(reference) = body.get("message_reference").filter(|r| r.is_object()) {
        obj.insert("message_reference".into(), strip_nulls(reference));
        obj.insert("type".into(), json!(19));
    }
    if !files.is_empty() || body.get("attachments").is_some() {
        let kept: Vec<Value> = body
            .get("attachments")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|x| x.get("filename").is_none())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let channel = obj
            .get("channel_id")
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_owned();
        let mut attachments: Vec<Value> = kept
            .into_iter()
            .filter_map(|a| {
                let id = a.get("id").and_then(int::<u64>)?;
                Some(json!({
                    "id": id.to_string(), "filename": format!("file{id}"), "size": 1,
                    "url": format!("https://cdn.discordapp.com/attachments/{channel}/{id}/file{id}"),
                    "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{id}/file{id}"),
                }))
            })
            .collect();
        for (i, name) in files.iter().enumerate() {
            let id = 1_000_000 + i as u64;
            attachments.push(json!({
                "id": id.to_string(),
                "filename": name,
                "size": 1024,
                "url": format!("https://cdn.discordapp.com/attachments/{channel}/{id}/{name}"),
                "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{id}/{name}"),
            }));
        }
        obj.insert("attachments".into(), json!(attachments));
    }
}

fn command_response(
    shared: &Shared,
    cmd: &Value,
    guild_id: Option<u64>,
    existing: Option<&Value>,
) -> Value {
    let id = existing
        .and_then(|e| e.get("id").and_then(int::<u64>))
        .unwrap_or_else(|| shared.snowflake());
    let kind = cmd.get("type").and_then(Value::as_u64).unwrap_or(1);
    let permissions = match cmd.get("default_member_permissions") {
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(Value::String(s)) => json!(s),
        _ => Value::Null,
    };
    let options: Vec<Value> = cmd
        .get("options")
        .and_then(Value::as_array)
        .map(|o| o.iter().map(option_response).collect())
        .unwrap_or_default();
    let mut out = json!({
        "id": id.to_string(),
        "application_id": shared.application_id.to_string(),
        "version": shared.snowflake().to_string(),
        "type": kind,
        "name": cmd.get("name").cloned().unwrap_or(json!("")),
        "name_localizations": cmd.get("name_localizations").cloned().filter(|v| v.as_object().is_some_and(|m| !m.is_empty())),
        "description": cmd.get("description").and_then(Value::as_str).unwrap_or(""),
        "description_localizations": cmd.get("description_localizations").cloned().filter(|v| v.as_object().is_some_and(|m| !m.is_empty())),
        "options": options,
        "default_member_permissions": permissions,
        "dm_permission": cmd.get("dm_permission").and_then(Value::as_bool).unwrap_or(guild_id.is_none()),
        "nsfw": cmd.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
        "integration_types": cmd.get("integration_types").cloned().filter(|v| v.is_array()).unwrap_or(json!([0])),
        "contexts": cmd.get("contexts").cloned().filter(|v| v.is_array()).unwrap_or(if guild_id.is_some() { Value::Null } else { json!([0, 1, 2]) }),
    });
    if let Some(g) = guild_id {
        out["guild_id"] = json!(g.to_string());
    }
    if let Some(handler) = cmd.get("handler").filter(|h| !h.is_null()) {
        out["handler"] = handler.clone();
    }
    out
}

fn option_response(option: &Value) -> Value {
    let mut o = strip_nulls(option);
    if let Some(obj) = o.as_object_mut() {
        for key in ["choices", "options", "channel_types"] {
            if obj
                .get(key)
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                obj.remove(key);
            }
        }
        for key in ["required", "autocomplete"] {
            if obj.get(key) == Some(&json!(false)) {
                obj.remove(key);
            }
        }
        if obj
            .get("name_localizations")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            obj.remove("name_localizations");
        }
        if obj
            .get("description_localizations")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            obj.remove("description_localizations");
        }
        if let Some(Value::Array(sub)) = obj.get_mut("options") {
            *sub = sub.iter().map(option_response).collect();
        }
    }
    o
}

/// A DM channel (type 1) between the bot and `recipient`.
fn dm_channel_json(channel_id: u64, recipient: u64) -> Value {
    json!({
        "id": channel_id.to_string(),
        "type": 1,
        "last_message_id": null,
        "flags": 0,
        "recipients": [user_json(recipient)],
    })
}

fn channel_json(shared: &Shared, channel_id: u64) -> Value {
    let (guild, recipient) = {
        let st = lock(&shared.state);
        let recipient = st
            .dm_channels
            .iter()
            .find(|&(_, &channel)| channel == channel_id)
            .map(|(&user, _)| user);
        (st.channel_guilds.get(&channel_id).copied(), recipient)
    };
    if let Some(recipient) = recipient {
        return dm_channel_json(channel_id, recipient);
    }
    match guild {
        Some(g) => json!({
            "id": channel_id.to_string(),
            "type": 0,
            "guild_id": g.to_string(),
            "name": format!("channel-{channel_id}"),
            "position": 0,
            "permission_overwrites": [],
            "nsfw": false,
            "parent_id": null,
            "topic": null,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "flags": 0,
        }),
        None => json!({
            "id": channel_id.to_string(),
            "type": 0,
            "guild_id": "1",
            "name": format!("channel-{channel_id}"),
            "position": 0,
            "permission_overwrites": [],
            "nsfw": false,
            "parent_id": null,
            "topic": null,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "flags": 0,
        }),
    }
}

fn answer(
    shared: &Arc<Shared>,
    method: &str,
    template: &str,
    params: &BTreeMap<String, String>,
    query: &str,
    body: &Body,
    success: Success,
) -> Response {
    let json = &body.json;
    let channel_id = param_u64(params, "channel_id");
    match (method, template) {
        ("GET", "/users/@me") => json_response(200, shared.current_user()),
        ("GET", "/gateway") => json_response(200, json!({ "url": shared.gateway_url() })),
        ("GET", "/gateway/bot") => json_response(
            200,
            json!({
                "url": shared.gateway_url(),
                "shards": 1,
                "session_start_limit": {
                    "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1
                },
            }),
        ),
        ("GET", "/applications/@me") | ("GET", "/oauth2/applications/@me") => json_response(
            200,
            json!({
                "id": shared.application_id.to_string(),
                "name": BOT_USERNAME,
                "icon": null,
                "description": "",
                "rpc_origins": [],
                "bot_public": true,
                "bot_require_code_grant": false,
                "bot": shared.bot_user(),
                "owner": user_json(1),
                "team": null,
                "verify_key": "0".repeat(64),
                "flags": 0,
                "summary": "",
            }),
        ),
        ("GET", "/channels/{channel_id}") => json_response(200, channel_json(shared, channel_id)),
        ("POST", "/users/@me/channels") => {
            let recipient = json.get("recipient_id").and_then(int::<u64>).unwrap_or(0);
            json_response(
                200,
                dm_channel_json(shared.dm_channel(recipient), recipient),
            )
        }
        ("POST", "/channels/{channel_id}/messages") => {
            let id = shared.snowflake();
            let m = message_from_body(shared, id, channel_id, json, &body.files);
            lock(&shared.state).messages.insert(id, m.clone());
            json_response(200, m)
        }
        ("GET", "/channels/{channel_id}/messages/{message_id}")
        | ("PATCH", "/channels/{channel_id}/messages/{message_id}")
        | ("DELETE", "/channels/{channel_id}/messages/{message_id}") => {
            let message_id = param_u64(params, "message_id");
            let mut st = lock(&shared.state);
            let Some(m) = st
                .messages
                .get_mut(&message_id)
                .filter(|m| m.get("channel_id").and_then(int::<u64>) == Some(channel_id))
            else {
                return discord_error(404, 10008, "Unknown Message");
            };
            match method {
                "GET" => json_response(200, m.clone()),
                "DELETE" => {
                    st.messages.remove(&message_id);
                    no_content()
                }
                _ => {
                    if m.get("author")
                        .and_then(|a| a.get("id"))
                        .and_then(int::<u64>)
                        != Some(shared.bot_id)
                    {
                        return discord_error(
                            403,
                            50005,
                            "Cannot edit a message authored by another user",
                        );
                    }
                    apply_edit(m, json, &body.files);
                    m["edited_timestamp"] = json!(now_rfc3339());
                    json_response(200, m.clone())
                }
            }
        }
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback") => {
            let id = param_u64(params, "interaction_id");
            let kind = json.get("type").and_then(Value::as_u64).unwrap_or(0);
            let mut st = lock(&shared.state);
            let data = json.get("data").cloned().unwrap_or(Value::Null);
            let (channel, previous) = st
                .interactions
                .get(&id)
                .map_or((0, None), |r| (r.channel_id, r.original));
            let new_original = match kind {
                4 | 5 => {
                    let mid = shared.snowflake();
                    let mut m = message_from_body(shared, mid, channel, &data, &body.files);
                    m["type"] = json!(20);
                    m["webhook_id"] = json!(shared.application_id.to_string());
                    m["application_id"] = json!(shared.application_id.to_string());
                    if kind == 5 {
                        let flags = data.get("flags").and_then(int::<u64>).unwrap_or(0);
                        m["flags"] = json!(flags | MESSAGE_FLAG_LOADING);
                    }
                    st.messages.insert(mid, m);
                    Some(mid)
                }
                7 => {
                    if let Some(mid) = previous
                        && let Some(m) = st.messages.get_mut(&mid)
                    {
                        apply_edit(m, &data, &body.files);
                        m["edited_timestamp"] = json!(now_rfc3339());
                    }
                    previous
                }
                _ => previous,
            };
            if let Some(rec) = st.interactions.get_mut(&id) {
                rec.original = new_original;
            }
            no_content()
        }
        ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
        | ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
        | ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original") => {
            let token = params.get("webhook_token").cloned().unwrap_or_default();
            let mut st = lock(&shared.state);
            let rec = st
                .interactions
                .values()
                .find(|r| r.token == token)
                .map(|r| (r.original, r.channel_id));
            let (original, channel) = rec.unwrap_or((None, 0));
            let mid = match original {
                Some(mid) if st.messages.contains_key(&mid) => mid,
                _ => {
                    if method != "PATCH" {
                        return discord_error(404, 10008, "Unknown Message");
                    }
                    // Not tracked: make the original now.
                    let mid = shared.snowflake();
                    let mut m = message_from_body(shared, mid, channel, &Value::Null, &[]);
                    m["type"] = json!(20);
                    m["webhook_id"] = json!(shared.application_id.to_string());
                    st.messages.insert(mid, m);
                    if let Some(r) = st.interactions.values_mut().find(|r| r.token == token) {
                        r.original = Some(mid);
                    }
                    mid
                }
            };
            match method {
                "GET" => json_response(200, st.messages[&mid].clone()),
                "DELETE" => {
                    st.messages.remove(&mid);
                    no_content()
                }
                _ => {
                    let m = st.messages.get_mut(&mid).expect("original message");
                    let was_loading = m.get("flags").and_then(int::<u64>).unwrap_or(0)
                        & MESSAGE_FLAG_LOADING
                        != 0;
                    apply_edit(m, json, &body.files);
                    if was_loading {
                        let flags = m.get("flags").and_then(int::<u64>).unwrap_or(0);
                        m["flags"] = json!(flags & !MESSAGE_FLAG_LOADING);
                    } else {
                        m["edited_timestamp"] = json!(now_rfc3339());
                    }
                    json_response(200, m.clone())
                }
            }
        }
        ("POST", "/webhooks/{webhook_id}/{webhook_token}") => {
            let token = params.get("webhook_token").cloned().unwrap_or_default();
            let wait = form_pairs(query)
                .into_iter()
                .find(|(k, _)| k == "wait")
                .map(|(_, v)| v);
            let mut st = lock(&shared.state);
            let channel = st
                .interactions
                .values()
                .find(|r| r.token == token)
                .map(|r| r.channel_id);
            let is_interaction = channel.is_some();
            let mid = shared.snowflake();
            let mut m = message_from_body(shared, mid, channel.unwrap_or(0), json, &body.files);
            m["webhook_id"] = json!(param_u64(params, "webhook_id").to_string());
            if is_interaction {
                m["application_id"] = json!(shared.application_id.to_string());
            }
            st.messages.insert(mid, m.clone());
            if !is_interaction && wait.as_deref() != Some("true") {
                return no_content();
            }
            json_response(200, m)
        }
        ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
        | ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
        | ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}") => {
            let message_id = param_u64(params, "message_id");
            let mut st = lock(&shared.state);
            let Some(m) = st.messages.get_mut(&message_id) else {
                return discord_error(404, 10008, "Unknown Message");
            };
            match method {
                "GET" => json_response(200, m.clone()),
                "DELETE" => {
                    st.messages.remove(&message_id);
                    no_content()
                }
                _ => {
                    apply_edit(m, json, &body.files);
                    m["edited_timestamp"] = json!(now_rfc3339());
                    json_response(200, m.clone())
                }
            }
        }
        (_, t) if t.starts_with("/applications/{application_id}") && t.contains("/commands") => {
            commands_answer(shared, method, t, params, json)
                .unwrap_or_else(|| default_answer(success))
        }
        _ => default_answer(success),
    }
}

fn default_answer(success: Success) -> Response {
    match success {
        Success::NoContent => no_content(),
        Success::Array => json_response(200, json!([])),
        Success::Object => json_response(200, json!({})),
    }
}

fn commands_answer(
    shared: &Shared,
    method: &str,
    template: &str,
    params: &BTreeMap<String, String>,
    body: &Value,
) -> Option<Response> {
    let guild_id = params.get("guild_id").and_then(|g| g.parse::<u64>().ok());
    let command_id = params.get("command_id").and_then(|c| c.parse::<u64>().ok());
    if template.ends_with("/permissions") {
        return None;
    }
    let mut st = lock(&shared.state);
    let list: &mut Vec<Value> = match guild_id {
        Some(g) => st.guild_commands.entry(g).or_default(),
        None => &mut st.global_commands,
    };
    let same = |a: &Value, b: &Value| {
        a.get("name") == b.get("name")
            && a.get("type").and_then(Value::as_u64).unwrap_or(1)
                == b.get("type").and_then(Value::as_u64).unwrap_or(1)
    };
    Some(match (method, command_id) {
        ("GET", None) => json_response(200, json!(list.clone())),
        ("PUT", None) => {
            let new: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|c| {
                    let existing = list.iter().find(|e| same(e, c)).cloned();
                    command_response(shared, c, guild_id, existing.as_ref())
                })
                .collect();
            *list = new.clone();
            json_response(200, json!(new))
        }
        ("POST", None) => {
            let existing = list.iter().position(|e| same(e, body));
            let cmd = command_response(shared, body, guild_id, existing.map(|i| &list[i]));
            match existing {
                Some(i) => {
                    list[i] = cmd.clone();
                    json_response(200, cmd)
                }
                None => {
                    list.push(cmd.clone());
                    json_response(201, cmd)
                }
            }
        }
        (_, Some(id)) => {
            let Some(i) = list
                .iter()
                .position(|c| c.get("id").and_then(int::<u64>) == Some(id))
            else {
                return Some(discord_error(404, 10063, "Unknown application command"));
            };
            match method {
                "GET" => json_response(200, list[i].clone()),
                "DELETE" => {
                    list.remove(i);
                    no_content()
                }
                _ => {
                    let mut merged = list[i].clone();
                    if let (Some(m), Some(b)) = (merged.as_object_mut(), body.as_object()) {
                        for (k, v) in b {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                    let cmd = command_response(shared, &merged, guild_id, Some(&list[i]));
                    list[i] = cmd.clone();
                    json_response(200, cmd)
                }
            }
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

async fn gateway_upgrade(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let query = uri.query().unwrap_or("").to_owned();
    let mut problems = Vec::new();
    let pairs = form_pairs(&query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match get("v").as_deref() {
        Some("10") => {}
        other => problems.push(format!(
            "gateway: connected with v={other:?}, expected \"10\""
        )),
    }
    if let Some(e) = get("encoding")
        && e != "json"
    {
        problems.push(format!(
            "gateway: encoding={e:?}; the mock speaks JSON only"
        ));
    }
    if let Some(c) = get("compress") {
        problems.push(format!(
            "gateway: compress={c:?}; the mock sends uncompressed text frames"
        ));
    }
    if !problems.is_empty() {
        lock(&shared.state).violations.extend(problems);
    }
    ws.on_upgrade(move |socket| run_session(shared, socket))
}

async fn send_text(shared: &Shared, socket: &mut WebSocket, value: Value) -> bool {
    lock(&shared.state).gateway_sent.push(value.clone());
    socket
        .send(WsMessage::Text(value.to_string().into()))
        .await
        .is_ok()
}

async fn send_close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(WsMessage::Close(Some(CloseFrame {
            code,
            reason: reason.to_owned().into(),
        })))
        .await;
}

async fn run_session(shared: Arc<Shared>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let session_id = {
        let mut st = lock(&shared.state);
        let id = st.next_session;
        st.next_session += 1;
        st.sessions.push(Session {
            id,
            tx,
            ready: false,
            seq: 0,
            session_id: format!("mocksession{id:04}{:x}", shared.snowflake()),
            intents: 0,
        });
        id
    };
    let mut shutdown = shared.stopping.clone();
    let hello = json!({ "op": 10, "s": null, "t": null, "d": { "heartbeat_interval": HEARTBEAT_INTERVAL_MS } });
    if send_text(&shared, &mut socket, hello).await {
        loop {
            tokio::select! {
                incoming = socket.recv() => {
                    match incoming {
                        Some(Ok(WsMessage::Text(text))) => {
                            match handle_frame(&shared, session_id, text.as_str()) {
                                FrameOutcome::Reply(frames) => {
                                    let mut ok = true;
                                    for frame in frames {
                                        ok &= send_text(&shared, &mut socket, frame).await;
                                    }
                                    if !ok {
                                        break;
                                    }
                                }
                                FrameOutcome::Close(code, reason) => {
                                    send_close(&mut socket, code, &reason).await;
                                    break;
                                }
                            }
                        }
                        Some(Ok(WsMessage::Binary(_))) => {
                            lock(&shared.state).violations.push(
                                "gateway: client sent a binary frame (the mock expects JSON text)".into(),
                            );
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    }
                }
                outgoing = rx.recv() => {
                    match outgoing {
                        Some(Outgoing::Text(text)) => {
                            if socket.send(WsMessage::Text(text.into())).await.is_err() {
                                break;
                            }
                        }
                        Some(Outgoing::Close(code, reason)) => {
                            send_close(&mut socket, code, &reason).await;
                            break;
                        }
                        None => break,
                    }
                }
                _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
                    send_close(&mut socket, 1001, "mock stopped").await;
                    break;
                }
            }
        }
    }
    lock(&shared.state).sessions.retain(|s| s.id != session_id);
}

enum FrameOutcome {
    Reply(Vec<Value>),
    Close(u16, String),
}

fn handle_frame(shared: &Shared, session_id: u64, text: &str) -> FrameOutcome {
    let mut st = lock(&shared.state);
    let frame: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            st.violations
                .push(format!("gateway: frame is not JSON ({e}): {text}"));
            return FrameOutcome::Close(4002, "Decode error.".into());
        }
    };
    st.gateway_received.push(frame.clone());
    let op = frame.get("op").and_then(Value::as_i64).unwrap_or(-1);
    let d = frame.get("d").cloned().unwrap_or(Value::Null);
    let ready = st
        .sessions
        .iter()
        .find(|s| s.id == session_id)
        .is_some_and(|s| s.ready);
    match op {
        1 => FrameOutcome::Reply(vec![json!({ "op": 11, "s": null, "t": null, "d": null })]),
        2 => {
            if ready {
                st.violations
                    .push("gateway: IDENTIFY sent twice on one connection".into());
                return FrameOutcome::Close(4005, "Already authenticated.".into());
            }
            let token = d.get("token").and_then(Value::as_str).unwrap_or("");
            let token = token.strip_prefix("Bot ").unwrap_or(token);
            if token != shared.token {
                st.violations
                    .push("gateway: IDENTIFY with a wrong token".into());
                return FrameOutcome::Close(4004, "Authentication failed.".into());
            }
            let mut problems = Vec::new();
            let intents = d.get("intents").and_then(Value::as_u64);
            if intents.is_none() {
                problems.push("gateway: IDENTIFY without integer intents".to_owned());
            }
            let props = d.get("properties");
            for key in ["os", "browser", "device"] {
                if props
                    .and_then(|p| p.get(key))
                    .and_then(Value::as_str)
                    .is_none()
                {
                    problems.push(format!("gateway: IDENTIFY properties.{key} missing"));
                }
            }
            let shard = d.get("shard").cloned().filter(|s| !s.is_null());
            if let Some(s) = &shard {
                let pair = s
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .and_then(|a| Some((a[0].as_u64()?, a[1].as_u64()?)));
                match pair {
                    Some((id, n)) if id < n => {}
                    _ => {
                        st.violations
                            .push(format!("gateway: IDENTIFY with invalid shard {s}"));
                        return FrameOutcome::Close(4010, "Invalid shard.".into());
                    }
                }
            }
            if d.get("compress").and_then(Value::as_bool) == Some(true) {
                // serenity always asks for payload compression; the mock sends plain text,
                // which Discord also does for small payloads. Not a violation.
            }
            st.violations.extend(problems);
            st.identified_total += 1;
            let url = shared.gateway_url();
            let user = shared.current_user();
            let application_id = shared.application_id;
            let Some(session) = st.sessions.iter_mut().find(|s| s.id == session_id) else {
                return FrameOutcome::Close(1011, "session vanished".into());
            };
            session.ready = true;
            session.seq = 1;
            session.intents = intents.unwrap_or(0);
            let mut ready_data = json!({
                "v": 10,
                "user": user,
                "guilds": [],
                "session_id": session.session_id,
                "resume_gateway_url": url,
                "session_type": "normal",
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": ["us-east"],
                "user_settings": {},
                "application": { "id": application_id.to_string(), "flags": 0 },
                "_trace": ["[\"mock-gateway\",{\"micros\":1}]"],
            });
            if let Some(s) = shard {
                ready_data["shard"] = s;
            }
            FrameOutcome::Reply(vec![
                json!({ "op": 0, "t": "READY", "s": 1, "d": ready_data }),
            ])
        }
        6 => {
            // Resuming is not supported: tell the client to identify again.
            FrameOutcome::Reply(vec![json!({ "op": 9, "s": null, "t": null, "d": false })])
        }
        3 | 4 | 8 | 31 if ready => FrameOutcome::Reply(Vec::new()),
        3 | 4 | 8 | 31 => {
            st.violations
                .push(format!("gateway: op {op} before IDENTIFY"));
            FrameOutcome::Close(4003, "Not authenticated.".into())
        }
        other => {
            st.violations
                .push(format!("gateway: unknown opcode {other}: {text}"));
            FrameOutcome::Close(4001, "Unknown opcode.".into())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document
// ---------------------------------------------------------------------------------------------

struct Spec {
    root: Value,
    routes: Vec<RouteSpec>,
}

struct RouteSpec {
    template: String,
    segments: Vec<Segment>,
    ops: HashMap<String, OpSpec>,
}

enum Segment {
    Literal(String),
    Param(String),
}

struct OpSpec {
    operation_id: String,
    params: Vec<ParamSpec>,
    body: Option<Value>,
    body_required: bool,
    anonymous_ok: bool,
    success: Success,
}

#[derive(Clone, Copy)]
enum Success {
    NoContent,
    Array,
    Object,
}

struct ParamSpec {
    name: String,
    location: String,
    required: bool,
    schema: Value,
}

enum RouteError {
    NotFound,
    MethodNotAllowed(String),
}

static SPEC: OnceLock<Result<Arc<Spec>, String>> = OnceLock::new();

fn spec() -> Result<Arc<Spec>, String> {
    SPEC.get_or_init(|| load_spec().map(Arc::new)).clone()
}

fn resolve_ref<'a>(root: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                Some(target) => v = target,
                None => return v,
            },
            None => return v,
        }
    }
    v
}

fn load_spec() -> Result<Spec, String> {
    let root = common::read_spec(SPEC_PATH, "Discord's OpenAPI document")?;
    let paths = root
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the document has no paths")?;
    let mut routes = Vec::new();
    for (template, item) in paths {
        let segments = template
            .trim_matches('/')
            .split('/')
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    Segment::Param(s[1..s.len() - 1].to_owned())
                } else {
                    Segment::Literal(s.to_owned())
                }
            })
            .collect();
        let shared_params: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut ops = HashMap::new();
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else {
                continue;
            };
            let mut params: Vec<ParamSpec> = Vec::new();
            let own: Vec<Value> = op
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for p in shared_params.iter().chain(own.iter()) {
                let p = resolve_ref(&root, p);
                let (Some(name), Some(location)) = (
                    p.get("name").and_then(Value::as_str),
                    p.get("in").and_then(Value::as_str),
                ) else {
                    continue;
                };
                params.retain(|x| !(x.name == name && x.location == location));
                params.push(ParamSpec {
                    name: name.to_owned(),
                    location: location.to_owned(),
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    schema: p.get("schema").cloned().unwrap_or(json!({})),
                });
            }
            let request_body = op.get("requestBody").map(|b| resolve_ref(&root, b));
            let body = request_body
                .and_then(|b| b.pointer("/content/application~1json/schema"))
                .cloned();
            let body_required = request_body
                .and_then(|b| b.get("required"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let anonymous_ok = match op.get("security").and_then(Value::as_array) {
                Some(list) => list
                    .iter()
                    .any(|s| s.as_object().is_some_and(Map::is_empty)),
                None => true,
            };
            let responses = op.get("responses");
            let success = if let Some(ok) = responses.and_then(|r| r.get("200").or(r.get("201"))) {
                let ok = resolve_ref(&root, ok);
                match ok.pointer("/content/application~1json/schema") {
                    Some(schema) => {
                        let schema = resolve_ref(&root, schema);
                        let is_array = schema.get("type").is_some_and(|t| {
                            t == "array"
                                || t.as_array().is_some_and(|a| a.contains(&json!("array")))
                        }) || schema.get("items").is_some();
                        if is_array {
                            Success::Array
                        } else {
                            Success::Object
                        }
                    }
                    None => Success::Object,
                }
            } else {
                Success::NoContent
            };
            ops.insert(
                method.to_ascii_uppercase(),
                OpSpec {
                    operation_id: op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    params,
                    body,
                    body_required,
                    anonymous_ok,
                    success,
                },
            );
        }
        routes.push(RouteSpec {
            template: template.clone(),
            segments,
            ops,
        });
    }
    if routes.is_empty() {
        return Err("the document lists no paths".into());
    }
    Ok(Spec { root, routes })
}

type RouteMatch<'a> = (&'a RouteSpec, &'a OpSpec, BTreeMap<String, String>);

impl Spec {
    fn match_route(&self, method: &str, segments: &[String]) -> Result<RouteMatch<'_>, RouteError> {
        let mut best: Option<(usize, &RouteSpec)> = None;
        let mut any_path: Option<(usize, &RouteSpec)> = None;
        for route in &self.routes {
            if route.segments.len() != segments.len() {
                continue;
            }
            let mut literals = 0;
            let matched = route.segments.iter().zip(segments).all(|(s, v)| match s {
                Segment::Literal(l) => {
                    literals += 1;
                    l == v
                }
                Segment::Param(_) => !v.is_empty(),
            });
            if !matched {
                continue;
            }
            if any_path.is_none_or(|(n, _)| literals > n) {
                any_path = Some((literals, route));
            }
            if route.ops.contains_key(method) && best.is_none_or(|(n, _)| literals > n) {
                best = Some((literals, route));
            }
        }
        match (best, any_path) {
            (Some((_, route)), _) => {
                let params = route
                    .segments
                    .iter()
                    .zip(segments)
                    .filter_map(|(s, v)| match s {
                        Segment::Param(name) => Some((name.clone(), v.clone())),
                        Segment::Literal(_) => None,
                    })
                    .collect();
                Ok((route, &route.ops[method], params))
            }
            (None, Some((_, route))) => Err(RouteError::MethodNotAllowed(route.template.clone())),
            (None, None) => Err(RouteError::NotFound),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A compact JSON Schema validator (what the document uses)
// ---------------------------------------------------------------------------------------------

struct Validator<'a> {
    root: &'a Value,
}

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn integer_string(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if integer_string(s) => s.parse::<f64>().ok(),
        _ => None,
    }
}

impl Validator<'_> {
    fn resolve<'b>(&'b self, schema: &'b Value) -> &'b Value {
        resolve_ref(self.root, schema)
    }

    /// The types a schema allows (after `$ref`), empty if it does not say.
    fn types_of(&self, schema: &Value) -> Vec<String> {
        let schema = self.resolve(schema);
        match schema.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => {
                let mut out = Vec::new();
                for key in ["allOf", "oneOf", "anyOf"] {
                    if let Some(list) = schema.get(key).and_then(Value::as_array) {
                        for s in list {
                            out.extend(self.types_of(s));
                        }
                    }
                }
                out
            }
        }
    }

    /// Turns a path/query string into the JSON value the schema expects.
    fn coerce_param(&self, schema: &Value, raw: &str) -> Value {
        let types = self.types_of(schema);
        if types.iter().any(|t| t == "integer") && integer_string(raw) {
            if let Ok(i) = raw.parse::<i64>() {
                return json!(i);
            }
            if let Ok(u) = raw.parse::<u64>() {
                return json!(u);
            }
        }
        if types.iter().any(|t| t == "number")
            && let Ok(f) = raw.parse::<f64>()
        {
            return json!(f);
        }
        if types.iter().any(|t| t == "boolean") {
            match raw.to_ascii_lowercase().as_str() {
                "true" | "1" => return json!(true),
                "false" | "0" => return json!(false),
                _ => {}
            }
        }
        Value::String(raw.to_owned())
    }

    fn type_matches(&self, t: &str, v: &Value, schema: &Value) -> bool {
        let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
        match t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "string" => v.is_string() || (format == "snowflake" && v.as_u64().is_some()),
            "integer" => {
                is_integer(v)
                    || (v.as_str().is_some_and(integer_string)
                        && (matches!(format, "int64" | "snowflake")
                            || schema
                                .get("maximum")
                                .and_then(Value::as_f64)
                                .is_some_and(|m| m > MAX_SAFE_INTEGER)))
            }
            "number" => v.is_number(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        }
    }

    fn type_problem(&self, expected: &[String], v: &Value, path: &[String]) -> Problem {
        let first = expected
            .iter()
            .find(|t| *t != "null")
            .map_or("null", String::as_str);
        if v.is_null() {
            return Problem::new(path, "BASE_TYPE_REQUIRED", "This field is required");
        }
        let (code, message) = match first {
            "string" => (
                "STRING_TYPE_CONVERT",
                format!("Could not interpret \"{}\" as string.", short(v)),
            ),
            "integer" => (
                "NUMBER_TYPE_COERCE",
                format!("Value \"{}\" is not int.", short(v)),
            ),
            "number" => (
                "NUMBER_TYPE_COERCE",
                format!("Value \"{}\" is not a number.", short(v)),
            ),
            "boolean" => (
                "BOOLEAN_TYPE_CONVERT",
                "Must be either true or false.".to_owned(),
            ),
            "array" => (
                "LIST_TYPE_CONVERT",
                "Only iterables may be used in a ListType".to_owned(),
            ),
            "object" => (
                "MODEL_TYPE_CONVERT",
                "Only dictionaries may be used in a ModelType".to_owned(),
            ),
            _ => (
                "BASE_TYPE_INVALID",
                format!("Expected null, got {}", short(v)),
            ),
        };
        Problem::new(path, code, message)
    }

    fn validate(
        &self,
        schema: &Value,
        v: &Value,
        path: &[String],
        out: &mut Vec<Problem>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        if schema.get("$ref").is_some() {
            let target = resolve_ref(self.root, schema);
            if target.get("$ref").is_none() {
                self.validate(target, v, path, out, depth + 1);
            }
        }
        let Some(s) = schema.as_object() else {
            return;
        };
        if v.is_null() && s.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        // type
        if let Some(t) = s.get("type") {
            let types: Vec<String> = match t {
                Value::String(t) => vec![t.clone()],
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|t| self.type_matches(t, v, schema)) {
                out.push(self.type_problem(&types, v, path));
                return;
            }
        }
        if v.is_null() {
            // null passed the type check (or there is none); only unions can still object.
            self.unions(s, v, path, out, depth);
            return;
        }
        // enum / const
        if let Some(options) = s.get("enum").and_then(Value::as_array)
            && !options.iter().any(|o| json_eq(o, v))
        {
            let list: Vec<String> = options.iter().map(short).collect();
            out.push(Problem::new(
                path,
                "BASE_TYPE_CHOICES",
                format!("Value must be one of {{{}}}.", list.join(", ")),
            ));
        }
        if let Some(c) = s.get("const")
            && !json_eq(c, v)
        {
            out.push(Problem::new(
                path,
                "BASE_TYPE_CHOICES",
                format!("Value must be one of {{{}}}.", short(c)),
            ));
        }
        match v {
            Value::String(text) => {
                self.string_checks(s, text, path, out);
                if integer_string(text) && self.types_of(schema).iter().any(|t| t == "integer") {
                    self.number_checks(s, v, path, out);
                }
            }
            Value::Number(_) => self.number_checks(s, v, path, out),
            Value::Array(items) => {
                let n = items.len();
                let min = s.get("minItems").and_then(Value::as_u64);
                let max = s.get("maxItems").and_then(Value::as_u64);
                length_problem(n, min, max, path, out);
                if s.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
                    for (i, a) in items.iter().enumerate() {
                        if items[..i].iter().any(|b| json_eq(a, b)) {
                            out.push(Problem::new(
                                &extend_path(path, i),
                                "BASE_TYPE_DUPLICATES",
                                "Duplicate values are not allowed.",
                            ));
                        }
                    }
                }
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.validate(item_schema, item, &extend_path(path, i), out, depth + 1);
                    }
                }
            }
            Value::Object(map) => {
                if let Some(required) = s.get("required").and_then(Value::as_array) {
                    for key in required.iter().filter_map(Value::as_str) {
                        if !map.contains_key(key) {
                            out.push(Problem::at(
                                path,
                                key,
                                "BASE_TYPE_REQUIRED",
                                "This field is required",
                            ));
                        }
                    }
                }
                let properties = s.get("properties").and_then(Value::as_object);
                for (key, value) in map {
                    let child = extend_path(path, key);
                    match properties.and_then(|p| p.get(key)) {
                        Some(ps) => self.validate(ps, value, &child, out, depth + 1),
                        None => match s.get("additionalProperties") {
                            Some(Value::Bool(false)) => out.push(Problem::new(
                                &child,
                                "UNKNOWN_FIELD",
                                format!("Unknown field {key:?}"),
                            )),
                            Some(extra) if extra.is_object() => {
                                self.validate(extra, value, &child, out, depth + 1)
                            }
                            _ => {}
                        },
                    }
                }
                let min = s.get("minProperties").and_then(Value::as_u64);
                let max = s.get("maxProperties").and_then(Value::as_u64);
                if min.is_some_and(|m| (map.len() as u64) < m)
                    || max.is_some_and(|m| (map.len() as u64) > m)
                {
                    length_problem(map.len(), min, max, path, out);
                }
            }
            _ => {}
        }
        self.unions(s, v, path, out, depth);
    }

    fn unions(
        &self,
        s: &Map<String, Value>,
        v: &Value,
        path: &[String],
        out: &mut Vec<Problem>,
        depth: usize,
    ) {
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.validate(sub, v, path, out, depth + 1);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = s.get(key).and_then(Value::as_array) {
                self.union(branches, v, path, out, depth);
            }
        }
    }

    /// `oneOf`/`anyOf`: at least one branch must accept the value (several matching is
    /// tolerated: the document's unions are discriminated by `type`). When none does, the
    /// problems of the branch that matched best are reported.
    fn union(
        &self,
        branches: &[Value],
        v: &Value,
        path: &[String],
        out: &mut Vec<Problem>,
        depth: usize,
    ) {
        if !branches.is_empty() && branches.iter().all(|b| b.get("const").is_some()) {
            if !branches.iter().any(|b| json_eq(&b["const"], v)) {
                let list: Vec<String> = branches.iter().map(|b| short(&b["const"])).collect();
                out.push(Problem::new(
                    path,
                    "BASE_TYPE_CHOICES",
                    format!("Value must be one of {{{}}}.", list.join(", ")),
                ));
            }
            return;
        }
        let mut best: Option<(bool, Vec<Problem>)> = None;
        for branch in branches {
            let mut problems = Vec::new();
            self.validate(branch, v, path, &mut problems, depth + 1);
            if problems.is_empty() {
                return;
            }
            let discriminated = v.get("type").is_some();
            let shape = !problems.iter().any(|p| {
                p.path.len() <= path.len()
                    || (discriminated
                        && p.path.len() == path.len() + 1
                        && p.path.last().map(String::as_str) == Some("type"))
            });
            let better = match &best {
                None => true,
                Some((best_shape, best_problems)) => {
                    (shape && !best_shape)
                        || (shape == *best_shape && problems.len() < best_problems.len())
                }
            };
            if better {
                best = Some((shape, problems));
            }
        }
        if let Some((_, problems)) = best {
            out.extend(problems);
        }
    }

    fn string_checks(
        &self,
        s: &Map<String, Value>,
        text: &str,
        path: &[String],
        out: &mut Vec<Problem>,
    ) {
        let n = text.chars().count();
        let min = s.get("minLength").and_then(Value::as_u64);
        let max = s.get("maxLength").and_then(Value::as_u64);
        length_problem(n, min, max, path, out);
        match s.get("format").and_then(Value::as_str) {
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                out.push(Problem::new(
                    path,
                    "DATE_TIME_TYPE_PARSE",
                    format!("Could not parse {text:?}. Should be ISO8601."),
                ));
            }
            Some("uri") => {
                let ok = text.split_once(':').is_some_and(|(scheme, rest)| {
                    !rest.is_empty()
                        && scheme
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphabetic())
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                });
                if !ok {
                    out.push(Problem::new(
                        path,
                        "URL_TYPE_INVALID_URL",
                        "Not a well formed URL.",
                    ));
                }
            }
            _ => {}
        }
        match s.get("pattern").and_then(Value::as_str) {
            Some("^(0|[1-9][0-9]*)$") => {
                let ok = text == "0"
                    || (text.bytes().all(|b| b.is_ascii_digit())
                        && !text.starts_with('0')
                        && !text.is_empty());
                let fits = text.parse::<u64>().is_ok();
                if !ok || !fits {
                    out.push(Problem::new(
                        path,
                        "NUMBER_TYPE_COERCE",
                        format!("Value \"{}\" is not snowflake.", short(&json!(text))),
                    ));
                }
            }
            Some("^#(([0-9a-fA-F]{2}){3}|([0-9a-fA-F]){3})$") => {
                let hex = text.strip_prefix('#').unwrap_or("");
                if !(matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())) {
                    out.push(Problem::new(
                        path,
                        "STRING_TYPE_REGEX",
                        "String value did not match validation regex.",
                    ));
                }
            }
            _ => {}
        }
    }

    fn number_checks(
        &self,
        s: &Map<String, Value>,
        v: &Value,
        path: &[String],
        out: &mut Vec<Problem>,
    ) {
        let Some(x) = number_of(v) else {
            return;
        };
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && x < min
        {
            out.push(Problem::new(
                path,
                "NUMBER_TYPE_MIN",
                format!("int value should be greater than or equal to {min}."),
            ));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && x > max
        {
            out.push(Problem::new(
                path,
                "NUMBER_TYPE_MAX",
                format!("int value should be less than or equal to {max}."),
            ));
        }
    }
}

fn length_problem(
    n: usize,
    min: Option<u64>,
    max: Option<u64>,
    path: &[String],
    out: &mut Vec<Problem>,
) {
    let n = n as u64;
    let too_short = min.is_some_and(|m| n < m);
    let too_long = max.is_some_and(|m| n > m);
    if !too_short && !too_long {
        return;
    }
    let (code, message) = match (min, max) {
        (Some(a), Some(b)) => (
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between {a} and {b} in length."),
        ),
        (_, Some(b)) => (
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {b} or fewer in length."),
        ),
        (Some(a), None) => (
            "BASE_TYPE_MIN_LENGTH",
            format!("Must be {a} or more in length."),
        ),
        (None, None) => return,
    };
    out.push(Problem::new(path, code, message));
}
