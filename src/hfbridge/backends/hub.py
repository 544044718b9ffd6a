"""The backend over huggingface_hub's InferenceClient: Inference Providers, Inference Endpoints, any TGI / TEI /
OpenAI-compatible URL."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from huggingface_hub import AsyncInferenceClient, InferenceClient, InferenceEndpoint
from pydantic import SecretStr

from .. import _settings as setting
from .._secrets import is_hf_host, protect_logs, redact, resolve_token, without_credential_headers, without_credentials
from ..errors import (
    BackendUnavailableError,
    ConfigurationError,
    HFBridgeError,
    InferenceTimeoutError,
    NotFoundError,
    UnsupportedTaskError,
)
from ..ratelimit import RateLimit
from ..retry import RetryPolicy
from ..types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ClassificationLabel,
    EntityGroup,
    GenerationToken,
    TextGeneration,
    TextGenerationChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from . import _wire
from ._hub_errors import translate
from .base import Backend, ChatRequest, EmbeddingOptions, GenerationRequest, ImageRequest

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["HubBackend"]

T = TypeVar("T")
C = TypeVar("C")

logger = logging.getLogger("hfbridge")

DEFAULT_TIMEOUT = 60.0


def _known_providers() -> set[str]:
    from huggingface_hub.inference._providers import PROVIDERS

    return set(PROVIDERS) | {"auto"}


class HubBackend(Backend):
    """Hugging Face inference through the real ``InferenceClient`` / ``AsyncInferenceClient``.

    >>> hub = HubBackend(model="meta-llama/Llama-3.1-8B-Instruct", provider="auto")
    >>> tei = HubBackend(base_url="http://127.0.0.1:8080")
    >>> ep = HubBackend(base_url="https://xyz.endpoints.huggingface.cloud", token="hf_...", timeout=30,
    ...                 retry=RetryPolicy(max_attempts=6, deadline=120), rate_limit=RateLimit(300, per=3600))

    Args:
        model: a Hub model id (routed through ``provider``); with ``base_url``, the model name sent in chat
            requests (what vLLM / OpenAI-compatible servers expect).
        base_url: a URL to send requests to (Inference Endpoint, TGI, TEI, vLLM...). Non-chat tasks POST to it as
            given; chat goes to ``{base_url}/v1/chat/completions``.
        provider: Inference Provider for Hub ids (``"auto"``, ``"hf-inference"``, ``"together"``...).
        token: the Hugging Face token. Defaults to ``HF_TOKEN`` or the token file; a token found that way is only
            sent to Hugging Face hosts, an explicit one goes wherever ``base_url`` points.
        timeout: seconds to wait for an answer (always finite; per read while streaming).
        headers: extra HTTP headers. ``bill_to``: organisation billed for Inference Providers.
        hub_endpoint: the Hub API used to look up which providers serve a model (default: ``HF_ENDPOINT``).
        wakes_on_503: treat any 503 as "loading" (a scaled-to-zero Inference Endpoint starting up) and wait it out.
        task_models: the model used per task when a call names none, e.g.
            ``{"feature-extraction": "BAAI/bge-small-en-v1.5", "chat": "meta-llama/Llama-3.1-8B-Instruct"}``.
        retry, rate_limit, batch_size, max_concurrency, max_input_chars, max_labels: see :class:`Backend`.
    """

    name = "hub"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        provider: str | None = None,
        token: str | SecretStr | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        headers: dict[str, str] | None = None,
        bill_to: str | None = None,
        task_models: dict[str, str] | None = None,
        wakes_on_503: bool = False,
        hub_endpoint: str | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
        batch_size: int = 32,
        max_concurrency: int = 4,
        **limits: Any,
    ) -> None:
        super().__init__(
            retry=retry, rate_limit=rate_limit, batch_size=batch_size, max_concurrency=max_concurrency, **limits
        )
        if base_url is not None:
            parsed = urlparse(base_url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
            if provider not in (None, "hf-inference"):
                raise ConfigurationError("provider applies to Hub model ids; a base_url is called directly")
            base_url = base_url.rstrip("/")
        elif model is not None and model.startswith(("http://", "https://")):
            base_url, model = model.rstrip("/"), None
        if provider is not None and provider not in _known_providers():
            known = ", ".join(sorted(_known_providers()))
            raise ConfigurationError(f"unknown provider {provider!r}; known providers: {known}")
        self.model = model
        self.base_url = base_url
        self.provider = provider
        self.timeout = setting.seconds(timeout, "timeout (finite: a request never waits forever)")
        self.bill_to = bill_to
        self.task_models = dict(task_models or {})
        self.wakes_on_503 = wakes_on_503
        self.hub_endpoint = hub_endpoint
        self._mappings: dict[str, list[Any] | None] = {}
        self._token, explicit = resolve_token(token)
        self._explicit_token = explicit
        self._headers = dict(headers or {})
        if self._token is not None and base_url is not None and not explicit and not is_hf_host(base_url):
            # Never hand an implicitly found Hugging Face token to a third-party host.
            self._send_token = False
        else:
            self._send_token = self._token is not None
        protect_logs()  # the HTTP client's loggers print request URLs, which may carry credentials
        self._client: InferenceClient | None = None
        self._client_lock = threading.Lock()
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncInferenceClient] = (
            weakref.WeakKeyDictionary()
        )

    # ------------------------------------------------------------------------------------------- endpoints
    @classmethod
    def from_endpoint(
        cls,
        endpoint: str | InferenceEndpoint,
        *,
        namespace: str | None = None,
        token: str | SecretStr | None = None,
        wait: bool = True,
        resume: bool = True,
        timeout: float = 900.0,
        refresh_every: float = 5.0,
        show_progress: bool = True,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> HubBackend:
        """A backend on a dedicated Inference Endpoint, by name or ``InferenceEndpoint`` object.

        Resolves the URL and token; resumes a paused endpoint (``resume=True``); waits until it is running, with a
        progress display, at most ``timeout`` seconds (``InferenceTimeoutError`` after that). A scaled-to-zero
        endpoint is used as it is: its 503 while it wakes up is treated as loading and retried until the endpoint
        answers (the default retry policy allows ``timeout`` seconds for it).
        """
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        if isinstance(endpoint, str):
            endpoint = _get_endpoint(endpoint, namespace, secret)
        if endpoint.status in ("failed", "updateFailed"):
            raise BackendUnavailableError(f"Inference Endpoint {endpoint.name} is {endpoint.status}")
        if endpoint.status == "paused":
            if not resume:
                raise ConfigurationError(f"Inference Endpoint {endpoint.name} is paused (pass resume=True)")
            endpoint.resume()
        if endpoint.status not in ("running", "scaledToZero") and wait:
            _wait_until_running(endpoint, timeout, refresh_every, show_progress)
        if endpoint.url is None:
            raise BackendUnavailableError(f"Inference Endpoint {endpoint.name} has no URL yet ({endpoint.status})")
        if secret is None:
            secret = getattr(endpoint, "_token", None) if isinstance(getattr(endpoint, "_token", None), str) else None
        policy = retry or RetryPolicy(max_attempts=100, deadline=timeout, max_retry_after=timeout, max_delay=15.0)
        return cls(base_url=endpoint.url, token=secret, wakes_on_503=True, retry=policy, **kwargs)

    # ------------------------------------------------------------------------------------ provider support
    def check_chat_support(
        self, *, model: str | None = None, tools: bool = False, response_format: bool = False
    ) -> None:
        """Fail early when the chosen provider does not serve the model for chat (from the Hub's provider mapping).

        huggingface_hub exposes, per model, which providers serve it, for which task and in which status; a
        ``features`` entry (tool calling, structured output) is honoured when the Hub returns one. A URL backend, or a
        mapping that cannot be fetched, is accepted: the check only refuses what it knows cannot work.
        """
        model_id = model or self.task_models.get("chat") or self.model
        if self.base_url is not None or model_id is None:
            return
        mappings = self._provider_mappings(model_id)
        if mappings is None:
            return
        provider = self.provider or "auto"
        all_chat = [m for m in mappings if getattr(m, "task", None) == "conversational" and m.status != "error"]
        served_by = sorted(str(m.provider) for m in all_chat)
        chat = all_chat if provider == "auto" else [m for m in all_chat if m.provider == provider]
        if not chat:
            where = f"provider {provider!r}" if provider != "auto" else "any provider"
            raise UnsupportedTaskError(
                f"{model_id} is not served for chat by {where}; chat providers for it: {served_by or 'none'}"
            )
        wanted = {"toolCalling": tools, "structuredOutput": response_format}
        for feature, needed in wanted.items():
            features = getattr(chat[0], "features", None) or {}
            if needed and features.get(feature) is False:
                able = sorted(str(m.provider) for m in all_chat if (getattr(m, "features", None) or {}).get(feature))
                raise UnsupportedTaskError(
                    f"provider {chat[0].provider!r} does not support {feature} for {model_id}"
                    + (f"; providers that do: {able} (pass provider=...)" if able else "")
                )

    def _provider_mappings(self, model_id: str) -> list[Any] | None:
        if model_id not in self._mappings:
            from huggingface_hub import HfApi, constants

            # An implicitly found token goes to Hugging Face hosts only, the Hub API included (HF_ENDPOINT may point
            # anywhere); an explicit one wherever the caller sends it.
            hub = self.hub_endpoint or constants.ENDPOINT
            send = self._token is not None and (self._explicit_token or is_hf_host(hub))
            token = self._token.get_secret_value() if send and self._token is not None else None
            error: HFBridgeError | None = None
            try:
                info = HfApi(endpoint=self.hub_endpoint, token=token or False).model_info(
                    model_id, expand=["inferenceProviderMapping"]
                )
                self._mappings[model_id] = list(info.inference_provider_mapping or [])
            except Exception as exc:
                error = translate(exc, self._token)
            if error is not None:
                if isinstance(error, NotFoundError):
                    raise UnsupportedTaskError(f"model {model_id} not found on the Hub")
                logger.debug("hfbridge: provider mapping of %s unavailable (%s); not checked", model_id, error)
                self._mappings[model_id] = None
        return self._mappings[model_id]

    # ------------------------------------------------------------------------------------------- identity
    @property
    def model_id(self) -> str:
        return self.model or self.base_url or "default"

    @property
    def token(self) -> SecretStr | None:
        """The token as a ``SecretStr`` (its repr is masked)."""
        return self._token

    def __repr__(self) -> str:
        target = f"base_url={redact(self.base_url)!r}" if self.base_url else f"model={self.model!r}"
        token = "'**********'" if self._token is not None else "None"
        return f"HubBackend({target}, provider={self.provider!r}, timeout={self.timeout}, token={token})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles carry the configuration, never a secret: the copy resolves its token from the environment, and
        # credentials in the URL or the headers are left out.
        return (
            _rebuild_hub,
            (
                {
                    "model": self.model,
                    "base_url": without_credentials(self.base_url) if self.base_url else None,
                    "provider": self.provider,
                    "timeout": self.timeout,
                    "headers": without_credential_headers(self._headers),
                    "bill_to": self.bill_to,
                    "task_models": self.task_models,
                    "wakes_on_503": self.wakes_on_503,
                    "hub_endpoint": self.hub_endpoint,
                    "retry": self.retry_policy,
                    "rate_limit": self.rate_limit,
                    "batch_size": self.batch_size,
                    "max_concurrency": self.max_concurrency,
                    "max_input_chars": self.max_input_chars,
                    "max_labels": self.max_labels,
                },
            ),
        )

    # -------------------------------------------------------------------------------------------- clients
    def _client_kwargs(self) -> dict[str, Any]:
        headers: dict[str, Any] = dict(self._headers)
        kwargs: dict[str, Any] = {"timeout": self.timeout, "headers": headers, "bill_to": self.bill_to}
        if self._send_token and self._token is not None:
            kwargs["token"] = self._token.get_secret_value()
        elif self._token is not None or self.base_url is not None:
            headers["authorization"] = None  # huggingface_hub's opt-out of its implicit token
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        else:
            kwargs["model"] = self.model
            kwargs["provider"] = self.provider
        return kwargs

    def _sync_client(self) -> InferenceClient:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = InferenceClient(**self._client_kwargs())
        return self._client

    def _async_client(self) -> AsyncInferenceClient:
        # An AsyncInferenceClient owns an httpx2.AsyncClient bound to one event loop: keep one per loop, so sync
        # code that runs several loops (asyncio.run per call, Jupyter, worker threads) never shares a dead client.
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = AsyncInferenceClient(**self._client_kwargs())
            self._async_clients[loop] = client
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        self.close()
        loop = asyncio.get_running_loop()
        client = self._async_clients.pop(loop, None)
        if client is not None:
            await client.close()

    def _translate(self, exc: BaseException) -> HFBridgeError:
        return translate(exc, self._token, self.wakes_on_503)

    def _stream(self, start: Callable[[InferenceClient], Iterable[Any]], parse: Callable[[Any], C]) -> Iterator[C]:
        # A client of its own per stream: closing it closes the HTTP response, whether the stream ends, breaks or
        # is abandoned; the generator holds it, so it stays alive while the stream is iterated.
        client = InferenceClient(**self._client_kwargs())

        def generate() -> Iterator[C]:
            error: HFBridgeError | None = None
            try:
                try:
                    for raw in start(client):
                        yield parse(raw)
                except Exception as exc:
                    error = self._translate(exc)
                if error is not None:
                    raise error  # outside the handler: the client's exception (request headers) is not chained
            finally:
                client.close()

        return generate()

    async def _astream(
        self, start: Callable[[AsyncInferenceClient], Awaitable[AsyncIterable[Any]]], parse: Callable[[Any], C]
    ) -> AsyncIterator[C]:
        client = AsyncInferenceClient(**self._client_kwargs())
        try:
            stream = await self._acall(lambda: start(client))
        except BaseException:
            await client.close()
            raise

        async def generate() -> AsyncIterator[C]:
            error: HFBridgeError | None = None
            try:
                try:
                    async for raw in stream:
                        yield parse(raw)
                except Exception as exc:
                    error = self._translate(exc)
                if error is not None:
                    raise error
            finally:
                await client.close()

        return generate()

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            error = self._translate(exc)
        raise error  # outside the handler: the client's exception (request headers) is not chained

    async def _acall(self, fn: Callable[[], Any]) -> Any:
        try:
            return await fn()
        except Exception as exc:
            error = self._translate(exc)
        raise error

    def _chat_model(self, request_model: str | None) -> str | None:
        # Chat always names a model: the per-call one, the configured one, or none (the client sends its default).
        return request_model or self.task_models.get("chat") or self.model

    def _task_model(self, request_model: str | None, task: str) -> str | None:
        # For non-chat tasks a model passed to the client overrides the URL: with a base_url, stay on the URL.
        if self.base_url is not None:
            return None
        return request_model or self.task_models.get(task)

    # ------------------------------------------------------------------------------------------------ chat
    def _chat_kwargs(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self._chat_model(request.model),
            "tools": request.tools,
            "tool_choice": request.tool_choice,
            "response_format": request.response_format,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stop": request.stop,
            "seed": request.seed,
            "stream": stream,
        }
        if stream:
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    def _chat(self, request: ChatRequest) -> ChatCompletion:
        client = self._sync_client()
        output = self._call(lambda: _wire.chat(client, request.messages, **self._chat_kwargs(request, False)))
        return parse_chat_output(output)

    async def _achat(self, request: ChatRequest) -> ChatCompletion:
        client = self._async_client()
        output = await self._acall(lambda: _wire.achat(client, request.messages, **self._chat_kwargs(request, False)))
        return parse_chat_output(output)

    def _stream_chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        kwargs = self._chat_kwargs(request, True)
        return self._stream(lambda client: _wire.chat_stream(client, request.messages, **kwargs), parse_chat_chunk)

    async def _astream_chat(self, request: ChatRequest) -> AsyncIterator[ChatCompletionChunk]:
        kwargs = self._chat_kwargs(request, True)
        return await self._astream(
            lambda client: _wire.achat_stream(client, request.messages, **kwargs), parse_chat_chunk
        )

    # ------------------------------------------------------------------------------------- text generation
    def _generation_kwargs(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        return {
            "model": self._task_model(request.model, "text-generation"),
            "max_new_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stop": request.stop,
            "seed": request.seed,
            "details": True,
            "stream": stream,
        }

    def _generate(self, request: GenerationRequest) -> TextGeneration:
        client = self._sync_client()
        output = self._call(lambda: client.text_generation(request.prompt, **self._generation_kwargs(request, False)))
        return parse_generation_output(output)

    async def _agenerate(self, request: GenerationRequest) -> TextGeneration:
        client = self._async_client()
        output = await self._acall(
            lambda: client.text_generation(request.prompt, **self._generation_kwargs(request, False))
        )
        return parse_generation_output(output)

    def _stream_generate(self, request: GenerationRequest) -> Iterator[TextGenerationChunk]:
        kwargs = self._generation_kwargs(request, True)
        return self._stream(lambda client: client.text_generation(request.prompt, **kwargs), parse_generation_chunk)

    async def _astream_generate(self, request: GenerationRequest) -> AsyncIterator[TextGenerationChunk]:
        kwargs = self._generation_kwargs(request, True)
        return await self._astream(
            lambda client: client.text_generation(request.prompt, **kwargs), parse_generation_chunk
        )

    # ------------------------------------------------------------------------------------------ embeddings
    def _embedding_kwargs(self, options: EmbeddingOptions) -> dict[str, Any]:
        return {
            "model": self._task_model(options.model, "feature-extraction"),
            "normalize": options.normalize,
            "truncate": options.truncate if options.truncate is not None else True,
            "prompt_name": options.prompt_name,
        }

    def _embed(self, texts: list[str], options: EmbeddingOptions) -> list[list[float]]:
        client = self._sync_client()
        output = self._call(lambda: _wire.embed(client, texts, **self._embedding_kwargs(options)))
        return _as_vectors(output, len(texts))

    async def _aembed(self, texts: list[str], options: EmbeddingOptions) -> list[list[float]]:
        client = self._async_client()
        output = await self._acall(lambda: _wire.aembed(client, texts, **self._embedding_kwargs(options)))
        return _as_vectors(output, len(texts))

    # -------------------------------------------------------------------------------------- classification
    def _classify(self, text: str, top_k: int | None, model: str | None) -> list[ClassificationLabel]:
        client = self._sync_client()
        output = self._call(
            lambda: client.text_classification(text, top_k=top_k, model=self._task_model(model, "text-classification"))
        )
        return _labels(output)

    async def _aclassify(self, text: str, top_k: int | None, model: str | None) -> list[ClassificationLabel]:
        client = self._async_client()
        output = await self._acall(
            lambda: client.text_classification(text, top_k=top_k, model=self._task_model(model, "text-classification"))
        )
        return _labels(output)

    def _zero_shot_kwargs(self, labels: list[str], multi: bool, template: str | None, model: str | None) -> dict:
        return {
            "candidate_labels": labels,
            "multi_label": multi,
            "hypothesis_template": template,
            "model": self._task_model(model, "zero-shot-classification"),
        }

    def _zero_shot(
        self, text: str, labels: list[str], multi_label: bool, hypothesis_template: str | None, model: str | None
    ) -> list[ClassificationLabel]:
        client = self._sync_client()
        kwargs = self._zero_shot_kwargs(labels, multi_label, hypothesis_template, model)
        return _labels(self._call(lambda: client.zero_shot_classification(text, **kwargs)))

    async def _azero_shot(
        self, text: str, labels: list[str], multi_label: bool, hypothesis_template: str | None, model: str | None
    ) -> list[ClassificationLabel]:
        client = self._async_client()
        kwargs = self._zero_shot_kwargs(labels, multi_label, hypothesis_template, model)
        return _labels(await self._acall(lambda: client.zero_shot_classification(text, **kwargs)))

    def _ner(self, text: str, model: str | None) -> list[EntityGroup]:
        client = self._sync_client()
        output = self._call(
            lambda: client.token_classification(
                text, aggregation_strategy="simple", model=self._task_model(model, "token-classification")
            )
        )
        return _entities(output)

    async def _aner(self, text: str, model: str | None) -> list[EntityGroup]:
        client = self._async_client()
        output = await self._acall(
            lambda: client.token_classification(
                text, aggregation_strategy="simple", model=self._task_model(model, "token-classification")
            )
        )
        return _entities(output)

    def _similarity(self, source: str, sentences: list[str], model: str | None) -> list[float]:
        client = self._sync_client()
        output = self._call(
            lambda: client.sentence_similarity(
                source, other_sentences=sentences, model=self._task_model(model, "sentence-similarity")
            )
        )
        return [float(score) for score in output]

    async def _asimilarity(self, source: str, sentences: list[str], model: str | None) -> list[float]:
        client = self._async_client()
        output = await self._acall(
            lambda: client.sentence_similarity(
                source, other_sentences=sentences, model=self._task_model(model, "sentence-similarity")
            )
        )
        return [float(score) for score in output]

    def _image_kwargs(self, request: ImageRequest) -> dict[str, Any]:
        return {
            "negative_prompt": request.negative_prompt,
            "width": request.width,
            "height": request.height,
            "num_inference_steps": request.num_inference_steps,
            "guidance_scale": request.guidance_scale,
            "seed": request.seed,
            "model": self._task_model(request.model, "text-to-image"),
            **({"extra_body": request.extra} if request.extra else {}),
        }

    def _text_to_image(self, request: ImageRequest) -> Image:
        client = self._sync_client()
        return self._call(lambda: client.text_to_image(request.prompt, **self._image_kwargs(request)))

    async def _atext_to_image(self, request: ImageRequest) -> Image:
        client = self._async_client()
        return await self._acall(lambda: client.text_to_image(request.prompt, **self._image_kwargs(request)))


def _get_endpoint(name: str, namespace: str | None, secret: str | None) -> InferenceEndpoint:
    from huggingface_hub import get_inference_endpoint

    try:
        return get_inference_endpoint(name, namespace=namespace, token=secret)
    except Exception as exc:
        error = translate(exc, SecretStr(secret) if secret else None)
    raise error  # outside the handler: the client's exception (request headers) is not chained


def _wait_until_running(endpoint: InferenceEndpoint, timeout: float, refresh_every: float, show_progress: bool) -> None:
    started = time.monotonic()
    bar: Any = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=None, desc=f"endpoint {endpoint.name}: {endpoint.status}", bar_format="{desc} [{elapsed}]")
    try:
        while endpoint.status != "running":
            if endpoint.status in ("failed", "updateFailed"):
                raise BackendUnavailableError(f"Inference Endpoint {endpoint.name} is {endpoint.status}")
            if time.monotonic() - started > timeout:
                raise InferenceTimeoutError(
                    f"Inference Endpoint {endpoint.name} not running after {timeout:.0f} s (status: {endpoint.status})"
                )
            time.sleep(refresh_every)
            endpoint.fetch()
            logger.info("hfbridge: endpoint %s is %s", endpoint.name, endpoint.status)
            if bar is not None:
                bar.set_description_str(f"endpoint {endpoint.name}: {endpoint.status}")
    finally:
        if bar is not None:
            bar.close()


def _rebuild_hub(config: dict[str, Any]) -> HubBackend:
    return HubBackend(**config)


# ----------------------------------------------------------------------------------------------- parsing
def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _arguments(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(
        prompt_tokens=_get(raw, "prompt_tokens", 0) or 0,
        completion_tokens=_get(raw, "completion_tokens", 0) or 0,
        total_tokens=_get(raw, "total_tokens", 0) or 0,
    )


def parse_chat_output(output: Any) -> ChatCompletion:
    choice = (_get(output, "choices") or [None])[0]
    message = _get(choice, "message")
    calls = []
    for index, call in enumerate(_get(message, "tool_calls") or []):
        function = _get(call, "function")
        calls.append(
            ToolCall(
                id=_get(call, "id") or f"call_{index}",
                name=_get(function, "name") or "",
                arguments=_arguments(_get(function, "arguments")) or "{}",
            )
        )
    return ChatCompletion(
        id=_get(output, "id") or "",
        model=_get(output, "model") or "",
        message=ChatMessage(role="assistant", content=_get(message, "content"), tool_calls=calls),
        finish_reason=_get(choice, "finish_reason"),
        usage=_usage(_get(output, "usage")),
    )


def parse_chat_chunk(raw: Any) -> ChatCompletionChunk:
    choices = _get(raw, "choices") or []
    choice = choices[0] if choices else None
    delta = _get(choice, "delta")
    raw_calls = _get(delta, "tool_calls") or []
    if not isinstance(raw_calls, list):  # older TGI sent one object instead of a list
        raw_calls = [raw_calls]
    deltas = []
    for position, call in enumerate(raw_calls):
        function = _get(call, "function")
        index = _get(call, "index")
        deltas.append(
            ToolCallDelta(
                index=index if isinstance(index, int) else position,
                id=_get(call, "id") or None,
                name=_get(function, "name") or None,
                arguments=_arguments(_get(function, "arguments")),
            )
        )
    return ChatCompletionChunk(
        id=_get(raw, "id") or "",
        model=_get(raw, "model") or "",
        content=_get(delta, "content") or "",
        tool_calls=deltas,
        finish_reason=_get(choice, "finish_reason"),
        usage=_usage(_get(raw, "usage")),
    )


def _token(raw: Any) -> GenerationToken:
    return GenerationToken(
        id=_get(raw, "id", 0) or 0,
        text=_get(raw, "text", "") or "",
        logprob=_get(raw, "logprob"),
        special=bool(_get(raw, "special", False)),
    )


def parse_generation_output(output: Any) -> TextGeneration:
    if isinstance(output, str):
        return TextGeneration(generated_text=output)
    details = _get(output, "details")
    return TextGeneration(
        generated_text=_get(output, "generated_text", "") or "",
        finish_reason=_get(details, "finish_reason"),
        generated_tokens=_get(details, "generated_tokens"),
        prompt_tokens=len(_get(details, "prefill") or []) or None,
        tokens=[_token(token) for token in _get(details, "tokens") or []],
    )


def parse_generation_chunk(raw: Any) -> TextGenerationChunk:
    if isinstance(raw, str):
        return TextGenerationChunk(token=GenerationToken(text=raw))
    details = _get(raw, "details")
    return TextGenerationChunk(
        token=_token(_get(raw, "token")),
        generated_text=_get(raw, "generated_text"),
        finish_reason=_get(details, "finish_reason"),
        generated_tokens=_get(details, "generated_tokens"),
    )


def _as_vectors(array: Any, expected: int) -> list[list[float]]:
    vectors = array.tolist() if hasattr(array, "tolist") else list(array)
    if vectors and not isinstance(vectors[0], list):
        vectors = [vectors]
    if len(vectors) != expected:
        from ..errors import APIError

        raise APIError(f"the server returned {len(vectors)} embeddings for {expected} texts")
    return vectors


def _labels(output: Any) -> list[ClassificationLabel]:
    labels = [ClassificationLabel(label=_get(item, "label"), score=float(_get(item, "score"))) for item in output]
    return sorted(labels, key=lambda item: item.score, reverse=True)


def _entities(output: Any) -> list[EntityGroup]:
    return [
        EntityGroup(
            entity_group=_get(item, "entity_group") or _get(item, "entity") or "",
            score=float(_get(item, "score") or 0.0),
            word=_get(item, "word") or "",
            start=int(_get(item, "start") or 0),
            end=int(_get(item, "end") or 0),
        )
        for item in output
    ]
