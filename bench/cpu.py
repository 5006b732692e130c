"""CPU time per component, read from /proc (Linux), to say where the time of a benchmark goes.

Throughput on a shared 2-core machine is noisy; CPU seconds spent per request by each process are much
steadier, and the machine-wide busy time minus ours shows how much the rest of the machine (another
test session, say) took during the same window.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    own: float  # its own user+system seconds (in /proc's 10 ms ticks)
    reaped: float  # those of its reaped children

    @property
    def cpu(self) -> float:
        return self.own + self.reaped


def _read_proc(pid: int) -> _Proc | None:
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = line[line.rindex(")") + 2 :].split()  # fields[0] is field 3 (state) of proc(5)
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return _Proc(pid=pid, ppid=int(fields[1]), own=(utime + stime) / _TICK, reaped=(cutime + cstime) / _TICK)


def _all_procs() -> list[_Proc]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            proc = _read_proc(int(entry.name))
            if proc is not None:
                found.append(proc)
    return found


def family(root_pid: int) -> list[_Proc]:
    """A process and all its live descendants, as /proc has them now (none when it is gone)."""
    procs = _all_procs()
    children: dict[int, list[_Proc]] = {}
    by_pid: dict[int, _Proc] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
        by_pid[p.pid] = p
    if root_pid not in by_pid:
        return []
    found, todo = [], [by_pid[root_pid]]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p.pid, []))
    return found


def family_cpu_seconds(root_pid: int) -> float:
    """CPU seconds of a process and all its live descendants (reaped ones are in their parents' totals)."""
    return sum(p.cpu for p in family(root_pid))


def self_cpu_seconds() -> float:
    """CPU seconds of this process (all its threads): the load generator or the writer threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """Non-idle CPU seconds of the whole machine, summed over all cores, since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)  # idle + iowait
    steal = parts[7] if len(parts) > 7 else 0
    return (sum(parts[:8]) - idle - steal) / _TICK


def local_pid_of_postgres_backend(backend_pid: int) -> int | None:
    """The postmaster's pid when the server runs on this machine (the backend's parent), else None."""
    try:
        if not Path(f"/proc/{backend_pid}/comm").read_text().startswith("postgres"):
            return None
    except OSError:
        return None
    proc = _read_proc(backend_pid)
    return proc.ppid if proc is not None else None


@dataclass
class CpuMeter:
    """Measures CPU seconds per named component over a window: ``start()`` ... ``stop()``."""

    components: dict[str, Callable[[], float]] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)
    _wall: float = 0.0
    _busy: float = 0.0

    def add_process_tree(self, name: str, pid: int | None) -> None:
        if pid is not None:
            self.components[name] = lambda: family_cpu_seconds(pid)

    def add_self(self, name: str) -> None:
        self.components[name] = self_cpu_seconds

    def start(self) -> None:
        self._start = {name: read() for name, read in self.components.items()}
        self._busy = machine_busy_seconds()
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float]:
        """CPU seconds per component, plus ``wall_seconds``, ``machine_busy_seconds`` (all cores) and
        ``other_seconds``: machine busy time not spent by the measured components."""
        wall = time.monotonic() - self._wall
        busy = machine_busy_seconds() - self._busy
        used = {name: max(0.0, read() - self._start[name]) for name, read in self.components.items()}
        result = {f"{name}_seconds": round(v, 3) for name, v in used.items()}
        result["wall_seconds"] = round(wall, 3)
        result["machine_busy_seconds"] = round(busy, 3)
        result["other_seconds"] = round(max(0.0, busy - sum(used.values())), 3)
        result["machine_cores"] = os.cpu_count() or 1
        result["other_share"] = other_share(result)
        return result


def other_share(cpu: dict[str, float]) -> float | None:
    """Share of the whole machine's capacity that other processes used during the window (0..1)."""
    capacity = cpu.get("wall_seconds", 0.0) * cpu.get("machine_cores", os.cpu_count() or 1)
    return round(cpu.get("other_seconds", 0.0) / capacity, 3) if capacity else None


def per_unit_ms(cpu: dict[str, float], units: int) -> dict[str, float | None]:
    """CPU milliseconds per request/append for each measured component (not the machine totals)."""
    skip = {"wall_seconds", "machine_busy_seconds", "other_seconds", "machine_cores", "other_share"}
    return {
        key.removesuffix("_seconds") + "_cpu_ms": (round(value * 1000.0 / units, 3) if units else None)
        for key, value in cpu.items()
        if key not in skip
    }
