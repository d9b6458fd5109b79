//! Endpoint URLs: the defaults and the `ROSTER_*` overrides, each held to `url_rules` before any
//! request.

use crate::config::{Config, Source};
use crate::url_rules::check_base_url;

/// How the edges read the environment: `std::env::var` in the binary, a table in tests (which
/// must not change the process environment other tests share).
pub(crate) type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The three base URLs roster talks to, after config and environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoints {
    pub(crate) entra: EntraEndpoints,
    pub(crate) salesforce_login: String,
}

/// Entra's two base URLs: the sign-in service and Graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EntraEndpoints {
    pub(crate) entra_login: String,
    pub(crate) graph: String,
}

impl Endpoints {
    /// The config's URLs (or the defaults), each overridden by its `ROSTER_*` variable when set;
    /// every one must pass `url_rules::check_base_url`.
    pub(crate) fn resolve(config: &Config, env: Env<'_>) -> Result<Endpoints, String> {
        Ok(Endpoints {
            entra: EntraEndpoints::of(&config.source, env)?,
            salesforce_login: salesforce_login(config, env)?,
        })
    }
}

impl EntraEndpoints {
    /// The source's URLs (or the defaults), each overridden by its `ROSTER_*` variable: what a
    /// client of Entra alone reads and checks (`import entra`, `check`'s Entra checks), so an
    /// override of Salesforce's URL is neither read nor blamed there.
    pub(crate) fn of(source: &Source, env: Env<'_>) -> Result<EntraEndpoints, String> {
        Ok(EntraEndpoints {
            entra_login: pick(
                env,
                "ROSTER_ENTRA_LOGIN_URL",
                source.login_url.as_deref(),
                "https://login.microsoftonline.com",
            )?,
            graph: pick(
                env,
                "ROSTER_GRAPH_URL",
                source.graph_url.as_deref(),
                "https://graph.microsoft.com",
            )?,
        })
    }
}

/// Salesforce's login URL: `target.login_url`, overridden by `ROSTER_SALESFORCE_LOGIN_URL`;
/// what a client of Salesforce alone reads and checks.
pub(crate) fn salesforce_login(config: &Config, env: Env<'_>) -> Result<String, String> {
    pick(
        env,
        "ROSTER_SALESFORCE_LOGIN_URL",
        Some(&config.target.login_url),
        "https://test.salesforce.com",
    )
}

/// The variable `name` when set and not empty, else `configured`, else `default`, held to
/// `url_rules::check_base_url`; the error names where the URL came from.
fn pick(
    env: Env<'_>,
    name: &str,
    configured: Option<&str>,
    default: &str,
) -> Result<String, String> {
    let (url, origin) = match env(name).filter(|v| !v.is_empty()) {
        Some(v) => (v, format!("environment variable {name}")),
        None => (
            configured.unwrap_or(default).to_owned(),
            "the config".to_owned(),
        ),
    };
    // The parsed form is what is sent: what was checked is what is used.
    let parsed = check_base_url(&url).map_err(|e| format!("{e} (from {origin})"))?;
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}
