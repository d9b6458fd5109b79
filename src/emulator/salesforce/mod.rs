//! The emulated Salesforce org: the OAuth token endpoint and the REST API roster uses, with
//! Salesforce's shapes, status codes and error bodies (see shared/reference/salesforce-api.md).

pub(crate) mod access;
mod bulk;
mod picklists;
mod query;
mod records;
pub(crate) mod user_object;

pub(crate) use bulk::Jobs;
pub(crate) use query::Row;
pub(crate) use records::manager_loop;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::http::{form, json_response, oauth_error, param, salesforce_error};
use super::{Api, Request, Shared};

/// The oldest REST API version a current org serves: versions 21.0–30.0 were retired in
/// Summer '25; retired versions answer REST 410 (salesforce-api.md §3.1, help 005321531 for
/// the next retirement, 31.0–40.0 in Summer '28).
const OLDEST_VERSION: u16 = 31;

/// The newest: Winter '26.
const NEWEST_VERSION: u16 = 65;

/// Salesforce's release name for an API version, as `GET /services/data/` labels it: three
/// releases a year, Winter '11 being 20.0 (`{"label":"Winter '11","url":"/services/data/v20.0",
/// "version":"20.0"}` in restforce's recorded `services_data_success_response.json`).
fn release_label(version: u16) -> String {
    let since = version - 20;
    let season = ["Winter", "Spring", "Summer"][usize::from(since % 3)];
    format!("{season} '{:02}", 11 + since / 3)
}

/// The most a request's URI and headers may hold together, in bytes: beyond it Salesforce
/// answers 414 URI Too Long, or 431 Request Header Fields Too Large when the headers make it
/// (help article 000386264; salesforce-api.md §3.2). Counted as sent: the request target and
/// each header's `name: value` line.
const REQUEST_HEAD_MAX: usize = 16_384;

/// 414 or 431 when the request's URI and headers pass `REQUEST_HEAD_MAX`. Refused at
/// Salesforce's edge, before the session is read; the body is a short text (assumed: the
/// help article names the statuses, not a body).
fn too_large(request: &Request) -> Option<Response> {
    let uri = request.path.len() + request.query.len() + usize::from(!request.query.is_empty());
    let headers: usize = request
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    if uri + headers <= REQUEST_HEAD_MAX {
        return None;
    }
    let status = if uri > headers {
        StatusCode::URI_TOO_LONG
    } else {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    };
    let reason = status.canonical_reason().unwrap_or_default();
    Some((status, reason).into_response())
}

pub(crate) fn handle(shared: &Shared, request: &Request) -> Response {
    if let Some(refused) = too_large(request) {
        return refused;
    }
    let path = request.path.trim_end_matches('/');
    if path == "/services/oauth2/token" && request.method == Method::POST {
        return token(shared, request);
    }
    if path == "/services/data" {
        let versions: Vec<Value> = (OLDEST_VERSION..=NEWEST_VERSION)
            .map(|v| json!({"label": release_label(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
            .collect();
        return json_response(StatusCode::OK, &Value::Array(versions));
    }
    match shared.session(&request.headers) {
        Some(session) if session.api == Api::Salesforce && !session.expired => {}
        _ => {
            return salesforce_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            );
        }
    }
    let (used, max) = {
        let mut state = shared.state();
        state.org.api_requests = state.org.api_requests.saturating_add(1);
        (state.org.api_requests, state.org.daily_limit)
    };
    if used > max {
        return salesforce_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        );
    }
    let Some(rest) = path.strip_prefix("/services/data/") else {
        return salesforce_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        );
    };
    let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
    // Versions are written `vNN.0`, as the versions list names them.
    let version = version.strip_prefix('v').unwrap_or("");
    let well_formed = version.split_once('.').is_some_and(|(major, minor)| {
        minor == "0"
            && !major.is_empty()
            && !major.starts_with('0')
            && major.bytes().all(|b| b.is_ascii_digit())
    });
    let mut response = match version
        .parse::<f64>()
        .ok()
        .filter(|_| well_formed)
        .ok_or(())
    {
        Ok(v) if (f64::from(OLDEST_VERSION)..=f64::from(NEWEST_VERSION)).contains(&v) => {
            route(shared, request, version, rest)
        }
        Ok(v) if v < f64::from(OLDEST_VERSION) => salesforce_error(
            StatusCode::GONE,
            "API_VERSION_GONE",
            "This API version is no longer supported",
        ),
        _ => salesforce_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    };
    if let Ok(value) = HeaderValue::from_str(&format!("api-usage={}/{max}", used.min(max))) {
        response.headers_mut().insert("sforce-limit-info", value);
    }
    response
}

fn route(shared: &Shared, request: &Request, version: &str, rest: &str) -> Response {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = &request.method;
    // The user the session runs as.
    let caller = shared
        .session(&request.headers)
        .and_then(|session| session.user_id);
    match (method.as_str(), segments.as_slice()) {
        ("GET", []) => json_response(
            StatusCode::OK,
            &json!({
                "sobjects": format!("/services/data/v{version}/sobjects"),
                "query": format!("/services/data/v{version}/query"),
                "queryAll": format!("/services/data/v{version}/queryAll"),
                "limits": format!("/services/data/v{version}/limits"),
                "composite": format!("/services/data/v{version}/composite"),
                "jobs": format!("/services/data/v{version}/jobs"),
                "identity": identity_url(shared, caller.as_deref()),
            }),
        ),
        ("GET", ["query" | "queryAll"]) => query::start(shared, request, version),
        ("GET", ["query" | "queryAll", locator]) => query::more(shared, version, locator),
        ("GET", ["limits"]) => {
            let state = shared.state();
            let max = state.org.daily_limit;
            let remaining = max.saturating_sub(state.org.api_requests);
            json_response(
                StatusCode::OK,
                &json!({"DailyApiRequests": {"Max": max, "Remaining": remaining}, "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000}}),
            )
        }
        ("GET", ["sobjects", object, "describe"]) => {
            records::describe(shared, object, caller.as_deref())
        }
        ("POST", ["sobjects", object]) => {
            records::create_one(shared, object, &request.body, caller.as_deref())
        }
        ("GET", ["sobjects", object, id]) => {
            records::get(shared, version, object, id, &request.query)
        }
        ("PATCH", ["sobjects", object, id]) => {
            records::update_one(shared, object, id, &request.body, caller.as_deref())
        }
        ("DELETE", ["sobjects", object, id]) => records::delete_one(shared, object, id),
        ("POST", ["composite", "sobjects"]) => {
            records::collection(shared, &request.body, true, caller.as_deref())
        }
        ("PATCH", ["composite", "sobjects"]) => {
            records::collection(shared, &request.body, false, caller.as_deref())
        }
        ("DELETE", ["composite", "sobjects"]) => records::delete_collection(shared, &request.query),
        (_, ["jobs", "ingest", rest @ ..]) => {
            bulk::route(shared, request, version, rest, caller.as_deref())
        }
        _ => salesforce_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    }
}

/// `POST /services/oauth2/token`: username-password (+ security token), client credentials,
/// and the JWT bearer grant.
fn token(shared: &Shared, request: &Request) -> Response {
    let form = form(&request.body);
    let grant = param(&form, "grant_type").unwrap_or_default();
    let username = match grant {
        "password" | "client_credentials" => secret_grant(shared, &form, grant),
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => jwt_bearer(shared, &form),
        _ => Err(("unsupported_grant_type", "grant type not supported")),
    };
    let username = match username {
        Ok(username) => username,
        Err((error, description)) => {
            return oauth_error(StatusCode::BAD_REQUEST, error, description);
        }
    };
    let (org_id, record) = {
        let state = shared.state();
        let record = state.org.user_by_username(&username).map(str::to_owned);
        (state.org.id.clone(), record)
    };
    let user_id = record.clone().unwrap_or_else(|| username.clone());
    let token = shared.issue_token(Api::Salesforce, record);
    let base = shared.base_url();
    // The identity URL names the org and the user's id, for every grant.
    let id = format!("{base}/id/{org_id}/{user_id}");
    let mut body = serde_json::Map::new();
    body.insert("access_token".into(), json!(token));
    body.insert("scope".into(), json!("api"));
    body.insert("instance_url".into(), json!(base));
    body.insert("id".into(), json!(id));
    body.insert("token_type".into(), json!("Bearer"));
    // Grants with a client secret also carry when the token was issued (milliseconds, as a
    // string) and a signature: base64 HMAC-SHA256 of `id` + `issued_at` keyed by the secret,
    // which lets a client check the answer. The JWT bearer answer has neither (help
    // `remoteaccess_oauth_jwt_flow.htm`; recorded responses in salesforce-api.md §4).
    let secret = shared.state().org.clients.iter().find_map(|c| {
        (Some(c.client_id.as_str()) == param(&form, "client_id"))
            .then(|| c.client_secret.clone())
            .flatten()
    });
    if let (Some(secret), false) = (secret, grant.starts_with("urn:")) {
        let issued_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            .to_string();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&key, format!("{id}{issued_at}").as_bytes());
        body.insert("issued_at".into(), json!(issued_at));
        body.insert(
            "signature".into(),
            json!(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                tag.as_ref()
            )),
        );
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

/// The identity URL of the session's user, `{base}/id/{org id}/{user id}` (what the token
/// response's `id` holds); jsforce's `identity()` reads it from the versioned resource list.
fn identity_url(shared: &Shared, user: Option<&str>) -> String {
    let org = shared.state().org.id.clone();
    format!(
        "{}/id/{org}/{}",
        shared.base_url(),
        user.unwrap_or_default()
    )
}

/// `GET /id/{org id}/{user id}`: the identity service. The token comes as a Bearer header or an
/// `oauth_token` query parameter; the answer has the fields of Salesforce's identity response
/// (salesforce-access.md §13). A bad token gets the plain-text `Bad_OAuth_Token` clients
/// expect (its 403 status is unconfirmed); an id of no user of this org, 404.
pub(crate) fn identity(shared: &Shared, request: &Request) -> Response {
    let query = super::http::url_pairs(&request.query);
    let by_query = param(&query, "oauth_token").map(|token| {
        let mut headers = axum::http::HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert("authorization", value);
        }
        headers
    });
    let session = shared.session(by_query.as_ref().unwrap_or(&request.headers));
    let Some(session) = session.filter(|s| s.api == Api::Salesforce && !s.expired) else {
        let mut response = Response::new(axum::body::Body::from("Bad_OAuth_Token"));
        *response.status_mut() = StatusCode::FORBIDDEN;
        return response;
    };
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let state = shared.state();
    let user = match segments.as_slice() {
        ["id", org, user] if super::ids::normalize(org).ok().as_deref() == Some(&state.org.id) => {
            super::ids::normalize(user)
                .ok()
                .and_then(|id| state.org.objects.get("User").and_then(|u| u.get(&id)))
        }
        _ => None,
    };
    let Some(user) = user else {
        return salesforce_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        );
    };
    let text = |key: &str| user.get(key).cloned().unwrap_or(Value::Null);
    let base = shared.base_url();
    let id = text("Id");
    let urls: serde_json::Map<String, Value> = [
        ("enterprise", "Soap/c/{version}/"),
        ("metadata", "Soap/m/{version}/"),
        ("partner", "Soap/u/{version}/"),
        ("rest", "data/v{version}/"),
        ("sobjects", "data/v{version}/sobjects/"),
        ("search", "data/v{version}/search/"),
        ("query", "data/v{version}/query/"),
        ("recent", "data/v{version}/recent/"),
        ("tooling_rest", "data/v{version}/tooling/"),
        ("profile", ""),
    ]
    .into_iter()
    .map(|(name, path)| {
        let url = if path.is_empty() {
            format!("{base}/{}", id.as_str().unwrap_or_default())
        } else {
            format!("{base}/services/{path}")
        };
        (name.to_owned(), json!(url))
    })
    .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "id": format!("{base}/id/{}/{}", state.org.id, id.as_str().unwrap_or_default()),
            // True only for the session's own user.
            "asserted_user": session.user_id.as_deref() == id.as_str(),
            "user_id": id,
            "organization_id": state.org.id,
            "username": text("Username"),
            "nick_name": text("CommunityNickname"),
            "display_name": format!(
                "{} {}",
                user.get("FirstName").and_then(Value::as_str).unwrap_or_default(),
                user.get("LastName").and_then(Value::as_str).unwrap_or_default()
            ).trim(),
            "email": text("Email"),
            "email_verified": true,
            "first_name": text("FirstName"),
            "last_name": text("LastName"),
            "timezone": text("TimeZoneSidKey"),
            "photos": {"picture": null, "thumbnail": null},
            "addr_street": null, "addr_city": null, "addr_state": null, "addr_country": null, "addr_zip": null,
            "mobile_phone": null,
            "mobile_phone_verified": false,
            "is_lightning_login_user": false,
            "status": {"created_date": null, "body": null},
            "urls": urls,
            "active": text("IsActive"),
            "user_type": "STANDARD",
            "language": text("LanguageLocaleKey"),
            "locale": text("LocaleSidKey"),
            "utcOffset": 0,
            "last_modified_date": text("LastModifiedDate"),
            "is_app_installed": true,
        }),
    )
}

/// An OAuth refusal: the `error` code and its description.
type Denied = (&'static str, &'static str);

/// Username-password (the security token appended to the password) and client credentials:
/// the connected app's secret, then the user it logs in as.
fn secret_grant(shared: &Shared, form: &[(String, String)], grant: &str) -> Result<String, Denied> {
    let state = shared.state();
    let client_id = param(form, "client_id").unwrap_or_default();
    let Some(client) = state.org.clients.iter().find(|c| c.client_id == client_id) else {
        return Err(("invalid_client_id", "client identifier invalid"));
    };
    if client.client_secret.is_none()
        || client.client_secret.as_deref() != param(form, "client_secret")
    {
        return Err(("invalid_client", "invalid client credentials"));
    }
    if grant == "client_credentials" {
        return client
            .run_as
            .clone()
            .ok_or(("invalid_grant", "no client credentials user enabled"));
    }
    let username = param(form, "username").unwrap_or_default();
    let password = param(form, "password").unwrap_or_default();
    let ok = state.org.api_users.iter().any(|u| {
        u.username.eq_ignore_ascii_case(username)
            && u.password.as_deref().is_some_and(|p| {
                password == format!("{p}{}", u.security_token.as_deref().unwrap_or_default())
            })
    });
    if ok {
        Ok(username.to_owned())
    } else {
        Err(("invalid_grant", "authentication failure"))
    }
}

/// The JWT bearer grant: an RS256 assertion whose `iss` is the connected app, `sub` the user
/// and `aud` the login URL, signed with the key of the app's certificate.
fn jwt_bearer(shared: &Shared, form: &[(String, String)]) -> Result<String, Denied> {
    let assertion = param(form, "assertion").unwrap_or_default();
    let invalid = || ("invalid_grant", "invalid assertion");
    let issuer = super::jwt::unverified_issuer(assertion).ok_or_else(invalid)?;
    let audiences = [
        "https://test.salesforce.com".to_owned(),
        "https://login.salesforce.com".to_owned(),
        shared.base_url(),
    ];
    let state = shared.state();
    let Some(client) = state.org.clients.iter().find(|c| c.client_id == issuer) else {
        return Err(("invalid_client_id", "client identifier invalid"));
    };
    let public_key = client.public_key.as_deref().ok_or_else(invalid)?;
    let claims = super::jwt::verify(assertion, public_key, &audiences, Some(&issuer), None)
        .map_err(|_| invalid())?;
    if state
        .org
        .api_users
        .iter()
        .any(|u| u.username.eq_ignore_ascii_case(&claims.sub))
    {
        Ok(claims.sub)
    } else {
        Err(("invalid_grant", "user hasn't approved this consumer"))
    }
}

/// The record as the API writes it, as JSON text: `attributes` first, then the fields in
/// `SELECT` order (all of them, by name, without `fields`). Written by hand because JSON maps
/// here sort their keys, and clients that read records positionally see Salesforce's order.
pub(crate) fn with_attributes(
    object: &str,
    version: &str,
    record: &serde_json::Map<String, Value>,
    fields: Option<&[String]>,
) -> Box<serde_json::value::RawValue> {
    let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
    let attributes =
        json!({"type": object, "url": format!("/services/data/v{version}/sobjects/{object}/{id}")});
    let mut out = format!("{{\"attributes\":{attributes}");
    let mut push = |name: &str, value: &Value| {
        out.push(',');
        out.push_str(&Value::String(name.to_owned()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    };
    match fields {
        Some(fields) => {
            for field in fields {
                match record.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)) {
                    Some((name, value)) => push(name, value),
                    None => push(field, &Value::Null),
                }
            }
        }
        None => record.iter().for_each(|(k, v)| push(k, v)),
    }
    out.push('}');
    // Valid JSON by construction; a failure here would be a bug, answered as null.
    serde_json::value::RawValue::from_string(out)
        .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned())
}
