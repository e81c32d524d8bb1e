"""``im2col-gemm``: unfold the padded images into columns, then BLAS matrix products (:mod:`kernels._layer_gemm`).

The route most frameworks took for CNN layers; every pass of a layer, and one
image with one kernel as a layer of one channel.
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase
from ._layer_gemm import BLOCK_PIXELS, GemmLayer
from ._parallel import numba_threads_supported
from ._problem import Problem


class Im2colGemmBackend(BackendBase):
    """im2col + numpy's matmul on the CPU, BLAS threads set to the problem's."""

    name = "im2col-gemm"
    method = "gemm"
    device = "cpu"
    takes_layers = True

    def supports(self, problem: Problem) -> tuple[bool, str]:
        return numba_threads_supported(problem.threads)

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> GemmLayer:
        return GemmLayer(problem, image, kernel)

    def memory_bytes(self, problem: Problem) -> int:
        """The default, plus the unfolded columns: kernel taps x outputs for each image and channel.

        And the blocks' work buffers (:data:`kernels._layer_gemm.BLOCK_PIXELS`): each thread's columns and
        products or gradients, and for the weight gradient each thread's sum and product of K x C kh kw.
        """
        kh, kw = problem.kernel_shape
        c, k, threads = problem.in_channels, problem.out_channels, problem.threads
        columns = problem.batch * max(c, k) * kh * kw * problem.outputs
        pixels = max(BLOCK_PIXELS) + problem.out_shape[1]  # rounded to whole rows
        blocks = threads * (c * kh * kw + k) * pixels
        if problem.pass_ == "backward-weights":
            blocks += threads * 2 * k * c * kh * kw
        return super().memory_bytes(problem) + problem.np_dtype.itemsize * (columns + blocks)


BACKEND = Im2colGemmBackend()
