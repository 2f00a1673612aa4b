//! Result types handed to C: `#[repr(C)]` structs with owned NUL-terminated
//! strings, in lists (`items` + `len`), each list with one `_free` function.

use std::ffi::c_char;
use std::ptr;

use crate::classify::{ProcessInfo, Verdict, VerdictKind};
use crate::cleanup::{ActionKind, Delivery, Report};
use crate::ffi::{c_string, free_c_string};
use crate::process::Identity;
use crate::signal::Sig;

/// A process identity: pid plus start time (clock ticks since boot on Linux).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct procreap_identity {
    /// Process id.
    pub pid: i32,
    /// Start time, as reported in `procreap_process.start_time`.
    pub start_time: u64,
}

/// Which scan a find or cleanup call runs.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_kind {
    /// Orphans.
    Orphans = 0,
    /// Zombies (refuses to run blind).
    Zombies = 1,
    /// Leaked descendants: processes carrying a leak marker whose agent is gone.
    Leaked = 2,
}

/// How a signal reached its process.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_delivery {
    /// Nothing was sent (or a dry run).
    None = 0,
    /// Through a pidfd: it cannot reach a recycled pid.
    Pidfd = 1,
    /// Through kill(2) after re-checking the identity (no pidfds here): a
    /// small pid-reuse window remains.
    Kill = 2,
}

/// A verdict of `procreap_explain`. Rules apply in this order, first match
/// wins: defunct, other-user, protected, has-tty, ide-launched, too-young,
/// outside-workspace, leader-alive, agent-alive; a process that meets none is
/// an orphan (an agent process) or leaked (a marker process). The numbers
/// are stable, not the rule order.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_verdict_kind {
    /// Already dead, waiting for its parent (named in the reason).
    Defunct = 0,
    /// Another user's process.
    OtherUser = 1,
    /// In a tmux pane or under a protected root (named in the reason).
    Protected = 2,
    /// Has a controlling terminal (named in the reason).
    HasTty = 3,
    /// Launched by an IDE.
    IdeLaunched = 4,
    /// Younger than min_age (age in the reason).
    TooYoung = 5,
    /// Outside the workspace (or in another one).
    OutsideWorkspace = 6,
    /// An agent process that is a candidate for the orphan and zombie scans.
    Orphan = 7,
    /// A marker process whose agent is gone: a leaked descendant.
    Leaked = 8,
    /// A marker process whose process group leader is alive.
    LeaderAlive = 9,
    /// A marker process whose agent lives (an ancestor, or one working in
    /// the same project; named in the reason).
    AgentAlive = 10,
}

/// What a cleanup did to a process.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_action_kind {
    /// SIGTERM sent.
    Sigterm = 0,
    /// Within the grace period (time left in the reason).
    Waiting = 1,
    /// SIGKILL sent.
    Sigkill = 2,
    /// Survived SIGKILL (why in the reason).
    Unkillable = 3,
    /// Gone, or defunct (the reason names the parent).
    Exited = 4,
    /// No longer a candidate; dropped from the ledger.
    Released = 5,
    /// A check failed right before the signal; nothing sent.
    Skipped = 6,
}

/// A signal number as sent (0 = none).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_signal {
    /// No signal.
    None = 0,
    /// SIGKILL (9).
    Sigkill = 9,
    /// SIGTERM (15).
    Sigterm = 15,
}

/// A process as reported. Strings are owned by the list that holds it.
#[repr(C)]
pub struct procreap_process {
    /// Process id.
    pub pid: i32,
    /// Parent pid.
    pub ppid: i32,
    /// Start time (identity together with pid).
    pub start_time: u64,
    /// Process name (comm).
    pub name: *mut c_char,
    /// Age in seconds at the snapshot.
    pub age_secs: f64,
    /// Terminal name ("pts/3"), NULL without one.
    pub tty: *mut c_char,
    /// Unix state letter ('S', 'R', 'Z', …).
    pub state: c_char,
    /// Workspace root, NULL when none was found.
    pub workspace_root: *mut c_char,
    /// argv joined by spaces ("" when unreadable, or another user's process
    /// without all_users: its argv is not read).
    pub cmdline: *mut c_char,
    /// Owner uid; `UINT32_MAX` when unknown.
    pub uid: u32,
    /// Resident memory in bytes at the snapshot (0 when unknown).
    pub rss_bytes: u64,
}

/// A list of processes.
#[repr(C)]
pub struct procreap_process_list {
    /// `len` processes (NULL when `len` is 0).
    pub items: *mut procreap_process,
    /// Number of items.
    pub len: usize,
}

/// An agent process with its verdict and reason.
#[repr(C)]
pub struct procreap_verdict {
    /// The process.
    pub process: procreap_process,
    /// The verdict (`procreap_verdict_kind`).
    pub verdict: procreap_verdict_kind,
    /// Human reason.
    pub reason: *mut c_char,
}

/// A list of verdicts.
#[repr(C)]
pub struct procreap_verdict_list {
    /// `len` verdicts (NULL when `len` is 0).
    pub items: *mut procreap_verdict,
    /// Number of items.
    pub len: usize,
}

/// One action of a cleanup.
#[repr(C)]
pub struct procreap_action {
    /// The process.
    pub process: procreap_process,
    /// What happened (`procreap_action_kind`).
    pub action: procreap_action_kind,
    /// Signal sent (in a dry run: that would be sent), or PROCREAP_SIGNAL_NONE.
    pub signal: procreap_signal,
    /// Why (time left, failed check, parent pid, …); never NULL.
    pub reason: *mut c_char,
    /// Error message when a signal failed, else NULL.
    pub error: *mut c_char,
    /// How the signal was delivered (`procreap_delivery`); NONE when none
    /// was sent.
    pub delivery: procreap_delivery,
    /// True in a dry run: the signal, if any, was decided but not sent.
    pub dry_run: bool,
}

/// A list of actions: what one cleanup call did.
#[repr(C)]
pub struct procreap_action_list {
    /// `len` actions (NULL when `len` is 0).
    pub items: *mut procreap_action,
    /// Number of items.
    pub len: usize,
    /// Milliseconds from the end of the call until the next step has
    /// something to do (a grace period running out, a too-young candidate
    /// reaching min_age, an unkillable re-check); -1 when nothing is pending.
    pub next_due_ms: i64,
    /// Resident memory (bytes, measured at signal time) of the processes this
    /// call saw exit after procreap's signals.
    pub reclaimed_bytes: u64,
}

/// An owned list of strings.
#[repr(C)]
pub struct procreap_string_list {
    /// `len` NUL-terminated strings (NULL when `len` is 0).
    pub items: *mut *mut c_char,
    /// Number of items.
    pub len: usize,
}

fn opt_c(s: Option<&str>) -> *mut c_char {
    s.map_or(ptr::null_mut(), c_string)
}

impl From<&ProcessInfo> for procreap_process {
    fn from(p: &ProcessInfo) -> Self {
        procreap_process {
            pid: p.id.pid,
            ppid: p.ppid,
            start_time: p.id.start_time,
            name: c_string(&p.name),
            age_secs: p.age.as_secs_f64(),
            tty: opt_c(p.tty.as_deref()),
            state: if p.state.is_ascii() {
                p.state as c_char
            } else {
                b'?' as c_char
            },
            workspace_root: opt_c(
                p.workspace_root
                    .as_ref()
                    .map(|r| r.to_string_lossy())
                    .as_deref(),
            ),
            cmdline: c_string(&p.cmdline),
            uid: p.uid.unwrap_or(u32::MAX),
            rss_bytes: p.rss_bytes,
        }
    }
}

fn free_process(p: &procreap_process) {
    for s in [p.name, p.tty, p.workspace_root, p.cmdline] {
        free_c_string(s);
    }
}

impl From<VerdictKind> for procreap_verdict_kind {
    fn from(v: VerdictKind) -> Self {
        Self::of(v)
    }
}

impl procreap_verdict_kind {
    /// The C value of a verdict.
    pub(crate) const fn of(v: VerdictKind) -> Self {
        match v {
            VerdictKind::Defunct => procreap_verdict_kind::Defunct,
            VerdictKind::OtherUser => procreap_verdict_kind::OtherUser,
            VerdictKind::Protected => procreap_verdict_kind::Protected,
            VerdictKind::HasTty => procreap_verdict_kind::HasTty,
            VerdictKind::IdeLaunched => procreap_verdict_kind::IdeLaunched,
            VerdictKind::TooYoung => procreap_verdict_kind::TooYoung,
            VerdictKind::OutsideWorkspace => procreap_verdict_kind::OutsideWorkspace,
            VerdictKind::LeaderAlive => procreap_verdict_kind::LeaderAlive,
            VerdictKind::AgentAlive => procreap_verdict_kind::AgentAlive,
            VerdictKind::Orphan => procreap_verdict_kind::Orphan,
            VerdictKind::Leaked => procreap_verdict_kind::Leaked,
        }
    }
}

impl From<ActionKind> for procreap_action_kind {
    fn from(a: ActionKind) -> Self {
        match a {
            ActionKind::Sigterm => procreap_action_kind::Sigterm,
            ActionKind::Waiting => procreap_action_kind::Waiting,
            ActionKind::Sigkill => procreap_action_kind::Sigkill,
            ActionKind::Unkillable => procreap_action_kind::Unkillable,
            ActionKind::Exited => procreap_action_kind::Exited,
            ActionKind::Released => procreap_action_kind::Released,
            ActionKind::Skipped => procreap_action_kind::Skipped,
        }
    }
}

impl From<Delivery> for procreap_delivery {
    fn from(d: Delivery) -> Self {
        match d {
            Delivery::None => procreap_delivery::None,
            Delivery::Pidfd => procreap_delivery::Pidfd,
            Delivery::Kill => procreap_delivery::Kill,
        }
    }
}

fn signal_of(s: Option<Sig>) -> procreap_signal {
    match s {
        Some(Sig::Term) => procreap_signal::Sigterm,
        Some(Sig::Kill) => procreap_signal::Sigkill,
        Some(Sig::Cont) | None => procreap_signal::None,
    }
}

/// Moves a Vec into a C array (NULL when empty).
fn into_raw<T>(v: Vec<T>) -> (*mut T, usize) {
    if v.is_empty() {
        return (ptr::null_mut(), 0);
    }
    let b = v.into_boxed_slice();
    let len = b.len();
    (Box::into_raw(b).cast::<T>(), len)
}

/// Takes back an array made by [`into_raw`].
///
/// SAFETY: `(items, len)` must come from `into_raw`.
unsafe fn from_raw<T>(items: *mut T, len: usize) -> Vec<T> {
    if items.is_null() {
        return Vec::new();
    }
    Box::from_raw(ptr::slice_from_raw_parts_mut(items, len)).into_vec()
}

impl procreap_process_list {
    pub(crate) fn new(v: &[ProcessInfo]) -> Self {
        let (items, len) = into_raw(v.iter().map(procreap_process::from).collect());
        procreap_process_list { items, len }
    }
}

impl procreap_verdict_list {
    pub(crate) fn new(v: &[Verdict]) -> Self {
        let (items, len) = into_raw(
            v.iter()
                .map(|v| procreap_verdict {
                    process: (&v.process).into(),
                    verdict: v.verdict.into(),
                    reason: c_string(&v.reason),
                })
                .collect(),
        );
        procreap_verdict_list { items, len }
    }
}

impl procreap_action_list {
    pub(crate) fn new(r: &Report) -> Self {
        let (items, len) = into_raw(
            r.actions
                .iter()
                .map(|a| procreap_action {
                    process: (&a.process).into(),
                    action: a.action.into(),
                    signal: signal_of(a.signal),
                    reason: c_string(&a.reason),
                    error: opt_c(a.error.as_deref()),
                    delivery: a.delivery.into(),
                    dry_run: a.dry_run,
                })
                .collect(),
        );
        procreap_action_list {
            items,
            len,
            next_due_ms: r
                .next_due
                .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            reclaimed_bytes: r.reclaimed_bytes,
        }
    }
}

impl procreap_string_list {
    pub(crate) fn new(v: Vec<String>) -> Self {
        let (items, len) = into_raw(v.iter().map(|s| c_string(s)).collect());
        procreap_string_list { items, len }
    }
}

/// Frees a string list and its strings. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_string_list_free(list: *mut procreap_string_list) {
    if list.is_null() {
        return;
    }
    // SAFETY: made by this library (Box + into_raw).
    let l = unsafe { Box::from_raw(list) };
    for s in unsafe { from_raw(l.items, l.len) } {
        free_c_string(s);
    }
}

/// Frees a string returned by a getter. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_string_free(s: *mut c_char) {
    free_c_string(s);
}

impl From<&procreap_identity> for Identity {
    fn from(i: &procreap_identity) -> Self {
        Identity {
            pid: i.pid,
            start_time: i.start_time,
        }
    }
}

/// Frees a process list and its strings. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_process_list_free(list: *mut procreap_process_list) {
    if list.is_null() {
        return;
    }
    // SAFETY: made by this library (Box + into_raw).
    let l = unsafe { Box::from_raw(list) };
    for p in unsafe { from_raw(l.items, l.len) } {
        free_process(&p);
    }
}

/// Frees a verdict list and its strings. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_verdict_list_free(list: *mut procreap_verdict_list) {
    if list.is_null() {
        return;
    }
    // SAFETY: made by this library (Box + into_raw).
    let l = unsafe { Box::from_raw(list) };
    for v in unsafe { from_raw(l.items, l.len) } {
        free_process(&v.process);
        free_c_string(v.reason);
    }
}

/// Frees an action list and its strings. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_action_list_free(list: *mut procreap_action_list) {
    if list.is_null() {
        return;
    }
    // SAFETY: made by this library (Box + into_raw).
    let l = unsafe { Box::from_raw(list) };
    for a in unsafe { from_raw(l.items, l.len) } {
        free_process(&a.process);
        free_c_string(a.reason);
        free_c_string(a.error);
    }
}
