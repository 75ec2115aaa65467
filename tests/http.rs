//! The operator's HTTP endpoints as a client meets them: the Host check,
//! `/backup` behind its token, one at a time, naming its store, and
//! `rouge backup` refusing a bot that serves another data directory.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rouge::adapters::http::{self, STORE_ID_HEADER};
use rouge::app::{App, Settings};
use rouge::cli::Cli;
use rouge::config::Config;
use rouge::core::clock::SystemClock;
use rouge::store::Store;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "a-long-random-backup-token";

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a port")
        .local_addr()
        .expect("an address")
}

/// The endpoints of an app over the store in `dir`, on a free port.
async fn serve(dir: &std::path::Path) -> (SocketAddr, CancellationToken, App) {
    let app = App::open(
        Store::open(dir).expect("a store"),
        Settings::default(),
        Arc::new(SystemClock),
    )
    .expect("an app");
    let addr = free_addr();
    let stop = CancellationToken::new();
    tokio::spawn(http::run(
        app.clone(),
        addr,
        Some(SecretString::from(TOKEN)),
        stop.clone(),
    ));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (addr, stop, app)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_need_the_token_and_the_host_must_be_this_listener() {
    let dir = tempfile::tempdir().expect("a dir");
    let (addr, stop, app) = serve(&dir.path().join("data")).await;
    let base = format!("http://{addr}");
    let health = client()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("answers");
    assert_eq!(health.status(), 200, "health stays open");
    // A page that rebinds its own name to 127.0.0.1 sends its own Host.
    let rebound = client()
        .get(format!("{base}/metrics"))
        .header("Host", "evil.example:9464")
        .send()
        .await
        .expect("answers");
    assert_eq!(rebound.status(), 421);
    let anonymous = client()
        .get(format!("{base}/backup"))
        .send()
        .await
        .expect("answers");
    assert_eq!(anonymous.status(), 401);
    let wrong = client()
        .get(format!("{base}/backup"))
        .bearer_auth("guess")
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 401);
    let backup = client()
        .get(format!("{base}/backup"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answers");
    assert_eq!(backup.status(), 200);
    assert_eq!(
        backup.headers()[STORE_ID_HEADER].to_str().expect("text"),
        app.store_id().expect("an id")
    );
    let bytes = backup.bytes().await.expect("a body");
    rouge::store::backup::read(&bytes).expect("a backup this build restores");
    stop.cancel();
}

/// A client that sends half its headers and waits is cut off, not kept
/// forever; a finished request does not keep its connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().expect("a dir");
    let (addr, stop, _app) = serve(&dir.path().join("data")).await;
    let ended = tokio::task::spawn_blocking(move || {
        let mut half = std::net::TcpStream::connect(addr).expect("connects");
        half.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: ")
            .expect("writes");
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        let _ = half.read_to_end(&mut rest);
        let half_closed = started.elapsed();
        let mut whole = std::net::TcpStream::connect(addr).expect("connects");
        whole
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(whole, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("writes");
        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        let _ = whole.read_to_end(&mut answer);
        (
            half_closed,
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    })
    .await
    .expect("the client ran");
    let (half_closed, idle_closed, answer) = ended;
    assert!(
        half_closed < Duration::from_secs(25),
        "the half-sent request was cut off"
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        idle_closed < Duration::from_secs(5),
        "the connection closed after its answer"
    );
    stop.cancel();
}

/// `rouge backup --data-dir B` while B is in use: it fetches the backup
/// from `http.listen`, and refuses when what answers there serves another
/// store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rouge_backup_refuses_a_bot_serving_another_store() {
    let dir = tempfile::tempdir().expect("a dir");
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let (addr, stop, _app) = serve(&a).await;
    // B is in use by "another bot" (held open here).
    let held = Store::open(&b).expect("b opens");
    let secrets = dir.path().join("secrets.toml");
    std::fs::write(&secrets, format!("backup_token = \"{TOKEN}\"\n")).expect("secrets");
    let run = |data: std::path::PathBuf, out: std::path::PathBuf| {
        let secrets = secrets.clone();
        tokio::task::spawn_blocking(move || {
            let mut config = Config::load_without_env(None).expect("defaults");
            config.data_dir = data;
            config.http.listen = addr.to_string();
            config.secrets_file = secrets;
            let cli = Cli::parse_from(["rouge", "backup", "--out", out.to_str().expect("utf-8")]);
            rouge::cli::run(cli, &config)
        })
    };
    let wrong = run(b.clone(), dir.path().join("b.backup"))
        .await
        .expect("ran");
    let err = wrong.expect_err("refused");
    assert!(err.to_string().contains("another store"), "{err:#}");
    assert!(!dir.path().join("b.backup").exists(), "nothing was written");
    let right = run(a.clone(), dir.path().join("a.backup"))
        .await
        .expect("ran");
    assert_eq!(right.expect("backed up"), 0);
    assert!(dir.path().join("a.backup").exists());
    drop(held);
    stop.cancel();
}

/// One backup at a time: while one is being read, another is told to wait
/// (and is not built in memory beside it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_backup_at_a_time() {
    let dir = tempfile::tempdir().expect("a dir");
    let (addr, stop, app) = serve(&dir.path().join("data")).await;
    // Enough entries that a backup does not fit in the stream's buffers.
    let entries: Vec<rouge::core::catalog::model::Entry> = (1..=2000)
        .map(|i| {
            let mut e = rouge::core::catalog::model::Entry::new(i, format!("Work number {i}"));
            e.synopsis = Some("A long synopsis. ".repeat(100));
            e
        })
        .collect();
    let mut file = Vec::new();
    rouge::import::rouge_json::write(&entries, &mut file).expect("a file");
    tokio::task::spawn_blocking(move || {
        app.import(rouge::import::Format::Rouge, &file, "test", |_, _| {})
            .expect("imported")
    })
    .await
    .expect("ran");
    let first = client()
        .get(format!("http://{addr}/backup"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answers");
    assert_eq!(first.status(), 200);
    // The first body is not read yet: its backup is still under way.
    let second = client()
        .get(format!("http://{addr}/backup"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answers");
    assert_eq!(second.status(), 503);
    assert!(second.headers().contains_key("retry-after"));
    let body = first.bytes().await.expect("the first completes");
    assert!(body.len() > 1_000_000);
    let mut third = None;
    for _ in 0..50 {
        let r = client()
            .get(format!("http://{addr}/backup"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answers");
        if r.status() == 200 {
            third = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        third.is_some(),
        "a backup runs again once the first is done"
    );
    stop.cancel();
}
