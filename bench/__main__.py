"""``python -m bench [--quick] [--results DIR] [NAME ...]`` (``bash scripts/bench.sh`` installs the anchors first).

NAME is one of embeddings, overhead, ratelimit, local, quality, soak, scaleout, flow, or all (the default: embeddings,
overhead, ratelimit, local). ``--quick`` runs each at a small size: a smoke run that checks the benchmark works end
to end (the test suite runs every name this way); its numbers mean nothing and go to ``bench/results/quick/``
unless ``--results`` says otherwise, so they never replace a real run's. See bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

#: The names ``all`` stands for; quality and soak are run by name.
DEFAULT = ["embeddings", "overhead", "ratelimit", "local"]
NAMES = [*DEFAULT, "quality", "soak", "scaleout", "flow"]


def benchmarks() -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    """Each name's run function and the sizes ``--quick`` passes to it."""
    from . import embeddings, flow, local, local_quality, overhead, ratelimit, scaleout, soak

    return {
        "embeddings": (embeddings.run, {"texts": 320}),
        "overhead": (overhead.run, {"rounds": 5, "stream_tokens": 40}),
        "ratelimit": (ratelimit.run, {"requests": 10}),
        "local": (local.run, {"texts": 256, "repeats": 1}),
        "quality": (local_quality.run, local_quality.QUICK),
        "soak": (soak.run, soak.QUICK),
        "scaleout": (scaleout.run, {"texts": 512}),
        "flow": (flow.run, {"seconds": 0.5, "servers": ((2, flow.LATENCY),), "modes": ("none",)}),
    }


def main(argv: list[str] | None = None) -> None:
    import logging

    from . import _table

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"{', '.join(NAMES)} or all (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run whose numbers mean nothing")
    parser.add_argument("--results", type=Path, default=None, help="where the JSON results go")
    args = parser.parse_args(argv)
    chosen = args.names or ["all"]
    unknown = [name for name in chosen if name not in (*NAMES, "all")]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)} or all")
    names = [name for choice in chosen for name in (DEFAULT if choice == "all" else [choice])]
    default_results = _table.RESULTS / "quick" if args.quick else _table.RESULTS
    _table.set_results_dir(args.results or default_results)

    if not os.environ.get("HFBRIDGE_BENCH_VERBOSE"):  # retries are logged at WARNING; here they would bury the tables
        logging.getLogger("hfbridge").setLevel(logging.ERROR)
    runs = benchmarks()
    for name in names:
        run, quick_sizes = runs[name]
        run(**(quick_sizes if args.quick else {}))


if __name__ == "__main__":
    main(sys.argv[1:])
