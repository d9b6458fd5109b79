//! `roster expr`: evaluate one Entra expression, like `terraform console`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::ExprArgs;
use crate::diagnostic::{Diagnostic, Severity, SourceFile};
use crate::error::{Error, Outcome};
use crate::expr::{self, Context, DateTime, Value};

pub(crate) fn run(args: &ExprArgs) -> Result<Outcome, Error> {
    let file = Arc::new(SourceFile {
        path: PathBuf::from("expression"),
        text: args.expression.clone(),
    });
    let parsed = expr::parse(&args.expression).map_err(|err| {
        Error::Diagnostics(vec![diagnostic(
            &file,
            err.span,
            err.message,
            "here",
            err.help,
        )])
    })?;
    let attributes = attributes(args)?;
    check_names(&file, &parsed, &attributes)?;
    let now = match &args.now {
        Some(text) => expr::parse_date(text)
            .map(DateTime::to_utc)
            // .NET's calendar runs from year 1 to year 9999, in UTC; it has no leap second.
            .filter(|now| (0..expr::MAX_TICKS).contains(&now.ticks))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--now {text:?} is not a date from year 1 to year 9999 in UTC (.NET's \
                     calendar, which has no leap second); use RFC 3339, e.g. \
                     2024-05-01T12:00:00Z"
                ))
            })?,
        None => crate::clock::now(),
    };
    // Compared as Salesforce compares Username, Email and unique text: without case.
    let existing: BTreeSet<String> = args.existing.iter().map(|e| e.to_lowercase()).collect();
    let is_existing = |candidate: &str| existing.contains(&candidate.to_lowercase());
    let ctx = Context::new(now, seed()).with_existing(&is_existing);
    let value = expr::evaluate(&parsed, &attributes, &ctx).map_err(|err| {
        Error::Diagnostics(vec![diagnostic(
            &file,
            err.span.clone(),
            err.to_string(),
            "while evaluating this",
            None,
        )])
    })?;
    let out = if args.json {
        format!("{}\n", value.to_json())
    } else {
        // A value is text from Entra or a pasted input: shown, never acting on the terminal
        // (escape sequences, bidi overrides come out as `\u{..}`, as in `plan` and `explain`).
        use crate::render::visible;
        match value {
            Value::Str(s) => format!("{}\n", visible(&s)),
            Value::Date(d) => format!("{}\n", crate::expr::format_general(d)),
            Value::Multi(values) => values.iter().fold(String::new(), |mut out, v| {
                out.push_str(&visible(v));
                out.push('\n');
                out
            }),
            Value::Null => {
                "null (nothing flows; on create the mapping's default applies)\n".to_owned()
            }
            Value::Ignore => {
                "ignored (IgnoreFlowIfNullOrEmpty or IgnoreAttributeFlow: the attribute is left \
                 out of the flow)\n"
                    .to_owned()
            }
            Value::IgnoreObject => {
                "object ignored (IgnoreObjectFlow: the user is neither created nor updated in \
                 this run)\n"
                    .to_owned()
            }
        }
    };
    super::print(&out)?;
    Ok(Outcome::Success)
}

/// The most `--input -` reads from standard input: one user's attributes are a few KB.
const MAX_STDIN: u64 = 16 * 1024 * 1024;

/// `--input` first, then each `--set`, later ones winning.
fn attributes(args: &ExprArgs) -> Result<BTreeMap<String, Value>, Error> {
    let mut attributes = BTreeMap::new();
    if let Some(path) = &args.input {
        // `-` is standard input: `az ad user show --id ... | roster expr ... --input -`.
        let text = if path.as_os_str() == "-" {
            crate::files::read_stdin_string(MAX_STDIN)
        } else {
            crate::files::read_regular_string(path)
        }
        .map_err(|e| Error::Usage(format!("cannot read --input {}: {e}", path.display())))?;
        // A Windows editor may start the file with a byte-order mark, as the import allows.
        let text = text.trim_start_matches('\u{feff}');
        // An attribute named twice is refused: which value it has cannot be told.
        let json = crate::json::unambiguous(text).map_err(|e| {
            let (line, column) = crate::json::place(text.as_bytes(), &e);
            Error::Usage(format!(
                "--input {}:{line}:{column}: {}",
                path.display(),
                crate::json::reason(&e)
            ))
        })?;
        if !json.is_object() {
            return Err(Error::Usage(format!(
                "--input {}: expected a JSON object of attribute name to value",
                path.display()
            )));
        }
        // Read again with each value as written: a number is its text (`1.50`, an id of 30
        // digits), which serde's f64 would change.
        let object: BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(text).map_err(|e| Error::Usage(e.to_string()))?;
        for (name, value) in object {
            let value = input_value(value.get()).map_err(|e| {
                Error::Usage(format!(
                    "--input {}: attribute {}: {e}",
                    path.display(),
                    crate::render::quoted(&name)
                ))
            })?;
            attributes.insert(name, value);
        }
    }
    for pair in &args.set {
        let Some((name, value)) = pair.split_once('=').filter(|(n, _)| !n.trim().is_empty()) else {
            return Err(Error::Usage(format!("--set {pair:?}: expected NAME=VALUE")));
        };
        attributes.insert(name.trim().to_owned(), Value::Str(value.to_owned()));
    }
    Ok(attributes)
}

/// One `--input` value, from its JSON text: a number as written, else as `Value::from_json`
/// reads it (a string, an array of them, null).
fn input_value(raw: &str) -> Result<Value, String> {
    let written = |raw: &str| {
        let raw = raw.trim();
        raw.starts_with(|c: char| c == '-' || c.is_ascii_digit())
            .then(|| raw.to_owned())
    };
    if let Some(number) = written(raw) {
        return Ok(Value::Str(number));
    }
    if raw.trim_start().starts_with('[') {
        let items: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(raw).map_err(|e| e.to_string())?;
        return items
            .iter()
            .map(|item| match written(item.get()) {
                Some(number) => Ok(number),
                None => serde_json::from_str(item.get())
                    .ok()
                    .as_ref()
                    .and_then(crate::expr::scalar_text)
                    .ok_or_else(|| crate::expr::ARRAY_ITEMS.to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Multi);
    }
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    Value::from_json(&value)
}

/// The attribute names the expression reads, as Entra reads them, with their case: one that
/// `validate` would refuse for its case is named at its place; a value given (`--set`,
/// `--input`) under another case of a name read is said rather than taken as absent.
fn check_names(
    file: &Arc<SourceFile>,
    parsed: &expr::Expr,
    given: &BTreeMap<String, Value>,
) -> Result<(), Error> {
    // An attribute spelled in another case is no attribute to Entra: said as `validate` says it,
    // rather than evaluated as null.
    let mut named = Vec::new();
    expr::attribute_spans(parsed, &mut named);
    let read: Vec<String> = named.iter().map(|(name, _)| name.clone()).collect();
    let misspelled: Vec<_> = named
        .into_iter()
        .filter_map(|(name, span)| {
            crate::graph::attributes::check_attribute(&name)
                .err()
                .filter(|help| help.starts_with("Graph spells it"))
                .map(|help| {
                    diagnostic(
                        file,
                        span,
                        format!("Entra users have no attribute `{name}`"),
                        "not an attribute roster can read",
                        Some(help),
                    )
                })
        })
        .collect();
    if !misspelled.is_empty() {
        return Err(Error::Diagnostics(misspelled));
    }
    // A value given under another case of a name the expression reads would be silently absent
    // (unless the name is given as read too).
    let given_names: std::collections::BTreeSet<&str> = given.keys().map(String::as_str).collect();
    if let Some((given, wanted)) = given.keys().find_map(|given| {
        read.iter()
            .find(|wanted| {
                *wanted != given
                    && wanted.eq_ignore_ascii_case(given)
                    && !given_names.contains(wanted.as_str())
            })
            .filter(|_| !read.contains(given))
            .map(|wanted| (given, wanted))
    }) {
        return Err(Error::Usage(format!(
            "the value is given for `{given}`, but the expression reads `{wanted}`: attribute \
             names are case-sensitive, as in Entra"
        )));
    }
    Ok(())
}

fn diagnostic(
    file: &Arc<SourceFile>,
    span: std::ops::Range<usize>,
    message: String,
    label: &str,
    help: Option<String>,
) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        file: Arc::clone(file),
        span,
        pointer: String::new(),
        message,
        label: label.to_owned(),
        help,
    }
}

/// Randomness for Guid and RandomString at the command line: the clock is enough.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(0) ^ u64::from(std::process::id())
}
