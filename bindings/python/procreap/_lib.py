"""Loading libprocreap and declaring every C function of include/procreap.h.

Every function gets ``argtypes`` and ``restype`` (nothing relies on ctypes'
``int`` default). The table :data:`FUNCTIONS` is the one place they are
declared; a test parses the header and checks both ways that the two agree.

The library is looked up in this order: ``$PROCREAP_LIB`` (for development),
then the copy the build put inside this package; nothing else.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
import threading
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_double,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
)
from pathlib import Path
from typing import Any

__all__ = [
    "FUNCTIONS",
    "LibraryNotFound",
    "bundled_paths",
    "lib",
]


class LibraryNotFound(ImportError):
    """libprocreap could not be found or loaded; the message names every place searched."""


# --- C types -----------------------------------------------------------------


class procreap_config(Structure):
    """Opaque configuration."""


class procreap_error(Structure):
    """Opaque error object."""


class procreap_scan(Structure):
    """Opaque scan."""


class procreap_process(Structure):
    _fields_ = [
        ("pid", c_int32),
        ("ppid", c_int32),
        ("start_time", c_uint64),
        ("name", c_char_p),
        ("age_secs", c_double),
        ("tty", c_char_p),
        ("state", c_char),
        ("workspace_root", c_char_p),
        ("cmdline", c_char_p),
        ("uid", c_uint32),
        ("rss_bytes", c_uint64),
    ]


class procreap_process_list(Structure):
    _fields_ = [("items", POINTER(procreap_process)), ("len", c_size_t)]


class procreap_verdict(Structure):
    _fields_ = [
        ("process", procreap_process),
        ("verdict", c_uint32),
        ("reason", c_char_p),
    ]


class procreap_verdict_list(Structure):
    _fields_ = [("items", POINTER(procreap_verdict)), ("len", c_size_t)]


class procreap_action(Structure):
    _fields_ = [
        ("process", procreap_process),
        ("action", c_uint32),
        ("signal", c_int32),
        ("reason", c_char_p),
        ("error", c_char_p),
        ("delivery", c_uint32),
        ("dry_run", c_bool),
    ]


class procreap_action_list(Structure):
    _fields_ = [
        ("items", POINTER(procreap_action)),
        ("len", c_size_t),
        ("next_due_ms", c_int64),
        ("reclaimed_bytes", c_uint64),
    ]


class procreap_identity(Structure):
    _fields_ = [("pid", c_int32), ("start_time", c_uint64)]


class procreap_string_list(Structure):
    _fields_ = [("items", POINTER(c_char_p)), ("len", c_size_t)]


#: Every C struct with a layout, by its C name (for the header drift test).
STRUCTS: dict[str, type[Structure]] = {
    "procreap_process": procreap_process,
    "procreap_process_list": procreap_process_list,
    "procreap_verdict": procreap_verdict,
    "procreap_verdict_list": procreap_verdict_list,
    "procreap_action": procreap_action,
    "procreap_action_list": procreap_action_list,
    "procreap_identity": procreap_identity,
    "procreap_string_list": procreap_string_list,
}

CONFIG_P = POINTER(procreap_config)
SCAN_P = POINTER(procreap_scan)
ERROR_P = POINTER(procreap_error)
ERROR_PP = POINTER(ERROR_P)
#: An owned C string (``char *``): kept as a pointer so that it can be freed.
OWNED_STR = POINTER(c_char)
status_t = c_uint32
strings_p = POINTER(c_char_p)


def _out(t: Any) -> Any:
    return POINTER(POINTER(t))


def _find(list_type: type[Structure], first: Any = CONFIG_P) -> tuple[Any, list[Any]]:
    return (status_t, [first, _out(list_type), ERROR_PP])


def _setter(*value: Any) -> tuple[Any, list[Any]]:
    return (status_t, [CONFIG_P, *value, ERROR_PP])


def _getter(restype: Any) -> tuple[Any, list[Any]]:
    return (restype, [CONFIG_P])


def _get_out(out: Any) -> tuple[Any, list[Any]]:
    return (status_t, [CONFIG_P, POINTER(out), ERROR_PP])


def _get_values(item: Any) -> tuple[Any, list[Any]]:
    return (status_t, [CONFIG_P, POINTER(item), c_size_t, POINTER(c_size_t), ERROR_PP])


_STRING_LIST_P = POINTER(procreap_string_list)

#: name -> (restype, argtypes), in header order.
FUNCTIONS: dict[str, tuple[Any, list[Any]]] = {
    "procreap_version": (c_char_p, []),
    "procreap_find_orphans": _find(procreap_process_list),
    "procreap_find_zombies": _find(procreap_process_list),
    "procreap_find_leaked": _find(procreap_process_list),
    "procreap_explain": _find(procreap_verdict_list),
    "procreap_cleanup_step": (
        status_t,
        [CONFIG_P, c_uint32, _out(procreap_action_list), ERROR_PP],
    ),
    "procreap_reap_set": (
        status_t,
        [CONFIG_P, POINTER(procreap_identity), c_size_t, _out(procreap_action_list), ERROR_PP],
    ),
    "procreap_reap_now": (
        status_t,
        [
            CONFIG_P,
            POINTER(procreap_identity),
            c_size_t,
            c_uint64,
            _out(procreap_action_list),
            ERROR_PP,
        ],
    ),
    "procreap_config_new": (CONFIG_P, []),
    "procreap_config_clone": (CONFIG_P, [CONFIG_P]),
    "procreap_config_free": (None, [CONFIG_P]),
    "procreap_config_set_agent_names": _setter(strings_p, c_size_t),
    "procreap_config_get_agent_names": _get_out(_STRING_LIST_P),
    "procreap_config_set_argv0_match": _setter(c_uint32),
    "procreap_config_get_argv0_match": _getter(c_uint32),
    "procreap_config_set_min_age_ms": _setter(c_uint64),
    "procreap_config_get_min_age_ms": _getter(c_uint64),
    "procreap_config_set_grace_ms": _setter(c_uint64),
    "procreap_config_get_grace_ms": _getter(c_uint64),
    "procreap_config_set_workspace_marker": _setter(c_char_p),
    "procreap_config_get_workspace_marker": _get_out(OWNED_STR),
    "procreap_config_set_workspace_root": _setter(c_char_p),
    "procreap_config_get_workspace_root": _get_out(OWNED_STR),
    "procreap_config_set_ide_markers": _setter(strings_p, c_size_t),
    "procreap_config_get_ide_markers": _get_out(_STRING_LIST_P),
    "procreap_config_set_protected_pid_files": _setter(strings_p, c_size_t),
    "procreap_config_get_protected_pid_files": _get_out(_STRING_LIST_P),
    "procreap_config_set_protected_pids": _setter(POINTER(c_int32), c_size_t),
    "procreap_config_get_protected_pids": _get_values(c_int32),
    "procreap_config_set_tmux_sockets": _setter(strings_p, c_size_t),
    "procreap_config_get_tmux_sockets": _get_out(_STRING_LIST_P),
    "procreap_config_set_all_users": _setter(c_bool),
    "procreap_config_get_all_users": _getter(c_bool),
    "procreap_config_set_users": _setter(POINTER(c_uint32), c_size_t),
    "procreap_config_get_users": _get_values(c_uint32),
    "procreap_config_set_kill_tree": _setter(c_bool),
    "procreap_config_get_kill_tree": _getter(c_bool),
    "procreap_config_set_state_dir": _setter(c_char_p),
    "procreap_config_get_state_dir": _get_out(OWNED_STR),
    "procreap_config_resolved_state_dir": _get_out(OWNED_STR),
    "procreap_config_set_dry_run": _setter(c_bool),
    "procreap_config_get_dry_run": _getter(c_bool),
    "procreap_config_set_subprocess_timeout_ms": _setter(c_uint64),
    "procreap_config_get_subprocess_timeout_ms": _getter(c_uint64),
    "procreap_config_set_lock_timeout_ms": _setter(c_uint64),
    "procreap_config_get_lock_timeout_ms": _getter(c_uint64),
    "procreap_config_set_backend": _setter(c_uint32),
    "procreap_config_get_backend": _getter(c_uint32),
    "procreap_config_set_require_pidfd": _setter(c_bool),
    "procreap_config_get_require_pidfd": _getter(c_bool),
    "procreap_config_set_audit": _setter(c_bool),
    "procreap_config_get_audit": _getter(c_bool),
    "procreap_config_set_audit_max_bytes": _setter(c_uint64),
    "procreap_config_get_audit_max_bytes": _getter(c_uint64),
    "procreap_config_set_leak_markers": _setter(strings_p, c_size_t),
    "procreap_config_get_leak_markers": _get_out(_STRING_LIST_P),
    "procreap_status_str": (c_char_p, [c_uint32]),
    "procreap_error_code": (c_uint32, [ERROR_P]),
    "procreap_error_message": (c_char_p, [ERROR_P]),
    "procreap_error_free": (None, [ERROR_P]),
    "procreap_kind_str": (c_char_p, [c_uint32]),
    "procreap_verdict_kind_str": (c_char_p, [c_uint32]),
    "procreap_action_kind_str": (c_char_p, [c_uint32]),
    "procreap_delivery_str": (c_char_p, [c_uint32]),
    "procreap_backend_str": (c_char_p, [c_uint32]),
    "procreap_argv0_match_str": (c_char_p, [c_uint32]),
    "procreap_scan_new": (status_t, [CONFIG_P, POINTER(SCAN_P), ERROR_PP]),
    "procreap_scan_free": (None, [SCAN_P]),
    "procreap_scan_orphans": _find(procreap_process_list, SCAN_P),
    "procreap_scan_zombies": _find(procreap_process_list, SCAN_P),
    "procreap_scan_leaked": _find(procreap_process_list, SCAN_P),
    "procreap_scan_explain": _find(procreap_verdict_list, SCAN_P),
    "procreap_string_list_free": (None, [_STRING_LIST_P]),
    "procreap_string_free": (None, [OWNED_STR]),
    "procreap_process_list_free": (None, [POINTER(procreap_process_list)]),
    "procreap_verdict_list_free": (None, [POINTER(procreap_verdict_list)]),
    "procreap_action_list_free": (None, [POINTER(procreap_action_list)]),
}


# --- finding the library -----------------------------------------------------

#: The module name the build gives the library inside this package
#: (``procreap.libprocreap``, see setup.py).
BUNDLED_NAME = "libprocreap"


def bundled_paths() -> list[Path]:
    """Where the build backend may have put the library inside this package:
    ``libprocreap`` with each suffix this Python gives native modules
    (``.abi3.so`` for the wheels built here)."""
    here = Path(__file__).resolve().parent
    return [here / (BUNDLED_NAME + s) for s in importlib.machinery.EXTENSION_SUFFIXES]


def _load() -> ctypes.CDLL:
    override = os.environ.get("PROCREAP_LIB")
    if override:
        try:
            return ctypes.CDLL(override)
        except OSError as e:
            raise LibraryNotFound(f"PROCREAP_LIB={override!r} could not be loaded: {e}") from e
    searched = bundled_paths()
    for path in searched:
        if path.is_file():
            try:
                return ctypes.CDLL(str(path))
            except OSError as e:
                raise LibraryNotFound(f"{path} exists but could not be loaded: {e}") from e
    places = "\n  ".join(["$PROCREAP_LIB (unset)", *map(str, searched)])
    raise LibraryNotFound(
        f"libprocreap not found; searched:\n  {places}\n"
        "Install the package with its library (`pip install ./bindings/python` from a "
        "procreap checkout, or a procreap wheel), or set PROCREAP_LIB to a built "
        "libprocreap (`cargo build --release --lib` makes target/release/libprocreap.so)."
    )


def _declare(cdll: ctypes.CDLL) -> ctypes.CDLL:
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError as e:
            raise LibraryNotFound(
                f"{cdll._name} lacks {name}: it is not a matching libprocreap"
            ) from e
        fn.restype = restype
        fn.argtypes = argtypes
    return cdll


_lock = threading.Lock()
_cdll: ctypes.CDLL | None = None


def lib() -> ctypes.CDLL:
    """The loaded library with every function declared; loaded once per
    process (``import procreap`` loads it: the enums are read from it)."""
    global _cdll
    if _cdll is None:
        with _lock:
            if _cdll is None:
                _cdll = _declare(_load())
    return _cdll
