"""What the scipy peers share: the optional import, scipy's mode for ours, and the prepared call.

For odd kernels scipy's 'same' centring equals ours; for an even kernel its
'same' (that of ``scipy.signal.correlate``) is one sample off ours (that of
``correlate2d``), so such cases compute 'full' and crop our window.
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase, PreparedBase, check_inputs
from ._fft_geometry import output_window
from ._optional import optional_import
from ._problem import Problem

signal = optional_import("scipy.signal")
scipy_fft = optional_import("scipy.fft")


class ScipyBackendBase(BackendBase):
    """A scipy peer (``peers`` extra)."""

    requires = ("scipy.signal", "scipy.fft")
    install_hint = "pip install convbench[peers]"


def scipy_mode(problem: Problem) -> tuple[str, tuple[slice, slice] | None, str]:
    """``(mode to pass scipy, window to crop or None, note for the row)``."""
    if problem.mode == "same" and any(k % 2 == 0 for k in problem.kernel_shape):
        return "full", output_window(problem), "even kernel in 'same' mode: computed 'full' and cropped"
    return problem.mode, None, ""


class ScipyPrepared(PreparedBase):
    """What the scipy peers share: checked inputs, scipy's mode and our crop, the result in our dtype.

    Subclasses implement ``_compute()``, the scipy call on ``self.image`` and
    ``self.kernel`` in mode ``self._mode``.
    """

    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        self.image, self.kernel = check_inputs(problem, image, kernel)
        self._mode, self._window, self.notes = scipy_mode(problem)
        self._out = None

    def _compute(self) -> np.ndarray:
        raise NotImplementedError

    def __call__(self) -> None:
        out = self._compute()
        self._out = out if self._window is None else out[self._window]

    def result(self) -> np.ndarray:
        return np.array(self._out, dtype=self.problem.np_dtype)
