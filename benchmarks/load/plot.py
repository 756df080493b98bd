"""load.png: messages/s and latency (p50/p95/p99) per phase, from load.json.

    .venv/load/bin/python -m benchmarks.load.plot benchmarks/results/load.json benchmarks/results/load.png

run_load.py calls it after the run (matplotlib: requirements/load.txt).
"""
import json
import sys


def main(source: str, target: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = json.load(open(source))["phases"]
    names = [p["name"] for p in phases]
    x = range(len(names))
    fig, (rate, latency) = plt.subplots(1, 2, figsize=(11, 4))
    rate.bar(x, [p["client"]["messages_per_s"] or 0 for p in phases], color="#4c72b0",
             label="messages/s")
    rate.bar(x, [p["fallback_per_s"] or 0 for p in phases], color="#dd8452", width=0.4,
             label="fallback replies/s")
    rate.set_title("throughput (soak: below saturation)")
    rate.legend()
    for q, style in (("p50_s", "o-"), ("p95_s", "s--"), ("p99_s", "^:")):
        latency.plot(list(x), [p["client"][q] or 0 for p in phases], style, label=q[:-2])
    latency.set_title("latency per message (s)")
    latency.legend()
    for ax in (rate, latency):
        ax.set_xticks(list(x))
        ax.set_xticklabels([f"{n}\n{p['users']} customers" for n, p in zip(names, phases)],
                           fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:3])
