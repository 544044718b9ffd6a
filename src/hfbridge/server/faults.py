"""Fault injection for the protocol server: what real deployments do to clients, on demand and reproducibly.

A :class:`FaultPlan` decides, request by request, whether to answer normally or with a fault. Faults come first
from ``script`` (in order, ``None`` meaning "answer normally"), then at random from ``rates`` with ``seed``.

>>> FaultPlan(script=[Fault.rate_limited(retry_after=1), None, Fault.loading(estimated_time=0.5)])
>>> FaultPlan(rates={"rate_limited": 0.2, "loading": 0.1, "drop": 0.05, "stall": 0.05}, seed=7)

How a 429 says when to come back is the plan's ``retry_after_mode`` (see :data:`RETRY_AFTER_MODES`). The default,
``"none"``, is what TGI, TEI and most providers send: no ``Retry-After`` at all, so a client must pace itself.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["rate_limited", "loading", "server_error", "drop", "stall", "midstream_error", "status"]
FAULT_KINDS: tuple[str, ...] = ("rate_limited", "loading", "server_error", "drop", "stall", "midstream_error", "status")
RetryAfterMode = Literal["none", "seconds", "fractional"]
#: How a 429 carries its wait: ``none`` (no header: TGI, TEI, most providers), ``seconds`` (whole seconds, rounded
#: up, as HTTP defines the header and as gateways send it), ``fractional`` (decimal seconds: unrealistic, but it lets
#: tests and benchmarks run short waits).
RETRY_AFTER_MODES: tuple[str, ...] = ("none", "seconds", "fractional")

__all__ = ["Fault", "FaultPlan", "FAULT_KINDS", "RETRY_AFTER_MODES", "RetryAfterMode", "retry_after_header"]


def retry_after_header(seconds: float | None, mode: RetryAfterMode) -> dict[str, str]:
    """The ``Retry-After`` header (if any) a 429 asking for ``seconds`` carries in ``mode``."""
    if mode == "none" or seconds is None:
        return {}
    if mode == "seconds":
        return {"Retry-After": str(max(1, math.ceil(seconds - 1e-9)))}
    # Rounded up to the millisecond: a client told to wait less than the server needs arrives early and is refused.
    millis = max(1, math.ceil(seconds * 1000 - 1e-6))
    return {"Retry-After": f"{millis / 1000:.3f}".rstrip("0").rstrip(".")}


def check_retry_after_mode(mode: object) -> RetryAfterMode:
    if mode not in RETRY_AFTER_MODES:
        raise ValueError(f"retry_after_mode must be one of {RETRY_AFTER_MODES}, got {mode!r}")
    return mode  # type: ignore[return-value]


@dataclass(frozen=True)
class Fault:
    """One injected fault.

    kinds: ``rate_limited`` (429; ``retry_after`` is the wait the server wants, written or not as the plan's
    ``retry_after_mode`` says), ``loading`` (503 + estimated_time), ``server_error`` (5xx),
    ``drop`` (connection closed mid-answer), ``stall`` (no answer for ``stall_seconds``), ``midstream_error``
    (an error event after ``after_chunks`` chunks of a stream; plain calls get a 500), ``status`` (any status
    with an HF error body, e.g. 401, 402, 404, 413).
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    estimated_time: float | None = None
    stall_seconds: float = 5.0
    after_chunks: int = 2
    message: str | None = None

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0) -> Fault:
        return cls("rate_limited", status=429, retry_after=retry_after)

    @classmethod
    def loading(cls, estimated_time: float = 1.0) -> Fault:
        return cls("loading", status=503, estimated_time=estimated_time)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("server_error", status=status)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def stall(cls, seconds: float = 5.0) -> Fault:
        return cls("stall", stall_seconds=seconds)

    @classmethod
    def midstream_error(cls, after_chunks: int = 2) -> Fault:
        return cls("midstream_error", after_chunks=after_chunks)

    @classmethod
    def http_status(cls, status: int, message: str | None = None) -> Fault:
        return cls("status", status=status, message=message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultPlan:
    """Which requests fail and how. Thread-safe; counts what it injected in ``stats``."""

    rates: dict[str, float] = field(default_factory=dict)
    script: list[Fault | None] = field(default_factory=list)
    seed: int | None = 0
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Route prefixes the plan applies to (all task routes when empty).
    routes: list[str] = field(default_factory=list)
    #: How 429s carry ``Retry-After``: ``none`` (realistic default), ``seconds`` or ``fractional``.
    retry_after_mode: RetryAfterMode = "none"

    def __post_init__(self) -> None:
        check_retry_after_mode(self.retry_after_mode)
        unknown = set(self.rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._script = list(self.script)
        self.stats: Counter[str] = Counter()

    def applies_to(self, path: str) -> bool:
        return not self.routes or any(path.startswith(prefix) for prefix in self.routes)

    def next_fault(self) -> Fault | None:
        with self._lock:
            self.stats["requests"] += 1
            fault = self._script.pop(0) if self._script else self._draw()
            self.stats[fault.kind if fault else "ok"] += 1
            return fault

    def _draw(self) -> Fault | None:
        roll = self._random.random()
        for kind, rate in sorted(self.rates.items()):
            if roll < rate:
                return Fault(kind, **_defaults_for(kind, self.defaults))  # type: ignore[arg-type]
            roll -= rate
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        script = [Fault(**item) if item else None for item in data.get("script", [])]
        return cls(
            rates=dict(data.get("rates", {})),
            script=script,
            seed=data.get("seed", 0),
            defaults=dict(data.get("defaults", {})),
            routes=list(data.get("routes", [])),
            retry_after_mode=check_retry_after_mode(data.get("retry_after_mode", "none")),
        )


def _defaults_for(kind: str, defaults: dict[str, Any]) -> dict[str, Any]:
    base_by_kind: dict[str, dict[str, Any]] = {
        "rate_limited": {"status": 429, "retry_after": 1.0},
        "loading": {"status": 503, "estimated_time": 1.0},
        "server_error": {"status": 500},
        "status": {"status": 500},
    }
    base = base_by_kind.get(kind, {})
    allowed = {"status", "retry_after", "estimated_time", "stall_seconds", "after_chunks", "message"}
    specific = defaults.get(kind, {})
    return {**base, **{k: v for k, v in specific.items() if k in allowed}}
