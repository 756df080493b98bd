"""CPU time and memory of containers from their cgroups, and of the whole
machine from /proc/stat. Works with cgroup v2 (cpu.stat, memory.current) and
v1 (cpuacct.usage, memory.usage_in_bytes), found by the container's full id.

Parsing and arithmetic are pure functions; reading is a file read, no
subprocess, so that sampling during a phase costs next to nothing and does not
count as the load generator's CPU (run_load.py measures that from its children).
"""
import glob
import os
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

ROOT = "/sys/fs/cgroup"


def parse_flat_keyed(text: str) -> Dict[str, int]:
    """`key value` lines (cpu.stat, memory.stat) as a dict."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def working_set(usage_bytes: int, stat: Mapping[str, int]) -> int:
    """Memory in use less the reclaimable inactive page cache, as `docker stats` shows it."""
    inactive = stat.get("inactive_file", stat.get("total_inactive_file", 0))
    return max(usage_bytes - inactive, 0)


def busy_cores(before: Tuple[int, int], after: Tuple[int, int]) -> float:
    """Share of all cores busy between two /proc/stat (total, idle) readings, in cores."""
    total, idle = after[0] - before[0], after[1] - before[1]
    return (total - idle) / total * os.cpu_count() if total > 0 else 0.0


def machine_jiffies() -> Tuple[int, int]:
    """(total, idle incl. iowait) jiffies of all cores."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


@dataclass(frozen=True)
class Cgroup:
    """Where one container's counters are: v2 has one folder, v1 one per controller."""
    cpu_dir: str
    memory_dir: str
    v2: bool

    def cpu_seconds(self) -> float:
        if self.v2:
            return parse_flat_keyed(_read(f"{self.cpu_dir}/cpu.stat"))["usage_usec"] / 1e6
        return int(_read(f"{self.cpu_dir}/cpuacct.usage")) / 1e9

    def memory_bytes(self) -> int:
        stat = parse_flat_keyed(_read(f"{self.memory_dir}/memory.stat"))
        usage = "memory.current" if self.v2 else "memory.usage_in_bytes"
        return working_set(int(_read(f"{self.memory_dir}/{usage}")), stat)

    def lifetime_peak_bytes(self) -> Optional[int]:
        """The kernel's own peak since the container started (page cache included)."""
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int(_read(f"{self.memory_dir}/{name}"))
        except (OSError, ValueError):
            return None


def find(container_id: str, root: str = ROOT) -> Optional[Cgroup]:
    """The cgroup of a container, whichever cgroup driver made it."""
    if os.path.exists(f"{root}/cgroup.controllers"):  # v2 only
        hits = [p for p in glob.glob(f"{root}/**/*{container_id}*", recursive=True)
                if os.path.exists(f"{p}/cpu.stat")]
        return Cgroup(hits[0], hits[0], True) if hits else None
    cpu = glob.glob(f"{root}/cpuacct/**/*{container_id}*", recursive=True)
    memory = glob.glob(f"{root}/memory/**/*{container_id}*", recursive=True)
    return Cgroup(cpu[0], memory[0], False) if cpu and memory else None


def cpu_snapshot(groups: Mapping[str, Cgroup]) -> Dict[str, float]:
    out = {}
    for cid, group in groups.items():
        try:
            out[cid] = group.cpu_seconds()
        except (OSError, KeyError, ValueError):
            pass  # the container stopped
    return out


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> float:
    """CPU-seconds used between two snapshots by the containers of both
    (one that stopped in between is not counted; one that started counts whole)."""
    return sum(after[c] - before.get(c, 0.0) for c in after)


@dataclass
class MemorySampler:
    """Samples the working set of containers every `interval_s` in a thread,
    keeping each one's peak."""
    groups: Mapping[str, Cgroup]
    interval_s: float = 1.0
    peaks: Dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for cid, group in self.groups.items():
                try:
                    self.peaks[cid] = max(self.peaks.get(cid, 0), group.memory_bytes())
                except (OSError, ValueError):
                    pass
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def tier_peaks(peaks: Mapping[str, int], tiers: Mapping[str, List[str]]) -> Dict[str, List[int]]:
    """Per tier, each replica's peak working set (bytes), largest first."""
    return {tier: sorted((peaks[c] for c in ids if c in peaks), reverse=True)
            for tier, ids in tiers.items()}
