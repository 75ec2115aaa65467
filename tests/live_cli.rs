//! The live sources through the `rouge` binary, with the spec-checked AniList
//! and Jikan mocks on 127.0.0.1 standing in for the services: `rouge sync`
//! fills a bangumi-data entry's card, reads the airing window (adding what
//! airs and was not in the catalog), says how it went, and with the sources
//! down or off the bot answers from the store as before.

#[path = "support/anilist_mock.rs"]
mod anilist_mock;
#[path = "support/jikan_mock.rs"]
mod jikan_mock;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anilist_mock::{AniListMock, Failure};
use jikan_mock::JikanMock;
use serde_json::json;

/// Skips (with the reason) when `../shared` and its specs are absent.
macro_rules! require_specs {
    () => {
        if let Err(e) = anilist_mock::spec().and_then(|_| jikan_mock::spec().map(|_| ())) {
            println!("skipping: {e}");
            return;
        }
    };
}

/// Metallic Rouge as bangumi-data lists a work (its ids at AniList and
/// MyAnimeList included), and nothing else: no synopsis, genres or scores.
const BANGUMI_DATA: &str = r#"{"siteMeta": {}, "items": [{
  "title": "メタリックルージュ",
  "titleTranslate": {"en": ["Metallic Rouge"], "zh-Hans": ["金属胭脂"]},
  "type": "tv", "lang": "ja", "officialSite": "https://metallicrouge.jp/",
  "begin": "2024-01-10T16:25:00.000Z", "broadcast": "R/2024-01-10T16:25:00.000Z/P7D",
  "end": "2024-04-03T16:25:00.000Z", "comment": "",
  "sites": [{"site": "bangumi", "id": "425595"}, {"site": "mal", "id": "54794"},
            {"site": "aniList", "id": "162985"}]
}]}"#;

/// A data directory and the mocks the bot's sources point at.
struct Bot {
    dir: tempfile::TempDir,
    anilist: String,
    jikan: String,
}

impl Bot {
    fn new(anilist: &AniListMock, jikan: &JikanMock) -> Bot {
        let bot = Bot {
            dir: tempfile::tempdir().expect("tempdir"),
            anilist: anilist.url(),
            jikan: jikan.url(),
        };
        assert!(bot.anilist.starts_with("http://127.0.0.1:"));
        assert!(bot.jikan.starts_with("http://127.0.0.1:"));
        bot
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `rouge <args>` with the sources on the mocks (`live`) or off.
    fn run(&self, live: bool, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rouge"));
        cmd.arg("--data-dir").arg(self.data()).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("ROUGE_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        cmd.env("ROUGE_SEED_DEMO", "false");
        if live {
            cmd.env("ROUGE_OFFLINE", "false")
                .env("ROUGE_SOURCES__ANILIST__URL", &self.anilist)
                .env("ROUGE_SOURCES__JIKAN__URL", &self.jikan)
                .env("ROUGE_SOURCES__ANILIST__TIMEOUT_SECS", "2")
                .env("ROUGE_SOURCES__JIKAN__TIMEOUT_SECS", "2");
        } else {
            cmd.env("ROUGE_OFFLINE", "true");
        }
        cmd.output().expect("rouge runs")
    }

    fn import(&self, format: &str, file: &Path) {
        let out = self.run(
            false,
            &["import", "--format", format, file.to_str().expect("utf-8")],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// `rouge ask LINE` from the store alone.
    fn ask(&self, line: &str) -> String {
        let out = self.run(false, &["ask", line]);
        assert!(out.status.success(), "{line}: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn sync_fills_a_bangumi_data_card_from_both_sources() {
    require_specs!();
    let rt = runtime();
    let anilist = rt.block_on(AniListMock::start());
    let jikan = rt.block_on(JikanMock::start());
    let bot = Bot::new(&anilist, &jikan);
    let file = bot.dir.path().join("bangumi-data.json");
    std::fs::write(&file, BANGUMI_DATA).expect("write");
    bot.import("bangumi-data", &file);

    let before = bot.ask("/anime metallic rouge");
    assert!(!before.contains("MyAnimeList"), "no score yet: {before}");
    assert!(!before.contains("Mecha"), "no genres yet: {before}");

    let out = bot.run(true, &["sync", "metallic rouge"]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}\n{}", text(&out.stderr));
    assert!(
        said.contains("Refreshing 1 entry: anilist 1 request, jikan 1 request"),
        "{said}"
    );
    assert!(said.contains("Stored 2 updates"), "{said}");
    assert!(said.contains("anilist: 1 request,"), "{said}");
    assert_eq!(anilist.requests().len(), 1);
    assert_eq!(jikan.requests().len(), 1);
    anilist.assert_clean();
    jikan.assert_clean();

    // What the sources said is in the store: the card reads it offline.
    let card = bot.ask("/anime metallic rouge");
    let fixture = anilist.media(162_985).expect("the fixture");
    let genre = fixture["genres"][0].as_str().expect("a genre");
    assert!(card.contains(genre), "genres from AniList: {card}");
    assert!(card.contains("MyAnimeList 6.2"), "{card}");
    assert!(card.contains("AniList"), "{card}");
    let scores = bot.ask("/anime scores metallic rouge");
    assert!(
        scores.contains("48,213") || scores.contains("48213"),
        "{scores}"
    );
    assert!(
        scores.contains("as of"),
        "each source's as-of date: {scores}"
    );

    // An unknown title is refused with what to type instead.
    let out = bot.run(true, &["sync", "no such show at all"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Nothing matches"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sync_airing_adds_what_airs_and_the_airing_list_shows_its_episode() {
    require_specs!();
    let rt = runtime();
    let anilist = rt.block_on(AniListMock::start());
    let jikan = rt.block_on(JikanMock::start());
    let bot = Bot::new(&anilist, &jikan);
    let now = chrono::Utc::now().timestamp();
    anilist.put_media(json!({
        "id": 990_001, "type": "ANIME", "format": "TV", "status": "RELEASING",
        "title": {"romaji": "Kawagoe Test Monogatari", "english": "Kawagoe Test Story",
                  "native": "川越テスト物語", "userPreferred": "Kawagoe Test Monogatari"},
        "episodes": 12, "duration": 24, "genres": ["Comedy"], "isAdult": false,
        "startDate": {"year": 2026, "month": 10, "day": 4}
    }));
    anilist.set_airing(vec![json!({
        "id": 5_550_001, "airingAt": now + 3 * 3600, "episode": 9, "mediaId": 990_001
    })]);
    let file = bot.dir.path().join("bangumi-data.json");
    std::fs::write(&file, BANGUMI_DATA).expect("write");
    bot.import("bangumi-data", &file);

    let out = bot.run(true, &["sync", "--airing"]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}\n{}", text(&out.stderr));
    assert!(
        said.contains("Reading the airing schedule window"),
        "{said}"
    );
    anilist.assert_clean();

    let airing = bot.ask("/anime airing 2");
    assert!(
        airing.contains("Kawagoe Test") && airing.contains("episode 9"),
        "the discovered title with the source's episode number: {airing}"
    );
    assert!(!airing.contains("episode 10"), "{airing}");
}

#[test]
fn sync_with_the_sources_down_says_so_and_the_store_still_answers() {
    require_specs!();
    let rt = runtime();
    let anilist = rt.block_on(AniListMock::start());
    let jikan = rt.block_on(JikanMock::start());
    let bot = Bot::new(&anilist, &jikan);
    let file = bot.dir.path().join("bangumi-data.json");
    std::fs::write(&file, BANGUMI_DATA).expect("write");
    bot.import("bangumi-data", &file);
    anilist.fail_always(Failure::Unavailable);
    jikan.fail_always(jikan_mock::Failure::Unavailable);

    let out = bot.run(true, &["sync", "#1"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}\n{}", text(&out.stderr));
    assert!(said.contains("Stored 0 updates"), "{said}");
    assert!(
        said.contains("anilist: ") && said.contains("degraded"),
        "{said}"
    );

    // A look-up with the sources down answers from the store.
    let out = bot.run(true, &["ask", "/anime metallic rouge"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Metallic Rouge"));

    // Offline, sync has nothing to ask and says why.
    let out = bot.run(false, &["sync", "#1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the live sources are off"),
        "{}",
        text(&out.stderr)
    );
}
