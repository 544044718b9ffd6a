"""``HFToolSpec``: hfbridge's tools (``hfbridge.tools``, one per task that declares one) as LlamaIndex
``FunctionTool``s."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.tool_spec.base import BaseToolSpec

from ..backends import Backend
from ..tools import DEFAULT_TOOLS, ToolCallError, ToolSet, ToolSpec

__all__ = ["HFToolSpec", "HFFunctionTool"]


class HFFunctionTool(FunctionTool):
    """A ``FunctionTool`` whose failures (bad arguments, typed hfbridge errors) come back as an error
    ``ToolOutput`` (``is_error=True``, the message as content, the cause as ``exception``) instead of an exception:
    what LangChain's tools do, and what the agent would hand the model anyway."""

    def _failed(self, error: ToolCallError, kwargs: dict[str, Any]) -> ToolOutput:
        return ToolOutput(content=str(error), tool_name=self.metadata.get_name(), raw_input={"kwargs": kwargs},
                          raw_output=str(error), is_error=True, exception=error.error or error)  # fmt: skip

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        try:
            return super().call(*args, **kwargs)
        except ToolCallError as error:
            return self._failed(error, kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        try:
            return await super().acall(*args, **kwargs)
        except ToolCallError as error:
            return self._failed(error, kwargs)


class HFToolSpec(BaseToolSpec):
    """hfbridge's tools for any LlamaIndex agent, on **one** backend.

    >>> tools = HFToolSpec(labels=["billing", "account"]).to_tool_list()
    >>> agent = FunctionAgent(tools=tools, llm=HFLLM())

    ``include``: tool names, task names or the short names ``"sentiment"``, ``"zero_shot"``, ``"ner"``, ``"image"``
    (``"all"``: every tool); ``include_image=True`` adds ``"image"``. ``options``: the backend shorthand (``model``,
    ``base_url``, ``provider``, ``api_key``, ``timeout``, ``max_retries``, ``requests_per_second``) and tool options,
    each given to the tools that take it (``labels=`` to zero-shot) — the same as LangChain's ``hf_tools``.
    Each tool has a sync and an async function and its task's argument schema.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        include: str | Sequence[str] = DEFAULT_TOOLS,
        include_image: bool = False,
        output_dir: str | Path | None = None,
        **options: Any,
    ) -> None:
        if include_image:
            include = [*([include] if isinstance(include, str) else include), "image"]
        self.tools = ToolSet(backend, include=include, output_dir=output_dir, **options)
        self.backend = self.tools.backend
        self.spec_functions = [spec.name for spec in self.tools.specs]

    def _spec(self, name: str) -> ToolSpec:
        for spec in self.tools.specs:
            if name in (spec.name, "a" + spec.name):
                return spec
        raise AttributeError(name)

    def __getattr__(self, name: str) -> Any:
        # ``spec.named_entity_recognition(text=...)`` and its async twin ``anamed_entity_recognition``, as before.
        if name.startswith("_") or "tools" not in self.__dict__:
            raise AttributeError(name)
        spec = self._spec(name)
        return self._function(spec, asynchronous=name != spec.name)

    def _function(self, spec: ToolSpec, *, asynchronous: bool) -> Any:
        tools, options = self.tools, self.tools.options[spec.name]

        def run(*args: Any, **kwargs: Any) -> str:
            return spec.run(tools.backend, kwargs, positional=args, options=options, model=tools.model,
                            media=tools.media)  # fmt: skip

        async def arun(*args: Any, **kwargs: Any) -> str:
            return await spec.arun(tools.backend, kwargs, positional=args, options=options, model=tools.model,
                                   media=tools.media)  # fmt: skip

        function = arun if asynchronous else run
        function.__name__ = ("a" if asynchronous else "") + spec.name
        function.__doc__ = spec.presented(options)[0]
        return function

    def get_fn_schema_from_fn_name(self, fn_name: str, spec_functions: list[Any] | None = None) -> Any:
        return self.get_metadata_from_fn_name(fn_name).fn_schema

    def get_metadata_from_fn_name(self, fn_name: str, spec_functions: list[Any] | None = None) -> ToolMetadata:
        spec = self._spec(fn_name)
        description, args = spec.presented(self.tools.options[spec.name])
        return ToolMetadata(name=spec.name, description=description, fn_schema=args)

    def to_tool_list(
        self,
        spec_functions: list[Any] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """One ``FunctionTool`` per tool (``spec_functions``: a subset, by name); ``func_to_metadata_mapping``
        replaces a tool's metadata."""
        mapping = func_to_metadata_mapping or {}
        tools: list[FunctionTool] = []
        for entry in spec_functions or self.spec_functions:
            spec = self._spec(entry[0] if isinstance(entry, tuple) else entry)
            metadata = mapping.get(spec.name) or self.get_metadata_from_fn_name(spec.name)
            tools.append(HFFunctionTool.from_defaults(
                fn=self._function(spec, asynchronous=False),
                async_fn=self._function(spec, asynchronous=True),
                tool_metadata=metadata,
            ))  # fmt: skip
        return tools
