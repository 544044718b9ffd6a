"""Tool calls that a capable local model writes in its reply (``tool_calls="reply"``).

A model such as Qwen2.5-Coder-1.5B-Instruct, shown the tools through its chat template, decides itself whether to
call one, but writes the call in whichever form it likes: Qwen's ``<tool_call>{...}</tool_call>`` tags (which
llama.cpp parses), or far more often a fenced block of JSON, or a bare JSON object::

    ```json
    {"name": "named_entity_recognition", "arguments": {"text": "..."}}
    ```

:func:`parse_calls` reads all three (and the doubled outer braces the model sometimes writes). A call is kept
only if it names an offered tool; argument keys the tool's schema does not declare are dropped (small models add
``"language": "en"`` and the like); a call missing a required argument is reported in ``incomplete`` so the
backend can have the grammar step write its arguments. A call cut by ``max_tokens`` is never guessed at: the
backend reports ``finish_reason="length"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```(?:json|tool_call|JSON)?\s*\n?(.*?)```", re.DOTALL)
#: What starts a tool call in a reply (and "{" as its first character): a stream holds text back from there on.
CALL_MARKERS = ("<tool_call>", "```")


@dataclass
class ParsedCalls:
    """The complete calls found, and the tools named in calls that lacked a required argument."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    incomplete: list[dict[str, Any]] = field(default_factory=list)


def parse_calls(text: str, functions: list[dict[str, Any]]) -> ParsedCalls:
    by_name = {function["name"]: function for function in functions}
    result = ParsedCalls()
    for candidate in _candidates(text):
        name = candidate.get("name")
        if not isinstance(name, str) or name not in by_name:
            continue
        arguments = candidate.get("arguments", candidate.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except json.JSONDecodeError:
                arguments = None
        function = by_name[name]
        if not isinstance(arguments, dict):
            result.incomplete.append(function)
            continue
        arguments = known_arguments(arguments, function.get("parameters") or {})
        required = (function.get("parameters") or {}).get("required") or []
        if any(key not in arguments for key in required):
            result.incomplete.append(function)
        else:
            result.calls.append((name, arguments))
    return result


def known_arguments(arguments: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` without the keys the schema does not declare (unless it allows additional properties)."""
    properties = parameters.get("properties")
    if not isinstance(properties, dict) or parameters.get("additionalProperties") is True:
        return arguments
    return {key: value for key, value in arguments.items() if key in properties}


def unfinished_call(text: str) -> bool:
    """Whether ``text`` ends inside a tool call: an open ``<tool_call>`` or code fence, or a JSON object that does
    not parse yet (what a reply cut by ``max_tokens`` looks like)."""
    if text.count("<tool_call>") > text.count("</tool_call>"):
        return True
    if text.count("```") % 2 == 1:
        return True
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            json.loads(stripped)
        except json.JSONDecodeError:
            return True
    return False


def marker_position(text: str) -> int:
    """Where a tool call may begin in ``text`` (its length if nowhere), counting a marker cut at the end."""
    if text.lstrip().startswith("{"):
        return 0
    positions = [text.find(marker) for marker in CALL_MARKERS if marker in text]
    for marker in CALL_MARKERS:  # "<tool_" or "``" at the very end may be the start of a marker
        for size in range(len(marker) - 1, 0, -1):
            if text.endswith(marker[:size]):
                positions.append(len(text) - size)
                break
    return min(positions, default=len(text))


def _candidates(text: str) -> list[dict[str, Any]]:
    blocks = [match.group(1) for match in _TAGGED.finditer(text)]
    blocks += [match.group(1) for match in _FENCED.finditer(text)]
    stripped = text.strip()
    if not blocks and stripped.startswith(("{", "[")):
        blocks.append(stripped)
    found: list[dict[str, Any]] = []
    for block in blocks:
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            # The 1.5B sometimes doubles the outer braces, as in a Python format string: {{"name": ..., ...}}
            if not (block.startswith("{{") and block.endswith("}}")):
                continue
            try:
                value = json.loads(block[1:-1])
            except json.JSONDecodeError:
                continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                found.append(item.get("function", item) if isinstance(item.get("function"), dict) else item)
    return found


def native_history(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation in the OpenAI shape llama.cpp renders through the model's own template (tool calls as
    calls, results as ``tool`` messages), with text-only content and ``developer`` as ``system``. New dicts."""
    history: list[dict[str, Any]] = []
    for message in messages:
        role = "system" if message.get("role") == "developer" else message.get("role")
        item: dict[str, Any] = {"role": role, "content": _text(message.get("content"))}
        if message.get("tool_calls"):
            item["tool_calls"] = [
                {"id": call.get("id"), "type": "function",
                 "function": {"name": call["function"]["name"], "arguments": _arguments(call["function"])}}
                for call in message["tool_calls"]
            ]  # fmt: skip
        if role == "tool":
            item["tool_call_id"] = message.get("tool_call_id")
        history.append(item)
    return history


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def _arguments(function: dict[str, Any]) -> str:
    arguments = function.get("arguments")
    return arguments if isinstance(arguments, str) else json.dumps(arguments or {})
