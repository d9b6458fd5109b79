//! The Microsoft Graph edge: an authenticated client (token cached until expiry, refreshed once
//! on a 401), paging that follows `@odata.nextLink` whole, and JSON batching. `read.rs` uses it
//! to take the source snapshot.

pub(crate) mod attributes;
pub(crate) mod auth;
mod lookup;
mod read;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::config::{SecretError, Source};
use crate::endpoint::{EntraEndpoints, Env};
pub(crate) use crate::http::encode;
use crate::http::{Http, HttpError, TokenCache};

pub(crate) use lookup::{look_up, user_named};
pub(crate) use read::{
    anchored_guid, anchored_id, app_roles_of, looks_like_guid, object_id_form, read, role_groups,
    service_principal, users_found,
};

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
    /// The lookup of object ids that active Salesforce users' anchors hold and the read of the
    /// application's users did not give (`users_found`), failed: said as that, since the
    /// request it names (`GET /v1.0/users`) is not one an admin expects of an assignment read.
    #[error(
        "looking up the {ids} Entra object id(s) that active Salesforce users' object-id anchors \
         hold and the application's users do not include (people who left the application, \
         whose accounts roster deprovisions as theirs; Graph refusing it with 403 means the app \
         registration lacks User.Read.All, which `roster check` checks)"
    )]
    Lookup {
        ids: usize,
        #[source]
        source: Box<GraphError>,
    },
    /// A value of `roster.yaml` the tenant does not resolve (an application name): shown at its
    /// place in the file.
    #[error("{message} ({pointer}); {help}")]
    Config {
        pointer: &'static str,
        message: String,
        help: String,
    },
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
        source: &Source,
        base: &std::path::Path,
        endpoints: &EntraEndpoints,
        env: Env<'_>,
    ) -> Result<Graph, GraphError> {
        Ok(Graph {
            http: Http::new("Microsoft Graph")?,
            base_url: format!("{}/v1.0", endpoints.graph),
            auth: auth::Auth::new(source, base, endpoints, env)?,
            token: TokenCache::default(),
        })
    }

    /// Whether `link` is a Graph URL of this client: the same scheme, host and port as the
    /// configured Graph endpoint, under `/v1.0/`. Only such URLs are sent the token.
    fn is_own(&self, link: &str) -> bool {
        match (url::Url::parse(link), url::Url::parse(&self.base_url)) {
            (Ok(link), Ok(base)) => {
                link.origin() == base.origin()
                    && link.path().starts_with(&format!("{}/", base.path()))
            }
            _ => false,
        }
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
        let (reply, what) = self.send_reply(method, url, body, headers).await?;
        // A write answers 204 with no body.
        if reply.body.is_empty() {
            return Ok(Value::Null);
        }
        let answer = reply.json(&what)?;
        // No Graph resource has an `error` property: an answer holding one is Graph's error,
        // whatever its status, and is never read as data.
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            return Err(error_answer(&what, &reply, error));
        }
        Ok(answer)
    }

    /// `send`, the answer's body not yet read as JSON.
    async fn send_reply(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(crate::http::Reply, crate::http::Request), GraphError> {
        self.http
            .send_authorized(
                &self.token,
                || self.auth.fetch(&self.http),
                |token: &SecretString| token,
                &method,
                |_| url.to_owned(),
                body.map(crate::http::Body::Json),
                headers,
            )
            .await
    }

    /// `PATCH url` with a JSON body (Graph answers 204 No Content).
    pub(crate) async fn patch(&self, url: &str, body: &Value) -> Result<(), GraphError> {
        self.send(Method::PATCH, url, Some(body), &[])
            .await
            .map(drop)
    }

    /// The Microsoft Graph application permissions the token carries: its `roles` claim
    /// (Microsoft identity platform, "Access token claims reference"). Fetching the token is
    /// the login check: a wrong tenant, client or secret fails here. A token whose payload is not
    /// JSON (Entra's are JWTs) carries none roster can see.
    pub(crate) async fn granted_roles(&self) -> Result<Vec<String>, GraphError> {
        use base64::Engine as _;
        use secrecy::ExposeSecret as _;
        let token = self.token.get(|| self.auth.fetch(&self.http)).await?;
        let claims = token
            .expose_secret()
            .split('.')
            .nth(1)
            .and_then(|payload| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload.trim_end_matches('='))
                    .ok()
            })
            .and_then(|json| serde_json::from_slice::<Value>(&json).ok());
        Ok(claims
            .as_ref()
            .and_then(|c| c.get("roles"))
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
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
    /// with each page's items as they arrive. A page without a `value` array, or items
    /// `each_page` finds malformed (it says why), fail the read with the request named: a read
    /// error is never taken for an empty collection.
    ///
    /// Items are read as `T` straight from the page's bytes: a listing of users as `Item`s is
    /// read into each user's own properties, with no JSON tree built and let go per page
    /// (100,000 users at 20 ms a request, medians of eight: 25 ms less CPU reading, and 20 ms
    /// less planning, as the attributes lie closer together).
    pub(crate) async fn pages<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        first: &str,
        each_page: impl FnMut(Vec<T>) -> Result<(), String>,
    ) -> Result<(), GraphError> {
        self.pages_of(first, first, each_page).await
    }

    /// `pages` from `first`, a next link an answer to a request for `listed` gave (a `$batch`
    /// item's): `first` and every next link after it must page `listed`'s resource.
    pub(crate) async fn pages_of<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        listed: &str,
        first: &str,
        mut each_page: impl FnMut(Vec<T>) -> Result<(), String>,
    ) -> Result<(), GraphError> {
        // The token goes with every request: a next link elsewhere would hand it over; a next
        // link to another resource (another group's members, all users) would be read as more
        // of this one — Graph's next links page the same resource, only the query changes
        // (Microsoft Graph, "Paging Microsoft Graph data in your app"); and
        // a next link that comes round again would page forever. The first URL may be a next
        // link too (a `$batch` answer's).
        let mut seen = std::collections::HashSet::new();
        let resource = url::Url::parse(listed).map(|u| u.path().to_owned()).ok();
        let mut follow = |link: &str| -> Result<(), String> {
            if !self.is_own(link) {
                return Err(format!(
                    "`@odata.nextLink` leads away from {}: {}",
                    self.base_url,
                    crate::url_rules::shown(link)
                ));
            }
            let path = url::Url::parse(link).map(|u| u.path().to_owned()).ok();
            // Graph's paths compare without case (`servicePrincipals`, an id in capitals).
            let same = match (&path, &resource) {
                (Some(path), Some(resource)) => path.eq_ignore_ascii_case(resource),
                _ => false,
            };
            if !same {
                return Err(format!(
                    "`@odata.nextLink` leads to another resource ({}) than the one listed ({})",
                    crate::render::visible(path.as_deref().unwrap_or_default()),
                    crate::render::visible(resource.as_deref().unwrap_or_default())
                ));
            }
            if !seen.insert(link.to_owned()) {
                return Err("`@odata.nextLink` leads back to a page already read".to_owned());
            }
            Ok(())
        };
        follow(first).map_err(|why| {
            GraphError::Read(format!(
                "Microsoft Graph: the answer is not what roster expects: {why}"
            ))
        })?;
        // Each page's next link is skimmed first, and the next page asked for while this
        // page's items are read on a blocking thread, as a client with nothing else to do would
        // ask: reading 999 users' properties took a few milliseconds a page, which each request
        // of a chain of 26 pages waited for.
        let mut url = first.to_owned();
        let mut answer = self.send_reply(Method::GET, &url, None, &[]).await;
        loop {
            let (reply, what) = answer?;
            let unexpected = |detail: String| {
                GraphError::Read(format!(
                    "Microsoft Graph GET {}: the answer is not what roster expects: {detail}",
                    crate::http::Request::new("", Method::GET, url.as_str()).path()
                ))
            };
            let next = match reply.json_as::<NextLink>(&what)?.next {
                Value::Null => None,
                Value::String(link) => {
                    follow(&link).map_err(unexpected)?;
                    Some(link)
                }
                other => {
                    return Err(unexpected(format!("`@odata.nextLink` is {other}")));
                }
            };
            let (page, next_answer): (Page<T>, _) = match &next {
                None => (reply.json_as(&what)?, None),
                Some(link) => {
                    let (body, asked) = (reply.body.clone(), what.clone());
                    let (page, next_answer) = tokio::join!(
                        tokio::task::spawn_blocking(move || {
                            crate::http::Reply::decode::<Page<T>>(&body, &asked)
                        }),
                        self.send_reply(Method::GET, link, None, &[])
                    );
                    let page = match page {
                        Ok(page) => page?,
                        // A panic while reading is a bug: it surfaces as the panic it is.
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(e) => {
                            return Err(GraphError::Read(format!("a page's read stopped: {e}")));
                        }
                    };
                    (page, Some(next_answer))
                }
            };
            // An error beside items may mean the items are partial: never planned from.
            if !page.error.is_null() {
                return Err(error_answer(&what, &reply, &page.error));
            }
            let Some(items) = page.value.0 else {
                return Err(unexpected("the page has no `value` array".to_owned()));
            };
            each_page(items).map_err(unexpected)?;
            let (Some(link), Some(next_answer)) = (next, next_answer) else {
                return Ok(());
            };
            (url, answer) = (link, next_answer);
        }
    }

    /// Sends up to 20 relative `GET` URLs as one `$batch`; answers come back in request order,
    /// each a success (2xx). Items throttled or unavailable inside the batch (429/503/504), and
    /// items the batch did not answer, are sent again after the longest `Retry-After` they
    /// carry, a bounded number of times; an item that still fails, or fails otherwise, fails
    /// the read with its request, status and Graph's code named.
    pub(crate) async fn batch_get(&self, urls: &[String]) -> Result<Vec<BatchReply>, GraphError> {
        const ATTEMPTS: u32 = 5;
        if urls.len() > MAX_BATCH {
            return Err(GraphError::Read(format!(
                "internal: a $batch holds at most {MAX_BATCH} requests, not {}",
                urls.len()
            )));
        }
        let mut replies: Vec<Option<BatchReply>> = urls.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..urls.len()).collect();
        let mut attempt = 0u32;
        // The last transient failure of each item, to name if retries do not cure it.
        let mut last: Vec<Option<(u16, Value)>> = urls.iter().map(|_| None).collect();
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
                    .filter(|i| pending.contains(i))
                else {
                    continue;
                };
                let status = response
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                let body = response.get("body").cloned().unwrap_or(Value::Null);
                if matches!(status, 429 | 503 | 504) {
                    wait = wait.max(batch_retry_after(response).unwrap_or_else(|| {
                        std::time::Duration::from_millis(500 << attempt.min(6))
                    }));
                    last[index] = Some((status, body));
                    again.push(index);
                    continue;
                }
                // A success holding Graph's error is a failure too: never read as data.
                if !(200..300).contains(&status) || body.get("error").is_some_and(|e| !e.is_null())
                {
                    return Err(batch_failure(&urls[index], status, &body, attempt));
                }
                replies[index] = Some(BatchReply { status, body });
            }
            // Anything the batch did not answer is asked again too.
            for &i in &pending {
                if replies[i].is_none() && !again.contains(&i) {
                    again.push(i);
                }
            }
            if !again.is_empty() {
                attempt += 1;
                if attempt >= ATTEMPTS {
                    let i = again[0];
                    return Err(match &last[i] {
                        Some((status, body)) => batch_failure(&urls[i], *status, body, attempt),
                        None => GraphError::Read(format!(
                            "Microsoft Graph GET /v1.0{} (in a $batch): no answer after \
                             {attempt} tries",
                            path_of(&urls[i])
                        )),
                    });
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

/// The path of a relative Graph URL, for messages.
fn path_of(url: &str) -> &str {
    url.split('?').next().unwrap_or_default()
}

/// An item of a `$batch` that failed: its request, status and Graph's own code and message.
fn batch_failure(url: &str, status: u16, body: &Value, attempts: u32) -> GraphError {
    let (code, message) = crate::http::error_value(body);
    GraphError::Read(format!(
        "Microsoft Graph GET /v1.0{} (in a $batch): HTTP {status}{}: {}{}",
        path_of(url),
        code.map(|c| format!(" {c}")).unwrap_or_default(),
        message.unwrap_or_else(|| "no message".to_owned()),
        if attempts > 0 {
            format!(" (after {attempts} tries)")
        } else {
            String::new()
        }
    ))
}

/// A `$batch` item's own `Retry-After` header (seconds or an HTTP date).
fn batch_retry_after(response: &Value) -> Option<std::time::Duration> {
    let value = response
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v)?;
    match value {
        Value::String(text) => crate::http::retry_after_value(text, std::time::SystemTime::now()),
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(std::time::Duration::from_secs_f64),
        _ => None,
    }
}

/// An OData string literal: `'...'` with quotes doubled.
pub(crate) fn odata_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A page of a Graph collection: its next link (checked by `Graph::pages`) and its items.
#[derive(serde::Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
struct Page<T> {
    #[serde(default)]
    value: Items<T>,
    /// Graph's `{"code", "message"}`, should an answer of status 200 carry one.
    #[serde(default)]
    error: Value,
}

/// A page's `@odata.nextLink` alone, read before its items (`Graph::pages_of`): the rest of the
/// page is skipped over, not built.
#[derive(serde::Deserialize)]
struct NextLink {
    #[serde(rename = "@odata.nextLink", default)]
    next: Value,
}

/// The read error for an answer of success status that holds Graph's `error`: the request,
/// the status and Graph's code and message.
fn error_answer(
    what: &crate::http::Request,
    reply: &crate::http::Reply,
    error: &Value,
) -> GraphError {
    GraphError::Read(format!(
        "Microsoft Graph {} {}: HTTP {}, but the answer holds {}",
        what.method,
        what.path(),
        reply.status.as_u16(),
        graph_error(error)
    ))
}

/// Graph's error object (`{"code", "message"}`) as a message: `error CODE: MESSAGE`, for an
/// answer of status 200 that holds one (as a gateway may send): never read as data.
fn graph_error(error: &Value) -> String {
    let (code, message) = crate::http::error_value(&json!({ "error": error }));
    match (code, message) {
        (Some(code), Some(message)) => format!("Graph's error {code}: {message}"),
        (Some(text), None) | (None, Some(text)) => format!("Graph's error {text}"),
        (None, None) => format!(
            "Graph's error {}",
            crate::http::api_text(&error.to_string(), 300)
        ),
    }
}

/// A page's `value`: its items when it is an array; `None` when it is anything else (the page
/// is then malformed, and `pages` says so rather than serde's words).
struct Items<T>(Option<Vec<T>>);

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items(None)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Items<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = Items<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a page's items")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Items<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Items(Some(items)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Items<T>, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Items(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Items<T>, E> {
                Ok(Items(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Items<T>, E> {
                Ok(Items(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Items<T>, E> {
                Ok(Items(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Items<T>, E> {
                Ok(Items(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Items<T>, E> {
                Ok(Items(None))
            }
            fn visit_unit<E>(self) -> Result<Items<T>, E> {
                Ok(Items(None))
            }
        }
        deserializer.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// One item of a page of directory objects: an object, read as its properties by name (each
/// name interned, shared by every object read: `Fields`), or whatever else a malformed answer
/// put there, kept to be named in the error.
pub(crate) enum Item {
    Object(crate::sorted_map::Fields),
    Other(Value),
}

impl From<Value> for Item {
    /// An item of a page already read as JSON (a `$batch` answer's).
    fn from(value: Value) -> Item {
        match value {
            Value::Object(map) => Item::Object(crate::sorted_map::Fields::from_names(
                map.into_iter()
                    .map(|(name, value)| (name, crate::field_value::FieldValue::from(value))),
            )),
            other => Item::Other(other),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a directory object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Item, A::Error> {
                // A key given twice is refused at any depth (`onPremisesExtensionAttributes`'
                // too): which value Graph meant cannot be told.
                let object: crate::sorted_map::Fields =
                    serde::Deserialize::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Item::Object(object))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
                <Value as serde::Deserialize>::deserialize(SeqAccessDeserializer::new(seq))
                    .map(Item::Other)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Item, E> {
                Ok(Item::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Item, E> {
                Ok(Item::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Item, E> {
                Ok(Item::Other(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Item, E> {
                Ok(Item::Other(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Item, E> {
                Ok(Item::Other(Value::String(v.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Item, E> {
                Ok(Item::Other(Value::Null))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page read straight into items: objects as their properties, anything else kept to be
    /// named in the error; a `value` that is not an array, or none, is no items at all.
    #[test]
    fn a_page_reads_objects_as_items_and_keeps_what_else_it_holds() {
        let text = r#"{"@odata.context": "c", "value": [{"id": "u2", "mail": null}, 5, "x", null,
            [1], true], "@odata.nextLink": "https://g/v1.0/next"}"#;
        let page: Page<Item> = serde_json::from_str(text).unwrap();
        // The next link, after the items as Graph writes it, is read without them.
        let next: NextLink = serde_json::from_str(text).unwrap();
        assert_eq!(next.next, json!("https://g/v1.0/next"));
        let items = page.value.0.unwrap();
        assert!(matches!(&items[0], Item::Object(f)
                if f.get("id") == Some(&json!("u2").into()) && f.get("mail") == Some(&Value::Null.into())));
        // A property given twice is a decode error: which value the user has cannot be told.
        let Err(twice) = serde_json::from_str::<Page<Item>>(
            r#"{"value": [{"id": "u1", "mail": null, "id": "u2"}]}"#,
        ) else {
            panic!("a property given twice was read");
        };
        assert!(
            twice
                .to_string()
                .starts_with("the key \"id\" is given twice"),
            "{twice}"
        );
        // So is one given twice inside a property (helper-70).
        let Err(inside) = serde_json::from_str::<Page<Item>>(
            r#"{"value": [{"id": "u1", "onPremisesExtensionAttributes":
                {"extensionAttribute1": "A", "extensionAttribute1": "B"}}]}"#,
        ) else {
            panic!("a property given twice inside another was read");
        };
        assert!(
            inside
                .to_string()
                .starts_with("the key \"extensionAttribute1\" is given twice"),
            "{inside}"
        );
        let others: Vec<Value> = items[1..]
            .iter()
            .map(|item| match item {
                Item::Other(v) => v.clone(),
                Item::Object(_) => panic!("an object among the others"),
            })
            .collect();
        assert_eq!(
            others,
            [json!(5), json!("x"), Value::Null, json!([1]), json!(true)]
        );
        for value in ["\"x\"", "{\"a\": [1]}", "7", "-1.5", "null", "false"] {
            let text = format!(r#"{{"value": {value}, "@odata.nextLink": 7}}"#);
            let page: Page<Item> = serde_json::from_str(&text).unwrap();
            assert!(page.value.0.is_none(), "{value}");
            let next: NextLink = serde_json::from_str(&text).unwrap();
            assert_eq!(next.next, json!(7));
        }
        let page: Page<Item> = serde_json::from_str("{}").unwrap();
        let next: NextLink = serde_json::from_str("{}").unwrap();
        assert!(page.value.0.is_none() && next.next.is_null());
        // A page cut short is a decode error, never an empty page.
        assert!(serde_json::from_str::<Page<Item>>(r#"{"value": [{"id": "u1"}"#).is_err());
        // A `$batch` answer's items, already JSON, become the same items.
        assert!(
            matches!(Item::from(json!({"id": "u3"})), Item::Object(f) if f.get("id") == Some(&json!("u3").into()))
        );
        assert!(matches!(Item::from(json!(3)), Item::Other(v) if v == json!(3)));
    }

    #[test]
    fn quotes_odata_strings() {
        assert_eq!(odata_string("O'Brien"), "'O''Brien'");
    }
}
