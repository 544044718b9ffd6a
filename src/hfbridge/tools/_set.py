"""The tools of one ``hf_tools(...)`` / ``HFToolSpec(...)`` call: one backend, each tool's options checked once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .._adapter_fields import ModelNameTarget
from ..backends import Backend
from ..errors import ConfigurationError
from ._render import MediaFiles, validation_message
from ._spec import DEFAULT_TOOLS, ToolSpec, select_tools

__all__ = ["ToolTarget", "ToolSet", "BACKEND_OPTIONS"]


class ToolTarget(ModelNameTarget):
    """How tools find their backend: ``backend=``, or the shorthand (``model``, ``base_url``, ``provider``,
    ``api_key``/``token``, ``timeout``, ``max_retries``, ``requests_per_second``) — the same fields in LangChain and
    LlamaIndex. With ``backend=``, ``model`` names the model each call uses on it."""

    def tool_model(self) -> str | None:
        """The model a tool names per call (only with an explicit backend; the shorthand built it in)."""
        return self._model_override({})


#: Option names that configure the backend rather than a tool (aliases included).
BACKEND_OPTIONS = frozenset(
    name for key, info in ToolTarget.model_fields.items() for name in (key, info.alias) if name
) - {"backend"}


class ToolSet:
    """``include``'s tools on **one** backend (one client, one rate limit, one retry budget, models loaded once).

    ``options`` are the backend shorthand (:data:`BACKEND_OPTIONS`) and tool options: each tool option goes to
    every selected tool that takes it (``labels`` to zero-shot, ``top_k`` to classification...); one that no
    selected tool takes raises :class:`~hfbridge.errors.ConfigurationError`, as a value of the wrong type does.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        include: str | Sequence[str] = DEFAULT_TOOLS,
        output_dir: str | Path | None = None,
        **options: Any,
    ) -> None:
        self.specs: list[ToolSpec] = select_tools(include)
        options = {key: value for key, value in options.items() if value is not None}  # None: not given
        settings = {key: options.pop(key) for key in list(options) if key in BACKEND_OPTIONS}
        taken = {name for spec in self.specs for name in spec.options}
        unknown = sorted(set(options) - taken)
        if unknown:
            raise ConfigurationError(
                f"no selected tool takes {', '.join(map(repr, unknown))}; tool options: {', '.join(sorted(taken))}; "
                f"backend options: {', '.join(sorted(BACKEND_OPTIONS))}"
            )
        self.options = {
            spec.name: spec.check_options({key: value for key, value in options.items() if key in spec.options})
            for spec in self.specs
        }
        try:
            target = ToolTarget(backend=backend, **settings)
        except ValidationError as error:
            raise ConfigurationError(validation_message(error, "backend option")) from None
        self.backend: Backend = target.client
        self.model = target.tool_model()
        self.media = MediaFiles(output_dir)
