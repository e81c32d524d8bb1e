"""``cupy-fft``: FFT convolution on the GPU with cuFFT plans made in ``prepare``, the counterpart of ``fftw``.

Same geometry as ``fftw`` (shortest alias-free length, cost-chosen size).
``prepare`` uploads the inputs, allocates the zero-padded image and kernel
buffers once, and makes the real-to-complex and complex-to-real cuFFT plans
for that shape (``cupyx.scipy.fft.get_fft_plan``), with the 1/size
normalisation folded into the kernel, and the spectrum and output buffers.
The timed call copies the image into its padded buffer, executes the plans
on those buffers, multiplies in place and runs the inverse: transforms and
product only, with no allocation, plan look-up or normalisation pass per
call. With ``cache_kernel_spectrum`` (``cupy-fft-cached``)
the kernel's spectrum is computed in ``prepare`` (fixed weights).

Layers run :class:`kernels._layer_fft_arrays.ArrayFftLayer` on CuPy, the code
``numpy-fft`` runs on the CPU: every tile and filter transformed once by
batched cuFFT (plans from CuPy's plan cache, made by the first call in
``prepare``), the channel sums as one batched complex matrix product on
cuBLAS, one batched inverse; ``cupy-fft-cached`` transforms the filters in
``prepare``.
"""

from __future__ import annotations

import numpy as np

from ._base import check_inputs
from ._fft_geometry import convolution_kernel, fft_shape, output_window
from ._gpu import GpuBackendBase, GpuPreparedBase, host_copy
from ._layer_fft_arrays import ArrayFftLayer, ArrayModule
from ._optional import optional_import
from ._problem import Problem
from ._spectrum import SpectrumCaching

cupy = optional_import("cupy")
cupyx_fft = optional_import("cupyx.scipy.fft")
# cuFFT's directions (real transforms ignore them; the plan's type decides).
FORWARD, INVERSE = -1, 1


class _CupyFftPrepared(GpuPreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray, cache_kernel: bool):
        super().__init__()
        self.problem = problem
        image, kernel = check_inputs(problem, image, kernel)
        self.fft_shape = shape = fft_shape(problem)
        self.cache_kernel = cache_kernel
        (h, w), (kh, kw) = problem.image_shape, problem.kernel_shape
        scale = 1.0 / (shape[0] * shape[1])  # the inverse is unnormalised: fold 1/size into the kernel
        weights = host_copy(convolution_kernel(problem, kernel)) * scale
        dtype = problem.np_dtype
        complex_dtype = np.result_type(dtype, np.complex64)
        half = (shape[0], shape[1] // 2 + 1)
        with self.stage("upload"):
            self._image = cupy.asarray(image)
            self._x = cupy.zeros(shape, dtype)
            self._k = cupy.zeros(shape, dtype)
            self._k[:kh, :kw] = cupy.asarray(weights.astype(dtype))
            # Every buffer a call touches exists from here on: a call allocates nothing.
            self._spectrum = cupy.empty(half, complex_dtype)
            self._kernel_spectrum = cupy.empty(half, complex_dtype)
            self._y = cupy.empty(shape, dtype)
            self.sync()
        self._corner = self._x[:h, :w]
        # One row is a 1-D transform: cuFFT's 2-D real plans refuse a (1, n) array, which is F-ordered too.
        axes = (1,) if shape[0] == 1 else (0, 1)
        with self.stage("plan"):
            self._forward = cupyx_fft.get_fft_plan(self._x, axes=axes, value_type="R2C")
            self._inverse = cupyx_fft.get_fft_plan(
                self._spectrum, shape=tuple(shape[a] for a in axes), axes=axes, value_type="C2R"
            )
            self.sync()
        if cache_kernel:
            with self.stage("kernel_spectrum"):
                self._forward.fft(self._k, self._kernel_spectrum, FORWARD)
                self.sync()
        self._window = output_window(problem)
        self.finish_prepare("compile")  # the first product and copy compile CuPy's elementwise kernels

    def __call__(self) -> None:
        # Plans executed on the buffers made in prepare (the C2R transform overwrites its input, the
        # spectrum, which each call rewrites): no plan look-up, allocation or normalisation per call.
        self._corner[...] = self._image
        self._forward.fft(self._x, self._spectrum, FORWARD)
        if not self.cache_kernel:
            self._forward.fft(self._k, self._kernel_spectrum, FORWARD)
        cupy.multiply(self._spectrum, self._kernel_spectrum, out=self._spectrum)
        self._inverse.fft(self._spectrum, self._y, INVERSE)

    def sync(self) -> None:
        cupy.cuda.Device().synchronize()

    def result(self) -> np.ndarray:
        return cupy.asnumpy(self._y[self._window]).astype(self.problem.np_dtype, copy=False)


def _synchronize() -> None:
    cupy.cuda.Device().synchronize()


class _CupyFftLayer(ArrayFftLayer, GpuPreparedBase):
    """A layer's pass by :class:`ArrayFftLayer` on the GPU; its first call, in ``prepare``, makes cuFFT's plans."""

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray, filters_once: bool):
        arrays = ArrayModule(cupy, cupyx_fft, cupy.asarray, cupy.asnumpy, _synchronize)
        super().__init__(problem, first, second, arrays, filters_once)
        self.finish_prepare("plan")


class CupyFftBackend(SpectrumCaching, GpuBackendBase):
    """FFT convolution with cuFFT plans made once, device-resident inputs (see :class:`SpectrumCaching`)."""

    method = "fft"
    requires = ("cupy", "cupyx.scipy.fft")
    takes_layers = True

    def __init__(self, name: str = "cupy-fft", cache_kernel_spectrum: bool = False):
        super().__init__(name, cache_kernel_spectrum)

    def gpu_count(self) -> int:
        return cupy.cuda.runtime.getDeviceCount()

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> GpuPreparedBase:
        if problem.is_layer:
            return _CupyFftLayer(problem, image, kernel, self.cache_kernel_spectrum)
        return _CupyFftPrepared(problem, image, kernel, self.cache_kernel_spectrum)


BACKEND = CupyFftBackend()
