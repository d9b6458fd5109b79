//! Rendering a plan: text for terminals, markdown for pull requests, JSON for machines. Each
//! renders to a `String` the caller writes, from the same `Plan`.

pub(crate) mod explain;
pub(crate) mod markdown;
pub(crate) mod report;
pub(crate) mod text;

use std::sync::LazyLock;

use crate::plan::Plan;

/// The three formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Markdown,
    Json,
}

/// The plan in `format`; `mask` hides email local parts (for public repositories).
pub(crate) fn render(plan: &Plan, format: Format, color: bool, mask: bool) -> String {
    let out = match format {
        Format::Text => text::render(plan, color),
        Format::Markdown => markdown::render(plan),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(plan).unwrap_or_default();
            json.push('\n');
            json
        }
    };
    if mask { mask_emails(&out) } else { out }
}

static EMAIL: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(r"[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)").ok()
});

/// `ava.martinez@contoso.com` → `•••@contoso.com`.
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
