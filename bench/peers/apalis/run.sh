#!/usr/bin/env bash
# apalis peer benchmark, optional Rust reference (bench/peers/lib.sh has the contract and the shared knobs).
# apalis 1.0 + apalis-workflow SteppedFlow on apalis-sqlite (file DB, WAL, synchronous=FULL per connection,
# event-driven fetch via SQLite's update hook), crates pinned in Cargo.lock; built in release mode into
# $PEERBENCH/apalis/target (outside the repository). No server process: worker + client in one process, a
# fresh process and a fresh database file for every workload. A job queue, not a journaled durable function.
set -euo pipefail
PEER=apalis
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
WORK="$PEERBENCH/apalis"
BENCH_TIMEOUT_S="${BENCH_TIMEOUT_S:-1800}"
mkdir -p "$WORK"
export CARGO_TARGET_DIR="${APALIS_TARGET_DIR:-$WORK/target}"
say "building (cargo build --release --locked; first build a few minutes)"
(cd "$HERE" && cargo build --release --locked -q >&2)
B="$CARGO_TARGET_DIR/release/apalis-peer-bench"
VERS="$(awk '/^name = /{n=$3} /^version = /{if (n ~ /^"(apalis|apalis-sqlite|apalis-workflow|apalis-core|sqlx|libsqlite3-sys)"$/) printf "%s%s: %s", (c++ ? ", " : ""), n, $3}' "$HERE/Cargo.lock")"
export DB="$WORK/apalis.db"
json_line engine apalis kind meta sdk rust started "$(date -u +%FT%TZ)" versions "@json:{$VERS, \"rustc\": \"$(rustc --version | cut -d' ' -f2)\"}" \
  store "SQLite file (libsqlite3-sys bundled), WAL journal; benchmark pool synchronous=FULL (2), checked at start (apalis' setup() sets synchronous=OFF on its own connection, so setup runs on a throw-away pool); a step = its output inserted as the next step's task row, the finished row updated" \
  app "bench/peers/apalis: one release binary per workload, worker (concurrency CONC) + client in one process" \
  retry_w2 "tower RetryLayer, 5 retries, constant 10 ms backoff: in-process, not durable per attempt" \
  data_dir "$WORK" fdatasync_8k_ms "$(fdatasync_ms "$WORK")" loadavg "$(loadavg)" \
  machine "@json:$(machine_json)" args "REPS=$REPS CONC=$CONC W1_N=$W1_N W1_SEQ_N=$W1_SEQ_N W2_N=$W2_N W3_STEPS=$W3_STEPS WARM=$WARM ONLY=$ONLY"
one() { # MODE, with N/STEPS in the environment
  timeout --kill-after=10 "$BENCH_TIMEOUT_S" "$B" "$1" 2>> "$WORK/bench.log" \
    || { rc=$?; say "$1 failed (exit $rc); log (tail):"; tail -20 "$WORK/bench.log" >&2; exit "$rc"; }
}
: > "$WORK/bench.log"
for w in ${ONLY//,/ }; do
  case "$w" in
    w1seq) N="$W1_SEQ_N" one w1seq ;;
    w1) for n in ${W1_N//,/ }; do N="$n" one w1; done ;;
    w2) N="$W2_N" one w2 ;;
    w3) STEPS="$W3_STEPS" one w3 ;;
  esac
done
rm -f "$WORK"/apalis.db*
