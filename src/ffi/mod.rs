//! The C ABI: thin `extern "C"` functions over the core, every symbol
//! prefixed `procreap_`. No logic lives here: arguments are checked and
//! converted, the core is called, results are copied into owned C structs.
//!
//! Conventions (see `include/procreap.h`):
//! - fallible functions return a `procreap_status`; detail comes through an
//!   optional `procreap_error **err` out-parameter, written only on failure;
//! - results are written to out-parameters only on success — except that the
//!   three functions that send signals also write their action list when the
//!   step ran but reports an error after acting (a failed signal, an untrusted
//!   ledger, a ledger that could not be saved), so no action is lost;
//! - every `_free` function accepts NULL; freeing twice is forbidden;
//! - no panic crosses the boundary: it becomes `PROCREAP_STATUS_PANIC`.
//!   Every function that returns a status runs behind `ffi_guard!`; the
//!   ones that return nothing or a static string (the `_free` functions, the
//!   error getters, `procreap_status_str`, `procreap_version`) only free or
//!   read and cannot panic — were one to, an `extern "C"` function aborts
//!   (Rust ≥ 1.81) rather than unwind into C.
#![allow(non_camel_case_types)]
// Raw pointers from C are the C caller's contract, documented per function in
// the header; marking every extern fn `unsafe` would not change that.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod api;
mod config;
mod error;
mod names;
mod scan;
mod types;

pub use api::*;
pub use config::*;
pub use error::*;
pub use names::*;
pub use scan::*;
pub use types::*;

use std::ffi::{c_char, CStr, CString};

/// Runs `body` behind the panic boundary and turns its `Err` into a status
/// plus an optional error object.
macro_rules! ffi_guard {
    ($err:expr, $body:block) => {{
        let err: *mut *mut $crate::ffi::procreap_error = $err;
        let run = std::panic::AssertUnwindSafe(|| -> Result<(), $crate::ffi::Failure> { $body });
        match std::panic::catch_unwind(run) {
            Ok(Ok(())) => $crate::ffi::procreap_status::Ok,
            Ok(Err(f)) => $crate::ffi::report(err, f),
            Err(panic) => $crate::ffi::report(err, $crate::ffi::Failure::from_panic(panic)),
        }
    }};
}
pub(crate) use ffi_guard;

/// Reads an optional C string argument. NULL → `None`; invalid UTF-8 is an
/// invalid argument naming `what`.
pub(crate) fn opt_str(p: *const c_char, what: &str) -> Result<Option<String>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller promises a NUL-terminated string (documented).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(|s| Some(s.to_string()))
        .map_err(|_| Failure::invalid(format!("{what} is not valid UTF-8")))
}

/// Reads a required C string argument.
pub(crate) fn req_str(p: *const c_char, what: &str) -> Result<String, Failure> {
    opt_str(p, what)?.ok_or_else(|| Failure::null(what))
}

/// Reads an array of C strings.
pub(crate) fn str_array(
    p: *const *const c_char,
    len: usize,
    what: &str,
) -> Result<Vec<String>, Failure> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: the caller promises `len` readable pointers.
    let items = unsafe { std::slice::from_raw_parts(p, len) };
    items
        .iter()
        .enumerate()
        .map(|(i, &s)| req_str(s, &format!("{what}[{i}]")))
        .collect()
}

/// Reads an array of plain values.
pub(crate) fn array<'a, T>(p: *const T, len: usize, what: &str) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: the caller promises `len` readable elements.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// An owned C string (NUL bytes, which no process field can hold, become `?`).
pub(crate) fn c_string(s: &str) -> *mut c_char {
    CString::new(s.replace('\0', "?"))
        .unwrap_or_default()
        .into_raw()
}

/// Frees a string made by [`c_string`]; NULL is fine.
pub(crate) fn free_c_string(p: *mut c_char) {
    if !p.is_null() {
        // SAFETY: made by CString::into_raw in this library.
        drop(unsafe { CString::from_raw(p) });
    }
}

/// Writes `value` through a checked out-pointer.
pub(crate) fn write_out<T>(out: *mut *mut T, value: T) {
    // SAFETY: checked non-NULL by the caller of this helper.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

pub(crate) fn check_out<T>(out: *mut *mut T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        Err(Failure::null(what))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_status_and_the_process_lives_on() {
        let mut err: *mut procreap_error = std::ptr::null_mut();
        let st = ffi_guard!(&mut err, {
            if std::hint::black_box(true) {
                panic!("boom in the core");
            }
            Ok(())
        });
        assert_eq!(st, procreap_status::Panic);
        assert!(!err.is_null());
        assert_eq!(procreap_error_code(err), procreap_status::Panic as u32);
        // SAFETY: the message is a valid C string owned by err.
        let msg = unsafe { CStr::from_ptr(procreap_error_message(err)) };
        assert!(
            msg.to_str().unwrap().contains("boom in the core"),
            "{msg:?}"
        );
        procreap_error_free(err);
        // The process is alive and the boundary still works.
        let st = ffi_guard!(std::ptr::null_mut(), { Ok(()) });
        assert_eq!(st, procreap_status::Ok);
    }
}
