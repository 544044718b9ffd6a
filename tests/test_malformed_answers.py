"""A 2xx answer that is not what the task returns is a typed ``APIError``, never a wrong result (issue 13).

Real HTTP on loopback through the real ``InferenceClient``: a garbage server answers every request with one
scripted body (status 200 unless said), as a misconfigured proxy, a login page or a broken deployment does. Each
case once was a wrong result: an empty chat answer or an empty stream from ``{"error": ...}``, strings or ragged
rows as embeddings, ``TypeError`` from a label, ``PIL.UnidentifiedImageError`` from an HTML page, ``ValueError``
from a 503 whose ``estimated_time`` is ``"soon"``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from hfbridge import HubBackend, RetryPolicy
from hfbridge.backends import _wire
from hfbridge.errors import APIError, ModelLoadingError

from ._http_double import RecordingServer

MESSAGES = [{"role": "user", "content": "Say hello."}]
HTML = b"<!doctype html><html><body><h1>Sign in</h1></body></html>"
ERROR = {"error": "Model is overloaded, try later"}
OPENAI_ERROR = {"error": {"message": "Quota exceeded", "type": "insufficient_quota"}}


def _drain(result: Any) -> Any:
    return list(result) if hasattr(result, "__next__") else result


async def _adrain(result: Any) -> Any:
    if hasattr(result, "__anext__"):
        return [chunk async for chunk in result]
    return await result


CALLS: dict[str, Callable[[HubBackend], Any]] = {
    "chat": lambda b: b.chat_completion(MESSAGES, max_tokens=4),
    "chat-stream": lambda b: b.stream_chat_completion(MESSAGES, max_tokens=4),
    "generation": lambda b: b.text_generation("Hello", max_new_tokens=4),
    "generation-stream": lambda b: b.stream_text_generation("Hello", max_new_tokens=4),
    "embeddings": lambda b: b.feature_extraction(["alpha", "beta"]),
    "classification": lambda b: b.text_classification("I love it"),
    "zero-shot": lambda b: b.zero_shot_classification("My invoice is wrong", ["billing", "weather"]),
    "ner": lambda b: b.token_classification("Angela Merkel visited Paris."),
    "similarity": lambda b: b.sentence_similarity("a cat", ["a dog", "a car"]),
    "image": lambda b: b.text_to_image("a red square"),
}

# (case, call, body, content type, what the message must say)
CASES = [
    *[(f"{name}-error-object", name, ERROR, "application/json", "answered 2xx with an error: Model is overloaded")
      for name in CALLS if name != "generation-stream"],
    # huggingface_hub reads text-generation streams itself and skips what is not an event: no message to show.
    ("generation-stream-error-object", "generation-stream", ERROR, "application/json", "without any event"),
    ("chat-openai-error-object", "chat", OPENAI_ERROR, "application/json", "2xx with an error: Quota exceeded"),
    ("chat-stream-openai-error", "chat-stream", OPENAI_ERROR, "application/json", "2xx with an error: Quota"),
    ("chat-stream-html", "chat-stream", HTML, "text/html", "not an event stream"),
    ("chat-html", "chat", HTML, "text/html", "unexpected response"),
    ("chat-no-choices", "chat", {"id": "x", "choices": []}, "application/json", "at least one choice"),
    ("chat-tool-call-without-name", "chat",
     {"choices": [{"message": {"role": "assistant", "content": None,
                               "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]},
                   "finish_reason": "tool_calls"}]},
     "application/json", "function.name must be a non-empty string"),
    ("chat-content-not-text", "chat",
     {"choices": [{"message": {"role": "assistant", "content": 42}, "finish_reason": "stop"}]},
     "application/json", "message.content must be a string"),
    ("chat-stream-empty", "chat-stream", b"", "text/event-stream", "without any event"),
    ("generation-stream-html", "generation-stream", HTML, "text/html", "unexpected response"),
    ("generation-text-not-a-string", "generation", [{"generated_text": 5}], "application/json", "generated_text"),
    ("embeddings-strings", "embeddings", [["a", "b"], ["c", "d"]], "application/json", "finite numbers, got 'a'"),
    ("embeddings-string", "embeddings", "a vector", "application/json", "must be a list"),
    ("embeddings-ragged", "embeddings", [[0.1, 0.2], [0.3]], "application/json", "width of the others"),
    ("embeddings-3d", "embeddings", [[[0.1, 0.2], [0.3, 0.4]], [[0.1, 0.2], [0.3, 0.4]]], "application/json",
     "one vector per token"),
    ("embeddings-too-few", "embeddings", [[0.1, 0.2]], "application/json", "1 embeddings for 2 texts"),
    ("embeddings-empty-row", "embeddings", [[], []], "application/json", "non-empty list of numbers"),
    ("embeddings-bools", "embeddings", [[True, False], [True, True]], "application/json", "finite numbers"),
    ("label-not-a-string", "classification", [[{"label": 5, "score": 0.9}]], "application/json",
     "labels[0].label"),
    ("score-not-a-number", "classification", [[{"label": "POSITIVE", "score": "high"}]], "application/json",
     "labels[0].score"),
    ("score-missing", "classification", [[{"label": "POSITIVE"}]], "application/json", "labels[0].score"),
    ("zero-shot-other-labels", "zero-shot", [{"label": "billing", "score": 0.9}, {"label": "sports", "score": 0.1}],
     "application/json", "must be the candidates"),
    ("zero-shot-missing-label", "zero-shot", [{"label": "billing", "score": 0.9}], "application/json",
     "must be the candidates"),
    ("ner-score-not-a-number", "ner",
     [{"entity_group": "PER", "score": "x", "word": "Angela", "start": 0, "end": 6}], "application/json",
     "entities[0].score"),
    ("ner-start-not-a-number", "ner",
     [{"entity_group": "PER", "score": 0.9, "word": "Angela", "start": "zero", "end": 6}], "application/json",
     "entities[0].start"),
    ("ner-ends-before-start", "ner",
     [{"entity_group": "PER", "score": 0.9, "word": "Angela", "start": 6, "end": 0}], "application/json",
     "must end after it starts"),
    ("ner-word-missing", "ner", [{"entity_group": "PER", "score": 0.9, "start": 0, "end": 6}], "application/json",
     "entities[0].word"),
    ("similarity-strings", "similarity", ["0.5", "0.1"], "application/json", "scores[0] must be a finite number"),
    ("similarity-too-few", "similarity", [0.5], "application/json", "1 scores for 2 sentences"),
    ("image-html", "image", HTML, "text/html", "the answer is not an image"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "body", "content_type", "message"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_a_malformed_answer_is_a_typed_error_and_is_not_retried(
    call: str, body: Any, content_type: str, message: str
) -> None:
    with RecordingServer(body=body, content_type=content_type) as server:
        backend = HubBackend(base_url=server.url, retry=RetryPolicy(base_delay=0.01, jitter=False))
        with pytest.raises(APIError) as caught:
            _drain(CALLS[call](backend))
        backend.close()
    assert message in str(caught.value)
    assert type(caught.value) is APIError  # not retryable: a garbage answer stays garbage
    assert len(server.requests) == 1


@pytest.mark.parametrize("call", ["chat", "chat-stream", "embeddings", "classification", "image"])
def test_a_malformed_answer_is_a_typed_error_on_the_async_path(call: str) -> None:
    body, content_type = (HTML, "text/html") if call in ("chat-stream", "image") else (ERROR, "application/json")
    asynchronous = {
        "chat": lambda b: b.achat_completion(MESSAGES, max_tokens=4),
        "chat-stream": lambda b: b.astream_chat_completion(MESSAGES, max_tokens=4),
        "embeddings": lambda b: b.afeature_extraction(["alpha", "beta"]),
        "classification": lambda b: b.atext_classification("I love it"),
        "image": lambda b: b.atext_to_image("a red square"),
    }[call]
    with RecordingServer(body=body, content_type=content_type) as server:
        backend = HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1))
        with pytest.raises(APIError) as caught:
            asyncio.run(_adrain(asynchronous(backend)))
    assert type(caught.value) is APIError
    assert "2xx with an error" in str(caught.value) or "unexpected response" in str(caught.value)


def test_the_public_path_reads_the_same_answers_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    # huggingface_hub's public methods (the fallback when its internals moved) parse into dataclasses first.
    monkeypatch.setattr(_wire, "FAST_PATH", False)
    for call, body, message in [
        ("chat", ERROR, "2xx with an error"),
        ("chat-stream", HTML, "unexpected response"),
        ("embeddings", ERROR, "2xx with an error"),
        # The client's numpy conversion fails first; it is still an answer that could not be read.
        ("embeddings", [["a", "b"], ["c", "d"]], "unexpected response"),
        ("embeddings", [[0.1, 0.2], [0.3]], "unexpected response"),
        ("embeddings", [[[0.1, 0.2], [0.3, 0.4]], [[0.1, 0.2], [0.3, 0.4]]], "one vector per token"),
    ]:
        content_type = "text/html" if isinstance(body, bytes) else "application/json"
        with RecordingServer(body=body, content_type=content_type) as server:
            backend = HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1))
            with pytest.raises(APIError, match=message) as caught:
                _drain(CALLS[call](backend))
        assert type(caught.value) is APIError and len(server.requests) == 1


def test_a_well_formed_answer_still_reads() -> None:
    # The checks refuse garbage, not the shapes real servers send (a bare vector for one text, ints in a vector,
    # one text's labels wrapped in a list, NER offsets missing from slow tokenizers).
    cases: list[tuple[Callable[[HubBackend], Any], Any, Any]] = [
        (lambda b: b.feature_extraction(["alpha"]), [1, 0.5], [[1, 0.5]]),
        (lambda b: b.text_classification("x"), [[{"label": "NEG", "score": 0.1}, {"label": "POS", "score": 0.9}]],
         ["POS", "NEG"]),
        (lambda b: [e.start for e in b.token_classification("x")],
         [{"entity_group": "PER", "score": 1, "word": "A", "start": None, "end": None}], [0]),
    ]  # fmt: skip
    for call, body, expected in cases:
        with RecordingServer(body=body) as server:
            result = call(HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1)))
        if result and hasattr(result[0], "label"):
            result = [item.label for item in result]
        assert list(result) == expected


@pytest.mark.parametrize("estimated_time", ["soon", None, -3, "NaN"])
def test_a_loading_model_with_an_unusable_estimated_time_is_a_typed_retryable_error(estimated_time: Any) -> None:
    body = {"error": "Model is currently loading", "estimated_time": estimated_time}
    with RecordingServer(status=503, body=body) as server:
        backend = HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=2, base_delay=0.01, jitter=False))
        with pytest.raises(ModelLoadingError) as caught:
            backend.text_classification("I love it")
    assert caught.value.estimated_time is None  # not a number of seconds: the policy's own backoff applies
    assert caught.value.attempts == 2 and len(server.requests) == 2


def _jsonish() -> Any:
    from hypothesis import strategies as st

    text = st.sampled_from(["", "a", "label", "POSITIVE", "error", "choices", "x" * 3]) | st.text(max_size=8)
    leaves = st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | text
    return st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=12
    )


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "public-path"])
def test_any_json_answer_is_a_result_or_a_typed_error(fast_path: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Property: whatever JSON a server answers with status 200, every task's outcome is a result or an
    ``HFBridgeError`` (never a ``TypeError`` / ``KeyError`` / ``ValueError`` from a parser)."""
    monkeypatch.setattr(_wire, "FAST_PATH", fast_path)
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hfbridge.errors import HFBridgeError

    calls = {name: call for name, call in CALLS.items() if name != "image"}  # an image answer is not JSON
    with RecordingServer() as server:
        backend = HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1))

        @settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None,
                  max_examples=300)  # fmt: skip
        @given(body=_jsonish(), name=st.sampled_from(sorted(calls)))
        def check(body: Any, name: str) -> None:
            server.body = body
            with contextlib.suppress(HFBridgeError):
                _drain(calls[name](backend))

        check()
        backend.close()
    assert len(server.requests) >= 300  # every example reached the server (none was refused before sending)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "public-path"])
def test_any_event_stream_is_chunks_or_a_typed_error(fast_path: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Property: a 200 event stream of any JSON events gives chunks or an ``HFBridgeError``, chat and generation."""
    monkeypatch.setattr(_wire, "FAST_PATH", fast_path)
    import json

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hfbridge.errors import HFBridgeError

    with RecordingServer(content_type="text/event-stream") as server:
        backend = HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1))

        @settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None,
                  max_examples=200)  # fmt: skip
        @given(events=st.lists(_jsonish(), max_size=4), done=st.booleans(),
               name=st.sampled_from(["chat-stream", "generation-stream"]))  # fmt: skip
        def check(events: list[Any], done: bool, name: str) -> None:
            lines = [f"data: {json.dumps(event)}\n\n" for event in events] + (["data: [DONE]\n\n"] if done else [])
            server.body = "".join(lines).encode()
            with contextlib.suppress(HFBridgeError):
                _drain(CALLS[name](backend))

        check()
        backend.close()
    assert len(server.requests) >= 200
