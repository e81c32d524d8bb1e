"""``cupy-fft``: FFT convolution on the GPU with CuPy's cuFFT, the GPU counterpart of ``fftw`` (``cuda`` extra).

Same geometry as ``fftw`` (shortest alias-free length, cost-chosen size). The
inputs are uploaded in ``prepare`` and one call is made there so cuFFT's plans
are built and cached (CuPy keeps a plan cache per shape); the timed call runs
rfft2, the product and irfft2 on device-resident arrays.
"""

from __future__ import annotations

import time

import numpy as np

from ._base import PreparedBase, check_inputs
from ._fft_geometry import convolution_kernel, fft_shape, output_window
from ._gpu import GpuBackendBase
from ._optional import optional_import
from ._problem import Problem

cupy = optional_import("cupy")


class _CupyFftPrepared(PreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        image, kernel = check_inputs(problem, image, kernel)
        self.fft_shape = fft_shape(problem)
        self._window = output_window(problem)
        with self.stage("upload"):
            self._x = cupy.asarray(image)
            self._k = cupy.asarray(np.array(convolution_kernel(problem, kernel), order="C", copy=True))
            cupy.cuda.Device().synchronize()
        with self.stage("plan"):  # first call builds and caches the cuFFT plans
            self()
            self.sync()
        start = time.perf_counter()
        self.result()
        self.setup_seconds["download"] = time.perf_counter() - start

    def __call__(self) -> None:
        s = self.fft_shape
        spectrum = cupy.fft.rfft2(self._x, s)
        spectrum *= cupy.fft.rfft2(self._k, s)
        self._out = cupy.fft.irfft2(spectrum, s)[self._window]

    def sync(self) -> None:
        cupy.cuda.Device().synchronize()

    def result(self) -> np.ndarray:
        return cupy.asnumpy(self._out).astype(self.problem.np_dtype, copy=False)


class CupyFftBackend(GpuBackendBase):
    """FFT convolution with CuPy (cuFFT), device-resident inputs."""

    name = "cupy-fft"
    method = "fft"
    requires = ("cupy",)

    def gpu_count(self) -> int:
        return cupy.cuda.runtime.getDeviceCount()

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _CupyFftPrepared:
        return _CupyFftPrepared(problem, image, kernel)


BACKEND = CupyFftBackend()
