//! The Microsoft Graph edge: an authenticated client (token cached until expiry, refreshed once
//! on a 401), paging that follows `@odata.nextLink` whole, and JSON batching. `read.rs` uses it
//! to take the source snapshot.

mod attributes;
mod auth;
mod read;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::config::{Config, SecretError};
use crate::endpoint::{Endpoints, Env};
pub(crate) use crate::http::encode;
use crate::http::{Http, HttpError, TokenCache};

pub(crate) use read::read;

/// Graph's limit on requests in one `$batch`.
const MAX_BATCH: usize = 20;

/// What can go wrong reading Entra.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GraphError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Credential(String),
    #[error(
        "cannot get a Microsoft Graph token for client {client_id} in tenant {tenant}: {error}"
    )]
    Token {
        client_id: String,
        tenant: String,
        error: Box<HttpError>,
    },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{0}")]
    Read(String),
}

/// An authenticated Microsoft Graph client.
pub(crate) struct Graph {
    http: Http,
    base_url: String,
    auth: auth::Auth,
    token: TokenCache<SecretString>,
}

/// One response inside a `$batch`.
#[derive(Debug)]
pub(crate) struct BatchReply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Graph {
    /// Reads the credential's secrets and prepares the client; nothing is sent yet.
    pub(crate) fn connect(
        config: &Config,
        base: &std::path::Path,
        endpoints: &Endpoints,
        env: Env<'_>,
    ) -> Result<Graph, GraphError> {
        Ok(Graph {
            http: Http::new("Microsoft Graph")?,
            base_url: format!("{}/v1.0", endpoints.graph),
            auth: auth::Auth::new(config, base, endpoints, env)?,
            token: TokenCache::default(),
        })
    }

    /// `{graph}/v1.0/{path}`; `path` carries its own (encoded) query.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Sends an authenticated request; a 401 gets one fresh token and one more try.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Value, GraphError> {
        let (reply, what) = self
            .http
            .send_authorized(
                &self.token,
                || self.auth.fetch(&self.http),
                |token: &SecretString| token,
                &method,
                |_| url.to_owned(),
                body.map(crate::http::Body::Json),
                headers,
            )
            .await?;
        Ok(reply.json(&what)?)
    }

    pub(crate) async fn get(&self, url: &str) -> Result<Value, GraphError> {
        self.send(Method::GET, url, None, &[]).await
    }

    /// `GET` with extra headers (e.g. `ConsistencyLevel: eventual`).
    pub(crate) async fn get_with(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Value, GraphError> {
        self.send(Method::GET, url, None, headers).await
    }

    /// Every item of a collection: follows `@odata.nextLink` to the end, calling `each_page`
    /// with each page's items as they arrive.
    pub(crate) async fn pages(
        &self,
        first: &str,
        mut each_page: impl FnMut(Vec<Value>),
    ) -> Result<(), GraphError> {
        let mut next = Some(first.to_owned());
        while let Some(url) = next.take() {
            let mut page = self.get(&url).await?;
            next = page
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let Some(Value::Array(items)) = page.get_mut("value").map(Value::take) else {
                return Err(GraphError::Read(format!(
                    "Microsoft Graph GET {}: the page has no `value` array",
                    crate::http::Request::new("", Method::GET, url).path()
                )));
            };
            each_page(items);
        }
        Ok(())
    }

    /// Sends up to 20 relative `GET` URLs as one `$batch`; answers come back in request order.
    /// Items throttled or unavailable inside the batch (429/503/504) are sent again, after the
    /// longest `Retry-After` they carry, a bounded number of times.
    pub(crate) async fn batch_get(&self, urls: &[String]) -> Result<Vec<BatchReply>, GraphError> {
        let mut replies: Vec<Option<BatchReply>> = urls.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..urls.len()).collect();
        let mut attempt = 0u32;
        if urls.len() > MAX_BATCH {
            return Err(GraphError::Read(format!(
                "internal: a $batch holds at most {MAX_BATCH} requests, not {}",
                urls.len()
            )));
        }
        while !pending.is_empty() {
            let requests: Vec<Value> = pending
                .iter()
                .map(|&i| json!({"id": i.to_string(), "method": "GET", "url": urls[i]}))
                .collect();
            let body = json!({ "requests": requests });
            let answer = self
                .send(Method::POST, &self.url("$batch"), Some(&body), &[])
                .await?;
            let Some(responses) = answer.get("responses").and_then(Value::as_array) else {
                return Err(GraphError::Read(
                    "Microsoft Graph POST /v1.0/$batch: the answer has no `responses`".into(),
                ));
            };
            let mut again = Vec::new();
            let mut wait = std::time::Duration::ZERO;
            for response in responses {
                let Some(index) = response
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|id| id.parse::<usize>().ok())
                    .filter(|i| *i < urls.len())
                else {
                    continue;
                };
                let status = response
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                let retry_after = response
                    .get("headers")
                    .and_then(|h| {
                        h.as_object()?
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                            .map(|(_, v)| v.clone())
                    })
                    .and_then(|v| match v {
                        Value::String(s) => s.trim().parse::<f64>().ok(),
                        Value::Number(n) => n.as_f64(),
                        _ => None,
                    })
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(std::time::Duration::from_secs_f64);
                if matches!(status, 429 | 503 | 504) && attempt < 5 {
                    wait = wait.max(
                        retry_after
                            .unwrap_or_else(|| std::time::Duration::from_millis(500 << attempt)),
                    );
                    again.push(index);
                    continue;
                }
                replies[index] = Some(BatchReply {
                    status,
                    body: response.get("body").cloned().unwrap_or(Value::Null),
                });
            }
            // Anything the batch did not answer is asked again too.
            for &i in &pending {
                if replies[i].is_none() && !again.contains(&i) {
                    again.push(i);
                }
            }
            if !again.is_empty() {
                attempt += 1;
                if attempt > 5 {
                    return Err(GraphError::Read(format!(
                        "Microsoft Graph POST /v1.0/$batch: {} request(s) still unanswered after {attempt} tries",
                        again.len()
                    )));
                }
                tracing::warn!(
                    target: "roster::http",
                    "retrying {} request(s) of a $batch in {:.1} s",
                    again.len(),
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
            }
            pending = again;
        }
        Ok(replies.into_iter().flatten().collect())
    }
}

/// An OData string literal: `'...'` with quotes doubled.
pub(crate) fn odata_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_odata_strings() {
        assert_eq!(odata_string("O'Brien"), "'O''Brien'");
    }
}
