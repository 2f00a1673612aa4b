"""The functions and the scan object. Each call passes the Config's own C
configuration (NULL for None: the library's defaults), copies the result
into Python objects and frees every C object in ``finally``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from ctypes import POINTER, byref
from typing import Any, TypeVar, Union

from . import _ffi, _lib
from ._config import Config
from ._enums import Kind, parse, to_c
from ._ffi import take_error
from ._types import Process, Report, Verdict, items, process_of, report_of, verdict_of

__all__ = [
    "Identity",
    "Scan",
    "cleanup_step",
    "explain",
    "find_leaked",
    "find_orphans",
    "find_zombies",
    "reap_now",
    "reap_set",
    "scan",
    "version",
]

T = TypeVar("T")

#: A process identity: a :class:`Process`, or a ``(pid, start_time)`` tuple.
Identity = Union[Process, tuple[int, int]]


@contextmanager
def _c_config(config: Config | None) -> Iterator[Any]:
    """The C configuration behind ``config`` for the duration of one call
    (NULL for None), held against a concurrent change or close."""
    if config is None:
        yield None
        return
    if not isinstance(config, Config):
        raise TypeError(f"config must be a procreap.Config or None, not {type(config).__name__}")
    with config._reading() as ptr:
        yield ptr


def _copied(fn: Any, source: Any, list_type: Any, free: str, convert: Callable[[Any], T]) -> list[T]:
    """Calls ``fn(source, &list, &err)``, copies the list's items out with
    ``convert`` and frees the C list."""
    out = POINTER(list_type)()
    try:
        _ffi.call(fn, source, byref(out))
        return [convert(x) for x in items(out)]
    finally:
        getattr(_lib.lib(), free)(out)


def _processes(fn: Any, source: Any) -> list[Process]:
    return _copied(fn, source, _lib.procreap_process_list, "procreap_process_list_free", process_of)


def _verdicts(fn: Any, source: Any) -> list[Verdict]:
    return _copied(fn, source, _lib.procreap_verdict_list, "procreap_verdict_list_free", verdict_of)


def _find(fn_name: str, config: Config | None) -> list[Process]:
    with _c_config(config) as cfg:
        return _processes(getattr(_lib.lib(), fn_name), cfg)


def find_orphans(config: Config | None = None) -> list[Process]:
    """Agent processes that are orphans (SPEC §1). ``None`` = the defaults."""
    return _find("procreap_find_orphans", config)


def find_zombies(config: Config | None = None) -> list[Process]:
    """Agent processes that are zombies: the orphan test, but raises
    :class:`procreap.TmuxUnavailable` when nothing is protected and no tmux
    server runs, and finds nothing when tmux runs without panes."""
    return _find("procreap_find_zombies", config)


def find_leaked(config: Config | None = None) -> list[Process]:
    """Leaked descendants: processes (not agents) whose environment carries
    one of ``leak_markers`` and whose agent is gone."""
    return _find("procreap_find_leaked", config)


def explain(config: Config | None = None) -> list[Verdict]:
    """Every agent process and every marker process with its verdict and a
    human reason."""
    with _c_config(config) as cfg:
        return _verdicts(_lib.lib().procreap_explain, cfg)


class Scan(_ffi.Handle):
    """The process table read once (``procreap_scan``), asked several
    questions: each list is computed from the same snapshot. Read-only: a
    cleanup step never decides from it (it reads the table again). Usable
    from several threads at once. Make one with :func:`procreap.scan`."""

    _FREE = "procreap_scan_free"

    def _ask(self, fn_name: str, convert: Callable[[Any, Any], Any]) -> Any:
        with self._reading() as ptr:
            return convert(getattr(_lib.lib(), fn_name), ptr)

    def orphans(self) -> list[Process]:
        """The scan's orphans (as :func:`procreap.find_orphans`)."""
        result: list[Process] = self._ask("procreap_scan_orphans", _processes)
        return result

    def zombies(self) -> list[Process]:
        """The scan's zombies (as :func:`procreap.find_zombies`, including
        :class:`procreap.TmuxUnavailable`)."""
        result: list[Process] = self._ask("procreap_scan_zombies", _processes)
        return result

    def leaked(self) -> list[Process]:
        """The scan's leaked descendants (as :func:`procreap.find_leaked`)."""
        result: list[Process] = self._ask("procreap_scan_leaked", _processes)
        return result

    def explain(self) -> list[Verdict]:
        """Every agent and marker process of the scan with its verdict."""
        result: list[Verdict] = self._ask("procreap_scan_explain", _verdicts)
        return result

    def __repr__(self) -> str:
        return f"<procreap.Scan{' (closed)' if self.closed else ''}>"


def scan(config: Config | None = None) -> Scan:
    """Reads the process table once under ``config`` (asks the configured
    tmux sockets, reads the protected pid files). Use it in a ``with``
    block, or call :meth:`Scan.close`; garbage collection frees it too."""
    out = _lib.SCAN_P()
    with _c_config(config) as cfg:
        _ffi.call(_lib.lib().procreap_scan_new, cfg, byref(out))
    return Scan(out)


def _report(call: Callable[[Any, Any], int]) -> Report:
    """Runs a C function that writes an action list, also alongside an error
    status (SIGNAL_FAILED, LEDGER_CORRUPT, IO, PERMISSION): then the error
    is raised with the actions attached (``.actions``, ``.report``)."""
    out = POINTER(_lib.procreap_action_list)()
    err = _lib.ERROR_P()
    try:
        status = call(byref(out), byref(err))
        error = take_error(status, err) if status != 0 else None  # frees err
        report = report_of(out)
        if error is not None:
            error.actions = tuple(report)
            error.report = report if out else None
            raise error
        return report
    finally:
        _lib.lib().procreap_action_list_free(out)


def cleanup_step(kind: Kind | str, config: Config | None = None) -> Report:
    """One cleanup step (SPEC §3) of ``kind``: ``"orphans"``, ``"zombies"``
    or ``"leaked"`` (or a :class:`procreap.Kind`).

    Returns a :class:`procreap.Report` (a list of actions with ``next_due``
    and ``reclaimed_bytes``). Raises a :class:`procreap.Error`; when signals
    were sent before the problem was found, its ``actions`` lists them."""
    k = to_c(parse(Kind, "kind", kind))
    with _c_config(config) as cfg:
        fn = _lib.lib().procreap_cleanup_step
        return _report(lambda out, err: int(fn(cfg, k, out, err)))


def _identities(identities: Iterable[Identity]) -> tuple[Any, int]:
    if isinstance(identities, (str, bytes, Process)) or not isinstance(identities, Iterable):
        raise TypeError(
            f"identities must be a list of Process or (pid, start_time), "
            f"not {type(identities).__name__}"
        )
    ids: list[tuple[int, int]] = []
    for i in identities:
        if isinstance(i, Process):
            pid, start = i.pid, i.start_time
        elif isinstance(i, tuple) and len(i) == 2:
            pid = _ffi.as_int("pid", i[0], -(2**31), _ffi.I32_MAX)
            start = _ffi.u64("start_time", i[1])
        else:
            raise TypeError(f"an identity must be a Process or a (pid, start_time) tuple, not {i!r}")
        ids.append((pid, start))
    arr = (_lib.procreap_identity * max(len(ids), 1))()
    for n, (pid, start) in enumerate(ids):
        arr[n].pid, arr[n].start_time = pid, start
    return arr, len(ids)


def reap_set(identities: Iterable[Identity], config: Config | None = None) -> Report:
    """Cleans up exactly these identities (each must still be a candidate),
    nothing else; repeated calls escalate SIGTERM → SIGKILL like steps."""
    arr, n = _identities(identities)
    with _c_config(config) as cfg:
        fn = _lib.lib().procreap_reap_set
        return _report(lambda out, err: int(fn(cfg, arr, n, out, err)))


def reap_now(
    identities: Iterable[Identity], deadline_secs: float, config: Config | None = None
) -> Report:
    """SIGTERM each identity (each must still be a candidate), wait up to
    ``deadline_secs`` for it to exit, then SIGKILL the survivors; blocks,
    holding the ledger lock, and leaves the ledger for later steps to go on
    from."""
    ms = _ffi.millis("deadline_secs", deadline_secs)
    arr, n = _identities(identities)
    with _c_config(config) as cfg:
        fn = _lib.lib().procreap_reap_now
        return _report(lambda out, err: int(fn(cfg, arr, n, ms, out, err)))


def version() -> str:
    """The library's version, ``"MAJOR.MINOR.PATCH"``."""
    v: bytes = _lib.lib().procreap_version()
    return v.decode("ascii")
