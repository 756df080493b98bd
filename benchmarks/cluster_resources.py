"""Memory and CPU of each tier of the running Swarm stack (make cluster),
idle and under a bounded conversation load through the load balancer: the
figures behind the stack's memory limits and the Kubernetes requests/limits.

    .venv/rasa/bin/python -m benchmarks.cluster_resources [--users 4] [--turns 12]

`docker stats` is sampled every couple of seconds while USERS simulated
customers each hold TURNS turns (order questions, shop facts and questions for
the LLM fallback), one turn at a time. Writes benchmarks/results/cluster_resources.md.
Loopback only; bounded in turns and time.
"""
import argparse
import json
import re
import statistics
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import requests

from settings.defaults import setting

DOCKER = "/usr/bin/docker"
LB = f"http://{setting('PINE_LB_HOST').replace('0.0.0.0', '127.0.0.1')}:{setting('PINE_LB_PORT')}"
RESULTS = Path(__file__).parent / "results" / "cluster_resources.md"
SCRIPT = [
    "hi", "where is my order?", "10002", "customer10002@example.com",
    "what is your return policy?", "do you ship to Canada?",
    "can I wash a down sleeping bag in a machine?", "how do I choose trekking poles?",
    "I want to cancel an order", "never mind", "what are your opening hours?", "thanks, bye",
]
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def sample_stats() -> Dict[str, List[tuple]]:
    out = subprocess.run([DOCKER, "stats", "--no-stream", "--format", "{{json .}}"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    per_tier = defaultdict(list)
    for line in out.splitlines():
        row = json.loads(line)
        tier = row["Name"].split(".")[0].split("_", 1)[-1]
        used = row["MemUsage"].split("/")[0].strip()
        number, unit = re.match(r"([\d.]+)\s*(\w+)", used).groups()
        per_tier[tier].append((float(row["CPUPerc"].rstrip("%")), float(number) * UNITS[unit] / 2**20))
    return per_tier


def customer(turns: int) -> List[float]:
    sender, latencies = f"resources-{uuid.uuid4().hex[:10]}", []
    for text in (SCRIPT * 2)[:turns]:
        started = time.monotonic()
        response = requests.post(f"{LB}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                 timeout=90)
        response.raise_for_status()
        latencies.append(time.monotonic() - started)
    return latencies


def measure(users: int, turns: int, idle_samples: int = 3):
    idle = defaultdict(list)
    for _ in range(idle_samples):
        for tier, rows in sample_stats().items():
            idle[tier].extend(rows)
    loaded, done = defaultdict(list), threading.Event()

    def sampler():
        while not done.is_set():
            for tier, rows in sample_stats().items():
                loaded[tier].extend(rows)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    started = time.monotonic()
    with ThreadPoolExecutor(users) as pool:
        latencies = [x for result in pool.map(customer, [turns] * users) for x in result]
    wall = time.monotonic() - started
    done.set()
    thread.join(timeout=60)
    return idle, loaded, latencies, wall


def report(idle, loaded, latencies, wall, users, turns) -> str:
    lines = [
        "# Resources of the Swarm stack's tiers",
        "",
        f"`.venv/rasa/bin/python -m benchmarks.cluster_resources --users {users} --turns {turns}` "
        f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 2 cores, the stack of "
        "deploy/stack.yml (2 Rasa, 2 action, 2 model replicas). Per replica: memory (MiB) and CPU "
        "(% of one core) from `docker stats`, idle and while "
        f"{users} customers held {turns} turns each through the load balancer.",
        "",
        f"Load: {len(latencies)} turns in {wall:.0f} s; turn latency median "
        f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s.",
        "",
        "| tier | idle memory | peak memory under load | median CPU under load | peak CPU under load |",
        "|---|---|---|---|---|",
    ]
    for tier in sorted(loaded):
        idle_mem = max(m for _, m in idle[tier]) if idle[tier] else 0
        cpu = [c for c, _ in loaded[tier]]
        lines.append(f"| {tier} | {idle_mem:.0f} | {max(m for _, m in loaded[tier]):.0f} | "
                     f"{statistics.median(cpu):.0f} % | {max(cpu):.0f} % |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--turns", type=int, default=12)
    args = parser.parse_args()
    text = report(*measure(args.users, args.turns), args.users, args.turns)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
