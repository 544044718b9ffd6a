"""Adaptive flow control: how many requests in flight and how many per second one server takes, learned from its
answers, shared by every thread and task that uses a backend.

* :class:`AdaptiveConcurrency` — requests in flight, from latency (delay-based, as TCP Vegas / BBR and Netflix's
  concurrency-limits) and from refusals;
* :class:`AdaptiveRate` — requests per second, from 429s, under an optional explicit cap;
* :class:`FlowControl` — both around each try, and the rule for what a refusal costs a call (``Verdict``).
"""

from .concurrency import AdaptiveConcurrency, Permit
from .control import FlowControl, Ticket, Verdict, signal_of
from .rate import AdaptiveRate, RateGrant

__all__ = ["AdaptiveConcurrency", "AdaptiveRate", "FlowControl", "Permit", "RateGrant", "Ticket", "Verdict",
           "signal_of"]  # fmt: skip
