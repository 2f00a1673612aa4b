//! Ctrl-C, SIGTERM and SIGHUP as a request to stop, for the commands that
//! run until stopped (`watch`) or clean up after themselves (`demo`): the
//! handler only notes the signal and wakes a sleeper through a pipe, so
//! whatever runs (a cleanup step) finishes first, and a signal that
//! arrives just before a sleep still ends it at once.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The signal that asked us to stop (0: none yet).
static CAUGHT: AtomicI32 = AtomicI32::new(0);
/// The write end of the wake-up pipe (-1 until [`catch`]).
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Its read end, which sleepers poll.
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
    let fd = WAKE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; a full pipe already wakes.
        unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
    }
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (once per process).
pub fn catch() -> Result<(), String> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    if WAKE_READ.load(Ordering::SeqCst) < 0 {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(format!(
                "creating a pipe: {}",
                std::io::Error::last_os_error()
            ));
        }
        WAKE_READ.store(fds[0], Ordering::SeqCst);
        WAKE_WRITE.store(fds[1], Ordering::SeqCst);
    }
    // SA_RESTART: the library's system calls go on; poll(2) in `sleep`
    // is interrupted all the same.
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic and writes to a pipe.
        unsafe { sigaction(s, &act) }.map_err(|e| format!("catching {s}: {e}"))?;
    }
    Ok(())
}

/// The signal that asked us to stop, if one did.
pub fn caught() -> Option<&'static str> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGHUP => Some("SIGHUP"),
        _ => Some("a signal"),
    }
}

/// Sleeps for `d`, or less when asked to stop; returns whether we were.
pub fn sleep(d: Duration) -> bool {
    let end = Instant::now() + d;
    let fd = WAKE_READ.load(Ordering::SeqCst);
    loop {
        if caught().is_some() {
            return true;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        // Rounded up, so that we never wake just before `end`.
        let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
        if fd < 0 {
            std::thread::sleep(Duration::from_millis(ms as u64));
            continue;
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd; the result is only a wake-up.
        unsafe { libc::poll(&mut p, 1, ms) };
    }
}
