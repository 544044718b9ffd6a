"""The fields every LangChain adapter shares to find its backend."""

from __future__ import annotations

from .._adapter_fields import ModelNameTarget


class BackendFields(ModelNameTarget):
    """:class:`~hfbridge._adapter_fields.BackendTarget` plus ``model`` (alias ``model_name``), as LangChain's
    partner packages name it."""
