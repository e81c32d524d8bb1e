"""``numpy-fft``: FFT convolution with ``numpy.fft``, the baseline every FFT backend must beat.

numpy's pocketfft has no plans and no threads: each call pads, transforms and
allocates afresh, which is what most user code does.

Layers run :class:`kernels._layer_fft_arrays.ArrayFftLayer` on numpy: the
tiles and transform reuse of ``fftw``'s layer in whole-array numpy calls
(batched ``rfftn``, the channel sums by ``matmul`` on BLAS), the code that
``cupy-fft`` runs on the GPU.
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase, PreparedBase, check_inputs
from ._fft_geometry import convolution_kernel, fft_shape, output_window
from ._layer_fft import call_transforms
from ._layer_fft_arrays import ArrayFftLayer, array_layer_bytes
from ._layer_gemm import limit_blas
from ._problem import Problem


class _NumpyFftPrepared(PreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        self.image, kernel = check_inputs(problem, image, kernel)
        self.kernel = convolution_kernel(problem, kernel)
        self.fft_shape = fft_shape(problem)
        self._window = output_window(problem)
        self._out = None
        if problem.threads > 1:
            self.notes = "numpy.fft is single-threaded: ran on 1 thread"

    def __call__(self) -> None:
        spectrum = np.fft.rfft2(self.image, s=self.fft_shape)
        spectrum *= np.fft.rfft2(self.kernel, s=self.fft_shape)
        self._out = np.fft.irfft2(spectrum, s=self.fft_shape)[self._window]

    def result(self) -> np.ndarray:
        return np.array(self._out, dtype=self.problem.np_dtype)


class NumpyFftBackend(BackendBase):
    """FFT convolution with ``numpy.fft.rfft2``/``irfft2``; always available, single-threaded."""

    name = "numpy-fft"
    method = "fft"
    takes_layers = True

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> PreparedBase:
        if not problem.is_layer:
            return _NumpyFftPrepared(problem, image, kernel)
        prepared = ArrayFftLayer(problem, image, kernel)
        prepared.notes = f"numpy.fft on 1 thread, products on {limit_blas(problem.threads)}; {prepared.notes}"
        return prepared

    def transforms(self, problem: Problem) -> tuple[int, tuple[int, int]]:
        """One image transform for a single image; for a layer, every transform one call makes, of the tile shape."""
        return call_transforms(problem) if problem.is_layer else super().transforms(problem)

    def memory_bytes(self, problem: Problem) -> int:
        """The default, plus for a layer what its whole-array calls hold at once."""
        return super().memory_bytes(problem) + (array_layer_bytes(problem) if problem.is_layer else 0)


BACKEND = NumpyFftBackend()
