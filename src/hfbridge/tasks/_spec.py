"""What a task declaration is made of. One :class:`Task` per task, declared once, read by every layer.

The backends' public methods are generated from these declarations (``backends/_methods.py``); the pipeline
layers read ``validate``, ``cache``, ``many`` and ``stream``; the hub transport reads ``hub``; the in-process
transport reads ``local``; the server reads ``serving``; the tool layer reads ``tool``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

Req = TypeVar("Req")
Res = TypeVar("Res")

__all__ = ["Task", "HubCall", "CacheCodec", "StreamSpec", "Serving", "ToolInfo", "Limits", "REGISTRY"]

#: Every declared task, in declaration order (a task registers itself when it is created).
REGISTRY: list[Task[Any, Any]] = []


@dataclass(frozen=True)
class Limits:
    """The backend's input limits that validation applies."""

    max_input_chars: int
    max_labels: int


@dataclass(frozen=True)
class HubCall:
    """How :class:`~hfbridge.HubBackend` runs the task on huggingface_hub's client.

    ``send(client, request, target)`` makes the call on an ``InferenceClient`` or an ``AsyncInferenceClient`` (the
    two have the same methods, so one function serves both: with the async client it returns an awaitable) and
    returns the raw answer; ``parse(raw, request)`` turns it into the typed result. ``target`` is the hub
    transport: ``target.task_model(request.model, pipeline_tag)`` picks the model to name. Streaming tasks also
    give ``open_stream`` (same contract, returns an iterable of raw events) and ``parse_chunk``.
    """

    send: Callable[[Any, Any, Any], Any]
    parse: Callable[[Any, Any], Any]
    open_stream: Callable[[Any, Any, Any], Any] | None = None
    parse_chunk: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class CacheCodec:
    """How results are cached: the parameters in the key (besides the input) and a JSON round trip; ``accept``
    checks a stored entry (by default ``load`` must read it).

    For a task with ``many`` inputs, entries are per input (``dump`` / ``load`` handle one input's result).
    """

    params: Callable[[Any], dict[str, Any]]
    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]
    value: Callable[[Any], Any] | None = None  # the keyed input of a single-input task (default: first field)
    label: str | None = None  # how the cache's hit-rate log names the task (default: the pipeline tag)
    accept: Callable[[Any], bool] | None = None  # a stored entry it refuses (the wrong shape) is a miss


@dataclass(frozen=True)
class StreamSpec:
    """A streaming variant: its method name, the chunk type (as written in the signature) and the text of a chunk
    (what :class:`~hfbridge.errors.StreamInterruptedError` reports as received)."""

    method: str
    chunk: str
    text_of: Callable[[Any], str]


@dataclass(frozen=True)
class Serving:
    """How a protocol-server request names the task: the pipeline tag (``/models/{id}/pipeline/{tag}``), dedicated
    routes (TEI's ``/predict``...) and older short names the server accepts.

    ``read(body, content_type)`` builds the task's request from an hf-inference request body as
    ``InferenceClient`` sends it (raw file bytes, or JSON; raises :class:`~hfbridge.errors.InvalidInputError`), and
    ``write(result)`` gives the hf-inference answer for a result: ``(body, content_type)``. Tasks whose bodies the
    server reads with its own models leave them ``None``."""

    routes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    read: Callable[[bytes, str | None], Any] | None = None
    write: Callable[[Any], tuple[bytes, str]] | None = None


@dataclass(frozen=True)
class ToolInfo:
    """The task as an agent tool (``hfbridge.tools`` builds the LangChain and LlamaIndex tools from it).

    Args:
        name: the tool's name, as the model calls it.
        description: what the model reads to choose the tool: what it does, its input, its output.
        args: the arguments the model passes (a pydantic model: its JSON schema is what the model sees). Each field
            is a field of the request (the value goes to the task; one the call omits takes the tool's option of the
            same name, then the request's default), or a key of ``filters``.
        example: the arguments of one valid call (the standard tool test suites invoke every tool with it).
        filters: arguments that select result items instead of reaching the task: argument -> the item field it
            matches, case-insensitively (``{"entity_types": "entity_group"}`` keeps the entities of those groups).
    """

    name: str
    description: str
    args: type[BaseModel]
    example: Mapping[str, Any] = field(default_factory=dict)
    filters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Task(Generic[Req, Res]):
    """One task, declared once.

    Args:
        name: the public method (``text_classification``; ``atext_classification`` is generated beside it).
        pipeline_tag: the Hugging Face task name (``text-classification``): ``task_models`` keys, cache keys,
            server routes.
        request: the request dataclass. Its first ``inputs`` fields are the method's positional parameters, the
            others keyword-only options, with the annotations and defaults written in the dataclass.
        result: the return annotation of the generated method.
        doc: the method's docstring.
        validate: ``(request, limits) -> request``: check and normalise before anything is sent; raise
            :class:`~hfbridge.errors.InvalidInputError`.
        hub: how the hub transport runs it (``None``: no hub call).
        local: the name of the in-process hook (a method of the local backend taking the request), ``None`` if
            no packaged model runs it.
        hub_model: a Hub model that runs the task, named by the error of a backend that cannot run it.
        cache: opt-in result caching; ``None`` for tasks never cached.
        many: the request field holding a list of inputs whose result is one entry per input (batched, cached
            per input).
        stream: the streaming variant, if any.
        batch_method: a generated method running the task over many first inputs at once (``text_generation_batch``).
        serving: how the protocol server names it.
        tool: the task as an agent tool.
    """

    name: str
    pipeline_tag: str
    request: type[Req]
    result: str
    doc: str
    validate: Callable[[Req, Limits], Req]
    inputs: int = 1
    hub: HubCall | None = None
    local: str | None = None
    hub_model: str | None = None
    cache: CacheCodec | None = None
    many: str | None = None
    stream: StreamSpec | None = None
    batch_method: str | None = None
    serving: Serving = Serving()
    tool: ToolInfo | None = None

    def __post_init__(self) -> None:
        if any(task.name == self.name for task in REGISTRY):
            raise ValueError(f"task {self.name!r} is declared twice")
        REGISTRY.append(self)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"
