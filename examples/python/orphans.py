#!/usr/bin/env python3
"""List orphaned AI-agent processes as a table, then run one DRY-RUN cleanup
step and show what it would do. Sends no signal, writes no ledger.

    pip install ./bindings/python                # builds and bundles the library
    python3 examples/python/orphans.py
    python3 examples/python/orphans.py --agent-name my-agent --min-age 0 --no-workspace

Without flags it uses the library's defaults (SPEC §2: Gas Town's agent
names, 60 s minimum age, the mayor/town.json workspace marker).
"""

from __future__ import annotations

import argparse
import sys

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
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--agent-name", action="append", help="agent process name (repeatable)")
    ap.add_argument("--min-age", type=float, help="minimum age in seconds")
    ap.add_argument("--workspace-marker", help="workspace marker")
    ap.add_argument("--no-workspace", action="store_true", help="no workspace test")
    ap.add_argument("--state-dir", help="ledger directory (read only in a dry run)")
    args = ap.parse_args(argv)

    try:
        # One C configuration, made once and used by both calls below.
        cfg = procreap.Config(dry_run=True)  # this example never signals
        if args.agent_name:
            cfg.agent_names = args.agent_name
        if args.min_age is not None:
            cfg.min_age_secs = args.min_age
        if args.no_workspace:
            cfg.workspace_marker = ""
        elif args.workspace_marker is not None:
            cfg.workspace_marker = args.workspace_marker
        if args.state_dir:
            cfg.state_dir = args.state_dir
        with procreap.scan(cfg) as s:  # the process table, read once
            orphans = s.orphans()
    except (procreap.Error, TypeError) as e:
        print(f"procreap: {e}", file=sys.stderr)
        return 1

    held = sum(p.rss_bytes for p in orphans)
    print(f"procreap {procreap.version()}: {len(orphans)} orphaned agent process(es), "
          f"{held / 2**20:.1f} MiB resident")
    if orphans:
        rows = [
            [str(p.pid), str(p.ppid), p.name, age(p.age_secs), p.state,
             f"{p.rss_bytes / 2**20:.1f}M", p.workspace_root or "-", p.cmdline[:60]]
            for p in orphans
        ]
        print(table(rows, ["PID", "PPID", "NAME", "AGE", "S", "RSS", "WORKSPACE", "COMMAND"]))

    print("\ncleanup step (dry run: nothing is sent):")
    try:
        report = procreap.cleanup_step(procreap.Kind.ORPHANS, cfg)
    except procreap.Error as e:
        print(f"procreap: {type(e).__name__}: {e}", file=sys.stderr)
        if not e.actions:
            return 1
        report = e.report or procreap.Report(e.actions)
    if not report:
        print("  nothing to do")
    for a in report:
        print(f"  pid {a.process.pid:<7} {a.action:<10} {a.signal or '-':<8} {a.reason}")
    if report.next_due is not None:
        print(f"  next step due in {report.next_due:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
