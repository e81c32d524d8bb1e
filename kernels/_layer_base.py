"""What every CPU layer algorithm shares: its inputs checked, and a call on the problem's threads."""

from __future__ import annotations

import numba
import numpy as np

from ._base import PreparedBase
from ._layers import input_shapes
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
