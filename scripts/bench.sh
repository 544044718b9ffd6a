#!/usr/bin/env bash
# Benchmarks, side by side with the integrations people use today. Those are installed only here, with --no-deps
# into .bench-anchors (their pins exclude huggingface_hub 2.x, which they run on), never into the test venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
anchors=(
  "langchain-huggingface==1.2.3" "llama-index-embeddings-huggingface-api==0.6.0" "llama-index-utils-huggingface>=0.4,<0.5"
  # The OpenAI-compatible clients (bench/flow.py). Their dependencies: openai -> anyio, httpx2, jiter, pydantic,
  # sniffio, typing-extensions; langchain-openai -> langchain-core, openai, tiktoken, certifi; llama-index-*-openai
  # -> llama-index-core, openai. All but jiter are already in .venv (hfbridge's own dependencies), so jiter is listed.
  # llama-index-llms-openai pins openai<3 and runs on 3.x; --no-deps keeps every pin out of .venv.
  "langchain-openai==1.7.4" "openai==3.51.0" "jiter==0.19.0"
  "llama-index-embeddings-openai==0.7.0" "llama-index-llms-openai==0.8.3" "llama-index-llms-openai-like==0.8.1"
)
stamp="$(printf '%s\n' "${anchors[@]}" | sha256sum | cut -c1-16)"
if [ "$(cat .bench-anchors/.stamp 2>/dev/null)" != "$stamp" ]; then
  rm -rf .bench-anchors
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --target .bench-anchors "${anchors[@]}" >&2
  echo "$stamp" > .bench-anchors/.stamp
fi
export HF_HUB_DISABLE_TELEMETRY=1
exec .venv/bin/python -m bench "$@"
