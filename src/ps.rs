//! The portable backend for Unixes without `/proc` (macOS, the BSDs): the
//! table from one `ps` listing, argv from one more, cwd from `lsof`. On Linux
//! it is selectable (`Backend::Ps`) so its code runs against the `/proc`
//! backend in the tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::cmd;
use crate::error::{Error, Result};
use crate::snapshot::{Identity, Proc, Tty};

/// pid ppid uid stat tt etime rss(KiB), then five lstart words, then comm
/// (which may hold spaces, so it comes last).
const FIELDS: &str = "pid=,ppid=,uid=,stat=,tt=,etime=,rss=,lstart=,comm=";

fn ps(args: &[&str], timeout: Duration) -> Result<Vec<u8>> {
    let mut c = Command::new("ps");
    c.args(args).env("LC_ALL", "C").env("TZ", "UTC");
    match cmd::run(c, timeout) {
        Ok(o) if o.success => Ok(o.stdout),
        // `ps -p PID` exits 1 when the process is gone; the caller sees no line.
        Ok(o) if args.contains(&"-p") => Ok(o.stdout),
        Ok(o) => Err(Error::Command(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(Error::Command(format!("ps: {e}"))),
    }
}

pub(crate) fn list(timeout: Duration) -> Result<Vec<Proc>> {
    let out = ps(&["-A", "-ww", "-o", FIELDS], timeout)?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(parse_line)
        .collect())
}

pub(crate) fn read(pid: i32, timeout: Duration) -> Option<Proc> {
    let out = ps(&["-ww", "-o", FIELDS, "-p", &pid.to_string()], timeout).ok()?;
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(parse_line)
        .find(|p| p.id.pid == pid)
}

/// `pid → args` for the whole table, one `ps` call.
pub(crate) fn args(timeout: Duration) -> Result<HashMap<i32, String>> {
    let out = ps(&["-A", "-ww", "-o", "pid=,args="], timeout)?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (pid, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            Some((pid.parse().ok()?, rest.trim().to_string()))
        })
        .collect())
}

/// The cwd from `lsof -a -p PID -d cwd -Fn`.
pub(crate) fn cwd(pid: i32, timeout: Duration) -> Option<PathBuf> {
    let mut c = Command::new("lsof");
    c.args(["-a", "-p", &pid.to_string(), "-d", "cwd", "-Fn"]);
    let out = cmd::run(c, timeout).ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix('n'))
        .map(PathBuf::from)
}

/// Parses `[[DD-]HH:]MM:SS` into seconds.
pub fn parse_etime(s: &str) -> Option<u64> {
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().ok()?, r),
        None => (0, s),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (h, m, sec) = match parts[..] {
        [m, s] => (0, m, s),
        [h, m, s] => (h, m, s),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    Some(days * 86400 + h * 3600 + m * 60 + sec)
}

/// Turns `Fri Nov 27 20:19:06 2026` (LC_ALL=C, TZ=UTC) into seconds since the
/// epoch: a stable start-time key for the identity.
pub fn parse_lstart(words: &[&str]) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let [_, mon, day, hms, year] = words else {
        return None;
    };
    let m = MONTHS.iter().position(|x| x == mon)? as i64 + 1;
    let d: i64 = day.parse().ok()?;
    let y: i64 = year.parse().ok()?;
    let t: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [hh, mm, ss] = t[..] else { return None };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86400 + hh * 3600 + mm * 60 + ss).ok()
}

/// One line of the `FIELDS` listing.
pub fn parse_line(line: &str) -> Option<Proc> {
    let mut rest = line.trim_start();
    let mut w: Vec<&str> = Vec::with_capacity(12);
    for _ in 0..12 {
        let (word, r) = rest.split_once(char::is_whitespace)?;
        w.push(word);
        rest = r.trim_start();
    }
    let comm = rest.trim_end();
    if comm.is_empty() {
        return None;
    }
    let pid: i32 = w[0].parse().ok().filter(|p| *p > 0)?;
    let ppid: i32 = w[1].parse().ok().filter(|p| *p >= 0)?;
    let uid: u32 = w[2].parse().ok()?;
    let state = w[3].chars().next()?;
    let tty = match w[4] {
        "?" | "??" | "-" => Tty::None,
        t => Tty::Name(t.to_string()),
    };
    let age = parse_etime(w[5])?;
    let rss_kib: u64 = w[6].parse().ok()?;
    let start = parse_lstart(&w[7..12])?;
    // macOS prints the executable's path; Linux's procps the kernel's name
    // (kernel threads look like `kworker/0:1`, so only strip real paths).
    let name = if comm.starts_with('/') {
        comm.rsplit('/').next().unwrap_or(comm)
    } else {
        comm
    };
    Some(Proc {
        id: Identity {
            pid,
            start_time: start,
        },
        ppid,
        name: name.to_string(),
        state,
        tty,
        age: Duration::from_secs(age),
        // Linux's kthreadd (pid 2) and its children have no argv to read.
        kthread: cfg!(target_os = "linux") && (ppid == 2 || pid == 2),
        rss_bytes: rss_kib.saturating_mul(1024),
        listed_uid: Some(uid),
        args: (0, 0),
    })
}
