#!/usr/bin/env bash
# Fails, listing the files, when any tracked C++ file differs from what clang-format makes of
# it with the committed .clang-format. Fix with:
#   git ls-files '*.cpp' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check_format: clang-format not found (scripts/setup.sh installs it)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.hpp' ':!:third_party/*')
[ ${#files[@]} -gt 0 ] || { echo "check_format: no tracked C++ files found from $(pwd)" >&2; exit 1; }
# One clang-format process for all files (one per file took most of the check's time); its
# warnings start with the file's path.
status=0
report="$(clang-format --dry-run --Werror "${files[@]}" 2>&1)" || status=$?
mapfile -t bad < <(printf '%s\n' "$report" |
  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: \(warning\|error\): .*/\1/p' | sort -u)
if [ $status -ne 0 ] && [ ${#bad[@]} -eq 0 ]; then
  echo "check_format: clang-format failed (exit $status):" >&2
  printf '%s\n' "$report" >&2
  exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files differ from clang-format's output:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
