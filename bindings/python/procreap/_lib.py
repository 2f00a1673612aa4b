"""Loading libprocreap and declaring every C function of include/procreap.h.

Every function gets ``argtypes`` and ``restype`` (nothing relies on ctypes'
``int`` default). The table :data:`FUNCTIONS` is the one place they are
declared; a test parses the header and checks both ways that the two agree.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_double,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
)
from pathlib import Path
from typing import Any

__all__ = [
    "FUNCTIONS",
    "LibraryNotFound",
    "candidate_paths",
    "lib",
    "library_name",
]


class LibraryNotFound(ImportError):
    """libprocreap could not be found or loaded; the message names every place searched."""


# --- C types -----------------------------------------------------------------


class procreap_config(Structure):
    """Opaque configuration."""


class procreap_error(Structure):
    """Opaque error object."""


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
    ]


class procreap_action_list(Structure):
    _fields_ = [("items", POINTER(procreap_action)), ("len", c_size_t)]


class procreap_identity(Structure):
    _fields_ = [("pid", c_int32), ("start_time", c_uint64)]


#: Every C struct with a layout, by its C name (for the header drift test).
STRUCTS: dict[str, type[Structure]] = {
    "procreap_process": procreap_process,
    "procreap_process_list": procreap_process_list,
    "procreap_verdict": procreap_verdict,
    "procreap_verdict_list": procreap_verdict_list,
    "procreap_action": procreap_action,
    "procreap_action_list": procreap_action_list,
    "procreap_identity": procreap_identity,
}

CONFIG_P = POINTER(procreap_config)
ERROR_P = POINTER(procreap_error)
ERROR_PP = POINTER(ERROR_P)
status_t = c_uint32
strings_p = POINTER(c_char_p)


def _out(t: type[Structure]) -> Any:
    return POINTER(POINTER(t))


def _setter(*value: Any) -> tuple[Any, list[Any]]:
    return (status_t, [CONFIG_P, *value, ERROR_PP])


#: name -> (restype, argtypes), in header order.
FUNCTIONS: dict[str, tuple[Any, list[Any]]] = {
    "procreap_version": (c_char_p, []),
    "procreap_find_orphans": (status_t, [CONFIG_P, _out(procreap_process_list), ERROR_PP]),
    "procreap_find_zombies": (status_t, [CONFIG_P, _out(procreap_process_list), ERROR_PP]),
    "procreap_explain": (status_t, [CONFIG_P, _out(procreap_verdict_list), ERROR_PP]),
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
    "procreap_config_free": (None, [CONFIG_P]),
    "procreap_config_set_agent_names": _setter(strings_p, c_size_t),
    "procreap_config_set_match_argv0": _setter(c_bool),
    "procreap_config_set_min_age_ms": _setter(c_uint64),
    "procreap_config_set_grace_ms": _setter(c_uint64),
    "procreap_config_set_workspace_marker": _setter(c_char_p),
    "procreap_config_set_workspace_root": _setter(c_char_p),
    "procreap_config_set_ide_markers": _setter(strings_p, c_size_t),
    "procreap_config_set_protected_pid_files": _setter(strings_p, c_size_t),
    "procreap_config_set_protected_pids": _setter(POINTER(c_int32), c_size_t),
    "procreap_config_set_tmux_sockets": _setter(strings_p, c_size_t),
    "procreap_config_set_all_users": _setter(c_bool),
    "procreap_config_set_kill_tree": _setter(c_bool),
    "procreap_config_set_state_dir": _setter(c_char_p),
    "procreap_config_set_dry_run": _setter(c_bool),
    "procreap_config_set_subprocess_timeout_ms": _setter(c_uint64),
    "procreap_config_set_lock_timeout_ms": _setter(c_uint64),
    "procreap_config_set_backend": _setter(c_uint32),
    "procreap_status_str": (c_char_p, [c_uint32]),
    "procreap_error_code": (c_uint32, [ERROR_P]),
    "procreap_error_message": (c_char_p, [ERROR_P]),
    "procreap_error_free": (None, [ERROR_P]),
    "procreap_process_list_free": (None, [POINTER(procreap_process_list)]),
    "procreap_verdict_list_free": (None, [POINTER(procreap_verdict_list)]),
    "procreap_action_list_free": (None, [POINTER(procreap_action_list)]),
}


# --- finding the library -----------------------------------------------------


def library_name() -> str:
    """The shared library's file name on this platform."""
    if sys.platform == "darwin":
        return "libprocreap.dylib"
    if sys.platform == "win32":
        return "procreap.dll"
    return "libprocreap.so"


def checkout_root() -> Path | None:
    """The procreap repository the package runs from (directly, or from a
    venv inside it): the nearest directory above the package holding both
    ``Cargo.toml`` and ``include/procreap.h``; ``None`` when installed
    elsewhere. Only that checkout's ``target/`` is searched, never an
    arbitrary ``target/`` above the package (``/tmp/target`` is anyone's)."""
    for d in Path(__file__).resolve().parent.parents:
        if (d / "Cargo.toml").is_file() and (d / "include" / "procreap.h").is_file():
            return d if _trusted_dir(d) else None
    return None


def _trusted_dir(d: Path) -> bool:
    """Owned by us or root and not writable by everyone (not /tmp itself)."""
    if sys.platform == "win32":
        return True
    st = d.stat()
    return st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o002


def candidate_paths() -> list[Path]:
    """Every place searched when ``PROCREAP_LIB`` is unset, in order: beside
    the package, then ``target/release`` and ``target/debug`` of the
    procreap checkout the package runs from, if any."""
    name = library_name()
    found = [Path(__file__).resolve().parent / name]
    root = checkout_root()
    if root is not None:
        found.append(root / "target" / "release" / name)
        found.append(root / "target" / "debug" / name)
    return found


def _load() -> ctypes.CDLL:
    override = os.environ.get("PROCREAP_LIB")
    if override:
        try:
            return ctypes.CDLL(override)
        except OSError as e:
            raise LibraryNotFound(
                f"PROCREAP_LIB={override!r} could not be loaded: {e}"
            ) from e
    searched = candidate_paths()
    for path in searched:
        if path.is_file():
            try:
                return ctypes.CDLL(str(path))
            except OSError as e:
                raise LibraryNotFound(f"{path} exists but could not be loaded: {e}") from e
    places = "\n  ".join(["$PROCREAP_LIB (unset)", *map(str, searched)])
    if checkout_root() is None:
        places += "\n  (no procreap checkout above the package, so no target/)"
    raise LibraryNotFound(
        f"{library_name()} not found; searched:\n  {places}\n"
        "Build it with `cargo build --release --lib`, or set PROCREAP_LIB to its path."
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
    """The loaded library with every function declared; loaded on first use
    (so ``import procreap`` works without it) and once per process."""
    global _cdll
    if _cdll is None:
        with _lock:
            if _cdll is None:
                _cdll = _declare(_load())
    return _cdll
