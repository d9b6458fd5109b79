//! String functions that need more than a line: NormalizeDiacritics with Entra's table, PCase
//! as .NET's ToTitleCase behaves for Entra, culture-aware case mapping, Word.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Entra's NormalizeDiacritics table, as Microsoft's function reference prints it: each
/// replacement and the characters (some a base letter with combining marks) it replaces, in
/// NFC. Anything else stays as it is — `ð`, `þ`, `đ` and a plain `œ` are not in the table.
const DIACRITICS: &[(&str, &[&str])] = &[
    (
        "a",
        &[
            "ä", "à", "â", "ã", "å", "á", "ą", "ă", "ā", "ā́", "ā̀", "ā̂", "ā̃", "ǟ", "ā̈", "ǡ", "a̱",
            "å̄",
        ],
    ),
    (
        "A",
        &[
            "Ä", "À", "Â", "Ã", "Å", "Á", "Ą", "Ă", "Ā", "Ā́", "Ā̀", "Ā̂", "Ā̃", "Ǟ", "Ā̈", "Ǡ", "A̱",
            "Å̄",
        ],
    ),
    ("ae", &["æ", "ǣ"]),
    ("AE", &["Æ", "Ǣ"]),
    ("c", &["ç", "č", "ć", "c̄", "c̱"]),
    ("C", &["Ç", "Č", "Ć", "C̄", "C̱"]),
    ("d", &["ď", "d̄", "ḏ"]),
    ("D", &["Ď", "D̄", "Ḏ"]),
    (
        "e",
        &[
            "ë", "è", "é", "ê", "ę", "ě", "ė", "ē", "ḗ", "ḕ", "ē̂", "ē̃", "ê̄", "e̱", "ë̄", "e̊̄",
        ],
    ),
    (
        "E",
        &[
            "Ë", "È", "É", "Ê", "Ę", "Ě", "Ė", "Ē", "Ḗ", "Ḕ", "Ē̂", "Ē̃", "Ê̄", "E̱", "Ë̄", "E̊̄",
        ],
    ),
    ("g", &["ğ", "ḡ", "g̱"]),
    ("G", &["Ğ", "Ḡ", "G̱"]),
    (
        "i",
        &["ï", "î", "ì", "í", "ı", "ī", "ī́", "ī̀", "ī̂", "ī̃", "i̱"],
    ),
    (
        "I",
        &["Ï", "Î", "Ì", "Í", "İ", "Ī", "Ī́", "Ī̀", "Ī̂", "Ī̃", "I̱"],
    ),
    ("l", &["ľ", "ł", "l̄", "ḹ", "ḻ"]),
    ("L", &["Ł", "Ľ", "L̄", "Ḹ", "Ḻ"]),
    ("n", &["ñ", "ń", "ň", "n̄", "ṉ"]),
    ("N", &["Ñ", "Ń", "Ň", "N̄", "Ṉ"]),
    (
        "o",
        &[
            "ö", "ò", "ő", "õ", "ô", "ó", "ō", "ṓ", "ṑ", "ō̂", "ō̃", "ȫ", "ō̈", "ǭ", "ȭ", "ȱ", "o̱",
        ],
    ),
    (
        "O",
        &[
            "Ö", "Ò", "Ő", "Õ", "Ô", "Ó", "Ō", "Ṓ", "Ṑ", "Ō̂", "Ō̃", "Ȫ", "Ō̈", "Ǭ", "Ȭ", "Ȱ", "O̱",
        ],
    ),
    ("oe", &["ø", "ø̄", "œ̄"]),
    ("OE", &["Ø", "Ø̄", "Œ̄"]),
    ("r", &["ř", "r̄", "ṟ", "ṝ"]),
    ("R", &["Ř", "R̄", "Ṟ", "Ṝ"]),
    ("ss", &["ß"]),
    ("s", &["š", "ś", "ș", "ş", "s̄", "s̱"]),
    ("S", &["Š", "Ś", "Ș", "Ş", "S̄", "S̱"]),
    ("t", &["ť", "ț", "t̄", "ṯ"]),
    ("T", &["Ť", "Ț", "T̄", "Ṯ"]),
    (
        "u",
        &[
            "ü", "ù", "û", "ú", "ů", "ű", "ū", "ū́", "ū̀", "ū̂", "ū̃", "u̇̄", "ǖ", "ṻ", "ṳ̄", "u̱",
        ],
    ),
    (
        "U",
        &[
            "Ü", "Ù", "Û", "Ú", "Ů", "Ű", "Ū", "Ū́", "Ū̀", "Ū̂", "Ū̃", "U̇̄", "Ǖ", "Ṻ", "Ṳ̄", "U̱",
        ],
    ),
    ("y", &["ÿ", "ý", "ȳ", "ȳ́", "ȳ̀", "ȳ̃", "y̱"]),
    ("Y", &["Ÿ", "Ý", "Ȳ", "Ȳ́", "Ȳ̀", "Ȳ̃", "Y̱"]),
    ("z", &["ź", "ž", "ż", "z̄", "ẕ"]),
    ("Z", &["Ź", "Ž", "Ż", "Z̄", "Ẕ"]),
];

/// The longest key of `DIACRITICS` written decomposed, in characters (`ǟ` is `a`, U+0308,
/// U+0304).
const LONGEST: usize = 4;

/// `DIACRITICS` by the characters replaced.
fn diacritics() -> &'static std::collections::HashMap<&'static str, &'static str> {
    static TABLE: std::sync::LazyLock<std::collections::HashMap<&'static str, &'static str>> =
        std::sync::LazyLock::new(|| {
            DIACRITICS
                .iter()
                .flat_map(|(to, from)| from.iter().map(move |f| (*f, *to)))
                .collect()
        });
    &TABLE
}

/// Replaces the characters of Entra's table by their letters, longest match first. A letter
/// typed as base + combining marks is the same letter (each candidate is compared in NFC), and
/// everything outside the table is kept exactly as written, as Entra keeps it.
pub(crate) fn normalize_diacritics(source: &str) -> String {
    let table = diacritics();
    let starts: Vec<usize> = source
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(source.len()))
        .collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i + 1 < starts.len() {
        let matched = (1..=LONGEST.min(starts.len() - 1 - i)).rev().find_map(|n| {
            let candidate = &source[starts[i]..starts[i + n]];
            let composed: String = candidate.nfc().collect();
            table.get(composed.as_str()).map(|to| (n, *to))
        });
        let (n, to) = matched.unwrap_or((1, &source[starts[i]..starts[i + 1]]));
        out.push_str(to);
        i += n;
    }
    out
}

/// PCase: each word's first letter upper case, the rest lower case.
///
/// With `separators`, a word is what lies between them. Without, as .NET's
/// `TextInfo.ToTitleCase` (which Entra calls) runs on the lower-cased text (the documented
/// `PABLO GONSALVES` → `Pablo Gonsalves`; ToTitleCase alone keeps an all-capital word): a word
/// starts at a letter that follows a non-letter, and runs on through letters, digits, marks and
/// the apostrophe `'` (`O'neil`, `D'arcy`) to the first separator (space, punctuation, symbol,
/// control); a letter after a digit starts one (`2Nd`). Its first letter takes the title-case
/// form (`ǅ` for `ǆ`), else the one-to-one upper case (`ﬁ` has none and stays). Source:
/// dotnet/runtime `TextInfo.ToTitleCase`, `AddTitlecaseLetter`, `IsWordSeparator`.
pub(crate) fn proper_case(source: &str, separators: Option<&str>) -> String {
    let mut out = String::with_capacity(source.len());
    if let Some(set) = separators {
        let mut word_start = true;
        for c in source.chars() {
            if set.contains(c) {
                out.push(c);
                word_start = true;
            } else {
                out.push(simple_case(c, word_start));
                word_start = false;
            }
        }
        return out;
    }
    let is_letter = |c: char| c.is_alphabetic() && !c.is_numeric() && !is_combining_mark(c);
    let is_separator = |c: char| !(c.is_alphanumeric() || is_combining_mark(c));
    let mut chars = source.chars().map(|c| simple_case(c, false)).peekable();
    while let Some(c) = chars.next() {
        if !is_letter(c) {
            out.push(c);
            continue;
        }
        out.push(title_case(c));
        while let Some(&next) = chars.peek() {
            if next != '\'' && is_separator(next) {
                break;
            }
            out.push(next);
            chars.next();
        }
    }
    out
}

/// A word's first letter in .NET's title case: the digraphs Unicode gives a title-case form
/// (`ǅ`, `ǈ`, `ǋ`, `ǲ`) take it, any other letter its one-to-one upper case.
fn title_case(c: char) -> char {
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        other => simple_case(other, true),
    }
}

/// One character's simple (one-to-one) case mapping, as .NET's invariant culture maps case:
/// a letter whose full Unicode mapping is longer keeps its form (`ß` stays `ß` in upper case,
/// where Unicode writes `SS`); and, as on Windows (Entra's service), the Turkish letters keep
/// theirs: `İ` (U+0130) lowers to itself and `ı` (U+0131) uppers to itself (dotnet/runtime,
/// `pal_casing.c`, `GlobalizationNative_ChangeCaseInvariant`, which copies that behaviour).
fn simple_case(c: char, upper: bool) -> char {
    if matches!((c, upper), ('\u{130}', false) | ('\u{131}', true)) {
        return c;
    }
    let mut mapped: Vec<char> = if upper {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    };
    if mapped.len() == 1 {
        mapped.remove(0)
    } else {
        c
    }
}

/// ToUpper/ToLower: invariant culture unless one is given; Turkish and Azeri dot the i.
pub(crate) fn change_case(source: &str, culture: Option<&str>, upper: bool) -> String {
    let turkic = culture.is_some_and(|c| {
        let lang = c.split(['-', '_']).next().unwrap_or_default();
        lang.eq_ignore_ascii_case("tr") || lang.eq_ignore_ascii_case("az")
    });
    source
        .chars()
        .map(|c| match (turkic, upper, c) {
            (true, true, 'i') => 'İ',
            (true, false, 'I') => 'ı',
            (true, false, 'İ') => 'i',
            (true, true, 'ı') => 'I',
            (_, upper, c) => simple_case(c, upper),
        })
        .collect()
}

/// Where in `s` (a range of bytes) the text from UTF-16 unit `start`, `len` units long, is, as
/// .NET's `Substring` counts (Left and Mid): a character outside the Basic Multilingual Plane
/// (`𠮷`, an emoji) is two units. Where a bound falls inside such a character, .NET would keep
/// half of it, a lone surrogate no Salesforce field stores as text: the character is left out
/// instead. Empty (`0..0`) when no character is in it.
pub(crate) fn utf16_range(s: &str, start: usize, len: usize) -> std::ops::Range<usize> {
    let end = start.saturating_add(len);
    let mut at = 0usize;
    let mut range: Option<std::ops::Range<usize>> = None;
    for (i, c) in s.char_indices() {
        let next = at + c.len_utf16();
        if at >= start && next <= end {
            let to = i + c.len_utf8();
            range = Some(range.map_or(i..to, |r| r.start..to));
        }
        if next >= end {
            break;
        }
        at = next;
    }
    range.unwrap_or(0..0)
}

/// The text `utf16_range` finds.
pub(crate) fn utf16_slice(s: &str, start: usize, len: usize) -> String {
    s[utf16_range(s, start, len)].to_owned()
}

/// Word: the `number`th (1-based) run of characters between any of the `delimiters`.
pub(crate) fn word(source: &str, number: i64, delimiters: &str) -> String {
    let Ok(index) = usize::try_from(number.saturating_sub(1)) else {
        return String::new();
    };
    source
        .split(|c| delimiters.contains(c))
        .filter(|w| !w.is_empty())
        .nth(index)
        .unwrap_or_default()
        .to_owned()
}

/// Standard base64 with padding (the `base64` crate's standard engine).
pub(crate) fn base64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diacritics_follow_the_documented_table() {
        assert_eq!(normalize_diacritics("Zoë"), "Zoe");
        // Typed as base letter + combining mark: the same letter.
        assert_eq!(normalize_diacritics("Zoe\u{0308}"), "Zoe");
        // Letters of several scripts the table lists...
        assert_eq!(
            normalize_diacritics("Dvořák Şahin Țepeș Ğülşen Ñúñez Wałęsa Ďurčo"),
            "Dvorak Sahin Tepes Gulsen Nunez Walesa Durco"
        );
        // ...and decomposable letters it does not list, which stay as they are (Unicode
        // decomposition would strip them: Esperanto ĉ, Welsh ŵ, Vietnamese ệ, ḥ).
        assert_eq!(
            normalize_diacritics("Ĉu ŵ Nguyễn Thị Ệ ḥ ð þ đ œ"),
            "Ĉu ŵ Nguyễn Thị Ệ ḥ ð þ đ œ"
        );
        // Greek and Cyrillic are outside the table too.
        assert_eq!(
            normalize_diacritics("Ἀθῆναι Йошкар-Ола"),
            "Ἀθῆναι Йошкар-Ола"
        );
        // Every entry of the table maps as printed.
        for (to, from) in DIACRITICS {
            for f in *from {
                assert_eq!(normalize_diacritics(f), *to, "{f}");
            }
        }
        assert_eq!(
            normalize_diacritics("Ærøskøbing Łódź straße"),
            "AEroeskoebing Lodz strasse"
        );
        assert_eq!(
            normalize_diacritics("ǣ Ǣ ı İ ø̄ œ̄ ḗ ṻ ȳ̃ ǭ"),
            "ae AE i I oe oe e u y o"
        );
    }

    #[test]
    fn proper_case_with_and_without_separators() {
        assert_eq!(
            proper_case("PABLO GONSALVES (SECOND)", None),
            "Pablo Gonsalves (Second)"
        );
        assert_eq!(proper_case("PINTO-DE'SILVA", Some(" '-")), "Pinto-De'Silva");
        assert_eq!(
            proper_case("o'neil_mc-donald", Some(" ")),
            "O'neil_mc-donald"
        );
    }

    /// Without separators, as .NET's ToTitleCase on the lower-cased text: an apostrophe and a
    /// digit stay inside a word, a letter after a digit starts one, digraphs take their
    /// title-case form and a letter without a one-to-one upper case keeps its form.
    #[test]
    fn proper_case_without_separators_is_dotnet_title_case() {
        assert_eq!(proper_case("O'NEIL d'arcy", None), "O'neil D'arcy");
        assert_eq!(proper_case("2nd floor ab2cd", None), "2Nd Floor Ab2cd");
        assert_eq!(proper_case("ǆemal ǳ", None), "ǅemal ǲ");
        assert_eq!(proper_case("ﬁnn", None), "ﬁnn");
        assert_eq!(
            proper_case("'quoted' MC-DONALD_x", None),
            "'Quoted' Mc-Donald_X"
        );
        assert_eq!(proper_case("élodie ÆGIR İLKE", None), "Élodie Ægir İlke");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    #[test]
    fn the_invariant_culture_maps_case_one_to_one() {
        assert_eq!(change_case("straße", None, true), "STRAßE");
        assert_eq!(change_case("ŉ ǰ ﬃ", None, true), "ŉ ǰ ﬃ");
        // As Windows does: the dotted capital and the dotless small i keep their form.
        assert_eq!(change_case("İSTANBUL", None, false), "İstanbul");
        assert_eq!(change_case("ılık", None, true), "ıLıK");
        assert_eq!(change_case("ÉLODIE Ægir", None, false), "élodie ægir");
        assert_eq!(change_case("élodie", None, true), "ÉLODIE");
    }

    #[test]
    fn turkish_culture_dots_the_i() {
        assert_eq!(change_case("istanbul", Some("tr-TR"), true), "İSTANBUL");
        assert_eq!(change_case("istanbul", None, true), "ISTANBUL");
        assert_eq!(change_case("ISPARTA", Some("tr-TR"), false), "ısparta");
        // The dotted capital and the dotless small i change case in Turkish and Azeri.
        assert_eq!(change_case("İSTANBUL", Some("tr"), false), "istanbul");
        assert_eq!(change_case("ılık", Some("tr-TR"), true), "ILIK");
        assert_eq!(change_case("IİI", Some("az-Latn-AZ"), false), "ıiı");
    }
}
