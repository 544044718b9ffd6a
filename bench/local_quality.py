"""Quality of the local model candidates on the labelled sets in tests/data (accuracy, macro-F1, entity F1).

python -m bench quality            # prints a table, writes bench/results/local_quality.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hfbridge import LocalBackend
from hfbridge.backends.local._classifiers import NER_MD, NER_SM

from ._table import results_dir

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
#: ``python -m bench --quick quality``: the first rows of each set, every candidate (a smoke run).
QUICK = {"limit": 4}
#: The labelled NER sets: the original 30 sentences, and 30 about organisations founded after 2015 (names a
#: pipeline trained on older news has not seen).
NER_SETS = {"ner": "ner.jsonl", "ner_recent": "ner_recent_orgs.jsonl"}
GROUPS = ("PER", "ORG", "LOC", "MISC")


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


def _found(backend: LocalBackend, text: str) -> set[tuple[int, int, str]]:
    return {(e.start, e.end, e.entity_group) for e in backend.token_classification(text) if e.entity_group in GROUPS}


def entity_f1(backend: LocalBackend, rows: list[dict[str, Any]]) -> dict[str, float]:
    """Exact span + group. The first call (which loads the model) is made before the clock starts."""
    backend.token_classification(rows[0]["text"])
    started = time.perf_counter()
    tp = fp = fn = org_found = org_total = 0
    for row in rows:
        gold = {(e["start"], e["end"], e["entity_group"]) for e in row["entities"]}
        found = _found(backend, row["text"])
        tp += len(gold & found)
        fp += len(found - gold)
        fn += len(gold - found)
        org_total += sum(group == "ORG" for _, _, group in gold)
        org_found += sum(group == "ORG" for _, _, group in gold & found)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        "org_recall": org_found / org_total,
        "ms_per_item": 1000 * (time.perf_counter() - started) / len(rows),
    }


def entity_errors(backend: LocalBackend, rows: list[dict[str, Any]]) -> list[str]:
    """What the model missed or got wrong, one line per sentence that has an error (for the docs)."""
    lines = []
    for row in rows:
        text = row["text"]
        gold = {(e["start"], e["end"], e["entity_group"]) for e in row["entities"]}
        found = _found(backend, text)
        missed = [f"{text[s:e]}/{g}" for s, e, g in sorted(gold - found)]
        extra = [f"{text[s:e]}/{g}" for s, e, g in sorted(found - gold)]
        if missed or extra:
            lines.append(f"{text}  missed: {', '.join(missed) or '-'}  instead: {', '.join(extra) or '-'}")
    return lines


_RSS_PROBE = """
import sys
from hfbridge import LocalBackend
def rss():
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')) / 1024
import spacy
before = rss()
LocalBackend(ner_model=sys.argv[1]).token_classification('Elon Musk founded SpaceX in Hawthorne, California.')
print(before, rss())
"""


def ner_memory_mb(model: str) -> dict[str, float]:
    """Resident memory of a fresh process with spaCy imported, and after loading ``model`` and tagging once."""
    out = subprocess.run([sys.executable, "-c", _RSS_PROBE, model], check=True, capture_output=True, text=True)
    before, after = map(float, out.stdout.split())
    return {"rss_mb": after, "model_mb": after - before}


def short(model: str) -> str:
    return model.rsplit("/", 1)[-1]


def evaluate(
    backend: LocalBackend, with_llm: bool = True, ner_alternatives: tuple[str, ...] = (),
    limit: int | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Every task on its labelled set; NER on both sets with the backend's model (``"<model> (chosen)"``) and with
    each of ``ner_alternatives``."""
    sentiment = load("sentiment.jsonl", limit)
    zero_shot = load("zero_shot.jsonl", limit)
    results: dict[str, dict[str, dict[str, float]]] = {"sentiment": {}, "zero_shot": {}}
    results.update({name: {} for name in NER_SETS})
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
    others = [LocalBackend(ner_model=model) for model in ner_alternatives if model != backend.ner_model]
    for set_name, filename in NER_SETS.items():
        rows = load(filename, limit)
        results[set_name][f"spaCy {short(backend.ner_model)} (chosen)"] = entity_f1(backend, rows)
        for other in others:
            results[set_name][f"spaCy {short(other.ner_model)}"] = entity_f1(other, rows)
    return results


def run(limit: int | None = None) -> None:
    backend = LocalBackend()
    results = evaluate(backend, ner_alternatives=(NER_MD, NER_SM), limit=limit)
    results["ner_memory"] = {short(model): ner_memory_mb(model) for model in (NER_MD, NER_SM)}
    (results_dir() / "local_quality.json").write_text(json.dumps(results, indent=2))
    for task, candidates in results.items():
        print(f"\n{task}")
        for name, metrics in candidates.items():
            print(f"  {name:<60} " + "  ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    for model in (NER_MD, NER_SM):
        for filename in NER_SETS.values():
            print(f"\n{short(model)} errors on {filename}:")
            for line in entity_errors(LocalBackend(ner_model=model), load(filename, limit)):
                print("  " + line)


def main() -> None:
    run()


if __name__ == "__main__":
    main()
