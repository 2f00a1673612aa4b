//! The Unix half of [`crate::ledger`]: the private state directory, the lock,
//! quarantine, and atomic writes. The directory is opened once (no symlink
//! followed), checked through its descriptor, and every later operation is
//! relative to that descriptor, so swapping the path afterwards changes
//! nothing.

use std::ffi::CString;
use std::fs::{DirBuilder, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{current_boot, Contents, MAX_LEDGER_BYTES};
use crate::error::{Error, Result};

const FILE: &str = "ledger";
const LOCK: &str = "ledger.lock";
const TEMP_PREFIX: &str = "ledger.tmp-";

/// Why `m` (of a state dir or ledger) is not ours alone, if it is not.
pub(crate) fn not_private(m: &std::fs::Metadata) -> Option<String> {
    let me = crate::config::euid();
    if m.uid() != me {
        return Some(format!("is owned by uid {}, not {me}", m.uid()));
    }
    if m.mode() & 0o022 != 0 {
        return Some(format!(
            "is writable by group or others (mode {:o})",
            m.mode() & 0o7777
        ));
    }
    None
}

/// Opens `dir` without following a symlink and checks it through the
/// descriptor: a directory, ours, writable by nobody else.
fn open_private_dir(dir: &Path) -> Result<OwnedFd> {
    let unsafe_ = |why: &str| Error::UnsafeStatePath(format!("state dir {} {why}", dir.display()));
    let c = CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::InvalidArgument(format!("state dir {dir:?} holds a NUL")))?;
    // SAFETY: a valid C string; the returned fd is checked.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        let is_link = || std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
        return Err(match e.raw_os_error() {
            Some(libc::ELOOP | libc::ENOTDIR) if is_link() => unsafe_("is a symlink"),
            Some(libc::ENOTDIR) => unsafe_("is not a directory"),
            _ => Error::io(format!("opening state dir {}", dir.display()), e),
        });
    }
    // SAFETY: the kernel just gave us this fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let m = File::from(fd.try_clone().map_err(|e| Error::io("state dir", e))?)
        .metadata()
        .map_err(|e| Error::io(format!("state dir {}", dir.display()), e))?;
    if let Some(why) = not_private(&m) {
        return Err(unsafe_(&why));
    }
    Ok(fd)
}

/// The state directory opened ([`open_private_dir`]), made first unless
/// `read_only`; `None` for a read-only open of one that does not exist.
fn reach_dir(dir: &Path, read_only: bool) -> Result<Option<OwnedFd>> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && read_only => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("creating state dir {}", dir.display()), e))?;
        }
        _ => {}
    }
    open_private_dir(dir).map(Some)
}

/// A locked ledger. The lock is released (explicitly, `LOCK_UN`) when this
/// is dropped: a child the host forked meanwhile shares the lock's open
/// file and would otherwise keep it held for as long as it lives.
pub struct Ledger {
    dir: PathBuf,
    /// The state directory, opened once; `None` for a dry run with no dir.
    fd: Option<OwnedFd>,
    /// The locks: `ledger.lock`, then the state directory itself (a lock
    /// file deleted or replaced meanwhile cannot let a second writer in);
    /// none for a dry run, which writes nothing (not even the lock file)
    /// and reads the ledger without them (it is replaced atomically, never
    /// written in place).
    lock: Vec<File>,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        for lock in self.lock.iter().rev() {
            // SAFETY: flock on a file descriptor we own.
            unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}

/// The pid holding a `flock` on the file `f` (from /proc/locks), other
/// than this process.
fn lock_holder(f: &File) -> Option<i32> {
    holder_of(&f.metadata().ok()?, true)
}

/// The pid holding the ledger lock of the state dir `dir` (from
/// /proc/locks), other than this process: for a caller waiting on it.
pub fn lock_holder_of(dir: &Path) -> Option<i32> {
    holder_of(&std::fs::symlink_metadata(dir.join(LOCK)).ok()?, false)
}

/// The pid holding a `flock` on the file of `m`: another process's, or
/// (with `own`) ours when no other holds it.
fn holder_of(m: &std::fs::Metadata, own: bool) -> Option<i32> {
    let want = format!(
        "{:02x}:{:02x}:{}",
        libc::major(m.dev() as libc::dev_t),
        libc::minor(m.dev() as libc::dev_t),
        m.ino()
    );
    let me = std::process::id() as i32;
    std::fs::read_to_string("/proc/locks")
        .ok()?
        .lines()
        .filter(|l| !l.contains("->")) // a waiter, not a holder
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&want.as_str()))
                .then(|| f.get(4)?.parse::<i32>().ok())
                .flatten()
        })
        .find(|pid| *pid != me)
        .or_else(|| own.then_some(me))
}

/// Takes an exclusive `flock` on `f` by `deadline`, or says who holds it.
fn take_lock(f: &File, what: &Path, timeout: Duration, deadline: Instant) -> Result<()> {
    let mut pause = Duration::from_millis(1);
    loop {
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if !matches!(
            e.raw_os_error(),
            Some(libc::EWOULDBLOCK) | Some(libc::EINTR)
        ) {
            return Err(Error::io("locking the ledger", e));
        }
        if Instant::now() >= deadline {
            let by = match lock_holder(f) {
                Some(pid) if pid == std::process::id() as i32 => {
                    "another call in this process".to_string()
                }
                Some(pid) => match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                    Ok(name) => format!("pid {pid} ({})", name.trim_end().escape_debug()),
                    // The kernel names the process that took the lock; a
                    // child it forked keeps it after it is gone.
                    Err(_) => format!(
                        "a process that inherited it from pid {pid} (gone; a child it \
                         started keeps the lock file open)"
                    ),
                },
                None => "another process".into(),
            };
            return Err(Error::LockTimeout(format!(
                "{} is held by {by}; gave up after {:.1}s",
                what.display(),
                timeout.as_secs_f64()
            )));
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// What loading found.
pub struct Loaded {
    /// The trusted contents (empty when the file was missing or untrusted).
    pub contents: Contents,
    /// Why the file was not trusted; it has been moved aside (unless dry run).
    pub problem: Option<Error>,
}

fn c_name(name: &str) -> CString {
    CString::new(name).expect("ledger file names hold no NUL")
}

impl Ledger {
    /// Prepares `dir` (0700, ours, no symlink), takes the lock within
    /// `timeout` and removes temp files a crashed writer left. Reaching the
    /// directory may take at most `reach` (a mount that stopped answering
    /// is an error, not a hang). With
    /// `read_only` (a dry run) nothing is created or written: a missing
    /// directory reads as an empty ledger, and no lock is taken.
    pub fn open(dir: &Path, timeout: Duration, reach: Duration, read_only: bool) -> Result<Ledger> {
        let d = dir.to_path_buf();
        let fd =
            crate::within(dir, reach, move || reach_dir(&d, read_only)).unwrap_or_else(|why| {
                Err(Error::io(
                    format!("state dir {}", dir.display()),
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("it did not answer ({why}): is its mount hung?"),
                    ),
                ))
            })?;
        let mut ledger = Ledger {
            dir: dir.to_path_buf(),
            fd,
            lock: Vec::new(),
        };
        if ledger.fd.is_none() {
            return Ok(ledger);
        }
        if read_only {
            return Ok(ledger);
        }
        let lock_path = dir.join(LOCK);
        let lock = ledger
            .open_at(
                LOCK,
                libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::UnsafeStatePath(format!(
                    "lock file {} is a symlink",
                    lock_path.display()
                )),
                _ => Error::io(format!("opening lock {}", lock_path.display()), e),
            })?;
        let deadline = Instant::now() + timeout;
        take_lock(&lock, &lock_path, timeout, deadline)?;
        ledger.lock.push(lock);
        let dir_lock = ledger
            .open_at(".", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .map_err(|e| Error::io(format!("opening state dir {}", dir.display()), e))?;
        take_lock(&dir_lock, dir, timeout, deadline)?;
        ledger.lock.push(dir_lock);
        ledger.remove_stale_temp_files();
        Ok(ledger)
    }

    /// Temp files of writers that died mid-save (`ledger.tmp-PID`): under
    /// the lock no other writer is running, so every one is stale.
    fn remove_stale_temp_files(&self) {
        let Ok(d) = self.dir_fd() else { return };
        // SAFETY: dup of our directory fd; fdopendir takes ownership of the dup.
        let dup = unsafe { libc::fcntl(d, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return;
        }
        // SAFETY: a directory fd we own (the dup).
        let dirp = unsafe { libc::fdopendir(dup) };
        if dirp.is_null() {
            // SAFETY: the dup is still ours when fdopendir fails.
            unsafe { libc::close(dup) };
            return;
        }
        let mut stale = Vec::new();
        loop {
            // SAFETY: a valid DIR*; readdir returns NULL at the end.
            let ent = unsafe { libc::readdir(dirp) };
            if ent.is_null() {
                break;
            }
            // SAFETY: d_name is NUL-terminated within the entry.
            let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
            if let Some(name) = name.to_str().ok().filter(|n| n.starts_with(TEMP_PREFIX)) {
                stale.push(name.to_string());
            }
        }
        // SAFETY: closes the DIR* and its (dup'ed) fd.
        unsafe { libc::closedir(dirp) };
        for name in stale {
            self.unlink_at(&name);
        }
    }

    /// The state directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the state directory exists (a read-only open of a missing
    /// one has none).
    pub(crate) fn has_dir(&self) -> bool {
        self.fd.is_some()
    }

    /// The ledger file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    fn dir_fd(&self) -> std::io::Result<i32> {
        self.fd
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT))
    }

    /// `openat` in the state directory (files are created 0600).
    pub(crate) fn open_at(&self, name: &str, flags: i32) -> std::io::Result<File> {
        let name = c_name(name);
        // SAFETY: a directory fd we own, a valid C string, a mode for O_CREAT.
        let fd =
            unsafe { libc::openat(self.dir_fd()?, name.as_ptr(), flags, 0o600 as libc::c_uint) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the kernel just gave us this fd.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// `renameat` within the state directory.
    pub(crate) fn rename_at(&self, from: &str, to: &str) -> std::io::Result<()> {
        let (from, to) = (c_name(from), c_name(to));
        let d = self.dir_fd()?;
        // SAFETY: a directory fd we own and two valid C strings.
        if unsafe { libc::renameat(d, from.as_ptr(), d, to.as_ptr()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn unlink_at(&self, name: &str) {
        let name = c_name(name);
        if let Ok(d) = self.dir_fd() {
            // SAFETY: a directory fd we own and a valid C string.
            unsafe { libc::unlinkat(d, name.as_ptr(), 0) };
        }
    }

    /// Reads the ledger. A corrupt, truncated, oversized, symlinked, foreign
    /// or group-writable file is renamed aside (unless `dry_run`) and
    /// reported; a ledger from another boot is empty (its processes are gone).
    pub fn load(&self, dry_run: bool) -> Loaded {
        let fresh = |problem| Loaded {
            contents: Contents::fresh(),
            problem,
        };
        match self.read_trusted() {
            Ok(None) => fresh(None),
            Ok(Some(c)) if c.boot != current_boot() => fresh(None),
            Ok(Some(c)) => Loaded {
                contents: c,
                problem: None,
            },
            Err(why) => {
                let mut msg = format!("{}: {why}", self.path().display());
                if !dry_run {
                    let aside = format!(
                        "{FILE}.corrupt-{}-{}",
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0),
                        std::process::id()
                    );
                    match self.rename_at(FILE, &aside) {
                        Ok(()) => msg.push_str(&format!(
                            "; moved aside to {}",
                            self.dir.join(&aside).display()
                        )),
                        Err(e) => msg.push_str(&format!("; could not move it aside: {e}")),
                    }
                }
                msg.push_str("; no SIGKILL is sent this step");
                fresh(Some(Error::LedgerCorrupt(msg)))
            }
        }
    }

    fn read_trusted(&self) -> std::result::Result<Option<Contents>, String> {
        if self.fd.is_none() {
            return Ok(None);
        }
        let f = match self.open_at(
            FILE,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
        ) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err("is a symlink".into()),
            Err(e) => return Err(format!("unreadable: {e}")),
        };
        let m = f.metadata().map_err(|e| e.to_string())?;
        if !m.is_file() {
            return Err("is not a regular file".into());
        }
        if let Some(why) = not_private(&m) {
            return Err(why);
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
        let bytes = contents.encode();
        if bytes.len() as u64 > MAX_LEDGER_BYTES {
            // The next load would refuse it: never write a ledger we would
            // quarantine (and so forget what it tracks).
            return Err(Error::io(
                format!("writing the ledger in {}", self.dir.display()),
                std::io::Error::other(format!(
                    "{} entries make {} bytes, over the {MAX_LEDGER_BYTES}-byte limit",
                    contents.entries.len(),
                    bytes.len()
                )),
            ));
        }
        let tmp = format!("{TEMP_PREFIX}{}", std::process::id());
        let ctx = |what: &str| format!("{what} {}", self.dir.join(&tmp).display());
        self.unlink_at(&tmp);
        let mut f = self
            .open_at(
                &tmp,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
            .map_err(|e| Error::io(ctx("creating"), e))?;
        let written = f
            .write_all(&bytes)
            .and_then(|_| f.sync_all())
            .and_then(|_| self.rename_at(&tmp, FILE));
        if let Err(e) = written {
            self.unlink_at(&tmp);
            return Err(Error::io(ctx("writing"), e));
        }
        // SAFETY: fsync on the directory fd we own.
        if let Ok(d) = self.dir_fd() {
            unsafe { libc::fsync(d) };
        }
        Ok(())
    }
}
