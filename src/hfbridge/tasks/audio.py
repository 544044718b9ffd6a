"""Audio tasks: automatic speech recognition (audio in, text out) and text-to-speech (text in, audio out).

Wire shapes, from huggingface_hub 2.4 (``InferenceClient.automatic_speech_recognition`` / ``text_to_speech`` and
``_providers/hf_inference.py``), on hf-inference:

* ASR (``HFInferenceBinaryInputTask``): the audio file's bytes are the request body (content-type: the file's mime
  type when the client knows it from a path, none for raw bytes); with ``extra_body`` parameters the body is JSON
  ``{"inputs": "<base64 audio>", "parameters": {...}}``. The answer is JSON ``{"text": "...", "chunks": [{"text",
  "timestamp": [start, end]}]}`` (``chunks`` only with timestamps).
* TTS (``HFInferenceTask``): JSON ``{"inputs": "text", "parameters": {...}}``; the answer is the audio file's bytes
  (``audio/flac`` on the Hugging Face API), which the client returns as ``bytes``.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from .. import _validation as check
from ..errors import APIError, InvalidInputError
from ..types import Audio, AudioSource, Transcription, TranscriptionChunk
from . import _media as media
from ._spec import CacheCodec, HubCall, Limits, Serving, Task, ToolInfo

__all__ = ["AUTOMATIC_SPEECH_RECOGNITION", "TEXT_TO_SPEECH", "SpeechRecognitionRequest", "SpeechRequest",
           "parse_transcription", "parse_audio"]  # fmt: skip


def _check_extra(extra: Any) -> dict[str, Any] | None:
    return None if extra is None else check.check_json_object(extra, "extra") or None


# ================================================================================== automatic speech recognition
@dataclass(slots=True)
class SpeechRecognitionRequest:
    audio: AudioSource
    model: str | None = None
    extra: dict[str, Any] | None = None


def _validate_recognition(request: SpeechRecognitionRequest, limits: Limits) -> SpeechRecognitionRequest:
    request.audio = media.check_audio(request.audio)
    request.extra = _check_extra(request.extra)
    return request


def parse_transcription(output: Any, request: Any = None) -> Transcription:
    """``{"text": str, "chunks"?: [{"text": str, "timestamp": [start, end]}]}``, strictly."""
    media.error_in(output)
    if not hasattr(output, "get"):
        raise APIError(f"expected a JSON object with the transcription, got {type(output).__name__}")
    text = media.text_field(output, "text", "transcription")
    raw_chunks = output.get("chunks")
    if raw_chunks is None:
        return Transcription(text=text)
    chunks = []
    for index, chunk in enumerate(media.items(raw_chunks, "chunks")):
        stamp = media.field(chunk, "timestamp")
        if not isinstance(stamp, (list, tuple)) or len(stamp) != 2:
            raise APIError(f"chunks[{index}].timestamp must be [start, end], got {stamp!r}")
        start = media.score_field({"start": stamp[0]}, "start", f"chunks[{index}].timestamp")
        end = media.score_field({"end": stamp[1]}, "end", f"chunks[{index}].timestamp", optional=True)
        chunks.append(TranscriptionChunk(text=media.text_field(chunk, "text", f"chunks[{index}]"),
                                         timestamp=(start or 0.0, end)))  # fmt: skip
    return Transcription(text=text, chunks=chunks)


def _read_recognition(body: bytes, content_type: str | None) -> SpeechRecognitionRequest:
    data, parameters = media.read_binary_body(body, content_type)
    return SpeechRecognitionRequest(audio=data, extra=parameters or None)


class AudioFileInput(BaseModel):
    audio: str = Field(min_length=1, description="The audio to transcribe: a local file path or an http(s) URL.")


AUTOMATIC_SPEECH_RECOGNITION: Task[SpeechRecognitionRequest, Transcription] = Task(
    name="automatic_speech_recognition",
    pipeline_tag="automatic-speech-recognition",
    hub_model="openai/whisper-large-v3",
    request=SpeechRecognitionRequest,
    result="Transcription",
    doc="""The text spoken in ``audio`` (bytes of a WAV / FLAC / MP3... file, a path, or an http(s) URL).

        ``extra`` is sent as provider parameters (``{"return_timestamps": True}`` asks hf-inference Whisper models
        for timed ``chunks``).""",
    validate=_validate_recognition,
    hub=HubCall(
        send=lambda client, request, target: client.automatic_speech_recognition(
            request.audio,
            model=target.task_model(request.model, "automatic-speech-recognition"),
            extra_body=request.extra,
        ),
        parse=parse_transcription,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "extra": r.extra},
        value=lambda r: media.content_key(r.audio),
        dump=lambda result: result.model_dump(),
        load=lambda raw: Transcription.model_validate(raw),
    ),
    serving=Serving(
        aliases=("asr", "speech_recognition"),
        read=_read_recognition,
        write=lambda result: media.dump_json(result.model_dump(exclude_none=True)),
    ),
    tool=ToolInfo(
        name="speech_recognition",
        description="Transcribe speech from an audio file (WAV, FLAC, MP3...). Input: a local file path or an "
        "http(s) URL. Output: the transcribed text.",
        args=AudioFileInput,
    ),
)


# ================================================================================================ text to speech
@dataclass(slots=True)
class SpeechRequest:
    text: str
    model: str | None = None
    extra: dict[str, Any] | None = None


def _validate_speech(request: SpeechRequest, limits: Limits) -> SpeechRequest:
    check.check_text(request.text, max_chars=limits.max_input_chars)
    request.extra = _check_extra(request.extra)
    return request


def parse_audio(output: Any, request: Any = None) -> Audio:
    """The answer's bytes as :class:`Audio`. An empty body, a JSON body (an error with status 200) or an HTML / XML
    page is an error; bytes of a container it does not know (raw PCM from some providers) are returned as
    ``application/octet-stream`` rather than refused."""
    if not isinstance(output, (bytes, bytearray)):
        raise APIError(f"expected audio bytes, got {type(output).__name__}")
    data = bytes(output)
    kind = media.audio_type(data)
    if kind is not None:
        return Audio(data, kind)
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        with contextlib.suppress(UnicodeDecodeError, json.JSONDecodeError):
            media.error_in(json.loads(data))  # a JSON error body: raises APIError with its message
    if not data or head in (b"{", b"[", b"<"):
        what = "an empty body" if not data else f"{data[:40]!r}"
        raise APIError(f"expected an audio file (WAV, FLAC, MP3, OGG...), got {what}")
    return Audio(data)


def _read_speech(body: bytes, content_type: str | None) -> SpeechRequest:
    payload = media.json_body(body)
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInputError("parameters must be a JSON object")
    return SpeechRequest(text=payload.get("inputs"), extra=parameters or None)  # type: ignore[arg-type]


class SpeechInput(BaseModel):
    text: str = Field(min_length=1, description="The text to speak.")


TEXT_TO_SPEECH: Task[SpeechRequest, Audio] = Task(
    name="text_to_speech",
    pipeline_tag="text-to-speech",
    hub_model="hexgrad/Kokoro-82M",
    request=SpeechRequest,
    result="Audio",
    doc="""``text`` spoken, as the bytes of an audio file (:class:`~hfbridge.types.Audio`: ``bytes`` with a
        ``content_type``, ``audio/flac`` from the Hugging Face API). ``extra`` is sent as provider parameters (a
        voice, a speed...).""",
    validate=_validate_speech,
    hub=HubCall(
        send=lambda client, request, target: client.text_to_speech(
            request.text, model=target.task_model(request.model, "text-to-speech"), extra_body=request.extra
        ),
        parse=parse_audio,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "extra": r.extra},
        dump=lambda audio: {"content_type": audio.content_type, "data": base64.b64encode(audio).decode()},
        load=lambda raw: Audio(base64.b64decode(raw["data"], validate=True), raw["content_type"]),
    ),
    serving=Serving(
        aliases=("tts", "speech"), read=_read_speech, write=lambda audio: (bytes(audio), audio.content_type)
    ),
    tool=ToolInfo(
        name="text_to_speech",
        description="Speak a text aloud. Input: the text. Output: the path of the saved audio file.",
        args=SpeechInput,
    ),
)
