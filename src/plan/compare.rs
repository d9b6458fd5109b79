//! Comparing a desired value with what Salesforce holds, without inventing drift: Salesforce
//! trims text and stores empty as null, compares Username and Email without case, and a sandbox
//! refresh appends a suffix (`.invalid`) to every email.

use std::borrow::Cow;

use serde_json::Value;

use crate::field_value::FieldValue;

/// Fields Salesforce compares without case.
fn case_insensitive(field: &str) -> bool {
    field.eq_ignore_ascii_case("Username") || field.eq_ignore_ascii_case("Email")
}

/// A stored value as text; null and empty are the same (None).
fn stored(value: Option<&FieldValue>) -> Option<String> {
    let text = match value? {
        FieldValue::Null => return None,
        FieldValue::Text(s) => crate::user_fields::stored_text(s).to_owned(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Other(other) => match &**other {
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        },
    };
    (!text.is_empty()).then_some(text)
}

/// Whether writing `desired` to `field` would change what Salesforce holds.
pub(crate) fn differs(
    field: &str,
    desired: &str,
    current: Option<&FieldValue>,
    sandbox_email_suffix: &str,
) -> bool {
    let desired = crate::user_fields::stored_text(desired);
    let held = current;
    let Some(current) = stored(current) else {
        return !desired.is_empty();
    };
    if current == desired {
        return false;
    }
    match held {
        // A checkbox and a number as SOQL types them (`true`, `5.0`), the plan's as text.
        Some(FieldValue::Bool(_)) => return !current.eq_ignore_ascii_case(desired),
        Some(FieldValue::Other(other)) => {
            if let Value::Number(n) = &**other {
                return desired.parse::<f64>().ok() != n.as_f64();
            }
        }
        _ => {}
    }
    // A record id: Salesforce answers 18 characters, whose first 15 are the id.
    if field.ends_with("Id") && is_id(&current) && is_id(desired) {
        return current[..15] != desired[..15];
    }
    if case_insensitive(field) {
        if current.eq_ignore_ascii_case(desired) {
            return false;
        }
        if field.eq_ignore_ascii_case("Email") && !sandbox_email_suffix.is_empty() {
            let lower = current.to_lowercase();
            let suffix = sandbox_email_suffix.to_lowercase();
            if let Some(stripped) = lower.strip_suffix(&suffix) {
                return !stripped.eq_ignore_ascii_case(desired);
            }
        }
    }
    true
}

/// Whether `text` has the shape of a Salesforce record id: 15 or 18 letters and digits.
fn is_id(text: &str) -> bool {
    matches!(text.len(), 15 | 18) && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The value as it would be matched against a lookup key of `field`: trimmed, in lower case,
/// and an Email without the sandbox suffix — borrowed from `value` when matching changes
/// nothing in it (most keys), a copy otherwise. Every field compares without case: Entra
/// matches by querying the target for the value, and SOQL's `=` "Comparisons on strings are
/// case-sensitive for unique case-sensitive fields. For all other fields, comparisons are
/// case-insensitive" (SOQL and SOSL Reference, "Comparison Operators"; Username and Email are
/// unique or compared without case, and no standard User field is case-sensitive).
/// `case_sensitive` is a unique custom field describe marks `caseSensitive`: compared as
/// written.
pub(crate) fn match_key<'v>(
    field: &str,
    value: &'v str,
    sandbox_email_suffix: &str,
    case_sensitive: bool,
) -> Cow<'v, str> {
    let value = trimmed(value);
    if case_sensitive {
        return Cow::Borrowed(value);
    }
    let lower = lowercase(value);
    if field.eq_ignore_ascii_case("Email") && !sandbox_email_suffix.is_empty() {
        let suffix = sandbox_email_suffix.to_lowercase();
        match &lower {
            Cow::Borrowed(lower) => {
                if let Some(stripped) = lower.strip_suffix(&suffix) {
                    return Cow::Borrowed(stripped);
                }
            }
            Cow::Owned(lower) => {
                if let Some(stripped) = lower.strip_suffix(&suffix) {
                    return Cow::Owned(stripped.to_owned());
                }
            }
        }
    }
    lower
}

/// `text` without leading and trailing white space (Unicode's, as `str::trim`): itself, found
/// from its first and last bytes alone, when those are ASCII above a space (every ASCII white
/// space is at or below one; a byte above ASCII may start U+00A0 or U+3000), as a match value
/// nearly always is.
pub(crate) fn trimmed(text: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b.is_ascii());
    if plain(text.as_bytes().first()) && plain(text.as_bytes().last()) {
        text
    } else {
        text.trim()
    }
}

/// `text` in lower case (Unicode's, as `str::to_lowercase`): itself when it is ASCII without
/// capitals, as most names, ids and addresses are, and a copy only otherwise.
pub(crate) fn lowercase(text: &str) -> Cow<'_, str> {
    // Every byte looked at, without stopping at the first capital: the compiler then checks
    // many bytes an instruction.
    let changes = text.bytes().fold(false, |changes, b| {
        changes | !b.is_ascii() | b.is_ascii_uppercase()
    });
    if changes {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// `text` in lower case (`lowercase`), kept borrowed where it was and needs no change.
pub(crate) fn into_lowercase(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => lowercase(text),
        Cow::Owned(text) => Cow::Owned(text.to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `trimmed` is `str::trim`, for text its first and last bytes settle and for the rest.
    #[test]
    fn trimmed_is_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{b}a\u{b}",
            "\u{a0}a",
            "a\u{3000}",
            "\u{85}a",
            "Zoë",
            "ëa",
            "a b",
            "\u{2028}a\u{2029}",
            "~a!",
        ] {
            assert_eq!(trimmed(text), text.trim(), "{text:?}");
        }
    }

    /// Trimmed as Salesforce stores text (Java's `trim`): a control character an Entra value
    /// ends with is gone once written, so it is no drift the next run; a no-break space stays,
    /// and is.
    #[test]
    fn trimmed_as_salesforce_trims() {
        let differs = |d: &str, c: Value| differs("Title", d, Some(&c.into()), "");
        assert!(!differs("Eng\u{1f}", json!("Eng")));
        assert!(!differs("\u{0}Eng\t", json!("Eng")));
        assert!(differs("Eng\u{a0}", json!("Eng")));
        assert!(!differs("Eng\u{3000}", json!("Eng\u{3000}")));
    }

    #[test]
    fn no_invented_drift() {
        let differs = |f: &str, d: &str, c: Value| differs(f, d, Some(&c.into()), ".invalid");
        assert!(!differs(
            "Email",
            "ava@contoso.com",
            json!("ava@contoso.com.invalid")
        ));
        assert!(!differs(
            "Email",
            "Ava@Contoso.com",
            json!("ava@contoso.com")
        ));
        assert!(differs(
            "Email",
            "eve@contoso.com",
            json!("ava@contoso.com.invalid")
        ));
        assert!(!differs("Username", "A@B.C.dev1", json!("a@b.c.dev1")));
        assert!(differs("Title", "manager", json!("Manager")));
        assert!(!differs("Title", "Manager ", json!("Manager")));
        assert!(!differs("Title", "", Value::Null));
        assert!(!super::differs("Title", "", None, ".invalid"));
        assert!(differs("Title", "Manager", Value::Null));
        assert!(!differs("IsActive", "True", json!(true)));
        // Text that reads "false" is text: its case counts.
        assert!(differs("Title", "FALSE", json!("false")));
        // A number as SOQL types it, the plan's as text.
        assert!(!differs("Level__c", "5", json!(5.0)));
        assert!(differs("Level__c", "6", json!(5.0)));
        // An id of 15 characters is the 18-character one Salesforce answers; case counts.
        assert!(!differs(
            "ManagerId",
            "0058c0000000001",
            json!("0058c0000000001AAA")
        ));
        assert!(differs(
            "ManagerId",
            "0058c0000000002",
            json!("0058c0000000001AAA")
        ));
        assert!(differs(
            "ManagerId",
            "0058C0000000001",
            json!("0058c0000000001AAA")
        ));
        assert!(differs(
            "Title",
            "0058c0000000001",
            json!("0058c0000000001AAA")
        ));
        assert_eq!(
            match_key("Email", " A@B.com.invalid", ".invalid", false),
            "a@b.com"
        );
        // Every field without case, as SOQL's `=`; a unique case-sensitive one as written.
        assert_eq!(
            match_key("FederationIdentifier", "A@B.com", ".invalid", false),
            "a@b.com"
        );
        assert_eq!(match_key("EmployeeNumber", " E-12x ", "", false), "e-12x");
        assert_eq!(match_key("Badge__c", " E-12x ", "", true), "E-12x");
        assert_eq!(
            match_key("Email", "A@B.com.invalid", ".invalid", true),
            "A@B.com.invalid"
        );
    }

    /// A key that needs no change is the value itself, not a copy; one that does is the copy
    /// `str::to_lowercase` gives, non-ASCII capitals included.
    #[test]
    fn keys_are_copied_only_when_matching_changes_them() {
        let borrowed = |key: &Cow<'_, str>| matches!(key, Cow::Borrowed(_));
        let plain = match_key("Email", "a@b.com.invalid", ".invalid", false);
        assert_eq!(plain, "a@b.com");
        assert!(borrowed(&plain));
        let capital = match_key("Username", " Ä@B.com ", "", false);
        assert_eq!(capital, "ä@b.com");
        assert!(!borrowed(&capital));
        assert!(borrowed(&match_key("Alias", " jsmith ", "", false)));
        assert!(!borrowed(&match_key("Alias", " JSmith ", "", false)));
        assert!(borrowed(&match_key("Badge__c", " JSmith ", "", true)));
        assert!(borrowed(&lowercase("j.smith@example.com")));
        assert_eq!(lowercase("J.Smith@Example.COM"), "j.smith@example.com");
        assert_eq!(lowercase("ÉMILE"), "émile");
    }
}
