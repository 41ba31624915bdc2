#!/usr/bin/env bash
# Nested-query benchmark, side by side in one run, the systems' runs interleaved:
#   Tasklane on PostgreSQL, Tasklane on SQLite, PostGraphile v4 and v5, and the raw-SQL limit.
# The ratios count against the faster PostGraphile of the sitting.
# The query: projects(first:10){ … tasks(first:20){ … id title status tags } } as seeded user 7,
# and as a user who owns nothing but is an EDITOR of 100 projects of other owners (the sharing
# case: its rps should stay within 20 % of the owner's).
#
# Usage (as root, PostgreSQL on 127.0.0.1:5432 with trust auth for `postgres`):
#   benches/nested.sh
# Environment (optional): C=32 DUR=20 RUNS=3 WARMUP=5 USER_N=7 MEMBER_OF=100
#   SKIP_MEMBER=1 leaves out the sharing case.
#   BY_HASH=1 also sends the same query by hash (automatic persisted query, registered
#   once before the rounds) to both backends: hash-postgres, hash-sqlite.
#   BENCH_DIR=../shared/bench (the shared harness: gql-load.sh, sql-limit.sh, peers)
#   SKIP_PEERS=1 runs Tasklane only.
#   POOLER=1 also serves PostgreSQL with TLS (sslmode=require: tls-postgres) and
#   with TASKLANE_DATABASE_STATEMENT_CACHE=false (nocache-postgres), what a
#   managed database and an old PgBouncer cost.
#   BASE_BIN=/path/to/older/tasklane also serves that build (both backends, same data)
#   in every round, for a before/after comparison in the same sitting.
# Installs what it needs: wrk (apt), PostGraphile (npm, into /tmp/peers via the harness),
# the peerbench database (schema.sql + seed.sql) when missing.
# Prints each system's median rps / p50 / p99 and the ratios against the targets.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
C=${C:-32} DUR=${DUR:-20} RUNS=${RUNS:-3} USER_N=${USER_N:-7}
export WARMUP=${WARMUP:-5} RUNS
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q)
SECRET=bench-secret-bench-secret-bench-secret-0123
# Plain TCP on loopback, as the peers and pgbench connect (the default
# sslmode, prefer, would encrypt: the local cluster has TLS on).
PG_URL=postgres://postgres@127.0.0.1:5432/tasklane_bench?sslmode=disable
SQLITE_DIR=/tmp/tasklane-bench
OUT=$(mktemp -d /tmp/tasklane-nested.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$BENCH_DIR/peer-postgraphile.sh" stop >/dev/null 2>&1 || true
  "$BENCH_DIR/peer-postgraphile5.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v pgbench >/dev/null || { echo "pgbench (postgresql) is required" >&2; exit 1; }

echo "== build (release)"
(cd "$ROOT" && cargo build --release -q --bin tasklane --example seed)
BIN=$ROOT/target/release/tasklane
SEED=$ROOT/target/release/examples/seed

echo "== seed Tasklane (1,000 users x 10 projects x 20 tasks) on both backends"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS tasklane_bench WITH (FORCE)" -c "CREATE DATABASE tasklane_bench"
MEMBER_OF=${MEMBER_OF:-100}
TOKENS=$(TASKLANE_JWT_SECRET=$SECRET "$SEED" "$PG_URL" "$USER_N" "$MEMBER_OF")
PG_TOKEN=$(sed -n 1p <<<"$TOKENS") PG_MEMBER_TOKEN=$(sed -n 2p <<<"$TOKENS")
rm -rf "$SQLITE_DIR" && mkdir -p "$SQLITE_DIR"
TOKENS=$(TASKLANE_JWT_SECRET=$SECRET "$SEED" "sqlite://$SQLITE_DIR/tasklane.db" "$USER_N" "$MEMBER_OF")
SQLITE_TOKEN=$(sed -n 1p <<<"$TOKENS") SQLITE_MEMBER_TOKEN=$(sed -n 2p <<<"$TOKENS")

QUERY='query ProjectsWithTasks { projects(first: 10) { edges { node { id name tasks(first: 20) { edges { node { id title status tags } } } } } } }'
printf '{"query":"%s"}' "$QUERY" > "$OUT/tasklane.json"
HASH=$(printf '%s' "$QUERY" | sha256sum | cut -d' ' -f1)
printf '{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"%s"}}}' "$HASH" > "$OUT/by-hash.json"
printf '{"query":"%s","extensions":{"persistedQuery":{"version":1,"sha256Hash":"%s"}}}' "$QUERY" "$HASH" > "$OUT/register.json"

serve() { # URL PORT [BINARY] -> starts tasklane in the background (extra settings from the environment)
  TASKLANE_DATABASE_URL=$1 TASKLANE_LISTEN=127.0.0.1:$2 TASKLANE_JWT_SECRET=$SECRET \
    TASKLANE_LOG=warn TASKLANE_ACCESS_TOKEN_TTL_SECS=86400 "${3:-$BIN}" serve > "$OUT/serve-$2.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$2/health" >/dev/null && return 0; sleep 0.1; done
  echo "tasklane on port $2 did not start:" >&2; cat "$OUT/serve-$2.log" >&2; exit 1
}
stop_last() { kill "${PIDS[-1]}" 2>/dev/null || true; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; }

# Every system stays up; the runs are interleaved (round r runs each system
# once, in turn), so a noisy moment of the shared machine falls on all of
# them alike rather than on one block.
serve "$PG_URL" 8181
serve "sqlite://$SQLITE_DIR/tasklane.db" 8182
if [ "${POOLER:-0}" = 1 ]; then
  serve "${PG_URL%%\?*}?sslmode=require" 8185
  TASKLANE_DATABASE_STATEMENT_CACHE=false serve "$PG_URL" 8186
fi
if [ -n "${BASE_BIN:-}" ]; then
  serve "$PG_URL" 8183 "$BASE_BIN"
  serve "sqlite://$SQLITE_DIR/tasklane.db" 8184 "$BASE_BIN"
fi
if [ "${SKIP_PEERS:-0}" != 1 ]; then
  if ! "${PSQL[@]}" -d peerbench -c "SELECT 1 FROM tasks LIMIT 1" >/dev/null 2>&1; then
    echo "== peerbench database (schema.sql + seed.sql)"
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE peerbench" 2>/dev/null || true
    "${PSQL[@]}" -d peerbench -f "$BENCH_DIR/schema.sql"
    "${PSQL[@]}" -d peerbench -f "$BENCH_DIR/seed.sql"
  fi
  "$BENCH_DIR/peer-postgraphile.sh" start
  "$BENCH_DIR/peer-postgraphile5.sh" start
  PGL_TOKEN=$(node "$BENCH_DIR/mint-jwt.mjs" "$USER_N")
fi
once() { # NAME URL TOKEN BODY WARMUP
  RUNS=1 WARMUP=$5 "$BENCH_DIR/gql-load.sh" "$2" "$3" "$4" "$C" "$DUR" > "$OUT/last.txt"
  sed -n "s/^RUN 1: /RUN $r: /p" "$OUT/last.txt" | tee -a "$OUT/$1.txt" | sed "s/^/$1 /"
}
if [ "${BY_HASH:-0}" = 1 ]; then
  for target in "8181 $PG_TOKEN" "8182 $SQLITE_TOKEN"; do
    set -- $target
    curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $2" \
      --data @"$OUT/register.json" "http://127.0.0.1:$1/graphql" | grep -q '"projects"' \
      || { echo "registering the query by hash on port $1 failed" >&2; exit 1; }
  done
fi
for r in $(seq 1 "$RUNS"); do
  warm=0; [ "$r" = 1 ] && warm=$WARMUP
  echo "== round $r of $RUNS"
  once tasklane-postgres http://127.0.0.1:8181/graphql "$PG_TOKEN" "$OUT/tasklane.json" "$warm"
  once tasklane-sqlite http://127.0.0.1:8182/graphql "$SQLITE_TOKEN" "$OUT/tasklane.json" "$warm"
  if [ "${SKIP_MEMBER:-0}" != 1 ]; then
    once member-postgres http://127.0.0.1:8181/graphql "$PG_MEMBER_TOKEN" "$OUT/tasklane.json" "$warm"
    once member-sqlite http://127.0.0.1:8182/graphql "$SQLITE_MEMBER_TOKEN" "$OUT/tasklane.json" "$warm"
  fi
  if [ "${BY_HASH:-0}" = 1 ]; then
    once hash-postgres http://127.0.0.1:8181/graphql "$PG_TOKEN" "$OUT/by-hash.json" "$warm"
    once hash-sqlite http://127.0.0.1:8182/graphql "$SQLITE_TOKEN" "$OUT/by-hash.json" "$warm"
  fi
  if [ "${POOLER:-0}" = 1 ]; then
    once tls-postgres http://127.0.0.1:8185/graphql "$PG_TOKEN" "$OUT/tasklane.json" "$warm"
    once nocache-postgres http://127.0.0.1:8186/graphql "$PG_TOKEN" "$OUT/tasklane.json" "$warm"
  fi
  if [ -n "${BASE_BIN:-}" ]; then
    once base-postgres http://127.0.0.1:8183/graphql "$PG_TOKEN" "$OUT/tasklane.json" "$warm"
    once base-sqlite http://127.0.0.1:8184/graphql "$SQLITE_TOKEN" "$OUT/tasklane.json" "$warm"
  fi
  if [ "${SKIP_PEERS:-0}" != 1 ]; then
    once postgraphile http://127.0.0.1:5000/graphql "$PGL_TOKEN" \
      "$BENCH_DIR/queries/projects-with-tasks.postgraphile.json" "$warm"
    once postgraphile5 http://127.0.0.1:5002/graphql "$PGL_TOKEN" \
      "$BENCH_DIR/queries/projects-with-tasks.postgraphile.json" "$warm"
    RUNS=1 "$BENCH_DIR/sql-limit.sh" "$BENCH_DIR/pgbench/ideal-lateral.sql" "$C" "$DUR" > "$OUT/last.txt"
    sed -n "s/^RUN 1: /RUN $r: /p" "$OUT/last.txt" | tee -a "$OUT/sql-limit.txt" | sed "s/^/sql-limit /"
  fi
done
if [ "${SKIP_PEERS:-0}" != 1 ]; then
  "$BENCH_DIR/peer-postgraphile.sh" stop
  "$BENCH_DIR/peer-postgraphile5.sh" stop
fi

echo
echo "== summary (c=$C, ${DUR} s, median of $RUNS runs)"
python3 - "$OUT" <<'PY'
import re, sys, os
out = sys.argv[1]
import statistics
def median(name):
    path = os.path.join(out, name + ".txt")
    if not os.path.exists(path):
        return None
    runs = re.findall(r"RUN \d+: .*?(?:rps|tps)=([0-9.]+) .*?p50_ms=([0-9.]+) .*?p99_ms=([0-9.]+)", open(path).read())
    if not runs:
        return None
    return tuple(statistics.median(float(r[i]) for r in runs) for i in range(3))
rows = {n: median(n) for n in ["tasklane-postgres", "tasklane-sqlite", "member-postgres", "member-sqlite", "hash-postgres", "hash-sqlite", "tls-postgres", "nocache-postgres", "base-postgres", "base-sqlite", "postgraphile", "postgraphile5", "sql-limit"]}
for n, v in rows.items():
    if v:
        print(f"{n:18s} {v[0]:9.1f} rps   p50 {v[1]:7.1f} ms   p99 {v[2]:7.1f} ms")
pg, lite, limit = (rows[k] for k in ["tasklane-postgres", "tasklane-sqlite", "sql-limit"])
peers = [(k, rows[k]) for k in ["postgraphile", "postgraphile5"] if rows[k]]
peer_name, peer = max(peers, key=lambda p: p[1][0]) if peers else (None, None)
if peer_name:
    print(f"faster peer: {peer_name}")
def check(label, value, target):
    print(f"{label:48s} {value:6.2f}  (target {target}) {'met' if eval(f'{value} {target}') else 'MISSED'}")
if pg and peer:
    check("Tasklane/PostgreSQL rps / faster PostGraphile rps", pg[0] / peer[0], ">= 3")
    check("Tasklane/PostgreSQL p99 / faster PostGraphile p99", pg[2] / peer[2], "<= 0.5")
if pg and limit:
    check("Tasklane/PostgreSQL rps / raw-SQL limit tps", pg[0] / limit[0], ">= 0.5")
if pg and lite:
    check("Tasklane/SQLite rps / Tasklane/PostgreSQL rps", lite[0] / pg[0], ">= 1")
for backend, owner in (("postgres", pg), ("sqlite", lite)):
    member = rows["member-" + backend]
    if owner and member:
        check(f"member of 100 projects / owner rps ({backend})", member[0] / owner[0], ">= 0.8")
for backend, text in (("postgres", pg), ("sqlite", lite)):
    hashed = rows["hash-" + backend]
    if text and hashed:
        check(f"by hash / as text rps ({backend})", hashed[0] / text[0], ">= 1")
for name in ("tls-postgres", "nocache-postgres"):
    if pg and rows[name]:
        print(f"{name} / plain PostgreSQL: rps {rows[name][0] / pg[0]:5.2f}x   p99 {rows[name][2] / pg[2]:5.2f}x")
for backend, new in (("postgres", pg), ("sqlite", lite)):
    base = rows["base-" + backend]
    if new and base:
        print(f"this build / BASE_BIN on {backend:8s}: rps {new[0] / base[0]:5.2f}x   p99 {new[2] / base[2]:5.2f}x")
PY
echo "(raw outputs in $OUT)"
