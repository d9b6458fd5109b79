//! Grants: a user's assignment to one of Salesforce's access objects. Every kind roster manages
//! is one row of [`GrantKind::spec`]: its config keys, the object and the field naming it, how
//! its objects and assignments are read, and what an assignment record holds. Config, read,
//! plan, render, apply and the emulator all go through this table, so a new kind is one row.
//!
//! Facts: `../shared/reference/salesforce-access.md` §1–6 (Salesforce Object Reference pages
//! PermissionSet, PermissionSetAssignment, PermissionSetGroup, PermissionSetLicense,
//! PermissionSetLicenseAssign, PackageLicense, UserPackageLicense, Group, GroupMember).

use crate::salesforce::{GROUP_IDS, KeyPrefix, USER_IDS};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A kind of grant. The order is the order apply adds them in (Salesforce's dependency
/// order: licences before the permission sets that need them, permission sets before group
/// and queue membership); removals go in reverse.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GrantKind {
    PermissionSetLicense,
    PackageLicense,
    PermissionSet,
    PermissionSetGroup,
    PublicGroup,
    Queue,
}

/// How one kind is named, read and written.
#[derive(Debug)]
pub(crate) struct KindSpec {
    /// In messages: `permission set group`.
    pub(crate) noun: &'static str,
    /// The role rule's key: `permission_set_groups` (the managed list is `managed_` + this).
    pub(crate) rule_key: &'static str,
    /// The access object: `PermissionSetGroup`.
    pub(crate) object: &'static str,
    /// The field `roster.yaml` names it by (unique per org): `DeveloperName`.
    pub(crate) name_field: &'static str,
    /// A second field that names it too, when it differs (a group's `Name`).
    pub(crate) alias_field: Option<&'static str>,
    /// Which records of `object` are of this kind (`Type = 'Queue'`).
    pub(crate) filter: Option<&'static str>,
    /// The object's status field, when it has one (`Status`).
    pub(crate) status_field: Option<&'static str>,
    /// The seat counts (total, used), for licences.
    pub(crate) seats: Option<(&'static str, &'static str)>,
    /// The object's own licence, for permission sets (`LicenseId`: a PermissionSetLicense or a
    /// UserLicense).
    pub(crate) license_field: Option<&'static str>,
    /// The assignment (junction) object: `PermissionSetAssignment`.
    pub(crate) assignment: &'static str,
    /// Its field holding the user: `AssigneeId`.
    pub(crate) assignee_field: &'static str,
    /// Its field holding the access object: `PermissionSetGroupId`.
    pub(crate) object_field: &'static str,
    /// Whose ids the object's records, the assignments and their assignees have
    /// (`salesforce::record_id`; none named: an id's shape only). A group's member may be a
    /// user or a group (a nested group, or a role's).
    pub(crate) ids: KindIds,
}

/// PermissionSetAssignment's: of permission sets and of permission set groups.
const PERMISSION_SET_ASSIGNMENT_IDS: KeyPrefix = ("0Pa", "a PermissionSetAssignment");

/// The key prefixes of a kind's records (`KindSpec::ids`).
#[derive(Debug)]
pub(crate) struct KindIds {
    pub(crate) object: &'static [KeyPrefix],
    pub(crate) assignment: &'static [KeyPrefix],
    pub(crate) assignee: &'static [KeyPrefix],
}

impl GrantKind {
    /// Every kind, in apply's add order.
    pub(crate) const ALL: [GrantKind; 6] = [
        GrantKind::PermissionSetLicense,
        GrantKind::PackageLicense,
        GrantKind::PermissionSet,
        GrantKind::PermissionSetGroup,
        GrantKind::PublicGroup,
        GrantKind::Queue,
    ];

    /// The kind's row of the table.
    #[allow(clippy::too_many_lines, reason = "a table: one row a kind")]
    pub(crate) fn spec(self) -> &'static KindSpec {
        match self {
            GrantKind::PermissionSetLicense => &KindSpec {
                noun: "permission set licence",
                rule_key: "permission_set_licenses",
                object: "PermissionSetLicense",
                name_field: "DeveloperName",
                alias_field: None,
                filter: None,
                status_field: Some("Status"),
                seats: Some(("TotalLicenses", "UsedLicenses")),
                license_field: None,
                assignment: "PermissionSetLicenseAssign",
                assignee_field: "AssigneeId",
                object_field: "PermissionSetLicenseId",
                ids: KindIds {
                    object: &[crate::salesforce::PERMISSION_SET_LICENSE_IDS],
                    assignment: &[("2LA", "a PermissionSetLicenseAssign")],
                    assignee: &[USER_IDS],
                },
            },
            GrantKind::PackageLicense => &KindSpec {
                noun: "package licence",
                rule_key: "package_licenses",
                object: "PackageLicense",
                name_field: "NamespacePrefix",
                alias_field: None,
                filter: None,
                status_field: Some("Status"),
                seats: Some(("AllowedLicenses", "UsedLicenses")),
                license_field: None,
                assignment: "UserPackageLicense",
                assignee_field: "UserId",
                object_field: "PackageLicenseId",
                ids: KindIds {
                    object: &[],
                    assignment: &[("051", "a UserPackageLicense")],
                    assignee: &[USER_IDS],
                },
            },
            GrantKind::PermissionSet => &KindSpec {
                noun: "permission set",
                rule_key: "permission_sets",
                object: "PermissionSet",
                name_field: "Name",
                alias_field: None,
                filter: Some("IsOwnedByProfile = false"),
                status_field: None,
                seats: None,
                license_field: Some("LicenseId"),
                assignment: "PermissionSetAssignment",
                assignee_field: "AssigneeId",
                object_field: "PermissionSetId",
                ids: KindIds {
                    object: &[("0PS", "a PermissionSet")],
                    assignment: &[PERMISSION_SET_ASSIGNMENT_IDS],
                    assignee: &[USER_IDS],
                },
            },
            GrantKind::PermissionSetGroup => &KindSpec {
                noun: "permission set group",
                rule_key: "permission_set_groups",
                object: "PermissionSetGroup",
                name_field: "DeveloperName",
                alias_field: None,
                filter: None,
                status_field: Some("Status"),
                seats: None,
                license_field: None,
                assignment: "PermissionSetAssignment",
                assignee_field: "AssigneeId",
                object_field: "PermissionSetGroupId",
                ids: KindIds {
                    object: &[("0PG", "a PermissionSetGroup")],
                    assignment: &[PERMISSION_SET_ASSIGNMENT_IDS],
                    assignee: &[USER_IDS],
                },
            },
            GrantKind::PublicGroup => &KindSpec {
                noun: "public group",
                rule_key: "public_groups",
                object: "Group",
                name_field: "DeveloperName",
                alias_field: Some("Name"),
                filter: Some("Type = 'Regular'"),
                status_field: None,
                seats: None,
                license_field: None,
                assignment: "GroupMember",
                assignee_field: "UserOrGroupId",
                object_field: "GroupId",
                ids: KindIds {
                    object: &[GROUP_IDS],
                    assignment: &[("011", "a GroupMember")],
                    assignee: &[USER_IDS, GROUP_IDS],
                },
            },
            GrantKind::Queue => &KindSpec {
                noun: "queue",
                rule_key: "queues",
                object: "Group",
                name_field: "DeveloperName",
                alias_field: Some("Name"),
                filter: Some("Type = 'Queue'"),
                status_field: None,
                seats: None,
                license_field: None,
                assignment: "GroupMember",
                assignee_field: "UserOrGroupId",
                object_field: "GroupId",
                ids: KindIds {
                    object: &[GROUP_IDS],
                    assignment: &[("011", "a GroupMember")],
                    assignee: &[USER_IDS, GROUP_IDS],
                },
            },
        }
    }

    /// The SOQL that reads every object of the kind.
    pub(crate) fn objects_soql(self) -> String {
        let s = self.spec();
        let mut fields = vec!["Id", s.name_field];
        fields.extend(s.alias_field);
        fields.extend(s.status_field);
        if let Some((total, used)) = s.seats {
            fields.extend([total, used]);
        }
        fields.extend(s.license_field);
        let mut soql = format!("SELECT {} FROM {}", fields.join(", "), s.object);
        if let Some(filter) = s.filter {
            soql.push_str(" WHERE ");
            soql.push_str(filter);
        }
        soql
    }

    /// The SOQL that reads the kind's assignments, to be filtered to some objects by
    /// `object_field IN (...)`.
    pub(crate) fn assignments_soql(self) -> String {
        let s = self.spec();
        format!(
            "SELECT Id, {}, {} FROM {}",
            s.assignee_field, s.object_field, s.assignment
        )
    }

    /// Whether the kind is a licence with seats.
    pub(crate) fn is_license(self) -> bool {
        self.spec().seats.is_some()
    }
}

impl std::fmt::Display for GrantKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spec().noun)
    }
}

/// A feature licence: a User checkbox (`UserPermissionsKnowledgeUser`) that turns a feature on
/// for the user and takes one of the org's seats of it ([OR:User]; Salesforce Help 000387847).
#[derive(Debug)]
pub(crate) struct FeatureLicense {
    /// What `roster.yaml` calls it: `KnowledgeUser`.
    pub(crate) name: &'static str,
    /// The User field: `UserPermissionsKnowledgeUser`.
    pub(crate) field: &'static str,
    /// The label Setup shows: `Knowledge User`.
    pub(crate) label: &'static str,
}

/// The feature licences the API can set (reference `salesforce-access.md` §7).
pub(crate) const FEATURE_LICENSES: &[FeatureLicense] = &[
    feature(
        "MarketingUser",
        "UserPermissionsMarketingUser",
        "Marketing User",
    ),
    feature("OfflineUser", "UserPermissionsOfflineUser", "Offline User"),
    feature(
        "KnowledgeUser",
        "UserPermissionsKnowledgeUser",
        "Knowledge User",
    ),
    feature(
        "SupportUser",
        "UserPermissionsSupportUser",
        "Service Cloud User",
    ),
    feature(
        "InteractionUser",
        "UserPermissionsInteractionUser",
        "Flow User",
    ),
    feature(
        "SFContentUser",
        "UserPermissionsSFContentUser",
        "CRM Content User",
    ),
    feature("LiveAgentUser", "UserPermissionsLiveAgentUser", "Chat User"),
    feature(
        "CallCenterAutoLogin",
        "UserPermissionsCallCenterAutoLogin",
        "Auto-login Call Center",
    ),
];

const fn feature(name: &'static str, field: &'static str, label: &'static str) -> FeatureLicense {
    FeatureLicense { name, field, label }
}

/// Whether a checkbox's value is on: `true`, or the text `true` in any case (the plan carries
/// values as text; Salesforce answers booleans).
pub(crate) fn checkbox_on(value: Option<&crate::field_value::FieldValue>) -> bool {
    match value {
        Some(crate::field_value::FieldValue::Bool(on)) => *on,
        Some(crate::field_value::FieldValue::Text(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The feature licence `roster.yaml` names `name` (`KnowledgeUser`, or its field name).
pub(crate) fn feature_license(name: &str) -> Option<&'static FeatureLicense> {
    FEATURE_LICENSES
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name) || f.field.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_its_objects_and_assignments_by_its_own_fields() {
        assert_eq!(
            GrantKind::Queue.objects_soql(),
            "SELECT Id, DeveloperName, Name FROM Group WHERE Type = 'Queue'"
        );
        assert_eq!(
            GrantKind::PermissionSetLicense.objects_soql(),
            "SELECT Id, DeveloperName, Status, TotalLicenses, UsedLicenses FROM PermissionSetLicense"
        );
        assert_eq!(
            GrantKind::PermissionSetGroup.assignments_soql(),
            "SELECT Id, AssigneeId, PermissionSetGroupId FROM PermissionSetAssignment"
        );
        let keys: std::collections::HashSet<_> =
            GrantKind::ALL.iter().map(|k| k.spec().rule_key).collect();
        assert_eq!(keys.len(), GrantKind::ALL.len());
    }

    #[test]
    fn feature_licences_are_named_short_or_by_field() {
        assert_eq!(
            feature_license("knowledgeuser").map(|f| f.field),
            Some("UserPermissionsKnowledgeUser")
        );
        assert_eq!(
            feature_license("UserPermissionsSupportUser").map(|f| f.label),
            Some("Service Cloud User")
        );
        assert!(feature_license("Knowledge").is_none());
        assert!(FEATURE_LICENSES.iter().all(|f| f.field.ends_with(f.name)));
    }
}
