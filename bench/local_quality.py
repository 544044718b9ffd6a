"""Quality of the local model candidates on the labelled sets in tests/data (accuracy, macro-F1, entity F1).

python -m bench quality            # prints a table, writes bench/results/local_quality.json
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hfbridge import LocalBackend

from ._table import results_dir

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
#: ``python -m bench --quick quality``: the first rows of each set, every candidate (a smoke run).
QUICK = {"limit": 4}


def load(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()][:limit]


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    scores = []
    for label in sorted(set(gold)):
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label and g != label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def classify_eval(rows: list[dict[str, Any]], predict: Callable[[dict[str, Any]], str]) -> dict[str, float]:
    started = time.perf_counter()
    predicted = [predict(row) for row in rows]
    gold = [row["label"] for row in rows]
    return {
        "accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(rows),
        "macro_f1": macro_f1(gold, predicted),
        "ms_per_item": 1000 * (time.perf_counter() - started) / len(rows),
    }


def llm_choice(backend: LocalBackend, text: str, labels: list[str], question: str) -> str:
    """A grammar-constrained pick among ``labels`` by the local chat model (a candidate we did not choose)."""
    schema = {"type": "object", "properties": {"label": {"enum": labels}}, "required": ["label"]}
    result = backend.chat_completion(
        [{"role": "user", "content": f"{question}\nText: {text}\nOptions: {', '.join(labels)}"}],
        response_format={"type": "json_schema", "json_schema": {"name": "choice", "schema": schema}},
        max_tokens=48,
    )
    try:
        return str(json.loads(result.content)["label"])
    except (json.JSONDecodeError, KeyError):
        return "<invalid>"  # counted as wrong: the model ran out of tokens inside the JSON


def entity_f1(backend: LocalBackend, rows: list[dict[str, Any]]) -> dict[str, float]:
    started = time.perf_counter()
    tp = fp = fn = 0
    for row in rows:
        gold = {(e["start"], e["end"], e["entity_group"]) for e in row["entities"]}
        found = {
            (e.start, e.end, e.entity_group)
            for e in backend.token_classification(row["text"])
            if e.entity_group in ("PER", "ORG", "LOC", "MISC")
        }
        tp += len(gold & found)
        fp += len(found - gold)
        fn += len(gold - found)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        "ms_per_item": 1000 * (time.perf_counter() - started) / len(rows),
    }


def evaluate(
    backend: LocalBackend, with_llm: bool = True, limit: int | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    sentiment = load("sentiment.jsonl", limit)
    zero_shot = load("zero_shot.jsonl", limit)
    results: dict[str, dict[str, dict[str, float]]] = {"sentiment": {}, "zero_shot": {}, "ner": {}}
    results["sentiment"]["VADER (chosen)"] = classify_eval(
        sentiment, lambda row: backend.text_classification(row["text"])[0].label
    )
    results["sentiment"]["MiniLM similarity to 'This text is {positive|negative}.'"] = classify_eval(
        sentiment,
        lambda row: backend.zero_shot_classification(
            row["text"], ["positive", "negative"], hypothesis_template="This text is {}."
        )[0].label.upper(),
    )
    results["zero_shot"]["MiniLM 'This text is about {}.' (chosen)"] = classify_eval(
        zero_shot, lambda row: backend.zero_shot_classification(row["text"], row["labels"])[0].label
    )
    results["zero_shot"]["MiniLM bare label '{}'"] = classify_eval(
        zero_shot,
        lambda row: backend.zero_shot_classification(row["text"], row["labels"], hypothesis_template="{}")[0].label,
    )
    if with_llm:
        results["sentiment"]["SmolLM2-135M constrained choice"] = classify_eval(
            sentiment,
            lambda row: llm_choice(
                backend, row["text"], ["POSITIVE", "NEGATIVE"], "Is this text positive or negative?"
            ),
        )
        results["zero_shot"]["SmolLM2-135M constrained choice"] = classify_eval(
            zero_shot,
            lambda row: llm_choice(backend, row["text"], row["labels"], "Which topic is this customer message about?"),
        )
    results["ner"]["spaCy en_core_web_sm (chosen)"] = entity_f1(backend, load("ner.jsonl", limit))
    return results


def run(limit: int | None = None) -> None:
    results = evaluate(LocalBackend(), limit=limit)
    (results_dir() / "local_quality.json").write_text(json.dumps(results, indent=2))
    for task, candidates in results.items():
        print(f"\n{task}")
        for name, metrics in candidates.items():
            print(f"  {name:<60} " + "  ".join(f"{k}={v:.3f}" for k, v in metrics.items()))


def main() -> None:
    run()


if __name__ == "__main__":
    main()
