//! AniList's queries and the shape of their answers. The structs read every
//! field leniently (see [`crate::sources::lenient`]): AniList leaves fields
//! null freely, and one odd field must not lose a whole page.

use serde::Deserialize;

use crate::sources::lenient;

/// The fields Rouge reads of a work, shared by both queries.
const MEDIA_FIELDS: &str = "
  id idMal countryOfOrigin
  title { romaji english native }
  synonyms
  description(asHtml: false)
  coverImage { extraLarge large }
  genres
  tags { name isMediaSpoiler isGeneralSpoiler isAdult }
  format episodes duration status season seasonYear
  startDate { year month day }
  endDate { year month day }
  studios(isMain: true) { nodes { name } }
  externalLinks { site url language type }
  relations { edges { relationType node { id type title { romaji english native } } } }
  trailer { id site }
  isAdult averageScore popularity
  stats { scoreDistribution { score amount } }
  nextAiringEpisode { episode airingAt }
  siteUrl
";

/// Up to 50 works by id (AniList's largest page).
pub(super) fn media_query() -> String {
    format!(
        "query Media($ids: [Int]) {{\n Page(page: 1, perPage: 50) {{\n  media(id_in: $ids, type: ANIME) {{{MEDIA_FIELDS} }}\n }}\n}}"
    )
}

/// One page of the airing schedule in `(from, to)` (AniList's bounds are
/// exclusive), in time order.
pub(super) fn schedule_query() -> String {
    format!(
        "query Schedule($page: Int, $from: Int, $to: Int) {{\n Page(page: $page, perPage: 50) {{\n  pageInfo {{ hasNextPage }}\n  airingSchedules(airingAt_greater: $from, airingAt_lesser: $to, sort: [TIME]) {{\n   episode airingAt mediaId\n   media {{{MEDIA_FIELDS} }}\n  }}\n }}\n}}"
    )
}

/// `{"data": …, "errors": […]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Envelope {
    #[serde(deserialize_with = "lenient::value")]
    pub data: Option<Data>,
    #[serde(deserialize_with = "lenient::list")]
    pub errors: Vec<GraphQlError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GraphQlError {
    #[serde(deserialize_with = "lenient::value")]
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Data {
    #[serde(rename = "Page", deserialize_with = "lenient::value")]
    pub page: Option<Page>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Page {
    #[serde(deserialize_with = "lenient::value")]
    pub page_info: Option<PageInfo>,
    #[serde(deserialize_with = "lenient::list")]
    pub media: Vec<Media>,
    #[serde(deserialize_with = "lenient::list")]
    pub airing_schedules: Vec<Airing>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct PageInfo {
    #[serde(deserialize_with = "lenient::value")]
    pub has_next_page: Option<bool>,
}

/// An airing (the schedule's rows and `nextAiringEpisode`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Airing {
    #[serde(deserialize_with = "lenient::value")]
    pub episode: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    pub airing_at: Option<i64>,
    #[serde(deserialize_with = "lenient::value")]
    pub media_id: Option<i64>,
    #[serde(deserialize_with = "lenient::value")]
    pub media: Option<Box<Media>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Media {
    #[serde(deserialize_with = "lenient::value")]
    pub id: Option<i64>,
    #[serde(deserialize_with = "lenient::value")]
    pub id_mal: Option<i64>,
    #[serde(deserialize_with = "lenient::value")]
    pub country_of_origin: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub title: Option<Title>,
    #[serde(deserialize_with = "lenient::list")]
    pub synonyms: Vec<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub description: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub cover_image: Option<CoverImage>,
    #[serde(deserialize_with = "lenient::list")]
    pub genres: Vec<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub tags: Vec<Tag>,
    #[serde(deserialize_with = "lenient::value")]
    pub format: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub episodes: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    pub duration: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub season: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub season_year: Option<i32>,
    #[serde(deserialize_with = "lenient::value")]
    pub start_date: Option<FuzzyDate>,
    #[serde(deserialize_with = "lenient::value")]
    pub end_date: Option<FuzzyDate>,
    #[serde(deserialize_with = "lenient::value")]
    pub studios: Option<Studios>,
    #[serde(deserialize_with = "lenient::list")]
    pub external_links: Vec<ExternalLink>,
    #[serde(deserialize_with = "lenient::value")]
    pub relations: Option<Relations>,
    #[serde(deserialize_with = "lenient::value")]
    pub trailer: Option<Trailer>,
    #[serde(deserialize_with = "lenient::value")]
    pub is_adult: Option<bool>,
    #[serde(deserialize_with = "lenient::value")]
    pub average_score: Option<f64>,
    #[serde(deserialize_with = "lenient::value")]
    pub popularity: Option<u64>,
    #[serde(deserialize_with = "lenient::value")]
    pub stats: Option<Stats>,
    #[serde(deserialize_with = "lenient::value")]
    pub next_airing_episode: Option<Airing>,
    #[serde(deserialize_with = "lenient::value")]
    pub site_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Title {
    #[serde(deserialize_with = "lenient::value")]
    pub romaji: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub english: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub native: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct CoverImage {
    #[serde(deserialize_with = "lenient::value")]
    pub extra_large: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub large: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Tag {
    #[serde(deserialize_with = "lenient::value")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub is_media_spoiler: Option<bool>,
    #[serde(deserialize_with = "lenient::value")]
    pub is_general_spoiler: Option<bool>,
    #[serde(deserialize_with = "lenient::value")]
    pub is_adult: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct FuzzyDate {
    #[serde(deserialize_with = "lenient::value")]
    pub year: Option<i32>,
    #[serde(deserialize_with = "lenient::value")]
    pub month: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    pub day: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Studios {
    #[serde(deserialize_with = "lenient::list")]
    pub nodes: Vec<Named>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Named {
    #[serde(deserialize_with = "lenient::value")]
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ExternalLink {
    #[serde(deserialize_with = "lenient::value")]
    pub site: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub url: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub language: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient::value")]
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Relations {
    #[serde(deserialize_with = "lenient::list")]
    pub edges: Vec<RelationEdge>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct RelationEdge {
    #[serde(deserialize_with = "lenient::value")]
    pub relation_type: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub node: Option<RelatedNode>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RelatedNode {
    #[serde(deserialize_with = "lenient::value")]
    pub id: Option<i64>,
    #[serde(rename = "type", deserialize_with = "lenient::value")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub title: Option<Title>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Trailer {
    #[serde(deserialize_with = "lenient::value")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    pub site: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Stats {
    #[serde(deserialize_with = "lenient::list")]
    pub score_distribution: Vec<ScoreCount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ScoreCount {
    #[serde(deserialize_with = "lenient::value")]
    pub amount: Option<u64>,
}
