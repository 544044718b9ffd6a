"""hfbridge.ingest without Ray or a framework: stable ids, QdrantWriter's reads, writes and typed errors on an
embedded Qdrant folder, and the Ray ``map_batches`` class called directly on a numpy batch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hfbridge import BackendUnavailableError, ConfigurationError, InvalidInputError, LocalBackend
from hfbridge.ingest import QdrantWriter, stable_id
from hfbridge.ingest.qdrant import langchain_payload
from hfbridge.ingest.ray import Embedder

# qdrant-client checks a server's version in the background and warns, possibly during the next test, when none answers.
pytestmark = pytest.mark.filterwarnings("ignore:Failed to obtain server version")


def test_stable_ids_are_uuids_of_source_and_text() -> None:
    assert stable_id("a") == stable_id("a") == "67dd0a9e-eeb4-5d93-ada1-66ce444022e4"  # fixed forever
    assert stable_id("a", "x.md") != stable_id("a", "y.md") != stable_id("a")
    with pytest.raises(InvalidInputError):
        stable_id(3)  # type: ignore[arg-type]


def test_writer_reports_missing_ids_and_writes_batches(tmp_path: Path) -> None:
    ids = [stable_id(text) for text in ("one", "two", "three")]
    with QdrantWriter("c", path=tmp_path) as writer:
        assert (writer.exists(), writer.count(), writer.vector_size, writer.missing(ids)) == (False, 0, None, ids)
        writer.write(ids[:2], [[1.0, 0.0], [0.0, 1.0]], [langchain_payload("one"), langchain_payload("two")])
        assert writer.missing([*ids, ids[0]]) == ids[2:]  # in order, each once
        assert (writer.count(), writer.vector_size, writer.stored_ids()) == (2, 2, set(ids[:2]))
        writer.write(ids[:1], [[0.6, 0.8]])  # an upsert: the point is replaced, not added
        assert writer.count() == 2
        assert writer.delete_except(ids[1:]) == 1 and writer.stored_ids() == {ids[1]}
        # Ids compare as Qdrant returns them, whatever case or form the caller wrote them in.
        assert writer.missing([ids[1].upper()]) == []


@pytest.mark.parametrize(
    ("ids", "vectors", "error", "message"),
    [
        (["not-a-uuid"], [[1.0, 0.0]], InvalidInputError, "UUID strings"),
        (stable_id("x"), [[1.0, 0.0]], InvalidInputError, "not one string"),
        ([stable_id("x")], [[1.0, 0.0], [0.0, 1.0]], InvalidInputError, "one vector and one payload per id"),
        ([stable_id("x"), stable_id("y")], [[1.0, 0.0], [1.0]], InvalidInputError, "same, non-zero length"),
        ([stable_id("x")], [[math.nan, 0.0]], InvalidInputError, "NaN or infinity"),
        ([stable_id("x")], [[1.0, 0.0, 0.0]], ConfigurationError, "holds 2-dimensional vectors"),
    ],
)
def test_bad_writes_are_typed_errors_and_store_nothing(
    tmp_path: Path, ids: object, vectors: list[list[float]], error: type[Exception], message: str
) -> None:
    with QdrantWriter("c", path=tmp_path) as writer:
        writer.write([stable_id("first")], [[1.0, 0.0]])
        with pytest.raises(error, match=message):
            writer.write(ids, vectors)  # type: ignore[arg-type]
        assert writer.count() == 1


def test_opening_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="exactly one of"):
        QdrantWriter("c")
    with pytest.raises(ConfigurationError, match="exactly one of"):
        QdrantWriter("c", path=tmp_path, url="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="non-empty name"):
        QdrantWriter(" ", path=tmp_path)
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        QdrantWriter("c", url="localhost:6333")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigurationError, match="not a directory"):
        QdrantWriter("c", path=tmp_path / "file")
    with QdrantWriter("c", path=tmp_path / "q"), pytest.raises(ConfigurationError, match="one client at a time"):
        QdrantWriter("c", path=tmp_path / "q")


def test_unreachable_server_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailableError, match="could not be reached"):
        QdrantWriter("c", url="http://127.0.0.1:1").count()


def test_embedder_skips_stored_rows_and_keeps_the_others_columns(local_backend: LocalBackend) -> None:
    texts = ["refund please", "where is my parcel", "reset my password"]
    stored = frozenset({stable_id(texts[1], "mail")})
    embedder = Embedder(lambda: local_backend, source_column="source", skip=stored, dimension=384)
    batch = {"text": np.array(texts, dtype=object), "source": np.array(["mail"] * 3, dtype=object),
             "n": np.array([1, 2, 3])}  # fmt: skip
    out = embedder(batch)
    assert out["id"].tolist() == [stable_id(texts[0], "mail"), stable_id(texts[2], "mail")]
    assert out["n"].tolist() == [1, 3] and out["embedding"].shape == (2, 384)
    expected = local_backend.feature_extraction([texts[0], texts[2]])
    assert np.allclose(out["embedding"], np.asarray(expected, dtype=np.float32), atol=1e-6)
    everything_stored = Embedder(lambda: local_backend, skip=frozenset(stable_id(t) for t in texts), dimension=384)
    assert everything_stored({"text": np.array(texts, dtype=object)})["embedding"].shape == (0, 384)
    with pytest.raises(ConfigurationError, match="no 'body' column"):
        Embedder(lambda: local_backend, text_column="body")(batch)
    with pytest.raises(ConfigurationError, match="not a Backend"):
        Embedder(lambda: "local")  # type: ignore[arg-type, return-value]
