//! Issue 10 (records, pidfd) and issue 14 (memory, audit, timing): what a
//! cleanup call writes down and reports, on real processes with real
//! signals. No signal without its record; a lock ends with its call; a dry
//! run writes nothing; every signal leaves an audit line.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use procreap::ledger::Contents;
use procreap::{cleanup_step, reap_now, ActionKind, Config, Delivery, Error, Kind};
use serde_json::Value;
use support::*;

/// The lab's config with a grace too long to reach during a test.
fn patient(lab: &Lab) -> Config {
    Config {
        grace: Duration::from_secs(3600),
        ..lab.config()
    }
}

fn ledger_of(lab: &Lab) -> Option<Contents> {
    let bytes = std::fs::read(lab.state.join("ledger")).ok()?;
    Some(Contents::decode(&bytes).expect("ledger parses"))
}

fn audit_lines(dir: &std::path::Path, file: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Issue 10 item 7: a full disk (a private tmpfs with no room) means the
/// intent cannot be written, so nothing is sent and the step fails with an
/// I/O error; with room again, the one SIGTERM goes out.
#[test]
fn on_a_full_disk_nothing_is_sent_and_the_step_fails() {
    if !in_mount_namespace(
        "on_a_full_disk_nothing_is_sent_and_the_step_fails",
        "full disk checked",
    ) {
        return;
    }
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    std::fs::create_dir_all(&lab.state).unwrap();
    let state = lab.state.to_str().unwrap().to_string();
    assert!(run(
        "mount",
        &["-t", "tmpfs", "-o", "size=64k,mode=700", "prt", &state]
    ));
    let filler = lab.state.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", &format!("of={}", filler.display()), "bs=4k"])
        .stderr(Stdio::null())
        .status();
    let cfg = patient(&lab);
    match cleanup_step(&cfg, Kind::Orphans) {
        Err(Error::Io { context, .. }) => {
            assert!(context.contains("nothing was sent"), "{context}")
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(d.terms(), 0, "no signal without its record");
    assert!(d.alive());
    std::fs::remove_file(&filler).unwrap();
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    assert!(wait_until(Duration::from_secs(3), || d.terms() == 1));
    let names: Vec<String> = std::fs::read_dir(&lab.state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
    let _ = run("umount", &[&state]);
    println!("full disk checked");
}

/// A child of the tests that runs one cleanup step (for the crash test).
#[test]
fn stepper_child() {
    let (Some(state), Some(names)) = (
        std::env::var_os("PRT_STEPPER_STATE"),
        std::env::var("PRT_STEPPER_NAMES").ok(),
    ) else {
        return;
    };
    let cfg = Config {
        agent_names: names.split(',').map(String::from).collect(),
        min_age: Duration::ZERO,
        grace: Duration::from_secs(3600),
        workspace_marker: String::new(),
        protected_pid_files: vec![],
        state_dir: Some(state.into()),
        lock_timeout: Duration::from_secs(20),
        kill_tree: std::env::var_os("PRT_STEPPER_KILL_TREE").is_some(),
        ..Config::default()
    };
    let r = cleanup_step(&cfg, Kind::Orphans);
    if let Ok(r) = r {
        for a in &r.actions {
            println!("action {} {} {}", a.process.id.pid, a.action, a.reason);
        }
    }
    println!("stepper done");
}

/// The outside attack's worst case: an agent that runs a cleanup step
/// with kill_tree itself (as a tool) is a candidate, and its descendants
/// include the very process running the step. The caller and its
/// ancestors are never signalled.
#[test]
fn the_caller_and_its_ancestors_are_never_signalled() {
    let mut lab = Lab::new();
    let name = lab.name();
    let out = lab.dir.join("stepper.out");
    let agent = lab.dir.join(&name);
    write_script(
        &agent,
        &format!(
            "trap 'echo TERM >> {log}' TERM\n'{exe}' --exact stepper_child --nocapture --test-threads=1 > '{out}' 2>&1\nwhile :; do read -r x || exit 0; done",
            log = lab.dir.join(format!("{name}.log")).display(),
            exe = std::env::current_exe().unwrap().display(),
            out = out.display(),
        ),
    );
    let mut c = Command::new(&agent);
    c.env("PRT_STEPPER_STATE", &lab.state)
        .env("PRT_STEPPER_NAMES", &name)
        .env("PRT_STEPPER_KILL_TREE", "1");
    let pid = lab.spawn_io(c, Stdio::piped());
    let d = Decoy {
        pid,
        log: lab.dir.join(format!("{name}.log")),
    };
    assert!(
        wait_until(Duration::from_secs(30), || std::fs::read_to_string(&out)
            .is_ok_and(|o| o.contains("stepper done"))),
        "the stepper did not finish: {:?}",
        std::fs::read_to_string(&out)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(d.terms(), 0, "the caller's ancestor got SIGTERM: {text}");
    assert!(d.alive());
    assert!(!text.contains(" sigterm "), "{text}");
}

/// Issue 10 item 7: a stepper killed (SIGKILL) at any moment — before,
/// during or after its intent is written, between its signal and its last
/// save — never leads to a second SIGTERM for the same process, and the
/// next step cleans up the temp files it left.
#[test]
fn a_stepper_killed_at_any_moment_never_causes_a_second_sigterm() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let exe = std::env::current_exe().unwrap();
    // Spread the kills over the child's start and its step.
    let mut rng = std::process::id() as u64 | 1;
    for i in 0..60 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_micros(rng % 40_000);
        let mut child = Command::new(&exe)
            .args(["--exact", "stepper_child", "--test-threads=1"])
            .env("PRT_STEPPER_STATE", &lab.state)
            .env("PRT_STEPPER_NAMES", lab.names.join(","))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        assert!(d.terms() <= 1, "round {i}: {} SIGTERMs", d.terms());
    }
    // A last step, uninterrupted: the decoy has its one SIGTERM.
    let r = step(&patient(&lab), Kind::Orphans);
    assert!(
        wait_until(Duration::from_secs(3), || d.terms() == 1),
        "{r:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.terms(), 1, "exactly one SIGTERM in all");
    let e = ledger_of(&lab).expect("a ledger");
    assert_eq!(e.entries.len(), 1);
    assert_eq!(e.entries[0].id, d.identity());
    let names: Vec<String> = std::fs::read_dir(&lab.state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
}

/// Issue 10 item 8: a child the host forks while a call holds the ledger
/// lock shares the lock's open file; the lock still ends with the call.
#[test]
fn a_child_forked_during_a_call_does_not_keep_the_lock() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let cfg = lab.config();
    let id = d.identity();
    let holder = {
        let cfg = cfg.clone();
        std::thread::spawn(move || reap_now(&cfg, &[id], Duration::from_secs(2)))
    };
    // Fork while reap now waits (it holds the lock for ~2 s).
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: the child only calls async-signal-safe functions.
    let child = unsafe { libc::fork() };
    if child == 0 {
        unsafe {
            libc::pause();
            libc::_exit(0);
        }
    }
    assert!(child > 0);
    let r = holder.join().unwrap().unwrap();
    assert!(
        actions_for(&r, d.pid).contains(&ActionKind::Sigkill),
        "{r:?}"
    );
    let quick = Config {
        lock_timeout: Duration::from_millis(500),
        ..cfg
    };
    let after = cleanup_step(&quick, Kind::Orphans);
    // SAFETY: kill(2) and waitpid of the child we just forked.
    unsafe {
        libc::kill(child, libc::SIGKILL);
        libc::waitpid(child, std::ptr::null_mut(), 0);
    }
    assert!(after.is_ok(), "the forked child kept the lock: {after:?}");
}

/// Issue 10 item 9: a zombie step that cannot run (blind: no tmux, nothing
/// protected) stops before it touches the ledger, so a corrupt ledger is not
/// moved aside silently; the next step that loads it reports it.
#[test]
fn a_zombie_step_that_cannot_run_leaves_the_ledger_for_the_next_to_report() {
    if std::env::var_os("PRT_IN_PID_NS").is_none() {
        if pid_namespaces_available() {
            let (ok, text) = rerun(
                "a_zombie_step_that_cannot_run_leaves_the_ledger_for_the_next_to_report",
                &["unshare", "--pid", "--fork", "--mount-proc"],
                &[("PRT_IN_PID_NS", "1")],
            );
            assert!(ok && text.contains("quarantine reported"), "{text}");
        }
        return;
    }
    let lab = Lab::new();
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let ledger = lab.state.join("ledger");
    std::fs::write(&ledger, "garbage\n").unwrap();
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = lab.config();
    match cleanup_step(&cfg, Kind::Zombies) {
        Err(Error::TmuxUnavailable(_)) => {}
        other => panic!("expected tmux unavailable, got {other:?}"),
    }
    assert!(
        ledger.exists(),
        "a step that did not run moved nothing aside"
    );
    let r = cleanup_step(&cfg, Kind::Orphans).unwrap();
    assert!(
        matches!(r.error, Some(Error::LedgerCorrupt(_))),
        "{:?}",
        r.error
    );
    let aside = std::fs::read_dir(&lab.state)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("ledger.corrupt-")
        })
        .count();
    assert_eq!(aside, 1, "quarantined by the step that loaded it");
    assert!(ledger_of(&lab).is_some(), "a fresh ledger in its place");
    println!("quarantine reported");
}

/// Issue 10 item 10: a dry run creates nothing (not the state dir, not
/// the lock file) and works on a read-only state dir.
#[test]
fn a_dry_run_writes_nothing_not_even_the_lock() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let cfg = Config {
        dry_run: true,
        ..lab.config()
    };
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    assert!(r.actions.iter().all(|a| a.dry_run));
    assert!(!lab.state.exists(), "no state dir was made");
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    let files: Vec<_> = std::fs::read_dir(&lab.state).unwrap().collect();
    assert!(files.is_empty(), "{files:?}");
    assert_eq!(d.terms(), 0);
    if !in_mount_namespace(
        "a_dry_run_writes_nothing_not_even_the_lock",
        "read-only checked",
    ) {
        return;
    }
    // A read-only state dir (root writes anywhere else).
    let state = lab.state.to_str().unwrap().to_string();
    assert!(run("mount", &["--bind", &state, &state]));
    assert!(run("mount", &["-o", "remount,ro,bind", &state]));
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    let real = cleanup_step(
        &Config {
            dry_run: false,
            ..cfg
        },
        Kind::Orphans,
    );
    assert!(
        real.is_err(),
        "a real step cannot lock a read-only dir: {real:?}"
    );
    assert_eq!(d.terms(), 0);
    let _ = run("umount", &[&state]);
    println!("read-only checked");
}

/// Installs a seccomp filter on every thread of this process that answers
/// `pidfd_open` with EPERM (what some container profiles do).
fn refuse_pidfd_open() {
    let nr = libc::SYS_pidfd_open as u32;
    let filter = [
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0, // seccomp_data.nr
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: nr,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: prctl and seccomp with a valid filter program.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        let rc = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &prog as *const libc::sock_fprog,
        );
        assert_eq!(rc, 0, "seccomp: {}", std::io::Error::last_os_error());
    }
}

/// Issue 10 item 4: where `pidfd_open` is refused, the fallback (re-check,
/// then kill(2)) is visible on the action; with `require_pidfd` the signal
/// is skipped with the reason, and both leave an audit line.
#[test]
fn without_pidfds_the_fallback_is_visible_and_require_pidfd_skips() {
    if std::env::var_os("PRT_NO_PIDFD").is_none() {
        // Here pidfds work: every signal says so.
        let mut lab = Lab::new();
        let d = lab.script_agent(OnTerm::Ignore, &[]);
        let r = step(&patient(&lab), Kind::Orphans);
        let a = r
            .actions
            .iter()
            .find(|a| a.process.id.pid == d.pid)
            .unwrap();
        assert_eq!(a.delivery, Delivery::Pidfd, "{a:?}");
        let (ok, text) = rerun(
            "without_pidfds_the_fallback_is_visible_and_require_pidfd_skips",
            &[],
            &[("PRT_NO_PIDFD", "1")],
        );
        assert!(ok && text.contains("pidfd fallback checked"), "{text}");
        return;
    }
    refuse_pidfd_open();
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let strict = Config {
        require_pidfd: true,
        ..patient(&lab)
    };
    let r = step(&strict, Kind::Orphans);
    let a = r
        .actions
        .iter()
        .find(|a| a.process.id.pid == d.pid)
        .unwrap();
    assert_eq!(a.action, ActionKind::Skipped, "{a:?}");
    assert!(a.reason.contains("require_pidfd"), "{}", a.reason);
    assert_eq!(a.delivery, Delivery::None);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(d.terms(), 0);
    let r = step(&patient(&lab), Kind::Orphans);
    let a = r
        .actions
        .iter()
        .find(|a| a.process.id.pid == d.pid)
        .unwrap();
    assert_eq!(a.action, ActionKind::Sigterm, "{a:?}");
    assert_eq!(a.delivery, Delivery::Kill);
    assert!(a.reason.contains("kill(2)"), "{}", a.reason);
    assert!(wait_until(Duration::from_secs(3), || d.terms() == 1));
    let lines = audit_lines(&lab.state, "audit.jsonl");
    let kinds: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["delivery"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, vec![("skipped", "none"), ("sigterm", "kill")]);
    println!("pidfd fallback checked");
}

/// Issue 14: one audit line per signal after an escalation, with every
/// field the issue lists.
#[test]
fn every_signal_leaves_an_audit_line() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let cfg = lab.config();
    step(&cfg, Kind::Orphans);
    std::thread::sleep(cfg.grace);
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigkill]);
    let lines = audit_lines(&lab.state, "audit.jsonl");
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (l, (action, signal)) in lines
        .iter()
        .zip([("sigterm", "SIGTERM"), ("sigkill", "SIGKILL")])
    {
        assert_eq!(l["action"], action);
        assert_eq!(l["signal"], signal);
        assert_eq!(l["call"], "step");
        assert_eq!(l["kind"], "orphans");
        assert_eq!(l["pid"], d.pid);
        assert_eq!(l["start_time"], d.identity().start_time);
        assert_eq!(l["name"], lab.names[0].as_str());
        assert!(l["cmdline"].as_str().unwrap().contains(&lab.names[0]));
        assert_eq!(l["uid"], nix::unistd::geteuid().as_raw());
        assert_eq!(l["delivery"], "pidfd");
        assert!(l["reason"].as_str().unwrap().contains("no terminal"), "{l}");
        let t = l["time"].as_str().unwrap();
        assert!(
            t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
        assert!(l["started"].as_str().unwrap().ends_with('Z'));
        assert_eq!(l["scope"]["names"][0], lab.names[0].as_str());
        assert_eq!(l["scope"]["workspace_root"], Value::Null);
        assert_eq!(l["version"], procreap::VERSION);
        assert_eq!(l["caller_pid"], std::process::id());
    }
    let mode = std::fs::metadata(lab.state.join("audit.jsonl"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Nothing in a dry run, nothing with audit off.
    let mut lab2 = Lab::new();
    let d2 = lab2.script_agent(OnTerm::Ignore, &[]);
    let off = Config {
        audit: false,
        ..patient(&lab2)
    };
    assert_eq!(
        actions_for(&step(&off, Kind::Orphans), d2.pid),
        vec![ActionKind::Sigterm]
    );
    assert!(!lab2.state.join("audit.jsonl").exists());
}

/// Issue 14: the trail rotates at `audit_max_bytes`; an audit file that
/// is a symlink is refused (reported) while the signal, already recorded in
/// the ledger, still goes out.
#[test]
fn the_audit_trail_rotates_and_refuses_a_symlink() {
    let mut lab = Lab::new();
    let decoys: Vec<Decoy> = (0..10)
        .map(|_| lab.script_agent(OnTerm::Ignore, &[]))
        .collect();
    let cfg = Config {
        audit_max_bytes: 4096,
        ..patient(&lab)
    };
    for d in &decoys {
        let one = Config {
            agent_names: vec![std::fs::read_to_string(format!("/proc/{}/comm", d.pid))
                .unwrap()
                .trim_end()
                .to_string()],
            ..cfg.clone()
        };
        step(&one, Kind::Orphans);
    }
    let now = audit_lines(&lab.state, "audit.jsonl");
    let old = audit_lines(&lab.state, "audit.jsonl.1");
    assert!(!old.is_empty(), "rotated");
    let size = std::fs::metadata(lab.state.join("audit.jsonl"))
        .unwrap()
        .len();
    assert!(size <= 4096, "{size}");
    let last = decoys.last().unwrap().pid;
    assert!(now.iter().any(|l| l["pid"] == last));
    assert!(now.len() + old.len() <= decoys.len());

    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let elsewhere = lab.dir.join("elsewhere");
    std::fs::write(&elsewhere, "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, lab.state.join("audit.jsonl")).unwrap();
    let r = cleanup_step(&patient(&lab), Kind::Orphans).unwrap();
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    match &r.error {
        Some(Error::UnsafeStatePath(m)) => {
            assert!(m.contains("audit") && m.contains("symlink"), "{m}")
        }
        other => panic!("expected the audit refusal, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "");
    assert!(wait_until(Duration::from_secs(3), || d.terms() == 1));
}

/// Issue 14: a report says when the next step has something to do.
#[test]
fn next_due_says_when_the_next_step_has_work() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let cfg = Config {
        grace: Duration::from_secs(2),
        ..lab.config()
    };
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    let due = r.next_due.expect("a grace is running");
    assert!(
        due <= cfg.grace && cfg.grace - due < Duration::from_millis(100),
        "{due:?}"
    );
    // A too-young candidate: due when it reaches min_age.
    let mut lab = Lab::new();
    let young = lab.script_agent(OnTerm::Ignore, &[]);
    let cfg = Config {
        min_age: Duration::from_secs(3),
        ..lab.config()
    };
    let r = step(&cfg, Kind::Orphans);
    assert!(actions_for(&r, young.pid).is_empty());
    let due = r.next_due.expect("a candidate is coming of age");
    assert!(
        due <= Duration::from_secs(3) && due > Duration::from_secs(2),
        "{due:?}"
    );
    // Nothing pending.
    let lab = Lab::new();
    assert_eq!(step(&lab.config(), Kind::Orphans).next_due, None);
}

/// A decoy under a private name that holds `mib` MiB resident (perl
/// filling a string) and exits on SIGTERM.
fn memory_decoy(lab: &mut Lab, mib: u32) -> Decoy {
    let name = lab.name();
    let bin = lab.dir.join(&name);
    std::os::unix::fs::symlink(which("perl"), &bin).unwrap();
    let mut c = Command::new(&bin);
    c.args(["-e", &format!("$x = 'a' x ({mib} << 20); $|=1; sleep 1000")]);
    let pid = lab.spawn(c);
    let want = u64::from(mib) << 20;
    // Grown, and done growing (perl builds the string in steps).
    let mut last = 0;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let now = vm_rss(pid);
            std::thread::sleep(Duration::from_millis(100));
            let settled = now >= want && now == last && vm_rss(pid) == now;
            last = now;
            settled
        }),
        "decoy did not grow and settle"
    );
    Decoy {
        pid,
        log: lab.dir.join(format!("{name}.log")),
    }
}

/// VmRSS from /proc/PID/status, in bytes.
fn vm_rss(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Issue 14: every reported process carries its resident memory, and a
/// cleanup report says how much the processes that exited after
/// procreap's signals held.
#[test]
fn memory_is_reported_and_reclaimed_bytes_counted() {
    let mut lab = Lab::new();
    let d = memory_decoy(&mut lab, 64);
    let cfg = lab.config();
    let found = procreap::find_orphans(&cfg).unwrap();
    let p = found.iter().find(|p| p.id.pid == d.pid).expect("found");
    let rss = vm_rss(d.pid);
    let diff = p.rss_bytes.abs_diff(rss);
    assert!(diff * 10 <= rss, "rss_bytes {} vs VmRSS {rss}", p.rss_bytes);
    assert_eq!(p.uid, Some(nix::unistd::geteuid().as_raw()));
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    assert!(wait_until(Duration::from_secs(5), || !d.alive()));
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Exited]);
    assert!(
        r.reclaimed_bytes >= (64 << 20) * 9 / 10,
        "reclaimed {}",
        r.reclaimed_bytes
    );
    // reap now counts what it reaped at once.
    let d = memory_decoy(&mut lab, 32);
    let start = Instant::now();
    let r = reap_now(&lab.config(), &[d.identity()], Duration::from_secs(5)).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(r.reclaimed_bytes >= (32 << 20) * 9 / 10, "{r:?}");
}

/// The outside attack: a configuration with another `min_age` (an
/// operator's one-off run) does not release what a cron step signalled, so
/// the cron step never SIGTERMs it anew and escalates it on time.
#[test]
fn another_min_age_does_not_release_and_resigterm() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let cron = lab.config();
    assert_eq!(
        actions_for(&step(&cron, Kind::Orphans), d.pid),
        vec![ActionKind::Sigterm]
    );
    let operator = Config {
        min_age: Duration::from_secs(3600),
        ..cron.clone()
    };
    let r = step(&operator, Kind::Orphans);
    assert!(
        !actions_for(&r, d.pid).contains(&ActionKind::Released),
        "{:?}",
        r.actions
    );
    std::thread::sleep(cron.grace);
    assert_eq!(
        actions_for(&step(&cron, Kind::Orphans), d.pid),
        vec![ActionKind::Sigkill]
    );
    assert_eq!(d.terms(), 1, "one SIGTERM in all");
}

/// The outside attack: deleting `ledger.lock` while a call holds it (an
/// operator clearing a "stale" lock) lets no second writer in: the state
/// directory itself is locked too.
#[test]
fn a_deleted_lock_file_lets_no_second_writer_in() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let cfg = lab.config();
    let id = d.identity();
    let holder = {
        let cfg = cfg.clone();
        std::thread::spawn(move || reap_now(&cfg, &[id], Duration::from_secs(2)))
    };
    assert!(wait_until(Duration::from_secs(5), || lab
        .state
        .join("ledger.lock")
        .exists()));
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(lab.state.join("ledger.lock")).unwrap();
    let quick = Config {
        lock_timeout: Duration::from_millis(300),
        ..cfg
    };
    let second = cleanup_step(&quick, Kind::Orphans);
    let r = holder.join().unwrap().unwrap();
    assert!(
        actions_for(&r, d.pid).contains(&ActionKind::Sigkill),
        "{r:?}"
    );
    match second {
        Err(Error::LockTimeout(m)) => assert!(m.contains("is held by"), "{m}"),
        other => panic!("a second writer got in: {other:?}"),
    }
}

/// The second outside attack: a lock whose taker is gone but whose child
/// keeps the lock file open is named as inherited, not as the dead pid's
/// (empty) name.
#[test]
fn a_lock_kept_by_a_child_of_a_gone_taker_is_named_so() {
    let mut lab = Lab::new();
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, PermissionsExt::from_mode(0o700)).unwrap();
    let lock = lab.state.join("ledger.lock");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec 9>'{}'; flock -x 9; sleep 60 >/dev/null 2>&1 & echo $!",
            lock.display()
        ))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let keeper: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    lab.own(keeper);
    let cfg = Config {
        lock_timeout: Duration::from_millis(200),
        ..lab.config()
    };
    match cleanup_step(&cfg, Kind::Orphans) {
        Err(Error::LockTimeout(m)) => {
            assert!(
                m.contains("inherited it from pid") && m.contains("gone"),
                "{m}"
            )
        }
        other => panic!("the lock was not held: {other:?}"),
    }
}

/// The outside attack: an audit trail replaced by a FIFO (someone piping
/// it into a logger) cannot hang a step: the signal, already recorded in
/// the ledger, goes out and the refusal is reported.
#[test]
fn an_audit_fifo_cannot_hang_a_step() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    nix::unistd::mkfifo(
        &lab.state.join("audit.jsonl"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let cfg = patient(&lab);
    let r = std::thread::spawn(move || cleanup_step(&cfg, Kind::Orphans));
    assert!(
        wait_until(Duration::from_secs(10), || r.is_finished()),
        "the step hangs on the FIFO"
    );
    let r = r.join().unwrap().unwrap();
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    assert!(r.error.is_some(), "the audit refusal is reported");
    assert!(wait_until(Duration::from_secs(3), || d.terms() == 1));
}
