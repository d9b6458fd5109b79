//! The User sObject as the emulator plays it: its fields, their types and lengths, and which a
//! create must carry (Salesforce Object Reference, "User"; `EmployeeNumber` 20 and
//! `FederationIdentifier` 512 characters as a real org's describe gives them). The emulator keeps this table apart
//! from roster's own (`crate::user_fields`) on purpose: a test double that shares the client's
//! assumptions cannot catch them.

/// One standard User field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    /// describe's `type`.
    pub(crate) kind: &'static str,
    /// Maximum length in characters, where the field has one.
    pub(crate) length: Option<usize>,
}

const fn f(name: &'static str, kind: &'static str, length: Option<usize>) -> Field {
    Field { name, kind, length }
}

/// The standard fields a client may read, write or filter on.
pub(crate) const FIELDS: &[Field] = &[
    f("Id", "id", Some(18)),
    f("Username", "string", Some(80)),
    f("Email", "email", Some(128)),
    f("FirstName", "string", Some(40)),
    f("MiddleName", "string", Some(40)),
    f("LastName", "string", Some(80)),
    f("Suffix", "string", Some(40)),
    f("Alias", "string", Some(8)),
    f("CommunityNickname", "string", Some(40)),
    f("Title", "string", Some(80)),
    f("Department", "string", Some(80)),
    f("Division", "string", Some(80)),
    f("CompanyName", "string", Some(80)),
    f("EmployeeNumber", "string", Some(20)),
    f("FederationIdentifier", "string", Some(512)),
    f("Phone", "phone", Some(40)),
    f("MobilePhone", "phone", Some(40)),
    f("Fax", "phone", Some(40)),
    f("Extension", "phone", Some(40)),
    f("Street", "textarea", Some(255)),
    f("City", "string", Some(40)),
    f("State", "string", Some(80)),
    f("StateCode", "picklist", None),
    f("PostalCode", "string", Some(20)),
    f("Country", "string", Some(80)),
    f("CountryCode", "picklist", None),
    f("TimeZoneSidKey", "picklist", Some(40)),
    f("LocaleSidKey", "picklist", Some(40)),
    f("LanguageLocaleKey", "picklist", Some(40)),
    f("EmailEncodingKey", "picklist", Some(40)),
    f("ManagerId", "reference", Some(18)),
    f("DelegatedApproverId", "reference", Some(18)),
    f("AboutMe", "textarea", Some(1000)),
    f("SenderEmail", "email", Some(80)),
    f("SenderName", "string", Some(80)),
    f("Signature", "textarea", Some(1333)),
    f("CallCenterId", "reference", Some(18)),
    f("DigestFrequency", "picklist", Some(40)),
    f("DefaultGroupNotificationFrequency", "picklist", Some(40)),
    f("ReceivesInfoEmails", "boolean", None),
    f("ReceivesAdminInfoEmails", "boolean", None),
    f("UserPermissionsMarketingUser", "boolean", None),
    f("UserPermissionsOfflineUser", "boolean", None),
    f("UserPermissionsCallCenterAutoLogin", "boolean", None),
    f("UserPermissionsSFContentUser", "boolean", None),
    f("UserPermissionsKnowledgeUser", "boolean", None),
    f("UserPermissionsInteractionUser", "boolean", None),
    f("UserPermissionsSupportUser", "boolean", None),
    f("UserPermissionsLiveAgentUser", "boolean", None),
    f("IsActive", "boolean", None),
    f("ProfileId", "reference", Some(18)),
    f("UserRoleId", "reference", Some(18)),
];

/// The restricted picklists: API name, the label Salesforce's errors quote, the default values.
pub(crate) const RESTRICTED: &[(&str, &str, &[&str])] = &[
    ("TimeZoneSidKey", "Time Zone", super::picklists::TIME_ZONES),
    ("LocaleSidKey", "Locale", super::picklists::LOCALES),
    ("LanguageLocaleKey", "Language", super::picklists::LANGUAGES),
    (
        "EmailEncodingKey",
        "Email Encoding",
        crate::user_fields::EMAIL_ENCODINGS,
    ),
];

/// What a create without them fails with `REQUIRED_FIELD_MISSING`.
pub(crate) const REQUIRED: &[&str] = &[
    "Username",
    "LastName",
    "Email",
    "Alias",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "EmailEncodingKey",
    "LanguageLocaleKey",
    "ProfileId",
];

/// The standard field with this name (field names are case-insensitive).
pub(crate) fn field(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// A custom field's name: `[namespace__]Name__c`, letters, digits and single underscores.
pub(crate) fn is_custom(name: &str) -> bool {
    let Some(stem) = name.strip_suffix("__c") else {
        return false;
    };
    let part = |p: &str| {
        p.starts_with(|c: char| c.is_ascii_alphabetic())
            && !p.ends_with('_')
            && !p.contains("__")
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match stem.split_once("__") {
        Some((namespace, rest)) => part(namespace) && part(rest),
        None => part(stem),
    }
}
