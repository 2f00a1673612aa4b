"""Results, copied out of the C lists into frozen dataclasses."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import _lib
from ._errors import Error
from ._enums import ActionKind, Delivery, VerdictKind, from_c
from ._ffi import U32_MAX, text

__all__ = ["Action", "Process", "Report", "Verdict"]


@dataclass(frozen=True)
class Process:
    """A process as procreap saw it. ``(pid, start_time)`` is its identity."""

    pid: int
    start_time: int
    ppid: int
    name: str
    age_secs: float
    tty: str | None
    state: str
    workspace_root: str | None
    cmdline: str
    #: Owner uid; None when unknown.
    uid: int | None
    #: Resident memory at the snapshot, in bytes (0 when unknown).
    rss_bytes: int

    @property
    def identity(self) -> tuple[int, int]:
        """``(pid, start_time)``: what reap_set and reap_now take."""
        return (self.pid, self.start_time)


@dataclass(frozen=True)
class Action:
    """What a cleanup did (or, in a dry run, would do) to one process."""

    process: Process
    action: ActionKind
    #: ``"SIGTERM"``, ``"SIGKILL"`` or None.
    signal: str | None
    reason: str
    error: str | None
    #: How the signal went out (``Delivery.NONE`` when none was sent).
    delivery: Delivery
    #: True in a dry run: the signal, if any, was decided but not sent.
    dry_run: bool


@dataclass(frozen=True)
class Verdict:
    """An agent or marker process with its verdict and a human reason."""

    process: Process
    verdict: VerdictKind
    reason: str


class Report(list[Action]):
    """What one cleanup call did: a list of :class:`Action` (iterate, index,
    compare with a list as before), plus when the next step has something to
    do and the memory reclaimed."""

    #: Seconds from the end of the call until the next step has something
    #: to do (a grace period running out, a candidate reaching min_age, an
    #: unkillable re-check); None when nothing is pending.
    next_due: float | None
    #: Resident memory (bytes, measured at signal time) of the processes
    #: this call saw exit after procreap's signals.
    reclaimed_bytes: int

    def __init__(
        self, actions: Iterable[Action] = (), *, next_due: float | None = None, reclaimed_bytes: int = 0
    ) -> None:
        super().__init__(actions)
        self.next_due = next_due
        self.reclaimed_bytes = reclaimed_bytes

    def __repr__(self) -> str:
        return (
            f"Report({list.__repr__(self)}, next_due={self.next_due!r}, "
            f"reclaimed_bytes={self.reclaimed_bytes!r})"
        )


# --- from C ------------------------------------------------------------------


def items(out: Any) -> Any:
    """The items of a C list (``out`` points to it)."""
    lst = out.contents
    return (lst.items[i] for i in range(lst.len))


def process_of(p: _lib.procreap_process) -> Process:
    uid = int(p.uid)
    return Process(
        pid=int(p.pid),
        start_time=int(p.start_time),
        ppid=int(p.ppid),
        name=text(p.name) or "",
        age_secs=float(p.age_secs),
        tty=text(p.tty),
        state=p.state.decode("ascii", "replace"),
        workspace_root=text(p.workspace_root),
        cmdline=text(p.cmdline) or "",
        uid=None if uid == U32_MAX else uid,
        rss_bytes=int(p.rss_bytes),
    )


def verdict_of(v: _lib.procreap_verdict) -> Verdict:
    return Verdict(
        process=process_of(v.process),
        verdict=from_c(VerdictKind, int(v.verdict)),
        reason=text(v.reason) or "",
    )


def signal_name(n: int) -> str | None:
    """The name of a signal number as the kernel knows it (0: none)."""
    if n == 0:
        return None
    try:
        return signal.Signals(n).name
    except ValueError:
        raise Error(f"the library returned signal {n}, which this system does not know") from None


def action_of(a: _lib.procreap_action) -> Action:
    return Action(
        process=process_of(a.process),
        action=from_c(ActionKind, int(a.action)),
        signal=signal_name(int(a.signal)),
        reason=text(a.reason) or "",
        error=text(a.error),
        delivery=from_c(Delivery, int(a.delivery)),
        dry_run=bool(a.dry_run),
    )


def report_of(out: Any) -> Report:
    """A Report from a C action list (an empty one for NULL)."""
    if not out:
        return Report()
    lst = out.contents
    ms = int(lst.next_due_ms)
    return Report(
        (action_of(a) for a in items(out)),
        next_due=None if ms < 0 else ms / 1000,
        reclaimed_bytes=int(lst.reclaimed_bytes),
    )
