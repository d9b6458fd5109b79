//! The HTTP edge both API clients share: one reqwest client per API (rustls, timeouts, gzip),
//! retries with exponential backoff and jitter that honour `Retry-After`, request logging that
//! never shows a token, and errors that name the request, the status and the API's own code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How often a transient failure is retried before roster gives up.
const MAX_RETRIES: usize = 5;
/// The longest `Retry-After` roster waits out; a longer one fails the read with the wait named.
const MAX_RETRY_AFTER: Duration = Duration::from_mins(5);
/// How often one request gets a fresh token after a 401 before the 401 is the answer: a token
/// can expire, or be revoked, more than once in a long operation.
const MAX_RENEWALS: u32 = 3;
/// A log line shows at most this much of a URL's query.
const MAX_LOGGED_QUERY: usize = 160;

/// A response read to its end.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: bytes::Bytes,
}

impl Reply {
    /// The body as JSON; `what` names the request in the error.
    /// An object naming a key twice is refused (`crate::json::unambiguous`): which of the two
    /// values Graph or Salesforce meant cannot be told, and serde_json would keep the last.
    pub(crate) fn json(&self, what: &Request) -> Result<Value, HttpError> {
        Reply::decode_json(&self.body, what)
    }

    /// `body` as JSON, as `json` reads a reply's (for a body read away from its reply, on
    /// another thread): an object naming a key twice is refused.
    pub(crate) fn decode_json(body: &[u8], what: &Request) -> Result<Value, HttpError> {
        crate::json::unambiguous_slice(body).map_err(|e| HttpError::Decode {
            api: what.api,
            request: what.describe(),
            detail: e.to_string(),
        })
    }

    /// The body as JSON of the shape `T`; `what` names the request in the error.
    pub(crate) fn json_as<T: serde::de::DeserializeOwned>(
        &self,
        what: &Request,
    ) -> Result<T, HttpError> {
        Reply::decode(&self.body, what)
    }

    /// `body` as JSON of the shape `T`, as `json_as` reads a reply's (for a body read away from
    /// its reply, on another thread).
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        body: &[u8],
        what: &Request,
    ) -> Result<T, HttpError> {
        serde_json::from_slice(body).map_err(|e| HttpError::Decode {
            api: what.api,
            request: what.describe(),
            detail: e.to_string(),
        })
    }
}

/// Which request failed, for messages: method and path, never a query secret or a token.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) api: &'static str,
    pub(crate) method: Method,
    pub(crate) url: String,
}

impl Request {
    pub(crate) fn new(api: &'static str, method: Method, url: impl Into<String>) -> Self {
        Request {
            api,
            method,
            url: url.into(),
        }
    }

    /// The URL's path, without scheme, host or query.
    pub(crate) fn path(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(url) => url.path().to_owned(),
            // A relative reference (`/services/data/...`) is its own path.
            Err(_) => self
                .url
                .split(['?', '#'])
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// `METHOD /path`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.method, self.path())
    }

    /// Path and (shortened, percent-decoded) query, for `-v` logs.
    fn logged(&self) -> String {
        let target = match url::Url::parse(&self.url) {
            Ok(url) => match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            },
            Err(_) => self.url.clone(),
        };
        let target = decode(&target);
        match target.char_indices().nth(MAX_LOGGED_QUERY + 40) {
            Some((cut, _)) => format!("{}…", &target[..cut]),
            None => target,
        }
    }
}

/// Percent-decoding for log lines (invalid sequences stay as they are).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{api} {request}: HTTP {status}{}: {message}{}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default(), too_long(*retry_after))]
    Status {
        api: &'static str,
        /// `METHOD /path`.
        request: String,
        status: u16,
        code: Option<String>,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error(
        "Salesforce refused {request} with REQUEST_LIMIT_EXCEEDED ({message}): the org's \
         daily API request limit is used up. roster stopped at once; retry after the 24-hour \
         window frees requests, or ask Salesforce for a higher limit"
    )]
    RequestLimit { request: String, message: String },
    #[error("{api} {request}: {detail}")]
    Transport {
        api: &'static str,
        request: String,
        detail: String,
    },
    #[error("{api} {request}: the response is not what roster expects: {detail}")]
    Decode {
        api: &'static str,
        request: String,
        detail: String,
    },
    #[error("{0}")]
    Endpoint(String),
    /// The last attempt of a request that was sent again after an attempt whose answer never
    /// came (a broken connection, a 503 or 504): that attempt may have been carried out, so
    /// the last one's refusal does not say that nothing was.
    #[error(
        "{last}; an earlier attempt's answer was lost ({earlier}), so it may have been carried out"
    )]
    AfterLost {
        earlier: String,
        last: Box<HttpError>,
    },
}

/// For a `Retry-After` longer than roster waits: the wait, so the reader knows when to run
/// again.
fn too_long(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) if wait > MAX_RETRY_AFTER => format!(
            " (the server asks to wait {} s before retrying, longer than the {} s roster waits; \
             run again after that)",
            wait.as_secs(),
            MAX_RETRY_AFTER.as_secs()
        ),
        _ => String::new(),
    }
}

impl HttpError {
    /// This error with every credential the request sent — the form values named
    /// `client_secret`, `client_assertion`, `assertion` or `password` of a token request —
    /// written as `****` wherever the service's text quotes it back (an `error_description`
    /// that echoes the secret it refused): a secret never reaches the terminal, a CI log or a
    /// pull-request comment.
    pub(crate) fn without_credentials(self, form: &[(&str, String)]) -> HttpError {
        // A value shorter than six characters is left alone: it would cut ordinary words out of
        // the message, and no credential of Entra or Salesforce is that short.
        let sent: Vec<&str> = form
            .iter()
            .filter(|(name, value)| {
                matches!(
                    *name,
                    "client_secret" | "client_assertion" | "assertion" | "password"
                ) && value.chars().count() >= 6
            })
            .map(|(_, value)| value.as_str())
            .collect();
        let redact = |text: String| {
            let text = sent.iter().fold(text, |text, secret| {
                // As sent, and as `api_text` shows it (escaped).
                text.replace(secret, "****")
                    .replace(&*crate::render::visible(secret), "****")
            });
            // Quoted some other way — percent-encoded as the form sent it, in other case —
            // the secret cannot be cut out exactly: the text is withheld whole.
            let plain = decode(&text).to_lowercase();
            if sent
                .iter()
                .any(|secret| plain.contains(&secret.to_lowercase()))
            {
                "(withheld: the reply quotes a credential roster sent)".to_owned()
            } else {
                text
            }
        };
        match self {
            HttpError::Status {
                api,
                request,
                status,
                code,
                message,
                retry_after,
            } => HttpError::Status {
                api,
                request,
                status,
                code: code.map(redact),
                message: redact(message),
                retry_after,
            },
            HttpError::RequestLimit { request, message } => HttpError::RequestLimit {
                request,
                message: redact(message),
            },
            HttpError::Transport {
                api,
                request,
                detail,
            } => HttpError::Transport {
                api,
                request,
                detail: redact(detail),
            },
            HttpError::Decode {
                api,
                request,
                detail,
            } => HttpError::Decode {
                api,
                request,
                detail: redact(detail),
            },
            HttpError::Endpoint(text) => HttpError::Endpoint(redact(text)),
            HttpError::AfterLost { earlier, last } => HttpError::AfterLost {
                earlier: redact(earlier),
                last: Box::new(last.without_credentials(form)),
            },
        }
    }

    /// Whether a retry might succeed: throttling, unavailability, a broken connection.
    fn transient(&self) -> bool {
        match self {
            HttpError::Status {
                status: 403,
                code: Some(code),
                ..
            } => code == "REQUEST_LIMIT_EXCEEDED",
            HttpError::Status { status, .. } => matches!(status, 429 | 503 | 504),
            HttpError::Transport { .. } => true,
            _ => false,
        }
    }

    /// The wait the server asked for.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A 401: the token expired or was revoked; one refresh is worth a try.
    pub(crate) fn is_unauthorized(&self) -> bool {
        match self {
            HttpError::Status { status: 401, .. } => true,
            HttpError::AfterLost { last, .. } => last.is_unauthorized(),
            _ => false,
        }
    }

    /// Whether the request was refused as a whole, so that nothing of it was carried out: the
    /// service answered every attempt with a refusal (a 4xx other than 408 Request Timeout —
    /// Salesforce's REST API answers a request it did not process with 400–431: "Status Codes
    /// and Error Responses", REST API Developer Guide), or roster never sent it (a URL its
    /// rules refuse). A broken connection, a 5xx, an answer roster cannot read, or a refusal
    /// after an attempt whose answer was lost leave it unknown.
    pub(crate) fn refused(&self) -> bool {
        match self {
            HttpError::RequestLimit { .. } | HttpError::Endpoint(_) => true,
            HttpError::Status { status, .. } => (400..500).contains(status) && *status != 408,
            HttpError::Transport { .. }
            | HttpError::Decode { .. }
            | HttpError::AfterLost { .. } => false,
        }
    }

    /// This error, after an attempt whose answer was lost (`earlier`), if there was one: a
    /// refusal then says nothing of what was carried out. Any other error leaves the outcome
    /// unknown anyway, and stays as it is (`roster check` reads a broken connection as one).
    fn after(self, earlier: Option<String>) -> HttpError {
        match earlier {
            Some(earlier) if self.refused() => HttpError::AfterLost {
                earlier,
                last: Box::new(self),
            },
            _ => self,
        }
    }

    /// The failure for a response that is not a success.
    pub(crate) fn from_reply(what: &Request, reply: &Reply) -> HttpError {
        let (code, message) = error_body(&reply.body);
        let message = message.unwrap_or_else(|| {
            reply
                .status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_owned()
        });
        if reply.status.is_redirection() {
            let to = reply
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "nowhere".to_owned(), crate::url_rules::shown);
            return HttpError::Status {
                api: what.api,
                request: what.describe(),
                status: reply.status.as_u16(),
                code: None,
                message: format!(
                    "redirected to {to}; roster does not follow redirects (a secret could go \
                     where no check approved): configure the final URL"
                ),
                retry_after: None,
            };
        }
        // REQUEST_LIMIT_EXCEEDED means two things: the daily total is spent (stop: nothing
        // will pass for hours) or too many long requests run at once (`ConcurrentRequests`,
        // `ConcurrentPerOrgLongTxn`: transient, retried with backoff). An unknown message is
        // read as the daily limit, the safe side. Source: salesforce-access.md §12.
        if reply.status == StatusCode::FORBIDDEN
            && code.as_deref() == Some("REQUEST_LIMIT_EXCEEDED")
            && !concurrent_limit(&message)
        {
            return HttpError::RequestLimit {
                request: what.describe(),
                message,
            };
        }
        HttpError::Status {
            api: what.api,
            request: what.describe(),
            status: reply.status.as_u16(),
            code,
            message,
            retry_after: retry_after(&reply.headers),
        }
    }
}

/// Whether a `REQUEST_LIMIT_EXCEEDED` message names one of Salesforce's concurrency limits,
/// which clear by themselves, rather than the daily total.
fn concurrent_limit(message: &str) -> bool {
    message.starts_with("ConcurrentRequests") || message.starts_with("ConcurrentPerOrgLongTxn")
}

/// The error code and message of the three error shapes roster meets: Graph's
/// `{"error": {"code", "message"}}`, Salesforce's `[{"errorCode", "message"}]` and OAuth's
/// `{"error", "error_description"}`. Both are the service's text, made safe to show on one
/// line (`api_text`); a body that is not JSON (a proxy's HTML page) is its words, on one line.
pub(crate) fn error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        return (None, (!words.is_empty()).then(|| api_text(&words, 300)));
    };
    error_value(&value)
}

/// The error code and message of an error body already read as JSON (`error_body`'s shapes).
pub(crate) fn error_value(value: &Value) -> (Option<String>, Option<String>) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(|t| api_text(t, 1000));
    match value {
        Value::Object(o) => match o.get("error") {
            Some(Value::Object(e)) => (text(e.get("code")), text(e.get("message"))),
            Some(Value::String(code)) => {
                (Some(api_text(code, 1000)), text(o.get("error_description")))
            }
            _ => (None, text(o.get("message"))),
        },
        Value::Array(items) => {
            let first = items.first();
            (
                text(first.and_then(|f| f.get("errorCode"))),
                text(first.and_then(|f| f.get("message"))),
            )
        }
        _ => (None, None),
    }
}

/// An API's text as roster shows it: cut to `max` characters, and every character that acts —
/// a line break too — escaped (`render::visible`), so that a message can neither drive the
/// terminal nor forge a line of roster's output (a CI log reads `::error::` lines as commands).
pub(crate) fn api_text(text: &str, max: usize) -> String {
    crate::render::visible_string(truncate(text, max))
}

/// `text` cut to `max` characters, an ellipsis marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `Retry-After` as a server may send it (RFC 9110 §10.2.3): seconds — whole, or fractional as
/// Graph sometimes sends them — or an HTTP date, which is turned into the wait until then (none
/// when it has passed).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    retry_after_value(value, std::time::SystemTime::now())
}

/// One `Retry-After` value, read at `now`.
pub(crate) fn retry_after_value(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The waits between tries of one request: `MAX_RETRIES` of them, the n-th (from 0) drawn
/// uniformly from `[min_delay·2ⁿ, 2·min_delay·2ⁿ)` (exponential backoff with jitter, so clients
/// throttled together do not retry together), the base capped at 30 s. A `Retry-After` the
/// server sends replaces the drawn wait (see `Http::send`).
fn backoff(min_delay: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(min_delay)
        .with_max_delay(Duration::from_secs(30))
        .with_max_times(MAX_RETRIES)
        .with_jitter()
}

/// A request body.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Body<'a> {
    Json(&'a Value),
    /// Bulk API 2.0 upload data: shared, not copied, by each attempt to send it (an upload may
    /// be 100 MB).
    Csv(&'a bytes::Bytes),
}

/// One API's HTTP client.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    api: &'static str,
    min_delay: Duration,
}

impl Http {
    /// The client. It never follows a redirect: a `Location` would take a request — and the
    /// secret in it — past `url_rules::check_url`. It uses a proxy only for https (from
    /// `HTTPS_PROXY`, else `ALL_PROXY`, with `NO_PROXY`), where TLS runs end to end through the
    /// tunnel; plain http, which only ever goes to loopback, is never sent to a proxy.
    pub(crate) fn new(api: &'static str) -> Result<Http, HttpError> {
        let failed = |e: reqwest::Error| {
            HttpError::Endpoint(format!("cannot start the {api} HTTP client: {e}"))
        };
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_mins(2))
            .pool_idle_timeout(Duration::from_secs(30))
            .gzip(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        let https_proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
        if let Some(proxy) = https_proxy {
            let proxy = reqwest::Proxy::https(proxy.trim())
                .map_err(failed)?
                .no_proxy(reqwest::NoProxy::from_env());
            builder = builder.proxy(proxy);
        }
        Ok(Http {
            client: builder.build().map_err(failed)?,
            api,
            min_delay: Duration::from_millis(500),
        })
    }

    /// Describes a request to `url`, refusing plain http to anything but loopback and URLs
    /// with user info (`url_rules::check_url`): every URL roster sends to passes here, the
    /// configured ones and those an API hands back (`instance_url`, `nextRecordsUrl`).
    pub(crate) fn request(&self, method: Method, url: &str) -> Result<Request, HttpError> {
        crate::url_rules::check_url(url).map_err(HttpError::Endpoint)?;
        Ok(Request::new(self.api, method, url))
    }

    /// Sends the request `build` makes, retrying transient failures; a non-success status is an
    /// error. `build` is called once per attempt.
    pub(crate) async fn send(
        &self,
        what: &Request,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply, HttpError> {
        // The first attempt that may have been carried out though its answer was lost.
        let lost: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        (|| self.attempt(what, &build))
            .retry(backoff(self.min_delay))
            .sleep(tokio::time::sleep)
            .when(|e: &HttpError| {
                e.transient() && e.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER)
            })
            // The server's `Retry-After` replaces the computed delay; `None` still ends retrying.
            .adjust(|e: &HttpError, delay| delay.map(|d| e.retry_after().unwrap_or(d)))
            .notify(|e: &HttpError, delay: Duration| {
                if !e.refused() {
                    crate::concurrent::lock(&lost).get_or_insert_with(|| e.to_string());
                }
                tracing::warn!(
                    target: "roster::http",
                    "retrying {} {} in {:.1} s: {e}",
                    what.method,
                    what.path(),
                    delay.as_secs_f64()
                );
            })
            .await
            .map_err(|e| e.after(crate::concurrent::lock(&lost).take()))
    }

    /// Sends an authorized request with a token from `cache` (`fetch` gets a fresh one),
    /// retrying transient failures; when the API answers 401, the token is renewed and the
    /// request sent again, up to `MAX_RENEWALS` times. `url_of` and `bearer` read the URL and token from what the cache
    /// holds (a Salesforce session also says which instance to call).
    #[allow(
        clippy::too_many_arguments,
        reason = "one request's parts; a struct would only rename them"
    )]
    pub(crate) async fn send_authorized<T, E, Fut>(
        &self,
        cache: &TokenCache<T>,
        fetch: impl Fn() -> Fut,
        bearer: impl Fn(&T) -> &secrecy::SecretString,
        method: &Method,
        url_of: impl Fn(&T) -> String,
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Result<(Reply, Request), E>
    where
        Fut: Future<Output = Result<(T, Option<Duration>), E>>,
        E: From<HttpError>,
    {
        use secrecy::ExposeSecret as _;
        let mut renewals = 0;
        // An attempt before a renewal whose answer was lost: a refusal after it says nothing.
        let mut lost: Option<String> = None;
        loop {
            let token = cache.get(&fetch).await?;
            let url = url_of(&token);
            let what = self.request(method.clone(), &url)?;
            let sent = self
                .send(&what, |client| {
                    let mut request = client
                        .request(method.clone(), &url)
                        .bearer_auth(bearer(&token).expose_secret());
                    for (name, value) in headers {
                        request = request.header(*name, *value);
                    }
                    match body {
                        Some(Body::Json(value)) => request = request.json(value),
                        Some(Body::Csv(text)) => {
                            request = request
                                .header(reqwest::header::CONTENT_TYPE, "text/csv")
                                .body(bytes::Bytes::clone(text));
                        }
                        None => {}
                    }
                    request
                })
                .await;
            match sent {
                Err(e) if e.is_unauthorized() && renewals < MAX_RENEWALS => {
                    tracing::debug!(target: "roster::http", "{} rejected the token; getting a new one", self.api);
                    cache.invalidate(&token).await;
                    renewals += 1;
                    if let HttpError::AfterLost { earlier, .. } = e {
                        lost.get_or_insert(earlier);
                    }
                }
                Err(e) => return Err(e.after(lost).into()),
                Ok(reply) => return Ok((reply, what)),
            }
        }
    }

    async fn attempt(
        &self,
        what: &Request,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply, HttpError> {
        let started = Instant::now();
        // The whole URL (no credential is ever in one), for replaying a run's requests: the
        // plan benchmark's network floor sends exactly these.
        tracing::debug!(target: "roster::http", "request {} {}", what.method, what.url);
        let transport = |e: reqwest::Error| {
            tracing::info!(
                target: "roster::http",
                "{} {} failed after {} ms: {e}",
                what.method,
                what.logged(),
                started.elapsed().as_millis()
            );
            HttpError::Transport {
                api: what.api,
                request: what.describe(),
                detail: transport_detail(&e),
            }
        };
        let response = build(&self.client).send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        tracing::info!(
            target: "roster::http",
            "{} {} -> {} in {} ms",
            what.method,
            what.logged(),
            status.as_u16(),
            started.elapsed().as_millis()
        );
        let reply = Reply {
            status,
            headers,
            body,
        };
        if status.is_success() {
            Ok(reply)
        } else {
            Err(HttpError::from_reply(what, &reply))
        }
    }
}

/// reqwest's error with its causes, which say what actually broke (refused, reset, timed out),
/// and for a connection never made, the host and port it was made to.
fn transport_detail(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        // Which host: the one configured may be mistyped, or the proxy's.
        match e
            .url()
            .and_then(|u| Some((u.host_str()?.to_owned(), u.port_or_known_default())))
        {
            Some((host, Some(port))) => format!("cannot connect to {host}:{port}"),
            Some((host, None)) => format!("cannot connect to {host}"),
            None => "cannot connect".to_owned(),
        }
    } else {
        "the connection failed".to_owned()
    };
    if let Some(cause) = std::error::Error::source(e) {
        text.push_str(": ");
        text.push_str(&crate::error::with_causes(cause));
    }
    text
}

/// An access token (or a whole session) shared by concurrent requests: fetched once, reused
/// until shortly before it expires, and replaced once when the API says it is no longer valid.
#[derive(Debug)]
pub(crate) struct TokenCache<T> {
    slot: tokio::sync::Mutex<Option<Cached<T>>>,
}

impl<T> Default for TokenCache<T> {
    fn default() -> Self {
        TokenCache {
            slot: tokio::sync::Mutex::new(None),
        }
    }
}

#[derive(Debug)]
struct Cached<T> {
    value: Arc<T>,
    /// When to stop using it; `None` when the API does not say (Salesforce sessions).
    renew_at: Option<Instant>,
}

impl<T> TokenCache<T> {
    /// The cached value, or a fresh one from `fetch` (which also returns its lifetime).
    pub(crate) async fn get<E, F, Fut>(&self, fetch: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Option<Duration>), E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = &*slot
            && cached.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(Arc::clone(&cached.value));
        }
        let (value, lifetime) = fetch().await?;
        let value = Arc::new(value);
        *slot = Some(Cached {
            value: Arc::clone(&value),
            // Renew a minute early so a token never expires mid-read.
            renew_at: lifetime.map(|l| Instant::now() + l.saturating_sub(Duration::from_mins(1))),
        });
        Ok(value)
    }

    /// Forgets `stale` after the API rejected it; a value another request already replaced
    /// stays.
    pub(crate) async fn invalidate(&self, stale: &Arc<T>) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(&c.value, stale)) {
            *slot = None;
        }
    }
}

/// Percent-encodes a query value (OData filters, SOQL, select lists) so any server reads it
/// back exactly; `$`, `,`, `'`, `(` and `)` stay readable in logs.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b','
            | b'\''
            | b'('
            | b')' => out.push(char::from(byte)),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 15)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply read as JSON refuses an object naming a key twice, however deep (a `$batch`
    /// answer's user, helper-70): serde_json would silently keep the last value.
    #[test]
    fn a_reply_naming_a_key_twice_is_refused() {
        let what = Request::new("Microsoft Graph", Method::POST, "https://g/v1.0/$batch");
        let reply = |body: &str| Reply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: bytes::Bytes::from(body.to_owned()),
        };
        let twice = r#"{"responses": [{"id": "0", "status": 200, "body": {"value":
            [{"id": "u1", "jobTitle": "Specialist", "jobTitle": "Second"}]}}]}"#;
        let error = reply(twice).json(&what).unwrap_err().to_string();
        assert!(
            error.contains(r#"the key "jobTitle" is given twice"#),
            "{error}"
        );
        assert!(error.contains("POST /v1.0/$batch"), "{error}");
        let once = twice.replace(r#""jobTitle": "Second""#, r#""surname": "Ng""#);
        assert_eq!(
            reply(&once).json(&what).unwrap()["responses"][0]["body"]["value"][0]["surname"],
            "Ng"
        );
    }

    #[tokio::test]
    async fn tokens_are_reused_until_a_minute_before_they_expire() {
        let fetched = std::sync::atomic::AtomicUsize::new(0);
        let fetch = |lifetime: Duration| {
            let n = fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { Ok::<_, ()>((n, Some(lifetime))) }
        };
        // Valid for 61 s: a minute early is a second from now, so it is used again at once.
        let cache: TokenCache<usize> = TokenCache::default();
        let first = cache.get(|| fetch(Duration::from_secs(61))).await.unwrap();
        let again = cache.get(|| fetch(Duration::from_secs(61))).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // Valid for 59 s: already within the last minute, so renewed at the next use.
        let cache: TokenCache<usize> = TokenCache::default();
        let first = cache.get(|| fetch(Duration::from_secs(59))).await.unwrap();
        let again = cache.get(|| fetch(Duration::from_secs(59))).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &again));
        assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_connection_never_made_names_its_host_and_port() {
        // A port that was just free: nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/v1.0/users"))
            .send()
            .await
            .unwrap_err();
        let detail = transport_detail(&error);
        assert!(
            detail.starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
            "{detail}"
        );
    }

    #[test]
    fn backoff_is_exponential_with_jitter_and_five_retries() {
        use backon::BackoffBuilder as _;
        let base = Duration::from_millis(500);
        let draw = || backoff(base).build().collect::<Vec<Duration>>();
        let waits = draw();
        assert_eq!(waits.len(), 5, "{waits:?}");
        for (n, wait) in (0u32..).zip(&waits) {
            let floor = base * 2u32.pow(n);
            assert!(
                *wait >= floor && *wait < floor * 2,
                "wait {n} is {wait:?}, not in [{floor:?}, {:?})",
                floor * 2
            );
        }
        // Jitter: the waits are drawn, not the bare exponential series, and differ run to run
        // (two draws of five continuous values coinciding is not a thing that happens).
        let series: Vec<Duration> = (0..5).map(|n| base * 2u32.pow(n)).collect();
        assert_ne!(waits, series);
        assert_ne!(waits, draw());
    }

    #[test]
    fn only_a_refusal_with_no_lost_attempt_before_it_wrote_nothing() {
        let status = |status: u16| HttpError::Status {
            api: "Salesforce",
            request: "PATCH /composite/sobjects".into(),
            status,
            code: None,
            message: String::new(),
            retry_after: None,
        };
        for refused in [400, 401, 403, 404, 413, 429, 431] {
            assert!(status(refused).refused(), "{refused}");
        }
        for unknown in [408, 500, 502, 503, 504] {
            assert!(!status(unknown).refused(), "{unknown}");
        }
        let lost = HttpError::Transport {
            api: "Salesforce",
            request: "PATCH /composite/sobjects".into(),
            detail: "the connection failed".into(),
        };
        assert!(!lost.refused());
        // A refusal after an attempt whose answer was lost: that attempt may have been carried
        // out. Still a 401 for the token's renewal.
        let after = status(401).after(Some(lost.to_string()));
        assert!(!after.refused() && after.is_unauthorized());
        assert!(
            after.to_string().contains("may have been carried out"),
            "{after}"
        );
        assert!(status(400).after(None).refused());
        // A broken connection after another stays one: it says as much on its own.
        let again = HttpError::Transport {
            api: "Salesforce",
            request: "PATCH /composite/sobjects".into(),
            detail: "cannot connect to 127.0.0.1:9".into(),
        };
        assert!(matches!(
            again.after(Some(lost.to_string())),
            HttpError::Transport { .. }
        ));
    }

    #[test]
    fn a_retry_after_longer_than_roster_waits_is_named() {
        let error = |retry_after: Option<Duration>| HttpError::Status {
            api: "Microsoft Graph",
            request: "GET /v1.0/users".to_owned(),
            status: 429,
            code: Some("TooManyRequests".to_owned()),
            message: "slow down".to_owned(),
            retry_after,
        };
        let long = error(Some(Duration::from_hours(1))).to_string();
        assert!(
            long.ends_with("(the server asks to wait 3600 s before retrying, longer than the 300 s roster waits; run again after that)"),
            "{long}"
        );
        assert!(
            !error(Some(Duration::from_secs(2)))
                .to_string()
                .contains("asks to wait")
        );
        assert!(!error(None).to_string().contains("asks to wait"));
    }

    #[test]
    fn retry_after_takes_integer_and_fractional_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", "0.25".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn retry_after_takes_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            retry_after_value("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date already past: retry now.
        assert_eq!(
            retry_after_value("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_value("Wed, 21 Oct 2015", now), None);
    }

    #[test]
    fn error_bodies_of_every_shape() {
        assert_eq!(
            error_body(br#"{"error":{"code":"TooManyRequests","message":"Please retry"}}"#),
            (Some("TooManyRequests".into()), Some("Please retry".into()))
        );
        assert_eq!(
            error_body(
                br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#
            ),
            (
                Some("INVALID_SESSION_ID".into()),
                Some("Session expired or invalid".into())
            )
        );
        assert_eq!(
            error_body(br#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#),
            (Some("invalid_client".into()), Some("AADSTS7000215".into()))
        );
        assert_eq!(
            error_body(b"<html>oops</html>"),
            (None, Some("<html>oops</html>".into()))
        );
    }

    /// An API's words cannot forge a line of roster's output (a CI log runs `::error::` lines
    /// as commands), drive the terminal, or flood it.
    #[test]
    fn error_texts_stay_on_one_line_and_within_bounds() {
        let (code, message) = error_body(
            br#"{"error":{"code":"A\nerror: forged","message":"m\n::error::forged\u001b[2J"}}"#,
        );
        assert_eq!(code.as_deref(), Some(r"A\nerror: forged"));
        assert_eq!(message.as_deref(), Some(r"m\n::error::forged\u{1b}[2J"));
        // OAuth's shape: the code is a string of its own.
        let (code, message) =
            error_body(br#"{"error":"invalid\ngrant","error_description":"bad\n::error::x"}"#);
        assert_eq!(code.as_deref(), Some(r"invalid\ngrant"));
        assert_eq!(message.as_deref(), Some(r"bad\n::error::x"));
        let long = format!(
            r#"{{"error":{{"code":"C","message":"{}"}}}}"#,
            "x".repeat(100_000)
        );
        let (_, message) = error_body(long.as_bytes());
        assert_eq!(message.unwrap().chars().count(), 1001);
        assert_eq!(
            error_body(b"<html>\n  <body>Bad\r\n Gateway</body>\n</html>\n"),
            (None, Some("<html> <body>Bad Gateway</body> </html>".into()))
        );
    }

    #[test]
    fn encodes_filters_for_any_server() {
        assert_eq!(
            encode("displayName eq 'O''Brien & Co'"),
            "displayName%20eq%20'O''Brien%20%26%20Co'"
        );
    }

    #[test]
    fn request_paths_drop_host_and_query() {
        let r = Request::new(
            "Graph",
            Method::GET,
            "http://127.0.0.1:9/v1.0/users?$top=999",
        );
        assert_eq!(r.path(), "/v1.0/users");
        assert_eq!(r.logged(), "/v1.0/users?$top=999");
        let r = Request::new(
            "Graph",
            Method::GET,
            "http://h/v1.0/users?$filter=id%20in%20('a')",
        );
        assert_eq!(r.logged(), "/v1.0/users?$filter=id in ('a')");
    }
}
