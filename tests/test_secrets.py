"""The token never shows: not in repr/str, errors, logs at DEBUG, pickles, or cassettes."""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from hfbridge import AuthenticationError, ConfigurationError, HubBackend, RetryPolicy, UnsupportedTaskError
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


# -------------------------------------------------------------------------------- redaction where errors are made
URL_SECRET, QUERY_SECRET = "pa55w0rdXyz", "KeyValue12345"
CREDENTIALED = "http://alice:{password}@127.0.0.1:{port}/?api_key={key}&task=classify"


def _no_secret(*texts: object) -> None:
    for text in texts:
        rendered = text if isinstance(text, (str, bytes)) else repr(text)
        for secret in (TOKEN, URL_SECRET, QUERY_SECRET):
            needle = secret.encode() if isinstance(rendered, bytes) else secret
            assert needle not in rendered, f"{secret} leaked into {rendered!r}"


def test_every_field_an_error_keeps_is_redacted_when_it_is_stored() -> None:
    from hfbridge.errors import ServerError

    url = f"https://bob:{URL_SECRET}@tgi.example.com/generate?api_key={QUERY_SECRET}"
    error = ServerError(
        f"HTTP 500 at {url} (sent Authorization: Bearer {TOKEN})",
        request_id=f"Bearer {TOKEN}",
        server_message=f"echo: {TOKEN}",
        url=url,
        status_code=500,
    )
    _no_secret(str(error), repr(error), error.message, error.args, error.request_id, error.server_message, error.url)
    _no_secret(pickle.dumps(error), vars(pickle.loads(pickle.dumps(error))))
    assert error.url == "https://**********@tgi.example.com/generate?api_key=**********"
    error.request_id = f"later {TOKEN}"  # no code path can store a secret, not even after construction
    error.message = f"later {TOKEN}"
    _no_secret(error.request_id, error.message)


def test_a_server_echoing_authorization_into_the_request_id_leaks_nothing() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    from hfbridge.langchain import ChatHF
    from tests._http_double import RecordingServer

    class Errors(BaseCallbackHandler):
        seen: list[BaseException] = []

        def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
            self.seen.append(error)

    echo = {"x-request-id": "{authorization}", "x-amzn-trace-id": "{authorization}"}
    with RecordingServer(status=401, body={"error": "no"}, headers=echo) as server:
        with pytest.raises(AuthenticationError) as caught:
            HubBackend(base_url=server.url, token=TOKEN).text_classification("hi")
        assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}", "the echo really happened"
        handler = Errors()
        with pytest.raises(AuthenticationError):
            ChatHF(base_url=server.url, api_key=TOKEN, callbacks=[handler]).invoke("hi")
    error = caught.value
    assert error.request_id is not None and "**********" in error.request_id
    _no_secret(str(error), repr(error), error.request_id, pickle.dumps(error), *(repr(e) for e in handler.seen))
    assert handler.seen, "LangChain's callbacks received the error"


def test_credentials_in_a_base_url_are_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    from huggingface_hub.utils import logging as hub_logging

    from hfbridge.errors import ServerError
    from tests._http_double import RecordingServer

    with RecordingServer(status=500, body={"error": "boom"}) as server:
        url = CREDENTIALED.format(password=URL_SECRET, port=server.url.rsplit(":", 1)[1], key=QUERY_SECRET)
        backend = HubBackend(base_url=url, retry=RetryPolicy(max_attempts=1))
        hub_logging.set_verbosity_debug()
        try:
            with caplog.at_level(logging.DEBUG), pytest.raises(ServerError) as caught:
                backend.text_classification("hi")
        finally:
            hub_logging.set_verbosity_warning()
        assert f"api_key={QUERY_SECRET}" in server.requests[0].path, "the credentials are still used"
    loggers = {record.name for record in caplog.records}
    assert {"httpx2", "huggingface_hub.utils._http"} <= loggers, "both HTTP loggers printed the request URL"
    _no_secret(*(record.getMessage() for record in caplog.records))
    _no_secret(repr(backend), str(caught.value), repr(caught.value), caught.value.url, pickle.dumps(caught.value))
    payload = pickle.dumps(backend)
    _no_secret(payload)
    copy = pickle.loads(payload)
    assert copy.base_url == f"http://127.0.0.1:{server.url.rsplit(':', 1)[1]}/?task=classify"


def test_credential_headers_are_not_pickled() -> None:
    backend = HubBackend(base_url="http://127.0.0.1:9", headers={"Authorization": f"Bearer {TOKEN}", "X-Trace": "1"})
    copy = pickle.loads(pickle.dumps(backend))
    _no_secret(pickle.dumps(backend))
    assert copy.transport.headers == {"X-Trace": "1"}


async def test_translated_errors_do_not_chain_the_client_exception() -> None:
    """The client's exception holds the request (its Authorization header): no translated error may reach it
    through ``__cause__`` or ``__context__``, on any path."""
    import traceback

    from hfbridge.errors import HFBridgeError
    from tests._http_double import RecordingServer

    with RecordingServer(status=500, body={"error": "boom"}) as server:
        backend = HubBackend(base_url=server.url, token=TOKEN, retry=RetryPolicy(max_attempts=1))
        errors: list[HFBridgeError] = []
        for call in (
            lambda: backend.text_classification("hi"),
            lambda: backend.feature_extraction(["hi"]),
            lambda: list(backend.stream_chat_completion([{"role": "user", "content": "hi"}])),
        ):
            with pytest.raises(HFBridgeError) as caught:
                call()
            errors.append(caught.value)
        with pytest.raises(HFBridgeError) as acaught:
            await backend.atext_classification("hi")
        errors.append(acaught.value)
        with pytest.raises(HFBridgeError) as scaught:
            async for _ in backend.astream_chat_completion([{"role": "user", "content": "hi"}]):
                pass
        errors.append(scaught.value)
        await backend.aclose()
    unreachable = HubBackend(base_url="http://127.0.0.1:9", token=TOKEN, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(HFBridgeError) as refused:
        unreachable.text_classification("hi")
    errors.append(refused.value)
    assert len(errors) == 6
    for error in errors:
        assert error.__cause__ is None and error.__context__ is None, type(error)
        rendered = "".join(traceback.format_exception(error))
        assert TOKEN not in rendered and "httpx2" not in rendered.split("Traceback")[-1].splitlines()[-1]


def _mapping_server() -> Any:
    from tests._http_double import RecordingServer

    mapping = {"together": {"status": "live", "providerId": "acme/chat", "task": "conversational"}}
    return RecordingServer(body={"id": "acme/chat", "modelId": "acme/chat", "inferenceProviderMapping": mapping})


def test_the_implicit_token_never_goes_to_a_non_hf_hub_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with _mapping_server() as hub:
        HubBackend("acme/chat", provider="together", hub_endpoint=hub.url).check_chat_support(tools=True)
        assert "authorization" not in hub.requests[-1].headers
        import huggingface_hub.constants as constants

        monkeypatch.setattr(constants, "ENDPOINT", hub.url)  # HF_ENDPOINT, as huggingface_hub read it
        HubBackend("acme/chat", provider="together").check_chat_support(tools=True)
        assert len(hub.requests) == 2 and "authorization" not in hub.requests[-1].headers
        HubBackend("acme/chat", provider="together", hub_endpoint=hub.url, token=TOKEN).check_chat_support(tools=True)
        assert hub.requests[-1].headers["authorization"] == f"Bearer {TOKEN}", "an explicit token goes where sent"


def test_the_implicit_token_goes_to_the_real_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule refuses only non-HF hosts: huggingface.co still gets the implicit token (checked on the request the
    client would send, captured before it leaves)."""
    import httpx2

    from ._http_double import hub_clients_answered_by

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    sent: list[httpx2.Request] = []

    def capture(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={"id": "acme/chat", "inferenceProviderMapping": {}})

    with hub_clients_answered_by(capture), pytest.raises(UnsupportedTaskError, match="not served"):
        HubBackend("acme/chat", provider="together").check_chat_support()
    assert sent and sent[0].url.host == "huggingface.co"
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"
