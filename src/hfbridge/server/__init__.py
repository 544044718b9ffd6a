"""A local server that speaks the Hugging Face inference protocol, with fault injection (extra ``[server]``)."""

from .app import create_app
from .faults import Fault, FaultPlan
from .runner import ServerThread, free_port, wait_until_healthy

__all__ = ["create_app", "Fault", "FaultPlan", "ServerThread", "free_port", "wait_until_healthy"]
