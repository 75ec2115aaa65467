//! The `rouge` command line: argument types and one function per subcommand.
//! `main` only parses, loads the configuration, sets up logging and calls [`run`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::adapters::console;
use crate::app::App;
use crate::app::dispatch::Dispatcher;
use crate::config::Config;
use crate::core::caller::{Caller, Platform};
use crate::core::clock::SystemClock;
use crate::core::reply::Reply;
use crate::import::Format;
use crate::live::{Background, SyncWhat};
use crate::store::Store;

/// Rouge, a self-hosted anime info bot.
#[derive(Debug, Parser)]
#[command(name = "rouge", version, about)]
pub struct Cli {
    /// A config file layered over the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (overrides the config's data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Interactive chat with the bot, as the local owner.
    Console {
        /// Act as this local user instead of the owner.
        #[arg(long, value_name = "NAME")]
        as_user: Option<String>,
    },
    /// Runs one command and prints the reply (exit status 1 if it is an error).
    Ask {
        /// Act as this local user instead of the owner.
        #[arg(long, value_name = "NAME")]
        as_user: Option<String>,
        /// Print the reply as JSON.
        #[arg(long)]
        json: bool,
        /// The chat line, e.g. "/anime metallic rouge".
        line: String,
    },
    /// Ranked title look-up. Without QUERY, reads one query per line from
    /// standard input and prints one JSON line per query.
    Search {
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: u16,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        query: Option<String>,
    },
    /// Imports a catalog file.
    Import {
        /// bangumi-data, offline-db or rouge (works to add or update);
        /// imdb-ratings (IMDb's title.ratings.tsv or .tsv.gz: scores for
        /// entries with an IMDb id) or anime-lists (Fribb's
        /// anime-list-full.json: ids for entries the catalog has).
        #[arg(long)]
        format: Format,
        file: PathBuf,
    },
    /// Writes the whole catalog as rouge JSON (to standard output by default).
    Export {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Runs the configured chat adapters, announcements and schedules until
    /// SIGINT or SIGTERM.
    Serve,
    /// Writes a consistent snapshot of the whole store (also while
    /// `rouge serve` runs: then it is fetched from its http.listen).
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restores a backup into an empty data directory.
    Restore { file: PathBuf },
    /// Asks a running `rouge serve` whether it is healthy (its /healthz on
    /// http.listen); exit status 0 when it is. For container health checks.
    Health,
    /// Refreshes entries from the live sources (AniList, Jikan) now, within
    /// their budgets, with a progress bar. Exit status 1 if a source failed.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["title", "subscribed", "airing"])))]
    Sync {
        /// One entry: `#id` or a title.
        title: Option<String>,
        /// Every entry a chat subscribes to.
        #[arg(long)]
        subscribed: bool,
        /// The airing schedule window (the last days and the next week),
        /// adding the titles in it the catalog does not know yet.
        #[arg(long)]
        airing: bool,
    },
}

/// Opens the data directory and the catalog.
fn open_app(config: &Config) -> anyhow::Result<App> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let store = Store::open_waiting(&config.data_dir, std::time::Duration::from_secs(5))
        .with_context(|| {
            format!(
                "cannot open the data directory {}",
                config.data_dir.display()
            )
        })?;
    Ok(App::open(
        store,
        config.core_settings(),
        Arc::new(SystemClock),
    )?)
}

fn caller(as_user: Option<&str>) -> anyhow::Result<Caller> {
    match as_user {
        None => Ok(Caller::local_owner()),
        Some(name) => {
            let name = name.trim();
            if name.is_empty()
                || name.len() > 64
                || name.chars().any(|c| c.is_control() || c == ':')
            {
                bail!("--as-user needs a name of 1 to 64 characters without ':'");
            }
            Ok(Caller::local(name))
        }
    }
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli, config: &Config) -> anyhow::Result<i32> {
    match cli.command {
        CliCommand::Console { as_user } => {
            let app = open_app(config)?;
            let caller = caller(as_user.as_deref())?;
            let _sources = Background::start(&app, config)?;
            console::run(
                &app,
                &caller,
                &config.data_dir.join("console_history"),
                config.dispatch_settings(Platform::Local),
            )?;
            app.flush()?;
            Ok(0)
        }
        CliCommand::Ask {
            as_user,
            json,
            line,
        } => ask(config, as_user.as_deref(), json, &line),
        CliCommand::Search { limit, json, query } => {
            let app = open_app(config)?;
            search(&app, usize::from(limit), json, query.as_deref())?;
            Ok(0)
        }
        CliCommand::Import { format, file } => {
            let app = open_app(config)?;
            import(&app, format, &file)?;
            Ok(0)
        }
        CliCommand::Serve => {
            let secrets = crate::secrets::Secrets::load(&config.secrets_file)?;
            let app = open_app(config)?;
            let refresher = crate::live::attach(&app, config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let shutdown = crate::shutdown::on_signals();
                crate::serve::run(app, config.clone(), secrets, refresher, shutdown).await
            })?;
            Ok(0)
        }
        CliCommand::Sync {
            title,
            subscribed,
            airing,
        } => {
            let what = match (title, subscribed, airing) {
                (Some(title), ..) => SyncWhat::Title(title),
                (None, true, _) => SyncWhat::Subscribed,
                (None, false, _) => SyncWhat::Airing,
            };
            let app = open_app(config)?;
            crate::live::sync(&app, config, what)
        }
        CliCommand::Health => health(config),
        CliCommand::Backup { out } => {
            backup(config, &out)?;
            Ok(0)
        }
        CliCommand::Restore { file } => {
            restore(config, &file)?;
            Ok(0)
        }
        CliCommand::Export { out } => {
            let app = open_app(config)?;
            export(&app, out.as_deref())?;
            Ok(0)
        }
    }
}

/// `rouge ask`: one command, its reply, then the local chat's announcements
/// it made due. Exit status 1 when the reply is an error.
fn ask(config: &Config, as_user: Option<&str>, json: bool, line: &str) -> anyhow::Result<i32> {
    let app = open_app(config)?;
    let _sources = Background::start(&app, config)?;
    let reply = app.handle_line(&caller(as_user)?, line);
    let text = if json {
        serde_json::to_string(&reply)?
    } else {
        console::render(&reply)
    };
    writeln!(std::io::stdout().lock(), "{text}")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let notifier = Arc::new(console::ConsoleNotifier::new(json));
    let mut dispatcher = Dispatcher::new(
        app.clone(),
        notifier,
        config.dispatch_settings(Platform::Local),
    );
    console::announce_due(&app, &mut dispatcher, &runtime);
    Ok(i32::from(matches!(reply, Reply::Error(_))))
}

/// `rouge health`: asks a running `rouge serve` for its `/healthz`.
fn health(config: &Config) -> anyhow::Result<i32> {
    if config.http.listen.is_empty() {
        bail!("http.listen is off, so there is no health endpoint to ask");
    }
    let url = format!("http://{}/healthz", config.http.listen);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (ok, body) = runtime.block_on(async {
        let response = reqwest::get(&url)
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        Ok::<_, anyhow::Error>((response.status().is_success(), response.text().await?))
    })?;
    writeln!(std::io::stdout().lock(), "{body}")?;
    Ok(if ok { 0 } else { 1 })
}

/// `rouge restore`: a backup into an empty data directory.
/// Restores into a new directory beside the data directory and renames it
/// into place at the end, so a failed restore leaves nothing behind (and
/// can simply be run again).
fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let snapshot = crate::store::backup::read(&bytes)?;
    let data = &config.data_dir;
    let occupied = std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        bail!(
            "the data directory {} is not empty; restore into a new, empty one",
            data.display()
        );
    }
    let staging = data.with_file_name(format!(
        ".{}.restoring",
        data.file_name().and_then(|n| n.to_str()).unwrap_or("data")
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let restored = (|| -> anyhow::Result<usize> {
        std::fs::create_dir_all(&staging)?;
        let store = Store::open(&staging)
            .with_context(|| format!("cannot create a store in {}", staging.display()))?;
        store
            .restore(&snapshot)
            .with_context(|| format!("{} was not restored", file.display()))?;
        let entries = store.load_entries()?.len();
        store.flush()?;
        Ok(entries)
    })();
    let entries = match restored {
        Ok(entries) => entries,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(err);
        }
    };
    // The store let go of the staging directory when it was dropped; an
    // empty data directory (just created) is replaced.
    let _ = std::fs::remove_dir(data);
    std::fs::rename(&staging, data).with_context(|| {
        format!(
            "the backup was restored into {} but could not be moved to {}",
            staging.display(),
            data.display()
        )
    })?;
    writeln!(
        std::io::stdout().lock(),
        "Restored {} ({entries} entries) into {}.",
        file.display(),
        config.data_dir.display()
    )?;
    Ok(())
}

fn search(app: &App, limit: usize, json: bool, query: Option<&str>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let Some(query) = query else {
        console::text_lines(std::io::stdin().lock(), |line| {
            let results = app.search(line, limit);
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({ "query": line, "results": results }),
            )?;
            writeln!(out)
        })
        .context("cannot read standard input")?;
        return Ok(());
    };
    let results = app.search(query, limit);
    if json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({ "query": query, "results": results }),
        )?;
        writeln!(out)?;
    } else if results.is_empty() {
        writeln!(out, "No match for \"{query}\".")?;
    } else {
        for r in results {
            writeln!(
                out,
                "#{:<6} {:.3}  {:<8} {}  ← {}",
                r.id,
                r.score,
                format!("{:?}", r.how).to_lowercase(),
                r.title,
                r.matched
            )?;
        }
    }
    Ok(())
}

fn import(app: &App, format: Format, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let bar = indicatif::ProgressBar::new(0);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message(format!("importing {}", file.display()));
    let summary = app
        .import(format, &bytes, "local:owner", |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .with_context(|| {
            format!(
                "{} was not imported; the catalog is unchanged",
                file.display()
            )
        })?;
    bar.finish_and_clear();
    for skipped in &summary.skipped {
        eprintln!("skipped {}: {}", skipped.position, skipped.reason);
    }
    writeln!(
        std::io::stdout().lock(),
        "Imported {}: {summary}.",
        file.display()
    )?;
    Ok(())
}

/// Writes a file beside `path` and renames it into place, so a failure
/// never leaves a truncated file where a good one was.
/// A path that is a device, a pipe or a socket (`/dev/stdout`, a FIFO) is
/// written as it is: renaming over it would replace it. Every failure
/// (a full disk included) is reported, and a half-written file removed.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
    let target = if special {
        path.to_owned()
    } else {
        path.with_extension("partial")
    };
    let written = (|| -> anyhow::Result<()> {
        let file = if special {
            std::fs::OpenOptions::new().write(true).open(&target)
        } else {
            std::fs::File::create(&target)
        }
        .with_context(|| format!("cannot create {}", target.display()))?;
        let mut file = std::io::BufWriter::new(file);
        write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        if !special {
            file.sync_all()?;
        }
        Ok(())
    })();
    let done = written.and_then(|()| {
        if !special {
            std::fs::rename(&target, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    });
    if let Err(err) = done {
        if !special {
            let _ = std::fs::remove_file(&target);
        }
        let full = err
            .chain()
            .filter_map(|e| e.downcast_ref::<std::io::Error>())
            .any(crate::store::is_disk_full);
        if full {
            bail!(
                "disk full: {} was not written (nothing was left behind)",
                path.display()
            );
        }
        return Err(err.context(format!("{} was not written", path.display())));
    }
    Ok(())
}

/// Asks the `rouge serve` that holds the data directory for a backup, and
/// makes sure it is that store's: whatever answers on `http.listen` may be
/// serving another data directory.
fn fetch_backup(config: &Config) -> anyhow::Result<Vec<u8>> {
    let Some(expected) = Store::id_in(&config.data_dir) else {
        bail!(
            "the data directory {} is in use, and it does not say which store it is; stop the bot and run rouge backup again",
            config.data_dir.display()
        );
    };
    let secrets = crate::secrets::Secrets::load(&config.secrets_file)?;
    let Some(token) = secrets.get("backup_token") else {
        bail!(
            "the data directory is in use by rouge serve; to fetch a backup from it, set the backup_token secret (BACKUP_TOKEN) for both"
        );
    };
    let url = format!("http://{}/backup", config.http.listen);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let other_store = || {
        anyhow::anyhow!(
            "the bot at {} serves another store than {}; nothing was written",
            config.http.listen,
            config.data_dir.display()
        )
    };
    runtime.block_on(async {
        // Which store it serves, before a backup is started at all.
        let health: serde_json::Value = client
            .get(format!("http://{}/healthz", config.http.listen))
            .send()
            .await
            .with_context(|| format!("cannot reach the running bot at {url}"))?
            .json()
            .await
            .context("the running bot's /healthz is not JSON")?;
        if health["store_id"].as_str() != Some(expected.as_str()) {
            return Err(other_store());
        }
        // One backup at a time: wait for one under way to finish.
        for _ in 0..6 {
            let response = client
                .get(&url)
                .bearer_auth(secrecy::ExposeSecret::expose_secret(token))
                .send()
                .await
                .with_context(|| format!("cannot reach the running bot at {url}"))?;
            if response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                continue;
            }
            if !response.status().is_success() {
                bail!("the running bot answered {} for {url}", response.status());
            }
            let served = response
                .headers()
                .get(crate::adapters::http::STORE_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if served != expected {
                return Err(other_store());
            }
            return Ok(response.bytes().await?.to_vec());
        }
        bail!("the running bot was busy with other backups for half a minute; try again")
    })
}

/// Snapshots the store directly, or, when `rouge serve` holds it, asks the
/// running process through its http.listen.
fn backup(config: &Config, out: &Path) -> anyhow::Result<()> {
    // A backup inside the data directory could overwrite the store's own
    // files, and would be lost with it.
    if let (Ok(data), Some(parent)) = (
        config.data_dir.canonicalize(),
        out.parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .and_then(|p| p.canonicalize().ok()),
    ) && parent.starts_with(&data)
    {
        bail!(
            "{} is inside the data directory {}: write the backup somewhere else",
            out.display(),
            config.data_dir.display()
        );
    }
    let bytes = match Store::open(&config.data_dir) {
        Ok(store) => {
            let mut bytes = Vec::new();
            crate::store::backup::write(&store.snapshot()?, &mut bytes)?;
            bytes
        }
        Err(crate::store::StoreError::Locked) => {
            if config.http.listen.is_empty() {
                bail!(
                    "the data directory is in use by rouge serve, and http.listen is off, so there is no way to reach it"
                );
            }
            fetch_backup(config)?
        }
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "cannot open the data directory {}",
                    config.data_dir.display()
                )
            });
        }
    };
    // What the running bot sent must be a backup this build can restore.
    crate::store::backup::read(&bytes)?;
    write_atomically(out, |file| Ok(file.write_all(&bytes)?))?;
    eprintln!(
        "Backed up {} to {}.",
        config.data_dir.display(),
        out.display()
    );
    Ok(())
}

fn export(app: &App, out: Option<&Path>) -> anyhow::Result<()> {
    let entries = app.export_entries();
    match out {
        Some(path) => {
            write_atomically(path, |file| {
                Ok(crate::import::rouge_json::write(&entries, file)?)
            })?;
            eprintln!("Exported {} entries to {}.", entries.len(), path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            crate::import::rouge_json::write(&entries, &mut lock)?;
        }
    }
    Ok(())
}
