//! Discord's HTTP interactions endpoint (an alternative to the gateway):
//! Discord POSTs each interaction, signed with Ed25519 over
//! `timestamp ‖ body`. Every request's signature is verified, and its
//! timestamp must be recent (serenity's verifier does not check the age, so
//! a captured request could otherwise be replayed); anything unsigned,
//! forged, stale or malformed gets 401 or 400 and changes nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use serenity::all::Interaction;
use serenity::interactions_endpoint::Verifier;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::app::App;

/// How old a signed request may be, in seconds, either way.
pub const MAX_AGE_SECS: i64 = 300;

struct Endpoint {
    app: App,
    verifier: Verifier,
}

/// Parses the application's public key (64 hex digits).
pub fn verifier(public_key: &SecretString) -> anyhow::Result<Verifier> {
    let hex = public_key.expose_secret().trim();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<_>>()
        .filter(|b: &Vec<u8>| b.len() == 32 && hex.len() == 64)
        .context("DISCORD_PUBLIC_KEY must be the application's public key: 64 hex digits")?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("DISCORD_PUBLIC_KEY must be 32 bytes"))?;
    Verifier::try_new(key)
        .map_err(|e| anyhow::anyhow!("DISCORD_PUBLIC_KEY is not a valid Ed25519 key: {e}"))
}

/// The endpoint's routes: `POST /interactions`.
pub fn router(app: App, verifier: Verifier) -> Router {
    Router::new()
        .route("/interactions", post(interaction))
        .with_state(Arc::new(Endpoint { app, verifier }))
}

async fn interaction(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("X-Signature-Ed25519"),
        header("X-Signature-Timestamp"),
    ) else {
        return (StatusCode::UNAUTHORIZED, "missing signature").into_response();
    };
    if endpoint
        .verifier
        .verify(signature, timestamp, &body)
        .is_err()
    {
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|ts| (endpoint.app.now().timestamp() - ts).abs() <= MAX_AGE_SECS);
    if !fresh {
        return (StatusCode::UNAUTHORIZED, "stale request timestamp").into_response();
    }
    let Ok(interaction) = serde_json::from_slice::<Interaction>(&body) else {
        return (StatusCode::BAD_REQUEST, "not an interaction").into_response();
    };
    match super::answer(&endpoint.app, interaction).await {
        Some(response) => axum::Json(response).into_response(),
        None => (StatusCode::BAD_REQUEST, "unsupported interaction type").into_response(),
    }
}

/// Serves the endpoint on `listen` until `shutdown` is cancelled.
pub async fn run(
    app: App,
    listen: SocketAddr,
    verifier: Verifier,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    info!(%listen, "discord interactions endpoint started");
    let served = axum::serve(listener, router(app, verifier))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(err) = &served {
        warn!(cause = %err, "the interactions endpoint failed");
    }
    served.context("the interactions endpoint failed")
}
