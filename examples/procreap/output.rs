//! What the CLI prints: aligned tables (USER, RSS, and a CMD column cut to
//! the terminal width), human units, and the JSON documents (schema 1).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::time::Duration;

use procreap::ffi::{procreap_status, procreap_status_str};
use procreap::{Action, Error, ProcessInfo, Report, Verdict};
use serde_json::{json, Map, Value};

use crate::args::{EXIT_ERROR, EXIT_OK};

/// The version of every JSON document's shape.
pub const SCHEMA: u64 = 1;

/// Writes to stdout; a closed pipe (`procreap scan | head`) is not an error.
pub fn emit(s: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("procreap: writing output: {e}");
            EXIT_ERROR
        }
    }
}

/// A JSON document: `{"schema": 1, "command": …, <fields>}` on one line.
pub fn document(command: &str, fields: Value) -> String {
    let mut m = Map::new();
    m.insert("schema".into(), json!(SCHEMA));
    m.insert("command".into(), json!(command));
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    let mut s = Value::Object(m).to_string();
    s.push('\n');
    s
}

/// The C status name of a library error (`procreap_status_str`), so JSON
/// readers see the same names in every language.
pub fn status_name(e: &Error) -> &'static str {
    status_str(procreap_status::of(e))
}

/// `procreap_status_str` as a Rust string (static, never freed).
pub fn status_str(st: procreap_status) -> &'static str {
    // SAFETY: the library returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(procreap_status_str(st as u32)) }
        .to_str()
        .unwrap_or("unknown status")
}

/// `{"status": …, "message": …}`.
pub fn error_json(status: &str, message: &str) -> Value {
    json!({ "status": status, "message": message })
}

pub fn lib_error_json(e: &Error) -> Value {
    error_json(status_name(e), &e.to_string())
}

/// Control characters in process names and argv could drive the terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub fn fmt_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Bytes in powers of 1024, like `ls -h`: 512B, 4.0K, 300M, 1.2G.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// How wide a table may be: the terminal's width when stdout is one
/// (`COLUMNS` overrides it, as for ps), else unlimited.
pub fn table_width() -> Option<usize> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(c);
    }
    // SAFETY: TIOCGWINSZ fills a winsize struct for a terminal fd.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// Formats processes for people and for JSON; remembers user names.
pub struct Fmt {
    pub width: Option<usize>,
    users: RefCell<HashMap<u32, Option<String>>>,
}

impl Fmt {
    pub fn new() -> Fmt {
        Fmt {
            width: table_width(),
            users: RefCell::new(HashMap::new()),
        }
    }

    /// The user name of `uid`, if the system knows one.
    pub fn user_name(&self, uid: u32) -> Option<String> {
        self.users
            .borrow_mut()
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    }

    fn user_cell(&self, p: &ProcessInfo) -> String {
        match p.uid {
            None => "-".into(),
            Some(uid) => self
                .user_name(uid)
                .map_or_else(|| uid.to_string(), |n| clean(&n)),
        }
    }

    /// The leading columns every table shares.
    fn process_cells(&self, p: &ProcessInfo) -> Vec<String> {
        let unknown = p.state == '?';
        vec![
            p.id.pid.to_string(),
            self.user_cell(p),
            if unknown || p.rss_bytes == 0 {
                "-".into()
            } else {
                human_bytes(p.rss_bytes)
            },
            if unknown { "-".into() } else { fmt_age(p.age) },
            p.tty.as_deref().map_or("-".into(), clean),
            p.state.to_string(),
            if p.name.is_empty() {
                "-".into()
            } else {
                clean(&p.name)
            },
        ]
    }

    /// A table of processes: the shared columns, `extra` columns, then CMD.
    pub fn table<'a, T: 'a>(
        &self,
        items: impl IntoIterator<Item = &'a T>,
        extra_head: &[&str],
        process: impl Fn(&T) -> &ProcessInfo,
        extra: impl Fn(&T) -> Vec<String>,
    ) -> String {
        let mut head = vec!["PID", "USER", "RSS", "AGE", "TTY", "STAT", "NAME"];
        head.extend_from_slice(extra_head);
        head.push("CMD");
        let rows: Vec<Vec<String>> = items
            .into_iter()
            .map(|it| {
                let p = process(it);
                let mut r = self.process_cells(p);
                r.extend(extra(it));
                r.push(if p.cmdline.is_empty() {
                    "-".into()
                } else {
                    clean(&p.cmdline)
                });
                r
            })
            .collect();
        table(&head, &rows, self.width)
    }

    pub fn process_table(&self, ps: &[ProcessInfo]) -> String {
        self.table(
            ps,
            &["WORKSPACE"],
            |p| p,
            |p| {
                vec![p
                    .workspace_root
                    .as_ref()
                    .map_or("-".into(), |w| clean(&w.display().to_string()))]
            },
        )
    }

    pub fn verdict_table(&self, vs: &[Verdict]) -> String {
        self.table(
            vs,
            &["VERDICT", "REASON"],
            |v| &v.process,
            |v| vec![v.verdict.to_string(), reason_cell(&v.reason)],
        )
    }

    pub fn action_table(&self, acts: &[Action]) -> String {
        self.table(
            acts,
            &["ACTION", "REASON"],
            |a| &a.process,
            |a| vec![a.action.to_string(), action_reason(a)],
        )
    }

    pub fn process_json(&self, p: &ProcessInfo) -> Value {
        json!({
            "pid": p.id.pid,
            "start_time": p.id.start_time,
            "ppid": p.ppid,
            "name": p.name,
            "user": p.uid.and_then(|u| self.user_name(u)),
            "uid": p.uid,
            "rss_bytes": p.rss_bytes,
            "age_secs": p.age.as_millis() as f64 / 1000.0,
            "tty": p.tty,
            "state": p.state.to_string(),
            "workspace_root": p.workspace_root.as_ref().map(|w| w.display().to_string()),
            "cmdline": p.cmdline,
        })
    }

    pub fn processes_json(&self, ps: &[ProcessInfo]) -> Value {
        Value::Array(ps.iter().map(|p| self.process_json(p)).collect())
    }

    pub fn verdict_json(&self, v: &Verdict) -> Value {
        let mut o = self.process_json(&v.process);
        o["verdict"] = json!(v.verdict.as_str());
        o["reason"] = json!(v.reason);
        o
    }

    pub fn action_json(&self, a: &Action) -> Value {
        json!({
            "process": self.process_json(&a.process),
            "action": a.action.as_str(),
            "signal": a.signal.map(|s| s.name()),
            "reason": a.reason,
            "error": a.error,
            "delivery": a.delivery.as_str(),
            "dry_run": a.dry_run,
        })
    }

    /// The fields every cleanup-like report carries.
    pub fn report_json(&self, r: &Report) -> Value {
        json!({
            "actions": r.actions.iter().map(|a| self.action_json(a)).collect::<Vec<_>>(),
            "next_due_ms": r.next_due.map(|d| d.as_millis() as u64),
            "reclaimed_bytes": r.reclaimed_bytes,
            "error": r.error.as_ref().map(lib_error_json),
        })
    }
}

fn reason_cell(r: &str) -> String {
    if r.is_empty() {
        "-".into()
    } else {
        clean(r)
    }
}

pub fn action_reason(a: &Action) -> String {
    let mut parts: Vec<String> = Vec::new();
    // The library's reason already says what was sent.
    if let (Some(s), true) = (a.signal, a.dry_run) {
        parts.push(format!("would send {}", s.name()));
    }
    if !a.reason.is_empty() {
        parts.push(clean(&a.reason));
    }
    if let Some(e) = &a.error {
        parts.push(format!("error: {}", clean(e)));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

/// The report's summary line: memory reclaimed and when the next step is due.
pub fn report_summary(r: &Report) -> String {
    let next = match r.next_due {
        Some(d) => format!("next step due in {}", fmt_due(d)),
        None => "nothing pending".into(),
    };
    format!("reclaimed {}; {next}", human_bytes(r.reclaimed_bytes))
}

/// A time to wait: `2.0s`, `1m00s`, `2h05m`.
pub fn fmt_due(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        fmt_age(d)
    }
}

/// The least a cut CMD keeps, even when the columns before it already fill
/// the terminal (explain's reasons): the line then wraps.
const MIN_CMD: usize = 16;

/// An aligned table. The last column (CMD) is not padded and is cut so that
/// each line fits `width` characters (a cut ends in `…`), keeping at least
/// [`MIN_CMD`] of it.
pub fn table(head: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == last {
                let used = l.chars().count();
                l.push_str(&cut(c, width.map(|w| w.saturating_sub(used).max(MIN_CMD))));
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// `s` in at most `room` characters (`None` = no limit).
pub fn cut(s: &str, room: Option<usize>) -> String {
    match room {
        Some(room) if s.chars().count() > room => {
            if room == 0 {
                return String::new();
            }
            let mut c: String = s.chars().take(room - 1).collect();
            c.push('…');
            c
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(4096), "4.0K");
        assert_eq!(human_bytes(300 << 20), "300M");
        assert_eq!(human_bytes((12 << 30) / 10), "1.2G");
    }

    #[test]
    fn the_last_column_is_cut_to_the_width() {
        let cmd = "a long command line that does not fit";
        let rows = vec![vec!["1".to_string(), cmd.to_string()]];
        let t = table(&["PID", "CMD"], &rows, Some(24));
        for l in t.lines() {
            assert!(l.chars().count() <= 24, "{l:?}");
        }
        assert!(t.contains("1    a long command lin…"), "{t}");
        // Never less than MIN_CMD characters of it.
        let t = table(&["PID", "CMD"], &rows, Some(8));
        assert!(t.contains("1    a long command …"), "{t}");
        let full = table(&["PID", "CMD"], &rows, None);
        assert!(full.contains(cmd), "{full}");
    }
}
