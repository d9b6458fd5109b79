//! `roster emulate`: serve the local Entra + Graph + Salesforce emulator until interrupted,
//! after printing the `export` lines that point roster (and any client) at it.

use std::fmt::Write as _;
use std::io::Write;

use super::context::Context;
use crate::cli::EmulateArgs;
use crate::emulator::{self, State, WorldFile};
use crate::error::{Error, Outcome};

pub(crate) fn run(ctx: &Context, args: &EmulateArgs) -> Result<Outcome, Error> {
    let world = match (&args.world, args.synthetic) {
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::File {
                action: "read the world file",
                path: path.clone(),
                source,
            })?;
            WorldFile::from_yaml(&text).map_err(|reason| Error::World {
                path: Some(path.clone()),
                reason,
            })?
        }
        (None, Some(n)) => emulator::synthetic_world(n, args.seed),
        _ => {
            return Err(Error::Usage(
                "give --world FILE or --synthetic N".to_owned(),
            ));
        }
    };
    if let Some(path) = &args.write_config {
        if args.synthetic.is_none() {
            return Err(Error::Usage(
                "--write-config goes with --synthetic".to_owned(),
            ));
        }
        write_config(path)?;
    }
    let parsed = args.listen.parse::<std::net::SocketAddr>();
    let named_localhost = args
        .listen
        .strip_prefix("localhost:")
        .is_some_and(|port| port.parse::<u16>().is_ok());
    if parsed.is_err() && !named_localhost {
        return Err(Error::Usage(format!(
            "--listen {}: not an address; give HOST:PORT on loopback, e.g. 127.0.0.1:8080 \
             (port 0 picks a free one)",
            args.listen
        )));
    }
    let loopback = parsed.map_or(named_localhost, |a| a.ip().is_loopback());
    if !loopback {
        return Err(Error::Usage(format!(
            "--listen {}: the emulator serves its world's secrets and only listens on loopback (127.0.0.1, ::1, localhost)",
            args.listen
        )));
    }
    // The secrets under the names the config reads them from, when there is one (`-c`).
    let exports = match crate::config::load(ctx.config_path()) {
        Ok(loaded) if ctx.config_path().exists() => exports_for(&world, &loaded.config),
        _ => exports(&world)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    };
    let state = State::from_world(world).map_err(|reason| Error::World {
        path: args.world.clone(),
        reason,
    })?;
    ctx.block_on(async {
        let running = emulator::start(state, &args.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: args.listen.clone(),
                source,
            })?;
        running.shared.set_latency(args.latency_ms);
        let base = running.base_url();
        let mut out = String::new();
        for name in [
            "ROSTER_ENTRA_LOGIN_URL",
            "ROSTER_GRAPH_URL",
            "ROSTER_SALESFORCE_LOGIN_URL",
        ] {
            let _ = writeln!(out, "export {name}={base}");
        }
        for (name, value) in exports {
            let _ = writeln!(out, "export {name}={}", shell_quote(&value));
        }
        let _ = writeln!(out, "# the emulator is serving on {base}; Ctrl-C stops it");
        let mut stdout = anstream::stdout();
        crate::error::output(
            stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush()),
        )?;
        let _ = tokio::signal::ctrl_c().await;
        running.shutdown().await;
        Ok(Outcome::Success)
    })?
}

/// The world's secrets under the environment variables `config` reads them from.
fn exports_for(world: &WorldFile, config: &crate::config::Config) -> Vec<(String, String)> {
    use crate::config::{SecretRef, SourceCredential, TargetAuth};
    let defaults: std::collections::BTreeMap<&str, String> = exports(world).into_iter().collect();
    let mut out = Vec::new();
    let mut export = |secret: &SecretRef, default: &str| {
        if let (SecretRef::Env(name), Some(value)) = (secret, defaults.get(default)) {
            out.push((name.clone(), value.clone()));
        }
    };
    if let SourceCredential::ClientSecret(secret) = &config.source.credential {
        export(secret, "AZURE_CLIENT_SECRET");
    }
    match &config.target.auth {
        TargetAuth::ClientCredentials(c) => export(&c.client_secret, "SF_CLIENT_SECRET"),
        TargetAuth::Password(p) => {
            export(&p.client_secret, "SF_CLIENT_SECRET");
            export(&p.password, "SF_PASSWORD");
            if let Some(token) = &p.security_token {
                export(token, "SF_SECURITY_TOKEN");
            }
        }
        TargetAuth::JwtBearer(_) => {}
    }
    out
}

/// The secrets the example configs read, from the world's first clients.
pub(super) fn exports(world: &WorldFile) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(secret) = world.entra.clients.iter().find_map(|c| c.secret.clone()) {
        out.push(("AZURE_CLIENT_SECRET", secret));
    }
    if let Some(secret) = world
        .salesforce
        .clients
        .iter()
        .find_map(|c| c.client_secret.clone())
    {
        out.push(("SF_CLIENT_SECRET", secret));
    }
    if let Some(user) = world.salesforce.api_users.first() {
        if let Some(password) = &user.password {
            out.push(("SF_PASSWORD", password.clone()));
        }
        if let Some(token) = &user.security_token {
            out.push(("SF_SECURITY_TOKEN", token.clone()));
        }
    }
    out
}

fn shell_quote(value: &str) -> String {
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./:@".contains(&b))
    {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// Writes the synthetic world's config to `path` — over a file there only when an earlier
/// `--write-config` wrote it, never over a config of one's own (`--write-config roster.yaml` in
/// the repository).
fn write_config(path: &std::path::Path) -> Result<(), Error> {
    let config = emulator::synthetic_config();
    let header = config.lines().next().unwrap_or_default();
    let refuse = |why: &str| {
        Err(Error::Usage(format!(
            "--write-config {}: {why}; roster does not write over it: name another file, or \
             remove it",
            crate::diagnostic::display_path(path)
        )))
    };
    match std::fs::symlink_metadata(path) {
        // A link is not followed: what it leads to is not this file.
        Ok(found) if !found.is_file() => {
            return refuse("it is not a regular file (a directory, a link, a device or a pipe)");
        }
        Ok(_)
            if !crate::files::read_regular_string(path)
                .is_ok_and(|text| text.lines().next() == Some(header)) =>
        {
            return refuse("the file is there and was not written by --write-config");
        }
        _ => {}
    }
    std::fs::write(path, config).map_err(|source| Error::File {
        action: "write",
        path: path.to_owned(),
        source,
    })
}
