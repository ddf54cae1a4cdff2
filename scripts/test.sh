#!/usr/bin/env bash
# make test: the whole suite in the full environment, then the core's tests in a core-only one
# (.venv-core), so a PyTorch import that creeps into the core fails here. The core environment is
# set up in the background while the suite runs (pip waits on the network and the disk, the suite on
# the CPU), at the lowest priority; its log is shown only if it fails. Exit: pytest's status (5: no
# tests collected), else the core setup's or the core tests'.
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp -t rackscan-core-setup.XXXXXX)"
nice -n 19 bash scripts/setup.sh core .venv-core >"$log" 2>&1 &
core=$!
source scripts/env.sh
.venv/bin/python -m pytest -p no:dash -q --durations=25 tests
rc=$?
if ! wait "$core"; then
  echo "test: setting up the core environment (.venv-core) failed:" >&2
  cat "$log" >&2
  rm -f "$log"
  [ "$rc" -ne 0 ] && exit "$rc"
  exit 1
fi
grep '^setup:' "$log" || true  # its own summary lines; pip's chatter only when it failed
rm -f "$log"
[ "$rc" -ne 0 ] && exit "$rc"
RACKSCAN_CORE_ENV=1 .venv-core/bin/python -m pytest -p no:dash -q tests/test_core.py
