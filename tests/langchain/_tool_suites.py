"""The langchain-tests tool suites for every tool in the registry: a new task's tool is tested without a line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hfbridge.langchain import tools as lc_tools
from hfbridge.tools import TOOLS, ToolSpec


def suite_name(spec: ToolSpec, kind: str) -> str:
    """``TestNamedEntityRecognitionToolIntegration``: also the folder of the suite's cassettes."""
    return f"Test{''.join(part.title() for part in spec.name.split('_'))}Tool{kind}"


def tool_suites(kind: str, bases: tuple[type, ...], params: Callable[[ToolSpec], dict[str, Any]]) -> dict[str, type]:
    """One test class per tool that declares an example call (``ToolInfo(example=...)``): its public class
    (``NERTool``...) or ``HFTool(tool=...)``, built with ``params``, invoked with that example. A tool without one has
    no suite until its declaration gives the example (and, for the integration suite, its cassettes are recorded)."""
    suites: dict[str, type] = {}
    for spec in TOOLS:
        if not spec.example:
            continue
        cls = lc_tools._NAMED.get(spec.name, lc_tools.HFTool)
        attrs = {
            "tool_constructor": property(lambda self, cls=cls: cls),
            "tool_constructor_params": property(lambda self, spec=spec: {"tool": spec.name, **params(spec)}),
            "tool_invoke_params_example": property(lambda self, spec=spec: dict(spec.example)),
        }
        name = suite_name(spec, kind)
        suites[name] = type(name, bases, attrs)
    return suites
