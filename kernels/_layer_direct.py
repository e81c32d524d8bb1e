"""The direct layer on the CPU: every pass as Numba loops over the channels (:mod:`kernels._layer_loops`).

``forward`` and ``backward-data`` run one loop, a valid correlation summed
over channels (backward-data over the zero-padded output gradients with the
filters flipped and transposed); ``backward-weights`` runs the weight
gradient's dot products. Padding is part of the timed call, as in the
single-channel ``numba-cpu``.
"""

from __future__ import annotations

import numba
import numpy as np

from ._base import PreparedBase
from ._layer_loops import direct_forward, direct_weights, pad_into
from ._layers import correlation_filters, data_gradient_padding, input_shapes, oriented, output_shape
from ._problem import Problem


def check_layer_inputs(problem: Problem, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pass's inputs as C-contiguous 4-D arrays of the problem's dtype, or ``ValueError`` naming the shape expected.

    One image and one kernel (not :attr:`~kernels.Problem.is_layer`) may come as 2-D arrays, as backends get them.
    """
    out = []
    for name, array, shape in zip(("first", "second"), (first, second), input_shapes(problem)):
        array = np.asarray(array)
        if not problem.is_layer and array.size == np.prod(shape):
            array = array.reshape(shape)
        if array.shape != shape:
            raise ValueError(f"{problem.pass_} pass: {name} input has shape {array.shape}, expected {shape}")
        out.append(np.ascontiguousarray(array, dtype=problem.np_dtype))
    return out[0], out[1]


class LayerPrepared(PreparedBase):
    """What the layer algorithms share: the inputs checked, and the output as the problem's shape."""

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray):
        super().__init__()
        self.problem = problem
        self.first, self.second = check_layer_inputs(problem, first, second)

    def _run(self) -> None:
        """The pass itself, on the buffers ``__init__`` made."""
        raise NotImplementedError

    def __call__(self) -> None:
        if numba.get_num_threads() != self.problem.threads:  # setting costs more than asking
            numba.set_num_threads(self.problem.threads)
        self._run()

    def _output(self) -> np.ndarray:
        """The last output, 4-D; :meth:`result` gives a copy in the problem's shape."""
        raise NotImplementedError

    def result(self) -> np.ndarray:
        out = self._output()
        return out.reshape(self.problem.out_shape).copy() if not self.problem.is_layer else out.copy()


class DirectLayer(LayerPrepared):
    """One pass of a layer by direct loops; the call is the timed work, the output stays in its buffer."""

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray):
        super().__init__(problem, first, second)
        dtype, kind = problem.np_dtype, problem.pass_
        with self.stage("alloc"):
            self._out = np.empty(output_shape(problem), dtype)
            if kind == "backward-data":
                self._offset, size = data_gradient_padding(problem)
                self._padded = np.zeros((problem.batch, problem.out_channels, *size), dtype)
                self._filters = np.empty((problem.in_channels, problem.out_channels, *problem.kernel_shape), dtype)
            else:
                self._offset, size = problem.pad_before, problem.padded_shape
                self._padded = np.zeros((problem.batch, problem.in_channels, *size), dtype)
                self._filters = np.empty(input_shapes(problem)[1], dtype) if kind == "forward" else None
        with self.stage("compile"):
            self._run()  # compiles (or loads from Numba's cache) for these dtypes; the output is recomputed anyway

    def _run(self) -> None:
        top, left = self._offset
        pad_into(self.first, self._padded, top, left)
        if self.problem.pass_ == "backward-weights":
            direct_weights(self._padded, self.second, self._out)
        else:
            self._filters[...] = correlation_filters(self.problem, self.second)
            direct_forward(self._padded, self._filters, self._out)

    def _output(self) -> np.ndarray:
        if self.problem.pass_ == "backward-weights":
            return oriented(self.problem, self._out)  # a conv layer's weights gradient, flipped back
        return self._out
