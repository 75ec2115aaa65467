//! Jikan's `anime_full` answer, read leniently, and its mapping to the
//! core's [`SourceEntry`].

use chrono::NaiveDate;
use serde::Deserialize;

use crate::core::catalog::model::{AltTitle, Kind, Link, SourceScore, Status, TitleLang};
use crate::core::source::SourceEntry;
use crate::sources::{
    alt_titles, bounds, clip, http_url, lenient, names, season, trailer_url, unique_links,
};

/// `{"data": anime_full}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Envelope {
    #[serde(deserialize_with = "lenient::value")]
    pub data: Option<Anime>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Anime {
    #[serde(deserialize_with = "lenient::value")]
    mal_id: Option<i64>,
    #[serde(deserialize_with = "lenient::value")]
    url: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    images: Option<Images>,
    #[serde(deserialize_with = "lenient::value")]
    trailer: Option<Trailer>,
    #[serde(deserialize_with = "lenient::value")]
    title: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    title_english: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    title_japanese: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    title_synonyms: Vec<String>,
    #[serde(rename = "type", deserialize_with = "lenient::value")]
    kind: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    episodes: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    status: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    aired: Option<Aired>,
    #[serde(deserialize_with = "lenient::value")]
    duration: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    rating: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    score: Option<f64>,
    #[serde(deserialize_with = "lenient::value")]
    scored_by: Option<u64>,
    #[serde(deserialize_with = "lenient::value")]
    rank: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    synopsis: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    season: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    year: Option<i32>,
    #[serde(deserialize_with = "lenient::value")]
    broadcast: Option<Broadcast>,
    #[serde(deserialize_with = "lenient::list")]
    studios: Vec<Named>,
    #[serde(deserialize_with = "lenient::list")]
    genres: Vec<Named>,
    #[serde(deserialize_with = "lenient::list")]
    themes: Vec<Named>,
    #[serde(deserialize_with = "lenient::list")]
    demographics: Vec<Named>,
    #[serde(deserialize_with = "lenient::list")]
    streaming: Vec<NamedLink>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Images {
    #[serde(deserialize_with = "lenient::value")]
    webp: Option<ImageUrls>,
    #[serde(deserialize_with = "lenient::value")]
    jpg: Option<ImageUrls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ImageUrls {
    #[serde(deserialize_with = "lenient::value")]
    large_image_url: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    image_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Trailer {
    #[serde(deserialize_with = "lenient::value")]
    youtube_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Aired {
    #[serde(deserialize_with = "lenient::value")]
    prop: Option<AiredProp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AiredProp {
    #[serde(deserialize_with = "lenient::value")]
    from: Option<DateParts>,
    #[serde(deserialize_with = "lenient::value")]
    to: Option<DateParts>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DateParts {
    #[serde(deserialize_with = "lenient::value")]
    day: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    month: Option<u32>,
    #[serde(deserialize_with = "lenient::value")]
    year: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Broadcast {
    #[serde(deserialize_with = "lenient::value")]
    string: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    #[serde(deserialize_with = "lenient::value")]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedLink {
    #[serde(deserialize_with = "lenient::value")]
    name: Option<String>,
    #[serde(deserialize_with = "lenient::value")]
    url: Option<String>,
}

/// The trailer MyAnimeList's staff append to synopses they rewrote.
const MAL_REWRITE: &str = "[Written by MAL Rewrite]";

/// The entry MyAnimeList describes, or `None` for a record without an id.
pub(super) fn entry(anime: Anime, today: NaiveDate) -> Option<SourceEntry> {
    let id = anime.mal_id?;
    let aired = anime.aired.as_ref().and_then(|a| a.prop.as_ref());
    let genres = anime
        .genres
        .iter()
        .chain(&anime.themes)
        .chain(&anime.demographics);
    Some(SourceEntry {
        external_id: id.to_string(),
        titles: titles(&anime),
        synopsis: anime.synopsis.as_deref().and_then(synopsis),
        picture: picture(anime.images.as_ref()),
        genres: names(genres.filter_map(|g| g.name.as_deref()), bounds::GENRES),
        kind: anime.kind.as_deref().and_then(kind),
        episodes: anime.episodes.filter(|&n| n > 0),
        duration_min: anime.duration.as_deref().and_then(minutes),
        status: anime.status.as_deref().and_then(status),
        season: season(anime.season.as_deref(), anime.year),
        aired_from: aired.and_then(|a| a.from.as_ref()).and_then(date),
        aired_to: aired.and_then(|a| a.to.as_ref()).and_then(date),
        studios: names(
            anime.studios.iter().filter_map(|s| s.name.as_deref()),
            bounds::STUDIOS,
        ),
        links: links(&anime),
        trailer: anime
            .trailer
            .as_ref()
            .and_then(|t| trailer_url("youtube", t.youtube_id.as_deref()?)),
        is_adult: anime.rating.as_deref().map(|r| r.starts_with("Rx")),
        score: score(&anime, today),
        rank: anime.rank.filter(|&r| r > 0),
        broadcast: anime
            .broadcast
            .as_ref()
            .and_then(|b| b.string.as_deref())
            .filter(|b| !b.eq_ignore_ascii_case("unknown"))
            .and_then(|b| clip(b, bounds::BROADCAST_CHARS)),
        ..SourceEntry::default()
    })
}

/// MyAnimeList's main title is its romanisation; the English and Japanese
/// ones and the synonyms follow, each once.
fn titles(anime: &Anime) -> Vec<AltTitle> {
    let main = [
        (anime.title.as_deref(), TitleLang::Romaji),
        (anime.title_english.as_deref(), TitleLang::En),
        (anime.title_japanese.as_deref(), TitleLang::Ja),
    ];
    let synonyms = anime
        .title_synonyms
        .iter()
        .map(|s| (Some(s.as_str()), TitleLang::Synonym));
    alt_titles(main.into_iter().chain(synonyms))
}

fn synopsis(text: &str) -> Option<String> {
    let text = text.trim_end();
    let text = text.strip_suffix(MAL_REWRITE).unwrap_or(text);
    clip(text, bounds::SYNOPSIS_CHARS)
}

/// The large WebP picture, else the large JPEG, else any.
fn picture(images: Option<&Images>) -> Option<String> {
    let images = images?;
    let sets = [images.webp.as_ref(), images.jpg.as_ref()];
    let large = sets
        .iter()
        .flatten()
        .filter_map(|s| s.large_image_url.as_deref());
    let any = sets.iter().flatten().filter_map(|s| s.image_url.as_deref());
    large.chain(any).find_map(http_url)
}

/// Music videos, commercials and promotional videos are not kinds Rouge
/// lists.
fn kind(kind: &str) -> Option<Kind> {
    Some(match kind {
        "TV" => Kind::Tv,
        "Movie" => Kind::Movie,
        "OVA" => Kind::Ova,
        "ONA" => Kind::Ona,
        "Special" | "TV Special" => Kind::Special,
        _ => return None,
    })
}

fn status(status: &str) -> Option<Status> {
    Some(match status {
        "Finished Airing" => Status::Finished,
        "Currently Airing" => Status::Airing,
        "Not yet aired" => Status::Upcoming,
        _ => return None,
    })
}

/// A whole date only (Jikan's `from`/`to` strings put an unknown day on the
/// 1st; its parts leave it null).
fn date(d: &DateParts) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year?, d.month?, d.day?)
}

/// Minutes per episode from Jikan's text: "24 min per ep", "1 hr 55 min",
/// "30 sec per ep" (under a minute: none).
fn minutes(duration: &str) -> Option<u32> {
    let mut total: u32 = 0;
    let mut number: Option<u32> = None;
    for word in duration.split_whitespace() {
        if let Ok(n) = word.parse::<u32>() {
            number = Some(n);
            continue;
        }
        let Some(n) = number.take() else { continue };
        match word.trim_end_matches('.') {
            "hr" | "hrs" | "hour" | "hours" => total = total.saturating_add(n.saturating_mul(60)),
            "min" | "mins" | "minute" | "minutes" => total = total.saturating_add(n),
            _ => {}
        }
    }
    (total > 0).then_some(total)
}

/// Streaming services, then the MyAnimeList page.
fn links(anime: &Anime) -> Vec<Link> {
    let streams = anime.streaming.iter().filter_map(|s| {
        Some(Link {
            label: clip(s.name.as_deref()?, bounds::NAME_CHARS)?,
            url: http_url(s.url.as_deref()?)?,
        })
    });
    let page = anime.url.as_deref().and_then(http_url).map(|url| Link {
        label: "MyAnimeList".to_owned(),
        url,
    });
    unique_links(streams.chain(page))
}

/// MyAnimeList's score (on 10) with its voters; none while unscored.
fn score(anime: &Anime, today: NaiveDate) -> Option<SourceScore> {
    let value = anime
        .score
        .filter(|v| (0.0..=10.0).contains(v) && *v > 0.0)?;
    Some(SourceScore {
        source: "mal".to_owned(),
        value,
        scale_max: 10.0,
        votes: anime.scored_by,
        as_of: Some(today),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_minutes() {
        assert_eq!(minutes("24 min per ep"), Some(24));
        assert_eq!(minutes("1 hr 55 min"), Some(115));
        assert_eq!(minutes("2 hr"), Some(120));
        assert_eq!(minutes("30 sec per ep"), None);
        assert_eq!(minutes("Unknown"), None);
    }

    #[test]
    fn the_rewrite_trailer_goes() {
        assert_eq!(
            synopsis("Rouge hunts the Nine.\n\n[Written by MAL Rewrite]\n").as_deref(),
            Some("Rouge hunts the Nine.")
        );
        assert_eq!(synopsis("[Written by MAL Rewrite]"), None);
    }
}
