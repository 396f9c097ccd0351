//! The two date forms the services use, read and written in one place: HTTP's RFC 1123
//! (`Sun, 06 Nov 1994 08:49:37 GMT`, COS's `Date` header, by which a skewed device clock is
//! corrected) and ISO 8601 / RFC 3339 (`2024-08-20T13:55:53Z`, the expiry of SMH's upload
//! parameters and of temporary COS credentials). A date that does not exist (31 February) or whose
//! weekday is wrong is refused rather than rolled over: a clock set from it would be wrong.

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/// Weekdays from Thursday, the weekday of 1 January 1970 (day 0).
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`), or
/// `None` when the day does not exist in that month.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let length = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=length).contains(&day) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The date of day `days` since 1970-01-01: `(year, month, day)` (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Seconds since the epoch of a time of day, checked (a leap second, :60, is allowed).
fn seconds_of(days: i64, hour: i64, minute: i64, second: i64) -> Option<i64> {
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Unix seconds of an RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`), the form of HTTP `Date`.
/// Dates before 1970, dates that do not exist and wrong weekdays are `None`.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let words = crate::text::words(s);
    let [weekday, day, month_name, year, time, "GMT"] = words[..] else { return None };
    let weekday = weekday.strip_suffix(",")?;
    // One integer reader for the whole package (json::parse_u64), not a `str::parse` per type.
    let int = |word: &str| i64::try_from(crate::json::parse_u64(word)?).ok();
    let day = int(day)?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
    let year = int(year)?;
    let mut hms = crate::text::split(time, b':').map(int);
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    if WEEKDAYS[days.rem_euclid(7) as usize] != weekday {
        return None;
    }
    u64::try_from(seconds_of(days, h, m, sec)?).ok()
}

/// The RFC 1123 form of `unix_s` (what a server puts in `Date`).
pub fn format_http_date(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    let secs = unix_s % 86_400;
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses an ISO-8601 / RFC 3339 timestamp to Unix milliseconds: `YYYY-MM-DDTHH:MM:SS`, an
/// optional fraction of a second, then `Z`, `±HH:MM`, `±HHMM`, `±HH` or nothing (UTC). `T` may
/// be a space or lowercase. Anything else — out-of-range fields and days a month does not have
/// included — is `None`.
pub fn parse_iso8601_ms(s: &str) -> Option<f64> {
    let mut r = Reader { bytes: crate::text::trim(s).as_bytes(), pos: 0 };
    let year = r.digits(4)?;
    r.byte(b'-')?;
    let month = r.digits(2)?;
    r.byte(b'-')?;
    let day = r.digits(2)?;
    if !matches!(r.next()?, b'T' | b't' | b' ') {
        return None;
    }
    let hour = r.digits(2)?;
    r.byte(b':')?;
    let minute = r.digits(2)?;
    r.byte(b':')?;
    let second = r.digits(2)?;
    let mut millis = 0;
    if r.peek() == Some(b'.') {
        r.pos += 1;
        // Milliseconds from the first three digits; further digits are read and dropped.
        let mut scale = 100;
        let start = r.pos;
        while let Some(d @ b'0'..=b'9') = r.peek() {
            millis += i64::from(d - b'0') * scale;
            scale /= 10;
            r.pos += 1;
        }
        if r.pos == start {
            return None;
        }
    }
    let offset_minutes = match r.next() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = r.digits(2)?;
            let minutes = match r.peek() {
                None => 0,
                Some(b':') => {
                    r.pos += 1;
                    r.digits(2)?
                }
                Some(_) => r.digits(2)?,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            if sign == b'-' {
                -(hours * 60 + minutes)
            } else {
                hours * 60 + minutes
            }
        }
        Some(_) => return None,
    };
    if r.pos != r.bytes.len() {
        return None;
    }
    let secs = seconds_of(days_from_civil(year, month, day)?, hour, minute, second)? - offset_minutes * 60;
    Some((secs * 1000 + millis) as f64)
}

/// A cursor over the bytes of a timestamp.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut value = 0;
        for _ in 0..n {
            match self.next()? {
                d @ b'0'..=b'9' => value = value * 10 + i64::from(d - b'0'),
                _ => return None,
            }
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00.000Z"), Some(0.0));
        assert_eq!(parse_iso8601_ms("2021-01-01T00:15:00.000Z"), Some(1_609_460_100_000.0));
        assert_eq!(parse_iso8601_ms("2021-01-01T08:15:00+08:00"), Some(1_609_460_100_000.0));
        assert_eq!(parse_iso8601_ms("2021-01-01T08:15:00+0800"), Some(1_609_460_100_000.0));
        assert_eq!(parse_iso8601_ms("2020-12-31T22:15:00-02"), Some(1_609_460_100_000.0));
        assert_eq!(parse_iso8601_ms(" 2021-01-01 00:15:00 "), Some(1_609_460_100_000.0));
        assert_eq!(parse_iso8601_ms("2024-02-29T12:00:00.5Z"), Some(1_709_208_000_500.0));
        assert_eq!(parse_iso8601_ms("2024-02-29T12:00:00.123456789Z"), Some(1_709_208_000_123.0));
        for bad in [
            "garbage",
            "",
            "2021-01-01",
            "2021-01-01T00:15Z",
            "2021-13-01T00:00:00Z",
            "2021-01-01T24:00:00Z",
            "2021-01-01T00:60:00Z",
            "2021-01-01T00:00:00.Z",
            "2021-01-01T00:00:00+24:00",
            "2021-01-01T00:00:00Zjunk",
            "21-01-01T00:00:00Z",
            "2021-1-01T00:00:00Z",
            "+2021-01-01T00:00:00Z",
            "2021-02-31T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2021-04-31T00:00:00Z",
            "2021-01-00T00:00:00Z",
        ] {
            assert_eq!(parse_iso8601_ms(bad), None, "{bad:?}");
        }
        assert!(parse_iso8601_ms("2000-02-29T00:00:00Z").is_some(), "2000 is a leap year");
    }

    /// A multi-byte character where the offset's digits are expected must be refused, not
    /// sliced through (a panic on a char boundary).
    #[test]
    fn iso8601_multibyte_offset_is_refused_not_a_panic() {
        assert_eq!(parse_iso8601_ms("2026-01-01T00:00:00+0é:00"), None);
        assert_eq!(parse_iso8601_ms("2026-01-01T00:00:00+é"), None);
        assert_eq!(parse_iso8601_ms("2026-01-01T00:00:00-中"), None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784111777));
        assert_eq!(parse_http_date("Sun, 29 Nov 2026 17:57:32 GMT"), Some(1795975052));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"), Some(1_709_164_800));
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT",
            "Sat, 31 Feb 2026 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37:01 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT junk",
            "Wed, 31 Dec 1969 23:59:59 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        for t in [0, 59, 86_399, 951_782_400, 1_709_164_800, 1_795_975_052, 4_102_444_800] {
            assert_eq!(parse_http_date(&format_http_date(t)), Some(t), "{t}");
        }
    }
}
