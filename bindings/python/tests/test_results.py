"""Every field of the C result structs reaches Python: lists made here in
ctypes (with values real processes rarely give: an unknown uid, the edges
of next_due_ms) go through the binding's own conversion. What real
processes give is in test_leaked.py and the other suites."""

from __future__ import annotations

import ctypes

import pytest

import procreap
from procreap import _enums, _lib, _types


def c_process(**kw: object) -> _lib.procreap_process:
    p = _lib.procreap_process(
        pid=4242, ppid=1, start_time=987654, name=b"prt-x", age_secs=12.5, tty=b"pts/3",
        state=b"S", workspace_root=b"/srv/town", cmdline=b"prt-x --flag", uid=1000,
        rss_bytes=64 << 20,
    )
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def test_every_process_field_is_copied():
    p = _types.process_of(c_process())
    assert p == procreap.Process(
        pid=4242, start_time=987654, ppid=1, name="prt-x", age_secs=12.5, tty="pts/3",
        state="S", workspace_root="/srv/town", cmdline="prt-x --flag", uid=1000,
        rss_bytes=64 << 20,
    )
    assert p.identity == (4242, 987654)


def test_unknown_uid_and_absent_strings_are_none():
    p = _types.process_of(c_process(uid=2**32 - 1, tty=None, workspace_root=None, rss_bytes=0))
    assert (p.uid, p.tty, p.workspace_root, p.rss_bytes) == (None, None, None, 0)
    assert _types.process_of(c_process(uid=0)).uid == 0


def action_list(next_due_ms: int, reclaimed: int, *actions: _lib.procreap_action) -> _lib.procreap_action_list:
    items = (_lib.procreap_action * max(len(actions), 1))(*actions)
    lst = _lib.procreap_action_list(
        items=ctypes.cast(items, ctypes.POINTER(_lib.procreap_action)), len=len(actions),
        next_due_ms=next_due_ms, reclaimed_bytes=reclaimed,
    )
    lst._keep = items  # type: ignore[attr-defined]
    return lst


def c_action(action: procreap.ActionKind, signal: int, delivery: procreap.Delivery, dry_run: bool) -> _lib.procreap_action:
    return _lib.procreap_action(
        process=c_process(), action=_enums.to_c(action), signal=signal, reason=b"why",
        error=None, delivery=_enums.to_c(delivery), dry_run=dry_run,
    )


def test_a_report_carries_next_due_and_reclaimed_bytes():
    lst = action_list(
        2500, 123 << 20,
        c_action(procreap.ActionKind.SIGTERM, 15, procreap.Delivery.PIDFD, False),
        c_action(procreap.ActionKind.SIGKILL, 9, procreap.Delivery.KILL, False),
        c_action(procreap.ActionKind.SIGTERM, 15, procreap.Delivery.NONE, True),
    )
    r = _types.report_of(ctypes.pointer(lst))
    assert isinstance(r, procreap.Report) and isinstance(r, list)
    assert r.next_due == 2.5
    assert r.reclaimed_bytes == 123 << 20
    assert [(a.action, a.signal, a.delivery, a.dry_run) for a in r] == [
        ("sigterm", "SIGTERM", "pidfd", False),
        ("sigkill", "SIGKILL", "kill", False),
        ("sigterm", "SIGTERM", "none", True),
    ]
    assert all(a.reason == "why" and a.error is None and a.process.pid == 4242 for a in r)


@pytest.mark.parametrize("ms, due", [(-1, None), (0, 0.0), (1, 0.001), (60_000, 60.0)])
def test_next_due_is_none_when_nothing_is_pending(ms, due):
    assert _types.report_of(ctypes.pointer(action_list(ms, 0))).next_due == due


def test_no_list_is_an_empty_report():
    r = _types.report_of(ctypes.POINTER(_lib.procreap_action_list)())
    assert r == [] and r.next_due is None and r.reclaimed_bytes == 0


def test_verdicts_are_members():
    v = _types.verdict_of(_lib.procreap_verdict(process=c_process(), verdict=_enums.to_c(procreap.VerdictKind.LEAKED), reason=b"r"))
    assert v.verdict is procreap.VerdictKind.LEAKED and v.verdict == "leaked"


def test_string_enums_compare_equal_to_their_names():
    assert procreap.VerdictKind.ORPHAN == "orphan"
    assert procreap.ActionKind.SIGTERM == "sigterm"
    assert procreap.Kind.LEAKED == "leaked"
    assert procreap.Delivery.PIDFD == "pidfd"
    assert procreap.Argv0Match.VERSION_LIKE == "version-like"
    assert procreap.Backend.PROC == "proc"
    assert f"{procreap.VerdictKind.OTHER_USER}" == "other-user"
    assert procreap.KINDS == ("orphans", "zombies", "leaked")
