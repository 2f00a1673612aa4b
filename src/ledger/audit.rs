//! The audit trail: one JSON line per signal sent, and per signal skipped
//! at the last check, appended to `<state_dir>/audit.jsonl` under the
//! ledger lock, so anyone can later tell who signalled their process and
//! why. Written like the ledger: our own regular file (no symlink), 0600,
//! beside it in the private state directory; rotated to `audit.jsonl.1`
//! once it would grow past `audit_max_bytes`. A write failure never stops
//! a signal (the ledger recorded its intent first); it is reported in the
//! call's error.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::not_private;
use super::Ledger;
use crate::config::Config;
use crate::error::Error;

/// The trail's file name in the state directory.
pub const FILE: &str = "audit.jsonl";
/// Where a full trail is rotated to.
pub const ROTATED: &str = "audit.jsonl.1";
/// The command line is cut to this many bytes.
const CMDLINE_MAX: usize = 4096;

/// One signal (or skipped signal) to record.
pub(crate) struct Line<'a> {
    /// `step`, `reap-set`, `reap-now` or `kill-tree`.
    pub(crate) call: &'a str,
    /// The scan kind (`orphans`, `zombies`, `leaked`).
    pub(crate) kind: &'a str,
    /// `sigterm`, `sigkill`, `skipped` (or the action that failed).
    pub(crate) action: &'a str,
    /// `SIGTERM` or `SIGKILL`: sent, or the one that was not.
    pub(crate) signal: &'a str,
    pub(crate) process: &'a crate::classify::ProcessInfo,
    /// The verdict's reason at that moment (or the failed check).
    pub(crate) reason: &'a str,
    /// `pidfd`, `kill` or `none`.
    pub(crate) delivery: &'a str,
    /// The kernel's refusal, when the signal failed.
    pub(crate) error: Option<&'a str>,
    /// For a `kill-tree` line: the agent it was signalled with.
    pub(crate) agent: Option<crate::process::Identity>,
}

/// The trail of one call: opened on the first line, rotated as needed.
pub(crate) struct Trail<'l> {
    ledger: &'l Ledger,
    cfg: &'l Config,
    file: Option<std::fs::File>,
    problem: Option<Error>,
    written: bool,
}

impl<'l> Trail<'l> {
    /// A trail in `ledger`'s state directory, per `cfg` (`audit`,
    /// `audit_max_bytes`; nothing is written in a dry run).
    pub(crate) fn new(ledger: &'l Ledger, cfg: &'l Config) -> Trail<'l> {
        Trail {
            ledger,
            cfg,
            file: None,
            problem: None,
            written: false,
        }
    }

    fn enabled(&self) -> bool {
        self.cfg.audit && !self.cfg.dry_run && self.problem.is_none()
    }

    /// Appends one line; a failure is kept for [`Trail::finish`] and stops
    /// further writes of this call.
    pub(crate) fn append(&mut self, line: &Line) {
        if !self.enabled() {
            return;
        }
        let mut text = encode(line, self.cfg);
        text.push('\n');
        if let Err(e) = self.write(text.as_bytes()) {
            self.problem = Some(e);
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let path = self.ledger.dir().join(FILE);
        let ctx = |what: &str| format!("audit trail {}: {what}", path.display());
        if self.file.is_none() {
            self.file = Some(self.open().map_err(|e| match e {
                Open::Io(e) => Error::io(ctx("opening"), e),
                Open::Unsafe(why) => Error::UnsafeStatePath(ctx(&why)),
            })?);
        }
        let len = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        if len > 0 && len + bytes.len() as u64 > self.cfg.audit_max_bytes {
            self.file = None;
            self.ledger
                .rename_at(FILE, ROTATED)
                .map_err(|e| Error::io(ctx("rotating"), e))?;
            self.file = Some(self.open().map_err(|e| match e {
                Open::Io(e) => Error::io(ctx("opening"), e),
                Open::Unsafe(why) => Error::UnsafeStatePath(ctx(&why)),
            })?);
        }
        let f = self.file.as_mut().expect("opened above");
        f.write_all(bytes)
            .map_err(|e| Error::io(ctx("writing"), e))?;
        self.written = true;
        Ok(())
    }

    fn open(&self) -> Result<std::fs::File, Open> {
        let f = self
            .ledger
            .open_at(
                FILE,
                // Never blocks: a FIFO put in its place fails to open without
                // a reader, and is refused below with one.
                libc::O_WRONLY
                    | libc::O_APPEND
                    | libc::O_CREAT
                    | libc::O_NOFOLLOW
                    | libc::O_CLOEXEC
                    | libc::O_NONBLOCK,
            )
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Open::Unsafe("is a symlink".into()),
                _ => Open::Io(e),
            })?;
        let m = f.metadata().map_err(Open::Io)?;
        if !m.is_file() {
            return Err(Open::Unsafe("is not a regular file".into()));
        }
        if let Some(why) = not_private(&m) {
            return Err(Open::Unsafe(why));
        }
        Ok(f)
    }

    /// Flushes the trail to disk and returns the first failure, if any.
    pub(crate) fn finish(self) -> Option<Error> {
        if let (Some(f), true) = (&self.file, self.written) {
            let _ = f.sync_data();
        }
        self.problem
    }
}

enum Open {
    Io(std::io::Error),
    Unsafe(String),
}

/// The audit trail of `state_dir`, oldest first: the bytes of
/// `audit.jsonl.1`, then of `audit.jsonl`, with their paths. The directory
/// and each file are opened without following a symlink and checked as the
/// ledger is (our own, writable by nobody else; files regular); a missing
/// directory or file is no trail. A rotation between the two opens is
/// noticed, so no file is read twice. Reaching the directory takes at most
/// `reach`.
pub fn read(
    state_dir: &std::path::Path,
    reach: Duration,
) -> Result<Vec<(std::path::PathBuf, Vec<u8>)>, Error> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let ledger = Ledger::open(state_dir, Duration::ZERO, reach, true)?;
    if !ledger.has_dir() {
        return Ok(Vec::new());
    }
    let open = |name: &str| -> Result<Option<std::fs::File>, Error> {
        let path = state_dir.join(name);
        let ctx = |why: &str| format!("audit trail {}: {why}", path.display());
        let f = match ledger.open_at(
            name,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
        ) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::UnsafeStatePath(ctx("is a symlink")))
            }
            Err(e) => return Err(Error::io(ctx("opening"), e)),
        };
        let m = f.metadata().map_err(|e| Error::io(ctx("reading"), e))?;
        if !m.is_file() {
            return Err(Error::UnsafeStatePath(ctx("is not a regular file")));
        }
        if let Some(why) = not_private(&m) {
            return Err(Error::UnsafeStatePath(ctx(&why)));
        }
        Ok(Some(f))
    };
    let same = |a: &Option<std::fs::File>, b: &Option<std::fs::File>| match (a, b) {
        (Some(a), Some(b)) => matches!(
            (a.metadata(), b.metadata()),
            (Ok(a), Ok(b)) if (a.dev(), a.ino()) == (b.dev(), b.ino())
        ),
        _ => false,
    };
    // The current file first: if the rotated one then is the file just
    // opened, a rotation came in between; open the new current one.
    let mut current = open(FILE)?;
    let mut rotated = open(ROTATED)?;
    for _ in 0..3 {
        if !same(&current, &rotated) {
            break;
        }
        current = open(FILE)?;
    }
    if same(&current, &rotated) {
        rotated = None;
    }
    let mut out = Vec::new();
    for (name, file) in [(ROTATED, rotated), (FILE, current)] {
        let Some(mut f) = file else { continue };
        let path = state_dir.join(name);
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading audit trail {}", path.display()), e))?;
        out.push((path, bytes));
    }
    Ok(out)
}

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn opt_str(s: Option<&str>) -> String {
    s.map_or("null".into(), json_str)
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// RFC 3339 in UTC with milliseconds: `2026-12-01T10:31:00.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

fn encode(l: &Line, cfg: &Config) -> String {
    let now = SystemTime::now();
    let p = l.process;
    let started = now.checked_sub(p.age).unwrap_or(UNIX_EPOCH);
    let names: Vec<String> = cfg.agent_names.iter().map(|n| json_str(n)).collect();
    let markers: Vec<String> = cfg.leak_markers.iter().map(|n| json_str(n)).collect();
    let users: Vec<String> = cfg.users.iter().map(|u| u.to_string()).collect();
    let root = cfg
        .workspace_root
        .as_ref()
        .map(|r| r.to_string_lossy().into_owned());
    let agent = l.agent.map_or("null".into(), |a| {
        format!("{{\"pid\":{},\"start_time\":{}}}", a.pid, a.start_time)
    });
    format!(
        concat!(
            "{{\"time\":{},\"call\":{},\"kind\":{},\"action\":{},\"signal\":{},",
            "\"pid\":{},\"start_time\":{},\"started\":{},\"name\":{},\"cmdline\":{},",
            "\"uid\":{},\"rss_bytes\":{},\"reason\":{},\"delivery\":{},\"error\":{},",
            "\"agent\":{},\"scope\":{{\"id\":{},\"names\":[{}],\"workspace_root\":{},",
            "\"all_users\":{},\"users\":[{}],\"leak_markers\":[{}]}},",
            "\"version\":{},\"caller_pid\":{}}}"
        ),
        json_str(&rfc3339(now)),
        json_str(l.call),
        json_str(l.kind),
        json_str(l.action),
        json_str(l.signal),
        p.id.pid,
        p.id.start_time,
        json_str(&rfc3339(started)),
        json_str(&p.name),
        json_str(cut(&p.cmdline, CMDLINE_MAX)),
        p.uid.map_or("null".into(), |u| u.to_string()),
        p.rss_bytes,
        json_str(l.reason),
        json_str(l.delivery),
        opt_str(l.error),
        agent,
        json_str(&cfg.scope()),
        names.join(","),
        opt_str(root.as_deref()),
        cfg.all_users,
        users.join(","),
        markers.join(","),
        json_str(crate::VERSION),
        std::process::id(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_585_060_123);
        assert_eq!(rfc3339(t), "2025-12-01T10:31:00.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn strings_are_escaped_and_cut_on_char_boundaries() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(cut("ééé", 3), "é");
        assert_eq!(cut("abc", 10), "abc");
    }
}
