//! The rules: which processes are agents or marker processes, and the one
//! ordered list of checks (SPEC §1) that gives each its verdict. Pure: the
//! rules decide from what a [`Facts`] source answers and do no I/O of their
//! own, so tests judge a table of facts without starting a process. The
//! orphan pre-filter, the verdict, the leaked rule and kill_tree's
//! descendant test all derive from [`RULES`]; orphans and zombies differ by
//! the zombie scan's safety rule only (see `Scan`).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Argv0Match, Config};
use crate::process::{Comm, Identity, Stat};
use crate::snapshot::{Facts, Place, Seen};

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

impl ProcessInfo {
    /// A process known only by its identity (and the name it had): one that
    /// is gone, or that a caller named but no scan found.
    pub fn unknown(id: Identity, name: &str) -> ProcessInfo {
        ProcessInfo {
            id,
            ppid: 0,
            name: name.to_string(),
            age: Duration::ZERO,
            tty: None,
            state: '?',
            workspace_root: None,
            cmdline: String::new(),
            uid: None,
            rss_bytes: 0,
        }
    }
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

/// Protected roots and panes known when a scan starts (tmux servers are
/// recognised during the ancestor walk, so fresh re-reads see them too).
#[derive(Debug, Clone, Default)]
pub(crate) struct Protection {
    /// Pane pids reported by configured sockets → which socket.
    pub(crate) panes: HashMap<i32, String>,
    /// Protected roots → where they came from.
    pub(crate) roots: HashMap<i32, String>,
    /// procreap runs in a pid namespace other than the initial one: its
    /// pid 1 was started from outside, where a tmux may hold it.
    pub(crate) nested_pid_ns: bool,
    /// The process calling procreap and its ancestors → which one it is:
    /// procreap never signals the program that asked it, nor what started
    /// that program (a host that inherited a leak marker, an agent that runs
    /// a cleanup with kill_tree).
    pub(crate) caller: HashMap<i32, String>,
}

/// Who a process is to the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// An agent process (orphan and zombie scans).
    Agent,
    /// Not an agent, but its environment carries this leak marker entry.
    Marker(String),
    /// A descendant of this agent, captured for `kill_tree`.
    Descendant(Identity),
}

/// A failed check: the verdict it gives and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Judgement {
    pub(crate) verdict: VerdictKind,
    pub(crate) reason: String,
    /// The check failed because a fact could not be read this moment (argv
    /// mid-exec, cwd, owner), not because the process is so. A tracked
    /// process is kept (not released) on a doubt.
    pub(crate) doubt: bool,
}

/// How a walk up the ancestry ended.
enum Walk<T> {
    /// An ancestor answered.
    Found(T),
    /// Reached pid 1 (or the top of this pid namespace) with no answer.
    Top,
    /// The ancestry could not be proven: why.
    Unproven(String),
}

/// One check of the rule list.
struct Rule {
    /// The verdict a failure gives.
    verdict: VerdictKind,
    /// Decided by the status line and owner alone: run first when only
    /// candidacy matters.
    cheap: bool,
    /// Which subjects it applies to.
    applies: fn(&Subject) -> bool,
    check: fn(&Rules, &dyn Facts, &Seen, &Subject) -> Option<Fail>,
}

struct Fail {
    reason: String,
    doubt: bool,
}

fn fail(reason: impl Into<String>) -> Option<Fail> {
    Some(Fail {
        reason: reason.into(),
        doubt: false,
    })
}

fn doubt(reason: impl Into<String>) -> Option<Fail> {
    Some(Fail {
        reason: reason.into(),
        doubt: true,
    })
}

fn all(_: &Subject) -> bool {
    true
}
fn scanned(s: &Subject) -> bool {
    !matches!(s, Subject::Descendant(_))
}
fn markers(s: &Subject) -> bool {
    matches!(s, Subject::Marker(_))
}
fn descendants(s: &Subject) -> bool {
    matches!(s, Subject::Descendant(_))
}

/// The one ordered list of checks (SPEC §1): the first that fails gives the
/// verdict; a process that passes every check that applies to it is a
/// candidate (an orphan, a leaked descendant, or a descendant `kill_tree`
/// may signal).
const RULES: &[Rule] = &[
    Rule {
        verdict: VerdictKind::Defunct,
        cheap: true,
        applies: all,
        check: |_, _, s, _| {
            s.st.is_defunct().then(|| Fail {
                reason: format!(
                    "already dead: parent pid {} must reap it; signals cannot affect it",
                    s.st.ppid
                ),
                doubt: false,
            })
        },
    },
    Rule {
        verdict: VerdictKind::Protected,
        cheap: true,
        applies: descendants,
        check: |_, _, s, subj| match subj {
            // A parent link read across a pid reuse: no descendant of the
            // agent is older than it.
            Subject::Descendant(agent) if s.st.id.start_time < agent.start_time => fail(format!(
                "started before agent pid {}: not its descendant",
                agent.pid
            )),
            _ => None,
        },
    },
    Rule {
        verdict: VerdictKind::OtherUser,
        cheap: true,
        applies: all,
        check: |r, f, s, _| r.owner_verdict(r.owner(f, s)),
    },
    Rule {
        verdict: VerdictKind::Protected,
        cheap: false,
        applies: all,
        check: |r, f, s, _| r.protection(f, &s.st).map(Fail::from_reason),
    },
    Rule {
        verdict: VerdictKind::HasTty,
        cheap: true,
        applies: all,
        check: |_, _, s, _| {
            s.st.tty.name().and_then(|tty| {
                fail(format!(
                    "has terminal {tty} outside tmux: an interactive session"
                ))
            })
        },
    },
    Rule {
        verdict: VerdictKind::HasTty,
        cheap: false,
        applies: all,
        check: |_, f, s, _| {
            // No controlling terminal, yet its standard streams are on one
            // that is still open (`setsid claude` from a shell): someone may
            // be watching it.
            match f.live_terminal(s.st.id.pid) {
                Ok(None) => None,
                Ok(Some(t)) => fail(format!(
                    "its standard streams are on terminal {t}, still open: an interactive session"
                )),
                Err(why) => doubt(format!(
                    "{why}: cannot prove they are not on someone's terminal"
                )),
            }
        },
    },
    Rule {
        verdict: VerdictKind::Protected,
        cheap: false,
        applies: descendants,
        check: |r, f, s, subj| {
            let Subject::Descendant(agent) = subj else {
                return None;
            };
            if r.tmux_server_loose(f, &s.st) {
                return fail(format!("is a tmux server ({:?})", s.st.comm));
            }
            if r.is_agent(f, &s.st) {
                return fail("an agent process: judged on its own, not as a descendant");
            }
            let below = matches!(
                r.walk_up(f, &s.st, |_| None, |a, _| (a.id == *agent).then_some(())),
                Walk::Found(())
            );
            let alive = f
                .restat(agent.pid)
                .is_some_and(|a| a.id == *agent && !a.is_defunct());
            (!below && alive)
                .then(|| Fail::from_reason(format!("no longer below agent pid {}", agent.pid)))
        },
    },
    Rule {
        verdict: VerdictKind::IdeLaunched,
        cheap: false,
        applies: scanned,
        check: |r, f, s, _| match f.argv(s.st.id.pid) {
            Err(why) => doubt(format!(
                "argv unreadable ({why}): cannot rule out an IDE launch"
            )),
            Ok(argv) => r
                .ide_marker(&argv.args)
                .and_then(|m| fail(format!("argv carries an IDE marker ({m})"))),
        },
    },
    Rule {
        verdict: VerdictKind::TooYoung,
        cheap: true,
        applies: scanned,
        check: |r, _, s, _| {
            (s.st.age < r.cfg.min_age).then(|| Fail {
                reason: format!("age {} < min_age {}", secs(s.st.age), secs(r.cfg.min_age)),
                doubt: false,
            })
        },
    },
    Rule {
        verdict: VerdictKind::OutsideWorkspace,
        cheap: false,
        applies: scanned,
        check: |r, f, s, _| r.outside_workspace(f, s.st.id.pid),
    },
    Rule {
        verdict: VerdictKind::LeaderAlive,
        cheap: true,
        applies: markers,
        check: |_, f, s, _| leader_alive(f, &s.st),
    },
    Rule {
        verdict: VerdictKind::AgentAlive,
        cheap: false,
        applies: markers,
        check: |r, f, s, _| r.agent_alive(f, &s.st),
    },
];

impl Fail {
    fn from_reason(reason: String) -> Fail {
        Fail {
            reason,
            doubt: false,
        }
    }
}

/// Why `st`'s process group leader counts as alive, or `None` when it is
/// gone: no live process has that pid, or the one that has it started
/// later than this process (the pid was reused). A leader that exists but
/// cannot be read (another user's under `hidepid`) is doubt, not gone.
fn leader_alive(f: &dyn Facts, st: &Stat) -> Option<Fail> {
    let pgid = st.pgrp;
    if pgid <= 0 {
        return doubt("its process group is unknown: cannot tell whether its leader lives");
    }
    if pgid == st.id.pid {
        return fail(format!(
            "it leads its own process group (pgid {pgid}): its leader is alive"
        ));
    }
    match f.stat(pgid) {
        Some(l) if !l.is_defunct() && l.id.start_time <= st.id.start_time => fail(format!(
            "its process group leader pid {pgid} ({}) is alive",
            l.comm.lossy()
        )),
        Some(_) => None,
        None if f.exists(pgid) => doubt(format!(
            "its process group leader pid {pgid} exists but cannot be read: cannot tell \
             whether it lives on"
        )),
        None => None,
    }
}

/// The rules with everything they need besides the facts.
pub(crate) struct Rules {
    pub(crate) cfg: Config,
    pub(crate) prot: Protection,
    euid: u32,
    /// `workspace_root` as a directory of our namespace, when it exists.
    ws_root: Option<Place>,
}

fn eq_ci(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!a.is_ascii()
            && String::from_utf8_lossy(a).to_lowercase()
                == String::from_utf8_lossy(b).to_lowercase())
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
    comm.len() == Comm::MAX
        && name.len() > Comm::MAX
        && name[..Comm::MAX].eq_ignore_ascii_case(comm)
}

/// A name tmux gives its server: `<program>: server`, after whatever name
/// the binary was run as, cut by the kernel (15 bytes) or by tmux at a
/// space — so anything ending in `:` followed by a beginning of ` server`
/// (`tm: server`, `workplexer: ser`, `workplexer:`).
fn server_title(comm: &[u8]) -> bool {
    comm.iter()
        .rposition(|&b| b == b':')
        .is_some_and(|i| i > 0 && b": server".starts_with(&comm[i..]))
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

const OWNER_UNKNOWN: &str = "owner unknown (process unreadable)";

impl Rules {
    /// The rules of `cfg`, with the protection and workspace root read at
    /// scan time.
    pub(crate) fn new(cfg: &Config, prot: Protection, ws_root: Option<Place>) -> Rules {
        Rules {
            cfg: cfg.clone(),
            prot,
            euid: crate::config::euid(),
            ws_root,
        }
    }

    /// Whose processes this configuration considers: `None` when `uid` is
    /// one of them, else why not (a doubt when the owner is unknown).
    fn owner_verdict(&self, uid: Option<u32>) -> Option<Fail> {
        let users = &self.cfg.users;
        match uid {
            None => doubt(OWNER_UNKNOWN),
            Some(u) if !users.is_empty() && !users.contains(&u) => {
                fail(format!("owned by uid {u}, not one of the users {users:?}"))
            }
            Some(_) if !users.is_empty() || self.cfg.all_users => None,
            Some(u) if u == self.euid => None,
            Some(u) => fail(format!("owned by uid {u}, not {}", self.euid)),
        }
    }

    /// The owner of `seen`: what /proc showed, unless that is root (which a
    /// non-dumpable process of any user shows as: then confirmed) or was not
    /// read (a pass over the whole table: then read now).
    pub(crate) fn owner(&self, f: &dyn Facts, seen: &Seen) -> Option<u32> {
        match seen.uid {
            Some(0) | None if !seen.st.kthread => f.uid(seen.st.id.pid),
            u => u,
        }
    }

    /// Whether procreap may read `uid`'s process memory (argv, environment):
    /// only a process it could signal. Memory can be made to hang a reader
    /// by its owner; procreap never waits on a process it would not touch.
    pub(crate) fn may_read(&self, uid: Option<u32>) -> bool {
        self.owner_verdict(uid).is_none()
    }

    /// Whether argv[0] is consulted for a process named `comm`.
    fn argv0_consulted(&self, comm: &[u8]) -> bool {
        match self.cfg.argv0_match {
            Argv0Match::Never => false,
            Argv0Match::Always => true,
            Argv0Match::VersionLike => {
                version_like(comm)
                    || self
                        .cfg
                        .agent_names
                        .iter()
                        .any(|n| truncated_name(comm, n.as_bytes()))
            }
        }
    }

    fn name_matches(&self, name: &[u8]) -> bool {
        self.cfg
            .agent_names
            .iter()
            .any(|n| eq_ci(name, n.as_bytes()))
    }

    /// Phase 1's test: could a process named `comm` be an agent? True when
    /// the comm is a configured name or argv[0] must be consulted.
    pub(crate) fn could_be_agent(&self, comm: &Comm) -> bool {
        self.name_matches(comm.as_bytes()) || self.argv0_consulted(comm.as_bytes())
    }

    /// Is this an agent process (SPEC §1)? The comm decides; argv[0]'s
    /// basename is consulted per `argv0_match`, and only for a process whose
    /// memory may be read (another user's matches by comm only).
    pub(crate) fn is_agent(&self, f: &dyn Facts, st: &Stat) -> bool {
        if st.kthread {
            return false;
        }
        let comm = st.comm.as_bytes();
        if self.name_matches(comm) {
            return true;
        }
        if !self.argv0_consulted(comm) || !self.may_read(f.uid(st.id.pid)) {
            return false;
        }
        f.argv(st.id.pid)
            .ok()
            .and_then(|a| a.args.first().map(|a0| basename(a0).to_string()))
            .is_some_and(|a0| self.name_matches(a0.as_bytes()))
    }

    /// For a process that is not (or no longer) an agent process: whether
    /// that is in doubt — its argv[0], which may be what names it an agent,
    /// cannot be read this moment.
    pub(crate) fn agent_in_doubt(&self, f: &dyn Facts, st: &Stat) -> bool {
        !st.kthread
            && self.argv0_consulted(st.comm.as_bytes())
            && self.may_read(f.uid(st.id.pid))
            && f.argv(st.id.pid).is_err()
    }

    /// A tmux server for *protection* (the fail-safe side): its executable
    /// is tmux, or its name says server (`<program>: server`, whatever the
    /// program was called), or an old build's plain `tmux`.
    pub(crate) fn tmux_server_loose(&self, f: &dyn Facts, st: &Stat) -> bool {
        let comm = st.comm.as_bytes();
        server_title(comm)
            || (comm.len() >= 4
                && comm[..4].eq_ignore_ascii_case(b"tmux")
                && !comm.to_ascii_lowercase().starts_with(b"tmux: client"))
            || f.exe_base(st.id.pid).as_deref() == Some("tmux")
    }

    /// A running tmux server, strictly: its executable really is tmux, it
    /// has no terminal (a client has one) and it is not defunct.
    pub(crate) fn tmux_server_strict(&self, f: &dyn Facts, st: &Stat) -> bool {
        !st.is_defunct()
            && st.tty.name().is_none()
            && f.exe_base(st.id.pid).as_deref() == Some("tmux")
    }

    /// The zombie safety rule (SPEC §1): a tmux pane anywhere → `Ok(true)`
    /// (scan); a tmux server that has no panes → `Ok(false)` (an empty list,
    /// whatever else is protected); no server but a live protected root →
    /// `Ok(true)`; nothing at all → `Err` (a scan would be blind). A server
    /// counts only when its executable really is tmux.
    pub(crate) fn zombie_sight(&self, f: &dyn Facts) -> std::result::Result<bool, String> {
        let listed = f.listed().unwrap_or(&[]);
        let servers: Vec<i32> = listed
            .iter()
            .filter(|(_, c)| {
                let c = c.as_bytes();
                server_title(c) || c.to_ascii_lowercase().starts_with(b"tmux")
            })
            .filter_map(|(pid, _)| f.stat(*pid))
            .filter(|st| self.tmux_server_strict(f, st))
            .map(|st| st.id.pid)
            .collect();
        let live = |pid: &i32| f.stat(*pid).is_some_and(|s| !s.is_defunct());
        let any_pane =
            servers.iter().any(|s| !f.children(*s).is_empty()) || self.prot.panes.keys().any(live);
        if any_pane {
            return Ok(true);
        }
        if !servers.is_empty() {
            return Ok(false);
        }
        if self.prot.roots.keys().any(live) {
            return Ok(true);
        }
        Err(
            "no tmux server is running and nothing is protected: a zombie scan would be blind"
                .into(),
        )
    }

    /// Walks `st`'s ancestry, nearest first, up to pid 1. `at_pid` is asked
    /// about each ancestor's pid before it is read (panes and protected
    /// roots are known by pid), `at` about each ancestor as read, with the
    /// process below it; the first answer ends the walk. An ancestry that
    /// changes while it is read (a parent exits and its child is
    /// reparented; a parent pid reused by a younger process) is read again
    /// from the child and its new parent followed; an ancestry that still
    /// Where a walk ends at pid 1: the top, in the initial pid namespace;
    /// in another, pid 1 was started from outside it, unseen.
    fn top<T>(&self) -> Walk<T> {
        if self.prot.nested_pid_ns {
            return Walk::Unproven(
                "pid 1 of this pid namespace was started from outside it".into(),
            );
        }
        Walk::Top
    }

    /// cannot be proven is [`Walk::Unproven`].
    fn walk_up<T>(
        &self,
        f: &dyn Facts,
        st: &Stat,
        mut at_pid: impl FnMut(i32) -> Option<T>,
        mut at: impl FnMut(&Stat, &Stat) -> Option<T>,
    ) -> Walk<T> {
        let mut below = st.clone();
        let mut cur = st.ppid;
        let mut rereads = 0;
        for _ in 0..=4096 {
            if cur <= 0 {
                if below.id.pid == 1 {
                    return self.top();
                }
                // Only init has no parent; anything else was started from
                // outside this pid namespace.
                return Walk::Unproven(format!(
                    "pid {}'s parent is outside this pid namespace",
                    below.id.pid
                ));
            }
            if let Some(x) = at_pid(cur) {
                return Walk::Found(x);
            }
            let parent = f.stat(cur);
            // A parent is never younger than its child.
            let consistent = parent
                .as_ref()
                .is_some_and(|a| a.id.start_time <= below.id.start_time);
            if !consistent && rereads < 8 {
                // The kernel reparents a child before its parent leaves
                // /proc: read the child again and follow its new parent.
                rereads += 1;
                if let Some(again) = f.restat(below.id.pid) {
                    if again.id == below.id && again.ppid != cur {
                        cur = again.ppid;
                        below = again;
                        continue;
                    }
                }
            }
            let Some(a) = parent else {
                if cur == 1 {
                    return self.top();
                }
                return Walk::Unproven(format!("ancestor pid {cur} is not visible"));
            };
            if !consistent {
                return Walk::Unproven(format!(
                    "ancestor pid {cur} is younger than pid {}: the ancestry changed while it was read",
                    below.id.pid
                ));
            }
            if let Some(x) = at(&a, &below) {
                return Walk::Found(x);
            }
            if cur == 1 {
                return self.top();
            }
            cur = a.ppid;
            below = a;
        }
        Walk::Unproven("ancestry loops".into())
    }

    /// Why `st` is protected, or `None`: it is, or descends from, a tmux
    /// pane or a protected root, or it runs below a tmux server; an
    /// ancestry that cannot be proven counts as protection.
    pub(crate) fn protection(&self, f: &dyn Facts, st: &Stat) -> Option<String> {
        let pid = st.id.pid;
        if let Some(o) = self.prot.panes.get(&pid) {
            return Some(format!("is tmux pane process {pid} ({o})"));
        }
        if let Some(o) = self.prot.roots.get(&pid) {
            return Some(format!("is protected root {pid} ({o})"));
        }
        if let Some(o) = self.prot.caller.get(&pid) {
            return Some(format!(
                "is {o}: procreap never signals the program that called it, nor its ancestors"
            ));
        }
        let walk = self.walk_up(
            f,
            st,
            |cur| {
                if let Some(o) = self.prot.panes.get(&cur) {
                    return Some(format!("descendant of tmux pane process {cur} ({o})"));
                }
                self.prot
                    .roots
                    .get(&cur)
                    .map(|o| format!("descendant of protected root {cur} ({o})"))
            },
            |a, below| {
                if self.tmux_server_loose(f, a) {
                    return Some(format!(
                        "in tmux: pid {} is a child of tmux server pid {} (a pane, or a job the server runs)",
                        below.id.pid, a.id.pid
                    ));
                }
                match f.session_server(a.id.pid) {
                    Ok(false) => None,
                    Ok(true) => Some(format!(
                        "in a terminal session: pid {} is a child of pid {} ({:?}), which holds a pty master and listens on a socket (tmux under another name, screen)",
                        below.id.pid, a.id.pid, a.comm
                    )),
                    // init is no session host; only root may look into it.
                    Err(_) if a.id.pid == 1 => None,
                    // A host runs its sessions' first processes on the ptys
                    // it holds: one that cannot be looked into is a
                    // possible host only where a child of it has a
                    // controlling terminal (cron, sudo or a notty sshd
                    // session is none).
                    Err(why) => self.a_child_has_a_terminal(f, a).then(|| {
                        format!(
                            "pid {} ({:?}) is above it, {why}, and a child of it has a terminal: cannot prove it is not a terminal session host (tmux under another name, screen)",
                            a.id.pid, a.comm
                        )
                    }),
                }
            },
        );
        match walk {
            Walk::Found(why) => Some(why),
            Walk::Top => None,
            Walk::Unproven(why) => Some(format!("{why}: cannot prove it is outside tmux")),
        }
    }

    /// Whether a child of `a` has a controlling terminal (from its stat
    /// line, which anyone may read). A child that cannot be read counts.
    fn a_child_has_a_terminal(&self, f: &dyn Facts, a: &Stat) -> bool {
        f.children(a.id.pid).into_iter().any(|c| {
            f.stat(c)
                .is_none_or(|st| st.ppid != a.id.pid || st.tty.name().is_some())
        })
    }

    /// The workspace rule: `Some` when the process is outside.
    fn outside_workspace(&self, f: &dyn Facts, pid: i32) -> Option<Fail> {
        let marker = &self.cfg.workspace_marker;
        let want = self.cfg.workspace_root.as_ref();
        if marker.is_empty() {
            let want = want?;
            let Some(root) = &self.ws_root else {
                return fail(format!(
                    "workspace_root {} cannot be opened (missing, or it did not answer in time)",
                    want.display()
                ));
            };
            return match f.under(pid, root) {
                Err(why) => doubt(format!("{why}: cannot place it under workspace_root")),
                Ok(true) => None,
                Ok(false) => fail(format!(
                    "cwd {} is not under {}",
                    f.cwd_display(pid).unwrap_or_default(),
                    want.display()
                )),
            };
        }
        match f.workspace(pid) {
            Err(why) => doubt(format!("{why}: no workspace root")),
            Ok(None) => fail(format!(
                "no {marker} at or above cwd {} (in the process's own mount namespace)",
                f.cwd_display(pid).unwrap_or_default()
            )),
            Ok(Some(root)) => match (&self.ws_root, want) {
                (Some(w), _) if *w == root => None,
                (_, Some(want)) => fail(format!(
                    "in workspace {}, not {}",
                    root.path.display(),
                    want.display()
                )),
                (_, None) => None,
            },
        }
    }

    /// The first IDE marker argv carries.
    fn ide_marker(&self, argv: &[String]) -> Option<String> {
        let line = argv.join(" ");
        if let Some(m) = self
            .cfg
            .ide_markers
            .iter()
            .find(|m| line.contains(m.as_str()))
        {
            return Some(m.clone());
        }
        // `--opt stream-json` or `--opt=stream-json`, as separate arguments
        // or inside one (a shell's -c string).
        let stream = |opt: &str| {
            line.contains(&format!("{opt} stream-json"))
                || line.contains(&format!("{opt}=stream-json"))
        };
        (stream("--output-format") && stream("--input-format"))
            .then(|| "stream-json input and output".to_string())
    }

    /// The live agent processes of this view (any user's: an agent is an
    /// agent whoever runs it), kept in the facts' memo.
    fn live_agents<'f>(&self, f: &'f dyn Facts) -> &'f [i32] {
        f.agents_memo().get_or_init(|| {
            let Some(listed) = f.listed() else {
                return Vec::new();
            };
            listed
                .iter()
                .filter(|(_, comm)| self.could_be_agent(comm))
                .filter_map(|(pid, _)| f.stat(*pid))
                .filter(|st| !st.is_defunct() && self.is_agent(f, st))
                .map(|st| st.id.pid)
                .collect()
        })
    }

    /// The agent-alive rule for a marker process: an ancestor that is an
    /// agent lives, or a live agent works in the same project.
    fn agent_alive(&self, f: &dyn Facts, st: &Stat) -> Option<Fail> {
        let above = self.walk_up(
            f,
            st,
            |_| None,
            |a, _| (!a.is_defunct() && self.is_agent(f, a)).then(|| a.clone()),
        );
        match above {
            Walk::Found(a) => {
                return fail(format!(
                    "its ancestor agent pid {} ({}) is alive",
                    a.id.pid,
                    a.comm.lossy()
                ))
            }
            // Protection walked the same ancestry a moment ago; it changed.
            Walk::Unproven(why) => {
                return doubt(format!("{why}: cannot tell whether an agent is above it"))
            }
            Walk::Top => {}
        }
        let (mine, way) = match (f.project(st.id.pid), f.ascent(st.id.pid)) {
            (Ok(p), Ok(w)) => (p, w),
            (Err(why), _) | (_, Err(why)) => {
                return doubt(format!("{why}: cannot tell its project"))
            }
        };
        for &agent in self.live_agents(f) {
            if agent == st.id.pid {
                continue;
            }
            let name = || f.stat(agent).map(|a| a.comm.lossy()).unwrap_or_default();
            match f.project(agent) {
                Ok(p) if p == mine => {
                    return fail(format!(
                        "agent pid {agent} ({}) works in the same project {}",
                        name(),
                        mine.path.display()
                    ));
                }
                // Outside any repository, a project is just a directory: an
                // agent working in a directory above it (short of the root,
                // and of any repository in between) may have started it.
                Ok(_) => {
                    let here = f.ascent(agent).ok().and_then(|a| a.into_iter().next());
                    if let Some(at) = here.filter(|h| way.contains(h)) {
                        return fail(format!(
                            "agent pid {agent} ({}) works in {}, above it on the way to its \
                             project",
                            name(),
                            at.path.display()
                        ));
                    }
                }
                // One of ours could work right here; another user's agent
                // whose directory is not ours to read is no evidence (it
                // would shield every marker process on a shared machine).
                Err(why) if self.may_read(f.uid(agent)) => {
                    return doubt(format!(
                        "agent pid {agent} ({}): {why}: cannot tell whether it works in the \
                         same project",
                        name()
                    ));
                }
                Err(_) => {}
            }
        }
        None
    }

    /// Who `st` is to a scan: an agent, a marker process, or neither
    /// (`None`). Reads the environment only of processes whose memory may
    /// be read.
    pub(crate) fn subject(&self, f: &dyn Facts, seen: &Seen) -> Option<Subject> {
        if seen.st.kthread {
            return None;
        }
        if self.is_agent(f, &seen.st) {
            return Some(Subject::Agent);
        }
        if self.cfg.leak_markers.is_empty() || !self.may_read(self.owner(f, seen)) {
            return None;
        }
        match f.environ_marker(seen.st.id.pid) {
            Ok(Some(m)) => Some(Subject::Marker(m)),
            _ => None,
        }
    }

    /// The verdict on `seen` as `subject`: the first check of [`RULES`]
    /// that fails, else the candidate verdict.
    pub(crate) fn judge(&self, f: &dyn Facts, seen: &Seen, subject: &Subject) -> Judgement {
        for r in RULES.iter().filter(|r| (r.applies)(subject)) {
            if let Some(x) = (r.check)(self, f, seen, subject) {
                return Judgement {
                    verdict: r.verdict,
                    reason: prefixed(subject, x.reason),
                    doubt: x.doubt,
                };
            }
        }
        let (verdict, reason) = match subject {
            Subject::Agent => (VerdictKind::Orphan, self.candidate_reason(f, seen)),
            Subject::Marker(_) => (
                VerdictKind::Leaked,
                prefixed(subject, self.leaked_reason(f, seen)),
            ),
            Subject::Descendant(_) => (VerdictKind::Orphan, String::new()),
        };
        Judgement {
            verdict,
            reason,
            doubt: false,
        }
    }

    /// Whether `seen` is a candidate as `subject`: the same checks as
    /// [`Rules::judge`], the cheap ones (status line and owner) first, so
    /// memory and directories are read only for processes that could still
    /// be candidates.
    pub(crate) fn is_candidate(&self, f: &dyn Facts, seen: &Seen, subject: &Subject) -> bool {
        self.candidate_but(f, seen, subject, None)
    }

    /// [`Rules::is_candidate`], ignoring the checks that give `except`
    /// (e.g. too-young: will it be a candidate once old enough?).
    pub(crate) fn candidate_but(
        &self,
        f: &dyn Facts,
        seen: &Seen,
        subject: &Subject,
        except: Option<VerdictKind>,
    ) -> bool {
        self.passes(f, seen, subject, except, false)
    }

    /// Whether `seen` passes the cheap checks for `subject`, but those that
    /// give `except` (used before the subject is known for sure: a marker
    /// needs an environment read).
    pub(crate) fn passes_cheap(
        &self,
        f: &dyn Facts,
        seen: &Seen,
        subject: &Subject,
        except: Option<VerdictKind>,
    ) -> bool {
        self.passes(f, seen, subject, except, true)
    }

    /// Whether `seen` passes every check of [`RULES`] that applies to
    /// `subject` (only the cheap ones with `cheap_only`), but those giving
    /// `except`: the cheap ones first.
    fn passes(
        &self,
        f: &dyn Facts,
        seen: &Seen,
        subject: &Subject,
        except: Option<VerdictKind>,
        cheap_only: bool,
    ) -> bool {
        let applies = RULES.iter().filter(|r| {
            (r.applies)(subject) && Some(r.verdict) != except && (r.cheap || !cheap_only)
        });
        let (mut cheap, dear): (Vec<&Rule>, Vec<&Rule>) = applies.partition(|r| r.cheap);
        // The owner may need one more read (a root owner is confirmed):
        // last among the cheap checks.
        cheap.sort_by_key(|r| r.verdict == VerdictKind::OtherUser);
        cheap
            .into_iter()
            .chain(dear)
            .all(|r| (r.check)(self, f, seen, subject).is_none())
    }

    fn candidate_reason(&self, f: &dyn Facts, seen: &Seen) -> String {
        let parent = if kept_ppid(f, seen) == 1 {
            "its parent is pid 1; "
        } else {
            ""
        };
        format!("{parent}{}", self.passed(f, seen))
    }

    /// A leaked descendant's reason: the evidence that its agent is gone,
    /// then what it passed.
    fn leaked_reason(&self, f: &dyn Facts, seen: &Seen) -> String {
        let pid = seen.st.id.pid;
        let parent = match kept_ppid(f, seen) {
            1 => "its parent is pid 1".to_string(),
            p => format!(
                "parent pid {p} ({})",
                f.stat(p).map(|a| a.comm.lossy()).unwrap_or_default()
            ),
        };
        let project = f
            .project(pid)
            .map(|p| p.path.display().to_string())
            .unwrap_or_default();
        format!(
            "its process group leader pid {} is gone; {parent}; no live agent above it or in \
             its project {project}; {}",
            seen.st.pgrp,
            self.passed(f, seen)
        )
    }

    /// The checks a candidate passed, with its age and workspace.
    fn passed(&self, f: &dyn Facts, seen: &Seen) -> String {
        let place = match f.workspace(seen.st.id.pid) {
            Ok(Some(r)) if !self.cfg.workspace_marker.is_empty() => {
                format!(" in workspace {}", r.path.display())
            }
            _ => String::new(),
        };
        format!("no terminal, not in tmux, age {}{place}", secs(seen.st.age))
    }

    /// The process as reported.
    pub(crate) fn info(&self, f: &dyn Facts, seen: &Seen) -> ProcessInfo {
        let st = &seen.st;
        let pid = st.id.pid;
        let workspace_root = if self.cfg.workspace_marker.is_empty() {
            None
        } else {
            f.workspace(pid).ok().flatten().map(|p| p.path)
        };
        ProcessInfo {
            id: st.id,
            ppid: st.ppid,
            name: st.comm.lossy(),
            age: st.age,
            tty: st.tty.name(),
            state: st.state,
            workspace_root,
            cmdline: if self.may_read(self.owner(f, seen)) {
                f.argv(pid).map(|a| a.args.join(" ")).unwrap_or_default()
            } else {
                String::new()
            },
            uid: self.owner(f, seen),
            rss_bytes: st.rss_bytes,
        }
    }
}

/// The parent as last read: an ancestry walk may have read the process
/// again and found it reparented.
fn kept_ppid(f: &dyn Facts, seen: &Seen) -> i32 {
    f.stat(seen.st.id.pid)
        .filter(|s| s.id == seen.st.id)
        .map_or(seen.st.ppid, |s| s.ppid)
}

fn prefixed(subject: &Subject, reason: String) -> String {
    match subject {
        Subject::Marker(m) => format!("carries {m}; {reason}"),
        _ => reason,
    }
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

#[cfg(test)]
mod tests;
