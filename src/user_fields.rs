//! The Salesforce User sObject fields roster knows: which are required on create, which the
//! lifecycle owns, and their maximum lengths (Salesforce Field Reference, User; the lengths of
//! `EmployeeNumber`, 20, and `FederationIdentifier`, 512, which the reference does not give,
//! are those of a real org's User describe, published in igoode/BPlusDev's
//! `.history/describe/User.md`).

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
    field("EmployeeNumber", Some(20)),
    field("FederationIdentifier", Some(512)),
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
    field("UserPermissionsLiveAgentUser", None),
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

/// Fields a mapping may not set: Salesforce assigns `Id` (and a write names its record by it),
/// the lifecycle sets `IsActive`, `roles` sets the profile and role.
pub(crate) const RESERVED: &[&str] = &["Id", "IsActive", "IsFrozen", "ProfileId", "UserRoleId"];

/// User fields Salesforce sets itself: readable, never writable (a write fails with
/// `INVALID_FIELD_FOR_INSERT_UPDATE`; Salesforce Object Reference, "System Fields", and the
/// User object's read-only fields).
pub(crate) const READ_ONLY: &[&str] = &[
    "CreatedById",
    "CreatedDate",
    "LastModifiedById",
    "LastModifiedDate",
    "SystemModstamp",
    "LastLoginDate",
    "LastPasswordChangeDate",
    "LastReferencedDate",
    "LastViewedDate",
    "Name",
    "UserType",
    "FullPhotoUrl",
    "SmallPhotoUrl",
    "MediumPhotoUrl",
    "BannerPhotoUrl",
];

/// The `EmailEncodingKey` values the Metadata API's `Encoding` enum lists: what `validate`
/// checks constants against and what the emulator's org offers.
pub(crate) const EMAIL_ENCODINGS: &[&str] = &[
    "UTF-8",
    "ISO-8859-1",
    "Shift_JIS",
    "ISO-2022-JP",
    "EUC-JP",
    "ks_c_5601-1987",
    "Big5",
    "GB2312",
    "Big5-HKSCS",
    "x-SJIS_0213",
];

/// Why `value` cannot be a value of the standard restricted picklist `field`, judged offline by
/// shape (each org keeps its own lists, which `plan` reads from describe): a time zone is an
/// IANA id such as `America/Los_Angeles` (or `GMT`), a locale `language_COUNTRY` such as
/// `en_US`, a language `de` or `en_US`, an email encoding one of the Metadata API's
/// `Encoding` values. `None` for other fields and for values of the right shape.
pub(crate) fn picklist_shape_problem(field: &str, value: &str) -> Option<String> {
    let is = |name: &str| field.eq_ignore_ascii_case(name);
    let word = |part: &str, lower: bool| {
        !part.is_empty()
            && part.chars().all(|c| {
                c.is_ascii_alphanumeric() && (!lower || c.is_ascii_lowercase()) || c == '_'
            })
    };
    let fine = if is("TimeZoneSidKey") {
        value == "GMT"
            || value.split_once('/').is_some_and(|(area, place)| {
                word(area, false)
                    && place.split('/').all(|p| {
                        !p.is_empty()
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
                    })
            })
    } else if is("LocaleSidKey") || is("LanguageLocaleKey") {
        let mut parts = value.split('_');
        parts
            .next()
            .is_some_and(|lang| (2..=3).contains(&lang.len()) && word(lang, true))
            && parts.all(|p| word(p, false) && p.chars().all(|c| !c.is_ascii_lowercase()))
    } else if is("EmailEncodingKey") {
        EMAIL_ENCODINGS.contains(&value)
    } else {
        return None;
    };
    (!fine).then(|| format!("{value:?} is not a {field} value"))
}

/// What a restricted picklist's values look like, for a help line.
pub(crate) fn picklist_help(field: &str) -> String {
    let is = |name: &str| field.eq_ignore_ascii_case(name);
    if is("TimeZoneSidKey") {
        "Salesforce time zones are IANA ids such as `America/Los_Angeles` or `Europe/Berlin`, not \
         Windows names such as `Pacific Standard Time`"
            .to_owned()
    } else if is("EmailEncodingKey") {
        format!("one of {}", EMAIL_ENCODINGS.join(", "))
    } else {
        "a Salesforce locale or language code such as `en_US`, `de_DE` or `de`".to_owned()
    }
}

/// The known field with this name (Salesforce field names are case-insensitive).
pub(crate) fn user_field(name: &str) -> Option<&'static UserField> {
    USER_FIELDS
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Custom fields end in `__c` (and are valid API names, see `api_name_problem`).
pub(crate) fn is_custom_field(name: &str) -> bool {
    name.ends_with("__c") && api_name_problem(name).is_none()
}

/// The longest custom field name, without the `__c` suffix (Salesforce Help, "Custom Field
/// Attributes": Field Name, up to 40 characters).
const MAX_CUSTOM_NAME: usize = 40;
/// The longest namespace prefix of a managed package's field (up to 15 characters).
const MAX_NAMESPACE: usize = 15;

/// Why `name` cannot be a field's API name, or `None` when it can. The rules (Salesforce Help,
/// "Custom Field Attributes" and the Object Reference's naming conventions): a standard field's
/// name is letters and digits, starting with a letter; a custom field's is
/// `[namespace__]Name__c`, where the namespace and the name each start with a letter, contain
/// only letters, digits and single underscores, and do not end with an underscore. Every name
/// that reaches SOQL passes here first, so config text can never change a query's meaning.
pub(crate) fn api_name_problem(name: &str) -> Option<String> {
    fn part_problem(part: &str, what: &str, max: usize) -> Option<String> {
        let mut chars = part.chars();
        match chars.next() {
            None => return Some(format!("its {what} is empty")),
            Some(c) if !c.is_ascii_alphabetic() => {
                return Some(format!("its {what} must begin with a letter, not {c:?}"));
            }
            Some(_) => {}
        }
        if let Some(c) = part
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '_')
        {
            return Some(format!(
                "{c:?} is not allowed: only letters, digits and underscores"
            ));
        }
        if part.contains("__") {
            return Some(format!("its {what} contains two underscores in a row"));
        }
        if part.ends_with('_') {
            return Some(format!("its {what} ends with an underscore"));
        }
        if part.chars().count() > max {
            return Some(format!("its {what} is longer than {max} characters"));
        }
        None
    }
    match name.strip_suffix("__c") {
        Some(custom) => match custom.split_once("__") {
            Some((namespace, rest)) => part_problem(namespace, "namespace", MAX_NAMESPACE)
                .or_else(|| part_problem(rest, "name", MAX_CUSTOM_NAME)),
            None => part_problem(custom, "name", MAX_CUSTOM_NAME),
        },
        None if name.contains('_') => {
            Some("only custom fields (ending in `__c`) have underscores in their names".to_owned())
        }
        None => part_problem(name, "name", MAX_CUSTOM_NAME),
    }
}

/// Text as Salesforce stores it: without the leading and trailing characters Java's `trim`
/// takes (every one up to U+0020: spaces, tabs, line breaks, control characters; a no-break
/// space or an ideographic space stays). "sObject String field values ... can never include
/// leading and trailing whitespace" (Apex Developer Guide, "Primitive Data Types"). The plan's
/// drift and length checks, its unique values and the emulator all trim with this.
pub(crate) fn stored_text(text: &str) -> &str {
    // Most text has nothing to trim: its first and last bytes say so (a byte above a space
    // starts or ends a character above one), without the character-by-character search.
    let ends = |b: Option<&u8>| b.is_none_or(|&b| b > b' ');
    if ends(text.as_bytes().first()) && ends(text.as_bytes().last()) {
        return text;
    }
    text.trim_matches(|c: char| c <= ' ')
}

/// A JSON text value as Salesforce stores it (`stored_text`), empty text as null (String
/// field values "can never be empty (only null)", the same page); any other value as it is.
/// The emulator stores what a write sends and what a world file seeds with it.
pub(crate) fn store_text(value: &mut serde_json::Value) {
    if let serde_json::Value::String(text) = &*value {
        let stored = stored_text(text);
        if stored.is_empty() {
            *value = serde_json::Value::Null;
        } else if stored.len() != text.len() {
            *value = serde_json::Value::String(stored.to_owned());
        }
    }
}

/// `local@domain.tld` with no spaces and one `@`: the shape Salesforce's email fields insist on
/// (`INVALID_EMAIL_ADDRESS` otherwise; its exact grammar is not published, this is the part every
/// capture agrees on). The planner checks values with it, and the emulator enforces it.
///
/// Also refused, as by any mail system: characters that do not print (control characters, a
/// zero-width space, a soft hyphen, bidi marks), and a domain whose labels are not letters,
/// digits and inner hyphens (`contoso..com`, `-contoso.com`, `contoso.com/x`).
pub(crate) fn is_email(text: &str) -> bool {
    // ASCII text (nearly every address; a plan checks some 200,000) is checked in one pass over
    // its bytes: the same rules, as an ASCII character is alphanumeric, white space or a
    // control character exactly when its byte is (the invisible characters are none of them
    // ASCII). `email_chars` states the rules; a test holds the two to agreeing.
    if text.is_ascii() {
        email_ascii(text.as_bytes())
    } else {
        email_chars(text)
    }
}

/// `is_email` for ASCII text, in one pass: the local part up to the first `@` (not empty, no
/// byte at or below a space, no DEL), then the domain's labels (letters, digits and inner
/// hyphens, at least two, none empty).
fn email_ascii(text: &[u8]) -> bool {
    let Some(at) = text.iter().position(|&b| b == b'@') else {
        return false;
    };
    if at == 0 || text[..at].iter().any(|&b| b <= b' ' || b == 0x7f) {
        return false;
    }
    // The byte before the one read: a dot before the domain's first label.
    let (mut before, mut dots) = (b'.', 0usize);
    for &b in &text[at + 1..] {
        match b {
            // A label ends: not empty, not ending in a hyphen.
            b'.' if before == b'.' || before == b'-' => return false,
            b'.' => dots += 1,
            // A label starts with a hyphen.
            b'-' if before == b'.' => return false,
            b'-' => {}
            // Another `@`, a space, a control character or punctuation.
            b if !b.is_ascii_alphanumeric() => return false,
            _ => {}
        }
        before = b;
    }
    dots > 0 && before != b'.' && before != b'-'
}

/// `is_email`'s rules, character by character: what any text, ASCII or not, is judged by.
fn email_chars(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let label = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let prints = !text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c));
    !local.is_empty()
        && !domain.contains('@')
        && prints
        && domain.contains('.')
        && domain.split('.').all(label)
}

/// Characters that take no room when shown (Unicode's format characters the web's text shows
/// as nothing): zero-width spaces and joiners, the soft hyphen, bidi marks and isolates, the
/// word joiner and the byte order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `YYYY-MM-DD`, a real calendar day: how Salesforce's REST API reads and writes a date field
/// (REST API Developer Guide, "Valid Date and DateTime Formats").
pub(crate) fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() != 10
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        text[..4].parse::<i64>(),
        text[5..7].parse::<u32>(),
        text[8..].parse::<u32>(),
    ) else {
        return false;
    };
    (1..=12).contains(&month) && (1..=crate::expr::days_in_month(year, month)).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::{email_ascii, email_chars, is_email, picklist_shape_problem};

    /// Every ASCII text of up to six characters from those that decide an address (a letter,
    /// a digit, `-`, `.`, `@`, a space, a tab, DEL, `/`) is judged alike by the one-pass
    /// check and by the rules character by character.
    #[test]
    fn the_one_pass_ascii_check_agrees_with_the_rules() {
        const ALPHABET: &[u8] = b"a7-.@ \t\x7f/";
        let mut text = Vec::new();
        let mut judged = 0;
        for len in 0..=6u32 {
            for n in 0..ALPHABET.len().pow(len) {
                text.clear();
                let mut rest = n;
                for _ in 0..len {
                    text.push(ALPHABET[rest % ALPHABET.len()]);
                    rest /= ALPHABET.len();
                }
                let as_text = std::str::from_utf8(&text).unwrap();
                assert_eq!(email_ascii(&text), email_chars(as_text), "{as_text:?}");
                judged += usize::from(email_ascii(&text));
            }
        }
        // Some of them are addresses (`a@a.a`, `7-a@a.7`): the agreement is not all refusals.
        assert!(judged > 100, "{judged}");
    }

    /// Text with nothing to trim is given back whole; the rest is trimmed as Java's `trim`
    /// does, whatever its first and last characters are.
    #[test]
    fn stored_text_trims_what_java_trims_and_nothing_else() {
        for (text, stored) in [
            ("", ""),
            ("   ", ""),
            ("\u{0}\t\n", ""),
            ("Pat", "Pat"),
            (" Pat", "Pat"),
            ("Pat\r\n", "Pat"),
            ("\u{1f}Pat\u{0}", "Pat"),
            ("Zoë", "Zoë"),
            ("\u{a0}Pat\u{a0}", "\u{a0}Pat\u{a0}"),
            ("\u{3000}Pat ", "\u{3000}Pat"),
            (" 𠮷 ", "𠮷"),
            ("a b", "a b"),
            ("!", "!"),
        ] {
            assert_eq!(super::stored_text(text), stored, "{text:?}");
            assert_eq!(
                super::stored_text(text),
                text.trim_matches(|c: char| c <= ' '),
                "{text:?}"
            );
        }
    }

    /// ASCII addresses take the byte-by-byte path, others the character one: the same rules.
    #[test]
    fn an_email_address_is_judged_alike_in_ascii_and_beyond() {
        for (text, ok) in [
            ("pat@contoso.com", true),
            ("pat.o-neil+sf@mail.contoso-eu.co.uk", true),
            ("pat@münchen.de", true),
            ("pät@contoso.com", true),
            ("pat@contoso", false),
            ("@contoso.com", false),
            ("pat@@contoso.com", false),
            ("pat@contoso..com", false),
            ("pat@-contoso.com", false),
            ("pat@contoso-.com", false),
            ("pat@contoso.com/x", false),
            ("pat @contoso.com", false),
            ("pat@contoso.com\t", false),
            ("pat\u{b}@contoso.com", false),
            ("pat\u{7f}@contoso.com", false),
            ("pat\u{0}@contoso.com", false),
            ("pat\u{a0}@contoso.com", false),
            ("pat\u{200b}@contoso.com", false),
            ("pat\u{85}@contoso.com", false),
            ("pat@contoso\u{ad}.com", false),
            ("pat@contoso.c\u{3000}om", false),
        ] {
            assert_eq!(is_email(text), ok, "{text:?}");
        }
    }

    #[test]
    fn restricted_picklist_constants_must_have_the_shape_of_a_value() {
        for (field, value) in [
            ("TimeZoneSidKey", "America/Los_Angeles"),
            ("TimeZoneSidKey", "America/Argentina/Buenos_Aires"),
            ("TimeZoneSidKey", "GMT"),
            ("timezonesidkey", "Etc/GMT+12"),
            ("LocaleSidKey", "en_US"),
            ("LocaleSidKey", "uz_LATN_UZ"),
            ("LocaleSidKey", "sh_ME_USD"),
            ("LanguageLocaleKey", "de"),
            ("LanguageLocaleKey", "zh_CN"),
            ("EmailEncodingKey", "UTF-8"),
            ("Title", "Pacific Standard Time"),
        ] {
            assert_eq!(
                picklist_shape_problem(field, value),
                None,
                "{field} {value}"
            );
        }
        for (field, value) in [
            ("TimeZoneSidKey", "Pacific Standard Time"),
            ("TimeZoneSidKey", "PST"),
            ("TimeZoneSidKey", "UTC-08:00"),
            ("LocaleSidKey", "en-US"),
            ("LocaleSidKey", "English (United States)"),
            ("LanguageLocaleKey", "German"),
            ("LanguageLocaleKey", "EN_us"),
            ("EmailEncodingKey", "utf8"),
        ] {
            assert!(
                picklist_shape_problem(field, value).is_some(),
                "{field} {value}"
            );
        }
    }

    use super::api_name_problem;

    #[test]
    fn api_names_follow_salesforce_rules() {
        for good in [
            "Username",
            "UserPermissionsMarketingUser",
            "Cost_Center__c",
            "EntraObjectId__c",
            "acme__Badge_Number__c",
            "A1__c",
        ] {
            assert_eq!(api_name_problem(good), None, "{good}");
        }
        for bad in [
            "ftp://x",
            "62.0",
            "",
            "__c",
            "1Field__c",
            "Cost__Center__Code__c",
            "Cost_Center___c",
            "Cost Center__c",
            "Id, Password FROM User WHERE Username != null --",
            "Field_",
            "Has_Underscore",
            "averyveryveryveryveryveryveryverylongname1__c",
        ] {
            assert!(api_name_problem(bad).is_some(), "{bad}");
        }
    }
}
