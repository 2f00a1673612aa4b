"""The functions: a C configuration is built per call, the result copied into
frozen dataclasses, and every C object freed in ``finally``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from ctypes import POINTER, byref, c_char_p, c_int32
from typing import Any, Union

from . import _lib
from ._errors import Error, InvalidArgument, error_for
from ._types import (
    ACTIONS,
    BACKENDS,
    KINDS,
    SIGNALS,
    VERDICTS,
    Action,
    Config,
    KindName,
    Process,
    Verdict,
    millis,
    seconds,
)

__all__ = [
    "Identity",
    "cleanup_step",
    "explain",
    "find_orphans",
    "find_zombies",
    "reap_now",
    "reap_set",
    "version",
]

#: A process identity: a :class:`Process`, or a ``(pid, start_time)`` tuple.
Identity = Union[Process, tuple[int, int]]

_OK = 0


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def _take_error(status: int, err: Any) -> Error:
    """The exception for ``status``, with the message of the error object
    (which is then freed)."""
    lib = _lib.lib()
    try:
        if err:
            code = int(lib.procreap_error_code(err))
            message = _text(lib.procreap_error_message(err)) or ""
        else:
            code, message = status, ""
    finally:
        lib.procreap_error_free(err)
    if not message:
        message = _text(lib.procreap_status_str(status)) or f"status {status}"
    return error_for(code or status, message)


def check(status: int, err: Any) -> None:
    """Raises the exception for a non-OK status (freeing ``err``)."""
    if status != _OK:
        raise _take_error(status, err)


def _strings(items: list[str]) -> Any:
    arr = (c_char_p * max(len(items), 1))()
    for i, s in enumerate(items):
        arr[i] = s.encode("utf-8")
    return arr


@contextmanager
def _c_config(config: Config | None) -> Iterator[Any]:
    """A C configuration for the duration of one call (NULL for None, which
    the library reads as its defaults)."""
    if config is None:
        yield None
        return
    if not isinstance(config, Config):
        raise TypeError(f"config must be a procreap.Config, not {type(config).__name__}")
    v = config.checked()
    lib = _lib.lib()
    cfg = lib.procreap_config_new()
    if not cfg:
        raise error_for(13, "procreap_config_new failed (a panic was caught)")
    try:

        def setter(name: str, *args: Any) -> None:
            err = _lib.ERROR_P()
            check(getattr(lib, f"procreap_config_set_{name}")(cfg, *args, byref(err)), err)

        def set_list(name: str, items: list[str]) -> None:
            setter(name, _strings(items), len(items))

        set_list("agent_names", v["agent_names"])
        setter("match_argv0", v["match_argv0"])
        setter("min_age_ms", millis(v["min_age_secs"]))
        setter("grace_ms", millis(v["grace_secs"]))
        setter("workspace_marker", v["workspace_marker"].encode("utf-8"))
        root = v["workspace_root"]
        setter("workspace_root", None if root is None else root.encode("utf-8"))
        set_list("ide_markers", v["ide_markers"])
        set_list("protected_pid_files", v["protected_pid_files"])
        pids = v["protected_pids"]
        setter("protected_pids", (c_int32 * max(len(pids), 1))(*pids), len(pids))
        set_list("tmux_sockets", v["tmux_sockets"])
        setter("all_users", v["all_users"])
        setter("kill_tree", v["kill_tree"])
        state_dir = v["state_dir"]
        setter("state_dir", None if state_dir is None else state_dir.encode("utf-8"))
        setter("dry_run", v["dry_run"])
        setter("subprocess_timeout_ms", millis(v["subprocess_timeout_secs"]))
        setter("lock_timeout_ms", millis(v["lock_timeout_secs"]))
        setter("backend", BACKENDS.index(v["backend"]))
        yield cfg
    finally:
        lib.procreap_config_free(cfg)


def _process(p: _lib.procreap_process) -> Process:
    return Process(
        pid=int(p.pid),
        start_time=int(p.start_time),
        ppid=int(p.ppid),
        name=_text(p.name) or "",
        age_secs=float(p.age_secs),
        tty=_text(p.tty),
        state=p.state.decode("ascii", "replace"),
        workspace_root=_text(p.workspace_root),
        cmdline=_text(p.cmdline) or "",
    )


def _name(names: tuple[str, ...], value: int, what: str) -> Any:
    if 0 <= value < len(names):
        return names[value]
    raise Error(f"the library returned an unknown {what} {value}: binding out of date?")


def _action(a: _lib.procreap_action) -> Action:
    sig = int(a.signal)
    if sig not in SIGNALS:
        raise Error(f"the library returned an unknown signal {sig}: binding out of date?")
    return Action(
        process=_process(a.process),
        action=_name(ACTIONS, int(a.action), "action"),
        signal=SIGNALS[sig],  # type: ignore[arg-type]
        reason=_text(a.reason) or "",
        error=_text(a.error),
    )


def _verdict(v: _lib.procreap_verdict) -> Verdict:
    return Verdict(
        process=_process(v.process),
        verdict=_name(VERDICTS, int(v.verdict), "verdict"),
        reason=_text(v.reason) or "",
    )


def _items(out: Any) -> Any:
    lst = out.contents
    return (lst.items[i] for i in range(lst.len))


def _find(fn_name: str, config: Config | None) -> list[Process]:
    lib = _lib.lib()
    with _c_config(config) as cfg:
        out = POINTER(_lib.procreap_process_list)()
        err = _lib.ERROR_P()
        try:
            check(getattr(lib, fn_name)(cfg, byref(out), byref(err)), err)
            return [_process(p) for p in _items(out)]
        finally:
            lib.procreap_process_list_free(out)


def find_orphans(config: Config | None = None) -> list[Process]:
    """Agent processes that are orphans (SPEC §1). ``None`` = the defaults."""
    return _find("procreap_find_orphans", config)


def find_zombies(config: Config | None = None) -> list[Process]:
    """Agent processes that are zombies: the orphan test, but raises
    :class:`procreap.TmuxUnavailable` when nothing is protected and no tmux
    server runs, and finds nothing when tmux runs without panes."""
    return _find("procreap_find_zombies", config)


def explain(config: Config | None = None) -> list[Verdict]:
    """Every agent process with its verdict and a human reason."""
    lib = _lib.lib()
    with _c_config(config) as cfg:
        out = POINTER(_lib.procreap_verdict_list)()
        err = _lib.ERROR_P()
        try:
            check(lib.procreap_explain(cfg, byref(out), byref(err)), err)
            return [_verdict(v) for v in _items(out)]
        finally:
            lib.procreap_verdict_list_free(out)


def _actions(call: Any) -> list[Action]:
    """Runs a C function that writes an action list, also alongside an error
    status (SIGNAL_FAILED, LEDGER_CORRUPT, IO): then the error is raised with
    the actions attached as ``.actions``."""
    lib = _lib.lib()
    out = POINTER(_lib.procreap_action_list)()
    err = _lib.ERROR_P()
    try:
        status = call(byref(out), byref(err))
        error = _take_error(status, err) if status != _OK else None  # frees err
        actions = [_action(a) for a in _items(out)] if out else []
        if error is not None:
            error.actions = tuple(actions)
            raise error
        return actions
    finally:
        lib.procreap_action_list_free(out)


def cleanup_step(kind: KindName, config: Config | None = None) -> list[Action]:
    """One cleanup step (SPEC §3): ``kind`` is ``"orphans"`` or ``"zombies"``.

    Raises a :class:`procreap.Error`; when signals were sent before the
    problem was found, the exception's ``actions`` lists them."""
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, not {type(kind).__name__}")
    if kind not in KINDS:
        raise InvalidArgument(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    k = KINDS.index(kind)
    lib = _lib.lib()
    with _c_config(config) as cfg:
        return _actions(lambda out, err: lib.procreap_cleanup_step(cfg, k, out, err))


def _identities(identities: Iterable[Identity]) -> Any:
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
            pid, start = i
        else:
            raise TypeError(
                f"an identity must be a Process or a (pid, start_time) tuple, not {i!r}"
            )
        for what, n in (("pid", pid), ("start_time", start)):
            if isinstance(n, bool) or not isinstance(n, int):
                raise TypeError(f"identity {what} must be an int, not {type(n).__name__}")
        if not 0 < pid <= 2**31 - 1:
            raise InvalidArgument(f"pid {pid} is not a process id")
        if not 0 <= start <= 2**64 - 1:
            raise InvalidArgument(f"start_time {start} is out of range")
        ids.append((pid, start))
    arr = (_lib.procreap_identity * max(len(ids), 1))()
    for n, (pid, start) in enumerate(ids):
        arr[n].pid = pid
        arr[n].start_time = start
    return arr, len(ids)


def reap_set(identities: Iterable[Identity], config: Config | None = None) -> list[Action]:
    """Cleans up exactly these identities (each must still be a candidate),
    nothing else; repeated calls escalate SIGTERM → SIGKILL like steps."""
    arr, n = _identities(identities)
    lib = _lib.lib()
    with _c_config(config) as cfg:
        return _actions(lambda out, err: lib.procreap_reap_set(cfg, arr, n, out, err))


def reap_now(
    identities: Iterable[Identity], deadline_secs: float, config: Config | None = None
) -> list[Action]:
    """SIGTERM each identity (each must still be a candidate), wait up to
    ``deadline_secs`` for it to exit, then SIGKILL the survivors; blocks,
    holding the ledger lock, and leaves the ledger for later steps to go on
    from."""
    ms = millis(seconds("deadline_secs", deadline_secs))
    arr, n = _identities(identities)
    lib = _lib.lib()
    with _c_config(config) as cfg:
        return _actions(lambda out, err: lib.procreap_reap_now(cfg, arr, n, ms, out, err))


def version() -> str:
    """The library's version, ``"MAJOR.MINOR.PATCH"``."""
    v: bytes = _lib.lib().procreap_version()
    return v.decode("ascii")

