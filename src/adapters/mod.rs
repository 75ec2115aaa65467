//! Adapters connect the core to the outside world; each one only converts
//! input into core commands and renders core replies.

pub mod console;
#[cfg(feature = "discord")]
pub mod discord;
pub mod http;
#[cfg(feature = "telegram")]
pub mod telegram;
pub mod text;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::app::dispatch::Dispatcher;
use crate::config::Config;
use crate::core::announce::Notifier;
use crate::core::caller::Caller;
use crate::core::command::{Command, ParseError};
use crate::core::reply::Reply;
use crate::secrets::Secrets;

/// What an adapter gets to start with: the app, the configuration and
/// secrets, the shutdown token every loop selects on, and the task set
/// `rouge serve` joins.
pub struct Wiring<'a> {
    pub app: &'a App,
    pub config: &'a Config,
    pub secrets: &'a Secrets,
    pub shutdown: &'a CancellationToken,
    pub tasks: &'a mut JoinSet<anyhow::Result<()>>,
}

/// How long a stopping dispatcher waits for sends in flight.
const GRACE: Duration = Duration::from_secs(5);

impl Wiring<'_> {
    /// Spawns the dispatcher that posts announcements through `notifier`,
    /// with its platform's settings.
    pub fn spawn_dispatcher<N: Notifier>(&mut self, notifier: N) {
        let settings = self.config.dispatch_settings(notifier.platform());
        let dispatcher = Dispatcher::new(self.app.clone(), Arc::new(notifier), settings);
        let stop = self.shutdown.clone();
        self.tasks.spawn(async move {
            dispatcher.run(stop, GRACE).await;
            Ok(())
        });
    }
}

/// An adapter's start: spawns its tasks (and its dispatcher) and names
/// itself, or `None` when it is not configured (its secrets are not set).
pub type Start = fn(&mut Wiring<'_>) -> anyhow::Result<Option<&'static str>>;

/// Every adapter compiled in; `rouge serve` starts each.
pub const ADAPTERS: &[Start] = &[
    #[cfg(feature = "telegram")]
    telegram::start,
    #[cfg(feature = "discord")]
    discord::start,
];

/// Why an adapter could not connect: a credential the platform refused
/// (the process stops, naming it), or anything else (retried).
pub enum StartError {
    Rejected(anyhow::Error),
    Unreachable(anyhow::Error),
}

/// Runs `connect` until it ends cleanly or `shutdown`, retrying every
/// failure but a rejected credential with growing waits (1 s to 2 min,
/// with jitter), so one platform being unreachable never takes the others
/// down. The adapter's health (`component`) is unhealthy while it waits;
/// one warning per change of cause.
pub async fn keep_connected<F, Fut>(
    app: &App,
    component: &str,
    shutdown: &CancellationToken,
    mut connect: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StartError>>,
{
    let mut wait = Duration::from_secs(1);
    let mut last_cause = String::new();
    loop {
        match connect().await {
            Ok(()) => return Ok(()),
            Err(StartError::Rejected(err)) => return Err(err),
            Err(StartError::Unreachable(err)) => {
                app.metrics().report(component, false);
                let cause = format!("{err:#}");
                if cause != last_cause {
                    tracing::warn!(adapter = component, cause = %cause, retry_in_s = wait.as_secs(), "cannot connect; retrying");
                    last_cause = cause;
                }
            }
        }
        // A little jitter, so several instances do not retry in step.
        let jitter = Duration::from_millis(u64::from(std::process::id() % 500));
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait + jitter) => {}
        }
        wait = (wait * 2).min(Duration::from_secs(120));
    }
}

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
