//! Where there is no `/proc` (macOS, the BSDs, Windows) the `/proc` backend
//! does not exist: `Source::for_config` refuses it, and these stand-ins are
//! never reached with a snapshot of their own.

use crate::process::Stat;

pub(crate) fn read(_pid: i32) -> Option<(Stat, Option<u32>)> {
    None
}

pub(crate) fn tracer(_pid: i32) -> Option<i32> {
    None
}

pub(crate) fn boot_id() -> Option<String> {
    None
}
