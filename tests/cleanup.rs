//! Issue 3: the cleanup engine on real processes with real signals and a
//! grace of about a second. Decoys are private scripts that log every SIGTERM.

mod support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use procreap::ledger::{Contents, Entry};
use procreap::{
    cleanup_step, reap_now, reap_set, Action, ActionKind, Config, Error, Identity, Kind, Report,
    Sig,
};
use support::*;

fn step(cfg: &Config, kind: Kind) -> Report {
    let r = cleanup_step(cfg, kind).expect("cleanup step");
    assert!(r.error.is_none(), "step error: {:?}", r.error);
    r
}

/// A script `file` in the lab that starts `child` in the background and
/// waits for it; with `ignore_term` it (and so the child, which inherits
/// that) ignores SIGTERM. The child keeps the lab's pipe as stdin through
/// fd 3: a background job's stdin is /dev/null otherwise, and a lab script
/// would read EOF and exit.
fn starter(
    lab: &Lab,
    file: &str,
    child: &std::path::Path,
    ignore_term: bool,
) -> std::path::PathBuf {
    let p = lab.dir.join(file);
    let trap = if ignore_term { "trap '' TERM\n" } else { "" };
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\n{trap}exec 3<&0\n'{}' <&3 3<&- &\nwait\n",
            child.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// An agent under a private name that starts a helper (not an agent) that
/// ignores SIGTERM; with `agent_ignores_term` the agent ignores it too.
/// Returns the agent's identity and the helper's pid.
fn agent_with_stubborn_helper(lab: &mut Lab, agent_ignores_term: bool) -> (Identity, i32) {
    let helper_name = format!("helper-{}", token());
    let helper = lab.script(
        &helper_name,
        &lab.dir.join(format!("{helper_name}.log")),
        OnTerm::Ignore,
    );
    let name = lab.name();
    let agent = starter(lab, &name, &helper, agent_ignores_term);
    let t = start_chain(lab, &agent, &[&helper_name]);
    let agent_id = Identity {
        pid: t[0].0,
        start_time: t[0].1,
    };
    (agent_id, t[1].0)
}

/// Starts `top`, a chain of [`starter`]s, and waits until the processes
/// below it are `names`, in order, each exec'd with its argv in place.
/// Returns (pid, start time) of the whole chain, top first; all of it is
/// torn down with the lab.
fn start_chain(lab: &mut Lab, top: &std::path::Path, names: &[&str]) -> Vec<(i32, u64)> {
    let a = lab.spawn_io(Command::new(top), std::process::Stdio::piped());
    let ready = || {
        let t = tree(a);
        t.len() == names.len() + 1
            && t[1..].iter().zip(names).all(|((p, _), n)| {
                std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim_end() == *n)
                    && std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| !c.is_empty())
            })
    };
    assert!(wait_until(Duration::from_secs(5), ready), "{:?}", tree(a));
    let t = tree(a);
    for id in &t[1..] {
        lab.own_exact(*id);
    }
    t
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

fn write_ledger(lab: &Lab, entries: Vec<Entry>) {
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = lab.state.join("ledger");
    std::fs::write(
        &path,
        Contents {
            boot: boot_id(),
            ids: "proc".into(),
            entries,
        }
        .encode(),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn read_ledger(lab: &Lab) -> Contents {
    Contents::decode(&std::fs::read(lab.state.join("ledger")).unwrap()).expect("ledger parses")
}

#[test]
fn a_term_ignoring_decoy_escalates_to_sigkill_and_exits() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    // A grace long enough that the second step surely falls inside it, even
    // on a loaded machine.
    let cfg = Config {
        grace: Duration::from_secs(3),
        ..lab.config()
    };
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    let a = r
        .actions
        .iter()
        .find(|a| a.process.id.pid == d.pid)
        .unwrap();
    assert_eq!(a.signal, Some(Sig::Term));
    assert!(wait_until(Duration::from_secs(3), || d.terms() == 1));
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Waiting]);
    assert!(
        r.actions[0].reason.contains("grace left"),
        "{}",
        r.actions[0].reason
    );
    std::thread::sleep(cfg.grace);
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigkill]);
    assert!(wait_until(Duration::from_secs(3), || !d.alive()));
    std::thread::sleep(Duration::from_millis(1100));
    // Our own child: defunct until we reap it, and reported so.
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Exited]);
    assert!(
        r.actions[0]
            .reason
            .contains(&format!("parent pid {}", std::process::id())),
        "{}",
        r.actions[0].reason
    );
    lab.reap(d.pid);
    assert_eq!(d.terms(), 1);
    assert!(read_ledger(&lab).entries.is_empty());
}

#[test]
fn an_obedient_decoy_goes_sigterm_then_exited() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Exit, &[]);
    let cfg = lab.config();
    assert_eq!(
        actions_for(&step(&cfg, Kind::Orphans), d.pid),
        vec![ActionKind::Sigterm]
    );
    assert!(wait_until(Duration::from_secs(3), || !d.alive()));
    lab.reap(d.pid);
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Exited]);
    assert_eq!(d.terms(), 1);
}

#[test]
fn a_stopped_decoy_gets_sigcont_with_its_sigterm() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Exit, &[]);
    // SAFETY: stopping our own decoy.
    unsafe { libc::kill(d.pid, libc::SIGSTOP) };
    assert!(wait_until(Duration::from_secs(3), || {
        std::fs::read_to_string(format!("/proc/{}/stat", d.pid))
            .unwrap()
            .contains(") T ")
    }));
    let r = step(&lab.config(), Kind::Orphans);
    assert!(r.actions[0].reason.contains("SIGCONT"), "{:?}", r.actions);
    assert!(
        wait_until(Duration::from_secs(3), || !d.alive()),
        "a stopped process must be able to act on SIGTERM"
    );
    assert_eq!(d.terms(), 1);
}

#[test]
fn a_dry_run_decides_but_sends_and_writes_nothing() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Exit, &[]);
    let mut cfg = lab.config();
    cfg.dry_run = true;
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Sigterm]);
    assert!(r.actions[0].reason.contains("dry run"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(d.alive());
    assert_eq!(d.terms(), 0);
    assert!(!lab.state.join("ledger").exists());
}

#[test]
fn a_recycled_pid_in_the_ledger_is_never_that_process() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let real = d.identity();
    // An old entry for the same pid with another start time, SIGTERMed long ago.
    write_ledger(
        &lab,
        vec![Entry {
            id: Identity {
                pid: d.pid,
                start_time: real.start_time.saturating_sub(1),
            },
            kind: Kind::Orphans,
            signal: Sig::Term,
            sent_at: Duration::ZERO,
            scope: lab.config().scope(),
            tree_of: None,
            name: "old".into(),
        }],
    );
    let r = step(&lab.config(), Kind::Orphans);
    let mine: Vec<&Action> = r
        .actions
        .iter()
        .filter(|a| a.process.id.pid == d.pid)
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert_eq!(
        mine[0].action,
        ActionKind::Exited,
        "the old identity is gone"
    );
    assert_eq!(mine[0].process.id.start_time, real.start_time - 1);
    assert_eq!(
        mine[1].action,
        ActionKind::Sigterm,
        "the new process gets its own SIGTERM"
    );
    assert_eq!(mine[1].process.id, real);
    assert!(wait_until(Duration::from_secs(3), || d.terms() == 1));
    assert!(d.alive(), "no SIGKILL may reach it");
    assert_eq!(
        read_ledger(&lab)
            .entries
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        vec![real]
    );
}

#[test]
fn a_process_that_becomes_protected_is_released() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let mut cfg = lab.config();
    assert_eq!(
        actions_for(&step(&cfg, Kind::Orphans), d.pid),
        vec![ActionKind::Sigterm]
    );
    cfg.protected_pids = vec![d.pid];
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, d.pid), vec![ActionKind::Released]);
    assert!(
        r.actions[0].reason.contains("protected"),
        "{}",
        r.actions[0].reason
    );
    std::thread::sleep(cfg.grace + Duration::from_millis(100));
    let r = step(&cfg, Kind::Orphans);
    assert!(actions_for(&r, d.pid).is_empty(), "{:?}", r.actions);
    assert!(d.alive());
    assert_eq!(d.terms(), 1);
}

#[test]
fn kill_tree_signals_the_descendants_with_the_agent() {
    let mut lab = Lab::new();
    let name = lab.name();
    let agent = lab.dir.join(&name);
    std::fs::write(&agent, "#!/bin/sh\nsleep 1000 &\nsleep 1000 &\nwait\n").unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pid = lab.spawn(Command::new(&agent));
    // Both children have exec'd sleep (a forked shell still carries the
    // agent's name).
    assert!(wait_until(Duration::from_secs(5), || {
        let t = tree(pid);
        t.len() == 3
            && t.iter().skip(1).all(|(p, _)| {
                std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c == "sleep\n")
            })
    }));
    let children: Vec<(i32, u64)> = tree(pid).into_iter().skip(1).collect();
    // Without kill_tree only the agent is signalled.
    let mut cfg = lab.config();
    cfg.dry_run = true;
    assert_eq!(cleanup_step(&cfg, Kind::Orphans).unwrap().actions.len(), 1);
    cfg.dry_run = false;
    cfg.kill_tree = true;
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(r.actions.len(), 3, "{:?}", r.actions);
    assert_eq!(actions_for(&r, pid), vec![ActionKind::Sigterm]);
    for (child, _) in &children {
        let a = r
            .actions
            .iter()
            .find(|a| a.process.id.pid == *child)
            .expect("child signalled");
        assert_eq!(a.action, ActionKind::Sigterm);
        assert!(
            a.reason.contains(&format!("agent pid {pid}")),
            "{}",
            a.reason
        );
        assert!(
            wait_until(Duration::from_secs(3), || !alive(*child)),
            "child {child} got SIGTERM"
        );
    }
}

/// Orphan and zombie steps share one ledger: over interleaved steps each
/// decoy gets exactly one SIGTERM and at most one SIGKILL.
#[test]
fn interleaved_orphan_and_zombie_steps_signal_each_decoy_once() {
    let mut lab = Lab::new();
    let ignoring: Vec<Decoy> = (0..3)
        .map(|_| lab.script_agent(OnTerm::Ignore, &[]))
        .collect();
    let obeying: Vec<Decoy> = (0..2)
        .map(|_| lab.script_agent(OnTerm::Exit, &[]))
        .collect();
    lab.tmux("sleep 1000"); // so the zombie scan can see
    let cfg = lab.config();
    let mut kills: HashMap<i32, usize> = HashMap::new();
    // At least 3.5 s of steps (the 1 s grace passes twice over), and on a
    // slow machine on until every ignoring decoy got its SIGKILL.
    let end = Instant::now() + Duration::from_millis(3500);
    let cap = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while (Instant::now() < end || ignoring.iter().any(|d| !kills.contains_key(&d.pid)))
        && Instant::now() < cap
    {
        let kind = if n % 2 == 0 {
            Kind::Orphans
        } else {
            Kind::Zombies
        };
        let r = step(&cfg, kind);
        for a in r.actions.iter().filter(|a| a.action == ActionKind::Sigkill) {
            *kills.entry(a.process.id.pid).or_default() += 1;
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    for d in ignoring.iter().chain(&obeying) {
        assert_eq!(d.terms(), 1, "pid {} got {} SIGTERMs", d.pid, d.terms());
        assert!(kills.get(&d.pid).copied().unwrap_or(0) <= 1);
    }
    for d in &ignoring {
        assert_eq!(
            kills.get(&d.pid),
            Some(&1),
            "a TERM-ignoring decoy is killed once"
        );
    }
}

/// 8 processes run steps concurrently on one ledger, 20 rounds each, over 10
/// decoys: every decoy gets exactly one SIGTERM and the ledger parses.
#[test]
fn concurrent_processes_share_one_ledger() {
    if let Ok(names) = std::env::var("PROCREAP_CONCURRENT_NAMES") {
        let cfg = Config {
            agent_names: names.split(',').map(String::from).collect(),
            min_age: Duration::ZERO,
            grace: Duration::from_secs(600),
            workspace_marker: String::new(),
            protected_pid_files: vec![],
            state_dir: Some(std::env::var("PROCREAP_CONCURRENT_STATE").unwrap().into()),
            lock_timeout: Duration::from_secs(30),
            ..Config::default()
        };
        for _ in 0..20 {
            let r = cleanup_step(&cfg, Kind::Orphans).expect("step");
            assert!(r.error.is_none(), "{:?}", r.error);
        }
        println!("20 rounds done");
        return;
    }
    let mut lab = Lab::new();
    let decoys: Vec<Decoy> = (0..10)
        .map(|_| lab.script_agent(OnTerm::Ignore, &[]))
        .collect();
    let workers: Vec<std::process::Child> = (0..8)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "concurrent_processes_share_one_ledger",
                    "--nocapture",
                ])
                .env("PROCREAP_CONCURRENT_NAMES", lab.names.join(","))
                .env("PROCREAP_CONCURRENT_STATE", &lab.state)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains("20 rounds done"),
            "{text}"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    for d in &decoys {
        assert_eq!(d.terms(), 1, "pid {}", d.pid);
        assert!(d.alive());
    }
    assert_eq!(read_ledger(&lab).entries.len(), 10);
}

fn expect_unsafe(r: procreap::Result<Report>, word: &str) {
    match r {
        Err(Error::UnsafeStatePath(m)) => assert!(m.contains(word), "{m}"),
        other => panic!("expected unsafe state path ({word}), got {other:?}"),
    }
}

#[test]
fn unsafe_state_dirs_are_refused_before_any_signal() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Exit, &[]);
    // A symlinked state dir.
    let real = lab.dir.join("real-state");
    std::fs::create_dir(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = lab.dir.join("link-state");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut cfg = lab.config();
    cfg.state_dir = Some(link);
    expect_unsafe(cleanup_step(&cfg, Kind::Orphans), "symlink");
    // A 0777 dir.
    let open = lab.dir.join("open-state");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    cfg.state_dir = Some(open);
    expect_unsafe(cleanup_step(&cfg, Kind::Orphans), "writable");
    // A dir owned by another uid.
    if nix::unistd::geteuid().is_root() {
        let foreign = lab.dir.join("foreign-state");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        cfg.state_dir = Some(foreign);
        expect_unsafe(cleanup_step(&cfg, Kind::Orphans), "owned by uid 65534");
    }
    assert_eq!(d.terms(), 0);
    assert!(d.alive());
    // The default-made dir is 0700.
    step(&lab.config(), Kind::Orphans);
    let mode = std::fs::metadata(&lab.state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// Every kind of untrusted ledger: moved aside, reported, no SIGKILL that
/// step, and only current candidates get a signal.
#[test]
fn untrusted_ledgers_are_quarantined_and_never_used() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let bystander = lab.agent(None); // a live process that is NOT a candidate
    let mut cfg = lab.config();
    cfg.protected_pids = vec![bystander.pid];
    let good = Contents {
        boot: boot_id(),
        ids: "proc".into(),
        entries: vec![Entry {
            id: d.identity(),
            kind: Kind::Orphans,
            signal: Sig::Term,
            sent_at: Duration::ZERO,
            scope: "any".into(),
            tree_of: None,
            name: "x".into(),
        }],
    }
    .encode();
    let elsewhere = lab.dir.join("elsewhere");
    std::fs::write(&elsewhere, &good).unwrap();
    let mut random = vec![0u8; 4096];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1];
    }
    type MakeLedger = Box<dyn Fn(&std::path::Path)>;
    let cases: Vec<(&str, MakeLedger)> = vec![
        (
            "random bytes",
            Box::new(move |p| std::fs::write(p, &random).unwrap()),
        ),
        (
            "truncated",
            Box::new({
                let g = good.clone();
                move |p| std::fs::write(p, &g[..g.len() - 7]).unwrap()
            }),
        ),
        (
            "50 MB",
            Box::new(|p| {
                let f = std::fs::File::create(p).unwrap();
                f.set_len(50 << 20).unwrap();
            }),
        ),
        (
            "symlink",
            Box::new({
                let e = elsewhere.clone();
                move |p| std::os::unix::fs::symlink(&e, p).unwrap()
            }),
        ),
        (
            "group-writable",
            Box::new({
                let g = good.clone();
                move |p| {
                    std::fs::write(p, &g).unwrap();
                    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666)).unwrap();
                }
            }),
        ),
    ];
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    for (what, make) in cases {
        let path = lab.state.join("ledger");
        let _ = std::fs::remove_file(&path);
        make(&path);
        let r = cleanup_step(&cfg, Kind::Orphans).expect("the step still runs");
        match &r.error {
            Some(Error::LedgerCorrupt(m)) => assert!(
                m.contains("moved aside") && m.contains("no SIGKILL"),
                "{what}: {m}"
            ),
            other => panic!("{what}: expected ledger corrupt, got {other:?}"),
        }
        assert!(
            r.actions.iter().all(|a| a.action != ActionKind::Sigkill),
            "{what}: {:?}",
            r.actions
        );
        assert!(
            r.actions.iter().all(|a| a.process.id.pid == d.pid),
            "{what}: only the candidate is touched"
        );
        assert!(d.alive(), "{what}");
        assert!(bystander.alive(), "{what}");
        // The new ledger is procreap's own again.
        assert!(
            Contents::decode(&std::fs::read(&path).unwrap()).is_ok(),
            "{what}"
        );
        let aside = std::fs::read_dir(&lab.state)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("ledger.corrupt-")
            })
            .count();
        assert!(aside >= 1, "{what}: moved aside");
    }
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        good,
        "a symlink's target is never written"
    );
}

#[test]
fn ledger_entries_naming_unrelated_processes_get_no_signal() {
    let mut lab = Lab::new();
    let bystander = lab.agent(None);
    let bystander_id = bystander.identity();
    let pid1 = {
        let s = std::fs::read("/proc/1/stat").unwrap();
        Identity {
            pid: 1,
            start_time: procreap::parse_stat(&s).unwrap().start_time,
        }
    };
    let mut cfg = lab.config();
    cfg.agent_names = vec![format!("prt-{}", token())];
    // Entries for pid 1 and for a live process that is not an agent under
    // this config: in this config's scope they are released; in another
    // configuration's scope they are left alone. Neither gets a signal.
    let entries = |scope: String| -> Vec<Entry> {
        [pid1, bystander_id]
            .into_iter()
            .map(|id| Entry {
                id,
                kind: Kind::Zombies,
                signal: Sig::Term,
                sent_at: Duration::ZERO,
                scope: scope.clone(),
                tree_of: None,
                name: "x".into(),
            })
            .collect()
    };
    write_ledger(&lab, entries("another-town".into()));
    let r = step(&cfg, Kind::Orphans);
    assert!(r.actions.is_empty(), "{:?}", r.actions);
    assert_eq!(read_ledger(&lab).entries.len(), 2);
    write_ledger(&lab, entries(cfg.scope()));
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(r.actions.len(), 2, "{:?}", r.actions);
    assert!(
        r.actions
            .iter()
            .all(|a| a.action == ActionKind::Released && a.signal.is_none()),
        "{:?}",
        r.actions
    );
    assert!(bystander.alive());
    assert!(read_ledger(&lab).entries.is_empty());
}

#[test]
fn a_held_lock_times_out_with_a_clear_error() {
    let lab = Lab::new();
    std::fs::create_dir_all(&lab.state).unwrap();
    std::fs::set_permissions(&lab.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lab.state.join("ledger.lock"))
        .unwrap();
    // SAFETY: flock on our own fd.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
        0
    );
    let mut cfg = lab.config();
    cfg.lock_timeout = Duration::from_millis(700);
    let t = Instant::now();
    let r = cleanup_step(&cfg, Kind::Zombies);
    let took = t.elapsed();
    assert!(matches!(r, Err(Error::LockTimeout(_))), "{r:?}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(1700),
        "{took:?}"
    );
    // Reap now takes the same lock.
    let anyone = Identity {
        pid: std::process::id() as i32,
        start_time: 1,
    };
    let r = reap_now(&cfg, &[anyone], Duration::from_secs(1));
    assert!(matches!(r, Err(Error::LockTimeout(_))), "{r:?}");
    drop(lock);
}

#[test]
fn reap_set_touches_only_the_listed_candidates() {
    let mut lab = Lab::new();
    let listed = lab.script_agent(OnTerm::Ignore, &[]);
    let protected_later = lab.script_agent(OnTerm::Ignore, &[]);
    let unlisted = lab.script_agent(OnTerm::Ignore, &[]);
    let mut cfg = lab.config();
    let ids = [listed.identity(), protected_later.identity()];
    cfg.protected_pids = vec![protected_later.pid];
    let r = reap_set(&cfg, &ids).unwrap();
    assert_eq!(actions_for(&r, listed.pid), vec![ActionKind::Sigterm]);
    assert_eq!(
        actions_for(&r, protected_later.pid),
        vec![ActionKind::Skipped]
    );
    assert!(actions_for(&r, unlisted.pid).is_empty());
    assert!(wait_until(Duration::from_secs(3), || listed.terms() == 1));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(protected_later.terms(), 0);
    assert_eq!(unlisted.terms(), 0);
    // Escalation goes through the same ledger.
    std::thread::sleep(cfg.grace);
    let r = reap_set(&cfg, &ids).unwrap();
    assert_eq!(actions_for(&r, listed.pid), vec![ActionKind::Sigkill]);
    assert!(wait_until(Duration::from_secs(3), || !listed.alive()));
    assert!(unlisted.alive() && protected_later.alive());
    // An identity that matches nothing is reported, not guessed.
    let r = reap_set(
        &cfg,
        &[Identity {
            pid: unlisted.pid,
            start_time: 1,
        }],
    )
    .unwrap();
    assert_eq!(r.actions.len(), 1);
    assert_eq!(r.actions[0].action, ActionKind::Skipped);
    assert!(unlisted.alive());
}

/// Reap now with kill_tree: a descendant that ignores SIGTERM like its
/// agent gets the SIGKILL along with it.
#[test]
fn reap_now_with_kill_tree_kills_a_stubborn_descendant() {
    let mut lab = Lab::new();
    let (id, h) = agent_with_stubborn_helper(&mut lab, true);
    let a = id.pid;
    let mut cfg = lab.config();
    cfg.kill_tree = true;
    let r = reap_now(&cfg, &[id], Duration::from_secs(1)).unwrap();
    assert_eq!(
        actions_for(&r, a),
        vec![ActionKind::Sigterm, ActionKind::Sigkill, ActionKind::Exited],
        "{:?}",
        r.actions
    );
    assert_eq!(
        actions_for(&r, h),
        vec![ActionKind::Sigterm, ActionKind::Sigkill],
        "{:?}",
        r.actions
    );
    assert!(
        wait_until(Duration::from_secs(3), || !alive(h)),
        "the helper got SIGKILL"
    );
    reap_pid(h);
}

#[test]
fn reap_now_kills_a_term_ignoring_decoy_within_the_deadline() {
    let mut lab = Lab::new();
    let stubborn = lab.script_agent(OnTerm::Ignore, &[]);
    let obedient = lab.script_agent(OnTerm::Exit, &[]);
    let bystander = lab.script_agent(OnTerm::Ignore, &[]);
    let mut cfg = lab.config();
    cfg.protected_pids = vec![bystander.pid];
    let deadline = Duration::from_millis(1500);
    let t = Instant::now();
    let r = reap_now(
        &cfg,
        &[
            stubborn.identity(),
            obedient.identity(),
            bystander.identity(),
        ],
        deadline,
    )
    .unwrap();
    let took = t.elapsed();
    assert!(took < deadline + Duration::from_secs(1), "{took:?}");
    assert_eq!(
        actions_for(&r, stubborn.pid),
        vec![ActionKind::Sigterm, ActionKind::Sigkill, ActionKind::Exited]
    );
    assert_eq!(
        actions_for(&r, obedient.pid),
        vec![ActionKind::Sigterm, ActionKind::Exited]
    );
    assert_eq!(actions_for(&r, bystander.pid), vec![ActionKind::Skipped]);
    assert!(!stubborn.alive() && !obedient.alive());
    assert!(bystander.alive());
    assert_eq!(bystander.terms(), 0);
    assert!(
        read_ledger(&lab).entries.is_empty(),
        "nothing left to track"
    );
}

/// Reap now and steps share the ledger: a process a step already SIGTERMed
/// is dropped from the ledger once reap now has reaped it; a descendant
/// that outlives reap now (its agent obeyed SIGTERM, so no SIGKILL pass
/// came) is tracked, and a later step SIGKILLs it.
#[test]
fn reap_now_leaves_the_ledger_for_steps_to_go_on() {
    let mut lab = Lab::new();
    let earlier = lab.script_agent(OnTerm::Ignore, &[]);
    let cfg = lab.config();
    assert_eq!(
        actions_for(&step(&cfg, Kind::Orphans), earlier.pid),
        vec![ActionKind::Sigterm]
    );
    let r = reap_now(&cfg, &[earlier.identity()], Duration::from_millis(300)).unwrap();
    assert_eq!(
        actions_for(&r, earlier.pid),
        vec![ActionKind::Sigterm, ActionKind::Sigkill, ActionKind::Exited]
    );
    assert!(read_ledger(&lab).entries.is_empty(), "its entry is dropped");

    // The agent obeys SIGTERM; the helper ignores it.
    let (id, h) = agent_with_stubborn_helper(&mut lab, false);
    let a = id.pid;
    let mut cfg = lab.config();
    cfg.kill_tree = true;
    let r = reap_now(&cfg, &[id], Duration::from_secs(2)).unwrap();
    assert_eq!(
        actions_for(&r, a),
        vec![ActionKind::Sigterm, ActionKind::Exited],
        "{:?}",
        r.actions
    );
    assert_eq!(
        actions_for(&r, h),
        vec![ActionKind::Sigterm],
        "{:?}",
        r.actions
    );
    assert!(alive(h), "the helper ignored SIGTERM");
    let ledger = read_ledger(&lab);
    assert!(
        ledger
            .entries
            .iter()
            .any(|e| e.id.pid == h && e.tree_of == Some(id) && e.signal == Sig::Term),
        "the helper is tracked: {:?}",
        ledger.entries
    );
    std::thread::sleep(cfg.grace);
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(
        actions_for(&r, h),
        vec![ActionKind::Sigkill],
        "{:?}",
        r.actions
    );
    assert!(wait_until(Duration::from_secs(3), || !alive(h)));
    reap_pid(h);
}

/// Identities of the /proc and ps backends use different start-time units:
/// a ledger written by one is never matched against the other's processes.
#[test]
fn a_ledger_from_another_backend_is_refused() {
    let mut lab = Lab::new();
    let d = lab.script_agent(OnTerm::Ignore, &[]);
    let mut cfg = lab.config();
    cfg.backend = procreap::Backend::Proc;
    assert_eq!(
        actions_for(&step(&cfg, Kind::Orphans), d.pid),
        vec![ActionKind::Sigterm]
    );
    cfg.backend = procreap::Backend::Ps;
    match cleanup_step(&cfg, Kind::Orphans) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("proc backend"), "{m}"),
        other => panic!("expected a backend mismatch, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(d.terms(), 1, "no second SIGTERM");
    assert_eq!(read_ledger(&lab).ids, "proc");
}

/// Two towns share the default state dir: neither releases the other's
/// entries, so each decoy still gets exactly one SIGTERM and is escalated.
#[test]
fn two_towns_sharing_a_ledger_leave_each_others_entries_alone() {
    let mut lab = Lab::new();
    let town_a = lab.dir.join("town-a");
    let town_b = lab.dir.join("town-b");
    for t in [&town_a, &town_b] {
        std::fs::create_dir_all(t.join("mayor")).unwrap();
        std::fs::write(t.join("mayor/town.json"), "{}").unwrap();
    }
    let name = lab.name();
    let log = lab.dir.join(format!("{name}.log"));
    let bin = lab.script(&name, &log, OnTerm::Ignore);
    let mut c = Command::new(&bin);
    c.current_dir(&town_a);
    let pid = lab.spawn_io(c, std::process::Stdio::piped());
    let d = Decoy { pid, log };
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| s.contains("SigCgt:"))
            && procreap::explain(&lab.config())
                .unwrap()
                .iter()
                .any(|v| v.process.id.pid == pid)
    }));
    let town = |root: &std::path::Path| Config {
        workspace_marker: "mayor/town.json".into(),
        workspace_root: Some(root.to_path_buf()),
        ..lab.config()
    };
    let (a, b) = (town(&town_a), town(&town_b));
    assert_eq!(
        actions_for(&step(&a, Kind::Orphans), pid),
        vec![ActionKind::Sigterm]
    );
    let rb = step(&b, Kind::Orphans);
    assert!(
        actions_for(&rb, pid).is_empty(),
        "town B leaves it alone: {:?}",
        rb.actions
    );
    std::thread::sleep(a.grace);
    assert!(actions_for(&step(&b, Kind::Orphans), pid).is_empty());
    assert_eq!(
        actions_for(&step(&a, Kind::Orphans), pid),
        vec![ActionKind::Sigkill]
    );
    assert!(wait_until(Duration::from_secs(3), || !d.alive()));
    assert_eq!(d.terms(), 1);
}

/// kill_tree re-checks each descendant on its own: another user's process
/// and a process with a terminal are left alone; a reap set never signals
/// descendants.
#[test]
fn kill_tree_leaves_alone_descendants_that_are_not_ours_to_signal() {
    let mut lab = Lab::new();
    let name = lab.name();
    let agent = lab.dir.join(&name);
    let root = nix::unistd::geteuid().is_root();
    let other_user = if root {
        "setpriv --reuid=65534 --regid=65534 --clear-groups sleep 1000 &\n"
    } else {
        ""
    };
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nsleep 1000 &\nSHELL=/bin/sh script -qfc 'sleep 1000' /dev/null </dev/null >/dev/null 2>&1 &\n{other_user}wait\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pid = lab.spawn(Command::new(&agent));
    // agent, sleep, script, script's sleep on a pty (perhaps under a shell,
    // depending on the machine's sh and script), [nobody's sleep]. Settled
    // once both sleeps we wait for exist, setpriv has exec'd, and the tree
    // stays the same for a moment.
    let me = nix::unistd::geteuid().as_raw();
    let facts = |p: i32| {
        let st = procreap::parse_stat(&std::fs::read(format!("/proc/{p}/stat")).ok()?)?;
        let uid =
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(format!("/proc/{p}")).ok()?);
        Some((st.name, st.tty_nr, uid))
    };
    let settled = || {
        let t = tree(pid);
        let f: Vec<_> = t.iter().filter_map(|(p, _)| facts(*p)).collect();
        let pty_sleep = f.iter().any(|(n, tty, _)| n == "sleep" && *tty != 0);
        let nobody_sleep = !root || f.iter().any(|(n, _, u)| n == "sleep" && *u != me);
        let no_setpriv = f.iter().all(|(n, _, _)| n != "setpriv");
        f.len() == t.len() && pty_sleep && nobody_sleep && no_setpriv && {
            std::thread::sleep(Duration::from_millis(200));
            tree(pid) == t
        }
    };
    assert!(
        wait_until(Duration::from_secs(10), settled),
        "{:?}",
        tree(pid)
    );
    let mut cfg = lab.config();
    cfg.kill_tree = true;
    let agent_id = Decoy {
        pid,
        log: lab.dir.join("none"),
    }
    .identity();
    cfg.dry_run = true;
    let r = reap_set(&cfg, &[agent_id]).unwrap();
    assert_eq!(
        r.actions.len(),
        1,
        "a reap set signals no descendants: {:?}",
        r.actions
    );
    let r = step(&cfg, Kind::Orphans);
    let (mut signalled, mut skipped) = (0, 0);
    for (p, _) in tree(pid) {
        let (name, tty, uid) = facts(p).unwrap();
        let acts: Vec<&Action> = r.actions.iter().filter(|a| a.process.id.pid == p).collect();
        assert_eq!(acts.len(), 1, "{p} ({name}) reported once: {:?}", r.actions);
        if tty != 0 || uid != me {
            assert_eq!(
                acts[0].action,
                ActionKind::Skipped,
                "{p} ({name}): {:?}",
                acts[0]
            );
            skipped += 1;
        } else {
            assert_eq!(
                acts[0].action,
                ActionKind::Sigterm,
                "{p} ({name}): {:?}",
                acts[0]
            );
            signalled += 1;
        }
    }
    assert_eq!(signalled, 3, "agent, its sleep, script: {:?}", r.actions);
    assert!(
        skipped >= if root { 2 } else { 1 },
        "the pty sleep [and nobody's sleep] are skipped: {:?}",
        r.actions
    );
}

/// An agent that exits on the SIGTERM of a kill_tree step and is reaped at
/// once, as an orchestrator's Wait does (the Go binding's test caught a
/// flake this way): its descendant still gets its SIGTERM in the same step,
/// every round. End to end only: the race inside it (the agent vanishing
/// between two reads of the descendant's ancestry) is a window of
/// microseconds that this rarely hits; `Snapshot::chain`'s unit tests script
/// it exactly.
#[test]
fn kill_tree_follows_a_descendant_whose_agent_exits_during_the_check() {
    become_subreaper();
    let mut lab = Lab::new();
    let name = lab.name();
    let agent = lab.dir.join(&name);
    std::fs::write(&agent, "#!/bin/sh\nsleep 1000 &\nwait\n").unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cfg = lab.config();
    cfg.kill_tree = true;
    let start_of = |pid: i32| {
        procreap::parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
            .map(|st| st.start_time)
    };
    for round in 0..20 {
        let mut cmd = Command::new(&agent);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn agent");
        let pid = child.id() as i32;
        lab.own_exact((pid, start_of(pid).expect("agent start time")));
        let reaper = std::thread::spawn(move || child.wait());
        let kid = || {
            tree(pid).into_iter().nth(1).filter(|(k, _)| {
                std::fs::read_to_string(format!("/proc/{k}/comm")).is_ok_and(|c| c == "sleep\n")
            })
        };
        assert!(wait_until(Duration::from_secs(5), || kid().is_some()
            && std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|a| !a.is_empty())));
        let (kid, kid_start) = kid().unwrap();
        lab.own_exact((kid, kid_start));
        let r = step(&cfg, Kind::Orphans);
        assert_eq!(
            actions_for(&r, pid),
            vec![ActionKind::Sigterm],
            "round {round}: {:?}",
            r.actions
        );
        assert_eq!(
            actions_for(&r, kid),
            vec![ActionKind::Sigterm],
            "round {round}: {:?}",
            r.actions
        );
        reaper.join().unwrap().expect("agent reaped");
        assert!(wait_until(Duration::from_secs(3), || !alive(kid)));
        reap_pid(kid);
    }
}

/// A tracked process whose argv cannot be read for a while is neither
/// released nor signalled again; once its argv reads again, its escalation
/// goes on: one SIGTERM in all, then SIGKILL. (The decoy, once it has its
/// SIGTERM, empties its argv setproctitle-style: a NUL first, and no NUL at
/// the end. The kernel then shows an empty cmdline, as mid-exec: "argv
/// unreadable".)
#[test]
fn a_tracked_process_in_doubt_is_kept_not_signalled_again() {
    doubt_case(
        "a_tracked_process_in_doubt_is_kept_not_signalled_again",
        false,
    );
}

/// The same for an agent named only by its argv[0] (a binary called
/// `9.9.9`): with argv[0] unreadable it cannot be told an agent or not, and
/// is kept too.
#[test]
fn a_tracked_agent_named_by_argv0_in_doubt_is_kept() {
    doubt_case("a_tracked_agent_named_by_argv0_in_doubt_is_kept", true);
}

fn doubt_case(test: &str, by_argv0: bool) {
    if std::env::var_os("PROCREAP_DOUBT_LOG").is_some() {
        return doubt_decoy();
    }
    let mut lab = Lab::new();
    let name = lab.name();
    // A copy of this test binary is the decoy: called by the agent's name,
    // or called 9.9.9 with the agent's name as argv[0].
    let exe = lab.dir.join(if by_argv0 { "9.9.9" } else { &name });
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let log = lab.dir.join("doubt.log");
    let restore = lab.dir.join("restore");
    let mut c = Command::new(&exe);
    if by_argv0 {
        std::os::unix::process::CommandExt::arg0(&mut c, &name);
    }
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("PROCREAP_DOUBT_LOG", &log)
        .env("PROCREAP_DOUBT_RESTORE", &restore);
    let pid = lab.spawn(c);
    let logged = |what: &str| {
        std::fs::read_to_string(&log).map_or(0, |l| l.lines().filter(|x| *x == what).count())
    };
    let argv_len = || std::fs::read(format!("/proc/{pid}/cmdline")).map_or(0, |a| a.len());
    assert!(wait_until(Duration::from_secs(10), || logged("ready") == 1));
    let cfg = lab.config();
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(
        actions_for(&r, pid),
        vec![ActionKind::Sigterm],
        "{:?}",
        r.actions
    );
    assert!(
        wait_until(Duration::from_secs(5), || logged("hidden") == 1),
        "argv not hidden"
    );
    assert!(argv_len() <= 1, "cmdline is empty");
    let r = step(&cfg, Kind::Orphans);
    let a = r.actions.iter().find(|a| a.process.id.pid == pid).unwrap();
    assert_eq!(a.action, ActionKind::Skipped, "{a:?}");
    let doubt = if by_argv0 {
        "argv[0] unreadable"
    } else {
        "argv unreadable"
    };
    assert!(
        a.reason.contains(doubt) && a.reason.contains("still tracked"),
        "{a:?}"
    );
    assert_eq!(read_ledger(&lab).entries.len(), 1, "kept in the ledger");
    std::fs::write(&restore, "").unwrap();
    assert!(wait_until(Duration::from_secs(5), || logged("restored") == 1));
    assert!(argv_len() > 1, "cmdline is back");
    std::thread::sleep(cfg.grace);
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(
        actions_for(&r, pid),
        vec![ActionKind::Sigkill],
        "{:?}",
        r.actions
    );
    assert!(wait_until(Duration::from_secs(3), || !alive(pid)));
    assert_eq!(logged("TERM"), 1, "one SIGTERM in all");
}

/// The decoy's side: logs each SIGTERM; after the first, empties its argv
/// (see above), and restores it once the restore file appears.
fn doubt_decoy() {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static TERMS: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn on_term(_: libc::c_int) {
        TERMS.fetch_add(1, Ordering::SeqCst);
    }
    let log = std::env::var_os("PROCREAP_DOUBT_LOG").unwrap();
    let restore = std::path::PathBuf::from(std::env::var_os("PROCREAP_DOUBT_RESTORE").unwrap());
    let say = |what: &str| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        writeln!(f, "{what}").unwrap();
    };
    // SAFETY: installing a handler that only touches an atomic.
    unsafe { libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t) };
    // arg_start and arg_end: fields 48 and 49 of /proc/self/stat.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let (arg_start, arg_end) = (rest[45] as usize, rest[46] as usize);
    // SAFETY: our own argv strings on our stack; nothing reads them while
    // they are changed (the test harness parsed them at start).
    let area = unsafe { std::slice::from_raw_parts_mut(arg_start as *mut u8, arg_end - arg_start) };
    let saved = area.to_vec();
    say("ready");
    let (mut seen, mut hidden, mut restored) = (0, false, false);
    loop {
        let n = TERMS.load(Ordering::SeqCst);
        while seen < n {
            say("TERM");
            seen += 1;
        }
        if seen > 0 && !hidden {
            area[0] = 0;
            *area.last_mut().unwrap() = b'x';
            hidden = true;
            say("hidden");
        }
        if hidden && !restored && restore.exists() {
            area.copy_from_slice(&saved);
            restored = true;
            say("restored");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Nested agents (agent A starts agent B, B starts a helper C): with
/// kill_tree, C is a descendant of both, yet gets one SIGTERM, one ledger
/// entry, and its SIGKILL after the grace period.
#[test]
fn kill_tree_signals_a_descendant_of_nested_agents_once() {
    let mut lab = Lab::new();
    let helper_log = lab.dir.join("helper.log");
    let helper = lab.script(&format!("helper-{}", token()), &helper_log, OnTerm::Ignore);
    let (outer, inner) = (lab.name(), lab.name());
    let inner_bin = starter(&lab, &inner, &helper, false);
    let outer_bin = starter(&lab, &outer, &inner_bin, false);
    let helper_name = helper.file_name().unwrap().to_string_lossy().into_owned();
    let c = start_chain(&mut lab, &outer_bin, &[&inner, &helper_name])[2].0;
    let mut cfg = lab.config();
    cfg.kill_tree = true;
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(
        actions_for(&r, c),
        vec![ActionKind::Sigterm],
        "{:?}",
        r.actions
    );
    assert!(wait_until(Duration::from_secs(3), || {
        std::fs::read_to_string(&helper_log).is_ok_and(|l| !l.is_empty())
    }));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        std::fs::read_to_string(&helper_log)
            .unwrap()
            .lines()
            .count(),
        1,
        "one SIGTERM"
    );
    let ledger = read_ledger(&lab);
    assert_eq!(ledger.entries.iter().filter(|e| e.id.pid == c).count(), 1);
    std::thread::sleep(cfg.grace);
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(
        actions_for(&r, c),
        vec![ActionKind::Sigkill],
        "{:?}",
        r.actions
    );
    assert!(wait_until(Duration::from_secs(3), || !alive(c)));
    reap_pid(c);
}

/// A descendant signalled with its agent is tracked on its own: when the
/// agent obeys SIGTERM but the descendant ignores it (a leaked MCP server),
/// the descendant still gets its SIGKILL after the grace period.
#[test]
fn kill_tree_escalates_a_descendant_that_outlives_its_agent() {
    let mut lab = Lab::new();
    let child = lab.dir.join("stubborn-child");
    std::fs::write(&child, "#!/bin/sh\ntrap '' TERM\nexec sleep 1000\n").unwrap();
    std::fs::set_permissions(&child, std::fs::Permissions::from_mode(0o755)).unwrap();
    let name = lab.name();
    let agent = lab.dir.join(&name);
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\n{} &\nwait\n",
            child.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pid = lab.spawn(Command::new(&agent));
    let sleeping_child = || {
        tree(pid).into_iter().skip(1).find(|(p, _)| {
            std::fs::read_to_string(format!("/proc/{p}/status")).is_ok_and(|s| {
                s.contains("Name:\tsleep") && !s.contains("SigIgn:\t0000000000000000")
            })
        })
    };
    assert!(wait_until(Duration::from_secs(5), || sleeping_child().is_some()));
    let (kid, _) = sleeping_child().unwrap();
    let mut cfg = lab.config();
    cfg.kill_tree = true;
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(actions_for(&r, pid), vec![ActionKind::Sigterm]);
    assert_eq!(actions_for(&r, kid), vec![ActionKind::Sigterm]);
    assert!(
        wait_until(Duration::from_secs(3), || !alive(pid)),
        "the agent obeys"
    );
    lab.reap(pid);
    assert!(alive(kid), "the descendant ignores SIGTERM");
    let tracked = read_ledger(&lab);
    let e = tracked
        .entries
        .iter()
        .find(|e| e.id.pid == kid)
        .expect("descendant tracked");
    assert_eq!(e.tree_of.map(|a| a.pid), Some(pid));
    std::thread::sleep(cfg.grace);
    let r = step(&cfg, Kind::Orphans);
    assert_eq!(
        actions_for(&r, kid),
        vec![ActionKind::Sigkill],
        "{:?}",
        r.actions
    );
    assert!(wait_until(Duration::from_secs(3), || !alive(kid)));
    reap_pid(kid);
}
