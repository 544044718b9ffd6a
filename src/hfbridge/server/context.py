"""What every handler needs to know about the server it runs in."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..backends.base import Backend

__all__ = ["ServerContext"]


@dataclass
class ServerContext:
    """The backend, the models it serves, and the limits a request is checked against.

    ``model_id`` is the served model (what ``/info`` and OpenAI responses name); ``task_models`` maps a task to the
    model that runs it when the backend runs several (``LocalBackend.models``).
    """

    backend: Backend
    model_id: str
    task_models: dict[str, str] = field(default_factory=dict)
    #: Texts per request (TEI's ``max_client_batch_size``); more is refused.
    max_batch_size: int | None = None

    @classmethod
    def for_backend(cls, backend: Backend, model_id: str | None = None, **limits: int | None) -> ServerContext:
        task_models = getattr(backend, "models", None)
        return cls(backend, model_id or backend.model_id, dict(task_models) if isinstance(task_models, dict) else {},
                   **limits)  # type: ignore[arg-type]  # fmt: skip

    def model_for(self, task: str) -> str:
        return self.task_models.get(task, self.model_id)

    @property
    def model_ids(self) -> list[str]:
        return list(dict.fromkeys([self.model_id, *self.task_models.values()]))
