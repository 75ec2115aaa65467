//! `rouge serve`: the configured adapters, their announcement dispatchers
//! and the broadcast-schedule ticker, all stopped by one shutdown token.

use std::time::Duration;

use anyhow::bail;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::adapters::{ADAPTERS, Wiring};
use crate::app::App;
use crate::app::Refresher;
use crate::config::Config;
use crate::core::platform::PLATFORMS;
use crate::secrets::Secrets;

/// Runs until `shutdown` is cancelled or a component fails. Fails at once,
/// naming the missing setting, when no adapter is configured.
pub async fn run(
    app: App,
    config: Config,
    secrets: Secrets,
    refresher: Option<Refresher>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let mut wiring = Wiring {
        app: &app,
        config: &config,
        secrets: &secrets,
        shutdown: &shutdown,
        tasks: &mut tasks,
    };
    let mut adapters: Vec<&str> = Vec::new();
    for start in ADAPTERS {
        adapters.extend(start(&mut wiring)?);
    }
    if adapters.is_empty() {
        let tokens: Vec<&str> = PLATFORMS
            .iter()
            .filter_map(|p| p.secrets.first().copied())
            .collect();
        bail!(
            "nothing to serve: no adapter is configured. Set {} (or {} in {})",
            tokens
                .iter()
                .map(|t| t.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(" or "),
            tokens.join(" / "),
            config.secrets_file.display()
        );
    }
    info!(adapters = ?adapters, "serving");
    if let Ok(listen) = config.http.listen.parse() {
        tasks.spawn(crate::adapters::http::run(
            app.clone(),
            listen,
            secrets.get("backup_token").cloned(),
            shutdown.clone(),
        ));
    }
    match refresher {
        Some(refresher) => {
            let stop = shutdown.clone();
            tasks.spawn(async move {
                refresher.run(stop).await;
                Ok(())
            });
        }
        None => info!("live sources off: answering from the store alone"),
    }
    tasks.spawn(tick_schedules(
        app.clone(),
        Duration::from_secs(config.announce.schedule_interval_secs),
        shutdown.clone(),
    ));
    if config.backup.every_hours > 0 {
        tasks.spawn(automatic_backups(
            app.clone(),
            config.backup_dir(),
            Duration::from_secs(u64::from(config.backup.every_hours) * 3600),
            config.backup.keep,
            shutdown.clone(),
        ));
    }

    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(err) = result {
            warn!(cause = %format!("{err:#}"), "a component stopped; shutting down");
            failure.get_or_insert(err);
            shutdown.cancel();
        }
    }
    app.flush()?;
    info!("stopped");
    failure.map_or(Ok(()), Err)
}

/// Writes a consistent backup into `dir` every `every` (the first at once
/// when the newest there is older than that), keeping the `keep` newest,
/// so an operator who never ran `rouge backup` can still recover a store
/// sled cannot open. A failure (a full disk) is logged and tried again at
/// the next turn; it never stops the bot.
async fn automatic_backups(
    app: App,
    dir: std::path::PathBuf,
    every: Duration,
    keep: u32,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let wait = {
            let dir = dir.clone();
            let age = tokio::task::spawn_blocking(move || crate::store::backup::newest_age(&dir))
                .await
                .ok()
                .flatten();
            age.map_or(Duration::ZERO, |age| every.saturating_sub(age))
        };
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        let (app, dir) = (app.clone(), dir.clone());
        let written = tokio::task::spawn_blocking(move || {
            crate::store::backup::write_rotating(&dir, keep, |out| {
                app.backup_to(out).map_err(std::io::Error::other)
            })
        })
        .await;
        match written {
            Ok(Ok(path)) => info!(file = %path.display(), "wrote an automatic backup"),
            Ok(Err(err)) => warn!(cause = %err, "an automatic backup failed; trying again later"),
            Err(err) => warn!(cause = %err, "the automatic backup task failed"),
        }
        // At least a minute between attempts, even when one failed.
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// Turns broadcast schedules into announcements every `interval`.
async fn tick_schedules(
    app: App,
    interval: Duration,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let ticker = app.clone();
        match tokio::task::spawn_blocking(move || ticker.process_schedule()).await {
            Ok(Ok(queued)) if queued > 0 => {
                info!(queued, "broadcast schedules queued announcements")
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => warn!(cause = %err, "cannot process broadcast schedules"),
            Err(err) => warn!(cause = %err, "the schedule task failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
