//! The User sObject as the emulator plays it: its fields, their types and lengths, and which a
//! create must carry (Salesforce Object Reference, "User"; the labels as a real org's describe
//! gives them, e.g. `SAML Federation ID`, `Zip/Postal Code`; `EmployeeNumber` 20 and
//! `FederationIdentifier` 512 characters as a real org's describe gives them). The emulator keeps this table apart
//! from roster's own (`crate::user_fields`) on purpose: a test double that shares the client's
//! assumptions cannot catch them.

/// One standard User field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    /// describe's `label`, which Salesforce's field errors quote (`First Name: data value too
    /// large: ...`).
    pub(crate) label: &'static str,
    /// describe's `type`.
    pub(crate) kind: &'static str,
    /// Maximum length in characters, where the field has one.
    pub(crate) length: Option<usize>,
}

const fn f(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    length: Option<usize>,
) -> Field {
    Field {
        name,
        label,
        kind,
        length,
    }
}

/// The standard fields a client may read, write or filter on.
pub(crate) const FIELDS: &[Field] = &[
    f("Id", "User ID", "id", Some(18)),
    f("Username", "Username", "string", Some(80)),
    f("Email", "Email", "email", Some(128)),
    f("FirstName", "First Name", "string", Some(40)),
    f("MiddleName", "Middle Name", "string", Some(40)),
    f("LastName", "Last Name", "string", Some(80)),
    f("Suffix", "Suffix", "string", Some(40)),
    f("Alias", "Alias", "string", Some(8)),
    f("CommunityNickname", "Nickname", "string", Some(40)),
    f("Title", "Title", "string", Some(80)),
    f("Department", "Department", "string", Some(80)),
    f("Division", "Division", "string", Some(80)),
    f("CompanyName", "Company Name", "string", Some(80)),
    f("EmployeeNumber", "Employee Number", "string", Some(20)),
    f(
        "FederationIdentifier",
        "SAML Federation ID",
        "string",
        Some(512),
    ),
    f("Phone", "Phone", "phone", Some(40)),
    f("MobilePhone", "Mobile", "phone", Some(40)),
    f("Fax", "Fax", "phone", Some(40)),
    f("Extension", "Extension", "phone", Some(40)),
    f("Street", "Street", "textarea", Some(255)),
    f("City", "City", "string", Some(40)),
    f("State", "State/Province", "string", Some(80)),
    f("StateCode", "State/Province Code", "picklist", None),
    f("PostalCode", "Zip/Postal Code", "string", Some(20)),
    f("Country", "Country", "string", Some(80)),
    f("CountryCode", "Country Code", "picklist", None),
    f("TimeZoneSidKey", "Time Zone", "picklist", Some(40)),
    f("LocaleSidKey", "Locale", "picklist", Some(40)),
    f("LanguageLocaleKey", "Language", "picklist", Some(40)),
    f("EmailEncodingKey", "Email Encoding", "picklist", Some(40)),
    f("ManagerId", "Manager ID", "reference", Some(18)),
    f(
        "DelegatedApproverId",
        "Delegated Approver ID",
        "reference",
        Some(18),
    ),
    f("AboutMe", "About Me", "textarea", Some(1000)),
    f("SenderEmail", "Email Sender Address", "email", Some(80)),
    f("SenderName", "Email Sender Name", "string", Some(80)),
    f("Signature", "Email Signature", "textarea", Some(1333)),
    f("CallCenterId", "Call Center ID", "reference", Some(18)),
    f(
        "DigestFrequency",
        "Chatter Email Highlights Frequency",
        "picklist",
        Some(40),
    ),
    f(
        "DefaultGroupNotificationFrequency",
        "Default Notification Frequency when Joining Groups",
        "picklist",
        Some(40),
    ),
    f("ReceivesInfoEmails", "Info Emails", "boolean", None),
    f(
        "ReceivesAdminInfoEmails",
        "Admin Info Emails",
        "boolean",
        None,
    ),
    f(
        "UserPermissionsMarketingUser",
        "Marketing User",
        "boolean",
        None,
    ),
    f(
        "UserPermissionsOfflineUser",
        "Offline User",
        "boolean",
        None,
    ),
    f(
        "UserPermissionsCallCenterAutoLogin",
        "Auto-login To Call Center",
        "boolean",
        None,
    ),
    f(
        "UserPermissionsSFContentUser",
        "Salesforce CRM Content User",
        "boolean",
        None,
    ),
    f(
        "UserPermissionsKnowledgeUser",
        "Knowledge User",
        "boolean",
        None,
    ),
    f(
        "UserPermissionsInteractionUser",
        "Flow User",
        "boolean",
        None,
    ),
    f(
        "UserPermissionsSupportUser",
        "Service Cloud User",
        "boolean",
        None,
    ),
    f("UserPermissionsLiveAgentUser", "Chat User", "boolean", None),
    f("IsActive", "Active", "boolean", None),
    f("ProfileId", "Profile ID", "reference", Some(18)),
    f("UserRoleId", "Role ID", "reference", Some(18)),
];

/// The restricted picklists: API name and the default values (its label is the field's).
pub(crate) const RESTRICTED: &[(&str, &[&str])] = &[
    ("TimeZoneSidKey", super::picklists::TIME_ZONES),
    ("LocaleSidKey", super::picklists::LOCALES),
    ("LanguageLocaleKey", super::picklists::LANGUAGES),
    ("EmailEncodingKey", crate::user_fields::EMAIL_ENCODINGS),
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
