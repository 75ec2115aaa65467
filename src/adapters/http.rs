//! The operator's HTTP endpoints (`http.listen`, loopback by default):
//! `/healthz` answers 200 when the store reads and every adapter and
//! dispatcher reports healthy, 503 otherwise; `/metrics` is the Prometheus
//! text exposition; `/backup` streams a consistent snapshot of the store in
//! the backup format (`rouge backup` fetches it while the bot runs, since
//! only one process can open the store).
//!
//! `/healthz` and `/metrics` are open; `/backup` (which holds ratings with
//! user ids and the audit log) needs `Authorization: Bearer <backup_token>`
//! (the `backup_token` secret), runs one at a time, and names the store it
//! comes from (`X-Rouge-Store-Id`). Every request must carry a Host that is
//! this listener (a DNS-rebinding page cannot read it), connections are not
//! kept alive, and a request whose headers do not arrive in time is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::app::{App, SourceReport};

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The header that names the store a backup comes from.
pub const STORE_ID_HEADER: &str = "x-rouge-store-id";

#[derive(Clone)]
struct Endpoints {
    app: App,
    /// The secret `/backup` asks for; `None`: `/backup` is off.
    backup_token: Option<Arc<SecretString>>,
    /// One backup at a time.
    backups: Arc<Semaphore>,
    /// The Host values this listener answers to.
    hosts: Arc<Vec<String>>,
}

/// The Host values that name `listen`: the address itself, and `localhost`
/// for a loopback address.
fn hosts_of(listen: SocketAddr) -> Vec<String> {
    let port = listen.port();
    let mut hosts = vec![listen.to_string()];
    if listen.ip().is_loopback() {
        hosts.extend([
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ]);
    }
    hosts
}

/// The routes, behind the Host check.
pub fn router(app: App, listen: SocketAddr, backup_token: Option<SecretString>) -> Router {
    let state = Endpoints {
        app,
        backup_token: backup_token.map(Arc::new),
        backups: Arc::new(Semaphore::new(1)),
        hosts: Arc::new(hosts_of(listen)),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/backup", get(backup))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
}

/// Refuses a request whose Host is not this listener.
async fn check_host(State(e): State<Endpoints>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host {
        Some(host) if e.hosts.contains(&host) => next.run(request).await,
        _ => (StatusCode::MISDIRECTED_REQUEST, "unknown Host\n").into_response(),
    }
}

async fn healthz(State(e): State<Endpoints>) -> Response {
    let app = &e.app;
    let store_ok = app.store_readable();
    let components = app.metrics().health();
    let healthy = store_ok && components.values().all(|&ok| ok);
    // A failing source or old schedule data does not make the bot unhealthy
    // (it answers from the store), but both are said.
    let sources = app.source_reports();
    let degraded = sources.iter().any(|s| !s.status.healthy);
    let body = json!({
        "status": match (healthy, degraded) {
            (false, _) => "unhealthy",
            (true, true) => "degraded",
            (true, false) => "ok",
        },
        "store": store_ok,
        "store_id": app.store_id().ok(),
        "components": components,
        "sources": sources,
        "schedule_data": app.data_freshness(),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(e): State<Endpoints>) -> Response {
    let app = &e.app;
    let status = app.store_status();
    let depth = status
        .queued
        .iter()
        .map(|(p, n)| (format!("{{platform=\"{p}\"}}"), *n as f64))
        .collect();
    let sources = app.source_reports();
    let per_source = |value: fn(&SourceReport) -> f64| -> Vec<(String, f64)> {
        sources
            .iter()
            .map(|s| (format!("{{source=\"{}\"}}", s.source), value(s)))
            .collect()
    };
    let text = app.metrics().render(&[
        (
            "rouge_source_requests_total",
            "Requests sent to each live source.",
            per_source(|s| s.status.requests as f64),
        ),
        (
            "rouge_source_rate_limited_total",
            "Answers of each live source that were 429s.",
            per_source(|s| s.status.rate_limited as f64),
        ),
        (
            "rouge_source_errors_total",
            "Failed requests to each live source.",
            per_source(|s| s.status.errors as f64),
        ),
        (
            "rouge_source_budget_left",
            "Requests left in each live source's budget window.",
            per_source(|s| f64::from(s.status.budget_left)),
        ),
        (
            "rouge_source_healthy",
            "1 when the live source answers well, 0 while degraded.",
            per_source(|s| f64::from(u8::from(s.status.healthy))),
        ),
        (
            "rouge_source_queue",
            "Entries waiting to be asked of each live source.",
            per_source(|s| s.queued as f64),
        ),
        (
            "rouge_source_oldest_stale_seconds",
            "How far past its time to live the stalest entry of each live source is.",
            per_source(|s| s.oldest_stale_secs as f64),
        ),
        (
            "rouge_outbox_depth",
            "Announcement jobs waiting to be sent, by platform.",
            depth,
        ),
        (
            "rouge_store_bytes",
            "Size of the sled store on disk.",
            vec![(String::new(), status.bytes_on_disk as f64)],
        ),
        (
            "rouge_dead_letters",
            "Announcements that ended without a post (failed, forbidden, expired, withdrawn).",
            vec![(String::new(), status.dead_letters as f64)],
        ),
        (
            "rouge_catalog_entries",
            "Entries in the catalog.",
            vec![(String::new(), app.len() as f64)],
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Whether `headers` carry the backup token.
fn authorized(headers: &HeaderMap, token: &SecretString) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let want = token.expose_secret().as_bytes();
    // The same time whatever the first differing byte.
    given.len() == want.len()
        && given
            .as_bytes()
            .iter()
            .zip(want)
            .fold(0u8, |d, (a, b)| d | (a ^ b))
            == 0
}

async fn backup(State(e): State<Endpoints>, headers: HeaderMap) -> Response {
    let Some(token) = &e.backup_token else {
        return (
            StatusCode::FORBIDDEN,
            "/backup is off: set the backup_token secret (BACKUP_TOKEN) to use it\n",
        )
            .into_response();
    };
    if !authorized(&headers, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a backup needs Authorization: Bearer <backup_token>\n",
        )
            .into_response();
    }
    let Ok(permit) = Arc::clone(&e.backups).try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "a backup is already being taken; try again when it is done\n",
        )
            .into_response();
    };
    let store_id = match e.app.store_id() {
        Ok(id) => id,
        Err(err) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("backup failed: {err}\n"),
            )
                .into_response();
        }
    };
    // The snapshot is written into a small channel as it is encoded, so a
    // backup never sits whole in memory twice.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let app = e.app.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut out = ChannelWriter {
            tx,
            buffer: Vec::with_capacity(CHUNK),
        };
        let written = app
            .backup_to(&mut out)
            .map_err(|e| e.to_string())
            .and_then(|()| out.flush_chunk().map_err(|e| e.to_string()));
        if let Err(err) = written {
            warn!(cause = %err, "a backup failed");
            let _ = out
                .tx
                .blocking_send(Err(std::io::Error::other(err.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::HeaderName::from_static(STORE_ID_HEADER), store_id),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Bytes per chunk of a streamed backup.
const CHUNK: usize = 64 * 1024;

/// A writer that hands full chunks to the response body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serves the endpoints until `shutdown` is cancelled: one request per
/// connection, headers within [`HEADER_TIMEOUT`].
pub async fn run(
    app: App,
    listen: SocketAddr,
    backup_token: Option<SecretString>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    info!(%listen, backup = backup_token.is_some(), "health and metrics endpoints started");
    let router = router(app, listen, backup_token);
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    debug!(cause = %err, "cannot accept a connection");
                    continue;
                }
            },
        };
        let service = service.clone();
        connections.spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(err) = served {
                debug!(%peer, cause = %err, "an http connection ended early");
            }
        });
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
    Ok(())
}
