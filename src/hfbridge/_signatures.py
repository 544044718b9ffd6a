"""Precomputed call signatures for the adapter methods the frameworks inspect on every call.

LangChain's ``BaseChatModel`` / ``BaseLLM`` run ``inspect.signature(self._generate)`` on each call (to learn whether
``run_manager`` is accepted) and LlamaIndex's instrumentation dispatcher runs ``inspect.signature(func).bind(...)``
for each span. Computing a signature from a function costs ~13 µs on the benchmark machine, ~30 µs right after a
network round trip: a tenth of the adapters' per-call overhead (`bench/overhead.py`). ``inspect.signature`` returns a
function's ``__signature__`` when it has one, so storing the very signature it would compute changes nothing but the
cost. Subclasses that override a method get the normal computation.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["freeze_signatures"]


def freeze_signatures(cls: type, *names: str) -> None:
    """Store ``inspect.signature`` of each named function of ``cls`` on the function itself."""
    for name in names:
        function: Any = inspect.unwrap(cls.__dict__[name])
        function.__signature__ = inspect.signature(function)
