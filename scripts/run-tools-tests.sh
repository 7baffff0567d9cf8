#!/bin/bash
# The tests of tools/ (vhdx-merge): its Python unit tests (tests/tools/),
# each test one count, and the linters, pyflakes3 and pycodestyle (Debian
# packages), one count per file each.  Writes the counts to
# build/logs/results/tools (as count-unit.py's format: "P F S", then one
# line per failure).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

result=$LOGS/results/tools
LOG=$LOGS/tools.log
mkdir -p "$LOGS/results"
rm -f "$result"
FILES=(tools/vhdx-merge tests/tools/*.py)

say "tools: unit tests and linters (log: ${LOGS#$ROOT/}/tools.log)"
cd "$ROOT"
: > "$LOG"
p=0 f=0
failures=()
# unittest's verbose lines: "test_x (module.Class.test_x) ... ok"
"$PYTHON" -m unittest -v tests/tools/test_*.py >> "$LOG" 2>&1 || true
while read -r name status; do
    case $status in
        ok) p=$((p + 1)) ;;
        *) f=$((f + 1)); failures+=("$name: $status") ;;
    esac
done < <(sed -nE 's/^(test_[a-z_0-9]+) \(.*\) \.\.\. (ok|FAIL|ERROR).*/\1 \2/p' "$LOG")
grep -qE '^(OK|FAILED)' "$LOG" ||
    { f=$((f + 1)); failures+=("unittest did not finish"); }
for tool in pyflakes3 pycodestyle; do
    for file in "${FILES[@]}"; do
        if "$tool" "$file" >> "$LOG" 2>&1; then
            p=$((p + 1))
        else
            f=$((f + 1)); failures+=("$tool $file")
        fi
    done
done
{ echo "$p $f 0"; printf '%s\n' "${failures[@]+"${failures[@]}"}" | grep . || true; } > "$result"
say "tools: $p passed, $f failed"
[ "$f" = 0 ] || exit 1
