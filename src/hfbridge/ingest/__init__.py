"""Getting documents into a vector database, resumably and at scale.

- :func:`stable_id`: a point id derived from a document's content and source, so a re-run finds what is
  already stored (nothing is embedded twice) and the id does not depend on the order documents are processed in.
- :class:`QdrantWriter` (``hfbridge[qdrant]``): a Qdrant collection, embedded on disk (``path=``) or on a server
  (``url=``), that tells which ids are missing and writes vectors batch by batch, so an interrupted job resumes.
- :mod:`hfbridge.ingest.ray` (``hfbridge[ray]``): embed a Ray Dataset with one backend per worker actor and write
  it into a :class:`QdrantWriter`.

>>> writer = QdrantWriter("docs", path="./qdrant")
>>> todo = writer.missing([stable_id(text) for text in texts])
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .qdrant import QdrantWriter

__all__ = ["stable_id", "QdrantWriter", "NAMESPACE"]

#: The uuid5 namespace of hfbridge point ids (fixed forever: changing it would make every stored id look new).
NAMESPACE = uuid.UUID("7a0f3c52-5d4e-4f0b-9a43-2f1c8e6b9d10")


def stable_id(text: str, source: str | None = None) -> str:
    """A UUID (the id type Qdrant accepts) from ``text`` and, when given, the ``source`` it came from.

    The same text from the same source always gets the same id, on any machine and in any process, whatever
    order the documents are processed in; identical texts without a source share one id (stored once).
    """
    if not isinstance(text, str):
        from ..errors import InvalidInputError

        raise InvalidInputError(f"stable_id needs the text as a string, got {type(text).__name__}")
    name = text if source is None else f"{source}\x1f{text}"
    return str(uuid.uuid5(NAMESPACE, name))


def __getattr__(name: str) -> Any:
    if name == "QdrantWriter":  # needs the [qdrant] extra: imported on first use only
        from .qdrant import QdrantWriter

        return QdrantWriter
    raise AttributeError(f"module 'hfbridge.ingest' has no attribute {name!r}")
