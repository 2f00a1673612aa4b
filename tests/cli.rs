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
    fn flags(&self, command: &str) -> Vec<String> {
        let mut f: Vec<String> = vec![
            "--agent-name".into(),
            self.name.clone(),
            "--workspace-marker".into(),
            String::new(),
            "--min-age".into(),
            "0".into(),
        ];
        if matches!(command, "cleanup" | "reap-now") {
            f.extend(["--state-dir".into(), self.state_dir().display().to_string()]);
        }
        f
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
    has(
        &["--help"],
        &[
            "scan",
            "explain",
            "cleanup",
            "reap-now",
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
        for word in ["reap-now", "agent-name", "leak-marker", "version-like"] {
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
