"""``scipy-direct``: ``scipy.signal.correlate``/``convolve`` with ``method='direct'`` (``peers`` extra).

scipy's direct method is single-threaded; rows say so when more threads were
asked. Its 'same' centring for even kernels follows ``scipy.signal.correlate``,
not ``correlate2d`` (ours): for an even kernel in 'same' mode this backend
computes the full output and crops our window, and says so.
"""

from __future__ import annotations

import numpy as np

from ._base import HostPrepared, check_inputs
from ._problem import Problem
from ._scipy_modes import scipy_mode

try:
    from scipy import signal
except ImportError as exc:
    signal = None
    _IMPORT_ERROR = str(exc)
else:
    _IMPORT_ERROR = ""


class _ScipyDirectPrepared(HostPrepared):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        self.image, self.kernel = check_inputs(problem, image, kernel)
        self._function = signal.correlate if problem.op == "corr" else signal.convolve
        self._mode, self._window, crop_note = scipy_mode(problem)
        notes = [crop_note] if crop_note else []
        if problem.threads > 1:
            notes.append("scipy's direct method is single-threaded: ran on 1 thread")
        self.notes = "; ".join(notes)
        self._out = None

    def __call__(self) -> None:
        out = self._function(self.image, self.kernel, mode=self._mode, method="direct")
        self._out = out if self._window is None else out[self._window]

    def result(self) -> np.ndarray:
        return np.array(self._out, dtype=self.problem.np_dtype)


class ScipyDirectBackend:
    """scipy.signal's direct (non-FFT) correlation and convolution."""

    name = "scipy-direct"
    method = "direct"
    device = "cpu"

    def available(self) -> tuple[bool, str]:
        if signal is None:
            return False, f"scipy is not installed (pip install convbench[peers]): {_IMPORT_ERROR}"
        return True, ""

    def supports(self, problem: Problem) -> tuple[bool, str]:
        return True, ""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _ScipyDirectPrepared:
        return _ScipyDirectPrepared(problem, image, kernel)


BACKEND = ScipyDirectBackend()
