//! Errors and warnings that point into a file: `file:line:column`, the JSON path of the offending
//! key, a one-line reason and the source snippet with the spot underlined.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// How bad a diagnostic is: errors fail the command, warnings only inform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// A file's path and text, shared by every diagnostic that points into it.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl SourceFile {
    /// The 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.text, offset)
    }

    /// The byte offset of a 1-based line and 0-based character column.
    pub(crate) fn offset_of(&self, line: usize, col: usize) -> usize {
        let mut start = 0;
        for _ in 1..line {
            match self.text[start..].find('\n') {
                Some(i) => start += i + 1,
                None => return self.text.len(),
            }
        }
        let rest = &self.text[start..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        start
            + rest[..line_end]
                .char_indices()
                .nth(col)
                .map_or(line_end, |(i, _)| i)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One finding about a file.
#[derive(Clone, Debug)]
pub(crate) struct Diagnostic {
    pub(crate) severity: Severity,
    pub(crate) file: Arc<SourceFile>,
    /// Byte range in `file.text`; empty ranges underline one character.
    pub(crate) span: Range<usize>,
    /// JSON pointer of the offending value, e.g. `/mappings/3/expression`; empty for the document.
    pub(crate) pointer: String,
    pub(crate) message: String,
    /// Short text under the underline.
    pub(crate) label: String,
    pub(crate) help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn line_col(&self) -> (usize, usize) {
        self.file.line_col(self.span.start)
    }

    /// The headline: the JSON path (when there is one) and the reason.
    pub(crate) fn headline(&self) -> String {
        if self.pointer.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.pointer, self.message)
        }
    }

    /// Renders the diagnostic with its snippet; `styled` adds ANSI colours.
    pub(crate) fn render(&self, styled: bool) -> String {
        let text = &self.file.text;
        let start = floor_char_boundary(text, self.span.start.min(text.len()));
        let mut end = floor_char_boundary(text, self.span.end.min(text.len())).max(start);
        if end == start {
            end = text[start..]
                .chars()
                .next()
                .filter(|c| *c != '\n')
                .map_or(start, |c| start + c.len_utf8());
        }
        // Only the lines around the span go into the snippet, so huge files render fast.
        let window_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let window_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
        let (line, _) = self.line_col();
        let path = display_path(&self.file.path);
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let headline = self.headline();
        // A URL's password in the file never reaches a terminal or a CI log, nor a secret
        // written inline (each of its bytes shown as `*`, so the span still fits).
        let mut window = crate::url_rules::mask_user_info(&text[window_start..window_end]);
        // A URL setting's value, whatever form it has, as its message shows it.
        if self.pointer.ends_with("_url") {
            let masked = crate::url_rules::mask_url_in_place(&text[start..end]);
            window.replace_range(start - window_start..end - window_start, &masked);
        }
        let secrets = Secrets::of(text);
        for secret in &secrets.ranges {
            let (from, to) = (secret.start.max(window_start), secret.end.min(window_end));
            if from < to {
                // Line breaks stay, so a block scalar keeps its lines.
                let masked: String = text[from..to]
                    .bytes()
                    .map(|b| if b == b'\n' { '\n' } else { '*' })
                    .collect();
                window.replace_range(from - window_start..to - window_start, &masked);
            }
        }
        // A secret's text where it also stands elsewhere (as another key, say).
        for word in &secrets.words {
            if window.contains(word) {
                window = window.replace(word, &"*".repeat(word.len()));
            }
        }
        let snippet = Snippet::source(&window)
            .line_start(line)
            .path(&path)
            .fold(false)
            .annotation(
                AnnotationKind::Primary
                    .span(start - window_start..end - window_start)
                    .label(&self.label),
            );
        let mut report = vec![level.primary_title(&headline).element(snippet)];
        if let Some(help) = &self.help {
            report.push(Group::with_title(Level::HELP.secondary_title(help)));
        }
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        renderer.render(&report)
    }
}

/// Escapes text for a GitHub workflow command: `%`, CR and LF always; `:` and `,` too in a
/// property value.
fn workflow_escape(text: &str, property: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// The path an annotation names: relative to the repository's checkout (`GITHUB_WORKSPACE`)
/// when the file lies in it, as GitHub places annotations by repository path (a job run with
/// a `working-directory` names its files relative to that); as given otherwise.
fn annotated_path(path: &Path) -> String {
    let in_workspace = std::env::var_os("GITHUB_WORKSPACE")
        .filter(|w| !w.is_empty())
        .and_then(|workspace| std::fs::canonicalize(workspace).ok())
        .zip(std::fs::canonicalize(path).ok())
        .and_then(|(workspace, file)| file.strip_prefix(&workspace).ok().map(display_path));
    in_workspace.unwrap_or_else(|| display_path(path))
}

/// A GitHub Actions workflow command for a problem in a file, so it shows on the pull
/// request's diff: `::error file=roster.yaml,line=12,col=5,title=...::message`.
pub(crate) fn github_annotation(
    severity: Severity,
    path: &Path,
    position: Option<(usize, usize)>,
    title: &str,
    message: &str,
) -> String {
    let level = match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut properties = format!("file={}", workflow_escape(&annotated_path(path), true));
    if let Some((line, col)) = position {
        let _ = write!(properties, ",line={line},col={col}");
    }
    if !title.is_empty() {
        let _ = write!(properties, ",title={}", workflow_escape(title, true));
    }
    format!(
        "::{level} {properties}::{}",
        workflow_escape(message, false)
    )
}

impl Diagnostic {
    /// This diagnostic as a GitHub Actions annotation.
    pub(crate) fn annotation(&self) -> String {
        let mut message = self.message.clone();
        if let Some(help) = &self.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        github_annotation(
            self.severity,
            &self.file.path,
            Some(self.line_col()),
            &self.pointer,
            &message,
        )
    }
}

/// The secrets a config file's text may hold written inline, found in one scan of it
/// (`secret_parts`): the byte ranges a snippet masks, and the words a message must not quote.
pub(crate) struct Secrets<'t> {
    /// What follows a key named like a secret (`client_secret`, `password`, `private_key`,
    /// `security_token`, `api-key`, `bearer`, `pem`, or a misspelling of one) — the rest of its line, the lines of a block
    /// or a value continued under it, and in a flow mapping (`{env: X, fiel: y}`) every entry
    /// but a plain `env:` or `file:` reference. Each range starts and ends on a character
    /// boundary.
    ranges: Vec<Range<usize>>,
    /// The words of those ranges a message or another line could quote: a value's from 4
    /// characters; a key's (a misspelled `env` or `file`, or a secret written as a key) only
    /// from 8, as it is more often a name.
    words: Vec<&'t str>,
}

impl<'t> Secrets<'t> {
    pub(crate) fn of(text: &'t str) -> Secrets<'t> {
        let parts = secret_parts(text);
        let mut words = Vec::new();
        for (range, key) in &parts {
            let least = if *key { 8 } else { 4 };
            for word in text[range.clone()].split(|c: char| c.is_whitespace() || ":,{}".contains(c))
            {
                let word = word.trim_matches(['"', '\'']);
                if word.len() >= least && !words.contains(&word) {
                    words.push(word);
                }
            }
        }
        Secrets {
            ranges: parts.into_iter().map(|(range, _)| range).collect(),
            words,
        }
    }

    /// `text` (a message about the file) with every secret word it quotes shown as `***`.
    pub(crate) fn hide(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for word in &self.words {
            if out.contains(word) {
                out = out.replace(word, "***");
            }
        }
        out
    }
}

/// The ranges of `Secrets`, each marked when it is a key of a flow mapping under a secret's key
/// (a misspelled `env` or `file`, or a secret written as a key).
fn secret_parts(text: &str) -> Vec<(Range<usize>, bool)> {
    static KEY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            // `key:`, or an explicit `? key` whose `:` starts the next line; the words with
            // their common misspellings, in names joined by `_` or `-` (`private-key`,
            // `api_key`, `secret-value`). `credential(s)` is left out: `credential` and
            // `client_credentials` are the config's own keys, whose entries are names.
            r#"(?im)(?:^[ \t]*\?[ \t]+["']?[a-z_-]*(?:secret|secert|secrt|scret|pass[-_]?word|passwd|pwd|private|token|key|pem|bearer)[a-z_-]*["']?[ \t]*\r?\n[ \t]*:|[a-z_-]*(?:secret|secert|secrt|scret|pass[-_]?word|passwd|pwd|private|token|key|pem|bearer)[a-z_-]*["']?[ \t]*:)(?:[ \t]|$)"#,
        )
        .unwrap_or_else(|_| unreachable!("a fixed pattern"))
    });
    let mut out = Vec::new();
    for key in KEY.find_iter(text) {
        let line_start = text[..key.start()].rfind('\n').map_or(0, |i| i + 1);
        let indent = text[line_start..key.start()]
            .bytes()
            .take_while(|b| *b == b' ' || *b == b'-')
            .count();
        let line_end = text[key.end()..]
            .find('\n')
            .map_or(text.len(), |i| key.end() + i);
        let value_start = key.end()
            + (text[key.end()..line_end].len() - text[key.end()..line_end].trim_start().len());
        let value = text[value_start..line_end].trim_end();
        if let Some(inner) = value.strip_prefix('{') {
            // Each entry of the flow mapping, but `env: NAME` or `file: PATH` as written.
            let inner_start = value_start + 1;
            let inner = inner.split('}').next().unwrap_or(inner);
            let mut at = inner_start;
            for entry in inner.split(',') {
                let reference = entry.split_once(':').is_some_and(|(k, v)| {
                    matches!(k.trim(), "env" | "file")
                        && !v.trim().is_empty()
                        && !v.contains([':', '{', '['])
                });
                let trimmed = entry.trim();
                if !reference && !trimmed.is_empty() {
                    let from = at + (entry.len() - entry.trim_start().len());
                    match trimmed.split_once(':') {
                        Some((k, v)) => {
                            let k_len = k.trim_end().len();
                            out.push((from..from + k_len, true));
                            let v_from = from + k.len() + 1 + (v.len() - v.trim_start().len());
                            if !v.trim().is_empty() {
                                out.push((v_from..v_from + v.trim().len(), false));
                            }
                        }
                        None => out.push((from..from + trimmed.len(), false)),
                    }
                }
                at += entry.len() + 1;
            }
            // Anything written after the mapping's end on its line, unless the mapping sits in
            // another (`{private_key: {file: k}, certificate: ...}`), whose entries follow.
            if let Some(close) = value.find('}') {
                let rest = &value[close + 1..];
                let from = value_start + close + 1 + (rest.len() - rest.trim_start().len());
                let nested = rest.trim_start().starts_with([',', '}']);
                if !rest.trim().is_empty() && !nested && !rest.trim_start().starts_with('#') {
                    out.push((from..from + rest.trim().len(), false));
                }
            }
        } else {
            let inline = !value.is_empty() && !value.starts_with(['|', '>', '#']);
            if inline {
                out.push((value_start..value_start + value.len(), false));
            }
            // The lines below, indented deeper: all of a block scalar (`|`, `>`) or of a
            // plain or quoted value continued there; of a block mapping, each line that is no
            // `key: value` entry (those are names, and a secret among them is a key of its
            // own, found above).
            let scalar = inline || value.starts_with(['|', '>']);
            let entry = |line: &str| {
                line.trim_start().split_once(':').is_some_and(|(k, v)| {
                    !k.is_empty()
                        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        && (v.is_empty() || v.starts_with([' ', '\t']))
                })
            };
            let mut at = line_end;
            while at < text.len() {
                let next_end = text[at + 1..].find('\n').map_or(text.len(), |i| at + 1 + i);
                let line = &text[at + 1..next_end];
                let deeper = line.len() - line.trim_start().len() > indent;
                if !line.trim().is_empty() && !deeper {
                    break;
                }
                if !line.trim().is_empty() && (scalar || !entry(line)) {
                    out.push((
                        at + 1 + (line.len() - line.trim_start().len())..next_end,
                        false,
                    ));
                }
                at = next_end;
            }
            if !inline && !value.is_empty() && !value.starts_with('#') {
                out.push((value_start..value_start + value.len(), false));
            }
        }
    }
    out
}

/// Paths print as given, with `/` separators, so snapshots and annotations are stable; a
/// character that acts (a line break, an escape; `render::visible`) as its escape, since a path
/// can come from a config under review (`extends: "../base.yaml\n"`) and must not break the
/// message or drive the terminal.
pub(crate) fn display_path(path: &Path) -> String {
    crate::render::visible_string(path.to_string_lossy().replace('\\', "/"))
}

/// All diagnostics of one run, rendered one after another with a closing count.
pub(crate) fn render_all(diagnostics: &[Diagnostic], styled: bool) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(styled));
        out.push_str("\n\n");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    if errors > 0 {
        let _ = write!(out, "{}", count_line(errors, warnings));
    }
    out
}

fn count_line(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    if warnings == 0 {
        format!("error: found {}", plural(errors, "error"))
    } else {
        format!(
            "error: found {} and {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_what_github_would_misread() {
        assert_eq!(
            github_annotation(
                Severity::Warning,
                Path::new("dir/roster.yaml"),
                Some((12, 5)),
                "/a:b,c",
                "100% sure\nnext line: yes"
            ),
            "::warning file=dir/roster.yaml,line=12,col=5,title=/a%3Ab%2Cc::100%25 sure%0Anext line: yes"
        );
    }

    fn file(text: &str) -> Arc<SourceFile> {
        Arc::new(SourceFile {
            path: PathBuf::from("roster.yaml"),
            text: text.to_owned(),
        })
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = file("a: 1\nnäme: x\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(5), (2, 1));
        // 'x' sits after "näme: " — six characters, seven bytes.
        assert_eq!(f.line_col(12), (2, 7));
        assert_eq!(f.offset_of(2, 6), 12);
    }

    #[test]
    fn offset_of_past_the_end_is_clamped() {
        let f = file("a: 1\n");
        assert_eq!(f.offset_of(9, 0), 5);
        assert_eq!(f.offset_of(1, 99), 4);
    }
}
