#!/usr/bin/env bash
# The dashboard's browser test: a real headless Chromium (the system's /usr/bin/chromium, driven by
# playwright-core, which downloads no browser) against real `durin dev` processes and the example app.
#
#   ./run.sh                           # builds target/debug/durin and retries-doc-app when missing
#   DURIN_BIN=/path/to/durin ./run.sh  # another engine binary (RETRIES_APP_BIN for the app)
#   CHROMIUM_BIN=/path ./run.sh        # another Chromium (default /usr/bin/chromium)
#
# Screenshots: <repo>/artifacts/browser/*.png. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../.. && pwd)"

chromium="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "browser test: $chromium is missing (Debian: apt-get install -y chromium)" >&2
  exit 1
fi

# Dependencies exactly as locked (npm ci); skipped when node_modules was installed from this very lockfile.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp=node_modules/.browser-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

export DURIN_BIN="${DURIN_BIN:-$repo/target/debug/durin}"
export RETRIES_APP_BIN="${RETRIES_APP_BIN:-$repo/target/debug/retries-doc-app}"
if [ ! -x "$DURIN_BIN" ] || [ ! -x "$RETRIES_APP_BIN" ]; then
  (cd "$repo" && cargo build -p durin -p durin-examples)
fi

mkdir -p "$repo/artifacts/browser"
node --test --test-reporter=spec test/dashboard.test.mjs
