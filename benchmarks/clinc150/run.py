"""CLINC150 for the LLM router: trains the project's NLU pipeline (config.yml's
`pipeline`, read now) on CLINC150 and measures in-scope accuracy and
out-of-scope recall as Larson et al. (2019) do, next to stock Rasa (DIET +
FallbackClassifier, its threshold chosen on a holdout of the training data).

    .venv/rasa/bin/python -m benchmarks.clinc150.run \\
        [--data ../shared/datasets/clinc150/data_train_val.json] \\
        [--out benchmarks/results/clinc150.json] [--intents N] [--epochs E]

Steps: hold out `--holdout-per-intent` examples of every intent of `train`
and `--holdout-oos` of `oos_train` (seeded); write the rest as Rasa NLU data
(`oos` as `out_of_scope`) and the pipeline as an NLU-only config into the
work directory (default var/clinc150/, never in git); train with Rasa's
`train_nlu` (a fresh training cache, so the time is a full training); load
the model in-process (Agent) and parse the holdout, then `val` + `oos_val`,
then `test` + `oos_test` when the file has them (every parse in
work/predictions.jsonl). The stock threshold is chosen on the holdout only.
Writes the JSON (`--out`) and a page next to it (same name, `.md`). `--intents N` keeps the first N intents by sorted name
(all oos examples), `--epochs E` overrides DIET's epochs: the CI version
(tests/integration/test_clinc150_small.py) runs 20 intents. `--reuse-model`
parses and scores with the model already in the work directory (trained on
the same data and config, else it stops), after a change to what runs after
training; its training time is the one recorded when it was trained.
`--retrain-changed` trains again with the work directory's cache (same data,
settings changed): only components whose settings changed train again (after
a change to the router's settings: the router alone, a few minutes); the
training time reported stays the last full training's.

Progress bars are tqdm's defaults, so TQDM_MININTERVAL and the other TQDM_*
variables apply (scripts/test.sh sets one line a minute in CI).
"""
import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import yaml
from tqdm import tqdm

from benchmarks.clinc150 import dataset, metrics, report

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "clinc150" / "data_train_val.json"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "clinc150.json"
DEFAULT_WORK_DIR = ROOT / "var" / "clinc150"
CONFIG = ROOT / "config.yml"
MODEL_NAME = "clinc150"
TRAINING_RECORD = "training.json"  # the model's training time, for --reuse-model
# nothing here needs a hub, and nothing may reach one
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RASA_TELEMETRY_ENABLED": "false"}


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CLINC150 JSON file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON (and .md next to it)")
    parser.add_argument("--intents", type=int, help="only the first N intents by sorted name")
    parser.add_argument("--epochs", type=int, help="DIET's epochs instead of config.yml's")
    parser.add_argument("--holdout-per-intent", type=int, default=10,
                        help="examples of every intent held out of training for the threshold")
    parser.add_argument("--holdout-oos", type=int, default=30, help="oos_train examples held out")
    parser.add_argument("--seed", type=int, default=42, help="seed of the holdout draw")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR,
                        help="training data, config, cache and model (emptied first)")
    parser.add_argument("--reuse-model", action="store_true",
                        help="score the work directory's model (same data and config) again")
    parser.add_argument("--retrain-changed", action="store_true",
                        help="train with the work directory's cache (same data): only "
                             "components whose settings changed train again")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet_rasa()
    if not args.data.is_file():
        print(f"CLINC150 data file not found: {args.data}", file=sys.stderr)
        return 2

    splits = dataset.select_intents(dataset.read_splits(json.loads(args.data.read_text())), args.intents)
    train, holdout = dataset.stratified_holdout(splits["train"], args.holdout_per_intent, args.seed)
    train_oos, holdout_oos = dataset.stratified_holdout(splits["oos_train"], args.holdout_oos, args.seed)
    config = dataset.nlu_config(yaml.safe_load(CONFIG.read_text()), args.epochs)

    work = args.work_dir.resolve()
    inputs = {"nlu.yml": dataset.nlu_yaml(train + train_oos),
              "config.yml": yaml.safe_dump(config, sort_keys=False)}
    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    if args.reuse_model:
        problem = reuse_problem(work, inputs)
        if problem:
            print(f"--reuse-model: {problem}", file=sys.stderr)
            return 2
        model = str(work / "models" / f"{MODEL_NAME}.tar.gz")
        training_seconds = json.loads((work / TRAINING_RECORD).read_text())["seconds"]
    elif args.retrain_changed:
        problem = reuse_problem(work, {"nlu.yml": inputs["nlu.yml"]})
        if problem:
            print(f"--retrain-changed: {problem}", file=sys.stderr)
            return 2
        (work / "config.yml").write_text(inputs["config.yml"])
        model, cached_seconds = train_model(work)
        print(f"trained again with the cache in {cached_seconds:.0f} s")
        training_seconds = json.loads((work / TRAINING_RECORD).read_text())["seconds"]
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for name, text in inputs.items():
            (work / name).write_text(text)
        model, training_seconds = train_model(work)
        (work / TRAINING_RECORD).write_text(json.dumps({"seconds": training_seconds}))
    sets = {"holdout": holdout + holdout_oos}
    sets.update({name: splits[a] + splits[b] for name in dataset.evaluation_sets(splits)
                 for a, b in [dataset.EVALUATION_SETS[name]]})
    parsed = asyncio.run(parse_sets(model, sets))
    with open(work / "predictions.jsonl", "w") as file:  # every parse, for a closer look
        for name, records in parsed.items():
            for record in records:
                file.write(json.dumps({"set": name, **record, "ranking": record["ranking"][:5]}) + "\n")

    threshold, _ = metrics.choose_threshold(
        [r["gold"] for r in parsed["holdout"]], [r["ranking"] for r in parsed["holdout"]]
    )
    results: Dict[str, Any] = {
        "metadata": {
            "command": shlex.join([".venv/rasa/bin/python", "-m", "benchmarks.clinc150.run", *argv]),
            "data": str(args.data),
            "started_utc": started.isoformat(timespec="seconds"),
            "intents": len(dataset.intents(splits["train"])),
            "intent_order": "sorted by name; --intents N keeps the first N, all oos examples",
            "epochs": diet_epochs(config),
            "diet_config": diet_config(config),
            "pipeline": [component["name"] for component in config["pipeline"]],
            "router_config": router_config(config),
            "holdout": {"per_intent": args.holdout_per_intent, "oos": args.holdout_oos, "seed": args.seed},
            "n_training_examples": {"in_scope": len(train), "oos": len(train_oos)},
            "training_seconds": round(training_seconds, 1),
            "model_reused": args.reuse_model,
            # the components whose settings changed trained again, the rest from the cache
            "retrained_changed": args.retrain_changed,
            "router_ms": None,  # filled in from val below
            "parse_ms": None,
            "stock_rasa": {
                "threshold": threshold,
                "ambiguity_threshold": metrics.STOCK_AMBIGUITY_THRESHOLD,
                "rule": "FallbackClassifier threshold from 0.00..0.99 maximising in-scope accuracy "
                        "+ oos recall on the holdout (lowest on a tie); ambiguity_threshold at "
                        "Rasa's default",
                "same_diet": "derived from the same trained model: DIET's ranking as the router "
                             "received it (its first five entries, recorded in the parse data's "
                             "llm_routing.rankings). Stock Rasa's pipeline "
                             "would be the same tokenizer, featurizers and DIET (same config, "
                             "seed and data; DIET reads only the four sparse featurizers) with "
                             "FallbackClassifier in place of the order number extractor and the "
                             "router, which come after DIET and do not feed it "
                             "(checked on 2026-12-02 with the 20-intent, 3-epoch version: stock "
                             "Rasa's pipeline trained separately gave the same DIET rankings, "
                             "confidences equal to the bit, on 600 messages).",
            },
            "oos_counted_as": "nlu_fallback or out_of_scope. The router turns every out_of_scope "
                              "top intent into nlu_fallback itself (reason out_of_scope_intent); "
                              "stock Rasa's FallbackClassifier keeps DIET's out_of_scope, which "
                              "counts as caught, as the paper's oos-train class does",
            "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        }
    }
    for name, records in parsed.items():
        results[name] = evaluate(records, threshold)
    timed = results.get("val", results["holdout"])
    results["metadata"]["router_ms"] = timed["router_ms"]
    results["metadata"]["parse_ms"] = timed["parse_ms"]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(report.markdown(results))
    print(report.summary(results))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


def quiet_rasa() -> None:
    """Rasa's log at `rasa train nlu`'s default level (INFO, or LOG_LEVEL),
    DIET's epoch bar included: unconfigured, its structured log prints a
    debug line for every parsed message."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings()
    configure_structlog()


def reuse_problem(work: Path, inputs: Dict[str, str]) -> Optional[str]:
    """Why the work directory's model is not the one this run would train, or None."""
    for name, text in inputs.items():
        path = work / name
        if not path.is_file() or path.read_text() != text:
            return f"{path} is not what this run would train on"
    for path in (work / "models" / f"{MODEL_NAME}.tar.gz", work / TRAINING_RECORD):
        if not path.is_file():
            return f"{path} is missing: train first (without --reuse-model)"
    return None


def train_model(work: Path) -> tuple:
    """Trains into work/models with a fresh cache of its own; (model path,
    wall seconds)."""
    os.environ["RASA_CACHE_DIRECTORY"] = str(work / "cache")
    from rasa.model_training import train_nlu

    start = time.perf_counter()
    model = train_nlu(
        config=str(work / "config.yml"), nlu_data=str(work / "nlu.yml"),
        output=str(work / "models"), fixed_model_name=MODEL_NAME,
    )
    seconds = time.perf_counter() - start
    if not model:
        raise RuntimeError("rasa train nlu produced no model")
    return model, seconds


@contextmanager
def router_timer(times: List[float]) -> Iterator[None]:
    """Appends the wall time of every LLMRouter.process call (one per parsed
    message) to `times`, in the graph of a model loaded inside the block."""
    from custom_components.llm_router import LLMRouter

    original = LLMRouter.process

    def timed_process(self, messages):
        start = time.perf_counter()
        try:
            return original(self, messages)
        finally:
            times.append(time.perf_counter() - start)

    LLMRouter.process = timed_process
    try:
        yield
    finally:
        LLMRouter.process = original


async def parse_sets(model: str, sets: Dict[str, List[dataset.Example]]) -> Dict[str, List[Dict[str, Any]]]:
    """Every example parsed by the trained model: gold and predicted intent,
    DIET's own ranking, the router's reasons and signals, parse and router
    seconds."""
    from rasa.core.agent import Agent

    parsed: Dict[str, List[Dict[str, Any]]] = {}
    router_times: List[float] = []
    # the graph looks its components' methods up when it is loaded
    with router_timer(router_times):
        agent = Agent.load(model)
        await agent.parse_message("warm up")  # TF's first-call set-up is not a message's time
        for name, examples in sets.items():
            records = []
            for text, gold in tqdm(examples, desc=f"parsing {name}", unit="msg"):
                calls = len(router_times)
                start = time.perf_counter()
                result = await agent.parse_message(text)
                parse_seconds = time.perf_counter() - start
                if len(router_times) != calls + 1:
                    raise RuntimeError("the pipeline has no LLMRouter (or it ran more than once)")
                routing = result.get("llm_routing") or {}
                rankings = routing.get("rankings") or {}
                records.append({
                    "gold": gold,
                    "predicted": (result.get("intent") or {}).get("name"),
                    # DIET's own, as the router received it (or, without the
                    # router's classifier, the parse result's without nlu_fallback)
                    "ranking": rankings.get("intent_classifier")
                    or metrics.classifier_ranking(result.get("intent_ranking") or []),
                    "sentence_ranking": rankings.get("sentence_classifier") or [],
                    "reasons": routing.get("reasons", []),
                    "signals": routing.get("signals", {}),
                    "parse_s": parse_seconds,
                    "router_s": router_times[-1],
                })
            parsed[name] = records
    return parsed


def evaluate(records: List[Dict[str, Any]], threshold: float) -> Dict[str, Any]:
    golds = [r["gold"] for r in records]
    rankings = [r["ranking"] for r in records]
    ours = metrics.score(golds, [r["predicted"] for r in records])
    stock = metrics.score(golds, [metrics.stock_prediction(r, threshold) for r in rankings])
    diet_alone = metrics.score(golds, [metrics.stock_prediction(r, 0.0, 0.0) for r in rankings])
    return {
        **ours.as_dict(),
        "routing_reasons": metrics.routing_reasons(golds, [r["reasons"] for r in records]),
        "router_ms": metrics.timing_summary([r["router_s"] for r in records]),
        "parse_ms": metrics.timing_summary([r["parse_s"] for r in records]),
        "stock_rasa": {
            **stock.as_dict(),
            "threshold": threshold,
            "ambiguity_threshold": metrics.STOCK_AMBIGUITY_THRESHOLD,
        },
        "diet_alone": diet_alone.as_dict(),
        # the router's own classifier's top intent, no threshold: its part of the result
        "sentence_classifier_alone": metrics.score(
            golds, [metrics.stock_prediction(r["sentence_ranking"], 0.0, 0.0) for r in records]
        ).as_dict() if all(r.get("sentence_ranking") for r in records) else None,
    }


def diet_epochs(config: Dict[str, Any]) -> Optional[int]:
    return diet_config(config).get("epochs")


def diet_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """DIET's settings in the pipeline (the rest are Rasa's defaults): the
    stock baseline's DIET is this one."""
    for component in config["pipeline"]:
        if component.get("name") == "DIETClassifier":
            return {key: value for key, value in component.items() if key != "name"}
    return {}


def router_config(config: Dict[str, Any]) -> Dict[str, Any]:
    for component in config["pipeline"]:
        if component.get("name", "").endswith("LLMRouter"):
            return {key: value for key, value in component.items() if key != "name"}
    return {}


if __name__ == "__main__":
    sys.exit(main())
