"""``fftw-oa``: overlap-add FFT convolution, the image cut into blocks, with batched FFTW plans.

One transform of the whole padded image costs ~N^2 log N whatever the kernel.
Cutting the image into B x B blocks, each transformed at a size P >= B + n - 1,
costs ~N^2 log P: for small kernels P is far below N, so this third regime
sits between the direct loop and the full-size FFT on the crossover plot.

``prepare`` picks the block transform size by predicted cost (as
``scipy.signal.oaconvolve`` does), plans one batched forward transform over all
blocks, one for the kernel and one batched inverse. The timed call scatters the
image into the zero-padded blocks, transforms, multiplies every block by the
kernel's spectrum, transforms back and adds the overlapping block results into
the full output, whose window is the result.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ._base import PreparedBase, check_inputs
from ._fft_geometry import convolution_kernel, fast_lengths, length_penalty, output_window, predicted_cost
from ._fftw_planning import FftwBackendBase, make_plans, pyfftw
from ._problem import Problem

# Per-element cost of scatter, product and overlap-add per block, in the units
# of predicted_cost (about 20 per element for a 1024-point transform).
_BLOCK_OVERHEAD = 4.0

@functools.lru_cache(maxsize=4096)
def block_plan(image_shape, kernel_shape) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(block shape, transform shape)`` with the lowest predicted overlap-add cost.

    Per axis the transform length P is an FFTW-fast length with block
    B = P - n + 1 >= n - 1 (so block rows overlap only neighbours), up to the
    length that covers the whole image in one block.
    """
    options = []
    for size, n in zip(image_shape, kernel_shape):
        if size == 1 and n == 1:
            options.append([(1, 1)])
            continue
        whole = size + n - 1
        lowest = max(2 * n - 2, n + 1, 2)
        lengths = [p for p in fast_lengths(min(lowest, whole), max(whole, lowest)) if length_penalty(p) <= 1.3]
        lengths = lengths or fast_lengths(whole)[:1]
        options.append([(p - n + 1, p) for p in lengths if p - n + 1 >= 1])

    def cost(choice):
        (b0, p0), (b1, p1) = choice
        count = math.ceil(image_shape[0] / b0) * math.ceil(image_shape[1] / b1)
        transform = predicted_cost((p0, p1))
        return count * (2 * transform + _BLOCK_OVERHEAD * p0 * p1) + transform

    best = min(((a, b) for a in options[0] for b in options[1]), key=cost)
    return (best[0][0], best[1][0]), (best[0][1], best[1][1])


class _FftwOaPrepared(PreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray, planner: str):
        super().__init__()
        from ._overlap_add import overlap_add, scatter  # numba's: imported once available() said so
        from ._parallel import multiply_batch_into

        self._scatter, self._multiply, self._overlap_add = scatter, multiply_batch_into, overlap_add
        self.problem = problem
        self.image, kernel = check_inputs(problem, image, kernel)
        conv_kernel = np.ascontiguousarray(convolution_kernel(problem, kernel))
        (h, w), (kh, kw) = problem.image_shape, problem.kernel_shape
        (self._bh, self._bw), shape = block_plan(problem.image_shape, problem.kernel_shape)
        self.fft_shape = shape
        self.block_shape = (self._bh, self._bw)
        self._per_row = math.ceil(w / self._bw)
        count = math.ceil(h / self._bh) * self._per_row
        real = problem.np_dtype
        cplx = np.result_type(real, np.complex64)
        spectrum = (shape[0], shape[1] // 2 + 1)
        with self.stage("alloc"):
            self._x = pyfftw.zeros_aligned((count, *shape), real)
            self._xs = pyfftw.empty_aligned((count, *spectrum), cplx)
            self._y = pyfftw.empty_aligned((count, *shape), real)
            self._k = pyfftw.zeros_aligned(shape, real)
            self._ks = pyfftw.empty_aligned(spectrum, cplx)
            self._full = np.empty(problem.full_shape, real)
        with self.stage("plan"):
            self.plans = make_plans(
                {
                    "forward_blocks": (self._x, self._xs, (1, 2), False),
                    "forward_kernel": (self._k, self._ks, (0, 1), False),
                    "inverse_blocks": (self._xs, self._y, (1, 2), True),
                },
                planner,
                problem.threads,
            )
        self._x[...] = 0  # planning scribbles; the blocks' padding stays zero from here on
        self._k[...] = 0
        np.multiply(conv_kernel, real.type(1.0 / (shape[0] * shape[1])), out=self._k[:kh, :kw])
        self._kernel_shape = (kh, kw)
        self._window = self._full[output_window(problem)]

    def __call__(self) -> None:
        self._scatter(self.image, self._x, self._bh, self._bw, self._per_row)
        self.plans["forward_blocks"].execute()
        self.plans["forward_kernel"].execute()
        self._multiply(self._xs, self._ks)
        self.plans["inverse_blocks"].execute()
        self._overlap_add(self._y, self._full, self._bh, self._bw, self._per_row, *self._kernel_shape)

    def result(self) -> np.ndarray:
        return self._window.copy()


class FftwOaBackend(FftwBackendBase):
    """Overlap-add FFT convolution over image blocks, batched pyFFTW plans."""

    name = "fftw-oa"
    requires = ("pyfftw", "numba")  # its block loops are numba's

    def transforms(self, problem: Problem) -> tuple[int, tuple[int, int]]:
        """One transform per image block, of the block plan's padded shape (see ``kernels.transform_plan``)."""
        (bh, bw), shape = block_plan(problem.image_shape, problem.kernel_shape)
        (h, w) = problem.image_shape
        return math.ceil(h / bh) * math.ceil(w / bw), shape

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _FftwOaPrepared:
        return _FftwOaPrepared(problem, image, kernel, self.planner)


BACKEND = FftwOaBackend()
