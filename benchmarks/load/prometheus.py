"""A real Prometheus (Debian's package, /usr/bin/prometheus: a Go binary) that
scrapes every replica of the Rasa, action and model tiers during the run, and
the queries whose answers go into the report.

This machine cannot reach the stack's overlay network, so Prometheus runs as a
container on it (the stack's network is attachable), from the project's base
image with the host's binary mounted read-only; it finds the replicas through
Swarm's DNS (`tasks.<service>`, type A) and publishes its API on loopback only.
"""
import json
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from benchmarks.load import stack

BINARY = "/usr/bin/prometheus"
IMAGE = "pine/debian:bookworm"
CONTAINER = "pine-load-prometheus"
PORT = 19090
SCRAPE_INTERVAL_S = 5
# job -> (service, port): every replica's /metrics (Rasa's may 404 until it has one)
TARGETS = {"rasa": ("rasa", 5005), "actions": ("actions", 5055), "model": ("model", 8000)}


def config(interval_s: int = SCRAPE_INTERVAL_S) -> str:
    """prometheus.yml (YAML is a superset of JSON: no YAML library needed)."""
    return json.dumps({
        "global": {"scrape_interval": f"{interval_s}s", "scrape_timeout": f"{interval_s}s"},
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics",
             "dns_sd_configs": [{"names": [f"tasks.{service}"], "type": "A", "port": port,
                                 "refresh_interval": f"{interval_s}s"}]}
            for job, (service, port) in TARGETS.items()
        ],
    }, indent=1)


# name -> PromQL over the phase's window ({w}, e.g. "300s"), evaluated at its end
QUERIES = {
    # model tier
    "model_requests": 'sum by (endpoint, status) (increase(model_server_requests_total[{w}]))',
    "model_generated_tokens": "sum(increase(model_server_generated_tokens_total[{w}]))",
    "model_prompt_tokens": "sum(increase(model_server_prompt_tokens_total[{w}]))",
    "model_rejected": "sum(increase(model_server_rejected_queue_full_total[{w}]))",
    "model_cancelled": "sum(increase(model_server_cancelled_total[{w}]))",
    "model_chat_p50_s": 'histogram_quantile(0.5, sum by (le) '
                        '(increase(model_server_request_latency_seconds_bucket{{endpoint="chat"}}[{w}])))',
    "model_chat_p95_s": 'histogram_quantile(0.95, sum by (le) '
                        '(increase(model_server_request_latency_seconds_bucket{{endpoint="chat"}}[{w}])))',
    "model_ttft_p50_s": "histogram_quantile(0.5, sum by (le) "
                        "(increase(model_server_time_to_first_token_seconds_bucket[{w}])))",
    "model_max_queue_depth": "max(max_over_time(model_server_queue_depth[{w}]))",
    # Rasa tier (the Rasa /metrics endpoint of issue 9)
    "rasa_messages": "sum by (channel) (increase(pine_messages_total[{w}]))",
    "rasa_turn_p50_s": "histogram_quantile(0.5, sum by (le, channel) (increase(pine_turn_seconds_bucket[{w}])))",
    "rasa_turn_p95_s": "histogram_quantile(0.95, sum by (le, channel) (increase(pine_turn_seconds_bucket[{w}])))",
    "rasa_turn_p99_s": "histogram_quantile(0.99, sum by (le, channel) (increase(pine_turn_seconds_bucket[{w}])))",
    "rasa_fallback_replies": "sum by (outcome) (increase(pine_fallback_replies_total[{w}]))",
    # every target: 1 = scraped
    "up": "up",
}


def api(path: str, params: Mapping[str, str], port: int = PORT, timeout: float = 10):
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def simplify(result: List[Dict]) -> List[Dict]:
    """Prometheus vector results as [{labels..., "value": float}]."""
    return [{**r["metric"], "value": float(r["value"][1])} for r in result]


class Prometheus:
    """Start with `with Prometheus() as p:`; the container is removed on exit."""

    def __init__(self, port: int = PORT, interval_s: int = SCRAPE_INTERVAL_S):
        self.port, self.interval_s = port, interval_s
        self.error: Optional[str] = None
        self.container_id: Optional[str] = None

    def __enter__(self) -> "Prometheus":
        self._folder = tempfile.TemporaryDirectory(prefix="pine-load-prometheus-")
        path = Path(self._folder.name)
        (path / "prometheus.yml").write_text(config(self.interval_s))
        path.chmod(0o755)
        (path / "prometheus.yml").chmod(0o644)
        stop()
        self.container_id = stack.docker(
            "run", "-d", "--name", CONTAINER, "--network", f"{stack.stack_name()}_pine",
            "--memory", "512m", "-p", f"127.0.0.1:{self.port}:9090",
            "-v", f"{BINARY}:/usr/local/bin/prometheus:ro", "-v", f"{path}:/etc/pine-prometheus:ro",
            IMAGE, "/usr/local/bin/prometheus", "--config.file=/etc/pine-prometheus/prometheus.yml",
            "--storage.tsdb.path=/tmp/prometheus", "--storage.tsdb.retention.time=1d",
            "--web.listen-address=0.0.0.0:9090")
        self.wait_ready()
        return self

    def __exit__(self, *_) -> None:
        stop()
        self._folder.cleanup()

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                    return
            except OSError:
                time.sleep(1)
        raise TimeoutError(f"Prometheus not ready on 127.0.0.1:{self.port} in {timeout_s:.0f} s")

    def query(self, expr: str, at: float) -> List[Dict]:
        answer = api("/api/v1/query", {"query": expr, "time": f"{at:.3f}"}, self.port)
        return simplify(answer["data"]["result"])

    def phase_figures(self, started: float, ended: float) -> Dict[str, object]:
        """Every QUERIES figure over [started, ended] (epoch seconds), after the
        scrape that covers the end has happened."""
        time.sleep(max(0.0, ended + self.interval_s + 1 - time.time()))
        window = f"{max(int(ended - started), self.interval_s * 2)}s"
        figures: Dict[str, object] = {}
        for name, template in QUERIES.items():
            try:
                figures[name] = self.query(template.format(w=window), ended + self.interval_s)
            except (OSError, ValueError, KeyError) as error:
                figures[name] = f"error: {error}"
        return figures


def stop() -> None:
    """Removes the Prometheus container, if any (also a leftover of a killed run)."""
    try:
        stack.docker("rm", "-f", CONTAINER)
    except Exception:  # noqa: BLE001 - nothing to remove
        pass
