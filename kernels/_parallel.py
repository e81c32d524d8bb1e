"""Small parallel array helpers for the timed calls (copies and spectrum products), and what Numba's pool can do.

numpy runs these on one thread; in a timed call on N threads that serial part
would cap the speed-up (Amdahl) and blur what the algorithm itself costs.
"""

from __future__ import annotations

import numba
from numba import njit, prange

from ._optional import import_problem


def numba_threads_supported(threads: int) -> tuple[bool, str]:
    """Whether numba's pool can give a case ``threads`` threads (``NUMBA_NUM_THREADS`` caps it); if not, why."""
    limit = numba.config.NUMBA_NUM_THREADS
    if threads > limit:
        return False, f"{threads} threads asked, numba has {limit} (NUMBA_NUM_THREADS)"
    return True, ""


def numba_blas_available() -> tuple[bool, str]:
    """Whether Numba can call BLAS from a loop (its ``np.dot`` needs SciPy's), and if not, why."""
    problem = import_problem(("scipy.linalg.cython_blas",))
    return (False, f"Numba's np.dot needs SciPy's BLAS: {problem}") if problem else (True, "")


@njit(parallel=True, boundscheck=False, cache=True)
def parallel_copy(dst, src):
    """``dst[...] = src`` for 2-D arrays, rows spread over the threads."""
    for i in prange(src.shape[0]):
        dst[i, :] = src[i, :]


@njit(parallel=True, boundscheck=False, cache=True)
def multiply_batch_into(a, b):
    """``a[n] *= b`` for a batch of 2-D complex spectra, blocks spread over the threads."""
    for n in prange(a.shape[0]):
        for i in range(a.shape[1]):
            for j in range(a.shape[2]):
                a[n, i, j] *= b[i, j]
