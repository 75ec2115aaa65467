//! The local console: an interactive chat with the core as the local owner,
//! and the plain-text rendering of replies that `rouge ask` prints too.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::core::announce::{Announcement, Notifier, SendOutcome};
use crate::core::app::App;
use crate::core::caller::{Caller, ChatRef, Platform};
use crate::core::dispatch::{DispatchSettings, Dispatcher};
use crate::core::reply::{Card, ErrorKind, Reply};
use crate::core::schedule;
use crate::core::scores::{Community, Summary};

/// Renders a reply as plain text.
pub fn render(reply: &Reply) -> String {
    match reply {
        Reply::Card(card) => render_card(card),
        Reply::Scores(view) => {
            let mut out = format!("Scores for {} (#{})\n", view.title, view.id);
            for line in &view.scores.sources {
                let _ = write!(out, "  {}: {}", line.label, trim_float(line.value));
                if line.scale_max != 10.0 {
                    let _ = write!(
                        out,
                        "/{} (= {} of 10)",
                        trim_float(line.scale_max),
                        line.normalised
                    );
                }
                if let Some(votes) = line.votes {
                    let _ = write!(out, " · {votes} votes");
                }
                if let Some(date) = line.as_of {
                    let _ = write!(out, " · as of {date}");
                }
                out.push('\n');
            }
            let _ = writeln!(out, "{}", summary_line(&view.scores));
            let _ = write!(out, "{}", community_line(&view.community, view.id));
            out
        }
        Reply::Picker(picker) => {
            let mut out = format!("Which one did you mean by \"{}\"?\n", picker.query);
            for (i, c) in picker.choices.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {}. {} ({}) — {}",
                    i + 1,
                    c.title,
                    c.detail,
                    c.command
                );
            }
            out.trim_end().to_owned()
        }
        Reply::List(list) => {
            let mut out = format!("{}\n", list.heading);
            if list.items.is_empty() {
                let _ = write!(out, "  {}", list.empty);
            }
            for (i, item) in list.items.iter().enumerate() {
                let id = item.id.map(|id| format!(" (#{id})")).unwrap_or_default();
                let _ = writeln!(out, "  {}. {}{id} — {}", i + 1, item.text, item.detail);
            }
            out.trim_end().to_owned()
        }
        Reply::Done(notice) => notice.text.clone(),
        Reply::Help(help) => {
            let width = help
                .lines
                .iter()
                .map(|l| l.usage.chars().count())
                .max()
                .unwrap_or(0)
                .min(48);
            let mut out = String::from("Commands:\n");
            for line in &help.lines {
                let _ = writeln!(out, "  {:width$}  {}", line.usage, line.about);
            }
            out.trim_end().to_owned()
        }
        Reply::Announcement(a) => render_announcement(a),
        Reply::Error(err) => {
            let prefix = match err.kind {
                ErrorKind::NotAllowed => "Not allowed: ",
                ErrorKind::Unavailable => "Sorry: ",
                ErrorKind::BadInput | ErrorKind::NotFound => "",
            };
            format!("{prefix}{}", err.message)
        }
    }
}

fn render_card(card: &Card) -> String {
    let mut out = format!("{} (#{})\n", card.title, card.id);
    if !card.other_titles.is_empty() {
        let _ = writeln!(out, "{}", card.other_titles.join(" · "));
    }
    let mut head = Vec::new();
    head.extend(card.kind.clone());
    if !card.genres.is_empty() {
        head.push(card.genres.join(", "));
    }
    if !head.is_empty() {
        let _ = writeln!(out, "{}", head.join(" · "));
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
        let _ = writeln!(out, "{}", when.join(" · "));
    }
    match (card.episodes, card.duration_min) {
        (Some(n), Some(min)) => {
            let _ = writeln!(out, "Episodes: {n} × {min} min");
        }
        (Some(n), None) => {
            let _ = writeln!(out, "Episodes: {n}");
        }
        (None, Some(min)) => {
            let _ = writeln!(out, "Duration: {min} min per episode");
        }
        (None, None) => {}
    }
    for (label, list) in [
        ("Audio", &card.audio),
        ("Subtitles", &card.subtitles),
        ("Qualities", &card.qualities),
        ("Studios", &card.studios),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "{label}: {}", list.join(", "));
        }
    }
    let _ = writeln!(out, "{}", summary_line(&card.scores));
    let _ = writeln!(out, "{}", community_line(&card.community, card.id));
    for release in &card.latest_releases {
        let mut line = format!("Released: episode {}", release.number);
        if let Some(title) = &release.title {
            let _ = write!(line, " “{title}”");
        }
        if let Some(audio) = &release.audio {
            let _ = write!(line, ", {audio} audio");
        }
        if !release.qualities.is_empty() {
            let _ = write!(line, ", {}", release.qualities.join("/"));
        }
        let _ = writeln!(
            out,
            "{line} ({})",
            release.released_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if let Some(synopsis) = &card.synopsis {
        let _ = writeln!(out, "\n{synopsis}");
    }
    if !card.links.is_empty() {
        let _ = writeln!(out);
        for link in &card.links {
            let _ = writeln!(out, "{}: {}", link.label, link.url);
        }
    }
    out.trim_end().to_owned()
}

/// An announcement, with times in the chat's time zone.
pub fn render_announcement(a: &Announcement) -> String {
    let tz = schedule::time_zone(&a.tz).unwrap_or(chrono_tz::Tz::UTC);
    let mut out = format!("📣 New episode: {} — episode {}", a.title, a.episode);
    if let Some(total) = a.episodes_total {
        let _ = write!(out, " of {total}");
    }
    if let Some(title) = &a.episode_title {
        let _ = write!(out, " “{title}”");
    }
    let mut what = Vec::new();
    if let Some(audio) = &a.audio {
        what.push(format!("{audio} audio"));
    }
    if !a.qualities.is_empty() {
        what.push(a.qualities.join(", "));
    }
    if !what.is_empty() {
        let _ = write!(out, "\n{}", what.join(" · "));
    }
    match &a.stream {
        Some(stream) => {
            let _ = write!(
                out,
                "\nAired on {stream} at {}",
                schedule::local_time(a.released_at, tz)
            );
        }
        None => {
            let _ = write!(
                out,
                "\nReleased {}",
                schedule::local_time(a.released_at, tz)
            );
        }
    }
    if let Some((n, at)) = a.next_episode {
        let _ = write!(
            out,
            "\nNext: episode {n} at {}",
            schedule::local_time(at, tz)
        );
    }
    for link in &a.links {
        let _ = write!(out, "\n{}: {}", link.label, link.url);
    }
    out
}

/// Prints announcements for the local chat as they are sent.
pub struct ConsoleNotifier {
    json: bool,
    sent: AtomicU64,
}

impl ConsoleNotifier {
    pub fn new(json: bool) -> ConsoleNotifier {
        ConsoleNotifier {
            json,
            sent: AtomicU64::new(0),
        }
    }
}

impl Notifier for ConsoleNotifier {
    fn platform(&self) -> Platform {
        Platform::Local
    }

    async fn send(&self, _chat: &ChatRef, announcement: &Announcement) -> SendOutcome {
        let reply = Reply::Announcement(Box::new(announcement.clone()));
        let text = if self.json {
            serde_json::to_string(&reply).unwrap_or_default()
        } else {
            format!("{}\n", render(&reply))
        };
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}") {
            Ok(()) => SendOutcome::Delivered {
                message_id: format!("console-{}", self.sent.fetch_add(1, Ordering::Relaxed) + 1),
            },
            Err(err) => SendOutcome::Transient(err.to_string()),
        }
    }
}

/// Posts the local chat's due announcements: first turns broadcasts that
/// reached their time into releases, then drains the local outbox once.
pub fn announce_due(
    app: &App,
    dispatcher: &mut Dispatcher<ConsoleNotifier>,
    runtime: &tokio::runtime::Runtime,
) {
    if let Err(err) = app.process_schedule() {
        tracing::warn!(cause = %err, "cannot process broadcast schedules");
    }
    if let Err(err) = runtime.block_on(dispatcher.drain_once()) {
        tracing::warn!(cause = %err, "cannot post announcements");
    }
}

fn summary_line(summary: &Summary) -> String {
    if summary.sources.is_empty() {
        return "Scores: none yet".into();
    }
    let parts: Vec<String> = summary
        .sources
        .iter()
        .map(|s| {
            if s.scale_max == 10.0 {
                format!("{} {}", s.label, trim_float(s.value))
            } else {
                format!(
                    "{} {}/{}",
                    s.label,
                    trim_float(s.value),
                    trim_float(s.scale_max)
                )
            }
        })
        .collect();
    match summary.summary {
        Some(avg) => format!("Scores: {} · average {avg}", parts.join(" · ")),
        None => format!("Scores: {}", parts.join(" · ")),
    }
}

fn community_line(community: &Community, id: u64) -> String {
    match (community.ratings, community.score) {
        (0, _) => format!("Community: no ratings yet — be the first: /anime rate #{id} <1-10>"),
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

/// Lines typed in the console may leave out the `/anime` prefix.
fn as_command(line: &str) -> String {
    if line.starts_with('/') {
        line.to_owned()
    } else {
        format!("/anime {line}")
    }
}

/// Runs the interactive console until end of input. On a terminal it keeps
/// a line history in `history`; otherwise it reads standard input line by
/// line. Announcements for the local chat are printed as they come due.
pub fn run(
    app: &App,
    caller: &Caller,
    history: &Path,
    dispatch: DispatchSettings,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut dispatcher =
        Dispatcher::new(app.clone(), Arc::new(ConsoleNotifier::new(false)), dispatch);
    announce_due(app, &mut dispatcher, &runtime);
    if !std::io::stdin().is_terminal() {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            if let Some(reply) = respond(app, caller, &line) {
                writeln!(std::io::stdout().lock(), "{}\n", render(&reply))?;
                announce_due(app, &mut dispatcher, &runtime);
            }
        }
        return Ok(());
    }
    let mut editor = rustyline::DefaultEditor::new()?;
    // A missing history file is normal on the first run.
    let _ = editor.load_history(history);
    println!(
        "Rouge console: {} entries. You are {}{}. Type /anime help, or a title. Ctrl-D quits.",
        app.len(),
        caller.key(),
        if app.is_owner(caller) { " (owner)" } else { "" }
    );
    loop {
        match editor.readline("rouge> ") {
            Ok(line) => {
                if matches!(line.trim(), "quit" | "exit" | "/quit" | "/exit") {
                    break;
                }
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Some(reply) = respond(app, caller, &line) {
                    println!("{}\n", render(&reply));
                }
                announce_due(app, &mut dispatcher, &runtime);
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(err) => return Err(err.into()),
        }
    }
    if let Err(err) = editor.save_history(history) {
        tracing::warn!(cause = %err, "could not save the console history");
    }
    Ok(())
}

fn respond(app: &App, caller: &Caller, line: &str) -> Option<Reply> {
    let line = line.trim();
    (!line.is_empty()).then(|| app.handle_line(caller, &as_command(line)))
}
