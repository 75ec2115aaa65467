//! The `rouge` binary end to end, as DESIGN.md's CLI contract describes it:
//! each test runs the real executable on a fresh data directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Rouge {
    dir: tempfile::TempDir,
}

impl Rouge {
    fn new() -> Rouge {
        Rouge {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rouge"));
        cmd.arg("--data-dir").arg(self.data()).args(args);
        // The environment is a config layer; keep the developer's out of it.
        for (key, _) in std::env::vars() {
            if key.starts_with("ROUGE_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        // No test reaches the live sources.
        cmd.env("ROUGE_OFFLINE", "true");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("rouge runs")
    }

    fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rouge starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("rouge finishes")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn shared_data() -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bangumi-data.json"
    ));
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipping: {} not found (the ../shared folder is not beside the repository)",
            path.display()
        );
        None
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn a_fresh_data_directory_answers_the_seed_entry() {
    let rouge = Rouge::new();
    let out = rouge.run(&["ask", "/anime metallic rouge"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for fact in [
        "Metallic Rouge",
        "TV",
        "Episodes: 13 × 24 min",
        "Tamil",
        "480p, 720p, 1080p",
        "IMDb 5.9",
        "MyAnimeList 6.2",
        "average 6.1",
        "be the first",
    ] {
        assert!(text.contains(fact), "missing {fact:?} in:\n{text}");
    }

    let json = rouge.run(&["ask", "--json", "/anime metallic rouge"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON reply");
    assert_eq!(value["type"], "card");
    assert_eq!(value["episodes"], 13);
    assert_eq!(value["scores"]["summary"], 6.1);
}

#[test]
fn the_console_follows_browses_and_forgets() {
    let rouge = Rouge::new();
    let ask = |line: &str| {
        let out = rouge.run(&["ask", "--as-user", "bob", line]);
        assert!(out.status.success(), "{line}: {}", stdout(&out));
        stdout(&out)
    };
    let season = ask("/anime season fall 2023");
    assert!(
        season.contains("Fall 2023: 1 title") && season.contains("Frieren"),
        "{season}"
    );
    assert!(ask("/anime random mecha").contains("Metallic Rouge"));
    assert!(ask("/anime related frieren").contains("No relations"));
    assert!(ask("/anime follow frieren").contains("You follow"));
    assert!(ask("/anime following").contains("Frieren"));
    let forgotten = ask("/anime me forget");
    assert!(forgotten.contains("1 follow"), "{forgotten}");
    assert!(ask("/anime following").contains("You follow nothing"));
}

#[test]
fn local_users_other_than_the_owner_cannot_edit() {
    let rouge = Rouge::new();
    let refused = rouge.run(&["ask", "--as-user", "bob", "/anime admin edit #1 episodes=2"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout(&refused).contains("Not allowed"),
        "{}",
        stdout(&refused)
    );

    let edited = rouge.run(&["ask", "/anime admin edit #1 episodes=14"]);
    assert!(edited.status.success(), "{}", stdout(&edited));
    let card = stdout(&rouge.run(&["ask", "--as-user", "bob", "/anime #1"]));
    assert!(card.contains("Episodes: 14"), "{card}");
    let audit = stdout(&rouge.run(&["ask", "/anime admin audit #1"]));
    assert!(
        audit.contains("local:owner") && audit.contains("episodes: 13 → 14"),
        "{audit}"
    );
}

#[test]
fn bangumi_data_import_then_search_in_three_scripts() {
    let Some(data) = shared_data() else { return };
    let rouge = Rouge::new();
    let out = rouge.run(&[
        "import",
        "--format",
        "bangumi-data",
        data.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("added"), "{}", stdout(&out));

    let lines = rouge.run_with_input(
        &["search", "--json"],
        "metalic rouge\n金属口红\nメタリックルージュ\n\n",
    );
    assert!(lines.status.success(), "{}", stderr(&lines));
    let replies: Vec<serde_json::Value> = stdout(&lines)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(replies.len(), 4);
    for reply in &replies[..3] {
        let first = &reply["results"][0];
        assert_eq!(first["title"], "メタリックルージュ", "{reply}");
        assert_eq!(first["external_ids"]["bangumi"], "425595");
        assert_eq!(first["external_ids"]["mal"], "54794");
    }
    assert_eq!(replies[3]["results"], serde_json::json!([]));

    // The demo entry and the imported one are the same anime: merged by id.
    let one = stdout(&rouge.run(&["search", "--json", "--limit", "3", "Metallic Rouge"]));
    let value: serde_json::Value = serde_json::from_str(&one).expect("JSON");
    assert_eq!(value["results"][0]["id"], 1);
    assert_ne!(value["results"][1]["title"], "メタリックルージュ");

    // Re-importing updates, never duplicates.
    let again = rouge.run(&[
        "import",
        "--format",
        "bangumi-data",
        data.to_str().expect("utf-8 path"),
    ]);
    assert!(stdout(&again).contains(" 0 added"), "{}", stdout(&again));
}

#[test]
fn export_import_round_trip_through_files() {
    let rouge = Rouge::new();
    rouge.run(&["ask", "/anime admin episode #1 ep=13 audio=Tamil qualities=480p/720p/1080p at=2024-04-03T17:00:00Z"]);
    let file = rouge.dir.path().join("catalog.json");
    let out = rouge.run(&["export", "--out", file.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));

    let other = Rouge::new();
    std::fs::write(other.dir.path().join("rouge.toml"), "seed_demo = false\n").expect("config");
    let config = other.dir.path().join("rouge.toml");
    let config = config.to_str().expect("utf-8 path");
    let imported = other.run(&[
        "--config",
        config,
        "import",
        "--format",
        "rouge",
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let exported = other.run(&["--config", config, "export"]);
    assert_eq!(
        stdout(&exported),
        std::fs::read_to_string(&file).expect("read export")
    );
}

#[test]
fn a_malformed_import_file_is_refused_and_changes_nothing() {
    let rouge = Rouge::new();
    let before = stdout(&rouge.run(&["export"]));
    let bad = rouge.dir.path().join("bad.json");
    std::fs::write(&bad, "{\"items\": 5}").expect("write");
    let out = rouge.run(&[
        "import",
        "--format",
        "bangumi-data",
        bad.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("catalog is unchanged"),
        "{}",
        stderr(&out)
    );
    let missing = rouge.run(&["import", "--format", "rouge", "/nonexistent/file.json"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("cannot read"),
        "{}",
        stderr(&missing)
    );
    assert_eq!(stdout(&rouge.run(&["export"])), before);
}

#[test]
fn offline_db_json_and_jsonl_merge_into_the_demo_entry() {
    let rouge = Rouge::new();
    for file in ["offline-db-sample.json", "offline-db-sample.jsonl"] {
        let out = rouge.run(&[
            "import",
            "--format",
            "offline-db",
            fixture(file).to_str().expect("utf-8 path"),
        ]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
    }
    let value: serde_json::Value = serde_json::from_slice(
        &rouge
            .run(&["ask", "--json", "/anime metallic rouge"])
            .stdout,
    )
    .expect("JSON");
    assert_eq!(value["id"], 1);
    let sources: Vec<&str> = value["scores"]["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(|s| s["source"].as_str())
        .collect();
    assert!(
        sources.contains(&"offline-db") && sources.contains(&"imdb"),
        "{sources:?}"
    );
    let export: serde_json::Value =
        serde_json::from_slice(&rouge.run(&["export"]).stdout).expect("JSON");
    let entries = export["entries"].as_array().expect("entries");
    let rouges = entries
        .iter()
        .filter(|e| e["external_ids"]["mal"] == "54794")
        .count();
    assert_eq!(rouges, 1, "matched by MyAnimeList id, not duplicated");
}

#[test]
fn the_console_reads_piped_lines() {
    let rouge = Rouge::new();
    let out = rouge.run_with_input(
        &["console"],
        "metallic rouge\n/anime admin episode #1 ep=13 audio=Tamil\n/anime rate #1 11\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Metallic Rouge (#1)"), "{text}");
    assert!(text.contains("released episode 13, Tamil audio"), "{text}");
    assert!(text.contains("1 to 10"), "{text}");
}

#[test]
fn configuration_errors_are_named() {
    let rouge = Rouge::new();
    let out = rouge.run(&["--config", "/nonexistent/rouge.toml", "ask", "/anime help"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let bad = rouge.dir.path().join("bad.toml");
    std::fs::write(&bad, "owners = [\"nobody\"]\n").expect("write");
    let out = rouge.run(&[
        "--config",
        bad.to_str().expect("utf-8 path"),
        "ask",
        "/anime help",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nobody"), "{}", stderr(&out));
}

#[test]
fn backup_and_restore_round_trip_and_restore_needs_an_empty_directory() {
    let rouge = Rouge::new();
    rouge.run(&["ask", "/anime admin episode #1 ep=13 audio=Tamil"]);
    rouge.run(&["ask", "/anime subscribe metallic rouge"]);
    rouge.run(&["ask", "--as-user", "alice", "/anime rate #1 9"]);
    let file = rouge.dir.path().join("rouge.backup");
    let file_arg = file.to_str().expect("utf-8 path");
    let out = rouge.run(&["backup", "--out", file_arg]);
    assert!(out.status.success(), "{}", stderr(&out));

    let other = Rouge::new();
    let restored = other.run(&["restore", file_arg]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert!(
        stdout(&restored).contains("16 entries"),
        "{}",
        stdout(&restored)
    );
    assert_eq!(
        stdout(&other.run(&["export"])),
        stdout(&rouge.run(&["export"]))
    );
    let subs = stdout(&other.run(&["ask", "/anime subscriptions"]));
    assert!(subs.contains("Metallic Rouge"), "{subs}");
    let card = stdout(&other.run(&["ask", "/anime #1"]));
    assert!(card.contains("Community: 1 rating so far"), "{card}");

    // A second restore would mix two stores: refused, nothing changed.
    let again = other.run(&["restore", file_arg]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    std::fs::write(
        rouge.dir.path().join("bad.backup"),
        "{\"format\":\"rouge-catalog\"}",
    )
    .expect("write");
    let bad = Rouge::new().run(&[
        "restore",
        rouge
            .dir
            .path()
            .join("bad.backup")
            .to_str()
            .expect("utf-8 path"),
    ]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("not a rouge backup"),
        "{}",
        stderr(&bad)
    );
}

/// Kubernetes injects `ROUGE_PORT` and friends into every pod of a Service
/// named "rouge": they are not settings, so they are ignored with one
/// warning instead of stopping every subcommand.
#[test]
fn environment_variables_that_are_not_settings_are_ignored() {
    let rouge = Rouge::new();
    let out = rouge
        .command(&["ask", "/anime metallic rouge"])
        .env("ROUGE_PORT", "tcp://10.0.0.1:9464")
        .env("ROUGE_SERVICE_HOST", "10.0.0.1")
        .env("ROUGE_PORT_9464_TCP_ADDR", "10.0.0.1")
        .env("ROUGE_SEARCH__PICKER_SIZE", "8")
        .output()
        .expect("rouge runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(
        log.contains("ROUGE_PORT") && log.contains("ROUGE_SERVICE_HOST"),
        "one warning names them: {log}"
    );
    assert!(
        !log.contains("ROUGE_SEARCH__PICKER_SIZE"),
        "a real setting is not ignored: {log}"
    );
    // A real setting with a bad value is still an error.
    let bad = rouge
        .command(&["ask", "/anime metallic rouge"])
        .env("ROUGE_SEARCH__PICKER_SIZE", "99")
        .output()
        .expect("rouge runs");
    assert!(!bad.status.success());
}

/// An empty data directory setting is refused (it would put the store in
/// the working directory); a line of standard input that is not UTF-8 is
/// skipped, not the end of the session.
#[test]
fn an_empty_data_dir_is_refused_and_bad_input_lines_are_skipped() {
    let rouge = Rouge::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rouge"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ROUGE_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .current_dir(rouge.dir.path())
        .env("ROUGE_DATA_DIR", "")
        .env("ROUGE_OFFLINE", "true")
        .args(["ask", "/anime help"])
        .output()
        .expect("rouge runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("data_dir is empty"),
        "{}",
        stderr(&out)
    );
    assert!(
        std::fs::read_dir(rouge.dir.path())
            .expect("dir")
            .next()
            .is_none(),
        "nothing was written to the working directory"
    );
    let mut child = rouge
        .command(&["search", "--limit", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rouge runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"frieren\n\xff\xfe broken\nmetallic rouge\n")
        .expect("write");
    let out = child.wait_with_output().expect("done");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("line 2 is not UTF-8"),
        "{}",
        stderr(&out)
    );
}

/// A failed restore leaves nothing behind, so it can simply run again; a
/// backup is never written inside the data directory; writing to a full
/// disk (or /dev/full) is an error, never a success, and leaves no
/// half-written file.
#[test]
fn restores_and_backups_fail_cleanly() {
    let source = Rouge::new();
    assert!(source.run(&["ask", "/anime help"]).status.success());
    let good = source.dir.path().join("good.backup");
    let out = source.run(&["backup", "--out", good.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A backup whose entry is not valid (a javascript: picture).
    // Records are hex in the backup: spoil the seed entry's official site.
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let text = std::fs::read_to_string(&good).expect("read");
    let bad_text = text.replacen(
        &hex("https://metallicrouge.jp/"),
        &hex("javascript:alert(1)"),
        1,
    );
    assert!(bad_text != text, "the backup has a URL to spoil");
    let bad = source.dir.path().join("bad.backup");
    std::fs::write(&bad, bad_text).expect("write");

    let target = Rouge::new();
    let failed = target.run(&["restore", bad.to_str().expect("utf-8")]);
    assert!(!failed.status.success());
    assert!(
        std::fs::read_dir(target.dir.path())
            .expect("dir")
            .all(|e| !e
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .contains("data")),
        "nothing is left of the failed restore"
    );
    let retried = target.run(&["restore", good.to_str().expect("utf-8")]);
    assert!(retried.status.success(), "{}", stderr(&retried));

    let inside = source.data().join("db");
    let refused = source.run(&["backup", "--out", inside.to_str().expect("utf-8")]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("inside the data directory"),
        "{}",
        stderr(&refused)
    );

    if Path::new("/dev/full").exists() {
        let full = source.run(&["export", "--out", "/dev/full"]);
        assert!(
            !full.status.success(),
            "writing to /dev/full cannot succeed"
        );
        assert!(stderr(&full).contains("disk full"), "{}", stderr(&full));
        let meta = std::fs::metadata("/dev/full").expect("still there");
        assert!(!meta.is_file(), "the device was not replaced by a file");
        assert!(!Path::new("/dev/full.partial").exists());
    }
}
