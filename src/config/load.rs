//! Reading `roster.yaml`: bytes → UTF-8 → YAML → JSON Schema (every error at once) → typed
//! config → semantic checks. Every problem becomes a diagnostic at `file:line:column`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::desired::Config;
use super::locate::Locator;
use super::schema::config_schema;
use super::schema_errors::schema_findings;
use super::types;
use super::validate::{Finding, check};
use crate::diagnostic::{Diagnostic, Severity, SourceFile};

/// The largest config file roster reads. Real configs are a few kilobytes; anything near this
/// is a wrong file, and refusing it early keeps memory bounded.
pub(crate) const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A loaded, valid config — the typed desired state — with the warnings found on the way.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) file: Arc<SourceFile>,
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file has problems; each diagnostic says where. Warnings are included.
    #[error("{} has {} error(s)", .0.first().map(|d| d.file.path.display().to_string()).unwrap_or_default(), .0.iter().filter(|d| d.severity == Severity::Error).count())]
    Invalid(Vec<Diagnostic>),
}

/// Loads and validates the config at `path`.
pub(crate) fn load(path: &Path) -> Result<Loaded, LoadError> {
    let read_err = |source| LoadError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(too_large(path, size));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    load_bytes(path, bytes)
}

/// Points at the start of an oversized file, showing only its first line.
fn too_large(path: &Path, size: u64) -> LoadError {
    use std::io::Read as _;
    let mut head = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(200).read_to_end(&mut head);
    }
    let first_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let file = Arc::new(SourceFile {
        path: path.to_owned(),
        text: first_line,
    });
    #[allow(clippy::cast_precision_loss, reason = "a size shown in MiB")]
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let finding = Finding::error(
        "",
        format!(
            "the file is {:.1} MiB; roster reads config files of at most {:.0} MiB",
            mib(size),
            mib(MAX_CONFIG_BYTES)
        ),
    )
    .label("file starts here")
    .help("is this the right file? a roster config is a few kilobytes");
    LoadError::Invalid(vec![raw_diagnostic(&file, 0, finding)])
}

/// Validates config text already in memory; `path` is what diagnostics name.
pub(crate) fn load_bytes(path: &Path, bytes: Vec<u8>) -> Result<Loaded, LoadError> {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let at = err.utf8_error().valid_up_to();
            let bad = err.as_bytes().get(at).copied().unwrap_or_default();
            let file = Arc::new(SourceFile {
                path: path.to_owned(),
                text: String::from_utf8_lossy(err.as_bytes()).into_owned(),
            });
            let finding = Finding::error(
                "",
                format!("the file is not valid UTF-8 (byte 0x{bad:02X} at offset {at})"),
            )
            .label("invalid UTF-8 here")
            .help("save the file as UTF-8");
            return Err(LoadError::Invalid(vec![raw_diagnostic(&file, at, finding)]));
        }
    };
    let file = Arc::new(SourceFile {
        path: path.to_owned(),
        text,
    });
    let value = parse_yaml(&file)?;
    let locator = Locator::new(&file);
    let place = |findings: Vec<Finding>| -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = findings
            .into_iter()
            .map(|f| place(&file, &locator, f))
            .collect();
        out.sort_by_key(|d| (d.span.start, d.severity));
        out
    };

    let schema_errors = schema_findings(&config_schema(), &value);
    if !schema_errors.is_empty() {
        return Err(LoadError::Invalid(place(schema_errors)));
    }
    // The schema catches nearly everything; what it lets through is placed at its value.
    let file_config: types::Config = match serde_path_to_error::deserialize(value) {
        Ok(config) => config,
        Err(err) => {
            let pointer = pointer_of(err.path());
            return Err(LoadError::Invalid(place(vec![
                Finding::error(&pointer, err.into_inner().to_string()).label("here"),
            ])));
        }
    };
    let (findings, config) = check(&file_config);
    let diagnostics = place(findings);
    let Some(config) = config else {
        return Err(LoadError::Invalid(diagnostics));
    };
    Ok(Loaded {
        config,
        file,
        warnings: diagnostics,
    })
}

/// A serde path (`safety.max_deactivations`, `mappings[3].target`) as a JSON pointer.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                pointer.push('/');
                pointer.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

/// Errors found later, by what only the org can tell (a name it does not have), placed in the
/// loaded file like the checks' own: each a JSON pointer, a message and an optional help.
pub(crate) fn placed(
    loaded: &Loaded,
    problems: &[(String, String, Option<String>)],
) -> Vec<Diagnostic> {
    placed_with(loaded, problems, None)
}

/// `placed`, with this label under each place (instead of "not in the org").
pub(crate) fn placed_with(
    loaded: &Loaded,
    problems: &[(String, String, Option<String>)],
    label: Option<&str>,
) -> Vec<Diagnostic> {
    let locator = Locator::new(&loaded.file);
    problems
        .iter()
        .map(|(pointer, message, help)| {
            let label = match label {
                Some(label) => label,
                None if pointer.ends_with("/app_role") => "not an app role of the application",
                None if pointer.ends_with("/when/group") => "not a group in Entra",
                None => "not in the org",
            };
            let mut finding = Finding::error(pointer, message.clone()).label(label);
            finding.help.clone_from(help);
            place(&loaded.file, &locator, finding)
        })
        .collect()
}

/// YAML text → JSON value. Duplicate keys, syntax errors and an empty document are errors.
fn parse_yaml(file: &Arc<SourceFile>) -> Result<serde_json::Value, LoadError> {
    // YAML 1.2 booleans only: `value: yes` or `country: NO` stay text (the "Norway problem").
    let options = serde_saphyr::options! { strict_booleans: true };
    let parsed: Result<serde_json::Value, _> =
        serde_saphyr::from_str_with_options(&file.text, options);
    match parsed {
        Ok(serde_json::Value::Null) => {
            let finding = Finding::error("", "the file is empty".to_owned())
                .label("expected a roster config")
                .help("start from examples/minimal/roster.yaml; a config needs at least version, source, target, matching, mappings and roles");
            Err(LoadError::Invalid(vec![raw_diagnostic(file, 0, finding)]))
        }
        Ok(value) if !value.is_object() => {
            let finding = Finding::error(
                "",
                format!(
                    "the document is {}, not a mapping of keys",
                    super::schema_errors::describe(&value)
                ),
            )
            .label("expected `version: 1`, `source:`, ...");
            Err(LoadError::Invalid(vec![raw_diagnostic(
                file,
                first_content(&file.text),
                finding,
            )]))
        }
        Ok(value) => Ok(value),
        Err(err) => {
            let offset = err.location().map_or(0, |loc| {
                let (line, col) = (loc.line(), loc.column());
                file.offset_of(
                    usize::try_from(line).unwrap_or(1),
                    usize::try_from(col.saturating_sub(1)).unwrap_or(0),
                )
            });
            let message = yaml_message(&err);
            let finding = Finding::error("", format!("invalid YAML: {message}")).label("here");
            Err(LoadError::Invalid(vec![raw_diagnostic(
                file, offset, finding,
            )]))
        }
    }
}

/// serde-saphyr's message without its own snippet and location suffix.
fn yaml_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = first
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(first);
    if let Some(key) = first.strip_prefix("duplicate mapping key: ") {
        return format!("duplicate key `{key}`");
    }
    if first.starts_with("budget breached") {
        return "the document grows past what roster reads (its aliases expand to too many \
                values: an alias bomb?)"
            .to_owned();
    }
    if first.starts_with("multiple YAML documents detected") {
        return "a second YAML document starts here (after a `---` line); roster.yaml is one \
                document"
            .to_owned();
    }
    // "... at line 3 column 5" duplicates the location we print ourselves.
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

fn first_content(text: &str) -> usize {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with("---") {
            return offset + (line.len() - trimmed.len());
        }
        offset += line.len();
    }
    0
}

fn place(file: &Arc<SourceFile>, locator: &Locator<'_>, finding: Finding) -> Diagnostic {
    let span = match finding.inner.clone() {
        Some(inner) => {
            let start = locator.offset_in_scalar(&finding.pointer, inner.start);
            let end = locator.offset_in_scalar(&finding.pointer, inner.end);
            start..end.max(start)
        }
        None => locator.span(&finding.pointer, finding.part),
    };
    diagnostic(file, span, finding)
}

fn raw_diagnostic(file: &Arc<SourceFile>, offset: usize, finding: Finding) -> Diagnostic {
    diagnostic(file, offset..offset, finding)
}

fn diagnostic(
    file: &Arc<SourceFile>,
    span: std::ops::Range<usize>,
    finding: Finding,
) -> Diagnostic {
    Diagnostic {
        severity: finding.severity,
        file: Arc::clone(file),
        span,
        pointer: finding.pointer,
        message: finding.message,
        label: finding.label,
        help: finding.help,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const DEMO: &str = include_str!("../../examples/demo/roster.yaml");

    #[test]
    fn serde_paths_become_json_pointers() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "only the error is looked at")]
        struct Doc {
            mappings: Vec<std::collections::BTreeMap<String, u8>>,
        }
        let value = serde_json::json!({"mappings": [{"a": 1}, {"b/c": 300}]});
        let err = serde_path_to_error::deserialize::<_, Doc>(value).unwrap_err();
        assert_eq!(pointer_of(err.path()), "/mappings/1/b~1c");
    }

    fn outcome(bytes: Vec<u8>) -> Result<(), Vec<Diagnostic>> {
        match load_bytes(Path::new("roster.yaml"), bytes) {
            Ok(_) => Ok(()),
            Err(LoadError::Invalid(diagnostics)) => {
                // Rendering must not panic either, and every error names a place: a span
                // inside the file, shown as `roster.yaml:LINE:COL`.
                for d in &diagnostics {
                    assert!(
                        d.span.start <= d.span.end && d.span.end <= d.file.text.len(),
                        "{d:?} points outside the file"
                    );
                    let (line, col) = d.line_col();
                    let rendered = d.render(false);
                    assert!(
                        rendered.contains(&format!("roster.yaml:{line}:{col}")),
                        "{rendered}"
                    );
                }
                Err(diagnostics)
            }
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }

    #[test]
    fn demo_config_loads() {
        assert!(outcome(DEMO.as_bytes().to_vec()).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = outcome(bytes);
        }

        #[test]
        fn damaged_demo_config_never_panics(at in 0..DEMO.len(), len in 0usize..40, insert in "[ -~\n\t]{0,12}") {
            let mut text = DEMO.as_bytes().to_vec();
            let end = (at + len).min(text.len());
            text.splice(at..end, insert.bytes());
            if let Err(diagnostics) = outcome(text) {
                prop_assert!(!diagnostics.is_empty());
            }
        }
    }
}
