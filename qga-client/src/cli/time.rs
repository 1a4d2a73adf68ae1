//! Times as ISO 8601 text in UTC, without a calendar library.

/// Nanoseconds since 1970 as `2024-05-01T12:34:56.123456789Z`.
pub fn format_utc_nanos(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    format!("{}.{fraction:09}Z", format_seconds(seconds))
}

/// Fractional seconds since 1970 as `2024-05-01T12:34:56Z`.
pub fn format_utc_seconds(seconds: f64) -> String {
    format!("{}Z", format_seconds(seconds.floor() as i64))
}

/// An offset from UTC in seconds as `+01:00` or `-03:30`.
pub fn format_offset(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

fn format_seconds(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (H. Hinnant's algorithm: eras of
/// 400 years, years starting in March so that the leap day comes last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{format_offset, format_utc_nanos, format_utc_seconds};

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc_nanos(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_utc_nanos(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(
            format_utc_nanos(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(format_utc_nanos(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_utc_seconds(4_102_444_800.7), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn formats_offsets() {
        assert_eq!(format_offset(0), "+00:00");
        assert_eq!(format_offset(3600), "+01:00");
        assert_eq!(format_offset(-12_600), "-03:30");
    }
}
