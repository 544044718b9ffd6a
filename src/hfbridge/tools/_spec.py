"""A task as an agent tool: its arguments, its options, the call, and what the agent reads back.

:class:`ToolSpec` is built from a task's :class:`~hfbridge.tasks.ToolInfo`; nothing here is tool-specific, so a new
task with a ``tool=`` declaration is a tool in both frameworks without a line of adapter code.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from ..errors import ConfigurationError, HFBridgeError
from ..tasks import TASKS, Task
from ._render import MediaFiles, render_error, render_result, validation_message

__all__ = ["ToolSpec", "ToolCallError", "TOOLS", "get_tool", "select_tools", "DEFAULT_TOOLS"]


class ToolCallError(Exception):
    """A tool call that did not produce a result; ``str(error)`` is the message for the agent (the adapters give
    it to the model as the tool's output, never raise it into the agent loop). ``error`` is the cause, if any."""

    def __init__(self, message: str, error: Exception | None = None) -> None:
        super().__init__(message)
        self.error = error


def _omitted(value: Any) -> bool:
    """An argument the call leaves out: absent, ``None`` or an empty list (the tool's option then applies)."""
    return value is None or (isinstance(value, (list, tuple)) and not value)


def _shown(value: Any) -> str:
    """An option's value as a description states it: a list as its items separated by commas."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _option_type(request: type, field: dataclasses.Field[Any]) -> Any:
    """The type an option of ``field`` is checked against: the field's own annotation (or ``None``), or ``Any`` when
    it cannot be checked at run time (a name imported only for type checkers, e.g. a PIL image). The backend's
    validation still checks the value on every call."""
    annotation: Any = field.type
    try:
        if isinstance(annotation, str):
            annotation = eval(annotation, vars(sys.modules[request.__module__]))  # the module's own annotation text
        TypeAdapter(annotation | None)
    except Exception:  # unresolvable here (pydantic raises several types): the task checks the value
        return Any
    return annotation | None


class ToolSpec:
    """One task as a tool. Built from the registry (:data:`TOOLS`); the framework adapters only wrap it."""

    def __init__(self, task: Task[Any, Any]) -> None:
        if task.tool is None:
            raise ValueError(f"task {task.name!r} declares no tool")
        info = task.tool
        self.task = task
        self.name = info.name
        self.description = info.description
        self.args: type[BaseModel] = info.args
        self.example: dict[str, Any] = dict(info.example)
        self.filters: dict[str, str] = dict(info.filters)
        fields = {f.name: f for f in dataclasses.fields(task.request)}
        #: Arguments that reach the task (the rest are filters).
        self.task_args = tuple(name for name in self.args.model_fields if name not in self.filters)
        stray = [name for name in self.task_args if name not in fields]
        if stray or any(name not in self.args.model_fields for name in self.filters):
            raise ValueError(f"tool {self.name!r}: arguments {stray or sorted(self.filters)} are neither fields of "
                             f"{task.request.__name__} nor filters")  # fmt: skip
        required = {name for name, info in self.args.model_fields.items() if info.is_required()}
        # Options: what a tool can be built with. Every request field but the required arguments (they come from
        # the model on each call) and `model` (the adapters' backend fields own it), plus the filters.
        option_fields: dict[str, Any] = {
            name: (_option_type(task.request, fields[name]), None)
            for name in fields
            if name not in required and name != "model"
        }
        option_fields.update({name: (self.args.model_fields[name].annotation, None) for name in self.filters})
        self._options_model = create_model(  # type: ignore[call-overload]
            f"{self.args.__name__}Options",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
            **option_fields,
        )
        self.options = tuple(option_fields)
        self._fields = fields

    def __repr__(self) -> str:
        return f"ToolSpec({self.name!r})"

    # -------------------------------------------------------------------------------------------- construction
    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options a tool is built with, checked once: unknown names and values of the wrong type raise
        :class:`~hfbridge.errors.ConfigurationError` (the same in every framework)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ConfigurationError(
                f"tool {self.name!r} takes no option {', '.join(map(repr, unknown))}; "
                f"its options: {', '.join(self.options) or 'none'}"
            )
        try:
            checked = self._options_model.model_validate(dict(options))
        except ValidationError as error:
            raise ConfigurationError(f"tool {self.name!r}: {validation_message(error, 'option')}") from None
        return {name: getattr(checked, name) for name in options if getattr(checked, name) is not None}

    def presented(self, options: Mapping[str, Any]) -> tuple[str, type[BaseModel]]:
        """The description and argument schema an agent sees for this tool built with ``options``.

        An argument the options fill in when the call omits it (zero-shot ``labels``, classification ``top_k``) is
        named with its value in both: the description ends with ``Default labels: billing, account.`` and the
        schema gives the value as the argument's ``default``. Without that a model knows only that *some* default
        exists, and invents its own (a small model wrote label lists until ``max_tokens`` cut its call).
        """
        preset = {name: options[name] for name in self.task_args if not _omitted(options.get(name))}
        if not preset:
            return self.description, self.args
        fields: dict[str, Any] = {}
        for name, value in preset.items():
            info = self.args.model_fields[name]
            fields[name] = (info.annotation, Field(default=value, description=info.description))
        args = create_model(self.args.__name__, __base__=self.args, __module__=self.args.__module__, **fields)
        defaults = " ".join(f"Default {name}: {_shown(value)}." for name, value in preset.items())
        return f"{self.description} {defaults}", args

    # ------------------------------------------------------------------------------------------------- a call
    def arguments(self, raw: Any, *positional: Any) -> dict[str, Any]:
        """The call's arguments, checked against :attr:`args`: the ones given (a lone string is the first
        argument). Raises :class:`ToolCallError` with a message the model can act on."""
        if isinstance(raw, str):
            positional, raw = (raw, *positional), {}
        given = dict(raw or {})
        names = list(self.args.model_fields)
        if len(positional) > len(names):
            raise ToolCallError(f"Invalid tool input: {self.name} takes at most {len(names)} arguments.")
        for name, value in zip(names, positional, strict=False):
            given[name] = value
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ToolCallError(
                f"Invalid tool input: unknown argument {', '.join(map(repr, unknown))}; {self.name} takes "
                f"{', '.join(names)}. Fix the arguments and call the tool again."
            )
        try:
            checked = self.args.model_validate(given)
        except ValidationError as error:
            raise ToolCallError(validation_message(error)) from None
        return {name: getattr(checked, name) for name in checked.model_fields_set}

    def request(self, arguments: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
        """The task method's keyword arguments: a given argument, else the tool's option, else the default."""
        values = {name: value for name, value in options.items() if name in self._fields}
        values.update({k: v for k, v in arguments.items() if k in self.task_args and not _omitted(v)})
        missing = [
            name
            for name, spec in self._fields.items()
            if name not in values
            and spec.default is dataclasses.MISSING
            and spec.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ToolCallError(
                f"Invalid tool input: {' and '.join(map(repr, missing))} missing: pass "
                f"{'it' if len(missing) == 1 else 'them'} in the call. Fix the arguments and call the tool again."
            )
        return values

    def _select(self, result: Any, arguments: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
        for argument, item_field in self.filters.items():
            wanted = arguments.get(argument)
            if _omitted(wanted):
                wanted = options.get(argument)
            if _omitted(wanted):
                continue
            keep = {str(value).upper() for value in wanted or ()}
            result = type(result)(item for item in result if str(getattr(item, item_field, "")).upper() in keep)
        return result

    def run(
        self,
        backend: Any,
        raw: Any,
        *,
        options: Mapping[str, Any] | None = None,
        model: str | None = None,
        media: MediaFiles | None = None,
        positional: Sequence[Any] = (),
    ) -> str:
        """Run one call on ``backend`` and render the result for the agent; every failure the agent can do something
        about (bad arguments, a typed hfbridge error) is a :class:`ToolCallError` carrying its message."""
        options = options or {}
        arguments = self.arguments(raw, *positional)
        kwargs = self._kwargs(arguments, options, model)
        try:
            result = getattr(backend, self.task.name)(**kwargs)
        except HFBridgeError as error:
            raise ToolCallError(render_error(error), error) from error
        return render_result(self._select(result, arguments, options), media or MediaFiles())

    async def arun(
        self,
        backend: Any,
        raw: Any,
        *,
        options: Mapping[str, Any] | None = None,
        model: str | None = None,
        media: MediaFiles | None = None,
        positional: Sequence[Any] = (),
    ) -> str:
        """:meth:`run` on the backend's async method."""
        options = options or {}
        arguments = self.arguments(raw, *positional)
        kwargs = self._kwargs(arguments, options, model)
        try:
            result = await getattr(backend, "a" + self.task.name)(**kwargs)
        except HFBridgeError as error:
            raise ToolCallError(render_error(error), error) from error
        return render_result(self._select(result, arguments, options), media or MediaFiles())

    def _kwargs(self, arguments: Mapping[str, Any], options: Mapping[str, Any], model: str | None) -> dict[str, Any]:
        kwargs = self.request(arguments, options)
        if model is not None and "model" in self._fields:
            kwargs["model"] = model
        return kwargs


#: Every task that declares a tool, in registry order.
TOOLS: tuple[ToolSpec, ...] = tuple(ToolSpec(task) for task in TASKS if task.tool is not None)

#: The short names ``hf_tools(include=...)`` / ``HFToolSpec(include=...)`` have always accepted.
_SHORT = {"sentiment": "text_classification", "zero_shot": "zero_shot_classification",
          "ner": "named_entity_recognition", "image": "text_to_image"}  # fmt: skip
#: The tools an agent gets by default: the text tools every backend runs offline.
DEFAULT_TOOLS = ("sentiment", "zero_shot", "ner")

_BY_NAME = {
    key: spec
    for spec in TOOLS
    for key in (spec.name, spec.task.name, spec.task.pipeline_tag, *spec.task.serving.aliases)
}
_BY_NAME.update({short: _BY_NAME[name] for short, name in _SHORT.items() if name in _BY_NAME})


def get_tool(name: str) -> ToolSpec:
    """A tool by its name, its task's name / pipeline tag / alias, or a short name (``"ner"``, ``"sentiment"``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigurationError(f"unknown tool {name!r}; choose from {sorted(_BY_NAME)}") from None


def select_tools(include: str | Sequence[str]) -> list[ToolSpec]:
    """The tools ``include`` names (``"all"``: every tool), each once, in the order given."""
    if include == "all":
        return list(TOOLS)
    if isinstance(include, str):
        include = (include,)
    unknown = sorted(name for name in include if name not in _BY_NAME)
    if unknown:
        raise ConfigurationError(f"unknown tools {unknown}; choose from {sorted(_BY_NAME)} or 'all'")
    chosen: list[ToolSpec] = []
    for name in include:
        if _BY_NAME[name] not in chosen:
            chosen.append(_BY_NAME[name])
    return chosen
