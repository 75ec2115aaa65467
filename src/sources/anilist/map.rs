//! An AniList `Media` to the core's [`SourceEntry`], bounded.

use chrono::{DateTime, NaiveDate, Utc};

use super::query::{Airing, FuzzyDate, Media, Title};
use crate::core::catalog::model::{
    AltTitle, Kind, Link, RelationKind, SourceScore, Status, TitleLang,
};
use crate::core::source::{Relation, SourceEntry};
use crate::sources::{
    alt_titles, bounds, clip, html, http_url, names, season, trailer_url, unique_links,
};

/// The entry AniList describes, or `None` for a record without an id.
pub(super) fn entry(media: Media, today: NaiveDate) -> Option<SourceEntry> {
    let id = media.id?;
    let country = media.country_of_origin.as_deref();
    Some(SourceEntry {
        external_id: id.to_string(),
        other_ids: media
            .id_mal
            .map(|mal| vec![("mal".to_owned(), mal.to_string())])
            .unwrap_or_default(),
        titles: titles(media.title.as_ref(), &media.synonyms, country),
        synopsis: media
            .description
            .as_deref()
            .and_then(|d| clip(&html::to_text(d), bounds::SYNOPSIS_CHARS)),
        picture: media
            .cover_image
            .as_ref()
            .and_then(|c| c.extra_large.as_deref().or(c.large.as_deref()))
            .and_then(http_url),
        genres: names(media.genres.iter().map(String::as_str), bounds::GENRES),
        tags: names(
            media
                .tags
                .iter()
                .filter(|t| !t.is_media_spoiler.unwrap_or(false))
                .filter(|t| !t.is_general_spoiler.unwrap_or(false))
                .filter(|t| !t.is_adult.unwrap_or(false))
                .filter_map(|t| t.name.as_deref()),
            bounds::TAGS,
        ),
        kind: media.format.as_deref().and_then(kind),
        episodes: media.episodes.filter(|&n| n > 0),
        duration_min: media.duration.filter(|&n| n > 0),
        status: media.status.as_deref().and_then(status),
        season: season(media.season.as_deref(), media.season_year),
        aired_from: media.start_date.as_ref().and_then(date),
        aired_to: media.end_date.as_ref().and_then(date),
        studios: names(
            media
                .studios
                .iter()
                .flat_map(|s| &s.nodes)
                .filter_map(|n| n.name.as_deref()),
            bounds::STUDIOS,
        ),
        links: links(&media),
        relations: relations(&media),
        trailer: media
            .trailer
            .as_ref()
            .and_then(|t| trailer_url(t.site.as_deref()?, t.id.as_deref()?)),
        is_adult: media.is_adult,
        score: score(&media, today),
        popularity: media.popularity,
        rank: None,
        airings: media
            .next_airing_episode
            .as_ref()
            .and_then(airing)
            .into_iter()
            .collect(),
        broadcast: None,
    })
}

/// An airing's episode and time, when both are there and sensible.
pub(super) fn airing(airing: &Airing) -> Option<(u32, DateTime<Utc>)> {
    let episode = airing.episode.filter(|&n| n > 0)?;
    let at = DateTime::from_timestamp(airing.airing_at?, 0)?;
    Some((episode, at))
}

/// Romaji, English, the native title (its language from the country of
/// origin: a native title of a Korean or unknown origin is only a synonym)
/// and synonyms; each once, bounded.
fn titles(title: Option<&Title>, synonyms: &[String], country: Option<&str>) -> Vec<AltTitle> {
    let native = match country {
        Some("JP") => TitleLang::Ja,
        Some("CN") => TitleLang::ZhHans,
        Some("TW") => TitleLang::ZhHant,
        _ => TitleLang::Synonym,
    };
    let main = title.into_iter().flat_map(|t| {
        [
            (t.romaji.as_deref(), TitleLang::Romaji),
            (t.english.as_deref(), TitleLang::En),
            (t.native.as_deref(), native),
        ]
    });
    let others = synonyms
        .iter()
        .map(|s| (Some(s.as_str()), TitleLang::Synonym));
    alt_titles(main.chain(others))
}

/// A music video is not a kind Rouge lists (it would read as a special),
/// so it has none.
fn kind(format: &str) -> Option<Kind> {
    Some(match format {
        "TV" | "TV_SHORT" => Kind::Tv,
        "MOVIE" => Kind::Movie,
        "OVA" => Kind::Ova,
        "ONA" => Kind::Ona,
        "SPECIAL" => Kind::Special,
        _ => return None,
    })
}

/// A cancelled show airs no more, so it is finished (projections stop); a
/// show on hiatus will resume at an unknown date, so AniList says nothing
/// Rouge can use and the entry keeps what it had.
fn status(status: &str) -> Option<Status> {
    Some(match status {
        "FINISHED" | "CANCELLED" => Status::Finished,
        "RELEASING" => Status::Airing,
        "NOT_YET_RELEASED" => Status::Upcoming,
        _ => return None,
    })
}

/// A whole date only: AniList's fuzzy dates leave out the day or month when
/// unknown, and inventing the 1st would announce a wrong premiere.
fn date(d: &FuzzyDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year?, d.month?, d.day?)
}

/// Streaming links (their language in the label) and the AniList page.
fn links(media: &Media) -> Vec<Link> {
    let streams = media
        .external_links
        .iter()
        .filter(|l| l.kind.as_deref() == Some("STREAMING"))
        .filter_map(|l| {
            let url = http_url(l.url.as_deref()?)?;
            let site = clip(l.site.as_deref()?, bounds::NAME_CHARS)?;
            let label = match l
                .language
                .as_deref()
                .and_then(|x| clip(x, bounds::NAME_CHARS))
            {
                Some(language) => format!("{site} ({language})"),
                None => site,
            };
            Some(Link { label, url })
        });
    let page = media
        .site_url
        .as_deref()
        .and_then(http_url)
        .map(|url| Link {
            label: "AniList".to_owned(),
            url,
        });
    unique_links(streams.chain(page))
}

/// Related anime (not manga or novels, which Rouge does not list).
fn relations(media: &Media) -> Vec<Relation> {
    media
        .relations
        .iter()
        .flat_map(|r| &r.edges)
        .filter_map(|edge| {
            let node = edge.node.as_ref()?;
            if node.kind.as_deref() != Some("ANIME") {
                return None;
            }
            let title = node.title.as_ref()?;
            let title = [&title.romaji, &title.english, &title.native]
                .into_iter()
                .find_map(|t| t.as_deref().and_then(|t| clip(t, bounds::TITLE_CHARS)))?;
            Some(Relation {
                kind: relation_kind(edge.relation_type.as_deref()?),
                external_id: node.id?.to_string(),
                title,
            })
        })
        .take(bounds::RELATIONS)
        .collect()
}

fn relation_kind(kind: &str) -> RelationKind {
    match kind {
        "PREQUEL" => RelationKind::Prequel,
        "SEQUEL" => RelationKind::Sequel,
        "SIDE_STORY" => RelationKind::SideStory,
        "PARENT" => RelationKind::Parent,
        "ALTERNATIVE" => RelationKind::Alternative,
        _ => RelationKind::Other,
    }
}

/// `averageScore` with its votes: the sum of the score distribution (AniList
/// publishes no vote count; the distribution counts every scored list
/// entry). No distribution, no vote count.
fn score(media: &Media, today: NaiveDate) -> Option<SourceScore> {
    let value = media.average_score.filter(|v| (0.0..=100.0).contains(v))?;
    let votes = media
        .stats
        .as_ref()
        .filter(|s| !s.score_distribution.is_empty())
        .map(|s| {
            s.score_distribution
                .iter()
                .filter_map(|c| c.amount)
                .fold(0u64, u64::saturating_add)
        });
    Some(SourceScore {
        source: "anilist".to_owned(),
        value,
        scale_max: 100.0,
        votes,
        as_of: Some(today),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::anilist::query::Media;

    fn media(json: serde_json::Value) -> Media {
        serde_json::from_value(json).expect("a media")
    }

    #[test]
    fn fuzzy_dates_stay_unknown() {
        let m = media(serde_json::json!({
            "id": 1,
            "startDate": {"year": 2026, "month": 4, "day": null},
            "endDate": {"year": 2026, "month": 6, "day": 30},
        }));
        let e = entry(m, NaiveDate::MIN).expect("an entry");
        assert_eq!(e.aired_from, None);
        assert_eq!(e.aired_to, NaiveDate::from_ymd_opt(2026, 6, 30));
    }

    #[test]
    fn odd_values_are_dropped() {
        let m = media(serde_json::json!({
            "id": 2,
            "countryOfOrigin": "KR",
            "title": {"romaji": "Na Honjaman", "native": "나 혼자만"},
            "format": "MUSIC",
            "status": "HIATUS",
            "averageScore": 250,
            "siteUrl": "javascript:alert(1)",
            "externalLinks": [{"site": "X", "url": "data:x", "type": "STREAMING"}],
            "trailer": {"id": "abc", "site": "vimeo"},
            "relations": {"edges": [
                {"relationType": "ADAPTATION", "node": {"id": 9, "type": "MANGA", "title": {"romaji": "M"}}},
                {"relationType": "SPIN_OFF", "node": {"id": 10, "type": "ANIME", "title": {"english": "S"}}}
            ]},
        }));
        let e = entry(m, NaiveDate::MIN).expect("an entry");
        assert_eq!(e.titles[1].lang, TitleLang::Synonym);
        assert_eq!((e.kind, e.status, e.score.is_none()), (None, None, true));
        assert!(e.links.is_empty() && e.trailer.is_none());
        assert_eq!(e.relations.len(), 1);
        assert_eq!(e.relations[0].kind, RelationKind::Other);
        assert!(entry(media(serde_json::json!({})), NaiveDate::MIN).is_none());
    }
}
