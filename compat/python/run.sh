#!/usr/bin/env bash
# Compatibility suite: the official Python SDK (PyPI inngest==0.5.19), served with Flask (sync functions)
# and FastAPI/uvicorn (async functions), against a real `durin dev`.
#
#   compat/python/run.sh [pytest args]
#
# Installs the pinned requirements.txt into compat/python/.venv (only when it changed), then runs pytest.
# Env: DURIN_BIN (default <repo>/target/debug/durin, built with `cargo build -p durin` if missing),
#      PYTHON (default python3.11), COMPAT_SKIP_SLOW=1 to leave out worked example 7 (real backoff table,
#      ~45-105 s, run concurrently with the rest).
set -euo pipefail
cd "$(dirname "$0")"
SUITE_DIR=$(pwd)
REPO_DIR=$(cd ../.. && pwd)

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV="$SUITE_DIR/.venv"
STAMP="$VENV/.requirements.sha256"
want=$( (sha256sum requirements.txt; "$PY" --version) | sha256sum | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
  echo "installing requirements.txt into $VENV" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r requirements.txt
  "$VENV/bin/pip" check >/dev/null
  echo "$want" > "$STAMP"
fi

export DURIN_BIN=${DURIN_BIN:-$REPO_DIR/target/debug/durin}
if [[ ! -x "$DURIN_BIN" ]]; then
  echo "building durin ($DURIN_BIN not found)" >&2
  (cd "$REPO_DIR" && cargo build -p durin)
fi

exec "$VENV/bin/python" -m pytest "$@"
