"""A local server that speaks the Hugging Face inference protocol, with fault injection (extra ``[server]``)."""

from .app import create_app
from .faults import RETRY_AFTER_MODES, Fault, FaultPlan, RetryAfterMode
from .ratelimit import ServerRateLimit
from .runner import ServerThread, free_port, wait_until_healthy

__all__ = [
    "create_app", "Fault", "FaultPlan", "RETRY_AFTER_MODES", "RetryAfterMode", "ServerRateLimit", "ServerThread",
    "free_port", "wait_until_healthy",
]  # fmt: skip
