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
    /// Read the secret from this environment variable; one trailing newline is removed (as
    /// `$(cat key)` or a CI secret pasted with its newline leaves one).
    Env(String),
    /// Read the secret from this file (relative to the config file's directory); one trailing
    /// newline is removed.
    File(PathBuf),
}

/// Where the secret comes from, as a reviewer reads it: `env SF_CLIENT_SECRET`, `file
/// keys/sf.key` (the name of the variable or the file, never the value).
impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env {name}"),
            SecretRef::File(path) => write!(f, "file {}", crate::diagnostic::display_path(path)),
        }
    }
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

impl SecretError {
    /// Where in `roster.yaml` the secret is named.
    pub(crate) fn pointer(&self) -> &str {
        match self {
            SecretError::EnvMissing { pointer, .. }
            | SecretError::EnvEmpty { pointer, .. }
            | SecretError::File { pointer, .. }
            | SecretError::FileEmpty { pointer, .. } => pointer,
        }
    }
}

impl SecretRef {
    /// Reads the secret. `base` is the config file's directory; `pointer` names the key in errors.
    pub(crate) fn resolve(&self, base: &Path, pointer: &str) -> Result<SecretString, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name).map(without_newline) {
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
                let value = read_secret_file(&path)
                    .map(without_newline)
                    .map_err(|source| SecretError::File {
                        pointer: pointer.to_owned(),
                        path: path.clone(),
                        source,
                    })?;
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

/// The most a secret file may hold: a 4096-bit RSA key in PEM is some 3.3 KB.
const SECRET_FILE_MAX: u64 = 64 * 1024;

/// The text of the secret file at `path`, read only when it can be a secret's: a regular file
/// (a FIFO may never be written, a device such as `/dev/zero` never ends), not one of the
/// kernel's under `/proc` or `/sys` (`/proc/self/environ` holds every secret of the process's
/// environment at once, and a pull request can name it), by its path or a link, and at most
/// `SECRET_FILE_MAX` bytes. The value is sent to the login URL, which the same pull request
/// may have changed.
///
/// # Errors
/// `InvalidInput` naming the rule the file breaks; the I/O error of opening or reading it;
/// `InvalidData` for text that is not UTF-8.
fn read_secret_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let refused = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    let real = std::fs::canonicalize(path)?;
    if ["/proc", "/sys"].iter().any(|d| real.starts_with(d)) {
        return Err(refused(format!(
            "it is the kernel's file {}, never a secret's",
            real.display()
        )));
    }
    let metadata = std::fs::metadata(&real)?;
    if !metadata.is_file() {
        return Err(refused(crate::files::NOT_REGULAR.to_owned()));
    }
    if metadata.len() > SECRET_FILE_MAX {
        return Err(refused(format!(
            "it holds {} bytes; a secret file holds one secret, at most {SECRET_FILE_MAX}",
            metadata.len()
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&real)?
        .take(SECRET_FILE_MAX + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > SECRET_FILE_MAX {
        return Err(refused(format!(
            "it holds more than {SECRET_FILE_MAX} bytes; a secret file holds one secret"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

/// The value without one trailing newline (`\n` or `\r\n`).
/// The RSA signing key in `pem` (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), for a
/// client or JWT bearer assertion (RS256). Any other PEM — a certificate or a public key given
/// as the private key, an encrypted key — is refused by its label here: `jsonwebtoken` takes
/// some of them and only fails at signing ("signature error: UnexpectedError"), long after.
///
/// # Errors
/// Why, in words: "it holds a CERTIFICATE, not a private key", or the parser's error.
pub(crate) fn rsa_signing_key(pem: &str) -> Result<jsonwebtoken::EncodingKey, String> {
    let label = pem
        .lines()
        .find_map(|line| line.trim().strip_prefix("-----BEGIN "))
        .and_then(|rest| rest.strip_suffix("-----"));
    match label {
        Some("PRIVATE KEY" | "RSA PRIVATE KEY") | None => {
            jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| e.to_string())
        }
        Some("ENCRYPTED PRIVATE KEY") => Err("it holds an ENCRYPTED PRIVATE KEY, which roster \
                                              cannot unlock: give it unencrypted (`openssl pkcs8 \
                                              -topk8 -nocrypt`), kept in a secret store"
            .to_owned()),
        Some(other) => Err(format!(
            "it holds a {}, not a private key (-----BEGIN PRIVATE KEY-----)",
            crate::render::visible(other)
        )),
    }
}

fn without_newline(mut value: String) -> String {
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    value
}

/// What to do about a secret written inline, in the file given or a base.
pub(crate) const INLINE_SECRET_HELP: &str = "move it to an environment variable or to a file \
     kept out of git, and rotate it: it has been in this file, and may be in its history";

/// Whether the value at `pointer` in a config file is a secret, or would be one written inline:
/// a client secret, private key, password or security token of either side. Diagnostics never
/// show such a value, not even one the schema refuses.
pub(crate) fn is_secret_pointer(pointer: &str) -> bool {
    (pointer.starts_with("/source/credential/") || pointer.starts_with("/target/auth/"))
        && matches!(
            pointer.rsplit('/').next(),
            Some("client_secret" | "private_key" | "password" | "security_token")
        )
}

/// Every secret a config reads, with its JSON pointer.
pub(crate) fn secrets(config: &super::Config) -> Vec<(&SecretRef, &'static str)> {
    use super::{SourceCredential, TargetAuth};
    let mut out = Vec::new();
    match &config.source.credential {
        SourceCredential::ClientSecret(s) => out.push((s, "/source/credential/client_secret")),
        SourceCredential::Certificate(c) => {
            out.push((&c.private_key, "/source/credential/certificate/private_key"));
            out.push((&c.certificate, "/source/credential/certificate/certificate"));
        }
        SourceCredential::Federated(_) => {}
    }
    match &config.target.auth {
        TargetAuth::JwtBearer(j) => {
            out.push((&j.private_key, "/target/auth/jwt_bearer/private_key"));
        }
        TargetAuth::ClientCredentials(c) => {
            out.push((
                &c.client_secret,
                "/target/auth/client_credentials/client_secret",
            ));
        }
        TargetAuth::Password(p) => {
            out.push((&p.password, "/target/auth/password/password"));
            if let Some(token) = &p.security_token {
                out.push((token, "/target/auth/password/security_token"));
            }
            out.push((&p.client_secret, "/target/auth/password/client_secret"));
        }
    }
    out
}

/// Every secret the config reads that cannot be read, all at once (not one per run).
pub(crate) fn unreadable(config: &super::Config, base: &Path) -> Vec<SecretError> {
    secrets(config)
        .into_iter()
        .filter_map(|(secret, pointer)| secret.resolve(base, pointer).err())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_signing_key_is_told_from_a_certificate_a_public_key_and_an_encrypted_key() {
        let key = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/demo/keys/demo-signing.key"
        ))
        .unwrap();
        assert!(super::rsa_signing_key(&key).is_ok());
        for (label, said) in [
            ("CERTIFICATE", "it holds a CERTIFICATE, not a private key"),
            ("PUBLIC KEY", "it holds a PUBLIC KEY, not a private key"),
            ("ENCRYPTED PRIVATE KEY", "it holds an ENCRYPTED PRIVATE KEY"),
        ] {
            let pem = format!("-----BEGIN {label}-----\nMIIB\n-----END {label}-----\n");
            let error = super::rsa_signing_key(&pem).err().unwrap();
            assert!(error.starts_with(said), "{label}: {error}");
        }
    }

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

    /// A pull request can name any path as a secret file, and the value goes to the login URL
    /// it may have changed too: a kernel file (every environment variable at once), a device,
    /// a FIFO (read without end, or never) and a file larger than any secret are refused,
    /// by their path or a link, before a byte is read; a key of the largest size is read.
    #[cfg(unix)]
    #[test]
    fn a_secret_file_is_a_small_regular_file_outside_the_kernels() {
        let dir = std::env::temp_dir().join(format!("roster-secret-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", dir.join("env-link")).unwrap();
        std::fs::write(dir.join("big"), vec![b'k'; 64 * 1024 + 1]).unwrap();
        std::fs::write(dir.join("largest"), vec![b'k'; 64 * 1024]).unwrap();
        let fifo = dir.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        for (name, said) in [
            ("/proc/self/environ", "it is the kernel's file /proc/"),
            ("env-link", "it is the kernel's file /proc/"),
            (
                "/sys/kernel/mm/transparent_hugepage/enabled",
                "it is the kernel's file /sys/",
            ),
            ("/dev/zero", "it is not a regular file"),
            ("fifo", "it is not a regular file"),
            (
                "big",
                "it holds 65537 bytes; a secret file holds one secret, at most 65536",
            ),
        ] {
            let error = SecretRef::File(name.into())
                .resolve(&dir, "/target/auth/client_credentials/client_secret")
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(
                    "secret `/target/auth/client_credentials/client_secret`: cannot read file"
                ) && error.contains(said),
                "{name}: {error}"
            );
        }
        let largest = SecretRef::File("largest".into())
            .resolve(&dir, "/x")
            .unwrap();
        assert_eq!(largest.expose_secret().len(), 64 * 1024);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_trailing_newline_goes() {
        assert_eq!(without_newline("k3y\r\n".to_owned()), "k3y");
        assert_eq!(without_newline("k3y\n\n".to_owned()), "k3y\n");
        assert_eq!(without_newline("k3y".to_owned()), "k3y");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let value = SecretString::from("hunter2".to_owned());
        assert!(!format!("{value:?}").contains("hunter2"));
    }
}
