"""``GET | PUT | DELETE /_hfbridge/faults``: read, replace or clear the fault plan at run time. A plan is checked
field by field (422 naming the field); the answer carries what was injected so far and the rate-limit refusals."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from .context import ServerContext
from .errors import JSONBody, Refusal, error_response
from .faults import FaultPlan
from .pipeline import read_json
from .validation import RequestModel, parse

__all__ = ["FaultPlanBody", "faults_endpoint"]

Kind = Literal["rate_limited", "loading", "server_error", "drop", "stall", "midstream_error", "status"]


class FaultBody(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: Kind
    status: int = Field(default=500, ge=100, le=599)
    retry_after: float | None = Field(default=None, ge=0, le=3600)
    estimated_time: float | None = Field(default=None, ge=0, le=3600)
    stall_seconds: float = Field(default=5.0, ge=0, le=600)
    after_chunks: int = Field(default=2, ge=0)
    message: str | None = None


class FaultPlanBody(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rates: dict[Kind, float] = Field(default_factory=dict)
    script: list[FaultBody | None] = Field(default_factory=list, max_length=100_000)
    seed: int | None = 0
    defaults: dict[Kind, dict[str, float | int | str | None]] = Field(default_factory=dict)
    routes: list[str] = Field(default_factory=list)
    retry_after_mode: Literal["none", "seconds", "fractional"] = "none"


def _state(ctx: ServerContext) -> Response:
    plan = ctx.faults
    refusals = ctx.rate_limit.refused if ctx.rate_limit is not None else 0
    return JSONBody({"active": plan is not None, "stats": dict(plan.stats) if plan else {},
                     "rate_limit_refusals": refusals})  # fmt: skip


def faults_endpoint(ctx: ServerContext):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        try:
            if request.method == "DELETE":
                ctx.faults = None
            elif request.method == "PUT":
                body = parse(FaultPlanBody, await read_json(request, ctx))
                try:
                    ctx.faults = FaultPlan.from_dict(body.model_dump(exclude_none=False))
                except (ValueError, TypeError) as exc:
                    raise Refusal("validation", f"invalid fault plan: {exc}") from None
        except Refusal as refusal:
            return error_response(refusal, "hf")
        return _state(ctx)

    return endpoint
