//! The Salesforce edge: the REST and OAuth client, SOQL text, and the reader that takes the
//! target snapshot.

pub(crate) mod access;
pub(crate) mod bulk;
mod client;
mod read;
pub(crate) mod soql;
pub(crate) mod write;

pub(crate) use client::{Salesforce, SalesforceError};
pub(crate) use read::{read, user_fields};

/// The case-sensitive 15-character form of a record id, whichever form the API gave (the
/// 18-character form adds a case checksum); anything shorter as it is.
pub(crate) fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// Whether `a` and `b` name the same record. Salesforce ids (15 or 18 letters and digits)
/// compare by their 15-character form, which is case-sensitive; an 18-character id is
/// case-insensitive, its last three characters saying which of the first fifteen are capitals
/// (`canonical_id`), so `0058C0000000003AAA` is `0058c0000000003`, and an 18-character id whose
/// suffix does not fit its first fifteen names no record but itself. Anything else (an Entra
/// object id) compares whole, without case.
pub(crate) fn same_id(a: &str, b: &str) -> bool {
    match (canonical_id(a), canonical_id(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// The characters of an 18-character id's suffix: each a 5-bit mask of the capitals among five
/// characters of the 15-character form ("Record IDs", Salesforce Help; `CASESAFEID`).
const CASE_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 15-character form of a Salesforce id: a 15-character id as it is; an 18-character one
/// with each letter's case restored from its suffix (each suffix character, from
/// `A`–`Z0`–`5`, is a 5-bit mask of the capitals among five characters: "Record IDs", Salesforce
/// Help, and the `CASESAFEID` formula function). `None` for anything else, and for an
/// 18-character id whose suffix marks a digit as a capital or is outside that alphabet.
pub(crate) fn canonical_id(id: &str) -> Option<[u8; 15]> {
    if !id.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let (head, suffix) = match id.len() {
        15 => return id.as_bytes().try_into().ok(),
        18 => id.as_bytes().split_at(15),
        _ => return None,
    };
    let mut out = [0u8; 15];
    for ((chunk, into), mark) in head.chunks(5).zip(out.chunks_mut(5)).zip(suffix) {
        let mask = CASE_ALPHABET
            .iter()
            .position(|a| *a == mark.to_ascii_uppercase())?;
        for (bit, (c, into)) in chunk.iter().zip(into).enumerate() {
            let capital = mask & (1 << bit) != 0;
            if capital && !c.is_ascii_alphabetic() {
                return None;
            }
            *into = if capital {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
        }
    }
    Some(out)
}

/// An object's key prefix (the first three characters of its records' ids) and the object
/// as a message names it.
pub(crate) type KeyPrefix = (&'static str, &'static str);

// The key prefixes roster holds ids to, each seen in a recorded Salesforce answer or in
// Salesforce's documentation (reference `salesforce-api.md` and `salesforce-access.md`; the
// rest from recorded REST answers in public client libraries' tests: `0Pa`, `0PG`, `2LA`,
// `051`, `0Yw`; and Salesforce's "standard field record ID prefix" lists: `00E`, `00G`, `011`).
// An object whose prefix could not be confirmed (PackageLicense) is held to an id's shape only.
pub(crate) const USER_IDS: KeyPrefix = ("005", "a User");
pub(crate) const PROFILE_IDS: KeyPrefix = ("00e", "a Profile");
pub(crate) const ORGANIZATION_IDS: KeyPrefix = ("00D", "an Organization");
pub(crate) const USER_LICENSE_IDS: KeyPrefix = (USER_LICENSE_PREFIX, "a UserLicense");
pub(crate) const USER_ROLE_IDS: KeyPrefix = ("00E", "a UserRole");
pub(crate) const USER_LOGIN_IDS: KeyPrefix = ("0Yw", "a UserLogin");
pub(crate) const GROUP_IDS: KeyPrefix = ("00G", "a Group");
pub(crate) const PERMISSION_SET_LICENSE_IDS: KeyPrefix = ("0PL", "a PermissionSetLicense");
/// What a PermissionSet's `LicenseId` names: the user licence or the permission set licence
/// it is linked to (Object Reference, PermissionSet: "LicenseId ... the ID of either the
/// related PermissionSetLicense or UserLicense").
pub(crate) const LICENSE_IDS: &[KeyPrefix] = &[USER_LICENSE_IDS, PERMISSION_SET_LICENSE_IDS];

/// `id`, a record's `field` as an answer gave it, as the canonical 18-character id of the record
/// it names: checked to be a Salesforce record id — 15 letters and digits, or 18 whose last
/// three fit the first fifteen (`canonical_id`) — and, when `of` names objects, an id of one of
/// them. Every id roster reads is kept in this one form, so that ids join by their text
/// whichever form or case the answer used (Salesforce answers the 18-character form; the
/// 15-character one is case-sensitive, the 18-character one not: "Record IDs", Salesforce
/// Help). An answer whose ids are not ids is refused at the read: planned, such an id would
/// reach the plan, and an apply would stop half done at Salesforce's `MALFORMED_ID`, or delete
/// a record of another object.
///
/// # Errors
/// The field and its value (cut and escaped: `render::quoted`), and what it is not.
pub(crate) fn record_id(
    field: &str,
    id: impl AsRef<str> + Into<String>,
    of: &[KeyPrefix],
) -> Result<String, String> {
    let text = id.as_ref();
    let Some(canonical) = canonical_id(text) else {
        return Err(format!(
            "{field} {} is not a Salesforce record id (15 letters and digits, or 18 whose last \
             three fit the first fifteen)",
            crate::render::quoted(text)
        ));
    };
    if !of.is_empty()
        && !of
            .iter()
            .any(|(prefix, _)| canonical.starts_with(prefix.as_bytes()))
    {
        let objects: Vec<&str> = of.iter().map(|(_, object)| *object).collect();
        let prefixes: Vec<&str> = of.iter().map(|(prefix, _)| *prefix).collect();
        // Its own first three may be the prefix, and its suffix give another case: say so.
        let recased = if of.iter().any(|(prefix, _)| text.starts_with(prefix)) {
            format!(
                "; its last three make it {}",
                String::from_utf8_lossy(&canonical)
            )
        } else {
            String::new()
        };
        return Err(format!(
            "{field} {} is not the id of {} (those start {}{recased})",
            crate::render::quoted(text),
            objects.join(" or "),
            prefixes.join(" or ")
        ));
    }
    let suffix = case_suffix(&canonical);
    if text.as_bytes().get(..15) == Some(&canonical[..])
        && text.as_bytes().get(15..) == Some(&suffix[..])
    {
        // Already the canonical form, as Salesforce answers: kept, not copied.
        return Ok(id.into());
    }
    let mut out = String::with_capacity(18);
    out.extend(canonical.iter().chain(&suffix).map(|c| char::from(*c)));
    Ok(out)
}

/// The three characters an 18-character id adds to its 15-character form: each, from
/// `A`–`Z0`–`5`, a 5-bit mask of the capitals among five characters (`canonical_id` reads it).
pub(crate) fn case_suffix(id15: &[u8; 15]) -> [u8; 3] {
    let mut suffix = [0u8; 3];
    for (chunk, mark) in id15.chunks(5).zip(&mut suffix) {
        let mask = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |mask, (bit, _)| mask | (1 << bit));
        *mark = CASE_ALPHABET[mask];
    }
    suffix
}

/// The key prefix of UserLicense ids: a permission set whose `LicenseId` starts with it is for
/// that user licence only (Object Reference, PermissionSet `LicenseId`; key prefixes in
/// `../shared/reference/salesforce-access.md`).
pub(crate) const USER_LICENSE_PREFIX: &str = "100";

/// A client of the synthetic org an emulator at `base_url` serves, logging in as its connected
/// app (the config of `roster emulate --synthetic --write-config`, its secret in a file of
/// `dir`).
#[cfg(test)]
pub(crate) fn synthetic_client(base_url: &str, dir: &std::path::Path) -> Salesforce {
    use crate::emulator::synthetic;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("sf.secret"), synthetic::SALESFORCE_SECRET).unwrap();
    let config = synthetic::config().replace("{env: SF_CLIENT_SECRET}", "{file: sf.secret}");
    std::fs::write(dir.join("roster.yaml"), config).unwrap();
    let loaded = crate::config::load(&dir.join("roster.yaml")).unwrap();
    Salesforce::connect(&loaded.config, dir, base_url).unwrap()
}

#[cfg(test)]
mod tests {
    use super::same_id;

    #[test]
    fn an_eighteen_character_id_is_case_insensitive_a_fifteen_character_one_is_not() {
        // Salesforce Help's example: 001A0000006Vm9r is 001A0000006Vm9rIAC.
        for eighteen in [
            "001A0000006Vm9rIAC",
            "001A0000006VM9RIAC",
            "001a0000006vm9riac",
        ] {
            assert!(same_id(eighteen, "001A0000006Vm9r"), "{eighteen}");
            assert!(same_id("001A0000006Vm9rIAC", eighteen), "{eighteen}");
        }
        assert!(!same_id("001a0000006vm9r", "001A0000006Vm9r"));
        assert!(same_id("0058C0000000003AAA", "0058c0000000003"));
    }

    #[test]
    fn a_suffix_that_does_not_fit_names_no_other_record() {
        // `B` marks a digit as a capital: no id has that suffix.
        assert!(!same_id("0058c0000000003AAB", "0058c0000000003"));
        assert!(!same_id("0058c0000000003AAB", "0058c0000000003AAA"));
        // `Q` marks the `c` a capital: another record's id.
        assert!(!same_id("0058c0000000003QAA", "0058c0000000003"));
        assert!(same_id("0058c0000000003QAA", "0058C0000000003"));
        // Outside the alphabet.
        assert!(!same_id("0058c0000000003AA9", "0058c0000000003"));
        // An id compares with itself, whatever it is.
        assert!(same_id("0058c0000000003AAB", "0058C0000000003aab"));
    }

    /// Every id is kept in the canonical 18-character form, whatever form the answer used, and
    /// checked to be its object's; the message says when a suffix gives the prefix another case.
    #[test]
    fn a_record_id_is_kept_canonical_and_held_to_its_object() {
        use super::{USER_IDS, USER_LOGIN_IDS, record_id};
        // Salesforce Help's example, in every form.
        for form in [
            "001A0000006Vm9r",
            "001A0000006Vm9rIAC",
            "001a0000006vm9riac",
        ] {
            assert_eq!(record_id("Id", form, &[]).unwrap(), "001A0000006Vm9rIAC");
        }
        assert_eq!(
            record_id("Id", "0058c0000000003", &[USER_IDS]).unwrap(),
            "0058c0000000003AAA"
        );
        assert_eq!(
            record_id("Id", "001A0000006Vm9rIAC", &[USER_IDS]).unwrap_err(),
            "Id \"001A0000006Vm9rIAC\" is not the id of a User (those start 005)"
        );
        // `AAA` says no letter is a capital: `0yw…`, not a login's `0Yw…`.
        assert_eq!(
            record_id("Id", "0Yw8c0000000004AAA", &[USER_LOGIN_IDS]).unwrap_err(),
            "Id \"0Yw8c0000000004AAA\" is not the id of a UserLogin (those start 0Yw; its last \
             three make it 0yw8c0000000004)"
        );
        assert!(record_id("Id", "0Yw8c0000000004CAA", &[USER_LOGIN_IDS]).is_ok());
        assert!(record_id("Id", "0058c0000000003AAB", &[]).is_err());
    }

    #[test]
    fn entra_object_ids_compare_without_case() {
        assert!(same_id(
            "0000000E-0000-4000-8000-000000000001",
            "0000000e-0000-4000-8000-000000000001"
        ));
        assert!(!same_id("abc", "abd"));
    }
}
