"""Backends: where inference runs. Adapters only ever talk to a :class:`Backend`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .base import Backend
from .fallback import FallbackBackend
from .hub import HubBackend
from .transport import InProcessTransport, Transport

if TYPE_CHECKING:
    from .local import LocalBackend

__all__ = ["Backend", "FallbackBackend", "HubBackend", "LocalBackend", "Transport", "InProcessTransport",
           "resolve_backend"]


def __getattr__(name: str) -> Any:
    if name == "LocalBackend":  # needs the [local] extra: imported on first use only
        from .local import LocalBackend

        return LocalBackend
    raise AttributeError(name)


def resolve_backend(
    backend: Backend | None = None,
    *,
    model: str | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    **kwargs: Any,
) -> Backend:
    """The backend an adapter should use: the one given, a :class:`HubBackend` for ``model`` / ``base_url`` /
    ``provider`` or a configured ``HF_TOKEN``, else the embedded :class:`LocalBackend` (offline, no token)."""
    if backend is not None:
        if model or base_url or provider:
            raise ConfigurationError("pass either backend= or model=/base_url=/provider=, not both")
        return backend
    hub_only = {key: value for key, value in kwargs.items() if key in ("token", "timeout", "headers", "bill_to")}
    if model is not None or base_url is not None or provider is not None or hub_only.get("token") is not None:
        return HubBackend(model, base_url=base_url, provider=provider, **kwargs)
    import os

    if os.environ.get("HFBRIDGE_BACKEND", "").strip():
        return backend_from_spec(os.environ["HFBRIDGE_BACKEND"], **kwargs)
    if os.environ.get("HF_TOKEN", "").strip():
        return HubBackend(**kwargs)
    from .local import LocalBackend

    local_kwargs = {key: value for key, value in kwargs.items() if key not in hub_only and key != "retry"}
    return LocalBackend(**local_kwargs)


def backend_from_spec(spec: str, **kwargs: Any) -> Backend:
    """``"local"``, an http(s) URL, or a Hub model id (``HFBRIDGE_BACKEND`` and the CLI's ``--backend`` use this);
    anything else raises :class:`~hfbridge.errors.ConfigurationError`.

    ``kwargs`` are the backend's settings; for ``"local"`` the Hub-only ones (``provider``, ``token``, ...) are
    dropped and the rest (``cache``, ``rate_limit``, ``batch_size``, ...) kept."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if spec == "local":
        from .local import LocalBackend

        hub_only = ("provider", "token", "timeout", "headers", "bill_to", "retry")
        return LocalBackend(**{key: value for key, value in kwargs.items() if key not in hub_only})
    if spec.startswith(("http://", "https://")):
        return HubBackend(base_url=spec, **kwargs)
    try:
        validate_repo_id(spec)
    except HFValidationError:
        raise ConfigurationError(
            f"backend {spec!r} is neither 'local', an http(s) URL nor a Hub model id ('name' or 'owner/name')"
        ) from None
    return HubBackend(spec, **kwargs)
