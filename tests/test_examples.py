"""Each script in examples/ runs as a user runs it (``python examples/NAME.py``, offline on the local backend) and
prints what its docstring promises; the test reads that output. The examples' building blocks (``triage``,
``build_chain``, ``build_index``) are tested in depth in tests/langchain and tests/llama_index."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: What each example must print, one regular expression per line that must appear (in this order).
EXPECTED: dict[str, list[str]] = {
    "quickstart.py": [
        r"^chat: ",
        r"^embeddings: 2 x 384$",
        r"^sentiment: label='POSITIVE'",
        r"^zero-shot: label='billing'",
        r"^entities: .*word='Ada Lovelace'.*word='London'",
    ],
    "langchain_rag.py": [r"^retrieved: passwords\.md$", r"^retrieved: \w+\.md$", r"^answer: "],
    "llamaindex_rag.py": [r"^retrieved: passwords\.md \(score 0\.\d\d\)$", r"^answer: "],
    "langchain_agent.py": [  # the model picks its first tool; the topic is always classified before the answer
        r"^-> zero_shot_classification\(\{",
        r"^<- zero_shot_classification: \[\{\"label\": \"(billing|account|technical support|general)\"",
        r"^answer: ",
    ],
    "ray_ingest.py": [r"^written \d+, already stored \d+, collection 'corpus' holds 6$"],
    "llamaindex_agent.py": [
        r"^-> named_entity_recognition\(\{",
        r"^<- named_entity_recognition: ",
        r"^-> zero_shot_classification\(\{",
        r"^<- zero_shot_classification: ",
    ],
}


def test_every_example_is_run_here() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_what_a_user_should_see(name: str) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("HF_TOKEN", "HFBRIDGE_BACKEND")}
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, f"examples/{name} exited {done.returncode}:\n{done.stderr[-3000:]}"
    lines = done.stdout.splitlines()
    position = 0
    for pattern in EXPECTED[name]:
        found = next((i for i in range(position, len(lines)) if re.search(pattern, lines[i])), None)
        assert found is not None, f"examples/{name} printed no line matching {pattern!r} after line {position}:\n" + (
            "\n".join(lines)
        )
        position = found + 1
