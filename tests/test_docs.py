"""Every code block of README.md and docs/*.md runs here, as a user would paste it.

Blocks are found by Sybil (its Markdown lexer); each is one test, named after its document and the line of its
opening fence, so a failure says where to look: ``tests/test_docs.py::test_block[README.md:24-python]``. Run them
with ``.venv/bin/python -m pytest tests/test_docs.py`` (``-k README.md:24`` for one block).

Python blocks run in a fresh namespace from the repository root, unedited. Hub model ids, Inference Providers and
Endpoints in them reach the protocol server on loopback (backed by the local models) instead of the Hub, through
the ``hub_server`` fixture: ``tests/hub_loopback.py`` installs huggingface_hub client factories whose transport
sends every request to that server (the router's auto and per-provider routes, the Hub model API, the Inference
Endpoints API, any ``base_url``). For that the fixture sets a dummy ``HF_TOKEN``, registers a provider mapping on
the server for every ``model="org/name"`` the documents name, and a running endpoint for every
``from_endpoint("name", namespace="org")``; answers that set no ``max_tokens`` stop at 64 tokens (the model is
small and slow to stop). LlamaIndex's global ``Settings`` are restored after each block. Each block that names a
model or a URL must have sent something through the fixture.

Bash blocks run line by line; each command must exit 0. From the repository root: ``bash scripts/...`` lines.
From a scratch directory holding the input files the README names (``texts.jsonl``): ``hfbridge ...`` lines, with
the test's venv first on ``PATH``. Adjusted so they stay small and safe on a shared machine, and nothing else:

* ``bash scripts/bench.sh [NAME]`` gets ``--quick --results <scratch>``: every benchmark at a small size, results
  out of the tree; the JSON each writes is checked.
* ``hfbridge serve ...`` gets a free port for its ``--port``; it must answer ``/health`` (and show the fault plan
  it was given), then stop on SIGTERM with exit code 0.
* ``bash scripts/test.sh`` with no argument is the command running this suite (``.ci/run``): it is checked to be
  exactly what ``.ci/run`` runs, not run again.
* ``hfbridge models install`` and ``scripts/fetch_qwen.sh`` download models: they fail the test unless their block
  is marked as skipped (below).
* ``HFBRIDGE_RECORD=... bash scripts/test.sh ...`` (re-recording the cassettes) runs in a scratch copy of the
  repository (tracked files, the same venv) with ``HFBRIDGE_RECORD_PORT`` set to a free port, so it rewrites
  nothing here and does not take the fixed recording port another run may hold.

A block that cannot run here is marked in the document itself, on the line before it, with the reason, which the
test report shows: ``<!-- skip: next "needs a real HF_TOKEN and the Hub" -->``. Keep those few.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pytest
from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

from hfbridge import LocalBackend
from hfbridge.server import ServerThread, create_app, free_port, wait_until_healthy
from hfbridge.server.hub_emulation import HubEmulation

from .hub_loopback import hub_on_loopback

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Languages whose blocks are data or output, shown but not run ("": a fence with no language, e.g. a diagram).
NOT_RUN = {"", "text", "json", "yaml", "toml", "output"}
DUMMY_TOKEN = "hf_" + "readme" * 6  # token-shaped, so the router accepts it; it reaches only loopback
TEXTS = ["How do I reset my password?", "Where is my parcel?", "My invoice is wrong."]


# ----------------------------------------------------------------------------------------------- bash commands
@dataclass
class Shell:
    """What a bash block's commands run with; set up by the ``shell`` fixture."""

    scratch: Path
    env: dict[str, str]


_shell: Shell | None = None


def _run(command: str, where: str, cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    assert _shell is not None
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=_shell.env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, (
        f"{where}: `{command}` exited {done.returncode}\n--- stdout (end) ---\n{_tail(done.stdout)}\n"
        f"--- stderr (end) ---\n{_tail(done.stderr)}"
    )
    return done


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _words(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def _bench(command: str, where: str) -> None:
    from bench.__main__ import DEFAULT

    assert _shell is not None
    results = _shell.scratch / "bench-results"
    names = [w for w in _words(command)[2:] if not w.startswith("-")] or ["all"]
    _run(f"{command.split('#')[0].strip()} --quick --results {results}", where, ROOT)
    expected = [name for choice in names for name in (DEFAULT if choice == "all" else [choice])]
    for name in expected:
        prefix = "local_quality" if name == "quality" else name  # flow writes flow-throughput.json, ...
        assert list(results.glob(f"{prefix}*.json")), f"{where}: `{command}` wrote no {prefix}*.json"
        if name == "soak":
            report = json.loads((results / "soak.json").read_text())
            assert report["embeddings_lost"] == 0 and report["embeddings_mismatched"] == 0, report
            assert report["streams_failed_untyped"] == 0 and report["requests_seen_by_server"] > 0, report


def _serve(command: str, where: str) -> None:
    """Start the server the line describes on a free port, check it answers, stop it with SIGTERM."""
    assert _shell is not None
    words = _words(command)
    port = free_port()
    if "--port" in words:
        words[words.index("--port") + 1] = str(port)
    else:
        words += ["--port", str(port)]
    process = subprocess.Popen(words, cwd=_shell.scratch, env=_shell.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, timeout=300, process=process)
        if "--faults" in words:
            state = httpx2.get(f"{url}/_hfbridge/faults", timeout=30).json()
            assert state["active"], f"{where}: `{command}` started without its fault plan: {state}"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as a server should.
    assert process.returncode in (0, -signal.SIGTERM), f"{where}: `{command}` exited {process.returncode} on SIGTERM"
    assert "Traceback" not in stderr, f"{where}: `{command}` failed while serving or stopping\n{_tail(stderr)}"


def _cli(command: str, where: str) -> None:
    assert _shell is not None
    done = _run(command, where, _shell.scratch)
    words = _words(command)
    subcommand = words[1]
    if subcommand in ("classify", "zero-shot", "ner"):
        assert isinstance(json.loads(done.stdout), list), f"{where}: `{command}` printed no JSON list"
    elif subcommand == "embed":
        output = words[words.index("-o") + 1] if "-o" in words else None
        if output is None:
            assert len(done.stdout.splitlines()) == len(TEXTS), f"{where}: not one JSON line per text"
        elif output.endswith(".npy"):
            matrix = np.load(_shell.scratch / output)
            assert matrix.shape[0] == len(TEXTS), f"{where}: {matrix.shape[0]} vectors for {len(TEXTS)} texts"
        assert f"embedded {len(TEXTS)} texts" in done.stderr, f"{where}: {_tail(done.stderr)}"
    elif subcommand == "demo":
        _check_demo(done.stdout, where)
    else:
        assert done.stdout.strip(), f"{where}: `{command}` printed nothing"


def _check_demo(stdout: str, where: str) -> None:
    for section in ("== Chat", "== Sentence similarity", "== Sentiment", "== Zero-shot", "== NER", "done in"):
        assert section in stdout, f"{where}: the demo printed no {section!r} section\n{_tail(stdout)}"


def _test_script(command: str, where: str) -> None:
    """The suite itself: check it is what CI runs, rather than run it inside itself."""
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in ci if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["bash scripts/test.sh"], f"{where}: .ci/run runs {commands}, not `{command}`"


def _in_a_copy(command: str, where: str) -> None:
    """A command that rewrites tracked files (re-recording the cassettes) runs in a scratch copy of the repository:
    its tracked files, the same venv, and a free port instead of the recording port others may be using."""
    assert _shell is not None
    copy = _shell.scratch / "repository"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    (copy / ".venv").symlink_to(Path(sys.prefix))
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", copy / ".mypy_cache")
    env_before = dict(_shell.env)
    _shell.env["HFBRIDGE_RECORD_PORT"] = str(free_port())
    try:
        _run(command, where, copy)
    finally:
        _shell.env.clear()
        _shell.env.update(env_before)
    target = json.loads((copy / "cassettes" / "target.json").read_text())
    assert target["kind"] == "local", f"{where}: the re-recorded cassettes say they target {target}"


def _downloads(command: str, where: str) -> None:
    pytest.fail(f"{where}: `{command}` downloads a model (a gigabyte, minutes): give it a block of its own, marked "
                '<!-- skip: next "downloads ..." --> on the line before it')


def _command_runner(command: str) -> Callable[[str, str], None]:
    words = _words(command)
    if words[:3] == ["hfbridge", "models", "install"] or words[:2] == ["bash", "scripts/fetch_qwen.sh"]:
        return _downloads
    if any(word.startswith("HFBRIDGE_RECORD=") for word in words):
        return _in_a_copy
    if words[:2] == ["bash", "scripts/bench.sh"]:
        return _bench
    if words == ["bash", "scripts/test.sh"]:
        return _test_script
    if words[:2] == ["hfbridge", "serve"]:
        return _serve
    if words[0] == "hfbridge":
        return _cli
    if words == ["bash", "scripts/demo.sh"]:
        return _demo_script
    return _plain


def _demo_script(command: str, where: str) -> None:
    _check_demo(_run(command, where, ROOT).stdout, where)


def _plain(command: str, where: str) -> None:
    _run(command, where, ROOT)


def commands(example: Example) -> Iterator[tuple[int, str]]:
    """(line in the document, command) for each command of a bash block; comments and blank lines dropped."""
    for offset, line in enumerate(str(example.parsed).splitlines(), start=1):
        if _words(line):
            yield example.line + offset, line.strip()


def run_bash_block(example: Example) -> None:
    name = Path(example.path).name
    for line, command in commands(example):
        _command_runner(command)(command, f"{name}:{line}")


# ----------------------------------------------------------------------------------------------- collection
@dataclass
class Block:
    document: str
    example: Example
    language: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"{self.document}:{self.example.line}-{self.language}"


def _skip_reason(directive: Example, where: str) -> str:
    action, reason = directive.parsed
    if action != "next" or not reason:
        raise ValueError(f'{where}: write skips as <!-- skip: next "why it cannot run here" --> (got {action})')
    text = ast.literal_eval(reason.strip())
    assert isinstance(text, str) and text.strip(), f"{where}: a skip needs its reason"
    return text


def blocks() -> list[Block]:
    found: list[Block] = []
    for path in DOCUMENTS:
        document = Document.parse(
            str(path), PythonCodeBlockParser(), CodeBlockParser("bash", run_bash_block), SkipParser()
        )
        pending_skip: str | None = None
        for example in document.examples():
            where = f"{path.name}:{example.line}"
            if isinstance(example.parsed, tuple):  # a skip directive: it applies to the next block
                pending_skip = _skip_reason(example, where)
                continue
            language = "bash" if example.region.evaluator is run_bash_block else "python"
            found.append(Block(path.name, example, language, pending_skip))
            pending_skip = None
    return found


BLOCKS = blocks()


def fenced_languages(path: Path) -> list[tuple[int, str]]:
    """(line, language) of every fenced block, whatever its language (none: "")."""
    document = Document(path.read_text(), str(path))
    lexer = FencedCodeBlockLexer(language=r"[\w+-]*", mapping={"language": "language", "source": "source"})
    return [(document.text.count("\n", 0, region.start) + 1, region.lexemes["language"]) for region in lexer(document)]


# ----------------------------------------------------------------------------------------------- fixtures
def _named(pattern: str) -> set[tuple[str, ...]]:
    return {match.groups() for path in DOCUMENTS for match in re.finditer(pattern, path.read_text())}


@pytest.fixture(scope="module")
def hub_server(local_backend: LocalBackend) -> Iterator[Any]:
    """The protocol server standing in for the Hub, its providers and the Endpoints API (see the docstring)."""
    app = create_app(local_backend, allowed_hosts=("*",))  # requests keep the Hub's Host header on loopback
    HubEmulation.mount(app)
    with ServerThread(app) as server, pytest.MonkeyPatch.context() as patch:
        for (model,) in _named(r'model="([\w.-]+/[\w.-]+)"'):
            mapping = {"together": {"status": "live", "providerId": model, "task": "conversational",
                                    "features": {"toolCalling": True, "structuredOutput": True}}}  # fmt: skip
            httpx2.put(f"{server.url}/_hfbridge/models/{model}", json=mapping, timeout=10).raise_for_status()
        for name, namespace in _named(r'from_endpoint\("([\w.-]+)", namespace="([\w.-]+)"'):
            httpx2.put(f"{server.url}/_hfbridge/endpoints/{namespace}/{name}", json={}, timeout=10).raise_for_status()
        # Answers that set no max_tokens stop at 64 tokens (the small local model can run on to 512).
        patch.setattr(local_backend, "default_max_tokens", 64)
        patch.setenv("HF_TOKEN", DUMMY_TOKEN)
        patch.delenv("HFBRIDGE_BACKEND", raising=False)
        with hub_on_loopback(server.url) as seen:
            server.seen = seen
            yield server


@pytest.fixture
def python_env(hub_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from llama_index.core import Settings

    monkeypatch.chdir(ROOT)
    saved = dict(vars(Settings))
    try:
        yield hub_server
    finally:
        vars(Settings).clear()
        vars(Settings).update(saved)


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    global _shell
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps({"text": text}) + "\n" for text in TEXTS))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "HFBRIDGE_"))}
    env.pop("HF_TOKEN", None)
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    _shell = Shell(tmp_path, env)
    try:
        yield _shell
    finally:
        _shell = None


# ----------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.id)
def test_block(block: Block, request: pytest.FixtureRequest) -> None:
    if block.skip_reason is not None:
        pytest.skip(f"{block.document}:{block.example.line}: {block.skip_reason}")
    if block.language == "bash":
        request.getfixturevalue("shell")
        block.example.evaluate()
        return
    server = request.getfixturevalue("python_env")
    before = len(server.seen)
    block.example.namespace.clear()
    block.example.evaluate()
    if re.search(r"HubBackend|\bmodel=|base_url=", str(block.example.parsed)):
        assert len(server.seen) > before, f"{block.id} names a Hub model or URL but sent nothing through the fixture"


def test_every_block_is_run_or_says_why_not() -> None:
    """A block in another language would be skipped silently: each is python, bash, or data (text, none, ...)."""
    run_or_data = {"python", "bash", *NOT_RUN}
    unknown = [f"{path.name}:{line} ({language or 'no language'})" for path in DOCUMENTS
               for line, language in fenced_languages(path) if language not in run_or_data]  # fmt: skip
    assert unknown == [], f"fenced blocks that are neither run nor marked as data: {unknown}"
    run = {(block.document, block.example.line) for block in BLOCKS}
    fenced = {(path.name, line) for path in DOCUMENTS for line, language in fenced_languages(path)
              if language in ("python", "bash")}  # fmt: skip
    assert fenced == run
