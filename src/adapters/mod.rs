//! Adapters connect the core to the outside world; each one only converts
//! input into core commands and renders core replies.

pub mod console;
#[cfg(feature = "discord")]
pub mod discord;
pub mod http;
#[cfg(feature = "telegram")]
pub mod telegram;
pub mod text;

use tokio::task::{JoinError, JoinHandle};

use crate::app::App;
use crate::core::caller::Caller;
use crate::core::command::{Command, ParseError};
use crate::core::reply::Reply;

/// Executes a command on a blocking thread (the store does disk I/O), so
/// the async threads keep serving; await it with [`joined_reply`].
pub fn spawn_command(
    app: &App,
    caller: Caller,
    parsed: Result<Command, ParseError>,
) -> JoinHandle<Reply> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || app.execute_parsed(&caller, parsed))
}

/// The reply of a finished command task; a task that failed becomes an
/// apology (and a log line) rather than silence.
pub fn joined_reply(joined: Result<Reply, JoinError>) -> Reply {
    joined.unwrap_or_else(|err| {
        tracing::warn!(cause = %err, "a command failed");
        Reply::apology()
    })
}

/// [`spawn_command`], awaited.
pub async fn run_command(app: &App, caller: Caller, parsed: Result<Command, ParseError>) -> Reply {
    joined_reply(spawn_command(app, caller, parsed).await)
}
