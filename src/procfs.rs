//! The Linux backend: everything from `/proc`, nothing spawned.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::snapshot::{boot_clock, clock_ticks, parse_stat, Identity, Proc, Tty};

const PF_KTHREAD: u64 = 0x0020_0000;

/// Reads a small /proc file into `buf`, stopping as soon as `done` says the
/// data is complete (procfs answers these in one `read`, so that saves the
/// second `read` that would only return 0).
fn read_small<'b>(path: &str, buf: &'b mut [u8], done: fn(&[u8]) -> bool) -> Option<&'b [u8]> {
    let mut f = File::open(path).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if done(&buf[..n]) {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(&buf[..n])
}

fn line_done(b: &[u8]) -> bool {
    b.ends_with(b"\n")
}

fn nul_seen(b: &[u8]) -> bool {
    b.contains(&0)
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

fn to_proc(buf: &[u8], now: Duration, hz: u64) -> Option<Proc> {
    let s = parse_stat(buf)?;
    let started = Duration::from_millis(s.start_time.saturating_mul(1000) / hz);
    Some(Proc {
        id: Identity {
            pid: s.pid,
            start_time: s.start_time,
        },
        ppid: s.ppid,
        name: s.name,
        state: s.state,
        tty: if s.tty_nr == 0 {
            Tty::None
        } else {
            Tty::Dev(s.tty_nr)
        },
        age: now.saturating_sub(started),
        kthread: s.flags & PF_KTHREAD != 0,
        rss_bytes: s.rss_pages.saturating_mul(page_size()),
        listed_uid: None,
        args: (s.arg_start, s.arg_end),
    })
}

/// One pass over `/proc`: one stat read per process. Processes that vanish or
/// cannot be read are skipped.
pub(crate) fn list() -> Result<Vec<Proc>> {
    // Identities from a /proc of another pid namespace would name other
    // processes than the pids we signal.
    let me = std::fs::read_link("/proc/self").ok();
    if me.as_deref().and_then(|p| p.to_str()) != Some(&std::process::id().to_string()) {
        return Err(Error::Unsupported(format!(
            "/proc/self is {me:?}, not pid {}: /proc belongs to another pid namespace",
            std::process::id()
        )));
    }
    let dir = std::fs::read_dir("/proc").map_err(|e| Error::io("listing /proc", e))?;
    let now = boot_clock();
    let hz = clock_ticks();
    let mut out = Vec::with_capacity(512);
    let mut path = String::with_capacity(32);
    let mut buf = [0u8; 1024];
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        path.clear();
        path.push_str("/proc/");
        path.push_str(name);
        path.push_str("/stat");
        if let Some(p) = read_small(&path, &mut buf, line_done).and_then(|b| to_proc(b, now, hz)) {
            out.push(p);
        }
    }
    Ok(out)
}

/// One process read afresh.
pub(crate) fn read(pid: i32) -> Option<Proc> {
    let mut buf = [0u8; 1024];
    let b = read_small(&format!("/proc/{pid}/stat"), &mut buf, line_done)?;
    to_proc(b, boot_clock(), clock_ticks()).filter(|p| p.id.pid == pid)
}

/// argv split at NULs (lossy UTF-8); `None` when unreadable.
pub(crate) fn argv(pid: i32) -> Option<Vec<String>> {
    const LIMIT: u64 = 1 << 20;
    let f = File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut raw = Vec::new();
    f.take(LIMIT + 1).read_to_end(&mut raw).ok()?;
    if raw.len() as u64 > LIMIT {
        // Markers past the cut could not be seen: unknown, not "none".
        return None;
    }
    if raw.last() == Some(&0) {
        raw.pop();
    }
    if raw.is_empty() {
        // Kernel threads and the dead have no argv, but they are never read;
        // a live process shows an empty one only mid-exec: unknown, not "none".
        return None;
    }
    Some(
        raw.split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// argv[0] alone: the cheap check done for every process when `match_argv0`
/// is on. Read straight from the process's memory with one
/// `process_vm_readv` where the kernel lets us (it showed us the argv range
/// in `stat`), else from `/proc/PID/cmdline` with one bounded read. An
/// empty argv[0] is unknown (`None`), like an empty command line.
pub(crate) fn argv0(pid: i32, (start, end): (u64, u64)) -> Option<String> {
    let mut buf = [0u8; 256];
    let first = |b: &[u8]| {
        b.iter()
            .position(|&c| c == 0)
            .map(|e| String::from_utf8_lossy(&b[..e]).into_owned())
    };
    if start != 0 && end > start {
        let len = ((end - start) as usize).min(buf.len());
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: start as usize as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: one local iovec over `buf` (len ≤ its size); the remote
        // range is only read by the kernel, which checks access itself.
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        if n > 0 {
            if let Some(a0) = first(&buf[..n as usize]) {
                // Empty (a process blanking its title, or mid-exec): unknown.
                return (!a0.is_empty()).then_some(a0);
            }
        }
    }
    let mut path = String::with_capacity(24);
    path.push_str("/proc/");
    path.push_str(itoa(pid, &mut [0u8; 12]));
    path.push_str("/cmdline");
    let b = read_small(&path, &mut buf, nul_seen)?;
    match first(b) {
        Some(a0) => (!a0.is_empty()).then_some(a0),
        None if b.is_empty() => None,
        // A very long argv[0]: read the whole command line.
        None if b.len() == 256 => argv(pid)?.into_iter().next(),
        None => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

fn itoa(mut n: i32, buf: &mut [u8; 12]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

pub(crate) fn cwd(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

pub(crate) fn uid(pid: i32) -> Option<u32> {
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
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
