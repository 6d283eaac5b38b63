# shellcheck shell=bash
# Sourced by bench/peers/<peer>/run.sh. Contract of every run.sh: stdout carries only JSON lines (one `meta`
# line, then per workload one `conditions` line, one line per repetition and one `summary` line, in the field
# names of durin-bench: bench/src/workloads.rs); everything else goes to stderr. It installs into
# $PEERBENCH/<peer> (default /tmp/peerbench/<peer>, outside the repository), starts its server fresh on
# 127.0.0.1, and stops what it started, by PID, on every exit path.
#
# Knobs shared by every peer (bench/compare sets them): REPS (3), CONC (100), W1_N ("1000,5000"),
# W1_SEQ_N (100), W2_N (200), W3_STEPS (1000), WARM (200), ONLY ("w1seq,w1,w2,w3"),
# BENCH_TIMEOUT_S (upper bound for the benchmark process; per peer default).

PEERBENCH="${PEERBENCH:-/tmp/peerbench}"
export REPS="${REPS:-3}" CONC="${CONC:-100}" W1_N="${W1_N:-1000,5000}" W1_SEQ_N="${W1_SEQ_N:-100}"
export W2_N="${W2_N:-200}" W3_STEPS="${W3_STEPS:-1000}" WARM="${WARM:-200}" ONLY="${ONLY:-w1seq,w1,w2,w3}"

say() { echo "[peers/${PEER:-?}] $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# json_line KEY VALUE ...: one JSON object on stdout. Values are strings; "@json:<text>" embeds parsed JSON.
json_line() {
  python3 - "$@" <<'PY'
import json, sys
a = sys.argv[1:]
print(json.dumps({k: (json.loads(v[6:]) if v.startswith("@json:") else v) for k, v in zip(a[0::2], a[1::2])}), flush=True)
PY
}

# Mean ms of an 8 KiB write + fdatasync in DIR, 200 rounds (what durin-bench's meta/conditions lines measure).
fdatasync_ms() {
  python3 - "$1" <<'PY'
import os, sys, tempfile, time
fd, path = tempfile.mkstemp(dir=sys.argv[1]); os.unlink(path)
buf = b"\x07" * 8192
t0 = time.perf_counter()
for i in range(200):
    os.pwrite(fd, buf, (i % 16) * 8192); os.fdatasync(fd)
print(round((time.perf_counter() - t0) * 1000 / 200, 3))
PY
}

# machine_json: the machine facts durin-bench's meta line carries.
machine_json() {
  python3 - <<'PY'
import json, os
def field(path, key):
    try:
        for line in open(path):
            if line.startswith(key): return line.split(":", 1)[1].strip()
    except OSError: pass
    return ""
print(json.dumps({"nproc": str(os.cpu_count()), "cpu": field("/proc/cpuinfo", "model name"),
                  "mem_total": field("/proc/meminfo", "MemTotal"), "kernel": open("/proc/sys/kernel/osrelease").read().strip()}))
PY
}

# port_free PORT: fails when something listens on 127.0.0.1:PORT (or on any address) already.
port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

# wait_for SECONDS CMD...: polls CMD every 0.25 s until it succeeds; fails after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

# stop_pid PID [NAME]: SIGTERM, up to 20 s, then SIGKILL; waits for it.
stop_pid() {
  local pid="$1" name="${2:-process}"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  say "stopping $name (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && { say "$name still running: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
}

# A SIGTERM/SIGINT (e.g. from `timeout`) ends the script through its EXIT trap, which stops its servers.
trap 'exit 143' TERM
trap 'exit 130' INT
