//! Writing the plan's app-role changes: the service principal's `appRoles` read fresh, changed,
//! and written back whole in one `PATCH /servicePrincipals/{id}` (Microsoft Graph "Update
//! servicePrincipal": `appRoles` is a collection written as a whole — every role sent again, or
//! it is taken as a deletion). Properties roster does not manage (`description`,
//! `allowedMemberTypes`, ...) are sent back as read; `origin`, read-only, is not sent. Needs
//! Application.ReadWrite.OwnedBy (roster's app an owner of the service principal) or
//! Application.ReadWrite.All.

use serde_json::{Value, json};

use crate::config::Application;
use crate::graph::{Graph, GraphError, encode};
use crate::plan::{AppRoleAction, AppRoleChange};

/// Applies `changes` to the application's app roles. An error says what failed; for a 403, the
/// permission the write needs.
pub(crate) async fn write(
    graph: &Graph,
    application: &Application,
    changes: &[AppRoleChange],
) -> Result<(), String> {
    let failed = |e: GraphError| {
        let text = e.to_string();
        if text.contains(" 403") || text.contains("Authorization_RequestDenied") {
            format!(
                "{text} — writing app roles needs the Microsoft Graph application permission \
                 Application.ReadWrite.OwnedBy (with roster's app registration an owner of the \
                 enterprise application) or Application.ReadWrite.All"
            )
        } else {
            text
        }
    };
    let sp = crate::graph::service_principal(graph, application)
        .await
        .map_err(failed)?;
    let url = graph.url(&format!("servicePrincipals/{}", encode(&sp.id)));
    let current = graph
        .get(&format!("{url}?$select=appRoles"))
        .await
        .map_err(failed)?;
    let Some(Value::Array(roles)) = current.get("appRoles") else {
        return Err("Microsoft Graph returned the service principal without `appRoles`".to_owned());
    };
    let roles = changed(roles.clone(), changes)?;
    graph
        .patch(&url, &json!({"appRoles": roles}))
        .await
        .map_err(failed)
}

/// `roles` (Graph's JSON) with `changes` made.
fn changed(mut roles: Vec<Value>, changes: &[AppRoleChange]) -> Result<Vec<Value>, String> {
    let position = |roles: &[Value], id: &str| {
        roles
            .iter()
            .position(|r| r.get("id").and_then(Value::as_str) == Some(id))
    };
    for change in changes {
        let after = change.after.as_ref();
        match change.action {
            AppRoleAction::Add => {
                let Some(after) = after else { continue };
                if position(&roles, &change.id).is_none() {
                    roles.push(json!({
                        "id": change.id,
                        "displayName": after.display_name,
                        "value": after.value,
                        "description": format!("Salesforce profile {}", after.display_name),
                        "isEnabled": true,
                        "allowedMemberTypes": ["User"],
                    }));
                }
            }
            AppRoleAction::Update | AppRoleAction::Disable => {
                let (Some(i), Some(after)) = (position(&roles, &change.id), after) else {
                    return Err(format!(
                        "app role {:?} ({}) is gone from the application since the plan",
                        change.name(),
                        change.id
                    ));
                };
                roles[i]["displayName"] = json!(after.display_name);
                roles[i]["isEnabled"] = json!(after.is_enabled);
            }
            AppRoleAction::Remove => {
                if let Some(i) = position(&roles, &change.id) {
                    roles.remove(i);
                }
            }
        }
    }
    for role in &mut roles {
        if let Some(object) = role.as_object_mut() {
            object.remove("origin");
        }
    }
    Ok(roles)
}
