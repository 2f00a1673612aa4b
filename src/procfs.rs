//! The Linux reader: everything from `/proc`, nothing spawned. Every read
//! is relative to one descriptor of `/proc`, into stack buffers, one `read`
//! per file: phase 1 of a scan reads one small file per process (`comm`),
//! so its cost is the floor's.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::{boot_clock, clock_ticks, parse_stat, Comm, Identity, Stat, Tty};

const PF_KTHREAD: u64 = 0x0020_0000;

/// An open `/proc`, checked to belong to our pid namespace.
pub(crate) struct Proc {
    fd: OwnedFd,
    /// The terminal drivers' device numbers (`/proc/tty/drivers`).
    ttys: once_cell::unsync::OnceCell<Vec<crate::process::TtyDriver>>,
}

/// A `/proc` path relative to the `/proc` descriptor, built on the stack:
/// `PID/leaf` plus a NUL.
struct RelPath {
    buf: [u8; 64],
}

impl RelPath {
    fn new(pid: i32, leaf: &str) -> Option<RelPath> {
        let mut buf = [0u8; 64];
        let mut n = itoa(pid, &mut buf);
        let leaf = leaf.as_bytes();
        if n + 1 + leaf.len() + 1 > buf.len() {
            return None;
        }
        buf[n] = b'/';
        n += 1;
        buf[n..n + leaf.len()].copy_from_slice(leaf);
        Some(RelPath { buf })
    }

    fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf).expect("NUL-terminated")
    }
}

/// Writes `n` (positive) at the start of `buf`; returns its length.
fn itoa(n: i32, buf: &mut [u8]) -> usize {
    let mut digits = [0u8; 12];
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    buf[..len].copy_from_slice(&digits[i..]);
    len
}

fn page_size() -> u64 {
    static PAGE: once_cell::sync::Lazy<u64> = once_cell::sync::Lazy::new(|| {
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if v > 0 {
            v as u64
        } else {
            4096
        }
    });
    *PAGE
}

/// Opens `rel` below `dir` read-only, close-on-exec.
fn open_at(dir: RawFd, rel: &CStr) -> Option<OwnedFd> {
    // SAFETY: a directory fd and a NUL-terminated relative path.
    let fd = unsafe { libc::openat(dir, rel.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    // SAFETY: the kernel just gave us this fd.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One `read` into `buf` (procfs answers these small files whole).
fn read_once<'b>(fd: &OwnedFd, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    loop {
        // SAFETY: reading into a buffer we own, within its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Some(&buf[..n as usize]);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

fn owner(fd: &OwnedFd) -> Option<u32> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat on our fd into `st`.
    if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it filled `st`.
    Some(unsafe { st.assume_init() }.st_uid)
}

/// A `Stat` from a stat line read at boot-clock time `now`.
pub(crate) fn to_stat(buf: &[u8], now: Duration, hz: u64) -> Option<Stat> {
    let s = parse_stat(buf)?;
    let started = Duration::from_millis(s.start_time.saturating_mul(1000) / hz);
    Some(Stat {
        id: Identity {
            pid: s.pid,
            start_time: s.start_time,
        },
        comm: s.comm,
        ppid: s.ppid,
        pgrp: s.pgrp,
        state: s.state,
        tty: if s.tty_nr == 0 {
            Tty::None
        } else {
            Tty::Dev(s.tty_nr)
        },
        age: now.saturating_sub(started),
        rss_bytes: s.rss_pages.saturating_mul(page_size()),
        kthread: s.flags & PF_KTHREAD != 0,
        threads: s.num_threads,
        args: (s.arg_start, s.arg_end),
    })
}

impl Proc {
    /// Opens `/proc` and checks that it is ours: identities read from a
    /// `/proc` of another pid namespace would name other processes than the
    /// pids our signals reach.
    pub(crate) fn open() -> Result<Proc> {
        let me = std::process::id();
        let seen = std::fs::read_link("/proc/self").map_err(|e| {
            Error::io(
                "reading /proc/self (is /proc mounted? procreap reads the process table there)",
                e,
            )
        })?;
        if seen.to_str() != Some(&me.to_string()) {
            return Err(Error::PidNamespace(format!(
                "/proc/self is {}, not pid {me}: the /proc mounted here belongs to another pid \
                 namespace (mount a /proc of this namespace, e.g. `mount -t proc proc /proc` in \
                 it)",
                seen.display()
            )));
        }
        // SAFETY: a NUL-terminated path literal.
        let fd = unsafe {
            libc::open(
                c"/proc".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::io("opening /proc", std::io::Error::last_os_error()));
        }
        // SAFETY: the kernel just gave us this fd.
        Ok(Proc {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            ttys: Default::default(),
        })
    }

    fn open_file(&self, pid: i32, leaf: &str) -> Option<OwnedFd> {
        open_at(self.fd.as_raw_fd(), RelPath::new(pid, leaf)?.as_cstr())
    }

    /// Phase 1: every process's pid and name, pids ascending. One `comm`
    /// read per process; processes that vanish meanwhile are skipped.
    pub(crate) fn list(&self) -> Result<Vec<(i32, Comm)>> {
        let mut out = Vec::with_capacity(1024);
        let mut buf = [0u8; 32];
        let mut short: Option<std::io::Error> = None;
        self.each_pid(|pid| {
            if short.is_some() {
                return;
            }
            match self.open_file(pid, "comm") {
                Some(fd) => {
                    if let Some(b) = read_once(&fd, &mut buf) {
                        let name = b.strip_suffix(b"\n").unwrap_or(b);
                        out.push((pid, Comm::new(name)));
                    }
                }
                // Gone meanwhile is normal; out of descriptors or memory is
                // a table not seen, never "no process".
                None => {
                    let e = std::io::Error::last_os_error();
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
                    ) {
                        short = Some(e);
                    }
                }
            }
        })?;
        if let Some(e) = short {
            return Err(Error::io("reading the process table in /proc", e));
        }
        // The kernel lists pids in ascending order; make sure.
        if !out.windows(2).all(|w| w[0].0 < w[1].0) {
            out.sort_unstable_by_key(|e| e.0);
            out.dedup_by_key(|e| e.0);
        }
        Ok(out)
    }

    /// Calls `f` with every pid `/proc` lists (one `getdents64` buffer at a
    /// time, nothing allocated per entry).
    fn each_pid(&self, mut f: impl FnMut(i32)) -> Result<()> {
        // A descriptor of its own: getdents64 moves the file offset.
        // SAFETY: openat of "." below our /proc fd.
        let dir = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c".".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if dir < 0 {
            return Err(Error::io("listing /proc", std::io::Error::last_os_error()));
        }
        // SAFETY: the kernel just gave us this fd.
        let dir = unsafe { OwnedFd::from_raw_fd(dir) };
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: getdents64 into a buffer we own, within its length.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    dir.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::io("listing /proc", e));
            }
            if n == 0 {
                return Ok(());
            }
            let mut off = 0usize;
            while off + 19 < n as usize {
                // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                if reclen == 0 {
                    break;
                }
                let name = &buf[off + 19..(off + reclen).min(n as usize)];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if let Some(pid) = parse_pid(name) {
                    f(pid);
                }
                off += reclen;
            }
        }
    }

    /// Every pid, without reading anything else.
    pub(crate) fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::with_capacity(1024);
        self.each_pid(|p| out.push(p))?;
        Ok(out)
    }

    /// One process's stat line and the owner of its /proc entry (from the
    /// same descriptor). The kernel shows a process that is not dumpable
    /// (ssh-agent, setuid programs, prctl(PR_SET_DUMPABLE, 0)) as root's
    /// there, whoever runs it: a root owner is only a hint, to be confirmed
    /// with [`Proc::status_euid`].
    pub(crate) fn stat(&self, pid: i32) -> Option<(Stat, Option<u32>)> {
        let fd = self.open_file(pid, "stat")?;
        let uid = owner(&fd);
        let mut buf = [0u8; 1024];
        let b = read_once(&fd, &mut buf)?;
        let st = to_stat(b, boot_clock(), clock_ticks()).filter(|s| s.id.pid == pid)?;
        Some((st, uid))
    }

    /// Whether `pid` hosts terminal sessions others attach to: it holds a
    /// pty master (`…/ptmx`) and listens on a unix socket (in its own
    /// network namespace) — tmux under any name, screen, dtach, zellij.
    /// At most [`SESSION_FDS`] descriptors are looked at. `Err` says why it
    /// cannot be told (its descriptors are another user's, or it is not
    /// dumpable): that is not "no".
    pub(crate) fn session_server(&self, pid: i32) -> std::result::Result<bool, String> {
        let fds = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(fds) => fds,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(unreadable("descriptors", &e)),
        };
        let (mut master, mut sockets) = (false, Vec::new());
        for e in fds.flatten().take(SESSION_FDS) {
            let name = e.file_name();
            let link = match self.link(pid, &format!("fd/{}", name.to_string_lossy())) {
                Ok(l) => l,
                Err(nix::errno::Errno::ENOENT) => continue, // closed meanwhile
                // Listed but not readable (from inside a user namespace):
                // as unknown as a directory that cannot be listed.
                Err(e) => {
                    let e = std::io::Error::from_raw_os_error(e as i32);
                    return Err(unreadable("descriptors", &e));
                }
            };
            if crate::process::pty_master(&link) {
                master = true;
            } else if let Some(ino) = link
                .strip_prefix(b"socket:[")
                .and_then(|r| r.strip_suffix(b"]"))
                .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok())
            {
                sockets.push(ino);
            }
        }
        if !master || sockets.is_empty() {
            return Ok(false);
        }
        match std::fs::read(format!("/proc/{pid}/net/unix")) {
            Ok(table) => Ok(listening_unix(&table).any(|ino| sockets.contains(&ino))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(unreadable("sockets", &e)),
        }
    }

    /// The terminal one of fds 0–2 is on, when that terminal is still open
    /// (a pty whose other end closed — its tmux or terminal emulator gone —
    /// reads `… (deleted)`). A terminal is known by what it is, not by the
    /// path it was opened under: a character device whose number belongs to
    /// a terminal driver of `/proc/tty/drivers` (a pty of any devpts
    /// instance at any path, a console or serial line under any name). `Err`
    /// when a stream cannot be read: that is not "no terminal".
    pub(crate) fn live_terminal(&self, pid: i32) -> std::result::Result<Option<String>, String> {
        use nix::errno::Errno;
        let mut unknown: Option<String> = None;
        for fd in 0..3 {
            let link = match self.link(pid, &format!("fd/{fd}")) {
                Ok(l) => l,
                Err(Errno::ENOENT) => continue, // closed, or gone
                Err(e) => {
                    unknown.get_or_insert(format!("fd {fd}: {}", e.desc()));
                    continue;
                }
            };
            let target = String::from_utf8_lossy(&link);
            // pipe:[…], socket:[…], anon_inode:….
            if !target.starts_with('/') {
                continue;
            }
            // A pty whose master closed leaves devpts, so its link reads
            // "(deleted)"; any other terminal's node may be removed while
            // the terminal lives (a console opened through a node since
            // deleted).
            let deleted = target.ends_with(" (deleted)");
            match self.device(pid, fd) {
                Ok(Some((major, _))) if deleted && (136..=143).contains(&major) => {}
                Ok(Some((major, minor)))
                    if crate::process::is_terminal(self.ttys(), major, minor) =>
                {
                    let shown = target.strip_suffix(" (deleted)").unwrap_or(&target);
                    let name = crate::process::terminal_name(shown);
                    return Ok(Some(name.unwrap_or_else(|| shown.to_string())));
                }
                Ok(_) | Err(Errno::ENOENT) => {}
                Err(e) => {
                    unknown.get_or_insert(format!("fd {fd}: {}", e.desc()));
                }
            }
        }
        match unknown {
            // A process that is gone has no terminal.
            Some(_) if !std::path::Path::new(&format!("/proc/{pid}")).exists() => Ok(None),
            Some(why) => Err(format!("its standard streams cannot be read ({why})")),
            None => Ok(None),
        }
    }

    /// The terminal drivers of this machine, read once per handle.
    fn ttys(&self) -> &[crate::process::TtyDriver] {
        self.ttys.get_or_init(|| {
            std::fs::read_to_string("/proc/tty/drivers")
                .map(|t| crate::process::tty_drivers(&t))
                .ok()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(crate::process::known_tty_drivers)
        })
    }

    /// The device number (major, minor) of `pid`'s descriptor `fd` when it
    /// is a character device, from the kernel's cached attributes
    /// (`AT_STATX_DONT_SYNC`: a network or FUSE filesystem is not asked).
    fn device(
        &self,
        pid: i32,
        fd: i32,
    ) -> std::result::Result<Option<(u32, u32)>, nix::errno::Errno> {
        let rel = RelPath::new(pid, &format!("fd/{fd}")).ok_or(nix::errno::Errno::ENAMETOOLONG)?;
        // struct statx is 256 bytes: stx_mode is the u16 at offset 28,
        // stx_rdev_major and stx_rdev_minor the u32s at offsets 128, 132.
        let mut buf = [0u8; 256];
        // SAFETY: statx into a buffer of struct statx's size that we own,
        // relative to our /proc descriptor, with a NUL-terminated path.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_statx,
                self.fd.as_raw_fd(),
                rel.as_cstr().as_ptr(),
                libc::AT_STATX_DONT_SYNC,
                libc::STATX_TYPE,
                buf.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(nix::errno::Errno::last());
        }
        let u32_at = |o: usize| u32::from_ne_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
        let mode = u32::from(u16::from_ne_bytes([buf[28], buf[29]]));
        Ok((mode & libc::S_IFMT == libc::S_IFCHR).then(|| (u32_at(128), u32_at(132))))
    }

    /// The target of the link `/proc/PID/leaf`.
    fn read_link(&self, pid: i32, leaf: &str) -> Option<Vec<u8>> {
        self.link(pid, leaf).ok()
    }

    /// The target of the link `/proc/PID/leaf`, or why it cannot be read.
    fn link(&self, pid: i32, leaf: &str) -> std::result::Result<Vec<u8>, nix::errno::Errno> {
        let rel = RelPath::new(pid, leaf).ok_or(nix::errno::Errno::ENAMETOOLONG)?;
        let mut buf = [0u8; 4096];
        // SAFETY: readlinkat into a buffer we own.
        let n = unsafe {
            libc::readlinkat(
                self.fd.as_raw_fd(),
                rel.as_cstr().as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(nix::errno::Errno::last());
        }
        Ok(buf[..n as usize].to_vec())
    }

    /// One process's stat line alone (a pass over the whole table: the
    /// owner is read later, where a rule needs it).
    pub(crate) fn stat_line(&self, pid: i32) -> Option<Stat> {
        let fd = self.open_file(pid, "stat")?;
        let mut buf = [0u8; 1024];
        let b = read_once(&fd, &mut buf)?;
        to_stat(b, boot_clock(), clock_ticks()).filter(|s| s.id.pid == pid)
    }

    /// The effective uid from `/proc/PID/status`.
    pub(crate) fn status_euid(&self, pid: i32) -> Option<u32> {
        let fd = self.open_file(pid, "status")?;
        let mut buf = [0u8; 4096];
        let b = read_once(&fd, &mut buf)?;
        let line = b.split(|&c| c == b'\n').find(|l| l.starts_with(b"Uid:"))?;
        let text = std::str::from_utf8(&line[4..]).ok()?;
        text.split_ascii_whitespace().nth(1)?.parse().ok()
    }

    /// The basename of the process's executable (`None` when it cannot be
    /// read: gone, a kernel thread, another user's process).
    pub(crate) fn exe_base(&self, pid: i32) -> Option<String> {
        let link = self.read_link(pid, "exe")?;
        let target = &link[..];
        let target = target.strip_suffix(b" (deleted)").unwrap_or(target);
        let base = target.rsplit(|&b| b == b'/').next().unwrap_or(target);
        Some(String::from_utf8_lossy(base).into_owned())
    }

    /// Children of every thread of `pid`, from `/proc/PID/task/TID/children`;
    /// `None` where the kernel does not offer that file (then a full pass
    /// over the table is the way).
    pub(crate) fn children(&self, pid: i32) -> Option<Vec<i32>> {
        let tids = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut out = Vec::new();
        let mut any = false;
        for t in tids.flatten() {
            let Some(tid) = parse_pid(t.file_name().as_encoded_bytes()) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/children"))
            else {
                continue;
            };
            any = true;
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|w| w.parse::<i32>().ok()),
            );
        }
        if !any {
            // No task had a children file: the kernel lacks it (or the
            // process is gone, which a full pass shows as well).
            return None;
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

fn parse_pid(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name)
        .ok()?
        .parse()
        .ok()
        .filter(|p| *p > 0)
}

/// One process read afresh, with its owner.
pub(crate) fn read(pid: i32) -> Option<(Stat, Option<u32>)> {
    Proc::open().ok()?.stat(pid)
}

/// The pid tracing this process (0 = none).
pub(crate) fn tracer(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// This boot's id, so a ledger from another boot is never matched against
/// this boot's processes.
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Why a process's `what` (descriptors, sockets, mounts) cannot be read.
fn unreadable(what: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!("its {what} cannot be read: another user's, or not dumpable")
    } else {
        format!("its {what} cannot be read ({e})")
    }
}

/// How many descriptors [`Proc::session_server`] looks at.
const SESSION_FDS: usize = 16_384;

/// The inodes of the listening sockets in a `/proc/PID/net/unix` table
/// (`Num RefCount Protocol Flags Type St Inode Path`; `Flags` has
/// `__SO_ACCEPTCON`, 0x10000, on a listening socket).
pub(crate) fn listening_unix(table: &[u8]) -> impl Iterator<Item = u64> + '_ {
    table.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        let line = std::str::from_utf8(line).ok()?;
        let mut col = line.split_ascii_whitespace();
        let flags = u32::from_str_radix(col.nth(3)?, 16).ok()?;
        let inode = col.nth(2)?.parse().ok()?;
        (flags & 0x10000 != 0).then_some(inode)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_drivers_come_from_the_kernels_table() {
        use crate::process::{is_terminal, known_tty_drivers, tty_drivers};
        let table = "/dev/tty             /dev/tty        5       0 system:/dev/tty\n\
                     /dev/console         /dev/console    5       1 system:console\n\
                     /dev/ptmx            /dev/ptmx       5       2 system\n\
                     serial               /dev/ttyS       4 64-111 serial\n\
                     pty_slave            /dev/pts      136 0-1048575 pty:slave\n\
                     hvc                  /dev/hvc      229 0-7 system\n\
                     unknown              /dev/tty        4 1-63 console\n";
        let d = tty_drivers(table);
        assert_eq!(d.len(), 7);
        for (major, minor, tty) in [
            (136, 3, true),
            (136, 1_048_575, true),
            (5, 0, true),
            (5, 1, true),
            (5, 2, false), // ptmx: a master
            (4, 5, true),
            (4, 70, true),
            (4, 200, false),
            (229, 0, true),
            (1, 3, false), // /dev/null
            (8, 0, false),
        ] {
            assert_eq!(is_terminal(&d, major, minor), tty, "{major}:{minor}");
        }
        assert!(is_terminal(&known_tty_drivers(), 136, 9));
        assert!(!is_terminal(&known_tty_drivers(), 1, 3));
    }

    #[test]
    fn a_pty_master_is_known_by_its_name_also_when_removed() {
        use crate::process::pty_master;
        assert!(pty_master(b"/dev/ptmx"));
        assert!(pty_master(b"/dev/pts/ptmx"));
        assert!(pty_master(b"/jail/dev/ptmx (deleted)"));
        assert!(!pty_master(b"/dev/pts/3"));
        assert!(!pty_master(b"/tmp/ptmx.log"));
    }

    #[test]
    fn terminals_are_named_after_their_dev_directory() {
        use crate::process::terminal_name;
        for (path, want) in [
            ("/dev/pts/3", Some("pts/3")),
            ("/srv/jail/dev/pts/3", Some("pts/3")),
            ("/dev/tty1", Some("tty1")),
            ("/dev/tty", Some("tty")),
            ("/dev/console", Some("console")),
            ("/dev/null", None),
            ("/mnt/ptsb/3", None), // told by its device number instead
        ] {
            assert_eq!(terminal_name(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn the_listing_holds_this_process_by_its_name() {
        let p = Proc::open().unwrap();
        let all = p.list().unwrap();
        let me = std::process::id() as i32;
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let mine = all.iter().find(|(pid, _)| *pid == me).expect("listed");
        assert_eq!(mine.1.as_bytes(), comm.trim_end().as_bytes());
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        let (st, uid) = p.stat(me).unwrap();
        assert_eq!(st.id.pid, me);
        // SAFETY: geteuid has no preconditions.
        assert_eq!(uid, Some(unsafe { libc::geteuid() }));
    }

    #[test]
    fn listening_sockets_are_told_by_their_flags() {
        let table = b"Num       RefCount Protocol Flags    Type St Inode Path
0000000032: 00000002 00000000 00010000 0001 01 20710 /tmp/tmux-0/default
0000000033: 00000003 00000000 00000000 0001 03 20711 /tmp/tmux-0/default
0000000034: 00000002 00000000 00010000 0002 01 20712 @abstract
garbage
";
        let got: Vec<u64> = listening_unix(table).collect();
        assert_eq!(got, [20710, 20712]);
    }

    #[test]
    fn children_come_from_the_task_files() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let p = Proc::open().unwrap();
        let me = std::process::id() as i32;
        let kids = p.children(me);
        let _ = child.kill();
        let _ = child.wait();
        if let Some(kids) = kids {
            assert!(kids.contains(&(child.id() as i32)), "{kids:?}");
        }
    }
}
