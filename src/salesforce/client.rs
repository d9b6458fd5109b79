//! The Salesforce REST edge: OAuth login with the three flows (JWT bearer, client credentials,
//! username-password + security token), a session cached and renewed once on a 401, and SOQL
//! queries followed through `nextRecordsUrl` to the end.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::{Config, SecretError, TargetAuth};
use crate::http::{Body, Http, HttpError, Reply, TokenCache, encode};
use crate::model::ApiUsage;
use crate::progress::Task;

/// What can go wrong talking to Salesforce.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SalesforceError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Credential(String),
    #[error("cannot log in to Salesforce at {login_url} ({flow}): {error}")]
    Login {
        login_url: String,
        flow: &'static str,
        error: Box<HttpError>,
    },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{0}")]
    Read(String),
}

impl SalesforceError {
    /// Whether nothing of the request was carried out: Salesforce refused it as a whole
    /// (`HttpError::refused`), or it was never sent (no token, no secret). An answer lost or
    /// unreadable leaves that unknown.
    pub(crate) fn refused(&self) -> bool {
        match self {
            SalesforceError::Secret(_)
            | SalesforceError::Credential(_)
            | SalesforceError::Login { .. } => true,
            SalesforceError::Http(e) => e.refused(),
            SalesforceError::Read(_) => false,
        }
    }
}

/// A logged-in session: the token and the instance it is valid on.
pub(crate) struct Session {
    token: SecretString,
    pub(crate) instance_url: String,
    /// The User id roster runs as: the last segment of the token response's identity URL
    /// (`https://login.salesforce.com/id/<org id>/<user id>`; "OAuth 2.0 token response",
    /// `id`). roster never deactivates or freezes it: that would lock roster out.
    pub(crate) user_id: Option<String>,
}

enum Flow {
    JwtBearer {
        client_id: String,
        username: String,
        key: EncodingKey,
    },
    ClientCredentials {
        client_id: String,
        secret: SecretString,
    },
    Password {
        client_id: String,
        secret: SecretString,
        username: String,
        /// Password with the security token appended, as Salesforce wants it.
        password: SecretString,
    },
}

impl Flow {
    fn name(&self) -> &'static str {
        match self {
            Flow::JwtBearer { .. } => "JWT bearer flow",
            Flow::ClientCredentials { .. } => "client credentials flow",
            Flow::Password { .. } => "username-password flow",
        }
    }
}

/// An authenticated Salesforce REST client.
pub(crate) struct Salesforce {
    http: Http,
    login_url: String,
    pub(crate) api_version: String,
    flow: Flow,
    session: TokenCache<Session>,
    usage: Mutex<Option<ApiUsage>>,
}

impl Salesforce {
    /// Reads the secrets of `target.auth`; nothing is sent yet.
    pub(crate) fn connect(
        config: &Config,
        base: &Path,
        login_url: &str,
    ) -> Result<Salesforce, SalesforceError> {
        let flow = match &config.target.auth {
            TargetAuth::JwtBearer(jwt) => {
                let pem = jwt
                    .private_key
                    .resolve(base, "/target/auth/jwt_bearer/private_key")?;
                let key = crate::config::rsa_signing_key(pem.expose_secret()).map_err(|e| {
                    SalesforceError::Credential(format!(
                        "/target/auth/jwt_bearer/private_key is not a PEM RSA private key: {e}"
                    ))
                })?;
                Flow::JwtBearer {
                    client_id: jwt.client_id.clone(),
                    username: jwt.username.clone(),
                    key,
                }
            }
            TargetAuth::ClientCredentials(cc) => Flow::ClientCredentials {
                client_id: cc.client_id.clone(),
                secret: cc
                    .client_secret
                    .resolve(base, "/target/auth/client_credentials/client_secret")?,
            },
            TargetAuth::Password(p) => {
                let password = p.password.resolve(base, "/target/auth/password/password")?;
                let token = match &p.security_token {
                    Some(t) => Some(t.resolve(base, "/target/auth/password/security_token")?),
                    None => None,
                };
                Flow::Password {
                    client_id: p.client_id.clone(),
                    secret: p
                        .client_secret
                        .resolve(base, "/target/auth/password/client_secret")?,
                    username: p.username.clone(),
                    password: SecretString::from(format!(
                        "{}{}",
                        password.expose_secret(),
                        token
                            .as_ref()
                            .map(ExposeSecret::expose_secret)
                            .unwrap_or_default()
                    )),
                }
            }
        };
        Ok(Salesforce {
            http: Http::new("Salesforce")?,
            login_url: login_url.to_owned(),
            api_version: config.target.api_version.clone(),
            flow,
            session: TokenCache::default(),
            usage: Mutex::new(None),
        })
    }

    /// A warning about the credential, if Salesforce advises against it.
    pub(crate) fn credential_warning(&self) -> Option<String> {
        matches!(self.flow, Flow::Password { .. }).then(|| {
            "target.auth.password: Salesforce discourages the username-password flow and blocks \
             it in new orgs; prefer jwt_bearer (or client_credentials)"
                .to_owned()
        })
    }

    /// The API usage of the last response (`Sforce-Limit-Info`).
    pub(crate) fn usage(&self) -> Option<ApiUsage> {
        *crate::concurrent::lock(&self.usage)
    }

    pub(crate) async fn session(&self) -> Result<Arc<Session>, SalesforceError> {
        self.session.get(|| self.login()).await
    }

    async fn login(&self) -> Result<(Session, Option<Duration>), SalesforceError> {
        let url = format!("{}/services/oauth2/token", self.login_url);
        let failed = |source: HttpError| SalesforceError::Login {
            login_url: self.login_url.clone(),
            flow: self.flow.name(),
            error: Box::new(source),
        };
        let form: Vec<(&str, String)> = match &self.flow {
            Flow::JwtBearer {
                client_id,
                username,
                key,
            } => vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                ),
                ("assertion", self.assertion(client_id, username, key)?),
            ],
            Flow::ClientCredentials { client_id, secret } => vec![
                ("grant_type", "client_credentials".to_owned()),
                ("client_id", client_id.clone()),
                ("client_secret", secret.expose_secret().to_owned()),
            ],
            Flow::Password {
                client_id,
                secret,
                username,
                password,
            } => vec![
                ("grant_type", "password".to_owned()),
                ("client_id", client_id.clone()),
                ("client_secret", secret.expose_secret().to_owned()),
                ("username", username.clone()),
                ("password", password.expose_secret().to_owned()),
            ],
        };
        let what = self.http.request(Method::POST, &url).map_err(failed)?;
        let failed = |source: HttpError| failed(source.without_credentials(&form));
        let reply = self
            .http
            .send(&what, |client| client.post(&url).form(&form))
            .await
            .map_err(failed)?;
        let body = reply.json(&what).map_err(failed)?;
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(token), Some(instance_url)) = (text("access_token"), text("instance_url")) else {
            return Err(SalesforceError::Read(
                "the Salesforce token response lacks access_token or instance_url".to_owned(),
            ));
        };
        let instance_url = instance_url.trim_end_matches('/').to_owned();
        crate::url_rules::check_url(&instance_url).map_err(|e| {
            SalesforceError::Read(format!("Salesforce's instance_url is not usable: {e}"))
        })?;
        tracing::debug!(target: "roster::salesforce", "logged in; instance {instance_url}");
        // The identity URL's last segment, in its canonical form: the user roster signs in as,
        // whom every plan protects.
        let user_id = text("id")
            .and_then(|id| id.rsplit('/').next().map(str::to_owned))
            .and_then(|id| super::record_id("id", id, &[super::USER_IDS]).ok());
        Ok((
            Session {
                token: SecretString::from(token),
                instance_url,
                user_id,
            },
            None,
        ))
    }

    /// The JWT bearer assertion: RS256, `iss` = the connected app, `sub` = the user, `aud` =
    /// the login URL, valid three minutes.
    fn assertion(
        &self,
        client_id: &str,
        username: &str,
        key: &EncodingKey,
    ) -> Result<String, SalesforceError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = serde_json::json!({
            "iss": client_id, "sub": username, "aud": self.login_url, "exp": now + 180,
        });
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key).map_err(|e| {
            SalesforceError::Credential(format!("cannot sign the Salesforce JWT assertion: {e}"))
        })
    }

    /// `/services/data/v{version}/{path}` on the session's instance.
    fn data_url(&self, session: &Session, path: &str) -> String {
        format!(
            "{}/services/data/v{}/{}",
            session.instance_url,
            self.api_version,
            path.trim_start_matches('/')
        )
    }

    /// Sends an authenticated request to `url_of(session)`; one new login and retry on a 401.
    pub(crate) async fn send(
        &self,
        method: Method,
        url_of: impl Fn(&Session) -> String,
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, SalesforceError> {
        let (reply, _) = self
            .http
            .send_authorized(
                &self.session,
                || self.login(),
                |session: &Session| &session.token,
                &method,
                url_of,
                body,
                headers,
            )
            .await?;
        self.note_usage(&reply);
        Ok(reply)
    }

    /// A request to `/services/data/v{version}/{path}`; its JSON answer (`null` when empty).
    pub(crate) async fn data(
        &self,
        method: Method,
        path: &str,
        body: Option<Body<'_>>,
    ) -> Result<Value, SalesforceError> {
        let reply = self.data_reply(method.clone(), path, body).await?;
        if reply.body.is_empty() {
            return Ok(Value::Null);
        }
        let what =
            crate::http::Request::new("Salesforce", method, format!("/services/data/{path}"));
        Ok(reply.json(&what)?)
    }

    /// A request to `/services/data/v{version}/{path}`; the raw reply (CSV results).
    pub(crate) async fn data_reply(
        &self,
        method: Method,
        path: &str,
        body: Option<Body<'_>>,
    ) -> Result<Reply, SalesforceError> {
        self.send(method, |session| self.data_url(session, path), body, &[])
            .await
    }

    fn note_usage(&self, reply: &Reply) {
        let Some(info) = reply
            .headers
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let usage = info.split(';').find_map(|part| {
            let (used, max) = part.trim().strip_prefix("api-usage=")?.split_once('/')?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                max: max.trim().parse().ok()?,
            })
        });
        if usage.is_some() {
            *crate::concurrent::lock(&self.usage) = usage;
        }
    }

    /// Every row of a SOQL query (`query_pages`), in one list.
    pub(crate) async fn query(
        &self,
        soql: &str,
        task: Option<&Task>,
    ) -> Result<Vec<Value>, SalesforceError> {
        let mut rows = Vec::new();
        self.query_pages(soql, task, |page| {
            rows.extend(page);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Every row of a SOQL query, page by page (2,000 rows a page, the most Salesforce gives),
    /// following `nextRecordsUrl` to the end, each page's rows given to `each_page` as it
    /// arrives (a caller that keeps less than the rows holds one page of them at a time, not
    /// every one: 100,000 User rows as JSON maps were some 200 MiB). Each page is checked for
    /// its shape: `records` an array of objects, `done` a boolean, `nextRecordsUrl` a path
    /// whenever `done` is false, and in the end as many rows as the first page's `totalSize`
    /// promised. Anything else fails the read with the query named: a read error is never taken
    /// for "no rows".
    ///
    /// # Errors
    /// A failed request, an answer of another shape, or `each_page`'s error.
    pub(crate) async fn query_pages(
        &self,
        soql: &str,
        task: Option<&Task>,
        mut each_page: impl FnMut(Vec<Value>) -> Result<(), SalesforceError>,
    ) -> Result<(), SalesforceError> {
        let mut rows = 0usize;
        let mut total: Option<u64> = None;
        let mut seen = std::collections::HashSet::new();
        let first = format!("query?q={}", encode(soql));
        let unexpected = |detail: String| {
            SalesforceError::Read(format!(
                "Salesforce query `{soql}`: the answer is not what roster expects: {detail}"
            ))
        };
        let what = crate::http::Request::new("Salesforce", Method::GET, "/services/data/query");
        // The next page (a `nextRecordsUrl` path), or the first.
        let first = &first;
        let ask = |next: Option<String>| async move {
            self.send(
                Method::GET,
                |session| match &next {
                    Some(path) => format!("{}{path}", session.instance_url),
                    None => self.data_url(session, first),
                },
                None,
                &[("Sforce-Query-Options", "batchSize=2000")],
            )
            .await
        };
        let mut answer = ask(None).await;
        loop {
            let reply = answer?;
            let early = read_ahead(&reply, &what, &seen, &self.api_version);
            let (page, next_answer) = match early {
                None => (reply.json(&what), None),
                Some(path) => {
                    let (body, asked) = (reply.body.clone(), what.clone());
                    let (page, next_answer) = tokio::join!(
                        tokio::task::spawn_blocking(move || Reply::decode_json(&body, &asked)),
                        ask(Some(path.clone()))
                    );
                    let page = match page {
                        Ok(page) => page,
                        // A panic while reading is a bug: it surfaces as the panic it is.
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(e) => return Err(unexpected(format!("a page's read stopped: {e}"))),
                    };
                    (page, Some((path, next_answer)))
                }
            };
            let mut page = page?;
            let size = total_size(&page).map_err(unexpected)?;
            match total {
                None => {
                    total = Some(size);
                    if let Some(task) = task {
                        task.set_total(size);
                    }
                }
                // Every page of a query answers the query's whole count.
                Some(first) if first != size => {
                    return Err(unexpected(format!(
                        "totalSize is {first} on the first page and {size} on a later one"
                    )));
                }
                Some(_) => {}
            }
            let Some(Value::Array(records)) = page.get_mut("records").map(Value::take) else {
                return Err(unexpected("a page has no `records` array".to_owned()));
            };
            if let Some(bad) = records.iter().find(|r| !r.is_object()) {
                return Err(unexpected(format!("a record is {bad}, not an object")));
            }
            if let Some(task) = task {
                task.add(records.len() as u64);
            }
            let Some(done) = page.get("done").and_then(Value::as_bool) else {
                return Err(unexpected("a page has no `done`".to_owned()));
            };
            // The page's shape first, then its rows.
            let next = next_page(
                &page,
                done,
                !records.is_empty(),
                &mut seen,
                &self.api_version,
            )
            .map_err(unexpected)?;
            rows += records.len();
            let promised = total.unwrap_or(size);
            if rows as u64 > promised || (done && rows as u64 != promised) {
                return Err(unexpected(format!(
                    "totalSize is {promised}, but {rows} records arrived"
                )));
            }
            each_page(records)?;
            let Some(next) = next else {
                return Ok(());
            };
            answer = match next_answer {
                Some((asked, next_answer)) if asked == next => next_answer,
                _ => ask(Some(next)).await,
            };
        }
    }
}

/// A query page's `totalSize`, the query's whole count of rows; else what it is instead.
fn total_size(page: &Value) -> Result<u64, String> {
    let Some(size) = page.get("totalSize") else {
        return Err("a page has no `totalSize`".to_owned());
    };
    size.as_u64().ok_or_else(|| {
        let shown = match size {
            Value::Number(number) => number.to_string(),
            Value::String(_) => "a string".to_owned(),
            other => crate::render::quoted(&other.to_string()),
        };
        format!("`totalSize` is {shown}, not a count of records")
    })
}

/// The longest query locator followed: an 18-character `01g` id, a hyphen and an offset are
/// some 30 characters; a megabyte of them is no locator (and a URL the client refuses).
const LOCATOR_MAX: usize = 64;

/// Where a query page leads: nowhere when it is the last (`done`), else its `nextRecordsUrl`,
/// a query-more path (`is_query_more`) not `seen` before (a locator that comes round again
/// would page forever), the page holding records (one before the last without any would leave
/// the locator's offset where it was: a chain of them pages without end).
///
/// # Errors
/// Which of those the page is not.
fn next_page(
    page: &Value,
    done: bool,
    has_records: bool,
    seen: &mut std::collections::HashSet<String>,
    api_version: &str,
) -> Result<Option<String>, String> {
    if done {
        return Ok(None);
    }
    let Some(path) = page.get("nextRecordsUrl").and_then(Value::as_str) else {
        return Err("`done` is false, but there is no `nextRecordsUrl`".to_owned());
    };
    if !seen.insert(path.to_owned()) {
        return Err(format!(
            "nextRecordsUrl {} leads back to a page already read",
            crate::render::quoted(path)
        ));
    }
    if !is_query_more(path, api_version) {
        return Err(format!(
            "nextRecordsUrl {} is not a query-more path of API version {api_version} \
             (/services/data/v{api_version}/query/ and a locator)",
            crate::render::quoted(path),
        ));
    }
    if !has_records {
        return Err("a page before the last has no records".to_owned());
    }
    Ok(Some(path.to_owned()))
}

/// Whether `path`, a page's `nextRecordsUrl`, is what Salesforce gives: the query-more path of
/// the API version asked, `/services/data/v62.0/query/01gRO0000016PIAYA2-500`, its locator
/// letters, digits and hyphens (REST API Developer Guide, "Query": the path is relative, the
/// locator `<01g id>-<offset>`). Anything else — another host (`//elsewhere/…`), another
/// resource of the instance, which would be sent the session's token, a path with `..` or a
/// query — is not followed.
fn is_query_more(path: &str, api_version: &str) -> bool {
    path.strip_prefix("/services/data/v")
        .and_then(|rest| rest.strip_prefix(api_version))
        .and_then(|rest| rest.strip_prefix("/query/"))
        .is_some_and(|locator| {
            // `01gRO0000016PIAYA2-500`: an 18-character id and an offset.
            (1..=LOCATOR_MAX).contains(&locator.len())
                && locator
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The next page of a query whose page `reply` goes on, skimmed before the page's rows are read:
/// asked for while those are read on a blocking thread (`Salesforce::query`), as
/// `Graph::pages_of` asks for Graph's. Reading a page of 2,000 rows took some 7 ms, which each
/// request of the chain waited for. What the skim finds only decides whether to ask early: the
/// page read whole is checked as before. `None` when the page ends the query or names no path
/// not `seen` yet.
fn read_ahead(
    reply: &Reply,
    what: &crate::http::Request,
    seen: &std::collections::HashSet<String>,
    api_version: &str,
) -> Option<String> {
    reply
        .json_as::<PageHead>(what)
        .ok()
        .filter(|head| head.done == Value::Bool(false))
        .and_then(|head| match head.next {
            Value::String(path) if is_query_more(&path, api_version) && !seen.contains(&path) => {
                Some(path)
            }
            _ => None,
        })
}

/// A query page's `done` and `nextRecordsUrl` alone, read before its rows
/// (`Salesforce::query`): the `records` are skipped over, not built.
#[derive(serde::Deserialize)]
struct PageHead {
    #[serde(default)]
    done: Value,
    #[serde(rename = "nextRecordsUrl", default)]
    next: Value,
}
