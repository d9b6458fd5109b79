//! Taking the target snapshot: the org, its users with the fields roster compares and manages,
//! profiles with their licences, roles, permission sets and the assignments of the ones the
//! config names. Independent queries run side by side.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::client::{Salesforce, SalesforceError};
use crate::config::{Config, OutOfScope};
use crate::model::{
    FieldDescribe, Org, Profile, SNAPSHOT_FORMAT, TargetSnapshot, TargetUser, UserLicense,
    UserLogin, UserRole,
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
    // Whom each user reports to: Salesforce refuses to deactivate an active user's manager.
    "ManagerId",
    "LastModifiedDate",
    "SystemModstamp",
];

/// `user_fields` of `config`, then those of `also` (the baseline config a plan is compared
/// with, planned on the same read) it does not name (names compare without case, as SOQL's).
pub(crate) fn user_fields_with(config: &Config, also: Option<&Config>) -> Vec<String> {
    let mut fields = user_fields(config);
    for field in also.map(user_fields).unwrap_or_default() {
        if !fields.iter().any(|f| f.eq_ignore_ascii_case(&field)) {
            fields.push(field);
        }
    }
    fields
}

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
    for feature in config.roles.feature_licenses() {
        if seen.insert(feature.field.to_ascii_lowercase()) {
            fields.push(feature.field.to_owned());
        }
    }
    fields
}

/// Reads what the Salesforce org holds.
pub(crate) async fn read(
    salesforce: Arc<Salesforce>,
    config: &Config,
    also: Option<&Config>,
    task: Task,
) -> Result<TargetSnapshot, SalesforceError> {
    task.step("login");
    let session = salesforce.session().await?;
    let fields = user_fields_with(config, also);
    let users = {
        let salesforce = Arc::clone(&salesforce);
        let soql = format!("SELECT {} FROM User", fields.join(", "));
        let (task, fields) = (task.clone(), &fields);
        async move {
            task.step("users");
            // Each page's rows made users as the page arrives: the rows as JSON maps are let
            // go a page at a time.
            let mut users = Vec::new();
            salesforce
                .query_pages(&soql, Some(&task), |rows| {
                    users.reserve(rows.len());
                    for row in rows {
                        users.push(user_of_row(row, fields)?);
                    }
                    Ok(())
                })
                .await?;
            Ok::<_, SalesforceError>(users)
        }
    };
    let metadata = read_metadata(&salesforce);
    // The logins of users: every one when the config freezes (the id a freeze writes), else
    // the frozen ones (a linked user in scope who is frozen is unfrozen).
    let logins = async {
        let soql = if matches!(config.deprovision.out_of_scope, OutOfScope::Freeze) {
            "SELECT Id, UserId, IsFrozen FROM UserLogin"
        } else {
            "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE IsFrozen = true"
        };
        salesforce.query(soql, None).await
    };
    let describe = async {
        let answer = salesforce
            .data(reqwest::Method::GET, "sobjects/User/describe", None)
            .await?;
        user_describe(&answer)
    };
    let configs: Vec<&Config> = std::iter::once(config).chain(also).collect();
    let access = async {
        tokio::try_join!(
            super::access::read(&salesforce, &configs),
            super::access::feature_seats(&salesforce, &configs)
        )
    };
    let (
        (users, (org, licenses, profiles, roles), logins, describe),
        ((access_objects, grants, access_read), feature_license_seats),
    ) = tokio::try_join!(
        async { tokio::try_join!(users, metadata, logins, describe) },
        access
    )?;
    let users = users_from(users, &logins)?;
    task.finish(&format!(
        "{} users, {} profiles, {} access objects",
        users.len(),
        profiles.len(),
        access_objects.len()
    ));
    Ok(TargetSnapshot {
        format_version: SNAPSHOT_FORMAT,
        instance_url: session.instance_url.clone(),
        api_version: salesforce.api_version.clone(),
        org,
        users,
        fields,
        user_describe: describe,
        profiles,
        licenses,
        roles,
        access_objects,
        grants,
        feature_license_seats,
        access_read,
        api_usage: salesforce.usage(),
        warnings: salesforce.credential_warning().into_iter().collect(),
        api_user_id: session.user_id.clone(),
    })
}

/// A User row as a user, checked for its shape: every field of `fields` answered (null or not)
/// and the core fields typed as Salesforce answers them (`TargetUser::from_row`).
fn user_of_row(row: Value, fields: &[String]) -> Result<TargetUser, SalesforceError> {
    let row = strip_attributes(row);
    // Salesforce answers every selected field, null or not: a row without one is a
    // malformed answer (a missing ProfileId would lose a protected profile).
    // Each name as asked for first: Salesforce answers with the describe's spelling, which a
    // config nearly always uses (every key compared with every field: 40 million comparisons
    // for 100,000 users).
    if let Some(missing) = fields
        .iter()
        .find(|f| !row.contains_key(f.as_str()) && !row.keys().any(|k| k.eq_ignore_ascii_case(f)))
    {
        // The record named, where it has an id, among the thousands of a large org's (as
        // `from_row` names it).
        let record = match row.get("Id").and_then(Value::as_str) {
            Some(id) => format!(" (record {})", crate::render::visible(id)),
            None => String::new(),
        };
        return Err(malformed(
            "User",
            &format!("a record has no {missing}{record}"),
        ));
    }
    TargetUser::from_row(row).map_err(|why| malformed("User", &why))
}

/// The users of the User rows (`user_of_row`), each with its login, and no user twice.
fn users_from(
    users: Vec<TargetUser>,
    logins: &[Value],
) -> Result<Vec<TargetUser>, SalesforceError> {
    // A login row without its ids or flag would unfreeze or freeze the wrong user: refused.
    let mut login_of: HashMap<String, UserLogin> = HashMap::with_capacity(logins.len());
    for row in logins {
        let id = required_id(row, "UserLogin", "Id", &[super::USER_LOGIN_IDS])?;
        let in_record = |why: String| malformed("UserLogin", &format!("{why} (record {id})"));
        let user = id_of(row, "UserId", &[super::USER_IDS]).map_err(in_record)?;
        let Some(is_frozen) = row.get("IsFrozen").and_then(Value::as_bool) else {
            return Err(in_record("IsFrozen is not a boolean".to_owned()));
        };
        if login_of.contains_key(&user) {
            return Err(in_record(format!("user {user} has two UserLogin records")));
        }
        login_of.insert(user, UserLogin { id, is_frozen });
    }
    // One login answered for two users: freezing it would be a guess.
    let mut login_ids: Vec<&str> = login_of.values().map(|login| login.id.as_str()).collect();
    login_ids.sort_unstable();
    if let Some(twice) = repeated(&login_ids, |a, b| a == b) {
        return Err(malformed(
            "UserLogin",
            &format!("the record is listed twice (record {twice})"),
        ));
    }
    drop(login_ids);
    // Every id is in its canonical form (`record_id`): ids join by their text. A user whose
    // profile the Profile query did not list (Salesforce's internal Automated Process user)
    // is kept: the planner protects it (`plan::target::Org::protected`).
    let mut users = users;
    for user in &mut users {
        user.login = login_of.remove(user.id.as_str());
    }
    users.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(twice) = repeated(&users, |a, b| a.id == b.id) {
        return Err(malformed(
            "User",
            &format!("user {} is listed twice", twice.id),
        ));
    }
    Ok(users)
}

/// The User fields of a describe answer (REST API "sObject Describe"): each with its `name` and
/// `type`; the properties roster checks values against read where present. Sorted by name.
fn user_describe(answer: &Value) -> Result<Vec<FieldDescribe>, SalesforceError> {
    let unexpected = |why: &str| {
        SalesforceError::Read(format!(
            "Salesforce describe of User: the answer is not what roster expects: {why}"
        ))
    };
    let Some(Value::Array(fields)) = answer.get("fields") else {
        return Err(unexpected("it has no `fields` array"));
    };
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let text = |key: &str| field.get(key).and_then(Value::as_str);
        let flag = |key: &str| field.get(key).and_then(Value::as_bool) == Some(true);
        let (Some(name), Some(kind)) = (text("name"), text("type")) else {
            return Err(unexpected("a field has no `name` or `type`"));
        };
        let picklist_values = match field.get("picklistValues") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(values)) => values
                .iter()
                // Inactive values cannot be written.
                .filter(|v| v.get("active").and_then(Value::as_bool) != Some(false))
                .filter_map(|v| v.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect(),
            Some(_) => return Err(unexpected("`picklistValues` is not an array")),
        };
        out.push(FieldDescribe {
            name: name.to_owned(),
            label: text("label").unwrap_or(name).to_owned(),
            kind: kind.to_owned(),
            length: field
                .get("length")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0),
            restricted_picklist: flag("restrictedPicklist"),
            picklist_values,
            unique: flag("unique"),
            case_sensitive: flag("unique") && flag("caseSensitive"),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

type Metadata = (Org, Vec<UserLicense>, Vec<Profile>, Vec<UserRole>);

async fn read_metadata(salesforce: &Arc<Salesforce>) -> Result<Metadata, SalesforceError> {
    let profile_query = profile_query();
    let (org, licenses, profiles, roles) = tokio::try_join!(
        salesforce.query("SELECT Id, Name, IsSandbox FROM Organization LIMIT 1", None),
        salesforce.query(
            "SELECT Id, Name, TotalLicenses, UsedLicenses FROM UserLicense",
            None
        ),
        salesforce.query(&profile_query, None),
        salesforce.query("SELECT Id, Name, DeveloperName FROM UserRole", None),
    )?;
    let org = organization(&org)?;
    // Every org has profiles: none is a read that lost them, and would lose every protected
    // profile with them.
    if profiles.is_empty() {
        return Err(SalesforceError::Read(
            "Salesforce returned no Profile records".to_owned(),
        ));
    }
    let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_i64).unwrap_or(0);
    let optional = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let licenses = sorted(
        &licenses,
        "UserLicense",
        |l| {
            Ok(UserLicense {
                id: required_id(l, "UserLicense", "Id", &[super::USER_LICENSE_IDS])?,
                name: required(l, "UserLicense", "Name")?,
                total: number(l, "TotalLicenses"),
                used: number(l, "UsedLicenses"),
            })
        },
        |r| &r.id,
    )?;
    let profiles = sorted(
        &profiles,
        "Profile",
        |p| {
            Ok(Profile {
                id: required_id(p, "Profile", "Id", &[super::PROFILE_IDS])?,
                name: required(p, "Profile", "Name")?,
                user_license_id: optional(p, "UserLicenseId")
                    .map(|id| super::record_id("UserLicenseId", id, &[super::USER_LICENSE_IDS]))
                    .transpose()
                    .map_err(|why| malformed("Profile", &why))?,
                administrative: crate::model::ADMINISTRATIVE_PERMISSIONS
                    .iter()
                    .filter(|name| {
                        p.get(format!("Permissions{name}"))
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    })
                    .map(|name| (*name).to_owned())
                    .collect(),
            })
        },
        |r| &r.id,
    )?;
    let roles = sorted(
        &roles,
        "UserRole",
        |r| {
            Ok(UserRole {
                id: required_id(r, "UserRole", "Id", &[super::USER_ROLE_IDS])?,
                name: required(r, "UserRole", "Name")?,
                developer_name: optional(r, "DeveloperName"),
            })
        },
        |r| &r.id,
    )?;
    Ok((org, licenses, profiles, roles))
}

/// The profiles, each with its administrative permissions (`ADMINISTRATIVE_PERMISSIONS`).
fn profile_query() -> String {
    let permissions: Vec<String> = crate::model::ADMINISTRATIVE_PERMISSIONS
        .iter()
        .map(|name| format!(", Permissions{name}"))
        .collect();
    format!(
        "SELECT Id, Name, UserLicenseId{} FROM Profile",
        permissions.concat()
    )
}

/// The Organization record.
fn organization(rows: &[Value]) -> Result<Org, SalesforceError> {
    let Some(org) = rows.first() else {
        return Err(SalesforceError::Read(
            "Salesforce returned no Organization record".to_owned(),
        ));
    };
    Ok(Org {
        id: required_id(org, "Organization", "Id", &[super::ORGANIZATION_IDS])?,
        name: required(org, "Organization", "Name")?,
        is_sandbox: org.get("IsSandbox").and_then(Value::as_bool) == Some(true),
    })
}

/// Records of `object` built from query rows, sorted by `id` so two reads of one org are
/// byte-identical; a record listed twice (its id canonical: `required_id`) is refused.
fn sorted<T>(
    rows: &[Value],
    object: &str,
    build: impl Fn(&Value) -> Result<T, SalesforceError>,
    id: impl Fn(&T) -> &str,
) -> Result<Vec<T>, SalesforceError> {
    let mut records = rows.iter().map(build).collect::<Result<Vec<T>, _>>()?;
    records.sort_by(|a, b| id(a).cmp(id(b)));
    if let Some(twice) = repeated(&records, |a, b| id(a) == id(b)) {
        return Err(malformed(object, &format!("{} is listed twice", id(twice))));
    }
    Ok(records)
}

/// The first item of `sorted` that is the `same` as the next (sorted so that such items are
/// neighbours): a record an answer lists twice, found in place.
pub(super) fn repeated<T>(sorted: &[T], same: impl Fn(&T, &T) -> bool) -> Option<&T> {
    sorted.windows(2).find_map(|pair| match pair {
        [a, b] if same(a, b) => Some(a),
        _ => None,
    })
}

/// A text field every record of `object` has (its Id, a Name, a reference the query selected):
/// a row without it is a malformed answer, never an empty name.
pub(super) fn required(row: &Value, object: &str, field: &str) -> Result<String, SalesforceError> {
    text_of(row, field).map_err(|why| malformed(object, &why))
}

/// `required` for an id (the record's own `Id`, or a reference the query selected): its
/// canonical 18-character form, checked to be an id of one of `of`'s objects where it names
/// any (`salesforce::record_id`).
pub(super) fn required_id(
    row: &Value,
    object: &str,
    field: &str,
    of: &[super::KeyPrefix],
) -> Result<String, SalesforceError> {
    id_of(row, field, of).map_err(|why| malformed(object, &why))
}

/// A row's `field`, a text that is not empty; else why not.
pub(super) fn text_of(row: &Value, field: &str) -> Result<String, String> {
    match row.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        None | Some(Value::Null) => Err(format!("a record has no {field}")),
        Some(Value::String(_)) => Err(format!("a record's {field} is empty")),
        Some(Value::Bool(_)) => Err(format!("a record's {field} is a boolean, not a string")),
        Some(Value::Number(_)) => Err(format!("a record's {field} is a number, not a string")),
        Some(Value::Array(_)) => Err(format!("a record's {field} is an array, not a string")),
        Some(Value::Object(_)) => Err(format!("a record's {field} is an object, not a string")),
    }
}

/// A row's `field`, a record id of one of `of`'s objects (any, when it names none), in its
/// canonical 18-character form (`salesforce::record_id`); else why not.
pub(super) fn id_of(row: &Value, field: &str, of: &[super::KeyPrefix]) -> Result<String, String> {
    super::record_id(field, text_of(row, field)?, of)
}

/// A query answer of `object` roster cannot read, and why.
pub(super) fn malformed(object: &str, why: &str) -> SalesforceError {
    SalesforceError::Read(format!(
        "Salesforce query of {object}: the answer is not what roster expects: {why}"
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A User row as Salesforce answers one, with `attributes`.
    fn row() -> Value {
        json!({
            "attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/005000000000001AAA"},
            "Id": "005000000000001AAA",
            "Username": "ava@contoso.com.dev1",
            "Email": "ava@contoso.com",
            "IsActive": true,
            "ProfileId": "00e000000000001AAA",
            "UserRoleId": null,
            "SystemModstamp": "2026-01-01T00:00:00.000+0000",
            "Department": "Sales",
        })
    }

    #[test]
    fn a_row_answers_every_field_asked_for_in_any_case() {
        let fields = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        // As asked, and in another case than asked (Salesforce answers with the describe's
        // spelling): both read.
        for asked in [&["Id", "Department"][..], &["id", "DEPARTMENT"]] {
            let user = user_of_row(row(), &fields(asked)).unwrap();
            assert_eq!(user.id, "005000000000001AAA");
            assert_eq!(user.text("Department"), Some("Sales"));
            assert_eq!(user.email.as_deref(), Some("ava@contoso.com"));
        }
        // A field not answered at all fails the read.
        let error = user_of_row(row(), &fields(&["Id", "Title"])).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("a record has no Title (record 005000000000001AAA)"),
            "{error}"
        );
        // A core field answered in another case is read as itself.
        let mut lower = row();
        let username = lower.as_object_mut().unwrap().remove("Username").unwrap();
        lower["username"] = username;
        let user = user_of_row(lower, &fields(&["Username"])).unwrap();
        assert_eq!(user.username, "ava@contoso.com.dev1");
        assert!(user.fields.get("username").is_none());
    }

    /// A User or UserLogin row whose ids are not record ids (of a User, where they name one)
    /// fails the read, the id cut and escaped: planned, such an id reached the plan and stopped
    /// an apply half done at `MALFORMED_ID`. One user in two forms is one user listed twice,
    /// and a login joins its user in any form.
    #[test]
    fn ids_that_are_not_a_users_fail_the_read_and_every_form_of_one_id_is_one_user() {
        let with_id = |id: Value| {
            let mut answered = row();
            answered["Id"] = id;
            user_of_row(answered, &[]).map_err(|e| e.to_string())
        };
        let long = "5".repeat(100_000);
        for (id, expected) in [
            (
                json!("005\n00000000001"),
                r#"Id "005\n00000000001" is not a Salesforce record id"#,
            ),
            (
                json!("x/../../../../v1.0/users?\u{1b}[31m"),
                r#"Id "x/../../../../v1.0/users?\u{1b}[31m" is not a Salesforce record id"#,
            ),
            (json!(""), r#"Id "" is not a Salesforce record id"#),
            (json!(long), "is not a Salesforce record id"),
            // The suffix marks a digit as a capital: no id has it.
            (json!("005000000000001AAB"), "is not a Salesforce record id"),
            (
                json!("0PS000000000001GAA"),
                r#"Id "0PS000000000001GAA" is not the id of a User (those start 005)"#,
            ),
            (json!(5), "Id is 5, not a string"),
        ] {
            let error = with_id(id).unwrap_err();
            assert!(error.contains(expected), "{expected:?} not in {error}");
            assert!(
                !error.contains('\u{1b}') && !error.contains('\n'),
                "{error}"
            );
            assert!(
                error.len() < 600,
                "an id is echoed whole: {} bytes",
                error.len()
            );
        }
        let user = |id: &str| with_id(json!(id)).unwrap();
        // Every id kept in its canonical 18-character form, as Salesforce answers it: ids join
        // by their text whichever form the answer used.
        let mut fifteen = row();
        fifteen["Id"] = json!("005000000000001");
        fifteen["ProfileId"] = json!("00e000000000001aaa");
        fifteen["UserRoleId"] = json!("00E000000000001");
        let read = user_of_row(fifteen, &[]).unwrap();
        assert_eq!(read.id, "005000000000001AAA");
        assert_eq!(read.profile_id.as_deref(), Some("00e000000000001AAA"));
        assert_eq!(read.user_role_id.as_deref(), Some("00E000000000001EAA"));
        // The 15-character form and the 18-character one in capitals are the same user's.
        for twice in ["005000000000001", "005000000000001aaa"] {
            let error = users_from(vec![user("005000000000001AAA"), user(twice)], &[])
                .unwrap_err()
                .to_string();
            assert!(error.contains("is listed twice"), "{error}");
        }
    }

    /// A UserLogin row whose ids are not a login's and a User's, or a login answered twice
    /// (for one user, or one login for two users), fails the read: freezing either would be a
    /// guess. A login joins its user in any form of the user's id.
    #[test]
    fn a_login_whose_ids_are_not_a_logins_or_answered_twice_fails_the_read() {
        let user = |id: &str| {
            let mut answered = row();
            answered["Id"] = json!(id);
            user_of_row(answered, &[]).unwrap()
        };
        let login = |id: &str, user: &str| json!({"Id": id, "UserId": user, "IsFrozen": true});
        let joined = users_from(
            vec![user("005000000000001AAA")],
            &[login("0Yw000000000001CAA", "005000000000001")],
        )
        .unwrap();
        assert_eq!(joined[0].login.as_ref().unwrap().id, "0Yw000000000001CAA");
        for (logins, expected) in [
            (
                vec![login("0Yw000000000001CAA", "0PS000000000001GAA")],
                "UserId \"0PS000000000001GAA\" is not the id of a User (those start 005) (record \
                 0Yw000000000001CAA)",
            ),
            (
                vec![login("0Yw\u{1b}", "005000000000001AAA")],
                r#"Id "0Yw\u{1b}" is not a Salesforce record id"#,
            ),
            (
                vec![
                    login("0Yw000000000001CAA", "005000000000001AAA"),
                    login("0Yw000000000002CAA", "005000000000001"),
                ],
                "user 005000000000001AAA has two UserLogin records (record 0Yw000000000002CAA)",
            ),
            // One login answered for two users: freezing it would be a guess.
            (
                vec![
                    login("0Yw000000000001CAA", "005000000000001AAA"),
                    login("0Yw000000000001", "005000000000002AAA"),
                ],
                "the record is listed twice (record 0Yw000000000001CAA)",
            ),
        ] {
            let error = users_from(vec![user("005000000000001AAA")], &logins)
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(
                    "Salesforce query of UserLogin: the answer is not what roster expects: "
                ),
                "{error}"
            );
            assert!(error.contains(expected), "{expected:?} not in {error}");
        }
    }

    /// A core field answered twice, in spellings that differ only in case, is refused whichever
    /// spelling is the one asked for: which of the two is the user's cannot be known. The
    /// record is named, and what it holds is shown escaped.
    #[test]
    fn a_core_field_answered_twice_or_malformed_fails_naming_the_record() {
        for (field, twice) in [
            ("IsActive", json!("false")),
            ("Username", json!("someone.else@contoso.com.dev1")),
            ("ProfileId", json!("00e000000000002AAA")),
        ] {
            let mut answered = row();
            answered[field.to_uppercase()] = twice;
            let error = user_of_row(answered, &[]).unwrap_err().to_string();
            assert!(
                error.ends_with(&format!(
                    "{field} is answered twice, as {} and as {field} (record 005000000000001AAA)",
                    field.to_uppercase()
                )),
                "{error}"
            );
        }
        let mut text_active = row();
        text_active["IsActive"] = json!("true");
        let error = user_of_row(text_active, &[]).unwrap_err().to_string();
        assert!(
            error.ends_with("IsActive is \"true\", not a boolean (record 005000000000001AAA)"),
            "{error}"
        );
    }
}
