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

import httpx2
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
from hfbridge.tasks.language import (
    FillMaskRequest,
    QuestionAnsweringRequest,
    SummarizationRequest,
    TableQuestionAnsweringRequest,
    TranslationRequest,
)
from hfbridge.types import FillMaskPrediction, QuestionAnswer, Summary, TableAnswer, Translation

from ._http_double import RecordingServer, hub_clients_answered_by

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
    (lambda b: b.summarization("text", generate_parameters={"max_length": float("nan")}), "JSON cannot carry"),
    (lambda b: b.summarization("text", generate_parameters={1: 2}), "has a key that is not a str"),
    (lambda b: b.summarization("text", clean_up_tokenization_spaces="yes"), "must be True or False"),
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
    (lambda b: b.question_answering("Who?", CONTEXT, handle_impossible_answer=1), "must be True or False"),
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
    (lambda b: b.table_question_answering(TABLE, "Which?", sequential="no"), "must be True or False"),
    (lambda b: b.summarization("text", model=42), "model must be a str"),
    (lambda b: b.translation("text", model=" "), "model is empty"),
    (lambda b: b.question_answering("Who?", CONTEXT, model=["a"]), "model must be a str"),
    (lambda b: b.table_question_answering(TABLE, "Which?", model=""), "model is empty"),
    (lambda b: b.fill_mask("It is <mask>.", model=b"m"), "model must be a str"),
    (lambda b: b.fill_mask("It is <mask>.", model="org/a model"), "without spaces"),
    (lambda b: b.fill_mask("   "), "empty"),
    (lambda b: b.fill_mask("[MASK] and [MASK]"), "2 mask tokens"),
    (lambda b: b.fill_mask("<mask> is [MASK]"), "2 mask tokens"),
    (lambda b: b.fill_mask("It is <mask>.", targets="happy"), "targets must be a list of strings, got str"),
    (lambda b: b.fill_mask("It is <mask>.", targets=[]), "targets is empty"),
    (lambda b: b.fill_mask("It is <mask>.", targets=["happy", ""]), "targets[1] is empty"),
    (lambda b: b.fill_mask("It is <mask>.", targets=["happy", 3]), "targets[1] must be a str"),
    (lambda b: b.fill_mask("It is <mask>.", targets=["happy", "happy"]), "targets has duplicates"),
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


# ------------------------------------------------------------------------- protocol server: Serving.read / write
# A server routing by the registry reads the body the real client sent into the request, and writes the result
# as hf-inference does: the real client must read it back to the same result.
SENT: dict[str, tuple[Call, Any]] = {
    "summarization": (
        lambda b: b.summarization(ARTICLE, generate_parameters={"max_length": 30}, truncation="only_first"),
        SummarizationRequest(ARTICLE, generate_parameters={"max_length": 30}, truncation="only_first"),
    ),
    "translation": (
        lambda b: b.translation("Hello", src_lang="en_XX", tgt_lang="fr_XX", clean_up_tokenization_spaces=False),
        TranslationRequest("Hello", src_lang="en_XX", tgt_lang="fr_XX", clean_up_tokenization_spaces=False),
    ),
    "question_answering": (
        lambda b: b.question_answering("What's my name?", CONTEXT, top_k=2, doc_stride=0, align_to_words=True),
        QuestionAnsweringRequest("What's my name?", CONTEXT, top_k=2, doc_stride=0, align_to_words=True),
    ),
    "table_question_answering": (
        # to a Hub model the client repeats the model in the parameters; the reader drops it (the route names it)
        lambda b: b.table_question_answering({**TABLE, "Stars": [36542, 4512, 3934]}, "Stars?", padding="longest"),
        TableQuestionAnsweringRequest(TABLE, "Stars?", padding="longest"),
    ),
    "fill_mask": (
        lambda b: b.fill_mask("It is <mask>.", targets=["good", "bad"], top_k=2),
        FillMaskRequest("It is <mask>.", targets=["good", "bad"], top_k=2),
    ),
}


@pytest.mark.parametrize("name", list(SENT))
def test_the_server_reads_what_the_real_client_sends(name: str, path: str) -> None:
    call, expected = SENT[name]
    with RecordingServer(body=GOOD[name]) as server:
        call(hub(server))
    (request,) = server.requests
    serving = get_task(name).serving
    assert serving.read is not None
    assert serving.read(request.body, request.headers.get("content-type")) == expected


@pytest.mark.parametrize("name", list(GOOD))
@pytest.mark.parametrize("answers", [1, 2])
def test_what_the_server_writes_the_real_client_reads_back(name: str, answers: int, path: str) -> None:
    body = GOOD[name] if answers == 1 or name != "question_answering" else ANSWERS
    with RecordingServer(body=body) as server:
        result = CALLS[name](hub(server))
    serving = get_task(name).serving
    assert serving.write is not None
    payload, content_type = serving.write(result)
    assert content_type == "application/json"
    assert json.loads(payload) == (body if name != "question_answering" or answers == 2 else ANSWER)
    with RecordingServer(body=payload) as server:
        assert CALLS[name](hub(server)) == result


def test_a_table_answer_without_an_aggregator_is_written_without_one() -> None:
    answer = {key: value for key, value in TABLE_ANSWER.items() if key != "aggregator"}
    with RecordingServer(body=answer) as server:
        result = CALLS["table_question_answering"](hub(server))
    assert result.aggregator is None
    write = get_task("table_question_answering").serving.write
    assert write is not None and json.loads(write(result)[0]) == answer


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("summarization", b"<html>", "not valid JSON"),
    ("summarization", b"[1, 2]", "must be a JSON object, got list"),
    ("summarization", b'{"inputs": "x", "parameters": [1]}', "parameters must be a JSON object"),
    ("summarization", b'{"inputs": "x", "parameters": {"max_length": 3}}', "unknown parameter(s) max_length"),
    ("summarization", b'{"inputs": "x", "options": {}}', "unknown top-level field(s) options"),
    ("question_answering", b'{"inputs": "What?"}', "inputs must be an object with exactly question, context"),
    ("question_answering", b'{"inputs": {"question": "What?"}}', "exactly question, context"),
    ("fill_mask", b'{"inputs": "It is <mask>.", "parameters": {"model": "x"}}', "unknown parameter(s) model"),
]


@pytest.mark.parametrize(("name", "body", "message"), BAD_BODIES, ids=[message for *_, message in BAD_BODIES])
def test_the_server_refuses_a_body_it_cannot_read(name: str, body: bytes, message: str) -> None:
    read = get_task(name).serving.read
    assert read is not None
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        read(body, "application/json")


# ------------------------------------------------------------------------------- a Hub model on hf-inference
# router.huggingface.co and the Hub's model API are out of reach: the real client's HTTP is answered at its
# transport (huggingface_hub's set_client_factory hook), as tests/test_wire.py does for chat and embeddings.
MODEL_OF = {name: f"hfbridge-wire/{name.replace('_', '-')}" for name in CALLS}


class HubWire:
    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if request.method == "GET" and path.startswith("/api/models/"):
            model = path.removeprefix("/api/models/")
            name = next(name for name, id_ in MODEL_OF.items() if id_ == model)
            tag = get_task(name).pipeline_tag
            mapping = {"hf-inference": {"status": "live", "providerId": model, "task": tag}}
            return httpx2.Response(200, json={"id": model, "pipeline_tag": tag, "inferenceProviderMapping": mapping})
        self.requests.append(request)
        name = next(name for name, model in MODEL_OF.items() if path.endswith(f"/models/{model}"))
        return httpx2.Response(200, json=GOOD[name])


@pytest.fixture
def hub_wire() -> Iterator[HubWire]:
    handler = HubWire()
    with hub_clients_answered_by(handler):
        yield handler


@pytest.mark.parametrize("name", list(SENT))
def test_a_hub_model_gets_the_request_the_clients_own_method_sends(
    name: str, hub_wire: HubWire, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = get_task(name).pipeline_tag
    backend = HubBackend(provider="hf-inference", token="hf_" + "w" * 34, task_models={tag: MODEL_OF[name]},
                         retry=RetryPolicy(max_attempts=1, deadline=None))  # fmt: skip
    call = SENT[name][0]
    fast = call(backend)
    monkeypatch.setattr(_wire, "FAST_PATH", False)
    public = call(backend)
    assert fast == public
    ours, theirs = hub_wire.requests
    assert str(ours.url) == str(theirs.url) == f"https://router.huggingface.co/hf-inference/models/{MODEL_OF[name]}"
    assert json.loads(ours.content) == json.loads(theirs.content)
    assert dict(ours.headers) == dict(theirs.headers)
    if name == "table_question_answering":  # the client names the model in the parameters as well
        assert json.loads(ours.content)["parameters"]["model"] == MODEL_OF[name]
    read = get_task(name).serving.read
    assert read is not None and read(ours.content, ours.headers.get("content-type")) == SENT[name][1]


async def test_async_twins_on_a_hub_model_send_what_the_async_client_sends(
    hub_wire: HubWire, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = HubBackend(provider="hf-inference", token="hf_" + "w" * 34, task_models={
        "table-question-answering": MODEL_OF["table_question_answering"], "fill-mask": MODEL_OF["fill_mask"]},
        retry=RetryPolicy(max_attempts=1, deadline=None))  # fmt: skip
    results = []
    for fast in (True, False):
        monkeypatch.setattr(_wire, "FAST_PATH", fast)
        results.append((await backend.atable_question_answering(TABLE, "Stars?"),
                        await backend.afill_mask("It is <mask>.", top_k=2)))  # fmt: skip
    await backend.aclose()
    assert results[0] == results[1]
    assert results[0][0].cells == ["36542"] and [p.token for p in results[0][1]] == [11098, 45075]
    ours_table, ours_fill, theirs_table, theirs_fill = hub_wire.requests
    for ours, theirs in ((ours_table, theirs_table), (ours_fill, theirs_fill)):
        assert str(ours.url) == str(theirs.url)
        assert json.loads(ours.content) == json.loads(theirs.content)
        assert dict(ours.headers) == dict(theirs.headers)


# ------------------------------------------------------------------------------------------ through hfbridge serve
@pytest.mark.parametrize("name", list(SENT))
def test_hfbridge_serve_passes_each_task_through_to_a_hub_backend(name: str) -> None:
    from hfbridge.server import ServerThread, create_app

    tag = get_task(name).pipeline_tag
    call = SENT[name][0]
    with RecordingServer(body=GOOD[name]) as upstream:
        direct = call(hub(upstream))
        app = create_app(hub(upstream), model_tasks=[("org/model", tag)])
        with ServerThread(app) as server:
            client = HubBackend(base_url=f"{server.url}/models/org/model", retry=RetryPolicy(max_attempts=1))
            served = call(client)
    assert served == direct
    # the server read the client's body into the same request, and sent upstream what the client sent it
    first, second = upstream.requests
    assert json.loads(first.body) == json.loads(second.body)


def test_hfbridge_serve_over_the_local_backend_answers_501_unsupported(local_backend: LocalBackend) -> None:
    from hfbridge.server import ServerThread, create_app

    with ServerThread(create_app(local_backend, model_tasks=[("org/qa", "question-answering")])) as server:
        client = HubBackend(base_url=f"{server.url}/models/org/qa",
                            retry=RetryPolicy(max_attempts=3, base_delay=0.01))  # fmt: skip
        with pytest.raises(UnsupportedTaskError, match="question-answering"):
            client.question_answering("What's my name?", CONTEXT)
# ------------------------------------------------------------------------------------------------ agent tools
TOOL_CALLS: dict[str, dict[str, Any]] = {
    "summarization": {"text": ARTICLE},
    "translation": {"text": "My name is Wolfgang and I live in Berlin"},
    "question_answering": {"question": "What's my name?", "context": CONTEXT},
    "table_question_answering": {"query": "How many stars has Transformers?", "table": TABLE},
    "fill_mask": {"text": "The goal of life is <mask>."},
}


@pytest.mark.parametrize("name", list(TOOL_CALLS))
def test_each_task_is_a_langchain_and_a_llamaindex_tool(name: str) -> None:
    from hfbridge.langchain import hf_tools
    from hfbridge.llama_index import HFToolSpec

    with RecordingServer(body=GOOD[name]) as server:
        (lc_tool,) = hf_tools(include=[name], base_url=server.url, max_retries=0)
        (li_tool,) = HFToolSpec(include=[name], base_url=server.url, max_retries=0).to_tool_list()
        lc_output = lc_tool.invoke(TOOL_CALLS[name])
        li_output = li_tool.call(**TOOL_CALLS[name])
        result = getattr(hub(server), name)(**TOOL_CALLS[name])
    assert lc_tool.name == li_tool.metadata.name == name
    assert not li_output.is_error
    plain = [item.model_dump() for item in result] if isinstance(result, list) else result.model_dump()
    assert json.loads(lc_output) == json.loads(li_output.content) == json.loads(json.dumps(plain))
    lc_sent, li_sent, method_sent = (json.loads(request.body) for request in server.requests)
    assert lc_sent == li_sent == method_sent
