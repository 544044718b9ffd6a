"""``hfbridge embed -o FILE.jsonl|FILE.npy``: embed a list of texts into a file, a chunk at a time, resumably.

While the job runs, every embedded chunk is appended to ``FILE.partial.jsonl`` beside the output and made durable
(flushed and fsync'ed) before the next chunk is sent. When every text is embedded, the output is written in one
step (renamed into place, so a reader never sees half a file) and the partial file is removed. A job killed at any
point leaves the partial file behind; running the same command again reads it back, checks that it holds the
same texts in the same order and that the backend still gives the same vectors (one text is embedded again and
compared), and embeds only the rest.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..backends import Backend
from ..errors import InvalidInputError
from .jobs import EmbedReport, chunked_embedding

__all__ = ["embed_into_file", "jsonl_lines", "partial_path"]

#: Cosine similarity the re-embedded text must reach for a partial file to be resumed: the same model gives the
#: same vector up to float noise (batch padding changes the last digits), another model gives a different one.
_SAME_MODEL = 0.999


def partial_path(output: str | Path) -> Path:
    """Where an interrupted ``embed -o output`` keeps what it has embedded so far."""
    return Path(f"{output}.partial.jsonl")


def embed_into_file(
    backend: Backend,
    texts: Sequence[str],
    output: str | Path,
    *,
    field: str = "text",
    batch_size: int | None = None,
    chunk_size: int | None = None,
    show_progress: bool = False,
) -> EmbedReport:
    """Embed ``texts`` in order into ``output`` (``.npy``: a float32 matrix, one row per text; anything else:
    JSONL lines ``{field: text, "embedding": [...]}``), resuming from ``output``'s partial file when one is there.

    Raises :class:`~hfbridge.errors.InvalidInputError` when the partial file belongs to another input or another
    model (remove it to start again), and the backend's typed errors; an error leaves the partial file to resume.
    """
    output = Path(output)
    partial = partial_path(output)
    done = _resume(backend, texts, partial, field)
    with open(partial, "a", encoding="utf-8") as handle:

        def write(start: int, vectors: list[list[float]]) -> None:
            chunk = texts[start : start + len(vectors)]
            handle.write(jsonl_lines(field, chunk, vectors))
            handle.flush()
            os.fsync(handle.fileno())

        chunked_embedding(backend, texts, write, start=done, batch_size=batch_size, chunk_size=chunk_size,
                          show_progress=show_progress)  # fmt: skip
    _finish(partial, output, field)
    return EmbedReport(embedded=len(texts) - done, already_stored=done)


def jsonl_lines(field: str, texts: Sequence[str], vectors: Sequence[list[float]]) -> str:
    """The JSONL lines ``{field: text, "embedding": [...]}`` of ``embed``'s output, one per text."""
    return "".join(json.dumps({field: text, "embedding": vector}) + "\n" for text, vector in zip(texts, vectors,
                                                                                                  strict=True))


def _resume(backend: Backend, texts: Sequence[str], partial: Path, field: str) -> int:
    """How many texts the partial file already holds (0 without one); a torn last line is cut off."""
    if not partial.exists():
        return 0
    with open(partial, "rb") as handle:
        content = handle.read()
    complete = content[: content.rfind(b"\n") + 1]
    if len(complete) != len(content):  # killed in the middle of a write: keep whole lines only
        with open(partial, "r+b") as handle:
            handle.truncate(len(complete))
    rows = []
    for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
            text, vector = row[field], row["embedding"]
        except (ValueError, TypeError, KeyError):
            raise InvalidInputError(
                f"{partial}: line {number} is not a line this command wrote; remove the file to start again"
            ) from None
        if number > len(texts) or text != texts[number - 1]:
            raise InvalidInputError(
                f"{partial} holds the embeddings of other texts (line {number} differs from the input); "
                "remove it to start again"
            )
        rows.append(vector)
    if rows:
        again = backend.feature_extraction([texts[0]])[0]
        if len(again) != len(rows[0]) or _cosine(again, rows[0]) < _SAME_MODEL:
            raise InvalidInputError(
                f"{partial} was written with another model (its vectors differ from this backend's); "
                "remove it to start again"
            )
    return len(rows)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norms if norms else 0.0


def _finish(partial: Path, output: Path, field: str) -> None:
    """Write the output from the complete partial file in one step, then remove the partial file."""
    if output.suffix.lower() != ".npy":
        os.replace(partial, output)
        return
    import numpy as np

    with open(partial, encoding="utf-8") as handle:
        matrix: Any = np.asarray([json.loads(line)["embedding"] for line in handle], dtype=np.float32)
    staging = output.with_name(output.name + ".tmp.npy")
    np.save(staging, matrix)
    os.replace(staging, output)
    partial.unlink()
