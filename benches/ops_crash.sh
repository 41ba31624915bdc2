#!/usr/bin/env bash
# Crash safety of operations, 20 repetitions per backend: the real binary is
# killed with SIGKILL in the middle of a 10,000-task UPDATE_TASKS (batch size
# 100), at a different point each round, and restarted; the test checks that
# the operation completes, every task is changed exactly once (fully changed
# or untouched, never half) and counters == records. It is the suite's
# `operations_crash` test with more rounds.
#
# Usage (PostgreSQL on 127.0.0.1:5432 with trust auth for `postgres`):
#   benches/ops_crash.sh
# Environment (optional): ROUNDS=20 PG_URL=postgres://postgres@127.0.0.1:5432/postgres
#   PROFILE=release (default; `dev` reuses the debug build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-20}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PROFILE=${PROFILE:-release}
FLAGS=()
[ "$PROFILE" = release ] && FLAGS+=(--release)
LOG=$(mktemp /tmp/tasklane-ops-crash.XXXXXX)
cd "$ROOT"
echo "== $ROUNDS rounds per backend ($PROFILE build); log: $LOG"
TASKLANE_TEST_CRASH_ROUNDS=$ROUNDS TASKLANE_TEST_DATABASE_URL=$PG_URL \
  cargo test "${FLAGS[@]}" -q --test api operations_crash -- --nocapture --test-threads=1 2>&1 | tee "$LOG" \
  | grep -oE "crash .*|test result.*|panicked.*"
echo "== summary"
for backend in Sqlite Postgres; do
  ok=$(grep -c "crash $backend round" "$LOG" || true)
  echo "$backend: $ok/$ROUNDS rounds killed mid-run, resumed and verified"
done
grep -q "test result: ok" "$LOG"
