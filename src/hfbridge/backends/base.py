"""The interface every backend implements, and the behaviour they all share.

A backend turns one *request* into one *result* with a primitive (``_chat``, ``_embed``...). This base class
owns everything around the primitives that must behave the same on every backend: input validation, batching
and concurrency of embeddings, retry and rate limiting (:class:`~hfbridge.retry.Retrier`). Sync methods never
start an event loop, so they are safe inside a running one (Jupyter, FastAPI); async twins are ``a``-prefixed.
"""

from __future__ import annotations

import asyncio
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

from .. import _settings as setting
from .. import _validation as check
from ..cache import ResultCache, cache_key
from ..errors import HFBridgeError, UnsupportedTaskError
from ..ratelimit import RateLimit
from ..retry import Retrier, RetryPolicy
from ..types import (
    ChatCompletion,
    ChatCompletionChunk,
    ClassificationLabel,
    EntityGroup,
    TextGeneration,
    TextGenerationChunk,
)

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "Backend", "ChatRequest", "GenerationRequest", "EmbeddingOptions", "ImageRequest",
    "ChatOptions", "GenerationOptions", "EmbeddingKwargs", "ImageOptions",
]  # fmt: skip


Item = TypeVar("Item")
Result = TypeVar("Result")


class ChatOptions(TypedDict, total=False):
    """Keyword arguments of every chat method (sync, async, streaming)."""

    model: str | None
    tools: Sequence[dict[str, Any]] | None
    tool_choice: Any
    response_format: dict[str, Any] | None
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    stop: str | Sequence[str] | None
    seed: int | None


class GenerationOptions(TypedDict, total=False):
    """Keyword arguments of every text-generation method."""

    model: str | None
    max_new_tokens: int | None
    temperature: float | None
    top_p: float | None
    stop: str | Sequence[str] | None
    seed: int | None


class EmbeddingKwargs(TypedDict, total=False):
    """Keyword arguments of ``feature_extraction`` / ``afeature_extraction``; ``batch_size`` overrides the
    backend's texts-per-request for this call."""

    batch_size: int | None
    show_progress: bool
    model: str | None
    normalize: bool | None
    truncate: bool | None
    prompt_name: str | None


class ImageOptions(TypedDict, total=False):
    """Keyword arguments of ``text_to_image`` / ``atext_to_image``; ``extra`` is sent as provider parameters."""

    model: str | None
    negative_prompt: str | None
    width: int | None
    height: int | None
    num_inference_steps: int | None
    guidance_scale: float | None
    seed: int | None
    extra: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    model: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    model: str | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    details: bool = True


@dataclass(frozen=True)
class EmbeddingOptions:
    model: str | None = None
    normalize: bool | None = None
    truncate: bool | None = None
    prompt_name: str | None = None


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    model: str | None = None
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _stop_list(stop: str | Sequence[str] | None) -> list[str] | None:
    if stop is None:
        return None
    return [stop] if isinstance(stop, str) else list(stop)


class Backend(ABC):
    """Base of :class:`~hfbridge.HubBackend` and :class:`~hfbridge.LocalBackend`.

    Args:
        retry: the :class:`RetryPolicy` applied to every request.
        rate_limit: a :class:`RateLimit` shared by every thread and task using this backend.
        batch_size: texts per embedding request.
        max_concurrency: embedding requests in flight at once.
        max_input_chars: the longest single text accepted (embeddings cut longer texts when ``truncate``).
        max_labels: the most candidate labels accepted by zero-shot classification.
        cache: an opt-in :class:`~hfbridge.cache.ResultCache` for embeddings and classification results.
    """

    #: A short name used in logs and by the protocol server.
    name: str = "backend"

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
        batch_size: int = 32,
        max_concurrency: int = 4,
        max_input_chars: int = check.DEFAULT_MAX_INPUT_CHARS,
        max_labels: int = check.DEFAULT_MAX_LABELS,
        cache: ResultCache | None = None,
    ) -> None:
        self.retry_policy = setting.instance(retry, RetryPolicy, "retry") or RetryPolicy()
        self.rate_limit = setting.instance(rate_limit, RateLimit, "rate_limit")
        self.batch_size = setting.count(batch_size, "batch_size")
        self.max_concurrency = setting.count(max_concurrency, "max_concurrency")
        self.max_input_chars = setting.count(max_input_chars, "max_input_chars")
        self.max_labels = setting.count(max_labels, "max_labels")
        self._retrier = Retrier(self.retry_policy, rate_limit)
        self.cache = setting.instance(cache, ResultCache, "cache")

    # =================================================================================================== cache
    def _cached(self, task: str, params: dict[str, Any], value: Any, compute: Callable[[], Any],
                load: Callable[[Any], Any], dump: Callable[[Any], Any]) -> Any:  # fmt: skip
        if self.cache is None:
            return compute()
        key = cache_key(task, value, target=self._cache_target(task), params=params)
        found = self.cache.get_many([key], task, accept=lambda raw: load(raw) is not None)
        if key in found:
            return load(found[key])
        result = compute()
        self.cache.put_many({key: dump(result)})
        return result

    async def _acached(self, task: str, params: dict[str, Any], value: Any, compute: Callable[[], Awaitable[Any]],
                       load: Callable[[Any], Any], dump: Callable[[Any], Any]) -> Any:  # fmt: skip
        if self.cache is None:
            return await compute()
        key = cache_key(task, value, target=self._cache_target(task), params=params)
        found = self.cache.get_many([key], task, accept=lambda raw: load(raw) is not None)
        if key in found:
            return load(found[key])
        result = await compute()
        self.cache.put_many({key: dump(result)})
        return result

    def _embedding_keys(self, texts: list[str], options: EmbeddingOptions) -> list[str]:
        params = {"model": options.model, "normalize": options.normalize, "truncate": options.truncate,
                  "prompt_name": options.prompt_name}  # fmt: skip
        target = self._cache_target("feature-extraction")
        return [cache_key("feature-extraction", text, target=target, params=params) for text in texts]

    def _cache_target(self, task: str) -> dict[str, Any]:
        """Where a request for ``task`` goes, as far as it decides the answer (part of every cache key)."""
        return {"backend": self.name, "model": self.model_id}

    # ================================================================================================ primitives
    # One request each. Sync ones are required; async defaults run the sync one in a worker thread, which is
    # right for in-process models and overridden by backends with real async I/O.
    @property
    @abstractmethod
    def model_id(self) -> str:
        """The model (or URL) used when a call passes no ``model=``."""

    @abstractmethod
    def _chat(self, request: ChatRequest) -> ChatCompletion: ...

    @abstractmethod
    def _stream_chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]: ...

    @abstractmethod
    def _generate(self, request: GenerationRequest) -> TextGeneration: ...

    @abstractmethod
    def _stream_generate(self, request: GenerationRequest) -> Iterator[TextGenerationChunk]: ...

    @abstractmethod
    def _embed(self, texts: list[str], options: EmbeddingOptions) -> list[list[float]]: ...

    @abstractmethod
    def _classify(self, text: str, top_k: int | None, model: str | None) -> list[ClassificationLabel]: ...

    @abstractmethod
    def _zero_shot(
        self, text: str, labels: list[str], multi_label: bool, hypothesis_template: str | None, model: str | None
    ) -> list[ClassificationLabel]: ...

    @abstractmethod
    def _ner(self, text: str, model: str | None) -> list[EntityGroup]: ...

    @abstractmethod
    def _similarity(self, source: str, sentences: list[str], model: str | None) -> list[float]: ...

    def _text_to_image(self, request: ImageRequest) -> Image:
        raise UnsupportedTaskError(f"{type(self).__name__} has no text-to-image model")

    async def _achat(self, request: ChatRequest) -> ChatCompletion:
        return await asyncio.to_thread(self._chat, request)

    async def _astream_chat(self, request: ChatRequest) -> AsyncIterator[ChatCompletionChunk]:
        return _iterate_in_thread(self._stream_chat(request))

    async def _agenerate(self, request: GenerationRequest) -> TextGeneration:
        return await asyncio.to_thread(self._generate, request)

    async def _astream_generate(self, request: GenerationRequest) -> AsyncIterator[TextGenerationChunk]:
        return _iterate_in_thread(self._stream_generate(request))

    async def _aembed(self, texts: list[str], options: EmbeddingOptions) -> list[list[float]]:
        return await asyncio.to_thread(self._embed, texts, options)

    async def _aclassify(self, text: str, top_k: int | None, model: str | None) -> list[ClassificationLabel]:
        return await asyncio.to_thread(self._classify, text, top_k, model)

    async def _azero_shot(
        self, text: str, labels: list[str], multi_label: bool, hypothesis_template: str | None, model: str | None
    ) -> list[ClassificationLabel]:
        return await asyncio.to_thread(self._zero_shot, text, labels, multi_label, hypothesis_template, model)

    async def _aner(self, text: str, model: str | None) -> list[EntityGroup]:
        return await asyncio.to_thread(self._ner, text, model)

    async def _asimilarity(self, source: str, sentences: list[str], model: str | None) -> list[float]:
        return await asyncio.to_thread(self._similarity, source, sentences, model)

    async def _atext_to_image(self, request: ImageRequest) -> Image:
        return await asyncio.to_thread(self._text_to_image, request)

    def check_chat_support(  # noqa: B027 - optional hook: most backends know nothing ahead
        self, *, model: str | None = None, tools: bool = False, response_format: bool = False
    ) -> None:
        """Raise :class:`~hfbridge.errors.UnsupportedTaskError` now if chat with these features cannot work here.

        Adapters call it when tools or a response format are bound, so a mismatch fails at set-up with a clear
        message instead of as an HTTP 422 in the middle of an agent run. Backends that know nothing ahead accept.
        """

    def close(self) -> None:  # noqa: B027 - optional hook: backends without resources need not override it
        """Release clients and models. The backend stays usable: they are re-created on the next call."""

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # =============================================================================== concurrency of many calls
    def _map(self, call: Callable[[Item], Result], items: Sequence[Item], what: str) -> list[Result]:
        """``call`` on every item, each retried on its own, ``max_concurrency`` in flight (threads), in order.

        When an item fails for good, no further item is started (items in flight finish) and its error is raised
        with ``partial``: every item's result by position, ``None`` for the failed and the unstarted ones.
        """
        failures: list[Exception] = []

        def run(item: Item) -> Result | Exception | _Skipped:
            if failures:
                return _SKIPPED
            try:
                return self._retrier.call(lambda: call(item), what)
            except Exception as error:
                failures.append(error)
                return error

        if len(items) == 1 or self.max_concurrency == 1:
            return _completed([run(item) for item in items], failures)
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(items))) as pool:
            return _completed(list(pool.map(run, items)), failures)

    async def _amap(self, call: Callable[[Item], Awaitable[Result]], items: Sequence[Item], what: str) -> list[Result]:
        semaphore = asyncio.Semaphore(self.max_concurrency)
        failures: list[Exception] = []

        async def run(item: Item) -> Result | Exception | _Skipped:
            async with semaphore:
                if failures:
                    return _SKIPPED
                try:
                    return await self._retrier.acall(lambda: call(item), what)
                except Exception as error:
                    failures.append(error)
                    return error

        return _completed(list(await asyncio.gather(*(run(item) for item in items))), failures)

    # ===================================================================================== request building
    def _chat_request(self, messages: Any, **kwargs: Any) -> ChatRequest:
        tools = check.normalize_tools(kwargs.pop("tools", None))
        tool_choice = check.normalize_tool_choice(kwargs.pop("tool_choice", None), tools)
        if kwargs.get("max_tokens") is not None and kwargs["max_tokens"] < 1:
            raise check.InvalidInputError("max_tokens must be at least 1")
        return ChatRequest(
            messages=check.normalize_messages(messages),
            tools=tools,
            tool_choice=tool_choice,
            stop=_stop_list(kwargs.pop("stop", None)),
            **kwargs,
        )

    def _generation_request(self, prompt: Any, **kwargs: Any) -> GenerationRequest:
        check.check_text(prompt, "prompt", max_chars=max(self.max_input_chars, 1_000_000))
        if kwargs.get("max_new_tokens") is not None and kwargs["max_new_tokens"] < 1:
            raise check.InvalidInputError("max_new_tokens must be at least 1")
        return GenerationRequest(prompt=prompt, stop=_stop_list(kwargs.pop("stop", None)), **kwargs)

    # ================================================================================================ chat
    def chat_completion(self, messages: Sequence[Any], **options: Unpack[ChatOptions]) -> ChatCompletion:
        """OpenAI-compatible chat. ``messages`` are :class:`ChatMessage` objects or OpenAI dicts (not mutated).

        Options: ``model``, ``tools`` (OpenAI function tools), ``tool_choice`` (``"auto"``, ``"none"``,
        ``"required"``/``"any"``, a tool name or an OpenAI dict), ``response_format`` (``json_object``,
        ``json_schema``, or TGI's ``{"type": "json", "value": schema}``), ``max_tokens``, ``temperature``,
        ``top_p``, ``stop``, ``seed``.
        """
        request = self._chat_request(messages, **options)
        return self._retrier.call(lambda: self._chat(request), "chat_completion")

    async def achat_completion(self, messages: Sequence[Any], **options: Unpack[ChatOptions]) -> ChatCompletion:
        request = self._chat_request(messages, **options)
        return await self._retrier.acall(lambda: self._achat(request), "chat_completion")

    def stream_chat_completion(
        self, messages: Sequence[Any], **options: Unpack[ChatOptions]
    ) -> Iterator[ChatCompletionChunk]:
        """Stream chat chunks (content and tool-call deltas); the last one carries ``finish_reason`` and usage.

        Takes the keyword arguments of :meth:`chat_completion`. Retried until the first chunk arrives; a failure
        after that raises :class:`~hfbridge.errors.StreamInterruptedError` with the text received so far.
        """
        request = self._chat_request(messages, **options)
        return self._retrier.stream(lambda: self._stream_chat(request), _chunk_text, "chat_completion")

    def astream_chat_completion(
        self, messages: Sequence[Any], **options: Unpack[ChatOptions]
    ) -> AsyncIterator[ChatCompletionChunk]:
        request = self._chat_request(messages, **options)
        return self._retrier.astream(lambda: self._astream_chat(request), _chunk_text, "chat_completion")

    # ====================================================================================== text generation
    def text_generation(self, prompt: str, **options: Unpack[GenerationOptions]) -> TextGeneration:
        """Continue ``prompt`` (TGI protocol), with details: finish reason and token counts.

        Options: ``model``, ``max_new_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``.
        """
        request = self._generation_request(prompt, **options)
        return self._retrier.call(lambda: self._generate(request), "text_generation")

    async def atext_generation(self, prompt: str, **options: Unpack[GenerationOptions]) -> TextGeneration:
        request = self._generation_request(prompt, **options)
        return await self._retrier.acall(lambda: self._agenerate(request), "text_generation")

    def text_generation_batch(
        self, prompts: Sequence[str], **options: Unpack[GenerationOptions]
    ) -> list[TextGeneration]:
        """Generate for many prompts, ``max_concurrency`` at a time, each retried on its own; results in order."""
        requests = [self._generation_request(prompt, **options) for prompt in _as_list(prompts, "prompts")]
        return self._map(self._generate, requests, "text_generation")

    async def atext_generation_batch(
        self, prompts: Sequence[str], **options: Unpack[GenerationOptions]
    ) -> list[TextGeneration]:
        requests = [self._generation_request(prompt, **options) for prompt in _as_list(prompts, "prompts")]
        return await self._amap(self._agenerate, requests, "text_generation")

    def stream_text_generation(
        self, prompt: str, **options: Unpack[GenerationOptions]
    ) -> Iterator[TextGenerationChunk]:
        """Stream tokens; the last chunk has ``generated_text`` and ``finish_reason``. Same retry rule as chat."""
        request = self._generation_request(prompt, **options)
        return self._retrier.stream(lambda: self._stream_generate(request), _token_text, "text_generation")

    def astream_text_generation(
        self, prompt: str, **options: Unpack[GenerationOptions]
    ) -> AsyncIterator[TextGenerationChunk]:
        request = self._generation_request(prompt, **options)
        return self._retrier.astream(lambda: self._astream_generate(request), _token_text, "text_generation")

    # ============================================================================================ embeddings
    def feature_extraction(self, texts: Sequence[str], **options: Unpack[EmbeddingKwargs]) -> list[list[float]]:
        """Embed many texts: ``batch_size`` texts a request, ``max_concurrency`` requests in flight, in order.

        Each batch is retried on its own, so a transient failure costs one batch, not the job. A batch that fails
        for good stops the job (no further batch is sent) and its typed error carries ``partial``: the vectors that
        were finished, one per text, ``None`` for the others; with a cache they are kept, so a re-run sends only
        the rest. Texts longer than ``max_input_chars`` are cut when ``truncate`` is true (the default) and
        rejected otherwise. With a cache, only texts not seen before are sent. ``show_progress`` draws a
        progress bar.
        """
        resolved, checked = self._checked_embedding_input(texts, options)
        if self.cache is None:
            return self._embed_checked(checked, resolved, options)
        keys = self._embedding_keys(checked, resolved)
        found = self.cache.get_many(keys, "feature_extraction", accept=_is_vector)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            try:
                vectors = self._embed_checked([checked[i] for i in missing], resolved, options)
            except HFBridgeError as error:
                self._keep_partial(keys, missing, found, error)
                raise
            found.update(self._remember(keys, missing, vectors))
        return [found[key] for key in keys]

    async def afeature_extraction(self, texts: Sequence[str], **options: Unpack[EmbeddingKwargs]) -> list[list[float]]:
        resolved, checked = self._checked_embedding_input(texts, options)
        if self.cache is None:
            return await self._aembed_checked(checked, resolved, options)
        keys = self._embedding_keys(checked, resolved)
        found = self.cache.get_many(keys, "feature_extraction", accept=_is_vector)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            try:
                vectors = await self._aembed_checked([checked[i] for i in missing], resolved, options)
            except HFBridgeError as error:
                self._keep_partial(keys, missing, found, error)
                raise
            found.update(self._remember(keys, missing, vectors))
        return [found[key] for key in keys]

    def _checked_embedding_input(self, texts: Any, options: EmbeddingKwargs) -> tuple[EmbeddingOptions, list[str]]:
        resolved = _embedding_options(options)
        truncate = resolved.truncate if resolved.truncate is not None else True
        return resolved, check.check_texts(texts, max_chars=self.max_input_chars, truncate=truncate)

    def _batches(self, texts: list[str], batch_size: int | None) -> list[list[str]]:
        size = batch_size or self.batch_size
        if size < 1:
            raise check.InvalidInputError("batch_size must be at least 1")
        return [texts[i : i + size] for i in range(0, len(texts), size)]

    def _embed_checked(
        self, texts: list[str], resolved: EmbeddingOptions, options: EmbeddingKwargs
    ) -> list[list[float]]:
        batches = self._batches(texts, options.get("batch_size"))
        with _Progress(batches, options.get("show_progress", False)) as progress, _partial_per_text(batches):
            results = self._map(
                lambda batch: progress.done(batch, self._embed(batch, resolved)), batches, "feature_extraction"
            )
        return [vector for batch in results for vector in batch]

    async def _aembed_checked(
        self, texts: list[str], resolved: EmbeddingOptions, options: EmbeddingKwargs
    ) -> list[list[float]]:
        batches = self._batches(texts, options.get("batch_size"))

        async def embed(batch: list[str]) -> list[list[float]]:
            return progress.done(batch, await self._aembed(batch, resolved))

        with _Progress(batches, options.get("show_progress", False)) as progress, _partial_per_text(batches):
            results = await self._amap(embed, batches, "feature_extraction")
        return [vector for batch in results for vector in batch]

    def _remember(self, keys: list[str], missing: list[int], vectors: list[list[float]]) -> dict[str, Any]:
        fresh = {keys[i]: vector for i, vector in zip(missing, vectors, strict=True)}
        if self.cache is not None:
            self.cache.put_many(fresh)
        return fresh

    def _keep_partial(self, keys: list[str], missing: list[int], found: dict[str, Any], error: HFBridgeError) -> None:
        """A job that failed part-way: cache what was finished (a re-run sends only the rest) and report it, with
        the cache hits, at the caller's positions."""
        if error.partial is None:
            return
        done = [(i, vector) for i, vector in zip(missing, error.partial, strict=True) if vector is not None]
        found.update(self._remember(keys, [i for i, _ in done], [vector for _, vector in done]))
        error.partial = [found.get(key) for key in keys]

    # ======================================================================================= classification
    def text_classification(
        self, text: str, *, top_k: int | None = None, model: str | None = None
    ) -> list[ClassificationLabel]:
        """Labels with scores, best first (sentiment with the default models)."""
        check.check_text(text, max_chars=self.max_input_chars)
        return self._cached(  # type: ignore[no-any-return]
            "text-classification", {"top_k": top_k, "model": model}, text,
            lambda: self._retrier.call(lambda: self._classify(text, top_k, model), "text_classification"),
            _load_labels, _dump_models,
        )  # fmt: skip

    async def atext_classification(
        self, text: str, *, top_k: int | None = None, model: str | None = None
    ) -> list[ClassificationLabel]:
        check.check_text(text, max_chars=self.max_input_chars)
        return await self._acached(  # type: ignore[no-any-return]
            "text-classification", {"top_k": top_k, "model": model}, text,
            lambda: self._retrier.acall(lambda: self._aclassify(text, top_k, model), "text_classification"),
            _load_labels, _dump_models,
        )  # fmt: skip

    def zero_shot_classification(
        self,
        text: str,
        labels: Sequence[str],
        *,
        multi_label: bool = False,
        hypothesis_template: str | None = None,
        model: str | None = None,
    ) -> list[ClassificationLabel]:
        """Rank ``labels`` for ``text``, best first. Scores sum to 1 unless ``multi_label``."""
        check.check_text(text, max_chars=self.max_input_chars)
        checked = check.check_labels(labels, max_labels=self.max_labels)
        params = {"labels": checked, "multi_label": multi_label, "template": hypothesis_template, "model": model}
        return self._cached(  # type: ignore[no-any-return]
            "zero-shot-classification", params, text,
            lambda: self._retrier.call(
                lambda: self._zero_shot(text, checked, multi_label, hypothesis_template, model),
                "zero_shot_classification",
            ),
            _load_labels, _dump_models,
        )  # fmt: skip

    async def azero_shot_classification(
        self,
        text: str,
        labels: Sequence[str],
        *,
        multi_label: bool = False,
        hypothesis_template: str | None = None,
        model: str | None = None,
    ) -> list[ClassificationLabel]:
        check.check_text(text, max_chars=self.max_input_chars)
        checked = check.check_labels(labels, max_labels=self.max_labels)
        params = {"labels": checked, "multi_label": multi_label, "template": hypothesis_template, "model": model}
        return await self._acached(  # type: ignore[no-any-return]
            "zero-shot-classification", params, text,
            lambda: self._retrier.acall(
                lambda: self._azero_shot(text, checked, multi_label, hypothesis_template, model),
                "zero_shot_classification",
            ),
            _load_labels, _dump_models,
        )  # fmt: skip

    def token_classification(self, text: str, *, model: str | None = None) -> list[EntityGroup]:
        """Named entities, aggregated into groups (PER, ORG, LOC, MISC, ...) with character offsets."""
        check.check_text(text, max_chars=self.max_input_chars)
        return self._cached(  # type: ignore[no-any-return]
            "token-classification", {"model": model}, text,
            lambda: self._retrier.call(lambda: self._ner(text, model), "token_classification"),
            _load_entities, _dump_models,
        )  # fmt: skip

    async def atoken_classification(self, text: str, *, model: str | None = None) -> list[EntityGroup]:
        check.check_text(text, max_chars=self.max_input_chars)
        return await self._acached(  # type: ignore[no-any-return]
            "token-classification", {"model": model}, text,
            lambda: self._retrier.acall(lambda: self._aner(text, model), "token_classification"),
            _load_entities, _dump_models,
        )  # fmt: skip

    def sentence_similarity(self, source: str, sentences: Sequence[str], *, model: str | None = None) -> list[float]:
        """Cosine similarity of ``source`` to each of ``sentences``, in order."""
        check.check_text(source, "source", max_chars=self.max_input_chars)
        checked = check.check_texts(sentences, "sentences", max_chars=self.max_input_chars, truncate=False)
        return self._retrier.call(lambda: self._similarity(source, checked, model), "sentence_similarity")

    async def asentence_similarity(
        self, source: str, sentences: Sequence[str], *, model: str | None = None
    ) -> list[float]:
        check.check_text(source, "source", max_chars=self.max_input_chars)
        checked = check.check_texts(sentences, "sentences", max_chars=self.max_input_chars, truncate=False)
        return await self._retrier.acall(lambda: self._asimilarity(source, checked, model), "sentence_similarity")

    # ============================================================================================ images
    def text_to_image(self, prompt: str, **options: Unpack[ImageOptions]) -> Image:
        """A PIL image for ``prompt``. Options: model, negative_prompt, width, height, num_inference_steps,
        guidance_scale, seed, extra."""
        check.check_text(prompt, "prompt", max_chars=self.max_input_chars)
        request = ImageRequest(prompt=prompt, **options)
        return self._retrier.call(lambda: self._text_to_image(request), "text_to_image")

    async def atext_to_image(self, prompt: str, **options: Unpack[ImageOptions]) -> Image:
        check.check_text(prompt, "prompt", max_chars=self.max_input_chars)
        request = ImageRequest(prompt=prompt, **options)
        return await self._retrier.acall(lambda: self._atext_to_image(request), "text_to_image")


class _Progress:
    """A tqdm bar over the texts of an embedding job (rate and ETA), or nothing when not asked for."""

    def __init__(self, batches: list[list[str]], enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=sum(map(len, batches)), unit="text", desc="embedding", dynamic_ncols=True)
        self._lock = threading.Lock()

    def done(self, batch: list[str], result: Result) -> Result:
        if self._bar is not None:
            with self._lock:
                self._bar.update(len(batch))
        return result

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _embedding_options(options: EmbeddingKwargs) -> EmbeddingOptions:
    return EmbeddingOptions(
        model=options.get("model"),
        normalize=options.get("normalize"),
        truncate=options.get("truncate"),
        prompt_name=options.get("prompt_name"),
    )


def _is_vector(value: Any) -> bool:
    """A cached embedding: a non-empty list of finite numbers."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value)
    )


def _dump_models(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def _load_labels(raw: list[dict[str, Any]]) -> list[ClassificationLabel]:
    return [ClassificationLabel.model_validate(item, strict=True) for item in _as_row_list(raw)]


def _load_entities(raw: list[dict[str, Any]]) -> list[EntityGroup]:
    return [EntityGroup.model_validate(item, strict=True) for item in _as_row_list(raw)]


def _as_row_list(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TypeError(f"a cached result must be a list, got {type(raw).__name__}")
    return raw


@contextmanager
def _partial_per_text(batches: list[list[str]]) -> Iterator[None]:
    """Turn a failed embedding job's per-batch ``partial`` into one entry per text."""
    try:
        yield
    except HFBridgeError as error:
        if error.partial is not None:
            error.partial = [
                vector
                for batch, vectors in zip(batches, error.partial, strict=True)
                for vector in (vectors if vectors is not None else [None] * len(batch))
            ]
        raise


class _Skipped:
    """An item not started because an earlier one failed for good."""


_SKIPPED = _Skipped()


def _completed(outcomes: list[Any], failures: list[Exception]) -> list[Any]:
    """The results of a many-item call, or its first failure raised with ``partial`` (results by position)."""
    if not failures:
        return outcomes
    error = failures[0]
    if isinstance(error, HFBridgeError):
        error.partial = [None if isinstance(o, Exception | _Skipped) else o for o in outcomes]
    raise error


def _as_list(values: Any, what: str) -> list[Any]:
    if values is None or isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise check.InvalidInputError(f"{what} must be a non-empty list")
    return list(values)


def _chunk_text(chunk: ChatCompletionChunk) -> str:
    return chunk.content + "".join(delta.arguments for delta in chunk.tool_calls)


def _token_text(chunk: TextGenerationChunk) -> str:
    return "" if chunk.token.special else chunk.token.text


_DONE = object()


def _iterate_in_thread(iterator: Iterator[Any]) -> AsyncIterator[Any]:
    """Drive a blocking iterator from a worker thread, one item at a time, without blocking the loop."""

    async def generate() -> AsyncIterator[Any]:
        try:
            while True:
                item = await asyncio.to_thread(next, iterator, _DONE)
                if item is _DONE:
                    return
                yield item
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    return generate()
