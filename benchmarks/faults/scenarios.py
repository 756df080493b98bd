"""The faults, each a pair of steps on the running stack: `inject` starts
the fault and `heal` ends it (for a kill, Swarm's own restart heals it: the
fault ends when the container dies). Thin docker calls, bounded in time."""
import random
import time
from dataclasses import dataclass
from typing import Callable, Optional

from benchmarks.load import stack


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str  # one line for the report
    mix: str  # the traffic during it (benchmarks/load/conversations.py)
    inject: Callable[[], None]
    heal: Optional[Callable[[], None]] = None
    hold_s: float = 0.0  # how long the fault lasts before `heal`
    # what Swarm must have back before the next scenario
    needs: Optional[dict] = None


def kill_one(tier: str) -> Callable[[], None]:
    def inject() -> None:
        victim = random.choice(stack.containers(tier))
        stack.docker("kill", victim)  # SIGKILL: no shutdown, in-flight turns die with it
    return inject


def pause_all(tier: str) -> Callable[[], None]:
    def inject() -> None:
        for container in stack.containers(tier):
            stack.docker("pause", container)
    return inject


def unpause_all(tier: str) -> Callable[[], None]:
    def heal() -> None:
        for container in stack.docker("ps", "-q", "--no-trunc", "--filter", "status=paused",
                                      "--filter", f"label=com.docker.swarm.service.name="
                                      f"{stack.stack_name()}_{tier}").split():
            stack.docker("unpause", container)
    return heal


def kill_redis() -> None:
    # a crash, restarted by Swarm (`docker restart` would bring the old
    # container back outside Swarm, next to the new task Swarm starts)
    (redis,) = stack.containers("redis")
    stack.docker("kill", redis)
    deadline = time.monotonic() + 30
    while redis in stack.containers("redis") and time.monotonic() < deadline:
        time.sleep(0.2)


def redis_answers_by_name() -> None:
    """Until a Rasa replica reaches the new Redis by its service name (the
    DNS entry comes with the new task): Redis is back for the servers."""
    probe = ("import os, redis; redis.Redis(host=os.environ['LOCK_STORE_HOST'], "
             "port=int(os.environ.get('LOCK_STORE_PORT', '6379')), socket_timeout=2).ping()")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rasa = stack.containers("rasa")
        if rasa:
            try:
                stack.docker("exec", rasa[0], "python3", "-c", probe, timeout=10)
                return
            except Exception:
                pass
        time.sleep(0.5)
    raise TimeoutError("Redis did not come back within 120 s")


def stop_postgres() -> None:
    # a stopped container would be replaced by Swarm at once: no replica is an outage
    stack.docker("service", "scale", "--detach", f"{stack.stack_name()}_postgres=0")
    deadline = time.monotonic() + 60
    while stack.containers("postgres") and time.monotonic() < deadline:
        time.sleep(0.5)


def start_postgres() -> None:
    stack.docker("service", "scale", "--detach", f"{stack.stack_name()}_postgres=1")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = stack.containers("postgres")
        if running:
            try:
                stack.docker("exec", running[0], "pg_isready", "-U", "postgres", "-q", timeout=10)
                return
            except Exception:
                pass
        time.sleep(0.5)
    raise TimeoutError("PostgreSQL did not come back within 120 s")


SCENARIOS = [
    Scenario("kill-rasa", "`docker kill` one of 2 Rasa replicas", "mixed", kill_one("rasa")),
    Scenario("kill-actions", "`docker kill` one of 2 action-server replicas", "mixed",
             kill_one("actions")),
    Scenario("kill-model", "`docker kill` one of 2 model-server replicas", "mixed",
             kill_one("model")),
    Scenario("pause-model", "`docker pause` every model-server replica for 20 s", "mixed",
             pause_all("model"), unpause_all("model"), 20),
    Scenario("pause-actions", "`docker pause` every action-server replica for 20 s", "mixed",
             pause_all("actions"), unpause_all("actions"), 20),
    Scenario("restart-redis", "`docker kill` Redis (the lock store), restarted by Swarm", "structured",
             kill_redis, redis_answers_by_name),
    Scenario("stop-postgres", "PostgreSQL (tracker store and orders) stopped for 30 s", "structured",
             stop_postgres, start_postgres, 30),
]
BY_NAME = {s.name: s for s in SCENARIOS}
