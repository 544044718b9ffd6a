"""Retrieval-augmented answers with LangChain over a real vector database: Qdrant, embedded on disk.

    python examples/langchain_rag.py "How do I reset my password?"               # Qdrant in .hfbridge-rag/
    python examples/langchain_rag.py --qdrant-url http://localhost:6333 "..."    # a Qdrant server or cluster
    python examples/langchain_rag.py --store faiss "How do I reset my password?" # FAISS files instead

The first run embeds the documents of ``--docs`` (examples/data/support_docs) with ``HFEmbeddings`` and stores
them; a re-run embeds only what is new or changed (each point's id comes from its source and content) and drops
what left the folder. Qdrant stores each batch as soon as it is embedded, so an interrupted run resumes where it
stopped; FAISS writes its files at the end, and a resumed run takes the vectors it already had from hfbridge's
result cache (``embeddings.sqlite`` beside the index) instead of embedding them again. Offline on the local
backend by default; ``--backend`` takes a URL (TEI, ``hfbridge serve``) or a Hub model id.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import VectorStore

from hfbridge import Backend, backend_from_spec
from hfbridge.cache import SQLiteCache
from hfbridge.ingest import QdrantWriter, stable_id
from hfbridge.langchain import ChatHF, HFEmbeddings

DOCS = Path(__file__).resolve().parent / "data" / "support_docs"
COLLECTION = "support_docs"

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer the question using only this context. Be brief.\n\nContext:\n{context}"),
        ("human", "{question}"),
    ]
)


def load_documents(docs: Path = DOCS) -> list[Document]:
    """One document per Markdown file (these are short; split longer ones with a text splitter first)."""
    return [
        Document(page_content=path.read_text(encoding="utf-8"), metadata={"source": path.name})
        for path in sorted(docs.glob("*.md"))
    ]


def document_id(document: Document) -> str:
    """The same source and content give the same id on every run and machine: stored once, found again."""
    return stable_id(document.page_content, source=document.metadata["source"])


# ------------------------------------------------------------------------------------------------ stores
def open_qdrant(embeddings: Embeddings, *, path: Path | None = None, url: str | None = None,
                collection: str = COLLECTION) -> VectorStore:  # fmt: skip
    """A ``QdrantVectorStore`` on an embedded folder (``path``) or a server (``url``), created on first use."""
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    client = QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY")) if url else QdrantClient(path=str(path))
    if client.collection_exists(collection):
        # LangChain's check of an existing collection embeds a probe text on every open; Qdrant itself refuses
        # vectors of another size, so skip it and let a re-run with nothing new send nothing at all.
        return QdrantVectorStore(client, collection, embeddings, validate_collection_config=False)
    size = len(embeddings.embed_query("dimension probe"))
    client.create_collection(collection, vectors_config=models.VectorParams(size=size, distance=models.Distance.COSINE))
    return QdrantVectorStore(client, collection, embeddings, validate_collection_config=False)


def open_faiss(embeddings: Embeddings, path: Path) -> VectorStore:
    """A FAISS index saved in ``path`` (our own file: loading it unpickles its docstore), or a new empty one."""
    import faiss
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS

    if (path / "index.faiss").exists():
        return FAISS.load_local(str(path), embeddings, allow_dangerous_deserialization=True)
    size = len(embeddings.embed_query("dimension probe"))
    return FAISS(embeddings, faiss.IndexFlatL2(size), InMemoryDocstore(), {})


def save_faiss(store: Any, path: Path) -> None:
    """Write the index beside the old one, then swap, so a crash never leaves half of each."""
    fresh = path.with_name(path.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    store.save_local(str(fresh))
    shutil.rmtree(path, ignore_errors=True)
    fresh.rename(path)


def stored_ids(store: VectorStore) -> set[str]:
    """Every id the store holds (Qdrant: ids only, scrolled; FAISS: its docstore mapping)."""
    if hasattr(store, "index_to_docstore_id"):  # FAISS
        return set(store.index_to_docstore_id.values())
    return QdrantWriter(store.collection_name, client=store.client).stored_ids()  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ ingest
def ingest(store: VectorStore, documents: Sequence[Document], *, batch_size: int = 16,
           log: Callable[[str], None] = print) -> tuple[int, int]:  # fmt: skip
    """Make ``store`` hold exactly ``documents``: embed and add the missing ones, batch by batch; delete the
    ones no longer there. Returns how many were embedded and how many deleted."""
    ids = [document_id(document) for document in documents]
    present = stored_ids(store)
    todo = [(point_id, document) for point_id, document in zip(ids, documents, strict=True) if point_id not in present]
    log(f"{len(documents) - len(todo)} documents already stored, {len(todo)} to embed")
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        store.add_documents([document for _, document in batch], ids=[point_id for point_id, _ in batch])
        log(f"stored {start + len(batch)}/{len(todo)}")
    stale = sorted(present - set(ids))
    if stale:
        store.delete(stale)
        log(f"deleted {len(stale)} documents no longer in the folder")
    return len(todo), len(stale)


def build_chain(backend: Backend, store: VectorStore) -> Any:
    retriever = store.as_retriever(search_kwargs={"k": 2})

    def join(documents: list[Document]) -> str:
        return "\n\n".join(document.page_content for document in documents)

    return (
        {"context": retriever | RunnableLambda(join), "question": RunnablePassthrough()}
        | PROMPT
        | ChatHF(backend=backend, max_tokens=80)
        | StrOutputParser()
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("question", nargs="?", default="How do I reset my password?")
    parser.add_argument("--store", choices=["qdrant", "faiss"], default="qdrant")
    parser.add_argument("--path", type=Path, default=None, help="where the store lives (default .hfbridge-rag/...)")
    parser.add_argument("--qdrant-url", default=None, help="a Qdrant server instead of the embedded folder")
    parser.add_argument("--docs", type=Path, default=DOCS, help="a folder of .md files")
    parser.add_argument("--backend", default="local", help="'local', a URL, or a Hub model id")
    parser.add_argument("--batch-size", type=int, default=16, help="documents embedded and stored at a time")
    parser.add_argument("--ingest-only", action="store_true", help="store the documents, ask nothing")
    args = parser.parse_args(argv)
    path = args.path or Path(".hfbridge-rag") / f"langchain-{args.store}"

    cache = SQLiteCache(path.with_name(path.name + "-embeddings.sqlite")) if args.store == "faiss" else None
    backend = backend_from_spec(args.backend, cache=cache)
    embeddings = HFEmbeddings(backend=backend)
    if args.store == "faiss":
        store = open_faiss(embeddings, path)
    else:
        store = open_qdrant(embeddings, path=None if args.qdrant_url else path, url=args.qdrant_url)
    changes = ingest(store, load_documents(args.docs), batch_size=args.batch_size,
                     log=lambda line: print(line, flush=True))  # fmt: skip
    if args.store == "faiss" and any(changes):
        save_faiss(store, path)
    if args.ingest_only:
        return
    for document in store.similarity_search(args.question, k=2):
        print(f"retrieved: {document.metadata['source']}")
    print(f"answer: {build_chain(backend, store).invoke(args.question)}")


if __name__ == "__main__":
    main(sys.argv[1:])
