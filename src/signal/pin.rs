//! The Unix half of [`crate::signal`]: pinning a process and signalling it
//! through the pin.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::Sig;
use crate::process::{Identity, Stat};
use crate::snapshot::{read_now, Source};

fn number(sig: Sig) -> libc::c_int {
    match sig {
        Sig::Term => libc::SIGTERM,
        Sig::Kill => libc::SIGKILL,
        Sig::Cont => libc::SIGCONT,
    }
}

/// How a signal attempt ended.
#[derive(Debug)]
pub(crate) enum Sent {
    /// Delivered to the verified process (fresh view of it attached).
    Done(Stat, Target),
    /// The re-verification failed: nothing was sent.
    Skipped(String),
    /// The identity no longer exists.
    Gone,
    /// The kernel refused (EPERM, …).
    Failed(std::io::Error),
}

/// A process pinned for signalling and waiting.
#[derive(Debug)]
pub(crate) struct Target {
    id: Identity,
    source: Source,
    timeout: Duration,
    pidfd: Option<OwnedFd>,
}

#[cfg(target_os = "linux")]
fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; we own it.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: i32) -> std::io::Result<OwnedFd> {
    Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
}

/// The pid a pidfd refers to, as *our* `/proc` numbers it (`Pid:` in its
/// fdinfo, Linux ≥ 5.6); `None` where the kernel does not say.
#[cfg(target_os = "linux")]
fn pidfd_pid(fd: &OwnedFd) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Checks that `fd` pins the process our `/proc` calls `pid`.
#[cfg(target_os = "linux")]
fn same_pid(fd: &OwnedFd, pid: i32) -> Result<(), Unpinned> {
    match pidfd_pid(fd) {
        Some(p) if p == pid => Ok(()),
        None => Ok(()),
        // The kernel says -1 once the process has exited (it may have
        // between pidfd_open and this read): gone, not a namespace problem.
        Some(-1) => Err(Unpinned::Gone),
        Some(p) => Err(Unpinned::Refused(format!(
            "pid {pid} of this /proc is pid {p} in our pid namespace: /proc belongs to another namespace"
        ))),
    }
}

/// Why a process could not be pinned.
enum Unpinned {
    Gone,
    /// Only on Linux: the pidfd names another process than our `/proc` does.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Refused(String),
    Failed(std::io::Error),
}

impl Target {
    /// Pins `id`. Without `require_pidfd`, a refused `pidfd_open` falls back
    /// to re-checking the identity right before `kill(2)`.
    fn open(
        id: Identity,
        source: Source,
        timeout: Duration,
        require_pidfd: bool,
    ) -> Result<Target, Unpinned> {
        let pidfd = match pidfd_open(id.pid) {
            Ok(fd) => Some(fd),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(Unpinned::Gone),
            // No pidfds here (old kernel, another Unix) or forbidden by a
            // seccomp filter.
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM))
                    && require_pidfd =>
            {
                return Err(Unpinned::Refused(format!(
                    "no pidfd (pidfd_open: {e}) and require_pidfd is set: kill(2) could reach a recycled pid"
                )))
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => None,
            // Anything else (EMFILE, ENOMEM, …) is a failure, not a reason
            // to give up the pin.
            Err(e) => return Err(Unpinned::Failed(e)),
        };
        // The pidfd comes from our pid namespace, the identity from /proc:
        // they must name the same process.
        #[cfg(target_os = "linux")]
        if let Some(fd) = &pidfd {
            same_pid(fd, id.pid)?;
        }
        Ok(Target {
            id,
            source,
            timeout,
            pidfd,
        })
    }

    /// Which path a signal takes.
    pub(crate) fn delivery(&self) -> crate::cleanup::Delivery {
        match self.pidfd {
            Some(_) => crate::cleanup::Delivery::Pidfd,
            None => crate::cleanup::Delivery::Kill,
        }
    }

    fn send(&self, sig: Sig) -> std::io::Result<()> {
        let rc = match &self.pidfd {
            #[cfg(target_os = "linux")]
            Some(fd) => {
                // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        number(sig),
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                }
            }
            #[cfg(not(target_os = "linux"))]
            Some(_) => unreachable!("no pidfds off Linux"),
            None => {
                // No pidfd: the identity was re-read just before; check once more.
                match read_now(self.source, self.timeout, self.id.pid) {
                    Some((p, _)) if p.id == self.id => {}
                    _ => return Err(std::io::Error::from_raw_os_error(libc::ESRCH)),
                }
                // SAFETY: plain kill(2).
                unsafe { libc::kill(self.id.pid, number(sig)) as libc::c_long }
            }
        };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// True once the process has exited (defunct or gone).
    fn exited(&self) -> bool {
        if let Some(fd) = &self.pidfd {
            let mut p = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, zero timeout.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            return n > 0;
        }
        match read_now(self.source, self.timeout, self.id.pid) {
            Some((p, _)) => p.id != self.id || p.is_defunct(),
            None => true,
        }
    }
}

/// Pins `id`, runs `verify` (which must re-read the process afresh), then
/// sends `sig` through the pin. A stopped process also gets SIGCONT after a
/// SIGTERM, so it can act on it.
pub(crate) fn send(
    id: Identity,
    sig: Sig,
    source: Source,
    timeout: Duration,
    require_pidfd: bool,
    verify: impl FnOnce() -> Result<Stat, String>,
) -> Sent {
    let target = match Target::open(id, source, timeout, require_pidfd) {
        Ok(t) => t,
        Err(Unpinned::Gone) => return Sent::Gone,
        Err(Unpinned::Refused(why)) => return Sent::Skipped(why),
        Err(Unpinned::Failed(e)) => return Sent::Failed(e),
    };
    let fresh = match verify() {
        Ok(p) => p,
        Err(why) => return Sent::Skipped(why),
    };
    if let Err(e) = target.send(sig) {
        return match e.raw_os_error() {
            Some(libc::ESRCH) => Sent::Gone,
            _ => Sent::Failed(e),
        };
    }
    if sig == Sig::Term && matches!(fresh.state, 'T' | 't') {
        let _ = target.send(Sig::Cont);
    }
    Sent::Done(fresh, target)
}

/// Waits until every target has exited or `deadline` passes; returns which
/// exited (by index).
pub(crate) fn wait_exit(targets: &[&Target], deadline: Instant) -> Vec<bool> {
    let mut done: Vec<bool> = targets.iter().map(|t| t.exited()).collect();
    while done.iter().any(|d| !d) && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds: Vec<libc::pollfd> = targets
            .iter()
            .zip(&done)
            .filter(|(_, d)| !**d)
            .filter_map(|(t, _)| t.pidfd.as_ref())
            .map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let all_pinned = fds.len() == done.iter().filter(|d| !**d).count();
        let ms = if all_pinned {
            left.as_millis().min(1000)
        } else {
            left.as_millis().min(20)
        } as i32;
        if fds.is_empty() {
            std::thread::sleep(Duration::from_millis(ms.max(1) as u64));
        } else {
            // SAFETY: a valid array of pollfds of the given length.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms.max(1)) };
        }
        for (d, t) in done.iter_mut().zip(targets) {
            if !*d {
                *d = t.exited();
            }
        }
    }
    done
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Issue 10 item 11: a target that exits (and is reaped) between
    /// `pidfd_open` and the fdinfo check is gone, not "another namespace".
    #[test]
    fn a_target_reaped_after_pidfd_open_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Exited, not yet reaped: pidfd_open still works on it.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let fd = pidfd_open(pid).expect("pidfd_open on a zombie child");
        assert!(same_pid(&fd, pid).is_ok(), "still numbered while unreaped");
        child.wait().unwrap();
        assert!(matches!(same_pid(&fd, pid), Err(Unpinned::Gone)));
    }
}
