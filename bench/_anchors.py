"""The integrations we compare against, installed only for benchmarks (scripts/bench.sh puts them in
.bench-anchors with --no-deps: their pins exclude huggingface_hub 2.x, which they import and run on)."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ANCHORS_DIR = Path(__file__).resolve().parent.parent / ".bench-anchors"


def load() -> dict[str, Any]:
    """Import what is installed; a missing anchor is reported, not fatal."""
    if ANCHORS_DIR.is_dir() and str(ANCHORS_DIR) not in sys.path:
        sys.path.append(str(ANCHORS_DIR))
    found: dict[str, Any] = {}
    try:
        from langchain_huggingface import HuggingFaceEndpointEmbeddings

        found["langchain-huggingface HuggingFaceEndpointEmbeddings"] = HuggingFaceEndpointEmbeddings
    except Exception as error:  # pragma: no cover - depends on the benchmark environment
        found["langchain-huggingface HuggingFaceEndpointEmbeddings"] = error
    try:
        from llama_index.embeddings.huggingface_api import HuggingFaceInferenceAPIEmbedding

        found["llama-index HuggingFaceInferenceAPIEmbedding"] = HuggingFaceInferenceAPIEmbedding
    except Exception as error:  # pragma: no cover
        found["llama-index HuggingFaceInferenceAPIEmbedding"] = error
    return found


@contextmanager
def quiet_asyncio() -> Iterator[None]:
    """The llama-index anchor leaves failed tasks that each log a traceback when collected ("Task exception was
    never retrieved"): collect them here, silently; the failure is reported in the table."""
    asyncio_logger = logging.getLogger("asyncio")
    level = asyncio_logger.level
    asyncio_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        gc.collect()
        asyncio_logger.setLevel(level)
