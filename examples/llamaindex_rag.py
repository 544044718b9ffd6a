"""A LlamaIndex RAG pipeline over the support documents shipped in examples/data, offline on the local backend.

``python examples/llamaindex_rag.py "How do I reset my password?"``
"""

from __future__ import annotations

import sys
from pathlib import Path

from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.base.response.schema import Response

from hfbridge import Backend, LocalBackend
from hfbridge.llama_index import HFLLM, HFEmbedding

DOCS = Path(__file__).resolve().parent / "data" / "support_docs"


def build_index(backend: Backend) -> VectorStoreIndex:
    # Always set both: LlamaIndex's defaults need OpenAI packages and a key.
    Settings.llm = HFLLM(backend=backend, max_tokens=80)
    Settings.embed_model = HFEmbedding(backend=backend)
    documents = SimpleDirectoryReader(str(DOCS)).load_data()
    return VectorStoreIndex.from_documents(documents)


def ask(index: VectorStoreIndex, question: str) -> Response:
    response = index.as_query_engine(similarity_top_k=1).query(question)
    assert isinstance(response, Response)
    return response


def main() -> None:
    question = sys.argv[1] if len(sys.argv) > 1 else "How do I reset my password?"
    response = ask(build_index(LocalBackend()), question)
    for node in response.source_nodes:
        print(f"retrieved: {node.metadata.get('file_name')} (score {node.score:.2f})")
    print(f"answer: {response}")


if __name__ == "__main__":
    main()
