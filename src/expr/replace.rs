//! Replace, in all five documented modes, with .NET regex conventions (`dotnet_regex`):
//! `(?<name>...)` groups, look-around, back-references, and `$1` / `${name}` / `$$` / `$&`
//! substitutions.

use fancy_regex::Regex;

type Captures<'t> = fancy_regex::Captures<'t, str>;

/// The slots of a Replace call, already evaluated. `None` is an empty slot.
pub(crate) struct ReplaceArgs<'a> {
    pub(crate) source: Option<&'a str>,
    pub(crate) old_value: Option<&'a str>,
    pub(crate) regex: Option<&'a Regex>,
    pub(crate) group: Option<&'a str>,
    pub(crate) replacement: Option<&'a str>,
    pub(crate) replacement_attribute: Option<&'a str>,
    pub(crate) template: Option<&'a str>,
}

/// `Ok(None)` is a null result.
pub(crate) fn replace(args: &ReplaceArgs<'_>) -> Result<Option<String>, String> {
    match (args.old_value, args.regex) {
        (Some(old), None) => {
            if let Some(template) = args.template {
                // Mode 2: put the source into the template where oldValue stands.
                return Ok(args.source.map(|s| template.replace(old, s)));
            }
            let Some(replacement) = args.replacement else {
                return Err("with oldValue, give replacementValue or template".to_owned());
            };
            if old.is_empty() {
                return Ok(args.source.map(str::to_owned));
            }
            // Mode 1: every occurrence, case-sensitive.
            Ok(args.source.map(|s| s.replace(old, replacement)))
        }
        (None, Some(regex)) => match (args.group, args.replacement, args.replacement_attribute) {
            // Mode 5: keep a present source; otherwise extract the group from the other value.
            (Some(group), _, Some(other)) => {
                if let Some(source) = args.source.filter(|s| !s.is_empty()) {
                    return Ok(Some(source.to_owned()));
                }
                Ok(regex
                    .captures(other)
                    .map_err(|e| gave_up(&e))?
                    .and_then(|c| named(regex, &c, group).map(|m| m.as_str().to_owned())))
            }
            // Mode 4: replace only the text of the named group in every match.
            (Some(group), Some(replacement), None) => {
                if regex.capture_names().flatten().all(|n| n != group) {
                    return Err(format!("the pattern has no group named {group:?}"));
                }
                args.source
                    .map(|s| replace_group(regex, s, group, replacement))
                    .transpose()
            }
            // Mode 3: replace every match, with substitutions.
            (None, Some(replacement), _) => args
                .source
                .map(|s| replace_matches(regex, s, replacement))
                .transpose(),
            _ => Err("with regexPattern, give replacementValue (and optionally regexGroupName), or regexGroupName and replacementAttributeName".to_owned()),
        },
        (Some(_), Some(_)) => Err("give oldValue or regexPattern, not both".to_owned()),
        (None, None) => Err("give oldValue or regexPattern".to_owned()),
    }
}

/// A match the engine gave up on (its backtracking limit): an error, never a silent "no match".
/// (The call names the pattern; the engine's form of it would differ from what was written.)
fn gave_up(e: &fancy_regex::Error) -> String {
    format!("the pattern could not finish matching: {e}")
}

/// Every match of `regex` in `source`, found as .NET's `Regex.Replace` finds them: after an
/// empty match the search moves on one character, and after a non-empty one it starts where
/// the match ended, where an empty match may follow (`b*` in `abc` matches ``, `b`, `` and ``:
/// `-a--c-`). Rust's engines skip an empty match right after a match (`-a-c-`).
fn dotnet_matches<'t>(regex: &Regex, source: &'t str) -> Result<Vec<Captures<'t>>, String> {
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(caps) = regex
        .captures_from_pos(source, pos)
        .map_err(|e| gave_up(&e))?
    {
        let Some(m) = caps.get(0) else { break };
        pos = if m.start() < m.end() {
            m.end()
        } else {
            match source[m.end()..].chars().next() {
                Some(c) => m.end() + c.len_utf8(),
                None => source.len() + 1,
            }
        };
        found.push(caps);
        if pos > source.len() {
            break;
        }
    }
    Ok(found)
}

/// The group named `name` in a match. .NET lets one name stand in several places (`(?<g>a)|
/// (?<g>b)`), all one group: the capture is the last of them that took part.
fn named<'t>(regex: &Regex, caps: &Captures<'t>, name: &str) -> Option<fancy_regex::Match<'t>> {
    regex
        .capture_names()
        .enumerate()
        .filter(|(_, n)| *n == Some(name))
        .filter_map(|(i, _)| caps.get(i))
        .last()
}

/// Mode 3: every match replaced, with substitutions.
fn replace_matches(regex: &Regex, source: &str, replacement: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for caps in dotnet_matches(regex, source)? {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&source[last..m.start()]);
        out.push_str(&substitute(regex, &caps, replacement, source));
        last = m.end();
    }
    out.push_str(&source[last..]);
    Ok(out)
}

fn replace_group(
    regex: &Regex,
    source: &str,
    group: &str,
    replacement: &str,
) -> Result<String, String> {
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for caps in dotnet_matches(regex, source)? {
        // A group in a look-around may stand outside its match, and before where the last
        // replaced group ended (`\w(?=(?<g>\w\w))`): text already replaced is not replaced
        // again.
        if let Some(m) = named(regex, &caps, group).filter(|m| m.start() >= last) {
            out.push_str(&source[last..m.start()]);
            out.push_str(&substitute(regex, &caps, replacement, source));
            last = m.end();
        }
    }
    out.push_str(&source[last..]);
    Ok(out)
}

/// .NET substitution syntax.
fn substitute(regex: &Regex, caps: &Captures<'_>, replacement: &str, input: &str) -> String {
    let mut out = String::new();
    let mut rest = replacement;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (text, consumed) = if let Some(tail) = after.strip_prefix('{') {
            match tail.find('}') {
                Some(end) => {
                    let name = &tail[..end];
                    let group = name
                        .parse::<usize>()
                        .map_or_else(|_| named(regex, caps, name), |n| caps.get(n));
                    match group {
                        Some(m) => (m.as_str().to_owned(), end + 2),
                        // A group of the pattern that took no part: nothing, as in .NET.
                        None if is_known(regex, caps, name) => (String::new(), end + 2),
                        None => (format!("${{{name}}}"), end + 2),
                    }
                }
                None => ("$".to_owned(), 0),
            }
        } else if after.starts_with('$') {
            ("$".to_owned(), 1)
        } else if after.starts_with('+') {
            // The last group of the pattern.
            let last = caps.len().saturating_sub(1);
            (
                caps.get(last)
                    .filter(|_| last > 0)
                    .map_or("", |m| m.as_str())
                    .to_owned(),
                1,
            )
        } else if after.starts_with('_') {
            (input.to_owned(), 1)
        } else if after.starts_with('&') {
            (caps.get(0).map_or("", |m| m.as_str()).to_owned(), 1)
        } else if after.starts_with('`') {
            (input[..caps.get(0).map_or(0, |m| m.start())].to_owned(), 1)
        } else if after.starts_with('\'') {
            (
                input[caps.get(0).map_or(input.len(), |m| m.end())..].to_owned(),
                1,
            )
        } else {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            match after[..digits]
                .parse::<usize>()
                .ok()
                .filter(|n| *n < caps.len())
            {
                Some(n) => (caps.get(n).map_or("", |m| m.as_str()).to_owned(), digits),
                None => ("$".to_owned(), 0),
            }
        };
        out.push_str(&text);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// Whether the pattern has a group `name` (a number or a name).
fn is_known(regex: &Regex, caps: &Captures<'_>, name: &str) -> bool {
    name.parse::<usize>().is_ok_and(|n| n < caps.len())
        || regex.capture_names().any(|n| n == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(source: &str) -> ReplaceArgs<'_> {
        ReplaceArgs {
            source: Some(source),
            old_value: None,
            regex: None,
            group: None,
            replacement: None,
            replacement_attribute: None,
            template: None,
        }
    }

    #[test]
    fn substitutions_follow_dotnet() {
        let re = Regex::new(r"(?<a>\d+)-(\d+)").unwrap();
        let a = ReplaceArgs {
            regex: Some(&re),
            replacement: Some("${a}|$2|$$|$&|$9"),
            ..args("x12-34y")
        };
        assert_eq!(replace(&a).unwrap().unwrap(), "x12|34|$|12-34|$9y");
        // `$+` is the last group, `$_` the whole input, as in .NET.
        let a = ReplaceArgs {
            regex: Some(&re),
            replacement: Some("[$+|$_]"),
            ..args("x12-34y")
        };
        assert_eq!(replace(&a).unwrap().unwrap(), "x[34|x12-34y]y");
        // A named group that took no part is nothing; one the pattern lacks stays as written;
        // a name given twice is the one that took part.
        for (pattern, replacement, expected) in [
            ("(?<g>b)?c", "[${g}]", "a[]"),
            ("(?<g>b)?c", "[${h}]", "a[${h}]"),
            ("(?<g>x)|(?<g>c)", "[${g}]", "a[c]"),
        ] {
            let re = Regex::new(pattern).unwrap();
            let a = ReplaceArgs {
                regex: Some(&re),
                replacement: Some(replacement),
                ..args("ac")
            };
            assert_eq!(replace(&a).unwrap().unwrap(), expected, "{pattern}");
        }
    }

    /// Empty matches are found where .NET finds them (the expectations are .NET's, which
    /// Python's `re.sub` shares since 3.7): one right after a non-empty match too.
    #[test]
    fn empty_matches_are_replaced_as_dotnet_replaces_them() {
        for (pattern, source, replacement, expected) in [
            ("b*", "abc", "-", "-a--c-"),
            ("x*", "abc", "-", "-a-b-c-"),
            ("", "abc", "-", "-a-b-c-"),
            ("(?=b)", "abc", "-", "a-bc"),
            (r"\b", "abc", "-", "-abc-"),
            ("a|", "abc", "-", "--b-c-"),
            ("x*", "éa", "-", "-é-a-"),
            ("x*", "", "-", "-"),
            ("(?<g>b*)", "abc", "[${g}]", "[]a[b][]c[]"),
        ] {
            let re = Regex::new(pattern).unwrap();
            let a = ReplaceArgs {
                regex: Some(&re),
                replacement: Some(replacement),
                ..args(source)
            };
            assert_eq!(
                replace(&a).unwrap().unwrap(),
                expected,
                "{pattern} in {source:?}"
            );
        }
        // Mode 4: only the group's text, in every match.
        let re = Regex::new("(?<g>b*)").unwrap();
        let a = ReplaceArgs {
            regex: Some(&re),
            group: Some("g"),
            replacement: Some("-"),
            ..args("abc")
        };
        assert_eq!(replace(&a).unwrap().unwrap(), "-a--c-");
        // A group in a look-around, overlapping the one before: each text is replaced once,
        // never a panic.
        for (pattern, expected) in [
            (r"\w(?=(?<g>\w\w))", "a-d"),
            (r"(?<=(?<g>\w\w))\w", "-cd"),
            // One name in two places is one group.
            (r"(?<g>b)|(?<=(?<g>a)b)c", "a-cd"),
        ] {
            let re = Regex::new(pattern).unwrap();
            let a = ReplaceArgs {
                regex: Some(&re),
                group: Some("g"),
                replacement: Some("-"),
                ..args("abcd")
            };
            assert_eq!(replace(&a).unwrap().unwrap(), expected, "{pattern}");
        }
    }

    #[test]
    fn conflicting_slots_are_errors() {
        let re = Regex::new("a").unwrap();
        let a = ReplaceArgs {
            old_value: Some("a"),
            regex: Some(&re),
            replacement: Some("b"),
            ..args("a")
        };
        assert!(replace(&a).is_err());
        assert!(replace(&args("a")).is_err());
    }
}
