"""The load benchmark of the deployed stack (make bench-load), side by side in
one run on the running Swarm stack (make cluster):

  (a) structured traffic at saturation with 1 and with 2 Rasa replicas;
  (b) mixed traffic (with LLM fallback questions) with 2 and with 1 model replica.

    .venv/load/bin/python -m benchmarks.load.run_load           # the long run (~20 min)
    .venv/load/bin/python -m benchmarks.load.run_load --short   # ~1 min, a few hundred messages

Per phase: scale and wait until the load balancer has the replicas ready, warm
up, run Locust headless (N closed-loop customers for T seconds), then collect:
messages/s and latency from the client's log, the checker's counts against the
tracker store (check_store.py), CPU-seconds per tier from the containers'
cgroups, peak memory per replica, the load generator's own CPU (it shares the
machine's cores with the stack), and Prometheus's figures. Writes load.md,
load.json, Locust's CSV and HTML reports and load.png (benchmarks/results/;
--short: var/load/short/). Exits 1 when the checker counts a failure.
Restores the replica counts it found, and removes the Prometheus container.
"""
import argparse
import contextlib
import json
import os
import platform
import resource
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

from benchmarks.load import cgroups, check_store, checks, figures, plot, report, stack
from benchmarks.load.prometheus import Prometheus

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
SHORT_OUT = ROOT / "var" / "load" / "short"
LOGS = ROOT / "var" / "load" / "logs"  # the client logs (JSON lines): big, not kept
LOCUSTFILE = ROOT / "benchmarks" / "load" / "locustfile.py"
STOP_TIMEOUT_S = 75     # lets the message in flight finish (request timeout 60 s + a retry)
STATEFUL_TIERS = ("postgres", "redis", "lb")  # one replica each, never scaled


@dataclass(frozen=True)
class Phase:
    name: str
    mix: str
    replicas: Dict[str, int]  # rasa / model replicas during the phase
    users: int
    duration_s: int
    warmup_s: int = 0
    think_s: float = 0.0      # 0: closed loop at saturation


def plan(args) -> List[Phase]:
    """The phases, in the order that needs the fewest slow scale-ups.

    Saturation needs few customers: 8 saturate one Rasa replica on 2 cores, 16 two.
    Many more at once queue so many turns per replica that its health check
    (the load balancer's, 2 s) times out and the replica is dropped; so the
    phase with 100+ concurrent conversations (the issue's 5,000 messages) has
    customers who take time to type (`think_s`), near saturation, not past it."""
    if args.short:
        return [Phase("short", "light", {"rasa": 2, "model": 2}, args.users or 16,
                      args.duration or 45)]
    users, duration = args.users or 16, args.duration or 90
    mixed_users, mixed_duration = args.mixed_users or 24, args.mixed_duration or 120
    return [
        Phase("structured-rasa1", "structured", {"rasa": 1, "model": 2}, users, duration, 20),
        Phase("structured-rasa2", "structured", {"rasa": 2, "model": 2}, users, duration, 30),
        Phase("soak-rasa2", "structured", {"rasa": 2, "model": 2}, args.soak_users or 120,
              args.soak_duration or 600, 0, args.soak_think or 12.0),
        Phase("mixed-model2", "mixed", {"rasa": 2, "model": 2}, mixed_users, mixed_duration, 0),
        Phase("mixed-model1", "mixed", {"rasa": 2, "model": 1}, mixed_users, mixed_duration, 20),
    ]


def locust(phase: Phase, run_id: str, users: int, duration_s: int, think_s: float,
           client_log: Path, report_prefix: Optional[Path]) -> float:
    """Runs Locust headless to the end; returns its CPU-seconds (user + system)."""
    # closed loop: everyone at once; with think time: first messages spread over
    # about one think time, not a burst of `users` turns at the same moment
    rate = max(1, users // 2) if think_s <= 0 else max(1, round(users / max(think_s, 1)))
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--host", stack.lb_url(), "-u", str(users), "-r", str(rate),
               "-t", f"{duration_s}s", "--stop-timeout", str(STOP_TIMEOUT_S),
               "--mix", phase.mix, "--run-id", run_id, "--client-log", str(client_log),
               "--think-time", str(think_s),
               "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    if report_prefix is not None:
        command += ["--csv", str(report_prefix), "--html", f"{report_prefix}.html"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(client_log.with_suffix(".locust.log"), "w") as output:
        subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                       stdout=output, stderr=subprocess.STDOUT,
                       timeout=duration_s + STOP_TIMEOUT_S + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def read_log(path: Path, run_id: str) -> List[Dict]:
    records = [r for r in (check_store.client_records([path]) if path.exists() else [])
               if r.get("run") == run_id]
    for r in records:
        r["started"] = datetime.fromisoformat(r["time"]).timestamp()
    return records


def ensure_replicas(wanted: Dict[str, int]) -> Dict[str, float]:
    """Scales each tier that differs; returns the seconds each scaling took."""
    took = {}
    for tier, n in wanted.items():
        if stack.service_replicas(tier) != n or stack.ready_replicas().get(tier) != n:
            print(f"  scaling {tier} to {n}", flush=True)
            took[tier] = round(stack.scale(tier, n), 1)
    return took


def tier_containers(with_prometheus: Optional[str]) -> Dict[str, List[str]]:
    tiers = {tier: stack.containers(tier) for tier in stack.TIERS}
    if with_prometheus:
        tiers["prometheus"] = [with_prometheus]
    return tiers


@dataclass
class Measured:
    """What one phase's run left behind, before any arithmetic."""
    started: float
    ended: float
    tiers: Dict[str, List[str]]                      # tier -> container ids
    cpu_before: Dict[str, float]
    cpu_after: Dict[str, float]
    busy_cores: float
    locust_cpu_s: float
    memory_peaks: Dict[str, int]
    lifetime_peaks: Dict[str, Optional[int]]
    records: List[Dict]
    check: Dict
    by_kind: Dict
    prometheus: object
    scaled_s: Dict[str, float] = field(default_factory=dict)


def phase_result(phase: Phase, run_id: str, m: Measured) -> Dict:
    """The phase's figures from its measurements (pure)."""
    client = figures.client_figures(m.records)
    counts = m.check["counts"]
    cpu_s = {tier: cgroups.cpu_delta({c: m.cpu_before[c] for c in ids if c in m.cpu_before},
                                     {c: m.cpu_after[c] for c in ids if c in m.cpu_after})
             for tier, ids in m.tiers.items()}
    cpu_s["locust"] = m.locust_cpu_s
    # whatever else ran on the machine meanwhile (it competes for the same cores)
    cpu_s["other"] = max(0.0, m.busy_cores * (m.ended - m.started) - sum(cpu_s.values()))
    fallbacks, stored = counts.get("fallback_turns", 0), counts.get("stored_user_messages", 0)
    return {
        **asdict(phase), "run_id": run_id, "started": m.started, "ended": m.ended,
        "scaled_s": m.scaled_s, "containers": {tier: len(ids) for tier, ids in m.tiers.items()},
        "client": client, "check": m.check,
        # a run that got nothing through (stack down) must not pass for a clean one
        "check_failures": checks.failures(m.check) + ([] if client["ok_messages"] else
                                                      [("messages answered", 0)]),
        "fallback_per_s": fallbacks / client["span_s"] if client["span_s"] else None,
        "fallback_share": fallbacks / stored if stored else 0.0,
        "cpu_s": cpu_s,
        "cpu_s_per_message": figures.per_message(cpu_s, client["ok_messages"]),
        "busy_cores": m.busy_cores,
        "memory_peak_mib": {t: [round(b / 2**20) for b in v]
                            for t, v in cgroups.tier_peaks(m.memory_peaks, m.tiers).items()},
        "memory_lifetime_peak_mib": {t: [round((m.lifetime_peaks.get(c) or 0) / 2**20) for c in ids]
                                     for t, ids in m.tiers.items()},
        "by_kind": m.by_kind,
        "prometheus": m.prometheus,
    }


def run_phase(phase: Phase, base_run: str, out: Path, prom: Optional[Prometheus]) -> Dict:
    """Scale, warm up, run Locust with the counters read around it, check."""
    print(f"==> {phase.name}: {phase.mix} traffic, {phase.users} customers, {phase.duration_s} s, "
          f"think {phase.think_s} s, replicas {phase.replicas}", flush=True)
    scaled = ensure_replicas(phase.replicas)
    logs = LOGS / base_run
    logs.mkdir(parents=True, exist_ok=True)
    if phase.warmup_s:
        # a new replica's first turns are slow (lazy loading): not part of the figures
        locust(phase, f"{base_run}-warm-{phase.name}", min(phase.users, 10), phase.warmup_s, 0.0,
               logs / f"warm-{phase.name}.jsonl", None)
    run_id = f"{base_run}-{phase.name}"
    client_log = logs / f"{phase.name}.jsonl"
    client_log.unlink(missing_ok=True)  # Locust appends: no records of an earlier run
    tiers = tier_containers(prom.container_id if prom else None)
    groups = {cid: g for ids in tiers.values() for cid in ids if (g := cgroups.find(cid))}
    cpu_before, jiffies_before = cgroups.cpu_snapshot(groups), cgroups.machine_jiffies()
    started = time.time()
    with cgroups.MemorySampler(groups) as memory:
        locust_cpu = locust(phase, run_id, phase.users, phase.duration_s, phase.think_s,
                            client_log, out / f"load-{phase.name}")
    ended, jiffies_after, cpu_after = time.time(), cgroups.machine_jiffies(), cgroups.cpu_snapshot(groups)
    result = phase_result(phase, run_id, Measured(
        started=started, ended=ended, tiers=tiers, cpu_before=cpu_before, cpu_after=cpu_after,
        busy_cores=cgroups.busy_cores(jiffies_before, jiffies_after), locust_cpu_s=locust_cpu,
        memory_peaks=memory.peaks,
        lifetime_peaks={cid: g.lifetime_peak_bytes() for cid, g in groups.items()},
        records=read_log(client_log, run_id), check=check_store.check_run(run_id, [client_log]),
        by_kind=figures.by_kind(figures.locust_rows(str(out / f"load-{phase.name}_stats.csv"))),
        prometheus=prom.phase_figures(started, ended) if prom else "not running",
        scaled_s=scaled))
    client = result["client"]
    print(f"  {client['ok_messages']} messages, {client['messages_per_s'] or 0:.1f}/s, p50 "
          f"{client['p50_s'] or 0:.2f} s, p95 {client['p95_s'] or 0:.2f} s; busy cores "
          f"{result['busy_cores']:.2f}", flush=True)
    print("  " + checks.summary(result["check"]).replace("\n", "\n  "), flush=True)
    return result


def machine() -> Dict[str, str]:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    memory_kib = next(int(line.split()[1]) for line in open("/proc/meminfo")
                      if line.startswith("MemTotal"))
    return {"cores": str(os.cpu_count()), "cpu": model, "memory_gib": f"{memory_kib / 2**20:.1f}",
            "kernel": platform.release()}


def draw(out: Path) -> Optional[str]:
    """load.png; None, or why there is none."""
    try:
        plot.main(str(out / "load.json"), str(out / "load.png"))
        return None
    except Exception as error:  # noqa: BLE001 - the report goes on without it
        return f"plot failed: {error}"


def restore_replicas(found: Dict[str, int]) -> None:
    print(f"==> restoring replicas {found}", flush=True)
    ensure_replicas(found)


def start_prometheus(cleanup: contextlib.ExitStack):
    """(Prometheus, None), or (None, why) when it cannot start: the run goes on without it."""
    try:
        return cleanup.enter_context(Prometheus()), None
    except Exception as error:  # noqa: BLE001
        print(f"Prometheus did not start: {error}", flush=True)
        return None, f"Prometheus did not start: {error}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true",
                        help="one 45 s phase, few fallback questions (CI)")
    parser.add_argument("--users", type=int, help="structured customers (short: all)")
    parser.add_argument("--duration", type=int, help="seconds per structured phase (short: the phase)")
    parser.add_argument("--mixed-users", type=int, help="customers of the mixed phases")
    parser.add_argument("--mixed-duration", type=int, help="seconds per mixed phase")
    parser.add_argument("--soak-users", type=int, help="concurrent conversations of the soak phase")
    parser.add_argument("--soak-duration", type=int, help="seconds of the soak phase")
    parser.add_argument("--soak-think", type=float, help="mean think time (s) of the soak phase")
    parser.add_argument("--no-prometheus", action="store_true")
    parser.add_argument("--out", type=Path, help="where the reports go")
    args = parser.parse_args()
    # a stop by SIGTERM (CI's timeout, kill) still restores replicas and removes Prometheus
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = args.out or (SHORT_OUT if args.short else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    phases = plan(args)
    base_run = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    found = {tier: stack.service_replicas(tier) for tier in ("rasa", "model")}
    started, results = time.monotonic(), []
    with contextlib.ExitStack() as cleanup:  # the stack as found, Prometheus removed
        if not args.short:
            cleanup.callback(restore_replicas, found)
        prom, prom_error = start_prometheus(cleanup) if not args.no_prometheus else (None, None)
        for phase in phases:
            results.append(run_phase(phase, base_run, out, prom))
    data = {
        "command": "make bench-load" if not args.short else
                   ".venv/load/bin/python -m benchmarks.load.run_load --short",
        "argv": shlex.join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": round(time.monotonic() - started),
        "machine": machine(), "short": args.short, "run_id": base_run,
        "prometheus_error": prom_error, "phases": results,
    }
    (out / "load.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    data["plot_error"] = draw(out)
    (out / "load.md").write_text(report.render(data))
    print(f"wrote {out / 'load.md'} ({data['wall_s']} s)", flush=True)
    failed = [(p["name"], p["check_failures"]) for p in results if p["check_failures"]]
    if failed:
        print(f"FAIL: {failed}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
