"""The hfbridge command line: outputs, files, progress, and every user error as one line with its exit code."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from hfbridge.cli import EXIT_BACKEND, EXIT_INPUT, EXIT_USAGE, main
from hfbridge.server import Fault, FaultPlan, ServerThread, create_app, wait_until_healthy


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


def test_chat_prints_the_answer_on_stdout(runner: CliRunner) -> None:
    result = runner.invoke(main, ["chat", "Say hello", "--max-tokens", "6"])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.strip() and result.stdout.endswith("\n")


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


# ------------------------------------------------------------------------------------------------- user errors
def _one_line_error(result: Any, code: int, *needles: str) -> str:
    """The error contract: the documented exit code, exactly one line on stderr, no traceback, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    for needle in needles:
        assert needle in lines[0], lines[0]
    return str(lines[0])


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:", 1)[1]
    assert set(main.commands) <= {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert "serve, demo" not in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--output", "{tmp}/missing/dir/out.npy"], "does not exist"),
        (["--output", "{tmp}/out.csv"], "must end in .npy or .jsonl"),
        (["--output", "{tmp}/out"], "must end in .npy or .jsonl"),
        (["--backend", "not a model id"], "neither 'local', an http(s) URL nor a Hub model id"),
        (["--backend", "ftp://example.com/model"], "neither 'local'"),
        (["--backend", "http://"], "base_url must be an http(s) URL with a host"),
        (["--backend", "local", "--provider", "together"], "--provider applies to a Hub model id"),
    ],
)
def test_embed_usage_errors_are_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, args: list[str], needle: str
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("one\ntwo\n")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    _one_line_error(runner.invoke(main, ["embed", str(source), "--no-progress", *args]), EXIT_USAGE, needle)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8", "line 1 is not UTF-8"),
        ("latin1.txt", "caf\u00e9\nna\u00efve\n".encode("latin-1"), "line 1 is not UTF-8"),
        ("nul.txt", b"text\x00with a NUL\n", "NUL bytes"),
        ("rows.jsonl", b'{"text": "a"}\n"plain string"\n[1, 2]\n', "line 3 is a JSON array"),
        ("rows.jsonl", b'{"text": "a"}\n\n5\n', "line 3 is a JSON number"),
        ("rows.jsonl", b'{"text": "a"}\nnull\n', "line 2 is a JSON null"),
        ("rows.jsonl", b'{"text": "a"}\n{"text": 7}\n', "line 2: the 'text' field is a JSON number"),
        ("rows.jsonl", b'{"text": "a"}\n{"text": "b"\n', "line 2 is not JSON"),
        ("rows.jsonl", b'{"body": "a"}\n', "line 1 has no 'text' field"),
        ("rows.csv", b"id,body\n1,a\n", "no 'text' column"),
        ("rows.csv", b"text,id\na,1\n", None),
    ],
)
def test_unreadable_input_names_its_line(
    runner: CliRunner, tmp_path: Path, name: str, content: bytes, needle: str | None
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    result = runner.invoke(main, ["embed", str(source), "--no-progress"])
    if needle is None:
        assert result.exit_code == 0, result.stderr
        return
    _one_line_error(result, EXIT_USAGE, needle)


def test_a_jsonl_line_may_be_a_plain_string(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text('{"text": "first"}\n"second"\n')
    result = runner.invoke(main, ["embed", str(source), "--no-progress"])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == ["first", "second"]


@pytest.mark.parametrize(
    ("args", "stdin", "code", "needle"),
    [
        (["chat", ""], None, EXIT_INPUT, "InvalidInputError: prompt is empty"),
        (["chat", "   "], None, EXIT_INPUT, "InvalidInputError"),
        (["classify", ""], None, EXIT_INPUT, "InvalidInputError: text is empty"),
        (["classify"], b"\xff\xfe\x00bad", EXIT_USAGE, "stdin is not UTF-8"),
        (["chat", "-"], b"caf\xe9", EXIT_USAGE, "stdin is not UTF-8"),
        (["ner", "a\x00b"], None, EXIT_USAGE, "NUL bytes"),
        (["chat", "hi", "--max-tokens", "0"], None, EXIT_USAGE, "--max-tokens"),
        (["classify", "hi", "--top-k", "0"], None, EXIT_USAGE, "--top-k"),
        (["classify", "hi", "--backend", "a/b/c"], None, EXIT_USAGE, "neither 'local'"),
        (["zero-shot", "hi", "--labels", ","], None, EXIT_INPUT, "labels is empty"),
        (["embed", "/no/such/file.txt"], None, EXIT_USAGE, "does not exist"),
        (["no-such-command"], None, EXIT_USAGE, "No such command"),
        (["serve", "--faults", "[1]"], None, EXIT_USAGE, "--faults"),
        (["serve", "--faults", "{not json"], None, EXIT_USAGE, "not JSON"),
        (["serve", "--faults", '{"script": [5]}'], None, EXIT_USAGE, "--faults"),
        (["serve", "--task", "bogus"], None, EXIT_USAGE, "unknown task 'bogus'"),
        (["serve", "--port", "70000"], None, EXIT_USAGE, "--port"),
    ],
)
def test_user_errors_are_one_line_with_the_documented_exit_code(
    runner: CliRunner, args: list[str], stdin: bytes | None, code: int, needle: str
) -> None:
    _one_line_error(runner.invoke(main, args, input=stdin), code, needle)


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "hfbridge.cli", "serve", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.live_server
def test_serve_on_a_port_in_use_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = _serve("--port", str(taken.getsockname()[1]))
        _, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_USAGE, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot listen on 127.0.0.1" in lines[0] and "Traceback" not in err


@pytest.mark.live_server
def test_serve_on_port_0_prints_the_port_it_got() -> None:
    process = _serve("--port", "0")
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"on (http://127\.0\.0\.1:(\d+))$", line.strip())
        assert match and int(match.group(2)) != 0, line
        wait_until_healthy(match.group(1), timeout=60, process=process)  # the printed port is the one serving
    finally:
        process.terminate()
        process.wait(timeout=30)
