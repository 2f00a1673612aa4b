//! The facts source: what the rules know about processes, read lazily and
//! at most once per snapshot. Phase 1 names every process (one `comm` read
//! each, or the name from a stat pass); phase 2 reads the rest — status
//! line, owner, executable, argv, environment, cwd, workspace and project —
//! only for the processes a rule asks about. The rules see this through the
//! [`Facts`] trait, which tests implement with a table.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::OnceCell;

use crate::config::{Backend, Config};
use crate::error::{Error, Result};
use crate::process::{Comm, Stat};

/// Which backend reads the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Proc,
    Ps,
}

impl Source {
    /// `proc` or `ps`: the start-time units of this backend's identities.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::Proc => "proc",
            Source::Ps => "ps",
        }
    }

    pub(crate) fn for_config(b: Backend) -> Result<Source> {
        match b {
            Backend::Proc if cfg!(target_os = "linux") => Ok(Source::Proc),
            Backend::Proc => Err(Error::Unsupported("the /proc backend needs Linux".into())),
            Backend::Ps if cfg!(unix) => Ok(Source::Ps),
            Backend::Ps => Err(Error::Unsupported("the ps backend needs a Unix".into())),
            Backend::Auto if cfg!(target_os = "linux") => Ok(Source::Proc),
            Backend::Auto if cfg!(unix) => Ok(Source::Ps),
            Backend::Auto => Err(Error::Unsupported("no process-table backend".into())),
        }
    }
}

/// A process's status line and owner, as one read gives them. The owner
/// is the one /proc shows: root there may stand for another user (a
/// process that is not dumpable), and a pass over the whole table leaves it
/// unread (`None`); [`Facts::uid`] reads or confirms it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub(crate) st: Stat,
    pub(crate) uid: Option<u32>,
}

/// argv as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Argv {
    /// The arguments (lossy UTF-8).
    pub(crate) args: Vec<String>,
    /// Only the first part was read (a very long command line).
    pub(crate) truncated: bool,
}

pub(crate) use crate::workspace::Place;

/// What the rules may ask about processes. Every answer is for the moment
/// it was first read, then kept: a rule sees one consistent view of each
/// process (a re-read is explicit: [`Facts::restat`]).
pub(crate) trait Facts {
    /// Every process's pid and name, pids ascending; `None` when the table
    /// cannot be listed.
    fn listed(&self) -> Option<&[(i32, Comm)]>;
    /// Reads every process's status line once, uncached (a pass over the
    /// whole table); the owner is left for [`Facts::uid`].
    fn each_seen(&self, f: &mut dyn FnMut(&Seen));
    /// The status line of `pid`.
    fn stat(&self, pid: i32) -> Option<Stat>;
    /// `pid`'s status line read again (an ancestry changing while it is
    /// walked); replaces the kept one.
    fn restat(&self, pid: i32) -> Option<Stat>;
    /// Whether some process has this pid, asked of the kernel rather than
    /// `/proc` (which can hide a process: `hidepid`, another user's);
    /// true when that cannot be told.
    fn exists(&self, pid: i32) -> bool;
    /// The owner's uid (for a process /proc shows as root's, confirmed from
    /// its status: a non-dumpable process of another user looks root's).
    fn uid(&self, pid: i32) -> Option<u32>;
    /// The basename of the executable, where it can be read.
    fn exe_base(&self, pid: i32) -> Option<String>;
    /// Direct children.
    fn children(&self, pid: i32) -> Vec<i32>;
    /// argv; `Err` says why it could not be read.
    fn argv(&self, pid: i32) -> std::result::Result<Arc<Argv>, String>;
    /// The first leak marker in the environment; `Err` says why it could not
    /// be read.
    fn environ_marker(&self, pid: i32) -> std::result::Result<Option<String>, String>;
    /// The workspace root (the nearest directory at or above the cwd
    /// holding the workspace marker), judged in the process's own mount
    /// namespace; `Err` when the cwd cannot be read.
    fn workspace(&self, pid: i32) -> std::result::Result<Option<Place>, String>;
    /// Whether the cwd lies at or below `root`; `Err` when it cannot be read.
    fn under(&self, pid: i32, root: &Place) -> std::result::Result<bool, String>;
    /// The cwd for display.
    fn cwd_display(&self, pid: i32) -> Option<String>;
    /// The terminal its standard streams (fds 0–2) are on, when that
    /// terminal is still open (a closed one reads `… (deleted)`); `Err`
    /// when the streams cannot be read.
    fn live_terminal(&self, pid: i32) -> std::result::Result<Option<String>, String>;
    /// The project: the nearest directory at or above the cwd holding a
    /// `.git` entry, or the cwd itself.
    fn project(&self, pid: i32) -> std::result::Result<Place, String>;
    /// The directories from the cwd up to its project (both included), or,
    /// with no project above, up to (not including) the process's root.
    fn ascent(&self, pid: i32) -> std::result::Result<Vec<Place>, String>;
    /// Whether it hosts terminal sessions others attach to: holds a pty
    /// master and listens on a unix socket (tmux under any name, screen);
    /// `Err` when its descriptors cannot be read.
    fn session_server(&self, pid: i32) -> std::result::Result<bool, String>;
    /// A cell the rules keep the live agents of this view in.
    fn agents_memo(&self) -> &OnceCell<Vec<i32>>;
}

/// Facts read only for processes that need them.
#[derive(Default)]
struct Lazy {
    seen: OnceCell<Option<Seen>>,
    /// The owner confirmed from the status where /proc says root.
    owner: OnceCell<Option<u32>>,
    exe: OnceCell<Option<String>>,
    session_server: OnceCell<std::result::Result<bool, String>>,
    children: OnceCell<Vec<i32>>,
    argv: OnceCell<std::result::Result<Arc<Argv>, String>>,
    marker: OnceCell<std::result::Result<Option<String>, String>>,
    cwd: OnceCell<Option<String>>,
    workspace: OnceCell<std::result::Result<Option<Place>, String>>,
    project: OnceCell<std::result::Result<(Place, Vec<Place>), String>>,
}

/// The process table of one scan (or of one re-verification).
pub(crate) struct Snapshot {
    source: Source,
    cfg: Config,
    euid: u32,
    #[cfg(target_os = "linux")]
    proc_: OnceCell<Option<crate::procfs::Proc>>,
    listing: OnceCell<Result<Vec<(i32, Comm)>>>,
    lazy: RefCell<HashMap<i32, Arc<Lazy>>>,
    /// The full ps table (ps backend): every row at once.
    ps_rows: OnceCell<Option<HashMap<i32, Seen>>>,
    /// `ps -o args` output, read once for the whole table (ps backend).
    ps_args: OnceCell<HashMap<i32, String>>,
    /// parent → children from one pass, where the kernel has no children files.
    children_map: OnceCell<HashMap<i32, Vec<i32>>>,
    agents: Arc<OnceCell<Vec<i32>>>,
}

/// Why a workspace or project cannot be judged: the cwd could not be
/// opened (read right after the failed open, on the thread that made it).
fn cwd_unreadable() -> String {
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => {
            format!("cwd unreadable: procreap is out of file descriptors ({e})")
        }
        Some(0) | None => "cwd unreadable".into(),
        Some(_) => format!("cwd unreadable ({e})"),
    }
}

/// The reason a memory read gives when it has nothing to say.
const ARGV_EMPTY: &str = "argv is empty (mid-exec, or a blanked title)";

impl Snapshot {
    /// A view of the process table under `cfg`; nothing is read until a
    /// rule asks, except that the `/proc` backend checks its pid namespace.
    pub(crate) fn new(cfg: &Config) -> Result<Snapshot> {
        Self::sharing(cfg, Arc::default())
    }

    /// A fresh view that shares its census of live agents with other views
    /// of the same call (`agents`): the re-verifications of one cleanup
    /// call list the table once, not once per signal.
    pub(crate) fn sharing(cfg: &Config, agents: Arc<OnceCell<Vec<i32>>>) -> Result<Snapshot> {
        let source = Source::for_config(cfg.backend)?;
        let snap = Snapshot {
            source,
            cfg: cfg.clone(),
            euid: crate::config::euid(),
            #[cfg(target_os = "linux")]
            proc_: OnceCell::new(),
            listing: OnceCell::new(),
            lazy: RefCell::new(HashMap::new()),
            ps_rows: OnceCell::new(),
            ps_args: OnceCell::new(),
            children_map: OnceCell::new(),
            agents,
        };
        if source == Source::Proc {
            #[cfg(target_os = "linux")]
            {
                let p = crate::procfs::Proc::open()?;
                let _ = snap.proc_.set(Some(p));
            }
        }
        Ok(snap)
    }

    pub(crate) fn source(&self) -> Source {
        self.source
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.cfg.subprocess_timeout
    }

    /// Phase 1 (every process's name), or why the table cannot be listed:
    /// a scan that cannot see the table fails rather than find nothing.
    pub(crate) fn require_listing(&self) -> Result<()> {
        match self.listing_result() {
            Ok(_) => Ok(()),
            Err(e) => Err(e.duplicate()),
        }
    }

    fn listing_result(&self) -> &Result<Vec<(i32, Comm)>> {
        if self.source == Source::Ps {
            // Reading the ps table sets the listing (or its error).
            let _ = self.ps_table();
        }
        self.listing.get_or_init(|| match self.source {
            Source::Proc => {
                #[cfg(target_os = "linux")]
                {
                    match self.procfs() {
                        Some(p) => p.list(),
                        None => crate::procfs::Proc::open().map(|_| Vec::new()),
                    }
                }
                #[cfg(not(target_os = "linux"))]
                Err(Error::Unsupported("the /proc backend needs Linux".into()))
            }
            Source::Ps => Err(Error::Command("the ps listing failed".into())),
        })
    }

    #[cfg(target_os = "linux")]
    fn procfs(&self) -> Option<&crate::procfs::Proc> {
        self.proc_
            .get_or_init(|| crate::procfs::Proc::open().ok())
            .as_ref()
    }

    fn ps_table(&self) -> Option<&HashMap<i32, Seen>> {
        self.ps_rows
            .get_or_init(|| {
                let rows = match crate::ps::list(self.timeout()) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = self.listing.set(Err(e));
                        return None;
                    }
                };
                let mut listing: Vec<(i32, Comm)> =
                    rows.iter().map(|(s, _)| (s.id.pid, s.comm)).collect();
                listing.sort_unstable_by_key(|e| e.0);
                let _ = self.listing.set(Ok(listing));
                Some(
                    rows.into_iter()
                        .map(|(st, uid)| (st.id.pid, Seen { st, uid: Some(uid) }))
                        .collect(),
                )
            })
            .as_ref()
    }

    fn lazy(&self, pid: i32) -> Arc<Lazy> {
        self.lazy.borrow_mut().entry(pid).or_default().clone()
    }

    /// One process read now, uncached.
    fn read_seen(&self, pid: i32) -> Option<Seen> {
        match self.source {
            Source::Proc => {
                #[cfg(target_os = "linux")]
                {
                    let (st, uid) = self.procfs()?.stat(pid)?;
                    Some(Seen { st, uid })
                }
                #[cfg(not(target_os = "linux"))]
                None
            }
            Source::Ps => {
                let (st, uid) = crate::ps::read(pid, self.timeout())?;
                Some(Seen { st, uid })
            }
        }
    }

    fn seen(&self, pid: i32) -> Option<Seen> {
        if self.source == Source::Ps {
            if let Some(t) = self.ps_table() {
                return t.get(&pid).cloned();
            }
        }
        self.lazy(pid)
            .seen
            .get_or_init(|| self.read_seen(pid))
            .clone()
    }

    /// `pid` and every descendant, parents before children.
    pub(crate) fn descendants(&self, pid: i32) -> Vec<i32> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<i32> = self.children(pid).into_iter().rev().collect();
        while let Some(p) = stack.pop() {
            if p == pid || !seen.insert(p) || out.len() >= 65_536 {
                continue;
            }
            out.push(p);
            stack.extend(self.children(p).into_iter().rev());
        }
        out
    }

    fn full_children_map(&self) -> &HashMap<i32, Vec<i32>> {
        self.children_map.get_or_init(|| {
            let mut map: HashMap<i32, Vec<i32>> = HashMap::new();
            self.each_seen(&mut |s| map.entry(s.st.ppid).or_default().push(s.st.id.pid));
            map
        })
    }

    fn project_and_ascent(&self, pid: i32) -> std::result::Result<(Place, Vec<Place>), String> {
        self.lazy(pid)
            .project
            .get_or_init(|| {
                self.on_cwd(pid, |cwd| {
                    cwd.ascent().ok_or_else(|| {
                        format!("the walk up from cwd {} failed", cwd.path().display())
                    })
                })
            })
            .clone()
    }

    /// Runs `work` on the process's cwd, opened where the process lives.
    /// On Linux this runs on a reader thread within `subprocess_timeout`:
    /// the walk up from a cwd on a hung FUSE or NFS mount blocks in the
    /// kernel, and a scan must not.
    fn on_cwd<T, W>(&self, pid: i32, work: W) -> std::result::Result<T, String>
    where
        T: Send + 'static,
        W: Fn(&crate::workspace::Cwd) -> std::result::Result<T, String> + Clone + Send + 'static,
    {
        #[cfg(target_os = "linux")]
        if self.source == Source::Proc {
            use crate::reader::{bounded, Fact, Why};
            let start = self.stat(pid).ok_or("the process is gone")?.id.start_time;
            let walk = move || {
                let cwd =
                    crate::workspace::open_cwd(pid).ok_or_else(|| Why::Failed(cwd_unreadable()))?;
                work(&cwd).map_err(Why::Failed)
            };
            return bounded(Fact::Cwd, pid, start, self.timeout(), walk).map_err(|e| match e.why {
                Why::Failed(why) => why,
                _ => e.to_string(),
            });
        }
        let cwd = match self.source {
            Source::Proc => crate::workspace::open_cwd(pid).ok_or_else(cwd_unreadable)?,
            Source::Ps => {
                // The path lsof gives, walked within the time limit too.
                let path = crate::ps::cwd(pid, self.timeout())?;
                let at = path.clone();
                return crate::within(&path, self.timeout(), move || {
                    let cwd = crate::workspace::Cwd::from_path(&at).ok_or_else(cwd_unreadable)?;
                    work(&cwd)
                })
                .map_err(|why| format!("cwd {}: {why}", path.display()))?;
            }
        };
        work(&cwd)
    }

    fn read_argv(&self, pid: i32) -> std::result::Result<Arc<Argv>, String> {
        match self.source {
            Source::Proc => {
                #[cfg(target_os = "linux")]
                {
                    let st = self.stat(pid).ok_or("the process is gone")?;
                    argv_of(crate::reader::argv(pid, st.id.start_time, self.timeout()))
                }
                #[cfg(not(target_os = "linux"))]
                Err("no /proc here".into())
            }
            Source::Ps => {
                let all = self
                    .ps_args
                    .get_or_init(|| crate::ps::args(self.timeout()).unwrap_or_default());
                match all.get(&pid) {
                    Some(s) if !s.trim().is_empty() => Ok(Arc::new(Argv {
                        args: s.split_whitespace().map(String::from).collect(),
                        truncated: false,
                    })),
                    Some(_) => Err(ARGV_EMPTY.into()),
                    None => Err("ps did not list its arguments".into()),
                }
            }
        }
    }

    /// Reads the argv of `seens` in one batch (each within the time limit),
    /// keeping the answers for [`Facts::argv`]: one hand-off to a reader
    /// thread for them all rather than one per process.
    pub(crate) fn prefetch_argv(&self, seens: &[&Seen]) {
        #[cfg(target_os = "linux")]
        self.prefetch(
            seens.iter().copied(),
            |l| &l.argv,
            |todo| {
                crate::reader::argv_many(todo, self.timeout())
                    .into_iter()
                    .map(argv_of)
                    .collect()
            },
        );
        #[cfg(not(target_os = "linux"))]
        let _ = seens;
    }

    /// Reads the environments of `seens` in one batch (each within the time
    /// limit), keeping the answers for [`Facts::environ_marker`].
    pub(crate) fn prefetch_markers(&self, seens: &[Seen]) {
        if self.cfg.leak_markers.is_empty() {
            return;
        }
        #[cfg(target_os = "linux")]
        self.prefetch(
            seens.iter(),
            |l| &l.marker,
            |todo| {
                let markers = &self.cfg.leak_markers;
                crate::reader::environ_markers_many(todo, markers, self.timeout())
                    .into_iter()
                    .map(|r| self.marker_of(r))
                    .collect()
            },
        );
        #[cfg(not(target_os = "linux"))]
        let _ = seens;
    }

    /// Reads one fact (kept in `cell`) of each of `seens` that does not
    /// have it yet, in one batch: `read` answers for the (pid, start time)
    /// pairs, in order.
    #[cfg(target_os = "linux")]
    fn prefetch<'s, T>(
        &self,
        seens: impl Iterator<Item = &'s Seen>,
        cell: fn(&Lazy) -> &OnceCell<T>,
        read: impl FnOnce(&[(i32, u64)]) -> Vec<T>,
    ) {
        if self.source != Source::Proc {
            return;
        }
        let todo: Vec<(i32, u64)> = seens
            .filter(|s| cell(&self.lazy(s.st.id.pid)).get().is_none())
            .map(|s| (s.st.id.pid, s.st.id.start_time))
            .collect();
        if todo.is_empty() {
            return;
        }
        for ((pid, _), v) in todo.iter().zip(read(&todo)) {
            let _ = cell(&self.lazy(*pid)).set(v);
        }
    }

    #[cfg(target_os = "linux")]
    fn marker_of(
        &self,
        r: std::result::Result<crate::reader::EnvMarker, crate::reader::Unreadable>,
    ) -> std::result::Result<Option<String>, String> {
        match r {
            Ok(m) => Ok(m.marker.and_then(|i| self.cfg.leak_markers.get(i).cloned())),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Facts for Snapshot {
    fn listed(&self) -> Option<&[(i32, Comm)]> {
        self.listing_result().as_deref().ok()
    }

    fn each_seen(&self, f: &mut dyn FnMut(&Seen)) {
        match self.source {
            Source::Proc => {
                #[cfg(target_os = "linux")]
                {
                    let Some(p) = self.procfs() else { return };
                    let pids = match self.listing.get().and_then(|l| l.as_ref().ok()) {
                        Some(l) => l.iter().map(|e| e.0).collect(),
                        None => p.pids().unwrap_or_default(),
                    };
                    let fill = self.listing.get().is_none();
                    let mut names = Vec::new();
                    for pid in pids {
                        // The owner is read later, only for processes the
                        // cheaper checks leave (`Rules::owner`).
                        if let Some(st) = p.stat_line(pid) {
                            if fill {
                                names.push((pid, st.comm));
                            }
                            f(&Seen { st, uid: None });
                        }
                    }
                    if fill {
                        let _ = self.listing.set(Ok(names));
                    }
                }
            }
            Source::Ps => {
                if let Some(t) = self.ps_table() {
                    let mut rows: Vec<&Seen> = t.values().collect();
                    rows.sort_unstable_by_key(|s| s.st.id.pid);
                    rows.into_iter().for_each(f);
                }
            }
        }
    }

    fn stat(&self, pid: i32) -> Option<Stat> {
        self.seen(pid).map(|s| s.st)
    }

    fn restat(&self, pid: i32) -> Option<Stat> {
        let fresh = self.read_seen(pid);
        let l = Arc::new(Lazy::default());
        let _ = l.seen.set(fresh.clone());
        self.lazy.borrow_mut().insert(pid, l);
        fresh.map(|s| s.st)
    }

    fn exists(&self, pid: i32) -> bool {
        if self.stat(pid).is_some() {
            return true;
        }
        match self.source {
            // Signal 0 sends nothing: the kernel only says whether the pid
            // is taken (EPERM: by a process we may not signal).
            #[cfg(unix)]
            Source::Proc => !matches!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
                Err(nix::errno::Errno::ESRCH)
            ),
            _ => false,
        }
    }

    fn uid(&self, pid: i32) -> Option<u32> {
        let seen = self.seen(pid)?;
        if seen.uid != Some(0) || seen.st.kthread || self.source != Source::Proc {
            return seen.uid;
        }
        *self.lazy(pid).owner.get_or_init(|| {
            #[cfg(target_os = "linux")]
            {
                self.procfs()?.status_euid(pid)
            }
            #[cfg(not(target_os = "linux"))]
            None
        })
    }

    fn exe_base(&self, pid: i32) -> Option<String> {
        self.lazy(pid)
            .exe
            .get_or_init(|| match self.source {
                Source::Proc => {
                    #[cfg(target_os = "linux")]
                    {
                        self.procfs()?.exe_base(pid)
                    }
                    #[cfg(not(target_os = "linux"))]
                    None
                }
                Source::Ps => {
                    let comm = self.stat(pid).map(|s| s.comm.lossy());
                    crate::ps::exe_base(pid, comm.as_deref())
                }
            })
            .clone()
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        self.lazy(pid)
            .children
            .get_or_init(|| {
                #[cfg(target_os = "linux")]
                if self.source == Source::Proc {
                    if let Some(kids) = self.procfs().and_then(|p| p.children(pid)) {
                        return kids;
                    }
                }
                self.full_children_map()
                    .get(&pid)
                    .cloned()
                    .unwrap_or_default()
            })
            .clone()
    }

    fn argv(&self, pid: i32) -> std::result::Result<Arc<Argv>, String> {
        self.lazy(pid)
            .argv
            .get_or_init(|| self.read_argv(pid))
            .clone()
    }

    fn environ_marker(&self, pid: i32) -> std::result::Result<Option<String>, String> {
        self.lazy(pid)
            .marker
            .get_or_init(|| {
                if self.cfg.leak_markers.is_empty() {
                    return Ok(None);
                }
                match self.source {
                    Source::Proc => {
                        #[cfg(target_os = "linux")]
                        {
                            let st = self.stat(pid).ok_or("the process is gone")?;
                            let markers = &self.cfg.leak_markers;
                            let limit = self.timeout();
                            let r = crate::reader::environ_marker(
                                pid,
                                st.id.start_time,
                                markers,
                                limit,
                            );
                            self.marker_of(r)
                        }
                        #[cfg(not(target_os = "linux"))]
                        Err("no /proc here".into())
                    }
                    Source::Ps => Err("the ps backend cannot read environments".into()),
                }
            })
            .clone()
    }

    fn workspace(&self, pid: i32) -> std::result::Result<Option<Place>, String> {
        self.lazy(pid)
            .workspace
            .get_or_init(|| {
                let proc_uid = self.uid(pid).ok_or_else(|| "owner unknown".to_string())?;
                // The marker must belong to us, root, or the process's user.
                let owners = [self.euid, 0, proc_uid];
                let marker = self.cfg.workspace_marker.clone();
                self.on_cwd(
                    pid,
                    move |cwd| Ok(cwd.find_root(&marker, &owners, proc_uid)),
                )
            })
            .clone()
    }

    fn under(&self, pid: i32, root: &Place) -> std::result::Result<bool, String> {
        let root = root.clone();
        self.on_cwd(pid, move |cwd| Ok(cwd.is_under(&root)))
    }

    fn live_terminal(&self, pid: i32) -> std::result::Result<Option<String>, String> {
        match self.source {
            Source::Proc => {
                #[cfg(target_os = "linux")]
                {
                    match self.procfs() {
                        Some(p) => p.live_terminal(pid),
                        None => Err("no /proc handle".into()),
                    }
                }
                #[cfg(not(target_os = "linux"))]
                {
                    let _ = pid;
                    Err("no /proc here".into())
                }
            }
            Source::Ps => {
                // Linux's lsof names a stream by its path; where /proc can
                // tell, the device number decides (as for the executable),
                // whatever the path says, and lsof is not asked.
                #[cfg(target_os = "linux")]
                if let Some(Ok(found)) = self.procfs().map(|p| p.live_terminal(pid)) {
                    return Ok(found);
                }
                crate::ps::live_terminal(pid, self.timeout())
            }
        }
    }

    fn session_server(&self, pid: i32) -> std::result::Result<bool, String> {
        self.lazy(pid)
            .session_server
            .get_or_init(|| match self.source {
                Source::Proc => {
                    #[cfg(target_os = "linux")]
                    {
                        match self.procfs() {
                            Some(p) => p.session_server(pid),
                            None => Err("no /proc handle".into()),
                        }
                    }
                    #[cfg(not(target_os = "linux"))]
                    Err("no /proc here".into())
                }
                Source::Ps => crate::ps::session_server(pid, self.timeout()),
            })
            .clone()
    }

    fn cwd_display(&self, pid: i32) -> Option<String> {
        self.lazy(pid)
            .cwd
            .get_or_init(|| {
                self.on_cwd(pid, |c| Ok(c.path().display().to_string()))
                    .ok()
            })
            .clone()
    }

    fn project(&self, pid: i32) -> std::result::Result<Place, String> {
        self.project_and_ascent(pid).map(|(p, _)| p)
    }

    fn ascent(&self, pid: i32) -> std::result::Result<Vec<Place>, String> {
        self.project_and_ascent(pid).map(|(_, a)| a)
    }

    fn agents_memo(&self) -> &OnceCell<Vec<i32>> {
        &self.agents
    }
}

/// argv as the facts keep it, from what the bounded reader answered.
#[cfg(target_os = "linux")]
fn argv_of(
    r: std::result::Result<crate::reader::Argv, crate::reader::Unreadable>,
) -> std::result::Result<Arc<Argv>, String> {
    r.map(|a| {
        Arc::new(Argv {
            args: a.args,
            truncated: a.truncated,
        })
    })
    .map_err(|e| e.to_string())
}

/// One process's status line and owner, read now (for the last checks
/// right before a signal, and for waiting on an exit).
pub(crate) fn read_now(source: Source, timeout: Duration, pid: i32) -> Option<(Stat, Option<u32>)> {
    match source {
        Source::Proc => crate::procfs::read(pid),
        Source::Ps => crate::ps::read(pid, timeout),
    }
}

pub(crate) use crate::workspace::place_of;

/// Why a SIGKILLed process is still alive, for the `unkillable` report.
pub(crate) fn unkillable_reason(source: Source, p: &Stat) -> String {
    if p.state == 'D' || p.state == 'U' {
        return "in uninterruptible sleep (state D): it dies when its I/O returns".into();
    }
    if matches!(source, Source::Proc) {
        if let Some(tracer) = crate::procfs::tracer(p.id.pid).filter(|t| *t != 0) {
            return format!("traced by pid {tracer}, which holds it");
        }
    }
    format!("still alive in state {} after SIGKILL", p.state)
}
