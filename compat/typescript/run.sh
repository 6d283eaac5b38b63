#!/usr/bin/env bash
# Runs the TypeScript SDK compatibility suite: the official `inngest` npm package (pinned in
# package-lock.json) served with inngest/node and inngest/express, against a real `durin dev`.
#
#   ./run.sh                     # DURIN_BIN defaults to <repo>/target/debug/durin (built if missing)
#   COMPAT_SKIP_SLOW=1 ./run.sh  # skip retries.md example 7 (the real default backoff table, ~45-105 s)
#
# Exits non-zero when a test fails; the last lines are node's test runner summary.
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../.. && pwd)"

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

exec node --test --test-reporter=spec test/compat.test.mjs
