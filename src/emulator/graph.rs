//! The emulated Entra token endpoint and the Microsoft Graph v1.0 resources roster reads:
//! service principals, their app role assignments, group members and users, with `$select`,
//! the `$filter` forms roster uses, `$top` (1..=999) and opaque `$skiptoken` paging.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse as _, Response};
use serde_json::{Map, Value, json};

use super::http::{
    form, graph_error, json_response, oauth_error, param, percent_decode, url_pairs,
};
use super::jwt;
use super::state::{EntraUser, State};
use super::{Api, Request, Shared};
use crate::graph::attributes::{COLLECTION_PROPERTIES, USER_PROPERTIES};

/// Graph's page size when `$top` is not given.
const DEFAULT_PAGE: usize = 100;
/// What `GET /users` returns without `$select`.
const DEFAULT_USER_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

#[allow(
    clippy::too_many_lines,
    reason = "the route table reads best in one match"
)]
pub(crate) fn handle(shared: &Shared, request: &Request) -> Response {
    let path = request.path.trim_end_matches('/');
    if let Some(tenant) = path
        .strip_suffix("/oauth2/v2.0/token")
        .map(|t| t.trim_start_matches('/'))
        && request.method == Method::POST
    {
        return token(shared, tenant, &request.body);
    }
    let Some(rest) = path.strip_prefix("/v1.0/") else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!("Resource not found for the segment '{path}'."),
        );
    };
    match shared.session(&request.headers) {
        Some(s) if s.api == Api::Graph && !s.expired => {
            if let Err(response) = permitted(&s.roles, &request.method, rest) {
                return *response;
            }
        }
        Some(s) if s.api == Api::Graph => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            );
        }
        _ => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
            );
        }
    }
    if request.method == Method::PATCH
        && let ["servicePrincipals", id] = rest.split('/').collect::<Vec<_>>().as_slice()
    {
        return patch_service_principal(shared, &percent_decode(id), &request.body);
    }
    if request.method != Method::GET {
        return graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "The emulator serves Graph reads only.",
        );
    }
    let params = url_pairs(&request.query);
    let top = match param(&params, "$top").map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=999).contains(&n) => n,
        Some(_) => {
            let given = param(&params, "$top").unwrap_or_default();
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                &format!(
                    "Invalid page size specified: '{given}'. Must be between 1 and 999 inclusive."
                ),
            );
        }
    };
    let select: Option<Vec<String>> = param(&params, "$select").map(|s| {
        s.split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    });
    let filter = param(&params, "$filter").map(str::to_owned);
    let skip = param(&params, "$skiptoken").map(decode_skiptoken);
    if let Some(None) = skip {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "Invalid $skiptoken.",
        );
    }
    let skip = skip.flatten().unwrap_or(0);
    let segments: Vec<&str> = rest.split('/').collect();
    let state = shared.state();
    if let Some(unknown) = unknown_selected(&state, &segments, select.as_deref()) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            &format!(
                "Could not find a property named '{unknown}' on type 'Microsoft.DirectoryServices.User'."
            ),
        );
    }
    let base = shared.base_url();
    let collection = |context: &str, items: Result<Vec<Value>, String>| -> Response {
        match items {
            Ok(items) => page(&base, request, context, &items, skip, top, Value::clone),
            Err(message) => graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &message,
            ),
        }
    };
    match segments.as_slice() {
        ["servicePrincipals"] => collection(
            "servicePrincipals",
            service_principals(&state, filter.as_deref()),
        ),
        [alternate] if alternate.starts_with("servicePrincipals(appId=") => {
            // The alternate key: servicePrincipals(appId='...').
            let app_id = percent_decode(alternate)
                .trim_start_matches("servicePrincipals(appId=")
                .trim_end_matches(')')
                .trim_matches('\'')
                .to_owned();
            match state.entra.applications.iter().find(|a| a.app_id == app_id) {
                Some(app) => json_response(
                    StatusCode::OK,
                    &with_context(&base, "servicePrincipals/$entity", sp_json(app)),
                ),
                None => not_found(&app_id),
            }
        }
        ["servicePrincipals", id] => match service_principal(&state, &percent_decode(id)) {
            Some(sp) => json_response(
                StatusCode::OK,
                &with_context(&base, "servicePrincipals/$entity", sp),
            ),
            None => not_found(id),
        },
        ["servicePrincipals", id, "synchronization", rest @ ..] => {
            let Some(app) = state
                .entra
                .applications
                .iter()
                .find(|a| a.service_principal_id == *id)
            else {
                return not_found(id);
            };
            synchronization(&base, id, app.provisioning.as_ref(), rest)
        }
        ["servicePrincipals", id, "appRoleAssignedTo"] => {
            if service_principal(&state, id).is_none() {
                return not_found(id);
            }
            let items = state.entra.assignments.iter().filter(|a| a.resource_id == *id).map(|a| json!({
                "id": a.id, "deletedDateTime": null, "appRoleId": a.app_role_id, "createdDateTime": "2026-01-01T00:00:00Z",
                "principalDisplayName": a.principal_display_name, "principalId": a.principal_id, "principalType": a.principal_type,
                "resourceDisplayName": a.resource_display_name, "resourceId": a.resource_id,
            })).collect();
            collection(
                &format!("servicePrincipals('{id}')/appRoleAssignedTo"),
                Ok(items),
            )
        }
        [
            "groups",
            id,
            relation @ ("members" | "transitiveMembers"),
            rest @ ..,
        ] => {
            let cast = match rest {
                [] => None,
                // The SDKs send the `graph.` alias of the cast segment.
                ["microsoft.graph.user" | "graph.user"] => Some("#microsoft.graph.user"),
                ["microsoft.graph.group" | "graph.group"] => Some("#microsoft.graph.group"),
                _ => return not_found(rest.join("/").as_str()),
            };
            let Some(group) = state.entra.group(id) else {
                return not_found(id);
            };
            // Only this page's members (and one more, to know whether a next page exists) are
            // looked up and projected, from the place in the member list the `$skiptoken` holds
            // (opaque to clients, as Graph's is): a page of a 250,000-member group costs its own
            // size, not the members before it (counting past them, each looked up, made the last
            // pages of a million-user tenant's groups take 180 ms each).
            let mut window: Vec<Result<&EntraUser, Value>> = Vec::with_capacity(top + 1);
            let mut next = skip;
            // Member `at` of the list onto the page, if it is of the cast; whether the page (and
            // the one more) is full.
            let mut take = |at: usize, member: &str| {
                let item = if let Some(user) = state.entra.user(member) {
                    cast.is_none_or(|c| c == "#microsoft.graph.user")
                        .then_some(Ok(user))
                } else {
                    state.entra.group(member).filter(|_| {
                        cast.is_none_or(|c| c == "#microsoft.graph.group")
                    }).map(|g| Err(json!({"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.display_name})))
                };
                if let Some(item) = item {
                    window.push(item);
                    if window.len() > top {
                        return true;
                    }
                    next = at + 1;
                }
                false
            };
            let direct = group.members.as_slice();
            let mut full = false;
            for (at, member) in direct.iter().enumerate().skip(skip) {
                if take(at, member) {
                    full = true;
                    break;
                }
            }
            // transitiveMembers lists, after the direct members, those of nested groups (each
            // member once): walked only by a page that reaches past the direct members.
            if !full && *relation == "transitiveMembers" {
                let mut queue = direct.to_vec();
                let mut seen: std::collections::HashSet<String> = queue.iter().cloned().collect();
                let mut i = 0;
                while i < queue.len() {
                    if let Some(nested) = state.entra.group(&queue[i]) {
                        for m in &nested.members {
                            if seen.insert(m.clone()) {
                                queue.push(m.clone());
                            }
                        }
                    }
                    i += 1;
                }
                for (at, member) in queue.iter().enumerate().skip(skip.max(direct.len())) {
                    if take(at, member) {
                        break;
                    }
                }
            }
            page_at(
                &base,
                request,
                "directoryObjects",
                &window,
                next,
                top,
                |item| match item {
                    Ok(user) => {
                        let mut v = project_user(user, select.as_deref());
                        if let Value::Object(m) = &mut v {
                            m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
                        }
                        v
                    }
                    Err(group) => group.clone(),
                },
            )
        }
        [
            "users" | "groups",
            "delta" | "delta()" | "microsoft.graph.delta()",
        ] => super::delta::handle(
            &base,
            request,
            &state,
            segments[0] == "users",
            select.as_deref(),
            skip,
        ),
        ["users", "$count" | "%24count"] => {
            let eventual = request
                .headers
                .get("consistencylevel")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
            if !eventual {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_BadRequest",
                    "$count is not currently supported.",
                );
            }
            let mut response =
                Response::new(axum::body::Body::from(state.entra.users.len().to_string()));
            response.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("text/plain"),
            );
            response
        }
        ["groups"] => {
            let clauses = match filter.as_deref().map(parse_filter) {
                Some(Err(message)) => {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_UnsupportedQuery",
                        &message,
                    );
                }
                Some(Ok(clauses)) => clauses,
                None => Vec::new(),
            };
            let items = state
                .entra
                .groups
                .iter()
                .map(|g| json!({"id": g.id, "displayName": g.display_name}))
                .filter(|g| {
                    g.as_object()
                        .is_some_and(|g| clauses.iter().all(|c| c.matches(g)))
                })
                .collect();
            collection("groups", Ok(items))
        }
        ["groups", id] => match state.entra.groups.iter().find(|g| g.id == *id) {
            Some(g) => json_response(
                StatusCode::OK,
                &with_context(
                    &base,
                    "groups/$entity",
                    json!({"id": g.id, "displayName": g.display_name}),
                ),
            ),
            None => not_found(id),
        },
        ["users"] => match users(&state, filter.as_deref()) {
            // Only the page is projected: listings of 100,000 users stay linear.
            Ok(found) => page(&base, request, "users", &found, skip, top, |u| {
                project_user(u, select.as_deref())
            }),
            Err(message) => graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &message,
            ),
        },
        // A user's groups: direct (memberOf), or through nested groups too
        // (transitiveMemberOf); and the applications the user is assigned to directly.
        [
            "users",
            id,
            relation @ ("memberOf" | "transitiveMemberOf" | "appRoleAssignments"),
        ] => {
            let Some(user) = state.entra.user(&percent_decode(id)) else {
                return not_found(id);
            };
            let user_id = user["id"].as_str().unwrap_or_default().to_owned();
            if *relation == "appRoleAssignments" {
                let items = state.entra.assignments.iter().filter(|a| a.principal_id == user_id).map(|a| json!({
                    "id": a.id, "deletedDateTime": null, "appRoleId": a.app_role_id, "createdDateTime": "2026-01-01T00:00:00Z",
                    "principalDisplayName": a.principal_display_name, "principalId": a.principal_id, "principalType": a.principal_type,
                    "resourceDisplayName": a.resource_display_name, "resourceId": a.resource_id,
                })).collect();
                return collection(&format!("users('{user_id}')/appRoleAssignments"), Ok(items));
            }
            let mut holders: Vec<String> = vec![user_id.clone()];
            let mut groups: Vec<&super::state::GroupState> = Vec::new();
            let mut i = 0;
            while i < holders.len() {
                for group in &state.entra.groups {
                    if group.members.contains(&holders[i])
                        && !groups.iter().any(|g| g.id == group.id)
                    {
                        groups.push(group);
                        if *relation == "transitiveMemberOf" {
                            holders.push(group.id.clone());
                        }
                    }
                }
                i += 1;
            }
            let items: Vec<Value> = groups
                .iter()
                .map(|g| json!({"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.display_name}))
                .collect();
            collection(&format!("users('{user_id}')/{relation}"), Ok(items))
        }
        ["users", id] => match state.entra.user(&percent_decode(id)) {
            Some(user) => json_response(
                StatusCode::OK,
                &with_context(
                    &base,
                    "users/$entity",
                    project_user(user, select.as_deref()),
                ),
            ),
            None => not_found(id),
        },
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                segments.first().unwrap_or(&"")
            ),
        ),
    }
}

fn not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn with_context(base: &str, context: &str, mut value: Value) -> Value {
    if let Value::Object(m) = &mut value {
        m.insert(
            "@odata.context".into(),
            json!(format!("{base}/v1.0/$metadata#{context}")),
        );
    }
    value
}

fn service_principal(state: &State, id: &str) -> Option<Value> {
    state
        .entra
        .applications
        .iter()
        .find(|a| a.service_principal_id == id)
        .map(sp_json)
}

/// The application permissions that allow reading a path (least privileged first), per
/// Microsoft Graph's permission tables: `servicePrincipals` (and `appRoleAssignedTo`) need
/// Application.Read.All, a job and its schema and secrets Synchronization.Read.All (or
/// Application.ReadWrite.OwnedBy), `users` User.Read.All, group members GroupMember.Read.All;
/// the Directory.* permissions cover all but synchronization.
fn needed_roles(path: &str) -> &'static [&'static str] {
    let first = path.split(['/', '(', '?']).next().unwrap_or_default();
    match first {
        "servicePrincipals" if path.contains("/synchronization") => &[
            "Synchronization.Read.All",
            "Synchronization.ReadWrite.All",
            "Application.ReadWrite.OwnedBy",
        ],
        "servicePrincipals" => &[
            "Application.Read.All",
            "Application.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        "users" => &[
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        "groups" => &[
            "GroupMember.Read.All",
            "Group.Read.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        _ => &[],
    }
}

/// Graph's answer to a token without a permission the path needs: 403
/// `Authorization_RequestDenied`, "Insufficient privileges to complete the operation."
fn permitted(roles: &[String], method: &Method, path: &str) -> Result<(), Box<Response>> {
    // Writing a service principal (its app roles): Microsoft Graph "Update servicePrincipal".
    const WRITE: &[&str] = &[
        "Application.ReadWrite.OwnedBy",
        "Application.ReadWrite.All",
        "Directory.ReadWrite.All",
    ];
    let needed = if *method == Method::GET {
        needed_roles(path)
    } else {
        WRITE
    };
    if needed.is_empty() || needed.iter().any(|n| roles.iter().any(|r| r == n)) {
        return Ok(());
    }
    Err(Box::new(graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )))
}

/// `PATCH /servicePrincipals/{id}` with `appRoles`: the whole collection replaced, as Graph
/// does, with its refusals — a role removed or its `value` changed while it is enabled is 400
/// `CannotDeleteOrUpdateEnabledEntitlement` ("Permission (scope or role) cannot be deleted or
/// updated unless disabled first."); a role without an id, a display name, `isEnabled` or a
/// member type, a value over 120 characters or with a space, or two roles with one id or value
/// is 400 `Request_BadRequest`. Removing a disabled role deletes its assignments. 204 on success.
/// (Error texts: Microsoft Graph's own for the first; the others' wording is not documented.)
fn patch_service_principal(shared: &Shared, id: &str, body: &[u8]) -> Response {
    let bad = |message: &str| graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", message);
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return bad(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        );
    };
    let mut state = shared.state();
    let Some(app) = state
        .entra
        .applications
        .iter()
        .position(|a| a.service_principal_id == id)
    else {
        return not_found(id);
    };
    let Some(roles) = body.get("appRoles") else {
        // Nothing the emulator models is being changed.
        return StatusCode::NO_CONTENT.into_response();
    };
    let Some(roles) = roles.as_array() else {
        return bad(
            "Invalid value specified for property 'appRoles' of resource 'ServicePrincipal'.",
        );
    };
    let mut new = Vec::new();
    for role in roles {
        let text = |key: &str| role.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(role_id), Some(display_name), Some(is_enabled)) = (
            text("id").filter(|i| is_guid(i)),
            text("displayName").filter(|d| !d.trim().is_empty()),
            role.get("isEnabled").and_then(Value::as_bool),
        ) else {
            return bad("An app role needs an id (a GUID), a displayName and isEnabled.");
        };
        let members = role.get("allowedMemberTypes").and_then(Value::as_array);
        if !members.is_some_and(|m| {
            !m.is_empty()
                && m.iter()
                    .all(|t| matches!(t.as_str(), Some("User" | "Application")))
        }) {
            return bad(
                "Invalid value specified for property 'allowedMemberTypes' of resource 'AppRole'.",
            );
        }
        let value = text("value");
        if value
            .as_deref()
            .is_some_and(|v| v.len() > 120 || v.contains(char::is_whitespace))
        {
            return bad("Invalid value specified for property 'value' of resource 'AppRole'.");
        }
        new.push(super::world::AppRole {
            id: role_id,
            display_name,
            value,
            is_enabled,
            description: text("description"),
        });
    }
    for (i, role) in new.iter().enumerate() {
        if new[..i]
            .iter()
            .any(|r| r.id == role.id || (r.value.is_some() && r.value == role.value))
        {
            return bad("Request contains a property with duplicate values.");
        }
    }
    let refused = || {
        graph_error(
            StatusCode::BAD_REQUEST,
            "CannotDeleteOrUpdateEnabledEntitlement",
            "Permission (scope or role) cannot be deleted or updated unless disabled first.",
        )
    };
    let old = &state.entra.applications[app].app_roles;
    for role in old.iter().filter(|r| r.is_enabled) {
        match new.iter().find(|n| n.id == role.id) {
            None => return refused(),
            Some(n) if n.is_enabled && n.value != role.value => return refused(),
            Some(_) => {}
        }
    }
    let removed: Vec<String> = old
        .iter()
        .filter(|r| !new.iter().any(|n| n.id == r.id))
        .map(|r| r.id.clone())
        .collect();
    state.entra.applications[app].app_roles = new;
    state
        .entra
        .assignments
        .retain(|a| !(a.resource_id == id && removed.contains(&a.app_role_id)));
    StatusCode::NO_CONTENT.into_response()
}

fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Secret keys whose values Graph's GET returns as `*` (the credentials; Microsoft Learn,
/// "Configure SkipOutOfScopeDeletions": re-enter the password before a PUT). Which keys Graph
/// masks is not documented; these are the ones that hold a credential.
const MASKED_SECRETS: &[&str] = &[
    "Password",
    "SecretToken",
    "ClientSecret",
    "AppKey",
    "ConsumerSecret",
    "TokenKey",
    "Oauth2AccessToken",
    "Oauth2RefreshToken",
    "Oauth2ClientSecret",
    "Oauth2AuthorizationCode",
    "ConnectionString",
];

/// `servicePrincipals/{id}/synchronization/...`: the jobs, a job, its schema, the secrets
/// (Microsoft Graph v1.0 synchronizationJob, synchronizationSchema, synchronizationSecret).
fn synchronization(
    base: &str,
    sp: &str,
    job: Option<&super::world::ProvisioningJob>,
    rest: &[&str],
) -> Response {
    let job_json = |job: &super::world::ProvisioningJob| {
        json!({
            "id": job.id, "templateId": job.template_id,
            "schedule": {"expiration": null, "interval": "PT40M", "state": "Active"},
            "status": {"code": "Active", "countSuccessiveCompleteFailures": 0, "escrowsPruned": false,
                "lastExecution": null, "lastSuccessfulExecution": null,
                "lastSuccessfulExecutionWithExports": null, "progress": [], "quarantine": null,
                "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
                "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
                "synchronizedEntryCountByType": [], "troubleshootingUrl": null},
            "synchronizationJobSettings": [],
        })
    };
    let context = format!("servicePrincipals('{sp}')/synchronization");
    let the_job = |id: &str| job.filter(|j| j.id == id);
    match rest {
        ["jobs"] => json_response(
            StatusCode::OK,
            &json!({
                "@odata.context": format!("{base}/v1.0/$metadata#{context}/jobs"),
                "value": job.map(job_json).into_iter().collect::<Vec<Value>>(),
            }),
        ),
        ["jobs", id] => match the_job(id) {
            Some(job) => json_response(
                StatusCode::OK,
                &with_context(base, &format!("{context}/jobs/$entity"), job_json(job)),
            ),
            None => not_found(id),
        },
        ["jobs", id, "schema"] => match the_job(id) {
            Some(job) => json_response(
                StatusCode::OK,
                &with_context(
                    base,
                    &format!("{context}/jobs('{id}')/schema/$entity"),
                    job.schema.clone(),
                ),
            ),
            None => not_found(id),
        },
        ["secrets"] => {
            let secrets: Vec<Value> = job
                .map(|j| {
                    j.secrets
                        .iter()
                        .map(|(key, value)| {
                            let value = if MASKED_SECRETS.contains(&key.as_str()) {
                                "*"
                            } else {
                                value
                            };
                            json!({"key": key, "value": value})
                        })
                        .collect()
                })
                .unwrap_or_default();
            json_response(
                StatusCode::OK,
                &json!({"@odata.context": format!("{base}/v1.0/$metadata#{context}/secrets"), "value": secrets}),
            )
        }
        _ => not_found(&rest.join("/")),
    }
}

fn sp_json(app: &super::world::Application) -> Value {
    let roles: Vec<Value> = app.app_roles.iter().map(|r| json!({
        "id": r.id, "displayName": r.display_name, "value": r.value, "isEnabled": r.is_enabled,
        "allowedMemberTypes": ["User"],
        "description": r.description.clone().unwrap_or_else(|| r.display_name.clone()),
        "origin": "Application",
    })).collect();
    json!({"id": app.service_principal_id, "appId": app.app_id, "displayName": app.display_name, "appRoles": roles, "servicePrincipalType": "Application"})
}

fn service_principals(state: &State, filter: Option<&str>) -> Result<Vec<Value>, String> {
    let all = state.entra.applications.iter().map(sp_json);
    let Some(filter) = filter else {
        return Ok(all.collect());
    };
    let clauses = parse_filter(filter)?;
    Ok(all
        .filter(|sp| {
            clauses
                .iter()
                .all(|c| c.matches(sp.as_object().unwrap_or(&Map::new())))
        })
        .collect())
}

fn users<'s>(state: &'s State, filter: Option<&str>) -> Result<Vec<&'s EntraUser>, String> {
    let clauses = match filter {
        Some(f) => parse_filter(f)?,
        None => Vec::new(),
    };
    // `id in (...)` is answered from the index, as roster's batched reads use it.
    let by_id = clauses.iter().find_map(|c| match c {
        Clause::In(name, ids) if name == "id" => Some(ids),
        _ => None,
    });
    let candidates: Vec<&EntraUser> = match by_id {
        Some(ids) => ids.iter().filter_map(|id| state.entra.user(id)).collect(),
        None => state.entra.users.iter().collect(),
    };
    Ok(candidates
        .into_iter()
        .filter(|u| clauses.iter().all(|c| c.matches(u)))
        .collect())
}

/// A `$batch` item's method and url, when it is well formed: each item names both, its headers
/// are an object, and `dependsOn` names earlier items. Graph refuses the whole batch otherwise.
fn item_parts<'i>(
    item: &'i Value,
    id: &str,
    earlier: &std::collections::HashSet<String>,
) -> Option<(&'i str, &'i str)> {
    let depends_ok = match item.get("dependsOn") {
        None => true,
        Some(Value::Array(on)) => on.iter().all(|d| {
            d.as_str()
                .is_some_and(|d| d != id && earlier.contains(&d.to_lowercase()))
        }),
        Some(_) => false,
    };
    let headers_ok = item.get("headers").is_none_or(Value::is_object);
    (depends_ok && headers_ok).then_some(())?;
    Some((
        item.get("method").and_then(Value::as_str)?,
        item.get("url").and_then(Value::as_str)?,
    ))
}

/// One `$batch` item's answer: status, headers and JSON body. Each item keeps its own headers
/// (a throttled one its own `Retry-After`); an item whose answer broke off inside Graph is a
/// failed status with an error body, never a 200 without one.
async fn batch_item(response: Response) -> (u16, Map<String, Value>, Value) {
    let (parts, inner_body) = response.into_parts();
    let mut item_headers = Map::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            let name = match name.as_str() {
                "content-type" => "Content-Type".to_owned(),
                "retry-after" => "Retry-After".to_owned(),
                other => other.to_owned(),
            };
            item_headers.insert(name, json!(value));
        }
    }
    let (status, body) = match axum::body::to_bytes(inner_body, 64 * 1024 * 1024).await {
        Ok(bytes) => (
            parts.status.as_u16(),
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE.as_u16(),
            json!({"error": {"code": "serviceNotAvailable", "message": "The service is temporarily unavailable."}}),
        ),
    };
    (status, item_headers, body)
}

/// The first `$select`ed name a request for users may not select: not a `user` property, and no
/// world user carries it (worlds may add their own attributes; a directory extension exists
/// once some user has a value for it — the emulator has no extension definitions).
fn unknown_selected<'s>(
    state: &State,
    segments: &[&str],
    select: Option<&'s [String]>,
) -> Option<&'s str> {
    let selects_users = match segments {
        ["users", ..] => !matches!(
            segments.get(2),
            Some(&("memberOf" | "transitiveMemberOf" | "appRoleAssignments"))
        ),
        ["groups", _, "members" | "transitiveMembers", ..] => true,
        _ => false,
    };
    if !selects_users {
        return None;
    }
    select?
        .iter()
        .find(|name| {
            !USER_PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(name))
                && !state.entra.has_property(name)
        })
        .map(String::as_str)
}

/// `$select` gating as Graph does it: only the selected properties (or the default set).
pub(crate) fn project_user(user: &impl Properties, select: Option<&[String]>) -> Value {
    let mut out = Map::new();
    let wanted: Vec<&str> = match select {
        // Graph returns `id` whatever `$select` names.
        Some(s) => std::iter::once("id")
            .chain(
                s.iter()
                    .map(String::as_str)
                    .filter(|p| !p.eq_ignore_ascii_case("id")),
            )
            .collect(),
        None => DEFAULT_USER_PROPERTIES.to_vec(),
    };
    for name in wanted {
        let (key, value) = user
            .properties()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or_else(
                || {
                    // Graph's spelling of the property, and `[]` for an empty collection.
                    let known = USER_PROPERTIES
                        .iter()
                        .find(|p| p.eq_ignore_ascii_case(name))
                        .copied();
                    let empty = if known.is_some_and(|p| COLLECTION_PROPERTIES.contains(&p)) {
                        json!([])
                    } else {
                        Value::Null
                    };
                    (known.unwrap_or(name).to_owned(), empty)
                },
                |(k, v)| (k.to_owned(), v.clone()),
            );
        out.insert(key, value);
    }
    Value::Object(out)
}

/// A Graph object's properties, however the emulator holds them: a JSON object, or an Entra
/// user with shared names.
pub(crate) trait Properties {
    fn properties(&self) -> impl Iterator<Item = (&str, &Value)>;
}

impl<T: Properties> Properties for &T {
    fn properties(&self) -> impl Iterator<Item = (&str, &Value)> {
        (**self).properties()
    }
}

impl Properties for Map<String, Value> {
    fn properties(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl Properties for EntraUser {
    fn properties(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.iter().map(|(k, v)| (&**k, v))
    }
}

/// One `$filter` clause; clauses are AND-ed.
enum Clause {
    Eq(String, Value),
    In(String, Vec<String>),
    StartsWith(String, String),
}

impl Clause {
    fn matches(&self, item: &impl Properties) -> bool {
        let get = |name: &str| {
            item.properties()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        match self {
            Clause::Eq(name, value) => get(name).is_some_and(|v| match (v, value) {
                (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                (a, b) => a == b,
            }),
            Clause::In(name, values) => get(name)
                .and_then(Value::as_str)
                .is_some_and(|v| values.iter().any(|x| x.eq_ignore_ascii_case(v))),
            Clause::StartsWith(name, prefix) => get(name)
                .and_then(Value::as_str)
                .is_some_and(|v| v.to_lowercase().starts_with(&prefix.to_lowercase())),
        }
    }
}

/// The `$filter` forms roster uses: `p eq 'v'` (or true/false), `p in ('a','b')`,
/// `startswith(p,'v')`, joined by `and`. Graph's own error for anything else.
fn parse_filter(filter: &str) -> Result<Vec<Clause>, String> {
    let unsupported =
        || format!("Unsupported or invalid query filter clause specified: '{filter}'.");
    let mut clauses = Vec::new();
    for part in split_and(filter) {
        let part = part.trim();
        if let Some(inner) = part
            .strip_prefix("startswith(")
            .and_then(|p| p.strip_suffix(')'))
        {
            let (name, value) = inner.split_once(',').ok_or_else(unsupported)?;
            clauses.push(Clause::StartsWith(
                name.trim().to_owned(),
                unquote(value.trim()).ok_or_else(unsupported)?,
            ));
        } else if let Some((name, list)) = part.split_once(" in ") {
            let list = list
                .trim()
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .ok_or_else(unsupported)?;
            let values = list
                .split(',')
                .map(|v| unquote(v.trim()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(unsupported)?;
            if values.len() > 15 {
                return Err(format!(
                    "Too many child clauses specified in search filter expression containing 'OR' operators: {}. Max allowed: 15.",
                    values.len()
                ));
            }
            clauses.push(Clause::In(name.trim().to_owned(), values));
        } else if let Some((name, value)) = part.split_once(" eq ") {
            let value = match value.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => Value::String(unquote(other).ok_or_else(unsupported)?),
            };
            clauses.push(Clause::Eq(name.trim().to_owned(), value));
        } else {
            return Err(unsupported());
        }
    }
    Ok(clauses)
}

fn split_and(filter: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let bytes = filter.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b' ' if !quoted && depth == 0 && filter[i..].starts_with(" and ") => {
                parts.push(&filter[start..i]);
                start = i + 5;
                i += 4;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&filter[start..]);
    parts
}

fn unquote(text: &str) -> Option<String> {
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .map(|t| t.replace("''", "'"))
}

/// One page of a collection with `@odata.nextLink` when more remain.
fn page<T>(
    base: &str,
    request: &Request,
    context: &str,
    items: &[T],
    skip: usize,
    top: usize,
    project: impl Fn(&T) -> Value,
) -> Response {
    let window = items
        .get(skip.min(items.len())..(skip + top + 1).min(items.len()))
        .unwrap_or_default();
    page_at(base, request, context, window, skip + top, top, project)
}

/// One page from `window`, the page's items (at most `top` of them are shown; one more says a
/// next page exists, whose `$skiptoken` is the offset `end`).
fn page_at<T>(
    base: &str,
    request: &Request,
    context: &str,
    window: &[T],
    end: usize,
    top: usize,
    project: impl Fn(&T) -> Value,
) -> Response {
    let value: Vec<Value> = window.iter().take(top).map(project).collect();
    let mut body =
        json!({"@odata.context": format!("{base}/v1.0/$metadata#{context}"), "value": value});
    if window.len() > top {
        let kept: Vec<String> = request
            .query
            .split('&')
            .filter(|p| {
                !p.is_empty() && !p.starts_with("%24skiptoken") && !p.starts_with("$skiptoken")
            })
            .map(str::to_owned)
            .collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("$skiptoken=");
        query.push_str(&encode_skiptoken(end));
        body["@odata.nextLink"] = json!(format!("{base}{}?{query}", request.path));
    }
    json_response(StatusCode::OK, &body)
}

/// An opaque-looking token for an offset.
pub(crate) fn encode_skiptoken(offset: usize) -> String {
    format!(
        "RFNwdAIA{}",
        crate::digest::hex(format!("offset:{offset:012}").as_bytes(), true)
    )
}

pub(crate) fn decode_skiptoken(token: &str) -> Option<usize> {
    let hex = token.strip_prefix("RFNwdAIA")?;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// `POST /{tenant}/oauth2/v2.0/token`, client credentials with a client secret, or a client
/// assertion (certificate) or federated token whose claims name a known client or subject.
fn token(shared: &Shared, tenant: &str, body: &[u8]) -> Response {
    let form = form(body);
    let state = shared.state();
    if tenant != state.entra.tenant_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    if param(&form, "grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if let Err((error, description)) = check_scope(shared, tenant, param(&form, "scope")) {
        return oauth_error(StatusCode::BAD_REQUEST, error, &description);
    }
    let client_id = param(&form, "client_id").unwrap_or_default();
    let Some(client) = state
        .entra
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .cloned()
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
            ),
        );
    };
    let github = state.entra.github_actions.clone();
    drop(state);
    let assertion = param(&form, "client_assertion");
    if let Some(secret) = param(&form, "client_secret") {
        if client.secret.as_deref() != Some(secret) {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!(
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
    } else if let Some(assertion) = assertion {
        if param(&form, "client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "AADSTS50027: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            );
        }
        if let Err(description) =
            check_assertion(shared, tenant, &client, github.is_some(), assertion)
        {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &description);
        }
    } else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let token = shared.issue_graph_token(tenant, &client.client_id, client.granted_roles());
    json_response(
        StatusCode::OK,
        &json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
    )
}

/// The client credentials flow's `scope`: exactly one `{resource}/.default`, the resource being
/// Microsoft Graph (or the emulator standing in for it). Codes and texts as Entra answers them
/// (Microsoft identity platform, "client credentials flow"; AADSTS error-code reference).
fn check_scope(
    shared: &Shared,
    tenant: &str,
    scope: Option<&str>,
) -> Result<(), (&'static str, String)> {
    let Some(scope) = scope.map(str::trim).filter(|s| !s.is_empty()) else {
        return Err((
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'."
                .to_owned(),
        ));
    };
    let Some(resource) = scope
        .strip_suffix("/.default")
        .filter(|r| !r.contains(char::is_whitespace))
    else {
        return Err((
            "invalid_scope",
            format!(
                "AADSTS1002012: The provided value for scope {scope} is not valid. Client \
                 credential flows must have a scope value with /.default suffixed to the \
                 resource identifier (application ID URI)."
            ),
        ));
    };
    let graph = [
        "https://graph.microsoft.com".to_owned(),
        "00000003-0000-0000-c000-000000000000".to_owned(),
        shared.base_url(),
    ];
    if graph
        .iter()
        .any(|g| g.eq_ignore_ascii_case(resource.trim_end_matches('/')))
    {
        Ok(())
    } else {
        Err((
            "invalid_resource",
            format!(
                "AADSTS500011: The resource principal named {resource} was not found in the \
                 tenant named {tenant}. This can happen if the application has not been \
                 installed by the administrator of the tenant or consented to by any user in the \
                 tenant. You might have sent your authentication request to the wrong tenant."
            ),
        ))
    }
}

/// The thumbprint check of a certificate assertion: its header must name the registered
/// certificate by `x5t` (SHA-1) or `x5t#S256` (SHA-256), base64url.
fn check_thumbprint(client: &super::world::EntraClient, assertion: &str) -> Result<(), String> {
    use base64::Engine as _;
    let Some(der) = client
        .certificate
        .as_deref()
        .and_then(crate::graph::auth::certificate_der)
    else {
        return Ok(());
    };
    let encode = |digest: aws_lc_rs::digest::Digest| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    };
    let sha1 = encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &der,
    ));
    let sha256 = encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der));
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| format!("AADSTS50027: JWT token is invalid or malformed. ({e})"))?;
    if header.x5t.as_deref() == Some(sha1.as_str())
        || header.x5t_s256.as_deref() == Some(sha256.as_str())
    {
        return Ok(());
    }
    let presented = header
        .x5t_s256
        .or(header.x5t)
        .unwrap_or_else(|| "none".to_owned());
    Err(format!(
        "AADSTS700027: The certificate with identifier used to sign the client assertion is not \
         registered on application. [Reason - The key was not found., Thumbprint of key used by \
         client: '{presented}', Please visit the Azure Portal, Graph Explorer or directly use MS \
         Graph to see configured keys for app Id '{}'.]",
        client.client_id
    ))
}

/// A client assertion: signed by the client's certificate key (certificate credential), or a
/// GitHub Actions OIDC token whose subject the client trusts (federated credential).
fn check_assertion(
    shared: &Shared,
    tenant: &str,
    client: &super::world::EntraClient,
    github: bool,
    assertion: &str,
) -> Result<(), String> {
    if let Some(public_key) = &client.public_key {
        let audiences = [
            format!("{}/{tenant}/oauth2/v2.0/token", shared.base_url()),
            format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
        ];
        if jwt::verify(
            assertion,
            public_key,
            &audiences,
            Some(&client.client_id),
            Some(&client.client_id),
        )
        .is_ok()
        {
            return check_thumbprint(client, assertion);
        }
    }
    if github && let Ok(claims) = jwt::verify_github(assertion, "api://AzureADTokenExchange") {
        if client.federated_subjects.contains(&claims.sub) {
            return Ok(());
        }
        return Err(format!(
            "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: 'api://AzureADTokenExchange'.",
            claims.iss, claims.sub
        ));
    }
    Err("AADSTS700027: Client assertion contains an invalid signature.".to_owned())
}

/// `GET /_github/idtoken?audience=...` with `Authorization: bearer <request token>`: the
/// emulator's stand-in for GitHub Actions' `ACTIONS_ID_TOKEN_REQUEST_URL`.
pub(crate) fn github_idtoken(shared: &Shared, request: &Request) -> Response {
    let Some(github) = shared.state().entra.github_actions.clone() else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": "no GitHub Actions OIDC in this world"}),
        );
    };
    let presented = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_owned()));
    if presented.as_deref() != Some(github.request_token.as_str()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"message": "Bad credentials"}),
        );
    }
    let pairs = url_pairs(&request.query);
    let audience = param(&pairs, "audience").unwrap_or("https://github.com/contoso");
    match jwt::github_token(&github.subject, audience) {
        Ok(value) => json_response(StatusCode::OK, &json!({"count": 1, "value": value})),
        Err(e) => json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({"message": e})),
    }
}

/// Graph's limit on requests in one `$batch`.
const MAX_BATCH: usize = 20;

/// `POST /v1.0/$batch`: up to 20 requests, each answered as if sent alone (with the batch's
/// authorization), in one `{"responses": [...]}`.
pub(crate) async fn batch(shared: &Shared, request: &Request) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid batch payload format.",
        );
    };
    let Some(requests) = body.get("requests").and_then(Value::as_array) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid batch payload format.",
        );
    };
    if requests.is_empty() {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid batch payload format.",
        );
    }
    if requests.len() > MAX_BATCH {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Number of requests inside batch exceeds the limit.",
        );
    }
    let mut ids = std::collections::HashSet::new();
    let mut responses = Vec::with_capacity(requests.len());
    for item in requests {
        let id = match item.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Batch request id is missing.",
                );
            }
        };
        if !ids.insert(id.to_lowercase()) {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Batch request id '{id}' is duplicated."),
            );
        }
        let Some((method, url)) = item_parts(item, &id, &ids) else {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid batch payload format.",
            );
        };
        let url = url.strip_prefix("/v1.0").unwrap_or(url);
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let method: Method = method.parse().unwrap_or(Method::GET);
        let path = format!("/v1.0/{}", path.trim_start_matches('/'));
        // The batch's own headers (the token), then the item's: `ConsistencyLevel` and the
        // like are per request inside a batch.
        let mut headers = request.headers.clone();
        if let Some(Value::Object(own)) = item.get("headers") {
            for (name, value) in own {
                if let (Ok(name), Some(Ok(value))) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    value.as_str().map(axum::http::HeaderValue::from_str),
                ) {
                    headers.insert(name, value);
                }
            }
        }
        let inner = Request {
            route: format!("{method} {}", super::route_pattern(&path)),
            method,
            path,
            query: query.to_owned(),
            headers,
            body: axum::body::Bytes::new(),
        };
        // Each request of a batch is throttled on its own, as Graph does.
        let response = match super::faults::inject(shared, &inner) {
            Some(super::faults::Injected::Respond(response)) => response,
            Some(super::faults::Injected::Delay(wait)) => {
                tokio::time::sleep(wait).await;
                handle(shared, &inner)
            }
            // Inside a batch a lost answer is the whole batch's: treat it as served.
            Some(super::faults::Injected::LoseResponse) | None => handle(shared, &inner),
        };
        let (status, item_headers, body) = batch_item(response).await;
        responses.push(json!({"id": id, "status": status, "headers": item_headers, "body": body}));
    }
    json_response(StatusCode::OK, &json!({"responses": responses}))
}
