"""``numba-cpu``: direct correlation loops jitted with Numba, parallel over output tiles.

Every op and mode reduces to one kernel, a *valid* correlation of a zero-padded
image with the effective kernel (flipped for ``conv``): padding is written once
into a buffer whose border stays zero, so the hot loop has no branches.
"""

from __future__ import annotations

import numpy as np

from ._base import HostPrepared, check_inputs
from ._problem import Problem, effective_kernel

# Output columns per parallel work item: wide enough to vectorise, short enough
# that a 1-D signal still splits into many items.
TILE_COLS = 2048

try:
    import numba
    from numba import njit, prange
except ImportError as exc:  # pragma: no cover - numba is a core dependency
    numba = None
    _IMPORT_ERROR = str(exc)
else:
    _IMPORT_ERROR = ""

    @njit(parallel=True, cache=True, fastmath={"contract"})
    def _corr_valid(x, k, out, tile_cols):
        """out[i, j] = sum_ab k[a, b] * x[i + a, j + b], parallel over (row, column tile).

        Each work item sums into a private accumulator over 1-D slices: with the
        accumulator provably distinct from the input, LLVM vectorises the inner
        loop into packed FMAs (indexing ``out`` directly in the loop does not).
        """
        out_h, out_w = out.shape
        kh, kw = k.shape
        tiles_per_row = (out_w + tile_cols - 1) // tile_cols
        for t in prange(out_h * tiles_per_row):
            i = t // tiles_per_row
            j0 = (t % tiles_per_row) * tile_cols
            width = min(tile_cols, out_w - j0)
            acc = np.zeros(width, dtype=out.dtype)
            for a in range(kh):
                for b in range(kw):
                    w = k[a, b]
                    xs = x[i + a, j0 + b : j0 + b + width]
                    for j in range(width):
                        acc[j] += w * xs[j]
            out[i, j0 : j0 + width] = acc


class _NumbaCpuPrepared(HostPrepared):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        self.image, self.kernel = check_inputs(problem, image, kernel)
        dtype = problem.np_dtype
        with self.stage("alloc"):
            (top, left), (h, w) = problem.pad_before, problem.image_shape
            self._needs_pad = problem.mode != "valid"
            self._padded = np.zeros(problem.padded_shape, dtype) if self._needs_pad else self.image
            self._interior = self._padded[top : top + h, left : left + w]
            self._weights = np.empty(problem.kernel_shape, dtype)
            self._out = np.empty(problem.out_shape, dtype)
        with self.stage("compile"):
            # Compile (or load from cache) for this dtype on a tiny case.
            tiny = np.zeros((1, 1), dtype)
            _corr_valid(tiny, tiny, np.empty((1, 1), dtype), TILE_COLS)

    def __call__(self) -> None:
        numba.set_num_threads(self.problem.threads)
        if self._needs_pad:
            self._interior[...] = self.image
        self._weights[...] = effective_kernel(self.problem.op, self.kernel)
        _corr_valid(self._padded, self._weights, self._out, TILE_COLS)

    def result(self) -> np.ndarray:
        return self._out.copy()


class NumbaCpuBackend:
    """Direct loops on the CPU, ``numba.njit(parallel=True)`` with ``prange``."""

    name = "numba-cpu"
    method = "direct"
    device = "cpu"

    def available(self) -> tuple[bool, str]:
        if numba is None:
            return False, f"numba is not installed: {_IMPORT_ERROR}"
        return True, ""

    def supports(self, problem: Problem) -> tuple[bool, str]:
        limit = numba.config.NUMBA_NUM_THREADS
        if problem.threads > limit:
            return False, f"{problem.threads} threads asked, numba has {limit} (NUMBA_NUM_THREADS)"
        return True, ""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _NumbaCpuPrepared:
        return _NumbaCpuPrepared(problem, image, kernel)


BACKEND = NumbaCpuBackend()
