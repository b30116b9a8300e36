#!/usr/bin/env bash
# Durable incident creation on PostgreSQL: one dzong node, then two nodes on the
# same database, measured with wrk (the same create.lua as bench/incidents.sh).
#
#   bench/pg_nodes.sh [DZONG_BINARY]     (default build-bench/dzong, a release build)
#
# Starts a throwaway PostgreSQL cluster (tests/pg/cluster.sh, 127.0.0.1 only,
# fsync and synchronous_commit on), inits the database, creates a handler and
# a token, then runs per phase BENCH_RUNS runs of BENCH_DURATION and prints each
# run and the median:
#   one-node   wrk -t2 -c64 against node A
#   two-nodes  wrk -t1 -c32 against A and, at the same time, -t1 -c32 against B;
#              the rate is the sum, the latency percentiles are the worse node's
# Every 201 is committed (synchronous_commit = on). Any non-2xx fails it.
# On this 2-core machine PostgreSQL, both nodes and wrk share the same cores:
# the two-node figure shows that the cluster lock costs little, not that a
# second machine would double the rate.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
bin=$(realpath "${1:-$repo/build-bench/dzong}")
runs=${BENCH_RUNS:-3}
duration=${BENCH_DURATION:-10s}
die() { echo "pg_nodes.sh: $*" >&2; exit 2; }
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[ -x "$bin" ] || die "no dzong binary at $bin"

work=$(mktemp -d /tmp/dzong-pgbench.XXXXXX)
pgdir=$(mktemp -d /tmp/dzong-pg.XXXXXX) # its own: the server runs as postgres and must reach it
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$repo/tests/pg/cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

"$repo/tests/pg/cluster.sh" start "$pgdir" >/dev/null
export DZONG_DB=$("$repo/tests/pg/cluster.sh" createdb "$pgdir" dzong_bench)
if [ -n "${BENCH_PG_SOCKET:-}" ]; then # the same server over its Unix socket instead of TCP
    DZONG_DB="postgresql:///dzong_bench?host=$pgdir&port=$(cat "$pgdir/port")&user=postgres"
fi
dz() { "$bin" --data "$work/a" "$@"; }
mkdir -p "$work/a" "$work/b"
dz init >/dev/null
for n in a b; do printf 'access_log = off\n%s' "${BENCH_CONF:-}" >"$work/$n/dzong.conf"; done
echo 'bench-handler-password' | dz user add bench --role handler --password-stdin >/dev/null
export DZONG_TOKEN=$(dz token create bench --label bench | tail -n 1)

start_node() { # name; sets $port (not in a subshell, so its pid reaches cleanup)
    "$bin" --data "$work/$1" serve --listen 127.0.0.1:0 </dev/null >/dev/null 2>"$work/$1/serve.log" &
    pids+=($!)
    port=
    for _ in $(seq 1 100); do
        port=$(sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/$1/serve.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$work/$1/serve.log" >&2; die "node $1 did not start"; }
}
start_node a; port_a=$port
start_node b; port_b=$port

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" "$2"; }
check_ok() { # file
    grep -q '^BENCH ' "$1" || { cat "$1" >&2; die "wrk gave no BENCH line"; }
    [ "$(field non2xx "$1")" = 0 ] && [ "$(field socket_errors "$1")" = 0 ] || { cat "$1" >&2; die "errors"; }
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "dzong on PostgreSQL $(psql --version | awk '{print $3}'), $(nproc) cores, wrk $duration, $runs runs; binary $bin"
declare -A rates p99s
for r in $(seq 1 "$runs"); do
    wrk -t2 -c64 -d"$duration" --latency -s "$here/create.lua" "http://127.0.0.1:$port_a" >"$work/one.$r" 2>&1
    check_ok "$work/one.$r"
    rates[one]+="$(field rps "$work/one.$r") "; p99s[one]+="$(field p99_us "$work/one.$r") "
    printf '  one-node  run %d: %8.0f req/s  p99 %6.2f ms\n' "$r" "$(field rps "$work/one.$r")" \
        "$(awk -v v="$(field p99_us "$work/one.$r")" 'BEGIN{print v/1000}')"

    wrk -t1 -c32 -d"$duration" --latency -s "$here/create.lua" "http://127.0.0.1:$port_a" >"$work/a.$r" 2>&1 &
    wa=$!
    wrk -t1 -c32 -d"$duration" --latency -s "$here/create.lua" "http://127.0.0.1:$port_b" >"$work/b.$r" 2>&1
    wait "$wa"
    check_ok "$work/a.$r"; check_ok "$work/b.$r"
    ra=$(field rps "$work/a.$r"); rb=$(field rps "$work/b.$r")
    pa=$(field p99_us "$work/a.$r"); pb=$(field p99_us "$work/b.$r")
    sum=$(awk -v a="$ra" -v b="$rb" 'BEGIN{print a + b}'); worst=$(( ${pa%.*} > ${pb%.*} ? ${pa%.*} : ${pb%.*} ))
    rates[two]+="$sum "; p99s[two]+="$worst "
    printf '  two-nodes run %d: %8.0f req/s (A %.0f + B %.0f)  p99 %6.2f ms\n' "$r" "$sum" "$ra" "$rb" \
        "$(awk -v v="$worst" 'BEGIN{print v/1000}')"
done
for k in one two; do
    printf 'median %-4s: %8.0f creates/s, p99 %.2f ms\n' "$k" "$(echo ${rates[$k]} | tr ' ' '\n' | median)" \
        "$(echo ${p99s[$k]} | tr ' ' '\n' | median | awk '{print $1/1000}')"
done
# Every acknowledged create is in the database exactly once, and the chain holds.
"$bin" --data "$work/a" audit verify
