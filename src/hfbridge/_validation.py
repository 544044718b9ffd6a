"""Input checks shared by every backend: bad input fails here, typed, before anything is sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import InvalidInputError
from .types import ChatMessage

DEFAULT_MAX_INPUT_CHARS = 50_000
DEFAULT_MAX_LABELS = 100


def check_string(text: Any, what: str = "text") -> str:
    """A ``str`` that is not blank (no length limit: that is the backend's)."""
    if text is None:
        raise InvalidInputError(f"{what} is None; pass a non-empty string")
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInputError(f"{what} is empty; pass a non-empty string")
    return text


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
        if label in seen:
            raise InvalidInputError(f"label {label!r} is given twice; labels must be unique")
        seen.add(label)
    return list(labels)


def normalize_messages(messages: Any) -> list[dict[str, Any]]:
    """Accept ChatMessage objects or OpenAI dicts; return OpenAI dicts (copies: the caller's list is untouched)."""
    if messages is None or isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidInputError("messages must be a list of chat messages")
    if len(messages) == 0:
        raise InvalidInputError("messages is empty; pass at least one message")
    result: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if isinstance(message, ChatMessage):
            result.append(message.to_openai())
        elif isinstance(message, dict):
            if message.get("role") not in ("system", "user", "assistant", "tool", "developer"):
                raise InvalidInputError(f"messages[{index}] has no valid role: {message.get('role')!r}")
            result.append(dict(message))
        else:
            raise InvalidInputError(f"messages[{index}] must be a ChatMessage or a dict, got {type(message).__name__}")
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
    elif isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    else:
        raise InvalidInputError(f"tool_choice must be a str or a dict, got {type(tool_choice).__name__}")
    if not name or name not in names:
        raise InvalidInputError(f"tool_choice names tool {name!r}, which is not among the tools given: {names}")
    return {"type": "function", "function": {"name": name}}


def normalize_tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if not isinstance(tools, Sequence) or isinstance(tools, (str, bytes)):
        raise InvalidInputError("tools must be a list of OpenAI function tool dicts")
    result = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise InvalidInputError(f"tools[{index}] must be a dict")
        function = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(function, dict) or not function.get("name"):
            raise InvalidInputError(
                f"tools[{index}] must look like {{'type': 'function', 'function': {{'name': ...}}}}"
            )
        result.append(
            {"type": "function", "function": {"parameters": {"type": "object", "properties": {}}, **function}}
        )
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
