"""The hfbridge command line: outputs, files, progress and the exit codes scripts rely on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hfbridge.cli import EXIT_BACKEND, EXIT_INPUT, EXIT_USAGE, main
from hfbridge.server import Fault, FaultPlan, ServerThread, create_app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_classifiers_print_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["zero-shot", "My card was charged twice", "--labels", "billing, shipping"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["label"] == "billing"
    sentiment = runner.invoke(main, ["classify", "I love it"])
    assert json.loads(sentiment.stdout)[0]["label"] == "POSITIVE"
    entities = runner.invoke(main, ["ner", "--types", "PER"], input="Ada Lovelace lived in London.\n")
    assert [e["word"] for e in json.loads(entities.stdout)] == ["Ada Lovelace"]


def test_chat_streams(runner: CliRunner) -> None:
    result = runner.invoke(main, ["chat", "Say hello", "--max-tokens", "6"])
    assert result.exit_code == 0 and result.stdout.strip()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".txt"])
def test_embed_files_in_order(runner: CliRunner, tmp_path: Path, suffix: str) -> None:
    texts = ["How do I reset my password?", "What are your opening hours?", "My invoice is wrong."]
    source = tmp_path / f"in{suffix}"
    if suffix == ".jsonl":
        source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    elif suffix == ".csv":
        source.write_text("id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(texts)))
    else:
        source.write_text("\n".join(texts) + "\n")
    target = tmp_path / "out.npy"
    result = runner.invoke(main, ["embed", str(source), "-o", str(target), "--no-progress"])
    assert result.exit_code == 0, result.output
    matrix = np.load(target)
    assert matrix.shape == (3, 384)
    jsonl = runner.invoke(main, ["embed", str(source), "--no-progress", "--batch-size", "2"])
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [row["text"] for row in rows] == texts
    assert np.allclose(np.array([row["embedding"] for row in rows]), matrix, atol=1e-5)


def test_embed_shows_progress_on_stderr(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("one\ntwo\n")
    result = runner.invoke(main, ["embed", str(source), "-o", str(tmp_path / "o.npy")])
    assert "embedding" in result.stderr and "2/2" in result.stderr


def test_exit_codes(runner: CliRunner, tmp_path: Path, local_backend: object) -> None:
    bad_input = runner.invoke(main, ["zero-shot", "text", "--labels", "a,a"])
    assert bad_input.exit_code == EXIT_INPUT and "InvalidInputError" in bad_input.stderr
    missing = runner.invoke(main, ["embed", str(tmp_path / "missing.jsonl")])
    assert missing.exit_code == EXIT_USAGE
    bad_field = tmp_path / "bad.jsonl"
    bad_field.write_text('{"body": "x"}\n')
    assert runner.invoke(main, ["embed", str(bad_field)]).exit_code == EXIT_USAGE
    plan = FaultPlan(script=[Fault.http_status(401, "bad token")])
    with ServerThread(create_app(local_backend, fault_plan=plan)) as server:  # type: ignore[arg-type]
        denied = runner.invoke(main, ["classify", "hi", "--backend", server.url])
    assert denied.exit_code == EXIT_BACKEND and "AuthenticationError" in denied.stderr
