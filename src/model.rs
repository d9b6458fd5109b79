//! The plain records both edges convert into: what roster saw in Entra (`SourceSnapshot`) and in
//! Salesforce (`TargetSnapshot`). The planner reads exactly these; `roster snapshot` writes them
//! as JSON. Lists are sorted by id so two reads of the same world are byte-identical.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The version of the snapshot documents; bumped when a field changes meaning.
pub(crate) const SNAPSHOT_FORMAT: u32 = 1;

/// What Entra says: the application, its assignments, the groups that matter and the users in
/// question with the attributes the config references.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SourceSnapshot {
    pub(crate) format_version: u32,
    pub(crate) tenant_id: String,
    pub(crate) application: ServicePrincipal,
    /// `assigned` or `all`: which users were read.
    pub(crate) assignment: String,
    /// Every app-role assignment of the application (users and groups).
    pub(crate) assignments: Vec<AppRoleAssignment>,
    /// Groups assigned to the application and groups named by role rules, with their direct
    /// members.
    pub(crate) groups: Vec<Group>,
    /// The users read, with exactly the attributes requested (`attributes`).
    pub(crate) users: Vec<SourceUser>,
    /// The Entra attribute names read for every user.
    pub(crate) attributes: Vec<String>,
    /// Users assigned to the application directly that Graph no longer returns: deleted in
    /// Entra. The one absence a read accepts; the plan names each.
    #[serde(default)]
    pub(crate) deleted_users: Vec<DeletedUser>,
    /// Things roster noticed that Entra itself would also ignore (e.g. nested groups).
    pub(crate) warnings: Vec<String>,
}

/// A user the application's assignments name, whom Graph no longer returns (deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct DeletedUser {
    /// The Entra object id the assignment names.
    pub(crate) id: String,
    /// The assignment's `principalDisplayName`, when Graph gave one.
    pub(crate) display_name: Option<String>,
}

/// The enterprise application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ServicePrincipal {
    pub(crate) id: String,
    pub(crate) app_id: String,
    pub(crate) display_name: String,
    pub(crate) app_roles: Vec<AppRole>,
}

/// One app role of the application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AppRole {
    pub(crate) id: String,
    pub(crate) display_name: String,
    /// The role's value (what `appRoleAssignments` holds); `None` for Default Access.
    pub(crate) value: Option<String>,
    pub(crate) is_enabled: bool,
}

/// One row of `appRoleAssignedTo`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AppRoleAssignment {
    pub(crate) id: String,
    /// `User`, `Group` or `ServicePrincipal`.
    pub(crate) principal_type: String,
    pub(crate) principal_id: String,
    pub(crate) principal_display_name: Option<String>,
    pub(crate) app_role_id: String,
}

/// A group and its direct members.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) display_name: String,
    /// Assigned to the application (otherwise read because a role rule names it).
    pub(crate) assigned: bool,
    /// Object ids of the direct user members, sorted.
    pub(crate) members: Vec<String>,
    /// Groups nested in this one: Entra does not provision their members.
    pub(crate) nested_groups: Vec<String>,
}

/// An Entra user with the attributes the config references (Entra's names: `objectId`,
/// `extensionAttribute1`, ...). A missing key means Graph returned null.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SourceUser {
    pub(crate) id: String,
    pub(crate) attributes: Map<String, Value>,
}

/// What the Salesforce org holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TargetSnapshot {
    pub(crate) format_version: u32,
    pub(crate) instance_url: String,
    pub(crate) api_version: String,
    pub(crate) org: Org,
    /// Every User, with the fields roster compares and manages.
    pub(crate) users: Vec<TargetUser>,
    /// The User fields read.
    pub(crate) fields: Vec<String>,
    pub(crate) profiles: Vec<Profile>,
    pub(crate) licenses: Vec<UserLicense>,
    pub(crate) roles: Vec<UserRole>,
    /// Permission sets not owned by a profile.
    pub(crate) permission_sets: Vec<PermissionSet>,
    /// Assignments of the permission sets the config names (managed or assigned by rules).
    pub(crate) permission_set_assignments: Vec<PermissionSetAssignment>,
    /// `Sforce-Limit-Info` of the last response: API requests used and allowed today.
    pub(crate) api_usage: Option<ApiUsage>,
    /// Things roster noticed about the org or the credential.
    pub(crate) warnings: Vec<String>,
}

/// The Organization record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Org {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) is_sandbox: bool,
}

/// A Salesforce user: `Id` plus the fields read, as Salesforce returned them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TargetUser {
    pub(crate) id: String,
    pub(crate) fields: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) user_license_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct UserLicense {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) total: i64,
    pub(crate) used: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct UserRole {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) developer_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PermissionSet {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) label: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PermissionSetAssignment {
    pub(crate) id: String,
    pub(crate) assignee_id: String,
    pub(crate) permission_set_id: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ApiUsage {
    pub(crate) used: u64,
    pub(crate) max: u64,
}
