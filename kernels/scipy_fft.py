"""``scipy-fft``: ``scipy.signal.fftconvolve`` under ``scipy.fft.set_workers`` (``peers`` extra).

The FFT peer for ``fftw``: pocketfft, unplanned, with ``threads`` workers.
Correlation is convolution with the flipped kernel (the flip is a view).
"""

from __future__ import annotations

import numpy as np

from ._fft_geometry import convolution_kernel
from ._problem import Problem
from ._scipy_modes import ScipyBackendBase, ScipyPrepared, scipy_fft, signal


class _ScipyFftPrepared(ScipyPrepared):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__(problem, image, kernel)
        self.kernel = convolution_kernel(problem, self.kernel)

    def _compute(self) -> np.ndarray:
        with scipy_fft.set_workers(self.problem.threads):
            return signal.fftconvolve(self.image, self.kernel, mode=self._mode)


class ScipyFftBackend(ScipyBackendBase):
    """scipy.signal.fftconvolve with ``threads`` pocketfft workers."""

    name = "scipy-fft"
    method = "fft"

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _ScipyFftPrepared:
        return _ScipyFftPrepared(problem, image, kernel)


BACKEND = ScipyFftBackend()
