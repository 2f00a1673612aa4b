"""Kinds, verdicts, actions, deliveries, argv0 modes and backends as
``StrEnum``s whose values are the library's own names: each C enum is read
through its ``procreap_*_str`` function (counting up from 0 until NULL), and
a member's value is the C name that reads as its identifier (``OTHER_USER``
is ``"other-user"``). No name is written here; a member the library lacks
fails the import. Members are strings: ``v.verdict == "orphan"`` holds."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from . import _lib
from ._errors import Error, invalid

__all__ = [
    "ActionKind",
    "Argv0Match",
    "Backend",
    "Delivery",
    "Kind",
    "VerdictKind",
    "from_c",
    "parse",
    "to_c",
]


class _CNames:
    """The names of one C enum, by number, from its ``_str`` function."""

    def __init__(self, what: str, fn_name: str) -> None:
        fn = getattr(_lib.lib(), fn_name)
        self.what = what
        self.names: list[str] = []
        while len(self.names) < 256 and (raw := fn(len(self.names))) is not None:
            self.names.append(raw.decode("utf-8"))
        self._by_ident = {n.upper().replace("-", "_"): n for n in self.names}

    def __call__(self, ident: str) -> str:
        """The C name of the member called ``ident``."""
        try:
            return self._by_ident[ident]
        except KeyError:
            raise _lib.LibraryNotFound(
                f"the loaded libprocreap has no {self.what} {ident}: it does not match "
                f"this binding (its {self.what}s: {', '.join(self.names)})"
            ) from None


_KIND = _CNames("kind", "procreap_kind_str")
_VERDICT = _CNames("verdict", "procreap_verdict_kind_str")
_ACTION = _CNames("action", "procreap_action_kind_str")
_DELIVERY = _CNames("delivery", "procreap_delivery_str")
_ARGV0 = _CNames("argv0_match mode", "procreap_argv0_match_str")
_BACKEND = _CNames("backend", "procreap_backend_str")


class Kind(StrEnum):
    """Which scan a find or cleanup call runs (``procreap_kind``)."""

    ORPHANS = _KIND("ORPHANS")
    ZOMBIES = _KIND("ZOMBIES")
    LEAKED = _KIND("LEAKED")


class VerdictKind(StrEnum):
    """Why explain kept or picked a process (``procreap_verdict_kind``)."""

    DEFUNCT = _VERDICT("DEFUNCT")
    OTHER_USER = _VERDICT("OTHER_USER")
    PROTECTED = _VERDICT("PROTECTED")
    HAS_TTY = _VERDICT("HAS_TTY")
    IDE_LAUNCHED = _VERDICT("IDE_LAUNCHED")
    TOO_YOUNG = _VERDICT("TOO_YOUNG")
    OUTSIDE_WORKSPACE = _VERDICT("OUTSIDE_WORKSPACE")
    ORPHAN = _VERDICT("ORPHAN")
    LEAKED = _VERDICT("LEAKED")
    LEADER_ALIVE = _VERDICT("LEADER_ALIVE")
    AGENT_ALIVE = _VERDICT("AGENT_ALIVE")


class ActionKind(StrEnum):
    """What a cleanup did to a process (``procreap_action_kind``)."""

    SIGTERM = _ACTION("SIGTERM")
    WAITING = _ACTION("WAITING")
    SIGKILL = _ACTION("SIGKILL")
    UNKILLABLE = _ACTION("UNKILLABLE")
    EXITED = _ACTION("EXITED")
    RELEASED = _ACTION("RELEASED")
    SKIPPED = _ACTION("SKIPPED")


class Delivery(StrEnum):
    """How a signal reached its process (``procreap_delivery``)."""

    NONE = _DELIVERY("NONE")
    PIDFD = _DELIVERY("PIDFD")
    KILL = _DELIVERY("KILL")


class Argv0Match(StrEnum):
    """When argv[0]'s basename may name an agent (``procreap_argv0_match``)."""

    NEVER = _ARGV0("NEVER")
    VERSION_LIKE = _ARGV0("VERSION_LIKE")
    ALWAYS = _ARGV0("ALWAYS")


class Backend(StrEnum):
    """Which process-table reader to use (``procreap_backend``)."""

    AUTO = _BACKEND("AUTO")
    PROC = _BACKEND("PROC")
    PS = _BACKEND("PS")


_NAMES: dict[type[StrEnum], _CNames] = {
    Kind: _KIND,
    VerdictKind: _VERDICT,
    ActionKind: _ACTION,
    Delivery: _DELIVERY,
    Argv0Match: _ARGV0,
    Backend: _BACKEND,
}

E = TypeVar("E", bound=StrEnum)


def from_c(cls: type[E], n: int) -> E:
    """The member for the C value ``n``."""
    names = _NAMES[cls].names
    if 0 <= n < len(names):
        try:
            return cls(names[n])
        except ValueError:
            pass
    raise Error(
        f"the library returned {_NAMES[cls].what} {n}, which this binding does not know: "
        "is the binding older than the library?"
    )


def to_c(member: StrEnum) -> int:
    """The C value of a member."""
    return _NAMES[type(member)].names.index(member.value)


def parse(cls: type[E], what: str, v: object) -> E:
    """A member from itself or its name; a name the library does not have
    is an :class:`InvalidArgument` that lists the ones it has."""
    if not isinstance(v, str):
        raise TypeError(f"{what} must be a {cls.__name__} or str, not {type(v).__name__}")
    try:
        return cls(v)
    except ValueError:
        raise invalid(f"{what} {v!r} is not one of {', '.join(cls)}") from None
