#!/bin/sh
# Runs every libFuzzer target of tests/fuzz for a while.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS
#
# BUILD_DIR was set up with -Dfuzz=true and clang (see tests/fuzz/meson.build).
# Each target starts from a copy of its seed corpus (tests/fuzz/corpus/TARGET)
# in a temporary directory, so the source tree is never written (with
# tests/fuzz/TARGET.dict as its dictionary when there is one), and runs for
# SECONDS seconds (-max_total_time). One line per target, then
# "N passed, N failed". Exit status 1 when any target crashed, leaked, hit
# undefined behaviour, timed out, or was not built; the temporary directory
# with the logs and crash inputs is then kept and named.
#
# Environment: FUZZ_TARGETS to run a subset, FUZZ_ARGS for extra libFuzzer
# flags (e.g. "-jobs=2 -workers=2" or "-only_ascii=1").
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
secs=$2
case $secs in
    ''|*[!0-9]*) echo "$0: SECONDS must be a whole number" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
targets=${FUZZ_TARGETS:-"fuzz_request_decode fuzz_router fuzz_timeutil fuzz_taxonomy fuzz_csv fuzz_constituent fuzz_shadowserver fuzz_template fuzz_event_doc fuzz_feed_feodo fuzz_feed_urlhaus fuzz_feed_spamhaus fuzz_feed_blocklist fuzz_feed_csv fuzz_feed_intelmq fuzz_feed_suricata"}

work=$(mktemp -d "${TMPDIR:-/tmp}/dzong-fuzz.XXXXXX") || exit 2
# UBSan reports are findings too: make them fatal in the uninstrumented parts as well.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

passed=0
failed=0
for t in $targets; do
    bin=$build/tests/fuzz/$t
    dir=$work/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    if [ ! -x "$bin" ]; then
        printf '%-22s FAIL  not built (%s)\n' "$t" "$bin"
        failed=$((failed + 1))
        continue
    fi
    if [ -d "$here/corpus/$t" ]; then
        cp "$here/corpus/$t"/* "$dir/corpus/" 2>/dev/null
    fi
    dict=
    [ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
    # shellcheck disable=SC2086  # FUZZ_ARGS and $dict are lists of flags
    "$bin" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" ${FUZZ_ARGS:-} "$dir/corpus" >"$dir/log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1 | cut -d' ' -f2)
    units=$(find "$dir/corpus" -type f | wc -l)
    crash=$(find "$dir/artifacts" -type f | head -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
        printf '%-22s PASS  %ss, %s runs, cov %s, corpus %s\n' "$t" "$secs" "${runs:-?}" "${cov:-?}" "$units"
        passed=$((passed + 1))
    else
        why=$(grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|ALARM|==[0-9]+== ERROR)' "$dir/log")
        printf '%-22s FAIL  exit %s: %s\n' "$t" "$rc" "${why:-see log}"
        [ -n "$crash" ] && printf '%-22s       input: %s\n' "" "$crash"
        printf '%-22s       log:   %s\n' "" "$dir/log"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    echo "kept $work"
    exit 1
fi
rm -rf "$work"
exit 0
