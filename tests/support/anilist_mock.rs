//! An in-process mock of the AniList GraphQL API (v2) for integration tests.
//!
//! Include it with
//! `#[path = "support/anilist_mock.rs"] mod anilist_mock;`
//! and point the AniList source at [`AniListMock::url`] (`http://127.0.0.1:PORT/`).
//!
//! The mock serves `POST /` on 127.0.0.1 only. Every request body
//! (`{"query": …, "variables": {…}, "operationName": …}`) is parsed and validated against
//! AniList's published schema in `../shared/specs/anilist-schema.graphqls` (loaded at run time,
//! never copied) with `apollo-compiler`. A query the real API would reject (unknown field or
//! argument, wrong argument type, undefined variable, a selection on a scalar, a missing selection
//! on an object, bad variable values, …) is answered HTTP 400 in AniList's error shape
//! `{"data":null,"errors":[{"message":…,"status":400,"locations":[{"line":…,"column":…}]}]}`
//! and recorded in [`AniListMock::invalid_queries`]; tests should assert that list is empty
//! (or call [`AniListMock::assert_clean`]), since a client may swallow the 400.
//!
//! Valid queries are executed against in-memory fixtures (JSON objects that use the schema's own
//! field names) and the answer is shaped exactly by the query's selection set: aliases, named and
//! inline fragments, `__typename`, variables with default values, `@skip`/`@include`. Fields the
//! fixture lacks are `null`. Field arguments that do not filter (`description(asHtml:)`, …) are
//! validated and ignored.
//!
//! Supported roots: `Media(…)` (the first match; no match is HTTP 404 `Not Found.` like AniList),
//! `AiringSchedule(…)`, and `Page(page, perPage) { pageInfo media(…) airingSchedules(…) }`.
//! List filters follow AniList's argument naming (`x`, `x_not`, `x_in`, `x_not_in`,
//! `x_greater`, `x_lesser`, `x_like`) for the record fields they name, plus `search`
//! (case-insensitive substring of any title or synonym), `notYetAired`, `minimumTagRank` and
//! every `sort` value of `MediaSort` and `AiringSort`. `perPage` is capped at 50 like AniList;
//! `pageInfo` describes the first list field of the `Page`. Anything valid that the mock cannot
//! answer faithfully (another root field, `onList`, a fixture without a non-null field the query
//! selects) is HTTP 400 with a `mock:` message and is recorded in [`AniListMock::unsupported`].
//!
//! Derived fields: `AiringSchedule.timeUntilAiring` is `airingAt - now` (the mock's clock, see
//! [`AniListMock::set_now`]); `AiringSchedule.media` is looked up by `mediaId` when the record
//! has none; `Media.nextAiringEpisode` and `Media.airingSchedule` come from the airing records
//! of that media when there are any (else from the fixture); `studios(isMain: true)` filters the
//! fixture's `edges`; `nodes` of a connection come from its `edges` when the fixture has only
//! edges.
//!
//! Budget: like AniList, a rolling window (default 30 requests a minute, AniList's degraded-mode
//! limit; see [`AniListConfig`]). Every answer carries `X-RateLimit-Limit` and
//! `X-RateLimit-Remaining`. The request that goes over budget, and every request during the
//! lock-out that follows (one minute by default, as AniList documents), is answered 429 with
//! `Retry-After`, `X-RateLimit-Reset` and `{"data":null,"errors":[{"message":"Too Many
//! Requests.","status":429}]}`, and is recorded in [`AniListMock::violations`].
//!
//! Failures ([`AniListMock::fail_next`], [`AniListMock::fail_always`]) are served to requests that
//! are within budget and valid, so validation still sees every query.
//!
//! ```ignore
//! let mock = AniListMock::start().await;            // fixtures of tests/fixtures/anilist
//! mock.set_now(anilist_mock::FIXTURE_NOW);          // the airing fixtures' "now"
//! mock.put_media(json!({"id": 1, "idMal": 2, "title": {"romaji": "X"}, "status": "RELEASING"}));
//! mock.put_airing(json!({"airingAt": FIXTURE_NOW + 3600, "episode": 9, "mediaId": 1}));
//! mock.fail_next(1, Failure::Unavailable);
//! // … point the AniList source at mock.url() and run the code under test …
//! mock.assert_clean();                               // no invalid query, no 429, nothing unsupported
//! assert_eq!(mock.requests().len(), 2);
//! mock.stop().await;
//! ```
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apollo_compiler::executable::{self, Operation, OperationType, Selection, SelectionSet};
use apollo_compiler::resolvers::{Execution, FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::serde_json_bytes::ByteString;
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::schema::{ExtendedType, Type};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request as HttpRequest, Response, StatusCode, header};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// Where AniList's schema lives (outside the crate, shared by the team).
pub const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/specs/anilist-schema.graphqls"
);

/// The hand-written fixtures loaded at start (unless [`AniListConfig::load_fixtures`] is off).
pub const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/anilist");

/// The instant (Unix seconds, 2026-01-23 12:00 UTC) the airing fixtures are written around:
/// call `mock.set_now(FIXTURE_NOW)` to see them as "current".
pub const FIXTURE_NOW: i64 = 1_769_169_600;

/// AniList's degraded-mode limit: 30 requests a minute.
pub const DEFAULT_BUDGET: u32 = 30;

/// AniList's largest page.
pub const MAX_PER_PAGE: i64 = 50;

/// AniList's header with the budget per minute (`X-RateLimit-Limit`).
pub const HEADER_LIMIT: &str = "x-ratelimit-limit";
/// Requests left in the window.
pub const HEADER_REMAINING: &str = "x-ratelimit-remaining";
/// Unix time at which a locked-out client may ask again (429 only).
pub const HEADER_RESET: &str = "x-ratelimit-reset";

const MAX_BODY: usize = 1024 * 1024;

/// How the mock limits and what it loads. `AniListConfig::default()` is AniList today.
#[derive(Clone, Debug)]
pub struct AniListConfig {
    /// Requests allowed in any rolling `window` (default [`DEFAULT_BUDGET`]).
    pub budget: u32,
    /// The rolling window (default one minute).
    pub window: Duration,
    /// How long a client that went over budget gets 429s (AniList: one minute).
    pub lockout: Duration,
    /// What `X-RateLimit-Limit` claims, if not the budget. AniList in degraded mode claims 90
    /// while allowing 30, so a client trusting the header sees 429s at `Remaining: 60`.
    pub advertised_limit: Option<u32>,
    /// Load every `*.json` of [`FIXTURES_DIR`] at start (default true).
    pub load_fixtures: bool,
}

impl Default for AniListConfig {
    fn default() -> Self {
        AniListConfig {
            budget: DEFAULT_BUDGET,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(60),
            advertised_limit: None,
            load_fixtures: true,
        }
    }
}

impl AniListConfig {
    /// `budget` requests per rolling `window`.
    pub fn budget(mut self, budget: u32, window: Duration) -> Self {
        self.budget = budget;
        self.window = window;
        self
    }

    /// Lock-out after going over budget.
    pub fn lockout(mut self, lockout: Duration) -> Self {
        self.lockout = lockout;
        self
    }

    /// Claim `limit` in `X-RateLimit-Limit` (AniList's degraded mode: 90).
    pub fn advertise(mut self, limit: u32) -> Self {
        self.advertised_limit = Some(limit);
        self
    }

    /// Start with no fixtures at all.
    pub fn without_fixtures(mut self) -> Self {
        self.load_fixtures = false;
        self
    }
}

/// A failure to inject with [`AniListMock::fail_next`] or [`AniListMock::fail_always`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 500 with AniList's JSON error body.
    InternalError,
    /// HTTP 502 with an HTML body (the proxy in front of the API).
    BadGateway,
    /// HTTP 503 with an HTML body.
    Unavailable,
    /// Reads the request and never answers: the client's timeout has to fire.
    Hang,
    /// Closes the connection without any HTTP answer.
    DropConnection,
    /// HTTP 200, `Content-Type: application/json`, a body cut off mid-object.
    MalformedJson,
    /// HTTP 200 answering the query as if every nullable field of every record (and below) were
    /// null: ids and other non-null fields stay, `Page` and `pageInfo` stay.
    NullOptional,
    /// HTTP 403 with AniList's "API disabled" GraphQL error (status 403).
    ApiDisabled,
}

/// One request received by the mock (also the ones answered 4xx or 429).
#[derive(Clone, Debug)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path (AniList's is `/`).
    pub path: String,
    /// The raw GraphQL document (empty when the body had none).
    pub query: String,
    /// `variables` as sent (`null` when absent).
    pub variables: Value,
    /// `operationName`, if sent.
    pub operation_name: Option<String>,
    /// Root fields of the operation, e.g. `["Page"]`.
    pub root_fields: Vec<String>,
    /// Fields selected directly inside `Page`, e.g. `["pageInfo", "media"]`.
    pub page_fields: Vec<String>,
    /// AniList ids asked for by `Media`/`media` (`id`, `id_in`), variables resolved.
    pub ids: Vec<i64>,
    /// MyAnimeList ids asked for by `Media`/`media` (`idMal`, `idMal_in`).
    pub mal_ids: Vec<i64>,
    /// Media ids asked for by `AiringSchedule`/`airingSchedules` (`mediaId`, `mediaId_in`).
    pub airing_media_ids: Vec<i64>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The HTTP status answered (0: no answer, a hang or a dropped connection).
    pub status: u16,
    /// The failure served instead of the real answer, if any.
    pub failure: Option<Failure>,
}

/// A query the real API would have rejected.
#[derive(Clone, Debug)]
pub struct InvalidQuery {
    /// The raw body's `query` (or the raw body when it had none).
    pub query: String,
    /// `variables` as sent.
    pub variables: Value,
    /// The errors answered, in AniList's shape (`message`, `status`, `locations`).
    pub errors: Vec<Value>,
}

impl InvalidQuery {
    /// The error messages.
    pub fn messages(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

/// A request over budget (answered 429).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Index of the request in [`AniListMock::requests`].
    pub request: usize,
    /// The `Retry-After` answered, in seconds.
    pub retry_after: u64,
}

/// Handle to a running mock. Cheap to clone; the server stops on [`AniListMock::stop`] or when
/// the last handle is dropped.
#[derive(Clone)]
pub struct AniListMock {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct Shared {
    schema: Arc<Valid<Schema>>,
    config: AniListConfig,
    state: Mutex<State>,
}

#[derive(Default)]
struct Store {
    media: BTreeMap<i64, Value>,
    airing: Vec<Value>,
}

struct State {
    store: Store,
    /// The mock's clock for airing data (`None`: the system clock).
    now: Option<i64>,
    next_airing_id: i64,
    requests: Vec<Request>,
    invalid: Vec<InvalidQuery>,
    violations: Vec<Violation>,
    unsupported: Vec<String>,
    failures: VecDeque<(Failure, usize)>,
    always: Option<Failure>,
    stamps: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

static SPEC: OnceLock<Result<Arc<Valid<Schema>>, String>> = OnceLock::new();

/// AniList's schema, parsed and validated once per test binary. Err says why (missing file,
/// parse errors) so a test can print "skipping: …".
///
/// The SDL is AniList's introspection output: it re-defines the built-in scalars, the
/// introspection types and `@include`/`@skip`/`@deprecated`, which the GraphQL spec forbids in
/// SDL, so it is read with `ignore_builtin_redefinitions()`.
pub fn spec() -> Result<Arc<Valid<Schema>>, String> {
    SPEC.get_or_init(|| {
        let sdl = std::fs::read_to_string(SPEC_PATH)
            .map_err(|e| format!("cannot read AniList's schema at {SPEC_PATH}: {e}"))?;
        let schema = Schema::builder()
            .ignore_builtin_redefinitions()
            .parse(sdl, "anilist-schema.graphqls")
            .build()
            .map_err(|e| format!("{SPEC_PATH} does not parse: {}", e.errors))?;
        let valid = schema
            .validate()
            .map_err(|e| format!("{SPEC_PATH} is not a valid schema: {}", e.errors))?;
        Ok(Arc::new(valid))
    })
    .clone()
}

impl AniListMock {
    /// Whether AniList's schema is present and usable (tests skip when it is not).
    pub fn spec_available() -> bool {
        spec().is_ok()
    }

    /// Starts the mock with [`AniListConfig::default`] (fixtures loaded, 30 requests/min).
    ///
    /// Panics if the schema cannot be loaded; check [`AniListMock::spec_available`] first.
    pub async fn start() -> AniListMock {
        Self::start_with(AniListConfig::default()).await
    }

    /// Starts the mock with a chosen configuration.
    pub async fn start_with(config: AniListConfig) -> AniListMock {
        let schema = match spec() {
            Ok(schema) => schema,
            Err(e) => panic!("anilist mock: {e}"),
        };
        let load = config.load_fixtures;
        let shared = Arc::new(Shared {
            schema,
            config,
            state: Mutex::new(State {
                store: Store::default(),
                now: None,
                next_airing_id: 1,
                requests: Vec::new(),
                invalid: Vec::new(),
                violations: Vec::new(),
                unsupported: Vec::new(),
                failures: VecDeque::new(),
                always: None,
                stamps: VecDeque::new(),
                locked_until: None,
            }),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("anilist mock: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("anilist mock: local addr");
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(listener, shared.clone(), cancel.clone()));
        let mock = AniListMock {
            inner: Arc::new(Handle {
                shared,
                addr,
                cancel,
                task: Mutex::new(Some(task)),
            }),
        };
        if load {
            mock.load_fixtures_dir(FIXTURES_DIR);
        }
        mock
    }

    /// The endpoint, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.inner.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Stops the server and waits for it (hanging requests are released by closing them).
    pub async fn stop(&self) {
        self.inner.cancel.cancel();
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.shared.state)
    }

    fn schema(&self) -> &Valid<Schema> {
        &self.inner.shared.schema
    }

    // ----- fixtures -----

    /// Adds or replaces a Media record (keyed by `id`). The record is checked against the
    /// schema's `Media` type (every key a field, every value of the field's type) and the call
    /// panics with the offending path otherwise. `type` defaults to `ANIME`.
    pub fn put_media(&self, mut media: Value) {
        if let Err(e) = check_record(self.schema(), "Media", &media) {
            panic!("anilist mock: bad Media fixture: {e}");
        }
        let Some(id) = media.get("id").and_then(Value::as_i64) else {
            panic!("anilist mock: a Media fixture needs an integer `id`: {media}");
        };
        if let Some(obj) = media.as_object_mut() {
            obj.entry("type").or_insert_with(|| json!("ANIME"));
        }
        self.state().store.media.insert(id, media);
    }

    /// Changes a stored Media record in place (then re-checks it); false if there is none.
    pub fn update_media(&self, id: i64, change: impl FnOnce(&mut Value)) -> bool {
        let Some(mut media) = self.media(id) else {
            return false;
        };
        change(&mut media);
        self.put_media(media);
        true
    }

    /// A stored Media record.
    pub fn media(&self, id: i64) -> Option<Value> {
        self.state().store.media.get(&id).cloned()
    }

    /// Ids of every stored Media record, ascending.
    pub fn media_ids(&self) -> Vec<i64> {
        self.state().store.media.keys().copied().collect()
    }

    /// Removes a Media record (its airing records stay).
    pub fn remove_media(&self, id: i64) -> Option<Value> {
        self.state().store.media.remove(&id)
    }

    /// Removes every Media and airing record.
    pub fn clear(&self) {
        let mut st = self.state();
        st.store.media.clear();
        st.store.airing.clear();
    }

    /// Adds an AiringSchedule record (`airingAt`, `episode`, `mediaId`; `id` is assigned when
    /// absent, a record with the same `id` is replaced). Checked like [`AniListMock::put_media`].
    pub fn put_airing(&self, airing: Value) {
        let mut st = self.state();
        put_airing_locked(self.schema(), &mut st, airing);
    }

    /// Replaces every airing record.
    pub fn set_airing(&self, airing: Vec<Value>) {
        let mut st = self.state();
        st.store.airing.clear();
        for a in airing {
            put_airing_locked(self.schema(), &mut st, a);
        }
    }

    /// The stored airing records.
    pub fn airing(&self) -> Vec<Value> {
        self.state().store.airing.clone()
    }

    /// Loads one fixture file: `{"media": [Media…], "airingSchedules": [AiringSchedule…]}`
    /// (keys starting with `_` are comments). Panics on unreadable or ill-typed files.
    pub fn load_fixture_file(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("anilist mock: cannot read {}: {e}", path.display()));
        let root: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("anilist mock: {} is not JSON: {e}", path.display()));
        let Some(obj) = root.as_object() else {
            panic!("anilist mock: {} is not a JSON object", path.display());
        };
        for (key, value) in obj {
            let items = || -> Vec<Value> {
                match value.as_array() {
                    Some(a) => a.clone(),
                    None => panic!("anilist mock: {}: `{key}` is not a list", path.display()),
                }
            };
            match key.as_str() {
                "media" => items().into_iter().for_each(|m| self.put_media(m)),
                "airingSchedules" => items().into_iter().for_each(|a| self.put_airing(a)),
                k if k.starts_with('_') => {}
                other => panic!(
                    "anilist mock: {}: unknown key `{other}` (media, airingSchedules)",
                    path.display()
                ),
            }
        }
    }

    /// Loads every `*.json` in `dir`, in file-name order.
    pub fn load_fixtures_dir(&self, dir: impl AsRef<Path>) {
        let dir = dir.as_ref();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("anilist mock: cannot list {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            self.load_fixture_file(f);
        }
    }

    /// Sets the mock's clock (Unix seconds) for `timeUntilAiring`, `notYetAired` and
    /// `nextAiringEpisode`. See [`FIXTURE_NOW`].
    pub fn set_now(&self, unix: i64) {
        self.state().now = Some(unix);
    }

    /// Goes back to the system clock.
    pub fn use_system_clock(&self) {
        self.state().now = None;
    }

    /// The mock's current time (Unix seconds).
    pub fn now(&self) -> i64 {
        self.state().now.unwrap_or_else(unix_now)
    }

    // ----- failures and budget -----

    /// Serves `failure` to the next `n` valid, within-budget requests (after any queued before).
    pub fn fail_next(&self, n: usize, failure: Failure) {
        if n > 0 {
            self.state().failures.push_back((failure, n));
        }
    }

    /// Serves `failure` to every valid, within-budget request until [`AniListMock::clear_failures`].
    pub fn fail_always(&self, failure: Failure) {
        self.state().always = Some(failure);
    }

    /// Cancels queued and permanent failures.
    pub fn clear_failures(&self) {
        let mut st = self.state();
        st.failures.clear();
        st.always = None;
    }

    /// Forgets the requests counted in the window and any lock-out (as if a long pause passed).
    pub fn reset_budget(&self) {
        let mut st = self.state();
        st.stamps.clear();
        st.locked_until = None;
    }

    // ----- what happened -----

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Queries the real API would have rejected.
    pub fn invalid_queries(&self) -> Vec<InvalidQuery> {
        self.state().invalid.clone()
    }

    /// Requests answered 429 (over budget or during the lock-out).
    pub fn violations(&self) -> Vec<Violation> {
        self.state().violations.clone()
    }

    /// Valid requests the mock could not answer faithfully (see the module docs).
    pub fn unsupported(&self) -> Vec<String> {
        self.state().unsupported.clone()
    }

    /// Panics listing every invalid query, budget violation and unsupported request.
    pub fn assert_clean(&self) {
        let st = self.state();
        let mut problems = Vec::new();
        for q in &st.invalid {
            problems.push(format!(
                "invalid query {:?}: {}",
                q.query,
                q.messages().join("; ")
            ));
        }
        for v in &st.violations {
            problems.push(format!(
                "over budget: request #{} (Retry-After {})",
                v.request, v.retry_after
            ));
        }
        for u in &st.unsupported {
            problems.push(format!("unsupported: {u}"));
        }
        assert!(
            problems.is_empty(),
            "anilist mock saw problems:\n{}",
            problems.join("\n")
        );
    }
}

fn put_airing_locked(schema: &Valid<Schema>, st: &mut State, mut airing: Value) {
    if let Err(e) = check_record(schema, "AiringSchedule", &airing) {
        panic!("anilist mock: bad AiringSchedule fixture: {e}");
    }
    for key in ["airingAt", "episode", "mediaId"] {
        if airing.get(key).and_then(Value::as_i64).is_none() {
            panic!("anilist mock: an AiringSchedule fixture needs an integer `{key}`: {airing}");
        }
    }
    let id = match airing.get("id").and_then(Value::as_i64) {
        Some(id) => id,
        None => {
            let id = st.next_airing_id;
            if let Some(obj) = airing.as_object_mut() {
                obj.insert("id".into(), json!(id));
            }
            id
        }
    };
    st.next_airing_id = st.next_airing_id.max(id + 1);
    st.store
        .airing
        .retain(|a| a.get("id").and_then(Value::as_i64) != Some(id));
    st.store.airing.push(airing);
}

// ===================================================================================
// Fixture checks
// ===================================================================================

fn check_record(schema: &Schema, type_name: &str, value: &Value) -> Result<(), String> {
    check_named(schema, type_name, value, type_name)
}

fn check_value(schema: &Schema, ty: &Type, value: &Value, path: &str) -> Result<(), String> {
    if value.is_null() {
        return if ty.is_non_null() {
            Err(format!("{path}: null for the non-null type {ty}"))
        } else {
            Ok(())
        };
    }
    match ty {
        Type::List(inner) | Type::NonNullList(inner) => {
            let Value::Array(items) = value else {
                return Err(format!("{path}: expected a list ({ty}), found {value}"));
            };
            for (i, item) in items.iter().enumerate() {
                check_value(schema, inner, item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Type::Named(name) | Type::NonNullNamed(name) => check_named(schema, name, value, path),
    }
}

fn check_named(schema: &Schema, name: &str, value: &Value, path: &str) -> Result<(), String> {
    let bad = |what: &str| Err(format!("{path}: expected {what} ({name}), found {value}"));
    match schema.types.get(name) {
        None => Err(format!("{path}: the schema has no type {name}")),
        Some(ExtendedType::Scalar(_)) => match name {
            "Int" => match value.as_i64() {
                Some(n) if i32::try_from(n).is_ok() => Ok(()),
                _ => bad("a 32-bit integer"),
            },
            "Float" if !value.is_number() => bad("a number"),
            "String" if !value.is_string() => bad("a string"),
            "Boolean" if !value.is_boolean() => bad("a boolean"),
            "ID" if !(value.is_string() || value.is_i64()) => bad("a string or an integer"),
            _ => Ok(()),
        },
        Some(ExtendedType::Enum(e)) => match value.as_str() {
            Some(s) if e.values.contains_key(s) => Ok(()),
            _ => bad("a value of the enum"),
        },
        Some(ExtendedType::Object(o)) => {
            let Value::Object(map) = value else {
                return bad("an object");
            };
            for (key, v) in map {
                if key == "__typename" {
                    if v.as_str() != Some(name) {
                        return Err(format!("{path}.__typename: expected \"{name}\", found {v}"));
                    }
                    continue;
                }
                let Some(field) = o.fields.get(key.as_str()) else {
                    return Err(format!("{path}: the type {name} has no field `{key}`"));
                };
                check_value(schema, &field.ty, v, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        Some(ExtendedType::Interface(_)) | Some(ExtendedType::Union(_)) => {
            let Some(concrete) = value.get("__typename").and_then(Value::as_str) else {
                return Err(format!(
                    "{path}: a value of the abstract type {name} needs `__typename`"
                ));
            };
            if !is_possible_type(schema, name, concrete) {
                return Err(format!(
                    "{path}: {concrete} is not a possible type of {name}"
                ));
            }
            check_named(schema, concrete, value, path)
        }
        Some(ExtendedType::InputObject(_)) => Err(format!("{path}: {name} is an input type")),
    }
}

fn is_possible_type(schema: &Schema, abstract_name: &str, concrete: &str) -> bool {
    match schema.types.get(abstract_name) {
        Some(ExtendedType::Union(u)) => u.members.iter().any(|m| m.name == concrete),
        Some(ExtendedType::Interface(_)) => schema.get_object(concrete).is_some_and(|o| {
            o.implements_interfaces
                .iter()
                .any(|i| i.name == abstract_name)
        }),
        _ => false,
    }
}

// ===================================================================================
// HTTP serving (hyper directly, so a connection can be dropped without an answer)
// ===================================================================================

#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let shared = shared.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let conn_cancel = cancel.clone();
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let cancel = cancel.clone();
                async move { handle(shared, cancel, req).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = conn_cancel.cancelled() => {}
            }
        });
    }
}

enum Outcome {
    Answer(Response<Body>),
    Hang,
    Drop,
}

fn respond(status: u16, content_type: &str, body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    respond(status, "application/json", body.to_string())
}

/// `{"data":null,"errors":[…]}` with `status` added to every error.
fn error_body(status: u16, mut errors: Vec<Value>) -> Value {
    for e in &mut errors {
        if let Some(o) = e.as_object_mut() {
            o.insert("status".into(), json!(status));
        }
    }
    json!({ "data": null, "errors": errors })
}

fn simple_error(status: u16, message: &str) -> Value {
    error_body(status, vec![json!({ "message": message })])
}

async fn handle(
    shared: Arc<Shared>,
    cancel: CancellationToken,
    req: HttpRequest<hyper::body::Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(Body::new(body), MAX_BODY).await;
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Best effort, so requests refused before parsing (429) are still identifiable in the log.
    let peek: Value = body
        .as_ref()
        .ok()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null);
    let index = {
        let mut st = lock(&shared.state);
        st.requests.push(Request {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: peek
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            variables: peek.get("variables").cloned().unwrap_or(Value::Null),
            operation_name: peek
                .get("operationName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            root_fields: Vec::new(),
            page_fields: Vec::new(),
            ids: Vec::new(),
            mal_ids: Vec::new(),
            airing_media_ids: Vec::new(),
            user_agent,
            status: 0,
            failure: None,
        });
        st.requests.len() - 1
    };
    let (outcome, remaining) = match shared.take_budget(index) {
        Err(secs) => (Outcome::Answer(shared.too_many_requests(secs)), None),
        Ok(remaining) => {
            let outcome = match body {
                Ok(bytes) => shared.answer(
                    index,
                    &parts.method,
                    parts.uri.path(),
                    &parts.headers,
                    &bytes,
                ),
                Err(_) => {
                    let body = simple_error(400, "mock: the request body could not be read");
                    shared.record_invalid(String::new(), Value::Null, &body);
                    Outcome::Answer(json_response(400, &body))
                }
            };
            (outcome, Some(remaining))
        }
    };
    match outcome {
        Outcome::Answer(mut response) => {
            if let Some(remaining) = remaining {
                let limit = shared
                    .config
                    .advertised_limit
                    .unwrap_or(shared.config.budget);
                let headers = response.headers_mut();
                headers.insert(HEADER_LIMIT, HeaderValue::from(limit));
                headers.insert(HEADER_REMAINING, HeaderValue::from(remaining));
            }
            let status = response.status().as_u16();
            if let Some(r) = lock(&shared.state).requests.get_mut(index) {
                r.status = status;
            }
            Ok(response)
        }
        Outcome::Hang => {
            cancel.cancelled().await;
            Err(DropConnection)
        }
        Outcome::Drop => Err(DropConnection),
    }
}

impl Shared {
    /// Counts the request against the budget: Ok(X-RateLimit-Remaining) or Err(Retry-After).
    fn take_budget(&self, index: usize) -> Result<u32, u64> {
        let cfg = &self.config;
        let now = Instant::now();
        let mut st = lock(&self.state);
        while st
            .stamps
            .front()
            .is_some_and(|t| now.duration_since(*t) >= cfg.window)
        {
            st.stamps.pop_front();
        }
        let locked = match st.locked_until {
            Some(until) if until > now => Some(until - now),
            _ => None,
        };
        let wait = match locked {
            Some(wait) => Some(wait),
            None if st.stamps.len() as u32 >= cfg.budget => {
                st.locked_until = Some(now + cfg.lockout);
                Some(cfg.lockout)
            }
            None => None,
        };
        if let Some(wait) = wait {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            st.violations.push(Violation {
                request: index,
                retry_after: secs,
            });
            if let Some(r) = st.requests.get_mut(index) {
                r.status = 429;
            }
            return Err(secs);
        }
        st.stamps.push_back(now);
        let used = st.stamps.len() as u32;
        let limit = cfg.advertised_limit.unwrap_or(cfg.budget);
        Ok(limit.saturating_sub(used))
    }

    /// AniList's 429: `Retry-After`, `X-RateLimit-Reset` and the GraphQL error.
    fn too_many_requests(&self, secs: u64) -> Response<Body> {
        let limit = self.config.advertised_limit.unwrap_or(self.config.budget);
        let mut response = json_response(429, &simple_error(429, "Too Many Requests."));
        let h = response.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        h.insert(HEADER_LIMIT, HeaderValue::from(limit));
        h.insert(HEADER_REMAINING, HeaderValue::from(0u32));
        h.insert(HEADER_RESET, HeaderValue::from(unix_now() + secs as i64));
        response
    }

    fn record_invalid(&self, query: String, variables: Value, body: &Value) {
        let errors = body
            .get("errors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        lock(&self.state).invalid.push(InvalidQuery {
            query,
            variables,
            errors,
        });
    }

    fn invalid(&self, query: &str, variables: &Value, status: u16, errors: Vec<Value>) -> Outcome {
        let body = error_body(status, errors);
        self.record_invalid(query.to_owned(), variables.clone(), &body);
        Outcome::Answer(json_response(status, &body))
    }

    fn next_failure(&self) -> Option<Failure> {
        let mut st = lock(&self.state);
        if let Some((failure, left)) = st.failures.front_mut() {
            let failure = failure.clone();
            *left -= 1;
            if *left == 0 {
                st.failures.pop_front();
            }
            return Some(failure);
        }
        st.always.clone()
    }

    fn answer(
        &self,
        index: usize,
        method: &axum::http::Method,
        path: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Outcome {
        let raw_text = String::from_utf8_lossy(body).into_owned();
        if path != "/" {
            return self.invalid(
                &raw_text,
                &Value::Null,
                404,
                vec![json!({ "message": format!("mock: AniList serves GraphQL at `/`, not `{path}`") })],
            );
        }
        if method != axum::http::Method::POST {
            return self.invalid(
                &raw_text,
                &Value::Null,
                405,
                vec![json!({ "message": format!("mock: send queries with POST, not {method}") })],
            );
        }
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
        if !json_type {
            return self.invalid(
                &raw_text,
                &Value::Null,
                400,
                vec![json!({ "message": "mock: the body must be sent as Content-Type: application/json" })],
            );
        }
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return self.invalid(
                    &raw_text,
                    &Value::Null,
                    400,
                    vec![json!({ "message": format!("Invalid JSON body: {e}") })],
                );
            }
        };
        let Some(query) = parsed.get("query").and_then(Value::as_str) else {
            return self.invalid(
                &raw_text,
                &Value::Null,
                400,
                vec![json!({ "message": "Must provide query string." })],
            );
        };
        let query = query.to_owned();
        let variables = parsed.get("variables").cloned().unwrap_or(Value::Null);
        let var_map = match &variables {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => {
                return self.invalid(
                    &query,
                    &variables,
                    400,
                    vec![json!({ "message": "Variables must be an object." })],
                );
            }
        };
        let operation_name = match parsed.get("operationName") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return self.invalid(
                    &query,
                    &variables,
                    400,
                    vec![json!({ "message": "operationName must be a string." })],
                );
            }
        };
        {
            let mut st = lock(&self.state);
            if let Some(r) = st.requests.get_mut(index) {
                r.query = query.clone();
                r.variables = variables.clone();
                r.operation_name = operation_name.clone();
            }
        }
        let schema = &*self.schema;
        let doc = match ExecutableDocument::parse_and_validate(schema, &query, "query.graphql") {
            Ok(doc) => doc,
            Err(with_errors) => {
                let errors = with_errors
                    .errors
                    .iter()
                    .map(|d| graphql_error_json(&d.to_json()))
                    .collect();
                return self.invalid(&query, &variables, 400, errors);
            }
        };
        let op = match doc.operations.get(operation_name.as_deref()) {
            Ok(op) => op,
            Err(e) => {
                let err = e.to_graphql_error(&doc.sources);
                return self.invalid(&query, &variables, 400, vec![graphql_error_json(&err)]);
            }
        };
        if op.operation_type != OperationType::Query {
            return self.invalid(
                &query,
                &variables,
                400,
                vec![json!({ "message": "mock: only queries are served (mutations need a user token)" })],
            );
        }
        let raw_vars = to_apollo_map(&var_map);
        let coerced = match apollo_compiler::request::coerce_variable_values(schema, op, &raw_vars)
        {
            Ok(c) => c,
            Err(e) => {
                let err = e.to_graphql_error(&doc.sources);
                return self.invalid(&query, &variables, 400, vec![graphql_error_json(&err)]);
            }
        };
        let summary = summarize(&doc, op, &var_map);
        {
            let mut st = lock(&self.state);
            if let Some(r) = st.requests.get_mut(index) {
                r.root_fields = summary.root_fields;
                r.page_fields = summary.page_fields;
                r.ids = summary.ids;
                r.mal_ids = summary.mal_ids;
                r.airing_media_ids = summary.airing_media_ids;
            }
        }
        let failure = self.next_failure();
        if let Some(f) = &failure
            && let Some(r) = lock(&self.state).requests.get_mut(index)
        {
            r.failure = Some(f.clone());
        }
        let nullify = match failure {
            None => false,
            Some(Failure::NullOptional) => true,
            Some(Failure::Hang) => return Outcome::Hang,
            Some(Failure::DropConnection) => return Outcome::Drop,
            Some(Failure::InternalError) => {
                return Outcome::Answer(json_response(
                    500,
                    &simple_error(500, "Internal Server Error"),
                ));
            }
            Some(Failure::BadGateway) => {
                return Outcome::Answer(respond(
                    502,
                    "text/html",
                    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
                ));
            }
            Some(Failure::Unavailable) => {
                return Outcome::Answer(respond(
                    503,
                    "text/html",
                    "<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                ));
            }
            Some(Failure::MalformedJson) => {
                return Outcome::Answer(respond(
                    200,
                    "application/json",
                    "{\"data\":{\"Page\":{\"pageInfo\":{\"total\":1,\"perPage\":",
                ));
            }
            Some(Failure::ApiDisabled) => {
                return Outcome::Answer(json_response(
                    403,
                    &simple_error(403, "The AniList API has been disabled."),
                ));
            }
        };
        self.execute(&doc, op, &coerced, &var_map, nullify)
    }

    fn execute(
        &self,
        doc: &Valid<ExecutableDocument>,
        op: &Operation,
        coerced: &Valid<JsonMap>,
        vars: &Map<String, Value>,
        nullify: bool,
    ) -> Outcome {
        let (store, now) = {
            let st = lock(&self.state);
            // A snapshot, so execution never holds the lock.
            let store = Store {
                media: st.store.media.clone(),
                airing: st.store.airing.clone(),
            };
            (store, st.now.unwrap_or_else(unix_now))
        };
        let ctx = Ctx {
            schema: &self.schema,
            doc,
            op,
            vars,
            store: &store,
            now,
            nullify,
            not_found: Cell::new(false),
            unsupported: RefCell::new(Vec::new()),
        };
        let root = RootObj { ctx: &ctx };
        let result = Execution::new(&self.schema, doc)
            .operation(op)
            .coerced_variable_values(coerced)
            .execute_sync(&root);
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                let err = e.to_graphql_error(&doc.sources);
                let message = format!("mock: execution failed: {}", err.message);
                lock(&self.state).unsupported.push(message.clone());
                return Outcome::Answer(json_response(400, &simple_error(400, &message)));
            }
        };
        let unsupported = ctx.unsupported.take();
        let mut status = 200;
        let mut errors = Vec::new();
        for e in &response.errors {
            let mut err = graphql_error_json(e);
            // apollo prefixes resolver errors; AniList's messages have no prefix.
            let message = e
                .message
                .strip_prefix("resolver error: ")
                .unwrap_or(&e.message)
                .to_owned();
            err["message"] = json!(message);
            let code = if message == NOT_FOUND { 404 } else { 400 };
            if code == 404 && status == 200 {
                status = 404;
            }
            if code == 400 {
                status = 400;
                if !unsupported.contains(&message) {
                    lock(&self.state)
                        .unsupported
                        .push(format!("mock: field error: {message}"));
                }
            }
            if let Some(o) = err.as_object_mut() {
                o.insert("status".into(), json!(code));
            }
            errors.push(from_apollo(&to_apollo(&err)));
        }
        if !unsupported.is_empty() {
            lock(&self.state).unsupported.extend(unsupported);
        }
        // Serialize the data map directly (it keeps the selection's order).
        let mut body = JsonMap::new();
        if !errors.is_empty() {
            body.insert(
                ByteString::from("errors"),
                JsonValue::Array(errors.iter().map(to_apollo).collect()),
            );
        }
        body.insert(
            ByteString::from("data"),
            response
                .data
                .map(JsonValue::Object)
                .unwrap_or(JsonValue::Null),
        );
        let text = serde_json::to_string(&JsonValue::Object(body))
            .unwrap_or_else(|_| "{\"data\":null}".to_owned());
        Outcome::Answer(respond(status, "application/json", text))
    }
}

const NOT_FOUND: &str = "Not Found.";

/// An apollo `GraphQLError` in AniList's shape (message and locations; `status` added later).
fn graphql_error_json(e: &apollo_compiler::response::GraphQLError) -> Value {
    let locations: Vec<Value> = e
        .locations
        .iter()
        .map(|l| json!({ "line": l.line, "column": l.column }))
        .collect();
    let mut obj = Map::new();
    obj.insert("message".into(), json!(e.message));
    if !locations.is_empty() {
        obj.insert("locations".into(), Value::Array(locations));
    }
    Value::Object(obj)
}

// ===================================================================================
// Request summary (for the log)
// ===================================================================================

struct Summary {
    root_fields: Vec<String>,
    page_fields: Vec<String>,
    ids: Vec<i64>,
    mal_ids: Vec<i64>,
    airing_media_ids: Vec<i64>,
}

fn summarize(doc: &ExecutableDocument, op: &Operation, vars: &Map<String, Value>) -> Summary {
    let mut s = Summary {
        root_fields: Vec::new(),
        page_fields: Vec::new(),
        ids: Vec::new(),
        mal_ids: Vec::new(),
        airing_media_ids: Vec::new(),
    };
    let roots = fields_of(doc, &op.selection_set);
    for root in &roots {
        s.root_fields.push(root.name.to_string());
        if root.name == "Page" {
            for f in fields_of(doc, &root.selection_set) {
                s.page_fields.push(f.name.to_string());
            }
        }
    }
    let mut stack: Vec<&executable::Field> = roots;
    while let Some(field) = stack.pop() {
        let ints = |name: &str| -> Vec<i64> {
            field
                .arguments
                .iter()
                .filter(|a| a.name == name)
                .flat_map(|a| match arg_json(&a.value, vars, op) {
                    Value::Array(items) => {
                        items.iter().filter_map(Value::as_i64).collect::<Vec<_>>()
                    }
                    v => v.as_i64().into_iter().collect::<Vec<_>>(),
                })
                .collect()
        };
        match field.name.as_str() {
            "Media" | "media" => {
                s.ids.extend(ints("id"));
                s.ids.extend(ints("id_in"));
                s.mal_ids.extend(ints("idMal"));
                s.mal_ids.extend(ints("idMal_in"));
            }
            "AiringSchedule" | "airingSchedules" => {
                s.airing_media_ids.extend(ints("mediaId"));
                s.airing_media_ids.extend(ints("mediaId_in"));
            }
            _ => {}
        }
        stack.extend(fields_of(doc, &field.selection_set));
    }
    s
}

/// The fields of a selection set, through inline fragments and fragment spreads.
fn fields_of<'d>(doc: &'d ExecutableDocument, set: &'d SelectionSet) -> Vec<&'d executable::Field> {
    fn walk<'d>(
        doc: &'d ExecutableDocument,
        set: &'d SelectionSet,
        out: &mut Vec<&'d executable::Field>,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        for sel in &set.selections {
            match sel {
                Selection::Field(f) => out.push(f),
                Selection::InlineFragment(i) => walk(doc, &i.selection_set, out, depth + 1),
                Selection::FragmentSpread(s) => {
                    if let Some(frag) = doc.fragments.get(&s.fragment_name) {
                        walk(doc, &frag.selection_set, out, depth + 1);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(doc, set, &mut out, 0);
    out
}

/// A literal or variable argument as JSON (variables resolved, defaults applied).
fn arg_json(value: &executable::Value, vars: &Map<String, Value>, op: &Operation) -> Value {
    use apollo_compiler::ast::Value as V;
    match value {
        V::Null => Value::Null,
        V::Enum(n) => Value::String(n.to_string()),
        V::Variable(n) => match vars.get(n.as_str()) {
            Some(v) => v.clone(),
            None => op
                .variables
                .iter()
                .find(|d| d.name == *n)
                .and_then(|d| d.default_value.as_ref())
                .map(|d| arg_json(d, vars, op))
                .unwrap_or(Value::Null),
        },
        V::String(s) => Value::String(s.clone()),
        V::Float(f) => f
            .try_to_f64()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        V::Int(i) => i
            .as_str()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::Null),
        V::Boolean(b) => Value::Bool(*b),
        V::List(items) => Value::Array(items.iter().map(|v| arg_json(v, vars, op)).collect()),
        V::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), arg_json(v, vars, op)))
                .collect(),
        ),
    }
}

// ===================================================================================
// JSON conversions between serde_json and apollo's serde_json_bytes
// ===================================================================================

fn to_apollo(v: &Value) -> JsonValue {
    match v {
        Value::Null => JsonValue::Null,
        Value::Bool(b) => JsonValue::Bool(*b),
        Value::Number(n) => JsonValue::Number(n.clone()),
        Value::String(s) => JsonValue::String(ByteString::from(s.as_str())),
        Value::Array(a) => JsonValue::Array(a.iter().map(to_apollo).collect()),
        Value::Object(o) => JsonValue::Object(to_apollo_map(o)),
    }
}

fn to_apollo_map(o: &Map<String, Value>) -> JsonMap {
    o.iter()
        .map(|(k, v)| (ByteString::from(k.as_str()), to_apollo(v)))
        .collect()
}

fn from_apollo(v: &JsonValue) -> Value {
    match v {
        JsonValue::Null => Value::Null,
        JsonValue::Bool(b) => Value::Bool(*b),
        JsonValue::Number(n) => Value::Number(n.clone()),
        JsonValue::String(s) => Value::String(s.as_str().to_owned()),
        JsonValue::Array(a) => Value::Array(a.iter().map(from_apollo).collect()),
        JsonValue::Object(o) => Value::Object(from_apollo_map(o)),
    }
}

fn from_apollo_map(o: &JsonMap) -> Map<String, Value> {
    o.iter()
        .map(|(k, v)| (k.as_str().to_owned(), from_apollo(v)))
        .collect()
}

// ===================================================================================
// Execution: resolvers over the fixture store
// ===================================================================================

struct Ctx<'a> {
    schema: &'a Valid<Schema>,
    doc: &'a Valid<ExecutableDocument>,
    op: &'a Operation,
    vars: &'a Map<String, Value>,
    store: &'a Store,
    now: i64,
    nullify: bool,
    not_found: Cell<bool>,
    unsupported: RefCell<Vec<String>>,
}

impl Ctx<'_> {
    fn unsupported(&self, what: String) -> FieldError {
        let message = format!("mock: {what}");
        self.unsupported.borrow_mut().push(message.clone());
        FieldError { message }
    }

    fn media_matching(&self, args: &Map<String, Value>) -> Result<Vec<Value>, FieldError> {
        let mut list: Vec<&Value> = self.store.media.values().collect();
        let mut search: Option<String> = None;
        let mut sort: Vec<String> = Vec::new();
        let min_rank = args
            .get("minimumTagRank")
            .and_then(Value::as_i64)
            .unwrap_or(18);
        for (key, arg) in args {
            if arg.is_null() {
                continue;
            }
            match key.as_str() {
                "search" => search = arg.as_str().map(str::to_lowercase),
                "sort" => sort = string_list(arg),
                "minimumTagRank" => {}
                other => {
                    let (base, op) = split_filter(other);
                    let multi = matches!(base, "genre" | "tag" | "tagCategory");
                    if media_values(
                        list.first().copied().unwrap_or(&Value::Null),
                        base,
                        min_rank,
                    )
                    .is_none()
                    {
                        return Err(self.unsupported(format!(
                            "the media filter `{other}` is not implemented"
                        )));
                    }
                    list.retain(|m| {
                        let vals = media_values(m, base, min_rank).unwrap_or_default();
                        filter_matches(op, &vals, arg, multi)
                    });
                }
            }
        }
        let mut scored: Vec<(i64, &Value)> = match &search {
            Some(needle) => list
                .into_iter()
                .filter_map(|m| {
                    let s = search_score(m, needle);
                    (s > 0).then_some((s, m))
                })
                .collect(),
            None => list.into_iter().map(|m| (0, m)).collect(),
        };
        if sort.is_empty() {
            sort.push(
                if search.is_some() {
                    "SEARCH_MATCH"
                } else {
                    "ID"
                }
                .to_owned(),
            );
        }
        for s in &sort {
            if media_sort_key(&Value::Null, 0, s).is_none() {
                return Err(self.unsupported(format!("the media sort `{s}` is not implemented")));
            }
        }
        scored.sort_by(|(sa, a), (sb, b)| {
            for s in &sort {
                let desc = s.ends_with("_DESC") || s == "SEARCH_MATCH";
                let ka = media_sort_key(a, *sa, s).unwrap_or(Value::Null);
                let kb = media_sort_key(b, *sb, s).unwrap_or(Value::Null);
                let ord = compare_keys(&ka, &kb, desc);
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
        Ok(scored.into_iter().map(|(_, m)| m.clone()).collect())
    }

    fn airing_matching(&self, args: &Map<String, Value>) -> Result<Vec<Value>, FieldError> {
        let mut list: Vec<&Value> = self.store.airing.iter().collect();
        let mut sort: Vec<String> = Vec::new();
        for (key, arg) in args {
            if arg.is_null() {
                continue;
            }
            match key.as_str() {
                "sort" => sort = string_list(arg),
                "notYetAired" => {
                    let future = arg.as_bool().unwrap_or(false);
                    let now = self.now;
                    list.retain(|a| {
                        let at = a.get("airingAt").and_then(Value::as_i64).unwrap_or(0);
                        (at > now) == future
                    });
                }
                other => {
                    let (base, op) = split_filter(other);
                    if !matches!(base, "id" | "mediaId" | "episode" | "airingAt") {
                        return Err(self.unsupported(format!(
                            "the airing filter `{other}` is not implemented"
                        )));
                    }
                    list.retain(|a| {
                        let v = a.get(base).cloned().unwrap_or(Value::Null);
                        filter_matches(op, &[v], arg, false)
                    });
                }
            }
        }
        if sort.is_empty() {
            sort.push("ID".to_owned());
        }
        let key_of = |s: &str| -> Option<&'static str> {
            Some(match s.trim_end_matches("_DESC") {
                "ID" => "id",
                "MEDIA_ID" => "mediaId",
                "TIME" => "airingAt",
                "EPISODE" => "episode",
                _ => return None,
            })
        };
        for s in &sort {
            if key_of(s).is_none() {
                return Err(self.unsupported(format!("the airing sort `{s}` is not implemented")));
            }
        }
        list.sort_by(|a, b| {
            for s in &sort {
                let key = key_of(s).unwrap_or("id");
                let ka = a.get(key).cloned().unwrap_or(Value::Null);
                let kb = b.get(key).cloned().unwrap_or(Value::Null);
                let ord = compare_keys(&ka, &kb, s.ends_with("_DESC"));
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
        Ok(list.into_iter().cloned().collect())
    }

    fn airing_of(&self, media_id: i64) -> Vec<&Value> {
        let mut list: Vec<&Value> = self
            .store
            .airing
            .iter()
            .filter(|a| a.get("mediaId").and_then(Value::as_i64) == Some(media_id))
            .collect();
        list.sort_by_key(|a| {
            (
                a.get("airingAt").and_then(Value::as_i64).unwrap_or(0),
                a.get("episode").and_then(Value::as_i64).unwrap_or(0),
            )
        });
        list
    }

    fn object<'c>(&'c self, type_name: &str, value: Value, nullify: bool) -> ResolvedValue<'c> {
        ResolvedValue::object(JsonObj {
            ctx: self,
            ty: type_name.to_owned(),
            value,
            nullify,
        })
    }
}

fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `idMal_not_in` → (`idMal`, `not_in`).
fn split_filter(name: &str) -> (&str, &str) {
    for op in ["_not_in", "_in", "_not", "_greater", "_lesser", "_like"] {
        if let Some(base) = name.strip_suffix(op) {
            return (base, &op[1..]);
        }
    }
    (name, "")
}

/// The values a Media filter compares with; None if the mock does not know the filter.
fn media_values(m: &Value, base: &str, min_rank: i64) -> Option<Vec<Value>> {
    let field = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let list_of = |k: &str, sub: &str, keep: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        m.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|x| keep(x))
                    .map(|x| x.get(sub).cloned().unwrap_or(Value::Null))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(match base {
        "id" | "idMal" | "season" | "seasonYear" | "type" | "format" | "status" | "episodes"
        | "duration" | "chapters" | "volumes" | "isAdult" | "averageScore" | "popularity"
        | "source" | "countryOfOrigin" | "isLicensed" => vec![field(base)],
        "startDate" | "endDate" => vec![fuzzy_date_int(m.get(base))],
        "genre" => m
            .get("genres")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        "tag" => list_of("tags", "name", &|t: &Value| {
            t.get("rank").and_then(Value::as_i64).unwrap_or(100) >= min_rank
        }),
        "tagCategory" => list_of("tags", "category", &|_: &Value| true),
        "licensedBy" => list_of("externalLinks", "site", &|l: &Value| {
            l.get("type").and_then(Value::as_str) == Some("STREAMING")
        }),
        "licensedById" => list_of("externalLinks", "siteId", &|l: &Value| {
            l.get("type").and_then(Value::as_str) == Some("STREAMING")
        }),
        _ => return None,
    })
}

/// `{year, month, day}` → YYYYMMDD (unknown parts 0), as AniList's FuzzyDateInt.
fn fuzzy_date_int(v: Option<&Value>) -> Value {
    let Some(v) = v.filter(|v| v.is_object()) else {
        return Value::Null;
    };
    let part = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    if part("year") == 0 {
        return Value::Null;
    }
    json!(part("year") * 10_000 + part("month") * 100 + part("day"))
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn filter_matches(op: &str, vals: &[Value], arg: &Value, multi: bool) -> bool {
    let present: Vec<&Value> = vals.iter().filter(|v| !v.is_null()).collect();
    let args: Vec<Value> = match arg {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    match op {
        "" => present.iter().any(|v| args.iter().any(|a| json_eq(v, a))),
        "not" => !present.iter().any(|v| args.iter().any(|a| json_eq(v, a))),
        "in" if multi => args.iter().all(|a| present.iter().any(|v| json_eq(v, a))),
        "in" => present.iter().any(|v| args.iter().any(|a| json_eq(v, a))),
        "not_in" => !present.iter().any(|v| args.iter().any(|a| json_eq(v, a))),
        "greater" | "lesser" => present.iter().any(|v| {
            args.first()
                .is_some_and(|a| match (v.as_f64(), a.as_f64()) {
                    (Some(x), Some(y)) if op == "greater" => x > y,
                    (Some(x), Some(y)) => x < y,
                    _ => false,
                })
        }),
        "like" => present.iter().any(|v| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            args.first()
                .and_then(Value::as_str)
                .is_some_and(|p| sql_like(&text, p))
        }),
        _ => false,
    }
}

/// SQL LIKE with `%` wildcards only.
fn sql_like(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn titles_of(m: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = m.get("title") {
        for k in ["romaji", "english", "native", "userPreferred"] {
            if let Some(s) = t.get(k).and_then(Value::as_str) {
                out.push(s.to_lowercase());
            }
        }
    }
    if let Some(syn) = m.get("synonyms").and_then(Value::as_array) {
        out.extend(syn.iter().filter_map(Value::as_str).map(str::to_lowercase));
    }
    out
}

/// 3 exact title, 2 prefix, 1 substring, 0 no match.
fn search_score(m: &Value, needle: &str) -> i64 {
    titles_of(m)
        .iter()
        .map(|t| {
            if t == needle {
                3
            } else if t.starts_with(needle) {
                2
            } else if t.contains(needle) {
                1
            } else {
                0
            }
        })
        .max()
        .unwrap_or(0)
}

/// The key a MediaSort value orders by; None for a sort the mock does not know.
fn media_sort_key(m: &Value, search: i64, sort: &str) -> Option<Value> {
    let get = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let title = |k: &str| {
        m.get("title")
            .and_then(|t| t.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    Some(match sort.trim_end_matches("_DESC") {
        "ID" => get("id"),
        "TITLE_ROMAJI" => title("romaji"),
        "TITLE_ENGLISH" => title("english"),
        "TITLE_NATIVE" => title("native"),
        "TYPE" => get("type"),
        "FORMAT" => get("format"),
        "START_DATE" => fuzzy_date_int(m.get("startDate")),
        "END_DATE" => fuzzy_date_int(m.get("endDate")),
        "SCORE" => get("averageScore"),
        "POPULARITY" => get("popularity"),
        "TRENDING" => get("trending"),
        "EPISODES" => get("episodes"),
        "DURATION" => get("duration"),
        "STATUS" => get("status"),
        "CHAPTERS" => get("chapters"),
        "VOLUMES" => get("volumes"),
        "UPDATED_AT" => get("updatedAt"),
        "FAVOURITES" => get("favourites"),
        "SEARCH_MATCH" => json!(search),
        _ => return None,
    })
}

/// Orders two keys; nulls always last.
fn compare_keys(a: &Value, b: &Value, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Value::Null, Value::Null) => return Ordering::Equal,
        (Value::Null, _) => return Ordering::Greater,
        (_, Value::Null) => return Ordering::Less,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    };
    if desc { ord.reverse() } else { ord }
}

struct RootObj<'c> {
    ctx: &'c Ctx<'c>,
}

impl ObjectValue for RootObj<'_> {
    fn type_name(&self) -> &str {
        "Query"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let args = from_apollo_map(info.arguments());
        let ctx = self.ctx;
        match info.field_name() {
            "Page" => {
                let page = args.get("page").and_then(Value::as_i64).unwrap_or(1).max(1);
                let per_page = args
                    .get("perPage")
                    .and_then(Value::as_i64)
                    .unwrap_or(MAX_PER_PAGE)
                    .clamp(1, MAX_PER_PAGE);
                Ok(ResolvedValue::object(PageObj {
                    ctx,
                    page,
                    per_page,
                    selections: info.field_selections(),
                }))
            }
            "Media" => match ctx.media_matching(&args)?.into_iter().next() {
                Some(m) => Ok(ctx.object("Media", m, ctx.nullify)),
                None => {
                    ctx.not_found.set(true);
                    Err(FieldError {
                        message: NOT_FOUND.to_owned(),
                    })
                }
            },
            "AiringSchedule" => match ctx.airing_matching(&args)?.into_iter().next() {
                Some(a) => Ok(ctx.object("AiringSchedule", a, ctx.nullify)),
                None => {
                    ctx.not_found.set(true);
                    Err(FieldError {
                        message: NOT_FOUND.to_owned(),
                    })
                }
            },
            other => Err(ctx.unsupported(format!("the root field `{other}` is not implemented"))),
        }
    }
}

struct PageObj<'c> {
    ctx: &'c Ctx<'c>,
    page: i64,
    per_page: i64,
    selections: &'c [&'c executable::Field],
}

impl PageObj<'_> {
    fn slice(&self, all: Vec<Value>) -> Vec<Value> {
        let start = ((self.page - 1) * self.per_page) as usize;
        all.into_iter()
            .skip(start)
            .take(self.per_page as usize)
            .collect()
    }

    /// Total of the first list field of this Page (what AniList's pageInfo describes).
    fn total(&self) -> Result<i64, FieldError> {
        let ctx = self.ctx;
        for sel in self.selections {
            for f in fields_of(ctx.doc, &sel.selection_set) {
                let args: Map<String, Value> = f
                    .arguments
                    .iter()
                    .map(|a| (a.name.to_string(), arg_json(&a.value, ctx.vars, ctx.op)))
                    .collect();
                match f.name.as_str() {
                    "media" => return Ok(ctx.media_matching(&args)?.len() as i64),
                    "airingSchedules" => return Ok(ctx.airing_matching(&args)?.len() as i64),
                    _ => {}
                }
            }
        }
        Ok(0)
    }
}

impl ObjectValue for PageObj<'_> {
    fn type_name(&self) -> &str {
        "Page"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let ctx = self.ctx;
        let args = from_apollo_map(info.arguments());
        match info.field_name() {
            "pageInfo" => {
                let total = self.total()?;
                let last = ((total + self.per_page - 1) / self.per_page).max(1);
                let info = json!({
                    "total": total,
                    "perPage": self.per_page,
                    "currentPage": self.page,
                    "lastPage": last,
                    "hasNextPage": self.page < last,
                });
                Ok(ctx.object("PageInfo", info, false))
            }
            "media" => {
                let items = self.slice(ctx.media_matching(&args)?);
                Ok(ResolvedValue::list(
                    items
                        .into_iter()
                        .map(|m| ctx.object("Media", m, ctx.nullify)),
                ))
            }
            "airingSchedules" => {
                let items = self.slice(ctx.airing_matching(&args)?);
                Ok(ResolvedValue::list(
                    items
                        .into_iter()
                        .map(|a| ctx.object("AiringSchedule", a, ctx.nullify)),
                ))
            }
            other => Err(ctx.unsupported(format!("`Page.{other}` is not implemented"))),
        }
    }
}

/// A fixture object (or a part of one) of schema type `ty`.
struct JsonObj<'c> {
    ctx: &'c Ctx<'c>,
    ty: String,
    value: Value,
    /// Answer null for every nullable field (Failure::NullOptional).
    nullify: bool,
}

impl JsonObj<'_> {
    /// Values the mock computes instead of reading them from the fixture.
    fn derived(&self, field: &str, args: &Map<String, Value>) -> Option<Value> {
        let ctx = self.ctx;
        let v = &self.value;
        match (self.ty.as_str(), field) {
            ("AiringSchedule", "timeUntilAiring") => v
                .get("airingAt")
                .and_then(Value::as_i64)
                .map(|at| json!(at - ctx.now)),
            ("AiringSchedule", "media") if v.get("media").is_none() => {
                let id = v.get("mediaId").and_then(Value::as_i64)?;
                Some(ctx.store.media.get(&id).cloned().unwrap_or(Value::Null))
            }
            ("Media", "nextAiringEpisode") => {
                let id = v.get("id").and_then(Value::as_i64)?;
                let airing = ctx.airing_of(id);
                if airing.is_empty() {
                    return None;
                }
                Some(
                    airing
                        .into_iter()
                        .find(|a| a.get("airingAt").and_then(Value::as_i64).unwrap_or(0) > ctx.now)
                        .cloned()
                        .unwrap_or(Value::Null),
                )
            }
            ("Media", "airingSchedule") if v.get("airingSchedule").is_none() => {
                let id = v.get("id").and_then(Value::as_i64)?;
                let future = args.get("notYetAired").and_then(Value::as_bool);
                let nodes: Vec<Value> = ctx
                    .airing_of(id)
                    .into_iter()
                    .filter(|a| {
                        let at = a.get("airingAt").and_then(Value::as_i64).unwrap_or(0);
                        future.is_none_or(|f| (at > ctx.now) == f)
                    })
                    .cloned()
                    .collect();
                let edges: Vec<Value> = nodes
                    .iter()
                    .map(|n| json!({ "id": n.get("id"), "node": n }))
                    .collect();
                let total = nodes.len();
                Some(json!({
                    "nodes": nodes,
                    "edges": edges,
                    "pageInfo": {
                        "total": total, "perPage": total.max(1), "currentPage": 1,
                        "lastPage": 1, "hasNextPage": false
                    },
                }))
            }
            ("Media", "studios") => {
                let studios = v.get("studios")?;
                let main = args.get("isMain").and_then(Value::as_bool);
                let edges = studios.get("edges").and_then(Value::as_array)?;
                let edges: Vec<Value> = edges
                    .iter()
                    .filter(|e| {
                        main.is_none_or(|m| e.get("isMain").and_then(Value::as_bool) == Some(m))
                    })
                    .cloned()
                    .collect();
                let mut out = studios.as_object().cloned().unwrap_or_default();
                if main.is_some() || !out.contains_key("nodes") {
                    let nodes: Vec<Value> = edges
                        .iter()
                        .map(|e| e.get("node").cloned().unwrap_or(Value::Null))
                        .collect();
                    out.insert("nodes".into(), Value::Array(nodes));
                }
                out.insert("edges".into(), Value::Array(edges));
                Some(Value::Object(out))
            }
            (ty, "nodes") if ty.ends_with("Connection") && v.get("nodes").is_none() => {
                let edges = v.get("edges").and_then(Value::as_array)?;
                Some(Value::Array(
                    edges
                        .iter()
                        .map(|e| e.get("node").cloned().unwrap_or(Value::Null))
                        .collect(),
                ))
            }
            _ => None,
        }
    }
}

impl ObjectValue for JsonObj<'_> {
    fn type_name(&self) -> &str {
        &self.ty
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let name = info.field_name();
        let ty = &info.field_definition().ty;
        if self.nullify && !ty.is_non_null() {
            return Ok(ResolvedValue::null());
        }
        let args = from_apollo_map(info.arguments());
        let value = self
            .derived(name, &args)
            .unwrap_or_else(|| self.value.get(name).cloned().unwrap_or(Value::Null));
        if value.is_null() && ty.is_non_null() {
            if matches!(ty, Type::NonNullNamed(n) if n == "Boolean") {
                return Ok(ResolvedValue::leaf(false));
            }
            return Err(self.ctx.unsupported(format!(
                "the fixture has no value for the non-null field `{}.{name}`",
                self.ty
            )));
        }
        resolve_typed(self.ctx, ty, value, self.nullify)
    }
}

fn resolve_typed<'c>(
    ctx: &'c Ctx<'c>,
    ty: &Type,
    value: Value,
    nullify: bool,
) -> Result<ResolvedValue<'c>, FieldError> {
    if value.is_null() {
        return Ok(ResolvedValue::null());
    }
    match ty {
        Type::List(inner) | Type::NonNullList(inner) => {
            let Value::Array(items) = value else {
                return Err(ctx.unsupported(format!("a fixture value for {ty} is not a list")));
            };
            let inner: Type = (**inner).clone();
            Ok(ResolvedValue::List(Box::new(items.into_iter().map(
                move |item| resolve_typed(ctx, &inner, item, nullify),
            ))))
        }
        Type::Named(name) | Type::NonNullNamed(name) => match ctx.schema.types.get(name) {
            Some(ExtendedType::Object(_)) => Ok(ctx.object(name, value, nullify)),
            Some(ExtendedType::Interface(_)) | Some(ExtendedType::Union(_)) => {
                let Some(concrete) = value.get("__typename").and_then(Value::as_str) else {
                    return Err(ctx.unsupported(format!(
                        "a fixture value of the abstract type {name} has no __typename"
                    )));
                };
                let concrete = concrete.to_owned();
                Ok(ctx.object(&concrete, value, nullify))
            }
            _ => Ok(ResolvedValue::Leaf(to_apollo(&value))),
        },
    }
}
