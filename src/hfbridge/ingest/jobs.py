"""Embed a list of texts into a Qdrant collection, resumably, with a progress bar (what ``hfbridge embed -o
qdrant://COLLECTION`` runs).

Each text's point id is :func:`~hfbridge.ingest.stable_id` of the text, so texts already in the collection are
skipped before anything is sent, identical texts are stored once, and a job interrupted at any point resumes where
it stopped: texts are embedded and written a chunk at a time (a few backend batches), each chunk durable before
the next is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..backends import Backend
from . import stable_id
from .qdrant import QdrantWriter, langchain_payload

__all__ = ["EmbedReport", "embed_into_qdrant"]


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
    size = chunk_size or max(1, (batch_size or backend.batch_size) * backend.max_concurrency * 2)
    done = len(by_id) - len(todo)
    bar: Any = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(by_id), initial=done, unit="text", desc="embedding", dynamic_ncols=True)
    try:
        for start in range(0, len(todo), size):
            ids = todo[start : start + size]
            chunk = [by_id[point_id] for point_id in ids]
            vectors = backend.feature_extraction(chunk, batch_size=batch_size)
            writer.write(ids, vectors, [langchain_payload(text) for text in chunk])
            if bar is not None:
                bar.update(len(ids))
    finally:
        if bar is not None:
            bar.close()
    return EmbedReport(embedded=len(todo), already_stored=done)
