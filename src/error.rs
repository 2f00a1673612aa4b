//! The crate's one error type, mapped once to C status codes in `ffi`.

use std::io;

/// Everything that can go wrong in procreap.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller passed a value that cannot be used (bad name, bad duration, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The operating system refused (EPERM/EACCES) where procreap needed access.
    #[error("permission denied: {0}")]
    Permission(String),
    /// The state directory or ledger file is not safe to trust (symlink,
    /// foreign owner, writable by others).
    #[error("unsafe state path: {0}")]
    UnsafeStatePath(String),
    /// A zombie scan refuses to run blind: nothing is protected and no tmux
    /// server runs.
    #[error("tmux unavailable: {0}")]
    TmuxUnavailable(String),
    /// A tmux query failed or timed out; never treated as "no panes".
    #[error("tmux query failed: {0}")]
    TmuxFailed(String),
    /// The ledger was corrupt, truncated, oversized or foreign; it was moved aside.
    #[error("ledger corrupt: {0}")]
    LedgerCorrupt(String),
    /// The ledger lock was not obtained within `lock_timeout`.
    #[error("lock timeout: {0}")]
    LockTimeout(String),
    /// One or more signals of a step failed; the other actions were taken.
    #[error("signal failed: {0}")]
    SignalFailed(String),
    /// The `/proc` procreap reads belongs to another pid namespace than the
    /// caller: its pids are not the ones signals would reach.
    #[error("foreign pid namespace: {0}")]
    PidNamespace(String),
    /// The platform has no backend (e.g. Windows).
    #[error("unsupported platform: {0}")]
    Unsupported(String),
    /// An external command (ps, lsof, tmux) could not be run or parsed.
    #[error("external command failed: {0}")]
    Command(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        let context = context.into();
        match source.kind() {
            io::ErrorKind::PermissionDenied => Error::Permission(format!("{context}: {source}")),
            _ => Error::Io { context, source },
        }
    }
}

/// Shorthand for procreap results.
pub type Result<T> = std::result::Result<T, Error>;
