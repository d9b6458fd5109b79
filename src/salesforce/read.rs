//! Taking the target snapshot: the org, its users with the fields roster compares and manages,
//! profiles with their licences, roles, permission sets and the assignments of the ones the
//! config names. Independent queries run side by side.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::client::{Salesforce, SalesforceError};
use super::soql;
use crate::config::{Config, OutOfScope};
use crate::model::{
    Org, PermissionSet, PermissionSetAssignment, Profile, SNAPSHOT_FORMAT, TargetSnapshot,
    TargetUser, UserLicense, UserLogin, UserRole,
};
use crate::progress::Task;

/// Fields every user is read with: identity, lifecycle, and what the staleness check compares.
const USER_BASE_FIELDS: &[&str] = &[
    "Id",
    "Username",
    "Email",
    "IsActive",
    "ProfileId",
    "UserRoleId",
    "LastModifiedDate",
    "SystemModstamp",
];

/// The User fields the config reads or writes, with the base fields first.
pub(crate) fn user_fields(config: &Config) -> Vec<String> {
    let mut fields: Vec<String> = USER_BASE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let mut seen: BTreeSet<String> = fields.iter().map(|f| f.to_ascii_lowercase()).collect();
    let extra = config
        .mappings
        .iter()
        .map(|m| &m.target)
        .chain(config.matching.iter().map(|m| &m.target));
    for field in extra {
        if seen.insert(field.to_ascii_lowercase()) {
            fields.push(field.clone());
        }
    }
    fields
}

/// The permission sets the config names: managed ones and those rules assign.
fn named_permission_sets(config: &Config) -> BTreeSet<String> {
    config
        .roles
        .managed_permission_sets
        .iter()
        .chain(config.roles.rules.iter().flat_map(|r| &r.permission_sets))
        .cloned()
        .collect()
}

/// Reads what the Salesforce org holds.
pub(crate) async fn read(
    salesforce: Arc<Salesforce>,
    config: &Config,
    task: Task,
) -> Result<TargetSnapshot, SalesforceError> {
    task.step("login");
    let session = salesforce.session().await?;
    let fields = user_fields(config);
    let users = {
        let salesforce = Arc::clone(&salesforce);
        let soql = format!("SELECT {} FROM User", fields.join(", "));
        let task = task.clone();
        async move {
            task.step("users");
            salesforce.query(&soql, Some(&task)).await
        }
    };
    let metadata = read_metadata(&salesforce, config);
    // Every user's UserLogin, when the config freezes: the id a freeze writes, and whether
    // the login is frozen already.
    let logins = async {
        if matches!(config.deprovision.out_of_scope, OutOfScope::Freeze) {
            salesforce
                .query("SELECT Id, UserId, IsFrozen FROM UserLogin", None)
                .await
        } else {
            Ok(Vec::new())
        }
    };
    let (users, (org, licenses, profiles, roles, permission_sets, assignments), logins) =
        tokio::try_join!(users, metadata, logins)?;
    let logins: HashMap<&str, UserLogin> = logins
        .iter()
        .filter_map(|r| {
            let user = r.get("UserId").and_then(Value::as_str)?;
            let login = UserLogin {
                id: r.get("Id").and_then(Value::as_str)?.to_owned(),
                is_frozen: r.get("IsFrozen").and_then(Value::as_bool) == Some(true),
            };
            Some((super::id15(user), login))
        })
        .collect();
    let mut users: Vec<TargetUser> = users
        .into_iter()
        .map(|row| {
            // Every User has an Id and a Username: a row without them is a malformed answer.
            let mut user = TargetUser::from_row(strip_attributes(row)).ok_or_else(|| {
                SalesforceError::Read(
                    "Salesforce query of User: a row has no Id or no Username".to_owned(),
                )
            })?;
            user.login = logins.get(super::id15(&user.id)).cloned();
            Ok(user)
        })
        .collect::<Result<_, SalesforceError>>()?;
    users.sort_by(|a, b| a.id.cmp(&b.id));
    task.finish(&format!(
        "{} users, {} profiles, {} permission sets",
        users.len(),
        profiles.len(),
        permission_sets.len()
    ));
    Ok(TargetSnapshot {
        format_version: SNAPSHOT_FORMAT,
        instance_url: session.instance_url.clone(),
        api_version: salesforce.api_version.clone(),
        org,
        users,
        fields,
        profiles,
        licenses,
        roles,
        permission_sets,
        permission_set_assignments: assignments,
        api_usage: salesforce.usage(),
        warnings: salesforce.credential_warning().into_iter().collect(),
    })
}

type Metadata = (
    Org,
    Vec<UserLicense>,
    Vec<Profile>,
    Vec<UserRole>,
    Vec<PermissionSet>,
    Vec<PermissionSetAssignment>,
);

async fn read_metadata(
    salesforce: &Arc<Salesforce>,
    config: &Config,
) -> Result<Metadata, SalesforceError> {
    let (org, licenses, profiles, roles, sets) = tokio::try_join!(
        salesforce.query("SELECT Id, Name, IsSandbox FROM Organization LIMIT 1", None),
        salesforce.query(
            "SELECT Id, Name, TotalLicenses, UsedLicenses FROM UserLicense",
            None
        ),
        salesforce.query("SELECT Id, Name, UserLicenseId FROM Profile", None),
        salesforce.query("SELECT Id, Name, DeveloperName FROM UserRole", None),
        salesforce.query(
            "SELECT Id, Name, Label FROM PermissionSet WHERE IsOwnedByProfile = false",
            None
        ),
    )?;
    let org = org.first().map(|o| Org {
        id: text(o, "Id"),
        name: text(o, "Name"),
        is_sandbox: o.get("IsSandbox").and_then(Value::as_bool).unwrap_or(false),
    });
    let Some(org) = org else {
        return Err(SalesforceError::Read(
            "Salesforce returned no Organization record".to_owned(),
        ));
    };
    let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_i64).unwrap_or(0);
    let optional = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut licenses: Vec<UserLicense> = licenses
        .iter()
        .map(|l| UserLicense {
            id: text(l, "Id"),
            name: text(l, "Name"),
            total: number(l, "TotalLicenses"),
            used: number(l, "UsedLicenses"),
        })
        .collect();
    licenses.sort_by(|a, b| a.id.cmp(&b.id));
    let mut profiles: Vec<Profile> = profiles
        .iter()
        .map(|p| Profile {
            id: text(p, "Id"),
            name: text(p, "Name"),
            user_license_id: optional(p, "UserLicenseId"),
        })
        .collect();
    profiles.sort_by(|a, b| a.id.cmp(&b.id));
    let mut roles: Vec<UserRole> = roles
        .iter()
        .map(|r| UserRole {
            id: text(r, "Id"),
            name: text(r, "Name"),
            developer_name: optional(r, "DeveloperName"),
        })
        .collect();
    roles.sort_by(|a, b| a.id.cmp(&b.id));
    let mut sets: Vec<PermissionSet> = sets
        .iter()
        .map(|s| PermissionSet {
            id: text(s, "Id"),
            name: text(s, "Name"),
            label: optional(s, "Label"),
        })
        .collect();
    sets.sort_by(|a, b| a.id.cmp(&b.id));

    let named = named_permission_sets(config);
    let ids: Vec<String> = sets
        .iter()
        .filter(|s| named.contains(&s.name))
        .map(|s| s.id.clone())
        .collect();
    let mut assignments: Vec<PermissionSetAssignment> = soql::query_in(
        salesforce,
        "SELECT Id, AssigneeId, PermissionSetId FROM PermissionSetAssignment",
        "PermissionSetId",
        &ids,
        soql::IDS_PER_QUERY,
    )
    .await?
    .iter()
    .map(|a| PermissionSetAssignment {
        id: text(a, "Id"),
        assignee_id: text(a, "AssigneeId"),
        permission_set_id: text(a, "PermissionSetId"),
    })
    .collect();
    assignments.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((org, licenses, profiles, roles, sets, assignments))
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A query row without Salesforce's `attributes` envelope.
fn strip_attributes(row: Value) -> Map<String, Value> {
    match row {
        Value::Object(mut map) => {
            map.remove("attributes");
            map
        }
        _ => Map::new(),
    }
}
