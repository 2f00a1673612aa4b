"""procreap: find AI-agent processes that outlived their sessions (orphans,
zombies, and the tool processes a dead agent left behind) and reap them
safely — SIGTERM, a grace period, SIGKILL — one step per call. A ctypes
binding of libprocreap's C ABI (``include/procreap.h``).

The library ships inside this package (``pip install`` builds it); set
``PROCREAP_LIB`` to use another build. Importing the package loads it.

    >>> import procreap
    >>> with procreap.Config(min_age_secs=120, dry_run=True) as cfg:
    ...     with procreap.scan(cfg) as s:
    ...         for p in s.orphans():
    ...             print(p.pid, p.name, p.age_secs, p.rss_bytes)
"""

from ._lib import LibraryNotFound  # first: importing the rest loads the library
from ._api import (
    Identity,
    Scan,
    cleanup_step,
    explain,
    find_leaked,
    find_orphans,
    find_zombies,
    reap_now,
    reap_set,
    scan,
    version,
)
from ._config import Config, ConfigOptions, default
from ._enums import ActionKind, Argv0Match, Backend, Delivery, Kind, VerdictKind
from ._errors import (
    CommandFailed,
    Error,
    InvalidArgument,
    IoError,
    LedgerCorrupt,
    LockTimeout,
    NullParameter,
    Panic,
    PermissionDenied,
    PidNamespace,
    SignalFailed,
    TmuxFailed,
    TmuxUnavailable,
    UnsafeStatePath,
    UnsupportedPlatform,
)
from ._types import Action, Process, Report, Verdict

#: Every action name, in the library's order (the members of ActionKind).
ACTIONS: tuple[ActionKind, ...] = tuple(ActionKind)
#: Every verdict name, in the library's order (the members of VerdictKind).
VERDICTS: tuple[VerdictKind, ...] = tuple(VerdictKind)
#: Every scan kind (the members of Kind).
KINDS: tuple[Kind, ...] = tuple(Kind)
#: The library's default agent names (its getter on a NULL configuration).
DEFAULT_AGENT_NAMES: tuple[str, ...] = default("agent_names")
#: The library's default IDE markers.
DEFAULT_IDE_MARKERS: tuple[str, ...] = default("ide_markers")

del default

__all__ = [
    "ACTIONS",
    "DEFAULT_AGENT_NAMES",
    "DEFAULT_IDE_MARKERS",
    "KINDS",
    "VERDICTS",
    "Action",
    "ActionKind",
    "Argv0Match",
    "Backend",
    "CommandFailed",
    "Config",
    "ConfigOptions",
    "Delivery",
    "Error",
    "Identity",
    "InvalidArgument",
    "IoError",
    "Kind",
    "LedgerCorrupt",
    "LibraryNotFound",
    "LockTimeout",
    "NullParameter",
    "Panic",
    "PermissionDenied",
    "PidNamespace",
    "Process",
    "Report",
    "Scan",
    "SignalFailed",
    "TmuxFailed",
    "TmuxUnavailable",
    "UnsafeStatePath",
    "UnsupportedPlatform",
    "Verdict",
    "VerdictKind",
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
