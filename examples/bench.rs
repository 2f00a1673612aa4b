//! `make bench`: procreap against the subprocess code it replaces (Gas Town's
//! `orphan.go`: `ps` listings, `tmux list-panes`, one `ps -p` per candidate)
//! and against the floor (list `/proc`, read each `/proc/PID/stat` once), on
//! a real process table that the bench builds itself.
//!
//! Everything measured runs against the bench's own processes: N sleeping
//! fork children, four tmux servers on private sockets in a temp dir (five
//! panes each) and 20 agent decoys of every kind, all named `prt-<random>`
//! (symlinks to `sleep`). Scans use only that private name; the cleanup step
//! is a dry run with a private state dir. The bench is a child subreaper, so
//! whatever its children double-fork comes back to it; a guard kills every
//! child by pid, reaps it, and kills the tmux servers, on return, on panic and
//! on Ctrl-C.
//!
//! Results: printed, and written to `target/bench/results.csv`.
//! `PROCREAP_BENCH_SIZES=200,1000` runs other table sizes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their high-water mark, so the peak memory of a
/// scan is measured in-process.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            grew(l.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            grew(l.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        shrank(l.size());
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new >= l.size() {
                grew(new - l.size());
            } else {
                shrank(l.size() - new);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns how far the heap rose above its level at the start.
#[allow(dead_code)]
fn peak_during<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (PEAK.load(Ordering::SeqCst).saturating_sub(base), r)
}

fn main() {
    #[cfg(target_os = "linux")]
    std::process::exit(linux::main());
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("bench: the benchmark builds a /proc process table: Linux only");
        std::process::exit(2);
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::{HashMap, HashSet};
    use std::fmt::Write as _;
    use std::fs;
    use std::io::{self, Read};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::{symlink, DirBuilderExt};
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::sleep;
    use std::time::{Duration, Instant};

    use procreap::{ActionKind, Config, Kind, Sig, VerdictKind};

    use super::peak_during;

    const DEFAULT_SIZES: [usize; 3] = [200, 1000, 5000];
    /// Decoys of each kind.
    const DECOYS: usize = 20;
    const SOCKETS: usize = 4;
    const PANES: usize = 5;
    /// How long every sleeper sleeps: an upper bound on any leak if the
    /// bench itself is SIGKILLed (its direct children also get PDEATHSIG).
    const LONG: &str = "3600";
    /// The old decoys are this much older than the young ones; `min_age`
    /// sits in between (see `Lab::min_age`).
    const AGE_GAP: Duration = Duration::from_secs(6);
    const AGE_MARGIN: Duration = Duration::from_secs(3);
    /// Baseline runs per table size: at least, at most, and the time to
    /// spend on them (one run at N = 5000 takes 30-90 s: each of its 140
    /// `ps -p` reads the whole table).
    const MIN_BASELINE_RUNS: usize = 1;
    const MAX_BASELINE_RUNS: usize = 9;
    const BASELINE_BUDGET: Duration = Duration::from_secs(20);
    /// Runs of each cheap variant (procreap, floor) per round, and at least
    /// in all; a round holds at most one baseline run, in its middle.
    const CHEAP_REPS: usize = 4;
    const MIN_CHEAP_RUNS: usize = 12;
    const DRY_RUN_STEPS: usize = 5;
    /// Processes besides the background ones: decoys, panes, tmux, the
    /// subprocesses of the baseline, and headroom.
    const EXTRA_PROCS: usize = 400;

    static STOP: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }

    fn stopped() -> bool {
        STOP.load(Ordering::SeqCst)
    }

    type R<T> = Result<T, String>;

    fn install_handlers() {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: a zeroed sigaction is valid; the handler only stores an atomic.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                sa.sa_flags = libc::SA_RESTART;
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    }

    /// The kinds of agent decoys started directly. The 20 in tmux are started
    /// by tmux (`Lab::start_tmux`): half are the pane process (with the
    /// pane's tty), half a TTY-less child of it (setsid).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Decoy {
        /// No tty, old, in the workspace: a candidate.
        Orphan,
        /// Like `Orphan`, but the binary is named after a version: only
        /// argv[0] carries the agent name (found with `match_argv0` only).
        Argv0,
        /// Has a controlling pty outside tmux.
        Tty,
        /// argv carries an IDE marker.
        Ide,
        /// Younger than `min_age`.
        Young,
        /// cwd outside the workspace.
        Outside,
    }

    /// The verdicts `procreap::explain` must give the 140 agents (20 per
    /// kind; the argv[0] ones are orphans too).
    const EXPECTED: [(VerdictKind, usize); 6] = [
        (VerdictKind::Orphan, 2 * DECOYS),
        (VerdictKind::Protected, DECOYS),
        (VerdictKind::HasTty, DECOYS),
        (VerdictKind::IdeLaunched, DECOYS),
        (VerdictKind::TooYoung, DECOYS),
        (VerdictKind::OutsideWorkspace, DECOYS),
    ];

    fn random_hex() -> String {
        let mut b = [0u8; 4];
        if fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .is_err()
        {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            b = (t ^ std::process::id().rotate_left(16)).to_le_bytes();
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn errno() -> io::Error {
        io::Error::last_os_error()
    }

    /// The test fixture and the guard: everything the bench starts is
    /// recorded here and torn down in `Drop`.
    struct Lab {
        me: i32,
        dir: PathBuf,
        name: String,
        agent: PathBuf,
        versioned: PathBuf,
        town: PathBuf,
        outside: PathBuf,
        state: PathBuf,
        sockets: Vec<PathBuf>,
        /// Direct children, not yet reaped (so each pid is still ours).
        children: Vec<i32>,
        decoys: HashMap<i32, Decoy>,
        masters: Vec<OwnedFd>,
        young_since: Option<Instant>,
        torn_down: bool,
    }

    impl Lab {
        fn new() -> R<Lab> {
            let hex = random_hex();
            let dir = std::env::temp_dir().join(format!("procreap-bench-{hex}"));
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            let mut lab = Lab {
                me: std::process::id() as i32,
                name: format!("prt-{hex}"),
                agent: PathBuf::new(),
                versioned: PathBuf::new(),
                town: dir.join("town"),
                outside: dir.join("outside"),
                state: dir.join("state"),
                dir,
                sockets: Vec::new(),
                children: Vec::new(),
                decoys: HashMap::new(),
                masters: Vec::new(),
                young_since: None,
                torn_down: false,
            };
            let sleep_bin = ["/bin/sleep", "/usr/bin/sleep"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .ok_or("no sleep binary in /bin or /usr/bin")?;
            let bin = lab.dir.join("bin");
            let mk = |p: &Path| fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()));
            mk(&bin)?;
            mk(&lab.town.join("mayor"))?;
            mk(&lab.town.join("rig"))?;
            mk(&lab.outside)?;
            fs::write(lab.town.join("mayor/town.json"), "{}\n").map_err(|e| e.to_string())?;
            // comm comes from the name of the file exec'd: the symlink's.
            lab.agent = bin.join(&lab.name);
            let version = format!("9.{}", u32::from_str_radix(&hex[..5], 16).unwrap_or(7));
            lab.versioned = bin.join(version);
            for link in [&lab.agent, &lab.versioned] {
                symlink(&sleep_bin, link).map_err(|e| format!("{}: {e}", link.display()))?;
            }
            Ok(lab)
        }

        /// Between the young decoys' age and the old ones', at every moment.
        fn min_age(&self) -> Duration {
            self.young_since.map(|t| t.elapsed()).unwrap_or_default() + AGE_MARGIN
        }

        fn config(&self, match_argv0: bool, list_sockets: bool) -> Config {
            Config {
                agent_names: vec![self.name.clone()],
                argv0_match: if match_argv0 {
                    procreap::Argv0Match::Always
                } else {
                    procreap::Argv0Match::Never
                },
                min_age: self.min_age(),
                workspace_root: Some(self.town.clone()),
                protected_pid_files: Vec::new(),
                tmux_sockets: if list_sockets {
                    self.sockets
                        .iter()
                        .map(|s| s.display().to_string())
                        .collect()
                } else {
                    Vec::new()
                },
                state_dir: Some(self.state.clone()),
                dry_run: true,
                ..Config::default()
            }
        }

        fn spawn_decoy(&mut self, kind: Decoy) -> R<()> {
            let rig = self.town.join("rig");
            let (exe, arg0, cwd) = match kind {
                Decoy::Orphan | Decoy::Young | Decoy::Tty => (&self.agent, self.name.clone(), &rig),
                Decoy::Argv0 => (&self.versioned, self.name.clone(), &rig),
                Decoy::Ide => (
                    &self.agent,
                    format!("/home/u/.vscode-server/bin/0000/{}", self.name),
                    &rig,
                ),
                Decoy::Outside => (&self.agent, self.name.clone(), &self.outside),
            };
            let mut c = Command::new(exe);
            c.arg0(arg0).arg(LONG).current_dir(cwd);
            let ctty = kind == Decoy::Tty;
            if ctty {
                let (master, slave) = openpty()?;
                let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| e.to_string());
                c.stdin(dup(&slave)?).stdout(dup(&slave)?).stderr(slave);
                self.masters.push(master);
            } else {
                c.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
            }
            let parent = self.me;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    );
                    if libc::getppid() != parent {
                        return Err(io::Error::other("parent gone"));
                    }
                    // Off the bench's terminal (if any): TTY-less unless given the pty.
                    if libc::setsid() < 0 {
                        return Err(errno());
                    }
                    if ctty && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                        return Err(errno());
                    }
                    Ok(())
                });
            }
            let child = c
                .spawn()
                .map_err(|e| format!("starting a {kind:?} decoy: {e}"))?;
            let pid = child.id() as i32;
            self.children.push(pid);
            self.decoys.insert(pid, kind);
            Ok(())
        }

        fn tmux(&self, sock: &Path, args: &[&str]) -> R<String> {
            let out = Command::new("tmux")
                .arg("-S")
                .arg(sock)
                .args(["-f", "/dev/null"])
                .args(args)
                .env("SHELL", "/bin/sh")
                .env_remove("TMUX")
                .current_dir(&self.town)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("tmux: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "tmux {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }

        fn start_tmux(&mut self) -> R<()> {
            let agent = self.agent.display().to_string();
            for i in 0..SOCKETS {
                let sock = self.dir.join(format!("tmux-{i}"));
                self.sockets.push(sock.clone());
                for k in 0..PANES {
                    let cmd = if (i * PANES + k) % 2 == 0 {
                        format!("exec '{agent}' {LONG}")
                    } else {
                        format!(
                            "setsid -w '{agent}' {LONG} </dev/null >/dev/null 2>&1 & exec sleep {LONG}"
                        )
                    };
                    if k == 0 {
                        self.tmux(
                            &sock,
                            &[
                                "new-session",
                                "-d",
                                "-s",
                                "bench",
                                "-x",
                                "120",
                                "-y",
                                "40",
                                &cmd,
                            ],
                        )?;
                    } else {
                        self.tmux(&sock, &["new-window", "-d", "-t", "bench:", &cmd])?;
                    }
                }
            }
            Ok(())
        }

        /// Background sleepers alive: every direct child that is not a decoy.
        fn background(&self) -> usize {
            self.children.len() - self.decoys.len()
        }

        fn grow_background(&mut self, target: usize) -> R<()> {
            let parent = self.me;
            while self.background() < target {
                if stopped() {
                    return Err("interrupted".into());
                }
                // SAFETY: the child only makes async-signal-safe calls and never returns.
                match unsafe { libc::fork() } {
                    -1 => {
                        return Err(format!(
                            "fork failed after {} background processes: {}",
                            self.background(),
                            errno()
                        ))
                    }
                    0 => unsafe { sleeper(parent) },
                    pid => self.children.push(pid),
                }
            }
            Ok(())
        }

        /// Reaps whatever has exited (tmux's daemonising intermediates),
        /// forgetting reaped pids so they are never signalled.
        fn reap_exited(&mut self) {
            loop {
                // SAFETY: plain waitpid.
                let pid = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
                if pid <= 0 {
                    break;
                }
                self.children.retain(|&c| c != pid);
                self.decoys.remove(&pid);
            }
        }

        /// Verdicts of every agent (all of them are ours: the name is private).
        fn tally(&self) -> R<HashMap<VerdictKind, usize>> {
            let v = procreap::explain(&self.config(true, false)).map_err(|e| e.to_string())?;
            let mut t = HashMap::new();
            for v in v {
                *t.entry(v.verdict).or_insert(0) += 1;
            }
            Ok(t)
        }

        /// Waits until every decoy has exec'd and shows up with its verdict.
        fn settle(&self, exact: bool) -> R<()> {
            let want: usize = EXPECTED.iter().map(|(_, n)| n).sum();
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let t = self.tally()?;
                let total: usize = t.values().sum();
                let good = if exact {
                    EXPECTED.iter().all(|(k, n)| t.get(k) == Some(n)) && total == want
                } else {
                    total == want
                };
                if good {
                    return Ok(());
                }
                if Instant::now() > deadline || stopped() {
                    return Err(format!(
                        "decoy verdicts are {t:?}, expected {EXPECTED:?} ({want} agents)"
                    ));
                }
                sleep(Duration::from_millis(50));
            }
        }

        fn teardown(&mut self) {
            if self.torn_down {
                return;
            }
            self.torn_down = true;
            for sock in &self.sockets {
                if sock.exists() {
                    let mut c = Command::new("tmux");
                    c.arg("-S").arg(sock).arg("kill-server").env_remove("TMUX");
                    let _ = run_with_timeout(c, Duration::from_secs(5));
                }
            }
            for &pid in &self.children {
                // SAFETY: our own unreaped child: the pid cannot have been reused.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            self.masters.clear();
            // Descendants reparented to us (tmux servers, the pane children
            // that left their session): our children now, so still ours.
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                self.reap_exited();
                let kids = children_of(self.me);
                if kids.is_empty() {
                    // SAFETY: plain waitpid.
                    let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
                    if r < 0 {
                        break; // ECHILD: nothing left
                    }
                    if r > 0 {
                        continue;
                    }
                }
                for pid in kids {
                    // SAFETY: its parent is us and we have not reaped it.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                if Instant::now() > deadline {
                    eprintln!("bench: warning: some children did not exit in time");
                    break;
                }
                sleep(Duration::from_millis(10));
            }
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            self.teardown();
        }
    }

    /// A background process: sleeps until killed.
    unsafe fn sleeper(parent: i32) -> ! {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(sig, libc::SIG_DFL);
        }
        // Let go of the bench's pipes and ptys.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        loop {
            libc::pause();
        }
    }

    fn openpty() -> R<(OwnedFd, OwnedFd)> {
        let (mut m, mut s) = (-1, -1);
        // SAFETY: out-pointers to two ints; the other arguments may be null.
        let rc = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(format!("openpty: {}", errno()));
        }
        // SAFETY: openpty returned two fresh descriptors that nothing else owns.
        let (m, s) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        for fd in [&m, &s] {
            // SAFETY: fcntl on a descriptor we own.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        Ok((m, s))
    }

    fn run_with_timeout(mut c: Command, limit: Duration) -> io::Result<()> {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + limit;
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill(); // our own child, not yet reaped
                let _ = child.wait();
                return Err(io::Error::other("timed out"));
            }
            sleep(Duration::from_millis(5));
        }
    }

    /// Pids in /proc, with their parsed stat line.
    fn proc_table() -> Vec<procreap::StatLine> {
        let mut out = Vec::new();
        let Ok(dir) = fs::read_dir("/proc") else {
            return out;
        };
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Ok(b) = fs::read(format!("/proc/{name}/stat")) {
                if let Some(s) = procreap::parse_stat(&b) {
                    out.push(s);
                }
            }
        }
        out
    }

    fn children_of(pid: i32) -> Vec<i32> {
        proc_table()
            .into_iter()
            .filter(|s| s.ppid == pid && s.state != 'Z')
            .map(|s| s.pid)
            .collect()
    }

    /// True when the bench itself runs inside a tmux pane: then every decoy
    /// is (rightly) protected and the verdict checks cannot hold.
    fn under_tmux() -> bool {
        let table: HashMap<i32, procreap::StatLine> =
            proc_table().into_iter().map(|s| (s.pid, s)).collect();
        let mut cur = std::process::id() as i32;
        for _ in 0..table.len() {
            let Some(s) = table.get(&cur) else {
                return false;
            };
            if s.pid != std::process::id() as i32 && procreap::tmux::is_server_name(&s.name) {
                return true;
            }
            if s.ppid <= 1 {
                return false;
            }
            cur = s.ppid;
        }
        false
    }

    // ---------------------------------------------------------------
    // The baseline: Gas Town's orphan.go, with the commands of issue 7.

    #[derive(Debug)]
    struct BaselineProc {
        pid: i32,
        #[allow(dead_code)]
        cmd: String,
        #[allow(dead_code)]
        age: u64,
        #[allow(dead_code)]
        args: String,
    }

    /// `exec.Command(...).Output()`: stdout, or an error on a non-zero exit.
    fn output(prog: &str, args: &[&str]) -> R<String> {
        let out = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{prog}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{prog} {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| e.to_string())
    }

    /// getTmuxSessionPIDs: pane pids of every socket and their descendants,
    /// with the tree from one `ps -eo pid,ppid` (orphan.go's fallback; its
    /// first choice, one `pgrep -P` per pid, costs more).
    fn baseline_protected(sockets: &[String]) -> R<HashSet<i32>> {
        let mut pids = HashSet::new();
        let tree = output("ps", &["-eo", "pid,ppid"])?;
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for line in tree.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 2 {
                continue;
            }
            if let (Ok(pid), Ok(ppid)) = (f[0].parse::<i32>(), f[1].parse::<i32>()) {
                if pid > 0 {
                    children.entry(ppid).or_default().push(pid);
                }
            }
        }
        for sock in sockets {
            let Ok(out) = output(
                "tmux",
                &["-S", sock, "list-panes", "-a", "-F", "#{pane_pid}"],
            ) else {
                continue;
            };
            for pid in out.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                if pid <= 0 {
                    continue;
                }
                pids.insert(pid);
                let mut stack = vec![pid];
                while let Some(p) = stack.pop() {
                    for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
                        if pids.insert(c) {
                            stack.push(c);
                        }
                    }
                }
            }
        }
        Ok(pids)
    }

    /// parseEtime: `[[DD-]HH:]MM:SS` in seconds.
    fn parse_etime(s: &str) -> Option<u64> {
        let (days, rest) = match s.split_once('-') {
            Some((d, r)) => (d.parse::<u64>().ok()?, r),
            None => (0, s),
        };
        let p: Vec<u64> = rest
            .split(':')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        let (h, m, sec) = match p.as_slice() {
            [m, s] => (0, *m, *s),
            [h, m, s] => (*h, *m, *s),
            _ => return None,
        };
        Some(days * 86400 + h * 3600 + m * 60 + sec)
    }

    /// FindOrphanedClaudeProcesses / FindZombieClaudeProcesses, plus one
    /// `ps -p PID -o args=` per candidate for its command line; also returns
    /// the milliseconds those `ps -p` calls took.
    fn baseline_find(
        kind: Kind,
        sockets: &[String],
        name: &str,
        min_age: &dyn Fn() -> u64,
    ) -> R<(Vec<BaselineProc>, f64)> {
        let protected = baseline_protected(sockets)?;
        if kind == Kind::Zombies && protected.is_empty() {
            return Ok((Vec::new(), 0.0));
        }
        // Read just before the listing: a baseline run takes seconds, and
        // the young decoys age meanwhile (orphan.go: a fixed 60 s).
        let min_age = min_age();
        let table = output("ps", &["-eo", "pid,tty,comm,etime"])?;
        let mut found = Vec::new();
        for line in table.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                continue;
            }
            let Ok(pid) = f[0].parse::<i32>() else {
                continue;
            };
            let (tty, cmd, etime) = (f[1], f[2], f[3]);
            if kind == Kind::Orphans && tty != "?" && tty != "??" {
                continue;
            }
            if cmd.to_lowercase() != name {
                continue;
            }
            if protected.contains(&pid) {
                continue;
            }
            let Some(age) = parse_etime(etime) else {
                continue;
            };
            if age < min_age {
                continue;
            }
            found.push(BaselineProc {
                pid,
                cmd: cmd.to_string(),
                age,
                args: String::new(),
            });
        }
        let (args_ms, ()) = timed(|| {
            for p in &mut found {
                if stopped() {
                    break; // `sample` reports the interruption
                }
                let pid = p.pid.to_string();
                p.args = output("ps", &["-p", &pid, "-o", "args="])
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
            }
        });
        Ok((found, args_ms))
    }

    // ---------------------------------------------------------------
    // The floor.

    /// List /proc and read each /proc/PID/stat once, nothing else.
    fn floor() -> (usize, usize) {
        let (mut procs, mut bytes) = (0, 0);
        let Ok(dir) = fs::read_dir("/proc") else {
            return (0, 0);
        };
        let mut path = String::with_capacity(32);
        let mut buf = [0u8; 1024];
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            path.clear();
            path.push_str("/proc/");
            path.push_str(name);
            path.push_str("/stat");
            if let Ok(mut f) = fs::File::open(&path) {
                if let Ok(n) = f.read(&mut buf) {
                    procs += 1;
                    bytes += n;
                }
            }
        }
        std::hint::black_box((procs, bytes))
    }

    // ---------------------------------------------------------------
    // Measurement.

    fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
        let t = Instant::now();
        let r = f();
        (t.elapsed().as_secs_f64() * 1e3, r)
    }

    /// This thread's CPU time in ms: unlike wall time, not inflated while
    /// other work on the shared machine holds the CPU.
    fn cpu_ms() -> f64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime into a local timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
    }

    /// Wall and CPU milliseconds of `f`.
    fn timed_cpu<T>(f: impl FnOnce() -> T) -> (f64, f64, T) {
        let c = cpu_ms();
        let (wall, r) = timed(f);
        (wall, cpu_ms() - c, r)
    }

    fn median(v: &[f64]) -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        let m = s.len() / 2;
        if s.len() % 2 == 1 {
            s[m]
        } else {
            (s[m - 1] + s[m]) / 2.0
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Variant {
        Procreap,
        NoArgv0,
        Sockets,
        Baseline,
        Floor,
    }

    const VARIANTS: [Variant; 5] = [
        Variant::Procreap,
        Variant::NoArgv0,
        Variant::Sockets,
        Variant::Baseline,
        Variant::Floor,
    ];

    #[derive(Default)]
    struct Series(HashMap<&'static str, Vec<f64>>);

    impl Series {
        fn push(&mut self, k: &'static str, v: f64) {
            self.0.entry(k).or_default().push(v);
        }
        fn med(&self, k: &str) -> f64 {
            self.0.get(k).map(|v| median(v)).unwrap_or(f64::NAN)
        }
    }

    struct Row {
        n: usize,
        table: usize,
        base_runs: usize,
        cheap_runs: usize,
        s: Series,
        peak: usize,
        peak_noargv0: usize,
        dry_run_ms: f64,
    }

    impl Row {
        fn per_proc(&self, bytes: usize) -> f64 {
            bytes as f64 / self.table.max(1) as f64
        }
    }

    fn sample(lab: &Lab, v: Variant, check: bool, under_tmux: bool, s: &mut Series) -> R<()> {
        let strict = check && !under_tmux;
        match v {
            Variant::Procreap | Variant::NoArgv0 | Variant::Sockets => {
                let argv0 = v != Variant::NoArgv0;
                let cfg = lab.config(argv0, v == Variant::Sockets);
                let (to, co, o) = timed_cpu(|| procreap::find_orphans(&cfg));
                let o = o.map_err(|e| format!("find_orphans ({v:?}): {e}"))?;
                let (tz, z) = timed(|| procreap::find_zombies(&cfg));
                let z = z.map_err(|e| format!("find_zombies ({v:?}): {e}"))?;
                if strict {
                    let want = if argv0 { 2 * DECOYS } else { DECOYS };
                    let ours = |p: &procreap::ProcessInfo| {
                        matches!(
                            lab.decoys.get(&p.id.pid),
                            Some(Decoy::Orphan) | Some(Decoy::Argv0)
                        )
                    };
                    if o.len() != want || z.len() != want || !o.iter().chain(&z).all(ours) {
                        return Err(format!(
                            "{v:?}: found {} orphans and {} zombies, expected {want} each, all orphan decoys",
                            o.len(),
                            z.len()
                        ));
                    }
                }
                let (ko, kc, kz, kp) = match v {
                    Variant::Procreap => (
                        "procreap.orphans",
                        "procreap.orphans.cpu",
                        "procreap.zombies",
                        "procreap",
                    ),
                    Variant::NoArgv0 => (
                        "noargv0.orphans",
                        "noargv0.orphans.cpu",
                        "noargv0.zombies",
                        "noargv0",
                    ),
                    _ => (
                        "sockets.orphans",
                        "sockets.orphans.cpu",
                        "sockets.zombies",
                        "sockets",
                    ),
                };
                s.push(ko, to);
                s.push(kc, co);
                s.push(kz, tz);
                s.push(kp, to + tz);
            }
            Variant::Baseline => {
                let socks: Vec<String> = lab
                    .sockets
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                let min_age = || lab.min_age().as_secs_f64().ceil() as u64;
                let (to, o) = timed(|| baseline_find(Kind::Orphans, &socks, &lab.name, &min_age));
                let (o, ao) = o?;
                if stopped() {
                    return Err("interrupted".into());
                }
                let (tz, z) = timed(|| baseline_find(Kind::Zombies, &socks, &lab.name, &min_age));
                let (z, az) = z?;
                // orphan.go has no IDE, workspace or argv[0] rule, and its
                // zombie scan ignores the tty.
                if strict && (o.len() != 3 * DECOYS || z.len() != 4 * DECOYS) {
                    let mut kinds: HashMap<String, usize> = HashMap::new();
                    for p in o.iter().chain(&z) {
                        let k = match lab.decoys.get(&p.pid) {
                            Some(d) => format!("{d:?}"),
                            None => "in tmux".into(),
                        };
                        *kinds.entry(k).or_insert(0) += 1;
                    }
                    return Err(format!(
                        "baseline: found {} orphans and {} zombies, expected {} and {}: {kinds:?}",
                        o.len(),
                        z.len(),
                        3 * DECOYS,
                        4 * DECOYS
                    ));
                }
                s.push("baseline.orphans", to);
                s.push("baseline.zombies", tz);
                s.push("baseline", to + tz);
                // orphan.go.txt as given fetches no args: the rest.
                s.push("baseline.core", to + tz - ao - az);
            }
            Variant::Floor => {
                let (t, c, (procs, _)) = timed_cpu(floor);
                s.push("floor", t);
                s.push("floor.cpu", c);
                s.push("table", procs as f64);
            }
        }
        Ok(())
    }

    fn measure(lab: &Lab, n: usize, under_tmux: bool) -> R<Row> {
        let mut s = Series::default();
        let mut scratch = Series::default();
        // Warm-up and checks: every cheap variant once, untimed (the first
        // baseline run below is checked too).
        for &v in VARIANTS.iter().filter(|v| **v != Variant::Baseline) {
            if stopped() {
                return Err("interrupted".into());
            }
            sample(lab, v, true, under_tmux, &mut scratch)?;
        }
        // Timed rounds: the cheap variants CHEAP_REPS times each, rotating,
        // with one baseline run in the middle while baseline runs are due.
        // The number of baseline runs follows the first one's time.
        let cheap: Vec<Variant> = VARIANTS
            .into_iter()
            .filter(|v| *v != Variant::Baseline)
            .collect();
        let (mut base_runs, mut cheap_runs) = (0, 0);
        let mut want_base = MAX_BASELINE_RUNS;
        while base_runs < want_base || cheap_runs < MIN_CHEAP_RUNS {
            for rep in 0..CHEAP_REPS {
                if rep == CHEAP_REPS / 2 && base_runs < want_base {
                    let t = Instant::now();
                    sample(lab, Variant::Baseline, base_runs == 0, under_tmux, &mut s)?;
                    if base_runs == 0 {
                        let per = t.elapsed().as_secs_f64().max(1e-3);
                        want_base = ((BASELINE_BUDGET.as_secs_f64() / per).ceil() as usize)
                            .clamp(MIN_BASELINE_RUNS, MAX_BASELINE_RUNS);
                    }
                    base_runs += 1;
                }
                for k in 0..cheap.len() {
                    if stopped() {
                        return Err("interrupted".into());
                    }
                    sample(
                        lab,
                        cheap[(cheap_runs + k) % cheap.len()],
                        false,
                        under_tmux,
                        &mut s,
                    )?;
                }
                cheap_runs += 1;
            }
        }

        // Peak heap of one scan (find_orphans), median of three.
        let peak_of = |argv0: bool| -> R<usize> {
            let mut v = Vec::new();
            for _ in 0..3 {
                let cfg = lab.config(argv0, false);
                let (p, r) = peak_during(|| procreap::find_orphans(&cfg));
                r.map_err(|e| e.to_string())?;
                v.push(p as f64);
            }
            Ok(median(&v) as usize)
        };
        let peak = peak_of(true)?;
        let peak_noargv0 = peak_of(false)?;

        // Dry-run cleanup steps: everything decided and re-verified, nothing sent.
        let mut steps = Vec::new();
        for _ in 0..DRY_RUN_STEPS {
            let cfg = lab.config(true, false);
            let (t, r) = timed(|| procreap::cleanup_step(&cfg, Kind::Orphans));
            let r = r.map_err(|e| format!("dry-run cleanup step: {e}"))?;
            if let Some(e) = &r.error {
                return Err(format!("dry-run cleanup step reported: {e}"));
            }
            let terms = r
                .actions
                .iter()
                .filter(|a| a.action == ActionKind::Sigterm && a.signal == Some(Sig::Term))
                .count();
            if !under_tmux && (terms != 2 * DECOYS || r.actions.len() != terms) {
                return Err(format!(
                    "dry-run cleanup step: {} actions, {terms} would-be SIGTERMs, expected {}",
                    r.actions.len(),
                    2 * DECOYS
                ));
            }
            steps.push(t);
        }
        if fs::metadata(lab.state.join("ledger")).is_ok() {
            return Err("a dry run wrote a ledger".into());
        }
        // Nothing was signalled: every decoy still runs.
        let alive = proc_table()
            .into_iter()
            .filter(|p| lab.decoys.contains_key(&p.pid) && p.state != 'Z')
            .count();
        if alive != lab.decoys.len() {
            return Err(format!(
                "only {alive} of {} decoys still run after the dry runs",
                lab.decoys.len()
            ));
        }

        let table = s.med("table").round() as usize;
        Ok(Row {
            n,
            table,
            base_runs,
            cheap_runs,
            s,
            peak,
            peak_noargv0,
            dry_run_ms: median(&steps),
        })
    }

    // ---------------------------------------------------------------
    // Limits, reporting, main.

    fn read_num(path: &str) -> Option<usize> {
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// How many more processes this machine lets the bench start, and why.
    fn room() -> (usize, String) {
        let tasks = fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .nth(3)?
                    .split('/')
                    .nth(1)?
                    .parse::<usize>()
                    .ok()
            })
            .unwrap_or(0);
        let mut limits: Vec<(usize, String)> = Vec::new();
        if let Some(m) = read_num("/proc/sys/kernel/pid_max") {
            limits.push((m.saturating_sub(tasks), format!("pid_max {m}")));
        }
        if let Some(m) = read_num("/proc/sys/kernel/threads-max") {
            limits.push((m.saturating_sub(tasks), format!("threads-max {m}")));
        }
        // SAFETY: getrlimit into a local struct.
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        let root = unsafe { libc::geteuid() } == 0;
        // RLIMIT_NPROC binds neither root nor an unlimited user.
        if !root
            && unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut rl) } == 0
            && rl.rlim_cur != libc::RLIM_INFINITY
        {
            let m = rl.rlim_cur as usize;
            limits.push((m.saturating_sub(tasks), format!("ulimit -u {m}")));
        }
        for line in fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
        {
            let mut f = line.splitn(3, ':');
            let (_, ctl, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
            let base = match ctl {
                "pids" => format!("/sys/fs/cgroup/pids{path}"),
                "" if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() => {
                    format!("/sys/fs/cgroup{path}")
                }
                _ => continue,
            };
            if let (Some(max), cur) = (
                read_num(&format!("{base}/pids.max")),
                read_num(&format!("{base}/pids.current")).unwrap_or(tasks),
            ) {
                limits.push((max.saturating_sub(cur), format!("cgroup pids.max {max}")));
            }
        }
        limits
            .into_iter()
            .min_by_key(|(n, _)| *n)
            .map(|(n, why)| (n.saturating_sub(EXTRA_PROCS), why))
            .unwrap_or((usize::MAX, "no limit found".into()))
    }

    fn sizes() -> R<Vec<usize>> {
        match std::env::var("PROCREAP_BENCH_SIZES") {
            Ok(s) if !s.trim().is_empty() => s
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("PROCREAP_BENCH_SIZES: bad size {x:?}"))
                })
                .collect(),
            _ => Ok(DEFAULT_SIZES.to_vec()),
        }
    }

    fn machine() -> (usize, String, String) {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| "?".into());
        (cores, kernel, cpu)
    }

    /// Heap bytes per extra process between two table sizes.
    fn marginal(w: &[Row]) -> Option<f64> {
        let (a, b) = (&w[0], &w[1]);
        (b.table > a.table).then(|| (b.peak as f64 - a.peak as f64) / (b.table - a.table) as f64)
    }

    fn verdict(ok: bool) -> &'static str {
        if ok {
            "met"
        } else {
            "MISSED"
        }
    }

    fn report(rows: &[Row]) -> R<()> {
        let (cores, kernel, cpu) = machine();
        let mut md = String::new();
        let _ = writeln!(
            md,
            "{cores} cores ({cpu}), Linux {kernel}; medians of one interleaved run of `make bench`, in ms."
        );
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "| N | processes | procreap orphans+zombies | match_argv0=false | 4 sockets listed | baseline | baseline without `ps -p` | one procreap scan | match_argv0=false | floor | dry-run cleanup step |"
        );
        let _ = writeln!(md, "|{}", "---:|".repeat(11));
        for r in rows {
            let s = &r.s;
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                r.n,
                r.table,
                s.med("procreap"),
                s.med("noargv0"),
                s.med("sockets"),
                s.med("baseline"),
                s.med("baseline.core"),
                s.med("procreap.orphans"),
                s.med("noargv0.orphans"),
                s.med("floor"),
                r.dry_run_ms,
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "| N | baseline / procreap | baseline without `ps -p` / procreap | scan / floor | match_argv0=false | scan / floor in CPU time | match_argv0=false |"
        );
        let _ = writeln!(md, "|{}", "---:|".repeat(7));
        for r in rows {
            let s = &r.s;
            let _ = writeln!(
                md,
                "| {} | {:.0}× | {:.0}× | {:.2}× | {:.2}× | {:.2}× | {:.2}× |",
                r.n,
                s.med("baseline") / s.med("procreap"),
                s.med("baseline.core") / s.med("procreap"),
                s.med("procreap.orphans") / s.med("floor"),
                s.med("noargv0.orphans") / s.med("floor"),
                s.med("procreap.orphans.cpu") / s.med("floor.cpu"),
                s.med("noargv0.orphans.cpu") / s.med("floor.cpu"),
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "| N | processes | peak heap of one scan | per process | match_argv0=false | per process |"
        );
        let _ = writeln!(md, "|{}", "---:|".repeat(6));
        for r in rows {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} KiB | {:.0} B | {:.0} KiB | {:.0} B |",
                r.n,
                r.table,
                r.peak as f64 / 1024.0,
                r.per_proc(r.peak),
                r.peak_noargv0 as f64 / 1024.0,
                r.per_proc(r.peak_noargv0),
            );
        }
        println!("\n{md}");

        println!("Targets:");
        for r in rows {
            let s = &r.s;
            if r.n == 1000 {
                let x = s.med("baseline") / s.med("procreap");
                println!(
                    "  N=1000: procreap >= 50x faster than the baseline: {x:.0}x ({})",
                    verdict(x >= 50.0)
                );
            }
            if r.n == 1000 || r.n == 5000 {
                for (label, key) in [
                    ("match_argv0=true ", "procreap.orphans"),
                    ("match_argv0=false", "noargv0.orphans"),
                ] {
                    let x = s.med(key) / s.med("floor");
                    let c = s.med(&format!("{key}.cpu")) / s.med("floor.cpu");
                    println!(
                        "  N={}: scan <= 1.5x the floor, {label}: {x:.2}x ({}; in CPU time {c:.2}x)",
                        r.n,
                        verdict(x <= 1.5)
                    );
                }
            }
        }
        let hi = rows.iter().map(|r| r.per_proc(r.peak)).fold(0f64, f64::max);
        println!(
            "  memory < 1 KiB per process: at most {hi:.0} B per process ({})",
            verdict(hi < 1024.0)
        );
        // Linear: each extra process costs about the same, whatever N.
        let slopes: Vec<f64> = rows.windows(2).filter_map(marginal).collect();
        if !slopes.is_empty() {
            let lo = slopes.iter().copied().fold(f64::MAX, f64::min);
            let top = slopes.iter().copied().fold(0f64, f64::max);
            let shown: Vec<String> = slopes.iter().map(|x| format!("{x:.0} B")).collect();
            println!(
                "  memory linear: each extra process adds {} between successive N ({})",
                shown.join(", "),
                verdict(top <= 1.5 * lo.max(1.0) && top < 1024.0)
            );
        }

        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut csv = String::from(
            "n,table_procs,baseline_runs,other_runs,procreap_ms,procreap_noargv0_ms,procreap_sockets_ms,baseline_ms,baseline_without_ps_p_ms,\
             procreap_scan_ms,procreap_scan_noargv0_ms,procreap_zombies_ms,baseline_orphans_ms,baseline_zombies_ms,floor_ms,\
             baseline_over_procreap,baseline_over_procreap_noargv0,scan_over_floor,scan_noargv0_over_floor,scan_over_floor_cpu,scan_noargv0_over_floor_cpu,\
             peak_bytes,peak_bytes_per_proc,peak_bytes_noargv0,peak_bytes_noargv0_per_proc,dry_run_step_ms,cores,kernel\n",
        );
        for r in rows {
            let s = &r.s;
            let _ = writeln!(
                csv,
                "{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.2},{:.2},{:.3},{:.3},{:.3},{:.3},{},{:.1},{},{:.1},{:.4},{},{}",
                r.n,
                r.table,
                r.base_runs,
                r.cheap_runs,
                s.med("procreap"),
                s.med("noargv0"),
                s.med("sockets"),
                s.med("baseline"),
                s.med("baseline.core"),
                s.med("procreap.orphans"),
                s.med("noargv0.orphans"),
                s.med("procreap.zombies"),
                s.med("baseline.orphans"),
                s.med("baseline.zombies"),
                s.med("floor"),
                s.med("baseline") / s.med("procreap"),
                s.med("baseline") / s.med("noargv0"),
                s.med("procreap.orphans") / s.med("floor"),
                s.med("noargv0.orphans") / s.med("floor"),
                s.med("procreap.orphans.cpu") / s.med("floor.cpu"),
                s.med("noargv0.orphans.cpu") / s.med("floor.cpu"),
                r.peak,
                r.per_proc(r.peak),
                r.peak_noargv0,
                r.per_proc(r.peak_noargv0),
                r.dry_run_ms,
                cores,
                kernel,
            );
        }
        let path = dir.join("results.csv");
        fs::write(&path, csv).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("\nwrote {}", path.display());
        Ok(())
    }

    fn run() -> R<()> {
        let t0 = Instant::now();
        // SAFETY: prctl on ourselves.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(format!("PR_SET_CHILD_SUBREAPER: {}", errno()));
        }
        let mut sizes = sizes()?;
        let (room, why) = room();
        if sizes.iter().any(|&n| n > room) {
            let cap = room / 100 * 100;
            println!(
                "note: this machine lets the bench start about {room} more processes ({why}); N is capped at {cap}"
            );
            sizes = sizes.into_iter().map(|n| n.min(cap)).collect();
            sizes.dedup();
        }
        sizes.sort_unstable();
        let tmux_here = under_tmux();
        if tmux_here {
            println!(
                "note: the bench runs inside tmux, so all its decoys are protected; timings are valid, the verdict checks are skipped"
            );
        }

        let mut lab = Lab::new()?;
        println!(
            "bench: private agent name {}, fixture in {}",
            lab.name,
            lab.dir.display()
        );
        for kind in [
            Decoy::Orphan,
            Decoy::Argv0,
            Decoy::Tty,
            Decoy::Ide,
            Decoy::Outside,
        ] {
            for _ in 0..DECOYS {
                lab.spawn_decoy(kind)?;
            }
        }
        lab.start_tmux()?;
        let old_done = Instant::now();
        lab.grow_background(sizes[0])?;
        lab.reap_exited();
        while old_done.elapsed() < AGE_GAP {
            if stopped() {
                return Err("interrupted".into());
            }
            sleep(Duration::from_millis(50));
        }
        lab.young_since = Some(Instant::now());
        for _ in 0..DECOYS {
            lab.spawn_decoy(Decoy::Young)?;
        }
        lab.settle(!tmux_here)?;

        let mut rows = Vec::new();
        for &n in &sizes {
            lab.grow_background(n)?;
            lab.reap_exited();
            lab.settle(!tmux_here)?;
            let row = measure(&lab, n, tmux_here)?;
            let s = &row.s;
            println!(
                "N={:>5} ({} processes, {} baseline runs, {} of the others): procreap {:.2} ms (argv0 off {:.2}, 4 sockets {:.2}), baseline {:.1} ms, floor {:.2} ms; baseline/procreap {:.0}x, scan/floor {:.2}x (argv0 off {:.2}x; in CPU time {:.2}x and {:.2}x); peak {} B ({:.0} B/process); dry-run step {:.2} ms",
                n,
                row.table,
                row.base_runs,
                row.cheap_runs,
                s.med("procreap"),
                s.med("noargv0"),
                s.med("sockets"),
                s.med("baseline"),
                s.med("floor"),
                s.med("baseline") / s.med("procreap"),
                s.med("procreap.orphans") / s.med("floor"),
                s.med("noargv0.orphans") / s.med("floor"),
                s.med("procreap.orphans.cpu") / s.med("floor.cpu"),
                s.med("noargv0.orphans.cpu") / s.med("floor.cpu"),
                row.peak,
                row.per_proc(row.peak),
                row.dry_run_ms
            );
            rows.push(row);
        }
        lab.teardown();
        report(&rows)?;
        println!("bench: done in {:.0}s", t0.elapsed().as_secs_f64());
        Ok(())
    }

    pub fn main() -> i32 {
        install_handlers();
        match run() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("bench: {e}");
                if stopped() {
                    130
                } else {
                    1
                }
            }
        }
    }
}
