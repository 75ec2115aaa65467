//! Running `rouge serve` as a real process in tests: a clean environment
//! (none of the developer's `ROUGE_*` settings), logs read as they come so a
//! chatty log level cannot fill the pipe, and a SIGTERM stop with a deadline.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running `rouge serve` and the thread collecting its logs.
pub struct Serve {
    pub child: Child,
    logs: Option<JoinHandle<std::io::Result<String>>>,
}

/// The live sources a test's bot may use: off (`ROUGE_OFFLINE=true`, what an
/// environment that says nothing of them gets), or each either disabled or
/// pointed at a mock on 127.0.0.1. Anything else is refused: no test may
/// reach the real services.
fn sources_env(env: &[(&str, String)]) -> Vec<(String, String)> {
    let get = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
    if get("ROUGE_OFFLINE") == Some("true") {
        return Vec::new();
    }
    let named: Vec<&str> = ["ANILIST", "JIKAN"]
        .into_iter()
        .filter(|s| {
            get(&format!("ROUGE_SOURCES__{s}__URL")).is_some()
                || get(&format!("ROUGE_SOURCES__{s}__ENABLED")).is_some()
        })
        .collect();
    if named.is_empty() {
        return vec![("ROUGE_OFFLINE".into(), "true".into())];
    }
    for source in ["ANILIST", "JIKAN"] {
        let off = get(&format!("ROUGE_SOURCES__{source}__ENABLED")) == Some("false");
        let url = get(&format!("ROUGE_SOURCES__{source}__URL")).unwrap_or("");
        assert!(
            off || url.starts_with("http://127.0.0.1:"),
            "refusing to start a bot whose {source} source is neither off nor on 127.0.0.1 ({url:?})"
        );
    }
    Vec::new()
}

/// Starts `rouge --data-dir <data> serve` in `data`'s parent with only `env`
/// set (and the live sources off unless `env` points them at mocks).
pub fn start(data: &Path, env: &[(&str, String)]) -> Serve {
    let sources = sources_env(env);
    let mut command = Command::new(env!("CARGO_BIN_EXE_rouge"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ROUGE_") || key.ends_with("_TOKEN") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
        .arg("--data-dir")
        .arg(data)
        .arg("serve")
        .current_dir(data.parent().expect("the data directory has a parent"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .envs(sources)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("rouge serve starts");
    let mut stderr = child.stderr.take().expect("stderr");
    let logs = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut bytes)
            .map(|_| String::from_utf8_lossy(&bytes).into_owned())
    });
    Serve {
        child,
        logs: Some(logs),
    }
}

impl Serve {
    /// Panics if the process has exited on its own.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("rouge serve exited by itself with {status:?}");
        }
    }

    /// Waits at most `within` for the process to exit by itself; returns
    /// the status and the logs.
    pub async fn wait_exit(mut self, within: Duration) -> (ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!("rouge serve did not exit within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let logs = self
            .logs
            .take()
            .expect("logs")
            .join()
            .expect("log reader")
            .unwrap_or_default();
        (status, logs)
    }

    /// SIGKILL: a crash.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Sends SIGTERM and waits at most `within` for the exit; returns the
    /// status and the logs.
    pub async fn terminate(mut self, within: Duration) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > within {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let logs = self
            .logs
            .take()
            .expect("logs")
            .join()
            .expect("log reader")
            .unwrap_or_default();
        match status {
            Some(status) => (status, logs),
            None => {
                panic!("rouge serve did not stop within {within:?} of SIGTERM; its logs:\n{logs}")
            }
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port()
}
