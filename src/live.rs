//! The live sources for a running process: connecting the configured ones
//! to the app ([`attach`]), running their refresher beside a command-line
//! session ([`Background`]), and `rouge sync` ([`sync`]).

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::app::App;
use crate::app::{Refresher, SyncTarget};
use crate::config::Config;
use crate::core::source::SourceId;
use crate::sources::SourceSettings;

/// How long a command-line session waits at its end for the fetches it
/// started (a look-up's background refresh) to land in the store.
const FINISH_GRACE: Duration = Duration::from_secs(3);

/// Connects the sources `config` enables to `app`, over one HTTP client.
/// Returns the refresher to run, or `None` when the bot is offline (or
/// every source is disabled): then it works from the store alone.
pub fn attach(app: &App, config: &Config) -> anyhow::Result<Option<Refresher>> {
    let sources = crate::sources::connect(config.source_settings())
        .context("cannot set up the HTTP client for the live sources")?;
    if sources.is_empty() {
        return Ok(None);
    }
    Ok(Some(app.attach_sources(sources, config.refresh_settings())))
}

/// A refresher running on its own thread beside a command-line session
/// (`console`, `ask`). Dropping it stops the refresher and waits a moment
/// for the fetches in hand, so what the session looked at is refreshed.
pub struct Background {
    stop: CancellationToken,
    finished: mpsc::Receiver<()>,
}

impl Background {
    /// Attaches the configured sources to `app` and runs their refresher;
    /// `None` when there are none.
    pub fn start(app: &App, config: &Config) -> anyhow::Result<Option<Background>> {
        let Some(refresher) = attach(app, config)? else {
            return Ok(None);
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let stop = CancellationToken::new();
        let (done, finished) = mpsc::channel();
        let token = stop.clone();
        std::thread::Builder::new()
            .name("rouge-refresher".into())
            .spawn(move || {
                runtime.block_on(refresher.run(token));
                let _ = done.send(());
            })
            .context("cannot start the refresher thread")?;
        Ok(Some(Background { stop, finished }))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.cancel();
        if self.finished.recv_timeout(FINISH_GRACE).is_err() {
            warn!("a source was still answering at exit; its answer is dropped");
        }
    }
}

/// What `rouge sync` was asked to refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncWhat {
    /// One entry, by `#id` or title.
    Title(String),
    /// Every entry a chat subscribes to.
    Subscribed,
    /// The airing schedule window, and the titles in it not yet in the catalog.
    Airing,
}

/// `rouge sync`: refreshes `what` from every enabled source now, with a
/// progress bar (on a terminal) and an estimate from the sources' budgets.
/// Returns the exit status: 1 when a source failed along the way.
pub fn sync(app: &App, config: &Config, what: SyncWhat) -> anyhow::Result<i32> {
    let settings = config.source_settings();
    // A sync asks the sources itself; the refresher's queues are not needed.
    if attach(app, config)?.is_none() {
        bail!(
            "the live sources are off (offline = true or ROUGE_OFFLINE=true, or both \
             [sources.anilist] and [sources.jikan] disabled); there is nothing to sync from"
        );
    }
    let target = match what {
        SyncWhat::Title(title) => {
            SyncTarget::Entries(vec![app.sync_entry(&title).map_err(anyhow::Error::msg)?])
        }
        SyncWhat::Subscribed => SyncTarget::Subscribed,
        SyncWhat::Airing => SyncTarget::Airing,
    };
    let mut out = std::io::stdout().lock();
    match &target {
        SyncTarget::Airing => writeln!(
            out,
            "Reading the airing schedule window ({} days back, {} ahead).",
            config.sources.window_back_days, config.sources.window_ahead_days
        )?,
        _ => writeln!(out, "{}", plan(app, &settings, app.sync_len(&target)?))?,
    }
    let bar = indicatif::ProgressBar::new(0);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {pos}/{len} · {elapsed_precise} elapsed · about {eta} left",
    ) {
        bar.set_style(style);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let changed = runtime.block_on(app.sync(target, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }));
    bar.finish_and_clear();
    app.flush()?;
    writeln!(out, "Stored {}.", count(changed, "update"))?;
    let mut failed = false;
    for report in app.source_reports() {
        let status = &report.status;
        let state = if status.healthy {
            "answering".to_owned()
        } else {
            failed = true;
            format!(
                "degraded: {}",
                status.detail.as_deref().unwrap_or("failing")
            )
        };
        writeln!(
            out,
            "{}: {}, {} rate-limited, {} failed; {state}.",
            report.source.as_str(),
            count(status.requests as usize, "request"),
            status.rate_limited,
            status.errors
        )?;
    }
    Ok(i32::from(failed))
}

/// "Refreshing 40 entries: anilist 1 request, jikan 40 requests; about 1
/// min at the sources' budgets."
fn plan(app: &App, settings: &[(SourceId, SourceSettings)], entries: usize) -> String {
    let requests = app.sync_requests(entries);
    let parts: Vec<String> = requests
        .iter()
        .map(|(id, n)| format!("{} {}", id.as_str(), count(*n, "request")))
        .collect();
    let seconds = requests
        .iter()
        .filter_map(|(id, n)| {
            let (_, s) = settings.iter().find(|(sid, _)| sid == id)?;
            Some(least_time(s, *n))
        })
        .max()
        .unwrap_or_default();
    let wait = if seconds.is_zero() {
        "within the sources' budgets without waiting".to_owned()
    } else {
        format!("about {} at the sources' budgets", human(seconds))
    };
    let entries = if entries == 1 {
        "1 entry".to_owned()
    } else {
        format!("{entries} entries")
    };
    format!("Refreshing {entries}: {}; {wait}.", parts.join(", "))
}

/// "1 request", "3 requests".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The least time `requests` requests take within `settings`' budget:
/// each window lets its count through, then makes the rest wait a span.
fn least_time(settings: &SourceSettings, requests: usize) -> Duration {
    settings
        .limits
        .iter()
        .map(|limit| {
            let per_window = usize::try_from(limit.requests.max(1)).unwrap_or(usize::MAX);
            let windows = requests.saturating_sub(1) / per_window;
            limit.per * u32::try_from(windows).unwrap_or(u32::MAX)
        })
        .max()
        .unwrap_or_default()
}

/// "48 s", "3 min", "2 h 5 min".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::RateLimit;

    #[test]
    fn the_estimate_follows_every_window_of_the_budget() {
        let jikan = SourceSettings::jikan();
        // 1 a second and 50 a minute: 10 requests take 9 s; 120 take two
        // minutes (the minute window), not 119 s (the second window).
        assert_eq!(least_time(&jikan, 10), Duration::from_secs(9));
        assert_eq!(least_time(&jikan, 120), Duration::from_secs(120));
        let slow = SourceSettings {
            limits: vec![RateLimit::per_minute(30)],
            ..SourceSettings::anilist()
        };
        assert_eq!(least_time(&slow, 20), Duration::ZERO);
        assert_eq!(least_time(&slow, 61), Duration::from_secs(120));
        assert_eq!(human(Duration::from_secs(119)), "2 min");
        assert_eq!(human(Duration::from_secs(7_500)), "2 h 5 min");
    }
}
