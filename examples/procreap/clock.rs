//! Times as the CLI shows them: RFC 3339 in UTC in JSON (as the audit
//! trail writes them), the local wall clock for people. The calendar is the
//! C library's (`gmtime_r`, `localtime_r`, `timegm`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn tm_of(t: SystemTime, local: bool) -> libc::tm {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as libc::time_t,
        Err(e) => -(e.duration().as_secs_f64().ceil() as libc::time_t),
    };
    // SAFETY: an all-zero tm is valid; both calls fill it from a time_t.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe {
        if local {
            libc::localtime_r(&secs, &mut tm);
        } else {
            libc::gmtime_r(&secs, &mut tm);
        }
    }
    tm
}

/// `2026-12-01T10:31:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let tm = tm_of(t, false);
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Seconds since the epoch (fractions kept), as Prometheus wants them.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Parses RFC 3339 (`2026-12-01T10:31:00Z`, fractions and `+02:00`
/// offsets too); `None` for anything else, impossible dates included.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let frac = &s[i + 1..i + 1 + digits.min(9)];
        nanos = frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32);
        i += 1 + digits;
    }
    let offset = match &s[i..] {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(o.as_bytes()[0], b'+' | b'-') && o.as_bytes()[3] == b':' => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    // SAFETY: an all-zero tm is valid; timegm reads and normalises it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = (year - 1900) as libc::c_int;
    tm.tm_mon = (month - 1) as libc::c_int;
    tm.tm_mday = day as libc::c_int;
    tm.tm_hour = hour as libc::c_int;
    tm.tm_min = min as libc::c_int;
    tm.tm_sec = sec.min(59) as libc::c_int;
    let secs = unsafe { libc::timegm(&mut tm) } as i64;
    // timegm moves 31 April to 1 May: such a date is not one.
    if i64::from(tm.tm_mday) != day {
        return None;
    }
    let secs = secs - offset;
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// The local wall-clock time of `t`: `10:31` (`10:31:02` with `seconds`)
/// on the local day of `now`, else with the date, `2026-11-30 10:31`.
pub fn local(t: SystemTime, now: SystemTime, seconds: bool) -> String {
    let tm = tm_of(t, true);
    let today = tm_of(now, true);
    let mut s = String::new();
    if (tm.tm_year, tm.tm_yday) != (today.tm_year, today.tm_yday) {
        s.push_str(&format!(
            "{:04}-{:02}-{:02} ",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday
        ));
    }
    s.push_str(&format!("{:02}:{:02}", tm.tm_hour, tm.tm_min));
    if seconds {
        s.push_str(&format!(":{:02}", tm.tm_sec));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_refuses_what_is_not_a_time() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_585_060_123);
        assert_eq!(rfc3339(t), "2025-12-01T10:31:00.123Z");
        assert_eq!(parse_rfc3339("2025-12-01T10:31:00.123Z"), Some(t));
        assert_eq!(
            parse_rfc3339("2025-12-01T12:31:00.123+02:00"),
            Some(t),
            "an offset"
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(UNIX_EPOCH + Duration::from_secs(951_782_400))
        );
        for bad in [
            "",
            "2025-12-01",
            "2025-12-01T10:31:00",
            "2025-12-01T10:31:00.Z",
            "2025-13-01T10:31:00Z",
            "2025-04-31T10:31:00Z",
            "2025-12-01T24:00:00Z",
            "2025-12-01T10:31:00+2:00",
            "2025-12-01T10:31:00Zjunk",
            "yyyy-12-01T10:31:00Z",
            "+025-12-01T10:31:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn local_times_carry_the_date_only_on_another_day() {
        let now = SystemTime::now();
        assert_eq!(local(now, now, false).len(), "10:31".len());
        assert_eq!(local(now, now, true).len(), "10:31:02".len());
        let old = now - Duration::from_secs(3 * 86_400);
        assert_eq!(local(old, now, false).len(), "2026-11-30 10:31".len());
    }
}
