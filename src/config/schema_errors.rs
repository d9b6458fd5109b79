//! Turns JSON Schema validation errors into findings a person can act on: "unknown key `sorce`
//! (did you mean `source`?)" rather than "Additional properties are not allowed".

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

use super::locate::Part;
use super::validate::Finding;
use crate::suggest::closest;

/// Every error of `instance` against `schema`, translated.
pub(crate) fn schema_findings(schema: &Value, instance: &Value) -> Vec<Finding> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(err) => {
            return vec![Finding::error(
                "",
                format!("internal error: the config schema does not compile: {err}"),
            )];
        }
    };
    let mut out = Translated::default();
    for error in validator.iter_errors(instance) {
        translate(schema, instance, &error, &mut out);
    }
    let Translated {
        mut findings,
        missing,
    } = out;
    // One problem per value: a string where 1 is wanted is "expected an integer", not also
    // "expected 1".
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.pointer.clone(), f.part)));
    for (pointer, names) in missing {
        findings.push(missing_keys(&pointer, &names));
    }
    findings
}

/// The findings the errors make as they are translated; each object's missing keys gathered
/// apart, to make one finding per object at the end (`target.auth.jwt_bearer` lacking both
/// `username` and `private_key` is one finding naming both, wherever in the schema's branches
/// each was found missing).
#[derive(Default)]
struct Translated {
    findings: Vec<Finding>,
    /// Each object's pointer and the keys it lacks, in the order found.
    missing: Vec<(String, Vec<String>)>,
}

impl Translated {
    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn missing(&mut self, pointer: &str, name: String) {
        match self.missing.iter_mut().find(|(p, _)| p == pointer) {
            Some((_, names)) if names.contains(&name) => {}
            Some((_, names)) => names.push(name),
            None => self.missing.push((pointer.to_owned(), vec![name])),
        }
    }
}

fn wrong_type(pointer: &str, here: &Value, kind: &TypeKind) -> Finding {
    let expected = match kind {
        TypeKind::Single(t) => type_name(*t).to_owned(),
        // `Option<T>` fields allow null; saying so only confuses.
        TypeKind::Multiple(set) => set
            .iter()
            .filter(|t| *t != JsonType::Null)
            .map(type_name)
            .collect::<Vec<_>>()
            .join(" or "),
    };
    let mut finding = Finding::error(
        pointer,
        format!("expected {expected}, found {}", describe(here)),
    )
    .label(format!("expected {expected}"));
    if expected == "a string" && (here.is_number() || here.is_boolean()) {
        // Said when the finding is placed, with the text as the file writes it.
        finding.unquoted = true;
    }
    if expected.contains("integer") || expected.contains("number") {
        finding.help = finding.help.or_else(|| leading_zero(here));
    }
    finding
}

/// The help for a number written with a leading zero (`05`), which the config reads as text
/// (an id such as `0012345` keeps its zeros): how to write the number.
fn leading_zero(here: &Value) -> Option<String> {
    let text = here.as_str()?;
    if text.len() < 2 || !text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = match text.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    Some(format!(
        "a number written with a leading zero stays text (it may be an id); write {number} to \
         mean the number"
    ))
}

fn unknown_key(pointer: &str, key: &str, allowed: &[String]) -> Finding {
    let help = if let Some(best) = closest(key, allowed.iter().map(String::as_str)) {
        format!("did you mean `{best}`?")
    } else {
        let mut sorted = allowed.to_vec();
        sorted.sort();
        format!("expected one of: {}", backticked(&sorted))
    };
    Finding::error(
        &format!("{pointer}/{}", escape(key)),
        format!("unknown key `{key}`"),
    )
    .part(Part::Key)
    .label("not a known key here")
    .help(help)
}

fn not_one_of(pointer: &str, here: &Value, names: &[String]) -> Finding {
    let mut finding = Finding::error(
        pointer,
        format!("{} is not one of: {}", describe(here), backticked(names)),
    )
    .label("unknown value");
    if let Some(best) = here
        .as_str()
        .and_then(|s| closest(s, names.iter().map(String::as_str)))
    {
        finding.help = Some(format!("did you mean `{best}`?"));
    }
    finding
}

fn missing_keys(pointer: &str, names: &[String]) -> Finding {
    let (noun, verb) = if names.len() == 1 {
        ("key", "is")
    } else {
        ("keys", "are")
    };
    Finding::error(
        pointer,
        format!("missing required {noun} {}", backticked(names)),
    )
    .label(format!("{} {verb} required here", backticked(names)))
}

fn translate(schema: &Value, instance: &Value, error: &ValidationError<'_>, out: &mut Translated) {
    let pointer = error.instance_path().as_str().to_owned();
    let here = error.instance();
    let schema_path = error.schema_path().as_str();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = sibling_properties(schema, schema_path);
            out.findings.extend(
                unexpected
                    .iter()
                    .map(|key| unknown_key(&pointer, key, &allowed)),
            );
        }
        ValidationErrorKind::Required { property } => {
            out.missing(&pointer, plain(property));
        }
        ValidationErrorKind::Type { kind } => out.push(wrong_type(&pointer, here, kind)),
        ValidationErrorKind::Enum { options } => {
            let names: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(plain).collect())
                .unwrap_or_default();
            out.push(not_one_of(&pointer, here, &names));
        }
        ValidationErrorKind::Constant { expected_value } => out.push(
            Finding::error(
                &pointer,
                format!(
                    "expected {}, found {}",
                    plain(expected_value),
                    describe(here)
                ),
            )
            .label(format!("must be {}", plain(expected_value))),
        ),
        ValidationErrorKind::MinItems { limit } => out.push(
            Finding::error(
                &pointer,
                if *limit == 1 {
                    "must not be empty".to_owned()
                } else {
                    format!("needs at least {limit} items")
                },
            )
            .label("empty"),
        ),
        ValidationErrorKind::MinLength { .. } => out.push(
            Finding::error(&pointer, "must not be an empty string".to_owned()).label("empty"),
        ),
        ValidationErrorKind::Pattern { pattern } => out.push(
            Finding::error(
                &pointer,
                match pattern_words(pattern) {
                    Some(words) => format!("{} is not {words}", describe(here)),
                    None => format!("{} does not match the pattern `{pattern}`", describe(here)),
                },
            )
            .label("bad format")
            .help_maybe(leading_zero(here)),
        ),
        ValidationErrorKind::OneOfNotValid { context }
        | ValidationErrorKind::OneOfMultipleValid { context } => {
            one_of(schema, instance, error, context, out);
        }
        ValidationErrorKind::AnyOf { context } => {
            // The value is of one branch's kind and wrong inside (`profile: {id: 123}`): that
            // branch's own errors say what, not "expected a string or a mapping".
            let of_its_kind: Vec<&Vec<ValidationError<'static>>> = context
                .iter()
                .filter(|errors| {
                    !errors.iter().any(|e| {
                        e.instance_path().as_str() == pointer
                            && matches!(e.kind(), ValidationErrorKind::Type { .. })
                    })
                })
                .collect();
            if let [errors] = of_its_kind.as_slice()
                && !errors.is_empty()
            {
                for inner in *errors {
                    translate(schema, instance, inner, out);
                }
                return;
            }
            let choices = branch_descriptions(schema, schema_path);
            out.push(
                Finding::error(
                    &pointer,
                    format!(
                        "expected {}, found {}",
                        choices.join(" or "),
                        describe(here)
                    ),
                )
                .label("wrong kind of value"),
            );
        }
        _ => out.push(Finding::error(&pointer, error.to_string()).label("invalid")),
    }
}

/// A `oneOf` of objects each requiring one key is roster's "exactly one of" (credential kinds,
/// mapping value kinds, role conditions). Name the keys instead of dumping every branch's errors.
fn one_of(
    schema: &Value,
    instance: &Value,
    error: &ValidationError<'_>,
    context: &[Vec<ValidationError<'static>>],
    out: &mut Translated,
) {
    let pointer = error.instance_path().as_str().to_owned();
    let here = error.instance();
    let branch_schemas: Vec<&Value> = schema
        .pointer(error.schema_path().as_str())
        .and_then(Value::as_array)
        .map(|branches| branches.iter().map(|b| resolve(schema, b)).collect())
        .unwrap_or_default();
    // A documented enum: schemars writes one `const` branch per variant.
    let constants: Vec<String> = branch_schemas
        .iter()
        .filter_map(|b| b.get("const").map(plain))
        .collect();
    if !constants.is_empty() && constants.len() == branch_schemas.len() {
        out.push(not_one_of(&pointer, here, &constants));
        return;
    }
    let branches: Vec<Option<String>> = branch_schemas
        .iter()
        .map(|b| single_required(schema, b))
        .collect();
    let keys: Vec<String> = branches.iter().flatten().cloned().collect();
    let Some(object) = here.as_object() else {
        if keys.iter().any(|k| k == "env") && keys.iter().any(|k| k == "file") {
            out.push(inline_secret(&pointer, here));
            return;
        }
        out.push(
            Finding::error(
                &pointer,
                format!(
                    "expected a mapping with exactly one of {}, found {}",
                    backticked(&keys),
                    describe(here)
                ),
            )
            .label("expected a mapping"),
        );
        return;
    };
    let present: Vec<&String> = keys
        .iter()
        .filter(|k| object.contains_key(k.as_str()))
        .collect();
    match present.as_slice() {
        [] => {
            let unknown: Vec<&String> = object
                .keys()
                .filter(|k| !known_key(schema, error, k))
                .collect();
            if !unknown.is_empty() && closed_object(schema, error) {
                // The object's own `additionalProperties` already reported the unknown key.
                return;
            }
            let mut finding = Finding::error(
                &pointer,
                format!("expected exactly one of {}", backticked(&keys)),
            )
            .label("none given");
            if let Some(first) = unknown.first() {
                finding = finding.at(&format!("{pointer}/{}", escape(first)), Part::Key);
                "not a known key here".clone_into(&mut finding.label);
                finding.help = closest(first, keys.iter().map(String::as_str))
                    .map(|best| format!("did you mean `{best}`?"));
            }
            out.push(finding);
        }
        [only] => {
            let index = branches
                .iter()
                .position(|b| b.as_deref() == Some(only.as_str()));
            match index.and_then(|i| context.get(i)) {
                Some(errors) if !errors.is_empty() => {
                    let from = out.findings.len();
                    for inner in errors {
                        translate(schema, instance, inner, out);
                    }
                    alternative_meant(&mut out.findings[from..], &keys, only);
                }
                _ => out.push(Finding::error(&pointer, error.to_string()).label("invalid")),
            }
        }
        [_, second, ..] => out.push(
            Finding::error(
                &format!("{pointer}/{}", escape(second)),
                format!(
                    "only one of {} may be given, found {}",
                    backticked(&keys),
                    backticked(&present.iter().map(|s| (*s).clone()).collect::<Vec<_>>())
                ),
            )
            .part(Part::Key)
            .label("second value kind"),
        ),
    }
}

/// For each unknown key among `findings` (an object's, beside the alternative `given`) that
/// misspells another of the alternatives `keys` (`{env: X, fiel: y}`): that alternative is
/// meant, and only one may be given.
fn alternative_meant(findings: &mut [Finding], keys: &[String], given: &str) {
    for finding in findings {
        if finding.part != Part::Key {
            continue;
        }
        let Some(key) = finding.pointer.rsplit('/').next() else {
            continue;
        };
        let others = keys.iter().map(String::as_str).filter(|k| *k != given);
        if let Some(best) = closest(key, others) {
            finding.help = Some(format!(
                "did you mean `{best}`? {} are alternatives: give exactly one",
                backticked(keys)
            ));
        }
    }
}

fn known_key(schema: &Value, error: &ValidationError<'_>, key: &str) -> bool {
    let parent = parent_path(error.schema_path().as_str());
    sibling_properties(schema, &format!("{parent}/x"))
        .iter()
        .any(|k| k == key)
}

/// Whether the schema holding this `oneOf` rejects unknown keys itself.
fn closed_object(schema: &Value, error: &ValidationError<'_>) -> bool {
    schema
        .pointer(&parent_path(error.schema_path().as_str()))
        .and_then(|node| node.get("additionalProperties"))
        == Some(&Value::Bool(false))
}

/// The key a `oneOf` branch requires, when it requires exactly one.
fn single_required(schema: &Value, branch: &Value) -> Option<String> {
    let branch = resolve(schema, branch);
    match branch.get("required")?.as_array()?.as_slice() {
        [key] => key.as_str().map(str::to_owned),
        _ => None,
    }
}

fn resolve<'s>(schema: &'s Value, node: &'s Value) -> &'s Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| schema.pointer(p))
        .unwrap_or(node)
}

/// The property names allowed next to the keyword at `schema_path`.
fn sibling_properties(schema: &Value, schema_path: &str) -> Vec<String> {
    schema
        .pointer(&parent_path(schema_path))
        .and_then(|node| node.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

fn branch_descriptions(schema: &Value, schema_path: &str) -> Vec<String> {
    schema
        .pointer(schema_path)
        .and_then(Value::as_array)
        .map(|branches| describe_branches(schema, branches))
        .unwrap_or_default()
}

/// What each `anyOf` branch accepts; nested `anyOf`s (an optional untagged enum) are flattened
/// and `null` is left out.
/// A secret written where `{env: NAME}` or `{file: PATH}` belongs: named, never shown.
fn inline_secret(pointer: &str, here: &Value) -> Finding {
    Finding::error(
        pointer,
        format!(
            "a secret is written inline ({}): roster reads a secret only from `{{env: NAME}}` or \
             `{{file: PATH}}`",
            match here {
                Value::String(_) => "a string",
                _ => "a value",
            }
        ),
    )
    .label("a secret written inline")
    .help(super::secret::INLINE_SECRET_HELP)
}

fn describe_branches(schema: &Value, branches: &[Value]) -> Vec<String> {
    branches
        .iter()
        .map(|b| resolve(schema, b))
        .flat_map(|b| {
            if let Some(inner) = b.get("anyOf").and_then(Value::as_array) {
                return describe_branches(schema, inner);
            }
            if b.get("type").and_then(Value::as_str) == Some("null") {
                return Vec::new();
            }
            vec![describe_branch(b)]
        })
        .collect()
}

fn describe_branch(b: &Value) -> String {
    let base = match b.get("type").and_then(Value::as_str) {
        Some("array") => "a list of strings",
        Some("integer") => "an integer",
        Some("number") => "a number",
        Some("boolean") => "true or false",
        Some("object") => "a mapping",
        _ => "a string",
    };
    match b.get("pattern").and_then(Value::as_str) {
        Some(p) => {
            pattern_words(p).map_or_else(|| format!("{base} matching `{p}`"), ToOwned::to_owned)
        }
        None => base.to_owned(),
    }
}

/// The config schema's patterns (`types.rs`) in words: what a reader writes, not a regex.
fn pattern_words(pattern: &str) -> Option<&'static str> {
    match pattern {
        r"^[0-9]+(\.[0-9]+)?%$" => Some("a percentage such as \"10%\""),
        r"^[1-9][0-9]*\.0$" => Some("an API version such as \"62.0\""),
        r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$" => Some("a 15- or 18-character Salesforce record id"),
        _ => None,
    }
}

fn parent_path(path: &str) -> String {
    path.rsplit_once('/')
        .map_or(String::new(), |(p, _)| p.to_owned())
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn backticked(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn type_name(t: JsonType) -> &'static str {
    match t {
        JsonType::Array => "a list",
        JsonType::Boolean => "true or false",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "a mapping",
        JsonType::String => "a string",
    }
}

/// A short description of a value for messages: its kind, and the value when it is short.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}
