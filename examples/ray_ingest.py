"""Ingest a corpus too big for one process: Ray Data reads it, worker actors embed it (one hfbridge backend each,
with its own connection pool, retries and rate limit), and the driver writes the vectors to Qdrant as they come.

    hfbridge serve --port 8080 &        # or a TEI / Inference Endpoint URL, or several replicas behind one URL
    python examples/ray_ingest.py --backend http://127.0.0.1:8080 --workers 2          # the support documents
    python examples/ray_ingest.py "corpus/*.jsonl" --backend URL --address auto          # on a running Ray cluster

Input: JSONL files with a ``text`` field (``--text-column``); the other fields become the points' metadata. Each
point id comes from the text (and ``--source-column`` when given), so a re-run, or a run after an interruption,
embeds only what the collection lacks. Without input files it ingests examples/data/support_docs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hfbridge import RateLimit
from hfbridge.ingest import QdrantWriter
from hfbridge.ingest.ray import IngestReport, embed_to_qdrant

DOCS = Path(__file__).resolve().parent / "data" / "support_docs"


def read_corpus(paths: Sequence[str]) -> Any:
    """A Ray Dataset: the JSONL files given, or one row per support document."""
    import ray.data

    if paths:
        return ray.data.read_json(list(paths))
    rows = [{"text": path.read_text(encoding="utf-8"), "source": path.name} for path in sorted(DOCS.glob("*.md"))]
    return ray.data.from_items(rows)


def ingest(dataset: Any, writer: QdrantWriter, *, backend: str | list[str], workers: int = 2, batch_size: int = 32,
           requests_per_second: float | None = None, text_column: str = "text",
           source_column: str | None = None) -> IngestReport:  # fmt: skip
    """Embed ``dataset`` with ``workers`` actors and write it into ``writer``. ``requests_per_second`` is the
    server's limit: each worker gets its share, so together they stay under it (with several replicas, give the
    limit of one replica: each worker's backend for it gets its share)."""
    options: dict[str, Any] = {}
    if requests_per_second:
        options["rate_limit"] = RateLimit(requests_per_second / workers, per=1.0)
    return embed_to_qdrant(dataset, writer, backend=backend, backend_options=options, workers=workers,
                           batch_size=batch_size, text_column=text_column, source_column=source_column)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="*", help="JSONL files (globs allowed); default: the support documents")
    parser.add_argument("--backend", action="append", default=None,
                        help="'local', a URL (TEI, hfbridge serve), or a Hub model id; repeat it for several "
                             "replicas, which each worker uses in turn")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="embedding actors, one backend each")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per actor call and per Qdrant write")
    parser.add_argument("--requests-per-second", type=float, default=None, help="the server's limit, shared out")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--source-column", default=None, help="a column that, with the text, identifies a row")
    parser.add_argument("--collection", default="corpus")
    parser.add_argument("--qdrant-path", type=Path, default=Path(".hfbridge-rag") / "ray-qdrant")
    parser.add_argument("--qdrant-url", default=None, help="a Qdrant server instead of the embedded folder")
    parser.add_argument("--address", default=None, help="a Ray cluster ('auto' or ray://...); default: start one")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the Ray instance this starts")
    args = parser.parse_args(argv)

    import ray

    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=args.num_cpus or max(args.workers, os.cpu_count() or 1), include_dashboard=False)
    try:
        source = args.source_column or (None if args.inputs else "source")
        with QdrantWriter(args.collection, path=None if args.qdrant_url else args.qdrant_path, url=args.qdrant_url,
                          api_key=os.environ.get("QDRANT_API_KEY")) as writer:  # fmt: skip
            report = ingest(read_corpus(args.inputs), writer, backend=args.backend or "local", workers=args.workers,
                            batch_size=args.batch_size, requests_per_second=args.requests_per_second,
                            text_column=args.text_column, source_column=source)  # fmt: skip
    finally:
        ray.shutdown()
    print(f"written {report.written}, already stored {report.already_stored}, "
          f"collection {args.collection!r} holds {report.collection_size}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
