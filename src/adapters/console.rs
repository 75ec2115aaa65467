//! The local console: an interactive chat with the core as the local owner,
//! and the plain-text rendering of replies that `rouge ask` prints too.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::text::{self, Plain};
use crate::app::App;
use crate::app::dispatch::Dispatcher;
use crate::core::announce::limits::DispatchSettings;
use crate::core::announce::{Announcement, Notifier, SendOutcome};
use crate::core::caller::{Caller, ChatRef, Platform};
use crate::core::reply::Reply;

/// Renders a reply as plain text.
pub fn render(reply: &Reply) -> String {
    text::lines::<Plain>(reply).join("\n")
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

/// Calls `each` with every line of `input` that is text; a line that is not
/// UTF-8 is skipped with a note on standard error, never the end of the
/// session.
pub fn text_lines(
    mut input: impl BufRead,
    mut each: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    let mut number = 0;
    loop {
        bytes.clear();
        if input.read_until(b'\n', &mut bytes)? == 0 {
            return Ok(());
        }
        number += 1;
        let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        match std::str::from_utf8(trimmed) {
            Ok(line) => each(line)?,
            Err(_) => eprintln!("line {number} is not UTF-8 text; skipped"),
        }
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
        text_lines(std::io::stdin().lock(), |line| {
            if let Some(reply) = respond(app, caller, line) {
                writeln!(std::io::stdout().lock(), "{}\n", render(&reply))?;
                announce_due(app, &mut dispatcher, &runtime);
            }
            Ok(())
        })?;
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
