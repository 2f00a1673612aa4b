//! The rules judged on a table of facts (issue 11 §3): every verdict and
//! every reason, for agents, marker processes and `kill_tree` descendants,
//! without starting a process. [`Table`] answers what a [`Facts`] source
//! answers; a scripted re-read plays an ancestry that changes while it is
//! walked.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::OnceCell;

use super::*;
use crate::process::Tty;
use crate::snapshot::Argv;

const AGENT: &str = "prt-agent";
const MARK: &str = "PRT_LEAK_T=1";

/// A directory: identity from its path (the table's namespace has one
/// directory per path).
fn place(path: &str) -> Place {
    let ino = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Place {
        path: PathBuf::from(path),
        dev: 7,
        ino,
    }
}

/// One process of the table.
#[derive(Clone)]
struct Row {
    st: Stat,
    uid: Option<u32>,
    exe: Option<String>,
    argv: std::result::Result<Vec<String>, String>,
    marker: std::result::Result<Option<String>, String>,
    /// The cwd; `Err` when unreadable.
    cwd: std::result::Result<String, String>,
    /// The workspace root found from the cwd (`Ok(None)`: no marker above).
    workspace: Option<String>,
    /// The project; `None` = the cwd itself.
    project: Option<String>,
    /// A still-open terminal its standard streams are on; `Err` when they
    /// cannot be read.
    terminal: std::result::Result<Option<String>, String>,
    /// Holds a pty master and listens on a unix socket; `Err` when its
    /// descriptors cannot be read.
    session_server: std::result::Result<bool, String>,
}

/// A process table as a facts source.
#[derive(Default)]
struct Table {
    rows: RefCell<HashMap<i32, Row>>,
    /// What a re-read of a pid answers, in turn (then the kept row).
    rereads: RefCell<HashMap<i32, VecDeque<Option<Stat>>>>,
    /// Pids taken by processes the table cannot read (hidden).
    hidden: Vec<i32>,
    listing: OnceCell<Vec<(i32, Comm)>>,
    agents: OnceCell<Vec<i32>>,
}

fn euid() -> u32 {
    crate::config::euid()
}

impl Table {
    /// A table holding init (pid 1).
    fn new() -> Table {
        let mut t = Table::default();
        t.add(1, 0, "init");
        t
    }

    /// Adds a sleeping process of ours, an hour old, started in pid order
    /// (a lower pid is older), leading its own group, with no terminal, in
    /// project `/w/p`; its exe and argv[0] are its name.
    fn add(&mut self, pid: i32, ppid: i32, name: &str) -> &mut Row {
        let row = Row {
            st: Stat {
                id: Identity {
                    pid,
                    start_time: pid as u64 * 100,
                },
                comm: Comm::new(name.as_bytes()),
                ppid,
                pgrp: pid,
                state: 'S',
                tty: Tty::None,
                age: Duration::from_secs(3600),
                rss_bytes: 4096,
                kthread: false,
                threads: 1,
                args: (0, 0),
            },
            uid: Some(euid()),
            exe: Some(name.to_string()),
            argv: Ok(vec![format!("/usr/bin/{name}"), "--serve".into()]),
            marker: Ok(None),
            cwd: Ok("/w/p/src".into()),
            workspace: None,
            terminal: Ok(None),
            session_server: Ok(false),
            project: Some("/w/p".into()),
        };
        let rows = self.rows.get_mut();
        rows.insert(pid, row);
        rows.get_mut(&pid).unwrap()
    }

    /// A row to change: the table is a new view from here on (the live
    /// agents and the listing are read again).
    fn row(&mut self, pid: i32) -> &mut Row {
        self.agents = OnceCell::new();
        self.listing = OnceCell::new();
        self.rows.get_mut().get_mut(&pid).expect("a row")
    }

    /// A marker process: not an agent, carrying [`MARK`].
    fn marker(&mut self, pid: i32, ppid: i32, pgrp: i32) -> &mut Row {
        let r = self.add(pid, ppid, "node");
        r.st.pgrp = pgrp;
        r.marker = Ok(Some(MARK.into()));
        r
    }

    /// Scripts the next re-reads of `pid`.
    fn reread(&mut self, pid: i32, answers: Vec<Option<Stat>>) {
        self.rereads.get_mut().insert(pid, answers.into());
    }

    fn seen(&self, pid: i32) -> Seen {
        let r = &self.rows.borrow()[&pid];
        Seen {
            st: r.st.clone(),
            uid: r.uid,
        }
    }

    fn with<T>(&self, pid: i32, f: impl FnOnce(&Row) -> T) -> Option<T> {
        self.rows.borrow().get(&pid).map(f)
    }
}

impl Facts for Table {
    fn listed(&self) -> Option<&[(i32, Comm)]> {
        Some(self.listing.get_or_init(|| {
            let mut l: Vec<(i32, Comm)> = self
                .rows
                .borrow()
                .values()
                .map(|r| (r.st.id.pid, r.st.comm))
                .collect();
            l.sort_unstable_by_key(|e| e.0);
            l
        }))
    }

    fn each_seen(&self, f: &mut dyn FnMut(&Seen)) {
        let mut pids: Vec<i32> = self.rows.borrow().keys().copied().collect();
        pids.sort_unstable();
        for p in pids {
            f(&self.seen(p));
        }
    }

    fn stat(&self, pid: i32) -> Option<Stat> {
        self.with(pid, |r| r.st.clone())
    }

    fn restat(&self, pid: i32) -> Option<Stat> {
        let scripted = self
            .rereads
            .borrow_mut()
            .get_mut(&pid)
            .and_then(VecDeque::pop_front);
        match scripted {
            None => self.stat(pid),
            Some(None) => {
                self.rows.borrow_mut().remove(&pid);
                None
            }
            Some(Some(st)) => {
                if let Some(r) = self.rows.borrow_mut().get_mut(&pid) {
                    r.st = st.clone();
                }
                Some(st)
            }
        }
    }

    fn exists(&self, pid: i32) -> bool {
        self.rows.borrow().contains_key(&pid) || self.hidden.contains(&pid)
    }

    fn uid(&self, pid: i32) -> Option<u32> {
        self.with(pid, |r| r.uid).flatten()
    }

    fn exe_base(&self, pid: i32) -> Option<String> {
        self.with(pid, |r| r.exe.clone()).flatten()
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        let mut kids: Vec<i32> = self
            .rows
            .borrow()
            .values()
            .filter(|r| r.st.ppid == pid)
            .map(|r| r.st.id.pid)
            .collect();
        kids.sort_unstable();
        kids
    }

    fn argv(&self, pid: i32) -> std::result::Result<Arc<Argv>, String> {
        match self.with(pid, |r| r.argv.clone()) {
            Some(Ok(args)) => Ok(Arc::new(Argv {
                args,
                truncated: false,
            })),
            Some(Err(why)) => Err(why),
            None => Err("it could not be read".into()),
        }
    }

    fn environ_marker(&self, pid: i32) -> std::result::Result<Option<String>, String> {
        self.with(pid, |r| r.marker.clone())
            .unwrap_or_else(|| Err("gone".into()))
    }

    fn workspace(&self, pid: i32) -> std::result::Result<Option<Place>, String> {
        let r = self.with(pid, |r| (r.cwd.clone(), r.workspace.clone()));
        let (cwd, ws) = r.ok_or("cwd unreadable")?;
        cwd?;
        Ok(ws.as_deref().map(place))
    }

    fn under(&self, pid: i32, root: &Place) -> std::result::Result<bool, String> {
        let cwd = self
            .with(pid, |r| r.cwd.clone())
            .ok_or("cwd unreadable")??;
        Ok(PathBuf::from(cwd).starts_with(&root.path))
    }

    fn live_terminal(&self, pid: i32) -> std::result::Result<Option<String>, String> {
        self.with(pid, |r| r.terminal.clone()).unwrap_or(Ok(None))
    }

    fn session_server(&self, pid: i32) -> std::result::Result<bool, String> {
        self.with(pid, |r| r.session_server.clone())
            .unwrap_or(Ok(false))
    }

    fn cwd_display(&self, pid: i32) -> Option<String> {
        self.with(pid, |r| r.cwd.clone().ok()).flatten()
    }

    fn project(&self, pid: i32) -> std::result::Result<Place, String> {
        let (cwd, project) = self
            .with(pid, |r| (r.cwd.clone(), r.project.clone()))
            .ok_or("cwd unreadable")?;
        let cwd = cwd?;
        Ok(place(project.as_deref().unwrap_or(&cwd)))
    }

    fn ascent(&self, pid: i32) -> std::result::Result<Vec<Place>, String> {
        let (cwd, project) = self
            .with(pid, |r| (r.cwd.clone(), r.project.clone()))
            .ok_or("cwd unreadable")?;
        let cwd = cwd?;
        let top = project.unwrap_or_else(|| "/".into());
        let mut way: Vec<Place> = std::path::Path::new(&cwd)
            .ancestors()
            .take_while(|a| a.starts_with(&top))
            .map(|a| place(&a.to_string_lossy()))
            .collect();
        if top == "/" && way.len() > 1 {
            way.pop();
        }
        Ok(way)
    }

    fn agents_memo(&self) -> &OnceCell<Vec<i32>> {
        &self.agents
    }
}

/// The table's configuration: agent name [`AGENT`], marker [`MARK`], no
/// workspace test, `min_age` a minute.
fn cfg() -> Config {
    Config {
        agent_names: vec![AGENT.into()],
        min_age: Duration::from_secs(60),
        workspace_marker: String::new(),
        protected_pid_files: Vec::new(),
        leak_markers: vec![MARK.into()],
        ..Config::default()
    }
}

fn rules(cfg: &Config) -> Rules {
    Rules::new(cfg, Protection::default(), None)
}

/// The judgement on `pid` as what it is (agent or marker process), checked
/// against the candidate pre-filters: a candidate passes them, and nothing
/// else passes `is_candidate`.
fn judged(r: &Rules, t: &Table, pid: i32) -> Judgement {
    let seen = t.seen(pid);
    let subject = r.subject(t, &seen).expect("an agent or marker process");
    judged_as(r, t, pid, &subject)
}

fn judged_as(r: &Rules, t: &Table, pid: i32, subject: &Subject) -> Judgement {
    let seen = t.seen(pid);
    let candidate = r.is_candidate(t, &seen, subject);
    let j = r.judge(t, &seen, subject);
    let wins = matches!(j.verdict, VerdictKind::Orphan | VerdictKind::Leaked);
    assert_eq!(candidate, wins, "is_candidate disagrees with {j:?}");
    if wins {
        assert!(r.passes_cheap(t, &seen, subject, None), "{j:?}");
    }
    j
}

/// Asserts verdict, exact reason and doubt.
#[track_caller]
fn expect(j: &Judgement, verdict: VerdictKind, reason: &str, doubt: bool) {
    assert_eq!(
        (j.verdict, j.reason.as_str(), j.doubt),
        (verdict, reason, doubt)
    );
}

// ---------------------------------------------------------------------
// Agents.

/// init, and the agent (pid 100, child of init).
fn agent_table() -> Table {
    let mut t = Table::new();
    t.add(100, 1, AGENT);
    t
}

#[test]
fn an_agent_that_passes_every_check_is_an_orphan() {
    let t = agent_table();
    let j = judged(&rules(&cfg()), &t, 100);
    expect(
        &j,
        VerdictKind::Orphan,
        "its parent is pid 1; no terminal, not in tmux, age 3600s",
        false,
    );
    let mut t = agent_table();
    t.add(50, 1, "bash");
    t.row(100).st.ppid = 50;
    t.row(100).workspace = Some("/gt".into());
    let c = Config {
        workspace_marker: "mayor/town.json".into(),
        ..cfg()
    };
    expect(
        &judged(&rules(&c), &t, 100),
        VerdictKind::Orphan,
        "no terminal, not in tmux, age 3600s in workspace /gt",
        false,
    );
}

#[test]
fn defunct_comes_first_and_names_the_parent() {
    let mut t = agent_table();
    t.row(100).st.state = 'Z';
    t.row(100).st.tty = Tty::Dev(136 << 8);
    t.row(100).uid = Some(euid() + 1);
    expect(
        &judged(&rules(&cfg()), &t, 100),
        VerdictKind::Defunct,
        "already dead: parent pid 1 must reap it; signals cannot affect it",
        false,
    );
}

#[test]
fn other_users_and_unknown_owners() {
    let other = euid().wrapping_add(4242);
    let mut t = agent_table();
    t.row(100).uid = Some(other);
    expect(
        &judged(&rules(&cfg()), &t, 100),
        VerdictKind::OtherUser,
        &format!("owned by uid {other}, not {}", euid()),
        false,
    );
    let listed = Config {
        users: vec![7],
        ..cfg()
    };
    expect(
        &judged(&rules(&listed), &t, 100),
        VerdictKind::OtherUser,
        &format!("owned by uid {other}, not one of the users [7]"),
        false,
    );
    for c in [
        Config {
            users: vec![other],
            ..cfg()
        },
        Config {
            all_users: true,
            ..cfg()
        },
    ] {
        assert_eq!(judged(&rules(&c), &t, 100).verdict, VerdictKind::Orphan);
    }
    // `users` without our own uid leaves our own processes out too.
    t.row(100).uid = Some(euid());
    expect(
        &judged(&rules(&listed), &t, 100),
        VerdictKind::OtherUser,
        &format!("owned by uid {}, not one of the users [7]", euid()),
        false,
    );
    t.row(100).uid = None;
    expect(
        &judged(&rules(&cfg()), &t, 100),
        VerdictKind::OtherUser,
        "owner unknown (process unreadable)",
        true,
    );
}

#[test]
fn panes_and_protected_roots_protect_themselves_and_what_is_below() {
    let mut t = Table::new();
    t.add(10, 1, "bash");
    t.add(20, 10, "sh");
    t.add(100, 20, AGENT);
    let mut prot = Protection::default();
    prot.panes.insert(10, "tmux socket s1".into());
    let r = Rules::new(&cfg(), prot.clone(), None);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "descendant of tmux pane process 10 (tmux socket s1)",
        false,
    );
    prot.panes.insert(100, "tmux socket s2".into());
    let r = Rules::new(&cfg(), prot, None);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "is tmux pane process 100 (tmux socket s2)",
        false,
    );
    let mut prot = Protection::default();
    prot.roots.insert(20, "pid file /run/mayor.pid".into());
    let r = Rules::new(&cfg(), prot.clone(), None);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "descendant of protected root 20 (pid file /run/mayor.pid)",
        false,
    );
    prot.roots.insert(100, "protected_pids".into());
    let r = Rules::new(&cfg(), prot, None);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "is protected root 100 (protected_pids)",
        false,
    );
}

/// A tmux server as protection: by exe whatever its name, by a name that
/// says server, by a name that starts with tmux whatever its exe (loose);
/// as the zombie scan's precondition only by exe, running, terminal-less
/// (strict).
#[test]
fn tmux_servers_by_exe_strictly_and_by_name_or_exe_loosely() {
    let r = rules(&cfg());
    let cases: [(&str, &str, bool, bool); 7] = [
        // (comm, exe, strict, loose)
        ("tm: server", "tmux", true, true),
        ("node", "tmux", true, true),
        ("tmux-x", "sleep", false, true),
        ("tmux: server", "sleep", false, true),
        ("weird: server", "sleep", false, true),
        ("tmux: client", "sleep", false, false),
        ("bash", "bash", false, false),
    ];
    for (comm, exe, strict, loose) in cases {
        let mut t = Table::new();
        t.add(10, 1, comm).exe = Some(exe.into());
        t.add(100, 10, AGENT);
        let st = t.stat(10).unwrap();
        assert_eq!(r.tmux_server_strict(&t, &st), strict, "{comm} {exe}");
        assert_eq!(r.tmux_server_loose(&t, &st), loose, "{comm} {exe}");
        let j = judged(&r, &t, 100);
        if loose {
            expect(
                &j,
                VerdictKind::Protected,
                "in tmux: pid 100 is a child of tmux server pid 10 (a pane, or a job the server runs)",
                false,
            );
        } else {
            assert_eq!(j.verdict, VerdictKind::Orphan, "{comm} {exe}: {j:?}");
        }
    }
    // Strictly, a defunct server or one with a terminal (a client) is none.
    let mut t = Table::new();
    t.add(10, 1, "tmux").st.state = 'Z';
    t.add(11, 1, "tmux").st.tty = Tty::Dev(136 << 8 | 2);
    t.row(10).exe = Some("tmux".into());
    t.row(11).exe = Some("tmux".into());
    for pid in [10, 11] {
        assert!(!r.tmux_server_strict(&t, &t.stat(pid).unwrap()));
        assert!(r.tmux_server_loose(&t, &t.stat(pid).unwrap()));
    }
    // Unreadable exe: strictly no server; loosely the name still counts.
    t.add(12, 1, "tmux").exe = None;
    assert!(!r.tmux_server_strict(&t, &t.stat(12).unwrap()));
    assert!(r.tmux_server_loose(&t, &t.stat(12).unwrap()));
}

/// A parent that holds a pty master and listens on a socket hosts
/// terminal sessions (tmux under a name that says nothing, screen): what
/// runs below it is protected; the same parent without that is not.
#[test]
fn a_session_server_by_any_name_protects() {
    let r = rules(&cfg());
    for host in [true, false] {
        let mut t = Table::new();
        t.add(10, 1, "termplexer-stat").session_server = Ok(host);
        t.add(100, 10, AGENT);
        let j = judged(&r, &t, 100);
        if host {
            expect(
                &j,
                VerdictKind::Protected,
                "in a terminal session: pid 100 is a child of pid 10 (\"termplexer-stat\"), which holds a pty master and listens on a socket (tmux under another name, screen)",
                false,
            );
        } else {
            assert_eq!(j.verdict, VerdictKind::Orphan, "{j:?}");
        }
    }
}

/// The third outside attack: a parent whose descriptors cannot be read
/// (a setgid tmux copy or screen is not dumpable; another user's host; a
/// scan from inside a user namespace) may be a session host where a child
/// of it has a terminal (a pane): what runs below it is protected. Init is
/// no host, readable or not.
#[test]
fn a_parent_that_hides_its_descriptors_protects() {
    let r = rules(&cfg());
    let hidden =
        || Err("its descriptors cannot be read: another user's, or not dumpable".to_string());
    let mut t = Table::new();
    t.add(10, 1, "termplexer-stat").session_server = hidden();
    t.add(100, 10, AGENT);
    // No child of it has a terminal (cron, sudo, a notty ssh session): no
    // host, whatever it hides.
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
    // A pane: a child on a terminal.
    t.add(11, 10, "bash").st.tty = Tty::Dev(136 << 8 | 4);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "pid 10 (\"termplexer-stat\") is above it, its descriptors cannot be read: another user's, or not dumpable, and a child of it has a terminal: cannot prove it is not a terminal session host (tmux under another name, screen)",
        false,
    );
    let mut t = Table::new();
    t.add(1, 0, "systemd").session_server = hidden();
    t.add(100, 1, AGENT);
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
}

/// Streams that cannot be read may be on someone's terminal: has-tty, kept
/// in doubt.
#[test]
fn streams_that_cannot_be_read_are_not_proven_free() {
    let r = rules(&cfg());
    let mut t = Table::new();
    t.add(100, 1, AGENT).terminal =
        Err("its standard streams cannot be read (fd 0: EACCES)".into());
    expect(
        &judged(&r, &t, 100),
        VerdictKind::HasTty,
        "its standard streams cannot be read (fd 0: EACCES): cannot prove they are not on someone's terminal",
        true,
    );
}

#[test]
fn an_ancestry_that_cannot_be_proven_counts_as_protection() {
    let r = rules(&cfg());
    // A parent outside this pid namespace (ppid 0 for a pid other than 1).
    let mut t = Table::new();
    t.add(100, 0, AGENT);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "pid 100's parent is outside this pid namespace: cannot prove it is outside tmux",
        false,
    );
    let mut t = Table::new();
    t.add(50, 0, "containerd-shim");
    t.add(100, 50, AGENT);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "pid 50's parent is outside this pid namespace: cannot prove it is outside tmux",
        false,
    );
    // An unreadable parent (no row; a re-read of the child says the same
    // parent).
    let mut t = Table::new();
    t.add(100, 50, AGENT);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "ancestor pid 50 is not visible: cannot prove it is outside tmux",
        false,
    );
    // A loop (a parent link read across two reuses): bounded.
    let mut t = Table::new();
    t.add(60, 61, "a").st.id.start_time = 5;
    t.add(61, 60, "b").st.id.start_time = 5;
    t.add(100, 60, AGENT);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "ancestry loops: cannot prove it is outside tmux",
        false,
    );
}

#[test]
fn a_parent_that_exits_mid_walk_is_followed_to_the_new_parent() {
    let r = rules(&cfg());
    // The agent was read while pid 50 was its parent; 50 is gone by the
    // time it is read; read again, the agent has been reparented to 1.
    let mut t = Table::new();
    t.add(100, 50, AGENT);
    let mut moved = t.stat(100).unwrap();
    moved.ppid = 1;
    t.reread(100, vec![Some(moved)]);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Orphan,
        "its parent is pid 1; no terminal, not in tmux, age 3600s",
        false,
    );
    // Reparented to a subreaper that is a tmux pane's descendant: protected.
    let mut t = Table::new();
    let mut prot = Protection::default();
    prot.panes.insert(30, "tmux socket s".into());
    t.add(30, 1, "bash");
    t.add(40, 30, "systemd");
    t.add(100, 50, AGENT);
    let mut moved = t.stat(100).unwrap();
    moved.ppid = 40;
    t.reread(100, vec![Some(moved)]);
    expect(
        &judged(&Rules::new(&cfg(), prot, None), &t, 100),
        VerdictKind::Protected,
        "descendant of tmux pane process 30 (tmux socket s)",
        false,
    );
    // The child itself gone on re-read: the parent stays unreadable.
    let mut t = Table::new();
    t.add(100, 50, AGENT);
    t.reread(100, vec![None]);
    let seen = t.seen(100);
    let j = r.judge(&t, &seen, &Subject::Agent);
    expect(
        &j,
        VerdictKind::Protected,
        "ancestor pid 50 is not visible: cannot prove it is outside tmux",
        false,
    );
}

#[test]
fn a_parent_pid_reused_by_a_younger_process_is_never_followed() {
    let r = rules(&cfg());
    // 50 was the agent's parent; it exited and a younger bash took pid 50.
    let mut t = Table::new();
    t.add(50, 1, "bash").st.id.start_time = 99_999;
    t.add(100, 50, AGENT);
    // Read again, the agent says its parent is now 1.
    let mut moved = t.stat(100).unwrap();
    moved.ppid = 1;
    t.reread(100, vec![Some(moved)]);
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
    // Read again it still names 50 (the read raced the reparenting): not
    // provable this step.
    let mut t = Table::new();
    t.add(50, 1, "bash").st.id.start_time = 99_999;
    t.add(100, 50, AGENT);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::Protected,
        "ancestor pid 50 is younger than pid 100: the ancestry changed while it was read: \
         cannot prove it is outside tmux",
        false,
    );
    // A young tmux server on the reused pid does not make it a pane either
    // way; the re-reads are bounded (each names another vanished parent).
    let mut t = Table::new();
    t.add(100, 50, AGENT);
    let hops: Vec<Option<Stat>> = (0..20)
        .map(|i| {
            let mut s = t.stat(100).unwrap();
            s.ppid = 51 + i;
            Some(s)
        })
        .collect();
    t.reread(100, hops);
    expect(
        &r.judge(&t, &t.seen(100), &Subject::Agent),
        VerdictKind::Protected,
        "ancestor pid 58 is not visible: cannot prove it is outside tmux",
        false,
    );
}

#[test]
fn a_terminal_outside_tmux_is_an_interactive_session() {
    let mut t = agent_table();
    t.row(100).st.tty = Tty::Dev(136 << 8 | 3);
    expect(
        &judged(&rules(&cfg()), &t, 100),
        VerdictKind::HasTty,
        "has terminal pts/3 outside tmux: an interactive session",
        false,
    );
}

#[test]
fn ide_launched_by_marker_or_stream_json_and_unreadable_argv_is_doubt() {
    let r = rules(&cfg());
    let mut t = agent_table();
    t.row(100).argv = Ok(vec![
        "/home/u/.vscode-server/bin/claude".into(),
        "-p".into(),
    ]);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::IdeLaunched,
        "argv carries an IDE marker (vscode-server)",
        false,
    );
    t.row(100).argv = Ok(
        "claude --output-format stream-json --input-format stream-json"
            .split(' ')
            .map(String::from)
            .collect(),
    );
    expect(
        &judged(&r, &t, 100),
        VerdictKind::IdeLaunched,
        "argv carries an IDE marker (stream-json input and output)",
        false,
    );
    // One of the two is not an IDE host.
    t.row(100).argv = Ok(vec![
        "claude".into(),
        "--output-format".into(),
        "stream-json".into(),
    ]);
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
    t.row(100).argv = Err("argv is empty (mid-exec, or a blanked title)".into());
    expect(
        &judged(&r, &t, 100),
        VerdictKind::IdeLaunched,
        "argv unreadable (argv is empty (mid-exec, or a blanked title)): cannot rule out an IDE launch",
        true,
    );
}

#[test]
fn younger_than_min_age() {
    let mut t = agent_table();
    t.row(100).st.age = Duration::from_millis(59_999);
    expect(
        &judged(&rules(&cfg()), &t, 100),
        VerdictKind::TooYoung,
        "age 59s < min_age 60s",
        false,
    );
    t.row(100).st.age = Duration::from_secs(60);
    assert_eq!(judged(&rules(&cfg()), &t, 100).verdict, VerdictKind::Orphan);
}

#[test]
fn workspaces_by_marker_and_by_root() {
    let marker = Config {
        workspace_marker: "mayor/town.json".into(),
        ..cfg()
    };
    let mut t = agent_table();
    expect(
        &judged(&rules(&marker), &t, 100),
        VerdictKind::OutsideWorkspace,
        "no mayor/town.json at or above cwd /w/p/src (in the process's own mount namespace)",
        false,
    );
    t.row(100).cwd = Err("cwd unreadable".into());
    expect(
        &judged(&rules(&marker), &t, 100),
        VerdictKind::OutsideWorkspace,
        "cwd unreadable: no workspace root",
        true,
    );
    // A marker and a root: the workspace found must be the root.
    t.row(100).cwd = Ok("/w/p/src".into());
    t.row(100).workspace = Some("/w".into());
    let rooted = Config {
        workspace_root: Some("/gt".into()),
        ..marker.clone()
    };
    let r = Rules::new(&rooted, Protection::default(), Some(place("/gt")));
    expect(
        &judged(&r, &t, 100),
        VerdictKind::OutsideWorkspace,
        "in workspace /w, not /gt",
        false,
    );
    let r = Rules::new(&rooted, Protection::default(), Some(place("/w")));
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
    // No marker, a root: "under" it by directory.
    let bare = Config {
        workspace_root: Some("/gt".into()),
        ..cfg()
    };
    let r = Rules::new(&bare, Protection::default(), None);
    expect(
        &judged(&r, &t, 100),
        VerdictKind::OutsideWorkspace,
        "workspace_root /gt cannot be opened (missing, or it did not answer in time)",
        false,
    );
    let r = Rules::new(&bare, Protection::default(), Some(place("/gt")));
    expect(
        &judged(&r, &t, 100),
        VerdictKind::OutsideWorkspace,
        "cwd /w/p/src is not under /gt",
        false,
    );
    let r = Rules::new(&bare, Protection::default(), Some(place("/w")));
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
    t.row(100).cwd = Err("cwd unreadable".into());
    expect(
        &judged(&r, &t, 100),
        VerdictKind::OutsideWorkspace,
        "cwd unreadable: cannot place it under workspace_root",
        true,
    );
}

// ---------------------------------------------------------------------
// argv0_match and names.

fn with_argv0(argv0_match: Argv0Match, names: &[&str]) -> Rules {
    rules(&Config {
        argv0_match,
        agent_names: names.iter().map(|s| s.to_string()).collect(),
        ..cfg()
    })
}

fn is_agent(r: &Rules, comm: &[u8], argv0: &str) -> bool {
    let mut t = Table::new();
    t.add(100, 1, "x").st.comm = Comm::new(comm);
    t.row(100).argv = Ok(vec![argv0.into()]);
    let st = t.stat(100).unwrap();
    r.is_agent(&t, &st)
}

#[test]
fn argv0_is_consulted_never_for_version_like_comms_or_always() {
    use Argv0Match::*;
    for (mode, comm, argv0, want) in [
        (Never, &b"2.1.3"[..], "/opt/prt-agent", false),
        (VersionLike, b"2.1.3", "/opt/prt-agent", true),
        (VersionLike, b"2.1.3", "/opt/node", false),
        (VersionLike, b"node", "/opt/prt-agent", false),
        (VersionLike, b"v2.1", "/opt/prt-agent", false),
        (VersionLike, b".1", "/opt/prt-agent", false),
        (Always, b"node", "/opt/prt-agent", true),
        (Always, b"node", "PRT-AGENT", true),
        (Always, b"node", "/opt/node", false),
        // The comm always counts, case-insensitively.
        (Never, b"PRT-Agent", "/opt/whatever", true),
        (VersionLike, b"prt-agent", "", true),
    ] {
        let r = with_argv0(mode, &[AGENT]);
        assert_eq!(is_agent(&r, comm, argv0), want, "{mode:?} {comm:?} {argv0}");
    }
}

#[test]
fn a_name_longer_than_15_bytes_matches_its_cut_confirmed_by_argv0() {
    use Argv0Match::*;
    let long = "prt-agent-long-name";
    let cut = &long.as_bytes()[..15];
    for (mode, comm, argv0, want) in [
        (VersionLike, cut, "/x/prt-agent-long-name", true),
        (VersionLike, cut, "/x/PRT-AGENT-LONG-NAME", true),
        (VersionLike, cut, "/x/prt-agent-long-other", false),
        (Always, cut, "/x/prt-agent-long-name", true),
        // Never: the comm alone, and a cut is not the name.
        (Never, cut, "/x/prt-agent-long-name", false),
        // Fewer than 15 bytes is not a cut.
        (VersionLike, &cut[..14], "/x/prt-agent-long-name", false),
    ] {
        let r = with_argv0(mode, &[long]);
        assert_eq!(is_agent(&r, comm, argv0), want, "{mode:?} {comm:?} {argv0}");
    }
    // A non-ASCII name cut mid-character: the kernel keeps the first 15
    // raw bytes, which are not valid UTF-8; compared as bytes it matches.
    let name = "prt-éééééééééé";
    let cut = &name.as_bytes()[..15];
    assert!(std::str::from_utf8(cut).is_err(), "cut mid-character");
    assert!(truncated_name(cut, name.as_bytes()));
    let r = with_argv0(VersionLike, &[name]);
    assert!(r.could_be_agent(&Comm::new(cut)));
    assert!(is_agent(&r, cut, &format!("/opt/{name}")));
    assert!(!is_agent(&r, cut, "/opt/prt-ééééééééééx"));
    // Lossy text of the cut (what a String would hold) does not match.
    let lossy = String::from_utf8_lossy(cut).into_owned();
    assert!(!truncated_name(lossy.as_bytes(), name.as_bytes()));
}

#[test]
fn argv0_is_read_only_where_procreap_may_read_memory() {
    let r = with_argv0(Argv0Match::Always, &[AGENT]);
    let mut t = Table::new();
    t.add(100, 1, "2.1.3").argv = Ok(vec!["/opt/prt-agent".into()]);
    t.row(100).uid = Some(euid().wrapping_add(1));
    let st = t.stat(100).unwrap();
    assert!(!r.is_agent(&t, &st));
    assert!(!r.agent_in_doubt(&t, &st));
    // Our own with argv unreadable this moment: in doubt.
    t.row(100).uid = Some(euid());
    t.row(100).argv = Err("it could not be read".into());
    assert!(!r.is_agent(&t, &st));
    assert!(r.agent_in_doubt(&t, &st));
    // A kernel thread is never an agent, whatever its name.
    let mut k = st.clone();
    k.kthread = true;
    k.comm = Comm::new(AGENT.as_bytes());
    assert!(!r.is_agent(&t, &k));
    assert!(!r.agent_in_doubt(&t, &k));
}

// ---------------------------------------------------------------------
// Marker processes (leaked descendants).

/// init; a reaper (pid 5, not an agent); marker process 200 in the group
/// of agent 100, which is gone; 200 reparented to the reaper.
fn leak_table() -> Table {
    let mut t = Table::new();
    t.add(5, 1, "systemd");
    t.marker(200, 5, 100);
    t
}

#[test]
fn who_is_a_marker_process() {
    let r = rules(&cfg());
    let mut t = leak_table();
    assert_eq!(
        r.subject(&t, &t.seen(200)),
        Some(Subject::Marker(MARK.into()))
    );
    // Not carrying it, or not readable: not a marker process.
    t.row(200).marker = Ok(None);
    assert_eq!(r.subject(&t, &t.seen(200)), None);
    t.row(200).marker = Err("Permission denied".into());
    assert_eq!(r.subject(&t, &t.seen(200)), None);
    // An agent carrying it is an agent.
    t.row(200).marker = Ok(Some(MARK.into()));
    t.row(200).st.comm = Comm::new(AGENT.as_bytes());
    assert_eq!(r.subject(&t, &t.seen(200)), Some(Subject::Agent));
    // Another user's environment is not read without all_users.
    t.row(200).st.comm = Comm::new(b"node");
    t.row(200).uid = Some(euid().wrapping_add(1));
    assert_eq!(r.subject(&t, &t.seen(200)), None);
    let all = rules(&Config {
        all_users: true,
        ..cfg()
    });
    assert_eq!(
        all.subject(&t, &t.seen(200)),
        Some(Subject::Marker(MARK.into()))
    );
    // No markers configured, or a kernel thread: nobody.
    let none = rules(&Config {
        leak_markers: Vec::new(),
        ..cfg()
    });
    t.row(200).uid = Some(euid());
    assert_eq!(none.subject(&t, &t.seen(200)), None);
    t.row(200).st.kthread = true;
    assert_eq!(r.subject(&t, &t.seen(200)), None);
}

#[test]
fn a_marker_process_whose_agent_is_gone_is_leaked() {
    let t = leak_table();
    expect(
        &judged(&rules(&cfg()), &t, 200),
        VerdictKind::Leaked,
        "carries PRT_LEAK_T=1; its process group leader pid 100 is gone; parent pid 5 \
         (systemd); no live agent above it or in its project /w/p; no terminal, not in tmux, \
         age 3600s",
        false,
    );
    let mut t = leak_table();
    t.row(200).st.ppid = 1;
    t.row(200).workspace = Some("/gt".into());
    let c = Config {
        workspace_marker: "mayor/town.json".into(),
        ..cfg()
    };
    expect(
        &judged(&rules(&c), &t, 200),
        VerdictKind::Leaked,
        "carries PRT_LEAK_T=1; its process group leader pid 100 is gone; its parent is pid 1; \
         no live agent above it or in its project /w/p; no terminal, not in tmux, age 3600s \
         in workspace /gt",
        false,
    );
}

#[test]
fn a_live_group_leader_keeps_a_marker_process() {
    let r = rules(&cfg());
    let mut t = leak_table();
    t.add(100, 1, AGENT);
    expect(
        &judged(&r, &t, 200),
        VerdictKind::LeaderAlive,
        "carries PRT_LEAK_T=1; its process group leader pid 100 (prt-agent) is alive",
        false,
    );
    // Any live leader, agent or not.
    t.row(100).st.comm = Comm::new(b"bash");
    expect(
        &judged(&r, &t, 200),
        VerdictKind::LeaderAlive,
        "carries PRT_LEAK_T=1; its process group leader pid 100 (bash) is alive",
        false,
    );
    // A defunct leader is gone.
    t.row(100).st.state = 'Z';
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
    // A leader pid reused by a younger process: gone.
    t.row(100).st.state = 'S';
    t.row(100).st.id.start_time = 200 * 100 + 1;
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
    // Leading its own group (its own session, say): its leader lives.
    t.row(200).st.pgrp = 200;
    expect(
        &judged(&r, &t, 200),
        VerdictKind::LeaderAlive,
        "carries PRT_LEAK_T=1; it leads its own process group (pgid 200): its leader is alive",
        false,
    );
    // A group the backend did not report.
    t.row(200).st.pgrp = 0;
    expect(
        &judged(&r, &t, 200),
        VerdictKind::LeaderAlive,
        "carries PRT_LEAK_T=1; its process group is unknown: cannot tell whether its leader lives",
        true,
    );
    // A leader that exists but cannot be read (hidepid, another user's).
    let mut t = leak_table();
    t.hidden.push(100);
    expect(
        &judged(&r, &t, 200),
        VerdictKind::LeaderAlive,
        "carries PRT_LEAK_T=1; its process group leader pid 100 exists but cannot be read: \
         cannot tell whether it lives on",
        true,
    );
}

#[test]
fn a_live_agent_above_or_in_the_same_project_keeps_a_marker_process() {
    let r = rules(&cfg());
    // An agent ancestor (the marker moved to a group of its own shell,
    // which is gone): alive.
    let mut t = Table::new();
    t.add(100, 1, AGENT).project = Some("/elsewhere".into());
    t.add(150, 100, "sh");
    t.marker(200, 150, 170);
    expect(
        &judged(&r, &t, 200),
        VerdictKind::AgentAlive,
        "carries PRT_LEAK_T=1; its ancestor agent pid 100 (prt-agent) is alive",
        false,
    );
    // A defunct agent above it does not count.
    t.row(100).st.state = 'Z';
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);

    // No agent above it, but one in the same project (from a subdirectory:
    // the project is the nearest .git above the cwd).
    let mut t = leak_table();
    t.add(300, 1, AGENT).cwd = Ok("/w/p".into());
    t.row(200).cwd = Ok("/w/p/web/dist".into());
    expect(
        &judged(&r, &t, 200),
        VerdictKind::AgentAlive,
        "carries PRT_LEAK_T=1; agent pid 300 (prt-agent) works in the same project /w/p",
        false,
    );
    // An agent of another user shields too (an agent is an agent).
    t.row(300).uid = Some(euid().wrapping_add(1));
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::AgentAlive);
    // Only in another worktree of the same town: no shield.
    t.row(300).project = Some("/w/p-worktree".into());
    t.row(300).cwd = Ok("/w/p-worktree".into());
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
    // Nor at the town root above the project.
    t.row(300).project = Some("/w".into());
    t.row(300).cwd = Ok("/w".into());
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
    // A defunct agent in the project does not count.
    t.row(300).project = Some("/w/p".into());
    t.row(300).cwd = Ok("/w/p".into());
    t.row(300).st.state = 'Z';
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
}

/// Outside any repository a project is just the cwd: an agent working in a
/// directory above a marker process's (no repository in between, short of
/// the root) may have started it there (the outside attack: `cd sub &&
/// server &`), so it shields it; an agent at the root shields nothing.
#[test]
fn outside_repositories_an_agent_above_shields_a_marker_process() {
    let r = rules(&cfg());
    let mut t = leak_table();
    t.row(200).cwd = Ok("/scratch/app/sub".into());
    t.row(200).project = None;
    let agent = t.add(300, 1, AGENT);
    agent.cwd = Ok("/scratch/app".into());
    agent.project = None;
    expect(
        &judged(&r, &t, 200),
        VerdictKind::AgentAlive,
        "carries PRT_LEAK_T=1; agent pid 300 (prt-agent) works in /scratch/app, above it on the \
         way to its project",
        false,
    );
    // An agent at the root: no shield.
    t.row(300).cwd = Ok("/".into());
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
    // A repository in between ends the way: its own project.
    t.row(200).project = Some("/scratch/app/sub".into());
    t.row(300).cwd = Ok("/scratch/app".into());
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
}

#[test]
fn a_project_that_cannot_be_read_is_doubt() {
    let r = rules(&cfg());
    let mut t = leak_table();
    t.row(200).cwd = Err("cwd unreadable".into());
    expect(
        &judged(&r, &t, 200),
        VerdictKind::AgentAlive,
        "carries PRT_LEAK_T=1; cwd unreadable: cannot tell its project",
        true,
    );
    // A live agent of ours whose project cannot be read this moment might
    // work in the same one.
    let mut t = leak_table();
    t.add(300, 1, AGENT).cwd = Err("cwd unreadable".into());
    expect(
        &judged(&r, &t, 200),
        VerdictKind::AgentAlive,
        "carries PRT_LEAK_T=1; agent pid 300 (prt-agent): cwd unreadable: cannot tell whether \
         it works in the same project",
        true,
    );
    // Another user's agent whose cwd is not ours to read: not a shield
    // (it would shield every marker process on a shared machine).
    t.row(300).uid = Some(euid().wrapping_add(1));
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
}

#[test]
fn marker_processes_meet_the_orphan_checks_in_rule_order() {
    let r = rules(&cfg());
    // Every check before the leader's: each one wins over a live leader.
    let mut t = leak_table();
    t.add(100, 1, AGENT);
    t.row(200).st.age = Duration::from_secs(5);
    expect(
        &judged(&r, &t, 200),
        VerdictKind::TooYoung,
        "carries PRT_LEAK_T=1; age 5s < min_age 60s",
        false,
    );
    t.row(200).argv = Ok(vec!["node".into(), "/x/.cursor-server/mcp.js".into()]);
    expect(
        &judged(&r, &t, 200),
        VerdictKind::IdeLaunched,
        "carries PRT_LEAK_T=1; argv carries an IDE marker (.cursor-server)",
        false,
    );
    t.row(200).st.tty = Tty::Dev(136 << 8 | 9);
    expect(
        &judged(&r, &t, 200),
        VerdictKind::HasTty,
        "carries PRT_LEAK_T=1; has terminal pts/9 outside tmux: an interactive session",
        false,
    );
    t.row(5).st.comm = Comm::new(b"tmux: server");
    expect(
        &judged(&r, &t, 200),
        VerdictKind::Protected,
        "carries PRT_LEAK_T=1; in tmux: pid 200 is a child of tmux server pid 5 (a pane, or a \
         job the server runs)",
        false,
    );
    let all = rules(&Config {
        all_users: true,
        users: vec![euid().wrapping_add(9)],
        ..cfg()
    });
    t.row(200).uid = Some(euid().wrapping_add(1));
    expect(
        &judged_as(&all, &t, 200, &Subject::Marker(MARK.into())),
        VerdictKind::OtherUser,
        &format!(
            "carries PRT_LEAK_T=1; owned by uid {}, not one of the users [{}]",
            euid().wrapping_add(1),
            euid().wrapping_add(9)
        ),
        false,
    );
    t.row(200).st.state = 'Z';
    expect(
        &judged_as(&r, &t, 200, &Subject::Marker(MARK.into())),
        VerdictKind::Defunct,
        "carries PRT_LEAK_T=1; already dead: parent pid 5 must reap it; signals cannot affect it",
        false,
    );
    // Outside the workspace: after too-young, before the leader.
    let mut t = leak_table();
    t.add(100, 1, AGENT);
    let c = Config {
        workspace_marker: "mayor/town.json".into(),
        ..cfg()
    };
    expect(
        &judged(&rules(&c), &t, 200),
        VerdictKind::OutsideWorkspace,
        "carries PRT_LEAK_T=1; no mayor/town.json at or above cwd /w/p/src (in the process's \
         own mount namespace)",
        false,
    );
}

#[test]
fn the_agent_above_a_marker_process_is_found_across_a_reparenting() {
    let r = rules(&cfg());
    // The marker was read below shell 150; 150 exits before it is read and
    // the marker is reparented to the agent (a subreaper).
    let mut t = Table::new();
    t.add(100, 1, AGENT).project = Some("/elsewhere".into());
    t.marker(200, 150, 170);
    let mut moved = t.stat(200).unwrap();
    moved.ppid = 100;
    t.reread(200, vec![Some(moved)]);
    expect(
        &judged(&r, &t, 200),
        VerdictKind::AgentAlive,
        "carries PRT_LEAK_T=1; its ancestor agent pid 100 (prt-agent) is alive",
        false,
    );
    // Its parent pid reused by a younger agent: that agent is not above it.
    let mut t = Table::new();
    t.add(5, 1, "systemd");
    t.add(150, 1, AGENT).st.id.start_time = 99_999;
    t.row(150).project = Some("/elsewhere".into());
    t.marker(200, 150, 170);
    let mut moved = t.stat(200).unwrap();
    moved.ppid = 5;
    t.reread(200, vec![Some(moved)]);
    assert_eq!(judged(&r, &t, 200).verdict, VerdictKind::Leaked);
}

// ---------------------------------------------------------------------
// kill_tree descendants.

/// Agent 100 (gone or alive per the test) with child 200.
fn tree_table() -> (Table, Subject) {
    let mut t = Table::new();
    t.add(100, 1, AGENT);
    t.add(200, 100, "node");
    let agent = t.stat(100).unwrap().id;
    (t, Subject::Descendant(agent))
}

#[test]
fn a_descendant_below_its_agent_may_be_signalled_with_it() {
    let r = rules(&cfg());
    let (mut t, d) = tree_table();
    expect(&judged_as(&r, &t, 200, &d), VerdictKind::Orphan, "", false);
    // The orphan-only checks do not apply to it: young, IDE argv, outside
    // the workspace.
    t.row(200).st.age = Duration::from_secs(1);
    t.row(200).argv = Ok(vec!["vscode-server".into()]);
    let c = Config {
        workspace_marker: "mayor/town.json".into(),
        ..cfg()
    };
    expect(
        &judged_as(&rules(&c), &t, 200, &d),
        VerdictKind::Orphan,
        "",
        false,
    );
    // Orphaned by its agent's death (reparented, the agent gone): still.
    let (mut t, d) = tree_table();
    t.row(200).st.ppid = 1;
    t.reread(100, vec![None]);
    expect(&judged_as(&r, &t, 200, &d), VerdictKind::Orphan, "", false);
}

#[test]
fn descendants_that_are_not_the_agents_to_take_along() {
    let r = rules(&cfg());
    let (mut t, d) = tree_table();
    t.row(200).st.id.start_time = 1;
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::Protected,
        "started before agent pid 100: not its descendant",
        false,
    );
    let (mut t, d) = tree_table();
    t.row(200).st.state = 'Z';
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::Defunct,
        "already dead: parent pid 100 must reap it; signals cannot affect it",
        false,
    );
    let (mut t, d) = tree_table();
    t.row(200).uid = Some(euid().wrapping_add(3));
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::OtherUser,
        &format!("owned by uid {}, not {}", euid().wrapping_add(3), euid()),
        false,
    );
    let (mut t, d) = tree_table();
    t.row(200).st.tty = Tty::Dev(4 << 8 | 1);
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::HasTty,
        "has terminal tty1 outside tmux: an interactive session",
        false,
    );
    let (mut t, d) = tree_table();
    t.row(200).st.comm = Comm::new(b"tmux: server");
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::Protected,
        "is a tmux server (\"tmux: server\")",
        false,
    );
    let (mut t, d) = tree_table();
    t.row(200).exe = Some("tmux".into());
    t.row(200).st.comm = Comm::new(b"srv");
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::Protected,
        "is a tmux server (\"srv\")",
        false,
    );
    let (mut t, d) = tree_table();
    t.row(200).st.comm = Comm::new(AGENT.as_bytes());
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::Protected,
        "an agent process: judged on its own, not as a descendant",
        false,
    );
    // Moved away from the live agent (reparented elsewhere, agent alive).
    let (mut t, d) = tree_table();
    t.row(200).st.ppid = 1;
    expect(
        &judged_as(&r, &t, 200, &d),
        VerdictKind::Protected,
        "no longer below agent pid 100",
        false,
    );
    // Its agent's pid taken by a younger process: the agent is gone.
    let (mut t, d) = tree_table();
    t.row(200).st.ppid = 1;
    let mut young = t.stat(100).unwrap();
    young.id.start_time = 99_999;
    t.reread(100, vec![Some(young)]);
    expect(&judged_as(&r, &t, 200, &d), VerdictKind::Orphan, "", false);
    // Below a pane: protected like anything else.
    let (t, d) = tree_table();
    let mut prot = Protection::default();
    prot.panes.insert(100, "tmux socket s".into());
    expect(
        &judged_as(&Rules::new(&cfg(), prot, None), &t, 200, &d),
        VerdictKind::Protected,
        "descendant of tmux pane process 100 (tmux socket s)",
        false,
    );
}

// ---------------------------------------------------------------------
// Issue 10 items 1 and the outside attack: what a tmux server is, the
// zombie scan's sight, the caller, nested pid namespaces, stream-json.

fn rules_with(cfg: &Config, prot: Protection) -> Rules {
    Rules::new(cfg, prot, None)
}

#[test]
fn the_zombie_scan_sees_only_real_tmux_servers() {
    let cfg = cfg();
    let r = rules(&cfg);
    // Nothing: blind.
    let t = agent_table();
    assert!(r.zombie_sight(&t).is_err());
    // A real server (exe tmux, any title) with a pane: a scan.
    let mut t = agent_table();
    t.add(10, 1, "tm: server").exe = Some("tmux".into());
    t.add(11, 10, "bash");
    assert_eq!(r.zombie_sight(&t), Ok(true));
    // The same server without panes: an empty list.
    let mut t = agent_table();
    t.add(10, 1, "tmux: server").exe = Some("tmux".into());
    assert_eq!(r.zombie_sight(&t), Ok(false));
    // A process merely named like tmux, with a child: not a server.
    let mut t = agent_table();
    t.add(10, 1, "tmux-something").exe = Some("tmux-something".into());
    t.add(11, 10, "bash");
    assert!(r.zombie_sight(&t).is_err(), "a name unlocks nothing");
    // A defunct server, a client on a terminal: no running server.
    let mut t = agent_table();
    let dead = t.add(10, 1, "tmux: server");
    dead.exe = Some("tmux".into());
    dead.st.state = 'Z';
    let client = t.add(12, 1, "tmux");
    client.exe = Some("tmux".into());
    client.st.tty = Tty::Dev(34816);
    assert!(r.zombie_sight(&t).is_err());
    // A live protected root is something to see by.
    let prot = Protection {
        roots: [(12, "protected_pids".to_string())].into(),
        ..Protection::default()
    };
    let mut t = agent_table();
    t.add(12, 1, "mayor");
    assert_eq!(rules_with(&cfg, prot).zombie_sight(&t), Ok(true));
}

#[test]
fn any_server_title_protects_even_cut_short() {
    let cfg = cfg();
    let r = rules(&cfg);
    for title in ["tm: server", "workplexer: ser", "workplexer:", "tmux"] {
        let mut t = Table::new();
        // A copy of tmux under another name: its exe says nothing.
        t.add(10, 1, title).exe = Some(title.split(':').next().unwrap().into());
        t.add(11, 10, "sh");
        t.add(100, 11, AGENT);
        let j = judged(&r, &t, 100);
        assert_eq!(j.verdict, VerdictKind::Protected, "{title}: {j:?}");
        assert!(
            j.reason.contains("child of tmux server pid 10"),
            "{}",
            j.reason
        );
    }
    // A client title is not a server's.
    let mut t = Table::new();
    t.add(10, 1, "tmux: client").exe = Some("tmux-client".into());
    t.add(100, 10, AGENT);
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
}

#[test]
fn the_caller_and_its_ancestors_are_protected() {
    let cfg = cfg();
    let prot = Protection {
        caller: [
            (100, "procreap's caller (pid 100)".to_string()),
            (
                50,
                "an ancestor (pid 50) of procreap's caller (pid 100)".to_string(),
            ),
        ]
        .into(),
        ..Protection::default()
    };
    let r = rules_with(&cfg, prot);
    let mut t = Table::new();
    t.add(50, 1, AGENT);
    t.add(100, 50, AGENT);
    let j = judged(&r, &t, 50);
    assert_eq!(j.verdict, VerdictKind::Protected);
    assert!(
        j.reason
            .contains("never signals the program that called it"),
        "{}",
        j.reason
    );
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Protected);
    // As a kill_tree descendant too.
    let seen = t.seen(100);
    let d = r.judge(&t, &seen, &Subject::Descendant(t.seen(50).st.id));
    assert_eq!(d.verdict, VerdictKind::Protected, "{d:?}");
}

#[test]
fn in_a_nested_pid_namespace_its_init_proves_nothing() {
    let cfg = cfg();
    let prot = Protection {
        nested_pid_ns: true,
        ..Protection::default()
    };
    let r = rules_with(&cfg, prot);
    let t = agent_table();
    let j = judged(&r, &t, 100);
    assert_eq!(j.verdict, VerdictKind::Protected, "{j:?}");
    assert!(
        j.reason
            .contains("pid 1 of this pid namespace was started from outside it"),
        "{}",
        j.reason
    );
    // In the initial namespace, pid 1 is the top.
    assert_eq!(judged(&rules(&cfg), &t, 100).verdict, VerdictKind::Orphan);
}

#[test]
fn stream_json_in_either_spelling_is_ide_launched() {
    let cfg = cfg();
    let r = rules(&cfg);
    for argv in [
        vec![
            "claude",
            "--output-format",
            "stream-json",
            "--input-format",
            "stream-json",
        ],
        vec![
            "claude",
            "--output-format=stream-json",
            "--input-format=stream-json",
        ],
        vec![
            "sh",
            "-c",
            "claude --input-format=stream-json --output-format stream-json",
        ],
    ] {
        let mut t = agent_table();
        t.row(100).argv = Ok(argv.iter().map(|s| s.to_string()).collect());
        let j = judged(&r, &t, 100);
        assert_eq!(j.verdict, VerdictKind::IdeLaunched, "{argv:?}: {j:?}");
    }
}

#[test]
fn a_leader_whose_main_thread_exited_is_alive() {
    let cfg = cfg();
    let r = rules(&cfg);
    let mut t = agent_table();
    let row = t.row(100);
    row.st.state = 'Z';
    row.st.threads = 3;
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Orphan);
    t.row(100).st.threads = 1;
    assert_eq!(judged(&r, &t, 100).verdict, VerdictKind::Defunct);
}
