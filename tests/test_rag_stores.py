"""The RAG examples on real vector databases: embedded Qdrant (LangChain and LlamaIndex) and FAISS (LangChain).

Each store is filled by the example running as a separate process against the protocol server (which counts the
embedding requests it gets): a first run is killed half-way, a second resumes and embeds only the rest, a third
after one file changed embeds that file alone and drops its old point. The test process then reopens what the
examples persisted and queries it, with and without metadata filters.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from langchain_core.documents import Document

from hfbridge import HubBackend, LocalBackend
from hfbridge.ingest import QdrantWriter, stable_id
from hfbridge.langchain import HFEmbeddings
from hfbridge.server import ServerThread, create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import langchain_rag
import llamaindex_rag

EXAMPLES = Path(langchain_rag.__file__).parent

pytestmark = pytest.mark.filterwarnings("ignore:.*langchain-community.*:DeprecationWarning")

BATCH = 4
EXTRA_DOCS = 18  # with the 6 support documents: 24 documents, 6 batches


@pytest.fixture(scope="module")
def server(local_backend: LocalBackend) -> Iterator[ServerThread]:
    with ServerThread(create_app(local_backend)) as running:
        yield running


def set_faults(server: ServerThread, plan: dict[str, Any]) -> None:
    httpx2.put(f"{server.url}/_hfbridge/faults", json=plan, timeout=10).raise_for_status()


def requests_seen(server: ServerThread) -> int:
    return int(httpx2.get(f"{server.url}/_hfbridge/faults", timeout=10).json()["stats"].get("requests", 0))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The six support documents plus synthetic ones: enough for several batches."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for source in (EXAMPLES / "data" / "support_docs").glob("*.md"):
        (docs / source.name).write_text(source.read_text())
    for i in range(EXTRA_DOCS):
        (docs / f"note{i:02d}.md").write_text(f"# Warehouse note {i}\n\nShelf {i} in aisle {i % 5} holds item {i}.\n")
    return docs


def example(script: str, store_args: list[str], docs: Path, server: ServerThread) -> list[str]:
    return [sys.executable, str(EXAMPLES / script), "--ingest-only", "--docs", str(docs), "--backend", server.url,
            "--batch-size", str(BATCH), *store_args]  # fmt: skip


def run(command: list[str], cwd: Path) -> str:
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_TOKEN", None)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def run_and_kill(command: list[str], cwd: Path, after_line: str) -> list[str]:
    """Start the example, and SIGKILL it (no clean-up of any kind) once it has printed ``after_line``."""
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("HF_TOKEN", None)
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)  # fmt: skip
    lines: list[str] = []
    guard = time.monotonic() + 300  # a hang guard, not a measurement
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.strip())
            if line.strip() == after_line or time.monotonic() > guard:
                break
        assert lines and lines[-1] == after_line, f"the example never printed {after_line!r}: {lines}"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return lines


STORES = {
    "langchain-qdrant": ("langchain_rag.py", ["--store", "qdrant"]),
    "langchain-faiss": ("langchain_rag.py", ["--store", "faiss"]),
    "llamaindex-qdrant": ("llamaindex_rag.py", []),
}


@pytest.mark.parametrize("kind", list(STORES))
def test_interrupted_run_resumes_and_reruns_embed_only_what_changed(
    kind: str, corpus: Path, server: ServerThread, tmp_path: Path
) -> None:
    script, store_args = STORES[kind]
    command = example(script, [*store_args, "--path", str(tmp_path / "store")], docs=corpus, server=server)
    total = 6 + EXTRA_DOCS
    unit = "nodes" if kind.startswith("llamaindex") else "documents"

    # Run 1: the third batch's request stalls on the server, and the process is killed while it waits.
    # LangChain's paths first embed one probe text to size the new collection / index: one request more.
    probe = 0 if kind.startswith("llamaindex") else 1
    set_faults(server, {"script": [None] * (probe + 2) + [{"kind": "stall", "stall_seconds": 60}]})
    lines = run_and_kill(command, tmp_path, f"stored {2 * BATCH}/{total}")
    assert lines[0] == f"0 {unit} already stored, {total} to embed"

    # Run 2 resumes: only what was not stored is sent, BATCH texts a request, and no probe.
    set_faults(server, {})
    out = run(command, tmp_path).splitlines()
    if kind == "langchain-faiss":
        # FAISS writes its files at the end, so they hold nothing yet; the result cache has the first two batches.
        assert out[0] == f"0 {unit} already stored, {total} to embed" and out[-1] == f"stored {total}/{total}"
    else:
        left = total - 2 * BATCH
        assert out[0] == f"{2 * BATCH} {unit} already stored, {left} to embed" and out[-1] == f"stored {left}/{left}"
    assert requests_seen(server) == (total - 2 * BATCH) // BATCH

    # Run 3, in this process, after one file changed: that file alone is embedded and its old point dropped;
    # run 4 finds nothing to do and sends nothing. Then the persisted store answers queries and filters.
    (corpus / "hours.md").write_text("# Opening hours\n\nSupport is open every day from 9:00 to 17:00.\n")
    backend = HubBackend(base_url=server.url)
    if kind == "llamaindex-qdrant":
        check_llamaindex_store(tmp_path / "store", corpus, backend, server)
    else:
        check_langchain_store(kind, tmp_path / "store", corpus, backend, server)


def check_langchain_store(kind: str, path: Path, corpus: Path, backend: HubBackend, server: ServerThread) -> None:
    embeddings = HFEmbeddings(backend=backend)
    documents = langchain_rag.load_documents(corpus)
    if kind == "langchain-faiss":
        store = langchain_rag.open_faiss(embeddings, path)
    else:
        store = langchain_rag.open_qdrant(embeddings, path=path)
    try:
        set_faults(server, {})
        assert langchain_rag.ingest(store, documents, batch_size=BATCH, log=lambda _: None) == (1, 1)
        assert langchain_rag.ingest(store, documents, batch_size=BATCH, log=lambda _: None) == (0, 0)
        assert requests_seen(server) == 1
        assert langchain_rag.stored_ids(store) == {langchain_rag.document_id(d) for d in documents}
        assert len(langchain_rag.stored_ids(store)) == len(documents)
        hit = store.similarity_search("How do I reset my password?", k=1)[0]
        assert hit.metadata["source"] == "passwords.md"
        assert store.similarity_search("When is support open?", k=1)[0].page_content.startswith("# Opening hours")
        only_billing = _source_filter(kind, "billing.md")
        found = store.similarity_search("How do I reset my password?", k=3, filter=only_billing)
        assert [d.metadata["source"] for d in found] == ["billing.md"]
    finally:
        if kind != "langchain-faiss":
            store.client.close()  # type: ignore[attr-defined]


def _source_filter(kind: str, source: str) -> Any:
    if kind == "langchain-faiss":
        return {"source": source}
    from qdrant_client import models

    return models.Filter(must=[models.FieldCondition(key="metadata.source", match=models.MatchValue(value=source))])


def check_llamaindex_store(path: Path, corpus: Path, backend: HubBackend, server: ServerThread) -> None:
    from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters

    store = llamaindex_rag.open_store(path=path)
    try:
        set_faults(server, {})
        index = llamaindex_rag.build_index(backend, store, docs=corpus, batch_size=BATCH, log=lambda _: None)
        nodes = llamaindex_rag.load_nodes(corpus)
        assert llamaindex_rag.ingest(store, nodes, batch_size=BATCH, log=lambda _: None) == (0, 0)
        assert requests_seen(server) == 1
        stored = QdrantWriter(store.collection_name, client=store.client).stored_ids()
        assert stored == {node.node_id for node in nodes} and len(stored) == len(nodes)
        hit = index.as_retriever(similarity_top_k=1).retrieve("How do I reset my password?")[0]
        assert hit.node.metadata["file_name"] == "passwords.md"
        hours = index.as_retriever(similarity_top_k=1).retrieve("When is support open?")[0]
        assert hours.node.get_content().startswith("# Opening hours")
        only_billing = MetadataFilters(filters=[ExactMatchFilter(key="file_name", value="billing.md")])
        found = index.as_retriever(similarity_top_k=3, filters=only_billing).retrieve("How do I reset my password?")
        assert [n.node.metadata["file_name"] for n in found] == ["billing.md"]
    finally:
        store.client.close()


def test_document_ids_depend_on_source_and_content_only() -> None:
    a = Document(page_content="Refunds take 5 days.", metadata={"source": "refunds.md"})
    b = Document(page_content="Refunds take 5 days.", metadata={"source": "refunds.md", "other": 1})
    c = Document(page_content="Refunds take 5 days.", metadata={"source": "billing.md"})
    assert langchain_rag.document_id(a) == langchain_rag.document_id(b) == stable_id("Refunds take 5 days.",
                                                                                      "refunds.md")  # fmt: skip
    assert langchain_rag.document_id(a) != langchain_rag.document_id(c)
    # LlamaIndex node ids: the same files give the same ids whatever order they are loaded in.
    nodes = llamaindex_rag.load_nodes()
    assert [n.node_id for n in nodes] == [n.node_id for n in llamaindex_rag.load_nodes()]
    assert len({n.node_id for n in nodes}) == len(nodes)
