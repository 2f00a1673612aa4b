"""find_orphans, find_zombies and explain against real decoy processes."""

from __future__ import annotations

import os
import pty
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import procreap
from decoys import children, read_stat, reap_strays, tmux_server_visible, vm_rss, wait_until


def by_pid(items, pid):
    found = [x for x in items if (x.pid if isinstance(x, procreap.Process) else x.process.pid) == pid]
    assert len(found) == 1, f"pid {pid} not found exactly once in {items}"
    return found[0]


def test_version_is_the_header_version():
    header = (Path(__file__).resolve().parents[3] / "include" / "procreap.h").read_text()
    want = header.split('#define PROCREAP_VERSION_STRING "')[1].split('"')[0]
    assert procreap.version() == want


def test_find_orphans_reports_every_process_field(decoys, make_config, tmp_path):
    ws = tmp_path / "town"
    (ws / "mayor").mkdir(parents=True)
    (ws / "mayor" / "prt.json").write_text("{}")
    cwd = ws / "rig" / "crew"
    cwd.mkdir(parents=True)
    path = decoys.sleeper()
    d = decoys.start(path, ["3600"], cwd=cwd)
    found = procreap.find_orphans(make_config(workspace_marker="mayor/prt.json"))
    p = by_pid(found, d.pid)
    assert isinstance(p, procreap.Process)
    assert p.pid == d.pid
    assert p.start_time == d.start_time == read_stat(d.pid)[3]
    assert p.identity == d.identity
    assert p.ppid == read_stat(d.pid)[2]
    assert p.name == path.name
    assert 0 <= p.age_secs < 60
    assert p.tty is None
    assert p.state in ("S", "R")
    assert p.workspace_root == os.path.realpath(ws)
    assert p.cmdline == f"{path} 3600"
    assert p.uid == os.geteuid()
    assert 0 < p.rss_bytes == pytest.approx(vm_rss(d.pid), rel=0.5)
    with pytest.raises(Exception):
        p.pid = 1  # frozen
    # Only the decoys of this test: the private name sees nothing else.
    assert [x.pid for x in found] == [d.pid]


def test_defaults_without_workspace_root_give_none(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    p = by_pid(procreap.find_orphans(make_config()), d.pid)
    assert p.workspace_root is None


def test_find_orphans_sees_several_decoys_and_only_them(decoys, make_config):
    ds = [decoys.start(decoys.sleeper()) for _ in range(3)]
    found = procreap.find_orphans(make_config())
    assert sorted(p.pid for p in found) == sorted(d.pid for d in ds)


def test_min_age_makes_young_decoys_invisible(decoys, make_config):
    decoys.start(decoys.sleeper())
    assert procreap.find_orphans(make_config(min_age_secs=3600)) == []


def test_argv0_match_modes(decoys, make_config):
    """A process whose comm is no agent name (here "prt-…") but whose argv[0]
    names one is an agent only with argv0_match="always"; the default
    ("version-like") trusts argv[0] only for a version-like comm."""
    comm_path = decoys.sleeper()  # comm: not an agent name
    agent = decoys.name()
    decoys.names.remove(comm_path.name)
    d = decoys.start(comm_path, argv0=f"/opt/agents/{agent}")
    assert read_stat(d.pid)[0] == comm_path.name
    found = lambda mode: [  # noqa: E731
        p.pid for p in procreap.find_orphans(make_config(agent_names=[agent], argv0_match=mode))
    ]
    assert found(procreap.Argv0Match.ALWAYS) == [d.pid]
    assert found("version-like") == []
    assert found(procreap.Argv0Match.NEVER) == []
    assert procreap.Config(argv0_match="always").argv0_match is procreap.Argv0Match.ALWAYS


def test_argv0_match_version_like_comm(decoys, make_config):
    """A binary named like a version (the agent CLI's own layout: comm
    "9.8.7") is found by argv[0] under the default mode, not under "never"."""
    version_dir = decoys.dir / decoys.name()
    version_dir.mkdir()
    binary = version_dir / f"{secrets.randbelow(90) + 10}.{secrets.randbelow(90)}.{secrets.randbelow(90)}"
    binary.symlink_to(decoys.sleeper())
    decoys.names.remove(decoys.names[-1])  # the sleeper's own name is no agent here
    agent = decoys.name()
    d = decoys.start(binary, argv0=agent)
    assert read_stat(d.pid)[0] == binary.name
    assert [p.pid for p in procreap.find_orphans(make_config(agent_names=[agent]))] == [d.pid]
    assert procreap.find_orphans(make_config(agent_names=[agent], argv0_match="never")) == []


def test_agent_names_are_case_insensitive(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    names = [n.upper() for n in decoys.names]
    assert [p.pid for p in procreap.find_orphans(make_config(agent_names=names))] == [d.pid]


def test_find_zombies_with_a_protected_root(decoys, make_config):
    """A zombie scan needs something protected to see by: a protected pid
    (here a non-agent process of ours) lets it run without any tmux."""
    guard = decoys.start(decoys.sleeper(), detached=decoys.detached)
    decoys.names.remove(guard.name)
    d = decoys.start(decoys.sleeper())
    found = procreap.find_zombies(make_config(protected_pids=[guard.pid]))
    assert [p.pid for p in found] == [d.pid]
    assert found[0].identity == d.identity


def test_find_zombies_without_tmux_is_tmux_unavailable(decoys, make_config):
    decoys.start(decoys.sleeper())
    if tmux_server_visible():
        pytest.skip("a tmux server is visible in the process table")
    try:
        procreap.find_zombies(make_config())
    except procreap.TmuxUnavailable as e:
        assert e.code == 6
        assert "tmux" in str(e)
        return
    if tmux_server_visible():
        pytest.skip("a tmux server appeared during the test")
    pytest.fail("find_zombies did not raise TmuxUnavailable with no tmux server")


def test_backend_ps_sees_the_same_identity(decoys, make_config):
    if not any(os.access(os.path.join(p, "ps"), os.X_OK) for p in os.environ["PATH"].split(":")):
        pytest.skip("no ps")
    d = decoys.start(decoys.sleeper())
    for backend in ("auto", "proc"):
        found = procreap.find_orphans(make_config(backend=backend))
        assert [p.identity for p in found] == [d.identity], backend
    # The ps backend's start_time is in its own unit (from `ps -o lstart`,
    # not clock ticks since boot): stable across its own scans, not across
    # backends.
    first = procreap.find_orphans(make_config(backend="ps"))
    again = procreap.find_orphans(make_config(backend="ps"))
    assert [p.pid for p in first] == [d.pid]
    assert [p.identity for p in again] == [p.identity for p in first]
    assert first[0].name == d.name
    assert first[0].cmdline == " ".join(d.argv)


# --- the scan object --------------------------------------------------------


def test_one_scan_answers_every_question(decoys, make_config):
    """orphans, zombies, leaked and explain from one read of the table; the
    lists agree with the one-shot functions."""
    guard = decoys.start(decoys.sleeper())
    decoys.names.remove(guard.name)
    ds = [decoys.start(decoys.sleeper()) for _ in range(2)]
    cfg = make_config(protected_pids=[guard.pid], leak_markers=[f"PRT_LEAK_{decoys.name()}"])
    want = sorted(d.identity for d in ds)
    with procreap.scan(cfg) as s:
        assert isinstance(s, procreap.Scan)
        assert sorted(p.identity for p in s.orphans()) == want
        assert sorted(p.identity for p in s.zombies()) == want
        assert s.leaked() == []  # no process carries this private marker
        vs = s.explain()
        assert sorted(v.process.identity for v in vs if v.verdict == "orphan") == want
        # Asked again: the same snapshot, the same answers.
        assert sorted(p.identity for p in s.orphans()) == want
    assert sorted(p.identity for p in procreap.find_orphans(cfg)) == want
    assert procreap.find_leaked(cfg) == []
    assert not any(d.exited() for d in ds)


def test_a_scan_is_a_snapshot(decoys, make_config):
    """A process started after the scan is not in it; a new scan sees it."""
    first = decoys.start(decoys.sleeper())
    with procreap.scan(make_config()) as s:
        later = decoys.start(decoys.sleeper())
        assert [p.pid for p in s.orphans()] == [first.pid]
    with procreap.scan(make_config()) as s:
        assert sorted(p.pid for p in s.orphans()) == sorted([first.pid, later.pid])


def test_scan_zombies_without_tmux_is_tmux_unavailable(decoys, make_config):
    decoys.start(decoys.sleeper())
    if tmux_server_visible():
        pytest.skip("a tmux server is visible in the process table")
    with procreap.scan(make_config()) as s:
        try:
            s.zombies()
        except procreap.TmuxUnavailable:
            assert s.orphans()  # the rest of the scan still answers
            return
    if tmux_server_visible():
        pytest.skip("a tmux server appeared during the test")
    pytest.fail("Scan.zombies did not raise TmuxUnavailable with no tmux server")


def test_a_closed_scan_refuses_questions(decoys, make_config):
    s = procreap.scan(make_config())
    assert not s.closed
    s.close()
    s.close()  # twice is fine
    assert s.closed
    for ask in (s.orphans, s.zombies, s.leaked, s.explain):
        with pytest.raises(ValueError, match="closed"):
            ask()
    with pytest.raises(TypeError):
        import copy

        copy.copy(procreap.scan(make_config()))


def test_find_leaked_with_a_private_marker_touches_nothing(decoys, make_config):
    """The leaked query goes through with a private marker (which no process
    carries, so the list is empty; what it finds: test_leaked.py)."""
    d = decoys.start(decoys.sleeper())
    cfg = make_config(leak_markers=[f"PRT_LEAK_{decoys.name()}=1"])
    assert procreap.find_leaked(cfg) == []
    assert cfg.leak_markers == (f"PRT_LEAK_{decoys.names[-1]}=1",)
    assert not d.exited()


# --- explain: one decoy per verdict ---------------------------------------


def verdict_of(cfg, pid):
    v = by_pid(procreap.explain(cfg), pid)
    assert isinstance(v, procreap.Verdict)
    assert isinstance(v.verdict, procreap.VerdictKind) and v.verdict in procreap.VERDICTS
    assert v.reason
    return v


def test_explain_orphan(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    v = verdict_of(make_config(), d.pid)
    assert v.verdict == "orphan"
    assert "no terminal, not in tmux" in v.reason
    assert v.process.identity == d.identity


HELPER = r"""
import os, signal, subprocess, sys
child = subprocess.Popen([sys.argv[1], "3600"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def bye(*_):
    try:
        os.waitpid(child.pid, 0)
    except ChildProcessError:
        pass
    os._exit(0)
signal.signal(signal.SIGTERM, bye)
while True:
    signal.pause()
"""


def test_explain_defunct_names_the_parent(decoys, make_config):
    """An agent that died but whose parent (a helper of ours that never
    reaps) has not waited for it: defunct, the reason names the parent."""
    agent = decoys.sleeper()
    helper_path = decoys.link(sys.executable)
    decoys.names.remove(helper_path.name)
    helper = decoys.start(helper_path, ["-c", HELPER, str(agent)])
    assert wait_until(lambda: children(helper.pid, agent.name), 10)
    child = decoys.adopt(children(helper.pid, agent.name)[0], agent.name)
    child.signal(signal.SIGKILL)
    assert wait_until(lambda: child.state() == "Z")
    try:
        v = verdict_of(make_config(), child.pid)
        assert v.verdict == "defunct"
        assert str(helper.pid) in v.reason
        assert v.process.state == "Z"
        assert v.process.ppid == helper.pid
        # Never a candidate, and a cleanup step never signals it.
        assert procreap.find_orphans(make_config()) == []
    finally:
        helper.signal(signal.SIGTERM)  # it reaps its child, then exits
        helper.wait_exited()


@pytest.mark.skipif(os.geteuid() != 0, reason="starting another user's process needs root")
def test_explain_other_user_and_all_users(decoys, make_config):
    d = decoys.start(decoys.sleeper(), user=65534, cwd="/")
    v = verdict_of(make_config(), d.pid)
    assert v.verdict == "other-user"
    assert "65534" in v.reason
    assert procreap.find_orphans(make_config()) == []
    assert verdict_of(make_config(all_users=True), d.pid).verdict == "orphan"


def test_explain_protected_pid(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    v = verdict_of(make_config(protected_pids=[d.pid]), d.pid)
    assert v.verdict == "protected"
    assert "protected_pids" in v.reason


def test_explain_protected_pid_file_descendant(decoys, make_config, tmp_path):
    """A protected root's descendants are protected too: the root here is a
    sh script of ours (not an agent) whose child is the agent."""
    agent = decoys.sleeper()
    root = decoys.script(f"'{agent}' 3600 &\nwait\n")
    decoys.names.remove(root.name)
    r = decoys.start(root, [])
    assert wait_until(lambda: children(r.pid, agent.name))
    child = decoys.adopt(children(r.pid, agent.name)[0], agent.name)
    pidfile = tmp_path / "root.pid"
    pidfile.write_text(f"{r.pid}\n")
    v = verdict_of(make_config(protected_pid_files=[pidfile]), child.pid)
    assert v.verdict == "protected"
    assert f"descendant of protected root {r.pid}" in v.reason
    assert str(pidfile) in v.reason
    # Without the pid file it is an orphan like any other.
    assert verdict_of(make_config(), child.pid).verdict == "orphan"


def test_explain_has_tty(decoys, make_config):
    """A decoy on a private pty of ours (never the runner's terminal)."""
    master, slave = pty.openpty()
    try:
        d = decoys.start(decoys.sleeper(), ctty=os.ttyname(slave))
        v = verdict_of(make_config(), d.pid)
        assert v.verdict == "has-tty"
        tty = os.ttyname(slave).removeprefix("/dev/")
        assert v.process.tty == tty
        assert tty in v.reason
        assert procreap.find_orphans(make_config()) == []
    finally:
        decoys.close()
        os.close(master)
        os.close(slave)


def test_explain_ide_launched(decoys, make_config):
    path = decoys.sleeper()
    d = decoys.start(path, argv0=f"/home/x/.prt-ide-{path.name}/{path.name}")
    v = verdict_of(make_config(ide_markers=[".prt-ide-"]), d.pid)
    assert v.verdict == "ide-launched"
    assert verdict_of(make_config(), d.pid).verdict == "orphan"


def test_explain_stream_json_host_is_ide_launched(decoys, make_config):
    path = decoys.link(sys.executable)
    flags = ["--output-format", "stream-json", "--input-format", "stream-json"]
    d = decoys.start(path, ["-c", "import time; time.sleep(3600)", *flags])
    v = verdict_of(make_config(), d.pid)
    assert v.verdict == "ide-launched", v


def test_explain_too_young(decoys, make_config):
    d = decoys.start(decoys.sleeper())
    v = verdict_of(make_config(min_age_secs=3600), d.pid)
    assert v.verdict == "too-young"
    assert "3600s" in v.reason


def test_explain_outside_workspace(decoys, make_config, tmp_path):
    town = tmp_path / "town"
    other = tmp_path / "other"
    for t in (town, other):
        (t / "mayor").mkdir(parents=True)
        (t / "mayor" / "prt.json").write_text("{}")
    bare = tmp_path / "bare"
    bare.mkdir()
    in_other = decoys.start(decoys.sleeper(), cwd=other)
    nowhere = decoys.start(decoys.sleeper(), cwd=bare)
    in_town = decoys.start(decoys.sleeper(), cwd=town)
    cfg = make_config(workspace_marker="mayor/prt.json", workspace_root=town)
    v = verdict_of(cfg, in_other.pid)
    assert v.verdict == "outside-workspace"
    assert v.process.workspace_root == os.path.realpath(other)
    v = verdict_of(cfg, nowhere.pid)
    assert v.verdict == "outside-workspace"
    assert v.process.workspace_root is None
    v = verdict_of(cfg, in_town.pid)
    assert v.verdict == "orphan"
    assert v.process.workspace_root == os.path.realpath(town)
    # workspace_root without a marker: only processes under that directory.
    cfg = make_config(workspace_root=str(town))
    assert [p.pid for p in procreap.find_orphans(cfg)] == [in_town.pid]


def test_explain_protected_by_a_private_tmux_pane(decoys, make_config):
    """An agent running in a pane of a private tmux server (-L unique) is
    protected, and a zombie scan then sees by that server."""
    tmux = subprocess.run(["which", "tmux"], capture_output=True, text=True).stdout.strip()
    if not tmux:
        pytest.skip("no tmux")
    agent = decoys.sleeper()
    sock = decoys.name()
    decoys.names.remove(sock)
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    run = lambda *a: subprocess.run(  # noqa: E731
        [tmux, "-L", sock, *a], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=20
    )
    try:
        r = run("-f", "/dev/null", "new-session", "-d", "-s", "prt", f"exec '{agent}' 3600")
        assert r.returncode == 0, r.stderr
        panes = run("list-panes", "-a", "-F", "#{pane_pid}").stdout.split()
        shell = int(panes[0])

        def agent_pid():
            st = read_stat(shell)
            if st and st[0] == agent.name:
                return shell  # the pane's shell exec'd the agent
            found = children(shell, agent.name)
            return found[0] if found else None

        assert wait_until(agent_pid)
        pane = agent_pid()
        v = verdict_of(make_config(), pane)
        assert v.verdict == "protected"
        assert "tmux" in v.reason
        v = verdict_of(make_config(tmux_sockets=[sock]), pane)
        assert v.verdict == "protected"
        assert f"tmux socket {sock}" in v.reason
        assert procreap.find_zombies(make_config(tmux_sockets=[sock])) == []
    finally:
        shown = run("display-message", "-p", "#{pid}").stdout.strip()
        run("kill-server")
        if shown.isdigit():
            # Gone (and reaped, if it was handed to us), so later tests see
            # no tmux server.
            server = int(shown)
            wait_until(lambda: (st := read_stat(server)) is None or st[1] in "ZX")
            reap_strays()
        sockdir = os.environ.get("TMUX_TMPDIR", "/tmp") + f"/tmux-{os.geteuid()}"
        try:
            os.unlink(f"{sockdir}/{sock}")  # left behind when the server dies hard
        except FileNotFoundError:
            pass
