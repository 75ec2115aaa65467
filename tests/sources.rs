//! The live sources (AniList, Jikan) against the spec-checked mocks on
//! 127.0.0.1: mapping, batching, the schedule, ETags, budgets, lock-outs
//! and failures. Nothing here reaches the internet.

#[path = "support/anilist_mock.rs"]
mod anilist_mock;
#[path = "support/jikan_mock.rs"]
mod jikan_mock;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anilist_mock::{AniListConfig, AniListMock, FIXTURE_NOW};
use chrono::{DateTime, NaiveDate, Utc};
use jikan_mock::{JikanConfig, JikanMock};
use rouge::core::catalog::model::{Kind, Season, SeasonName, Status, TitleLang};
use rouge::core::source::{Source, SourceEntry, SourceError};
use rouge::sources::{AniList, Jikan, RateLimit, SourceSettings, http_client};
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

/// Test settings: short timeouts and backoffs so failures are quick.
fn quick(url: String, base: SourceSettings) -> SourceSettings {
    SourceSettings {
        url,
        timeout: Duration::from_millis(500),
        max_wait: Duration::from_secs(3),
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..base
    }
}

fn anilist(mock: &AniListMock, change: impl FnOnce(&mut SourceSettings)) -> AniList {
    let mut settings = quick(mock.url(), SourceSettings::anilist());
    change(&mut settings);
    AniList::new(http_client().expect("a client"), settings)
}

fn jikan(mock: &JikanMock, change: impl FnOnce(&mut SourceSettings)) -> Jikan {
    let mut settings = quick(mock.url(), SourceSettings::jikan());
    // Jikan's own limit (3/s) is the mock's; staying at 2/s keeps tests quick.
    settings.limits = vec![RateLimit::per_second(2), RateLimit::per_minute(50)];
    change(&mut settings);
    Jikan::new(http_client().expect("a client"), settings)
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn titles(entry: &SourceEntry) -> Vec<(TitleLang, &str)> {
    entry
        .titles
        .iter()
        .map(|t| (t.lang, t.text.as_str()))
        .collect()
}

fn labels(entry: &SourceEntry) -> Vec<&str> {
    entry.links.iter().map(|l| l.label.as_str()).collect()
}

async fn fetch_one(source: &dyn Source, id: &str) -> SourceEntry {
    let mut entries = source.fetch(&ids(&[id])).await.expect("an answer");
    assert_eq!(entries.len(), 1, "one entry for {id}");
    entries.remove(0)
}

/// What both sources say of Metallic Rouge alike.
fn assert_metallic_rouge_facts(e: &SourceEntry) {
    assert_eq!(
        (e.kind, e.episodes, e.duration_min),
        (Some(Kind::Tv), Some(13), Some(24))
    );
    assert_eq!(e.status, Some(Status::Finished));
    let winter_2024 = Season {
        name: SeasonName::Winter,
        year: 2024,
    };
    assert_eq!(e.season, Some(winter_2024));
    assert_eq!(
        (e.aired_from, e.aired_to),
        (date(2024, 1, 11), date(2024, 4, 4))
    );
    assert_eq!(e.studios, ["Bones"]);
}

#[tokio::test]
async fn metallic_rouge_from_anilist() {
    require_specs!();
    let mock = AniListMock::start().await;
    let source = anilist(&mock, |_| {});
    let e = fetch_one(&source, "162985").await;
    assert_eq!(e.external_id, "162985");
    assert_eq!(e.other_ids, [("mal".to_owned(), "54794".to_owned())]);
    assert_eq!(
        titles(&e),
        [
            (TitleLang::Romaji, "Metallic Rouge"),
            (TitleLang::En, "Metallic Rouge"),
            (TitleLang::Ja, "メタリックルージュ"),
            (TitleLang::Synonym, "メタルージュ"),
            (TitleLang::Synonym, "MetaRouge"),
        ]
    );
    let synopsis = e.synopsis.as_deref().expect("a synopsis");
    assert!(synopsis.starts_with("Rouge Redstar, an android, travels"));
    assert!(synopsis.contains("Immortal Nine.\n\nAt her side is Naomi Orthmann"));
    assert!(synopsis.ends_with("opinions.\n\n(Hand-written description for tests.)"));
    assert!(!synopsis.contains('<'), "no markup: {synopsis}");
    assert!(
        e.picture
            .as_deref()
            .is_some_and(|p| p.ends_with("large/bx162985-test.jpg"))
    );
    assert_eq!(e.genres, ["Action", "Drama", "Mecha", "Sci-Fi"]);
    assert_eq!(
        e.tags,
        ["Androids", "Female Protagonist", "Space"],
        "no spoiler tags"
    );
    assert_metallic_rouge_facts(&e);
    assert_eq!(e.studios, ["Bones"], "main studios only");
    assert_eq!(
        labels(&e),
        ["Crunchyroll (English)", "Crunchyroll (German)", "AniList"]
    );
    assert_eq!(e.links[2].url, "https://anilist.co/anime/162985");
    assert!(e.relations.is_empty());
    assert_eq!(
        e.trailer.as_deref(),
        Some("https://www.youtube.com/watch?v=TESTtrail01")
    );
    assert_eq!((e.is_adult, e.popularity), (Some(false), Some(61_480)));
    let score = e.score.as_ref().expect("a score");
    assert_eq!(
        (score.source.as_str(), score.value, score.scale_max),
        ("anilist", 62.0, 100.0)
    );
    assert_eq!(score.votes, Some(21_500), "the sum of the distribution");
    assert_eq!(score.as_of, Some(today()));
    assert!(e.airings.is_empty() && e.rank.is_none() && e.broadcast.is_none());
    let request = &mock.requests()[0];
    assert!(
        request
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("Rouge/"))
    );
    assert_eq!(request.page_fields, ["media"]);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn anilist_spoilers_fuzzy_dates_and_the_next_airing() {
    require_specs!();
    let mock = AniListMock::start().await;
    mock.set_now(FIXTURE_NOW);
    let source = anilist(&mock, |_| {});
    let e = fetch_one(&source, "900001").await;
    let synopsis = e.synopsis.as_deref().expect("a synopsis");
    assert!(synopsis.contains("running away from something."));
    assert!(
        !synopsis.contains("towards the past"),
        "the spoiler is gone: {synopsis}"
    );
    assert!(!synopsis.contains("~!"));
    assert_eq!(e.tags, ["Track and Field", "School Club"]);
    assert_eq!(
        (e.status, e.aired_from, e.aired_to),
        (Some(Status::Airing), date(2026, 1, 8), None)
    );
    let next = DateTime::from_timestamp(1_769_698_800, 0).expect("a time");
    assert_eq!(e.airings, [(4, next)], "nextAiringEpisode");
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn metallic_rouge_from_jikan() {
    require_specs!();
    let mock = JikanMock::start().await;
    mock.change_anime(54794, |a| {
        a["synopsis"] = json!("Rouge hunts the Immortal Nine.\n\n[Written by MAL Rewrite]");
    });
    let source = jikan(&mock, |_| {});
    let e = fetch_one(&source, "54794").await;
    assert_eq!(e.external_id, "54794");
    assert_eq!(
        titles(&e),
        [
            (TitleLang::Romaji, "Metallic Rouge"),
            (TitleLang::En, "Metallic Rouge"),
            (TitleLang::Ja, "メタリックルージュ"),
        ]
    );
    assert_eq!(
        e.synopsis.as_deref(),
        Some("Rouge hunts the Immortal Nine.")
    );
    assert_eq!(
        e.picture.as_deref(),
        Some("https://cdn.myanimelist.net/images/anime/0/54794l.webp")
    );
    assert_eq!(
        e.genres,
        ["Action", "Sci-Fi", "Mecha"],
        "genres, then themes"
    );
    assert_metallic_rouge_facts(&e);
    assert_eq!(labels(&e), ["Crunchyroll", "MyAnimeList"]);
    let score = e.score.as_ref().expect("a score");
    assert_eq!(
        (score.source.as_str(), score.value, score.scale_max),
        ("mal", 6.2, 10.0)
    );
    assert_eq!((score.votes, score.as_of), (Some(48_213), Some(today())));
    assert_eq!(e.rank, Some(7412));
    assert_eq!(e.broadcast.as_deref(), Some("Thursdays at 00:00 (JST)"));
    assert_eq!(e.is_adult, Some(false));
    let schedule = source.schedule(Utc::now(), Utc::now() + chrono::Duration::days(7));
    assert_eq!(schedule.await, Ok(Vec::new()), "Jikan has no schedule");
    assert_eq!(mock.requests().len(), 1);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn anilist_batches_fifty_ids_a_request() {
    require_specs!();
    let mock = AniListMock::start().await;
    let source = anilist(&mock, |_| {});
    assert_eq!(source.batch(), 50);
    let mut asked: Vec<String> = (1..=116).map(|n| (800_000 + n).to_string()).collect();
    asked.extend(ids(&["162985", "900001", "900002", "900003", "not-an-id"]));
    let entries = source.fetch(&asked).await.expect("an answer");
    let mut found: Vec<&str> = entries.iter().map(|e| e.external_id.as_str()).collect();
    found.sort_unstable();
    assert_eq!(
        found,
        ["162985", "900001", "900002", "900003"],
        "unknown ids are left out"
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 3, "120 ids, 3 requests");
    assert!(requests.iter().all(|r| r.ids.len() <= 50));
    assert_eq!(requests.iter().map(|r| r.ids.len()).sum::<usize>(), 120);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn anilist_schedule_pages_through_the_window() {
    require_specs!();
    let mock = AniListMock::start().await;
    mock.set_now(FIXTURE_NOW);
    for n in 0..110 {
        mock.put_airing(json!({"airingAt": FIXTURE_NOW + 3600 + n * 60, "episode": 1000 + n, "mediaId": 900003}));
    }
    let from = DateTime::from_timestamp(FIXTURE_NOW - 2 * 86_400, 0).expect("a time");
    let to = DateTime::from_timestamp(FIXTURE_NOW + 7 * 86_400, 0).expect("a time");
    let expected: Vec<(i64, i64)> = {
        let mut rows: Vec<(i64, i64)> = mock
            .airing()
            .iter()
            .map(|a| {
                (
                    a["airingAt"].as_i64().unwrap_or(0),
                    a["episode"].as_i64().unwrap_or(0),
                )
            })
            .filter(|(at, _)| *at > from.timestamp() && *at <= to.timestamp())
            .collect();
        rows.sort_unstable();
        rows
    };
    let source = anilist(&mock, |_| {});
    let airings = source.schedule(from, to).await.expect("a schedule");
    let got: Vec<(i64, i64)> = airings
        .iter()
        .map(|a| (a.at.timestamp(), i64::from(a.episode)))
        .collect();
    assert_eq!(got, expected, "every airing of the window, in time order");
    assert!(expected.len() > 100);
    assert_eq!(
        mock.requests().len(),
        expected.len().div_ceil(50),
        "one request a page"
    );
    let relay = airings
        .iter()
        .find(|a| a.entry.external_id == "900001")
        .expect("Starlight Relay airs");
    assert!(titles(&relay.entry).contains(&(TitleLang::En, "Starlight Relay")));
    assert!(relay.entry.airings.contains(&(relay.episode, relay.at)));
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn jikan_revalidates_with_its_etag() {
    require_specs!();
    let mock = JikanMock::start().await;
    let source = jikan(&mock, |_| {});
    let first = fetch_one(&source, "54794").await;
    let second = fetch_one(&source, "54794").await;
    assert_eq!(second, first, "answered from the cache");
    let requests = mock.requests();
    assert_eq!(requests[0].if_none_match, None);
    assert!(requests[1].if_none_match.is_some());
    assert_eq!(requests[1].status, 304);
    mock.change_anime(54794, |a| a["score"] = json!(6.3));
    let third = fetch_one(&source, "54794").await;
    assert_eq!(
        mock.requests()[2].status,
        200,
        "a changed record is sent again"
    );
    assert_eq!(third.score.map(|s| s.value), Some(6.3));
    assert!(
        source
            .fetch(&ids(&["1"]))
            .await
            .expect("an answer")
            .is_empty(),
        "404: unknown"
    );
    assert_eq!(source.batch(), 1);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn anilist_keeps_its_budget_under_load() {
    require_specs!();
    let mock = AniListMock::start().await;
    let source = Arc::new(anilist(&mock, |s| s.max_wait = Duration::from_millis(300)));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let source = source.clone();
        calls.spawn(async move { source.fetch(&ids(&["162985"])).await });
    }
    let (mut ok, mut limited) = (0, 0);
    while let Some(done) = calls.join_next().await {
        match done.expect("a task") {
            Ok(entries) => {
                assert_eq!(entries.len(), 1);
                ok += 1;
            }
            Err(SourceError::RateLimited { .. }) => limited += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (ok, limited),
        (30, 10),
        "30 a minute, the rest refused in time"
    );
    assert_eq!(mock.requests().len(), 30);
    let status = source.status();
    assert_eq!(
        (status.requests, status.budget_left, status.rate_limited),
        (30, 0, 0)
    );
    assert!(status.healthy, "an exhausted budget is not a fault");
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn a_429_locks_anilist_out_for_its_retry_after() {
    require_specs!();
    // AniList's degraded mode: it claims 90 a minute and allows fewer, so a
    // client trusting `X-RateLimit-Remaining` meets a 429.
    let config = AniListConfig::default()
        .budget(2, Duration::from_secs(1))
        .lockout(Duration::from_secs(2))
        .advertise(90);
    let mock = AniListMock::start_with(config).await;
    let source = anilist(&mock, |_| {});
    let rouge = ids(&["162985"]);
    source.fetch(&rouge).await.expect("first");
    source.fetch(&rouge).await.expect("second");
    let refused = source.fetch(&rouge).await;
    let locked_at = Instant::now();
    assert_eq!(
        refused,
        Err(SourceError::RateLimited {
            retry_after: Duration::from_secs(2)
        })
    );
    let status = source.status();
    assert_eq!((status.rate_limited, status.healthy), (1, false));
    assert!(status.detail.is_some_and(|d| d.contains("429")));
    source.fetch(&rouge).await.expect("sent after the lock-out");
    assert!(
        locked_at.elapsed() >= Duration::from_millis(1900),
        "waited out the lock-out"
    );
    assert_eq!(mock.requests().len(), 4, "nothing sent during the lock-out");
    assert_eq!(
        mock.violations().len(),
        1,
        "only the request that found the limit"
    );
    assert!(mock.invalid_queries().is_empty() && mock.unsupported().is_empty());
    assert!(source.status().healthy);
    mock.stop().await;
}

#[tokio::test]
async fn a_403_switches_anilist_off_for_a_while() {
    require_specs!();
    let mock = AniListMock::start().await;
    mock.fail_next(1, anilist_mock::Failure::ApiDisabled);
    let source = anilist(&mock, |s| s.disabled_for = Duration::from_millis(400));
    let rouge = ids(&["162985"]);
    let first = source.fetch(&rouge).await;
    assert!(
        matches!(&first, Err(SourceError::Disabled(why)) if why.contains("disabled")),
        "{first:?}"
    );
    assert!(matches!(
        source.fetch(&rouge).await,
        Err(SourceError::Disabled(_))
    ));
    assert_eq!(mock.requests().len(), 1, "refused without sending");
    assert!(!source.status().healthy);
    tokio::time::sleep(Duration::from_millis(450)).await;
    source
        .fetch(&rouge)
        .await
        .expect("asks again after a while");
    assert!(source.status().healthy);
    mock.assert_clean();
    mock.stop().await;
}

/// The log lines written while a test runs on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

/// Serves each failure once (through `inject`) and checks the kind of error
/// the source answers, and that it reports itself degraded.
async fn expect_failures<F: std::fmt::Debug + Clone>(
    source: &dyn Source,
    id: &str,
    cases: &[(F, &str)],
    inject: impl Fn(F),
) {
    for (failure, expected) in cases {
        inject(failure.clone());
        let answer = source.fetch(&ids(&[id])).await;
        let kind = match &answer {
            Ok(_) => "ok",
            Err(SourceError::Transient(_)) => "transient",
            Err(SourceError::Malformed(_)) => "malformed",
            Err(SourceError::RateLimited { .. }) => "rate-limited",
            Err(SourceError::Disabled(_)) => "disabled",
            Err(SourceError::Off) => "off",
        };
        assert_eq!(kind, *expected, "{failure:?}: {answer:?}");
        assert!(!source.status().healthy, "{failure:?}");
    }
}

#[tokio::test]
async fn anilist_failures_are_errors_and_it_heals() {
    require_specs!();
    use anilist_mock::Failure;
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let dispatch = tracing::Dispatch::new(subscriber);
    // With a single live dispatcher, tracing caches a callsite's interest
    // from the first thread that reaches it (maybe another test's, with no
    // subscriber), and this test's lines would be lost; a second one makes
    // every thread ask its own.
    let _other = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::dispatcher::set_default(&dispatch);
    tracing::callsite::rebuild_interest_cache();
    let mock = AniListMock::start().await;
    let source = anilist(&mock, |_| {});
    let rouge = ids(&["162985"]);
    let cases = [
        (Failure::InternalError, "transient"),
        (Failure::BadGateway, "transient"),
        (Failure::Unavailable, "transient"),
        (Failure::Hang, "transient"),
        (Failure::DropConnection, "transient"),
        (Failure::MalformedJson, "malformed"),
    ];
    expect_failures(&source, "162985", &cases, |f| mock.fail_next(1, f)).await;
    assert_eq!(source.status().errors, 6);
    mock.fail_next(1, Failure::NullOptional);
    let bare = source.fetch(&rouge).await.expect("a partial answer");
    assert_eq!(bare[0].external_id, "162985");
    assert!(bare[0].titles.is_empty() && bare[0].score.is_none() && bare[0].synopsis.is_none());
    let status = source.status();
    assert!(status.healthy && status.detail.is_none(), "{status:?}");
    assert_eq!(fetch_one(&source, "162985").await.studios, ["Bones"]);
    assert_eq!(
        log.count("the source is degraded"),
        1,
        "logged once per change"
    );
    assert_eq!(log.count("the source is healthy again"), 1);
    assert_eq!(log.count("source=\"anilist\""), 2);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn jikan_failures_are_errors_and_it_heals() {
    require_specs!();
    use jikan_mock::Failure;
    let mock = JikanMock::start_with(JikanConfig::default()).await;
    let source = jikan(&mock, |s| s.lockout = Duration::from_millis(200));
    let rouge = ids(&["54794"]);
    let cases = [
        (Failure::InternalError, "transient"),
        (Failure::BadGateway, "transient"),
        (Failure::Unavailable, "transient"),
        (Failure::Hang, "transient"),
        (Failure::DropConnection, "transient"),
        (Failure::MalformedJson, "malformed"),
    ];
    expect_failures(&source, "54794", &cases, |f| mock.fail_next(1, f)).await;
    // MyAnimeList limiting Jikan: a 429 without Retry-After pauses for the setting.
    mock.fail_next(1, Failure::UpstreamRateLimited);
    let limited = Err(SourceError::RateLimited {
        retry_after: Duration::from_millis(200),
    });
    assert_eq!(source.fetch(&rouge).await, limited);
    assert!(!source.status().healthy);
    mock.fail_next(1, Failure::NullOptional);
    let bare = fetch_one(&source, "54794").await;
    assert_eq!(bare.external_id, "54794");
    assert!(bare.score.is_none() && bare.synopsis.is_none() && bare.episodes.is_none());
    assert!(source.status().healthy);
    let status = source.status();
    assert_eq!((status.errors, status.rate_limited), (6, 1));
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn a_backoff_longer_than_max_wait_is_refused_without_sending() {
    require_specs!();
    let mock = AniListMock::start().await;
    mock.fail_next(1, anilist_mock::Failure::Unavailable);
    let source = anilist(&mock, |s| {
        s.backoff = Duration::from_secs(30);
        s.max_backoff = Duration::from_secs(30);
        s.max_wait = Duration::from_millis(100);
    });
    let rouge = ids(&["162985"]);
    assert!(
        matches!(source.fetch(&rouge).await, Err(SourceError::Transient(m)) if m.contains("503"))
    );
    let again = source.fetch(&rouge).await;
    assert!(
        matches!(&again, Err(SourceError::Transient(m)) if m.contains("backing off")),
        "{again:?}"
    );
    assert_eq!(mock.requests().len(), 1);
    mock.assert_clean();
    mock.stop().await;
}
