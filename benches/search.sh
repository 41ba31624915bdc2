#!/usr/bin/env bash
# Full-text search benchmark (issue 19): one user with TASKS tasks (default 100,000), a one-word
# search as that user, this build (the full-text index: FTS5 on SQLite, a tsvector with a GIN
# index on PostgreSQL) against a build from before it (a case-insensitive LIKE scan), on both
# backends, over the same data, every server's runs interleaved. The queries:
#   page    tasks(filter: {search: WORD}, first: 20) { edges { node { id title } } }
#   count   the same with totalCount
#   ranked  (this build only) the same ordered by RELEVANCE, with totalCount and searchSnippet
#
# Usage (PostgreSQL on 127.0.0.1:5432 with trust auth for `postgres`):
#   benches/search.sh
# Environment (optional): TASKS=100000 WORD=design C=32 DUR=20 RUNS=3 WARMUP=5
#   BASE_BIN=/path/to/tasklane  the LIKE build to compare with. When unset, BASE_REF (default
#     469f103: main just before full-text search) is exported with `git archive` and built under
#     target/search-base (kept for later runs).
#   PROFILE=release             `debug` only to check that the script works (figures meaningless)
#   BENCH_DIR=../shared/bench   the shared harness (gql-load.sh)
# Installs wrk (apt) when missing. Prints each server's median rps / p50 / p99 and FTS / LIKE.
# The seeded text (examples/search_seed.rs) holds WORD=design in about 2 tasks in 100.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
TASKS=${TASKS:-100000} WORD=${WORD:-design} C=${C:-32} DUR=${DUR:-20} RUNS=${RUNS:-3}
PROFILE=${PROFILE:-release} BASE_REF=${BASE_REF:-469f103}
WARMUP=${WARMUP:-5}
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q)
SECRET=bench-secret-bench-secret-bench-secret-0123
PG_URL=postgres://postgres@127.0.0.1:5432/tasklane_search_bench?sslmode=disable
SQLITE_DIR=/tmp/tasklane-search-bench
OUT=$(mktemp -d /tmp/tasklane-search.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
PROFILE_FLAG=(); [ "$PROFILE" = release ] && PROFILE_FLAG=(--release)

echo "== build ($PROFILE)"
(cd "$ROOT" && cargo build "${PROFILE_FLAG[@]}" -q --bin tasklane --example search_seed)
BIN=$ROOT/target/$PROFILE/tasklane
SEED=$ROOT/target/$PROFILE/examples/search_seed
if [ -z "${BASE_BIN:-}" ]; then
  BASE_DIR=$ROOT/target/search-base
  BASE_SRC=$BASE_DIR/src-$BASE_REF
  if [ ! -f "$BASE_SRC/Cargo.toml" ]; then
    echo "== export $BASE_REF (the LIKE search) to $BASE_SRC"
    mkdir -p "$BASE_SRC"
    git -C "$ROOT" archive "$BASE_REF" | tar -x -C "$BASE_SRC"
  fi
  echo "== build $BASE_REF ($PROFILE)"
  (cd "$BASE_SRC" && CARGO_TARGET_DIR=$BASE_DIR/target cargo build "${PROFILE_FLAG[@]}" -q --bin tasklane)
  BASE_BIN=$BASE_DIR/target/$PROFILE/tasklane
fi

echo "== seed one user with $TASKS tasks on both backends"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS tasklane_search_bench WITH (FORCE)" \
  -c "CREATE DATABASE tasklane_search_bench"
PG_TOKEN=$(TASKLANE_JWT_SECRET=$SECRET "$SEED" "$PG_URL" "$TASKS")
rm -rf "$SQLITE_DIR" && mkdir -p "$SQLITE_DIR"
SQLITE_URL=sqlite://$SQLITE_DIR/tasklane.db
SQLITE_TOKEN=$(TASKLANE_JWT_SECRET=$SECRET "$SEED" "$SQLITE_URL" "$TASKS")

body() { # NAME SELECTION [ORDER] -> $OUT/NAME.json
  python3 - "$OUT/$1.json" "$WORD" "$2" "${3:-}" <<'PY'
import json, sys
path, word, selection, order = sys.argv[1:]
order = f", orderBy: {{field: {order}}}" if order else ""
query = f"query Search($q: String!) {{ tasks(filter: {{search: $q}}, first: 20{order}) {{ {selection} }} }}"
json.dump({"query": query, "variables": {"q": word}}, open(path, "w"))
PY
}
body page "edges { node { id title } }"
body count "totalCount edges { node { id title } }"
body ranked "totalCount edges { node { id title searchSnippet } }" RELEVANCE

serve() { # URL PORT BINARY -> starts tasklane in the background
  TASKLANE_DATABASE_URL=$1 TASKLANE_LISTEN=127.0.0.1:$2 TASKLANE_JWT_SECRET=$SECRET \
    TASKLANE_LOG=warn TASKLANE_ACCESS_TOKEN_TTL_SECS=86400 "$3" serve > "$OUT/serve-$2.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$2/health" >/dev/null && return 0; sleep 0.1; done
  echo "tasklane on port $2 did not start:" >&2; cat "$OUT/serve-$2.log" >&2; exit 1
}
# name port database token binary
SERVERS=(
  "fts-postgres 8281 $PG_URL $PG_TOKEN $BIN"
  "fts-sqlite 8282 $SQLITE_URL $SQLITE_TOKEN $BIN"
  "like-postgres 8283 $PG_URL $PG_TOKEN $BASE_BIN"
  "like-sqlite 8284 $SQLITE_URL $SQLITE_TOKEN $BASE_BIN"
)
for server in "${SERVERS[@]}"; do
  read -r _ port url _ binary <<<"$server"
  serve "$url" "$port" "$binary"
done

echo "== the same tasks on both builds (totalCount of '$WORD')"
for server in "${SERVERS[@]}"; do
  read -r name port _ token _ <<<"$server"
  total=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    --data-binary @"$OUT/count.json" "http://127.0.0.1:$port/graphql" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["tasks"]["totalCount"])')
  echo "$name $total"
done

once() { # NAME PORT TOKEN QUERY WARMUP
  RUNS=1 WARMUP=$5 "$BENCH_DIR/gql-load.sh" "http://127.0.0.1:$2/graphql" "$3" "$OUT/$4.json" "$C" "$DUR" \
    > "$OUT/last.txt"
  sed -n "s/^RUN 1: /RUN $r: /p" "$OUT/last.txt" | tee -a "$OUT/$1-$4.txt" | sed "s/^/$1-$4 /"
}
for r in $(seq 1 "$RUNS"); do
  warm=0; [ "$r" = 1 ] && warm=$WARMUP
  echo "== round $r of $RUNS"
  for query in page count ranked; do
    for server in "${SERVERS[@]}"; do
      read -r name port _ token _ <<<"$server"
      [ "$query" = ranked ] && [ "${name%%-*}" = like ] && continue
      once "$name" "$port" "$token" "$query" "$warm"
    done
  done
done

echo
echo "== summary ($TASKS tasks, search '$WORD', c=$C, ${DUR} s, median of $RUNS runs, $PROFILE build)"
python3 - "$OUT" <<'PY'
import os, re, statistics, sys
out = sys.argv[1]
def median(name):
    path = os.path.join(out, name + ".txt")
    if not os.path.exists(path):
        return None
    runs = re.findall(r"RUN \d+: .*?rps=([0-9.]+) .*?p50_ms=([0-9.]+) .*?p99_ms=([0-9.]+)", open(path).read())
    return tuple(statistics.median(float(r[i]) for r in runs) for i in range(3)) if runs else None
for query in ("page", "count", "ranked"):
    for backend in ("postgres", "sqlite"):
        fts, like = median(f"fts-{backend}-{query}"), median(f"like-{backend}-{query}")
        if fts:
            print(f"{query:6s} {backend:8s} FTS  {fts[0]:9.1f} rps   p50 {fts[1]:7.1f} ms   p99 {fts[2]:7.1f} ms")
        if like:
            print(f"{query:6s} {backend:8s} LIKE {like[0]:9.1f} rps   p50 {like[1]:7.1f} ms   p99 {like[2]:7.1f} ms")
        if fts and like:
            print(f"{query:6s} {backend:8s} FTS / LIKE: rps {fts[0] / like[0]:6.2f}x   p99 {fts[2] / like[2]:6.2f}x")
PY
echo "(raw outputs in $OUT)"
