"""Throw-away "agent" processes for the tests, under private names.

Safety rules (absolute): a test only ever signals processes it started
itself; every decoy runs under a fresh name ``prt-<random>`` (a symlink to
/bin/sleep, or a small sh script, whose file name the kernel takes as the
process name), so a procreap configured with ``agent_names`` = those names
cannot see anything else. Decoys have no controlling terminal (new session,
stdio on /dev/null) unless a test gives one its own private pty. Every decoy
is killed and reaped at teardown, also when the test fails.

Signals from the tests go through a pidfd, so they cannot reach a recycled
pid. When the test runner itself sits in a tmux pane, a direct child would
be protected (a descendant of the pane), so decoys are then started through a
short-lived launcher and reparented away from the pane ("detached").
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLEEP = shutil.which("sleep") or "/bin/sleep"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_stat(pid: int) -> tuple[str, str, int, int] | None:
    """(comm, state, ppid, start_time) from /proc/PID/stat, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    comm = data[data.index("(") + 1 : data.rindex(")")]
    rest = data[data.rindex(")") + 2 :].split()
    return comm, rest[0], int(rest[1]), int(rest[19])


def tmux_server_visible() -> bool:
    """Is any tmux server in the process table (procreap's own test)?"""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            comm = (d / "comm").read_text().strip().lower()
        except OSError:
            continue
        if comm.startswith("tmux") and not comm.startswith("tmux: client"):
            return True
    return False


def runner_in_tmux() -> bool:
    """Is this test process a descendant of a tmux server?"""
    pid = os.getpid()
    for _ in range(256):
        st = read_stat(pid)
        if st is None or pid <= 1:
            return False
        comm, _, ppid, _ = st
        low = comm.lower()
        if low.startswith("tmux") and not low.startswith("tmux: client"):
            return True
        pid = ppid
    return False


def _take_ctty() -> None:
    """In the child, after setsid (start_new_session): make stdin's pty the
    controlling terminal. Only ever a private pty a test opened."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _popen(spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    """Starts a decoy from a JSON-able spec (used in-process and by the launcher)."""
    stdio: Any = subprocess.DEVNULL
    preexec = None
    tty_fd = None
    if spec.get("ctty"):
        tty_fd = os.open(spec["ctty"], os.O_RDWR | os.O_NOCTTY)
        stdio = tty_fd
        preexec = _take_ctty

    env = None
    if spec.get("env"):
        env = {**os.environ, **spec["env"]}
    try:
        return subprocess.Popen(
            spec["argv"],
            executable=spec.get("executable"),
            env=env,
            cwd=spec.get("cwd"),
            user=spec.get("user"),
            stdin=stdio,
            stdout=stdio,
            stderr=stdio,
            start_new_session=True,
            close_fds=True,
            preexec_fn=preexec,
        )
    finally:
        if tty_fd is not None:
            os.close(tty_fd)


LAUNCHER = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from decoys import _popen
p = _popen(json.loads(sys.argv[2]))
sys.stdout.write(str(p.pid))
sys.stdout.flush()
os._exit(0)
"""


@dataclass
class Decoy:
    """One process a test started. ``pidfd`` pins its identity."""

    pid: int
    name: str
    argv: list[str]
    start_time: int
    pidfd: int
    popen: subprocess.Popen[bytes] | None = None
    #: Handed to this process (subreaper) when its parent dies: reap it then.
    ours_to_reap: bool = False

    @property
    def identity(self) -> tuple[int, int]:
        return (self.pid, self.start_time)

    def exited(self) -> bool:
        """True once the process has terminated (a zombie counts)."""
        return bool(select.select([self.pidfd], [], [], 0)[0])

    def state(self) -> str | None:
        st = read_stat(self.pid)
        if st is None or st[3] != self.start_time:
            return None
        return st[1]

    def wait_exited(self, timeout: float = 5.0) -> bool:
        return bool(select.select([self.pidfd], [], [], timeout)[0])

    def signal(self, sig: int) -> None:
        signal.pidfd_send_signal(self.pidfd, sig)

    def kill(self) -> None:
        """SIGKILL (through the pidfd) and reap when it is our child."""
        if self.pidfd < 0:
            return
        try:
            if not self.exited():
                self.signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait_exited(10)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        elif self.ours_to_reap:
            # Its parent (a decoy, a tmux server) reaps it, or hands it to us
            # (subreaper) when it dies: wait for either.
            def settled() -> bool:
                reap(self.pid)
                st = read_stat(self.pid)
                return st is None or st[3] != self.start_time
            wait_until(settled, 3)
        os.close(self.pidfd)
        self.pidfd = -1


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def reap(pid: int) -> None:
    """Reaps ``pid`` if it is a dead child of ours; anything else is left alone."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def reap_strays() -> None:
    """Reaps every dead child of ours (decoys' children handed to us as subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


_subreaper = False


def become_subreaper() -> None:
    """Orphaned descendants of the tests are handed to this process, not to
    pid 1 (which in some containers never reaps), so nothing is left behind."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    libc.prctl.restype = ctypes.c_int
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
        _subreaper = True


class Factory:
    """Makes private agent names and starts decoys; kills them all in ``close``."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="prt-"))
        self.dir.chmod(0o755)  # so a decoy running as another user can exec
        self.detached = runner_in_tmux()
        if not self.detached:
            become_subreaper()
        self.decoys: list[Decoy] = []
        self.names: list[str] = []

    def name(self) -> str:
        n = f"prt-py{secrets.token_hex(3)}"  # 12 chars: within the kernel's 15
        self.names.append(n)
        return n

    def sleeper(self, name: str | None = None) -> Path:
        """A symlink to sleep named ``name``: exec'd through it, the process is called so."""
        name = name or self.name()
        link = self.dir / name
        if not link.exists():
            link.symlink_to(SLEEP)
        return link

    def link(self, target: str, name: str | None = None) -> Path:
        """A symlink to ``target`` named ``name`` (a fresh private name by default)."""
        name = name or self.name()
        link = self.dir / name
        link.symlink_to(target)
        return link

    def script(self, body: str, name: str | None = None) -> Path:
        """An executable sh script; the process that runs it has its file name."""
        name = name or self.name()
        path = self.dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
        return path

    def term_ignorer(self) -> Path:
        """A script that ignores SIGTERM and then becomes sleep under its own
        name (SIG_IGN survives exec): one process, only SIGKILL ends it."""
        name = self.name()
        sub = self.dir / f"{name}.d"
        sub.mkdir()
        (sub / name).symlink_to(SLEEP)
        return self.script(f"trap '' TERM\nexec '{sub / name}' 3600\n", name)

    def start(
        self,
        path: Path,
        args: list[str] | None = None,
        *,
        argv0: str | None = None,
        cwd: str | Path | None = None,
        user: int | None = None,
        ctty: str | None = None,
        detached: bool | None = None,
        env: dict[str, str] | None = None,
    ) -> Decoy:
        """Starts ``path`` as a decoy; ``env`` is added to its environment
        (e.g. a private leak marker)."""
        argv = [argv0 or str(path), *(["3600"] if args is None else args)]
        spec = {
            "argv": argv,
            "executable": str(path),
            "cwd": str(cwd) if cwd is not None else str(self.dir),
            "user": user,
            "ctty": ctty,
            "env": env,
        }
        detached = self.detached if detached is None else detached
        popen = None
        if detached:
            out = subprocess.run(
                [sys.executable, "-c", LAUNCHER, str(Path(__file__).parent), json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=True,
                timeout=30,
            )
            pid = int(out.stdout)
        else:
            popen = _popen(spec)
            pid = popen.pid
        pidfd = os.pidfd_open(pid)
        st = read_stat(pid)
        name = path.name[:15]
        if st is None or st[0] != name:
            os.close(pidfd)
            raise RuntimeError(f"decoy {pid} is not {name!r} (stat {st}); not touching it")
        d = Decoy(pid, path.name, argv, st[3], pidfd, popen, ours_to_reap=not detached)
        self.decoys.append(d)
        # The exec may still be under way: the kernel sets the name and closes
        # the CLOEXEC pipe Popen waits on before it fills in argv, so wait
        # until /proc/PID/cmdline shows the whole argv.
        with open(path, "rb") as f:
            text = f.read()
        script = text[:2] == b"#!"
        want = b"\0".join(a.encode() for a in argv) + b"\0"
        ready = (lambda: bool(_cmdline(pid))) if script else (lambda: _cmdline(pid) == want)
        if script and b"\nexec " in text:
            # A script that execs sleep: settled once sleep runs (a process
            # caught between the two execs has no argv yet, and procreap
            # rightly refuses to judge it).
            sleep = os.path.realpath(SLEEP)

            def ready() -> bool:
                try:
                    return os.readlink(f"/proc/{pid}/exe") == sleep and bool(_cmdline(pid))
                except OSError:
                    return False
        if not wait_until(ready, 10, 0.001):
            raise RuntimeError(f"decoy {pid}: argv never showed up ({_cmdline(pid)!r})")
        return d

    def adopt(self, pid: int, name: str) -> Decoy:
        """Tracks a process a decoy started (e.g. its child), after checking its name."""
        pidfd = os.pidfd_open(pid)
        st = read_stat(pid)
        if st is None or st[0] != name[:15]:
            os.close(pidfd)
            raise RuntimeError(f"pid {pid} is not {name!r} (stat {st}); not touching it")
        d = Decoy(pid, name, [], st[3], pidfd, None, ours_to_reap=not self.detached)
        self.decoys.append(d)
        return d

    def agent_with_child(
        self, *, env: dict[str, str] | None = None, ignore_term: bool = False, cwd: str | Path | None = None
    ) -> tuple[Decoy, Decoy]:
        """An agent decoy — an sh script under a fresh private name, in a
        session of its own, so it leads its process group as an agent started
        from a terminal does — that starts one child in its group and waits:
        a sleeper called ``mcp-<hex>`` (an MCP server's stand-in, no agent),
        with ``env`` added to the child's environment only (a leak marker, as
        the agent CLI sets one), SIGTERM ignored when ``ignore_term``.
        Returns ``(agent, child)`` once the child runs. Kill the agent (a
        crash) to leave the child behind: it is then handed to this process
        (a subreaper), which reaps it at teardown."""
        kid = f"mcp-{secrets.token_hex(4)}"
        cmd = "exec"
        if env:
            cmd += " env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        cmd += f" {shlex.quote(str(self.sleeper(kid)))} 3600"
        if ignore_term:
            cmd = f"trap '' TERM; {cmd}"
        agent = self.start(self.script(f"({cmd}) &\nwait\n"), [], cwd=cwd)
        if not wait_until(lambda: children(agent.pid, kid), 5, 0.005):
            raise RuntimeError(f"agent {agent.pid} never started {kid}")
        return agent, self.adopt(children(agent.pid, kid)[0], kid)

    def hog(self, mib: int) -> Decoy:
        """A decoy under a fresh private name (python through a symlink)
        holding ``mib`` MiB resident, that exits on SIGTERM; returned once
        the memory is resident."""
        code = f"x = b'a' * ({mib} << 20)\nimport time\ntime.sleep(3600)"
        d = self.start(self.link(os.path.realpath(sys.executable)), ["-c", code])
        if not wait_until(lambda: vm_rss(d.pid) >= mib << 20, 10):
            raise RuntimeError(f"decoy {d.pid} never held {mib} MiB")
        return d

    def close(self) -> None:
        for d in reversed(self.decoys):
            d.kill()
        self.decoys.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


def children(ppid: int, name: str) -> list[int]:
    """Pids of the processes called ``name`` whose parent is ``ppid`` and
    whose argv is in place (the kernel sets the name first)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = read_stat(int(d.name))
            if st is not None and st[2] == ppid and st[0] == name[:15] and _has_argv(int(d.name)):
                found.append(int(d.name))
    return found


def vm_rss(pid: int) -> int:
    """VmRSS of /proc/PID/status, in bytes (0 when it has none)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _has_argv(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() != b""
    except OSError:
        return False


def wait_until(pred: Any, timeout: float = 5.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())
