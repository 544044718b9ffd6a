"""Text tasks that hf-inference answers with a transformers pipeline: summarization, translation, question
answering, table question answering, fill-mask.

Wire shapes, checked against huggingface_hub 2.4: the request is what ``InferenceClient.<task>`` hands its
hf-inference provider helper (``inference/_client.py``; the helper sends ``{"inputs": ..., "parameters": {...}}``
to ``/models/{id}``, ``inference/_providers/hf_inference.py``), the answer the generated output types
(``inference/_generated/types/<task>.py``), which are what the transformers pipelines behind hf-inference return:

=========================  =====================================================================================
summarization              ``[{"summary_text": str}]``
translation                ``[{"translation_text": str}]``
question-answering         ``{"answer": str, "score": float, "start": int, "end": int}``; a list of those when
                           ``top_k`` > 1 finds several
table-question-answering   ``{"answer": str, "coordinates": [[row, col], ...], "cells": [str], "aggregator": str}``
fill-mask                  ``[{"score": float, "token": int, "token_str": str, "sequence": str}, ...]``
=========================  =====================================================================================

Calls go through :func:`hfbridge.backends._wire.post` (the client's own provider helper and ``_inner_post``, its
public method when the internals moved) so the parsers here read the raw JSON and are strict: an answer of the
wrong shape or types — ``{"error": ...}`` with status 200 included — is an :class:`~hfbridge.errors.APIError`,
never a result with empty fields. No model for these tasks ships on PyPI: the local backend raises
:class:`~hfbridge.errors.UnsupportedTaskError` naming ``hub_model``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from pydantic import BaseModel, Field

from .. import _validation as check
from ..backends import _wire
from ..errors import APIError, InvalidInputError
from ..types import FillMaskPrediction, QuestionAnswer, Results, Summary, TableAnswer, Translation
from ._parse import refuse_error_body
from ._spec import CacheCodec, HubCall, Limits, Serving, Task, ToolInfo
from .text import TextInput

__all__ = [
    "SUMMARIZATION", "TRANSLATION", "QUESTION_ANSWERING", "TABLE_QUESTION_ANSWERING", "FILL_MASK",
    "SummarizationRequest", "TranslationRequest", "QuestionAnsweringRequest", "TableQuestionAnsweringRequest",
    "FillMaskRequest",
]  # fmt: skip

#: huggingface_hub's ``SummarizationTruncationStrategy`` / ``TranslationTruncationStrategy``.
TRUNCATION_STRATEGIES = ("do_not_truncate", "longest_first", "only_first", "only_second")
#: huggingface_hub's ``Padding`` (table question answering).
PADDING_STRATEGIES = ("do_not_pad", "longest", "max_length")
#: The mask tokens of BERT-style and RoBERTa-style models; a text with two of them asks for two fills.
MASK_TOKENS = ("[MASK]", "<mask>")


# ============================================================================================ validation helpers
def _optional_json(value: Any, name: str) -> dict[str, Any] | None:
    return None if value is None else check.check_json_object(value, name)


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str | None:
    if value is not None and value not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _language(value: Any, name: str) -> str | None:
    if value is None:
        return None
    return check.check_string(value, name).strip()


def _unexpected(task: str, raw: Any, why: str) -> APIError:
    text = repr(raw)
    return APIError(f"unexpected {task} answer from the server ({why}): {text[:200]}{'...' if len(text) > 200 else ''}")


def _record(task: str, raw: Any, item: Any, fields: dict[str, type]) -> dict[str, Any]:
    """``item``'s ``fields``, each of its type (``float`` takes a finite int or float; ``bool`` is no number)."""
    if not isinstance(item, Mapping):
        raise _unexpected(task, raw, f"expected an object, got {type(item).__name__}")
    values: dict[str, Any] = {}
    for key, kind in fields.items():
        value = item.get(key)
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            raise _unexpected(task, raw, f"{key!r} must be {kind.__name__}, got {type(value).__name__}")
        values[key] = float(value) if kind is float and value is not None else value
    return values


def _single(task: str, raw: Any, key: str) -> str:
    """The one ``[{key: str}]`` answer of a generation pipeline (summarization, translation)."""
    refuse_error_body(raw)
    if not isinstance(raw, list) or len(raw) != 1:
        got = f"a list of {len(raw)}" if isinstance(raw, list) else type(raw).__name__
        raise _unexpected(task, raw, f"expected a list of one result, got {got}")
    text: str = _record(task, raw, raw[0], {key: str})[key]
    return text


# ============================================================================================ protocol server
# ``Serving.read`` / ``Serving.write``: the hf-inference request body as InferenceClient sends it, and the answer it
# reads. Request fields carry the hf-inference parameter names, so one reader serves the five tasks.
def _reader(
    request: type, inputs: tuple[str, ...], ignored: tuple[str, ...] = ()
) -> Callable[[bytes, str | None], Any]:
    """``{"inputs": <str> | {name: value}, "parameters": {...}}`` -> the request (validated later, by the backend).
    ``ignored`` parameters are accepted and dropped (table QA's client repeats the model there)."""
    options = {f.name for f in fields(request)} - set(inputs) - {"model"}

    def read(body: bytes, content_type: str | None) -> Any:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InvalidInputError("the body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise InvalidInputError(f"the body must be a JSON object, got {type(payload).__name__}")
        if unknown := sorted(set(payload) - {"inputs", "parameters"}):
            raise InvalidInputError(f"unknown top-level field(s) {', '.join(unknown)}; send inputs and parameters")
        raw = payload.get("inputs")
        if len(inputs) == 1:
            values = {inputs[0]: raw}
        elif not isinstance(raw, dict) or sorted(raw) != sorted(inputs):
            raise InvalidInputError(f"inputs must be an object with exactly {', '.join(inputs)}")
        else:
            values = {name: raw[name] for name in inputs}
        parameters = payload.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise InvalidInputError(f"parameters must be a JSON object, got {type(parameters).__name__}")
        parameters = {key: value for key, value in parameters.items() if key not in ignored}
        if unknown := sorted(set(parameters) - options):
            raise InvalidInputError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(options))}")
        return request(**values, **parameters)

    return read


def _json(value: Any) -> tuple[bytes, str]:
    return json.dumps(value).encode(), "application/json"


def _write_answers(result: Sequence[QuestionAnswer]) -> tuple[bytes, str]:
    answers = [answer.model_dump() for answer in result]
    return _json(answers[0] if len(answers) == 1 else answers)  # the pipeline sends one answer as an object


def _write_table_answer(result: TableAnswer) -> tuple[bytes, str]:
    answer = result.model_dump(mode="json", exclude={"aggregator"} if result.aggregator is None else set())
    return _json(answer)


# ================================================================================================= summarization
@dataclass(slots=True)
class SummarizationRequest:
    text: str
    model: str | None = None
    generate_parameters: dict[str, Any] | None = None
    truncation: str | None = None
    clean_up_tokenization_spaces: bool | None = None


def _validate_summarization(request: SummarizationRequest, limits: Limits) -> SummarizationRequest:
    request.model = check.check_model(request.model)
    check.check_text(request.text, max_chars=limits.max_input_chars)
    request.generate_parameters = _optional_json(request.generate_parameters, "generate_parameters")
    _choice(request.truncation, "truncation", TRUNCATION_STRATEGIES)
    check.optional_bool(request.clean_up_tokenization_spaces, "clean_up_tokenization_spaces")
    return request


def _summarize(client: Any, request: SummarizationRequest, target: Any) -> Any:
    model = target.task_model(request.model, "summarization")
    parameters = {
        "clean_up_tokenization_spaces": request.clean_up_tokenization_spaces,
        "generate_parameters": request.generate_parameters,
        "truncation": request.truncation,
    }
    return _wire.post(
        client, "summarization", request.text, parameters, model=model,
        public=lambda: client.summarization(request.text, model=model, **parameters),
        public_shape=lambda output: [output],
    )  # fmt: skip


class SummarizationInput(TextInput):
    text: str = Field(min_length=1, description="The text to summarize.")


SUMMARIZATION: Task[SummarizationRequest, Summary] = Task(
    name="summarization",
    pipeline_tag="summarization",
    request=SummarizationRequest,
    result="Summary",
    doc="""A summary of ``text`` (``result.summary_text``), by a sequence-to-sequence model.

        ``generate_parameters`` go to the model's generation (``{"max_length": 60, "min_length": 10}``...);
        ``truncation`` is one of ``do_not_truncate``, ``longest_first``, ``only_first``, ``only_second``.
        """,
    validate=_validate_summarization,
    hub=HubCall(send=_summarize, parse=lambda raw, request: Summary(summary_text=_single("summarization", raw,
                                                                                           "summary_text"))),
    hub_model="facebook/bart-large-cnn",
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "generate": r.generate_parameters, "truncation": r.truncation,
                          "clean_up": r.clean_up_tokenization_spaces},
        dump=lambda result: result.model_dump(),
        load=lambda raw: Summary.model_validate(raw, strict=True),
    ),
    serving=Serving(
        aliases=("summarize",),
        read=_reader(SummarizationRequest, ("text",)),
        write=lambda result: _json([{"summary_text": result.summary_text}]),
    ),
    tool=ToolInfo(
        name="summarization",
        description="Summarize a text. Input: the text. Output: the summary.",
        args=SummarizationInput,
        example={"text": "The tower is 324 metres tall, about the same height as an 81-storey building, and the "
                 "tallest structure in Paris. Its base is square, measuring 125 metres on each side."},
    ),
)  # fmt: skip


# =================================================================================================== translation
@dataclass(slots=True)
class TranslationRequest:
    text: str
    model: str | None = None
    src_lang: str | None = None
    tgt_lang: str | None = None
    generate_parameters: dict[str, Any] | None = None
    truncation: str | None = None
    clean_up_tokenization_spaces: bool | None = None


def _validate_translation(request: TranslationRequest, limits: Limits) -> TranslationRequest:
    request.model = check.check_model(request.model)
    check.check_text(request.text, max_chars=limits.max_input_chars)
    request.src_lang = _language(request.src_lang, "src_lang")
    request.tgt_lang = _language(request.tgt_lang, "tgt_lang")
    if (request.src_lang is None) != (request.tgt_lang is None):
        given, missing = ("src_lang", "tgt_lang") if request.tgt_lang is None else ("tgt_lang", "src_lang")
        raise InvalidInputError(f"{given} is given without {missing}: a multilingual model needs both (or neither)")
    request.generate_parameters = _optional_json(request.generate_parameters, "generate_parameters")
    _choice(request.truncation, "truncation", TRUNCATION_STRATEGIES)
    check.optional_bool(request.clean_up_tokenization_spaces, "clean_up_tokenization_spaces")
    return request


def _translate(client: Any, request: TranslationRequest, target: Any) -> Any:
    model = target.task_model(request.model, "translation")
    parameters = {
        "src_lang": request.src_lang,
        "tgt_lang": request.tgt_lang,
        "clean_up_tokenization_spaces": request.clean_up_tokenization_spaces,
        "truncation": request.truncation,
        "generate_parameters": request.generate_parameters,
    }
    return _wire.post(
        client, "translation", request.text, parameters, model=model,
        public=lambda: client.translation(request.text, model=model, **parameters),
        public_shape=lambda output: [output],
    )  # fmt: skip


class TranslationInput(TextInput):
    text: str = Field(min_length=1, description="The text to translate.")
    src_lang: str | None = Field(
        default=None, description="Source language code, only for multilingual models (e.g. 'en_XX'); with tgt_lang."
    )
    tgt_lang: str | None = Field(
        default=None, description="Target language code, only for multilingual models (e.g. 'fr_XX'); with src_lang."
    )


TRANSLATION: Task[TranslationRequest, Translation] = Task(
    name="translation",
    pipeline_tag="translation",
    request=TranslationRequest,
    result="Translation",
    doc="""``text`` translated (``result.translation_text``).

        A model for one language pair (``Helsinki-NLP/opus-mt-en-fr``) needs no languages; a multilingual one takes
        ``src_lang`` and ``tgt_lang`` in its own codes (``en_XX``/``fr_XX`` for mBART-50), both or neither.
        ``generate_parameters`` and ``truncation`` as for :meth:`summarization`.
        """,
    validate=_validate_translation,
    hub=HubCall(send=_translate, parse=lambda raw, request: Translation(translation_text=_single("translation", raw,
                                                                                                   "translation_text"))),
    hub_model="Helsinki-NLP/opus-mt-en-fr",
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "src": r.src_lang, "tgt": r.tgt_lang, "generate": r.generate_parameters,
                          "truncation": r.truncation, "clean_up": r.clean_up_tokenization_spaces},
        dump=lambda result: result.model_dump(),
        load=lambda raw: Translation.model_validate(raw, strict=True),
    ),
    serving=Serving(
        aliases=("translate",),
        read=_reader(TranslationRequest, ("text",)),
        write=lambda result: _json([{"translation_text": result.translation_text}]),
    ),
    tool=ToolInfo(
        name="translation",
        description="Translate a text with the configured translation model. Input: the text (and, for "
        "multilingual models, src_lang and tgt_lang codes). Output: the translation.",
        args=TranslationInput,
        example={"text": "My name is Wolfgang and I live in Berlin."},
    ),
)  # fmt: skip


# ============================================================================================ question answering
@dataclass(slots=True)
class QuestionAnsweringRequest:
    question: str
    context: str
    model: str | None = None
    top_k: int | None = None
    max_answer_len: int | None = None
    max_question_len: int | None = None
    max_seq_len: int | None = None
    doc_stride: int | None = None
    handle_impossible_answer: bool | None = None
    align_to_words: bool | None = None


def _validate_question_answering(request: QuestionAnsweringRequest, limits: Limits) -> QuestionAnsweringRequest:
    request.model = check.check_model(request.model)
    check.check_text(request.question, "question", max_chars=limits.max_input_chars)
    check.check_text(request.context, "context", max_chars=limits.max_input_chars)
    for name in ("top_k", "max_answer_len", "max_question_len", "max_seq_len"):
        check.optional_int(getattr(request, name), name, minimum=1)
    check.optional_int(request.doc_stride, "doc_stride", minimum=0)
    check.optional_bool(request.handle_impossible_answer, "handle_impossible_answer")
    check.optional_bool(request.align_to_words, "align_to_words")
    return request


def _answer_question(client: Any, request: QuestionAnsweringRequest, target: Any) -> Any:
    model = target.task_model(request.model, "question-answering")
    parameters = {
        "align_to_words": request.align_to_words,
        "doc_stride": request.doc_stride,
        "handle_impossible_answer": request.handle_impossible_answer,
        "max_answer_len": request.max_answer_len,
        "max_question_len": request.max_question_len,
        "max_seq_len": request.max_seq_len,
        "top_k": request.top_k,
    }
    return _wire.post(
        client, "question-answering", {"question": request.question, "context": request.context}, parameters,
        model=model, public=lambda: client.question_answering(request.question, request.context, model=model,
                                                              **parameters),
    )  # fmt: skip


_ANSWER = {"answer": str, "score": float, "start": int, "end": int}


def parse_answers(raw: Any, request: QuestionAnsweringRequest) -> Results[QuestionAnswer]:
    refuse_error_body(raw)
    items = raw if isinstance(raw, list) else [raw]  # one answer is sent as an object, several as a list
    if not items:
        raise _unexpected("question-answering", raw, "no answer")
    answers = []
    for item in items:
        values = _record("question-answering", raw, item, _ANSWER)
        if not 0 <= values["start"] <= values["end"] <= len(request.context):
            raise _unexpected("question-answering", raw, "the answer's offsets are outside the context")
        answers.append(QuestionAnswer(**values))
    return Results(sorted(answers, key=lambda answer: answer.score, reverse=True))


def _load_rows(model: type[BaseModel]) -> Any:
    def load(raw: Any) -> Results[Any]:
        if not isinstance(raw, list):
            raise TypeError(f"a cached result must be a list, got {type(raw).__name__}")
        return Results(model.model_validate(item, strict=True) for item in raw)

    return load


def _dump_rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [row.model_dump() for row in rows]


class QuestionAnsweringInput(BaseModel):
    question: str = Field(min_length=1, description="The question.")
    context: str = Field(min_length=1, description="The text that holds the answer.")


QUESTION_ANSWERING: Task[QuestionAnsweringRequest, Results[QuestionAnswer]] = Task(
    name="question_answering",
    pipeline_tag="question-answering",
    request=QuestionAnsweringRequest,
    result="Results[QuestionAnswer]",
    doc="""Answers to ``question`` found in ``context``, best first: ``context[a.start:a.end] == a.answer``.

        One answer unless ``top_k`` asks for more (fewer come back when the context has fewer). With
        ``handle_impossible_answer`` the model may answer ``""`` when the context holds no answer.
        """,
    inputs=2,
    validate=_validate_question_answering,
    hub=HubCall(send=_answer_question, parse=parse_answers),
    hub_model="deepset/roberta-base-squad2",
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "top_k": r.top_k, "max_answer_len": r.max_answer_len,
                          "max_question_len": r.max_question_len, "max_seq_len": r.max_seq_len,
                          "doc_stride": r.doc_stride, "impossible": r.handle_impossible_answer,
                          "align": r.align_to_words},
        value=lambda r: [r.question, r.context],
        dump=_dump_rows,
        load=_load_rows(QuestionAnswer),
    ),
    serving=Serving(
        aliases=("qa",), read=_reader(QuestionAnsweringRequest, ("question", "context")), write=_write_answers
    ),
    tool=ToolInfo(
        name="question_answering",
        description="Find the answer to a question in a given text (extractive: the answer is a span of the "
        "text). Input: question and context. Output: JSON list of {answer, score, start, end}, best first.",
        args=QuestionAnsweringInput,
        example={"question": "What is my name?", "context": "My name is Clara and I live in Berkeley."},
    ),
)  # fmt: skip


# ====================================================================================== table question answering
@dataclass(slots=True)
class TableQuestionAnsweringRequest:
    table: Mapping[str, Sequence[str]]
    query: str
    model: str | None = None
    padding: str | None = None
    sequential: bool | None = None
    truncation: bool | None = None


def _check_table(table: Any, max_chars: int) -> dict[str, list[str]]:
    """A table as a dict of columns: header -> cells, every column as long, at least one row. Numbers in cells are
    sent as text (the table models read every cell as a string)."""
    if not isinstance(table, Mapping):
        raise InvalidInputError(
            f"table must be a dict of columns (header -> list of cells), got {type(table).__name__}"
        )
    if not table:
        raise InvalidInputError("table is empty; pass at least one column")
    columns: dict[str, list[str]] = {}
    rows: int | None = None
    chars = 0
    for header, cells in table.items():
        if not isinstance(header, str) or not header.strip():
            raise InvalidInputError(f"table headers must be non-empty strings, got {header!r}")
        if isinstance(cells, (str, bytes)) or not isinstance(cells, Sequence):
            raise InvalidInputError(f"table[{header!r}] must be a list of cells, got {type(cells).__name__}")
        column = []
        for index, cell in enumerate(cells):
            if isinstance(cell, bool) or not isinstance(cell, (str, int, float)):
                raise InvalidInputError(f"table[{header!r}][{index}] must be a str (or a number), got "
                                        f"{type(cell).__name__}")  # fmt: skip
            if isinstance(cell, float) and not math.isfinite(cell):
                raise InvalidInputError(f"table[{header!r}][{index}] is {cell}; cells must be finite")
            column.append(cell if isinstance(cell, str) else str(cell))
        if rows is None:
            rows = len(column)
        elif len(column) != rows:
            raise InvalidInputError(f"table columns must be equally long: table[{header!r}] has {len(column)} cells, "
                                    f"the first column {rows}")  # fmt: skip
        chars += len(header) + sum(len(cell) for cell in column)
        columns[header] = column
    if not rows:
        raise InvalidInputError("table has no rows; pass at least one cell per column")
    if chars > max_chars:
        raise InvalidInputError(f"table has {chars:,} characters, more than max_input_chars={max_chars:,}")
    return columns


def _validate_table_question_answering(
    request: TableQuestionAnsweringRequest, limits: Limits
) -> TableQuestionAnsweringRequest:
    request.model = check.check_model(request.model)
    request.table = _check_table(request.table, limits.max_input_chars)
    check.check_text(request.query, "query", max_chars=limits.max_input_chars)
    _choice(request.padding, "padding", PADDING_STRATEGIES)
    check.optional_bool(request.sequential, "sequential")
    check.optional_bool(request.truncation, "truncation")
    return request


def _answer_table(client: Any, request: TableQuestionAnsweringRequest, target: Any) -> Any:
    model = target.task_model(request.model, "table-question-answering")
    options = {"padding": request.padding, "sequential": request.sequential, "truncation": request.truncation}
    table = dict(request.table)
    return _wire.post(
        client, "table-question-answering", {"query": request.query, "table": table},
        # As the client does: it also puts the model into the parameters.
        {"model": model, **options}, model=model,
        public=lambda: client.table_question_answering(table, request.query, model=model, **options),
    )  # fmt: skip


def parse_table_answer(raw: Any, request: TableQuestionAnsweringRequest) -> TableAnswer:
    task = "table-question-answering"
    refuse_error_body(raw)
    values = _record(task, raw, raw, {"answer": str, "coordinates": list, "cells": list})
    aggregator = raw.get("aggregator")
    if aggregator is not None and not isinstance(aggregator, str):
        raise _unexpected(task, raw, f"'aggregator' must be str, got {type(aggregator).__name__}")
    rows = len(next(iter(request.table.values())))
    columns = len(request.table)
    coordinates = []
    for pair in values["coordinates"]:
        if (
            not isinstance(pair, list) or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
            or not (0 <= pair[0] < rows and 0 <= pair[1] < columns)
        ):  # fmt: skip
            raise _unexpected(task, raw, f"coordinate {pair!r} is not a (row, column) of the table")
        coordinates.append((pair[0], pair[1]))
    if not all(isinstance(cell, str) for cell in values["cells"]):
        raise _unexpected(task, raw, "'cells' must be a list of str")
    return TableAnswer(answer=values["answer"], coordinates=coordinates, cells=values["cells"], aggregator=aggregator)


class TableQuestionAnsweringInput(BaseModel):
    query: str = Field(min_length=1, description="The question about the table.")
    table: dict[str, list[str]] = Field(
        description="The table as columns: each header maps to its list of cells (all columns equally long)."
    )


TABLE_QUESTION_ANSWERING: Task[TableQuestionAnsweringRequest, TableAnswer] = Task(
    name="table_question_answering",
    pipeline_tag="table-question-answering",
    request=TableQuestionAnsweringRequest,
    result="TableAnswer",
    doc="""The answer to ``query`` found in ``table`` (a dict of columns: header -> cells, all equally long).

        ``result.cells`` are the cells the answer comes from, ``result.coordinates`` their ``(row, column)``,
        ``result.aggregator`` what the model did with them (``"SUM"``, ``"COUNT"``, ``"AVERAGE"``, ``"NONE"``).
        Numbers in cells are sent as text.
        """,
    inputs=2,
    validate=_validate_table_question_answering,
    hub=HubCall(send=_answer_table, parse=parse_table_answer),
    hub_model="google/tapas-base-finetuned-wtq",
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "padding": r.padding, "sequential": r.sequential,
                          "truncation": r.truncation},
        # Columns in their order (the answer's coordinates count them), not a dict the key would sort.
        value=lambda r: [[[header, cells] for header, cells in r.table.items()], r.query],
        dump=lambda result: result.model_dump(mode="json"),
        load=lambda raw: TableAnswer.model_validate(raw),
    ),
    serving=Serving(
        aliases=("table_qa",),
        read=_reader(TableQuestionAnsweringRequest, ("table", "query"), ignored=("model",)),
        write=_write_table_answer,
    ),
    tool=ToolInfo(
        name="table_question_answering",
        description="Answer a question about a table (lookups, counts, sums, averages). Input: query and table "
        "(columns: header -> list of cells). Output: JSON {answer, cells, coordinates, aggregator}.",
        args=TableQuestionAnsweringInput,
        example={"query": "How many stars does Transformers have?",
                 "table": {"Repository": ["Transformers", "Datasets"], "Stars": ["36542", "4512"]}},
    ),
)  # fmt: skip


# ===================================================================================================== fill-mask
@dataclass(slots=True)
class FillMaskRequest:
    text: str
    model: str | None = None
    targets: Sequence[str] | None = None
    top_k: int | None = None


def _targets(value: Any, max_targets: int) -> list[str] | None:
    """The words fill-mask may choose from: a non-empty list of distinct non-blank strings, or None."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError(f"targets must be a list of strings, got {type(value).__name__}")
    if not value:
        raise InvalidInputError("targets is empty; pass at least one word, or None for any word")
    if len(value) > max_targets:
        raise InvalidInputError(f"{len(value):,} targets given; at most {max_targets} are allowed per call")
    for index, word in enumerate(value):
        check.check_string(word, f"targets[{index}]")
    if len(set(value)) != len(value):
        raise InvalidInputError("targets has duplicates; each word once")
    return list(value)


def _validate_fill_mask(request: FillMaskRequest, limits: Limits) -> FillMaskRequest:
    request.model = check.check_model(request.model)
    check.check_text(request.text, max_chars=limits.max_input_chars)
    masks = sum(request.text.count(token) for token in MASK_TOKENS)
    if masks > 1:
        raise InvalidInputError(f"text has {masks} mask tokens; fill_mask fills one mask per call")
    request.targets = _targets(request.targets, limits.max_labels)
    check.optional_int(request.top_k, "top_k", minimum=1)
    return request


def _fill_mask(client: Any, request: FillMaskRequest, target: Any) -> Any:
    model = target.task_model(request.model, "fill-mask")
    targets = list(request.targets) if request.targets is not None else None
    parameters = {"targets": targets, "top_k": request.top_k}
    return _wire.post(
        client, "fill-mask", request.text, parameters, model=model,
        public=lambda: client.fill_mask(request.text, model=model, **parameters),
    )  # fmt: skip


_PREDICTION = {"sequence": str, "score": float, "token": int, "token_str": str}


def parse_predictions(raw: Any, request: FillMaskRequest) -> Results[FillMaskPrediction]:
    refuse_error_body(raw)
    if not isinstance(raw, list) or not raw:
        raise _unexpected("fill-mask", raw, "expected a non-empty list of predictions")
    if any(isinstance(item, list) for item in raw):
        # The pipeline answers one list per mask token: the text had several (in a token fill_mask cannot see).
        raise InvalidInputError(f"text has {len(raw)} mask tokens for this model; fill_mask fills one mask per call")
    predictions = [FillMaskPrediction(**_record("fill-mask", raw, item, _PREDICTION)) for item in raw]
    return Results(sorted(predictions, key=lambda prediction: prediction.score, reverse=True))


class FillMaskInput(BaseModel):
    text: str = Field(
        min_length=1,
        description="The text with exactly one mask token where the missing word goes: [MASK] for BERT-style "
        "models, <mask> for RoBERTa-style models.",
    )


FILL_MASK: Task[FillMaskRequest, Results[FillMaskPrediction]] = Task(
    name="fill_mask",
    pipeline_tag="fill-mask",
    request=FillMaskRequest,
    result="Results[FillMaskPrediction]",
    doc="""Candidates for the one mask token in ``text`` (``[MASK]`` for BERT-style models, ``<mask>`` for
        RoBERTa-style ones), best first; ``prediction.sequence`` is the text filled in.

        ``targets`` limits the candidates to these words; ``top_k`` sets how many come back (the model's default:
        5). A text with more than one mask token is refused.
        """,
    validate=_validate_fill_mask,
    hub=HubCall(send=_fill_mask, parse=parse_predictions),
    hub_model="google-bert/bert-base-uncased",
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "targets": r.targets, "top_k": r.top_k},
        dump=_dump_rows,
        load=_load_rows(FillMaskPrediction),
    ),
    serving=Serving(
        read=_reader(FillMaskRequest, ("text",)),
        write=lambda result: _json([prediction.model_dump() for prediction in result]),
    ),
    tool=ToolInfo(
        name="fill_mask",
        description="Guess the missing word of a text: the text has one mask token ([MASK] or <mask>) where the "
        "word goes. Output: JSON list of {token_str, sequence, score}, best first.",
        args=FillMaskInput,
        example={"text": "The goal of life is <mask>."},
    ),
)  # fmt: skip
