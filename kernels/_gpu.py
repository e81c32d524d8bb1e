"""What the GPU backends share: the simulator check and the base class that reports it."""

from __future__ import annotations

import os
import time

import numpy as np

from ._base import BackendBase, PreparedBase
from ._problem import Problem, effective_kernel

SIMULATOR_REASON = "NUMBA_ENABLE_CUDASIM=1: the simulator checks correctness, its timings mean nothing"


def simulator_active() -> bool:
    """True when ``NUMBA_ENABLE_CUDASIM=1``: kernels run in Python, timings are meaningless."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def host_copy(array) -> np.ndarray:
    """A fresh C-ordered copy of ``array``, ready to upload.

    Not ``np.ascontiguousarray``: numpy flags a one-element array contiguous
    whatever its strides, so a flipped 1x1 kernel kept its negative strides and
    numba-cuda's ``to_device`` rejected it.
    """
    return np.array(array, order="C", copy=True)


def host_weights(problem: Problem, kernel: np.ndarray) -> np.ndarray:
    """The effective kernel (flipped for ``conv``) as a fresh C-ordered array, ready to upload."""
    return host_copy(effective_kernel(problem.op, kernel))


class GpuPreparedBase(PreparedBase):
    """A prepared GPU case: ``finish_prepare`` makes the first call and times one download."""

    def finish_prepare(self, first_call: str) -> None:
        """Run the first call under the setup stage ``first_call`` (compile, plan...), then time a download.

        The first call compiles kernels or lets the library choose its algorithm, costs
        a user pays once; the download is recorded apart from the timed calls.
        """
        with self.stage(first_call):
            self()
            self.sync()
        start = time.perf_counter()
        self.result()
        self.setup_seconds["download"] = time.perf_counter() - start


class GpuBackendBase(BackendBase):
    """A CUDA backend (``cuda`` extra): unavailable to sweeps under the simulator or without a usable GPU."""

    device = "cuda"
    install_hint = "pip install convbench[cuda]"

    def device_ready(self) -> tuple[bool, str]:
        if simulator_active():
            return False, SIMULATOR_REASON
        try:
            count = self.gpu_count()
        except Exception as exc:  # noqa: BLE001 - a broken driver must not break the registry
            return False, f"no usable CUDA GPU: {type(exc).__name__}: {exc}"
        return (True, "") if count > 0 else (False, "no CUDA GPU or driver")

    def gpu_count(self) -> int:
        """CUDA devices the backend's library sees (raises when the driver is unusable)."""
        raise NotImplementedError


def time_launch(launch, repeats: int = 3) -> float:
    """Seconds of one call of ``launch`` (warmed up already): the least of ``repeats`` CUDA-event timings."""
    from numba import cuda

    best = float("inf")
    for _ in range(repeats):
        start, end = cuda.event(), cuda.event()
        start.record()
        launch()
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return best
