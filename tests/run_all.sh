#!/usr/bin/env bash
# Runs every test suite against the builds `make test` made, prints each
# suite's result, and ends with one line `N passed, N failed` (the sum).
# A suite that dies without its summary counts as one failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
total_pass=0 total_fail=0
log_dir=$(mktemp -d /tmp/dzong-test-logs.XXXXXX)

# meson test prints "Ok: N" and "Fail: N" (and friends); the others print "N passed, N failed".
count() {
  local name=$1 log=$2 rc=$3 p f
  if grep -qE '^Ok:' "$log"; then
    p=$(awk '/^Ok:/ {print $2}' "$log" | tail -1)
    f=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$log")
  else
    read -r p f < <(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 |
                    sed -E 's/^([A-Za-z]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/')
  fi
  if [ -z "${p:-}" ]; then p=0; f=1; fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  printf '== %-10s %d passed, %d failed%s\n' "$name" "$p" "$f" "$([ "$f" -gt 0 ] && echo "   (log: $log)")"
}

suite() {
  local name=$1; shift
  local log="$log_dir/$name.log"
  echo "== $name: $*"
  "$@" >"$log" 2>&1; local rc=$?
  tail -n 25 "$log" | sed 's/^/   /'
  count "$name" "$log" "$rc"
}

suite unit      meson test -C build --suite unit --print-errorlogs
suite unit-asan meson test -C build-asan --suite unit --print-errorlogs
suite api       python3 tests/api/run.py --dzong build/dzong
suite api-asan  python3 tests/api/run.py --dzong build-asan/dzong
suite browser   node tests/browser/run.mjs --dzong build/dzong
suite fuzz      tests/fuzz/run.sh build-fuzz "$FUZZ_SECONDS"
# IntelMQ's Shadowserver parser cases, when ../shared is there. The official checker compares
# time.observation too, which those cases' expectations cannot agree on (IntelMQ's own harness
# deletes it before comparing; see tests/conformance/intelmq_shadowserver.py): its result is
# shown, and the comparison IntelMQ itself makes is the one counted.
if [ -f ../shared/conformance/check-intelmq-shadowserver.py ] && build/dzong help 2>/dev/null | grep -q '^  parse'; then
  echo "== conformance (official checker, shown, not counted): ../shared/conformance/check-intelmq-shadowserver.py"
  python3 ../shared/conformance/check-intelmq-shadowserver.py build/dzong 2>&1 | tail -n 2 | sed 's/^/   /'
  suite conformance python3 tests/conformance/intelmq_shadowserver.py build/dzong ../shared/conformance/intelmq-shadowserver
fi

# PostgreSQL, when its server binaries are installed (make deps-test installs them):
# one throwaway cluster on 127.0.0.1, a database per suite, stopped and removed
# whatever happens. The API suite runs with its two-node test there.
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  pg_dir=$(mktemp -d /tmp/dzong-pg.XXXXXX)
  trap 'tests/pg/cluster.sh stop "$pg_dir"' EXIT
  trap 'exit 130' INT TERM HUP
  if tests/pg/cluster.sh start "$pg_dir" >"$log_dir/pg-cluster.log" 2>&1 &&
     api_db=$(tests/pg/cluster.sh createdb "$pg_dir" dzong_api 2>>"$log_dir/pg-cluster.log") &&
     unit_db=$(tests/pg/cluster.sh createdb "$pg_dir" dzong_unit 2>>"$log_dir/pg-cluster.log"); then
    suite api-pg    python3 tests/api/run.py --dzong build/dzong --db "$api_db"
    suite unit-pg   env DZONG_TEST_DB="$unit_db" meson test -C build --suite pg --print-errorlogs
  else
    sed 's/^/   /' "$log_dir/pg-cluster.log"
    total_fail=$((total_fail + 1))
    printf '== %-10s %d passed, %d failed   (log: %s)\n' "postgres" 0 1 "$log_dir/pg-cluster.log"
  fi
fi

echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
