"""A shared cache gives each backend its own answers: the key covers what decides the answer (issue 13).

Once the key was (backend name, ``model_id``, task, parameters, input), with ``model_id`` ``"default"`` when only
``task_models`` was set and no provider, URL or header in it: two ``HubBackend``s on one ``SQLiteCache`` got each
other's vectors, across runs. Now the key holds the transport's ``cache_target`` (the model the task really uses,
the provider or the URL without credentials, the headers that are not credentials) and every output-changing
parameter, in a versioned format.

URL targets are real loopback servers. Provider routes (``router.huggingface.co``) cannot be reached here, so for
them the real client's HTTP is answered at its transport, through huggingface_hub's ``set_client_factory`` hook
(as tests/test_wire.py does); each route answers a vector of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from hfbridge import HubBackend, LocalBackend, RetryPolicy
from hfbridge.cache import KEY_FORMAT, MemoryCache, SQLiteCache
from hfbridge.tasks import FEATURE_EXTRACTION, EmbeddingRequest

from ._http_double import RecordingServer, hub_clients_answered_by

TOKEN = "hf_" + "k" * 34
MODEL_A, MODEL_B = "hfbridge-keys/embed-a", "hfbridge-keys/embed-b"
MAPPING = {
    model: {"pipeline_tag": "feature-extraction", "tags": ["feature-extraction"],
            "inferenceProviderMapping": {
                provider: {"status": "live", "providerId": f"{provider}/{model}", "task": "feature-extraction"}
                for provider in ("hf-inference", "together")}}
    for model in (MODEL_A, MODEL_B)
}  # fmt: skip


class Routes:
    """The Hub's model API and the inference routes: each route (provider + model) answers its own vector."""

    def __init__(self) -> None:
        self.inference: list[str] = []
        self.routes: list[str] = []

    def vector(self, route: str) -> list[float]:
        if route not in self.routes:
            self.routes.append(route)
        return [float(self.routes.index(route) + 1), 0.5]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if request.method == "GET" and path.startswith("/api/models/"):
            model = path.removeprefix("/api/models/")
            return httpx2.Response(200, json={"id": model, **MAPPING[model]})
        body = json.loads(request.content)
        route = f"{request.url.host}{path}:{body.get('model', '')}"
        self.inference.append(route)
        if path.endswith("/embeddings"):  # OpenAI-style providers
            return httpx2.Response(200, json={"data": [{"embedding": self.vector(route)} for _ in body["input"]]})
        return httpx2.Response(200, json=[self.vector(route) for _ in body["inputs"]])


@pytest.fixture
def routes() -> Iterator[Routes]:
    handler = Routes()
    with hub_clients_answered_by(handler):
        yield handler


def _hub(cache: object, **kwargs: object) -> HubBackend:
    return HubBackend(token=TOKEN, cache=cache, retry=RetryPolicy(max_attempts=1), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"provider": "hf-inference", "task_models": {"feature-extraction": MODEL_A}},
         {"provider": "hf-inference", "task_models": {"feature-extraction": MODEL_B}}),
        ({"provider": "together", "task_models": {"feature-extraction": MODEL_A}},
         {"provider": "hf-inference", "task_models": {"feature-extraction": MODEL_A}}),
        ({"model": MODEL_A, "provider": "together"}, {"model": MODEL_B, "provider": "together"}),
    ],
    ids=["task_models", "provider", "model"],
)  # fmt: skip
def test_two_hub_backends_on_one_sqlite_file_keep_their_own_vectors_across_runs(
    routes: Routes, tmp_path: Path, first: dict, second: dict
) -> None:
    path = tmp_path / "shared.sqlite"
    one, two = _hub(SQLiteCache(path), **first), _hub(SQLiteCache(path), **second)
    vector_one = one.feature_extraction(["hello"])[0]
    vector_two = two.feature_extraction(["hello"])[0]
    assert vector_one != vector_two and len(routes.inference) == 2  # two routes, two answers
    assert one.feature_extraction(["hello"])[0] == vector_one and two.feature_extraction(["hello"])[0] == vector_two
    assert len(routes.inference) == 2  # both hits

    # The next run: new backends, new cache objects on the same file, the other order.
    two_again, one_again = _hub(SQLiteCache(path), **second), _hub(SQLiteCache(path), **first)
    assert two_again.feature_extraction(["hello"])[0] == vector_two
    assert one_again.feature_extraction(["hello"])[0] == vector_one
    assert len(routes.inference) == 2


def test_a_per_call_model_has_its_own_entries(routes: Routes) -> None:
    backend = _hub(MemoryCache(), provider="hf-inference", task_models={"feature-extraction": MODEL_A})
    default = backend.feature_extraction(["hello"])[0]
    other = backend.feature_extraction(["hello"], model=MODEL_B)[0]
    assert default != other and len(routes.inference) == 2
    assert backend.feature_extraction(["hello"], model=MODEL_A)[0] == default  # the same model: the same entry
    assert len(routes.inference) == 2


def test_two_urls_on_one_cache_keep_their_own_answers() -> None:
    cache = MemoryCache()
    with RecordingServer(body=[[1.0, 0.0]]) as first, RecordingServer(body=[[0.0, 1.0]]) as second:
        a = HubBackend(base_url=first.url, cache=cache)
        b = HubBackend(base_url=second.url, cache=cache)
        assert a.feature_extraction(["hello"]) == [[1.0, 0.0]]
        assert b.feature_extraction(["hello"]) == [[0.0, 1.0]]
        assert a.feature_extraction(["hello"]) == [[1.0, 0.0]] and b.feature_extraction(["hello"]) == [[0.0, 1.0]]
        # Credentials in the URL are not part of the key (nor stored in it): the same server, the same entries.
        with_user = first.url.replace("http://", "http://user:secret@")
        assert HubBackend(base_url=with_user, cache=cache).feature_extraction(["hello"]) == [[1.0, 0.0]]
    assert (len(first.requests), len(second.requests)) == (1, 1)


def test_headers_that_are_not_credentials_are_part_of_the_key() -> None:
    cache = MemoryCache()
    with RecordingServer(body=[[1.0, 0.0]]) as server:
        for headers in ({"x-route": "a"}, {"x-route": "b"}, {"x-route": "a", "authorization": "Bearer other"}):
            HubBackend(base_url=server.url, cache=cache, headers=headers).feature_extraction(["hello"])
    assert len(server.requests) == 2  # route a, route b; a new token on route a is still route a


def test_every_output_changing_parameter_is_in_the_key_and_nothing_else() -> None:
    cache = MemoryCache()
    with RecordingServer(body=[[1.0, 0.0]]) as server:
        backend = HubBackend(base_url=server.url, cache=cache)
        backend.feature_extraction(["hello"])
        backend.feature_extraction(["hello"], truncate=True)  # the default spelled out: the same request
        backend.feature_extraction(["hello"], batch_size=1)  # how many per request: not the answer
        assert len(server.requests) == 1
        backend.feature_extraction(["hello"], truncate=False)
        backend.feature_extraction(["hello"], normalize=False)
        backend.feature_extraction(["hello"], prompt_name="query")
        assert len(server.requests) == 4


def test_the_key_names_the_target_each_transport_really_uses(local_backend: LocalBackend) -> None:
    request = EmbeddingRequest(texts=["hello"])
    local = local_backend.transport.cache_target(FEATURE_EXTRACTION, request)
    assert local == {"backend": "local", "model": local_backend.models["feature-extraction"]}
    routed = HubBackend(provider="together", task_models={"feature-extraction": MODEL_A})
    assert routed.transport.cache_target(FEATURE_EXTRACTION, request) == {
        "backend": "hub", "url": None, "provider": "together", "model": MODEL_A, "headers": [],
    }  # fmt: skip
    url = HubBackend(base_url="https://user:pw@tei.example.com/?api_key=s3cret", headers={"x-api-key": "s3cret"})
    target = url.transport.cache_target(FEATURE_EXTRACTION, request)
    assert target["url"] == "https://tei.example.com/" and "s3cret" not in json.dumps(target)


def test_entries_of_an_older_key_format_are_dropped_when_the_file_opens(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    SQLiteCache(path).put_many({f"v{KEY_FORMAT}:" + "1" * 64: [2.0]})
    with sqlite3.connect(path) as connection:  # as a release with the previous key format left it
        connection.execute("INSERT INTO results VALUES (?, ?)", ("v2:" + "0" * 64, "[1.0]"))
        connection.execute("PRAGMA user_version = 2")
    SQLiteCache(path)
    with sqlite3.connect(path) as connection:
        assert [row[0] for row in connection.execute("SELECT key FROM results")] == [f"v{KEY_FORMAT}:" + "1" * 64]
        assert connection.execute("PRAGMA user_version").fetchone()[0] == KEY_FORMAT >= 3
