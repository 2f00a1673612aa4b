//! Workspace and project roots, judged where the process lives.
//!
//! A process's current directory is opened as the kernel knows it (a
//! descriptor of `/proc/PID/cwd`, in the process's own mount namespace) and
//! walked upward with `openat("..")` until the process's root. A cwd path
//! string is never re-resolved in our namespace, so an agent in a container,
//! under `unshare -m` or in a private mount is never placed in a host town
//! that merely shares its path. Directories compare by (st_dev, st_ino):
//! the same directory is equal whatever path or namespace named it.
//!
//! Every step is a system call relative to a descriptor; nothing follows a
//! symlink implicitly. The functions hold no lock and no global state, so a
//! caller can run them on a worker thread and abandon one that hangs on a
//! dead NFS or FUSE mount.

use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::path::{Component, Path, PathBuf};

/// A directory as the kernel knows it: its path as we display it and its
/// (st_dev, st_ino). Two places are equal exactly when they are the same
/// directory, whatever namespace or path named them (`path` is display
/// only and takes no part in `==` or hashing).
#[derive(Debug, Clone)]
pub struct Place {
    /// The path to show: as `/proc/PID/cwd` reads (our view of the
    /// process's directory), cut to the level where the walk stopped.
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
}

impl PartialEq for Place {
    fn eq(&self, other: &Place) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

impl Eq for Place {}

impl Hash for Place {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self.dev, self.ino).hash(h);
    }
}

/// A process's current directory, held open, with the process's root
/// directory (where absolute symlink targets start and the walk upward
/// stops). Safe to send to and use from another thread.
#[derive(Debug)]
pub struct Cwd {
    dir: sys::Fd,
    root: sys::Fd,
    root_meta: Meta,
    /// Display path of `dir`, without a trailing " (deleted)".
    path: PathBuf,
}

/// Most levels a walk climbs: a bound, not a limit any real tree reaches.
const MAX_DEPTH: usize = 4096;
/// Most symlinks one marker lookup follows (Linux's own MAXSYMLINKS).
const MAX_LINKS: u32 = 40;
/// What the kernel appends to the path of a removed directory.
const DELETED: &str = " (deleted)";

/// The current directory of process `pid`, opened in the process's own
/// mount namespace (`/proc/PID/cwd`); `None` when that cannot be done (the
/// process is gone, not ours to read, or this is not Linux).
pub fn open_cwd(pid: i32) -> Option<Cwd> {
    #[cfg(target_os = "linux")]
    {
        let proc_dir = sys::open_dir(None, format!("/proc/{pid}").as_bytes())?;
        Cwd::open_at(&proc_dir)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// The configured `workspace_root` (or any directory named in our
/// namespace, symlinks followed) as a [`Place`]; `None` when it cannot be
/// opened.
pub fn place_of(root: &Path) -> Option<Place> {
    let fd = sys::open_dir(None, root.as_os_str().as_encoded_bytes())?;
    let m = sys::stat(&fd)?;
    Some(Place {
        path: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
        dev: m.dev,
        ino: m.ino,
    })
}

impl Cwd {
    /// The cwd of the process whose `/proc/PID` directory is `proc_dir`.
    /// Opening both links through one `/proc/PID` descriptor ties cwd and
    /// root to the same process even if the pid is reused meanwhile.
    #[cfg(target_os = "linux")]
    pub fn open_at(proc_dir: impl std::os::fd::AsFd) -> Option<Cwd> {
        use std::os::fd::AsRawFd;
        let proc_dir = proc_dir.as_fd();
        let dir = sys::open_dir_in(proc_dir, b"cwd")?;
        let root = sys::open_dir_in(proc_dir, b"root")?;
        // The path of the directory we hold, not of whatever the process's
        // cwd is a moment later: both read through the kernel's d_path.
        let link = nix::fcntl::readlink(format!("/proc/self/fd/{}", dir.as_raw_fd()).as_str())
            .or_else(|_| nix::fcntl::readlinkat(Some(proc_dir.as_raw_fd()), "cwd"))
            .ok()?;
        let deleted = sys::stat(&dir)?.nlink == 0;
        Cwd::new(dir, root, display_path(PathBuf::from(link), deleted))
    }

    /// The portable variant, for a cwd known only as a path in our own
    /// namespace (the `ps`/`lsof` backend; no mount namespaces there): the
    /// same walk and rules, started from the path opened here, with our own
    /// root. A removed directory (`… (deleted)`, or gone) starts the walk at
    /// its nearest ancestor that still exists.
    pub fn from_path(path: &Path) -> Option<Cwd> {
        let root = sys::open_dir(None, b"/")?;
        let open = |p: &Path| sys::open_dir(None, p.as_os_str().as_encoded_bytes());
        if let Some(dir) = open(path) {
            return Cwd::new(dir, root, path.to_path_buf());
        }
        let gone = display_path(path.to_path_buf(), true);
        let (dir, at) = gone
            .ancestors()
            .find_map(|a| open(a).map(|d| (d, a.to_path_buf())))?;
        Cwd::new(dir, root, at)
    }

    fn new(dir: sys::Fd, root: sys::Fd, path: PathBuf) -> Option<Cwd> {
        let root_meta = sys::stat(&root)?;
        Some(Cwd {
            dir,
            root,
            root_meta,
            path,
        })
    }

    /// The cwd's path as we display it (no trailing " (deleted)").
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The nearest directory at or above the cwd holding `marker` (a
    /// relative path such as `mayor/town.json`). The marker counts only as a
    /// regular file owned by one of `owners`. A path to it through symlinks
    /// counts only when every link, every directory looked in on the way and
    /// the marker itself belong to `proc_uid` (the process's owner) or root
    /// and are not group- or world-writable (sshd's StrictModes rule): a
    /// marker or link planted in a shared directory makes no workspace.
    /// `None` also when the walk cannot be made.
    pub fn find_root(&self, marker: &str, owners: &[u32], proc_uid: u32) -> Option<Place> {
        let marker = marker_components(marker)?;
        let trust = Trust::new(owners, proc_uid);
        let found = self.walk_up(|dir, m| Ok(self.has_marker(dir, m, &marker, &trust)));
        found.ok().flatten()
    }

    /// The process's project: the nearest directory at or above the cwd
    /// holding a `.git` entry of any type (a repository's directory, a
    /// worktree's file), or the cwd itself where there is none. `None` when
    /// the walk cannot be completed: the project is then unknown.
    ///
    /// A submodule (registered in the `.gitmodules` of the repository above
    /// it) is part of that superproject: see [`Cwd::ascent`].
    pub fn project(&self) -> Option<Place> {
        let (project, _) = self.ascent()?;
        Some(project)
    }

    /// The project (as [`Cwd::project`]) and the directories on the way to
    /// it: from the cwd up to the project, both included; where there is no
    /// project above, from the cwd up to (not including) the process's root.
    ///
    /// A repository may be part of one above it: a submodule (its `.git` a
    /// file naming the superproject's `.git/modules/…`, or a directory — an
    /// existing clone added with `git submodule add` keeps its own). It
    /// belongs to the nearest repository above it when that one's
    /// `.gitmodules` names its path (as git reads that file), and the walk
    /// goes on from there; a worktree, or any repository nobody registered,
    /// is a project of its own.
    pub fn ascent(&self) -> Option<(Place, Vec<Place>)> {
        let mut way: Vec<Place> = Vec::new();
        // The level of the repository found so far.
        let mut inner: Option<usize> = None;
        let mut project: Option<usize> = None;
        let walked = self.walk_up(|dir, m| {
            let level = way.len();
            way.push(self.place(level, m));
            if !sys::has_entry(dir, b".git")? {
                return Ok(false);
            }
            if let Some(c) = inner {
                let (outer, below) = (cut(&self.path, level), cut(&self.path, c));
                let registered = below
                    .strip_prefix(&outer)
                    .is_ok_and(|rel| sys::registers_submodule(dir, rel));
                if !registered {
                    project = Some(c);
                    return Ok(true);
                }
            }
            inner = Some(level);
            Ok(false)
        });
        if walked.is_err() {
            return None;
        }
        if let Some(level) = project.or(inner) {
            way.truncate(level + 1);
            return Some((way[level].clone(), way));
        }
        let cwd = way.first()?.clone();
        if way.len() > 1 {
            way.pop(); // the process's root: every directory is below it
        }
        Some((cwd, way))
    }

    /// Whether the cwd is `root` or lies below it, by device and inode along
    /// the walk upward (a bind mount or a symlinked path of `root` is the
    /// same directory).
    pub fn is_under(&self, root: &Place) -> bool {
        let same = |m: &Meta| (m.dev, m.ino) == (root.dev, root.ino);
        matches!(self.walk_up(|_, m| Ok(same(m))), Ok(Some(_)))
    }

    /// Visits the cwd and every directory above it, nearest first, up to
    /// the process's root (or the top of its mount namespace), and returns
    /// the place of the first one `visit` accepts. `Err` when a step
    /// cannot be taken, so what lies above is unknown.
    ///
    /// A directory with the root's (st_dev, st_ino) ends the walk even if it
    /// is another mount of it: stopping early only finds less.
    fn walk_up(
        &self,
        mut visit: impl FnMut(&sys::Fd, &Meta) -> Result<bool, Blocked>,
    ) -> Result<Option<Place>, Blocked> {
        let mut above: Option<sys::Fd> = None;
        let mut meta = sys::stat(&self.dir).ok_or(Blocked)?;
        for level in 0..MAX_DEPTH {
            let at = above.as_ref().unwrap_or(&self.dir);
            if visit(at, &meta)? {
                return Ok(Some(self.place(level, &meta)));
            }
            if meta.same(&self.root_meta) {
                return Ok(None);
            }
            let up = sys::open_dir(Some(at), b"..").ok_or(Blocked)?;
            let up_meta = sys::stat(&up).ok_or(Blocked)?;
            if up_meta.same(&meta) {
                return Ok(None); // the top: ".." is itself
            }
            above = Some(up);
            meta = up_meta;
        }
        Err(Blocked)
    }

    fn place(&self, level: usize, m: &Meta) -> Place {
        Place {
            path: cut(&self.path, level),
            dev: m.dev,
            ino: m.ino,
        }
    }

    /// Whether `dir` holds the marker under the ownership and symlink rules
    /// of [`Cwd::find_root`].
    fn has_marker(&self, dir: &sys::Fd, meta: &Meta, marker: &[Vec<u8>], trust: &Trust) -> bool {
        let Some(r) = self.resolve(dir, *meta, marker, trust) else {
            return false;
        };
        // A second name for the file (a hard link planted in a shared
        // directory) is not a marker of its own.
        trust.owners.contains(&r.file.uid)
            && r.file.nlink == 1
            && r.owned
            && r.private
            && (r.links == 0 || r.strict)
    }

    /// Looks `path` up below `start` one component at a time, following
    /// symlinks by hand: each read with readlinkat on the link itself, an
    /// absolute target restarting at the process's root, a relative one at
    /// the link's directory, `..` never climbing above the root. Records
    /// whether every directory looked in, every link and the final file
    /// pass the strict rule. `None` unless it ends at a regular file.
    fn resolve(
        &self,
        start: &sys::Fd,
        start_meta: Meta,
        path: &[Vec<u8>],
        trust: &Trust,
    ) -> Option<Resolved> {
        let root_meta = self.root_meta;
        let mut todo: Vec<Vec<u8>> = path.iter().rev().cloned().collect();
        // The directory names are looked up in: `start`, the root, or one we opened.
        let mut held: Option<sys::Fd> = None;
        let mut at_root = false;
        let mut at_meta = start_meta;
        let mut links = 0;
        let mut strict = true;
        let mut owned = true;
        let mut private = true;
        while let Some(name) = todo.pop() {
            let at = match (&held, at_root) {
                (_, true) => &self.root,
                (Some(fd), false) => fd,
                (None, false) => start,
            };
            match name.as_slice() {
                b"" | b"." => continue,
                b".." if at_meta.same(&root_meta) => continue,
                b".." => {
                    let up = sys::open_dir(Some(at), b"..")?;
                    at_meta = sys::stat(&up)?;
                    (held, at_root) = (Some(up), false);
                    continue;
                }
                _ => {}
            }
            strict &= trust.strict(&at_meta, false);
            private &= trust.private(&at_meta);
            if held.is_some() || at_root {
                owned &= trust.owners.contains(&at_meta.uid);
            }
            let last = todo.is_empty();
            match sys::lookup(at, &name)? {
                Node::Link(m, target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return None;
                    }
                    strict &= trust.strict(&m, true);
                    todo.extend(target.split(|b| *b == b'/').rev().map(<[u8]>::to_vec));
                    if target.starts_with(b"/") {
                        (held, at_root, at_meta) = (None, true, root_meta);
                    }
                }
                Node::Dir(fd, m) if !last => {
                    (held, at_root, at_meta) = (Some(fd), false, m);
                }
                Node::File(m) if last => {
                    strict &= trust.strict(&m, false);
                    private &= trust.private(&m);
                    return Some(Resolved {
                        file: m,
                        links,
                        strict,
                        owned,
                        private,
                    });
                }
                _ => return None,
            }
        }
        None
    }
}

/// A walk that could not go on: what lies above is unknown.
#[derive(Debug)]
struct Blocked;

/// The part of a stat that the rules read.
#[derive(Debug, Clone, Copy)]
struct Meta {
    kind: Kind,
    dev: u64,
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    /// Links to it: a removed cwd has none; a marker must have one.
    nlink: u64,
    /// Group-writable with a POSIX ACL (Linux; looked for only when the
    /// group write bit is set): the group bits are then the ACL's mask and
    /// named users and groups may write.
    acl: bool,
}

impl Meta {
    fn same(&self, other: &Meta) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Dir,
    File,
    Link,
    Other,
}

/// One name looked up without following it.
enum Node {
    Dir(sys::Fd, Meta),
    File(Meta),
    /// A symlink and its target, read from the link itself.
    Link(Meta, Vec<u8>),
    Other,
}

/// A marker lookup that ended at a regular file.
struct Resolved {
    file: Meta,
    links: u32,
    /// Every directory looked in, every link and the file passed [`Trust::strict`].
    strict: bool,
    /// Every directory looked in below the candidate (`mayor`) belongs to
    /// one of the owners: a directory someone else made there (in a shared
    /// directory) makes no workspace, whatever it holds.
    owned: bool,
    /// No directory looked in (the candidate included) and not the file
    /// can be written by anyone but its owner ([`Trust::private`]): in a
    /// shared directory another member could rename the owner's own
    /// entries into a marker.
    private: bool,
}

/// Who a marker may belong to.
struct Trust<'a> {
    owners: &'a [u32],
    proc_uid: u32,
    /// (uid, gid) pairs already asked of [`own_group`].
    groups: std::cell::RefCell<std::collections::HashMap<(u32, u32), bool>>,
}

impl<'a> Trust<'a> {
    fn new(owners: &'a [u32], proc_uid: u32) -> Self {
        Trust {
            owners,
            proc_uid,
            groups: Default::default(),
        }
    }

    /// sshd's StrictModes rule: owned by the process's user or root, and,
    /// unless it is a link (whose mode means nothing), [`Trust::private`].
    /// The sticky bit does not help: anyone can still create a name in
    /// `/tmp`.
    fn strict(&self, m: &Meta, link: bool) -> bool {
        (m.uid == 0 || m.uid == self.proc_uid) && (link || self.private(m))
    }

    /// Writable by its owner alone: not by others, and by its group only
    /// where that group is the owner's own (a user private group, as a
    /// umask of 002 leaves every directory; Debian's sshd allows the same).
    fn private(&self, m: &Meta) -> bool {
        m.mode & 0o002 == 0
            && (m.mode & 0o020 == 0
                || !m.acl
                    && *self
                        .groups
                        .borrow_mut()
                        .entry((m.uid, m.gid))
                        .or_insert_with(|| own_group(m.uid, m.gid)))
    }
}

/// Whether group `gid` is user `uid`'s private group: the owner's primary
/// group, named after the owner, with no other member and no other
/// account's primary group.
fn own_group(uid: u32, gid: u32) -> bool {
    use nix::unistd::{Gid, Group, Uid, User};
    let (Ok(Some(user)), Ok(Some(group))) = (
        User::from_uid(Uid::from_raw(uid)),
        Group::from_gid(Gid::from_raw(gid)),
    ) else {
        return false;
    };
    private_group(&user.name, user.gid.as_raw(), &group.name, gid, &group.mem)
        && !shared_as_primary(uid, gid)
        && !shared_by_another_entry(&user.name, gid)
}

fn private_group(user: &str, primary: u32, group: &str, gid: u32, members: &[String]) -> bool {
    gid == primary && group == user && members.iter().all(|m| m == user)
}

/// `getpwent` and `getgrent` keep state of their own: one walk at a time.
static WALK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether an entry of the group database with gid `gid` (`getgrgid`
/// answers only the first: `vicshare:x:4242:carl` after `vic:x:4242:`)
/// lists a member other than `user` or holds a password, or, where
/// `/etc/gshadow` can be read, such an entry there lists another member or
/// administrator or has a password (`sg`/`newgrp` then give the group to
/// others).
fn shared_by_another_entry(user: &str, gid: u32) -> bool {
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut shared = false;
    {
        let _one = WALK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: setgrent/getgrent/endgrent under our lock; each entry and
        // its NULL-terminated member list are read before the next call.
        unsafe {
            libc::setgrent();
            loop {
                let g = libc::getgrent();
                if g.is_null() {
                    break;
                }
                if (*g).gr_gid != gid {
                    continue;
                }
                names.push(std::ffi::CStr::from_ptr((*g).gr_name).to_bytes().to_vec());
                // A group password in the group file itself (`sg` gives the
                // group to whoever knows it); `x` sends to gshadow.
                if !(*g).gr_passwd.is_null() {
                    let pass = std::ffi::CStr::from_ptr((*g).gr_passwd).to_bytes();
                    shared |= pass != b"x" && password_set(pass);
                }
                let mut m = (*g).gr_mem;
                while !m.is_null() && !(*m).is_null() {
                    shared |= std::ffi::CStr::from_ptr(*m).to_bytes() != user.as_bytes();
                    m = m.add(1);
                }
            }
            libc::endgrent();
        }
    }
    if shared {
        return true;
    }
    let Ok(f) = std::fs::File::open("/etc/gshadow") else {
        return false; // unreadable (not root): the group file alone decides
    };
    let mut text = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::Read::take(f, 16 << 20), &mut text);
    gshadow_shares(&text, &names, user)
}

/// Whether a gshadow table (`name:password:admins:members`) gives one of
/// the groups `names` to someone other than `user`: another member or
/// administrator, or a password (`!…`, `*…` and empty are none).
fn gshadow_shares(text: &[u8], names: &[Vec<u8>], user: &str) -> bool {
    text.split(|&b| b == b'\n').any(|line| {
        let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        let [name, pass, admins, members, ..] = f[..] else {
            return false;
        };
        let others = |list: &[u8]| {
            list.split(|&b| b == b',')
                .any(|m| !m.is_empty() && m != user.as_bytes())
        };
        names.iter().any(|n| n.as_slice() == name)
            && (others(admins) || others(members) || password_set(pass))
    })
}

/// Whether a group password field holds a password: not empty, not locked
/// (`!…`, `*…`).
fn password_set(field: &[u8]) -> bool {
    !(field.is_empty() || field.starts_with(b"!") || field.starts_with(b"*"))
}

/// Whether an account other than `uid` has `gid` as its primary group (its
/// files are created in that group).
fn shared_as_primary(uid: u32, gid: u32) -> bool {
    let _one = WALK.lock().unwrap_or_else(|e| e.into_inner());
    let mut shared = false;
    // SAFETY: setpwent/getpwent/endpwent under our lock; each entry is read
    // before the next call.
    unsafe {
        libc::setpwent();
        loop {
            let p = libc::getpwent();
            if p.is_null() {
                break;
            }
            if (*p).pw_gid == gid && (*p).pw_uid != uid {
                shared = true;
                break;
            }
        }
        libc::endpwent();
    }
    shared
}

/// `marker` as path components: relative, no `..`, a file name last.
fn marker_components(marker: &str) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for c in Path::new(marker).components() {
        match c {
            Component::Normal(n) => out.push(n.as_encoded_bytes().to_vec()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// `path` without the " (deleted)" the kernel appends to a removed directory.
fn display_path(path: PathBuf, deleted: bool) -> PathBuf {
    if !deleted {
        return path;
    }
    match path
        .as_os_str()
        .as_encoded_bytes()
        .strip_suffix(DELETED.as_bytes())
    {
        // SAFETY: cut at an ASCII suffix of bytes that came from an OsStr.
        Some(b) => PathBuf::from(unsafe { OsStr::from_encoded_bytes_unchecked(b) }),
        None => path,
    }
}

/// `path` with its last `levels` components removed; the topmost ancestor
/// when the path is shorter than the walk (a path the kernel shows from
/// outside the process's namespace).
fn cut(path: &Path, levels: usize) -> PathBuf {
    path.ancestors()
        .nth(levels)
        .or_else(|| path.ancestors().last())
        .unwrap_or(path)
        .to_path_buf()
}

/// The system calls, each relative to a descriptor and never following a
/// symlink it was not asked to.
#[cfg(unix)]
mod sys {
    use super::{Kind, Meta, Node};
    use nix::fcntl::{openat, readlinkat, OFlag};
    use nix::sys::stat::{fstat, Mode};
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStringExt;

    pub type Fd = OwnedFd;

    /// Directories are opened for walking only: `O_PATH` on Linux (no read
    /// permission needed, no side effect), read-only elsewhere.
    #[cfg(target_os = "linux")]
    const DIR: OFlag = OFlag::O_PATH
        .union(OFlag::O_DIRECTORY)
        .union(OFlag::O_CLOEXEC);
    #[cfg(not(target_os = "linux"))]
    const DIR: OFlag = OFlag::O_RDONLY
        .union(OFlag::O_DIRECTORY)
        .union(OFlag::O_CLOEXEC);

    fn open(at: Option<BorrowedFd<'_>>, name: &[u8], flags: OFlag) -> Option<Fd> {
        let fd = openat(at.map(|f| f.as_raw_fd()), name, flags, Mode::empty()).ok()?;
        // SAFETY: openat just returned this descriptor; nothing else owns it.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The directory `name` (relative to `at`, or to our cwd), following a
    /// symlink only where the name is a path we were given, never in a walk
    /// (`..` is no symlink).
    pub fn open_dir(at: Option<&Fd>, name: &[u8]) -> Option<Fd> {
        open(at.map(AsFd::as_fd), name, DIR)
    }

    /// [`open_dir`] in a directory we do not own (a `/proc/PID` of the caller's).
    #[cfg(target_os = "linux")]
    pub fn open_dir_in(at: BorrowedFd<'_>, name: &[u8]) -> Option<Fd> {
        open(Some(at), name, DIR)
    }

    #[allow(clippy::unnecessary_cast)] // the stat field types vary by OS
    fn meta(st: &libc::stat) -> Meta {
        let kind = match st.st_mode as u32 & libc::S_IFMT as u32 {
            k if k == libc::S_IFDIR as u32 => Kind::Dir,
            k if k == libc::S_IFLNK as u32 => Kind::Link,
            k if k == libc::S_IFREG as u32 => Kind::File,
            _ => Kind::Other,
        };
        Meta {
            kind,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            nlink: st.st_nlink as u64,
            acl: false,
        }
    }

    pub fn stat(fd: &impl AsFd) -> Option<Meta> {
        let m = fstat(fd.as_fd().as_raw_fd()).ok().map(|st| meta(&st))?;
        #[cfg(target_os = "linux")]
        if m.mode & 0o020 != 0 && m.kind != Kind::Link {
            let acl = has_acl(fd.as_fd().as_raw_fd());
            return Some(Meta { acl, ..m });
        }
        Some(m)
    }

    /// Whether the file behind `fd` (an `O_PATH` descriptor will do) has an
    /// access ACL beyond its mode bits; one that cannot be told counts as
    /// having one (the shared side).
    #[cfg(target_os = "linux")]
    fn has_acl(fd: std::os::fd::RawFd) -> bool {
        let Ok(path) = std::ffi::CString::new(format!("/proc/self/fd/{fd}")) else {
            return true;
        };
        // SAFETY: a size query (NULL buffer, size 0) with NUL-terminated names.
        let n = unsafe {
            libc::getxattr(
                path.as_ptr(),
                c"system.posix_acl_access".as_ptr(),
                std::ptr::null_mut(),
                0,
            )
        };
        if n >= 0 {
            return true;
        }
        !matches!(
            nix::errno::Errno::last(),
            nix::errno::Errno::ENODATA | nix::errno::Errno::EOPNOTSUPP
        )
    }

    /// `name` in `at`, not followed. On Linux the name is opened once with
    /// `O_PATH|O_NOFOLLOW` and everything after reads that descriptor (a
    /// link's target with readlinkat on the link itself), so a name swapped
    /// between two calls cannot mix two files' facts.
    #[cfg(target_os = "linux")]
    pub fn lookup(at: &Fd, name: &[u8]) -> Option<Node> {
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = open(Some(at.as_fd()), name, flags)?;
        let m = stat(&fd)?;
        Some(match m.kind {
            Kind::Dir => Node::Dir(fd, m),
            Kind::Link => {
                let target = readlinkat(Some(fd.as_raw_fd()), "").ok()?;
                Node::Link(m, target.into_vec())
            }
            Kind::File => Node::File(m),
            Kind::Other => Node::Other,
        })
    }

    /// Elsewhere a link cannot be opened itself: its target is read by name
    /// and kept only if the name still holds the same link afterwards; a
    /// directory's facts come from the descriptor opened `O_NOFOLLOW`.
    #[cfg(not(target_os = "linux"))]
    pub fn lookup(at: &Fd, name: &[u8]) -> Option<Node> {
        use nix::fcntl::AtFlags;
        use nix::sys::stat::fstatat;
        let raw = Some(at.as_raw_fd());
        let lstat = || {
            fstatat(raw, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .ok()
                .map(|s| meta(&s))
        };
        let m = lstat()?;
        Some(match m.kind {
            Kind::Dir => {
                let fd = open(Some(at.as_fd()), name, DIR | OFlag::O_NOFOLLOW)?;
                let m = stat(&fd)?;
                Node::Dir(fd, m)
            }
            Kind::Link => {
                let target = readlinkat(raw, name).ok()?;
                let again = lstat()?;
                if !again.same(&m) || again.kind != Kind::Link {
                    return None;
                }
                Node::Link(m, target.into_vec())
            }
            Kind::File => Node::File(m),
            Kind::Other => Node::Other,
        })
    }

    /// Whether `at` holds an entry `name` of any type. `Err` when that
    /// cannot be told (not "no").
    /// Whether `at`'s `.gitmodules` names a submodule at path `rel`. One
    /// that exists but cannot be read whole (not a regular file, over
    /// [`GITMODULES_MAX`]) may name it: yes. A sparse checkout may leave it
    /// out of the worktree while git still reads it (from the index): a
    /// repository with a sparse-checkout file and no `.gitmodules` may
    /// name it too.
    pub fn registers_submodule(at: &Fd, rel: &std::path::Path) -> bool {
        match has_entry(at, b".gitmodules") {
            Ok(true) => {}
            Ok(false) => {
                return open_dir(Some(at), b".git")
                    .is_some_and(|git| has_entry(&git, b"info/sparse-checkout").unwrap_or(true));
            }
            Err(_) => return true,
        }
        let Some(fd) = open_file(at, b".gitmodules") else {
            return true;
        };
        let mut text = Vec::new();
        let f = std::fs::File::from(fd);
        let limit = super::GITMODULES_MAX as u64;
        if std::io::Read::read_to_end(&mut std::io::Read::take(f, limit + 1), &mut text).is_err()
            || text.len() as u64 > limit
        {
            return true;
        }
        let want = rel.as_os_str().as_encoded_bytes();
        super::submodule_paths(&text)
            .iter()
            .any(|p| p.strip_suffix(b"/").unwrap_or(p) == want)
    }

    /// Opens a regular file `name` below `at` for reading, never following
    /// a symlink and never blocking on a FIFO.
    fn open_file(at: &Fd, name: &[u8]) -> Option<std::os::fd::OwnedFd> {
        use std::os::fd::FromRawFd;
        let c = std::ffi::CString::new(name).ok()?;
        // SAFETY: openat relative to our fd with a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                at.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: the kernel just gave us this fd.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let m = std::fs::File::from(fd.try_clone().ok()?).metadata().ok()?;
        m.is_file().then_some(fd)
    }

    pub fn has_entry(at: &Fd, name: &[u8]) -> Result<bool, super::Blocked> {
        use nix::errno::Errno;
        use nix::fcntl::AtFlags;
        use nix::sys::stat::fstatat;
        match fstatat(Some(at.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(false),
            Err(_) => Err(super::Blocked),
        }
    }
}

/// The most of a `.gitmodules` read; a larger one may name anything.
const GITMODULES_MAX: usize = 4 << 20;

/// The `path` values of the `submodule` sections of a `.gitmodules`, read
/// with git's config syntax: section and key names in any case, a key on
/// the same line as its section header, `#` and `;` comments (also after a
/// value), double quotes, backslash escapes and continued lines. The
/// subsection form (`[submodule "name"]`) and the old dotted one
/// (`[submodule.name]`) both count.
pub(crate) fn submodule_paths(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut in_submodule = false;
    // A UTF-8 byte-order mark, which git skips.
    let mut i = if text.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let at = |i: usize| text.get(i).copied();
    while i < text.len() {
        let c = text[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' || c == b';' {
            while at(i).is_some_and(|c| c != b'\n') {
                i += 1;
            }
        } else if c == b'[' {
            let start = i + 1;
            let mut quoted = false;
            i = start;
            while let Some(c) = at(i) {
                match c {
                    b'"' => quoted = !quoted,
                    b'\\' if quoted => i += 1,
                    b']' if !quoted => break,
                    b'\n' => break,
                    _ => {}
                }
                i += 1;
            }
            let header = &text[start..i.min(text.len())];
            let name_end = header
                .iter()
                .position(|&c| c.is_ascii_whitespace() || c == b'"' || c == b'.')
                .unwrap_or(header.len());
            in_submodule = header[..name_end].eq_ignore_ascii_case(b"submodule");
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == b'-' {
            let start = i;
            while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-') {
                i += 1;
            }
            let key = &text[start..i];
            while at(i).is_some_and(|c| c == b' ' || c == b'\t') {
                i += 1;
            }
            if at(i) != Some(b'=') {
                continue; // a key with no value (true), or junk
            }
            i += 1;
            let (value, next) = config_value(text, i);
            i = next;
            if in_submodule && key.eq_ignore_ascii_case(b"path") {
                out.push(value);
            }
        } else {
            // Junk git would refuse: skip the line.
            while at(i).is_some_and(|c| c != b'\n') {
                i += 1;
            }
        }
    }
    out
}

/// One config value from `i` (just after its `=`) to its unescaped end of
/// line, and where the next line starts: leading and unquoted trailing
/// blanks dropped, quotes removed, escapes and continuations applied,
/// a comment cut off.
fn config_value(text: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut v = Vec::new();
    let mut quoted = false;
    // Length of `v` up to its last character that is not an unquoted blank.
    let mut keep = 0;
    while let Some(&c) = text.get(i) {
        i += 1;
        match c {
            b'\n' => break,
            b'"' => quoted = !quoted,
            b'#' | b';' if !quoted => {
                while text.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            b'\\' => {
                let Some(&e) = text.get(i) else { break };
                i += 1;
                match e {
                    b'\n' => continue, // a continued line
                    b'\r' if text.get(i) == Some(&b'\n') => {
                        i += 1;
                        continue;
                    }
                    b'n' => v.push(b'\n'),
                    b't' => v.push(b'\t'),
                    b'b' => {
                        v.pop();
                    }
                    other => v.push(other),
                }
                keep = v.len();
            }
            b' ' | b'\t' | b'\r' if !quoted => {
                if !v.is_empty() {
                    v.push(c);
                }
            }
            _ => {
                v.push(c);
                keep = v.len();
            }
        }
        if quoted {
            keep = v.len();
        }
    }
    v.truncate(keep);
    (v, i)
}

/// No descriptors off Unix: nothing opens, so no [`Cwd`] exists.
#[cfg(not(unix))]
mod sys {
    use super::{Blocked, Meta, Node};

    #[derive(Debug)]
    pub enum Fd {}

    pub fn open_dir(_at: Option<&Fd>, _name: &[u8]) -> Option<Fd> {
        None
    }

    pub fn stat(fd: &Fd) -> Option<Meta> {
        match *fd {}
    }

    pub fn lookup(at: &Fd, _name: &[u8]) -> Option<Node> {
        match *at {}
    }

    pub fn has_entry(at: &Fd, _name: &[u8]) -> Result<bool, Blocked> {
        match *at {}
    }

    pub fn has_entry(at: &Fd, _name: &[u8]) -> Result<bool, Blocked> {
        match *at {}
    }

    pub fn registers_submodule(at: &Fd, _rel: &std::path::Path) -> bool {
        match *at {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_compare_by_identity_not_path() {
        let a = Place {
            path: "/a".into(),
            dev: 1,
            ino: 2,
        };
        let b = Place {
            path: "/b".into(),
            dev: 1,
            ino: 2,
        };
        let c = Place {
            path: "/a".into(),
            dev: 1,
            ino: 3,
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let set: std::collections::HashSet<Place> = [a, b, c].into_iter().collect();
        assert_eq!(set.len(), 2);
    }

    /// The third outside attack: an ACL entry, or another account whose
    /// primary group it is, makes a user's private group shared.
    #[test]
    fn a_private_group_is_shared_by_an_acl_or_another_primary_account() {
        let t = Trust::new(&[0, 1000], 0);
        let mut m = Meta {
            kind: Kind::Dir,
            dev: 0,
            ino: 0,
            mode: 0o40775,
            uid: 0,
            gid: 0,
            nlink: 1,
            acl: true,
        };
        assert!(!t.private(&m), "group bits that are an ACL's mask");
        m.mode = 0o40755;
        assert!(t.private(&m), "no group write: the ACL cannot grant it");
        // Every account whose primary group another one has, per the
        // account database as getent lists it.
        let out = std::process::Command::new("getent").arg("passwd").output();
        let Ok(out) = out else { return }; // no getent here
        let rows: Vec<(u32, u32)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
            })
            .collect();
        let Some(&(_, some_gid)) = rows.first() else {
            return;
        };
        for &(uid, gid) in rows.iter().take(50) {
            let others = rows.iter().any(|&(u, g)| g == gid && u != uid);
            assert_eq!(shared_as_primary(uid, gid), others, "uid {uid} gid {gid}");
        }
        assert!(
            shared_as_primary(4_000_000_000, some_gid),
            "another account's primary"
        );
        // A group entry with members is shared for anyone else, whichever
        // entry of that gid getgrgid would answer.
        let out = std::process::Command::new("getent").arg("group").output();
        let Ok(out) = out else { return };
        for l in String::from_utf8_lossy(&out.stdout).lines().take(80) {
            let f: Vec<&str> = l.split(':').collect();
            let (Some(Ok(gid)), Some(mem)) = (f.get(2).map(|g| g.parse()), f.get(3)) else {
                continue;
            };
            if !mem.is_empty() {
                assert!(shared_by_another_entry("prt-nobody-at-all", gid), "{l}");
            }
        }
        assert!(
            !shared_by_another_entry("x", 4_000_000_001),
            "no such group"
        );
        // The sixth attack: a password in the group file itself.
        for (field, set) in [
            ("", false),
            ("!", false),
            ("*", false),
            ("!$6$x", false),
            ("$6$s$h", true),
        ] {
            assert_eq!(password_set(field.as_bytes()), set, "{field}");
        }
        // The fifth attack: gshadow gives the group to others.
        let vic = [b"vic".to_vec()];
        for (table, shared) in [
            ("vic:!::\n", false),
            ("vic:!::vic\n", false),
            ("vic:*::\n", false),
            ("vic:::\n", false),
            ("vic:!::carl\n", true),
            ("vic:!:carl:\n", true),
            ("vic:$6$salt$hash::\n", true),
            ("other:!::carl\nvic:!::\n", false),
        ] {
            assert_eq!(
                gshadow_shares(table.as_bytes(), &vic, "vic"),
                shared,
                "{table}"
            );
        }
    }

    #[test]
    fn gitmodules_are_read_as_git_reads_them() {
        let paths = |t: &str| {
            submodule_paths(t.as_bytes())
                .into_iter()
                .map(|p| String::from_utf8(p).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths("[submodule \"lib\"]\n\tpath = lib\n\turl = ../lib\n"),
            ["lib"]
        );
        assert_eq!(
            paths("[submodule \"lib\"]\n\tPath = lib\n"),
            ["lib"],
            "keys in any case"
        );
        assert_eq!(
            paths("[Submodule \"lib\"]\n\tpath=lib ; vendored\n"),
            ["lib"]
        );
        assert_eq!(
            paths("[submodule \"lib\"]\n\tpath = lib # a comment\n"),
            ["lib"]
        );
        assert_eq!(
            paths("[submodule \"lib\"] path = lib\n"),
            ["lib"],
            "on one line"
        );
        assert_eq!(
            paths("[submodule.lib]\npath = lib\n"),
            ["lib"],
            "the old form"
        );
        assert_eq!(paths("[submodule \"a\"]\npath = \"a b ;c\"\n"), ["a b ;c"]);
        assert_eq!(
            paths("[submodule \"a\"]\npath = li\\\nb\n"),
            ["lib"],
            "continued"
        );
        assert_eq!(paths("[submodule \"a\"]\npath = x\\\"y\n"), ["x\"y"]);
        assert_eq!(
            paths("[submodule \"a\"]\r\npath = lib\r\n"),
            ["lib"],
            "CRLF"
        );
        assert_eq!(
            paths("[core]\npath = no\n[submodule \"a\"]\nurl = u\npath = vendor/a\n[other]\npath = no\n"),
            ["vendor/a"]
        );
        assert_eq!(
            paths("; top\n# top\n[submodule \"]x\"]\n  path = x\n"),
            ["x"],
            "a bracket inside the quoted name"
        );
        assert_eq!(
            paths("\u{feff}[submodule \"a\"]\r\n\tpath = lib\r\n"),
            ["lib"],
            "a BOM"
        );
        assert!(paths("").is_empty());
        assert!(paths("[submodule \"a\"]\npath\n").is_empty(), "no value");
    }

    #[test]
    fn handles_can_go_to_a_worker_thread() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Cwd>();
        send_sync::<Place>();
    }

    #[test]
    fn marker_components_refuse_escapes() {
        assert_eq!(
            marker_components("mayor/./town.json"),
            Some(vec![b"mayor".to_vec(), b"town.json".to_vec()])
        );
        assert_eq!(marker_components("/etc/passwd"), None);
        assert_eq!(marker_components("../town.json"), None);
        assert_eq!(marker_components("mayor/../x"), None);
        assert_eq!(marker_components(""), None);
        assert_eq!(marker_components("."), None);
    }

    #[test]
    fn display_paths_lose_only_the_deleted_suffix_of_a_deleted_dir() {
        let p = PathBuf::from("/t/wt (deleted)");
        assert_eq!(display_path(p.clone(), true), PathBuf::from("/t/wt"));
        // A directory really named so keeps its name.
        assert_eq!(display_path(p.clone(), false), p);
        assert_eq!(display_path("/t/wt".into(), true), PathBuf::from("/t/wt"));
    }

    #[test]
    fn cut_removes_levels_and_stops_at_the_top() {
        assert_eq!(cut(Path::new("/a/b/c"), 0), PathBuf::from("/a/b/c"));
        assert_eq!(cut(Path::new("/a/b/c"), 2), PathBuf::from("/a"));
        assert_eq!(cut(Path::new("/a/b/c"), 3), PathBuf::from("/"));
        assert_eq!(cut(Path::new("/a/b/c"), 9), PathBuf::from("/"));
    }

    #[test]
    fn the_strict_rule_is_owner_and_no_group_or_world_write() {
        let t = Trust::new(&[0, 1000], 1000);
        let m = |uid, mode| Meta {
            kind: Kind::Other,
            dev: 0,
            ino: 0,
            mode,
            uid,
            // No such group: group-writable is shared.
            gid: 3_999_999_999,
            nlink: 1,
            acl: false,
        };
        assert!(t.strict(&m(1000, 0o40755), false));
        assert!(t.strict(&m(0, 0o40755), false));
        assert!(!t.strict(&m(1001, 0o40755), false));
        assert!(!t.strict(&m(1000, 0o40775), false));
        assert!(
            !t.strict(&m(0, 0o41777), false),
            "sticky /tmp is still shared"
        );
        assert!(
            t.strict(&m(1000, 0o120777), true),
            "a link's mode means nothing"
        );
        assert!(!t.strict(&m(1001, 0o120777), true));
    }

    #[test]
    fn a_group_is_private_when_it_is_the_owners_own() {
        let none: &[String] = &[];
        assert!(private_group("ann", 1000, "ann", 1000, none));
        assert!(private_group("ann", 1000, "ann", 1000, &["ann".into()]));
        assert!(!private_group("ann", 1000, "ann", 1000, &["bob".into()]));
        assert!(
            !private_group("ann", 100, "users", 100, none),
            "a shared primary group"
        );
        assert!(
            !private_group("ann", 1000, "team", 4300, none),
            "not her primary group"
        );
    }
}
