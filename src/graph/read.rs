//! Taking the source snapshot: the enterprise application and its app roles, every
//! `appRoleAssignedTo` row, the *direct* members of assigned groups (Entra does not expand nested
//! groups), the groups role rules name, and the referenced attributes of exactly the users in
//! question, read the cheapest way the page limits allow.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::attributes::{
    Selected, graph_select, missing_property, read_attributes, source_attributes_with,
};
use super::{Graph, GraphError, Item, MAX_BATCH, encode, odata_string};
use crate::concurrent;
use crate::config::{Application, Assignment, Config, RoleCondition};
use crate::field_value::FieldValue;
use crate::model::{
    AppRole, AppRoleAssignment, DeletedUser, Group, SNAPSHOT_FORMAT, ServicePrincipal,
    SourceSnapshot, SourceUser,
};
use crate::progress::Task;
use crate::sorted_map::Fields;

/// Graph's largest page for directory collections.
const PAGE: usize = 999;
/// Ids in one `$filter=id in (...)`: Graph allows 15 values in an `in` clause.
const IDS_PER_FILTER: usize = 15;
/// Graph requests in flight at once.
const CONCURRENCY: usize = 4;

/// Reads what Entra says about the application's users: the attributes `config` reads, and
/// those `also` reads (the baseline config a plan is compared with).
pub(crate) async fn read(
    graph: Arc<Graph>,
    config: &Config,
    also: Option<&Config>,
    task: Task,
) -> Result<SourceSnapshot, GraphError> {
    let attributes = Arc::new(Selected::new(source_attributes_with(config, also)));
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
            for item in &items {
                assignments.push(assignment(item)?);
            }
            Ok(())
        })
        .await?;
    assignments.sort_by(|a, b| a.id.cmp(&b.id));

    let mut warnings = Vec::new();
    let role_groups = role_groups(config, also);
    let groups = groups_to_read(&graph, &role_groups, &assignments, &mut warnings).await?;

    task.step("group members");
    let users_with_groups = config.scope.assignment == Assignment::Assigned;
    let (groups, mut users) = read_groups(
        &graph,
        &groups,
        users_with_groups,
        &select,
        &attributes,
        &task,
        &mut warnings,
    )
    .await?;

    let mut deleted_users = Vec::new();
    if users_with_groups {
        let found =
            assigned_users(&graph, &assignments, &users, &select, &attributes, &task).await?;
        // Graph does not return a deleted user: the one absence that is not a read error.
        deleted_users = found
            .missing
            .into_iter()
            .map(|id| DeletedUser {
                display_name: assignments
                    .iter()
                    .find(|a| a.principal_id == id)
                    .and_then(|a| a.principal_display_name.clone()),
                id,
            })
            .collect();
        // Assignees no group read returned: none of them is among `users`.
        users.extend(found.users.into_values());
        users.sort_by(|a, b| a.id.cmp(&b.id));
    } else {
        task.step("all users");
        let url = graph.url(&format!("users?$select={}&$top={PAGE}", encode(&select)));
        let mut read = Vec::new();
        graph
            .pages(&url, |items| {
                task.add(items.len() as u64);
                read.extend(
                    source_users(items, &attributes)?
                        .into_iter()
                        .map(|u| (u, 0)),
                );
                Ok(())
            })
            .await?;
        users = by_id(read, &["the list of users".to_owned()], &mut warnings);
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
        users,
        attributes: attributes.iter().map(ToString::to_string).collect(),
        role_groups,
        deleted_users,
        // Looked up once the org is read too (`read::live`); every user is read with
        // `assignment: all`.
        unassigned_users: Some(Vec::new()),
        warnings,
    })
}

/// The direct members of each group, read side by side; with `keep_users`, the users of
/// assigned groups come back with their attributes (no second read needed). A nested group is
/// a warning: Entra does not provision its members.
async fn read_groups(
    graph: &Arc<Graph>,
    groups: &BTreeMap<String, (String, bool)>,
    users_with_groups: bool,
    select: &str,
    attributes: &Arc<Selected>,
    task: &Task,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Group>, Vec<SourceUser>), GraphError> {
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
                        users.push(source_user(user, &attributes)?);
                    }
                    Ok(())
                })
                .await?;
                Ok::<_, GraphError>((group, users))
            }
        })
        .collect();
    let (mut read, mut groups, mut sources) = (Vec::new(), Vec::new(), Vec::new());
    for (group, members) in concurrent::all(CONCURRENCY, reads).await? {
        let from = u32::try_from(sources.len()).unwrap_or(u32::MAX);
        sources.push(format!("the members of group {:?}", group.display_name));
        read.extend(members.into_iter().map(|user| (user, from)));
        groups.push(group);
    }
    let users = by_id(read, &sources, warnings);
    for group in &groups {
        for nested in &group.nested_groups {
            warnings.push(format!(
                "group {:?} contains the nested group {nested:?}: Entra does not provision \
                 members of nested groups, and neither does roster",
                group.display_name
            ));
        }
    }
    Ok((groups, users))
}

/// The users `read` holds (in reading order, each with the index in `sources` of the listing
/// it came from), by id. A user read twice (in two groups, or twice in one listing) is kept as
/// read last; when the copies differ — Entra changed during the read, or its replicas
/// disagreed — a warning names the user and the attributes, since the plan may rest on the
/// older copy. The warnings come in the order the later copies were read.
///
/// Sorted once rather than kept in a map as they come: for 100,000 users, the map's inserts
/// took some 25 ms after the last page, on the way to the plan.
fn by_id(
    read: Vec<(SourceUser, u32)>,
    sources: &[String],
    warnings: &mut Vec<String>,
) -> Vec<SourceUser> {
    let mut read: Vec<(usize, SourceUser, u32)> = read
        .into_iter()
        .enumerate()
        .map(|(at, (user, from))| (at, user, from))
        .collect();
    // Stable: the copies of one user stay in reading order.
    read.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    let mut users: Vec<SourceUser> = Vec::with_capacity(read.len());
    let mut twice: Vec<(usize, String)> = Vec::new();
    for (at, user, from) in read {
        match users.last_mut() {
            Some(earlier) if earlier.id == user.id => {
                let from = sources.get(from as usize).map_or("", String::as_str);
                if let Some(warning) = read_twice(earlier, &user, from) {
                    twice.push((at, warning));
                }
                *earlier = user;
            }
            _ => users.push(user),
        }
    }
    twice.sort_by_key(|(at, _)| *at);
    for (_, warning) in twice {
        // Read again and again the same way (a user in several groups): said once.
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
    users
}

/// The warning for a user read as `earlier`, then as `later` from `from`, when the copies
/// differ.
fn read_twice(earlier: &SourceUser, later: &SourceUser, from: &str) -> Option<String> {
    if earlier.attributes == later.attributes {
        return None;
    }
    let names: BTreeSet<&str> = earlier
        .attributes
        .iter()
        .chain(later.attributes.iter())
        .filter(|(name, value)| {
            earlier.attributes.get(name) != Some(*value)
                || later.attributes.get(name) != Some(*value)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let key = later
        .attributes
        .text("userPrincipalName")
        .unwrap_or(&later.id);
    Some(format!(
        "user {key:?} was read twice with different {}: roster plans the copy read last, from \
         {from}. Entra changed while roster read it, or its replicas disagreed; plan again \
         before you apply",
        names.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// Finds the service principal by id, app id or display name; none or several is an error.
pub(crate) async fn service_principal(
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
            graph
                .pages(&url, |items: Vec<Value>| {
                    matches.extend(items);
                    Ok(())
                })
                .await?;
            match matches.len() {
                1 => matches.remove(0),
                0 => {
                    return Err(GraphError::Config {
                        pointer: "/source/application/display_name",
                        message: format!("the tenant has no enterprise application named {name:?}"),
                        help: "check the name in Entra > Enterprise applications, or use \
                               service_principal_id"
                            .to_owned(),
                    });
                }
                n => {
                    let ids: Vec<&str> = matches
                        .iter()
                        .filter_map(|m| m.get("id").and_then(Value::as_str))
                        .collect();
                    return Err(GraphError::Config {
                        pointer: "/source/application/display_name",
                        message: format!(
                            "{n} enterprise applications are named {name:?} (service principal ids {})",
                            ids.join(", ")
                        ),
                        help: "use source.application.service_principal_id to say which one"
                            .to_owned(),
                    });
                }
            }
        }
    };
    service_principal_of(&found).map_err(|detail| {
        GraphError::Read(format!(
            "Microsoft Graph: the enterprise application is not what roster expects: {detail}"
        ))
    })
}

/// A string property every item of this kind has; its absence is a malformed answer.
fn required(item: &impl Properties, key: &str) -> Result<String, String> {
    match item.property(key) {
        // An empty id would link nobody, or write "" over a Salesforce user's link field.
        Some(Property::Text(text)) if text.trim().is_empty() => Err(format!("`{key}` is empty")),
        Some(Property::Text(text)) => Ok(text.to_owned()),
        Some(Property::Null) => Err(format!("`{key}` is null, not a string")),
        Some(Property::Other(shown)) => Err(format!("`{key}` is {shown}, not a string")),
        None => Err(format!("an item has no `{key}`")),
    }
}

/// One property of an item, as `required` and `optional` read it: null, text, or anything
/// else as its JSON text (to be named in an error).
enum Property<'a> {
    Null,
    Text(&'a str),
    Other(String),
}

/// What an item of a Graph page has by name: a JSON value's properties, or a directory
/// object's read as an `Item` (its `Fields`).
trait Properties {
    /// Property `key`, `None` when the item has none.
    fn property(&self, key: &str) -> Option<Property<'_>>;
}

impl Properties for Value {
    fn property(&self, key: &str) -> Option<Property<'_>> {
        Some(match Value::get(self, key)? {
            Value::Null => Property::Null,
            Value::String(text) => Property::Text(text),
            other => Property::Other(other.to_string()),
        })
    }
}

impl Properties for Fields {
    fn property(&self, key: &str) -> Option<Property<'_>> {
        Some(match Fields::get(self, key)? {
            FieldValue::Null => Property::Null,
            FieldValue::Text(text) => Property::Text(text),
            other => Property::Other(other.to_string()),
        })
    }
}

/// A string property that may be null or absent.
fn optional(item: &impl Properties, key: &str) -> Result<Option<String>, String> {
    match item.property(key) {
        None | Some(Property::Null) => Ok(None),
        Some(Property::Text(text)) => Ok(Some(text.to_owned())),
        Some(Property::Other(shown)) => Err(format!("`{key}` is {shown}, not a string")),
    }
}

/// The service principal with its app roles (`id`, `displayName`, `value` — null for
/// Default Access — and `isEnabled`).
fn service_principal_of(found: &Value) -> Result<ServicePrincipal, String> {
    Ok(ServicePrincipal {
        id: required(found, "id")?,
        app_id: required(found, "appId")?,
        display_name: optional(found, "displayName")?.unwrap_or_default(),
        app_roles: app_roles_of(found)?,
    })
}

/// The app roles of a service principal's (or an application manifest's) JSON: its `appRoles`
/// array, or the array itself; ordered by id.
pub(crate) fn app_roles_of(found: &Value) -> Result<Vec<AppRole>, String> {
    let roles = match found {
        Value::Array(roles) => roles,
        _ => match found.get("appRoles") {
            Some(Value::Array(roles)) => roles,
            _ => return Err("it has no `appRoles` array".to_owned()),
        },
    };
    let mut app_roles = roles
        .iter()
        .map(|r| {
            Ok(AppRole {
                id: required(r, "id")?,
                display_name: optional(r, "displayName")?.unwrap_or_default(),
                value: optional(r, "value")?,
                is_enabled: match r.get("isEnabled") {
                    Some(Value::Bool(enabled)) => *enabled,
                    None => true,
                    Some(other) => return Err(format!("`isEnabled` is {other}, not a boolean")),
                },
            })
        })
        .collect::<Result<Vec<AppRole>, String>>()?;
    app_roles.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(app_roles)
}

/// One `appRoleAssignedTo` row; every field roster reads must be there, and `principalType`
/// one of the three Graph documents (`User`, `Group`, `ServicePrincipal`; Graph v1.0
/// appRoleAssignment resource): an assignment of a kind roster cannot read would lose whoever
/// it puts in scope.
fn assignment(item: &Value) -> Result<AppRoleAssignment, String> {
    let principal_type = required(item, "principalType")?;
    if !matches!(
        principal_type.as_str(),
        "User" | "Group" | "ServicePrincipal"
    ) {
        return Err(format!(
            "an assignment has principalType {principal_type:?}, not User, Group or \
             ServicePrincipal"
        ));
    }
    Ok(AppRoleAssignment {
        id: required(item, "id")?,
        principal_type,
        principal_id: required(item, "principalId")?,
        principal_display_name: optional(item, "principalDisplayName")?,
        app_role_id: required(item, "appRoleId")?,
    })
}

/// The groups the role rules of `config` and `also` name, as they name them, each once (in the
/// rules' order).
pub(crate) fn role_groups(config: &Config, also: Option<&Config>) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    for rule in std::iter::once(config)
        .chain(also)
        .flat_map(|c| &c.roles.rules)
    {
        if let RoleCondition::Group(group) = &rule.when
            && !named.contains(group)
        {
            named.push(group.clone());
        }
    }
    named
}

/// The groups to read the members of, by id: those assigned to the application, and those
/// `named` by role rules (looked up by object id or display name). A name several groups have
/// is a warning; one no group has is left for the planner to refuse at its place.
async fn groups_to_read(
    graph: &Graph,
    named: &[String],
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
    for wanted in named {
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
        graph
            .pages(&url, |items: Vec<Value>| {
                for group in &items {
                    found.push((
                        required(group, "id")?,
                        optional(group, "displayName")?.unwrap_or_default(),
                    ));
                }
                Ok(())
            })
            .await?;
        match found.as_slice() {
            // An assigned group found again (its assignment gave no name) stays assigned, and
            // takes the name Graph gives.
            [(id, name)] => {
                let group = groups
                    .entry(id.clone())
                    .or_insert_with(|| (String::new(), false));
                if group.0.is_empty() {
                    group.0.clone_from(name);
                }
            }
            // The planner refuses a rule on a group Entra does not have, at its place.
            [] => {}
            many => warnings.push(format!(
                "a role rule names the group {wanted:?}, and {} groups have that name: give its \
                 object id instead; the rule matches nobody",
                many.len()
            )),
        }
    }
    Ok(groups)
}

/// Whether `text` is a GUID in its plain 36-character form (`0000000e-0000-4000-8000-...`), as
/// Graph writes object ids.
pub(crate) fn looks_like_guid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// A GUID as `text` holds it, without the braces or parentheses PowerShell and .NET write GUIDs
/// in (`{0000000e-...}`, `(0000000e-...)`, `[guid]::NewGuid().ToString("B")`); `text` itself
/// when it is no GUID so enclosed.
fn unenclosed_guid(text: &str) -> &str {
    [('{', '}'), ('(', ')')]
        .iter()
        .find_map(|&(open, close)| text.strip_prefix(open)?.strip_suffix(close))
        .filter(|id| looks_like_guid(id) || hex32(id))
        .unwrap_or(text)
}

/// Whether `text` is 32 hex digits: a GUID without hyphens (.NET's `ToString("N")`).
fn hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An object id as `text` holds it, in Graph's form: `unenclosed_guid`, and 32 hex digits
/// without hyphens (.NET's `ToString("N")`) hyphenated. `text` itself for anything else.
pub(crate) fn object_id_form(text: &str) -> std::borrow::Cow<'_, str> {
    let text = unenclosed_guid(text);
    if hex32(text) {
        std::borrow::Cow::Owned(format!(
            "{}-{}-{}-{}-{}",
            &text[..8],
            &text[8..12],
            &text[12..16],
            &text[16..20],
            &text[20..]
        ))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The object id an object-id anchor holds (`held`), trimmed, in Graph's form
/// (`object_id_form`), in lower case when it is a GUID (as Graph writes ids); other text as
/// written; `None` when blank.
pub(crate) fn anchored_id(held: &str) -> Option<std::borrow::Cow<'_, str>> {
    let held = held.trim();
    if held.is_empty() {
        return None;
    }
    let id = object_id_form(held);
    Some(
        if looks_like_guid(&id) && id.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(id.to_ascii_lowercase())
        } else {
            id
        },
    )
}

/// The object id an object-id anchor holds (`anchored_id`), when it is a GUID: text that is
/// none ("TBD", "n/a") is no one's id.
pub(crate) fn anchored_guid(held: &str) -> Option<std::borrow::Cow<'_, str>> {
    anchored_id(held).filter(|id| looks_like_guid(id))
}

/// Of `ids` (object ids in Graph's form, lower case, each once), the users Graph finds among
/// the tenant's, in id order, with their userPrincipalName and display name: `users_by_id`. An
/// id Graph does not find (another tenant's, a user deleted, a typo of a GUID) is left out.
///
/// Errors: the read's (`GraphError`), as any read of users by id.
pub(crate) async fn users_found(
    graph: &Arc<Graph>,
    ids: &[String],
    task: &Task,
) -> Result<Vec<crate::model::UnassignedUser>, GraphError> {
    let names = Arc::new(Selected::new(vec![
        crate::sorted_map::Name::from("userPrincipalName"),
        crate::sorted_map::Name::from("displayName"),
    ]));
    let found = users_by_id(graph, ids, &graph_select(&names), &names, task).await?;
    let mut found: Vec<crate::model::UnassignedUser> = found
        .into_values()
        .map(|user| crate::model::UnassignedUser {
            id: user.id.to_ascii_lowercase(),
            user_principal_name: user.attributes.text("userPrincipalName").map(str::to_owned),
            display_name: user.attributes.text("displayName").map(str::to_owned),
        })
        .collect();
    crate::model::UnassignedUser::in_id_order(&mut found);
    Ok(found)
}

/// A group's direct members: users (handed to `each_user` with their selected properties) and
/// nested groups (only noted). Every member must carry its `id` and `@odata.type`.
async fn members(
    graph: &Graph,
    mut group: Group,
    select: &str,
    task: &Task,
    mut each_user: impl FnMut(Fields) -> Result<(), String>,
) -> Result<Group, GraphError> {
    let url = graph.url(&format!(
        "groups/{}/members?$select={}&$top={PAGE}",
        encode(&group.id),
        encode(select)
    ));
    graph
        .pages(&url, |items: Vec<Item>| {
            task.add(items.len() as u64);
            for item in items {
                let member = match item {
                    Item::Object(member) => member,
                    Item::Other(other) => {
                        return Err(format!("a member is {other}, not an object"));
                    }
                };
                let kind = required(&member, "@odata.type")?;
                let id = required(&member, "id")?;
                match kind.as_str() {
                    "#microsoft.graph.user" => {
                        group.members.push(id);
                        each_user(member)?;
                    }
                    "#microsoft.graph.group" => group
                        .nested_groups
                        .push(optional(&member, "displayName")?.unwrap_or(id)),
                    // Devices, service principals and contacts are not provisioned.
                    "#microsoft.graph.device"
                    | "#microsoft.graph.servicePrincipal"
                    | "#microsoft.graph.orgContact" => {}
                    // Anything else is not a member type Graph has: a user could hide in it.
                    other => return Err(format!("a member has the unknown type {other:?}")),
                }
            }
            Ok(())
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
    known: &[SourceUser],
    select: &str,
    attributes: &Arc<Selected>,
    task: &Task,
) -> Result<Assigned, GraphError> {
    let wanted: Vec<String> = assignments
        .iter()
        .filter(|a| {
            a.principal_type == "User"
                && known
                    .binary_search_by(|u| u.id.as_str().cmp(&a.principal_id))
                    .is_err()
        })
        .map(|a| a.principal_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    task.step("assigned users");
    let users = users_by_id(graph, &wanted, select, attributes, task).await?;
    let missing: Vec<String> = wanted
        .into_iter()
        .filter(|id| !users.contains_key(id))
        .collect();
    confirm_deleted(graph, &missing).await?;
    Ok(Assigned { users, missing })
}

/// Each assignee the listing left out is asked for by id: only a 404 makes them deleted. A user
/// Graph still returns was missed by the listing (a replica behind, a page lost), and a read
/// that missed someone would deactivate them: it fails instead.
async fn confirm_deleted(graph: &Arc<Graph>, missing: &[String]) -> Result<(), GraphError> {
    let lookups: Vec<_> = missing
        .iter()
        .map(|id| {
            let graph = Arc::clone(graph);
            let url = graph.url(&format!("users/{}?$select=id", encode(id)));
            let id = id.clone();
            async move {
                match graph.get(&url).await {
                    Err(GraphError::Http(crate::http::HttpError::Status {
                        status: 404, ..
                    })) => Ok(()),
                    Err(e) => Err(e),
                    Ok(_) => Err(GraphError::Read(format!(
                        "Microsoft Graph lists user {id} among the application's assignees and \
                         returns them by id, but not when reading users by id in bulk; the read \
                         is incomplete, so roster does not plan on it (run again)"
                    ))),
                }
            }
        })
        .collect();
    concurrent::all(CONCURRENCY, lookups).await?;
    Ok(())
}

/// The users of a page of Graph user objects; each must be an object with an `id`.
fn source_users(items: Vec<Item>, attributes: &Selected) -> Result<Vec<SourceUser>, String> {
    items
        .into_iter()
        .map(|item| match item {
            Item::Object(object) => source_user(object, attributes),
            Item::Other(other) => Err(format!("a user is {other}, not an object")),
        })
        .collect()
}

/// A Graph user object's id and the attributes the config reads, taken from it.
pub(super) fn source_user(user: Fields, attributes: &Selected) -> Result<SourceUser, String> {
    let id = required(&user, "id")?;
    // What Graph never sends is refused, not converted: a `"false"` taken for enabled would
    // provision a disabled account, a number taken for a userPrincipalName would name one.
    if let Some(wrong) = attributes.wrong_type(&user) {
        return Err(format!("user {id} has {wrong}"));
    }
    if let Some(missing) = missing_property(&user, attributes) {
        return Err(format!(
            "user {id} lacks the selected property for `{missing}` (Graph answers every \
             selected property, null or not)"
        ));
    }
    Ok(SourceUser {
        attributes: read_attributes(user, attributes),
        id,
    })
}

/// The users with these ids, by the cheaper of two strategies: `$filter=id in (...)` (15 ids a
/// request, 20 requests a `$batch`, so 300 users an HTTP request), or a `$select`ed listing of the
/// whole tenant (999 users a page) when most of the tenant is wanted. The tenant's size comes
/// from `/users/$count`, asked only when the choice is not obvious.
async fn users_by_id(
    graph: &Arc<Graph>,
    ids: &[String],
    select: &str,
    attributes: &Arc<Selected>,
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
                    for user in source_users(items, attributes)? {
                        if wanted.contains(user.id.as_str()) {
                            task.add(1);
                            found.insert(user.id.clone(), user);
                        }
                    }
                    Ok(())
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
    attributes: &Arc<Selected>,
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
    let asked: BTreeSet<String> = ids.iter().map(|id| id.to_ascii_lowercase()).collect();
    if let [only] = urls.as_slice() {
        // One request needs no batch around it.
        let url = graph.url(only);
        let mut users = Vec::new();
        graph
            .pages(&url, |items| {
                task.add(items.len() as u64);
                users.extend(source_users(items, attributes)?);
                Ok(())
            })
            .await?;
        keep_asked(&mut found, &asked, users)?;
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
                for (mut reply, url) in replies.into_iter().zip(&chunk) {
                    // A success without a `value` array (an answer cut short) is a failed read,
                    // never "no users".
                    let status = reply.status;
                    let unexpected = |detail: &str| {
                        GraphError::Read(format!(
                            "Microsoft Graph GET /v1.0{} (in a $batch): HTTP {status}, but the \
                             answer is not what roster expects: {detail}",
                            url.split('?').next().unwrap_or_default(),
                        ))
                    };
                    let Some(Value::Array(items)) = reply.body.get_mut("value").map(Value::take)
                    else {
                        return Err(unexpected("it has no `value` array"));
                    };
                    task.add(items.len() as u64);
                    let items = items.into_iter().map(Item::from).collect();
                    users.extend(source_users(items, &attributes).map_err(|e| unexpected(&e))?);
                    // Fifteen ids fit one page; should Graph page anyway, the rest is read too.
                    // Its next links page the item's own resource, like any listing's.
                    if let Some(next) = reply.body.get("@odata.nextLink").and_then(Value::as_str) {
                        graph
                            .pages_of(&graph.url(url), next, |items| {
                                task.add(items.len() as u64);
                                users.extend(source_users(items, &attributes)?);
                                Ok(())
                            })
                            .await?;
                    }
                }
                Ok::<_, GraphError>(users)
            }
        })
        .collect();
    for users in concurrent::all(CONCURRENCY, reads).await? {
        keep_asked(&mut found, &asked, users)?;
    }
    Ok(found)
}

/// Keeps `users`, read by id, in `found` — failing the read at the first that is not one of the
/// ids asked for (lower case in `asked`): an answer to `$filter=id in (...)` holding anyone else
/// is not what Graph sends, and would put that user's copy in the snapshot.
fn keep_asked(
    found: &mut BTreeMap<String, SourceUser>,
    asked: &BTreeSet<String>,
    users: Vec<SourceUser>,
) -> Result<(), GraphError> {
    for user in users {
        if !asked.contains(&user.id.to_ascii_lowercase()) {
            return Err(GraphError::Read(format!(
                "Microsoft Graph GET /v1.0/users?$filter=id in (...): the answer is not what \
                 roster expects: it holds user {}, which was not asked for",
                crate::render::visible(&user.id)
            )));
        }
        found.insert(user.id.clone(), user);
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    /// An object id in braces, in parentheses or without hyphens is the id; other text is kept.
    #[test]
    fn object_ids_in_dotnet_forms_are_the_id() {
        let id = "0000000e-0000-4000-8000-00000000000a";
        for form in [
            "{0000000e-0000-4000-8000-00000000000a}",
            "(0000000e-0000-4000-8000-00000000000a)",
            "0000000e00004000800000000000000a",
        ] {
            assert_eq!(super::object_id_form(form), id, "{form}");
        }
        assert_eq!(super::object_id_form("{not-a-guid}"), "{not-a-guid}");
        assert_eq!(super::object_id_form("E1040"), "E1040");
    }

    use super::*;
    use crate::sorted_map::Name;
    use crate::user_attributes::UserAttributes;

    fn user(id: &str, title: &str) -> SourceUser {
        SourceUser {
            id: id.to_owned(),
            attributes: UserAttributes::from([
                (Name::from("jobTitle"), Value::from(title)),
                (
                    Name::from("userPrincipalName"),
                    Value::from(format!("{id}@x")),
                ),
            ]),
        }
    }

    #[test]
    fn users_read_twice_are_kept_as_read_last_by_id_with_one_warning_per_difference() {
        let sources = ["group A".to_owned(), "group B".to_owned()];
        let read = vec![
            (user("c", "one"), 0),
            (user("a", "one"), 0),
            (user("b", "one"), 0),
            // The same copy again (a user in two groups): no warning.
            (user("b", "one"), 1),
            (user("c", "two"), 1),
            (user("a", "two"), 1),
            (user("a", "three"), 1),
        ];
        let mut warnings = vec!["earlier".to_owned()];
        let users = by_id(read, &sources, &mut warnings);
        let kept: Vec<(&str, Option<&str>)> = users
            .iter()
            .map(|u| (u.id.as_str(), u.attributes.text("jobTitle")))
            .collect();
        assert_eq!(
            kept,
            [("a", Some("three")), ("b", Some("one")), ("c", Some("two"))]
        );
        // In the order the later copies were read: c's (5th), then a's (6th and 7th), each
        // said once.
        let said: Vec<&str> = warnings
            .iter()
            .map(|w| w.split(" was read").next().unwrap_or_default())
            .collect();
        assert_eq!(said, ["earlier", "user \"c@x\"", "user \"a@x\""]);
        assert!(
            warnings[1]
                .contains("different jobTitle: roster plans the copy read last, from group B"),
            "{warnings:?}"
        );
    }
}
