//! What the bench runs: the floors, procreap's scans, the Go and Python
//! bindings (long-lived helper programs that time themselves), psutil, and
//! the subprocess pipeline Gas Town ran (`ps`, `tmux list-panes`, `ps -p`).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use procreap::{Config, Kind, Scan, VerdictKind};

use crate::floors;
use crate::world::{expected, Role, World, MIN_AGE};

/// One contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum C {
    StatFloor,
    NaiveStat,
    CommFloor,
    Orphans,
    PairCalls,
    PairScan,
    Leaked,
    GoPair,
    PyPair,
    Psutil,
    Baseline,
}

impl C {
    pub const ALL: [C; 11] = [
        C::StatFloor,
        C::NaiveStat,
        C::CommFloor,
        C::Orphans,
        C::PairCalls,
        C::PairScan,
        C::Leaked,
        C::GoPair,
        C::PyPair,
        C::Psutil,
        C::Baseline,
    ];

    /// Column name in the CSV.
    pub fn key(self) -> &'static str {
        match self {
            C::StatFloor => "stat_floor",
            C::NaiveStat => "stat_floor_std_fs",
            C::CommFloor => "comm_floor",
            C::Orphans => "one_scan",
            C::PairCalls => "pair_two_calls",
            C::PairScan => "pair_scan_object",
            C::Leaked => "leaked_scan",
            C::GoPair => "go_pair",
            C::PyPair => "python_pair",
            C::Psutil => "psutil",
            C::Baseline => "subprocess_baseline",
        }
    }

    /// What it is, for the tables.
    pub fn label(self) -> &'static str {
        match self {
            C::StatFloor => "stat floor (`/proc` fd, `openat`+`read`+`close` of `PID/stat`)",
            C::NaiveStat => "stat floor, plain `std::fs`",
            C::CommFloor => "comm floor (the same, `PID/comm`)",
            C::Orphans => "one scan (`find_orphans`)",
            C::PairCalls => "orphans + zombies, two calls",
            C::PairScan => "orphans + zombies, one `Scan`",
            C::Leaked => "leaked scan (`find_leaked`)",
            C::GoPair => "Go binding: `NewScan` + `Orphans` + `Zombies`",
            C::PyPair => "Python binding: `scan()` + `orphans()` + `zombies()`",
            C::Psutil => "psutil, the obvious code",
            C::Baseline => "Gas Town's subprocess pipeline",
        }
    }

    /// Run in the first rounds only (each run costs seconds).
    pub fn expensive(self) -> bool {
        matches!(self, C::Psutil | C::Baseline)
    }
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The round it ran in.
    pub round: usize,
    pub ms: f64,
    /// CPU time of the process that ran it (every thread: procreap reads
    /// argv and environments on worker threads), where it was measured:
    /// not for the subprocess pipeline.
    pub cpu_ms: Option<f64>,
    /// Processes read (the floors): the table's size.
    pub table: Option<usize>,
    /// Of the subprocess baseline: the time its `ps -p` calls took.
    pub ps_p_ms: Option<f64>,
}

fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

/// Wall and CPU milliseconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, f64, T) {
    let c = cpu_ms();
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64() * 1e3, cpu_ms() - c, r)
}

/// The long-lived helper programs (Go, Python) and what was skipped.
pub struct Helpers {
    pub go: Option<Helper>,
    pub py: Option<Helper>,
    /// psutil's version, when the Python helper could import it.
    pub psutil: Option<String>,
    pub notes: Vec<String>,
}

impl Helpers {
    /// Starts the helpers named by `PROCREAP_BENCH_GO` (the built Go
    /// program) and `PROCREAP_BENCH_PYTHON` (an interpreter; the script
    /// sits next to this file), each given `cfg` as JSON.
    pub fn start(cfg: &Config) -> Helpers {
        let json = config_json(cfg);
        let mut h = Helpers {
            go: None,
            py: None,
            psutil: None,
            notes: Vec::new(),
        };
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match var("PROCREAP_BENCH_GO") {
            Some(bin) => {
                let mut c = Command::new(&bin);
                c.arg(&json);
                match Helper::start(c) {
                    Ok(g) => h.go = Some(g),
                    Err(e) => h.notes.push(format!("Go binding skipped: {bin}: {e}")),
                }
            }
            None => h.notes.push(
                "Go binding skipped: PROCREAP_BENCH_GO is not set (scripts/bench.sh builds it)"
                    .into(),
            ),
        }
        match var("PROCREAP_BENCH_PYTHON") {
            Some(py) => {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bench/python/bench_pair.py");
                let lib = concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/libprocreap.so");
                let mut c = Command::new(&py);
                c.arg(script).arg(&json).env("PROCREAP_LIB", lib);
                match Helper::start(c) {
                    Ok(p) => {
                        match p.ready.strip_prefix("none: ") {
                            Some(why) => h.notes.push(format!("psutil skipped: not importable ({why})")),
                            None => h.psutil = Some(p.ready.clone()),
                        }
                        h.py = Some(p);
                    }
                    Err(e) => h.notes.push(format!("Python binding and psutil skipped: {py}: {e}")),
                }
            }
            None => h.notes.push(
                "Python binding and psutil skipped: PROCREAP_BENCH_PYTHON is not set (scripts/bench.sh sets it)".into(),
            ),
        }
        h
    }

    fn has(&self, c: C) -> bool {
        match c {
            C::GoPair => self.go.is_some(),
            C::PyPair => self.py.is_some(),
            C::Psutil => self.py.is_some() && self.psutil.is_some(),
            _ => true,
        }
    }

    /// The contenders this run can measure.
    pub fn contenders(&self) -> Vec<C> {
        C::ALL.into_iter().filter(|c| self.has(*c)).collect()
    }
}

/// A helper program: one request line in, one answer line out.
pub struct Helper {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
    /// What it said when ready (after "ready ").
    pub ready: String,
}

impl Helper {
    fn start(mut c: Command) -> Result<Helper, String> {
        c.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = c.spawn().map_err(|e| e.to_string())?;
        let to = child.stdin.take().ok_or("no stdin")?;
        let from = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut h = Helper {
            child,
            to,
            from,
            ready: String::new(),
        };
        let line = h.line()?;
        h.ready = line
            .strip_prefix("ready ")
            .ok_or_else(|| format!("said {line:?} instead of ready"))?
            .to_string();
        Ok(h)
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.from.read_line(&mut line) {
            Ok(0) => Err("exited".into()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Asks for one timed run; returns (ms, CPU ms, orphans, zombies).
    fn ask(&mut self, req: &str) -> Result<(f64, f64, usize, usize), String> {
        writeln!(self.to, "{req}").map_err(|e| e.to_string())?;
        self.to.flush().map_err(|e| e.to_string())?;
        let line = self.line()?;
        let bad = || format!("answered {line:?}");
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [ms, cpu, o, z] => Ok((
                ms.parse().map_err(|_| bad())?,
                cpu.parse().map_err(|_| bad())?,
                o.parse().map_err(|_| bad())?,
                z.parse().map_err(|_| bad())?,
            )),
            _ => Err(bad()),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Our own child, not yet reaped: its pid is still its own.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration as the helpers and the traced child read it.
pub fn config_json(cfg: &Config) -> String {
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    serde_json::json!({
        "agent_names": cfg.agent_names,
        "min_age_ms": cfg.min_age.as_millis() as u64,
        "workspace_marker": cfg.workspace_marker,
        "workspace_root": path(&cfg.workspace_root),
        "state_dir": path(&cfg.state_dir),
        "leak_markers": cfg.leak_markers,
        "protected_pid_files": cfg.protected_pid_files,
    })
    .to_string()
}

/// [`config_json`] read back.
pub fn config_from_json(s: &str) -> Result<Config, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let path = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(Into::into);
    Ok(Config {
        agent_names: strings("agent_names"),
        min_age: Duration::from_millis(v["min_age_ms"].as_u64().unwrap_or(0)),
        workspace_marker: v["workspace_marker"].as_str().unwrap_or("").into(),
        workspace_root: path("workspace_root"),
        state_dir: path("state_dir"),
        leak_markers: strings("leak_markers"),
        protected_pid_files: strings("protected_pid_files")
            .into_iter()
            .map(Into::into)
            .collect(),
        dry_run: true,
        ..Config::default()
    })
}

/// Runs `c` once; with `check`, makes sure it found exactly the mix's
/// candidates (and, for procreap's own lists, the right pids).
pub fn sample(c: C, w: &World, h: &mut Helpers, check: bool) -> Result<Sample, String> {
    let cfg = w.config();
    let mut s = Sample {
        round: 0,
        ms: 0.0,
        cpu_ms: None,
        table: None,
        ps_p_ms: None,
    };
    let orphans = expected(VerdictKind::Orphan);
    let want = |what: &str, got: usize, want: usize| -> Result<(), String> {
        if check && got != want {
            return Err(format!(
                "{}: {what}: found {got}, expected {want}",
                c.label()
            ));
        }
        Ok(())
    };
    let ours = |list: &[procreap::ProcessInfo], roles: &[Role]| -> Result<(), String> {
        if check {
            for p in list {
                if !w.decoys.get(&p.id.pid).is_some_and(|r| roles.contains(r)) {
                    return Err(format!(
                        "{}: found pid {} ({}), not one of the decoys",
                        c.label(),
                        p.id.pid,
                        p.name
                    ));
                }
            }
        }
        Ok(())
    };
    let err = |e: procreap::Error| format!("{}: {e}", c.label());
    match c {
        C::StatFloor | C::CommFloor | C::NaiveStat => {
            let (ms, cpu, n) = timed(|| match c {
                C::StatFloor => floors::fast(c"stat"),
                C::CommFloor => floors::fast(c"comm"),
                _ => floors::naive_stat(),
            });
            (s.ms, s.cpu_ms, s.table) = (ms, Some(cpu), Some(n));
        }
        C::Orphans | C::Leaked => {
            let kind = if c == C::Orphans {
                Kind::Orphans
            } else {
                Kind::Leaked
            };
            let (ms, cpu, r) = timed(|| match kind {
                Kind::Leaked => procreap::find_leaked(&cfg),
                _ => procreap::find_orphans(&cfg),
            });
            let list = r.map_err(err)?;
            (s.ms, s.cpu_ms) = (ms, Some(cpu));
            if kind == Kind::Leaked {
                want("leaked", list.len(), expected(VerdictKind::Leaked))?;
                ours(&list, &[Role::Leaked])?;
            } else {
                want("orphans", list.len(), orphans)?;
                ours(&list, &[Role::Orphan, Role::Versioned])?;
            }
        }
        C::PairCalls | C::PairScan => {
            let (ms, cpu, r) = timed(|| -> procreap::Result<_> {
                if c == C::PairCalls {
                    Ok((procreap::find_orphans(&cfg)?, procreap::find_zombies(&cfg)?))
                } else {
                    let scan = Scan::new(&cfg)?;
                    Ok((scan.orphans()?, scan.zombies()?))
                }
            });
            let (o, z) = r.map_err(err)?;
            (s.ms, s.cpu_ms) = (ms, Some(cpu));
            want("orphans", o.len(), orphans)?;
            want("zombies", z.len(), orphans)?;
            ours(&o, &[Role::Orphan, Role::Versioned])?;
            ours(&z, &[Role::Orphan, Role::Versioned])?;
        }
        C::GoPair | C::PyPair | C::Psutil => {
            let (helper, req) = match c {
                C::GoPair => (h.go.as_mut(), "pair"),
                C::PyPair => (h.py.as_mut(), "pair"),
                _ => (h.py.as_mut(), "psutil"),
            };
            let helper = helper.ok_or_else(|| format!("{}: not running", c.label()))?;
            let (ms, cpu, o, z) = helper.ask(req).map_err(|e| format!("{}: {e}", c.label()))?;
            (s.ms, s.cpu_ms) = (ms, Some(cpu));
            want("orphans", o, orphans)?;
            want("zombies", z, orphans)?;
        }
        C::Baseline => {
            let names: Vec<String> = cfg.agent_names.iter().map(|n| n.to_lowercase()).collect();
            let t = Instant::now();
            let (o, po) = baseline_find(Kind::Orphans, &w.sockets, &names)?;
            let (z, pz) = baseline_find(Kind::Zombies, &w.sockets, &names)?;
            s.ms = t.elapsed().as_secs_f64() * 1e3;
            s.ps_p_ms = Some(po + pz);
            // orphan.go knows no argv[0], IDE or workspace rule, and its
            // zombie scan ignores the terminal.
            let n = |roles: &[Role]| -> usize {
                crate::world::MIX
                    .iter()
                    .filter(|(r, _)| roles.contains(r))
                    .map(|(_, n)| n)
                    .sum()
            };
            want("orphans", o, n(&[Role::Orphan, Role::Outside, Role::Ide]))?;
            want(
                "zombies",
                z,
                n(&[Role::Orphan, Role::Outside, Role::Ide, Role::Tty]),
            )?;
        }
    }
    Ok(s)
}

/// Runs one contender in this process (for the traced child): the same
/// calls as [`sample`], untimed.
pub fn run_once(kind: &str, cfg: &Config) -> Result<(), String> {
    let e = |e: procreap::Error| e.to_string();
    match kind {
        "noop" => {}
        "stat_floor" => {
            floors::fast(c"stat");
        }
        "comm_floor" => {
            floors::fast(c"comm");
        }
        "one_scan" => {
            procreap::find_orphans(cfg).map_err(e)?;
        }
        "pair_scan_object" => {
            let scan = Scan::new(cfg).map_err(e)?;
            scan.orphans().map_err(e)?;
            scan.zombies().map_err(e)?;
        }
        "leaked_scan" => {
            procreap::find_leaked(cfg).map_err(e)?;
        }
        other => return Err(format!("unknown child kind {other:?}")),
    }
    Ok(())
}

// ---------------------------------------------------------------------
// The subprocess baseline: Gas Town's orphan.go.

/// `exec.Command(...).Output()`: stdout, or an error on a non-zero exit.
fn output(prog: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{prog} {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// getTmuxSessionPIDs: pane pids of every socket and their descendants,
/// with the tree from one `ps -eo pid,ppid` (orphan.go's fallback; its
/// first choice, one `pgrep -P` per pid, costs more).
fn baseline_protected(sockets: &[String]) -> Result<HashSet<i32>, String> {
    let mut pids = HashSet::new();
    let tree = output("ps", &["-eo", "pid,ppid"])?;
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for line in tree.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [pid, ppid] = f.as_slice() {
            if let (Ok(pid), Ok(ppid)) = (pid.parse::<i32>(), ppid.parse::<i32>()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    for sock in sockets {
        let Ok(out) = output(
            "tmux",
            &["-L", sock, "list-panes", "-a", "-F", "#{pane_pid}"],
        ) else {
            continue;
        };
        for pid in out.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            pids.insert(pid);
            let mut stack = vec![pid];
            while let Some(p) = stack.pop() {
                for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
                    if pids.insert(c) {
                        stack.push(c);
                    }
                }
            }
        }
    }
    Ok(pids)
}

/// FindOrphanedClaudeProcesses / FindZombieClaudeProcesses, plus one
/// `ps -p PID -o args=` per candidate for its command line. Returns how many
/// it found and the milliseconds the `ps -p` calls took.
fn baseline_find(kind: Kind, sockets: &[String], names: &[String]) -> Result<(usize, f64), String> {
    let protected = baseline_protected(sockets)?;
    if kind == Kind::Zombies && protected.is_empty() {
        return Ok((0, 0.0));
    }
    let min_age = MIN_AGE.as_secs_f64().ceil() as u64;
    let table = output("ps", &["-eo", "pid,tty,comm,etime"])?;
    let mut found = Vec::new();
    for line in table.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [pid, tty, cmd, etime] = f.as_slice() else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        if kind == Kind::Orphans && *tty != "?" {
            continue;
        }
        if !names.contains(&cmd.to_lowercase()) || protected.contains(&pid) {
            continue;
        }
        if procreap::ps::parse_etime(etime).is_none_or(|age| age < min_age) {
            continue;
        }
        found.push(pid);
    }
    let t = Instant::now();
    for pid in &found {
        let _args = output("ps", &["-p", &pid.to_string(), "-o", "args="]).unwrap_or_default();
    }
    Ok((found.len(), t.elapsed().as_secs_f64() * 1e3))
}

// ---------------------------------------------------------------------
// Syscalls, counted by strace on a child that runs one contender.

/// Calls per system call name of one traced run of `kind` (`strace -f -c`).
pub fn strace(kind: &str, cfg: &Config) -> Result<HashMap<String, u64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::env::temp_dir().join(format!(
        "procreap-bench-strace-{}-{kind}",
        std::process::id()
    ));
    let st = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg("--")
        .arg(&exe)
        .args(["--child", kind])
        .env("PROCREAP_BENCH_CHILD_CONFIG", config_json(cfg))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("strace: {e}"))?;
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    if !st.success() {
        return Err(format!("strace of {kind}: {st}"));
    }
    let mut calls = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[0].starts_with('%') || f[0].starts_with('-') {
            continue;
        }
        if let (Ok(n), Some(name)) = (f[3].parse::<u64>(), f.last()) {
            calls.insert(name.to_string(), n);
        }
    }
    if !calls.contains_key("total") {
        return Err(format!("strace of {kind}: no summary in {text:?}"));
    }
    Ok(calls)
}
