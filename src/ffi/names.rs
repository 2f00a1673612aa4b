//! The fixed names of every enum value, so bindings copy no name table:
//! each `_str` function returns a static string (do not free it), or NULL
//! for a value that is not in the enum (so a binding can list the values by
//! counting up from 0 until NULL).

use std::ffi::c_char;

use crate::classify::{Kind, VerdictKind};
use crate::cleanup::{ActionKind, Delivery};
use crate::config::{Argv0Match, Backend};
use crate::ffi::types::procreap_verdict_kind;

/// A NUL-terminated copy of each name, made once.
fn c_name(names: &'static [std::ffi::CString], v: u32) -> *const c_char {
    names
        .get(v as usize)
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

macro_rules! name_table {
    ($all:expr) => {{
        static NAMES: once_cell::sync::Lazy<Vec<std::ffi::CString>> =
            once_cell::sync::Lazy::new(|| {
                $all.iter()
                    .map(|v| std::ffi::CString::new(v.as_str()).expect("names hold no NUL"))
                    .collect()
            });
        &NAMES
    }};
}

/// The name of a `procreap_kind` ("orphans", "zombies", "leaked").
#[no_mangle]
pub extern "C" fn procreap_kind_str(kind: u32) -> *const c_char {
    c_name(name_table!(Kind::ALL), kind)
}

/// The name of a `procreap_verdict_kind` ("defunct", "other-user",
/// "protected", "has-tty", "ide-launched", "too-young", "outside-workspace",
/// "orphan", "leaked", "leader-alive", "agent-alive").
#[no_mangle]
pub extern "C" fn procreap_verdict_kind_str(verdict: u32) -> *const c_char {
    let by_number: &'static [std::ffi::CString] = name_table!(VERDICTS_BY_NUMBER);
    c_name(by_number, verdict)
}

/// The verdicts in the order of their C numbers (the rule order, with the
/// verdicts added later at the end).
const VERDICTS_BY_NUMBER: [VerdictKind; 11] = {
    let mut out = [VerdictKind::Orphan; 11];
    let mut i = 0;
    while i < VerdictKind::ALL.len() {
        let v = VerdictKind::ALL[i];
        out[procreap_verdict_kind::of(v) as usize] = v;
        i += 1;
    }
    out
};

/// The name of a `procreap_action_kind` ("sigterm", "waiting", "sigkill",
/// "unkillable", "exited", "released", "skipped").
#[no_mangle]
pub extern "C" fn procreap_action_kind_str(action: u32) -> *const c_char {
    c_name(name_table!(ActionKind::ALL), action)
}

/// The name of a `procreap_delivery` ("none", "pidfd", "kill").
#[no_mangle]
pub extern "C" fn procreap_delivery_str(delivery: u32) -> *const c_char {
    c_name(name_table!(Delivery::ALL), delivery)
}

/// The name of a `procreap_backend` ("auto", "proc", "ps").
#[no_mangle]
pub extern "C" fn procreap_backend_str(backend: u32) -> *const c_char {
    c_name(name_table!(Backend::ALL), backend)
}

/// The name of a `procreap_argv0_match` ("never", "version-like", "always").
#[no_mangle]
pub extern "C" fn procreap_argv0_match_str(mode: u32) -> *const c_char {
    c_name(name_table!(Argv0Match::ALL), mode)
}
