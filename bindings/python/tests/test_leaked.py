"""Leaked descendants on real processes (issue 15), and what a cleanup call
reports about them beyond its actions (issue 14: next_due, the audit
trail). Each test has its own agent names and its own leak marker
``PRT_LEAK_<random>=1``, never the agent CLI's; the agent is a decoy script
that leads its own process group and starts one child in it (``mcp-<hex>``),
with the marker in the child's environment only. Killing the agent (a
crash) leaves the child behind, handed to the test process (a subreaper)."""

from __future__ import annotations

import json
import os
import pty
import secrets
import time

import pytest

import procreap
from decoys import read_stat, vm_rss, wait_until


def private_marker() -> tuple[str, dict[str, str]]:
    """A fresh marker, as configured and as a decoy's environment."""
    name = f"PRT_LEAK_{secrets.token_hex(4).upper()}"
    return f"{name}=1", {name: "1"}


def verdict(cfg, pid):
    found = [v for v in procreap.explain(cfg) if v.process.pid == pid]
    assert len(found) <= 1, found
    return found[0] if found else None


def leaked(cfg):
    return [p.pid for p in procreap.find_leaked(cfg)]


def actions(report, pid):
    return [(a.action, a.signal) for a in report if a.process.pid == pid]


def group(pid: int) -> tuple[int, int]:
    """(pgid, sid) from /proc/PID/stat."""
    data = open(f"/proc/{pid}/stat", "rb").read().decode()
    rest = data[data.rindex(")") + 2 :].split()
    return int(rest[2]), int(rest[3])


def test_a_marker_child_is_kept_while_its_agent_lives_and_leaked_once_it_died(decoys, make_config, tmp_path):
    marker, env = private_marker()
    work = tmp_path / "work"
    work.mkdir()
    agent, child = decoys.agent_with_child(env=env, cwd=work)
    assert group(child.pid) == (agent.pid, agent.pid)
    cfg = make_config(leak_markers=[marker])

    v = verdict(cfg, child.pid)
    assert (v.verdict, v.reason) == (
        procreap.VerdictKind.LEADER_ALIVE,
        f"carries {marker}; its process group leader pid {agent.pid} ({agent.name}) is alive",
    )
    assert leaked(cfg) == []
    assert actions(procreap.cleanup_step("leaked", cfg), child.pid) == []

    agent.kill()
    [p] = procreap.find_leaked(cfg)
    assert p.identity == child.identity
    assert (p.name, p.tty, p.uid) == (child.name, None, os.geteuid())
    # Handed to us, a subreaper (unless the decoys were detached from a tmux pane).
    parent = p.ppid if decoys.detached else os.getpid()
    assert p.ppid == parent
    assert p.rss_bytes > 0 and p.cmdline.endswith(f"{child.name} 3600")
    with procreap.scan(cfg) as s:
        assert [x.identity for x in s.leaked()] == [child.identity]
        assert s.orphans() == []
    v = verdict(cfg, child.pid)
    assert v.verdict == "leaked"
    assert v.reason.startswith(
        f"carries {marker}; its process group leader pid {agent.pid} is gone; parent pid {parent} ("
    ), v.reason
    assert f"no live agent above it or in its project {os.path.realpath(work)}; no terminal" in v.reason

    r = procreap.cleanup_step(procreap.Kind.LEAKED, cfg)
    assert actions(r, child.pid) == [("sigterm", "SIGTERM")]
    assert [a.process.pid for a in r] == [child.pid]
    assert child.wait_exited(5)
    assert actions(procreap.cleanup_step("leaked", cfg), child.pid) == [("exited", None)]


def test_a_leaked_child_that_ignores_sigterm_is_escalated_on_time_and_audited(decoys, make_config, state_dir):
    marker, env = private_marker()
    agent, child = decoys.agent_with_child(env=env, ignore_term=True)
    grace = 1.0
    cfg = make_config(leak_markers=[marker], grace_secs=grace)
    agent.kill()

    # The SIGTERM went out between t0 and t1: at t1, between grace-(t1-t0)
    # and grace is left; next_due is within 100 ms of that.
    t0 = time.monotonic()
    r = procreap.cleanup_step("leaked", cfg)
    t1 = time.monotonic()
    assert actions(r, child.pid) == [("sigterm", "SIGTERM")]
    assert grace - (t1 - t0) - 0.1 <= r.next_due <= grace + 0.1, r
    time.sleep(0.3)
    assert not child.exited()
    t2 = time.monotonic()
    r = procreap.cleanup_step("leaked", cfg)
    t3 = time.monotonic()
    assert actions(r, child.pid) == [("waiting", None)]
    assert grace - (t3 - t0) - 0.1 <= r.next_due <= grace - (t2 - t1) + 0.1, r

    time.sleep(max(0.0, t1 + grace + 0.05 - time.monotonic()))
    assert actions(procreap.cleanup_step("leaked", cfg), child.pid) == [("sigkill", "SIGKILL")]
    assert child.wait_exited(5)
    r = procreap.cleanup_step("leaked", cfg)
    assert actions(r, child.pid) == [("exited", None)]
    assert r.next_due is None

    lines = [json.loads(x) for x in (state_dir / "audit.jsonl").read_text().splitlines()]
    assert [(x["action"], x["signal"]) for x in lines] == [("sigterm", "SIGTERM"), ("sigkill", "SIGKILL")]
    for x in lines:
        assert (x["pid"], x["start_time"], x["name"]) == (child.pid, child.start_time, child.name)
        assert (x["kind"], x["call"], x["delivery"]) == ("leaked", "step", "pidfd")
        assert (x["uid"], x["caller_pid"]) == (os.geteuid(), os.getpid())
        assert x["reason"].startswith(f"carries {marker}; "), x
        assert x["time"].endswith("Z")


def test_what_is_not_leaked_is_left_alone(decoys, make_config):
    """A marker process that leads its own group, one on a terminal, and a
    process without the marker whose group leader died."""
    marker, env = private_marker()
    own = decoys.start(decoys.sleeper(f"mcp-{secrets.token_hex(4)}"), env=env)
    master, slave = pty.openpty()
    try:
        tty = decoys.start(decoys.sleeper(f"mcp-{secrets.token_hex(4)}"), env=env, ctty=os.ttyname(slave))
        agent, plain = decoys.agent_with_child()
        agent.kill()
        cfg = make_config(leak_markers=[marker])
        v = verdict(cfg, own.pid)
        assert (v.verdict, v.reason) == (
            "leader-alive",
            f"carries {marker}; it leads its own process group (pgid {own.pid}): its leader is alive",
        )
        v = verdict(cfg, tty.pid)
        name = os.ttyname(slave).removeprefix("/dev/")
        assert (v.verdict, v.process.tty) == ("has-tty", name)
        assert v.reason == f"carries {marker}; has terminal {name} outside tmux: an interactive session"
        assert verdict(cfg, plain.pid) is None
        assert read_stat(plain.pid)[2] != agent.pid  # its leader died
        assert leaked(cfg) == []
        r = procreap.cleanup_step("leaked", cfg)
        assert r == [] and r.next_due is None
        time.sleep(0.05)
        assert not any(d.exited() for d in (own, tty, plain))
    finally:
        decoys.close()
        os.close(master)
        os.close(slave)


def test_memory_is_reported_and_reclaimed(decoys, make_config):
    """rss_bytes within 10% of VmRSS for a decoy holding 64 MiB, owned by
    us; the bytes come back in the report of the step that sees it exit
    after its SIGTERM, and in reap_now's."""
    hog = decoys.hog(64)
    cfg = make_config()
    [p] = procreap.find_orphans(cfg)
    rss = vm_rss(hog.pid)
    assert p.pid == hog.pid and p.uid == os.geteuid()
    assert abs(p.rss_bytes - rss) <= rss / 10, (p.rss_bytes, rss)
    assert actions(procreap.cleanup_step("orphans", cfg), hog.pid) == [("sigterm", "SIGTERM")]
    assert hog.wait_exited(5)
    r = procreap.cleanup_step("orphans", cfg)
    assert actions(r, hog.pid) == [("exited", None)]
    assert r.reclaimed_bytes >= (64 << 20) * 0.9, r

    decoys.names.clear()
    hog = decoys.hog(32)
    r = procreap.reap_now([hog.identity], 5.0, make_config())
    assert actions(r, hog.pid) == [("sigterm", "SIGTERM"), ("exited", None)]
    assert r.reclaimed_bytes >= (32 << 20) * 0.9, r
    assert wait_until(hog.exited)


def test_reap_set_takes_a_leaked_identity(decoys, make_config, state_dir):
    """A reap set (a list a person approved) ends a leaked child like an
    orphan; the next call counts its memory; the audit line says so."""
    marker, env = private_marker()
    agent, child = decoys.agent_with_child(env=env)
    cfg = make_config(leak_markers=[marker])
    r = procreap.reap_set([child.identity], cfg)
    assert actions(r, child.pid) == [("skipped", None)]
    assert r[0].reason.startswith("leader-alive: carries "), r
    agent.kill()
    r = procreap.reap_set([child.identity], cfg)
    assert actions(r, child.pid) == [("sigterm", "SIGTERM")]
    held = r[0].process.rss_bytes
    assert child.wait_exited(5)
    r = procreap.reap_set([child.identity], cfg)
    assert actions(r, child.pid) == [("exited", None)]
    assert r.reclaimed_bytes == held > 0, r
    [line] = [json.loads(x) for x in (state_dir / "audit.jsonl").read_text().splitlines()]
    assert (line["call"], line["action"], line["pid"], line["delivery"]) == ("reap-set", "sigterm", child.pid, "pidfd")
    assert line["kind"] == "leaked", line
