//! Faults injected on demand through `/_emulator/faults`: throttling with `Retry-After`, server
//! errors, expired tokens, the daily and the concurrent request limits, and locked records.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::http::{graph_error, salesforce_error};
use super::{Api, Request, Shared};
use crate::concurrent::lock;

/// The faults waiting to fire.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<Rule>,
    /// Record keys (Id or Username, lower case) that fail with `UNABLE_TO_LOCK_ROW`, and how
    /// many more times.
    locks: HashMap<String, u32>,
}

/// One fault rule, as posted to `/_emulator/faults`.
// `flatten` and `deny_unknown_fields` do not combine in serde; unknown keys are ignored.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Rule {
    /// Matches requests whose `METHOD /route/{id}` contains this text; `*` matches all.
    pub(crate) route: String,
    #[serde(flatten)]
    pub(crate) kind: Kind,
    /// How many matching requests fail.
    #[serde(default = "one")]
    pub(crate) count: u32,
    /// Matches only requests whose body contains this text (e.g. `PermissionSetAssignment`,
    /// to tell assignment writes from user writes on the same route).
    #[serde(default)]
    pub(crate) body_contains: Option<String>,
    /// Matches only requests whose (percent-decoded) query contains this text (e.g.
    /// `FROM Profile`, to pick one SOQL query among those on the query route).
    #[serde(default)]
    pub(crate) query_contains: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Kind {
    /// An HTTP status (429, 500, 503, 504, ...) with an optional `Retry-After` value.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
    },
    /// The caller's token has expired: 401 and every token of that API expires.
    ExpiredToken,
    /// Salesforce's daily limit is exhausted: every later request is refused too.
    RequestLimit,
    /// Salesforce's concurrent-request limit: `REQUEST_LIMIT_EXCEEDED` (HTTP 403) for this one
    /// request, with "ConcurrentRequests (Concurrent API Requests) Limit exceeded." — or, with
    /// `long_txn`, "ConcurrentPerOrgLongTxn Limit exceeded." (too many long transactions at
    /// once). Transient: the next request is served. Sources: SalesforceLabs/OrgCheck#432, the
    /// Salesforce app limits cheatsheet; the REST status of the second is assumed to be 403.
    ConcurrentLimit {
        #[serde(default)]
        long_txn: bool,
    },
    /// The connection breaks after the status line: the client sees a truncated response.
    Drop,
    /// The request is carried out, then the connection breaks before the answer arrives: the
    /// client cannot know whether it was.
    LoseResponse,
    /// Answers with this status and JSON body instead of the real answer: a malformed or
    /// cut-short response (a page without its collection, a wrong `totalSize`, ...), which a
    /// client must refuse rather than read as "nothing".
    Respond {
        status: u16,
        body: serde_json::Value,
        /// Response headers, e.g. a `Location` for a redirect.
        #[serde(default)]
        headers: std::collections::BTreeMap<String, String>,
    },
    /// Waits this long before answering, without holding up other requests: a request that is
    /// still in flight when the test acts (sends a signal, changes the world).
    Delay { ms: u64 },
}

/// What a fault does to a request.
pub(crate) enum Injected {
    /// Answer this instead.
    Respond(Response),
    /// Carry the request out, then break the connection.
    LoseResponse,
    /// Wait, then carry the request out.
    Delay(std::time::Duration),
}

impl Faults {
    pub(crate) fn add(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    pub(crate) fn lock_records(&mut self, keys: &[String], count: u32) {
        for key in keys {
            self.locks.insert(key.to_lowercase(), count);
        }
    }

    /// Whether every injected fault has fired.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.locks.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
        self.locks.clear();
    }

    /// Whether a write to the record with these keys fails with `UNABLE_TO_LOCK_ROW` now.
    pub(crate) fn take_lock(&mut self, keys: &[&str]) -> bool {
        for key in keys {
            if let Some(remaining) = self.locks.get_mut(&key.to_lowercase()) {
                *remaining -= 1;
                if *remaining == 0 {
                    self.locks.remove(&key.to_lowercase());
                }
                return true;
            }
        }
        false
    }

    fn take(&mut self, request: &Request) -> Option<Kind> {
        let body = String::from_utf8_lossy(&request.body);
        let query = super::http::percent_decode(&request.query.replace('+', " "));
        let index = self.rules.iter().position(|r| {
            (r.route == "*" || request.route.contains(&r.route))
                && r.body_contains
                    .as_ref()
                    .is_none_or(|text| body.contains(text.as_str()))
                && r.query_contains
                    .as_ref()
                    .is_none_or(|text| query.contains(text.as_str()))
        })?;
        let rule = &mut self.rules[index];
        let kind = rule.kind.clone();
        rule.count = rule.count.saturating_sub(1);
        if rule.count == 0 {
            self.rules.remove(index);
        }
        Some(kind)
    }
}

/// What a fault does to this request, if one fires.
pub(crate) fn inject(shared: &Shared, request: &Request) -> Option<Injected> {
    let kind = lock(&shared.faults).take(request)?;
    match kind {
        Kind::LoseResponse => return Some(Injected::LoseResponse),
        Kind::Delay { ms } => return Some(Injected::Delay(std::time::Duration::from_millis(ms))),
        _ => {}
    }
    Some(Injected::Respond(respond(shared, request, kind)))
}

fn respond(shared: &Shared, request: &Request, kind: Kind) -> Response {
    let api = if request.path.starts_with("/services/") {
        Api::Salesforce
    } else {
        Api::Graph
    };
    match kind {
        Kind::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = match api {
                // Salesforce's REST answers a server error as `UNKNOWN_EXCEPTION`, and only an
                // unavailable server as `SERVER_UNAVAILABLE`.
                Api::Salesforce if status == StatusCode::INTERNAL_SERVER_ERROR => salesforce_error(
                    status,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you contact \
                     support: 0000000000-00000 (injected fault)",
                ),
                Api::Salesforce => salesforce_error(
                    status,
                    "SERVER_UNAVAILABLE",
                    "Server temporarily unavailable (injected fault)",
                ),
                Api::Graph if status == StatusCode::TOO_MANY_REQUESTS => graph_error(
                    status,
                    "TooManyRequests",
                    "Too many requests (injected fault)",
                ),
                Api::Graph => graph_error(
                    status,
                    "serviceNotAvailable",
                    "Service unavailable (injected fault)",
                ),
            };
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Kind::ExpiredToken => {
            shared.expire_tokens(api);
            match api {
                Api::Salesforce => salesforce_error(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_SESSION_ID",
                    "Session expired or invalid",
                ),
                Api::Graph => graph_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                ),
            }
        }
        Kind::Drop | Kind::LoseResponse | Kind::Delay { .. } => dropped(),
        Kind::Respond {
            status,
            body,
            headers,
        } => {
            let mut response = super::http::json_response(
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                &body,
            );
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Kind::RequestLimit => {
            let org = &mut shared.state().org;
            org.spent_by_fault.get_or_insert(org.api_requests);
            org.api_requests = u64::MAX / 2;
            salesforce_error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            )
        }
        Kind::ConcurrentLimit { long_txn } => salesforce_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            if long_txn {
                "ConcurrentPerOrgLongTxn Limit exceeded."
            } else {
                "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
            },
        ),
    }
}

/// A body that fails on its first read, so hyper aborts the connection mid-response.
struct Broken;

impl http_body::Body for Broken {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected dropped connection",
        ))))
    }
}

pub(crate) fn dropped() -> Response {
    let mut response = Response::new(axum::body::Body::new(Broken));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}
