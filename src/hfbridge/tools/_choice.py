"""``tool_choice`` in every form the backend and both frameworks accept, as the OpenAI wire form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _validation as check

__all__ = ["normalize_tool_choice"]


def normalize_tool_choice(tool_choice: Any, tools: Sequence[dict[str, Any]] | None) -> Any:
    """The wire form of ``tool_choice``, checked against ``tools`` (OpenAI function tool dicts).

    ``None`` / ``False``: nothing sent. ``"auto"``, ``"none"``. ``"required"``, ``"any"`` (LangChain) or ``True``:
    ``"required"`` (which needs a tool). A tool name, ``{"type": "function", "function": {"name": ...}}`` or
    ``{"name": ...}``: that tool, which must be among ``tools``. Anything else:
    :class:`~hfbridge.errors.InvalidInputError`.
    """
    if tool_choice is False:
        return None
    if tool_choice is True:
        tool_choice = "required"
    return check.normalize_tool_choice(tool_choice, None if tools is None else list(tools))
