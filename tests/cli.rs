//! The `procreap` example CLI, end to end, through its built binary.
//!
//! Safety: the CLI only ever runs here with private `prt-cli…` agent names
//! (or `demo`, which uses its own), so it can only match decoys this test
//! started. Every decoy is our own unreaped child: teardown kills it by pid
//! and reaps it, also when a test fails (Drop guard).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::os::unix::fs::symlink;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::wait_until;

/// The example binary, next to this test's own directory
/// (`target/<profile>/examples/procreap`). `cargo test` builds examples, but
/// `cargo test --test cli` does not, so it is (re)built here once; cargo
/// does not hold its build lock while tests run.
fn cli() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps/<test>");
        let bin = profile_dir.join("examples").join("procreap");
        if let Some(cargo) = std::env::var_os("CARGO") {
            let mut c = Command::new(cargo);
            c.args(["build", "--quiet", "--example", "procreap"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => {}
                Some("release") => {
                    c.arg("--release");
                }
                Some(other) => {
                    c.args(["--profile", other]);
                }
                None => {}
            }
            let out = c.output().expect("running cargo build --example procreap");
            assert!(
                out.status.success(),
                "cargo build --example procreap failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// What the child wrote to its terminal (see [`Term`]).
    tty: String,
}

impl Run {
    /// stdout as one JSON document: exactly one line, compact, schema 1.
    fn json(&self) -> Value {
        let v: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        });
        assert_eq!(
            self.stdout.trim_end_matches('\n').lines().count(),
            1,
            "not one compact line: {}",
            self.stdout
        );
        assert!(self.stdout.ends_with('\n'), "{:?}", self.stdout);
        assert_eq!(v["schema"], 1, "{v}");
        v
    }
}

/// Which of the CLI's streams goes to a terminal of our own (a real pty).
#[derive(Clone, Copy, PartialEq)]
enum Term {
    None,
    /// stdout, on a terminal this many columns wide.
    Stdout(u16),
    Stderr,
}

/// A pty pair; the child gets the slave, we read the master.
fn open_pty(cols: u16) -> (std::fs::File, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty with out-pointers to two ints and a winsize.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty just gave us these two fds.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    }
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // A pty master reports EIO once the last slave is closed: the end.
        let mut chunk = [0u8; 4096];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs the CLI; a run that outlives `limit` is killed (it is our child) and fails the test.
fn run(args: &[&str], limit: Duration) -> Run {
    run_on(args, limit, Term::None, &[])
}

fn run_on(args: &[&str], limit: Duration, term: Term, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(cli());
    cmd.args(args)
        .env_remove("COLUMNS")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut master = None;
    match term {
        Term::None => {}
        Term::Stdout(cols) => {
            let (m, slave) = open_pty(cols);
            cmd.stdout(Stdio::from(slave));
            master = Some(m);
        }
        Term::Stderr => {
            let (m, slave) = open_pty(80);
            cmd.stderr(Stdio::from(slave));
            master = Some(m);
        }
    }
    let mut child = cmd.spawn().expect("starting the procreap example");
    drop(cmd); // closes our copy of the slave
    let t_tty = master.map(reader);
    let t_out = child.stdout.take().map(reader);
    let t_err = child.stderr.take().map(reader);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for procreap") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("procreap {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let join = |t: Option<std::thread::JoinHandle<String>>| {
        t.map(|t| t.join().unwrap()).unwrap_or_default()
    };
    let r = Run {
        code: status.code().unwrap_or(-1),
        stdout: join(t_out),
        stderr: join(t_err),
        tty: join(t_tty),
    };
    assert!(
        !r.stderr.contains("panicked") && !r.tty.contains("panicked"),
        "procreap {args:?} panicked:\n{}{}",
        r.stderr,
        r.tty
    );
    r
}

const QUICK: Duration = Duration::from_secs(30);

fn random_hex(n: usize) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{:016x}", h.finish())[..n].to_string()
}

/// A private agent: `prt-cli<hex>` (a symlink to `sleep`, so that is its
/// process name), in its own session (no terminal), stdio on /dev/null.
struct Decoy {
    child: Option<Child>,
    name: String,
    dir: PathBuf,
}

impl Decoy {
    fn start(ignore_term: bool) -> Decoy {
        Decoy::start_with(ignore_term, &[])
    }

    /// `extra` args follow `600` (GNU sleep adds them up: pass zeros).
    fn start_with(ignore_term: bool, extra: &[&str]) -> Decoy {
        let name = format!("prt-cli{}", random_hex(6));
        let dir = std::env::temp_dir().join(format!("procreap-clitest-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut d = Decoy {
            child: None,
            name,
            dir,
        };
        let sleep = ["/bin/sleep", "/usr/bin/sleep"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .expect("a sleep binary");
        let exe = d.dir.join(&d.name);
        symlink(&sleep, &exe).unwrap();
        let mut c = Command::new(&exe);
        c.arg("600")
            .args(extra)
            .current_dir(&d.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid and signal are async-signal-safe.
        unsafe {
            c.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if ignore_term {
                    libc::signal(libc::SIGTERM, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        d.child = Some(c.spawn().expect("starting the decoy"));
        // Until it has exec'd, its name is still ours; the kernel sets the
        // new name before it fills in argv, so wait for both.
        let pid = d.pid();
        let deadline = Instant::now() + Duration::from_secs(5);
        let argv_empty =
            || std::fs::read(format!("/proc/{pid}/cmdline")).map_or(true, |a| a.is_empty());
        while std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map_or(cfg!(target_os = "linux"), |c| c.trim_end() != d.name)
            || (cfg!(target_os = "linux") && argv_empty())
        {
            assert!(Instant::now() < deadline, "the decoy never exec'd");
            std::thread::sleep(Duration::from_millis(10));
        }
        d
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Flags that make `command` see exactly this decoy.
    /// (`history` reads the decoy's state dir and takes no selection.)
    fn flags(&self, command: &str) -> Vec<String> {
        let state = ["--state-dir".into(), self.state_dir().display().to_string()];
        if command == "history" {
            return state.to_vec();
        }
        let mut f: Vec<String> = vec![
            "--agent-name".into(),
            self.name.clone(),
            "--leak-marker".into(),
            self.marker(),
            "--workspace-marker".into(),
            String::new(),
            "--min-age".into(),
            "0".into(),
        ];
        if matches!(command, "cleanup" | "reap-now" | "watch") {
            f.extend(state);
        }
        f
    }

    /// A leak marker of this decoy's own (never the default CLAUDECODE).
    fn marker(&self) -> String {
        format!("PRT_LEAK_{}=1", &self.name["prt-cli".len()..])
    }

    fn run(&self, pre: &[&str], limit: Duration) -> Run {
        self.run_on(pre, limit, Term::None)
    }

    fn run_on(&self, pre: &[&str], limit: Duration, term: Term) -> Run {
        let flags = self.flags(pre[0]);
        let mut args: Vec<&str> = pre.to_vec();
        args.extend(flags.iter().map(String::as_str));
        run_on(&args, limit, term, &[])
    }

    /// Not exited (a child that exited is reaped here).
    fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().unwrap().try_wait(), Ok(None))
    }

    /// Waits for the decoy to exit and returns the signal that ended it.
    fn wait_signal(&mut self) -> Option<i32> {
        self.child.take().unwrap().wait().unwrap().signal()
    }

    /// Whether explain sees it as protected by tmux (this test runs in a pane).
    fn in_tmux(&self) -> bool {
        let explain = self.run(&["explain", "--json"], QUICK).json();
        under_tmux(entry_for(&explain["verdicts"], self.pid()).expect("the decoy is listed"))
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Our own unreaped child: its pid cannot have been recycled.
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Inside a tmux pane our decoys are (rightly) protected; the tests then
/// check that instead of the orphan path.
fn under_tmux(entry: &Value) -> bool {
    let protected = entry["verdict"] == "protected"
        && entry["reason"].as_str().is_some_and(|r| r.contains("tmux"));
    if protected {
        eprintln!("note: this test runs inside tmux, so the decoy is protected: {entry}");
    }
    protected
}

fn entry_for(list: &Value, pid: i32) -> Option<&Value> {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .find(|e| e["pid"] == pid)
}

/// The keys every process object carries.
const PROCESS_KEYS: [&str; 12] = [
    "pid",
    "start_time",
    "ppid",
    "name",
    "user",
    "uid",
    "rss_bytes",
    "age_secs",
    "tty",
    "state",
    "workspace_root",
    "cmdline",
];

/// The `action` of each action of a report document, in order.
fn action_names(v: &Value) -> Vec<&str> {
    v["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect()
}

fn my_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

#[test]
fn demo_reaps_its_own_agent_and_cleans_up() {
    let r = run(&["demo"], Duration::from_secs(40));
    assert_eq!(r.code, 0, "demo failed:\n{}\n{}", r.stdout, r.stderr);
    for word in ["sigterm", "sigkill", "exited", "summary:"] {
        assert!(r.stdout.contains(word), "no {word:?} in:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("0 other process(es)"), "{}", r.stdout);
    // Its temp workspace is gone.
    let town = r
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("workspace"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the demo names its workspace");
    let dir = Path::new(town).parent().unwrap();
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("procreap-demo-"),
        "{town}"
    );
    assert!(!dir.exists(), "the demo left {} behind", dir.display());
}

#[test]
fn version_flag_and_per_command_help() {
    let want = format!("procreap {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V"] {
        let r = run(&[flag], QUICK);
        assert_eq!((r.code, r.stdout.as_str()), (0, want.as_str()), "{flag}");
    }
    let top = run(&["--help"], QUICK);
    assert_eq!(top.code, 0);
    let scan = run(&["scan", "--help"], QUICK);
    assert_eq!(scan.code, 0);
    assert_ne!(scan.stdout, top.stdout, "scan --help is the global text");
    assert!(
        scan.stdout.contains("Usage: procreap scan"),
        "{}",
        scan.stdout
    );
    assert!(!scan.stdout.contains("Commands:"), "{}", scan.stdout);
    // `help scan` and `scan -h` say the same (short form).
    assert_eq!(run(&["scan", "-h"], QUICK).code, 0);
    assert!(run(&["help", "scan"], QUICK)
        .stdout
        .contains("Usage: procreap scan"));
    // Each command documents the flags it takes, and only those.
    let has = |args: &[&str], flags: &[&str], not: &[&str]| {
        let h = run(args, QUICK).stdout;
        for f in flags {
            assert!(h.contains(f), "{args:?} does not mention {f}:\n{h}");
        }
        for f in not {
            assert!(!h.contains(f), "{args:?} mentions {f}:\n{h}");
        }
    };
    let select = [
        "--agent-name",
        "--argv0-match",
        "--min-age",
        "--workspace-marker",
        "--workspace-root",
        "--ide-marker",
        "--no-default-ide-markers",
        "--protected-pid-file",
        "--no-default-protected-pid-files",
        "--protected-pid",
        "--tmux-socket",
        "--user",
        "--all-users",
        "--leak-marker",
        "--subprocess-timeout",
        "--backend",
        "--json",
        "Exit status",
    ];
    let act = [
        "--dry-run",
        "--kill-tree",
        "--state-dir",
        "--lock-timeout",
        "--require-pidfd",
        "--no-audit",
        "--audit-max-bytes",
    ];
    has(
        &["scan", "--help"],
        &select,
        &["--grace", "--dry-run", "--deadline"],
    );
    has(&["explain", "--help"], &select, &["--grace", "--kill-tree"]);
    has(&["cleanup", "--help"], &select, &["--deadline"]);
    has(&["cleanup", "--help"], &act, &[]);
    has(
        &["cleanup", "--help"],
        &["--kind", "leaked", "--grace", "1h30m"],
        &[],
    );
    has(&["reap-now", "--help"], &act, &["--grace"]);
    has(&["reap-now", "--help"], &["--deadline", "PID[:START]"], &[]);
    has(&["demo", "--help"], &["--backend"], &["--agent-name"]);
    has(&["watch", "--help"], &select, &["--deadline"]);
    has(&["watch", "--help"], &act, &[]);
    has(
        &["watch", "--help"],
        &[
            "--interval",
            "--metrics",
            "--grace",
            "both",
            "all",
            "NDJSON",
            "SIGTERM",
        ],
        &[],
    );
    has(
        &["history", "--help"],
        &["--pid", "--since", "--state-dir", "--json", "audit.jsonl"],
        &["--agent-name", "--grace", "--dry-run"],
    );
    has(
        &["--help"],
        &[
            "scan",
            "explain",
            "cleanup",
            "reap-now",
            "watch",
            "history",
            "demo",
            "completions",
            "man",
            "  0  ",
            "  1  ",
            "  2  ",
            "  3  ",
            "--json",
        ],
        &[],
    );
}

#[test]
fn completions_and_man_page() {
    for (shell, marker) in [
        ("bash", "_procreap()"),
        ("zsh", "#compdef procreap"),
        ("fish", "complete -c procreap"),
    ] {
        let r = run(&["completions", shell], QUICK);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains(marker), "{shell}: no {marker:?}");
        for word in [
            "reap-now",
            "agent-name",
            "leak-marker",
            "version-like",
            "watch",
            "history",
        ] {
            assert!(r.stdout.contains(word), "{shell} completion lacks {word}");
        }
        if shell == "bash" {
            // bash -n reads the script from stdin.
            let mut sh = Command::new("bash")
                .arg("-n")
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut sh.stdin.take().unwrap(), r.stdout.as_bytes()).unwrap();
            assert!(
                sh.wait().unwrap().success(),
                "the bash completion does not parse"
            );
        }
    }
    assert_eq!(run(&["completions", "tcsh"], QUICK).code, 2);
    let man = run(&["man"], QUICK);
    assert_eq!(man.code, 0);
    assert!(man.stdout.starts_with(".ie") || man.stdout.starts_with(".TH"));
    for s in [
        ".TH procreap 1",
        "EXIT STATUS",
        "JSON OUTPUT",
        "procreap reap\\-now",
        "procreap watch",
        "procreap history",
    ] {
        assert!(man.stdout.contains(s), "the man page lacks {s:?}");
    }
}

#[test]
fn explain_json_lists_the_decoy_as_orphan() {
    let d = Decoy::start(false);
    let r = d.run(&["explain", "--json"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["command"], "explain");
    assert!(v["error"].is_null(), "{v}");
    let list = &v["verdicts"];
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "only the decoy has its name: {v}"
    );
    assert_eq!(v["count"], 1);
    let e = entry_for(list, d.pid()).expect("the decoy is listed");
    assert_eq!(e["name"], d.name.as_str());
    assert!(e["start_time"].as_u64().is_some(), "{e}");
    assert!(e["tty"].is_null(), "{e}");
    for key in PROCESS_KEYS.iter().chain(&["verdict", "reason"]) {
        assert!(e.get(key).is_some(), "no {key} in {e}");
    }
    assert_eq!(e["uid"], my_uid(), "{e}");
    let rss = e["rss_bytes"].as_u64().unwrap();
    assert!(rss > 0, "{e}");
    assert_eq!(v["rss_bytes"], rss, "{v}");
    if !under_tmux(e) {
        assert_eq!(e["verdict"], "orphan", "{e}");
        assert_eq!(v["by_verdict"]["orphan"]["count"], 1, "{v}");
    }
}

#[test]
fn scan_json_has_three_sections_and_memory_totals() {
    let d = Decoy::start(false);
    let r = d.run(&["scan", "--json"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["command"], "scan");
    assert!(v["error"].is_null(), "{v}");
    let protected = d.in_tmux();
    let orphans = &v["orphans"];
    let listed = entry_for(&orphans["processes"], d.pid());
    assert_eq!(listed.is_some(), !protected, "{v}");
    if let Some(p) = listed {
        for key in PROCESS_KEYS {
            assert!(p.get(key).is_some(), "no {key} in {p}");
        }
        assert_eq!(orphans["rss_bytes"], p["rss_bytes"], "{v}");
        assert_eq!(
            v["rss_bytes"], p["rss_bytes"],
            "each process counts once: {v}"
        );
        assert_eq!(v["count"], 1, "{v}");
    }
    // Zombies: a list, or null with the reason (no tmux: exit 0 still).
    match &v["zombies"]["processes"] {
        Value::Array(_) => assert!(v["zombies"]["error"].is_null(), "{v}"),
        Value::Null => assert_eq!(v["zombies"]["error"]["status"], "tmux unavailable", "{v}"),
        other => panic!("zombies is {other}"),
    }
    assert!(v["leaked"]["processes"].is_array(), "{v}");
    assert_eq!(v["agents"]["count"], 1, "{v}");
    // The table form says the same.
    let t = d.run(&["scan"], QUICK);
    assert_eq!(t.code, 0, "{}", t.stderr);
    for s in ["orphans:", "zombies:", "leaked:", "total:"] {
        assert!(t.stdout.contains(s), "no {s} in\n{}", t.stdout);
    }
    if !protected {
        let head = t.stdout.lines().find(|l| l.starts_with("PID")).unwrap();
        assert!(
            head.split_whitespace().eq([
                "PID",
                "USER",
                "RSS",
                "AGE",
                "TTY",
                "STAT",
                "NAME",
                "WORKSPACE",
                "CMD"
            ]),
            "{head}"
        );
    }
}

#[test]
fn cleanup_dry_run_json_with_a_grace_in_minutes() {
    let mut d = Decoy::start(false);
    let r = d.run(&["cleanup", "--grace", "5m", "--dry-run", "--json"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["command"], "cleanup");
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["kind"], "orphans", "{v}");
    assert!(v["error"].is_null(), "{v}");
    for key in ["next_due_ms", "reclaimed_bytes"] {
        assert!(v.get(key).is_some(), "no {key} in {v}");
    }
    let actions = v["actions"].as_array().expect("actions");
    for a in actions {
        assert_eq!(a["dry_run"], true, "{a}");
        assert_eq!(a["delivery"], "none", "{a}");
    }
    if !d.in_tmux() {
        let a = actions
            .iter()
            .find(|a| a["process"]["pid"] == d.pid())
            .unwrap_or_else(|| panic!("no action for the decoy: {v}"));
        assert_eq!(a["action"], "sigterm", "{a}");
        assert_eq!(a["signal"], "SIGTERM", "{a}");
        assert!(a["reason"].as_str().unwrap().contains("dry run"), "{a}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(d.alive(), "a dry run must not signal");
    assert!(!d.state_dir().exists(), "a dry run must not write a ledger");
}

#[test]
fn cleanup_escalates_from_sigterm_to_sigkill() {
    let mut d = Decoy::start(true);
    if d.in_tmux() {
        return;
    }
    let first = d.run(&["cleanup", "--json", "--grace", "500ms"], QUICK);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let v = first.json();
    assert_eq!(v["actions"][0]["action"], "sigterm", "{v}");
    assert_eq!(v["actions"][0]["dry_run"], false, "{v}");
    assert_ne!(v["actions"][0]["delivery"], "none", "{v}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(d.alive(), "the decoy ignores SIGTERM");
    std::thread::sleep(Duration::from_millis(400));
    let second = d.run(&["cleanup", "--grace", "0.5"], QUICK);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stdout.contains("sigkill"), "{}", second.stdout);
    assert!(second.stdout.contains("reclaimed"), "{}", second.stdout);
    assert_eq!(d.wait_signal(), Some(libc::SIGKILL));
}

#[test]
fn corrupt_ledger_is_a_partial_result_exit_3() {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let d = Decoy::start(false);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(d.state_dir())
        .unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(d.state_dir().join("ledger"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"not a ledger\n"))
        .unwrap();
    let r = d.run(&["cleanup", "--json"], QUICK);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["error"]["status"], "ledger corrupt", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|e| e.contains("ledger")),
        "{v}"
    );
    assert!(r.stderr.starts_with("procreap: "), "{}", r.stderr);
}

/// Holds the ledger lock of `state` (as another procreap would) until dropped.
fn hold_ledger_lock(state: &Path) -> std::fs::File {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(state)
        .unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(state.join("ledger.lock"))
        .unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    f
}

#[test]
fn errors_still_print_a_json_document() {
    let d = Decoy::start(false);
    let _lock = hold_ledger_lock(&d.state_dir());
    let args = ["cleanup", "--json", "--lock-timeout", "1s"];
    // stderr on a terminal: the wait is shown there; stdout keeps the document.
    let r = d.run_on(&args, QUICK, Term::Stderr);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.tty);
    let v = r.json();
    assert_eq!(v["command"], "cleanup");
    assert_eq!(v["error"]["status"], "lock timeout", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("lock timeout: "),
        "{v}"
    );
    assert!(r.tty.contains("procreap: lock timeout"), "{}", r.tty);
    let me = std::process::id().to_string();
    assert!(
        r.tty.contains("waiting for the ledger lock")
            && r.tty.contains(&format!("held by pid {me}")),
        "no lock-wait progress on the terminal:\n{:?}",
        r.tty
    );
    // stderr on a pipe: the message only, no progress.
    let r = d.run(&args, QUICK);
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["error"]["status"], "lock timeout");
    assert!(!r.stderr.contains("waiting for"), "{:?}", r.stderr);
    assert!(!r.stderr.contains('\r'), "{:?}", r.stderr);

    // A usage error with --json: exit 2 and the document says so.
    let r = run(&["scan", "--json", "--min-age", "5x"], QUICK);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["command"], "scan");
    assert_eq!(v["error"]["status"], "invalid argument", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("5x"),
        "{v}"
    );
}

#[test]
fn users_by_name_or_uid() {
    let d = Decoy::start(false);
    let uid = my_uid();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .expect("a passwd entry for the test's user");
    let protected = d.in_tmux();
    for who in [uid.to_string(), name.clone()] {
        let v = d.run(&["scan", "--json", "-u", &who], QUICK).json();
        let p = entry_for(&v["orphans"]["processes"], d.pid());
        assert_eq!(p.is_some(), !protected, "-u {who}: {v}");
        if let Some(p) = p {
            assert_eq!(p["user"], name.as_str(), "{p}");
        }
    }
    // Another user only: the decoy is not ours to consider.
    let other = if uid == 65534 { "0" } else { "65534" };
    let v = d.run(&["explain", "--json", "--user", other], QUICK).json();
    let e = entry_for(&v["verdicts"], d.pid()).expect("listed");
    assert_eq!(e["verdict"], "other-user", "{e}");
    let t = d.run(&["explain", "-u", &uid.to_string()], QUICK);
    assert!(
        t.stdout
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(name.as_str())),
        "{}",
        t.stdout
    );
    // Unknown user; -u with --all-users.
    assert_eq!(d.run(&["scan", "-u", "prt-no-such-user"], QUICK).code, 2);
    assert_eq!(d.run(&["scan", "-u", "0", "--all-users"], QUICK).code, 2);
}

#[test]
fn durations_take_suffixes() {
    let d = Decoy::start(false);
    // A later --min-age overrides the decoy's `--min-age 0`.
    let explain = |min_age: &str| {
        let mut args = vec!["explain".to_string(), "--json".into()];
        args.extend(d.flags("explain"));
        args.extend(["--min-age".into(), min_age.into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args, QUICK);
        assert_eq!(r.code, 0, "--min-age {min_age}: {}", r.stderr);
        entry_for(&r.json()["verdicts"], d.pid()).unwrap()["verdict"].clone()
    };
    if d.in_tmux() {
        return;
    }
    for young in ["1h", "1h30m", "5m", "90s", "3600", "2d"] {
        assert_eq!(explain(young), "too-young", "--min-age {young}");
    }
    for old in ["0s", "0", "0.0", "1ms"] {
        assert_eq!(explain(old), "orphan", "--min-age {old}");
    }
    for bad in ["5x", "-1", "1h-5m", "soon", ""] {
        let r = d.run(&["scan", "--min-age", bad], QUICK);
        assert_eq!(r.code, 2, "--min-age {bad:?}: {}", r.stderr);
    }
}

#[test]
fn cmd_column_is_cut_to_the_terminal_width() {
    let zeros = vec!["0"; 40];
    let d = Decoy::start_with(false, &zeros);
    if d.in_tmux() {
        return;
    }
    for cmd in ["scan", "explain"] {
        let r = d.run_on(&[cmd], QUICK, Term::Stdout(100));
        assert_eq!(r.code, 0, "{}", r.stderr);
        // The terminal turns \n into \r\n.
        let row = r
            .tty
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .find(|l| l.starts_with(&d.pid().to_string()))
            .unwrap_or_else(|| panic!("no row for the decoy:\n{}", r.tty));
        assert!(row.ends_with('…'), "{cmd}: {row:?}");
        if cmd == "scan" {
            assert_eq!(row.chars().count(), 100, "{cmd}: {row:?}");
        } else {
            // explain's reasons fill the line: CMD keeps its 16 characters.
            let cut = row.rsplit("  ").next().unwrap();
            assert_eq!(cut.chars().count(), 16, "{cmd}: {row:?}");
        }
        // Every table line fits; notes (the zombie section's) may wrap.
        for l in r.tty.lines().map(|l| l.trim_end_matches('\r')) {
            let row = l.starts_with("PID") || l.starts_with(|c: char| c.is_ascii_digit());
            if cmd == "scan" && row {
                assert!(l.chars().count() <= 100, "{cmd}: {l:?}");
            }
        }
        // Not a terminal: the whole command line.
        let full = d.run(&[cmd], QUICK).stdout;
        assert!(
            full.contains(&format!("600 {}", zeros.join(" "))),
            "{cmd}:\n{full}"
        );
    }
}

#[test]
fn reap_now_shows_what_it_waits_for_on_a_terminal() {
    let mut d = Decoy::start(true); // ignores SIGTERM: reap-now waits out its deadline
    if d.in_tmux() {
        return;
    }
    let pid = d.pid().to_string();
    let r = d.run_on(
        &["reap-now", &pid, "--deadline", "2s", "--json"],
        QUICK,
        Term::Stderr,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.tty);
    let v = r.json();
    assert_eq!(v["command"], "reap-now");
    assert_eq!(v["deadline_ms"], 2000, "{v}");
    let actions = action_names(&v);
    assert_eq!(actions, ["sigterm", "sigkill", "exited"], "{v}");
    let want = format!(
        "reap-now: waiting for 1 process to exit (pid {pid} {}): SIGKILL in ",
        d.name
    );
    assert!(
        r.tty.contains(&want),
        "no {want:?} on the terminal:\n{:?}",
        r.tty
    );
    // Redrawn in place, and erased at the end.
    assert!(r.tty.contains("\r\x1b[K"), "{:?}", r.tty);
    assert!(r.tty.ends_with("\r\x1b[K"), "{:?}", r.tty);
    assert_eq!(d.wait_signal(), Some(libc::SIGKILL));

    // On a pipe: quiet.
    let mut d = Decoy::start(true);
    let pid = d.pid().to_string();
    let r = d.run(&["reap-now", &pid, "--deadline", "1s"], QUICK);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.is_empty(), "{:?}", r.stderr);
    assert_eq!(d.wait_signal(), Some(libc::SIGKILL));
}

#[test]
fn reap_now_reaps_the_decoy() {
    let mut d = Decoy::start(false);
    let r = d.run(&["reap-now", "--deadline", "5", "--json"], QUICK);
    // No PID given: a usage error, nothing signalled.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(d.alive());

    let pid = d.pid().to_string();
    let r = d.run(&["reap-now", &pid, "--deadline", "5s", "--json"], QUICK);
    let v = r.json();
    let explain_protected = v["actions"][0]["action"] == "skipped"
        && v["actions"][0]["reason"]
            .as_str()
            .is_some_and(|s| s.starts_with("protected") && s.contains("tmux"));
    if explain_protected {
        assert_eq!(r.code, 3);
        assert!(d.alive());
        return;
    }
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let actions = action_names(&v);
    assert_eq!(actions, ["sigterm", "exited"], "{v}");
    for key in ["next_due_ms", "reclaimed_bytes", "dry_run"] {
        assert!(v.get(key).is_some(), "no {key} in {v}");
    }
    assert_eq!(d.wait_signal(), Some(libc::SIGTERM));
}

#[test]
fn reap_now_never_signals_a_pid_that_is_not_an_agent() {
    let mut d = Decoy::start(false);
    let me = std::process::id().to_string();
    let r = d.run(&["reap-now", &me, "--json"], QUICK);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["actions"][0]["action"], "skipped", "{v}");
    assert!(v["actions"][0]["signal"].is_null(), "{v}");
    assert!(
        v["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not an agent process"),
        "{v}"
    );
    // A stale start time does not match the decoy either.
    let stale = format!("{}:1", d.pid());
    let r = d.run(&["reap-now", &stale], QUICK);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("skipped"), "{}", r.stdout);
    std::thread::sleep(Duration::from_millis(200));
    assert!(d.alive());
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["scan", "--no-such-flag"],
        &["scan", "--min-age"],
        &["scan", "--min-age", "-1"],
        &["scan", "--grace", "5m"],
        &["scan", "--backend", "magic"],
        &["scan", "--argv0-match", "sometimes"],
        &["scan", "--agent-name", ""],
        &["scan", "--leak-marker", "=1"],
        &["scan", "--json=yes"],
        &["scan", "stray"],
        &["cleanup", "--kind", "ghosts"],
        &["cleanup", "--audit-max-bytes", "12parsecs"],
        &["cleanup", "--audit-max-bytes", "100"],
        &["explain", "--kind", "zombies"],
        &["reap-now"],
        &["reap-now", "12abc"],
        &["reap-now", "-5"],
        &["reap-now", "12:x"],
        &["demo", "--all-users"],
        &["watch", "--interval", "0"],
        &["watch", "--interval", "soon"],
        &["watch", "--kind", "everything"],
        &["watch", "--metrics", ""],
        &["history", "--since", "soon"],
        &["history", "--pid", "0"],
        &["history", "--agent-name", "x"],
    ];
    for args in cases {
        let r = run(args, QUICK);
        assert_eq!(r.code, 2, "procreap {args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("procreap: "),
            "procreap {args:?}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "procreap {args:?}: {}", r.stdout);
    }
}

/// A CLI process that runs until stopped (`watch`): each line of its
/// stdout and stderr as it comes, with when it came. Killed and reaped on
/// drop (it is our own child).
struct Running {
    child: Option<Child>,
    lines: std::sync::mpsc::Receiver<Line>,
    seen: Vec<Line>,
}

#[derive(Clone, Debug)]
struct Line {
    at: Instant,
    stderr: bool,
    text: String,
}

impl Running {
    fn start(args: &[String]) -> Running {
        let mut child = Command::new(cli())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting procreap");
        let (tx, rx) = std::sync::mpsc::channel();
        let forward = |r: Box<dyn Read + Send>, stderr: bool| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for text in
                    std::io::BufRead::lines(std::io::BufReader::new(r)).map_while(Result::ok)
                {
                    let at = Instant::now();
                    if tx.send(Line { at, stderr, text }).is_err() {
                        break;
                    }
                }
            });
        };
        forward(Box::new(child.stdout.take().unwrap()), false);
        forward(Box::new(child.stderr.take().unwrap()), true);
        Running {
            child: Some(child),
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// The first line (seen before or coming within `limit`) of stdout, or
    /// stderr, for which `want` holds.
    fn wait_for(&mut self, stderr: bool, limit: Duration, want: impl Fn(&str) -> bool) -> Line {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(l) = self
                .seen
                .iter()
                .find(|l| l.stderr == stderr && want(&l.text))
            {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!(
                    "no such line on {} within {limit:?}; seen:\n{}",
                    if stderr { "stderr" } else { "stdout" },
                    self.text()
                ),
            }
        }
    }

    fn text(&self) -> String {
        self.seen
            .iter()
            .map(|l| format!("{}{}\n", if l.stderr { "E " } else { "O " }, l.text))
            .collect()
    }

    /// SIGTERM, then waits for the exit (within `limit`) and the last lines.
    fn stop(&mut self, limit: Duration) -> i32 {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) of our own child, not reaped yet.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("procreap did not stop within {limit:?}:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers end at EOF, which comes with the exit.
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(l);
        }
        assert!(!self.text().contains("panicked"), "{}", self.text());
        status.code().unwrap_or(-1)
    }

    /// Every stdout line, each one JSON document of schema 1.
    fn documents(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|l| !l.stderr)
            .map(|l| {
                let v: Value = serde_json::from_str(&l.text)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {}", l.text));
                assert_eq!(v["schema"], 1, "{v}");
                v
            })
            .collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A watch event about `pid` with this action.
fn watch_action(line: &str, pid: i32, action: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|v| {
        v["event"] == "action"
            && v["action"]["process"]["pid"] == pid
            && v["action"]["action"] == action
    })
}

/// Parses the Prometheus text exposition format strictly: every family
/// declared once by `# HELP` and `# TYPE` before its samples, which come
/// together; valid metric and label names; label values quoted with only
/// the three escapes; float values; counters named `*_total` and never
/// negative; no series twice; a newline at the end. Returns each series
/// (`name{label="value",…}` as written) with its value.
fn parse_prometheus(text: &str) -> Result<std::collections::BTreeMap<String, f64>, String> {
    use std::collections::{BTreeMap, HashMap};
    let metric_name = |s: &str| {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    };
    let label_name = |s: &str| {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
    };
    if !text.ends_with('\n') {
        return Err("no newline at the end".into());
    }
    let mut help: HashMap<String, ()> = HashMap::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut done: Vec<String> = Vec::new(); // families whose samples ended
    let mut current: Option<String> = None;
    let mut series = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| Err(format!("line {}: {why}: {line:?}", n + 1));
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, arg) = (parts.next(), parts.next(), parts.next());
            let Some(name) = name.filter(|n| metric_name(n)) else {
                return bad("a HELP or TYPE line without a valid name");
            };
            match (kw, arg) {
                (Some("HELP"), Some(h)) if !h.is_empty() => {
                    if help.insert(name.into(), ()).is_some() {
                        return bad("a second HELP");
                    }
                }
                (Some("TYPE"), Some(t)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return bad("an unknown type");
                    }
                    if done.iter().any(|d| d == name) || current.as_deref() == Some(name) {
                        return bad("TYPE after samples");
                    }
                    if types.insert(name.into(), t.into()).is_some() {
                        return bad("a second TYPE");
                    }
                }
                _ => return bad("an unknown comment"),
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| format!("line {}: no value: {line:?}", n + 1))?;
        let name = &line[..name_end];
        if !metric_name(name) {
            return bad("an invalid metric name");
        }
        let Some(kind) = types.get(name) else {
            return bad("a sample before its TYPE");
        };
        if !help.contains_key(name) {
            return bad("a sample without HELP");
        }
        if current.as_deref() != Some(name) {
            if done.iter().any(|d| d == name) {
                return bad("samples of one family apart");
            }
            done.extend(current.take());
            current = Some(name.to_string());
        }
        let mut rest = &line[name_end..];
        let mut labels: Vec<(String, String)> = Vec::new();
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            loop {
                let start = match chars.peek() {
                    Some((_, '}')) => {
                        let (i, _) = chars.next().unwrap();
                        rest = &body[i + 1..];
                        break;
                    }
                    Some((i, _)) => *i,
                    None => return bad("unclosed labels"),
                };
                let eq = body[start..]
                    .find('=')
                    .ok_or_else(|| format!("line {}: a label without '='", n + 1))?;
                let lname = &body[start..start + eq];
                if !label_name(lname) || !body[start + eq + 1..].starts_with('"') {
                    return bad("an invalid label");
                }
                while chars.peek().is_some_and(|(i, _)| *i <= start + eq + 1) {
                    chars.next();
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => return bad("an invalid escape"),
                        },
                        Some((_, '\n')) | None => return bad("an unclosed label value"),
                        Some((_, c)) => value.push(c),
                    }
                }
                if labels.iter().any(|(l, _)| l == lname) {
                    return bad("a label twice");
                }
                labels.push((lname.to_string(), value));
                match chars.peek() {
                    Some((_, ',')) => {
                        chars.next();
                    }
                    Some((_, '}')) => {}
                    _ => return bad("labels not separated by ','"),
                }
            }
        }
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| format!("line {}: no space before the value", n + 1))?
            .split(' ');
        let value: f64 = match fields.next() {
            Some("+Inf") => f64::INFINITY,
            Some("-Inf") => f64::NEG_INFINITY,
            Some("NaN") => f64::NAN,
            Some(v) => match v.parse() {
                Ok(v) => v,
                Err(_) => return bad("a value that is not a float"),
            },
            None => return bad("no value"),
        };
        if let Some(ts) = fields.next() {
            if ts.parse::<i64>().is_err() {
                return bad("a timestamp that is not an integer");
            }
        }
        if fields.next().is_some() {
            return bad("trailing fields");
        }
        if kind == "counter" && (!name.ends_with("_total") || value < 0.0 || value.is_nan()) {
            return bad("a counter not named *_total, or negative");
        }
        let key = if labels.is_empty() {
            name.to_string()
        } else {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("{name}{{{}}}", l.join(","))
        };
        if series.insert(key, value).is_some() {
            return bad("a series twice");
        }
    }
    Ok(series)
}

#[test]
fn the_prometheus_parser_is_strict() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"v\\\"\"} 1\n# HELP g G.\n# TYPE g gauge\ng -2.5e3 1700000000\n";
    let m = parse_prometheus(ok).unwrap();
    assert_eq!(m["a_total{k=\"v\\\"\"}"], 1.0);
    assert_eq!(m["g"], -2500.0);
    for bad in [
        "# HELP a_total A.\n# TYPE a_total counter\na_total 1",
        "a_total 1\n",
        "# HELP a_total A.\na_total 1\n",
        "# HELP a A.\n# TYPE a counter\na 1\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total -1\n",
        "# HELP g G.\n# TYPE g gauge\ng{k=\"v\"} 1\ng{k=\"v\"} 2\n",
        "# HELP g G.\n# TYPE g gauge\ng{k=\"\\t\"} 1\n",
        "# HELP g G.\n# TYPE g gauge\ng{k=v} 1\n",
        "# HELP g G.\n# TYPE g gauge\ng one\n",
        "# HELP g G.\n# TYPE g gauge\n# HELP h H.\n# TYPE h gauge\ng 1\nh 1\ng 2\n",
        "# HELP g G.\n# TYPE g gauge\ng 1\n# TYPE g gauge\n",
        "# HELP 9g G.\n# TYPE 9g gauge\n9g 1\n",
    ] {
        assert!(parse_prometheus(bad).is_err(), "accepted {bad:?}");
    }
}

/// Issue 14: `watch --interval 30s --grace 2s` sends the SIGKILL when the
/// grace ends (not at the next interval), stops on SIGTERM with a summary
/// (exit 0), and its metrics file says what happened.
#[test]
fn watch_kills_when_the_grace_ends_and_stops_on_sigterm() {
    let mut d = Decoy::start(true); // ignores SIGTERM
    if d.in_tmux() {
        return;
    }
    let pid = d.pid();
    let metrics = d.dir.join("procreap.prom");
    let mut args: Vec<String> = ["watch", "--interval", "30s", "--grace", "2s", "--json"]
        .map(String::from)
        .to_vec();
    args.extend(["--metrics".into(), metrics.display().to_string()]);
    args.extend(d.flags("watch"));
    let began = std::time::SystemTime::now();
    let mut w = Running::start(&args);
    let limit = Duration::from_secs(15);
    let term = w.wait_for(false, limit, |l| watch_action(l, pid, "sigterm"));
    let kill = w.wait_for(false, limit, |l| watch_action(l, pid, "sigkill"));
    let took = kill.at - term.at;
    assert!(
        took >= Duration::from_millis(1900) && took <= Duration::from_secs(3),
        "SIGKILL {took:?} after SIGTERM with a 2s grace:\n{}",
        w.text()
    );
    assert_eq!(d.wait_signal(), Some(libc::SIGKILL));
    w.wait_for(false, limit, |l| watch_action(l, pid, "exited"));
    // The wake that saw it exit has written the metrics file.
    w.wait_for(false, limit, |l| {
        serde_json::from_str::<Value>(l).is_ok_and(|v| {
            v["event"] == "wake" && v["steps"][0]["reclaimed_bytes"].as_u64() > Some(0)
        })
    });
    assert_eq!(w.stop(QUICK), 0, "{}", w.text());

    let docs = w.documents();
    for v in &docs {
        assert_eq!(v["command"], "watch", "{v}");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
    }
    assert_eq!(docs[0]["event"], "start", "{}", w.text());
    assert_eq!(docs[0]["interval_ms"], 30_000);
    let s = docs.last().unwrap();
    assert_eq!(s["event"], "summary", "{}", w.text());
    assert_eq!(s["stopped_by"], "SIGTERM", "{s}");
    assert_eq!(s["signals"]["SIGTERM"], 1, "{s}");
    assert_eq!(s["signals"]["SIGKILL"], 1, "{s}");
    assert_eq!((&s["found"], &s["exited"]), (&1.into(), &1.into()), "{s}");
    assert_eq!(s["step_errors"], 0, "{s}");
    let reclaimed = s["reclaimed_bytes"].as_u64().unwrap();
    assert!(reclaimed > 0, "{s}");
    assert!(
        s["runtime_ms"].as_u64().unwrap() < 15_000,
        "not the 30s interval: {s}"
    );

    let text = std::fs::read_to_string(&metrics).unwrap();
    let m = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in\n{text}"));
    let orphans = "{kind=\"orphans\"}";
    assert_eq!(
        get("procreap_signals_total{kind=\"orphans\",signal=\"SIGTERM\"}"),
        1.0
    );
    assert_eq!(
        get("procreap_signals_total{kind=\"orphans\",signal=\"SIGKILL\"}"),
        1.0
    );
    assert_eq!(get(&format!("procreap_found_total{orphans}")), 1.0);
    assert_eq!(get(&format!("procreap_exited_total{orphans}")), 1.0);
    assert_eq!(get(&format!("procreap_candidates{orphans}")), 0.0);
    assert_eq!(get(&format!("procreap_unkillable{orphans}")), 0.0);
    assert_eq!(get(&format!("procreap_step_errors_total{orphans}")), 0.0);
    assert_eq!(
        get(&format!("procreap_reclaimed_bytes_total{orphans}")),
        reclaimed as f64
    );
    assert!(get(&format!("procreap_steps_total{orphans}")) >= 3.0);
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let last = get(&format!("procreap_last_step_timestamp_seconds{orphans}"));
    assert!(
        last >= secs(began) && last <= secs(std::time::SystemTime::now()),
        "{last}"
    );
    // Only the file itself is left: no temp file beside it.
    let left: Vec<String> = std::fs::read_dir(&d.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("prom"))
        .collect();
    assert_eq!(left, ["procreap.prom"]);
}

/// Issue 14: a held lock is logged and retried (1s, then 2s), never the end
/// of the watch; once the lock is free the step runs.
#[test]
fn watch_logs_a_held_lock_and_retries() {
    let mut d = Decoy::start(false);
    if d.in_tmux() {
        return;
    }
    let pid = d.pid();
    let lock = hold_ledger_lock(&d.state_dir());
    let mut args: Vec<String> = ["watch", "--interval", "30s", "--lock-timeout", "300ms"]
        .map(String::from)
        .to_vec();
    args.extend(d.flags("watch"));
    let mut w = Running::start(&args);
    let limit = Duration::from_secs(15);
    let first = w.wait_for(true, limit, |l| {
        l.starts_with("procreap: watch: orphans step failed: lock timeout: ")
            && l.ends_with("next try in 1.0s (1 in a row)")
    });
    let second = w.wait_for(true, limit, |l| {
        l.ends_with("next try in 2.0s (2 in a row)")
    });
    assert!(
        second.at - first.at >= Duration::from_secs(1),
        "{}",
        w.text()
    );
    assert!(d.alive(), "nothing is sent without the lock");
    drop(lock);
    w.wait_for(false, limit, |l| {
        l.contains(&format!("orphans: sigterm pid {pid} ({}, ", d.name))
    });
    assert_eq!(d.wait_signal(), Some(libc::SIGTERM));
    assert_eq!(w.stop(QUICK), 0, "{}", w.text());
    let last = &w.seen.iter().rfind(|l| !l.stderr).unwrap().text;
    assert!(
        last.contains("watch: stopped by SIGTERM after ")
            && last.contains(" 1 SIGTERM and 0 SIGKILL sent")
            && last.ends_with(" 2 step error(s)"),
        "{}",
        w.text()
    );
}

/// Issue 14: `history` tells what happened to the decoy, one line per
/// signal, after a real escalation; `--since` filters.
#[test]
fn history_tells_the_decoys_story() {
    let mut d = Decoy::start(true);
    if d.in_tmux() {
        return;
    }
    let pid = d.pid().to_string();
    let first = d.run(&["cleanup", "--grace", "500ms"], QUICK);
    assert_eq!(first.code, 0, "{}", first.stderr);
    std::thread::sleep(Duration::from_millis(700));
    let second = d.run(&["cleanup", "--grace", "500ms"], QUICK);
    assert!(second.stdout.contains("sigkill"), "{}", second.stdout);
    assert_eq!(d.wait_signal(), Some(libc::SIGKILL));

    let r = d.run(&["history", "--pid", &pid], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    let who = format!("pid {pid} ({}, ", d.name);
    for (l, signal) in lines.iter().zip(["SIGTERM", "SIGKILL"]) {
        assert!(l.starts_with(&who), "{l}");
        assert!(l.contains(", started "), "{l}");
        assert!(l.contains(&format!(") got {signal} at ")), "{l}");
        assert!(
            l.contains(" from a cleanup step: no terminal, not in tmux, age "),
            "{l}"
        );
    }
    assert!(
        lines[1].contains("s after its SIGTERM) from"),
        "{}",
        lines[1]
    );

    let r = d.run(&["history", "--pid", &pid, "--json"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let docs: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3, "{}", r.stdout);
    for (v, (action, story)) in docs
        .iter()
        .zip([("sigterm", lines[0]), ("sigkill", lines[1])])
    {
        assert_eq!(
            (&v["schema"], &v["command"]),
            (&1.into(), &"history".into())
        );
        assert_eq!(v["record"]["pid"].to_string(), pid, "{v}");
        assert_eq!(v["record"]["action"], action, "{v}");
        assert_eq!(v["record"]["call"], "step", "{v}");
        assert_eq!(v["story"], story, "{v}");
    }
    let s = &docs[2];
    assert_eq!(s["summary"]["events"], 2, "{s}");
    assert_eq!(s["summary"]["processes"], 1, "{s}");
    assert_eq!(s["summary"]["skipped_lines"], 0, "{s}");
    assert!(s["error"].is_null(), "{s}");

    // --since: an hour covers both; from now on, nothing.
    let since = |arg: &str| d.run(&["history", "--pid", &pid, "--since", arg], QUICK);
    assert_eq!(since("1h").stdout.lines().count(), 2);
    let none = since("0s");
    assert_eq!(none.code, 0);
    assert!(
        none.stdout
            .starts_with(&format!("no signal recorded for pid {pid} since ")),
        "{}",
        none.stdout
    );
    let other = d.run(&["history", "--pid", "1"], QUICK);
    assert!(
        other.stdout.starts_with("no signal recorded for pid 1 in "),
        "{}",
        other.stdout
    );
}

/// One audit record as the library writes it.
fn audit_record(time: &str, pid: i32, action: &str, signal: &str) -> String {
    format!(
        concat!(
            r#"{{"time":"{t}","call":"step","kind":"orphans","action":"{a}","signal":"{s}","#,
            r#""pid":{p},"start_time":5,"started":"2020-01-01T00:00:00.000Z","name":"prt-x","#,
            r#""cmdline":"prt-x","uid":{u},"rss_bytes":1048576,"reason":"{r}","delivery":"pidfd","#,
            r#""error":null,"agent":null}}"#,
            "\n"
        ),
        t = time,
        a = action,
        s = signal,
        p = pid,
        u = my_uid(),
        r = if action == "skipped" {
            "SIGKILL not sent: has a terminal"
        } else {
            "no terminal, not in tmux, age 1h"
        }
    )
}

/// Issue 14: history reads the rotated file first, skips and counts what is
/// not a whole record, filters with --since (a duration or a time), and
/// refuses a trail that is a symlink, shared or not ours.
#[test]
fn history_reads_both_files_skips_broken_lines_and_refuses_unsafe_ones() {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = std::env::temp_dir().join(format!("procreap-clitest-hist-{}", random_hex(8)));
    let _gone = Cleanup(dir.clone());
    let state = dir.join("state");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&state)
        .unwrap();
    let write = |name: &str, text: &str| {
        let p = state.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write(
        "audit.jsonl.1",
        &audit_record("2020-01-01T00:00:00.000Z", 101, "sigterm", "SIGTERM"),
    );
    let partial = audit_record("2999-01-01T00:00:00.000Z", 303, "sigterm", "SIGTERM");
    write(
        "audit.jsonl",
        &format!(
            "{}not a record\n{}{}",
            audit_record("2020-01-01T00:01:00.000Z", 101, "sigkill", "SIGKILL"),
            audit_record("2999-01-01T00:00:00.000Z", 202, "skipped", "SIGKILL"),
            partial.trim_end()
        ),
    );
    let sd = state.display().to_string();
    let history = |extra: &[&str]| {
        let mut a = vec!["history", "--state-dir", &sd];
        a.extend(extra);
        run(&a, QUICK)
    };
    let r = history(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(
        lines[0].starts_with("pid 101 (prt-x, 1.0M, started 2020-01-01 ")
            || lines[0].starts_with("pid 101 (prt-x, 1.0M, started 2019-12-31 "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(" got SIGTERM at 20"), "{}", lines[0]);
    assert!(
        lines[1].contains(" got SIGKILL at ") && lines[1].contains("(1m00s after its SIGTERM)"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("pid 202 ")
            && lines[2].contains(" was spared SIGKILL at ")
            && lines[2].ends_with(" from a cleanup step: has a terminal"),
        "{}",
        lines[2]
    );
    assert!(r.stderr.contains("skipped 2 line(s)"), "{}", r.stderr);
    let r = history(&["--json"]);
    let last: Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["skipped_lines"], 2, "{last}");
    assert_eq!(
        last["summary"]["files"][0],
        format!("{sd}/audit.jsonl.1"),
        "{last}"
    );
    assert_eq!(
        last["summary"]["files"][1],
        format!("{sd}/audit.jsonl"),
        "{last}"
    );
    // --since, as a duration and as a time; the SIGKILL still knows its SIGTERM.
    let r = history(&["--since", "1h"]);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("pid 202 "), "{}", r.stdout);
    let r = history(&["--since", "2020-01-01T00:00:30Z"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].contains("(1m00s after its SIGTERM)"),
        "{}",
        lines[0]
    );
    assert_eq!(history(&["--since", "soon"]).code, 2);

    // Unsafe trails are refused, with the library's status name.
    let current = state.join("audit.jsonl");
    let refused = |why: &str| {
        let r = history(&["--json"]);
        assert_eq!(r.code, 1, "{why}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["error"]["status"], "unsafe state path", "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains(why), "{m}");
        assert!(
            r.stderr.starts_with("procreap: unsafe state path: "),
            "{}",
            r.stderr
        );
    };
    std::fs::set_permissions(&current, std::fs::Permissions::from_mode(0o620)).unwrap();
    refused("is writable by group or others");
    std::fs::set_permissions(&current, std::fs::Permissions::from_mode(0o600)).unwrap();
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&current, Some(65534), None).unwrap();
        refused("is owned by uid 65534");
        std::os::unix::fs::chown(&current, Some(0), None).unwrap();
    }
    let elsewhere = dir.join("elsewhere.jsonl");
    std::fs::rename(&current, &elsewhere).unwrap();
    symlink(&elsewhere, &current).unwrap();
    refused("audit trail");
    refused("is a symlink");
    std::fs::remove_file(&current).unwrap();
    let link = dir.join("link");
    symlink(&state, &link).unwrap();
    let r = run(
        &["history", "--state-dir", &link.display().to_string()],
        QUICK,
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("state dir") && r.stderr.contains("is a symlink"),
        "{}",
        r.stderr
    );
    // No trail at all: said, not an error.
    let r = run(
        &[
            "history",
            "--state-dir",
            &dir.join("none").display().to_string(),
        ],
        QUICK,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("no audit trail in "), "{}", r.stdout);
}

/// Removes a directory of the test's own when dropped.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A leaked descendant of our own: a private agent (a `sh` under a
/// `prt-cli…` name, in its own session and group) starts a `sleep` that
/// carries the decoy's private marker and exits, leaving it behind. The
/// `sleep` is reparented away from us: teardown kills it by identity.
struct Leaked {
    decoy: Decoy,
    pid: i32,
    start_time: u64,
}

impl Leaked {
    fn start() -> Leaked {
        // A decoy for its name, dir and flags; its own `sleep` agent is
        // stopped first, so that no agent of that name lives.
        let mut decoy = Decoy::start(false);
        if let Some(mut c) = decoy.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The agent: a shell under the decoy's name (the kernel names the
        // process after the file).
        let agent = decoy.dir.join("agent").join(&decoy.name);
        std::fs::create_dir_all(agent.parent().unwrap()).unwrap();
        symlink("/bin/sh", &agent).unwrap();
        let pidfile = decoy.dir.join("leaked.pid");
        let script = format!(
            "{} sleep 600 </dev/null >/dev/null 2>&1 & echo $! > {}",
            decoy.marker(),
            pidfile.display()
        );
        let mut c = Command::new(&agent);
        c.args(["-c", &script])
            .current_dir(&decoy.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        assert!(c.status().expect("the agent shell").success());
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Its argv and environment are in place once it runs `sleep`.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map_or(true, |c| c.trim_end() != "sleep")
            || std::fs::read(format!("/proc/{pid}/cmdline")).map_or(true, |a| a.is_empty())
        {
            assert!(Instant::now() < deadline, "the leaked child never exec'd");
            std::thread::sleep(Duration::from_millis(10));
        }
        let start_time = start_time_of(pid).expect("the leaked sleep runs");
        Leaked {
            decoy,
            pid,
            start_time,
        }
    }

    fn alive(&self) -> bool {
        start_time_of(self.pid) == Some(self.start_time)
    }
}

/// The start time of `pid` if it runs (not defunct).
fn start_time_of(pid: i32) -> Option<u64> {
    let st = procreap::parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)?;
    (!matches!(st.state, 'Z' | 'X' | 'x')).then_some(st.start_time)
}

impl Drop for Leaked {
    fn drop(&mut self) {
        support::kill_exact(self.pid, self.start_time);
    }
}

/// Issue 15 (CLI): `scan` shows a leaked descendant in its own section
/// with its memory, `explain` says why (also for a marker given by name
/// alone), `cleanup --kind leaked` escalates it, `history` tells it.
#[test]
fn leaked_descendants_are_scanned_cleaned_up_and_told() {
    let l = Leaked::start();
    let (d, pid) = (&l.decoy, l.pid);
    let v = d.run(&["explain", "--json"], QUICK).json();
    let e = entry_for(&v["verdicts"], pid).unwrap_or_else(|| panic!("not listed: {v}"));
    if e["verdict"] == "protected" {
        eprintln!("note: the leaked decoy is protected here: {e}");
        return;
    }
    assert_eq!(e["verdict"], "leaked", "{e}");
    let reason = e["reason"].as_str().unwrap();
    let carries = format!("carries {}; its process group leader pid ", d.marker());
    assert!(reason.starts_with(&carries), "{reason}");
    let name_only = d.marker().split('=').next().unwrap().to_string();
    let mut args: Vec<String> = vec!["explain".into(), "--json".into()];
    args.extend(d.flags("explain").into_iter().filter(|f| !f.contains('=')));
    args.retain(|a| a != "--leak-marker");
    args.extend(["--leak-marker".into(), name_only]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = run(&args, QUICK).json();
    let e = entry_for(&v["verdicts"], pid).unwrap_or_else(|| panic!("not listed: {v}"));
    assert_eq!(e["verdict"], "leaked", "a marker by name alone: {e}");

    let v = d.run(&["scan", "--json"], QUICK).json();
    let p = entry_for(&v["leaked"]["processes"], pid).unwrap_or_else(|| panic!("{v}"));
    let rss = p["rss_bytes"].as_u64().unwrap();
    assert!(rss > 0, "{p}");
    assert_eq!(v["leaked"]["rss_bytes"], rss, "{v}");
    assert_eq!(v["rss_bytes"], rss, "{v}");
    assert_eq!(v["orphans"]["processes"], serde_json::json!([]), "{v}");
    let t = d.run(&["scan"], QUICK).stdout;
    assert!(t.contains("leaked: 1, "), "{t}");
    assert!(t.lines().any(|l| l.starts_with(&format!("{pid} "))), "{t}");

    let r = d.run(
        &["cleanup", "--kind", "leaked", "--grace", "5s", "--json"],
        QUICK,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["kind"], "leaked", "{v}");
    assert_eq!(action_names(&v), ["sigterm"], "{v}");
    assert!(
        wait_until(Duration::from_secs(5), || !l.alive()),
        "the sleep ignored SIGTERM"
    );
    let r = d.run(&["cleanup", "--kind", "leaked"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("exited"), "{}", r.stdout);
    assert!(
        r.stdout.contains("reclaimed ") && !r.stdout.contains("reclaimed 0B"),
        "{}",
        r.stdout
    );

    let r = d.run(&["history", "--pid", &pid.to_string()], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!("pid {pid} (sleep, "))
            && r.stdout.contains(" got SIGTERM at ")
            && r.stdout.contains(&format!(
                " from a cleanup step for leaked descendants: {carries}"
            )),
        "{}",
        r.stdout
    );
}

/// examples/systemd: the units pass `systemd-analyze verify` without a
/// warning (where systemd-analyze exists), set no option that would put a
/// user service in a user namespace, and each command line they run
/// is one the CLI runs: here with private names and state appended (later
/// flags win), the watch stopped by SIGTERM.
#[test]
fn systemd_units_verify_and_their_commands_run() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/systemd");
    let tmp = std::env::temp_dir().join(format!("procreap-clitest-units-{}", random_hex(8)));
    let _gone = Cleanup(tmp.clone());
    std::fs::create_dir_all(tmp.join("run")).unwrap();
    let units = [
        "procreap-watch.service",
        "procreap-cleanup.service",
        "procreap-cleanup.timer",
    ];
    let mut execs: Vec<(String, bool, Vec<String>)> = Vec::new();
    for unit in units {
        let text = std::fs::read_to_string(src.join(unit)).unwrap();
        for line in text.lines() {
            if let Some(cmd) = line.strip_prefix("ExecStart=") {
                let (may_fail, cmd) = match cmd.strip_prefix('-') {
                    Some(c) => (true, c),
                    None => (false, cmd),
                };
                let mut words = cmd.split_whitespace().map(String::from);
                assert_eq!(
                    words.next().as_deref(),
                    Some("/usr/local/bin/procreap"),
                    "{line}"
                );
                execs.push((unit.to_string(), may_fail, words.collect()));
            }
        }
        // The fourth outside attack: in a user service, any option that
        // needs a namespace runs it in a user namespace of its own, from
        // which none of your processes can be read.
        for option in [
            "PrivateUsers=",
            "ProtectSystem=",
            "ProtectHome=",
            "PrivateDevices=",
            "PrivateNetwork=",
            "PrivateTmp=",
            "PrivateIPC=",
            "ProtectKernelTunables=",
            "ProtectKernelModules=",
            "ProtectKernelLogs=",
            "ProtectControlGroups=",
            "ProtectHostname=",
            "ProtectClock=",
            "ProtectProc=",
            "ProcSubset=",
        ] {
            assert!(
                !text.lines().any(|l| l.starts_with(option)),
                "{unit} sets {option}: a user namespace, blind"
            );
        }
        let here = text.replace("/usr/local/bin/procreap", &cli().display().to_string());
        std::fs::write(tmp.join(unit), here).unwrap();
    }
    let words: Vec<String> = execs.iter().map(|e| e.2.join(" ")).collect();
    assert_eq!(
        words,
        [
            "watch --kind all --interval 60s",
            "cleanup --kind orphans",
            "cleanup --kind leaked",
            "cleanup --kind zombies"
        ]
    );
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(o) if o.status.success() => {
            std::fs::set_permissions(
                tmp.join("run"),
                std::os::unix::fs::PermissionsExt::from_mode(0o700),
            )
            .unwrap();
            let out = Command::new("systemd-analyze")
                .args(["--user", "verify", "--man=no"])
                .args(units.map(|u| tmp.join(u)))
                .env("XDG_RUNTIME_DIR", tmp.join("run"))
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && said.trim().is_empty(), "{said}");
        }
        _ => eprintln!("skipped: systemd-analyze is not installed; the units were not verified"),
    }
    let private = [
        "--agent-name".to_string(),
        format!("prt-cli{}", random_hex(6)),
        "--leak-marker".into(),
        format!("PRT_LEAK_{}=1", random_hex(6)),
        "--workspace-marker".into(),
        String::new(),
        "--state-dir".into(),
        tmp.join("state").display().to_string(),
    ];
    for (unit, may_fail, args) in &execs {
        let mut args = args.clone();
        args.extend(private.iter().cloned());
        if args[0] == "watch" {
            let mut w = Running::start(&args);
            w.wait_for(false, QUICK, |l| {
                l.contains(" watch: orphans, zombies, leaked every 1m00s or when a step is due")
            });
            assert_eq!(w.stop(QUICK), 0, "{unit}: {}", w.text());
            continue;
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args, QUICK);
        let refused_blind = *may_fail && r.code == 1 && r.stderr.contains("tmux unavailable");
        assert!(
            r.code == 0 || refused_blind,
            "{unit} {args:?}: {}",
            r.stderr
        );
    }
}
