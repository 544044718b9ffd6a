"""The backend over huggingface_hub's InferenceClient: Inference Providers, Inference Endpoints, any TGI / TEI /
OpenAI-compatible URL."""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from huggingface_hub import InferenceEndpoint
from pydantic import SecretStr

from .._secrets import is_hf_host, redact, without_credential_headers, without_credentials
from ..errors import (
    BackendUnavailableError,
    ConfigurationError,
    HFBridgeError,
    InferenceTimeoutError,
    NotFoundError,
    UnsupportedTaskError,
)
from ..flow import FlowControl
from ..ratelimit import RateLimit
from ..retry import RetryPolicy
from . import _wire
from ._hub_errors import translate
from ._hub_transport import DEFAULT_TIMEOUT, HubTransport
from .base import Backend

__all__ = ["HubBackend", "HubTransport"]

logger = logging.getLogger("hfbridge")


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
        timeout: seconds any single read may wait (always finite), and the longest a stream may go without a
            chunk of content (keep-alive comments do not count). ``retry.deadline`` bounds each request as a whole.
        headers: extra HTTP headers. ``bill_to``: organisation billed for Inference Providers.
        hub_endpoint: the Hub API used to look up which providers serve a model (default: ``HF_ENDPOINT``).
        wakes_on_503: treat any 503 as "loading" (a scaled-to-zero Inference Endpoint starting up) and wait it out.
        task_models: the model used per task when a call names none, e.g.
            ``{"feature-extraction": "BAAI/bge-small-en-v1.5", "chat": "meta-llama/Llama-3.1-8B-Instruct"}``.
        flow: adaptive flow control, on by default (``"adaptive"``): requests in flight and per second learned
            from the server's latency and refusals, shared by every thread and task using this backend. ``None``
            turns it off. See :class:`Backend`.
        retry, rate_limit, batch_size, max_concurrency, max_input_chars, max_labels: see :class:`Backend`.
    """

    name = "hub"
    transport: HubTransport

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
        max_concurrency: int | None = None,
        flow: FlowControl | Literal["adaptive"] | None = "adaptive",
        **options: Any,
    ) -> None:
        transport = HubTransport(
            model, base_url=base_url, provider=provider, token=token, timeout=timeout, headers=headers,
            bill_to=bill_to, task_models=task_models, wakes_on_503=wakes_on_503,
        )  # fmt: skip
        options.setdefault("label", transport.label)
        super().__init__(
            transport, retry=retry, rate_limit=rate_limit, batch_size=batch_size, max_concurrency=max_concurrency,
            flow=flow, **options,
        )  # fmt: skip
        self.hub_endpoint = hub_endpoint
        self._mappings: dict[str, list[Any] | None] = {}

    # The configuration lives on the transport; these read it.
    @property
    def model(self) -> str | None:
        return self.transport.model

    @property
    def base_url(self) -> str | None:
        return self.transport.base_url

    @property
    def provider(self) -> str | None:
        return self.transport.provider

    @property
    def timeout(self) -> float:
        return self.transport.timeout

    @property
    def task_models(self) -> dict[str, str]:
        return self.transport.task_models

    @property
    def token(self) -> SecretStr | None:
        """The token as a ``SecretStr`` (its repr is masked)."""
        return self.transport.token

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
            secret = _wire.endpoint_token(endpoint)
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
            secret = self.token if self.transport.explicit_token or is_hf_host(hub) else None
            token = secret.get_secret_value() if secret is not None else None
            error: HFBridgeError | None = None
            try:
                info = HfApi(endpoint=self.hub_endpoint, token=token or False).model_info(
                    model_id, expand=["inferenceProviderMapping"]
                )
                self._mappings[model_id] = list(info.inference_provider_mapping or [])
            except Exception as exc:
                error = translate(exc, self.token)
            if error is not None:
                if isinstance(error, NotFoundError):
                    raise UnsupportedTaskError(f"model {model_id} not found on the Hub")
                logger.debug("hfbridge: provider mapping of %s unavailable (%s); not checked", model_id, error)
                self._mappings[model_id] = None
        return self._mappings[model_id]

    # ------------------------------------------------------------------------------------------- identity
    def __repr__(self) -> str:
        target = f"base_url={redact(self.base_url)!r}" if self.base_url else f"model={self.model!r}"
        token = "'**********'" if self.token is not None else "None"
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
                    "headers": without_credential_headers(self.transport.headers),
                    "bill_to": self.transport.bill_to,
                    "task_models": self.task_models,
                    "wakes_on_503": self.transport.wakes_on_503,
                    "hub_endpoint": self.hub_endpoint,
                    "retry": self.retry_policy,
                    "rate_limit": self.rate_limit,
                    "batch_size": self.batch_size,
                    "max_concurrency": self._given["max_concurrency"],
                    "flow": self._given["flow"],
                    "max_input_chars": self.max_input_chars,
                    "max_labels": self.max_labels,
                },
            ),
        )


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


def _get_endpoint(name: str, namespace: str | None, secret: str | None) -> InferenceEndpoint:
    from huggingface_hub import get_inference_endpoint

    try:
        return get_inference_endpoint(name, namespace=namespace, token=secret)
    except Exception as exc:
        error = translate(exc, SecretStr(secret) if secret else None)
    raise error  # outside the handler: the client's exception (request headers) is not chained


def _rebuild_hub(config: dict[str, Any]) -> HubBackend:
    return HubBackend(**config)
