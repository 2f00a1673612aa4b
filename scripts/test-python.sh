#!/usr/bin/env bash
# The Python binding's tests, and its wheel.
#
#   scripts/test-python.sh [PYTEST ARGS]   run bindings/python/tests against
#                                          target/release/libprocreap.so
#                                          (PROCREAP_LIB); builds it if missing
#   scripts/test-python.sh --wheel         `make wheel`: the sdist and, built
#                                          from it, the platform wheel in
#                                          target/wheels/
#
# Made once under target/ (PyPI is needed only then):
#   target/venv              pytest, mypy, and the build backend
#                            (setuptools, setuptools-rust) for builds
#                            without isolation;
#   target/python-wheelhouse the backend's wheels, from which the packaging
#                            tests' fresh venvs install it (pip --no-index
#                            --find-links) instead of downloading it again.
# Every build the backend runs uses CARGO_TARGET_DIR=target/python: shared,
# so cargo compiles once, and apart from target/release, so that the library
# the tests load is never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIB="$ROOT/target/release/libprocreap.so"
VENV="$ROOT/target/venv"
WHEELHOUSE="$ROOT/target/python-wheelhouse"
WHEELS="$ROOT/target/wheels"
PY="${PYTHON:-python3}"
export CARGO_TARGET_DIR="$ROOT/target/python"

if [ ! -x "$VENV/bin/python" ]; then
  echo "test-python: creating $VENV"
  if ! "$PY" -m venv "$VENV"; then
    rm -rf "$VENV"
    echo "test-python: $PY -m venv failed; install Python >= 3.11 with venv (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
# Pinned: the suite is checked against these. BACKEND matches the
# build-system requirements of bindings/python/pyproject.toml.
BACKEND="setuptools==84.2.1 setuptools-rust==1.13.0"
REQS="pytest==9.2.0 mypy==2.4.1 $BACKEND"
STAMP="$VENV/.procreap-requirements"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$REQS" ] ||
   ! "$VENV/bin/python" -c 'import pytest, mypy, setuptools, setuptools_rust' 2>/dev/null; then
  echo "test-python: installing $REQS into $VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQS
  rm -rf "$WHEELHOUSE"
  echo "$REQS" > "$STAMP"
fi
if [ ! -f "$WHEELHOUSE/.complete" ]; then
  echo "test-python: downloading the build backend into $WHEELHOUSE"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check \
    --dest "$WHEELHOUSE" $BACKEND
  touch "$WHEELHOUSE/.complete"
fi

if [ "${1:-}" = "--wheel" ]; then
  # As `python -m build` would: an sdist (carrying the crate), then the
  # wheel built from that sdist alone.
  rm -rf "$WHEELS"
  mkdir -p "$WHEELS"
  (cd bindings/python &&
    "$VENV/bin/python" -c 'import sys, setuptools.build_meta as b; b.build_sdist(sys.argv[1])' "$WHEELS" >/dev/null)
  "$VENV/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation --wheel-dir "$WHEELS" "$WHEELS"/procreap-*.tar.gz
  ls "$WHEELS"/*.whl
  exit 0
fi

if [ ! -f "$LIB" ]; then
  echo "test-python: $LIB missing; building it"
  cargo build --release --lib --target-dir "$ROOT/target"
fi

export PROCREAP_LIB="$LIB"
# For the packaging tests (tests/test_packaging.py).
export PROCREAP_TEST_WHEELHOUSE="$WHEELHOUSE"
# The tests import the package from bindings/python (conftest.py); no
# install is needed for them. -p no:cacheprovider keeps the tree clean.
exec "$VENV/bin/python" -m pytest -p no:cacheprovider -q -rs \
  --rootdir "$ROOT/bindings/python" "$ROOT/bindings/python/tests" "$@"
