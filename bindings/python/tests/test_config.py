"""procreap.Config as a handle to one C configuration: every knob round-trips
through its C setter and getter, durations follow one rule, and the C object
is freed by close(), by ``with`` and by garbage collection."""

from __future__ import annotations

import copy
import gc
import os
import pickle
from pathlib import Path

import pytest

import procreap
from procreap import _config, _ffi, _lib

#: One value per knob, none of them a default.
VALUES = {
    "agent_names": ["prt-a", "prt-b"],
    "argv0_match": procreap.Argv0Match.ALWAYS,
    "min_age_secs": 1.5,
    "grace_secs": 0.25,
    "workspace_marker": "",
    "workspace_root": Path("/srv/town"),
    "ide_markers": [".prt-ide"],
    "protected_pid_files": [Path("/run/prt.pid"), "~/prt.pid"],
    "protected_pids": [4242, 1],
    "tmux_sockets": ["prt-sock", "/tmp/prt-sock"],
    "all_users": True,
    "users": [0, 65534],
    "kill_tree": True,
    "state_dir": "/run/prt-state",
    "dry_run": True,
    "subprocess_timeout_secs": 0.3,
    "lock_timeout_secs": 7,
    "backend": "ps",
    "require_pidfd": True,
    "audit": False,
    "audit_max_bytes": 8192,
    "leak_markers": ["PRT_LEAK_X=1", "PRT_LEAK_Y"],
}

#: What reading each of VALUES back gives.
READ_BACK = {
    **VALUES,
    "agent_names": ("prt-a", "prt-b"),
    "workspace_root": "/srv/town",
    "ide_markers": (".prt-ide",),
    "protected_pid_files": ("/run/prt.pid", "~/prt.pid"),
    "protected_pids": (4242, 1),
    "tmux_sockets": ("prt-sock", "/tmp/prt-sock"),
    "users": (0, 65534),
    "backend": procreap.Backend.PS,
    "lock_timeout_secs": 7.0,
    "leak_markers": ("PRT_LEAK_X=1", "PRT_LEAK_Y"),
}


def test_values_cover_every_knob():
    assert set(VALUES) == set(_config.KNOBS) == set(READ_BACK)


def test_every_knob_round_trips_through_c():
    with procreap.Config(**VALUES) as cfg:  # type: ignore[arg-type]
        for name, want in READ_BACK.items():
            got = getattr(cfg, name)
            assert got == want and type(got) is type(want), (name, got)
            assert got != _config.KNOBS[name].default(), name
    # And by assignment, one knob at a time.
    cfg = procreap.Config()
    for name, value in VALUES.items():
        setattr(cfg, name, value)
        assert getattr(cfg, name) == READ_BACK[name], name
    assert cfg.as_dict() == READ_BACK


def test_unset_paths_read_back_as_none():
    cfg = procreap.Config(workspace_root="/srv", state_dir="/run/x")
    cfg.workspace_root = None
    cfg.state_dir = None
    assert (cfg.workspace_root, cfg.state_dir) == (None, None)
    assert cfg.resolved_state_dir  # the library's default for this process
    assert procreap.Config(state_dir="/run/x").resolved_state_dir == "/run/x"


# --- durations: seconds in, whole milliseconds rounded up ----------------------


@pytest.mark.parametrize(
    "secs, ms",
    [
        (0, 0),
        (0.0, 0),
        (2, 2000),
        (0.3, 300),  # as written, not the binary float's 300.00000000000006
        (1.0005, 1001),
        (0.0001, 1),  # a positive duration never becomes 0
        (1e-9, 1),
        (5e-324, 1),
        (86400, 86_400_000),
        (2.5e-3, 3),
    ],
)
def test_durations_round_up_to_whole_milliseconds(secs, ms):
    assert _ffi.millis("x", secs) == ms
    cfg = procreap.Config(grace_secs=secs)
    assert cfg.grace_secs == ms / 1000
    assert _lib.lib().procreap_config_get_grace_ms(cfg._ptr) == ms


@pytest.mark.parametrize("secs", [-1, -0.0001, float("nan"), float("inf"), float("-inf"), 1e30])
def test_durations_c_cannot_hold_are_invalid(secs):
    with pytest.raises(procreap.InvalidArgument, match="grace_secs"):
        procreap.Config(grace_secs=secs)
    with pytest.raises(procreap.InvalidArgument, match="deadline_secs"):
        procreap.reap_now([(1, 1)], secs)


# --- the handle ----------------------------------------------------------------


def test_close_and_with():
    cfg = procreap.Config()
    assert not cfg.closed
    with cfg as same:
        assert same is cfg
        assert procreap.find_orphans(cfg) is not None
    assert cfg.closed
    cfg.close()  # twice is fine
    for use in (
        lambda: cfg.grace_secs,
        lambda: setattr(cfg, "grace_secs", 1),
        lambda: procreap.find_orphans(cfg),
        lambda: procreap.scan(cfg),
        lambda: cfg.copy(),
    ):
        with pytest.raises(ValueError, match="closed"):
            use()
    assert "closed" in repr(cfg)


def test_garbage_collection_frees_the_c_config(monkeypatch):
    lib = _lib.lib()
    real = lib.procreap_config_free
    freed: list[int] = []

    def spy(ptr: object) -> None:
        freed.append(_lib.ctypes.cast(ptr, _lib.ctypes.c_void_p).value)
        real(ptr)

    monkeypatch.setattr(lib, "procreap_config_free", spy)
    cfg = procreap.Config(dry_run=True)
    address = _lib.ctypes.cast(cfg._ptr, _lib.ctypes.c_void_p).value
    del cfg
    gc.collect()
    assert freed == [address]
    cfg = procreap.Config()
    cfg.close()
    del cfg
    gc.collect()
    assert len(freed) == 2  # closed once, not freed again


def test_copies_are_independent_c_configs():
    cfg = procreap.Config(grace_secs=3, agent_names=["prt-x"])
    for other in (cfg.copy(), copy.copy(cfg), copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg))):
        assert other.as_dict() == cfg.as_dict()
        assert other._ptr is not cfg._ptr
        other.grace_secs = 9
        assert cfg.grace_secs == 3
    assert "grace_secs=3.0" in repr(cfg)


def test_one_config_serves_many_calls_without_being_rebuilt(monkeypatch):
    """The C configuration is built once: calls set nothing."""
    lib = _lib.lib()
    calls: list[str] = []
    for name in _lib.FUNCTIONS:
        if name.startswith(("procreap_config_set_", "procreap_config_new", "procreap_config_clone")):
            real = getattr(lib, name)
            monkeypatch.setattr(lib, name, lambda *a, _n=name, _r=real: (calls.append(_n), _r(*a))[1])
    cfg = procreap.Config(agent_names=[f"prt-{os.getpid()}"], workspace_marker="")
    assert calls == [
        "procreap_config_new",
        "procreap_config_set_agent_names",
        "procreap_config_set_workspace_marker",
    ]
    calls.clear()
    for _ in range(3):
        procreap.find_orphans(cfg)
        procreap.explain(cfg)
        with procreap.scan(cfg) as s:
            s.orphans()
    assert calls == []
