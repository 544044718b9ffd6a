"""Fields every framework adapter shares to find its backend (pydantic only: no framework imports here)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_serializer, model_validator

from .backends import Backend, resolve_backend
from .ratelimit import RateLimit
from .retry import RetryPolicy


def _token_from_env() -> SecretStr | None:
    value = os.environ.get("HF_TOKEN", "").strip()
    return SecretStr(value) if value else None


class BackendTarget(BaseModel):
    """``backend=`` (any backend, local or hub), or the shorthand ``base_url=`` / ``provider=`` (and a model) for
    a HubBackend. With none of them, ``HFBRIDGE_BACKEND`` or ``HF_TOKEN`` selects a hub backend, else the offline
    LocalBackend. Nothing here touches the network: clients and models are created on first use.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True, protected_namespaces=())

    backend: Backend | None = Field(default=None, exclude=True, description="The backend to run on.")
    base_url: str | None = Field(default=None, description="A TGI / TEI / vLLM / Inference Endpoint URL.")
    provider: str | None = Field(default=None, description="Inference Provider for Hub model ids, e.g. 'auto'.")
    api_key: SecretStr | None = Field(
        default_factory=_token_from_env,
        alias="token",
        description="Hugging Face token; read from HF_TOKEN when not given.",
    )
    timeout: float | None = Field(default=60.0, description="Seconds to wait for an answer (hub backends).")
    max_retries: int = Field(default=4, ge=0, description="Retries after the first try (hub backends).")
    requests_per_second: float | None = Field(
        default=None,
        gt=0,
        description=(
            "An explicit cap on requests per second, shared by every call of this adapter (threads and tasks "
            "alike). Without it the backend's flow control learns the server's rate from its 429s; set it a little "
            "under a limit you know: calls are then spaced instead of refused, and a 429 still retries."
        ),
    )

    _backend: Backend = PrivateAttr()

    @field_serializer("api_key")
    def _mask_token(self, value: SecretStr | None) -> str | None:
        # Dumps (model_dump, JSON, LlamaIndex's to_json / to_dict) show that a token is set, never its value.
        return "**********" if value is not None else None

    def __getstate__(self) -> dict[Any, Any]:
        # Pickles carry no token: the backend's own pickling drops it too, and a copy reads HF_TOKEN again.
        state = super().__getstate__()
        state["__dict__"] = {**state["__dict__"], "api_key": None}
        return state

    def _target_model(self) -> str | None:
        """The Hub model id (or served model name) of the shorthand."""
        return getattr(self, "model", None)

    def _backend_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for a backend built from the shorthand (batch sizes...)."""
        return {}

    @model_validator(mode="after")
    def _resolve_backend(self) -> Any:
        if self.backend is not None:
            if self.requests_per_second is not None:
                raise ValueError("requests_per_second configures a backend built here; pass rate_limit= to yours")
            self._backend = self.backend
            return self
        hub_kwargs: dict[str, Any] = {"retry": RetryPolicy(max_attempts=self.max_retries + 1)}
        if self.timeout is not None:  # 0, nan, inf are refused by the backend, not replaced by the default
            hub_kwargs["timeout"] = self.timeout
        if self.requests_per_second is not None:
            hub_kwargs["rate_limit"] = RateLimit(self.requests_per_second, per=1.0)
        # Only a token passed by the caller is explicit; one read from HF_TOKEN keeps HubBackend's rule of going to
        # Hugging Face hosts only.
        token = self.api_key if "api_key" in self.model_fields_set else None
        self._backend = resolve_backend(
            model=self._target_model(), base_url=self.base_url, provider=self.provider, token=token,
            **hub_kwargs, **self._backend_kwargs(),
        )  # fmt: skip
        return self

    @property
    def client(self) -> Backend:
        """The backend this adapter runs on."""
        return self._backend

    def _model_override(self, kwargs: dict[str, Any]) -> str | None:
        # With an explicit backend the model is a per-call model name; the shorthand baked it into the backend.
        model = kwargs.pop("model", None)
        if model is not None:
            return str(model)
        return self._target_model() if self.backend is not None else None


class ModelNameTarget(BackendTarget):
    """:class:`BackendTarget` plus ``model`` (alias ``model_name``, as LangChain's partner packages name it): the
    LangChain adapters and the tool sets of both frameworks."""

    model: str | None = Field(
        default=None, alias="model_name", description="Hub model id (or, with base_url, the served model name)."
    )
