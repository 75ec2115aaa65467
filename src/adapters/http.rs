//! The operator's HTTP endpoints (`http.listen`, loopback by default):
//! `/healthz` answers 200 when the store reads and every adapter and
//! dispatcher reports healthy, 503 otherwise; `/metrics` is the Prometheus
//! text exposition; `/backup` is a consistent snapshot of the store in the
//! backup format (`rouge backup` fetches it while the bot runs, since only one
//! process can open the store). None of them authenticate: keep the listener
//! on loopback or a private network.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::app::{App, SourceReport};

/// The routes: `/healthz` and `/metrics`.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/backup", get(backup))
        .with_state(app)
}

async fn healthz(State(app): State<App>) -> Response {
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

async fn metrics(State(app): State<App>) -> Response {
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

async fn backup(State(app): State<App>) -> Response {
    let written = tokio::task::spawn_blocking(move || app.backup()).await;
    match written {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Ok(Err(err)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("backup failed: {err:#}"),
        )
            .into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("backup failed: {err}"),
        )
            .into_response(),
    }
}

/// Serves the endpoints until `shutdown` is cancelled.
pub async fn run(app: App, listen: SocketAddr, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    info!(%listen, "health and metrics endpoints started");
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("the health and metrics server failed")
}
