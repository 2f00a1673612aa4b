"""The Python contenders of `make bench`.

Reads the bench's configuration (JSON, the one argument), prints one line
"ready <psutil version or 'none: why'>", then answers each request line on
stdin with the time it took, measured here, in-process:

- "pair": one procreap scan object asked for orphans and zombies (the
  binding in bindings/python, loading PROCREAP_LIB);
- "psutil": the obvious psutil code for the same question, or "skip <why>"
  when psutil cannot be imported.

Each answer is "<ms> <cpu_ms> <orphans> <zombies>" (wall-clock and process
CPU time), or "error <why>".
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "bindings", "python"))

import procreap  # noqa: E402

try:
    import psutil
except ImportError as e:  # the bench reports the skip
    psutil = None
    PSUTIL_MISSING = str(e)

VERSION_LIKE = re.compile(r"^[0-9][0-9.]*$")


def pair(cfg: procreap.Config) -> tuple[int, int]:
    """What a Python caller that wants both lists runs."""
    with procreap.scan(cfg) as s:
        return len(s.orphans()), len(s.zombies())


def psutil_pair(bc: dict) -> tuple[int, int]:
    """The psutil way to the same answer: every process by name; for a name
    (or a version-named binary whose argv[0] is a name) the terminal, age,
    tmux ancestry, IDE markers and workspace. The zombie test is the orphan
    test where tmux can be seen, so one pass gives both lists."""
    names = {n.lower() for n in bc["agent_names"]}
    min_age = bc["min_age_ms"] / 1000.0
    root = os.path.realpath(bc["workspace_root"])
    ide = procreap.DEFAULT_IDE_MARKERS
    now = time.time()
    found = []
    for p in psutil.process_iter(["name"]):
        name = (p.info["name"] or "").lower()
        try:
            if name not in names:
                if not VERSION_LIKE.match(name):
                    continue
                argv = p.cmdline()
                if not argv or os.path.basename(argv[0]).lower() not in names:
                    continue
            with p.oneshot():
                if in_tmux(p) or p.terminal() is not None or now - p.create_time() < min_age:
                    continue
                line = " ".join(p.cmdline())
                if any(m in line for m in ide):
                    continue
                cwd = p.cwd()
        except psutil.Error:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(p.pid)
    return len(found), len(found)


def in_tmux(p: "psutil.Process") -> bool:
    return any(a.name().startswith("tmux") for a in p.parents())


def main() -> None:
    # Ctrl-C reaches the whole process group: end quietly, the bench reports.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    bc = json.loads(sys.argv[1])
    cfg = procreap.Config(
        agent_names=bc["agent_names"],
        min_age_secs=bc["min_age_ms"] / 1000.0,
        workspace_marker=bc["workspace_marker"],
        workspace_root=bc["workspace_root"],
        state_dir=bc["state_dir"],
        leak_markers=bc["leak_markers"],
        protected_pid_files=bc["protected_pid_files"],
        dry_run=True,
    )
    ready = psutil.__version__ if psutil else "none: " + PSUTIL_MISSING
    print("ready", ready, flush=True)
    for line in sys.stdin:
        req = line.strip()
        if req == "psutil" and psutil is None:
            print("skip", PSUTIL_MISSING, flush=True)
            continue
        run = {"pair": lambda: pair(cfg), "psutil": lambda: psutil_pair(bc)}.get(req)
        if run is None:
            print("error unknown request", repr(req), flush=True)
            continue
        t, cpu = time.perf_counter(), time.process_time()
        try:
            o, z = run()
        except Exception as e:  # reported, and the bench stops
            print("error", repr(e).replace("\n", " "), flush=True)
            continue
        ms = (time.perf_counter() - t) * 1000.0
        cpu_ms = (time.process_time() - cpu) * 1000.0
        print(f"{ms:.4f} {cpu_ms:.4f} {o} {z}", flush=True)


if __name__ == "__main__":
    main()
