"""CLINC150's splits, the holdout for choosing thresholds, and what Rasa is
trained on: plain values in, plain values out (no files read or written).

The data file holds splits of `[text, intent]` pairs, `oos` for out of
scope: `train` (150 intents x 100), `val` (x 20), `oos_train`, `oos_val`
(100 each), and in the held-back file also `test` (x 30) and `oos_test`
(1,000)."""
import copy
import random
import re
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

Example = Tuple[str, str]  # (text, intent)
Splits = Dict[str, List[Example]]

OOS = "oos"  # CLINC150's label for out-of-scope queries
# the router's out-of-scope intent (custom_components/llm_router.py,
# out_of_scope_intents): CLINC150's oos examples are trained as this intent
OUT_OF_SCOPE_INTENT = "out_of_scope"
# Rasa's entity markup in a training example: `[text](entity)`, `[text]{...}`
# or `[text][...]`; a bare "[country]" is plain text
ENTITY_MARKUP = re.compile(r"\[[^\]]*\]\s*[({\[]")

# (in-scope split, out-of-scope split) per evaluation set, in run order
EVALUATION_SETS = {"val": ("val", "oos_val"), "test": ("test", "oos_test")}
TRAINING_SPLITS = ("train", "oos_train")
KNOWN_SPLITS = {*TRAINING_SPLITS, *(name for pair in EVALUATION_SETS.values() for name in pair)}


def read_splits(raw: Mapping[str, Any]) -> Splits:
    """The known splits of the parsed data file as (text, intent) tuples.
    Fails on a file without the training splits or with a malformed row;
    unknown keys (the original file's `*_small`, `*_imbalanced` variants)
    are ignored."""
    missing = [name for name in TRAINING_SPLITS if name not in raw]
    if missing:
        raise ValueError(f"the data file has no {missing} split")
    splits: Splits = {}
    for name in KNOWN_SPLITS & set(raw):
        rows = []
        for row in raw[name]:
            if len(row) != 2 or not all(isinstance(value, str) for value in row):
                raise ValueError(f"split {name}: expected [text, intent], got {row!r}")
            text, intent = row
            if "\n" in text or not text.strip():
                raise ValueError(f"split {name}: empty or multi-line text {text!r}")
            rows.append((text, intent))
        splits[name] = rows
    return splits


def evaluation_sets(splits: Splits) -> List[str]:
    """The evaluation sets the file has both halves of: `val`, then `test`."""
    return [name for name, pair in EVALUATION_SETS.items() if all(part in splits for part in pair)]


def intents(examples: Sequence[Example]) -> List[str]:
    """The in-scope intents, sorted by name (the order `--intents N` takes)."""
    return sorted({intent for _, intent in examples if intent != OOS})


def select_intents(splits: Splits, count: Optional[int]) -> Splits:
    """Only the first `count` intents by sorted name in every split (all when
    None); out-of-scope examples are all kept."""
    if count is None:
        return {name: list(rows) for name, rows in splits.items()}
    names = intents(splits["train"])
    if not 1 <= count <= len(names):
        raise ValueError(f"--intents must be 1..{len(names)}, got {count}")
    kept = set(names[:count]) | {OOS}
    return {name: [row for row in rows if row[1] in kept] for name, rows in splits.items()}


def stratified_holdout(
    examples: Sequence[Example], per_intent: int, seed: int
) -> Tuple[List[Example], List[Example]]:
    """(rest, holdout): `per_intent` examples of every intent drawn at random
    (seeded, intents in sorted order) into the holdout; both keep the input
    order. Fails when an intent has no more than `per_intent` examples, which
    would leave it nothing to train on."""
    positions: Dict[str, List[int]] = defaultdict(list)
    for position, (_, intent) in enumerate(examples):
        positions[intent].append(position)
    rng = random.Random(seed)
    held = set()
    for intent in sorted(positions):
        if len(positions[intent]) <= per_intent:
            raise ValueError(
                f"intent {intent!r} has {len(positions[intent])} examples: "
                f"cannot hold out {per_intent} and still train on it"
            )
        held.update(rng.sample(positions[intent], per_intent))
    rest = [row for position, row in enumerate(examples) if position not in held]
    holdout = [row for position, row in enumerate(examples) if position in held]
    return rest, holdout


def training_intent(intent: str) -> str:
    """The intent an example is trained as: `oos` becomes the router's
    out-of-scope intent, the rest keep their names."""
    return OUT_OF_SCOPE_INTENT if intent == OOS else intent


def nlu_yaml(examples: Sequence[Example]) -> str:
    """Rasa 3 NLU training data (YAML), one block per intent in order of first
    appearance, `oos` trained as `out_of_scope`. Texts go into literal blocks
    unchanged, so a newline or Rasa's entity markup would change them: fails
    on either (none of CLINC150's texts has one; the tests read the real file
    back with Rasa's reader)."""
    by_intent: Dict[str, List[str]] = {}
    for text, intent in examples:
        if "\n" in text or ENTITY_MARKUP.search(text):
            raise ValueError(f"cannot write {text!r} as a plain training example")
        by_intent.setdefault(training_intent(intent), []).append(text.strip())
    lines = ['version: "3.1"', "", "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"  - intent: {intent}", "    examples: |"]
        lines += [f"      - {text}" for text in texts]
    return "\n".join(lines) + "\n"


def nlu_config(config: Mapping[str, Any], epochs: Optional[int] = None) -> Dict[str, Any]:
    """The project's config.yml as an NLU-only config: everything but
    `policies`, with DIET's epochs replaced when `epochs` is given."""
    if not config.get("pipeline"):
        raise ValueError("config.yml has no NLU pipeline")
    nlu = {key: copy.deepcopy(value) for key, value in config.items() if key != "policies"}
    if epochs is not None:
        diets = [c for c in nlu["pipeline"] if c.get("name") in ("DIETClassifier", "DIET")]
        if not diets:
            raise ValueError("--epochs given, but the pipeline has no DIETClassifier")
        for component in diets:
            component["epochs"] = epochs
    return nlu
