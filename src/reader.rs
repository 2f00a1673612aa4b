//! Time-bounded reads of another process's memory: its argv
//! (`/proc/PID/cmdline`) and its initial environment (`/proc/PID/environ`).
//!
//! Both reads go through the target's memory, and its owner can make that
//! block for as long as they like: a thread of the target stuck in `mmap` of
//! a file on a hung NFS or FUSE mount holds the target's mmap lock, and every
//! reader of its memory waits for that lock (this is how a hung NFS server
//! hangs `ps`). So no read here runs on the caller's thread. A reader thread
//! does the reads and the caller waits at most `limit` for each process; a
//! read that takes longer is abandoned and answered
//! [`Why::TimedOut`]. The abandoned thread stays blocked in the kernel until
//! the target dies or its memory answers; a fresh thread serves later reads.
//!
//! - An identity (pid and start time) whose read is blocked is remembered
//!   process-wide: asking again answers [`Why::Stuck`] at once, so a host
//!   that scans every few seconds does not leak one thread per scan.
//! - At most [`stuck_cap`] abandoned threads at a time: past that, every read
//!   is refused ([`Why::Refused`]) until one returns.
//! - Batches ([`argv_many`], [`environ_markers_many`]) are walked by one
//!   thread, which records its progress; the caller sleeps until the batch
//!   ends or one item overruns, so a batch costs about what direct reads
//!   cost, plus one thread hand-off.
//!
//! Each read opens the file, then checks that the pid still names the
//! process asked about (its start time in `/proc/PID/stat`), then reads
//! through the open file: a pid reused in between answers [`Why::Gone`], never
//! another process's data. Which processes may be read (yours, or anyone's
//! with `all_users`) is the caller's rule; this module reads what it is asked.
//!
//! The module is public only so that the integration tests (tests/hung.rs)
//! can reach it; it is not part of the documented API.
#![cfg(target_os = "linux")]
#![doc(hidden)]

use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// cbindgen:ignore
/// At most this many bytes of argv are read; a longer argv comes back
/// [`Argv::truncated`].
pub const ARGV_CAP: usize = 1 << 20;
/// cbindgen:ignore
/// At most this many bytes of an environment are searched for markers.
pub const ENV_CAP: usize = 1 << 20;
/// cbindgen:ignore
/// The size of each `read` (one buffer per reader thread).
pub const READ_CHUNK: usize = 64 << 10;
/// The default for [`set_stuck_cap`].
const STUCK_CAP: usize = 16;

/// Idle reader threads kept for the next call.
const MAX_IDLE: usize = 2;
/// An idle reader thread exits after this long without work.
const IDLE_EXIT: Duration = Duration::from_secs(10);
/// Reader threads need little stack: buffers are on the heap.
const STACK: usize = 128 << 10;

/// What was being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    Argv,
    Environ,
    /// Its cwd and the directories above it (a walk on its filesystem).
    Cwd,
    /// A file read on its behalf (a protected pid file).
    File,
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fact::Argv => "argv",
            Fact::Environ => "environment",
            Fact::Cwd => "cwd and the directories above it",
            Fact::File => "file",
        })
    }
}

/// Why a fact could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// The process exited (or its pid now names another process).
    Gone,
    /// Its main thread exited while other threads run (the process shows
    /// `Z` but lives): its memory can no longer be read through it.
    Leaderless,
    /// The kernel refused (not your process, or not dumpable).
    Denied(String),
    /// argv is empty, or starts with an empty argv\[0\]: mid-exec, or a
    /// blanked title. Unknown, not "no argv".
    Empty,
    /// The read did not return within the limit and was abandoned.
    TimedOut(Duration),
    /// An earlier read of this process's memory is still blocked (for this
    /// long); it is not read again until that one returns.
    Stuck(Duration),
    /// This many abandoned reads are still blocked, the most this process
    /// leaves behind ([`stuck_cap`]); no read is started until one returns.
    Refused(usize),
    /// Anything else (an I/O error, no thread could be started).
    Failed(String),
}

/// A fact of process `pid` that could not be read. Its `Display` is a
/// sentence naming the pid and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub pid: i32,
    pub fact: Fact,
    pub why: Why,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (pid, fact) = (self.pid, self.fact);
        match &self.why {
            Why::Gone => write!(f, "pid {pid} exited before its {fact} could be read"),
            Why::Leaderless => write!(
                f,
                "pid {pid}: its main thread has exited while other threads run, so its {fact} \
                 cannot be read"
            ),
            Why::Denied(e) => write!(f, "pid {pid}: its {fact} may not be read ({e})"),
            Why::Empty => write!(
                f,
                "pid {pid}: its argv is empty or starts with an empty argv[0] (mid-exec, or a \
                 blanked title)"
            ),
            Why::TimedOut(d) if matches!(fact, Fact::Cwd | Fact::File) => write!(
                f,
                "pid {pid}: reading its {fact} did not return within {d:.1?} and was abandoned \
                 (a hung FUSE or NFS mount)"
            ),
            Why::TimedOut(d) => write!(
                f,
                "pid {pid}: reading its {fact} did not return within {d:.1?} and was abandoned \
                 (its memory blocks: a hung FUSE or NFS mount, or a userfaultfd)"
            ),
            Why::Stuck(d) => write!(
                f,
                "pid {pid}: its {fact} is not read: an earlier read of its memory has been \
                 blocked for {d:.1?}"
            ),
            Why::Refused(n) => write!(
                f,
                "pid {pid}: its {fact} is not read: {n} reads of other processes' memory are \
                 still blocked, the most procreap leaves behind"
            ),
            Why::Failed(e) => write!(f, "pid {pid}: reading its {fact} failed: {e}"),
        }
    }
}

impl std::error::Error for Unreadable {}

impl Unreadable {
    /// The reason alone, without the pid (for a read made on no process's
    /// behalf in particular, such as a pid file).
    pub fn why_text(&self) -> String {
        match &self.why {
            Why::TimedOut(d) => format!("no answer within {d:.1?}: a hung FUSE or NFS mount?"),
            Why::Stuck(d) => format!("an earlier read has been blocked for {d:.1?}"),
            Why::Refused(n) => {
                format!("{n} reads are still blocked, the most procreap leaves behind")
            }
            Why::Failed(e) | Why::Denied(e) => e.clone(),
            Why::Gone | Why::Leaderless | Why::Empty => self.to_string(),
        }
    }
}

/// A process's argv, split at NULs (lossy UTF-8).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Argv {
    pub args: Vec<String>,
    /// Only the first [`ARGV_CAP`] bytes were read: the last argument may
    /// be cut and later ones are missing.
    pub truncated: bool,
}

/// The result of searching an environment for markers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnvMarker {
    /// Index (into the markers asked for) of the marker that the first
    /// matching entry matches.
    pub marker: Option<usize>,
    /// No marker in the first [`ENV_CAP`] bytes, and the environment goes on
    /// past them: the rest was not searched.
    pub truncated: bool,
}

/// A process's argv, read within `limit`.
pub fn argv(pid: i32, start_time: u64, limit: Duration) -> Result<Argv, Unreadable> {
    one(argv_many(&[(pid, start_time)], limit))
}

/// The argv of each `(pid, start time)`, in order, each read within `limit`.
pub fn argv_many(ids: &[(i32, u64)], limit: Duration) -> Vec<Result<Argv, Unreadable>> {
    run(Fact::Argv, ids, limit, read_argv)
}

/// argv\[0\] alone (reads only as far as its end).
pub fn argv0(pid: i32, start_time: u64, limit: Duration) -> Result<String, Unreadable> {
    one(run(Fact::Argv, &[(pid, start_time)], limit, read_argv0))
}

/// Searches the initial environment of `pid` for `markers`, each `NAME=VALUE`
/// (that entry exactly) or `NAME` (any value). Matching is on bytes, so
/// entries that are not UTF-8 are fine. A marker that is empty, starts with
/// `=` or holds a NUL never matches.
pub fn environ_marker(
    pid: i32,
    start_time: u64,
    markers: &[String],
    limit: Duration,
) -> Result<EnvMarker, Unreadable> {
    one(environ_markers_many(&[(pid, start_time)], markers, limit))
}

/// [`environ_marker`] for each `(pid, start time)`, in order, each within
/// `limit`.
pub fn environ_markers_many(
    ids: &[(i32, u64)],
    markers: &[String],
    limit: Duration,
) -> Vec<Result<EnvMarker, Unreadable>> {
    let markers = Arc::new(Markers::new(markers));
    if markers.list.iter().all(Option::is_none) {
        // Nothing can match: no need to read anyone's memory.
        return ids.iter().map(|_| Ok(EnvMarker::default())).collect();
    }
    run(Fact::Environ, ids, limit, move |pid, start, scratch| {
        read_marker(pid, start, &markers, scratch)
    })
}

/// Runs `work` — a read on behalf of process `pid` that its owner's
/// filesystem can make block (a walk up from its cwd on a hung FUSE or NFS
/// mount) — on a reader thread, within `limit`, with the same bookkeeping
/// as memory reads: one that blocks is abandoned and remembered.
pub fn bounded<T, W>(
    fact: Fact,
    pid: i32,
    start_time: u64,
    limit: Duration,
    work: W,
) -> Result<T, Unreadable>
where
    T: Send + 'static,
    W: Fn() -> Result<T, Why> + Clone + Send + 'static,
{
    one(run(fact, &[(pid, start_time)], limit, move |_, _, _| {
        work()
    }))
}

/// [`bounded`] for work on a path procreap opens on its own behalf (the
/// state dir, `workspace_root`, a protected pid file, a home it tests): a
/// path whose work blocked is remembered by its name, as a process is by
/// its identity, so asking again answers at once.
pub fn bounded_path<T, W>(path: &std::path::Path, limit: Duration, work: W) -> Result<T, Unreadable>
where
    T: Send + 'static,
    W: Fn() -> T + Clone + Send + 'static,
{
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    path.hash(&mut h);
    bounded(Fact::File, 0, h.finish(), limit, move || Ok(work()))
}

/// Abandoned reads still blocked in the kernel (each holds one thread).
pub fn stuck_reads() -> usize {
    with_pool(|p| p.stuck.len())
}

static STUCK_CAP_NOW: AtomicUsize = AtomicUsize::new(STUCK_CAP);

/// The most abandoned reads left blocked before reads are refused.
pub fn stuck_cap() -> usize {
    STUCK_CAP_NOW.load(Ordering::Relaxed)
}

/// Sets [`stuck_cap`] (at least 1); returns the previous value. For tests.
pub fn set_stuck_cap(cap: usize) -> usize {
    STUCK_CAP_NOW.swap(cap.max(1), Ordering::Relaxed)
}

fn one<T>(mut v: Vec<Result<T, Unreadable>>) -> Result<T, Unreadable> {
    v.pop().unwrap_or_else(|| {
        Err(Unreadable {
            pid: 0,
            fact: Fact::Argv,
            why: Why::Failed("no answer".into()),
        })
    })
}

// ---------------------------------------------------------------------------
// The reads themselves (run on a reader thread).

/// A reader thread's buffers, reused from read to read.
struct Scratch {
    buf: Box<[u8]>,
    path: String,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            path: String::with_capacity(32),
        }
    }

    fn path(&mut self, pid: i32, name: &str) -> &str {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/{name}");
        &self.path
    }
}

/// The state letter, thread count and start time (clock ticks after boot)
/// in a `/proc/PID/stat` line. The name may hold spaces and parentheses,
/// so the fields are counted from the last `)`.
fn parse_identity(stat: &[u8]) -> Option<(u8, u64, u64)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat.get(close + 2..)?.split(|&b| b == b' ');
    let state = *fields.next()?.first()?;
    let num = |f: &[u8]| std::str::from_utf8(f).ok()?.trim_end().parse().ok();
    let threads = num(fields.nth(16)?)?; // field 20
    let start = num(fields.nth(1)?)?; // field 22
    Some((state, threads, start))
}

/// Whether `pid` still names the live process that started at `start`:
/// `Ok` when it does, else why not ([`Why::Gone`], [`Why::Leaderless`]).
fn same_live(pid: i32, start: u64, scratch: &mut Scratch) -> Result<(), Why> {
    let mut line = [0u8; 1024];
    let Ok(mut f) = File::open(scratch.path(pid, "stat")) else {
        return Err(Why::Gone);
    };
    let mut n = 0;
    // procfs answers with the whole line at once: stop at its end rather
    // than read again for the 0 that would follow.
    while n < line.len() && !line[..n].ends_with(b"\n") {
        match f.read(&mut line[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Why::Gone),
        }
    }
    match parse_identity(&line[..n]) {
        Some((state, threads, s)) if s == start => match state {
            b'Z' if threads > 1 => Err(Why::Leaderless),
            b'Z' | b'X' => Err(Why::Gone),
            _ => Ok(()),
        },
        _ => Err(Why::Gone),
    }
}

fn io_why(e: &io::Error) -> Why {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => Why::Gone,
        Some(libc::EACCES) | Some(libc::EPERM) => Why::Denied(e.to_string()),
        _ => Why::Failed(e.to_string()),
    }
}

/// Opens `/proc/PID/<name>` (std opens with O_CLOEXEC), then checks that the
/// pid still names that process: the open file is bound to the process the
/// pid named when it was opened, and that process is the one asked about if
/// it is still alive with the same start time after the open.
fn open_checked(pid: i32, start: u64, name: &str, scratch: &mut Scratch) -> Result<File, Why> {
    let f = File::open(scratch.path(pid, name)).map_err(|e| io_why(&e))?;
    same_live(pid, start, scratch)?;
    Ok(f)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The whole file was fed.
    Eof,
    /// The file goes on past the cap.
    Cap,
    /// The sink asked to stop.
    Stopped,
}

/// Feeds `f` to `sink` a chunk at a time, at most `cap` bytes, until the end
/// of the file or until `sink` returns true. Returns how it ended and the
/// number of bytes fed.
fn feed(
    f: &mut File,
    cap: usize,
    buf: &mut [u8],
    mut sink: impl FnMut(&[u8]) -> bool,
) -> io::Result<(End, usize)> {
    let mut fed = 0;
    loop {
        // One byte past the cap tells "exactly cap bytes" from "more".
        let want = buf.len().min(cap + 1 - fed);
        let n = match f.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok((End::Eof, fed));
        }
        let take = n.min(cap - fed);
        fed += take;
        if take > 0 && sink(&buf[..take]) {
            return Ok((End::Stopped, fed));
        }
        if take < n {
            return Ok((End::Cap, fed));
        }
    }
}

/// What an empty read means: the process is gone, or (alive) `alive`.
fn empty(pid: i32, start: u64, scratch: &mut Scratch, alive: Why) -> Why {
    match same_live(pid, start, scratch) {
        Ok(()) => alive,
        Err(why) => why,
    }
}

fn read_argv(pid: i32, start: u64, scratch: &mut Scratch) -> Result<Argv, Why> {
    let mut f = open_checked(pid, start, "cmdline", scratch)?;
    let mut raw = Vec::new();
    let (end, _) = feed(&mut f, ARGV_CAP, &mut scratch.buf, |c| {
        raw.extend_from_slice(c);
        false
    })
    .map_err(|e| io_why(&e))?;
    if raw.iter().all(|&b| b == 0) {
        // Nothing, or a title blanked with NULs.
        return Err(empty(pid, start, scratch, Why::Empty));
    }
    if raw.last() == Some(&0) {
        raw.pop();
    }
    Ok(Argv {
        args: raw
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
        truncated: end == End::Cap,
    })
}

fn read_argv0(pid: i32, start: u64, scratch: &mut Scratch) -> Result<String, Why> {
    let mut f = open_checked(pid, start, "cmdline", scratch)?;
    let mut a0 = Vec::new();
    feed(&mut f, ARGV_CAP, &mut scratch.buf, |c| {
        let end = c.iter().position(|&b| b == 0);
        a0.extend_from_slice(&c[..end.unwrap_or(c.len())]);
        end.is_some()
    })
    .map_err(|e| io_why(&e))?;
    if a0.is_empty() {
        return Err(empty(pid, start, scratch, Why::Empty));
    }
    Ok(String::from_utf8_lossy(&a0).into_owned())
}

fn read_marker(pid: i32, start: u64, m: &Markers, scratch: &mut Scratch) -> Result<EnvMarker, Why> {
    let mut f = open_checked(pid, start, "environ", scratch)?;
    let mut scan = EnvScan::new(m);
    let mut found = None;
    let (end, fed) = feed(&mut f, ENV_CAP, &mut scratch.buf, |c| {
        found = scan.feed(c);
        found.is_some()
    })
    .map_err(|e| io_why(&e))?;
    if fed == 0 {
        // An empty environment (env -i), or a process that has exited.
        return match empty(pid, start, scratch, Why::Empty) {
            Why::Empty => Ok(EnvMarker::default()),
            why => Err(why),
        };
    }
    let marker = found.or_else(|| scan.finish(end == End::Eof));
    Ok(EnvMarker {
        marker,
        truncated: marker.is_none() && end == End::Cap,
    })
}

// ---------------------------------------------------------------------------
// Environment markers, matched on bytes over a stream of chunks.

/// `NAME=VALUE` (`value` set: that entry exactly) or `NAME` (any value).
#[derive(Debug)]
struct Marker {
    /// `NAME=`
    key: Box<[u8]>,
    value: Option<Box<[u8]>>,
}

#[derive(Debug)]
struct Markers {
    /// `None`: a marker that can never match (empty name, NUL byte).
    list: Vec<Option<Marker>>,
    /// The longest entry that can match a `NAME=VALUE` marker, and the
    /// longest prefix a `NAME` marker looks at: all of an entry that matters.
    keep: usize,
}

impl Markers {
    fn new(markers: &[String]) -> Markers {
        let list: Vec<Option<Marker>> = markers
            .iter()
            .map(|m| Marker::parse(m.as_bytes()))
            .collect();
        let keep = list
            .iter()
            .flatten()
            .map(|m| m.key.len() + m.value.as_ref().map_or(0, |v| v.len()))
            .max()
            .unwrap_or(0);
        Markers { list, keep }
    }

    /// The first marker that an entry matches, given its first `keep` bytes
    /// (`head`) and whether that is the whole entry.
    fn find(&self, head: &[u8], whole: bool) -> Option<usize> {
        self.list.iter().position(|m| {
            m.as_ref().is_some_and(|m| match &m.value {
                None => head.starts_with(&m.key),
                Some(v) => {
                    whole
                        && head.len() == m.key.len() + v.len()
                        && head.starts_with(&m.key)
                        && head.ends_with(v)
                }
            })
        })
    }
}

impl Marker {
    fn parse(m: &[u8]) -> Option<Marker> {
        if m.contains(&0) {
            return None;
        }
        match m.iter().position(|&b| b == b'=') {
            Some(0) => None,
            Some(eq) => Some(Marker {
                key: m[..=eq].into(),
                value: Some(m[eq + 1..].into()),
            }),
            None if m.is_empty() => None,
            None => Some(Marker {
                key: [m, b"="].concat().into(),
                value: None,
            }),
        }
    }
}

/// Walks NUL-separated entries arriving in chunks, keeping of each entry only
/// the bytes a marker can look at, so memory stays bounded by the markers
/// whatever the entries' sizes.
struct EnvScan<'m> {
    markers: &'m Markers,
    head: Vec<u8>,
    /// Bytes of the current entry seen so far.
    len: usize,
}

impl<'m> EnvScan<'m> {
    fn new(markers: &'m Markers) -> EnvScan<'m> {
        EnvScan {
            markers,
            head: Vec::with_capacity(markers.keep),
            len: 0,
        }
    }

    /// The marker matched by the first entry ending in `chunk`, if any.
    fn feed(&mut self, mut chunk: &[u8]) -> Option<usize> {
        while let Some(nul) = chunk.iter().position(|&b| b == 0) {
            self.push(&chunk[..nul]);
            if let Some(i) = self.end_entry(true) {
                return Some(i);
            }
            chunk = &chunk[nul + 1..];
        }
        self.push(chunk);
        None
    }

    /// The last entry, when it has no NUL after it: complete at the end of
    /// the file (`eof`), cut by the cap otherwise.
    fn finish(&mut self, eof: bool) -> Option<usize> {
        (self.len > 0).then(|| self.end_entry(eof)).flatten()
    }

    fn push(&mut self, part: &[u8]) {
        let room = self.markers.keep.saturating_sub(self.head.len());
        self.head.extend_from_slice(&part[..part.len().min(room)]);
        self.len += part.len();
    }

    fn end_entry(&mut self, complete: bool) -> Option<usize> {
        let whole = complete && self.len == self.head.len();
        let found = self.markers.find(&self.head, whole);
        self.head.clear();
        self.len = 0;
        found
    }
}

// ---------------------------------------------------------------------------
// Reader threads.

/// One batch for a reader thread: reads item `i` and keeps its answer.
type Task = Box<dyn FnMut(usize, &mut Scratch) + Send>;

enum State {
    /// Waiting for work (or done with the last batch).
    Idle,
    Busy,
    /// The caller gave up on it; `token` names its entry in [`Pool::stuck`].
    Abandoned(u64),
    /// Told to exit.
    Retired,
}

struct Work {
    task: Option<Task>,
    len: usize,
    /// Items of the batch finished.
    done: usize,
    /// When item `done` started.
    since: Instant,
    state: State,
}

/// A reader thread's mailbox. Lock order: a slot before the pool.
struct Slot {
    work: Mutex<Work>,
    to_worker: Condvar,
    to_caller: Condvar,
}

struct StuckRead {
    token: u64,
    pid: i32,
    start: u64,
    since: Instant,
}

struct Pool {
    /// The process these threads belong to: after a fork, the child has none.
    owner: u32,
    idle: Vec<Arc<Slot>>,
    stuck: Vec<StuckRead>,
    next_token: u64,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; if something did, the data
    // is still consistent enough to go on.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> R {
    let mut guard = lock(&POOL);
    let me = std::process::id();
    let pool = guard.get_or_insert_with(|| Pool::new(me));
    if pool.owner != me {
        *pool = Pool::new(me);
    }
    f(pool)
}

impl Pool {
    fn new(owner: u32) -> Pool {
        Pool {
            owner,
            idle: Vec::new(),
            stuck: Vec::new(),
            next_token: 0,
        }
    }
}

fn forget_stuck(token: u64) {
    with_pool(|p| p.stuck.retain(|s| s.token != token));
}

fn block_signals() {
    // The host's signals are for the host's threads; a reader blocked in the
    // kernel must not run a handler either.
    // SAFETY: sigfillset fills a zeroed local set; pthread_sigmask changes
    // this thread's mask only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

fn spawn() -> io::Result<Arc<Slot>> {
    let slot = Arc::new(Slot {
        work: Mutex::new(Work {
            task: None,
            len: 0,
            done: 0,
            since: Instant::now(),
            state: State::Idle,
        }),
        to_worker: Condvar::new(),
        to_caller: Condvar::new(),
    });
    let mine = Arc::clone(&slot);
    std::thread::Builder::new()
        .name("procreap-reader".into())
        .stack_size(STACK)
        .spawn(move || worker(&mine))?;
    Ok(slot)
}

fn worker(slot: &Arc<Slot>) {
    block_signals();
    let mut scratch = Scratch::new();
    while let Some((mut task, len)) = next_task(slot) {
        for i in 0..len {
            task(i, &mut scratch);
            let mut w = lock(&slot.work);
            if let State::Abandoned(token) = w.state {
                drop(w);
                forget_stuck(token);
                return;
            }
            w.done = i + 1;
            w.since = Instant::now();
            if w.done == len {
                w.state = State::Idle;
                slot.to_caller.notify_one();
            }
        }
    }
}

/// Waits for the next batch; `None` when this thread should exit.
fn next_task(slot: &Arc<Slot>) -> Option<(Task, usize)> {
    let mut w = lock(&slot.work);
    loop {
        match w.state {
            State::Retired => return None,
            State::Abandoned(token) => {
                // Given up on before it started (a starved machine).
                drop(w);
                forget_stuck(token);
                return None;
            }
            State::Idle | State::Busy => {}
        }
        if let Some(task) = w.task.take() {
            return Some((task, w.len));
        }
        let (guard, waited) = slot
            .to_worker
            .wait_timeout(w, IDLE_EXIT)
            .unwrap_or_else(PoisonError::into_inner);
        w = guard;
        if waited.timed_out() && w.task.is_none() && matches!(w.state, State::Idle) {
            // Retire, unless a caller has just taken this thread from the pool.
            let retired = with_pool(|p| match p.idle.iter().position(|s| Arc::ptr_eq(s, slot)) {
                Some(i) => {
                    p.idle.swap_remove(i);
                    true
                }
                None => false,
            });
            if retired {
                return None;
            }
        }
    }
}

enum Outcome {
    Done,
    /// Item `at` did not finish within the limit; the thread was abandoned.
    Abandoned {
        at: usize,
        after: Duration,
    },
}

/// Hands `task` to the thread behind `slot` and waits until the batch ends
/// or one item takes longer than `limit`. The caller sleeps through the
/// batch: the thread records its progress and wakes it only at the end.
fn submit(slot: &Slot, task: Task, ids: &[(i32, u64)], limit: Duration) -> Outcome {
    let mut w = lock(&slot.work);
    w.task = Some(task);
    w.len = ids.len();
    w.done = 0;
    w.since = Instant::now();
    w.state = State::Busy;
    slot.to_worker.notify_one();
    loop {
        if w.done == ids.len() {
            return Outcome::Done;
        }
        let waited = w.since.elapsed();
        if waited >= limit {
            let at = w.done;
            let (pid, start) = ids[at];
            // Registered before the slot is unlocked, so a thread that
            // returns right away finds its entry to remove.
            let token = with_pool(|p| {
                p.next_token += 1;
                p.stuck.push(StuckRead {
                    token: p.next_token,
                    pid,
                    start,
                    since: Instant::now(),
                });
                p.next_token
            });
            w.state = State::Abandoned(token);
            return Outcome::Abandoned { at, after: waited };
        }
        w = slot
            .to_caller
            .wait_timeout(w, limit - waited)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// Back to the pool, or told to exit when the pool has enough.
fn give_back(slot: Arc<Slot>) {
    let extra = with_pool(|p| {
        if p.idle.len() < MAX_IDLE {
            p.idle.push(slot);
            None
        } else {
            Some(slot)
        }
    });
    if let Some(slot) = extra {
        lock(&slot.work).state = State::Retired;
        slot.to_worker.notify_one();
    }
}

/// An item's answer, once there is one.
type Answer<T> = Option<Result<T, Why>>;

/// Reads each identity with `read` on a reader thread, at most `limit` per
/// identity; answers in the order of `ids`.
fn run<T, R>(fact: Fact, ids: &[(i32, u64)], limit: Duration, read: R) -> Vec<Result<T, Unreadable>>
where
    T: Send + 'static,
    R: Fn(i32, u64, &mut Scratch) -> Result<T, Why> + Clone + Send + 'static,
{
    let limit = limit.max(Duration::from_millis(1));
    let mut out: Vec<Answer<T>> = ids.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..ids.len()).collect();
    while !pending.is_empty() {
        let got = with_pool(|p| {
            pending.retain(|&i| {
                let (pid, start) = ids[i];
                match p.stuck.iter().find(|s| s.pid == pid && s.start == start) {
                    Some(s) => {
                        out[i] = Some(Err(Why::Stuck(s.since.elapsed())));
                        false
                    }
                    None => true,
                }
            });
            if pending.is_empty() {
                Ok(None)
            } else if p.stuck.len() >= stuck_cap() {
                Err(Why::Refused(p.stuck.len()))
            } else {
                Ok(Some(p.idle.pop()))
            }
        });
        let slot = match got {
            Ok(None) => break,
            Ok(Some(Some(slot))) => slot,
            Ok(Some(None)) => match spawn() {
                Ok(slot) => slot,
                Err(e) => {
                    let why = Why::Failed(format!("no reader thread could be started: {e}"));
                    pending
                        .iter()
                        .for_each(|&i| out[i] = Some(Err(why.clone())));
                    break;
                }
            },
            Err(why) => {
                pending
                    .iter()
                    .for_each(|&i| out[i] = Some(Err(why.clone())));
                break;
            }
        };
        let batch: Arc<[(i32, u64)]> = pending.iter().map(|&i| ids[i]).collect();
        let answers: Arc<Mutex<Vec<Answer<T>>>> =
            Arc::new(Mutex::new(batch.iter().map(|_| None).collect()));
        let task: Task = {
            let (batch, answers, read) = (Arc::clone(&batch), Arc::clone(&answers), read.clone());
            Box::new(move |k, scratch| {
                let (pid, start) = batch[k];
                let answer = read(pid, start, scratch);
                // An abandoned thread that returns late finds the answers
                // taken: its answer is dropped.
                if let Some(a) = lock(&answers).get_mut(k) {
                    *a = Some(answer);
                }
            })
        };
        let outcome = submit(&slot, task, &batch, limit);
        let answers = std::mem::take(&mut *lock(&answers));
        for (k, a) in answers.into_iter().enumerate() {
            if a.is_some() {
                out[pending[k]] = a;
            }
        }
        match outcome {
            Outcome::Done => {
                give_back(slot);
                break;
            }
            Outcome::Abandoned { at, after } => {
                out[pending[at]] = Some(Err(Why::TimedOut(after)));
                pending.drain(..=at);
            }
        }
    }
    out.into_iter()
        .zip(ids)
        .map(|(answer, &(pid, _))| {
            answer
                .unwrap_or_else(|| Err(Why::Failed("not read".into())))
                .map_err(|why| Unreadable { pid, fact, why })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(m: &[&str]) -> Markers {
        Markers::new(&m.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    /// Feeds `env` split at every pair of points, and byte by byte.
    fn scan_all_splits(m: &Markers, env: &[u8]) -> Vec<Option<usize>> {
        let run = |parts: &[&[u8]]| {
            let mut s = EnvScan::new(m);
            for p in parts {
                if let Some(i) = s.feed(p) {
                    return Some(i);
                }
            }
            s.finish(true)
        };
        let mut seen = vec![run(&[env])];
        for a in 0..=env.len() {
            for b in a..=env.len() {
                seen.push(run(&[&env[..a], &env[a..b], &env[b..]]));
            }
        }
        seen.push(run(&env.chunks(1).collect::<Vec<_>>()));
        seen
    }

    fn scan(m: &[&str], env: &[u8]) -> Option<usize> {
        let m = markers(m);
        let seen = scan_all_splits(&m, env);
        assert!(
            seen.windows(2).all(|w| w[0] == w[1]),
            "splits disagree: {seen:?}"
        );
        seen[0]
    }

    #[test]
    fn markers_match_whole_entries_on_bytes_across_any_split() {
        let env = b"A=\xff\xfe\0PRT_LEAK_X=1\0PRT_LEAK_XY=1\0B=\xc3\0";
        assert_eq!(scan(&["PRT_LEAK_X=1"], env), Some(0));
        assert_eq!(scan(&["PRT_LEAK_X"], env), Some(0));
        assert_eq!(scan(&["PRT_LEAK_XY"], env), Some(0));
        assert_eq!(scan(&["nope", "PRT_LEAK_XY=1"], env), Some(1));
        // A name that is only a prefix of another entry's name, a value that
        // is only a prefix of the entry's value, an empty value.
        let env = b"PRT_LEAK_XY=1\0PRT_LEAK_Z=10\0";
        assert_eq!(scan(&["PRT_LEAK_X=1"], env), None);
        assert_eq!(scan(&["PRT_LEAK_X"], env), None);
        assert_eq!(scan(&["PRT_LEAK_Z=1"], env), None);
        assert_eq!(scan(&["PRT_LEAK_Z="], env), None);
        assert_eq!(scan(&["PRT_LEAK_Z="], b"PRT_LEAK_Z=\0"), Some(0));
        // A value that is not UTF-8; a last entry without its NUL.
        assert_eq!(scan(&["PRT_BAD"], b"X=1\0PRT_BAD=\xff\xff"), Some(0));
        assert_eq!(scan(&["PRT_BAD=\u{fffd}"], b"PRT_BAD=\xff\0"), None);
        // `=` in the value: the name ends at the first one.
        assert_eq!(scan(&["K=a=b"], b"K=a=b\0"), Some(0));
        assert_eq!(scan(&["K=a"], b"K=a=b\0"), None);
    }

    #[test]
    fn markers_that_cannot_match_never_do() {
        let env = b"=x\0\0A=1\0";
        assert_eq!(scan(&["", "=x", "A\0=1"], env), None);
        let m = markers(&["", "=x"]);
        assert!(m.list.iter().all(Option::is_none));
        assert_eq!(m.keep, 0);
    }

    #[test]
    fn an_entry_cut_by_the_cap_matches_by_name_only() {
        let m = markers(&["K=v", "N"]);
        let mut s = EnvScan::new(&m);
        assert_eq!(s.feed(b"X=1\0K=v"), None);
        assert_eq!(s.finish(false), None, "K=v might go on past the cap");
        let mut s = EnvScan::new(&m);
        assert_eq!(s.feed(b"N=som"), None);
        assert_eq!(s.finish(false), Some(1));
    }

    #[test]
    fn long_entries_keep_bounded_memory() {
        let m = markers(&["PRT_LEAK_Q=1"]);
        let mut s = EnvScan::new(&m);
        let big = vec![b'x'; 1 << 20];
        assert_eq!(s.feed(b"PRT_LEAK_Q=1"), None);
        assert_eq!(s.feed(&big), None);
        assert!(s.head.capacity() <= m.keep.max(16));
        assert_eq!(s.feed(b"\0PRT_LEAK_Q=1\0"), Some(0));
    }

    #[test]
    fn identity_is_read_after_the_last_parenthesis() {
        let line = b"4242 (a) b) (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 1 2 3 4 5 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert_eq!(parse_identity(line), Some((b'S', 1, 987654)));
        assert_eq!(parse_identity(b"4242 (x) Z 1 2"), None);
        assert_eq!(parse_identity(b""), None);
    }

    #[test]
    fn reasons_name_the_pid() {
        for why in [
            Why::Gone,
            Why::Denied("EACCES".into()),
            Why::Empty,
            Why::TimedOut(Duration::from_secs(2)),
            Why::Stuck(Duration::from_secs(30)),
            Why::Refused(16),
            Why::Failed("EIO".into()),
        ] {
            let text = Unreadable {
                pid: 4242,
                fact: Fact::Environ,
                why: why.clone(),
            }
            .to_string();
            assert!(text.starts_with("pid 4242"), "{text}");
        }
        let t = Unreadable {
            pid: 7,
            fact: Fact::Argv,
            why: Why::TimedOut(Duration::from_millis(2000)),
        };
        assert!(
            t.to_string().contains("argv did not return within 2.0s"),
            "{t}"
        );
    }

    fn me() -> (i32, u64) {
        let stat = std::fs::read("/proc/self/stat").unwrap();
        (std::process::id() as i32, parse_identity(&stat).unwrap().2)
    }

    #[test]
    fn own_argv_and_environment_are_read() {
        let (pid, start) = me();
        let limit = Duration::from_secs(30);
        let a = argv(pid, start, limit).unwrap();
        let exe = std::env::args().next().unwrap();
        assert_eq!(a.args[0], exe);
        assert!(!a.truncated);
        assert_eq!(argv0(pid, start, limit).unwrap(), exe);
        // Our initial environment holds PATH (cargo sets it); nothing holds
        // an empty name.
        let m =
            environ_marker(pid, start, &["PRT_NONE_8d1f".into(), "PATH".into()], limit).unwrap();
        assert_eq!(
            m,
            EnvMarker {
                marker: Some(1),
                truncated: false
            }
        );
        assert_eq!(
            environ_marker(pid, start, &["=".into()], limit).unwrap(),
            EnvMarker::default()
        );
    }

    #[test]
    fn another_start_time_or_no_process_is_gone() {
        let (pid, start) = me();
        let limit = Duration::from_secs(30);
        let got = argv_many(
            &[(pid, start + 1), (pid, start), (i32::MAX, 1), (-1, 0)],
            limit,
        );
        assert_eq!(got[0].as_ref().unwrap_err().why, Why::Gone);
        assert!(got[1].is_ok());
        assert_eq!(got[2].as_ref().unwrap_err().why, Why::Gone);
        assert!(got[3].is_err());
        let env = environ_markers_many(&[(pid, start + 1)], &["PATH".into()], limit);
        assert_eq!(env[0].as_ref().unwrap_err().why, Why::Gone);
        assert_eq!(argv0(pid, start + 1, limit).unwrap_err().why, Why::Gone);
    }

    #[test]
    fn feed_tells_exactly_cap_from_more() {
        let dir = std::env::temp_dir().join(format!("prt-reader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, vec![b'a'; 100]).unwrap();
        let mut buf = [0u8; 7];
        let mut total = 0;
        let mut f = File::open(&path).unwrap();
        assert_eq!(
            feed(&mut f, 100, &mut buf, |c| {
                total += c.len();
                false
            })
            .unwrap(),
            (End::Eof, 100)
        );
        assert_eq!(total, 100);
        let mut f = File::open(&path).unwrap();
        assert_eq!(
            feed(&mut f, 99, &mut buf, |_| false).unwrap(),
            (End::Cap, 99)
        );
        let mut f = File::open(&path).unwrap();
        assert_eq!(
            feed(&mut f, 100, &mut buf, |_| true).unwrap(),
            (End::Stopped, 7)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Microbenchmark: bounded reads against direct ones over 1,000 real
    /// processes (sleeping children). Prints medians and ratios; asserts
    /// only that both ways read the same.
    /// `cargo test --release --lib reader::tests::bench -- --ignored --nocapture`
    #[test]
    #[ignore = "a benchmark, run by hand"]
    fn bench_bounded_against_direct_reads() {
        struct Children(Vec<std::process::Child>);
        impl Drop for Children {
            fn drop(&mut self) {
                for c in &mut self.0 {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
        let n: usize = std::env::var("PRT_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        let mut kids = Children(Vec::new());
        for _ in 0..n {
            let c = std::process::Command::new("sleep")
                .arg("600")
                .stdin(std::process::Stdio::null())
                .spawn()
                .unwrap();
            kids.0.push(c);
        }
        let ids: Vec<(i32, u64)> = kids
            .0
            .iter()
            .map(|c| {
                let pid = c.id() as i32;
                let stat = std::fs::read(format!("/proc/{pid}/stat")).unwrap();
                (pid, parse_identity(&stat).unwrap().2)
            })
            .collect();
        // Wait for every exec to finish (argv "sleep 600").
        while ids.iter().any(|&(p, _)| {
            std::fs::read(format!("/proc/{p}/cmdline")).unwrap() != b"sleep\x00600\x00"
        }) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let limit = Duration::from_secs(2);
        let markers = vec!["PRT_LEAK_BENCH_NONE=1".to_string()];
        let m = Markers::new(&markers);
        let (mut s1, mut s2) = (Scratch::new(), Scratch::new());
        // Today's read (procfs::argv): open, read up to the cap, no identity check.
        let direct = |pid: i32, name: &str| {
            let mut raw = Vec::new();
            File::open(format!("/proc/{pid}/{name}"))
                .unwrap()
                .take(ARGV_CAP as u64 + 1)
                .read_to_end(&mut raw)
                .unwrap();
            raw
        };
        let a = argv_many(&ids, limit);
        assert!(a
            .iter()
            .all(|a| a.as_ref().unwrap().args == ["sleep", "600"]));
        fn sink<T>(t: T) {
            std::hint::black_box(t);
        }
        type Way<'a> = (&'a str, Box<dyn FnMut() + 'a>);
        let mut ways: Vec<Way> = vec![
            (
                "argv: direct cmdline read (today)",
                Box::new(|| ids.iter().for_each(|&(p, _)| sink(direct(p, "cmdline")))),
            ),
            (
                "argv: direct, identity-checked",
                Box::new(|| {
                    ids.iter()
                        .for_each(|&(p, s)| sink(read_argv(p, s, &mut s1).unwrap()))
                }),
            ),
            (
                "argv: bounded, one call each",
                Box::new(|| {
                    ids.iter()
                        .for_each(|&(p, s)| sink(argv(p, s, limit).unwrap()))
                }),
            ),
            (
                "argv: bounded batch",
                Box::new(|| sink(argv_many(&ids, limit))),
            ),
            (
                "argv0: bounded, one call each",
                Box::new(|| {
                    ids.iter()
                        .for_each(|&(p, s)| sink(argv0(p, s, limit).unwrap()))
                }),
            ),
            (
                "environ: direct read",
                Box::new(|| ids.iter().for_each(|&(p, _)| sink(direct(p, "environ")))),
            ),
            (
                "environ: direct, identity-checked + markers",
                Box::new(|| {
                    ids.iter()
                        .for_each(|&(p, s)| sink(read_marker(p, s, &m, &mut s2).unwrap()))
                }),
            ),
            (
                "environ: bounded, one call each",
                Box::new(|| {
                    ids.iter()
                        .for_each(|&(p, s)| sink(environ_marker(p, s, &markers, limit).unwrap()))
                }),
            ),
            (
                "environ: bounded batch",
                Box::new(|| sink(environ_markers_many(&ids, &markers, limit))),
            ),
        ];
        // Rounds interleave the ways, so that the machine's load drifts over
        // all of them alike.
        let mut runs: Vec<Vec<Duration>> = ways.iter().map(|_| Vec::new()).collect();
        for _ in 0..15 {
            for (w, r) in ways.iter_mut().zip(&mut runs) {
                let t = Instant::now();
                (w.1)();
                r.push(t.elapsed());
            }
        }
        let rows: Vec<(&str, Duration)> = ways
            .iter()
            .zip(&mut runs)
            .map(|(w, r)| {
                r.sort();
                (w.0, r[r.len() / 2])
            })
            .collect();
        let base = |name: &str| rows.iter().find(|r| r.0.starts_with(name)).unwrap().1;
        let (argv_base, env_base) = (base("argv: direct cmdline"), base("environ: direct read"));
        println!(
            "{n} processes, median of 15 runs; ratio against the direct read of the same file"
        );
        for (name, d) in &rows {
            let b = if name.starts_with("environ") {
                env_base
            } else {
                argv_base
            };
            println!(
                "{name:48} {:>8.1} us/process  {:>5.2}x",
                d.as_secs_f64() * 1e6 / n as f64,
                d.as_secs_f64() / b.as_secs_f64()
            );
        }
    }
}
