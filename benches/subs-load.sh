#!/usr/bin/env bash
# Subscription fan-out: 1,000 / 5,000 / 10,000 subscriptions on one instance,
# a writer at 10 events per second, latency from commit to client, events
# lost and the server's RSS (see examples/subs_load.rs).
#
#   benches/subs-load.sh                                   # PostgreSQL at postgres://postgres@127.0.0.1:5432
#   BACKEND=sqlite benches/subs-load.sh
#   SIZES="1000 5000" USERS=1 RATE=10 DURATION=30 benches/subs-load.sh
#
# USERS spreads the subscriptions over that many users; each event reaches
# every subscriber of its user (USERS=1: every event reaches every subscriber).
# CLIENT_THREADS: the Rust client's runtime threads (default 2).
# SERVER_BIN=/path/to/tasklane serves another build (default: this tree's release build).
# CLIENT=js: the subscribers are the shared JavaScript graphql-ws client
# (../shared/bench/subs-load.mjs, run by Node.js; graphql-ws and ws are installed
# into /tmp/peers/subs from the npm registry when missing), with USERS=1.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${BACKEND:-postgres}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
SIZES=${SIZES:-1000 5000 10000}
USERS=${USERS:-1}
RATE=${RATE:-10}
DURATION=${DURATION:-30}
PORT=${PORT:-18080}

# One socket per subscription in the client and one in the server: raise
# the open-file limit to the hard limit (20000 here; it must exceed SIZES).
ulimit -n "$(ulimit -Hn)"

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --quiet --bin tasklane --example subs_load
fi

CLIENT_ARGS=()
if [ "${CLIENT:-rust}" = js ]; then
    [ "$USERS" = 1 ] || { echo "CLIENT=js subscribes as one user: USERS=1" >&2; exit 2; }
    js=$(cd "${BENCH_DIR:-../shared/bench}" && pwd)/subs-load.mjs
    if [ ! -d "$(dirname "$js")/node_modules/graphql-ws" ] && [ ! -d /tmp/peers/subs/node_modules/graphql-ws ]; then
        npm install --silent --prefix /tmp/peers/subs graphql-ws@6 ws@8 > /dev/null
    fi
    CLIENT_ARGS=(--js "$js")
fi

for size in $SIZES; do
    work=$(mktemp -d)
    if [ "$BACKEND" = postgres ]; then
        db="tasklane_subs_bench_$$_$size"
        psql "$PG_ADMIN" -q -c "CREATE DATABASE $db"
        url="${PG_ADMIN%/*}/$db?sslmode=disable"   # plain on loopback, as before TLS support
    else
        url="sqlite://$work/tasklane.db"
    fi
    TASKLANE_DATABASE_URL=$url \
    TASKLANE_JWT_SECRET=bench-secret-bench-secret-bench-secret! \
    TASKLANE_LISTEN=127.0.0.1:$PORT \
    TASKLANE_LOG=warn \
    TASKLANE_WS_MAX_CONNECTIONS_PER_USER=$((size + 10)) \
    TASKLANE_WS_MAX_PENDING_PER_IP=$((size + 10)) \
    TASKLANE_MAX_CONNECTIONS=$((size + 100)) \
    TASKLANE_RATE_SIGNUP_IP=100000/1h \
        "${SERVER_BIN:-./target/release/tasklane}" serve > "$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break
        sleep 0.1
    done
    echo "== $BACKEND, $size subscriptions, $USERS user(s), $RATE events/s for ${DURATION}s"
    ./target/release/examples/subs_load --url "http://127.0.0.1:$PORT" \
        --subscriptions "$size" --users "$USERS" --rate "$RATE" --duration "$DURATION" --pid "$server" --threads "${CLIENT_THREADS:-2}" "${CLIENT_ARGS[@]}" || true
    kill "$server"
    wait "$server" 2> /dev/null || true
    if [ "$BACKEND" = postgres ]; then
        psql "$PG_ADMIN" -q -c "DROP DATABASE $db WITH (FORCE)"
    fi
    rm -rf "$work"
done
