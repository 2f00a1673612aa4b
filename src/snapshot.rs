//! The process table, read once per scan: one `/proc/PID/stat` read per
//! process on Linux, or one `ps` listing on other Unixes. Facts that cost more
//! (argv, cwd, owner, tracer) are read lazily, only for the processes that
//! need them, and cached for the life of the snapshot.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use once_cell::unsync::OnceCell;

use crate::config::Backend;
use crate::error::{Error, Result};

/// A process identity: the pid plus its start time. Two processes with the
/// same pid and different start times are different processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// Process id.
    pub pid: i32,
    /// Start time: clock ticks since boot with `/proc`; a start-time key in
    /// seconds with the `ps` backend.
    pub start_time: u64,
}

/// The controlling terminal as the backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tty {
    /// No controlling terminal.
    None,
    /// A device number from `/proc/PID/stat` (`tty_nr`).
    Dev(u32),
    /// A name from `ps` (`pts/3`, `s024`).
    Name(String),
}

impl Tty {
    /// The terminal's name as `ps` prints it, or `None` without one.
    pub fn name(&self) -> Option<String> {
        match self {
            Tty::None => None,
            Tty::Name(n) => Some(n.clone()),
            Tty::Dev(dev) => {
                let major = (dev >> 8) & 0xfff;
                let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
                Some(match major {
                    136..=143 => format!("pts/{}", minor + (major - 136) * 256),
                    4 if minor < 64 => format!("tty{minor}"),
                    4 => format!("ttyS{}", minor - 64),
                    5 if minor == 0 => "tty".into(),
                    _ => format!("tty({major},{minor})"),
                })
            }
        }
    }
}

/// One row of the process table: what a single stat read (or ps line) gives.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Identity (pid + start time).
    pub id: Identity,
    /// Parent pid (0 for none).
    pub ppid: i32,
    /// The kernel's name for it (`comm`, at most 15 bytes on Linux).
    pub name: String,
    /// Unix state letter (`R`, `S`, `D`, `T`, `t`, `Z`, …).
    pub state: char,
    /// Controlling terminal.
    pub tty: Tty,
    /// Age when the snapshot was taken.
    pub age: Duration,
    /// A kernel thread: it has no argv and is never an agent.
    pub kthread: bool,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// Owner uid when the listing already gave it (ps backend).
    pub(crate) listed_uid: Option<u32>,
    /// Where argv lives in its memory, when the kernel shows it (`/proc`).
    pub(crate) args: (u64, u64),
}

impl Proc {
    /// True for Unix state `Z`/`X`: dead, waiting for its parent to reap it.
    pub fn is_defunct(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Facts read only for processes that need them.
#[derive(Default)]
struct Lazy {
    argv: OnceCell<Option<Vec<String>>>,
    /// argv[0] alone: read for every process when `match_argv0` is on, so it
    /// is a short bounded read, not the whole command line.
    argv0: OnceCell<Option<String>>,
    cwd: OnceCell<Option<PathBuf>>,
    uid: OnceCell<Option<u32>>,
}

/// Parsed fields of one `/proc/PID/stat` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatLine {
    pub pid: i32,
    pub name: String,
    pub state: char,
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    pub tty_nr: u32,
    pub flags: u64,
    pub start_time: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
    /// Where argv lives in the process's memory (fields 48–49; 0 when the
    /// kernel hides them from us or is older than 3.5).
    pub arg_start: u64,
    pub arg_end: u64,
}

fn num_u64(f: &[u8]) -> Option<u64> {
    if f.is_empty() || f.len() > 20 {
        return None;
    }
    f.iter().try_fold(0u64, |v, &b| {
        b.is_ascii_digit()
            .then_some(())
            .and_then(|_| v.checked_mul(10)?.checked_add(u64::from(b - b'0')))
    })
}

fn num_i64(f: &[u8]) -> Option<i64> {
    match f.split_first() {
        Some((b'-', digits)) => num_u64(digits)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v),
        _ => num_u64(f).and_then(|v| i64::try_from(v).ok()),
    }
}

/// Parses one `/proc/PID/stat` line. The name sits between the first `(` and
/// the last `)`: it may hold spaces, parentheses, newlines and non-UTF-8
/// bytes. Returns `None` for anything malformed. Byte-level: it runs once
/// per process per scan.
pub fn parse_stat(buf: &[u8]) -> Option<StatLine> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = num_i64(buf[..open].trim_ascii())
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p > 0)?;
    let mut f = buf[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = match f.next()? {
        [c] if c.is_ascii_alphabetic() => char::from(*c),
        _ => return None,
    };
    let ppid = num_i64(f.next()?)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p >= 0)?;
    let pgrp = num_i64(f.next()?).and_then(|p| i32::try_from(p).ok())?;
    let session = num_i64(f.next()?).and_then(|p| i32::try_from(p).ok())?;
    let tty_nr = num_i64(f.next()?)?;
    let _tpgid = f.next()?;
    let flags = num_u64(f.next()?)?;
    // Fields 10..=21 (minflt … itrealvalue), then starttime (field 22).
    let start_time = num_u64(f.nth(12)?)?;
    // vsize (23), rss (24).
    let _vsize = f.next();
    let rss_pages = f.next().and_then(num_i64).map_or(0, |r| r.max(0) as u64);
    // Fields 25..=47, then arg_start and arg_end (48, 49).
    let arg_start = f.nth(23).and_then(num_u64).unwrap_or(0);
    let arg_end = f.next().and_then(num_u64).unwrap_or(0);
    Some(StatLine {
        pid,
        name: String::from_utf8_lossy(&buf[open + 1..close]).into_owned(),
        state,
        ppid,
        pgrp,
        session,
        tty_nr: tty_nr as u32,
        flags,
        start_time,
        rss_pages,
        arg_start,
        arg_end,
    })
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn clock_ticks() -> u64 {
    static HZ: once_cell::sync::Lazy<u64> = once_cell::sync::Lazy::new(|| {
        #[cfg(unix)]
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        #[cfg(not(unix))]
        let v = 100;
        if v > 0 {
            v as u64
        } else {
            100
        }
    });
    *HZ
}

/// Time since boot (including suspend), the clock `/proc` start times use.
/// Also the clock of the ledger, immune to wall-clock jumps.
#[cfg(unix)]
pub(crate) fn boot_clock() -> Duration {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let id = nix::time::ClockId::CLOCK_BOOTTIME;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let id = nix::time::ClockId::CLOCK_MONOTONIC;
    nix::time::clock_gettime(id)
        .map(Duration::from)
        .unwrap_or_default()
}

#[cfg(not(unix))]
pub(crate) fn boot_clock() -> Duration {
    Duration::ZERO
}

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

/// The process table at one instant, with the parent→children map built in
/// the same pass.
pub struct Snapshot {
    source: Source,
    timeout: Duration,
    procs: Vec<Proc>,
    index: HashMap<i32, usize>,
    children: HashMap<i32, Vec<i32>>,
    lazy: Vec<Lazy>,
    /// `ps -o args` output, read once for the whole table by the ps backend.
    ps_args: OnceCell<HashMap<i32, String>>,
}

impl Snapshot {
    /// Reads the whole table.
    pub(crate) fn take(source: Source, timeout: Duration) -> Result<Snapshot> {
        let procs = match source {
            Source::Proc => crate::procfs::list()?,
            Source::Ps => crate::ps::list(timeout)?,
        };
        Ok(Self::from_procs(source, timeout, procs))
    }

    /// Reads `pid` and its ancestors afresh (for re-verification just before
    /// a signal). Stops at pid 1, at a pid that cannot be read, or at a loop.
    ///
    /// The reads are not atomic: an ancestor may exit between reading its
    /// child and reading it. The kernel reparents a process before its parent
    /// leaves /proc, so when the parent is gone (or its pid already belongs
    /// to a younger process) the child is read again and the walk follows its
    /// new parent. Only a parent that stays unreadable ends the chain.
    pub(crate) fn chain(source: Source, timeout: Duration, pid: i32) -> Snapshot {
        let procs = chain_with(|p| Self::read_one(source, timeout, p), pid);
        Self::from_procs(source, timeout, procs)
    }

    /// One process read afresh, or `None` when it is gone or unreadable.
    pub(crate) fn read_one(source: Source, timeout: Duration, pid: i32) -> Option<Proc> {
        match source {
            Source::Proc => crate::procfs::read(pid),
            Source::Ps => crate::ps::read(pid, timeout),
        }
    }

    pub(crate) fn from_procs(source: Source, timeout: Duration, procs: Vec<Proc>) -> Snapshot {
        let mut index = HashMap::with_capacity(procs.len());
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for (i, p) in procs.iter().enumerate() {
            index.insert(p.id.pid, i);
            children.entry(p.ppid).or_default().push(p.id.pid);
        }
        let lazy = procs.iter().map(|_| Lazy::default()).collect();
        Snapshot {
            source,
            timeout,
            procs,
            index,
            children,
            lazy,
            ps_args: OnceCell::new(),
        }
    }

    pub(crate) fn source(&self) -> Source {
        self.source
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// All processes.
    pub fn procs(&self) -> &[Proc] {
        &self.procs
    }

    /// The process with this pid, if it was in the table.
    pub fn get(&self, pid: i32) -> Option<&Proc> {
        self.index.get(&pid).map(|&i| &self.procs[i])
    }

    /// Direct children of `pid`.
    pub fn children(&self, pid: i32) -> &[i32] {
        self.children.get(&pid).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every descendant of `pid` in this snapshot, parents before children.
    pub fn descendants(&self, pid: i32) -> Vec<i32> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<i32> = self.children(pid).iter().rev().copied().collect();
        while let Some(p) = stack.pop() {
            if p == pid || !seen.insert(p) {
                continue;
            }
            out.push(p);
            stack.extend(self.children(p).iter().rev().copied());
        }
        out
    }

    fn lazy(&self, pid: i32) -> Option<&Lazy> {
        self.index.get(&pid).map(|&i| &self.lazy[i])
    }

    /// argv, or `None` when unreadable or gone.
    pub fn argv(&self, pid: i32) -> Option<&[String]> {
        let l = self.lazy(pid)?;
        l.argv
            .get_or_init(|| match self.source {
                Source::Proc => crate::procfs::argv(pid),
                Source::Ps => {
                    let all = self
                        .ps_args
                        .get_or_init(|| crate::ps::args(self.timeout).unwrap_or_default());
                    all.get(&pid)
                        .map(|s| s.split_whitespace().map(String::from).collect())
                }
            })
            .as_deref()
    }

    /// The basename of `argv[0]`, if any.
    pub fn argv0_base(&self, pid: i32) -> Option<&str> {
        let l = self.lazy(pid)?;
        let a0 = l
            .argv0
            .get_or_init(|| match (l.argv.get(), self.source) {
                (Some(argv), _) => argv.as_ref().and_then(|a| a.first().cloned()),
                (None, Source::Proc) => {
                    let args = self.get(pid).map_or((0, 0), |p| p.args);
                    crate::procfs::argv0(pid, args)
                }
                (None, Source::Ps) => self.argv(pid).and_then(|a| a.first().cloned()),
            })
            .as_deref()?;
        Some(a0.rsplit('/').next().unwrap_or(a0))
    }

    /// The current working directory, or `None` when unknown.
    pub fn cwd(&self, pid: i32) -> Option<&PathBuf> {
        let l = self.lazy(pid)?;
        l.cwd
            .get_or_init(|| match self.source {
                Source::Proc => crate::procfs::cwd(pid),
                Source::Ps => crate::ps::cwd(pid, self.timeout),
            })
            .as_ref()
    }

    /// The owner's uid, or `None` when unknown.
    pub fn uid(&self, pid: i32) -> Option<u32> {
        let l = self.lazy(pid)?;
        *l.uid.get_or_init(|| {
            self.get(pid)
                .and_then(|p| p.listed_uid)
                .or_else(|| match self.source {
                    Source::Proc => crate::procfs::uid(pid),
                    Source::Ps => None,
                })
        })
    }
}

/// Why a SIGKILLed process is still alive, for the `unkillable` report.
pub(crate) fn unkillable_reason(source: Source, p: &Proc) -> String {
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

/// [`Snapshot::chain`] over any reader of one process.
fn chain_with(mut read: impl FnMut(i32) -> Option<Proc>, pid: i32) -> Vec<Proc> {
    let mut procs: Vec<Proc> = Vec::new();
    let mut next = pid;
    let mut rereads = 0;
    while next > 0 && procs.len() < 4096 && !procs.iter().any(|p| p.id.pid == next) {
        let got = read(next);
        let consistent = match (&got, procs.last()) {
            (Some(parent), Some(child)) => parent.id.start_time <= child.id.start_time,
            (None, Some(_)) => false,
            _ => true,
        };
        if !consistent && rereads < 8 {
            rereads += 1;
            let child = procs.pop().expect("a child was read");
            match read(child.id.pid) {
                Some(again) if again.id == child.id && again.ppid != child.ppid => {
                    next = again.ppid;
                    procs.push(again);
                    continue;
                }
                _ => procs.push(child),
            }
        }
        let Some(p) = got else {
            break;
        };
        next = if p.id.pid == 1 { 0 } else { p.ppid };
        procs.push(p);
    }
    procs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, VecDeque};

    fn proc_(pid: i32, ppid: i32, start_time: u64) -> Proc {
        Proc {
            id: Identity { pid, start_time },
            ppid,
            name: format!("p{pid}"),
            state: 'S',
            tty: Tty::None,
            age: Duration::from_secs(60),
            kthread: false,
            rss_bytes: 0,
            listed_uid: None,
            args: (0, 0),
        }
    }

    /// A reader that answers each pid from a script, one answer per read
    /// (the last answer repeats).
    fn script(answers: Vec<(i32, Option<Proc>)>) -> impl FnMut(i32) -> Option<Proc> {
        let mut by_pid: HashMap<i32, VecDeque<Option<Proc>>> = HashMap::new();
        for (pid, a) in answers {
            by_pid.entry(pid).or_default().push_back(a);
        }
        move |pid| {
            let q = by_pid.get_mut(&pid)?;
            if q.len() > 1 {
                q.pop_front().unwrap()
            } else {
                q.front().cloned().flatten()
            }
        }
    }

    fn links(chain: &[Proc]) -> Vec<(i32, i32)> {
        chain.iter().map(|p| (p.id.pid, p.ppid)).collect()
    }

    /// The parent exits (and is reaped) between reading the child and
    /// reading it: the child is read again and its new parent followed.
    #[test]
    fn chain_follows_a_child_reparented_mid_walk() {
        let read = script(vec![
            (30, Some(proc_(30, 20, 5))),
            (30, Some(proc_(30, 1, 5))),
            (20, None),
            (1, Some(proc_(1, 0, 0))),
        ]);
        assert_eq!(links(&chain_with(read, 30)), vec![(30, 1), (1, 0)]);
    }

    /// The parent's pid already belongs to a younger process: same.
    #[test]
    fn chain_follows_a_child_whose_parent_pid_was_reused() {
        let read = script(vec![
            (30, Some(proc_(30, 20, 5))),
            (30, Some(proc_(30, 1, 5))),
            (20, Some(proc_(20, 1, 9))),
            (1, Some(proc_(1, 0, 0))),
        ]);
        assert_eq!(links(&chain_with(read, 30)), vec![(30, 1), (1, 0)]);
    }

    /// A parent that stays unreadable (another pid namespace, hidepid) ends
    /// the chain there: the walk then calls the ancestor "not visible".
    #[test]
    fn chain_ends_at_a_parent_that_stays_unreadable() {
        let read = script(vec![(30, Some(proc_(30, 20, 5))), (20, None)]);
        assert_eq!(links(&chain_with(read, 30)), vec![(30, 20)]);
    }

    /// A child whose parent link keeps changing to unreadable pids is read
    /// again a bounded number of times, never forever.
    #[test]
    fn chain_rereads_are_bounded() {
        let mut n = 0;
        let read = move |pid: i32| {
            n += 1;
            (pid == 30).then(|| proc_(30, 100 + n, 5))
        };
        let chain = chain_with(read, 30);
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].id.pid, 30);
    }
}
