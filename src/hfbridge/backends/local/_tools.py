"""Tool calls from a small local model, made deterministic by a JSON-schema grammar.

Models of a few hundred million parameters do not follow tool-calling chat templates reliably. Instead the
model's answer is constrained to one JSON object that is either a call of one of the offered tools (its
``arguments`` valid against that tool's schema) or, when ``tool_choice`` is ``"auto"``, a plain answer.
The grammar guarantees the plumbing; which tool the model picks is still up to the model.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ...types import ToolCall

_ANSWER_KEY = "answer"


def tool_grammar(tools: list[dict[str, Any]], tool_choice: Any) -> dict[str, Any] | None:
    """The JSON schema the answer must follow, or ``None`` when tools play no part in this request."""
    if not tools or tool_choice == "none":
        return None
    functions = [tool["function"] for tool in tools]
    if isinstance(tool_choice, dict):
        name = tool_choice["function"]["name"]
        functions = [function for function in functions if function["name"] == name]
    options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "tool": {"const": function["name"]},
                "arguments": function.get("parameters") or {"type": "object"},
            },
            "required": ["tool", "arguments"],
        }
        for function in functions
    ]
    if tool_choice in (None, "auto"):
        options.append({"type": "object", "properties": {_ANSWER_KEY: {"type": "string"}}, "required": [_ANSWER_KEY]})
    return options[0] if len(options) == 1 else {"anyOf": options}


def tool_instructions(tools: list[dict[str, Any]], tool_choice: Any) -> str:
    lines = ["You can call these tools. Reply with one JSON object."]
    for tool in tools:
        function = tool["function"]
        lines.append(f"- {function['name']}: {function.get('description', '')}".rstrip(": "))
    lines.append('To call a tool reply {"tool": "<name>", "arguments": {...}}.')
    if tool_choice in (None, "auto"):
        lines.append(f'To answer without a tool reply {{"{_ANSWER_KEY}": "<text>"}}.')
    return "\n".join(lines)


def with_tool_prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]], choice: Any) -> list[dict]:
    """The conversation rewritten for a model without native tool support (new lists; inputs untouched)."""
    rewritten: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") == "tool":
            rewritten.append({"role": "user", "content": f"Tool result: {message.get('content', '')}"})
        elif message.get("tool_calls"):
            calls = [
                {"tool": call["function"]["name"], "arguments": _loads(call["function"].get("arguments"))}
                for call in message["tool_calls"]
            ]
            rewritten.append({"role": "assistant", "content": json.dumps(calls[0] if len(calls) == 1 else calls)})
        else:
            rewritten.append({"role": message["role"], "content": message.get("content") or ""})
    instructions = tool_instructions(tools, choice)
    if rewritten and rewritten[0]["role"] == "system":
        rewritten[0] = {"role": "system", "content": rewritten[0]["content"] + "\n\n" + instructions}
    else:
        rewritten.insert(0, {"role": "system", "content": instructions})
    return rewritten


def parse_tool_answer(text: str) -> tuple[str | None, list[ToolCall]]:
    """``(content, tool_calls)`` from the constrained answer."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text, []
    if isinstance(value, dict) and "tool" in value:
        arguments = value.get("arguments")
        return None, [
            ToolCall(
                id=f"call_{uuid.uuid4().hex[:12]}",
                name=str(value["tool"]),
                arguments=json.dumps(arguments if isinstance(arguments, dict) else {}),
            )
        ]
    if isinstance(value, dict) and _ANSWER_KEY in value:
        return str(value[_ANSWER_KEY]), []
    return text, []


def _loads(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments or {}
