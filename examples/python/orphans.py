#!/usr/bin/env python3
"""List orphaned AI-agent processes as a table, then run one DRY-RUN cleanup
step and show what it would do. Sends no signal, writes no ledger.

    PROCREAP_LIB=target/release/libprocreap.so python3 examples/python/orphans.py
    python3 examples/python/orphans.py --agent-name my-agent --min-age 0 --no-workspace

Without flags it uses procreap's defaults (SPEC §2: Gas Town's agent names,
60 s minimum age, the mayor/town.json workspace marker).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import procreap
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import procreap


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def age(secs: float) -> str:
    s = int(secs)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agent-name", action="append", help="agent process name (repeatable)")
    ap.add_argument("--min-age", type=float, help="minimum age in seconds (default 60)")
    ap.add_argument("--workspace-marker", help="workspace marker (default mayor/town.json)")
    ap.add_argument("--no-workspace", action="store_true", help="no workspace test")
    ap.add_argument("--state-dir", help="ledger directory (read only in a dry run)")
    args = ap.parse_args(argv)

    kw: dict[str, object] = {"dry_run": True}  # this example never signals
    if args.agent_name:
        kw["agent_names"] = args.agent_name
    if args.min_age is not None:
        kw["min_age_secs"] = args.min_age
    if args.no_workspace:
        kw["workspace_marker"] = ""
    elif args.workspace_marker is not None:
        kw["workspace_marker"] = args.workspace_marker
    if args.state_dir:
        kw["state_dir"] = args.state_dir
    try:
        cfg = procreap.Config(**kw)  # type: ignore[arg-type]
        orphans = procreap.find_orphans(cfg)
    except (procreap.Error, procreap.LibraryNotFound, TypeError) as e:
        print(f"procreap: {e}", file=sys.stderr)
        return 1

    print(f"procreap {procreap.version()}: {len(orphans)} orphaned agent process(es)")
    if orphans:
        rows = [
            [str(p.pid), str(p.ppid), p.name, age(p.age_secs), p.state,
             p.workspace_root or "-", p.cmdline[:60]]
            for p in orphans
        ]
        print(table(rows, ["PID", "PPID", "NAME", "AGE", "S", "WORKSPACE", "COMMAND"]))

    print("\ncleanup step (dry run: nothing is sent):")
    try:
        actions = procreap.cleanup_step("orphans", cfg)
    except procreap.Error as e:
        print(f"procreap: {type(e).__name__}: {e}", file=sys.stderr)
        actions = list(e.actions)
        if not actions:
            return 1
    if not actions:
        print("  nothing to do")
    for a in actions:
        print(f"  pid {a.process.pid:<7} {a.action:<10} {a.signal or '-':<8} {a.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
