#!/usr/bin/env bash
# Runs the TypeScript SDK compatibility suite: the official `inngest` npm package (pinned in
# package-lock.json) served with inngest/node and inngest/express, against a real `durin dev`, in two modes:
#
#   classic     `durin dev --no-checkpointing` omits ctx.fn_id: the SDK runs one step per call request and
#               ends a run with 200
#   checkpoint  `durin dev` (its default): the SDK runs several steps per request, POSTs each finished
#               step to /v1/checkpoint/{runId}/async and ends a run with 206 [RunComplete]
#   production  the SDK with isDev false against `durin serve` with a signing key, a fallback key and an
#               event key (test/production.test.mjs): signed requests, bearer tokens, forgeries refused
#
#   ./run.sh                          # both modes, one after the other (example 7 in classic mode only)
#   COMPAT_SKIP_SLOW=1 ./run.sh       # leave out retries.md example 7 (the real backoff table, ~45-105 s)
#   COMPAT_MODE=checkpoint ./run.sh   # one mode only (classic | checkpoint)
#   DURIN_BIN=/path/to/durin ./run.sh # default <repo>/target/debug/durin, built if missing
#   DURIN_EXTRA_ARGS="..." ./run.sh   # extra flags for the main engine, in every mode
#
# Each mode prints node's test runner report; the last lines sum up both modes. Exits non-zero when a
# test fails in either mode.
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../.. && pwd)"

modes=(classic checkpoint production)
if [ -n "${COMPAT_MODE:-}" ]; then
  case "$COMPAT_MODE" in
    classic | checkpoint | production) modes=("$COMPAT_MODE") ;;
    *)
      echo "COMPAT_MODE=$COMPAT_MODE: expected classic, checkpoint or production" >&2
      exit 2
      ;;
  esac
fi

# Dependencies exactly as locked (npm ci); skipped when node_modules was installed from this very lockfile.
stamp=node_modules/.compat-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

if [ -z "${DURIN_BIN:-}" ]; then
  export DURIN_BIN="$repo/target/debug/durin"
  if [ ! -x "$DURIN_BIN" ]; then
    (cd "$repo" && cargo build -p durin)
  fi
fi

reports="$(mktemp -d "${TMPDIR:-/tmp}/durin-compat-ts-reports.XXXXXX")"
trap 'rm -rf "$reports"' EXIT

declare -A code
for mode in "${modes[@]}"; do
  skip_slow="${COMPAT_SKIP_SLOW:-0}"
  if [ "$mode" = checkpoint ]; then skip_slow=1; fi # example 7 only in classic mode
  echo "=== TypeScript compat suite: $mode mode"
  suite=test/compat.test.mjs
  if [ "$mode" = production ]; then suite=test/production.test.mjs; fi
  set +e
  COMPAT_MODE="$mode" COMPAT_SKIP_SLOW="$skip_slow" \
    node --test --test-reporter=spec "$suite" | tee "$reports/$mode.txt"
  code[$mode]=${PIPESTATUS[0]}
  set -e
  echo
done

echo "=== TypeScript compat suite: summary"
failed=0
for mode in "${modes[@]}"; do
  counts="$(grep -E '^ℹ (tests|pass|fail|cancelled|skipped|todo|duration_ms) ' "$reports/$mode.txt" |
    sed 's/^ℹ //' | paste -sd, - | sed 's/,/, /g')"
  if [ "${code[$mode]}" -eq 0 ]; then verdict=ok; else verdict="FAILED (exit ${code[$mode]})"; failed=1; fi
  printf '%-10s  %s  %s\n' "$mode" "$verdict" "${counts:-no summary}"
done
exit "$failed"
