//! `procreap demo`: a throw-away agent of its own (private name, temp
//! workspace and state dir) is found, signalled and reaped; nothing else is
//! touched.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::os::unix::fs::{symlink, DirBuilderExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use procreap::{ActionKind, Backend, Config, Kind, Scan, Verdict, VerdictKind};

use crate::args::{EXIT_OK, EXIT_PARTIAL};
use crate::commands::{scan_sections, scan_text};
use crate::output::{action_reason, Fmt};

/// Sleeps, waking early (with an error) when the demo is interrupted.
fn pause(d: Duration) -> Result<(), String> {
    if crate::interrupt::sleep(d) {
        return Err("interrupted; the demo agent was stopped and its files removed".into());
    }
    Ok(())
}

/// Prints and flushes at once (the demo is watched live).
fn say(s: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", s.as_ref());
    let _ = out.flush();
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn random_hex(n: usize) -> String {
    // RandomState is seeded from the OS for every process.
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let s = format!("{:016x}", h.finish());
    s[..n].to_string()
}

/// How the demo agent was started.
enum Launch {
    /// Our own child: we may kill it (it cannot be recycled before we reap
    /// it) and we must reap it.
    Child(Child),
    /// Started through a short-lived `sh`, so that it is not a descendant of
    /// this process (when the demo runs inside tmux, our own descendants are
    /// rightly protected). Pinned with a pidfd on Linux; elsewhere it exits by
    /// itself after `AGENT_LIFETIME`.
    Detached { pin: Option<Pin> },
}

/// A pidfd on the detached agent (Linux), so teardown cannot hit a recycled pid.
struct Pin(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
fn pin(pid: i32, name: &str) -> Option<Pin> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags, returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this fd.
    let pin = Pin(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
    // The pid is pinned now; make sure it is our agent (it may still be the
    // `sh` that forked it, just before its exec).
    exec_done(pid, name, Duration::from_secs(2)).then_some(pin)
}

/// Waits until `pid` runs as `name` with its argv in place: right after a
/// fork it still has its parent's name, and the kernel sets the new name
/// before it fills in argv (procreap rightly judges a process without argv
/// as unknown). Elsewhere than Linux there is nothing to wait for.
fn exec_done(pid: i32, name: &str, timeout: Duration) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if comm.trim_end() == name && !argv.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(not(target_os = "linux"))]
fn pin(_pid: i32, _name: &str) -> Option<Pin> {
    None
}

impl Pin {
    fn kill(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a pidfd we own, SIGKILL, no siginfo, no flags.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    self.0.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
    }
}

/// How long the demo agent lives at most on its own (bounds any leak if the
/// demo itself is SIGKILLed).
const AGENT_LIFETIME: &str = "60";

/// The demo's private world. Dropping it stops the agent (if still running)
/// and removes every file, also on error or interrupt.
struct DemoWorld {
    dir: PathBuf,
    town: PathBuf,
    rig: PathBuf,
    name: String,
    exe: PathBuf,
    /// argv[0] override for a busybox `sleep`, which dispatches on argv[0].
    argv0: Option<&'static str>,
    agent: Option<Launch>,
}

impl DemoWorld {
    fn create() -> Result<DemoWorld, String> {
        let suffix = random_hex(6);
        let name = format!("prt-demo-{suffix}"); // 15 chars: all of it fits in comm
        let base = std::env::temp_dir();
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        let dir = base.join(format!("procreap-demo-{suffix}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut world = DemoWorld {
            town: dir.join("town"),
            rig: dir.join("town").join("rig"),
            exe: dir.join("bin").join(&name),
            dir,
            name,
            argv0: None,
            agent: None,
        };
        world.populate()?;
        Ok(world)
    }

    fn populate(&mut self) -> Result<(), String> {
        let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
        let mayor = self.town.join("mayor");
        std::fs::create_dir_all(&mayor).map_err(|e| io(&mayor, e))?;
        std::fs::create_dir_all(&self.rig).map_err(|e| io(&self.rig, e))?;
        let marker = mayor.join("town.json");
        std::fs::write(&marker, "{\"demo\": true}\n").map_err(|e| io(&marker, e))?;
        let bin = self.dir.join("bin");
        std::fs::create_dir_all(&bin).map_err(|e| io(&bin, e))?;
        let sleep = ["/bin/sleep", "/usr/bin/sleep"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("no sleep binary in /bin or /usr/bin")?;
        let real = std::fs::canonicalize(&sleep).unwrap_or(sleep.clone());
        if real.file_name().is_some_and(|n| n == "busybox") {
            self.argv0 = Some("sleep");
        }
        // The kernel names a process after the file it executes: the symlink.
        symlink(&sleep, &self.exe).map_err(|e| io(&self.exe, e))?;
        Ok(())
    }

    /// Starts the agent as our child: own session (no controlling terminal),
    /// cwd in the workspace, stdio on /dev/null, SIGTERM ignored.
    fn launch_child(&mut self) -> Result<i32, String> {
        let mut c = Command::new(&self.exe);
        c.arg(AGENT_LIFETIME)
            .current_dir(&self.rig)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(a) = self.argv0 {
            c.arg0(a);
        }
        // SAFETY: setsid and signal are async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Ignored signals stay ignored across exec: the agent shrugs
                // off SIGTERM, so the demo shows the escalation to SIGKILL.
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                Ok(())
            });
        }
        let child = c
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.exe.display()))?;
        let pid = child.id() as i32;
        self.agent = Some(Launch::Child(child));
        if !exec_done(pid, &self.name, Duration::from_secs(5)) {
            return Err(format!("the demo agent (pid {pid}) did not start"));
        }
        Ok(pid)
    }

    /// Starts the agent through a short-lived `sh` (see [`Launch::Detached`]).
    fn launch_detached(&mut self) -> Result<i32, String> {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg("trap '' TERM; \"$0\" \"$1\" </dev/null >/dev/null 2>&1 & echo $!")
            .arg(&self.exe)
            .arg(AGENT_LIFETIME)
            .current_dir(&self.rig)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = c
            .output()
            .map_err(|e| format!("starting /bin/sh for the detached agent: {e}"))?;
        let pid: i32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| "the detached agent's pid was not reported".to_string())?;
        let pin = pin(pid, &self.name);
        if cfg!(target_os = "linux") && pin.is_none() {
            return Err(format!("the detached agent (pid {pid}) did not start"));
        }
        self.agent = Some(Launch::Detached { pin });
        Ok(pid)
    }

    /// Stops the agent we started (our unreaped child, or the pinned detached
    /// one) and reaps it when it is our child.
    fn stop(&mut self) {
        match self.agent.take() {
            Some(Launch::Child(mut c)) => {
                if let Ok(None) = c.try_wait() {
                    let _ = c.kill();
                }
                let _ = c.wait();
            }
            Some(Launch::Detached { pin: Some(p) }) => p.kill(),
            _ => {}
        }
    }

    /// Reaps our defunct child; returns how it ended.
    fn reap(&mut self) -> Option<String> {
        let Some(Launch::Child(mut c)) = self.agent.take() else {
            return None;
        };
        Some(match c.wait() {
            Ok(st) => match st.signal() {
                Some(9) => "killed by SIGKILL".into(),
                Some(s) => format!("killed by signal {s}"),
                None => format!("exited with status {}", st.code().unwrap_or(-1)),
            },
            Err(e) => format!("waitpid failed: {e}"),
        })
    }
}

impl Drop for DemoWorld {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The detached agent's parent is init (or a subreaper), which must reap
/// it; waits a little for that and says what happened.
fn wait_reaped_elsewhere(cfg: &Config, pid: i32) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let vs = procreap::explain(cfg).map_err(|e| e.to_string())?;
        match ours(&vs, pid) {
            None => {
                say("                       its parent reaped it; it is gone");
                return Ok("reaped by its parent".into());
            }
            Some(v) if Instant::now() >= deadline => {
                say(format!(
                    "                       dead, but not yet reaped by its parent: {}",
                    v.reason
                ));
                return Ok("dead (its parent has yet to reap it)".into());
            }
            Some(_) => pause(Duration::from_millis(100))?,
        }
    }
}

fn header(s: &str) {
    say(format!("\n== {s}"));
}

fn ours(vs: &[Verdict], pid: i32) -> Option<&Verdict> {
    vs.iter().find(|v| v.process.id.pid == pid)
}

pub fn demo(backend: Backend) -> Result<i32, String> {
    let f = Fmt::new();
    crate::interrupt::catch()?;
    let t0 = Instant::now();
    let mut w = DemoWorld::create()?;
    let cfg = Config {
        agent_names: vec![w.name.clone()],
        min_age: Duration::from_secs(1),
        grace: Duration::from_secs(2),
        workspace_root: Some(w.town.clone()),
        state_dir: Some(w.dir.join("state")),
        backend,
        ..Config::default()
    };
    let me = std::process::id();

    say("procreap demo: a throw-away agent of our own is found, signalled and reaped.");
    say("Only a process this demo starts can match; nothing else is touched.");
    header("setup");
    say(format!(
        "  workspace   {}  (marker {})",
        w.town.display(),
        cfg.workspace_marker
    ));
    say(format!(
        "  agent       {}  -> {}  (ignores SIGTERM, no terminal, cwd {})",
        w.name,
        std::fs::read_link(&w.exe).unwrap_or_default().display(),
        w.rig.display()
    ));
    say(format!(
        "  config      agent_names=[{}] min_age=1s grace=2s workspace_root={} state_dir={}",
        w.name,
        w.town.display(),
        w.dir.join("state").display()
    ));
    say(format!("  this demo   pid {me}"));

    let mut pid = w.launch_child()?;
    let mut launched = Instant::now();
    header(&format!(
        "explain, right after starting the agent (pid {pid})"
    ));
    let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
    let v = ours(&vs, pid).ok_or("the demo agent is not visible to procreap")?;
    say(indent(&f.verdict_table(std::slice::from_ref(v))).trim_end());
    if v.verdict == VerdictKind::Protected {
        say("  -> protected, because this demo runs inside a tmux pane and everything below a");
        say("     pane is someone's live session. Restarting the agent outside our process tree.");
        w.stop();
        pid = w.launch_detached()?;
        launched = Instant::now();
        let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
        let v = ours(&vs, pid).ok_or("the detached demo agent is not visible to procreap")?;
        say(indent(&f.verdict_table(std::slice::from_ref(v))).trim_end());
        if v.verdict == VerdictKind::Protected {
            return Err(format!(
                "the demo agent is protected even when detached ({}); nothing to demonstrate here",
                v.reason
            ));
        }
    }
    say("  -> too young to touch. Waiting until it is older than min_age (1s) ...");
    pause(Duration::from_millis(1200).saturating_sub(launched.elapsed()))?;

    header("scan: orphans, zombies, leaked");
    let r = Scan::new(&cfg).map_err(|e| e.to_string())?;
    let sections = scan_sections(&r);
    say(indent(&scan_text(&f, &sections)).trim_end());
    let found = sections[0]
        .result
        .as_ref()
        .is_ok_and(|ps| ps.iter().any(|p| p.id.pid == pid));
    if !found {
        let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
        let why = ours(&vs, pid).map_or("it is gone".into(), |v| {
            format!("{}: {}", v.verdict, v.reason)
        });
        return Err(format!("the demo agent is not an orphan ({why})"));
    }

    header("explain: why it is an orphan");
    let vs = procreap::explain(&cfg).map_err(|e| e.to_string())?;
    say(indent(&f.verdict_table(&vs)).trim_end());

    header("cleanup: one step per second (SIGTERM -> 2s grace -> SIGKILL)");
    let started = Instant::now();
    let mut steps = 0;
    let mut others = 0;
    let mut gone = false;
    let mut how = String::new();
    while !gone {
        if steps == 12 {
            return Err(format!(
                "the demo agent (pid {pid}) is still there after {steps} steps"
            ));
        }
        if steps > 0 {
            pause(Duration::from_secs(1))?;
        }
        steps += 1;
        let report = procreap::cleanup_step(&cfg, Kind::Orphans).map_err(|e| e.to_string())?;
        let at = format!("+{:.1}s", started.elapsed().as_secs_f64());
        if report.actions.is_empty() {
            say(format!("  step {steps}  {at:>5}  (nothing to do)"));
        }
        for a in &report.actions {
            if a.process.id.pid != pid {
                others += 1;
            }
            say(format!(
                "  step {steps}  {at:>5}  {:<8} pid {}  {}",
                a.action.as_str(),
                a.process.id.pid,
                action_reason(a)
            ));
            if a.process.id.pid != pid {
                continue;
            }
            match a.action {
                ActionKind::Sigterm if a.signal.is_some() => {
                    say("                       the agent ignores SIGTERM and keeps running")
                }
                ActionKind::Sigterm | ActionKind::Waiting | ActionKind::Sigkill => {}
                ActionKind::Exited => {
                    gone = true;
                    if let Some(status) = w.reap() {
                        say(format!(
                            "                       parent pid {me} is this demo: reaped it with waitpid ({status})"
                        ));
                        how = "reaped by this demo (its parent)".into();
                    } else {
                        // Detached: its parent (init or a subreaper) reaps it.
                        how = wait_reaped_elsewhere(&cfg, pid)?;
                    }
                }
                other => {
                    return Err(format!(
                        "unexpected {other} for the demo agent: {}",
                        action_reason(a)
                    ))
                }
            }
        }
        if let Some(e) = &report.error {
            return Err(format!("cleanup step {steps}: {e}"));
        }
    }

    header("final scan");
    let r = Scan::new(&cfg).map_err(|e| e.to_string())?;
    let sections = scan_sections(&r);
    say(indent(&scan_text(&f, &sections)).trim_end());
    let left = procreap::explain(&cfg).map_err(|e| e.to_string())?;
    match ours(&left, pid) {
        None => say(format!("  no process named {} remains", w.name)),
        // Dead, and not ours to reap (see wait_reaped_elsewhere).
        Some(v) if v.verdict == VerdictKind::Defunct => say(format!(
            "  {} is dead; only its defunct entry remains ({})",
            w.name, v.reason
        )),
        Some(v) => {
            return Err(format!(
                "the demo agent is still listed: {} ({})",
                v.verdict, v.reason
            ))
        }
    }
    drop(w);

    say(format!(
        "\nsummary: {} (pid {pid}) found as an orphan, ignored SIGTERM, got SIGKILL after the 2s grace, {how}; \
         {steps} cleanup steps, {:.1}s in all; {} other process(es) acted on; temp files removed.",
        cfg.agent_names[0],
        t0.elapsed().as_secs_f64(),
        others,
    ));
    Ok(if others == 0 { EXIT_OK } else { EXIT_PARTIAL })
}
