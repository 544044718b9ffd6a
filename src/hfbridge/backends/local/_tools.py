"""Tool calls from a small local model, made reliable by splitting the decision and constraining each step.

Models of a few hundred million parameters do not follow tool-calling chat templates. Instead:

1. **Decision.** Unless ``tool_choice`` names the tool (or only one tool can be forced), the model picks among the
   offered tool names (plus ``none`` under ``"auto"``) with a grammar that admits nothing else.
2. **Arguments.** For the chosen tool the model writes the arguments under that tool's own JSON schema.
3. **Answer.** ``none`` means a plain text answer, generated (and streamed) as usual.

With ``tool_choice="auto"`` each tool is offered at most once after the latest user message, so an agent on the
local backend terminates after at most one call of each tool. The grammar guarantees the shape of every call;
which tool is picked and the argument values are still the model's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

NONE = "none"

#: DRY ("don't repeat yourself") sampling for grammar-constrained output: it stops small models from looping
#: inside a JSON string while still letting them copy values from the prompt (a plain repetition penalty does not).
CONSTRAINED_SAMPLING = {"dry_multiplier": 0.8, "dry_base": 1.75, "dry_allowed_length": 3}


def tools_used_since_user(messages: list[dict[str, Any]]) -> set[str]:
    """Names of the tools the assistant already called after the latest user message."""
    used: set[str] = set()
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        for call in message.get("tool_calls") or []:
            used.add(call["function"]["name"])
    return used


def offered_tools(tools: list[dict[str, Any]], tool_choice: Any, used: set[str]) -> list[dict[str, Any]]:
    """The tools the model may call now (see the module docstring)."""
    functions = [tool["function"] for tool in tools]
    if isinstance(tool_choice, dict):
        name = tool_choice["function"]["name"]
        return [function for function in functions if function["name"] == name]
    if tool_choice in (None, "auto"):
        return [function for function in functions if function["name"] not in used]
    return functions


def decision_request(
    history: list[dict[str, Any]], functions: list[dict[str, Any]], allow_none: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Messages and the response format for step 1: a bare JSON string among the tool names (and ``none``)."""
    lines = ["Tools:"]
    lines += [f"- {function['name']}: {function.get('description', '')}".rstrip(": ") for function in functions]
    if allow_none:
        lines.append("Pick the tool that can answer the user's request, or none if no tool fits.")
    else:
        lines.append("Pick the tool that can answer the user's request.")
    names = [function["name"] for function in functions] + ([NONE] if allow_none else [])
    schema = {"type": "json_schema", "json_schema": {"name": "decision", "schema": {"enum": names}}}
    return with_system(history, "\n".join(lines)), schema


def parse_decision(text: str) -> str | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return None if value == NONE or not isinstance(value, str) else value


def arguments_request(
    history: list[dict[str, Any]], function: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Messages and the response format for step 2: the arguments of ``function`` under its schema."""
    description = function.get("description", "")
    instruction = f"Call the tool {function['name']}: {description}".rstrip(": ")
    instruction += "\nReply with the tool's arguments as JSON."
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    response_format = {"type": "json_schema", "json_schema": {"name": function["name"], "schema": schema}}
    return with_system(history, instruction), response_format


def plain_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation for a model without native tool support (new dicts; the caller's are untouched)."""
    rewritten: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = _text(message.get("content"))
        if role == "tool":
            rewritten.append({"role": "user", "content": f"Tool result: {content}"})
        elif message.get("tool_calls"):
            calls = [
                {"tool": call["function"]["name"], "arguments": _loads(call["function"].get("arguments"))}
                for call in message["tool_calls"]
            ]
            rewritten.append({"role": "assistant", "content": json.dumps(calls[0] if len(calls) == 1 else calls)})
        else:
            rewritten.append({"role": "system" if role == "developer" else role, "content": content})
    return rewritten


def with_system(history: list[dict[str, Any]], instruction: str) -> list[dict[str, Any]]:
    if history and history[0]["role"] == "system":
        return [{"role": "system", "content": history[0]["content"] + "\n\n" + instruction}, *history[1:]]
    return [{"role": "system", "content": instruction}, *history]


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _loads(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments or {}
