"""The running Swarm stack as the load test sees it: docker calls, the
load balancer's health, scaling, and SQL on the tracker store. Thin I/O; every
call is bounded in time (and the SQL in rows)."""
import json
import os
import subprocess
import time
import urllib.request
from typing import Dict, List

from settings.defaults import setting

DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
# the tiers whose CPU and memory are accounted, in report order
TIERS = ("rasa", "actions", "model", "postgres", "redis", "lb")


def stack_name() -> str:
    return setting("PINE_STACK")


def lb_url() -> str:
    host = setting("PINE_LB_HOST").replace("0.0.0.0", "127.0.0.1")
    return f"http://{host}:{setting('PINE_LB_PORT')}"


def docker(*args: str, timeout: float = 60) -> str:
    return subprocess.run([DOCKER, *args], check=True, capture_output=True, text=True,
                          timeout=timeout).stdout.strip()


def containers(tier: str) -> List[str]:
    """Full ids of the running containers of a tier."""
    return docker("ps", "-q", "--no-trunc", "--filter",
                  f"label=com.docker.swarm.service.name={stack_name()}_{tier}").split()


def ready_replicas() -> Dict[str, int]:
    with urllib.request.urlopen(f"{lb_url()}/health", timeout=5) as response:
        return json.load(response)["ready_replicas"]


def service_replicas(tier: str) -> int:
    mode = json.loads(docker("service", "inspect", "--format", "{{json .Spec.Mode}}",
                             f"{stack_name()}_{tier}"))
    return int(mode["Replicated"]["Replicas"])


def scale(tier: str, replicas: int, timeout_s: float = 600) -> float:
    """Scales a tier and waits until the load balancer has exactly that many
    ready replicas of it (and as many containers run); returns the seconds it took."""
    started = time.monotonic()
    docker("service", "scale", "--detach", f"{stack_name()}_{tier}={replicas}")
    while time.monotonic() - started < timeout_s:
        try:
            if ready_replicas().get(tier) == replicas and len(containers(tier)) == replicas:
                return time.monotonic() - started
        except (OSError, ValueError, subprocess.SubprocessError):
            pass  # the load balancer reloading
        time.sleep(2)
    raise TimeoutError(f"{tier} did not reach {replicas} ready replicas in {timeout_s:.0f} s")


def tracker_rows(sql: str, max_rows: int = 2_000_000, timeout: float = 180) -> List[Dict]:
    """JSON rows of a query on the tracker store (one json value per row)."""
    (postgres,) = containers("postgres")
    out = docker("exec", postgres, "psql", "-U", "postgres", "-d", setting("TRACKER_STORE_DB"),
                 "-v", "ON_ERROR_STOP=1", "-tA", "-c", f"{sql} LIMIT {int(max_rows)}",
                 timeout=timeout)
    return [json.loads(line) for line in out.splitlines() if line.strip()]
