"""procreap: find AI-agent processes that outlived their sessions (orphans and
zombies) and reap them safely — SIGTERM, a grace period, SIGKILL — one step
per call. A ctypes binding of libprocreap's C ABI (``include/procreap.h``).

The shared library is found through ``$PROCREAP_LIB``, else beside this
package, else in the repository's ``target/release`` or ``target/debug``.

    >>> import procreap
    >>> cfg = procreap.Config(min_age_secs=120, dry_run=True)
    >>> for p in procreap.find_orphans(cfg):
    ...     print(p.pid, p.name, p.age_secs)
"""

from ._api import (
    Identity,
    cleanup_step,
    explain,
    find_orphans,
    find_zombies,
    reap_now,
    reap_set,
    version,
)
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
    SignalFailed,
    TmuxFailed,
    TmuxUnavailable,
    UnsafeStatePath,
    UnsupportedPlatform,
)
from ._lib import LibraryNotFound
from ._types import (
    ACTIONS,
    DEFAULT_AGENT_NAMES,
    DEFAULT_IDE_MARKERS,
    VERDICTS,
    Action,
    Config,
    Process,
    Verdict,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_AGENT_NAMES",
    "DEFAULT_IDE_MARKERS",
    "VERDICTS",
    "Action",
    "CommandFailed",
    "Config",
    "Error",
    "Identity",
    "InvalidArgument",
    "IoError",
    "LedgerCorrupt",
    "LibraryNotFound",
    "LockTimeout",
    "NullParameter",
    "Panic",
    "PermissionDenied",
    "Process",
    "SignalFailed",
    "TmuxFailed",
    "TmuxUnavailable",
    "UnsafeStatePath",
    "UnsupportedPlatform",
    "Verdict",
    "cleanup_step",
    "explain",
    "find_orphans",
    "find_zombies",
    "reap_now",
    "reap_set",
    "version",
]
