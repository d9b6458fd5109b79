//! Secrets in the config file: a reference to an environment variable or a file, never the value.
//! The value is read only when a command needs the network, and is held in a `SecretString`.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use secrecy::SecretString;
use serde::Deserialize;

/// Where a secret comes from. Secrets never appear in the file itself.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum SecretRef {
    /// Read the secret from this environment variable.
    Env(String),
    /// Read the secret from this file (relative to the config file's directory); one trailing
    /// newline is removed.
    File(PathBuf),
}

/// A secret that could not be read; names the variable or file, never a value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretError {
    #[error("secret `{pointer}`: environment variable {name} is not set")]
    EnvMissing { pointer: String, name: String },
    #[error("secret `{pointer}`: environment variable {name} is empty")]
    EnvEmpty { pointer: String, name: String },
    #[error("secret `{pointer}`: cannot read file {}: {source}", path.display())]
    File {
        pointer: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret `{pointer}`: file {} is empty", path.display())]
    FileEmpty { pointer: String, path: PathBuf },
}

impl SecretRef {
    /// Reads the secret. `base` is the config file's directory; `pointer` names the key in errors.
    pub(crate) fn resolve(&self, base: &Path, pointer: &str) -> Result<SecretString, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if value.is_empty() => Err(SecretError::EnvEmpty {
                    pointer: pointer.to_owned(),
                    name: name.clone(),
                }),
                Ok(value) => Ok(SecretString::from(value)),
                Err(_) => Err(SecretError::EnvMissing {
                    pointer: pointer.to_owned(),
                    name: name.clone(),
                }),
            },
            SecretRef::File(path) => {
                let path = base.join(path);
                let mut value =
                    std::fs::read_to_string(&path).map_err(|source| SecretError::File {
                        pointer: pointer.to_owned(),
                        path: path.clone(),
                        source,
                    })?;
                if value.ends_with('\n') {
                    value.pop();
                    if value.ends_with('\r') {
                        value.pop();
                    }
                }
                if value.is_empty() {
                    return Err(SecretError::FileEmpty {
                        pointer: pointer.to_owned(),
                        path,
                    });
                }
                Ok(SecretString::from(value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn missing_env_names_the_variable() {
        let secret = SecretRef::Env("ROSTER_TEST_SURELY_UNSET_VARIABLE".into());
        let err = secret
            .resolve(Path::new("."), "/source/credential/client_secret")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret `/source/credential/client_secret`: environment variable \
             ROSTER_TEST_SURELY_UNSET_VARIABLE is not set"
        );
    }

    #[test]
    fn file_is_relative_to_the_config_and_loses_its_newline() {
        let dir = std::env::temp_dir().join(format!("roster-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key.txt"), "s3cret\n").unwrap();
        let secret = SecretRef::File("key.txt".into());
        let value = secret.resolve(&dir, "/x").unwrap();
        assert_eq!(value.expose_secret(), "s3cret");
        let missing = SecretRef::File("nope.txt".into())
            .resolve(&dir, "/x")
            .unwrap_err();
        assert!(missing.to_string().contains("nope.txt"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_never_shows_the_value() {
        let value = SecretString::from("hunter2".to_owned());
        assert!(!format!("{value:?}").contains("hunter2"));
    }
}
