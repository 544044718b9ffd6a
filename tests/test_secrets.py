"""The token never shows: not in repr/str, errors, logs at DEBUG, pickles, or cassettes."""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from hfbridge import AuthenticationError, ConfigurationError, HubBackend, RetryPolicy
from hfbridge.server import Fault, FaultPlan, ServerThread, create_app

TOKEN = "hf_SecretTokenValue1234567890abcdef"
CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def test_repr_str_and_pickle_hide_the_token() -> None:
    backend = HubBackend(base_url="https://xyz.endpoints.huggingface.cloud", token=TOKEN)
    assert TOKEN not in repr(backend) and TOKEN not in str(backend)
    assert TOKEN not in repr(backend.token) and backend.token is not None
    assert TOKEN.encode() not in pickle.dumps(backend)
    assert TOKEN not in repr(vars(backend))


def test_env_token_is_hidden_and_not_pickled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    backend = HubBackend(model="meta-llama/Llama-3.1-8B-Instruct", provider="auto")
    assert backend.token is not None and backend.token.get_secret_value() == TOKEN
    payload = pickle.dumps(backend)
    assert TOKEN.encode() not in payload
    assert pickle.loads(payload).token is not None  # the copy finds its token in the environment again


def test_token_file_is_hidden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    monkeypatch.setenv("HF_TOKEN_PATH", str(token_file))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(token_file))
    backend = HubBackend(model="gpt2")
    assert backend.token is not None and TOKEN not in repr(backend)
    assert TOKEN.encode() not in pickle.dumps(backend)


def test_implicit_token_is_not_sent_to_third_party_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    third_party = HubBackend(base_url="http://127.0.0.1:9")
    assert third_party.transport.client_kwargs()["headers"] == {"authorization": None}
    assert "token" not in third_party.transport.client_kwargs()
    endpoint = HubBackend(base_url="https://abc.us-east-1.aws.endpoints.huggingface.cloud")
    assert endpoint.transport.client_kwargs()["token"] == TOKEN  # dedicated endpoints get it (langchain #40447)
    explicit = HubBackend(base_url="http://127.0.0.1:9", token=TOKEN)
    assert explicit.transport.client_kwargs()["token"] == TOKEN


def test_token_absent_from_errors_and_debug_logs(local_backend: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(local_backend, fault_plan=FaultPlan(script=[Fault.rate_limited(0.01), Fault.http_status(401)]))
    with ServerThread(app) as server, caplog.at_level(logging.DEBUG):
        backend = HubBackend(base_url=server.url, token=TOKEN, retry=RetryPolicy(max_attempts=3, base_delay=0))
        with pytest.raises(AuthenticationError) as caught:
            backend.feature_extraction(["a"])
    error = caught.value
    for text in (str(error), repr(error), error.message, str(error.url), str(error.server_message)):
        assert TOKEN not in text
    assert TOKEN.encode() not in pickle.dumps(error)
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
    assert "RateLimitedError" in caplog.text  # the retry was logged, without the token


def test_configuration_errors_are_typed() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider"):
        HubBackend(model="gpt2", provider="not-a-provider")
    with pytest.raises(ConfigurationError, match="http"):
        HubBackend(base_url="ftp://example.com")
    with pytest.raises(ConfigurationError, match="timeout"):
        HubBackend(model="gpt2", timeout=0)


def test_no_cassette_holds_a_token() -> None:
    pattern = re.compile(r"hf_[A-Za-z0-9]{10,}|Bearer [A-Za-z0-9_.-]{4,}")
    cassettes = list(CASSETTES.rglob("*.yaml"))
    assert cassettes, "cassettes are committed"
    leaks = [str(path) for path in cassettes if pattern.search(path.read_text())]
    assert not leaks
    for path in cassettes:
        assert "authorization:" not in path.read_text().lower()


def test_adapters_never_show_the_token() -> None:
    from hfbridge.langchain import ChatHF, HFEmbeddings, NERTool
    from hfbridge.llama_index import HFLLM, HFEmbedding

    adapters: list[Any] = [
        ChatHF(base_url="http://127.0.0.1:9", api_key=TOKEN),
        HFEmbeddings(model="BAAI/bge-small-en-v1.5", api_key=TOKEN),
        NERTool(base_url="http://127.0.0.1:9", api_key=TOKEN),
        HFLLM(base_url="http://127.0.0.1:9", api_key=TOKEN),
        HFEmbedding(base_url="http://127.0.0.1:9", api_key=TOKEN),
    ]
    for adapter in adapters:
        assert TOKEN not in repr(adapter) and TOKEN not in str(adapter.model_dump())
        assert adapter.model_dump()["api_key"] == "**********"
        payload = pickle.dumps(adapter)
        assert TOKEN.encode() not in payload
        assert isinstance(pickle.loads(payload).client, HubBackend)
        if hasattr(adapter, "to_json"):  # LlamaIndex serialises components; it used to crash on SecretStr
            assert TOKEN not in adapter.to_json()
