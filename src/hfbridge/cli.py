"""The ``hfbridge`` command line.

Commands: ``chat``, ``embed``, ``classify``, ``zero-shot``, ``ner``, ``serve``, ``demo``. Each takes ``--backend``
(``local``, a URL, or a Hub model id) and ``--provider``. Results go to stdout (JSON for the classifiers), messages
to stderr. Exit codes a script can rely on:

====  =========================================================================
0     success
1     an unexpected error (a bug: please report it)
2     usage error (bad option, missing argument, unreadable file)
3     the backend failed (HTTP error, timeout, model unavailable) after retries
4     the input was rejected (empty text, bad labels, ...); nothing was sent
====  =========================================================================
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from .backends import Backend, backend_from_spec
from .errors import HFBridgeError, InvalidInputError
from .ingest.cli import QdrantTarget, qdrant_options

EXIT_USAGE = 2
EXIT_BACKEND = 3
EXIT_INPUT = 4

SUPPORT_QUESTIONS = [
    "How do I reset my password?",
    "I forgot my password and cannot log in.",
    "What are your opening hours on weekends?",
]


def _backend(spec: str, provider: str | None) -> Backend:
    kwargs: dict[str, Any] = {"provider": provider} if provider else {}
    return backend_from_spec(spec, **kwargs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hfbridge")
def main() -> None:
    """Hugging Face inference for LangChain and LlamaIndex: serve, demo."""


def _backend_options(command: Any) -> Any:
    command = click.option("--provider", default=None, help="Inference Provider, for a Hub model id.")(command)
    return click.option(
        "--backend", "backend_spec", default="local", show_default=True, help="'local', a URL, or a Hub model id."
    )(command)


def _fail(error: HFBridgeError) -> None:
    click.echo(f"hfbridge: {type(error).__name__}: {error}", err=True)
    sys.exit(EXIT_INPUT if isinstance(error, InvalidInputError) else EXIT_BACKEND)


def _text_argument(text: str | None) -> str:
    if text is None or text == "-":
        text = sys.stdin.read()
    return text.strip("\n")


@main.command()
@click.argument("prompt", required=False)
@click.option("--system", default=None, help="A system message.")
@click.option("--max-tokens", type=int, default=256, show_default=True)
@click.option("--temperature", type=float, default=None)
@_backend_options
def chat(prompt: str | None, system: str | None, max_tokens: int, temperature: float | None, backend_spec: str,
         provider: str | None) -> None:  # fmt: skip
    """Ask PROMPT (or stdin) and stream the answer to the terminal."""
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": _text_argument(prompt)}
    ]
    try:
        for chunk in _backend(backend_spec, provider).stream_chat_completion(
            messages, max_tokens=max_tokens, temperature=temperature
        ):
            click.echo(chunk.content, nl=False)
            sys.stdout.flush()
    except HFBridgeError as error:
        click.echo()
        _fail(error)
    click.echo()


@main.command()
@click.argument("input_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Where to write: .npy (a float32 matrix), .jsonl (default: JSONL on stdout), or "
                   "qdrant://COLLECTION with --qdrant-path or --qdrant-url.")  # fmt: skip
@click.option("--field", default="text", show_default=True, help="JSONL key or CSV column holding the text.")
@click.option("--batch-size", type=int, default=None, help="Texts per request.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="A progress bar on stderr.")
@qdrant_options
@_backend_options
def embed(input_file: str, output: str | None, field: str, batch_size: int | None, progress: bool, backend_spec: str,
          provider: str | None, qdrant_path: str | None, qdrant_url: str | None) -> None:  # fmt: skip
    """Embed every text of INPUT_FILE (.jsonl, .csv, or plain lines; - for stdin), in order.

    With -o qdrant://COLLECTION the vectors go straight into a Qdrant collection (embedded on disk with
    --qdrant-path DIR, or a server with --qdrant-url URL; QDRANT_API_KEY for Qdrant Cloud), a chunk at a time:
    texts already in the collection are skipped, so an interrupted run resumes.
    """
    qdrant = QdrantTarget.from_options(output, qdrant_path, qdrant_url)
    texts = _read_texts(input_file, field)
    if qdrant is not None:
        try:
            click.echo(qdrant.embed(_backend(backend_spec, provider), texts, batch_size, progress), err=True)
        except HFBridgeError as error:
            _fail(error)
        return
    try:
        vectors = _backend(backend_spec, provider).feature_extraction(
            texts, batch_size=batch_size, show_progress=progress
        )
    except HFBridgeError as error:
        _fail(error)
    if output is not None and output.endswith(".npy"):
        import numpy as np

        np.save(output, np.asarray(vectors, dtype=np.float32))
    else:
        lines = "".join(
            json.dumps({field: text, "embedding": vector}) + "\n" for text, vector in zip(texts, vectors, strict=True)
        )
        if output is None:
            click.echo(lines, nl=False)
        else:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(lines)
    click.echo(f"hfbridge: embedded {len(texts)} texts", err=True)


def _read_texts(path: str, field: str) -> list[str]:
    import csv

    with click.open_file(path, encoding="utf-8") as handle:
        content = handle.read()
    try:
        if path.endswith(".jsonl"):
            return [json.loads(line)[field] for line in content.splitlines() if line.strip()]
        if path.endswith(".csv"):
            return [row[field] for row in csv.DictReader(content.splitlines())]
    except (KeyError, json.JSONDecodeError) as error:
        raise click.UsageError(f"{path}: cannot read the {field!r} field of every record ({error})") from error
    return [line for line in content.splitlines() if line.strip()]


@main.command()
@click.argument("text", required=False)
@click.option("--top-k", type=int, default=None)
@_backend_options
def classify(text: str | None, top_k: int | None, backend_spec: str, provider: str | None) -> None:
    """Text classification (sentiment by default) of TEXT or stdin, as JSON."""
    try:
        labels = _backend(backend_spec, provider).text_classification(_text_argument(text), top_k=top_k)
    except HFBridgeError as error:
        _fail(error)
    click.echo(json.dumps([label.model_dump() for label in labels]))


@main.command(name="zero-shot")
@click.argument("text", required=False)
@click.option("--labels", required=True, help="Comma-separated candidate labels.")
@click.option("--multi-label", is_flag=True, help="Score each label independently.")
@_backend_options
def zero_shot(text: str | None, labels: str, multi_label: bool, backend_spec: str, provider: str | None) -> None:
    """Rank --labels for TEXT or stdin, best first, as JSON."""
    candidates = [label.strip() for label in labels.split(",") if label.strip()]
    try:
        result = _backend(backend_spec, provider).zero_shot_classification(
            _text_argument(text), candidates, multi_label=multi_label
        )
    except HFBridgeError as error:
        _fail(error)
    click.echo(json.dumps([label.model_dump() for label in result]))


@main.command()
@click.argument("text", required=False)
@click.option("--types", default=None, help="Comma-separated entity groups to keep (PER,ORG,LOC,MISC).")
@_backend_options
def ner(text: str | None, types: str | None, backend_spec: str, provider: str | None) -> None:
    """Named entities of TEXT or stdin with offsets, as JSON."""
    try:
        entities = _backend(backend_spec, provider).token_classification(_text_argument(text))
    except HFBridgeError as error:
        _fail(error)
    wanted = {t.strip().upper() for t in types.split(",")} if types else None
    click.echo(json.dumps([e.model_dump() for e in entities if wanted is None or e.entity_group in wanted]))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--backend", "backend_spec", default="local", show_default=True,
              help="'local', a URL, or a Hub model id.")  # fmt: skip
@click.option("--provider", default=None, help="Inference Provider, for a Hub model id.")
@click.option("--task", "default_task", default="embed", show_default=True,
              help="Task served on POST / when the body does not say (embed, classify, generate, ...).")  # fmt: skip
@click.option("--faults", default=None, help='A fault plan as JSON, e.g. \'{"rates": {"rate_limited": 0.2}}\'.')
def serve(host: str, port: int, backend_spec: str, provider: str | None, default_task: str, faults: str | None) -> None:
    """Serve a backend over the Hugging Face protocol (TGI, TEI, OpenAI chat, hf-inference routes)."""
    import uvicorn

    from .server import FaultPlan, create_app

    try:
        plan = FaultPlan.from_dict(json.loads(faults)) if faults else None
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
    app = create_app(_backend(backend_spec, provider), fault_plan=plan, default_task=default_task)
    click.echo(f"hfbridge: serving {backend_spec} on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.option("--backend", "backend_spec", default="local", show_default=True)
@click.option("--provider", default=None)
def demo(backend_spec: str, provider: str | None) -> None:
    """Every task once, offline on the local backend: chat (streamed), similarity, sentiment, zero-shot, NER."""
    backend = _backend(backend_spec, provider)
    try:
        _demo(backend)
    except HFBridgeError as exc:
        click.echo(f"hfbridge demo: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_BACKEND)


def _section(title: str) -> None:
    click.secho(f"\n== {title}", bold=True)


def _demo(backend: Backend) -> None:
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

    click.echo(f"\ndone in {time.perf_counter() - started:.1f} s, offline")


if __name__ == "__main__":  # pragma: no cover
    main()
