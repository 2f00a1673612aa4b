//! One cleanup step (SPEC §3), reap set and reap now: the reports here, the
//! engine (Unix only) in `cleanup/engine.rs`, where every path re-verifies
//! and then signals through the identity pin.

use std::fmt;
use std::time::Duration;

use crate::classify::{Kind, ProcessInfo};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::process::Identity;
use crate::signal::Sig;

#[cfg(unix)]
mod engine;

/// What a step did (or, in a dry run, would do) to one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// SIGTERM sent to a new candidate.
    Sigterm,
    /// SIGTERM sent earlier; the grace period is not over.
    Waiting,
    /// SIGKILL sent after the grace period.
    Sigkill,
    /// SIGKILL sent earlier and the process still lives.
    Unkillable,
    /// The process is gone, or defunct (its parent must reap it).
    Exited,
    /// No longer a candidate (adopted by tmux, got a TTY, …): dropped, left alone.
    Released,
    /// A check failed just before a signal, so none was sent.
    Skipped,
}

impl ActionKind {
    /// Every action, in C enum order.
    pub const ALL: [ActionKind; 7] = [
        ActionKind::Sigterm,
        ActionKind::Waiting,
        ActionKind::Sigkill,
        ActionKind::Unkillable,
        ActionKind::Exited,
        ActionKind::Released,
        ActionKind::Skipped,
    ];

    /// The action's fixed name (`sigterm`, `waiting`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Sigterm => "sigterm",
            ActionKind::Waiting => "waiting",
            ActionKind::Sigkill => "sigkill",
            ActionKind::Unkillable => "unkillable",
            ActionKind::Exited => "exited",
            ActionKind::Released => "released",
            ActionKind::Skipped => "skipped",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a signal reached its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    /// Nothing was sent (or a dry run).
    #[default]
    None,
    /// Through a pidfd pinned before the last check: it cannot reach a
    /// recycled pid.
    Pidfd,
    /// Through `kill(2)` after re-checking the identity, where pidfds are
    /// refused (old kernel, seccomp, another Unix): a small pid-reuse window
    /// remains between the check and the signal.
    Kill,
}

impl Delivery {
    /// Every value, in C enum order.
    pub const ALL: [Delivery; 3] = [Delivery::None, Delivery::Pidfd, Delivery::Kill];

    /// `none`, `pidfd` or `kill`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::None => "none",
            Delivery::Pidfd => "pidfd",
            Delivery::Kill => "kill",
        }
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reported action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The process it concerns.
    pub process: ProcessInfo,
    /// What happened.
    pub action: ActionKind,
    /// The signal sent (in a dry run: that would be sent), if any.
    pub signal: Option<Sig>,
    /// Why: seconds left, the failed check, the parent that must reap, …
    pub reason: String,
    /// The error, when a signal failed.
    pub error: Option<String>,
    /// How the signal was delivered ([`Delivery::None`] when none was sent).
    pub delivery: Delivery,
    /// A dry run: the signal, if any, was decided but not sent.
    pub dry_run: bool,
}

/// The result of a step. `error` is set when the step ran but something went
/// wrong on the way (a signal failed, the ledger was untrusted or could not
/// be saved): the actions taken are still all here.
#[derive(Debug, Default)]
pub struct Report {
    /// Everything done, in order.
    pub actions: Vec<Action>,
    /// A problem that did not stop the step.
    pub error: Option<Error>,
    /// When the next step has something to do (a grace period running out,
    /// a too-young candidate reaching `min_age`, an unkillable re-check),
    /// from the end of this one; `None` when nothing is pending.
    pub next_due: Option<Duration>,
    /// Resident memory, measured when procreap signalled them, of the
    /// processes this call saw exit after procreap's signals.
    pub reclaimed_bytes: u64,
}

/// One cleanup step (SPEC §3) for `kind`.
pub fn cleanup_step(cfg: &Config, kind: Kind) -> Result<Report> {
    #[cfg(unix)]
    return engine::run(cfg, kind, None);
    #[cfg(not(unix))]
    return unsupported(cfg, kind);
}

/// Cleans up exactly `ids` (each must still be a candidate), nothing else:
/// for a list a person approved. Uses the shared ledger, so repeated calls
/// escalate SIGTERM → SIGKILL like steps do.
pub fn reap_set(cfg: &Config, ids: &[Identity]) -> Result<Report> {
    #[cfg(unix)]
    return engine::run(cfg, Kind::Orphans, Some(ids));
    #[cfg(not(unix))]
    return unsupported(cfg, ids);
}

/// SIGTERM, wait for exit up to `deadline`, then SIGKILL, synchronously, for
/// shutdown paths. Each identity must still be a candidate. Holds the ledger
/// lock while it runs and leaves the ledger for steps to go on from: what it
/// reaped is dropped, a survivor of its SIGKILL is tracked (steps report it
/// `unkillable`), and descendants it signalled (`kill_tree`) are tracked.
pub fn reap_now(cfg: &Config, ids: &[Identity], deadline: Duration) -> Result<Report> {
    #[cfg(unix)]
    return engine::reap_now(cfg, ids, deadline);
    #[cfg(not(unix))]
    return unsupported(cfg, (ids, deadline));
}

#[cfg(not(unix))]
fn unsupported<T>(_cfg: &Config, _args: T) -> Result<Report> {
    Err(Error::Unsupported("signalling needs a Unix".into()))
}
