"""Retrieval-augmented answers with LangChain: HFEmbeddings fill an InMemoryVectorStore, ChatHF answers.

Offline on the local backend: ``python examples/langchain_rag.py "How do I reset my password?"``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from hfbridge import Backend, LocalBackend
from hfbridge.langchain import ChatHF, HFEmbeddings

DOCS = Path(__file__).resolve().parent / "data" / "support_docs"

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer the question using only this context. Be brief.\n\nContext:\n{context}"),
        ("human", "{question}"),
    ]
)


def load_documents() -> list[Document]:
    return [
        Document(page_content=path.read_text(), metadata={"source": path.name}) for path in sorted(DOCS.glob("*.md"))
    ]


def build_chain(backend: Backend) -> tuple[Any, InMemoryVectorStore]:
    store = InMemoryVectorStore.from_documents(load_documents(), HFEmbeddings(backend=backend))
    retriever = store.as_retriever(search_kwargs={"k": 2})

    def join(documents: list[Document]) -> str:
        return "\n\n".join(document.page_content for document in documents)

    chain = (
        {"context": retriever | RunnableLambda(join), "question": RunnablePassthrough()}
        | PROMPT
        | ChatHF(backend=backend, max_tokens=80)
        | StrOutputParser()
    )
    return chain, store


def main() -> None:
    question = sys.argv[1] if len(sys.argv) > 1 else "How do I reset my password?"
    chain, store = build_chain(LocalBackend())
    for document in store.similarity_search(question, k=2):
        print(f"retrieved: {document.metadata['source']}")
    print(f"answer: {chain.invoke(question)}")


if __name__ == "__main__":
    main()
