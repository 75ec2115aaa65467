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

use crate::app::App;

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
    // Old schedule data does not make the bot unhealthy, but it is said.
    let body = json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "store": store_ok,
        "components": components,
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
    let text = app.metrics().render(&[
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
