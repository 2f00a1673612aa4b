//! Running an external command (tmux, ps, lsof) under a timeout. A timeout is
//! an error, never an empty answer.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command printed.
pub(crate) struct Output {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a command gave no output.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The program could not be started (missing binary, …).
    Spawn(std::io::Error),
    /// Waiting for it failed (e.g. the host ignores SIGCHLD, so the kernel
    /// reaped it): its outcome is unknown. Nothing was signalled.
    Wait(std::io::Error),
    /// It ran longer than the timeout (its process group was killed), or
    /// something it left behind kept its output open.
    Timeout,
    /// It printed more than [`OUTPUT_LIMIT`] bytes: a cut answer could drop
    /// a tmux pane or a process, so it is no answer.
    TooLarge,
}

/// The most a command may print on stdout (`ps -ww -o args` of a large
/// table is a few MiB).
pub(crate) const OUTPUT_LIMIT: u64 = 256 << 20;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Spawn(e) => write!(f, "could not start: {e}"),
            Failure::Wait(e) if sigchld_ignored() => write!(
                f,
                "could not wait for it ({e}): this program ignores SIGCHLD, so the kernel \
                 reaps its children before their exit status can be read; restore the default \
                 SIGCHLD disposition (SIG_DFL) to query tmux sockets"
            ),
            Failure::Wait(e) => write!(f, "could not wait for it: {e}"),
            Failure::Timeout => write!(f, "timed out"),
            Failure::TooLarge => write!(f, "printed more than {} MiB", OUTPUT_LIMIT >> 20),
        }
    }
}

/// Whether this process ignores SIGCHLD (SIG_IGN or SA_NOCLDWAIT): then
/// the kernel reaps children at once and their status is lost.
fn sigchld_ignored() -> bool {
    #[cfg(unix)]
    {
        let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: reading the current disposition only (no new action).
        let rc = unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), old.as_mut_ptr()) };
        if rc != 0 {
            return false;
        }
        // SAFETY: sigaction succeeded and filled `old`.
        let old = unsafe { old.assume_init() };
        old.sa_sigaction == libc::SIG_IGN || old.sa_flags & libc::SA_NOCLDWAIT != 0
    }
    #[cfg(not(unix))]
    false
}

/// Reads a pipe to the end (at most `limit` bytes, then `None`) on a thread
/// of its own; past the limit it keeps reading and discarding, so the writer
/// is not blocked on a full pipe.
fn drain(r: Option<impl Read + Send + 'static>, limit: u64) -> mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut whole = true;
        if let Some(mut r) = r {
            let _ = (&mut r).take(limit).read_to_end(&mut buf);
            whole = std::io::copy(&mut r, &mut std::io::sink()).is_ok_and(|n| n == 0);
        }
        let _ = tx.send(whole.then_some(buf));
    });
    rx
}

/// Runs `cmd` in a process group of its own, so that on timeout the whole
/// group (e.g. a hung shell script and its children) is killed and the pipes
/// close. Never blocks much past `timeout`.
pub(crate) fn run(cmd: Command, timeout: Duration) -> Result<Output, Failure> {
    run_limited(cmd, timeout, OUTPUT_LIMIT)
}

fn run_limited(mut cmd: Command, timeout: Duration, limit: u64) -> Result<Output, Failure> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(Failure::Spawn)?;
    let out = drain(child.stdout.take(), limit);
    let err = drain(child.stderr.take(), 1 << 20);
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                // Still our unreaped child, so its pid (= its group id) is
                // still reserved: the group is the one we started.
                #[cfg(unix)]
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                #[cfg(not(unix))]
                let _ = child.kill();
                // Reap it if it dies soon; one stuck in D state is left.
                for _ in 0..50 {
                    if !matches!(child.try_wait(), Ok(None)) {
                        break;
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                return Err(Failure::Timeout);
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(Failure::Wait(e)),
        }
    };
    // The pipes close when the command and whatever it left behind are done.
    let left = timeout.saturating_sub(start.elapsed()) + Duration::from_millis(100);
    let stdout = out
        .recv_timeout(left)
        .map_err(|_| Failure::Timeout)?
        .ok_or(Failure::TooLarge)?;
    let stderr = err
        .recv_timeout(Duration::from_millis(100))
        .ok()
        .flatten()
        .unwrap_or_default();
    Ok(Output {
        success: status.success(),
        stdout,
        stderr,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn head(bytes: u32) -> Command {
        let mut c = Command::new("head");
        c.args(["-c", &bytes.to_string(), "/dev/zero"]);
        c
    }

    /// Output past the limit is an error, never a cut answer.
    #[test]
    fn output_over_the_limit_is_too_large() {
        let t = Duration::from_secs(10);
        let ok = run_limited(head(4096), t, 4096).unwrap();
        assert!(ok.success && ok.stdout.len() == 4096);
        assert!(matches!(
            run_limited(head(4097), t, 4096),
            Err(Failure::TooLarge)
        ));
        // Far past the limit: the writer is drained, not left blocked.
        assert!(matches!(
            run_limited(head(8 << 20), t, 4096),
            Err(Failure::TooLarge)
        ));
    }
}
