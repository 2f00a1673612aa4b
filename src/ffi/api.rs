//! The core functions: version, find, explain, cleanup step, reap set, reap now.

use std::ffi::c_char;
use std::time::Duration;

use crate::classify::Kind;
use crate::cleanup::Report;
use crate::ffi::config::{config_or_default, procreap_config};
use crate::ffi::{
    array, check_out, ffi_guard, procreap_action_list, procreap_error, procreap_identity,
    procreap_process_list, procreap_status, procreap_verdict_list, write_out, Failure,
};
use crate::process::Identity;
use crate::scan::Scan;

/// The library version ("MAJOR.MINOR.PATCH"), a static string.
#[no_mangle]
pub extern "C" fn procreap_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The scans differ by their kind only.
fn find(
    config: *const procreap_config,
    kind: Kind,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let found = Scan::new(&config_or_default(config))?.candidates(kind)?;
        write_out(out, procreap_process_list::new(&found));
        Ok(())
    })
}

/// Agent processes that are orphans. `config` may be NULL (defaults). On
/// success `*out` receives a list to free with `procreap_process_list_free`.
#[no_mangle]
pub extern "C" fn procreap_find_orphans(
    config: *const procreap_config,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    find(config, Kind::Orphans, out, err)
}

/// Agent processes that are zombies: like orphans, but fails with
/// `PROCREAP_STATUS_TMUX_UNAVAILABLE` when nothing is protected and no tmux
/// server runs, and finds nothing when tmux runs without panes.
#[no_mangle]
pub extern "C" fn procreap_find_zombies(
    config: *const procreap_config,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    find(config, Kind::Zombies, out, err)
}

/// Leaked descendants: processes (not agents) whose environment carries a
/// leak marker and whose agent is gone. Free with
/// `procreap_process_list_free`.
#[no_mangle]
pub extern "C" fn procreap_find_leaked(
    config: *const procreap_config,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    find(config, Kind::Leaked, out, err)
}

/// Every agent process and every marker process with its verdict and a
/// human reason. Free with `procreap_verdict_list_free`.
#[no_mangle]
pub extern "C" fn procreap_explain(
    config: *const procreap_config,
    out: *mut *mut procreap_verdict_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let verdicts = crate::explain(&config_or_default(config))?;
        write_out(out, procreap_verdict_list::new(&verdicts));
        Ok(())
    })
}

/// Hands a report to C: the list always (signals may have been sent), then
/// the report's error, if any.
fn deliver(out: *mut *mut procreap_action_list, report: Report) -> Result<(), Failure> {
    write_out(out, procreap_action_list::new(&report));
    match report.error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// A `procreap_kind` value from C.
pub(crate) fn kind_of(kind: u32) -> Result<Kind, Failure> {
    Kind::ALL
        .get(kind as usize)
        .copied()
        .ok_or_else(|| Failure::invalid(format!("unknown kind {kind}")))
}

fn identities(ids: *const procreap_identity, len: usize) -> Result<Vec<Identity>, Failure> {
    Ok(array(ids, len, "ids")?.iter().map(Identity::from).collect())
}

/// One cleanup step (SPEC §3) of `kind` (a `procreap_kind` value).
/// The list also says when the next step has something to do
/// (`next_due_ms`) and how much memory exited processes held
/// (`reclaimed_bytes`).
///
/// `*out` is written on success, and also whenever the step ran but reports
/// an error after acting — `PROCREAP_STATUS_SIGNAL_FAILED`,
/// `PROCREAP_STATUS_LEDGER_CORRUPT`, or `PROCREAP_STATUS_IO` /
/// `PROCREAP_STATUS_PERMISSION` when the ledger could not be saved — so no
/// action is lost. Initialise it to NULL, test it rather than the status, and
/// always pass it to `procreap_action_list_free`.
#[no_mangle]
pub extern "C" fn procreap_cleanup_step(
    config: *const procreap_config,
    kind: u32,
    out: *mut *mut procreap_action_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let kind = kind_of(kind)?;
        deliver(out, crate::cleanup_step(&config_or_default(config), kind)?)
    })
}

/// Cleans up exactly the `len` identities in `ids` (each must still be a
/// candidate), nothing else; repeated calls escalate like steps. `*out` as
/// for `procreap_cleanup_step`.
#[no_mangle]
pub extern "C" fn procreap_reap_set(
    config: *const procreap_config,
    ids: *const procreap_identity,
    len: usize,
    out: *mut *mut procreap_action_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let ids = identities(ids, len)?;
        deliver(out, crate::reap_set(&config_or_default(config), &ids)?)
    })
}

/// SIGTERM each identity (each must still be a candidate), wait up to
/// `deadline_ms` for exit, then SIGKILL the survivors; blocks until done,
/// holding the ledger lock (a step meanwhile waits up to its lock timeout).
/// The ledger records what is left for steps to go on from. `*out` as for
/// `procreap_cleanup_step`.
#[no_mangle]
pub extern "C" fn procreap_reap_now(
    config: *const procreap_config,
    ids: *const procreap_identity,
    len: usize,
    deadline_ms: u64,
    out: *mut *mut procreap_action_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let ids = identities(ids, len)?;
        let report = crate::reap_now(
            &config_or_default(config),
            &ids,
            Duration::from_millis(deadline_ms),
        )?;
        deliver(out, report)
    })
}
