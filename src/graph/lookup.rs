//! One Entra user roster did not read, looked up for `roster explain`: the user, the groups
//! they belong to directly (`memberOf`) and through nested groups (`transitiveMemberOf`), and
//! the applications they are assigned to directly (`appRoleAssignments`). Microsoft Graph v1.0,
//! "List a user's direct memberships", "List a user's memberships (direct and transitive)",
//! "List appRoleAssignments granted to a user".

use serde_json::Value;

use super::attributes::{Selected, graph_select, source_attributes};
use super::read::source_user;
use super::{Graph, GraphError, encode};
use crate::config::Config;
use crate::http::HttpError;
use crate::model::{UnassignedUser, UnreadUser};
use crate::sorted_map::{Fields, Name};

/// Looks `user` (a userPrincipalName or object id) up, with the attributes `config` reads (as
/// a read takes them, types checked); `None` when Entra has no such user.
///
/// # Errors
/// A failed request, or an answer without the properties asked for.
pub(crate) async fn look_up(
    graph: &Graph,
    config: &Config,
    user: &str,
) -> Result<Option<UnreadUser>, GraphError> {
    let mut names = source_attributes(config);
    for shown in ["displayName", "accountEnabled"] {
        if !names.iter().any(|n| **n == *shown) {
            names.push(Name::from(shown));
        }
    }
    let selected = Selected::new(names);
    let Some(found) = user_selected(graph, user, &graph_select(&selected)).await? else {
        return Ok(None);
    };
    let unexpected = |why: String| {
        GraphError::Read(format!(
            "Microsoft Graph GET /users/{user}: the answer is not what roster expects: {why}"
        ))
    };
    let fields: Fields = serde_json::from_value(found.clone())
        .map_err(|e| unexpected(format!("the user is not an object ({e})")))?;
    let attributes = source_user(fields, &selected)
        .map_err(unexpected)?
        .attributes;
    let text = |key: &str| found.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(user_principal_name)) = (text("id"), text("userPrincipalName")) else {
        return Err(GraphError::Read(format!(
            "Microsoft Graph GET /users/{user}: the answer is not what roster expects: no `id` \
             or `userPrincipalName`"
        )));
    };
    let groups = |relation: &'static str| {
        let url = graph.url(&format!(
            "users/{}/{relation}?$select=id,displayName",
            encode(&id)
        ));
        async move {
            let mut groups = Vec::new();
            graph
                .pages(&url, |items: Vec<Value>| {
                    for item in items {
                        // Memberships include directory roles and administrative units.
                        if item.get("@odata.type").and_then(Value::as_str)
                            != Some("#microsoft.graph.group")
                        {
                            continue;
                        }
                        let name = |key: &str| item.get(key).and_then(Value::as_str);
                        let Some(group) = name("id") else {
                            return Err("a group has no `id`".to_owned());
                        };
                        groups.push((
                            group.to_owned(),
                            name("displayName").unwrap_or(group).to_owned(),
                        ));
                    }
                    Ok(())
                })
                .await
                .map(|()| groups)
        }
    };
    let assignments = async {
        let url = graph.url(&format!("users/{}/appRoleAssignments", encode(&id)));
        let mut applications: Vec<String> = Vec::new();
        graph
            .pages(&url, |items: Vec<Value>| {
                for item in items {
                    let Some(app) = item.get("resourceDisplayName").and_then(Value::as_str) else {
                        return Err("an assignment has no `resourceDisplayName`".to_owned());
                    };
                    if !applications.iter().any(|a| a == app) {
                        applications.push(app.to_owned());
                    }
                }
                Ok(())
            })
            .await
            .map(|()| applications)
    };
    let (direct_groups, all_groups, applications) = tokio::try_join!(
        groups("memberOf"),
        groups("transitiveMemberOf"),
        assignments
    )?;
    Ok(Some(UnreadUser {
        id,
        user_principal_name,
        display_name: text("displayName"),
        account_enabled: found.get("accountEnabled").and_then(Value::as_bool),
        direct_groups,
        all_groups,
        applications,
        attributes,
    }))
}

/// `GET /users/{user}?$select={select}` (Graph v1.0 "Get user"): the user object, or `None`
/// when Entra has no such user (404).
async fn user_selected(
    graph: &Graph,
    user: &str,
    select: &str,
) -> Result<Option<Value>, GraphError> {
    let url = graph.url(&format!(
        "users/{}?$select={}",
        encode(user),
        encode(select)
    ));
    match graph.get(&url).await {
        Ok(found) => Ok(Some(found)),
        Err(GraphError::Http(HttpError::Status { status: 404, .. })) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The Entra user whose userPrincipalName (or object id) is `user`, named only — id,
/// userPrincipalName, displayName (Graph v1.0 "Get user", `$select`); `None` when Entra has no
/// such user (404). What `roster explain` of a Salesforce Username asks to say that the name is
/// also a tenant user's, one roster did not read.
///
/// # Errors
/// A failed request, or an answer without an `id`.
pub(crate) async fn user_named(
    graph: &Graph,
    user: &str,
) -> Result<Option<UnassignedUser>, GraphError> {
    let Some(found) = user_selected(graph, user, "id,userPrincipalName,displayName").await? else {
        return Ok(None);
    };
    let text = |key: &str| found.get(key).and_then(Value::as_str).map(str::to_owned);
    let Some(id) = text("id") else {
        return Err(GraphError::Read(format!(
            "Microsoft Graph GET /users/{user}: the answer is not what roster expects: no `id`"
        )));
    };
    Ok(Some(UnassignedUser {
        id: id.to_lowercase(),
        user_principal_name: text("userPrincipalName"),
        display_name: text("displayName"),
    }))
}
