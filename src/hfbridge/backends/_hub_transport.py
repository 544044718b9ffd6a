"""The hub transport: one request of one task through huggingface_hub's ``InferenceClient``.

It owns the clients (one sync client; one async client per event loop; a client of its own per stream, so closing
it closes the HTTP response) and turns everything they raise into hfbridge's errors (``_hub_errors``). Sync
clients read under the request's deadline (``_wire.bound``).

**Async clients and event loops.** An ``AsyncInferenceClient`` owns an ``httpx2.AsyncClient`` whose connections
belong to one event loop, so each loop gets its own, kept for the loop's life (connections are reused across calls).
It is closed on that loop when the loop shuts down (``asyncio.run`` and ``asyncio.Runner`` close the async
generators of a loop before closing it: the client's keeper is one), and forgotten if a loop was closed without
that; ``aclose()`` closes the running loop's client and forgets every other. Nothing here refers to a loop once
it is closed, so ``asyncio.run(backend.a...())`` in a loop leaves no client and no socket behind. What to
call and how to read the answer comes from the task's declaration (``task.hub``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlparse

from huggingface_hub import AsyncInferenceClient, InferenceClient
from pydantic import SecretStr

from .. import _settings as setting
from .._secrets import is_hf_host, protect_logs, resolve_token, without_credential_headers, without_credentials
from ..errors import APIError, ConfigurationError, HFBridgeError, UnsupportedTaskError
from ..tasks import Task
from . import _wire
from ._hub_errors import translate
from .transport import Transport

__all__ = ["HubTransport", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 60.0
#: A 2xx stream with no event at all (an empty or non-stream body) is a failure, never an empty answer.
_NO_EVENT = "unexpected response from the server: the stream ended without any event"
AnyTask = Task[Any, Any]
_Keeper = AsyncGenerator[None, None]


class HubTransport(Transport):
    """See :class:`~hfbridge.HubBackend` for the arguments."""

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
    ) -> None:
        if base_url is not None:
            parsed = urlparse(base_url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
            if provider not in (None, "hf-inference"):
                raise ConfigurationError("provider applies to Hub model ids; a base_url is called directly")
            base_url = base_url.rstrip("/")
        elif model is not None and model.startswith(("http://", "https://")):
            base_url, model = model.rstrip("/"), None
        known = _wire.known_providers()
        if provider is not None and known is not None and provider not in known:
            raise ConfigurationError(f"unknown provider {provider!r}; known providers: {', '.join(sorted(known))}")
        self.model = model
        self.base_url = base_url
        self.provider = provider
        self.timeout = setting.seconds(timeout, "timeout (finite: a request never waits forever)")
        self.bill_to = bill_to
        self.task_models = dict(task_models or {})
        self.wakes_on_503 = wakes_on_503
        self.token, explicit = resolve_token(token)
        self.explicit_token = explicit
        self.headers = dict(headers or {})
        # Never hand an implicitly found Hugging Face token to a third-party host.
        self.send_token = self.token is not None and (base_url is None or explicit or is_hf_host(base_url))
        protect_logs()  # the HTTP client's loggers print request URLs, which may carry credentials
        self._client: InferenceClient | None = None
        self._client_lock = threading.Lock()
        # loop -> (its client, the async generator that closes it when the loop shuts down)
        self._async_clients: dict[asyncio.AbstractEventLoop, tuple[AsyncInferenceClient, _Keeper]] = {}

    @property
    def model_id(self) -> str:
        return self.model or self.base_url or "default"

    @property
    def label(self) -> str:
        """``hub:<provider>:<model>`` or ``hub:<url>``: tells two hub backends apart in ``ResponseMeta``."""
        if self.base_url is not None:
            return f"hub:{self.base_url}"
        return f"hub:{self.provider or 'default'}:{self.model or 'default'}"

    # ---------------------------------------------------------------------------------------------- models
    def chat_model(self, request_model: str | None) -> str | None:
        # Chat always names a model: the per-call one, the configured one, or none (the client sends its default).
        return request_model or self.task_models.get("chat") or self.model

    def task_model(self, request_model: str | None, task: str) -> str | None:
        # For non-chat tasks a model passed to the client overrides the URL: with a base_url, stay on the URL.
        if self.base_url is not None:
            return None
        return request_model or self.task_models.get(task)

    def cache_target(self, task: AnyTask, request: Any) -> dict[str, Any]:
        """The URL (without credentials) or the provider, the model this task really uses (``task_models``
        included), and the headers that are not credentials (a gateway may route by them)."""
        requested = getattr(request, "model", None)
        if task.pipeline_tag == "chat":
            model = self.chat_model(requested)
        else:
            model = self.task_model(requested, task.pipeline_tag)
            if model is None and self.base_url is None:
                model = self.model  # the client's model; None: the provider's recommended model for the task
        return {
            "backend": "hub",
            "url": None if self.base_url is None else without_credentials(self.base_url),
            "provider": None if self.base_url is not None else (self.provider or "auto"),
            "model": model,
            "headers": sorted((name.lower(), str(value)) for name, value in
                              without_credential_headers(self.headers).items()),
        }  # fmt: skip

    # --------------------------------------------------------------------------------------------- clients
    def client_kwargs(self) -> dict[str, Any]:
        headers: dict[str, Any] = dict(self.headers)
        kwargs: dict[str, Any] = {"timeout": self.timeout, "headers": headers, "bill_to": self.bill_to}
        if self.send_token and self.token is not None:
            kwargs["token"] = self.token.get_secret_value()
        elif self.token is not None or self.base_url is not None:
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
                    self._client = _wire.bound(InferenceClient(**self.client_kwargs()))
        return self._client

    async def _async_client(self) -> AsyncInferenceClient:
        loop = asyncio.get_running_loop()
        entry = self._async_clients.get(loop)
        if entry is None:
            client = AsyncInferenceClient(**self.client_kwargs())
            keeper = self._keeper(loop, client)
            await keeper.asend(None)  # started: the loop now closes it (and with it the client) at shutdown
            with self._client_lock:
                for other in [other for other in self._async_clients if other.is_closed()]:
                    del self._async_clients[other]  # closed without shutting down its generators
                self._async_clients[loop] = entry = (client, keeper)
        return entry[0]

    async def _keeper(self, loop: asyncio.AbstractEventLoop, client: AsyncInferenceClient) -> _Keeper:
        try:
            yield
        finally:
            with self._client_lock:
                if self._async_clients.get(loop, (None,))[0] is client:
                    del self._async_clients[loop]
            await client.close()

    def close(self) -> None:
        """Close the sync client, and forget the async clients of loops that are closed."""
        if self._client is not None:
            self._client.close()
            self._client = None
        with self._client_lock:
            for loop in [loop for loop in self._async_clients if loop.is_closed()]:
                del self._async_clients[loop]

    async def aclose(self) -> None:
        """Close the sync client and the running loop's async client; forget the other loops' (each is closed when
        its loop shuts down)."""
        self.close()
        with self._client_lock:
            entry = self._async_clients.pop(asyncio.get_running_loop(), None)
            others = list(self._async_clients.values())
            self._async_clients.clear()
        del others  # their keepers still close them at their loops' shutdown
        if entry is not None:
            await entry[1].aclose()  # its keeper closes the client

    # ------------------------------------------------------------------------------------------------ calls
    def _translate(self, exc: BaseException) -> HFBridgeError:
        return translate(exc, self.token, self.wakes_on_503)

    def _hub(self, task: AnyTask) -> Any:
        if task.hub is None:
            raise UnsupportedTaskError(f"{task.name} has no hub implementation")
        return task.hub

    def _parse(self, parse: Any, raw: Any, *args: Any) -> Any:
        try:
            return parse(raw, *args)
        except HFBridgeError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise APIError(f"unexpected response from the server: {exc!r}") from None

    def call(self, task: AnyTask, request: Any) -> Any:
        hub = self._hub(task)
        try:
            raw = hub.send(self._sync_client(), request, self)
        except Exception as exc:
            error = self._translate(exc)
        else:
            return self._parse(hub.parse, raw, request)
        raise error  # outside the handler: the client's exception (request headers) is not chained

    async def acall(self, task: AnyTask, request: Any) -> Any:
        hub = self._hub(task)
        try:
            raw = await hub.send(await self._async_client(), request, self)
        except Exception as exc:
            error = self._translate(exc)
        else:
            return self._parse(hub.parse, raw, request)
        raise error

    def stream(self, task: AnyTask, request: Any) -> Iterator[Any]:
        hub = self._hub(task)
        # A client of its own per stream: closing it closes the HTTP response, whether the stream ends, breaks or
        # is abandoned; the generator holds it, so it stays alive while the stream is iterated.
        client = _wire.bound(InferenceClient(**self.client_kwargs()))
        try:
            events = hub.open_stream(client, request, self)
        except Exception as exc:
            client.close()
            error = self._translate(exc)
        else:
            return self._chunks(client, events, hub.parse_chunk)
        raise error

    def _chunks(self, client: InferenceClient, events: Any, parse: Any) -> Iterator[Any]:
        error: HFBridgeError | None = None
        try:
            chunks = 0
            try:
                for raw in events:
                    chunks += 1
                    yield self._parse(parse, raw)
            except Exception as exc:
                error = self._translate(exc)
            if error is None and chunks == 0:
                error = APIError(_NO_EVENT)
            if error is not None:
                raise error  # outside the handler: the client's exception (request headers) is not chained
        finally:
            client.close()

    async def astream(self, task: AnyTask, request: Any) -> AsyncIterator[Any]:
        hub = self._hub(task)
        client = AsyncInferenceClient(**self.client_kwargs())
        error: HFBridgeError | None = None
        try:
            chunks = 0
            try:
                events = await hub.open_stream(client, request, self)
                async for raw in events:
                    chunks += 1
                    yield self._parse(hub.parse_chunk, raw)
            except Exception as exc:
                error = self._translate(exc)
            if error is None and chunks == 0:
                error = APIError(_NO_EVENT)
            if error is not None:
                raise error
        finally:
            await client.close()
