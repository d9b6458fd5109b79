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
    /// The file given.
    pub(crate) file: Arc<SourceFile>,
    /// Every file the config was read from and where each key came from (`extends`).
    pub(crate) sources: Arc<Sources>,
    pub(crate) warnings: Vec<Diagnostic>,
}

/// The most problems one load places in the file and shows.
const MAX_PLACED: usize = 200;

/// The deepest `extends` chain roster follows.
const MAX_EXTENDS: usize = 8;

/// The files a config is read from — the file given first, then each file it `extends`, in
/// order — and which file each part of the merged config came from.
#[derive(Debug)]
pub(crate) struct Sources {
    pub(crate) files: Vec<Arc<SourceFile>>,
    /// JSON pointer → index in `files`; the longest pointer that is a prefix of a pointer says
    /// where it came from (later entries win ties).
    origins: Vec<(String, usize)>,
    /// The merged document, for `validate --explain-merge`.
    merged: serde_json::Value,
}

impl Sources {
    /// Which file the value at `pointer` came from (the file given for the document itself).
    pub(crate) fn origin(&self, pointer: &str) -> usize {
        if pointer.is_empty() {
            return 0;
        }
        origin_in(&self.origins, pointer)
    }

    /// SHA-256 of everything the config was read from: the file's text alone when it extends
    /// nothing (as before `extends`), else every file's, in order — a saved plan is stale when
    /// any of them changed.
    pub(crate) fn sha256(&self) -> String {
        match self.files.as_slice() {
            [one] => crate::digest::sha256_hex(one.text.as_bytes()),
            files => {
                let mut all = String::new();
                for file in files {
                    all.push_str(&file.text);
                    all.push('\u{0}');
                }
                crate::digest::sha256_hex(all.as_bytes())
            }
        }
    }

    /// Each setting of the merged config (a value, or a whole list: lists are replaced, not
    /// merged) with the file and line it came from, in the document's order.
    pub(crate) fn explain(&self) -> Vec<(String, String)> {
        let locators: Vec<Locator<'_>> = self.files.iter().map(|f| Locator::new(f)).collect();
        let mut leaves = Vec::new();
        leaves_of(&self.merged, String::new(), &mut leaves);
        leaves
            .into_iter()
            .map(|pointer| {
                let i = self.origin(&pointer);
                let span = locators[i].span(&pointer, super::locate::Part::Key);
                let (line, col) = self.files[i].line_col(span.start);
                let place = format!(
                    "{}:{line}:{col}",
                    crate::diagnostic::display_path(&self.files[i].path)
                );
                (pointer, place)
            })
            .collect()
    }
}

fn origin_in(origins: &[(String, usize)], pointer: &str) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for (prefix, file) in origins {
        let covers = prefix.is_empty()
            || pointer == prefix
            || pointer
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        if covers && best.is_none_or(|(len, _)| prefix.len() >= len) {
            best = Some((prefix.len(), *file));
        }
    }
    best.map_or(0, |(_, file)| file)
}

/// The pointers of a document's settings: scalars and lists (and empty maps).
fn leaves_of(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                leaves_of(child, format!("{at}/{}", escape(key)), out);
            }
        }
        _ => out.push(at),
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Maps whose keys are alternatives (exactly one may be given): the org's replaces the base's
/// whole, so an org can use another credential, application key or auth flow than its base.
const ONE_OF: &[&str] = &["/source/credential", "/source/application", "/target/auth"];

/// Whether `head` at `at` replaces the base's map instead of merging into it: one of `ONE_OF`,
/// or a secret (`{env: ...}` or `{file: ...}`).
fn replaced_whole(at: &str, head: &serde_json::Map<String, serde_json::Value>) -> bool {
    ONE_OF.contains(&at) || (!head.is_empty() && head.keys().all(|k| k == "env" || k == "file"))
}

/// `head` over `base`: maps merge key by key (but see `replaced_whole`), anything else (a list,
/// a value) from `head` replaces `base`'s. Records in `origins` where each part came from.
fn merge(
    base: serde_json::Value,
    head: serde_json::Value,
    at: &str,
    base_origins: &[(String, usize)],
    head_file: usize,
    origins: &mut Vec<(String, usize)>,
    replaced: &mut Vec<Replaced>,
) -> serde_json::Value {
    match (base, head) {
        (serde_json::Value::Object(mut base), serde_json::Value::Object(head))
            if !replaced_whole(at, &head) =>
        {
            let mut out = serde_json::Map::new();
            for (key, value) in head {
                let pointer = format!("{at}/{}", escape(&key));
                // `key: null` takes the base's setting away: the default applies (`ownership:
                // null` as much as `reconcile: null`).
                if value.is_null() {
                    base.remove(&key);
                    continue;
                }
                let merged = if let Some(under) = base.remove(&key) {
                    merge(
                        under,
                        value,
                        &pointer,
                        base_origins,
                        head_file,
                        origins,
                        replaced,
                    )
                } else {
                    origins.push((pointer, head_file));
                    value
                };
                out.insert(key, merged);
            }
            for (key, value) in base {
                let pointer = format!("{at}/{}", escape(&key));
                origins.push((pointer.clone(), origin_in(base_origins, &pointer)));
                out.insert(key, value);
            }
            serde_json::Value::Object(out)
        }
        (base, head) => {
            if base.is_object() && head.is_object() {
                replaced.push(Replaced {
                    at: at.to_owned(),
                    base_file: origin_in(base_origins, at),
                    base,
                });
            }
            origins.push((at.to_owned(), head_file));
            head
        }
    }
}

/// A base's map that an org's file replaced whole (`replaced_whole`): a key the base gives
/// there and the org's map lacks is not merged in, which a "missing required key" there says.
pub(crate) struct Replaced {
    /// The map's JSON pointer.
    at: String,
    /// The base's map, and the file (index in `Sources::files`) it came from.
    base: serde_json::Value,
    base_file: usize,
}

/// `path` with `.` and `dir/..` taken out, without touching the file system: what messages show
/// (`orgs/../base.yaml` is `base.yaml`).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The config of `files[index]` with what it `extends` merged under it (recursively); the
/// chain's files are appended to `files`. A missing, unreadable or circular base is an error
/// at the `extends` that names it.
fn extended(
    value: serde_json::Value,
    index: usize,
    files: &mut Vec<Arc<SourceFile>>,
    replaced: &mut Vec<Replaced>,
) -> Result<(serde_json::Value, Vec<(String, usize)>), LoadError> {
    let serde_json::Value::Object(mut map) = value else {
        return Ok((value, vec![(String::new(), index)]));
    };
    let file = Arc::clone(&files[index]);
    let refuse = |message: String, help: &str| {
        let locator = Locator::new(&file);
        LoadError::Invalid(vec![place(
            &file,
            &locator,
            Finding::error("/extends", message).label("here").help(help),
        )])
    };
    let base = match base_path(map.get("extends")) {
        Ok(Some(base)) => base,
        Ok(None) => return Ok((serde_json::Value::Object(map), vec![(String::new(), index)])),
        Err(message) => {
            return Err(refuse(
                message,
                "give the base config's path, relative to this file (`extends: ../base.yaml`), \
                 or remove the key",
            ));
        }
    };
    map.remove("extends");
    let path = lexically_normal(
        &file
            .path
            .parent()
            .map_or_else(|| PathBuf::from(&base), |dir| dir.join(&base)),
    );
    let same = |a: &Path, b: &Path| {
        std::fs::canonicalize(a)
            .ok()
            .zip(std::fs::canonicalize(b).ok())
            .is_some_and(|(a, b)| a == b)
    };
    if files.iter().any(|f| same(&f.path, &path)) {
        let chain: Vec<String> = files
            .iter()
            .map(|f| crate::diagnostic::display_path(&f.path))
            .chain(std::iter::once(crate::diagnostic::display_path(&path)))
            .collect();
        return Err(refuse(
            format!("`extends` goes round in a circle: {}", chain.join(" -> ")),
            "a base config must not extend, directly or not, the file that extends it",
        ));
    }
    // `files` are those read so far: `path` would be one more.
    if files.len() >= MAX_EXTENDS {
        return Err(refuse(
            format!("more than {MAX_EXTENDS} files extend one another"),
            "keep one base per layer (e.g. base.yaml, then one file per org)",
        ));
    }
    if let Some(why) = unreadable_config(&path, &files[0].path, true) {
        return Err(refuse(
            format!(
                "{} cannot be a base config: {why}",
                base_shown(&path, &base)
            ),
            "a base config is a .yaml or .yml file of the config's own repository: roster \
             prints lines of the files it reads in its errors, and a pull request must not make \
             it print another file of the machine",
        ));
    }
    let bytes = std::fs::metadata(&path)
        .and_then(|m| {
            if m.len() > MAX_CONFIG_BYTES {
                Err(std::io::Error::other("it is larger than roster reads"))
            } else {
                std::fs::read(&path)
            }
        })
        .map_err(|e| {
            refuse(
                format!(
                    "cannot read {}: {e}",
                    crate::diagnostic::display_path(&path)
                ),
                "`extends` is a path relative to this file",
            )
        })?;
    // Not UTF-8: said at its place in the base, as for the file given.
    let text = utf8(&path, bytes)?;
    files.push(Arc::new(SourceFile { path, text }));
    let base_index = files.len() - 1;
    let base_value = parse_yaml(&files[base_index])?;
    refuse_inline_secrets(&files[base_index], &base_value)?;
    let (base_value, base_origins) = extended(base_value, base_index, files, replaced)?;
    let mut origins = base_origins.clone();
    let merged = merge(
        base_value,
        serde_json::Value::Object(map),
        "",
        &base_origins,
        index,
        &mut origins,
        replaced,
    );
    Ok((merged, origins))
}

/// A secret written inline in a base (`base`, parsed as `value`) is in the repository even
/// when the org's file gives its own: refused there, as in the file given.
fn refuse_inline_secrets(
    base: &Arc<SourceFile>,
    value: &serde_json::Value,
) -> Result<(), LoadError> {
    let mut inline = Vec::new();
    inline_secrets(value, &mut String::new(), &mut inline);
    if inline.is_empty() {
        return Ok(());
    }
    let locator = Locator::new(base);
    Err(LoadError::Invalid(
        inline
            .into_iter()
            .map(|pointer| {
                place(
                    base,
                    &locator,
                    Finding::error(
                        &pointer,
                        "a secret is written inline in a base config: roster reads a secret only \
                         from `{env: NAME}` or `{file: PATH}`"
                            .to_owned(),
                    )
                    .label("a secret written inline")
                    .help(super::secret::INLINE_SECRET_HELP),
                )
            })
            .collect(),
    ))
}

/// The pointers under `value` (at `pointer`) where a secret is written as a value rather than
/// as `{env: ...}` or `{file: ...}`.
fn inline_secrets(value: &serde_json::Value, pointer: &mut String, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (key, child) in map {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            if super::secret::is_secret_pointer(pointer) && !child.is_object() && !child.is_null() {
                out.push(pointer.clone());
            } else {
                inline_secrets(child, pointer, out);
            }
            pointer.truncate(len);
        }
    }
}

/// A base's path as a message names it: normal, or as written (quoted) when it comes to
/// nothing once normal (`..` from `orgs/dev.yaml`).
fn base_shown(path: &Path, written: &str) -> String {
    let shown = crate::diagnostic::display_path(path);
    if shown.is_empty() || shown == "." {
        crate::render::quoted(written)
    } else {
        shown
    }
}

/// Why the config file at `path` may not be read, if it may not: roster prints lines of the
/// files it reads in its errors, and a pull request can edit `extends` or turn a config file
/// into a link, so a config file is a regular file (no FIFO or device: `/dev/stdin`,
/// `/dev/zero`) that is no kernel or device file (`/proc/self/environ` holds the CI job's
/// secrets), by its path or a link; and it lies inside the git repository of the config given
/// (`root`: the nearest directory above it with a `.git`, found from where the file is named,
/// not where a link leads). A base (`extends`, `base: true`) must also be named `.yaml` or
/// `.yml`, and so must the file a link leads to; outside any repository, a base must lie under
/// the current directory. A file that does not exist passes: reading it says so.
fn unreadable_config(path: &Path, root: &Path, base: bool) -> Option<String> {
    let yaml = |path: &Path| {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    };
    if base && !yaml(path) {
        // `.yaml` alone is a hidden file without an extension, to Rust as to a shell.
        let extension_alone = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.eq_ignore_ascii_case(".yaml") || n.eq_ignore_ascii_case(".yml"));
        return Some(if extension_alone {
            "it is named .yaml or .yml alone; a base config's name is a name, then .yaml or .yml"
        } else {
            "its name does not end in .yaml or .yml"
        }
        .to_owned());
    }
    std::fs::symlink_metadata(path).ok()?;
    let Ok(real) = std::fs::canonicalize(path) else {
        // `/dev/stdin` with a pipe behind it leads to `pipe:[...]`, which is no path.
        return Some(if std::fs::metadata(path).is_ok() {
            crate::files::NOT_REGULAR.to_owned()
        } else {
            "it is a link that leads to no file".to_owned()
        });
    };
    let shown = crate::diagnostic::display_path(&real);
    if ["/proc", "/sys", "/dev"]
        .iter()
        .any(|d| real.starts_with(d))
    {
        return Some(format!("it is the system file {shown}"));
    }
    if !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
        return Some(format!("{shown} is not a regular file"));
    }
    if base && !yaml(&real) {
        return Some(format!(
            "it leads to {shown}, whose name does not end in .yaml or .yml"
        ));
    }
    // Where the config given is named: its directory, links in it resolved, the file not.
    let named = std::fs::canonicalize(crate::files::directory_of(root)).ok()?;
    let repository = named
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf);
    let (boundary, what) = match repository {
        Some(repository) => (repository, "the repository of the config"),
        None if base => (std::fs::canonicalize(".").ok()?, "the current directory"),
        None => return None,
    };
    (!real.starts_with(&boundary)).then(|| {
        format!(
            "it is {shown}, outside {what} ({})",
            crate::diagnostic::display_path(&boundary)
        )
    })
}

/// The path an `extends` value names; none without the key. A blank value (`extends:` with
/// nothing after it would be read as no base at all) or another kind than text is refused, with
/// the message: read as a config of its own, the file would also be told it lacks every section
/// its base was to give.
fn base_path(value: Option<&serde_json::Value>) -> Result<Option<String>, String> {
    use serde_json::Value;
    let kind = match value {
        None => return Ok(None),
        Some(Value::String(base)) if !base.trim().is_empty() => return Ok(Some(base.clone())),
        Some(Value::String(_) | Value::Null) => return Err("`extends` names no file".to_owned()),
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::Array(_)) => "a list",
        Some(Value::Object(_)) => "a mapping",
    };
    Err(format!(
        "`extends` must be the base config's path, found {kind}"
    ))
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The path given is empty or blank: an empty `ROSTER_CONFIG` (a CI matrix value that was
    /// not filled in), or `--config ""`.
    #[error(
        "{}",
        if *from_variable {
            "ROSTER_CONFIG is set but empty (a CI matrix value that was not filled in?): set it \
             to the config file's path, or unset it to read roster.yaml"
        } else {
            "--config names no file: give the config file's path"
        }
    )]
    NoPath { from_variable: bool },
    /// The file has problems; each diagnostic says where. Warnings are included.
    #[error("{} has {} error(s)", .0.first().map(|d| d.file.path.display().to_string()).unwrap_or_default(), .0.iter().filter(|d| d.severity == Severity::Error).count())]
    Invalid(Vec<Diagnostic>),
}

/// Loads and validates the config at `path`.
pub(crate) fn load(path: &Path) -> Result<Loaded, LoadError> {
    if path.to_string_lossy().trim().is_empty() {
        return Err(LoadError::NoPath {
            from_variable: std::env::var_os("ROSTER_CONFIG").is_some_and(|v| v == path.as_os_str()),
        });
    }
    let read_err = |source| LoadError::Read {
        path: path.to_owned(),
        source,
    };
    if let Some(why) = unreadable_config(path, path, false) {
        return Err(read_err(std::io::Error::other(why)));
    }
    let size = std::fs::metadata(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                // What a first run in an empty directory meets: where a config comes from.
                std::io::Error::new(
                    e.kind(),
                    "there is no such file; start from examples/minimal/roster.yaml, write one \
                     with `roster import entra`, or name another with -c or ROSTER_CONFIG",
                )
            } else {
                e
            }
        })
        .map_err(read_err)?
        .len();
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

/// The text of a config file's `bytes`, or where it stops being UTF-8 (`path:line:col`). A
/// lone carriage return (an old Mac file) is a line break to YAML: it reads as one here too, so
/// lines are counted as YAML counts them (the text keeps its length, so offsets hold).
fn utf8(path: &Path, mut bytes: Vec<u8>) -> Result<String, LoadError> {
    for i in 0..bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
            bytes[i] = b'\n';
        }
    }
    String::from_utf8(bytes).map_err(|err| {
        let at = err.utf8_error().valid_up_to();
        let bad = err.as_bytes().get(at).copied().unwrap_or_default();
        let file = Arc::new(SourceFile {
            path: path.to_owned(),
            text: String::from_utf8_lossy(err.as_bytes()).into_owned(),
        });
        let finding = if crate::files::is_utf16(err.as_bytes()) {
            Finding::error(
                "",
                format!("the file is not UTF-8: {}", crate::files::UTF16),
            )
            .label("a UTF-16 byte-order mark")
        } else {
            Finding::error(
                "",
                format!("the file is not valid UTF-8 (byte 0x{bad:02X} at offset {at})"),
            )
            .label("invalid UTF-8 here")
            .help("save the file as UTF-8")
        };
        LoadError::Invalid(vec![raw_diagnostic(&file, at, finding)])
    })
}

/// Validates config text already in memory; `path` is what diagnostics name.
pub(crate) fn load_bytes(path: &Path, bytes: Vec<u8>) -> Result<Loaded, LoadError> {
    let text = utf8(path, bytes)?;
    let file = Arc::new(SourceFile {
        path: path.to_owned(),
        text,
    });
    let value = parse_yaml(&file)?;
    let mut files = vec![Arc::clone(&file)];
    let mut replaced = Vec::new();
    let (value, origins) = extended(value, 0, &mut files, &mut replaced)?;
    let sources = Arc::new(Sources {
        files,
        origins,
        merged: value.clone(),
    });
    let locators: Vec<Locator<'_>> = sources.files.iter().map(|f| Locator::new(f)).collect();
    let place = |mut findings: Vec<Finding>| -> Vec<Diagnostic> {
        // A file of thousands of mistakes (generated, or pasted twice) is not worth a minute
        // of placing each: the first ones, and how many more.
        let more = findings.len().saturating_sub(MAX_PLACED);
        findings.truncate(MAX_PLACED);
        let mut out: Vec<Diagnostic> = findings
            .into_iter()
            .map(|f| {
                let i = sources.origin(&f.pointer);
                place(&sources.files[i], &locators[i], f)
            })
            .collect();
        out.sort_by_key(|d| (d.file.path.clone(), d.span.start, d.severity));
        if more > 0 {
            let finding = Finding::error(
                "",
                format!(
                    "{more} more problem(s) in the file are not shown ({} in all)",
                    more + MAX_PLACED
                ),
            )
            .label("the file starts here")
            .help("fix the ones shown and validate again");
            out.push(raw_diagnostic(&sources.files[0], 0, finding));
        }
        out
    };

    let mut schema_errors = schema_findings(&config_schema(), &value);
    for finding in &mut schema_errors {
        if finding.help.is_none() {
            finding.help = not_merged(finding, &replaced, &sources);
        }
    }
    if !schema_errors.is_empty() {
        return Err(LoadError::Invalid(place(schema_errors)));
    }
    // The schema catches nearly everything; what it lets through is placed at its value.
    let file_config: types::Config = match serde_path_to_error::deserialize(value) {
        Ok(config) => config,
        Err(err) => {
            let pointer = pointer_of(err.path());
            return Err(LoadError::Invalid(place(vec![
                Finding::error(&pointer, in_config_words(&err.into_inner().to_string()))
                    .label("here"),
            ])));
        }
    };
    let (findings, config) = check(&file_config);
    let diagnostics = place(findings);
    let Some(config) = config else {
        return Err(LoadError::Invalid(diagnostics));
    };
    drop(locators);
    Ok(Loaded {
        config,
        file,
        sources,
        warnings: diagnostics,
    })
}

/// serde's message in the config's words, as the schema's are put: "invalid type: floating
/// point `1.0`, expected u32" is "expected a whole number, found the number 1.0".
pub(crate) fn in_config_words(message: &str) -> String {
    words(message, true)
}

/// [`in_config_words`] for a value that may be a credential (a job's secrets): what was found is
/// named by its kind alone ("expected a list, found a string"), never by its value; a message of
/// serde's that is not about a type is not shown either, as it may quote the value.
pub(crate) fn in_config_words_unshown(message: &str) -> String {
    words(message, false)
}

fn words(message: &str, show: bool) -> String {
    let unrecognized = || {
        if show || message.starts_with("missing field ") || message.starts_with("unknown field ") {
            message.to_owned()
        } else {
            "a value that is not valid here (not shown: it may be a credential)".to_owned()
        }
    };
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return unrecognized();
    };
    let Some((found, expected)) = rest.split_once(", expected ") else {
        return unrecognized();
    };
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "a whole number"
        }
        "f32" | "f64" => "a number",
        "a sequence" => "a list",
        "a map" => "an object",
        other if other.starts_with("struct ") => "an object",
        other => other,
    };
    let found = if let Some(number) = found
        .strip_prefix("floating point ")
        .or_else(|| found.strip_prefix("integer "))
    {
        if show {
            format!("the number {}", number.trim_matches('`'))
        } else {
            "a number".to_owned()
        }
    } else if let Some(text) = found.strip_prefix("string ") {
        if show {
            format!("the string {text}")
        } else {
            "a string".to_owned()
        }
    } else if let Some(value) = found.strip_prefix("boolean ") {
        if show {
            format!("the boolean {}", value.trim_matches('`'))
        } else {
            "a boolean".to_owned()
        }
    } else {
        match found {
            "sequence" => "a list".to_owned(),
            "map" => "an object".to_owned(),
            "unit value" => "null".to_owned(),
            other => other.to_owned(),
        }
    };
    format!("expected {expected}, found {found}")
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
    let sources = &loaded.sources;
    let locators: Vec<Locator<'_>> = sources.files.iter().map(|f| Locator::new(f)).collect();
    problems
        .iter()
        .map(|(pointer, message, help)| {
            let label = match label {
                Some(label) => label,
                // "2 profiles in the org are named …": there, but not one (helper-77).
                None if message.contains(" in the org are named ") => "names several in the org",
                None if pointer.ends_with("/app_role") => "not an app role of the application",
                None if pointer.ends_with("/when/group") => "not a group in Entra",
                None => "not in the org",
            };
            let mut finding = Finding::error(pointer, message.clone()).label(label);
            finding.help.clone_from(help);
            let i = sources.origin(pointer);
            place(&sources.files[i], &locators[i], finding)
        })
        .collect()
}

/// How roster reads every YAML file it is given (a config, an emulator world): YAML 1.2
/// booleans only — `value: yes`, `country: NO` or `surname: N` stay text (the "Norway
/// problem") — and a number written with a leading zero (`client_id: 0012345`,
/// `employeeId: 007`) stays the text written: read as 12345 it would be another id. So does
/// a YAML 1.1 number with underscores (`1_000`), which YAML 1.2 has not. `.inf` and `.nan`
/// are refused (`yaml_message`).
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
    }
}

/// YAML text → JSON value. Duplicate keys, syntax errors and an empty document are errors.
fn parse_yaml(file: &Arc<SourceFile>) -> Result<serde_json::Value, LoadError> {
    let parsed: Result<serde_json::Value, _> =
        serde_saphyr::from_str_with_options(one_document(&file.text), yaml_options());
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
            let message = yaml_message(&err, "setting");
            let finding = Finding::error("", format!("invalid YAML: {message}")).label("here");
            Err(LoadError::Invalid(vec![raw_diagnostic(
                file, offset, finding,
            )]))
        }
    }
}

/// `text` without the empty documents that end it: a `---` line (which generators and
/// concatenations leave behind) followed only by blank lines, comments or `...`. The text before
/// keeps its byte offsets, so every place stays where it is. A `---` that starts content is
/// kept, and a second document is refused.
fn one_document(text: &str) -> &str {
    let is_filler = |line: &str| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "..."
    };
    let is_marker = |line: &str| {
        line.strip_prefix("---").is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.is_empty() || (rest.len() < line.len() - 3 && rest.starts_with('#'))
        })
    };
    let mut end = text.len();
    loop {
        let head = &text[..end];
        let mut cut = None;
        let mut offset = head.len();
        for line in head.split_inclusive('\n').rev() {
            offset -= line.len();
            if is_marker(line.trim_end_matches(['\n', '\r'])) {
                cut = Some(offset);
                break;
            }
            if !is_filler(line) {
                break;
            }
        }
        // Only when a document comes before it: a lone `---` is the empty file.
        match cut {
            Some(at) if !head[..at].lines().all(|l| is_filler(l) || is_marker(l)) => end = at,
            _ => return head,
        }
    }
}

/// The help for a key missing from a map an org's file replaced whole, when the base gives
/// it: that the base's is not merged in, and why.
fn not_merged(finding: &Finding, replaced: &[Replaced], sources: &Sources) -> Option<String> {
    let missing = finding.message.strip_prefix("missing required ")?;
    let r = replaced.iter().rev().find(|r| {
        finding.pointer == r.at
            || finding
                .pointer
                .strip_prefix(r.at.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })?;
    let base_here = r
        .base
        .pointer(&finding.pointer[r.at.len()..])?
        .as_object()?;
    let given: Vec<&str> = missing
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| base_here.contains_key(*name))
        .collect();
    if given.is_empty() {
        return None;
    }
    let dotted = r.at.trim_start_matches('/').replace('/', ".");
    let file = |i: usize| crate::diagnostic::display_path(&sources.files[i].path);
    Some(format!(
        "{} gives {} under `{dotted}`, but this file's `{dotted}` replaces {}'s whole rather \
         than merging into it (its keys are alternatives: another flow or credential may need \
         other keys); give {} here too",
        file(r.base_file),
        given
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        file(r.base_file),
        if given.len() == 1 { "it" } else { "them" },
    ))
}

/// serde-saphyr's message without its own snippet and location suffix, in roster's words where
/// the parser's are its own; `takers` names what takes values in the file (`setting`).
pub(crate) fn yaml_message(err: &serde_saphyr::Error, takers: &str) -> String {
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
        return "the document grows past what roster reads (too large, too deep, or aliases \
                that expand to too many values)"
            .to_owned();
    }
    if let Some(rest) = first.strip_prefix("non-finite float ") {
        let value = rest.split('`').nth(1).unwrap_or(rest);
        return format!(
            "YAML reads an unquoted {value} as an infinite or not-a-number value, which no \
             {takers} takes; write \"{value}\" to mean the text"
        );
    }
    if first.starts_with("expected string scalar") {
        return "a key must be a name; a list or a mapping (`? [a, b]: ...`) cannot be one"
            .to_owned();
    }
    if first.starts_with("cannot deserialize null into string") {
        return "a key is null (`~`, `null` or nothing before the colon); keys are names"
            .to_owned();
    }
    if first.starts_with("multiple YAML documents detected") {
        return "a second YAML document starts here (after a `---` line); a roster config is \
                one document"
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
    let (mut message, mut label, mut help) = (finding.message, finding.label, finding.help);
    if finding.unquoted
        && let Some(raw) = file.text.get(span.clone()).map(str::trim)
        && !raw.is_empty()
    {
        help = Some(format!(
            "YAML reads an unquoted {raw} as a {}; write \"{raw}\" to mean the text",
            if matches!(raw, "true" | "false" | "True" | "False" | "TRUE" | "FALSE") {
                "boolean"
            } else {
                "number"
            }
        ));
    }
    // A secret written inline never reaches a terminal or a CI log, whatever a message quotes
    // of it (the snippet masks it too).
    let secrets = crate::diagnostic::Secrets::of(&file.text);
    let mut pointer = finding.pointer;
    for text in [
        Some(&mut pointer),
        Some(&mut message),
        Some(&mut label),
        help.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        *text = secrets.hide(text);
    }
    Diagnostic {
        severity: finding.severity,
        file: Arc::clone(file),
        span,
        pointer,
        message,
        label,
        help,
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
