//! Values checked against the org's own description of the User fields (`sobjects/User/describe`)
//! before apply sends them: a restricted picklist's active values, a field's length, an email's
//! shape. A value the org would refuse is an error item for that user, naming the field, the
//! value and what the org allows — not a failure on every create at apply. Without a describe (a
//! hand-made snapshot) the lengths of roster's own table of standard fields stand in.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

use crate::model::TargetSnapshot;
use crate::suggest::closest;
use crate::user_fields;

/// What the org accepts in each User field, by lower-case API name.
#[derive(Debug, Default)]
pub(super) struct FieldRules {
    by_name: HashMap<String, Rule>,
}

#[derive(Debug)]
struct Rule {
    name: String,
    label: String,
    /// Characters; none where the type has no length.
    max_len: Option<usize>,
    /// A restricted picklist's active values, in the org's order.
    values: Option<Vec<String>>,
    lookup: HashSet<String>,
    email: bool,
}

/// Types whose `length` limits the characters of a value.
const TEXT_TYPES: &[&str] = &[
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "encryptedstring",
    "combobox",
];

impl FieldRules {
    /// The rules of `target`'s describe, or of roster's table when it has none.
    pub(super) fn new(target: &TargetSnapshot) -> FieldRules {
        let mut by_name = HashMap::new();
        if target.user_describe.is_empty() {
            for field in user_fields::USER_FIELDS {
                by_name.insert(
                    field.name.to_ascii_lowercase(),
                    Rule {
                        name: field.name.to_owned(),
                        label: field.name.to_owned(),
                        max_len: field.max_len,
                        values: None,
                        lookup: HashSet::new(),
                        email: field.name == "Email",
                    },
                );
            }
        }
        for field in &target.user_describe {
            let restricted = field.restricted_picklist && !field.picklist_values.is_empty();
            by_name.insert(
                field.name.to_ascii_lowercase(),
                Rule {
                    name: field.name.clone(),
                    label: field.label.clone(),
                    max_len: (TEXT_TYPES.contains(&field.kind.as_str()) && field.length > 0)
                        .then_some(field.length),
                    values: restricted.then(|| field.picklist_values.clone()),
                    lookup: if restricted {
                        field.picklist_values.iter().cloned().collect()
                    } else {
                        HashSet::new()
                    },
                    email: field.kind == "email",
                },
            );
        }
        FieldRules { by_name }
    }

    /// Whether the org accepts `value` in `field`; the reason when it does not.
    pub(super) fn check(&self, field: &str, value: &Json) -> Result<(), String> {
        let Some(rule) = self.by_name.get(&field.to_ascii_lowercase()) else {
            return Ok(());
        };
        let Some(text) = value.as_str() else {
            return Ok(());
        };
        if let Some(values) = &rule.values
            && !rule.lookup.contains(text)
        {
            // `de_DE` for a language the org lists as `de`: the language alone.
            let language = values
                .iter()
                .find(|v| text.split('_').next() == Some(v.as_str()))
                .map(String::as_str);
            let hint = match closest(text, values.iter().map(String::as_str)).or(language) {
                Some(near) => format!("did you mean {near:?}?"),
                None => format!(
                    "it has {} values, e.g. {}",
                    values.len(),
                    values
                        .iter()
                        .take(3)
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(format!(
                "{} {text:?} is not a value of the org's restricted picklist {}; {hint}",
                rule.name, rule.label
            ));
        }
        if let Some(max) = rule.max_len
            && text.len() > max
            && text.chars().count() > max
        {
            return Err(format!(
                "{} {text:?} is {} characters; Salesforce allows {max}",
                rule.name,
                text.chars().count()
            ));
        }
        if rule.email && !text.is_empty() && !is_email(text) {
            return Err(format!(
                "{} {text:?} is not an email address Salesforce accepts",
                rule.name
            ));
        }
        Ok(())
    }
}

/// `local@domain.tld` with no spaces: the shape Salesforce's email fields insist on (its exact
/// grammar is not published; this is the part every capture agrees on).
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !text.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::FieldDescribe;

    fn rules() -> FieldRules {
        let target = TargetSnapshot {
            user_describe: vec![
                FieldDescribe {
                    name: "TimeZoneSidKey".into(),
                    label: "Time Zone".into(),
                    kind: "picklist".into(),
                    length: 40,
                    restricted_picklist: true,
                    picklist_values: vec!["America/Los_Angeles".into(), "Europe/Berlin".into()],
                    ..FieldDescribe::default()
                },
                FieldDescribe {
                    name: "Email".into(),
                    label: "Email".into(),
                    kind: "email".into(),
                    length: 128,
                    ..FieldDescribe::default()
                },
                FieldDescribe {
                    name: "Cost_Center__c".into(),
                    label: "Cost Center".into(),
                    kind: "string".into(),
                    length: 5,
                    ..FieldDescribe::default()
                },
            ],
            ..TargetSnapshot::default()
        };
        FieldRules::new(&target)
    }

    #[test]
    fn restricted_picklists_lengths_and_emails_are_the_orgs() {
        let rules = rules();
        assert!(
            rules
                .check("TimeZoneSidKey", &json!("Europe/Berlin"))
                .is_ok()
        );
        let err = rules
            .check("TimeZoneSidKey", &json!("Europe/Berln"))
            .unwrap_err();
        assert!(err.contains("did you mean \"Europe/Berlin\"?"), "{err}");
        let err = rules
            .check("timezonesidkey", &json!("Pacific Standard Time"))
            .unwrap_err();
        assert!(
            err.starts_with("TimeZoneSidKey \"Pacific Standard Time\" is not a value of the org's restricted picklist Time Zone")
                && err.contains("it has 2 values"),
            "{err}"
        );
        let languages = FieldRules::new(&TargetSnapshot {
            user_describe: vec![FieldDescribe {
                name: "LanguageLocaleKey".into(),
                label: "Language".into(),
                kind: "picklist".into(),
                length: 40,
                restricted_picklist: true,
                picklist_values: vec!["de".into(), "en_US".into(), "zh_CN".into()],
                ..FieldDescribe::default()
            }],
            ..TargetSnapshot::default()
        });
        let err = languages
            .check("LanguageLocaleKey", &json!("de_DE"))
            .unwrap_err();
        assert!(err.ends_with("did you mean \"de\"?"), "{err}");
        assert!(rules.check("Cost_Center__c", &json!("CC-12")).is_ok());
        assert!(rules.check("Cost_Center__c", &json!("CC-123")).is_err());
        assert!(rules.check("Email", &json!("a@b.co")).is_ok());
        assert!(rules.check("Email", &json!("a@b")).is_err());
        assert!(rules.check("Email", &json!("a b@c.de")).is_err());
        assert!(rules.check("Unknown__c", &json!("anything")).is_ok());
    }
}
