"""Every error class that can be provoked on this machine, plus the mapping
of every status code, and the Python-side checks of bad arguments."""

from __future__ import annotations

import fcntl
import glob
import os
import time
from ctypes import POINTER, byref
from pathlib import Path

import pytest

import procreap
from procreap import _ffi, _lib
from decoys import tmux_server_visible


def test_lock_timeout_when_the_ledger_lock_is_held(decoys, make_config, state_dir):
    d = decoys.start(decoys.sleeper())
    state_dir.mkdir(mode=0o700)
    with open(state_dir / "ledger.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        t0 = time.monotonic()
        with pytest.raises(procreap.LockTimeout) as e:
            procreap.cleanup_step("orphans", make_config(lock_timeout_secs=0.3))
        took = time.monotonic() - t0
    assert 0.25 <= took < 3
    assert e.value.code == 9
    assert "ledger.lock" in str(e.value)
    assert e.value.actions == ()
    assert not d.exited()  # nothing was signalled without the lock
    # Released: the same step goes through.
    acts = procreap.cleanup_step("orphans", make_config(lock_timeout_secs=0.3))
    assert [a.action for a in acts] == ["sigterm"]


def test_zombie_scan_without_tmux_is_tmux_unavailable(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    if tmux_server_visible():
        pytest.skip("a tmux server is visible in the process table")
    for call in (
        lambda: procreap.find_zombies(make_config()),
        lambda: procreap.cleanup_step("zombies", make_config()),
    ):
        try:
            call()
        except procreap.TmuxUnavailable as e:
            assert e.code == 6
            assert "tmux" in e.message
            continue
        if tmux_server_visible():
            pytest.skip("a tmux server appeared during the test")
        pytest.fail("no TmuxUnavailable without any tmux server")
    assert not d.exited()


NAMESPACED = r"""
import sys
sys.path.insert(0, sys.argv[1])
import procreap
cfg = procreap.Config(agent_names=[sys.argv[2]], protected_pid_files=[], workspace_marker="",
                      min_age_secs=0, state_dir=sys.argv[3], dry_run=True)
for call in (procreap.find_zombies, lambda c: procreap.cleanup_step("zombies", c)):
    try:
        call(cfg)
        print("no error")
    except procreap.Error as e:
        print(type(e).__name__, e.code)
"""


def test_tmux_unavailable_in_a_private_pid_namespace(decoys, tmp_path):
    """Deterministic even when tmux servers run on the machine: in a pid
    namespace of its own (as root), the scan sees no tmux and nothing
    protected. Read-only: a find and a dry-run step."""
    import shutil
    import subprocess
    import sys

    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare")
    probe = subprocess.run([unshare, "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no pid namespaces here: {probe.stderr.decode().strip()}")
    env = dict(os.environ, PROCREAP_LIB=str(_lib.lib()._name))
    out = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", NAMESPACED,
         str(Path(procreap.__file__).parent.parent), decoys.name(), str(tmp_path / "state")],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["TmuxUnavailable 6", "TmuxUnavailable 6"], out


def test_symlinked_state_dir_is_unsafe(decoys, make_config, tmp_path):
    d = decoys.start(decoys.sleeper())
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(procreap.UnsafeStatePath) as e:
        procreap.cleanup_step("orphans", make_config(state_dir=link))
    assert e.value.code == 5
    assert "symlink" in str(e.value)
    assert not d.exited()


def test_world_writable_state_dir_is_unsafe(decoys, make_config, tmp_path):
    d = decoys.start(decoys.sleeper())
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(procreap.UnsafeStatePath, match="writable"):
        procreap.reap_set([d.identity], make_config(state_dir=open_dir))
    assert not d.exited()


def test_corrupt_ledger_raises_with_the_actions_taken(decoys, make_config, state_dir):
    """A ledger procreap cannot trust is moved aside and reported, but the
    SIGTERMs of that step were sent: they come back as ``.actions``."""
    d = decoys.start(decoys.sleeper())
    state_dir.mkdir(mode=0o700)
    ledger = state_dir / "ledger"
    ledger.write_text("not a ledger at all\n")
    ledger.chmod(0o600)
    with pytest.raises(procreap.LedgerCorrupt) as e:
        procreap.cleanup_step("orphans", make_config())
    err = e.value
    assert err.code == 8
    assert isinstance(err, procreap.Error)
    assert [(a.process.pid, a.action, a.signal) for a in err.actions] == [
        (d.pid, "sigterm", "SIGTERM")
    ]
    assert isinstance(err.actions[0], procreap.Action)
    assert glob.glob(str(state_dir / "ledger.corrupt-*"))
    assert d.wait_exited(5)
    # The next step trusts the fresh ledger again.
    acts = procreap.cleanup_step("orphans", make_config())
    assert [a.action for a in acts] == ["exited"]


def test_unreadable_pid_file_is_an_io_error(decoys, make_config, tmp_path):
    a_dir = tmp_path / "a-dir.pid"
    a_dir.mkdir()
    with pytest.raises(procreap.IoError) as e:
        procreap.find_orphans(make_config(protected_pid_files=[a_dir]))
    assert e.value.code == 3
    assert str(a_dir) in str(e.value)


def _refused_file(tmp_path: Path) -> str | None:
    """A file whose read is refused with EACCES: a mode-000 file for a
    normal user; for root, a write-only sysfs attribute (root may open any
    file, but the kernel refuses to read those)."""
    if os.geteuid() != 0:
        f = tmp_path / "secret.pid"
        f.write_text("1\n")
        f.chmod(0)
        return str(f)
    for cand in sorted(glob.glob("/sys/bus/*/drivers_probe")):
        try:
            with open(cand):
                pass
        except PermissionError:
            return cand
        except OSError:
            continue
    return None


def test_refused_pid_file_is_permission_denied(decoys, make_config, tmp_path):
    f = _refused_file(tmp_path)
    if f is None:
        pytest.skip("no file here refuses reading")
    with pytest.raises(procreap.PermissionDenied) as e:
        procreap.explain(make_config(protected_pid_files=[f]))
    assert e.value.code == 4


def test_pid_file_without_a_pid_is_invalid_argument_from_c(decoys, make_config, tmp_path):
    f = tmp_path / "junk.pid"
    f.write_text("not-a-pid\n")
    with pytest.raises(procreap.InvalidArgument) as e:
        procreap.find_orphans(make_config(protected_pid_files=[str(f)]))
    assert e.value.code == 2
    assert "not-a-pid" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_failing_tmux_is_tmux_failed(decoys, make_config, tmp_path, monkeypatch):
    """A tmux that fails (a script of ours, run through $PROCREAP_TMUX) or
    cannot be started: an error, never "no panes"."""
    broken = tmp_path / "broken-tmux"
    broken.write_text("#!/bin/sh\necho 'protocol version mismatch' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PROCREAP_TMUX", str(broken))
    with pytest.raises(procreap.TmuxFailed) as e:
        procreap.find_orphans(make_config(tmux_sockets=["prt-none"]))
    assert e.value.code == 7
    assert "protocol version mismatch" in str(e.value)
    monkeypatch.setenv("PROCREAP_TMUX", str(tmp_path / "no-such-tmux"))
    with pytest.raises(procreap.TmuxFailed, match="prt-none"):
        procreap.explain(make_config(tmux_sockets=["prt-none"]))


def test_hung_tmux_times_out_as_tmux_failed(decoys, make_config, tmp_path, monkeypatch):
    """subprocess_timeout_secs reaches the library: a tmux that hangs (a
    script of ours, run through $PROCREAP_TMUX) is cut off."""
    hang = tmp_path / "hung-tmux"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    monkeypatch.setenv("PROCREAP_TMUX", str(hang))
    t0 = time.monotonic()
    with pytest.raises(procreap.TmuxFailed, match="timed out"):
        procreap.find_orphans(make_config(tmux_sockets=["prt-none"], subprocess_timeout_secs=0.3))
    assert time.monotonic() - t0 < 5


def test_missing_ps_is_command_failed(decoys, make_config, tmp_path, monkeypatch):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(procreap.CommandFailed) as e:
        procreap.find_orphans(make_config(backend="ps"))
    assert e.value.code == 11
    assert "ps" in str(e.value)


def test_null_parameter_from_the_raw_abi():
    """The binding never passes NULL where one is required; the raw call
    shows the status still maps to its class."""
    lib = _lib.lib()
    err = _lib.ERROR_P()
    status = lib.procreap_find_orphans(None, None, byref(err))
    assert status == 1
    with pytest.raises(procreap.NullParameter) as e:
        _ffi.check(status, err)
    assert e.value.code == 1
    assert "NULL" in str(e.value)


def test_invalid_kind_from_the_raw_abi():
    lib = _lib.lib()
    err = _lib.ERROR_P()
    out = POINTER(_lib.procreap_action_list)()
    status = lib.procreap_cleanup_step(None, 99, byref(out), byref(err))
    assert not out
    with pytest.raises(procreap.InvalidArgument, match="99"):
        _ffi.check(status, err)


def test_home_relative_pid_files_are_accepted():
    cfg = procreap.Config(protected_pid_files=["~/gt/x.pid", "/abs/y.pid"])
    assert procreap.find_orphans(cfg) is not None  # read-only; the C side agrees


def test_c_setter_rejections_surface_as_invalid_argument():
    """The raw C setters refuse bad values with the library's own message."""
    lib = _lib.lib()
    cfg = lib.procreap_config_new()
    try:
        err = _lib.ERROR_P()
        status = lib.procreap_config_set_subprocess_timeout_ms(cfg, 0, byref(err))
        with pytest.raises(procreap.InvalidArgument, match="subprocess_timeout"):
            _ffi.check(status, err)
        err = _lib.ERROR_P()
        status = lib.procreap_config_set_workspace_marker(cfg, None, byref(err))
        with pytest.raises(procreap.NullParameter):
            _ffi.check(status, err)
    finally:
        lib.procreap_config_free(cfg)


@pytest.mark.parametrize("code", range(1, 15))
def test_every_status_code_has_its_class(code):
    lib = _lib.lib()
    name = lib.procreap_status_str(code).decode()
    e = procreap._errors.error_for(code, f"boom: {name}")
    assert type(e) is not procreap.Error
    assert isinstance(e, procreap.Error)
    assert e.code == code == type(e).CODE
    assert e.message == str(e) == f"boom: {name}"
    assert e.actions == ()


def test_unknown_status_code_is_the_base_class():
    e = procreap._errors.error_for(99, "new")
    assert type(e) is procreap.Error
    assert e.code == 99


def test_public_names_do_not_shadow_builtins():
    import builtins

    for name in procreap.__all__:
        assert not hasattr(builtins, name), name


# --- bad arguments ------------------------------------------------------------
# Python checks types; the C setters check values (their messages); only
# what cannot cross the ABI at all is refused in Python.

TYPE_ERRORS = [
    dict(agent_names="claude"),
    dict(agent_names=[1]),
    dict(agent_names=None),
    dict(argv0_match=True),
    dict(min_age_secs="60"),
    dict(grace_secs=True),
    dict(workspace_marker=None),
    dict(workspace_root=5),
    dict(ide_markers="vscode"),
    dict(protected_pid_files=[3]),
    dict(protected_pids=["1"]),
    dict(protected_pids=[True]),
    dict(tmux_sockets=[None]),
    dict(all_users="yes"),
    dict(users=[1.5]),
    dict(users=1000),
    dict(kill_tree=0),
    dict(state_dir=b"/tmp"),
    dict(dry_run=None),
    dict(subprocess_timeout_secs=None),
    dict(lock_timeout_secs=[5]),
    dict(backend=1),
    dict(require_pidfd=1),
    dict(audit="on"),
    dict(audit_max_bytes=4096.0),
    dict(leak_markers="CLAUDECODE=1"),
]

#: (keywords, a word of the message): refused by the C setters.
REFUSED_BY_C = [
    (dict(agent_names=[]), "agent_names is empty"),
    (dict(agent_names=[""]), "agent name"),
    (dict(agent_names=["a/b"]), "agent name"),
    (dict(subprocess_timeout_secs=0), "subprocess_timeout"),
    (dict(lock_timeout_secs=86400.001), "lock_timeout"),
    (dict(workspace_marker="/abs/marker"), "workspace_marker"),
    (dict(workspace_root="relative/root"), "workspace_root"),
    (dict(ide_markers=[""]), "IDE marker"),
    (dict(protected_pids=[0]), "protected pid"),
    (dict(protected_pids=[-5]), "protected pid"),
    (dict(tmux_sockets=[""]), "tmux socket"),
    (dict(state_dir="relative/state"), "state_dir"),
    (dict(state_dir=""), "state_dir"),
    (dict(protected_pid_files=["relative.pid"]), "protected pid file"),
    (dict(protected_pid_files=["~other/x.pid"]), "protected pid file"),
    (dict(audit_max_bytes=100), "audit_max_bytes"),
    (dict(leak_markers=["=1"]), "leak marker"),
]

#: Values that cannot reach C at all: refused by the binding.
UNREPRESENTABLE = [
    dict(agent_names=["nul\0"]),
    dict(state_dir="/tmp/x\0y"),
    dict(min_age_secs=-1),
    dict(grace_secs=-0.5),
    dict(grace_secs=float("nan")),
    dict(lock_timeout_secs=float("inf")),
    dict(subprocess_timeout_secs=-2),
    dict(min_age_secs=1e30),
    dict(protected_pids=[2**31]),
    dict(users=[-1]),
    dict(users=[2**32]),
    dict(audit_max_bytes=-1),
    dict(backend="windows"),
    dict(argv0_match="sometimes"),
]


@pytest.mark.parametrize("kw", TYPE_ERRORS, ids=lambda kw: repr(kw))
def test_bad_types_raise_type_error(kw):
    with pytest.raises(TypeError):
        procreap.Config(**kw)


@pytest.mark.parametrize("kw, word", REFUSED_BY_C, ids=lambda x: repr(x))
def test_bad_values_are_refused_by_the_c_setters(kw, word):
    with pytest.raises(procreap.InvalidArgument) as e:
        procreap.Config(**kw)
    assert e.value.code == 2
    assert isinstance(e.value, ValueError)
    # The library's message, with its one category prefix.
    assert e.value.message.startswith("invalid argument: ")
    assert e.value.message.count("invalid argument") == 1
    assert word in e.value.message


@pytest.mark.parametrize("kw", UNREPRESENTABLE, ids=lambda kw: repr(kw))
def test_values_c_cannot_receive_raise_invalid_argument(kw):
    with pytest.raises(procreap.InvalidArgument) as e:
        procreap.Config(**kw)
    assert e.value.code == 2
    assert e.value.message.startswith("invalid argument: ")
    (name,) = kw
    assert name in e.value.message


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="min_age"):
        procreap.Config(min_age=60)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="match_argv0"):
        procreap.Config(match_argv0=False)  # type: ignore[call-arg]  # now argv0_match
    with pytest.raises(TypeError):
        procreap.Config(["claude"])  # type: ignore[misc]  # keywords only


def test_a_refused_assignment_leaves_the_config_as_it_was():
    """Assignments go through the C setters at once: a Config can never hold
    a value the library refuses."""
    cfg = procreap.Config(grace_secs=5)
    with pytest.raises(procreap.InvalidArgument):
        cfg.grace_secs = -1
    with pytest.raises(procreap.InvalidArgument):
        cfg.agent_names = []
    with pytest.raises(TypeError):
        cfg.dry_run = "yes"  # type: ignore[assignment]
    assert cfg.grace_secs == 5
    assert cfg.agent_names == procreap.DEFAULT_AGENT_NAMES
    assert cfg.dry_run is False
    with pytest.raises(AttributeError):
        cfg.agent_names.clear()  # type: ignore[attr-defined]  # a tuple: assign a new list instead


def test_bad_call_arguments():
    with pytest.raises(procreap.InvalidArgument, match="orphans, zombies, leaked"):
        procreap.cleanup_step("everything")
    with pytest.raises(TypeError):
        procreap.cleanup_step(0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        procreap.find_orphans({"dry_run": True})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        procreap.scan("defaults")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        procreap.reap_set(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        procreap.reap_set([42])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        procreap.reap_set([(1, 2, 3)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        procreap.reap_set([(1.0, 2)])  # type: ignore[list-item]
    with pytest.raises(procreap.InvalidArgument):
        procreap.reap_set([(2**31, 2)])
    with pytest.raises(procreap.InvalidArgument):
        procreap.reap_set([(1, -2)])
    with pytest.raises(TypeError):
        procreap.reap_now([(1, 2)], "soon")  # type: ignore[arg-type]


@pytest.mark.parametrize("pid", [0, -1, -5])
def test_non_positive_pids_are_never_signalled(decoys, make_config, pid):
    """kill(0) and kill(-1) would reach whole process groups: such a pid
    only ever comes back skipped (or refused), never signalled."""
    d = decoys.start(decoys.sleeper())
    try:
        acts = procreap.reap_set([(pid, 1)], make_config())
    except procreap.InvalidArgument:
        acts = procreap.Report()
    assert all(a.signal is None and a.action == "skipped" for a in acts), acts
    try:
        acts = procreap.reap_now([(pid, 1)], 0.1, make_config())
    except procreap.InvalidArgument:
        acts = procreap.Report()
    assert all(a.signal is None and a.action == "skipped" for a in acts), acts
    assert not d.exited()
