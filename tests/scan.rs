//! Issue 2: classification on real processes, real ptys and real tmux
//! servers on private sockets. One test per verdict. Nothing here signals.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use procreap::{
    explain, find_orphans, find_zombies, Argv0Match, Backend, Config, Verdict, VerdictKind,
};
use support::*;

fn verdict_of(cfg: &Config, pid: i32) -> Verdict {
    let all = explain(cfg).expect("explain");
    all.into_iter()
        .find(|v| v.process.id.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} is not listed as an agent process"))
}

fn listed(cfg: &Config, pid: i32) -> bool {
    explain(cfg)
        .unwrap()
        .iter()
        .any(|v| v.process.id.pid == pid)
}

#[test]
fn an_agent_without_tty_outside_tmux_is_an_orphan() {
    let mut lab = Lab::new();
    let d = lab.agent(None);
    let cfg = lab.config();
    let v = verdict_of(&cfg, d.pid);
    assert_eq!(v.verdict, VerdictKind::Orphan, "{v:?}");
    assert!(v.process.tty.is_none());
    assert!(v.process.cmdline.contains("1000"));
    let orphans = find_orphans(&cfg).unwrap();
    assert_eq!(
        orphans.iter().map(|p| p.id.pid).collect::<Vec<_>>(),
        vec![d.pid]
    );
    assert_eq!(orphans[0].id, d.identity());
}

#[test]
fn names_match_case_insensitively() {
    let mut lab = Lab::new();
    let d = lab.agent(None);
    let mut cfg = lab.config();
    cfg.agent_names = cfg.agent_names.iter().map(|n| n.to_uppercase()).collect();
    assert_eq!(verdict_of(&cfg, d.pid).verdict, VerdictKind::Orphan);
}

#[test]
fn a_pane_grandchild_on_a_second_tmux_socket_is_protected() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let _first = lab.tmux("sleep 1000");
    // pane process: sh; its child: sh; grandchild: the agent.
    let sock = lab.tmux(&format!("sh -c 'sh -c \"{} 1000; :\"; :'", bin.display()));
    let cfg = lab.config();
    let pid = wait_agent(&cfg);
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    assert!(v.reason.contains("tmux server"), "{}", v.reason);
    let pane = lab.tmux_panes(&sock)[0];
    assert!(
        v.reason
            .contains(&format!("pid {pane} is a child of tmux server pid")),
        "{} (pane {pane})",
        v.reason
    );
    // Asking the socket explicitly names it.
    let mut cfg2 = cfg.clone();
    cfg2.tmux_sockets = vec![sock.clone()];
    let v2 = verdict_of(&cfg2, pid);
    assert_eq!(v2.verdict, VerdictKind::Protected);
    assert!(v2.reason.contains(&sock), "{}", v2.reason);
    assert!(find_orphans(&cfg).unwrap().is_empty());
    assert!(find_zombies(&cfg).unwrap().is_empty());
}

/// Issue 10 item 1: a tmux server is found by what it is, not by what it
/// is called. Started through an alias (`tm`, so it names itself
/// `tm: server`), it still protects an agent that left the pane's session
/// (no terminal); a job the server runs (`run-shell -b`) is described as
/// the server's child, not as a pane.
#[test]
fn a_tmux_server_started_through_an_alias_still_protects() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let tm = lab.dir.join("tm");
    std::os::unix::fs::symlink(which("tmux"), &tm).unwrap();
    let sock = lab.tmux_as(
        &tm,
        &format!("sh -c 'setsid {} 1000; sleep 1000'", bin.display()),
    );
    let cfg = lab.config();
    let pid = wait_agent(&cfg);
    let server = server_of(&lab, &sock);
    let comm = std::fs::read_to_string(format!("/proc/{server}/comm")).unwrap();
    assert_eq!(comm.trim_end(), "tm: server", "the alias names the server");
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    assert!(v.process.tty.is_none(), "setsid left the pane's terminal");
    assert!(
        v.reason
            .contains(&format!("child of tmux server pid {server}")),
        "{}",
        v.reason
    );
    assert!(find_orphans(&cfg).unwrap().is_empty());

    // A job of the server, not a pane.
    let job = lab.name();
    let job_bin = lab.sleep_bin(&job);
    let st = Command::new(&tm)
        .args([
            "-L",
            &sock,
            "run-shell",
            "-b",
            &format!("setsid {} 1000", job_bin.display()),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = lab.config();
    let mut v = None;
    assert!(wait_until(Duration::from_secs(5), || {
        v = explain(&cfg)
            .unwrap()
            .into_iter()
            .find(|v| v.process.name == job);
        v.is_some()
    }));
    let v = v.unwrap();
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    assert!(
        v.reason
            .contains(&format!("child of tmux server pid {server}"))
            && v.reason.contains("a job the server runs")
            && !v.reason.contains("pane process"),
        "{}",
        v.reason
    );
}

/// The second outside attack: a copy of tmux installed under a long name
/// without "tmux" in it (a static release, an AppImage) names its server
/// after its first 15 bytes — no `: server`, and its executable is no
/// `tmux`. A job it runs is still in a terminal session: the server holds
/// the panes' pty masters and listens on its socket.
#[test]
fn a_tmux_copy_under_a_long_name_still_protects() {
    let mut lab = Lab::new();
    let copy = lab.dir.join(format!("termplexer-static-{}", token()));
    std::fs::copy(which("tmux"), &copy).unwrap();
    let sock = lab.tmux_as(&copy, "sleep 1000");
    let server = server_of(&lab, &sock);
    let comm = std::fs::read_to_string(format!("/proc/{server}/comm")).unwrap();
    assert_eq!(
        comm.trim_end(),
        "termplexer-stat",
        "no `: server` in the name"
    );
    let job = lab.name();
    let job_bin = lab.sleep_bin(&job);
    let st = Command::new(&copy)
        .args(["-L", &sock, "run-shell", "-b"])
        .arg(format!("exec {} 1000", job_bin.display()))
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = lab.config();
    let pid = wait_agent(&cfg);
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    assert!(
        v.reason.contains(&format!("child of pid {server}"))
            && v.reason.contains("holds a pty master"),
        "{}",
        v.reason
    );
    assert!(find_orphans(&cfg).unwrap().is_empty());
    // The zombie scan counts only a real tmux as a server: it refuses to
    // run blind, or finds nothing.
    match find_zombies(&cfg) {
        Ok(z) => assert!(z.is_empty(), "{z:?}"),
        Err(e) => assert!(e.to_string().contains("blind"), "{e}"),
    }
}

/// The pid of the lab's tmux server on `sock` (its first pane's parent).
fn server_of(lab: &Lab, sock: &str) -> i32 {
    let pane = *lab.tmux_panes(sock).first().expect("a pane");
    procreap::parse_stat(&std::fs::read(format!("/proc/{pane}/stat")).unwrap())
        .unwrap()
        .ppid
}

fn wait_agent(cfg: &Config) -> i32 {
    let mut pid = 0;
    assert!(
        wait_until(Duration::from_secs(5), || {
            pid = explain(cfg)
                .unwrap()
                .first()
                .map_or(0, |v| v.process.id.pid);
            // Named, and its argv in place (the kernel fills it in last).
            pid != 0 && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|a| !a.is_empty())
        }),
        "agent did not appear"
    );
    pid
}

#[test]
fn an_agent_with_a_pty_outside_tmux_has_a_tty() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let pty = Pty::open();
    let mut c = Command::new(&bin);
    c.arg("1000");
    pty.control(&mut c);
    let mut child = c.spawn().unwrap();
    let pid = child.id() as i32;
    wait_until(Duration::from_secs(5), || {
        explain(&lab.config())
            .unwrap()
            .iter()
            .any(|v| v.process.id.pid == pid)
    });
    let v = verdict_of(&lab.config(), pid);
    let _ = child.kill();
    let _ = child.wait();
    drop(pty);
    assert_eq!(v.verdict, VerdictKind::HasTty, "{v:?}");
    let tty = v.process.tty.clone().expect("tty name");
    assert!(tty.starts_with("pts/"), "{tty}");
    assert!(v.reason.contains(&tty));
}

#[test]
fn ide_arguments_mark_an_agent_ide_launched() {
    let mut lab = Lab::new();
    let a = lab.script_agent(OnTerm::Exit, &["--from", "/home/u/.vscode-server/bin/x"]);
    let b = lab.script_agent(
        OnTerm::Exit,
        &[
            "--output-format",
            "stream-json",
            "--input-format",
            "stream-json",
        ],
    );
    let c = lab.script_agent(OnTerm::Exit, &["--output-format", "stream-json"]);
    let cfg = lab.config();
    assert_eq!(verdict_of(&cfg, a.pid).verdict, VerdictKind::IdeLaunched);
    assert_eq!(verdict_of(&cfg, b.pid).verdict, VerdictKind::IdeLaunched);
    assert_eq!(
        verdict_of(&cfg, c.pid).verdict,
        VerdictKind::Orphan,
        "one stream-json flag is not enough"
    );
}

fn town(lab: &Lab, name: &str) -> std::path::PathBuf {
    let t = lab.dir.join(name);
    std::fs::create_dir_all(t.join("mayor")).unwrap();
    std::fs::write(t.join("mayor/town.json"), "{}").unwrap();
    t
}

#[test]
fn a_cwd_outside_any_workspace_is_outside_workspace() {
    let mut lab = Lab::new();
    let t = town(&lab, "town");
    std::fs::create_dir_all(t.join("rig/crew")).unwrap();
    let inside = lab.agent(Some(&t.join("rig/crew")));
    let outside = lab.agent(Some(&lab.dir.clone()));
    let mut cfg = lab.config();
    cfg.workspace_marker = "mayor/town.json".into();
    let v = verdict_of(&cfg, inside.pid);
    assert_eq!(v.verdict, VerdictKind::Orphan, "{v:?}");
    assert_eq!(
        v.process.workspace_root.as_deref(),
        Some(t.canonicalize().unwrap().as_path())
    );
    let v = verdict_of(&cfg, outside.pid);
    assert_eq!(v.verdict, VerdictKind::OutsideWorkspace, "{v:?}");
    assert!(v.reason.contains("mayor/town.json"), "{}", v.reason);
    assert!(v.process.workspace_root.is_none());
}

#[test]
fn a_deleted_cwd_inside_a_live_workspace_still_finds_its_root() {
    let mut lab = Lab::new();
    let t = town(&lab, "town");
    let wt = t.join("rig/polecats/gone");
    std::fs::create_dir_all(&wt).unwrap();
    let d = lab.agent(Some(&wt));
    std::fs::remove_dir_all(t.join("rig")).unwrap();
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", d.pid)).unwrap();
    assert!(cwd.to_string_lossy().ends_with(" (deleted)"), "{cwd:?}");
    let mut cfg = lab.config();
    cfg.workspace_marker = "mayor/town.json".into();
    let v = verdict_of(&cfg, d.pid);
    assert_eq!(v.verdict, VerdictKind::Orphan, "{v:?}");
    // A deleted town leaves no root at all.
    std::fs::remove_dir_all(&t).unwrap();
    assert_eq!(
        verdict_of(&cfg, d.pid).verdict,
        VerdictKind::OutsideWorkspace
    );
}

#[test]
fn sibling_workspaces_with_workspace_root_set() {
    let mut lab = Lab::new();
    let a = town(&lab, "town-a");
    let b = town(&lab, "town-b");
    let in_a = lab.agent(Some(&a));
    let in_b = lab.agent(Some(&b));
    let mut cfg = lab.config();
    cfg.workspace_marker = "mayor/town.json".into();
    cfg.workspace_root = Some(a.clone());
    assert_eq!(verdict_of(&cfg, in_a.pid).verdict, VerdictKind::Orphan);
    let v = verdict_of(&cfg, in_b.pid);
    assert_eq!(v.verdict, VerdictKind::OutsideWorkspace);
    assert!(v.reason.contains("town-b"), "{}", v.reason);
    // Without a marker, workspace_root is a plain path prefix.
    cfg.workspace_marker = String::new();
    assert_eq!(verdict_of(&cfg, in_a.pid).verdict, VerdictKind::Orphan);
    assert_eq!(
        verdict_of(&cfg, in_b.pid).verdict,
        VerdictKind::OutsideWorkspace
    );
}

#[test]
fn a_young_process_is_too_young() {
    let mut lab = Lab::new();
    let d = lab.agent(None);
    let mut cfg = lab.config();
    cfg.min_age = Duration::from_secs(3600);
    let v = verdict_of(&cfg, d.pid);
    assert_eq!(v.verdict, VerdictKind::TooYoung);
    assert!(
        v.reason.contains("age ") && v.reason.contains("3600s"),
        "{}",
        v.reason
    );
    assert!(find_orphans(&cfg).unwrap().is_empty());
}

#[test]
fn a_binary_named_after_a_version_matches_by_argv0() {
    let mut lab = Lab::new();
    let name = lab.name();
    let version_file = format!(
        "9.{}.19",
        u32::from_str_radix(&token(), 16).unwrap() % 10_000
    );
    let bin = lab.sleep_bin(&version_file);
    let mut c = Command::new(&bin);
    c.arg0(&name).arg("1000");
    let pid = lab.spawn(c);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), version_file);
    let mut cfg = lab.config();
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::Orphan);
    assert_eq!(v.process.name, version_file);
    cfg.argv0_match = Argv0Match::Never;
    assert!(
        !listed(&cfg, pid),
        "with argv0_match never the comm decides"
    );
    cfg.argv0_match = Argv0Match::Always;
    assert_eq!(verdict_of(&cfg, pid).verdict, VerdictKind::Orphan);
}

/// Issue 10 item 3: a program that merely calls itself an agent
/// (`exec -a NAME`) is not one by default: argv[0] is consulted only where
/// the comm cannot carry the name. The broad rule is an explicit setting.
#[test]
fn argv0_alone_does_not_make_an_agent_unless_asked() {
    let mut lab = Lab::new();
    let name = lab.name();
    let other = format!("sleepy-{}", &token()[..6]);
    let bin = lab.sleep_bin(&other);
    let mut c = Command::new(&bin);
    c.arg0(&name).arg("1000");
    let pid = lab.spawn(c);
    let mut cfg = lab.config();
    assert!(!listed(&cfg, pid), "exec -a {name} must not make an agent");
    assert!(find_orphans(&cfg).unwrap().is_empty());
    cfg.argv0_match = Argv0Match::Always;
    assert_eq!(verdict_of(&cfg, pid).verdict, VerdictKind::Orphan);
}

#[test]
fn a_name_longer_than_15_characters_matches_by_prefix_and_argv0() {
    let mut lab = Lab::new();
    let long = format!("prt-{}-long-agent", token());
    assert!(long.len() > 15);
    lab.names.push(long.clone());
    let bin = lab.sleep_bin(&long);
    let mut c = Command::new(&bin);
    c.arg("1000");
    let good = lab.spawn(c);
    // Same 15-char comm, but argv[0] does not confirm the full name.
    let mut c = Command::new(&bin);
    c.arg0("something-else").arg("1000");
    let impostor = lab.spawn(c);
    let comm = std::fs::read_to_string(format!("/proc/{good}/comm")).unwrap();
    assert_eq!(comm.trim(), &long[..15]);
    let cfg = lab.config();
    assert_eq!(verdict_of(&cfg, good).verdict, VerdictKind::Orphan);
    assert!(
        !listed(&cfg, impostor),
        "a 15-char prefix alone is not a match"
    );
}

#[test]
fn a_defunct_child_is_reported_with_its_parent() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let mut child = Command::new(&bin).arg("1000").spawn().unwrap();
    let pid = child.id() as i32;
    wait_until(Duration::from_secs(5), || listed(&lab.config(), pid));
    child.kill().unwrap(); // our own child; not reaped yet, so it is defunct
    wait_until(Duration::from_secs(5), || !alive(pid));
    let cfg = lab.config();
    let v = verdict_of(&cfg, pid);
    let _ = child.wait();
    assert_eq!(v.verdict, VerdictKind::Defunct, "{v:?}");
    assert!(
        v.reason
            .contains(&format!("parent pid {}", std::process::id())),
        "{}",
        v.reason
    );
    assert_eq!(v.process.state, 'Z');
}

#[test]
fn a_protected_pid_file_protects_its_descendants() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!("{} 1000; :", bin.display()));
    let root = lab.spawn(c);
    let cfg0 = lab.config();
    let agent = wait_agent(&cfg0);
    let pidfile = lab.dir.join("mayor-acp.pid");
    std::fs::write(&pidfile, format!("{root}\n")).unwrap();
    let mut cfg = lab.config();
    cfg.protected_pid_files = vec![pidfile.clone()];
    let v = verdict_of(&cfg, agent);
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    assert!(
        v.reason.contains(&format!("protected root {root}")),
        "{}",
        v.reason
    );
    assert!(v.reason.contains("mayor-acp.pid"), "{}", v.reason);
    // protected_pids does the same; a missing pid file protects nothing.
    let mut cfg = lab.config();
    cfg.protected_pids = vec![agent];
    assert_eq!(verdict_of(&cfg, agent).verdict, VerdictKind::Protected);
    let mut cfg = lab.config();
    cfg.protected_pid_files = vec![lab.dir.join("missing.pid")];
    assert_eq!(verdict_of(&cfg, agent).verdict, VerdictKind::Orphan);
    // A pid file with garbage, or empty (being written?), is an error, not a guess.
    let mut cfg = lab.config();
    cfg.protected_pid_files = vec![pidfile.clone()];
    for text in ["not a pid", "", "  \n"] {
        std::fs::write(&pidfile, text).unwrap();
        match explain(&cfg) {
            // Issue 10 item 12: the message names the file and the fix.
            Err(procreap::Error::InvalidArgument(m)) => assert!(
                m.contains(&pidfile.display().to_string())
                    && m.contains("write the root's pid")
                    && m.contains("protected_pid_files"),
                "{m}"
            ),
            other => panic!("{text:?}: expected an error, got {other:?}"),
        }
    }
    // A writer that has truncated the file but not yet written the pid:
    // the immediate re-read sees the pid.
    std::fs::write(&pidfile, "").unwrap();
    let writer = {
        let pidfile = pidfile.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            std::fs::write(&pidfile, format!("{agent}\n")).unwrap();
        })
    };
    let v = verdict_of(&cfg, agent);
    writer.join().unwrap();
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    // A FIFO where the pid file should be: an error at once, never a hang.
    std::fs::remove_file(&pidfile).unwrap();
    nix::unistd::mkfifo(&pidfile, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let t = std::time::Instant::now();
    assert!(matches!(explain(&cfg), Err(procreap::Error::Io { .. })));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn another_users_process_is_other_user() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to start a decoy as nobody");
        return;
    }
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let mut c = Command::new(&bin);
    c.arg("1000").current_dir("/").uid(65534).gid(65534);
    let pid = lab.spawn(c);
    // Another process of nobody's named like the agent by argv[0] only.
    let mut c = Command::new(which("sleep"));
    c.arg0(&name)
        .arg("1000")
        .current_dir("/")
        .uid(65534)
        .gid(65534);
    let by_argv0 = lab.spawn(c);
    let mut cfg = lab.config();
    cfg.argv0_match = Argv0Match::Always;
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::OtherUser, "{v:?}");
    assert!(v.reason.contains("65534"), "{}", v.reason);
    // Its memory (argv) is not read: no cmdline, and no argv[0] match.
    assert_eq!(v.process.cmdline, "");
    assert!(
        !explain(&cfg)
            .unwrap()
            .iter()
            .any(|v| v.process.id.pid == by_argv0),
        "another user's argv is not read"
    );
    cfg.all_users = true;
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::Orphan);
    assert!(v.process.cmdline.ends_with(" 1000"), "{v:?}");
    assert_eq!(verdict_of(&cfg, by_argv0).verdict, VerdictKind::Orphan);
}

#[test]
fn the_ps_backend_gives_the_same_verdicts_as_proc() {
    let mut lab = Lab::new();
    let t = town(&lab, "town");
    let orphan = lab.agent(Some(&t));
    let outside = lab.agent(Some(&lab.dir.clone()));
    let ide = lab.script_agent(OnTerm::Exit, &["--x", ".cursor-server"]);
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    lab.tmux(&format!("sh -c '{} 1000; :'", bin.display()));
    let mut cfg = lab.config();
    cfg.workspace_marker = "mayor/town.json".into();
    wait_until(Duration::from_secs(5), || explain(&cfg).unwrap().len() == 4);
    let key = |vs: Vec<Verdict>| {
        let mut v: Vec<(i32, VerdictKind, Option<String>)> = vs
            .into_iter()
            .map(|v| (v.process.id.pid, v.verdict, v.process.tty.clone()))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    cfg.backend = Backend::Proc;
    let proc_v = key(explain(&cfg).unwrap());
    cfg.backend = Backend::Ps;
    let ps_v = key(explain(&cfg).unwrap());
    assert_eq!(proc_v.len(), 4, "{proc_v:?}");
    assert_eq!(proc_v, ps_v);
    let kinds: Vec<VerdictKind> = proc_v.iter().map(|x| x.1).collect();
    for (pid, want) in [
        (orphan.pid, VerdictKind::Orphan),
        (outside.pid, VerdictKind::OutsideWorkspace),
        (ide.pid, VerdictKind::IdeLaunched),
    ] {
        assert!(
            proc_v.contains(&(pid, want, None)),
            "{pid} {want}: {proc_v:?}"
        );
    }
    assert!(kinds.contains(&VerdictKind::Protected));
}

/// Zombie safety rule in a private pid namespace, where the process table
/// holds only what the test starts: no tmux → error; a tmux server without
/// panes → empty. And inside a pid namespace other than the initial one,
/// its pid 1 was started from outside, where a tmux may hold it (the outside
/// attack's case: a container run in a tmux pane): nothing in it can be
/// proven outside tmux, so everything is protected. (Which processes count
/// as servers, and a scan with panes, are judged on tables of facts in
/// src/classify/tests.rs.)
#[test]
fn zombie_scan_refuses_to_run_blind() {
    if std::env::var_os("PROCREAP_IN_PIDNS").is_some() {
        return zombie_rule_inside_namespace();
    }
    if !pid_namespaces_available() {
        return;
    }
    let (ok, text) = rerun(
        "zombie_scan_refuses_to_run_blind",
        &["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"],
        &[("PROCREAP_IN_PIDNS", "1")],
    );
    assert!(ok, "inner run failed:\n{text}");
    assert!(
        text.contains("zombie rule checked in pid namespace"),
        "{text}"
    );
}

fn zombie_rule_inside_namespace() {
    let mut lab = Lab::new();
    let d = lab.agent(None);
    let cfg = lab.config();
    match find_zombies(&cfg) {
        Err(procreap::Error::TmuxUnavailable(m)) => assert!(m.contains("blind"), "{m}"),
        other => panic!("expected tmux unavailable, got {other:?}"),
    }
    // Nothing here is provably outside tmux: this namespace's pid 1 came
    // from outside it.
    let v = verdict_of(&cfg, d.pid);
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    assert!(
        v.reason
            .contains("pid 1 of this pid namespace was started from outside it"),
        "{}",
        v.reason
    );
    assert!(find_orphans(&cfg).unwrap().is_empty());
    // A protected root is something to see by: the scan runs (and finds
    // nothing it could prove).
    let mut guard = Command::new(which("sleep"));
    guard.arg("1000");
    let guard = lab.spawn(guard);
    let mut with_root = cfg.clone();
    with_root.protected_pids = vec![guard];
    assert_eq!(find_zombies(&with_root).unwrap(), vec![]);
    // A tmux server with no panes: empty, not an error.
    let sock = format!("prt-{}", token());
    let st = Command::new("tmux")
        .args([
            "-L",
            &sock,
            "-f",
            "/dev/null",
            "start-server",
            ";",
            "set",
            "-g",
            "exit-empty",
            "off",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let ok = wait_until(Duration::from_secs(5), || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with("tmux"))
        })
    });
    assert!(ok, "tmux server did not start");
    let z = find_zombies(&cfg);
    let _ = Command::new("tmux")
        .args(["-L", &sock, "kill-server"])
        .status();
    remove_socket(&sock);
    assert_eq!(
        z.unwrap(),
        vec![],
        "a server without panes gives an empty list"
    );
    println!("zombie rule checked in pid namespace");
}

/// On Linux nothing is spawned when no tmux socket is configured: with PATH
/// emptied the scan still succeeds with the same result.
#[test]
fn a_scan_spawns_nothing() {
    if let Some(pid) = std::env::var_os("PROCREAP_EXPECT_ORPHAN") {
        let pid: i32 = pid.to_str().unwrap().parse().unwrap();
        let names: Vec<String> = std::env::var("PROCREAP_NAMES")
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        let cfg = Config {
            agent_names: names,
            min_age: Duration::ZERO,
            workspace_marker: String::new(),
            protected_pid_files: vec![],
            ..Config::default()
        };
        assert_eq!(std::env::var("PATH").unwrap_or_default(), "");
        let found = find_orphans(&cfg).expect("scan with an empty PATH");
        assert_eq!(
            found.iter().map(|p| p.id.pid).collect::<Vec<_>>(),
            vec![pid]
        );
        println!("scanned with empty PATH");
        return;
    }
    let mut lab = Lab::new();
    let d = lab.agent(None);
    let cfg = lab.config();
    assert_eq!(find_orphans(&cfg).unwrap().len(), 1);
    let pid = d.pid.to_string();
    let names = lab.names.join(",");
    let (ok, text) = rerun(
        "a_scan_spawns_nothing",
        &[],
        &[
            ("PATH", ""),
            ("PROCREAP_EXPECT_ORPHAN", &pid),
            ("PROCREAP_NAMES", &names),
        ],
    );
    assert!(ok && text.contains("scanned with empty PATH"), "{text}");
}

/// A configured socket whose tmux fails, hangs or is missing is an error for
/// the scan, never "no panes". Runs in a child process because the tmux
/// binary is chosen through the environment (`PROCREAP_TMUX`).
#[test]
fn a_failing_or_hung_tmux_is_an_error_not_no_panes() {
    if let Some(case) = std::env::var_os("PROCREAP_TMUX_CASE") {
        if case == "sigchld" {
            // A host that ignores SIGCHLD (issue 10 item 13).
            // SAFETY: setting a signal disposition in this test process.
            unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        }
        let cfg = Config {
            agent_names: vec!["prt-none".into()],
            tmux_sockets: vec!["prt-sock".into()],
            subprocess_timeout: Duration::from_millis(500),
            protected_pid_files: vec![],
            ..Config::default()
        };
        let t = std::time::Instant::now();
        match explain(&cfg) {
            Err(procreap::Error::TmuxFailed(m)) => println!("case {case:?}: tmux failed: {m}"),
            other => panic!("case {case:?}: expected a tmux failure, got {other:?}"),
        }
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "took {:?}",
            t.elapsed()
        );
        return;
    }
    let lab = Lab::new();
    // No server on a socket is a definite answer: no panes.
    let cfg = Config {
        tmux_sockets: vec![format!("prt-{}", token())],
        ..lab.config()
    };
    assert!(explain(&cfg).is_ok());
    let script = |name: &str, body: &str| {
        let p = lab.dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
        p.display().to_string()
    };
    let cases = [
        ("hung", script("hung-tmux", "sleep 30"), "timed out"),
        (
            "missing",
            lab.dir.join("no-such-tmux").display().to_string(),
            "could not start",
        ),
        (
            "garbage",
            script("garbage-tmux", "echo '%1 not-a-pid'"),
            "bad pane pid",
        ),
        (
            "refused",
            script(
                "refused-tmux",
                "echo 'error connecting to /x (Permission denied)' >&2; exit 1",
            ),
            "Permission denied",
        ),
        ("sigchld", script("fine-tmux", "echo 1"), "ignores SIGCHLD"),
    ];
    for (case, tmux, want) in cases {
        let (ok, text) = rerun(
            "a_failing_or_hung_tmux_is_an_error_not_no_panes",
            &[],
            &[("PROCREAP_TMUX_CASE", case), ("PROCREAP_TMUX", &tmux)],
        );
        assert!(ok, "{case}: {text}");
        assert!(
            text.contains("tmux failed") && text.contains(want),
            "{case}: wanted {want:?} in {text}"
        );
    }
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let lab = Lab::new();
    for (cfg, word) in [
        (
            Config {
                agent_names: vec![],
                ..lab.config()
            },
            "agent_names",
        ),
        (
            Config {
                agent_names: vec!["a/b".into()],
                ..lab.config()
            },
            "file name",
        ),
        (
            Config {
                ide_markers: vec!["".into()],
                ..lab.config()
            },
            "IDE marker",
        ),
        (
            Config {
                workspace_root: Some("rel".into()),
                ..lab.config()
            },
            "absolute",
        ),
        (
            Config {
                protected_pids: vec![0],
                ..lab.config()
            },
            "protected pid",
        ),
        (
            Config {
                subprocess_timeout: Duration::ZERO,
                ..lab.config()
            },
            "subprocess_timeout",
        ),
        (
            Config {
                lock_timeout: Duration::MAX,
                ..lab.config()
            },
            "lock_timeout",
        ),
        (
            Config {
                subprocess_timeout: Duration::from_secs(86_401),
                ..lab.config()
            },
            "one-day limit",
        ),
        (
            Config {
                state_dir: Some("".into()),
                ..lab.config()
            },
            "state_dir",
        ),
        (
            Config {
                state_dir: Some("rel/state".into()),
                ..lab.config()
            },
            "state_dir",
        ),
        (
            Config {
                protected_pid_files: vec!["".into()],
                ..lab.config()
            },
            "protected pid file",
        ),
        (
            Config {
                protected_pid_files: vec!["mayor.pid".into()],
                ..lab.config()
            },
            "protected pid file",
        ),
    ] {
        match explain(&cfg) {
            Err(procreap::Error::InvalidArgument(m)) => assert!(m.contains(word), "{m}"),
            other => panic!("expected invalid argument about {word}, got {other:?}"),
        }
    }
}

/// Anyone can create `mayor/town.json` in a shared directory: a marker that
/// belongs to another user (or is a symlink) does not make a workspace.
#[test]
fn a_planted_workspace_marker_does_not_count() {
    let mut lab = Lab::new();
    // A shared directory, like /tmp: anyone may plant files in it.
    let shared = lab.dir.join("shared");
    std::fs::create_dir_all(shared.join("mayor")).unwrap();
    std::fs::create_dir_all(shared.join("job")).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let d = lab.agent(Some(&shared.join("job")));
    let mut cfg = lab.config();
    cfg.workspace_marker = "mayor/town.json".into();
    let marker = shared.join("mayor/town.json");
    // A symlink planted in a shared directory is not a marker, even to a
    // file we own (issue 10 item 14: links count only on a path nobody else
    // can write to).
    let real = lab.dir.join("real.json");
    std::fs::write(&real, "{}").unwrap();
    std::os::unix::fs::symlink(&real, &marker).unwrap();
    assert_eq!(
        verdict_of(&cfg, d.pid).verdict,
        VerdictKind::OutsideWorkspace
    );
    std::fs::remove_file(&marker).unwrap();
    // Nor is a `mayor` symlink planted there to a real town's `mayor`
    // directory.
    let real_town = town(&lab, "real-town");
    std::fs::remove_dir(shared.join("mayor")).unwrap();
    std::os::unix::fs::symlink(real_town.join("mayor"), shared.join("mayor")).unwrap();
    assert_eq!(
        verdict_of(&cfg, d.pid).verdict,
        VerdictKind::OutsideWorkspace
    );
    std::fs::remove_file(shared.join("mayor")).unwrap();
    std::fs::create_dir(shared.join("mayor")).unwrap();
    std::fs::write(&marker, "{}").unwrap();
    // A plain marker file of ours, but in a directory anyone can write
    // (the second outside attack: entries there can be renamed into a
    // marker): no workspace either.
    assert_eq!(
        verdict_of(&cfg, d.pid).verdict,
        VerdictKind::OutsideWorkspace
    );
    // Once the directory is ours alone: a workspace.
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(verdict_of(&cfg, d.pid).verdict, VerdictKind::Orphan);
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&marker, Some(65534), Some(65534)).unwrap();
        let v = verdict_of(&cfg, d.pid);
        assert_eq!(v.verdict, VerdictKind::OutsideWorkspace, "{v:?}");
    }
}

/// A /proc of another pid namespace numbers processes differently from the
/// pids we would signal: the scan refuses instead of guessing.
#[test]
fn a_proc_of_another_pid_namespace_is_refused() {
    if std::env::var_os("PROCREAP_IN_FOREIGN_PROC").is_some() {
        let cfg = Config {
            agent_names: vec!["prt-none".into()],
            protected_pid_files: vec![],
            ..Config::default()
        };
        match explain(&cfg) {
            // Its own error kind, not "unsupported platform" (issue 10 item 11).
            Err(procreap::Error::PidNamespace(m)) => {
                assert!(m.contains("another") && m.contains("pid namespace"), "{m}");
                println!("refused a foreign /proc");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        return;
    }
    if !pid_namespaces_available() {
        return;
    }
    // A new pid namespace that keeps the host's /proc.
    let (ok, text) = rerun(
        "a_proc_of_another_pid_namespace_is_refused",
        &["unshare", "--pid", "--fork", "--kill-child"],
        &[("PROCREAP_IN_FOREIGN_PROC", "1")],
    );
    assert!(ok && text.contains("refused a foreign /proc"), "{text}");
}

/// The outside attack: a process that is not dumpable (ssh-agent, setuid
/// programs, `prctl(PR_SET_DUMPABLE, 0)`) shows as root's in /proc whoever
/// runs it. Its owner is read from its status: another user's stays
/// another user's, even when root scans.
#[test]
fn a_non_dumpable_process_of_another_user_is_still_theirs() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to start a decoy as nobody");
        return;
    }
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.dir.join(&name);
    std::os::unix::fs::symlink(which("perl"), &bin).unwrap();
    let mut c = Command::new(&bin);
    // prctl(PR_SET_DUMPABLE = 4, 0): syscall 157 on x86_64.
    c.args(["-e", "syscall(157, 4, 0, 0, 0, 0); sleep 1000"])
        .current_dir("/")
        .uid(65534)
        .gid(65534);
    let pid = lab.spawn(c);
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::metadata(format!("/proc/{pid}/stat"))
            .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
    }));
    let cfg = lab.config();
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::OtherUser, "{v:?}");
    assert_eq!(v.process.uid, Some(65534));
    assert!(find_orphans(&cfg).unwrap().is_empty());
}

/// The outside attack: `setsid agent` from a shell drops the controlling
/// terminal, not the terminal its output goes to: someone may be watching.
/// Its standard streams on a still-open terminal make it has-tty; once that
/// terminal is gone (its tmux or emulator died) it is an orphan again.
#[test]
fn standard_streams_on_an_open_terminal_are_a_tty() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let pty = Pty::open();
    let mut c = Command::new(&bin);
    c.arg("1000");
    pty.streams(&mut c);
    let pid = lab.spawn_with_stdio(c);
    let cfg = lab.config();
    let v = verdict_of(&cfg, pid);
    assert_eq!(v.verdict, VerdictKind::HasTty, "{v:?}");
    assert!(v.process.tty.is_none(), "no controlling terminal");
    assert!(
        v.reason.contains("standard streams are on terminal pts/"),
        "{}",
        v.reason
    );
    drop(pty);
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_link(format!("/proc/{pid}/fd/1"))
            .is_ok_and(|l| l.to_string_lossy().ends_with(" (deleted)"))
    }));
    assert_eq!(verdict_of(&cfg, pid).verdict, VerdictKind::Orphan);
}

/// The second outside attack: the same terminal by other names. Streams
/// opened through `/dev/tty` before `setsid` (installers and git hooks do
/// that to reach the keyboard) read `/dev/tty`; streams opened through a
/// chroot's bind-mounted `/dev/pts` read `<chroot>/dev/pts/N`. Both are
/// someone's terminal.
#[test]
fn a_terminal_by_another_name_is_a_tty() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let cfg = lab.config();
    let pty = Pty::open();
    let mut c = Command::new(&bin);
    c.arg("1000");
    pty.streams_through_dev_tty(&mut c);
    let pid = lab.spawn_with_stdio(c);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap(),
        std::path::Path::new("/dev/tty")
    );
    let v = verdict_of(&cfg, pid);
    assert!(v.process.tty.is_none(), "no controlling terminal: {v:?}");
    assert_eq!(v.verdict, VerdictKind::HasTty, "{v:?}");
    assert!(v.reason.contains("on terminal tty"), "{}", v.reason);
}

/// A terminal is known by what it is, not by where it was opened: through a
/// chroot's bind-mounted `/dev/pts` (`<chroot>/dev/pts/N`), through
/// `/dev/pts` bind-mounted at a path with no `dev` in it, or on a private
/// devpts instance, or as a device node under another name (the third and
/// fourth outside attacks); a plain file called `…/dev/tty.log` is no
/// terminal.
#[test]
fn a_terminal_through_a_chroot_path_is_a_tty() {
    if !in_mount_namespace(
        "a_terminal_through_a_chroot_path_is_a_tty",
        "chroot pts checked",
    ) {
        return;
    }
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let cfg = lab.config();
    // The portable backend (lsof, and on Linux the device number) must
    // agree on every case.
    let ps = Config {
        backend: Backend::Ps,
        ..cfg.clone()
    };
    let verdict_of = |cfg: &Config, pid| {
        let v = verdict_of(cfg, pid);
        let p = verdict_of(&ps, pid);
        assert_eq!(v.verdict, p.verdict, "proc {v:?}, ps {p:?}");
        v
    };
    let root = lab.dir.clone();
    // Starts the agent in a session of its own with its streams on `via`.
    let mut setsid_on = |via: &std::path::Path| {
        let term = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(via)
            .unwrap();
        let mut c = Command::new(&bin);
        c.arg("1000")
            .stdin(term.try_clone().unwrap())
            .stdout(term.try_clone().unwrap())
            .stderr(term);
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let pid = lab.spawn_with_stdio(c);
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(),
            via
        );
        pid
    };
    let pty = Pty::open();
    let n = pty.path();
    let n = n.file_name().unwrap();
    let chroot = root.join("chroot/dev/pts");
    let elsewhere = root.join("ptsb");
    for dir in [&chroot, &elsewhere] {
        std::fs::create_dir_all(dir).unwrap();
        assert!(run("mount", &["--bind", "/dev/pts", dir.to_str().unwrap()]));
    }
    for (via, shown) in [
        (
            chroot.join(n),
            format!("on terminal pts/{}", n.to_string_lossy()),
        ),
        (
            elsewhere.join(n),
            format!("on terminal {}", elsewhere.join(n).display()),
        ),
    ] {
        let v = verdict_of(&cfg, setsid_on(&via));
        assert_eq!(v.verdict, VerdictKind::HasTty, "{via:?}: {v:?}");
        assert!(v.reason.contains(&shown), "{}", v.reason);
    }
    // A private devpts instance: its ptys are numbered on their own.
    let inst = root.join("devpts");
    std::fs::create_dir_all(&inst).unwrap();
    if run(
        "mount",
        &[
            "-t",
            "devpts",
            "-o",
            "newinstance,ptmxmode=0666",
            "devpts",
            inst.to_str().unwrap(),
        ],
    ) {
        let master = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(inst.join("ptmx"))
            .unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&master);
        let mut num: libc::c_int = 0;
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK / TIOCGPTN on a master we own, into ints we own.
        unsafe {
            assert_eq!(libc::ioctl(fd, libc::TIOCSPTLCK, &unlock), 0);
            assert_eq!(libc::ioctl(fd, libc::TIOCGPTN, &mut num), 0);
        }
        let via = inst.join(num.to_string());
        let v = verdict_of(&cfg, setsid_on(&via));
        assert_eq!(v.verdict, VerdictKind::HasTty, "{via:?}: {v:?}");
        drop(master);
    } else {
        eprintln!("no private devpts instance here: that case not checked");
    }
    // The fourth attack's renamed nodes: the console (a pty's slave opens
    // only through its devpts) as a device node under a name that says
    // nothing (a bluetooth serial port's), and under a `dev/` directory with
    // another driver's name.
    let console = std::path::Path::new("/dev/console");
    let console_opens = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(console)
        .is_ok();
    if !console_opens {
        eprintln!("no /dev/console to open here: renamed nodes not checked");
    }
    for node in [root.join("nodes/rfcomm0"), root.join("jail/dev/hvc0")] {
        if !console_opens {
            break;
        }
        std::fs::create_dir_all(node.parent().unwrap()).unwrap();
        let dev = std::fs::metadata(console).unwrap();
        let c = std::ffi::CString::new(node.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mknod with a NUL-terminated path we own.
        let made = unsafe {
            libc::mknod(
                c.as_ptr(),
                libc::S_IFCHR | 0o600,
                std::os::unix::fs::MetadataExt::rdev(&dev),
            )
        };
        assert_eq!(made, 0, "{}", std::io::Error::last_os_error());
        let pid = setsid_on(&node);
        let v = verdict_of(&cfg, pid);
        assert_eq!(v.verdict, VerdictKind::HasTty, "{node:?}: {v:?}");
        // The fifth attack: the node removed, the console still lives (only
        // a pty's "(deleted)" says its other end closed).
        std::fs::remove_file(&node).unwrap();
        let v = verdict_of(&cfg, pid);
        assert_eq!(v.verdict, VerdictKind::HasTty, "{node:?} removed: {v:?}");
    }
    // A log file named like a terminal is none.
    let log = root.join("town/dev/tty.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "").unwrap();
    let v = verdict_of(&cfg, setsid_on(&log));
    assert_eq!(v.verdict, VerdictKind::Orphan, "{v:?}");
    println!("chroot pts checked");
}

/// The outside attack: a scan that runs out of file descriptors cannot see
/// the table: an error, never "no agent process".
#[test]
fn a_scan_without_descriptors_is_an_error() {
    if std::env::var_os("PRT_FEW_FDS").is_some() {
        let lim = libc::rlimit {
            rlim_cur: 12,
            rlim_max: 12,
        };
        // SAFETY: setrlimit on this (child) process.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
        // Use up what is left.
        let _held: Vec<std::fs::File> = (0..16)
            .filter_map(|_| std::fs::File::open("/dev/null").ok())
            .collect();
        let cfg = Config {
            agent_names: vec!["prt-none".into()],
            protected_pid_files: vec![],
            ..Config::default()
        };
        match explain(&cfg) {
            Err(e) => println!("error as it should: {e}"),
            Ok(v) => panic!("a blind scan answered {v:?}"),
        }
        return;
    }
    let (ok, text) = rerun(
        "a_scan_without_descriptors_is_an_error",
        &[],
        &[("PRT_FEW_FDS", "1")],
    );
    assert!(ok && text.contains("error as it should"), "{text}");
}

/// The third outside attack: a parent procreap cannot look into — not
/// dumpable (a setgid tmux copy, screen) or another user's — may be a
/// terminal session host where a child of it is on a terminal (a pane):
/// what runs below it is protected, with the reason. Without such a child
/// (the fifth attack: cron, sudo, a notty ssh session) it is no host; the
/// same parent, dumpable, is looked into and is no host. Run as nobody: root looks into every process (and this test's own
/// runner, root's, protects everything below it from a scan by nobody).
#[test]
fn a_parent_whose_descriptors_are_hidden_protects() {
    if std::env::var_os("PRT_AS_NOBODY").is_some() {
        return hidden_parent_as_nobody();
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run the check as nobody");
        return;
    }
    // A copy of this test binary that nobody may run.
    let lab = Lab::new();
    let exe = lab.dir.join("scan-test");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args([
            "--exact",
            "a_parent_whose_descriptors_are_hidden_protects",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PRT_AS_NOBODY", "1")
        .env("TMPDIR", "/tmp")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("hidden parent checked"),
        "{text}"
    );
}

fn hidden_parent_as_nobody() {
    let mut lab = Lab::new();
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let cfg = lab.config();
    // prctl(PR_SET_DUMPABLE = 4, 0) when asked; then, when asked, a child
    // on a terminal of its own (a pane); and a child in a session of its
    // own running the agent (exec makes it dumpable again).
    let script = format!(
        "my $nr = $Config{{archname}} =~ /aarch64|riscv64/ ? 167 : 157; \
         syscall($nr, 4, 0, 0, 0, 0) if $ARGV[0]; \
         if ($ARGV[1] && !fork()) {{ {PANE_PERL} exit }} \
         my $p = fork(); if (!$p) {{ POSIX::setsid(); exec($ARGV[2], '1000') or exit 1 }} \
         sleep 1000"
    );
    for (hide, pane) in [(true, true), (true, false), (false, true)] {
        let mut c = Command::new(which("perl"));
        c.args(["-MPOSIX", "-MConfig", "-e", &script])
            .arg(if hide { "1" } else { "0" })
            .arg(if pane { "1" } else { "0" })
            .arg(&bin);
        let parent = lab.spawn(c);
        let mut agent = None;
        assert!(wait_until(Duration::from_secs(5), || {
            let kids = tree(parent);
            for &(p, start) in &kids[1..] {
                lab.own_exact((p, start));
            }
            let panes = kids[1..].iter().any(|&(p, _)| {
                std::fs::read(format!("/proc/{p}/stat"))
                    .ok()
                    .and_then(|b| procreap::parse_stat(&b))
                    .is_some_and(|st| st.tty_nr != 0)
            });
            agent = kids.into_iter().skip(1).find(|&(p, _)| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| name.starts_with(c.trim_end()))
            });
            agent.is_some() && panes == pane
        }));
        let (pid, _) = agent.unwrap();
        let hidden = std::fs::read_dir(format!("/proc/{parent}/fd")).is_err();
        assert_eq!(hidden, hide, "the parent's descriptors hidden: {hidden}");
        let v = verdict_of(&cfg, pid);
        if hide && pane {
            assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
            assert!(
                v.reason.contains(&format!(
                    "pid {parent} (\"perl\") is above it, its descriptors cannot be read"
                )) && v
                    .reason
                    .contains("cannot prove it is not a terminal session host"),
                "{}",
                v.reason
            );
        } else {
            // Looked into and passed, or hidden with no pane below it (a
            // cron, a sudo): the walk goes on above it (where this test's
            // root-owned runner hides its own descriptors).
            assert!(
                v.verdict == VerdictKind::Orphan || !v.reason.contains(&format!("pid {parent} ")),
                "{v:?}"
            );
        }
        lab.kill(parent); // its children are the lab's to end
    }
    println!("hidden parent checked");
}

/// The fourth outside attack: seen from inside a user namespace (a
/// sandboxed service), the host's processes list their descriptors but
/// every link is refused. Such an ancestor is as unknown as one whose list
/// is refused: with a child on a terminal (a pane of its own here), what
/// runs below it is protected, with the reason.
#[test]
fn from_a_user_namespace_a_host_ancestor_is_not_looked_into() {
    if std::env::var_os("PRT_IN_USERNS").is_some() {
        return host_ancestor_from_a_user_namespace();
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to make a user namespace here");
        return;
    }
    let ok = Command::new("unshare")
        .args(["--user", "--map-root-user", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: no user namespaces here");
        return;
    }
    // A child of this runner on a terminal: the runner may be a host.
    let mut lab = Lab::new();
    spawn_pane(&mut lab);
    let (ok, text) = rerun(
        "from_a_user_namespace_a_host_ancestor_is_not_looked_into",
        &["unshare", "--user", "--map-root-user"],
        &[("PRT_IN_USERNS", "1")],
    );
    assert!(ok && text.contains("host ancestor checked"), "{text}");
}

fn host_ancestor_from_a_user_namespace() {
    let host = nix::unistd::getppid().as_raw(); // this test's runner, outside
    if std::fs::read_link(format!("/proc/{host}/fd/0")).is_ok() {
        println!("host ancestor checked (its descriptors are readable here: nothing to test)");
        return;
    }
    let mut lab = Lab::new();
    let d = lab.agent(None);
    let v = verdict_of(&lab.config(), d.pid);
    assert_eq!(v.verdict, VerdictKind::Protected, "{v:?}");
    assert!(
        v.reason.contains(&format!("pid {host} ")) && v.reason.contains("cannot be read"),
        "{}",
        v.reason
    );
    println!("host ancestor checked");
}
