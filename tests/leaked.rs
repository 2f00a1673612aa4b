//! Issue 15: leaked descendants on real processes. Every test uses the
//! lab's private marker (`PRT_LEAK_<random>=1`) and private agent names;
//! marker processes are `sleep`s named `mcp-<random>`, started by agent
//! shells (`prt-<random>`) that block until the lab kills them (an agent
//! that exits or crashes). The test process is a child subreaper, so what
//! an agent leaves behind is reparented to it and torn down by identity.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use procreap::{
    cleanup_step, explain, find_leaked, reap_now, reap_set, ActionKind, Backend, Config, Error,
    Identity, Kind, Report, Scan, Verdict, VerdictKind,
};
use support::*;

/// Agent shell: one marker process in the agent's own process group.
const ONE_CHILD: &str = r#"env "$M" "$H" 1000 & echo $! >> "$P"; read x < "$F""#;

/// The same, with SIGTERM ignored by the marker process (inherited across
/// exec): only SIGKILL ends it.
const STUBBORN_CHILD: &str =
    r#"(trap '' TERM; exec env "$M" "$H" 1000) & echo $! >> "$P"; read x < "$F""#;

/// An agent under a new private name, in `cwd`, running `body` (see
/// [`Lab::run_sh`]); returns its pid and the marker processes it started.
fn agent_sh(lab: &mut Lab, cwd: &Path, body: &str, n: usize) -> (i32, Vec<Identity>) {
    let name = lab.name();
    let helper = lab.helper();
    lab.run_sh(&name, cwd, body, &helper, n, None)
}

fn verdict_of(cfg: &Config, pid: i32) -> Option<Verdict> {
    explain(cfg)
        .expect("explain")
        .into_iter()
        .find(|v| v.process.id.pid == pid)
}

#[track_caller]
fn judged(cfg: &Config, pid: i32, want: VerdictKind) -> Verdict {
    let v = verdict_of(cfg, pid).unwrap_or_else(|| panic!("pid {pid} is not in explain"));
    assert_eq!(v.verdict, want, "{v:?}");
    v
}

fn leaked(cfg: &Config) -> Vec<Identity> {
    find_leaked(cfg)
        .expect("find_leaked")
        .iter()
        .map(|p| p.id)
        .collect()
}

fn step(cfg: &Config) -> Report {
    let r = cleanup_step(cfg, Kind::Leaked).expect("cleanup step");
    assert!(r.error.is_none(), "step error: {:?}", r.error);
    r
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

fn me() -> i32 {
    std::process::id() as i32
}

/// Fields 5–6 of `/proc/PID/stat`: process group and session.
fn group_and_session(pid: i32) -> (i32, i32) {
    let st = procreap::parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).unwrap()).unwrap();
    (st.pgrp, st.session)
}

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn a_marker_child_whose_agent_exits_is_leaked_and_a_step_ends_it() {
    let mut lab = Lab::new();
    let rig = lab.repo("town/rig");
    let (a, kids) = agent_sh(&mut lab, &rig, ONE_CHILD, 1);
    let m = kids[0];
    let cfg = lab.config();
    assert_eq!(group_and_session(m.pid), (a, a), "in the agent's group");

    // While the agent lives: its group leader is alive.
    let v = judged(&cfg, m.pid, VerdictKind::LeaderAlive);
    assert_eq!(
        v.reason,
        format!(
            "carries {}; its process group leader pid {a} ({}) is alive",
            lab.leak_marker(),
            comm(a)
        )
    );
    assert!(leaked(&cfg).is_empty());
    assert!(actions_for(&step(&cfg), m.pid).is_empty());

    // The agent exits (SIGKILL: a crash); the child is reparented to us.
    lab.kill(a);
    let v = judged(&cfg, m.pid, VerdictKind::Leaked);
    let want = format!(
        "carries {}; its process group leader pid {a} is gone; parent pid {} ({}); no live \
         agent above it or in its project {}; no terminal, not in tmux, age ",
        lab.leak_marker(),
        me(),
        comm(me()),
        canonical(&rig)
    );
    assert!(v.reason.starts_with(&want), "{}\n{want}", v.reason);
    assert_eq!(v.process.id, m);
    assert!(v.process.cmdline.ends_with(" 1000"), "{:?}", v.process);
    assert_eq!(leaked(&cfg), vec![m]);
    let scan = Scan::new(&cfg).unwrap();
    assert_eq!(
        scan.leaked()
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![m]
    );
    // Leaked descendants are no orphans.
    assert!(scan.orphans().unwrap().is_empty());

    // A dry run decides and sends nothing.
    let dry = Config {
        dry_run: true,
        ..cfg.clone()
    };
    let r = step(&dry);
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Sigterm]);
    assert!(r.actions.iter().all(|a| a.dry_run));
    assert!(alive(m.pid));

    let r = step(&cfg);
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Sigterm], "{r:?}");
    assert!(wait_until(Duration::from_secs(5), || !alive(m.pid)));
    reap_pid(m.pid);
    let r = step(&cfg);
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Exited], "{r:?}");
}

#[test]
fn a_leaked_child_that_ignores_sigterm_gets_sigkill_after_the_grace() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    let (a, kids) = agent_sh(&mut lab, &rig, STUBBORN_CHILD, 1);
    let m = kids[0];
    let status = std::fs::read_to_string(format!("/proc/{}/status", m.pid)).unwrap();
    let ign = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap();
    assert_ne!(ign & (1 << (libc::SIGTERM - 1)), 0, "SIGTERM ignored");
    lab.kill(a);
    let cfg = Config {
        grace: Duration::from_secs(2),
        ..lab.config()
    };
    let r = step(&cfg);
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Sigterm], "{r:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(m.pid), "SIGTERM is ignored");
    let r = step(&cfg);
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Waiting], "{r:?}");
    std::thread::sleep(cfg.grace);
    let r = step(&cfg);
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Sigkill], "{r:?}");
    assert!(wait_until(Duration::from_secs(5), || !alive(m.pid)));
    reap_pid(m.pid);
}

/// The agent is not its group's leader: a plain shell (the leader) started
/// it, and the marker process is in that shell's group. The leader dies;
/// the agent, still alive above the marker process, keeps it.
#[test]
fn a_live_agent_above_a_marker_process_keeps_it_whatever_its_group() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    let name = lab.name();
    let agent = lab.dir.join(&name);
    write_script(&agent, ONE_CHILD);
    let helper = lab.helper();
    let lead = format!("lead-{}", token());
    let (l, kids) = lab.run_sh(
        &lead,
        &rig,
        &format!("'{}' & read x < \"$F\"", agent.display()),
        &helper,
        1,
        None,
    );
    let m = kids[0];
    let a = procreap::parse_stat(&std::fs::read(format!("/proc/{}/stat", m.pid)).unwrap())
        .unwrap()
        .ppid;
    assert_eq!(comm(a), name);
    lab.own_exact((a, identity(a).start_time));
    let cfg = lab.config();
    let v = judged(&cfg, m.pid, VerdictKind::LeaderAlive);
    assert!(
        v.reason.ends_with(&format!("pid {l} ({lead}) is alive")),
        "{}",
        v.reason
    );
    lab.kill(l);
    assert_eq!(group_and_session(m.pid).0, l);
    let v = judged(&cfg, m.pid, VerdictKind::AgentAlive);
    assert_eq!(
        v.reason,
        format!(
            "carries {}; its ancestor agent pid {a} ({name}) is alive",
            lab.leak_marker()
        )
    );
    assert!(leaked(&cfg).is_empty());
    kill_exact(a, identity(a).start_time);
    judged(&cfg, m.pid, VerdictKind::Leaked);
}

/// Gas Town's layout: a rig (a repository), a polecat's worktree of it
/// (a `.git` file) and the mayor at the town root.
#[test]
fn a_live_agent_in_the_same_project_keeps_a_marker_process_another_worktree_does_not() {
    let mut lab = Lab::new();
    let town = lab.dir.join("town");
    let rig = lab.repo("town/rig");
    let polecat = lab.worktree("town/polecats/p1", &rig);
    std::fs::create_dir_all(rig.join("src")).unwrap();
    let (a, kids) = agent_sh(&mut lab, &rig, ONE_CHILD, 1);
    let m = kids[0];
    // Another agent in the rig, in a subdirectory.
    let other = lab.agent(Some(&rig.join("src")));
    let cfg = lab.config();
    lab.kill(a);
    let v = judged(&cfg, m.pid, VerdictKind::AgentAlive);
    assert_eq!(
        v.reason,
        format!(
            "carries {}; agent pid {} ({}) works in the same project {}",
            lab.leak_marker(),
            other.pid,
            comm(other.pid),
            canonical(&rig)
        )
    );
    assert!(leaked(&cfg).is_empty());
    assert!(actions_for(&step(&cfg), m.pid).is_empty());

    // Only a polecat in its own worktree and the mayor at the town root.
    let _polecat = lab.agent(Some(&polecat));
    let _mayor = lab.agent(Some(&town));
    let cfg = lab.config();
    lab.kill(other.pid);
    judged(&cfg, m.pid, VerdictKind::Leaked);
    assert_eq!(leaked(&cfg), vec![m]);
}

/// A dev server the agent started with `setsid … &` from a subdirectory:
/// its own session, its group's leader (that shell) gone at once, its
/// parent the reaper. The agent lives in the same project: kept.
#[test]
fn a_marker_child_that_left_the_agents_group_is_kept_while_the_agent_works_in_the_project() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    std::fs::create_dir_all(rig.join("web")).unwrap();
    let body =
        r#"cd web && env "$M" setsid sh -c '"$H" 1000 & echo $! >> "$P"'; cd ..; read x < "$F""#;
    let (a, kids) = agent_sh(&mut lab, &rig, body, 1);
    let m = kids[0];
    let (pgrp, session) = group_and_session(m.pid);
    assert_ne!(pgrp, a);
    assert_ne!(session, a);
    assert_ne!(pgrp, m.pid, "not its own leader");
    assert!(!alive(pgrp), "its group's leader is gone");
    assert_eq!(
        std::fs::read_link(format!("/proc/{}/cwd", m.pid)).unwrap(),
        std::fs::canonicalize(rig.join("web")).unwrap()
    );
    let cfg = lab.config();
    let v = judged(&cfg, m.pid, VerdictKind::AgentAlive);
    assert_eq!(
        v.reason,
        format!(
            "carries {}; agent pid {a} ({}) works in the same project {}",
            lab.leak_marker(),
            comm(a),
            canonical(&rig)
        )
    );
    assert!(leaked(&cfg).is_empty());
    lab.kill(a);
    let v = judged(&cfg, m.pid, VerdictKind::Leaked);
    assert!(
        v.reason
            .contains(&format!("its process group leader pid {pgrp} is gone")),
        "{}",
        v.reason
    );
}

#[test]
fn a_marker_process_in_its_own_session_whose_leader_lives_is_not_leaked() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    let helper = lab.helper();
    let lead = format!("lead-{}", token());
    let (l, kids) = lab.run_sh(&lead, &rig, ONE_CHILD, &helper, 1, None);
    let m = kids[0];
    assert_eq!(group_and_session(m.pid), (l, l));
    let cfg = lab.config();
    let v = judged(&cfg, m.pid, VerdictKind::LeaderAlive);
    assert_eq!(
        v.reason,
        format!(
            "carries {}; its process group leader pid {l} ({lead}) is alive",
            lab.leak_marker()
        )
    );
    // A marker process that leads its own session and group.
    let mut c = Command::new(&helper);
    c.arg("1000").env(&lab.marker, "1").current_dir(&rig);
    let own = lab.spawn(c);
    let v = judged(&cfg, own, VerdictKind::LeaderAlive);
    assert_eq!(
        v.reason,
        format!(
            "carries {}; it leads its own process group (pgid {own}): its leader is alive",
            lab.leak_marker()
        )
    );
    assert!(leaked(&cfg).is_empty());
}

#[test]
fn a_marker_process_in_a_tmux_pane_is_protected() {
    let mut lab = Lab::new();
    let helper = lab.helper();
    let sock = lab.tmux(&format!(
        "env {} '{}' 1000; :",
        lab.leak_marker(),
        helper.display()
    ));
    let name = helper.file_name().unwrap().to_string_lossy().into_owned();
    let mut m = 0;
    assert!(wait_until(Duration::from_secs(5), || {
        m = lab
            .tmux_panes(&sock)
            .into_iter()
            .flat_map(tree)
            .map(|(p, _)| p)
            .find(|p| comm(*p) == name && exec_done(*p))
            .unwrap_or(0);
        m != 0
    }));
    let mut cfg = lab.config();
    let v = judged(&cfg, m, VerdictKind::Protected);
    assert!(
        v.reason
            .starts_with(&format!("carries {}; in tmux: pid ", lab.leak_marker()))
            && v.reason.contains("is a child of tmux server pid"),
        "{}",
        v.reason
    );
    cfg.tmux_sockets = vec![sock.clone()];
    let v = judged(&cfg, m, VerdictKind::Protected);
    assert!(v.reason.contains(&sock), "{}", v.reason);
    assert!(leaked(&cfg).is_empty());
}

#[test]
fn a_marker_process_with_a_terminal_is_not_leaked() {
    let mut lab = Lab::new();
    let helper = lab.helper();
    let pty = Pty::open();
    let mut c = Command::new(&helper);
    c.arg("1000").env(&lab.marker, "1");
    pty.control(&mut c);
    let m = lab.adopt(c.spawn().unwrap());
    assert!(wait_until(Duration::from_secs(5), || exec_done(m)));
    let cfg = lab.config();
    let v = judged(&cfg, m, VerdictKind::HasTty);
    let tty = v.process.tty.clone().expect("a terminal");
    assert_eq!(
        v.reason,
        format!(
            "carries {}; has terminal {tty} outside tmux: an interactive session",
            lab.leak_marker()
        )
    );
    assert!(leaked(&cfg).is_empty());
}

#[test]
fn a_process_without_the_marker_whose_leader_died_is_untouched() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    let (a, kids) = agent_sh(
        &mut lab,
        &rig,
        r#""$H" 1000 & echo $! >> "$P"; read x < "$F""#,
        1,
    );
    let m = kids[0];
    lab.kill(a);
    let cfg = lab.config();
    assert!(verdict_of(&cfg, m.pid).is_none());
    assert!(leaked(&cfg).is_empty());
    let r = step(&cfg);
    assert!(actions_for(&r, m.pid).is_empty(), "{r:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(m.pid));
}

/// Linux never gives a new process a pid that is still some live
/// process's group id (POSIX forbids reusing a group id while the group
/// lives): `clone3` asked for the dead leader's pid refuses it (root only).
/// So a marker process's group id names a younger process only when the
/// marker process joined that younger process's group; the rule counts
/// such a leader as gone. Made here with `setpgid` (perl) from a plain
/// session leader.
#[test]
fn a_group_leader_younger_than_the_marker_process_counts_as_gone() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    // The kernel keeps a live group's id.
    let (a, first) = agent_sh(&mut lab, &rig, ONE_CHILD, 1);
    lab.kill(a);
    match clone_with_pid(a, &lab.helper()) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        Err(e) => eprintln!("skipped the clone3 check: {e} (needs root and Linux ≥ 5.5)"),
        Ok(p) => {
            lab.own_exact((p, identity(p).start_time));
            panic!(
                "pid {a} (group of {}) was given to a new process",
                first[0].pid
            );
        }
    }

    // A marker process that joins the group of a younger process.
    let young = lab.sleep_bin(&format!("young-{}", token()));
    let body = format!(
        r#"env "$M" perl -e '
  until (-s "$ENV{{P}}.y") {{ select(undef, undef, undef, 0.01) }}
  open(my $f, "<", "$ENV{{P}}.y") or die; my $y = <$f>; chomp $y;
  for (1..500) {{ last if setpgrp(0, $y); select(undef, undef, undef, 0.01) }}
  getpgrp() == $y or die "setpgrp: $!";
  exec $ENV{{H}}, "1000" or die' & echo $! >> "$P"
sleep 0.1
perl -e 'setpgrp(0, 0) or die; exec "{}", "1000" or die' & echo $! > "$P.tmp"; mv "$P.tmp" "$P.y"
read x < "$F""#,
        young.display()
    );
    let helper = lab.helper();
    let (l, kids) = lab.run_sh(&format!("lead-{}", token()), &rig, &body, &helper, 1, None);
    let m = kids[0];
    let mut y = 0;
    assert!(wait_until(Duration::from_secs(5), || {
        y = group_and_session(m.pid).0;
        y != l && comm(y) == young.file_name().unwrap().to_string_lossy()
    }));
    lab.own_exact((y, identity(y).start_time));
    assert!(
        identity(y).start_time > m.start_time,
        "the leader is younger"
    );
    let cfg = lab.config();
    let v = judged(&cfg, m.pid, VerdictKind::Leaked);
    assert!(
        v.reason
            .contains(&format!("its process group leader pid {y} is gone")),
        "{}",
        v.reason
    );
    // Both: the first one's leader is simply gone.
    assert_eq!(leaked(&cfg), vec![first[0], m]);
}

/// `clone3` with `set_tid`: a process with pid `pid` running `prog 1000`.
fn clone_with_pid(pid: i32, prog: &Path) -> std::io::Result<i32> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
    }
    if !is_root() {
        return Err(std::io::Error::from_raw_os_error(libc::EPERM));
    }
    // Everything the child touches is ready before the clone: between
    // clone and exec it may only make system calls.
    let path = CString::new(prog.as_os_str().as_bytes()).unwrap();
    let arg = CString::new("1000").unwrap();
    let argv = [path.as_ptr(), arg.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    let tid: libc::pid_t = pid;
    let mut args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: &tid as *const libc::pid_t as u64,
        set_tid_size: 1,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 with a valid argument block; the child only calls
    // execve and _exit.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r == 0 {
        // SAFETY: in the child: exec or exit, nothing else.
        unsafe {
            libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r as i32)
}

/// Another user's marker process whose agent is gone: never read, found or
/// signalled without `all_users` (or `users` naming it).
#[test]
fn another_users_marker_process_is_left_alone_without_all_users() {
    if !is_root() {
        eprintln!("skipped: needs root to start a process as uid 65534");
        return;
    }
    let mut lab = Lab::new();
    let helper = lab.helper();
    let dir = lab.dir.clone();
    let (l, kids) = lab.run_sh(
        &format!("lead-{}", token()),
        &dir,
        ONE_CHILD,
        &helper,
        1,
        Some(65534),
    );
    let m = kids[0];
    lab.kill(l);
    let cfg = lab.config();
    assert!(
        verdict_of(&cfg, m.pid).is_none(),
        "its environment is not read"
    );
    assert!(leaked(&cfg).is_empty());
    let r = step(&cfg);
    assert!(actions_for(&r, m.pid).is_empty(), "{r:?}");
    let r = reap_now(&cfg, &[m], Duration::from_millis(200)).unwrap();
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Skipped], "{r:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(m.pid));
    for wide in [
        Config {
            all_users: true,
            ..cfg.clone()
        },
        Config {
            users: vec![65534],
            ..cfg.clone()
        },
    ] {
        let v = judged(&wide, m.pid, VerdictKind::Leaked);
        assert_eq!(v.process.uid, Some(65534));
        assert_eq!(leaked(&wide), vec![m]);
    }
}

#[test]
fn reap_now_ends_a_leaked_process() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    let (a, kids) = agent_sh(&mut lab, &rig, STUBBORN_CHILD, 1);
    let m = kids[0];
    let cfg = lab.config();
    // Not a candidate while its agent lives.
    let r = reap_now(&cfg, &[m], Duration::from_millis(200)).unwrap();
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Skipped], "{r:?}");
    assert!(
        r.actions[0].reason.starts_with("leader-alive: carries"),
        "{}",
        r.actions[0].reason
    );
    lab.kill(a);
    let r = reap_now(&cfg, &[m], Duration::from_millis(500)).unwrap();
    assert_eq!(
        actions_for(&r, m.pid),
        vec![ActionKind::Sigterm, ActionKind::Sigkill, ActionKind::Exited],
        "{r:?}"
    );
    reap_pid(m.pid);
}

/// A reap set is a list a person approved: a leaked identity on it is
/// signalled like an orphan's.
#[test]
fn reap_set_takes_a_leaked_identity() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    let (a, kids) = agent_sh(&mut lab, &rig, ONE_CHILD, 1);
    let m = kids[0];
    lab.kill(a);
    let cfg = lab.config();
    let r = reap_set(&cfg, &[m]).unwrap();
    assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Sigterm], "{r:?}");
    assert!(wait_until(Duration::from_secs(5), || !alive(m.pid)));
    reap_pid(m.pid);
}

/// `kill_tree` takes a leaked process's own descendants with it; here a
/// child that does not carry the marker (so is no leaked descendant of its
/// own).
#[test]
fn kill_tree_takes_the_descendants_of_a_leaked_process() {
    for kill_tree in [false, true] {
        let mut lab = Lab::new();
        let rig = lab.repo("rig");
        let kid = lab.sleep_bin(&format!("kid-{}", token()));
        let server = lab.dir.join(format!("mcp-{}", token()));
        write_script(
            &server,
            &format!("env -u {} '{}' 1000 &\nwait", lab.marker, kid.display()),
        );
        let name = lab.name();
        let (a, kids) = lab.run_sh(&name, &rig, ONE_CHILD, &server, 1, None);
        let m = kids[0];
        let kid_name = kid.file_name().unwrap().to_string_lossy().into_owned();
        let mut c = 0;
        assert!(wait_until(Duration::from_secs(5), || {
            c = tree(m.pid)
                .into_iter()
                .map(|(p, _)| p)
                .find(|p| comm(*p) == kid_name && exec_done(*p))
                .unwrap_or(0);
            c != 0
        }));
        lab.own_exact((c, identity(c).start_time));
        lab.kill(a);
        let cfg = Config {
            kill_tree,
            ..lab.config()
        };
        assert!(verdict_of(&cfg, c).is_none(), "the child carries no marker");
        assert_eq!(leaked(&cfg), vec![m]);
        let r = step(&cfg);
        assert_eq!(actions_for(&r, m.pid), vec![ActionKind::Sigterm], "{r:?}");
        assert!(wait_until(Duration::from_secs(5), || !alive(m.pid)));
        reap_pid(m.pid);
        if kill_tree {
            assert_eq!(actions_for(&r, c), vec![ActionKind::Sigterm], "{r:?}");
            let a = r.actions.iter().find(|x| x.process.id.pid == c).unwrap();
            assert!(a.reason.contains(&format!("pid {}", m.pid)), "{}", a.reason);
            assert!(wait_until(Duration::from_secs(5), || !alive(c)));
        } else {
            assert!(actions_for(&r, c).is_empty(), "{r:?}");
            std::thread::sleep(Duration::from_millis(100));
            assert!(alive(c));
        }
    }
}

/// The ps backend cannot read environments: asked for leaked descendants
/// it says so (an error, nothing signalled), and its explain lists agents
/// only. Without markers there is nothing to find on any backend.
#[test]
fn the_ps_backend_says_it_cannot_find_leaked_descendants() {
    let mut lab = Lab::new();
    let rig = lab.repo("rig");
    let (a, kids) = agent_sh(&mut lab, &rig, ONE_CHILD, 1);
    let m = kids[0];
    lab.kill(a);
    let mut cfg = lab.config();
    judged(&cfg, m.pid, VerdictKind::Leaked);
    cfg.backend = Backend::Ps;
    let unsupported = |r: procreap::Result<_>| match r {
        Err(Error::Unsupported(msg)) => {
            assert!(
                msg.contains("ps backend cannot read process environments"),
                "{msg}"
            );
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("the ps backend found leaked descendants without environments"),
    };
    unsupported(find_leaked(&cfg).map(|_| ()));
    unsupported(Scan::new(&cfg).unwrap().leaked().map(|_| ()));
    unsupported(cleanup_step(&cfg, Kind::Leaked).map(|_| ()));
    assert!(alive(m.pid));
    assert!(
        verdict_of(&cfg, m.pid).is_none(),
        "explain lists agents only"
    );
    cfg.leak_markers.clear();
    assert!(find_leaked(&cfg).unwrap().is_empty());
    cfg.backend = Backend::Proc;
    assert!(find_leaked(&cfg).unwrap().is_empty());
    assert!(verdict_of(&cfg, m.pid).is_none());
}
