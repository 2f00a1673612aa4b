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
use crate::process::{Comm, Identity, Stat, Tty};

/// pid ppid pgid uid stat tt etime rss(KiB), then five lstart words, then
/// comm (which may hold spaces, so it comes last).
const FIELDS: &str = "pid=,ppid=,pgid=,uid=,stat=,tt=,etime=,rss=,lstart=,comm=";
const WORDS: usize = 13;

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

/// The whole table, one row (and owner) per process.
pub(crate) fn list(timeout: Duration) -> Result<Vec<(Stat, u32)>> {
    let out = ps(&["-A", "-ww", "-o", FIELDS], timeout)?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(parse_line)
        .collect())
}

/// One process read afresh, with its owner.
pub(crate) fn read(pid: i32, timeout: Duration) -> Option<(Stat, Option<u32>)> {
    let out = ps(&["-ww", "-o", FIELDS, "-p", &pid.to_string()], timeout).ok()?;
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(parse_line)
        .find(|(p, _)| p.id.pid == pid)
        .map(|(p, uid)| (p, Some(uid)))
}

/// The basename of the executable: macOS's `ps` prints the executable's
/// path as `comm`; Linux's procps prints the kernel's name, so there the
/// (test-only) portable backend asks /proc.
pub(crate) fn exe_base(pid: i32, comm_path: Option<&str>) -> Option<String> {
    if let Some(path) = comm_path.filter(|c| c.starts_with('/')) {
        return path.rsplit('/').next().map(String::from);
    }
    if cfg!(target_os = "linux") {
        let target = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        let s = target.to_string_lossy();
        let s = s.strip_suffix(" (deleted)").unwrap_or(&s);
        return s.rsplit('/').next().map(String::from);
    }
    None
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

/// When an `lsof` last timed out, and how long none is started after that.
static STUCK_AT: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
const LSOF_REST: Duration = Duration::from_secs(60);

/// Runs `lsof -b -w -a -p PID ARGS` (`-b`: no call that may block on a
/// hung mount) within `timeout`. A timed-out lsof may stay behind in the
/// kernel (a hung mount): for a minute after one, this process starts no
/// other and answers "cannot tell".
fn lsof(pid: i32, args: &[&str], timeout: Duration) -> std::result::Result<Vec<u8>, String> {
    let recent = STUCK_AT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some_and(|t| t.elapsed() < LSOF_REST);
    if recent {
        return Err("lsof timed out less than a minute ago; not asked again until then".into());
    }
    let mut c = Command::new("lsof");
    c.args(["-b", "-w", "-a", "-p", &pid.to_string()])
        .args(args);
    match cmd::run(c, timeout) {
        Ok(o) => Ok(o.stdout),
        Err(cmd::Failure::Timeout) => {
            *STUCK_AT.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
            Err(format!("lsof: {}", cmd::Failure::Timeout))
        }
        Err(e) => Err(format!("lsof: {e}")),
    }
}

/// The cwd from `lsof -a -p PID -d cwd -Fn`, or why it is not known.
pub(crate) fn cwd(pid: i32, timeout: Duration) -> std::result::Result<PathBuf, String> {
    let out = lsof(pid, &["-d", "cwd", "-Fn"], timeout)?;
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|l| l.strip_prefix('n'))
        .map(PathBuf::from)
        .ok_or_else(|| "cwd unreadable: lsof does not show it".to_string())
}

/// One open descriptor as `lsof -F ftn` lists it: number, type, name.
#[derive(Debug, PartialEq)]
pub(crate) struct Open {
    pub fd: u32,
    pub kind: String,
    pub name: String,
}

/// Parses `lsof -F ftn` output: `f<fd>`, `t<type>`, `n<name>` lines per
/// descriptor. Entries that are not numbered descriptors (cwd, txt, mem)
/// are left out; the flag says whether any entry at all was listed (a
/// process lsof can look into has at least its cwd).
pub(crate) fn parse_lsof(out: &str) -> (Vec<Open>, bool) {
    let mut all: Vec<Open> = Vec::new();
    let mut cur: Option<Open> = None;
    let mut any = false;
    for line in out.lines() {
        let (tag, v) = line.split_at(line.len().min(1));
        match tag {
            "f" => {
                any = true;
                all.extend(cur.take());
                cur = v.parse().ok().map(|fd| Open {
                    fd,
                    kind: String::new(),
                    name: String::new(),
                });
            }
            "t" => cur.iter_mut().for_each(|o| o.kind = v.to_string()),
            "n" => cur.iter_mut().for_each(|o| o.name = v.to_string()),
            _ => {}
        }
    }
    all.extend(cur);
    (all, any)
}

/// `pid`'s open descriptors, from `lsof`. `Err` when they cannot be
/// listed (lsof missing, refused or timed out, another user's process):
/// that is not "none". A process that is gone has none.
pub(crate) fn descriptors(pid: i32, timeout: Duration) -> std::result::Result<Vec<Open>, String> {
    let out = lsof(pid, &["-Fftn"], timeout)?;
    let (open, any) = parse_lsof(&String::from_utf8_lossy(&out));
    let gone = || {
        matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
    };
    if !any && !gone() {
        return Err("lsof cannot list its descriptors (another user's, or lsof is missing)".into());
    }
    Ok(open)
}

/// The terminal one of `pid`'s fds 0–2 is on (a character device named as
/// a terminal), from `lsof`.
pub(crate) fn live_terminal(
    pid: i32,
    timeout: Duration,
) -> std::result::Result<Option<String>, String> {
    let open = descriptors(pid, timeout)
        .map_err(|e| format!("its standard streams cannot be read ({e})"))?;
    Ok(open.iter().filter(|o| o.fd < 3).find_map(|o| {
        (o.kind == "CHR" && !o.name.ends_with(" (deleted)"))
            .then(|| crate::process::terminal_name(&o.name))
            .flatten()
    }))
}

/// Whether `pid` hosts terminal sessions (holds a pty master and a unix
/// socket), from `lsof`; `lsof` does not say everywhere whether a unix
/// socket listens, so any counts (the side that protects).
pub(crate) fn session_server(pid: i32, timeout: Duration) -> std::result::Result<bool, String> {
    let open = descriptors(pid, timeout)?;
    let master = open
        .iter()
        .any(|o| o.kind == "CHR" && crate::process::pty_master(o.name.as_bytes()));
    let socket = open.iter().any(|o| o.kind == "unix");
    Ok(master && socket)
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
    days.checked_mul(86400)?
        .checked_add(h.checked_mul(3600)?)?
        .checked_add(m * 60 + sec)
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
    // Bounded fields: no arithmetic below can overflow.
    let d: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let y: i64 = year.parse().ok().filter(|y| (1970..=999_999).contains(y))?;
    let t: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().ok().filter(|v: &i64| (0..=60).contains(v)))
        .collect::<Option<_>>()?;
    let [hh, mm, ss] = t[..] else { return None };
    if hh > 23 || mm > 59 {
        return None;
    }
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

/// One line of the `FIELDS` listing: the row and its owner's uid.
pub fn parse_line(line: &str) -> Option<(Stat, u32)> {
    let mut rest = line.trim_start();
    let mut w: Vec<&str> = Vec::with_capacity(WORDS);
    for _ in 0..WORDS {
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
    let pgrp: i32 = w[2].parse().ok().filter(|p| *p >= 0)?;
    let uid: u32 = w[3].parse().ok()?;
    let state = w[4].chars().next()?;
    let tty = match w[5] {
        "?" | "??" | "-" => Tty::None,
        t => Tty::Name(t.to_string()),
    };
    let age = parse_etime(w[6])?;
    let rss_kib: u64 = w[7].parse().ok()?;
    let start = parse_lstart(&w[8..13])?;
    // macOS prints the executable's path; Linux's procps the kernel's name
    // (kernel threads look like `kworker/0:1`, so only strip real paths).
    let name = if comm.starts_with('/') {
        comm.rsplit('/').next().unwrap_or(comm)
    } else {
        comm
    };
    Some((
        Stat {
            id: Identity {
                pid,
                start_time: start,
            },
            comm: Comm::new(name.as_bytes()),
            ppid,
            pgrp,
            state,
            tty,
            age: Duration::from_secs(age),
            rss_bytes: rss_kib.saturating_mul(1024),
            // Linux's kthreadd (pid 2) and its children have no argv to read.
            kthread: cfg!(target_os = "linux") && (ppid == 2 || pid == 2),
            threads: 0,
            args: (0, 0),
        },
        uid,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsof_lists_numbered_descriptors_and_says_whether_it_saw_any() {
        // A tmux server as Linux's lsof shows it; macOS's looks the same
        // with /dev/ttys… names.
        let out = "p42\nfcwd\ntDIR\nn/w\nf0\ntCHR\nn/dev/null\nf5\ntCHR\nn/dev/ptmx\n\
                   f6\ntunix\nn/tmp/tmux-0/x type=STREAM\nf7\ntCHR\nn/dev/ttys003\n";
        let (open, any) = parse_lsof(out);
        assert!(any);
        let fds: Vec<(u32, &str)> = open.iter().map(|o| (o.fd, o.kind.as_str())).collect();
        assert_eq!(fds, [(0, "CHR"), (5, "CHR"), (6, "unix"), (7, "CHR")]);
        assert_eq!(open[1].name, "/dev/ptmx");
        // lsof refused (another user's process): nothing at all.
        assert_eq!(parse_lsof(""), (Vec::new(), false));
        assert!(!parse_lsof("p1\n").1);
    }
}
