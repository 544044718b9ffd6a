"""A request runs the task of the model it is sent to, as on the hf-inference API; a body's shape picks the task
only when exactly one task sends that shape. The real InferenceClient runs every task against the server with the
URL as the model, unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import numpy as np
import pytest
from huggingface_hub import InferenceClient
from tokenizers import Tokenizer

from hfbridge import LocalBackend
from hfbridge.backends.local._embedder import TOKENIZER_FILE
from hfbridge.server import ServerThread, create_app
from hfbridge.server.tasks import ModelTable, task_of_body

pytestmark = pytest.mark.live_server
NER_TEXT = "Elon Musk founded SpaceX in Hawthorne, California in 2002."


@pytest.fixture(scope="module")
def url(local_backend: LocalBackend) -> Iterator[str]:
    with ServerThread(create_app(local_backend)) as server:
        yield server.url


def _client(url: str) -> InferenceClient:
    return InferenceClient(model=url, timeout=120)


def test_token_classification_by_model_url_returns_entities(url: str, local_backend: LocalBackend) -> None:
    model = local_backend.models["token-classification"]
    entities = _client(f"{url}/models/{model}").token_classification(NER_TEXT)
    assert {entity.entity_group for entity in entities} >= {"PER", "LOC"}
    assert all(entity.start is not None and entity.word for entity in entities)


def test_the_same_body_on_a_sentiment_model_is_sentiment(url: str, local_backend: LocalBackend) -> None:
    model = local_backend.models["text-classification"]
    labels = _client(f"{url}/models/{model}").text_classification("I love this!")
    assert labels[0].label == "POSITIVE"


def test_every_task_through_the_real_client_with_the_url_as_model(url: str, local_backend: LocalBackend) -> None:
    models = local_backend.models

    def at(task: str) -> InferenceClient:
        return _client(f"{url}/models/{models[task]}")

    vectors = at("feature-extraction").feature_extraction(["hello", "world"])
    assert vectors.shape == (2, 384)
    assert np.allclose(vectors, local_backend.feature_extraction(["hello", "world"]), atol=1e-6)
    similarity = at("sentence-similarity")
    scores = similarity.sentence_similarity("reset my password", ["I forgot my password", "opening hours"])
    assert scores[0] > scores[1]
    zero_shot = at("zero-shot-classification").zero_shot_classification("My invoice is wrong", ["billing", "weather"])
    assert zero_shot[0].label == "billing"
    generator = at("text-generation")  # kept alive while its stream is read
    generated = generator.text_generation("The capital of France is", max_new_tokens=4)
    assert isinstance(generated, str) and generated
    streamed = list(generator.text_generation("Once upon a time", max_new_tokens=4, stream=True))
    assert len(streamed) == 4
    chat = generator.chat_completion([{"role": "user", "content": "Say hi"}], max_tokens=4)
    assert chat.choices[0].message.content


def test_tei_embed_takes_the_models_token_ids_as_tei_does(url: str, local_backend: LocalBackend) -> None:
    """TEI's /embed `inputs`: a text, one text's token ids, or a batch of both; ids made with the model's own
    tokenizer.json embed as their text does through the real InferenceClient (which sends text)."""
    texts = ["reset my password", "opening hours"]
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    ids = [tokenizer.encode(text).ids for text in texts]
    model = local_backend.models["feature-extraction"]
    by_client = _client(f"{url}/models/{model}").feature_extraction(texts[0])  # text, as before
    by_text = np.array(local_backend.feature_extraction(texts))
    assert np.allclose(by_client, by_text[:1], atol=1e-6)
    for inputs, expected in ((ids[0], by_text[:1]), (ids, by_text), ([texts[0], ids[1]], by_text)):
        response = httpx2.post(f"{url}/embed", json={"inputs": inputs}, timeout=60)
        assert response.status_code == 200, response.text
        assert np.allclose(response.json(), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("inputs", "where", "reason"),
    [([101, 30522, 102], "inputs", "outside the vocabulary"),
     (["hi", [101, -5, 102]], "inputs[1]", "outside the vocabulary"),
     ([[9906, 1917]], "inputs", "must be a whole tokenization")],
)  # fmt: skip
def test_tei_embed_refuses_ids_that_are_not_the_models(url: str, inputs: Any, where: str, reason: str) -> None:
    response = httpx2.post(f"{url}/embed", json={"inputs": inputs}, timeout=60)
    assert response.status_code == 422
    body = response.json()
    assert body["error_type"] == "Validation" and set(body) == {"error", "error_type"}  # TEI's ErrorResponse
    assert body["error"].startswith(f"`{where}`: ") and reason in body["error"]
    assert "sentence-transformers/all-MiniLM-L6-v2" in body["error"] and "send the text instead" in body["error"]


def test_a_server_with_a_task_serves_it_on_root(local_backend: LocalBackend) -> None:
    with ServerThread(create_app(local_backend, task="token-classification")) as server:
        entities = _client(server.url).token_classification(NER_TEXT)
    assert {entity.entity_group for entity in entities} >= {"PER", "LOC"}


def test_an_ambiguous_body_on_root_without_a_task_is_refused_with_directions(url: str, local_backend: LocalBackend
                                                                           ) -> None:  # fmt: skip
    response = httpx2.post(url, json={"inputs": NER_TEXT, "parameters": {}}, timeout=30)
    assert response.status_code == 422
    message = response.json()["error"]
    assert "--task" in message and f"/models/{local_backend.models['token-classification']}" in message
    assert "error_type" not in response.json()


def test_unknown_models_and_tasks_a_model_lacks_are_refused(url: str, local_backend: LocalBackend) -> None:
    missing = httpx2.post(f"{url}/models/acme/unknown", json={"inputs": "x"}, timeout=30)
    assert missing.status_code == 404 and "acme/unknown" in missing.json()["error"]
    sentiment = local_backend.models["text-classification"]
    wrong = httpx2.post(f"{url}/models/{sentiment}", json={"inputs": "x", "parameters": {"candidate_labels": ["a"]}},
                        timeout=30)  # fmt: skip
    assert wrong.status_code == 400 and "zero-shot-classification" in wrong.json()["error"]


@pytest.mark.parametrize(
    ("body", "accept", "task"),
    [
        ({"inputs": {"source_sentence": "a", "sentences": ["b"]}}, "", "sentence-similarity"),
        ({"inputs": "a", "parameters": {"candidate_labels": ["x"]}}, "", "zero-shot-classification"),
        ({"inputs": "a", "parameters": {"aggregation_strategy": "simple"}}, "", "token-classification"),
        ({"inputs": "a", "parameters": {"max_new_tokens": 3}}, "", "text-generation"),
        ({"inputs": "a", "stream": True}, "", "text-generation"),
        ({"inputs": "a", "parameters": {"function_to_apply": "softmax"}}, "", "text-classification"),
        ({"inputs": ["a"], "truncate": True}, "", "feature-extraction"),
        ({"inputs": "a"}, "image/png", "text-to-image"),
        ({"inputs": "a"}, "", None),
        ({"inputs": "a", "parameters": {}}, "", None),
        ({"inputs": "a", "parameters": {"top_k": 2}}, "", None),
    ],
)
def test_only_unambiguous_shapes_name_a_task(body: dict[str, Any], accept: str, task: str | None) -> None:
    assert task_of_body(body, accept) == task


def test_model_table_from_a_backend_and_a_mapping() -> None:
    table = ModelTable.build("org/chat", task="generate", backend_models={"chat": "org/chat", "token-classification":
                             "org/ner"}, model_tasks=[("org/sentiment", "text-classification")])  # fmt: skip
    assert table.tasks_by_model == {"org/chat": ("text-generation",), "org/sentiment": ("text-classification",),
                                    "org/ner": ("token-classification",)}  # fmt: skip
    assert table.for_root({"inputs": "x"}, "") == "text-generation"
    assert table.for_model("org/ner", {"inputs": "x", "parameters": {}}, "") == "token-classification"
    with pytest.raises(ValueError, match="unknown task"):
        ModelTable.build("m", model_tasks=[("x", "summarisation")])


def test_cli_checks_task_names() -> None:
    from click.testing import CliRunner

    from hfbridge.cli import main

    bad_task = CliRunner().invoke(main, ["serve", "--task", "summarisation"])
    assert bad_task.exit_code == 2 and "unknown task 'summarisation'" in bad_task.output
    bad_pair = CliRunner().invoke(main, ["serve", "--model-task", "org/model"])
    assert bad_pair.exit_code == 2 and "MODEL_ID=TASK" in bad_pair.output
