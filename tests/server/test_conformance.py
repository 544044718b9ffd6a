"""The server against its own OpenAPI document: every route's real answers (LocalBackend) validate against the
response models, and a property-based fuzzer (schemathesis) sends generated requests across all routes — valid and
invalid — with no 5xx, no undocumented status and no response outside its schema.

The fuzz run uses a backend that answers at once (``_doubles.EchoBackend``): what is under test is the server's
validation, routing, error shapes and serialisation, and model time would only slow it down. A bigger run is
``HFBRIDGE_FUZZ_EXAMPLES=500 pytest tests/server/test_conformance.py -k fuzz``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import jsonschema
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import JsonSchemaError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from hfbridge import LocalBackend
from hfbridge.server import ServerLimits, create_app
from hfbridge.server.guard import LOOPBACK_HOSTS

from ._doubles import EchoBackend

EXAMPLES = int(os.environ.get("HFBRIDGE_FUZZ_EXAMPLES", "70"))
HOSTS = (*LOOPBACK_HOSTS, "testserver")  # the in-process test client's Host


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    resolver_doc = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(resolver_doc)


def test_real_answers_of_every_route_match_the_document(local_backend: LocalBackend) -> None:
    app = create_app(local_backend, task="text-classification", allowed_hosts=HOSTS)
    client = TestClient(app)
    document = client.get("/openapi.json").json()
    models = local_backend.models
    calls = [
        ("/generate", {"inputs": "The capital of France is", "parameters": {"max_new_tokens": 3, "details": True}}),
        ("/embed", {"inputs": ["a", "b"]}),
        ("/predict", {"inputs": "I love it"}),
        ("/predict", {"inputs": [["I love it"], ["I hate it"]]}),
        ("/rerank", {"query": "password", "texts": ["reset my password", "opening hours"], "return_text": True}),
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["a", "b"]}}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}),
        ("/v1/completions", {"prompt": ["One,", "Two,"], "max_tokens": 2}),
        ("/v1/embeddings", {"input": ["a", "b"]}),
        ("/v1/embeddings", {"input": "a", "encoding_format": "base64"}),
        ("/embed", {"inputs": [[101, 7592, 102], "b"]}),  # token ids of the served model, mixed with text
        ("/v1/embeddings", {"input": [101, 7592, 102]}),
        ("/embed", {"inputs": [101, 30522, 102]}),  # ids outside the vocabulary: 422
        ("/v1/embeddings", {"input": [[15339]]}),  # tiktoken's "hello": not a whole tokenization, 422
        ("/generate", {"inputs": "hi", "parameters": {"max_new_tokens": 100000}}),
        ("/embed", {"inputs": []}),
        ("/v1/embeddings", {"input": []}),
        (f"/models/{models['token-classification']}", {"inputs": "Angela Merkel visited Paris."}),
    ]
    checked = Counter[str]()
    for path, body in calls:
        response = client.post(path, json=body)
        operation = document["paths"][path]["post"] if path in document["paths"] else document["paths"][
            "/models/{model_id}"]["post"]  # fmt: skip
        declared = operation["responses"][str(response.status_code)]
        schema = declared["content"]["application/json"]["schema"]
        _validator(document, schema).validate(response.json())
        checked[path] += 1
    for path in ("/info", "/v1/models"):
        response = client.get(path)
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        _validator(document, schema).validate(response.json())
        checked[path] += 1
    assert sum(checked.values()) == len(calls) + 2


def test_every_streamed_event_matches_the_document() -> None:
    """Each server-sent event of each streaming route, OpenAI's closing ``data: [DONE]`` included (the fuzzer found
    it outside the document once; a fixed request makes sure every run checks it)."""
    app = create_app(EchoBackend(), allowed_hosts=HOSTS)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    calls = [
        ("/v1/completions", {"prompt": "generation", "stream": True}, 1),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "stream": True}, 1),
        ("/generate_stream", {"inputs": "hi"}, 0),
    ]
    for path, body, done in calls:
        case = schema[path]["POST"].Case(body=body, media_type="application/json")
        response = case.call()
        assert response.status_code == 200 and response.text.count("data: [DONE]") == done, response.text
        case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])


def test_fuzz_every_route_no_5xx_and_no_schema_violation() -> None:
    limits = ServerLimits(max_total_tokens=64, max_client_batch_size=8)
    app = create_app(EchoBackend(), limits=limits, allowed_hosts=HOSTS)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call()
            sent[case.operation.label] += 1
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=checks)
            except Exception as exc:  # collect every failure, report them together
                if not isinstance(exc, JsonSchemaError | AssertionError) and "Failure" not in type(exc).__name__:
                    raise
                failures.append(f"{case.operation.label}: {str(exc).splitlines()[0]}\n  {case.as_curl_command()}")

        run()
    total = sum(sent.values())
    assert not failures, "\n".join(failures[:20])
    assert total >= 1000, f"only {total} requests: {dict(sent)}"
    assert not [status for status in statuses if status >= 500], dict(statuses)
    assert len(sent) == 18, sorted(sent)  # every operation of the document: 15 POST, 3 GET
