"""cleanup_step, reap_set and reap_now against real decoys: every action,
every Action field."""

from __future__ import annotations

import signal
import time

import pytest

import procreap
from decoys import children, wait_until


def only(actions, pid):
    assert_report(actions)
    found = [a for a in actions if a.process.pid == pid]
    assert len(found) == 1, f"pid {pid}: {actions}"
    a = found[0]
    assert isinstance(a, procreap.Action)
    assert isinstance(a.action, procreap.ActionKind) and a.action in procreap.ACTIONS
    assert a.signal in ("SIGTERM", "SIGKILL", None)
    assert isinstance(a.reason, str)
    assert isinstance(a.delivery, procreap.Delivery)
    assert isinstance(a.dry_run, bool)
    if a.signal is None or a.dry_run:
        assert a.delivery == "none", a
    return a


def assert_report(r):
    """Every cleanup call returns a Report: a list of actions with next_due
    (seconds or None) and reclaimed_bytes (their values on real processes:
    test_leaked.py)."""
    assert isinstance(r, procreap.Report) and isinstance(r, list)
    assert r.next_due is None or (isinstance(r.next_due, float) and r.next_due >= 0), r
    assert isinstance(r.reclaimed_bytes, int) and r.reclaimed_bytes >= 0


def test_dry_run_decides_but_sends_nothing(decoys, make_config, state_dir):
    d = decoys.start(decoys.sleeper())
    cfg = make_config(dry_run=True)
    for _ in range(2):  # no ledger: the same decision each time
        a = only(procreap.cleanup_step("orphans", cfg), d.pid)
        assert (a.action, a.signal, a.error) == ("sigterm", "SIGTERM", None)
        assert (a.dry_run, a.delivery) == (True, procreap.Delivery.NONE)
        assert "dry run" in a.reason
        assert a.process.identity == d.identity
        assert a.process.name == d.name
    assert not d.exited()
    assert not state_dir.exists()  # a dry run writes nothing


def test_full_escalation_sigterm_waiting_sigkill_exited(decoys, make_config, state_dir):
    """A decoy that ignores SIGTERM (sh: trap '' TERM) goes sigterm →
    waiting → sigkill → exited with a 1 s grace."""
    d = decoys.start(decoys.term_ignorer(), [])
    assert wait_until(lambda: d.state() == "S")
    cfg = make_config(grace_secs=1)

    t0 = time.monotonic()
    a = only(procreap.cleanup_step("orphans", cfg), d.pid)
    t1 = time.monotonic()  # the SIGTERM went out between t0 and t1
    assert (a.action, a.signal, a.error) == ("sigterm", "SIGTERM", None)
    assert a.dry_run is False and a.delivery in ("pidfd", "kill")
    assert a.process.identity == d.identity
    assert (state_dir / "ledger").is_file()
    assert not d.wait_exited(0.1)  # it ignored the SIGTERM

    a = only(procreap.cleanup_step("orphans", cfg), d.pid)
    if a.action == "waiting":
        assert (a.signal, a.error) == (None, None)
        assert "grace left" in a.reason
        time.sleep(max(0.0, t1 + 1.1 - time.monotonic()))
        a = only(procreap.cleanup_step("orphans", cfg), d.pid)
    else:
        # Only a step that came a whole grace period after the SIGTERM may
        # skip "waiting" (a machine so loaded that a step takes 1 s).
        assert time.monotonic() - t0 >= 1.0, a
    assert (a.action, a.signal, a.error) == ("sigkill", "SIGKILL", None)
    assert a.delivery in ("pidfd", "kill")
    assert d.wait_exited(5)

    a = only(procreap.cleanup_step("orphans", cfg), d.pid)
    assert (a.action, a.signal, a.error, a.delivery) == ("exited", None, None, "none")
    assert a.process.pid == d.pid

    # The ledger forgot it: nothing more to report.
    assert procreap.cleanup_step("orphans", cfg) == []


def test_sigterm_then_exited(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    cfg = make_config()
    a = only(procreap.cleanup_step("orphans", cfg), d.pid)
    assert (a.action, a.signal) == ("sigterm", "SIGTERM")
    assert d.wait_exited(5)
    a = only(procreap.cleanup_step("orphans", cfg), d.pid)
    assert (a.action, a.signal, a.error) == ("exited", None, None)


def test_zombie_step_shares_the_ledger(decoys, make_config):
    """A process found by both scans gets one SIGTERM in total."""
    guard = decoys.start(decoys.sleeper())
    decoys.names.remove(guard.name)
    d = decoys.start(decoys.term_ignorer(), [])
    cfg = make_config(protected_pids=[guard.pid], grace_secs=60)
    a = only(procreap.cleanup_step("zombies", cfg), d.pid)
    assert a.action == "sigterm"
    a = only(procreap.cleanup_step("orphans", cfg), d.pid)
    assert a.action == "waiting"
    a = only(procreap.cleanup_step("zombies", cfg), d.pid)
    assert a.action == "waiting"


def test_released_when_no_longer_a_candidate(decoys, make_config):
    d = decoys.start(decoys.term_ignorer(), [])
    a = only(procreap.cleanup_step("orphans", make_config(grace_secs=60)), d.pid)
    assert a.action == "sigterm"
    # Now protected: dropped from the ledger and left alone.
    a = only(procreap.cleanup_step("orphans", make_config(protected_pids=[d.pid])), d.pid)
    assert (a.action, a.signal, a.error) == ("released", None, None)
    assert "protected" in a.reason
    assert not d.exited()
    # And a later step starts over with a SIGTERM.
    a = only(procreap.cleanup_step("orphans", make_config(grace_secs=60)), d.pid)
    assert a.action == "sigterm"


def test_stopped_process_gets_sigcont_with_sigterm(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    d.signal(signal.SIGSTOP)
    assert wait_until(lambda: d.state() == "T")
    a = only(procreap.cleanup_step("orphans", make_config()), d.pid)
    assert a.action == "sigterm"
    assert "SIGCONT" in a.reason
    assert d.wait_exited(5)


def test_kill_tree_signals_the_agents_descendants(decoys, make_config):
    child_link = decoys.sleeper()
    decoys.names.remove(child_link.name)  # the child is no agent itself
    agent = decoys.script(f"'{child_link}' 3600 &\nwait\n")
    d = decoys.start(agent, [])
    assert wait_until(lambda: children(d.pid, child_link.name))
    child = decoys.adopt(children(d.pid, child_link.name)[0], child_link.name)

    acts = procreap.cleanup_step("orphans", make_config(kill_tree=True))
    a = only(acts, d.pid)
    assert (a.action, a.signal) == ("sigterm", "SIGTERM")
    c = only(acts, child.pid)
    assert (c.action, c.signal) == ("sigterm", "SIGTERM")
    assert f"descendant of agent pid {d.pid}" in c.reason
    assert child.wait_exited(5)
    assert d.wait_exited(5)


def test_without_kill_tree_the_child_is_left_alone(decoys, make_config):
    child_link = decoys.sleeper()
    decoys.names.remove(child_link.name)
    agent = decoys.script(f"'{child_link}' 3600 &\nwait\n")
    d = decoys.start(agent, [])
    assert wait_until(lambda: children(d.pid, child_link.name))
    child = decoys.adopt(children(d.pid, child_link.name)[0], child_link.name)
    acts = procreap.cleanup_step("orphans", make_config())
    assert [a.process.pid for a in acts] == [d.pid]
    assert d.wait_exited(5)
    time.sleep(0.1)
    assert not child.exited()


def test_reap_set_touches_exactly_the_given_identities(decoys, make_config):
    a_ = decoys.start(decoys.sleeper())
    b_ = decoys.start(decoys.sleeper())
    c_ = decoys.start(decoys.sleeper())
    cfg = make_config()
    found = {p.pid: p for p in procreap.find_orphans(cfg)}
    acts = procreap.reap_set([found[a_.pid], b_.identity], cfg)
    assert sorted((x.process.pid, x.action) for x in acts) == sorted(
        [(a_.pid, "sigterm"), (b_.pid, "sigterm")]
    )
    assert a_.wait_exited(5) and b_.wait_exited(5)
    assert not c_.exited()


def test_reap_set_skips_a_stale_identity(decoys, make_config):
    """Same pid, different start time: another process. Never signalled."""
    d = decoys.start(decoys.sleeper())
    acts = procreap.reap_set([(d.pid, d.start_time + 1)], make_config())
    a = only(acts, d.pid)
    assert (a.action, a.signal, a.error) == ("skipped", None, None)
    assert "no such agent or marker process" in a.reason
    assert a.process.start_time == d.start_time + 1
    time.sleep(0.1)
    assert not d.exited()


def test_reap_set_skips_a_non_candidate(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    acts = procreap.reap_set([d.identity], make_config(min_age_secs=3600))
    a = only(acts, d.pid)
    assert a.action == "skipped"
    assert "too-young" in a.reason
    assert not d.exited()


def test_reap_set_escalates_like_steps(decoys, make_config):
    d = decoys.start(decoys.term_ignorer(), [])
    cfg = make_config(grace_secs=0.3)
    assert only(procreap.reap_set([d.identity], cfg), d.pid).action == "sigterm"
    time.sleep(0.4)
    assert only(procreap.reap_set([d.identity], cfg), d.pid).action == "sigkill"
    assert d.wait_exited(5)
    assert procreap.reap_set([], cfg) == []


def test_reap_now_sigterm_suffices(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    t0 = time.monotonic()
    acts = procreap.reap_now([d.identity], 5.0, make_config())
    assert time.monotonic() - t0 < 4
    assert [(a.process.pid, a.action, a.signal) for a in acts] == [
        (d.pid, "sigterm", "SIGTERM"),
        (d.pid, "exited", None),
    ]
    assert "after SIGTERM" in acts[1].reason
    assert d.exited()


def test_reap_now_escalates_at_the_deadline(decoys, make_config):
    d = decoys.start(decoys.term_ignorer(), [])
    p = [x for x in procreap.find_orphans(make_config()) if x.pid == d.pid][0]
    t0 = time.monotonic()
    acts = procreap.reap_now([p], 0.3, make_config())
    assert 0.25 < time.monotonic() - t0 < 5
    assert [(a.action, a.signal) for a in acts] == [
        ("sigterm", "SIGTERM"),
        ("sigkill", "SIGKILL"),
        ("exited", None),
    ]
    assert all(a.error is None for a in acts)
    assert d.exited()


def test_reap_now_skips_what_is_not_a_candidate(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    acts = procreap.reap_now([(d.pid, d.start_time + 7)], 0.1, make_config())
    assert [(a.action, a.signal) for a in acts] == [("skipped", None)]
    assert not d.exited()


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_reap_now_rejects_bad_deadlines(decoys, make_config, bad):
    d = decoys.start(decoys.sleeper())
    with pytest.raises(procreap.InvalidArgument):
        procreap.reap_now([d.identity], bad, make_config())
    assert not d.exited()


def test_require_pidfd_delivers_through_a_pidfd(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    a = only(procreap.cleanup_step("orphans", make_config(require_pidfd=True)), d.pid)
    assert (a.action, a.delivery, a.dry_run) == ("sigterm", procreap.Delivery.PIDFD, False)
    assert d.wait_exited(5)


def test_kinds_are_accepted_as_members_or_names(decoys, make_config):
    """A dry run of each kind (leaked with a private marker): the call goes
    through and returns a Report (what the leaked kind finds:
    test_leaked.py)."""
    d = decoys.start(decoys.sleeper())
    cfg = make_config(dry_run=True, leak_markers=[f"PRT_LEAK_{decoys.name()}=1"])
    assert [a.action for a in procreap.cleanup_step(procreap.Kind.ORPHANS, cfg)] == ["sigterm"]
    assert_report(procreap.cleanup_step("leaked", cfg))
    assert_report(procreap.cleanup_step(procreap.Kind.LEAKED, cfg))
    assert not d.exited()


def test_old_call_sites_still_work_on_a_report(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    acts = procreap.cleanup_step("orphans", make_config(dry_run=True))
    assert len(acts) == 1 and acts[0].process.pid == d.pid
    assert [a.action for a in acts] == ["sigterm"] and acts == list(acts)
    assert "next_due=" in repr(acts)
    assert procreap.reap_set([], make_config()) == []
