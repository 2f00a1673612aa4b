#!/usr/bin/env bash
# Runs the Python binding's tests (bindings/python/tests) against the release
# library. `make test-python` builds the library first; run alone, this
# builds it if it is missing. The venv lives in target/venv (made once).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIB="$ROOT/target/release/libprocreap.so"
VENV="$ROOT/target/venv"
PY="${PYTHON:-python3}"

if [ ! -f "$LIB" ]; then
  echo "test-python: $LIB missing; building it"
  cargo build --release --lib
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "test-python: creating $VENV"
  if ! "$PY" -m venv "$VENV"; then
    rm -rf "$VENV"
    echo "test-python: $PY -m venv failed; install Python >= 3.11 with venv (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
# pytest for the tests; mypy for the typing test; setuptools (the venv's own)
# and wheel so the packaging test can build bindings/python offline
# (--no-build-isolation). Pinned: the suite is checked against these.
REQS="pytest==9.2.0 mypy==2.4.1 wheel==0.48.0"
STAMP="$VENV/.procreap-requirements"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$REQS" ] ||
   ! "$VENV/bin/python" -c 'import pytest, setuptools, wheel, mypy' 2>/dev/null; then
  echo "test-python: installing $REQS into $VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQS setuptools
  echo "$REQS" > "$STAMP"
fi

export PROCREAP_LIB="$LIB"
# The tests import the package from bindings/python (conftest.py); no
# install is needed for them. -p no:cacheprovider keeps the tree clean.
exec "$VENV/bin/python" -m pytest -p no:cacheprovider -q -rs \
  --rootdir "$ROOT/bindings/python" "$ROOT/bindings/python/tests" "$@"
