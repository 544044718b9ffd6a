"""Embed a list of texts into a Qdrant collection, resumably, with a progress bar (what ``hfbridge embed -o
qdrant://COLLECTION`` runs).

Each text's point id is :func:`~hfbridge.ingest.stable_id` of the text, so texts already in the collection are
skipped before anything is sent, identical texts are stored once, and a job interrupted at any point resumes where
it stopped: texts are embedded and written a chunk at a time (a few backend batches), each chunk durable before
the next is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..backends import Backend
from . import stable_id
from .qdrant import QdrantWriter, langchain_payload

__all__ = ["EmbedReport", "chunked_embedding", "embed_into_qdrant"]


@dataclass(frozen=True)
class EmbedReport:
    """``embedded`` texts sent and written now; ``already_stored`` found in the collection and skipped."""

    embedded: int
    already_stored: int


def embed_into_qdrant(
    backend: Backend,
    texts: Sequence[str],
    writer: QdrantWriter,
    *,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    show_progress: bool = False,
) -> EmbedReport:
    """Embed the texts of ``texts`` that ``writer``'s collection lacks and write them, ``chunk_size`` at a time
    (default: enough for every concurrent request of the backend, twice over). Payloads are LangChain's layout
    (``page_content``), so ``langchain_qdrant.QdrantVectorStore`` can search the collection as it is."""
    by_id: dict[str, str] = {}
    for text in texts:
        by_id.setdefault(stable_id(text), text)
    todo = writer.missing(list(by_id))
    done = len(by_id) - len(todo)
    chunk = [by_id[point_id] for point_id in todo]

    def write(start: int, vectors: list[list[float]]) -> None:
        ids = todo[start : start + len(vectors)]
        writer.write(ids, vectors, [langchain_payload(by_id[point_id]) for point_id in ids])

    chunked_embedding(backend, chunk, write, batch_size=batch_size, chunk_size=chunk_size,
                      show_progress=show_progress, already=done)  # fmt: skip
    return EmbedReport(embedded=len(todo), already_stored=done)


def chunked_embedding(
    backend: Backend,
    texts: Sequence[str],
    write: Callable[[int, list[list[float]]], None],
    *,
    start: int = 0,
    already: int = 0,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    show_progress: bool = False,
) -> None:
    """Embed ``texts[start:]`` a chunk at a time, calling ``write(index of the chunk's first text, vectors)``
    after each chunk, before the next one is sent: what ``write`` stores survives an interruption. The progress
    bar counts ``already + start`` texts as done from the beginning."""
    bar: Any = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=already + len(texts), initial=already + start, unit="text", desc="embedding",
                   dynamic_ncols=True)  # fmt: skip
    try:
        first = start
        while first < len(texts):
            chunk = list(texts[first : first + (chunk_size or _chunk_size(backend, batch_size))])
            write(first, backend.feature_extraction(chunk, batch_size=batch_size))
            first += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()


def _chunk_size(backend: Backend, batch_size: int | None) -> int:
    """Texts for every request the backend may have in flight now, twice over: with flow control its learned
    limit (which grows as the job goes; its ``max_concurrency`` is only a ceiling), else ``max_concurrency``."""
    limiter = backend.flow.concurrency if backend.flow is not None else None
    in_flight = limiter.limit if limiter is not None else backend.max_concurrency
    return max(1, (batch_size or backend.batch_size) * in_flight * 2)
