"""Property: whatever JSON-ish arguments the backend's public methods get, every outcome is a result or an
``HFBridgeError`` — never a ``TypeError`` from deep inside, a raw ``httpx2`` error or a crash of the client.

Two runs. Argument handling: every public method of a ``HubBackend`` whose URL refuses connections, with keyword
arguments of any JSON-ish value (``max_tokens="5"``, ``stop=5``, ``model=5``, ``temperature={}``, lone surrogates),
so whatever is not refused locally ends as ``BackendUnavailableError``. Answers: the cheap tasks, and chat /
generation with a few tokens, through the protocol server with the real ``InferenceClient`` and on the
``LocalBackend`` in-process; there keyword arguments have their documented types, with any value, and texts are
valid Unicode (the answers are what is tested).

Malformed 2xx bodies (embeddings as strings, an ``{"error": ...}`` 200) cannot come from our server: they have their
own tests (tests/test_malformed_answers.py), as the bad-argument table has (tests/test_bad_input.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfbridge import HubBackend, LocalBackend, RetryPolicy
from hfbridge.errors import HFBridgeError
from hfbridge.server import ServerThread, create_app

# Derandomized: the same examples on every run (no flaky CI, no example database written into the tree).
PROFILE = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)


def _jsonish(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    leaves = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | text
    return st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=10
    )


ANY_TEXT = st.text(max_size=30) | st.just("hello world")  # lone surrogates included
VALID_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30) | st.just("hello world")


def _messages(jsonish: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    role = st.sampled_from(["user", "system", "assistant", "tool", "developer", "robot"])
    message = st.fixed_dictionaries({"role": role, "content": jsonish})
    return st.lists(message, max_size=3) | jsonish


def _keywords(
    text: st.SearchStrategy[str], jsonish: st.SearchStrategy[Any], any_type: bool = False
) -> dict[str, st.SearchStrategy[Any]]:
    """Each keyword argument with its documented type and any value of that type (``any_type``: or any value)."""
    small_int = st.none() | st.integers(-5, 12)
    number = st.none() | st.floats(allow_nan=True, allow_infinity=True)
    documented = {
        "model": st.none(),
        "top_k": small_int, "seed": small_int, "max_tokens": small_int, "max_new_tokens": small_int,
        "batch_size": st.none() | st.integers(1, 5),
        "temperature": number, "top_p": number, "guidance_scale": number,
        "width": small_int, "height": small_int, "num_inference_steps": small_int,
        "stop": st.none() | text | st.lists(text, max_size=3),
        "multi_label": st.booleans(), "show_progress": st.booleans(),
        "normalize": st.none() | st.booleans(), "truncate": st.none() | st.booleans(),
        "hypothesis_template": st.none() | text, "prompt_name": st.none() | text, "negative_prompt": st.none() | text,
        "tools": st.none() | jsonish, "tool_choice": jsonish, "response_format": st.none() | jsonish,
        "extra": st.dictionaries(text, jsonish, max_size=2),
    }  # fmt: skip
    if any_type:
        return {key: strategy | jsonish for key, strategy in documented.items()}
    return documented


CHAT = ["model", "tools", "tool_choice", "response_format", "max_tokens", "temperature", "top_p", "stop", "seed"]
GENERATION = ["model", "max_new_tokens", "temperature", "top_p", "stop", "seed"]
#: Public method -> (the strategy name of each positional argument, its keyword arguments).
METHODS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "chat_completion": (("messages",), CHAT),
    "stream_chat_completion": (("messages",), CHAT),
    "achat_completion": (("messages",), CHAT),
    "text_generation": (("text",), GENERATION),
    "stream_text_generation": (("text",), GENERATION),
    "atext_generation": (("text",), GENERATION),
    "text_generation_batch": (("texts",), GENERATION),
    "feature_extraction": (
        ("texts",), ["batch_size", "show_progress", "model", "normalize", "truncate", "prompt_name"]
    ),
    "afeature_extraction": (("texts",), ["batch_size", "model", "normalize", "truncate", "prompt_name"]),
    "text_classification": (("text",), ["top_k", "model"]),
    "atext_classification": (("text",), ["top_k", "model"]),
    "zero_shot_classification": (("text", "texts"), ["multi_label", "hypothesis_template", "model"]),
    "token_classification": (("text",), ["model"]),
    "sentence_similarity": (("text", "texts"), ["model"]),
    "text_to_image": (("text",), ["model", "negative_prompt", "width", "height", "num_inference_steps",
                                  "guidance_scale", "seed", "extra"]),
}  # fmt: skip


@st.composite
def _calls(
    draw: Any, methods: dict[str, tuple[tuple[str, ...], list[str]]], text: Any, any_type: bool = False
) -> tuple[str, list, dict]:
    jsonish = _jsonish(text)
    positional = {"messages": _messages(jsonish), "text": jsonish | text, "texts": jsonish | st.lists(text, max_size=4)}
    keywords = _keywords(text, jsonish, any_type)
    name = draw(st.sampled_from(sorted(methods)))
    kinds, options = methods[name]
    args = [draw(positional[kind]) for kind in kinds]
    kwargs = {key: draw(keywords[key]) for key in options if draw(st.booleans())}
    return name, args, kwargs


def _outcome(backend: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call, and drain streams and coroutines: the outcome of the whole call."""
    result = getattr(backend, name)(*args, **kwargs)
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isgenerator(result):
        return list(result)
    return result


def _check(backend: Any, call: tuple[str, list[Any], dict[str, Any]]) -> None:
    name, args, kwargs = call
    with contextlib.suppress(HFBridgeError):  # a typed error is an outcome; anything else fails with the example
        _outcome(backend, name, args, kwargs)


REFUSING = HubBackend(base_url="http://127.0.0.1:9", retry=RetryPolicy(max_attempts=1), timeout=5)


@settings(PROFILE, max_examples=400)
@given(_calls(METHODS, ANY_TEXT, any_type=True))
def test_every_argument_is_handled_before_or_by_the_transport(call: tuple[str, list, dict]) -> None:
    _check(REFUSING, call)


ANSWERED = {
    name: METHODS[name]
    for name in ("feature_extraction", "text_classification", "zero_shot_classification", "token_classification",
                 "sentence_similarity", "chat_completion", "text_generation")
}  # fmt: skip


@pytest.fixture(scope="module")
def answering(local_backend: LocalBackend) -> Iterator[dict[str, Any]]:
    with ServerThread(create_app(local_backend)) as server:
        hub = HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1), timeout=120)
        yield {"hub": hub, "local": local_backend}


@settings(PROFILE, max_examples=100)
@given(call=_calls(ANSWERED, VALID_TEXT), where=st.sampled_from(["hub", "local"]))
def test_every_answer_is_a_result_or_a_typed_error(
    answering: dict[str, Any], call: tuple[str, list, dict], where: str
) -> None:
    name, args, kwargs = call
    if name in ("chat_completion", "text_generation"):  # a few tokens: the property is about shapes, not length
        kwargs["max_tokens" if name == "chat_completion" else "max_new_tokens"] = 2
    _check(answering[where], (name, args, kwargs))
