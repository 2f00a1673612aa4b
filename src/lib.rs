//! procreap: find AI-agent processes that outlived their sessions (orphans
//! and zombies) and reap them safely — SIGTERM, a grace period, SIGKILL — one
//! step per call, every signal tied to a process identity and re-verified
//! immediately before it is sent.
//!
//! Data flows one way: [`Config`] → [`snapshot`] → [`classify`] → [`cleanup`].
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
#[cfg(target_os = "linux")]
mod procfs;
#[cfg(not(target_os = "linux"))]
#[path = "procfs_stub.rs"]
mod procfs;
pub mod ps;
pub mod reader;
pub mod signal;
pub mod snapshot;
pub mod tmux;
pub mod workspace;

pub use classify::{Kind, ProcessInfo, Scan, Verdict, VerdictKind};
pub use cleanup::{cleanup_step, reap_now, reap_set, Action, ActionKind, Delivery, Report};
pub use config::{Argv0Match, Backend, Config};
pub use error::{Error, Result};
pub use signal::Sig;
pub use snapshot::{parse_stat, Identity, Proc, Snapshot, StatLine, Tty};

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Agent processes that are orphans (SPEC §1).
pub fn find_orphans(cfg: &Config) -> Result<Vec<ProcessInfo>> {
    Scan::new(cfg)?.candidates(Kind::Orphans)
}

/// Agent processes that are zombies (SPEC §1): the orphan test, refusing to
/// run blind.
pub fn find_zombies(cfg: &Config) -> Result<Vec<ProcessInfo>> {
    Scan::new(cfg)?.candidates(Kind::Zombies)
}

/// Processes an agent left behind when it died (leaked descendants).
pub fn find_leaked(cfg: &Config) -> Result<Vec<ProcessInfo>> {
    Scan::new(cfg)?.candidates(Kind::Leaked)
}

/// Every agent process with its verdict and reason.
pub fn explain(cfg: &Config) -> Result<Vec<Verdict>> {
    Ok(Scan::new(cfg)?.explain())
}
