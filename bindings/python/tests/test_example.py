"""The example and ``python -m procreap`` (the CLI's read-only commands)
run against real decoys, and never signal."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import procreap
from procreap import _lib

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parent.parent
EXAMPLE = REPO / "examples" / "python" / "orphans.py"


def run_py(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if env is None:
        env = dict(os.environ, PROCREAP_LIB=os.path.abspath(_lib.lib()._name), PYTHONPATH=str(PACKAGE_ROOT))
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )


def test_example_prints_a_table_and_a_dry_run_step(decoys, tmp_path):
    d = decoys.start(decoys.sleeper())
    out = run_py(
        [str(EXAMPLE), "--agent-name", d.name, "--min-age", "0", "--no-workspace",
         "--state-dir", str(tmp_path / "state")],
    )
    assert out.returncode == 0, out.stderr
    assert "PID" in out.stdout and "COMMAND" in out.stdout and "MiB resident" in out.stdout
    row = [line for line in out.stdout.splitlines() if line.startswith(str(d.pid))]
    assert row and d.name in row[0], out.stdout
    assert f"pid {d.pid}" in out.stdout and "sigterm" in out.stdout and "dry run" in out.stdout
    assert not d.exited()  # a dry run
    assert not (tmp_path / "state").exists()


def procreap_main(*args: str) -> subprocess.CompletedProcess[str]:
    return run_py(["-m", "procreap", *args])


PRIVATE_MARKER = f"PRT_LEAK_{secrets.token_hex(4)}=1"


def private(decoys, tmp_path) -> list[str]:
    """Flags that make `python -m procreap` see only this test's decoys."""
    flags = ["--min-age", "0", "--workspace-marker", "", "--state-dir", str(tmp_path / "state"),
             "--leak-marker", PRIVATE_MARKER]
    for n in decoys.names:
        flags += ["--agent-name", n]
    return flags


def test_module_scan_json_lists_the_decoys_and_signals_nothing(decoys, tmp_path):
    guard = decoys.start(decoys.sleeper())
    decoys.names.remove(guard.name)
    ds = [decoys.start(decoys.sleeper()) for _ in range(2)]
    out = procreap_main("scan", "--json", *private(decoys, tmp_path), "--protected-pid", str(guard.pid))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"orphans", "zombies", "zombies_error", "leaked"}
    assert sorted(p["pid"] for p in doc["orphans"]) == sorted(d.pid for d in ds)
    assert sorted(p["pid"] for p in doc["zombies"]) == sorted(d.pid for d in ds)
    assert doc["zombies_error"] is None and doc["leaked"] == []
    p = doc["orphans"][0]
    assert set(p) == {"pid", "start_time", "ppid", "name", "age_secs", "tty", "state",
                      "workspace_root", "cmdline", "uid", "rss_bytes"}
    assert p["uid"] == os.geteuid() and p["rss_bytes"] > 0
    assert not any(d.exited() for d in [guard, *ds])
    assert not (tmp_path / "state").exists()


def test_module_scan_text_and_a_blind_zombie_scan(decoys, tmp_path):
    d = decoys.start(decoys.sleeper())
    out = procreap_main("scan", *private(decoys, tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "orphans: 1"
    assert lines[1].split() == ["PID", "AGE", "TTY", "STATE", "UID", "RSS", "NAME", "WORKSPACE"]
    assert lines[2].split()[0] == str(d.pid) and d.name in lines[2]
    # Without tmux and with nothing protected the zombie scan is blind: a
    # note, not a failure (as the CLI); with a tmux server, a list.
    assert any(line.startswith("zombies: ") for line in lines)
    assert "leaked: none" in lines
    assert not d.exited()


def test_module_explain(decoys, tmp_path):
    d = decoys.start(decoys.sleeper())
    young = decoys.start(decoys.sleeper())
    out = procreap_main("explain", "--json", *private(decoys, tmp_path))
    assert out.returncode == 0, out.stderr
    verdicts = {v["pid"]: v for v in json.loads(out.stdout)}
    assert verdicts[d.pid]["verdict"] == "orphan" and verdicts[d.pid]["reason"]
    assert verdicts[young.pid]["name"] == young.name
    out = procreap_main("explain", *private(decoys, tmp_path), "--min-age", "3600")
    assert out.returncode == 0, out.stderr
    row = [line for line in out.stdout.splitlines() if line.startswith(str(d.pid))]
    assert row and "too-young" in row[0]
    assert not d.exited() and not young.exited()


def test_module_errors_and_usage(tmp_path):
    out = procreap_main("explain", "--agent-name", "prt-none", "--workspace-root", "relative",
                        "--leak-marker", PRIVATE_MARKER)
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.startswith("procreap: invalid argument: ") and "workspace_root" in out.stderr
    assert procreap_main("cleanup").returncode == 2  # not a read-only command: not here
    assert procreap_main("scan", "--bogus").returncode == 2
    out = procreap_main("explain", "--agent-name", "prt-none-at-all", "--leak-marker", PRIVATE_MARKER)
    assert out.returncode == 0 and "no agent process (names: prt-none-at-all)" in out.stdout


def test_module_never_reaches_a_signalling_call():
    """The module asks only the scan object's questions."""
    source = (Path(procreap.__file__).parent / "__main__.py").read_text()
    for name in ("cleanup_step", "reap_set", "reap_now", "dry_run"):
        assert name not in source, name
