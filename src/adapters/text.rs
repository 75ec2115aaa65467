//! Every sentence a user reads, in one place: replies as lines of text (the
//! console, `rouge ask` and Telegram), the pieces a card or an announcement
//! is made of ([`CardText`], [`AnnouncementText`]) that Discord lays out as
//! embed fields, each reply's heading, and the buttons a reply offers
//! ([`actions`], [`item_actions`]). A [`Markup`] decides how emphasis, links
//! and times look and escapes catalog and user text; the adapters only lay
//! these words out.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::core::announce::Announcement;
use crate::core::announce::schedule;
use crate::core::catalog::model::Unit;
use crate::core::catalog::scores::{Community, Summary};
use crate::core::reply::{Card, ErrorKind, Reply, ScoresView, episode_words};

/// How text is marked up. Every string from the catalog or a user goes
/// through [`Markup::text`] (or a wrapper that calls it).
pub trait Markup {
    fn text(s: &str) -> String;
    fn bold(s: &str) -> String;
    fn italic(s: &str) -> String;
    fn link(label: &str, url: &str) -> String;
    /// A point in time, in `tz` where the platform cannot show each
    /// reader's own zone.
    fn time(at: DateTime<Utc>, tz: Tz) -> String {
        schedule::local_time(at, tz)
    }
}

/// Plain text, for terminals.
pub struct Plain;

impl Markup for Plain {
    fn text(s: &str) -> String {
        s.to_owned()
    }
    fn bold(s: &str) -> String {
        s.to_owned()
    }
    fn italic(s: &str) -> String {
        s.to_owned()
    }
    fn link(label: &str, url: &str) -> String {
        format!("{label}: {url}")
    }
}

/// Telegram's HTML parse mode: `<`, `>`, `&` and `"` escaped everywhere.
pub struct Html;

impl Markup for Html {
    fn text(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
        out
    }
    fn bold(s: &str) -> String {
        format!("<b>{}</b>", Self::text(s))
    }
    fn italic(s: &str) -> String {
        format!("<i>{}</i>", Self::text(s))
    }
    fn link(label: &str, url: &str) -> String {
        format!("<a href=\"{}\">{}</a>", Self::text(url), Self::text(label))
    }
}

/// Discord's markdown: every markdown character escaped, and `@everyone`,
/// `@here` and mention syntax broken up (allowed mentions are off as well).
pub struct Markdown;

impl Markup for Markdown {
    fn text(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 8);
        for c in s.chars() {
            if matches!(
                c,
                '\\' | '*'
                    | '_'
                    | '~'
                    | '`'
                    | '|'
                    | '>'
                    | '<'
                    | '#'
                    | '-'
                    | '['
                    | ']'
                    | '('
                    | ')'
                    | '@'
                    | ':'
            ) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }
    fn bold(s: &str) -> String {
        format!("**{}**", Self::text(s))
    }
    fn italic(s: &str) -> String {
        format!("*{}*", Self::text(s))
    }
    fn link(label: &str, url: &str) -> String {
        format!(
            "[{}]({})",
            Self::text(label),
            url.replace(')', "%29").replace(' ', "%20")
        )
    }
    /// Discord shows a timestamp in each reader's own zone.
    fn time(at: DateTime<Utc>, _tz: Tz) -> String {
        format!("<t:{}:f>", at.timestamp())
    }
}

/// A reply as lines (a line may hold a paragraph). The first lines of a card
/// are its head: what a photo caption should show first.
pub fn lines<M: Markup>(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Card(card) => card_lines::<M>(card),
        Reply::Scores(view) => scores_lines::<M>(view),
        Reply::Picker(picker) => {
            let mut out = vec![format!(
                "Which one did you mean by \"{}\"?",
                M::text(&picker.query)
            )];
            for (i, c) in picker.choices.iter().enumerate() {
                out.push(format!(
                    "  {}. {} ({}) — {}",
                    i + 1,
                    M::text(&c.title),
                    M::text(&c.detail),
                    M::text(&c.command)
                ));
            }
            out
        }
        Reply::List(list) => {
            let mut out = vec![M::bold(&list.heading)];
            out.extend(list.note.as_deref().map(M::italic));
            if list.items.is_empty() {
                out.push(format!("  {}", M::text(&list.empty)));
            }
            for (i, item) in list.items.iter().enumerate() {
                let id = item.id.map(|id| format!(" (#{id})")).unwrap_or_default();
                out.push(format!(
                    "  {}. {}{id} — {}",
                    i + 1,
                    M::text(&item.text),
                    M::text(&item.detail)
                ));
            }
            let pages: Vec<String> = [&list.previous, &list.next]
                .into_iter()
                .flatten()
                .map(|c| M::text(c))
                .collect();
            if !pages.is_empty() {
                out.push(format!("More: {}", pages.join(" · ")));
            }
            out
        }
        Reply::Done(notice) => vec![M::text(&notice.text)],
        Reply::StartPrivately(start) => vec![M::text(&format!(
            "{} (In the private chat, send /start {}.)",
            start.text, start.payload
        ))],
        Reply::Help(help) => {
            let width = help
                .lines
                .iter()
                .map(|l| l.usage.chars().count())
                .max()
                .unwrap_or(0)
                .min(48);
            let mut out = vec!["Commands:".to_owned()];
            for line in &help.lines {
                let pad = width.saturating_sub(line.usage.chars().count());
                out.push(format!(
                    "  {}{}  {}",
                    M::text(&line.usage),
                    " ".repeat(pad),
                    M::text(&line.about)
                ));
            }
            out
        }
        Reply::Announcement(a) => announcement_lines::<M>(a),
        Reply::Error(err) => {
            let prefix = match err.kind {
                ErrorKind::NotAllowed => "Not allowed: ",
                ErrorKind::Unavailable => "Sorry: ",
                ErrorKind::BadInput | ErrorKind::NotFound => "",
            };
            vec![format!("{prefix}{}", M::text(&err.message))]
        }
    }
}

/// A reply's heading, for platforms that show one apart from the body (a
/// Discord embed's title); `None` for confirmations and errors.
pub fn heading(reply: &Reply) -> Option<String> {
    Some(match reply {
        Reply::Card(card) => card.title.clone(),
        Reply::Scores(view) => format!("Scores for {}", view.title),
        Reply::Picker(_) => "Which one?".to_owned(),
        Reply::List(list) => list.heading.clone(),
        Reply::Help(_) => "Rouge commands".to_owned(),
        Reply::Announcement(a) => announcement_text::<Plain>(a).plain_headline,
        Reply::Done(_) | Reply::Error(_) | Reply::StartPrivately(_) => return None,
    })
}

/// A button: what it says, and the command line it runs when pressed
/// (only button-safe commands are obeyed; see `Command::is_button_safe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub label: String,
    pub command: String,
}

fn action(label: impl Into<String>, command: String) -> Action {
    Action {
        label: label.into(),
        command,
    }
}

/// What a reply offers to do next: a card's scores and subscription, the
/// card behind scores or an announcement, a list's neighbouring pages.
pub fn actions(reply: &Reply) -> Vec<Action> {
    match reply {
        Reply::Card(card) => vec![
            action("Scores", format!("/anime scores #{}", card.id)),
            action("Related", format!("/anime related #{}", card.id)),
            action("Follow", format!("/anime follow #{}", card.id)),
            action("Subscribe here", format!("/anime subscribe #{}", card.id)),
        ],
        Reply::Scores(view) => vec![action("Card", format!("/anime #{}", view.id))],
        Reply::Announcement(a) => vec![
            action("Card", format!("/anime #{}", a.entry)),
            action("Follow", format!("/anime follow #{}", a.entry)),
        ],
        Reply::List(list) => [("◂ Previous", &list.previous), ("Next ▸", &list.next)]
            .into_iter()
            .filter_map(|(label, command)| command.clone().map(|c| action(label, c)))
            .collect(),
        Reply::Picker(_)
        | Reply::Done(_)
        | Reply::Help(_)
        | Reply::Error(_)
        | Reply::StartPrivately(_) => Vec::new(),
    }
}

/// The titles a reply lists, each a button that opens its card: a
/// picker's choices (numbered) and a list's entries (the first ten).
pub fn item_actions(reply: &Reply) -> Vec<Action> {
    match reply {
        Reply::Picker(picker) => picker
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                action(
                    format!("{}. {} ({})", i + 1, c.title, c.detail),
                    c.command.clone(),
                )
            })
            .collect(),
        Reply::List(list) => list
            .items
            .iter()
            .filter_map(|item| {
                item.id
                    .map(|id| action(&item.text, format!("/anime #{id}")))
            })
            .take(10)
            .collect(),
        _ => Vec::new(),
    }
}

/// A card's words, piece by piece: text adapters print them as lines,
/// Discord as an embed's title, description and fields.
pub struct CardText {
    /// The title to show first, escaped.
    pub title: String,
    /// Other titles (main, Japanese, Chinese), marked up as one line.
    pub other_titles: Option<String>,
    pub kind: Option<String>,
    pub genres: Option<String>,
    /// Status, season and air dates.
    pub when: Option<String>,
    /// A qualifying line (old schedule data).
    pub note: Option<String>,
    /// `("Episodes", "13 × 24 min")`, or `("Duration", "24 min per episode")`.
    pub episodes: Option<(&'static str, String)>,
    /// Audio, subtitles, qualities and studios, as `(label, value)`.
    pub lists: Vec<(&'static str, String)>,
    pub scores: String,
    pub community: String,
    /// The latest releases, newest first.
    pub releases: Vec<String>,
    pub next: Option<String>,
    pub synopsis: Option<String>,
    pub links: Vec<String>,
}

/// The words of a card.
pub fn card_text<M: Markup>(card: &Card) -> CardText {
    let joined = |list: &[String]| (!list.is_empty()).then(|| M::text(&list.join(", ")));
    let mut when = Vec::new();
    when.extend(card.status.clone());
    when.extend(card.season.clone());
    match (card.aired_from, card.aired_to) {
        (Some(from), Some(to)) => when.push(format!("aired {from} to {to}")),
        (Some(from), None) => when.push(format!("from {from}")),
        _ => {}
    }
    let episodes = match (card.episodes, card.duration_min) {
        (Some(n), Some(min)) => Some(("Episodes", format!("{n} × {min} min"))),
        (Some(n), None) => Some(("Episodes", n.to_string())),
        (None, Some(min)) => Some(("Duration", format!("{min} min per episode"))),
        (None, None) => None,
    };
    let lists = [
        ("Audio", &card.audio),
        ("Subtitles", &card.subtitles),
        ("Qualities", &card.qualities),
        ("Studios", &card.studios),
    ]
    .into_iter()
    .filter_map(|(label, list)| joined(list).map(|value| (label, value)))
    .collect();
    let releases = card
        .latest_releases
        .iter()
        .map(|release| {
            let mut line = episode_words(release.unit, release.number, None);
            if let Some(title) = &release.title {
                let _ = write!(line, " “{}”", M::text(title));
            }
            if let Some(audio) = &release.audio {
                let _ = write!(line, ", {} audio", M::text(audio));
            }
            if !release.qualities.is_empty() {
                let _ = write!(line, ", {}", M::text(&release.qualities.join("/")));
            }
            let _ = write!(line, " ({})", M::time(release.released_at, Tz::UTC));
            line
        })
        .collect();
    CardText {
        title: M::text(&card.title),
        other_titles: (!card.other_titles.is_empty())
            .then(|| M::italic(&card.other_titles.join(" · "))),
        kind: card.kind.as_deref().map(M::text),
        genres: joined(&card.genres),
        when: (!when.is_empty()).then(|| M::text(&when.join(" · "))),
        note: card.note.as_deref().map(M::italic),
        episodes,
        lists,
        scores: scores_text::<M>(&card.scores),
        community: community_text::<M>(&card.community, card.id),
        releases,
        next: card.next_episode.as_ref().map(|next| {
            format!(
                "{} at {}",
                episode_words(next.unit, next.number, card.episodes),
                M::time(next.at, Tz::UTC)
            )
        }),
        synopsis: card.synopsis.as_deref().map(M::text),
        links: card
            .links
            .iter()
            .map(|l| M::link(&l.label, &l.url))
            .collect(),
    }
}

fn card_lines<M: Markup>(card: &Card) -> Vec<String> {
    let t = card_text::<M>(card);
    let mut out = vec![format!("{} (#{})", M::bold(&card.title), card.id)];
    out.extend(t.other_titles);
    let head: Vec<String> = t.kind.into_iter().chain(t.genres).collect();
    if !head.is_empty() {
        out.push(head.join(" · "));
    }
    out.extend(t.when);
    out.extend(t.note);
    out.extend(t.episodes.map(|(label, value)| format!("{label}: {value}")));
    out.extend(
        t.lists
            .iter()
            .map(|(label, value)| format!("{label}: {value}")),
    );
    out.push(format!("Scores: {}", t.scores));
    out.push(format!("Community: {}", t.community));
    out.extend(t.releases.iter().map(|r| format!("Released: {r}")));
    out.extend(t.next.map(|n| format!("Next: {n}")));
    if let Some(synopsis) = t.synopsis {
        out.push(String::new());
        out.push(synopsis);
    }
    if !t.links.is_empty() {
        out.push(String::new());
        out.extend(t.links);
    }
    out
}

fn scores_lines<M: Markup>(view: &ScoresView) -> Vec<String> {
    let mut out = vec![format!(
        "Scores for {} (#{})",
        M::bold(&view.title),
        view.id
    )];
    for line in &view.scores.sources {
        let mut text = format!("  {}: {}", M::text(&line.label), trim_float(line.value));
        if line.scale_max != 10.0 {
            let _ = write!(
                text,
                "/{} (= {} of 10)",
                trim_float(line.scale_max),
                line.normalised
            );
        }
        if let Some(votes) = line.votes {
            let _ = write!(text, " · {votes} votes");
        }
        if let Some(date) = line.as_of {
            let _ = write!(text, " · as of {date}");
        }
        out.push(text);
    }
    out.push(format!("Scores: {}", scores_text::<M>(&view.scores)));
    out.push(format!(
        "Community: {}",
        community_text::<M>(&view.community, view.id)
    ));
    out
}

/// An announcement's words, piece by piece (see [`CardText`]).
pub struct AnnouncementText {
    /// `New episode: <title> — episode 13 of 13 “…”`, marked up.
    pub headline: String,
    /// The same without markup, for a platform's title field.
    pub plain_headline: String,
    /// Audio language and qualities.
    pub what: Option<String>,
    /// Where and when it aired or was released.
    pub when: String,
    pub next: Option<String>,
    pub links: Vec<String>,
}

/// The words of an announcement, with times in the chat's zone.
pub fn announcement_text<M: Markup>(a: &Announcement) -> AnnouncementText {
    let tz = schedule::time_zone(&a.tz).unwrap_or(Tz::UTC);
    let which = episode_words(a.unit, a.episode, a.episodes_total);
    let episode_title = a.episode_title.as_deref();
    let (head, plain_head) = match a.unit {
        Unit::Episode => (
            format!("📣 New episode: {} — {which}", M::bold(&a.title)),
            format!("New episode: {} — {which}", a.title),
        ),
        Unit::Unnumbered => (
            format!("📣 A new episode of {} aired", M::bold(&a.title)),
            format!("A new episode of {} aired", a.title),
        ),
        Unit::WholeSeason => (
            format!("📣 Out now: {} — {which}", M::bold(&a.title)),
            format!("Out now: {} — {which}", a.title),
        ),
    };
    let mut what = Vec::new();
    if let Some(audio) = &a.audio {
        what.push(format!("{audio} audio"));
    }
    if !a.qualities.is_empty() {
        what.push(a.qualities.join(", "));
    }
    AnnouncementText {
        headline: format!(
            "{head}{}",
            episode_title.map_or_else(String::new, |t| format!(" “{}”", M::text(t)))
        ),
        plain_headline: format!(
            "{plain_head}{}",
            episode_title.map_or_else(String::new, |t| format!(" “{t}”"))
        ),
        what: (!what.is_empty()).then(|| M::text(&what.join(" · "))),
        when: match &a.stream {
            Some(stream) => format!(
                "Aired on {} at {}",
                M::text(stream),
                M::time(a.released_at, tz)
            ),
            None => format!("Released {}", M::time(a.released_at, tz)),
        },
        next: a
            .next_episode
            .map(|(n, at)| format!("Next: episode {n} at {}", M::time(at, tz))),
        links: a.links.iter().map(|l| M::link(&l.label, &l.url)).collect(),
    }
}

fn announcement_lines<M: Markup>(a: &Announcement) -> Vec<String> {
    let t = announcement_text::<M>(a);
    let mut out = vec![t.headline];
    out.extend(t.what);
    out.push(t.when);
    out.extend(t.next);
    out.extend(t.links);
    out
}

/// Every source's score and their average: `IMDb 5.9 · MyAnimeList 6.2 · average 6.1`.
fn scores_text<M: Markup>(summary: &Summary) -> String {
    if summary.sources.is_empty() {
        return "none yet".into();
    }
    let parts: Vec<String> = summary
        .sources
        .iter()
        .map(|s| {
            if s.scale_max == 10.0 {
                format!("{} {}", M::text(&s.label), trim_float(s.value))
            } else {
                format!(
                    "{} {}/{}",
                    M::text(&s.label),
                    trim_float(s.value),
                    trim_float(s.scale_max)
                )
            }
        })
        .collect();
    match summary.summary {
        Some(avg) => format!(
            "{} · average {}",
            parts.join(" · "),
            M::bold(&avg.to_string())
        ),
        None => parts.join(" · "),
    }
}

/// The community score, or how to start one.
fn community_text<M: Markup>(community: &Community, id: u64) -> String {
    match (community.ratings, community.score) {
        (0, _) => format!(
            "no ratings yet — be the first: /anime rate #{id} {}",
            M::text("<1-10>")
        ),
        (n, Some(score)) => format!("{score} from {n} ratings"),
        (n, None) => format!(
            "{n} rating{} so far (a score shows from 3)",
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// A score as sources write it: `6.2`, `8.0`, `8.75`, `74`.
fn trim_float(v: f64) -> String {
    if v >= 10.0 && v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    let two = format!("{v:.2}");
    if two.ends_with('0') {
        format!("{v:.1}")
    } else {
        two
    }
}
