"""The task registry: one declaration per task, and the backends' public methods generated from it."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from hfbridge import Backend, HubBackend, LocalBackend, UnsupportedTaskError
from hfbridge.backends.transport import InProcessTransport
from hfbridge.tasks import TASKS, TEXT_CLASSIFICATION, TextClassificationRequest, get_task
from hfbridge.tasks._codegen import TARGET, render
from hfbridge.types import ClassificationLabel, Results, response_meta


def test_generated_methods_are_current() -> None:
    # Fails after a task declaration changed without `python -m hfbridge.tasks._codegen`.
    assert TARGET.read_text() == render()


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_every_task_has_typed_documented_sync_and_async_methods(task: Any) -> None:
    fields = [field.name for field in dataclasses.fields(task.request)]
    names = [task.name, f"a{task.name}"] + ([task.stream.method, f"a{task.stream.method}"] if task.stream else [])
    for name in names:
        method = getattr(Backend, name)
        signature = inspect.signature(method)
        assert list(signature.parameters)[1:] == fields, name
        assert signature.return_annotation != inspect.Signature.empty
        assert method.__doc__ and method.__doc__.strip(), name
    assert inspect.iscoroutinefunction(getattr(Backend, f"a{task.name}"))
    keyword_only = [p.name for p in inspect.signature(getattr(Backend, task.name)).parameters.values()
                    if p.kind is inspect.Parameter.KEYWORD_ONLY]  # fmt: skip
    assert keyword_only == fields[task.inputs :]


def test_a_task_is_found_by_method_pipeline_tag_server_alias_and_tool_name() -> None:
    assert get_task("text_classification") is TEXT_CLASSIFICATION
    assert get_task("text-classification") is TEXT_CLASSIFICATION
    assert get_task("classify") is TEXT_CLASSIFICATION
    assert get_task("named_entity_recognition").name == "token_classification"
    assert get_task("summarize").name == "summarization"
    with pytest.raises(KeyError, match="unknown task 'summarisation'"):
        get_task("summarisation")


def test_tool_metadata_has_a_json_schema_for_each_tool() -> None:
    tools = {task.tool.name: task.tool for task in TASKS if task.tool is not None}
    assert set(tools) >= {"text_classification", "zero_shot_classification", "named_entity_recognition",
                          "text_to_image", "summarization", "translation", "question_answering",
                          "table_question_answering", "fill_mask", "speech_recognition", "text_to_speech",
                          "image_classification", "image_to_text", "object_detection", "image_segmentation",
                          "visual_question_answering", "document_question_answering"}  # fmt: skip
    assert len(tools) == len([task for task in TASKS if task.tool is not None])  # tool names are unique
    for tool in tools.values():
        schema = tool.args.model_json_schema()
        assert schema["type"] == "object" and schema["required"] and tool.description


class _Sentiment:
    """In-process hooks for one task: what a custom transport over someone's own model looks like."""

    def __init__(self) -> None:
        self.requests: list[TextClassificationRequest] = []

    def _classify(self, request: TextClassificationRequest) -> list[ClassificationLabel]:
        self.requests.append(request)
        return [ClassificationLabel(label="POSITIVE", score=0.75), ClassificationLabel(label="NEGATIVE", score=0.25)]


def test_a_backend_over_any_transport_runs_the_tasks_it_has_hooks_for() -> None:
    hooks = _Sentiment()
    backend = Backend(InProcessTransport(hooks, name="mine", model_id="my/sentiment"))
    labels = backend.text_classification("great", top_k=1)
    assert [label.label for label in labels] == ["POSITIVE", "NEGATIVE"]
    assert hooks.requests == [TextClassificationRequest("great", top_k=1)]
    assert isinstance(labels, Results) and labels == [ClassificationLabel(label="POSITIVE", score=0.75),
                                                      ClassificationLabel(label="NEGATIVE", score=0.25)]  # fmt: skip
    assert response_meta(labels) is not None and labels.meta is not None and labels.meta.backend == "mine:my/sentiment"
    with pytest.raises(UnsupportedTaskError, match="_Sentiment has no token-classification model; run "
                                                   "token_classification on a HubBackend"):  # fmt: skip
        backend.token_classification("Ada Lovelace")


def test_results_carry_which_backend_answered_outside_their_value(local_backend: LocalBackend) -> None:
    labels = local_backend.text_classification("I love it")
    assert labels.meta is not None and labels.meta.backend == local_backend.label == "local:" + local_backend.model_id
    assert labels[0].model_dump() == {"label": labels[0].label, "score": labels[0].score}
    vectors = local_backend.feature_extraction(["one", "two"])
    assert isinstance(vectors, list) and vectors.meta is not None and len(vectors) == 2


def test_hub_backends_are_told_apart_in_metadata() -> None:
    assert HubBackend("org/model", provider="together").label == "hub:together:org/model"
    assert HubBackend(base_url="http://127.0.0.1:9").label == "hub:http://127.0.0.1:9"
