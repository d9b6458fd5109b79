//! The plan as JSON, exactly as `serde_json::to_writer_pretty` writes it, but with the changes
//! (some 130 MB for 100,000 users) rendered on threads of their own a chunk at a time
//! (`super::write_in_chunks`), each change laid out here (`push_change`).

use std::io::Write;

use serde::Serialize;

use crate::field_value::FieldValue;
use crate::plan::{Change, GrantRef, Plan};
use crate::sorted_map::SortedMap;

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
    for (i, change) in changes.iter().enumerate() {
        push_item(&mut text, first && i == 0, CHANGE);
        push_change(&mut text, change)?;
    }
    Ok(text)
}

/// The level a change is written at: an element of the plan's `changes` array, two levels deep
/// (its fields one deeper).
const CHANGE: usize = 2;

/// `change` as `Change`'s `Serialize` and serde_json's pretty printer write it inside the plan,
/// byte for byte (`changes_are_laid_out_as_serde_json_lays_them_out`), but faster: serde_json
/// passes every string through its formatter a byte at a time, and a change holds some 45 of
/// them (field names and values, ids, the reason). In a 100,000-user plan those calls were the
/// largest single cost of rendering (a tenth of a whole `plan --snapshot` run's cycles, by
/// `perf`). Every field is named here, so a field added to `Change` must be added here too;
/// enums and values other than strings are still written by serde_json.
///
/// # Errors
/// Only serde_json's, for a value it cannot write (a map with keys that are not strings).
fn push_change(out: &mut Vec<u8>, change: &Change) -> std::io::Result<()> {
    let Change {
        action,
        key,
        situation,
        reason,
        source_id,
        target_id,
        before,
        after,
        labels,
        unchanged,
        grants,
        fingerprint,
        cause,
        pending_fields,
        login_id,
    } = change;
    let mut object = Object::open(out, CHANGE);
    push_serialized(object.key("action"), action, CHANGE + 1)?;
    push_string(object.key("key"), key);
    push_serialized(object.key("situation"), situation, CHANGE + 1)?;
    push_string(object.key("reason"), reason);
    push_optional(object.key("source_id"), source_id.as_deref());
    push_optional(object.key("target_id"), target_id.as_deref());
    push_fields(object.key("before"), before, CHANGE + 1)?;
    push_fields(object.key("after"), after, CHANGE + 1)?;
    let mut names = Object::open(object.key("labels"), CHANGE + 1);
    for (id, name) in labels.map().iter() {
        push_string(names.key(id), name);
    }
    names.close();
    write!(object.key("unchanged"), "{unchanged}")?;
    let mut lists = Object::open(object.key("grants"), CHANGE + 1);
    push_grants(lists.key("add"), &grants.add, CHANGE + 2)?;
    push_grants(lists.key("remove"), &grants.remove, CHANGE + 2)?;
    lists.close();
    push_optional(object.key("fingerprint"), fingerprint.as_deref());
    if let Some(cause) = cause {
        push_serialized(object.key("cause"), cause, CHANGE + 1)?;
    }
    if !pending_fields.is_empty() {
        let out = object.key("pending_fields");
        out.push(b'[');
        for (i, field) in pending_fields.iter().enumerate() {
            push_item(out, i == 0, CHANGE + 2);
            push_string(out, field);
        }
        push_line(out, CHANGE + 1);
        out.push(b']');
    }
    if let Some(login_id) = login_id {
        push_string(object.key("login_id"), login_id);
    }
    object.close();
    Ok(())
}

/// A change's fields (`before`, `after`) as an object `depth` levels deep.
fn push_fields<K: std::borrow::Borrow<str>>(
    out: &mut Vec<u8>,
    fields: &SortedMap<K, FieldValue>,
    depth: usize,
) -> std::io::Result<()> {
    let mut object = Object::open(out, depth);
    for (name, value) in fields.iter() {
        let out = object.key(name.borrow());
        match value {
            FieldValue::Text(text) => push_string(out, text),
            other => push_serialized(out, other, depth + 1)?,
        }
    }
    object.close();
    Ok(())
}

/// A change's grants to add or remove, as an array `depth` levels deep.
fn push_grants(out: &mut Vec<u8>, grants: &[GrantRef], depth: usize) -> std::io::Result<()> {
    if grants.is_empty() {
        out.extend_from_slice(b"[]");
        return Ok(());
    }
    out.push(b'[');
    for (i, grant) in grants.iter().enumerate() {
        let GrantRef {
            kind,
            name,
            id,
            assignment_id,
            implied_by,
        } = grant;
        push_item(out, i == 0, depth + 1);
        let mut object = Object::open(out, depth + 1);
        push_serialized(object.key("kind"), kind, depth + 2)?;
        push_string(object.key("name"), name);
        push_string(object.key("id"), id);
        if let Some(assignment_id) = assignment_id {
            push_string(object.key("assignment_id"), assignment_id);
        }
        if let Some(implied_by) = implied_by {
            push_string(object.key("implied_by"), implied_by);
        }
        object.close();
    }
    push_line(out, depth);
    out.push(b']');
    Ok(())
}

/// An object being written `depth` levels deep, as the pretty printer lays it out: `{}` when
/// empty, else each key on a line of its own one level deeper, and the closing brace on a line
/// at `depth`.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>, depth: usize) -> Object<'a> {
        out.push(b'{');
        Object {
            out,
            depth,
            empty: true,
        }
    }

    /// Writes the separator and `key`, and gives the place of its value.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        push_item(self.out, self.empty, self.depth + 1);
        self.empty = false;
        push_string(self.out, key);
        self.out.extend_from_slice(b": ");
        self.out
    }

    fn close(self) {
        if !self.empty {
            push_line(self.out, self.depth);
        }
        self.out.push(b'}');
    }
}

/// What comes before an element or a key `depth` levels deep: a comma unless it is the first,
/// and a line break and indentation.
fn push_item(out: &mut Vec<u8>, first: bool, depth: usize) {
    if !first {
        out.push(b',');
    }
    push_line(out, depth);
}

/// A line break and two spaces a level for `depth` levels.
fn push_line(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.resize(out.len() + 2 * depth, b' ');
}

/// `text` as a JSON string, as serde_json writes it. Nearly every string of a plan needs no
/// escape — no `"`, no `\`, no control character below U+0020, which are all serde_json
/// escapes (it writes DEL and every other character as it is) — and is written between quotes
/// as it is, after one look at its bytes (a fold the compiler vectorizes); serde_json writes
/// the rest.
fn push_string(out: &mut Vec<u8>, text: &str) {
    #[expect(
        clippy::needless_bitwise_bool,
        reason = "no branch a byte: the loop is vectorized"
    )]
    let plain = text.bytes().fold(true, |plain, b| {
        plain & (b >= b' ') & (b != b'"') & (b != b'\\')
    });
    if plain {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // A string is always written: serde_json fails only on a writer's error, and a
        // `Vec` has none.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// `text`, or `null`.
fn push_optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// `value` as serde_json's pretty printer writes it `depth` levels deep.
fn push_serialized<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    depth: usize,
) -> std::io::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(
        out,
        Nested::at(depth),
    ))?;
    Ok(())
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
                (serde_json::Value::String(format!("user{i}@contoso.com.dev1"))).into(),
            );
            change.after.insert(
                "Title".into(),
                (serde_json::Value::String("line\nbreak \u{1b}[31m".to_owned())).into(),
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

    /// `change` written alone, as `push_change` writes it and as serde_json writes it at the
    /// same place (the one element of a plan's `changes`).
    fn both_ways(change: &Change) -> (String, String) {
        let plan = Plan {
            changes: vec![change.clone()],
            ..Plan::default()
        };
        let mut expected = serde_json::to_vec_pretty(&plan).unwrap();
        expected.push(b'\n');
        let mut written = Vec::new();
        write_chunked(&mut written, &plan, 1).unwrap();
        (
            String::from_utf8(written).unwrap(),
            String::from_utf8(expected).unwrap(),
        )
    }

    /// A change with every field filled, and values of every JSON kind.
    fn full_change(text: &str) -> Change {
        use crate::grants::GrantKind;
        use crate::plan::{Cause, GrantRef};
        use serde_json::json;
        let mut change = Change::new(Action::Reactivate, text.to_owned(), Situation::Linked);
        change.reason = std::sync::Arc::from(format!("linked; Title: {text}"));
        change.source_id = Some(text.into());
        change.target_id = Some("0058c0000000003AAA".into());
        change.before.insert("IsActive".into(), json!(false).into());
        change.before.insert("Title".into(), json!(text).into());
        change.after.insert("IsActive".into(), json!(true).into());
        change.after.insert("Title".into(), json!(text).into());
        change.after.insert("Count__c".into(), json!(-12.5).into());
        change.after.insert(
            "Seats__c".into(),
            json!(18_446_744_073_709_551_615u64).into(),
        );
        change.after.insert("ManagerId".into(), FieldValue::Null);
        change.after.insert(
            "Tags__c".into(),
            json!(["a", text, 3, {"b": [text, null]}, [], {}]).into(),
        );
        change
            .labels
            .insert(text.into(), "Support \"Tier\" 1".into());
        change
            .labels
            .insert("00e8c0000000004AAA".into(), "Support User".into());
        change.unchanged = 11;
        let grant =
            |kind, name: &str, assignment_id: Option<&str>, implied_by: Option<&str>| GrantRef {
                kind,
                name: name.into(),
                id: "0PS8c0000000002GAA".into(),
                assignment_id: assignment_id.map(str::to_owned),
                implied_by: implied_by.map(str::to_owned),
            };
        change.grants.add = vec![
            grant(GrantKind::PermissionSet, text, None, None),
            grant(GrantKind::PermissionSetLicense, "Sales", None, Some(text)),
        ];
        change.grants.remove = vec![grant(GrantKind::Queue, "Tier_2", Some(text), None)];
        change.fingerprint = Some("2026-01-01T00:00:16.000+0000".into());
        change.cause = Some(Cause::Pending);
        change.pending_fields = vec!["Title".to_owned(), format!("+ permission set {text}")];
        change.login_id = Some(text.into());
        change
    }

    #[test]
    fn changes_are_laid_out_as_serde_json_lays_them_out() {
        let texts = [
            "ava@contoso.com",
            "",
            "say \"hi\"",
            "back\\slash",
            "tab\there, line\nbreak, \r\u{8}\u{c}",
            "\u{0}\u{1}\u{1f} \u{7f}",
            "Zoë 🦀 \u{200b}\u{2028}",
        ];
        for text in texts {
            let (written, expected) = both_ways(&full_change(text));
            assert_eq!(written, expected, "{text:?}");
        }
        // Empty lists and maps, the options all absent, a change with nothing in it.
        let mut bare = full_change("x");
        bare.before = crate::plan::Fields::new();
        bare.labels = crate::plan::Labels::default();
        bare.grants.add.clear();
        bare.cause = None;
        bare.pending_fields.clear();
        bare.login_id = None;
        bare.fingerprint = None;
        bare.source_id = None;
        let (written, expected) = both_ways(&bare);
        assert_eq!(written, expected);
        let empty = Change::new(Action::Deactivate, String::new(), Situation::Orphaned);
        let (written, expected) = both_ways(&empty);
        assert_eq!(written, expected);
    }

    proptest::proptest! {
        /// Any text, in every place a change holds one, is written as serde_json writes it.
        #[test]
        fn any_text_is_written_as_serde_json_writes_it(text in "(?s).{0,40}") {
            let (written, expected) = both_ways(&full_change(&text));
            proptest::prop_assert_eq!(written, expected);
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
