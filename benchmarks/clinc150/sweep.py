"""The router's settings re-scored from a run's recorded rankings, without
training or parsing again:

    .venv/rasa/bin/python -m benchmarks.clinc150.sweep var/clinc150/predictions.jsonl

Each parse in predictions.jsonl keeps the first five entries of DIET's and of
the router's classifier's rankings and the router's similarity signal; for
each classifier weight, confidence threshold and ambiguity threshold this
combines them as LLMRouter does (custom_components.llm_router.combined_ranking;
an intent outside a ranking's first five counts as 0 there, so the figures
are close to, not equal to, a run with those settings) and prints in-scope
accuracy and oos recall per set as a markdown table, then the setting that
`choose` picks on `holdout` by a rule fixed before looking: the highest
in-scope accuracy among the settings that keep oos recall at least
OOS_RECALL_FLOOR (the target, 0.75, and a margin for the holdout's 30 oos
examples, where one example is 3.3 points), more oos recall on a tie.
"""
import json
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from benchmarks.clinc150 import metrics
from custom_components.llm_router import combined_ranking

WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
AMBIGUITY_THRESHOLDS = (0.0, 0.02, 0.05, 0.1)
MIN_SIMILARITY = 0.2  # config.yml's
OOS_RECALL_FLOOR = 0.8
CHOSEN_ON = "holdout"

Setting = Tuple[float, float, float]  # weight, threshold, ambiguity threshold


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


def choose(scores: Mapping[Setting, metrics.Score], floor: float = OOS_RECALL_FLOOR) -> Optional[Setting]:
    """The setting with the best in-scope accuracy whose oos recall is at
    least `floor` (then the best oos recall, then the first listed); None
    when no setting reaches the floor."""
    eligible = [setting for setting, score in scores.items() if score.oos_recall >= floor]
    if not eligible:
        return None
    return max(eligible, key=lambda s: (scores[s].in_scope_accuracy, scores[s].oos_recall))


def sweep(records: Sequence[Mapping[str, Any]]) -> Dict[Setting, metrics.Score]:
    return {
        (weight, threshold, ambiguity): metrics.score(
            [r["gold"] for r in records], [routed(r, weight, threshold, ambiguity) for r in records]
        )
        for weight in WEIGHTS for threshold in THRESHOLDS for ambiguity in AMBIGUITY_THRESHOLDS
    }


def main(path: str) -> int:
    sets: Dict[str, List[Mapping[str, Any]]] = {}
    for line in open(path):
        record = json.loads(line)
        sets.setdefault(record["set"], []).append(record)
    names = list(sets)
    scores = {name: sweep(records) for name, records in sets.items()}
    print("| weight | threshold | ambiguity | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for setting in scores[names[0]]:
        cells = [f"{100 * scores[name][setting].in_scope_accuracy:.1f} / "
                 f"{100 * scores[name][setting].oos_recall:.0f}" for name in names]
        print("| " + " | ".join(str(value) for value in setting) + " | " + " | ".join(cells) + " |")
    chosen = choose(scores[CHOSEN_ON]) if CHOSEN_ON in scores else None
    if chosen is None:
        print(f"\nno setting keeps {CHOSEN_ON} oos recall >= {OOS_RECALL_FLOOR}")
        return 1
    print(f"\nchosen on {CHOSEN_ON} (best in-scope accuracy with oos recall >= "
          f"{OOS_RECALL_FLOOR}): classifier_weight {chosen[0]}, threshold {chosen[1]}, "
          f"ambiguity_threshold {chosen[2]}")
    for name in names:
        score = scores[name][chosen]
        print(f"  {name}: in-scope {100 * score.in_scope_accuracy:.1f} %, "
              f"oos recall {100 * score.oos_recall:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
