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
        .find(|dir| {
            no_symlink_between(dir, marker)
                && std::fs::symlink_metadata(dir.join(marker))
                    .is_ok_and(|m| m.is_file() && owners.contains(&file_owner(&m)))
        })
        .map(Path::to_path_buf)
}

/// Every directory of `marker`'s path below `dir` is a real directory.
fn no_symlink_between(dir: &Path, marker: &str) -> bool {
    let mut at = dir.to_path_buf();
    let Some(parent) = Path::new(marker).parent() else {
        return true;
    };
    parent.components().all(|c| {
        at.push(c);
        std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir())
    })
}

#[cfg(unix)]
fn file_owner(m: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::MetadataExt::uid(m)
}

#[cfg(not(unix))]
fn file_owner(_m: &std::fs::Metadata) -> u32 {
    0
}

/// `root` as configured, resolved through symlinks when it exists, so it
/// compares equal to paths the kernel reports.
pub fn canonical(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}
