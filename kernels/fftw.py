"""``fftw``: FFT convolution with real-to-complex FFTW plans made once by pyFFTW.

``prepare`` allocates aligned buffers, plans the forward transforms of image and
kernel and the inverse transform, and zeroes the padding. The timed call copies
the inputs into the buffers' corners, runs the three plans, multiplies the
spectra in place and leaves the output as a view into the inverse's buffer.
"""

from __future__ import annotations

import numpy as np

from ._base import HostPrepared, check_inputs
from ._fft_geometry import convolution_kernel, fft_shape, output_window
from ._problem import Problem

PLANNER_EFFORTS = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
DEFAULT_PLANNER = "FFTW_MEASURE"

try:
    import pyfftw
except ImportError as exc:
    pyfftw = None
    _IMPORT_ERROR = str(exc)
else:
    _IMPORT_ERROR = ""


class _FftwPrepared(HostPrepared):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray, planner: str):
        super().__init__()
        self.problem = problem
        self.image, kernel = check_inputs(problem, image, kernel)
        self.kernel = convolution_kernel(problem, kernel)
        shape = fft_shape(problem)
        self.fft_shape = shape
        real = problem.np_dtype
        cplx = np.result_type(real, np.complex64)
        spectrum = (shape[0], shape[1] // 2 + 1)
        with self.stage("alloc"):
            self._x = pyfftw.zeros_aligned(shape, real)
            self._k = pyfftw.zeros_aligned(shape, real)
            self._xs = pyfftw.empty_aligned(spectrum, cplx)
            self._ks = pyfftw.empty_aligned(spectrum, cplx)
            self._y = pyfftw.empty_aligned(shape, real)
        with self.stage("plan"):
            common = dict(axes=(0, 1), threads=problem.threads)
            self._fwd_x = pyfftw.FFTW(self._x, self._xs, flags=(planner,), **common)
            self._fwd_k = pyfftw.FFTW(self._k, self._ks, flags=(planner,), **common)
            self._inv = pyfftw.FFTW(
                self._xs, self._y, direction="FFTW_BACKWARD", flags=(planner, "FFTW_DESTROY_INPUT"), **common
            )
        # Measuring planners scribble over the buffers: the zero padding is set after planning.
        self._x[...] = 0
        self._k[...] = 0
        (h, w), (kh, kw) = problem.image_shape, problem.kernel_shape
        self._x_corner = self._x[:h, :w]
        self._k_corner = self._k[:kh, :kw]
        # The inverse is unnormalised; folding 1/size into the kernel costs n^2, not P.
        self._scale = real.type(1.0 / (shape[0] * shape[1]))
        self._window = self._y[output_window(problem)]

    def __call__(self) -> None:
        self._x_corner[...] = self.image
        np.multiply(self.kernel, self._scale, out=self._k_corner)
        self._fwd_x.execute()
        self._fwd_k.execute()
        np.multiply(self._xs, self._ks, out=self._xs)
        self._inv.execute()

    def result(self) -> np.ndarray:
        return self._window.copy()


class FftwBackend:
    """FFT convolution through planned pyFFTW real-to-complex transforms."""

    name = "fftw"
    method = "fft"
    device = "cpu"

    def __init__(self, planner: str = DEFAULT_PLANNER):
        if planner not in PLANNER_EFFORTS:
            raise ValueError(f"unknown planner effort {planner!r}; acceptable: {', '.join(PLANNER_EFFORTS)}")
        self.planner = planner

    def available(self) -> tuple[bool, str]:
        if pyfftw is None:
            return False, f"pyfftw is not installed: {_IMPORT_ERROR}"
        return True, ""

    def supports(self, problem: Problem) -> tuple[bool, str]:
        return True, ""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _FftwPrepared:
        return _FftwPrepared(problem, image, kernel, self.planner)


BACKEND = FftwBackend()
