"""Shared fixtures: the local backend, the protocol server, and cassettes.

``HFBRIDGE_RECORD`` selects where hub-backend tests get their HTTP answers:

* unset (CI): replay ``cassettes/`` — nothing listens, nothing leaves the machine;
* ``local``: record the real InferenceClient against the protocol server backed by the local models;
* ``hub``: record against the real Hugging Face API (needs ``HF_TOKEN``), with the models in ``HUB_TARGET``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest
import vcr

from hfbridge import HubBackend, LocalBackend, RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
TARGET_FILE = CASSETTES / "target.json"
RECORD = os.environ.get("HFBRIDGE_RECORD", "").strip().lower()
#: The fixed port cassettes are recorded on (recording writes it into cassettes/target.json).
LOCAL_PORT = int(os.environ.get("HFBRIDGE_RECORD_PORT", "8765"))

HUB_TARGET: dict[str, Any] = {
    "kind": "hub",
    "provider": "hf-inference",
    "task_models": {
        "chat": "HuggingFaceTB/SmolLM3-3B",
        "text-generation": "HuggingFaceTB/SmolLM3-3B",
        "feature-extraction": "sentence-transformers/all-MiniLM-L6-v2",
        "sentence-similarity": "sentence-transformers/all-MiniLM-L6-v2",
        "text-classification": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "zero-shot-classification": "facebook/bart-large-mnli",
        "token-classification": "dslim/bert-base-NER",
        "summarization": "facebook/bart-large-cnn",
        "translation": "Helsinki-NLP/opus-mt-en-fr",
        "question-answering": "deepset/roberta-base-squad2",
        "table-question-answering": "google/tapas-base-finetuned-wtq",
        "fill-mask": "google-bert/bert-base-uncased",
    },
}
FILTERED_HEADERS = ["authorization", "x-amzn-trace-id", "user-agent"]


@pytest.fixture(scope="session")
def local_backend() -> LocalBackend:
    return LocalBackend()


def _target() -> dict[str, Any]:
    if RECORD == "local":
        return {"kind": "local", "base_url": f"http://127.0.0.1:{LOCAL_PORT}"}
    if RECORD == "hub":
        if not os.environ.get("HF_TOKEN"):
            pytest.exit("HFBRIDGE_RECORD=hub needs HF_TOKEN", returncode=2)
        return HUB_TARGET
    return json.loads(TARGET_FILE.read_text())


@pytest.fixture(scope="session")
def hub_target(local_backend: LocalBackend) -> Iterator[dict[str, Any]]:
    target = _target()
    if RECORD:
        CASSETTES.mkdir(exist_ok=True)
        TARGET_FILE.write_text(json.dumps(target, indent=2) + "\n")
    if RECORD == "local":
        from hfbridge.server import ServerThread, create_app

        # One URL serves every task: bodies of one shape only go where they belong, the rest (text
        # classification's {"inputs": ..., "parameters": {}}) to text classification.
        with ServerThread(create_app(local_backend, task="text-classification"), port=LOCAL_PORT):
            yield target
    else:
        yield target


def make_hub_backend(target: dict[str, Any], **kwargs: Any) -> HubBackend:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1, deadline=None))
    if target["kind"] == "local":
        return HubBackend(base_url=target["base_url"], timeout=120, **kwargs)
    return HubBackend(provider=target["provider"], task_models=target["task_models"], timeout=120, **kwargs)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _normalized_body(request: Any) -> Any:
    body = request.body or b""
    text = body.decode() if isinstance(body, bytes) else str(body)
    # Frameworks put fresh UUIDs in some requests (LangChain's few-shot tool examples): compare modulo those.
    text = _UUID.sub("<uuid>", text)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _body_matcher(first: Any, second: Any) -> None:
    assert _normalized_body(first) == _normalized_body(second), "request bodies differ"


def cassette_vcr() -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORD else "none",
        match_on=["method", "path", "query", "json_body"],
        filter_headers=FILTERED_HEADERS,
        decode_compressed_response=True,
    )
    recorder.register_matcher("json_body", _body_matcher)
    return recorder


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Record or replay this test's HTTP in ``cassettes/<module>/<test>.yaml``."""
    module = request.node.module.__name__.rsplit(".", 1)[-1]
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "_")
    with cassette_vcr().use_cassette(f"{module}/{name}.yaml") as recorded:
        yield recorded
