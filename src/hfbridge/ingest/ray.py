"""Ingestion past one process with Ray Data (``pip install 'hfbridge[ray,qdrant]'``).

Ray schedules the work; hfbridge embeds: :class:`Embedder` is a ``map_batches`` callable class, so each worker
actor builds **one backend** when it starts and keeps it (its connection pool, retry policy and rate limiter)
for every batch it is given. :func:`embed_to_qdrant` runs the whole pipeline::

    import ray
    from hfbridge.ingest import QdrantWriter
    from hfbridge.ingest.ray import embed_to_qdrant

    dataset = ray.data.read_json("docs/*.jsonl")                 # any Ray Dataset with a text column
    with QdrantWriter("docs", path="./qdrant") as writer:         # or url="http://qdrant:6333"
        report = embed_to_qdrant(dataset, writer, backend="http://tei:8080", workers=4)

Each row's point id is :func:`~hfbridge.ingest.stable_id` of its text (and ``source_column`` when given), so ids do
not depend on which worker embeds a row or in what order, and a re-run skips rows already stored: only the
missing ones are embedded (an interrupted job resumes). The driver writes the embedded batches to Qdrant as they
stream out (embedded Qdrant allows one process per folder; a Qdrant server takes the same writes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..backends import Backend, backend_from_spec
from ..errors import ConfigurationError
from . import stable_id
from .qdrant import QdrantWriter, langchain_payload

__all__ = ["Embedder", "IngestReport", "embed_to_qdrant"]

_INSTALL = "Ray ingestion needs the ray extra: pip install 'hfbridge[ray]'"

BackendSource = str | Sequence[str] | Callable[..., Backend]


def _ray_data() -> Any:
    try:
        import ray.data
    except ImportError as error:
        raise ConfigurationError(_INSTALL) from error
    return ray.data


def _build_backends(backend: BackendSource, options: dict[str, Any]) -> list[Backend]:
    if isinstance(backend, str):
        return [backend_from_spec(backend, **options)]
    if isinstance(backend, Sequence):
        if not backend or not all(isinstance(spec, str) for spec in backend):
            raise ConfigurationError("backend= as a list needs one or more specs (URLs, 'local', Hub model ids)")
        return [backend_from_spec(spec, **options) for spec in backend]
    if callable(backend):
        built = backend(**options)
        if not isinstance(built, Backend):
            raise ConfigurationError(f"the backend factory returned {type(built).__name__}, not a Backend")
        return [built]
    raise ConfigurationError("backend= is a spec ('local', a URL, a Hub model id) or a function returning a Backend")


class Embedder:
    """A Ray Data ``map_batches`` class: one backend per worker actor, a batch of rows in, ``id`` and
    ``embedding`` columns added.

    ``backend`` is a spec (``"local"``, a URL, a Hub model id; built with ``backend_options``), a list of specs
    (several replicas: the actor builds one backend for each and sends its batches to them in turn), or a
    picklable function returning a :class:`~hfbridge.Backend`. Rows whose id is in ``skip`` (ids already stored)
    are dropped before anything is sent; ``dimension`` gives the width of the embedding column when a whole batch
    is dropped.
    """

    def __init__(
        self,
        backend: BackendSource,
        *,
        text_column: str = "text",
        source_column: str | None = None,
        backend_options: dict[str, Any] | None = None,
        skip: frozenset[str] = frozenset(),
        dimension: int | None = None,
    ) -> None:
        self.backends = _build_backends(backend, dict(backend_options or {}))
        self._turn = os.getpid()  # actors start their round-robin at different replicas
        self.text_column = text_column
        self.source_column = source_column
        self.skip = skip
        self.dimension = dimension

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        if self.text_column not in batch:
            raise ConfigurationError(f"the dataset has no {self.text_column!r} column (it has {sorted(batch)})")
        texts = [str(text) for text in batch[self.text_column].tolist()]
        sources = batch[self.source_column].tolist() if self.source_column else [None] * len(texts)
        ids = [
            stable_id(text, None if source is None else str(source))
            for text, source in zip(texts, sources, strict=True)
        ]
        keep = [i for i, point_id in enumerate(ids) if point_id not in self.skip]
        vectors: list[list[float]] = []
        if keep:
            self._turn += 1
            backend = self.backends[self._turn % len(self.backends)]
            vectors = backend.feature_extraction([texts[i] for i in keep])
        width = len(vectors[0]) if vectors else (self.dimension or 0)
        out = {column: values[keep] for column, values in batch.items()}
        out["id"] = np.asarray([ids[i] for i in keep], dtype=object)
        out["embedding"] = np.asarray(vectors, dtype=np.float32).reshape(len(keep), width)
        return out

    def __del__(self) -> None:  # the actor's connection pools go with it
        for backend in getattr(self, "backends", []):
            backend.close()


@dataclass(frozen=True)
class IngestReport:
    """What :func:`embed_to_qdrant` did: points ``written`` now, points ``already_stored`` before it began."""

    written: int
    already_stored: int
    collection_size: int


def embed_to_qdrant(
    dataset: Any,
    writer: QdrantWriter,
    *,
    backend: BackendSource,
    backend_options: dict[str, Any] | None = None,
    text_column: str = "text",
    source_column: str | None = None,
    workers: int = 2,
    batch_size: int = 64,
    num_cpus: float = 0.5,
    on_batch: Callable[[int], None] | None = None,
) -> IngestReport:
    """Embed every row of ``dataset`` not yet in ``writer``'s collection with ``workers`` actors (one backend
    each), and write the vectors as they come, ``batch_size`` rows at a time.

    Payloads follow LangChain's layout: ``page_content`` is the text, ``metadata`` the row's other columns. The
    client-side limits in ``backend_options`` (``rate_limit``, ``max_concurrency``) apply per worker: divide a
    server's rate limit by ``workers``. Each actor reserves ``num_cpus`` of Ray's CPUs: with a remote backend it
    mostly waits on the server, and a whole CPU per actor would leave none for the tasks that read the data on a
    small cluster (they would wait forever); give the local backend, which embeds in the actor, 1 or more.
    ``on_batch`` is called with the running count after each write.
    """
    ray_data = _ray_data()
    if workers < 1 or batch_size < 1:
        raise ConfigurationError("workers and batch_size must be at least 1")
    stored = writer.stored_ids()
    embedded = dataset.map_batches(
        Embedder,
        fn_constructor_kwargs={
            "backend": backend, "text_column": text_column, "source_column": source_column,
            "backend_options": backend_options, "skip": frozenset(stored), "dimension": writer.vector_size,
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray_data.ActorPoolStrategy(size=workers),
        num_cpus=num_cpus,
    )  # fmt: skip
    written = 0
    for batch in embedded.iter_batches(batch_size=batch_size, batch_format="numpy"):
        ids = batch["id"].tolist()
        if not ids:
            continue
        metadata_columns = [column for column in batch if column not in ("id", "embedding", text_column)]
        texts = batch[text_column].tolist()
        columns = {column: batch[column].tolist() for column in metadata_columns}
        payloads = [
            langchain_payload(str(text), {column: columns[column][i] for column in metadata_columns})
            for i, text in enumerate(texts)
        ]
        writer.write(ids, batch["embedding"].tolist(), payloads)
        written += len(ids)
        if on_batch is not None:
            on_batch(written)
    return IngestReport(written=written, already_stored=len(stored), collection_size=writer.count())
