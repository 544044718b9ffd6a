"""The framework-neutral tool layer (``hfbridge.tools``) and its two adapters: the same tools, options, answers and
errors in LangChain and LlamaIndex, on one backend. Real local models, real framework objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hfbridge import ConfigurationError, HubBackend, InvalidInputError, LocalBackend
from hfbridge.langchain import HFTool, NERTool, hf_tools
from hfbridge.llama_index import HFToolSpec
from hfbridge.tools import TOOLS, MediaFiles, get_tool, normalize_tool_choice, render_result, select_tools

TOPICS = ["billing", "account"]


def _both(backend: Any, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    langchain = {tool.name: tool for tool in hf_tools(backend, **options)}
    llama_index = {tool.metadata.name: tool for tool in HFToolSpec(backend, **options).to_tool_list()}
    return langchain, llama_index


def test_every_registry_tool_looks_the_same_to_the_model_in_both_frameworks(local_backend: LocalBackend) -> None:
    langchain, llama_index = _both(local_backend, include="all")
    assert list(langchain) == list(llama_index) == [spec.name for spec in TOOLS]
    assert {"text_classification", "zero_shot_classification", "named_entity_recognition", "text_to_image"} <= set(
        langchain
    )
    for spec in TOOLS:
        assert langchain[spec.name].description == llama_index[spec.name].metadata.description == spec.description
        assert langchain[spec.name].args_schema is llama_index[spec.name].metadata.fn_schema is spec.args
        assert set(spec.example) <= set(spec.args.model_fields), f"{spec.name}: example names unknown arguments"


def test_a_tool_names_the_defaults_its_options_set(local_backend: LocalBackend) -> None:
    # A model told only that "the tool's labels" exist invents its own (the 1.5B wrote label lists until max_tokens cut
    # its ReAct step): what the options fill in is in the description and, as the default, in the schema.
    from langchain_core.utils.function_calling import convert_to_openai_tool

    langchain, llama_index = _both(local_backend, labels=TOPICS, top_k=2)
    zero_shot, sentiment = langchain["zero_shot_classification"], langchain["text_classification"]
    assert zero_shot.description.endswith(f"Default labels: {', '.join(TOPICS)}.")
    assert llama_index["zero_shot_classification"].metadata.description == zero_shot.description
    assert sentiment.description == get_tool("text_classification").description  # top_k is no argument of its
    for schema in (convert_to_openai_tool(zero_shot)["function"]["parameters"],
                   json.loads(llama_index["zero_shot_classification"].metadata.fn_schema_str)):  # fmt: skip
        assert schema["properties"]["labels"]["default"] == TOPICS and schema["required"] == ["text"]
    # The schema's default is what the call gets when the model leaves the argument out.
    assert json.loads(zero_shot.invoke({"text": "I was charged twice."}))[0]["label"] in TOPICS


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nope": 1}, "no selected tool takes 'nope'"),
        ({"labels": "billing"}, "labels: 'str' instances are not allowed"),
        ({"top_k": "three"}, "top_k: Input should be a valid integer"),
        ({"entity_types": [1, 2]}, "entity_types.0: Input should be a valid string"),
    ],
)
def test_options_are_checked_once_when_the_tools_are_built(
    local_backend: LocalBackend, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as langchain:
        hf_tools(local_backend, **options)
    with pytest.raises(ConfigurationError, match=message) as llama_index:
        HFToolSpec(local_backend, **options)
    assert str(langchain.value) == str(llama_index.value)


def test_a_single_tool_refuses_options_it_does_not_take(local_backend: LocalBackend) -> None:
    with pytest.raises(ConfigurationError, match="tool 'named_entity_recognition' takes no option 'top_k'"):
        NERTool(backend=local_backend, top_k=2)
    with pytest.raises(ConfigurationError, match="unknown tool 'nope'"):
        HFTool(tool="nope", backend=local_backend)
    tool = HFTool(tool="ner", backend=local_backend, entity_types=["LOC"])  # any registry tool by any of its names
    assert isinstance(tool, HFTool) and tool.name == "named_entity_recognition"
    assert [e["word"] for e in json.loads(tool.invoke({"text": "Angela Merkel visited Paris."}))] == ["Paris"]


def test_the_tools_of_one_call_share_one_backend() -> None:
    url = "http://127.0.0.1:9"  # nothing is sent: building tools touches no network
    langchain = hf_tools(base_url=url, include="all", requests_per_second=5, max_retries=2)
    backends = {id(tool.client) for tool in langchain}  # type: ignore[attr-defined]
    assert len(backends) == 1
    backend = langchain[0].client  # type: ignore[attr-defined]
    assert isinstance(backend, HubBackend) and backend.rate_limit is not None
    assert backend.retry_policy.max_attempts == 3
    spec = HFToolSpec(base_url=url, include="all", requests_per_second=5, max_retries=2)
    assert isinstance(spec.backend, HubBackend) and spec.backend.rate_limit is not None
    assert spec.backend.retry_policy.max_attempts == 3
    with pytest.raises(ConfigurationError, match="requests_per_second"):
        hf_tools(spec.backend, requests_per_second=5)  # a given backend keeps its own limit


def test_same_calls_give_the_same_answers_and_errors(local_backend: LocalBackend) -> None:
    langchain, llama_index = _both(local_backend, labels=TOPICS, top_k=1)
    calls = [
        ("named_entity_recognition", {"text": "Ada Lovelace lived in London.", "entity_types": ["per"]}),
        ("zero_shot_classification", {"text": "I need to update my payment method."}),  # labels: the option's
        ("zero_shot_classification", {"text": "My login fails.", "labels": ["account", "weather"]}),
        ("text_classification", {"text": "I love it"}),  # top_k=1: the option
        ("text_classification", {"text": "x", "colour": "red"}),  # unknown argument: said, not dropped
        ("zero_shot_classification", {"text": " "}),  # bad argument
        ("zero_shot_classification", {"text": "x", "labels": ["a", "a"]}),  # typed error from the backend
    ]
    answers = []
    for name, arguments in calls:
        answer = langchain[name].invoke(arguments)
        output = llama_index[name].call(**arguments)
        assert answer == output.content, name
        answers.append((answer, output.is_error))
    ner, topic, chosen, sentiment, unknown, blank, duplicate = answers
    assert [e["word"] for e in json.loads(ner[0])] == ["Ada Lovelace"]
    assert {item["label"] for item in json.loads(topic[0])} == set(TOPICS)
    assert json.loads(chosen[0])[0]["label"] == "account"
    assert len(json.loads(sentiment[0])) == 1
    assert unknown == ("Invalid tool input: unknown argument 'colour'; text_classification takes text. Fix the "
                       "arguments and call the tool again.", True)  # fmt: skip
    assert blank[1] and blank[0].startswith("Invalid tool input: text: ")
    assert duplicate[1] and duplicate[0].startswith("InvalidInputError: ") and "twice" in duplicate[0]
    assert duplicate[0].endswith("Fix the arguments and call the tool again.")


async def test_async_calls_match_the_sync_ones(local_backend: LocalBackend) -> None:
    langchain, llama_index = _both(local_backend, include=("ner",))
    arguments = {"text": "Angela Merkel visited Paris.", "entity_types": ["LOC"]}
    expected = langchain["named_entity_recognition"].invoke(arguments)
    assert await langchain["named_entity_recognition"].ainvoke(arguments) == expected
    assert (await llama_index["named_entity_recognition"].acall(**arguments)).content == expected
    # The spec's own methods, as LlamaIndex's ToolSpec convention has them.
    spec = HFToolSpec(local_backend, include="ner")
    assert spec.named_entity_recognition(**arguments) == expected
    assert await spec.anamed_entity_recognition(**arguments) == expected


def test_a_missing_required_option_is_a_message_for_the_model(local_backend: LocalBackend) -> None:
    langchain, llama_index = _both(local_backend, include="zero_shot")  # no labels at construction
    answer = langchain["zero_shot_classification"].invoke({"text": "hello"})
    output = llama_index["zero_shot_classification"].call(text="hello")
    assert answer == output.content == (
        "Invalid tool input: 'labels' missing: pass it in the call. Fix the arguments and call the tool again."
    )
    assert output.is_error


def test_names_and_selection() -> None:
    assert get_tool("ner") is get_tool("token_classification") is get_tool("named_entity_recognition")
    assert get_tool("image").name == "text_to_image"
    assert [spec.name for spec in select_tools(["ner", "token_classification", "sentiment"])] == [
        "named_entity_recognition",
        "text_classification",
    ]
    assert select_tools("all") == list(TOOLS)
    with pytest.raises(ConfigurationError, match="unknown tools"):
        select_tools(["ner", "nope"])


def test_media_in_results_become_files(tmp_path: Path) -> None:
    media = MediaFiles(tmp_path / "out")
    path = Path(render_result(Image.new("RGB", (4, 3), "red"), media))
    assert path.parent == tmp_path / "out" and path.suffix == ".png"
    assert Image.open(path).size == (4, 3)
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)
    rendered = json.loads(render_result({"audio": wav, "items": [b"fLaC" + bytes(4)], "score": 0.5}, media))
    assert Path(rendered["audio"]).suffix == ".wav" and Path(rendered["audio"]).read_bytes() == wav
    assert Path(rendered["items"][0]).suffix == ".flac" and rendered["score"] == 0.5
    assert render_result("plain text", media) == "plain text"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        (False, None),
        ("auto", "auto"),
        ("none", "none"),
        (True, "required"),
        ("any", "required"),
        ("required", "required"),
        ("f", {"type": "function", "function": {"name": "f"}}),
        ({"name": "f"}, {"type": "function", "function": {"name": "f"}}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_tool_choice_forms(choice: Any, expected: Any) -> None:
    assert normalize_tool_choice(choice, [{"type": "function", "function": {"name": "f"}}]) == expected


@pytest.mark.parametrize(("choice", "tools"), [("g", [{"type": "function", "function": {"name": "f"}}]),
                                               (True, []), (3, None)])  # fmt: skip
def test_tool_choice_refusals(choice: Any, tools: Any) -> None:
    with pytest.raises(InvalidInputError):
        normalize_tool_choice(choice, tools)
