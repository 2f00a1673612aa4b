//! `procreap_config`: an opaque configuration with the library's defaults,
//! a setter and a getter per knob. The library is the one source of truth:
//! bindings read defaults through the getters (a NULL configuration reads
//! as the defaults) and leave validation to the setters. A setter that would
//! make the configuration invalid fails with
//! `PROCREAP_STATUS_INVALID_ARGUMENT` and leaves it unchanged.

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Argv0Match, Backend, Config};
use crate::ffi::{
    array, c_string, check_out, ffi_guard, opt_str, procreap_error, procreap_status,
    procreap_string_list, req_str, str_array, write_out, Failure,
};

/// Configuration (opaque). NULL where a `const procreap_config *` is taken
/// means the defaults. A configuration may be read from several threads at
/// once; a setter needs exclusive use of it.
pub struct procreap_config {
    pub(crate) inner: Config,
}

/// Which process-table backend to read.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_backend {
    /// `/proc` on Linux, `ps`/`lsof` elsewhere.
    Auto = 0,
    /// `/proc` (Linux only).
    Proc = 1,
    /// The portable `ps`/`lsof` backend.
    Ps = 2,
}

/// When argv[0]'s basename may name an agent process.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum procreap_argv0_match {
    /// Never: the comm alone names a process.
    Never = 0,
    /// Only where the comm cannot carry the name: a version-like comm
    /// (`2.1.3`) or the kernel's 15-byte cut of a configured name (default).
    VersionLike = 1,
    /// Every process's argv[0] counts (`exec -a claude` makes an agent).
    Always = 2,
}

/// A new configuration with the defaults (SPEC §2). Free it with
/// `procreap_config_free`. Returns NULL only if a panic was caught.
#[no_mangle]
pub extern "C" fn procreap_config_new() -> *mut procreap_config {
    procreap_config_clone(std::ptr::null())
}

/// A copy of `cfg` (NULL copies the defaults). Free it with
/// `procreap_config_free`. Returns NULL only if a panic was caught.
#[no_mangle]
pub extern "C" fn procreap_config_clone(cfg: *const procreap_config) -> *mut procreap_config {
    std::panic::catch_unwind(|| {
        Box::into_raw(Box::new(procreap_config {
            inner: config_or_default(cfg),
        }))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Frees a configuration. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_config_free(cfg: *mut procreap_config) {
    if !cfg.is_null() {
        // SAFETY: made by procreap_config_new or procreap_config_clone.
        drop(unsafe { Box::from_raw(cfg) });
    }
}

/// The configuration behind a `const procreap_config *` (defaults for NULL).
pub(crate) fn config_or_default(cfg: *const procreap_config) -> Config {
    with_config(cfg, Config::clone)
}

/// Reads the configuration behind `cfg` (the defaults for NULL).
fn with_config<T>(cfg: *const procreap_config, f: impl FnOnce(&Config) -> T) -> T {
    // SAFETY: NULL or a pointer from procreap_config_new.
    match unsafe { cfg.as_ref() } {
        Some(c) => f(&c.inner),
        None => f(&Config::default()),
    }
}

fn update(
    cfg: *mut procreap_config,
    err: *mut *mut procreap_error,
    f: impl FnOnce(&mut Config) -> Result<(), Failure>,
) -> procreap_status {
    ffi_guard!(err, {
        // SAFETY: NULL or a pointer from procreap_config_new.
        let c = unsafe { cfg.as_mut() }.ok_or_else(|| Failure::null("config"))?;
        let mut next = c.inner.clone();
        f(&mut next)?;
        next.validate()?;
        c.inner = next;
        Ok(())
    })
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Durations leave the library in whole milliseconds, rounded up, so a
/// positive duration never reads as 0.
fn to_ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Writes an owned string list (free with `procreap_string_list_free`).
fn get_strings(
    cfg: *const procreap_config,
    out: *mut *mut procreap_string_list,
    err: *mut *mut procreap_error,
    f: impl FnOnce(&Config) -> Vec<String>,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        write_out(out, procreap_string_list::new(with_config(cfg, f)));
        Ok(())
    })
}

/// Writes an owned string, or NULL for an unset value (free with
/// `procreap_string_free`).
fn get_string(
    cfg: *const procreap_config,
    out: *mut *mut c_char,
    err: *mut *mut procreap_error,
    f: impl FnOnce(&Config) -> Option<String>,
) -> procreap_status {
    ffi_guard!(err, {
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        let s = with_config(cfg, f);
        // SAFETY: checked non-NULL above.
        unsafe { *out = s.map_or(std::ptr::null_mut(), |s| c_string(&s)) };
        Ok(())
    })
}

/// Copies up to `cap` values into `buf` and the full count into `*len`.
fn get_values<T: Copy>(
    cfg: *const procreap_config,
    buf: *mut T,
    cap: usize,
    len: *mut usize,
    err: *mut *mut procreap_error,
    f: impl FnOnce(&Config) -> Vec<T>,
) -> procreap_status {
    ffi_guard!(err, {
        if len.is_null() {
            return Err(Failure::null("len"));
        }
        if buf.is_null() && cap > 0 {
            return Err(Failure::null("buf"));
        }
        let v = with_config(cfg, f);
        for (i, x) in v.iter().take(cap).enumerate() {
            // SAFETY: the caller promises `cap` writable elements at `buf`.
            unsafe { *buf.add(i) = *x };
        }
        // SAFETY: checked non-NULL above.
        unsafe { *len = v.len() };
        Ok(())
    })
}

fn path_string(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

// ------------------------------------------------------------- agent_names

/// Agent process names (case-insensitive), replacing the list. At least one.
#[no_mangle]
pub extern "C" fn procreap_config_set_agent_names(
    cfg: *mut procreap_config,
    names: *const *const c_char,
    len: usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.agent_names = str_array(names, len, "names")?;
        Ok(())
    })
}

/// The agent names. `*out` receives a list to free with
/// `procreap_string_list_free`.
#[no_mangle]
pub extern "C" fn procreap_config_get_agent_names(
    cfg: *const procreap_config,
    out: *mut *mut procreap_string_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_strings(cfg, out, err, |c| c.agent_names.clone())
}

// ------------------------------------------------------------- argv0_match

/// When argv[0]'s basename may name an agent, a `procreap_argv0_match`
/// value (default `PROCREAP_ARGV0_MATCH_VERSION_LIKE`).
#[no_mangle]
pub extern "C" fn procreap_config_set_argv0_match(
    cfg: *mut procreap_config,
    mode: u32,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.argv0_match = *Argv0Match::ALL
            .get(mode as usize)
            .ok_or_else(|| Failure::invalid(format!("unknown argv0_match {mode}")))?;
        Ok(())
    })
}

/// The `procreap_argv0_match` value.
#[no_mangle]
pub extern "C" fn procreap_config_get_argv0_match(cfg: *const procreap_config) -> u32 {
    with_config(cfg, |c| c.argv0_match as u32)
}

// ----------------------------------------------------------------- min_age

/// Minimum age of a candidate, in milliseconds (default 60000).
#[no_mangle]
pub extern "C" fn procreap_config_set_min_age_ms(
    cfg: *mut procreap_config,
    millis: u64,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.min_age = ms(millis);
        Ok(())
    })
}

/// Minimum age of a candidate, in milliseconds.
#[no_mangle]
pub extern "C" fn procreap_config_get_min_age_ms(cfg: *const procreap_config) -> u64 {
    with_config(cfg, |c| to_ms(c.min_age))
}

// ------------------------------------------------------------------- grace

/// Time from SIGTERM to SIGKILL, in milliseconds (default 60000).
#[no_mangle]
pub extern "C" fn procreap_config_set_grace_ms(
    cfg: *mut procreap_config,
    millis: u64,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.grace = ms(millis);
        Ok(())
    })
}

/// Time from SIGTERM to SIGKILL, in milliseconds.
#[no_mangle]
pub extern "C" fn procreap_config_get_grace_ms(cfg: *const procreap_config) -> u64 {
    with_config(cfg, |c| to_ms(c.grace))
}

// -------------------------------------------------------- workspace_marker

/// Relative path marking a workspace root (default "mayor/town.json");
/// "" disables the workspace test. NULL is a null parameter.
#[no_mangle]
pub extern "C" fn procreap_config_set_workspace_marker(
    cfg: *mut procreap_config,
    marker: *const c_char,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.workspace_marker = req_str(marker, "marker")?;
        Ok(())
    })
}

/// The workspace marker. `*out` receives a string to free with
/// `procreap_string_free`.
#[no_mangle]
pub extern "C" fn procreap_config_get_workspace_marker(
    cfg: *const procreap_config,
    out: *mut *mut c_char,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_string(cfg, out, err, |c| Some(c.workspace_marker.clone()))
}

// ---------------------------------------------------------- workspace_root

/// Only consider processes under this absolute workspace root; NULL unsets.
#[no_mangle]
pub extern "C" fn procreap_config_set_workspace_root(
    cfg: *mut procreap_config,
    root: *const c_char,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.workspace_root = opt_str(root, "root")?.map(PathBuf::from);
        Ok(())
    })
}

/// The workspace root; `*out` is NULL when unset, else a string to free with
/// `procreap_string_free`.
#[no_mangle]
pub extern "C" fn procreap_config_get_workspace_root(
    cfg: *const procreap_config,
    out: *mut *mut c_char,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_string(cfg, out, err, |c| {
        c.workspace_root.as_deref().map(path_string)
    })
}

// ------------------------------------------------------------- ide_markers

/// argv substrings marking IDE-launched agents, replacing the list.
#[no_mangle]
pub extern "C" fn procreap_config_set_ide_markers(
    cfg: *mut procreap_config,
    markers: *const *const c_char,
    len: usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.ide_markers = str_array(markers, len, "markers")?;
        Ok(())
    })
}

/// The IDE markers (a list to free with `procreap_string_list_free`).
#[no_mangle]
pub extern "C" fn procreap_config_get_ide_markers(
    cfg: *const procreap_config,
    out: *mut *mut procreap_string_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_strings(cfg, out, err, |c| c.ide_markers.clone())
}

// ----------------------------------------------------- protected_pid_files

/// Files holding protected root pids (`~/` expands), replacing the list.
#[no_mangle]
pub extern "C" fn procreap_config_set_protected_pid_files(
    cfg: *mut procreap_config,
    paths: *const *const c_char,
    len: usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.protected_pid_files = str_array(paths, len, "paths")?
            .into_iter()
            .map(PathBuf::from)
            .collect();
        Ok(())
    })
}

/// The protected pid files (a list to free with `procreap_string_list_free`).
#[no_mangle]
pub extern "C" fn procreap_config_get_protected_pid_files(
    cfg: *const procreap_config,
    out: *mut *mut procreap_string_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_strings(cfg, out, err, |c| {
        c.protected_pid_files
            .iter()
            .map(|p| path_string(p))
            .collect()
    })
}

// ---------------------------------------------------------- protected_pids

/// Protected root pids, replacing the list.
#[no_mangle]
pub extern "C" fn procreap_config_set_protected_pids(
    cfg: *mut procreap_config,
    pids: *const i32,
    len: usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.protected_pids = array(pids, len, "pids")?.to_vec();
        Ok(())
    })
}

/// Copies up to `cap` protected pids into `buf` (NULL when `cap` is 0) and
/// sets `*len` to how many there are: call with `cap` 0 to learn the count.
#[no_mangle]
pub extern "C" fn procreap_config_get_protected_pids(
    cfg: *const procreap_config,
    buf: *mut i32,
    cap: usize,
    len: *mut usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_values(cfg, buf, cap, len, err, |c| c.protected_pids.clone())
}

// ------------------------------------------------------------ tmux_sockets

/// Extra tmux sockets to query (names for -L, paths with '/' for -S),
/// replacing the list.
#[no_mangle]
pub extern "C" fn procreap_config_set_tmux_sockets(
    cfg: *mut procreap_config,
    sockets: *const *const c_char,
    len: usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.tmux_sockets = str_array(sockets, len, "sockets")?;
        Ok(())
    })
}

/// The extra tmux sockets (a list to free with `procreap_string_list_free`).
#[no_mangle]
pub extern "C" fn procreap_config_get_tmux_sockets(
    cfg: *const procreap_config,
    out: *mut *mut procreap_string_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_strings(cfg, out, err, |c| c.tmux_sockets.clone())
}

// --------------------------------------------------------------- all_users

/// Consider other users' processes too (default false).
#[no_mangle]
pub extern "C" fn procreap_config_set_all_users(
    cfg: *mut procreap_config,
    on: bool,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.all_users = on;
        Ok(())
    })
}

/// Whether other users' processes are considered.
#[no_mangle]
pub extern "C" fn procreap_config_get_all_users(cfg: *const procreap_config) -> bool {
    with_config(cfg, |c| c.all_users)
}

// ------------------------------------------------------------------- users

/// Consider exactly these users' processes (your own only if listed), as
/// all_users would for them alone; an empty list (the default) restores the
/// all_users rule. Replaces the list.
#[no_mangle]
pub extern "C" fn procreap_config_set_users(
    cfg: *mut procreap_config,
    uids: *const u32,
    len: usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.users = array(uids, len, "uids")?.to_vec();
        Ok(())
    })
}

/// Copies up to `cap` uids of the users list into `buf` and sets `*len` to
/// how many there are (as for `procreap_config_get_protected_pids`).
#[no_mangle]
pub extern "C" fn procreap_config_get_users(
    cfg: *const procreap_config,
    buf: *mut u32,
    cap: usize,
    len: *mut usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_values(cfg, buf, cap, len, err, |c| c.users.clone())
}

// --------------------------------------------------------------- kill_tree

/// Signal an agent's descendants with it (default false).
#[no_mangle]
pub extern "C" fn procreap_config_set_kill_tree(
    cfg: *mut procreap_config,
    on: bool,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.kill_tree = on;
        Ok(())
    })
}

/// Whether an agent's descendants are signalled with it.
#[no_mangle]
pub extern "C" fn procreap_config_get_kill_tree(cfg: *const procreap_config) -> bool {
    with_config(cfg, |c| c.kill_tree)
}

// --------------------------------------------------------------- state_dir

/// The ledger's directory; NULL restores the default
/// (`$XDG_RUNTIME_DIR/procreap`, else `/run/user/<uid>/procreap`, else
/// `~/.local/state/procreap`: each only when it is the caller's).
#[no_mangle]
pub extern "C" fn procreap_config_set_state_dir(
    cfg: *mut procreap_config,
    dir: *const c_char,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.state_dir = opt_str(dir, "dir")?.map(PathBuf::from);
        Ok(())
    })
}

/// The state directory as set; `*out` is NULL for the default, else a
/// string to free with `procreap_string_free`.
#[no_mangle]
pub extern "C" fn procreap_config_get_state_dir(
    cfg: *const procreap_config,
    out: *mut *mut c_char,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_string(cfg, out, err, |c| c.state_dir.as_deref().map(path_string))
}

/// The state directory a call would use (the default resolved for this
/// process when unset). `*out` receives a string to free with
/// `procreap_string_free`.
#[no_mangle]
pub extern "C" fn procreap_config_resolved_state_dir(
    cfg: *const procreap_config,
    out: *mut *mut c_char,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_string(cfg, out, err, |c| {
        Some(path_string(&c.resolved_state_dir()))
    })
}

// ----------------------------------------------------------------- dry_run

/// Decide and report, but send no signal and write nothing (default false).
#[no_mangle]
pub extern "C" fn procreap_config_set_dry_run(
    cfg: *mut procreap_config,
    on: bool,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.dry_run = on;
        Ok(())
    })
}

/// Whether calls only decide and report.
#[no_mangle]
pub extern "C" fn procreap_config_get_dry_run(cfg: *const procreap_config) -> bool {
    with_config(cfg, |c| c.dry_run)
}

// ------------------------------------------------------ subprocess_timeout

/// Limit for any external command (tmux, ps, lsof) and any read of another
/// process's memory, in milliseconds (default 2000; not 0).
#[no_mangle]
pub extern "C" fn procreap_config_set_subprocess_timeout_ms(
    cfg: *mut procreap_config,
    millis: u64,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.subprocess_timeout = ms(millis);
        Ok(())
    })
}

/// The subprocess and memory-read limit, in milliseconds.
#[no_mangle]
pub extern "C" fn procreap_config_get_subprocess_timeout_ms(cfg: *const procreap_config) -> u64 {
    with_config(cfg, |c| to_ms(c.subprocess_timeout))
}

// ------------------------------------------------------------ lock_timeout

/// Limit for taking the ledger lock, in milliseconds (default 5000).
#[no_mangle]
pub extern "C" fn procreap_config_set_lock_timeout_ms(
    cfg: *mut procreap_config,
    millis: u64,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.lock_timeout = ms(millis);
        Ok(())
    })
}

/// The ledger lock limit, in milliseconds.
#[no_mangle]
pub extern "C" fn procreap_config_get_lock_timeout_ms(cfg: *const procreap_config) -> u64 {
    with_config(cfg, |c| to_ms(c.lock_timeout))
}

// ----------------------------------------------------------------- backend

/// The process-table backend, a `procreap_backend` value.
#[no_mangle]
pub extern "C" fn procreap_config_set_backend(
    cfg: *mut procreap_config,
    backend: u32,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.backend = *Backend::ALL
            .get(backend as usize)
            .ok_or_else(|| Failure::invalid(format!("unknown backend {backend}")))?;
        Ok(())
    })
}

/// The `procreap_backend` value.
#[no_mangle]
pub extern "C" fn procreap_config_get_backend(cfg: *const procreap_config) -> u32 {
    with_config(cfg, |c| c.backend as u32)
}

// ----------------------------------------------------------- require_pidfd

/// Send signals only through a pidfd; where pidfd_open is refused, skip the
/// signal (with the reason) instead of falling back to kill(2) (default false).
#[no_mangle]
pub extern "C" fn procreap_config_set_require_pidfd(
    cfg: *mut procreap_config,
    on: bool,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.require_pidfd = on;
        Ok(())
    })
}

/// Whether signals go only through pidfds.
#[no_mangle]
pub extern "C" fn procreap_config_get_require_pidfd(cfg: *const procreap_config) -> bool {
    with_config(cfg, |c| c.require_pidfd)
}

// ------------------------------------------------------------------- audit

/// Append a JSON line per signal sent or skipped to
/// `<state_dir>/audit.jsonl` (default true).
#[no_mangle]
pub extern "C" fn procreap_config_set_audit(
    cfg: *mut procreap_config,
    on: bool,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.audit = on;
        Ok(())
    })
}

/// Whether the audit trail is written.
#[no_mangle]
pub extern "C" fn procreap_config_get_audit(cfg: *const procreap_config) -> bool {
    with_config(cfg, |c| c.audit)
}

// --------------------------------------------------------- audit_max_bytes

/// Size at which audit.jsonl is rotated to audit.jsonl.1 (default 4 MiB; at
/// least 4096).
#[no_mangle]
pub extern "C" fn procreap_config_set_audit_max_bytes(
    cfg: *mut procreap_config,
    bytes: u64,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.audit_max_bytes = bytes;
        Ok(())
    })
}

/// The audit trail's rotation size in bytes.
#[no_mangle]
pub extern "C" fn procreap_config_get_audit_max_bytes(cfg: *const procreap_config) -> u64 {
    with_config(cfg, |c| c.audit_max_bytes)
}

// ------------------------------------------------------------ leak_markers

/// Environment entries marking a process an agent started (`NAME=VALUE`,
/// or `NAME` for any value), replacing the list (default `CLAUDECODE=1`).
/// An empty list finds no leaked descendants.
#[no_mangle]
pub extern "C" fn procreap_config_set_leak_markers(
    cfg: *mut procreap_config,
    markers: *const *const c_char,
    len: usize,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.leak_markers = str_array(markers, len, "markers")?;
        Ok(())
    })
}

/// The leak markers (a list to free with `procreap_string_list_free`).
#[no_mangle]
pub extern "C" fn procreap_config_get_leak_markers(
    cfg: *const procreap_config,
    out: *mut *mut procreap_string_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    get_strings(cfg, out, err, |c| c.leak_markers.clone())
}
