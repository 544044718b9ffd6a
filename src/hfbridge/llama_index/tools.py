"""``HFToolSpec``: sentiment, zero-shot, NER and text-to-image as LlamaIndex ``FunctionTool``s."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from llama_index.core.tools import FunctionTool, ToolMetadata
from llama_index.core.tools.tool_spec.base import BaseToolSpec
from pydantic import BaseModel, Field

from ..backends import Backend, resolve_backend

__all__ = ["HFToolSpec"]


class SentimentArgs(BaseModel):
    text: str = Field(min_length=1, description="The text to analyse.")


class ZeroShotArgs(BaseModel):
    text: str = Field(min_length=1, description="The text to classify.")
    labels: list[str] | None = Field(default=None, description="Candidate labels; omit for the spec's labels.")
    multi_label: bool = Field(default=False, description="Score each label independently.")


class NERArgs(BaseModel):
    text: str = Field(min_length=1, description="The text to analyse.")
    entity_types: list[str] | None = Field(default=None, description="Keep only these groups: PER, ORG, LOC, MISC.")


class ImageArgs(BaseModel):
    prompt: str = Field(min_length=1, description="What the image should show.")
    width: int | None = Field(default=None, ge=64, le=2048, description="Width in pixels.")
    height: int | None = Field(default=None, ge=64, le=2048, description="Height in pixels.")


_SPECS: dict[str, tuple[type[BaseModel], str]] = {
    "text_classification": (
        SentimentArgs,
        "Classify the sentiment of a text (positive or negative). Returns JSON [{label, score}], best first.",
    ),
    "zero_shot_classification": (
        ZeroShotArgs,
        "Classify the topic of a text: which of the candidate labels fits it best. Returns JSON [{label, score}].",
    ),
    "named_entity_recognition": (
        NERArgs,
        "Find named entities (people PER, organisations ORG, locations LOC, other MISC) in a text. "
        "Returns JSON [{entity_group, word, start, end, score}].",
    ),
    "text_to_image": (ImageArgs, "Generate an image from a text prompt. Returns the path of the saved PNG file."),
}


class HFToolSpec(BaseToolSpec):
    """Hugging Face classifiers, NER and image generation as tools for any LlamaIndex agent.

    >>> tools = HFToolSpec(labels=["billing", "account"]).to_tool_list()
    >>> agent = FunctionAgent(tools=tools, llm=HFLLM())

    Each tool has a sync and an async function and a precise ``fn_schema``. Errors (bad input, 402...) are raised
    as typed hfbridge errors whose message the agent receives as the tool's output.
    """

    spec_functions = [
        ("text_classification", "atext_classification"),
        ("zero_shot_classification", "azero_shot_classification"),
        ("named_entity_recognition", "anamed_entity_recognition"),
    ]

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        labels: list[str] | None = None,
        include_image: bool = False,
        output_dir: str | Path | None = None,
        **shorthand: Any,
    ) -> None:
        self.backend = backend if backend is not None else resolve_backend(**shorthand)
        self.labels = labels
        self.output_dir = Path(output_dir or Path(tempfile.gettempdir()) / "hfbridge-images")
        if include_image:
            self.spec_functions = [*self.spec_functions, ("text_to_image", "atext_to_image")]

    def to_tool_list(
        self,
        spec_functions: list[Any] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        mapping = {
            name: ToolMetadata(name=name, description=description, fn_schema=schema)
            for name, (schema, description) in _SPECS.items()
        }
        return super().to_tool_list(spec_functions, {**mapping, **(func_to_metadata_mapping or {})})

    def _labels(self, labels: list[str] | None) -> list[str]:
        chosen = labels or self.labels
        if not chosen:
            raise ValueError("no candidate labels: pass `labels` (a non-empty list of strings)")
        return chosen

    # ------------------------------------------------------------------------------------------- tools
    def text_classification(self, text: str) -> str:
        return _dump(self.backend.text_classification(text))

    async def atext_classification(self, text: str) -> str:
        return _dump(await self.backend.atext_classification(text))

    def zero_shot_classification(self, text: str, labels: list[str] | None = None, multi_label: bool = False) -> str:
        return _dump(self.backend.zero_shot_classification(text, self._labels(labels), multi_label=multi_label))

    async def azero_shot_classification(
        self, text: str, labels: list[str] | None = None, multi_label: bool = False
    ) -> str:
        result = await self.backend.azero_shot_classification(text, self._labels(labels), multi_label=multi_label)
        return _dump(result)

    def named_entity_recognition(self, text: str, entity_types: list[str] | None = None) -> str:
        return _entities(self.backend.token_classification(text), entity_types)

    async def anamed_entity_recognition(self, text: str, entity_types: list[str] | None = None) -> str:
        return _entities(await self.backend.atoken_classification(text), entity_types)

    def text_to_image(self, prompt: str, width: int | None = None, height: int | None = None) -> str:
        return self._save(self.backend.text_to_image(prompt, **_size(width, height)))

    async def atext_to_image(self, prompt: str, width: int | None = None, height: int | None = None) -> str:
        return self._save(await self.backend.atext_to_image(prompt, **_size(width, height)))

    def _save(self, image: Any) -> str:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"{uuid.uuid4().hex}.png"
        image.save(path, format="PNG")
        return str(path)


def _dump(items: list[Any]) -> str:
    return json.dumps([item.model_dump() for item in items])


def _entities(entities: list[Any], types: list[str] | None) -> str:
    wanted = {t.upper() for t in types} if types else None
    return json.dumps([e.model_dump() for e in entities if wanted is None or e.entity_group.upper() in wanted])


def _size(width: int | None, height: int | None) -> dict[str, Any]:
    return {key: value for key, value in (("width", width), ("height", height)) if value is not None}
