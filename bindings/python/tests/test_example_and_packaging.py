"""The example runs, the library is found (or the error names every place
searched), and `pip install bindings/python` gives a working, typed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import procreap
from procreap import _lib

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parent.parent
EXAMPLE = REPO / "examples" / "python" / "orphans.py"


def lib_path() -> str:
    return os.path.abspath(_lib.lib()._name)


def run_py(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )


def test_example_prints_a_table_and_a_dry_run_step(decoys, tmp_path):
    d = decoys.start(decoys.sleeper())
    env = dict(os.environ, PROCREAP_LIB=lib_path(), PYTHONPATH=str(PACKAGE_ROOT))
    out = run_py(
        [str(EXAMPLE), "--agent-name", d.name, "--min-age", "0", "--no-workspace",
         "--state-dir", str(tmp_path / "state")],
        env,
    )
    assert out.returncode == 0, out.stderr
    assert "PID" in out.stdout and "COMMAND" in out.stdout
    row = [line for line in out.stdout.splitlines() if line.startswith(str(d.pid))]
    assert row and d.name in row[0], out.stdout
    assert f"pid {d.pid}" in out.stdout and "sigterm" in out.stdout and "dry run" in out.stdout
    assert not d.exited()  # a dry run
    assert not (tmp_path / "state").exists()


def test_library_not_found_names_every_place_searched(tmp_path):
    copy = tmp_path / "site" / "procreap"
    shutil.copytree(PACKAGE_ROOT / "procreap", copy)
    env = {k: v for k, v in os.environ.items() if k != "PROCREAP_LIB"}
    env["PYTHONPATH"] = str(copy.parent)
    code = "import procreap\ntry:\n    procreap.version()\nexcept procreap.LibraryNotFound as e:\n    print(e)\n"
    out = run_py(["-c", code], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    msg = out.stdout
    assert "PROCREAP_LIB" in msg
    assert str(copy / _lib.library_name()) in msg
    assert "no procreap checkout" in msg
    # Outside a checkout no target/ is searched: not the copy's neighbours,
    # not a planted /tmp/target.
    assert "target/release" not in msg and "target/debug" not in msg


def test_a_target_dir_above_the_package_that_is_no_checkout_is_ignored(tmp_path):
    """A library planted in target/release above an installed package (say
    /tmp/target under a venv in /tmp) is never loaded."""
    copy = tmp_path / "site" / "procreap"
    shutil.copytree(PACKAGE_ROOT / "procreap", copy)
    planted = tmp_path / "target" / "release" / _lib.library_name()
    planted.parent.mkdir(parents=True)
    shutil.copy(lib_path(), planted)
    env = {k: v for k, v in os.environ.items() if k != "PROCREAP_LIB"}
    code = "import procreap\ntry:\n    procreap.version()\nexcept procreap.LibraryNotFound as e:\n    print('not found')\n"
    out = run_py(["-c", code], dict(env, PYTHONPATH=str(copy.parent)), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "not found"


def test_a_bad_procreap_lib_is_named(tmp_path):
    env = dict(os.environ, PROCREAP_LIB=str(tmp_path / "nope.so"), PYTHONPATH=str(PACKAGE_ROOT))
    out = run_py(["-c", "import procreap\nprocreap.find_orphans()"], env)
    assert out.returncode != 0
    assert "LibraryNotFound" in out.stderr and "nope.so" in out.stderr


def test_found_beside_the_package_then_in_the_repository(tmp_path):
    """Without PROCREAP_LIB: a copy beside the package wins; from the
    checkout, the repository's own target/ is found."""
    copy = tmp_path / "site" / "procreap"
    shutil.copytree(PACKAGE_ROOT / "procreap", copy)
    shutil.copy(lib_path(), copy / _lib.library_name())
    env = {k: v for k, v in os.environ.items() if k != "PROCREAP_LIB"}
    code = "import procreap, procreap._lib as l\nprint(procreap.version(), l.lib()._name)"
    out = run_py(["-c", code], dict(env, PYTHONPATH=str(copy.parent)), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [procreap.version(), str(copy / _lib.library_name())]
    in_repo = [p for p in _lib.candidate_paths() if p.is_file()]
    if not in_repo:
        pytest.skip("no library built under the repository's target/")
    out = run_py(["-c", code], dict(env, PYTHONPATH=str(PACKAGE_ROOT)), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[1] == str(in_repo[0])


def test_pip_install_gives_a_typed_working_package(tmp_path):
    import importlib.util

    # An offline build (no isolation) needs setuptools, and `wheel` unless
    # setuptools has bdist_wheel built in (70.1+). scripts/test-python.sh
    # installs both into its venv.
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed")
    if importlib.util.find_spec("setuptools.command.bdist_wheel") is None and (
        importlib.util.find_spec("wheel") is None
    ):
        pytest.skip("neither wheel nor setuptools >= 70.1 is installed")
    target = tmp_path / "target-site"
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(src)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    installed = target / "procreap"
    assert (installed / "py.typed").is_file()
    assert (installed / "__init__.py").is_file()
    env = dict(os.environ, PROCREAP_LIB=lib_path(), PYTHONPATH=str(target))
    check = run_py(["-c", "import procreap; print(procreap.__file__, procreap.version())"], env, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == [str(installed / "__init__.py"), procreap.version()]


def test_public_api_is_typed():
    import inspect
    import typing

    for name in ("find_orphans", "find_zombies", "explain", "cleanup_step", "reap_set", "reap_now", "version"):
        fn = getattr(procreap, name)
        hints = typing.get_type_hints(fn)
        assert "return" in hints, name
        params = inspect.signature(fn).parameters
        assert all(p in hints for p in params), name
    assert typing.get_type_hints(procreap.Process)["tty"] == str | None
    assert typing.get_type_hints(procreap.Config)["state_dir"] is not None


def test_mypy_strict_passes():
    """Type hints throughout: the package and the example pass mypy --strict
    (scripts/test-python.sh installs mypy into its venv)."""
    import importlib.util

    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         str(PACKAGE_ROOT / "procreap"), str(EXAMPLE)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
