"""The fields every LangChain adapter shares to find its backend: ``backend=`` or the shorthand."""

from __future__ import annotations

from typing import Any

from langchain_core.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from ..backends import Backend, resolve_backend
from ..retry import RetryPolicy


class BackendFields(BaseModel):
    """``backend=`` (any backend, local or hub), or ``model=`` / ``base_url=`` / ``provider=`` for a HubBackend.

    With none of them, ``HFBRIDGE_BACKEND`` or ``HF_TOKEN`` selects a hub backend, else the offline LocalBackend.
    Nothing here touches the network: clients and models are created on first use.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True, protected_namespaces=())

    backend: Backend | None = Field(default=None, exclude=True, description="The backend to run on.")
    model: str | None = Field(
        default=None, alias="model_name", description="Hub model id (or, with base_url, the served model name)."
    )
    base_url: str | None = Field(default=None, description="A TGI / TEI / vLLM / Inference Endpoint URL.")
    provider: str | None = Field(default=None, description="Inference Provider for Hub model ids, e.g. 'auto'.")
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("HF_TOKEN", default=None),
        alias="token",
        description="Hugging Face token; read from HF_TOKEN when not given.",
    )
    timeout: float | None = Field(default=60.0, description="Seconds to wait for an answer (hub backends).")
    max_retries: int = Field(default=4, ge=0, description="Retries after the first try (hub backends).")

    _backend: Backend = PrivateAttr()

    @model_validator(mode="after")
    def _resolve_backend(self) -> Any:
        if self.backend is not None:
            self._backend = self.backend
        else:
            hub_kwargs: dict[str, Any] = {
                "retry": RetryPolicy(max_attempts=self.max_retries + 1),
                **({"timeout": self.timeout} if self.timeout else {}),
            }
            # Only a token passed by the caller is explicit; one read from HF_TOKEN keeps HubBackend's rule of
            # going to Hugging Face hosts only.
            token = self.api_key if "api_key" in self.model_fields_set else None
            self._backend = resolve_backend(
                model=self.model, base_url=self.base_url, provider=self.provider, token=token, **hub_kwargs,
                **self._backend_kwargs(),
            )  # fmt: skip
        return self

    def _backend_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for a backend built from the shorthand (batch sizes...)."""
        return {}

    @property
    def client(self) -> Backend:
        """The backend this adapter runs on."""
        return self._backend

    def _model_override(self, kwargs: dict[str, Any]) -> str | None:
        # With an explicit backend, `model` is the per-call model name; the shorthand baked it into the backend.
        model = kwargs.pop("model", None)
        if model is not None:
            return str(model)
        return self.model if self.backend is not None else None
