"""``im2col-gemm``: unfold the padded images into columns, then BLAS matrix products (:mod:`kernels._layer_gemm`).

The route most frameworks took for CNN layers; every pass of a layer, and one
image with one kernel as a layer of one channel.
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase
from ._layer_gemm import GemmLayer
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
        """The default, plus the unfolded columns: kernel taps x outputs for each image and channel."""
        kh, kw = problem.kernel_shape
        columns = problem.batch * max(problem.in_channels, problem.out_channels) * kh * kw * problem.outputs
        return super().memory_bytes(problem) + problem.np_dtype.itemsize * columns


BACKEND = Im2colGemmBackend()
