//! One exchange with a service through its [`Gate`]: wait for the budget,
//! send, read a bounded body, and turn what HTTP says into the gate's
//! bookkeeping and a [`SourceError`]. What the body means is the source's
//! business ([`exchange`]'s `parse`); everything else is here, once.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::gate::Gate;
use crate::core::source::SourceError;

/// The header AniList (and others) count the window down in.
const REMAINING: &str = "x-ratelimit-remaining";

/// An answer as read: status, headers and at most the allowed bytes.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub(super) fn header(&self, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `request` within the gate and hands a 2xx/3xx/4xx answer (other
/// than 403 and 429) to `parse`. A 429 locks the source out for its
/// `Retry-After` (or the configured lock-out), a 403 switches it off for a
/// while, a 5xx or a network failure is `Transient` and backs it off, as
/// does a `Malformed` answer from `parse`. Only a usable answer heals it.
pub(super) async fn exchange<T>(
    gate: &Gate,
    request: reqwest::RequestBuilder,
    max_body: usize,
    parse: impl FnOnce(Answer) -> Result<T, SourceError>,
) -> Result<T, SourceError> {
    let ticket = gate.acquire().await?;
    let timeout = gate.settings().timeout;
    let answer = read(request.timeout(timeout), max_body, timeout).await;
    drop(ticket);
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            gate.failed(&err);
            return Err(err);
        }
    };
    let status = answer.status;
    // On a 429 the count is moot: `Retry-After` says how long to stay away.
    let remaining = answer
        .header(REMAINING)
        .and_then(|v| v.trim().parse::<u64>().ok());
    if remaining == Some(0) && status != StatusCode::TOO_MANY_REQUESTS {
        gate.window_full();
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = retry_after(&answer).unwrap_or(gate.settings().lockout);
        gate.rate_limited(retry_after);
        return Err(SourceError::RateLimited { retry_after });
    }
    if status == StatusCode::FORBIDDEN {
        let why = error_message(&answer.body).unwrap_or_else(|| "HTTP 403".to_owned());
        gate.disabled(&why);
        return Err(SourceError::Disabled(why));
    }
    if status.is_server_error() {
        let err = SourceError::Transient(format!("HTTP {}", status.as_u16()));
        gate.failed(&err);
        return Err(err);
    }
    match parse(answer) {
        Ok(value) => {
            gate.succeeded();
            Ok(value)
        }
        Err(err) => {
            gate.failed(&err);
            Err(err)
        }
    }
}

/// Sends and reads at most `max_body` bytes; never more is held in memory.
async fn read(
    request: reqwest::RequestBuilder,
    max_body: usize,
    timeout: Duration,
) -> Result<Answer, SourceError> {
    let network = |e: reqwest::Error| network_error(e, timeout);
    let mut response = request.send().await.map_err(network)?;
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        if body.len() + chunk.len() > max_body {
            return Err(SourceError::Malformed(format!(
                "the answer is larger than {max_body} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn network_error(err: reqwest::Error, timeout: Duration) -> SourceError {
    if err.is_timeout() {
        return SourceError::Transient(format!("no answer within {}s", timeout.as_secs_f64()));
    }
    if err.is_connect() {
        return SourceError::Transient("could not connect".to_owned());
    }
    SourceError::Transient(format!("the connection failed: {}", err.without_url()))
}

/// `Retry-After` in seconds (the form both services use).
fn retry_after(answer: &Answer) -> Option<Duration> {
    let secs: u64 = answer.header(RETRY_AFTER)?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(24 * 3600)))
}

/// The first error message of a GraphQL (`errors[0].message`) or Jikan
/// (`message`) error body, cut short: enough to say why, never a body.
pub(super) fn error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value
        .pointer("/errors/0/message")
        .or_else(|| value.get("message"))?
        .as_str()?;
    super::clip(message, 160)
}
