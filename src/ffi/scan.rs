//! `procreap_scan`: one snapshot of the process table, asked several
//! questions. Read-only: a scan never decides a signal (cleanup calls
//! re-read every process before they signal it).

use std::sync::Mutex;

use crate::classify::Kind;
use crate::ffi::config::{config_or_default, procreap_config};
use crate::ffi::{
    check_out, ffi_guard, procreap_error, procreap_process_list, procreap_status,
    procreap_verdict_list, write_out, Failure,
};
use crate::scan::Scan;

/// A scan (opaque): the process table read once, with the verdicts computed
/// on demand and kept. A scan may be used from several threads at once.
pub struct procreap_scan {
    inner: Mutex<Scan>,
}

/// Reads the process table once under `config` (NULL = defaults): asks the
/// configured tmux sockets, reads the protected pid files. On success `*out`
/// receives a scan to free with `procreap_scan_free`.
#[no_mangle]
pub extern "C" fn procreap_scan_new(
    config: *const procreap_config,
    out: *mut *mut procreap_scan,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let scan = Scan::new(&config_or_default(config))?;
        write_out(
            out,
            procreap_scan {
                inner: Mutex::new(scan),
            },
        );
        Ok(())
    })
}

/// Frees a scan. Accepts NULL; do not free twice.
#[no_mangle]
pub extern "C" fn procreap_scan_free(scan: *mut procreap_scan) {
    if !scan.is_null() {
        // SAFETY: made by procreap_scan_new.
        drop(unsafe { Box::from_raw(scan) });
    }
}

fn with_scan<T>(
    scan: *const procreap_scan,
    f: impl FnOnce(&Scan) -> crate::Result<T>,
) -> Result<T, Failure> {
    // SAFETY: NULL or a pointer from procreap_scan_new.
    let s = unsafe { scan.as_ref() }.ok_or_else(|| Failure::null("scan"))?;
    // A panic while the lock was held left no half-written state behind
    // (verdicts are computed whole, then kept), so a poisoned lock is usable.
    let guard = s.inner.lock().unwrap_or_else(|p| p.into_inner());
    Ok(f(&guard)?)
}

fn candidates(
    scan: *const procreap_scan,
    kind: Kind,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let found = with_scan(scan, |s| s.candidates(kind))?;
        write_out(out, procreap_process_list::new(&found));
        Ok(())
    })
}

/// The scan's orphans (as `procreap_find_orphans`). Free the list with
/// `procreap_process_list_free`.
#[no_mangle]
pub extern "C" fn procreap_scan_orphans(
    scan: *const procreap_scan,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    candidates(scan, Kind::Orphans, out, err)
}

/// The scan's zombies (as `procreap_find_zombies`, including
/// `PROCREAP_STATUS_TMUX_UNAVAILABLE`).
#[no_mangle]
pub extern "C" fn procreap_scan_zombies(
    scan: *const procreap_scan,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    candidates(scan, Kind::Zombies, out, err)
}

/// The scan's leaked descendants (as `procreap_find_leaked`).
#[no_mangle]
pub extern "C" fn procreap_scan_leaked(
    scan: *const procreap_scan,
    out: *mut *mut procreap_process_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    candidates(scan, Kind::Leaked, out, err)
}

/// Every agent and marker process of the scan with its verdict (as
/// `procreap_explain`). Free with `procreap_verdict_list_free`.
#[no_mangle]
pub extern "C" fn procreap_scan_explain(
    scan: *const procreap_scan,
    out: *mut *mut procreap_verdict_list,
    err: *mut *mut procreap_error,
) -> procreap_status {
    ffi_guard!(err, {
        check_out(out, "out")?;
        let verdicts = with_scan(scan, |s| s.explain())?;
        write_out(out, procreap_verdict_list::new(&verdicts));
        Ok(())
    })
}
