"""The route table: every path the server serves, its handler, its error dialect and its documented shapes.
``app.py`` builds the Starlette routes from it and ``openapi.py`` the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from . import hf_inference, openai, tei, tgi
from .errors import Dialect
from .pipeline import Handler

__all__ = ["TaskRoute", "TASK_ROUTES"]


@dataclass(frozen=True)
class TaskRoute:
    """A POST route that runs a task: JSON (or a file, on ``binary`` routes) in, checked by the pipeline (content
    type, size, rate limit, faults)."""

    path: str
    handler: Handler
    dialect: Dialect
    summary: str
    tag: str
    #: The request body's model (None: the body depends on the task, see ``tasks.py``).
    request: type[BaseModel] | None = None
    #: The 200 answer: a model or type for JSON, ``"image/png"``; ``stream`` the model of one SSE event.
    response: Any = None
    stream: Any = None
    errors: tuple[int, ...] = field(default=(400, 413, 415, 422, 424, 429, 500, 501, 503))
    #: The body may also be a file (image, audio...) rather than JSON: hf-inference's binary-input tasks.
    binary: bool = False


TASK_ROUTES: tuple[TaskRoute, ...] = (
    TaskRoute("/generate", tgi.generate, "tgi", "Generate tokens", "TGI", tgi.GenerateRequest, tgi.GenerateResponse,
              errors=(413, 415, 422, 424, 429, 500, 503)),
    TaskRoute("/generate_stream", tgi.generate_stream, "tgi", "Generate a stream of tokens (server-sent events)", "TGI",
              tgi.GenerateRequest, stream=tgi.StreamResponse, errors=(413, 415, 422, 424, 429, 500, 503)),
    TaskRoute("/embed", tei.embed, "tei", "Get embeddings", "TEI", tei.EmbedRequest, list[list[float]],
              errors=(400, 413, 415, 422, 424, 429, 503)),
    TaskRoute("/predict", tei.predict, "tei", "Classify inputs", "TEI", tei.PredictRequest,
              list[tei.Prediction] | list[list[tei.Prediction]], errors=(400, 413, 415, 422, 424, 429, 503)),
    TaskRoute("/rerank", tei.rerank, "tei", "Rank texts against a query", "TEI", tei.RerankRequest, list[tei.Rank],
              errors=(400, 413, 415, 422, 424, 429, 503)),
    TaskRoute("/similarity", tei.similarity, "tei", "Similarity of sentences to a source sentence", "TEI",
              tei.SimilarityRequest, list[float], errors=(400, 413, 415, 422, 424, 429, 503)),
    TaskRoute("/v1/chat/completions", openai.chat, "openai", "Chat completion (OpenAI-compatible)", "OpenAI",
              openai.ChatRequest, openai.ChatCompletionBody, stream=openai.ChatChunkBody,
              errors=(413, 415, 422, 424, 429, 500, 503)),
    TaskRoute("/v1/completions", openai.completions, "openai", "Text completion (OpenAI-compatible)", "OpenAI",
              openai.CompletionRequest, openai.CompletionBody, stream=openai.CompletionBody,
              errors=(400, 413, 415, 422, 424, 429, 500, 503)),
    TaskRoute("/v1/embeddings", openai.embeddings, "openai", "Embeddings (OpenAI-compatible)", "OpenAI",
              openai.EmbeddingsRequest, openai.EmbeddingListBody, errors=(400, 413, 415, 422, 424, 429, 503)),
    TaskRoute("/models/{model_id:path}/v1/chat/completions", openai.chat, "openai",
              "Chat completion with a model in the path (hf-inference)", "hf-inference", openai.ChatRequest,
              openai.ChatCompletionBody, stream=openai.ChatChunkBody, errors=(413, 415, 422, 424, 429, 500, 503)),
    TaskRoute("/models/{model_id:path}/pipeline/{task}", hf_inference.model_route, "hf",
              "Run one of the model's tasks (hf-inference)", "hf-inference", binary=True),
    TaskRoute("/models/{model_id:path}", hf_inference.model_route, "hf", "Run the model's task (hf-inference)",
              "hf-inference", binary=True),
    TaskRoute("/", hf_inference.root_route, "hf", "Run the served model's task", "hf-inference", binary=True),
)  # fmt: skip
# Aliases real servers also answer (TEI: /embeddings; huggingface_hub appends /chat/completions after /v1).
ALIASES = {"/chat/completions": "/v1/chat/completions", "/embeddings": "/v1/embeddings"}
