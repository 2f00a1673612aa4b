"""Result dataclasses and the configuration, validated before it crosses the ABI."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from ._errors import InvalidArgument

__all__ = [
    "ACTIONS",
    "BACKENDS",
    "DEFAULT_AGENT_NAMES",
    "DEFAULT_IDE_MARKERS",
    "DEFAULT_PROTECTED_PID_FILES",
    "VERDICTS",
    "Action",
    "Config",
    "Process",
    "Verdict",
]

#: Action names by ``procreap_action_kind`` value.
ACTIONS: tuple[str, ...] = (
    "sigterm",
    "waiting",
    "sigkill",
    "unkillable",
    "exited",
    "released",
    "skipped",
)

#: Verdict names by ``procreap_verdict_kind`` value (rule order: first match wins).
VERDICTS: tuple[str, ...] = (
    "defunct",
    "other-user",
    "protected",
    "has-tty",
    "ide-launched",
    "too-young",
    "outside-workspace",
    "orphan",
)

#: Signal names by ``procreap_signal`` value.
SIGNALS: dict[int, str | None] = {0: None, 9: "SIGKILL", 15: "SIGTERM"}

#: Backend names by ``procreap_backend`` value.
BACKENDS: tuple[str, ...] = ("auto", "proc", "ps")

#: Scan kinds by ``procreap_kind`` value.
KINDS: tuple[str, ...] = ("orphans", "zombies")

ActionName = Literal["sigterm", "waiting", "sigkill", "unkillable", "exited", "released", "skipped"]
VerdictName = Literal[
    "defunct",
    "other-user",
    "protected",
    "has-tty",
    "ide-launched",
    "too-young",
    "outside-workspace",
    "orphan",
]
SignalName = Literal["SIGTERM", "SIGKILL"]
BackendName = Literal["auto", "proc", "ps"]
KindName = Literal["orphans", "zombies"]

# SPEC §2: what Gas Town does today; the same as the C defaults.
DEFAULT_AGENT_NAMES: tuple[str, ...] = (
    "claude",
    "claude-code",
    "codex",
    "opencode",
    "cursor-agent",
    "agent",
    "copilot",
)
DEFAULT_IDE_MARKERS: tuple[str, ...] = (
    "vscode-server",
    "vscode/extensions",
    ".cursor-server",
    ".cursor/extensions",
)
DEFAULT_PROTECTED_PID_FILES: tuple[str, ...] = ("~/gt/mayor/mayor-acp.pid",)

_PID_MAX = 2**31 - 1
_U64_MAX = 2**64 - 1


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

    @property
    def identity(self) -> tuple[int, int]:
        """``(pid, start_time)``: what reap_set and reap_now take."""
        return (self.pid, self.start_time)


@dataclass(frozen=True)
class Action:
    """What a cleanup did (or, in a dry run, would do) to one process."""

    process: Process
    action: ActionName
    signal: SignalName | None
    reason: str
    error: str | None


@dataclass(frozen=True)
class Verdict:
    """An agent process with its verdict and a human reason."""

    process: Process
    verdict: VerdictName
    reason: str


PathLike = Union[str, "os.PathLike[str]"]


def _type_name(v: object) -> str:
    return type(v).__name__


def _bool(name: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{name} must be a bool, not {_type_name(v)}")
    return v


def seconds(name: str, v: object, *, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {_type_name(v)}")
    f = float(v)
    if math.isnan(f) or math.isinf(f):
        raise InvalidArgument(f"{name} must be finite, not {v!r}")
    if f < 0:
        raise InvalidArgument(f"{name} must not be negative, not {v!r}")
    if positive and f == 0:
        raise InvalidArgument(f"{name} must be positive")
    if f * 1000 > _U64_MAX:
        raise InvalidArgument(f"{name} is too large: {v!r}")
    return f


def millis(secs: float) -> int:
    """Seconds to whole milliseconds; a positive value never rounds to 0."""
    ms = round(secs * 1000)
    return 1 if ms == 0 and secs > 0 else ms


def _no_nul(name: str, s: str) -> str:
    if "\0" in s:
        raise InvalidArgument(f"{name} {s!r} holds a NUL character")
    return s


def _str(name: str, v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, not {_type_name(v)}")
    return _no_nul(name, v)


def _path(name: str, v: object) -> str:
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str or os.PathLike, not {_type_name(v)}")
    return _no_nul(name, v)


def _list(name: str, v: object) -> list[object]:
    # A bare string is iterable too: catch the classic agent_names="claude" bug.
    if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
        raise TypeError(f"{name} must be a list, not {_type_name(v)}")
    return list(v)


@dataclass(kw_only=True)
class Config:
    """Every knob of SPEC §2; the defaults are the C defaults (Gas Town's).

    Values are checked when the object is made and again each time it is
    used (it is mutable), before anything crosses into C: a wrong type
    raises :class:`TypeError`, an unusable value :class:`procreap.InvalidArgument`.
    """

    agent_names: list[str] = field(default_factory=lambda: list(DEFAULT_AGENT_NAMES))
    match_argv0: bool = True
    min_age_secs: float = 60.0
    grace_secs: float = 60.0
    workspace_marker: str = "mayor/town.json"
    workspace_root: PathLike | None = None
    ide_markers: list[str] = field(default_factory=lambda: list(DEFAULT_IDE_MARKERS))
    protected_pid_files: list[PathLike] = field(
        default_factory=lambda: list(DEFAULT_PROTECTED_PID_FILES)
    )
    protected_pids: list[int] = field(default_factory=list)
    tmux_sockets: list[str] = field(default_factory=list)
    all_users: bool = False
    kill_tree: bool = False
    state_dir: PathLike | None = None
    dry_run: bool = False
    subprocess_timeout_secs: float = 2.0
    lock_timeout_secs: float = 5.0
    backend: BackendName = "auto"

    def __post_init__(self) -> None:
        for k, v in self.checked().items():
            object.__setattr__(self, k, v)

    def validate(self) -> None:
        """Raises TypeError or InvalidArgument if any field is unusable."""
        self.checked()

    def checked(self) -> dict[str, Any]:
        """Every field, checked and normalised (lists as ``list``, paths as
        ``str``), without changing ``self``: what crosses into C."""
        out: dict[str, Any] = {}
        names = [_str("agent name", n) for n in _list("agent_names", self.agent_names)]
        if not names:
            raise InvalidArgument("agent_names is empty: nothing could ever match")
        for n in names:
            if not n or "/" in n:
                raise InvalidArgument(f"agent name {n!r} must be a non-empty file name")
        out["agent_names"] = names

        out["match_argv0"] = _bool("match_argv0", self.match_argv0)
        out["min_age_secs"] = seconds("min_age_secs", self.min_age_secs)
        out["grace_secs"] = seconds("grace_secs", self.grace_secs)
        out["subprocess_timeout_secs"] = seconds(
            "subprocess_timeout_secs", self.subprocess_timeout_secs, positive=True
        )
        out["lock_timeout_secs"] = seconds("lock_timeout_secs", self.lock_timeout_secs)

        marker = _str("workspace_marker", self.workspace_marker)
        if marker.startswith("/"):
            raise InvalidArgument(f"workspace_marker {marker!r} must be a relative path")
        out["workspace_marker"] = marker

        root = None
        if self.workspace_root is not None:
            root = _path("workspace_root", self.workspace_root)
            if not os.path.isabs(root):
                raise InvalidArgument(f"workspace_root {root!r} must be absolute")
        out["workspace_root"] = root

        markers = [_str("IDE marker", m) for m in _list("ide_markers", self.ide_markers)]
        for m in markers:
            if not m:
                raise InvalidArgument("an IDE marker is empty: it would match every process")
        out["ide_markers"] = markers

        pid_files = [
            _path("protected pid file", p)
            for p in _list("protected_pid_files", self.protected_pid_files)
        ]
        for f in pid_files:
            if not (os.path.isabs(f) or f == "~" or f.startswith("~/")):
                raise InvalidArgument(
                    f"protected pid file {f!r} must be an absolute path (or start with ~/)"
                )
        out["protected_pid_files"] = pid_files

        pids: list[int] = []
        for p in _list("protected_pids", self.protected_pids):
            if isinstance(p, bool) or not isinstance(p, int):
                raise TypeError(f"protected pid must be an int, not {_type_name(p)}")
            if not 0 < p <= _PID_MAX:
                raise InvalidArgument(f"protected pid {p} is not a process id")
            pids.append(p)
        out["protected_pids"] = pids

        sockets = [_str("tmux socket", s) for s in _list("tmux_sockets", self.tmux_sockets)]
        for s in sockets:
            if not s:
                raise InvalidArgument("a tmux socket name is empty")
        out["tmux_sockets"] = sockets

        out["all_users"] = _bool("all_users", self.all_users)
        out["kill_tree"] = _bool("kill_tree", self.kill_tree)
        out["dry_run"] = _bool("dry_run", self.dry_run)
        state_dir = None
        if self.state_dir is not None:
            state_dir = _path("state_dir", self.state_dir)
            if not os.path.isabs(state_dir):
                raise InvalidArgument(f"state_dir {state_dir!r} must be an absolute path")
        out["state_dir"] = state_dir

        backend = _str("backend", self.backend)
        if backend not in BACKENDS:
            raise InvalidArgument(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
        out["backend"] = backend
        return out
