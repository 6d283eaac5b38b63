#!/usr/bin/env bash
# Restate peer benchmark (bench/peers/lib.sh has the contract and the shared knobs).
# Installs restate-server, the restate CLI and the TypeScript SDK at pinned versions from the npm registry
# into $PEERBENCH/restate; starts restate-server on 127.0.0.1 with a fresh data dir and its default
# durability (log-server RocksDB WAL fsync'd); runs bench.mjs (endpoint + load client in one node process);
# stops the server by PID. Ports: ingress 8080, admin 9070, node 5122, endpoint 9080 (must be free).
set -euo pipefail
PEER=restate
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
WORK="$PEERBENCH/restate"
VER_SERVER=1.7.12 VER_SDK=1.17.2
BENCH_TIMEOUT_S="${BENCH_TIMEOUT_S:-1800}"
mkdir -p "$WORK"; cd "$WORK"

have() { [ "$(node -p "require('./node_modules/$1/package.json').version" 2>/dev/null)" = "$2" ]; }
if ! have @restatedev/restate-server "$VER_SERVER" || ! have @restatedev/restate "$VER_SERVER" \
    || ! have @restatedev/restate-sdk "$VER_SDK" || [ ! -x node_modules/.bin/restate-server ]; then
  say "installing into $WORK"
  echo '{"name":"restate-peer-bench","private":true,"type":"module"}' > package.json
  # --ignore-scripts: the server binary comes in a per-platform package; no install script is needed
  SCARF_ANALYTICS=false npm install --ignore-scripts --no-audit --no-fund --save-exact \
    "@restatedev/restate-server@$VER_SERVER" "@restatedev/restate@$VER_SERVER" "@restatedev/restate-sdk@$VER_SDK" >&2
fi
cp "$HERE/bench.mjs" "$HERE/polyfill.mjs" "$WORK/"
for port in 8080 9070 5122 9080; do
  port_free "$port" || { say "port $port is in use on this machine; Restate needs it"; exit 1; }
done

rm -rf "$WORK/data"; mkdir -p "$WORK/data"
cat > "$WORK/restate.toml" <<TOML
# Defaults except: no telemetry. Durability left at the defaults (checked below from --dump-config):
# replicated loglet, replication 1, on the local log-server whose RocksDB WAL is fsync'd.
disable-telemetry = true
TOML
SERVER=(./node_modules/.bin/restate-server --config-file "$WORK/restate.toml" --base-dir "$WORK/data"
        --bind-ip 127.0.0.1 --listen-mode tcp --no-logo)
DUMP="$("${SERVER[@]}" --dump-config 2>/dev/null)"
conf() { awk -v sect="$1" -v key="$2" '/^\[/{s=$0} s==sect && $1==key {print $3; exit}' <<<"$DUMP"; }
SERVER_VERSION="$(./node_modules/.bin/restate-server --version 2>/dev/null | awk '{print $NF}')"
STORE="restate-server single node, defaults: bifrost provider $(conf '[bifrost]' default-provider | tr -d '"'), replication $(awk '$1=="default-replication"{print $3}' <<<"$DUMP"), $(awk '$1=="default-num-partitions"{print $3}' <<<"$DUMP") partitions; log-server RocksDB WAL on, rocksdb-disable-wal-fsync = $(conf '[log-server]' rocksdb-disable-wal-fsync) (fsync on); partition store RocksDB with WAL; a ctx.run result is acknowledged after it is in the log"
json_line engine restate kind meta sdk ts started "$(date -u +%FT%TZ)" \
  versions "@json:{\"restate-server\": \"$SERVER_VERSION\", \"@restatedev/restate-sdk\": \"$VER_SDK\", \"@restatedev/restate\": \"$VER_SERVER\", \"node\": \"$(node --version)\"}" \
  store "$STORE" server_cmd "${SERVER[*]}" \
  app "bench/peers/restate/bench.mjs: Restate TS SDK endpoint + load client in one node process; request/response ingress calls" \
  retry_w2 "ctx.run retry policy: initial 10 ms, factor 1, max 10 ms, 10 attempts (server-driven re-invocation)" \
  data_dir "$WORK/data" fdatasync_8k_ms "$(fdatasync_ms "$WORK/data")" loadavg "$(loadavg)" \
  machine "@json:$(machine_json)" args "REPS=$REPS CONC=$CONC W1_N=$W1_N W1_SEQ_N=$W1_SEQ_N W2_N=$W2_N W3_STEPS=$W3_STEPS WARM=$WARM ONLY=$ONLY"

"${SERVER[@]}" > "$WORK/server.log" 2>&1 &
SPID=$!
trap 'stop_pid "$SPID" restate-server' EXIT
health() { curl -sf http://127.0.0.1:9070/health && curl -sf http://127.0.0.1:8080/restate/health; }
wait_for 60 health || { say "restate-server did not come up"; tail -50 "$WORK/server.log" >&2; exit 1; }
say "restate-server $SERVER_VERSION up (pid $SPID); running bench.mjs"
# The SDK logs at WARN (each failed W2 attempt with its stack) into bench.log, beside the server's log.
RESTATE_LOGGING="${RESTATE_LOGGING:-WARN}" DATA_DIR="$WORK/data" \
  timeout --kill-after=10 "$BENCH_TIMEOUT_S" node --import "$WORK/polyfill.mjs" "$WORK/bench.mjs" 2> "$WORK/bench.log" \
  || { rc=$?; say "bench.mjs failed (exit $rc); its log (tail):"; tail -30 "$WORK/bench.log" >&2; exit "$rc"; }
