//! Rendering a plan: text for terminals, markdown for pull requests, JSON for machines, from
//! the same `Plan`, written to any `io::Write` (`write`) or kept as a `String` (`render`). JSON
//! streams: a 100 MB plan is never held as text.

pub(crate) mod explain;
mod json;
pub(crate) mod markdown;
pub(crate) mod overview;
pub(crate) mod report;
pub(crate) mod text;

use std::borrow::Cow;
use std::fmt::Write as _;
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
    let masked = |text: String| masked(text, mask);
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
        Format::Text => write_text(&mut std::io::BufWriter::new(out), plan, color, mask, CHUNK),
        Format::Markdown => out.write_all(markdown::render(plan, mask).as_bytes()),
    }
}

/// Changes per chunk rendered on a thread of its own (`in_chunks`), in every format: some
/// 1.2 MB of text or 1.3 MB of JSON for a synthetic world's creates.
const CHUNK: usize = 1024;
/// Chunks rendered at once while the one before them is written: one a core on a two-core CI
/// runner, where writing (a copy into the pipe) takes a fraction of rendering's time.
const IN_FLIGHT: usize = 2;

/// The plan as text, line by line as `text::each_piece` gives it, but with the users' blocks
/// (some two million lines for 100,000 users) rendered `chunk` changes at a time on threads of
/// their own (`write_in_chunks`): the same bytes.
fn write_text(
    out: &mut dyn std::io::Write,
    plan: &Plan,
    color: bool,
    mask: bool,
    chunk: usize,
) -> std::io::Result<()> {
    if plan.refused.is_none()
        && let Some(overview) = overview::of(plan)
    {
        for line in overview::text(&overview, plan.changes.len()) {
            out.write_all(masked(visible_string(line), mask).as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    // Each piece written as it is made; the first write error ends the writing.
    let mut written = Ok(());
    text::each_piece(plan, &mut |piece| {
        if written.is_err() {
            return;
        }
        written = match piece {
            text::Piece::Line(line) => write_line(out, &line, color, mask),
            text::Piece::Changes(changes) => write_in_chunks(out, changes, chunk, |_, changes| {
                let mut rendered = Vec::with_capacity(changes.len() * 1200);
                let mut to_rendered = Ok(());
                text::blocks(changes, &mut |line| {
                    if to_rendered.is_ok() {
                        to_rendered = write_line(&mut rendered, &line, color, mask);
                    }
                });
                to_rendered.map(|()| rendered)
            }),
        };
    });
    written?;
    out.flush()
}

/// One line of a text plan and its line break.
fn write_line(
    out: &mut dyn std::io::Write,
    line: &text::Line,
    color: bool,
    mask: bool,
) -> std::io::Result<()> {
    if mask {
        out.write_all(masked(line.to_text(color), mask).as_bytes())?;
        out.write_all(b"\n")
    } else if color {
        writeln!(out, "{}", line.as_text(color))
    } else {
        line.write_plain(out)
    }
}

/// `items` rendered by `render` (given the chunk's number and its items) `chunk` at a time,
/// each chunk on a thread of its own, `IN_FLIGHT` at once while the caller's thread writes the
/// chunk before them to `out`, in order (`in_chunks`).
///
/// # Errors
/// The first error of `render` or of writing to `out`; no chunk after it is written.
fn write_in_chunks<T: Sync>(
    out: &mut dyn std::io::Write,
    items: &[T],
    chunk: usize,
    render: impl Fn(usize, &[T]) -> std::io::Result<Vec<u8>> + Sync,
) -> std::io::Result<()> {
    in_chunks(items, chunk, render, |rendered| out.write_all(&rendered?))
}

/// `items` rendered by `render` (given the chunk's number and its items) `chunk` at a time,
/// each chunk on a thread of its own, `IN_FLIGHT` at once while the caller's thread gives the
/// chunk before them to `take`, in order: at most a few chunks (a few MB) are held at once,
/// whatever the plan's size.
///
/// # Errors
/// The first error of `take`; no chunk after it is taken.
fn in_chunks<T: Sync, R: Send, E>(
    items: &[T],
    chunk: usize,
    render: impl Fn(usize, &[T]) -> R + Sync,
    mut take: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E> {
    let render = &render;
    std::thread::scope(|scope| {
        let mut rendering: std::collections::VecDeque<std::thread::ScopedJoinHandle<'_, R>> =
            std::collections::VecDeque::with_capacity(IN_FLIGHT + 1);
        for (n, items) in items.chunks(chunk.max(1)).enumerate() {
            rendering.push_back(scope.spawn(move || render(n, items)));
            if rendering.len() > IN_FLIGHT
                && let Some(done) = rendering.pop_front()
            {
                take(crate::concurrent::joined(done))?;
            }
        }
        rendering
            .into_iter()
            .try_for_each(|rest| take(crate::concurrent::joined(rest)))
    })
}

/// The plan in `format`, as text (for the job summary, hashes and tests).
pub(crate) fn render(plan: &Plan, format: Format, color: bool, mask: bool) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(&mut out, plan, format, color, mask);
    String::from_utf8(out).unwrap_or_default()
}

/// Output off a terminal, or with colour off: what `anstream` writes there — escape sequences
/// and other control characters stripped (`anstream::adapter::StripBytes`) — without its
/// byte-by-byte parse of output that holds none (a fifth of the time a 100,000-user text plan
/// takes). Bytes pass through as they are up to the first control character other than
/// whitespace, or DEL; from there, always at a character boundary and in the parser's ground
/// state, everything goes through `anstream`'s stripping, so the output is `anstream`'s to the
/// byte.
pub(crate) struct Plain<W: std::io::Write> {
    out: W,
    strip: Option<anstream::adapter::StripBytes>,
}

impl<W: std::io::Write> Plain<W> {
    pub(crate) fn new(out: W) -> Plain<W> {
        Plain { out, strip: None }
    }
}

impl<W: std::io::Write> std::io::Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        if self.strip.is_none() {
            let Some(at) = first_control(buf) else {
                return self.out.write(buf);
            };
            self.out.write_all(&buf[..at])?;
            rest = &buf[at..];
        }
        let strip = self
            .strip
            .get_or_insert_with(anstream::adapter::StripBytes::new);
        for printable in strip.strip_next(rest) {
            self.out.write_all(printable)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Where `buf` first holds what `anstream` strips from plain text: a control character other
/// than whitespace, or DEL. Looked for 64 bytes at a time (a test the compiler vectorizes),
/// since nearly every write holds none.
fn first_control(buf: &[u8]) -> Option<usize> {
    let stripped = |b: u8| b.is_ascii_control() && !b.is_ascii_whitespace();
    let mut at = 0;
    for chunk in buf.chunks(64) {
        if chunk.iter().fold(false, |any, b| any | stripped(*b)) {
            return chunk.iter().position(|b| stripped(*b)).map(|i| at + i);
        }
        at += chunk.len();
    }
    None
}

/// `text` in double quotes, as a plan shows a value or a key: `"` and `\` escaped and what acts
/// (`acts`) and every blank but the space (`\u{a0}`) written as its escape, as `{:?}` writes
/// them — but a letter with a combining mark, a
/// joiner or an emoji shows as itself, where `{:?}` writes `Zoe\u{308}` for an "Zoë" typed
/// decomposed and `अन\u{941}राधा` for Anuradha.
pub(crate) struct Quoted<'t>(pub(crate) &'t str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                // A blank other than the space (a no-break space, an em space) shows as one:
                // `"Ann Lee" -> "Ann Lee"` would be a change no one can see.
                c if acts(c) || (c.is_whitespace() && c != ' ') => {
                    write!(f, "{}", c.escape_debug())?;
                }
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// Appends `value` as `Quoted` shows it. Printable ASCII other than `"` and `\` (most values)
/// is copied as it is between the quotes, without the formatter's character-by-character work
/// (a create's reason and each of its values in a text plan: millions in a large one).
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    // Every byte looked at, without stopping at the first that is not plain: the compiler
    // then checks many bytes an instruction.
    #[expect(
        clippy::needless_bitwise_bool,
        reason = "no branch a byte: the loop is vectorized"
    )]
    let escapes = value.bytes().fold(false, |escapes, b| {
        escapes | !(b' '..=b'~').contains(&b) | (b == b'"') | (b == b'\\')
    });
    if escapes {
        let _ = write!(out, "{}", Quoted(value));
    } else {
        out.push('"');
        out.push_str(value);
        out.push('"');
    }
}

static EMAIL: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    // A local part is everything up to the `@` that is not a space or what quotes or lists
    // addresses (`"<>()[],;:` and the backtick): any script, marks, joiners and symbols, and the
    // escapes a plan's quoting writes for some of them (`e\u{301}mma@`), are masked whole.
    // The domain, kept, is whatever follows up to the same stops (a dotless host, an
    // underscore, an escaped invisible character, an `[address literal]`); the `@` may be
    // markdown's, with the empty comment after it (`markdown_text`), and markdown's escapes
    // inside a local part (`&amp;`, `#<!-- -->`) are part of it.
    regex::Regex::new(
        r#"(?:[^\s@"<>()\[\],;:`]|&(?:amp|lt|gt);|<!-- -->)+(@<!-- -->|@)(\[[^\]\s]*\]|[^\s@"<>()\[\],;:`]+)"#,
    )
    .ok()
});

/// Whether `c` acts rather than shows: a control character (C0, DEL, C1: an escape sequence, a
/// bell, a line break), a bidirectional mark, embedding, override or isolate (U+200E, U+200F,
/// U+061C, U+202A–U+202E, U+2066–U+2069), which reorders the text a reviewer reads, a line or
/// paragraph separator (U+2028, U+2029), or an invisible character that makes two values look
/// alike (zero-width space U+200B, soft hyphen U+00AD, word joiner U+2060, U+FEFF), or the
/// noncharacters U+FFFE and U+FFFF, which YAML and XML refuse to hold.
pub(crate) fn acts(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{200b}'
                | '\u{00ad}'
                | '\u{2060}'
                | '\u{feff}'
                | '\u{fffe}'
                | '\u{ffff}'
        )
}

/// `text` with every character that acts rather than shows (`acts`), line breaks too, written as
/// its escape (`\u{1b}`, `\t`, `\n`, as `{:?}` writes it): a name, a value or an API's message
/// from Entra or Salesforce can neither drive the terminal, nor hide the lines after it (an
/// unterminated `ESC P` makes a terminal, and `anstream`'s stripping, drop everything up to its
/// terminator), nor undo the markdown escaping around it. Borrowed when nothing acts, as nearly
/// always.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    escape_acting(text, false).map_or(Cow::Borrowed(text), Cow::Owned)
}

/// `text` in double quotes as Rust's `{:?}` writes it, cut after `QUOTED_MAX` characters (an
/// ellipsis after the closing quote marks the cut), for a name inside a message: stricter than
/// `Quoted`, which lets a plan's values show in every script, it escapes every character that
/// does not print on its own — what `acts`, and joiners, combining marks and tag characters —
/// and the blank fillers that print as nothing (Hangul fillers, the blank Braille pattern), so
/// that two different names never show alike (`"job\u{200d}Title"` is not `"jobTitle"`).
pub(crate) fn quoted(text: &str) -> String {
    let (shown, cut) = match text.char_indices().nth(QUOTED_MAX) {
        Some((at, _)) => (&text[..at], "…"),
        None => (text, ""),
    };
    let debug = format!("{shown:?}");
    let mut out = String::with_capacity(debug.len() + cut.len());
    for c in debug.chars() {
        if matches!(
            c,
            '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' | '\u{2800}'
        ) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.push_str(cut);
    out
}

/// How many characters of a name `quoted` shows: a key of megabytes is not echoed whole.
const QUOTED_MAX: usize = 200;

/// `visible` for a document: its line breaks stay.
pub(crate) fn visible_lines(text: &str) -> Cow<'_, str> {
    escape_acting(text, true).map_or(Cow::Borrowed(text), Cow::Owned)
}

/// `visible` for text roster already owns: the same `String` when nothing acts.
pub(crate) fn visible_string(text: String) -> String {
    escape_acting(&text, false).unwrap_or(text)
}

/// The escaped text, or `None` when nothing in it acts.
fn escape_acting(text: &str, keep_line_breaks: bool) -> Option<String> {
    let shows = |c: char| !acts(c) || (keep_line_breaks && c == '\n');
    let printable_ascii = |b: u8| (b' '..=b'~').contains(&b) || (keep_line_breaks && b == b'\n');
    if text.bytes().all(printable_ascii) || text.chars().all(shows) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if shows(c) {
            out.push(c);
        } else {
            out.extend(c.escape_debug());
        }
    }
    Some(out)
}

/// Text (a name, a reason, an API's message) as a markdown table cell that shows exactly that
/// text: never markdown or HTML — a `<!-- ... -->`, a link, an image, an `@mention`, emphasis, a
/// code span or a table pipe in it must not change the comment or the job summary — and nothing
/// that acts (`visible`). Nor a link GitHub would make of a bare address: its extended autolinks
/// start at `http://`, `https://` and `www.` and take an e-mail address at its `@` (GitHub
/// Flavored Markdown spec, "Autolinks (extension)"), so the `:` before `//` and the `.` after
/// `www` are escaped (a backslash before punctuation shows the punctuation alone). An `@` and a
/// `#` before a digit are followed by an empty HTML comment (and the `GH` of `GH-12` too), which
/// shows as nothing: the autolinker decodes `&#64;` and `\@` back into an address it links,
/// and GitHub makes an `@mention` or an issue reference (`#12`, `GH-12`) only of text with no
/// break inside. A `$` is escaped: it would open GitHub's math.
pub(crate) fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        let autolink = match c {
            ':' => text[at + 1..].starts_with("//"),
            '.' => text[..at]
                .get(at.saturating_sub(3)..)
                .is_some_and(|before| before.eq_ignore_ascii_case("www")),
            _ => false,
        };
        if autolink {
            out.push('\\');
            out.push(c);
            continue;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("@<!-- -->"),
            '#' if text[at + 1..].starts_with(|d: char| d.is_ascii_digit()) => {
                out.push_str("#<!-- -->");
            }
            // `GH-12` is an issue reference too.
            '-' if text[..at]
                .get(at.saturating_sub(2)..)
                .is_some_and(|before| before.eq_ignore_ascii_case("gh"))
                && text[at + 1..].starts_with(|d: char| d.is_ascii_digit()) =>
            {
                out.push_str("<!-- -->-");
            }
            '`' => out.push_str("&#96;"),
            '\n' | '\r' => out.push(' '),
            c if acts(c) => out.extend(c.escape_debug()),
            // `[` escaped is enough to keep `![...](...)` from being an image.
            // `$` opens GitHub's math.
            '[' | ']' | '|' | '*' | '_' | '~' | '\\' | '$' => {
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
/// or the row (a line break) is changed, and what acts is escaped (`visible`).
pub(crate) fn code_cell(text: &str) -> String {
    visible(
        &text
            .replace('`', "'")
            .replace('|', "\\|")
            .replace(['\n', '\r'], " "),
    )
    .into_owned()
}

/// `text` with email local parts hidden when `mask` (`--mask`), else as it is.
pub(crate) fn masked(text: String, mask: bool) -> String {
    if mask { mask_emails(&text) } else { text }
}

/// `ava.martinez@contoso.com` → `•••@contoso.com`.
pub(crate) fn mask_emails(text: &str) -> String {
    match EMAIL.as_ref() {
        Some(re) => re.replace_all(text, "•••$1$2").into_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    /// No character that acts shows as itself in `quoted`, and names that differ never show
    /// alike: a NUL and the two characters `\0`, a quote inside and out.
    #[test]
    fn quoted_escapes_every_acting_character_and_never_shows_two_names_alike() {
        for c in (0..=0x10_ffff)
            .filter_map(char::from_u32)
            .filter(|&c| super::acts(c))
        {
            let shown = super::quoted(&format!("a{c}b"));
            assert!(!shown.contains(c), "{c:?} shows as itself in {shown}");
        }
        for (one, other) in [("b\0", "b\\0"), ("\"", "\\\""), ("a\u{202e}", "a\\u{202e}")] {
            assert_ne!(super::quoted(one), super::quoted(other));
        }
        assert_eq!(super::quoted("b\0"), r#""b\0""#);
        // Joiners and fillers that print as nothing are escaped too.
        for (name, shown) in [
            ("job\u{200d}Title", r#""job\u{200d}Title""#),
            ("job\u{3164}Title", r#""job\u{3164}Title""#),
            ("O'Brien", r#""O'Brien""#),
        ] {
            assert_eq!(super::quoted(name), shown);
        }
        let long = "k".repeat(5_000_000);
        assert_eq!(super::quoted(&long), format!("\"{}\"…", "k".repeat(200)));
    }

    /// What `anstream` writes off a terminal, and what `Plain` writes, `text` written in pieces
    /// of `piece` bytes (escape sequences and characters cut anywhere).
    fn both(text: &str, piece: usize) -> (Vec<u8>, Vec<u8>) {
        let expected = anstream::adapter::strip_bytes(text.as_bytes()).into_vec();
        let mut plain = super::Plain::new(Vec::new());
        for part in text.as_bytes().chunks(piece) {
            plain.write_all(part).unwrap();
        }
        plain.flush().unwrap();
        (expected, plain.out)
    }

    #[test]
    fn plain_output_is_what_anstream_writes_off_a_terminal_however_it_is_cut() {
        let long = "salesforce_user \"zoë@contoso.com\" {\n\tFirstName = \"Zoë\"\r\n".repeat(20);
        for text in [
            long.as_str(),
            "",
            "plain text\n",
            "a name with \u{1b}[31mcolour\u{1b}[0m in it\n",
            "\u{1b}]8;;https://evil.example\u{7}link\u{1b}]8;;\u{7} after\n",
            "bell\u{7} backspace\u{8} vertical tab\u{b} del\u{7f} nul\u{0} end\n",
            "Zoë \u{1b}[1mß\u{1b}[0m 日本 \u{85} next line\n",
            &format!("{long}\u{1b}[2J{long}"),
        ] {
            for piece in [1, 2, 3, 7, 64, 65, 8192] {
                let (expected, plain) = both(text, piece);
                assert_eq!(
                    String::from_utf8_lossy(&plain),
                    String::from_utf8_lossy(&expected),
                    "{text:?} in pieces of {piece}"
                );
            }
        }
        // Text without control characters passes untouched, and is never parsed.
        let mut plain = super::Plain::new(Vec::new());
        plain.write_all(long.as_bytes()).unwrap();
        assert!(plain.strip.is_none());
        assert_eq!(plain.out, long.as_bytes());
    }

    #[test]
    fn push_quoted_writes_what_debug_writes_but_shows_every_script() {
        for value in [
            "",
            "ava@contoso.com",
            "O'Brien",
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "\u{1b}[31mred",
            "Zoë",
            "\u{200b}zero width",
            "~ !#$%&()*+,-./:;<=>?@[]^_`{|}",
            "\u{7f}",
            "\u{202e}\u{feff}\u{ad}",
            "Ann\u{a0}Lee\u{2003}\u{3000}\u{202f}",
        ] {
            let mut out = String::new();
            super::push_quoted(&mut out, value);
            assert_eq!(out, format!("{value:?}"), "{value}");
        }
        // Combining marks, joiners and emoji sequences show as they are; `{:?}` escapes them.
        for value in [
            "Zoe\u{308}",
            "अनुराधा",
            "مُحَمَّد",
            "علی\u{200c}رضا",
            "👨\u{200d}👩\u{200d}👧",
            "❤\u{fe0f}",
        ] {
            let mut out = String::new();
            super::push_quoted(&mut out, value);
            assert_eq!(out, format!("\"{value}\""));
            assert_ne!(out, format!("{value:?}"), "{value}");
        }
    }

    #[test]
    fn what_acts_on_a_terminal_or_a_document_is_escaped_and_the_rest_is_untouched() {
        use super::{code_cell, markdown_text, visible, visible_lines};
        for plain in [
            "",
            "Ava Martinez",
            "Zoë Ünal 日本 🙂",
            "tab-free \"quotes\" \\ [x](y)",
        ] {
            assert!(
                matches!(visible(plain), std::borrow::Cow::Borrowed(_)),
                "{plain}"
            );
        }
        assert_eq!(
            visible("VP\n\u{1b}P\t\u{7}\u{0}\u{7f}\u{85}\u{202e}x\u{2066}"),
            "VP\\n\\u{1b}P\\t\\u{7}\\0\\u{7f}\\u{85}\\u{202e}x\\u{2066}"
        );
        assert_eq!(
            visible_lines("one\ntwo \u{1b}[2J\n"),
            "one\ntwo \\u{1b}[2J\n"
        );
        // In a markdown cell an escape can no longer swallow the backslash before `[`.
        assert_eq!(
            markdown_text("Blocked \u{1b}[click](http://x)"),
            "Blocked \\u{1b}\\[click\\](http\\://x)"
        );
        assert_eq!(code_cell("A\u{1b}]8;;x\u{7}|"), "A\\u{1b}]8;;x\\u{7}\\|");
    }

    #[test]
    fn masks_local_parts_only() {
        assert_eq!(
            super::mask_emails("user \"ava.martinez@contoso.com.dev1\" and o'brien@x.io"),
            "user \"•••@contoso.com.dev1\" and •••@x.io"
        );
        assert_eq!(
            super::mask_emails("émma.jöhansson@contoso.com, 李@bücher.de"),
            "•••@contoso.com, •••@bücher.de"
        );
        // Any domain: dotless, with an underscore or an escaped invisible character, a literal;
        // and markdown's `@<!-- -->`.
        assert_eq!(
            super::mask_emails(
                "bob.s@localhost, \"ann.s@contoso\\u{200b}.com\" eve.s@my_host.io c.s@[10.0.0.1] \
                 a.s@<!-- -->x.io."
            ),
            "•••@localhost, \"•••@contoso\\u{200b}.com\" •••@my_host.io •••@[10.0.0.1] \
             •••@<!-- -->x.io."
        );
        // Marks, joiners and symbols, raw or as a plan's quoting escapes them, are masked whole.
        assert_eq!(
            super::mask_emails(
                "\"zoe\u{308}@x.io\" \"e\\u{301}mma@x.io\" علی\u{200c}رضا@x.io \"j\\u{1b}k@x.io\" \
                 `a’b!c·d🙂@x.io`"
            ),
            "\"•••@x.io\" \"•••@x.io\" •••@x.io \"•••@x.io\" `•••@x.io`"
        );
    }

    /// A plan with every kind of user block a text plan shows: a create with a profile's label
    /// and grants (one a licence Salesforce assigns), an update with a word diff, a multi-line
    /// diff, a typed value and a field set from nothing, a key that quotes, escapes and acts on
    /// a terminal, a deactivation, pending fields, errors, a warning and a threshold exceeded.
    fn varied_plan(changes: usize) -> crate::plan::Plan {
        use std::sync::Arc;

        use serde_json::json;

        use crate::grants::GrantKind;
        use crate::plan::{Action, Change, GrantRef, Plan, Problem, ProblemKind, Situation};
        let grant = |kind, name: &str, implied_by: Option<&str>| GrantRef {
            kind,
            name: Arc::from(name),
            id: Arc::from("0PS1"),
            assignment_id: None,
            implied_by: implied_by.map(str::to_owned),
        };
        let mut plan = Plan {
            warnings: vec!["a warning about ava@contoso.com".to_owned()],
            errors: vec![Problem {
                kind: ProblemKind::Conflict,
                key: "ben@contoso.com".to_owned(),
                reason: "Username taken".to_owned(),
            }],
            ..Plan::default()
        };
        plan.safety.exceeded = true;
        plan.safety.deactivations = 1;
        for i in 0..changes {
            let key = match i % 4 {
                0 => format!("user{i}@contoso.com"),
                1 => format!("zoë\"{i}\u{1b}[31m@contoso.com"),
                _ => format!("über{i}@contoso.com"),
            };
            let mut change = match i % 3 {
                0 => {
                    let mut c = Change::new(Action::Create, key, Situation::Unmatched);
                    c.after
                        .insert("Username".into(), json!(format!("u{i}@x.dev1")).into());
                    c.after.insert("ProfileId".into(), json!("00e1").into());
                    c.labels
                        .insert(Arc::from("00e1"), Arc::from("Standard User"));
                    c.grants.add = vec![
                        grant(GrantKind::PermissionSet, "Sales", None),
                        grant(
                            GrantKind::PermissionSetLicense,
                            "Sales Cloud",
                            Some("Sales"),
                        ),
                    ];
                    c
                }
                1 => {
                    let mut c = Change::new(Action::Update, key, Situation::Linked);
                    for (field, before, after) in [
                        ("Title", json!("Sales Manager"), json!("Sales Director")),
                        ("AboutMe", json!("one\ntwo\nthree"), json!("one\n2\nthree")),
                        ("Extension__c", json!(5), json!("6")),
                        ("Department", json!(null), json!("Sales")),
                    ] {
                        c.before.insert(field.into(), before.into());
                        c.after.insert(field.into(), after.into());
                    }
                    c.unchanged = i;
                    c.pending_fields = vec!["Title".to_owned()];
                    c.grants.remove = vec![grant(GrantKind::Queue, "Tier 1", None)];
                    c
                }
                _ => Change::new(Action::Deactivate, key, Situation::OutOfScope),
            };
            change.reason = Arc::from(format!("reason {i}: ava@contoso.com"));
            plan.changes.push(change);
        }
        plan
    }

    /// The text plan with its users' blocks rendered in chunks on threads is, byte for byte,
    /// what writing the plan's lines one by one through the formatter gives: with and without
    /// colour and masking, whatever the chunk size, with and without a baseline's groups.
    #[test]
    fn chunked_text_is_byte_for_byte_the_plans_lines() {
        for changes in [0, 1, 7, 40] {
            for baseline in [false, true] {
                let mut plan = varied_plan(changes);
                if baseline {
                    plan.baseline = Some(crate::plan::Baseline::default());
                    for (i, change) in plan.changes.iter_mut().enumerate() {
                        change.cause = Some(if i % 2 == 0 {
                            crate::plan::Cause::ConfigChange
                        } else {
                            crate::plan::Cause::Pending
                        });
                    }
                }
                for (color, mask) in [(false, false), (true, false), (false, true), (true, true)] {
                    let mut expected = String::new();
                    if let Some(overview) = super::overview::of(&plan) {
                        for line in super::overview::text(&overview, plan.changes.len()) {
                            expected.push_str(&super::masked(super::visible_string(line), mask));
                            expected.push('\n');
                        }
                    }
                    // Line by line, through the formatter.
                    let mut line_by_line = |line: super::text::Line| {
                        expected.push_str(&super::masked(line.as_text(color).to_string(), mask));
                        expected.push('\n');
                    };
                    super::text::each_piece(&plan, &mut |piece| match piece {
                        super::text::Piece::Line(line) => line_by_line(line),
                        super::text::Piece::Changes(changes) => {
                            super::text::blocks(changes, &mut line_by_line);
                        }
                    });
                    for chunk in [1, 2, 3, 1024] {
                        let mut written = Vec::new();
                        super::write_text(&mut written, &plan, color, mask, chunk).unwrap();
                        assert_eq!(
                            String::from_utf8(written).unwrap(),
                            expected,
                            "{changes} changes, baseline {baseline}, colour {color}, mask \
                             {mask}, chunks of {chunk}"
                        );
                    }
                }
            }
        }
    }

    /// A write error part way (a full disk, a closed pipe) is the error `write_text` returns,
    /// whichever chunk meets it.
    #[test]
    fn a_write_error_in_a_chunked_text_plan_is_returned() {
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(std::io::Error::other("no space left"));
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let plan = varied_plan(40);
        for room in [0, 100, 5_000] {
            let error = super::write_text(&mut Full(room), &plan, false, false, 3).unwrap_err();
            assert_eq!(error.to_string(), "no space left", "{room} bytes of room");
        }
    }
}
