"""Fails when the held-out NLU evaluation is below the quality bar.

Reads the reports that `rasa test nlu` wrote and prints a small table.
Usage: python scripts/check_nlu_report.py results/nlu
"""
import json
import sys
from pathlib import Path

MIN_INTENT_MACRO_F1 = 0.95
MIN_ORDER_ID_F1 = 0.95


def main(report_dir: Path) -> int:
    intents = json.loads((report_dir / "intent_report.json").read_text())
    # macro average over the intents that occur in the test set: a prediction
    # of another label (nlu_fallback, out_of_scope) counts as a miss for them
    per_intent = {
        name: scores for name, scores in intents.items()
        if isinstance(scores, dict) and "support" in scores and scores["support"] > 0
        and name not in ("micro avg", "macro avg", "weighted avg")
    }
    macro_f1 = sum(s["f1-score"] for s in per_intent.values()) / len(per_intent)
    entities = json.loads((report_dir / "OrderNumberExtractor_report.json").read_text())
    order_id_f1 = entities.get("order_id", {}).get("f1-score", 0.0)

    print(f"{'intent':<20} {'f1':>6} {'support':>8}")
    for name, scores in sorted(per_intent.items()):
        print(f"{name:<20} {scores['f1-score']:>6.3f} {scores['support']:>8}")
    print(f"intent macro-F1 {macro_f1:.3f} (bar {MIN_INTENT_MACRO_F1}); "
          f"order_id entity F1 {order_id_f1:.3f} (bar {MIN_ORDER_ID_F1})")

    failures = []
    if macro_f1 < MIN_INTENT_MACRO_F1:
        failures.append(f"intent macro-F1 {macro_f1:.3f} < {MIN_INTENT_MACRO_F1}")
    if order_id_f1 < MIN_ORDER_ID_F1:
        failures.append(f"order_id F1 {order_id_f1:.3f} < {MIN_ORDER_ID_F1}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/nlu")))
