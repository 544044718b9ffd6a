"""What the audio and vision tasks share: checking binary inputs, reading answers strictly, and the hf-inference
wire shapes of binary bodies (for the protocol server's ``Serving.read`` / ``Serving.write``).

Inputs are what ``InferenceClient`` takes: raw bytes, a local path (``str`` or ``Path``), an ``http(s)`` URL, and
for images a PIL image. Validation opens local files and bytes enough to know they are what the task needs (by
their leading bytes, so the hub path needs no Pillow), refuses anything else with a typed
:class:`~hfbridge.errors.InvalidInputError`, and leaves a request that the client sends as it would: a path stays a
``Path`` (the client sends its mime type as content-type), bytes stay bytes (sent with no content-type), a URL stays
a URL (the client downloads it). A PIL image becomes PNG bytes: huggingface_hub's hf-inference helper refuses PIL
objects for the binary-input tasks (``HFInferenceBinaryInputTask``: "Expected binary inputs or a local path or a
URL"), although its docstrings list them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _validation as check
from ..errors import APIError, InvalidInputError
from ..types import Results

__all__ = [
    "check_image", "check_audio", "content_key", "audio_type",
    "image_type", "items", "text_field", "score_field", "error_in", "decode_b64", "read_binary_body",
    "json_body", "load_bytes",
]  # fmt: skip


# ===================================================================================================== sniffing
def image_type(data: bytes) -> str | None:
    """The mime type of an image file by its leading bytes, or ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if data.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "image/jp2"
    if data.startswith(b"\x00\x00\x01\x00"):
        return "image/x-icon"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1"):
        return "image/avif" if data[8:11] == b"avi" else "image/heic"
    return None


def audio_type(data: bytes) -> str | None:
    """The mime type of an audio file by its leading bytes, or ``None``."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"fLaC"):
        return "audio/flac"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"  # MP3 (or ADTS AAC, which shares the frame sync)
    if data[4:8] == b"ftyp":
        return "audio/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if data.startswith(b"#!AMR"):
        return "audio/amr"
    return None


def wav_frames(data: bytes) -> int | None:
    """The number of sample frames of a PCM WAV file (``None`` if the header cannot be read)."""
    position, channels, width = 12, 0, 0
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        if chunk == b"fmt " and size >= 16:
            channels, _, _, _, _, bits = struct.unpack("<HHIIHH", data[position + 8 : position + 24])
            width = max(1, bits // 8) * max(1, channels)
        elif chunk == b"data":
            available = min(size, len(data) - position - 8)
            return available // width if width else None
        position += 8 + size + (size & 1)
    return None


# ======================================================================================================== inputs
_IMAGE_ACCEPTED = (
    "bytes of an image file (PNG, JPEG, GIF, BMP, WebP, TIFF, AVIF/HEIC, JPEG 2000, ICO), a path, an http(s) URL "
    "or a PIL image"
)
_AUDIO_ACCEPTED = "bytes of an audio file (WAV, FLAC, MP3, OGG, WebM, M4A, AIFF, AMR), a path or an http(s) URL"


def check_image(value: Any, what: str = "image") -> bytes | Path | str:
    """An image as the client sends it: bytes / a ``Path`` of an image file, or an ``http(s)`` URL; a PIL image
    becomes PNG bytes."""
    save = getattr(value, "save", None)
    if save is not None and hasattr(value, "mode") and hasattr(value, "size"):  # a PIL image, without importing PIL
        buffer = io.BytesIO()
        try:
            value.save(buffer, format="PNG")
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"{what}: this PIL image cannot be saved as PNG: {exc}") from None
        return buffer.getvalue()
    return check.check_binary(value, what, sniff=image_type, kind="an image", accepted=_IMAGE_ACCEPTED)


def check_audio(value: Any, what: str = "audio") -> bytes | Path | str:
    """Audio as the client sends it: bytes / a ``Path`` of an audio file, or an ``http(s)`` URL. A WAV file with no
    samples is refused (there is nothing to transcribe)."""
    checked = check.check_binary(value, what, sniff=audio_type, kind="an audio", accepted=_AUDIO_ACCEPTED)
    data = checked if isinstance(checked, bytes) else checked.read_bytes() if isinstance(checked, Path) else None
    if data is not None and audio_type(data) == "audio/wav" and wav_frames(data) == 0:
        raise InvalidInputError(f"{what} is a WAV file with no samples (silence of length 0)")
    return checked


def load_bytes(value: bytes | Path | str) -> bytes:
    """The bytes of a checked local input (bytes or a path); a URL has none here."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, Path):
        return value.read_bytes()
    raise InvalidInputError(f"{value!r} is a URL: this backend reads local files and bytes only; download it first")


def content_key(value: bytes | Path | str) -> str:
    """The cache key of a binary input: a hash of its content (a URL: the URL itself)."""
    if isinstance(value, str):
        return f"url:{value}"
    return "sha256:" + hashlib.sha256(load_bytes(value)).hexdigest()


# ================================================================================================ strict answers
def field(item: Any, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def error_in(output: Any) -> None:
    """An ``{"error": ...}`` body that came with a 2xx status is an error, not an empty result."""
    message = field(output, "error") if isinstance(output, Mapping) or hasattr(output, "error") else None
    if message is not None:
        raise APIError(f"the server answered 200 with an error body: {message}", server_message=str(message))


def items(output: Any, what: str) -> list[Any]:
    """The elements of a list answer (each a JSON object)."""
    error_in(output)
    if not isinstance(output, list):
        raise APIError(f"expected a JSON list of {what}, got {type(output).__name__}")
    for index, item in enumerate(output):
        if not isinstance(item, Mapping):
            raise APIError(f"expected a JSON object for {what}[{index}], got {type(item).__name__}")
        error_in(item)
    return output


def text_field(item: Any, key: str, what: str) -> str:
    value = field(item, key)
    if not isinstance(value, str):
        raise APIError(f"{what}.{key} must be a string, got {type(value).__name__}")
    return value


def score_field(item: Any, key: str, what: str, *, optional: bool = False) -> float | None:
    value = field(item, key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise APIError(f"{what}.{key} must be a finite number, got {value!r}")
    return float(value)


def int_field(item: Any, key: str, what: str, *, optional: bool = False) -> int | None:
    value = field(item, key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise APIError(f"{what}.{key} must be a number, got {value!r}")
    return round(value)


def results(values: Any) -> Results[Any]:
    return Results(values)


# ============================================================================================= hf-inference wire
def decode_b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not valid base64") from None


def json_body(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInputError("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidInputError("the body must be a JSON object")
    return payload


def read_binary_body(body: bytes, content_type: str | None) -> tuple[bytes, dict[str, Any]]:
    """A binary-input task's request as ``InferenceClient`` sends it to hf-inference: the file's bytes as the body
    (no parameters), or JSON ``{"inputs": "<base64>", "parameters": {...}}``. Returns the bytes and parameters."""
    if (content_type or "").split(";")[0].strip() == "application/json" or body[:1] == b"{":
        payload = json_body(body)
        parameters = payload.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise InvalidInputError("parameters must be a JSON object")
        return decode_b64(payload.get("inputs"), "inputs"), {**parameters, **{
            key: value for key, value in payload.items() if key not in ("inputs", "parameters")}}  # fmt: skip
    return body, {}


def dump_json(value: Any) -> tuple[bytes, str]:
    return json.dumps(value).encode(), "application/json"
