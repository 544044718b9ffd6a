"""One client cannot knock the server over: wrong-typed fields are 422 with a message (never 500), limits answer
with the statuses TGI and TEI use, foreign Host / Origin headers and non-JSON bodies are refused, the control
route checks its input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from tokenizers import Tokenizer

from hfbridge import LocalBackend
from hfbridge.backends.local._embedder import TOKENIZER_FILE
from hfbridge.server import ServerLimits, ServerThread, create_app

pytestmark = pytest.mark.live_server


@pytest.fixture(scope="module")
def url(local_backend: LocalBackend) -> Iterator[str]:
    limits = ServerLimits(max_body_bytes=50_000, max_client_batch_size=4, max_total_tokens=64, max_labels=5)
    with ServerThread(create_app(local_backend, task="text-classification", limits=limits)) as server:
        yield server.url


def post(url: str, path: str, body: Any = None, **kwargs: Any) -> httpx2.Response:
    if body is not None:
        kwargs["json"] = body
    return httpx2.post(url + path, timeout=60, **kwargs)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/generate", {"inputs": "hi", "parameters": []}, "parameters"),
        ("/generate", {"inputs": "hi", "parameters": {"top_k": "a"}}, "top_k"),
        ("/generate", {"inputs": "hi", "parameters": {"stop": 5}}, "stop"),
        ("/generate", {"inputs": 5}, "inputs"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": "abc"}, "max_tokens"),
        ("/v1/chat/completions", {"messages": "hi"}, "messages"),
        ("/v1/completions", {"prompt": "hi", "stop": 5}, "stop"),
        ("/embed", {"inputs": "x", "normalize": "yes"}, "normalize"),
        ("/rerank", {"query": "q", "texts": "not a list"}, "texts"),
        ("/models/{ner}", {"inputs": ["a"], "parameters": {"aggregation_strategy": "simple"}}, "inputs"),
        ("/", {"inputs": "x", "parameters": {"candidate_labels": "billing"}}, "candidate_labels"),
    ],
)  # fmt: skip
def test_wrong_types_are_422_naming_the_field(url: str, local_backend: LocalBackend, path: str, body: dict[str, Any],
                                              field: str) -> None:  # fmt: skip
    response = post(url, path.format(ner=local_backend.models["token-classification"]), body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    message = error["message"] if isinstance(error, dict) else error
    assert field in message


@pytest.mark.parametrize(
    "content",
    [b'{"inputs": "\\ud800"}', b"[" * 5000 + b"]" * 5000, b'{"inputs": "x"', b"\xff\xfe", b"", b"null", b"[1, 2]"],
)
def test_malformed_json_is_422_never_500(url: str, content: bytes) -> None:
    for path in ("/generate", "/embed", "/", "/v1/embeddings"):
        response = post(url, path, content=content, headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), (path, content[:20], response.status_code, response.text)


def test_limits_answer_with_tgi_and_tei_statuses(url: str) -> None:
    assert post(url, "/embed", {"inputs": ["a"] * 5}).status_code == 413
    assert post(url, "/v1/embeddings", {"input": ["a"] * 5}).status_code == 413
    assert post(url, "/rerank", {"query": "q", "texts": ["a"] * 5}).status_code == 413
    assert post(url, "/v1/completions", {"prompt": ["a"] * 5}).status_code == 422
    too_long = post(url, "/generate", {"inputs": "hi", "parameters": {"max_new_tokens": 65}})
    assert too_long.status_code == 422 and too_long.json()["error_type"] == "validation"
    assert "max_new_tokens" in too_long.json()["error"]
    chat = post(url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 65})
    assert chat.status_code == 422 and "max_tokens" in chat.json()["error"]["message"]
    stops = post(url, "/generate", {"inputs": "hi", "parameters": {"stop": ["a", "b", "c", "d", "e"]}})
    assert stops.status_code == 422
    labels = post(url, "/", {"inputs": "hi", "parameters": {"candidate_labels": [f"l{i}" for i in range(6)]}})
    assert labels.status_code == 422 and "candidate labels" in labels.json()["error"]


def test_limits_apply_to_token_ids_and_to_the_text_they_stand_for(url: str) -> None:
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    short, long = tokenizer.encode("a").ids, tokenizer.encode("word " * 10).ids
    assert post(url, "/embed", {"inputs": [short] * 5}).status_code == 413  # counted before any is decoded
    assert post(url, "/v1/embeddings", {"input": [short, "a", short, "a", short]}).status_code == 413
    with ServerThread(create_app(LocalBackend(max_input_chars=20))) as server:  # the backend's input length
        refused = post(server.url, "/embed", {"inputs": [short, long], "truncate": False})
        assert refused.status_code == 422 and "texts[1] has 49 characters" in refused.json()["error"]
        assert post(server.url, "/embed", {"inputs": [short, long], "truncate": True}).status_code == 200
        empty = post(server.url, "/v1/embeddings", {"input": [[101, 102]]})  # the marks around no text
        assert empty.status_code == 422 and "texts[0] is empty" in empty.json()["error"]["message"]
    big = post(url, "/embed", content=b'{"inputs": "' + b"x" * 60_000 + b'"}', headers={"content-type":
                                                                                       "application/json"})  # fmt: skip
    assert big.status_code == 413


def test_json_routes_need_a_json_content_type(url: str) -> None:
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = {"content-type": content_type} if content_type else {}
        response = post(url, "/embed", content=b'{"inputs": "x"}', headers=headers)
        assert response.status_code == 415
    assert post(url, "/embed", content=b'{"inputs": "x"}', headers={"content-type": "application/json; charset=utf-8"}
                ).status_code == 200  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "evil.example"}, 400),
        ({"host": "localhost:1234"}, 200),
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"origin": "http://127.0.0.1:9999"}, 200),
    ],
)
def test_foreign_hosts_and_origins_are_refused(url: str, headers: dict[str, str], status: int) -> None:
    assert post(url, "/embed", {"inputs": "x"}, headers=headers).status_code == status
    assert httpx2.get(url + "/info", headers=headers, timeout=30).status_code == status


def test_a_preflight_is_refused(url: str) -> None:
    response = httpx2.request("OPTIONS", url + "/v1/chat/completions", timeout=30, headers={
        "origin": "https://evil.example", "access-control-request-method": "POST"})  # fmt: skip
    assert response.status_code == 403 and "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "plan",
    [{"rates": {"explode": 0.5}}, {"rates": {"drop": "often"}}, {"script": [{"kind": "stall", "stall_seconds": -1}]},
     {"retry_after_mode": "ms"}, {"seed": "x"}, {"unknown": 1}, [1, 2], {"rates": {"drop": 0.8, "stall": 0.8}}],
)  # fmt: skip
def test_the_control_route_validates_its_input(url: str, plan: Any) -> None:
    response = httpx2.put(url + "/_hfbridge/faults", json=plan, timeout=30)
    assert response.status_code == 422, response.text
    assert httpx2.get(url + "/_hfbridge/faults", timeout=30).json()["active"] is False
