#!/usr/bin/env bash
# Create .venv and install hfbridge with everything the demo and the tests need. Idempotent: a stamp records
# what was installed, so a second run costs a second. Needs only python3.11+ and the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${HFBRIDGE_VENV:-.venv}"
stamp_source="$(cat pyproject.toml requirements/no-deps.txt | sha256sum | cut -c1-16)"
if [ -f "$VENV/.hfbridge-stamp" ] && [ "$(cat "$VENV/.hfbridge-stamp")" = "$stamp_source" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
echo "bootstrap: installing hfbridge and its extras into $VENV (about a minute the first time)" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[all,dev]" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python \
  -r requirements/no-deps.txt >&2
echo "$stamp_source" > "$VENV/.hfbridge-stamp"
