//! Workspace and project roots on real processes, real directories, real
//! symlinks and real mount namespaces (`unshare -m`). Nothing here signals
//! a process the lab did not start; the lab tears everything down.

mod support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use procreap::workspace::{open_cwd, place_of, Cwd, Place};
use support::*;

const MARKER: &str = "mayor/town.json";

fn me() -> u32 {
    nix::unistd::geteuid().as_raw()
}

fn is_root() -> bool {
    me() == 0
}

/// Whether we are root; says why the test is skipped otherwise.
fn root_or_skip(why: &str) -> bool {
    if !is_root() {
        eprintln!("skipped: needs root {why}");
    }
    is_root()
}

/// A directory (and its parents) with exactly `mode`, whatever the umask.
fn dir_mode(p: &Path, mode: u32) -> PathBuf {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, PermissionsExt::from_mode(mode)).unwrap();
    p.to_path_buf()
}

/// A directory writable by a team group (a gid no group has here, so no
/// user's private group): `None` (and why) unless we are root.
fn team_dir(p: &Path) -> Option<PathBuf> {
    if !root_or_skip("to give a directory to a team group") {
        return None;
    }
    let d = dir_mode(p, 0o2775);
    std::os::unix::fs::lchown(&d, None, Some(TEAM_GID)).unwrap();
    Some(d)
}

/// Gives user `uid` read and write on `p` through a POSIX access ACL (the
/// kernel's xattr format: version 2, then tag, permissions, id per entry,
/// sorted by tag); false (and why) where the filesystem has no ACLs.
fn set_acl_user_write(p: &Path, uid: u32) -> bool {
    const ANY: u32 = u32::MAX;
    let mut blob = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 7u16, ANY), // owner
        (0x02, 6, uid),       // a named user
        (0x04, 7, ANY),       // owning group
        (0x10, 7, ANY),       // mask
        (0x20, 5, ANY),       // others
    ] {
        blob.extend(tag.to_le_bytes());
        blob.extend(perm.to_le_bytes());
        blob.extend(id.to_le_bytes());
    }
    let path = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: NUL-terminated names and a buffer we own, with its length.
    let rc = unsafe {
        libc::setxattr(
            path.as_ptr(),
            xattr::NAME.as_ptr(),
            blob.as_ptr().cast(),
            blob.len(),
            0,
        )
    };
    if rc != 0 {
        eprintln!(
            "skipped: no POSIX ACLs on {}: {}",
            p.display(),
            std::io::Error::last_os_error()
        );
    }
    rc == 0
}

mod xattr {
    pub const NAME: &std::ffi::CStr = c"system.posix_acl_access";

    pub fn remove(p: &std::path::Path) -> std::io::Result<()> {
        let path = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: NUL-terminated names.
        if unsafe { libc::removexattr(path.as_ptr(), NAME.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// A gid no group has on a test machine.
const TEAM_GID: u32 = 3_999_999_001;

fn dir(p: &Path) -> PathBuf {
    dir_mode(p, 0o755)
}

fn file(p: &Path) -> PathBuf {
    std::fs::write(p, "{}").unwrap();
    std::fs::set_permissions(p, PermissionsExt::from_mode(0o644)).unwrap();
    p.to_path_buf()
}

/// A town: `t/mayor/town.json`, all ours, not writable by others.
fn town(t: &Path) -> PathBuf {
    dir(&t.join("mayor"));
    dir(t);
    file(&t.join(MARKER));
    t.to_path_buf()
}

/// `top/dotfiles/mayor/town.json`, and a town `top/name` whose `mayor` is a
/// relative link to it, as a dotfile manager makes; (dotfiles, town).
fn linked_town(top: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dots = town(&top.join("dotfiles"));
    let t = dir(&top.join(name));
    symlink("../dotfiles/mayor", t.join("mayor")).unwrap();
    (dots, t)
}

/// The workspace root of `pid` as procreap's callers ask for it: markers
/// may belong to us, root or the process's user (us: the lab starts them).
fn root_of(pid: i32) -> Option<Place> {
    open_cwd(pid)
        .expect("cwd of our own decoy")
        .find_root(MARKER, &[me(), 0, me()], me())
}

fn root_from(cwd: &Path, proc_uid: u32) -> Option<Place> {
    Cwd::from_path(cwd)
        .expect("cwd")
        .find_root(MARKER, &[me(), 0, proc_uid], proc_uid)
}

fn place(p: &Path) -> Place {
    place_of(p).unwrap_or_else(|| panic!("{} does not open", p.display()))
}

fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap()
}

#[test]
fn a_process_in_a_town_finds_it_and_one_outside_does_not() {
    let mut lab = Lab::new();
    let t = town(&lab.dir.join("town"));
    let crew = dir(&t.join("rig/crew"));
    let inside = lab.agent(Some(&crew));
    let at_root = lab.agent(Some(&t));
    let outside = lab.agent(Some(&lab.dir.clone()));
    let found = root_of(inside.pid).expect("the town");
    assert_eq!(found, place(&t));
    assert_eq!(found.path, canon(&t));
    assert_eq!(root_of(at_root.pid), Some(place(&t)));
    assert_eq!(root_of(outside.pid), None);
    let cwd = open_cwd(inside.pid).unwrap();
    assert_eq!(cwd.path(), canon(&crew));
    assert!(cwd.is_under(&place(&t)));
    assert!(!open_cwd(outside.pid).unwrap().is_under(&place(&t)));
}

#[test]
fn a_process_that_is_gone_has_no_cwd() {
    let mut lab = Lab::new();
    let d = lab.agent(None);
    lab.kill(d.pid);
    assert!(open_cwd(d.pid).is_none());
    assert!(open_cwd(-1).is_none());
}

/// A removed worktree inside a live town: the kernel still walks `..` from
/// the removed directory to its old parents, so the town is found, and the
/// path shown has no " (deleted)".
#[test]
fn a_deleted_cwd_walks_up_to_its_live_town() {
    let mut lab = Lab::new();
    let t = town(&lab.dir.join("town"));
    let gone = dir(&t.join("rig/polecats/gone"));
    let d = lab.agent(Some(&gone));
    std::fs::remove_dir_all(t.join("rig")).unwrap();
    let raw = std::fs::read_link(format!("/proc/{}/cwd", d.pid)).unwrap();
    assert!(raw.to_string_lossy().ends_with(" (deleted)"), "{raw:?}");
    let cwd = open_cwd(d.pid).unwrap();
    assert_eq!(cwd.path(), canon(&t).join("rig/polecats/gone"));
    let found = cwd
        .find_root(MARKER, &[me(), 0], me())
        .expect("the live town");
    assert_eq!(found, place(&t));
    assert_eq!(found.path, canon(&t));
    // Its project is the removed directory itself (no repository).
    assert_eq!(cwd.project().unwrap().path, cwd.path());
    // The portable variant, from the path string, gets there too.
    assert_eq!(root_from(&raw, me()), Some(place(&t)));
    // A removed town leaves no root.
    std::fs::remove_dir_all(&t).unwrap();
    assert_eq!(cwd.find_root(MARKER, &[me(), 0], me()), None);
    assert_eq!(root_from(&raw, me()), None);
}

/// Today's ownership rule, unchanged: a plain marker counts only when it
/// belongs to one of the owners the caller names.
#[test]
fn a_marker_of_another_user_makes_no_workspace() {
    if !root_or_skip("to give a marker to uid 65534") {
        return;
    }
    let mut lab = Lab::new();
    let t = town(&lab.dir.join("town"));
    let d = lab.agent(Some(&t));
    assert!(root_of(d.pid).is_some());
    std::os::unix::fs::lchown(t.join(MARKER), Some(65534), Some(65534)).unwrap();
    assert_eq!(root_of(d.pid), None);
    // Unless the process is that user's (65534 is then one of the owners).
    let cwd = open_cwd(d.pid).unwrap();
    assert_eq!(
        cwd.find_root(MARKER, &[0, 0, 65534], 65534),
        Some(place(&t))
    );
    // A directory where the marker should be is no marker either.
    std::fs::remove_file(t.join(MARKER)).unwrap();
    dir(&t.join(MARKER));
    assert_eq!(root_of(d.pid), None);
}

/// The second outside attack: in a shared directory (setgid, group
/// writable, no sticky bit) another member can *rename* a user's own
/// `notes/ideas.json` to `mayor/town.json`. So a directory on the way (the
/// candidate included) or a marker that others can write makes no
/// workspace; a group write bit counts only where the group is the owner's
/// private one (a umask of 002 with user private groups).
#[test]
fn a_marker_in_a_directory_others_can_write_makes_no_workspace() {
    let mut lab = Lab::new();
    let t = town(&lab.dir.join("town"));
    let d = lab.agent(Some(&t));
    assert_eq!(root_of(d.pid), Some(place(&t)));
    dir_mode(&t, 0o777);
    assert_eq!(root_of(d.pid), None, "a world-writable candidate");
    dir_mode(&t, 0o755);
    dir_mode(&t.join("mayor"), 0o757);
    assert_eq!(root_of(d.pid), None, "a world-writable mayor");
    dir_mode(&t.join("mayor"), 0o755);
    std::fs::set_permissions(t.join(MARKER), PermissionsExt::from_mode(0o646)).unwrap();
    assert_eq!(root_of(d.pid), None, "a world-writable marker");
    std::fs::set_permissions(t.join(MARKER), PermissionsExt::from_mode(0o644)).unwrap();
    if !root_or_skip("to give a directory to another group") {
        return;
    }
    // Root's own group (root, gid 0, no other member) is private to root.
    let private = nix::unistd::Group::from_gid(0.into())
        .ok()
        .flatten()
        .is_some_and(|g| g.name == "root" && g.mem.is_empty());
    dir_mode(&t, 0o2775);
    dir_mode(&t.join("mayor"), 0o2775);
    std::os::unix::fs::lchown(&t, Some(0), Some(0)).unwrap();
    if private {
        assert_eq!(root_of(d.pid), Some(place(&t)), "a private group");
        // The third outside attack: an ACL entry lets another user write;
        // the group bits are then the ACL's mask.
        if set_acl_user_write(&t, 4242) {
            assert_eq!(root_of(d.pid), None, "an ACL entry for another user");
            let _ = xattr::remove(&t);
            assert_eq!(root_of(d.pid), Some(place(&t)), "the ACL removed");
        }
    }
    // A team group (shared, whoever is in it).
    team_dir(&t);
    assert_eq!(root_of(d.pid), None, "a team directory");
    std::os::unix::fs::lchown(&t, Some(0), Some(0)).unwrap();
    team_dir(&t.join("mayor"));
    assert_eq!(root_of(d.pid), None, "a team mayor");
}

/// Dotfile managers link `mayor` or `town.json` into the user's own
/// dotfiles: every link, directory and the marker belong to the user (or
/// root) and nobody else can write them, so the town counts.
#[test]
fn symlinked_mayor_and_town_json_owned_by_the_user_are_accepted() {
    let mut lab = Lab::new();
    // `mayor` is a relative link into the dotfiles.
    let (_, a) = linked_town(&lab.dir, "town-a");
    let rig = dir(&a.join("rig"));
    // `town.json` is a link inside a real `mayor` directory.
    let b = dir(&lab.dir.join("town-b"));
    dir(&b.join("mayor"));
    symlink("../../dotfiles/mayor/town.json", b.join(MARKER)).unwrap();
    // Both at once, through a link to a link.
    let c = dir(&lab.dir.join("town-c"));
    symlink("../town-b/mayor", c.join("mayor")).unwrap();
    let in_a = lab.agent(Some(&rig));
    let in_b = lab.agent(Some(&b));
    let in_c = lab.agent(Some(&c));
    let found = root_of(in_a.pid).expect("a symlinked mayor directory");
    assert_eq!(found, place(&a));
    assert_eq!(found.path, canon(&a));
    assert_eq!(root_of(in_b.pid), Some(place(&b)), "a symlinked town.json");
    assert_eq!(root_of(in_c.pid), Some(place(&c)), "links to links");
    // The portable variant applies the same rule.
    assert_eq!(root_from(&rig, me()), Some(place(&a)));
}

/// An absolute link target resolves from the process's root. Our lab lives
/// in /tmp, which others can write, so this one is built in the target
/// directory (when nothing above it is group- or world-writable).
#[test]
fn an_absolute_link_through_private_directories_is_accepted() {
    let Some(scratch) = private_scratch() else {
        return;
    };
    let base = scratch.0.clone();
    let mut lab = Lab::new();
    let dots = dir(&base.join("dotfiles"));
    town(&dots);
    let t = dir(&base.join("town"));
    symlink(canon(&dots).join("mayor"), t.join("mayor")).unwrap();
    let d = lab.agent(Some(&t));
    assert_eq!(root_of(d.pid), Some(place(&t)));
    // The same link written into a team's directory is refused.
    if team_dir(&dots).is_some() {
        assert_eq!(root_of(d.pid), None);
    }
}

/// A directory of ours, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scratch directory with nothing group- or world-writable above it
/// (below the target directory: the lab lives in /tmp, which anyone can
/// write); `None` (and why, printed) where there is none.
fn private_scratch() -> Option<Scratch> {
    let top = canon(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let shared = top
        .ancestors()
        .find(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o022 != 0));
    if let Some(a) = shared {
        eprintln!("skipped: {} is group- or world-writable", a.display());
        return None;
    }
    let p = top.join(format!("ws-{}", token()));
    if let Err(e) = std::fs::create_dir(&p) {
        eprintln!("skipped: cannot make {}: {e}", p.display());
        return None;
    }
    Some(Scratch(dir(&p)))
}

/// A marker reached through a directory others can write could have been
/// planted there: refused, whichever directory on the way it is.
#[test]
fn a_symlinked_marker_through_a_shared_directory_is_refused() {
    let mut lab = Lab::new();
    let (dots, t) = linked_town(&lab.dir, "town");
    let d = lab.agent(Some(&t));
    assert!(root_of(d.pid).is_some(), "the layout is accepted as built");
    // The link's target directory, writable by a team.
    if team_dir(&dots.join("mayor")).is_some() {
        assert_eq!(root_of(d.pid), None, "team-writable target");
        dir_mode(&dots.join("mayor"), 0o755);
    }
    // A directory the lookup passes through, writable by everyone.
    dir_mode(&dots, 0o777);
    assert_eq!(root_of(d.pid), None, "world-writable directory on the way");
    dir_mode(&dots, 0o755);
    // The directory holding the link: anyone could have made the link.
    dir_mode(&t, 0o1777);
    assert_eq!(root_of(d.pid), None, "link in a shared directory");
    dir_mode(&t, 0o755);
    // The marker itself.
    std::fs::set_permissions(dots.join(MARKER), PermissionsExt::from_mode(0o666)).unwrap();
    assert_eq!(root_of(d.pid), None, "world-writable marker");
    std::fs::set_permissions(dots.join(MARKER), PermissionsExt::from_mode(0o644)).unwrap();
    assert!(root_of(d.pid).is_some(), "and accepted again once private");
}

/// A `mayor` link into /tmp (world-writable, sticky): anyone may have made
/// what it points to. The same link from a shared directory in /tmp to a
/// real town's `mayor` is refused too.
#[test]
fn a_link_into_tmp_is_refused() {
    let tmp = Path::new("/tmp");
    let mode = std::fs::metadata(tmp).map(|m| m.permissions().mode());
    if mode.ok().map(|m| m & 0o1002) != Some(0o1002) {
        eprintln!("skipped: /tmp is not world-writable and sticky here");
        return;
    }
    let mut lab = Lab::new();
    let planted = dir(&tmp.join(format!("prt-planted-{}", token())));
    let _cleanup = Scratch(planted.clone());
    town(&planted);
    let t = dir(&lab.dir.join("town"));
    symlink(planted.join("mayor"), t.join("mayor")).unwrap();
    let d = lab.agent(Some(&t));
    assert_eq!(root_of(d.pid), None);
    // A `mayor` link planted in a shared directory of /tmp, to a real
    // town's `mayor`.
    let real = town(&lab.dir.join("real"));
    let job = dir(&planted.join("job"));
    std::fs::remove_dir_all(planted.join("mayor")).unwrap();
    symlink(real.join("mayor"), planted.join("mayor")).unwrap();
    dir_mode(&planted, 0o1777);
    let e = lab.agent(Some(&job));
    assert_eq!(root_of(e.pid), None);
}

/// A link that belongs to another user is not the user's own doing, even
/// when everything it points to is.
#[test]
fn a_link_owned_by_another_user_is_refused() {
    if !root_or_skip("to give a link to uid 65534") {
        return;
    }
    let mut lab = Lab::new();
    let (dots, t) = linked_town(&lab.dir, "town");
    let link = t.join("mayor");
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let d = lab.agent(Some(&t));
    assert_eq!(root_of(d.pid), None);
    // For a process of user 65534 that link is its own.
    let cwd = open_cwd(d.pid).unwrap();
    assert_eq!(
        cwd.find_root(MARKER, &[0, 0, 65534], 65534),
        Some(place(&t))
    );
    // A process of its own, run as 65534, judged with its uid.
    let name = lab.name();
    let mut c = Command::new(lab.sleep_bin(&name));
    c.arg("1000").current_dir(&t);
    std::os::unix::process::CommandExt::uid(&mut c, 65534);
    let nobody = lab.spawn(c);
    let owners = [me(), 0, 65534];
    let cwd = open_cwd(nobody).expect("root reads any cwd");
    assert_eq!(cwd.find_root(MARKER, &owners, 65534), Some(place(&t)));
    // And the link of someone else again for it.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    std::os::unix::fs::lchown(dots.join(MARKER), Some(1), Some(1)).unwrap();
    assert_eq!(cwd.find_root(MARKER, &[me(), 0, 65534, 1], 65534), None);
}

/// Loops end in a refusal, never a hang; chains follow at most 40 links,
/// as the kernel does.
#[test]
fn loops_and_long_chains_of_links_are_refused() {
    let mut lab = Lab::new();
    let t = dir(&lab.dir.join("town"));
    let d = lab.agent(Some(&t));
    let pid = d.pid;
    let within_a_while = move || {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(root_of(pid)).unwrap());
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a lookup through looping links must end")
    };
    symlink("mayor", t.join("mayor")).unwrap();
    assert_eq!(within_a_while(), None, "a link to itself");
    std::fs::remove_file(t.join("mayor")).unwrap();
    symlink("m2", t.join("mayor")).unwrap();
    symlink("mayor", t.join("m2")).unwrap();
    assert_eq!(within_a_while(), None, "two links to each other");
    std::fs::remove_file(t.join("mayor")).unwrap();
    symlink("../town/mayor/../mayor", t.join("m3")).unwrap();
    symlink("m3", t.join("mayor")).unwrap();
    assert_eq!(within_a_while(), None, "a loop through ..");
    std::fs::remove_file(t.join("mayor")).unwrap();
    // A chain: mayor -> l1 -> … -> l(n-1) -> dotfiles/mayor is n links.
    let dots = dir(&lab.dir.join("dotfiles"));
    town(&dots);
    let chain = |n: usize| {
        for i in 1..60 {
            let _ = std::fs::remove_file(t.join(format!("l{i}")));
        }
        let _ = std::fs::remove_file(t.join("mayor"));
        symlink("../dotfiles/mayor", t.join(format!("l{}", n - 1))).unwrap();
        for i in (1..n - 1).rev() {
            symlink(format!("l{}", i + 1), t.join(format!("l{i}"))).unwrap();
        }
        symlink("l1", t.join("mayor")).unwrap();
    };
    chain(40);
    assert_eq!(within_a_while(), Some(place(&t)), "40 links");
    chain(41);
    assert_eq!(within_a_while(), None, "41 links");
}

/// Whether we may make a private mount namespace with a tmpfs in it; the
/// `unshare` arguments that do it, or `None` (and why, printed).
fn mount_namespace(lab: &Lab) -> Option<Vec<&'static str>> {
    let probe = dir(&lab.dir.join("probe"));
    // As root a plain mount namespace; otherwise a user namespace with it.
    let args: Vec<&str> = if is_root() {
        vec!["unshare", "--mount", "--propagation", "private"]
    } else {
        vec![
            "unshare",
            "--mount",
            "--map-root-user",
            "--propagation",
            "private",
        ]
    };
    let out = Command::new(args[0])
        .args(&args[1..])
        .args(["sh", "-c", "mount -t tmpfs prt \"$1\"", "sh"])
        .arg(&probe)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => Some(args),
        Ok(o) => {
            eprintln!(
                "skipped: no private mount namespace here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("skipped: cannot run unshare: {e}");
            None
        }
    }
}

/// Starts a sleeping decoy under a private name in a private mount
/// namespace, after `setup` (a shell snippet; `$1` is `arg`, `$2` the
/// decoy's program, `$3` its name) ran there; the decoy's cwd is whatever
/// `setup` left. A `setup` that execs the decoy itself ends the script.
fn in_namespace(lab: &mut Lab, unshare: &[&str], setup: &str, arg: &Path) -> i32 {
    let name = lab.name();
    let bin = lab.sleep_bin(&name);
    let mut c = Command::new(unshare[0]);
    c.args(&unshare[1..])
        .args([
            "sh",
            "-c",
            &format!("set -e; {setup}; exec \"$2\" 1000"),
            "sh",
        ])
        .arg(arg)
        .arg(&bin)
        .arg(&name);
    let pid = lab.spawn(c);
    let ready = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
    });
    assert!(ready, "the decoy in its namespace did not start");
    pid
}

/// Issue 10 item 2: a cwd in another mount namespace whose path, in ours,
/// lies in a town. The decoy mounts a private tmpfs over the town and works
/// in `town/rig` inside it: /proc shows `town/rig`, our namespace has the
/// marker above that path, the decoy's has none.
#[test]
fn a_private_tmpfs_over_a_town_is_not_that_town() {
    let mut lab = Lab::new();
    let Some(unshare) = mount_namespace(&lab) else {
        return;
    };
    let t = town(&lab.dir.join("town"));
    let rig = dir(&t.join("rig"));
    let host = lab.agent(Some(&rig));
    let pid = in_namespace(
        &mut lab,
        &unshare,
        "mount -t tmpfs prt \"$1\"; mkdir -p \"$1/rig\"; cd \"$1/rig\"",
        &t,
    );
    assert!(t.join(MARKER).is_file(), "the tmpfs stayed private");
    let cwd = open_cwd(pid).expect("the decoy's cwd");
    // Its cwd reads as the town's path from here...
    assert_eq!(cwd.path(), canon(&rig));
    // ...which is how a path-based lookup places it in the host town,
    assert_eq!(root_from(cwd.path(), me()), Some(place(&t)));
    // but walking its own directories finds nothing.
    assert_eq!(cwd.find_root(MARKER, &[me(), 0], me()), None);
    assert!(!cwd.is_under(&place(&t)));
    // The same layout in our own namespace is the town.
    assert_eq!(root_of(host.pid), Some(place(&t)));
}

/// An absolute link target resolves in the process's own namespace (from
/// /proc/PID/root): a `mayor` link whose target exists only in the decoy's
/// namespace finds the town for it and not for a process of ours.
#[test]
fn absolute_link_targets_resolve_in_the_process_namespace() {
    let Some(scratch) = private_scratch() else {
        return;
    };
    let base = scratch.0.clone();
    let mut lab = Lab::new();
    let Some(unshare) = mount_namespace(&lab) else {
        return;
    };
    let dots = dir(&base.join("dotfiles"));
    let t = dir(&base.join("town"));
    symlink(canon(&dots).join("mayor"), t.join("mayor")).unwrap();
    let ours = lab.agent(Some(&t));
    assert_eq!(
        root_of(ours.pid),
        None,
        "no dotfiles/mayor in our namespace"
    );
    let setup = "mount -t tmpfs -o mode=755 prt \"$1/dotfiles\"; \
                 mkdir -m 755 \"$1/dotfiles/mayor\"; echo '{}' > \"$1/dotfiles/mayor/town.json\"; \
                 chmod 644 \"$1/dotfiles/mayor/town.json\"; cd \"$1/town\"";
    let pid = in_namespace(&mut lab, &unshare, setup, &canon(&base));
    assert!(!dots.join("mayor").exists(), "the tmpfs stayed private");
    let found = root_of(pid).expect("the town, in the decoy's namespace");
    assert_eq!(found, place(&t));
}

/// `.git` as a directory (a repository) or a file (a worktree), the nearest
/// one above the cwd; the cwd itself without any.
#[test]
fn the_project_is_the_nearest_git_entry_or_the_cwd() {
    let mut lab = Lab::new();
    for a in lab.dir.ancestors() {
        if a.join(".git").exists() {
            eprintln!("skipped: {} holds a .git", a.display());
            return;
        }
    }
    let repo = dir(&lab.dir.join("repo"));
    dir(&repo.join(".git"));
    let nested = dir(&repo.join("src/deep/er"));
    let wt = dir(&repo.join("worktrees/feature"));
    std::fs::write(wt.join(".git"), "gitdir: ../../.git/worktrees/feature\n").unwrap();
    let wt_sub = dir(&wt.join("pkg"));
    let plain = dir(&lab.dir.join("plain/sub"));
    let mut project = |d: &Path| {
        let agent = lab.agent(Some(d));
        open_cwd(agent.pid).unwrap().project().expect("a project")
    };
    let at_root = project(&repo);
    assert_eq!(at_root, place(&repo));
    assert_eq!(at_root.path, canon(&repo));
    let p = project(&nested);
    assert_eq!((p.clone(), p.path), (place(&repo), canon(&repo)));
    let p = project(&wt_sub);
    assert_eq!(
        (p.clone(), p.path),
        (place(&wt), canon(&wt)),
        "a worktree's .git file"
    );
    let p = project(&plain);
    assert_eq!(
        (p.clone(), p.path),
        (place(&plain), canon(&plain)),
        "no repository"
    );
}

/// A project is judged in the process's own namespace too: a private
/// tmpfs over a repository hides its `.git`.
#[test]
fn the_project_is_judged_in_the_process_namespace() {
    let mut lab = Lab::new();
    let Some(unshare) = mount_namespace(&lab) else {
        return;
    };
    let repo = dir(&lab.dir.join("repo"));
    dir(&repo.join(".git"));
    let sub = dir(&repo.join("sub"));
    let mut project_in = |mkdir: &str| {
        let setup = format!("mount -t tmpfs prt \"$1\"; mkdir {mkdir}; cd \"$1/sub\"");
        let pid = in_namespace(&mut lab, &unshare, &setup, &repo);
        open_cwd(pid).unwrap().project().unwrap()
    };
    // No repository in the decoy's view: its project is its cwd, a
    // directory of the tmpfs, not the host's repo/sub.
    let p = project_in("\"$1/sub\"");
    assert_eq!(p.path, canon(&sub));
    assert_ne!(p, place(&sub));
    assert_ne!(p, place(&repo));
    // A repository of its own at the same path: the same path, another place.
    let p = project_in("\"$1/.git\" \"$1/sub\"");
    assert_eq!(p.path, canon(&repo));
    assert_ne!(p, place(&repo));
    // Ours, at the same path, is the host repository.
    let host = lab.agent(Some(&sub));
    assert_eq!(open_cwd(host.pid).unwrap().project(), Some(place(&repo)));
}

/// The walk stops at the process's root: a process chrooted into a jail
/// that lies in a town (in our view) is not in that town.
#[test]
fn the_walk_stops_at_the_process_root() {
    let mut lab = Lab::new();
    let Some(unshare) = mount_namespace(&lab) else {
        return;
    };
    let t = town(&lab.dir.join("town"));
    let work = dir(&t.join("jail/work"));
    // The jail borrows the system's programs (bind mounts, in the decoy's
    // namespace only) and runs the decoy's private name inside it.
    let setup = "for d in usr bin lib lib64; do \
                   if [ -L /$d ]; then ln -s \"$(readlink /$d)\" \"$1/jail/$d\"; \
                   elif [ -d /$d ]; then mkdir \"$1/jail/$d\"; mount --bind /$d \"$1/jail/$d\"; fi; \
                 done; \
                 ln -s \"$(readlink -f \"$2\")\" \"$1/jail/$3\"; \
                 exec chroot \"$1/jail\" /bin/sh -c 'cd /work && exec \"/$0\" 1000' \"$3\"";
    let pid = in_namespace(&mut lab, &unshare, setup, &canon(&t));
    let cwd = open_cwd(pid).unwrap();
    assert_eq!(cwd.path(), canon(&work), "its cwd, as we see it");
    assert_eq!(cwd.find_root(MARKER, &[me(), 0], me()), None);
    assert!(!cwd.is_under(&place(&t)));
    assert_eq!(cwd.project().unwrap(), place(&work));
    // The same directory, from our root, is in the town.
    assert_eq!(root_from(&work, me()), Some(place(&t)));
}

/// The same directory through two paths is one place: a symlinked root,
/// and a bind mount in another namespace.
#[test]
fn one_directory_through_two_paths_is_one_place() {
    let mut lab = Lab::new();
    let t = town(&lab.dir.join("town"));
    let rig = dir(&t.join("rig"));
    let link = lab.dir.join("via-link");
    symlink(&t, &link).unwrap();
    assert_eq!(place(&link), place(&t));
    assert_eq!(place(&link).path, canon(&t));
    assert_ne!(place(&rig), place(&t));
    let d = lab.agent(Some(&rig));
    let cwd = open_cwd(d.pid).unwrap();
    assert!(cwd.is_under(&place(&link)));
    assert!(cwd.is_under(&place(&rig)), "a directory is under itself");
    assert!(!cwd.is_under(&place(&lab.dir.join("town/mayor"))));
    assert_eq!(cwd.find_root(MARKER, &[me(), 0], me()), place_of(&link));

    let Some(unshare) = mount_namespace(&lab) else {
        return;
    };
    let alt = dir(&lab.dir.join("alt"));
    let top = canon(&lab.dir);
    let pid = in_namespace(
        &mut lab,
        &unshare,
        "mount --bind \"$1/town\" \"$1/alt\"; cd \"$1/alt/rig\"",
        &top,
    );
    let cwd = open_cwd(pid).unwrap();
    assert_eq!(cwd.path(), canon(&alt).join("rig"), "its own path");
    assert!(cwd.is_under(&place(&t)));
    assert!(!cwd.is_under(&place(&alt)), "our alt is an empty directory");
    let found = cwd.find_root(MARKER, &[me(), 0], me()).expect("the town");
    assert_eq!(found, place(&t));
    assert_eq!(found.path, canon(&alt), "shown by the path it has there");
}

/// The handles work from another thread (the caller's time-bounded worker).
#[test]
fn a_cwd_can_be_judged_on_another_thread() {
    let mut lab = Lab::new();
    let t = town(&lab.dir.join("town"));
    let d = lab.agent(Some(&t));
    let cwd = open_cwd(d.pid).unwrap();
    let found = std::thread::spawn(move || cwd.find_root(MARKER, &[me(), 0], me()))
        .join()
        .unwrap();
    assert_eq!(found, Some(place(&t)));
}

/// A submodule — its `.git` a file naming the superproject's
/// `.git/modules/…`, or a directory (an existing clone added with `git
/// submodule add`) — belongs to the superproject whose `.gitmodules` names
/// its path, also in a linked worktree and nested; a worktree (its `.git` a
/// file naming `.git/worktrees/…`) is a project of its own, whatever the
/// directories above it are called; a nested clone nobody registered stands
/// alone; and the way up from a cwd with no repository above stops short of
/// the root.
#[test]
fn submodules_join_their_superproject_worktrees_stand_alone() {
    let lab = Lab::new();
    let project = |p: &Path| Cwd::from_path(p).unwrap().project().unwrap();
    let gitmodules = |repo: &Path, paths: &[&str]| {
        let text: String = paths
            .iter()
            .map(|p| format!("[submodule \"{p}\"]\n\tpath = {p}\n\turl = ../{p}\n"))
            .collect();
        std::fs::write(repo.join(".gitmodules"), text).unwrap();
    };
    let repo = dir(&lab.dir.join("repo"));
    dir(&repo.join(".git/modules/sub"));
    let sub = dir(&repo.join("sub"));
    std::fs::write(sub.join(".git"), "gitdir: ../.git/modules/sub\n").unwrap();
    let deep = dir(&sub.join("src"));
    assert_eq!(project(&deep), place(&sub), "not registered: its own");
    gitmodules(&repo, &["sub", "vendor/emb", "worktrees/lib"]);
    assert_eq!(
        project(&deep),
        place(&repo),
        "a submodule is its superproject's"
    );
    // An existing clone added as a submodule keeps its `.git` directory;
    // a nested clone nobody registered is a project of its own.
    let emb = dir(&repo.join("vendor/emb"));
    dir(&emb.join(".git"));
    let loose = dir(&repo.join("vendor/loose"));
    dir(&loose.join(".git"));
    assert_eq!(
        project(&dir(&emb.join("src"))),
        place(&repo),
        "a registered clone"
    );
    assert_eq!(
        project(&loose),
        place(&loose),
        "an unregistered clone stands alone"
    );
    // A submodule at a path called worktrees/… is still a submodule.
    let wl = dir(&repo.join("worktrees/lib"));
    std::fs::write(
        wl.join(".git"),
        "gitdir: ../../.git/modules/worktrees/lib\n",
    )
    .unwrap();
    assert_eq!(project(&wl), place(&repo), "a submodule at worktrees/lib");
    // A clone registered in a submodule's own .gitmodules: nested.
    let inner = dir(&sub.join("vendor/x"));
    dir(&inner.join(".git"));
    gitmodules(&sub, &["vendor/x"]);
    assert_eq!(project(&inner), place(&repo), "nested registrations");
    // A sparse checkout may leave .gitmodules out of the worktree (git
    // reads it from the index): with no .gitmodules there, a clone below a
    // repository with a sparse-checkout file may be registered.
    let sparse = dir(&lab.dir.join("sparse"));
    dir(&sparse.join(".git/info"));
    let vendored = dir(&sparse.join("lib"));
    dir(&vendored.join(".git"));
    assert_eq!(project(&vendored), place(&vendored), "not sparse: its own");
    std::fs::write(
        sparse.join(".git/info/sparse-checkout"),
        "/*\n!/.gitmodules\n",
    )
    .unwrap();
    assert_eq!(
        project(&vendored),
        place(&sparse),
        "sparse: may be registered"
    );
    // A linked worktree: a project of its own, also where the main
    // repository lies under a directory called `modules` (a Terraform
    // module, a node_modules clone) or is a separate git dir there.
    for (name, gitdir) in [
        ("repo-wt", format!("{}/.git/worktrees/wt", repo.display())),
        (
            "wt2",
            format!("{}/modules/app/.git/worktrees/wt2", lab.dir.display()),
        ),
        ("sep", format!("{}/modules/app.git", lab.dir.display())),
    ] {
        let wt = dir(&lab.dir.join(name));
        std::fs::write(wt.join(".git"), format!("gitdir: {gitdir}\n")).unwrap();
        assert_eq!(project(&dir(&wt.join("backend"))), place(&wt), "{name}");
    }
    // A submodule of a linked worktree, registered in the worktree's
    // checked-out .gitmodules: the worktree's project.
    let wt = lab.dir.join("repo-wt");
    let lib = dir(&wt.join("lib"));
    std::fs::write(
        lib.join(".git"),
        format!("gitdir: {}/.git/worktrees/wt/modules/lib\n", repo.display()),
    )
    .unwrap();
    gitmodules(&wt, &["lib"]);
    assert_eq!(
        project(&dir(&lib.join("src"))),
        place(&wt),
        "a worktree's submodule is the worktree's"
    );
    // No repository above: the way up ends below the root.
    let plain = dir(&lab.dir.join("plain/a/b"));
    let (p, way) = Cwd::from_path(&plain).unwrap().ascent().unwrap();
    assert_eq!(p, place(&plain));
    assert_eq!(way.first(), Some(&place(&plain)));
    assert!(way.contains(&place(&lab.dir.join("plain"))));
    assert!(!way.contains(&place(Path::new("/"))), "{way:?}");
}
