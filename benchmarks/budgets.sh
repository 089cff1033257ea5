#!/usr/bin/env bash
# The budgets of issue #10, measured on this machine in one run:
#   cold `make study` (fresh clone of HEAD, empty cache: install, then the study), warm `make study`
#   (second call: everything reused), and `make test`.
# Usage: bash benchmarks/budgets.sh [workdir]   (default: a new temporary folder; prints a table at the end)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$(mktemp -d /tmp/clipood-budgets.XXXX)}
git clone -q "$REPO" "$WORK/clone"
cd "$WORK/clone"
export CLIPOOD_CACHE="$WORK/cache"   # empty cache
t() { local s=$(date +%s.%N); "$@" > "$WORK/$(echo "$*" | tr ' /' '__').log" 2>&1; echo "$(echo "$(date +%s.%N) - $s" | bc)"; }
install=$(t make install)
study_cold=$(t make study)
study_warm=$(t make study)
test_s=$(t make test)
printf '| step | seconds |\n|---|---|\n| make install (fresh clone) | %.0f |\n| make study, cold (empty cache, after install) | %.0f |\n| make study, warm | %.1f |\n| make test | %.0f |\n' \
  "$install" "$study_cold" "$study_warm" "$test_s" | tee "$WORK/budgets.md"
