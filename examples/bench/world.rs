//! The process table the bench measures: a machine up for hours (N
//! background sleepers, older than `min_age`) plus a fixed mix of agents and
//! marker processes, all under private names, built with the tests' `Lab`
//! and torn down by it (by pid; `tmux -L … kill-server`).

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use procreap::{Config, VerdictKind};

use crate::support::{token, wait_until, Lab, Pty, Sleepers};

/// How long every decoy sleeps: bounds what a SIGKILLed bench leaves
/// behind (its direct children also die with it).
pub const LONG: &str = "900";
/// The scans' `min_age`: short, so that the whole table is older than it a
/// moment after it is built (as on a machine up for hours).
pub const MIN_AGE: Duration = Duration::from_secs(1);
/// Names in the configuration (as many as the default list holds); the
/// agents run under the first two.
const NAMES: usize = 6;
const SOCKETS: usize = 3;

/// The fixed agent mix: (role, how many).
pub const MIX: [(Role, usize); 9] = [
    (Role::Orphan, 4),
    (Role::Versioned, 2),
    (Role::Tty, 2),
    (Role::Outside, 2),
    (Role::Ide, 2),
    (Role::Pane, SOCKETS),
    (Role::PaneChild, SOCKETS),
    (Role::Leaked, 3),
    (Role::LeaderAlive, 3),
];

/// What a decoy is, and so the verdict `explain` must give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// An agent with no terminal, old, in the workspace: an orphan.
    Orphan,
    /// An orphan whose binary is named after a version (`2.1.NNN`): only its
    /// argv[0] names the agent.
    Versioned,
    /// An agent with a pty of its own: someone's interactive session.
    Tty,
    /// An agent whose cwd is outside the workspace.
    Outside,
    /// An agent whose argv carries an IDE marker.
    Ide,
    /// An agent that is a tmux pane process (one per private socket).
    Pane,
    /// An agent without a terminal below a pane (one per socket).
    PaneChild,
    /// A helper carrying the private leak marker whose process group
    /// leader is gone: a leaked descendant.
    Leaked,
    /// The same helper while its group leader lives.
    LeaderAlive,
}

impl Role {
    pub fn verdict(self) -> VerdictKind {
        match self {
            Role::Orphan | Role::Versioned => VerdictKind::Orphan,
            Role::Tty => VerdictKind::HasTty,
            Role::Outside => VerdictKind::OutsideWorkspace,
            Role::Ide => VerdictKind::IdeLaunched,
            Role::Pane | Role::PaneChild => VerdictKind::Protected,
            Role::Leaked => VerdictKind::Leaked,
            Role::LeaderAlive => VerdictKind::LeaderAlive,
        }
    }
}

/// How many of the mix each scan must find.
pub fn expected(v: VerdictKind) -> usize {
    MIX.iter()
        .filter(|(r, _)| r.verdict() == v)
        .map(|(_, n)| n)
        .sum()
}

/// The bench's table. Fields drop in order: the sleepers go first, so the
/// lab's teardown walks a small table.
pub struct World {
    pub sleepers: Sleepers,
    pub lab: Lab,
    _ptys: Vec<Pty>,
    pub town: PathBuf,
    pub sockets: Vec<String>,
    /// pids of the decoys started directly, by role.
    pub decoys: HashMap<i32, Role>,
}

/// Makes the decoy die with the bench (a SIGKILLed bench leaves nothing).
fn die_with_me(c: &mut Command) {
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            Ok(())
        });
    }
}

impl World {
    /// The agent mix, no sleepers yet.
    pub fn new() -> Result<World, String> {
        let mut lab = Lab::new();
        for _ in 0..NAMES {
            lab.name();
        }
        let town = lab.dir.join("town");
        for d in ["mayor", "rig", "tools"] {
            std::fs::create_dir_all(town.join(d)).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir_all(lab.dir.join("outside")).map_err(|e| e.to_string())?;
        std::fs::write(town.join("mayor/town.json"), "{}\n").map_err(|e| e.to_string())?;
        let mut w = World {
            sleepers: Sleepers::new("bench-idle"),
            lab,
            _ptys: Vec::new(),
            town,
            sockets: Vec::new(),
            decoys: HashMap::new(),
        };
        for (role, n) in MIX {
            for i in 0..n {
                w.start(role, i)?;
            }
        }
        Ok(w)
    }

    /// The configuration every contender uses: the defaults, but for the
    /// private names and marker, a short `min_age`, the lab's town as the
    /// workspace root, no protected pid file, a private state dir, dry run.
    pub fn config(&self) -> Config {
        Config {
            agent_names: self.lab.names.clone(),
            min_age: MIN_AGE,
            workspace_root: Some(self.town.clone()),
            protected_pid_files: Vec::new(),
            leak_markers: vec![self.lab.leak_marker()],
            state_dir: Some(self.lab.state.clone()),
            dry_run: true,
            ..Config::default()
        }
    }

    fn start(&mut self, role: Role, i: usize) -> Result<(), String> {
        let name = self.lab.names[i % 2].clone();
        let bin = self.lab.sleep_bin(&name);
        let rig = self.town.join("rig");
        match role {
            Role::Orphan | Role::Outside | Role::Ide | Role::Versioned => {
                let (exe, arg0, cwd) = match role {
                    Role::Versioned => {
                        let v = format!(
                            "2.1.{}",
                            u32::from_str_radix(&token()[..4], 16).unwrap_or(7)
                        );
                        (self.lab.sleep_bin(&v), name, rig)
                    }
                    Role::Ide => (bin, format!("/home/u/.vscode-server/bin/0000/{name}"), rig),
                    Role::Outside => (bin, name, self.lab.dir.join("outside")),
                    _ => (bin, name, rig),
                };
                let mut c = Command::new(exe);
                c.arg0(arg0).arg(LONG).current_dir(cwd);
                die_with_me(&mut c);
                let pid = self.lab.spawn(c);
                self.decoys.insert(pid, role);
            }
            Role::Tty => {
                let pty = Pty::open();
                let mut c = Command::new(&bin);
                c.arg(LONG).current_dir(&rig);
                c.stdout(Stdio::null()).stderr(Stdio::null());
                pty.control(&mut c);
                die_with_me(&mut c);
                let child = c.spawn().map_err(|e| format!("a tty agent: {e}"))?;
                let pid = self.lab.adopt(child);
                self._ptys.push(pty);
                self.decoys.insert(pid, role);
            }
            Role::Pane => {
                let sock = self.lab.tmux(&format!("exec '{}' {LONG}", bin.display()));
                self.sockets.push(sock);
            }
            Role::PaneChild => {
                let cmd = format!(
                    "setsid -w '{}' {LONG} </dev/null >/dev/null 2>&1 & exec sleep {LONG}",
                    bin.display()
                );
                self.lab
                    .tmux_window(&self.sockets[i % self.sockets.len()], &cmd);
            }
            Role::Leaked | Role::LeaderAlive => {
                let pid = self.marker_process(role == Role::LeaderAlive);
                self.decoys.insert(pid, role);
            }
        }
        Ok(())
    }

    /// A helper (an MCP server stand-in, `mcp-<random>`) carrying the
    /// lab's leak marker, started in the background by a shell that leads a
    /// process group of its own, in the town's `tools` directory (a project
    /// no agent works in). The shell exits (the helper is leaked, reparented
    /// to the bench, a subreaper) or blocks (its leader is alive). Returns
    /// the helper's pid.
    fn marker_process(&mut self, leader_lives: bool) -> i32 {
        let body = if leader_lives {
            format!(r#"env "$M" "$H" {LONG} & echo $! >> "$P"; read x < "$F""#)
        } else {
            format!(r#"env "$M" "$H" {LONG} & echo $! >> "$P""#)
        };
        let helper = self.lab.helper();
        let tools = self.town.join("tools");
        let (shell, ids) = self.lab.run_sh(
            &format!("lead-{}", token()),
            &tools,
            &body,
            &helper,
            1,
            None,
        );
        if !leader_lives {
            self.lab.reap(shell);
        }
        ids[0].pid
    }

    /// Waits until `explain` gives every decoy its verdict (each has
    /// exec'd and is older than `min_age`).
    pub fn settle(&self, strict: bool) -> Result<(), String> {
        let cfg = self.config();
        let mut want: HashMap<VerdictKind, usize> = HashMap::new();
        for (r, n) in MIX {
            *want.entry(r.verdict()).or_default() += n;
        }
        let mut got = HashMap::new();
        let ok = wait_until(Duration::from_secs(30), || {
            if crate::stopped() {
                return true;
            }
            got.clear();
            for v in procreap::explain(&cfg).unwrap_or_default() {
                *got.entry(v.verdict).or_insert(0usize) += 1;
            }
            if strict {
                got == want
            } else {
                got.values().sum::<usize>() == want.values().sum::<usize>()
            }
        });
        if crate::stopped() {
            Err("interrupted".into())
        } else if ok {
            Ok(())
        } else {
            Err(format!("decoy verdicts are {got:?}, expected {want:?}"))
        }
    }

    /// Grows the background to `n` sleepers and waits until they are all
    /// older than `min_age`.
    pub fn background(&mut self, n: usize) -> Result<(), String> {
        self.sleepers.grow(n)?;
        let t = Instant::now();
        while t.elapsed() < MIN_AGE + Duration::from_millis(100) {
            if crate::stopped() {
                return Err("interrupted".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}
