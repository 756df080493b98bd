"""Does a slow or dead model server slow down other conversations?

Starts the real Rasa server and action server three times, with the model
server URL pointing at (1) nothing (connection refused), (2) a "black hole"
that accepts connections and never answers, i.e. a hung model server. In each
setting, one group of users keeps sending open-ended messages (each one waits
for the LLM fallback's deadline) while other users send structured requests
("what are your opening hours?"); we measure the structured requests' latency
and compare it with a run without fallback traffic.

    .venv/rasa/bin/python -m benchmarks.fallback_isolation [--rounds N]
Writes benchmarks/results/fallback_isolation.md.
"""
import argparse
import asyncio
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import requests

from tests.support.stack import PROJECT_ROOT, Stack, base_env, free_port

OUT = PROJECT_ROOT / "benchmarks" / "results" / "fallback_isolation.md"
STRUCTURED = "what are your opening hours?"
OPEN_ENDED = "what do you think about the meaning of life?"


def start_black_hole(port: int) -> threading.Event:
    """A TCP server that accepts connections and never answers."""
    stop = threading.Event()

    async def handle(reader, writer):
        while not stop.is_set():
            await asyncio.sleep(0.2)
        writer.close()

    def serve():
        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", port)
            async with server:
                while not stop.is_set():
                    await asyncio.sleep(0.2)

        asyncio.run(main())

    threading.Thread(target=serve, daemon=True).start()
    time.sleep(0.5)
    return stop


def timed_post(url: str, sender: str, text: str) -> float:
    started = time.monotonic()
    response = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    assert response.json(), f"no reply to {text!r}"
    return time.monotonic() - started


def measure(stack: Stack, rounds: int, background: bool) -> Dict[str, float]:
    """Median/p95 latency of structured requests, with or without 4 users
    sending open-ended messages at the same time."""
    stop = threading.Event()
    fallback_latencies: List[float] = []

    def open_ended_user(index: int):
        while not stop.is_set():
            fallback_latencies.append(timed_post(stack.rest_webhook, f"open-{index}-{time.time()}", OPEN_ENDED))

    with ThreadPoolExecutor(max_workers=5) as pool:
        workers = [pool.submit(open_ended_user, i) for i in range(4)] if background else []
        time.sleep(1.0 if background else 0)
        latencies = [timed_post(stack.rest_webhook, f"structured-{i}", STRUCTURED) for i in range(rounds)]
        stop.set()
        for worker in workers:
            worker.result()
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(latencies),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * (len(ordered) - 1) + 0.5))],
        "fallback_p50": statistics.median(fallback_latencies) if fallback_latencies else float("nan"),
        "fallbacks": len(fallback_latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rows = []
    for setting in ("dead", "hung"):
        port = free_port()
        stop_black_hole = start_black_hole(port) if setting == "hung" else None
        env = base_env(MODEL_SERVER_URL=f"http://127.0.0.1:{port}/v1", LLM_DEADLINE_S="4",
                       KNOWLEDGE_INDEX_PATH=str(PROJECT_ROOT / "results" / "isolation_index.json"))
        with Stack(workdir=PROJECT_ROOT / "results" / f"isolation-{setting}", env=env) as stack:
            timed_post(stack.rest_webhook, "warm-up", STRUCTURED)
            quiet = measure(stack, args.rounds, background=False)
            busy = measure(stack, args.rounds, background=True)
        if stop_black_hole:
            stop_black_hole.set()
        rows.append((setting, quiet, busy))

    lines = [
        "# Structured requests while the model server is dead or hung", "",
        f"Command: `.venv/rasa/bin/python -m benchmarks.fallback_isolation --rounds {args.rounds}`", "",
        "LLM deadline 4 s. 'busy': 4 other users send open-ended messages non-stop, each waiting for "
        "the fallback's deadline; the structured request is 'what are your opening hours?'.", "",
        "| model server | structured p50 quiet | p50 busy | p95 quiet | p95 busy | busy/quiet p50 | fallback p50 | fallbacks |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting, quiet, busy in rows:
        lines.append(
            f"| {setting} | {quiet['p50']*1000:.0f} ms | {busy['p50']*1000:.0f} ms | {quiet['p95']*1000:.0f} ms | "
            f"{busy['p95']*1000:.0f} ms | {busy['p50']/quiet['p50']:.2f}x | {busy['fallback_p50']:.2f} s | {busy['fallbacks']} |"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
