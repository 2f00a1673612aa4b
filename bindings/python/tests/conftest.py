"""Fixtures: private agent names, decoys torn down on any outcome, and a
configuration that can only ever see those decoys."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # bindings/python
REPO = PACKAGE_ROOT.parent.parent
sys.path.insert(0, str(HERE))
# Test the source tree, not whatever copy may be installed.
sys.path.insert(0, str(PACKAGE_ROOT))

import procreap  # noqa: E402

from decoys import Factory, reap_strays  # noqa: E402


def pytest_report_header(config: Any) -> list[str]:
    return [
        f"procreap {procreap.__file__}",
        f"PROCREAP_LIB={os.environ.get('PROCREAP_LIB', '(unset)')}",
    ]


@pytest.fixture(scope="session", autouse=True)
def _reap_at_end() -> Iterator[None]:
    yield
    reap_strays()


@pytest.fixture
def decoys() -> Iterator[Factory]:
    f = Factory()
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def state_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="prt-state-"))
    try:
        yield d / "state"
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)


MakeConfig = Callable[..., procreap.Config]


@pytest.fixture
def make_config(decoys: Factory, state_dir: Path) -> MakeConfig:
    """A Config that sees only this test's decoys: its own agent names, its
    own leak marker (never the agent CLI's real one), its own state dir, no
    workspace test, no minimum age, a 1 s grace, no pid files from $HOME."""

    def make(**kw: Any) -> procreap.Config:
        base: dict[str, Any] = dict(
            agent_names=list(decoys.names) or [decoys.name()],
            state_dir=state_dir,
            workspace_marker="",
            min_age_secs=0,
            grace_secs=1,
            protected_pid_files=[],
            lock_timeout_secs=10,
            leak_markers=[f"PRT_LEAK_{secrets.token_hex(4)}=1"],
        )
        base.update(kw)
        return procreap.Config(**base)

    return make
