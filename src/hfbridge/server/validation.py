"""Request bodies checked against pydantic models: a wrong body is a 422 with a message naming the field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from .errors import Refusal

__all__ = ["RequestModel", "parse"]

Model = TypeVar("Model", bound=BaseModel)


class RequestModel(BaseModel):
    """A request body. Unknown fields are ignored, as TGI, TEI and vLLM ignore them (clients send extras such as
    ``user`` or ``stream_options``); known fields are strict: ``"5"`` is not a number."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


def parse(model: type[Model], body: Any) -> Model:
    if not isinstance(body, dict):
        raise Refusal("validation", f"the request body must be a JSON object, got {type(body).__name__}")
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Refusal("validation", f"{where}: {first['msg']}", param=where) from None
