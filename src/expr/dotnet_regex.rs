//! .NET regular expressions, as Entra runs them in `Replace` and the `regex_match` scoping
//! operators (Microsoft Learn, "Regular Expression Language - Quick Reference"). The engine is
//! `fancy-regex` (look-around and back-references); this module translates the few places where
//! .NET's syntax means something else, and refuses, with their position, the .NET constructs the
//! engine cannot run.
//!
//! | .NET | here |
//! |---|---|
//! | `\<`, `\>` (escaped literals) | `<`, `>` (the engine reads `\<` as a word boundary) |
//! | `$` (end, or before a final newline) | `(?=\n?\z)` unless `(?m)` is set |
//! | `\Z` | `(?=\n?\z)` |
//! | `(?'name'...)` | `(?<name>...)` |
//! | `\k'name'` | `\k<name>` |
//! | `\uFFFF`, `\e`, `\a` | `\x{FFFF}`, `\x{1B}`, `\x{07}` |
//! | `(?#comment)` | removed |
//! | class subtraction `[a-z-[aeiou]]`, `\G`, `\cX`, balancing groups `(?<a-b>...)`, conditionals `(?(...)...)` | refused |

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// A pattern the engine cannot run: where (a byte offset in the .NET pattern, when known) and
/// why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) offset: Option<usize>,
    pub(crate) message: String,
}

/// Patterns compiled so far: an expression's pattern is usually a literal, compiled once for all
/// users. Bounded so that patterns built from attribute values cannot grow it without end.
static CACHE: LazyLock<Mutex<HashMap<String, Compiled>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A compiled pattern, or why it cannot run.
type Compiled = Result<Arc<fancy_regex::Regex>, Problem>;
const CACHE_LIMIT: usize = 1024;

/// The .NET `pattern`, compiled.
pub(crate) fn compile(pattern: &str) -> Compiled {
    if let Some(hit) = CACHE.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return hit;
    }
    let compiled = translate(pattern).and_then(|translated| {
        fancy_regex::Regex::new(&translated)
            .map(Arc::new)
            .map_err(|e| Problem {
                offset: None,
                message: engine_message(&e),
            })
    });
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), compiled.clone());
    }
    compiled
}

/// The engine's complaint without its own layout.
fn engine_message(e: &fancy_regex::Error) -> String {
    let text = e.to_string();
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&text)
        .trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    // Positions are the translated pattern's: leave them out.
    match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("Parsing error at position") => rest.to_owned(),
        _ => line.to_owned(),
    }
}

/// The engine's form of a .NET pattern.
pub(crate) fn translate(pattern: &str) -> Result<String, Problem> {
    let multi_line =
        pattern.contains("(?m") || pattern.contains("(?im") || pattern.contains("(?sm");
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => escape(at, &mut chars, in_class, &mut out)?,
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // `[]` and `[^]` keep a leading `]` literal, as in .NET.
                if let Some((_, '^')) = chars.peek() {
                    out.push('^');
                    chars.next();
                }
                if let Some((_, ']')) = chars.peek() {
                    out.push_str(r"\]");
                    chars.next();
                }
            }
            '-' if in_class && chars.peek().is_some_and(|(_, n)| *n == '[') => {
                return Err(refuse(
                    at,
                    "character class subtraction ([a-z-[aeiou]]) is not supported",
                ));
            }
            '[' if in_class => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class && !multi_line => out.push_str(r"(?=\n?\z)"),
            '(' if !in_class && chars.peek().is_some_and(|(_, n)| *n == '?') => {
                group(pattern, at, &mut chars, &mut out)?;
            }
            '(' if !in_class && chars.peek().is_some_and(|(_, n)| *n == '*') => {
                return Err(refuse(at, "(*VERB) is PCRE syntax .NET does not have"));
            }
            '{' if !in_class => quantifier(pattern, at, &mut out)?,
            other => out.push(other),
        }
    }
    Ok(out)
}

type Chars<'p> = std::iter::Peekable<std::str::CharIndices<'p>>;

fn refuse(offset: usize, message: &str) -> Problem {
    Problem {
        offset: Some(offset),
        message: message.to_owned(),
    }
}

/// The Unicode general categories .NET's `\p{..}` knows ("Character classes in .NET regular
/// expressions", supported Unicode general categories).
const GENERAL_CATEGORIES: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
    "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C",
    "Cc", "Cf", "Cs", "Co", "Cn",
];

/// The escape after the backslash at `at`.
fn escape(
    at: usize,
    chars: &mut Chars<'_>,
    in_class: bool,
    out: &mut String,
) -> Result<(), Problem> {
    use std::fmt::Write as _;
    let Some((_, next)) = chars.next() else {
        return Err(refuse(at, "the pattern ends with a lone backslash"));
    };
    match next {
        '<' | '>' => out.push(next),
        'Z' if !in_class => out.push_str(r"(?=\n?\z)"),
        'e' => out.push_str(r"\x{1B}"),
        'a' => out.push_str(r"\x{07}"),
        'u' => {
            let hex: String = (0..4)
                .filter_map(|_| chars.next().map(|(_, h)| h))
                .collect();
            if hex.len() != 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err(refuse(at, r"\u takes four hex digits, e.g. \u00E9"));
            }
            let _ = write!(out, r"\x{{{hex}}}");
        }
        'k' if chars.peek().is_some_and(|(_, q)| *q == '\'') => {
            chars.next();
            let name: String = chars
                .by_ref()
                .map(|(_, n)| n)
                .take_while(|n| *n != '\'')
                .collect();
            let _ = write!(out, r"\k<{name}>");
        }
        'G' => return Err(refuse(at, r"\G (contiguous matches) is not supported")),
        'K' | 'R' | 'h' | 'H' | 'X' | 'C' | 'N' | 'V' | 'o' | 'g' => {
            return Err(refuse(
                at,
                &format!(r"\{next} is not a .NET escape (it is PCRE's or Rust's)"),
            ));
        }
        'c' => {
            return Err(refuse(
                at,
                r"\c (control characters) is not supported; write \x{..}",
            ));
        }
        // A Unicode category, `\p{Mn}`: its braces are the name's, never a quantifier. .NET
        // knows the general categories by their two-letter (or one-letter) names, with case, and
        // named blocks (`\p{IsGreek}`), which are not the engine's scripts; `\pL` it refuses.
        'p' | 'P' => {
            if chars.peek().is_none_or(|(_, b)| *b != '{') {
                return Err(refuse(
                    at,
                    &format!(r"\{next} takes a category in braces, e.g. \{next}{{L}}"),
                ));
            }
            let mut name = String::new();
            chars.next();
            loop {
                match chars.next() {
                    Some((_, '}')) => break,
                    Some((_, c)) => name.push(c),
                    None => return Err(refuse(at, &format!(r"\{next}{{ is never closed"))),
                }
            }
            if name.starts_with("Is") {
                return Err(refuse(
                    at,
                    &format!(
                        r"\{next}{{{name}}} names a .NET Unicode block, which is not supported"
                    ),
                ));
            }
            if !GENERAL_CATEGORIES.contains(&name.as_str()) {
                return Err(refuse(
                    at,
                    &format!(
                        r"\{next}{{{name}}} is not a .NET Unicode category (L, Lu, Ll, Lt, Lm, Lo, M, Mn, Mc, Me, N, Nd, Nl, No, P, Pc, Pd, Ps, Pe, Pi, Pf, Po, S, Sm, Sc, Sk, So, Z, Zs, Zl, Zp, C, Cc, Cf, Cs, Co, Cn; names are case-sensitive)"
                    ),
                ));
            }
            let _ = write!(out, r"\{next}{{{name}}}");
        }
        other => {
            out.push('\\');
            out.push(other);
        }
    }
    Ok(())
}

/// A `{` at `at`: a quantifier `{n}`, `{n,}` or `{n,m}` as .NET reads one (`{n,m}` with `n > m`
/// refused); anything else, such as `{,3}`, is literal text in .NET.
fn quantifier(pattern: &str, at: usize, out: &mut String) -> Result<(), Problem> {
    let body = pattern[at + 1..].split_once('}').map(|(b, _)| b);
    let bounds = body.and_then(|b| {
        let (low, high) = b
            .split_once(',')
            .map_or((b, Some(b)), |(l, h)| (l, Some(h)));
        let low = (!low.is_empty() && low.bytes().all(|c| c.is_ascii_digit()))
            .then(|| low.parse::<u64>().ok())??;
        let high = match high {
            Some("") => None,
            Some(h) if h.bytes().all(|c| c.is_ascii_digit()) => Some(h.parse::<u64>().ok()?),
            _ => return None,
        };
        Some((low, high))
    });
    match bounds {
        Some((low, Some(high))) if low > high => Err(refuse(at, "a quantifier {n,m} needs n <= m")),
        Some(_) => {
            out.push('{');
            Ok(())
        }
        None => {
            out.push_str(r"\{");
            Ok(())
        }
    }
}

/// The `(?` construct at `at` (its `(` consumed).
fn group(pattern: &str, at: usize, chars: &mut Chars<'_>, out: &mut String) -> Result<(), Problem> {
    use std::fmt::Write as _;
    let rest = &pattern[at..];
    if rest.starts_with("(?#") {
        // A comment: up to the first `)`.
        for (_, skipped) in chars.by_ref() {
            if skipped == ')' {
                break;
            }
        }
    } else if let Some(named) = rest.strip_prefix("(?'") {
        let name: String = named.chars().take_while(|n| *n != '\'').collect();
        if name.contains('-') {
            return Err(refuse(at, "balancing groups are not supported"));
        }
        let _ = write!(out, "(?<{name}>");
        for _ in 0..name.chars().count() + 3 {
            chars.next();
        }
    } else if rest.starts_with("(?P") || rest.starts_with("(?U") {
        return Err(refuse(
            at,
            "(?P...) and (?U) are Python/Rust syntax .NET does not have; write (?<name>...)",
        ));
    } else if rest.starts_with("(?(") {
        return Err(refuse(
            at,
            "conditional groups (?(...)...) are not supported",
        ));
    } else {
        let named = rest
            .strip_prefix("(?<")
            .filter(|r| !r.starts_with(['=', '!']))
            .map(|r| r.chars().take_while(|n| *n != '>').collect::<String>());
        if named.is_some_and(|name| name.contains('-')) {
            return Err(refuse(at, "balancing groups are not supported"));
        }
        out.push('(');
    }
    Ok(())
}

/// Whether a compiled pattern matches; a match the engine gives up on (its backtracking limit)
/// is an error naming the pattern as written, never a silent "no".
pub(crate) fn is_match(
    regex: &fancy_regex::Regex,
    written: &str,
    text: &str,
) -> Result<bool, String> {
    regex
        .is_match(text)
        .map_err(|e| format!("the pattern {written:?} could not finish matching: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace_all(pattern: &str, text: &str, with: &str) -> String {
        let regex = compile(pattern).unwrap();
        let mut out = String::new();
        let mut last = 0;
        for caps in regex.captures_iter(text) {
            let m = caps.unwrap().get(0).unwrap();
            out.push_str(&text[last..m.start()]);
            out.push_str(with);
            last = m.end();
        }
        out.push_str(&text[last..]);
        out
    }

    /// A Unicode category outside brackets (`\p{Mn}`, the usual way to strip accents) is a
    /// category, not `\p` and a quantifier; .NET's named blocks are refused by name.
    #[test]
    fn unicode_categories_outside_brackets() {
        assert_eq!(replace_all(r"\p{Mn}", "e\u{301}le\u{300}ve", ""), "eleve");
        assert_eq!(replace_all(r"\P{L}+", "a1 b", "-"), "a-b");
        assert!(
            compile(r"\p{IsGreek}")
                .unwrap_err()
                .message
                .contains("Unicode block")
        );
        assert!(
            compile(r"\p{Mn")
                .unwrap_err()
                .message
                .contains("never closed")
        );
        // What .NET refuses: scripts, long names, another case, no braces; in a class too.
        for refused in [
            r"\p{Greek}",
            r"\p{Lowercase_Letter}",
            r"\p{l}",
            r"\pL",
            r"[\p{Greek}]",
        ] {
            assert!(compile(refused).is_err(), "{refused}");
        }
        assert!(compile(r"[\p{Lu}\d]").is_ok());
    }

    #[test]
    fn microsofts_sam_account_name_clean_up_runs() {
        // The Workday guide's character class, as the expression's string holds it.
        let pattern = r"([\/\\\[\]\:\;\|\=\,\+\*\?\<\>])";
        assert_eq!(replace_all(pattern, "john.smith", ""), "john.smith");
        assert_eq!(
            replace_all(pattern, r"a<b>c[d]e\f/g:h;i|j=k,l+m*n?o", ""),
            "abcdefghijklmno"
        );
        // The trailing-dots clean-up: `$` before a final newline too, as in .NET.
        assert_eq!(replace_all(r"(\.)*$", "jsmith...", ""), "jsmith");
    }

    #[test]
    fn look_around_and_back_references_run() {
        let matches = |p: &str, text: &str| is_match(&compile(p).unwrap(), p, text).unwrap();
        assert!(matches(r"^(?=.*\d)(?!.*\s).+$", "abc1"));
        assert!(!matches(r"^(?=.*\d)(?!.*\s).+$", "ab c1"));
        assert!(matches(r"(\w)\1", "book"));
        assert!(matches(r"(?'x'\w)\k'x'", "book"));
        assert!(matches(r"(?<=@)contoso\.com", "a@contoso.com"));
        // A pattern the engine gives up on is an error naming it as written.
        let input = format!("{}b", "a".repeat(37));
        let slow = "^(a|aa)+(?!b)$";
        let err = is_match(&compile(slow).unwrap(), slow, &input).unwrap_err();
        assert!(
            err.starts_with("the pattern \"^(a|aa)+(?!b)$\" could not finish matching"),
            "{err}"
        );
        assert_eq!(replace_all(r"\u00E9", "café", "e"), "cafe");
        assert_eq!(replace_all(r"a(?#comment)b", "xaby", "-"), "x-y");
    }

    #[test]
    fn what_the_engine_cannot_run_is_refused_at_its_place() {
        for (pattern, offset, starts) in [
            (r"[a-z-[aeiou]]", 4, "character class subtraction"),
            (r"ab\G", 2, r"\G"),
            (r"(?(x)a|b)", 0, "conditional groups"),
            (r"(?<open-close>a)", 0, "balancing groups"),
            (r"abc\", 3, "the pattern ends"),
        ] {
            let problem = compile(pattern).unwrap_err();
            assert_eq!(problem.offset, Some(offset), "{pattern}");
            assert!(
                problem.message.starts_with(starts),
                "{pattern}: {}",
                problem.message
            );
        }
        // `{,3}` is literal text in .NET; `{2,1}` is refused; PCRE-only syntax is refused.
        assert_eq!(replace_all("a{,3}", "xa{,3}y", "-"), "x-y");
        assert_eq!(replace_all("a{2}", "aaa", "-"), "-a");
        for (pattern, starts) in [
            ("a{2,1}", "a quantifier"),
            (r"ab\K", r"\K is not a .NET escape"),
            ("(*FAIL)", "(*VERB)"),
            ("(?P<n>a)", "(?P...)"),
        ] {
            let problem = compile(pattern).unwrap_err();
            assert!(
                problem.message.starts_with(starts),
                "{pattern}: {}",
                problem.message
            );
        }
        let engine = compile("(unclosed").unwrap_err();
        assert_eq!(
            (engine.offset, engine.message.as_str()),
            (None, "Opening parenthesis without closing parenthesis")
        );
    }
}
