"""The local chat models side by side: load time, resident memory, generation speed, one tool decision.

python -m bench.chat_models   # SmolLM2-135M (default) and, when installed, Qwen2.5-Coder-1.5B (hfbridge models install)

Each model runs in a fresh process so its memory is its own. Timings on a shared machine are noise: take them on a
quiet one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from hfbridge.backends.local._install import QWEN_CODER_1_5B, installed_path
from hfbridge.backends.local._llm import DEFAULT_CHAT_MODEL

from ._table import report

_PROBE = """
import json, sys, time
from hfbridge import LocalBackend

def rss_mb():
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')) / 1024

backend = LocalBackend(chat_model=sys.argv[1])
started = time.perf_counter()
backend.chat_completion([{"role": "user", "content": "Hi"}], max_tokens=1)
load_s = time.perf_counter() - started
started = time.perf_counter()
answer = backend.chat_completion([{"role": "user", "content": "Write three sentences about the sea."}],
                                 max_tokens=64)
answer_s = time.perf_counter() - started
tool = {"type": "function", "function": {"name": "named_entity_recognition", "description": "Find named entities",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}}
started = time.perf_counter()
question = "Which people are in: 'Ada Lovelace met Charles Babbage.'"
call = backend.chat_completion([{"role": "user", "content": question}], tools=[tool], max_tokens=96)
tool_s = time.perf_counter() - started
print(json.dumps({"load_s": load_s, "tokens_per_s": answer.usage.completion_tokens / answer_s,
                  "tool_decision_s": tool_s, "tool_called": bool(call.message.tool_calls), "rss_mb": rss_mb()}))
"""


def measure(model: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _PROBE, model], check=True, capture_output=True, text=True)
    return {"model": model, **json.loads(out.stdout.strip().splitlines()[-1])}


def run() -> list[dict[str, Any]]:
    models = [DEFAULT_CHAT_MODEL] + ([QWEN_CODER_1_5B] if installed_path(QWEN_CODER_1_5B) else [])
    rows = [measure(model) for model in models]
    report("chat_models", rows, {"what": "64-token answer; one tool decision with one tool offered"})
    return rows


if __name__ == "__main__":
    run()
