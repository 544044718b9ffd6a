"""LlamaIndex adapters (extra ``[llamaindex]``): function-calling LLM, embeddings and a tool spec."""

from .embeddings import HFEmbedding
from .llms import HFLLM
from .tools import HFToolSpec

__all__ = ["HFLLM", "HFEmbedding", "HFToolSpec"]
