//! An in-process mock of the Telegram Bot API for integration tests.
//!
//! Include it with
//! `#[path = "support/telegram_mock.rs"] mod telegram_mock;`
//! and point teloxide at it:
//! `Bot::new(token).set_api_url(reqwest::Url::parse(&mock.url())?)`.
//!
//! The mock serves `/bot<TOKEN>/<Method>` on 127.0.0.1 (never anything else), records every
//! request, answers with the shapes teloxide-core 0.13 deserializes, and validates each request
//! against the published Bot API description in `../shared/specs/telegram-bot-api.json`
//! (loaded at runtime, never copied). Every request the real API would reject is answered
//! `400 Bad Request: <problem>` and recorded in [`TelegramMock::violations`]; tests should
//! assert that list is empty.
//!
//! Behaviour worth knowing:
//! - `getUpdates` returns queued updates with `update_id >= offset` (older ones are dropped),
//!   honours `limit` and `allowed_updates` (as Telegram does: an empty list means "all but
//!   chat_member, message_reaction, message_reaction_count"), and, when nothing is queued,
//!   waits at most `min(timeout, 100 ms)` (woken early by [`TelegramMock::push_update`]).
//! - Failures injected with [`TelegramMock::fail`] are served only for requests that are
//!   otherwise valid. A `Failure::ServerError` (502) makes teloxide sleep 10 s before it
//!   reports the error, so avoid it in fast tests.
//! - Editing a message the bot sent with exactly the same text and markup answers
//!   `400 Bad Request: message is not modified: ...` like Telegram (not a violation).
//! - Text lengths are counted in Unicode scalar values after entity parsing (HTML tags
//!   removed, entities decoded; MarkdownV2 markup removed).
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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Where the Bot API description lives (outside the crate, shared by the team).
pub const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/specs/telegram-bot-api.json"
);

/// Username the mock bot reports from `getMe` unless started with [`TelegramMock::start_named`].
pub const DEFAULT_BOT_USERNAME: &str = "rouge_test_bot";

/// Bot user id used when the token does not start with `<digits>:`.
pub const DEFAULT_BOT_USER_ID: i64 = 7_000_000_001;

const MAX_EMPTY_POLL_WAIT: Duration = Duration::from_millis(100);

/// One request received by the mock.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Method name in lower case (`sendmessage`, `getupdates`, ...).
    pub method: String,
    /// The parameters as a JSON object (form and multipart text fields converted to JSON;
    /// uploaded files are not included, their `attach://` references are).
    pub body: Value,
}

impl Request {
    /// A body field, if present.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.body.get(name)
    }

    /// A string body field (`text`, `caption`, `parse_mode`, ...).
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    /// An integer body field (accepts integer strings too).
    pub fn i64_field(&self, name: &str) -> Option<i64> {
        self.body.get(name).and_then(int::<i64>)
    }

    /// `chat_id` as an integer, if it is one.
    pub fn chat_id(&self) -> Option<i64> {
        self.i64_field("chat_id")
    }

    /// `text` (or, failing that, `caption`).
    pub fn text(&self) -> Option<&str> {
        self.str_field("text").or_else(|| self.str_field("caption"))
    }
}

/// A failure to inject with [`TelegramMock::fail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after` (teloxide:
    /// `RequestError::RetryAfter`).
    RetryAfter(u32),
    /// 403 `Forbidden: bot was kicked from the group chat` (teloxide: `RequestError::Api`).
    Forbidden,
    /// 400 `Bad Request: chat not found` (teloxide: `ApiError::ChatNotFound`).
    ChatNotFound,
    /// 400 with `parameters.migrate_to_chat_id` (teloxide: `RequestError::MigrateToChatId`).
    MigrateTo(i64),
    /// 502 Bad Gateway. teloxide sleeps 10 s on any 5xx before returning the error.
    ServerError,
    /// Any other error: HTTP status / `error_code` and description.
    Custom(u16, String),
}

impl Failure {
    fn response(&self) -> Response {
        match self {
            Failure::RetryAfter(secs) => api_error(
                429,
                &format!("Too Many Requests: retry after {secs}"),
                Some(json!({ "retry_after": secs })),
            ),
            Failure::Forbidden => {
                api_error(403, "Forbidden: bot was kicked from the group chat", None)
            }
            Failure::ChatNotFound => api_error(400, "Bad Request: chat not found", None),
            Failure::MigrateTo(id) => api_error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                Some(json!({ "migrate_to_chat_id": id })),
            ),
            Failure::ServerError => api_error(502, "Bad Gateway", None),
            Failure::Custom(code, description) => api_error(*code, description, None),
        }
    }
}

/// Handle to a running mock. Cheap to clone; the server stops on [`TelegramMock::stop`] or
/// when the last handle is dropped.
#[derive(Clone)]
pub struct TelegramMock {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    server: Server,
}

struct Shared {
    token: String,
    bot_id: i64,
    bot_username: String,
    spec: Arc<Spec>,
    state: Mutex<MockState>,
    updates_pushed: tokio::sync::Notify,
}

struct MockState {
    next_update_id: i64,
    next_message_id: i64,
    queue: VecDeque<Value>,
    requests: Vec<Request>,
    violations: Vec<String>,
    failures: FailRules<FailRule, Failure>,
    member_status: HashMap<(i64, i64), String>,
    /// Chats seen in pushed updates, by id (used to answer with the right chat type).
    chats: HashMap<i64, Value>,
    /// Messages the bot sent or edited, by (chat id, message id).
    messages: HashMap<(i64, i64), Value>,
    commands: Value,
    webhook_url: String,
}

/// Which requests a [`TelegramMock::fail`] rule answers.
struct FailRule {
    method: String,
    chat_id: Option<i64>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

static BUILDER_IDS: AtomicI64 = AtomicI64::new(1);

fn builder_id() -> i64 {
    BUILDER_IDS.fetch_add(1, Ordering::Relaxed)
}

fn user_json(user_id: i64) -> Value {
    json!({
        "id": user_id,
        "is_bot": false,
        "first_name": format!("User{user_id}"),
        "username": format!("user{user_id}"),
        "language_code": "en",
    })
}

/// A chat object for `chat_id`, guessing the type from the id like Telegram's id ranges:
/// positive = private, below -10^12 = supergroup/channel, other negatives = basic group.
fn guess_chat(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({ "id": chat_id, "type": "private", "first_name": format!("User{chat_id}") })
    } else if chat_id <= -1_000_000_000_000 {
        json!({ "id": chat_id, "type": "supergroup", "title": "Test Supergroup" })
    } else {
        json!({ "id": chat_id, "type": "group", "title": "Test Group" })
    }
}

fn chat_of_type(chat_id: i64, chat_type: &str) -> Value {
    match chat_type {
        "private" => {
            json!({ "id": chat_id, "type": "private", "first_name": format!("User{chat_id}") })
        }
        "channel" => json!({ "id": chat_id, "type": "channel", "title": "Test Channel" }),
        "supergroup" => json!({ "id": chat_id, "type": "supergroup", "title": "Test Supergroup" }),
        other => json!({ "id": chat_id, "type": other, "title": "Test Group" }),
    }
}

impl TelegramMock {
    /// Whether the Bot API description is present (tests skip when it is not).
    pub fn spec_available() -> bool {
        common::spec_available(SPEC_PATH)
    }

    /// Starts the mock for `token` (bot username [`DEFAULT_BOT_USERNAME`]).
    ///
    /// Panics if the spec cannot be loaded; check [`TelegramMock::spec_available`] first.
    pub async fn start(token: &str) -> TelegramMock {
        Self::start_named(token, DEFAULT_BOT_USERNAME).await
    }

    /// Like [`TelegramMock::start`] with a chosen bot username.
    pub async fn start_named(token: &str, bot_username: &str) -> TelegramMock {
        let spec = match spec() {
            Ok(spec) => spec,
            Err(e) => panic!("telegram mock: {e}"),
        };
        let bot_id = token
            .split_once(':')
            .and_then(|(id, _)| id.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .unwrap_or(DEFAULT_BOT_USER_ID);
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            bot_id,
            bot_username: bot_username.to_owned(),
            spec,
            state: Mutex::new(MockState {
                next_update_id: 1,
                next_message_id: 10_000,
                queue: VecDeque::new(),
                requests: Vec::new(),
                violations: Vec::new(),
                failures: FailRules::new(),
                member_status: HashMap::new(),
                chats: HashMap::new(),
                messages: HashMap::new(),
                commands: json!([]),
                webhook_url: String::new(),
            }),
            updates_pushed: tokio::sync::Notify::new(),
        });
        let app = Router::new()
            .fallback(handle_request)
            .with_state(shared.clone());
        let server = Listener::bind("telegram mock").await.serve(app);
        TelegramMock {
            inner: Arc::new(Handle { shared, server }),
        }
    }

    /// Base URL for `Bot::set_api_url`, e.g. `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.inner.server.addr())
    }

    /// The bot's own user id (from the token's `<digits>:` prefix, else [`DEFAULT_BOT_USER_ID`]).
    pub fn bot_user_id(&self) -> i64 {
        self.inner.shared.bot_id
    }

    /// The bot's username, without `@`.
    pub fn bot_username(&self) -> &str {
        &self.inner.shared.bot_username
    }

    /// The bot's `User` object as `getMe` and sent messages report it.
    pub fn bot_user(&self) -> Value {
        self.inner.shared.bot_user()
    }

    fn state(&self) -> MutexGuard<'_, MockState> {
        lock(&self.inner.shared.state)
    }

    /// Queues an update for `getUpdates` and returns its `update_id`.
    ///
    /// `update` is the body without `update_id`, e.g. `json!({"message": {...}})` or one of the
    /// builders below. A `callback_query` whose message has no `from` gets the bot as sender;
    /// if the bot sent that message (same chat and id), the stored message is used.
    pub fn push_update(&self, update: Value) -> i64 {
        let shared = &self.inner.shared;
        let mut update = match update {
            Value::Object(map) => map,
            other => panic!("telegram mock: push_update needs a JSON object, got {other}"),
        };
        let id = {
            let mut st = lock(&shared.state);
            for key in [
                "message",
                "edited_message",
                "channel_post",
                "edited_channel_post",
            ] {
                if let Some(chat) = update.get(key).and_then(|m| m.get("chat")) {
                    remember_chat(&mut st, chat);
                }
            }
            if let Some(Value::Object(cq)) = update.get_mut("callback_query")
                && let Some(Value::Object(msg)) = cq.get_mut("message")
            {
                if let Some(chat) = msg.get("chat") {
                    remember_chat(&mut st, &chat.clone());
                }
                let key = (
                    msg.get("chat")
                        .and_then(|c| c.get("id"))
                        .and_then(Value::as_i64),
                    msg.get("message_id").and_then(Value::as_i64),
                );
                if let (Some(chat_id), Some(message_id)) = key
                    && let Some(Value::Object(stored)) = st.messages.get(&(chat_id, message_id))
                {
                    *msg = stored.clone();
                }
                msg.entry("from").or_insert_with(|| shared.bot_user());
            }
            let id = st.next_update_id;
            st.next_update_id += 1;
            update.insert("update_id".into(), json!(id));
            st.queue.push_back(Value::Object(update));
            id
        };
        shared.updates_pushed.notify_waiters();
        id
    }

    /// Number of updates still queued (not yet confirmed by a later `offset`).
    pub fn pending_updates(&self) -> usize {
        self.state().queue.len()
    }

    /// A `{"message": ...}` update body (or `{"channel_post": ...}` for `chat_type` "channel").
    /// Text starting with `/` gets a `bot_command` entity covering the first word.
    pub fn text_message(chat_id: i64, chat_type: &str, user_id: i64, text: &str) -> Value {
        let mut msg = json!({
            "message_id": builder_id(),
            "date": now(),
            "chat": chat_of_type(chat_id, chat_type),
            "text": text,
        });
        if chat_type != "channel" {
            msg["from"] = user_json(user_id);
        }
        if text.starts_with('/') {
            let command = text.split_whitespace().next().unwrap_or(text);
            let length = command.encode_utf16().count();
            msg["entities"] = json!([{ "type": "bot_command", "offset": 0, "length": length }]);
        }
        if chat_type == "channel" {
            json!({ "channel_post": msg })
        } else {
            json!({ "message": msg })
        }
    }

    /// A `{"callback_query": ...}` update body for a button pressed under message
    /// `message_id` in `chat_id`. The chat type is guessed from the id (see `push_update` for
    /// how the message itself is filled in).
    pub fn callback_query(chat_id: i64, user_id: i64, message_id: i64, data: &str) -> Value {
        json!({
            "callback_query": {
                "id": format!("cbq{}", builder_id()),
                "from": user_json(user_id),
                "message": {
                    "message_id": message_id,
                    "date": now(),
                    "chat": guess_chat(chat_id),
                    "text": "message",
                },
                "chat_instance": format!("ci{chat_id}"),
                "data": data,
            }
        })
    }

    /// An `{"inline_query": ...}` update body.
    pub fn inline_query(user_id: i64, query: &str) -> Value {
        json!({
            "inline_query": {
                "id": format!("iq{}", builder_id()),
                "from": user_json(user_id),
                "query": query,
                "offset": "",
                "chat_type": "sender",
            }
        })
    }

    /// Every request received so far (with the right token), in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Requests to `method` (case-insensitive).
    pub fn requests_to(&self, method: &str) -> Vec<Request> {
        let method = method.to_ascii_lowercase();
        self.state()
            .requests
            .iter()
            .filter(|r| r.method == method)
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests (not the violations).
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// Polls every 20 ms until at least `count` requests to `method` exist or `timeout`
    /// passes; returns the requests to `method` received by then (possibly fewer).
    pub async fn wait_for(&self, method: &str, count: usize, timeout: Duration) -> Vec<Request> {
        common::poll_for(count, timeout, || self.requests_to(method)).await
    }

    /// Makes the next `times` valid calls of `method` (for any chat, or only for `chat_id`)
    /// fail with `failure`.
    pub fn fail(&self, method: &str, chat_id: Option<i64>, failure: Failure, times: usize) {
        let rule = FailRule {
            method: method.to_ascii_lowercase(),
            chat_id,
        };
        self.state().failures.add(rule, failure, times);
    }

    /// Sets what `getChatMember` answers for (chat, user): "creator", "administrator",
    /// "member" (default), "restricted", "left" or "kicked" ("banned" is accepted too).
    pub fn set_member_status(&self, chat_id: i64, user_id: i64, status: &str) {
        self.state()
            .member_status
            .insert((chat_id, user_id), status.to_owned());
    }

    /// The message the bot last sent/edited with this id, as the mock answered it.
    pub fn sent_message(&self, chat_id: i64, message_id: i64) -> Option<Value> {
        self.state().messages.get(&(chat_id, message_id)).cloned()
    }

    /// Every message the bot really sent (answered with success), in no order.
    pub fn sent_messages(&self) -> Vec<Value> {
        self.state().messages.values().cloned().collect()
    }

    /// Every request the published API would reject, as readable strings.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Stops the server (for every clone of this handle).
    pub async fn stop(self) {
        self.inner.server.stop().await;
    }
}

fn remember_chat(st: &mut MockState, chat: &Value) {
    if let Some(id) = chat.get("id").and_then(Value::as_i64) {
        st.chats.insert(id, chat.clone());
    }
}

impl Shared {
    fn bot_user(&self) -> Value {
        json!({
            "id": self.bot_id,
            "is_bot": true,
            "first_name": "Rouge Test",
            "username": self.bot_username,
        })
    }

    fn me(&self) -> Value {
        let mut me = self.bot_user();
        let extra = json!({
            "can_join_groups": true,
            "can_read_all_group_messages": false,
            "supports_inline_queries": true,
            "can_connect_to_business": false,
            "has_main_web_app": false,
        });
        if let (Value::Object(me), Value::Object(extra)) = (&mut me, extra) {
            me.extend(extra);
        }
        me
    }

    fn chat_for(&self, st: &MockState, chat_id: &Value) -> Value {
        match chat_id {
            Value::String(s) if s.starts_with('@') => {
                let name = &s[1..];
                let known = st
                    .chats
                    .values()
                    .find(|c| c.get("username").and_then(Value::as_str) == Some(name));
                known.cloned().unwrap_or_else(|| {
                    json!({
                        "id": -1_000_000_000_000_i64 - name.len() as i64,
                        "type": "channel",
                        "title": name,
                        "username": name,
                    })
                })
            }
            other => {
                let id = int::<i64>(other).unwrap_or(0);
                st.chats.get(&id).cloned().unwrap_or_else(|| guess_chat(id))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP handling
// ---------------------------------------------------------------------------------------------

fn api_ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({ "ok": true, "result": result })),
    )
        .into_response()
}

/// An error envelope. `parameters` is omitted when `None`: teloxide fails to parse an empty
/// `parameters` object.
fn api_error(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(body)).into_response()
}

async fn handle_request(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = percent_decode(uri.path());
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let (Some(bot_segment), Some(method_raw)) = (segments.next(), segments.next()) else {
        return api_error(404, "Not Found", None);
    };
    let Some(token) = bot_segment.strip_prefix("bot") else {
        return api_error(404, "Not Found", None);
    };
    if token != shared.token {
        return api_error(401, "Unauthorized", None);
    }
    let method_raw = method_raw.trim_end_matches('/');
    if method_raw.is_empty() || method_raw.contains('/') {
        return api_error(404, "Not Found", None);
    }
    let method = method_raw.to_ascii_lowercase();
    let spec = shared.spec.clone();
    let method_spec = spec.methods.get(&method);

    let content_type = content_type(&headers);
    let parsed = parse_body(&content_type, uri.query(), &body, method_spec);
    let (params, body_problem) = match parsed {
        Ok(p) => (p, None),
        Err(e) => (
            Params {
                params: Map::new(),
                files: Vec::new(),
                attach_refs: Vec::new(),
            },
            Some(e),
        ),
    };

    {
        let mut st = lock(&shared.state);
        st.requests.push(Request {
            method: method.clone(),
            body: Value::Object(params.params.clone()),
        });
    }

    let display_name = method_spec.map_or(method_raw, |m| m.name.as_str());
    let mut problems = Vec::new();
    if let Some(p) = body_problem {
        problems.push(p);
    }
    match method_spec {
        None => problems.push(format!("method '{method_raw}' is not in the Bot API")),
        Some(ms) => {
            validate_method(&spec, ms, &params.params, &mut problems);
            for reference in &params.attach_refs {
                if !params.files.contains(reference) {
                    problems.push(format!(
                        "'attach://{reference}' refers to no uploaded file part"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        let mut st = lock(&shared.state);
        for p in &problems {
            st.violations.push(format!("{display_name}: {p}"));
        }
        return api_error(400, &format!("Bad Request: {}", problems.join("; ")), None);
    }

    let body = params.params;
    // Injected failures.
    {
        let chat_id = body.get("chat_id").and_then(int::<i64>);
        let hit = lock(&shared.state).failures.take(|rule| {
            rule.method == method && (rule.chat_id.is_none() || rule.chat_id == chat_id)
        });
        if let Some(failure) = hit {
            return failure.response();
        }
    }

    if method == "getupdates" {
        return get_updates(&shared, &body).await;
    }
    answer(&shared, &method, &body)
}

async fn get_updates(shared: &Arc<Shared>, body: &Map<String, Value>) -> Response {
    let int_of = |name: &str| body.get(name).and_then(int::<i64>);
    let offset = int_of("offset");
    let limit = int_of("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = int_of("timeout").unwrap_or(0).max(0) as u64;
    let allowed: Option<Vec<String>> = body.get("allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
    });
    let deadline = Instant::now() + Duration::from_secs(timeout).min(MAX_EMPTY_POLL_WAIT);
    loop {
        let notified = shared.updates_pushed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let result = {
            let mut st = lock(&shared.state);
            if let Some(offset) = offset
                && offset > 0
            {
                st.queue
                    .retain(|u| u.get("update_id").and_then(Value::as_i64).unwrap_or(0) >= offset);
            }
            if let Some(allowed) = &allowed {
                st.queue.retain(|u| {
                    let kind = u
                        .as_object()
                        .and_then(|m| m.keys().find(|k| *k != "update_id").cloned())
                        .unwrap_or_default();
                    let keep = if allowed.is_empty() {
                        !matches!(
                            kind.as_str(),
                            "chat_member" | "message_reaction" | "message_reaction_count"
                        )
                    } else {
                        allowed.contains(&kind)
                    };
                    if !keep {
                        eprintln!(
                            "telegram mock: dropping update {} ({kind}): not in allowed_updates {allowed:?}",
                            u.get("update_id").unwrap_or(&Value::Null)
                        );
                    }
                    keep
                });
            }
            st.queue.iter().take(limit).cloned().collect::<Vec<_>>()
        };
        if !result.is_empty() {
            return api_ok(Value::Array(result));
        }
        let now = Instant::now();
        if now >= deadline {
            return api_ok(json!([]));
        }
        let _ = tokio::time::timeout(deadline - now, notified).await;
    }
}

fn plain_text(text: &str, parse_mode: Option<&str>) -> String {
    match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => parse_html(text).unwrap_or_else(|_| text.to_owned()),
        Some("markdownv2") => parse_markdown_v2(text).unwrap_or_else(|_| text.to_owned()),
        _ => text.to_owned(),
    }
}

fn answer(shared: &Arc<Shared>, method: &str, body: &Map<String, Value>) -> Response {
    let str_of = |name: &str| body.get(name).and_then(Value::as_str);
    let int_of = |name: &str| body.get(name).and_then(int::<i64>);
    let inline_keyboard = || {
        body.get("reply_markup")
            .filter(|m| m.get("inline_keyboard").is_some())
            .cloned()
    };
    match method {
        "getme" => api_ok(shared.me()),
        "getwebhookinfo" => {
            let st = lock(&shared.state);
            api_ok(json!({
                "url": st.webhook_url,
                "has_custom_certificate": false,
                "pending_update_count": st.queue.len(),
            }))
        }
        "setwebhook" => {
            lock(&shared.state).webhook_url = str_of("url").unwrap_or("").to_owned();
            api_ok(json!(true))
        }
        "deletewebhook" => {
            let mut st = lock(&shared.state);
            st.webhook_url.clear();
            if body.get("drop_pending_updates") == Some(&json!(true)) {
                st.queue.clear();
            }
            api_ok(json!(true))
        }
        "setmycommands" => {
            lock(&shared.state).commands = body.get("commands").cloned().unwrap_or(json!([]));
            api_ok(json!(true))
        }
        "deletemycommands" => {
            lock(&shared.state).commands = json!([]);
            api_ok(json!(true))
        }
        "getmycommands" => api_ok(lock(&shared.state).commands.clone()),
        "getchatmember" => {
            let chat_id = int_of("chat_id").unwrap_or(0);
            let user_id = int_of("user_id").unwrap_or(0);
            let status = lock(&shared.state)
                .member_status
                .get(&(chat_id, user_id))
                .cloned()
                .unwrap_or_else(|| "member".to_owned());
            let user = if user_id == shared.bot_id {
                shared.bot_user()
            } else {
                json!({ "id": user_id, "is_bot": false, "first_name": format!("User{user_id}") })
            };
            api_ok(chat_member(&status, user))
        }
        "sendmessage" | "sendphoto" => {
            let mut st = lock(&shared.state);
            let chat = shared.chat_for(&st, body.get("chat_id").unwrap_or(&Value::Null));
            let chat_id = chat.get("id").and_then(Value::as_i64).unwrap_or(0);
            let message_id = st.next_message_id;
            st.next_message_id += 1;
            let mut msg = json!({
                "message_id": message_id,
                "date": now(),
                "chat": chat,
                "from": shared.bot_user(),
            });
            if method == "sendmessage" {
                msg["text"] = json!(plain_text(
                    str_of("text").unwrap_or(""),
                    str_of("parse_mode")
                ));
            } else {
                let file = format!("AgACAgIAAxkBAAI{message_id}");
                msg["photo"] = json!([
                    { "file_id": format!("{file}s"), "file_unique_id": format!("u{message_id}s"),
                      "width": 90, "height": 60, "file_size": 1200 },
                    { "file_id": file, "file_unique_id": format!("u{message_id}"),
                      "width": 800, "height": 533, "file_size": 48000 },
                ]);
                if let Some(caption) = str_of("caption") {
                    msg["caption"] = json!(plain_text(caption, str_of("parse_mode")));
                }
            }
            if let Some(markup) = inline_keyboard() {
                msg["reply_markup"] = markup;
            }
            st.messages.insert((chat_id, message_id), msg.clone());
            api_ok(msg)
        }
        "editmessagetext" | "editmessagecaption" | "editmessagereplymarkup" => {
            if body.get("chat_id").is_none() && body.get("inline_message_id").is_some() {
                return api_ok(json!(true));
            }
            let mut st = lock(&shared.state);
            let chat = shared.chat_for(&st, body.get("chat_id").unwrap_or(&Value::Null));
            let chat_id = chat.get("id").and_then(Value::as_i64).unwrap_or(0);
            let message_id = int_of("message_id").unwrap_or(0);
            let existing = st.messages.get(&(chat_id, message_id)).cloned();
            let mut msg = existing.clone().unwrap_or_else(|| {
                json!({
                    "message_id": message_id,
                    "date": now(),
                    "chat": chat,
                    "from": shared.bot_user(),
                    "text": "message",
                })
            });
            let obj = msg.as_object_mut().expect("message object");
            match method {
                "editmessagetext" => {
                    let text = plain_text(str_of("text").unwrap_or(""), str_of("parse_mode"));
                    obj.remove("caption");
                    obj.remove("photo");
                    obj.insert("text".into(), json!(text));
                }
                "editmessagecaption" => {
                    let caption = plain_text(str_of("caption").unwrap_or(""), str_of("parse_mode"));
                    obj.insert("caption".into(), json!(caption));
                }
                _ => {}
            }
            match inline_keyboard() {
                Some(markup) => {
                    obj.insert("reply_markup".into(), markup);
                }
                None => {
                    obj.remove("reply_markup");
                }
            }
            if let Some(old) = &existing {
                let same = |k: &str| old.get(k) == msg.get(k);
                if same("text") && same("caption") && same("reply_markup") {
                    return api_error(
                        400,
                        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                        None,
                    );
                }
            }
            msg["edit_date"] = json!(now());
            st.messages.insert((chat_id, message_id), msg.clone());
            api_ok(msg)
        }
        _ => api_ok(json!(true)),
    }
}

/// A ChatMember with every field teloxide-core 0.13 requires for its status.
fn chat_member(status: &str, user: Value) -> Value {
    let mut member = match status {
        "creator" | "owner" => json!({ "status": "creator", "is_anonymous": false }),
        "administrator" | "admin" => json!({
            "status": "administrator",
            "can_be_edited": false,
            "is_anonymous": false,
            "can_manage_chat": true,
            "can_delete_messages": true,
            "can_manage_video_chats": true,
            "can_restrict_members": true,
            "can_promote_members": false,
            "can_change_info": true,
            "can_invite_users": true,
            "can_post_stories": false,
            "can_edit_stories": false,
            "can_delete_stories": false,
            "can_pin_messages": true,
            "can_manage_topics": false,
        }),
        "restricted" => json!({
            "status": "restricted",
            "is_member": true,
            "can_send_messages": false,
            "can_send_audios": false,
            "can_send_documents": false,
            "can_send_photos": false,
            "can_send_videos": false,
            "can_send_video_notes": false,
            "can_send_voice_notes": false,
            "can_send_polls": false,
            "can_send_other_messages": false,
            "can_add_web_page_previews": false,
            "can_change_info": false,
            "can_invite_users": false,
            "can_pin_messages": false,
            "can_manage_topics": false,
            "until_date": 0,
        }),
        "kicked" | "banned" => json!({ "status": "kicked", "until_date": 0 }),
        "left" => json!({ "status": "left" }),
        other => json!({ "status": other }),
    };
    member["user"] = user;
    member
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

struct Params {
    params: Map<String, Value>,
    /// Names of uploaded file parts.
    files: Vec<String>,
    /// `attach://<name>` references found in top-level string parameters.
    attach_refs: Vec<String>,
}

fn parse_body(
    content_type: &str,
    query: Option<&str>,
    body: &[u8],
    method: Option<&MethodSpec>,
) -> Result<Params, String> {
    let mut out = Params {
        params: Map::new(),
        files: Vec::new(),
        attach_refs: Vec::new(),
    };
    let field_types = |name: &str| -> Option<&[String]> {
        method
            .and_then(|m| m.fields.iter().find(|f| f.name == name))
            .map(|f| f.types.as_slice())
    };
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        for (k, v) in form_pairs(q) {
            let value = form_value(&v, field_types(&k));
            out.params.insert(k, value);
        }
    }
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let boundary =
            multipart::boundary(content_type).ok_or("multipart body without boundary")?;
        for part in parse_multipart(body, &boundary)? {
            if part.filename.is_some() {
                out.files.push(part.name);
            } else {
                let text = String::from_utf8(part.data)
                    .map_err(|_| format!("multipart field '{}' is not UTF-8", part.name))?;
                let value = form_value(&text, field_types(&part.name));
                out.params.insert(part.name, value);
            }
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let text = std::str::from_utf8(body).map_err(|_| "form body is not UTF-8")?;
        for (k, v) in form_pairs(text) {
            let value = form_value(&v, field_types(&k));
            out.params.insert(k, value);
        }
    } else if !body.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => out.params.extend(map),
            Ok(other) => return Err(format!("body is not a JSON object: {other}")),
            Err(e) => return Err(format!("body is not valid JSON: {e}")),
        }
    }
    for v in out.params.values() {
        if let Some(name) = v.as_str().and_then(|s| s.strip_prefix("attach://")) {
            out.attach_refs.push(name.to_owned());
        }
    }
    Ok(out)
}

/// Converts a form/multipart text value to JSON, guided by the field's spec types when known.
fn form_value(raw: &str, types: Option<&[String]>) -> Value {
    let Some(types) = types else {
        return match serde_json::from_str::<Value>(raw) {
            Ok(v) if !v.is_string() => v,
            _ => Value::String(raw.to_owned()),
        };
    };
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("Integer")
        && let Ok(n) = raw.parse::<i64>()
    {
        return json!(n);
    }
    if has("Float")
        && let Ok(f) = raw.parse::<f64>()
    {
        return json!(f);
    }
    if has("Boolean") && (raw == "true" || raw == "false") {
        return json!(raw == "true");
    }
    let structured = types.iter().any(|t| {
        !matches!(
            t.as_str(),
            "Integer" | "Float" | "Boolean" | "String" | "InputFile"
        )
    });
    if structured
        && (raw.trim_start().starts_with('{') || raw.trim_start().starts_with('['))
        && let Ok(v) = serde_json::from_str::<Value>(raw)
    {
        return v;
    }
    Value::String(raw.to_owned())
}

// ---------------------------------------------------------------------------------------------
// The Bot API description
// ---------------------------------------------------------------------------------------------

struct Spec {
    /// By lower-case method name.
    methods: HashMap<String, MethodSpec>,
    types: HashMap<String, TypeSpec>,
}

struct MethodSpec {
    name: String,
    description: String,
    fields: Vec<FieldSpec>,
}

struct TypeSpec {
    name: String,
    description: String,
    fields: Vec<FieldSpec>,
    subtypes: Vec<String>,
    /// (field, value) that identifies this type inside a union: `type` "always \"x\"" /
    /// "must be x".
    discriminator: Option<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Unit {
    Characters,
    Bytes,
}

struct FieldSpec {
    name: String,
    types: Vec<String>,
    required: bool,
    description: String,
    /// "N-M characters|bytes" from the description.
    length: Option<(usize, usize, Unit)>,
    /// "Values between N-M" (integers) from the description.
    range: Option<(i64, i64)>,
    /// "At most N" (arrays) from the description.
    max_items: Option<usize>,
    /// Sibling parameter holding this field's parse mode (`parse_mode`, `quote_parse_mode`..).
    parse_mode_field: Option<String>,
}

static SPEC: OnceLock<Result<Arc<Spec>, String>> = OnceLock::new();

fn spec() -> Result<Arc<Spec>, String> {
    SPEC.get_or_init(|| load_spec().map(Arc::new)).clone()
}

fn desc_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn load_spec() -> Result<Spec, String> {
    let root = common::read_spec(SPEC_PATH, "the Bot API spec")?;
    let object = |key: &str| {
        root.get(key)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{SPEC_PATH} has no '{key}' object"))
    };
    let fields_of = |v: &Value| -> Vec<FieldSpec> {
        let raw: Vec<&Value> = v
            .get("fields")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let names: Vec<String> = raw
            .iter()
            .filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        raw.iter()
            .filter_map(|f| {
                let name = f.get("name")?.as_str()?.to_owned();
                let types = f
                    .get("types")?
                    .as_array()?
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect();
                let description = desc_text(f.get("description"));
                let own_mode = format!("{name}_parse_mode");
                let parse_mode_field = if names.contains(&own_mode) {
                    Some(own_mode)
                } else if matches!(name.as_str(), "text" | "message_text" | "caption")
                    && names.iter().any(|n| n == "parse_mode")
                {
                    Some("parse_mode".to_owned())
                } else {
                    None
                };
                Some(FieldSpec {
                    length: parse_length(&description),
                    range: parse_range(&description),
                    max_items: parse_after_number(&description, "At most "),
                    required: f.get("required").and_then(Value::as_bool).unwrap_or(false),
                    name,
                    types,
                    description,
                    parse_mode_field,
                })
            })
            .collect()
    };
    let mut methods = HashMap::new();
    for (key, m) in object("methods")? {
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned();
        methods.insert(
            name.to_ascii_lowercase(),
            MethodSpec {
                description: desc_text(m.get("description")),
                fields: fields_of(m),
                name,
            },
        );
    }
    let mut types = HashMap::new();
    for (key, t) in object("types")? {
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned();
        let fields = fields_of(t);
        let discriminator = fields
            .iter()
            .filter(|f| matches!(f.name.as_str(), "type" | "status" | "source"))
            .find_map(|f| parse_discriminator(&f.description).map(|v| (f.name.clone(), v)));
        let subtypes = t
            .get("subtypes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        types.insert(
            name.clone(),
            TypeSpec {
                name,
                description: desc_text(t.get("description")),
                fields,
                subtypes,
                discriminator,
            },
        );
    }
    if methods.is_empty() {
        return Err(format!("{SPEC_PATH} lists no methods"));
    }
    Ok(Spec { methods, types })
}

/// "1-4096 characters", "1-64 bytes", "1-64 Bytes".
fn parse_length(description: &str) -> Option<(usize, usize, Unit)> {
    let chars: Vec<char> = description.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let min: String = chars[start..i].iter().collect();
            if i < chars.len() && chars[i] == '-' {
                let j0 = i + 1;
                let mut j = j0;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                if j > j0 {
                    let max: String = chars[j0..j].iter().collect();
                    let rest: String = chars[j..].iter().take(12).collect::<String>();
                    let rest = rest.to_ascii_lowercase();
                    let unit = if rest.starts_with(" characters") {
                        Some(Unit::Characters)
                    } else if rest.starts_with(" bytes") {
                        Some(Unit::Bytes)
                    } else {
                        None
                    };
                    if let (Some(unit), Ok(min), Ok(max)) = (unit, min.parse(), max.parse()) {
                        return Some((min, max, unit));
                    }
                }
            }
        }
        i += 1;
    }
    None
}

/// "Values between 1-100 are accepted".
fn parse_range(description: &str) -> Option<(i64, i64)> {
    let rest = &description[description.find("Values between ")? + "Values between ".len()..];
    let (a, rest) = rest.split_once('-')?;
    let b: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((a.trim().parse().ok()?, b.parse().ok()?))
}

/// The number right after `prefix` ("At most 100 commands" → 100).
fn parse_after_number(description: &str, prefix: &str) -> Option<usize> {
    let rest = &description[description.find(prefix)? + prefix.len()..];
    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
    n.parse().ok()
}

/// `always "user"` or `must be article`.
fn parse_discriminator(description: &str) -> Option<String> {
    if let Some(pos) = description.find("always \"") {
        let rest = &description[pos + "always \"".len()..];
        return rest.split('"').next().map(str::to_owned);
    }
    for marker in ["always \u{201c}", "must be "] {
        if let Some(pos) = description.find(marker) {
            let rest = &description[pos + marker.len()..];
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() && word != "one" {
                return Some(word);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Float",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "object",
    }
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn validate_method(
    spec: &Spec,
    method: &MethodSpec,
    params: &Map<String, Value>,
    out: &mut Vec<String>,
) {
    check_fields(spec, &method.fields, params, "", "parameter", out);
    match method.name.as_str() {
        "answerInlineQuery" => {
            let limit = parse_after_number(&method.description, "No more than ").unwrap_or(50);
            if let Some(results) = params.get("results").and_then(Value::as_array)
                && results.len() > limit
            {
                out.push(format!(
                    "results: {} results; no more than {limit} are allowed",
                    results.len()
                ));
            }
        }
        "getUpdates" => {
            if let Some(list) = params.get("allowed_updates").and_then(Value::as_array)
                && let Some(update) = spec.types.get("Update")
            {
                for kind in list.iter().filter_map(Value::as_str) {
                    if kind == "update_id" || !update.fields.iter().any(|f| f.name == kind) {
                        out.push(format!("allowed_updates: unknown update type '{kind}'"));
                    }
                }
            }
        }
        _ => {}
    }
}

/// Checks an object's fields: unknown, missing required, types, lengths and formatting.
fn check_fields(
    spec: &Spec,
    fields: &[FieldSpec],
    obj: &Map<String, Value>,
    path: &str,
    what: &str,
    out: &mut Vec<String>,
) {
    for key in obj.keys() {
        if !fields.iter().any(|f| f.name == *key) {
            out.push(format!("{}: unknown {what}", join_path(path, key)));
        }
    }
    for field in fields {
        let fpath = join_path(path, &field.name);
        let value = obj.get(&field.name).filter(|v| !v.is_null());
        let Some(value) = value else {
            if field.required {
                out.push(format!("{fpath}: required {what} is missing"));
            }
            continue;
        };
        check_union(spec, value, &field.types, &fpath, out);
        if let Value::String(s) = value {
            let mode = field
                .parse_mode_field
                .as_ref()
                .and_then(|m| obj.get(m))
                .and_then(Value::as_str);
            let plain = match mode {
                Some(m) if m.eq_ignore_ascii_case("html") => match parse_html(s) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        out.push(format!("can't parse entities in {fpath}: {e}"));
                        None
                    }
                },
                Some(m) if m.eq_ignore_ascii_case("markdownv2") => match parse_markdown_v2(s) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        out.push(format!("can't parse entities in {fpath}: {e}"));
                        None
                    }
                },
                Some(m) if m.eq_ignore_ascii_case("markdown") => Some(s.clone()),
                Some(m) => {
                    out.push(format!("{fpath}: unsupported parse_mode '{m}'"));
                    None
                }
                None => Some(s.clone()),
            };
            if let (Some((min, max, unit)), Some(plain)) = (field.length, plain) {
                let (len, unit_name) = match unit {
                    Unit::Bytes => (s.len(), "bytes"),
                    Unit::Characters => (plain.chars().count(), "characters"),
                };
                let after = if mode.is_some() && unit == Unit::Characters {
                    " after entity parsing"
                } else {
                    ""
                };
                if len > max {
                    out.push(format!(
                        "{fpath}: too long: {len} {unit_name}{after}; at most {max} allowed"
                    ));
                } else if min > 0 && (len < min || plain.trim().is_empty()) {
                    out.push(format!(
                        "{fpath}: too short: must be {min}-{max} {unit_name}{after} (and not only whitespace)"
                    ));
                }
            }
        }
        if let (Some((lo, hi)), Some(n)) = (field.range, value.as_i64())
            && (n < lo || n > hi)
        {
            out.push(format!("{fpath}: {n} is outside {lo}-{hi}"));
        }
        if let (Some(max), Some(items)) = (field.max_items, value.as_array())
            && items.len() > max
        {
            out.push(format!(
                "{fpath}: {} items; at most {max} allowed",
                items.len()
            ));
        }
    }
}

fn is_primitive(t: &str) -> bool {
    matches!(t, "Integer" | "String" | "Boolean" | "Float" | "InputFile")
}

/// Shallow compatibility: could `v` be a `ty` at all?
fn kind_ok(spec: &Spec, v: &Value, ty: &str) -> bool {
    if ty.starts_with("Array of ") {
        return v.is_array();
    }
    match ty {
        "Integer" => {
            v.is_i64() || v.is_u64() || v.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
        }
        "Float" => v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
        "Boolean" => v.is_boolean(),
        "String" | "InputFile" => v.is_string(),
        other => match spec.types.get(other) {
            Some(t) if !t.subtypes.is_empty() => t.subtypes.iter().any(|s| kind_ok(spec, v, s)),
            Some(t) if t.fields.is_empty() && t.name == "InputFile" => v.is_string(),
            Some(_) => v.is_object(),
            None => true,
        },
    }
}

/// Checks `v` against one of several type expressions.
fn check_union(spec: &Spec, v: &Value, types: &[String], path: &str, out: &mut Vec<String>) {
    // Expand abstract types into their concrete subtypes.
    let mut candidates: Vec<&str> = Vec::new();
    for t in types {
        match spec.types.get(t.as_str()) {
            Some(ts) if !ts.subtypes.is_empty() => {
                candidates.extend(ts.subtypes.iter().map(String::as_str))
            }
            _ => candidates.push(t.as_str()),
        }
    }
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|c| seen.insert(*c));
    let mut compatible: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|t| kind_ok(spec, v, t))
        .collect();
    if compatible.is_empty() {
        out.push(format!(
            "{path}: expected {}, got {}",
            types.join(" or "),
            json_kind(v)
        ));
        return;
    }
    if compatible.len() == 1 {
        check_value(spec, v, compatible[0], path, out);
        return;
    }
    // Discriminated union ("type": "article", "status": "member", ...).
    if let Value::Object(obj) = v {
        let discriminated: Vec<(&str, &(String, String))> = compatible
            .iter()
            .filter_map(|t| {
                spec.types
                    .get(*t)
                    .and_then(|ts| ts.discriminator.as_ref())
                    .map(|d| (*t, d))
            })
            .collect();
        if !discriminated.is_empty() && discriminated.len() == compatible.len() {
            let field = &discriminated[0].1.0;
            let given = obj.get(field).and_then(Value::as_str);
            let matching: Vec<&str> = discriminated
                .iter()
                .filter(|(_, (f, val))| obj.get(f).and_then(Value::as_str) == Some(val))
                .map(|(t, _)| *t)
                .collect();
            match matching.as_slice() {
                [] => {
                    let allowed: Vec<&str> =
                        discriminated.iter().map(|(_, (_, v))| v.as_str()).collect();
                    out.push(format!(
                        "{}: {} is not one of {allowed:?}",
                        join_path(path, field),
                        given.map_or("missing".to_owned(), |g| format!("'{g}'"))
                    ));
                    return;
                }
                [only] => {
                    check_value(spec, v, only, path, out);
                    return;
                }
                // e.g. InlineQueryResultAudio and InlineQueryResultCachedAudio are both
                // "audio": decide between those two only.
                _ => compatible = matching,
            }
        }
    }
    // Otherwise: fine if any candidate accepts it; else report the closest candidate.
    let mut best: Option<Vec<String>> = None;
    for t in &compatible {
        let mut problems = Vec::new();
        check_value(spec, v, t, path, &mut problems);
        if problems.is_empty() {
            return;
        }
        if best.as_ref().is_none_or(|b| problems.len() < b.len()) {
            best = Some(problems);
        }
    }
    out.extend(best.unwrap_or_default());
}

fn check_value(spec: &Spec, v: &Value, ty: &str, path: &str, out: &mut Vec<String>) {
    if let Some(inner) = ty.strip_prefix("Array of ") {
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_union(
                        spec,
                        item,
                        &[inner.to_owned()],
                        &format!("{path}[{i}]"),
                        out,
                    );
                }
            }
            other => out.push(format!("{path}: expected {ty}, got {}", json_kind(other))),
        }
        return;
    }
    if is_primitive(ty) {
        if !kind_ok(spec, v, ty) {
            out.push(format!("{path}: expected {ty}, got {}", json_kind(v)));
        }
        return;
    }
    let Some(ts) = spec.types.get(ty) else {
        return;
    };
    if !ts.subtypes.is_empty() {
        check_union(spec, v, &ts.subtypes, path, out);
        return;
    }
    let Value::Object(obj) = v else {
        out.push(format!(
            "{path}: expected {ty} object, got {}",
            json_kind(v)
        ));
        return;
    };
    if ts.fields.is_empty() {
        return;
    }
    check_fields(spec, &ts.fields, obj, path, &format!("field of {ty}"), out);
    match ty {
        "InlineKeyboardButton" => {
            // "Exactly one of the fields other than text, icon_custom_emoji_id, and style must
            // be used to specify the type of the button."
            let actions: Vec<&String> = obj
                .iter()
                .filter(|(k, v)| {
                    !v.is_null() && !matches!(k.as_str(), "text" | "icon_custom_emoji_id" | "style")
                })
                .map(|(k, _)| k)
                .collect();
            if actions.len() != 1 {
                out.push(format!(
                    "{path}: a button needs exactly one action field, found {actions:?}"
                ));
            }
        }
        "BotCommand" => {
            if let Some(cmd) = obj.get("command").and_then(Value::as_str)
                && !cmd
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                out.push(format!(
                    "{path}.command: '{cmd}' may contain only lowercase English letters, digits and underscores"
                ));
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Entity parsing
// ---------------------------------------------------------------------------------------------

/// Parses Telegram-flavoured HTML; returns the plain text (tags removed, entities decoded).
pub fn parse_html(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().expect("char boundary");
        match c {
            '<' => {
                let start = i;
                let mut j = i + 1;
                let mut quote: Option<u8> = None;
                while j < bytes.len() {
                    let b = bytes[j];
                    match quote {
                        Some(q) if b == q => quote = None,
                        Some(_) => {}
                        None if b == b'"' || b == b'\'' => quote = Some(b),
                        None if b == b'>' => break,
                        None if b == b'<' => {
                            return Err(format!(
                                "raw '<' at byte offset {start}; escape it as &lt;"
                            ));
                        }
                        None => {}
                    }
                    j += 1;
                }
                if j >= bytes.len() {
                    return Err(format!("raw '<' at byte offset {start}; escape it as &lt;"));
                }
                let inner = &s[i + 1..j];
                if let Some(closing) = inner.strip_prefix('/') {
                    let name = closing.trim().to_ascii_lowercase();
                    match stack.pop() {
                        Some(open) if open == name => {}
                        Some(open) => {
                            return Err(format!(
                                "unmatched end tag at byte offset {start}, expected \"</{open}>\", found \"</{name}>\""
                            ));
                        }
                        None => {
                            return Err(format!(
                                "unexpected end tag \"</{name}>\" at byte offset {start}"
                            ));
                        }
                    }
                } else {
                    let name_end = inner
                        .find(|c: char| c.is_whitespace() || c == '/')
                        .unwrap_or(inner.len());
                    let name = inner[..name_end].to_ascii_lowercase();
                    let attrs = parse_attrs(&inner[name_end..])
                        .map_err(|e| format!("{e} in tag \"{name}\" at byte offset {start}"))?;
                    let attr = |n: &str| attrs.iter().find(|(k, _)| k == n).map(|(_, v)| v);
                    let ok = match name.as_str() {
                        "b" | "strong" | "i" | "em" | "u" | "ins" | "s" | "strike" | "del"
                        | "tg-spoiler" | "pre" | "code" | "blockquote" => true,
                        "a" => match attr("href") {
                            Some(Some(href)) if !href.trim().is_empty() => true,
                            _ => {
                                return Err(format!(
                                    "tag \"a\" at byte offset {start} needs a non-empty href"
                                ));
                            }
                        },
                        "span" => attr("class") == Some(&Some("tg-spoiler".to_owned())),
                        "tg-emoji" => match attr("emoji-id") {
                            Some(Some(id)) if !id.is_empty() => true,
                            _ => {
                                return Err(format!(
                                    "tag \"tg-emoji\" at byte offset {start} needs emoji-id"
                                ));
                            }
                        },
                        _ => false,
                    };
                    if !ok {
                        return Err(format!(
                            "unsupported start tag \"{name}\" at byte offset {start}"
                        ));
                    }
                    stack.push(name);
                }
                i = j + 1;
            }
            '>' => return Err(format!("raw '>' at byte offset {i}; escape it as &gt;")),
            '&' => {
                let rest = &s[i + 1..];
                let end = rest.find(';').filter(|e| *e <= 10);
                let decoded = end.and_then(|e| {
                    let name = &rest[..e];
                    match name {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "quot" => Some('"'),
                        _ => {
                            let num = name.strip_prefix('#')?;
                            let code = match num.strip_prefix(['x', 'X']) {
                                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                                None => num.parse::<u32>().ok()?,
                            };
                            char::from_u32(code)
                        }
                    }
                });
                match (decoded, end) {
                    (Some(ch), Some(e)) => {
                        out.push(ch);
                        i += e + 2;
                    }
                    _ => {
                        return Err(format!(
                            "raw '&' or unsupported entity at byte offset {i}; escape it as &amp; (only &lt; &gt; &amp; &quot; and numeric entities exist)"
                        ));
                    }
                }
            }
            _ => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}

type Attrs = Vec<(String, Option<String>)>;

fn parse_attrs(s: &str) -> Result<Attrs, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut attrs = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(attrs);
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let value = if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let q = chars[i];
                i += 1;
                let vs = i;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated attribute value".to_owned());
                }
                let v: String = chars[vs..i].iter().collect();
                i += 1;
                v
            } else {
                let vs = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                chars[vs..i].iter().collect()
            };
            attrs.push((name, Some(value)));
        } else {
            attrs.push((name, None));
        }
    }
}

/// A MarkdownV2 check covering the usual mistakes (unescaped reserved characters, unclosed
/// code/pre/link); returns the approximate plain text.
pub fn parse_markdown_v2(s: &str) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut in_code = false;
    let mut in_pre = false;
    let mut in_url = false;
    let mut line_start = true;
    while i < chars.len() {
        let c = chars[i];
        let at_line_start = line_start;
        line_start = c == '\n';
        if c == '\\' {
            match chars.get(i + 1) {
                Some(&n) if (n as u32) < 127 => {
                    if !in_url {
                        out.push(n);
                    }
                    line_start = n == '\n';
                    i += 2;
                    continue;
                }
                _ => return Err(format!("character '\\' at position {i} escapes nothing")),
            }
        }
        if in_pre {
            if chars[i..].starts_with(&['`', '`', '`']) {
                in_pre = false;
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
            continue;
        }
        if in_code {
            if c == '`' {
                in_code = false;
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        if in_url {
            if c == ')' {
                in_url = false;
            }
            i += 1;
            continue;
        }
        match c {
            '`' if chars[i..].starts_with(&['`', '`', '`']) => {
                in_pre = true;
                i += 3;
                continue;
            }
            '`' => in_code = true,
            '*' | '_' | '~' | '[' => {}
            ']' if chars.get(i + 1) == Some(&'(') => {
                in_url = true;
                i += 2;
                continue;
            }
            ']' => {}
            '|' if chars.get(i + 1) == Some(&'|') => {
                i += 2;
                continue;
            }
            '!' if chars.get(i + 1) == Some(&'[') => {}
            '>' if at_line_start => {}
            '|' | '!' | '>' | '#' | '+' | '-' | '=' | '{' | '}' | '.' | '(' | ')' => {
                return Err(format!(
                    "character '{c}' is reserved and must be escaped with the preceding '\\'"
                ));
            }
            other => out.push(other),
        }
        i += 1;
    }
    if in_code || in_pre {
        return Err("can't find end of the code entity".to_owned());
    }
    if in_url {
        return Err("can't find end of the URL".to_owned());
    }
    Ok(out)
}
