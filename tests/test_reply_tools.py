"""Tool calls a capable local model writes in its reply (``LocalBackend(tool_calling="reply")``).

The parser is exercised on the forms Qwen2.5-Coder-1.5B was seen to write; the backend's reply path runs on the
real default model (SmolLM2-135M) with ``tool_calling="reply"``; the opt-in model itself is tested only where it is
installed (never in CI: ``hfbridge models install qwen2.5-coder-1.5b``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from hfbridge import LocalBackend
from hfbridge.backends.local._install import QWEN_CODER_1_5B, installed_path
from hfbridge.backends.local._reply_tools import marker_position, parse_calls, unfinished_call

WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
NER = {
    "name": "named_entity_recognition",
    "description": "Find named entities in a text.",
    "parameters": {
        "type": "object",
        "properties": {"text": {"type": "string"}, "entity_types": {"type": "array", "items": {"type": "string"}}},
        "required": ["text"],
    },
}
TOOLS = [{"type": "function", "function": WEATHER}, {"type": "function", "function": NER}]


@pytest.mark.parametrize(
    "reply",
    [
        '```json\n{\n  "name": "get_weather",\n  "arguments": {\n    "city": "Paris"\n  }\n}\n```',
        'I will look it up.\n```\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```\nOne moment.',
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',
        '{{"name": "get_weather", "arguments": {"city": "Paris"}}}',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}',
        '```json\n[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]\n```',
    ],
)
def test_the_forms_a_model_writes_calls_in(reply: str) -> None:
    parsed = parse_calls(reply, [WEATHER, NER])
    assert parsed.calls == [("get_weather", {"city": "Paris"})], "unknown keys (unit) are dropped"
    assert not parsed.incomplete


def test_what_is_not_a_call() -> None:
    assert parse_calls("The weather in Paris is mild.", [WEATHER]).calls == []
    assert parse_calls('```json\n{"name": "send_email", "arguments": {}}\n```', [WEATHER]).calls == []
    assert parse_calls('```python\nprint("hi")\n```', [WEATHER]).calls == []
    missing = parse_calls('```json\n{"name": "get_weather", "arguments": {"town": "Paris"}}\n```', [WEATHER])
    assert missing.calls == [] and missing.incomplete == [WEATHER], "a required argument is missing"
    two = parse_calls('<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>\n'
                      '<tool_call>{"name": "named_entity_recognition", "arguments": {"text": "Ada"}}</tool_call>',
                      [WEATHER, NER])  # fmt: skip
    assert [name for name, _ in two.calls] == ["get_weather", "named_entity_recognition"]


def test_a_cut_call_is_recognised() -> None:
    assert unfinished_call('```json\n{"name": "get_weather", "argu')
    assert unfinished_call('<tool_call>\n{"name": "get_weather"')
    assert unfinished_call('{"name": "get_weather", "arguments": {"ci')
    assert not unfinished_call("It is sunny in Paris.")
    assert not unfinished_call('```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```')


def test_stream_holds_back_from_a_possible_call() -> None:
    assert marker_position("Sure, let me check. ```json") == len("Sure, let me check. ")
    assert marker_position("Sure, let me check. ``") == len("Sure, let me check. ")
    assert marker_position("Checking <tool_") == len("Checking ")
    assert marker_position('  {"name"') == 0
    assert marker_position("No call here {at all}") == len("No call here {at all}")


@pytest.fixture(scope="module")
def reply_backend() -> LocalBackend:
    return LocalBackend(tool_calling="reply")


def _assert_valid_call(name: str, arguments: str) -> None:
    assert name in {"get_weather", "named_entity_recognition"}
    values = json.loads(arguments)
    allowed = {"get_weather": {"city"}, "named_entity_recognition": {"text", "entity_types"}}[name]
    assert set(values) <= allowed


def test_reply_mode_required_always_yields_a_call(reply_backend: LocalBackend) -> None:
    """Whatever the model writes, "required" ends in a call: parsed from the reply, or from the grammar steps."""
    result = reply_backend.chat_completion(
        [{"role": "user", "content": "What is the weather in Paris?"}],
        tools=TOOLS,
        tool_choice="required",
        max_tokens=64,
    )
    assert result.finish_reason == "tool_calls" and result.message.tool_calls
    for call in result.message.tool_calls:
        _assert_valid_call(call.name, call.arguments)


def test_reply_mode_stream_assembles_like_the_whole_reply(reply_backend: LocalBackend) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]
    whole = reply_backend.chat_completion(messages, tools=TOOLS, tool_choice="required", max_tokens=64)
    chunks = list(reply_backend.stream_chat_completion(messages, tools=TOOLS, tool_choice="required", max_tokens=64))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.tool_calls:
            call = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            call["name"] += delta.name or ""
            call["arguments"] += delta.arguments
    assert chunks[-1].finish_reason == whole.finish_reason == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        (call.name, json.loads(call.arguments)) for call in whole.message.tool_calls or []
    ]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_a_call_cut_by_max_tokens_says_length(local_backend: LocalBackend) -> None:
    """The grammar step's arguments cut by max_tokens are not a finished call: finish_reason says "length"."""
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    result = local_backend.chat_completion(messages, tools=TOOLS, tool_choice="get_weather", max_tokens=3)
    assert result.finish_reason == "length"
    chunks = list(local_backend.stream_chat_completion(messages, tools=TOOLS, tool_choice="get_weather",
                                                       max_tokens=3))  # fmt: skip
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]


def test_reply_mode_cut_reply_says_length(reply_backend: LocalBackend) -> None:
    from hfbridge.tasks import ChatRequest

    request = ChatRequest(messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS, tool_choice="auto")
    cut = reply_backend._reply_result(request, TOOLS, "id", '```json\n{"name": "get_weather", "argu', "length", None)
    assert cut.finish_reason == "length" and not cut.message.tool_calls
    done = reply_backend._reply_result(request, TOOLS, "id", "It is sunny.", "stop", None)
    assert done.finish_reason == "stop" and done.message.content == "It is sunny." and not done.message.tool_calls


qwen = pytest.mark.skipif(
    installed_path(QWEN_CODER_1_5B) is None or not os.environ.get("HFBRIDGE_TEST_OPT_IN_MODELS"),
    reason=f"needs the opt-in model (hfbridge models install {QWEN_CODER_1_5B}) and HFBRIDGE_TEST_OPT_IN_MODELS=1: "
    "it takes minutes on 2 cores, and CI never downloads the model",
)


@qwen
def test_qwen_picks_the_tool_and_answers_after_the_result() -> None:
    backend = LocalBackend(chat_model=QWEN_CODER_1_5B)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Which people and places are in: 'Ada Lovelace lived in London.'"}
    ]
    first = backend.chat_completion(messages, tools=TOOLS, max_tokens=120)
    assert first.finish_reason == "tool_calls" and first.message.tool_calls
    call = first.message.tool_calls[0]
    assert call.name == "named_entity_recognition" and "Ada Lovelace" in json.loads(call.arguments)["text"]
    result = json.dumps([{"entity_group": "PER", "word": "Ada Lovelace"}, {"entity_group": "LOC", "word": "London"}])
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": result},
    ]  # fmt: skip
    answer = backend.chat_completion(messages, tools=TOOLS, max_tokens=80)
    assert answer.finish_reason in ("stop", "length") and not answer.message.tool_calls
    assert "Ada Lovelace" in (answer.content or "")
    cut = backend.chat_completion(messages[:1], tools=TOOLS, max_tokens=8)
    assert cut.finish_reason == "length" and not cut.message.tool_calls
