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
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Spawn(e) => write!(f, "could not start: {e}"),
            Failure::Wait(e) => write!(f, "could not wait for it: {e}"),
            Failure::Timeout => write!(f, "timed out"),
        }
    }
}

/// Reads a pipe to the end on a thread of its own.
fn drain(r: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

/// Runs `cmd` in a process group of its own, so that on timeout the whole
/// group (e.g. a hung shell script and its children) is killed and the pipes
/// close. Never blocks much past `timeout`.
pub(crate) fn run(mut cmd: Command, timeout: Duration) -> Result<Output, Failure> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(Failure::Spawn)?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
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
    let stdout = out.recv_timeout(left).map_err(|_| Failure::Timeout)?;
    let stderr = err
        .recv_timeout(Duration::from_millis(100))
        .unwrap_or_default();
    Ok(Output {
        success: status.success(),
        stdout,
        stderr,
    })
}
