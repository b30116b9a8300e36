#!/usr/bin/env bash
# End-to-end feed ingest: `dzong ingest` of a generated Shadowserver scan report.
#
#   bench/ingest.sh [BUILD_DIR] [ROWS]
#
# BUILD_DIR (default build-bench, a release build with -Dbench=true) holds
# dzong and bench/pipeline_bench, which writes the report: ROWS (default
# 1,000,000) rows with random IPv4 addresses, a third of them inside the demo
# constituency. Each run starts from a fresh `dzong init --demo` data
# directory, so every event is new (nothing is a duplicate). Prints the
# events/s of each run and the median, and the peak RSS (GNU time).
#
# Environment: BENCH_RUNS (3); BENCH_PG=1 also measures PostgreSQL (a
# throwaway cluster via tests/pg/cluster.sh); BENCH_RSS_ROWS=N adds one run on
# an N-row report for the peak RSS (e.g. 10000000: the issue's target is
# <= 200 MB); TMPDIR chooses where files go (a real disk).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build-bench}
rows=${2:-1000000}
runs=${BENCH_RUNS:-3}
bin=$build/dzong
gen=$build/bench/pipeline_bench

die() { echo "ingest.sh: $*" >&2; exit 2; }
[ -x "$bin" ] || die "no dzong at $bin (make bench builds it)"
[ -x "$gen" ] || die "no pipeline_bench at $gen (meson configure -Dbench=true)"
[ -x /usr/bin/time ] || die "GNU time is needed for the peak RSS (apt-get install time)"

work=$(mktemp -d "${TMPDIR:-/tmp}/dzong-ingest-bench.XXXXXX")
pgdir=
cleanup() {
    if [ -n "$pgdir" ]; then "$root/tests/pg/cluster.sh" stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"; fi
    rm -rf "$work"
}
trap cleanup EXIT

report() { # ROWS -> path
    local f="$work/2026-11-20-scan_http-bench$1-geo.csv"
    [ -f "$f" ] || "$gen" --write "$f" "$1" >/dev/null
    echo "$f"
}

# one run: fresh data directory (and database), ingest, print "events/s rss_kb"
one_run() { # FILE [DB_URL]
    local data="$work/data.$RANDOM" db=${2:-}
    local env=(env -u DZONG_DB -u DZONG_DATA)
    [ -n "$db" ] && env+=("DZONG_DB=$db")
    "${env[@]}" "$bin" --data "$data" init --demo >/dev/null
    local out
    out=$("${env[@]}" /usr/bin/time -f 'RSS %M' "$bin" --data "$data" ingest --quiet --feed shadowserver "$1" 2>&1)
    local stored secs rss
    stored=$(sed -n 's/.* \([0-9]*\) events stored.*/\1/p' <<<"$out")
    secs=$(sed -n 's/.*, \([0-9.]*\) s (.*/\1/p' <<<"$out")
    rss=$(sed -n 's/^RSS \([0-9]*\)/\1/p' <<<"$out")
    [ -n "$stored" ] && [ -n "$secs" ] || { echo "$out" >&2; die "ingest failed"; }
    rm -rf "$data"
    awk -v n="$stored" -v s="$secs" -v r="$rss" 'BEGIN { printf "%.0f %d %d\n", n / s, r, n }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

measure() { # LABEL FILE [DB_URL]
    local rates=()
    for i in $(seq "$runs"); do
        read -r rate rss stored < <(one_run "$2" "${3:-}")
        printf '%-10s run %d: %s events stored, %s events/s, peak RSS %d MB\n' "$1" "$i" "$stored" "$rate" \
            $((rss / 1024))
        rates+=("$rate")
    done
    printf '%-10s median: %s events/s over %d runs\n' "$1" "$(printf '%s\n' "${rates[@]}" | median)" "$runs"
}

file=$(report "$rows")
echo "report: $file ($rows rows, $(du -h "$file" | cut -f1))"
measure sqlite "$file"

if [ "${BENCH_PG:-0}" = 1 ]; then
    pgdir=$(mktemp -d /tmp/dzong-pg.XXXXXX) # beside, not inside $work: the postgres user must reach it
    "$root/tests/pg/cluster.sh" start "$pgdir" >/dev/null
    rates=()
    for i in $(seq "$runs"); do
        url=$("$root/tests/pg/cluster.sh" createdb "$pgdir" "benchrun$i$RANDOM")
        read -r rate rss stored < <(one_run "$file" "$url")
        printf '%-10s run %d: %s events stored, %s events/s, peak RSS %d MB\n' postgres "$i" "$stored" "$rate" \
            $((rss / 1024))
        rates+=("$rate")
    done
    printf '%-10s median: %s events/s over %d runs\n' postgres "$(printf '%s\n' "${rates[@]}" | median)" "$runs"
fi

if [ -n "${BENCH_RSS_ROWS:-}" ]; then
    big=$(report "$BENCH_RSS_ROWS")
    read -r rate rss stored < <(one_run "$big")
    printf 'rss run: %s rows, %s events stored, %s events/s, peak RSS %d MB\n' "$BENCH_RSS_ROWS" "$stored" "$rate" \
        $((rss / 1024))
fi
