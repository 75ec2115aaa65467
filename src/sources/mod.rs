//! The live sources over HTTP: AniList (GraphQL) and Jikan v4 (MyAnimeList),
//! each an implementation of the core's [`Source`](crate::core::source::Source)
//! port.
//!
//! One [`reqwest::Client`] ([`http_client`]) is shared by every source so they
//! share connections, the User-Agent and the timeouts. Each source keeps its
//! own [`Gate`](gate) over it: the request budget of its [`SourceSettings`],
//! lock-outs after a 429 or a 403, and backoff after failures. A call waits for
//! room in its budget, never longer than [`SourceSettings::max_wait`], and the
//! services' terms (no mass crawling) are kept by construction: a source only
//! sends what it is asked for, one batch at a time.
//!
//! Answers are parsed leniently (a field of the wrong type is skipped, see
//! [`lenient`]) and bounded, so a hostile or broken answer can neither panic
//! nor bloat the store.

mod anilist;
mod gate;
mod html;
mod jikan;
mod lenient;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use crate::core::catalog::model::{AltTitle, Link, Season, SeasonName, TitleLang};
use crate::core::source::{Source, SourceId};

pub use anilist::AniList;
pub use jikan::Jikan;

/// What Rouge says it is to the services (their terms ask clients to name
/// themselves). No URL: a self-hosted bot has no single home to point at.
pub const USER_AGENT: &str = concat!(
    "Rouge/",
    env!("CARGO_PKG_VERSION"),
    " (self-hosted anime info bot)"
);

/// How long connecting may take, for every source.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The client-wide ceiling; each source sets its own, shorter, per request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The one HTTP client the sources share: rustls, Rouge's User-Agent,
/// connect and request timeouts, and no proxy taken from the environment
/// (an `HTTP_PROXY` left in a container must not reroute the bot, nor the
/// tests' requests to 127.0.0.1).
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CLIENT_TIMEOUT)
        .no_proxy()
        .build()
}

/// The sources `settings` name, all over one [`http_client`]; none when
/// `settings` is empty (offline).
pub fn connect(
    settings: Vec<(SourceId, SourceSettings)>,
) -> Result<Vec<Arc<dyn Source>>, reqwest::Error> {
    if settings.is_empty() {
        return Ok(Vec::new());
    }
    let http = http_client()?;
    Ok(settings
        .into_iter()
        .map(|(id, settings)| -> Arc<dyn Source> {
            match id {
                SourceId::AniList => Arc::new(AniList::new(http.clone(), settings)),
                SourceId::Jikan => Arc::new(Jikan::new(http.clone(), settings)),
            }
        })
        .collect())
}

/// At most `requests` requests in any rolling window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

impl RateLimit {
    pub const fn per_minute(requests: u32) -> RateLimit {
        RateLimit {
            requests,
            per: Duration::from_secs(60),
        }
    }

    pub const fn per_second(requests: u32) -> RateLimit {
        RateLimit {
            requests,
            per: Duration::from_secs(1),
        }
    }
}

/// One source's endpoint, budget and patience. [`SourceSettings::anilist`]
/// and [`SourceSettings::jikan`] are the services' documented limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    /// AniList's GraphQL endpoint; Jikan's `/v4` root.
    pub url: String,
    /// Every window a request must fit (AniList 30/min; Jikan 1/s and 50/min).
    pub limits: Vec<RateLimit>,
    /// One request's whole time, connect to last byte (default 10 s).
    pub timeout: Duration,
    /// The longest a call waits for room in the budget, a lock-out's end or a
    /// backoff before it gives up (default 5 s): callers answer from the
    /// store rather than keep a user waiting.
    pub max_wait: Duration,
    /// The pause after a 429 whose answer names no `Retry-After` (AniList
    /// documents a one-minute lock-out; default 60 s AniList, 10 s Jikan).
    pub lockout: Duration,
    /// How long a 403 ("API disabled") stops every request (default 10 min).
    pub disabled_for: Duration,
    /// The first backoff after a failure; it doubles per failure in a row
    /// (with jitter) up to `max_backoff` (defaults 1 s and 5 min).
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl SourceSettings {
    /// AniList's public API: 30 requests a minute (its degraded-mode limit,
    /// the one it enforces today).
    pub fn anilist() -> SourceSettings {
        SourceSettings {
            url: "https://graphql.anilist.co".to_owned(),
            limits: vec![RateLimit::per_minute(30)],
            timeout: Duration::from_secs(10),
            max_wait: Duration::from_secs(5),
            lockout: Duration::from_secs(60),
            disabled_for: Duration::from_secs(600),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }

    /// Jikan's public API: it allows 3 a second and 60 a minute; Rouge stays
    /// well under (1 a second, 50 a minute) as Jikan asks of bots.
    pub fn jikan() -> SourceSettings {
        SourceSettings {
            url: "https://api.jikan.moe/v4".to_owned(),
            limits: vec![RateLimit::per_second(1), RateLimit::per_minute(50)],
            lockout: Duration::from_secs(10),
            ..SourceSettings::anilist()
        }
    }

    /// The defaults of `source`.
    pub fn for_source(source: SourceId) -> SourceSettings {
        match source {
            SourceId::AniList => SourceSettings::anilist(),
            SourceId::Jikan => SourceSettings::jikan(),
        }
    }

    /// `url` with no trailing slash, so paths can be appended.
    fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }
}

/// Bounds on what one answer may add to an entry, so a hostile answer
/// cannot bloat the store.
mod bounds {
    pub const TITLES: usize = 32;
    pub const TITLE_CHARS: usize = 256;
    pub const SYNOPSIS_CHARS: usize = 4_000;
    pub const GENRES: usize = 24;
    pub const TAGS: usize = 24;
    pub const NAME_CHARS: usize = 64;
    pub const STUDIOS: usize = 8;
    pub const LINKS: usize = 16;
    pub const RELATIONS: usize = 32;
    pub const BROADCAST_CHARS: usize = 128;
    pub const URL_CHARS: usize = 2_048;
}

/// `text` trimmed and cut to `max` characters (an ellipsis marks a cut);
/// `None` when nothing is left.
fn clip(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.char_indices().nth(max) {
        None => Some(text.to_owned()),
        Some((end, _)) => {
            let head: String = text[..end].trim_end().chars().take(max - 1).collect();
            Some(format!("{head}…"))
        }
    }
}

/// Titles as a source lists them, each (text, language) once, bounded.
fn alt_titles<'a>(titles: impl Iterator<Item = (Option<&'a str>, TitleLang)>) -> Vec<AltTitle> {
    let mut out: Vec<AltTitle> = Vec::new();
    for (text, lang) in titles {
        let Some(text) = text.and_then(|t| clip(t, bounds::TITLE_CHARS)) else {
            continue;
        };
        if out.len() >= bounds::TITLES {
            break;
        }
        if !out.iter().any(|t| t.text == text && t.lang == lang) {
            out.push(AltTitle { text, lang });
        }
    }
    out
}

/// Links, each URL once, bounded.
fn unique_links(links: impl Iterator<Item = Link>) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    for link in links {
        if out.len() < bounds::LINKS && !out.iter().any(|l| l.url == link.url) {
            out.push(link);
        }
    }
    out
}

/// A season from its name in any case (AniList `WINTER`, Jikan `winter`)
/// and its year; neither alone makes one.
fn season(name: Option<&str>, year: Option<i32>) -> Option<Season> {
    let name = name?;
    let name = [
        SeasonName::Winter,
        SeasonName::Spring,
        SeasonName::Summer,
        SeasonName::Fall,
    ]
    .into_iter()
    .find(|s| s.label().eq_ignore_ascii_case(name))?;
    Some(Season { name, year: year? })
}

/// Names, trimmed, each once, at most `max`.
fn names<'a>(names: impl Iterator<Item = &'a str>, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names.filter_map(|n| clip(n, bounds::NAME_CHARS)) {
        if out.len() >= max {
            break;
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// `raw` if it is an absolute http(s) URL with a host: never `javascript:`,
/// `data:` or a relative path, which a chat client might render as a link.
fn http_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() > bounds::URL_CHARS {
        return None;
    }
    let url = reqwest::Url::parse(raw).ok()?;
    let web = matches!(url.scheme(), "http" | "https") && url.host_str().is_some();
    web.then(|| raw.to_owned())
}

/// A trailer's URL from a video site's id, for the sites whose id alone
/// makes one; ids are checked so nothing else can be smuggled into the URL.
fn trailer_url(site: &str, id: &str) -> Option<String> {
    let safe = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !safe {
        return None;
    }
    match site.to_ascii_lowercase().as_str() {
        "youtube" => Some(format!("https://www.youtube.com/watch?v={id}")),
        "dailymotion" => Some(format!("https://www.dailymotion.com/video/{id}")),
        _ => None,
    }
}

/// Today's date, for the as-of of a score just fetched.
fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_urls_are_kept() {
        assert_eq!(
            http_url(" https://anilist.co/anime/1 ").as_deref(),
            Some("https://anilist.co/anime/1")
        );
        assert_eq!(http_url("javascript:alert(1)"), None);
        assert_eq!(http_url("data:text/html,hi"), None);
        assert_eq!(http_url("/anime/1"), None);
        assert_eq!(http_url("ftp://example.org/x"), None);
    }

    #[test]
    fn trailer_ids_cannot_carry_anything_else() {
        assert_eq!(
            trailer_url("youtube", "TESTtrail01").as_deref(),
            Some("https://www.youtube.com/watch?v=TESTtrail01")
        );
        assert_eq!(trailer_url("youtube", "x&list=1"), None);
        assert_eq!(trailer_url("vimeo", "123"), None);
    }

    #[test]
    fn clipping_counts_characters_and_marks_the_cut() {
        assert_eq!(clip("  メタリック  ", 10).as_deref(), Some("メタリック"));
        assert_eq!(clip("メタリックルージュ", 4).as_deref(), Some("メタリ…"));
        assert_eq!(clip("   ", 4), None);
    }
}
