//! Taking the source snapshot: the enterprise application and its app roles, every
//! `appRoleAssignedTo` row, the *direct* members of assigned groups (Entra does not expand nested
//! groups), the groups role rules name, and the referenced attributes of exactly the users in
//! question, read the cheapest way the page limits allow.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::attributes::{graph_select, read_attributes, source_attributes};
use super::{Graph, GraphError, MAX_BATCH, encode, odata_string};
use crate::concurrent;
use crate::config::{Application, Assignment, Config, RoleCondition};
use crate::model::{
    AppRole, AppRoleAssignment, Group, SNAPSHOT_FORMAT, ServicePrincipal, SourceSnapshot,
    SourceUser,
};
use crate::progress::Task;

/// Graph's largest page for directory collections.
const PAGE: usize = 999;
/// Ids in one `$filter=id in (...)`: Graph allows 15 values in an `in` clause.
const IDS_PER_FILTER: usize = 15;
/// Graph requests in flight at once.
const CONCURRENCY: usize = 4;

/// Reads what Entra says about the application's users.
pub(crate) async fn read(
    graph: Arc<Graph>,
    config: &Config,
    task: Task,
) -> Result<SourceSnapshot, GraphError> {
    let attributes = Arc::new(source_attributes(config));
    let select = Arc::new(graph_select(&attributes));
    task.step("enterprise application");
    let application = service_principal(&graph, &config.source.application).await?;

    task.step("assignments");
    let mut assignments = Vec::new();
    let url = graph.url(&format!(
        "servicePrincipals/{}/appRoleAssignedTo?$top={PAGE}",
        encode(&application.id)
    ));
    graph
        .pages(&url, |items| {
            task.add(items.len() as u64);
            assignments.extend(items.iter().map(assignment));
        })
        .await?;
    assignments.sort_by(|a, b| a.id.cmp(&b.id));

    let mut warnings = Vec::new();
    let groups = groups_to_read(&graph, config, &assignments, &mut warnings).await?;

    task.step("group members");
    let users_with_groups = config.scope.assignment == Assignment::Assigned;
    let (groups, mut users) = read_groups(
        &graph,
        &groups,
        users_with_groups,
        &select,
        &attributes,
        &task,
    )
    .await?;
    for group in &groups {
        for nested in &group.nested_groups {
            warnings.push(format!(
                "group {:?} contains the nested group {nested:?}: Entra does not provision \
                 members of nested groups, and neither does roster",
                group.display_name
            ));
        }
    }

    if users_with_groups {
        let found =
            assigned_users(&graph, &assignments, &users, &select, &attributes, &task).await?;
        for id in found.missing {
            warnings.push(format!(
                "user {id} is assigned to the application but Microsoft Graph does not \
                 return it (deleted?)"
            ));
        }
        users.extend(found.users);
    } else {
        task.step("all users");
        let url = graph.url(&format!("users?$select={}&$top={PAGE}", encode(&select)));
        graph
            .pages(&url, |items| {
                task.add(items.len() as u64);
                users.extend(source_users(items, &attributes).map(|u| (u.id.clone(), u)));
            })
            .await?;
    }
    task.finish(&format!(
        "{} users, {} assignments, {} groups",
        users.len(),
        assignments.len(),
        groups.len()
    ));
    Ok(SourceSnapshot {
        format_version: SNAPSHOT_FORMAT,
        tenant_id: config.source.tenant_id.clone(),
        application,
        assignment: match config.scope.assignment {
            Assignment::Assigned => "assigned".to_owned(),
            Assignment::All => "all".to_owned(),
        },
        assignments,
        groups,
        users: users.into_values().collect(),
        attributes: attributes.as_ref().clone(),
        warnings,
    })
}

/// The direct members of each group, read side by side; with `keep_users`, the users of
/// assigned groups come back with their attributes (no second read needed).
async fn read_groups(
    graph: &Arc<Graph>,
    groups: &BTreeMap<String, (String, bool)>,
    users_with_groups: bool,
    select: &str,
    attributes: &Arc<Vec<String>>,
    task: &Task,
) -> Result<(Vec<Group>, BTreeMap<String, SourceUser>), GraphError> {
    let reads = groups
        .iter()
        .map(|(id, (name, assigned))| {
            let graph = Arc::clone(graph);
            let attributes = Arc::clone(attributes);
            let select = if users_with_groups && *assigned {
                select.to_owned()
            } else {
                "id,displayName".to_owned()
            };
            let group = Group {
                id: id.clone(),
                display_name: name.clone(),
                assigned: *assigned,
                ..Group::default()
            };
            let task = task.clone();
            let keep_users = users_with_groups && *assigned;
            async move {
                let mut users = Vec::new();
                let group = members(&graph, group, &select, &task, |user| {
                    if keep_users {
                        users.push(source_user(&user, &attributes));
                    }
                })
                .await?;
                Ok::<_, GraphError>((group, users))
            }
        })
        .collect();
    let mut users: BTreeMap<String, SourceUser> = BTreeMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (group, members) in concurrent::all(CONCURRENCY, reads).await? {
        users.extend(members.into_iter().map(|u| (u.id.clone(), u)));
        groups.push(group);
    }
    Ok((groups, users))
}

/// Finds the service principal by id, app id or display name; none or several is an error.
async fn service_principal(
    graph: &Graph,
    application: &Application,
) -> Result<ServicePrincipal, GraphError> {
    const SELECT: &str = "$select=id,appId,displayName,appRoles";
    let found = match application {
        Application::ServicePrincipalId(id) => {
            graph
                .get(&graph.url(&format!("servicePrincipals/{}?{SELECT}", encode(id))))
                .await?
        }
        Application::AppId(app_id) => {
            graph
                .get(&graph.url(&format!(
                    "servicePrincipals(appId={})?{SELECT}",
                    encode(&odata_string(app_id))
                )))
                .await?
        }
        Application::DisplayName(name) => {
            let filter = format!("displayName eq {}", odata_string(name));
            let url = graph.url(&format!(
                "servicePrincipals?$filter={}&{SELECT}",
                encode(&filter)
            ));
            let mut matches = Vec::new();
            graph.pages(&url, |items| matches.extend(items)).await?;
            match matches.len() {
                1 => matches.remove(0),
                0 => {
                    return Err(GraphError::Read(format!(
                        "no enterprise application named {name:?} in tenant (source.application.display_name); \
                         check the name in Entra > Enterprise applications, or use service_principal_id"
                    )));
                }
                n => {
                    let ids: Vec<&str> = matches
                        .iter()
                        .filter_map(|m| m.get("id").and_then(Value::as_str))
                        .collect();
                    return Err(GraphError::Read(format!(
                        "{n} enterprise applications are named {name:?} (service principal ids {}); \
                         use source.application.service_principal_id to say which one",
                        ids.join(", ")
                    )));
                }
            }
        }
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut app_roles: Vec<AppRole> = found
        .get("appRoles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .map(|r| AppRole {
                    id: text(r, "id").unwrap_or_default(),
                    display_name: text(r, "displayName").unwrap_or_default(),
                    value: text(r, "value"),
                    is_enabled: r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true),
                })
                .collect()
        })
        .unwrap_or_default();
    app_roles.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ServicePrincipal {
        id: text(&found, "id").unwrap_or_default(),
        app_id: text(&found, "appId").unwrap_or_default(),
        display_name: text(&found, "displayName").unwrap_or_default(),
        app_roles,
    })
}

fn assignment(item: &Value) -> AppRoleAssignment {
    let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
    AppRoleAssignment {
        id: text("id").unwrap_or_default(),
        principal_type: text("principalType").unwrap_or_default(),
        principal_id: text("principalId").unwrap_or_default(),
        principal_display_name: text("principalDisplayName"),
        app_role_id: text("appRoleId").unwrap_or_default(),
    }
}

/// The groups to read, by id: every assigned group, and the groups role rules name (found by
/// object id or display name). A named group Entra does not have is a warning.
async fn groups_to_read(
    graph: &Graph,
    config: &Config,
    assignments: &[AppRoleAssignment],
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, (String, bool)>, GraphError> {
    let mut groups: BTreeMap<String, (String, bool)> = assignments
        .iter()
        .filter(|a| a.principal_type == "Group")
        .map(|a| {
            let name = a.principal_display_name.clone().unwrap_or_default();
            (a.principal_id.clone(), (name, true))
        })
        .collect();
    for rule in &config.roles.rules {
        let RoleCondition::Group(wanted) = &rule.when else {
            continue;
        };
        let known = groups
            .iter()
            .any(|(id, (name, _))| id.eq_ignore_ascii_case(wanted) || name == wanted);
        if known {
            continue;
        }
        let property = if looks_like_guid(wanted) {
            "id"
        } else {
            "displayName"
        };
        let filter = format!("{property} eq {}", odata_string(wanted));
        let url = graph.url(&format!(
            "groups?$filter={}&$select=id,displayName",
            encode(&filter)
        ));
        let mut found = Vec::new();
        graph.pages(&url, |items| found.extend(items)).await?;
        match found.as_slice() {
            [group] => {
                let id = group.get("id").and_then(Value::as_str).unwrap_or_default();
                let name = group
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                groups.insert(id.to_owned(), (name.to_owned(), false));
            }
            [] => warnings.push(format!(
                "a role rule names the group {wanted:?}, which Entra does not have: the rule \
                 matches nobody"
            )),
            many => warnings.push(format!(
                "a role rule names the group {wanted:?}, and {} groups have that name: give its \
                 object id instead; the rule matches nobody",
                many.len()
            )),
        }
    }
    Ok(groups)
}

fn looks_like_guid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// A group's direct members: users (handed to `each_user` with their selected properties) and
/// nested groups (only noted).
async fn members(
    graph: &Graph,
    mut group: Group,
    select: &str,
    task: &Task,
    mut each_user: impl FnMut(Map<String, Value>),
) -> Result<Group, GraphError> {
    let url = graph.url(&format!(
        "groups/{}/members?$select={}&$top={PAGE}",
        encode(&group.id),
        encode(select)
    ));
    graph
        .pages(&url, |items| {
            task.add(items.len() as u64);
            for item in items {
                let Value::Object(object) = item else {
                    continue;
                };
                let kind = object
                    .get("@odata.type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
                match kind {
                    "#microsoft.graph.user" => {
                        group.members.push(id.to_owned());
                        each_user(object);
                    }
                    "#microsoft.graph.group" => group.nested_groups.push(
                        object
                            .get("displayName")
                            .and_then(Value::as_str)
                            .unwrap_or(id)
                            .to_owned(),
                    ),
                    // Devices, service principals and contacts are not provisioned.
                    _ => {}
                }
            }
        })
        .await?;
    group.members.sort();
    group.nested_groups.sort();
    Ok(group)
}

/// Users assigned directly whom no group read returned.
struct Assigned {
    users: BTreeMap<String, SourceUser>,
    missing: Vec<String>,
}

async fn assigned_users(
    graph: &Arc<Graph>,
    assignments: &[AppRoleAssignment],
    known: &BTreeMap<String, SourceUser>,
    select: &str,
    attributes: &Arc<Vec<String>>,
    task: &Task,
) -> Result<Assigned, GraphError> {
    let wanted: Vec<String> = assignments
        .iter()
        .filter(|a| a.principal_type == "User" && !known.contains_key(&a.principal_id))
        .map(|a| a.principal_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    task.step("assigned users");
    let users = users_by_id(graph, &wanted, select, attributes, task).await?;
    let missing = wanted
        .into_iter()
        .filter(|id| !users.contains_key(id))
        .collect();
    Ok(Assigned { users, missing })
}

/// The users among Graph items (other objects are skipped).
fn source_users(items: Vec<Value>, attributes: &[String]) -> impl Iterator<Item = SourceUser> + '_ {
    items.into_iter().filter_map(move |item| match item {
        Value::Object(object) => Some(source_user(&object, attributes)),
        _ => None,
    })
}

fn source_user(user: &Map<String, Value>, attributes: &[String]) -> SourceUser {
    SourceUser {
        id: user
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        attributes: read_attributes(user, attributes),
    }
}

/// The users with these ids, by the cheaper of two strategies: `$filter=id in (...)` (15 ids a
/// request, 20 requests a `$batch`, so 300 users an HTTP request), or a `$select`ed listing of the
/// whole tenant (999 users a page) when most of the tenant is wanted. The tenant's size comes
/// from `/users/$count`, asked only when the choice is not obvious.
async fn users_by_id(
    graph: &Arc<Graph>,
    ids: &[String],
    select: &str,
    attributes: &Arc<Vec<String>>,
    task: &Task,
) -> Result<BTreeMap<String, SourceUser>, GraphError> {
    let mut found = BTreeMap::new();
    if ids.is_empty() {
        return Ok(found);
    }
    task.set_total(ids.len() as u64);
    let per_batch = IDS_PER_FILTER * MAX_BATCH;
    let batches = ids.len().div_ceil(per_batch);
    if batches > 1 {
        let count = graph
            .get_with(
                &graph.url("users/$count"),
                &[("ConsistencyLevel", "eventual")],
            )
            .await?;
        let tenant = count
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(usize::MAX);
        let listing = tenant.div_ceil(PAGE);
        tracing::debug!(
            target: "roster::graph",
            "{} assigned users: {batches} batched requests, or {listing} pages of all {tenant} users",
            ids.len()
        );
        if listing < batches {
            let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            let url = graph.url(&format!("users?$select={}&$top={PAGE}", encode(select)));
            graph
                .pages(&url, |items| {
                    for item in items {
                        let Value::Object(object) = item else {
                            continue;
                        };
                        if object
                            .get("id")
                            .and_then(Value::as_str)
                            .is_some_and(|id| wanted.contains(id))
                        {
                            task.add(1);
                            let user = source_user(&object, attributes);
                            found.insert(user.id.clone(), user);
                        }
                    }
                })
                .await?;
            return Ok(found);
        }
    }
    by_filter(graph, ids, select, attributes, task).await
}

/// `$filter=id in (...)` requests, batched 20 to a `$batch` (or sent alone when only one).
async fn by_filter(
    graph: &Arc<Graph>,
    ids: &[String],
    select: &str,
    attributes: &Arc<Vec<String>>,
    task: &Task,
) -> Result<BTreeMap<String, SourceUser>, GraphError> {
    let mut found = BTreeMap::new();
    let urls: Vec<String> = ids
        .chunks(IDS_PER_FILTER)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(|id| odata_string(id)).collect();
            format!(
                "/users?$filter={}&$select={}",
                encode(&format!("id in ({})", list.join(","))),
                encode(select)
            )
        })
        .collect();
    if let [only] = urls.as_slice() {
        // One request needs no batch around it.
        let url = graph.url(only);
        graph
            .pages(&url, |items| {
                task.add(items.len() as u64);
                found.extend(source_users(items, attributes).map(|u| (u.id.clone(), u)));
            })
            .await?;
        return Ok(found);
    }
    let reads = urls
        .chunks(MAX_BATCH)
        .map(|chunk| {
            let graph = Arc::clone(graph);
            let chunk = chunk.to_vec();
            let attributes = Arc::clone(attributes);
            let task = task.clone();
            async move {
                let replies = graph.batch_get(&chunk).await?;
                let mut users = Vec::new();
                for (reply, url) in replies.into_iter().zip(&chunk) {
                    if reply.status != 200 {
                        let (code, message) =
                            crate::http::error_body(reply.body.to_string().as_bytes());
                        return Err(GraphError::Read(format!(
                            "Microsoft Graph GET /v1.0{} (in a $batch): HTTP {}{}: {}",
                            url.split('?').next().unwrap_or_default(),
                            reply.status,
                            code.map(|c| format!(" {c}")).unwrap_or_default(),
                            message.unwrap_or_default()
                        )));
                    }
                    let items = reply
                        .body
                        .get("value")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    task.add(items.len() as u64);
                    users.extend(source_users(items, &attributes));
                }
                Ok::<_, GraphError>(users)
            }
        })
        .collect();
    for users in concurrent::all(CONCURRENCY, reads).await? {
        for user in users {
            found.insert(user.id.clone(), user);
        }
    }
    Ok(found)
}
