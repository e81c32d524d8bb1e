"""A case's budget: its predicted time from rates learnt on finished cases, and its predicted memory.

A case predicted past ``timing.max_case_seconds``, or past the memory guard's
share of free memory, is recorded as ``skipped`` with the prediction instead of
being run.
"""

from __future__ import annotations

import math

from kernels import fft_shape

from ..machine.memory import available_bytes
from ..plan.cases import Case, Timing

# Leave room for the reference, the interpreter and everything else.
MEMORY_FRACTION = 0.7


def work_units(method: str, case: Case) -> float:
    """Size of a case's work for a method: direct flops, or 7.5 P log2 P for FFT (three transforms)."""
    if method == "fft":
        size = math.prod(fft_shape(case.problem))
        return 7.5 * size * math.log2(max(size, 2))
    return float(case.problem.direct_flops)


class RatePredictor:
    """Seconds per work unit learnt from each backend's latest finished case (picklable)."""

    def __init__(self, rates: dict[str, float] | None = None):
        self._rate: dict[str, float] = dict(rates or {})

    @property
    def rates(self) -> dict[str, float]:
        """The learnt rates, to send to a worker process."""
        return dict(self._rate)

    def learn_rows(self, case: Case, rows: list[dict]) -> None:
        """Learn from every timed row of a finished case."""
        for row in rows:
            if row.get("status") == "ok" and row.get("median_s"):
                self.learn(row["backend"], row["method"], case, row["median_s"])

    def learn(self, backend: str, method: str, case: Case, seconds: float) -> None:
        self._rate[backend] = seconds / work_units(method, case)

    def case_seconds(self, backend: str, method: str, case: Case, timing: Timing) -> float | None:
        """Predicted wall time of verifying, warming up and sampling, or None before any data."""
        if backend not in self._rate:
            return None
        per_call = self._rate[backend] * work_units(method, case)
        return per_call * (2 + timing.warmup) + timing.samples * max(per_call, timing.min_sample_seconds)


def over_budget(backend, case: Case, timing: Timing, predictor: RatePredictor) -> dict | None:
    """The ``skipped`` fields of a row predicted over the time or memory budget, or None to run it."""
    predicted = predictor.case_seconds(backend.name, backend.method, case, timing)
    if timing.max_case_seconds and predicted is not None and predicted > timing.max_case_seconds:
        return dict(
            status="skipped",
            predicted_s=predicted,
            reason=f"predicted {predicted:.3g} s > max_case_seconds {timing.max_case_seconds:g}",
        )
    needed, free = int(backend.memory_bytes(case.problem)), available_bytes()
    if free is not None and needed > MEMORY_FRACTION * free:
        return dict(
            status="skipped",
            predicted_bytes=needed,
            reason=f"needs about {needed / 2**20:.0f} MiB, {free / 2**20:.0f} MiB available",
        )
    return None
