"""The exception hierarchy, keyed on the C status codes (``procreap_status``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._types import Action, Report

__all__ = [
    "CommandFailed",
    "Error",
    "InvalidArgument",
    "IoError",
    "LedgerCorrupt",
    "LockTimeout",
    "NullParameter",
    "Panic",
    "PermissionDenied",
    "PidNamespace",
    "SignalFailed",
    "TmuxFailed",
    "TmuxUnavailable",
    "UnsafeStatePath",
    "UnsupportedPlatform",
    "error_for",
    "invalid",
]


class Error(Exception):
    """Base of every procreap failure.

    ``code`` is the C status code, ``message`` the library's message (it
    starts with its category, e.g. ``"invalid argument: …"``). For
    :func:`procreap.cleanup_step`, :func:`procreap.reap_set` and
    :func:`procreap.reap_now`, ``actions`` holds what was done before the
    failure was noticed (signals may have been sent), and ``report`` the
    whole :class:`procreap.Report` (with ``next_due``); otherwise ``actions``
    is empty and ``report`` None.
    """

    #: The status code this class stands for (``PROCREAP_STATUS_*``).
    CODE: int = -1

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.code: int = self.CODE if code is None else code
        self.actions: tuple[Action, ...] = ()
        self.report: Report | None = None

    def __str__(self) -> str:
        return self.message


class NullParameter(Error):
    """A required pointer parameter was NULL (a binding bug)."""

    CODE = 1


class InvalidArgument(Error, ValueError):
    """A parameter had an unusable value: refused by the library, or a value
    that cannot cross into C at all (a negative duration, a NUL in a string,
    a number out of the C type's range)."""

    CODE = 2


class IoError(Error):
    """Reading or writing a file failed."""

    CODE = 3


class PermissionDenied(Error):
    """The operating system refused access."""

    CODE = 4


class UnsafeStatePath(Error):
    """The state directory or ledger is a symlink, foreign, or writable by others."""

    CODE = 5


class TmuxUnavailable(Error):
    """A zombie scan would be blind: no tmux server and nothing protected."""

    CODE = 6


class TmuxFailed(Error):
    """A tmux query failed or timed out (never taken as "no panes")."""

    CODE = 7


class LedgerCorrupt(Error):
    """The ledger could not be trusted; it was moved aside (no SIGKILL this step)."""

    CODE = 8


class LockTimeout(Error):
    """The ledger lock was not obtained within ``lock_timeout_secs``."""

    CODE = 9


class SignalFailed(Error):
    """Some signals failed; ``actions`` holds what was done."""

    CODE = 10


class CommandFailed(Error):
    """An external command (ps, lsof) failed."""

    CODE = 11


class UnsupportedPlatform(Error):
    """The platform (or the chosen backend) is not supported."""

    CODE = 12


class Panic(Error):
    """A bug in the library: a Rust panic was caught at the boundary."""

    CODE = 13


class PidNamespace(Error):
    """The /proc procreap reads belongs to another pid namespace than the
    caller: its pids are not the ones signals would reach."""

    CODE = 14


#: status code -> exception class.
BY_CODE: dict[int, type[Error]] = {
    cls.CODE: cls
    for cls in (
        NullParameter,
        InvalidArgument,
        IoError,
        PermissionDenied,
        UnsafeStatePath,
        TmuxUnavailable,
        TmuxFailed,
        LedgerCorrupt,
        LockTimeout,
        SignalFailed,
        CommandFailed,
        UnsupportedPlatform,
        Panic,
        PidNamespace,
    )
}


def invalid(message: str) -> InvalidArgument:
    """An :class:`InvalidArgument` for a value the binding cannot pass to C,
    with the library's category prefix."""
    return InvalidArgument(f"invalid argument: {message}")


def error_for(code: int, message: str) -> Error:
    """The exception for a status code (the base :class:`Error` for an unknown one)."""
    cls = BY_CODE.get(code)
    if cls is None:
        return Error(message, code)
    return cls(message)
