//! Where there is no `/proc` (macOS, the BSDs, Windows) the `/proc` backend
//! does not exist: `Source::for_config` refuses it, and these stand-ins are
//! never reached with a snapshot of their own.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::snapshot::Proc;

pub(crate) fn list() -> Result<Vec<Proc>> {
    Err(Error::Unsupported("the /proc backend needs Linux".into()))
}

pub(crate) fn read(_pid: i32) -> Option<Proc> {
    None
}

pub(crate) fn argv(_pid: i32) -> Option<Vec<String>> {
    None
}

pub(crate) fn argv0(_pid: i32, _args: (u64, u64)) -> Option<String> {
    None
}

pub(crate) fn cwd(_pid: i32) -> Option<PathBuf> {
    None
}

pub(crate) fn uid(_pid: i32) -> Option<u32> {
    None
}

pub(crate) fn tracer(_pid: i32) -> Option<i32> {
    None
}

pub(crate) fn boot_id() -> Option<String> {
    None
}
