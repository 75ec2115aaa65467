//! `rouge serve`: the configured adapters, their announcement dispatchers
//! and the broadcast-schedule ticker, all stopped by one shutdown token.

use std::time::Duration;

use anyhow::bail;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::app::App;
use crate::config::Config;
use crate::secrets::Secrets;

/// What starting an adapter needs (unread when no adapter is compiled in).
#[cfg_attr(not(any(feature = "telegram", feature = "discord")), allow(dead_code))]
struct Wiring<'a> {
    app: &'a App,
    config: &'a Config,
    secrets: &'a Secrets,
    shutdown: &'a CancellationToken,
    tasks: &'a mut JoinSet<anyhow::Result<()>>,
}

/// Runs until `shutdown` is cancelled or a component fails. Fails at once,
/// naming the missing setting, when no adapter is configured.
pub async fn run(
    app: App,
    config: Config,
    secrets: Secrets,
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
    let adapters: Vec<&str> = [start_telegram(&mut wiring)?, start_discord(&mut wiring)?]
        .into_iter()
        .flatten()
        .collect();
    if adapters.is_empty() {
        bail!(
            "nothing to serve: no adapter is configured. Set TELEGRAM_BOT_TOKEN or DISCORD_TOKEN (or telegram_bot_token / discord_token in {})",
            config.secrets_file.display()
        );
    }
    info!(adapters = ?adapters, "serving");
    if let Ok(listen) = config.http.listen.parse() {
        tasks.spawn(crate::adapters::http::run(
            app.clone(),
            listen,
            shutdown.clone(),
        ));
    }
    tasks.spawn(tick_schedules(
        app.clone(),
        Duration::from_secs(config.announce.schedule_interval_secs),
        shutdown.clone(),
    ));

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

/// The Telegram adapter and its dispatcher, when a bot token is set.
#[cfg(feature = "telegram")]
fn start_telegram(w: &mut Wiring<'_>) -> anyhow::Result<Option<&'static str>> {
    use std::sync::Arc;

    use crate::adapters::telegram;
    use crate::app::dispatch::Dispatcher;
    use crate::core::caller::Platform;

    let Some(token) = &w.secrets.telegram_bot_token else {
        return Ok(None);
    };
    let bot = telegram::bot(token, &w.config.telegram)?;
    w.tasks.spawn(telegram::run(
        w.app.clone(),
        bot.clone(),
        w.config.telegram.clone(),
        w.secrets.telegram_webhook_secret.clone(),
        w.shutdown.clone(),
    ));
    let dispatcher = Dispatcher::new(
        w.app.clone(),
        Arc::new(telegram::TelegramNotifier::new(bot)),
        w.config.dispatch_settings(Platform::Telegram),
    );
    let stop = w.shutdown.clone();
    w.tasks.spawn(async move {
        dispatcher.run(stop, GRACE).await;
        Ok(())
    });
    Ok(Some("telegram"))
}

#[cfg(not(feature = "telegram"))]
fn start_telegram(_: &mut Wiring<'_>) -> anyhow::Result<Option<&'static str>> {
    Ok(None)
}

/// The Discord gateway adapter and its dispatcher when a bot token is set,
/// and the interactions endpoint when `discord.interactions_listen` is.
#[cfg(feature = "discord")]
fn start_discord(w: &mut Wiring<'_>) -> anyhow::Result<Option<&'static str>> {
    use std::sync::Arc;

    use anyhow::Context as _;

    use crate::adapters::discord;
    use crate::app::dispatch::Dispatcher;
    use crate::core::caller::Platform;

    let endpoint = !w.config.discord.interactions_listen.is_empty();
    if endpoint {
        let key = w
            .secrets
            .discord_public_key
            .as_ref()
            .context("discord.interactions_listen is set but DISCORD_PUBLIC_KEY is not")?;
        let verifier = discord::endpoint::verifier(key)?;
        let listen = w
            .config
            .discord
            .interactions_listen
            .parse()
            .context("discord.interactions_listen is not an address")?;
        w.tasks.spawn(discord::endpoint::run(
            w.app.clone(),
            listen,
            verifier,
            w.shutdown.clone(),
        ));
    }
    let Some(token) = &w.secrets.discord_token else {
        return Ok(endpoint.then_some("discord interactions endpoint"));
    };
    w.tasks.spawn(discord::run(
        w.app.clone(),
        discord::http(token, &w.config.discord),
        w.config.discord.clone(),
        w.shutdown.clone(),
    ));
    let notifier = discord::DiscordNotifier::new(Arc::new(discord::http(token, &w.config.discord)));
    let dispatcher = Dispatcher::new(
        w.app.clone(),
        Arc::new(notifier),
        w.config.dispatch_settings(Platform::Discord),
    );
    let stop = w.shutdown.clone();
    w.tasks.spawn(async move {
        dispatcher.run(stop, GRACE).await;
        Ok(())
    });
    Ok(Some("discord"))
}

#[cfg(not(feature = "discord"))]
fn start_discord(_: &mut Wiring<'_>) -> anyhow::Result<Option<&'static str>> {
    Ok(None)
}

/// How long a stopping dispatcher waits for sends in flight.
#[cfg(any(feature = "telegram", feature = "discord"))]
const GRACE: Duration = Duration::from_secs(5);
