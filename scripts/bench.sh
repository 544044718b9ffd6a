#!/usr/bin/env bash
# Benchmarks, side by side with the integrations people use today. Those are installed only here, with --no-deps
# into .bench-anchors (their pins exclude huggingface_hub 2.x, which they run on), never into the test venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ ! -f .bench-anchors/.stamp ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --target .bench-anchors \
    "langchain-huggingface==1.2.3" "llama-index-embeddings-huggingface-api==0.6.0" \
    "llama-index-utils-huggingface>=0.4,<0.5" >&2
  touch .bench-anchors/.stamp
fi
export HF_HUB_DISABLE_TELEMETRY=1
exec .venv/bin/python -m bench "$@"
