//! Finds where a JSON pointer into the config sits in the YAML text, so every error can say
//! `file:line:column` and underline the right key or value.

use std::ops::Range;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

use crate::diagnostic::SourceFile;

/// The YAML document with the position of every node.
pub(crate) struct Locator<'a> {
    file: &'a SourceFile,
    root: Option<MarkedYamlOwned>,
}

/// What to underline for a pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Part {
    /// The value at the pointer.
    Value,
    /// The key naming the pointer's last segment (for unknown or duplicate keys).
    Key,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(file: &'a SourceFile) -> Self {
        let root = MarkedYamlOwned::load_from_str(&file.text)
            .ok()
            .and_then(|docs| docs.into_iter().next());
        Locator { file, root }
    }

    /// The byte range of the pointer's key or value; the nearest existing ancestor when the
    /// pointer names something absent; the document start when nothing is known.
    pub(crate) fn span(&self, pointer: &str, part: Part) -> Range<usize> {
        let Some(root) = &self.root else {
            return 0..0;
        };
        let mut node = root;
        let mut key_node: Option<&MarkedYamlOwned> = None;
        for segment in segments(pointer) {
            match child(node, &segment) {
                Some((key, value)) => {
                    key_node = key;
                    node = value;
                }
                None => return self.range(node),
            }
        }
        match (part, key_node) {
            (Part::Key, Some(key)) => self.range(key),
            _ => self.range(node),
        }
    }

    /// The byte offset in the file of character `inner` (a byte offset) of the string scalar at
    /// `pointer`, so an expression error points at the exact character. Plain, single- and
    /// double-quoted one-line scalars map exactly; block scalars map to their first line.
    pub(crate) fn offset_in_scalar(&self, pointer: &str, inner: usize) -> usize {
        let range = self.span(pointer, Part::Value);
        let raw = &self.file.text[range.clone()];
        let mut offset = range.start;
        let mut remaining = inner;
        let mut chars = raw.char_indices().peekable();
        let quote = match raw.chars().next() {
            Some(q @ ('\'' | '"')) => {
                chars.next();
                Some(q)
            }
            Some('|' | '>') => return range.start,
            _ => None,
        };
        while let Some((i, c)) = chars.next() {
            offset = range.start + i;
            if remaining == 0 {
                return offset;
            }
            let decoded_len = match (quote, c) {
                (Some('\''), '\'') if chars.peek().map(|(_, c)| *c) == Some('\'') => {
                    chars.next();
                    1
                }
                (Some('"'), '\\') => {
                    chars.next();
                    1
                }
                _ => c.len_utf8(),
            };
            remaining = remaining.saturating_sub(decoded_len);
        }
        offset.max(range.start)
    }

    fn range(&self, node: &MarkedYamlOwned) -> Range<usize> {
        let start = node.span.start;
        let end = node.span.end;
        let from = self.file.offset_of(start.line(), start.col());
        let to = self.file.offset_of(end.line(), end.col()).max(from);
        // Block collections end where the next sibling starts; keep the underline on one line.
        let to = self.file.text[from..to]
            .find('\n')
            .map_or(to, |newline| from + newline);
        from..to
    }
}

/// Splits a JSON pointer into unescaped segments.
pub(crate) fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn child<'n>(
    node: &'n MarkedYamlOwned,
    segment: &str,
) -> Option<(Option<&'n MarkedYamlOwned>, &'n MarkedYamlOwned)> {
    match &node.data {
        YamlDataOwned::Mapping(map) => map
            .iter()
            .find(|(k, _)| scalar_text(k).as_deref() == Some(segment))
            .map(|(k, v)| (Some(k), v)),
        YamlDataOwned::Sequence(items) => segment
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .map(|v| (None, v)),
        YamlDataOwned::Tagged(_, inner) => child(inner, segment),
        _ => None,
    }
}

fn scalar_text(node: &MarkedYamlOwned) -> Option<String> {
    match &node.data {
        YamlDataOwned::Value(ScalarOwned::String(s)) | YamlDataOwned::Representation(s, _, _) => {
            Some(s.clone())
        }
        YamlDataOwned::Value(ScalarOwned::Integer(i)) => Some(i.to_string()),
        YamlDataOwned::Value(ScalarOwned::Boolean(b)) => Some(b.to_string()),
        YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => Some(f.to_string()),
        YamlDataOwned::Value(ScalarOwned::Null) => Some("null".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from("t.yaml"),
            text: text.to_owned(),
        }
    }

    #[test]
    fn finds_values_and_keys_in_nested_sequences() {
        let f = file(
            "version: 1\nmappings:\n  - {target: Email, source: mail}\n  - target: X\n    expression: 'Join(\" \", [a])'\n",
        );
        let loc = Locator::new(&f);
        let span = loc.span("/mappings/0/source", Part::Value);
        assert_eq!(&f.text[span], "mail");
        let span = loc.span("/mappings/1/expression", Part::Key);
        assert_eq!(&f.text[span], "expression");
        // An absent key falls back to its parent.
        let span = loc.span("/mappings/1/nothing", Part::Value);
        assert_eq!(f.line_col(span.start), (4, 5));
    }

    #[test]
    fn offsets_inside_quoted_scalars() {
        let f = file("e: 'It''s [x]'\nd: \"a\\\"b [y]\"\np: Join(, [z])\n");
        let loc = Locator::new(&f);
        // "It's [x]": '[' is byte 5 of the value.
        assert_eq!(&f.text[loc.offset_in_scalar("/e", 5)..][..1], "[");
        // "a\"b [y]": '[' is byte 4 of the value.
        assert_eq!(&f.text[loc.offset_in_scalar("/d", 4)..][..1], "[");
        assert_eq!(&f.text[loc.offset_in_scalar("/p", 7)..][..1], "[");
    }
}
