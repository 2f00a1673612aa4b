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
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the CLI; a run that outlives `limit` is killed (it is our child) and fails the test.
fn run(args: &[&str], limit: Duration) -> Run {
    let mut child = Command::new(cli())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the procreap example");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
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
    let r = Run {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "procreap {args:?} panicked:\n{}",
        r.stderr
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

    /// Flags that make the CLI see exactly this decoy.
    fn flags(&self) -> Vec<String> {
        vec![
            "--agent-name".into(),
            self.name.clone(),
            "--workspace-marker".into(),
            String::new(),
            "--min-age".into(),
            "0".into(),
            "--state-dir".into(),
            self.state_dir().display().to_string(),
        ]
    }

    fn run(&self, pre: &[&str], limit: Duration) -> Run {
        let flags = self.flags();
        let mut args: Vec<&str> = pre.to_vec();
        args.extend(flags.iter().map(String::as_str));
        run(&args, limit)
    }

    /// Not exited (a child that exited is reaped here).
    fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().unwrap().try_wait(), Ok(None))
    }

    /// Waits for the decoy to exit and returns the signal that ended it.
    fn wait_signal(&mut self) -> Option<i32> {
        self.child.take().unwrap().wait().unwrap().signal()
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
fn explain_json_lists_the_decoy_as_orphan() {
    let d = Decoy::start(false);
    let r = d.run(&["explain", "--json"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let list = v.as_array().expect("explain --json is a list");
    assert_eq!(list.len(), 1, "only the decoy has its name: {v}");
    let e = entry_for(&v, d.pid()).expect("the decoy is listed");
    assert_eq!(e["name"], d.name.as_str());
    assert!(e["start_time"].as_u64().is_some(), "{e}");
    assert!(e["tty"].is_null(), "{e}");
    for key in [
        "ppid",
        "age_secs",
        "state",
        "workspace_root",
        "cmdline",
        "reason",
    ] {
        assert!(e.get(key).is_some(), "no {key} in {e}");
    }
    if !under_tmux(e) {
        assert_eq!(e["verdict"], "orphan", "{e}");
    }
}

#[test]
fn scan_json_reports_orphans_and_the_zombie_outcome() {
    let d = Decoy::start(false);
    let r = d.run(&["scan", "--json"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let explain = d.run(&["explain", "--json"], QUICK).json();
    let protected = under_tmux(entry_for(&explain, d.pid()).unwrap());
    assert_eq!(
        entry_for(&v["orphans"], d.pid()).is_some(),
        !protected,
        "{v}"
    );
    // Either a zombie list, or null with the reason (no tmux: exit 0 still).
    match &v["zombies"] {
        Value::Array(_) => assert!(v["zombies_error"].is_null(), "{v}"),
        Value::Null => assert!(
            v["zombies_error"]
                .as_str()
                .is_some_and(|e| e.contains("tmux")),
            "{v}"
        ),
        other => panic!("zombies is {other}"),
    }
    // The table form says the same.
    let t = d.run(&["scan"], QUICK);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(t.stdout.contains("orphans:") && t.stdout.contains("zombies:"));
}

#[test]
fn cleanup_dry_run_json_leaves_the_decoy_alive() {
    let mut d = Decoy::start(false);
    let r = d.run(&["cleanup", "--dry-run", "--json"], QUICK);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["kind"], "orphans", "{v}");
    assert!(v["error"].is_null(), "{v}");
    let actions = v["actions"].as_array().expect("actions");
    let explain = d.run(&["explain", "--json"], QUICK).json();
    if !under_tmux(entry_for(&explain, d.pid()).unwrap()) {
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
    let first = d.run(&["cleanup", "--json", "--grace", "0.5"], QUICK);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let v = first.json();
    let explain = d.run(&["explain", "--json"], QUICK).json();
    if under_tmux(entry_for(&explain, d.pid()).unwrap()) {
        assert!(d.alive());
        return;
    }
    assert_eq!(v["actions"][0]["action"], "sigterm", "{v}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(d.alive(), "the decoy ignores SIGTERM");
    std::thread::sleep(Duration::from_millis(400));
    let second = d.run(&["cleanup", "--grace", "0.5"], QUICK);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stdout.contains("sigkill"), "{}", second.stdout);
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
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("ledger")),
        "{v}"
    );
    assert!(r.stderr.starts_with("procreap: "), "{}", r.stderr);
}

#[test]
fn reap_now_reaps_the_decoy() {
    let mut d = Decoy::start(false);
    let r = d.run(&["reap-now", "--deadline", "5", "--json"], QUICK);
    // No PID given: a usage error, nothing signalled.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(d.alive());

    let pid = d.pid().to_string();
    let r = d.run(&["reap-now", &pid, "--deadline", "5", "--json"], QUICK);
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
    let actions: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["sigterm", "exited"], "{v}");
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
        &["scan", "--grace", "soon"],
        &["scan", "--backend", "magic"],
        &["scan", "--agent-name", ""],
        &["scan", "--json=yes"],
        &["scan", "stray"],
        &["cleanup", "--kind", "ghosts"],
        &["explain", "--kind", "zombies"],
        &["reap-now"],
        &["reap-now", "12abc"],
        &["reap-now", "-5"],
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

#[test]
fn help_documents_commands_flags_and_exit_codes() {
    let r = run(&["--help"], QUICK);
    assert_eq!(r.code, 0);
    for s in [
        "scan",
        "explain",
        "cleanup",
        "reap-now",
        "demo",
        "--json",
        "--agent-name",
        "--argv0-match",
        "--min-age",
        "--grace",
        "--workspace-marker",
        "--workspace-root",
        "--ide-marker",
        "--protected-pid-file",
        "--protected-pid",
        "--tmux-socket",
        "--all-users",
        "--kill-tree",
        "--state-dir",
        "--dry-run",
        "--subprocess-timeout",
        "--lock-timeout",
        "--backend",
        "--deadline",
        "EXIT STATUS",
        "  0  ",
        "  1  ",
        "  2  ",
        "  3  ",
    ] {
        assert!(r.stdout.contains(s), "--help does not mention {s:?}");
    }
    assert_eq!(run(&["scan", "-h"], QUICK).code, 0);
}
