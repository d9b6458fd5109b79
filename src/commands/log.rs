//! `roster log`: what auditors ask of the audit log — every change to a user's account and
//! grants (and to the application's app roles), when, with what result, and from which commit,
//! actor and run when CI recorded them — over one or more audit-log files, oldest first.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::{LogArgs, LogFormat};
use crate::diagnostic::display_path;
use crate::error::{Error, Outcome};

/// One line of an audit log, with where it came from.
struct Entry {
    line: Value,
    /// The line as the log holds it, for `--format json`: the record an auditor reads, its keys
    /// in their order and its numbers as written, not re-serialized.
    text: Box<str>,
    /// Its `time` as an instant (Unix nanoseconds): times compare as instants, not as text.
    instant: i128,
    file: PathBuf,
}

/// An RFC 3339 time (roster writes `2026-11-30T10:15:00.123Z`) as Unix nanoseconds; none for
/// anything else.
fn instant(text: &str) -> Option<i128> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp_nanos)
}

/// What an audit line must be: the schema `roster schema --audit-line` prints, for a user's
/// change or (`"kind": "entra_app_role"`) an app role's.
struct Schemas {
    user: jsonschema::Validator,
    app_role: jsonschema::Validator,
}

impl Schemas {
    fn new() -> Result<Schemas, Error> {
        let (user, app_role) = crate::apply::audit_line_schemas();
        let compile = |schema: &Value| {
            jsonschema::validator_for(schema).map_err(|e| {
                Error::Output(std::io::Error::other(format!(
                    "internal: the audit line's schema does not compile: {e}"
                )))
            })
        };
        Ok(Schemas {
            user: compile(&user)?,
            app_role: compile(&app_role)?,
        })
    }

    /// Why `line` is not an audit line, if it is not: the first place the schema refuses, or
    /// a `time` that is no RFC 3339 time.
    fn check(&self, line: &Value) -> Result<i128, String> {
        let validator = if line.get("kind").and_then(Value::as_str) == Some("entra_app_role") {
            &self.app_role
        } else {
            &self.user
        };
        if let Some(error) = validator.iter_errors(line).next() {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() {
                "the line".to_owned()
            } else {
                format!("`{at}`")
            };
            return Err(format!("{at}: {error}"));
        }
        // A change's result is what its steps came to: a line that says `applied` over a
        // failed step is no line roster wrote.
        let steps: Vec<crate::apply::Status> = line
            .get("steps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| serde_json::from_value(s.get("result")?.clone()).ok())
            .collect();
        let said = line
            .get("result")
            .and_then(|r| serde_json::from_value::<crate::apply::Status>(r.clone()).ok());
        let came_to = crate::apply::overall_of(steps.iter().copied());
        if let Some(said) = said
            && !steps.is_empty()
            && said != came_to
        {
            let name =
                |status: crate::apply::Status| serde_json::to_value(status).unwrap_or_default();
            return Err(format!(
                "`/result` {} is not what its steps came to ({})",
                name(said),
                name(came_to)
            ));
        }
        let time = line.get("time").and_then(Value::as_str).unwrap_or_default();
        instant(time).ok_or_else(|| {
            format!(
                "`/time` {} is not an RFC 3339 time (2026-11-30T10:15:00.123Z)",
                crate::render::quoted(time)
            )
        })
    }
}

impl Entry {
    fn text(&self, key: &str) -> &str {
        self.line
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn github(&self, key: &str) -> &str {
        self.line
            .get("github")
            .and_then(|g| g.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The org the change was made in: its id, and its instance URL where the line has one.
    fn org(&self) -> String {
        match self.text("instance_url") {
            "" => self.text("org_id").to_owned(),
            url => format!("{} ({url})", self.text("org_id")),
        }
    }

    fn is_app_role(&self) -> bool {
        self.text("kind") == "entra_app_role"
    }

    /// Who the line is about: the user's key, or `entra_app_role["name"]`.
    fn subject(&self) -> String {
        if self.is_app_role() {
            format!("entra_app_role[{:?}]", self.text("display_name"))
        } else {
            self.text("key").to_owned()
        }
    }

    /// Whether the line is about `user`: its key, its Entra or Salesforce id, or a Username it
    /// had or was given (case-insensitive, 15- or 18-character Salesforce ids alike).
    fn about(&self, user: &str) -> bool {
        let username = |side: &str| {
            self.line
                .get(side)
                .and_then(|s| s.get("Username"))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        [self.text("key"), username("before"), username("after")]
            .iter()
            .any(|k| !k.is_empty() && k.eq_ignore_ascii_case(user))
            // A Salesforce id's 15 characters compare with case (an 18-character id's restored
            // from its suffix), an Entra object id without.
            || [self.text("source_id"), self.text("target_id")]
                .iter()
                .any(|id| !id.is_empty() && crate::salesforce::same_id(id, user))
    }

    /// What changed, in one line: the fields (`Title: "a" -> "b"`), then the grants
    /// (`+ permission set X`, `- queue Y`); for an app role, its display name and state.
    fn what(&self) -> String {
        let mut parts = Vec::new();
        let shown = |v: Option<&Value>| match v {
            None | Some(Value::Null) => "null".to_owned(),
            Some(Value::String(s)) => format!("{s:?}"),
            Some(other) => other.to_string(),
        };
        if self.is_app_role() {
            for field in ["display_name", "value", "is_enabled"] {
                let before = self.line.get("before").and_then(|b| b.get(field));
                let after = self.line.get("after").and_then(|a| a.get(field));
                if before != after {
                    parts.push(format!("{field}: {} -> {}", shown(before), shown(after)));
                }
            }
            return parts.join("; ");
        }
        let before = self.line.get("before").and_then(Value::as_object);
        if let Some(after) = self.line.get("after").and_then(Value::as_object) {
            for (field, value) in after {
                parts.push(format!(
                    "{field}: {} -> {}",
                    shown(before.and_then(|b| b.get(field))),
                    shown(Some(value))
                ));
            }
        }
        for (side, mark) in [("add", '+'), ("remove", '-')] {
            let grants = self
                .line
                .get("grants")
                .and_then(|g| g.get(side))
                .and_then(Value::as_array);
            for grant in grants.into_iter().flatten() {
                // As the apply's steps name it (`permission set licence`).
                let kind = grant
                    .get("kind")
                    .and_then(|k| {
                        serde_json::from_value::<crate::grants::GrantKind>(k.clone()).ok()
                    })
                    .map_or_else(
                        || {
                            grant
                                .get("kind")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .replace('_', " ")
                        },
                        |k| k.to_string(),
                    );
                let name = grant
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                parts.push(format!("{mark} {kind} {name}"));
            }
        }
        parts.join("; ")
    }

    /// Its steps, when not every one was applied: each step's result and Salesforce's error
    /// (`deactivate failed (FIELD_INTEGRITY_EXCEPTION: ...); freeze applied`).
    fn steps(&self) -> String {
        let steps = self
            .line
            .get("steps")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let text = |step: &Value, key: &str| {
            step.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if steps.iter().all(|s| text(s, "result") == "applied") {
            return String::new();
        }
        steps
            .iter()
            .map(|step| {
                let error: Vec<String> = [text(step, "code"), text(step, "message")]
                    .into_iter()
                    .filter(|t| !t.is_empty())
                    .collect();
                let shown = format!("{} {}", text(step, "step"), text(step, "result"));
                if error.is_empty() {
                    shown
                } else {
                    format!("{shown} ({})", error.join(": "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Where it came from: the org, when `org` (the logs read name several), and the commit,
    /// actor, run and repository CI recorded, if any.
    fn origin(&self, org: bool) -> String {
        let mut parts = Vec::new();
        if org && !self.text("org_id").is_empty() {
            parts.push(format!("org {}", self.org()));
        }
        if !self.github("sha").is_empty() {
            parts.push(format!("commit {}", self.github("sha")));
        }
        if !self.github("actor").is_empty() {
            parts.push(format!("by {}", self.github("actor")));
        }
        if !self.github("run_id").is_empty() {
            parts.push(format!("run {}", self.github("run_id")));
        }
        if !self.github("repository").is_empty() {
            parts.push(format!("in {}", self.github("repository")));
        }
        parts.join(" ")
    }
}

pub(crate) fn run(args: &LogArgs) -> Result<Outcome, Error> {
    let since = args.since.as_deref().map(since).transpose()?;
    let schemas = Schemas::new()?;
    let files: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("roster-audit.jsonl")]
    } else {
        args.files.clone()
    };
    let mut entries = Vec::new();
    let mut unreadable = 0;
    for file in &files {
        unreadable += read(file, &schemas, &mut entries)?;
    }
    // The same line twice (an artifact downloaded twice) is one change, and said so: an
    // auditor counting lines knows where the difference went.
    let mut seen = std::collections::HashSet::new();
    let read_in = entries.len();
    entries.retain(|e| seen.insert(e.line.to_string()));
    if entries.len() < read_in {
        super::warn(&format!(
            "{} line(s) repeat an earlier line exactly (the same log read twice?) and are \
             listed once",
            read_in - entries.len()
        ));
    }
    entries.retain(|e| {
        since.is_none_or(|s| e.instant >= s) && args.user.as_deref().is_none_or(|u| e.about(u))
    });
    // Oldest first, across files; a line's order within its file breaks ties.
    entries.sort_by_key(|e| e.instant);
    // The logs of several orgs (a job per org, one log each) read together: the same user's
    // changes in two orgs would read alike, so each says its org.
    let several_orgs = entries
        .iter()
        .map(|e| e.text("org_id"))
        // An app role's line names no org: it belongs to the tenant's application.
        .filter(|org| !org.is_empty())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let out = match args.format {
        // Keys and names from the log's lines show, never acting on the terminal.
        LogFormat::Text => text(&entries, several_orgs),
        LogFormat::Markdown => markdown(&entries, several_orgs),
        LogFormat::Csv => csv(&entries)?,
        // An array of the lines themselves, one a line.
        LogFormat::Json => {
            let mut text = String::from("[");
            for (i, entry) in entries.iter().enumerate() {
                text.push_str(if i == 0 { "\n  " } else { ",\n  " });
                text.push_str(&entry.text);
            }
            text.push_str(if entries.is_empty() { "]\n" } else { "\n]\n" });
            text
        }
    };
    super::print(&out)?;
    if unreadable > 0 {
        return Err(Error::Usage(format!(
            "{unreadable} line(s) of the audit log could not be read (named above); the changes \
             listed are the readable ones"
        )));
    }
    Ok(Outcome::Success)
}

/// `--since`: a date (`2026-11-01`, from its midnight UTC) or an RFC 3339 time
/// (`2026-11-01T09:30:00Z`, `2026-11-01T11:30:00+02:00`), as Unix nanoseconds.
fn since(text: &str) -> Result<i128, Error> {
    let parsed = if text.len() == 10 {
        instant(&format!("{text}T00:00:00Z"))
    } else {
        instant(text)
    };
    parsed.ok_or_else(|| {
        Error::Usage(format!(
            "--since {text:?}: give a date (2026-11-01) or an RFC 3339 time \
             (2026-11-01T09:30:00Z), one that exists"
        ))
    })
}

/// Reads one audit log's lines into `entries`; returns how many could not be read, each named
/// on stderr with its file and line.
fn read(file: &Path, schemas: &Schemas, entries: &mut Vec<Entry>) -> Result<usize, Error> {
    let bytes = crate::files::read_regular(file).map_err(|source| Error::File {
        action: "read",
        path: file.to_owned(),
        source,
    })?;
    let mut unreadable = 0;
    // Line by line: one line that is not UTF-8 (a disk error, a stray write) is named like any
    // unreadable line, and the others are still read.
    // A byte-order mark an editor put before the first line is no part of it.
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = match std::str::from_utf8(line.strip_suffix(b"\r").unwrap_or(line)) {
            Ok(line) => line,
            Err(e) => {
                unreadable += 1;
                super::warn(&format!(
                    "{}:{}:{}: not an audit line: not UTF-8",
                    display_path(file),
                    i + 1,
                    e.valid_up_to() + 1
                ));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match crate::json::unambiguous(line) {
            Ok(value) => match schemas.check(&value) {
                Ok(instant) => entries.push(Entry {
                    line: value,
                    text: line.trim().into(),
                    instant,
                    file: file.to_owned(),
                }),
                Err(why) => {
                    unreadable += 1;
                    super::warn(&format!(
                        "{}:{}: not an audit line: {why}",
                        display_path(file),
                        i + 1
                    ));
                }
            },
            Err(e) => {
                unreadable += 1;
                super::warn(&format!(
                    "{}:{}:{}: not an audit line: {}",
                    display_path(file),
                    i + 1,
                    crate::json::place(line.as_bytes(), &e).1,
                    crate::json::reason(&e)
                ));
            }
        }
    }
    Ok(unreadable)
}

fn text(entries: &[Entry], several_orgs: bool) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("No changes recorded.\n");
    }
    for e in entries {
        // Each value shown on its line: a line break in one (a name, a CI variable) cannot
        // start a line of its own that reads as another entry.
        let shown = |text: &str| crate::render::visible(text).into_owned();
        let _ = writeln!(
            out,
            "{}  {:<10}  {}  {}",
            shown(e.text("time")),
            shown(e.text("action")),
            shown(&e.subject()),
            shown(e.text("result"))
        );
        for detail in [e.what(), e.steps(), e.origin(several_orgs)] {
            if !detail.is_empty() {
                let _ = writeln!(out, "    {}", shown(&detail));
            }
        }
    }
    out
}

fn markdown(entries: &[Entry], several_orgs: bool) -> String {
    let cell = crate::render::markdown_text;
    let (org, org_rule) = if several_orgs {
        (" org |", "---|")
    } else {
        ("", "")
    };
    let mut out = format!(
        "| time |{org} action | user | result | change | commit | actor | run |\n|---|{org_rule}---|---|---|---|---|---|---|\n",
    );
    for e in entries {
        let org = if several_orgs {
            format!(" {} |", cell(&e.org()))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} |{org} {} | {} | {} | {} | {} | {} | {} |",
            cell(e.text("time")),
            cell(e.text("action")),
            cell(&e.subject()),
            cell([e.text("result"), &e.steps()].join(" ").trim_end()),
            cell(&e.what()),
            cell(e.github("sha")),
            cell(e.github("actor")),
            cell(e.github("run_id"))
        );
    }
    out
}

/// A cell a spreadsheet shows as text: one starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return would be read as a formula (a Username or an actor's name is anyone's choice), so it
/// gets a leading `'`, which spreadsheets hide (OWASP, "CSV Injection").
fn inert(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn csv(entries: &[Entry]) -> Result<String, Error> {
    let failed = |e: csv::Error| Error::Output(std::io::Error::other(e));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "time",
            "action",
            "user",
            "result",
            "change",
            "source_id",
            "target_id",
            "commit",
            "actor",
            "run_id",
            "repository",
            "plan_sha256",
            "file",
            "steps",
            "org_id",
            "instance_url",
        ])
        .map_err(failed)?;
    for e in entries {
        let cells = [
            e.text("time").to_owned(),
            e.text("action").to_owned(),
            e.subject(),
            e.text("result").to_owned(),
            e.what(),
            e.text("source_id").to_owned(),
            e.text("target_id").to_owned(),
            e.github("sha").to_owned(),
            e.github("actor").to_owned(),
            e.github("run_id").to_owned(),
            e.github("repository").to_owned(),
            e.text("plan_sha256").to_owned(),
            display_path(&e.file),
            e.steps(),
            e.text("org_id").to_owned(),
            e.text("instance_url").to_owned(),
        ];
        // Control characters (an escape sequence in a CI variable) shown, never dropped by the
        // terminal layer nor acting in a spreadsheet.
        writer
            .write_record(cells.map(|cell| inert(crate::render::visible_string(cell))))
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Output(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
