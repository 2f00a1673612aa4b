//! The crate's one error type, mapped once to C status codes in `ffi`.

use std::io;

/// Everything that can go wrong in procreap.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller passed a value that cannot be used (bad name, bad duration, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Reading or writing a file failed.
    #[error("i/o error: {context}: {source}")]
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
    /// An equal error (for an error kept and reported again, e.g. a table
    /// that could not be listed, asked for by several questions).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { context, source } => Error::Io {
                context: context.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::Permission(m) => Error::Permission(m.clone()),
            Error::UnsafeStatePath(m) => Error::UnsafeStatePath(m.clone()),
            Error::TmuxUnavailable(m) => Error::TmuxUnavailable(m.clone()),
            Error::TmuxFailed(m) => Error::TmuxFailed(m.clone()),
            Error::LedgerCorrupt(m) => Error::LedgerCorrupt(m.clone()),
            Error::LockTimeout(m) => Error::LockTimeout(m.clone()),
            Error::SignalFailed(m) => Error::SignalFailed(m.clone()),
            Error::PidNamespace(m) => Error::PidNamespace(m.clone()),
            Error::Unsupported(m) => Error::Unsupported(m.clone()),
            Error::Command(m) => Error::Command(m.clone()),
        }
    }

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
