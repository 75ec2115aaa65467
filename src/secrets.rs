//! Secrets (bot tokens, keys) come from the environment or a git-ignored
//! secrets file, never from the config, and are held as [`SecretString`] so
//! that printing or logging them shows `[REDACTED]`.
//!
//! The file is TOML with any of these keys; an environment variable of the
//! same name in upper case wins over the file:
//!
//! ```toml
//! telegram_bot_token = "123456:ABC…"
//! telegram_webhook_secret = "a-random-string"
//! discord_token = "…"
//! discord_public_key = "…"
//! backup_token = "a-long-random-string"   # for GET /backup on http.listen
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigError;
use crate::core::platform::PLATFORMS;

/// The secrets that are set, by name (`telegram_bot_token`, …: every
/// platform's [`crate::core::platform::PlatformInfo::secrets`]).
#[derive(Debug, Default)]
pub struct Secrets {
    values: BTreeMap<&'static str, SecretString>,
}

/// Secrets that belong to no platform: the operator's `/backup` token.
const OWN: &[&str] = &["backup_token"];

/// Every secret name any platform (or Rouge itself) reads.
fn known() -> impl Iterator<Item = &'static str> {
    PLATFORMS
        .iter()
        .flat_map(|p| p.secrets.iter().copied())
        .chain(OWN.iter().copied())
}

impl Secrets {
    /// Reads `file` if it exists, then the environment.
    pub fn load(file: &Path) -> Result<Secrets, ConfigError> {
        let mut secrets = match std::fs::read_to_string(file) {
            Ok(text) => {
                warn_if_readable_by_others(file);
                toml_secrets(&text).map_err(|e| {
                    ConfigError::Invalid(format!("secrets file {}: {e}", file.display()))
                })?
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Secrets::default(),
            Err(err) => {
                return Err(ConfigError::Invalid(format!(
                    "cannot read the secrets file {}: {err}",
                    file.display()
                )));
            }
        };
        for name in known() {
            if let Some(value) = std::env::var(name.to_ascii_uppercase())
                .ok()
                .filter(|v| !v.trim().is_empty())
            {
                secrets.values.insert(name, SecretString::from(value));
            }
        }
        Ok(secrets)
    }

    /// The secret called `name`, if it is set.
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.values.get(name)
    }
}

fn toml_secrets(text: &str) -> Result<Secrets, String> {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    let table: BTreeMap<String, SecretString> = Figment::from(Toml::string(text))
        .extract()
        .map_err(|e| match e.path.last() {
            // A value of the wrong type: the key is known and safe to name.
            Some(key) => format!("the value of {key} must be a quoted string"),
            None => redacted(&e.to_string()),
        })?;
    let mut secrets = Secrets::default();
    for (key, value) in table {
        let name = known().find(|n| *n == key).ok_or_else(|| {
            // The key is not repeated: a token pasted in the wrong place
            // would be.
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(key.as_str()))
                .map_or_else(String::new, |i| format!(" on line {}", i + 1));
            format!(
                "an unknown key{line} (known: {})",
                known().collect::<Vec<_>>().join(", ")
            )
        })?;
        // An empty value in the file means "not set".
        if !value.expose_secret().trim().is_empty() {
            secrets.values.insert(name, value);
        }
    }
    Ok(secrets)
}

/// A parse error's position, without the text it quotes (the line may
/// hold a token): "not valid TOML at line 1, column 21".
fn redacted(message: &str) -> String {
    let position = message
        .find("line ")
        .map(|i| &message[i..])
        .and_then(|rest| rest.lines().next())
        .map(|first| first.trim_end_matches(|c: char| c == ':' || c.is_whitespace()));
    match position {
        Some(position) => format!("not valid TOML at {position}; check the quotes on that line"),
        None => "not valid TOML, or a value that is not a string".to_owned(),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(file)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %file.display(), "the secrets file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_file: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_load_and_never_print() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets.toml");
        std::fs::write(
            &path,
            "telegram_bot_token = \"123:abc\"\ndiscord_token = \"\"\n",
        )
        .expect("write");
        let secrets = toml_secrets(&std::fs::read_to_string(&path).expect("read")).expect("parses");
        assert_eq!(
            secrets
                .get("telegram_bot_token")
                .map(|s| s.expose_secret().to_owned())
                .as_deref(),
            Some("123:abc")
        );
        assert!(
            secrets.get("discord_token").is_none(),
            "an empty value is not set"
        );
        let printed = format!("{secrets:?}");
        assert!(!printed.contains("123:abc"), "{printed}");
        assert!(
            toml_secrets("bot_token = \"x\"").is_err(),
            "unknown keys are refused"
        );
        assert!(Secrets::load(&dir.path().join("missing.toml")).is_ok());
    }

    /// A syntax error in the secrets file says where, never what the line
    /// holds: a token must not reach a terminal or a log.
    #[test]
    fn a_broken_secrets_file_never_echoes_a_token() {
        for text in [
            "telegram_bot_token = \"123:SECRET-TOKEN\nx",
            "telegram_bot_token = 123:SECRET-TOKEN",
            "telegram_bot_token = [\"SECRET-TOKEN\"]",
            "SECRET-TOKEN = \"x\"",
        ] {
            let err = toml_secrets(text).expect_err("refused");
            assert!(!err.contains("SECRET-TOKEN"), "{err}");
            assert!(
                err.contains("line") || err.contains("telegram_bot_token"),
                "says where: {err}"
            );
        }
    }
}
