//! The Salesforce User sObject fields roster knows: which are required on create, which the
//! lifecycle owns, and their maximum lengths (Salesforce Field Reference, User).

/// One User field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserField {
    pub(crate) name: &'static str,
    /// Maximum length in characters, where Salesforce documents one.
    pub(crate) max_len: Option<usize>,
}

const fn field(name: &'static str, max_len: Option<usize>) -> UserField {
    UserField { name, max_len }
}

/// Standard User fields that can be written or matched on.
pub(crate) const USER_FIELDS: &[UserField] = &[
    field("Id", Some(18)),
    field("Username", Some(80)),
    field("Email", Some(128)),
    field("FirstName", Some(40)),
    field("MiddleName", Some(40)),
    field("LastName", Some(80)),
    field("Suffix", Some(40)),
    field("Alias", Some(8)),
    field("CommunityNickname", Some(40)),
    field("Title", Some(80)),
    field("Department", Some(80)),
    field("Division", Some(80)),
    field("CompanyName", Some(80)),
    field("EmployeeNumber", None),
    field("FederationIdentifier", None),
    field("Phone", Some(40)),
    field("MobilePhone", Some(40)),
    field("Fax", Some(40)),
    field("Extension", Some(40)),
    field("Street", Some(255)),
    field("City", Some(40)),
    field("State", Some(80)),
    field("StateCode", None),
    field("PostalCode", Some(20)),
    field("Country", Some(80)),
    field("CountryCode", None),
    field("TimeZoneSidKey", Some(40)),
    field("LocaleSidKey", Some(40)),
    field("LanguageLocaleKey", Some(40)),
    field("EmailEncodingKey", Some(40)),
    field("ManagerId", Some(18)),
    field("DelegatedApproverId", Some(18)),
    field("AboutMe", Some(1000)),
    field("SenderEmail", Some(80)),
    field("SenderName", Some(80)),
    field("Signature", Some(1333)),
    field("CallCenterId", Some(18)),
    field("DigestFrequency", Some(40)),
    field("DefaultGroupNotificationFrequency", Some(40)),
    field("ReceivesInfoEmails", None),
    field("ReceivesAdminInfoEmails", None),
    field("UserPermissionsMarketingUser", None),
    field("UserPermissionsOfflineUser", None),
    field("UserPermissionsCallCenterAutoLogin", None),
    field("UserPermissionsSFContentUser", None),
    field("UserPermissionsKnowledgeUser", None),
    field("UserPermissionsInteractionUser", None),
    field("UserPermissionsSupportUser", None),
    field("IsActive", None),
    field("ProfileId", Some(18)),
    field("UserRoleId", Some(18)),
];

/// Fields Salesforce requires on create that mappings must produce (ProfileId comes from
/// `roles`).
pub(crate) const REQUIRED_ON_CREATE: &[&str] = &[
    "Username",
    "LastName",
    "Email",
    "Alias",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "EmailEncodingKey",
    "LanguageLocaleKey",
];

/// Fields the lifecycle and `roles` set; a mapping may not.
pub(crate) const RESERVED: &[&str] = &["IsActive", "ProfileId", "UserRoleId"];

/// The known field with this name (Salesforce field names are case-insensitive).
pub(crate) fn user_field(name: &str) -> Option<&'static UserField> {
    USER_FIELDS
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Custom fields end in `__c`.
pub(crate) fn is_custom_field(name: &str) -> bool {
    name.len() > 3
        && name.ends_with("__c")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
