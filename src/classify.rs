//! Classification: a pure function of (process table, configuration, lazily
//! read facts). The orphan and zombie scans share every rule; a zombie scan
//! adds one: it refuses to run blind (see [`Scan::candidates`]).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{expand_home, Argv0Match, Config};
use crate::error::{Error, Result};
use crate::snapshot::{Identity, Proc, Snapshot, Source, Tty};
use crate::{tmux, workspace};

/// Which scan. Orphans and zombies differ by the zombie safety rule only;
/// leaked descendants are the processes a dead agent left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Agents that outlived their session.
    Orphans,
    /// The same test, but the scan refuses to run when it cannot see tmux.
    Zombies,
    /// Processes (not agents) that carry a leak marker in their environment
    /// and whose agent is gone.
    Leaked,
}

impl Kind {
    /// Every kind, in C enum order.
    pub const ALL: [Kind; 3] = [Kind::Orphans, Kind::Zombies, Kind::Leaked];

    /// `orphans`, `zombies` or `leaked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Orphans => "orphans",
            Kind::Zombies => "zombies",
            Kind::Leaked => "leaked",
        }
    }

    /// Parses `orphans` / `zombies` / `leaked` (also the singular).
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "orphans" | "orphan" => Some(Kind::Orphans),
            "zombies" | "zombie" => Some(Kind::Zombies),
            "leaked" => Some(Kind::Leaked),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one agent process. The first matching rule wins, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerdictKind {
    /// Already dead (state Z), waiting for its parent to reap it.
    Defunct,
    /// Owned by another user (and `all_users` is off).
    OtherUser,
    /// In a tmux pane, or under a protected root.
    Protected,
    /// Has a controlling terminal outside tmux: someone's interactive session.
    HasTty,
    /// Started by an IDE (VS Code, Cursor) or a stream-json host.
    IdeLaunched,
    /// Younger than `min_age`.
    TooYoung,
    /// Not under a workspace root, or under another one than `workspace_root`.
    OutsideWorkspace,
    /// A marker process whose process group leader is alive.
    LeaderAlive,
    /// A marker process whose agent lives: an ancestor, or an agent working
    /// in the same project.
    AgentAlive,
    /// An agent process that is a candidate for both the orphan and the
    /// zombie scan.
    Orphan,
    /// A marker process whose agent is gone: a leaked descendant.
    Leaked,
}

impl VerdictKind {
    /// Every verdict, in rule order (the two candidate verdicts last).
    pub const ALL: [VerdictKind; 11] = [
        VerdictKind::Defunct,
        VerdictKind::OtherUser,
        VerdictKind::Protected,
        VerdictKind::HasTty,
        VerdictKind::IdeLaunched,
        VerdictKind::TooYoung,
        VerdictKind::OutsideWorkspace,
        VerdictKind::LeaderAlive,
        VerdictKind::AgentAlive,
        VerdictKind::Orphan,
        VerdictKind::Leaked,
    ];

    /// The verdict's fixed name (`defunct`, `other-user`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Defunct => "defunct",
            VerdictKind::OtherUser => "other-user",
            VerdictKind::Protected => "protected",
            VerdictKind::HasTty => "has-tty",
            VerdictKind::IdeLaunched => "ide-launched",
            VerdictKind::TooYoung => "too-young",
            VerdictKind::OutsideWorkspace => "outside-workspace",
            VerdictKind::LeaderAlive => "leader-alive",
            VerdictKind::AgentAlive => "agent-alive",
            VerdictKind::Orphan => "orphan",
            VerdictKind::Leaked => "leaked",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What procreap reports about a process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    /// pid + start time.
    pub id: Identity,
    /// Parent pid.
    pub ppid: i32,
    /// Process name (`comm`).
    pub name: String,
    /// Age at the snapshot.
    pub age: Duration,
    /// Terminal name, `None` without one.
    pub tty: Option<String>,
    /// Unix state letter.
    pub state: char,
    /// Workspace root, when one was found.
    pub workspace_root: Option<PathBuf>,
    /// argv joined by spaces (empty when unreadable, and for another user's
    /// process without `all_users`: its argv is not read).
    pub cmdline: String,
    /// Owner uid, `None` when unknown.
    pub uid: Option<u32>,
    /// Resident memory in bytes at the snapshot (0 when unknown).
    pub rss_bytes: u64,
}

/// One agent process with its verdict and a human reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The process.
    pub process: ProcessInfo,
    /// The first rule it met.
    pub verdict: VerdictKind,
    /// Why, naming the pane, tty, age, parent, workspace, … involved.
    pub reason: String,
}

/// Protected roots known at scan time (tmux servers are recognised by name
/// during the ancestor walk, so fresh re-reads see them too).
#[derive(Debug, Clone, Default)]
pub(crate) struct Protection {
    /// Pane pids reported by configured sockets → which socket.
    panes: HashMap<i32, String>,
    /// Protected roots → where they came from.
    roots: HashMap<i32, String>,
}

/// The pid in a protected pid file; `None` when there is no such file. A
/// file that is not a regular file, is empty (being written?) or holds no
/// pid is an error: a protected root is never guessed away.
fn read_pid_file(path: &std::path::Path) -> Result<Option<i32>> {
    use std::io::Read;
    #[cfg(unix)]
    let opened = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
    };
    #[cfg(not(unix))]
    let opened = std::fs::File::open(path);
    let f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("protected pid file {path:?}"), e)),
    };
    let bad = |why: String| {
        Err(Error::InvalidArgument(format!(
            "protected pid file {path:?} {why}"
        )))
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file");
        return Err(Error::io(format!("protected pid file {path:?}"), e));
    }
    let mut text = String::new();
    if f.take(64).read_to_string(&mut text).is_err() {
        return bad("is not text".into());
    }
    match text.trim() {
        "" => bad("is empty (being written?): refusing to guess".into()),
        t => match t.parse::<i32>() {
            Ok(pid) if pid > 0 => Ok(Some(pid)),
            _ => bad(format!("does not hold a pid: {t:?}")),
        },
    }
}

/// Everything a verdict needs besides the snapshot.
pub(crate) struct Rules {
    pub(crate) cfg: Config,
    prot: Protection,
    names: Vec<String>,
    euid: u32,
    ws_root: Option<PathBuf>,
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (!a.is_ascii() && a.to_lowercase() == b.to_lowercase())
}

/// A comm that looks like a version (`2.1.3`): a versioned install names its
/// binary that way, so only argv[0] can carry the agent's name.
pub(crate) fn version_like(comm: &[u8]) -> bool {
    comm.first().is_some_and(u8::is_ascii_digit)
        && comm.iter().all(|b| b.is_ascii_digit() || *b == b'.')
}

/// The kernel keeps 15 bytes of a name: `comm` is the cut of `name` when it
/// is 15 bytes long and `name`'s first 15 bytes equal it (ASCII case
/// folded), compared as raw bytes so a name cut mid-character matches.
pub(crate) fn truncated_name(comm: &[u8], name: &[u8]) -> bool {
    comm.len() == 15 && name.len() > 15 && name[..15].eq_ignore_ascii_case(comm)
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

// Reasons that say a fact could not be read, not that it is so: the
// process may still be a candidate. A process the ledger tracks is kept (not
// released) while its verdict rests on one of them, so a moment of doubt
// (argv mid-exec) does not restart its escalation with a second SIGTERM.
const ARGV_UNREADABLE: &str = "argv unreadable: cannot rule out an IDE launch";
const CWD_UNREADABLE: &str = "cwd unreadable: no workspace root";
const CWD_UNREADABLE_ROOT: &str = "cwd unreadable: cannot place it under workspace_root";
const OWNER_UNKNOWN: &str = "owner unknown (process unreadable)";
const AGENT_UNKNOWN: &str = "argv[0] unreadable: cannot tell whether it is still an agent process";

/// Whether a verdict's `reason` is one of doubt (see above).
pub(crate) fn undecided(reason: &str) -> bool {
    [
        ARGV_UNREADABLE,
        CWD_UNREADABLE,
        CWD_UNREADABLE_ROOT,
        OWNER_UNKNOWN,
        AGENT_UNKNOWN,
    ]
    .contains(&reason)
}

impl Rules {
    fn new(cfg: &Config) -> Result<Rules> {
        cfg.validate()?;
        let mut prot = Protection::default();
        for sock in &cfg.tmux_sockets {
            for pane in tmux::list_panes(sock, cfg.subprocess_timeout)? {
                prot.panes.insert(pane, format!("tmux socket {sock}"));
            }
        }
        for file in &cfg.protected_pid_files {
            let path = expand_home(file)?;
            if let Some(pid) = read_pid_file(&path)? {
                prot.roots
                    .insert(pid, format!("pid file {}", path.display()));
            }
        }
        for pid in &cfg.protected_pids {
            prot.roots.insert(*pid, "protected_pids".into());
        }
        Ok(Rules {
            names: cfg.agent_names.clone(),
            euid: crate::config::euid(),
            ws_root: cfg.workspace_root.as_deref().map(workspace::canonical),
            cfg: cfg.clone(),
            prot,
        })
    }

    /// Whether procreap may read `pid`'s argv: only for processes it could
    /// signal (yours, or anyone's with `all_users`). argv lives in the
    /// process's own memory, which its owner can make a reader wait on
    /// forever (userfaultfd, FUSE-backed pages); procreap never waits on a
    /// process it would not touch anyway.
    fn may_read_argv(&self, snap: &Snapshot, pid: i32) -> bool {
        self.owner_verdict(snap.uid(pid)).is_none()
    }

    /// Whose processes this configuration considers: `None` when `uid` is
    /// one of them, else why not.
    pub(crate) fn owner_verdict(&self, uid: Option<u32>) -> Option<String> {
        let users = &self.cfg.users;
        match uid {
            None => Some(OWNER_UNKNOWN.into()),
            Some(u) if !users.is_empty() && !users.contains(&u) => {
                Some(format!("owned by uid {u}, not one of the users {users:?}"))
            }
            Some(_) if !users.is_empty() || self.cfg.all_users => None,
            Some(u) if u == self.euid => None,
            Some(u) => Some(format!("owned by uid {u}, not {}", self.euid)),
        }
    }

    /// Whether argv[0] is consulted for a process named `comm`.
    fn argv0_consulted(&self, comm: &str) -> bool {
        match self.cfg.argv0_match {
            Argv0Match::Never => false,
            Argv0Match::Always => true,
            Argv0Match::VersionLike => {
                version_like(comm.as_bytes())
                    || self
                        .names
                        .iter()
                        .any(|n| truncated_name(comm.as_bytes(), n.as_bytes()))
            }
        }
    }

    /// Is this an agent process (SPEC §1)? The comm decides; argv[0]'s
    /// basename is consulted per `argv0_match`. Another user's process
    /// (without `all_users`) matches by its comm only: its argv is not read.
    fn is_agent(&self, snap: &Snapshot, p: &Proc) -> bool {
        if p.kthread {
            return false;
        }
        let comm = p.name.as_str();
        if self.names.iter().any(|n| eq_ci(comm, n)) {
            return true;
        }
        if !self.argv0_consulted(comm) || !self.may_read_argv(snap, p.id.pid) {
            return false;
        }
        snap.argv0_base(p.id.pid)
            .is_some_and(|a| self.names.iter().any(|n| eq_ci(a, n)))
    }

    /// For a process that is not (or no longer) an agent process: why that
    /// is in doubt — its argv[0], which may be what names it an agent
    /// (`match_argv0`, names over 15 characters), cannot be read — or `None`.
    pub(crate) fn agent_unknown(&self, snap: &Snapshot, p: &Proc) -> Option<&'static str> {
        let pid = p.id.pid;
        (!p.kthread
            && self.argv0_consulted(&p.name)
            && self.may_read_argv(snap, pid)
            && snap.argv0_base(pid).is_none())
        .then_some(AGENT_UNKNOWN)
    }

    /// Why `p` is protected, or `None`.
    pub(crate) fn protection(&self, snap: &Snapshot, p: &Proc) -> Option<String> {
        let pid = p.id.pid;
        if let Some(o) = self.prot.panes.get(&pid) {
            return Some(format!("is tmux pane process {pid} ({o})"));
        }
        if let Some(o) = self.prot.roots.get(&pid) {
            return Some(format!("is protected root {pid} ({o})"));
        }
        let mut below = pid;
        let mut below_start = p.id.start_time;
        let mut cur = p.ppid;
        for _ in 0..=snap.procs().len() + 1 {
            if cur <= 0 && below == 1 {
                return None;
            }
            if cur <= 0 {
                // Only init has no parent; anything else was started from
                // outside this pid namespace, where a tmux may hold it.
                return Some(format!(
                    "pid {below}'s parent is outside this pid namespace: cannot prove it is outside tmux"
                ));
            }
            if let Some(o) = self.prot.panes.get(&cur) {
                return Some(format!("descendant of tmux pane process {cur} ({o})"));
            }
            if let Some(o) = self.prot.roots.get(&cur) {
                return Some(format!("descendant of protected root {cur} ({o})"));
            }
            let Some(a) = snap.get(cur) else {
                if cur == 1 {
                    return None;
                }
                return Some(format!(
                    "ancestor pid {cur} is not visible: cannot prove it is outside tmux"
                ));
            };
            if a.id.start_time > below_start {
                // A parent is never younger than its child: pid `cur` was
                // reused after the real parent exited, so this view of the
                // ancestry is not the real one.
                return Some(format!(
                    "ancestor pid {cur} is younger than pid {below}: the ancestry changed while it was read"
                ));
            }
            if tmux::is_server_name(&a.name) {
                return Some(format!(
                    "in tmux pane process {below} of tmux server pid {cur}"
                ));
            }
            if cur == 1 {
                return None;
            }
            below = cur;
            below_start = a.id.start_time;
            cur = a.ppid;
        }
        Some("ancestry loops: cannot prove it is outside tmux".into())
    }

    fn workspace_root(&self, snap: &Snapshot, pid: i32) -> Option<PathBuf> {
        if self.cfg.workspace_marker.is_empty() {
            return None;
        }
        // The marker must belong to us, root, or the process's own user.
        let mut owners = vec![self.euid, 0];
        owners.extend(snap.uid(pid));
        workspace::find_root(snap.cwd(pid)?, &self.cfg.workspace_marker, &owners)
    }

    /// The workspace rule: `Some(reason)` when the process is outside.
    fn outside_workspace(
        &self,
        snap: &Snapshot,
        pid: i32,
        root: Option<&PathBuf>,
    ) -> Option<String> {
        let marker = &self.cfg.workspace_marker;
        if marker.is_empty() {
            let want = self.ws_root.as_ref()?;
            return match snap.cwd(pid) {
                None => Some(CWD_UNREADABLE_ROOT.into()),
                Some(cwd) if workspace::strip_deleted(cwd).starts_with(want) => None,
                Some(cwd) => Some(format!(
                    "cwd {} is not under {}",
                    cwd.display(),
                    want.display()
                )),
            };
        }
        let Some(cwd) = snap.cwd(pid) else {
            return Some(CWD_UNREADABLE.into());
        };
        let Some(root) = root else {
            return Some(format!("no {marker} at or above cwd {}", cwd.display()));
        };
        match &self.ws_root {
            Some(want) if root != want => Some(format!(
                "in workspace {}, not {}",
                root.display(),
                want.display()
            )),
            _ => None,
        }
    }

    fn is_ide(&self, argv: &[String]) -> bool {
        let line = argv.join(" ");
        self.cfg
            .ide_markers
            .iter()
            .any(|m| line.contains(m.as_str()))
            || (line.contains("--output-format stream-json")
                && line.contains("--input-format stream-json"))
    }

    /// The process as reported.
    pub(crate) fn info(&self, snap: &Snapshot, p: &Proc) -> ProcessInfo {
        ProcessInfo {
            id: p.id,
            ppid: p.ppid,
            name: p.name.clone(),
            age: p.age,
            tty: p.tty.name(),
            state: p.state,
            workspace_root: self.workspace_root(snap, p.id.pid),
            cmdline: self
                .may_read_argv(snap, p.id.pid)
                .then(|| snap.argv(p.id.pid).map(|a| a.join(" ")))
                .flatten()
                .unwrap_or_default(),
            uid: snap.uid(p.id.pid),
            rss_bytes: p.rss_bytes,
        }
    }

    /// The first rule `p` meets, with its reason.
    pub(crate) fn verdict(&self, snap: &Snapshot, p: &Proc) -> (VerdictKind, String) {
        use VerdictKind::*;
        let pid = p.id.pid;
        if p.is_defunct() {
            return (
                Defunct,
                format!(
                    "already dead: parent pid {} must reap it; signals cannot affect it",
                    p.ppid
                ),
            );
        }
        if let Some(why) = self.owner_verdict(snap.uid(pid)) {
            return (OtherUser, why);
        }
        if let Some(why) = self.protection(snap, p) {
            return (Protected, why);
        }
        if let Some(tty) = p.tty.name() {
            return (
                HasTty,
                format!("has terminal {tty} outside tmux: an interactive session"),
            );
        }
        match snap.argv(pid) {
            None => return (IdeLaunched, ARGV_UNREADABLE.into()),
            Some(argv) if self.is_ide(argv) => {
                return (IdeLaunched, "argv carries an IDE marker".into())
            }
            Some(_) => {}
        }
        if p.age < self.cfg.min_age {
            return (
                TooYoung,
                format!("age {} < min_age {}", secs(p.age), secs(self.cfg.min_age)),
            );
        }
        let root = self.workspace_root(snap, pid);
        if let Some(why) = self.outside_workspace(snap, pid, root.as_ref()) {
            return (OutsideWorkspace, why);
        }
        let place = match &root {
            Some(r) => format!(" in workspace {}", r.display()),
            None => String::new(),
        };
        (
            Orphan,
            format!("no terminal, not in tmux, age {}{place}", secs(p.age)),
        )
    }

    /// Re-reads `id` and its ancestry afresh and checks that it is still the
    /// same process and still a target. An agent must still be a candidate.
    /// A descendant captured for `kill_tree` (`tree_of` = its agent) must
    /// still be below that agent (or orphaned by its death), alive, yours,
    /// without a terminal, unprotected, and neither a tmux server nor an
    /// agent process (agents are judged on their own). `Err` holds the
    /// failed check.
    pub(crate) fn reverify(
        &self,
        source: Source,
        id: Identity,
        tree_of: Option<Identity>,
    ) -> std::result::Result<Proc, String> {
        let snap = Snapshot::chain(source, self.cfg.subprocess_timeout, id.pid);
        let p = snap.get(id.pid).ok_or("process is gone")?;
        if p.id != id {
            return Err(format!(
                "pid {} now belongs to another process (start time {} != {})",
                id.pid, p.id.start_time, id.start_time
            ));
        }
        let (verdict, why) = match tree_of {
            None if self.is_agent(&snap, p) => self.verdict(&snap, p),
            None => return Err(format!("no longer an agent process (name {:?})", p.name)),
            Some(agent) => self.descendant_verdict(&snap, p, agent, source),
        };
        match verdict {
            VerdictKind::Orphan => Ok(p.clone()),
            v => Err(format!("{v}: {why}")),
        }
    }

    /// The `kill_tree` rules for a descendant `p` of `agent`, in the words of
    /// the verdicts (`Orphan` = may be signalled with its agent).
    pub(crate) fn descendant_verdict(
        &self,
        snap: &Snapshot,
        p: &Proc,
        agent: Identity,
        source: Source,
    ) -> (VerdictKind, String) {
        use VerdictKind::*;
        let below_agent = snap.procs().iter().any(|a| a.id == agent);
        let agent_alive = Snapshot::read_one(source, self.cfg.subprocess_timeout, agent.pid)
            .is_some_and(|a| a.id == agent && !a.is_defunct());
        if p.is_defunct() {
            return (Defunct, format!("parent pid {} must reap it", p.ppid));
        }
        if p.id.start_time < agent.start_time {
            // A parent link read across a pid reuse: no descendant of the
            // agent is older than it.
            return (
                Protected,
                format!("started before agent pid {}: not its descendant", agent.pid),
            );
        }
        if let Some(why) = self.owner_verdict(snap.uid(p.id.pid)) {
            return (OtherUser, why);
        }
        if let Some(why) = self.protection(snap, p) {
            return (Protected, why);
        }
        if let Some(tty) = p.tty.name() {
            return (HasTty, format!("has terminal {tty}"));
        }
        if tmux::is_server_name(&p.name) {
            return (Protected, format!("is a tmux server ({:?})", p.name));
        }
        if self.is_agent(snap, p) {
            return (
                Protected,
                "an agent process: judged on its own, not as a descendant".into(),
            );
        }
        if !below_agent && agent_alive {
            return (
                Protected,
                format!("no longer below agent pid {}", agent.pid),
            );
        }
        (Orphan, String::new())
    }
}

/// One scan: a snapshot plus the rules it is judged by.
pub struct Scan {
    pub(crate) snap: Snapshot,
    pub(crate) rules: Rules,
}

impl Scan {
    /// Validates `cfg`, asks configured tmux sockets, reads protected pid
    /// files, and snapshots the process table once.
    pub fn new(cfg: &Config) -> Result<Scan> {
        let rules = Rules::new(cfg)?;
        let source = Source::for_config(cfg.backend)?;
        let snap = Snapshot::take(source, cfg.subprocess_timeout)?;
        Ok(Scan { snap, rules })
    }

    /// The snapshot this scan judged.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    /// The verdict on `p`, or `None` when it is not an agent process.
    fn judge(&self, p: &Proc) -> Option<Verdict> {
        if !self.rules.is_agent(&self.snap, p) {
            return None;
        }
        let (verdict, reason) = self.rules.verdict(&self.snap, p);
        Some(Verdict {
            process: self.rules.info(&self.snap, p),
            verdict,
            reason,
        })
    }

    /// The verdict on the process with identity `id`, if it is in the
    /// snapshot and an agent process.
    pub fn verdict_of(&self, id: Identity) -> Option<Verdict> {
        self.snap
            .get(id.pid)
            .filter(|p| p.id == id)
            .and_then(|p| self.judge(p))
    }

    /// Every agent process with its verdict.
    pub fn explain(&self) -> Vec<Verdict> {
        self.snap
            .procs()
            .iter()
            .filter_map(|p| self.judge(p))
            .collect()
    }

    /// Agent processes whose verdict is `orphan`. The rules the stat line
    /// alone decides (kernel thread, defunct, terminal, age) run first, so
    /// argv is only read for processes that could still be candidates.
    pub(crate) fn orphans(&self) -> Vec<Verdict> {
        let min_age = self.rules.cfg.min_age;
        self.snap
            .procs()
            .iter()
            .filter(|p| !p.kthread && !p.is_defunct() && p.tty == Tty::None && p.age >= min_age)
            .filter(|p| self.rules.is_agent(&self.snap, p))
            .filter_map(|p| match self.rules.verdict(&self.snap, p) {
                (VerdictKind::Orphan, reason) => Some(Verdict {
                    process: self.rules.info(&self.snap, p),
                    verdict: VerdictKind::Orphan,
                    reason,
                }),
                _ => None,
            })
            .collect()
    }

    /// The candidates of a scan of `kind`. A zombie scan refuses to run
    /// blind: with nothing protected and no tmux server it fails with
    /// "tmux unavailable"; with a server but no panes it finds nothing (even
    /// when a protected root is alive).
    pub fn candidates(&self, kind: Kind) -> Result<Vec<ProcessInfo>> {
        if kind == Kind::Leaked {
            return Ok(Vec::new()); // TODO(leaked): the leaked rule
        }
        if kind == Kind::Zombies && !self.zombie_scan_can_see()? {
            return Ok(Vec::new());
        }
        Ok(self.orphans().into_iter().map(|v| v.process).collect())
    }

    /// The zombie safety rule (SPEC §1): a tmux pane anywhere → scan;
    /// a tmux server that has no panes → `Ok(false)` (an empty list, whatever
    /// else is protected); no server but a live protected root → scan;
    /// nothing at all → `Err` (a scan would be blind).
    pub(crate) fn zombie_scan_can_see(&self) -> Result<bool> {
        let procs = self.snap.procs();
        // A server has no terminal (a client named `tmux` by an old build
        // has one); one that has exited (defunct, not yet reaped) runs no
        // panes.
        let servers: Vec<i32> = procs
            .iter()
            .filter(|p| tmux::is_server_name(&p.name) && p.tty == Tty::None && !p.is_defunct())
            .map(|p| p.id.pid)
            .collect();
        let live = |pid: &i32| self.snap.get(*pid).is_some();
        let any_pane = servers.iter().any(|s| !self.snap.children(*s).is_empty())
            || self.rules.prot.panes.keys().any(live);
        if any_pane {
            return Ok(true);
        }
        if !servers.is_empty() {
            return Ok(false);
        }
        if self.rules.prot.roots.keys().any(live) {
            return Ok(true);
        }
        Err(Error::TmuxUnavailable(
            "no tmux server is running and nothing is protected: a zombie scan would be blind"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_(pid: i32, ppid: i32, name: &str) -> Proc {
        Proc {
            id: Identity { pid, start_time: 1 },
            ppid,
            name: name.into(),
            state: 'S',
            tty: Tty::None,
            age: Duration::from_secs(3600),
            kthread: false,
            rss_bytes: 0,
            listed_uid: Some(0),
            args: (0, 0),
        }
    }

    fn rules() -> Rules {
        let cfg = Config {
            protected_pid_files: vec![],
            protected_pids: vec![40],
            ..Config::default()
        };
        Rules::new(&cfg).unwrap()
    }

    /// The ancestry walk over a fabricated table: every way to be protected,
    /// and the one way not to be.
    #[test]
    fn protection_walks_the_ancestry_and_doubts_what_it_cannot_see() {
        let snap = Snapshot::from_procs(
            Source::Proc,
            Duration::from_secs(1),
            vec![
                proc_(1, 0, "init"),
                proc_(10, 1, "tmux: server"),
                proc_(11, 10, "bash"),
                proc_(12, 11, "claude"),
                proc_(20, 1, "sh"),
                proc_(21, 20, "claude"),
                proc_(30, 999, "claude"), // parent not visible
                proc_(31, 0, "claude"),   // parent outside the pid namespace
                proc_(40, 1, "mayor"),
                proc_(41, 40, "claude"),
                // pid 51 was reused by a process younger than its "child"
                Proc {
                    id: Identity {
                        pid: 50,
                        start_time: 0,
                    },
                    ..proc_(50, 51, "claude")
                },
                proc_(51, 1, "sh"),
            ],
        );
        let r = rules();
        let why = |pid| r.protection(&snap, snap.get(pid).unwrap());
        assert_eq!(
            why(12).unwrap(),
            "in tmux pane process 11 of tmux server pid 10"
        );
        assert_eq!(why(21), None);
        assert!(why(30).unwrap().contains("ancestor pid 999 is not visible"));
        assert!(why(31).unwrap().contains("outside this pid namespace"));
        assert!(why(41).unwrap().contains("descendant of protected root 40"));
        assert!(why(40).unwrap().contains("is protected root 40"));
        assert!(why(50)
            .unwrap()
            .contains("ancestor pid 51 is younger than pid 50"));
        assert_eq!(why(1), None);
    }
}
