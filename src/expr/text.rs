//! String functions that need more than a line: NormalizeDiacritics with Entra's table, PCase
//! as .NET's ToTitleCase behaves for Entra, culture-aware case mapping, Word.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Letters Entra's table maps that have no Unicode decomposition.
fn undecomposable(c: char) -> Option<&'static str> {
    Some(match c {
        'æ' => "ae",
        'Æ' => "AE",
        'ø' | 'œ' => "oe",
        'Ø' | 'Œ' => "OE",
        'ß' => "ss",
        'ł' => "l",
        'Ł' => "L",
        'ı' => "i",
        _ => return None,
    })
}

/// Replaces letters with diacritics by their base letters (Entra's documented table).
pub(crate) fn normalize_diacritics(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for c in source.nfd().filter(|c| !is_combining_mark(*c)) {
        match undecomposable(c) {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
    }
    out.nfc().collect()
}

/// PCase: each word's first letter upper case, the rest lower case. Without `separators`,
/// anything that is not a letter, digit or combining mark separates words (the Unicode
/// categories .NET's ToTitleCase treats as separators); with them, only those characters.
pub(crate) fn proper_case(source: &str, separators: Option<&str>) -> String {
    let is_separator = |c: char| match separators {
        Some(set) => set.contains(c),
        None => !(c.is_alphanumeric() || is_combining_mark(c)),
    };
    let mut out = String::with_capacity(source.len());
    let mut word_start = true;
    for c in source.chars() {
        if is_separator(c) {
            out.push(c);
            word_start = true;
        } else if word_start {
            out.extend(c.to_uppercase());
            word_start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// ToUpper/ToLower: invariant culture unless one is given; Turkish and Azeri dot the i.
pub(crate) fn change_case(source: &str, culture: Option<&str>, upper: bool) -> String {
    let turkic = culture.is_some_and(|c| {
        let lang = c.split(['-', '_']).next().unwrap_or_default();
        lang.eq_ignore_ascii_case("tr") || lang.eq_ignore_ascii_case("az")
    });
    source
        .chars()
        .flat_map(|c| -> Vec<char> {
            match (turkic, upper, c) {
                (true, true, 'i') => vec!['İ'],
                (true, false, 'I') => vec!['ı'],
                (_, true, c) => c.to_uppercase().collect(),
                (_, false, c) => c.to_lowercase().collect(),
            }
        })
        .collect()
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

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diacritics_follow_the_documented_table() {
        assert_eq!(normalize_diacritics("Zoë"), "Zoe");
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

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    #[test]
    fn turkish_culture_dots_the_i() {
        assert_eq!(change_case("istanbul", Some("tr-TR"), true), "İSTANBUL");
        assert_eq!(change_case("istanbul", None, true), "ISTANBUL");
        assert_eq!(change_case("ISPARTA", Some("tr-TR"), false), "ısparta");
    }
}
