//! The Unix half of [`crate::ledger`]: the private state directory, the lock,
//! quarantine, and atomic writes.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{current_boot, Contents, MAX_LEDGER_BYTES};
use crate::error::{Error, Result};

const FILE: &str = "ledger";
const LOCK: &str = "ledger.lock";

/// Checks that `dir` is a real directory, ours, writable by nobody else.
fn check_private(path: &Path, what: &str, want_dir: bool) -> Result<()> {
    let m = std::fs::symlink_metadata(path)
        .map_err(|e| Error::io(format!("{what} {}", path.display()), e))?;
    let unsafe_ = |why: String| {
        Err(Error::UnsafeStatePath(format!(
            "{what} {} {why}",
            path.display()
        )))
    };
    if m.file_type().is_symlink() {
        return unsafe_("is a symlink".into());
    }
    if want_dir && !m.is_dir() {
        return unsafe_("is not a directory".into());
    }
    if !want_dir && !m.is_file() {
        return unsafe_("is not a regular file".into());
    }
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != me {
        return unsafe_(format!("is owned by uid {}, not {me}", m.uid()));
    }
    if m.mode() & 0o022 != 0 {
        return unsafe_(format!(
            "is writable by group or others (mode {:o})",
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

/// A locked ledger. The lock is released when this is dropped.
pub struct Ledger {
    dir: PathBuf,
    _lock: Option<File>,
}

/// What loading found.
pub struct Loaded {
    /// The trusted contents (empty when the file was missing or untrusted).
    pub contents: Contents,
    /// Why the file was not trusted; it has been moved aside (unless dry run).
    pub problem: Option<Error>,
}

impl Ledger {
    /// Prepares `dir` (0700, ours, no symlink) and takes the lock within
    /// `timeout`. With `read_only` a missing directory is not created and the
    /// ledger is taken as empty.
    pub fn open(dir: &Path, timeout: Duration, read_only: bool) -> Result<Ledger> {
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && read_only => {
                return Ok(Ledger {
                    dir: dir.to_path_buf(),
                    _lock: None,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| Error::io(format!("creating state dir {}", dir.display()), e))?;
            }
            _ => {}
        }
        check_private(dir, "state dir", true)?;
        let lock_path = dir.join(LOCK);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::UnsafeStatePath(format!(
                    "lock file {} is a symlink",
                    lock_path.display()
                )),
                _ => Error::io(format!("opening lock {}", lock_path.display()), e),
            })?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            // SAFETY: flock on a file descriptor we own.
            let rc = unsafe {
                libc::flock(
                    std::os::fd::AsRawFd::as_raw_fd(&lock),
                    libc::LOCK_EX | libc::LOCK_NB,
                )
            };
            if rc == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if !matches!(
                e.raw_os_error(),
                Some(libc::EWOULDBLOCK) | Some(libc::EINTR)
            ) {
                return Err(Error::io("locking the ledger", e));
            }
            if Instant::now() >= deadline {
                return Err(Error::LockTimeout(format!(
                    "{} is held by another process; gave up after {:.1}s",
                    lock_path.display(),
                    timeout.as_secs_f64()
                )));
            }
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_millis(25));
        }
        Ok(Ledger {
            dir: dir.to_path_buf(),
            _lock: Some(lock),
        })
    }

    /// The ledger file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Reads the ledger. A corrupt, truncated, oversized, symlinked, foreign
    /// or group-writable file is renamed aside (unless `dry_run`) and
    /// reported; a ledger from another boot is empty (its processes are gone).
    pub fn load(&self, dry_run: bool) -> Loaded {
        let path = self.path();
        match self.read_trusted(&path) {
            Ok(None) => Loaded {
                contents: Contents::fresh(),
                problem: None,
            },
            Ok(Some(c)) if c.boot != current_boot() => Loaded {
                contents: Contents::fresh(),
                problem: None,
            },
            Ok(Some(c)) => Loaded {
                contents: c,
                problem: None,
            },
            Err(why) => {
                let mut msg = format!("{}: {why}", path.display());
                if !dry_run {
                    let aside = self.dir.join(format!(
                        "{FILE}.corrupt-{}-{}",
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0),
                        std::process::id()
                    ));
                    match std::fs::rename(&path, &aside) {
                        Ok(()) => msg.push_str(&format!("; moved aside to {}", aside.display())),
                        Err(e) => msg.push_str(&format!("; could not move it aside: {e}")),
                    }
                }
                msg.push_str("; no SIGKILL is sent this step");
                Loaded {
                    contents: Contents::fresh(),
                    problem: Some(Error::LedgerCorrupt(msg)),
                }
            }
        }
    }

    fn read_trusted(&self, path: &Path) -> std::result::Result<Option<Contents>, String> {
        let f = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err("is a symlink".into()),
            Err(e) => return Err(format!("unreadable: {e}")),
        };
        let m = f.metadata().map_err(|e| e.to_string())?;
        let me = nix::unistd::geteuid().as_raw();
        if !m.is_file() {
            return Err("is not a regular file".into());
        }
        if m.uid() != me {
            return Err(format!("is owned by uid {}, not {me}", m.uid()));
        }
        if m.mode() & 0o022 != 0 {
            return Err(format!(
                "is writable by group or others (mode {:o})",
                m.mode() & 0o7777
            ));
        }
        if m.len() > MAX_LEDGER_BYTES {
            return Err(format!(
                "is {} bytes, over the {MAX_LEDGER_BYTES}-byte limit",
                m.len()
            ));
        }
        let mut data = Vec::new();
        f.take(MAX_LEDGER_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| format!("unreadable: {e}"))?;
        if data.len() as u64 > MAX_LEDGER_BYTES {
            return Err("grew over the size limit while being read".into());
        }
        Contents::decode(&data).map(Some)
    }

    /// Writes the ledger atomically: a temp file in the same directory,
    /// fsync, rename, fsync of the directory.
    pub fn save(&self, contents: &Contents) -> Result<()> {
        let tmp = self.dir.join(format!("{FILE}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let ctx = |what: &str| format!("{what} {}", tmp.display());
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| Error::io(ctx("creating"), e))?;
        let written = f
            .write_all(&contents.encode())
            .and_then(|_| f.sync_all())
            .and_then(|_| std::fs::rename(&tmp, self.path()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(ctx("writing"), e));
        }
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Checks a path as the ledger checks its state directory (exposed for tests
/// and tools).
pub fn check_state_dir(dir: &Path) -> Result<()> {
    check_private(dir, "state dir", true)
}
