"""What every call across the ABI needs: status checks, the conversions of
Python values into C ones (type checks, and the few values C cannot even
receive), and :class:`Handle`, the owner of one C object."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from ctypes import byref, c_char_p
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar, Self

from . import _lib
from ._errors import Error, error_for, invalid

__all__ = [
    "Handle",
    "as_bool",
    "as_int",
    "as_list",
    "c_string",
    "c_strings",
    "call",
    "check",
    "millis",
    "take_error",
    "text",
    "u64",
]

_OK = 0
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I32_MAX = 2**31 - 1


def text(b: bytes | None) -> str | None:
    """A C string as ``str`` (undecodable bytes replaced), None for NULL."""
    return None if b is None else b.decode("utf-8", "replace")


def take_error(status: int, err: Any) -> Error:
    """The exception for ``status``, with the message of the error object
    (which is then freed)."""
    lib = _lib.lib()
    try:
        if err:
            code = int(lib.procreap_error_code(err))
            message = text(lib.procreap_error_message(err)) or ""
        else:
            code, message = status, ""
    finally:
        lib.procreap_error_free(err)
    if not message:
        message = text(lib.procreap_status_str(status)) or f"status {status}"
    return error_for(code or status, message)


def check(status: int, err: Any) -> None:
    """Raises the exception for a non-OK status (freeing ``err``)."""
    if status != _OK:
        raise take_error(status, err)


def call(fn: Any, *args: Any) -> None:
    """Calls a C function whose last parameter is ``procreap_error **`` and
    raises its error."""
    err = _lib.ERROR_P()
    check(fn(*args, byref(err)), err)


# --- Python values into C values --------------------------------------------


def _type_name(v: object) -> str:
    return type(v).__name__


def c_string(what: str, v: object, *, path: bool = False) -> bytes:
    """A ``str`` (or, for a path, an ``os.PathLike``) as NUL-terminated bytes.
    A NUL inside cannot cross the ABI (C would see a shorter string)."""
    if path and isinstance(v, os.PathLike):
        v = os.fspath(v)
    if not isinstance(v, str):
        kinds = "a str or os.PathLike" if path else "a str"
        raise TypeError(f"{what} must be {kinds}, not {_type_name(v)}")
    if "\0" in v:
        raise invalid(f"{what} {v!r} holds a NUL character")
    if path:
        return os.fsencode(v)
    try:
        return v.encode("utf-8")
    except UnicodeEncodeError as e:
        raise invalid(f"{what} {v!r} is not valid Unicode: {e.reason}") from None


def as_list(what: str, v: object) -> list[object]:
    """Any iterable but a string (``agent_names="claude"`` is the classic bug)."""
    if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
        raise TypeError(f"{what} must be a list, not {_type_name(v)}")
    return list(v)


def c_strings(what: str, v: object, *, path: bool = False) -> tuple[Any, int]:
    """A list of strings as a ``const char *const *`` array and its length."""
    items = [c_string(f"{what}[{i}]", s, path=path) for i, s in enumerate(as_list(what, v))]
    arr = (c_char_p * max(len(items), 1))(*items)
    return arr, len(items)


def as_int(what: str, v: object, lo: int, hi: int) -> int:
    """An ``int`` (not a bool) that fits the C type ``[lo, hi]``: ctypes
    would silently wrap one that does not."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what} must be an int, not {_type_name(v)}")
    if not lo <= v <= hi:
        raise invalid(f"{what} {v} is out of range ({lo}..{hi})")
    return v


def u64(what: str, v: object) -> int:
    return as_int(what, v, 0, U64_MAX)


def as_bool(what: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{what} must be a bool, not {_type_name(v)}")
    return v


def millis(what: str, secs: object) -> int:
    """Seconds (int or float) as whole milliseconds, rounded up, so that a
    positive duration never becomes 0 (the Go binding's rule). A float is
    taken as written (``0.3`` is 300 ms, not the binary float's 300.000…01).
    Negative, NaN and infinite durations cannot be passed."""
    if isinstance(secs, bool) or not isinstance(secs, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {_type_name(secs)}")
    if isinstance(secs, float) and not math.isfinite(secs):
        raise invalid(f"{what} must be a finite number of seconds, not {secs!r}")
    if secs < 0:
        raise invalid(f"{what} must not be negative, not {secs!r}")
    exact = Decimal(secs) if isinstance(secs, int) else Decimal(repr(secs))
    ms = int((exact * 1000).to_integral_value(rounding=ROUND_CEILING))
    if ms > U64_MAX:
        raise invalid(f"{what} {secs!r} is too large")
    return ms


# --- owning a C object ------------------------------------------------------


class _RWLock:
    """Many readers or one writer: C objects may be read from several
    threads at once, but a setter (or freeing) needs exclusive use."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class Handle:
    """Owns one C object: freed by :meth:`close`, at the end of a ``with``
    block, or when garbage-collected. Calls read it concurrently; a change
    or ``close`` waits for them and has it alone."""

    #: The C function that frees the object.
    _FREE: ClassVar[str]

    def __init__(self, ptr: Any) -> None:
        if not ptr:
            raise error_for(13, f"{type(self).__name__}: the library returned NULL (a panic was caught)")
        self._ptr: Any = ptr
        self._rw = _RWLock()

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        with self._rw.read():
            yield self._live()

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self._rw.write():
            yield self._live()

    def _live(self) -> Any:
        if not self._ptr:
            raise ValueError(f"this procreap.{type(self).__name__} is closed")
        return self._ptr

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return not self._ptr

    def close(self) -> None:
        """Frees the C object now (waiting for calls that use it); using
        this object afterwards raises ``ValueError``. Closing twice is fine."""
        with self._rw.write():
            ptr, self._ptr = self._ptr, None
        if ptr:
            getattr(_lib.lib(), self._FREE)(ptr)

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(f"a procreap.{type(self).__name__} cannot be copied or pickled")

    def __enter__(self) -> Self:
        self._live()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Unreachable, so nobody else can be using it: no lock needed.
        ptr = getattr(self, "_ptr", None)
        if ptr:
            self._ptr = None
            try:
                getattr(_lib.lib(), self._FREE)(ptr)
            except Exception:  # interpreter shutdown: the library may be gone
                pass
