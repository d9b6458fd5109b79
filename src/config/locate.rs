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
        let load = |text: &str| {
            MarkedYamlOwned::load_from_str(text)
                .ok()
                .and_then(|docs| docs.into_iter().next())
        };
        // saphyr's marked loader refuses a tab after a key's colon, which the YAML reader
        // accepts: a tab and a space are one byte each, so the places hold.
        let root = load(&file.text).or_else(|| load(&file.text.replace('\t', " ")));
        Locator { file, root }
    }

    /// The byte range of the pointer's key or value; the nearest existing ancestor when the
    /// pointer names something absent; the document start when nothing is known.
    pub(crate) fn span(&self, pointer: &str, part: Part) -> Range<usize> {
        self.node(pointer, part)
            .map_or(0..0, |node| self.range(node))
    }

    /// The node at the pointer (or its nearest existing ancestor).
    fn node(&self, pointer: &str, part: Part) -> Option<&MarkedYamlOwned> {
        let root = self.root.as_ref()?;
        let mut node = root;
        let mut key_node: Option<&MarkedYamlOwned> = None;
        for segment in segments(pointer) {
            match child(node, &segment) {
                Some((key, value)) => {
                    key_node = key;
                    node = value;
                }
                None => return Some(node),
            }
        }
        Some(match (part, key_node) {
            (Part::Key, Some(key)) => key,
            _ => node,
        })
    }

    /// The byte offset in the file of byte `inner` of the decoded string scalar at `pointer`,
    /// so an expression error points at the exact character — on whichever line of a multi-line
    /// scalar it is: plain and quoted scalars with their line folding and escapes (`\u00e9`,
    /// `\t`, an escaped line break), literal and folded block scalars without their indentation.
    pub(crate) fn offset_in_scalar(&self, pointer: &str, inner: usize) -> usize {
        let Some(node) = self.node(pointer, Part::Value) else {
            return 0;
        };
        let start = self
            .file
            .offset_of(node.span.start.line(), node.span.start.col());
        let end = self
            .file
            .offset_of(node.span.end.line(), node.span.end.col())
            .max(start);
        let text = &self.file.text;
        let raw = &text[start..end];
        // A block scalar's span starts at its content; its `|`/`>` header ends the line before.
        let before = &text[..start];
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        let header = before[..line_start.saturating_sub(1)]
            .rsplit('\n')
            .next()
            .unwrap_or_default();
        let is_block = before[line_start..].trim().is_empty()
            && line_start > 0
            && header
                .split(" #")
                .next()
                .and_then(|h| h.split_whitespace().last())
                .is_some_and(|token| token.starts_with(['|', '>']));
        let relative = if is_block {
            block_offset(raw, start - line_start, inner)
        } else {
            match raw.chars().next() {
                Some(q @ ('\'' | '"')) => flow_offset(raw, inner, Some(q)),
                _ => flow_offset(raw, inner, None),
            }
        };
        start + relative.min(raw.len())
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

/// The raw offset in a plain or quoted scalar's text of decoded byte `inner`.
fn flow_offset(raw: &str, inner: usize, quote: Option<char>) -> usize {
    let bytes: Vec<(usize, char)> = raw.char_indices().collect();
    let mut i = usize::from(quote.is_some());
    let mut remaining = inner;
    while i < bytes.len() {
        let (at, c) = bytes[i];
        let rest_of_line_blank = || {
            bytes[i..]
                .iter()
                .take_while(|(_, c)| *c != '\n')
                .all(|(_, c)| matches!(c, ' ' | '\t'))
        };
        let (decoded, consumed) = match (quote, c) {
            (Some('\''), '\'') if bytes.get(i + 1).is_some_and(|(_, c)| *c == '\'') => (1, 2),
            (Some('"'), '\\') => escape_len(&bytes[i + 1..]),
            // Trailing white space before a line break is not part of the value.
            (_, ' ' | '\t') if rest_of_line_blank() => (0, 1),
            (_, '\n') => {
                // A line break and the next line's indentation fold to one space, or to
                // nothing before an empty line (which is itself a newline).
                let mut j = i + 1;
                while bytes.get(j).is_some_and(|(_, c)| matches!(c, ' ' | '\t')) {
                    j += 1;
                }
                let before_empty = bytes.get(j).is_some_and(|(_, c)| *c == '\n');
                (usize::from(!before_empty), j - i)
            }
            _ => (c.len_utf8(), 1),
        };
        // What decodes to nothing (an escaped line break, trailing blanks) is stepped over.
        if decoded == 0 {
            i += consumed;
            continue;
        }
        if remaining < decoded {
            // On a folded line break, the next line's first character.
            return if c == '\n' {
                bytes.get(i + consumed).map_or(raw.len(), |(a, _)| *a)
            } else {
                at
            };
        }
        remaining -= decoded;
        i += consumed;
    }
    raw.len()
}

/// A double-quoted escape after its backslash: the decoded UTF-8 length and the raw characters
/// taken, backslash included.
fn escape_len(after: &[(usize, char)]) -> (usize, usize) {
    let hex = |n: usize| -> Option<char> {
        let digits: String = after.iter().skip(1).take(n).map(|(_, c)| *c).collect();
        (digits.len() == n)
            .then(|| u32::from_str_radix(&digits, 16).ok())
            .flatten()
            .and_then(char::from_u32)
    };
    match after.first().map(|(_, c)| *c) {
        Some('x') => (hex(2).map_or(1, char::len_utf8), 4),
        Some('u') => (hex(4).map_or(1, char::len_utf8), 6),
        Some('U') => (hex(8).map_or(1, char::len_utf8), 10),
        Some('N' | '_') => (2, 2),
        Some('L' | 'P') => (3, 2),
        // An escaped line break: nothing, and the next line's indentation is skipped.
        Some('\n') => {
            let indent = after[1..]
                .iter()
                .take_while(|(_, c)| matches!(c, ' ' | '\t'))
                .count();
            (0, 2 + indent)
        }
        _ => (1, 2),
    }
}

/// The raw offset in a literal or folded block scalar's content (from its first character, the
/// first line's `indent` already behind) of decoded byte `inner`: each line without the block's
/// indentation, each line break one byte.
fn block_offset(raw: &str, indent: usize, inner: usize) -> usize {
    let mut remaining = inner;
    let mut at = 0;
    for (n, line) in raw.split_inclusive('\n').enumerate() {
        let leading = line.len() - line.trim_start_matches(' ').len();
        let skip = if n == 0 { 0 } else { leading.min(indent) };
        let content = &line[skip..];
        if remaining < content.len() {
            return at + skip + remaining;
        }
        remaining -= content.len();
        at += line.len();
    }
    raw.len()
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
    fn offsets_inside_multi_line_and_escaped_scalars() {
        // The decoded value and the raw text must agree on where `[x]` is, in every style.
        let cases = [
            "v: >-\n  Join(\" \",\n    [a], [x])\n",
            "v: |\n  Join(\" \",\n  [x])\n",
            "v: Join(\" \",\n  [a],\n  [x])\n",
            "v: \"Join(\\\"\\u00e9\\t\\\", [x])\"\n",
            "v: \"Join(\\\" \\\",\\\n   [x])\"\n",
            "v: 'Join(\"\n\n  \", [x])'\n",
        ];
        for text in cases {
            let f = file(text);
            let loc = Locator::new(&f);
            let value: serde_json::Value = serde_saphyr::from_str(text).unwrap();
            let decoded = value["v"].as_str().unwrap();
            let inner = decoded.find("[x]").unwrap();
            let at = loc.offset_in_scalar("/v", inner);
            assert_eq!(&f.text[at..at + 3], "[x]", "{text:?} (decoded {decoded:?})");
        }
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
