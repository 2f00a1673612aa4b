//! Workspace roots: the nearest directory at or above a process's cwd that
//! holds the workspace marker.

use std::path::{Path, PathBuf};

/// A cwd whose directory was removed reads as `/path (deleted)`.
pub fn strip_deleted(cwd: &Path) -> PathBuf {
    if cwd.exists() {
        return cwd.to_path_buf();
    }
    match cwd.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
        Some(s) => PathBuf::from(s),
        None => cwd.to_path_buf(),
    }
}

/// Walks up from `cwd` to the first directory containing `marker`. The cwd
/// itself may no longer exist (a deleted worktree inside a live town).
/// A marker counts only when it is a regular file owned by one of `owners`,
/// reached without a symlink (neither the file nor a directory on the way
/// from `dir`, such as `mayor`): anyone can plant `mayor/town.json`, or a
/// `mayor` symlink to a real town, in `/tmp`.
pub fn find_root(cwd: &Path, marker: &str, owners: &[u32]) -> Option<PathBuf> {
    let start = strip_deleted(cwd);
    start
        .ancestors()
        .find(|dir| marker_owner(dir, marker).is_some_and(|uid| owners.contains(&uid)))
        .map(Path::to_path_buf)
}

/// The owner of `marker` below `dir` when it is a regular file reached
/// without following a symlink. Each directory is opened relative to the
/// one before with `O_NOFOLLOW` and the file is looked at with
/// `AT_SYMLINK_NOFOLLOW`, so swapping a directory for a symlink between two
/// checks cannot redirect the walk.
#[cfg(unix)]
fn marker_owner(dir: &Path, marker: &str) -> Option<u32> {
    use std::ffi::{CString, OsStr};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Component;
    #[cfg(target_os = "linux")]
    const DIR: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    #[cfg(not(target_os = "linux"))]
    const DIR: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let open = |at: libc::c_int, name: &OsStr, extra: libc::c_int| -> Option<OwnedFd> {
        let name = CString::new(name.as_bytes()).ok()?;
        // SAFETY: openat with a NUL-terminated name; a new fd or -1.
        let fd = unsafe { libc::openat(at, name.as_ptr(), DIR | extra) };
        // SAFETY: the kernel just gave us this fd.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    };
    // `dir` comes from the kernel's own cwd path: no symlink to fear there.
    let mut at = open(libc::AT_FDCWD, dir.as_os_str(), 0)?;
    let marker = Path::new(marker);
    for c in marker.parent()?.components() {
        match c {
            Component::Normal(n) => at = open(at.as_raw_fd(), n, libc::O_NOFOLLOW)?,
            Component::CurDir => {}
            _ => return None,
        }
    }
    let file = CString::new(marker.file_name()?.as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstatat on our fd with a NUL-terminated name, into `st`.
    let rc = unsafe {
        libc::fstatat(
            at.as_raw_fd(),
            file.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: fstatat succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    (st.st_mode & libc::S_IFMT == libc::S_IFREG).then_some(st.st_uid)
}

#[cfg(not(unix))]
fn marker_owner(dir: &Path, marker: &str) -> Option<u32> {
    std::fs::symlink_metadata(dir.join(marker))
        .is_ok_and(|m| m.is_file())
        .then_some(0)
}

/// `root` as configured, resolved through symlinks when it exists, so it
/// compares equal to paths the kernel reports.
pub fn canonical(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}
