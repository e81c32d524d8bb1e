"""``scipy-fft``: ``scipy.signal.fftconvolve`` under ``scipy.fft.set_workers`` (``peers`` extra).

The FFT peer for ``fftw``: pocketfft, unplanned, with ``threads`` workers.
Correlation is convolution with the flipped kernel (the flip is a view).
"""

from __future__ import annotations

import numpy as np

from ._base import HostPrepared, check_inputs
from ._fft_geometry import convolution_kernel
from ._problem import Problem
from ._scipy_modes import scipy_mode

try:
    import scipy.fft
    from scipy import signal
except ImportError as exc:
    signal = None
    _IMPORT_ERROR = str(exc)
else:
    _IMPORT_ERROR = ""


class _ScipyFftPrepared(HostPrepared):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        self.image, kernel = check_inputs(problem, image, kernel)
        self.kernel = convolution_kernel(problem, kernel)
        self._mode, self._window, self.notes = scipy_mode(problem)
        self._out = None

    def __call__(self) -> None:
        with scipy.fft.set_workers(self.problem.threads):
            out = signal.fftconvolve(self.image, self.kernel, mode=self._mode)
        self._out = out if self._window is None else out[self._window]

    def result(self) -> np.ndarray:
        return np.array(self._out, dtype=self.problem.np_dtype)


class ScipyFftBackend:
    """scipy.signal.fftconvolve with ``threads`` pocketfft workers."""

    name = "scipy-fft"
    method = "fft"
    device = "cpu"

    def available(self) -> tuple[bool, str]:
        if signal is None:
            return False, f"scipy is not installed (pip install convbench[peers]): {_IMPORT_ERROR}"
        return True, ""

    def supports(self, problem: Problem) -> tuple[bool, str]:
        return True, ""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _ScipyFftPrepared:
        return _ScipyFftPrepared(problem, image, kernel)


BACKEND = ScipyFftBackend()
