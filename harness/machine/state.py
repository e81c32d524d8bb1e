"""Whether the machine is quiet: load, CPU frequency policy, and the CPU time others used during a case.

``collect_machine_state`` is recorded in the metadata at a run's start and
end; ``tuning_warnings`` says, like pyperf's ``system show``, what makes
timings on this machine less stable. ``CpuActivity`` brackets a case's timed
samples: from ``/proc/stat`` it tells how much CPU time other processes used
meanwhile, and how much the hypervisor stole (on a shared virtual machine,
the noisy neighbours show up there).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_CPUFREQ = Path("/sys/devices/system/cpu")
# Others' share of all cores during the samples, and stolen share, above which a row is flagged.
OTHER_CPU_LIMIT = 0.10
STEAL_LIMIT = 0.05


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def collect_machine_state() -> dict:
    """Load averages, cores, frequency governors and limits where readable, turbo where readable."""
    state: dict = {"load_average": list(os.getloadavg()), "cores": os.cpu_count()}
    governors = {_read(p) for p in _CPUFREQ.glob("cpu[0-9]*/cpufreq/scaling_governor")} - {None}
    if governors:
        state["governors"] = sorted(governors)
    freqs = [_read(p) for p in _CPUFREQ.glob("cpu[0-9]*/cpufreq/scaling_cur_freq")]
    freqs = [int(f) / 1000 for f in freqs if f]
    if freqs:
        state["cur_freq_mhz"] = [min(freqs), max(freqs)]
    no_turbo = _read(_CPUFREQ / "intel_pstate" / "no_turbo")
    boost = _read(_CPUFREQ / "cpufreq" / "boost")
    if no_turbo is not None:
        state["turbo"] = no_turbo == "0"
    elif boost is not None:
        state["turbo"] = boost == "1"
    return state


def tuning_warnings(state: dict) -> list[str]:
    """What in ``state`` makes timings noisier: a busy machine, a power-saving governor, turbo on."""
    out = []
    load, cores = state.get("load_average", [0.0])[0], state.get("cores") or 1
    if load > 0.5 * cores:
        out.append(f"load average {load:.2f} on {cores} cores: other work is running")
    slow = [g for g in state.get("governors", []) if g != "performance"]
    if slow:
        out.append(f"CPU frequency governor {', '.join(slow)}, not 'performance': clocks change under load")
    if state.get("turbo"):
        out.append("turbo boost is on: clocks depend on temperature and on what else runs")
    return out


def _proc_stat() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from the first line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


class CpuActivity:
    """CPU time used by other processes, and stolen, between construction and :meth:`measure`."""

    def __init__(self):
        self._wall = time.perf_counter()
        self._own = time.process_time()
        try:
            self._busy, self._steal = _proc_stat()
        except (OSError, ValueError):
            self._busy = self._steal = None

    def measure(self) -> dict:
        """``other_cpu_frac`` and ``steal_frac``: shares of all cores' time over the interval (NaN unknown)."""
        wall = time.perf_counter() - self._wall
        own = time.process_time() - self._own
        if self._busy is None or wall <= 0:
            return {"other_cpu_frac": float("nan"), "steal_frac": float("nan")}
        busy, steal = _proc_stat()
        capacity = wall * (os.cpu_count() or 1)
        return {
            "other_cpu_frac": max(0.0, (busy - self._busy - own) / capacity),
            "steal_frac": max(0.0, (steal - self._steal) / capacity),
        }


def noise_warning(activity: dict) -> str:
    """'' or why the samples were not taken on a quiet machine."""
    out = []
    other, steal = activity.get("other_cpu_frac", 0.0), activity.get("steal_frac", 0.0)
    if other == other and other > OTHER_CPU_LIMIT:
        out.append(f"not quiet: other processes used {100 * other:.0f}% of the cores during the samples")
    if steal == steal and steal > STEAL_LIMIT:
        out.append(f"not quiet: the hypervisor stole {100 * steal:.0f}% of the cores during the samples")
    return "; ".join(out)
