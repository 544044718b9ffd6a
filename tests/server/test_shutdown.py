"""SIGTERM stops ``hfbridge serve`` even with a generation in flight, with exit code 0 (the wait below only bounds a
broken run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx2
import pytest

from hfbridge.server import free_port, wait_until_healthy

pytestmark = pytest.mark.live_server


def test_sigterm_with_a_stream_in_flight_exits_cleanly() -> None:
    port = free_port()
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
    process = subprocess.Popen([sys.executable, "-m", "hfbridge.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, timeout=120, process=process)
        story = [{"role": "user", "content": "Write a very long story."}]
        body = {"messages": story, "max_tokens": 2000, "stream": True}
        with httpx2.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120) as response:
            assert response.status_code == 200
            first = next(response.iter_lines())
            assert first.startswith("data:")
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # uvicorn shuts down gracefully, then re-raises the signal; hfbridge serve takes that as the end of a clean stop.
    assert returncode == 0, process.stderr.read().decode()[-2000:] if process.stderr else ""
