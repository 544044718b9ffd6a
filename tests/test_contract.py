"""One contract, two backends: LocalBackend in-process, and HubBackend through the real InferenceClient over
recorded HTTP (cassettes of the protocol server backed by the same local models)."""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest

from hfbridge import (
    Backend,
    ChatCompletion,
    ClassificationLabel,
    EntityGroup,
    InvalidInputError,
    LocalBackend,
)
from hfbridge.backends import _wire

from .conftest import RECORD, cassette_vcr, make_hub_backend

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SUPPORT = ["How do I reset my password?", "I forgot my password and cannot log in.", "What are your opening hours?"]


@pytest.fixture(params=["local", "hub", "hub-public"])
def backend(
    request: pytest.FixtureRequest, local_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    """``hub-public`` replays the ``hub`` cassettes with huggingface_hub's internals fenced off (the path a release
    that changed them falls back to): the client's public methods must send the same requests and give the same
    results."""
    if request.param == "local":
        yield local_backend
        return
    target = request.getfixturevalue("hub_target")
    if request.param == "hub":
        request.getfixturevalue("cassette")
        context: Any = contextlib.nullcontext()
    else:
        if RECORD:
            pytest.skip("replays the hub cassettes; nothing to record")
        monkeypatch.setattr(_wire, "FAST_PATH", False)
        name = request.node.name.replace("[hub-public", "[hub").replace("[", "-").replace("]", "").replace("/", "_")
        context = cassette_vcr().use_cassette(f"test_contract/{name}.yaml")
    with context:
        hub = make_hub_backend(target, batch_size=8, max_concurrency=2)
        yield hub
        hub.close()


def test_the_fence_found_the_internals_of_the_pinned_huggingface_hub() -> None:
    # The fast path is what the suite measures and the cassettes were recorded with; a huggingface_hub that moved
    # an internal would make this fail (and every call would still work, on the public path).
    assert _wire.UNAVAILABLE is None and _wire.FAST_PATH


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_chat_completion(backend: Backend) -> None:
    result = backend.chat_completion([{"role": "user", "content": "Say hello."}], max_tokens=12)
    assert isinstance(result, ChatCompletion)
    assert result.content.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.usage is not None and 0 < result.usage.completion_tokens <= 12


def test_max_tokens_is_honoured(backend: Backend) -> None:
    result = backend.chat_completion([{"role": "user", "content": "Write a long story about a dragon."}], max_tokens=5)
    assert result.finish_reason == "length"
    assert result.usage is not None and result.usage.completion_tokens == 5


def test_stream_chat_completion(backend: Backend) -> None:
    chunks = list(backend.stream_chat_completion([{"role": "user", "content": "Say hello."}], max_tokens=12))
    text = "".join(chunk.content for chunk in chunks)
    assert len([c for c in chunks if c.content]) > 1, "a stream yields several pieces"
    assert text.strip()
    assert chunks[-1].finish_reason in ("stop", "length") or chunks[-2].finish_reason in ("stop", "length")
    usages = [chunk.usage for chunk in chunks if chunk.usage is not None]
    assert usages and usages[-1].completion_tokens > 0


def test_chat_tool_call_required(backend: Backend) -> None:
    result = backend.chat_completion(
        [{"role": "user", "content": "What is the weather in Paris?"}], tools=[WEATHER_TOOL], tool_choice="required"
    )
    assert result.finish_reason == "tool_calls"
    (call,) = result.tool_calls
    assert call.name == "get_weather"
    assert isinstance(call.parsed_arguments()["city"], str)


def test_stream_tool_call_deltas_assemble(backend: Backend) -> None:
    chunks = list(
        backend.stream_chat_completion(
            [{"role": "user", "content": "What is the weather in Paris?"}],
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
    )
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert deltas[0].name == "get_weather" and deltas[0].id
    arguments = "".join(delta.arguments for delta in deltas if delta.index == 0)
    assert "city" in json.loads(arguments)
    assert any(chunk.finish_reason == "tool_calls" for chunk in chunks)


def test_response_format_json_schema(backend: Backend) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    result = backend.chat_completion(
        [{"role": "user", "content": "Describe a person named Ann who is 31 years old."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
        max_tokens=60,
    )
    value = json.loads(result.content)
    assert isinstance(value["name"], str) and isinstance(value["age"], int)


def test_messages_are_not_mutated(backend: Backend) -> None:
    history: list[dict[str, Any]] = [{"role": "user", "content": "Say hello."}]
    snapshot = json.dumps(history)
    backend.chat_completion(history, max_tokens=3)
    assert json.dumps(history) == snapshot


def test_text_generation(backend: Backend) -> None:
    result = backend.text_generation("The capital of France is", max_new_tokens=6)
    assert result.generated_text.strip()
    assert result.finish_reason in ("length", "eos_token", "stop_sequence")
    assert result.generated_tokens == 6 or result.finish_reason != "length"


def test_stream_text_generation(backend: Backend) -> None:
    chunks = list(backend.stream_text_generation("Once upon a time", max_new_tokens=6))
    assert len(chunks) > 1
    assert chunks[-1].generated_text is not None
    assert "".join(chunk.token.text for chunk in chunks) == chunks[-1].generated_text
    assert chunks[-1].finish_reason == "length"


def test_feature_extraction_batches_in_order(backend: Backend, local_backend: LocalBackend) -> None:
    texts = [f"support ticket number {i}: my invoice {i} is wrong" for i in range(20)]
    vectors = backend.feature_extraction(texts)
    assert len(vectors) == 20 and all(len(v) == 384 for v in vectors)
    assert all(abs(_norm(v) - 1.0) < 1e-3 for v in vectors)
    alone = local_backend.feature_extraction([texts[13]])[0]
    assert sum(a * b for a, b in zip(vectors[13], alone, strict=True)) > 0.999


def test_sentence_similarity(backend: Backend) -> None:
    scores = backend.sentence_similarity(SUPPORT[0], SUPPORT[1:])
    assert len(scores) == 2
    assert scores[0] > scores[1]


def test_text_classification(backend: Backend) -> None:
    labels = backend.text_classification("I absolutely love this, it works wonderfully!")
    assert all(isinstance(label, ClassificationLabel) for label in labels)
    assert labels[0].label == "POSITIVE" and labels[0].score > 0.5
    assert backend.text_classification("This is terrible and broken, I hate it.")[0].label == "NEGATIVE"


def test_zero_shot_classification(backend: Backend) -> None:
    labels = ["billing", "account", "technical support", "general"]
    result = backend.zero_shot_classification("I need to update my payment method.", labels)
    assert result[0].label == "billing"
    assert sorted(item.label for item in result) == sorted(labels)
    assert abs(sum(item.score for item in result) - 1.0) < 1e-3


def test_zero_shot_multi_label(backend: Backend) -> None:
    result = backend.zero_shot_classification(
        "My card was charged twice and the app crashes.", ["billing", "technical support", "cooking"], multi_label=True
    )
    scores = {item.label: item.score for item in result}
    assert scores["cooking"] < scores["billing"]
    assert all(0.0 <= score <= 1.0 for score in scores.values())


def test_token_classification(backend: Backend) -> None:
    text = "Elon Musk founded SpaceX in Hawthorne, California in 2002."
    entities = backend.token_classification(text)
    assert all(isinstance(entity, EntityGroup) for entity in entities)
    by_word = {entity.word: entity for entity in entities}
    assert by_word["Elon Musk"].entity_group == "PER"
    assert by_word["SpaceX"].entity_group == "ORG"
    assert by_word["California"].entity_group == "LOC"
    for entity in entities:
        assert text[entity.start : entity.end] == entity.word


async def test_async_twins(backend: Backend) -> None:
    result = await backend.achat_completion([{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert result.content.strip()
    pieces = [chunk.content async for chunk in backend.astream_chat_completion(
        [{"role": "user", "content": "Say hello."}], max_tokens=8)]  # fmt: skip
    assert "".join(pieces).strip()
    vectors = await backend.afeature_extraction(["alpha", "beta", "gamma"])
    assert len(vectors) == 3
    entities = await backend.atoken_classification("Angela Merkel visited Paris.")
    assert {entity.entity_group for entity in entities} >= {"PER", "LOC"}
    labels = await backend.azero_shot_classification("My invoice is wrong", ["billing", "weather"])
    assert labels[0].label == "billing"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.feature_extraction([]), "empty list"),
        (lambda b: b.feature_extraction(None), "None"),
        (lambda b: b.feature_extraction(["ok", 3]), "texts[1] must be a str"),
        (lambda b: b.feature_extraction("a single string"), "not a single str"),
        (lambda b: b.feature_extraction(["ok", ""]), "texts[1] is empty"),
        (lambda b: b.text_classification(""), "empty"),
        (lambda b: b.text_classification("x" * 100_001), "max_input_chars"),
        (lambda b: b.zero_shot_classification("text", []), "labels is empty"),
        (lambda b: b.zero_shot_classification("text", ["a", "a"]), "given twice"),
        (lambda b: b.zero_shot_classification("text", [f"l{i}" for i in range(1000)]), "at most"),
        (lambda b: b.chat_completion([]), "messages is empty"),
        (lambda b: b.chat_completion([{"role": "user", "content": "x"}], tool_choice="required"), "at least one tool"),
        (
            lambda b: b.chat_completion([{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], tool_choice="nope"),
            "not among the tools",
        ),
    ],
)
def test_bad_input_is_rejected_before_sending(backend: Backend, call: Any, message: str) -> None:
    # For the hub backend the cassette is empty and replay refuses any request: nothing may be sent.
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        call(backend)
