//! .NET custom date and time format strings (`yyyyMMddHHmmss.fZ`, `M/d/yyyy h:mm:ss tt`,
//! `yyyy-MM-ddzzz`), both ways, with the invariant culture: what FormatDateTime reads and writes.

use super::dates::{Civil, DateTime, TICKS_PER_SECOND};

/// The invariant culture's month names (`MMMM`), January first.
pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// The invariant culture's day names (`dddd`), Sunday first.
pub(crate) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A specifier letter repeated `n` times, e.g. ('y', 4).
    Field(char, usize),
    Literal(String),
}

fn tokenize(format: &str) -> Vec<Token> {
    let chars: Vec<char> = format.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let literal = |tokens: &mut Vec<Token>, s: String| match tokens.last_mut() {
        Some(Token::Literal(prev)) => prev.push_str(&s),
        _ => tokens.push(Token::Literal(s)),
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            'd' | 'f' | 'F' | 'g' | 'h' | 'H' | 'K' | 'm' | 'M' | 's' | 't' | 'y' | 'z' | 'Z' => {
                let mut n = 1;
                while i + n < chars.len() && chars[i + n] == c {
                    n += 1;
                }
                tokens.push(Token::Field(c, n));
                i += n;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|x| *x == c)
                    .map_or(chars.len(), |p| i + 1 + p);
                literal(&mut tokens, chars[i + 1..end].iter().collect());
                i = end + 1;
            }
            '\\' => {
                if let Some(next) = chars.get(i + 1) {
                    literal(&mut tokens, next.to_string());
                }
                i += 2;
            }
            // `%d` makes a single letter a specifier rather than a standard format.
            '%' => i += 1,
            other => {
                literal(&mut tokens, other.to_string());
                i += 1;
            }
        }
    }
    tokens
}

/// A .NET standard format string (one letter) as the invariant culture's custom pattern, and
/// whether it writes universal time (`u`, `U`, `r`). Any other single letter is not a format
/// .NET knows. Source: Microsoft Learn, "Standard date and time format strings" (invariant
/// culture column).
pub(crate) fn standard(format: &str) -> Result<Option<(&'static str, bool)>, String> {
    let mut chars = format.chars();
    let (Some(letter), None) = (chars.next(), chars.next()) else {
        return Ok(None);
    };
    Ok(Some(match letter {
        'd' => ("MM/dd/yyyy", false),
        'D' => ("dddd, dd MMMM yyyy", false),
        'f' => ("dddd, dd MMMM yyyy HH:mm", false),
        'F' => ("dddd, dd MMMM yyyy HH:mm:ss", false),
        'g' => ("MM/dd/yyyy HH:mm", false),
        'G' => ("MM/dd/yyyy HH:mm:ss", false),
        'M' | 'm' => ("MMMM dd", false),
        'O' | 'o' => ("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", false),
        'R' | 'r' => ("ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", true),
        's' => ("yyyy'-'MM'-'dd'T'HH':'mm':'ss", false),
        't' => ("HH:mm", false),
        'T' => ("HH:mm:ss", false),
        'u' => ("yyyy'-'MM'-'dd HH':'mm':'ss'Z'", true),
        'U' => ("dddd, dd MMMM yyyy HH:mm:ss", true),
        'Y' | 'y' => ("yyyy MMMM", false),
        other => {
            return Err(format!(
                "{other:?} is not a .NET standard date and time format (d, D, f, F, g, G, M, O, R, s, t, T, u, U, Y), and a custom format needs more than one letter (write %{other} for the single field)"
            ));
        }
    }))
}

/// .NET's `DateTimeStyles` as FormatDateTime's second argument names them (comma-separated);
/// the ones that change a result are kept. Source: Microsoft Learn, "DateTimeStyles Enum".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Styles {
    /// `AdjustToUniversal`: the result is converted to UTC.
    pub(crate) adjust_to_universal: bool,
    /// `AssumeUniversal` / `AssumeLocal`: a time without offset is UTC (Entra's service runs in
    /// UTC, so local is UTC too).
    pub(crate) assume_universal: bool,
    /// `RoundtripKind`: a time read with `Z` stays UTC (any other offset still becomes local).
    pub(crate) roundtrip: bool,
}

impl Styles {
    /// Parses `None`, `AdjustToUniversal, AssumeUniversal`, ...; an unknown name is an error.
    pub(crate) fn parse(text: &str) -> Result<Styles, String> {
        let mut styles = Styles::default();
        let mut assumed: Option<&str> = None;
        let mut roundtrip = false;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "None"
                | "AllowWhiteSpaces"
                | "AllowLeadingWhite"
                | "AllowTrailingWhite"
                | "AllowInnerWhite"
                | "NoCurrentDateDefault" => {}
                "RoundtripKind" => {
                    roundtrip = true;
                    styles.roundtrip = true;
                }
                "AdjustToUniversal" => styles.adjust_to_universal = true,
                "AssumeUniversal" | "AssumeLocal" => {
                    if assumed.is_some_and(|a| a != name) {
                        return Err(
                            "AssumeLocal and AssumeUniversal cannot be combined (.NET refuses it)"
                                .to_owned(),
                        );
                    }
                    assumed = Some(name);
                    styles.assume_universal = true;
                }
                other => {
                    return Err(format!(
                        "{other:?} is not a DateTimeStyles value (None, AdjustToUniversal, AssumeUniversal, AssumeLocal, AllowWhiteSpaces, AllowLeadingWhite, AllowTrailingWhite, AllowInnerWhite, NoCurrentDateDefault, RoundtripKind)"
                    ));
                }
            }
        }
        if roundtrip && (styles.adjust_to_universal || styles.assume_universal) {
            return Err(
                "RoundtripKind cannot be combined with AdjustToUniversal, AssumeLocal or \
                        AssumeUniversal (.NET refuses it)"
                    .to_owned(),
            );
        }
        Ok(styles)
    }

    /// FormatDateTime's styles when none are given: `RoundtripKind, AllowLeadingWhite,
    /// AllowTrailingWhite` (Microsoft, "Reference for writing expressions", FormatDateTime).
    pub(crate) fn entra_default() -> Styles {
        Styles {
            roundtrip: true,
            ..Styles::default()
        }
    }

    /// A time read from text with these styles, as .NET's `DateTime.ParseExact` gives it on a
    /// machine whose local time is UTC (Entra's service; dotnet/runtime
    /// `DateTimeParse.DetermineTimeZoneAdjustments`): with an offset (`zulu`: written `Z`), it is
    /// UTC under `AdjustToUniversal`, or a `Z` time under `RoundtripKind`, else local; without
    /// one, `AssumeUniversal`/`AssumeLocal` make it local (UTC under `AdjustToUniversal`), and
    /// otherwise it stays as read, of no kind (`AdjustToUniversal` alone changes nothing).
    ///
    /// # Errors
    /// When the time in UTC falls outside .NET's calendar (years 1 to 9999), as `ParseExact`
    /// fails.
    pub(crate) fn read(self, dt: DateTime, zulu: bool) -> Result<DateTime, String> {
        let kind = |dt: DateTime, local: bool| {
            let utc = dt.to_utc();
            if (0..super::dates::MAX_TICKS).contains(&utc.ticks) {
                Ok(DateTime {
                    offset: Some(0),
                    local,
                    ..utc
                })
            } else {
                Err("in UTC it falls outside years 1 to 9999, which .NET does not read".to_owned())
            }
        };
        match dt.offset {
            Some(_) if self.adjust_to_universal || (self.roundtrip && zulu) => kind(dt, false),
            Some(_) => kind(dt, true),
            None if self.assume_universal => kind(dt, !self.adjust_to_universal),
            None => Ok(dt),
        }
    }

    /// A date-time value (not text: `CDate`'s, `Now`'s) with these styles applied.
    pub(crate) fn apply(self, dt: DateTime) -> DateTime {
        let dt = if self.assume_universal && dt.offset.is_none() {
            DateTime {
                offset: Some(0),
                ..dt
            }
        } else {
            dt
        };
        if self.adjust_to_universal {
            DateTime {
                offset: Some(0),
                local: false,
                ..dt.to_utc()
            }
        } else {
            dt
        }
    }
}

/// What .NET refuses in a custom format with a `FormatException` ("Input string was not in a
/// correct format"), as its formatter reads one (`DateTimeFormat.FormatCustomized`, dotnet/
/// runtime): quoted text that is not closed, a `\` or `%` with nothing after it, and more than
/// seven `f` or `F` (a second has seven decimal places of ticks).
fn check_custom(format: &str) -> Result<(), String> {
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            quote @ ('\'' | '"') => match chars[i + 1..].iter().position(|c| *c == quote) {
                Some(at) => i += at + 2,
                None => {
                    return Err(format!(
                        "the format's quoted text {quote}{} is not closed (.NET refuses it)",
                        chars[i + 1..].iter().collect::<String>()
                    ));
                }
            },
            c @ ('\\' | '%') if i + 1 == chars.len() => {
                return Err(format!(
                    "the format ends with {c}, which names the character after it (.NET refuses it)"
                ));
            }
            '\\' | '%' => i += 2,
            f @ ('f' | 'F') => {
                let run = chars[i..].iter().take_while(|c| **c == f).count();
                if run > 7 {
                    return Err(format!(
                        "the format has {run} {f}'s; a second has seven decimal places at most \
                         (.NET refuses more)"
                    ));
                }
                i += run;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Writes `dt` in a custom format, or a standard one (one letter); an unknown standard format
/// or a custom one .NET refuses (`check_custom`) is an error.
pub(crate) fn format_any(dt: DateTime, pattern: &str) -> Result<String, String> {
    // An empty format is .NET's general format, `G`.
    let pattern = if pattern.is_empty() { "G" } else { pattern };
    check_custom(pattern)?;
    Ok(match standard(pattern)? {
        Some((custom, true)) => format(
            DateTime {
                offset: Some(0),
                ..dt.to_utc()
            },
            custom,
        ),
        Some((custom, false)) => format(dt, custom),
        None => format(dt, pattern),
    })
}

/// Reads `text` in a custom format, or a standard one (one letter).
pub(crate) fn parse_any(text: &str, pattern: &str) -> Result<DateTime, String> {
    check_custom(pattern)?;
    match standard(pattern)? {
        Some((custom, _)) => parse(text, custom),
        None => parse(text, pattern),
    }
}

/// Writes `dt` in `format`.
pub(crate) fn format(dt: DateTime, format: &str) -> String {
    let c = dt.civil();
    let mut out = String::new();
    for token in tokenize(format) {
        match token {
            Token::Literal(s) => out.push_str(&s),
            Token::Field(ch, n) => out.push_str(&field(ch, n, c, dt)),
        }
    }
    out
}

fn field(ch: char, n: usize, c: Civil, dt: DateTime) -> String {
    let pad = |v: i64, width: usize| format!("{v:0width$}");
    let hour12 = match c.hour % 12 {
        0 => 12,
        h => h,
    };
    match (ch, n) {
        ('d', 1 | 2) => pad(i64::from(c.day), n),
        ('d', 3) => DAYS[weekday(dt)][..3].to_owned(),
        ('d', _) => DAYS[weekday(dt)].to_owned(),
        ('M', 1 | 2) => pad(i64::from(c.month), n),
        ('M', 3) => MONTHS[c.month as usize - 1][..3].to_owned(),
        ('M', _) => MONTHS[c.month as usize - 1].to_owned(),
        ('y', 1) => (c.year % 100).to_string(),
        ('y', 2) => pad(c.year % 100, 2),
        ('y', _) => pad(c.year, n),
        ('h', _) => pad(i64::from(hour12), n.min(2)),
        ('H', _) => pad(i64::from(c.hour), n.min(2)),
        ('m', _) => pad(i64::from(c.minute), n.min(2)),
        ('s', _) => pad(i64::from(c.second), n.min(2)),
        ('f' | 'F', _) => {
            let digits = format!("{:07}", c.fraction);
            let cut = &digits[..n.min(7)];
            if ch == 'F' {
                cut.trim_end_matches('0').to_owned()
            } else {
                cut.to_owned()
            }
        }
        ('t', 1) => (if c.hour < 12 { "A" } else { "P" }).to_owned(),
        ('t', _) => (if c.hour < 12 { "AM" } else { "PM" }).to_owned(),
        ('g', _) => "A.D.".to_owned(),
        ('z', _) => {
            let offset = dt.offset.unwrap_or(0);
            let sign = if offset < 0 { '-' } else { '+' };
            let (h, m) = (offset.abs() / 3600, offset.abs() / 60 % 60);
            match n {
                1 => format!("{sign}{h}"),
                2 => format!("{sign}{h:02}"),
                _ => format!("{sign}{h:02}:{m:02}"),
            }
        }
        // Written as itself: only reading takes it for UTC.
        ('Z', _) => "Z".repeat(n),
        ('K', _) => match dt.offset {
            None => String::new(),
            Some(0) if !dt.local => "Z".to_owned(),
            Some(_) => field('z', 3, c, dt),
        },
        _ => String::new(),
    }
}

fn weekday(dt: DateTime) -> usize {
    let days = dt.ticks.div_euclid(TICKS_PER_SECOND * 86_400);
    usize::try_from((days + 1).rem_euclid(7)).unwrap_or(0)
}

/// Reads `text` written in `format`. Leading and trailing white space is allowed (Entra's
/// default DateTimeStyles). A time without offset is taken as is.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per format specifier reads best together"
)]
pub(crate) fn parse(text: &str, format: &str) -> Result<DateTime, String> {
    let mut input = text.trim();
    let mut c = Civil::date(1, 1, 1);
    let mut pm: Option<bool> = None;
    let mut hour12: Option<u32> = None;
    let mut offset: Option<i32> = None;
    let fail = |what: &str| format!("{text:?} does not match the format {format:?} ({what})");
    for token in tokenize(format) {
        match token {
            Token::Literal(lit) => {
                input = input
                    .strip_prefix(lit.as_str())
                    .ok_or_else(|| fail(&format!("expected {lit:?}")))?;
            }
            Token::Field(ch, n) => {
                let (min, max) = match (ch, n) {
                    ('y', 1 | 2) => (1, 2),
                    ('y', _) => (n.max(4), n.max(4)),
                    ('f', _) => (n, n),
                    ('F', _) => (0, n),
                    (_, 1) => (1, 2),
                    _ => (2, 2),
                };
                match ch {
                    // .NET's `ParseExact` reads an unquoted `Z` as the UTC designator: `Z` or
                    // `GMT` in the text (dotnet/runtime `DateTimeParse.ParseByFormat`).
                    'Z' => {
                        for _ in 0..n {
                            input = input
                                .strip_prefix('Z')
                                .or_else(|| input.strip_prefix("GMT"))
                                .ok_or_else(|| fail("expected Z, the UTC designator"))?;
                        }
                        offset = Some(0);
                    }
                    'M' if n >= 3 => {
                        let (index, rest) = name_prefix(input, &MONTHS, n == 3)
                            .ok_or_else(|| fail("month name"))?;
                        c.month = u32::try_from(index + 1).unwrap_or(1);
                        input = rest;
                    }
                    'd' if n >= 3 => {
                        let (_, rest) =
                            name_prefix(input, &DAYS, n == 3).ok_or_else(|| fail("day name"))?;
                        input = rest;
                    }
                    't' => {
                        let upper = input.to_ascii_uppercase();
                        let (is_pm, len) = if n == 1 {
                            (
                                upper.starts_with('P'),
                                usize::from(upper.starts_with(['A', 'P'])),
                            )
                        } else {
                            (
                                upper.starts_with("PM"),
                                if upper.starts_with("AM") || upper.starts_with("PM") {
                                    2
                                } else {
                                    0
                                },
                            )
                        };
                        if len == 0 {
                            return Err(fail("expected AM or PM"));
                        }
                        pm = Some(is_pm);
                        input = &input[len..];
                    }
                    'z' | 'K' => {
                        let (value, rest) = take_offset(input, ch == 'K')
                            .ok_or_else(|| fail("time zone offset"))?;
                        offset = value.or(offset);
                        input = rest;
                    }
                    'g' => {}
                    _ => {
                        let (value, rest) = take_digits(input, min, max).ok_or_else(|| {
                            fail(&format!(
                                "expected digits for {}",
                                String::from(ch).repeat(n)
                            ))
                        })?;
                        let consumed = input.len() - rest.len();
                        input = rest;
                        let as_u32 = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
                        match ch {
                            'y' if n <= 2 => {
                                c.year = if value < 50 {
                                    2000 + value
                                } else {
                                    1900 + value
                                }
                            }
                            'y' => c.year = value,
                            'M' => c.month = as_u32(value),
                            'd' => c.day = as_u32(value),
                            'H' => c.hour = as_u32(value),
                            'h' => hour12 = Some(as_u32(value)),
                            'm' => c.minute = as_u32(value),
                            's' => c.second = as_u32(value),
                            'f' | 'F' => {
                                let digits = u32::try_from(consumed.min(7)).unwrap_or(7);
                                let scaled = value * 10_i64.pow(7 - digits);
                                c.fraction = as_u32(scaled);
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    if !input.is_empty() {
        return Err(fail(&format!("unexpected {input:?} at the end")));
    }
    if let Some(h) = hour12 {
        if !(1..=12).contains(&h) {
            return Err(fail("hour out of range"));
        }
        c.hour = match pm {
            Some(true) => h % 12 + 12,
            _ => h % 12,
        };
    } else if pm == Some(true) && c.hour < 12 {
        c.hour += 12;
    }
    DateTime::from_civil(c, offset).ok_or_else(|| fail("no such date"))
}

fn take_digits(input: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let len = input
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if len < min {
        return None;
    }
    if len == 0 {
        return Some((0, input));
    }
    Some((input[..len].parse().ok()?, &input[len..]))
}

fn name_prefix<'i>(input: &'i str, names: &[&str], abbreviated: bool) -> Option<(usize, &'i str)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let name = if abbreviated { &name[..3] } else { name };
        let head = input.get(..name.len())?;
        head.eq_ignore_ascii_case(name)
            .then(|| (i, &input[name.len()..]))
    })
}

fn take_offset(input: &str, optional: bool) -> Option<(Option<i32>, &str)> {
    if let Some(rest) = input.strip_prefix(['Z', 'z']) {
        return Some((Some(0), rest));
    }
    let sign = match input.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return optional.then_some((None, input)),
    };
    let (hours, mut rest) = take_digits(&input[1..], 1, 2)?;
    let mut minutes = 0;
    if let Some(after) = rest.strip_prefix(':') {
        let (m, r) = take_digits(after, 2, 2)?;
        minutes = m;
        rest = r;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some((Some(sign * seconds), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_round_trips() {
        let dt = parse("20150123105347.1Z", "yyyyMMddHHmmss.fZ").unwrap();
        assert_eq!(format(dt, "yyyy-MM-dd"), "2015-01-23");
        assert_eq!(format(dt, "HH:mm:ss.fff"), "10:53:47.100");
        let dt = parse("2020-12-31-08:00", "yyyy-MM-ddzzz").unwrap();
        assert_eq!(format(dt, "yyyy-MM-dd"), "2020-12-31");
        assert_eq!(
            format(dt, "yyyy-MM-ddTHH:mm:sszzz"),
            "2020-12-31T00:00:00-08:00"
        );
        let dt = parse("3/5/2021 09:07:02 PM", "M/d/yyyy hh:mm:ss tt").unwrap();
        assert_eq!(
            format(dt, "dddd, MMMM d yyyy h:mm tt"),
            "Friday, March 5 2021 9:07 PM"
        );
        assert!(parse("2021-13-01", "yyyy-MM-dd").is_err());
        assert!(parse("2021-01-01x", "yyyy-MM-dd").is_err());
    }

    /// What .NET's formatter refuses with a FormatException is refused, both ways (helper-57:
    /// an unclosed quote and nine f's were written as if fine).
    #[test]
    fn a_format_dotnet_refuses_is_refused() {
        let dt = parse("2021-01-02", "yyyy-MM-dd").unwrap();
        for (pattern, said) in [
            (
                "'unterminated",
                "the format's quoted text 'unterminated is not closed",
            ),
            ("yyyy \"x", "the format's quoted text \"x is not closed"),
            ("fffffffff", "the format has 9 f's"),
            ("ss.FFFFFFFF", "the format has 8 F's"),
            ("yyyy\\", "the format ends with \\"),
            ("yyyy%", "the format ends with %"),
        ] {
            for error in [
                format_any(dt, pattern).unwrap_err(),
                parse_any("2021", pattern).unwrap_err(),
            ] {
                assert!(error.starts_with(said), "{pattern}: {error}");
            }
        }
        // Seven, a closed quote and an escaped quote are fine.
        assert_eq!(format_any(dt, "fffffff").unwrap(), "0000000");
        assert_eq!(format_any(dt, "'at' yyyy \\'").unwrap(), "at 2021 '");
    }
}
