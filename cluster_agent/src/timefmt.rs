//! RFC 3339 timestamps in UTC with a `Z`, as the record schema requires, without a
//! date-time dependency: CRI timestamps are usually already UTC and pass through.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `secs` since the epoch (plus a fraction written as given) as `YYYY-MM-DDTHH:MM:SS[.frac]Z`.
pub fn format_utc(secs: i64, fraction: &str) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let dot = if fraction.is_empty() { "" } else { "." };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{dot}{fraction}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn now_utc() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format_utc(now.as_secs() as i64, &format!("{:06}", now.subsec_micros()))
}

pub fn unix_to_utc(secs: i64) -> String {
    format_utc(secs, "")
}

fn digits(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// A CRI timestamp (`RFC3339Nano`, any offset) in UTC with `Z`, or None if it is not one.
#[cfg(test)]
pub fn normalize(ts: &str) -> Option<String> {
    normalize_cow(ts).map(std::borrow::Cow::into_owned)
}

/// `normalize`, borrowing the timestamp when it is already UTC with `Z` (the usual case).
pub fn normalize_cow(ts: &str) -> Option<std::borrow::Cow<'_, str>> {
    let b = ts.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&ts[0..4])?, digits(&ts[5..7])? as u32, digits(&ts[8..10])? as u32);
    let (hour, minute, second) = (digits(&ts[11..13])?, digits(&ts[14..16])?, digits(&ts[17..19])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &ts[19..];
    let mut fraction = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 9 {
            return None;
        }
        fraction = &after_dot[..len];
        rest = &after_dot[len..];
    }
    let offset_secs = match rest {
        "Z" | "z" => {
            if ts.ends_with('Z') && b[10] == b'T' {
                return Some(std::borrow::Cow::Borrowed(ts));
            }
            0
        }
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (digits(&rest[1..3])? * 3600 + digits(&rest[4..6])? * 60)
        }
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(std::borrow::Cow::Owned(format_utc(secs, fraction)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_passes_through() {
        let ts = "2026-11-29T04:31:07.123456789Z";
        assert_eq!(normalize(ts).as_deref(), Some(ts));
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(normalize("2026-01-01T01:30:00.5+02:00").as_deref(), Some("2025-12-31T23:30:00.5Z"));
        assert_eq!(normalize("2024-02-28T23:00:00-01:00").as_deref(), Some("2024-02-29T00:00:00Z"));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z", "2026-01-01 00:00:00Z"] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_round_trip() {
        assert_eq!(unix_to_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_to_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        for days in [-1000, 0, 59, 365, 11_016, 20_000, 50_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
