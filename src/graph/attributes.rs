//! Which Entra user attributes the config references, how each is asked of Graph (`$select`),
//! and how its value is read back. Entra's provisioning names mostly equal Graph's; the
//! exceptions are `objectId` (Graph's `id`), `extensionAttribute1..15` (inside
//! `onPremisesExtensionAttributes`) and the virtual `appRoleAssignments`, which roster computes
//! from the application's assignments.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::config::{Config, MappingValue, RoleCondition};
use crate::expr;
use crate::field_value::FieldValue;
use crate::sorted_map::{Fields, Name};
use crate::user_attributes::{AttributeValue, UserAttributes};

/// Attributes every read includes: the key, the scope rule for disabled accounts, and names
/// for messages.
const ALWAYS: &[&str] = &["userPrincipalName", "accountEnabled", "displayName"];

/// The properties of Graph v1.0's `user` resource type that `$select` accepts (Microsoft
/// Graph, "user resource type", v1.0, properties table). Directory extensions
/// (`extension_{appId}_{name}`) come on top. Graph refuses `$select` of any other name with
/// 400 `Request_BadRequest` "Could not find a property named '<name>' on type
/// 'Microsoft.DirectoryServices.User'." (the message as tenants report it; an assumption where
/// Microsoft's documentation is silent).
pub(crate) const USER_PROPERTIES: &[&str] = &[
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "deletedDateTime",
    "department",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "hireDate",
    "id",
    "identities",
    "imAddresses",
    "interests",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailboxSettings",
    "mailNickname",
    "manager",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "preferredName",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "showInAddressList",
    "signInActivity",
    "signInSessionsValidFromDateTime",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
];

/// The `user` properties that are collections: Graph answers `[]` for them, never `null`.
pub(crate) const COLLECTION_PROPERTIES: &[&str] = &[
    "assignedLicenses",
    "assignedPlans",
    "businessPhones",
    "identities",
    "imAddresses",
    "interests",
    "licenseAssignmentStates",
    "otherMails",
    "pastProjects",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "serviceProvisioningErrors",
    "skills",
];

/// The `user` properties of type Boolean (the same table).
const BOOLEAN_PROPERTIES: &[&str] = &[
    "accountEnabled",
    "isManagementRestricted",
    "isResourceAccount",
    "onPremisesSyncEnabled",
    "showInAddressList",
];

/// The `user` properties whose values are objects or collections of objects (the same table):
/// roster reads none of them as text (`onPremisesExtensionAttributes` is read by its members).
const STRUCTURED_PROPERTIES: &[&str] = &[
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "customSecurityAttributes",
    "employeeOrgData",
    "identities",
    "licenseAssignmentStates",
    "mailboxSettings",
    "manager",
    "onPremisesExtensionAttributes",
    "onPremisesProvisioningErrors",
    "passwordProfile",
    "provisionedPlans",
    "serviceProvisioningErrors",
    "signInActivity",
];

/// The JSON a Graph `user` property holds (Microsoft Graph, "user resource type", v1.0,
/// properties table): String, DateTimeOffset and Guid properties are text; directory
/// extensions may be of any type, and structured properties are not read as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Text,
    Boolean,
    TextList,
    Unchecked,
}

impl Type {
    /// The type of the Graph property that holds Entra attribute `name`.
    fn of(name: &str) -> Type {
        let property = graph_property(name);
        if is_extension_attribute(name) {
            Type::Text
        } else if !USER_PROPERTIES.contains(&property) || STRUCTURED_PROPERTIES.contains(&property)
        {
            Type::Unchecked
        } else if BOOLEAN_PROPERTIES.contains(&property) {
            Type::Boolean
        } else if COLLECTION_PROPERTIES.contains(&property) {
            Type::TextList
        } else {
            Type::Text
        }
    }

    /// What `value` should be instead, if it is not of this type (null always is).
    fn refuses(self, value: &Value) -> Option<&'static str> {
        match self {
            _ if value.is_null() => None,
            Type::Text => (!value.is_string()).then_some("text"),
            Type::Boolean => (!value.is_boolean()).then_some("a boolean"),
            Type::TextList => (!value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)))
            .then_some("a list of text"),
            Type::Unchecked => None,
        }
    }

    /// `value` of `name` named as what it is and should be (`surname 5, not text`; the value
    /// shown up to 80 characters), if it is not of this type.
    fn problem(self, name: &str, value: &Value) -> Option<String> {
        let expected = self.refuses(value)?;
        Some(format!(
            "{name} {}, not {expected}",
            crate::http::truncate(&value.to_string(), 80)
        ))
    }
}

/// `onPremisesExtensionAttributes` when it is neither an object nor null, named.
fn holder_problem(holder: &Value) -> Option<String> {
    (!holder.is_null() && !holder.is_object()).then(|| {
        format!(
            "onPremisesExtensionAttributes {}, not an object",
            crate::http::truncate(&holder.to_string(), 80)
        )
    })
}

/// What Graph would refuse in the `user` property `property` (its own name, e.g. `surname`,
/// `onPremisesExtensionAttributes`) holding `value`: a property the `user` resource does not
/// have (`costCenter`, `JobTitle`: Graph's names are case-sensitive in what it returns), a
/// malformed directory extension name, an extension attribute other than
/// `extensionAttribute1`..`15` (Graph's `onPremisesExtensionAttributes` holds those fifteen;
/// Microsoft Graph, "onPremisesExtensionAttributes resource type"), or a value of another type
/// (`surname 5, not text`). Directory extensions' values and structured properties other than
/// the extension attributes are not type-checked. The emulator refuses such a world or admin
/// change, as Graph would.
pub(crate) fn graph_property_problem(property: &str, value: &Value) -> Option<String> {
    // As it is printed: quoted, and cut (a name is any JSON key).
    let shown = |name: &str| format!("{:?}", crate::http::truncate(name, 80));
    if property == "onPremisesExtensionAttributes" {
        return holder_problem(value).or_else(|| {
            value.as_object()?.iter().find_map(|(name, value)| {
                if !is_extension_attribute(name) {
                    return Some(format!(
                        "onPremisesExtensionAttributes.{}: Graph holds extensionAttribute1 to \
                         extensionAttribute15 there, nothing else",
                        shown(name)
                    ));
                }
                Type::Text
                    .problem(name, value)
                    .map(|problem| format!("onPremisesExtensionAttributes.{problem}"))
            })
        });
    }
    if property.starts_with("extension_") {
        return directory_extension_problem(property)
            .map(|why| format!("{}: {why}", shown(property)));
    }
    if !USER_PROPERTIES.contains(&property) {
        let spelled = USER_PROPERTIES
            .iter()
            .find(|p| p.eq_ignore_ascii_case(property));
        let why = match spelled {
            Some(spelled) => format!("Graph spells it `{spelled}`"),
            None if property.eq_ignore_ascii_case("objectId") => {
                "Graph's name for the object id is `id`".to_owned()
            }
            None if is_extension_attribute(property) => format!(
                "Graph holds it inside `onPremisesExtensionAttributes` \
                 ({{{property}: ...}})"
            ),
            None if property.to_ascii_lowercase().starts_with("extension_") => {
                "a directory extension's name starts with `extension_`, in lower case".to_owned()
            }
            None => "Graph's user has no such property (its properties, or a directory \
                     extension `extension_<appId without dashes>_<name>`)"
                .to_owned(),
        };
        return Some(format!("{}: {why}", shown(property)));
    }
    Type::of(property).problem(property, value)
}

/// Why `name` (starting `extension_`) is not a directory extension's name as Graph gives it:
/// `extension_<appId without dashes, lower case>_<name of letters, digits and underscores>`
/// (Microsoft Graph, "Add custom data to users using directory extensions"; Graph answers with
/// the application id in lower case, whatever case `$select` used).
fn directory_extension_problem(name: &str) -> Option<String> {
    let rest = name.strip_prefix("extension_")?;
    let (app, property) = rest.split_once('_').unwrap_or((rest, ""));
    let well_formed = app.len() == 32
        && app.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && !property.is_empty()
        && property
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (!well_formed).then(|| {
        "a directory extension is named `extension_<appId without dashes, in lower case>_<name>` \
         (letters, digits and underscores), e.g. \
         `extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter`"
            .to_owned()
    })
}

/// The Graph type of each Entra attribute a snapshot's users hold (as `roster snapshot` writes
/// them: `objectId`, `extensionAttributeN` flattened), worked out once per name and found by
/// the name's one copy (`Name::address`): a snapshot edited to hold 200,000 distinct names took
/// minutes when each was looked for in a list of the others.
#[derive(Default)]
pub(crate) struct AttributeTypes(crate::hash::HashMap<usize, Type>);

impl AttributeTypes {
    /// What `value` of attribute `name` is that Graph never sends (`surname 5, not text`): a
    /// snapshot edited by hand is held to what a live read accepts.
    pub(crate) fn problem(&mut self, name: Name, value: AttributeValue<'_>) -> Option<String> {
        let kind = *self
            .0
            .entry(name.address())
            .or_insert_with(|| Type::of(&name));
        match value {
            // Text is what nearly every attribute holds: no copy of it to find it right.
            AttributeValue::Text(_) if matches!(kind, Type::Text | Type::Unchecked) => None,
            AttributeValue::Text(text) => kind.problem(&name, &Value::String(text.to_owned())),
            AttributeValue::Json(json) => kind.problem(&name, json),
        }
    }
}

/// The Entra attributes a read takes from each Graph user (dereferences to their names), with
/// the type Graph gives each, worked out once per read.
pub(crate) struct Selected {
    names: Vec<Name>,
    types: Vec<Type>,
}

impl Selected {
    pub(crate) fn new(names: Vec<Name>) -> Selected {
        let types = names.iter().map(|name| Type::of(name)).collect();
        Selected { names, types }
    }

    /// The first selected attribute a Graph user object holds a value of a type Graph never
    /// sends for (a number for `surname`, `"false"` for `accountEnabled`, an object for an
    /// `extensionAttribute`), as `surname 5, not text`; a value is shown up to 80 characters.
    pub(crate) fn wrong_type(&self, user: &Fields) -> Option<String> {
        self.names.iter().zip(&self.types).find_map(|(name, kind)| {
            if is_extension_attribute(name) {
                // Borrowed where it is an object, as it is but in a malformed answer.
                let holder = user.get("onPremisesExtensionAttributes")?;
                let holder = holder
                    .as_other()
                    .map_or_else(|| Cow::Owned(holder.to_json()), Cow::Borrowed);
                if let Some(problem) = holder_problem(&holder) {
                    return Some(problem);
                }
                kind.problem(name, holder.get(&**name)?)
            } else {
                let property = graph_property(name);
                match user.get(property)? {
                    // Text is what nearly every attribute holds: no copy of it to find it right.
                    FieldValue::Text(_) if matches!(kind, Type::Text | Type::Unchecked) => None,
                    value => kind.problem(property, &value.to_json()),
                }
            }
        })
    }
}

impl std::ops::Deref for Selected {
    type Target = [Name];

    fn deref(&self) -> &[Name] {
        &self.names
    }
}

/// Entra's synchronization-schema names (the provisioning portal's, from the old Azure AD
/// Graph) that Microsoft Graph spells otherwise, and what to write instead.
const SYNC_NAMES: &[(&str, &str)] = &[
    (
        "telephoneNumber",
        "Graph holds it in `businessPhones` (multi-valued): write `Item([businessPhones], 1)`",
    ),
    ("mobile", "Graph calls it `mobilePhone`"),
    // Active Directory's names, which Entra's Graph spells otherwise.
    ("sn", "Graph calls it `surname`"),
    ("title", "Graph calls it `jobTitle`"),
    ("l", "Graph calls it `city`"),
    ("st", "Graph calls it `state`"),
    (
        "c",
        "Graph calls it `country` (or `usageLocation` for the two-letter code)",
    ),
    ("co", "Graph calls it `country`"),
    ("company", "Graph calls it `companyName`"),
    ("facsimileTelephoneNumber", "Graph calls it `faxNumber`"),
    (
        "physicalDeliveryOfficeName",
        "Graph calls it `officeLocation`",
    ),
    (
        "IsSoftDeleted",
        "roster decides deprovisioning itself (`deprovision.out_of_scope`); there is no \
         IsSoftDeleted attribute to read",
    ),
    (
        "manager",
        "roster does not read the manager reference; map a manager attribute synced into an \
         extension attribute instead",
    ),
];

/// Whether roster can read the Entra attribute `name`: a Graph `user` property spelled as Graph
/// spells it (Entra's expressions are case-sensitive), `objectId`, `appRoleAssignments`,
/// `extensionAttribute1`..`15`, or a directory extension `extension_<appId without dashes>_<name>`.
/// The error is a help text: Graph's spelling, the Graph name of a sync-schema name, or the
/// closest property.
pub(crate) fn check_attribute(name: &str) -> Result<(), String> {
    if matches!(name, "objectId" | APP_ROLE_ASSIGNMENTS)
        || is_extension_attribute(name)
        || USER_PROPERTIES.contains(&name)
    {
        return Ok(());
    }
    if name.starts_with("extension_") {
        return directory_extension_problem(name).map_or(Ok(()), Err);
    }
    if let Some((_, hint)) = SYNC_NAMES
        .iter()
        .find(|(sync, _)| sync.eq_ignore_ascii_case(name))
    {
        return Err((*hint).to_owned());
    }
    let virtual_names = ["objectId", APP_ROLE_ASSIGNMENTS];
    if let Some(spelled) = USER_PROPERTIES
        .iter()
        .chain(&virtual_names)
        .find(|p| p.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "Graph spells it `{spelled}`; attribute names in Entra's expressions are case-sensitive"
        ));
    }
    Err(
        match crate::suggest::closest(name, USER_PROPERTIES.iter().chain(&virtual_names).copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => "Entra attributes are Microsoft Graph's user properties (e.g. `jobTitle`), \
                     `objectId`, `extensionAttribute1`..`15` and directory extensions"
                .to_owned(),
        },
    )
}

/// Why Entra does not allow a scoping filter on this attribute, if it does not: multi-valued
/// attributes, app roles, `userType`, `manager` and dates are not supported as scoping
/// attributes (Microsoft Learn, "Scoping users or groups to be provisioned with scoping
/// filters"; entra-provisioning.md §3.2).
pub(crate) fn scoping_refusal(name: &str) -> Option<&'static str> {
    const DATES: &[&str] = &[
        "birthday",
        "createdDateTime",
        "deletedDateTime",
        "employeeHireDate",
        "employeeLeaveDateTime",
        "externalUserStateChangeDateTime",
        "hireDate",
        "lastPasswordChangeDateTime",
        "onPremisesLastSyncDateTime",
        "signInSessionsValidFromDateTime",
    ];
    if COLLECTION_PROPERTIES.contains(&name) || name == APP_ROLE_ASSIGNMENTS {
        Some("Entra's scoping filters do not support multi-valued attributes")
    } else if DATES.contains(&name) {
        Some("Entra's scoping filters do not support date attributes")
    } else if matches!(name, "userType" | "manager" | "IsMemberOf") {
        Some("Entra's scoping filters do not support this attribute")
    } else {
        None
    }
}

/// The Entra attribute `$select` could not find, from Graph's refusal message.
pub(crate) fn unknown_property(message: &str) -> Option<&str> {
    message
        .split_once("Could not find a property named '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(name, _)| name)
}

/// Where `roster.yaml` reads the Entra attribute held in Graph property `property` (any case):
/// JSON pointers to direct mappings, expressions (matching, mappings, role rules) and scoping
/// filter clauses.
pub(crate) fn places(config: &Config, property: &str) -> Vec<String> {
    let reads = |name: &str| graph_property(name).eq_ignore_ascii_case(property);
    let in_expression = |parsed: &expr::Expr| {
        let mut found = Vec::new();
        expr::attributes(parsed, &mut found);
        found.iter().any(|name| reads(name))
    };
    let mut pointers = Vec::new();
    for rule in &config.matching {
        if in_expression(&rule.source.parsed) {
            pointers.push(rule.source.pointer.clone());
        }
    }
    for (i, mapping) in config.mappings.iter().enumerate() {
        match &mapping.value {
            MappingValue::Source(name) if reads(name) => {
                pointers.push(format!("/mappings/{i}/source"));
            }
            MappingValue::Expression(e) if in_expression(&e.parsed) => {
                pointers.push(e.pointer.clone());
            }
            _ => {}
        }
    }
    for rule in &config.roles.rules {
        if let RoleCondition::Expression(e) = &rule.when
            && in_expression(&e.parsed)
        {
            pointers.push(e.pointer.clone());
        }
    }
    for (i, filter) in config.scope.filters.iter().enumerate() {
        for (j, clause) in filter.all.iter().enumerate() {
            if reads(&clause.attribute) {
                pointers.push(format!("/scope/filters/{i}/all/{j}/attribute"));
            }
        }
    }
    pointers
}

/// The computed attribute holding the user's app-role values.
pub(crate) const APP_ROLE_ASSIGNMENTS: &str = "appRoleAssignments";

/// The Entra attribute names the config reads, sorted, without the virtual ones. Each name is
/// one `Arc`, shared by every user read.
/// `source_attributes` of `config` and, when given, of `also` (the baseline config a plan is
/// compared with, planned on the same read): sorted, each once.
pub(crate) fn source_attributes_with(config: &Config, also: Option<&Config>) -> Vec<Name> {
    let mut names: BTreeSet<String> = source_attributes(config)
        .iter()
        .map(ToString::to_string)
        .collect();
    if let Some(also) = also {
        names.extend(source_attributes(also).iter().map(ToString::to_string));
    }
    names.into_iter().map(Name::from).collect()
}

pub(crate) fn source_attributes(config: &Config) -> Vec<Name> {
    let mut names: BTreeSet<String> = ALWAYS.iter().map(|s| (*s).to_owned()).collect();
    let mut expressions: Vec<&expr::Expr> = config
        .matching
        .iter()
        .map(|m| m.source.parsed.as_ref())
        .collect();
    for mapping in &config.mappings {
        match &mapping.value {
            MappingValue::Expression(e) => expressions.push(&e.parsed),
            MappingValue::Source(s) => {
                names.insert(s.to_string());
            }
            MappingValue::Constant(_) => {}
        }
    }
    for rule in &config.roles.rules {
        if let RoleCondition::Expression(e) = &rule.when {
            expressions.push(&e.parsed);
        }
    }
    for parsed in expressions {
        let mut found = Vec::new();
        expr::attributes(parsed, &mut found);
        names.extend(found);
    }
    for filter in &config.scope.filters {
        for clause in &filter.all {
            names.insert(clause.attribute.clone());
        }
    }
    names.remove(APP_ROLE_ASSIGNMENTS);
    names.into_iter().map(Name::from).collect()
}

/// `extensionAttribute1`..`extensionAttribute15`, spelled as Graph spells them (no `01`, no `+1`).
fn is_extension_attribute(name: &str) -> bool {
    name.strip_prefix("extensionAttribute")
        .filter(|n| !n.starts_with(['0', '+']))
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=15).contains(&n))
}

/// The Graph `$select` list for these Entra attributes (always with `id`).
pub(crate) fn graph_select(attributes: &[Name]) -> String {
    let mut select: BTreeSet<&str> = BTreeSet::from(["id"]);
    for name in attributes {
        select.insert(graph_property(name));
    }
    select.into_iter().collect::<Vec<_>>().join(",")
}

/// The Graph property that holds an Entra attribute (`objectId` is `id`, `extensionAttributeN`
/// lives in `onPremisesExtensionAttributes`).
fn graph_property(name: &str) -> &str {
    match name {
        "objectId" => "id",
        n if is_extension_attribute(n) => "onPremisesExtensionAttributes",
        n => n,
    }
}

/// The first attribute whose Graph property a user object lacks: Graph answers every selected
/// property, null or not, so a missing one is a malformed answer, never a null.
pub(crate) fn missing_property<'a>(user: &Fields, attributes: &'a [Name]) -> Option<&'a str> {
    attributes
        .iter()
        .find(|name| !user.contains_key(graph_property(name)))
        .map(AsRef::as_ref)
}

/// The Entra attributes of one Graph user object, taken from it; nulls are left out.
pub(crate) fn read_attributes(mut user: Fields, attributes: &[Name]) -> UserAttributes {
    attributes
        .iter()
        .filter_map(|name| {
            let value = match &**name {
                // The object id stays the user's `id` too.
                "objectId" => user.get("id").cloned(),
                n if is_extension_attribute(n) => user
                    .get("onPremisesExtensionAttributes")
                    .and_then(FieldValue::as_other)
                    .and_then(|e| e.get(n))
                    .map(FieldValue::from),
                n => user.get_mut(n).map(std::mem::take),
            };
            Some((*name, value.filter(|v| !v.is_null())?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The extension attributes are the fifteen Graph spells, and a directory extension names
    /// an application: anything else is refused, in a config and in an emulated world alike.
    #[test]
    fn extension_names_are_graphs_own() {
        for name in [
            "extensionAttribute1",
            "extensionAttribute15",
            "extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter",
        ] {
            assert_eq!(check_attribute(name), Ok(()), "{name}");
        }
        for name in [
            "extensionAttribute0",
            "extensionAttribute01",
            "extensionAttribute+1",
            "extensionAttribute16",
            "extension_123_costCenter",
            "extension_b7d8e648520f41d3b9c0fdeb91768a0a_",
            "extension_B7D8E648520F41D3B9C0FDEB91768A0A_costCenter",
        ] {
            assert!(check_attribute(name).is_err(), "{name}");
        }
        // Active Directory's names get Graph's.
        assert_eq!(
            check_attribute("sn"),
            Err("Graph calls it `surname`".to_owned())
        );
        assert_eq!(
            check_attribute("Title"),
            Err("Graph calls it `jobTitle`".to_owned())
        );
        let world = |name: &str| graph_property_problem(name, &Value::from("x"));
        assert_eq!(world("jobTitle"), None);
        assert_eq!(
            world("extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter"),
            None
        );
        for refused in [
            "extension_123_costCenter",
            "extension_B7D8E648520F41D3B9C0FDEB91768A0A_costCenter",
            "extension_b7d8e648520f41d3b9c0fdeb91768a0a_cost center",
            "costCenter",
            "",
        ] {
            assert!(world(refused).is_some(), "{refused:?}");
        }
        assert_eq!(
            world("JobTitle").as_deref(),
            Some("\"JobTitle\": Graph spells it `jobTitle`")
        );
        assert_eq!(
            world("objectId").as_deref(),
            Some("\"objectId\": Graph's name for the object id is `id`")
        );
        assert!(
            world("extensionAttribute3")
                .is_some_and(|p| p.contains("inside `onPremisesExtensionAttributes`"))
        );
        // A name is shown quoted and cut: a line break or a megabyte stays one short line.
        let long = format!("a\n{}", "x".repeat(100_000));
        let shown = world(&long).unwrap();
        assert!(shown.len() < 400 && !shown.contains('\n'), "{shown}");
    }

    /// Values of a type Graph never sends for a property are named; nulls, directory
    /// extensions and structured properties are not checked.
    #[test]
    fn values_of_a_type_graph_never_sends_are_named() {
        let selected = Selected::new(
            [
                "accountEnabled",
                "surname",
                "proxyAddresses",
                "extensionAttribute3",
                "extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter",
                "employeeHireDate",
            ]
            .into_iter()
            .map(Name::from)
            .collect(),
        );
        let wrong = |user: serde_json::Value| {
            let user: Fields = serde_json::from_value(user).unwrap();
            selected.wrong_type(&user)
        };
        let fine = serde_json::json!({
            "accountEnabled": true, "surname": "Chen", "proxyAddresses": ["SMTP:a@x"],
            "onPremisesExtensionAttributes": {"extensionAttribute3": "CC-7"},
            "extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter": 42,
            "employeeHireDate": "2024-01-02T00:00:00Z"
        });
        assert_eq!(wrong(fine.clone()), None);
        let nulls = serde_json::json!({
            "accountEnabled": null, "surname": null, "proxyAddresses": null,
            "onPremisesExtensionAttributes": null, "employeeHireDate": null
        });
        assert_eq!(wrong(nulls), None);
        for (property, value, expected) in [
            ("surname", serde_json::json!(5), "surname 5, not text"),
            ("surname", serde_json::json!(true), "surname true, not text"),
            (
                "surname",
                serde_json::json!(["Chen"]),
                r#"surname ["Chen"], not text"#,
            ),
            (
                "accountEnabled",
                serde_json::json!("false"),
                r#"accountEnabled "false", not a boolean"#,
            ),
            (
                "proxyAddresses",
                serde_json::json!("SMTP:a@x"),
                r#"proxyAddresses "SMTP:a@x", not a list of text"#,
            ),
            (
                "proxyAddresses",
                serde_json::json!([1]),
                "proxyAddresses [1], not a list of text",
            ),
            (
                "employeeHireDate",
                serde_json::json!(20_240_102),
                "employeeHireDate 20240102, not text",
            ),
            (
                "onPremisesExtensionAttributes",
                serde_json::json!({"extensionAttribute3": 7}),
                "extensionAttribute3 7, not text",
            ),
            (
                "onPremisesExtensionAttributes",
                serde_json::json!("CC-7"),
                r#"onPremisesExtensionAttributes "CC-7", not an object"#,
            ),
        ] {
            let mut user = fine.clone();
            user[property] = value;
            assert_eq!(wrong(user).as_deref(), Some(expected));
        }
        // A long value is cut in the message.
        let mut user = fine;
        user["surname"] = serde_json::json!({"x": "y".repeat(500)});
        let message = wrong(user).unwrap();
        assert!(
            message.len() < 120 && message.ends_with("…, not text"),
            "{message}"
        );
    }

    #[test]
    fn entra_names_become_graph_properties_and_back() {
        let attributes: Vec<Name> = ["objectId", "extensionAttribute3", "department"]
            .into_iter()
            .map(Name::from)
            .collect();
        assert_eq!(
            graph_select(&attributes),
            "department,id,onPremisesExtensionAttributes"
        );
        let user = serde_json::json!({
            "id": "u1", "department": null,
            "onPremisesExtensionAttributes": {"extensionAttribute3": "CC-7", "extensionAttribute4": null}
        });
        let user: Fields = serde_json::from_value(user).unwrap();
        let read = read_attributes(user, &attributes);
        assert_eq!(
            serde_json::to_value(read).unwrap(),
            serde_json::json!({"objectId": "u1", "extensionAttribute3": "CC-7"})
        );
    }
}
