"""A LlamaIndex agent that triages a customer message with HFToolSpec tools, streaming.

``python examples/llamaindex_agent.py`` runs offline on the local backend; ``--chat-model qwen2.5-coder-1.5b`` uses
the opt-in local model (``hfbridge models install qwen2.5-coder-1.5b`` first); ``--react`` a ``ReActAgent`` instead
of a ``FunctionAgent`` (it needs a model that writes ReAct steps: the opt-in model or a hosted one).

Guardrails — chosen by the backend, see :func:`uses_guardrails`:

* the default local chat model (SmolLM2-135M) is too small to plan which tool comes next (docs/local-models.md), so
  the triage runs in two steps, each naming its tool with FunctionAgent's ``initial_tool_choice``; the model writes
  the arguments and the answers. Both steps share one Context, so the second sees the first's results;
* the opt-in Qwen2.5-Coder-1.5B and hosted models get none: one run, the model picks the tools and when to stop.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ReActAgent, ToolCall, ToolCallResult
from llama_index.core.workflow import Context

from hfbridge import Backend, LocalBackend
from hfbridge.llama_index import HFLLM, HFToolSpec

TOPICS = ["billing", "account", "technical support", "general"]
MESSAGE = "Hi, this is Maria Garcia from Acme Corp in Madrid. I need to update my payment method."
SYSTEM = "You triage customer messages. Use the tools, then summarise."
STEPS = [
    ("named_entity_recognition", f"Customer message: '{MESSAGE}' Find the named entities."),
    ("zero_shot_classification", f"Now classify the topic of this customer message: '{MESSAGE}'"),
]


def uses_guardrails(backend: Backend) -> bool:
    """Only a local model that makes its tool calls through the grammar steps (too small to choose) needs them."""
    return getattr(backend, "tool_calling", None) == "grammar"


def build_agent(backend: Backend, kind: str = "function", max_tokens: int = 160,
                **kwargs: Any) -> FunctionAgent | ReActAgent:  # fmt: skip
    """A ``FunctionAgent`` (``kind="function"``) or ``ReActAgent`` (``"react"``) over HFToolSpec's three text tools."""
    tools = HFToolSpec(backend, labels=TOPICS).to_tool_list()
    llm = HFLLM(backend=backend, max_tokens=max_tokens)
    if kind == "react":
        return ReActAgent(tools=tools, llm=llm, **kwargs)
    return FunctionAgent(tools=tools, llm=llm, system_prompt=SYSTEM, **kwargs)


async def ask(agent: FunctionAgent | ReActAgent, request: str, ctx: Context | None = None,
              on_event: Any = None) -> list[Any]:  # fmt: skip
    """Run one request; return every ToolCall / ToolCallResult / AgentStream event and the final response."""
    events: list[Any] = []
    handler = agent.run(request, ctx=ctx, max_iterations=8)
    async for event in handler.stream_events():
        if isinstance(event, (ToolCall, ToolCallResult, AgentStream)):
            events.append(event)
            if on_event is not None:
                on_event(event)
    events.append(await handler)
    return events


async def triage(backend: Backend, on_event: Any = None, kind: str = "function") -> list[Any]:
    if not uses_guardrails(backend):
        request = f"Customer message: '{MESSAGE}' Find the named entities and classify the topic."
        return await ask(build_agent(backend, kind), request, on_event=on_event)
    events: list[Any] = []
    context: Context | None = None
    for tool_name, request in STEPS:
        agent = build_agent(backend, initial_tool_choice=tool_name)
        context = context or Context(agent)
        events += await ask(agent, request, ctx=context, on_event=on_event)
    return events


class _Printer:
    """Tool calls and results one per line; the model's answers streamed as they come, each on lines of its own."""

    def __init__(self) -> None:
        self.mid_line = False

    def __call__(self, event: Any) -> None:
        if isinstance(event, AgentStream):
            if event.delta:
                print(event.delta, end="", flush=True)
                self.mid_line = not event.delta.endswith("\n")
            return
        if self.mid_line:
            print()
            self.mid_line = False
        if isinstance(event, ToolCallResult):
            print(f"<- {event.tool_name}: {str(event.tool_output)[:150]}")
        elif isinstance(event, ToolCall):
            print(f"-> {event.tool_name}({event.tool_kwargs})")


def main() -> None:
    chat_model = sys.argv[sys.argv.index("--chat-model") + 1] if "--chat-model" in sys.argv else None
    backend = LocalBackend(chat_model=chat_model) if chat_model else LocalBackend()
    printer = _Printer()
    asyncio.run(triage(backend, on_event=printer, kind="react" if "--react" in sys.argv else "function"))
    if printer.mid_line:
        print()


if __name__ == "__main__":
    main()
