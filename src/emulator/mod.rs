//! The local emulator of the Entra token endpoint, Microsoft Graph and the Salesforce REST API:
//! what `roster demo`, `roster emulate`, the tests and the benchmarks run against. One loopback
//! address serves all three, plus an admin API under `/_emulator/` for faults, latency and
//! request counts.

mod admin;
mod delta;
pub(crate) mod faults;
mod graph;
mod http;
mod ids;
mod jwt;
mod salesforce;
mod soql;
mod state;
pub(crate) mod synthetic;
#[cfg(test)]
mod tests;
mod world;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;

use crate::concurrent::lock;

pub(crate) use faults::Faults;
#[cfg(test)]
pub(crate) use state::AssignmentState;
pub(crate) use state::State;
pub(crate) use synthetic::{config as synthetic_config, world as synthetic_world};
pub(crate) use world::WorldFile;

/// Which API a session token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Graph,
    Salesforce,
}

#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) api: Api,
    pub(crate) expired: bool,
    /// The Salesforce user the session runs as (its 18-character id), for rules about the
    /// running user itself.
    pub(crate) user_id: Option<String>,
    /// The application permissions a Graph token carries (its `roles` claim).
    pub(crate) roles: Vec<String>,
}

/// Everything the routes share.
pub(crate) struct Shared {
    state: Mutex<State>,
    sessions: Mutex<HashMap<String, Session>>,
    pub(crate) faults: Mutex<Faults>,
    counts: Mutex<BTreeMap<String, u64>>,
    /// Requests being answered now and the most ever at once, per route.
    in_flight: Mutex<BTreeMap<String, InFlight>>,
    latency_ms: AtomicU64,
    /// Query results not yet fetched, by locator, with the page size.
    locators: Mutex<HashMap<String, (usize, Vec<salesforce::Row>)>>,
    next_token: AtomicU64,
    next_locator: AtomicU64,
    /// The base URL clients reach the emulator at, once bound.
    base_url: Mutex<String>,
    /// Bulk API 2.0 ingest jobs.
    jobs: Mutex<salesforce::Jobs>,
}

impl Shared {
    pub(crate) fn new(state: State) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(state),
            sessions: Mutex::new(HashMap::new()),
            faults: Mutex::new(Faults::default()),
            counts: Mutex::new(BTreeMap::new()),
            in_flight: Mutex::new(BTreeMap::new()),
            latency_ms: AtomicU64::new(0),
            locators: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            next_locator: AtomicU64::new(1),
            base_url: Mutex::new(String::new()),
            jobs: Mutex::new(salesforce::Jobs::default()),
        })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn base_url(&self) -> String {
        lock(&self.base_url).clone()
    }

    /// A fresh number for a query locator.
    pub(crate) fn next_locator(&self) -> u64 {
        self.next_locator.fetch_add(1, Ordering::Relaxed)
    }

    /// Issues a Salesforce session token running as `user_id`.
    pub(crate) fn issue_token(&self, api: Api, user_id: Option<String>) -> String {
        let n = self.next_token.fetch_add(1, Ordering::Relaxed);
        let token = match api {
            Api::Graph => format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.graph-{n:08}.emulator"),
            Api::Salesforce => format!("00D8c0000000001!AQ-emulator-{n:08}"),
        };
        self.remember(token.clone(), api, user_id, Vec::new());
        token
    }

    /// Issues a Graph access token for an application: JWT-shaped, as Entra's are, its payload
    /// carrying `aud`, `tid`, `appid` and the granted application permissions in `roles`
    /// (Microsoft identity platform, "Access token claims reference"). The signature part is
    /// not a signature: nothing but the emulator reads these tokens.
    pub(crate) fn issue_graph_token(
        &self,
        tenant: &str,
        client_id: &str,
        roles: Vec<String>,
    ) -> String {
        use base64::Engine as _;
        let n = self.next_token.fetch_add(1, Ordering::Relaxed);
        let part = |value: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        let token = format!(
            "{}.{}.emulator-{n:08}",
            part(serde_json::json!({"typ": "JWT", "alg": "none"})),
            part(serde_json::json!({
                "aud": "https://graph.microsoft.com",
                "iss": format!("https://sts.windows.net/{tenant}/"),
                "tid": tenant, "appid": client_id, "idtyp": "app", "roles": roles,
            })),
        );
        self.remember(token.clone(), Api::Graph, None, roles);
        token
    }

    fn remember(&self, token: String, api: Api, user_id: Option<String>, roles: Vec<String>) {
        lock(&self.sessions).insert(
            token,
            Session {
                api,
                expired: false,
                user_id,
                roles,
            },
        );
    }

    /// The session of an `Authorization: Bearer` header.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = headers.get("authorization")?.to_str().ok()?;
        // The scheme is case-insensitive (RFC 9110 §11.1).
        let (scheme, token) = value.split_once(' ')?;
        if !(scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("OAuth")) {
            return None;
        }
        lock(&self.sessions).get(token.trim()).cloned()
    }

    /// Marks every issued token of `api` expired, as if an hour had passed.
    pub(crate) fn expire_tokens(&self, api: Api) {
        for session in lock(&self.sessions).values_mut().filter(|s| s.api == api) {
            session.expired = true;
        }
    }

    fn count(&self, route: String) {
        *lock(&self.counts).entry(route).or_insert(0) += 1;
    }

    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.counts).clone()
    }

    /// The most requests of each route answered at once since the counts were last forgotten.
    pub(crate) fn peak_in_flight(&self) -> BTreeMap<String, u64> {
        lock(&self.in_flight)
            .iter()
            .map(|(route, gauge)| (route.clone(), gauge.peak))
            .collect()
    }

    /// Forgets the request counts and the in-flight peaks.
    pub(crate) fn forget_counts(&self) {
        lock(&self.counts).clear();
        lock(&self.in_flight).retain(|_, gauge| {
            gauge.peak = gauge.now;
            gauge.now > 0
        });
    }

    /// Counts a request of `route` in flight until the guard is dropped.
    fn begin(self: &Arc<Shared>, route: &str) -> Answering {
        let mut gauges = lock(&self.in_flight);
        let gauge = gauges.entry(route.to_owned()).or_default();
        gauge.now += 1;
        gauge.peak = gauge.peak.max(gauge.now);
        Answering {
            shared: Arc::clone(self),
            route: route.to_owned(),
        }
    }

    pub(crate) fn set_latency(&self, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
    }
}

/// One route's requests in flight.
#[derive(Default)]
struct InFlight {
    now: u64,
    peak: u64,
}

/// A request being answered; dropping it (answered, or the client gone) ends it.
struct Answering {
    shared: Arc<Shared>,
    route: String,
}

impl Drop for Answering {
    fn drop(&mut self) {
        if let Some(gauge) = lock(&self.shared.in_flight).get_mut(&self.route) {
            gauge.now = gauge.now.saturating_sub(1);
        }
    }
}

/// The largest request body the emulator reads (see `start`).
const MAX_BODY_BYTES: usize = 150 * 1024 * 1024 / 4 * 3;

/// A running emulator; dropping it does not stop it, `shutdown` does.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// Binds `addr` (use `127.0.0.1:0` for any free port) and serves `state` in the background.
pub(crate) async fn start(state: State, addr: &str) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shared = Shared::new(state);
    *lock(&shared.base_url) = format!("http://{addr}");
    let app = Router::new()
        .fallback(dispatch)
        // Salesforce's largest request body: a Bulk API 2.0 upload of 150 MB once base64-encoded
        // ("Upload Job Data"), about 112 MB as sent. Larger bodies are refused with 413.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::clone(&shared));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        shared,
        shutdown: Some(tx),
        task,
    })
}

/// One request, whichever API it is for.
async fn dispatch(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    if let Some(rest) = path.strip_prefix("/_emulator") {
        return admin::handle(&shared, &method, rest, &body);
    }
    let route = format!("{method} {}", route_pattern(&path));
    shared.count(route.clone());
    let _answering = shared.begin(&route);
    let latency = shared.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let request = Request {
        method,
        path,
        query,
        headers,
        body,
        route,
    };
    let lose = match faults::inject(&shared, &request) {
        Some(faults::Injected::Respond(response)) => return response,
        Some(faults::Injected::LoseResponse) => true,
        Some(faults::Injected::Delay(wait)) => {
            // A request Salesforce has received is carried out even if its client goes away
            // meanwhile: the work runs apart from the connection.
            let shared = Arc::clone(&shared);
            let work = tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                answer(&shared, &request).await
            });
            return work.await.unwrap_or_else(|_| {
                http::json_response(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    &serde_json::json!([{"errorCode": "UNKNOWN_EXCEPTION", "message": "emulator task failed"}]),
                )
            });
        }
        None => false,
    };
    let response = answer(&shared, &request).await;
    if lose {
        return faults::dropped();
    }
    response
}

async fn answer(shared: &Shared, request: &Request) -> Response {
    if request.path.starts_with("/services/") {
        return salesforce::handle(shared, request);
    }
    if request.path.starts_with("/id/") {
        return salesforce::identity(shared, request);
    }
    if request.method == Method::POST && request.path.trim_end_matches('/') == "/v1.0/$batch" {
        return graph::batch(shared, request).await;
    }
    if request.path.trim_end_matches('/') == "/_github/idtoken" {
        return graph::github_idtoken(shared, request);
    }
    graph::handle(shared, request)
}

/// A request as the API modules see it.
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// `METHOD /pattern` with ids replaced, for counting and fault matching.
    pub(crate) route: String,
}

/// The path with record ids, versions and locators replaced by placeholders, so counts group
/// by route: `/services/data/v62.0/sobjects/User/005...` → `/services/data/{v}/sobjects/User/{id}`.
pub(crate) fn route_pattern(path: &str) -> String {
    let raw: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let segments: Vec<String> = raw
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = *s;
            let after_data = i > 0 && (raw[i - 1] == "data" || raw[i - 1] == "oauth2");
            let looks_like_version = after_data
                && s.starts_with('v')
                && s.len() > 1
                && s[1..].replace('.', "").bytes().all(|b| b.is_ascii_digit());
            let looks_like_id = (s.len() == 15 || s.len() == 18)
                && s.bytes().all(|b| b.is_ascii_alphanumeric())
                && s.bytes().any(|b| b.is_ascii_digit());
            let looks_like_guid = s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4;
            let looks_like_locator = s.starts_with("01g") && s.contains('-');
            if looks_like_version {
                "{v}".to_owned()
            } else if looks_like_id || looks_like_guid || looks_like_locator || s.contains('@') {
                "{id}".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect();
    let joined = segments.join("/");
    if joined.is_empty() {
        "/".to_owned()
    } else {
        joined
    }
}

#[cfg(test)]
mod route_tests {
    use super::route_pattern;

    #[test]
    fn routes_group_by_pattern() {
        assert_eq!(
            route_pattern("/services/data/v62.0/sobjects/User/005M0000007whduIAA"),
            "/services/data/{v}/sobjects/User/{id}"
        );
        assert_eq!(
            route_pattern("/services/data/v62.0/query/"),
            "/services/data/{v}/query"
        );
        assert_eq!(
            route_pattern("/v1.0/users/jdoe@contoso.com"),
            "/v1.0/users/{id}"
        );
        assert_eq!(
            route_pattern(
                "/v1.0/servicePrincipals/1b5e2f3a-0000-4000-8000-000000000001/appRoleAssignedTo"
            ),
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo"
        );
    }
}
