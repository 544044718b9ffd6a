"""Classifiers, NER and image generation as LangChain tools an agent can call."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, ValidationError

from ..backends import Backend
from ..errors import HFBridgeError
from ..tasks import TASKS
from ._config import BackendFields

__all__ = [
    "TextClassificationTool",
    "ZeroShotClassificationTool",
    "NERTool",
    "TextToImageTool",
    "hf_tools",
]


# Names, descriptions and argument schemas are declared once, with the tasks (hfbridge.tasks).
_TOOLS = {task.tool.name: task.tool for task in TASKS if task.tool is not None}


def _validation_message(error: ValidationError) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors())
    return f"Invalid tool input: {problems}. Fix the arguments and call the tool again."


@contextmanager
def _readable_errors() -> Iterator[None]:
    """hfbridge errors become ToolExceptions, which LangChain hands to the agent as the tool's output."""
    try:
        yield
    except HFBridgeError as error:
        raise ToolException(f"{type(error).__name__}: {error}") from error


class _HFTool(BackendFields, BaseTool):
    """Shared plumbing: backend resolution and errors an agent can read (never a crash of the agent loop)."""

    handle_tool_error: bool | str | Any = True
    handle_validation_error: bool | str | Any = _validation_message


class TextClassificationTool(_HFTool):
    """Sentiment (or any text-classification model): labels with scores, best first."""

    name: str = _TOOLS["text_classification"].name
    description: str = _TOOLS["text_classification"].description
    args_schema: type[BaseModel] = _TOOLS["text_classification"].args
    top_k: int | None = Field(default=None, description="Return only the k best labels.")

    def _run(self, text: str, run_manager: CallbackManagerForToolRun | None = None) -> str:
        with _readable_errors():
            labels = self.client.text_classification(text, top_k=self.top_k, model=self._model_override({}))
        return json.dumps([label.model_dump() for label in labels])

    async def _arun(self, text: str, run_manager: AsyncCallbackManagerForToolRun | None = None) -> str:
        with _readable_errors():
            labels = await self.client.atext_classification(text, top_k=self.top_k, model=self._model_override({}))
        return json.dumps([label.model_dump() for label in labels])


class ZeroShotClassificationTool(_HFTool):
    """Rank candidate labels for a text; labels fixed at construction or given per call."""

    name: str = _TOOLS["zero_shot_classification"].name
    description: str = _TOOLS["zero_shot_classification"].description
    args_schema: type[BaseModel] = _TOOLS["zero_shot_classification"].args
    labels: list[str] | None = Field(default=None, description="Default candidate labels.")

    def _labels(self, labels: list[str] | None) -> list[str]:
        chosen = labels if labels else self.labels
        if not chosen:
            raise ToolException("No candidate labels: pass `labels` (a non-empty list of strings).")
        return chosen

    def _run(
        self,
        text: str,
        labels: list[str] | None = None,
        multi_label: bool = False,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> str:
        with _readable_errors():
            result = self.client.zero_shot_classification(
                text, self._labels(labels), multi_label=multi_label, model=self._model_override({})
            )
        return json.dumps([item.model_dump() for item in result])

    async def _arun(
        self,
        text: str,
        labels: list[str] | None = None,
        multi_label: bool = False,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> str:
        with _readable_errors():
            result = await self.client.azero_shot_classification(
                text, self._labels(labels), multi_label=multi_label, model=self._model_override({})
            )
        return json.dumps([item.model_dump() for item in result])


class NERTool(_HFTool):
    """Named entities with their group, text span and score."""

    name: str = _TOOLS["named_entity_recognition"].name
    description: str = _TOOLS["named_entity_recognition"].description
    args_schema: type[BaseModel] = _TOOLS["named_entity_recognition"].args

    @staticmethod
    def _filtered(entities: Sequence[Any], types: list[str] | None) -> str:
        wanted = {t.upper() for t in types} if types else None
        kept = [e.model_dump() for e in entities if wanted is None or e.entity_group.upper() in wanted]
        return json.dumps(kept)

    def _run(
        self, text: str, entity_types: list[str] | None = None, run_manager: CallbackManagerForToolRun | None = None
    ) -> str:
        with _readable_errors():
            entities = self.client.token_classification(text, model=self._model_override({}))
        return self._filtered(entities, entity_types)

    async def _arun(
        self,
        text: str,
        entity_types: list[str] | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> str:
        with _readable_errors():
            entities = await self.client.atoken_classification(text, model=self._model_override({}))
        return self._filtered(entities, entity_types)


class TextToImageTool(_HFTool):
    """Generate an image, save it as PNG, return its path."""

    name: str = _TOOLS["text_to_image"].name
    description: str = _TOOLS["text_to_image"].description
    args_schema: type[BaseModel] = _TOOLS["text_to_image"].args
    output_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "hfbridge-images")

    def _save(self, image: Any) -> str:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"{uuid.uuid4().hex}.png"
        image.save(path, format="PNG")
        return str(path)

    def _options(self, width: int | None, height: int | None) -> dict[str, Any]:
        options: dict[str, Any] = {"model": self._model_override({}), "width": width, "height": height}
        return {key: value for key, value in options.items() if value is not None}

    def _run(
        self,
        prompt: str,
        width: int | None = None,
        height: int | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> str:
        with _readable_errors():
            return self._save(self.client.text_to_image(prompt, **self._options(width, height)))

    async def _arun(
        self,
        prompt: str,
        width: int | None = None,
        height: int | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> str:
        with _readable_errors():
            return self._save(await self.client.atext_to_image(prompt, **self._options(width, height)))


def hf_tools(
    backend: Backend | None = None,
    *,
    labels: list[str] | None = None,
    include: Sequence[str] = ("sentiment", "zero_shot", "ner"),
    **shorthand: Any,
) -> list[BaseTool]:
    """Ready tools for an agent, sharing one backend. ``include`` may add ``"image"``."""
    kwargs: dict[str, Any] = {"backend": backend, **shorthand}
    factories: dict[str, Any] = {
        "sentiment": lambda: TextClassificationTool(**kwargs),
        "zero_shot": lambda: ZeroShotClassificationTool(labels=labels, **kwargs),
        "ner": lambda: NERTool(**kwargs),
        "image": lambda: TextToImageTool(**kwargs),
    }
    unknown = set(include) - set(factories)
    if unknown:
        raise ValueError(f"unknown tools {sorted(unknown)}; choose from {sorted(factories)}")
    if backend is None and not shorthand:
        # One default backend for all tools, not one each (models load once).
        from ..backends import resolve_backend

        kwargs["backend"] = resolve_backend()
    return [factories[name]() for name in include]
