"""Check the server's answers against the official TGI and TEI OpenAPI documents (not in this repository: pass
their paths, e.g. ``docs/openapi.json`` of huggingface/text-generation-inference and of
huggingface/text-embeddings-inference):

    .venv/bin/python scripts/check_official_specs.py TGI_OPENAPI.json TEI_OPENAPI.json

Every answer is validated against the named component schema (OpenAPI 3.0 ``nullable`` read as JSON Schema null).
Known, deliberate differences: completion stream chunks carry ``finish_reason: null`` until the last (OpenAI's
behaviour; TGI's schema wants a string), and OpenAI routes answer errors in OpenAI's shape, not TGI's.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import jsonschema
from starlette.testclient import TestClient
from tests.server._doubles import EchoBackend

from hfbridge.server import create_app
from hfbridge.server.guard import LOOPBACK_HOSTS


def nullable(node):
    if isinstance(node, dict):
        node = {k: nullable(v) for k, v in node.items()}
        if node.pop("nullable", False):
            if "type" in node and isinstance(node["type"], str):
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            else:
                node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [nullable(v) for v in node]
    return node


tgi = nullable(json.loads(Path(sys.argv[1]).read_text()))
tei = nullable(json.loads(Path(sys.argv[2]).read_text()))


def check(doc, name, value):
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
    print(("OK  " if not errors else "FAIL"), name, "" if not errors else errors[0].message[:150])
    return not errors


c = TestClient(create_app(EchoBackend(), task="text-generation", allowed_hosts=(*LOOPBACK_HOSTS, "testserver")))
res = []
res.append(
    check(
        tgi,
        "GenerateResponse",
        c.post("/generate", json={"inputs": "hi", "parameters": {"details": True, "max_new_tokens": 3}}).json(),
    )
)
for line in c.post("/generate_stream", json={"inputs": "hi"}).text.split("\n\n"):
    if line.startswith("data:"):
        res.append(check(tgi, "StreamResponse", json.loads(line[5:])))
for item in c.post("/", json={"inputs": "hi"}).json():
    res.append(check(tgi, "GenerateResponse", item))
res.append(check(tgi, "Info", c.get("/info").json()))
res.append(check(tei, "Info", c.get("/info").json()))
res.append(
    check(
        tgi,
        "ChatCompletion",
        c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}).json(),
    )
)
for line in c.post(
    "/v1/chat/completions",
    json={"messages": [{"role": "user", "content": "hi"}], "stream": True, "stream_options": {"include_usage": True}},
).text.split("\n\n"):
    if line.startswith("data: {"):
        res.append(check(tgi, "ChatCompletionChunk", json.loads(line[6:])))
res.append(check(tgi, "CompletionFinal", c.post("/v1/completions", json={"prompt": "hi"}).json()))
for line in c.post("/v1/completions", json={"prompt": "hi", "stream": True}).text.split("\n\n"):
    if line.startswith("data: {"):
        res.append(check(tgi, "Chunk", json.loads(line[6:])))
models = c.get("/v1/models").json()
for m in models["data"]:
    res.append(check(tgi, "ModelInfo", m))
res.append(check(tgi, "ErrorResponse", c.post("/generate", json={"inputs": 5}).json()))
res.append(
    check(
        tgi, "ErrorResponse", c.post("/generate", json={"inputs": "x", "parameters": {"max_new_tokens": 999999}}).json()
    )
)
res.append(check(tei, "EmbedResponse", c.post("/embed", json={"inputs": ["a", "b"]}).json()))
res.append(check(tei, "PredictResponse", c.post("/predict", json={"inputs": "a"}).json()))
res.append(check(tei, "PredictResponse", c.post("/predict", json={"inputs": [["a"], ["b"]]}).json()))
res.append(
    check(
        tei, "RerankResponse", c.post("/rerank", json={"query": "a", "texts": ["a", "b"], "return_text": True}).json()
    )
)
res.append(
    check(
        tei,
        "SimilarityResponse",
        c.post("/similarity", json={"inputs": {"source_sentence": "a", "sentences": ["a", "b"]}}).json(),
    )
)
res.append(check(tei, "OpenAICompatResponse", c.post("/v1/embeddings", json={"input": ["a", "b"]}).json()))
res.append(
    check(
        tei, "OpenAICompatResponse", c.post("/v1/embeddings", json={"input": "a", "encoding_format": "base64"}).json()
    )
)
for body in ({"inputs": []}, {"inputs": "x", "normalize": "no"}, {"inputs": ["a"] * 40}):
    r = c.post("/embed", json=body)
    res.append(check(tei, "ErrorResponse", r.json()))
    print("   status", r.status_code)
print("passed", sum(res), "of", len(res))
