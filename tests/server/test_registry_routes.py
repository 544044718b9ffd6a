"""The hf-inference routes serve any task of the registry from its declaration (``task.serving.read`` / ``write``):
a task declared here, unknown to the server's code, is served with no server edit, and its body may be a file as
InferenceClient sends binary inputs (raw bytes with no content type, a path's media type, or JSON with base64)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from hfbridge import InvalidInputError
from hfbridge.server import ServerThread, create_app, served_tasks
from hfbridge.tasks import _spec as registry
from hfbridge.tasks._spec import Limits, Serving, Task

from .._http_double import RecordingServer
from ._doubles import EchoBackend

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


@dataclass(slots=True)
class DigestRequest:
    image: bytes
    model: str | None = None
    top_k: int | None = None


SEEN: list[str | None] = []  # the content types read() was given, in order


def _read(body: bytes, content_type: str | None) -> DigestRequest:
    """As i15d's media tasks read theirs: JSON with the file in base64 when parameters are sent, else the file."""
    SEEN.append(content_type)
    if content_type == "application/json":
        payload = json.loads(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), str):
            raise InvalidInputError("inputs: the file in base64")
        parameters = payload.get("parameters") or {}
        return DigestRequest(base64.b64decode(payload["inputs"]), top_k=parameters.get("top_k"))
    return DigestRequest(body)


def _validate(request: DigestRequest, limits: Limits) -> DigestRequest:
    if not request.image.startswith(b"\x89PNG"):
        raise InvalidInputError("image: not a PNG file")
    return request


def _write(result: list[dict[str, Any]]) -> tuple[bytes, str]:
    return json.dumps(result).encode(), "application/json"


class DigestBackend(EchoBackend):
    """EchoBackend plus a hook for the test task: labels derived from the file's bytes, so a mangled body shows."""

    def _digest(self, request: DigestRequest) -> list[dict[str, Any]]:
        labels = [{"label": hashlib.sha256(request.image).hexdigest()[:12], "score": 0.9},
                  {"label": f"{len(request.image)} bytes", "score": 0.1}]  # fmt: skip
        return labels[: request.top_k] if request.top_k else labels


def _expected(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@pytest.fixture(scope="module")
def digest_task() -> Iterator[Task[DigestRequest, Any]]:
    task: Task[DigestRequest, Any] = Task(
        name="x_test_digest", pipeline_tag="x-test-digest", request=DigestRequest, result="Any", doc="A test task.",
        validate=_validate, local="_digest", serving=Serving(aliases=("digest",), read=_read, write=_write),
    )  # fmt: skip
    try:
        yield task
    finally:
        registry.REGISTRY.remove(task)


@pytest.fixture(scope="module")
def url(digest_task: Task[DigestRequest, Any]) -> Iterator[str]:
    app = create_app(DigestBackend(), model_tasks=[("org/digest", "digest"), ("org/sentiment", "text-classification")])
    with ServerThread(app) as server:
        yield server.url


def test_a_registered_task_is_served_without_a_server_edit(digest_task: Task[DigestRequest, Any], url: str) -> None:
    assert "x-test-digest" in served_tasks()
    # As InferenceClient sends raw bytes: the file as the body, no content type.
    answer = httpx2.post(f"{url}/models/org/digest", content=PNG)
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["label"] == _expected(PNG)
    assert answer.json()[1]["label"] == f"{len(PNG)} bytes"


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", "audio/flac"])
def test_a_file_with_its_media_type(url: str, content_type: str) -> None:
    answer = httpx2.post(f"{url}/models/org/digest", content=PNG, headers={"content-type": content_type})
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["label"] == _expected(PNG)


def test_json_with_the_file_in_base64_and_parameters(url: str) -> None:
    body = {"inputs": base64.b64encode(PNG).decode(), "parameters": {"top_k": 1}}
    answer = httpx2.post(f"{url}/models/org/digest", json=body)
    assert answer.status_code == 200, answer.text
    assert [label["label"] for label in answer.json()] == [_expected(PNG)]


def test_the_pipeline_route_names_the_task_by_its_alias(url: str) -> None:
    answer = httpx2.post(f"{url}/models/org/digest/pipeline/digest", content=PNG)
    assert answer.status_code == 200, answer.text


def test_post_root_runs_the_served_task_on_a_file(digest_task: Task[DigestRequest, Any]) -> None:
    with ServerThread(create_app(DigestBackend(), task="x-test-digest")) as server:
        answer = httpx2.post(f"{server.url}/", content=PNG)
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["label"] == _expected(PNG)


@pytest.mark.parametrize(("path", "content", "headers", "status", "says"), [
    # the declaration's validation: a typed InvalidInputError is a 422 with its message
    ("/models/org/digest", b"GIF89a....", {}, 422, "not a PNG"),
    ("/models/org/digest", b"", {}, 422, "empty"),
    # read() refuses a JSON body it cannot read
    ("/models/org/digest", b'{"inputs": 5}', {"content-type": "application/json"}, 422, "base64"),
    # a form-like type a web page can post without a preflight stays refused
    ("/models/org/digest", PNG, {"content-type": "text/plain"}, 415, "Content-Type"),
    ("/models/org/digest", PNG, {"content-type": "application/x-www-form-urlencoded"}, 415, "Content-Type"),
    # a task the server reads as JSON does not take a file
    ("/models/org/sentiment", PNG, {}, 415, "text-classification takes a JSON body"),
    # JSON-only routes take no file
    ("/v1/embeddings", PNG, {"content-type": "image/png"}, 415, "Content-Type"),
    ("/embed", PNG, {}, 415, "Content-Type"),
])  # fmt: skip
def test_refusals(url: str, path: str, content: bytes, headers: dict[str, str], status: int, says: str) -> None:
    answer = httpx2.post(f"{url}{path}", content=content, headers=headers)
    assert answer.status_code == status, answer.text
    assert says in json.dumps(answer.json())


def test_a_task_without_a_reader_is_501_not_500() -> None:
    # text-to-image has a server handler (JSON); a registry task with no serving.read/write cannot be read at all
    task: Task[DigestRequest, Any] = Task(name="x_test_unreadable", pipeline_tag="x-test-unreadable",
                                          request=DigestRequest, result="Any", doc="", validate=_validate)  # fmt: skip
    try:
        app = create_app(DigestBackend(), model_tasks=[("org/unreadable", "x-test-unreadable")])
        with ServerThread(app) as server:
            answer = httpx2.post(f"{server.url}/models/org/unreadable", json={"inputs": "x"})
            assert answer.status_code == 501, answer.text
            assert answer.json() == {"error": "this server cannot read x-test-unreadable requests"}
    finally:
        registry.REGISTRY.remove(task)


def test_the_openapi_document_lists_file_bodies_on_hf_inference_routes(url: str) -> None:
    document = httpx2.get(f"{url}/openapi.json").json()
    assert "application/octet-stream" in document["paths"]["/models/{model_id}"]["post"]["requestBody"]["content"]
    assert "application/octet-stream" in document["paths"]["/"]["post"]["requestBody"]["content"]
    assert list(document["paths"]["/v1/embeddings"]["post"]["requestBody"]["content"]) == ["application/json"]


@pytest.mark.parametrize("form", ["bytes", "path", "bytes+top_k"])
def test_the_real_inference_client_sends_a_file_the_server_reads(url: str, form: str, tmp_path: Any) -> None:
    """huggingface_hub's own hf-inference wire for a binary-input task, unchanged: raw bytes (no content type), a
    path (its media type), and with a parameter, JSON with the file in base64."""
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=f"{url}/models/org/digest")
    path = tmp_path / "picture.png"
    path.write_bytes(PNG)
    image: Any = path if form == "path" else PNG
    labels = client.image_classification(image, top_k=1 if form == "bytes+top_k" else None)
    assert [label.label for label in labels][:1] == [_expected(PNG)]
    assert len(labels) == (1 if form == "bytes+top_k" else 2)
    assert SEEN[-1] == {"bytes": None, "path": "image/png", "bytes+top_k": "application/json"}[form]


@pytest.mark.parametrize("with_top_k", [False, True])
def test_a_media_task_of_the_registry_through_the_server_to_an_upstream(with_top_k: bool) -> None:
    """i15d's image classification, which no server code names: the real InferenceClient sends a PNG to our server,
    the server reads it with the task's ``Serving.read``, a HubBackend sends it on to an upstream (an HTTP double
    answering as hf-inference), and the answer comes back through ``Serving.write`` in hf-inference's shape."""
    from huggingface_hub import InferenceClient

    from hfbridge import HubBackend
    from hfbridge.tasks import get_task

    get_task("image-classification")  # on main since i15d-mediatasks
    upstream_labels = [{"label": "tabby cat", "score": 0.7}, {"label": "lynx", "score": 0.2}]
    with RecordingServer(body=upstream_labels) as upstream:
        backend = HubBackend(base_url=upstream.url)
        app = create_app(backend, model_tasks=[("org/vision", "image-classification")])
        with ServerThread(app) as server:
            client = InferenceClient(model=f"{server.url}/models/org/vision")
            labels = client.image_classification(PNG, top_k=1 if with_top_k else None)
        sent = upstream.requests
    assert [(label.label, round(label.score, 3)) for label in labels] == [("tabby cat", 0.7), ("lynx", 0.2)]
    assert len(sent) == 1
    if with_top_k:  # the parameter went on upstream, as JSON with the image in base64
        assert json.loads(sent[0].body) == {"inputs": base64.b64encode(PNG).decode(), "parameters": {"top_k": 1}}
    else:  # the file itself, as the client sent it to us
        assert sent[0].body == PNG


@pytest.mark.parametrize(("task", "upstream_answer", "call", "expected"), [
    ("summarization", [{"summary_text": "A short text."}],
     lambda client: client.summarization("A long text about many things.").summary_text, "A short text."),
    ("translation", [{"translation_text": "Bonjour"}],
     lambda client: client.translation("Hello").translation_text, "Bonjour"),
    ("fill-mask", [{"score": 0.9, "token": 7, "token_str": "Paris", "sequence": "Paris is a city."}],
     lambda client: client.fill_mask("[MASK] is a city.")[0].token_str, "Paris"),
    ("question-answering", {"answer": "Paris", "score": 0.9, "start": 0, "end": 5},
     lambda client: client.question_answering(question="Where?", context="Paris is a city.").answer, "Paris"),
])  # fmt: skip
def test_text_tasks_of_the_registry_through_the_server_to_an_upstream(task: str, upstream_answer: Any, call: Any,
                                                                      expected: str) -> None:  # fmt: skip
    """i15c's text tasks, which no server code names either: the real InferenceClient's JSON body, read by the task's
    ``Serving.read``, sent on by HubBackend, answered back through ``Serving.write``."""
    from huggingface_hub import InferenceClient

    from hfbridge import HubBackend

    with RecordingServer(body=upstream_answer) as upstream:
        app = create_app(HubBackend(base_url=upstream.url), model_tasks=[("org/model", task)])
        with ServerThread(app) as server:
            assert call(InferenceClient(model=f"{server.url}/models/org/model")) == expected
        assert len(upstream.requests) == 1
