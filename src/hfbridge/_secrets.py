"""Token resolution and redaction: the one place that handles the secret."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from pydantic import SecretStr

#: Hosts that receive a token found implicitly (``HF_TOKEN`` or the token file). An explicit token goes anywhere.
HF_HOST_SUFFIXES = ("huggingface.co", "hf.space", "huggingface.cloud")

_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{6,}|Bearer\s+[A-Za-z0-9._~+/=-]{4,}")


def resolve_token(token: str | SecretStr | None) -> tuple[SecretStr | None, bool]:
    """Return ``(token, explicit)``: the argument if given, else ``HF_TOKEN`` or the huggingface_hub token file."""
    if token is not None:
        value = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not isinstance(value, str):
            raise TypeError("token must be a string, a SecretStr or None")
        return (SecretStr(value) if value else None), True
    from huggingface_hub import get_token

    found = get_token()
    return (SecretStr(found) if found else None), False


def is_hf_host(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return any(host == suffix or host.endswith("." + suffix) for suffix in HF_HOST_SUFFIXES)


def redact(text: str, token: SecretStr | None = None) -> str:
    """Remove the token, and anything that looks like a token, from ``text``."""
    if token is not None:
        secret = token.get_secret_value()
        if secret:
            text = text.replace(secret, "**********")
    return _TOKEN_PATTERN.sub("**********", text)
