"""The ``hfbridge`` command line: ``serve`` and ``demo``. Errors go to stderr with a non-zero exit code."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from .backends import Backend, backend_from_spec
from .errors import HFBridgeError

EXIT_USAGE = 2
EXIT_BACKEND = 3

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
