#!/usr/bin/env bash
# DBOS Transact peer benchmark (bench/peers/lib.sh has the contract and the shared knobs).
# Installs dbos (pinned) from PyPI into a venv under $PEERBENCH/dbos and PostgreSQL from Debian's packages
# (when missing); creates a fresh PostgreSQL cluster of its own under $PEERBENCH/dbos/pg (initdb, run as
# the `postgres` user: PostgreSQL refuses root) listening on 127.0.0.1:$PG_PORT only, with PostgreSQL's stock
# durability stated explicitly (fsync, synchronous_commit, full_page_writes on); runs bench.py (workflows
# and load client in one Python process); stops the cluster (pg_ctl stop) and deletes it.
# (The repository's scripts/postgres is not used: its throwaway cluster runs with fsync off.)
set -euo pipefail
PEER=dbos
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
WORK="$PEERBENCH/dbos"
VER_DBOS=3.4.0
PG_PORT="${PG_PORT:-54339}"
BENCH_TIMEOUT_S="${BENCH_TIMEOUT_S:-2400}"
mkdir -p "$WORK"; cd "$WORK"

if [ "$(venv/bin/python -c 'import importlib.metadata as m; print(m.version("dbos"))' 2>/dev/null)" != "$VER_DBOS" ]; then
  say "installing dbos $VER_DBOS into $WORK/venv"
  rm -rf venv; python3 -m venv venv
  venv/bin/pip install -q "dbos==$VER_DBOS" >&2
fi
find_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(find_bindir)" ]; then
  say "installing PostgreSQL from Debian's packages"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN="$(find_bindir)"
[ -x "$BIN/initdb" ] || { say "no PostgreSQL initdb found"; exit 1; }
port_free "$PG_PORT" || { say "port $PG_PORT is in use; set PG_PORT"; exit 1; }

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGDATA="$WORK/pg/data"; SOCK="$WORK/pg/sock"
rm -rf "$WORK/pg"; mkdir -p "$PGDATA" "$SOCK"
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$WORK/pg"
chmod 700 "$PGDATA"
# Local benchmark cluster: trust authentication, loopback only.
as_pg "$BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 \
  || { tail -20 "$WORK/initdb.log" >&2; exit 1; }
cat >> "$PGDATA/postgresql.conf" <<PGCONF
# bench/peers/dbos: loopback only; durability at PostgreSQL's defaults, stated explicitly
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCK'
fsync = on
synchronous_commit = on
full_page_writes = on
PGCONF
STARTED=0
cleanup() {
  if [ "$STARTED" = 1 ]; then
    say "stopping PostgreSQL (pid $PGPID)"
    as_pg "$BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 >&2 || stop_pid "$PGPID" postgres
  fi
  [ -f "$WORK/pg/postgres.log" ] && cp "$WORK/pg/postgres.log" "$WORK/postgres.log"
  rm -rf "$WORK/pg"
}
trap cleanup EXIT
as_pg "$BIN/pg_ctl" start -D "$PGDATA" -l "$WORK/pg/postgres.log" -w -t 60 >&2; STARTED=1
PGPID="$(head -1 "$PGDATA/postmaster.pid")"
psql_() { as_pg "$BIN/psql" -h "$SOCK" -p "$PG_PORT" -U postgres -qAt "$@"; }
show() { psql_ -c "SHOW $1"; }
say "PostgreSQL $(show server_version) up (pid $PGPID) on 127.0.0.1:$PG_PORT"
STORE="PostgreSQL $(show server_version | cut -d' ' -f1) cluster of its own (initdb, Debian package), 127.0.0.1 only: fsync=$(show fsync), synchronous_commit=$(show synchronous_commit), full_page_writes=$(show full_page_writes), wal_sync_method=$(show wal_sync_method), wal_level=$(show wal_level), shared_buffers=$(show shared_buffers); DBOS defaults (system DB pool, executor threads); each step's output is a committed row (operation_outputs) before the next step runs"
VERS="$(venv/bin/python -c 'import importlib.metadata as m, sys, json; print(json.dumps({"dbos": m.version("dbos"), "psycopg": m.version("psycopg"), "sqlalchemy": m.version("sqlalchemy"), "python": sys.version.split()[0]}))')"
VERS="${VERS%\}}, \"postgresql\": \"$(show server_version)\"}"
json_line engine dbos kind meta sdk python started "$(date -u +%FT%TZ)" versions "@json:$VERS" store "$STORE" \
  server_cmd "pg_ctl start -D $PGDATA (as postgres; settings appended to postgresql.conf: listen_addresses=127.0.0.1 port=$PG_PORT fsync=on synchronous_commit=on full_page_writes=on)" \
  app "bench/peers/dbos/bench.py: DBOS workflows + load client in one Python process (DBOS.start_workflow + handle.get_result)" \
  retry_w2 "@DBOS.step(retries_allowed, interval 10 ms, backoff_rate 1.0, max_attempts 10): an in-process loop; only the final outcome is checkpointed" \
  data_dir "$PGDATA" fdatasync_8k_ms "$(fdatasync_ms "$WORK")" loadavg "$(loadavg)" \
  machine "@json:$(machine_json)" args "REPS=$REPS CONC=$CONC W1_N=$W1_N W1_SEQ_N=$W1_SEQ_N W2_N=$W2_N W3_STEPS=$W3_STEPS WARM=$WARM ONLY=$ONLY"

say "running bench.py"
# DBOS logs each failed W2 attempt (WARNING with traceback, its default) into bench.log.
DBOS_SYSDB_URL="postgresql://postgres@127.0.0.1:$PG_PORT/dbos_bench_sys" DATA_DIR="$WORK" \
  timeout --kill-after=10 "$BENCH_TIMEOUT_S" venv/bin/python "$HERE/bench.py" 2> "$WORK/bench.log" \
  || { rc=$?; say "bench.py failed (exit $rc); its log (tail):"; tail -30 "$WORK/bench.log" >&2; exit "$rc"; }
