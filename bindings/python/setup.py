"""Builds libprocreap with setuptools-rust and bundles it in the package as
``procreap/libprocreap.abi3.so`` (``Binding.NoBinding``: a plain cdylib that
the package loads with ctypes; it does not use Python's C API).

The crate is found in one of two places:

- ``rust/`` of this directory: in an sdist, where the ``sdist`` command
  below put a copy of the crate (the files ``cargo package --list`` names,
  so the sdist builds anywhere cargo runs);
- ``../..``: this directory inside a procreap checkout (``pip install
  ./bindings/python``; cargo then builds in the checkout's ``target/``
  unless ``CARGO_TARGET_DIR`` says otherwise).

The package version is the crate's (``Cargo.toml``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.sdist import sdist
from setuptools_rust import Binding, RustExtension

HERE = Path(__file__).resolve().parent
VENDORED = "rust"


def crate_dir() -> Path:
    for d in (HERE / VENDORED, HERE.parent.parent):
        if (d / "Cargo.toml").is_file() and (d / "src" / "lib.rs").is_file():
            return d
    raise SystemExit(
        f"procreap: the Rust crate is neither in {HERE / VENDORED} (an sdist) nor in "
        f"{HERE.parent.parent} (a procreap checkout): build from bindings/python of a "
        "checkout, or from an sdist made there"
    )


CRATE = crate_dir()


def crate_version() -> str:
    with open(CRATE / "Cargo.toml", "rb") as f:
        version: str = tomllib.load(f)["package"]["version"]
    return version


class sdist_with_crate(sdist):
    """An sdist that carries the crate in ``rust/``, so that building it
    does not depend on the checkout it came from."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        listed = subprocess.run(
            ["cargo", "package", "--list", "--allow-dirty", "--quiet",
             "--manifest-path", str(CRATE / "Cargo.toml")],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        dest = Path(base_dir) / VENDORED
        for rel in listed:
            src = CRATE / rel
            # Not crate sources: bindings/ (this package and the Go one), .ci/
            # (the CI script), and the files cargo would make itself
            # (Cargo.toml.orig).
            if rel.startswith(("bindings/", ".ci/")) or not src.is_file():
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


setup(
    version=crate_version(),
    rust_extensions=[
        RustExtension(
            "procreap.libprocreap",
            path=os.path.relpath(CRATE / "Cargo.toml"),
            binding=Binding.NoBinding,
            py_limited_api=True,
            # The wheel needs no debug info (the release profile keeps some).
            rustc_flags=["-C", "strip=debuginfo"],
        )
    ],
    cmdclass={"sdist": sdist_with_crate},
    # The library does not use Python's C API at all: one wheel per platform
    # serves every CPython >= 3.11 (procreap-<ver>-cp311-abi3-<platform>.whl).
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
