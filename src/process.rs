//! Leaf types of a process, with no I/O: its identity, its terminal, its
//! name as the kernel keeps it, the parsed `/proc/PID/stat` line and the
//! facts one stat read gives. The readers (`procfs`, `ps`), the snapshot and
//! the rules all build on these.

use std::fmt;
use std::time::Duration;

/// A process identity: the pid plus its start time. Two processes with the
/// same pid and different start times are different processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// Process id.
    pub pid: i32,
    /// Start time: clock ticks since boot with `/proc`; a start-time key in
    /// seconds with the `ps` backend.
    pub start_time: u64,
}

/// The controlling terminal as the backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tty {
    /// No controlling terminal.
    None,
    /// A device number from `/proc/PID/stat` (`tty_nr`).
    Dev(u32),
    /// A name from `ps` (`pts/3`, `s024`).
    Name(String),
}

impl Tty {
    /// The terminal's name as `ps` prints it, or `None` without one.
    pub fn name(&self) -> Option<String> {
        match self {
            Tty::None => None,
            Tty::Name(n) => Some(n.clone()),
            Tty::Dev(dev) => {
                let major = (dev >> 8) & 0xfff;
                let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
                Some(match major {
                    136..=143 => format!("pts/{}", minor + (major - 136) * 256),
                    4 if minor < 64 => format!("tty{minor}"),
                    4 => format!("ttyS{}", minor - 64),
                    5 if minor == 0 => "tty".into(),
                    _ => format!("tty({major},{minor})"),
                })
            }
        }
    }
}

/// The terminal a stream's path names, by the name alone: what follows the
/// last `/dev/` when that is `pts/N`, `tty…` or `console` (`/dev/pts/3`,
/// a chroot's `/srv/jail/dev/pts/3`, `/dev/tty1`, `/dev/ttyS0`, `/dev/tty`,
/// `/dev/console`; macOS's `/dev/ttys003`). Where the device number can be
/// read (Linux) it decides and this only names it.
pub(crate) fn terminal_name(path: &str) -> Option<String> {
    let dev = &path[path.rfind("/dev/")? + 5..];
    let terminal = dev.starts_with("pts/") || dev.starts_with("tty") || dev == "console";
    terminal.then(|| dev.to_string())
}

/// Whether a descriptor's path is a pty master (`…/ptmx`), also when the
/// node it was opened through has since been removed.
pub(crate) fn pty_master(path: &[u8]) -> bool {
    path.strip_suffix(b" (deleted)")
        .unwrap_or(path)
        .ends_with(b"/ptmx")
}

/// A terminal driver's device numbers: its major and a range of minors.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TtyDriver {
    pub major: u32,
    pub minors: (u32, u32),
}

/// The terminal drivers of a `/proc/tty/drivers` table (`name node major
/// minor-or-range type` per line).
#[cfg(target_os = "linux")]
pub(crate) fn tty_drivers(table: &str) -> Vec<TtyDriver> {
    table
        .lines()
        .filter_map(|l| {
            let mut col = l.split_ascii_whitespace().skip(2);
            let major = col.next()?.parse().ok()?;
            let range = col.next()?;
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            Some(TtyDriver {
                major,
                minors: (lo.parse().ok()?, hi.parse().ok()?),
            })
        })
        .collect()
}

/// Linux's usual terminal drivers, for where `/proc/tty/drivers` cannot be
/// read: BSD and Unix98 ptys, virtual consoles and serial lines, `/dev/tty`
/// and the console, USB and hypervisor consoles.
#[cfg(target_os = "linux")]
pub(crate) fn known_tty_drivers() -> Vec<TtyDriver> {
    let all = (0, u32::MAX);
    let mut d = vec![
        TtyDriver {
            major: 3,
            minors: all,
        },
        TtyDriver {
            major: 4,
            minors: all,
        },
        TtyDriver {
            major: 5,
            minors: (0, 1),
        },
    ];
    for major in (136..=143).chain([166, 188, 204, 229]) {
        d.push(TtyDriver { major, minors: all });
    }
    d
}

/// Whether device (major, minor) belongs to a terminal driver. `/dev/ptmx`
/// (5, 2) is a pty's master side, no one's terminal.
#[cfg(target_os = "linux")]
pub(crate) fn is_terminal(drivers: &[TtyDriver], major: u32, minor: u32) -> bool {
    (major, minor) != (5, 2)
        && drivers
            .iter()
            .any(|d| d.major == major && (d.minors.0..=d.minors.1).contains(&minor))
}

/// A process's name as the kernel keeps it (`comm`): at most 15 bytes,
/// raw (a name cut mid-character is not valid UTF-8).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Comm {
    len: u8,
    bytes: [u8; 15],
}

impl Comm {
    /// The kernel's limit.
    pub(crate) const MAX: usize = 15;

    /// `name`'s first 15 bytes.
    pub fn new(name: &[u8]) -> Comm {
        let len = name.len().min(Self::MAX);
        let mut bytes = [0u8; 15];
        bytes[..len].copy_from_slice(&name[..len]);
        Comm {
            len: len as u8,
            bytes,
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name for display (invalid UTF-8 replaced).
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.lossy(), f)
    }
}

/// What one read of a process's status line gives (a `/proc/PID/stat` line
/// or a `ps` row): everything a rule needs besides the owner, argv, the
/// environment and the cwd.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    /// Identity (pid + start time).
    pub id: Identity,
    /// The kernel's name for it.
    pub comm: Comm,
    /// Parent pid (0 for none).
    pub ppid: i32,
    /// Process group id (0 where the backend does not say).
    pub pgrp: i32,
    /// Unix state letter (`R`, `S`, `D`, `T`, `t`, `Z`, …).
    pub state: char,
    /// Controlling terminal.
    pub tty: Tty,
    /// Age when it was read.
    pub age: Duration,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// A kernel thread: it has no argv and is never an agent.
    pub kthread: bool,
    /// Threads of the process (0 where the backend does not say).
    pub threads: u64,
    /// Where argv lives in its memory, when the kernel shows it (`/proc`).
    pub(crate) args: (u64, u64),
}

impl Stat {
    /// True when the process is dead, waiting for its parent to reap it:
    /// state `Z`/`X` with no thread left but the dead leader. A leader
    /// whose main thread exited while others run also shows `Z`, and is
    /// very much alive.
    pub fn is_defunct(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x') && self.threads <= 1
    }
}

/// Parsed fields of one `/proc/PID/stat` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatLine {
    pub pid: i32,
    /// The name, for display (invalid UTF-8 replaced).
    pub name: String,
    /// The name's raw bytes as the kernel keeps them.
    pub comm: Comm,
    pub state: char,
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    pub tty_nr: u32,
    pub flags: u64,
    /// Live threads of the thread group (field 20).
    pub num_threads: u64,
    pub start_time: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
    /// Where argv lives in the process's memory (fields 48–49; 0 when the
    /// kernel hides them from us or is older than 3.5).
    pub arg_start: u64,
    pub arg_end: u64,
}

fn num_u64(f: &[u8]) -> Option<u64> {
    if f.is_empty() || f.len() > 20 {
        return None;
    }
    f.iter().try_fold(0u64, |v, &b| {
        b.is_ascii_digit()
            .then_some(())
            .and_then(|_| v.checked_mul(10)?.checked_add(u64::from(b - b'0')))
    })
}

fn num_i64(f: &[u8]) -> Option<i64> {
    match f.split_first() {
        Some((b'-', digits)) => num_u64(digits)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v),
        _ => num_u64(f).and_then(|v| i64::try_from(v).ok()),
    }
}

/// Parses one `/proc/PID/stat` line. The name sits between the first `(` and
/// the last `)`: it may hold spaces, parentheses, newlines and non-UTF-8
/// bytes. Returns `None` for anything malformed. Byte-level: it runs once
/// per process per scan.
pub fn parse_stat(buf: &[u8]) -> Option<StatLine> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = num_i64(buf[..open].trim_ascii())
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p > 0)?;
    let mut f = buf[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = match f.next()? {
        [c] if c.is_ascii_alphabetic() => char::from(*c),
        _ => return None,
    };
    let ppid = num_i64(f.next()?)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p >= 0)?;
    let pgrp = num_i64(f.next()?).and_then(|p| i32::try_from(p).ok())?;
    let session = num_i64(f.next()?).and_then(|p| i32::try_from(p).ok())?;
    let tty_nr = num_i64(f.next()?)?;
    let _tpgid = f.next()?;
    let flags = num_u64(f.next()?)?;
    // Fields 10..=19 (minflt … nice), num_threads (20), itrealvalue (21),
    // then starttime (field 22).
    let num_threads = num_i64(f.nth(10)?)?;
    let start_time = num_u64(f.nth(1)?)?;
    // vsize (23), rss (24).
    let _vsize = f.next();
    let rss_pages = f.next().and_then(num_i64).map_or(0, |r| r.max(0) as u64);
    // Fields 25..=47, then arg_start and arg_end (48, 49).
    let arg_start = f.nth(23).and_then(num_u64).unwrap_or(0);
    let arg_end = f.next().and_then(num_u64).unwrap_or(0);
    Some(StatLine {
        pid,
        name: String::from_utf8_lossy(&buf[open + 1..close]).into_owned(),
        comm: Comm::new(&buf[open + 1..close]),
        state,
        ppid,
        pgrp,
        session,
        tty_nr: tty_nr as u32,
        flags,
        num_threads: num_threads.max(0) as u64,
        start_time,
        rss_pages,
        arg_start,
        arg_end,
    })
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn clock_ticks() -> u64 {
    static HZ: once_cell::sync::Lazy<u64> = once_cell::sync::Lazy::new(|| {
        #[cfg(unix)]
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        #[cfg(not(unix))]
        let v = 100;
        if v > 0 {
            v as u64
        } else {
            100
        }
    });
    *HZ
}

/// Time since boot (including suspend), the clock `/proc` start times use.
/// Also the clock of the ledger, immune to wall-clock jumps.
#[cfg(unix)]
pub(crate) fn boot_clock() -> Duration {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let id = nix::time::ClockId::CLOCK_BOOTTIME;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let id = nix::time::ClockId::CLOCK_MONOTONIC;
    nix::time::clock_gettime(id)
        .map(Duration::from)
        .unwrap_or_default()
}

#[cfg(not(unix))]
pub(crate) fn boot_clock() -> Duration {
    Duration::ZERO
}
