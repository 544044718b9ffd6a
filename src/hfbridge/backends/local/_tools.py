"""Tool calls from a small local model, made reliable by splitting the decision and constraining each step.

Models of a few hundred million parameters do not follow tool-calling chat templates. Instead:

1. **Decision.** Unless ``tool_choice`` names the tool (or only one tool can be forced), the model picks among the
   offered tool names (plus ``answer_directly`` under ``"auto"``) with a grammar that admits nothing else.
2. **Arguments.** For the chosen tool the model writes the arguments under that tool's own JSON schema.
3. **Answer.** ``answer_directly`` means a plain text answer, generated (and streamed) as usual.

With ``tool_choice="auto"`` each tool is offered at most once after the latest user message, so an agent on the
local backend terminates after at most one call of each tool. The grammar guarantees the shape of every call;
which tool is picked and the argument values are still the model's. Strings and arrays without a ``maxLength`` /
``maxItems`` get one (see :func:`bounded`), so a looping model still produces JSON that parses, and a tool's
optional arguments are left to their defaults when it has required ones (see :func:`required_only`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

#: Bounds added to constrained JSON where the schema sets none. A small model can loop inside a string or an array
#: until max_tokens cuts the JSON; with a bound the grammar closes it, so the output always parses. (Repetition
#: penalties and DRY sampling were measured too: they stop loops but also stop the model copying values from the
#: prompt, which is what tool arguments mostly are.)
MIN_STRING_BOUND = 128
ARRAY_BOUND = 16


def tools_used_since_user(messages: Sequence[dict[str, Any]]) -> set[str]:
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


NO_TOOL = "answer_directly"


def decision_request(
    history: list[dict[str, Any]], functions: list[dict[str, Any]], allow_none: bool, used: set[str] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Messages and the response format for step 1: one of the tool names (or ``answer_directly``).

    The no-tool option is ``answer_directly``, not ``none``: greedy decoding under a grammar lets options that share
    a first token ("none", "named_entity_recognition") steal each other's probability. The instruction restates
    the user's latest request and the tools already used, which a small model otherwise loses track of.
    """
    lines = ["Tools:"]
    lines += [f"- {function['name']}: {function.get('description', '')}".rstrip(": ") for function in functions]
    if allow_none:
        lines.append(f"- {NO_TOOL}: no tool is needed.")
    request = latest_user_text(history)
    if request:
        lines.append(f"The user's request: {request}")
    if used:
        lines.append(f"Already done: {', '.join(sorted(used))}.")
    lines.append("Pick the tool that does the next part of the request.")
    names = [function["name"] for function in functions] + ([NO_TOOL] if allow_none else [])
    schema = {"type": "json_schema", "json_schema": {"name": "decision", "schema": {"enum": names}}}
    return with_system(history, "\n".join(lines)), schema


def parse_decision(text: str, functions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The chosen function, or ``None`` for "no tool" (or an answer that is not one of the options)."""
    try:
        name = json.loads(text)
    except json.JSONDecodeError:
        return None
    return next((function for function in functions if function["name"] == name), None)


def latest_user_text(history: list[dict[str, Any]]) -> str:
    for message in reversed(history):
        content = str(message.get("content") or "")
        if message.get("role") == "user" and not content.startswith("Result of "):
            return content
    return ""


def arguments_request(
    history: list[dict[str, Any]], function: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Messages and the response format for step 2: the arguments of ``function`` under its schema."""
    description = function.get("description", "")
    instruction = f"Call the tool {function['name']}: {description}".rstrip(": ")
    instruction += "\nReply with the tool's arguments as JSON."
    schema = bounded(required_only(function.get("parameters") or {}), string_bound(history))
    response_format = {"type": "json_schema", "json_schema": {"name": function["name"], "schema": schema}}
    return with_system(history, instruction), response_format


def bounded(schema: Any, max_chars: int) -> Any:
    """``schema`` with ``maxLength`` on unbounded strings and ``maxItems`` on unbounded arrays (a copy)."""
    if isinstance(schema, list):
        return [bounded(item, max_chars) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: bounded(value, max_chars) for key, value in schema.items()}
    kind = result.get("type")
    if kind == "string" and "maxLength" not in result and "enum" not in result and "const" not in result:
        result["maxLength"] = max_chars
    if kind == "array" and "maxItems" not in result:
        result["maxItems"] = ARRAY_BOUND
    return result


def required_only(parameters: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameters without its optional ones, when it has required ones.

    Small models fill every optional argument they are offered, with invented values (a filter list of random
    letters, say); leaving them out lets the tool use its defaults, which is what the user asked for.
    """
    required = parameters.get("required") or []
    properties = parameters.get("properties") or {}
    if not required:
        return parameters or {"type": "object", "properties": {}}
    kept = {name: schema for name, schema in properties.items() if name in required}
    return {**parameters, "properties": kept, "additionalProperties": False}


def string_bound(history: list[dict[str, Any]]) -> int:
    """Long enough to copy any message of the conversation, with room to spare."""
    longest = max((len(str(message.get("content") or "")) for message in history), default=0)
    return max(MIN_STRING_BOUND, longest + 32)


def plain_history(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation for a model without native tool support, tool calls and results told in prose (the model
    imitates whatever format it sees, so JSON here would come back as the answer). New dicts; inputs untouched."""
    names = {
        call.get("id"): call["function"]["name"] for message in messages for call in message.get("tool_calls") or []
    }
    rewritten: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = _text(message.get("content"))
        if role == "tool":
            name = names.get(message.get("tool_call_id"), "the tool")
            rewritten.append({"role": "user", "content": f"Result of {name}: {content}"})
        elif message.get("tool_calls"):
            calls = "; ".join(
                f"{call['function']['name']} with {json.dumps(_loads(call['function'].get('arguments')))}"
                for call in message["tool_calls"]
            )
            rewritten.append({"role": "assistant", "content": f"{content}\nI called {calls}.".strip()})
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
