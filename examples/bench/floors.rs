//! The floors: list `/proc` and read one small file per pid, nothing else.
//! [`fast`] reads the way procreap reads its own files (one `/proc`
//! descriptor, `getdents64` into one buffer, `openat` of `PID/leaf` built on
//! the stack, one `read`, `close`: three system calls per pid), so a ratio to
//! it says what procreap adds; [`naive_stat`] is what `std::fs` code does.

use std::ffi::CStr;
use std::io::Read as _;

/// Reads `/proc/PID/<leaf>` of every pid once; returns how many were read.
pub fn fast(leaf: &CStr) -> usize {
    // SAFETY: a NUL-terminated path literal.
    let proc_fd = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if proc_fd < 0 {
        return 0;
    }
    let leaf = leaf.to_bytes_with_nul();
    let mut dents = [0u8; 32 * 1024];
    let mut path = [0u8; 64];
    let mut buf = [0u8; 1024];
    let mut read = 0;
    loop {
        // SAFETY: getdents64 into a buffer we own, within its length.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                proc_fd,
                dents.as_mut_ptr(),
                dents.len(),
            )
        };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
            let reclen = u16::from_ne_bytes([dents[off + 16], dents[off + 17]]) as usize;
            let name = &dents[off + 19..off + reclen];
            off += reclen;
            let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = &name[..len];
            if name.is_empty() || !name.iter().all(u8::is_ascii_digit) || len + 1 + leaf.len() > 64
            {
                continue;
            }
            path[..len].copy_from_slice(name);
            path[len] = b'/';
            path[len + 1..len + 1 + leaf.len()].copy_from_slice(leaf);
            // SAFETY: a directory fd and a NUL-terminated relative path.
            let fd = unsafe {
                libc::openat(
                    proc_fd,
                    path.as_ptr().cast(),
                    libc::O_RDONLY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                continue;
            }
            // SAFETY: reading into a buffer we own, within its length.
            if unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {
                read += 1;
            }
            // SAFETY: our own descriptor.
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(proc_fd) };
    std::hint::black_box(read)
}

/// The same pass over `/proc/PID/stat` as plain `std::fs` code writes it.
pub fn naive_stat() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut buf = [0u8; 1024];
    let mut read = 0;
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(mut f) = std::fs::File::open(format!("/proc/{name}/stat")) {
            if f.read(&mut buf).is_ok_and(|n| n > 0) {
                read += 1;
            }
        }
    }
    std::hint::black_box(read)
}
