//! Test support: a `Lab` owns everything a test starts — private agent names
//! (`prt-<random>` symlinks and scripts), decoy processes, tmux servers on
//! private sockets, a private state dir — and tears it all down on drop, also
//! when the test fails. Nothing here signals a process the lab did not start.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use procreap::Config;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A short random-enough token: pid, time and a counter.
pub fn token() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mix = (std::process::id() as u64) << 32 ^ (t as u64) ^ ((n as u64) << 20);
    format!(
        "{:08x}",
        (mix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
    )
}

/// Makes this test process the reaper of everything it starts, so
/// double-forked decoys (tmux servers) come back to us.
pub fn become_subreaper() {
    // SAFETY: prctl with an integer argument.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// (pid, start time) of `pid` and all its descendants, from /proc.
pub fn tree(pid: i32) -> Vec<(i32, u64)> {
    let mut all: Vec<(i32, i32, u64)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Some(st) = std::fs::read(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|b| procreap::parse_stat(&b))
        {
            all.push((p, st.ppid, st.start_time));
        }
    }
    let mut out: Vec<(i32, u64)> = all
        .iter()
        .filter(|a| a.0 == pid)
        .map(|a| (a.0, a.2))
        .collect();
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].0;
        out.extend(all.iter().filter(|a| a.1 == parent).map(|a| (a.0, a.2)));
        i += 1;
    }
    out
}

/// SIGKILLs `(pid, start)` if that very process still runs, then reaps it if
/// it is (or became) our child.
pub fn kill_exact(pid: i32, start: u64) {
    let same = std::fs::read(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|b| procreap::parse_stat(&b))
        .is_some_and(|st| st.start_time == start);
    if same {
        // SAFETY: kill(2) of a process this lab started (identity checked).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    reap_pid(pid);
}

/// Reaps `pid` if it is our (possibly adopted) child, waiting briefly.
pub fn reap_pid(pid: i32) {
    for _ in 0..50 {
        let mut status = 0;
        // SAFETY: waitpid on one specific pid, non-blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r != 0 {
            return; // reaped, or not our child
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// One decoy process the lab started.
pub struct Decoy {
    pub pid: i32,
    /// File the decoy appends `TERM` to each time it receives SIGTERM.
    pub log: PathBuf,
}

impl Decoy {
    pub fn terms(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|s| s.lines().filter(|l| *l == "TERM").count())
            .unwrap_or(0)
    }

    pub fn alive(&self) -> bool {
        alive(self.pid)
    }

    pub fn identity(&self) -> procreap::Identity {
        identity(self.pid)
    }
}

pub struct Lab {
    pub dir: PathBuf,
    pub state: PathBuf,
    pub names: Vec<String>,
    /// The lab's private leak marker's name, `PRT_LEAK_<random>` (the
    /// config's marker is `<name>=1`): tests never rely on the agent CLI's.
    pub marker: String,
    children: Vec<Child>,
    pids: Vec<i32>,
    exact: Vec<(i32, u64)>,
    sockets: Vec<String>,
}

/// How the decoy behaves on SIGTERM.
#[derive(Clone, Copy, PartialEq)]
pub enum OnTerm {
    /// Logs and exits.
    Exit,
    /// Logs and keeps running.
    Ignore,
}

impl Lab {
    pub fn new() -> Lab {
        become_subreaper();
        let dir = std::env::temp_dir().join(format!("procreap-test-{}", token()));
        std::fs::create_dir_all(&dir).unwrap();
        // Searchable by other users whatever the umask: decoys started as
        // nobody exec a symlink in here.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))
            .unwrap();
        let state = dir.join("state");
        Lab {
            dir,
            state,
            names: Vec::new(),
            marker: format!("PRT_LEAK_{}", token()),
            children: Vec::new(),
            pids: Vec::new(),
            exact: Vec::new(),
            sockets: Vec::new(),
        }
    }

    /// A private agent name (registered with the lab's config).
    pub fn name(&mut self) -> String {
        let n = format!("prt-{}", token());
        self.names.push(n.clone());
        n
    }

    /// A configuration that can only ever match this lab's names.
    pub fn config(&self) -> Config {
        Config {
            agent_names: if self.names.is_empty() {
                vec!["prt-none".into()]
            } else {
                self.names.clone()
            },
            min_age: Duration::ZERO,
            grace: Duration::from_secs(1),
            workspace_marker: String::new(),
            protected_pid_files: Vec::new(),
            state_dir: Some(self.state.clone()),
            lock_timeout: Duration::from_secs(20),
            leak_markers: vec![self.leak_marker()],
            ..Config::default()
        }
    }

    /// The environment entry that marks the lab's marker processes.
    pub fn leak_marker(&self) -> String {
        format!("{}=1", self.marker)
    }

    /// A directory `rel` under the lab holding a `.git` directory: a
    /// repository root, the project of every directory below it.
    pub fn repo(&self, rel: &str) -> PathBuf {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.join(".git")).unwrap();
        p
    }

    /// A directory `rel` under the lab holding a `.git` file, as `git
    /// worktree add` makes it: a project of its own.
    pub fn worktree(&self, rel: &str, of: &Path) -> PathBuf {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(
            p.join(".git"),
            format!("gitdir: {}/.git/worktrees/{name}\n", of.display()),
        )
        .unwrap();
        p
    }

    /// A helper program no agent is named after: a symlink to `sleep`
    /// called `mcp-<random>` (an MCP server stand-in).
    pub fn helper(&self) -> PathBuf {
        self.sleep_bin(&format!("mcp-{}", token()))
    }

    /// Runs the shell `body` as a script called `file` (own session, stdio
    /// /dev/null, cwd `cwd`; as user `uid` when given, root only) and waits
    /// until it has written `n` pids to `$P`, each running `helper`. The
    /// script sees `$M` (the lab's leak marker entry), `$H` (`helper`), `$P`
    /// (the pid file) and `$F` (a fifo nobody writes: `read x < "$F"` blocks
    /// until the lab kills it). Returns the script's pid and the identities
    /// written, which the lab tears down wherever they end up.
    pub fn run_sh(
        &mut self,
        file: &str,
        cwd: &Path,
        body: &str,
        helper: &Path,
        n: usize,
        uid: Option<u32>,
    ) -> (i32, Vec<procreap::Identity>) {
        use std::os::unix::fs::PermissionsExt;
        let script = self.dir.join(file);
        write_script(&script, body);
        // Readable by anyone (a script run as another user); written by us only.
        let fifo = self.dir.join("nobody-writes.fifo");
        if !fifo.exists() {
            nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
            std::fs::set_permissions(&fifo, PermissionsExt::from_mode(0o644)).unwrap();
        }
        let pids = self.dir.join(format!("{file}.pids"));
        std::fs::write(&pids, "").unwrap();
        std::fs::set_permissions(&pids, PermissionsExt::from_mode(0o666)).unwrap();
        let mut c = Command::new(&script);
        c.current_dir(cwd)
            .env("M", self.leak_marker())
            .env("H", helper)
            .env("P", &pids)
            .env("F", &fifo);
        if let Some(uid) = uid {
            c.uid(uid).gid(uid);
        }
        let top = self.spawn(c);
        let name = helper.file_name().unwrap().to_string_lossy().into_owned();
        let mut written: Vec<i32> = Vec::new();
        let ready = wait_until(Duration::from_secs(10), || {
            written = std::fs::read_to_string(&pids)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            written.len() >= n
                && written.iter().all(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim_end() == name)
                        && exec_done(*p)
                })
        });
        assert!(ready, "{file}: pids {written:?} did not all start {name}");
        let ids: Vec<procreap::Identity> = written.iter().map(|p| identity(*p)).collect();
        for id in &ids {
            self.own_exact((id.pid, id.start_time));
        }
        (top, ids)
    }

    /// A symlink to /bin/sleep called `file` (the kernel names the process after it).
    pub fn sleep_bin(&self, file: &str) -> PathBuf {
        let p = self.dir.join(file);
        if !p.exists() {
            symlink(which("sleep"), &p).unwrap();
        }
        p
    }

    /// A shell script called `file` that logs SIGTERMs to `log` and exits or
    /// ignores them.
    pub fn script(&self, file: &str, log: &Path, on_term: OnTerm) -> PathBuf {
        let p = self.dir.join(file);
        let action = match on_term {
            OnTerm::Exit => "exit 0",
            OnTerm::Ignore => ":",
        };
        // No fork in the loop (a forked subshell would briefly be a second
        // process with this name): block in `read` on a pipe the lab holds. A
        // trapped signal interrupts `read`; EOF (the lab is gone) ends it.
        let body = format!(
            "#!/bin/sh\ntrap 'echo TERM >> {log}; got=1; {action}' TERM\nwhile :; do got=0; read -r x || [ \"$got\" = 1 ] || exit 0; done\n",
            log = log.display()
        );
        std::fs::write(&p, body).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
        p
    }

    /// Starts `cmd` as a decoy: own session (no controlling tty), stdio to
    /// /dev/null, remembered for teardown.
    pub fn spawn(&mut self, cmd: Command) -> i32 {
        self.spawn_io(cmd, Stdio::null())
    }

    /// Starts `cmd` as it is set up (its stdio and session are its own
    /// business, e.g. [`Pty::streams`]), remembered for teardown.
    pub fn spawn_with_stdio(&mut self, mut cmd: Command) -> i32 {
        let child = cmd.spawn().expect("spawn decoy");
        let pid = child.id() as i32;
        self.children.push(child);
        wait_until(Duration::from_secs(5), || exec_done(pid));
        pid
    }

    /// [`Lab::spawn`] with the given stdin (a pipe stays open while the lab lives).
    pub fn spawn_io(&mut self, mut cmd: Command, stdin: Stdio) -> i32 {
        cmd.stdin(stdin).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        // A script just written may still be open for writing in a child
        // another test thread forked meanwhile (until that child execs):
        // exec then fails with ETXTBSY for a moment.
        let mut tries = 0;
        let child = loop {
            match cmd.spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => break r.expect("spawn decoy"),
            }
        };
        let pid = child.id() as i32;
        self.children.push(child);
        wait_until(Duration::from_secs(5), || exec_done(pid));
        pid
    }

    /// A sleeping agent decoy under a new private name, cwd `cwd`.
    pub fn agent(&mut self, cwd: Option<&Path>) -> Decoy {
        let name = self.name();
        let bin = self.sleep_bin(&name);
        let mut c = Command::new(&bin);
        c.arg("1000");
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        let pid = self.spawn(c);
        Decoy {
            pid,
            log: self.dir.join(format!("{name}.log")),
        }
    }

    /// A script agent decoy that logs SIGTERMs.
    pub fn script_agent(&mut self, on_term: OnTerm, args: &[&str]) -> Decoy {
        let name = self.name();
        let log = self.dir.join(format!("{name}.log"));
        let bin = self.script(&name, &log, on_term);
        let mut c = Command::new(&bin);
        c.args(args);
        let pid = self.spawn_io(c, Stdio::piped());
        // Ready once its trap is installed: SIGTERM is caught.
        let status = format!("/proc/{pid}/status");
        wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&status).is_ok_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                    .is_some_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
            })
        });
        Decoy { pid, log }
    }

    /// Starts a tmux server on a private socket whose one pane runs `shell_cmd`.
    pub fn tmux(&mut self, shell_cmd: &str) -> String {
        self.tmux_as(Path::new("tmux"), shell_cmd)
    }

    /// [`Lab::tmux`] with the tmux binary run as `bin` (an alias: a symlink
    /// of another name, whose server then calls itself `<name>: server`).
    pub fn tmux_as(&mut self, bin: &Path, shell_cmd: &str) -> String {
        let sock = format!("prt-{}", token());
        let st = Command::new(bin)
            .args([
                "-L",
                &sock,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "20",
                shell_cmd,
            ])
            .stdin(Stdio::null())
            .status()
            .expect("tmux");
        assert!(st.success(), "tmux new-session failed");
        self.sockets.push(sock.clone());
        sock
    }

    /// pids of the tmux server on `sock` and of its panes.
    pub fn tmux_panes(&self, sock: &str) -> Vec<i32> {
        let out = Command::new("tmux")
            .args(["-L", sock, "list-panes", "-a", "-F", "#{pane_pid}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Takes a child started outside [`Lab::spawn`] (on a pty, …) for
    /// teardown; returns its pid.
    pub fn adopt(&mut self, child: Child) -> i32 {
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    /// Remembers a pid the lab started indirectly (inside tmux, …) for teardown.
    pub fn own(&mut self, pid: i32) {
        self.pids.push(pid);
    }

    /// Remembers the process `(pid, start time)` itself (not its pid, which
    /// may be reused once someone else reaps it) for teardown.
    pub fn own_exact(&mut self, id: (i32, u64)) {
        self.exact.push(id);
    }

    /// Kills our child `pid` and reaps it.
    pub fn kill(&mut self, pid: i32) {
        if let Some(i) = self.children.iter().position(|c| c.id() as i32 == pid) {
            let mut c = self.children.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for our own child `pid` to exit and reaps it.
    pub fn reap(&mut self, pid: i32) {
        if let Some(i) = self.children.iter().position(|c| c.id() as i32 == pid) {
            let mut c = self.children.remove(i);
            let _ = c.wait();
        }
    }
}

/// The actions a report holds for `pid`, in order.
pub fn actions_for(r: &procreap::Report, pid: i32) -> Vec<procreap::ActionKind> {
    r.actions
        .iter()
        .filter(|a| a.process.id.pid == pid)
        .map(|a| a.action)
        .collect()
}

/// Writes an executable shell script.
pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// The identity of the live process `pid`.
pub fn identity(pid: i32) -> procreap::Identity {
    let s = std::fs::read(format!("/proc/{pid}/stat")).unwrap();
    let st = procreap::parse_stat(&s).unwrap();
    procreap::Identity {
        pid,
        start_time: st.start_time,
    }
}

/// True once `pid` runs its final program (not the forked test binary) and
/// its argv is in place: the kernel switches the executable before it fills
/// in argv, and procreap rightly refuses to judge a process in between.
pub fn exec_done(pid: i32) -> bool {
    let me = std::fs::read_link("/proc/self/exe").ok();
    let it = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    it.is_some() && it != me && !argv.is_empty()
}

/// Removes the socket file of the private tmux server `sock` (a server
/// that had to be SIGKILLed leaves it behind).
pub fn remove_socket(sock: &str) {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let dir = std::env::var_os("TMUX_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join(format!("tmux-{uid}"));
    let _ = std::fs::remove_file(dir.join(sock));
}

/// Perl that makes itself a session leader whose controlling terminal is
/// a pty it opens (as a tmux pane's first process is), then sleeps.
pub const PANE_PERL: &str = r#"POSIX::setsid();
open(my $m, "+<", "/dev/ptmx") or die "ptmx: $!";
my $u = pack("i", 0);
ioctl($m, 0x40045431, $u) or die "unlock: $!";
my $b = pack("i", 0);
ioctl($m, 0x80045430, $b) or die "ptn: $!";
my $n = unpack("i", $b);
open(my $s, "+<", "/dev/pts/$n") or die "pts: $!";
sleep 1000;"#;

/// Starts a child of this process that has a controlling terminal (a
/// pane-like process, see [`PANE_PERL`]) and waits until it has one.
pub fn spawn_pane(lab: &mut Lab) -> i32 {
    let mut c = Command::new(which("perl"));
    c.args(["-MPOSIX", "-e", PANE_PERL]);
    let pid = lab.spawn(c);
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|b| procreap::parse_stat(&b))
            .is_some_and(|st| st.tty_nr != 0)
    }));
    pid
}

pub fn which(prog: &str) -> PathBuf {
    for dir in ["/bin", "/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(prog);
        if p.exists() {
            return p;
        }
    }
    panic!("{prog} not found");
}

impl Drop for Lab {
    fn drop(&mut self) {
        let mut started: Vec<(i32, u64)> = Vec::new();
        for sock in &self.sockets {
            let out = Command::new("tmux")
                .args(["-L", sock, "display-message", "-p", "#{pid}"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output();
            if let Some(server) = out
                .ok()
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            {
                started.extend(tree(server));
            }
            let _ = Command::new("tmux")
                .args(["-L", sock, "kill-server"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for sock in &self.sockets {
            remove_socket(sock);
        }
        for pid in &self.pids {
            started.extend(tree(*pid));
        }
        started.extend(self.exact.iter().copied());
        for c in &self.children {
            started.extend(tree(c.id() as i32).into_iter().skip(1));
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (pid, start) in started {
            kill_exact(pid, start);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A pseudo-terminal pair of our own; both ends close when it is dropped.
pub struct Pty {
    _master: std::os::fd::OwnedFd,
    slave: std::os::fd::OwnedFd,
}

impl Pty {
    pub fn open() -> Pty {
        use std::os::fd::FromRawFd;
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty with out-pointers to two ints.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // Close-on-exec: a decoy must not keep the master open (the
        // terminal would outlive the lab's end of it).
        // SAFETY: fcntl on the two fds openpty just gave us.
        unsafe {
            libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        // SAFETY: openpty just gave us these two fds.
        unsafe {
            Pty {
                _master: std::os::fd::OwnedFd::from_raw_fd(master),
                slave: std::os::fd::OwnedFd::from_raw_fd(slave),
            }
        }
    }

    /// Makes `cmd` start in a session of its own, without a controlling
    /// terminal, its stdin, stdout and stderr on this terminal (what
    /// `setsid prog` does in a shell).
    pub fn streams(&self, cmd: &mut Command) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                for to in 0..3 {
                    libc::dup2(fd, to);
                }
                Ok(())
            });
        }
    }

    /// Like [`Pty::streams`], but the streams are opened the way a launcher
    /// that did `exec </dev/tty >/dev/tty 2>&1` and then `setsid` left
    /// them: `/proc/PID/fd/N` reads `/dev/tty`, and no controlling
    /// terminal is left. The decoy ignores SIGHUP (dropping the terminal
    /// sends it one).
    pub fn streams_through_dev_tty(&self, cmd: &mut Command) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(fd, libc::TIOCSCTTY as _, 0);
                let tty = libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR);
                if tty < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                for to in 0..3 {
                    libc::dup2(tty, to);
                }
                libc::close(tty);
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                libc::ioctl(0, libc::TIOCNOTTY as _, 0);
                Ok(())
            });
        }
    }

    /// The terminal's path (`/dev/pts/N`).
    pub fn path(&self) -> PathBuf {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.slave);
        std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap()
    }

    /// Makes `cmd` start in a session of its own with this terminal as its
    /// stdin and controlling terminal.
    pub fn control(&self, cmd: &mut Command) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::dup2(fd, 0);
                libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
    }
}

/// Whether this machine lets us make a private pid namespace (root, the
/// `unshare` tool, and no sandbox refusing CLONE_NEWPID); prints why not.
pub fn pid_namespaces_available() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root for a private pid namespace");
        return false;
    }
    match Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "skipped: no private pid namespaces here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            eprintln!("skipped: cannot run unshare: {e}");
            false
        }
    }
}

/// Runs one test of this test binary again in a child process — behind
/// `wrapper` (e.g. `unshare …`) when given, with `envs` set — and returns
/// whether it passed and all it printed. For what a test cannot change in
/// its own multi-threaded process: the environment, the pid namespace.
pub fn rerun(test: &str, wrapper: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((prog, args)) => {
            let mut c = Command::new(prog);
            c.args(args).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// One cleanup step that must succeed without an error.
pub fn step(cfg: &Config, kind: procreap::Kind) -> procreap::Report {
    let r = procreap::cleanup_step(cfg, kind).expect("cleanup step");
    assert!(r.error.is_none(), "step error: {:?}", r.error);
    r
}

/// Background processes, as on a machine that has been up for hours: fork
/// children of this process (no exec, so they share its pages), each asleep
/// in a session of its own (no terminal, its own process group), named
/// `name`, stdio on /dev/null. Nothing else holds their pids: they are
/// SIGKILLed by pid and reaped on drop (they also die with the thread that
/// forked them), before a [`Lab`] dropped after them walks the table.
pub struct Sleepers {
    pids: Vec<i32>,
    name: std::ffi::CString,
}

impl Sleepers {
    /// No sleepers yet; `name` (at most 15 bytes) becomes their comm.
    pub fn new(name: &str) -> Sleepers {
        Sleepers {
            pids: Vec::new(),
            name: std::ffi::CString::new(name).expect("a name without NUL"),
        }
    }

    pub fn len(&self) -> usize {
        self.pids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
    }

    /// Forks until `n` sleepers run; `Err` says why one more could not.
    pub fn grow(&mut self, n: usize) -> Result<(), String> {
        use std::os::fd::AsRawFd;
        let null = std::fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        let (null, name) = (null.as_raw_fd(), self.name.as_ptr());
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        while self.pids.len() < n {
            // SAFETY: the child makes only async-signal-safe system calls
            // and never returns.
            match unsafe { libc::fork() } {
                -1 => {
                    return Err(format!(
                        "fork failed after {} sleepers: {}",
                        self.pids.len(),
                        std::io::Error::last_os_error()
                    ))
                }
                0 => unsafe { sleeper(parent, null, name) },
                pid => self.pids.push(pid),
            }
        }
        Ok(())
    }
}

/// A sleeper's life: dies with its parent, leaves its session, lets go of
/// every inherited descriptor, sleeps until killed.
unsafe fn sleeper(parent: i32, null: i32, name: *const libc::c_char) -> ! {
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
    libc::setsid();
    libc::prctl(libc::PR_SET_NAME, name as libc::c_ulong, 0, 0, 0);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
        libc::signal(sig, libc::SIG_DFL);
    }
    for fd in 0..3 {
        libc::dup2(null, fd);
    }
    libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    loop {
        libc::pause();
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: our own child, not yet reaped: the pid cannot have
            // been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for &pid in &self.pids {
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
    }
}

impl Lab {
    /// Opens one more window on the lab's tmux server `sock` (see
    /// [`Lab::tmux`]) running `shell_cmd`: a further pane of that server.
    pub fn tmux_window(&self, sock: &str, shell_cmd: &str) {
        let st = Command::new("tmux")
            .args(["-L", sock, "new-window", "-d", shell_cmd])
            .stdin(Stdio::null())
            .status()
            .expect("tmux");
        assert!(st.success(), "tmux new-window failed");
    }
}

/// Runs a command to its end; whether it succeeded.
pub fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `test` again in a private mount namespace of its own, unless this
/// already is that run (then `true`: go on); checks that run printed
/// `done`. Skips (with the reason) where the machine does not allow one.
pub fn in_mount_namespace(test: &str, done: &str) -> bool {
    if std::env::var_os("PRT_IN_MOUNT_NS").is_some() {
        return true;
    }
    if mount_namespaces_available() {
        let (ok, text) = rerun(test, &["unshare", "-m"], &[("PRT_IN_MOUNT_NS", "1")]);
        assert!(ok && text.contains(done), "{text}");
    }
    false
}

/// Whether this machine lets a test make a private mount namespace (root
/// and `unshare`); prints why not.
pub fn mount_namespaces_available() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root for a private mount namespace");
        return false;
    }
    if !run("unshare", &["-m", "true"]) {
        eprintln!("skipped: no private mount namespaces here");
        return false;
    }
    true
}
