"""hfbridge's tools (``hfbridge.tools``, one per task that declares one) as LangChain ``BaseTool``s."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import Field

from ..backends import Backend
from ..tools import DEFAULT_TOOLS, MediaFiles, ToolCallError, ToolSet, ToolSpec, ToolTarget, get_tool

__all__ = [
    "HFTool",
    "TextClassificationTool",
    "ZeroShotClassificationTool",
    "NERTool",
    "TextToImageTool",
    "hf_tools",
]


class HFTool(ToolTarget, BaseTool):
    """Any hfbridge tool as a LangChain tool: ``HFTool(tool="summarization", backend=backend, **options)``.

    Name, description and argument schema come from the task's declaration; ``options`` are the tool's options
    (``labels=``, ``top_k=``...: see ``hfbridge.tools``), given as keywords and checked at construction (an unknown
    one raises :class:`~hfbridge.errors.ConfigurationError`). Bad arguments and typed errors (402, unsupported task...)
    reach the agent as the tool's output (``ToolMessage(status="error")``), never as an exception in its loop.
    """

    tool: str = Field(default="", description="The hfbridge tool (tool name, task name or short name).")
    options: dict[str, Any] = Field(default_factory=dict, description="The tool's options, checked once.")
    output_dir: Path | None = Field(default=None, description="Where images and audio results are written.")
    handle_tool_error: bool | str | Any = True

    #: The tool a named subclass always is (``NERTool``...).
    fixed_tool: ClassVar[str | None] = None

    def __init__(self, **data: Any) -> None:
        spec = get_tool(self.fixed_tool or data.get("tool") or "")
        known = {name for key, info in type(self).model_fields.items() for name in (key, info.alias) if name}
        options = dict(data.pop("options", None) or {})
        options.update({key: data.pop(key) for key in list(data) if key not in known})
        checked = spec.check_options({k: v for k, v in options.items() if v is not None})
        description, args = spec.presented(checked)
        data.update(tool=spec.name, options=checked)
        data.setdefault("name", spec.name)
        data.setdefault("description", description)
        data.setdefault("args_schema", args)
        super().__init__(**data)

    @property
    def spec(self) -> ToolSpec:
        """The framework-neutral tool this adapts."""
        return get_tool(self.tool)

    def _parse_input(self, tool_input: str | dict[str, Any], tool_call_id: str | None) -> dict[str, Any]:
        # The tool layer checks the arguments (unknown ones included, which BaseTool would drop silently) and keeps
        # only those given, so an omitted one can take the tool's option.
        try:
            return self.spec.arguments(tool_input)
        except ToolCallError as error:
            raise ToolException(str(error)) from None

    def _call(self) -> dict[str, Any]:
        return {"options": self.options, "model": self.tool_model(), "media": MediaFiles(self.output_dir)}

    def _run(self, run_manager: CallbackManagerForToolRun | None = None, **arguments: Any) -> str:
        try:
            return self.spec.run(self.client, arguments, **self._call())
        except ToolCallError as error:
            raise ToolException(str(error)) from error.error

    async def _arun(self, run_manager: AsyncCallbackManagerForToolRun | None = None, **arguments: Any) -> str:
        try:
            return await self.spec.arun(self.client, arguments, **self._call())
        except ToolCallError as error:
            raise ToolException(str(error)) from error.error


class TextClassificationTool(HFTool):
    """Sentiment (or any text-classification model): labels with scores, best first. Option: ``top_k``."""

    fixed_tool: ClassVar[str | None] = "text_classification"


class ZeroShotClassificationTool(HFTool):
    """Rank candidate labels for a text; ``labels=`` are the labels used when a call gives none."""

    fixed_tool: ClassVar[str | None] = "zero_shot_classification"


class NERTool(HFTool):
    """Named entities with their group, text span and score; ``entity_types=`` filters when a call gives none."""

    fixed_tool: ClassVar[str | None] = "named_entity_recognition"


class TextToImageTool(HFTool):
    """Generate an image, save it as PNG in ``output_dir``, return its path."""

    fixed_tool: ClassVar[str | None] = "text_to_image"


_NAMED: dict[str, type[HFTool]] = {
    cls.fixed_tool: cls
    for cls in (TextClassificationTool, ZeroShotClassificationTool, NERTool, TextToImageTool)
    if cls.fixed_tool
}


def hf_tools(
    backend: Backend | None = None,
    *,
    include: str | Sequence[str] = DEFAULT_TOOLS,
    output_dir: str | Path | None = None,
    **options: Any,
) -> list[BaseTool]:
    """Tools for an agent, all on **one** backend (one rate limit, models loaded once).

    ``include``: tool names, task names or the short names ``"sentiment"``, ``"zero_shot"``, ``"ner"``, ``"image"``
    (``"all"``: every tool). ``options``: the backend shorthand (``model``, ``base_url``, ``provider``, ``api_key``,
    ``timeout``, ``max_retries``, ``requests_per_second``) and tool options, each given to the tools that take it
    (``labels=`` to zero-shot). The same as LlamaIndex's ``HFToolSpec(backend, include=..., **options)``.
    """
    tools = ToolSet(backend, include=include, output_dir=output_dir, **options)
    built: list[BaseTool] = []
    for spec in tools.specs:
        cls = _NAMED.get(spec.name, HFTool)
        built.append(cls(tool=spec.name, backend=tools.backend, model=tools.model, output_dir=output_dir,
                         options=tools.options[spec.name]))  # fmt: skip
    return built
