//! Rendering a plan: text for terminals, markdown for pull requests, JSON for machines, from
//! the same `Plan`, written to any `io::Write` (`write`) or kept as a `String` (`render`). JSON
//! streams: a 100 MB plan is never held as text.

pub(crate) mod explain;
mod json;
pub(crate) mod markdown;
pub(crate) mod overview;
pub(crate) mod report;
pub(crate) mod text;

use std::io::Write as _;
use std::sync::LazyLock;

use crate::plan::Plan;

/// The three formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Markdown,
    Json,
}

/// Writes the plan in `format` to `out`; `mask` hides email local parts (for public
/// repositories).
pub(crate) fn write(
    out: &mut dyn std::io::Write,
    plan: &Plan,
    format: Format,
    color: bool,
    mask: bool,
) -> std::io::Result<()> {
    let masked = |text: String| if mask { mask_emails(&text) } else { text };
    match format {
        Format::Json if !mask => {
            let mut out = std::io::BufWriter::new(out);
            json::write(&mut out, plan)?;
            out.flush()
        }
        Format::Json => {
            let json = serde_json::to_string_pretty(plan).map_err(std::io::Error::other)?;
            out.write_all(masked(json).as_bytes())?;
            out.write_all(b"\n")
        }
        Format::Text => {
            let mut out = std::io::BufWriter::new(out);
            if plan.refused.is_none()
                && let Some(overview) = overview::of(plan)
            {
                for line in overview::text(&overview, plan.changes.len()) {
                    out.write_all(masked(line).as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
            // Each line written as it is made; the first write error ends the writing.
            let mut written = Ok(());
            text::each_line(plan, &mut |line| {
                if written.is_ok() {
                    written = out
                        .write_all(masked(line.to_text(color)).as_bytes())
                        .and_then(|()| out.write_all(b"\n"));
                }
            });
            written?;
            out.flush()
        }
        Format::Markdown => out.write_all(masked(markdown::render(plan)).as_bytes()),
    }
}

/// The plan in `format`, as text (for the job summary, hashes and tests).
pub(crate) fn render(plan: &Plan, format: Format, color: bool, mask: bool) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(&mut out, plan, format, color, mask);
    String::from_utf8(out).unwrap_or_default()
}

static EMAIL: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(r"[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)").ok()
});

/// `ava.martinez@contoso.com` → `•••@contoso.com`.
/// Text (a name, a reason, an API's message) as a markdown table cell that shows exactly that
/// text: never markdown or HTML — a `<!-- ... -->`, a link, an image, an `@mention`, emphasis, a
/// code span or a table pipe in it must not change the comment or the job summary.
pub(crate) fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("&#64;"),
            '`' => out.push_str("&#96;"),
            '\n' | '\r' => out.push(' '),
            // `[` escaped is enough to keep `![...](...)` from being an image.
            '[' | ']' | '|' | '*' | '_' | '~' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Text inside a code span in a markdown table cell: shown literally, so only what would end the
/// span (a backtick, shown as `'`), the cell (`|`, escaped as GitHub's tables want even in code)
/// or the row (a line break) is changed.
pub(crate) fn code_cell(text: &str) -> String {
    text.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

pub(crate) fn mask_emails(text: &str) -> String {
    match EMAIL.as_ref() {
        Some(re) => re.replace_all(text, "•••@$1").into_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_local_parts_only() {
        assert_eq!(
            super::mask_emails("user \"ava.martinez@contoso.com.dev1\" and o'brien@x.io"),
            "user \"•••@contoso.com.dev1\" and •••@x.io"
        );
    }
}
