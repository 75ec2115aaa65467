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
//! ```

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;

use crate::config::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    #[serde(default)]
    pub telegram_bot_token: Option<SecretString>,
    /// Checked against Telegram's `X-Telegram-Bot-Api-Secret-Token` in webhook mode.
    #[serde(default)]
    pub telegram_webhook_secret: Option<SecretString>,
    #[serde(default)]
    pub discord_token: Option<SecretString>,
    /// The application's Ed25519 public key, for the interactions endpoint.
    #[serde(default)]
    pub discord_public_key: Option<SecretString>,
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
        let from_env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(SecretString::from)
        };
        for (name, slot) in [
            ("TELEGRAM_BOT_TOKEN", &mut secrets.telegram_bot_token),
            (
                "TELEGRAM_WEBHOOK_SECRET",
                &mut secrets.telegram_webhook_secret,
            ),
            ("DISCORD_TOKEN", &mut secrets.discord_token),
            ("DISCORD_PUBLIC_KEY", &mut secrets.discord_public_key),
        ] {
            if let Some(value) = from_env(name) {
                *slot = Some(value);
            }
        }
        Ok(secrets)
    }
}

fn toml_secrets(text: &str) -> Result<Secrets, String> {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    let secrets: Secrets = Figment::from(Toml::string(text))
        .extract()
        .map_err(|e| e.to_string())?;
    // An empty value in the file means "not set".
    let keep = |s: Option<SecretString>| {
        s.filter(|v| !secrecy::ExposeSecret::expose_secret(v).trim().is_empty())
    };
    Ok(Secrets {
        telegram_bot_token: keep(secrets.telegram_bot_token),
        telegram_webhook_secret: keep(secrets.telegram_webhook_secret),
        discord_token: keep(secrets.discord_token),
        discord_public_key: keep(secrets.discord_public_key),
    })
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
    use secrecy::ExposeSecret;

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
                .telegram_bot_token
                .as_ref()
                .map(|s| s.expose_secret().to_owned())
                .as_deref(),
            Some("123:abc")
        );
        assert!(secrets.discord_token.is_none(), "an empty value is not set");
        let printed = format!("{secrets:?}");
        assert!(!printed.contains("123:abc"), "{printed}");
        assert!(
            toml_secrets("bot_token = \"x\"").is_err(),
            "unknown keys are refused"
        );
        assert!(Secrets::load(&dir.path().join("missing.toml")).is_ok());
    }
}
