"""Timing: calibrated loops, interleaved samples and their statistics.

GPU work is timed warm (back-to-back calls, data left in L2 by the previous
call, as in a pipeline) or cold (L2 flushed before every call by writing a
buffer larger than it; each call is bracketed by its own events, the flush
outside them): ``timing.cache`` in a config, recorded in each row's ``cache``.
"""

from __future__ import annotations

import math
import time

import numpy as np

# pyperf's thresholds for a timing worth a warning.
UNSTABLE_STD_FRACTION = 0.10
SHORT_SAMPLE_SECONDS = 1e-3
# How each warning of :func:`summarize` starts: pooling visits recomputes these and keeps the others.
TIMING_WARNINGS = ("unstable:", "samples shorter", "median known")


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


# Bytes written to evict L2 before a cold call: well above the 50 MiB of an H100 or H200.
FLUSH_BYTES = 256 * 2**20
_flush_buffer = None


def _flush_l2(cuda) -> None:
    global _flush_buffer
    if _flush_buffer is None:
        _flush_buffer = cuda.device_array(FLUSH_BYTES, np.uint8)
    cuda.driver.device_memset(_flush_buffer, 0, FLUSH_BYTES)


def _cuda_cold_timer(prepared, loops: int) -> float:
    # Each call alone between its events, L2 flushed before it: no call finds the last one's data.
    from numba import cuda

    prepared.sync()
    total = 0.0
    for _ in range(loops):
        _flush_l2(cuda)
        start, end = cuda.event(), cuda.event()
        start.record()
        prepared()
        end.record()
        end.synchronize()
        total += cuda.event_elapsed_time(start, end) / 1e3
    return total / loops


TIMERS = {("cpu", "warm"): _host_timer, ("cuda", "warm"): _cuda_event_timer, ("cuda", "cold"): _cuda_cold_timer}


def cache_state(device: str, cache: str) -> str:
    """The cache state a row is timed in: ``cold`` applies to GPU rows; CPU rows are always warm."""
    return cache if (device, cache) in TIMERS else "warm"


def time_call(prepared, loops: int = 1, device: str = "cpu", cache: str = "warm") -> float:
    """Seconds per call over ``loops`` calls, by the timer of the backend's ``device`` and the cache state.

    CPU: wall clock around back-to-back calls, the device synced at the end.
    CUDA warm: CUDA events around back-to-back launches on the default stream.
    CUDA cold: each launch between its own events, L2 flushed before it.
    """
    return TIMERS[(device, cache_state(device, cache))](prepared, loops)


def calibrate_loops(seconds_per_call: float, min_sample_seconds: float) -> int:
    """Calls per sample so that one sample lasts at least ``min_sample_seconds``."""
    if seconds_per_call <= 0:
        return 1000
    return max(1, math.ceil(min_sample_seconds / seconds_per_call))


def interleaved_samples(
    prepared: dict,
    loops: dict,
    samples: int,
    devices: dict | None = None,
    cache: str = "warm",
    after=None,
    out: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Time every prepared case ``samples`` times, in rounds that visit each once.

    The visiting order rotates each round, so drift and noise on a shared machine
    hit every backend alike instead of favouring whichever ran first. ``after(name)``,
    when given, is called after each sample (the GPU throttle monitor uses it).
    Samples are appended to ``out`` when given (more rounds for the same cases).
    """
    names = list(prepared)
    out = out if out is not None else {}
    for name in names:
        out.setdefault(name, [])
    done = len(out[names[0]]) if names else 0  # rounds already taken: the rotation goes on from there
    for r in range(done, done + samples):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            out[name].append(time_call(prepared[name], loops[name], (devices or {}).get(name, "cpu"), cache))
            if after is not None:
                after(name)
    return out


def median_interval(samples) -> tuple[float, float]:
    """A distribution-free 95 % confidence interval of the median: two order statistics.

    The ranks ``n/2 -+ 1.96 sqrt(n)/2`` (the normal approximation of the binomial
    count of samples below the median), clipped to the sample: with 5 samples
    the interval is their whole range.
    """
    a = np.sort(np.asarray(samples, dtype=np.float64))
    n = a.size
    half = 1.96 * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    return float(a[low]), float(a[high])


def relative_half_width(samples) -> float:
    """Half the median's 95 % interval over the median: 0.02 means the median is known to +-2 %."""
    low, high = median_interval(samples)
    median = float(np.median(samples))
    return (high - low) / (2 * median) if median > 0 else float("inf")


def sample_until_stable(
    prepared: dict, loops: dict, timing, devices: dict, after=None, budget_seconds: float = 0.0
) -> dict[str, list[float]]:
    """``timing.samples`` interleaved rounds, then more rounds for the cases whose median is not yet known
    to ``timing.ci_target``, until it is, ``timing.max_samples`` are taken or ``budget_seconds`` have passed.

    With ``timing.visits`` above 1 a visit takes its ``samples`` rounds only: what the median is known to
    is then a matter of the spread between visits, which more rounds within one cannot narrow.
    """
    start = time.perf_counter()
    out = interleaved_samples(prepared, loops, timing.samples, devices, timing.cache, after)
    # ci_target 0 turns the rule off (not "known to +-0 %", which no real timing reaches).
    while timing.ci_target and timing.visits == 1:
        open_cases = {
            name: p
            for name, p in prepared.items()
            if len(out[name]) < timing.max_samples and relative_half_width(out[name]) > timing.ci_target
        }
        if not open_cases or (budget_seconds and time.perf_counter() - start > budget_seconds):
            return out
        interleaved_samples(open_cases, loops, 1, devices, timing.cache, after, out)
    return out


def interval_warning(low: float, high: float, median: float, ci_target: float, after: str) -> str:
    """The warning for a median whose interval ``[low, high]`` is wider than +-``ci_target``."""
    return f"median known to +-{100 * (high - low) / (2 * median):.1f}% after {after} (target {100 * ci_target:g}%)"


def summarize(samples: list[float], loops: int, ci_target: float = 0.0) -> dict[str, float]:
    """min, median and its 95 % interval, q1, q3, mean, std, n of per-call times, and a warning when unstable.

    With ``ci_target``, a median whose interval is wider than +-``ci_target`` is warned about.
    """
    a = np.asarray(samples, dtype=np.float64)
    q1, median, q3 = np.percentile(a, [25, 50, 75])
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    warnings = []
    if mean > 0 and std >= UNSTABLE_STD_FRACTION * mean:
        warnings.append(f"unstable: std is {100 * std / mean:.0f}% of mean")
    if a.min() * loops < SHORT_SAMPLE_SECONDS:
        warnings.append("samples shorter than 1 ms")
    low, high = median_interval(a)
    if ci_target and median > 0 and (high - low) / (2 * median) > ci_target:
        warnings.append(interval_warning(low, high, median, ci_target, f"{a.size} samples"))
    return {
        "ci_low_s": low,
        "ci_high_s": high,
        "min_s": float(a.min()),
        "median_s": float(median),
        "q1_s": float(q1),
        "q3_s": float(q3),
        "mean_s": mean,
        "std_s": std,
        "n": int(a.size),
        "warning": "; ".join(warnings),
    }
