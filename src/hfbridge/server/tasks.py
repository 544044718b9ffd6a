"""Which task a request asks for: the model's task, as the hf-inference API decides it, and the body's shape only
where exactly one task sends that shape.

Every served model has one or more tasks (the first is its own, like a Hub model's ``pipeline_tag``). ``POST
/models/{id}`` runs that model's task; ``POST /`` runs the served model's task when the server was given one
(``--task``, as a TGI or TEI container serves one task there). A body shape that only one task sends picks that
task among the model's tasks (see :func:`task_of_body`); any other body goes to the model's own task, and on a
server without a task for ``/`` it is refused with a message that names the routes to use instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..tasks import _spec as registry
from ..tasks._spec import Task
from .errors import Refusal

__all__ = ["served_tasks", "registry_task", "ModelTable", "canonical_task", "task_of_body"]

# The server's own names for tasks (older spellings and Hub pipeline names the registry does not use); every other
# name is looked up in the task registry (pipeline tag, method name, ``serving.aliases``, tool name).
_ALIASES = {
    "generate": "text-generation", "conversational": "text-generation", "chat": "text-generation",
    "embeddings": "feature-extraction", "sentiment-analysis": "text-classification",
    "zero-shot": "zero-shot-classification",
}  # fmt: skip


def served_tasks() -> tuple[str, ...]:
    """The tasks the server runs, by their Hub names: every task of the registry (chat is served as the
    ``text-generation`` model's, as on the Hub)."""
    return tuple(dict.fromkeys(_hub_name(task) for task in registry.REGISTRY))


def registry_task(name: str) -> Task[Any, Any]:
    """The registry's task for a Hub task name (``text-generation`` is the generation task, not chat)."""
    for task in registry.REGISTRY:
        if task.pipeline_tag == name:
            return task
    raise KeyError(name)


def _hub_name(task: Task[Any, Any]) -> str:
    return "text-generation" if task.pipeline_tag == "chat" else task.pipeline_tag


def canonical_task(name: str) -> str:
    """A task's Hub name, from itself, a short alias (``embed``, ``classify``, ``ner``...) or any name the task
    registry knows it by. Read at call time, so a task added to the registry is served without a server edit."""
    if name in _ALIASES:
        return _ALIASES[name]
    for task in registry.REGISTRY:
        names = (task.pipeline_tag, task.name, *task.serving.aliases, *((task.tool.name,) if task.tool else ()))
        if name in names:
            return _hub_name(task)
    known = ", ".join(served_tasks())
    raise ValueError(f"unknown task {name!r}; known: {known} (or {', '.join(sorted(_aliases()))})")


def _aliases() -> set[str]:
    return set(_ALIASES) | {alias for task in registry.REGISTRY for alias in task.serving.aliases}


# Parameters only TGI's text generation takes (top_k is left out: text classification takes it too).
_GENERATION_ONLY = frozenset({
    "best_of", "decoder_input_details", "details", "do_sample", "frequency_penalty", "grammar", "max_new_tokens",
    "repetition_penalty", "return_full_text", "seed", "stop", "temperature", "top_n_tokens", "top_p", "truncate",
    "typical_p", "watermark", "adapter_id",
})  # fmt: skip
_NER_ONLY = frozenset({"aggregation_strategy", "ignore_labels", "stride"})
# Top-level keys only TEI's /embed takes (InferenceClient.feature_extraction puts them there too).
_EMBEDDING_ONLY = frozenset({"normalize", "prompt_name", "truncate", "truncation_direction", "dimensions"})


def task_of_body(body: Mapping[str, Any], accept: str = "") -> str | None:
    """The task a body's shape belongs to, or None when several tasks send bodies of that shape.

    Unambiguous shapes: an ``image/*`` Accept header (text-to-image); ``inputs.source_sentence``
    (sentence-similarity); ``parameters.candidate_labels`` (zero-shot); NER-only parameters
    (``aggregation_strategy``, ``ignore_labels``, ``stride``); a ``stream`` key or a generation-only parameter
    (``max_new_tokens``, ``details``, ``temperature``...); ``function_to_apply`` (text classification); TEI
    embedding keys at the top level with no ``parameters`` (``normalize``, ``truncate``, ``prompt_name``...).
    ``{"inputs": "..."}`` or ``{"inputs": "...", "parameters": {}}`` is ambiguous: text classification, NER,
    generation and embeddings all send it."""
    if "image/" in accept:
        return "text-to-image"
    inputs = body.get("inputs")
    params = body.get("parameters")
    if isinstance(inputs, Mapping) and "source_sentence" in inputs:
        return "sentence-similarity"
    if isinstance(params, Mapping):
        keys = set(params)
        if "candidate_labels" in keys:
            return "zero-shot-classification"
        if keys & _NER_ONLY:
            return "token-classification"
        if keys & _GENERATION_ONLY:
            return "text-generation"
        if "function_to_apply" in keys:
            return "text-classification"
    if "stream" in body:
        return "text-generation"
    if params is None and set(body) & _EMBEDDING_ONLY:
        return "feature-extraction"
    return None


@dataclass
class ModelTable:
    """The models a server serves, each with its tasks (its own task first)."""

    tasks_by_model: dict[str, tuple[str, ...]]
    #: The model ``POST /`` serves, and the task it runs there when the body does not say (None: refuse).
    served_model: str
    root_task: str | None = None

    @classmethod
    def build(cls, served_model: str, *, task: str | None = None, backend_models: Mapping[str, str] | None = None,
              model_tasks: Iterable[tuple[str, str]] = ()) -> ModelTable:  # fmt: skip
        """``backend_models`` maps task -> model (``LocalBackend.models``); ``model_tasks`` adds (model, task)
        pairs (``--model-task ID=TASK``); ``task`` is the served model's task."""
        table: dict[str, list[str]] = {}

        def add(model: str, name: str) -> None:
            try:
                canonical = canonical_task(name)
            except ValueError:
                return  # backend entries such as "chat" that are not a task of their own
            tasks = table.setdefault(model, [])
            if canonical not in tasks:
                tasks.append(canonical)

        root = canonical_task(task) if task else None
        if root is not None:
            add(served_model, root)
        for model, name in model_tasks:
            canonical_task(name)  # a typo in a mapping is the caller's error, not silently skipped
            add(model, name)
        for name, model in (backend_models or {}).items():
            if name != "chat":
                add(model, name)
        table.setdefault(served_model, [])
        return cls({model: tuple(tasks) for model, tasks in table.items()}, served_model, root)

    @property
    def models(self) -> list[str]:
        return list(self.tasks_by_model)

    def model_for(self, task: str) -> str:
        for model, tasks in self.tasks_by_model.items():
            if task in tasks:
                return model
        return self.served_model

    def served_tasks(self) -> set[str]:
        return {task for tasks in self.tasks_by_model.values() for task in tasks}

    def for_model(self, model: str, body: Mapping[str, Any] | None, accept: str, pipeline: str | None = None) -> str:
        """The task ``POST /models/{model}`` (or ``/models/{model}/pipeline/{pipeline}``) runs for ``body`` (None: a
        file, which names no task: the model's own task runs)."""
        if model not in self.tasks_by_model:
            raise Refusal("not_found", f"Model {model} does not exist on this server; served models: "
                          f"{', '.join(self.models)}")  # fmt: skip
        tasks = self.tasks_by_model[model] or served_tasks()
        if pipeline:
            try:
                wanted: str | None = canonical_task(pipeline)
            except ValueError as exc:
                raise Refusal("not_found", str(exc)) from None
        else:
            wanted = task_of_body(body, accept) if body is not None else None
        if wanted is None:
            if len(tasks) == 1 or model != self.served_model or self.root_task:
                return tasks[0]
            raise _ambiguous(self, f"/models/{model}")
        if wanted not in tasks:
            raise Refusal("validation", f"Model {model} does not serve {wanted}; it serves {', '.join(tasks)}", 400)
        return wanted

    def for_root(self, body: Mapping[str, Any] | None, accept: str) -> str:
        """The task ``POST /`` runs for ``body`` (None: a file, for the served model's own task)."""
        wanted = task_of_body(body, accept) if body is not None else None
        if wanted is not None:
            return wanted
        if self.root_task is not None:
            return self.root_task
        raise _ambiguous(self, "/")

    def routes_hint(self) -> str:
        served = self.served_tasks()
        return "; ".join(f"{task}: /models/{self.model_for(task)}" for task in served_tasks() if task in served)


def _ambiguous(table: ModelTable, route: str) -> Refusal:
    return Refusal("validation", f"POST {route} serves several tasks here and this body could be any of them (text "
                   "classification, NER, generation and embeddings all send {\"inputs\": ...}). Send it to the "
                   f"model that runs the task you want ({table.routes_hint()}), or start the server with --task.")
