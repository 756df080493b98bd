"""The CLINC150 benchmark (benchmarks/clinc150/) end to end, small: 20
intents, 3 DIET epochs, on the shared data file, or the copy of its first
20 intents in tests/data/clinc150 where there is none. About 1.5-2 minutes
on 2 cores, most of it training."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from benchmarks.clinc150 import dataset
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "clinc150" / "data_train_val.json"
# the same data's first 20 intents, for a machine without ../shared
BUNDLED_DATA = PROJECT_ROOT / "tests" / "data" / "clinc150" / "data_20_intents.json"
INTENTS, EPOCHS = 20, 3


def data_file() -> Path:
    chosen = os.environ.get("CLINC150_DATA")
    path = Path(chosen) if chosen else SHARED_DATA if SHARED_DATA.is_file() else BUNDLED_DATA
    if not path.is_file():
        pytest.fail(f"the CLINC150 data file is missing: {path}")
    return path


def test_every_clinc150_text_reaches_rasa_unchanged():
    splits = dataset.read_splits(json.loads(data_file().read_text()))
    for name, examples in splits.items():  # (Rasa drops a text repeated within a file)
        read = RasaYAMLReader().reads(dataset.nlu_yaml(examples)).intent_examples
        assert sorted((m.get("text"), m.get("intent")) for m in read) == sorted(
            (text, dataset.training_intent(intent)) for text, intent in examples
        ), name
        assert not any(m.get("entities") for m in read), name


def test_the_small_benchmark_trains_parses_and_scores(tmp_path: Path):
    out = tmp_path / "clinc150.json"
    command = [sys.executable, "-m", "benchmarks.clinc150.run", "--data", str(data_file()),
               "--out", str(out), "--intents", str(INTENTS), "--epochs", str(EPOCHS),
               "--work-dir", str(tmp_path / "work")]
    start = time.monotonic()
    run = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - start
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    print(f"small CLINC150 run: {elapsed:.0f} s")

    results = json.loads(out.read_text())
    assert set(results) == {"metadata", "holdout", "val"}  # no test split in the shared file
    metadata = results["metadata"]
    assert metadata["intents"] == INTENTS and metadata["epochs"] == EPOCHS
    assert metadata["n_training_examples"] == {"in_scope": INTENTS * 90, "oos": 70}
    assert 0 < metadata["training_seconds"] < elapsed
    assert 0 < metadata["router_ms"]["p50"] <= metadata["router_ms"]["p95"]
    assert metadata["router_ms"]["n"] == INTENTS * 20 + 100
    assert metadata["pipeline"][-1] == "custom_components.llm_router.LLMRouter"

    for split, n_in_scope, n_oos in [("holdout", INTENTS * 10, 30), ("val", INTENTS * 20, 100)]:
        figures = results[split]
        for system in (figures, figures["stock_rasa"], figures["diet_alone"]):
            assert (system["n_in_scope"], system["n_oos"]) == (n_in_scope, n_oos)
            # chance is 1 in 21; a working pipeline gets most right even after 3 epochs
            assert system["in_scope_accuracy"] > 0.6, (split, system)
            assert 0.0 <= system["oos_recall"] <= 1.0
        assert figures["oos_recall"] > 0.0  # the router catches some out-of-scope queries
        assert 0.0 <= figures["stock_rasa"]["threshold"] < 1.0
        # the router's second opinion on every message, measured on its own too
        alone = figures["sentence_classifier_alone"]
        assert (alone["n_in_scope"], alone["n_oos"]) == (n_in_scope, n_oos)
        assert alone["in_scope_accuracy"] > 0.6, (split, alone)
    page = out.with_suffix(".md").read_text()
    assert "**Small run**" in page and "| val | **ours**" in page
    assert "| val | the router's classifier alone" in page
