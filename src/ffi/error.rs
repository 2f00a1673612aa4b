//! Status codes and the error object.

use std::any::Any;
use std::ffi::c_char;

use crate::error::Error;
use crate::ffi::{c_string, free_c_string};

/// Status of every fallible call. `PROCREAP_STATUS_OK` is 0.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_status {
    /// Success.
    Ok = 0,
    /// A required pointer parameter was NULL.
    NullParameter = 1,
    /// A parameter had an unusable value (bad name, invalid UTF-8, unknown kind, …).
    InvalidArgument = 2,
    /// Reading or writing a file failed.
    Io = 3,
    /// The operating system refused access.
    Permission = 4,
    /// The state directory or ledger is a symlink, foreign, or writable by others.
    UnsafeStatePath = 5,
    /// A zombie scan would be blind: no tmux server and nothing protected.
    TmuxUnavailable = 6,
    /// A tmux query failed or timed out.
    TmuxFailed = 7,
    /// The ledger could not be trusted; it was moved aside (no SIGKILL this step).
    LedgerCorrupt = 8,
    /// The ledger lock was not obtained within the lock timeout.
    LockTimeout = 9,
    /// Some signals failed; the action list holds what was done.
    SignalFailed = 10,
    /// An external command (ps, lsof) failed.
    CommandFailed = 11,
    /// The platform is not supported.
    UnsupportedPlatform = 12,
    /// A bug: a Rust panic was caught at the boundary.
    Panic = 13,
    /// The /proc procreap reads belongs to another pid namespace than the
    /// caller (a container's /proc mounted in): its pids are not the ones
    /// signals would reach.
    PidNamespace = 14,
}

const STATUS_NAMES: [&str; 15] = [
    "ok\0",
    "null parameter\0",
    "invalid argument\0",
    "i/o error\0",
    "permission denied\0",
    "unsafe state path\0",
    "tmux unavailable\0",
    "tmux query failed\0",
    "ledger corrupt\0",
    "lock timeout\0",
    "signal failed\0",
    "external command failed\0",
    "unsupported platform\0",
    "panic\0",
    "foreign pid namespace\0",
];

/// A short description of any status value; unknown values give
/// "unknown status". The string is static: do not free it.
#[no_mangle]
pub extern "C" fn procreap_status_str(status: u32) -> *const c_char {
    STATUS_NAMES
        .get(status as usize)
        .copied()
        .unwrap_or("unknown status\0")
        .as_ptr()
        .cast()
}

impl procreap_status {
    /// The status an error maps to (the one mapping; the CLI uses it too).
    pub fn of(e: &Error) -> procreap_status {
        match e {
            Error::InvalidArgument(_) => procreap_status::InvalidArgument,
            Error::Io { .. } => procreap_status::Io,
            Error::Permission(_) => procreap_status::Permission,
            Error::UnsafeStatePath(_) => procreap_status::UnsafeStatePath,
            Error::TmuxUnavailable(_) => procreap_status::TmuxUnavailable,
            Error::TmuxFailed(_) => procreap_status::TmuxFailed,
            Error::LedgerCorrupt(_) => procreap_status::LedgerCorrupt,
            Error::LockTimeout(_) => procreap_status::LockTimeout,
            Error::SignalFailed(_) => procreap_status::SignalFailed,
            Error::Unsupported(_) => procreap_status::UnsupportedPlatform,
            Error::PidNamespace(_) => procreap_status::PidNamespace,
            Error::Command(_) => procreap_status::CommandFailed,
        }
    }
}

/// A failure on its way to C.
pub struct Failure {
    status: procreap_status,
    message: String,
}

impl Failure {
    pub(crate) fn null(what: &str) -> Failure {
        Failure {
            status: procreap_status::NullParameter,
            message: format!("null parameter: {what} is NULL"),
        }
    }

    /// An invalid argument; the message gets its one category prefix from
    /// [`Error`]'s `Display`, like every other message.
    pub(crate) fn invalid(message: String) -> Failure {
        Error::InvalidArgument(message).into()
    }

    pub(crate) fn from_panic(p: Box<dyn Any + Send>) -> Failure {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Failure {
            status: procreap_status::Panic,
            message: format!("procreap panicked (a bug): {what}"),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            status: procreap_status::of(&e),
            message: e.to_string(),
        }
    }
}

/// Error detail: a status code and a message.
pub struct procreap_error {
    code: procreap_status,
    message: *mut c_char,
}

pub(crate) fn report(err: *mut *mut procreap_error, f: Failure) -> procreap_status {
    if !err.is_null() {
        let e = procreap_error {
            code: f.status,
            message: c_string(&f.message),
        };
        // SAFETY: non-NULL out-pointer from the caller.
        unsafe { *err = Box::into_raw(Box::new(e)) };
    }
    f.status
}

/// The status code of an error (0 for NULL).
#[no_mangle]
pub extern "C" fn procreap_error_code(err: *const procreap_error) -> u32 {
    // SAFETY: NULL or a pointer from this library.
    unsafe { err.as_ref() }.map_or(0, |e| e.code as u32)
}

/// The error's message, valid until `procreap_error_free`. NULL for NULL.
#[no_mangle]
pub extern "C" fn procreap_error_message(err: *const procreap_error) -> *const c_char {
    // SAFETY: NULL or a pointer from this library.
    unsafe { err.as_ref() }.map_or(std::ptr::null(), |e| e.message)
}

/// Frees an error. Accepts NULL; do not free the same error twice.
#[no_mangle]
pub extern "C" fn procreap_error_free(err: *mut procreap_error) {
    if !err.is_null() {
        // SAFETY: made by Box::into_raw in `report`.
        let e = unsafe { Box::from_raw(err) };
        free_c_string(e.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: procreap_status) -> &'static str {
        let p = procreap_status_str(s as u32);
        // SAFETY: a static NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap()
    }

    /// Issue 10 item 11: every message reaching C starts with exactly one
    /// category, the status's own name ("invalid argument: …"), and the
    /// rest does not repeat one.
    #[test]
    fn every_message_carries_exactly_one_category_prefix() {
        let io = || std::io::Error::other("disk on fire");
        let all: Vec<Failure> = vec![
            Error::InvalidArgument("bad name".into()).into(),
            Error::io("writing the ledger", io()).into(),
            Error::io(
                "opening the state dir",
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            )
            .into(),
            Error::UnsafeStatePath("state dir is a symlink".into()).into(),
            Error::TmuxUnavailable("blind".into()).into(),
            Error::TmuxFailed("socket x".into()).into(),
            Error::LedgerCorrupt("garbage".into()).into(),
            Error::LockTimeout("held".into()).into(),
            Error::SignalFailed("EPERM".into()).into(),
            Error::PidNamespace("/proc is another's".into()).into(),
            Error::Unsupported("windows".into()).into(),
            Error::Command("ps".into()).into(),
            Failure::invalid("names is not valid UTF-8".into()),
            Failure::null("out"),
            Failure::from_panic(Box::new("boom")),
        ];
        let names: Vec<&str> = (0..=procreap_status::PidNamespace as u32)
            .map(|s| {
                // SAFETY: static strings.
                unsafe { std::ffi::CStr::from_ptr(procreap_status_str(s)) }
                    .to_str()
                    .unwrap()
            })
            .collect();
        for f in all {
            let prefix = format!("{}: ", name(f.status));
            assert!(
                f.message.starts_with(&prefix) || f.status == procreap_status::Panic,
                "{:?}: {}",
                f.status,
                f.message
            );
            let rest = f.message.strip_prefix(&prefix).unwrap_or(&f.message);
            assert!(
                !names.iter().any(|n| rest.starts_with(&format!("{n}:"))),
                "two categories: {}",
                f.message
            );
        }
    }
}
