"""The figures, as in Larson et al. (2019), and the stock-Rasa baseline:
pure functions over intent names and rankings.

* in-scope accuracy: correct intents / in-scope examples; a fallback
  (`nlu_fallback`) or `out_of_scope` prediction is wrong;
* out-of-scope recall: `oos` examples predicted `nlu_fallback` or
  `out_of_scope` / `oos` examples. Our router turns an `out_of_scope` top
  intent into `nlu_fallback` itself; stock Rasa's FallbackClassifier does not,
  and there DIET's `out_of_scope` counts as caught, as the paper's oos-train
  setting counts its 151st class.
"""
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from benchmarks.clinc150.dataset import OOS, OUT_OF_SCOPE_INTENT

FALLBACK_INTENT = "nlu_fallback"  # rasa.shared.constants.DEFAULT_NLU_FALLBACK_INTENT_NAME
OUT_OF_SCOPE_PREDICTIONS = frozenset({FALLBACK_INTENT, OUT_OF_SCOPE_INTENT})
# Rasa's FallbackClassifier defaults (rasa.shared.nlu.constants):
# threshold 0.3, ambiguity_threshold 0.1
STOCK_AMBIGUITY_THRESHOLD = 0.1
THRESHOLD_GRID = tuple(round(step / 100, 2) for step in range(100))  # 0.00 .. 0.99

Ranking = Sequence[Mapping[str, Any]]  # [{"name": ..., "confidence": ...}, ...]


@dataclass(frozen=True)
class Score:
    in_scope_accuracy: Optional[float]  # None without in-scope examples
    oos_recall: Optional[float]  # None without oos examples
    n_in_scope: int
    n_oos: int

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @property
    def joint(self) -> float:
        """What the stock threshold maximises: in-scope accuracy + oos recall."""
        return (self.in_scope_accuracy or 0.0) + (self.oos_recall or 0.0)


def score(golds: Sequence[str], predictions: Sequence[str]) -> Score:
    """The paper's two figures for gold intents (`oos` for out of scope) and
    predicted intents."""
    if len(golds) != len(predictions):
        raise ValueError(f"{len(golds)} gold intents, {len(predictions)} predictions")
    in_scope = [(gold, predicted) for gold, predicted in zip(golds, predictions) if gold != OOS]
    oos = [predicted for gold, predicted in zip(golds, predictions) if gold == OOS]
    correct = sum(gold == predicted for gold, predicted in in_scope)
    caught = sum(predicted in OUT_OF_SCOPE_PREDICTIONS for predicted in oos)
    return Score(
        in_scope_accuracy=correct / len(in_scope) if in_scope else None,
        oos_recall=caught / len(oos) if oos else None,
        n_in_scope=len(in_scope),
        n_oos=len(oos),
    )


def classifier_ranking(ranking: Ranking) -> List[Mapping[str, Any]]:
    """DIET's own ranking from a parse result's `intent_ranking`: without the
    `nlu_fallback` entry the router (like the FallbackClassifier) puts first;
    the entries after it are DIET's, confidences unchanged."""
    entries = list(ranking)
    while entries and entries[0].get("name") == FALLBACK_INTENT:
        entries.pop(0)
    return entries


def stock_prediction(
    ranking: Ranking, threshold: float, ambiguity_threshold: float = STOCK_AMBIGUITY_THRESHOLD
) -> str:
    """What DIET + Rasa's FallbackClassifier predicts from DIET's ranking:
    `nlu_fallback` when the top confidence is below `threshold` or the top two
    are closer than `ambiguity_threshold` (its `_should_fallback`), else
    DIET's top intent (which may be `out_of_scope`)."""
    if not ranking:
        return FALLBACK_INTENT
    top = float(ranking[0].get("confidence", 0.0))
    if top < threshold:
        return FALLBACK_INTENT
    if len(ranking) >= 2 and top - float(ranking[1].get("confidence", 1.0)) < ambiguity_threshold:
        return FALLBACK_INTENT
    return str(ranking[0].get("name"))


def choose_threshold(
    golds: Sequence[str],
    rankings: Sequence[Ranking],
    grid: Iterable[float] = THRESHOLD_GRID,
    ambiguity_threshold: float = STOCK_AMBIGUITY_THRESHOLD,
) -> Tuple[float, Score]:
    """The stock FallbackClassifier's threshold: the one of `grid` with the
    highest in-scope accuracy + oos recall on the holdout (DIET's rankings);
    on a tie the lowest (the one that falls back least)."""
    best: Optional[Tuple[float, Score]] = None
    for threshold in sorted(grid):
        result = score(golds, [stock_prediction(r, threshold, ambiguity_threshold) for r in rankings])
        if best is None or result.joint > best[1].joint + 1e-12:
            best = (threshold, result)
    if best is None:
        raise ValueError("empty threshold grid")
    return best


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks (as
    numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timing_summary(seconds: Sequence[float]) -> Dict[str, Any]:
    """p50, p95, mean and max in milliseconds."""
    return {
        "p50": round(percentile(seconds, 50) * 1000, 3),
        "p95": round(percentile(seconds, 95) * 1000, 3),
        "mean": round(sum(seconds) / len(seconds) * 1000, 3),
        "max": round(max(seconds) * 1000, 3),
        "n": len(seconds),
    }


def routing_reasons(golds: Sequence[str], reasons: Sequence[Sequence[str]]) -> Dict[str, Dict[str, int]]:
    """How often each of the router's reasons fired, on in-scope and on oos
    messages (a message can have several)."""
    counts = {"in_scope": Counter(), "oos": Counter()}
    for gold, fired in zip(golds, reasons):
        counts["oos" if gold == OOS else "in_scope"].update(fired)
    return {group: dict(sorted(counter.items())) for group, counter in counts.items()}
