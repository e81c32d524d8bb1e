"""``scipy-direct``: ``scipy.signal.correlate``/``convolve`` with ``method='direct'`` (``peers`` extra).

scipy's direct method is single-threaded; rows say so when more threads were
asked. Its 'same' centring for even kernels follows ``scipy.signal.correlate``,
not ``correlate2d`` (ours): for an even kernel in 'same' mode this backend
computes the full output and crops our window, and says so.
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem
from ._scipy_modes import ScipyBackendBase, ScipyPrepared, signal


class _ScipyDirectPrepared(ScipyPrepared):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__(problem, image, kernel)
        self._function = signal.correlate if problem.op == "corr" else signal.convolve
        if problem.threads > 1:
            note = "scipy's direct method is single-threaded: ran on 1 thread"
            self.notes = "; ".join(n for n in (self.notes, note) if n)

    def _compute(self) -> np.ndarray:
        return self._function(self.image, self.kernel, mode=self._mode, method="direct")


class ScipyDirectBackend(ScipyBackendBase):
    """scipy.signal's direct (non-FFT) correlation and convolution."""

    name = "scipy-direct"
    method = "direct"

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _ScipyDirectPrepared:
        return _ScipyDirectPrepared(problem, image, kernel)


BACKEND = ScipyDirectBackend()
