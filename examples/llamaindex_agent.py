"""A LlamaIndex FunctionAgent that triages a customer message with HFToolSpec tools, streaming, in two steps.

Offline on the local backend: ``python examples/llamaindex_agent.py``. The local chat model (SmolLM2-135M) is too
small to plan which tool comes next (docs/local-models.md), so each step names its tool with FunctionAgent's
``initial_tool_choice``; the model writes the arguments and the answers. Both steps share one Context, so the
second sees the first's results. With a capable hosted model, drop ``initial_tool_choice``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCall, ToolCallResult
from llama_index.core.workflow import Context

from hfbridge import Backend, LocalBackend
from hfbridge.llama_index import HFLLM, HFToolSpec

TOPICS = ["billing", "account", "technical support", "general"]
MESSAGE = "Hi, this is Maria Garcia from Acme Corp in Madrid. I need to update my payment method."
STEPS = [
    ("named_entity_recognition", f"Customer message: '{MESSAGE}' Find the named entities."),
    ("zero_shot_classification", f"Now classify the topic of this customer message: '{MESSAGE}'"),
]


async def triage(backend: Backend, on_event: Any = None) -> list[Any]:
    """Run the steps; return every ToolCall / ToolCallResult / AgentStream event and the final responses."""
    tools = HFToolSpec(backend, labels=TOPICS).to_tool_list()
    llm = HFLLM(backend=backend, max_tokens=120)
    events: list[Any] = []
    context: Context | None = None
    for tool_name, request in STEPS:
        agent = FunctionAgent(tools=tools, llm=llm, initial_tool_choice=tool_name,
                              system_prompt="You triage customer messages. Use the tools, then summarise.")  # fmt: skip
        context = context or Context(agent)
        handler = agent.run(request, ctx=context)
        async for event in handler.stream_events():
            if isinstance(event, (ToolCall, ToolCallResult, AgentStream)):
                events.append(event)
                if on_event is not None:
                    on_event(event)
        events.append(await handler)
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
    printer = _Printer()
    asyncio.run(triage(LocalBackend(), on_event=printer))
    if printer.mid_line:
        print()


if __name__ == "__main__":
    main()
