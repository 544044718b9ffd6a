"""What every handler needs to know about the server it runs in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..backends.base import Backend
from .faults import FaultPlan
from .limits import ServerLimits
from .ratelimit import ServerRateLimit
from .tasks import ModelTable

__all__ = ["ServerContext"]


@dataclass
class ServerContext:
    """The backend, the models it serves, the limits and the faults. One per app (``app.state.context``)."""

    backend: Backend
    models: ModelTable
    limits: ServerLimits = field(default_factory=ServerLimits)
    #: The fault plan in force; ``PUT /_hfbridge/faults`` replaces it.
    faults: FaultPlan | None = None
    rate_limit: ServerRateLimit | None = None
    #: Seconds added to each task request (a real server's model time), for benchmarks.
    latency: float = 0.0
    capacity: asyncio.Semaphore | None = None

    @property
    def model_id(self) -> str:
        """The served model: what ``/info`` and the OpenAI routes name."""
        return self.models.served_model
