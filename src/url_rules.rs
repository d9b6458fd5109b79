//! The rule every URL roster sends to obeys: parsed by the WHATWG URL parser the HTTP client
//! uses, `https` to any host, plain `http` only to a loopback host, never user info.

/// Parses `text` the way the HTTP client will (WHATWG URL parsing, the `url` crate reqwest is
/// built on) and accepts it only when sending a secret there is safe: `https` to any host, plain
/// `http` only when the *parsed* host is loopback (`127.0.0.0/8`, `::1` or exactly `localhost`),
/// and never with user info (`user:password@`), which hides the real host from a reader.
///
/// One parser decides both what roster checks and where the client connects, so a backslash
/// (a path separator to WHATWG), percent-encoding or an odd IPv4 form cannot make the two
/// disagree. Returns the parsed URL.
pub(crate) fn check_url(text: &str) -> Result<url::Url, String> {
    // Messages show the URL with any password masked: it may be one. Made only for a message:
    // every request roster sends passes here.
    let shown = || shown(text);
    let url = url::Url::parse(text.trim()).map_err(|e| {
        format!(
            "{} is not an absolute URL (expected https://...): {e}",
            shown()
        )
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{} carries user info before its host (`...@`); give the host alone",
            shown()
        ));
    }
    let Some(host) = url.host() else {
        return Err(format!("{} has no host", shown()));
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&host) => Ok(url),
        "http" => Err(format!(
            "{} uses plain http to {host}; only https is allowed, except for loopback hosts \
             (127.0.0.0/8, ::1, localhost)",
            shown()
        )),
        other => Err(format!("{} has scheme {other:?}; expected https", shown())),
    }
}

/// `check_url` for a base URL that paths are appended to: no query and no fragment either,
/// which would swallow every path roster appends (`http://host/#` sends everything to `/`).
pub(crate) fn check_base_url(text: &str) -> Result<url::Url, String> {
    let url = check_url(text)?;
    // The URL parser drops tabs and line breaks anywhere and white space around: the URL used
    // would not be the one written (`https://contoso.my.salesforce.com\n`, `https://ev\til`).
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{} holds {}; a base URL has no white space or control character",
            shown(text),
            crate::render::quoted(&c.to_string())
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{} has a query or fragment (`?`, `#`); a base URL ends with its host or path",
            shown(text)
        ));
    }
    // An `@` the parser did not read as user info (`https://u//:pw@host` is the host `u`):
    // a credential that would go somewhere else than the reader thinks.
    if text.contains('@') {
        return Err(format!(
            "{} holds an `@`; a base URL names a host and a path, never credentials",
            shown(text)
        ));
    }
    Ok(url)
}

/// Whether a Salesforce login URL is a sandbox's: `test.salesforce.com`, or a sandbox's My
/// Domain, whose first label joins the domain and the sandbox's name with `--`, in the enhanced
/// form (`contoso--dev.sandbox.my.salesforce.com`) and the ones from before enhanced domains
/// (`contoso--dev.my.salesforce.com`, `contoso--dev.cs42.my.salesforce.com`). A host written
/// with DNS's final dot (`test.salesforce.com.`) is the same host. Source: Salesforce Help,
/// "My Domain URL Formats".
pub(crate) fn is_sandbox_login(login_url: &str) -> bool {
    let host = url::Url::parse(login_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    let host = host.trim_end_matches('.');
    host == "test.salesforce.com"
        || (host.ends_with(".my.salesforce.com")
            && host
                .split('.')
                .next()
                .is_some_and(|name| name.contains("--")))
}

/// `text` with any user info, any query and any fragment replaced by `***`, for messages (user
/// info may be a token, `https://TOKEN@host`; a query or a fragment may carry one: OAuth's
/// implicit flow returns its `access_token` in the fragment).
///
/// Only an `http` or `https` URL without white space is read by the URL parser, and only when
/// every `@` in it is the parser's user info; anything else (no scheme, `user:pass@host`, which
/// the parser reads as the scheme `user`, spaces, an `@` in a path) is masked by its characters:
/// everything from the first `?` or `#`, and everything between the first `//` (or the start)
/// and the last `@` — all of what follows the `//` when that `@` stands after the `?` or `#`.
pub(crate) fn redacted(text: &str) -> String {
    let trimmed = text.trim();
    if let Ok(mut url) = url::Url::parse(trimmed)
        && matches!(url.scheme(), "http" | "https")
        && !trimmed.contains(char::is_whitespace)
    {
        let user_info = !url.username().is_empty() || url.password().is_some();
        // An `@` the parser did not take for user info (`https://u//:pw@host` is host `u`).
        if user_info || !trimmed.contains('@') {
            if !user_info && url.query().is_none() && url.fragment().is_none() {
                // Nothing to mask: shown as given.
                return text.to_owned();
            }
            if user_info {
                let _ = url.set_password(None);
                let _ = url.set_username("***");
            }
            if url.query().is_some() {
                url.set_query(Some("***"));
            }
            if url.fragment().is_some() {
                url.set_fragment(Some("***"));
            }
            return url.to_string();
        }
    }
    let cut = text.find(['?', '#']).unwrap_or(text.len());
    let after_slashes = |before: usize| text[..before].find("//").map_or(0, |i| i + 2);
    let tail = if cut < text.len() {
        format!("{}***", &text[cut..=cut])
    } else {
        String::new()
    };
    match text.rfind('@') {
        Some(at) if at < cut => {
            let start = after_slashes(at);
            format!("{}***{}{tail}", &text[..start], &text[at..cut])
        }
        // An `@` past the `?` or `#`: where user info ends cannot be told.
        Some(_) => format!("{}***", &text[..after_slashes(cut)]),
        None => format!("{}{tail}", &text[..cut]),
    }
}

/// `text` (a URL as a file holds it, quotes and all) with what [`redacted`] hides replaced byte
/// for byte by `*`, so offsets into it stay true: the snippet under a diagnostic about a URL
/// shows neither its user info nor its query or fragment, with or without a scheme.
pub(crate) fn mask_url_in_place(text: &str) -> String {
    // A plain URL (no user info, query, fragment, escape or white space inside) is shown as it
    // is; anything else is masked whole after its `//` (or its first character), line breaks
    // kept: the message above it shows what can be shown.
    let inner = text.trim_matches(['"', '\'']);
    if !inner.contains(|c: char| "@?#\\".contains(c) || c.is_whitespace() || c.is_control()) {
        return text.to_owned();
    }
    let start = text.find("//").map_or(1.min(text.len()), |i| i + 2);
    let mut out = text.as_bytes().to_vec();
    for byte in &mut out[start..] {
        if *byte != b'\n' {
            *byte = b'*';
        }
    }
    // Only whole characters were replaced, each byte by an ASCII `*`.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`redacted`], quoted and cut for a message ([`crate::render::quoted`]): how an error shows a
/// URL it refuses.
pub(crate) fn shown(text: &str) -> String {
    crate::render::quoted(&redacted(text))
}

/// `text` (a snippet of a file) with the user info of every `scheme://user:info@host` in it
/// masked byte for byte with `*`, so offsets into it stay true: a diagnostic about a URL with a
/// password shows the line without the password.
pub(crate) fn mask_user_info(text: &str) -> String {
    let mut out = text.as_bytes().to_vec();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || "/?#'\"".contains(c))
            .map_or(text.len(), |i| start + i);
        if let Some(at) = text[start..end].rfind('@') {
            for byte in &mut out[start..start + at] {
                *byte = b'*';
            }
        }
        from = end;
    }
    // Only ASCII `*` replaced whole runs of bytes between ASCII delimiters.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `127.0.0.0/8`, `::1`, or the name `localhost` exactly (the `url` crate lower-cases names).
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => *name == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_url, mask_user_info};

    /// The URL parser drops tabs and line breaks and trims white space: a base URL holding any
    /// is not the URL used, and is refused, naming the character.
    #[test]
    fn a_base_url_with_white_space_or_a_control_character_is_refused() {
        for (bad, named) in [
            ("https://contoso.my.salesforce.com\n", "\"\\n\""),
            (" https://test.salesforce.com", "\" \""),
            ("https://ev\til.example.com", "\"\\t\""),
            ("https://x.example.com/a\u{2028}b", "\"\\u{2028}\""),
            ("https://x.example.com/\u{7f}", "\"\\u{7f}\""),
        ] {
            let err = super::check_base_url(bad).unwrap_err();
            assert!(
                err.contains(&format!("holds {named}; a base URL has no white space")),
                "{bad:?}: {err}"
            );
        }
        assert!(super::check_base_url("https://test.salesforce.com/").is_ok());
    }

    /// Sandbox login URLs in each form Salesforce has used; production ones are not.
    #[test]
    fn sandbox_login_urls_in_every_form() {
        for sandbox in [
            "https://test.salesforce.com",
            "https://contoso--dev.sandbox.my.salesforce.com",
            "https://contoso--dev1.my.salesforce.com",
            "https://CONTOSO--UAT.my.salesforce.com/",
            "https://test.salesforce.com.",
            "https://contoso--dev1.my.salesforce.com.:443/",
            "https://contoso--dev1.cs42.my.salesforce.com",
        ] {
            assert!(super::is_sandbox_login(sandbox), "{sandbox}");
        }
        for production in [
            "https://login.salesforce.com",
            "https://contoso.my.salesforce.com",
            "https://contoso.sandbox.my.salesforce.com.evil.example",
            "https://a.b--c.my.salesforce.com",
            "https://contoso--dev.my.salesforce.com.evil.example",
            "not a url",
        ] {
            assert!(!super::is_sandbox_login(production), "{production}");
        }
    }

    #[test]
    fn passwords_queries_and_fragments_are_redacted_in_messages() {
        assert_eq!(
            super::redacted("http://127.0.0.1:9/?token=S3cret"),
            "http://127.0.0.1:9/?***"
        );
        assert_eq!(
            super::redacted("https://x.my.salesforce.com/#access_token=S3cret"),
            "https://x.my.salesforce.com/#***"
        );
        assert_eq!(
            super::redacted("https://me:pw@example.com/x"),
            "https://***@example.com/x"
        );
        assert_eq!(
            super::redacted("https://example.com/x"),
            "https://example.com/x"
        );
        // Without a scheme the URL parser refuses the text; its query and fragment are masked
        // all the same, and user info before them.
        for (given, masked) in [
            ("x.my.salesforce.com?S3cr3t", "x.my.salesforce.com?***"),
            ("//x/?q=S3cr3t#f", "//x/?***"),
            ("?S3cr3t", "?***"),
            ("x.my.salesforce.com/#S3cr3t@y", "***"),
            ("me:S3cr3t@x.my.salesforce.com", "***@x.my.salesforce.com"),
            ("//me:S3cr3t@x/?q", "//***@x/?***"),
            // Read as the scheme `user` (or `mailto`) by the URL parser: masked all the same.
            ("user:S3cr3t@host?q=1", "***@host?***"),
            ("mailto:S3cr3t@host?x", "***@host?***"),
            ("user:S3cr3t@x//y", "***@x//y"),
            ("user:S3cr3t@host https://ok", "***@host https://ok"),
            ("user:S3cr3t@host other@x", "***@x"),
            // White space, `//`, `?` or `#` inside user info; an `@` the parser puts in a path.
            ("https://u:S3cr3t\u{a0}x@host", "https://***@host"),
            ("https://u:S3cr3t @host", "https://***@host"),
            ("https://u:S3cr3t\u{2028}@host", "https://***@host"),
            ("https://u:S3cr3t//@host", "https://***@host"),
            ("https://u:S3cr3t?x@host", "https://***"),
            ("https://u:S3cr3t#x@host", "https://***"),
            ("https://u//:S3cr3t@host", "https://***@host"),
            // A token as the user name, with or without a query.
            (
                "https://S3cr3t@host.example?q=1",
                "https://***@host.example/?***",
            ),
            ("https://S3cr3t:@host?x", "https://***@host/?***"),
            ("https://S3cr3t@host.example", "https://***@host.example/"),
            ("https://host.example", "https://host.example"),
            // A space that is more than one byte before the `@`.
            ("a\u{a0}user:S3cr3t@host", "***@host"),
            ("a\u{3000}user:S3cr3t@host", "***@host"),
        ] {
            assert_eq!(super::redacted(given), masked, "{given}");
        }
    }

    #[test]
    fn a_shown_url_is_cut() {
        let long = format!("https://{}.example.com/", "a".repeat(5_000));
        let shown = super::shown(&long);
        assert!(shown.chars().count() < 300, "{shown}");
        assert!(
            super::check_url(&format!("ftp://{}", "b".repeat(5_000)))
                .unwrap_err()
                .chars()
                .count()
                < 400
        );
    }

    #[test]
    fn a_url_is_masked_in_place_with_or_without_a_scheme() {
        // What stays shown; every byte after it is `*`, but for line breaks.
        for (given, shown) in [
            ("\"a\u{a0}user:S3cr3t@host\"", "\""),
            ("https://me:S3cr3t@host/x?token=1#f", "https://"),
            ("x.my.salesforce.com?S3cr3t", "x"),
            ("\"https://u:S3cr3t\\x40x\"", "\"https://"),
            ("\"https://u:S3cr3t\n  @x\"", "\"https://"),
            ("https://host/", "https://host/"),
            (
                "\"http://test.salesforce.com\"",
                "\"http://test.salesforce.com\"",
            ),
        ] {
            let out = super::mask_url_in_place(given);
            assert_eq!(out.len(), given.len(), "{given}");
            assert!(!out.contains("S3cr3t") && !out.contains("token"), "{out}");
            assert!(out.starts_with(shown), "{given}: {out}");
            assert!(
                out[shown.len()..].bytes().all(|b| b == b'*' || b == b'\n'),
                "{given}: {out}"
            );
            assert_eq!(out.contains('\n'), given.contains('\n'), "{given}: {out}");
        }
    }

    #[test]
    fn user_info_is_masked_in_place() {
        let line = "  login_url: \"https://me:hunter2@test.salesforce.com/x\"  # and http://a@b";
        let masked = mask_user_info(line);
        assert_eq!(masked.len(), line.len(), "offsets stay true");
        assert!(!masked.contains("hunter2"), "{masked}");
        assert!(
            masked.contains("https://**********@test.salesforce.com/x"),
            "{masked}"
        );
        assert!(masked.ends_with("http://*@b"), "{masked}");
        assert_eq!(mask_user_info("no urls: a@b"), "no urls: a@b");
        assert_eq!(
            mask_user_info("https://ünï:çø@h"),
            "https://**********@h".replacen("**********", &"*".repeat("ünï:çø".len()), 1)
        );
    }

    /// Every URL form that has made a host check and an HTTP client disagree, and the answer.
    #[test]
    fn https_anywhere_http_only_to_a_parsed_loopback_host() {
        let allowed = [
            "https://test.salesforce.com",
            "https://192.0.2.1:8443/x",
            "HTTPS://Login.MicrosoftOnline.COM",
            "http://127.0.0.1:8080/x",
            "http://127.8.0.1",
            "http://localhost:9",
            "HTTP://LOCALHOST:9/",
            "http://[::1]:9/",
            "http://[0:0:0:0:0:0:0:1]:9/",
            // Decimal, octal and short IPv4 forms parse to 127.0.0.1: the client connects there.
            "http://2130706433:9/",
            "http://0177.0.0.1:9/",
            "http://127.1:9/",
            "http://0x7f.0.0.1:9/",
        ];
        for url in allowed {
            assert!(check_url(url).is_ok(), "{url} should be allowed");
        }
        let refused = [
            // A backslash is a path separator to WHATWG: the host is 192.0.2.1.
            "http://192.0.2.1:8080\\@127.0.0.1",
            "http://192.0.2.1:8080\\\\@[::1]",
            // Percent-encoded backslash: user info, host 127.0.0.1, still refused.
            "http://192.0.2.1:8080%5C@127.0.0.1",
            "http://user:secret@127.0.0.1:9/",
            "http://user@localhost:9/",
            "https://user:secret@test.salesforce.com",
            "http://127.0.0.1.evil.com",
            "http://localhost.example.com",
            "http://localhost.:9/",
            "http://example.com",
            "HTTP://EXAMPLE.COM",
            "http://[::ffff:c000:201]:9/",
            "http://[2001:db8::1]:9/",
            "http://0x7f.0.0.1.example:9/",
            "ftp://x",
            "file:///etc/passwd",
            "test.salesforce.com",
            "https://",
            "",
        ];
        for url in refused {
            assert!(check_url(url).is_err(), "{url} should be refused");
        }
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        let err = check_url("https://svc:TopSecret@graph.microsoft.com").unwrap_err();
        assert!(!err.contains("TopSecret"), "{err}");
        assert!(err.contains("https://***@graph.microsoft.com"), "{err}");
        let err = check_url("http://svc:TopSecret@bad host").unwrap_err();
        assert!(!err.contains("TopSecret"), "{err}");
    }

    #[test]
    fn base_urls_take_no_at_sign_anywhere() {
        let err = super::check_base_url("https://u//:S3cr3t@x.my.salesforce.com").unwrap_err();
        assert!(
            err.contains("holds an `@`") && !err.contains("S3cr3t"),
            "{err}"
        );
    }

    #[test]
    fn base_urls_take_no_query_or_fragment() {
        assert!(super::check_base_url("https://login.microsoftonline.com/").is_ok());
        assert!(super::check_base_url("http://127.0.0.1:9#@x").is_err());
        assert!(super::check_base_url("https://graph.microsoft.com?x=1").is_err());
    }

    #[test]
    fn refusals_name_the_parsed_host() {
        let err = check_url("http://192.0.2.1:8080\\@127.0.0.1").unwrap_err();
        assert!(err.contains("plain http to 192.0.2.1"), "{err}");
    }
}
