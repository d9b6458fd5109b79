//! Endpoint URLs: the defaults, the `ROSTER_*` overrides, and the rule that plain `http://` is
//! only ever used for loopback hosts (the emulator).

use crate::config::Config;

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
    /// every one must pass `check_url`.
    pub(crate) fn resolve(config: &Config, env: Env<'_>) -> Result<Endpoints, String> {
        let pick =
            |name: &str, configured: Option<&str>, default: &str| -> Result<String, String> {
                let (url, origin) = match env(name).filter(|v| !v.is_empty()) {
                    Some(v) => (v, format!("environment variable {name}")),
                    None => (
                        configured.unwrap_or(default).to_owned(),
                        "the config".to_owned(),
                    ),
                };
                check_url(&url).map_err(|e| format!("{e} (from {origin})"))?;
                Ok(url.trim_end_matches('/').to_owned())
            };
        Ok(Endpoints {
            entra_login: pick(
                "ROSTER_ENTRA_LOGIN_URL",
                config.source.login_url.as_deref(),
                "https://login.microsoftonline.com",
            )?,
            graph: pick(
                "ROSTER_GRAPH_URL",
                config.source.graph_url.as_deref(),
                "https://graph.microsoft.com",
            )?,
            salesforce_login: pick(
                "ROSTER_SALESFORCE_LOGIN_URL",
                Some(&config.target.login_url),
                "https://test.salesforce.com",
            )?,
        })
    }
}

/// Accepts `https://host[...]`, and `http://` only when the host is loopback.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute URL (expected https://...)"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host_of(authority);
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(format!(
            "{url:?} uses plain http; only https is allowed, except for loopback hosts"
        )),
        other => Err(format!("{url:?} has scheme {other:?}; expected https")),
    }
}

fn host_of(authority: &str) -> &str {
    let without_user = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = without_user.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    without_user.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        assert!(check_url("https://test.salesforce.com").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://127.8.0.1").is_ok());
        assert!(check_url("http://localhost:9").is_ok());
        assert!(check_url("http://[::1]:9/").is_ok());
        assert!(check_url("http://example.com").is_err());
        assert!(check_url("http://127.0.0.1.evil.com").is_err());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("test.salesforce.com").is_err());
        assert!(check_url("https://").is_err());
    }
}
