#!/usr/bin/env bash
# The offline demo on a fresh machine: no token, no network beyond the package registry for the first install.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_DISABLE_TELEMETRY=1
exec .venv/bin/hfbridge demo "$@"
