//! Exercises tests/support/anilist_mock.rs with reqwest (only ever 127.0.0.1).

#[path = "support/anilist_mock.rs"]
mod anilist_mock;

use std::time::Duration;

use anilist_mock::{AniListConfig, AniListMock, FIXTURE_NOW, Failure};
use serde_json::{Value, json};

macro_rules! require_spec {
    () => {
        if let Err(e) = anilist_mock::spec() {
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

async fn post_body(mock: &AniListMock, body: Value) -> Answer {
    let response = client()
        .post(mock.url())
        .header("User-Agent", "rouge-test/0.1")
        .json(&body)
        .send()
        .await
        .expect("request to the mock");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("answer body"),
    }
}

async fn post(mock: &AniListMock, query: &str, variables: Value) -> Answer {
    post_body(mock, json!({ "query": query, "variables": variables })).await
}

const CARD_QUERY: &str = r#"
query Card($ids: [Int], $page: Int = 1) {
  Page(page: $page, perPage: 50) {
    pageInfo { total perPage currentPage lastPage hasNextPage }
    media(id_in: $ids, type: ANIME) {
      id idMal
      title { romaji english native userPreferred }
      synonyms
      description(asHtml: false)
      coverImage { extraLarge large medium color }
      bannerImage genres
      tags { name rank isMediaSpoiler isGeneralSpoiler isAdult category }
      format episodes duration status season seasonYear
      startDate { year month day }
      endDate { year month day }
      studios(isMain: true) { edges { isMain node { id name } } nodes { id name } }
      streamingEpisodes { title thumbnail url site }
      externalLinks { site url language type }
      relations { edges { relationType(version: 2) node { id idMal type format status title { romaji } } } }
      trailer { id site thumbnail }
      isAdult averageScore meanScore popularity
      stats { scoreDistribution { score amount } }
      nextAiringEpisode { airingAt timeUntilAiring episode }
      siteUrl countryOfOrigin updatedAt
    }
  }
}"#;

#[tokio::test]
async fn schema_parses_and_fixtures_load() {
    require_spec!();
    let mock = AniListMock::start().await;
    let ids = mock.media_ids();
    for id in [162985, 900001, 900002, 900003] {
        assert!(ids.contains(&id), "fixture {id} missing: {ids:?}");
    }
    assert!(mock.airing().len() >= 10);
    mock.stop().await;
}

#[tokio::test]
async fn batched_page_query_is_answered_and_projected() {
    require_spec!();
    let mock = AniListMock::start().await;
    mock.set_now(FIXTURE_NOW);
    let answer = post(&mock, CARD_QUERY, json!({ "ids": [900002, 162985, 4242] })).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("x-ratelimit-limit").as_deref(), Some("30"));
    assert_eq!(
        answer.header("x-ratelimit-remaining").as_deref(),
        Some("29")
    );
    let body = answer.json();
    assert!(body.get("errors").is_none(), "{body}");
    let page = &body["data"]["Page"];
    assert_eq!(
        page["pageInfo"],
        json!({"total": 2, "perPage": 50, "currentPage": 1, "lastPage": 1, "hasNextPage": false})
    );
    let media = page["media"].as_array().expect("media list");
    assert_eq!(media.len(), 2, "the unknown id is simply absent");
    let mr = &media[0];
    assert_eq!(mr["id"], 162985, "default order is by id");
    assert_eq!(mr["idMal"], 54794);
    assert_eq!(mr["episodes"], 13);
    assert_eq!(mr["duration"], 24);
    assert_eq!(mr["status"], "FINISHED");
    assert_eq!(mr["season"], "WINTER");
    assert_eq!(mr["seasonYear"], 2024);
    assert_eq!(mr["title"]["native"], "メタリックルージュ");
    assert_eq!(
        mr["studios"],
        json!({"edges": [{"isMain": true, "node": {"id": 4, "name": "Bones"}}],
               "nodes": [{"id": 4, "name": "Bones"}]}),
        "studios(isMain: true) filters, nodes come from edges, the selection projects"
    );
    let votes: i64 = mr["stats"]["scoreDistribution"]
        .as_array()
        .expect("distribution")
        .iter()
        .map(|d| d["amount"].as_i64().expect("amount"))
        .sum();
    assert_eq!(votes, 21500);
    assert_eq!(mr["nextAiringEpisode"], Value::Null);
    assert_eq!(
        mr["tags"][0].as_object().map(|o| o.len()),
        Some(6),
        "only the selected tag fields"
    );
    assert!(mr.get("hashtag").is_none(), "unselected fields are absent");
    let gg = &media[1];
    assert_eq!(gg["id"], 900002);
    assert_eq!(
        gg["nextAiringEpisode"],
        json!({"airingAt": 1769333400, "timeUntilAiring": 1769333400 - FIXTURE_NOW, "episode": 16})
    );
    assert_eq!(
        gg["relations"]["edges"][0]["relationType"], "PREQUEL",
        "{}",
        gg["relations"]
    );
    // The answer keeps the selection's order.
    let text = &answer.text;
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} not in {text}"));
    assert!(at("\"pageInfo\"") < at("\"media\""));
    assert!(at("\"idMal\"") < at("\"title\""));
    assert!(at("\"title\"") < at("\"synonyms\""));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.ids, vec![900002, 162985, 4242]);
    assert_eq!(r.root_fields, vec!["Page"]);
    assert_eq!(r.page_fields, vec!["pageInfo", "media"]);
    assert_eq!(r.operation_name, None);
    assert_eq!(r.user_agent.as_deref(), Some("rouge-test/0.1"));
    assert_eq!(r.status, 200);
    assert!(r.query.contains("query Card"));
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn aliases_fragments_typename_directives_and_defaults() {
    require_spec!();
    let mock = AniListMock::start().await;
    let query = r#"
      query Two($mal: Int!, $id: Int = 162985, $withGenres: Boolean = false) {
        byMal: Media(idMal: $mal) { ...Core }
        byId: Media(id: $id) {
          __typename
          ... on Media { name: title { en: english } }
          genres @include(if: $withGenres)
          format @skip(if: true)
        }
      }
      fragment Core on Media { id kind: type title { romaji } }
    "#;
    let answer = post_body(
        &mock,
        json!({"query": query, "variables": {"mal": 990001}, "operationName": "Two"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.json(),
        json!({"data": {
            "byMal": {"id": 900001, "kind": "ANIME", "title": {"romaji": "Hoshikage Relay"}},
            "byId": {"__typename": "Media", "name": {"en": "Metallic Rouge"}}
        }})
    );
    let r = &mock.requests()[0];
    assert_eq!(r.ids, vec![162985], "the default value of $id");
    assert_eq!(r.mal_ids, vec![990001]);
    assert_eq!(r.root_fields, vec!["Media", "Media"]);
    assert_eq!(r.operation_name.as_deref(), Some("Two"));
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn invalid_queries_are_400_in_anilists_shape_and_recorded() {
    require_spec!();
    let mock = AniListMock::start().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "{ Media(id: 1) { id nmae } }",
            json!({}),
            "does not have a field `nmae`",
        ),
        (
            "{ Media(idd: 1) { id } }",
            json!({}),
            "the argument `idd` is not supported",
        ),
        (
            "{ Media(id: \"1\") { id } }",
            json!({}),
            "expected value of type Int",
        ),
        (
            "{ Page { media(sort: NEWEST) { id } } }",
            json!({}),
            "NEWEST",
        ),
        (
            "{ Media(id: $id) { id } }",
            json!({}),
            "variable `$id` is not defined",
        ),
        (
            "{ Media(id: 1) { id { x } } }",
            json!({}),
            "must not have subselections",
        ),
        (
            "{ Media(id: 1) { title } }",
            json!({}),
            "must have a subselection set",
        ),
        ("{ Media(id: 1) { id ", json!({}), "expected"),
        (
            "query($ids: [Int]) { Page { media(id_in: $ids) { id } } }",
            json!({"ids": "x"}),
            "Int",
        ),
        (
            "query($id: Int!) { Media(id: $id) { id } }",
            json!({}),
            "non-null variable",
        ),
        (
            "{ Viewr { id } }",
            json!({}),
            "does not have a field `Viewr`",
        ),
    ];
    for (i, (query, variables, needle)) in cases.iter().enumerate() {
        let answer = post(&mock, query, variables.clone()).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text);
        let body = answer.json();
        assert_eq!(body["data"], Value::Null, "{body}");
        let errors = body["errors"].as_array().expect("errors");
        assert!(!errors.is_empty());
        for e in errors {
            assert_eq!(e["status"], 400, "{e}");
            assert!(e["message"].is_string(), "{e}");
            if let Some(locs) = e.get("locations") {
                assert!(locs[0]["line"].as_u64().is_some() && locs[0]["column"].as_u64().is_some());
            }
        }
        let messages: Vec<&str> = errors
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "{query}: expected `{needle}` in {messages:?}"
        );
        let invalid = mock.invalid_queries();
        assert_eq!(invalid.len(), i + 1, "{query} not recorded");
        assert_eq!(invalid[i].query, *query);
    }
    // An unknown field carries its location.
    let invalid = mock.invalid_queries();
    assert_eq!(
        invalid[0].errors[0]["locations"],
        json!([{"line": 1, "column": 21}])
    );

    // Not GraphQL at all.
    let raw = client()
        .post(mock.url())
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(raw.status().as_u16(), 400);
    let answer = post_body(&mock, json!({ "variables": {} })).await;
    assert_eq!(answer.status, 400);
    let answer = post(
        &mock,
        "mutation { SaveMediaListEntry(mediaId: 1) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(answer.status, 400);
    let wrong_path = client()
        .post(format!("{}graphql", mock.url()))
        .json(&json!({"query": "{ Media(id: 1) { id } }"}))
        .send()
        .await
        .expect("request");
    assert_eq!(wrong_path.status().as_u16(), 404);
    assert_eq!(mock.invalid_queries().len(), cases.len() + 4);
    assert!(mock.violations().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn assert_clean_fails_on_an_invalid_query() {
    require_spec!();
    let mock = AniListMock::start().await;
    post(&mock, "{ Media(id: 1) { nope } }", json!({})).await;
    let clean = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.assert_clean()));
    assert!(clean.is_err());
    mock.stop().await;
}

#[tokio::test]
async fn single_media_not_found_is_404() {
    require_spec!();
    let mock = AniListMock::start().await;
    let answer = post(&mock, "{ Media(id: 1) { id } }", json!({})).await;
    assert_eq!(answer.status, 404);
    let body = answer.json();
    assert_eq!(body["data"], json!({"Media": null}));
    assert_eq!(body["errors"][0]["message"], "Not Found.");
    assert_eq!(body["errors"][0]["status"], 404);
    assert_eq!(
        body["errors"][0]["locations"],
        json!([{"line": 1, "column": 3}])
    );
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn paging_and_the_per_page_cap() {
    require_spec!();
    let mock = AniListMock::start_with(AniListConfig::default().without_fixtures()).await;
    for id in 1..=120 {
        mock.put_media(
            json!({"id": id, "title": {"romaji": format!("Show {id}")}, "popularity": id}),
        );
    }
    let query = "query($p: Int, $n: Int) { Page(page: $p, perPage: $n) { pageInfo { total perPage currentPage lastPage hasNextPage } media(sort: [ID]) { id } } }";
    let ids = |body: &Value| -> Vec<i64> {
        body["data"]["Page"]["media"]
            .as_array()
            .expect("media")
            .iter()
            .map(|m| m["id"].as_i64().expect("id"))
            .collect()
    };
    let first = post(&mock, query, json!({"p": 1, "n": 50})).await.json();
    assert_eq!(ids(&first), (1..=50).collect::<Vec<_>>());
    assert_eq!(
        first["data"]["Page"]["pageInfo"],
        json!({"total": 120, "perPage": 50, "currentPage": 1, "lastPage": 3, "hasNextPage": true})
    );
    let last = post(&mock, query, json!({"p": 3, "n": 50})).await.json();
    assert_eq!(ids(&last), (101..=120).collect::<Vec<_>>());
    assert_eq!(last["data"]["Page"]["pageInfo"]["hasNextPage"], false);
    let capped = post(&mock, query, json!({"p": 1, "n": 500})).await.json();
    assert_eq!(ids(&capped).len(), 50);
    assert_eq!(capped["data"]["Page"]["pageInfo"]["perPage"], 50);
    let beyond = post(&mock, query, json!({"p": 9, "n": 50})).await.json();
    assert!(ids(&beyond).is_empty());

    let sorted = post(
        &mock,
        "{ Page(perPage: 3) { media(sort: POPULARITY_DESC, id_in: [5, 7, 6, 1000]) { id } } }",
        json!({}),
    )
    .await
    .json();
    assert_eq!(
        ids(&sorted),
        vec![7, 6, 5],
        "a single enum is coerced to a list"
    );
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn filters_search_and_mal_ids() {
    require_spec!();
    let mock = AniListMock::start().await;
    let ids_of = |answer: Answer| -> Vec<i64> {
        let body = answer.json();
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["Page"]["media"]
            .as_array()
            .expect("media")
            .iter()
            .map(|m| m["id"].as_i64().expect("id"))
            .collect()
    };
    let q = |filter: &str| format!("{{ Page {{ media({filter}) {{ id }} }} }}");
    assert_eq!(
        ids_of(post(&mock, &q("search: \"GOURMET\""), json!({})).await),
        vec![900002]
    );
    assert_eq!(
        ids_of(post(&mock, &q("search: \"metalli\""), json!({})).await),
        vec![162985]
    );
    assert_eq!(
        ids_of(post(&mock, &q("idMal_in: [54794, 990003]"), json!({})).await),
        vec![162985, 900003]
    );
    assert_eq!(
        ids_of(
            post(
                &mock,
                &q("status: RELEASING, season: WINTER, seasonYear: 2026"),
                json!({})
            )
            .await
        ),
        vec![900001, 900003]
    );
    assert_eq!(
        ids_of(post(&mock, &q("genre_in: [\"Action\", \"Mecha\"]"), json!({})).await),
        vec![162985]
    );
    assert_eq!(
        ids_of(
            post(
                &mock,
                &q("startDate_greater: 20251231, format_in: [TV]"),
                json!({})
            )
            .await
        ),
        vec![900001]
    );
    assert_eq!(
        ids_of(
            post(
                &mock,
                &q("id_not_in: [162985, 900001], sort: [SCORE_DESC]"),
                json!({})
            )
            .await
        ),
        vec![900002, 900003],
        "null scores sort last"
    );
    // A valid filter the mock does not implement is loud, not silently ignored.
    let answer = post(&mock, &q("onList: true"), json!({})).await;
    assert_eq!(answer.status, 400);
    assert_eq!(mock.unsupported().len(), 1, "{:?}", mock.unsupported());
    assert!(mock.invalid_queries().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn airing_schedule_window() {
    require_spec!();
    let mock = AniListMock::start().await;
    mock.set_now(FIXTURE_NOW);
    let query = r#"
      query Window($from: Int, $to: Int, $page: Int) {
        Page(page: $page, perPage: 50) {
          pageInfo { total hasNextPage }
          airingSchedules(airingAt_greater: $from, airingAt_lesser: $to, sort: [TIME]) {
            id airingAt timeUntilAiring episode mediaId
            media { id status title { romaji } }
          }
        }
      }"#;
    let answer = post(
        &mock,
        query,
        json!({"from": FIXTURE_NOW - 2 * 86400, "to": FIXTURE_NOW + 7 * 86400, "page": 1}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    let list = body["data"]["Page"]["airingSchedules"]
        .as_array()
        .expect("list");
    let got: Vec<(i64, i64)> = list
        .iter()
        .map(|a| {
            (
                a["mediaId"].as_i64().expect("mediaId"),
                a["episode"].as_i64().expect("ep"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (900003, 1),
            (900003, 2),
            (900001, 3),
            (900002, 16),
            (900003, 3),
            (900001, 4)
        ],
        "ordered by time; the double episode and the break week as written"
    );
    assert_eq!(body["data"]["Page"]["pageInfo"]["total"], 6);
    for a in list {
        assert_eq!(
            a["timeUntilAiring"].as_i64(),
            Some(a["airingAt"].as_i64().expect("airingAt") - FIXTURE_NOW)
        );
        assert_eq!(a["media"]["id"], a["mediaId"]);
        assert_eq!(a["media"]["status"], "RELEASING");
    }
    // Narrower: one show, only what has not aired.
    let answer = post(
        &mock,
        "{ Page { airingSchedules(mediaId_in: [900002], notYetAired: true, sort: [TIME]) { episode } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        answer.json()["data"]["Page"]["airingSchedules"],
        json!([{"episode": 16}, {"episode": 17}, {"episode": 18}])
    );
    assert_eq!(mock.requests()[1].airing_media_ids, vec![900002]);

    // Replacing the schedule (a delay) moves nextAiringEpisode with it.
    mock.set_airing(vec![
        json!({"airingAt": FIXTURE_NOW + 3600, "episode": 16, "mediaId": 900002}),
    ]);
    let answer = post(
        &mock,
        "{ Media(id: 900002) { nextAiringEpisode { episode timeUntilAiring } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        answer.json()["data"]["Media"]["nextAiringEpisode"],
        json!({"episode": 16, "timeUntilAiring": 3600})
    );
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn budget_over_limit_is_429_and_a_violation() {
    require_spec!();
    let mock =
        AniListMock::start_with(AniListConfig::default().budget(3, Duration::from_secs(60))).await;
    let query = "{ Media(id: 162985) { id } }";
    for left in ["2", "1", "0"] {
        let answer = post(&mock, query, json!({})).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("x-ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(
            answer.header("x-ratelimit-remaining").as_deref(),
            Some(left)
        );
    }
    assert!(mock.violations().is_empty());
    let answer = post(&mock, query, json!({})).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after").as_deref(), Some("60"));
    assert_eq!(answer.header("x-ratelimit-remaining").as_deref(), Some("0"));
    let reset: i64 = answer
        .header("x-ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("unix time");
    assert!(reset > 1_700_000_000);
    assert_eq!(
        answer.json(),
        json!({"data": null, "errors": [{"message": "Too Many Requests.", "status": 429}]})
    );
    // Locked out: even a request that would fit later is refused.
    let answer = post(&mock, query, json!({})).await;
    assert_eq!(answer.status, 429);
    let violations = mock.violations();
    assert_eq!(violations.len(), 2);
    assert_eq!(violations[0].request, 3);
    assert_eq!(
        mock.requests()[3].query,
        query,
        "refused requests are logged too"
    );
    assert_eq!(mock.requests()[3].status, 429);
    assert!(violations[0].retry_after == 60 && violations[1].retry_after <= 60);
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.assert_clean())).is_err()
    );
    mock.reset_budget();
    assert_eq!(post(&mock, query, json!({})).await.status, 200);
    mock.stop().await;
}

#[tokio::test]
async fn lockout_ends_and_degraded_headers() {
    require_spec!();
    let config = AniListConfig::default()
        .budget(2, Duration::from_secs(2))
        .lockout(Duration::from_millis(1500))
        .advertise(90);
    let mock = AniListMock::start_with(config).await;
    let query = "{ Media(id: 162985) { id } }";
    let first = post(&mock, query, json!({})).await;
    assert_eq!(first.header("x-ratelimit-limit").as_deref(), Some("90"));
    assert_eq!(first.header("x-ratelimit-remaining").as_deref(), Some("89"));
    assert_eq!(post(&mock, query, json!({})).await.status, 200);
    let refused = post(&mock, query, json!({})).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("retry-after").as_deref(),
        Some("2"),
        "rounded up"
    );
    // Past the lock-out and the window.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(post(&mock, query, json!({})).await.status, 200);
    assert_eq!(mock.violations().len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn server_errors_and_api_disabled() {
    require_spec!();
    let mock = AniListMock::start().await;
    let query = "{ Media(id: 162985) { id } }";
    mock.fail_next(1, Failure::InternalError);
    mock.fail_next(1, Failure::BadGateway);
    mock.fail_next(1, Failure::Unavailable);
    mock.fail_next(1, Failure::ApiDisabled);
    let a = post(&mock, query, json!({})).await;
    assert_eq!(a.status, 500);
    assert_eq!(a.json()["errors"][0]["status"], 500);
    let a = post(&mock, query, json!({})).await;
    assert_eq!(a.status, 502);
    assert!(a.text.contains("502 Bad Gateway"));
    assert!(serde_json::from_str::<Value>(&a.text).is_err());
    let a = post(&mock, query, json!({})).await;
    assert_eq!(a.status, 503);
    let a = post(&mock, query, json!({})).await;
    assert_eq!(a.status, 403);
    let body = a.json();
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["errors"][0]["status"], 403);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("disabled")
    );
    // Then back to normal.
    let a = post(&mock, query, json!({})).await;
    assert_eq!(a.status, 200);
    let failures: Vec<Option<Failure>> = mock.requests().into_iter().map(|r| r.failure).collect();
    assert_eq!(
        failures,
        vec![
            Some(Failure::InternalError),
            Some(Failure::BadGateway),
            Some(Failure::Unavailable),
            Some(Failure::ApiDisabled),
            None
        ]
    );
    // A permanent mode until cleared; invalid queries are still caught first.
    mock.fail_always(Failure::Unavailable);
    assert_eq!(post(&mock, query, json!({})).await.status, 503);
    assert_eq!(
        post(&mock, "{ Media { nope } }", json!({})).await.status,
        400
    );
    assert_eq!(post(&mock, query, json!({})).await.status, 503);
    mock.clear_failures();
    assert_eq!(post(&mock, query, json!({})).await.status, 200);
    assert_eq!(mock.invalid_queries().len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn hang_times_the_client_out() {
    require_spec!();
    let mock = AniListMock::start().await;
    mock.fail_next(1, Failure::Hang);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = client
        .post(mock.url())
        .json(&json!({"query": "{ Media(id: 162985) { id } }"}))
        .send()
        .await
        .expect_err("a hang never answers");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(mock.requests()[0].status, 0);
    // The next request is answered.
    let ok = client
        .post(mock.url())
        .json(&json!({"query": "{ Media(id: 162985) { id } }"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(ok.status().as_u16(), 200);
    mock.stop().await;
}

#[tokio::test]
async fn dropped_connection_has_no_http_answer() {
    require_spec!();
    let mock = AniListMock::start().await;
    mock.fail_next(1, Failure::DropConnection);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let err = client
        .post(mock.url())
        .json(&json!({"query": "{ Media(id: 162985) { id } }"}))
        .send()
        .await
        .expect_err("no answer");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.status().is_none());
    let ok = client
        .post(mock.url())
        .json(&json!({"query": "{ Media(id: 162985) { id } }"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(ok.status().as_u16(), 200);
    mock.stop().await;
}

#[tokio::test]
async fn malformed_json_and_null_optional_answers() {
    require_spec!();
    let mock = AniListMock::start().await;
    mock.fail_next(1, Failure::MalformedJson);
    let a = post(&mock, "{ Media(id: 162985) { id } }", json!({})).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(serde_json::from_str::<Value>(&a.text).is_err());

    mock.fail_next(1, Failure::NullOptional);
    let a = post(&mock, CARD_QUERY, json!({"ids": [162985, 900001]})).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let body = a.json();
    assert!(body.get("errors").is_none(), "{body}");
    let page = &body["data"]["Page"];
    assert_eq!(page["pageInfo"]["total"], 2, "paging survives");
    for m in page["media"].as_array().expect("media") {
        let obj = m.as_object().expect("object");
        for (k, v) in obj {
            if k == "id" {
                assert!(v.is_i64());
            } else {
                assert_eq!(*v, Value::Null, "{k} should be null");
            }
        }
    }
    mock.assert_clean();
    mock.stop().await;
}

#[tokio::test]
async fn fixture_type_errors_name_the_path() {
    require_spec!();
    let mock = AniListMock::start_with(AniListConfig::default().without_fixtures()).await;
    let cases = [
        (
            json!({"id": 1, "stats": {"scoreDistributon": []}}),
            "has no field `scoreDistributon`",
        ),
        (json!({"id": 1, "episodes": "12"}), "Media.episodes"),
        (json!({"id": 1, "status": "AIRING"}), "Media.status"),
        (json!({"id": 1, "genres": "Action"}), "Media.genres"),
        (
            json!({"id": 1, "tags": [{"name": 3}]}),
            "Media.tags[0].name",
        ),
        (json!({"title": {"romaji": "x"}}), "integer `id`"),
    ];
    for (fixture, needle) in cases {
        let m = mock.clone();
        let err =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || m.put_media(fixture)))
                .expect_err("rejected");
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains(needle), "{message}");
    }
    mock.stop().await;
}

#[tokio::test]
async fn concurrent_requests_share_one_budget() {
    require_spec!();
    let mock = AniListMock::start().await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let mock = mock.clone();
        tasks.push(tokio::spawn(async move {
            post(&mock, "{ Page(perPage: 1) { media { id } } }", json!({}))
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 30);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10);
    assert_eq!(mock.violations().len(), 10);
    assert_eq!(mock.requests().len(), 40);
    mock.stop().await;
}
