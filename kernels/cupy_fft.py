"""``cupy-fft``: FFT convolution on the GPU with cuFFT plans made in ``prepare``, the counterpart of ``fftw``.

Same geometry as ``fftw`` (shortest alias-free length, cost-chosen size).
``prepare`` uploads the inputs, allocates the zero-padded image and kernel
buffers once, and makes the real-to-complex and complex-to-real cuFFT plans
for that shape (``cupyx.scipy.fft.get_fft_plan``), with the 1/size
normalisation folded into the kernel. The timed call copies the image into
its padded buffer, runs the forward plans, multiplies in place and runs the
inverse: transforms and product only, no padding arrays, plan look-ups or
normalisation pass per call. With ``cache_kernel_spectrum`` (``cupy-fft-cached``)
the kernel's spectrum is computed in ``prepare`` (fixed weights).
"""

from __future__ import annotations

import numpy as np

from ._base import check_inputs
from ._fft_geometry import convolution_kernel, fft_shape, output_window
from ._gpu import GpuBackendBase, GpuPreparedBase, host_copy
from ._optional import optional_import
from ._problem import Problem
from ._spectrum import SpectrumCaching

cupy = optional_import("cupy")
cupyx_fft = optional_import("cupyx.scipy.fft")


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
        with self.stage("upload"):
            self._image = cupy.asarray(image)
            self._x = cupy.zeros(shape, problem.np_dtype)
            self._k = cupy.zeros(shape, problem.np_dtype)
            self._k[:kh, :kw] = cupy.asarray(weights.astype(problem.np_dtype))
            self.sync()
        self._corner = self._x[:h, :w]
        with self.stage("plan"):
            self._forward = cupyx_fft.get_fft_plan(self._x, axes=(0, 1), value_type="R2C")
            spectrum = cupyx_fft.rfft2(self._x, plan=self._forward)
            self._inverse = cupyx_fft.get_fft_plan(spectrum, shape=shape, axes=(0, 1), value_type="C2R")
            self.sync()
        if cache_kernel:
            with self.stage("kernel_spectrum"):
                self._ks = cupyx_fft.rfft2(self._k, plan=self._forward)
                self.sync()
        self._window = output_window(problem)
        self.finish_prepare("compile")  # the first product and copy compile CuPy's elementwise kernels

    def __call__(self) -> None:
        self._corner[...] = self._image
        spectrum = cupyx_fft.rfft2(self._x, plan=self._forward)
        spectrum *= self._ks if self.cache_kernel else cupyx_fft.rfft2(self._k, plan=self._forward)
        self._out = cupyx_fft.irfft2(spectrum, s=self.fft_shape, norm="forward", plan=self._inverse)

    def sync(self) -> None:
        cupy.cuda.Device().synchronize()

    def result(self) -> np.ndarray:
        return cupy.asnumpy(self._out[self._window]).astype(self.problem.np_dtype, copy=False)


class CupyFftBackend(SpectrumCaching, GpuBackendBase):
    """FFT convolution with cuFFT plans made once, device-resident inputs (see :class:`SpectrumCaching`)."""

    method = "fft"
    requires = ("cupy", "cupyx.scipy.fft")

    def __init__(self, name: str = "cupy-fft", cache_kernel_spectrum: bool = False):
        super().__init__(name, cache_kernel_spectrum)

    def gpu_count(self) -> int:
        return cupy.cuda.runtime.getDeviceCount()

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _CupyFftPrepared:
        return _CupyFftPrepared(problem, image, kernel, self.cache_kernel_spectrum)


BACKEND = CupyFftBackend()
