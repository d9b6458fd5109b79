//! The world file: one YAML document that seeds the emulated Entra tenant and Salesforce org.
//! These types are the file's shape; `state.rs` turns them into the live, indexed world.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A world: the tenant and the org.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorldFile {
    pub(crate) entra: EntraWorld,
    pub(crate) salesforce: SalesforceWorld,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntraWorld {
    pub(crate) tenant_id: String,
    /// App registrations that may call Graph.
    #[serde(default)]
    pub(crate) clients: Vec<EntraClient>,
    /// Enterprise applications (service principals) users are assigned to.
    #[serde(default)]
    pub(crate) applications: Vec<Application>,
    /// Users: any Graph attributes; `id` and `userPrincipalName` are required.
    #[serde(default)]
    pub(crate) users: Vec<super::state::EntraUser>,
    #[serde(default)]
    pub(crate) groups: Vec<Group>,
    #[serde(default)]
    pub(crate) assignments: Vec<Assignment>,
    /// The GitHub Actions OIDC endpoint the emulator plays (`/_github/idtoken`).
    #[serde(default)]
    pub(crate) github_actions: Option<GithubActions>,
}

/// What the emulated GitHub Actions token endpoint accepts and issues.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GithubActions {
    /// The `ACTIONS_ID_TOKEN_REQUEST_TOKEN` value it accepts.
    pub(crate) request_token: String,
    /// The `sub` claim of the tokens it issues.
    pub(crate) subject: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntraClient {
    pub(crate) client_id: String,
    /// The client secret, when the client authenticates with one.
    #[serde(default)]
    pub(crate) secret: Option<String>,
    /// PEM public key of the certificate whose private key signs client assertions.
    #[serde(default)]
    pub(crate) public_key: Option<String>,
    /// The PEM certificate registered on the application (its key credential): a client
    /// assertion must name it by thumbprint, `x5t` (SHA-1) or `x5t#S256` (SHA-256), in its
    /// header, as Entra finds the key by it.
    #[serde(default)]
    pub(crate) certificate: Option<String>,
    /// Subjects of federated credentials (e.g. `repo:contoso/iam:ref:refs/heads/main`): GitHub
    /// Actions OIDC tokens with these subjects are exchanged for Graph tokens.
    #[serde(default)]
    pub(crate) federated_subjects: Vec<String>,
    /// The Microsoft Graph application permissions granted (with admin consent) to the app
    /// registration, which its tokens carry in `roles`; absent: `DEFAULT_GRAPH_ROLES`.
    #[serde(default)]
    pub(crate) roles: Option<Vec<String>>,
}

/// What an app registration of a world is granted unless the world says otherwise: what roster
/// reads with.
pub(crate) const DEFAULT_GRAPH_ROLES: &[&str] = &[
    "Application.Read.All",
    "GroupMember.Read.All",
    "User.Read.All",
    "Synchronization.Read.All",
];

impl EntraClient {
    /// The application permissions its tokens carry.
    pub(crate) fn granted_roles(&self) -> Vec<String> {
        self.roles.clone().unwrap_or_else(|| {
            DEFAULT_GRAPH_ROLES
                .iter()
                .map(|r| (*r).to_owned())
                .collect()
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Application {
    pub(crate) display_name: String,
    pub(crate) app_id: String,
    pub(crate) service_principal_id: String,
    #[serde(default)]
    pub(crate) app_roles: Vec<AppRole>,
    /// The enterprise application's provisioning job (Entra's own, as the portal configured it).
    #[serde(default)]
    pub(crate) provisioning: Option<ProvisioningJob>,
}

/// A provisioning job as Microsoft Graph's synchronization API serves it
/// (`servicePrincipals/{id}/synchronization/jobs`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProvisioningJob {
    /// `<templateId>.<32 hex>`, e.g. `SfSandboxOutDelta.e4bbd3...`.
    pub(crate) id: String,
    pub(crate) template_id: String,
    /// The `synchronizationSchema`, with Graph's own (camelCase) keys.
    pub(crate) schema: serde_json::Value,
    /// The job's secrets by key (`SkipOutOfScopeDeletions`, `SyncAll`, `UserName`, ...); GET
    /// masks the credentials.
    #[serde(default)]
    pub(crate) secrets: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppRole {
    pub(crate) id: String,
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) value: Option<String>,
    /// Enabled unless the world says otherwise.
    #[serde(default = "enabled")]
    pub(crate) is_enabled: bool,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

fn enabled() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) display_name: String,
    /// Members: user principal names or ids, or other groups' display names or ids.
    #[serde(default)]
    pub(crate) members: Vec<String>,
}

/// A user or group assigned to an application, with an app role (none: Default Access).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assignment {
    /// The application's display name or service principal id.
    pub(crate) application: String,
    /// A user principal name or id.
    #[serde(default)]
    pub(crate) user: Option<String>,
    /// A group display name or id.
    #[serde(default)]
    pub(crate) group: Option<String>,
    /// An app role's value or display name; absent means Default Access.
    #[serde(default)]
    pub(crate) role: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SalesforceWorld {
    /// The org's 18-character id (made up when absent).
    #[serde(default)]
    pub(crate) org_id: Option<String>,
    /// The sandbox name (`dev1`); absent for a production org.
    #[serde(default)]
    pub(crate) sandbox: Option<String>,
    /// Setup's "Make Federation ID case-insensitive" (Single Sign-On Settings), on unless told:
    /// off, two users may hold Federation IDs that differ only in case (`ssmith`, `SSmith`),
    /// as orgs could before Summer '20 (release notes, "Seamlessly Integrate Federation IDs
    /// with Identity Providers"; Salesforce Help: on by default once SAML is enabled).
    #[serde(default = "default_true")]
    pub(crate) federation_id_case_insensitive: bool,
    /// Daily API requests allowed (`REQUEST_LIMIT_EXCEEDED` after).
    #[serde(default = "default_daily_limit")]
    pub(crate) daily_api_limit: u64,
    /// How many polls (`GET /jobs/ingest/{id}`) a Bulk API 2.0 job takes to finish after its
    /// upload completes: the last one sees `JobComplete`, the first `UploadComplete` (from 3),
    /// the rest `InProgress`. 1 finishes at the first poll.
    #[serde(default = "default_bulk_job_polls")]
    pub(crate) bulk_job_polls: u32,
    /// Connected apps.
    #[serde(default)]
    pub(crate) clients: Vec<SalesforceClient>,
    /// Users that can log in to the API (integration users), with credentials.
    #[serde(default)]
    pub(crate) api_users: Vec<ApiUser>,
    #[serde(default)]
    pub(crate) licenses: Vec<License>,
    #[serde(default)]
    pub(crate) profiles: Vec<Profile>,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    /// Permission sets: a name, or `{name, license, requires_license}` (`license`: the
    /// permission set licence or user licence it is linked to; `requires_license`: a permission
    /// set licence its permissions need although it is not linked to it).
    #[serde(default)]
    pub(crate) permission_sets: Vec<PermissionSetSpec>,
    /// Permission set groups, with their `Status` (`Updated` unless told).
    #[serde(default)]
    pub(crate) permission_set_groups: Vec<PermissionSetGroupSpec>,
    /// Permission set licences (`DeveloperName`, `TotalLicenses`).
    #[serde(default)]
    pub(crate) permission_set_licenses: Vec<License>,
    /// Managed packages' licences (`NamespacePrefix`, `AllowedLicenses`; -1 is a site licence).
    #[serde(default)]
    pub(crate) package_licenses: Vec<PackageLicenseSpec>,
    /// Public groups (DeveloperNames; the `Name` is the same with spaces).
    #[serde(default)]
    pub(crate) public_groups: Vec<String>,
    /// Queues (DeveloperNames).
    #[serde(default)]
    pub(crate) queues: Vec<String>,
    /// Seats of feature licences, by the User checkbox's short name (`KnowledgeUser: 5`); a
    /// feature licence not listed has no limit.
    #[serde(default)]
    pub(crate) feature_licenses: std::collections::BTreeMap<String, u32>,
    /// Existing users: User fields, plus `Profile` (a name), `UserRole` (a name), and the names
    /// they hold of each kind: `PermissionSets`, `PermissionSetGroups`,
    /// `PermissionSetLicenses`, `PackageLicenses`, `PublicGroups`, `Queues`.
    #[serde(default)]
    pub(crate) users: Vec<Map<String, Value>>,
    /// Usernames taken in other orgs (Salesforce usernames are globally unique).
    #[serde(default)]
    pub(crate) taken_usernames: Vec<String>,
    /// Custom Text fields on User (Setup > Object Manager > User > Fields & Relationships):
    /// only these `__c` fields exist, for describe, SOQL and writes alike.
    #[serde(default)]
    pub(crate) custom_user_fields: Vec<CustomField>,
    /// The active values of the User's restricted picklists (`TimeZoneSidKey`,
    /// `LocaleSidKey`, `LanguageLocaleKey`, `EmailEncodingKey`), replacing the emulator's
    /// defaults for the fields listed: an org whose admin changed them.
    #[serde(default)]
    pub(crate) picklists: std::collections::BTreeMap<String, Vec<String>>,
}

/// A custom Text field: its API name (`Entra_Object_Id__c`), length (1–255, Salesforce's Text
/// limit), and the Unique and External ID attributes (Salesforce Help, "Custom Field
/// Attributes"). Unique values compare without case, Salesforce's default for Text.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomField {
    pub(crate) name: String,
    #[serde(default = "default_text_length")]
    pub(crate) length: usize,
    #[serde(default)]
    pub(crate) unique: bool,
    /// A unique field that treats `ABC` and `abc` as different values (Setup's "Treat "ABC"
    /// and "abc" as different values (case sensitive)"): describe says `caseSensitive`, and
    /// only the same text in the same case is a duplicate. Only for a unique field.
    #[serde(default)]
    pub(crate) case_sensitive: bool,
    #[serde(default)]
    pub(crate) external_id: bool,
    /// A restricted picklist's values; the field is then a picklist rather than Text.
    #[serde(default)]
    pub(crate) values: Option<Vec<String>>,
    /// The field's type (Text unless told): `checkbox`, `date`, `number` or `email`, described
    /// and enforced as Salesforce does (`INVALID_TYPE_ON_FIELD_IN_RECORD`,
    /// `INVALID_EMAIL_ADDRESS`).
    #[serde(default, rename = "type")]
    pub(crate) kind: CustomType,
}

/// A custom field's type, as Setup's "New Custom Field" names it.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CustomType {
    #[default]
    Text,
    Checkbox,
    Date,
    Number,
    Email,
}

impl CustomType {
    /// describe's `type` for it.
    pub(crate) fn describe_type(self) -> &'static str {
        match self {
            CustomType::Text => "string",
            CustomType::Checkbox => "boolean",
            CustomType::Date => "date",
            CustomType::Number => "double",
            CustomType::Email => "email",
        }
    }
}

impl CustomField {
    /// The label Salesforce gives the field and quotes in its errors: the API name without
    /// `__c`, underscores as spaces (`Hire_Date__c` → `Hire Date`).
    pub(crate) fn label(&self) -> String {
        self.name.trim_end_matches("__c").replace('_', " ")
    }
}

fn default_text_length() -> usize {
    255
}

fn default_bulk_job_polls() -> u32 {
    2
}

fn default_daily_limit() -> u64 {
    15_000
}

fn default_true() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SalesforceClient {
    pub(crate) client_id: String,
    #[serde(default)]
    pub(crate) client_secret: Option<String>,
    /// PEM public key of the connected app's certificate, for the JWT bearer flow.
    #[serde(default)]
    pub(crate) public_key: Option<String>,
    /// The user the client-credentials flow runs as.
    #[serde(default)]
    pub(crate) run_as: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiUser {
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default)]
    pub(crate) security_token: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct License {
    pub(crate) name: String,
    pub(crate) total: u32,
}

/// A permission set in the world file.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum PermissionSetSpec {
    Name(String),
    Full {
        name: String,
        /// The permission set licence or user licence it is linked to (`LicenseId`).
        #[serde(default)]
        license: Option<String>,
        /// A permission set licence it needs without being linked to it.
        #[serde(default)]
        requires_license: Option<String>,
    },
}

impl PermissionSetSpec {
    pub(crate) fn name(&self) -> &str {
        match self {
            PermissionSetSpec::Name(name) | PermissionSetSpec::Full { name, .. } => name,
        }
    }
}

/// A permission set group in the world file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PermissionSetGroupSpec {
    pub(crate) name: String,
    /// `Updated`, `Outdated`, `Updating` or `Failed`.
    #[serde(default = "updated")]
    pub(crate) status: String,
}

fn updated() -> String {
    "Updated".to_owned()
}

/// A package licence in the world file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackageLicenseSpec {
    pub(crate) namespace: String,
    /// `AllowedLicenses`: -1 for a site licence (every user, no limit).
    pub(crate) total: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    pub(crate) name: String,
    pub(crate) license: String,
    /// The "Manage Users" permission (`PermissionsManageUsers`): creating and editing users
    /// needs it. Absent: only System Administrator has it.
    #[serde(default)]
    pub(crate) manage_users: Option<bool>,
    /// The administrative system permissions the profile grants, of
    /// `model::ADMINISTRATIVE_PERMISSIONS` (`[ModifyAllData, ViewAllData]`): each is the
    /// Profile's `Permissions<name>` checkbox. Absent: System Administrator has them all, as in
    /// every org, and other profiles none. `manage_users`, when given, decides ManageUsers.
    #[serde(default)]
    pub(crate) permissions: Option<Vec<String>>,
    /// Held by users but never answered by a Profile query: the profile of Salesforce's
    /// internal users, such as the Automated Process user ("autoproc", API 41.0 and later),
    /// which "doesn't show up in places like Profiles" (UnofficialSF, "Understanding the
    /// Automated Process User"; a Profile query for its `ProfileId` finds no row).
    #[serde(default)]
    pub(crate) hidden: bool,
}

impl WorldFile {
    /// Reads a world from YAML text, as roster reads a config (`config::yaml_options`: `N` and
    /// `007` are text).
    pub(crate) fn from_yaml(text: &str) -> Result<WorldFile, String> {
        serde_saphyr::from_str_with_options(text, crate::config::yaml_options()).map_err(|e| {
            let at = e.location().map_or_else(String::new, |at| {
                // The key the line gives a value to, named: a world's users are pages of
                // alike keys, and a line number alone sends the reader counting (helper-84).
                let key = usize::try_from(at.line())
                    .ok()
                    .and_then(|n| text.lines().nth(n.checked_sub(1)?))
                    .and_then(|line| key_before(line, usize::try_from(at.column()).ok()?))
                    .map(|key| format!(" ({key})"))
                    .unwrap_or_default();
                format!("line {} column {}{key}: ", at.line(), at.column())
            });
            format!("{at}{}", crate::config::yaml_message(&e, "field"))
        })
    }
}

/// The key whose value starts at `column` (counted in characters from 1) of a YAML `line`:
/// `jobTitle` of `  jobTitle: .inf`, of `  - {a: 1, jobTitle: .inf}` and of `"jobTitle": .inf`;
/// none where no key stands before the value on its line (a list item, a value on the line
/// after its key).
fn key_before(line: &str, column: usize) -> Option<&str> {
    let end = line
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map_or(line.len(), |(at, _)| at);
    let before = line[..end].trim_end().strip_suffix(':')?.trim_end();
    let key = match before.chars().last()? {
        // A quoted key, whatever it holds between its quotes.
        quote @ ('"' | '\'') => {
            let inside = &before[..before.len() - 1];
            &inside[inside.rfind(quote)? + 1..]
        }
        _ => before
            .rsplit(|c: char| c == '{' || c == ',' || c.is_whitespace())
            .next()?,
    };
    (!key.is_empty() && !key.chars().any(crate::render::acts)).then_some(key)
}
