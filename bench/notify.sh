#!/usr/bin/env bash
# Digests: render and queue ORGS digests covering EVENTS events (`dzong notify run --queue-only`).
#
#   bench/notify.sh [BUILD_DIR] [ORGS] [EVENTS]
#
# BUILD_DIR (default build-bench, a release build) holds dzong. The script
# makes a fresh data directory, imports ORGS (default 10,000) constituents,
# each owning one /24 with one contact (notify_interval immediate, CSV),
# ingests EVENTS (default 1,000,000) IntelMQ events spread evenly over them,
# and copies the database aside. Each run restores that copy (so every
# watermark is at 0 again) and times one queue round: every digest rendered
# (template, CSV attachment, MIME) and queued with its ticket in the outbox.
# Prints each run's seconds, digests/s and events/s, and the median.
#
# Environment: BENCH_RUNS (3); BENCH_SIGN=1 also signs every digest with a
# throwaway OpenPGP key; TMPDIR chooses where files go (a real disk).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build-bench}
orgs=${2:-10000}
events=${3:-1000000}
runs=${BENCH_RUNS:-3}
bin=$build/dzong
[ -x "$bin" ] || { echo "notify.sh: no dzong at $bin" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dzong-notify-bench.XXXXXX")
trap 'gpgconf --homedir "$work/data/gnupg" --kill all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
data=$work/data
export DZONG_DATA="$data"
unset DZONG_DB DZONG_SMTP

"$bin" init >/dev/null
cat >>"$data/dzong.conf" <<EOF
mail_from = cirt@cirt.example
access_log = off
EOF

python3 - "$orgs" "$events" "$work" <<'EOF'
import json, sys
orgs, events, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(work + "/orgs.json", "w") as f:
    json.dump([{"short_name": "org%05d" % i, "name": "Organisation %d" % i, "kind": "other",
                "networks": ["10.%d.%d.0/24" % (i // 256, i % 256)],
                "contacts": [{"name": "SOC %d" % i, "email": "soc@org%05d.example" % i,
                              "notify_interval": "immediate", "notify_format": "csv", "max_tlp": "AMBER"}]}
               for i in range(orgs)], f)
types = ["infected-system", "vulnerable-system", "scanner", "brute-force"]
with open(work + "/events.jsonl", "w") as f:
    for k in range(events):
        i, j = k % orgs, k // orgs
        f.write(json.dumps({"time.source": "2026-11-20T%02d:%02d:%02d+00:00" % (j // 3600 % 24, j // 60 % 60, j % 60),
                            "source.ip": "10.%d.%d.%d" % (i // 256, i % 256, j % 254 + 1),
                            "source.port": 1024 + j, "classification.type": types[k % 4],
                            "malware.name": "mirai", "feed.name": "Bench Feed",
                            "extra.seq": k}) + "\n")
EOF
"$bin" constituents import "$work/orgs.json" >/dev/null
"$bin" ingest --quiet --feed intelmq "$work/events.jsonl" >/dev/null
rm -f "$work/events.jsonl"

if [ "${BENCH_SIGN:-0}" = 1 ]; then
    mkdir -m 700 "$work/k"
    gpg --homedir "$work/k" --batch --pinentry-mode loopback --passphrase '' \
        --quick-gen-key 'Bench CIRT <cirt@cirt.example>' ed25519 sign never 2>/dev/null
    fpr=$(gpg --homedir "$work/k" --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr:/ { print $10; exit }')
    gpg --homedir "$work/k" --batch --armor --export-secret-keys "$fpr" >"$work/k/secret.asc"
    gpgconf --homedir "$work/k" --kill all
    "$bin" notify keys import "$work/k/secret.asc" >/dev/null
    echo "pgp_sign_key = $fpr" >>"$data/dzong.conf"
fi

sqlite3 "$data/dzong.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp "$data/dzong.db" "$work/base.db"

rates=()
for i in $(seq "$runs"); do
    cp "$work/base.db" "$data/dzong.db"
    rm -f "$data/dzong.db-wal" "$data/dzong.db-shm"
    start=$(date +%s.%N)
    out=$("$bin" notify run --queue-only | head -1)
    end=$(date +%s.%N)
    queued=$(sed -n 's/.* due, \([0-9]*\) queued (\([0-9]*\) events attached.*/\1 \2/p' <<<"$out")
    read -r nq ne <<<"$queued"
    [ "${nq:-0}" -gt 0 ] || { echo "notify.sh: nothing queued: $out" >&2; exit 1; }
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    printf 'run %d: %s digests, %s events in %s s (%.0f digests/s, %.0f events/s)\n' "$i" "$nq" "$ne" "$secs" \
        "$(awk -v n="$nq" -v s="$secs" 'BEGIN { print n / s }')" "$(awk -v n="$ne" -v s="$secs" 'BEGIN { print n / s }')"
    rates+=("$secs")
done
printf 'median: %s s for %d digests over %d events (%s runs%s)\n' \
    "$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')" \
    "$orgs" "$events" "$runs" "$([ "${BENCH_SIGN:-0}" = 1 ] && echo ', signed' || true)"
