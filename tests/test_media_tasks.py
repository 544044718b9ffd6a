"""The audio and vision tasks on the hub backend, through the real InferenceClient against a loopback HTTP double
(tests/_http_double.py) that answers exactly what hf-inference answers — and what no server should (a 200 with
``{"error": ...}``, HTML where audio was due, a JSON object where a list was due): those must be typed APIErrors.

The request shapes asserted here are what huggingface_hub 2.4 sends (``_providers/hf_inference.py``): the file's
bytes as the body for binary-input tasks without parameters, JSON with base64 ``inputs`` with parameters."""

from __future__ import annotations

import base64
import io
import json
import struct
import typing
import wave
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hfbridge import APIError, HubBackend, InvalidInputError, LocalBackend, RetryPolicy, UnsupportedTaskError
from hfbridge.tasks import get_task
from hfbridge.types import (
    Audio,
    BoundingBox,
    ClassificationLabel,
    DetectedObject,
    DocumentAnswer,
    ImageCaption,
    ImageSegment,
    Transcription,
    TranscriptionChunk,
    VisualAnswer,
    response_meta,
)

from ._http_double import RecordingServer

MEDIA_TASKS = [
    "automatic_speech_recognition", "text_to_speech", "image_classification", "image_to_text", "object_detection",
    "image_segmentation", "visual_question_answering", "document_question_answering",
]  # fmt: skip


def png(color: str = "red", size: tuple[int, int] = (8, 6), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def wav(frames: int = 160) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(struct.pack(f"<{frames}h", *(i % 100 for i in range(frames))))
    return buffer.getvalue()


MASK = base64.b64encode(png("white", mode="L")).decode()
FLAC = b"fLaC\x00\x00\x00\x22" + bytes(34)
# (method, positional args, options, hf-inference answer, expected typed result)
WELL_FORMED: list[tuple[str, tuple[Any, ...], dict[str, Any], Any, Any]] = [
    ("automatic_speech_recognition", (wav(),), {}, {"text": " hello world"}, Transcription(text=" hello world")),
    ("automatic_speech_recognition", (wav(),), {"extra": {"return_timestamps": True}},
     {"text": "hi there", "chunks": [{"text": "hi", "timestamp": [0.0, 0.4]}, {"text": " there",
                                                                                "timestamp": [0.4, None]}]},
     Transcription(text="hi there", chunks=[TranscriptionChunk(text="hi", timestamp=(0.0, 0.4)),
                                            TranscriptionChunk(text=" there", timestamp=(0.4, None))])),
    ("image_classification", (png(),), {}, [{"label": "tabby cat", "score": 0.2}, {"label": "tiger", "score": 0.7}],
     [ClassificationLabel(label="tiger", score=0.7), ClassificationLabel(label="tabby cat", score=0.2)]),
    ("image_to_text", (png(),), {}, [{"generated_text": "a red square"}], ImageCaption(generated_text="a red square")),
    ("object_detection", (png(),), {"threshold": 0.5},
     [{"score": 0.98, "label": "cat", "box": {"xmin": 1, "ymin": 2, "xmax": 7, "ymax": 5}}],
     [DetectedObject(label="cat", score=0.98, box=BoundingBox(xmin=1, ymin=2, xmax=7, ymax=5))]),
    ("visual_question_answering", (png(), "What color is it?"), {"top_k": 2},
     [{"answer": "red", "score": 0.9}, {"answer": "pink", "score": 0.05}],
     [VisualAnswer(answer="red", score=0.9), VisualAnswer(answer="pink", score=0.05)]),
    ("document_question_answering", (png(), "What is the invoice number?"), {},
     [{"answer": "us-001", "score": 0.99, "start": 16, "end": 16}],
     [DocumentAnswer(answer="us-001", score=0.99, start=16, end=16)]),
]  # fmt: skip


def hub(server: RecordingServer, **kwargs: Any) -> HubBackend:
    return HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1, deadline=None), **kwargs)


@pytest.mark.parametrize(("method", "args", "options", "answer", "expected"), WELL_FORMED,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(WELL_FORMED)])  # fmt: skip
def test_hf_inference_answers_become_typed_results(method: str, args: tuple[Any, ...], options: dict[str, Any],
                                                   answer: Any, expected: Any) -> None:  # fmt: skip
    with RecordingServer(body=answer) as server:
        result = getattr(hub(server), method)(*args, **options)
    assert result == expected
    assert response_meta(result) is not None and response_meta(result).backend.startswith("hub:")  # type: ignore[union-attr]
    # Serving.write gives an hf-inference body (what the protocol server answers) that reads back the same.
    task = get_task(method)
    body, content_type = task.serving.write(result)  # type: ignore[misc]
    assert content_type == "application/json" and task.hub.parse(json.loads(body), None) == expected  # type: ignore[union-attr]


@pytest.mark.parametrize(("method", "args", "options", "answer", "expected"), WELL_FORMED,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(WELL_FORMED)])  # fmt: skip
async def test_async_twins_give_the_same_results_from_the_same_requests(
    method: str, args: tuple[Any, ...], options: dict[str, Any], answer: Any, expected: Any
) -> None:
    with RecordingServer(body=answer) as server:
        sync = getattr(hub(server), method)(*args, **options)
        result = await getattr(hub(server), f"a{method}")(*args, **options)
    assert result == sync == expected
    sent_sync, sent_async = server.requests
    assert (sent_async.path, sent_async.body) == (sent_sync.path, sent_sync.body)


def test_binary_inputs_go_as_the_real_client_sends_them(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(png())
    with RecordingServer(body=[{"label": "cat", "score": 1.0}]) as server:
        backend = hub(server)
        backend.image_classification(png())  # raw bytes: the body, no content-type
        backend.image_classification(image)  # a path: the body, with the file's mime type
        backend.image_classification(str(image), top_k=1)  # a parameter: JSON with base64 inputs
        backend.image_classification(Image.new("RGB", (4, 4), "blue"))  # PIL: PNG bytes (hf-inference refuses PIL)
    raw, by_path, with_top_k, from_pil = server.requests
    assert raw.body == png() and "content-type" not in raw.headers
    assert by_path.body == png() and by_path.headers["content-type"] == "image/png"
    assert with_top_k.headers["content-type"] == "application/json"
    assert json.loads(with_top_k.body) == {"inputs": base64.b64encode(png()).decode(), "parameters": {"top_k": 1}}
    assert Image.open(io.BytesIO(from_pil.body)).size == (4, 4)
    # The protocol server reads all of these back into the same request.
    read = get_task("image_classification").serving.read
    assert read(raw.body, None).image == png()  # type: ignore[misc]
    assert read(with_top_k.body, "application/json").top_k == 1  # type: ignore[misc]


def test_url_inputs_are_downloaded_by_the_client_and_sent_as_bytes() -> None:
    # An http(s) URL passes validation unopened; huggingface_hub fetches it and sends its bytes, as for a file.
    with (
        RecordingServer(body=png(), headers={"content-type": "image/png"}) as files,
        RecordingServer(body=[{"label": "cat", "score": 1.0}]) as server,
    ):
        labels = hub(server).image_classification(f"{files.url}/cat.png")
        with_top_k = hub(server).image_classification(f"{files.url}/cat.png", top_k=1)
    assert labels == with_top_k == [ClassificationLabel(label="cat", score=1.0)]
    assert [request.path for request in files.requests] == ["/cat.png", "/cat.png"]
    assert server.requests[0].body == png()
    assert json.loads(server.requests[1].body)["inputs"] == base64.b64encode(png()).decode()


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "JPEG2000", "ICO"])
def test_every_common_image_format_is_sent_unchanged(image_format: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, format=image_format)
    with RecordingServer(body=[{"label": "red", "score": 1.0}]) as server:
        hub(server).image_classification(buffer.getvalue())
    assert server.requests[0].body == buffer.getvalue()


def test_question_tasks_send_json_with_the_image_in_base64() -> None:
    encoded = base64.b64encode(png()).decode()
    with RecordingServer(body=[{"answer": "red", "score": 0.9}]) as server:
        hub(server).visual_question_answering(png(), "What color?")
        hub(server).document_question_answering(png(), "What color?", top_k=1)
    vqa, docqa = (json.loads(request.body) for request in server.requests)
    assert vqa == {"inputs": encoded, "parameters": {}, "question": "What color?", "image": encoded}
    assert docqa == {"inputs": {"question": "What color?", "image": encoded}, "parameters": {"top_k": 1}}
    vqa_request = get_task("visual_question_answering").serving.read(server.requests[0].body, "application/json")
    docqa_request = get_task("document_question_answering").serving.read(server.requests[1].body, None)
    assert (vqa_request.image, vqa_request.question) == (png(), "What color?")  # type: ignore[misc]
    assert (docqa_request.image, docqa_request.question, docqa_request.top_k) == (png(), "What color?", 1)


def test_segments_carry_masks_as_pil_images() -> None:
    answer = [{"score": None, "label": "sky", "mask": MASK}, {"score": 0.9, "label": "cat", "mask": MASK}]
    with RecordingServer(body=answer) as server:
        segments = hub(server).image_segmentation(png(), subtask="semantic")
    assert json.loads(server.requests[0].body)["parameters"] == {"subtask": "semantic"}
    assert [(s.label, s.score) for s in segments] == [("sky", None), ("cat", 0.9)]
    assert all(isinstance(s, ImageSegment) and s.mask.mode == "L" and s.mask.size == (8, 6) for s in segments)
    body, _ = get_task("image_segmentation").serving.write(segments)  # type: ignore[misc]
    assert [Image.open(io.BytesIO(base64.b64decode(item["mask"]))).size for item in json.loads(body)] == [(8, 6)] * 2


def test_text_to_speech_returns_the_audio_bytes() -> None:
    with RecordingServer(body=FLAC, headers={"content-type": "audio/flac"}) as server:
        audio = hub(server).text_to_speech("Hello there", extra={"voice": "af_nicole"})
    assert json.loads(server.requests[0].body) == {"inputs": "Hello there", "parameters": {"voice": "af_nicole"}}
    assert isinstance(audio, Audio) and isinstance(audio, bytes) and audio == FLAC
    assert audio.content_type == "audio/flac" and response_meta(audio) is not None
    assert get_task("text_to_speech").serving.write(audio) == (FLAC, "audio/flac")  # type: ignore[misc]


def test_audio_of_an_unknown_container_is_returned_not_refused() -> None:
    pcm = bytes(range(1, 200))  # raw samples: no container header, not text
    with RecordingServer(body=pcm, headers={"content-type": "audio/L16"}) as server:
        audio = hub(server).text_to_speech("hi")
    assert audio == pcm and audio.content_type == "application/octet-stream"


async def test_async_twins_send_the_same_requests() -> None:
    with RecordingServer(body=[{"label": "cat", "score": 1.0}]) as server:
        labels = await hub(server).aimage_classification(png())
    assert labels == [ClassificationLabel(label="cat", score=1.0)] and server.requests[0].body == png()
    with RecordingServer(body=FLAC) as server:
        audio = await hub(server).atext_to_speech("hi")
    assert audio.content_type == "audio/flac"
    with RecordingServer(body={"text": "hi"}) as server:
        assert (await hub(server).aautomatic_speech_recognition(wav())).text == "hi"


MALFORMED: list[tuple[str, tuple[Any, ...], Any, str]] = [
    ("image_classification", (png(),), {"error": "Model is overloaded"}, "2xx with an error: Model is overloaded"),
    ("image_classification", (png(),), [["cat", 0.9]], "expected"),
    ("image_classification", (png(),), [{"label": "cat"}], "score"),
    ("image_classification", (png(),), [{"label": 3, "score": 0.1}], "label"),
    ("image_classification", (png(),), b"<!DOCTYPE html><html>maintenance</html>", "unexpected response"),
    ("image_to_text", (png(),), [], "unexpected response"),
    ("image_to_text", (png(),), {"error": "boom"}, "2xx with an error: boom"),
    ("image_to_text", (png(),), [{"text": "no generated_text"}], "generated_text"),
    ("object_detection", (png(),), [{"label": "cat", "score": 0.9}], "box"),
    ("object_detection", (png(),), [{"label": "cat", "score": 0.9, "box": {"xmin": 1}}], "ymin"),
    ("image_segmentation", (png(),), [{"label": "cat", "score": 0.9, "mask": "%%%"}], "unexpected response"),
    ("image_segmentation", (png(),), [{"label": "cat", "score": 0.9,
                                       "mask": base64.b64encode(png()[:30]).decode()}], "not an image"),
    ("image_segmentation", (png(),), [{"label": "cat", "score": 0.9}], "unexpected response"),
    ("automatic_speech_recognition", (wav(),), {"error": "Model too busy"}, "Model too busy"),
    ("automatic_speech_recognition", (wav(),), [{"text": "hi"}], "unexpected response"),
    ("automatic_speech_recognition", (wav(),), {"transcript": "hi"}, "text"),
    ("automatic_speech_recognition", (wav(),), {"text": "hi", "chunks": [{"text": "hi", "timestamp": 3}]},
     "timestamp"),
    ("text_to_speech", ("hi",), b'{"error": "Model is loading"}', "Model is loading"),
    ("text_to_speech", ("hi",), b"<!DOCTYPE html><html>Bad gateway</html>", "expected an audio file"),
    ("text_to_speech", ("hi",), b"", "empty body"),
    ("visual_question_answering", (png(), "q?"), {"answer": "red", "score": 0.9}, "unexpected response"),
    ("visual_question_answering", (png(), "q?"), [{"answer": "red", "score": "high"}], "score"),
    ("document_question_answering", (png(), "q?"), [{"answer": None, "score": 0.9}], "answer"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "args", "answer", "message"), MALFORMED,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(MALFORMED)])  # fmt: skip
async def test_malformed_2xx_bodies_are_typed_api_errors(method: str, args: tuple[Any, ...], answer: Any,
                                                         message: str) -> None:  # fmt: skip
    headers = {"content-type": "text/html"} if isinstance(answer, bytes) and answer.startswith(b"<") else {}
    with RecordingServer(body=answer, headers=headers) as server:
        with pytest.raises(APIError, match=message):
            getattr(hub(server), method)(*args)
        with pytest.raises(APIError, match=message):
            await getattr(hub(server), f"a{method}")(*args)
    assert len(server.requests) == 2  # a malformed answer is not retried as if it were transient


def _bad_inputs(tmp: Path) -> list[tuple[str, tuple[Any, ...], dict[str, Any], str]]:
    (tmp / "notes.txt").write_text("not an image")
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "silence.wav").write_bytes(wav(frames=0))
    return [
        ("image_classification", (tmp / "missing.png",), {}, "no such file"),
        ("image_classification", (str(tmp / "missing.png"),), {}, "no such file"),
        ("image_classification", (tmp,), {}, "is not a file"),
        ("image_classification", (tmp / "notes.txt",), {}, "is not an image"),
        ("image_classification", (b"GIF-ish but not",), {}, "is not an image"),
        ("image_classification", (b"",), {}, "empty"),
        ("image_classification", (None,), {}, "None"),
        ("image_classification", (42,), {}, "got int"),
        ("image_classification", ("  ",), {}, "empty string"),
        ("image_classification", (png(),), {"top_k": 0}, "top_k must be at least 1"),
        ("image_classification", (png(),), {"top_k": True}, "top_k must be an int"),
        ("object_detection", (png(),), {"threshold": 1.5}, "threshold must be at most 1.0"),
        ("object_detection", (png(),), {"threshold": float("nan")}, "threshold must be a finite number"),
        ("image_segmentation", (png(),), {"subtask": "everything"}, "subtask must be"),
        ("image_segmentation", (png(),), {"mask_threshold": -0.1}, "mask_threshold must be at least 0.0"),
        ("image_to_text", (wav(),), {}, "is not an image"),
        ("visual_question_answering", (png(), ""), {}, "question is empty"),
        ("document_question_answering", (png(), None), {}, "question is None"),
        ("document_question_answering", (tmp / "missing.png", "q?"), {}, "no such file"),
        ("automatic_speech_recognition", (b"",), {}, "empty"),
        ("automatic_speech_recognition", (tmp / "empty.wav",), {}, "is empty"),
        ("automatic_speech_recognition", (wav(frames=0),), {}, "no samples"),
        ("automatic_speech_recognition", (tmp / "silence.wav",), {}, "no samples"),
        ("automatic_speech_recognition", (png(),), {}, "is not an audio"),
        ("automatic_speech_recognition", (wav(),), {"extra": {"x": float("nan")}}, "JSON"),
        ("automatic_speech_recognition", (wav(),), {"extra": ["x"]}, "extra must be a dict"),
        ("text_to_speech", ("",), {}, "empty"),
        ("text_to_speech", ("x" * 100_001,), {}, "max_input_chars"),
    ]


def test_bad_inputs_are_typed_errors_and_nothing_is_sent(tmp_path: Path) -> None:
    with RecordingServer(body=[]) as server:
        backend = hub(server)
        for method, args, options, message in _bad_inputs(tmp_path):
            with pytest.raises(InvalidInputError, match=message):
                getattr(backend, method)(*args, **options)
    assert server.requests == []


def test_cached_results_come_back_equal(tmp_path: Path) -> None:
    from hfbridge.cache import SQLiteCache

    image = tmp_path / "cat.png"
    image.write_bytes(png())
    answer = [{"score": 0.5, "label": "cat", "mask": MASK}]
    with RecordingServer(body=answer) as server:
        backend = hub(server, cache=SQLiteCache(tmp_path / "cache.db"))
        first = backend.image_segmentation(image)
        again = backend.image_segmentation(png())  # the same content by bytes: one key
    assert len(server.requests) == 1 and again == first and again[0].mask.tobytes() == first[0].mask.tobytes()
    with RecordingServer(body=FLAC) as server:
        backend = hub(server, cache=SQLiteCache(tmp_path / "cache.db"))
        spoken = [backend.text_to_speech("Hello"), backend.text_to_speech("Hello")]
    assert len(server.requests) == 1 and spoken[1] == FLAC and spoken[1].content_type == "audio/flac"


@pytest.mark.parametrize("method", MEDIA_TASKS)
def test_every_media_task_is_declared_for_agents_and_the_server(method: str) -> None:
    task = get_task(method)
    typing.get_type_hints(task.request)  # the tool layer reads the request's types: they must resolve at run time
    assert task.tool is not None and task.serving.read is not None and task.serving.write is not None
    assert task.hub is not None and task.cache is not None
    # No offline model for these ships on PyPI (../shared/MODELS.md): the local backend has no hook for them.
    assert task.local is None


INPUTS: dict[str, tuple[Any, ...]] = {
    "automatic_speech_recognition": (wav(),),
    "text_to_speech": ("Hello there",),
    "image_classification": (png(),),
    "image_to_text": (png(),),
    "object_detection": (png(),),
    "image_segmentation": (png(),),
    "visual_question_answering": (png(), "What color?"),
    "document_question_answering": (png(), "What is the total?"),
}


@pytest.mark.parametrize("method", MEDIA_TASKS)
async def test_local_backend_names_the_hub_alternative(local_backend: LocalBackend, method: str) -> None:
    task = get_task(method)
    with pytest.raises(
        UnsupportedTaskError, match=f"has no {task.pipeline_tag} model; run {method} on a HubBackend"
    ) as raised:
        getattr(local_backend, method)(*INPUTS[method])
    # ...and says how: a Hub model for the task, as HubBackend(task_models=...) takes it.
    assert task.hub_model and f"HubBackend(task_models={{'{task.pipeline_tag}': '{task.hub_model}'}})" in str(
        raised.value
    )
    with pytest.raises(UnsupportedTaskError, match=f"run {method} on a HubBackend"):
        await getattr(local_backend, f"a{method}")(*INPUTS[method])
    # Bad input is still bad input there: validation runs before the backend is asked.
    with pytest.raises(InvalidInputError):
        getattr(local_backend, method)(None, *INPUTS[method][1:])
