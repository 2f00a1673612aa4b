//! `procreap history`: the audit trail the library appends to
//! (`<state_dir>/audit.jsonl`, rotated to `audit.jsonl.1`), told as one
//! line per event: who got which signal, when, from which call, and why.
//!
//! The trail is read as the library writes it: the state dir is opened
//! once without following a symlink and checked through its descriptor
//! (ours, writable by nobody else), each file is opened relative to it,
//! never through a symlink, and must be a regular file of ours that only
//! we can write. A line that is not a whole record is skipped and counted.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use procreap::{Config, Error};
use serde_json::{json, Map, Value};

use crate::args::HistoryArgs;
use crate::clock;
use crate::output::{clean, document, emit, fmt_age, human_bytes, Fmt};
use crate::Failure;

/// One record of the trail.
struct Event {
    /// The line as written (every field, also ones this CLI does not know).
    record: Map<String, Value>,
    time: SystemTime,
    pid: i32,
    start_time: u64,
}

impl Event {
    fn str(&self, key: &str) -> &str {
        self.record.get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn u64(&self, key: &str) -> Option<u64> {
        self.record.get(key).and_then(Value::as_u64)
    }

    /// A signal that was sent (not skipped, not failed).
    fn sent(&self) -> bool {
        self.str("action") != "skipped" && self.record.get("error").is_none_or(Value::is_null)
    }
}

/// What was read.
struct Trail {
    events: Vec<Event>,
    /// Lines that were not a whole record (corrupt, or the last one cut).
    skipped: usize,
    /// The files read, oldest first.
    files: Vec<PathBuf>,
}

/// The trail of `dir`, oldest first, read by the library (which opens and
/// checks the state dir and both files as it writes them).
fn read(dir: &Path) -> Result<Trail, Error> {
    let mut trail = Trail {
        events: Vec::new(),
        skipped: 0,
        files: Vec::new(),
    };
    let reach = Config::default().subprocess_timeout;
    for (path, bytes) in procreap::ledger::audit::read(dir, reach)? {
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        // What follows the last newline is a line still being written (or
        // cut short): never a record.
        if lines.pop().is_some_and(|tail| !tail.is_empty()) {
            trail.skipped += 1;
        }
        for line in lines {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse(line) {
                Some(e) => trail.events.push(e),
                None => trail.skipped += 1,
            }
        }
        trail.files.push(path);
    }
    Ok(trail)
}

/// A record, if `line` is one: a JSON object with at least a time, a pid
/// and start time, an action and a signal.
fn parse(line: &[u8]) -> Option<Event> {
    let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(line) else {
        return None;
    };
    let time = clock::parse_rfc3339(record.get("time")?.as_str()?)?;
    let pid = i32::try_from(record.get("pid")?.as_i64()?)
        .ok()
        .filter(|p| *p > 0)?;
    let start_time = record.get("start_time")?.as_u64()?;
    record.get("action")?.as_str()?;
    record.get("signal")?.as_str()?;
    Some(Event {
        record,
        time,
        pid,
        start_time,
    })
}

/// Tells events; remembers when each process got its SIGTERM.
struct Teller {
    fmt: Fmt,
    now: SystemTime,
    me: u32,
    home: Option<String>,
    term_sent: HashMap<(i32, u64), SystemTime>,
}

impl Teller {
    fn new() -> Teller {
        Teller {
            fmt: Fmt::new(),
            now: SystemTime::now(),
            me: nix::unistd::geteuid().as_raw(),
            home: std::env::var("HOME")
                .ok()
                .filter(|h| h.len() > 1 && h.starts_with('/'))
                .map(|h| h.trim_end_matches('/').to_string()),
            term_sent: HashMap::new(),
        }
    }

    /// Notes what `e` tells about earlier signals (call for every event, in
    /// order, shown or not).
    fn note(&mut self, e: &Event) {
        if e.str("signal") == "SIGTERM" && e.sent() {
            self.term_sent.insert((e.pid, e.start_time), e.time);
        }
    }

    /// Paths under $HOME as `~/…`.
    fn tilde(&self, s: &str) -> String {
        match &self.home {
            Some(h) => s.replace(&format!("{h}/"), "~/"),
            None => s.to_string(),
        }
    }

    /// The user name, for another user's process only.
    fn user(&self, e: &Event) -> Option<String> {
        let uid = u32::try_from(e.u64("uid")?).ok()?;
        (uid != self.me).then(|| {
            self.fmt
                .user_name(uid)
                .map_or_else(|| format!("uid {uid}"), |n| clean(&n))
        })
    }

    /// "pid 4242 (claude, 412M, started 10:02) got SIGTERM at 10:31:05 from
    /// a cleanup step: no terminal, not in tmux, age 29m in workspace ~/gt".
    fn story(&self, e: &Event) -> String {
        let name = e.str("name");
        let mut who = vec![if name.is_empty() {
            "?".to_string()
        } else {
            clean(name)
        }];
        who.extend(self.user(e));
        if let Some(rss) = e.u64("rss_bytes").filter(|r| *r > 0) {
            who.push(human_bytes(rss));
        }
        if let Some(t) = clock::parse_rfc3339(e.str("started")) {
            who.push(format!("started {}", clock::local(t, self.now, false)));
        }
        let signal = e.str("signal");
        let at = clock::local(e.time, self.now, true);
        let from = match e.str("call") {
            "step" => match e.str("kind") {
                "zombies" => "from a cleanup step for zombies".to_string(),
                "leaked" => "from a cleanup step for leaked descendants".to_string(),
                _ => "from a cleanup step".to_string(),
            },
            "reap-set" => "from a reap set".to_string(),
            "reap-now" => "from reap-now".to_string(),
            "kill-tree" => match e.record.get("agent").and_then(|a| a.get("pid")) {
                Some(pid) => format!("along with its agent pid {pid} (kill_tree)"),
                None => "along with its agent (kill_tree)".to_string(),
            },
            other => format!("from {}", clean(other)),
        };
        let reason = self.tilde(&clean(e.str("reason")));
        let error = e.record.get("error").and_then(Value::as_str).map(clean);
        let (head, detail) = match (e.str("action"), error) {
            ("skipped", _) => {
                let why = reason
                    .strip_prefix(&format!("{signal} not sent: "))
                    .unwrap_or(&reason);
                (
                    format!("was spared {signal} at {at} {from}"),
                    why.to_string(),
                )
            }
            (_, Some(err)) => (
                format!("did not get {signal} at {at} {from}"),
                format!("sending it failed: {err}; {reason}"),
            ),
            _ => {
                let via = if e.str("delivery") == "kill" {
                    " through kill(2)"
                } else {
                    ""
                };
                let after = match self.term_sent.get(&(e.pid, e.start_time)) {
                    Some(t) if signal == "SIGKILL" => e
                        .time
                        .duration_since(*t)
                        .map(|d| format!(" ({} after its SIGTERM)", fmt_age(d)))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                (format!("got {signal}{via} at {at}{after} {from}"), reason)
            }
        };
        let who = who.join(", ");
        if detail.is_empty() {
            format!("pid {} ({who}) {head}", e.pid)
        } else {
            format!("pid {} ({who}) {head}: {detail}", e.pid)
        }
    }
}

pub fn history(a: &HistoryArgs) -> Result<i32, Failure> {
    let dir = a
        .state_dir
        .clone()
        .unwrap_or_else(|| Config::default().resolved_state_dir());
    let trail = read(&dir)?;
    let mut teller = Teller::new();
    let mut shown: Vec<&Event> = Vec::new();
    let mut out = String::new();
    for e in &trail.events {
        let wanted = a.pid.is_none_or(|p| p == e.pid) && a.since.is_none_or(|s| e.time >= s);
        if wanted {
            let story = teller.story(e);
            if a.out.json {
                let user = e
                    .u64("uid")
                    .and_then(|u| u32::try_from(u).ok())
                    .and_then(|u| teller.fmt.user_name(u));
                out.push_str(&document(
                    "history",
                    json!({ "record": e.record, "user": user, "story": story }),
                ));
            } else {
                out.push_str(&story);
                out.push('\n');
            }
            shown.push(e);
        }
        teller.note(e);
    }
    let processes: HashSet<(i32, u64)> = shown.iter().map(|e| (e.pid, e.start_time)).collect();
    if a.out.json {
        out.push_str(&document(
            "history",
            json!({
                "summary": {
                    "events": shown.len(),
                    "processes": processes.len(),
                    "skipped_lines": trail.skipped,
                    "files": trail.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                },
                "error": null,
            }),
        ));
    } else if shown.is_empty() {
        out.push_str(&nothing(a, &dir, &trail));
    }
    let code = emit(&out);
    if trail.skipped > 0 {
        eprintln!(
            "procreap: history: skipped {} line(s) that are not whole records (corrupt, or still being written)",
            trail.skipped
        );
    }
    Ok(code)
}

/// What to say when no event is shown.
fn nothing(a: &HistoryArgs, dir: &Path, trail: &Trail) -> String {
    if trail.files.is_empty() {
        return format!(
            "no audit trail in {} (nothing signalled yet, or auditing is off)\n",
            dir.display()
        );
    }
    let mut what = String::from("no signal recorded");
    if let Some(p) = a.pid {
        what.push_str(&format!(" for pid {p}"));
    }
    if let Some(s) = a.since {
        what.push_str(&format!(
            " since {}",
            clock::local(s, SystemTime::now(), true)
        ));
    }
    format!(
        "{what} in {}\n",
        dir.join(procreap::ledger::audit::FILE).display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: &str) -> Event {
        parse(line.as_bytes()).unwrap_or_else(|| panic!("not a record: {line}"))
    }

    const TERM: &str = r#"{"time":"2026-12-01T10:31:00.000Z","call":"step","kind":"orphans","action":"sigterm","signal":"SIGTERM","pid":4242,"start_time":99,"started":"2026-12-01T10:02:00.000Z","name":"claude","cmdline":"claude","uid":null,"rss_bytes":0,"reason":"no terminal, not in tmux, age 29m","delivery":"pidfd","error":null,"agent":null}"#;

    #[test]
    fn records_need_their_core_fields() {
        event(TERM);
        for bad in [
            "",
            "not json",
            "[1,2]",
            r#"{"time":"yesterday","pid":1,"start_time":1,"action":"sigterm","signal":"SIGTERM"}"#,
            r#"{"time":"2026-12-01T10:31:00Z","pid":-1,"start_time":1,"action":"sigterm","signal":"SIGTERM"}"#,
            r#"{"time":"2026-12-01T10:31:00Z","pid":1,"action":"sigterm","signal":"SIGTERM"}"#,
            r#"{"time":"2026-12-01T10:31:00Z","pid":1,"start_time":1,"signal":"SIGTERM"}"#,
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn stories_read_naturally() {
        let mut t = Teller::new();
        let term = event(TERM);
        let s = t.story(&term);
        assert!(s.starts_with("pid 4242 (claude, started "), "{s}");
        assert!(
            s.ends_with(" from a cleanup step: no terminal, not in tmux, age 29m"),
            "{s}"
        );
        t.note(&term);
        let kill = event(
            &TERM
                .replace("10:31:00", "10:32:05")
                .replace("sigterm", "sigkill")
                .replace("SIGTERM", "SIGKILL"),
        );
        let s = t.story(&kill);
        assert!(s.contains("got SIGKILL at "), "{s}");
        assert!(s.contains("(1m05s after its SIGTERM)"), "{s}");
        let skipped = event(
            &TERM
                .replace("\"action\":\"sigterm\"", "\"action\":\"skipped\"")
                .replace("no terminal", "SIGTERM not sent: protected: in tmux"),
        );
        let s = t.story(&skipped);
        assert!(s.contains("was spared SIGTERM at "), "{s}");
        assert!(
            s.ends_with("from a cleanup step: protected: in tmux, not in tmux, age 29m"),
            "{s}"
        );
        let tree = event(
            &TERM
                .replace(
                    "\"call\":\"step\"",
                    "\"call\":\"kill-tree\",\"agent\":{\"pid\":7,\"start_time\":1}",
                )
                .replace(",\"agent\":null", ""),
        );
        assert!(t
            .story(&tree)
            .contains("along with its agent pid 7 (kill_tree)"));
    }
}
