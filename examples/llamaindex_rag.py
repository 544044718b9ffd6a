"""A LlamaIndex RAG pipeline over a real vector database: Qdrant, embedded on disk.

    python examples/llamaindex_rag.py "How do I reset my password?"              # Qdrant in .hfbridge-rag/
    python examples/llamaindex_rag.py --qdrant-url http://localhost:6333 "..."   # a Qdrant server or cluster

The documents of ``--docs`` (examples/data/support_docs) are split into nodes whose ids come from their file,
position and content; an ``IngestionPipeline`` embeds with ``HFEmbedding`` and writes to ``QdrantVectorStore`` one
batch at a time. A re-run embeds only nodes that are new or changed and drops those whose text left the folder;
an interrupted run resumes at the first batch it had not stored. Offline on the local backend by default;
``--backend`` takes a URL (TEI, ``hfbridge serve``) or a Hub model id.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.base.response.schema import Response
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient

from hfbridge import Backend, backend_from_spec
from hfbridge.ingest import QdrantWriter, stable_id
from hfbridge.llama_index import HFLLM, HFEmbedding

DOCS = Path(__file__).resolve().parent / "data" / "support_docs"
COLLECTION = "support_docs"


def node_id(position: int, document: BaseNode) -> str:
    """The id of a document's ``position``-th chunk: the same file and text give the same id on every run."""
    return stable_id(document.get_content(), source=f"{document.metadata['file_name']}#{position}")


def load_nodes(docs: Path = DOCS) -> list[BaseNode]:
    documents = SimpleDirectoryReader(str(docs), required_exts=[".md"], filename_as_id=True).load_data()
    return SentenceSplitter(chunk_size=512, chunk_overlap=32, id_func=node_id).get_nodes_from_documents(documents)


def open_store(*, path: Path | None = None, url: str | None = None, collection: str = COLLECTION,
               asynchronous: bool = False) -> QdrantVectorStore:  # fmt: skip
    """``QdrantVectorStore`` on a server (``url``: sync and async clients) or an embedded folder (``path``).

    An embedded folder takes one client at a time, and LlamaIndex's store runs its sync methods on ``client``
    and its async ones on ``aclient``: open the folder with ``asynchronous=True`` to serve async queries.
    """
    if url:
        key = os.environ.get("QDRANT_API_KEY")
        return QdrantVectorStore(collection_name=collection, client=QdrantClient(url=url, api_key=key),
                                 aclient=AsyncQdrantClient(url=url, api_key=key))  # fmt: skip
    # Payload indexes do nothing in embedded mode (Qdrant warns), so the doc_id index is asked for on servers only.
    if asynchronous:
        return QdrantVectorStore(collection_name=collection, aclient=AsyncQdrantClient(path=str(path)),
                                 index_doc_id=False)  # fmt: skip
    return QdrantVectorStore(collection_name=collection, client=QdrantClient(path=str(path)), index_doc_id=False)


def ingest(store: QdrantVectorStore, nodes: Sequence[BaseNode], *, batch_size: int = 16,
           log: Callable[[str], None] = print) -> tuple[int, int]:  # fmt: skip
    """Make ``store`` hold exactly ``nodes``: embed and write the missing ones batch by batch, delete the rest.
    Returns how many were embedded and how many deleted."""
    writer = QdrantWriter(store.collection_name, client=store.client)  # ids only: which are stored, which stale
    ids = [node.node_id for node in nodes]
    missing = set(writer.missing(ids))
    todo = [node for node in nodes if node.node_id in missing]
    log(f"{len(nodes) - len(todo)} nodes already stored, {len(todo)} to embed")
    pipeline = IngestionPipeline(transformations=[Settings.embed_model], vector_store=store)
    for start in range(0, len(todo), batch_size):
        pipeline.run(nodes=todo[start : start + batch_size])
        log(f"stored {min(start + batch_size, len(todo))}/{len(todo)}")
    deleted = writer.delete_except(ids) if writer.exists() else 0
    if deleted:
        log(f"deleted {deleted} nodes no longer in the folder")
    return len(todo), deleted


def build_index(backend: Backend, store: QdrantVectorStore, *, docs: Path = DOCS, batch_size: int = 16,
                log: Callable[[str], None] = print) -> VectorStoreIndex:  # fmt: skip
    # Always set both: LlamaIndex's defaults need OpenAI packages and a key.
    Settings.llm = HFLLM(backend=backend, max_tokens=80)
    Settings.embed_model = HFEmbedding(backend=backend)
    ingest(store, load_nodes(docs), batch_size=batch_size, log=log)
    return VectorStoreIndex.from_vector_store(store)


def ask(index: VectorStoreIndex, question: str) -> Response:
    response = index.as_query_engine(similarity_top_k=1).query(question)
    assert isinstance(response, Response)
    return response


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("question", nargs="?", default="How do I reset my password?")
    parser.add_argument("--path", type=Path, default=Path(".hfbridge-rag") / "llamaindex-qdrant",
                        help="the embedded Qdrant folder")  # fmt: skip
    parser.add_argument("--qdrant-url", default=None, help="a Qdrant server instead of the embedded folder")
    parser.add_argument("--docs", type=Path, default=DOCS, help="a folder of .md files")
    parser.add_argument("--backend", default="local", help="'local', a URL, or a Hub model id")
    parser.add_argument("--batch-size", type=int, default=16, help="nodes embedded and stored at a time")
    parser.add_argument("--ingest-only", action="store_true", help="store the documents, ask nothing")
    args = parser.parse_args(argv)

    backend = backend_from_spec(args.backend)
    store = open_store(path=None if args.qdrant_url else args.path, url=args.qdrant_url)
    index = build_index(backend, store, docs=args.docs, batch_size=args.batch_size,
                        log=lambda line: print(line, flush=True))  # fmt: skip
    if args.ingest_only:
        return
    response = ask(index, args.question)
    for node in response.source_nodes:
        print(f"retrieved: {node.metadata.get('file_name')} (score {node.score:.2f})")
    print(f"answer: {response}")


if __name__ == "__main__":
    main(sys.argv[1:])
