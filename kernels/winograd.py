"""``winograd``: minimal filtering F(2x2, 3x3) or F(4x4, 3x3) for 3x3 kernels (:mod:`kernels._winograd`).

Options: ``tile`` (4 by default: 4x4 outputs per tile, 4x fewer multiplications
than direct; 2: 2.25x fewer, smaller errors) and ``filters`` (``per-call``: the
filter transform is part of every call, as in training; ``once``: done in
``prepare``, as an inference engine prepacks constant weights). Every pass;
backward-weights by the algorithm's adjoint (:mod:`kernels._winograd`).
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase
from ._parallel import numba_threads_supported
from ._problem import Problem
from ._winograd import FILTER_BLOCK, FUSED_CHUNKS, ROW_PAD, WinogradLayer


class WinogradBackend(BackendBase):
    """Winograd's F(m x m, 3x3) on the CPU: Numba transforms, products over channels by BLAS or our own kernel."""

    name = "winograd"
    method = "winograd"
    device = "cpu"
    takes_layers = True
    OPTIONS = {"tile": (4, 2), "filters": ("per-call", "once")}
    tile = 4
    filters = "per-call"

    def supports(self, problem: Problem) -> tuple[bool, str]:
        if problem.kernel_shape != (3, 3):
            kh, kw = problem.kernel_shape
            return False, f"F(m, 3x3) computes 3x3 kernels only, not {kh}x{kw}"
        if problem.pass_ == "backward-weights" and self.filters == "once":
            return False, "backward-weights has no fixed filters to transform once"
        return numba_threads_supported(problem.threads)

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> WinogradLayer:
        return WinogradLayer(problem, image, kernel, tile=self.tile, filters_once=self.filters == "once")

    def memory_bytes(self, problem: Problem) -> int:
        """The default, plus the transformed inputs, filters and products (a^2 planes of each).

        The filters' transform is counted twice outside backward-weights: both
        layouts are held while ``prepare`` times the ways, beside each
        thread's block of them (the "filter blocks" way). F(4x4) adds the
        work buffers of its chunks (the largest tried) and, for
        backward-weights, each thread's sums of the products.
        """
        a = self.tile + 2
        tiles = problem.batch * -(-problem.out_shape[0] // self.tile) * -(-problem.out_shape[1] // self.tile)
        c, k = problem.in_channels, problem.out_channels
        planes = a * a * (tiles * (c + k) + c * k * (1 if problem.pass_ == "backward-weights" else 2))
        if problem.pass_ != "backward-weights":
            sources = max(c, k) + ROW_PAD
            planes += problem.threads * sources * (FILTER_BLOCK * 9 + a * 3 + a * a * FILTER_BLOCK)
        if self.tile == 4:
            planes += problem.threads * a * a * max(FUSED_CHUNKS) * (c + k)
            if problem.pass_ == "backward-weights":
                planes += problem.threads * (a * a + 1) * c * k
        return super().memory_bytes(problem) + problem.np_dtype.itemsize * planes


BACKEND = WinogradBackend()
