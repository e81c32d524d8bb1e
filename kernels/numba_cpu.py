"""``numba-cpu``: direct correlation loops jitted with Numba, parallel over blocks of output rows.

Every op and mode reduces to one kernel, a *valid* correlation with the
effective kernel (flipped for ``conv``) over the image zero-padded as the mode
asks. The padding never reaches the hot loop as a branch: bands of rows are
padded on the fly into a small per-thread scratch (``_padded``), or, for tiny
or long 1-D problems, the loops run on a padded copy whose zero border was
written once. The loops themselves
are in ``_direct_loops``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._base import BackendBase, PreparedBase, check_inputs
from ._direct_loops import bind_valid_correlation, warm_up
from ._layer_direct import DirectLayer, widened_gradients
from ._layers import data_gradient_padding
from ._padded import PaddedCorrelation
from ._parallel import numba_threads_supported, parallel_copy
from ._placement import empty_apart_from
from ._problem import Problem, effective_kernel


class _NumbaCpuPrepared(PreparedBase):
    """Three ways to the output, all padding outside the hot loop:

    * ``valid``: the loops run on the image itself;
    * ``same``/``full`` where the specialised loops run: bands of rows padded on
      the fly, in the same parallel loop (:class:`PaddedCorrelation`);
    * otherwise (tiny outputs, long 1-D signals): the image is copied (in
      parallel) into a buffer whose zero border was written once.
    """

    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        self.image, self.kernel = check_inputs(problem, image, kernel)
        dtype = problem.np_dtype
        kernel_shape, out_shape = problem.kernel_shape, problem.out_shape
        top, left = problem.pad_before
        padding = problem.mode != "valid"
        with self.stage("alloc"):
            h, w = problem.image_shape
            self._banded = PaddedCorrelation.for_problem(problem) if padding else None
            self._copies = padding and self._banded is None
            self._padded = np.zeros(problem.padded_shape, dtype) if self._copies else self.image
            self._interior = self._padded[top : top + h, left : left + w]
            self._weights = np.empty(kernel_shape, dtype)
            self._out = empty_apart_from(self.image, out_shape, dtype)  # never 4K-aliased to the image
            # The loop and its arguments, bound once: a timed call pays only Numba's dispatch.
            if self._banded is not None:
                self._run = self._banded.bind(self.image, self._weights, self._out)
            else:
                self._run = bind_valid_correlation(self._padded, self._weights, self._out)
        with self.stage("compile"):
            # Compile (or load from Numba's disk cache) for this kernel shape and
            # dtype, on small arrays, so no real-sized run lands in compile_s.
            if self._banded is not None:
                PaddedCorrelation.warm_up(kernel_shape, dtype)
            else:
                warm_up(kernel_shape, out_shape, dtype)

    def __call__(self) -> None:
        if numba.get_num_threads() != self.problem.threads:  # setting costs twice as much as asking
            numba.set_num_threads(self.problem.threads)
        self._weights[...] = effective_kernel(self.problem.op, self.kernel)
        if self._copies:
            parallel_copy(self._interior, self.image)
        self._run()

    def result(self) -> np.ndarray:
        return self._out.copy()


class NumbaCpuBackend(BackendBase):
    """Direct loops on the CPU, ``numba.njit(parallel=True)`` with ``prange``."""

    name = "numba-cpu"
    method = "direct"
    device = "cpu"
    takes_layers = True  # layers run the channel loops of _layer_direct

    def supports(self, problem: Problem) -> tuple[bool, str]:
        return numba_threads_supported(problem.threads)

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> PreparedBase:
        if problem.is_layer:
            return DirectLayer(problem, image, kernel)
        return _NumbaCpuPrepared(problem, image, kernel)

    def memory_bytes(self, problem: Problem) -> int:
        """The default, plus what a layer's register blocks hold beside the loops' buffers.

        Forward and backward-data hold the padded input twice (as it is, and
        channels last for the blocks: :class:`DirectLayer` times both ways)
        and the filters in each way's layout; backward-weights the output
        gradients widened to the padded rows.
        """
        total = super().memory_bytes(problem)
        if not problem.is_layer:
            return total
        if problem.pass_ == "backward-weights":
            length, tail = widened_gradients(problem)
            images = problem.batch * problem.in_channels * math.prod(problem.padded_shape)  # the blocks' own copy
            return total + problem.np_dtype.itemsize * (problem.out_channels * length + images + tail)
        if problem.pass_ == "forward":
            sources, size = problem.in_channels, problem.padded_shape
        else:
            sources, size = problem.out_channels, data_gradient_padding(problem)[1]
        filters = problem.in_channels * problem.out_channels * math.prod(problem.kernel_shape)
        return total + problem.np_dtype.itemsize * (2 * problem.batch * sources * math.prod(size) + 2 * filters)


BACKEND = NumbaCpuBackend()
