//! Endpoint URLs: the defaults, the `ROSTER_*` overrides, and the rule that plain `http://` is
//! only ever used for loopback hosts (the emulator).

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
