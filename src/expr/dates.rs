//! Dates as Entra's functions see them: .NET ticks (100 ns since 0001-01-01), the
//! "M/d/yyyy h:mm:ss tt" text they return, lenient parsing of the forms the documentation feeds
//! them (ISO 8601 with or without offset, `2012-03-16-07:00`, their own output), and the
//! Visual Basic interval arithmetic of DateAdd and DateDiff.

pub(crate) const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;
/// Ticks from 0001-01-01 to 1601-01-01, the Windows FILETIME epoch.
pub(crate) const FILETIME_EPOCH_TICKS: i64 = 504_911_232_000_000_000;
/// Ticks from 0001-01-01 to 10000-01-01: the end of .NET's calendar.
pub(crate) const MAX_TICKS: i64 = 3_155_378_976_000_000_000;
/// Ticks from 0001-01-01 to 1970-01-01.
pub(crate) const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// A wall-clock date and time with an optional UTC offset (seconds east).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DateTime {
    /// Ticks of the wall-clock time.
    pub(crate) ticks: i64,
    pub(crate) offset: Option<i32>,
    /// A .NET `DateTime` of kind Local: a time read with an offset and turned into the
    /// service's own time (UTC). `K` and `o` write it `+00:00`, where a UTC one is `Z`.
    pub(crate) local: bool,
}

/// Calendar fields of a tick count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    /// Sub-second ticks, 0..10^7.
    pub(crate) fraction: u32,
}

impl Civil {
    /// Midnight of a day.
    pub(crate) fn date(year: i64, month: u32, day: u32) -> Civil {
        Civil {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            fraction: 0,
        }
    }
}

impl DateTime {
    /// The same instant in UTC, without an offset.
    pub(crate) fn to_utc(self) -> DateTime {
        DateTime {
            ticks: self.ticks - i64::from(self.offset.unwrap_or(0)) * TICKS_PER_SECOND,
            offset: None,
            local: false,
        }
    }

    pub(crate) fn civil(self) -> Civil {
        let days = self.ticks.div_euclid(TICKS_PER_DAY);
        let rest = self.ticks.rem_euclid(TICKS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let seconds = rest / TICKS_PER_SECOND;
        Civil {
            year,
            month,
            day,
            hour: u32::try_from(seconds / 3600).unwrap_or(0),
            minute: u32::try_from(seconds / 60 % 60).unwrap_or(0),
            second: u32::try_from(seconds % 60).unwrap_or(0),
            fraction: u32::try_from(rest % TICKS_PER_SECOND).unwrap_or(0),
        }
    }

    /// Builds a date; `None` when a field is out of range.
    pub(crate) fn from_civil(c: Civil, offset: Option<i32>) -> Option<DateTime> {
        if !(1..=9999).contains(&c.year)
            || !(1..=12).contains(&c.month)
            || c.day < 1
            || c.day > days_in_month(c.year, c.month)
            || c.hour > 23
            || c.minute > 59
            || c.second > 59
            || i64::from(c.fraction) >= TICKS_PER_SECOND
        {
            return None;
        }
        let days = days_from_civil(c.year, c.month, c.day);
        let seconds = i64::from(c.hour) * 3600 + i64::from(c.minute) * 60 + i64::from(c.second);
        Some(DateTime {
            ticks: days * TICKS_PER_DAY + seconds * TICKS_PER_SECOND + i64::from(c.fraction),
            offset,
            local: false,
        })
    }

    /// Day of the week, 0 = Sunday.
    fn weekday(self) -> i64 {
        // 0001-01-01 was a Monday.
        (self.ticks.div_euclid(TICKS_PER_DAY) + 1).rem_euclid(7)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 0001-01-01 (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    // 719_468 days separate 0000-03-01 from 1970-01-01; 719_162 separate 0001-01-01 from it.
    era * 146_097 + doe - 719_468 + 719_162
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days - 719_162 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `M/d/yyyy h:mm:ss tt`, the form CDate, DateAdd and Now return.
pub(crate) fn format_general(dt: DateTime) -> String {
    let c = dt.civil();
    let (hour, tt) = match c.hour {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    // `yyyy` pads to four digits: year 21 is 0021, never read back as 2021.
    format!(
        "{}/{}/{:04} {}:{:02}:{:02} {}",
        c.month, c.day, c.year, hour, c.minute, c.second, tt
    )
}

/// Parses a date as .NET's invariant-culture `DateTime.Parse` reads the forms people and HR
/// systems write (CDate takes "any valid string that represents a date/time"): ISO 8601
/// (`2009-06-15T01:45:30-07:00`, `2021-08-24`, `2012-03-16-07:00`, `...Z`, fractions, unpadded
/// `2021-8-4`), `M/d/yyyy[ h:mm[:ss][ AM|PM]]`, `yyyy/M/d`, and month names in either order
/// with an optional weekday, time and zone (`31 August 2021`, `Aug 31, 2021 10:00 PM`,
/// `Tue, 31 Aug 2021 10:00:00 GMT`).
pub(crate) fn parse_lenient(text: &str) -> Option<DateTime> {
    let text = text.trim();
    if text.contains('/') {
        return parse_us(text).or_else(|| parse_words(&text.replace('/', "-")));
    }
    parse_iso(text).or_else(|| parse_words(text))
}

/// The position in `names` (.NET's invariant month or day names) of a name or an abbreviation
/// of three letters or more, any case, a trailing `.` allowed.
fn name_index(word: &str, names: &[&str]) -> Option<usize> {
    let word = word.trim_end_matches('.');
    if word.len() < 3 {
        return None;
    }
    names
        .iter()
        .position(|name| name.len() >= word.len() && name[..word.len()].eq_ignore_ascii_case(word))
}

/// The month a name or its abbreviation means, 1 = January.
fn month_number(word: &str) -> Option<u32> {
    u32::try_from(name_index(word, &super::dotnet_format::MONTHS)? + 1).ok()
}

/// A year written with one or two digits, as .NET's invariant calendar reads it
/// (`TwoDigitYearMax` 2049: `21` is 2021, `75` is 1975).
fn two_digit_year(text: &str, year: i64) -> i64 {
    match (text.len(), year) {
        (1 | 2, 0..=49) => 2000 + year,
        (1 | 2, _) => 1900 + year,
        _ => year,
    }
}

/// The weekday a name or abbreviation means, 0 = Sunday.
fn weekday_number(word: &str) -> Option<i64> {
    i64::try_from(name_index(word, &super::dotnet_format::DAYS)?).ok()
}

/// Dates in words and numbers, in any order .NET's invariant parse accepts: a year of four
/// digits, a day, a month by name (or, with a four-digit year first, by number), a time, AM/PM
/// and a zone (`Z`, `GMT`, `UTC`, `+hh:mm`).
fn parse_words(text: &str) -> Option<DateTime> {
    let mut numbers: Vec<(i64, usize)> = Vec::new();
    let mut month: Option<u32> = None;
    let mut clock: Option<&str> = None;
    let mut meridiem: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut weekday: Option<i64> = None;
    for word in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
    {
        if word.contains(':') && word.starts_with(|c: char| c.is_ascii_digit()) {
            // A time, perhaps with its zone attached (`10:00:00Z`, `10:00+02:00`).
            let end = word
                .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
                .unwrap_or(word.len());
            clock = Some(&word[..end]);
            if end < word.len() {
                offset = Some(parse_offset(&word[end..])?);
            }
        } else if word.eq_ignore_ascii_case("AM") || word.eq_ignore_ascii_case("PM") {
            meridiem = Some(word.eq_ignore_ascii_case("PM"));
        } else if ["GMT", "UTC", "Z"]
            .iter()
            .any(|z| word.eq_ignore_ascii_case(z))
        {
            offset = Some(0);
        } else if word.starts_with(['+', '-']) && word.len() > 1 {
            offset = Some(parse_offset(word)?);
        } else if word.contains('-') {
            // `2021-8-4` or `31-Aug-2021`: split further.
            for part in word.split('-').filter(|p| !p.is_empty()) {
                match part.parse::<i64>() {
                    Ok(n) => numbers.push((n, part.len())),
                    Err(_) => month = Some(month_number(part)?),
                }
            }
        } else if let Ok(n) = word.trim_end_matches('.').parse::<i64>() {
            numbers.push((n, word.trim_end_matches('.').len()));
        } else if let Some(m) = month_number(word) {
            month = Some(m);
        } else if let Some(day) = weekday_number(word) {
            weekday = Some(day);
        } else {
            return None;
        }
    }
    let (year, month, day) = match (month, numbers.as_slice()) {
        // A month by name: the four-digit number is the year, the other the day.
        (Some(m), [(a, la), (b, lb)]) => match (la, lb) {
            (4, _) => (*a, m, *b),
            (_, 4) => (*b, m, *a),
            // `31 Aug 21`, `Aug 31, 21`: the day comes first, the year last.
            (1 | 2, 1 | 2) => (two_digit_year(&b.to_string(), *b), m, *a),
            _ => return None,
        },
        // Numbers only: year first (`2021-8-4`, `2021/8/4`).
        (None, [(y, 4), (m, _), (d, _)]) => (*y, u32::try_from(*m).ok()?, *d),
        _ => return None,
    };
    let mut c = Civil::date(year, month, u32::try_from(day).ok()?);
    if let Some(clock) = clock {
        let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
        let mut fields = hms.split(':');
        c.hour = fields.next()?.parse().ok()?;
        c.minute = fields.next()?.parse().ok()?;
        c.second = fields.next().map_or(Some(0), |s| s.parse().ok())?;
        if !fraction.is_empty() {
            let digits: String = fraction.chars().chain("0000000".chars()).take(7).collect();
            c.fraction = digits.parse().ok()?;
        }
    }
    match meridiem {
        Some(false) if c.hour == 12 => c.hour = 0,
        Some(true) if c.hour < 12 => c.hour += 12,
        Some(_) if c.hour > 12 => return None,
        _ => {}
    }
    // A weekday that is not the date's is refused, as .NET refuses it.
    DateTime::from_civil(c, offset).filter(|d| weekday.is_none_or(|w| d.weekday() == w))
}

fn parse_us(text: &str) -> Option<DateTime> {
    let (date, time) = text.split_once(' ').unwrap_or((text, ""));
    let mut parts = date.split('/');
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    let year_text = parts.next()?;
    let year = two_digit_year(year_text, year_text.parse().ok()?);
    if parts.next().is_some() {
        return None;
    }
    let mut c = Civil::date(year, month, day);
    let time = time.trim();
    if !time.is_empty() {
        let (clock, meridiem) = match time.rsplit_once(' ') {
            Some((clock, m)) => (clock, Some(m.to_ascii_uppercase())),
            None => (time, None),
        };
        let mut fields = clock.split(':');
        c.hour = fields.next()?.parse().ok()?;
        c.minute = fields.next()?.parse().ok()?;
        c.second = fields.next().map_or(Some(0), |s| s.parse().ok())?;
        match meridiem.as_deref() {
            Some("AM") if c.hour == 12 => c.hour = 0,
            Some("PM") if c.hour < 12 => c.hour += 12,
            Some("AM" | "PM") | None => {}
            Some(_) => return None,
        }
    }
    DateTime::from_civil(c, None)
}

fn parse_iso(text: &str) -> Option<DateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |s: &str| -> Option<u32> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let mut c = Civil::date(
        i64::from(number(&text[0..4])?),
        number(&text[5..7])?,
        number(&text[8..10])?,
    );
    let mut rest = &text[10..];
    if let Some(time) = rest.strip_prefix(['T', ' ']) {
        let end = time
            .find(|ch: char| !(ch.is_ascii_digit() || ch == ':' || ch == '.'))
            .unwrap_or(time.len());
        let (clock, after) = time.split_at(end);
        let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
        let mut fields = hms.split(':');
        c.hour = number(fields.next()?)?;
        c.minute = number(fields.next()?)?;
        c.second = fields.next().map_or(Some(0), number)?;
        if !fraction.is_empty() {
            let digits: String = fraction.chars().chain("0000000".chars()).take(7).collect();
            c.fraction = number(&digits)?;
        }
        rest = after;
    }
    let offset = if rest.is_empty() {
        None
    } else {
        Some(parse_offset(rest)?)
    };
    DateTime::from_civil(c, offset)
}

/// `Z`, `+hh:mm`, `-hh:mm`, `+hhmm`, `+hh`.
fn parse_offset(text: &str) -> Option<i32> {
    match text {
        "Z" | "z" => Some(0),
        _ => {
            let sign = match text.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
            if !(digits.len() == 2 || digits.len() == 4)
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let hours: i32 = digits[..2].parse().ok()?;
            let minutes: i32 = if digits.len() == 4 {
                digits[2..].parse().ok()?
            } else {
                0
            };
            (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
        }
    }
}

/// A DateAdd/DateDiff interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interval {
    Year,
    Month,
    Day,
    Week,
    Hour,
    Minute,
    Second,
}

impl Interval {
    pub(crate) fn parse(text: &str) -> Option<Interval> {
        Some(match text {
            "yyyy" => Interval::Year,
            "m" => Interval::Month,
            "d" => Interval::Day,
            "ww" => Interval::Week,
            "h" => Interval::Hour,
            "n" => Interval::Minute,
            "s" => Interval::Second,
            _ => return None,
        })
    }
}

/// DateAdd: calendar arithmetic for years and months (the day clamps to the month's end),
/// fixed lengths for the rest.
pub(crate) fn add(interval: Interval, amount: i64, dt: DateTime) -> Option<DateTime> {
    let fixed = |unit: i64| {
        let ticks = dt.ticks.checked_add(amount.checked_mul(unit)?)?;
        let result = DateTime {
            ticks,
            offset: dt.offset,
            local: dt.local,
        };
        (1..=9999).contains(&result.civil().year).then_some(result)
    };
    match interval {
        Interval::Year | Interval::Month => {
            let months = if interval == Interval::Year {
                amount.checked_mul(12)?
            } else {
                amount
            };
            let c = dt.civil();
            let index = (c.year.checked_mul(12)? + i64::from(c.month) - 1).checked_add(months)?;
            let year = index.div_euclid(12);
            let month = u32::try_from(index.rem_euclid(12) + 1).ok()?;
            let day = c.day.min(days_in_month(year, month));
            DateTime::from_civil(
                Civil {
                    year,
                    month,
                    day,
                    ..c
                },
                dt.offset,
            )
        }
        Interval::Week => fixed(7 * TICKS_PER_DAY),
        Interval::Day => fixed(TICKS_PER_DAY),
        Interval::Hour => fixed(3600 * TICKS_PER_SECOND),
        Interval::Minute => fixed(60 * TICKS_PER_SECOND),
        Interval::Second => fixed(TICKS_PER_SECOND),
    }
}

/// DateDiff as Visual Basic counts it: calendar boundaries for years and months, Sunday
/// boundaries for weeks, whole elapsed units (truncated toward zero) for the rest.
pub(crate) fn diff(interval: Interval, from: DateTime, to: DateTime) -> i64 {
    let (a, b) = (from.to_utc(), to.to_utc());
    let elapsed = b.ticks - a.ticks;
    match interval {
        Interval::Year => b.civil().year - a.civil().year,
        Interval::Month => {
            let (ca, cb) = (a.civil(), b.civil());
            (cb.year - ca.year) * 12 + i64::from(cb.month) - i64::from(ca.month)
        }
        Interval::Week => {
            let sunday = |d: DateTime| (d.ticks.div_euclid(TICKS_PER_DAY) - d.weekday()) / 7;
            sunday(b) - sunday(a)
        }
        Interval::Day => elapsed / TICKS_PER_DAY,
        Interval::Hour => elapsed / (3600 * TICKS_PER_SECOND),
        Interval::Minute => elapsed / (60 * TICKS_PER_SECOND),
        Interval::Second => elapsed / TICKS_PER_SECOND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_across_eras() {
        for (y, m, d) in [
            (1, 1, 1),
            (1601, 1, 1),
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 12, 31),
            (9999, 12, 31),
        ] {
            let c = Civil {
                year: y,
                month: m,
                day: d,
                hour: 13,
                minute: 5,
                second: 9,
                fraction: 7,
            };
            let dt = DateTime::from_civil(c, None).unwrap();
            assert_eq!(dt.civil(), c);
        }
        let epoch = DateTime::from_civil(Civil::date(1970, 1, 1), None).unwrap();
        assert_eq!(epoch.ticks, UNIX_EPOCH_TICKS);
        assert_eq!(epoch.weekday(), 4, "1970-01-01 was a Thursday");
    }

    #[test]
    fn lenient_parsing_keeps_the_offset() {
        let dt = parse_lenient("2012-03-16-07:00").unwrap();
        assert_eq!(dt.offset, Some(-7 * 3600));
        assert_eq!(format_general(dt.to_utc()), "3/16/2012 7:00:00 AM");
        assert_eq!(
            format_general(parse_lenient("8/25/2021 5:41:18 PM").unwrap()),
            "8/25/2021 5:41:18 PM"
        );
        assert!(parse_lenient("2021-02-30").is_none());
        assert!(parse_lenient("yesterday").is_none());
        // Two-digit years as .NET's invariant calendar reads them; a wrong weekday is refused.
        assert_eq!(parse_lenient("08/04/21").unwrap().civil().year, 2021);
        assert_eq!(parse_lenient("8/4/75").unwrap().civil().year, 1975);
        assert!(parse_lenient("Monday, 31 August 2021").is_none());
        assert!(parse_lenient("Tuesday, 31 August 2021").is_some());
    }
}
