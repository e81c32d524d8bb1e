"""What the CuPy peers share: the optional import, the upload in ``prepare``, the device sync and the download."""

from __future__ import annotations

import numpy as np

from ._base import check_inputs
from ._gpu import GpuBackendBase, GpuPreparedBase, host_copy
from ._optional import optional_import
from ._problem import Problem

cupy = optional_import("cupy")
cupyx_signal = optional_import("cupyx.scipy.signal")


class CupyPeerBackend(GpuBackendBase):
    """A peer built on CuPy (``cuda`` extra)."""

    requires = ("cupy", "cupyx.scipy.signal")
    prepared: type  # the CupyPeerPrepared subclass that computes this peer's output

    def gpu_count(self) -> int:
        return cupy.cuda.runtime.getDeviceCount()

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> CupyPeerPrepared:
        return self.prepared(problem, image, kernel)


class CupyPeerPrepared(GpuPreparedBase):
    """Inputs uploaded (timed as ``upload``), one call to compile (``compile``), one download timed.

    Subclasses implement ``_compute()`` on ``self._x`` and ``self._k`` and return the output on the device.
    """

    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        image, kernel = check_inputs(problem, image, kernel)
        with self.stage("upload"):
            self._x = cupy.asarray(image)
            self._k = cupy.asarray(host_copy(kernel))
            self.sync()
        self.finish_prepare("compile")

    def _compute(self):
        raise NotImplementedError

    def __call__(self) -> None:
        self._out = self._compute()

    def sync(self) -> None:
        cupy.cuda.Device().synchronize()

    def result(self) -> np.ndarray:
        return cupy.asnumpy(self._out).astype(self.problem.np_dtype, copy=False)
