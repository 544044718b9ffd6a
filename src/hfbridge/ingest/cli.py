"""``hfbridge embed -o qdrant://COLLECTION``: the options and the job, kept apart from the command's other outputs.

Importing this module needs only click; Qdrant is imported when a job runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import click

from ..backends import Backend

__all__ = ["QdrantTarget", "qdrant_options"]


def qdrant_options(command: Any) -> Any:
    url_help = "Qdrant server for -o qdrant://COLLECTION (QDRANT_API_KEY if it needs one)."
    command = click.option("--qdrant-url", default=None, help=url_help)(command)
    return click.option("--qdrant-path", type=click.Path(file_okay=False), default=None,
                        help="Embedded Qdrant folder for -o qdrant://COLLECTION.")(command)  # fmt: skip


@dataclass(frozen=True)
class QdrantTarget:
    """Where ``-o qdrant://COLLECTION`` writes: a collection in an embedded folder or on a server."""

    collection: str
    path: str | None
    url: str | None

    @classmethod
    def from_options(cls, output: str | None, path: str | None, url: str | None) -> QdrantTarget | None:
        """The target named by ``-o`` and the ``--qdrant-*`` options, ``None`` for file outputs; usage errors
        (exit code 2) for combinations that cannot work."""
        if output is None or not output.startswith("qdrant://"):
            if path is not None or url is not None:
                raise click.UsageError("--qdrant-path and --qdrant-url go with -o qdrant://COLLECTION")
            return None
        collection = output.removeprefix("qdrant://")
        if not collection or "/" in collection:
            raise click.UsageError(f"-o {output}: name one collection, as in qdrant://my_collection")
        if (path is None) == (url is None):
            raise click.UsageError("-o qdrant://... needs one of --qdrant-path DIR (embedded) or --qdrant-url URL")
        if url is not None and not url.startswith(("http://", "https://")):
            raise click.UsageError(f"--qdrant-url {url}: a URL starting with http:// or https://")
        return cls(collection, path, url)

    def embed(self, backend: Backend, texts: list[str], batch_size: int | None, progress: bool) -> str:
        """Run the job; returns the closing line for stderr. Raises hfbridge's typed errors."""
        from .jobs import embed_into_qdrant
        from .qdrant import QdrantWriter

        api_key = os.environ.get("QDRANT_API_KEY") if self.url else None
        with QdrantWriter(self.collection, path=self.path, url=self.url, api_key=api_key) as writer:
            report = embed_into_qdrant(backend, texts, writer, batch_size=batch_size, show_progress=progress)
            total = writer.count()
        return (f"hfbridge: embedded {report.embedded} texts into Qdrant collection {self.collection!r} "
                f"({report.already_stored} already there; it holds {total})")  # fmt: skip
