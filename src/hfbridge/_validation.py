"""Input checks shared by every backend: bad input fails here, typed, before anything is sent."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InvalidInputError
from .types import ChatMessage

DEFAULT_MAX_INPUT_CHARS = 50_000
DEFAULT_MAX_LABELS = 100


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_unicode(text: str, what: str = "text") -> str:
    """``text`` unless it holds a lone surrogate (``"\\ud800"``): such a string cannot be encoded to UTF-8, so no
    server or tokenizer can read it (Python builds them from broken ``surrogateescape`` / UTF-16 data)."""
    found = _SURROGATE.search(text)
    if found is not None:
        raise InvalidInputError(
            f"{what} holds a lone surrogate {found.group()!r} at index {found.start()}: not valid Unicode text "
            "(decode the source with errors='replace')"
        )
    return text


def check_string(text: Any, what: str = "text") -> str:
    """A ``str`` that is not blank and is valid Unicode (no length limit: that is the backend's)."""
    if text is None:
        raise InvalidInputError(f"{what} is None; pass a non-empty string")
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInputError(f"{what} is empty; pass a non-empty string")
    return check_unicode(text, what)


def check_text(text: Any, what: str = "text", *, max_chars: int = DEFAULT_MAX_INPUT_CHARS) -> str:
    check_string(text, what)
    if len(text) > max_chars:
        raise InvalidInputError(
            f"{what} has {len(text):,} characters, more than max_input_chars={max_chars:,}; split it into "
            "chunks (or raise max_input_chars on the backend)"
        )
    return text


def check_texts(texts: Any, what: str = "texts", *, max_chars: int, truncate: bool) -> list[str]:
    """A non-empty list of non-empty strings. With ``truncate``, over-long texts are cut to ``max_chars``."""
    if texts is None:
        raise InvalidInputError(f"{what} is None; pass a list of strings")
    if isinstance(texts, str):
        raise InvalidInputError(f"{what} must be a list of strings, not a single str (wrap it in a list)")
    if not isinstance(texts, Sequence):
        raise InvalidInputError(f"{what} must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise InvalidInputError(f"{what} is an empty list; pass at least one string")
    checked: list[str] = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(f"{what}[{index}] must be a str, got {type(text).__name__}")
        if not text.strip():
            raise InvalidInputError(f"{what}[{index}] is empty; every text must be a non-empty string")
        check_unicode(text, f"{what}[{index}]")
        if len(text) > max_chars:
            if not truncate:
                raise InvalidInputError(
                    f"{what}[{index}] has {len(text):,} characters, more than max_input_chars={max_chars:,} "
                    "(pass truncate=True to cut it)"
                )
            text = text[:max_chars]
        checked.append(text)
    return checked


def check_text_list(texts: Any, what: str = "texts") -> list[str]:
    """A list of non-blank strings that may be empty: what the framework adapters take (an empty list embeds
    nothing and returns ``[]``, as LangChain's and LlamaIndex's own embeddings do). A single ``str`` is refused: it
    would be embedded character by character."""
    if texts is None or isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        got = "a single str (wrap it in a list)" if isinstance(texts, str) else type(texts).__name__
        raise InvalidInputError(f"{what} must be a list of strings, got {got}")
    return [check_string(text, f"{what}[{index}]") for index, text in enumerate(texts)]


def check_labels(labels: Any, *, max_labels: int = DEFAULT_MAX_LABELS) -> list[str]:
    if labels is None or isinstance(labels, str) or not isinstance(labels, Sequence):
        raise InvalidInputError("labels must be a list of strings")
    if len(labels) == 0:
        raise InvalidInputError("labels is empty; pass at least one candidate label")
    if len(labels) > max_labels:
        raise InvalidInputError(f"{len(labels):,} labels given; at most {max_labels} are allowed per call")
    seen: set[str] = set()
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise InvalidInputError(f"labels[{index}] must be a non-empty string")
        check_unicode(label, f"labels[{index}]")
        if label in seen:
            raise InvalidInputError(f"label {label!r} is given twice; labels must be unique")
        seen.add(label)
    return list(labels)


# ============================================================================================ call options
# One helper per kind of option, shared by every task's ``validate``: each names the argument, refuses what cannot
# be sent (the wrong type, a value out of range) and lets ``None`` ("the server's default") through.


def _type_name(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if len(repr(value)) <= 40 else type(value).__name__


def optional_int(value: Any, what: str, *, minimum: int | None = 1, maximum: int | None = None) -> int | None:
    """``None`` or an ``int`` (not a bool, not a float, not a numeric string) within the bounds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{what} must be an int, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        raise InvalidInputError(f"{what} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidInputError(f"{what} must be at most {maximum}, got {value}")
    return value


def optional_number(
    value: Any,
    what: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float | None:
    """``None`` or a finite number (an int or a float, not a bool) with ``minimum <= value <= maximum`` and
    ``value > above``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{what} must be a number, got {_type_name(value)}")
    if not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidInputError(f"{what} must be at least {minimum}, got {value!r}")
    if above is not None and value <= above:
        raise InvalidInputError(f"{what} must be above {above}, got {value!r}")
    if maximum is not None and value > maximum:
        raise InvalidInputError(f"{what} must be at most {maximum}, got {value!r}")
    return value


def check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{what} must be True or False, got {_type_name(value)}")
    return value


def optional_bool(value: Any, what: str) -> bool | None:
    return None if value is None else check_bool(value, what)


def optional_text(value: Any, what: str) -> str | None:
    """``None`` or a non-blank, valid-Unicode ``str`` (a template, a prompt name, a negative prompt)."""
    return None if value is None else check_string(value, what)


def check_model(value: Any, what: str = "model") -> str | None:
    """A per-call model: ``None`` (the backend's) or a non-blank repo id / URL without whitespace inside."""
    if value is None:
        return None
    check_string(value, what)
    if value != value.strip() or any(char.isspace() for char in value):
        raise InvalidInputError(f"{what} must be a model id or URL without spaces, got {value!r}")
    return value


def normalize_stop(value: Any, what: str = "stop") -> list[str] | None:
    """Stop sequences: a ``str`` or a list of non-empty strings; ``None`` or ``[]`` for none."""
    if value is None:
        return None
    single = isinstance(value, str)
    if single:
        value = [value]
    elif isinstance(value, (bytes, Mapping)) or not isinstance(value, Sequence):
        raise InvalidInputError(f"{what} must be a str or a list of str, got {_type_name(value)}")
    stops: list[str] = []
    for index, item in enumerate(value):
        name = what if single else f"{what}[{index}]"
        if not isinstance(item, str):
            raise InvalidInputError(f"{name} must be a str, got {_type_name(item)}")
        if item == "":
            raise InvalidInputError(f"{name} is an empty string; a stop sequence needs at least one character")
        stops.append(check_unicode(item, name))
    return stops or None


def _json_value(value: Any, what: str, depth: int = 0) -> None:
    if depth > 64:
        raise InvalidInputError(f"{what} is nested too deeply")
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{what} is {value!r}, which JSON cannot carry")
        return
    if isinstance(value, str):
        check_unicode(value, what)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{what} has a key that is not a str: {_type_name(key)}")
            check_unicode(key, f"{what} key")
            _json_value(item, f"{what}[{key!r}]", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _json_value(item, f"{what}[{index}]", depth + 1)
        return
    raise InvalidInputError(f"{what} must be JSON data (dict, list, str, number, bool, None), got {_type_name(value)}")


def check_json_object(value: Any, what: str) -> dict[str, Any]:
    """A dict that JSON can carry as it is: str keys, finite numbers, valid Unicode."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{what} must be a dict, got {_type_name(value)}")
    _json_value(value, what)
    return dict(value)


def normalize_response_format(value: Any) -> dict[str, Any] | None:
    """OpenAI's ``{"type": "json_object"}`` / ``{"type": "json_schema", "json_schema": {"name", "schema"}}``, TGI's
    ``{"type": "json", "value": schema}``, or ``{"type": "text"}``."""
    if value is None:
        return None
    fmt = check_json_object(value, "response_format")
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        return fmt
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise InvalidInputError(
                "response_format of type 'json_schema' needs 'json_schema': {'name': ..., 'schema': {...}}"
            )
        if not isinstance(spec.get("name", ""), str):
            raise InvalidInputError("response_format['json_schema']['name'] must be a str")
        return fmt
    if kind in ("json", "regex"):
        if "value" not in fmt:
            raise InvalidInputError(f"response_format of type {kind!r} needs a 'value'")
        return fmt
    raise InvalidInputError(
        "response_format['type'] must be 'text', 'json_object', 'json_schema' or TGI's 'json' / 'regex', got "
        f"{kind!r}"
    )


_ROLES = ("system", "user", "assistant", "tool", "developer")


def _check_content(content: Any, role: str, what: str) -> None:
    if content is None:
        if role in ("assistant", "tool"):  # an assistant turn made only of tool calls; a tool with no output
            return
        raise InvalidInputError(f"{what} is None; a {role} message needs content")
    if isinstance(content, str):
        check_unicode(content, what)
        if role == "user" and not content.strip():
            raise InvalidInputError(f"{what} is empty; a user message needs text (or content parts)")
        return
    if isinstance(content, (bytes, Mapping)) or not isinstance(content, Sequence):
        raise InvalidInputError(f"{what} must be a str or a list of content parts, got {_type_name(content)}")
    if role == "user" and len(content) == 0:
        raise InvalidInputError(f"{what} is an empty list; a user message needs text (or content parts)")
    for index, part in enumerate(content):
        name = f"{what}[{index}]"
        if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
            raise InvalidInputError(f"{name} must be a content part like {{'type': 'text', 'text': ...}}")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise InvalidInputError(f"{name}['text'] must be a str")
        _json_value(part, name)


def _check_message_calls(calls: Any, what: str) -> None:
    if calls is None:
        return
    if isinstance(calls, (str, bytes, Mapping)) or not isinstance(calls, Sequence):
        raise InvalidInputError(f"{what} must be a list of tool calls")
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise InvalidInputError(
                f"{what}[{index}] must look like {{'id': ..., 'type': 'function', 'function': {{'name': ..., "
                "'arguments': '...'}}"
            )
        if not isinstance(function.get("arguments"), (str, Mapping, type(None))):
            raise InvalidInputError(f"{what}[{index}]['function']['arguments'] must be a JSON str or a dict")


def normalize_messages(messages: Any) -> list[dict[str, Any]]:
    """Accept ChatMessage objects or OpenAI dicts; return OpenAI dicts (copies: the caller's list is untouched).

    Refused: an unknown role, content that is neither text nor content parts, an empty user message (what would
    the model answer?), text that is not valid Unicode, values JSON cannot carry."""
    if messages is None or isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise InvalidInputError("messages must be a list of chat messages")
    if len(messages) == 0:
        raise InvalidInputError("messages is empty; pass at least one message")
    result: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        what = f"messages[{index}]"
        if isinstance(message, ChatMessage):
            message = message.to_openai()
        elif not isinstance(message, Mapping):
            raise InvalidInputError(f"{what} must be a ChatMessage or a dict, got {type(message).__name__}")
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidInputError(f"{what} has no valid role: {role!r}")
        _check_content(message.get("content"), role, f"{what}['content']")
        _check_message_calls(message.get("tool_calls"), f"{what}['tool_calls']")
        for key in ("tool_call_id", "name"):
            if message.get(key) is not None and not isinstance(message[key], str):
                raise InvalidInputError(f"{what}['{key}'] must be a str")
        _json_value(dict(message), what)
        result.append(dict(message))
    return result


def normalize_tool_choice(tool_choice: Any, tools: list[dict[str, Any]] | None) -> Any:
    """Map every accepted tool_choice form onto the OpenAI wire form and check it names a bound tool."""
    if tool_choice is None:
        return None
    names = [tool["function"]["name"] for tool in tools or []]
    if tool_choice in ("auto", "none", "required"):
        if tool_choice == "required" and not names:
            raise InvalidInputError("tool_choice='required' needs at least one tool")
        return tool_choice
    if tool_choice == "any":
        return normalize_tool_choice("required", tools)
    name: Any
    if isinstance(tool_choice, str):
        name = tool_choice
    elif isinstance(tool_choice, Mapping):
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else tool_choice.get("name")
    else:
        raise InvalidInputError(f"tool_choice must be a str or a dict, got {type(tool_choice).__name__}")
    if not isinstance(name, str) or name not in names:
        raise InvalidInputError(f"tool_choice names tool {name!r}, which is not among the tools given: {names}")
    return {"type": "function", "function": {"name": name}}


def normalize_tools(tools: Any) -> list[dict[str, Any]] | None:
    """OpenAI function tools (``{"type": "function", "function": {"name", "description", "parameters"}}``), each
    with a JSON-schema ``parameters`` object (an empty one when missing); ``None`` or ``[]`` for no tools."""
    if tools is None:
        return None
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise InvalidInputError("tools must be a list of OpenAI function tool dicts")
    result = []
    names: set[str] = set()
    for index, tool in enumerate(tools):
        what = f"tools[{index}]"
        if not isinstance(tool, Mapping):
            raise InvalidInputError(f"{what} must be a dict")
        function = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
            raise InvalidInputError(f"{what} must look like {{'type': 'function', 'function': {{'name': ...}}}}")
        name = check_unicode(function["name"], f"{what}['function']['name']")
        if name in names:
            raise InvalidInputError(f"{what}: tool {name!r} is given twice; tool names must be unique")
        names.add(name)
        if not isinstance(function.get("description", ""), (str, type(None))):
            raise InvalidInputError(f"{what}['function']['description'] must be a str")
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, Mapping):
            raise InvalidInputError(f"{what}['function']['parameters'] must be a JSON schema (a dict)")
        checked = check_json_object({**function, "parameters": parameters}, f"{what}['function']")
        result.append({"type": "function", "function": checked})
    return result or None


_URL_PREFIXES = ("http://", "https://")


def check_binary(
    value: Any, what: str, *, sniff: Callable[[bytes], str | None], kind: str, accepted: str, urls: bool = True
) -> bytes | Path | str:
    """A file input (audio, an image...) as ``InferenceClient`` takes it: raw ``bytes`` (also ``bytearray`` /
    ``memoryview``), a local path (``str`` or ``Path``), or an ``http(s)`` URL when ``urls``.

    Local content is opened and its leading bytes given to ``sniff`` (a function returning its mime type or
    ``None``): a missing, unreadable, empty or wrong kind of file is an :class:`InvalidInputError` naming ``what``,
    ``kind`` ("an image") and what is ``accepted``. Returns what the client should send: bytes stay bytes (sent
    with no content-type), a path becomes a ``Path`` (sent with its mime type), a URL stays a ``str`` (the client
    downloads it)."""
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if value is None:
        raise InvalidInputError(f"{what} is None; pass {accepted}")
    if isinstance(value, str):
        if not value.strip():
            raise InvalidInputError(f"{what} is an empty string; pass {accepted}")
        if value.startswith(_URL_PREFIXES):
            if not urls:
                raise InvalidInputError(f"{what} is a URL; this backend reads local files and bytes only")
            return value
        value = Path(value)
    if isinstance(value, Path):
        if not value.is_file():
            missing = not value.exists()
            raise InvalidInputError(f"{what}: no such file: {value}" if missing else f"{what}: {value} is not a file")
        try:
            with value.open("rb") as handle:
                head = handle.read(64)
        except OSError as exc:
            raise InvalidInputError(f"{what}: cannot read {value}: {exc.strerror or exc}") from None
        if not head:
            raise InvalidInputError(f"{what}: {value} is empty")
        if sniff(head) is None:
            raise InvalidInputError(f"{what}: {value} is not {kind} file ({accepted})")
        return value
    if isinstance(value, bytes):
        if not value:
            raise InvalidInputError(f"{what} is empty (0 bytes)")
        if sniff(value) is None:
            raise InvalidInputError(f"{what} is not {kind} file: its bytes start {value[:12]!r} ({accepted})")
        return value
    raise InvalidInputError(f"{what} must be {accepted}, got {type(value).__name__}")
