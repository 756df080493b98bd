"""The results page (benchmarks/results/clinc150.md) and the issue's targets,
from the results dictionary run.py writes as JSON: pure, no I/O."""
from typing import Any, Dict, List, Optional, Tuple

PAPER = (
    "Larson et al., \"An Evaluation Dataset for Intent Classification and Out-of-Scope "
    "Prediction\", EMNLP-IJCNLP 2019, https://www.aclweb.org/anthology/D19-1131/"
)
# the paper's table, Full dataset, oos-train, test split: (in-scope accuracy, oos recall) in %
PAPER_ROWS = (
    ("Rasa (2019)", 91.5, 45.3),
    ("Dialogflow", 91.7, 14.0),
    ("MLP (USE)", 93.4, 49.1),
    ("BERT", 96.9, 40.3),
    ("BERT, oos-threshold", 96.2, 52.3),
)
# issue 12's targets: (name, metric, comparison, bound)
IN_SCOPE_TARGET = 0.95
OOS_RECALL_TARGET = 0.75
TRAINING_SECONDS_TARGET = 30 * 60  # on 2 cores
ROUTER_P95_MS_TARGET = 5.0
FULL_INTENTS = 150


def targets(results: Dict[str, Any], split: str) -> List[Tuple[str, str, str, Optional[bool]]]:
    """(target, bound, measured, met) for the issue's four targets; `met` is
    None when the figure is missing."""
    figures = results.get(split, {})
    metadata = results["metadata"]
    rows = []

    def check(name, bound, value, ok, shown):
        rows.append((name, bound, shown if value is not None else "n/a", None if value is None else ok(value)))

    check("in-scope accuracy", f">= {IN_SCOPE_TARGET:.0%}", figures.get("in_scope_accuracy"),
          lambda v: v >= IN_SCOPE_TARGET, _percent(figures.get("in_scope_accuracy")))
    check("out-of-scope recall", f">= {OOS_RECALL_TARGET:.0%}", figures.get("oos_recall"),
          lambda v: v >= OOS_RECALL_TARGET, _percent(figures.get("oos_recall")))
    seconds = metadata.get("training_seconds")
    check("training time (2 cores)", f"<= {TRAINING_SECONDS_TARGET // 60} min", seconds,
          lambda v: v <= TRAINING_SECONDS_TARGET, f"{(seconds or 0) / 60:.1f} min")
    p95 = (figures.get("router_ms") or {}).get("p95")
    check("router time per message, p95", f"<= {ROUTER_P95_MS_TARGET:g} ms", p95,
          lambda v: v <= ROUTER_P95_MS_TARGET, f"{p95} ms")
    return rows


def is_full_run(results: Dict[str, Any]) -> bool:
    """All 150 intents, config.yml's own epochs."""
    command = results["metadata"].get("command", "")
    return results["metadata"].get("intents") == FULL_INTENTS and "--epochs" not in command


def markdown(results: Dict[str, Any]) -> str:
    metadata = results["metadata"]
    splits = [name for name in ("val", "test") if name in results]
    stock = metadata["stock_rasa"]
    lines = [
        "# CLINC150: in-scope accuracy and out-of-scope recall of the NLU pipeline",
        "",
        f"Data: CLINC150 \"full\" ({PAPER}), `{metadata['data']}`. "
        "Written by `benchmarks/clinc150/run.py` (`make bench-clinc150`); do not edit by hand.",
        "",
        "```bash",
        metadata["command"],
        "```",
        "",
    ]
    if not is_full_run(results):
        lines += [
            f"**Small run** ({metadata['intents']} intents, DIET epochs {metadata['epochs']}): "
            "a check that the benchmark works, not figures to compare.",
            "",
        ]
    holdout = metadata["holdout"]
    training = metadata["n_training_examples"]
    lines += [
        f"Started {metadata['started_utc']}; {metadata['intents']} intents (sorted by name); "
        f"trained on {training['in_scope']} in-scope and {training['oos']} oos examples "
        f"(`oos` trained as `out_of_scope`): `train` and `oos_train` without a holdout of "
        f"{holdout['per_intent']} per intent and {holdout['oos']} oos (seed {holdout['seed']}), "
        "on which stock Rasa's threshold is chosen. Pipeline: config.yml's, read at run time "
        f"({', '.join('`' + name.split('.')[-1] + '`' for name in metadata['pipeline'])}; "
        f"DIET {_config(metadata.get('diet_config') or {'epochs': metadata['epochs']})}; "
        f"router {_config(metadata['router_config'])}).",
        "",
        "## Results",
        "",
        "| set | system | in-scope accuracy | oos recall | in-scope / oos examples |",
        "|---|---|---|---|---|",
    ]
    for split in ["holdout", *splits]:
        figures = results[split]
        rows = [
            ("**ours**: the pipeline as is (LLMRouter)", figures),
            (f"stock Rasa: DIET + FallbackClassifier (threshold {stock['threshold']:.2f}, "
             f"ambiguity {stock['ambiguity_threshold']})", figures["stock_rasa"]),
            ("DIET alone (no fallback; `out_of_scope` as trained)", figures["diet_alone"]),
        ]
        if figures.get("sentence_classifier_alone"):
            rows.append(("the router's classifier alone (sentence embeddings + character "
                         "n-grams, no fallback)", figures["sentence_classifier_alone"]))
        for system, row in rows:
            lines.append(
                f"| {split} | {system} | {_percent(row['in_scope_accuracy'])} | "
                f"{_percent(row['oos_recall'])} | {row['n_in_scope']} / {row['n_oos']} |"
            )
    lines += [
        "",
        "In-scope accuracy: correct intents over in-scope examples; `nlu_fallback` or "
        "`out_of_scope` counts as wrong. Out-of-scope recall: share of `oos` examples predicted "
        f"{metadata['oos_counted_as']}.",
        "",
        f"Stock Rasa: {stock['rule']}. It is {stock['same_diet']}",
        "",
        f"The paper's table ({PAPER}; Full dataset, oos-train, its **test** split, so not the "
        "same examples as `val`):",
        "",
        "| system | in-scope accuracy | oos recall |",
        "|---|---|---|",
        *[f"| {name} | {accuracy:.1f} % | {recall:.1f} % |" for name, accuracy, recall in PAPER_ROWS],
        "",
        "## Targets",
        "",
        "| set | target | bound | measured | |",
        "|---|---|---|---|---|",
    ]
    for split in splits:
        for name, bound, measured, met in targets(results, split):
            verdict = "n/a" if met is None else ("met" if met else "**missed**")
            lines.append(f"| {split} | {name} | {bound} | {measured} | {verdict} |")
    router, parse = metadata["router_ms"], metadata["parse_ms"]
    machine = metadata["machine"]
    lines += [
        "",
        "## Time",
        "",
        f"- training (`train_nlu`, fresh cache, wall): **{metadata['training_seconds']:.0f} s** "
        f"on {machine['cpus']} cores ({machine['processor']}; load average "
        f"{machine['load_average_before'][0]} before, {machine['load_average_after'][0]} after)"
        + _reuse_note(metadata),
        f"- LLMRouter.process per message (its own time inside the loaded model's graph, "
        f"{router['n']} val messages): p50 **{router['p50']} ms**, p95 **{router['p95']} ms**, "
        f"max {router['max']} ms",
        f"- whole parse per message (Agent.parse_message): p50 {parse['p50']} ms, "
        f"p95 {parse['p95']} ms",
        "",
        "## Why the router sent messages to the fallback",
        "",
        "Reasons that fired (a message can have several):",
        "",
        "| set | reason | in-scope messages | oos messages |",
        "|---|---|---|---|",
    ]
    for split in splits:
        reasons = results[split]["routing_reasons"]
        for reason in sorted(set(reasons["in_scope"]) | set(reasons["oos"])):
            lines.append(
                f"| {split} | `{reason}` | {reasons['in_scope'].get(reason, 0)} | "
                f"{reasons['oos'].get(reason, 0)} |"
            )
    return "\n".join(lines) + "\n"


def summary(results: Dict[str, Any]) -> str:
    """A few lines for the terminal."""
    lines = []
    for split in ("holdout", "val", "test"):
        if split in results:
            ours, stock = results[split], results[split]["stock_rasa"]
            lines.append(
                f"{split}: ours {_percent(ours['in_scope_accuracy'])} in-scope, "
                f"{_percent(ours['oos_recall'])} oos recall; stock Rasa (threshold "
                f"{stock['threshold']:.2f}) {_percent(stock['in_scope_accuracy'])}, "
                f"{_percent(stock['oos_recall'])}"
            )
    metadata = results["metadata"]
    lines.append(
        f"training {metadata['training_seconds']:.0f} s; router p50 {metadata['router_ms']['p50']} ms, "
        f"p95 {metadata['router_ms']['p95']} ms"
    )
    return "\n".join(lines)


def _percent(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _config(config: Dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in config.items()) or "defaults"


def _reuse_note(metadata: Dict[str, Any]) -> str:
    if metadata.get("retrained_changed"):
        return ("; the last full training's time: this run trained only the components whose "
                "settings changed, the rest came from that training's cache")
    if metadata.get("model_reused"):
        return "; the last full training's time: this run scored that model again"
    return ""
