"""The backend contract: what a backend and a prepared case must provide.

A backend is one module in ``kernels/`` whose module attribute ``BACKEND`` is an
object satisfying :class:`Backend`. ``prepare`` does everything a real user pays
once (compilation, FFT planning, allocation, upload) and returns a
:class:`Prepared` whose call is the only timed work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import numpy as np

from ._problem import Problem


@runtime_checkable
class Prepared(Protocol):
    """A case made ready to run: the call is the timed work."""

    setup_seconds: dict[str, float]

    def __call__(self) -> None:
        """Compute the output; it stays where it lives (host buffer or device)."""

    def sync(self) -> None:
        """Wait until the device has finished; a no-op on the CPU."""

    def result(self) -> np.ndarray:
        """A host copy of the last output, of shape ``problem.out_shape``."""


@runtime_checkable
class Backend(Protocol):
    """One way of computing a convolution, registered under ``name``."""

    name: str
    method: str  # "direct" | "fft"
    device: str  # "cpu" | "cuda"

    def available(self) -> tuple[bool, str]:
        """Whether the backend can run here; when not, the reason."""

    def supports(self, problem: Problem) -> tuple[bool, str]:
        """Whether the backend handles this problem; when not, the reason."""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> Prepared:
        """Make the case ready to run (not timed)."""


class HostPrepared:
    """Base for prepared CPU cases: no device, ``setup_seconds`` filled by :meth:`stage`."""

    notes = ""

    def __init__(self) -> None:
        self.setup_seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the wall time of the ``with`` body to ``setup_seconds[name]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.setup_seconds[name] = self.setup_seconds.get(name, 0.0) + elapsed

    def sync(self) -> None:
        return None


def check_inputs(problem: Problem, image: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return image and kernel as C-contiguous 2-D arrays of the problem's dtype, or raise ``ValueError``."""
    dtype = problem.np_dtype
    image2 = np.ascontiguousarray(image, dtype=dtype)
    kernel2 = np.ascontiguousarray(kernel, dtype=dtype)
    image2 = image2.reshape(1, -1) if image2.ndim == 1 else image2
    kernel2 = kernel2.reshape(1, -1) if kernel2.ndim == 1 else kernel2
    if image2.shape != problem.image_shape or kernel2.shape != problem.kernel_shape:
        raise ValueError(
            f"inputs of shape {image2.shape} and {kernel2.shape} do not match the problem's "
            f"{problem.image_shape} and {problem.kernel_shape}"
        )
    return image2, kernel2
