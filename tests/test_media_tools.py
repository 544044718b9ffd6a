"""The audio and vision tasks as agent tools: a LangChain tool and a LlamaIndex FunctionTool built by the neutral
tool layer (hfbridge.tools) run the task through a real HubBackend and the real InferenceClient against a loopback
double answering as hf-inference does. An agent passes a file path (or URL) and reads JSON, or the path of a saved
audio file; a bad path comes back as advice, never as an exception in the agent loop."""

from __future__ import annotations

import json
import struct
import wave
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hfbridge import HubBackend, RetryPolicy
from hfbridge.langchain import hf_tools
from hfbridge.llama_index import HFToolSpec

from ._http_double import RecordingServer


def _png(path: Path) -> Path:
    Image.new("RGB", (8, 6), "red").save(path, format="PNG")
    return path


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(struct.pack("<160h", *(i % 100 for i in range(160))))
    return path


def _hub(server: RecordingServer) -> HubBackend:
    return HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1, deadline=None))


def _langchain(backend: HubBackend, name: str, output_dir: Path) -> Any:
    (tool,) = hf_tools(backend, include=[name], output_dir=output_dir)
    return tool


def _llama_index(backend: HubBackend, name: str, output_dir: Path) -> Any:
    (tool,) = HFToolSpec(backend, include=[name], output_dir=output_dir).to_tool_list()
    return tool


def _call(framework: str, tool: Any, arguments: dict[str, Any]) -> str:
    if framework == "langchain":
        return str(tool.invoke(arguments))
    return str(tool.call(**arguments).content)


FRAMEWORKS = {"langchain": _langchain, "llama_index": _llama_index}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_image_tools_take_a_path_and_answer_json(framework: str, tmp_path: Path) -> None:
    image = _png(tmp_path / "cat.png")
    answers = {
        "image_classification": ([{"label": "tabby", "score": 0.9}], {"image": str(image)},
                                 [{"label": "tabby", "score": 0.9}]),
        "object_detection": ([{"label": "cat", "score": 0.8, "box": {"xmin": 1, "ymin": 1, "xmax": 5, "ymax": 4}}],
                             {"image": str(image)},
                             [{"label": "cat", "score": 0.8, "box": {"xmin": 1, "ymin": 1, "xmax": 5, "ymax": 4}}]),
        "visual_question_answering": ([{"answer": "red", "score": 0.7}],
                                      {"image": str(image), "question": "What color is it?"},
                                      [{"answer": "red", "score": 0.7}]),
    }  # fmt: skip
    for name, (answer, arguments, expected) in answers.items():
        with RecordingServer(body=answer) as server:
            tool = FRAMEWORKS[framework](_hub(server), name, tmp_path)
            assert tool.metadata.name == name if framework == "llama_index" else tool.name == name
            text = _call(framework, tool, arguments)
        assert json.loads(text) == expected, name
        sent = server.requests[0]
        assert sent.body == image.read_bytes() or json.loads(sent.body)["image"]  # the file's bytes reached the model


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_speech_tools_transcribe_a_file_and_save_spoken_audio(framework: str, tmp_path: Path) -> None:
    audio = _wav(tmp_path / "hello.wav")
    with RecordingServer(body={"text": "hello there"}) as server:
        text = _call(
            framework, FRAMEWORKS[framework](_hub(server), "speech_recognition", tmp_path), {"audio": str(audio)}
        )
    assert "hello there" in text and server.requests[0].body == audio.read_bytes()
    flac = b"fLaC\x00\x00\x00\x22" + bytes(34)
    with RecordingServer(body=flac, headers={"content-type": "audio/flac"}) as server:
        saved = _call(
            framework, FRAMEWORKS[framework](_hub(server), "text_to_speech", tmp_path / "out"), {"text": "Hi"}
        )
    path = Path(saved.strip().strip('"'))
    assert path.parent == tmp_path / "out" and path.read_bytes() == flac  # the agent reads a path, not audio bytes


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_bad_file_comes_back_as_advice_and_nothing_is_sent(framework: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with RecordingServer(body=[]) as server:
        tool = FRAMEWORKS[framework](_hub(server), "image_classification", tmp_path)
        missing = _call(framework, tool, {"image": str(tmp_path / "missing.png")})
        not_image = _call(framework, tool, {"image": str(tmp_path / "notes.txt")})
    assert "InvalidInputError" in missing and "no such file" in missing and "Fix the arguments" in missing
    assert "is not an image file" in not_image
    assert server.requests == []


def test_every_media_tool_builds_in_both_frameworks(tmp_path: Path) -> None:
    names = ["speech_recognition", "text_to_speech", "image_classification", "image_to_text", "object_detection",
             "image_segmentation", "visual_question_answering", "document_question_answering"]  # fmt: skip
    backend = HubBackend(base_url="http://127.0.0.1:9")
    langchain = hf_tools(backend, include=names, output_dir=tmp_path)
    llama_index = HFToolSpec(backend, include=names, output_dir=tmp_path).to_tool_list()
    assert [tool.name for tool in langchain] == [tool.metadata.name for tool in llama_index] == names
    for tool in langchain:
        schema = tool.get_input_schema().model_json_schema()
        assert schema["required"] and tool.description
