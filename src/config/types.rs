//! The desired-state model: what `roster.yaml` says, as Rust types. serde reads it, schemars turns
//! it (and these doc comments) into `schemas/roster.schema.json`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::secret::SecretRef;
use crate::grants::GrantKind;

/// roster's desired state: which Entra users reach the Salesforce org, and how.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "roster.yaml")]
pub(crate) struct Config {
    /// The file format version. Always 1.
    #[schemars(extend("const" = 1))]
    #[allow(
        dead_code,
        reason = "the schema checks it is 1; nothing else needs to read it"
    )]
    pub(crate) version: u32,
    /// A base config this file builds on (a path relative to this file): maps merge key by
    /// key, lists and values here replace the base's; `validate --explain-merge` shows where
    /// each setting comes from.
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "the loader merges the base and removes the key before this type is read"
    )]
    pub(crate) extends: Option<String>,
    /// Microsoft Entra ID: the tenant, the app registration roster reads Graph with, and the
    /// enterprise application users are assigned to.
    pub(crate) source: Source,
    /// The Salesforce org users are provisioned into.
    pub(crate) target: Target,
    /// Which source users are in scope: assignment mode and scoping filters.
    #[serde(default)]
    pub(crate) scope: Scope,
    /// How a source user is linked to an existing Salesforce user, in precedence order: the first
    /// rule that finds a target user wins.
    #[schemars(length(min = 1))]
    pub(crate) matching: Vec<MatchRule>,
    /// Which Salesforce users roster may deactivate or freeze. Users that are neither linked nor
    /// owned are never touched.
    #[serde(default)]
    pub(crate) ownership: Ownership,
    /// Salesforce users that are never created over, changed, deactivated or frozen.
    #[serde(default)]
    pub(crate) protect: Protect,
    /// Salesforce User fields and where their values come from.
    #[schemars(length(min = 1))]
    pub(crate) mappings: Vec<Mapping>,
    /// Profile, role and permission sets per user, chosen by ordered rules.
    pub(crate) roles: Roles,
    /// What happens to a Salesforce user whose source user leaves the scope.
    #[serde(default)]
    pub(crate) deprovision: Deprovision,
    /// Guards against mass changes.
    #[serde(default)]
    pub(crate) safety: Safety,
    /// Scheduled runs: what `roster apply --policy` may carry out without a review.
    #[serde(default)]
    pub(crate) reconcile: Option<Reconcile>,
}

/// Scheduled reconciliation (the reconcile workflow runs `roster apply --policy`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reconcile {
    /// What a plan may hold for `roster apply --policy` to carry it out unreviewed; a plan
    /// beyond it is held (exit 3, nothing written) for a person to review.
    pub(crate) auto_apply: AutoApply,
}

/// The limits of an unreviewed apply.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutoApply {
    /// The kinds of change allowed: `create`, `update`, `reactivate`, `deactivate`, `freeze`,
    /// `grants` (any grant or feature licence added or removed, and an existing user moved to
    /// another profile or role), `app_roles`. Anything else holds the plan.
    #[schemars(length(min = 1))]
    pub(crate) allow: Vec<PolicyAction>,
    /// At most this many creates.
    #[serde(default)]
    #[schemars(range(max = 4_294_967_295_u32))]
    pub(crate) max_creates: Option<u32>,
    /// At most this many updates and reactivations.
    #[serde(default)]
    #[schemars(range(max = 4_294_967_295_u32))]
    pub(crate) max_updates: Option<u32>,
    /// At most this many deactivations and freezes (besides `safety.max_deactivations`, which
    /// holds for every apply).
    #[serde(default)]
    #[schemars(range(max = 4_294_967_295_u32))]
    pub(crate) max_deactivations: Option<u32>,
}

/// A kind of change a reconcile policy allows.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PolicyAction {
    Create,
    Update,
    Reactivate,
    Deactivate,
    Freeze,
    Grants,
    AppRoles,
}

impl PolicyAction {
    /// The kind as `reconcile.auto_apply.allow` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PolicyAction::Create => "create",
            PolicyAction::Update => "update",
            PolicyAction::Reactivate => "reactivate",
            PolicyAction::Deactivate => "deactivate",
            PolicyAction::Freeze => "freeze",
            PolicyAction::Grants => "grants",
            PolicyAction::AppRoles => "app_roles",
        }
    }
}

/// Microsoft Entra ID.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
    /// Directory (tenant) id, a GUID, or a verified domain such as `contoso.onmicrosoft.com`.
    #[schemars(length(min = 1))]
    pub(crate) tenant_id: String,
    /// Application (client) id of the app registration roster reads Microsoft Graph with.
    #[schemars(length(min = 1))]
    pub(crate) client_id: String,
    /// How roster authenticates to Entra: exactly one of `client_secret`, `certificate`,
    /// `federated`.
    pub(crate) credential: SourceCredential,
    /// The enterprise application (service principal) users and groups are assigned to.
    pub(crate) application: Application,
    /// Token endpoint base URL. Default `https://login.microsoftonline.com`; the environment
    /// variable `ROSTER_ENTRA_LOGIN_URL` overrides it.
    #[serde(default)]
    pub(crate) login_url: Option<String>,
    /// Microsoft Graph base URL. Default `https://graph.microsoft.com`; the environment variable
    /// `ROSTER_GRAPH_URL` overrides it.
    #[serde(default)]
    pub(crate) graph_url: Option<String>,
}

/// How roster authenticates to Entra.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum SourceCredential {
    /// A client secret of the app registration.
    ClientSecret(SecretRef),
    /// A certificate of the app registration: roster signs a client assertion with its key.
    Certificate(Certificate),
    /// A federated credential: an OIDC token from the CI system is exchanged for a Graph token,
    /// so no secret is stored.
    Federated(FederatedProvider),
}

/// A certificate credential.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Certificate {
    /// The PEM private key.
    pub(crate) private_key: SecretRef,
    /// The PEM certificate registered on the app (its thumbprint identifies the key).
    pub(crate) certificate: SecretRef,
}

/// Where the federated token comes from.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FederatedProvider {
    /// GitHub Actions OIDC (`id-token: write`), or the file named by `AZURE_FEDERATED_TOKEN_FILE`.
    GithubActions,
}

/// The enterprise application, found by exactly one of these.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum Application {
    /// Display name, e.g. `Salesforce Sandbox`. More than one match is an error.
    DisplayName(String),
    /// Object id of the service principal.
    ServicePrincipalId(String),
    /// Application (client) id of the app the service principal belongs to.
    AppId(String),
}

/// The Salesforce org.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    /// Login URL: `https://test.salesforce.com` for a sandbox (the default),
    /// `https://login.salesforce.com` for production, or a My Domain URL. The environment
    /// variable `ROSTER_SALESFORCE_LOGIN_URL` overrides it.
    #[serde(default = "default_login_url")]
    pub(crate) login_url: String,
    /// REST API version, e.g. `"62.0"`.
    #[serde(default = "default_api_version")]
    #[schemars(regex(pattern = r"^[1-9][0-9]*\.0$"))]
    pub(crate) api_version: String,
    /// How roster authenticates to Salesforce: exactly one of `jwt_bearer`,
    /// `client_credentials`, `password`.
    pub(crate) auth: TargetAuth,
}

fn default_login_url() -> String {
    "https://test.salesforce.com".to_owned()
}

fn default_api_version() -> String {
    "62.0".to_owned()
}

/// Salesforce OAuth flows.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum TargetAuth {
    /// OAuth 2.0 JWT bearer flow with a connected app's certificate (recommended).
    JwtBearer(JwtBearer),
    /// OAuth 2.0 client credentials flow of a connected app with a run-as user.
    ClientCredentials(ClientCredentials),
    /// Username, password and security token: what the Entra tutorial uses. Salesforce
    /// discourages it; prefer `jwt_bearer`.
    Password(PasswordAuth),
}

/// JWT bearer flow.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtBearer {
    /// The connected app's consumer key.
    #[schemars(length(min = 1))]
    pub(crate) client_id: String,
    /// The integration user's Salesforce username.
    #[schemars(length(min = 1))]
    pub(crate) username: String,
    /// PEM private key whose certificate is uploaded to the connected app.
    pub(crate) private_key: SecretRef,
}

/// Client credentials flow.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientCredentials {
    /// The connected app's consumer key.
    #[schemars(length(min = 1))]
    pub(crate) client_id: String,
    /// The connected app's consumer secret.
    pub(crate) client_secret: SecretRef,
}

/// Username-password flow.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordAuth {
    /// The integration user's Salesforce username.
    #[schemars(length(min = 1))]
    pub(crate) username: String,
    /// The integration user's password.
    pub(crate) password: SecretRef,
    /// The security token appended to the password (not needed from trusted IP ranges).
    #[serde(default)]
    pub(crate) security_token: Option<SecretRef>,
    /// The connected app's consumer key.
    #[schemars(length(min = 1))]
    pub(crate) client_id: String,
    /// The connected app's consumer secret.
    pub(crate) client_secret: SecretRef,
}

/// Which source users are in scope.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scope {
    /// `assigned`: users assigned to the application, directly or as direct members of an
    /// assigned group. `all`: every user in the tenant.
    #[serde(default)]
    pub(crate) assignment: Assignment,
    /// Entra scoping filters: the clauses of one filter are AND-ed, the filters are OR-ed. No
    /// filters means every assigned user is in scope.
    #[serde(default)]
    pub(crate) filters: Vec<ScopeFilter>,
}

/// Entra's "Sync only assigned users and groups" / "Sync all users and groups".
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Assignment {
    #[default]
    Assigned,
    All,
}

/// One scoping filter: a user passes when every clause is true.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeFilter {
    /// A name shown in plans and `roster explain`.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The clauses, AND-ed.
    #[schemars(length(min = 1))]
    pub(crate) all: Vec<Clause>,
}

/// One scoping clause. As in Entra, a clause on a null or empty attribute is false.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Clause {
    /// The Entra user attribute, e.g. `department` or `extension_<appid>_costCenter`.
    #[schemars(length(min = 1))]
    pub(crate) attribute: String,
    /// The operator, as Entra defines it.
    pub(crate) operator: Operator,
    /// The operand: a string; an integer for `greater_than[_or_equals]`; a list for `in` and
    /// `not_in`; absent for `is_true`, `is_false`, `is_null`, `is_not_null`.
    #[serde(default)]
    pub(crate) value: Option<ClauseValue>,
}

/// The 14 Entra scoping-filter operators.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Operator {
    /// EQUALS, case-sensitive.
    Equals,
    /// NOT EQUALS, case-sensitive.
    NotEquals,
    /// IS TRUE.
    IsTrue,
    /// IS FALSE.
    IsFalse,
    /// IS NULL.
    IsNull,
    /// IS NOT NULL.
    IsNotNull,
    /// REGEX MATCH, case-sensitive.
    RegexMatch,
    /// NOT REGEX MATCH.
    NotRegexMatch,
    /// Includes: the attribute contains the value (case-sensitive).
    Includes,
    /// ENDS_WITH.
    EndsWith,
    /// Greater_Than: both sides integers.
    GreaterThan,
    /// Greater_Than_OR_EQUALS: both sides integers.
    GreaterThanOrEquals,
    /// `&`: the attribute is one of the values.
    In,
    /// `!&`: the attribute is none of the values.
    NotIn,
}

impl Operator {
    /// The operator's name in the config file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::IsTrue => "is_true",
            Operator::IsFalse => "is_false",
            Operator::IsNull => "is_null",
            Operator::IsNotNull => "is_not_null",
            Operator::RegexMatch => "regex_match",
            Operator::NotRegexMatch => "not_regex_match",
            Operator::Includes => "includes",
            Operator::EndsWith => "ends_with",
            Operator::GreaterThan => "greater_than",
            Operator::GreaterThanOrEquals => "greater_than_or_equals",
            Operator::In => "in",
            Operator::NotIn => "not_in",
        }
    }

    /// What kind of operand the operator takes.
    pub(crate) fn operand(self) -> Operand {
        match self {
            Operator::IsTrue | Operator::IsFalse | Operator::IsNull | Operator::IsNotNull => {
                Operand::None
            }
            Operator::GreaterThan | Operator::GreaterThanOrEquals => Operand::Integer,
            Operator::In | Operator::NotIn => Operand::List,
            Operator::RegexMatch | Operator::NotRegexMatch => Operand::Regex,
            Operator::Equals | Operator::NotEquals | Operator::Includes | Operator::EndsWith => {
                Operand::Text
            }
        }
    }
}

/// The operand kinds, for validation and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    None,
    Text,
    Regex,
    Integer,
    List,
}

/// A clause operand as written.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(
    untagged,
    expecting = "expected a whole number, a text, or a list of texts"
)]
pub(crate) enum ClauseValue {
    Integer(i64),
    Text(String),
    List(Vec<String>),
}

/// One matching rule: the source expression's value is looked up in the target field.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchRule {
    /// An Entra attribute-mapping expression over the source user, e.g. `[userPrincipalName]`.
    #[schemars(length(min = 1))]
    pub(crate) source: String,
    /// The Salesforce User field compared with it (case-insensitive for Username and Email).
    #[schemars(length(min = 1))]
    pub(crate) target: String,
}

/// Which Salesforce users roster owns.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ownership {
    /// Users whose Username ends with this suffix are roster's, even when no source user is
    /// linked to them any more (e.g. `.dev1`).
    #[serde(default)]
    pub(crate) username_suffix: Option<String>,
}

/// Users roster never touches.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Protect {
    /// Usernames (case-insensitive).
    #[serde(default)]
    pub(crate) usernames: Vec<String>,
    /// Profile names: every user with one of these profiles is protected.
    #[serde(default)]
    pub(crate) profiles: Vec<String>,
}

/// One Salesforce User field and its value: exactly one of `source`, `constant`, `expression`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["source"]},
    {"required": ["constant"]},
    {"required": ["expression"]}
]))]
pub(crate) struct Mapping {
    /// The Salesforce User field, e.g. `Email` or `Cost_Center__c`.
    #[schemars(length(min = 1))]
    pub(crate) target: String,
    /// A source attribute copied as is (Entra's "Direct" mapping), e.g. `mail`.
    // Each of the three a string when given: `expression: ~` is no value, refused where it
    // stands rather than taken for a mapping without one (helper-86: an internal error).
    #[serde(default)]
    #[schemars(with = "String")]
    pub(crate) source: Option<String>,
    /// A constant string.
    #[serde(default)]
    #[schemars(with = "String")]
    pub(crate) constant: Option<String>,
    /// An Entra attribute-mapping expression, e.g. `Join(" ", [givenName], [surname])`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub(crate) expression: Option<String>,
    /// Used on create when the value is null (as Entra's "Default value if null").
    #[serde(default)]
    pub(crate) default: Option<String>,
    /// `always` (create and update) or `on_create` (only when the user is created).
    #[serde(default)]
    pub(crate) apply: ApplyMode,
}

/// When a mapping flows.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ApplyMode {
    #[default]
    Always,
    OnCreate,
}

/// The value a mapping takes, with the key it was written under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MappingValue<'a> {
    Source(&'a str),
    Constant(&'a str),
    Expression(&'a str),
}

impl Mapping {
    /// The one value the schema guarantees is present.
    pub(crate) fn value(&self) -> Option<MappingValue<'_>> {
        match (&self.source, &self.constant, &self.expression) {
            (Some(s), None, None) => Some(MappingValue::Source(s)),
            (None, Some(c), None) => Some(MappingValue::Constant(c)),
            (None, None, Some(e)) => Some(MappingValue::Expression(e)),
            _ => None,
        }
    }
}

/// Profile, role and grants (permission sets, permission set groups, licences, public groups,
/// queues, feature licences).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Roles {
    /// Ordered rules: the first matching rule sets the profile and role; the grants of every
    /// matching rule accumulate.
    #[schemars(length(min = 1))]
    pub(crate) rules: Vec<RoleRule>,
    /// The only permission sets roster ever removes.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) managed_permission_sets: Vec<String>,
    /// The only permission set groups roster ever removes (by DeveloperName).
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) managed_permission_set_groups: Vec<String>,
    /// The only permission set licences roster ever removes (by DeveloperName).
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) managed_permission_set_licenses: Vec<String>,
    /// The only package licences roster ever removes (by the package's NamespacePrefix).
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) managed_package_licenses: Vec<String>,
    /// The only public groups roster ever removes users from (by DeveloperName or Name).
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) managed_public_groups: Vec<String>,
    /// The only queues roster ever removes users from (by DeveloperName or Name).
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) managed_queues: Vec<String>,
    /// The only feature licences roster ever turns off (`KnowledgeUser`, ...).
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) managed_feature_licenses: Vec<String>,
    /// Permission set licences a permission set needs but is not linked to (its `License` is
    /// --None--): permission set name to licence DeveloperNames. A user given the permission
    /// set must hold or be given each licence, or the plan says so.
    #[serde(default)]
    pub(crate) requires_licenses: std::collections::BTreeMap<String, Vec<String>>,
    /// Keep the enterprise application's app roles in step with the org's profiles, as Entra's
    /// Salesforce connector does when it imports them: `from_profiles` (every profile with a
    /// user licence) or `{from_profiles: [names]}`. `plan` shows each app role to add, rename
    /// or disable; `apply` writes them through Microsoft Graph (Application.ReadWrite.OwnedBy
    /// or Application.ReadWrite.All).
    #[serde(default)]
    #[allow(
        clippy::struct_field_names,
        reason = "the key is roles.app_roles in roster.yaml"
    )]
    pub(crate) app_roles: Option<AppRolesFrom>,
}

/// Which profiles become app roles.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(
    untagged,
    expecting = "expected `from_profiles`, or `{from_profiles: [profile names]}`"
)]
pub(crate) enum AppRolesFrom {
    /// `from_profiles`: every profile with a user licence.
    All(AllProfiles),
    /// `{from_profiles: [names]}`: these profiles.
    Listed(ListedProfiles),
}

/// The word `from_profiles`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AllProfiles {
    FromProfiles,
}

/// Profiles by name.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListedProfiles {
    /// Profile names.
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub(crate) from_profiles: Vec<String>,
}

impl Roles {
    /// The managed list of a kind of grant.
    pub(crate) fn managed(&self, kind: GrantKind) -> &[String] {
        match kind {
            GrantKind::PermissionSet => &self.managed_permission_sets,
            GrantKind::PermissionSetGroup => &self.managed_permission_set_groups,
            GrantKind::PermissionSetLicense => &self.managed_permission_set_licenses,
            GrantKind::PackageLicense => &self.managed_package_licenses,
            GrantKind::PublicGroup => &self.managed_public_groups,
            GrantKind::Queue => &self.managed_queues,
        }
    }
}

/// One role rule.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRule {
    /// When the rule applies.
    pub(crate) when: RoleCondition,
    /// The profile, by name (or `{id: 00e...}` when two profiles share the name). A rule without
    /// one adds grants only.
    #[serde(default)]
    pub(crate) profile: Option<RecordRef>,
    /// The UserRole, by name or developer name (or `{id: 00E...}`).
    #[serde(default)]
    pub(crate) role: Option<RecordRef>,
    /// Permission set API names.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) permission_sets: Vec<String>,
    /// Permission set group DeveloperNames.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) permission_set_groups: Vec<String>,
    /// Permission set licence DeveloperNames.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) permission_set_licenses: Vec<String>,
    /// Managed packages' licences, by NamespacePrefix.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) package_licenses: Vec<String>,
    /// Public groups, by DeveloperName or Name.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) public_groups: Vec<String>,
    /// Queues, by DeveloperName or Name.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) queues: Vec<String>,
    /// Feature licences (`KnowledgeUser`, `SupportUser`, ...): User checkboxes turned on.
    #[schemars(inner(length(min = 1)))]
    #[serde(default)]
    pub(crate) feature_licenses: Vec<String>,
}

impl RoleRule {
    /// The names the rule grants of a kind.
    pub(crate) fn grants(&self, kind: GrantKind) -> &[String] {
        match kind {
            GrantKind::PermissionSet => &self.permission_sets,
            GrantKind::PermissionSetGroup => &self.permission_set_groups,
            GrantKind::PermissionSetLicense => &self.permission_set_licenses,
            GrantKind::PackageLicense => &self.package_licenses,
            GrantKind::PublicGroup => &self.public_groups,
            GrantKind::Queue => &self.queues,
        }
    }
}

/// An org record named in `roster.yaml`: by name, or by id where names are not unique.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(
    untagged,
    expecting = "expected a record's name, or `{id: ...}` with its record id"
)]
pub(crate) enum RecordRef {
    Name(#[schemars(length(min = 1))] String),
    Id(RecordId),
}

/// A record by its Salesforce id.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordId {
    /// The 15- or 18-character record id.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"))]
    pub(crate) id: String,
}

impl std::fmt::Display for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordRef::Name(name) => write!(f, "{name}"),
            RecordRef::Id(RecordId { id }) => write!(f, "id {id}"),
        }
    }
}

/// A role rule's condition: exactly one of these.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum RoleCondition {
    /// The user holds this app role (by display name or value), directly or through a group.
    AppRole(#[schemars(length(min = 1))] String),
    /// The user is a direct member of this group (by display name or object id).
    Group(#[schemars(length(min = 1))] String),
    /// An expression that evaluates to "True".
    Expression(#[schemars(length(min = 1))] String),
}

/// Deprovisioning.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deprovision {
    /// What happens to a linked or owned Salesforce user whose source user is out of scope.
    #[serde(default)]
    pub(crate) out_of_scope: OutOfScope,
    /// What apply does when Salesforce refuses a deactivation (the user is the Web-to-Lead
    /// default creator, an approver, in a hierarchy field, ...).
    #[serde(default)]
    pub(crate) when_refused: WhenRefused,
}

/// When Salesforce refuses to deactivate a user (Salesforce Help "Considerations for
/// Deactivating Users"; its advice is to freeze first).
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WhenRefused {
    /// Freeze the user's login in the same apply, so they are locked out while an admin clears
    /// what blocks the deactivation; the apply still reports the refusal and fails.
    #[default]
    Freeze,
    /// Leave the user active and unfrozen; the apply reports the refusal and fails.
    Fail,
}

/// Out-of-scope handling.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OutOfScope {
    /// Set `IsActive = false` (Salesforce users are never deleted).
    #[default]
    Deactivate,
    /// Freeze the login (`UserLogin.IsFrozen`), keeping the licence.
    Freeze,
    /// Leave the user alone (Entra's `SkipOutOfScopeDeletions`).
    Ignore,
}

/// Safety limits.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Safety {
    /// The most deactivations (and freezes) one apply may carry out: a number, or a percentage
    /// of the active owned users such as `"5%"`.
    #[serde(default = "default_max_deactivations")]
    pub(crate) max_deactivations: Threshold,
    /// Refuse to plan when no source user is in scope (a misconfiguration, not a wish to
    /// deactivate everyone).
    #[serde(default = "default_true")]
    pub(crate) refuse_empty_source: bool,
    /// A sandbox refresh appends this to every email; an email differing only by it is not drift.
    #[serde(default = "default_sandbox_email_suffix")]
    pub(crate) sandbox_email_suffix: String,
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            max_deactivations: default_max_deactivations(),
            refuse_empty_source: true,
            sandbox_email_suffix: default_sandbox_email_suffix(),
        }
    }
}

fn default_max_deactivations() -> Threshold {
    Threshold::Count(10)
}

fn default_true() -> bool {
    true
}

fn default_sandbox_email_suffix() -> String {
    ".invalid".to_owned()
}

/// A count, or a percentage written as a string.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(
    untagged,
    expecting = "expected a whole number of users (such as 10), or a percentage (such as \"10%\")"
)]
pub(crate) enum Threshold {
    Count(#[schemars(range(max = 4_294_967_295_u32))] u32),
    Percent(#[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?%$"))] String),
}
