//! ASN.1 times as text, `YYMMDDHHMMSSZ` (UTCTime) and `YYYYMMDDHHMMSSZ`
//! (GeneralizedTime), as OpenSSL's CA database writes them: a hand-written civil
//! calendar (H. Hinnant's algorithms) because the index loader parses millions of them
//! and `der::DateTime` validates more than this needs.

use super::Timestamp;

const MAX_TIME: u64 = Timestamp::LAST_GENERALIZED.0;

/// `YYMMDDHHMMSSZ` (UTCTime, 50..99 → 19xx) or `YYYYMMDDHHMMSSZ` (GeneralizedTime), on or
/// after 1970.
pub(super) fn parse(s: &[u8]) -> Option<Timestamp> {
    let (digits, z) = s.split_last().map(|(z, d)| (d, *z))?;
    if z != b'Z' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |i: usize| i64::from(digits[i] - b'0') * 10 + i64::from(digits[i + 1] - b'0');
    let (year, rest) = match digits.len() {
        12 => {
            let yy = num(0);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        14 => (num(0) * 100 + num(2), 4),
        _ => return None,
    };
    let (month, day) = (num(rest), num(rest + 2));
    let (hour, min, sec) = (num(rest + 4), num(rest + 6), num(rest + 8));
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    u64::try_from(secs).ok().map(Timestamp)
}

/// UTCTime for 1950..=2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5, what openssl
/// writes).
pub(super) fn format(t: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    if (1950..2050).contains(&y) {
        format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100)
    } else {
        format_generalized(t)
    }
}

/// `YYYYMMDDHHMMSSZ`.
pub(super) fn format_generalized(t: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z")
}

fn civil(t: Timestamp) -> (i64, i64, i64, i64, i64, i64) {
    let secs = i64::try_from(t.0.min(MAX_TIME)).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
