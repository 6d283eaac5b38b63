#!/usr/bin/env bash
# Durin compatibility suite for the official Go SDK (github.com/inngest/inngestgo, pinned in go.mod,
# locked in go.sum). Installs the locked modules into ./.deps (idempotent; quick once done), then runs
# `go test`, which starts one `durin dev` (DURIN_BIN, default <repo>/target/debug/durin) plus a second
# one with the real backoff table for worked example 7 (COMPAT_SKIP_DEFAULT_BACKOFF=1 skips it), serves
# the app on loopback, runs the tests concurrently and stops everything.
# Extra arguments go to `go test` (e.g. ./run.sh -run TestExample5).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOMODCACHE="$here/.deps/gomod"
export GOCACHE="$here/.deps/gocache"

command -v go >/dev/null || { echo "run.sh: go is not installed" >&2; exit 2; }

# Dependencies, exactly as go.sum locks them.
go mod download
go mod verify >/dev/null

if [[ -z "${DURIN_BIN:-}" ]]; then
  export DURIN_BIN="$repo/target/debug/durin"
  if [[ ! -x "$DURIN_BIN" ]]; then
    echo "run.sh: $DURIN_BIN missing; building it (cargo build -p durin)" >&2
    (cd "$repo" && cargo build -p durin)
  fi
elif [[ ! -x "$DURIN_BIN" ]]; then
  echo "run.sh: DURIN_BIN=$DURIN_BIN is not an executable" >&2
  exit 2
fi

# Every durin the tests start writes its pid here; anything still alive at the end is stopped.
pidfile="$(mktemp -t durin-compat-go-pids.XXXXXX)"
export COMPAT_PIDFILE="$pidfile"
out="$(mktemp -t durin-compat-go-out.XXXXXX)"
cleanup() {
  while read -r pid; do
    [[ -n "$pid" ]] || continue
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q durin; then
      kill -TERM -- "-$pid" 2>/dev/null || true
      sleep 1
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done <"$pidfile"
  rm -f "$pidfile" "$out"
}
trap cleanup EXIT

status=0
# -parallel: the tests mostly wait on the engine, so run them all at once rather than GOMAXPROCS at a time.
go test -count=1 -v -timeout 170s -parallel 32 . "$@" 2>&1 | tee "$out" || status=$?

passed=$(grep -c '^--- PASS' "$out" || true)
failed=$(grep -c '^--- FAIL' "$out" || true)
skipped=$(grep -c '^--- SKIP' "$out" || true)
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi  # e.g. a timeout or a harness failure
if [[ $status -eq 0 && $failed -gt 0 ]]; then status=1; fi
echo "go-sdk-compat: $passed passed, $failed failed, $skipped skipped"
exit $status
