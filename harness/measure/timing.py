"""Timing: calibrated loops, interleaved samples and their statistics."""

from __future__ import annotations

import math
import time

import numpy as np

# pyperf's thresholds for a timing worth a warning.
UNSTABLE_STD_FRACTION = 0.10
SHORT_SAMPLE_SECONDS = 1e-3


def _host_timer(prepared, loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        prepared()
    prepared.sync()
    return (time.perf_counter() - start) / loops


def _cuda_event_timer(prepared, loops: int) -> float:
    # Events on the default stream bracket the launches themselves: host-side
    # launch overhead overlaps the previous kernel, as in a real pipeline.
    from numba import cuda

    prepared.sync()
    start, end = cuda.event(), cuda.event()
    start.record()
    for _ in range(loops):
        prepared()
    end.record()
    end.synchronize()
    return cuda.event_elapsed_time(start, end) / 1e3 / loops


TIMERS = {"cpu": _host_timer, "cuda": _cuda_event_timer}


def time_call(prepared, loops: int = 1, device: str = "cpu") -> float:
    """Seconds per call over ``loops`` back-to-back calls, by the timer of the backend's ``device``.

    CPU: wall clock around the calls, the device synced at the end. CUDA: CUDA
    events around the launches on the default stream.
    """
    return TIMERS[device](prepared, loops)


def calibrate_loops(seconds_per_call: float, min_sample_seconds: float) -> int:
    """Calls per sample so that one sample lasts at least ``min_sample_seconds``."""
    if seconds_per_call <= 0:
        return 1000
    return max(1, math.ceil(min_sample_seconds / seconds_per_call))


def interleaved_samples(
    prepared: dict, loops: dict, samples: int, devices: dict | None = None
) -> dict[str, list[float]]:
    """Time every prepared case ``samples`` times, in rounds that visit each once.

    The visiting order rotates each round, so drift and noise on a shared machine
    hit every backend alike instead of favouring whichever ran first.
    """
    names = list(prepared)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(samples):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            out[name].append(time_call(prepared[name], loops[name], (devices or {}).get(name, "cpu")))
    return out


def summarize(samples: list[float], loops: int) -> dict[str, float]:
    """min, median, q1, q3, mean, std, n of per-call times, and a warning when unstable."""
    a = np.asarray(samples, dtype=np.float64)
    q1, median, q3 = np.percentile(a, [25, 50, 75])
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    warnings = []
    if mean > 0 and std >= UNSTABLE_STD_FRACTION * mean:
        warnings.append(f"unstable: std is {100 * std / mean:.0f}% of mean")
    if a.min() * loops < SHORT_SAMPLE_SECONDS:
        warnings.append("samples shorter than 1 ms")
    return {
        "min_s": float(a.min()),
        "median_s": float(median),
        "q1_s": float(q1),
        "q3_s": float(q3),
        "mean_s": mean,
        "std_s": std,
        "n": int(a.size),
        "warning": "; ".join(warnings),
    }
