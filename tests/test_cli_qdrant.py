"""``hfbridge embed -o qdrant://COLLECTION``: straight into an embedded Qdrant folder, resumable after a kill,
readable by LangChain's QdrantVectorStore as it is; ``-o FILE.jsonl|.npy`` resumable after a kill as well."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from hfbridge import LocalBackend
from hfbridge.cli import main
from hfbridge.ingest import QdrantWriter, stable_id
from hfbridge.server import ServerThread, create_app

# qdrant-client checks a server's version in the background and warns, possibly during the next test, when none answers.
pytestmark = pytest.mark.filterwarnings("ignore:Failed to obtain server version")

TEXTS = [f"support ticket {i}: the parcel for order {i} arrived {'late' if i % 3 else 'damaged'}" for i in range(80)]


@pytest.fixture(scope="module")
def server(local_backend: LocalBackend) -> Iterator[ServerThread]:
    with ServerThread(create_app(local_backend)) as running:
        yield running


def faults(server: ServerThread, plan: dict[str, object] | None = None) -> int:
    """Set the server's fault plan (when given) and return how many task requests the current one has seen."""
    if plan is not None:
        httpx2.put(f"{server.url}/_hfbridge/faults", json=plan, timeout=10).raise_for_status()
    return int(httpx2.get(f"{server.url}/_hfbridge/faults", timeout=10).json()["stats"].get("requests", 0))


def command(server: ServerThread, source: Path, store: Path) -> list[str]:
    # --batch-size 4 with the hub backend's 4 requests in flight: chunks of 32 texts, 8 requests each.
    return [sys.executable, "-m", "hfbridge.cli", "embed", str(source), "-o", "qdrant://tickets",
            "--qdrant-path", str(store), "--backend", server.url, "--batch-size", "4"]  # fmt: skip


def kill_at_the_ninth_request(server: ServerThread, argv: list[str], env: dict[str, str]) -> None:
    """Run ``argv`` with the server answering 8 requests (one chunk) and stalling the ninth; kill it there."""
    faults(server, {"script": [None] * 8 + [{"kind": "stall", "stall_seconds": 60}]})
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    guard = time.monotonic() + 300  # a hang guard, not a measurement
    try:
        while faults(server) < 9 and process.poll() is None and time.monotonic() < guard:
            time.sleep(0.05)
        assert process.poll() is None, "the job ended before it reached the stalled request"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    faults(server, {})


def quiet_env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_TOKEN", None)
    return env


def test_embed_into_qdrant_resumes_after_a_kill(server: ServerThread, tmp_path: Path) -> None:
    source = tmp_path / "tickets.jsonl"
    source.write_text("".join(json.dumps({"text": text}) + "\n" for text in TEXTS + TEXTS[:5]))  # 5 repeated
    store = tmp_path / "qdrant"
    env = quiet_env()
    # The first chunk (8 requests) is answered; the ninth request stalls, and the process is killed while it waits.
    kill_at_the_ninth_request(server, command(server, source, store), env)
    with QdrantWriter("tickets", path=store) as writer:
        assert writer.count() == 32

    done = subprocess.run(command(server, source, store), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "hfbridge: embedded 48 texts into Qdrant collection 'tickets' (32 already there; it holds 80)"
    )
    assert faults(server) == 48 // 4
    assert "embedding" in done.stderr  # the progress bar, which starts at the 32 already there
    with QdrantWriter("tickets", path=store) as writer:
        assert writer.stored_ids() == {stable_id(text) for text in TEXTS}


@pytest.mark.parametrize("suffix", [".jsonl", ".npy"])
def test_embed_into_a_file_resumes_after_a_kill(server: ServerThread, tmp_path: Path, suffix: str) -> None:
    import numpy as np

    texts = TEXTS + TEXTS[:5]  # files keep every line, repeats included, in order
    source = tmp_path / "tickets.txt"
    source.write_text("\n".join(texts) + "\n")
    output = tmp_path / f"vectors{suffix}"
    partial = tmp_path / f"vectors{suffix}.partial.jsonl"
    argv = [sys.executable, "-m", "hfbridge.cli", "embed", str(source), "-o", str(output), "--backend", server.url,
            "--batch-size", "4"]  # fmt: skip
    env = quiet_env()
    kill_at_the_ninth_request(server, argv, env)
    assert not output.exists(), "the output appears only when it is complete"
    assert len(partial.read_text().splitlines()) == 32
    with open(partial, "a") as handle:
        handle.write('{"text": "support ticket 32: the par')  # a write torn by the kill

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == f"hfbridge: embedded 53 texts (32 already in {partial})"
    assert faults(server) == 1 + 53 // 4 + 1, "one text embedded again to check the model, then the 53 missing"
    assert not partial.exists()
    if suffix == ".npy":
        resumed = np.load(output)
    else:
        rows = [json.loads(line) for line in output.read_text().splitlines()]
        assert [row["text"] for row in rows] == texts
        resumed = np.array([row["embedding"] for row in rows])
    whole = tmp_path / "whole.npy"
    assert subprocess.run([*argv[:6], str(whole), *argv[7:]], env=env, timeout=300).returncode == 0
    assert resumed.shape == (85, 384) and np.allclose(resumed, np.load(whole), atol=1e-5)


def test_a_partial_file_of_other_texts_or_another_model_is_refused(server: ServerThread, tmp_path: Path) -> None:
    source = tmp_path / "lines.txt"
    source.write_text("one\ntwo\nthree\n")
    output = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial.jsonl"
    argv = ["embed", str(source), "-o", str(output), "--backend", server.url, "--no-progress"]
    partial.write_text(json.dumps({"text": "uno", "embedding": [1.0] * 384}) + "\n")
    other_texts = CliRunner().invoke(main, argv)
    assert other_texts.exit_code == 4 and "holds the embeddings of other texts (line 1" in other_texts.output
    partial.write_text(json.dumps({"text": "one", "embedding": [1.0] * 384}) + "\n")
    other_model = CliRunner().invoke(main, argv)
    assert other_model.exit_code == 4 and "written with another model" in other_model.output
    assert partial.read_text().count("\n") == 1 and not output.exists(), "a refusal leaves both as they were"
    partial.unlink()
    assert CliRunner().invoke(main, argv).exit_code == 0 and len(output.read_text().splitlines()) == 3


def test_collection_reads_as_a_langchain_store(tmp_path: Path, local_backend: LocalBackend) -> None:
    from langchain_qdrant import QdrantVectorStore

    from hfbridge.langchain import HFEmbeddings

    source = tmp_path / "lines.txt"
    source.write_text("How do I reset my password?\nRefunds take five days.\nWe ship to 40 countries.\n")
    result = CliRunner().invoke(main, ["embed", str(source), "-o", "qdrant://faq", "--qdrant-path",
                                       str(tmp_path / "q"), "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with QdrantWriter("faq", path=tmp_path / "q") as writer:
        store = QdrantVectorStore(writer.client, "faq", HFEmbeddings(backend=local_backend))
        hit = store.similarity_search("money back", k=1)[0]
    assert hit.page_content == "Refunds take five days." and hit.metadata["_id"] == stable_id(hit.page_content)


@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (["-o", "qdrant://faq"], 2, "needs one of --qdrant-path DIR"),
        (["-o", "qdrant://", "--qdrant-path", "q"], 2, "name one collection"),
        (["-o", "out.jsonl", "--qdrant-path", "q"], 2, "go with -o qdrant://COLLECTION"),
        (["-o", "qdrant://faq", "--qdrant-path", "q", "--qdrant-url", "http://127.0.0.1:1"], 2, "needs one of"),
        (["-o", "qdrant://faq", "--qdrant-url", "localhost:6333"], 2, "starting with http://"),
        (["-o", "qdrant://faq", "--qdrant-url", "http://127.0.0.1:1"], 3, "could not be reached"),
    ],
)
def test_qdrant_output_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], code: int, message: str
) -> None:
    source = tmp_path / "lines.txt"
    source.write_text("one\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["embed", str(source), "--no-progress", *options])
    assert result.exit_code == code and message in result.output, result.output
