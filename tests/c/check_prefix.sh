#!/usr/bin/env bash
# check_prefix.sh HEADER — every name the header adds (macros, types, enum
# constants, functions, fields excepted) carries the procreap_/PROCREAP_
# prefix (SPEC §4 "C"). A name without it can clash with a user's own.
set -euo pipefail
header=$1
cc=${CC:-cc}
sys='#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>'

# Macros: those of the header minus those of its system includes.
bad_macros=$(comm -23 \
  <("$cc" -dM -E -x c "$header" | awk '{print $2}' | sed 's/(.*//' | sort -u) \
  <(printf '%s\n' "$sys" | "$cc" -dM -E -x c - | awk '{print $2}' | sed 's/(.*//' | sort -u) |
  grep -Ev '^(procreap_|PROCREAP_)' || true)

# Declarations: the identifiers of the preprocessed header (as C and as
# C++), without struct bodies (fields need no prefix) and parameter lists
# (neither do parameter names), that are not C keywords or standard types.
decls() {
  # $1 = language. Drop the system headers' lines, keep the header's own.
  printf '%s\n#include "%s"\n' "$sys" "$(realpath "$header")" |
    "$cc" -E -x "$1" - 2>/dev/null |
    awk -v h="$(realpath "$header")" '
      /^# [0-9]+ "/ { keep = index($0, "\"" h "\"") > 0; next }
      keep' |
    tr -s ' \t\n' ' ' |
    # struct bodies hold fields; enum bodies hold constants (keep those)
    perl -pe 's/(struct\s+\w+\s*)\{[^{}]*\}/$1/g; s/\([^()]*\)/()/g' |
    grep -oE '[A-Za-z_][A-Za-z0-9_]*' | sort -u
}
allowed='^(procreap_|PROCREAP_)|^(const|char|int|void|double|float|unsigned|signed|long|short|struct|enum|typedef|extern|bool|_Bool|size_t|u?int(8|16|32|64)_t|C)$'
bad_decls=$( (decls c; decls c++) | sort -u | grep -Ev "$allowed" || true)

if [ -n "$bad_macros$bad_decls" ]; then
  echo "check_prefix: names in $header without the procreap_/PROCREAP_ prefix:" >&2
  printf '  %s\n' $bad_macros $bad_decls >&2
  exit 1
fi
echo "check_prefix: every name in $header is prefixed"
