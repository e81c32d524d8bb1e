"""The machine's reference rates, so every row can say what fraction of the hardware it used.

The CPU reference is numpy's matmul (float32 and float64, 2048^3, BLAS limited
to the case's thread count): a well-tuned BLAS runs near the FMA peak, so it
is a fair, measurable stand-in for "what this machine can do".
"""

from __future__ import annotations

import time

import numpy as np

MATMUL_SIZE = 2048


def measure_matmul_gflops(dtype: str, threads: int, size: int = MATMUL_SIZE, repeats: int = 3) -> float:
    """Best-of-``repeats`` GFLOP/s of a ``size``^3 matmul with BLAS limited to ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((size, size)).astype(dtype)
    b = rng.random((size, size)).astype(dtype)
    out = np.empty((size, size), dtype)
    with threadpool_limits(limits=threads, user_api="blas"):
        np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def collect_matmul_peaks(dtypes, threads) -> dict[str, dict[str, float]]:
    """``{dtype: {str(threads): GFLOP/s}}`` for every dtype and thread count of a sweep."""
    return {
        d: {str(t): round(measure_matmul_gflops(d, t), 2) for t in sorted(set(threads))} for d in sorted(set(dtypes))
    }
