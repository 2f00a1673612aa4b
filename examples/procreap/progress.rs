//! Progress on stderr while a command waits, when stderr is a terminal:
//! whose ledger lock it waits for, and what `reap-now` waits for and how
//! long is left. One status line, redrawn in place and erased at the end;
//! nothing at all when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use procreap::{Config, Identity};

/// How often the line is redrawn, and how long a call may take before one
/// is drawn at all (most calls finish well before).
const TICK: Duration = Duration::from_millis(100);
const QUIET_FOR: Duration = Duration::from_millis(300);

/// The ledger's lock file in the state dir (the library takes a `flock` on
/// it for the whole of a step, reap set or reap now).
const LOCK_FILE: &str = "ledger.lock";

/// Runs `work` (on a thread of its own when progress is shown) and, while it
/// runs, draws `status(elapsed)` on stderr.
pub fn run<T: Send>(
    work: impl FnOnce() -> T + Send,
    mut status: impl FnMut(Duration) -> Option<String>,
) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    std::thread::scope(|s| {
        let h = s.spawn(work);
        let t0 = Instant::now();
        let mut drawn = false;
        while !h.is_finished() {
            std::thread::sleep(TICK);
            let elapsed = t0.elapsed();
            if elapsed < QUIET_FOR || h.is_finished() {
                continue;
            }
            if let Some(line) = status(elapsed) {
                draw(&line);
                drawn = true;
            }
        }
        if drawn {
            draw("");
        }
        h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn draw(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r\x1b[K{line}");
    let _ = e.flush();
}

/// Who holds the ledger lock of `cfg`, if another process does.
pub struct LockWatch {
    lock: PathBuf,
    dir: PathBuf,
    timeout: Duration,
    /// When the lock was last seen held by someone else.
    pub waited_until: Option<Duration>,
}

impl LockWatch {
    pub fn new(cfg: &Config) -> LockWatch {
        LockWatch {
            lock: cfg.resolved_state_dir().join(LOCK_FILE),
            dir: cfg.resolved_state_dir(),
            timeout: cfg.lock_timeout,
            waited_until: None,
        }
    }

    /// "waiting for the ledger lock (held by pid N, NAME): Xs left", when
    /// another process holds it now.
    pub fn status(&mut self, elapsed: Duration) -> Option<String> {
        let holder = procreap::ledger::lock_holder_of(&self.dir)?;
        self.waited_until = Some(elapsed);
        let name = std::fs::read_to_string(format!("/proc/{holder}/comm")).unwrap_or_default();
        let left = self.timeout.saturating_sub(elapsed);
        Some(format!(
            "waiting for the ledger lock {} (held by pid {holder} {}): {:.1}s left",
            self.lock.display(),
            crate::output::clean(name.trim_end()),
            left.as_secs_f64()
        ))
    }
}

/// What `reap-now` waits for: the targets still alive, and the time left
/// before its SIGKILL (counted from when no one else held the lock).
pub fn reap_now_status(
    lock: &mut LockWatch,
    ids: &[Identity],
    deadline: Duration,
    elapsed: Duration,
) -> Option<String> {
    if let Some(s) = lock.status(elapsed) {
        return Some(format!("reap-now: {s}"));
    }
    let alive: Vec<String> = ids
        .iter()
        .filter(|id| running(**id))
        .map(|id| {
            let name =
                std::fs::read_to_string(format!("/proc/{}/comm", id.pid)).unwrap_or_default();
            format!("{} {}", id.pid, crate::output::clean(name.trim_end()))
        })
        .collect();
    if alive.is_empty() {
        return None;
    }
    let since = elapsed.saturating_sub(lock.waited_until.unwrap_or_default());
    let what = format!(
        "waiting for {} to exit (pid {})",
        plural(alive.len()),
        alive.join(", pid ")
    );
    Some(match deadline.checked_sub(since) {
        Some(left) => format!("reap-now: {what}: SIGKILL in {:.1}s", left.as_secs_f64()),
        None => format!("reap-now: {what}: SIGKILL sent, waiting for the kernel"),
    })
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 process".into()
    } else {
        format!("{n} processes")
    }
}

/// The process with this identity runs (not gone, not defunct).
fn running(id: Identity) -> bool {
    std::fs::read(format!("/proc/{}/stat", id.pid))
        .ok()
        .and_then(|b| procreap::parse_stat(&b))
        .is_some_and(|st| st.start_time == id.start_time && !matches!(st.state, 'Z' | 'X' | 'x'))
}
