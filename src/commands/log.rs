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
    file: PathBuf,
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
            || [self.text("source_id"), self.text("target_id")]
                .iter()
                .any(|id| {
                    !id.is_empty()
                        && (id.eq_ignore_ascii_case(user) || crate::salesforce::same_id(id, user))
                })
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

    /// Where it came from: the commit, actor, run and repository CI recorded, if any.
    fn origin(&self) -> String {
        let mut parts = Vec::new();
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
    let files: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("roster-audit.jsonl")]
    } else {
        args.files.clone()
    };
    let mut entries = Vec::new();
    let mut unreadable = 0;
    for file in &files {
        unreadable += read(file, &mut entries)?;
    }
    // The same line twice (an artifact downloaded twice) is one change.
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| seen.insert(e.line.to_string()));
    entries.retain(|e| {
        since.as_deref().is_none_or(|s| e.text("time") >= s)
            && args.user.as_deref().is_none_or(|u| e.about(u))
    });
    // Oldest first, across files; a line's order within its file breaks ties.
    entries.sort_by(|a, b| a.text("time").cmp(b.text("time")));
    let out = match args.format {
        // Keys and names from the log's lines show, never acting on the terminal.
        LogFormat::Text => crate::render::visible_lines(&text(&entries)).into_owned(),
        LogFormat::Markdown => markdown(&entries),
        LogFormat::Csv => csv(&entries)?,
        LogFormat::Json => {
            let lines: Vec<&Value> = entries.iter().map(|e| &e.line).collect();
            let mut text = serde_json::to_string_pretty(&lines)
                .map_err(|e| Error::Output(std::io::Error::other(e)))?;
            text.push('\n');
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

/// `--since`: a date (`2026-11-01`, from its midnight UTC) or a UTC time
/// (`2026-11-01T09:30:00Z`); the audit log's times are UTC and sort as text.
fn since(text: &str) -> Result<String, Error> {
    let date = text.len() == 10
        && crate::expr::parse_date(text).is_some()
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-';
    let time = text.ends_with('Z') && text.contains('T') && crate::expr::parse_date(text).is_some();
    if date || time {
        Ok(text.trim_end_matches('Z').to_owned())
    } else {
        Err(Error::Usage(format!(
            "--since {text:?}: give a date (2026-11-01) or a UTC time (2026-11-01T09:30:00Z)"
        )))
    }
}

/// Reads one audit log's lines into `entries`; returns how many could not be read, each named
/// on stderr with its file and line.
fn read(file: &Path, entries: &mut Vec<Entry>) -> Result<usize, Error> {
    let bytes = std::fs::read(file).map_err(|source| Error::File {
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
        match serde_json::from_str::<Value>(line) {
            Ok(value) if value.get("time").and_then(Value::as_str).is_some() => {
                entries.push(Entry {
                    line: value,
                    file: file.to_owned(),
                });
            }
            Ok(_) => {
                unreadable += 1;
                super::warn(&format!(
                    "{}:{}: not an audit line (no `time`)",
                    display_path(file),
                    i + 1
                ));
            }
            Err(e) => {
                unreadable += 1;
                super::warn(&format!(
                    "{}:{}:{}: not an audit line: {e}",
                    display_path(file),
                    i + 1,
                    e.column()
                ));
            }
        }
    }
    Ok(unreadable)
}

fn text(entries: &[Entry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("No changes recorded.\n");
    }
    for e in entries {
        let _ = writeln!(
            out,
            "{}  {:<10}  {}  {}",
            e.text("time"),
            e.text("action"),
            e.subject(),
            e.text("result")
        );
        let what = e.what();
        if !what.is_empty() {
            let _ = writeln!(out, "    {what}");
        }
        let origin = e.origin();
        if !origin.is_empty() {
            let _ = writeln!(out, "    {origin}");
        }
    }
    out
}

fn markdown(entries: &[Entry]) -> String {
    let cell = crate::render::markdown_text;
    let mut out = String::from(
        "| time | action | user | result | change | commit | actor | run |\n|---|---|---|---|---|---|---|---|\n",
    );
    for e in entries {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(e.text("time")),
            cell(e.text("action")),
            cell(&e.subject()),
            cell(e.text("result")),
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
        ];
        writer.write_record(cells.map(inert)).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Output(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
