//! `users/delta` and `groups/delta`: a full first round (paged, ending in `@odata.deltaLink`),
//! then only what changed since that link — changed users, `@removed` users, and groups with
//! `members@delta` (joins, and leaves marked `@removed`).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::Request;
use super::graph::{decode_skiptoken, encode_skiptoken, project_user};
use super::http::{graph_error, json_response, param, url_pairs};
use super::state::{Change, State};

/// Page size of delta rounds.
const PAGE: usize = 100;

pub(crate) fn handle(
    base: &str,
    request: &Request,
    state: &State,
    users: bool,
    select: Option<&[String]>,
    skip: usize,
) -> Response {
    let pairs = url_pairs(&request.query);
    let since = match param(&pairs, "$deltatoken") {
        None => None,
        // `latest`: skip the first round, start tracking from now.
        Some("latest") => Some(state.entra.changes.len()),
        Some(token) => match decode_skiptoken(token) {
            Some(version) if version <= state.entra.changes.len() => Some(version),
            _ => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "SyncStateNotFound",
                    "The delta token is invalid or has expired.",
                );
            }
        },
    };
    // The first round of users projects only this page's users: projecting the whole tenant
    // for every page of 100 made a 100,000-user round cost 1,000 tenants' worth.
    let (page, total): (Vec<Value>, usize) = match (users, since) {
        (true, None) => {
            let all = &state.entra.users;
            let page = all
                .get(skip.min(all.len())..(skip + PAGE).min(all.len()))
                .unwrap_or_default()
                .iter()
                .map(|u| project_user(u, select))
                .collect();
            (page, all.len())
        }
        (true, Some(version)) => window(changed_users(state, version, select), skip),
        (false, None) => window(
            state
                .entra
                .groups
                .iter()
                .map(|g| {
                    let members: Vec<Value> = g.members.iter().map(|m| member(state, m)).collect();
                    json!({"id": g.id, "displayName": g.display_name, "members@delta": members})
                })
                .collect(),
            skip,
        ),
        (false, Some(version)) => window(changed_groups(state, version), skip),
    };
    let end = (skip + PAGE).min(total);
    let resource = if users { "users" } else { "groups" };
    let mut body =
        json!({"@odata.context": format!("{base}/v1.0/$metadata#{resource}"), "value": page});
    let select_param = select
        .map(|s| format!("$select={}&", s.join(",")))
        .unwrap_or_default();
    let since_param = since
        .map(|v| format!("$deltatoken={}&", encode_skiptoken(v)))
        .unwrap_or_default();
    if end < total {
        body["@odata.nextLink"] = json!(format!(
            "{base}/v1.0/{resource}/delta?{select_param}{since_param}$skiptoken={}",
            encode_skiptoken(end)
        ));
    } else {
        body["@odata.deltaLink"] = json!(format!(
            "{base}/v1.0/{resource}/delta?{select_param}$deltatoken={}",
            encode_skiptoken(state.entra.changes.len())
        ));
    }
    json_response(StatusCode::OK, &body)
}

/// The page of `items` from `skip` on, and how many there are.
fn window(items: Vec<Value>, skip: usize) -> (Vec<Value>, usize) {
    let total = items.len();
    (items.into_iter().skip(skip).take(PAGE).collect(), total)
}

fn member(state: &State, id: &str) -> Value {
    let kind = if state.entra.user(id).is_some() {
        "#microsoft.graph.user"
    } else {
        "#microsoft.graph.group"
    };
    json!({"@odata.type": kind, "id": id})
}

fn changed_users(state: &State, since: usize, select: Option<&[String]>) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for change in state.entra.changes[since..].iter().rev() {
        match change {
            Change::User(id) if seen.insert(id.clone()) => {
                if let Some(user) = state.entra.user(id) {
                    out.push(project_user(user, select));
                }
            }
            Change::UserRemoved(id) if seen.insert(id.clone()) => {
                out.push(json!({"id": id, "@removed": {"reason": "changed"}}));
            }
            _ => {}
        }
    }
    out.reverse();
    out
}

fn changed_groups(state: &State, since: usize) -> Vec<Value> {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for change in &state.entra.changes[since..] {
        if let Change::Member {
            group,
            member: id,
            added,
        } = change
        {
            let index = out.iter().position(|(g, _)| g == group).unwrap_or_else(|| {
                out.push((group.clone(), Vec::new()));
                out.len() - 1
            });
            let entry = &mut out[index].1;
            let mut item = member(state, id);
            if !added {
                item["@removed"] = json!({"reason": "deleted"});
            }
            entry.push(item);
        }
    }
    out.into_iter()
        .map(|(id, members)| {
            let name = state
                .entra
                .group(&id)
                .map(|g| g.display_name.clone())
                .unwrap_or_default();
            json!({"id": id, "displayName": name, "members@delta": members})
        })
        .collect()
}
