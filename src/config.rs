//! Layered configuration: built-in defaults (`config/default.toml`, compiled
//! in) → an optional config file → `ROUGE_*` environment variables.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

use crate::core::app::Settings;

/// The defaults, which are also the documentation of every setting.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub owners: Vec<String>,
    pub seed_demo: bool,
    pub search: SearchConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub picker_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
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
    /// Loads the layers; `file` is the `--config` argument.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::from_figment(Self::figment(file)?.merge(Env::prefixed("ROUGE_").split("__")))
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
        for owner in &self.owners {
            let valid = owner.split_once(':').is_some_and(|(p, id)| {
                matches!(p, "telegram" | "discord" | "local") && !id.is_empty()
            });
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
        Ok(())
    }

    /// The settings the core takes from this configuration.
    pub fn core_settings(&self) -> Settings {
        Settings {
            owners: self.owners.clone(),
            picker_size: self.search.picker_size,
            seed_demo: self.seed_demo,
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
}
