//! Score summaries: every source's score on a 10-point scale, a combined
//! summary, and the community score from users' ratings.
//!
//! Arithmetic is done in integer thousandths so that rounding is half-up on
//! the decimal value (IMDb 5.9 and MyAnimeList 6.2 average to 6.05, shown as
//! 6.1), which binary floating point would get wrong.

use serde::Serialize;

use super::model::SourceScore;

/// A known score source and its native scale.
pub struct SourceInfo {
    pub key: &'static str,
    pub label: &'static str,
    pub scale_max: f64,
}

/// The sources Rouge knows, with their scales: MyAnimeList, IMDb, AniDB and
/// Bangumi score 1–10, AniList 0–100, Kitsu in percent.
pub const SOURCES: &[SourceInfo] = &[
    SourceInfo {
        key: "imdb",
        label: "IMDb",
        scale_max: 10.0,
    },
    SourceInfo {
        key: "mal",
        label: "MyAnimeList",
        scale_max: 10.0,
    },
    SourceInfo {
        key: "anilist",
        label: "AniList",
        scale_max: 100.0,
    },
    SourceInfo {
        key: "kitsu",
        label: "Kitsu",
        scale_max: 100.0,
    },
    SourceInfo {
        key: "anidb",
        label: "AniDB",
        scale_max: 10.0,
    },
    SourceInfo {
        key: "bangumi",
        label: "Bangumi",
        scale_max: 10.0,
    },
    SourceInfo {
        key: "offline-db",
        label: "anime-offline-database",
        scale_max: 10.0,
    },
];

/// The community score is shown once this many users have rated.
pub const COMMUNITY_MIN_RATINGS: usize = 3;

/// Looks a source up by key or label, ignoring case (`MyAnimeList` → `mal`).
pub fn source(name: &str) -> Option<&'static SourceInfo> {
    SOURCES
        .iter()
        .find(|s| s.key.eq_ignore_ascii_case(name) || s.label.eq_ignore_ascii_case(name))
}

/// The label to show for a source key.
pub fn label(key: &str) -> String {
    source(key).map_or_else(|| key.to_owned(), |s| s.label.to_owned())
}

/// A score in tenths of a point on the 10-point scale (61 means 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "f64")]
pub struct Tenths(pub i64);

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

impl From<Tenths> for f64 {
    fn from(t: Tenths) -> f64 {
        t.0 as f64 / 10.0
    }
}

/// One source's score, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceLine {
    pub source: String,
    pub label: String,
    /// As the source gives it, on its own scale.
    pub value: f64,
    pub scale_max: f64,
    /// On the 10-point scale, to one decimal.
    pub normalised: Tenths,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub votes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<chrono::NaiveDate>,
}

/// How the summary was combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Every source had a vote count.
    VoteWeighted,
    Mean,
}

/// All sources of an entry plus their summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub sources: Vec<SourceLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Tenths>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
}

/// Users' own ratings of an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Community {
    pub ratings: usize,
    /// Shown once [`COMMUNITY_MIN_RATINGS`] exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Tenths>,
}

/// A value in thousandths of a point on the 10-point scale.
fn milli(score: &SourceScore) -> i128 {
    let scale = if score.scale_max > 0.0 {
        score.scale_max
    } else {
        10.0
    };
    (score.value / scale * 10_000.0).round() as i128
}

/// `numerator / denominator` thousandths, as tenths rounded half up.
fn round_tenths(numerator: i128, denominator: i128) -> Tenths {
    // tenths = floor(n / (100 d) + 1/2) = floor((2n + 100 d) / (200 d))
    Tenths(((2 * numerator + 100 * denominator).div_euclid(200 * denominator)) as i64)
}

/// Summarises `scores`: vote-weighted when every source has votes, else the plain mean.
pub fn summarise(scores: &[SourceScore]) -> Summary {
    let sources: Vec<SourceLine> = scores
        .iter()
        .map(|s| SourceLine {
            source: s.source.clone(),
            label: label(&s.source),
            value: s.value,
            scale_max: s.scale_max,
            normalised: round_tenths(milli(s), 1),
            votes: s.votes,
            as_of: s.as_of,
        })
        .collect();
    if scores.is_empty() {
        return Summary {
            sources,
            summary: None,
            method: None,
        };
    }
    let weighted = scores.iter().all(|s| s.votes.is_some_and(|v| v > 0));
    let (num, den, method) = if weighted {
        let num = scores
            .iter()
            .map(|s| milli(s) * i128::from(s.votes.unwrap_or(0)))
            .sum();
        let den = scores
            .iter()
            .map(|s| i128::from(s.votes.unwrap_or(0)))
            .sum();
        (num, den, Method::VoteWeighted)
    } else {
        let num = scores.iter().map(milli).sum();
        (num, scores.len() as i128, Method::Mean)
    };
    Summary {
        sources,
        summary: Some(round_tenths(num, den)),
        method: Some(method),
    }
}

/// The community score of `ratings` (each 1–10).
pub fn community(ratings: &[u8]) -> Community {
    let score = (ratings.len() >= COMMUNITY_MIN_RATINGS).then(|| {
        let sum: i128 = ratings.iter().map(|&r| i128::from(r) * 1000).sum();
        round_tenths(sum, ratings.len() as i128)
    });
    Community {
        ratings: ratings.len(),
        score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(source: &str, value: f64, scale_max: f64, votes: Option<u64>) -> SourceScore {
        SourceScore {
            source: source.into(),
            value,
            scale_max,
            votes,
            as_of: None,
        }
    }

    #[test]
    fn seed_entry_averages_to_six_point_one() {
        let s = summarise(&[
            score("imdb", 5.9, 10.0, None),
            score("mal", 6.2, 10.0, None),
        ]);
        assert_eq!(s.summary, Some(Tenths(61)));
        assert_eq!(s.method, Some(Method::Mean));
        assert_eq!(s.summary.map(|t| t.to_string()).as_deref(), Some("6.1"));
    }

    #[test]
    fn scales_are_normalised() {
        let s = summarise(&[
            score("anilist", 74.0, 100.0, None),
            score("kitsu", 80.0, 100.0, None),
        ]);
        assert_eq!(s.sources[0].normalised, Tenths(74));
        assert_eq!(s.summary, Some(Tenths(77)));
    }

    #[test]
    fn votes_weight_only_when_every_source_has_them() {
        let weighted = summarise(&[
            score("imdb", 6.0, 10.0, Some(100)),
            score("mal", 9.0, 10.0, Some(300)),
        ]);
        assert_eq!(weighted.summary, Some(Tenths(83)));
        assert_eq!(weighted.method, Some(Method::VoteWeighted));
        let mixed = summarise(&[
            score("imdb", 6.0, 10.0, Some(100)),
            score("mal", 9.0, 10.0, None),
        ]);
        assert_eq!(mixed.summary, Some(Tenths(75)));
    }

    #[test]
    fn no_scores_no_summary() {
        assert_eq!(summarise(&[]).summary, None);
    }

    #[test]
    fn community_needs_three_ratings() {
        assert_eq!(community(&[10, 9]).score, None);
        assert_eq!(community(&[10, 9, 8]).score, Some(Tenths(90)));
        // 7, 8, 8 → 7.666… → 7.7
        assert_eq!(community(&[7, 8, 8]).score, Some(Tenths(77)));
        // 6, 7 → 6.5 exactly stays 6.5; 6,6,7,7 → 6.5
        assert_eq!(community(&[6, 6, 7, 7]).score, Some(Tenths(65)));
    }
}
