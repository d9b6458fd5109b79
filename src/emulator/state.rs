//! The live emulated world: the Entra tenant and the Salesforce org, indexed, mutable, shared
//! by the routes behind one lock.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::ids;
use super::world::{ApiUser, Application, CustomField, EntraClient, SalesforceClient, WorldFile};
use crate::graph::attributes::graph_property_problem;

/// Start of the emulator's clock for record timestamps: 2026-01-01T00:00:00Z in milliseconds.
const CLOCK_START_MS: i64 = 1_767_225_600_000;

pub(crate) struct State {
    pub(crate) entra: Entra,
    pub(crate) org: Org,
}

pub(crate) struct Entra {
    pub(crate) tenant_id: String,
    pub(crate) clients: Vec<EntraClient>,
    pub(crate) github_actions: Option<super::world::GithubActions>,
    pub(crate) applications: Vec<Application>,
    pub(crate) users: Vec<EntraUser>,
    /// Position in `users` by id and by lower-case user principal name.
    user_index: HashMap<String, usize>,
    /// Every attribute name some user carries, lower case: a world may give its users
    /// attributes of its own, and `$select` finds them.
    properties: HashSet<String>,
    pub(crate) groups: Vec<GroupState>,
    pub(crate) assignments: Vec<AssignmentState>,
    /// Every change since the world was loaded, for delta queries; the version is the index + 1.
    pub(crate) changes: Vec<Change>,
}

/// One change to the directory, as delta queries report it.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// A user's attributes changed.
    User(String),
    /// A user was deleted.
    UserRemoved(String),
    /// A member joined (`true`) or left a group.
    Member {
        group: String,
        member: String,
        added: bool,
    },
}

pub(crate) struct GroupState {
    pub(crate) id: String,
    pub(crate) display_name: String,
    /// Member ids, users and groups.
    pub(crate) members: Vec<String>,
}

/// An `appRoleAssignment` as Graph returns it.
#[derive(Clone, Debug)]
pub(crate) struct AssignmentState {
    pub(crate) id: String,
    pub(crate) principal_id: String,
    pub(crate) principal_type: &'static str,
    pub(crate) principal_display_name: String,
    pub(crate) resource_id: String,
    pub(crate) resource_display_name: String,
    pub(crate) app_role_id: String,
}

/// An Entra user's properties by Graph name, in name order; the names are shared by every user
/// (a synthetic tenant of 100,000 users holds each name once, not 100,000 times).
pub(crate) type EntraUser = crate::sorted_map::SortedMap<std::sync::Arc<str>, Value>;

/// The all-zero id of the Default Access role.
/// The User that created what the world file seeds and what admin changes make: an
/// administrator working in Setup, never a user an API client signs in as. Salesforce stamps
/// `CreatedById` and `LastModifiedById` with the running user ("System Fields", Object
/// Reference); records written through the API carry the caller's id instead.
pub(crate) const SETUP_USER_ID: &str = "005000000000001AAA";

pub(crate) const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";

impl Entra {
    pub(crate) fn user(&self, id_or_upn: &str) -> Option<&EntraUser> {
        self.user_position(id_or_upn).map(|i| &self.users[i])
    }

    pub(crate) fn user_position(&self, id_or_upn: &str) -> Option<usize> {
        self.user_index
            .get(id_or_upn)
            .or_else(|| self.user_index.get(&id_or_upn.to_lowercase()))
            .copied()
    }

    /// Rebuilds the user index after users change.
    pub(crate) fn reindex(&mut self) {
        self.user_index.clear();
        self.properties.clear();
        for (i, user) in self.users.iter().enumerate() {
            for key in user.keys() {
                if !self.properties.contains(&**key) {
                    self.properties.insert(key.to_string());
                    self.properties.insert(key.to_lowercase());
                }
            }
            if let Some(id) = user.get("id").and_then(Value::as_str) {
                self.user_index.insert(id.to_owned(), i);
            }
            if let Some(upn) = user.get("userPrincipalName").and_then(Value::as_str) {
                self.user_index.insert(upn.to_lowercase(), i);
            }
        }
    }

    /// Whether some user carries this attribute (any case).
    pub(crate) fn has_property(&self, name: &str) -> bool {
        self.properties.contains(name) || self.properties.contains(&name.to_lowercase())
    }

    pub(crate) fn group(&self, id_or_name: &str) -> Option<&GroupState> {
        self.groups
            .iter()
            .find(|g| g.id == id_or_name || g.display_name == id_or_name)
    }

    pub(crate) fn application(&self, id_or_name: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|a| a.service_principal_id == id_or_name || a.display_name == id_or_name)
    }
}

/// The Salesforce org: records by object and id.
pub(crate) struct Org {
    pub(crate) id: String,
    pub(crate) pod: String,
    pub(crate) sandbox: Option<String>,
    pub(crate) daily_limit: u64,
    pub(crate) api_requests: u64,
    /// The count of requests before a `request_limit` fault spent the day's total: what
    /// `DELETE /_emulator/faults` puts back.
    pub(crate) spent_by_fault: Option<u64>,
    /// Polls a Bulk API job takes to finish after its upload completes (at least 1).
    pub(crate) bulk_job_polls: u32,
    pub(crate) clients: Vec<SalesforceClient>,
    pub(crate) api_users: Vec<ApiUser>,
    pub(crate) objects: BTreeMap<&'static str, BTreeMap<String, Map<String, Value>>>,
    pub(crate) taken_usernames: HashSet<String>,
    /// The custom User fields the org declares; no other `__c` field exists.
    pub(crate) custom_user_fields: Vec<CustomField>,
    /// The active values of each restricted User picklist, by API name: the world's, or the
    /// emulator's defaults.
    pub(crate) picklists: HashMap<&'static str, HashSet<String>>,
    /// Users Salesforce refuses to deactivate, by User id, with the message it gives (the
    /// world's `DeactivationBlocker`: a Web-to-Lead default creator, an approver, ...).
    pub(crate) deactivation_blockers: HashMap<String, String>,
    /// Seats per feature licence (short name, e.g. `KnowledgeUser`); unlisted ones are
    /// unlimited.
    pub(crate) feature_seats: std::collections::BTreeMap<String, u32>,
    /// Profiles users hold that a Profile query never answers (the world's `hidden`: the
    /// Automated Process user's), by id.
    pub(crate) hidden_profiles: HashSet<String>,
    counters: HashMap<&'static str, u64>,
    clock_ms: i64,
    /// Lookups the write rules need on every record, kept in step with `objects`.
    index: Index,
}

/// What the uniqueness, licence and duplicate-assignment rules look up, so a write costs the
/// same in an org of ten users or a hundred thousand.
#[derive(Debug, Default)]
struct Index {
    /// User id by lower-case Username.
    usernames: HashMap<String, String>,
    /// User id by lower-case CommunityNickname.
    nicknames: HashMap<String, String>,
    /// Active users by ProfileId.
    active_by_profile: HashMap<String, usize>,
    /// Active users' ids by their ManagerId (`canonical`): whom a deactivation of the
    /// manager would leave reporting to an inactive user.
    active_reports: HashMap<String, std::collections::BTreeSet<String>>,
    /// Assignment (junction) record id by (user, access object): permission sets and groups,
    /// licences, group members (`JUNCTIONS`).
    assignments: HashMap<(String, String), String>,
    /// Assignments per access object: a licence's `UsedLicenses`.
    holders: HashMap<String, usize>,
    /// The unique User fields: (API name in lower case, case-sensitive), and the User id
    /// holding each value of them, by `unique_key`.
    unique_fields: Vec<(String, bool)>,
    unique_values: HashMap<(String, String), String>,
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> &'a str {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The 15-character form of the Salesforce id `id` (`salesforce::canonical_id`), if it is one.
fn canonical(id: &str) -> Option<String> {
    crate::salesforce::canonical_id(id).map(|id| String::from_utf8_lossy(&id).into_owned())
}

impl Index {
    /// An active user other than `id` whose ManagerId is the user `id`, if one is.
    fn active_report_of(&self, id: &str) -> Option<&str> {
        self.active_reports
            .get(&canonical(id)?)?
            .iter()
            .map(String::as_str)
            .find(|report| *report != id)
    }

    /// The key of `value` of `field` in `unique_values`, if `field` is unique: the value in
    /// lower case unless the field is case-sensitive, as Salesforce compares it.
    fn unique_key(&self, field: &str, value: &str) -> Option<(String, String)> {
        let (name, case_sensitive) = self
            .unique_fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(field))?;
        let value = if *case_sensitive {
            value.to_owned()
        } else {
            value.to_lowercase()
        };
        Some((name.clone(), value))
    }

    fn user(&mut self, record: &Map<String, Value>, add: bool) {
        let id = text(record, "Id").to_owned();
        let username = text(record, "Username").to_lowercase();
        let nickname = text(record, "CommunityNickname").to_lowercase();
        let profile = text(record, "ProfileId").to_owned();
        let active = record.get("IsActive") == Some(&Value::Bool(true));
        if let Some(manager) = canonical(text(record, "ManagerId")).filter(|_| active) {
            let reports = self.active_reports.entry(manager.clone()).or_default();
            if add {
                reports.insert(id.clone());
            } else {
                reports.remove(&id);
                if reports.is_empty() {
                    self.active_reports.remove(&manager);
                }
            }
        }
        for (field, _) in &self.unique_fields {
            let key = record
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field))
                .and_then(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
                .and_then(|value| self.unique_key(field, value));
            if let Some(key) = key {
                if add {
                    self.unique_values.insert(key, id.clone());
                } else if self.unique_values.get(&key) == Some(&id) {
                    self.unique_values.remove(&key);
                }
            }
        }
        if add {
            self.usernames.insert(username, id.clone());
            if !nickname.is_empty() {
                self.nicknames.insert(nickname, id);
            }
            if active {
                *self.active_by_profile.entry(profile).or_insert(0) += 1;
            }
        } else {
            if self.usernames.get(&username) == Some(&id) {
                self.usernames.remove(&username);
            }
            if self.nicknames.get(&nickname) == Some(&id) {
                self.nicknames.remove(&nickname);
            }
            if active && let Some(n) = self.active_by_profile.get_mut(&profile) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn assignment(&mut self, object: &str, record: &Map<String, Value>, add: bool) {
        let Some((user, target)) = junction_key(object, record) else {
            return;
        };
        let key = (user.to_owned(), target.to_owned());
        let count = self.holders.entry(target.to_owned()).or_insert(0);
        if add {
            *count += 1;
            self.assignments.insert(key, text(record, "Id").to_owned());
        } else {
            *count = count.saturating_sub(1);
            self.assignments.remove(&key);
        }
    }

    fn record(&mut self, object: &str, record: &Map<String, Value>, add: bool) {
        match object {
            "User" => self.user(record, add),
            _ => self.assignment(object, record, add),
        }
    }
}

/// The assignment (junction) objects: the field holding the user, and the fields holding the
/// access object, the first one set counting (a permission set group's assignment also names
/// no permission set here). Salesforce Object Reference: PermissionSetAssignment,
/// PermissionSetLicenseAssign, UserPackageLicense, GroupMember.
pub(crate) const JUNCTIONS: &[(&str, &str, &[&str])] = &[
    (
        "PermissionSetAssignment",
        "AssigneeId",
        &["PermissionSetGroupId", "PermissionSetId"],
    ),
    (
        "PermissionSetLicenseAssign",
        "AssigneeId",
        &["PermissionSetLicenseId"],
    ),
    ("UserPackageLicense", "UserId", &["PackageLicenseId"]),
    ("GroupMember", "UserOrGroupId", &["GroupId"]),
];

/// An assignment record's (user, access object) ids, for a junction object.
pub(crate) fn junction_key<'r>(
    object: &str,
    record: &'r Map<String, Value>,
) -> Option<(&'r str, &'r str)> {
    let (_, user, targets) = JUNCTIONS.iter().find(|(o, _, _)| *o == object)?;
    let target = targets
        .iter()
        .map(|f| text(record, f))
        .find(|t| !t.is_empty())?;
    Some((text(record, user), target))
}

/// The objects the emulator stores, with their key prefixes.
pub(crate) const OBJECTS: &[(&str, &str)] = &[
    ("User", ids::USER),
    ("Profile", ids::PROFILE),
    ("UserRole", ids::USER_ROLE),
    ("PermissionSet", ids::PERMISSION_SET),
    ("PermissionSetAssignment", ids::PERMISSION_SET_ASSIGNMENT),
    ("UserLicense", ids::USER_LICENSE),
    ("Organization", ids::ORGANIZATION),
    ("UserLogin", ids::USER_LOGIN),
    ("PermissionSetGroup", ids::PERMISSION_SET_GROUP),
    ("PermissionSetLicense", ids::PERMISSION_SET_LICENSE),
    (
        "PermissionSetLicenseAssign",
        ids::PERMISSION_SET_LICENSE_ASSIGN,
    ),
    ("PackageLicense", ids::PACKAGE_LICENSE),
    ("UserPackageLicense", ids::USER_PACKAGE_LICENSE),
    ("Group", ids::GROUP),
    ("GroupMember", ids::GROUP_MEMBER),
    (
        "ActiveFeatureLicenseMetric",
        ids::ACTIVE_FEATURE_LICENSE_METRIC,
    ),
];

/// The canonical name of an object, matched case-insensitively.
pub(crate) fn object_name(name: &str) -> Option<&'static str> {
    OBJECTS
        .iter()
        .map(|(n, _)| *n)
        .find(|n| n.eq_ignore_ascii_case(name))
}

impl Org {
    /// A fresh id for an object.
    pub(crate) fn new_id(&mut self, object: &'static str) -> String {
        let prefix = OBJECTS
            .iter()
            .find(|(n, _)| *n == object)
            .map_or("000", |(_, p)| *p);
        let n = self.counters.entry(object).or_insert(0);
        *n += 1;
        ids::make(prefix, &self.pod, *n)
    }

    /// The next write's timestamp, `2026-01-01T00:00:00.000+0000` style; always increasing.
    pub(crate) fn tick(&mut self) -> String {
        self.clock_ms += 1000;
        format_timestamp(self.clock_ms)
    }

    pub(crate) fn records(&self, object: &str) -> impl Iterator<Item = &Map<String, Value>> {
        self.objects
            .get(object)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// The records of `object` a query answers: all of them but the internal users' profiles
    /// (`hidden_profiles`).
    pub(crate) fn listed(&self, object: &str) -> impl Iterator<Item = &Map<String, Value>> {
        self.records(object)
            .filter(move |r| object != "Profile" || !self.hidden_profiles.contains(text(r, "Id")))
    }

    /// Replaces a record (an update), keeping the lookups in step.
    pub(crate) fn put(&mut self, object: &'static str, id: String, record: Map<String, Value>) {
        let records = self.objects.entry(object).or_default();
        if let Some(old) = records.remove(&id) {
            self.index.record(object, &old, false);
        }
        self.index.record(object, &record, true);
        records.insert(id, record);
    }

    /// An active User other than `id` whose `ManagerId` is the User `id`, if one is: who would
    /// report to an inactive user were `id` deactivated.
    pub(crate) fn active_report_of(&self, id: &str) -> Option<&str> {
        self.index.active_report_of(id)
    }

    /// Removes a record; returns it.
    pub(crate) fn remove(&mut self, object: &str, id: &str) -> Option<Map<String, Value>> {
        let old = self.objects.get_mut(object)?.remove(id)?;
        self.index.record(object, &old, false);
        Some(old)
    }

    /// Rebuilds the lookups from the records (after a rollback replaced them).
    pub(crate) fn reindex(&mut self) {
        let mut index = Index {
            unique_fields: std::mem::take(&mut self.index.unique_fields),
            ..Index::default()
        };
        for (object, records) in &self.objects {
            for record in records.values() {
                index.record(object, record, true);
            }
        }
        self.index = index;
    }

    /// The id of the user with this Username, any case.
    pub(crate) fn user_by_username(&self, username: &str) -> Option<&str> {
        self.index
            .usernames
            .get(&username.to_lowercase())
            .map(String::as_str)
    }

    /// The id of the user with this CommunityNickname, any case.
    pub(crate) fn user_by_nickname(&self, nickname: &str) -> Option<&str> {
        self.index
            .nicknames
            .get(&nickname.to_lowercase())
            .map(String::as_str)
    }

    /// The declared custom User field with this name, any case.
    pub(crate) fn custom_user_field(&self, name: &str) -> Option<&CustomField> {
        self.custom_user_fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The id of the user holding `value` in the unique custom field `field` (any case unless
    /// the field is case-sensitive), or in FederationIdentifier, any case.
    pub(crate) fn user_by_unique(&self, field: &str, value: &str) -> Option<&str> {
        self.index
            .unique_values
            .get(&self.index.unique_key(field, value)?)
            .map(String::as_str)
    }

    /// The id of the assignment of the access object `target` (a permission set, group,
    /// licence or queue) to `assignee`, if there is one.
    pub(crate) fn assignment(&self, assignee: &str, target: &str) -> Option<&str> {
        self.index
            .assignments
            .get(&(assignee.to_owned(), target.to_owned()))
            .map(String::as_str)
    }

    /// How many active users have the feature licence `name` (`KnowledgeUser`) on.
    pub(crate) fn feature_holders(&self, name: &str) -> usize {
        let field = format!("UserPermissions{name}");
        self.records("User")
            .filter(|u| {
                u.get("IsActive") == Some(&Value::Bool(true))
                    && u.get(&field) == Some(&Value::Bool(true))
            })
            .count()
    }

    /// How many assignments an access object has: a licence's `UsedLicenses`.
    pub(crate) fn holders(&self, target: &str) -> usize {
        self.index.holders.get(target).copied().unwrap_or(0)
    }

    pub(crate) fn find_by(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> Option<&Map<String, Value>> {
        self.records(object).find(|r| {
            r.get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(value))
        })
    }

    /// Inserts a record with a new id, fresh timestamps and its creator (`CreatedById` when
    /// `fields` holds it, else `SETUP_USER_ID`); returns the id.
    pub(crate) fn insert(
        &mut self,
        object: &'static str,
        mut fields: Map<String, Value>,
    ) -> String {
        let id = self.new_id(object);
        let now = self.tick();
        if object == "User" {
            // A checkbox is never null in Salesforce: unset on insert, it is false.
            for f in super::salesforce::user_object::FIELDS
                .iter()
                .filter(|f| f.kind == "boolean")
            {
                if !fields.keys().any(|k| k.eq_ignore_ascii_case(f.name)) {
                    fields.insert(f.name.into(), Value::Bool(false));
                }
            }
        }
        fields.insert("Id".into(), json!(id));
        // The caller's id when an API call creates it (`create` puts it there), else Setup's.
        let by = fields
            .entry("CreatedById")
            .or_insert_with(|| json!(SETUP_USER_ID))
            .clone();
        fields.insert("LastModifiedById".into(), by);
        fields.insert("CreatedDate".into(), json!(now));
        fields.insert("LastModifiedDate".into(), json!(now));
        fields.insert("SystemModstamp".into(), json!(now));
        self.index.record(object, &fields, true);
        self.objects
            .entry(object)
            .or_default()
            .insert(id.clone(), fields);
        if object == "User" {
            // Every user has a login record, where freezing happens.
            let login = self.new_id("UserLogin");
            let record = map(json!({
                "Id": login, "UserId": id, "IsFrozen": false, "IsPasswordLocked": false,
                "LastModifiedDate": now, "SystemModstamp": now,
            }));
            self.objects
                .entry("UserLogin")
                .or_default()
                .insert(login, record);
        }
        id
    }

    /// Gives a user without a CommunityNickname a unique one from its username's local part.
    /// Assumed: Salesforce fills one in when none is sent (unverified, see the reference notes).
    pub(crate) fn fill_nickname(&self, user: &mut Map<String, Value>) {
        if user.contains_key("CommunityNickname") {
            return;
        }
        let username = user
            .get("Username")
            .and_then(Value::as_str)
            .unwrap_or("user");
        let base: String = username
            .split('@')
            .next()
            .unwrap_or("user")
            .chars()
            .take(36)
            .collect();
        let mut nickname = base.clone();
        let mut n = 1;
        while self.user_by_nickname(&nickname).is_some() {
            n += 1;
            nickname = format!("{base}{n}");
        }
        user.insert("CommunityNickname".into(), json!(nickname));
    }

    /// Active users holding each licence (Salesforce's internal users, on `hidden_profiles`,
    /// hold none).
    pub(crate) fn licence_usage(&self, licence_id: &str) -> usize {
        self.listed("Profile")
            .filter(|p| p.get("UserLicenseId").and_then(Value::as_str) == Some(licence_id))
            .filter_map(|p| self.index.active_by_profile.get(text(p, "Id")))
            .sum()
    }
}

/// Salesforce's date-time format, e.g. `2026-01-01T00:00:01.000+0000`.
pub(crate) fn format_timestamp(ms: i64) -> String {
    let ticks = crate::expr::UNIX_EPOCH_TICKS + ms * 10_000;
    let c = crate::expr::DateTime {
        ticks,
        offset: None,
        local: false,
    }
    .civil();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.fraction / 10_000
    )
}

impl State {
    /// Builds the live world, resolving every name the file refers to.
    pub(crate) fn from_world(mut world: WorldFile) -> Result<State, String> {
        let entra = entra_from(&mut world)?;
        let org = org_from(world)?;
        Ok(State { entra, org })
    }
}

/// The most characters Graph stores in a user's text properties (Microsoft Graph, "user
/// resource type": displayName 256; givenName, surname, mailNickname, department, companyName
/// and mobilePhone 64; jobTitle 128; employeeId 16).
const GRAPH_MAX_LENGTHS: &[(&str, usize)] = &[
    ("displayName", 256),
    ("givenName", 64),
    ("surname", 64),
    ("mailNickname", 64),
    ("department", 64),
    ("companyName", 64),
    ("mobilePhone", 64),
    ("jobTitle", 128),
    ("employeeId", 16),
];

/// ISO 3166-1 alpha-2's 249 officially assigned country codes, and `XK` (Kosovo, user-assigned),
/// which Microsoft 365 lists among its usage locations (an assumption: the list is the admin
/// center's). Graph refuses any other `usageLocation` with "Property usageLocation is invalid."
/// — `UK` among them (Okta, "HTTP 400 BadRequest Property usageLocation is invalid").
const ISO_3166_ALPHA_2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ \
    EC EE EG EH ER ES ET FI FJ FK FM FO FR \
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU \
    ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
    LA LB LC LI LK LR LS LT LU LV LY \
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
    NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA \
    RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
    VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// What Graph refuses in the value of a user's `property`, if it refuses `value`: a text longer
/// than the property holds; a userPrincipalName that is not `alias@domain` of the characters
/// Graph allows (A–Z, a–z, 0–9 and `' . - _ ! # ^ ~` in the alias; "can't contain accent
/// characters"); a mail that is not an address or has accents; an `employeeHireDate` that is not
/// an ISO 8601 date-time; a `usageLocation` that is not a country code of ISO 3166.
/// The userPrincipalName's lengths and its last alias character are Entra's username policies
/// ("Microsoft Entra password and account policies").
/// Source: Microsoft Graph, "user resource type". The emulator's own rules, apart from the
/// shapes roster reads (`graph_property_problem`), and checked on a world's users and on admin
/// changes alike.
pub(crate) fn graph_value_problem(property: &str, value: &Value) -> Option<String> {
    let text = value.as_str()?;
    if let Some((_, max)) = GRAPH_MAX_LENGTHS.iter().find(|(p, _)| *p == property)
        && text.chars().count() > *max
    {
        return Some(format!(
            "{property} is {} characters; Graph holds at most {max}",
            text.chars().count()
        ));
    }
    // An address: an email's shape, no accents.
    let address = text.is_ascii() && crate::user_fields::is_email(text);
    let ok = match property {
        // Entra's username policies: Graph's characters in the alias, at most 64 characters
        // before the `@` and 48 after, and no period right before the `@`.
        "userPrincipalName" => {
            address
                && text.split_once('@').is_some_and(|(alias, domain)| {
                    alias.chars().all(|c| {
                        c.is_ascii_alphanumeric()
                            || matches!(c, '\'' | '.' | '-' | '_' | '!' | '#' | '^' | '~')
                    }) && alias.len() <= 64
                        && domain.len() <= 48
                        && !alias.ends_with('.')
                })
        }
        "mail" => address,
        "employeeHireDate" => is_date_time(text),
        "usageLocation" => text.len() == 2 && ISO_3166_ALPHA_2.split(' ').any(|code| code == text),
        _ => true,
    };
    (!ok).then(|| {
        let cut = crate::http::truncate(text, 80);
        let shown = crate::render::visible(&cut);
        match property {
            "userPrincipalName" => format!(
                "userPrincipalName {shown:?} is not alias@domain of the characters Graph allows"
            ),
            "mail" => format!("mail {shown:?} is not an email address Graph accepts"),
            "employeeHireDate" => {
                format!("employeeHireDate {shown:?} is not a date-time (2024-03-01T00:00:00Z)")
            }
            _ => format!(
                "usageLocation {shown:?} is not a two-letter country code of ISO 3166 (US, GB; \
                 not UK): Property usageLocation is invalid"
            ),
        }
    })
}

/// `2024-03-01T09:30:00Z`, with optional fractions of a second and a `+01:00`-style offset in
/// place of `Z`: ISO 8601 as Graph writes a DateTimeOffset.
fn is_date_time(text: &str) -> bool {
    let Some((date, time)) = text.split_once('T') else {
        return false;
    };
    let time = time.strip_suffix('Z').or_else(|| {
        let at = time.rfind(['+', '-'])?;
        let (time, offset) = time.split_at(at);
        let offset = offset.as_bytes();
        (offset.len() == 6
            && offset[3] == b':'
            && offset[1..3]
                .iter()
                .chain(&offset[4..])
                .all(u8::is_ascii_digit)
            && &offset[1..3] <= b"14".as_slice()
            && &offset[4..] < b"60".as_slice())
        .then_some(time)
    });
    let Some(time) = time else {
        return false;
    };
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let clock = clock.as_bytes();
    crate::user_fields::is_date(date)
        && clock.len() == 8
        && clock[2] == b':'
        && clock[5] == b':'
        && [&clock[0..2], &clock[3..5], &clock[6..8]]
            .iter()
            .all(|part| part.iter().all(u8::is_ascii_digit))
        && &clock[0..2] < b"24".as_slice()
        && &clock[3..5] < b"60".as_slice()
        && &clock[6..8] < b"60".as_slice()
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The world's Entra users as Graph would hold them: an `id` and a userPrincipalName (unique
/// without regard to case) each, and only properties Graph's `user` has (or directory
/// extensions), each of the type Graph gives it.
fn check_users(users: &[EntraUser]) -> Result<(), String> {
    // Entra's userPrincipalName is unique without regard to case.
    let mut upns = HashSet::new();
    for (i, user) in users.iter().enumerate() {
        if let Some(upn) = user.get("userPrincipalName").and_then(Value::as_str)
            && !upns.insert(upn.to_lowercase())
        {
            return Err(format!(
                "entra.users[{i}]: userPrincipalName {upn:?} is another user's (Entra compares \
                 them without case)"
            ));
        }
        for key in ["id", "userPrincipalName"] {
            if !user.get(key).is_some_and(Value::is_string) {
                return Err(format!("entra.users[{i}]: `{key}` is required"));
            }
        }
        if let Some(problem) = user.iter().find_map(|(property, value)| {
            graph_property_problem(property, value).or_else(|| graph_value_problem(property, value))
        }) {
            let upn = user
                .get("userPrincipalName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // What YAML read as a number or a boolean was most likely meant as text.
            let hint = if problem.ends_with(", not text") {
                "; YAML reads an unquoted number (0x1F, 1e3, +1), true or false as such: write \
                 the text in quotes"
            } else {
                ""
            };
            return Err(format!(
                "entra.users[{i}] ({upn}): {problem} (Graph would refuse it){hint}"
            ));
        }
    }
    Ok(())
}

/// Entra's state; the world's users are moved into it (a synthetic tenant's 100,000 users are
/// never held twice).
fn entra_from(world: &mut WorldFile) -> Result<Entra, String> {
    let w = &mut world.entra;
    check_users(&w.users)?;
    let mut entra = Entra {
        tenant_id: w.tenant_id.clone(),
        clients: w.clients.clone(),
        github_actions: w.github_actions.clone(),
        applications: w.applications.clone(),
        // Read with their names shared already (`SortedMap`'s deserialization).
        users: std::mem::take(&mut w.users),
        user_index: HashMap::new(),
        properties: HashSet::new(),
        groups: Vec::new(),
        assignments: Vec::new(),
        changes: Vec::new(),
    };
    entra.reindex();
    for group in &w.groups {
        entra.groups.push(GroupState {
            id: group.id.clone(),
            display_name: group.display_name.clone(),
            members: Vec::new(),
        });
    }
    resolve_members(&mut entra, &w.groups)?;
    for (i, a) in w.assignments.iter().enumerate() {
        let app = entra
            .application(&a.application)
            .ok_or_else(|| format!("assignments[{i}]: no application {:?}", a.application))?;
        let app_role_id = match &a.role {
            None => DEFAULT_ACCESS.to_owned(),
            Some(role) => app
                .app_roles
                .iter()
                .find(|r| {
                    r.value.as_deref() == Some(role.as_str())
                        || r.display_name == *role
                        || r.id == *role
                })
                .map(|r| r.id.clone())
                .ok_or_else(|| {
                    format!(
                        "assignments[{i}]: application {:?} has no app role {role:?}",
                        app.display_name
                    )
                })?,
        };
        let (principal_id, principal_type, principal_display_name) = match (&a.user, &a.group) {
            (Some(u), None) => {
                let user = entra
                    .user(u)
                    .ok_or_else(|| format!("assignments[{i}]: no user {u:?}"))?;
                let name = user
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (
                    user["id"].as_str().unwrap_or_default().to_owned(),
                    "User",
                    name.to_owned(),
                )
            }
            (None, Some(g)) => {
                let group = entra
                    .group(g)
                    .ok_or_else(|| format!("assignments[{i}]: no group {g:?}"))?;
                (group.id.clone(), "Group", group.display_name.clone())
            }
            _ => {
                return Err(format!(
                    "assignments[{i}]: give exactly one of `user` and `group`"
                ));
            }
        };
        let (resource_id, resource_display_name) =
            (app.service_principal_id.clone(), app.display_name.clone());
        entra.assignments.push(AssignmentState {
            id: format!("assignment-{i:06}"),
            principal_id,
            principal_type,
            principal_display_name,
            resource_id,
            resource_display_name,
            app_role_id,
        });
    }
    Ok(entra)
}

/// Group members are user principal names or ids, or group names or ids.
fn resolve_members(entra: &mut Entra, groups: &[super::world::Group]) -> Result<(), String> {
    for (gi, group) in groups.iter().enumerate() {
        let mut members = Vec::new();
        for member in &group.members {
            let id = if let Some(user) = entra.user(member) {
                user["id"].as_str().unwrap_or_default().to_owned()
            } else if let Some(g) = entra.group(member) {
                g.id.clone()
            } else {
                return Err(format!(
                    "group {:?}: no user or group {member:?}",
                    group.display_name
                ));
            };
            members.push(id);
        }
        entra.groups[gi].members = members;
    }
    Ok(())
}

/// The world's custom User fields are ones Setup can make: a `__c` name, a length of 1 to 255,
/// and case sensitivity only on a unique field.
fn check_custom_fields(fields: &[super::world::CustomField]) -> Result<(), String> {
    for field in fields {
        if !super::salesforce::user_object::is_custom(&field.name)
            || !(1..=255).contains(&field.length)
        {
            return Err(format!(
                "salesforce.custom_user_fields: {:?} is not a custom Text field (a `__c` API \
                 name, length 1 to 255)",
                field.name
            ));
        }
        if field.case_sensitive && !field.unique {
            return Err(format!(
                "salesforce.custom_user_fields: {:?} is `case_sensitive` but not `unique`; \
                 Salesforce offers case sensitivity for a unique field only",
                field.name
            ));
        }
    }
    Ok(())
}

fn org_from(world: WorldFile) -> Result<Org, String> {
    let mut w = world.salesforce;
    let access = take_access(&mut w);
    let mut org = Org {
        id: String::new(),
        pod: "8c".to_owned(),
        sandbox: w.sandbox,
        daily_limit: w.daily_api_limit,
        api_requests: 0,
        spent_by_fault: None,
        bulk_job_polls: w.bulk_job_polls.max(1),
        clients: w.clients,
        api_users: w.api_users,
        objects: BTreeMap::new(),
        taken_usernames: w.taken_usernames.iter().map(|u| u.to_lowercase()).collect(),
        index: Index {
            // FederationIdentifier's describe does not say unique, yet an org refuses a second
            // user holding one (`records::user_rules`).
            unique_fields: w
                .custom_user_fields
                .iter()
                .filter(|f| f.unique)
                .map(|f| (f.name.to_lowercase(), f.case_sensitive))
                .chain(std::iter::once((
                    "federationidentifier".to_owned(),
                    !w.federation_id_case_insensitive,
                )))
                .collect(),
            ..Index::default()
        },
        custom_user_fields: w.custom_user_fields,
        picklists: restricted_picklists(&w.picklists)?,
        deactivation_blockers: HashMap::new(),
        feature_seats: std::collections::BTreeMap::new(),
        hidden_profiles: HashSet::new(),
        counters: HashMap::new(),
        clock_ms: CLOCK_START_MS,
    };
    check_custom_fields(&org.custom_user_fields)?;
    let org_fields = map(
        json!({"Name": "Emulated Org", "IsSandbox": org.sandbox.is_some(), "InstanceName": "CS8C", "OrganizationType": "Enterprise Edition"}),
    );
    org.id = match w.org_id {
        Some(id) => {
            // An id Salesforce would never give: the emulator is as strict as the org.
            let id = super::ids::normalize(&id)
                .ok()
                .filter(|n| n.starts_with(super::ids::ORGANIZATION))
                .ok_or_else(|| {
                    format!(
                        "salesforce.org_id: {id:?} is not an Organization id (15 or 18 letters \
                         and digits starting {}, an 18-character id's last three fitting the \
                         first fifteen)",
                        super::ids::ORGANIZATION
                    )
                })?;
            let mut fields = org_fields;
            fields.insert("Id".into(), json!(id));
            org.objects
                .entry("Organization")
                .or_default()
                .insert(id.clone(), fields);
            id
        }
        None => org.insert("Organization", org_fields),
    };
    for licence in &w.licenses {
        org.insert(
            "UserLicense",
            map(json!({"Name": licence.name, "TotalLicenses": licence.total, "Status": "Active"})),
        );
    }
    insert_profiles(&mut org, &w.profiles)?;
    for role in &w.roles {
        let developer_name: String = role
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect();
        org.insert(
            "UserRole",
            map(json!({"Name": role, "DeveloperName": developer_name})),
        );
    }
    seed_access(&mut org, &access)?;
    // The seats Setup shows, as the daily metric reports them (API 52.0 and later).
    for (name, total) in &access.feature_licenses {
        org.insert(
            "ActiveFeatureLicenseMetric",
            map(json!({"FeatureType": name, "TotalLicenseCount": total,
                "MetricsDate": format_timestamp(CLOCK_START_MS).get(..10)})),
        );
    }
    org.feature_seats = access.feature_licenses;
    seed_users(&mut org, w.users)?;
    Ok(org)
}

/// The world's profiles, each linked to its user licence by name.
fn insert_profiles(org: &mut Org, profiles: &[super::world::Profile]) -> Result<(), String> {
    for profile in profiles {
        let licence = org
            .find_by("UserLicense", "Name", &profile.license)
            .and_then(|l| l.get("Id").cloned())
            .ok_or_else(|| {
                format!(
                    "profile {:?}: no licence {:?}",
                    profile.name, profile.license
                )
            })?;
        let administrator = profile.name == "System Administrator";
        if let Some(unknown) = profile
            .permissions
            .iter()
            .flatten()
            .find(|p| !crate::model::ADMINISTRATIVE_PERMISSIONS.contains(&p.as_str()))
        {
            return Err(format!(
                "profile {:?}: unknown permission {unknown:?} (the emulator models {})",
                profile.name,
                crate::model::ADMINISTRATIVE_PERMISSIONS.join(", ")
            ));
        }
        let mut record = map(json!({"Name": profile.name, "UserLicenseId": licence}));
        for name in crate::model::ADMINISTRATIVE_PERMISSIONS {
            let granted = match (&profile.permissions, name) {
                (_, "ManageUsers") if profile.manage_users.is_some() => {
                    profile.manage_users == Some(true)
                }
                (Some(listed), _) => listed.iter().any(|p| p == name),
                (None, _) => administrator,
            };
            record.insert(format!("Permissions{name}"), Value::Bool(granted));
        }
        let id = org.insert("Profile", record);
        if profile.hidden {
            org.hidden_profiles.insert(id);
        }
    }
    Ok(())
}

/// The world's access objects, taken out of it (seeded after the profiles and licences).
fn take_access(w: &mut super::world::SalesforceWorld) -> super::world::SalesforceWorld {
    super::world::SalesforceWorld {
        permission_set_licenses: std::mem::take(&mut w.permission_set_licenses),
        package_licenses: std::mem::take(&mut w.package_licenses),
        permission_sets: std::mem::take(&mut w.permission_sets),
        permission_set_groups: std::mem::take(&mut w.permission_set_groups),
        public_groups: std::mem::take(&mut w.public_groups),
        queues: std::mem::take(&mut w.queues),
        feature_licenses: std::mem::take(&mut w.feature_licenses),
        users: Vec::new(),
        clients: Vec::new(),
        api_users: Vec::new(),
        licenses: Vec::new(),
        profiles: Vec::new(),
        roles: Vec::new(),
        taken_usernames: Vec::new(),
        custom_user_fields: Vec::new(),
        picklists: std::collections::BTreeMap::new(),
        org_id: None,
        sandbox: None,
        federation_id_case_insensitive: true,
        daily_api_limit: 0,
        bulk_job_polls: 0,
    }
}

/// The world's access objects: licences, permission sets, groups, public groups, queues.
fn seed_access(org: &mut Org, w: &super::world::SalesforceWorld) -> Result<(), String> {
    for licence in &w.permission_set_licenses {
        org.insert(
            "PermissionSetLicense",
            map(
                json!({"DeveloperName": licence.name, "MasterLabel": licence.name.replace('_', " "),
                "PermissionSetLicenseKey": licence.name, "Status": "Active",
                "TotalLicenses": licence.total}),
            ),
        );
    }
    for package in &w.package_licenses {
        org.insert(
            "PackageLicense",
            map(
                json!({"NamespacePrefix": package.namespace, "Status": "Active",
                "AllowedLicenses": package.total}),
            ),
        );
    }
    for set in &w.permission_sets {
        let mut fields = map(
            json!({"Name": set.name(), "Label": set.name().replace('_', " "),
            "IsOwnedByProfile": false, "Type": "Regular", "LicenseId": null}),
        );
        if let super::world::PermissionSetSpec::Full {
            license,
            requires_license,
            ..
        } = set
        {
            if let Some(licence) = license {
                let id = org
                    .find_by("PermissionSetLicense", "DeveloperName", licence)
                    .or_else(|| org.find_by("UserLicense", "Name", licence))
                    .and_then(|r| r.get("Id").cloned())
                    .ok_or_else(|| {
                        format!("permission set {:?}: no licence {licence:?}", set.name())
                    })?;
                fields.insert("LicenseId".into(), id);
            }
            if let Some(licence) = requires_license {
                let id = org
                    .find_by("PermissionSetLicense", "DeveloperName", licence)
                    .and_then(|r| r.get("Id").cloned())
                    .ok_or_else(|| {
                        format!(
                            "permission set {:?}: no permission set licence {licence:?}",
                            set.name()
                        )
                    })?;
                // Not a real field: what the permission set's permissions need, which
                // Salesforce checks on assignment. No query selects it.
                fields.insert(REQUIRES_LICENSE.into(), id);
            }
        }
        org.insert("PermissionSet", fields);
    }
    for group in &w.permission_set_groups {
        if !["Updated", "Outdated", "Updating", "Failed"].contains(&group.status.as_str()) {
            return Err(format!(
                "permission set group {:?}: status {:?} is not Updated, Outdated, Updating or \
                 Failed",
                group.name, group.status
            ));
        }
        org.insert(
            "PermissionSetGroup",
            map(
                json!({"DeveloperName": group.name, "MasterLabel": group.name.replace('_', " "),
                "Status": group.status}),
            ),
        );
    }
    for (kind, names) in [("Regular", &w.public_groups), ("Queue", &w.queues)] {
        for name in names {
            org.insert(
                "Group",
                map(json!({"DeveloperName": name, "Name": name.replace('_', " "), "Type": kind})),
            );
        }
    }
    if let Some(unknown) = w.feature_licenses.keys().find(|name| {
        super::salesforce::user_object::field(&format!("UserPermissions{name}")).is_none()
    }) {
        return Err(format!(
            "salesforce.feature_licenses: {unknown:?} is not a feature licence (a User \
             `UserPermissions<Name>` checkbox, e.g. KnowledgeUser)"
        ));
    }
    Ok(())
}

/// The restricted picklists' values: the emulator's defaults, each replaced by the world's list
/// where it gives one.
fn restricted_picklists(
    world: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<HashMap<&'static str, HashSet<String>>, String> {
    use super::salesforce::user_object::RESTRICTED;
    if let Some(unknown) = world
        .keys()
        .find(|k| !RESTRICTED.iter().any(|(name, _)| name == k))
    {
        return Err(format!(
            "salesforce.picklists: {unknown} is not one of the User's restricted picklists \
             (TimeZoneSidKey, LocaleSidKey, LanguageLocaleKey, EmailEncodingKey)"
        ));
    }
    Ok(RESTRICTED
        .iter()
        .map(|(name, defaults)| {
            let values = match world.get(*name) {
                Some(values) => values.iter().cloned().collect(),
                None => defaults.iter().map(|v| (*v).to_owned()).collect(),
            };
            (*name, values)
        })
        .collect())
}

/// The world's users, each `Manager` (another user's Username) set once every user exists.
fn seed_users(org: &mut Org, users: Vec<Map<String, Value>>) -> Result<(), String> {
    let mut reports: Vec<(usize, String, String)> = Vec::new();
    for (i, mut user) in users.into_iter().enumerate() {
        let manager = match user.remove("Manager") {
            None => None,
            Some(Value::String(username)) => Some(username),
            Some(_) => {
                return Err(format!(
                    "salesforce.users[{i}]: `Manager` is the Username of another user"
                ));
            }
        };
        let id = seed_user(org, i, user)?;
        if let Some(manager) = manager {
            reports.push((i, id, manager));
        }
    }
    for (i, id, manager) in reports {
        let manager_id = org
            .records("User")
            .find(|u| text(u, "Username").eq_ignore_ascii_case(&manager))
            .map(|u| text(u, "Id").to_owned())
            .ok_or_else(|| {
                format!("salesforce.users[{i}].Manager: no user has the Username {manager:?}")
            })?;
        super::salesforce::manager_loop(org, &id, &manager_id)
            .map_err(|f| format!("salesforce.users[{i}].Manager: {}", f.message))?;
        let mut record = org.objects["User"][&id].clone();
        record.insert("ManagerId".into(), json!(manager_id));
        org.put("User", id, record);
    }
    Ok(())
}

/// Inserts the world's user `i`; returns its id.
/// What a User field `name` holds, as a world's value is checked and stored.
enum Kind {
    Text,
    Checkbox,
    Number,
    Other,
}

fn seeded_kind(org: &Org, name: &str) -> Kind {
    use super::world::CustomType;
    match super::salesforce::user_object::field(name) {
        Some(field) => match field.kind {
            "boolean" => Kind::Checkbox,
            "id" | "reference" => Kind::Other,
            _ => Kind::Text,
        },
        None => match org.custom_user_field(name) {
            Some(field) if field.values.is_some() => Kind::Text,
            Some(field) => match field.kind {
                CustomType::Text | CustomType::Email | CustomType::Date => Kind::Text,
                CustomType::Checkbox => Kind::Checkbox,
                CustomType::Number => Kind::Number,
            },
            None => Kind::Other,
        },
    }
}

/// A world's text values as Salesforce stores text: without leading and trailing white space,
/// and empty text as null — what a write through the API keeps (`salesforce::records::typed`;
/// Apex Developer Guide, "Primitive Data Types"), so a world holds no value an org cannot
/// (helper-91: a world's `Title: "Engineer "` was served with its space).
fn store_seeded_text(org: &Org, user: &mut Map<String, Value>) {
    for (name, value) in user.iter_mut() {
        if let Kind::Text = seeded_kind(org, name) {
            crate::user_fields::store_text(value);
        }
    }
}

/// Why a world's Salesforce user cannot hold `value` (not null) in the User field `name`, if
/// it cannot: a checkbox holds true or false, a text field text, a custom number a number.
fn seeded_type_problem(org: &Org, name: &str, value: &Value) -> Option<String> {
    match seeded_kind(org, name) {
        Kind::Text if !value.is_string() => Some(format!(
            "{value} is not text: YAML reads an unquoted number (0x1F, 1e3, +1) or true and \
             false as such; write the text in quotes"
        )),
        Kind::Checkbox if !value.is_boolean() => Some(format!(
            "{value} is not a checkbox's value: write true or false (YAML reads yes, no, on \
             and off as text)"
        )),
        Kind::Number if !value.is_number() => Some(format!("{value} is not a number")),
        _ => None,
    }
}

/// A world's Salesforce user `user` (`salesforce.users[i]`) holds only what an org can: its
/// custom fields declared, text in its text fields, and no unique value another user holds.
fn check_seeded_fields(org: &Org, i: usize, user: &Map<String, Value>) -> Result<(), String> {
    if let Some(undeclared) = user
        .keys()
        .find(|k| k.ends_with("__c") && org.custom_user_field(k).is_none())
    {
        return Err(format!(
            "salesforce.users[{i}]: {undeclared} is not declared in \
             salesforce.custom_user_fields"
        ));
    }
    // Each value of its field's type, as Salesforce answers it: YAML reads `EmployeeNumber:
    // 0x1F` as a number and `IsActive: no` as text, which would be served as no org serves
    // them (and fail every read of the world).
    if let Some((name, why)) = (user.iter())
        .filter(|(_, value)| !value.is_null())
        .find_map(|(name, value)| Some((name, seeded_type_problem(org, name, value)?)))
    {
        return Err(format!("salesforce.users[{i}].{name}: {why}"));
    }
    // An org refuses a second user holding a unique field's value (FederationIdentifier in
    // any case, a unique custom field): no world holds one either (helper-82: a world of three
    // users sharing a FederationIdentifier was served, as no org could).
    let unique =
        |name: &str| (org.index.unique_fields.iter()).any(|(f, _)| f.eq_ignore_ascii_case(name));
    let taken = (user.iter().filter(|(name, _)| unique(name))).find_map(|(name, value)| {
        let value = value.as_str().filter(|v| !v.is_empty())?;
        Some((name, value, org.user_by_unique(name, value)?))
    });
    if let Some((name, value, holder)) = taken {
        return Err(format!(
            "salesforce.users[{i}]: {name} {value:?} is held by user {holder} already; an org \
             refuses a second user holding it (DUPLICATE_VALUE)"
        ));
    }
    Ok(())
}

fn seed_user(org: &mut Org, i: usize, mut user: Map<String, Value>) -> Result<String, String> {
    let lookup = |org: &Org, object: &str, name: &Value| -> Result<Value, String> {
        let name = name.as_str().unwrap_or_default();
        org.find_by(object, "Name", name)
            .and_then(|r| r.get("Id").cloned())
            .ok_or_else(|| format!("salesforce.users[{i}]: no {object} {name:?}"))
    };
    let profile = user
        .remove("Profile")
        .ok_or_else(|| format!("salesforce.users[{i}]: `Profile` is required"))?;
    let profile_id = lookup(org, "Profile", &profile)?;
    user.insert("ProfileId".into(), profile_id);
    let role_id = match user.remove("UserRole") {
        Some(role) => lookup(org, "UserRole", &role)?,
        None => Value::Null,
    };
    user.insert("UserRoleId".into(), role_id);
    user.entry("IsActive").or_insert(Value::Bool(true));
    let held: Vec<(&str, Option<Value>)> = HELD
        .iter()
        .map(|(key, ..)| (*key, user.remove(*key)))
        .collect();
    let blocker = match user.remove("DeactivationBlocker") {
        None => None,
        Some(Value::String(why)) => Some(why),
        Some(_) => {
            return Err(format!(
                "salesforce.users[{i}]: `DeactivationBlocker` is the message Salesforce gives, \
                 a string"
            ));
        }
    };
    // Stored first, as the org would: a unique value then collides in any spacing.
    store_seeded_text(org, &mut user);
    if !user.get("Username").is_some_and(Value::is_string) {
        return Err(format!("salesforce.users[{i}]: `Username` is required"));
    }
    check_seeded_fields(org, i, &user)?;
    org.fill_nickname(&mut user);
    let id = org.insert("User", user);
    if let Some(why) = blocker {
        org.deactivation_blockers.insert(id.clone(), why);
    }
    for ((key, names), (_, object, name_field, filter, junction, user_field, field)) in
        held.iter().zip(HELD)
    {
        for name in names
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            let target = org
                .records(object)
                .find(|r| {
                    text(r, name_field).eq_ignore_ascii_case(name)
                        && filter.is_none_or(|(f, v)| text(r, f) == v)
                })
                .and_then(|r| r.get("Id").and_then(Value::as_str))
                .map(str::to_owned)
                .ok_or_else(|| format!("salesforce.users[{i}].{key}: no {object} {name:?}"))?;
            let junction = OBJECTS
                .iter()
                .map(|(n, _)| *n)
                .find(|n| n == junction)
                .unwrap_or("GroupMember");
            let fields = map(json!({*user_field: id, *field: target}));
            if *object == "PermissionSetGroup" {
                // A group recalculated after the user got it (now Outdated, say) is still held:
                // the status rule is for new assignees only.
                org.insert(junction, fields);
            } else {
                super::salesforce::access::assign(org, junction, fields)
                    .map_err(|f| format!("salesforce.users[{i}].{key}: {name:?}: {}", f.message))?;
            }
        }
    }
    Ok(id)
}

/// A permission set's hidden note of the permission set licence its permissions need (a
/// world-file fact with no field of its own in Salesforce).
pub(crate) const REQUIRES_LICENSE: &str = "_RequiresLicenseId";

/// What a seeded user may hold: (world key, object, name field, the object's filter, the
/// assignment object, its user field, its access-object field).
type Held = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static str,
    &'static str,
    &'static str,
);
const HELD: &[Held] = &[
    (
        "PermissionSetLicenses",
        "PermissionSetLicense",
        "DeveloperName",
        None,
        "PermissionSetLicenseAssign",
        "AssigneeId",
        "PermissionSetLicenseId",
    ),
    (
        "PackageLicenses",
        "PackageLicense",
        "NamespacePrefix",
        None,
        "UserPackageLicense",
        "UserId",
        "PackageLicenseId",
    ),
    (
        "PermissionSets",
        "PermissionSet",
        "Name",
        None,
        "PermissionSetAssignment",
        "AssigneeId",
        "PermissionSetId",
    ),
    (
        "PermissionSetGroups",
        "PermissionSetGroup",
        "DeveloperName",
        None,
        "PermissionSetAssignment",
        "AssigneeId",
        "PermissionSetGroupId",
    ),
    (
        "PublicGroups",
        "Group",
        "DeveloperName",
        Some(("Type", "Regular")),
        "GroupMember",
        "UserOrGroupId",
        "GroupId",
    ),
    (
        "Queues",
        "Group",
        "DeveloperName",
        Some(("Type", "Queue")),
        "GroupMember",
        "UserOrGroupId",
        "GroupId",
    ),
];

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_salesforce_shaped() {
        assert_eq!(
            format_timestamp(CLOCK_START_MS),
            "2026-01-01T00:00:00.000+0000"
        );
        assert_eq!(
            format_timestamp(CLOCK_START_MS + 86_400_000 + 1500),
            "2026-01-02T00:00:01.500+0000"
        );
    }
}
