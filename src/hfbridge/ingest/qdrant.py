"""A Qdrant collection that embeddings are written into resumably (``pip install 'hfbridge[qdrant]'``).

>>> with QdrantWriter("support", path="./qdrant") as writer:          # embedded, on disk, no server
...     todo = writer.missing(ids)                                     # what a previous run did not store
...     writer.write(ids_batch, vectors_batch, payloads_batch)         # one durable upsert per batch
>>> QdrantWriter("support", url="http://localhost:6333")               # a Qdrant server or cluster, same calls

Points are stored with the payload layout LangChain's ``QdrantVectorStore`` reads (``page_content`` and
``metadata``) unless the caller passes its own payloads, under the collection's unnamed vector (or
``vector_name``), with cosine distance. Embedded mode is Qdrant's own local mode (``qdrant-client``'s
``path=``): one process at a time may open a path, which is why :mod:`hfbridge.ingest.ray` writes from the
driver.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ..errors import APIError, BackendUnavailableError, ConfigurationError, InvalidInputError

__all__ = ["QdrantWriter", "langchain_payload"]

_INSTALL = "Qdrant support needs the qdrant extra: pip install 'hfbridge[qdrant]'"
_ID_CHUNK = 1_000  # ids per retrieve / delete request: bounded request bodies on large jobs
T = TypeVar("T")


def langchain_payload(text: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The payload LangChain's ``QdrantVectorStore`` reads back as ``Document(page_content, metadata)``."""
    return {"page_content": text, "metadata": dict(metadata or {})}


def _qdrant() -> Any:
    try:
        import qdrant_client
    except ImportError as error:
        raise ConfigurationError(_INSTALL) from error
    return qdrant_client


@contextmanager
def _translated(where: str) -> Iterator[None]:
    """Qdrant's own exceptions as hfbridge's typed errors (unreachable server, error status)."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        yield
    except UnexpectedResponse as error:
        detail = error.content.decode("utf-8", "replace")[:300] if error.content else error.reason_phrase
        raise APIError(f"Qdrant at {where} answered {error.status_code}: {detail}", status_code=error.status_code,
                       server_message=detail, url=where) from None  # fmt: skip
    except ResponseHandlingException as error:
        raise BackendUnavailableError(f"Qdrant at {where} could not be reached: {error.source}") from None


class QdrantWriter:
    """One Qdrant collection: which ids are missing, and durable writes of (id, vector, payload) batches.

    Exactly one of ``path`` (embedded, on-disk local mode), ``url`` (a server or cluster; ``api_key`` for Qdrant
    Cloud) or ``client`` (an open ``QdrantClient``, e.g. one a LangChain or LlamaIndex store already uses). The
    collection is created on the first write, sized from the first vector; a later write of another size is
    refused with :class:`~hfbridge.errors.ConfigurationError` before anything is stored.
    """

    def __init__(
        self,
        collection: str,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        vector_name: str = "",
        timeout: int | None = None,
    ) -> None:
        if not isinstance(collection, str) or not collection.strip():
            raise ConfigurationError("a Qdrant collection needs a non-empty name")
        if sum(option is not None for option in (path, url, client)) != 1:
            raise ConfigurationError("QdrantWriter needs exactly one of path= (embedded), url= (server) or client=")
        self.collection = collection
        self.vector_name = vector_name
        self._owns_client = client is None
        if client is not None:
            self.where = "the given client"
            self.client = client
            return
        qdrant_client = _qdrant()
        if path is not None:
            location = Path(path).expanduser()
            self.where = str(location)
            if location.exists() and not location.is_dir():
                raise ConfigurationError(f"Qdrant path {location} exists and is not a directory")
            try:
                self.client = qdrant_client.QdrantClient(path=str(location))
            except RuntimeError as error:  # local mode locks the folder for one client at a time
                raise ConfigurationError(
                    f"the Qdrant folder {location} is already open (embedded Qdrant allows one client at a time, in "
                    f"one process): close the other client, or run a Qdrant server and pass its URL"
                ) from error
        else:
            assert url is not None
            if not url.startswith(("http://", "https://")):
                raise ConfigurationError(f"a Qdrant URL starts with http:// or https://, got {url!r}")
            self.where = url
            self.client = qdrant_client.QdrantClient(url=url, api_key=api_key, timeout=timeout)

    # ----------------------------------------------------------------------------------------------- reads
    def exists(self) -> bool:
        with _translated(self.where):
            return bool(self.client.collection_exists(self.collection))

    @property
    def vector_size(self) -> int | None:
        """The collection's vector size, or ``None`` before the first write."""
        if not self.exists():
            return None
        with _translated(self.where):
            vectors = self.client.get_collection(self.collection).config.params.vectors
        params = vectors.get(self.vector_name) if isinstance(vectors, dict) else vectors
        if params is None:
            raise ConfigurationError(
                f"collection {self.collection!r} has no vector named {self.vector_name!r} "
                f"(it has {sorted(vectors) if isinstance(vectors, dict) else 'one unnamed vector'})"
            )
        return int(params.size)

    def count(self) -> int:
        if not self.exists():
            return 0
        with _translated(self.where):
            return int(self.client.count(self.collection, exact=True).count)

    def missing(self, ids: Sequence[str]) -> list[str]:
        """The ids of ``ids`` not stored yet, in the order given, each once."""
        unique = list(dict.fromkeys(_checked_ids(ids)))
        if not unique or not self.exists():
            return unique
        stored: set[str] = set()
        with _translated(self.where):
            for chunk in _chunks(unique, _ID_CHUNK):
                records = self.client.retrieve(self.collection, chunk, with_payload=False, with_vectors=False)
                stored.update(str(record.id) for record in records)
        return [point_id for point_id in unique if point_id not in stored]

    def stored_ids(self) -> set[str]:
        """Every id in the collection (scrolls ids only: fine up to a few million points)."""
        if not self.exists():
            return set()
        found: set[str] = set()
        offset = None
        with _translated(self.where):
            while True:
                records, offset = self.client.scroll(self.collection, limit=10_000, offset=offset,
                                                     with_payload=False, with_vectors=False)  # fmt: skip
                found.update(str(record.id) for record in records)
                if offset is None:
                    return found

    # ---------------------------------------------------------------------------------------------- writes
    def write(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """Store one batch (an upsert: writing an id again replaces its point). Durable when it returns."""
        ids = _checked_ids(ids)
        if len(vectors) != len(ids) or (payloads is not None and len(payloads) != len(ids)):
            raise InvalidInputError(
                f"write needs one vector and one payload per id: {len(ids)} ids, {len(vectors)} vectors, "
                f"{'no' if payloads is None else len(payloads)} payloads"
            )
        if not ids:
            return
        size = len(vectors[0])
        if size == 0 or any(len(vector) != size for vector in vectors):
            raise InvalidInputError("every vector of a batch must have the same, non-zero length")
        if not all(math.isfinite(value) for vector in vectors for value in vector):
            raise InvalidInputError("a vector holds NaN or infinity; nothing was written")
        self._ensure_collection(size)
        models = _qdrant().models
        points = [
            models.PointStruct(
                id=point_id,
                vector={self.vector_name: list(vector)} if self.vector_name else list(vector),
                payload=dict(payloads[i]) if payloads is not None else {},
            )
            for i, (point_id, vector) in enumerate(zip(ids, vectors, strict=True))
        ]
        with _translated(self.where):
            self.client.upsert(self.collection, points=points, wait=True)

    def delete_except(self, keep: Sequence[str]) -> int:
        """Delete every point whose id is not in ``keep`` (a collection that mirrors a corpus drops what left
        it); returns how many were deleted."""
        keep_set = set(_checked_ids(keep))
        stale = [point_id for point_id in self.stored_ids() if point_id not in keep_set]
        models = _qdrant().models
        with _translated(self.where):
            for chunk in _chunks(stale, _ID_CHUNK):
                self.client.delete(self.collection, points_selector=models.PointIdsList(points=chunk), wait=True)
        return len(stale)

    def _ensure_collection(self, size: int) -> None:
        existing = self.vector_size
        if existing is None:
            models = _qdrant().models
            params = models.VectorParams(size=size, distance=models.Distance.COSINE)
            with _translated(self.where):
                self.client.create_collection(
                    self.collection, vectors_config={self.vector_name: params} if self.vector_name else params
                )
        elif existing != size:
            raise ConfigurationError(
                f"collection {self.collection!r} holds {existing}-dimensional vectors and this model makes "
                f"{size}-dimensional ones: write to another collection (vectors of two models do not mix)"
            )

    # ------------------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close the client if this writer opened it (releases an embedded folder for other processes)."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> QdrantWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"QdrantWriter({self.collection!r} at {self.where})"


def _checked_ids(ids: Sequence[str]) -> list[str]:
    """Ids as Qdrant returns them (canonical UUID strings), so stored and wanted ids compare equal."""
    if isinstance(ids, str):
        raise InvalidInputError("point ids must be a list of UUID strings, not one string")
    try:
        return [str(uuid.UUID(point_id)) for point_id in ids]
    except (TypeError, ValueError, AttributeError) as error:
        raise InvalidInputError(f"point ids must be UUID strings (see hfbridge.ingest.stable_id): {error}") from None


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
