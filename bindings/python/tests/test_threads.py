"""Concurrency: a Config (one C configuration) and a Scan are read by many
threads at once, an assignment or close waits for the calls in flight, error
objects are per call, and the ledger lock keeps concurrent steps honest."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

import procreap
from decoys import wait_until


def test_eight_threads_scanning_at_once(decoys, make_config):
    ds = [decoys.start(decoys.sleeper()) for _ in range(3)]
    want = sorted(d.identity for d in ds)
    cfg = make_config()
    barrier = threading.Barrier(8)

    def worker(n: int) -> int:
        barrier.wait()
        for i in range(6):
            if (n + i) % 3 == 0:
                got = sorted(p.identity for p in procreap.find_orphans(cfg))
            elif (n + i) % 3 == 1:
                got = sorted(v.process.identity for v in procreap.explain(cfg) if v.verdict == "orphan")
            else:
                got = sorted(p.identity for p in procreap.find_zombies(
                    make_config(protected_pids=[ds[0].pid])))
                got = sorted([*got, ds[0].identity])  # the protected one is no zombie
            assert got == want, (n, i, got)
        return n

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(worker, range(8))) == list(range(8))
    assert not any(d.exited() for d in ds)


def test_errors_in_threads_keep_their_own_messages(decoys, make_config, tmp_path):
    """Error detail comes through the out-parameter, never thread-local
    state: each thread gets the message of its own failure."""
    dirs = []
    for n in range(8):
        d = tmp_path / f"not-a-pid-file-{n}"
        d.mkdir()
        dirs.append(d)
    barrier = threading.Barrier(8)

    def worker(n: int) -> str:
        barrier.wait()
        for _ in range(10):
            try:
                procreap.find_orphans(make_config(protected_pid_files=[dirs[n]]))
            except procreap.IoError as e:
                assert str(dirs[n]) in str(e), (n, str(e))
            else:
                raise AssertionError("no error")
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(worker, range(8))) == ["ok"] * 8


def test_concurrent_steps_send_one_sigterm_per_process(decoys, make_config):
    """Eight threads step at once over one state dir: the ledger lock makes
    sure each decoy gets exactly one SIGTERM in total."""
    ds = [decoys.start(decoys.term_ignorer(), []) for _ in range(3)]
    cfg = make_config(grace_secs=60, lock_timeout_secs=30)
    barrier = threading.Barrier(8)

    def worker(_: int) -> list[procreap.Action]:
        barrier.wait()
        return procreap.cleanup_step("orphans", cfg)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    counts = Counter((a.process.pid, a.action) for acts in results for a in acts)
    for d in ds:
        assert counts[(d.pid, "sigterm")] == 1, counts
        assert counts[(d.pid, "waiting")] == 7, counts


def test_one_scan_from_eight_threads(decoys, make_config):
    ds = [decoys.start(decoys.sleeper()) for _ in range(3)]
    want = sorted(d.identity for d in ds)
    barrier = threading.Barrier(8)
    with procreap.scan(make_config()) as s:

        def worker(n: int) -> int:
            barrier.wait()
            for i in range(6):
                if (n + i) % 2:
                    got = sorted(p.identity for p in s.orphans())
                else:
                    got = sorted(v.process.identity for v in s.explain() if v.verdict == "orphan")
                assert got == want, (n, i, got)
            return n

        with ThreadPoolExecutor(8) as pool:
            assert sorted(pool.map(worker, range(8))) == list(range(8))


def test_assignments_while_other_threads_scan(decoys, make_config):
    """A knob changed while calls use the same Config: each call sees one
    whole configuration, before or after (never a half-written one)."""
    d = decoys.start(decoys.sleeper())
    cfg = make_config()
    stop = threading.Event()

    def flip() -> int:
        n = 0
        while not stop.is_set():
            cfg.min_age_secs = 3600 if n % 2 else 0
            cfg.tmux_sockets = [f"prt-none-{n}"] if n % 3 == 0 else []
            n += 1
            # A writer that never pauses starves the readers of a fair
            # lock (each assignment waits for the calls in flight, and new
            # calls wait for it): flip often, not without end.
            time.sleep(0.001)
        return n

    def scan(_: int) -> set[int]:
        seen = set()
        for _ in range(10):
            seen.add(len(procreap.find_orphans(cfg)))
        return seen

    with ThreadPoolExecutor(5) as pool:
        flipper = pool.submit(flip)
        try:
            results = list(pool.map(scan, range(4)))
        finally:
            stop.set()
        assert flipper.result() > 0
    assert set().union(*results) <= {0, 1}
    assert not d.exited()


def test_close_waits_for_calls_in_flight(decoys, make_config, tmp_path, monkeypatch):
    """close() during a call (held up in a tmux query of ours) waits for it:
    the call finishes normally before close returns; later calls are refused."""
    mark = tmp_path / "in-flight"
    slow = tmp_path / "slow-tmux"
    slow.write_text(f"#!/bin/sh\ntouch '{mark}'\nsleep 0.5\nexit 1\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PROCREAP_TMUX", str(slow))
    cfg = make_config(tmux_sockets=["prt-none"])

    def call() -> str:
        try:
            procreap.find_orphans(cfg)
        except procreap.TmuxFailed:
            return "tmux failed"
        return "ok"

    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(call)
        assert wait_until(mark.exists, 10)  # the C call is under way
        cfg.close()
        assert fut.done() and fut.result() == "tmux failed"
    assert cfg.closed
    with pytest.raises(ValueError, match="closed"):
        procreap.find_orphans(cfg)
