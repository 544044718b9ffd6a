"""Summarization, translation, question answering, table question answering and fill-mask on the wire.

The real ``InferenceClient`` (inside ``HubBackend``) talks to a loopback double that answers with the shapes
hf-inference sends (huggingface_hub's generated output types and the examples of its docstrings), and with answers
no parser may accept: the wrong shape, the wrong types, ``{"error": ...}`` with status 200, an HTML page. Each case
runs on both paths of ``backends/_wire.py``: the fast one (the client's provider helper and ``_inner_post``, raw
JSON) and the public one (the client's own method), which must send the same request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hfbridge import (
    APIError,
    HFBridgeError,
    HubBackend,
    InvalidInputError,
    LocalBackend,
    RetryPolicy,
    UnsupportedTaskError,
)
from hfbridge.backends import _wire
from hfbridge.cache import MemoryCache
from hfbridge.tasks import get_task
from hfbridge.types import FillMaskPrediction, QuestionAnswer, Summary, TableAnswer, Translation

from ._http_double import RecordingServer

ARTICLE = (
    "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building, and the tallest "
    "structure in Paris. Its base is square, measuring 125 metres (410 ft) on each side."
)
CONTEXT = "My name is Clara and I live in Berkeley."
TABLE = {"Repository": ["Transformers", "Datasets", "Tokenizers"], "Stars": ["36542", "4512", "3934"]}

# What hf-inference answers (huggingface_hub 2.4: inference/_generated/types/*.py, InferenceClient docstrings).
SUMMARY = [{"summary_text": "The tower is 324 metres tall, the tallest structure in Paris."}]
TRANSLATION = [{"translation_text": "Mon nom est Wolfgang et je vis à Berlin"}]
ANSWER = {"answer": "Clara", "end": 16, "score": 0.9326565265655518, "start": 11}
ANSWERS = [ANSWER, {"answer": "Berkeley", "end": 39, "score": 0.01, "start": 31}]
TABLE_ANSWER = {"answer": "AVERAGE > 36542", "coordinates": [[0, 1]], "cells": ["36542"], "aggregator": "AVERAGE"}
FILLS = [
    {"score": 0.0690, "token": 11098, "token_str": " happiness", "sequence": "The goal of life is happiness."},
    {"score": 0.0655, "token": 45075, "token_str": " immortality", "sequence": "The goal of life is immortality."},
]

Call = Callable[[HubBackend], Any]

CALLS: dict[str, Call] = {
    "summarization": lambda b: b.summarization(ARTICLE),
    "translation": lambda b: b.translation("My name is Wolfgang and I live in Berlin"),
    "question_answering": lambda b: b.question_answering("What's my name?", CONTEXT),
    "table_question_answering": lambda b: b.table_question_answering(TABLE, "How many stars has Transformers?"),
    "fill_mask": lambda b: b.fill_mask("The goal of life is <mask>."),
}
GOOD = {
    "summarization": SUMMARY,
    "translation": TRANSLATION,
    "question_answering": ANSWER,
    "table_question_answering": TABLE_ANSWER,
    "fill_mask": FILLS,
}


@pytest.fixture(params=["fast", "public"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "public":
        monkeypatch.setattr(_wire, "FAST_PATH", False)
    yield request.param


def hub(server: RecordingServer, **kwargs: Any) -> HubBackend:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1, deadline=None))
    return HubBackend(base_url=server.url, **kwargs)


def sent(server: RecordingServer) -> Any:
    (request,) = server.requests
    assert request.method == "POST" and request.path == "/"
    return json.loads(request.body)


# ------------------------------------------------------------------------------------------- real answers parse
def test_summarization(path: str) -> None:
    with RecordingServer(body=SUMMARY) as server:
        result = hub(server).summarization(
            ARTICLE, generate_parameters={"max_length": 30}, truncation="only_first", clean_up_tokenization_spaces=True
        )
    assert result == Summary(summary_text=SUMMARY[0]["summary_text"])
    assert result.meta is not None and result.meta.backend.startswith("hub:")
    assert sent(server) == {
        "inputs": ARTICLE,
        "parameters": {"clean_up_tokenization_spaces": True, "generate_parameters": {"max_length": 30},
                       "truncation": "only_first"},
    }  # fmt: skip


def test_translation(path: str) -> None:
    with RecordingServer(body=TRANSLATION) as server:
        result = hub(server).translation("My name is Wolfgang and I live in Berlin", src_lang="en_XX", tgt_lang="fr_XX")
    assert result == Translation(translation_text="Mon nom est Wolfgang et je vis à Berlin")
    assert sent(server) == {
        "inputs": "My name is Wolfgang and I live in Berlin",
        "parameters": {"src_lang": "en_XX", "tgt_lang": "fr_XX"},
    }


def test_question_answering_one_answer(path: str) -> None:
    with RecordingServer(body=ANSWER) as server:
        (answer,) = hub(server).question_answering("What's my name?", CONTEXT)
    assert answer == QuestionAnswer(answer="Clara", score=0.9326565265655518, start=11, end=16)
    assert CONTEXT[answer.start : answer.end] == answer.answer
    assert sent(server) == {"inputs": {"question": "What's my name?", "context": CONTEXT}, "parameters": {}}


def test_question_answering_several_answers_best_first(path: str) -> None:
    with RecordingServer(body=list(reversed(ANSWERS))) as server:
        answers = hub(server).question_answering("Who lives where?", CONTEXT, top_k=2, max_answer_len=10)
    assert [a.answer for a in answers] == ["Clara", "Berkeley"]
    assert all(CONTEXT[a.start : a.end] == a.answer for a in answers)
    assert sent(server)["parameters"] == {"top_k": 2, "max_answer_len": 10}


def test_table_question_answering(path: str) -> None:
    with RecordingServer(body=TABLE_ANSWER) as server:
        result = hub(server).table_question_answering(
            {"Repository": ["Transformers", "Datasets", "Tokenizers"], "Stars": [36542, 4512, 3934]},
            "How many stars has Transformers?",
            sequential=True,
        )
    assert result == TableAnswer(answer="AVERAGE > 36542", coordinates=[(0, 1)], cells=["36542"], aggregator="AVERAGE")
    # Numbers are sent as text; the client puts the (URL's: no) model into the parameters too.
    assert sent(server) == {
        "inputs": {"query": "How many stars has Transformers?", "table": TABLE},
        "parameters": {"sequential": True},
    }


def test_fill_mask(path: str) -> None:
    with RecordingServer(body=list(reversed(FILLS))) as server:
        predictions = hub(server).fill_mask("The goal of life is <mask>.", targets=["happiness", "immortality"])
    assert [p.token_str for p in predictions] == [" happiness", " immortality"]
    assert predictions[0] == FillMaskPrediction(**FILLS[0])
    assert sent(server) == {
        "inputs": "The goal of life is <mask>.",
        "parameters": {"targets": ["happiness", "immortality"]},
    }


async def test_async_twins(path: str) -> None:
    for name, body in GOOD.items():
        with RecordingServer(body=body) as server:
            backend = hub(server)
            method = getattr(backend, f"a{name}")
            args = {
                "summarization": (ARTICLE,),
                "translation": ("Hello",),
                "question_answering": ("What's my name?", CONTEXT),
                "table_question_answering": (TABLE, "How many stars?"),
                "fill_mask": ("The goal of life is <mask>.",),
            }[name]
            result = await method(*args)
            await backend.aclose()
        assert result, name
        assert len(server.requests) == 1


# ----------------------------------------------------------------------------------------- malformed 2xx bodies
MALFORMED: list[tuple[str, Any]] = [
    # {"error": ...} with status 200
    *((name, {"error": "Model is overloaded"}) for name in CALLS),
    # the wrong shape
    ("summarization", []),
    ("summarization", [{"summary_text": "a"}, {"summary_text": "b"}]),
    ("summarization", {"summary_text": "not in a list"}),
    ("summarization", [{"generated_text": "the wrong key"}]),
    ("translation", [["nested"]]),
    ("translation", "a bare string"),
    ("question_answering", []),
    ("question_answering", [{"answer": "Clara"}]),
    ("question_answering", {"answer": "Clara", "score": 0.9, "start": 11, "end": 400}),  # outside the context
    ("table_question_answering", [TABLE_ANSWER]),
    ("table_question_answering", {**TABLE_ANSWER, "coordinates": [[7, 0]]}),  # no such row
    ("table_question_answering", {**TABLE_ANSWER, "coordinates": [[0]]}),
    ("fill_mask", []),
    ("fill_mask", FILLS[0]),
    # the wrong types
    ("summarization", [{"summary_text": None}]),
    ("translation", [{"translation_text": 42}]),
    ("question_answering", {"answer": "Clara", "score": "high", "start": 11, "end": 16}),
    ("question_answering", {"answer": "Clara", "score": 0.9, "start": 11.5, "end": 16}),
    ("question_answering", {"answer": "Clara", "score": True, "start": 11, "end": 16}),
    ("table_question_answering", {**TABLE_ANSWER, "cells": [36542]}),
    ("table_question_answering", {**TABLE_ANSWER, "aggregator": 1}),
    ("fill_mask", [{**FILLS[0], "token": "11098"}]),
    ("fill_mask", [{**FILLS[0], "score": None}]),
]


def _case_id(case: tuple[str, Any]) -> str:
    return f"{case[0]}-{json.dumps(case[1])[:40]}"


@pytest.mark.parametrize("case", MALFORMED, ids=[_case_id(case) for case in MALFORMED])
def test_a_malformed_answer_is_an_api_error_not_a_result(case: tuple[str, Any]) -> None:
    name, body = case
    with RecordingServer(body=body) as server:
        # A malformed answer is no transient failure: retrying it would get the same answer.
        backend = hub(server, retry=RetryPolicy(max_attempts=3, base_delay=0.01, deadline=None))
        with pytest.raises(APIError) as raised:
            CALLS[name](backend)
    assert type(raised.value) is APIError, raised.value
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", list(CALLS))
def test_an_html_page_with_status_200_is_an_api_error(name: str) -> None:
    page = b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"
    with RecordingServer(body=page, content_type="text/html") as server, pytest.raises(APIError) as raised:
        CALLS[name](hub(server))
    assert type(raised.value) is APIError


# The client keeps the first of several summaries / translations and drops the rest: on its public path that
# answer cannot be told from a good one (the fast path refuses it).
PUBLIC_MALFORMED = [case for case in MALFORMED if case != ("summarization", [{"summary_text": "a"},
                                                                             {"summary_text": "b"}])]


@pytest.mark.parametrize("case", PUBLIC_MALFORMED, ids=[_case_id(case) for case in PUBLIC_MALFORMED])
def test_on_the_public_path_a_malformed_answer_is_still_a_typed_error(
    case: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client's own parsing runs first there and may raise before ours (a dict where it wants a list is its
    # ValueError, which reads as "this target cannot run the task"): typed, never a result or a raw exception.
    monkeypatch.setattr(_wire, "FAST_PATH", False)
    name, body = case
    with RecordingServer(body=body) as server, pytest.raises(HFBridgeError):
        CALLS[name](hub(server))


def test_a_fill_mask_answer_for_several_masks_is_refused_as_the_callers_input() -> None:
    # The pipeline answers one list per mask token; "[MASK]"/"<mask>" are counted before sending, other tokens
    # only show in the answer.
    with RecordingServer(body=[FILLS, FILLS]) as server, pytest.raises(InvalidInputError, match="2 mask tokens"):
        hub(server).fill_mask("The goal of life is <special> and <special>.")


# ---------------------------------------------------------------------------------------- validation, unsent
BAD: list[tuple[Call, str]] = [
    (lambda b: b.summarization(""), "empty"),
    (lambda b: b.summarization(None), "None"),
    (lambda b: b.summarization("x" * 100_001), "max_input_chars"),
    (lambda b: b.summarization("text", truncation="sometimes"), "truncation must be one of"),
    (lambda b: b.summarization("text", generate_parameters=["max_length", 3]), "must be a dict"),
    (lambda b: b.summarization("text", generate_parameters={"max_length": float("nan")}), "JSON"),
    (lambda b: b.summarization("text", generate_parameters={1: 2}), "keys must be str"),
    (lambda b: b.summarization("text", clean_up_tokenization_spaces="yes"), "must be a bool"),
    (lambda b: b.translation(42), "must be a str"),
    (lambda b: b.translation("Hello", src_lang="en_XX"), "src_lang is given without tgt_lang"),
    (lambda b: b.translation("Hello", tgt_lang="fr_XX"), "tgt_lang is given without src_lang"),
    (lambda b: b.translation("Hello", src_lang=" ", tgt_lang="fr_XX"), "src_lang is empty"),
    (lambda b: b.translation("Hello", truncation=True), "truncation must be one of"),
    (lambda b: b.question_answering("", CONTEXT), "question is empty"),
    (lambda b: b.question_answering("Who?", None), "context is None"),
    (lambda b: b.question_answering("Who?", CONTEXT, top_k=0), "top_k must be at least 1"),
    (lambda b: b.question_answering("Who?", CONTEXT, top_k=True), "top_k must be an int"),
    (lambda b: b.question_answering("Who?", CONTEXT, max_answer_len="5"), "max_answer_len must be an int"),
    (lambda b: b.question_answering("Who?", CONTEXT, doc_stride=-1), "doc_stride must be at least 0"),
    (lambda b: b.question_answering("Who?", CONTEXT, handle_impossible_answer=1), "must be a bool"),
    (lambda b: b.table_question_answering([["a"]], "Which?"), "dict of columns"),
    (lambda b: b.table_question_answering({}, "Which?"), "table is empty"),
    (lambda b: b.table_question_answering({"a": []}, "Which?"), "no rows"),
    (lambda b: b.table_question_answering({"a": "xyz"}, "Which?"), "must be a list of cells"),
    (lambda b: b.table_question_answering({"a": ["1", "2"], "b": ["1"]}, "Which?"), "equally long"),
    (lambda b: b.table_question_answering({"a": [None]}, "Which?"), "must be a str (or a number)"),
    (lambda b: b.table_question_answering({"a": [True]}, "Which?"), "must be a str (or a number)"),
    (lambda b: b.table_question_answering({"a": [float("inf")]}, "Which?"), "must be finite"),
    (lambda b: b.table_question_answering({"": ["1"]}, "Which?"), "headers must be non-empty"),
    (lambda b: b.table_question_answering({"a": ["x" * 100_001]}, "Which?"), "max_input_chars"),
    (lambda b: b.table_question_answering(TABLE, ""), "query is empty"),
    (lambda b: b.table_question_answering(TABLE, "Which?", padding="all"), "padding must be one of"),
    (lambda b: b.table_question_answering(TABLE, "Which?", sequential="no"), "must be a bool"),
    (lambda b: b.fill_mask("   "), "empty"),
    (lambda b: b.fill_mask("[MASK] and [MASK]"), "2 mask tokens"),
    (lambda b: b.fill_mask("<mask> is [MASK]"), "2 mask tokens"),
    (lambda b: b.fill_mask("It is <mask>.", targets="happy"), "labels must be a list"),
    (lambda b: b.fill_mask("It is <mask>.", targets=["happy", ""]), "must be a non-empty string"),
    (lambda b: b.fill_mask("It is <mask>.", top_k=0), "top_k must be at least 1"),
]


@pytest.mark.parametrize(("call", "message"), BAD, ids=[message for _, message in BAD])
def test_bad_input_is_refused_before_anything_is_sent(call: Call, message: str) -> None:
    pattern = re.escape(message)
    with RecordingServer(body=SUMMARY) as server, pytest.raises(InvalidInputError, match=pattern):
        call(hub(server))
    assert server.requests == []


# -------------------------------------------------------------------------------------------------------- cache
def test_results_are_cached_per_input_and_parameters() -> None:
    cache = MemoryCache()
    with RecordingServer(body=ANSWER) as server:
        backend = hub(server, cache=cache)
        first = backend.question_answering("What's my name?", CONTEXT)
        assert backend.question_answering("What's my name?", CONTEXT) == first
        backend.question_answering("What's my name?", CONTEXT, top_k=1)  # another parameter: another key
    assert len(server.requests) == 2
    with RecordingServer(body=TABLE_ANSWER) as server:
        backend = hub(server, cache=cache)
        assert backend.table_question_answering(TABLE, "Stars?") == backend.table_question_answering(TABLE, "Stars?")
        # The same columns in another order are another table: the answer's coordinates count columns.
        backend.table_question_answering({"Stars": TABLE["Stars"], "Repository": TABLE["Repository"]}, "Stars?")
    assert len(server.requests) == 2


# -------------------------------------------------------------------------------------------------- local backend
@pytest.mark.parametrize("name", list(CALLS))
def test_the_local_backend_names_a_hub_model_for_the_task(name: str, local_backend: LocalBackend) -> None:
    task = get_task(name)
    with pytest.raises(UnsupportedTaskError) as raised:
        CALLS[name](local_backend)  # type: ignore[arg-type]
    assert task.hub_model is not None and repr(task.hub_model) in str(raised.value)
    assert f"HubBackend(task_models={{{task.pipeline_tag!r}: " in str(raised.value)
