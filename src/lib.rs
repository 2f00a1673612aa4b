//! procreap: find AI-agent processes that outlived their sessions (orphans
//! and zombies) and reap them safely — SIGTERM, a grace period, SIGKILL — one
//! step per call, every signal tied to a process identity and re-verified
//! immediately before it is sent.
//!
//! Data flows one way: [`Config`] → a facts source (`snapshot`, reading
//! `/proc` or `ps`) → the pure rules ([`classify`]) → the [`Scan`] object
//! (read-only answers) or [`cleanup`] (re-read, record, pin, signal).
//! The C ABI lives in [`ffi`] and holds no logic.
//!
//! ```
//! use std::time::Duration;
//!
//! // Gas Town's defaults, narrowed to a name nothing runs under.
//! let cfg = procreap::Config {
//!     agent_names: vec!["prt-doc-example".into()],
//!     min_age: Duration::from_secs(120),
//!     ..procreap::Config::default()
//! };
//! // Scanning is read-only: nothing is signalled.
//! for v in procreap::explain(&cfg)? {
//!     println!("{} {} {}: {}", v.process.id.pid, v.process.name, v.verdict, v.reason);
//! }
//! // One scan, several questions.
//! let scan = procreap::Scan::new(&cfg)?;
//! assert!(scan.orphans()?.is_empty());
//! assert!(scan.leaked()?.is_empty());
//! assert!(procreap::find_orphans(&cfg)?.is_empty());
//! // One cleanup step would be `procreap::cleanup_step(&cfg, procreap::Kind::Orphans)`.
//! # Ok::<(), procreap::Error>(())
//! ```

// Off Unix the engine is compiled out (every entry point answers
// "unsupported"), which leaves its helpers unused there.
#![cfg_attr(not(unix), allow(dead_code))]

pub mod classify;
pub mod cleanup;
mod cmd;
pub mod config;
pub mod error;
pub mod ffi;
pub mod ledger;
pub mod process;
#[cfg(target_os = "linux")]
mod procfs;
#[cfg(not(target_os = "linux"))]
#[path = "procfs_stub.rs"]
mod procfs;
pub mod ps;
#[doc(hidden)]
pub mod reader;
mod scan;
pub mod signal;
mod snapshot;
pub mod tmux;
pub mod workspace;

pub use classify::{Kind, ProcessInfo, Verdict, VerdictKind};
pub use cleanup::{cleanup_step, reap_now, reap_set, Action, ActionKind, Delivery, Report};
pub use config::{Argv0Match, Backend, Config};
pub use error::{Error, Result};
pub use process::{parse_stat, Comm, Identity, Stat, StatLine, Tty};
pub use scan::Scan;
pub use signal::Sig;

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Runs `work` on `path` — which may lie on a mount that stopped answering
/// (a home on NFS, a FUSE filesystem) — within `limit`: on Linux on a
/// reader thread ([`reader::bounded_path`]), elsewhere directly. `Err` says
/// why it did not finish.
pub(crate) fn within<T, W>(
    path: &std::path::Path,
    limit: std::time::Duration,
    work: W,
) -> std::result::Result<T, String>
where
    T: Send + 'static,
    W: Fn() -> T + Clone + Send + 'static,
{
    #[cfg(target_os = "linux")]
    {
        reader::bounded_path(path, limit, work).map_err(|e| e.why_text())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, limit);
        Ok(work())
    }
}

/// Agent processes that are orphans (SPEC §1).
pub fn find_orphans(cfg: &Config) -> Result<Vec<ProcessInfo>> {
    Scan::new(cfg)?.candidates(Kind::Orphans)
}

/// Agent processes that are zombies (SPEC §1): the orphan test, refusing to
/// run blind.
pub fn find_zombies(cfg: &Config) -> Result<Vec<ProcessInfo>> {
    Scan::new(cfg)?.candidates(Kind::Zombies)
}

/// Processes an agent left behind when it died (leaked descendants). Needs
/// the `/proc` backend: the `ps` backend cannot read environments and
/// answers [`Error::Unsupported`].
pub fn find_leaked(cfg: &Config) -> Result<Vec<ProcessInfo>> {
    Scan::new(cfg)?.candidates(Kind::Leaked)
}

/// Every agent process and every marker process with its verdict and reason.
pub fn explain(cfg: &Config) -> Result<Vec<Verdict>> {
    Scan::new(cfg)?.explain()
}
