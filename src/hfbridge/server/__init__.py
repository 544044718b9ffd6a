"""A local server that speaks the TGI, TEI, OpenAI-compatible and hf-inference protocols over any backend, with
fault injection (extra ``[server]``). ``hub_emulation`` (test support) emulates the Hub and Endpoints APIs."""

from .app import create_app
from .faults import RETRY_AFTER_MODES, Fault, FaultPlan, RetryAfterMode
from .limits import ServerLimits
from .ratelimit import ServerRateLimit
from .runner import ServerThread, free_port, wait_until_healthy
from .tasks import served_tasks

__all__ = [
    "create_app", "Fault", "FaultPlan", "RETRY_AFTER_MODES", "RetryAfterMode", "ServerLimits", "ServerRateLimit",
    "ServerThread", "served_tasks", "free_port", "wait_until_healthy",
]  # fmt: skip
