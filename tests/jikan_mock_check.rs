//! Exercises tests/support/jikan_mock.rs with reqwest (only ever 127.0.0.1).

#[path = "support/jikan_mock.rs"]
mod jikan_mock;

use std::time::Duration;

use jikan_mock::{FIXTURE_NOW, Failure, JikanConfig, JikanMock, RateLimit};
use serde_json::{Value, json};

macro_rules! require_spec {
    () => {
        if let Err(e) = jikan_mock::spec() {
            println!("skipping: {e}");
            return;
        }
    };
}

/// A client that never goes through a proxy from the environment: requests stay on 127.0.0.1.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

async fn get_with(mock: &JikanMock, path: &str, if_none_match: Option<&str>) -> Answer {
    let mut request = client()
        .get(format!("{}{path}", mock.url()))
        .header("User-Agent", "rouge-test/0.1");
    if let Some(tag) = if_none_match {
        request = request.header("If-None-Match", tag);
    }
    let response = request.send().await.expect("request to the mock");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("answer body"),
    }
}

async fn get(mock: &JikanMock, path: &str) -> Answer {
    get_with(mock, path, None).await
}

/// A mock without a budget, for tests that send many requests.
async fn unlimited() -> JikanMock {
    JikanMock::start_with(JikanConfig::default().unlimited()).await
}

fn ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data list: {body}"))
        .iter()
        .map(|a| a["mal_id"].as_i64().expect("mal_id"))
        .collect()
}

#[tokio::test]
async fn every_fixture_is_served_and_fits_the_response_schemas() {
    require_spec!();
    let mock = unlimited().await;
    let all = mock.anime_ids();
    for id in [54794, 990001, 990002, 990003] {
        assert!(all.contains(&id), "fixture {id} missing: {all:?}");
    }
    for id in &all {
        let full = get(&mock, &format!("/anime/{id}/full")).await;
        assert_eq!(full.status, 200, "{}", full.text);
        let full = full.json();
        assert_eq!(full["data"]["mal_id"], *id);
        assert!(full["data"].get("relations").is_some());
        let short = get(&mock, &format!("/anime/{id}")).await;
        assert_eq!(short.status, 200, "{}", short.text);
        let short = short.json();
        assert_eq!(short["data"]["mal_id"], *id);
        assert!(
            short["data"].get("relations").is_none(),
            "/anime/{{id}} answers the `anime` subset"
        );
        // The same checks, directly against the document.
        let fixture = mock.anime(*id).expect("stored");
        mock.spec()
            .check("anime_full", &fixture)
            .expect("fits anime_full");
        mock.spec()
            .check("anime", &short["data"])
            .expect("fits anime");
    }
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn metallic_rouge_full_card_and_headers() {
    require_spec!();
    let mock = JikanMock::start().await;
    let answer = get(&mock, "/anime/54794/full").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json")
    );
    let etag = answer.header("etag").expect("ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 18,
        "{etag}"
    );
    assert!(
        answer
            .header("last-modified")
            .expect("Last-Modified")
            .ends_with(" GMT")
    );
    assert!(answer.header("expires").is_some());
    assert!(answer.header("x-request-fingerprint").is_some());
    let a = &answer.json()["data"];
    assert_eq!(a["score"], 6.2);
    assert!(a["scored_by"].as_i64().expect("scored_by") > 0);
    assert!(a["rank"].as_i64().is_some());
    assert!(a["synopsis"].as_str().expect("synopsis").contains("Rouge"));
    assert!(a["images"]["jpg"]["large_image_url"].is_string());
    assert_eq!(a["episodes"], 13);
    assert_eq!(a["season"], "winter");
    assert_eq!(a["year"], 2024);
    assert_eq!(a["studios"][0]["name"], "Bones");
    assert_eq!(a["themes"][0]["name"], "Mecha");
    assert_eq!(a["demographics"], json!([]));
    assert_eq!(a["broadcast"]["day"], "Thursdays");
    assert_eq!(a["broadcast"]["timezone"], "Asia/Tokyo");
    let r = &mock.requests()[0];
    assert_eq!(r.template.as_deref(), Some("/anime/{id}/full"));
    assert_eq!(r.mal_id(), Some(54794));
    assert_eq!(r.path, "/v4/anime/54794/full");
    assert_eq!(r.user_agent.as_deref(), Some("rouge-test/0.1"));
    assert_eq!(r.status, 200);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn unknown_id_is_404_in_jikans_shape() {
    require_spec!();
    let mock = JikanMock::start().await;
    let answer = get(&mock, "/anime/1/full").await;
    assert_eq!(answer.status, 404);
    let body = answer.json();
    assert_eq!(body["status"], 404);
    assert_eq!(body["type"], "BadResponseException");
    assert!(body["message"].is_string() && body.get("error").is_some());
    assert!(
        mock.invalid_requests().is_empty(),
        "a 404 for a valid path is not invalid"
    );
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn paths_and_parameters_are_checked_against_the_document() {
    require_spec!();
    let mock = unlimited().await;
    let cases: &[(&str, u16, &str)] = &[
        ("/anime/abc/full", 400, "must be an integer"),
        ("/anime/54794/fulll", 404, "no path of the document"),
        ("/animes", 404, "no path of the document"),
        ("/anime/54794/", 404, "no path of the document"),
        ("/schedules?filter=funday", 400, "one of monday"),
        ("/schedules?day=monday", 400, "not declared"),
        ("/anime/54794/full?fields=score", 400, "not declared"),
        ("/seasons/now?limit=26", 400, "limit"),
        ("/seasons/now?page=0", 400, "page"),
        ("/seasons/now?limit=ten", 400, "must be an integer"),
        ("/seasons/2024/autumn", 400, "season"),
        ("/seasons/twenty/winter", 400, "must be an integer"),
        ("/anime?sfw=yes", 400, "boolean"),
        ("/anime?min_score=high", 400, "must be a number"),
        ("/anime?type=series", 400, "one of tv"),
        ("/anime?order_by=score&sort=up", 400, "one of desc"),
    ];
    for (i, (path, status, needle)) in cases.iter().enumerate() {
        let answer = get(&mock, path).await;
        assert_eq!(answer.status, *status, "{path}: {}", answer.text);
        let body = answer.json();
        assert_eq!(body["status"], *status, "{body}");
        assert!(body["type"].as_str().expect("type").ends_with("Exception"));
        assert!(body.get("error").is_some(), "{body}");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains(needle),
            "{path}: `{needle}` not in {message}"
        );
        let invalid = mock.invalid_requests();
        assert_eq!(invalid.len(), i + 1, "{path} not recorded");
        assert_eq!(invalid[i].target, format!("/v4{path}"));
        if let Some((_, q)) = path.split_once('?') {
            let logged = &mock.requests()[i];
            assert_eq!(
                logged.query.len(),
                q.split('&').count(),
                "{path}: {logged:?}"
            );
        }
    }
    // Outside /v4, and a method Jikan does not serve.
    let outside = client()
        .get(format!("http://{}/anime/54794/full", mock.addr()))
        .send()
        .await
        .expect("request");
    assert_eq!(outside.status().as_u16(), 404);
    let post = client()
        .post(format!("{}/anime/54794", mock.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(post.status().as_u16(), 405);
    assert_eq!(mock.invalid_requests().len(), cases.len() + 2);
    // Valid spellings: flags without a value, encoded values, declared enums.
    for path in [
        "/seasons/now?sfw&continuing",
        "/seasons/now?sfw=true&filter=tv&limit=25&page=1",
        "/anime?q=metallic%20rouge&type=tv&min_score=6",
        "/schedules?filter=friday&kids=false",
    ] {
        let answer = get(&mock, path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
    }
    assert_eq!(mock.invalid_requests().len(), cases.len() + 2);
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.assert_clean())).is_err()
    );
    mock.stop().await;
}

#[tokio::test]
async fn schedules_and_seasons() {
    require_spec!();
    let mock = unlimited().await;
    mock.set_now(FIXTURE_NOW);
    let body = get(&mock, "/schedules").await.json();
    assert_eq!(
        ids(&body),
        vec![990001, 990002, 990003],
        "airing entries only"
    );
    assert_eq!(
        body["pagination"],
        json!({"last_visible_page": 1, "has_next_page": false, "current_page": 1,
               "items": {"count": 3, "total": 3, "per_page": 25}})
    );
    assert!(body["data"][0].get("relations").is_none());
    assert_eq!(
        ids(&get(&mock, "/schedules?filter=friday").await.json()),
        vec![990001]
    );
    assert_eq!(
        ids(&get(&mock, "/schedules?filter=sunday").await.json()),
        vec![990002]
    );
    assert!(ids(&get(&mock, "/schedules?filter=unknown").await.json()).is_empty());
    assert!(ids(&get(&mock, "/schedules?kids=true").await.json()).is_empty());

    assert_eq!(
        ids(&get(&mock, "/seasons/now").await.json()),
        vec![990001, 990003]
    );
    assert_eq!(
        ids(&get(&mock, "/seasons/now?continuing").await.json()),
        vec![990001, 990002, 990003]
    );
    assert_eq!(
        ids(&get(&mock, "/seasons/now?filter=ona").await.json()),
        vec![990003]
    );
    assert_eq!(
        ids(&get(&mock, "/seasons/2024/winter").await.json()),
        vec![54794]
    );
    assert_eq!(
        ids(&get(&mock, "/seasons/2025/fall").await.json()),
        vec![990002]
    );
    assert!(ids(&get(&mock, "/seasons/upcoming").await.json()).is_empty());

    let second = get(&mock, "/schedules?limit=2&page=2").await.json();
    assert_eq!(ids(&second), vec![990003]);
    assert_eq!(
        second["pagination"],
        json!({"last_visible_page": 2, "has_next_page": false, "current_page": 2,
               "items": {"count": 1, "total": 3, "per_page": 2}})
    );
    let first = get(&mock, "/schedules?limit=2").await.json();
    assert_eq!(first["pagination"]["has_next_page"], true);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn search_filters_and_order() {
    require_spec!();
    let mock = unlimited().await;
    assert_eq!(ids(&get(&mock, "/anime?q=ROUGE").await.json()), vec![54794]);
    assert_eq!(
        ids(&get(&mock, "/anime?q=gearwork").await.json()),
        vec![990002]
    );
    assert_eq!(
        ids(&get(&mock, "/anime?status=airing&order_by=score&sort=desc")
            .await
            .json()),
        vec![990001, 990002, 990003],
        "null scores last"
    );
    assert_eq!(
        ids(&get(&mock, "/anime?genres=18").await.json()),
        vec![54794]
    );
    assert_eq!(
        ids(&get(&mock, "/anime?type=tv&genres_exclude=1&min_score=6.5")
            .await
            .json()),
        vec![990001, 990002]
    );
    assert_eq!(
        ids(&get(&mock, "/anime?letter=m&status=complete").await.json()),
        vec![54794]
    );
    mock.assert_clean();
    // Valid but not implemented: loud.
    let answer = get(&mock, "/anime?producers=4").await;
    assert_eq!(answer.status, 501);
    let answer = get(&mock, "/anime/54794/episodes").await;
    assert_eq!(answer.status, 501);
    assert_eq!(mock.unsupported().len(), 2, "{:?}", mock.unsupported());
    assert!(mock.invalid_requests().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn etag_and_if_none_match() {
    require_spec!();
    let mock = unlimited().await;
    let first = get(&mock, "/anime/54794/full").await;
    let etag = first.header("etag").expect("ETag");
    let first_tag = etag.clone();
    let again = get(&mock, "/anime/54794/full").await;
    assert_eq!(
        again.header("etag").as_deref(),
        Some(etag.as_str()),
        "stable"
    );

    let cached = get_with(&mock, "/anime/54794/full", Some(&etag)).await;
    assert_eq!(cached.status, 304);
    assert!(cached.text.is_empty());
    assert_eq!(cached.header("etag").as_deref(), Some(etag.as_str()));
    let weak = get_with(&mock, "/anime/54794/full", Some(&format!("W/{etag}"))).await;
    assert_eq!(weak.status, 304);
    let other = get_with(&mock, "/anime/54794/full", Some("\"0000000000000000\"")).await;
    assert_eq!(other.status, 200);
    let short = get(&mock, "/anime/54794").await;
    assert_ne!(
        short.header("etag"),
        Some(etag.clone()),
        "another body, another tag"
    );

    assert!(mock.change_anime(54794, |a| a["score"] = json!(6.3)));
    let changed = get_with(&mock, "/anime/54794/full", Some(&etag)).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag));
    assert_eq!(changed.json()["data"]["score"], 6.3);
    assert!(!mock.change_anime(1, |_| {}));
    let log = mock.requests();
    assert_eq!(log[0].if_none_match, None);
    assert_eq!(log[2].if_none_match.as_deref(), Some(first_tag.as_str()));
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn fixtures_that_drift_from_the_document_are_refused() {
    require_spec!();
    let mock = JikanMock::start_with(JikanConfig::default().without_fixtures()).await;
    let good = {
        let full = JikanMock::start_with(JikanConfig::default().unlimited()).await;
        let a = full.anime(54794).expect("fixture");
        full.stop().await;
        a
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("score", json!("6.2"), "anime_full.score: expected number"),
        (
            "scored_by",
            json!(1.5),
            "anime_full.scored_by: expected integer",
        ),
        ("status", json!("Airing"), "anime_full.status"),
        ("synopsis", Value::Null, ""),
        ("airing", Value::Null, "anime_full.airing: null"),
        (
            "genres",
            json!([{"mal_id": "1"}]),
            "anime_full.genres[0].mal_id",
        ),
        (
            "broadcast",
            json!({"day": "Thursdays", "tz": "JST"}),
            "`tz` is not declared",
        ),
    ];
    for (field, value, needle) in cases {
        let mut record = good.clone();
        record[field] = value;
        let m = mock.clone();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || m.put_anime(record)));
        if needle.is_empty() {
            assert!(result.is_ok(), "{field}: a nullable field may be null");
            continue;
        }
        let err = result.expect_err("refused");
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{field}: `{needle}` not in {message}"
        );
    }
    let mut typo = good.clone();
    typo["scoredby"] = json!(1);
    let m = mock.clone();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || m.put_anime(typo)))
        .expect_err("an undeclared property is refused");
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("`scoredby` is not declared"), "{message}");
    // List answers are checked with the same machinery.
    let spec = mock.spec();
    assert!(
        spec.check("anime_search", &json!({"data": [{"mal_id": "x"}]}))
            .is_err()
    );
    assert!(
        spec.check(
            "anime_search",
            &json!({"data": [], "pagination": {"has_next_page": false}})
        )
        .is_ok()
    );
    mock.stop().await;
}

#[tokio::test]
async fn budget_per_second_is_429_with_retry_after_and_a_violation() {
    require_spec!();
    let mock = JikanMock::start().await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(get(&mock, "/anime/54794").await.status, 200);
    }
    let refused = get(&mock, "/anime/54794").await;
    if started.elapsed() > Duration::from_millis(800) {
        println!("skipping: the machine is too slow to check a one-second window");
        mock.stop().await;
        return;
    }
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));
    let body = refused.json();
    assert_eq!(body["status"], 429);
    assert_eq!(body["type"], "RateLimitException");
    assert_eq!(mock.violations().len(), 1);
    assert_eq!(mock.violations()[0].request, 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&mock, "/anime/54794").await.status, 200);
    assert_eq!(mock.violations().len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn budget_per_minute() {
    require_spec!();
    let config = JikanConfig::default().limits(vec![RateLimit {
        max: 5,
        per: Duration::from_secs(60),
    }]);
    let mock = JikanMock::start_with(config).await;
    for _ in 0..5 {
        assert_eq!(get(&mock, "/anime/54794").await.status, 200);
    }
    let refused = get(&mock, "/anime/54794").await;
    assert_eq!(refused.status, 429);
    let wait: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((59..=60).contains(&wait), "{wait}");
    assert_eq!(mock.violations().len(), 1);
    mock.reset_budget();
    assert_eq!(get(&mock, "/anime/54794").await.status, 200);
    mock.stop().await;
}

#[tokio::test]
async fn server_errors_and_upstream_limits() {
    require_spec!();
    let mock = unlimited().await;
    mock.fail_next(1, Failure::InternalError);
    mock.fail_next(1, Failure::BadGateway);
    mock.fail_next(1, Failure::Unavailable);
    mock.fail_next(1, Failure::UpstreamRateLimited);
    let a = get(&mock, "/anime/54794/full").await;
    assert_eq!(a.status, 500);
    assert_eq!(a.json()["type"], "InternalException");
    assert!(a.json()["report_url"].is_string());
    let a = get(&mock, "/anime/54794/full").await;
    assert_eq!(a.status, 502);
    assert!(serde_json::from_str::<Value>(&a.text).is_err());
    let a = get(&mock, "/anime/54794/full").await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["type"], "ServiceUnavailableException");
    let a = get(&mock, "/anime/54794/full").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json()["type"], "RateLimitException");
    assert!(
        mock.violations().is_empty(),
        "MAL limiting Jikan is not the client's fault"
    );
    assert_eq!(get(&mock, "/anime/54794/full").await.status, 200);
    // A permanent mode; invalid requests are still caught first.
    mock.fail_always(Failure::Unavailable);
    assert_eq!(get(&mock, "/anime/54794/full").await.status, 503);
    assert_eq!(get(&mock, "/anime/x/full").await.status, 400);
    mock.clear_failures();
    assert_eq!(get(&mock, "/anime/54794/full").await.status, 200);
    let failures: Vec<Option<Failure>> = mock.requests().into_iter().map(|r| r.failure).collect();
    assert_eq!(failures[0], Some(Failure::InternalError));
    assert_eq!(failures[4], None);
    mock.stop().await;
}

#[tokio::test]
async fn hang_and_dropped_connection() {
    require_spec!();
    let mock = unlimited().await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let url = format!("{}/anime/54794/full", mock.url());
    mock.fail_next(1, Failure::Hang);
    let err = client
        .get(&url)
        .send()
        .await
        .expect_err("a hang never answers");
    assert!(err.is_timeout(), "{err:?}");
    mock.fail_next(1, Failure::DropConnection);
    let err = client.get(&url).send().await.expect_err("no answer");
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    let ok = client.get(&url).send().await.expect("answered");
    assert_eq!(ok.status().as_u16(), 200);
    let statuses: Vec<u16> = mock.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 0, 200]);
    mock.stop().await;
}

#[tokio::test]
async fn malformed_json_and_null_optional_answers() {
    require_spec!();
    let mock = unlimited().await;
    mock.fail_next(1, Failure::MalformedJson);
    let a = get(&mock, "/anime/54794/full").await;
    assert_eq!(a.status, 200);
    assert!(serde_json::from_str::<Value>(&a.text).is_err());
    assert!(a.header("etag").is_none());

    mock.fail_next(1, Failure::NullOptional);
    let a = get(&mock, "/anime/54794/full").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let data = &a.json()["data"];
    assert_eq!(data["mal_id"], 54794, "not nullable, kept");
    for field in [
        "score",
        "scored_by",
        "rank",
        "synopsis",
        "episodes",
        "season",
        "year",
        "type",
    ] {
        assert_eq!(data[field], Value::Null, "{field}");
    }
    assert_eq!(data["broadcast"]["day"], Value::Null);
    assert_eq!(data["images"]["jpg"]["image_url"], Value::Null);
    assert!(data["genres"].is_array(), "arrays stay");
    assert_eq!(data["genres"][0]["name"], "Action");

    mock.fail_next(1, Failure::NullOptional);
    let list = get(&mock, "/schedules").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["data"][0]["broadcast"]["day"], Value::Null);
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn concurrent_requests_share_one_budget() {
    require_spec!();
    let config = JikanConfig::default().limits(vec![RateLimit {
        max: 3,
        per: Duration::from_secs(30),
    }]);
    let mock = JikanMock::start_with(config).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let mock = mock.clone();
        tasks.push(tokio::spawn(async move {
            get(&mock, "/anime/54794").await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(mock.violations().len(), 7);
    mock.stop().await;
}
