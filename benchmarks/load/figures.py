"""The arithmetic of the report, pure: latency percentiles and throughput
from the client's records, Locust's CSV rows, CPU-seconds per message, and the
capacity model. Standard library only."""
import csv
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from benchmarks.load.checks import OK

STRUCTURED, FALLBACK = "structured", "fallback"


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _end(record: Mapping) -> float:
    return record["started"] + record["latency_s"]


def client_figures(records: Sequence[Mapping]) -> Dict[str, Optional[float]]:
    """Messages, messages/s and latency (all attempts of a message together) of
    the normally answered messages. `started` is each record's epoch second
    (run_load adds it from `time`)."""
    ok = [r for r in records if r["final_outcome"] == OK]
    latencies = [r["latency_s"] for r in ok]
    span = (max(_end(r) for r in records) - min(r["started"] for r in records)) if records else 0
    return {
        "messages": len(records),
        "ok_messages": len(ok),
        "span_s": span,
        "messages_per_s": len(ok) / span if span > 0 else None,
        "p50_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies) if latencies else None,
    }


def locust_rows(path: str) -> List[Dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def by_kind(rows: Iterable[Mapping[str, str]]) -> Dict[str, Dict[str, float]]:
    """Locust's stats CSV as kind -> requests, failures, p50/p95/p99 (ms)."""
    out = {}
    for row in rows:
        if not row.get("Name") or row.get("Type") == "":
            continue
        out[row["Name"]] = {
            "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "p50_ms": float(row["50%"]) if row["50%"] not in ("N/A", "") else None,
            "p95_ms": float(row["95%"]) if row["95%"] not in ("N/A", "") else None,
            "p99_ms": float(row["99%"]) if row["99%"] not in ("N/A", "") else None,
        }
    return out


def per_message(cpu_s: Mapping[str, float], messages: int) -> Dict[str, Optional[float]]:
    return {tier: (s / messages if messages else None) for tier, s in cpu_s.items()}


def fallback_cost(structured: Mapping[str, float], mixed: Mapping[str, float],
                  share: float) -> Dict[str, float]:
    """CPU-seconds of one fallback message per tier, from a structured phase and a
    mixed phase with `share` fallback messages: mixed = (1-share)*s + share*f."""
    if share <= 0:
        return {tier: 0.0 for tier in structured}
    return {tier: max(0.0, (mixed.get(tier, 0.0) - (1 - share) * structured[tier]) / share)
            for tier in structured}


def capacity(structured: Mapping[str, float], fallback: Mapping[str, float], share: float,
             rates: Sequence[int] = (100, 1000)) -> Dict[str, Dict[int, float]]:
    """Cores per tier to serve each rate (messages/s) with `share` of them fallbacks."""
    return {tier: {rate: rate * ((1 - share) * structured[tier] + share * fallback.get(tier, 0.0))
                   for rate in rates}
            for tier in structured}


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None
