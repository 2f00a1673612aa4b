#!/usr/bin/env bash
# with_decoy.sh CMD [ARG...]
#
# Starts one private decoy agent — /bin/sleep run through a symlink named
# prt-<random> (the name becomes its comm), in its own session (no
# controlling tty), stdio on /dev/null, cwd a fresh temp dir — then runs CMD
# with every argument "@NAME@" replaced by the decoy's name, checks that the
# output names the decoy ("pid <PID>"), and kills the decoy by its pid (our
# own unreaped child, so the pid cannot have been reused) and removes the dir.
# CMD's output is printed; the exit status is CMD's, or 1 if the decoy was
# not in the output.
set -euo pipefail
set +m # no job control: the background decoy stays in our process group,
       # so setsid(1) below does not fork and $! is the decoy itself

tmp=$(mktemp -d /tmp/prt-cscan-XXXXXX)
name=prt-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
ln -s "$(readlink -f "$(command -v sleep)")" "$tmp/$name"
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

(cd "$tmp" && exec setsid "./$name" 600 </dev/null >/dev/null 2>&1) &
pid=$!
for _ in $(seq 500); do
  # comm is set before the new argv is in place: wait for both
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$name" && break
  sleep 0.01
done
if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then
  echo "with_decoy: decoy $pid did not start as $name" >&2
  exit 1
fi

args=()
for a in "$@"; do
  if [ "$a" = "@NAME@" ]; then args+=("$name"); else args+=("$a"); fi
done
echo "with_decoy: decoy $name pid $pid; running ${args[*]}"
set +e
out=$("${args[@]}" 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
if [ $rc -eq 0 ] && ! grep -q "pid $pid " <<<"$out"; then
  echo "with_decoy: the output does not name decoy pid $pid" >&2
  rc=1
fi
exit $rc
