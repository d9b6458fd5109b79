//! `/_emulator/`: the test harness's handle on the emulator — request counts, faults, latency,
//! locked records, world mutations and a dump. Never used by roster's own client code.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::faults::Rule;
use super::http::json_response;
use super::state::{AssignmentState, Change, DEFAULT_ACCESS};
use crate::concurrent::lock;

fn ok() -> Response {
    json_response(StatusCode::OK, &json!({"ok": true}))
}

fn bad(message: impl Into<String>) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message.into()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Latency {
    ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Locks {
    /// Record ids or usernames.
    records: Vec<String>,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAssignment {
    application: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Membership {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

pub(crate) fn handle(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Response {
    let decoded: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(super::http::percent_decode)
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let json = || serde_json::from_slice::<Value>(body);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["requests"]) => json_response(StatusCode::OK, &json!(shared.counts())),
        ("DELETE", ["requests"]) => {
            shared.forget_counts();
            ok()
        }
        ("GET", ["in_flight"]) => json_response(StatusCode::OK, &json!(shared.peak_in_flight())),
        ("POST", ["faults"]) => match serde_json::from_slice::<Rule>(body) {
            Ok(rule) if rule.count == 0 => {
                bad("fault: `count` is how many requests fail, at least 1".to_owned())
            }
            Ok(rule) => {
                lock(&shared.faults).add(rule);
                ok()
            }
            Err(e) => bad(format!("fault: {e}")),
        },
        ("DELETE", ["faults"]) => {
            lock(&shared.faults).clear();
            // A daily limit a fault spent comes back; one spent by real requests stays spent.
            let org = &mut shared.state().org;
            if let Some(before) = org.spent_by_fault.take() {
                org.api_requests = before;
            }
            ok()
        }
        ("POST", ["latency"]) => match serde_json::from_slice::<Latency>(body) {
            Ok(l) => {
                shared.set_latency(l.ms);
                ok()
            }
            Err(e) => bad(format!("latency: {e}")),
        },
        ("POST", ["locks"]) => match serde_json::from_slice::<Locks>(body) {
            Ok(l) => {
                lock(&shared.faults).lock_records(&l.records, l.count);
                ok()
            }
            Err(e) => bad(format!("locks: {e}")),
        },
        ("GET", ["world"]) => json_response(StatusCode::OK, &dump(shared)),
        // `{"keep_assignments": true}`: a soft delete whose app-role assignments still list the
        // user, so Graph names a user it no longer returns.
        ("DELETE", ["entra", "users", id]) => {
            let keep = json()
                .ok()
                .and_then(|v| v.get("keep_assignments").and_then(Value::as_bool))
                .unwrap_or(false);
            delete_user(shared, id, keep)
        }
        ("PATCH", ["entra", "users", id]) => match json() {
            Ok(Value::Object(changes)) => patch_user(shared, id, changes),
            _ => bad("expected a JSON object of attribute changes"),
        },
        ("POST", ["entra", "assignments"]) => match serde_json::from_slice::<NewAssignment>(body) {
            Ok(a) => assign(shared, &a),
            Err(e) => bad(format!("assignment: {e}")),
        },
        ("DELETE", ["entra", "assignments", id]) => {
            let mut state = shared.state();
            let before = state.entra.assignments.len();
            state.entra.assignments.retain(|a| a.id != *id);
            if state.entra.assignments.len() == before {
                bad(format!("no assignment {id}"))
            } else {
                ok()
            }
        }
        // A Salesforce admin cleared what blocked a user's deactivation (picked another
        // Web-to-Lead default creator, ...): the next deactivation goes through.
        ("DELETE", ["salesforce", "users", user, "deactivation_blocker"]) => {
            let mut state = shared.state();
            let id = state
                .org
                .user_by_username(user)
                .map(str::to_owned)
                .or_else(|| super::ids::normalize(user).ok());
            match id.and_then(|id| state.org.deactivation_blockers.remove(&id)) {
                Some(_) => ok(),
                None => bad(format!("no deactivation blocker on Salesforce user {user}")),
            }
        }
        ("POST", ["entra", "groups", group, "members"]) => {
            match serde_json::from_slice::<Membership>(body) {
                Ok(m) => members(shared, group, &m),
                Err(e) => bad(format!("members: {e}")),
            }
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no admin route {method} /_emulator{path}")}),
        ),
    }
}

fn patch_user(shared: &Shared, id: &str, changes: serde_json::Map<String, Value>) -> Response {
    let mut state = shared.state();
    let Some(position) = state.entra.user_position(id) else {
        return bad(format!("no user {id}"));
    };
    // Checked before anything is written: a refused change leaves the user as it was. Graph's
    // `id` is read-only, and a user always has a userPrincipalName.
    if changes.contains_key("id") {
        return bad("id is read-only: Graph refuses to change a user's object id".to_owned());
    }
    match changes.get("userPrincipalName") {
        Some(upn) if upn.is_null() || upn.as_str().is_some_and(|u| u.trim().is_empty()) => {
            return bad("userPrincipalName is required: Graph refuses to remove it".to_owned());
        }
        // Unique without regard to case, as a world's users are.
        Some(Value::String(upn))
            if state
                .entra
                .user_position(upn)
                .is_some_and(|other| other != position) =>
        {
            return bad(format!(
                "userPrincipalName {upn:?}: Another object with the same value for property \
                 userPrincipalName already exists (Graph's 400 Request_BadRequest)"
            ));
        }
        // Any other value is not text: refused below, with its type.
        _ => {}
    }
    if let Some(problem) = changes.iter().find_map(|(property, value)| {
        crate::graph::attributes::graph_property_problem(property, value)
            .or_else(|| super::state::graph_value_problem(property, value))
    }) {
        return bad(format!(
            "{problem}: Graph refuses it (400 Request_BadRequest)"
        ));
    }
    let user = &mut state.entra.users[position];
    let user_id = user
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    for (key, value) in changes {
        if value.is_null() {
            user.remove(&key);
        } else {
            user.insert(crate::sorted_map::Key::from_name(&key), value);
        }
    }
    state.entra.reindex();
    state.entra.changes.push(Change::User(user_id));
    ok()
}

fn delete_user(shared: &Shared, id: &str, keep_assignments: bool) -> Response {
    let mut state = shared.state();
    let Some(position) = state.entra.user_position(id) else {
        return bad(format!("no user {id}"));
    };
    let user = state.entra.users.remove(position);
    let user_id = user
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut left = Vec::new();
    for group in &mut state.entra.groups {
        if group.members.contains(&user_id) {
            group.members.retain(|m| *m != user_id);
            left.push(Change::Member {
                group: group.id.clone(),
                member: user_id.clone(),
                added: false,
            });
        }
    }
    state.entra.changes.extend(left);
    if !keep_assignments {
        state
            .entra
            .assignments
            .retain(|a| a.principal_id != user_id);
    }
    state.entra.reindex();
    state.entra.changes.push(Change::UserRemoved(user_id));
    ok()
}

fn assign(shared: &Shared, a: &NewAssignment) -> Response {
    let mut state = shared.state();
    let Some(app) = state.entra.application(&a.application).cloned() else {
        return bad(format!("no application {}", a.application));
    };
    let app_role_id = match &a.role {
        None => DEFAULT_ACCESS.to_owned(),
        Some(role) => match app
            .app_roles
            .iter()
            .find(|r| r.value.as_deref() == Some(role.as_str()) || r.display_name == *role)
        {
            Some(r) => r.id.clone(),
            None => return bad(format!("no app role {role}")),
        },
    };
    let principal = match (&a.user, &a.group) {
        (Some(u), None) => state.entra.user(u).map(|user| {
            (
                user["id"].as_str().unwrap_or_default().to_owned(),
                "User",
                user.get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )
        }),
        (None, Some(g)) => state
            .entra
            .group(g)
            .map(|group| (group.id.clone(), "Group", group.display_name.clone())),
        _ => return bad("give exactly one of user and group"),
    };
    let Some((principal_id, principal_type, principal_display_name)) = principal else {
        return bad("no such principal");
    };
    let id = format!("assignment-{:06}", state.entra.assignments.len() + 1_000);
    state.entra.assignments.push(AssignmentState {
        id: id.clone(),
        principal_id,
        principal_type,
        principal_display_name,
        resource_id: app.service_principal_id.clone(),
        resource_display_name: app.display_name.clone(),
        app_role_id,
    });
    json_response(StatusCode::OK, &json!({"id": id}))
}

fn members(shared: &Shared, group: &str, change: &Membership) -> Response {
    let mut state = shared.state();
    let resolve = |state: &super::State, name: &str| {
        state
            .entra
            .user(name)
            .and_then(|u| u.get("id").and_then(Value::as_str).map(str::to_owned))
            .or_else(|| state.entra.group(name).map(|g| g.id.clone()))
    };
    let mut add = Vec::new();
    for name in &change.add {
        match resolve(&state, name) {
            Some(id) => add.push(id),
            None => return bad(format!("no user or group {name}")),
        }
    }
    let remove: Vec<String> = change
        .remove
        .iter()
        .filter_map(|n| resolve(&state, n))
        .collect();
    let Some(target) = state
        .entra
        .groups
        .iter_mut()
        .find(|g| g.id == group || g.display_name == group)
    else {
        return bad(format!("no group {group}"));
    };
    let group_id = target.id.clone();
    let mut changes = Vec::new();
    target.members.retain(|m| {
        let keep = !remove.contains(m);
        if !keep {
            changes.push(Change::Member {
                group: group_id.clone(),
                member: m.clone(),
                added: false,
            });
        }
        keep
    });
    for id in add {
        if !target.members.contains(&id) {
            target.members.push(id.clone());
            changes.push(Change::Member {
                group: group_id.clone(),
                member: id,
                added: true,
            });
        }
    }
    state.entra.changes.extend(changes);
    ok()
}

/// Both sides of the world as JSON, for debugging and test assertions.
fn dump(shared: &Shared) -> Value {
    let state = shared.state();
    let assignments: Vec<Value> = state
        .entra
        .assignments
        .iter()
        .map(|a| json!({"id": a.id, "principalId": a.principal_id, "principalType": a.principal_type, "resourceId": a.resource_id, "appRoleId": a.app_role_id}))
        .collect();
    let groups: Vec<Value> = state
        .entra
        .groups
        .iter()
        .map(|g| json!({"id": g.id, "displayName": g.display_name, "members": g.members}))
        .collect();
    let objects: serde_json::Map<String, Value> = state
        .org
        .objects
        .iter()
        .map(|(name, records)| {
            (
                (*name).to_owned(),
                Value::Array(records.values().cloned().map(Value::Object).collect()),
            )
        })
        .collect();
    json!({
        "entra": {"tenant_id": state.entra.tenant_id, "users": state.entra.users, "groups": groups, "assignments": assignments},
        "salesforce": {"org_id": state.org.id, "api_requests": state.org.api_requests, "objects": objects},
    })
}
