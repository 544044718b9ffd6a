"""The README's statements of fact that code can check: each test reads the README and compares it with the code.

When one fails, either the code drifted from what the README promises, or the README must say what the code now
does: fix whichever is wrong. The README's code blocks run in tests/test_docs.py; the "no timed assertions" claim
is checked in tests/test_no_timed_assertions.py.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hfbridge.errors
from hfbridge import HubBackend, LocalBackend, RetryPolicy
from hfbridge.backends.base import Backend
from hfbridge.server import Fault, FaultPlan, ServerThread, create_app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def section(heading: str) -> str:
    """The README text under ``heading`` (a ##/### title), up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no section {heading!r}"
    return match.group(1)


def table(text: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header row starts with ``header``, as lists of cells."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(header)), None)
    assert start is not None, f"no table headed {header!r}"
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def sentence(text: str, start: str) -> str:
    match = re.search(rf"{re.escape(start)}(.*?)\.(?:\s|$)", text, re.DOTALL)
    assert match, f"README no longer says {start!r}..."
    return " ".join(match.group(1).split())


# ------------------------------------------------------------------------------------------------ tasks
def task_methods() -> set[str]:
    """The backend's task methods: the public methods that have an ``a``-prefixed async twin."""
    public = {name for name, member in inspect.getmembers(Backend, inspect.isfunction) if not name.startswith("_")}
    return {name for name in public if f"a{name}" in public and name != "close"}


def method_spans(cell: str) -> list[str]:
    """The code spans of a method cell that name a method (``fill_mask(text, top_k=)``), not an example value."""
    return [span for span in code_spans(cell) if re.fullmatch(r"[a-z_]+(\(.*\))?", span)]


def task_table() -> list[tuple[list[str], list[str]]]:
    """(method names, result types) per row of the README's task table."""
    rows = []
    for _task, methods, results in table(section("Use"), "| task | method | result |"):
        names = [re.match(r"\w+", span).group(0) for span in method_spans(methods)]  # type: ignore[union-attr]
        rows.append((names, code_spans(results)))
    return rows


def test_task_table_lists_every_task_method_and_only_those() -> None:
    documented = {name for names, _ in task_table() for name in names}
    assert documented == task_methods(), (
        f"README task table vs Backend: missing {sorted(task_methods() - documented)}, "
        f"not methods {sorted(documented - task_methods())}"
    )


def test_task_table_parameters_exist() -> None:
    """``zero_shot_classification(text, labels, multi_label=)``: the parameters the table names are the method's."""
    for _task, methods, _result in table(section("Use"), "| task | method | result |"):
        for span in method_spans(methods):
            name, _, arguments = span.partition("(")
            named = [a.strip().rstrip("=") for a in arguments.rstrip(")").split(",") if a.strip()]
            parameters = inspect.signature(getattr(Backend, name)).parameters
            assert set(named) <= set(parameters), f"README's {span}: {name} takes {list(parameters)[1:]}"


def test_task_table_result_types_are_what_the_methods_return() -> None:
    for names, results in task_table():
        # Results[X] is hfbridge's list of X (it also carries per-call metadata): the README writes it list[X].
        returns = [str(inspect.signature(getattr(Backend, name)).return_annotation).replace("Results[", "list[")
                   for name in names]  # fmt: skip
        types = [result.removeprefix("PIL.") for result in results]
        for result in types:
            assert any(result in annotation for annotation in returns), f"README: {names} return {result}? {returns}"
        for name, annotation in zip(names, returns, strict=True):
            assert any(result in annotation for result in types), f"{name} returns {annotation}, README: {results}"


@pytest.mark.parametrize("backend", [Backend, HubBackend, LocalBackend], ids=lambda cls: cls.__name__)
def test_every_task_method_has_an_async_twin(backend: type) -> None:
    assert "Every method has an `a`-prefixed async twin" in section("Use")
    for name in task_methods():
        twin = getattr(backend, f"a{name}")
        returns = str(inspect.signature(twin).return_annotation)
        assert inspect.iscoroutinefunction(twin) or returns.startswith("AsyncIterator"), f"{backend.__name__}.a{name}"


# ------------------------------------------------------------------------------------------------ errors
def error_tree() -> dict[str, str]:
    """child -> parent, as the README draws the tree: ``A`` > ``B``, ``C`` (> ``D``, ``E``), ``F``."""
    text = sentence(section("Retries, limits and errors"), "Errors (all in `hfbridge.errors`, tree in its docstring):")
    tokens = re.findall(r"`(\w+)`|(\(>)|(\))", text)
    root = tokens[0][0]
    parents = [root]
    last = root
    tree: dict[str, str] = {}
    for name, opening, closing in tokens[1:]:
        if opening:
            parents.append(last)
        elif closing:
            parents.pop()
        else:
            tree[name] = parents[-1]
            last = name
    return tree


def test_error_tree_is_the_exception_hierarchy() -> None:
    tree = error_tree()
    for child, parent in tree.items():
        assert issubclass(getattr(hfbridge.errors, child), getattr(hfbridge.errors, parent)), f"{child} < {parent}?"
    exported = {
        name
        for name in hfbridge.errors.__all__
        if isinstance(getattr(hfbridge.errors, name), type) and issubclass(getattr(hfbridge.errors, name), Exception)
    }
    assert set(tree) | {"HFBridgeError"} == exported, "README's error list vs hfbridge.errors.__all__"


def test_api_errors_keep_what_the_readme_says() -> None:
    kept = code_spans(sentence(section("Retries, limits and errors"), "API errors keep"))
    error = hfbridge.errors.APIError("x", status_code=500, request_id="r", server_message="m")
    assert kept and all(hasattr(error, attribute) for attribute in kept), kept


# ------------------------------------------------------------------------------------------------ retries
def statuses(start: str) -> list[int]:
    return [int(n) for n in re.findall(r"\b\d{3}\b", sentence(section("Retries, limits and errors"), start))]


@pytest.fixture(scope="module")
def fault_server(local_backend: LocalBackend) -> Iterator[Any]:
    app = create_app(local_backend, task="feature-extraction")
    with ServerThread(app) as server:
        server.app = app
        yield server


@pytest.mark.live_server
@pytest.mark.parametrize(("status", "retried"), [(s, True) for s in statuses("Retried:")]
                         + [(s, False) for s in statuses("Never:")])  # fmt: skip
def test_the_statuses_the_readme_says_are_retried_are(fault_server: Any, status: int, retried: bool) -> None:
    plan = FaultPlan(script=[Fault.http_status(status, f"injected {status}")])
    fault_server.app.state.context.faults = plan
    try:
        backend = HubBackend(base_url=fault_server.url, timeout=30, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
        if retried:
            assert backend.feature_extraction(["a"])
        else:
            with pytest.raises(hfbridge.errors.APIError):
                backend.feature_extraction(["a"])
        assert plan.stats["requests"] == (2 if retried else 1), f"HTTP {status}: {plan.stats}"
    finally:
        fault_server.app.state.context.faults = None


# ------------------------------------------------------------------------------------------------ server
def documented_routes() -> set[tuple[str, str]]:
    routes = set()
    for _protocol, cell in table(section("The local protocol server"), "| protocol | routes |"):
        for span in code_spans(cell):
            methods, path = span.split(" ", 1)
            routes |= {(method, path) for method in methods.split("/")}
    return routes


def test_route_table_is_the_servers_routes(local_backend: LocalBackend) -> None:
    served = {
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))  # {model_id:path} is written {model_id}
        for route in create_app(local_backend).routes
        for method in (getattr(route, "methods", None) or ())
        if method != "HEAD"
    }
    documented = documented_routes()
    assert documented == served, f"undocumented: {sorted(served - documented)}; not served: {documented - served}"


# ------------------------------------------------------------------------------------------------ command line
def documented_commands() -> set[str]:
    """Subcommands the documents run in their bash blocks (``hfbridge NAME ...``)."""
    return {
        match
        for path in DOCUMENTS
        for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.DOTALL)
        for match in re.findall(r"^hfbridge ([\w-]+)", block, re.MULTILINE)
    }


def test_every_command_is_documented_with_an_example() -> None:
    from hfbridge.cli import main

    assert documented_commands() == set(main.commands), "README/docs examples vs `hfbridge --help`"


def test_every_command_takes_backend_and_provider() -> None:
    """"Every (task) command takes --backend and --provider": every command that is not a group of commands."""
    import click

    from hfbridge.cli import main

    assert re.search(r"Every (task )?command takes `--backend local\|URL\|MODEL_ID` and `--provider`",
                     section("Command line"))  # fmt: skip
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            continue
        options = {option for param in command.params for option in getattr(param, "opts", [])}
        assert {"--backend", "--provider"} <= options, f"hfbridge {name} lacks --backend or --provider"


def test_exit_codes() -> None:
    from hfbridge import cli

    meanings = {"usage": cli.EXIT_USAGE, "the backend failed": cli.EXIT_BACKEND,
                "the input was rejected": cli.EXIT_INPUT, "interrupted": 130}  # fmt: skip
    documented = re.findall(rf"\b(\d+) ({'|'.join(meanings)})", " ".join(section("Command line").split()))
    assert {meaning for _, meaning in documented} >= {"usage", "the backend failed", "the input was rejected"}
    for code, meaning in documented:
        assert int(code) == meanings[meaning], f"README: exit code {code} means {meaning}; cli.py says otherwise"


# ------------------------------------------------------------------------------------------------ cassettes, CI, bench
def test_cassette_matching_and_filtering() -> None:
    from .conftest import FILTERED_HEADERS, cassette_vcr

    text = section("Tests and cassettes")
    assert "matched on method, path, query and body" in text
    assert list(cassette_vcr().match_on) == ["method", "path", "query", "json_body"]
    filtered = re.search(r"body; (.*?) are filtered", text, re.DOTALL)
    assert filtered and sorted(code_spans(filtered.group(1))) == sorted(FILTERED_HEADERS)


def test_ci_runs_the_readmes_test_command() -> None:
    assert "`.ci/run` runs exactly `bash scripts/test.sh`." in README
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.strip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["bash scripts/test.sh"]


def test_benchmark_names() -> None:
    from bench.__main__ import DEFAULT, NAMES, benchmarks

    text = section("Benchmarks and soak")
    default_comment = re.search(r"bash scripts/bench\.sh\s+# ([\w, ]+):", text)
    assert default_comment, "README: what `bash scripts/bench.sh` runs"
    assert [name.strip() for name in default_comment.group(1).split(",")] == DEFAULT
    named = set(re.findall(r"bash scripts/bench\.sh (\w+)", text))
    assert named | set(DEFAULT) == set(NAMES) == set(benchmarks()), "README's benchmarks vs bench/__main__.py"
