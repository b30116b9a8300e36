#!/usr/bin/env bash
# Throughput and latency of the incident API, measured with wrk.
#
#   bench/incidents.sh [DZONG_BINARY]
#
# Builds nothing: DZONG_BINARY defaults to build-bench/dzong, built with
#   meson setup build-bench --buildtype=release && ninja -C build-bench
#
# In a fresh temporary data directory it runs `dzong init`, creates a handler
# and an API token with the CLI, turns the access log off, and starts
# `dzong serve` on a free 127.0.0.1 port. Then, with wrk (2 threads,
# 64 connections, 10 s per run, 3 runs each, the median reported):
#   create  POST /api/v1/incidents       (each 201 is durable: synchronous=FULL + group commit)
#   read    GET  /api/v1/incidents/{id}  over 1000 incidents created beforehand
#   health  GET  /healthz                (1 run; a yardstick, not a target: the HTTP layer
#                                         and wrk sharing the cores, with almost no work)
# Any non-2xx answer or socket error fails the benchmark (exit 1). The server's
# CPU time (user/system, from /proc) and wrk's are printed for every run.
#
# Environment (all optional): BENCH_RUNS (3), BENCH_DURATION (10s),
# BENCH_CONNECTIONS (64), BENCH_WRK_THREADS (2), BENCH_READ_IDS (1000),
# BENCH_SERVER_THREADS (passed as `serve --threads`; default: dzong's own),
# BENCH_KEEP=1 keeps the data directory, TMPDIR chooses where it is made
# (it must be a real disk for the create figures to mean anything).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/build-bench/dzong}
runs=${BENCH_RUNS:-3}
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-64}
wrk_threads=${BENCH_WRK_THREADS:-2}
n_ids=${BENCH_READ_IDS:-1000}

die() { echo "incidents.sh: $*" >&2; exit 2; }
[ -x "$bin" ] || die "no dzong binary at $bin (meson setup build-bench --buildtype=release && ninja -C build-bench)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v python3 >/dev/null || die "python3 is needed to create the incidents read back"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

data=$(mktemp -d "${TMPDIR:-/tmp}/dzong-bench.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $data"; else rm -rf "$data"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dz() { "$bin" --data "$data" "$@"; }

# ---- set up: data directory, user, token, server ----
dz init >/dev/null
printf '\n# bench/incidents.sh\naccess_log = off\n' >>"$data/dzong.conf"
echo 'bench-handler-password' | dz user add bench --role handler --password-stdin >/dev/null
token=$(dz token create bench --label bench | tail -n 1)
[ -n "$token" ] || die "token create printed nothing"
export DZONG_TOKEN=$token

serve_args=(serve --listen 127.0.0.1:0)
[ -n "${BENCH_SERVER_THREADS:-}" ] && serve_args+=(--threads "$BENCH_SERVER_THREADS")
# Started directly (not through a function, which would fork a subshell), so
# $! is the server itself: the process we stop and whose CPU time we read.
"$bin" --data "$data" "${serve_args[@]}" </dev/null >"$data/serve.out" 2>"$data/serve.log" &
server_pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$data/serve.log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$data/serve.log" >&2; die "dzong serve exited"; }
    sleep 0.1
done
[ -n "$port" ] || die "dzong serve did not report its port"
url=http://127.0.0.1:$port

# ---- the incidents the read benchmark fetches ----
export DZONG_IDS=$data/ids
python3 - "$port" "$n_ids" "$DZONG_IDS" <<'PY'
import http.client, json, sys, os
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
hdr = {"Authorization": "Bearer " + os.environ["DZONG_TOKEN"], "Content-Type": "application/json"}
ids = []
for i in range(n):
    body = json.dumps({"title": "read benchmark incident %d" % i, "severity": "medium",
                       "classification": {"taxonomy": "malicious-code", "type": "infected-system"},
                       "tags": ["bench"], "description": "x" * 200})
    c.request("POST", "/api/v1/incidents", body, hdr)
    r = c.getresponse()
    data = r.read()
    if r.status != 201:
        sys.exit("creating incident %d: HTTP %d %s" % (i, r.status, data[:300]))
    ids.append(json.loads(data)["id"])
with open(path, "w") as f:
    f.write("\n".join(ids) + "\n")
PY

# ---- measuring ----
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # user and system ticks of the server process (all threads)
    awk '{ print $14, $15 }' "/proc/$server_pid/stat"
}

declare -A res
failed=0
run_phase() { # name script runs
    local name=$1 script=$2 n=$3 r out line
    for r in $(seq 1 "$n"); do
        read -r u0 s0 < <(cpu_ticks)
        out=$data/$name.$r.txt
        TIMEFORMAT='%U %S'
        { time wrk -t"$wrk_threads" -c"$conns" -d"$duration" --latency -s "$here/$script" "$url" >"$out" 2>&1; } \
            2>"$data/$name.$r.time"
        read -r u1 s1 < <(cpu_ticks)
        line=$(grep '^BENCH ' "$out") || { cat "$out" >&2; die "$name run $r: wrk gave no BENCH line"; }
        read -r wu ws <"$data/$name.$r.time"
        # The BENCH line is key=value pairs of numbers (report.lua); take only the known keys.
        local kv k v requests='' rps='' p50_us='' p90_us='' p99_us='' max_us='' non2xx='' socket_errors=''
        for kv in ${line#BENCH }; do
            k=${kv%%=*} v=${kv#*=}
            case $v in ''|*[!0-9.]*) die "$name run $r: unexpected '$kv' in: $line" ;; esac
            case $k in
                requests|rps|p50_us|p90_us|p99_us|max_us|non2xx|socket_errors) printf -v "$k" '%s' "$v" ;;
            esac
        done
        if [ -z "$requests" ] || [ -z "$rps" ] || [ -z "$p99_us" ] || [ -z "$non2xx" ]; then
            die "$name run $r: incomplete BENCH line: $line"
        fi
        local su ss
        su=$(awk -v a="$u0" -v b="$u1" -v t="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / t }')
        ss=$(awk -v a="$s0" -v b="$s1" -v t="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / t }')
        printf '  %-6s run %d: %9.0f req/s  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  max %7.2f ms  ' \
            "$name" "$r" "$rps" "$(awk -v v="$p50_us" 'BEGIN{print v/1000}')" \
            "$(awk -v v="$p90_us" 'BEGIN{print v/1000}')" "$(awk -v v="$p99_us" 'BEGIN{print v/1000}')" \
            "$(awk -v v="$max_us" 'BEGIN{print v/1000}')"
        printf 'non-2xx %s  socket errors %s\n' "$non2xx" "$socket_errors"
        printf '           cpu: server user %ss sys %ss (%.1f us/request), wrk user %ss sys %ss\n' \
            "$su" "$ss" "$(awk -v u="$su" -v s="$ss" -v n="$requests" 'BEGIN { print (u + s) * 1e6 / n }')" "$wu" "$ws"
        if [ "$non2xx" != 0 ] || [ "$socket_errors" != 0 ]; then failed=1; fi
        res[$name.rps]+="$rps "
        res[$name.p50]+="$p50_us "
        res[$name.p90]+="$p90_us "
        res[$name.p99]+="$p99_us "
        res[$name.cpu]+="$(awk -v u="$su" -v s="$ss" -v n="$requests" 'BEGIN { print (u + s) * 1e6 / n }') "
        res[$name.usr]+="$su "
        res[$name.sys]+="$ss "
    done
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

fs=$(df -T "$data" | awk 'NR == 2 { print $2 }')
echo "dzong incident API benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
echo "binary $bin; data on $fs; wrk -t$wrk_threads -c$conns -d$duration, $runs runs each"
echo "server: $(sed -n 's/^dzong: serving //p' "$data/serve.log")"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
[ "$fs" = tmpfs ] && echo "WARNING: the data directory is on tmpfs: fsync costs nothing, create figures are not durable ones"

run_phase health healthz.lua 1
run_phase create create.lua "$runs"
run_phase read read.lua "$runs"

summary() { # name target_rps
    local name=$1 target=$2 rps p50 p90 p99 cpu usr sys verdict=ok
    rps=$(echo "${res[$name.rps]}" | median)
    p50=$(echo "${res[$name.p50]}" | median)
    p90=$(echo "${res[$name.p90]}" | median)
    p99=$(echo "${res[$name.p99]}" | median)
    cpu=$(echo "${res[$name.cpu]}" | median)
    usr=$(echo "${res[$name.usr]}" | median)
    sys=$(echo "${res[$name.sys]}" | median)
    awk -v r="$rps" -v t="$target" -v p="$p99" 'BEGIN { exit !(r >= t && p < 10000) }' || verdict="below target"
    printf '%-6s %9.0f req/s  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  server cpu %.1f us/req (user %ss, sys %ss per run)  [target >= %d/s, p99 < 10 ms: %s]\n' \
        "$name" "$rps" "$(awk -v v="$p50" 'BEGIN{print v/1000}')" "$(awk -v v="$p90" 'BEGIN{print v/1000}')" \
        "$(awk -v v="$p99" 'BEGIN{print v/1000}')" "$cpu" "$usr" "$sys" "$target" "$verdict"
}
echo "median of $runs runs:"
summary create 5000
summary read 50000
summary health 0 | sed 's/\[target.*/[yardstick: no auth, one COUNT(*), 1 run]/'
if [ "$failed" != 0 ]; then
    echo "FAILED: some answers were not 2xx, or sockets failed (see the runs above)"
    exit 1
fi
