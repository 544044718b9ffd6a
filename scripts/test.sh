#!/usr/bin/env bash
# The test suite: replays cassettes, runs local models, starts the protocol server on loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_DISABLE_TELEMETRY=1
.venv/bin/python -m ruff check src tests bench examples
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
