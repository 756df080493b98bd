"""load.md from the run's data (load.json's content): a pure function of it."""
import math
from typing import Dict, List, Mapping, Optional, Sequence

from benchmarks.load import figures
from benchmarks.load.checks import FAILURES
from benchmarks.load.stack import TIERS

# the capacity model's stated fallback share
CAPACITY_FALLBACK_SHARE = 0.10
CHECK_COLUMNS = FAILURES + ("multi_replica_conversations",)


def num(value, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}{unit}"


def table(header: Sequence[str], rows: List[Sequence[str]]) -> List[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
           ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def phase(data: Mapping, name: str) -> Optional[Mapping]:
    return next((p for p in data["phases"] if p["name"] == name), None)


def summary_rows(phases: Sequence[Mapping]) -> List[List[str]]:
    rows = []
    for p in phases:
        c, k = p["client"], p["check"]["counts"]
        rows.append([
            p["name"], p["mix"], f"{p['replicas'].get('rasa')} / {p['replicas'].get('model')}",
            p["users"], f"{p.get('think_s', 0):g} s", f"{p['duration_s']} s", f"{c['ok_messages']:,}",
            num(c["messages_per_s"]),
            num(c["p50_s"], 2), num(c["p95_s"], 2), num(c["p99_s"], 2),
            num(p["fallback_per_s"], 2), f"{p['fallback_share']:.0%}", num(p["busy_cores"], 2),
        ])
    return rows


def ratios(data: Mapping) -> List[str]:
    lines = []
    s1, s2 = phase(data, "structured-rasa1"), phase(data, "structured-rasa2")
    if s1 and s2:
        r = figures.ratio(s2["client"]["messages_per_s"], s1["client"]["messages_per_s"])
        lines.append(f"- **Structured, 2 Rasa replicas / 1: {num(r, 2)}x messages/s** "
                     f"({num(s2['client']['messages_per_s'])} vs {num(s1['client']['messages_per_s'])}); "
                     f"machine busy {num(s1['busy_cores'], 2)} and {num(s2['busy_cores'], 2)} of "
                     f"{data['machine']['cores']} cores.")
    m1, m2 = phase(data, "mixed-model1"), phase(data, "mixed-model2")
    if m1 and m2:
        r = figures.ratio(m2["fallback_per_s"], m1["fallback_per_s"])
        lines.append(f"- **Mixed, 2 model replicas / 1: {num(r, 2)}x fallback replies/s** "
                     f"({num(m2['fallback_per_s'], 2)} vs {num(m1['fallback_per_s'], 2)}); messages/s "
                     f"{num(m2['client']['messages_per_s'])} vs {num(m1['client']['messages_per_s'])}.")
    return lines


def check_rows(phases: Sequence[Mapping]) -> List[List[str]]:
    rows = []
    for p in phases:
        k = p["check"]["counts"]
        rows.append([p["name"], f"{k.get('client_messages', 0):,}", f"{k.get('stored_user_messages', 0):,}",
                     f"{k.get('conversations', 0):,}"] + [f"{k.get(c, 0):,}" for c in CHECK_COLUMNS] +
                    [f"{k.get('retried', 0)} / {k.get('replayed', 0)}",
                     f"{k.get('empty_reply', 0)} / {k.get('unexpected_reply', 0)}"])
    return rows


def cpu_rows(phases: Sequence[Mapping]) -> List[List[str]]:
    tiers = list(TIERS) + ["locust", "prometheus", "other"]
    rows = []
    for tier in tiers:
        row = [tier]
        for p in phases:
            per = p["cpu_s_per_message"].get(tier)
            row.append(f"{num(per * 1000 if per is not None else None, 1)} ms "
                       f"({num(p['cpu_s'].get(tier), 0)} s)" if per is not None else "–")
        rows.append(row)
    return rows


def memory_rows(phases: Sequence[Mapping]) -> List[List[str]]:
    rows = []
    for tier in TIERS:
        row = [tier]
        for p in phases:
            peaks = p["memory_peak_mib"].get(tier) or []
            row.append(", ".join(f"{m:,}" for m in peaks) or "–")
        rows.append(row)
    return rows


def kind_rows(phases: Sequence[Mapping]) -> List[List[str]]:
    kinds = sorted({k for p in phases for k in p["by_kind"]})
    rows = []
    for kind in kinds:
        row = [kind]
        for p in phases:
            s = p["by_kind"].get(kind)
            row.append(f"{s['requests']:,}: {num((s['p50_ms'] or 0) / 1000, 2)} / "
                       f"{num((s['p95_ms'] or 0) / 1000, 2)}" if s else "–")
        rows.append(row)
    return rows


def prom_value(figures_: Mapping, name: str, **labels) -> Optional[float]:
    series = figures_.get(name)
    if not isinstance(series, list):
        return None
    hits = [s["value"] for s in series if all(s.get(k) == v for k, v in labels.items())]
    return sum(hits) if hits else None


def prom_rows(phases: Sequence[Mapping]) -> List[List[str]]:
    rows = []
    for p in phases:
        f = p["prometheus"]
        if not isinstance(f, dict):
            rows.append([p["name"], f"{f}"] + ["–"] * 8)
            continue
        up = f.get("up") if isinstance(f.get("up"), list) else []
        scraped = ", ".join(f"{job} {sum(s['value'] == 1 for s in up if s.get('job') == job)}/"
                            f"{sum(1 for s in up if s.get('job') == job)}"
                            for job in ("rasa", "actions", "model"))
        fallback = f.get("rasa_fallback_replies")
        fallback_text = (", ".join(f"{s.get('outcome', '?')} {s['value']:.0f}" for s in fallback)
                         if isinstance(fallback, list) and fallback else "–")
        rows.append([
            p["name"], scraped,
            num(prom_value(f, "model_requests", endpoint="/v1/chat/completions", status="200"), 0),
            num(prom_value(f, "model_requests", endpoint="/v1/embeddings", status="200"), 0),
            num(prom_value(f, "model_generated_tokens"), 0),
            f"{num(prom_value(f, 'model_chat_p50_s'), 2)} / {num(prom_value(f, 'model_chat_p95_s'), 2)}",
            num(prom_value(f, "model_max_queue_depth"), 0),
            num(prom_value(f, "rasa_messages"), 0),
            f"{num(prom_value(f, 'rasa_turn_p50_s'), 2)} / {num(prom_value(f, 'rasa_turn_p95_s'), 2)} / "
            f"{num(prom_value(f, 'rasa_turn_p99_s'), 2)}",
            fallback_text,
        ])
    return rows


def cores_used(p: Mapping, tier: str) -> Optional[float]:
    span = p["client"]["span_s"]
    return p["cpu_s"].get(tier, 0.0) / span if span else None


def reading(data: Mapping) -> List[str]:
    """What the CPU figures say about the ratios, computed from them."""
    lines, cores = [], int(data["machine"]["cores"])
    s1, s2 = phase(data, "structured-rasa1"), phase(data, "structured-rasa2")
    if s1 and s2:
        per = sum(v or 0.0 for t, v in s2["cpu_s_per_message"].items() if t not in ("other",))
        lines.append(
            f"- One Rasa replica used {num(cores_used(s1, 'rasa'), 2)} cores at saturation "
            f"(two: {num(cores_used(s2, 'rasa'), 2)}): a Rasa server is one Python event loop, so one "
            "replica cannot use more than about one core, and a second replica is what lets Rasa use "
            f"the second core. With 2 replicas the whole machine is the limit: every message costs "
            f"{num(per * 1000, 0)} CPU-ms over all tiers and the load generator, so {cores} cores "
            f"hold at most {num(cores / per if per else None, 1)} messages/s "
            f"(measured: {num(s2['client']['messages_per_s'], 1)}).")
    for p in data["phases"]:
        other = cores_used(p, "other")
        if other is not None and other > 0.2:
            lines.append(f"- **`{p['name']}` shared the machine with other work**: "
                         f"{num(other, 2)} cores busy outside the stack and the load generator "
                         "(its throughput is lower than on a quiet machine).")
    m1, m2 = phase(data, "mixed-model1"), phase(data, "mixed-model2")
    if m1 and m2:
        lines.append(
            f"- Mixed traffic: the model tier used {num(cores_used(m2, 'model'), 2)} cores with 2 "
            f"replicas and {num(cores_used(m1, 'model'), 2)} with 1. On {cores} cores a second model "
            "replica adds no cores, only a second copy competing with the first and with Rasa for "
            "them, while one replica batches concurrent generations; the LLM fallback's deadline "
            "then decides how many replies are generated and how many are canned "
            "(`fallback replies by outcome`, Prometheus).")
    return lines


def capacity_lines(data: Mapping) -> List[str]:
    # below saturation (soak) the costs carry less contention than at saturation
    s = phase(data, "soak-rasa2") or phase(data, "structured-rasa2")
    m = phase(data, "mixed-model2")
    if not (s and m):
        return ["(needs a structured phase with 2 Rasa replicas and mixed-model2: not in a --short run)"]
    structured = {t: s["cpu_s_per_message"].get(t) or 0.0 for t in TIERS}
    mixed = {t: m["cpu_s_per_message"].get(t) or 0.0 for t in TIERS}
    share = m["fallback_share"]
    fallback = figures.fallback_cost(structured, mixed, share)
    target = CAPACITY_FALLBACK_SHARE
    cores = figures.capacity(structured, fallback, target)
    rows = [[t, num(structured[t] * 1000, 1), num(fallback[t] * 1000, 1),
             num(cores[t][100], 1), num(cores[t][1000], 0)] for t in TIERS]
    total = {rate: sum(cores[t][rate] for t in TIERS) for rate in (100, 1000)}
    rows.append(["**all tiers**", "", "", f"**{num(total[100], 1)}**", f"**{num(total[1000], 0)}**"])
    return [
        f"CPU-seconds per message from `{s['name']}` (structured) and `mixed-model2` "
        f"({share:.0%} of its messages were fallbacks), solved for the cost of one fallback message: "
        f"mixed = (1 − share) × structured + share × fallback. **Stated fallback share: "
        f"{target:.0%}** of messages.",
        "",
        *table(["tier", "CPU ms / structured message", "CPU ms / fallback message",
                "cores for 100 msg/s", "cores for 1,000 msg/s"], rows),
        "",
        *token_line(m),
        "",
        "Arithmetic, not a measurement at that scale: costs were measured at or near saturation on 2 shared "
        "cores (contention included, so the figures are on the high side for Rasa), and linear "
        "scaling assumes PostgreSQL and Redis stay single instances with headroom; at 1,000 msg/s "
        "PostgreSQL's share is what decides whether one primary still holds (it writes every event).",
    ]


def token_line(m: Mapping) -> List[str]:
    """The model tier's cost per generated token: what sizes it for fallbacks
    that all get a generated answer (under load many hit the deadline instead)."""
    f = m.get("prometheus")
    tokens = prom_value(f, "model_generated_tokens") if isinstance(f, dict) else None
    outcomes = f.get("rasa_fallback_replies") if isinstance(f, dict) else None
    if not tokens:
        return []
    per_token = m["cpu_s"]["model"] / tokens
    line = (f"The model tier spent {num(per_token * 1000, 0)} CPU-ms per generated token in "
            f"`{m['name']}` ({num(tokens, 0)} tokens, Prometheus)")
    if isinstance(outcomes, list) and outcomes:
        total = sum(o["value"] for o in outcomes)
        generated = sum(o["value"] for o in outcomes if o.get("outcome") == "generated")
        line += (f"; only {num(generated, 0)} of {num(total, 0)} fallback replies were generated "
                 "answers, the others extractive or canned because the model call ran out of the fallback's time budget (outcome `model_unavailable`), "
                 "so a tier sized for every fallback to be generated needs more than the table says")
    return [line + "."]


def render(data: Mapping) -> str:
    phases = data["phases"]
    names = [p["name"] for p in phases]
    machine = data["machine"]
    lines = [
        "# Load test of the deployed stack (issue 9)",
        "",
        f"`{data['command']}` ({'`' + data['argv'] + '`, ' if data.get('argv') else ''}"
        f"{data['date']}, {data['wall_s']} s in all; run id `{data['run_id']}`). "
        "It needs the Swarm stack running (`make cluster`).",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gib']} GiB, kernel "
        f"{machine['kernel']}. **Everything shares those {machine['cores']} cores**: every replica of "
        "every tier, the load balancer, Prometheus, and Locust itself (its CPU is in the tables).",
        "",
        "Simulated customers (Locust, headless) hold whole conversations over "
        "REST through the load balancer, each with a new sender id: greeting, order status with "
        "demo order 10002 and its e-mail, a cancellation (declined at the confirmation, so the "
        "orders stay as seeded), a return, shop facts, and (mixed only) an open question for the "
        "LLM fallback (`benchmarks/load/conversations.py`, weights in `MIXES`). Every message "
        "carries `message_id`, `seq` and `load_run` in its metadata; a failed attempt is retried "
        "with the same body (`retry.py`). Latency is per message, all its attempts together.",
        "",
        "Saturation phases are a closed loop (no think time: each customer sends its next message "
        "as soon as the last is answered) with few customers: 8 already saturate one Rasa replica "
        "and 16 two. Far more customers in a closed loop queue so many turns on each replica that "
        "its health check (the load balancer's, 2 s) times out and nginx drops the replica: every "
        "request then gets 503 until it is back. The soak phase therefore holds 100+ concurrent "
        "conversations of customers who take time to type (think time ±50 %), just below "
        "saturation, for the issue's 5,000 messages.",
        "",
        "## Phases",
        "",
        *table(["phase", "mix", "Rasa / model replicas", "customers", "think time", "time",
                "messages answered",
                "messages/s", "p50 s", "p95 s", "p99 s", "fallback replies/s", "fallback share",
                "busy cores"], summary_rows(phases)),
        "",
        *ratios(data),
        *reading(data),
        "",
        "## Checker: client log against the tracker store",
        "",
        "`check_store.py` reads every conversation of the phase from PostgreSQL (`events`) and "
        "compares it with the client's log: *lost* = answered normally but not stored; "
        "*duplicated* = a seq stored twice; *reordered* = stored seqs not increasing; *no reply* = "
        "a stored message with no bot event before the next; *out of order* = the texts the "
        "client got are not those stored after that message; *no visible reply* = neither a "
        "normal reply nor the server's \"briefly unavailable\" notice.",
        "",
        *table(["phase", "sent", "stored", "conversations", "lost", "duplicated", "reordered",
                "no reply", "out of order", "no visible reply", "served by 2+ replicas",
                "retried / replayed", "empty / unexpected replies"], check_rows(phases)),
        "",
        *examples(phases),
        "## Latency by step (Locust): requests: p50 / p95 seconds",
        "",
        *table(["step"] + names, kind_rows(phases)),
        "",
        "## CPU per message by tier",
        "",
        "CPU-milliseconds per answered message (CPU-seconds of the phase in brackets), all replicas "
        "of a tier together, from the containers' cgroup CPU accounting read before and after "
        "the phase; `locust` is the load generator (its process's own CPU time), `prometheus` the "
        "scraper, `other` every other process on the machine meanwhile (the machine's busy time "
        "from /proc/stat less all of the above: other work competing for the same cores).",
        "",
        *table(["tier"] + names, cpu_rows(phases)),
        "",
        "## Peak memory per replica (MiB)",
        "",
        "Working set (cgroup memory less inactive page cache, as `docker stats` counts it), "
        "sampled every second during the phase; one figure per replica.",
        "",
        *table(["tier"] + names, memory_rows(phases)),
        "",
        "## Prometheus",
        "",
        "A real Prometheus (Debian's package) ran as a container on the stack's network, "
        "scraping every replica's `/metrics` (DNS service discovery on `tasks.rasa:5005`, "
        "`tasks.actions:5055`, `tasks.model:8000`, every 5 s); figures are `increase()` over the "
        "phase, queried from its HTTP API after the phase.",
        "",
    ]
    if data.get("prometheus_error"):
        lines += [f"**{data['prometheus_error']}**", ""]
    lines += [
        *table(["phase", "targets up (rasa, actions, model)", "model chat requests",
                "model embedding requests", "tokens generated", "model chat p50 / p95 s",
                "max model queue", "Rasa messages (pine_messages_total)",
                "Rasa turn p50 / p95 / p99 s (pine_turn_seconds)",
                "fallback replies by outcome"], prom_rows(phases)),
        "",
        "## Capacity model",
        "",
        *capacity_lines(data),
        "",
        "## Files",
        "",
        "Per phase `load-<phase>_stats.csv`, `_stats_history.csv`, `_failures.csv`, "
        "`_exceptions.csv` and `load-<phase>.html` (Locust), `load.json` (every figure above, "
        "with the checker's examples), " + ("`load.png` (throughput and latency per phase)."
                                            if not data.get("plot_error") else
                                            f"no plot ({data['plot_error']})."),
        "",
    ]
    return "\n".join(lines)


def examples(phases: Sequence[Mapping]) -> List[str]:
    lines = []
    for p in phases:
        ex = p["check"].get("examples", {})
        shown = {k: v for k, v in ex.items() if k in FAILURES or k in ("empty_reply", "unexpected_reply")}
        if shown:
            lines.append(f"Examples in `{p['name']}`:")
            for kind, items in shown.items():
                lines.append(f"- {kind}: `{items[0]}`")
            lines.append("")
    return lines
