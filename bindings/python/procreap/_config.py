"""``procreap.Config``: a handle to one C ``procreap_config``.

The library is the one source of truth. A new Config holds the library's
defaults (``procreap_config_new``); each keyword, and each later attribute
assignment, goes through that knob's C setter, which validates it (a refused
value raises :class:`procreap.InvalidArgument` and leaves the Config as it
was); each attribute read goes through the C getter. Python checks only
types, and the few values that cannot cross the ABI at all (a negative
duration, a NUL inside a string, an int out of the C type's range).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from ctypes import POINTER, byref, c_int32, c_size_t, c_uint32, string_at
from typing import Any, Generic, TypedDict, TypeVar, Union, Unpack, overload

from . import _ffi, _lib
from ._enums import Argv0Match, Backend, from_c, parse, to_c

__all__ = ["Config", "ConfigOptions", "PathLike", "default"]

PathLike = Union[str, "os.PathLike[str]"]

G = TypeVar("G")  # what reading the attribute gives
S = TypeVar("S")  # what assigning it takes


class ConfigOptions(TypedDict, total=False):
    """The keywords of :class:`Config`, one per knob of the C configuration
    (durations in seconds where C takes milliseconds)."""

    agent_names: Iterable[str]
    argv0_match: Argv0Match | str
    min_age_secs: float
    grace_secs: float
    workspace_marker: str
    workspace_root: PathLike | None
    ide_markers: Iterable[str]
    protected_pid_files: Iterable[PathLike]
    protected_pids: Iterable[int]
    tmux_sockets: Iterable[str]
    all_users: bool
    users: Iterable[int]
    kill_tree: bool
    state_dir: PathLike | None
    dry_run: bool
    subprocess_timeout_secs: float
    lock_timeout_secs: float
    backend: Backend | str
    require_pidfd: bool
    audit: bool
    audit_max_bytes: int
    leak_markers: Iterable[str]


class _Knob(Generic[G, S]):
    """One knob: ``get(ptr)`` reads it through C, ``encode(value)`` turns a
    Python value into the setter's arguments (type checks only)."""

    def __init__(
        self,
        c_name: str,
        get: Callable[[Any], G],
        encode: Callable[[str, Any], tuple[Any, ...]],
    ) -> None:
        self.c_name = c_name
        self._get = get
        self._encode = encode
        self.name = c_name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Knob[G, S]: ...
    @overload
    def __get__(self, obj: Config, owner: type) -> G: ...
    def __get__(self, obj: Config | None, owner: type) -> _Knob[G, S] | G:
        if obj is None:
            return self
        with obj._reading() as ptr:
            return self._get(ptr)

    def __set__(self, obj: Config, value: S) -> None:
        args = self._encode(self.name, value)
        setter = getattr(_lib.lib(), f"procreap_config_set_{self.c_name}")
        with obj._writing() as ptr:
            _ffi.call(setter, ptr, *args)

    def default(self) -> G:
        """The library's default (its getter on a NULL configuration)."""
        return self._get(None)


def _getter(c_name: str) -> Any:
    return getattr(_lib.lib(), f"procreap_config_get_{c_name}")


def _bool(c_name: str) -> _Knob[bool, bool]:
    return _Knob(c_name, lambda p: bool(_getter(c_name)(p)), lambda n, v: (_ffi.as_bool(n, v),))


def _seconds(c_name: str) -> _Knob[float, float]:
    """A duration: C milliseconds, Python seconds."""
    return _Knob(
        c_name, lambda p: int(_getter(c_name)(p)) / 1000, lambda n, v: (_ffi.millis(n, v),)
    )


def _owned_string(fn: Any, ptr: Any) -> str | None:
    out = _lib.OWNED_STR()
    _ffi.call(fn, ptr, byref(out))
    if not out:
        return None
    try:
        return os.fsdecode(string_at(out))
    finally:
        _lib.lib().procreap_string_free(out)


def _string(c_name: str, *, optional: bool, path: bool) -> _Knob[Any, Any]:
    def get(p: Any) -> str | None:
        return _owned_string(_getter(c_name), p)

    def encode(n: str, v: object) -> tuple[Any, ...]:
        if optional and v is None:
            return (None,)
        return (_ffi.c_string(n, v, path=path),)

    return _Knob(c_name, get, encode)


def _strings(c_name: str, *, path: bool = False) -> _Knob[tuple[str, ...], Iterable[Any]]:
    def get(p: Any) -> tuple[str, ...]:
        out = POINTER(_lib.procreap_string_list)()
        _ffi.call(_getter(c_name), p, byref(out))
        try:
            lst = out.contents
            return tuple(os.fsdecode(lst.items[i]) for i in range(lst.len))
        finally:
            _lib.lib().procreap_string_list_free(out)

    return _Knob(c_name, get, lambda n, v: _ffi.c_strings(n, v, path=path))


def _ints(c_name: str, ctype: Any, lo: int, hi: int) -> _Knob[tuple[int, ...], Iterable[int]]:
    def get(p: Any) -> tuple[int, ...]:
        n = c_size_t()
        _ffi.call(_getter(c_name), p, None, 0, byref(n))
        buf = (ctype * max(n.value, 1))()
        _ffi.call(_getter(c_name), p, buf, n.value, byref(n))
        return tuple(int(x) for x in buf[: n.value])

    def encode(name: str, v: object) -> tuple[Any, ...]:
        items = [_ffi.as_int(f"{name}[{i}]", x, lo, hi) for i, x in enumerate(_ffi.as_list(name, v))]
        return ((ctype * max(len(items), 1))(*items), len(items))

    return _Knob(c_name, get, encode)


E = TypeVar("E", Argv0Match, Backend)


def _enum(c_name: str, cls: type[E]) -> _Knob[E, E | str]:
    return _Knob(
        c_name,
        lambda p: from_c(cls, int(_getter(c_name)(p))),
        lambda n, v: (to_c(parse(cls, n, v)),),
    )


def _u64(c_name: str) -> _Knob[int, int]:
    return _Knob(c_name, lambda p: int(_getter(c_name)(p)), lambda n, v: (_ffi.u64(n, v),))


class Config(_ffi.Handle):
    """Every knob of the library's configuration (SPEC §2), keywords only.

    ``Config()`` holds the library's defaults; ``Config(min_age_secs=120)``
    changes one knob through its C setter. Attributes read and write the C
    configuration (lists read back as tuples: assign a new list to change
    one). The C object is made once and reused by every call; it is freed by
    :meth:`close`, at the end of a ``with`` block, or by garbage collection.
    A Config may be used by several threads at once; an assignment waits for
    calls in flight.
    """

    _FREE = "procreap_config_free"

    agent_names = _strings("agent_names")
    argv0_match = _enum("argv0_match", Argv0Match)
    min_age_secs = _seconds("min_age_ms")
    grace_secs = _seconds("grace_ms")
    workspace_marker: _Knob[str, str] = _string("workspace_marker", optional=False, path=False)
    workspace_root: _Knob[str | None, PathLike | None] = _string(
        "workspace_root", optional=True, path=True
    )
    ide_markers = _strings("ide_markers")
    protected_pid_files = _strings("protected_pid_files", path=True)
    protected_pids = _ints("protected_pids", c_int32, -(2**31), _ffi.I32_MAX)
    tmux_sockets = _strings("tmux_sockets", path=True)
    all_users = _bool("all_users")
    users = _ints("users", c_uint32, 0, _ffi.U32_MAX)
    kill_tree = _bool("kill_tree")
    state_dir: _Knob[str | None, PathLike | None] = _string("state_dir", optional=True, path=True)
    dry_run = _bool("dry_run")
    subprocess_timeout_secs = _seconds("subprocess_timeout_ms")
    lock_timeout_secs = _seconds("lock_timeout_ms")
    backend = _enum("backend", Backend)
    require_pidfd = _bool("require_pidfd")
    audit = _bool("audit")
    audit_max_bytes = _u64("audit_max_bytes")
    leak_markers = _strings("leak_markers")

    def __init__(self, **options: Unpack[ConfigOptions]) -> None:
        for name in options:
            if name not in KNOBS:
                raise TypeError(f"Config() got an unexpected keyword argument {name!r}")
        super().__init__(_lib.lib().procreap_config_new())
        for name, value in options.items():
            setattr(self, name, value)

    def copy(self) -> Config:
        """An independent copy (``procreap_config_clone``)."""
        new = Config.__new__(Config)
        with self._reading() as ptr:
            _ffi.Handle.__init__(new, _lib.lib().procreap_config_clone(ptr))
        return new

    @property
    def resolved_state_dir(self) -> str:
        """The state directory a call would use (the default resolved for
        this process when ``state_dir`` is None)."""
        with self._reading() as ptr:
            d = _owned_string(_lib.lib().procreap_config_resolved_state_dir, ptr)
        assert d is not None
        return d

    def __reduce__(self) -> tuple[Any, ...]:
        # copy.copy, copy.deepcopy and pickle make a new C configuration
        # (copying the handle would free one C object twice).
        return (_from_dict, (self.as_dict(),))

    def as_dict(self) -> dict[str, Any]:
        """Every knob's value."""
        return {name: getattr(self, name) for name in KNOBS}

    def __repr__(self) -> str:
        if self.closed:
            return "procreap.Config(<closed>)"
        return "procreap.Config(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"


#: The knobs, in C header order, by their Python name.
KNOBS: dict[str, _Knob[Any, Any]] = {
    name: knob for name, knob in vars(Config).items() if isinstance(knob, _Knob)
}


def _from_dict(options: dict[str, Any]) -> Config:
    return Config(**options)


def default(name: str) -> Any:
    """The library's default for knob ``name`` (its getter on NULL)."""
    return KNOBS[name].default()
