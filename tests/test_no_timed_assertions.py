"""The README says the test suite has no timed assertions; this checks it, by reading every test module's syntax.

A timed assertion is an ``assert`` whose condition uses elapsed wall-clock time: a difference of two clock readings
(``time.monotonic()``, ``time.perf_counter()``, ``time.time()``, their ``_ns`` forms, ``loop.time()``), directly or
through names assigned from one. On a loaded 2-core CI such assertions fail at random; count things instead
(requests, refusals, retries logged, tokens), or read the wait a retry chose from its log line. A clock reading that
is not a duration (``now = time.time()`` passed on as a timestamp) is fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCKS = {"monotonic", "perf_counter", "time", "monotonic_ns", "perf_counter_ns", "time_ns"}


def _is_clock_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCKS
        and not node.args
        and not node.keywords
    )


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _targets(node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def timed_assertions(source: str) -> list[int]:
    """Line numbers of the asserts in ``source`` whose condition depends on a difference of clock readings."""
    tree = ast.parse(source)
    readings: set[str] = set()  # names holding a clock reading
    durations: set[str] = set()  # names holding a difference of readings (or computed from one)

    def is_reading(node: ast.AST) -> bool:
        return _is_clock_call(node) or (isinstance(node, ast.Name) and node.id in readings)

    def has_reading(node: ast.AST) -> bool:
        return any(is_reading(sub) for sub in ast.walk(node))

    def has_duration(node: ast.AST) -> bool:
        return any(
            (isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Sub) and has_reading(sub.left)
             and has_reading(sub.right)) or (isinstance(sub, ast.Name) and sub.id in durations)
            for sub in ast.walk(node)
        )  # fmt: skip

    # Two passes, so names are known whatever order the functions come in (a name set in a fixture, used later).
    for _ in range(2):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value is not None:
                if _is_clock_call(node.value):
                    readings |= _targets(node)
                elif has_duration(node.value):
                    durations |= _targets(node)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and isinstance(node.func.value, ast.Name)
                and any(has_duration(arg) for arg in node.args)
            ):  # samples.append(time.perf_counter() - started): the list holds durations
                durations.add(node.func.value.id)
    return sorted(node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert) and has_duration(node.test))


def test_the_checker_finds_timed_assertions() -> None:
    found = timed_assertions(
        "import time\n"
        "started = time.monotonic()\n"
        "assert time.monotonic() - started < 1.0\n"  # 3: inline difference
        "elapsed = time.perf_counter() - started\n"
        "assert elapsed >= 0.5, f'took {elapsed}'\n"  # 5: through a name
        "per_call = elapsed / 10\n"
        "assert per_call < 0.1\n"  # 7: computed from a duration
        "now = time.time()\n"
        "assert parse(date, now=now) == 30\n"  # a timestamp, not a duration
        "assert plan.stats['requests'] == 2\n"
    )
    assert found == [3, 5, 7]


def test_the_suite_has_no_timed_assertions() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in timed_assertions(path.read_text())
    ]
    assert offenders == [], f"timed assertions (count things instead; see this module's docstring): {offenders}"
