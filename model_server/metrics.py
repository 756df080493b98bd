"""Prometheus metrics, in a registry per app (no global state, so tests can build several apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the app)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)
STEP_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 4, 8, 16, 32)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        p = "model_server_"
        self.queue_depth = Gauge(p + "queue_depth", "requests waiting for a batch slot", registry=r)
        self.batch_size = Gauge(p + "running_batch_size", "sequences in the running batch",
                                registry=r)
        self.generated_tokens = Counter(p + "generated_tokens", "tokens generated", registry=r)
        self.prompt_tokens = Counter(p + "prompt_tokens", "prompt tokens prefilled", registry=r)
        self.prefix_hits = Counter(p + "prefix_cache_hits", "prompts that reused a cached prefix",
                                   registry=r)
        self.ttft = Histogram(p + "time_to_first_token_seconds",
                              "arrival to first generated token", buckets=TTFT_BUCKETS, registry=r)
        self.latency = Histogram(p + "request_latency_seconds", "arrival to last byte",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.step_seconds = Histogram(p + "step_seconds", "one engine forward pass", ["phase"],
                                      buckets=STEP_BUCKETS, registry=r)
        self.requests = Counter(p + "requests", "answered requests", ["endpoint", "status"],
                                registry=r)
        self.rejected = Counter(p + "rejected_queue_full", "requests refused with 429",
                                registry=r)
        self.cancelled = Counter(p + "cancelled", "requests whose client went away", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
