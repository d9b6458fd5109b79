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
    pub(crate) entra_login: String,
    pub(crate) graph: String,
    pub(crate) salesforce_login: String,
}

impl Endpoints {
    /// The config's URLs (or the defaults), each overridden by its `ROSTER_*` variable when set;
    /// every one must pass `url_rules::check_base_url`.
    pub(crate) fn resolve(config: &Config, env: Env<'_>) -> Result<Endpoints, String> {
        Endpoints::of(&config.source, Some(&config.target.login_url), env)
    }

    /// `resolve` from the parts: the source's URLs and the target's login URL (`None`: the
    /// default, for commands such as `import entra` that talk to Entra only).
    pub(crate) fn of(
        source: &Source,
        salesforce_login: Option<&str>,
        env: Env<'_>,
    ) -> Result<Endpoints, String> {
        let pick =
            |name: &str, configured: Option<&str>, default: &str| -> Result<String, String> {
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
            };
        Ok(Endpoints {
            entra_login: pick(
                "ROSTER_ENTRA_LOGIN_URL",
                source.login_url.as_deref(),
                "https://login.microsoftonline.com",
            )?,
            graph: pick(
                "ROSTER_GRAPH_URL",
                source.graph_url.as_deref(),
                "https://graph.microsoft.com",
            )?,
            salesforce_login: pick(
                "ROSTER_SALESFORCE_LOGIN_URL",
                salesforce_login,
                "https://test.salesforce.com",
            )?,
        })
    }
}
