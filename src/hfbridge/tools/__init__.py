"""Every task as an agent tool, framework-neutral: ``hfbridge.langchain`` and ``hfbridge.llama_index`` only adapt it.

>>> from hfbridge.tools import get_tool
>>> get_tool("ner").name
'named_entity_recognition'

A task that declares ``tool=ToolInfo(...)`` (see :class:`~hfbridge.tasks.ToolInfo` and ``docs/architecture.md``) is
a :class:`ToolSpec` here, and so a LangChain ``BaseTool`` (``HFTool``, ``hf_tools``) and a LlamaIndex
``FunctionTool`` (``HFToolSpec``) with the same name, description, argument schema, options and behaviour:

* **arguments** are checked against the tool's schema; an unknown argument or a bad value is a message to the
  model ("Invalid tool input: ... Fix the arguments and call the tool again."), never an exception in the loop;
* **options** (what a tool is built with: any keyword option of the task's method, e.g. ``top_k``, ``labels``,
  ``hypothesis_template``, ``width``, plus filter arguments such as ``entity_types``) are checked once, at
  construction: an unknown name or a wrong type raises :class:`~hfbridge.errors.ConfigurationError`. An argument
  the model omits takes the option of the same name (zero-shot ``labels`` fall back to the tool's labels), then
  the method's default;
* **backend options** (``backend``, or ``model`` / ``base_url`` / ``provider`` / ``api_key`` / ``timeout`` /
  ``max_retries`` / ``requests_per_second``) are the same in both frameworks; ``hf_tools`` / ``HFToolSpec`` build
  one backend for all their tools;
* **results** are JSON text; images and audio are written to files in ``output_dir`` and the model reads their
  paths (``_render.py``);
* **errors** (typed hfbridge errors: bad input, 402, unsupported task...) reach the model as
  ``"<ErrorType>: <message>. <advice>"``.
"""

from __future__ import annotations

from ._choice import normalize_tool_choice
from ._render import DEFAULT_OUTPUT_DIR, MediaFiles, render_error, render_result, validation_message
from ._set import BACKEND_OPTIONS, ToolSet, ToolTarget
from ._spec import DEFAULT_TOOLS, TOOLS, ToolCallError, ToolSpec, get_tool, select_tools

__all__ = [
    "ToolSpec", "ToolCallError", "ToolSet", "ToolTarget", "TOOLS", "DEFAULT_TOOLS", "BACKEND_OPTIONS", "get_tool",
    "select_tools", "MediaFiles", "DEFAULT_OUTPUT_DIR", "render_result", "render_error", "validation_message",
    "normalize_tool_choice",
]  # fmt: skip
