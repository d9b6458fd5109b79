//! Reading the access objects roster grants and their assignments: one query per kind for
//! the objects (side by side), then one per kind for the assignments of the objects the config
//! names, filtered to their ids (`grants::GrantKind` says which object and fields).

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;

use serde_json::Value;

use super::client::{Salesforce, SalesforceError};
use super::soql;
use crate::config::Config;
use crate::grants::GrantKind;
use crate::model::{AccessObject, AccessRead, GrantAssignment, Seats};

/// The kinds a plan must read: those any of `configs` names, and permission set licences
/// whenever one names permission sets (a permission set may bring its licence with it).
pub(crate) fn kinds_read(configs: &[&Config]) -> Vec<GrantKind> {
    let names_any = |kind: GrantKind| configs.iter().any(|c| !c.roles.named(kind).is_empty());
    GrantKind::ALL
        .into_iter()
        .filter(|k| {
            names_any(*k)
                || (*k == GrantKind::PermissionSetLicense && names_any(GrantKind::PermissionSet))
        })
        .collect()
}

/// Whether a plan of `configs` reads the feature licences' seats: when one names a feature
/// licence.
pub(crate) fn reads_feature_seats(configs: &[&Config]) -> bool {
    configs
        .iter()
        .any(|c| !c.roles.feature_licenses().is_empty())
}

/// The access objects of every kind `configs` use, and the assignments of those they name
/// (with the licences the named permission sets link to), each sorted by kind and id; with
/// what was read, for a snapshot to record.
pub(crate) async fn read(
    salesforce: &Arc<Salesforce>,
    configs: &[&Config],
) -> Result<(Vec<AccessObject>, Vec<GrantAssignment>, AccessRead), SalesforceError> {
    let kinds = kinds_read(configs);
    let queries: Vec<_> = kinds
        .iter()
        .map(|kind| {
            let (salesforce, soql) = (Arc::clone(salesforce), kind.objects_soql());
            async move { Ok::<_, Infallible>(salesforce.query(&soql, None).await) }
        })
        .collect();
    let Ok(pages) = crate::concurrent::all(soql::CONCURRENCY, queries).await;
    let mut objects = Vec::new();
    for (kind, rows) in kinds.iter().zip(pages) {
        for row in rows? {
            objects.push(access_object(*kind, &row)?);
        }
    }
    objects.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    // One record is one object: listed twice, or as two kinds (a Group as a public group and a
    // queue), its grants would be written to the other.
    let mut ids = HashSet::with_capacity(objects.len());
    if let Some(twice) = objects.iter().find(|o| !ids.insert(o.id.as_str())) {
        return Err(super::read::malformed(
            twice.kind.spec().object,
            &format!("{} is listed twice", twice.id),
        ));
    }
    drop(ids);

    let ids = named_ids(configs, &objects);
    let mut assignments_of: Vec<String> = ids.values().flatten().cloned().collect();
    assignments_of.sort();
    let queries: Vec<_> = ids
        .iter()
        .map(|(kind, ids)| {
            let (salesforce, kind, ids) = (Arc::clone(salesforce), *kind, ids.clone());
            // The objects asked about (their ids canonical, as read): an assignment of any
            // other was not asked for.
            let objects: HashSet<String> = ids.iter().cloned().collect();
            async move {
                let rows = soql::query_in_as(
                    &salesforce,
                    &kind.assignments_soql(),
                    kind.spec().object_field,
                    &ids,
                    soql::IDS_PER_QUERY,
                    move |row| assignment(kind, &row, &objects),
                )
                .await;
                Ok::<_, Infallible>(rows)
            }
        })
        .collect();
    let Ok(pages) = crate::concurrent::all(soql::CONCURRENCY, queries).await;
    let mut grants = Vec::new();
    for rows in pages {
        grants.extend(rows?);
    }
    grants.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    listed_once(&grants)?;
    let read = AccessRead {
        kinds,
        assignments_of,
        feature_license_seats: reads_feature_seats(configs),
    };
    Ok((objects, grants, read))
}

/// Per kind, the ids of the objects among `objects` whose assignments a plan of `configs`
/// needs: the named ones, and the permission set licences a named permission set is linked to.
pub(crate) fn named_ids(
    configs: &[&Config],
    objects: &[AccessObject],
) -> BTreeMap<GrantKind, Vec<String>> {
    let mut ids: BTreeMap<GrantKind, Vec<String>> = BTreeMap::new();
    let named: BTreeMap<GrantKind, std::collections::BTreeSet<&str>> = GrantKind::ALL
        .into_iter()
        .map(|k| (k, configs.iter().flat_map(|c| c.roles.named(k)).collect()))
        .collect();
    let is_named = |o: &AccessObject| {
        named.get(&o.kind).is_some_and(|names| {
            names.contains(o.name.as_str()) || o.alias.as_deref().is_some_and(|a| names.contains(a))
        })
    };
    let linked: Vec<&str> = objects
        .iter()
        .filter(|o| o.kind == GrantKind::PermissionSet && is_named(o))
        .filter_map(|o| o.license_id.as_deref())
        .collect();
    let licences: Vec<&str> = objects
        .iter()
        .filter(|o| {
            o.kind == GrantKind::PermissionSetLicense
                && (is_named(o) || linked.iter().any(|l| super::id15(l) == super::id15(&o.id)))
        })
        .map(|o| super::id15(&o.id))
        .collect();
    // A permission set linked to one of those licences, held by a user, keeps it needed —
    // whether or not the config names the permission set.
    let needs_licence = |o: &AccessObject| {
        o.kind == GrantKind::PermissionSet
            && o.license_id
                .as_deref()
                .is_some_and(|l| licences.contains(&super::id15(l)))
    };
    for o in objects {
        let wanted = is_named(o) || licences.contains(&super::id15(&o.id)) || needs_licence(o);
        if wanted {
            ids.entry(o.kind).or_default().push(o.id.clone());
        }
    }
    ids
}

/// An access object from its query row: its id and name are required, the rest as the kind has
/// them.
fn access_object(kind: GrantKind, row: &Value) -> Result<AccessObject, SalesforceError> {
    let spec = kind.spec();
    let text = |field: &str| {
        row.get(field)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let required = |field: &str| super::read::required(row, spec.object, field);
    let seats = match spec.seats {
        None => None,
        Some((total, used)) => {
            let number = |field: &str| {
                row.get(field).and_then(Value::as_i64).ok_or_else(|| {
                    SalesforceError::Read(format!(
                        "Salesforce query of {}: the answer is not what roster expects: {field} \
                         is not a number",
                        spec.object
                    ))
                })
            };
            Some(Seats {
                total: number(total)?,
                used: number(used)?,
            })
        }
    };
    let name = required(spec.name_field)?;
    Ok(AccessObject {
        kind,
        id: super::read::required_id(row, spec.object, "Id", spec.ids.object)?,
        alias: spec.alias_field.and_then(&text).filter(|a| *a != name),
        name,
        status: spec.status_field.and_then(&text),
        seats,
        // A licence's id, of a UserLicense or a PermissionSetLicense: joined by its text.
        license_id: spec
            .license_field
            .and_then(&text)
            .map(|id| {
                super::record_id(
                    spec.license_field.unwrap_or_default(),
                    id,
                    super::LICENSE_IDS,
                )
            })
            .transpose()
            .map_err(|why| super::read::malformed(spec.object, &why))?,
    })
}

/// An assignment from its query row: its id, its user's and its object's, each a record id
/// of its object (`KindSpec::ids`; a group's member may be a group) in its canonical form
/// (`salesforce::record_id`), the object one of `objects` (the ids the query asked about);
/// every error after the id names the record.
fn assignment(
    kind: GrantKind,
    row: &Value,
    objects: &HashSet<String>,
) -> Result<GrantAssignment, SalesforceError> {
    let spec = kind.spec();
    let object = spec.assignment;
    let id = super::read::required_id(row, object, "Id", spec.ids.assignment)?;
    let in_record = |why: String| super::read::malformed(object, &format!("{why} (record {id})"));
    let assignee_id =
        super::read::id_of(row, spec.assignee_field, spec.ids.assignee).map_err(in_record)?;
    let object_id = super::read::id_of(row, spec.object_field, &[]).map_err(in_record)?;
    if !objects.contains(&object_id) {
        return Err(in_record(format!(
            "{} {object_id} is not among those asked about",
            spec.object_field
        )));
    }
    Ok(GrantAssignment {
        kind,
        id: id.into(),
        assignee_id: assignee_id.into(),
        object_id: object_id.into(),
    })
}

/// Each assignment of `grants` (sorted by kind and id, their ids canonical whatever form or
/// case the answer used: `record_id`) once: two rows of one assignment would be planned as two
/// grants, and revoked twice. Checked in place on the sorted list, without a set of every id.
fn listed_once(grants: &[GrantAssignment]) -> Result<(), SalesforceError> {
    match super::read::repeated(grants, |a, b| (a.kind, &a.id) == (b.kind, &b.id)) {
        Some(twice) => Err(super::read::malformed(
            twice.kind.spec().assignment,
            &format!("assignment {} is listed twice", twice.id),
        )),
        None => Ok(()),
    }
}

/// The seats of the feature licences the config names: the newest `TotalLicenseCount` per
/// `FeatureType` of `ActiveFeatureLicenseMetric` (Object Reference, API 52.0 and later; the
/// metrics are collected daily, so roster counts the users holding each itself). Nothing is
/// read when the config names no feature licence.
pub(crate) async fn feature_seats(
    salesforce: &Arc<Salesforce>,
    configs: &[&Config],
) -> Result<BTreeMap<String, i64>, SalesforceError> {
    let named: Vec<_> = configs
        .iter()
        .flat_map(|c| c.roles.feature_licenses())
        .collect();
    if named.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows = salesforce
        .query(
            "SELECT FeatureType, TotalLicenseCount, MetricsDate FROM ActiveFeatureLicenseMetric",
            None,
        )
        .await?;
    let mut newest: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for row in rows {
        let text = |field: &str| row.get(field).and_then(Value::as_str).unwrap_or_default();
        let (feature, date) = (text("FeatureType"), text("MetricsDate"));
        if !named.iter().any(|f| f.name.eq_ignore_ascii_case(feature)) {
            continue;
        }
        let Some(total) = row.get("TotalLicenseCount").and_then(Value::as_i64) else {
            continue;
        };
        let entry = newest
            .entry(feature.to_owned())
            .or_insert_with(|| (date.to_owned(), total));
        if date > entry.0.as_str() {
            *entry = (date.to_owned(), total);
        }
    }
    Ok(newest
        .into_iter()
        .map(|(k, (_, total))| (k, total))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PERMISSION_SET: &str = "0PS000000000001GAA";

    /// A PermissionSetAssignment row as Salesforce answers one.
    fn row() -> Value {
        json!({
            "attributes": {"type": "PermissionSetAssignment"},
            "Id": "0Pa000000000001CAA",
            "AssigneeId": "005000000000001AAA",
            "PermissionSetId": PERMISSION_SET,
        })
    }

    fn read(row: &Value) -> Result<GrantAssignment, String> {
        let asked = HashSet::from([PERMISSION_SET.to_owned()]);
        assignment(GrantKind::PermissionSet, row, &asked).map_err(|e| e.to_string())
    }

    /// An assignment whose ids are not ids, whose assignee is not a User, or whose object was
    /// not asked about is refused at the read, naming the record: planned, its revoke would
    /// stop an apply half done at `MALFORMED_ID`, or revoke what the config does not manage.
    #[test]
    fn an_assignment_whose_ids_are_not_what_was_asked_fails_naming_the_record() {
        assert_eq!(read(&row()).unwrap().assignee_id, "005000000000001AAA");
        // Another form of the same ids: the 15-character one, an 18-character one in capitals.
        let mut other_forms = row();
        other_forms["AssigneeId"] = json!("005000000000001");
        other_forms["PermissionSetId"] = json!(PERMISSION_SET.to_uppercase());
        assert!(read(&other_forms).is_ok());
        let long = "0".repeat(100_000);
        for (field, value, expected) in [
            (
                "Id",
                json!("0Pa\n1"),
                r#"Id "0Pa\n1" is not a Salesforce record id"#,
            ),
            ("Id", json!(long), "is not a Salesforce record id"),
            ("Id", json!(""), "a record's Id is empty"),
            (
                "AssigneeId",
                json!(5),
                "a record's AssigneeId is a number, not a string (record 0Pa000000000001CAA)",
            ),
            (
                "AssigneeId",
                json!(PERMISSION_SET),
                "AssigneeId \"0PS000000000001GAA\" is not the id of a User (those start 005) \
                 (record 0Pa000000000001CAA)",
            ),
            (
                "AssigneeId",
                json!("005000000000001AAB"),
                "AssigneeId \"005000000000001AAB\" is not a Salesforce record id",
            ),
            (
                "PermissionSetId",
                json!("0PS000000000002GAA"),
                "PermissionSetId 0PS000000000002GAA is not among those asked about (record \
                 0Pa000000000001CAA)",
            ),
            (
                "PermissionSetId",
                json!("0ps000000000001"),
                "PermissionSetId 0ps000000000001AAA is not among those asked about",
            ),
        ] {
            let mut broken = row();
            broken[field] = value;
            let error = read(&broken).unwrap_err();
            assert!(
                error.starts_with(
                    "Salesforce query of PermissionSetAssignment: the answer is not what roster \
                     expects: "
                ),
                "{error}"
            );
            assert!(error.contains(expected), "{expected:?} not in {error}");
            assert!(
                error.len() < 600,
                "an id is echoed whole: {} bytes",
                error.len()
            );
        }
    }

    /// An access object's id is an id: a grant of it would be written with it.
    #[test]
    fn an_access_object_whose_id_is_not_an_id_fails_the_read() {
        let object = |id: &str| {
            access_object(
                GrantKind::PermissionSet,
                &json!({"Id": id, "Name": "Sales_Cloud_User"}),
            )
            .map_err(|e| e.to_string())
        };
        assert_eq!(object(PERMISSION_SET).unwrap().name, "Sales_Cloud_User");
        let error = object("0PS\u{1b}[2J").unwrap_err();
        assert!(
            error.ends_with(r#"Id "0PS\u{1b}[2J" is not a Salesforce record id (15 letters and digits, or 18 whose last three fit the first fifteen)"#),
            "{error}"
        );
    }

    /// An assignment's ids are kept in their canonical form, whichever the answer used, so one
    /// assignment answered in two forms is the same id twice.
    #[test]
    fn an_assignment_listed_twice_in_any_form_fails_the_read() {
        for form in [
            "0Pa000000000001",
            "0PA000000000001CAA",
            "0pa000000000001caa",
        ] {
            let mut answered = row();
            answered["Id"] = json!(form);
            answered["AssigneeId"] = json!("005000000000001");
            answered["PermissionSetId"] = json!(PERMISSION_SET.to_lowercase());
            let read = read(&answered).unwrap();
            assert_eq!(read.id, "0Pa000000000001CAA", "{form}");
            assert_eq!(read.assignee_id, "005000000000001AAA");
            assert_eq!(read.object_id, PERMISSION_SET);
        }
        let grant = |id: &str| GrantAssignment {
            kind: GrantKind::PermissionSet,
            id: id.into(),
            assignee_id: "005000000000001AAA".into(),
            object_id: PERMISSION_SET.into(),
        };
        let (one, other) = ("0Pa000000000001CAA", "0Pa000000000002CAA");
        assert!(listed_once(&[grant(one), grant(other)]).is_ok());
        let error = listed_once(&[grant(one), grant(one), grant(other)])
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with(&format!("assignment {one} is listed twice")),
            "{error}"
        );
        // The same id in two kinds is two records' (a guess of the emulator's, never real).
        let mut licence = grant(one);
        licence.kind = GrantKind::PermissionSetLicense;
        assert!(listed_once(&[grant(one), licence]).is_ok());
    }
}
