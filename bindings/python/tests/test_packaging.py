"""Finding the library (PROCREAP_LIB, else the copy inside the package,
nothing else), and installing the package as a user would: the platform
wheel from `make wheel`, and `pip install ./bindings/python`, each into a
fresh venv outside the checkout, used from outside it with no environment
variable. Plus the typing of the public API (mypy --strict)."""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import procreap
from procreap import _lib

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parent.parent
EXAMPLE = REPO / "examples" / "python" / "orphans.py"
WHEELHOUSE = os.environ.get("PROCREAP_TEST_WHEELHOUSE")
BUNDLED = "libprocreap.abi3.so"  # what the build puts in the package (setup.py)


def lib_path() -> str:
    return os.path.abspath(_lib.lib()._name)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would point Python at the
    checkout or at a library."""
    drop = {"PROCREAP_LIB", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def run(args: list[str | Path], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )


def copy_package(dest: Path) -> Path:
    """The package's Python files (no library) in dest/procreap."""
    shutil.copytree(PACKAGE_ROOT / "procreap", dest / "procreap",
                    ignore=shutil.ignore_patterns("__pycache__", "libprocreap*"))
    return dest / "procreap"


IMPORT = "import procreap, procreap._lib as l\nprint(procreap.version(), l.lib()._name)"


# --- where the library comes from --------------------------------------------


def test_without_the_library_import_names_every_place_searched(tmp_path):
    pkg = copy_package(tmp_path / "site")
    out = run([sys.executable, "-c", "import procreap"], clean_env(PYTHONPATH=str(pkg.parent)), tmp_path)
    assert out.returncode != 0
    assert "LibraryNotFound" in out.stderr
    assert "$PROCREAP_LIB (unset)" in out.stderr
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        assert str(pkg / f"libprocreap{suffix}") in out.stderr
    assert "pip install ./bindings/python" in out.stderr


def test_no_repository_layout_is_guessed(tmp_path):
    """A package inside what looks like a procreap checkout with a built
    library in target/release still loads only PROCREAP_LIB or its own copy."""
    repo = tmp_path / "repo"
    (repo / "include").mkdir(parents=True)
    (repo / "Cargo.toml").write_text('[package]\nname = "procreap"\n')
    shutil.copy(REPO / "include" / "procreap.h", repo / "include")
    for profile in ("release", "debug"):
        (repo / "target" / profile).mkdir(parents=True)
        shutil.copy(lib_path(), repo / "target" / profile / "libprocreap.so")
    pkg = copy_package(repo / "bindings" / "python")
    out = run([sys.executable, "-c", "import procreap"], clean_env(PYTHONPATH=str(pkg.parent)), repo)
    assert out.returncode != 0 and "LibraryNotFound" in out.stderr
    assert "target" not in out.stderr.split("searched:")[1].split("Install")[0]


def test_the_copy_inside_the_package_is_found_and_procreap_lib_wins(tmp_path):
    pkg = copy_package(tmp_path / "site")
    shutil.copy(lib_path(), pkg / BUNDLED)
    out = run([sys.executable, "-c", IMPORT], clean_env(PYTHONPATH=str(pkg.parent)), tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [procreap.version(), str(pkg / BUNDLED)]
    other = tmp_path / "dev" / "libprocreap.so"
    other.parent.mkdir()
    shutil.copy(lib_path(), other)
    out = run([sys.executable, "-c", IMPORT],
              clean_env(PYTHONPATH=str(pkg.parent), PROCREAP_LIB=str(other)), tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [procreap.version(), str(other)]


def test_a_bad_procreap_lib_is_named(tmp_path):
    out = run([sys.executable, "-c", "import procreap"],
              clean_env(PYTHONPATH=str(PACKAGE_ROOT), PROCREAP_LIB=str(tmp_path / "nope.so")), tmp_path)
    assert out.returncode != 0
    assert "LibraryNotFound" in out.stderr and "nope.so" in out.stderr


def test_a_library_that_is_not_libprocreap_is_refused(tmp_path):
    libc = "libc.so.6"
    out = run([sys.executable, "-c", "import procreap"],
              clean_env(PYTHONPATH=str(PACKAGE_ROOT), PROCREAP_LIB=libc), tmp_path)
    assert out.returncode != 0
    assert "LibraryNotFound" in out.stderr and "not a matching libprocreap" in out.stderr


# --- installing as a user would -------------------------------------------------

#: Run by the installed package's Python: a read-only scan that can only see
#: the test's decoy, and where everything came from.
SCAN = r"""
import importlib.metadata, json, sys
import procreap, procreap._lib as lib
cfg = procreap.Config(agent_names=[sys.argv[1]], min_age_secs=0, workspace_marker="",
                      protected_pid_files=[], state_dir=sys.argv[2], leak_markers=[sys.argv[3]])
with procreap.scan(cfg) as s:
    pids = [p.pid for p in s.orphans()]
print(json.dumps({
    "package": procreap.__file__, "library": lib.lib()._name, "pids": pids,
    "version": procreap.version(), "dist_version": importlib.metadata.version("procreap"),
    "sys_path": sys.path,
}))
"""


def needs_wheelhouse() -> str:
    if not WHEELHOUSE:
        pytest.skip("run through scripts/test-python.sh (it provides the build backend's wheels)")
    return WHEELHOUSE


def fresh_venv(where: Path) -> Path:
    assert not where.resolve().is_relative_to(REPO), f"{where} is inside the checkout"
    venv.EnvBuilder(with_pip=True).create(where)
    return where / "bin" / "python"


def check_installed(python: Path, venv_dir: Path, decoys, tmp_path: Path) -> None:
    """From a directory outside the checkout, with no PROCREAP_LIB and no
    PYTHONPATH, the installed package finds its own library and scans."""
    d = decoys.start(decoys.sleeper())
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    marker = f"PRT_LEAK_{decoys.name()}=1"
    out = run([python, "-I", "-c", SCAN, d.name, tmp_path / "state", marker], clean_env(), cwd)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv_dir), "platbase": str(venv_dir)}))
    assert Path(got["package"]).resolve() == (site / "procreap" / "__init__.py").resolve()
    assert Path(got["library"]).resolve() == (site / "procreap" / BUNDLED).resolve()
    assert got["pids"] == [d.pid]
    assert got["version"] == got["dist_version"] == procreap.version()
    assert not [p for p in got["sys_path"] if p and Path(p).resolve().is_relative_to(REPO)]
    # The module's read-only CLI, from the same place.
    out = run([python, "-I", "-m", "procreap", "scan", "--json", "--agent-name", d.name,
               "--min-age", "0", "--workspace-marker", "", "--leak-marker", marker], clean_env(), cwd)
    assert out.returncode == 0, out.stderr
    assert [p["pid"] for p in json.loads(out.stdout)["orphans"]] == [d.pid]
    assert not d.exited()


def test_make_wheel_gives_a_platform_wheel_that_installs_anywhere(decoys, tmp_path):
    wheelhouse = needs_wheelhouse()
    out = run(["make", "--no-print-directory", "-C", REPO, "wheel"], dict(os.environ), REPO, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    wheels = sorted((REPO / "target" / "wheels").glob("*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]
    name, ver, py_tag, abi, plat = wheel.name.removesuffix(".whl").split("-")
    assert (name, ver) == ("procreap", procreap.version())
    host = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert plat != "any" and (plat == host or plat.startswith(("manylinux", "musllinux"))), wheel.name
    assert (py_tag, abi) == ("cp311", "abi3"), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(f"procreap-{ver}.dist-info/WHEEL").decode()
    assert f"procreap/{BUNDLED}" in names and "procreap/py.typed" in names
    assert "Root-Is-Purelib: false" in meta
    # The wheel was built from the sdist alone: the sdist carries the crate.
    sdist = REPO / "target" / "wheels" / f"procreap-{ver}.tar.gz"
    with tarfile.open(sdist) as t:
        members = t.getnames()
    top = f"procreap-{ver}"
    for want in ("setup.py", "pyproject.toml", "procreap/__init__.py", "rust/Cargo.toml",
                 "rust/Cargo.lock", "rust/src/lib.rs"):
        assert f"{top}/{want}" in members, want
    assert not any(m.startswith(f"{top}/rust/bindings/") for m in members)

    where = tmp_path / "venv-wheel"
    python = fresh_venv(where)
    out = run([python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheelhouse, wheel],
              clean_env(), tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    check_installed(python, where, decoys, tmp_path)


def test_pip_install_of_the_checkout_directory(decoys, tmp_path):
    """`pip install /path/to/checkout/bindings/python` (the build backend
    from the wheelhouse instead of PyPI; the same isolated build)."""
    wheelhouse = needs_wheelhouse()
    where = tmp_path / "venv-src"
    python = fresh_venv(where)
    out = run([python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheelhouse,
               PACKAGE_ROOT], clean_env(), tmp_path, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    check_installed(python, where, decoys, tmp_path)


# --- typing ---------------------------------------------------------------------


def test_public_api_is_typed():
    import inspect
    import typing

    for name in ("find_orphans", "find_zombies", "find_leaked", "explain", "scan",
                 "cleanup_step", "reap_set", "reap_now", "version"):
        fn = getattr(procreap, name)
        hints = typing.get_type_hints(fn)
        assert "return" in hints, name
        params = inspect.signature(fn).parameters
        assert all(p in hints for p in params), name
    assert typing.get_type_hints(procreap.Process)["uid"] == int | None
    assert typing.get_type_hints(procreap.Action)["delivery"] is procreap.Delivery
    assert typing.get_type_hints(procreap.Report)["next_due"] == float | None
    assert set(typing.get_type_hints(procreap.ConfigOptions)) == set(procreap.Config().as_dict())


TYPED_USE = '''
import procreap

def use() -> None:
    cfg = procreap.Config(agent_names=["x"], min_age_secs=1, backend=procreap.Backend.PROC)
    cfg.grace_secs = 2.5
    names: tuple[str, ...] = cfg.agent_names
    root: str | None = cfg.workspace_root
    mode: procreap.Argv0Match = cfg.argv0_match
    with procreap.scan(cfg) as s:
        ps: list[procreap.Process] = s.orphans() + s.leaked()
    r = procreap.cleanup_step(procreap.Kind.ORPHANS, cfg)
    due: float | None = r.next_due
    kinds = [a.action for a in r if a.delivery is procreap.Delivery.PIDFD]
    print(names, root, mode, ps, due, kinds)
'''

TYPED_MISUSE = '''
import procreap
procreap.Config(min_age=5)
procreap.Config(grace_secs="5")
cfg = procreap.Config()
cfg.agent_names = 5
x: int = cfg.state_dir
'''


def mypy(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         *map(str, paths)],
        env=clean_env(MYPYPATH=str(PACKAGE_ROOT)), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=300,
    )


def test_mypy_strict_passes(tmp_path):
    """The package, its __main__, the example and typical use pass mypy
    --strict; misuse of the keywords and knobs is caught."""
    import importlib.util

    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    use = tmp_path / "use.py"
    use.write_text(TYPED_USE)
    out = mypy(PACKAGE_ROOT / "procreap", EXAMPLE, use)
    assert out.returncode == 0, out.stdout + out.stderr
    misuse = tmp_path / "misuse.py"
    misuse.write_text(TYPED_MISUSE)
    out = mypy(misuse)
    assert out.returncode == 1
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 4, out.stdout
