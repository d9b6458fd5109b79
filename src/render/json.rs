//! The plan as JSON, exactly as `serde_json::to_writer_pretty` writes it, but with the changes
//! (some 130 MB for 100,000 users) rendered on threads of their own a chunk at a time
//! (`super::write_in_chunks`).

use std::io::Write;

use crate::plan::{Change, Plan};

/// Writes `plan` as pretty JSON and a newline to `out`.
///
/// # Errors
/// The first write error of `out`.
pub(super) fn write(out: &mut dyn Write, plan: &Plan) -> std::io::Result<()> {
    write_chunked(out, plan, super::CHUNK)
}

fn write_chunked(out: &mut dyn Write, plan: &Plan, chunk: usize) -> std::io::Result<()> {
    // The top level's keys are indented by two spaces, and JSON strings hold no raw line
    // breaks: this is the `changes` key of the plan itself.
    const KEY: &[u8] = b"\n  \"changes\": []";
    let mut shell = Vec::new();
    serde_json::to_writer_pretty(&mut shell, &without_changes(plan))?;
    let at = shell
        .windows(KEY.len())
        .position(|w| w == KEY)
        .map(|at| at + KEY.len() - 2)
        .ok_or_else(|| std::io::Error::other("the plan's JSON has no changes key"))?;
    if plan.changes.is_empty() {
        out.write_all(&shell)?;
        return out.write_all(b"\n");
    }
    out.write_all(&shell[..at])?;
    out.write_all(b"[")?;
    super::write_in_chunks(out, &plan.changes, chunk, |n, changes| {
        render(changes, n == 0)
    })?;
    out.write_all(b"\n  ]")?;
    out.write_all(&shell[at + 2..])?;
    out.write_all(b"\n")
}

/// `changes` as the elements of the plan's `changes` array, two levels deep: each after the
/// separator the pretty printer writes there (none but a line break before the very first).
fn render(changes: &[Change], first: bool) -> std::io::Result<Vec<u8>> {
    let mut text = Vec::with_capacity(changes.len() * 1400);
    let place = Nested::at(2);
    for (i, change) in changes.iter().enumerate() {
        place.item(&mut text, first && i == 0)?;
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, Nested::at(2));
        serde::Serialize::serialize(change, &mut serializer)?;
    }
    Ok(text)
}

/// serde_json's `PrettyFormatter` (two spaces a level) starting `depth` levels deep, as a value
/// inside the plan is written: the same bytes as the pretty printer gives it there.
struct Nested {
    depth: usize,
    has_value: bool,
}

impl Nested {
    fn at(depth: usize) -> Nested {
        Nested {
            depth,
            has_value: false,
        }
    }

    fn indent<W: ?Sized + Write>(&self, out: &mut W) -> std::io::Result<()> {
        for _ in 0..self.depth {
            out.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            out.write_all(b"\n")?;
            self.indent(out)?;
        }
        out.write_all(bracket)
    }

    fn item<W: ?Sized + Write>(&self, out: &mut W, first: bool) -> std::io::Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(out)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(out, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(out, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `plan` with no changes, every other field cloned: destructured in full, so that a field added
/// to `Plan` must be added here too.
fn without_changes(plan: &Plan) -> Plan {
    let Plan {
        format_version,
        config_sha256,
        target,
        summary,
        headline,
        changes: _,
        errors,
        skipped,
        warnings,
        deleted_in_entra,
        safety,
        refused,
        config_problems,
        targeted,
        baseline,
        app_roles,
    } = plan;
    Plan {
        format_version: *format_version,
        config_sha256: config_sha256.clone(),
        target: target.clone(),
        summary: *summary,
        headline: headline.clone(),
        changes: Vec::new(),
        errors: errors.clone(),
        skipped: skipped.clone(),
        warnings: warnings.clone(),
        deleted_in_entra: deleted_in_entra.clone(),
        safety: safety.clone(),
        refused: refused.clone(),
        config_problems: config_problems.clone(),
        targeted: targeted.clone(),
        baseline: baseline.clone(),
        app_roles: app_roles.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Situation};

    fn plan_of(changes: usize) -> Plan {
        let mut plan = Plan {
            headline: "a \"quoted\"\nheadline".to_owned(),
            warnings: vec!["one".to_owned()],
            ..Plan::default()
        };
        for i in 0..changes {
            let mut change = Change::new(
                Action::Create,
                format!("user{i}@contoso.com"),
                Situation::Unmatched,
            );
            change.after.insert(
                "Username".into(),
                serde_json::Value::String(format!("user{i}@contoso.com.dev1")),
            );
            change.after.insert(
                "Title".into(),
                serde_json::Value::String("line\nbreak \u{1b}[31m".to_owned()),
            );
            plan.changes.push(change);
        }
        plan
    }

    #[test]
    fn chunked_json_is_byte_for_byte_what_serde_json_writes() {
        for (changes, chunk) in [(0, 3), (1, 3), (3, 3), (4, 3), (10, 3), (7, 1), (5, 1024)] {
            let plan = plan_of(changes);
            let mut expected = serde_json::to_vec_pretty(&plan).unwrap();
            expected.push(b'\n');
            let mut written = Vec::new();
            write_chunked(&mut written, &plan, chunk).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{changes} changes in chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_write_error_is_returned_not_swallowed() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "disk full",
                ))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let error = write_chunked(&mut Full, &plan_of(10), 3).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::StorageFull);
    }
}
