//! Grants in the emulated org: inserting and deleting assignment records (permission sets and
//! permission set groups, permission set licences, package licences, group and queue
//! members) with the rules and refusals of a real org (reference `salesforce-access.md`
//! §0–6): seats counted live, a permission set's licence assigned along with it or required
//! first, a permission set group assignable only while `Updated`, duplicates refused — except
//! a group member, which Salesforce answers with the existing record.
//!
//! The error codes of the licence refusals are not published (the reference marks them
//! UNCONFIRMED); the emulator uses `FIELD_INTEGRITY_EXCEPTION` with the published message
//! texts, a documented guess.

use serde_json::{Map, Value, json};

use super::super::ids;
use super::super::state::{Org, REQUIRES_LICENSE, junction_key};
use super::records::{Failure, reference};

fn text<'a>(record: Option<&'a Map<String, Value>>, field: &str) -> &'a str {
    record
        .and_then(|r| r.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn record<'o>(org: &'o Org, object: &str, id: &str) -> Option<&'o Map<String, Value>> {
    org.objects.get(object).and_then(|r| r.get(id))
}

/// Whether `field` is set (neither absent, null nor empty).
fn set(fields: &Map<String, Value>, field: &str) -> bool {
    fields
        .get(field)
        .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
}

/// A refused duplicate (`duplicate value found: ...`, the text `sf` and CumulusCI match).
fn duplicate(existing: &str) -> Failure {
    Failure::new(
        "DUPLICATE_VALUE",
        format!("duplicate value found: <unknown> duplicates value on record with id: {existing}"),
        &[],
    )
}

/// No seat left: `LICENSE_LIMIT_EXCEEDED` ([OR:PackageLicense]'s own sample checks it).
fn no_seat(licence: &str) -> Failure {
    Failure::new(
        "LICENSE_LIMIT_EXCEEDED",
        format!("License Limit Exceeded - {licence}"),
        &[],
    )
}

/// Whether another assignment of the licence `id` fits in its `seats_field`.
fn seat_free(org: &Org, object: &str, id: &str, seats_field: &str) -> bool {
    let total = record(org, object, id)
        .and_then(|r| r.get(seats_field))
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    total < 0 || i64::try_from(org.holders(id)).unwrap_or(i64::MAX) < total
}

/// Inserts one assignment record of `object`, or refuses it as Salesforce does; returns the
/// record's id (a group member already there answers with its id).
pub(crate) fn assign(
    org: &mut Org,
    object: &'static str,
    mut fields: Map<String, Value>,
) -> Result<String, Failure> {
    match object {
        "PermissionSetAssignment" => {
            let assignee = reference(org, &fields, "AssigneeId", "User")?;
            fields.insert("AssigneeId".into(), json!(assignee));
            match (
                set(&fields, "PermissionSetGroupId"),
                set(&fields, "PermissionSetId"),
            ) {
                (true, true) => {
                    // UNCONFIRMED (reference §2): the response to both; refused here.
                    return Err(Failure::new(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "An assignment names either a permission set or a permission set group, \
                         not both.",
                        &["PermissionSetId", "PermissionSetGroupId"],
                    ));
                }
                (true, false) => {
                    let group =
                        reference(org, &fields, "PermissionSetGroupId", "PermissionSetGroup")?;
                    if let Some(id) = org.assignment(&assignee, &group) {
                        return Err(duplicate(id));
                    }
                    let status = text(record(org, "PermissionSetGroup", &group), "Status");
                    if status != "Updated" {
                        return Err(Failure::new(
                            "FIELD_INTEGRITY_EXCEPTION",
                            "You can only assign users to permission set groups that have the \
                             \"Updated\" status.",
                            &["PermissionSetGroupId"],
                        ));
                    }
                    fields.insert("PermissionSetGroupId".into(), json!(group));
                }
                (false, _) => {
                    let ps = reference(org, &fields, "PermissionSetId", "PermissionSet")?;
                    if let Some(id) = org.assignment(&assignee, &ps) {
                        return Err(duplicate(id));
                    }
                    permission_set_licences(org, &assignee, &ps)?;
                    fields.insert("PermissionSetId".into(), json!(ps));
                }
            }
            Ok(org.insert(object, fields))
        }
        "PermissionSetLicenseAssign" => {
            let assignee = reference(org, &fields, "AssigneeId", "User")?;
            let licence = reference(
                org,
                &fields,
                "PermissionSetLicenseId",
                "PermissionSetLicense",
            )?;
            if let Some(id) = org.assignment(&assignee, &licence) {
                return Err(duplicate(id));
            }
            if !seat_free(org, "PermissionSetLicense", &licence, "TotalLicenses") {
                let name = text(record(org, "PermissionSetLicense", &licence), "MasterLabel");
                return Err(no_seat(name));
            }
            fields.insert("AssigneeId".into(), json!(assignee));
            fields.insert("PermissionSetLicenseId".into(), json!(licence));
            Ok(org.insert(object, fields))
        }
        "UserPackageLicense" => {
            let user = reference(org, &fields, "UserId", "User")?;
            let licence = reference(org, &fields, "PackageLicenseId", "PackageLicense")?;
            if let Some(id) = org.assignment(&user, &licence) {
                return Err(duplicate(id));
            }
            if !seat_free(org, "PackageLicense", &licence, "AllowedLicenses") {
                let name = text(record(org, "PackageLicense", &licence), "NamespacePrefix");
                return Err(no_seat(name));
            }
            fields.insert("UserId".into(), json!(user));
            fields.insert("PackageLicenseId".into(), json!(licence));
            Ok(org.insert(object, fields))
        }
        _ => {
            let group = reference(org, &fields, "GroupId", "Group")?;
            let member = match reference(org, &fields, "UserOrGroupId", "User") {
                Ok(user) => user,
                Err(_) => reference(org, &fields, "UserOrGroupId", "Group")?,
            };
            // A member already there: Salesforce returns the existing record, no error.
            if let Some(id) = org.assignment(&member, &group) {
                return Ok(id.to_owned());
            }
            fields.insert("GroupId".into(), json!(group));
            fields.insert("UserOrGroupId".into(), json!(member));
            Ok(org.insert("GroupMember", fields))
        }
    }
}

/// The licence rules of assigning permission set `ps` to `assignee` (reference §2, §4): a
/// permission set for a user licence needs that licence on the user's profile; one linked to
/// a permission set licence takes a seat of it when the user has none (Salesforce assigns it
/// along); one whose permissions need a licence it is not linked to needs the user to hold it.
fn permission_set_licences(org: &mut Org, assignee: &str, ps: &str) -> Result<(), Failure> {
    let ps_record = record(org, "PermissionSet", ps);
    let ps_name = text(ps_record, "Name").to_owned();
    let licence = text(ps_record, "LicenseId").to_owned();
    let required = text(ps_record, REQUIRES_LICENSE).to_owned();
    let user = record(org, "User", assignee);
    let username = text(user, "Username").to_owned();
    let refused = |permission: &str| {
        Failure::new(
            "FIELD_INTEGRITY_EXCEPTION",
            format!(
                "Can't assign permission set {ps_name} to user {username}. The user license \
                 doesn't allow the permission: {permission}"
            ),
            &["PermissionSetId"],
        )
    };
    if licence.starts_with(ids::USER_LICENSE) {
        let profile = text(user, "ProfileId");
        let has = text(record(org, "Profile", profile), "UserLicenseId");
        if has != licence {
            let name = text(record(org, "UserLicense", &licence), "Name");
            return Err(refused(&format!("{name} user licence")));
        }
    }
    if !required.is_empty() && org.assignment(assignee, &required).is_none() {
        let name = text(
            record(org, "PermissionSetLicense", &required),
            "MasterLabel",
        );
        return Err(refused(name));
    }
    if licence.starts_with(ids::PERMISSION_SET_LICENSE)
        && org.assignment(assignee, &licence).is_none()
    {
        if !seat_free(org, "PermissionSetLicense", &licence, "TotalLicenses") {
            let name = text(record(org, "PermissionSetLicense", &licence), "MasterLabel");
            return Err(no_seat(name));
        }
        let mut fields = Map::new();
        fields.insert("AssigneeId".into(), json!(assignee));
        fields.insert("PermissionSetLicenseId".into(), json!(licence));
        org.insert("PermissionSetLicenseAssign", fields);
    }
    Ok(())
}

/// Deletes one assignment record, or refuses: a permission set licence still needed by a
/// permission set the user holds stays (remove the permission set first, reference §4; the
/// real code and text are UNCONFIRMED).
pub(crate) fn unassign(org: &mut Org, object: &str, id: &str) -> Result<(), Failure> {
    let Some(existing) = record(org, object, id) else {
        return Err(Failure::new("ENTITY_IS_DELETED", "entity is deleted", &[]));
    };
    if object == "PermissionSetLicenseAssign" {
        let user = text(Some(existing), "AssigneeId").to_owned();
        let licence = text(Some(existing), "PermissionSetLicenseId").to_owned();
        let needing = org
            .records("PermissionSetAssignment")
            .filter(|a| junction_key("PermissionSetAssignment", a).is_some_and(|(u, _)| u == user))
            .filter_map(|a| a.get("PermissionSetId").and_then(Value::as_str))
            .filter_map(|ps| record(org, "PermissionSet", ps))
            .find(|ps| {
                text(Some(ps), "LicenseId") == licence
                    || text(Some(ps), REQUIRES_LICENSE) == licence
            })
            .map(|ps| text(Some(ps), "Name").to_owned());
        if let Some(ps) = needing {
            return Err(Failure::new(
                "FIELD_INTEGRITY_EXCEPTION",
                format!(
                    "This permission set license can't be removed: the user's permission set \
                     {ps} needs it. Remove the permission set first."
                ),
                &[],
            ));
        }
    }
    org.remove(object, id);
    Ok(())
}
