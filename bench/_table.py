"""Printing and saving benchmark results."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
_results_dir = RESULTS


def set_results_dir(path: Path) -> None:
    """Where every benchmark of this process writes its JSON (``python -m bench --results``)."""
    global _results_dir
    _results_dir = path


def results_dir() -> Path:
    _results_dir.mkdir(parents=True, exist_ok=True)
    return _results_dir


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def report(name: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), **extra,
               "rows": rows}  # fmt: skip
    (results_dir() / f"{name}.json").write_text(json.dumps(payload, indent=2))
    columns = list(dict.fromkeys(key for row in rows for key in row))
    widths = {c: max(len(c), *(len(_fmt(row.get(c))) for row in rows)) for c in columns}
    print(f"\n{name}  ({', '.join(f'{k}={v}' for k, v in extra.items())})")
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in columns))
    return payload


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)
