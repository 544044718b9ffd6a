"""``python -m bench [embeddings|overhead|ratelimit|flow|local|quality|soak|scaleout|all]`` — see bench/RESULTS.md.
``python -m bench.flow --help`` for the flow benchmark's options."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def main() -> None:
    import logging

    if not os.environ.get("HFBRIDGE_BENCH_VERBOSE"):  # retries are logged at WARNING; here they would bury the tables
        logging.getLogger("hfbridge").setLevel(logging.ERROR)
    from . import embeddings, flow, local, local_quality, overhead, ratelimit, scaleout, soak

    runs = {"embeddings": embeddings.run, "overhead": overhead.run, "ratelimit": ratelimit.run, "local": local.run,
            "quality": local_quality.main, "soak": soak.main, "scaleout": scaleout.run,
            "flow": lambda: flow.main([])}  # fmt: skip
    chosen = sys.argv[1:] or ["all"]
    names = ["embeddings", "overhead", "ratelimit", "local"] if chosen == ["all"] else chosen
    unknown = [name for name in names if name not in runs]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; choose from {sorted(runs)} or all")
    for name in names:
        runs[name]()


if __name__ == "__main__":
    main()
