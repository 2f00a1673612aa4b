//! The command line: clap definitions, value parsers (durations with
//! suffixes, sizes, users, process ids) and the [`Config`] they build.
//! Names of kinds, backends and argv[0] modes come from the library.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use procreap::{Argv0Match, Backend, Config, Error, Kind};

/// Exit statuses (documented in `--help`, the man page and README).
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_PARTIAL: i32 = 3;

/// The exit statuses, as one literal (for `concat!`).
macro_rules! exit_status {
    () => {
        "Exit status:
  0  success (also `scan` when only its zombie section could not run for
     want of tmux: the section says why)
  1  error: the command could not run; `procreap: MESSAGE` on stderr (and,
     with --json, a document whose \"error\" says the status and message)
  2  usage error: unknown command or flag, missing or bad value
  3  partial: the results are printed, but something failed: a signal, a
     corrupt ledger (moved aside), a scan section, or a reap-now PID that
     was skipped or survived"
    };
}

pub const EXIT_STATUS: &str = exit_status!();

macro_rules! json_help {
    () => {
        "--json: one compact JSON object per command on stdout (watch and
history: NDJSON, one per event), always with \"schema\": 1 and \"command\"; \"error\" is null or {\"status\": the C status
name (\"lock timeout\", …), \"message\": …}, and the document is printed on
errors too. Processes carry pid, start_time, ppid, name, user, uid,
rss_bytes, age_secs, tty, state, workspace_root, cmdline; actions carry
process, action, signal, reason, error, delivery, dry_run."
    };
}

pub const JSON_HELP: &str = json_help!();

/// `--help` of the top command: exit statuses and the JSON contract.
const TOP_AFTER_HELP: &str = concat!(exit_status!(), "\n\n", json_help!());

/// What a DURATION may be, as one literal (for `concat!`).
macro_rules! durations {
    () => {
        "DURATION: 90s, 5m, 1h, 1h30m, 500ms, 2d; a bare number is seconds (0.5 too)."
    };
}

/// After the flags of `watch`: its output and exit status.
const WATCH_AFTER_HELP: &str = concat!(
    durations!(),
    "

Output: a line per action and, on stop, a summary; errors on stderr. With
--json, NDJSON: one object per event, each with \"schema\": 1, \"command\":
\"watch\", \"event\" (start, action, wake, metrics, summary) and \"time\".
A zombie step with no tmux to see by is reported, not counted as an error.

Exit status: 0 when stopped by SIGINT, SIGTERM or SIGHUP (after the current
step), 1 when it cannot start, 2 for a usage error. A failing step never ends
it: the next try comes after 1s, 2s, 4s, … up to --interval."
);

/// After the flags of `history`: its JSON form.
const HISTORY_AFTER_HELP: &str = concat!(
    durations!(),
    "

--json: NDJSON, oldest first: one object per event, {\"schema\": 1,
\"command\": \"history\", \"record\": the audit line as written, \"user\",
\"story\": the line the text form prints}, then one {\"summary\": {events,
processes, skipped_lines, files}, \"error\": null}.

",
    exit_status!()
);

/// After the flags of the commands that take durations.
const SUB_AFTER_HELP: &str = concat!(durations!(), "\n\n", exit_status!());

const ABOUT: &str = "Find AI-agent processes that outlived their sessions and reap them safely";

const LONG_ABOUT: &str = "\
Find AI-agent processes that outlived their sessions (orphans, zombies, and
the processes a dead agent left behind) and reap them safely: SIGTERM, a
grace period, SIGKILL, one step per `cleanup`, every signal tied to a
process identity (pid + start time) and re-verified just before it is sent.
Processes in tmux panes, with a terminal, launched by an IDE, or younger
than --min-age are never touched. Try `procreap cleanup --dry-run` first.";

#[derive(Parser, Debug)]
#[command(
    name = "procreap",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_STATUS,
    after_long_help = TOP_AFTER_HELP,
    propagate_version = true,
    args_override_self = true,
    subcommand_required = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Orphans, zombies and leaked descendants, with their memory; no signals
    ///
    /// All three from one snapshot, with the memory each section holds, and a
    /// count of every agent process by verdict.
    #[command(after_help = SUB_AFTER_HELP, args_override_self = true)]
    Scan(ScanArgs),
    /// Every agent process with its verdict and the reason; no signals
    #[command(after_help = SUB_AFTER_HELP, args_override_self = true)]
    Explain(ScanArgs),
    /// One cleanup step: SIGTERM, then SIGKILL after the grace; repeat it
    ///
    /// New candidates get SIGTERM, those whose grace ran out SIGKILL, the rest
    /// is reported. The ledger in --state-dir remembers what was sent when.
    #[command(after_help = SUB_AFTER_HELP, args_override_self = true)]
    Cleanup(CleanupArgs),
    /// SIGTERM these processes, wait up to --deadline, then SIGKILL
    ///
    /// A PID that is not an orphan agent is skipped, never signalled.
    #[command(after_help = SUB_AFTER_HELP, args_override_self = true)]
    ReapNow(ReapNowArgs),
    /// Run cleanup steps until stopped, each as soon as it is due
    ///
    /// A step of each --kind every --interval, and sooner when a step says
    /// something falls due (a grace ending, a candidate coming of age), so a
    /// SIGKILL lands when its grace ends. One line per action (NDJSON with
    /// --json); a failed step (a held lock, …) is logged and retried, backing
    /// off while it keeps failing. SIGINT or SIGTERM stop it after the
    /// current step, with a summary (exit 0). --metrics keeps a Prometheus
    /// textfile-collector file up to date.
    #[command(after_help = WATCH_AFTER_HELP, args_override_self = true)]
    Watch(WatchArgs),
    /// What procreap signalled, when and why: the audit trail, one line per event
    ///
    /// Reads <state-dir>/audit.jsonl (and its rotated audit.jsonl.1), oldest
    /// first: every signal sent, and every signal skipped at the last check,
    /// with the process, the call that sent it and the reason at that moment.
    /// A corrupt or partial line is skipped and counted; a trail that is a
    /// symlink or not yours is refused.
    #[command(after_help = HISTORY_AFTER_HELP, args_override_self = true)]
    History(HistoryArgs),
    /// Show procreap reaping a throw-away agent of its own
    ///
    /// Starts an agent of its own (private name, temp workspace and state
    /// dir), finds it, reaps it. Touches nothing else.
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `procreap man | man -l -`
    Man,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    pub select: Select,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// Which candidates this step is for
    #[arg(long, value_name = "KIND", default_value = "orphans", value_parser = kind_parser(), help_heading = "Acting")]
    pub kind: Kind,
    #[command(flatten)]
    pub grace: GraceArg,
    #[command(flatten)]
    pub common: ActArgs,
}

/// `--grace`, for the commands that run steps.
#[derive(Args, Debug)]
pub struct GraceArg {
    /// SIGTERM -> SIGKILL delay between steps [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Acting")]
    pub grace: Option<Duration>,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Which candidates to step for: a kind, both (orphans and zombies) or all
    #[arg(long, value_name = "KIND", default_value = "orphans", value_parser = kind_set_parser(), help_heading = "Acting")]
    pub kind: KindSet,
    /// The longest sleep between steps (steps come sooner when one is due)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_interval, help_heading = "Acting")]
    pub interval: Duration,
    #[command(flatten)]
    pub grace: GraceArg,
    /// After each step, atomically rewrite this Prometheus textfile-collector
    /// file (e.g. /var/lib/node_exporter/textfile/procreap.prom)
    #[arg(long, value_name = "FILE", value_parser = parse_file, help_heading = "Output")]
    pub metrics: Option<PathBuf>,
    #[command(flatten)]
    pub common: ActArgs,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Only the events of this process id
    #[arg(long, value_name = "PID", value_parser = parse_pid)]
    pub pid: Option<i32>,
    /// Only events this recent (a DURATION: 1h, 2d) or since an RFC 3339
    /// time (2026-12-01T10:00:00Z)
    #[arg(long, value_name = "DURATION|TIME", value_parser = parse_since)]
    pub since: Option<SystemTime>,
    /// The state dir whose trail to read [default: $XDG_RUNTIME_DIR/procreap,
    /// else /run/user/UID/procreap, else ~/.local/state/procreap]
    #[arg(long, value_name = "DIR", value_parser = parse_dir)]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ReapNowArgs {
    /// Processes to reap; PID:START pins the start time (from --json)
    #[arg(value_name = "PID[:START]", required = true, value_parser = parse_target)]
    pub targets: Vec<Target>,
    /// How long to wait for exit after SIGTERM before SIGKILL
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Acting")]
    pub deadline: Duration,
    #[command(flatten)]
    pub common: ActArgs,
}

/// The flags of a command that signals.
#[derive(Args, Debug)]
pub struct ActArgs {
    #[command(flatten)]
    pub act: Act,
    #[command(flatten)]
    pub select: Select,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Process-table backend
    #[arg(long, value_name = "BACKEND", default_value = "auto", value_parser = backend_parser())]
    pub backend: Backend,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// JSON on stdout (schema 1) instead of text: one compact document;
    /// NDJSON for watch and history
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

/// Which processes are agents, and which of them are candidates.
#[derive(Args, Debug)]
#[command(next_help_heading = "Selection")]
pub struct Select {
    /// Agent process name (repeatable; replaces the defaults: claude,
    /// claude-code, codex, opencode, cursor-agent, agent, copilot)
    #[arg(long = "agent-name", value_name = "NAME")]
    pub agent_names: Vec<String>,
    /// When argv[0]'s basename may name an agent [default: version-like]
    #[arg(long, value_name = "MODE", value_parser = argv0_parser())]
    pub argv0_match: Option<Argv0Match>,
    /// Younger processes are never candidates [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true)]
    pub min_age: Option<Duration>,
    /// Marker file of a workspace root, relative ("" = no workspace test)
    /// [default: mayor/town.json]
    #[arg(long, value_name = "PATH")]
    pub workspace_marker: Option<String>,
    /// Only consider processes under this workspace root
    #[arg(long, value_name = "DIR", value_parser = parse_dir)]
    pub workspace_root: Option<PathBuf>,
    /// argv substring of IDE-launched agents (repeatable; added to the defaults)
    #[arg(long = "ide-marker", value_name = "TEXT")]
    pub ide_markers: Vec<String>,
    /// Drop the default IDE markers (vscode-server, vscode/extensions,
    /// .cursor-server, .cursor/extensions)
    #[arg(long)]
    pub no_default_ide_markers: bool,
    /// File holding the pid of a protected root (repeatable; added to
    /// ~/gt/mayor/mayor-acp.pid)
    #[arg(long = "protected-pid-file", value_name = "FILE", value_parser = parse_nonempty_path)]
    pub protected_pid_files: Vec<PathBuf>,
    /// Drop ~/gt/mayor/mayor-acp.pid
    #[arg(long)]
    pub no_default_protected_pid_files: bool,
    /// Protected root pid (repeatable)
    #[arg(long = "protected-pid", value_name = "PID", value_parser = parse_pid)]
    pub protected_pids: Vec<i32>,
    /// Extra tmux socket to ask for panes: a name (-L) or a path with '/' (-S)
    /// (repeatable)
    #[arg(long = "tmux-socket", value_name = "SOCKET")]
    pub tmux_sockets: Vec<String>,
    /// Consider exactly these users' processes (repeatable; your own only if listed)
    #[arg(short = 'u', long = "user", value_name = "NAME|UID", value_parser = parse_user, conflicts_with = "all_users")]
    pub users: Vec<u32>,
    /// Also consider every other user's processes
    #[arg(long)]
    pub all_users: bool,
    /// Environment entry that marks a process an agent started (repeatable;
    /// replaces the default CLAUDECODE=1)
    #[arg(long = "leak-marker", value_name = "NAME[=VALUE]")]
    pub leak_markers: Vec<String>,
    /// Limit for tmux/ps/lsof and for reading another process's memory
    /// [default: 2s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true)]
    pub subprocess_timeout: Option<Duration>,
    /// Process-table backend [default: auto]
    #[arg(long, value_name = "BACKEND", value_parser = backend_parser())]
    pub backend: Option<Backend>,
}

/// How a command that signals acts.
#[derive(Args, Debug)]
#[command(next_help_heading = "Acting")]
pub struct Act {
    /// Decide and report, send no signal, write no ledger
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Signal an agent's descendants together with it
    #[arg(long)]
    pub kill_tree: bool,
    /// Ledger directory [default: $XDG_RUNTIME_DIR/procreap, else /run/user/UID/procreap, else ~/.local/state/procreap]
    #[arg(long, value_name = "DIR", value_parser = parse_dir)]
    pub state_dir: Option<PathBuf>,
    /// Limit for taking the ledger lock [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true)]
    pub lock_timeout: Option<Duration>,
    /// Signal only through a pidfd; where pidfds are refused, skip instead of kill(2)
    #[arg(long)]
    pub require_pidfd: bool,
    /// Write no audit trail (<state-dir>/audit.jsonl)
    #[arg(long)]
    pub no_audit: bool,
    /// Size at which the audit trail is rotated (4096, 64K, 4M, 1G) [default: 4M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub audit_max_bytes: Option<u64>,
}

/// A reap-now target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub pid: i32,
    pub start_time: Option<u64>,
}

fn kind_parser() -> impl TypedValueParser<Value = Kind> {
    PossibleValuesParser::new(Kind::ALL.map(Kind::as_str)).map(|s| Kind::parse(&s).expect("listed"))
}

/// The kinds a watch steps for, in order.
#[derive(Debug, Clone)]
pub struct KindSet(pub Vec<Kind>);

/// A kind, `both` (orphans and zombies) or `all`, as the kinds to step for.
fn kind_set_parser() -> impl TypedValueParser<Value = KindSet> {
    let names: Vec<&'static str> = Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .chain(["both", "all"])
        .collect();
    PossibleValuesParser::new(names).map(|s| {
        KindSet(match s.as_str() {
            "both" => vec![Kind::Orphans, Kind::Zombies],
            "all" => Kind::ALL.to_vec(),
            one => vec![Kind::parse(one).expect("listed")],
        })
    })
}

fn backend_parser() -> impl TypedValueParser<Value = Backend> {
    PossibleValuesParser::new(Backend::ALL.map(Backend::as_str))
        .map(|s| Backend::parse(&s).expect("listed"))
}

fn argv0_parser() -> impl TypedValueParser<Value = Argv0Match> {
    PossibleValuesParser::new(Argv0Match::ALL.map(Argv0Match::as_str))
        .map(|s| Argv0Match::parse(&s).expect("listed"))
}

/// `90s`, `5m`, `1h30m`, `500ms`, `2d`; a bare number (fractions too) is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!("{s:?} is not a duration (e.g. 90s, 5m, 1h30m, 500ms; a bare number is seconds)")
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if t.starts_with('-') {
        return Err(format!("{s:?} is negative: a duration is 0 or more"));
    }
    if let Ok(secs) = t.parse::<f64>() {
        return secs_f64(secs).ok_or_else(bad);
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let unit_len = rest[num_len..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len() - num_len);
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        let scale = match &rest[num_len..num_len + unit_len] {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[num_len + unit_len..];
    }
    secs_f64(total).ok_or_else(bad)
}

/// A watch interval: a duration, not zero.
fn parse_interval(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("the interval must be longer than 0".into()),
        d => Ok(d),
    }
}

/// `--since`: a duration back from now, or an RFC 3339 time.
fn parse_since(s: &str) -> Result<SystemTime, String> {
    if let Some(t) = crate::clock::parse_rfc3339(s.trim()) {
        return Ok(t);
    }
    let d = parse_duration(s).map_err(|_| {
        format!("{s:?} is neither a duration (1h, 2d) nor an RFC 3339 time (2026-12-01T10:00:00Z)")
    })?;
    Ok(SystemTime::now()
        .checked_sub(d)
        .unwrap_or(std::time::UNIX_EPOCH))
}

fn secs_f64(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// Bytes: `4096`, `64K`, `4M`, `1G` (also `KiB`, `MiB`, `GiB`; powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit {
        "" | "B" => 0,
        "K" | "k" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => return Err(format!("{s:?} is not a size (e.g. 4096, 64K, 4M, 1G)")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 4096, 64K, 4M, 1G)"))
}

fn parse_pid(s: &str) -> Result<i32, String> {
    match s.trim().parse::<i32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{s:?} is not a process id (a positive integer)")),
    }
}

fn parse_target(s: &str) -> Result<Target, String> {
    let (pid, start_time) = match s.split_once(':') {
        Some((pid, start)) => match start.parse::<u64>() {
            Ok(st) => (pid, Some(st)),
            Err(_) => return Err(format!("{s:?}: the start time after ':' is not a number")),
        },
        None => (s, None),
    };
    Ok(Target {
        pid: parse_pid(pid)?,
        start_time,
    })
}

/// A user name or a numeric uid, like pgrep's `-u`.
fn parse_user(s: &str) -> Result<u32, String> {
    if let Ok(uid) = s.parse::<u32>() {
        return Ok(uid);
    }
    match nix::unistd::User::from_name(s) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(format!("no user named {s:?}")),
        Err(e) => Err(format!("looking up user {s:?}: {e}")),
    }
}

/// A non-empty directory, made absolute against the current directory.
fn parse_dir(s: &str) -> Result<PathBuf, String> {
    absolute(s, "a directory")
}

/// A non-empty file name, made absolute against the current directory.
fn parse_file(s: &str) -> Result<PathBuf, String> {
    absolute(s, "a file name")
}

fn absolute(s: &str, what: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err(format!("needs {what}"));
    }
    let p = PathBuf::from(s);
    if p.is_absolute() {
        return Ok(p);
    }
    std::env::current_dir()
        .map(|d| d.join(&p))
        .map_err(|e| format!("cannot make {s:?} absolute: {e}"))
}

fn parse_nonempty_path(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("needs a file name".into());
    }
    Ok(PathBuf::from(s))
}

impl Select {
    /// The configuration these flags describe, on top of the defaults.
    pub fn apply(&self, cfg: &mut Config) {
        if !self.agent_names.is_empty() {
            cfg.agent_names = self.agent_names.clone();
        }
        if let Some(m) = self.argv0_match {
            cfg.argv0_match = m;
        }
        if let Some(d) = self.min_age {
            cfg.min_age = d;
        }
        if let Some(m) = &self.workspace_marker {
            cfg.workspace_marker = m.clone();
        }
        if let Some(r) = &self.workspace_root {
            cfg.workspace_root = Some(r.clone());
        }
        if self.no_default_ide_markers {
            cfg.ide_markers.clear();
        }
        cfg.ide_markers.extend(self.ide_markers.iter().cloned());
        if self.no_default_protected_pid_files {
            cfg.protected_pid_files.clear();
        }
        cfg.protected_pid_files
            .extend(self.protected_pid_files.iter().cloned());
        cfg.protected_pids.extend(&self.protected_pids);
        cfg.tmux_sockets.extend(self.tmux_sockets.iter().cloned());
        cfg.users = self.users.clone();
        cfg.all_users = self.all_users;
        if !self.leak_markers.is_empty() {
            cfg.leak_markers = self.leak_markers.clone();
        }
        if let Some(d) = self.subprocess_timeout {
            cfg.subprocess_timeout = d;
        }
        if let Some(b) = self.backend {
            cfg.backend = b;
        }
    }
}

impl Act {
    pub fn apply(&self, cfg: &mut Config) {
        cfg.dry_run = self.dry_run;
        cfg.kill_tree = self.kill_tree;
        if let Some(d) = &self.state_dir {
            cfg.state_dir = Some(d.clone());
        }
        if let Some(d) = self.lock_timeout {
            cfg.lock_timeout = d;
        }
        cfg.require_pidfd = self.require_pidfd;
        cfg.audit = !self.no_audit;
        if let Some(n) = self.audit_max_bytes {
            cfg.audit_max_bytes = n;
        }
    }
}

/// Builds and validates a configuration; an invalid one is a usage error.
pub fn config(
    select: &Select,
    act: Option<&Act>,
    grace: Option<Duration>,
) -> Result<Config, String> {
    let mut cfg = Config::default();
    select.apply(&mut cfg);
    if let Some(a) = act {
        a.apply(&mut cfg);
    }
    if let Some(g) = grace {
        cfg.grace = g;
    }
    match cfg.validate() {
        Ok(()) => Ok(cfg),
        Err(Error::InvalidArgument(m)) => Err(m),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("90"), Ok(s(90)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(s(90)));
        assert_eq!(parse_duration("5m"), Ok(s(300)));
        assert_eq!(parse_duration("1h"), Ok(s(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(s(5400)));
        assert_eq!(parse_duration("1m30s"), Ok(s(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2d"), Ok(s(172_800)));
        for bad in ["", "-1", "soon", "5x", "m", "1h-5m", "NaN", "inf", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65_536));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        for bad in ["", "4X", "-1", "M", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn users_by_name_and_uid() {
        assert_eq!(parse_user("0"), Ok(0));
        assert_eq!(parse_user("root"), Ok(0));
        assert!(parse_user("prt-no-such-user").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
