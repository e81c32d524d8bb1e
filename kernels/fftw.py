"""``fftw``: FFT convolution with real-to-complex FFTW plans made once by pyFFTW.

``prepare`` picks the padded size by predicted FFTW cost, allocates aligned
buffers, plans the forward transforms of image and kernel and the inverse
(effort ``FFTW_MEASURE`` unless configured; wisdom loaded from and saved to the
user's cache) and zeroes the padding once. The timed call copies the inputs
into the buffers' corners, runs the plans, multiplies the spectra in place and
leaves the output as a view into the inverse's buffer. Copy and product are
numpy's (one thread): done by numba's threads they cost a hand-off between its
thread pool and FFTW's at every step, which measured slower up to 1024x1024
(call 1.5x the raw transforms at 512x512, against 1.03x) and no faster at 2048.

With ``cache_kernel_spectrum`` (the ``fftw-cached`` backend) the kernel's
spectrum is computed in ``prepare``, as for fixed weights in CNN inference, and
the timed call transforms only the image.

Layers (batch and channels) run :class:`kernels._layer_fft.FftLayer`: every
map and filter transformed once, the channel sums as complex matrix products,
overlap-save tiles for large images; ``fftw-cached`` transforms the filters in
``prepare`` there too.
"""

from __future__ import annotations

import numpy as np

from ._base import PreparedBase, check_inputs
from ._fft_geometry import convolution_kernel, fft_shape, output_window
from ._fftw_planning import FftwBackendBase, make_plans, pyfftw
from ._layer_fft import FftLayer, layer_bytes
from ._problem import Problem
from ._spectrum import SpectrumCaching


class _FftwPrepared(PreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray, planner: str, cache_kernel: bool):
        super().__init__()
        self.problem = problem
        self.image, kernel = check_inputs(problem, image, kernel)
        self.kernel = np.ascontiguousarray(convolution_kernel(problem, kernel))
        self.fft_shape = shape = fft_shape(problem)
        self.cache_kernel = cache_kernel
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
            axes = (0, 1)
            self.plans = make_plans(
                {
                    "forward_image": (self._x, self._xs, axes, False),
                    "forward_kernel": (self._k, self._ks, axes, False),
                    "inverse": (self._xs, self._y, axes, True),
                },
                planner,
                problem.threads,
            )
        # Measuring planners scribble over the buffers: the zero padding is set after planning.
        self._x[...] = 0
        self._k[...] = 0
        (h, w), (kh, kw) = problem.image_shape, problem.kernel_shape
        self._x_corner = self._x[:h, :w]
        # The inverse is unnormalised; folding 1/size into the kernel costs n^2, not P.
        np.multiply(self.kernel, real.type(1.0 / (shape[0] * shape[1])), out=self._k[:kh, :kw])
        if cache_kernel:
            with self.stage("kernel_spectrum"):
                self.plans["forward_kernel"].execute()
        self._window = self._y[output_window(problem)]

    def __call__(self) -> None:
        self._x_corner[...] = self.image
        self.plans["forward_image"].execute()
        if not self.cache_kernel:
            self.plans["forward_kernel"].execute()
        np.multiply(self._xs, self._ks, out=self._xs)
        self.plans["inverse"].execute()

    def result(self) -> np.ndarray:
        return self._window.copy()


class FftwBackend(SpectrumCaching, FftwBackendBase):
    """FFT convolution through planned pyFFTW real-to-complex transforms (see :class:`SpectrumCaching`)."""

    takes_layers = True

    def __init__(self, name: str = "fftw", cache_kernel_spectrum: bool = False):
        super().__init__(name, cache_kernel_spectrum)

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> PreparedBase:
        if problem.is_layer:
            return FftLayer(problem, image, kernel, self.planner, filters_once=self.cache_kernel_spectrum)
        return _FftwPrepared(problem, image, kernel, self.planner, self.cache_kernel_spectrum)

    def memory_bytes(self, problem: Problem) -> int:
        """The default, plus for a layer the tiles, filters and outputs with their spectra."""
        extra = layer_bytes(problem) if problem.is_layer else 0
        return super().memory_bytes(problem) + extra


BACKEND = FftwBackend()
