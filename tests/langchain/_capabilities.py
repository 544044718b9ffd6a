"""ChatHF's capability flags for the langchain-tests suites, stated once for the unit and integration classes."""

from __future__ import annotations

from hfbridge.langchain import ChatHF


class ChatHFCapabilities:
    @property
    def chat_model_class(self) -> type[ChatHF]:
        return ChatHF

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True
