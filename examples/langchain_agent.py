"""A LangChain agent (``langchain.agents.create_agent``) that triages a customer message with hfbridge tools.

Runs offline on the local backend: ChatHF decides and writes the tool calls, the NER and zero-shot tools run on
the local models. ``python examples/langchain_agent.py``; pass ``--backend MODEL_ID`` for a hosted model.

The local chat model (SmolLM2-135M) is too small to plan tool use reliably (docs/local-models.md), so a middleware
adds the guardrails real triage agents often have too: the first step must call a tool (the model chooses which
and writes its arguments), and the topic must be classified before the final answer. With a capable hosted model
the middleware rarely changes anything: the model calls both tools itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest, ModelResponse, wrap_model_call
from langchain_core.messages import AIMessage, ToolMessage

from hfbridge import Backend, backend_from_spec
from hfbridge.langchain import ChatHF, hf_tools

TOPICS = ["billing", "account", "technical support", "general"]
MESSAGE = "Hi, this is Maria Garcia from Acme Corp in Madrid. I need to update my payment method."


@wrap_model_call
def triage_guardrails(request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
    """Use a tool first (the model picks it); classify the topic before the final answer."""
    called = {m.name for m in request.messages if isinstance(m, ToolMessage)}
    if not called:
        request = request.override(tool_choice="required")
    elif "zero_shot_classification" not in called:
        request = request.override(tool_choice="zero_shot_classification")
    return handler(request)


def build_agent(backend: Backend) -> Any:
    tools = hf_tools(backend, labels=TOPICS, include=("ner", "zero_shot"))
    return create_agent(
        ChatHF(backend=backend, max_tokens=160),
        tools,
        system_prompt="You triage customer messages. Use the tools, then summarise what they found.",
        middleware=[triage_guardrails],
    )


def triage(backend: Backend, message: str = MESSAGE) -> list[Any]:
    agent = build_agent(backend)
    request = f"Customer message: '{message}' Find the named entities and classify the topic."
    result = agent.invoke({"messages": [{"role": "user", "content": request}]}, {"recursion_limit": 12})
    return list(result["messages"])


def main() -> None:
    spec = sys.argv[sys.argv.index("--backend") + 1] if "--backend" in sys.argv else "local"
    for message in triage(backend_from_spec(spec)):
        if isinstance(message, AIMessage) and message.tool_calls:
            for call in message.tool_calls:
                print(f"-> {call['name']}({call['args']})")
        elif isinstance(message, ToolMessage):
            print(f"<- {message.name}: {str(message.content)[:160]}")
        elif isinstance(message, AIMessage):
            print(f"answer: {message.content}")


if __name__ == "__main__":
    main()
