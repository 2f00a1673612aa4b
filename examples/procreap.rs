//! `procreap`: the operator's command line over the procreap library.
//!
//! ```text
//! cargo run --release --example procreap -- scan | explain | cleanup | reap-now PID... | demo
//! ```
//!
//! Every knob of the configuration has a flag; `--json` gives machine-readable
//! output; `--help` documents the exit statuses. `demo` starts a throw-away
//! agent of its own and shows it being found, signalled and gone, touching
//! nothing else.

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::os::unix::fs::{symlink, DirBuilderExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use procreap::{
    Action, ActionKind, Backend, Config, Error, Identity, Kind, ProcessInfo, Report, Scan, Verdict,
    VerdictKind,
};
use serde_json::{json, Value};

const HELP: &str = "\
procreap - find AI-agent processes that outlived their sessions and reap them safely

USAGE
  procreap [FLAGS] scan        List orphans and zombies. Sends no signal.
  procreap [FLAGS] explain     Every agent process with its verdict and reason.
  procreap [FLAGS] cleanup [--kind orphans|zombies] [--dry-run]
                               One cleanup step: SIGTERM new candidates, SIGKILL
                               those whose grace ran out, report the rest. Run it
                               repeatedly (the ledger in --state-dir remembers).
  procreap [FLAGS] reap-now [--deadline SECS] PID[:START]...
                               SIGTERM these agent processes, wait up to SECS
                               (default 10) for them to exit, then SIGKILL.
                               A PID is resolved to the process holding it now
                               (PID:START pins the start time from --json);
                               a PID that is not an orphan agent is skipped,
                               never signalled.
  procreap demo [--backend auto|proc|ps]
                               Start a throw-away agent of its own (private
                               name, private temp workspace and state dir),
                               find it, reap it. Touches nothing else.
  procreap --help | version

CONFIGURATION FLAGS (may appear anywhere; defaults are Gas Town's)
  --agent-name NAME          Agent process name (repeatable; the first one
                             replaces the defaults: claude, claude-code, codex,
                             opencode, cursor-agent, agent, copilot)
  --argv0-match MODE         When argv[0]'s basename names an agent: never,
                             version-like (default: only a version-like comm
                             or a 15-byte cut name) or always
  --min-age SECS             Younger processes are never candidates (default 60)
  --grace SECS               SIGTERM -> SIGKILL delay between steps (default 60)
  --workspace-marker PATH    Marker of a workspace root, relative (default
                             mayor/town.json; \"\" = no workspace test)
  --workspace-root DIR       Only consider processes under this workspace root
  --ide-marker M             argv substring of IDE-launched agents (repeatable;
                             added to the defaults)
  --no-default-ide-markers   Drop the default IDE markers (vscode-server,
                             vscode/extensions, .cursor-server, .cursor/extensions)
  --protected-pid-file F     File holding the pid of a protected root
                             (repeatable; added to ~/gt/mayor/mayor-acp.pid)
  --no-default-protected-pid-files
                             Drop ~/gt/mayor/mayor-acp.pid
  --protected-pid PID        Protected root pid (repeatable)
  --tmux-socket S            Extra tmux socket to ask for panes: a name (-L) or
                             a path with '/' (-S) (repeatable)
  --all-users                Also consider other users' processes
  --kill-tree                Signal an agent's descendants together with it
  --state-dir DIR            Ledger directory (default $XDG_RUNTIME_DIR/procreap,
                             else /tmp/procreap-<uid>)
  --dry-run                  Decide and report, send no signal, write no ledger
  --subprocess-timeout SECS  Limit for tmux/ps/lsof (default 2)
  --lock-timeout SECS        Limit for taking the ledger lock (default 5)
  --backend auto|proc|ps     Process-table backend (default auto)
  SECS may be fractional (0.5).

OUTPUT
  --json                     Machine-readable output on stdout:
                               scan     {\"orphans\":[P...], \"zombies\":[P...] or null,
                                         \"zombies_error\": null or \"message\"}
                               explain  [{P fields..., \"verdict\", \"reason\"}...]
                               cleanup, reap-now
                                        {\"actions\":[{\"process\":P, \"action\",
                                          \"signal\", \"reason\", \"error\"}...],
                                         \"error\": null or \"message\", \"dry_run\",
                                         \"kind\" (cleanup) or \"deadline_secs\"}
                             where P = {pid, start_time, ppid, name, age_secs,
                             tty, state, workspace_root, cmdline}.
                             Without --json: aligned tables.

EXIT STATUS
  0  success. `scan` also exits 0 when only the zombie scan could not run
     because tmux is unavailable (reported as a note / \"zombies_error\").
  1  error: the command could not run; \"procreap: <message>\" on stderr and
     nothing on stdout (e.g. `cleanup --kind zombies` without tmux, lock
     timeout, unreadable process table).
  2  usage error: unknown command or flag, missing or bad value.
  3  partial: the command ran and its results are printed, but something
     failed: a signal failed, the ledger was corrupt and quarantined, or (for
     reap-now) a requested PID was skipped or survived, i.e. is neither gone
     nor defunct. The message is on stderr (and in the \"error\" field when
     the library reported one).

SAFETY
  Every signal is tied to a process identity (pid + start time) and
  re-verified just before it is sent. Processes in tmux panes, with a
  terminal, launched by an IDE, or younger than --min-age are never touched.
  Try `procreap cleanup --dry-run` first.
";

/// Exit statuses (documented in HELP).
const EXIT_OK: i32 = 0;
const EXIT_ERROR: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_PARTIAL: i32 = 3;

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let opts = match parse_args(std::env::args_os().skip(1).collect()) {
        Ok(o) => o,
        Err(Usage(m)) => {
            eprintln!("procreap: {m}");
            eprintln!("Try 'procreap --help'.");
            return EXIT_USAGE;
        }
    };
    let result = match opts.cmd {
        Cmd::Help => Ok(emit(HELP)),
        Cmd::Version => Ok(emit(&format!("procreap {}\n", procreap::VERSION))),
        Cmd::Scan => cmd_scan(&opts),
        Cmd::Explain => cmd_explain(&opts),
        Cmd::Cleanup => cmd_cleanup(&opts),
        Cmd::ReapNow => cmd_reap_now(&opts),
        Cmd::Demo => demo(opts.cfg.backend),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("procreap: {msg}");
            EXIT_ERROR
        }
    }
}

/// Writes to stdout; a closed pipe (`procreap scan | head`) is not an error.
fn emit(s: &str) -> i32 {
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

// ---------------------------------------------------------------- arguments

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Scan,
    Explain,
    Cleanup,
    ReapNow,
    Demo,
    Help,
    Version,
}

struct Usage(String);

struct Opts {
    cmd: Cmd,
    cfg: Config,
    json: bool,
    kind: Kind,
    deadline: Duration,
    /// reap-now targets: pid and, when given, the start time.
    pids: Vec<(i32, Option<u64>)>,
}

fn usage<T>(msg: impl Into<String>) -> Result<T, Usage> {
    Err(Usage(msg.into()))
}

fn parse_secs(flag: &str, v: &str) -> Result<Duration, Usage> {
    let n: f64 = match v.trim().parse() {
        Ok(n) => n,
        Err(_) => return usage(format!("{flag} needs a number of seconds, not {v:?}")),
    };
    if !n.is_finite() || n < 0.0 {
        return usage(format!(
            "{flag} needs a non-negative number of seconds, not {v:?}"
        ));
    }
    Duration::try_from_secs_f64(n).or_else(|_| usage(format!("{flag} {v:?} is out of range")))
}

fn parse_pid(flag: &str, v: &str) -> Result<i32, Usage> {
    match v.trim().parse::<i32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => usage(format!(
            "{flag} needs a process id (a positive integer), not {v:?}"
        )),
    }
}

fn absolute(p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        return p;
    }
    std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
}

/// Flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "--agent-name",
    "--min-age",
    "--grace",
    "--workspace-marker",
    "--workspace-root",
    "--ide-marker",
    "--protected-pid-file",
    "--protected-pid",
    "--tmux-socket",
    "--state-dir",
    "--subprocess-timeout",
    "--lock-timeout",
    "--backend",
    "--argv0-match",
    "--kind",
    "--deadline",
];

/// Flags that take none.
const SWITCHES: &[&str] = &[
    "--json",
    "--dry-run",
    "--all-users",
    "--kill-tree",
    "--no-default-ide-markers",
    "--no-default-protected-pid-files",
    "--help",
];

fn parse_args(args: Vec<OsString>) -> Result<Opts, Usage> {
    let mut args_s = Vec::with_capacity(args.len());
    for a in args {
        match a.into_string() {
            Ok(s) => args_s.push(s),
            Err(a) => return usage(format!("argument {a:?} is not valid UTF-8")),
        }
    }
    let mut cfg = Config::default();
    let mut json = false;
    let mut help = false;
    let mut kind: Option<Kind> = None;
    let mut deadline: Option<Duration> = None;
    let mut names: Vec<String> = Vec::new();
    let mut ide_markers: Vec<String> = Vec::new();
    let mut pid_files: Vec<PathBuf> = Vec::new();
    let mut no_default_ide = false;
    let mut no_default_pid_files = false;
    let mut positional: Vec<String> = Vec::new();
    let mut given: Vec<String> = Vec::new();

    let mut it = args_s.into_iter();
    let mut flags_done = false;
    while let Some(arg) = it.next() {
        if flags_done || arg == "-" || !arg.starts_with('-') {
            positional.push(arg);
            continue;
        }
        if arg == "--" {
            flags_done = true;
            continue;
        }
        if arg == "-h" {
            help = true;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if SWITCHES.contains(&name.as_str()) {
            if inline.is_some() {
                return usage(format!("{name} takes no value"));
            }
        } else if !VALUE_FLAGS.contains(&name.as_str()) {
            return usage(format!("unknown flag {arg:?}"));
        }
        let mut value = || -> Result<String, Usage> {
            match inline.clone().or_else(|| it.next()) {
                Some(v) => Ok(v),
                None => usage(format!("{name} needs a value")),
            }
        };
        match name.as_str() {
            "--help" => help = true,
            "--json" => json = true,
            "--dry-run" => cfg.dry_run = true,
            "--argv0-match" => {
                let v = value()?;
                cfg.argv0_match = procreap::Argv0Match::parse(&v).ok_or_else(|| {
                    Usage(format!(
                        "--argv0-match is never, version-like or always, not {v:?}"
                    ))
                })?;
            }
            "--all-users" => cfg.all_users = true,
            "--kill-tree" => cfg.kill_tree = true,
            "--no-default-ide-markers" => no_default_ide = true,
            "--no-default-protected-pid-files" => no_default_pid_files = true,
            "--agent-name" => names.push(value()?),
            "--min-age" => cfg.min_age = parse_secs(&name, &value()?)?,
            "--grace" => cfg.grace = parse_secs(&name, &value()?)?,
            "--workspace-marker" => cfg.workspace_marker = value()?,
            "--workspace-root" => {
                let v = value()?;
                if v.is_empty() {
                    return usage("--workspace-root needs a directory");
                }
                cfg.workspace_root = Some(absolute(&v));
            }
            "--ide-marker" => ide_markers.push(value()?),
            "--protected-pid-file" => {
                let v = value()?;
                if v.is_empty() {
                    return usage("--protected-pid-file needs a file name");
                }
                pid_files.push(PathBuf::from(v));
            }
            "--protected-pid" => cfg.protected_pids.push(parse_pid(&name, &value()?)?),
            "--tmux-socket" => cfg.tmux_sockets.push(value()?),
            "--state-dir" => {
                let v = value()?;
                if v.is_empty() {
                    return usage("--state-dir needs a directory");
                }
                cfg.state_dir = Some(absolute(&v));
            }
            "--subprocess-timeout" => cfg.subprocess_timeout = parse_secs(&name, &value()?)?,
            "--lock-timeout" => cfg.lock_timeout = parse_secs(&name, &value()?)?,
            "--backend" => {
                cfg.backend = match value()?.as_str() {
                    "auto" => Backend::Auto,
                    "proc" => Backend::Proc,
                    "ps" => Backend::Ps,
                    v => return usage(format!("--backend is auto, proc or ps, not {v:?}")),
                }
            }
            "--kind" => {
                let v = value()?;
                match Kind::parse(&v) {
                    Some(k) => kind = Some(k),
                    None => return usage(format!("--kind is orphans or zombies, not {v:?}")),
                }
            }
            "--deadline" => deadline = Some(parse_secs(&name, &value()?)?),
            _ => unreachable!("every listed flag is handled"),
        }
        if !matches!(name.as_str(), "--help" | "--json") {
            given.push(name);
        }
    }

    if !names.is_empty() {
        cfg.agent_names = names;
    }
    if no_default_ide {
        cfg.ide_markers.clear();
    }
    cfg.ide_markers.extend(ide_markers);
    if no_default_pid_files {
        cfg.protected_pid_files.clear();
    }
    cfg.protected_pid_files.extend(pid_files);

    let mut positional = positional.into_iter();
    let cmd = match positional.next().as_deref() {
        _ if help => Cmd::Help,
        None => return usage("no command given (scan, explain, cleanup, reap-now or demo)"),
        Some("scan") => Cmd::Scan,
        Some("explain") => Cmd::Explain,
        Some("cleanup") => Cmd::Cleanup,
        Some("reap-now") => Cmd::ReapNow,
        Some("demo") => Cmd::Demo,
        Some("help") => Cmd::Help,
        Some("version") => Cmd::Version,
        Some(other) => {
            return usage(format!(
                "unknown command {other:?} (scan, explain, cleanup, reap-now or demo)"
            ))
        }
    };
    if cmd == Cmd::Help {
        return Ok(Opts {
            cmd,
            cfg,
            json,
            kind: Kind::Orphans,
            deadline: Duration::ZERO,
            pids: Vec::new(),
        });
    }

    let mut pids: Vec<(i32, Option<u64>)> = Vec::new();
    for p in positional {
        if cmd != Cmd::ReapNow {
            return usage(format!("unexpected argument {p:?}"));
        }
        let (pid, start) = match p.split_once(':') {
            Some((pid, start)) => match start.parse::<u64>() {
                Ok(s) => (pid, Some(s)),
                Err(_) => return usage(format!("{p:?}: the start time after ':' is not a number")),
            },
            None => (p.as_str(), None),
        };
        let pid = parse_pid("reap-now", pid)?;
        if !pids.contains(&(pid, start)) {
            pids.push((pid, start));
        }
    }
    if cmd == Cmd::ReapNow && pids.is_empty() {
        return usage("reap-now needs at least one PID");
    }
    if kind.is_some() && cmd != Cmd::Cleanup {
        return usage("--kind applies to cleanup only");
    }
    if deadline.is_some() && cmd != Cmd::ReapNow {
        return usage("--deadline applies to reap-now only");
    }
    if cmd == Cmd::Demo {
        if let Some(f) = given.iter().find(|f| f.as_str() != "--backend") {
            return usage(format!(
                "demo uses its own private configuration; {f} does not apply (only --backend)"
            ));
        }
        if json {
            return usage("demo has no --json output");
        }
    }
    if let Err(e) = cfg.validate() {
        return match e {
            Error::InvalidArgument(m) => usage(m),
            other => usage(other.to_string()),
        };
    }
    Ok(Opts {
        cmd,
        cfg,
        json,
        kind: kind.unwrap_or(Kind::Orphans),
        deadline: deadline.unwrap_or(Duration::from_secs(10)),
        pids,
    })
}

// ---------------------------------------------------------------- formatting

/// Control characters in process names and argv could drive the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn fmt_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The leading columns every table shares.
fn process_cells(p: &ProcessInfo) -> Vec<String> {
    let unknown = p.state == '?';
    vec![
        p.id.pid.to_string(),
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

/// An aligned table; the last column is not padded.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
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
                l.push_str(c);
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

fn process_table(ps: &[ProcessInfo]) -> String {
    let rows: Vec<Vec<String>> = ps
        .iter()
        .map(|p| {
            let mut r = process_cells(p);
            r.push(
                p.workspace_root
                    .as_ref()
                    .map_or("-".into(), |w| clean(&w.display().to_string())),
            );
            r
        })
        .collect();
    table(&["PID", "AGE", "TTY", "STATE", "NAME", "WORKSPACE"], &rows)
}

fn verdict_table(vs: &[Verdict]) -> String {
    let rows: Vec<Vec<String>> = vs
        .iter()
        .map(|v| {
            let mut r = process_cells(&v.process);
            r.push(v.verdict.to_string());
            r.push(clean(&v.reason));
            r
        })
        .collect();
    table(
        &["PID", "AGE", "TTY", "STATE", "NAME", "VERDICT", "REASON"],
        &rows,
    )
}

fn action_reason(a: &Action, dry_run: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    // The library's reason already says what was sent.
    if let (Some(s), true) = (a.signal, dry_run) {
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

fn action_table(acts: &[Action], dry_run: bool) -> String {
    let rows: Vec<Vec<String>> = acts
        .iter()
        .map(|a| {
            let mut r = process_cells(&a.process);
            r.push(a.action.to_string());
            r.push(action_reason(a, dry_run));
            r
        })
        .collect();
    table(
        &["PID", "AGE", "TTY", "STATE", "NAME", "ACTION", "REASON"],
        &rows,
    )
}

fn process_json(p: &ProcessInfo) -> Value {
    json!({
        "pid": p.id.pid,
        "start_time": p.id.start_time,
        "ppid": p.ppid,
        "name": p.name,
        "age_secs": p.age.as_millis() as f64 / 1000.0,
        "tty": p.tty,
        "state": p.state.to_string(),
        "workspace_root": p.workspace_root.as_ref().map(|w| w.display().to_string()),
        "cmdline": p.cmdline,
    })
}

fn verdict_json(v: &Verdict) -> Value {
    let mut o = process_json(&v.process);
    o["verdict"] = json!(v.verdict.as_str());
    o["reason"] = json!(v.reason);
    o
}

fn action_json(a: &Action) -> Value {
    json!({
        "process": process_json(&a.process),
        "action": a.action.as_str(),
        "signal": a.signal.map(|s| s.name()),
        "reason": a.reason,
        "error": a.error,
    })
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

// ---------------------------------------------------------------- commands

struct ScanResult {
    orphans: Vec<ProcessInfo>,
    zombies: Result<Vec<ProcessInfo>, Error>,
}

/// Both scans over one snapshot.
fn scan(cfg: &Config) -> Result<ScanResult, String> {
    let s = Scan::new(cfg).map_err(|e| e.to_string())?;
    let orphans = s.candidates(Kind::Orphans).map_err(|e| e.to_string())?;
    Ok(ScanResult {
        orphans,
        zombies: s.candidates(Kind::Zombies),
    })
}

fn scan_text(r: &ScanResult) -> String {
    let mut out = String::new();
    if r.orphans.is_empty() {
        out.push_str("orphans: none\n");
    } else {
        let _ = writeln!(out, "orphans: {}", r.orphans.len());
        out.push_str(&process_table(&r.orphans));
    }
    match &r.zombies {
        Ok(z) if z.is_empty() => out.push_str("zombies: none\n"),
        Ok(z) => {
            let _ = writeln!(out, "zombies: {}", z.len());
            out.push_str(&process_table(z));
        }
        Err(e @ Error::TmuxUnavailable(_)) => {
            let _ = writeln!(out, "zombies: not scanned ({e}); informational only");
        }
        Err(e) => {
            let _ = writeln!(out, "zombies: scan failed: {e}");
        }
    }
    out
}

fn cmd_scan(o: &Opts) -> Result<i32, String> {
    let r = scan(&o.cfg)?;
    let text = if o.json {
        let (zombies, err) = match &r.zombies {
            Ok(z) => (json!(z.iter().map(process_json).collect::<Vec<_>>()), None),
            Err(e) => (Value::Null, Some(e.to_string())),
        };
        pretty(&json!({
            "orphans": r.orphans.iter().map(process_json).collect::<Vec<_>>(),
            "zombies": zombies,
            "zombies_error": err,
        }))
    } else {
        scan_text(&r)
    };
    let code = emit(&text);
    match &r.zombies {
        // "No tmux" only means there is nothing a zombie scan could see by.
        Ok(_) | Err(Error::TmuxUnavailable(_)) => Ok(code),
        Err(e) => {
            eprintln!("procreap: zombie scan: {e}");
            Ok(EXIT_PARTIAL)
        }
    }
}

fn cmd_explain(o: &Opts) -> Result<i32, String> {
    let vs = procreap::explain(&o.cfg).map_err(|e| e.to_string())?;
    let text = if o.json {
        pretty(&json!(vs.iter().map(verdict_json).collect::<Vec<_>>()))
    } else if vs.is_empty() {
        format!(
            "no agent process (names: {})\n",
            clean(&o.cfg.agent_names.join(", "))
        )
    } else {
        verdict_table(&vs)
    };
    Ok(emit(&text))
}

/// Prints a report (table or JSON) and picks the exit status.
fn emit_report(o: &Opts, title: &str, extra: Value, report: &Report, failed: bool) -> i32 {
    let err = report.error.as_ref().map(|e| e.to_string());
    let text = if o.json {
        let mut v = json!({
            "dry_run": o.cfg.dry_run,
            "actions": report.actions.iter().map(action_json).collect::<Vec<_>>(),
            "error": err,
        });
        if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
            m.extend(x);
        }
        pretty(&v)
    } else if report.actions.is_empty() {
        format!("{title}: nothing to do\n")
    } else {
        format!(
            "{title}: {} action(s)\n{}",
            report.actions.len(),
            action_table(&report.actions, o.cfg.dry_run)
        )
    };
    let code = emit(&text);
    if let Some(e) = err {
        eprintln!("procreap: {e}");
        return EXIT_PARTIAL;
    }
    if failed {
        return EXIT_PARTIAL;
    }
    code
}

fn cmd_cleanup(o: &Opts) -> Result<i32, String> {
    let report = procreap::cleanup_step(&o.cfg, o.kind).map_err(|e| e.to_string())?;
    let dry = if o.cfg.dry_run { " (dry run)" } else { "" };
    let title = format!("cleanup {}{dry}", o.kind.as_str());
    Ok(emit_report(
        o,
        &title,
        json!({ "kind": o.kind.as_str() }),
        &report,
        false,
    ))
}

fn placeholder(pid: i32) -> ProcessInfo {
    ProcessInfo {
        id: Identity { pid, start_time: 0 },
        ppid: 0,
        name: String::new(),
        age: Duration::ZERO,
        tty: None,
        state: '?',
        workspace_root: None,
        cmdline: String::new(),
        uid: None,
        rss_bytes: 0,
    }
}

fn cmd_reap_now(o: &Opts) -> Result<i32, String> {
    // Resolve bare pids to the identity holding them now. A pid that is not
    // an agent process is reported and never reaches the signalling code.
    let verdicts = procreap::explain(&o.cfg).map_err(|e| e.to_string())?;
    let mut ids: Vec<Identity> = Vec::new();
    let mut unresolved: Vec<Action> = Vec::new();
    for &(pid, start) in &o.pids {
        let id = match start {
            Some(start_time) => Some(Identity { pid, start_time }),
            None => verdicts
                .iter()
                .find(|v| v.process.id.pid == pid)
                .map(|v| v.process.id),
        };
        match id {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => unresolved.push(Action {
                process: placeholder(pid),
                action: ActionKind::Skipped,
                signal: None,
                reason: format!(
                    "pid {pid} is not an agent process (names: {}) or is gone: not signalled",
                    o.cfg.agent_names.join(", ")
                ),
                error: None,
                delivery: procreap::Delivery::None,
                dry_run: o.cfg.dry_run,
            }),
        }
    }
    let mut report = if ids.is_empty() {
        Report::default()
    } else {
        procreap::reap_now(&o.cfg, &ids, o.deadline).map_err(|e| e.to_string())?
    };
    let any_skipped = !unresolved.is_empty();
    unresolved.append(&mut report.actions);
    report.actions = unresolved;
    // Every requested process must have ended up dead: exited, or already
    // defunct (its parent must reap it); in a dry run, verified.
    let done = |a: &Action| {
        matches!(a.process.state, 'Z' | 'X' | 'x')
            || a.action
                == if o.cfg.dry_run {
                    ActionKind::Sigterm
                } else {
                    ActionKind::Exited
                }
    };
    let incomplete = any_skipped
        || ids.iter().any(|id| {
            report
                .actions
                .iter()
                .rev()
                .find(|a| a.process.id == *id)
                .is_none_or(|a| !done(a))
        });
    let dry = if o.cfg.dry_run { " (dry run)" } else { "" };
    let title = format!("reap-now{dry}, deadline {:.1}s", o.deadline.as_secs_f64());
    let code = emit_report(
        o,
        &title,
        json!({ "deadline_secs": o.deadline.as_secs_f64() }),
        &report,
        incomplete,
    );
    if incomplete && report.error.is_none() {
        eprintln!("procreap: not every requested process was reaped (see the actions)");
    }
    Ok(code)
}

// ---------------------------------------------------------------- demo

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C, SIGTERM and SIGHUP stop the demo through its normal teardown.
fn catch_interrupts() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { sigaction(s, &act) };
    }
}

/// Sleeps, waking early (with an error) when the demo is interrupted.
fn pause(d: Duration) -> Result<(), String> {
    let end = Instant::now() + d;
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err("interrupted; the demo agent was stopped and its files removed".into());
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Prints and flushes at once (the demo is watched live).
fn say(s: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", s.as_ref());
    let _ = out.flush();
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn random_hex(n: usize) -> String {
    // RandomState is seeded from the OS for every process.
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let s = format!("{:016x}", h.finish());
    s[..n].to_string()
}

/// How the demo agent was started.
enum Launch {
    /// Our own child: we may kill it (it cannot be recycled before we reap
    /// it) and we must reap it.
    Child(Child),
    /// Started through a short-lived `sh`, so that it is not a descendant of
    /// this process (when the demo runs inside tmux, our own descendants are
    /// rightly protected). Pinned with a pidfd on Linux; elsewhere it exits by
    /// itself after `AGENT_LIFETIME`.
    Detached { pin: Option<Pin> },
}

/// A pidfd on the detached agent (Linux), so teardown cannot hit a recycled pid.
struct Pin(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
fn pin(pid: i32, name: &str) -> Option<Pin> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags, returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this fd.
    let pin = Pin(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
    // The pid is pinned now; make sure it is our agent (it may still be the
    // `sh` that forked it, just before its exec).
    exec_done(pid, name, Duration::from_secs(2)).then_some(pin)
}

/// Waits until `pid` runs as `name` with its argv in place: right after a
/// fork it still has its parent's name, and the kernel sets the new name
/// before it fills in argv (procreap rightly judges a process without argv
/// as unknown). Elsewhere than Linux there is nothing to wait for.
fn exec_done(pid: i32, name: &str, timeout: Duration) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if comm.trim_end() == name && !argv.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(not(target_os = "linux"))]
fn pin(_pid: i32, _name: &str) -> Option<Pin> {
    None
}

impl Pin {
    fn kill(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a pidfd we own, SIGKILL, no siginfo, no flags.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    self.0.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
    }
}

/// How long the demo agent lives at most on its own (bounds any leak if the
/// demo itself is SIGKILLed).
const AGENT_LIFETIME: &str = "60";

/// The demo's private world. Dropping it stops the agent (if still running)
/// and removes every file, also on error or interrupt.
struct DemoWorld {
    dir: PathBuf,
    town: PathBuf,
    rig: PathBuf,
    name: String,
    exe: PathBuf,
    /// argv[0] override for a busybox `sleep`, which dispatches on argv[0].
    argv0: Option<&'static str>,
    agent: Option<Launch>,
}

impl DemoWorld {
    fn create() -> Result<DemoWorld, String> {
        let suffix = random_hex(6);
        let name = format!("prt-demo-{suffix}"); // 15 chars: all of it fits in comm
        let base = std::env::temp_dir();
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        let dir = base.join(format!("procreap-demo-{suffix}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut world = DemoWorld {
            town: dir.join("town"),
            rig: dir.join("town").join("rig"),
            exe: dir.join("bin").join(&name),
            dir,
            name,
            argv0: None,
            agent: None,
        };
        world.populate()?;
        Ok(world)
    }

    fn populate(&mut self) -> Result<(), String> {
        let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
        let mayor = self.town.join("mayor");
        std::fs::create_dir_all(&mayor).map_err(|e| io(&mayor, e))?;
        std::fs::create_dir_all(&self.rig).map_err(|e| io(&self.rig, e))?;
        let marker = mayor.join("town.json");
        std::fs::write(&marker, "{\"demo\": true}\n").map_err(|e| io(&marker, e))?;
        let bin = self.dir.join("bin");
        std::fs::create_dir_all(&bin).map_err(|e| io(&bin, e))?;
        let sleep = ["/bin/sleep", "/usr/bin/sleep"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("no sleep binary in /bin or /usr/bin")?;
        let real = std::fs::canonicalize(&sleep).unwrap_or(sleep.clone());
        if real.file_name().is_some_and(|n| n == "busybox") {
            self.argv0 = Some("sleep");
        }
        // The kernel names a process after the file it executes: the symlink.
        symlink(&sleep, &self.exe).map_err(|e| io(&self.exe, e))?;
        Ok(())
    }

    /// Starts the agent as our child: own session (no controlling terminal),
    /// cwd in the workspace, stdio on /dev/null, SIGTERM ignored.
    fn launch_child(&mut self) -> Result<i32, String> {
        let mut c = Command::new(&self.exe);
        c.arg(AGENT_LIFETIME)
            .current_dir(&self.rig)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(a) = self.argv0 {
            c.arg0(a);
        }
        // SAFETY: setsid and signal are async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Ignored signals stay ignored across exec: the agent shrugs
                // off SIGTERM, so the demo shows the escalation to SIGKILL.
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                Ok(())
            });
        }
        let child = c
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.exe.display()))?;
        let pid = child.id() as i32;
        self.agent = Some(Launch::Child(child));
        if !exec_done(pid, &self.name, Duration::from_secs(5)) {
            return Err(format!("the demo agent (pid {pid}) did not start"));
        }
        Ok(pid)
    }

    /// Starts the agent through a short-lived `sh` (see [`Launch::Detached`]).
    fn launch_detached(&mut self) -> Result<i32, String> {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg("trap '' TERM; \"$0\" \"$1\" </dev/null >/dev/null 2>&1 & echo $!")
            .arg(&self.exe)
            .arg(AGENT_LIFETIME)
            .current_dir(&self.rig)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = c
            .output()
            .map_err(|e| format!("starting /bin/sh for the detached agent: {e}"))?;
        let pid: i32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| "the detached agent's pid was not reported".to_string())?;
        let pin = pin(pid, &self.name);
        if cfg!(target_os = "linux") && pin.is_none() {
            return Err(format!("the detached agent (pid {pid}) did not start"));
        }
        self.agent = Some(Launch::Detached { pin });
        Ok(pid)
    }

    /// Stops the agent we started (our unreaped child, or the pinned detached
    /// one) and reaps it when it is our child.
    fn stop(&mut self) {
        match self.agent.take() {
            Some(Launch::Child(mut c)) => {
                if let Ok(None) = c.try_wait() {
                    let _ = c.kill();
                }
                let _ = c.wait();
            }
            Some(Launch::Detached { pin: Some(p) }) => p.kill(),
            _ => {}
        }
    }

    /// Reaps our defunct child; returns how it ended.
    fn reap(&mut self) -> Option<String> {
        let Some(Launch::Child(mut c)) = self.agent.take() else {
            return None;
        };
        Some(match c.wait() {
            Ok(st) => match st.signal() {
                Some(9) => "killed by SIGKILL".into(),
                Some(s) => format!("killed by signal {s}"),
                None => format!("exited with status {}", st.code().unwrap_or(-1)),
            },
            Err(e) => format!("waitpid failed: {e}"),
        })
    }
}

impl Drop for DemoWorld {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The detached agent's parent is init (or a subreaper), which must reap
/// it; waits a little for that and says what happened.
fn wait_reaped_elsewhere(cfg: &Config, pid: i32) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let vs = procreap::explain(cfg).map_err(|e| e.to_string())?;
        match ours(&vs, pid) {
            None => {
                say("                       its parent reaped it; it is gone");
                return Ok("reaped by its parent".into());
            }
            Some(v) if Instant::now() >= deadline => {
                say(format!(
                    "                       dead, but not yet reaped by its parent: {}",
                    v.reason
                ));
                return Ok("dead (its parent has yet to reap it)".into());
            }
            Some(_) => pause(Duration::from_millis(100))?,
        }
    }
}

fn header(s: &str) {
    say(format!("\n== {s}"));
}

fn ours(vs: &[Verdict], pid: i32) -> Option<&Verdict> {
    vs.iter().find(|v| v.process.id.pid == pid)
}

fn demo(backend: Backend) -> Result<i32, String> {
    catch_interrupts();
    let t0 = Instant::now();
    let mut w = DemoWorld::create()?;
    let cfg = Config {
        agent_names: vec![w.name.clone()],
        min_age: Duration::from_secs(1),
        grace: Duration::from_secs(2),
        workspace_root: Some(w.town.clone()),
        state_dir: Some(w.dir.join("state")),
        backend,
        ..Config::default()
    };
    let me = std::process::id();

    say("procreap demo: a throw-away agent of our own is found, signalled and reaped.");
    say("Only a process this demo starts can match; nothing else is touched.");
    header("setup");
    say(format!(
        "  workspace   {}  (marker {})",
        w.town.display(),
        cfg.workspace_marker
    ));
    say(format!(
        "  agent       {}  -> {}  (ignores SIGTERM, no terminal, cwd {})",
        w.name,
        std::fs::read_link(&w.exe).unwrap_or_default().display(),
        w.rig.display()
    ));
    say(format!(
        "  config      agent_names=[{}] min_age=1s grace=2s workspace_root={} state_dir={}",
        w.name,
        w.town.display(),
        w.dir.join("state").display()
    ));
    say(format!("  this demo   pid {me}"));

    let mut pid = w.launch_child()?;
    let mut launched = Instant::now();
    header(&format!(
        "explain, right after starting the agent (pid {pid})"
    ));
    let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
    let v = ours(&vs, pid).ok_or("the demo agent is not visible to procreap")?;
    say(indent(&verdict_table(std::slice::from_ref(v))).trim_end());
    if v.verdict == VerdictKind::Protected {
        say("  -> protected, because this demo runs inside a tmux pane and everything below a");
        say("     pane is someone's live session. Restarting the agent outside our process tree.");
        w.stop();
        pid = w.launch_detached()?;
        launched = Instant::now();
        let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
        let v = ours(&vs, pid).ok_or("the detached demo agent is not visible to procreap")?;
        say(indent(&verdict_table(std::slice::from_ref(v))).trim_end());
        if v.verdict == VerdictKind::Protected {
            return Err(format!(
                "the demo agent is protected even when detached ({}); nothing to demonstrate here",
                v.reason
            ));
        }
    }
    say("  -> too young to touch. Waiting until it is older than min_age (1s) ...");
    pause(Duration::from_millis(1200).saturating_sub(launched.elapsed()))?;

    header("scan: orphans and zombies");
    let r = scan(&cfg)?;
    say(indent(&scan_text(&r)).trim_end());
    if !r.orphans.iter().any(|p| p.id.pid == pid) {
        let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
        let why = ours(&vs, pid).map_or("it is gone".into(), |v| {
            format!("{}: {}", v.verdict, v.reason)
        });
        return Err(format!("the demo agent is not an orphan ({why})"));
    }

    header("explain: why it is an orphan");
    let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
    say(indent(&verdict_table(&vs)).trim_end());

    header("cleanup: one step per second (SIGTERM -> 2s grace -> SIGKILL)");
    let started = Instant::now();
    let mut steps = 0;
    let mut others = 0;
    let mut gone = false;
    let mut how = String::new();
    while !gone {
        if steps == 12 {
            return Err(format!(
                "the demo agent (pid {pid}) is still there after {steps} steps"
            ));
        }
        if steps > 0 {
            pause(Duration::from_secs(1))?;
        }
        steps += 1;
        let report = procreap::cleanup_step(&cfg, Kind::Orphans).map_err(|e| e.to_string())?;
        let at = format!("+{:.1}s", started.elapsed().as_secs_f64());
        if report.actions.is_empty() {
            say(format!("  step {steps}  {at:>5}  (nothing to do)"));
        }
        for a in &report.actions {
            if a.process.id.pid != pid {
                others += 1;
            }
            say(format!(
                "  step {steps}  {at:>5}  {:<8} pid {}  {}",
                a.action.as_str(),
                a.process.id.pid,
                action_reason(a, false)
            ));
            if a.process.id.pid != pid {
                continue;
            }
            match a.action {
                ActionKind::Sigterm if a.signal.is_some() => {
                    say("                       the agent ignores SIGTERM and keeps running")
                }
                ActionKind::Sigterm | ActionKind::Waiting | ActionKind::Sigkill => {}
                ActionKind::Exited => {
                    gone = true;
                    if let Some(status) = w.reap() {
                        say(format!(
                            "                       parent pid {me} is this demo: reaped it with waitpid ({status})"
                        ));
                        how = "reaped by this demo (its parent)".into();
                    } else {
                        // Detached: its parent (init or a subreaper) reaps it.
                        how = wait_reaped_elsewhere(&cfg, pid)?;
                    }
                }
                other => {
                    return Err(format!(
                        "unexpected {other} for the demo agent: {}",
                        action_reason(a, false)
                    ))
                }
            }
        }
        if let Some(e) = &report.error {
            return Err(format!("cleanup step {steps}: {e}"));
        }
    }

    header("final scan");
    let r = scan(&cfg)?;
    say(indent(&scan_text(&r)).trim_end());
    let left = procreap::explain(&cfg).map_err(|e| e.to_string())?;
    match ours(&left, pid) {
        None => say(format!("  no process named {} remains", w.name)),
        // Dead, and not ours to reap (see wait_reaped_elsewhere).
        Some(v) if v.verdict == VerdictKind::Defunct => say(format!(
            "  {} is dead; only its defunct entry remains ({})",
            w.name, v.reason
        )),
        Some(v) => {
            return Err(format!(
                "the demo agent is still listed: {} ({})",
                v.verdict, v.reason
            ))
        }
    }
    drop(w);

    say(format!(
        "\nsummary: {} (pid {pid}) found as an orphan, ignored SIGTERM, got SIGKILL after the 2s grace, {how}; \
         {steps} cleanup steps, {:.1}s in all; {} other process(es) acted on; temp files removed.",
        cfg.agent_names[0],
        t0.elapsed().as_secs_f64(),
        others,
    ));
    Ok(if others == 0 { EXIT_OK } else { EXIT_PARTIAL })
}
