//! `procreap_config`: an opaque builder with Gas Town's defaults and a setter
//! per knob. A setter that would make the configuration invalid fails with
//! `PROCREAP_STATUS_INVALID_ARGUMENT` and leaves it unchanged.

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Backend, Config};
use crate::ffi::{
    array, ffi_guard, opt_str, procreap_error, procreap_status, req_str, str_array, Failure,
};

/// Configuration (opaque). NULL where a `const procreap_config *` is taken
/// means the defaults.
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

/// A new configuration with the defaults (SPEC §2). Free it with
/// `procreap_config_free`. Returns NULL only if a panic was caught.
#[no_mangle]
pub extern "C" fn procreap_config_new() -> *mut procreap_config {
    std::panic::catch_unwind(|| {
        Box::into_raw(Box::new(procreap_config {
            inner: Config::default(),
        }))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Frees a configuration. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_config_free(cfg: *mut procreap_config) {
    if !cfg.is_null() {
        // SAFETY: made by procreap_config_new.
        drop(unsafe { Box::from_raw(cfg) });
    }
}

/// The configuration behind a `const procreap_config *` (defaults for NULL).
pub(crate) fn config_or_default(cfg: *const procreap_config) -> Config {
    // SAFETY: NULL or a pointer from procreap_config_new.
    unsafe { cfg.as_ref() }
        .map(|c| c.inner.clone())
        .unwrap_or_default()
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

/// Whether `argv[0]`'s basename also counts as the name (default true).
#[no_mangle]
pub extern "C" fn procreap_config_set_match_argv0(
    cfg: *mut procreap_config,
    on: bool,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.match_argv0 = on;
        Ok(())
    })
}

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

/// The ledger's directory; NULL restores the default
/// (`$XDG_RUNTIME_DIR/procreap`, else `/tmp/procreap-<uid>`).
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

/// Decide and report, but send no signal and write no ledger (default false).
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

/// Limit for any external command, in milliseconds (default 2000; not 0).
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

/// The process-table backend, a `procreap_backend` value.
#[no_mangle]
pub extern "C" fn procreap_config_set_backend(
    cfg: *mut procreap_config,
    backend: u32,
    err: *mut *mut procreap_error,
) -> procreap_status {
    update(cfg, err, |c| {
        c.backend = match backend {
            0 => Backend::Auto,
            1 => Backend::Proc,
            2 => Backend::Ps,
            b => return Err(Failure::invalid(format!("unknown backend {b}"))),
        };
        Ok(())
    })
}
