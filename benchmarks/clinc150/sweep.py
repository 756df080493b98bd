"""The router's settings re-scored from a run's recorded rankings, without
training or parsing again:

    .venv/rasa/bin/python -m benchmarks.clinc150.sweep var/clinc150/predictions.jsonl

Each parse in predictions.jsonl keeps the first five entries of DIET's and of
the router's classifier's rankings and the router's similarity signal; for
each classifier weight, confidence threshold and ambiguity threshold this
combines them as LLMRouter does (custom_components.llm_router.combined_ranking;
an intent outside a ranking's first five counts as 0 there, so the figures
are close to, not equal to, a run with those settings) and prints in-scope
accuracy and oos recall per set as a markdown table. Choose on `holdout`.
"""
import json
import sys
from typing import Any, Dict, List, Mapping

from benchmarks.clinc150 import metrics
from custom_components.llm_router import combined_ranking

WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
AMBIGUITY_THRESHOLDS = (0.02, 0.05, 0.1)
MIN_SIMILARITY = 0.2  # config.yml's


def routed(record: Mapping[str, Any], weight: float, threshold: float, ambiguity: float) -> str:
    """The intent the router would give the recorded parse with these settings."""
    second = {entry["name"]: entry["confidence"] for entry in record["sentence_ranking"]}
    ranking = combined_ranking(record["ranking"], second, weight, 10)
    top = ranking[0]
    gap = top["confidence"] - (ranking[1]["confidence"] if len(ranking) > 1 else 0.0)
    similarity = record["signals"].get("similarity")
    if (top["name"] == "out_of_scope" or top["confidence"] < threshold or gap < ambiguity
            or (similarity is not None and similarity < MIN_SIMILARITY)):
        return metrics.FALLBACK_INTENT
    return top["name"]


def main(path: str) -> int:
    sets: Dict[str, List[Mapping[str, Any]]] = {}
    for line in open(path):
        record = json.loads(line)
        sets.setdefault(record["set"], []).append(record)
    names = list(sets)
    print("| weight | threshold | ambiguity | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for weight in WEIGHTS:
        for threshold in THRESHOLDS:
            for ambiguity in AMBIGUITY_THRESHOLDS:
                cells = []
                for name in names:
                    records = sets[name]
                    score = metrics.score([r["gold"] for r in records],
                                          [routed(r, weight, threshold, ambiguity) for r in records])
                    cells.append(f"{100 * score.in_scope_accuracy:.1f} / {100 * score.oos_recall:.0f}")
                print(f"| {weight} | {threshold} | {ambiguity} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
