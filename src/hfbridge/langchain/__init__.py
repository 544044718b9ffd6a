"""LangChain adapters (extra ``[langchain]``): chat model, LLM, embeddings and tools on any hfbridge backend."""

from .chat_models import ChatHF
from .embeddings import HFEmbeddings
from .llms import HFLLM
from .tools import HFTool, NERTool, TextClassificationTool, TextToImageTool, ZeroShotClassificationTool, hf_tools

__all__ = [
    "ChatHF",
    "HFLLM",
    "HFEmbeddings",
    "HFTool",
    "TextClassificationTool",
    "ZeroShotClassificationTool",
    "NERTool",
    "TextToImageTool",
    "hf_tools",
]
