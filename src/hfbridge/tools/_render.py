"""What an agent reads back from a tool: results as JSON text, media as files, errors as advice.

* Results: JSON (pydantic results as their dumps, lists as lists); a result that is text is returned as is.
* Media (a PIL image, audio bytes), at the top or anywhere inside a result, is written to a file in the tool's
  ``output_dir`` and replaced by the file's path: a model reads a path, never pixels or base64, and the caller
  opens the file (or hands it to a multimodal step). A text-to-image tool returns the path of its PNG.
* Errors: ``"<ErrorType>: <message>. <what to do>"`` — whether to fix the arguments, not to call again, or that the
  service failed — so the model can recover; the agent loop never sees an exception.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    HFBridgeError,
    InvalidInputError,
    NotFoundError,
    QuotaExceededError,
    UnsupportedTaskError,
)

__all__ = ["MediaFiles", "render_result", "render_error", "validation_message", "DEFAULT_OUTPUT_DIR"]

#: Where tools write images and audio unless built with ``output_dir=``.
DEFAULT_OUTPUT_DIR = Path(tempfile.gettempdir()) / "hfbridge-media"

_SIGNATURES = (
    (b"\x89PNG", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"), (b"fLaC", ".flac"), (b"OggS", ".ogg"),
    (b"ID3", ".mp3"), (b"\xff\xfb", ".mp3"), (b"\xff\xf3", ".mp3"), (b"\xff\xf2", ".mp3"),
)  # fmt: skip


class MediaFiles:
    """Writes the media of results into ``directory`` (created on first use), one new file each."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else DEFAULT_OUTPUT_DIR

    def _path(self, suffix: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f"{uuid.uuid4().hex}{suffix}"

    def save_image(self, image: Any) -> str:
        path = self._path(".png")
        image.save(path, format="PNG")
        return str(path)

    def save_bytes(self, data: bytes) -> str:
        path = self._path(_suffix(data))
        path.write_bytes(data)
        return str(path)


def _suffix(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return ".wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return next((suffix for signature, suffix in _SIGNATURES if data.startswith(signature)), ".bin")


def _is_image(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save")


def _plain(value: Any, media: MediaFiles) -> Any:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if _is_image(value):
        return media.save_image(value)
    if isinstance(value, (bytes, bytearray)):
        return media.save_bytes(bytes(value))
    if isinstance(value, dict):
        return {str(key): _plain(item, media) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, media) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def render_result(result: Any, media: MediaFiles) -> str:
    """The text an agent reads for ``result``."""
    plain = _plain(result, media)
    return plain if isinstance(plain, str) else json.dumps(plain)


_ADVICE: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((InvalidInputError, BadRequestError), "Fix the arguments and call the tool again."),
    (
        (UnsupportedTaskError, AuthenticationError, QuotaExceededError, NotFoundError, ConfigurationError),
        "This tool cannot run here: do not call it again.",
    ),
)


def render_error(error: HFBridgeError) -> str:
    """``"<ErrorType>: <message>"`` and, where it helps the model decide, what to do next."""
    text = f"{type(error).__name__}: {error}"
    advice = next((advice for types, advice in _ADVICE if isinstance(error, types)), None)
    return f"{text}. {advice}" if advice else text


def validation_message(error: ValidationError, what: str = "input") -> str:
    """One line naming each bad field and why (pydantic's messages), for the model or the developer."""
    problems = "; ".join(
        ": ".join(filter(None, (".".join(map(str, e["loc"])), e["msg"].removeprefix("Value error, "))))
        for e in error.errors()
    )
    if what == "input":
        return f"Invalid tool input: {problems}. Fix the arguments and call the tool again."
    return f"invalid {what}: {problems}"
