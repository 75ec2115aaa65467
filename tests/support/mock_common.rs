//! What the platform mocks share: the server on 127.0.0.1 and its shutdown, injected-failure
//! rules, polling for recorded requests, request decoding (percent, form pairs, integers sent
//! as numbers or strings) and reading a spec from `../shared/specs/`.
//!
//! Each mock includes this file itself (tests include one mock or both).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, header};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Locks `m`, carrying on after a panicking test thread poisoned it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A port bound on 127.0.0.1, before its router exists (a mock's state may need the address).
pub struct Listener {
    listener: TcpListener,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl Listener {
    /// Binds 127.0.0.1:0; `mock` names the mock in the panic if that fails.
    pub async fn bind(mock: &str) -> Listener {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("{mock}: bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{mock}: local addr: {e}"));
        Listener {
            listener,
            addr,
            shutdown: watch::channel(false).0,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Becomes `true` when the server stops (long-lived connections such as websockets end
    /// on it; graceful shutdown alone would wait for them).
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Serves `app` (request bodies up to 64 MiB) until [`Server::stop`] or the drop of the
    /// returned [`Server`].
    pub fn serve(self, app: Router) -> Server {
        let app = app.layer(DefaultBodyLimit::max(64 * 1024 * 1024));
        let mut stop = self.shutdown.subscribe();
        let task = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
        });
        Server {
            addr: self.addr,
            shutdown: self.shutdown,
            task: Mutex::new(Some(task)),
        }
    }
}

/// A running server. Dropping it stops the server without waiting.
pub struct Server {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for it, at most 2 s before aborting it.
    pub async fn stop(&self) {
        self.shutdown.send_replace(true);
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Injected failures: each rule answers the next `times` valid requests it matches.
pub struct FailRules<R, F> {
    rules: Vec<(R, F, usize)>,
}

impl<R, F: Clone> FailRules<R, F> {
    pub fn new() -> Self {
        FailRules { rules: Vec::new() }
    }

    pub fn add(&mut self, rule: R, failure: F, times: usize) {
        if times > 0 {
            self.rules.push((rule, failure, times));
        }
    }

    /// The failure of the oldest rule that `matches`, counting the request against it.
    pub fn take(&mut self, matches: impl Fn(&R) -> bool) -> Option<F> {
        let index = self.rules.iter().position(|(rule, _, _)| matches(rule))?;
        let (_, failure, remaining) = &mut self.rules[index];
        let failure = failure.clone();
        *remaining -= 1;
        if *remaining == 0 {
            self.rules.remove(index);
        }
        Some(failure)
    }
}

/// Checks `done` every 20 ms until it is true (→ true) or `timeout` passes (→ false).
pub async fn poll_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `found` until it has at least `count` items or `timeout` passes; its last answer.
pub async fn poll_for<T>(
    count: usize,
    timeout: Duration,
    mut found: impl FnMut() -> Vec<T>,
) -> Vec<T> {
    let mut last = Vec::new();
    poll_until(timeout, || {
        last = found();
        last.len() >= count
    })
    .await;
    last
}

/// The request's `Content-Type`, empty if there is none.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Decodes `%XX` escapes (invalid ones stay as they are; invalid UTF-8 is replaced).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a query string or an `application/x-www-form-urlencoded` body.
pub fn form_pairs(s: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode(&s.replace('+', " "));
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// An integer sent as a JSON number or as a string of digits (both APIs take ids either way).
pub fn int<T>(v: &Value) -> Option<T>
where
    T: FromStr + TryFrom<i64> + TryFrom<u64>,
{
    match v {
        Value::Number(n) => n
            .as_i64()
            .and_then(|i| T::try_from(i).ok())
            .or_else(|| n.as_u64().and_then(|u| T::try_from(u).ok())),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Whether the spec at `path` is there (tests skip when `../shared` is absent).
pub fn spec_available(path: &str) -> bool {
    std::path::Path::new(path).is_file()
}

/// Reads the JSON spec at `path`; `what` names it in the error.
pub fn read_spec(path: &str, what: &str) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} at {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
}
