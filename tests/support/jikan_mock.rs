//! An in-process mock of the Jikan v4 REST API (MyAnimeList data) for integration tests.
//!
//! Include it with
//! `#[path = "support/jikan_mock.rs"] mod jikan_mock;`
//! and point the Jikan source at [`JikanMock::url`] (`http://127.0.0.1:PORT/v4`).
//!
//! The mock serves `GET /v4/…` on 127.0.0.1 only and checks every request against Jikan's
//! OpenAPI document in `../shared/specs/jikan-openapi.json` (loaded at run time, never copied):
//! the path must match one of its path templates, and every path and query parameter must be
//! declared there, with a value of the declared type (`integer`, `number`, `boolean`, `string`)
//! and enum. On top of the document it enforces two rules Jikan has: `limit` is at most 25 and
//! `page` at least 1, and a season is one of winter, spring, summer, fall. A request the real API
//! would refuse (or an undeclared parameter, which Jikan would silently ignore) is answered in
//! Jikan's error shape `{"status":400,"type":"BadRequestException","message":…,"error":null}`
//! (404 for an unknown path, 405 for a method other than GET) and is recorded in
//! [`JikanMock::invalid_requests`].
//!
//! Answers come from fixtures (`tests/fixtures/jikan/*.json`, [`JikanMock::put_anime`]) kept in
//! the `anime_full` shape. Each fixture is checked against the document's `anime_full` schema
//! when it is stored, and every answer is checked against the response schema of its path before
//! it is sent (`$ref`s resolved; types, enums, `nullable`, `required`, `allOf`/`anyOf`/`oneOf`;
//! and, stricter than JSON Schema, a property the schema does not declare is an error, so a
//! typo in a fixture cannot pass). A fixture that does not fit panics where it is stored; an
//! answer that does not fit is recorded in [`JikanMock::response_errors`] and answered 500.
//!
//! Implemented: `/anime/{id}/full`, `/anime/{id}` (the `anime` subset of the fixture),
//! `/anime` (search: `q type status rating sfw min_score max_score genres genres_exclude letter
//! order_by sort unapproved page limit`), `/schedules` (`filter kids sfw unapproved page limit`;
//! airing entries by `broadcast.day`), `/seasons/now`, `/seasons/upcoming`,
//! `/seasons/{year}/{season}` (`filter sfw unapproved continuing page limit`). An unknown id is
//! Jikan's 404 (`BadResponseException`). Other paths and parameters of the document are valid
//! but not implemented: they are answered 501 and recorded in [`JikanMock::unsupported`].
//! "Now" for `/seasons/now` is the mock's clock ([`JikanMock::set_now`]).
//!
//! Cache validation as Jikan documents it: every 200 carries an `ETag` (a stable hash of the
//! body; Jikan uses MD5, treat it as opaque), `Last-Modified` and `Expires` (+24 h); a request
//! whose `If-None-Match` names the current ETag is answered 304 with no body.
//! [`JikanMock::change_anime`] changes a record and so its ETag.
//!
//! Budget: Jikan's published limits, 3 requests a second and 60 a minute (rolling windows,
//! configurable with [`JikanConfig`]). A request over any of them is answered 429 with
//! `Retry-After` and Jikan's `RateLimitException` body and recorded in
//! [`JikanMock::violations`].
//!
//! Failures ([`JikanMock::fail_next`], [`JikanMock::fail_always`]) are served to requests that
//! are within budget and valid.
//!
//! ```ignore
//! let mock = JikanMock::start().await;              // fixtures of tests/fixtures/jikan
//! let url = format!("{}/anime/54794/full", mock.url());
//! mock.change_anime(54794, |a| a["score"] = json!(6.3)); // a new ETag
//! mock.fail_next(1, Failure::Hang);
//! // … point the Jikan source at mock.url() and run the code under test …
//! mock.assert_clean();                               // no invalid request, no 429, no drift
//! mock.stop().await;
//! ```
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderValue, Request as HttpRequest, Response, StatusCode, header};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// Where Jikan's OpenAPI document lives (outside the crate, shared by the team).
pub const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/specs/jikan-openapi.json"
);

/// The hand-written fixtures loaded at start (unless [`JikanConfig::load_fixtures`] is off).
pub const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jikan");

/// The instant (Unix seconds, 2026-01-23 12:00 UTC) the airing fixtures are written around.
pub const FIXTURE_NOW: i64 = 1_769_169_600;

/// Jikan's largest (and default) page size.
pub const MAX_LIMIT: i64 = 25;

/// The prefix every path is served under.
pub const BASE_PATH: &str = "/v4";

/// A rolling-window request limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in any window of `per`.
    pub max: u32,
    /// The window.
    pub per: Duration,
}

/// How the mock limits and what it loads. `JikanConfig::default()` is Jikan's published limits.
#[derive(Clone, Debug)]
pub struct JikanConfig {
    /// Every limit a request must fit (default 3 per second and 60 per minute).
    pub limits: Vec<RateLimit>,
    /// Load every `*.json` of [`FIXTURES_DIR`] at start (default true).
    pub load_fixtures: bool,
}

impl Default for JikanConfig {
    fn default() -> Self {
        JikanConfig {
            limits: vec![
                RateLimit {
                    max: 3,
                    per: Duration::from_secs(1),
                },
                RateLimit {
                    max: 60,
                    per: Duration::from_secs(60),
                },
            ],
            load_fixtures: true,
        }
    }
}

impl JikanConfig {
    /// Replaces the limits.
    pub fn limits(mut self, limits: Vec<RateLimit>) -> Self {
        self.limits = limits;
        self
    }

    /// Adds a limit of `max` requests per `per`.
    pub fn limit(mut self, max: u32, per: Duration) -> Self {
        self.limits.push(RateLimit { max, per });
        self
    }

    /// No limit at all.
    pub fn unlimited(mut self) -> Self {
        self.limits.clear();
        self
    }

    /// Start with no fixtures at all.
    pub fn without_fixtures(mut self) -> Self {
        self.load_fixtures = false;
        self
    }
}

/// A failure to inject with [`JikanMock::fail_next`] or [`JikanMock::fail_always`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 500 with Jikan's `InternalException` body (with a `report_url`).
    InternalError,
    /// HTTP 502 with an HTML body (the proxy in front of the API).
    BadGateway,
    /// HTTP 503 with Jikan's `ServiceUnavailableException` body (maintenance).
    Unavailable,
    /// HTTP 429 `RateLimitException` because MyAnimeList limits Jikan: not the client's fault,
    /// no `Retry-After`, not a violation.
    UpstreamRateLimited,
    /// Reads the request and never answers: the client's timeout has to fire.
    Hang,
    /// Closes the connection without any HTTP answer.
    DropConnection,
    /// HTTP 200, `Content-Type: application/json`, a body cut off mid-object (no ETag).
    MalformedJson,
    /// HTTP 200 with every nullable property of the answer null (arrays and objects stay).
    NullOptional,
}

/// One request received by the mock (also the ones answered 4xx or 429).
#[derive(Clone, Debug)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path, with the `/v4` prefix, without the query.
    pub path: String,
    /// Query parameters in order (percent-decoded).
    pub query: Vec<(String, String)>,
    /// The matched path template without the prefix, e.g. `/anime/{id}/full`.
    pub template: Option<String>,
    /// Path parameters of the template, e.g. `id → 54794`.
    pub path_params: BTreeMap<String, String>,
    /// The `If-None-Match` header.
    pub if_none_match: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The HTTP status answered (0: no answer, a hang or a dropped connection).
    pub status: u16,
    /// The failure served instead of the real answer, if any.
    pub failure: Option<Failure>,
}

impl Request {
    /// A query parameter's value (the first, if repeated).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `{id}` path parameter as a MAL id.
    pub fn mal_id(&self) -> Option<i64> {
        self.path_params.get("id").and_then(|v| v.parse().ok())
    }
}

/// A request the real API would have refused (or whose parameters it would have ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query as received.
    pub target: String,
    /// The status answered.
    pub status: u16,
    /// What was wrong.
    pub message: String,
}

/// A request over budget (answered 429).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Index of the request in [`JikanMock::requests`].
    pub request: usize,
    /// The `Retry-After` answered, in seconds.
    pub retry_after: u64,
}

/// Handle to a running mock. Cheap to clone; the server stops on [`JikanMock::stop`] or when the
/// last handle is dropped.
#[derive(Clone)]
pub struct JikanMock {
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
    spec: Arc<Spec>,
    config: JikanConfig,
    started: i64,
    state: Mutex<State>,
}

struct Stored {
    anime: Value,
    /// Unix time the record was stored or last changed (`Last-Modified`).
    modified: i64,
}

struct State {
    anime: BTreeMap<i64, Stored>,
    now: Option<i64>,
    requests: Vec<Request>,
    invalid: Vec<InvalidRequest>,
    violations: Vec<Violation>,
    response_errors: Vec<String>,
    unsupported: Vec<String>,
    failures: VecDeque<(Failure, usize)>,
    always: Option<Failure>,
    stamps: VecDeque<Instant>,
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

// ===================================================================================
// The OpenAPI document
// ===================================================================================

/// What the mock reads from Jikan's OpenAPI document.
pub struct Spec {
    root: Value,
    routes: Vec<Route>,
}

struct Route {
    template: String,
    segments: Vec<Segment>,
    params: Vec<Param>,
    /// The schema of the 200 `application/json` answer.
    response: Option<Value>,
}

enum Segment {
    Literal(String),
    Variable(String),
}

struct Param {
    name: String,
    location: String,
    required: bool,
    schema: Value,
}

static SPEC: OnceLock<Result<Arc<Spec>, String>> = OnceLock::new();

/// Jikan's OpenAPI document, read once per test binary. Err says why (missing file, bad JSON)
/// so a test can print "skipping: …".
pub fn spec() -> Result<Arc<Spec>, String> {
    SPEC.get_or_init(|| load_spec().map(Arc::new)).clone()
}

fn load_spec() -> Result<Spec, String> {
    let text = std::fs::read_to_string(SPEC_PATH)
        .map_err(|e| format!("cannot read Jikan's OpenAPI document at {SPEC_PATH}: {e}"))?;
    let root: Value =
        serde_json::from_str(&text).map_err(|e| format!("{SPEC_PATH} is not JSON: {e}"))?;
    let paths = root
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{SPEC_PATH} has no `paths`"))?;
    let mut spec = Spec {
        root: root.clone(),
        routes: Vec::new(),
    };
    for (template, item) in paths {
        let Some(get) = item.get("get") else {
            continue;
        };
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Variable(name.to_owned()),
                    None => Segment::Literal(s.to_owned()),
                },
            )
            .collect();
        let mut params = Vec::new();
        for p in get
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let p = spec.resolve(p);
            let name = p.get("name").and_then(Value::as_str);
            let location = p.get("in").and_then(Value::as_str);
            let (Some(name), Some(location)) = (name, location) else {
                return Err(format!(
                    "{SPEC_PATH}: a parameter of {template} has no name/in"
                ));
            };
            params.push(Param {
                name: name.to_owned(),
                location: location.to_owned(),
                required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                schema: spec
                    .resolve(p.get("schema").unwrap_or(&Value::Null))
                    .clone(),
            });
        }
        let response = get
            .pointer("/responses/200/content/application~1json/schema")
            .cloned();
        spec.routes.push(Route {
            template: template.clone(),
            segments,
            params,
            response,
        });
    }
    if spec.routes.is_empty() {
        return Err(format!("{SPEC_PATH} declares no GET paths"));
    }
    if spec.schema("anime_full").is_none() || spec.schema("anime").is_none() {
        return Err(format!("{SPEC_PATH} has no anime/anime_full schemas"));
    }
    Ok(spec)
}

impl Spec {
    /// Follows `$ref`s (`#/components/...`) to the schema or parameter they name.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return v;
            };
            match r
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer))
            {
                Some(target) => v = target,
                None => return &Value::Null,
            }
        }
        v
    }

    /// A schema of `components/schemas`.
    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.root.pointer(&format!("/components/schemas/{name}"))
    }

    /// Checks `value` against the schema `components/schemas/<name>` (strictly: undeclared
    /// properties are errors). Err lists every mismatch with its JSON path.
    pub fn check(&self, name: &str, value: &Value) -> Result<(), String> {
        let schema = self
            .schema(name)
            .ok_or_else(|| format!("the document has no schema `{name}`"))?;
        self.check_schema(schema, value, name)
    }

    /// Checks `value` against a schema (see [`Spec::check`]).
    pub fn check_schema(&self, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
        let mut errors = Vec::new();
        self.validate(schema, value, path, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn validate(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let Some(obj) = schema.as_object() else {
            return; // `{}` or an unresolvable $ref: anything goes
        };
        if value.is_null() {
            if !self.nullable(schema) && (obj.contains_key("type") || obj.contains_key("allOf")) {
                errors.push(format!("{path}: null, but the schema is not nullable"));
            }
            return;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = obj.get(key).and_then(Value::as_array) {
                let fits = branches.iter().any(|b| {
                    let mut e = Vec::new();
                    self.validate(b, value, path, &mut e);
                    e.is_empty()
                });
                if !fits {
                    errors.push(format!("{path}: fits no branch of {key}"));
                }
                return;
            }
        }
        if let Some(enumeration) = obj.get("enum").and_then(Value::as_array)
            && !enumeration.contains(value)
        {
            errors.push(format!("{path}: {value} is not one of {enumeration:?}"));
        }
        let ty = obj.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            _ => true,
        };
        if !type_ok {
            errors.push(format!(
                "{path}: expected {}, found {value}",
                ty.unwrap_or("?")
            ));
            return;
        }
        if let (Some(items), Value::Array(values)) = (obj.get("items"), value) {
            for (i, v) in values.iter().enumerate() {
                self.validate(items, v, &format!("{path}[{i}]"), errors);
            }
        }
        if let Value::Object(map) = value {
            let mut props: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
            let mut required = Vec::new();
            let declared = self.collect_props(schema, &mut props, &mut required, 0);
            for r in required {
                if !map.contains_key(&r) {
                    errors.push(format!("{path}: the required property `{r}` is missing"));
                }
            }
            if declared {
                for (k, v) in map {
                    match props.get(k) {
                        Some(schemas) => {
                            for s in schemas {
                                self.validate(s, v, &format!("{path}.{k}"), errors);
                            }
                        }
                        None => errors.push(format!(
                            "{path}: the property `{k}` is not declared by the schema"
                        )),
                    }
                }
            }
        }
    }

    fn nullable(&self, schema: &Value) -> bool {
        let schema = self.resolve(schema);
        schema
            .get("nullable")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Properties (through `allOf` and `$ref`) and required names of an object schema; false if
    /// the schema declares no properties at all (then any property goes).
    fn collect_props<'a>(
        &'a self,
        schema: &'a Value,
        props: &mut BTreeMap<String, Vec<&'a Value>>,
        required: &mut Vec<String>,
        depth: usize,
    ) -> bool {
        let schema = self.resolve(schema);
        if depth > 16 {
            return false;
        }
        let mut declared = false;
        if let Some(p) = schema.get("properties").and_then(Value::as_object) {
            declared = true;
            for (k, s) in p {
                props.entry(k.clone()).or_default().push(s);
            }
        }
        if let Some(r) = schema.get("required").and_then(Value::as_array) {
            required.extend(r.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                declared |= self.collect_props(s, props, required, depth + 1);
            }
        }
        declared
    }

    /// Sets every nullable property of `value` (per `schema`) to null, recursively.
    fn nullify(&self, schema: &Value, value: &mut Value, depth: usize) {
        let schema = self.resolve(schema);
        if depth > 32 {
            return;
        }
        match value {
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for item in items {
                        self.nullify(item_schema, item, depth + 1);
                    }
                }
            }
            Value::Object(map) => {
                let mut props = BTreeMap::new();
                let mut required = Vec::new();
                self.collect_props(schema, &mut props, &mut required, 0);
                for (k, v) in map.iter_mut() {
                    let Some(schemas) = props.get(k.as_str()) else {
                        continue;
                    };
                    if schemas.iter().any(|s| self.nullable(s)) {
                        *v = Value::Null;
                    } else {
                        for s in schemas {
                            self.nullify(s, v, depth + 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The names of the properties of a schema (through `allOf`).
    fn property_names(&self, name: &str) -> Vec<String> {
        let mut props = BTreeMap::new();
        let mut required = Vec::new();
        if let Some(s) = self.schema(name) {
            self.collect_props(s, &mut props, &mut required, 0);
        }
        props.into_keys().collect()
    }
}

// ===================================================================================
// The mock's public API
// ===================================================================================

impl JikanMock {
    /// Whether Jikan's OpenAPI document is present and usable (tests skip when it is not).
    pub fn spec_available() -> bool {
        spec().is_ok()
    }

    /// Starts the mock with [`JikanConfig::default`] (fixtures loaded, 3/s and 60/min).
    ///
    /// Panics if the document cannot be loaded; check [`JikanMock::spec_available`] first.
    pub async fn start() -> JikanMock {
        Self::start_with(JikanConfig::default()).await
    }

    /// Starts the mock with a chosen configuration.
    pub async fn start_with(config: JikanConfig) -> JikanMock {
        let spec = match spec() {
            Ok(spec) => spec,
            Err(e) => panic!("jikan mock: {e}"),
        };
        let load = config.load_fixtures;
        let shared = Arc::new(Shared {
            spec,
            config,
            started: unix_now(),
            state: Mutex::new(State {
                anime: BTreeMap::new(),
                now: None,
                requests: Vec::new(),
                invalid: Vec::new(),
                violations: Vec::new(),
                response_errors: Vec::new(),
                unsupported: Vec::new(),
                failures: VecDeque::new(),
                always: None,
                stamps: VecDeque::new(),
            }),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("jikan mock: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("jikan mock: local addr");
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(listener, shared.clone(), cancel.clone()));
        let mock = JikanMock {
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

    /// The base URL, `http://127.0.0.1:PORT/v4` (no trailing slash: append `/anime/1/full`).
    pub fn url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.inner.addr)
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

    /// The OpenAPI document the mock checks against.
    pub fn spec(&self) -> &Spec {
        &self.inner.shared.spec
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.shared.state)
    }

    // ----- fixtures -----

    /// Adds or replaces an anime (keyed by `mal_id`), in the `anime_full` shape. Panics with
    /// every mismatch if the record does not fit the document's `anime_full` schema.
    pub fn put_anime(&self, anime: Value) {
        if let Err(e) = self.spec().check("anime_full", &anime) {
            panic!("jikan mock: bad anime fixture: {e}");
        }
        let Some(id) = anime.get("mal_id").and_then(Value::as_i64) else {
            panic!("jikan mock: an anime fixture needs an integer `mal_id`: {anime}");
        };
        self.state().anime.insert(
            id,
            Stored {
                anime,
                modified: unix_now(),
            },
        );
    }

    /// Changes a stored anime in place (then re-checks it), which changes its ETag; false if
    /// there is none.
    pub fn change_anime(&self, id: i64, change: impl FnOnce(&mut Value)) -> bool {
        let Some(mut anime) = self.anime(id) else {
            return false;
        };
        change(&mut anime);
        if anime.get("mal_id").and_then(Value::as_i64) != Some(id) {
            panic!("jikan mock: change_anime({id}) must keep `mal_id`");
        }
        self.put_anime(anime);
        true
    }

    /// A stored anime (`anime_full` shape).
    pub fn anime(&self, id: i64) -> Option<Value> {
        self.state().anime.get(&id).map(|s| s.anime.clone())
    }

    /// MAL ids of every stored anime, ascending.
    pub fn anime_ids(&self) -> Vec<i64> {
        self.state().anime.keys().copied().collect()
    }

    /// Removes an anime (then its paths answer 404).
    pub fn remove_anime(&self, id: i64) -> Option<Value> {
        self.state().anime.remove(&id).map(|s| s.anime)
    }

    /// Removes every anime.
    pub fn clear(&self) {
        self.state().anime.clear();
    }

    /// Loads one fixture file: `{"anime": [anime_full…]}` (keys starting with `_` are
    /// comments). Panics on unreadable or ill-typed files.
    pub fn load_fixture_file(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("jikan mock: cannot read {}: {e}", path.display()));
        let root: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("jikan mock: {} is not JSON: {e}", path.display()));
        let Some(obj) = root.as_object() else {
            panic!("jikan mock: {} is not a JSON object", path.display());
        };
        for (key, value) in obj {
            match key.as_str() {
                "anime" => match value.as_array() {
                    Some(items) => items.iter().for_each(|a| self.put_anime(a.clone())),
                    None => panic!("jikan mock: {}: `anime` is not a list", path.display()),
                },
                k if k.starts_with('_') => {}
                other => panic!(
                    "jikan mock: {}: unknown key `{other}` (anime)",
                    path.display()
                ),
            }
        }
    }

    /// Loads every `*.json` in `dir`, in file-name order.
    pub fn load_fixtures_dir(&self, dir: impl AsRef<Path>) {
        let dir = dir.as_ref();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("jikan mock: cannot list {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            self.load_fixture_file(f);
        }
    }

    /// Sets the mock's clock (Unix seconds), which decides the season of `/seasons/now`.
    pub fn set_now(&self, unix: i64) {
        self.state().now = Some(unix);
    }

    /// Goes back to the system clock.
    pub fn use_system_clock(&self) {
        self.state().now = None;
    }

    // ----- failures and budget -----

    /// Serves `failure` to the next `n` valid, within-budget requests (after any queued before).
    pub fn fail_next(&self, n: usize, failure: Failure) {
        if n > 0 {
            self.state().failures.push_back((failure, n));
        }
    }

    /// Serves `failure` to every valid, within-budget request until [`JikanMock::clear_failures`].
    pub fn fail_always(&self, failure: Failure) {
        self.state().always = Some(failure);
    }

    /// Cancels queued and permanent failures.
    pub fn clear_failures(&self) {
        let mut st = self.state();
        st.failures.clear();
        st.always = None;
    }

    /// Forgets the requests counted in the windows (as if a long pause passed).
    pub fn reset_budget(&self) {
        self.state().stamps.clear();
    }

    // ----- what happened -----

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Requests the real API would have refused, or whose parameters it would have ignored.
    pub fn invalid_requests(&self) -> Vec<InvalidRequest> {
        self.state().invalid.clone()
    }

    /// Requests answered 429 because the client went over budget.
    pub fn violations(&self) -> Vec<Violation> {
        self.state().violations.clone()
    }

    /// Answers that did not fit the document's response schema (each was answered 500).
    pub fn response_errors(&self) -> Vec<String> {
        self.state().response_errors.clone()
    }

    /// Valid requests the mock does not implement (each was answered 501).
    pub fn unsupported(&self) -> Vec<String> {
        self.state().unsupported.clone()
    }

    /// Panics listing every invalid request, violation, response error and unsupported request.
    pub fn assert_clean(&self) {
        let st = self.state();
        let mut problems = Vec::new();
        for r in &st.invalid {
            problems.push(format!(
                "invalid request {} {} ({}): {}",
                r.method, r.target, r.status, r.message
            ));
        }
        for v in &st.violations {
            problems.push(format!(
                "over budget: request #{} (Retry-After {})",
                v.request, v.retry_after
            ));
        }
        for e in &st.response_errors {
            problems.push(format!("answer does not fit the spec: {e}"));
        }
        for u in &st.unsupported {
            problems.push(format!("unsupported: {u}"));
        }
        assert!(
            problems.is_empty(),
            "jikan mock saw problems:\n{}",
            problems.join("\n")
        );
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
    Answer(Box<Response<Body>>),
    Hang,
    Drop,
}

impl Outcome {
    fn answer(response: Response<Body>) -> Outcome {
        Outcome::Answer(Box::new(response))
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// Jikan's error body: `{"status","type","message","error"}`.
fn jikan_error(status: u16, kind: &str, message: &str, error: Value) -> Response<Body> {
    let body = json!({ "status": status, "type": kind, "message": message, "error": error });
    respond(status, "application/json", body.to_string())
}

fn http_date(unix: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// FNV-1a, 64 bits: a stable ETag for a body.
fn etag_of(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

async fn handle(
    shared: Arc<Shared>,
    cancel: CancellationToken,
    req: HttpRequest<hyper::body::Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let header_str = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let if_none_match = header_str(header::IF_NONE_MATCH);
    let user_agent = header_str(header::USER_AGENT);
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let query: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(s).unwrap_or_else(|| s.to_owned());
            (decode(k), decode(v))
        })
        .collect();
    let index = {
        let mut st = lock(&shared.state);
        st.requests.push(Request {
            method: method.clone(),
            path: path.clone(),
            query,
            template: None,
            path_params: BTreeMap::new(),
            if_none_match: if_none_match.clone(),
            user_agent,
            status: 0,
            failure: None,
        });
        st.requests.len() - 1
    };
    let outcome = match shared.take_budget(index) {
        Err(secs) => {
            let mut response = jikan_error(
                429,
                "RateLimitException",
                "You are being rate-limited. Please follow Rate Limiting guidelines: https://docs.api.jikan.moe/#section/Information/Rate-Limiting",
                Value::Null,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Outcome::answer(response)
        }
        Ok(()) => shared.answer(
            index,
            &method,
            &path,
            &raw_query,
            &target,
            if_none_match.as_deref(),
        ),
    };
    match outcome {
        Outcome::Answer(response) => {
            let status = response.status().as_u16();
            if let Some(r) = lock(&shared.state).requests.get_mut(index) {
                r.status = status;
            }
            Ok(*response)
        }
        Outcome::Hang => {
            cancel.cancelled().await;
            Err(DropConnection)
        }
        Outcome::Drop => Err(DropConnection),
    }
}

/// A request that passed validation.
struct Valid<'a> {
    route: &'a Route,
    path_params: BTreeMap<String, String>,
    query: Vec<(String, String)>,
}

impl Valid<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean flag: present without a value, or `true`.
    fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("" | "true"))
    }
}

impl Shared {
    /// Counts the request against every window: Ok, or Err(Retry-After seconds).
    fn take_budget(&self, index: usize) -> Result<(), u64> {
        let now = Instant::now();
        let mut st = lock(&self.state);
        let longest = self
            .config
            .limits
            .iter()
            .map(|l| l.per)
            .max()
            .unwrap_or_default();
        while st
            .stamps
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            st.stamps.pop_front();
        }
        let mut wait = Duration::ZERO;
        for limit in &self.config.limits {
            let in_window: Vec<&Instant> = st
                .stamps
                .iter()
                .filter(|t| now.duration_since(**t) < limit.per)
                .collect();
            if limit.max == 0 {
                wait = wait.max(limit.per);
            } else if in_window.len() >= limit.max as usize {
                // A slot frees when the oldest request that still counts leaves the window.
                let oldest = *in_window[in_window.len() - limit.max as usize];
                wait = wait.max(limit.per.saturating_sub(now.duration_since(oldest)));
            }
        }
        if wait > Duration::ZERO {
            let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            st.violations.push(Violation {
                request: index,
                retry_after: secs,
            });
            return Err(secs);
        }
        st.stamps.push_back(now);
        Ok(())
    }

    fn invalid(&self, method: &str, target: &str, status: u16, message: String) -> Outcome {
        lock(&self.state).invalid.push(InvalidRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            status,
            message: message.clone(),
        });
        let kind = if status == 404 {
            "BadResponseException"
        } else {
            "BadRequestException"
        };
        Outcome::answer(jikan_error(status, kind, &message, Value::Null))
    }

    fn unsupported(&self, message: String) -> Outcome {
        let message = format!("mock: {message}");
        lock(&self.state).unsupported.push(message.clone());
        Outcome::answer(jikan_error(501, "MockException", &message, Value::Null))
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

    fn validate_request<'s>(
        &'s self,
        path: &str,
        raw_query: &str,
    ) -> Result<Valid<'s>, (u16, String)> {
        let Some(rest) = path.strip_prefix(BASE_PATH).filter(|r| r.starts_with('/')) else {
            return Err((
                404,
                format!("Jikan serves its API under {BASE_PATH}/, not {path}"),
            ));
        };
        let parts: Vec<&str> = rest[1..].split('/').collect();
        let mut best: Option<(&Route, usize)> = None;
        for route in &self.spec.routes {
            if route.segments.len() != parts.len() {
                continue;
            }
            let fits = route.segments.iter().zip(&parts).all(|(s, p)| match s {
                Segment::Literal(l) => l == p,
                Segment::Variable(_) => !p.is_empty(),
            });
            if fits {
                let literals = route
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                if best.is_none_or(|(_, n)| literals > n) {
                    best = Some((route, literals));
                }
            }
        }
        let Some((route, _)) = best else {
            return Err((404, format!("no path of the document matches {rest}")));
        };
        let mut path_params = BTreeMap::new();
        for (seg, part) in route.segments.iter().zip(&parts) {
            if let Segment::Variable(name) = seg {
                let value = percent_decode(part)
                    .ok_or_else(|| (400, format!("the path parameter `{name}` is not UTF-8")))?;
                let param = route
                    .params
                    .iter()
                    .find(|p| p.location == "path" && p.name == *name);
                if let Some(param) = param {
                    check_param(&param.schema, name, &value)?;
                }
                path_params.insert(name.clone(), value);
            }
        }
        let mut query = Vec::new();
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (Some(k), Some(v)) = (percent_decode(k), percent_decode(v)) else {
                return Err((400, format!("the query parameter `{pair}` is not UTF-8")));
            };
            let Some(param) = route
                .params
                .iter()
                .find(|p| p.location == "query" && p.name == k)
            else {
                return Err((
                    400,
                    format!(
                        "the query parameter `{k}` is not declared for {}",
                        route.template
                    ),
                ));
            };
            check_param(&param.schema, &k, &v)?;
            query.push((k, v));
        }
        for p in &route.params {
            if p.required && p.location == "query" && !query.iter().any(|(k, _)| *k == p.name) {
                return Err((400, format!("the query parameter `{}` is required", p.name)));
            }
        }
        // Jikan's own rules, not in the document.
        let int = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<i64>().ok())
        };
        if int("limit").is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
            return Err((
                400,
                format!("The limit must be between 1 and {MAX_LIMIT} (Jikan's rule)."),
            ));
        }
        if int("page").is_some_and(|p| p < 1) {
            return Err((
                400,
                "The page must be at least 1 (Jikan's rule).".to_owned(),
            ));
        }
        if let Some(season) = path_params.get("season")
            && !matches!(season.as_str(), "winter" | "spring" | "summer" | "fall")
        {
            return Err((
                400,
                format!(
                    "Invalid season `{season}`: winter, spring, summer or fall (Jikan's rule)."
                ),
            ));
        }
        Ok(Valid {
            route,
            path_params,
            query,
        })
    }

    fn answer(
        &self,
        index: usize,
        method: &str,
        path: &str,
        raw_query: &str,
        target: &str,
        if_none_match: Option<&str>,
    ) -> Outcome {
        if method != "GET" {
            return self.invalid(
                method,
                target,
                405,
                format!("Only GET requests are allowed, not {method}"),
            );
        }
        let valid = match self.validate_request(path, raw_query) {
            Ok(v) => v,
            Err((status, message)) => return self.invalid(method, target, status, message),
        };
        {
            let mut st = lock(&self.state);
            if let Some(r) = st.requests.get_mut(index) {
                r.template = Some(valid.route.template.clone());
                r.path_params = valid.path_params.clone();
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
                let body = json!({
                    "status": 500, "type": "InternalException",
                    "message": "Something went wrong, please try again later",
                    "error": "mock: injected failure",
                    "report_url": "https://github.com/jikan-me/jikan-rest/issues/new",
                });
                return Outcome::answer(respond(500, "application/json", body.to_string()));
            }
            Some(Failure::BadGateway) => {
                return Outcome::answer(respond(
                    502,
                    "text/html",
                    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
                ));
            }
            Some(Failure::Unavailable) => {
                return Outcome::answer(jikan_error(
                    503,
                    "ServiceUnavailableException",
                    "Jikan is down for maintenance. Please try again later.",
                    Value::Null,
                ));
            }
            Some(Failure::UpstreamRateLimited) => {
                return Outcome::answer(jikan_error(
                    429,
                    "RateLimitException",
                    "Jikan is being rate limited by MyAnimeList. Please try again in a few seconds.",
                    Value::Null,
                ));
            }
            Some(Failure::MalformedJson) => {
                return Outcome::answer(respond(
                    200,
                    "application/json",
                    "{\"data\":{\"mal_id\":54794,\"url\":\"https://myanimelist.net/anime/54",
                ));
            }
        };
        let (mut body, modified, single) = match self.body_for(&valid) {
            Ok(b) => b,
            Err(outcome) => return outcome,
        };
        if nullify && let Some(schema) = &valid.route.response {
            self.spec.nullify(schema, &mut body, 0);
        }
        if let Some(schema) = &valid.route.response
            && let Err(e) = self.spec.check_schema(schema, &body, &valid.route.template)
        {
            let message = format!("{target}: {e}");
            lock(&self.state).response_errors.push(message.clone());
            return Outcome::answer(jikan_error(
                500,
                "ParserException",
                &format!("mock: the answer does not fit the document: {message}"),
                Value::Null,
            ));
        }
        let text = body.to_string();
        let etag = etag_of(text.as_bytes());
        let mut response = if if_none_match.is_some_and(|inm| etag_matches(inm, &etag)) {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            respond(200, "application/json", text)
        };
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&http_date(modified)) {
            h.insert(header::LAST_MODIFIED, v);
        }
        if let Ok(v) = HeaderValue::from_str(&http_date(modified + 86_400)) {
            h.insert(header::EXPIRES, v);
        }
        if single && let Ok(v) = HeaderValue::from_str(&etag_of(path.as_bytes())[1..17]) {
            h.insert("x-request-fingerprint", v);
        }
        Outcome::answer(response)
    }

    /// The answer's JSON, its Last-Modified time, and whether it is a single resource.
    fn body_for(&self, valid: &Valid<'_>) -> Result<(Value, i64, bool), Outcome> {
        let template = valid.route.template.as_str();
        let implemented: &[&str] = match template {
            "/anime/{id}/full" | "/anime/{id}" => &[],
            "/schedules" => &["filter", "kids", "sfw", "unapproved", "page", "limit"],
            "/seasons/now" | "/seasons/upcoming" | "/seasons/{year}/{season}" => {
                &["filter", "sfw", "unapproved", "continuing", "page", "limit"]
            }
            "/anime" => &[
                "q",
                "type",
                "status",
                "rating",
                "sfw",
                "min_score",
                "max_score",
                "genres",
                "genres_exclude",
                "letter",
                "order_by",
                "sort",
                "unapproved",
                "page",
                "limit",
            ],
            other => {
                return Err(self.unsupported(format!("the path {other} is not implemented")));
            }
        };
        if let Some((k, _)) = valid
            .query
            .iter()
            .find(|(k, _)| !implemented.contains(&k.as_str()))
        {
            return Err(self.unsupported(format!(
                "the parameter `{k}` of {template} is not implemented"
            )));
        }
        let st = lock(&self.state);
        if template.starts_with("/anime/{id}") {
            let id = valid
                .path_params
                .get("id")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            let Some(stored) = st.anime.get(&id) else {
                return Err(Outcome::answer(jikan_error(
                    404,
                    "BadResponseException",
                    "Resource does not exist",
                    json!(format!("404 on https://myanimelist.net/anime/{id}/")),
                )));
            };
            let data = if template == "/anime/{id}" {
                self.anime_subset(&stored.anime)
            } else {
                stored.anime.clone()
            };
            return Ok((json!({ "data": data }), stored.modified, true));
        }
        let now = st.now.unwrap_or_else(unix_now);
        let mut list: Vec<&Value> = st
            .anime
            .values()
            .map(|s| &s.anime)
            .filter(|a| valid.flag("unapproved") || a.get("approved") != Some(&json!(false)))
            .collect();
        let text = |a: &Value, k: &str| a.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(filter) = valid.param("filter") {
            list.retain(|a| match template {
                "/schedules" => {
                    let day = a
                        .pointer("/broadcast/day")
                        .and_then(Value::as_str)
                        .map(|d| d.to_lowercase().trim_end_matches('s').to_owned());
                    const DAYS: [&str; 7] = [
                        "monday",
                        "tuesday",
                        "wednesday",
                        "thursday",
                        "friday",
                        "saturday",
                        "sunday",
                    ];
                    match filter {
                        "unknown" => day.is_none(),
                        "other" => day.is_some_and(|d| !DAYS.contains(&d.as_str())),
                        f => day.as_deref() == Some(f),
                    }
                }
                _ => text(a, "type").map(|t| t.to_lowercase()).as_deref() == Some(filter),
            });
        }
        let has = |a: &Value, key: &str, name: &str| {
            a.get(key).and_then(Value::as_array).is_some_and(|l| {
                l.iter()
                    .any(|g| g.get("name").and_then(Value::as_str) == Some(name))
            })
        };
        let hentai = |a: &Value| {
            text(a, "rating").as_deref() == Some("Rx - Hentai")
                || has(a, "genres", "Hentai")
                || has(a, "explicit_genres", "Hentai")
        };
        if valid.flag("sfw") {
            list.retain(|a| !hentai(a));
        }
        let (year, season) = season_of(now);
        match template {
            "/schedules" => {
                list.retain(|a| a.get("airing") == Some(&json!(true)));
                let kids = valid.param("kids") == Some("true");
                list.retain(|a| has(a, "demographics", "Kids") == kids);
            }
            "/seasons/now" => {
                let continuing = valid.flag("continuing");
                list.retain(|a| {
                    let this = a.get("year").and_then(Value::as_i64) == Some(year)
                        && text(a, "season").as_deref() == Some(season);
                    this || (continuing && a.get("airing") == Some(&json!(true)))
                });
            }
            "/seasons/upcoming" => {
                list.retain(|a| text(a, "status").as_deref() == Some("Not yet aired"));
            }
            "/seasons/{year}/{season}" => {
                let y = valid
                    .path_params
                    .get("year")
                    .and_then(|v| v.parse::<i64>().ok());
                let s = valid.path_params.get("season").cloned();
                let continuing = valid.flag("continuing");
                list.retain(|a| {
                    let this = a.get("year").and_then(Value::as_i64) == y && text(a, "season") == s;
                    this || (continuing && a.get("airing") == Some(&json!(true)))
                });
            }
            _ => {
                // /anime search
                if let Some(q) = valid.param("q").map(str::to_lowercase) {
                    list.retain(|a| titles_of(a).iter().any(|t| t.contains(&q)));
                }
                if let Some(letter) = valid.param("letter").map(str::to_lowercase) {
                    list.retain(|a| {
                        text(a, "title").is_some_and(|t| t.to_lowercase().starts_with(&letter))
                    });
                }
                if let Some(ty) = valid.param("type") {
                    let want = ty.replace('_', " ");
                    list.retain(|a| text(a, "type").is_some_and(|t| t.to_lowercase() == want));
                }
                if let Some(status) = valid.param("status") {
                    let want = match status {
                        "airing" => "Currently Airing",
                        "complete" => "Finished Airing",
                        _ => "Not yet aired",
                    };
                    list.retain(|a| text(a, "status").as_deref() == Some(want));
                }
                if let Some(rating) = valid.param("rating") {
                    let prefix = match rating {
                        "g" => "G ",
                        "pg" => "PG ",
                        "pg13" => "PG-13 ",
                        "r17" => "R ",
                        "r" => "R+ ",
                        _ => "Rx ",
                    };
                    list.retain(|a| text(a, "rating").is_some_and(|r| r.starts_with(prefix)));
                }
                let score = |a: &Value| a.get("score").and_then(Value::as_f64);
                if let Some(min) = valid.param("min_score").and_then(|v| v.parse::<f64>().ok()) {
                    list.retain(|a| score(a).is_some_and(|s| s >= min));
                }
                if let Some(max) = valid.param("max_score").and_then(|v| v.parse::<f64>().ok()) {
                    list.retain(|a| score(a).is_some_and(|s| s <= max));
                }
                let genre_ids = |a: &Value| -> Vec<i64> {
                    ["genres", "explicit_genres", "themes", "demographics"]
                        .iter()
                        .filter_map(|k| a.get(*k).and_then(Value::as_array))
                        .flatten()
                        .filter_map(|g| g.get("mal_id").and_then(Value::as_i64))
                        .collect()
                };
                let ids = |v: Option<&str>| -> Vec<i64> {
                    v.unwrap_or("")
                        .split(',')
                        .filter_map(|s| s.trim().parse().ok())
                        .collect()
                };
                let want = ids(valid.param("genres"));
                list.retain(|a| want.iter().all(|g| genre_ids(a).contains(g)));
                let not = ids(valid.param("genres_exclude"));
                list.retain(|a| !not.iter().any(|g| genre_ids(a).contains(g)));
                if let Some(order) = valid.param("order_by") {
                    let desc = valid.param("sort") == Some("desc");
                    let key = match order {
                        "start_date" => "/aired/from",
                        "end_date" => "/aired/to",
                        other => other,
                    };
                    let get = |a: &Value| -> Value {
                        if key.starts_with('/') {
                            a.pointer(key).cloned().unwrap_or(Value::Null)
                        } else {
                            a.get(key).cloned().unwrap_or(Value::Null)
                        }
                    };
                    list.sort_by(|a, b| compare(&get(a), &get(b), desc));
                }
            }
        }
        let limit = valid
            .param("limit")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(MAX_LIMIT);
        let page = valid
            .param("page")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(1);
        let total = list.len() as i64;
        let data: Vec<Value> = list
            .into_iter()
            .skip(usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX))
            .take(limit as usize)
            .map(|a| self.anime_subset(a))
            .collect();
        let last = ((total + limit - 1) / limit).max(1);
        let body = json!({
            "pagination": {
                "last_visible_page": last,
                "has_next_page": page < last,
                "current_page": page,
                "items": { "count": data.len(), "total": total, "per_page": limit },
            },
            "data": data,
        });
        Ok((body, self.started, false))
    }

    /// The `anime` schema's properties of an `anime_full` record.
    fn anime_subset(&self, full: &Value) -> Value {
        let names = self.spec.property_names("anime");
        match full {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| names.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Map<String, Value>>(),
            ),
            other => other.clone(),
        }
    }
}

fn titles_of(a: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for k in ["title", "title_english", "title_japanese"] {
        if let Some(s) = a.get(k).and_then(Value::as_str) {
            out.push(s.to_lowercase());
        }
    }
    for k in ["titles", "title_synonyms"] {
        for t in a.get(k).and_then(Value::as_array).into_iter().flatten() {
            let s = t
                .as_str()
                .or_else(|| t.get("title").and_then(Value::as_str));
            if let Some(s) = s {
                out.push(s.to_lowercase());
            }
        }
    }
    out
}

/// (year, season) of a Unix time, as MyAnimeList counts seasons.
fn season_of(unix: i64) -> (i64, &'static str) {
    use chrono::Datelike;
    let date = chrono::DateTime::<chrono::Utc>::from_timestamp(unix, 0).unwrap_or_default();
    let season = match date.month() {
        1..=3 => "winter",
        4..=6 => "spring",
        7..=9 => "summer",
        _ => "fall",
    };
    (i64::from(date.year()), season)
}

/// Orders two values; nulls always last.
fn compare(a: &Value, b: &Value, desc: bool) -> std::cmp::Ordering {
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
        _ => a.to_string().cmp(&b.to_string()),
    };
    if desc { ord.reverse() } else { ord }
}

/// Checks one path or query value against its parameter schema.
fn check_param(schema: &Value, name: &str, value: &str) -> Result<(), (u16, String)> {
    let bad = |what: &str| {
        Err((
            400,
            format!("the parameter `{name}` must be {what}, not `{value}`"),
        ))
    };
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") if value.parse::<i64>().is_err() => return bad("an integer"),
        Some("number") if value.parse::<f64>().map(|f| !f.is_finite()).unwrap_or(true) => {
            return bad("a number");
        }
        Some("boolean") if !matches!(value, "" | "true" | "false") => {
            return bad("a boolean flag (empty, true or false)");
        }
        _ => {}
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.iter().any(|v| v.as_str() == Some(value))
    {
        let allowed: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return bad(&format!("one of {}", allowed.join(", ")));
    }
    Ok(())
}
