"""``cupy-scipy-fft``: ``cupyx.scipy.signal.fftconvolve``, what a CuPy user calls for FFT convolution (``cuda`` extra).

Correlation is convolution with the flipped kernel; for an even kernel in
``same`` mode the full output is computed and our window cropped, as for the
scipy peer.
"""

from __future__ import annotations

from ._base import check_inputs
from ._cupy_peers import CupyPeerBackend, CupyPeerPrepared, cupyx_signal
from ._fft_geometry import convolution_kernel
from ._problem import Problem
from ._scipy_modes import scipy_mode


class _CupyScipyFftPrepared(CupyPeerPrepared):
    def __init__(self, problem: Problem, image, kernel):
        self._mode, self._window, self.notes = scipy_mode(problem)
        kernel = check_inputs(problem, image, kernel)[1]
        super().__init__(problem, image, convolution_kernel(problem, kernel))

    def _compute(self):
        out = cupyx_signal.fftconvolve(self._x, self._k, mode=self._mode)
        return out if self._window is None else out[self._window]


class CupyScipyFftBackend(CupyPeerBackend):
    name = "cupy-scipy-fft"
    method = "fft"
    prepared = _CupyScipyFftPrepared


BACKEND = CupyScipyFftBackend()
