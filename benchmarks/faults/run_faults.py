"""Faults under load on the running Swarm stack (make bench-faults; make
cluster first): each scenario of scenarios.py runs while simulated customers
talk to the stack through its load balancer (benchmarks/load/locustfile.py,
which resends a failed message with the same message_id), then the checker
reads every conversation back from the tracker store.

    make bench-faults                         # every scenario (~20 min)
    make bench-faults SCENARIOS="kill-model"  # some
    make bench-faults SHORT=1                 # CI: one Rasa kill, ~2 min

Per scenario: the share of messages with a visible reply, the longest time
to reply, messages lost / duplicated / reordered (tracker store), the time to
recover after the fault ended, and whether the issue's targets hold. Writes
benchmarks/results/faults.md and faults.json (--short: var/faults/short/).
Exits 1 when a target is missed. Brings every tier back to its replicas
before each scenario, and leaves no paused container behind.
"""
import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

from benchmarks.faults import figures
from benchmarks.faults.scenarios import BY_NAME, SCENARIOS, Scenario, unpause_all
from benchmarks.load import check_store, checks, stack
from benchmarks.load.run_load import Phase, ensure_replicas, locust, machine, read_log
from settings.defaults import setting

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
SHORT_OUT = ROOT / "var" / "faults" / "short"
REPLICAS = {"rasa": 2, "actions": 2, "model": 2}
FALLBACK_KIND = "open_question"
RECOVERY_TARGET_S = 10.0


@dataclass(frozen=True)
class Timing:
    users: int
    duration_s: int
    fault_at_s: int  # after the load started
    # a short pause between a reply and the next message: the load balancer
    # then spreads each conversation over both Rasa replicas
    think_s: float = 1.0


def targets(scenario: Scenario, fig: Dict, check: Dict, deadline_s: float) -> Dict[str, bool]:
    """The issue's targets for this scenario: which hold."""
    counts = check["counts"]
    held = {
        "every message got a visible reply": fig["visible_share"] == 1.0,
        "0 lost, duplicated or reordered": not any(
            counts.get(name, 0) for name in ("lost", "duplicated", "reordered")),
        "every stored turn has a bot reply": counts.get("no_reply", 0) == 0,
    }
    if scenario.name == "kill-model":
        held[f"no fallback turn over the deadline + 1 s ({deadline_s + 1:g} s)"] = (
            (fig["longest_fallback_s"] or 0) <= deadline_s + 1)
    if scenario.name in ("restart-redis", "stop-postgres"):
        held[f"full service within {RECOVERY_TARGET_S:g} s of the end"] = (
            fig["recover_s"] <= RECOVERY_TARGET_S)
    return held


def run_scenario(scenario: Scenario, timing: Timing, base_run: str, logs: Path) -> Dict:
    print(f"==> {scenario.name}: {scenario.what}; {timing.users} customers, "
          f"{timing.duration_s} s, fault at {timing.fault_at_s} s", flush=True)
    ensure_replicas(REPLICAS)
    run_id = f"{base_run}-{scenario.name}"
    client_log = logs / f"{scenario.name}.jsonl"
    phase = Phase(scenario.name, scenario.mix, REPLICAS, timing.users, timing.duration_s,
                  think_s=timing.think_s)
    load = threading.Thread(target=locust, args=(phase, run_id, timing.users, timing.duration_s,
                                                 timing.think_s, client_log, None), daemon=True)
    load.start()
    time.sleep(timing.fault_at_s)
    fault_start = time.time()
    scenario.inject()
    if scenario.heal is not None:
        time.sleep(scenario.hold_s)
        scenario.heal()
    fault_end = time.time()
    print(f"  fault injected, lasted {fault_end - fault_start:.1f} s", flush=True)
    load.join()
    records = read_log(client_log, run_id)
    check = check_store.check_run(run_id, [client_log])
    fig = figures.fault_figures(records, fault_start, fault_end)
    fallback = [r["latency_s"] for r in records
                if r["kind"] == FALLBACK_KIND and r["started"] <= fault_end + 5
                and r["started"] + r["latency_s"] >= fault_start]
    fig["longest_fallback_s"] = max(fallback, default=None)
    held = targets(scenario, fig, check, float(setting("LLM_DEADLINE_S")))
    print(f"  visible {fig['visible_share']:.3f}, longest {fig['longest_reply_s']} s, recover "
          f"{fig['recover_s']:.1f} s; " + checks.summary(check).replace("\n", "; "), flush=True)
    for target, ok in held.items():
        print(f"  {'ok  ' if ok else 'MISS'} {target}", flush=True)
    return {"scenario": scenario.name, "what": scenario.what, "mix": scenario.mix,
            "fault_s": round(fault_end - fault_start, 1), "figures": fig,
            "check": check["counts"], "targets": held}


def markdown(results: List[Dict], command: str) -> str:
    def cell(value, digits=1):
        return "–" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))

    lines = [
        "# Faults under load (benchmarks/faults)", "",
        f"Command: `{command}` on the running stack (`make cluster`), "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()['cores']} cores. Each "
        "scenario injects its fault while simulated customers talk through the load balancer "
        "(they resend a failed message with the same `message_id`, as a REST client should); "
        "then every conversation is read back from PostgreSQL.", "",
        "| scenario | messages | visible reply | longest reply (s) | fallback turns: longest (s) "
        "| lost | duplicated | reordered | no bot reply | retried | replayed | recover (s) | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f, c = r["figures"], r["check"]
        missed = [t for t, ok in r["targets"].items() if not ok]
        lines.append(
            f"| {r['what']} | {f['messages']} | {100 * (f['visible_share'] or 0):.1f} % "
            f"| {cell(f['longest_reply_s'])} | {cell(f['longest_fallback_s'])} "
            f"| {c.get('lost', 0)} | {c.get('duplicated', 0)} | {c.get('reordered', 0)} "
            f"| {c.get('no_reply', 0)} | {f['retried']} | {f['replayed']} | {cell(f['recover_s'])} "
            f"| {'all met' if not missed else 'MISSED: ' + '; '.join(missed)} |")
    lines += ["", "Columns: *visible reply*: messages whose customer saw a bot message (a reply or "
              "the \"briefly unavailable\" notice); *longest reply*: the longest a message took "
              "until its final answer, retries included; *recover*: from the fault's end (for a "
              "kill: the kill) to the start of the last message that needed a retry or did not "
              "end normally, so every later message was served at its first attempt; *replayed*: repeats answered from the tracker store instead of "
              "processed again.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"some of: {', '.join(sorted(BY_NAME))} (default: all)")
    parser.add_argument("--short", action="store_true", help="CI: one Rasa kill, ~2 min")
    parser.add_argument("--users", type=int)
    parser.add_argument("--duration", type=int)
    parser.add_argument("--name", default="faults",
                        help="report file name: <name>.md and <name>.json (default: faults)")
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - set(BY_NAME))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(sorted(BY_NAME))}")
    if args.short:
        chosen, timing = [BY_NAME["kill-rasa"]], Timing(args.users or 16, args.duration or 60, 20)
        out = SHORT_OUT
    else:
        chosen = [BY_NAME[n] for n in args.scenarios] or SCENARIOS
        timing = Timing(args.users or 24, args.duration or 90, 25)
        out = RESULTS
    logs = ROOT / "var" / "faults" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    base_run = f"faults{datetime.now(timezone.utc):%m%d%H%M%S}"
    command = ".venv/load/bin/python -m benchmarks.faults.run_faults " + " ".join(sys.argv[1:])
    results = []
    try:
        for scenario in chosen:
            results.append(run_scenario(scenario, timing, base_run, logs))
    finally:
        for tier in ("model", "actions"):
            unpause_all(tier)()  # never leave a paused tier behind
    (out / f"{args.name}.json").write_text(json.dumps(results, indent=2))
    (out / f"{args.name}.md").write_text(markdown(results, command))
    print(f"wrote {out / args.name}.md")
    missed = [(r["scenario"], t) for r in results for t, ok in r["targets"].items() if not ok]
    if missed:
        print("targets missed: " + "; ".join(f"{s}: {t}" for s, t in missed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
