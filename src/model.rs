//! The plain records both edges convert into: what roster saw in Entra (`SourceSnapshot`) and in
//! Salesforce (`TargetSnapshot`). The planner reads exactly these; `roster snapshot` writes them
//! as JSON. Lists are sorted by id so two reads of the same world are byte-identical.

use std::borrow::Cow;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::field_value::FieldValue;
use crate::grants::GrantKind;

/// The version of the snapshot documents; bumped when a field changes meaning or shape (2: a
/// target user's core fields are typed; 5: each says which groups and access objects it was
/// read for, so a plan can tell "not read" from "none").
pub(crate) const SNAPSHOT_FORMAT: u32 = 5;

/// What Entra says: the application, its assignments, the groups that matter and the users in
/// question with the attributes the config references.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The groups role rules name, as they name them (a display name or an object id), each
    /// looked up whether Entra has it or not: a group named here and absent from `groups` does
    /// not exist; one not named here was not looked for.
    pub(crate) role_groups: Vec<String>,
    /// Users assigned to the application directly that Graph no longer returns: deleted in
    /// Entra. The one absence a read accepts; the plan names each.
    #[serde(default)]
    pub(crate) deleted_users: Vec<DeletedUser>,
    /// The Entra users whose object ids the object-id anchors of active Salesforce users hold,
    /// whom the read did not give and Graph finds among the tenant's users (`read::live` looks
    /// them up after both reads): people no longer among the application's users, whose
    /// accounts go as they did. In object id order, ids in Graph's form (lower case). Empty
    /// when no anchor held such an id; `None` in a snapshot taken before roster looked them up,
    /// where an id neither read nor deleted may be anyone's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unassigned_users: Option<Vec<UnassignedUser>>,
    /// Things roster noticed that Entra itself would also ignore (e.g. nested groups).
    pub(crate) warnings: Vec<String>,
}

impl SourceSnapshot {
    /// Whether `id` (an object id in Graph's form, any case) is an Entra user who has left the
    /// application: assigned and deleted since (`deleted_users`), or in the tenant and no
    /// longer assigned (`unassigned_users`). Their Salesforce account is theirs, not anyone
    /// else's to claim.
    pub(crate) fn left_application(&self, id: &str) -> bool {
        self.deleted(id).is_some() || self.unassigned(id).is_some()
    }

    /// The user the application's assignments name whom Entra has deleted, by object id.
    pub(crate) fn deleted(&self, id: &str) -> Option<&DeletedUser> {
        self.deleted_users
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
    }

    /// The user of the tenant no longer among the application's users, by object id (any
    /// case), when the read looked them up (`unassigned_users`, in id order).
    pub(crate) fn unassigned(&self, id: &str) -> Option<&UnassignedUser> {
        let users = self.unassigned_users.as_deref()?;
        let at = users
            .binary_search_by(|u| cmp_ignore_ascii_case(&u.id, id))
            .ok()?;
        users.get(at)
    }

    /// The user of the tenant no longer among the application's users whose
    /// userPrincipalName is `upn` (any case, spaces around it aside), when the read looked
    /// them up.
    pub(crate) fn unassigned_named(&self, upn: &str) -> Option<&UnassignedUser> {
        let upn = upn.trim();
        (self.unassigned_users.iter().flatten()).find(|u| {
            u.user_principal_name
                .as_deref()
                .is_some_and(|theirs| theirs.eq_ignore_ascii_case(upn))
        })
    }
}

/// A user of the tenant whose object id an account's object-id anchor holds, whom the read did
/// not give: not among the application's users (unassigned, or assigned only through a nested
/// group). As Graph's `GET /users?$filter=id in (...)` gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnassignedUser {
    /// The object id, in Graph's form (lower case).
    pub(crate) id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) display_name: Option<String>,
}

impl UnassignedUser {
    /// `users` in object id order, each id once: as `SourceSnapshot::unassigned` searches them.
    pub(crate) fn in_id_order(users: &mut Vec<UnassignedUser>) {
        users.sort_by(|a, b| a.id.cmp(&b.id));
        users.dedup_by(|a, b| a.id == b.id);
    }

    /// ` (ann@contoso.com)`: the userPrincipalName, else the display name, in parentheses, shown
    /// safely (`render::visible`: Entra's text never acts on a terminal); nothing without one.
    pub(crate) fn named(&self) -> String {
        [&self.user_principal_name, &self.display_name]
            .into_iter()
            .flatten()
            .map(|name| name.trim())
            .find(|name| !name.is_empty())
            .map(|name| format!(" ({})", crate::render::visible(name)))
            .unwrap_or_default()
    }
}

/// `a` and `b` ordered as their ASCII lower case is: how `unassigned_users` (lower case) is
/// searched for an id in any case.
fn cmp_ignore_ascii_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// A user the application's assignments name, whom Graph no longer returns (deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeletedUser {
    /// The Entra object id the assignment names.
    pub(crate) id: String,
    /// The assignment's `principalDisplayName`, when Graph gave one.
    pub(crate) display_name: Option<String>,
}

impl DeletedUser {
    /// The display name, trimmed; `None` when Graph gave none or a blank one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
    }

    /// "Display Name (object id)", or "no display name (object id)" when it has none
    /// (`name`), as plans list them.
    pub(crate) fn shown(&self) -> String {
        format!("{} ({})", self.name().unwrap_or("no display name"), self.id)
    }
}

/// The enterprise application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServicePrincipal {
    pub(crate) id: String,
    pub(crate) app_id: String,
    pub(crate) display_name: String,
    pub(crate) app_roles: Vec<AppRole>,
}

/// One app role of the application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppRole {
    pub(crate) id: String,
    pub(crate) display_name: String,
    /// The role's value (what `appRoleAssignments` holds); `None` for Default Access.
    pub(crate) value: Option<String>,
    pub(crate) is_enabled: bool,
}

/// One row of `appRoleAssignedTo`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub(crate) struct SourceUser {
    pub(crate) id: String,
    /// By Entra name; the names are shared between users (interned).
    pub(crate) attributes: crate::user_attributes::UserAttributes,
}

/// What the Salesforce org holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetSnapshot {
    pub(crate) format_version: u32,
    pub(crate) instance_url: String,
    pub(crate) api_version: String,
    pub(crate) org: Org,
    /// Every User, with the fields roster compares and manages.
    pub(crate) users: Vec<TargetUser>,
    /// The User fields read.
    pub(crate) fields: Vec<String>,
    /// The org's own description of the User fields (`sobjects/User/describe`): what a value
    /// written must satisfy.
    pub(crate) user_describe: Vec<FieldDescribe>,
    pub(crate) profiles: Vec<Profile>,
    pub(crate) licenses: Vec<UserLicense>,
    pub(crate) roles: Vec<UserRole>,
    /// Every access object of every kind roster grants (permission sets not owned by a
    /// profile, permission set groups, licences, public groups, queues), sorted by kind and id.
    pub(crate) access_objects: Vec<AccessObject>,
    /// The assignments of the access objects the config names (granted, managed, or implied
    /// by those), sorted by kind and id.
    pub(crate) grants: Vec<GrantAssignment>,
    /// Seats of the feature licences the config names (`ActiveFeatureLicenseMetric`, the latest
    /// `TotalLicenseCount` per `FeatureType`, e.g. `KnowledgeUser`).
    #[serde(default)]
    pub(crate) feature_license_seats: std::collections::BTreeMap<String, i64>,
    /// What of `access_objects`, `grants` and `feature_license_seats` was read: an assignment
    /// absent from `grants` means "not held" only for an object read here.
    pub(crate) access_read: AccessRead,
    /// `Sforce-Limit-Info` of the last response: API requests used and allowed today.
    pub(crate) api_usage: Option<ApiUsage>,
    /// Things roster noticed about the org or the credential.
    pub(crate) warnings: Vec<String>,
    /// The User roster signs in as (from the token's identity URL): always protected.
    #[serde(default)]
    pub(crate) api_user_id: Option<String>,
}

/// Which access objects a read asked for: the kinds whose objects it listed, the objects whose
/// assignments it read, and whether it read the feature licences' seats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessRead {
    /// The kinds whose access objects were listed (every object of each).
    pub(crate) kinds: Vec<GrantKind>,
    /// The access objects whose assignments were read, by id (sorted).
    pub(crate) assignments_of: Vec<String>,
    /// `ActiveFeatureLicenseMetric` was read (the config named a feature licence).
    pub(crate) feature_license_seats: bool,
}

/// One User field as the org describes it (REST API "sObject Describe", `fields[]`): the
/// properties a value written must satisfy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldDescribe {
    /// The API name, e.g. `TimeZoneSidKey`.
    pub(crate) name: String,
    /// The label Salesforce's errors quote, e.g. `Time Zone`.
    pub(crate) label: String,
    /// describe's `type`: `string`, `picklist`, `email`, `boolean`, `reference`, ...
    pub(crate) kind: String,
    /// Maximum length in characters; 0 where the type has none.
    pub(crate) length: usize,
    /// Only `picklist_values` may be written.
    pub(crate) restricted_picklist: bool,
    /// The active picklist values.
    pub(crate) picklist_values: Vec<String>,
    /// No two users may hold the same value.
    pub(crate) unique: bool,
    /// A unique field describe marks `caseSensitive` (a custom field set to treat `ABC` and
    /// `abc` as different values), which SOQL's `=` and the uniqueness check compare as
    /// written; every other text compares without case ("Comparison Operators", SOQL and SOSL
    /// Reference). describe's flag on a field that is not unique (id fields carry it) changes
    /// no comparison and is not kept. Absent from snapshots written before it was read: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) case_sensitive: bool,
}

/// The Organization record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Org {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) is_sandbox: bool,
}

impl TargetSnapshot {
    /// Every Salesforce id the snapshot holds in its canonical 18-character form, each checked
    /// to be an id of its object (`salesforce::record_id`), and no record listed twice, as a
    /// live read keeps and refuses them: ids join by their text, so a hand-edited 15-character
    /// `profile_id` would name no profile (and a user on a profile the org does not list is
    /// protected: `plan::target::Org::protection`), and a role listed twice under two forms of
    /// one id would give one role's id for the other's name (helper-78).
    ///
    /// # Errors
    /// The first id that is not one, or that a second record holds: where it is
    /// (`users[3].profile_id`, `roles[1].id`) and why.
    pub(crate) fn canonical_ids(&mut self) -> Result<(), String> {
        use crate::salesforce::{self as sf, KeyPrefix};
        /// An id held as a `String` or inline (`CompactString`), put in its canonical form.
        fn fix<T>(place: &str, id: &mut T, of: &[KeyPrefix]) -> Result<(), String>
        where
            T: Default + Into<String> + From<String>,
        {
            *id = sf::record_id(place, std::mem::take(id).into(), of)?.into();
            Ok(())
        }
        fn fix_some<T>(place: &str, id: &mut Option<T>, of: &[KeyPrefix]) -> Result<(), String>
        where
            T: Default + Into<String> + From<String>,
        {
            id.as_mut().map_or(Ok(()), |id| fix(place, id, of))
        }
        fix("org.id", &mut self.org.id, &[sf::ORGANIZATION_IDS])?;
        fix_some("api_user_id", &mut self.api_user_id, &[sf::USER_IDS])?;
        for (i, user) in self.users.iter_mut().enumerate() {
            fix(&format!("users[{i}].id"), &mut user.id, &[sf::USER_IDS])?;
            let at = |field: &str| format!("users[{i}].{field}");
            fix_some(&at("profile_id"), &mut user.profile_id, &[sf::PROFILE_IDS])?;
            fix_some(
                &at("user_role_id"),
                &mut user.user_role_id,
                &[sf::USER_ROLE_IDS],
            )?;
            if let Some(login) = &mut user.login {
                fix(&at("login.id"), &mut login.id, &[sf::USER_LOGIN_IDS])?;
            }
        }
        for (i, profile) in self.profiles.iter_mut().enumerate() {
            fix(
                &format!("profiles[{i}].id"),
                &mut profile.id,
                &[sf::PROFILE_IDS],
            )?;
            let licence = &mut profile.user_license_id;
            fix_some(
                &format!("profiles[{i}].user_license_id"),
                licence,
                &[sf::USER_LICENSE_IDS],
            )?;
        }
        for (i, licence) in self.licenses.iter_mut().enumerate() {
            fix(
                &format!("licenses[{i}].id"),
                &mut licence.id,
                &[sf::USER_LICENSE_IDS],
            )?;
        }
        for (i, role) in self.roles.iter_mut().enumerate() {
            fix(
                &format!("roles[{i}].id"),
                &mut role.id,
                &[sf::USER_ROLE_IDS],
            )?;
        }
        for (i, object) in self.access_objects.iter_mut().enumerate() {
            let ids = &object.kind.spec().ids;
            fix(
                &format!("access_objects[{i}].id"),
                &mut object.id,
                ids.object,
            )?;
            fix_some(
                &format!("access_objects[{i}].license_id"),
                &mut object.license_id,
                sf::LICENSE_IDS,
            )?;
        }
        for (i, id) in self.access_read.assignments_of.iter_mut().enumerate() {
            fix(&format!("access_read.assignments_of[{i}]"), id, &[])?;
        }
        for (i, grant) in self.grants.iter_mut().enumerate() {
            let ids = &grant.kind.spec().ids;
            let at = |field: &str| format!("grants[{i}].{field}");
            fix(&at("id"), &mut grant.id, ids.assignment)?;
            fix(&at("assignee_id"), &mut grant.assignee_id, ids.assignee)?;
            fix(&at("object_id"), &mut grant.object_id, ids.object)?;
        }
        self.listed_once()?;
        self.grants_read()?;
        self.case_sensitive_unique()
    }

    /// Only a unique field is case-sensitive (`FieldDescribe::case_sensitive`): the live read
    /// keeps the flag on no other, and Salesforce compares every other text without case.
    fn case_sensitive_unique(&self) -> Result<(), String> {
        match (self.user_describe.iter().enumerate()).find(|(_, f)| f.case_sensitive && !f.unique) {
            Some((i, field)) => Err(format!(
                "user_describe[{i}] ({}) is case_sensitive but not unique: Salesforce compares \
                 a field's text with case only when the field is unique and case-sensitive",
                field.name
            )),
            None => Ok(()),
        }
    }

    /// Every grant is an assignment of an object whose assignments were read
    /// (`access_read.assignments_of`), as a live read refuses any other (`salesforce::access`):
    /// a hand-edited grant of another object would be planned as held where nothing says what
    /// else of it is (`canonical_ids`, whose ids are canonical by now).
    fn grants_read(&self) -> Result<(), String> {
        let read: std::collections::HashSet<&str> = (self.access_read.assignments_of.iter())
            .map(String::as_str)
            .collect();
        match (self.grants.iter().enumerate()).find(|(_, g)| !read.contains(g.object_id.as_str())) {
            Some((i, grant)) => Err(format!(
                "grants[{i}].object_id: {} is not among access_read.assignments_of, the objects \
                 whose assignments were read",
                grant.object_id
            )),
            None => Ok(()),
        }
    }

    /// No profile, licence, role, access object, grant or login listed twice (`canonical_ids`,
    /// whose ids are canonical by now).
    fn listed_once(&self) -> Result<(), String> {
        once(
            "profiles",
            self.profiles.iter().map(|p| p.id.as_str()).enumerate(),
        )?;
        once(
            "licenses",
            self.licenses.iter().map(|l| l.id.as_str()).enumerate(),
        )?;
        once(
            "roles",
            self.roles.iter().map(|r| r.id.as_str()).enumerate(),
        )?;
        let objects = self.access_objects.iter().map(|o| o.id.as_str());
        once("access_objects", objects.enumerate())?;
        once(
            "grants",
            self.grants.iter().map(|g| g.id.as_str()).enumerate(),
        )?;
        // Only users with a login: the others hold no login id to share.
        let logins = (self.users.iter().enumerate())
            .filter_map(|(i, u)| Some((i, u.login.as_ref()?.id.as_str())));
        once("users", logins).map_err(|why| why.replace("].id", "].login.id"))?;
        Ok(())
    }
}

/// Each of `ids` (place in the list `what`, id) once: the second place of one is an error
/// naming both.
fn once<'i>(what: &str, ids: impl Iterator<Item = (usize, &'i str)>) -> Result<(), String> {
    match listed_twice(ids) {
        Some((first, i, id)) => Err(format!(
            "{what}[{i}].id {id} is {what}[{first}].id too: a record listed twice"
        )),
        None => Ok(()),
    }
}

/// The first two places of one key among `keyed` (place, key), and the key: a record a
/// snapshot lists twice.
pub(crate) fn listed_twice<K: std::hash::Hash + Eq>(
    keyed: impl Iterator<Item = (usize, K)>,
) -> Option<(usize, usize, K)> {
    let mut seen: crate::hash::HashMap<K, usize> = crate::hash::HashMap::with_capacity_and_hasher(
        keyed.size_hint().0,
        foldhash::fast::RandomState::default(),
    );
    for (j, key) in keyed {
        if let Some(&i) = seen.get(&key) {
            return Some((i, j, key));
        }
        seen.insert(key, j);
    }
    None
}

/// A Salesforce user: the core fields the lifecycle reads, typed, and the other fields read
/// (mapped and matched), as Salesforce returned them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetUser {
    pub(crate) id: CompactString,
    pub(crate) username: String,
    pub(crate) email: Option<String>,
    pub(crate) is_active: bool,
    pub(crate) profile_id: Option<CompactString>,
    pub(crate) user_role_id: Option<CompactString>,
    /// When anything about the user last changed: what a saved plan's fingerprint compares.
    pub(crate) system_modstamp: Option<CompactString>,
    /// The user's `UserLogin`, read when the config freezes.
    pub(crate) login: Option<UserLogin>,
    /// Every other field read, by the API name Salesforce returned (names shared between
    /// users: one sorted vector a user where a `BTreeMap` spent three nodes).
    pub(crate) fields: crate::sorted_map::Fields,
}

/// A user's `UserLogin` record: the id a freeze writes, and whether the login is frozen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserLogin {
    pub(crate) id: String,
    pub(crate) is_frozen: bool,
}

impl TargetUser {
    /// A user from one User query row (`attributes` removed).
    ///
    /// # Errors
    /// What about the row is not a User as Salesforce answers one: no `Id` string or one that
    /// is not a User's id (`salesforce::record_id`: ids are kept in their canonical
    /// 18-character form, as are `ProfileId` and `UserRoleId`, each checked to be its
    /// object's), no `Username` string, an `IsActive` that is not a boolean, a `ProfileId` that
    /// is not a string (every User has a profile), or an `Email`, `UserRoleId` or
    /// `SystemModstamp` that is neither a string nor null, or one of those fields answered twice in spellings that differ only in
    /// case (SOQL's names do not differ by case: which of the two is the user's?); each error
    /// after the `Id` names the record (`(record 005…)`). A planner fed such a row would guess,
    /// and guesses deactivate people.
    pub(crate) fn from_row(mut row: Map<String, Value>) -> Result<TargetUser, String> {
        let mut take = |name: &str| -> Result<Option<Value>, String> {
            let mut spellings = row.keys().filter(|k| k.eq_ignore_ascii_case(name));
            let (first, second) = (spellings.next(), spellings.next());
            if let (Some(first), Some(second)) = (first, second) {
                return Err(format!(
                    "{name} is answered twice, as {} and as {}",
                    crate::render::visible(first),
                    crate::render::visible(second)
                ));
            }
            let key = first.cloned();
            Ok(key.and_then(|key| row.remove(&key)))
        };
        let text = |name: &str, value: Option<Value>| match value {
            Some(Value::String(text)) => Ok(text),
            other => Err(format!("{name} is {}, not a string", shown(other.as_ref()))),
        };
        let optional = |name: &str, value: Option<Value>| match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(format!("{name} is {}, not a string", shown(Some(&other)))),
        };
        let id = crate::salesforce::record_id(
            "Id",
            text("Id", take("Id")?)?,
            &[crate::salesforce::USER_IDS],
        )?;
        // Every error after the id names the record, among a large org's 100,000.
        let mut rest = || {
            let username = text("Username", take("Username")?)?;
            let is_active = match take("IsActive")? {
                Some(Value::Bool(active)) => active,
                other => {
                    return Err(format!(
                        "IsActive is {}, not a boolean",
                        shown(other.as_ref())
                    ));
                }
            };
            Ok((
                username,
                is_active,
                optional("Email", take("Email")?)?,
                crate::salesforce::record_id(
                    "ProfileId",
                    text("ProfileId", take("ProfileId")?)?,
                    &[crate::salesforce::PROFILE_IDS],
                )?,
                optional("UserRoleId", take("UserRoleId")?)?
                    .map(|role| {
                        crate::salesforce::record_id(
                            "UserRoleId",
                            role,
                            &[crate::salesforce::USER_ROLE_IDS],
                        )
                    })
                    .transpose()?,
                optional("SystemModstamp", take("SystemModstamp")?)?,
            ))
        };
        let (username, is_active, email, profile_id, user_role_id, system_modstamp) = rest()
            .map_err(|why: String| format!("{why} (record {})", crate::render::visible(&id)))?;
        Ok(TargetUser {
            email,
            profile_id: Some(profile_id.into()),
            user_role_id: user_role_id.map(Into::into),
            system_modstamp: system_modstamp.map(Into::into),
            id: id.into(),
            username,
            is_active,
            login: None,
            fields: crate::sorted_map::Fields::from_names(
                row.into_iter()
                    .map(|(name, value)| (name, FieldValue::from(value))),
            ),
        })
    }

    /// A field by API name (case-insensitive), core fields included, as Salesforce returns it;
    /// `IsFrozen` is the login's.
    pub(crate) fn field(&self, name: &str) -> Option<Cow<'_, FieldValue>> {
        let text = |value: Option<&str>| value.map(|v| Cow::Owned(FieldValue::from(v)));
        let is = |core: &str| name.eq_ignore_ascii_case(core);
        if is("Id") {
            Some(Cow::Owned(FieldValue::from(self.id.as_str())))
        } else if is("Username") {
            Some(Cow::Owned(FieldValue::from(self.username.as_str())))
        } else if is("Email") {
            text(self.email.as_deref())
        } else if is("IsActive") {
            Some(Cow::Owned(FieldValue::Bool(self.is_active)))
        } else if is("ProfileId") {
            text(self.profile_id.as_deref())
        } else if is("UserRoleId") {
            text(self.user_role_id.as_deref())
        } else if is("SystemModstamp") {
            text(self.system_modstamp.as_deref())
        } else if is("IsFrozen") {
            self.login
                .as_ref()
                .map(|l| Cow::Owned(FieldValue::Bool(l.is_frozen)))
        } else {
            self.other(name).map(Cow::Borrowed)
        }
    }

    /// A field outside the core, by API name (case-insensitive).
    fn other(&self, name: &str) -> Option<&FieldValue> {
        self.fields.get(name).or_else(|| {
            self.fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// A text field by API name, core fields included, borrowed.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        let is = |core: &str| name.eq_ignore_ascii_case(core);
        if is("Id") {
            Some(&self.id)
        } else if is("Username") {
            Some(&self.username)
        } else if is("Email") {
            self.email.as_deref()
        } else if is("ProfileId") {
            self.profile_id.as_deref()
        } else if is("UserRoleId") {
            self.user_role_id.as_deref()
        } else if is("SystemModstamp") {
            self.system_modstamp.as_deref()
        } else {
            self.other(name).and_then(FieldValue::as_str)
        }
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.login.as_ref().is_some_and(|l| l.is_frozen)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) user_license_id: Option<String>,
    /// The administrative system permissions (`ADMINISTRATIVE_PERMISSIONS`) the profile grants,
    /// by name without the `Permissions` prefix (`ModifyAllData`): a create into such a profile
    /// makes an administrator. Empty in snapshots older than the field.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "administrative_names"
    )]
    pub(crate) administrative: Vec<String>,
}

/// Reads `Profile::administrative`: each name one of `ADMINISTRATIVE_PERMISSIONS`, as a read
/// writes them.
///
/// # Errors
/// A name that is not one of them (a hand-edited snapshot: `ModifyAllDta` would make System
/// Administrator's creates look like a plain user's to the policy).
fn administrative_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    match names
        .iter()
        .find(|n| !ADMINISTRATIVE_PERMISSIONS.contains(&n.as_str()))
    {
        Some(other) => Err(serde::de::Error::custom(format!(
            "{other:?} is not an administrative permission roster reads (one of {})",
            ADMINISTRATIVE_PERMISSIONS.join(", ")
        ))),
        None => Ok(names),
    }
}

/// The Profile's system permissions that make its users administrators of the org, each a
/// checkbox field `Permissions<name>` on Profile (Salesforce's field reference, "Profile"):
/// every record read and changed (Modify All Data), every record read (View All Data), users
/// created and given any profile (Manage Users), and the org's setup changed (Customize
/// Application). Assumed: these four exist in every edition that has sandboxes, as they are
/// the System Administrator profile's own; Author Apex is left out, since an org without Apex
/// may not have its field, and a query naming a field the org lacks fails (`INVALID_FIELD`).
pub(crate) const ADMINISTRATIVE_PERMISSIONS: [&str; 4] = [
    "ModifyAllData",
    "ViewAllData",
    "ManageUsers",
    "CustomizeApplication",
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserLicense {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) total: i64,
    pub(crate) used: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserRole {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) developer_name: Option<String>,
}

/// One access object a user can be granted: a permission set, permission set group, permission
/// set licence, package licence, public group or queue (`grants::GrantKind`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessObject {
    pub(crate) kind: GrantKind,
    pub(crate) id: String,
    /// The name `roster.yaml` uses (`Name`, `DeveloperName` or `NamespacePrefix`).
    pub(crate) name: String,
    /// A second name (a group's `Name`), when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) alias: Option<String>,
    /// `Status` where the object has one: a permission set group's `Updated`, `Outdated`,
    /// `Updating` or `Failed`; a licence's `Active`, `Disabled`, `Expired`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<String>,
    /// A licence's seats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seats: Option<Seats>,
    /// A permission set's `LicenseId`: a PermissionSetLicense (`0PL...`, assigned with it) or a
    /// UserLicense (the assignee's profile must have it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) license_id: Option<String>,
}

/// A licence's seats: `total` (`TotalLicenses`, a package's `AllowedLicenses`; negative for a
/// site licence, which has no limit) and `used` (`UsedLicenses`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seats {
    pub(crate) total: i64,
    pub(crate) used: i64,
}

impl Seats {
    /// The seats left; `None` without a limit.
    pub(crate) fn free(self) -> Option<i64> {
        (self.total >= 0).then(|| self.total - self.used)
    }
}

/// One assignment record: a user holds an access object (`PermissionSetAssignment`,
/// `PermissionSetLicenseAssign`, `UserPackageLicense`, `GroupMember`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantAssignment {
    pub(crate) kind: GrantKind,
    // Salesforce ids (18 characters once canonical) are held inline: the daily plan of a
    // 100,000-user org reads some 120,000 assignments, three ids each.
    /// The assignment record's id.
    pub(crate) id: CompactString,
    pub(crate) assignee_id: CompactString,
    pub(crate) object_id: CompactString,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiUsage {
    pub(crate) used: u64,
    pub(crate) max: u64,
}

/// A JSON value as a message shows it: `absent`, `null`, or the value itself.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "absent".to_owned(),
        Some(value) => value.to_string(),
    }
}

/// What Entra says about a user roster did not read (`roster explain`): the user, their
/// groups and their direct application assignments.
#[derive(Clone, Debug, Default)]
pub(crate) struct UnreadUser {
    pub(crate) id: String,
    pub(crate) user_principal_name: String,
    pub(crate) display_name: Option<String>,
    pub(crate) account_enabled: Option<bool>,
    /// (id, displayName) of the groups the user is a direct member of.
    pub(crate) direct_groups: Vec<(String, String)>,
    /// (id, displayName) of every group the user belongs to, nested ones included.
    pub(crate) all_groups: Vec<(String, String)>,
    /// The display names of the applications the user is assigned to directly.
    pub(crate) applications: Vec<String>,
    /// The attributes the config reads, as a read gives them: what the matching rules look for.
    pub(crate) attributes: crate::user_attributes::UserAttributes,
}

#[cfg(test)]
mod tests {
    use super::DeletedUser;

    /// A deleted user's assignment may carry no display name, or a blank one: the plan says
    /// so rather than showing `-  (id)`.
    #[test]
    fn a_deleted_user_without_a_display_name_is_shown_as_such() {
        let shown = |display_name: Option<&str>| {
            DeletedUser {
                id: "0000000e-0000-0000-0000-0000000000f1".to_owned(),
                display_name: display_name.map(str::to_owned),
            }
            .shown()
        };
        for blank in [None, Some(""), Some("  ")] {
            assert_eq!(
                shown(blank),
                "no display name (0000000e-0000-0000-0000-0000000000f1)"
            );
        }
        assert_eq!(
            shown(Some(" Pat Doe ")),
            "Pat Doe (0000000e-0000-0000-0000-0000000000f1)"
        );
    }
}
