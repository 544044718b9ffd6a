"""A LangChain agent (``langchain.agents.create_agent``) that triages a customer message with hfbridge tools.

``python examples/langchain_agent.py`` runs offline on the local backend; ``--chat-model qwen2.5-coder-1.5b`` uses
the opt-in local model (``hfbridge models install qwen2.5-coder-1.5b`` first); ``--backend MODEL_ID`` a hosted one.

Guardrails — chosen by the backend, see :func:`uses_guardrails`:

* the default local chat model (SmolLM2-135M) is too small to plan tool use (docs/local-models.md), so a middleware
  adds the guardrails real triage agents often have too: the first step must call a tool (the model chooses which
  and writes its arguments), and the topic must be classified before the final answer;
* the opt-in Qwen2.5-Coder-1.5B and hosted models get none: the model decides which tool to call, and when to stop.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest, ModelResponse, wrap_model_call
from langchain_core.messages import AIMessage, ToolMessage

from hfbridge import Backend, LocalBackend, backend_from_spec
from hfbridge.langchain import ChatHF, hf_tools

TOPICS = ["billing", "account", "technical support", "general"]
MESSAGE = "Hi, this is Maria Garcia from Acme Corp in Madrid. I need to update my payment method."
SYSTEM = "You triage customer messages. Use the tools, then summarise what they found."


def uses_guardrails(backend: Backend) -> bool:
    """Only a local model that makes its tool calls through the grammar steps (too small to choose) needs them."""
    return getattr(backend, "tool_calling", None) == "grammar"


@wrap_model_call
def triage_guardrails(request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
    """Use a tool first (the model picks it); classify the topic before the final answer."""
    called = {m.name for m in request.messages if isinstance(m, ToolMessage)}
    if not called:
        request = request.override(tool_choice="required")
    elif "zero_shot_classification" not in called:
        request = request.override(tool_choice="zero_shot_classification")
    return handler(request)


def build_agent(backend: Backend, include: Sequence[str] = ("ner", "zero_shot"), guardrails: bool | None = None,
                max_tokens: int = 160) -> Any:  # fmt: skip
    tools = hf_tools(backend, labels=TOPICS, include=include)
    guarded = uses_guardrails(backend) if guardrails is None else guardrails
    return create_agent(
        ChatHF(backend=backend, max_tokens=max_tokens),
        tools,
        system_prompt=SYSTEM,
        middleware=[triage_guardrails] if guarded else [],
    )


def ask(agent: Any, request: str) -> list[Any]:
    result = agent.invoke({"messages": [{"role": "user", "content": request}]}, {"recursion_limit": 12})
    return list(result["messages"])


def triage(backend: Backend, message: str = MESSAGE) -> list[Any]:
    return ask(build_agent(backend), f"Customer message: '{message}' Find the named entities and classify the topic.")


def _backend() -> Backend:
    if "--chat-model" in sys.argv:
        return LocalBackend(chat_model=sys.argv[sys.argv.index("--chat-model") + 1])
    return backend_from_spec(sys.argv[sys.argv.index("--backend") + 1] if "--backend" in sys.argv else "local")


def main() -> None:
    for message in triage(_backend()):
        if isinstance(message, AIMessage) and message.tool_calls:
            for call in message.tool_calls:
                print(f"-> {call['name']}({call['args']})")
        elif isinstance(message, ToolMessage):
            print(f"<- {message.name}: {str(message.content)[:160]}")
        elif isinstance(message, AIMessage):
            print(f"answer: {message.content}")


if __name__ == "__main__":
    main()
