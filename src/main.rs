//! `rouge`: parses arguments, loads the configuration, sets up logging and
//! hands over to [`rouge::cli::run`].

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use rouge::cli::{Cli, run};
use rouge::config::{Config, LogFormat};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("rouge: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(dir) = &cli.data_dir {
        if dir.as_os_str().is_empty() {
            eprintln!("rouge: --data-dir is empty: name the data directory");
            return std::process::ExitCode::from(2);
        }
        config.data_dir = dir.clone();
    }
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    if !config.ignored_env.is_empty() {
        tracing::warn!(
            variables = ?config.ignored_env,
            "ignoring ROUGE_ environment variables that are not settings"
        );
    }
    match run(cli, &config) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        // A reader that went away (`rouge search … | head`) is not an error.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("rouge: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
