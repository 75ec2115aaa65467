//! Replies as lines of text, shared by every adapter that writes text: the
//! console (plain) and Telegram (HTML). One wording, one place; a [`Markup`]
//! decides how emphasis and links look and escapes catalog and user text.

use std::fmt::Write as _;

use chrono_tz::Tz;

use crate::core::announce::Announcement;
use crate::core::announce::schedule;
use crate::core::catalog::scores::{Community, Summary};
use crate::core::reply::{Card, ErrorKind, Reply, ScoresView};

/// How text is marked up. Every string from the catalog or a user goes
/// through [`Markup::text`] (or a wrapper that calls it).
pub trait Markup {
    fn text(s: &str) -> String;
    fn bold(s: &str) -> String;
    fn italic(s: &str) -> String;
    fn link(label: &str, url: &str) -> String;
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

fn card_lines<M: Markup>(card: &Card) -> Vec<String> {
    let mut out = vec![format!("{} (#{})", M::bold(&card.title), card.id)];
    if !card.other_titles.is_empty() {
        out.push(M::italic(&card.other_titles.join(" · ")));
    }
    let mut head = Vec::new();
    head.extend(card.kind.clone());
    if !card.genres.is_empty() {
        head.push(card.genres.join(", "));
    }
    if !head.is_empty() {
        out.push(M::text(&head.join(" · ")));
    }
    let mut when = Vec::new();
    when.extend(card.status.clone());
    when.extend(card.season.clone());
    match (card.aired_from, card.aired_to) {
        (Some(from), Some(to)) => when.push(format!("aired {from} to {to}")),
        (Some(from), None) => when.push(format!("from {from}")),
        _ => {}
    }
    if !when.is_empty() {
        out.push(M::text(&when.join(" · ")));
    }
    match (card.episodes, card.duration_min) {
        (Some(n), Some(min)) => out.push(format!("Episodes: {n} × {min} min")),
        (Some(n), None) => out.push(format!("Episodes: {n}")),
        (None, Some(min)) => out.push(format!("Duration: {min} min per episode")),
        (None, None) => {}
    }
    for (label, list) in [
        ("Audio", &card.audio),
        ("Subtitles", &card.subtitles),
        ("Qualities", &card.qualities),
        ("Studios", &card.studios),
    ] {
        if !list.is_empty() {
            out.push(format!("{label}: {}", M::text(&list.join(", "))));
        }
    }
    out.push(summary_line::<M>(&card.scores));
    out.push(community_line::<M>(&card.community, card.id));
    for release in &card.latest_releases {
        let mut line = format!("Released: episode {}", release.number);
        if let Some(title) = &release.title {
            let _ = write!(line, " “{}”", M::text(title));
        }
        if let Some(audio) = &release.audio {
            let _ = write!(line, ", {} audio", M::text(audio));
        }
        if !release.qualities.is_empty() {
            let _ = write!(line, ", {}", M::text(&release.qualities.join("/")));
        }
        let _ = write!(
            line,
            " ({})",
            release.released_at.format("%Y-%m-%d %H:%M UTC")
        );
        out.push(line);
    }
    if let Some(next) = &card.next_episode {
        out.push(format!(
            "Next: episode {} at {}",
            next.number,
            next.at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if let Some(synopsis) = &card.synopsis {
        out.push(String::new());
        out.push(M::text(synopsis));
    }
    if !card.links.is_empty() {
        out.push(String::new());
        out.extend(card.links.iter().map(|l| M::link(&l.label, &l.url)));
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
    out.push(summary_line::<M>(&view.scores));
    out.push(community_line::<M>(&view.community, view.id));
    out
}

fn announcement_lines<M: Markup>(a: &Announcement) -> Vec<String> {
    let tz = schedule::time_zone(&a.tz).unwrap_or(Tz::UTC);
    let mut head = format!(
        "📣 New episode: {} — episode {}",
        M::bold(&a.title),
        a.episode
    );
    if let Some(total) = a.episodes_total {
        let _ = write!(head, " of {total}");
    }
    if let Some(title) = &a.episode_title {
        let _ = write!(head, " “{}”", M::text(title));
    }
    let mut out = vec![head];
    let mut what = Vec::new();
    if let Some(audio) = &a.audio {
        what.push(format!("{audio} audio"));
    }
    if !a.qualities.is_empty() {
        what.push(a.qualities.join(", "));
    }
    if !what.is_empty() {
        out.push(M::text(&what.join(" · ")));
    }
    out.push(match &a.stream {
        Some(stream) => format!(
            "Aired on {} at {}",
            M::text(stream),
            schedule::local_time(a.released_at, tz)
        ),
        None => format!("Released {}", schedule::local_time(a.released_at, tz)),
    });
    if let Some((n, at)) = a.next_episode {
        out.push(format!(
            "Next: episode {n} at {}",
            schedule::local_time(at, tz)
        ));
    }
    out.extend(a.links.iter().map(|l| M::link(&l.label, &l.url)));
    out
}

fn summary_line<M: Markup>(summary: &Summary) -> String {
    if summary.sources.is_empty() {
        return "Scores: none yet".into();
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
            "Scores: {} · average {}",
            parts.join(" · "),
            M::bold(&avg.to_string())
        ),
        None => format!("Scores: {}", parts.join(" · ")),
    }
}

fn community_line<M: Markup>(community: &Community, id: u64) -> String {
    match (community.ratings, community.score) {
        (0, _) => format!(
            "Community: no ratings yet — be the first: /anime rate #{id} {}",
            M::text("<1-10>")
        ),
        (n, Some(score)) => format!("Community: {score} from {n} ratings"),
        (n, None) => format!(
            "Community: {n} rating{} so far (a score shows from 3)",
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
