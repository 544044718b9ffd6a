"""The benchmark server in a process of its own (in-process, server and client would share one GIL)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

#: What the embedding benchmarks' server runs on ``POST /``: a TEI container serves one embedding model, so a plain
#: ``{"inputs": ...}`` there is an embedding request (hfbridge serve without ``--task`` refuses it as ambiguous).
TEI_TASK = "feature-extraction"


@contextmanager
def served(**options: Any) -> Iterator[str]:
    """Start ``python -m bench._serve`` with ``options`` (create_app's limits, plus ``rate_limit_per_s`` and the
    ``retry_after_mode`` of its 429s, and ``deployment``: the keyword arguments of
    :class:`bench.deployments.Deployment`); yield its URL."""
    from hfbridge.server import free_port, wait_until_healthy

    port = free_port()
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
    process = subprocess.Popen([sys.executable, "-m", "bench._serve", str(port), json.dumps(options)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, timeout=30, process=process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def stats(url: str) -> dict[str, Any]:
    return dict(httpx2.get(f"{url}/_hfbridge/faults", timeout=5).json())


def main() -> None:
    import uvicorn

    from hfbridge.server import ServerRateLimit, create_app

    from .doubles import InstantBackend

    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("options")
    args = parser.parse_args()
    options = json.loads(args.options)
    tokens = options.pop("tokens", 16)
    retry_after_mode = options.pop("retry_after_mode", "none")
    if "rate_limit_per_s" in options:
        options["rate_limit"] = ServerRateLimit(options.pop("rate_limit_per_s"), retry_after_mode=retry_after_mode)
    deployment = options.pop("deployment", None)
    app = create_app(InstantBackend(tokens=tokens), **options)
    if deployment is not None:  # slots, a bounded queue, a rate limit: see bench/deployments.py
        from .deployments import Deployment

        app = Deployment(app, **deployment)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="error")


if __name__ == "__main__":
    main()
