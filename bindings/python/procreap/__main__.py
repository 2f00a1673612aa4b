"""``python -m procreap scan|explain``: the CLI's read-only commands.

Sends no signal and writes nothing: only the scan object's questions are
asked here (orphans, zombies, leaked; explain). Output as the CLI's: aligned
tables, or ``--json``::

    scan     {"orphans": [P...], "zombies": [P...] or null,
              "zombies_error": null or "message", "leaked": [P...]}
    explain  [{P fields..., "verdict", "reason"}...]

where P = {pid, start_time, ppid, name, age_secs, tty, state,
workspace_root, cmdline, uid, rss_bytes}. Exit status: 0 ok (also when the
zombie scan could not run for want of tmux), 1 error, 2 usage, 3 partial
(the zombie scan failed otherwise).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import _config
from ._api import Scan, scan
from ._config import Config, ConfigOptions
from ._enums import Argv0Match, Backend
from ._errors import Error, TmuxUnavailable
from ._types import Process, Verdict

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m procreap",
        description="Find AI-agent processes that outlived their sessions. "
        "Read-only: sends no signal (use the procreap CLI or the API to clean up).",
    )
    ap.add_argument("command", choices=["scan", "explain"],
                    help="scan: orphans, zombies and leaked descendants; "
                    "explain: every agent and marker process with its verdict")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    d = _config.default
    ap.add_argument("--agent-name", action="append", metavar="NAME",
                    help=f"agent process name (repeatable; replaces the defaults: "
                    f"{', '.join(d('agent_names'))})")
    ap.add_argument("--argv0-match", choices=list(Argv0Match),
                    help=f"when argv[0] names an agent (default {d('argv0_match')})")
    ap.add_argument("--min-age", type=float, metavar="SECS",
                    help=f"younger processes are never candidates (default {d('min_age_secs'):g})")
    ap.add_argument("--workspace-marker", metavar="PATH",
                    help=f"marker of a workspace root (default {d('workspace_marker')}; "
                    '"" = no workspace test)')
    ap.add_argument("--workspace-root", metavar="DIR",
                    help="only consider processes under this workspace root")
    ap.add_argument("--protected-pid", type=int, action="append", metavar="PID",
                    help="protected root pid (repeatable)")
    ap.add_argument("--tmux-socket", action="append", metavar="S",
                    help="extra tmux socket to ask for panes (repeatable)")
    ap.add_argument("--all-users", action="store_true", help="also consider other users' processes")
    ap.add_argument("--user", type=int, action="append", metavar="UID",
                    help="consider exactly these users' processes (repeatable)")
    ap.add_argument("--leak-marker", action="append", metavar="NAME[=VALUE]",
                    help=f"environment entry of an agent's children (repeatable; replaces "
                    f"the default {', '.join(d('leak_markers'))})")
    ap.add_argument("--state-dir", metavar="DIR", help="ledger directory (not written here)")
    ap.add_argument("--subprocess-timeout", type=float, metavar="SECS",
                    help=f"limit for tmux/ps (default {d('subprocess_timeout_secs'):g})")
    ap.add_argument("--backend", choices=list(Backend),
                    help=f"process-table backend (default {d('backend')})")
    return ap


#: flag destination -> Config keyword.
_KNOB_OF_FLAG = {
    "agent_name": "agent_names",
    "argv0_match": "argv0_match",
    "min_age": "min_age_secs",
    "workspace_marker": "workspace_marker",
    "workspace_root": "workspace_root",
    "protected_pid": "protected_pids",
    "tmux_socket": "tmux_sockets",
    "user": "users",
    "leak_marker": "leak_markers",
    "state_dir": "state_dir",
    "subprocess_timeout": "subprocess_timeout_secs",
    "backend": "backend",
}


def _options(args: argparse.Namespace) -> ConfigOptions:
    given: dict[str, Any] = {
        knob: getattr(args, flag) for flag, knob in _KNOB_OF_FLAG.items()
        if getattr(args, flag) is not None
    }
    if args.all_users:
        given["all_users"] = True
    return given  # type: ignore[return-value]


def _clean(s: str) -> str:
    """No terminal control characters from another process's name or argv."""
    return "".join(c if c.isprintable() else "?" for c in s)


def _age(secs: float) -> str:
    s = int(secs)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _rss(n: int) -> str:
    if n == 0:
        return "-"
    if n < 1024:
        return f"{n}B"
    size = n / 1024
    for unit in ("K", "M"):
        if size < 1024:
            return f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}G"


def _cells(p: Process) -> list[str]:
    return [
        str(p.pid),
        "-" if p.state == "?" else _age(p.age_secs),
        _clean(p.tty) if p.tty else "-",
        p.state,
        "-" if p.uid is None else str(p.uid),
        _rss(p.rss_bytes),
        _clean(p.name) or "-",
    ]


def _table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = []
    for r in [head, *rows]:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths)] + [r[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


_HEAD = ["PID", "AGE", "TTY", "STATE", "UID", "RSS", "NAME"]


def _process_table(ps: list[Process]) -> str:
    return _table([*_HEAD, "WORKSPACE"], [[*_cells(p), _clean(p.workspace_root or "-")] for p in ps])


def _section(title: str, ps: list[Process]) -> str:
    if not ps:
        return f"{title}: none\n"
    return f"{title}: {len(ps)}\n{_process_table(ps)}"


def _verdict_json(v: Verdict) -> dict[str, Any]:
    return {**dataclasses.asdict(v.process), "verdict": v.verdict, "reason": v.reason}


def _scan_command(s: Scan, as_json: bool) -> tuple[str, int]:
    orphans = s.orphans()
    leaked = s.leaked()
    zombies: list[Process] | None = None
    zombies_error: Error | None = None
    try:
        zombies = s.zombies()
    except Error as e:
        zombies_error = e
    code = EXIT_OK if zombies_error is None or isinstance(zombies_error, TmuxUnavailable) else EXIT_PARTIAL
    if as_json:
        doc = {
            "orphans": [dataclasses.asdict(p) for p in orphans],
            "zombies": None if zombies is None else [dataclasses.asdict(p) for p in zombies],
            "zombies_error": None if zombies_error is None else str(zombies_error),
            "leaked": [dataclasses.asdict(p) for p in leaked],
        }
        return json.dumps(doc, indent=2) + "\n", code
    out = _section("orphans", orphans)
    if zombies is not None:
        out += _section("zombies", zombies)
    elif isinstance(zombies_error, TmuxUnavailable):
        out += f"zombies: not scanned ({zombies_error}); informational only\n"
    else:
        out += f"zombies: scan failed: {zombies_error}\n"
    out += _section("leaked", leaked)
    return out, code


def _explain_command(s: Scan, as_json: bool, names: Sequence[str]) -> str:
    vs = s.explain()
    if as_json:
        return json.dumps([_verdict_json(v) for v in vs], indent=2) + "\n"
    if not vs:
        return f"no agent process (names: {_clean(', '.join(names))})\n"
    rows = [[*_cells(v.process), v.verdict, _clean(v.reason)] for v in vs]
    return _table([*_HEAD, "VERDICT", "REASON"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with Config(**_options(args)) as cfg, scan(cfg) as s:
            if args.command == "scan":
                text, code = _scan_command(s, args.json)
            else:
                text, code = _explain_command(s, args.json, cfg.agent_names), EXIT_OK
    except (Error, TypeError) as e:
        print(f"procreap: {e}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(text)
    if code == EXIT_PARTIAL:
        print("procreap: zombie scan failed (see above)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
