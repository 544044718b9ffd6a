"""The fields every LangChain adapter shares to find its backend."""

from __future__ import annotations

from pydantic import Field

from .._adapter_fields import BackendTarget


class BackendFields(BackendTarget):
    """:class:`~hfbridge._adapter_fields.BackendTarget` plus ``model`` (alias ``model_name``), as LangChain's
    partner packages name it."""

    model: str | None = Field(
        default=None, alias="model_name", description="Hub model id (or, with base_url, the served model name)."
    )
