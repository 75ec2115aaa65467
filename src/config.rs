//! Layered configuration: built-in defaults (`config/default.toml`, compiled
//! in) → an optional config file → `ROUGE_*` environment variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::app::{RefreshSettings, Settings};
use crate::core::announce::limits::{DispatchSettings, Rate, RateLimits};
use crate::core::caller::Platform;
use crate::core::source::SourceId;
use crate::sources::{RateLimit, SourceSettings};

/// The defaults, which are also the documentation of every setting.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub owners: Vec<String>,
    pub secrets_file: PathBuf,
    pub seed_demo: bool,
    /// Every live source off, whatever `[sources]` says.
    pub offline: bool,
    pub search: SearchConfig,
    pub announce: AnnounceConfig,
    pub telegram: TelegramConfig,
    pub discord: DiscordConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub sources: SourcesConfig,
    pub backup: BackupConfig,
    /// `ROUGE_*` environment variables that name no setting (a Kubernetes
    /// Service named "rouge" injects `ROUGE_PORT` and the like): ignored,
    /// and named in one warning at start.
    #[serde(skip)]
    pub ignored_env: Vec<String>,
}

/// `[backup]`: the backups `rouge serve` writes by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Hours between automatic backups; 0 turns them off.
    pub every_hours: u32,
    /// How many automatic backups are kept.
    pub keep: u32,
    /// Where they go; empty: `<data_dir>-backups` beside the data directory.
    pub dir: PathBuf,
}

/// `[sources]`: the live sources and how the refresher uses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    pub first_fetch_wait_ms: u64,
    pub ttl_airing_hours: u32,
    pub ttl_finished_days: u32,
    pub ttl_scores_hours: u32,
    pub airing_poll_minutes: u32,
    pub window_back_days: u32,
    pub window_ahead_days: u32,
    pub subscribed_check_minutes: u32,
    pub anilist: SourceConfig,
    pub jikan: SourceConfig,
}

/// One live source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub enabled: bool,
    pub url: String,
    /// Requests per rolling minute.
    pub per_minute: u32,
    /// Requests per second (0: no per-second limit).
    #[serde(default)]
    pub per_second: u32,
    pub timeout_secs: u64,
    /// The longest a request waits for room in the budget.
    pub max_wait_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    pub api_base: String,
    pub dev_guild: u64,
    pub shards: String,
    pub interactions_listen: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub api_url: String,
    pub webhook_url: String,
    pub webhook_listen: String,
    pub admin_cache_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub picker_size: usize,
}

/// `[announce]`: how announcements are sent. Besides its own keys it holds
/// one `[announce.<platform>]` table of posting limits per platform (by
/// the names in [`crate::core::platform::PLATFORMS`]; unknown names are
/// refused when the config is checked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnounceConfig {
    pub catch_up_hours: u32,
    pub stale_data_days: u32,
    pub schedule_interval_secs: u64,
    pub max_attempts: u32,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    pub send_timeout_secs: u64,
    pub max_in_flight: usize,
    /// Posting limits by platform name; a platform without an entry keeps
    /// its published limits.
    #[serde(flatten)]
    pub limits: BTreeMap<String, LimitsConfig>,
}

/// A platform's posting limits; a key left out keeps the platform's
/// published value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub global_per_second: Option<u32>,
    pub per_chat: Option<u32>,
    pub chat_window_secs: Option<u64>,
    pub per_group: Option<u32>,
    pub group_window_secs: Option<u64>,
}

impl LimitsConfig {
    /// These limits over `published`.
    fn limits(self, published: RateLimits) -> RateLimits {
        let rate = |count: Option<u32>, secs: Option<u64>, base: Rate| {
            Rate::new(
                count.unwrap_or(base.count),
                secs.map_or(base.per, Duration::from_secs),
            )
        };
        RateLimits {
            global: rate(self.global_per_second, None, published.global),
            per_chat: rate(self.per_chat, self.chat_window_secs, published.per_chat),
            per_group: rate(self.per_group, self.group_window_secs, published.per_group),
        }
    }
}

/// Whether limits can be kept: at least one send, windows of 1 s to an hour.
fn valid_limits(limits: &RateLimits) -> bool {
    [limits.global, limits.per_chat, limits.per_group]
        .iter()
        .all(|r| r.count >= 1 && (1..=3600).contains(&r.per.as_secs()))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting's dotted key (`search.picker_size`), from the defaults,
/// with `announce.<platform>.*` for every platform.
fn setting_keys() -> std::collections::BTreeSet<String> {
    use figment::value::{Dict, Value};
    fn walk(prefix: &str, dict: &Dict, out: &mut std::collections::BTreeSet<String>) {
        for (key, value) in dict {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if let Value::Dict(_, inner) = value {
                walk(&path, inner, out);
            } else {
                out.insert(path);
            }
        }
    }
    let mut keys = std::collections::BTreeSet::new();
    if let Ok(dict) = Figment::from(Toml::string(DEFAULTS)).extract::<Dict>() {
        walk("", &dict, &mut keys);
    }
    let limits: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("announce.telegram.").map(str::to_owned))
        .collect();
    for platform in Platform::ALL {
        for limit in &limits {
            keys.insert(format!("announce.{platform}.{limit}"));
        }
    }
    keys
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads the layers; `file` is the `--config` argument. Environment
    /// variables that name no setting are left out (see `ignored_env`);
    /// unknown keys in a file stay an error.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let known = setting_keys();
        let setting = |var: &str| {
            var.strip_prefix("ROUGE_")
                .map(|key| key.to_ascii_lowercase().replace("__", "."))
                .is_some_and(|key| known.contains(&key))
        };
        let ignored: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with("ROUGE_") && !setting(k))
            .collect();
        let env = Env::prefixed("ROUGE_")
            .split("__")
            .filter(move |key| known.contains(&key.as_str().to_ascii_lowercase()));
        let mut config = Self::from_figment(Self::figment(file)?.merge(env))?;
        config.ignored_env = ignored;
        Ok(config)
    }

    /// Loads the defaults and `file` only, ignoring the environment.
    pub fn load_without_env(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Missing(path.to_owned()));
            }
            figment = figment.merge(Toml::file(path));
        }
        Ok(figment)
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "data_dir is empty (ROUGE_DATA_DIR=?): name the data directory, e.g. /var/lib/rouge"
                    .into(),
            ));
        }
        for owner in &self.owners {
            let valid = owner
                .split_once(':')
                .is_some_and(|(p, id)| Platform::from_name(p).is_some() && !id.is_empty());
            if !valid {
                return Err(ConfigError::Invalid(format!(
                    "owner \"{owner}\" should be \"telegram:<user id>\", \"discord:<user id>\" or \"local:<name>\""
                )));
            }
        }
        if !(2..=10).contains(&self.search.picker_size) {
            return Err(ConfigError::Invalid(
                "search.picker_size must be from 2 to 10".into(),
            ));
        }
        self.validate_addresses()?;
        self.validate_sources()?;
        if self.backup.every_hours > 24 * 30 || !(1..=1000).contains(&self.backup.keep) {
            return Err(ConfigError::Invalid(
                "backup.every_hours must be at most 720 and backup.keep from 1 to 1000".into(),
            ));
        }
        if self.backup_dir().starts_with(&self.data_dir) {
            return Err(ConfigError::Invalid(
                "backup.dir must not be inside the data directory".into(),
            ));
        }
        self.validate_announce()
    }

    /// `[sources]`: URLs, budgets and intervals that can work.
    fn validate_sources(&self) -> Result<(), ConfigError> {
        let s = &self.sources;
        for (name, c) in [("anilist", &s.anilist), ("jikan", &s.jikan)] {
            let url_ok = c.url.starts_with("http://") || c.url.starts_with("https://");
            let checks = [
                (url_ok, "url must be an http(s) URL"),
                (
                    (1..=600).contains(&c.per_minute),
                    "per_minute must be from 1 to 600",
                ),
                (c.per_second <= 100, "per_second must be at most 100"),
                (
                    (1..=300).contains(&c.timeout_secs),
                    "timeout_secs must be from 1 to 300",
                ),
                (
                    c.max_wait_secs <= 3600,
                    "max_wait_secs must be at most 3600",
                ),
            ];
            if let Some((_, message)) = checks.iter().find(|(ok, _)| !ok) {
                return Err(ConfigError::Invalid(format!("sources.{name}.{message}")));
            }
        }
        let checks = [
            (
                s.first_fetch_wait_ms <= 10_000,
                "sources.first_fetch_wait_ms must be at most 10000",
            ),
            (
                s.ttl_airing_hours >= 1,
                "sources.ttl_airing_hours must be at least 1",
            ),
            (
                s.ttl_finished_days >= 1,
                "sources.ttl_finished_days must be at least 1",
            ),
            (
                s.ttl_scores_hours >= 1,
                "sources.ttl_scores_hours must be at least 1",
            ),
            (
                (5..=1440).contains(&s.airing_poll_minutes),
                "sources.airing_poll_minutes must be from 5 to 1440",
            ),
            (
                s.window_back_days <= 14 && (1..=14).contains(&s.window_ahead_days),
                "sources.window_back_days must be at most 14 and window_ahead_days from 1 to 14",
            ),
            (
                (1..=1440).contains(&s.subscribed_check_minutes),
                "sources.subscribed_check_minutes must be from 1 to 1440",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(ConfigError::Invalid((*message).into())),
            None => Ok(()),
        }
    }

    /// URLs and listen addresses.
    fn validate_addresses(&self) -> Result<(), ConfigError> {
        let t = &self.telegram;
        for (name, url) in [
            ("telegram.api_url", &t.api_url),
            ("telegram.webhook_url", &t.webhook_url),
        ] {
            let valid = url.is_empty() || url.starts_with("http://") || url.starts_with("https://");
            if !valid {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be an http(s) URL or empty"
                )));
            }
        }
        if t.webhook_listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(
                "telegram.webhook_listen must be an address such as 127.0.0.1:8443".into(),
            ));
        }
        if !self.http.listen.is_empty() && self.http.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError::Invalid(
                "http.listen must be an address such as 127.0.0.1:9464, or empty".into(),
            ));
        }
        let listen = &self.discord.interactions_listen;
        if !listen.is_empty() && listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(
                "discord.interactions_listen must be an address such as 127.0.0.1:8444, or empty"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `[announce]` and its per-platform limits.
    fn validate_announce(&self) -> Result<(), ConfigError> {
        let a = &self.announce;
        let checks = [
            (
                a.catch_up_hours <= 24 * 30,
                "announce.catch_up_hours must be at most 720",
            ),
            (
                (1..=3650).contains(&a.stale_data_days),
                "announce.stale_data_days must be from 1 to 3650",
            ),
            (
                (1..=3600).contains(&a.schedule_interval_secs),
                "announce.schedule_interval_secs must be from 1 to 3600",
            ),
            (
                (1..=100).contains(&a.max_attempts),
                "announce.max_attempts must be from 1 to 100",
            ),
            (
                a.backoff_base_secs >= 1 && a.backoff_base_secs <= a.backoff_max_secs,
                "announce.backoff_base_secs must be at least 1 and at most backoff_max_secs",
            ),
            (
                (1..=600).contains(&a.send_timeout_secs),
                "announce.send_timeout_secs must be from 1 to 600",
            ),
            (
                (1..=256).contains(&a.max_in_flight),
                "announce.max_in_flight must be from 1 to 256",
            ),
            (
                Platform::ALL
                    .iter()
                    .all(|p| valid_limits(&self.dispatch_settings(*p).limits)),
                "announce limits must be at least 1, windows from 1 to 3600 seconds",
            ),
        ];
        if let Some(name) = a.limits.keys().find(|n| Platform::from_name(n).is_none()) {
            return Err(ConfigError::Invalid(format!(
                "announce.{name} is not a setting or a platform (platforms: {})",
                Platform::ALL.map(Platform::as_str).join(", ")
            )));
        }
        if let Some((_, message)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(ConfigError::Invalid((*message).into()));
        }
        Ok(())
    }

    /// Where automatic backups go (never inside the data directory).
    pub fn backup_dir(&self) -> PathBuf {
        if !self.backup.dir.as_os_str().is_empty() {
            return self.backup.dir.clone();
        }
        let name = self
            .data_dir
            .file_name()
            .map_or_else(|| "data".into(), |n| n.to_string_lossy().into_owned());
        self.data_dir.with_file_name(format!("{name}-backups"))
    }

    /// How the refresher behaves.
    pub fn refresh_settings(&self) -> RefreshSettings {
        let s = &self.sources;
        let minutes = |m: u32| Duration::from_secs(u64::from(m) * 60);
        RefreshSettings {
            first_fetch_wait: Duration::from_millis(s.first_fetch_wait_ms),
            ttl_airing: chrono::Duration::hours(i64::from(s.ttl_airing_hours)),
            ttl_finished: chrono::Duration::days(i64::from(s.ttl_finished_days)),
            ttl_scores: chrono::Duration::hours(i64::from(s.ttl_scores_hours)),
            airing_poll: minutes(s.airing_poll_minutes),
            window_back: chrono::Duration::days(i64::from(s.window_back_days)),
            window_ahead: chrono::Duration::days(i64::from(s.window_ahead_days)),
            subscribed_check: minutes(s.subscribed_check_minutes),
        }
    }

    /// The sources to connect, with their endpoints and budgets: those
    /// enabled, none when `offline`.
    pub fn source_settings(&self) -> Vec<(SourceId, SourceSettings)> {
        if self.offline {
            return Vec::new();
        }
        [
            (SourceId::AniList, &self.sources.anilist),
            (SourceId::Jikan, &self.sources.jikan),
        ]
        .into_iter()
        .filter(|(_, c)| c.enabled)
        .map(|(id, c)| {
            let mut limits = Vec::new();
            if c.per_second > 0 {
                limits.push(RateLimit::per_second(c.per_second));
            }
            limits.push(RateLimit::per_minute(c.per_minute));
            let settings = SourceSettings {
                url: c.url.clone(),
                limits,
                timeout: Duration::from_secs(c.timeout_secs),
                max_wait: Duration::from_secs(c.max_wait_secs),
                ..SourceSettings::for_source(id)
            };
            (id, settings)
        })
        .collect()
    }

    /// The settings the core takes from this configuration.
    pub fn core_settings(&self) -> Settings {
        Settings {
            owners: self.owners.clone(),
            picker_size: self.search.picker_size,
            seed_demo: self.seed_demo,
            catch_up: chrono::Duration::hours(i64::from(self.announce.catch_up_hours)),
            stale_after: chrono::Duration::days(i64::from(self.announce.stale_data_days)),
        }
    }

    /// How the dispatcher of `platform` behaves.
    pub fn dispatch_settings(&self, platform: Platform) -> DispatchSettings {
        let a = &self.announce;
        DispatchSettings {
            limits: a
                .limits
                .get(platform.as_str())
                .copied()
                .unwrap_or_default()
                .limits(platform.info().limits),
            max_attempts: a.max_attempts,
            backoff_base: Duration::from_secs(a.backoff_base_secs),
            backoff_max: Duration::from_secs(a.backoff_max_secs),
            send_timeout: Duration::from_secs(a.send_timeout_secs),
            max_in_flight: a.max_in_flight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_are_valid() {
        let config = Config::load_without_env(None).expect("defaults load");
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert!(config.owners.is_empty());
        assert_eq!(config.search.picker_size, 5);
        assert_eq!(
            config.dispatch_settings(Platform::Telegram).limits,
            RateLimits::TELEGRAM
        );
        assert_eq!(
            config.dispatch_settings(Platform::Discord).limits,
            RateLimits::DISCORD
        );
        assert_eq!(config.core_settings().catch_up, chrono::Duration::hours(24));
    }

    #[test]
    fn file_overrides_defaults_and_bad_values_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rouge.toml");
        std::fs::write(
            &path,
            "owners = [\"telegram:42\"]\n[search]\npicker_size = 8\n",
        )
        .expect("write");
        let config = Config::load_without_env(Some(&path)).expect("loads");
        assert_eq!(config.owners, ["telegram:42"]);
        assert_eq!(config.search.picker_size, 8);

        std::fs::write(&path, "owners = [\"alice\"]\n").expect("write");
        let err = Config::load_without_env(Some(&path))
            .unwrap_err()
            .to_string();
        assert!(err.contains("alice"), "{err}");

        std::fs::write(&path, "colour = \"red\"\n").expect("write");
        assert!(Config::load_without_env(Some(&path)).is_err());
        assert!(matches!(
            Config::load_without_env(Some(&dir.path().join("nope.toml"))),
            Err(ConfigError::Missing(_))
        ));
    }

    #[test]
    fn posting_limits_are_per_platform_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rouge.toml");
        std::fs::write(&path, "[announce.telegram]\nper_chat = 2\n").expect("write");
        let config = Config::load_without_env(Some(&path)).expect("loads");
        assert_eq!(
            config
                .dispatch_settings(Platform::Telegram)
                .limits
                .per_chat
                .count,
            2
        );
        assert_eq!(
            config.dispatch_settings(Platform::Local).limits,
            RateLimits::LOCAL,
            "a platform without a table keeps its published limits"
        );
        std::fs::write(&path, "[announce.slack]\nper_chat = 2\n").expect("write");
        let err = Config::load_without_env(Some(&path))
            .unwrap_err()
            .to_string();
        assert!(err.contains("announce.slack"), "{err}");
    }
}
