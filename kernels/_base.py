"""The backend contract: what a backend and a prepared case provide, with a default for every optional part.

A backend is one module in ``kernels/`` (or an installed plugin) whose
``BACKEND`` is an instance of a :class:`BackendBase` subclass. ``prepare``
does everything a real user pays once (compilation, FFT planning, allocation,
upload) and returns a :class:`PreparedBase` whose call is the only timed work.
The harness calls the methods below and nothing else; a new backend writes
only what is particular to it: its name, method and device, the packages it
``requires``, and ``prepare``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from ._fft_geometry import fft_shape
from ._messages import allowed_list, nearest
from ._optional import import_problem
from ._problem import Problem

METHODS = ("direct", "fft", "gemm", "winograd")
DEVICES = ("cpu", "cuda")


@runtime_checkable
class Prepared(Protocol):
    """A case made ready to run: the call is the timed work."""

    setup_seconds: dict[str, float]
    notes: str

    def __call__(self) -> None:
        """Compute the output; it stays where it lives (host buffer or device)."""

    def sync(self) -> None:
        """Wait until the device has finished; a no-op on the CPU."""

    def result(self) -> np.ndarray:
        """A host copy of the last output, of shape ``problem.out_shape``."""


class PreparedBase:
    """Base of every prepared case, CPU or GPU.

    ``setup_seconds`` is filled by :meth:`stage`; ``notes`` (empty by default)
    goes into the row's ``reason`` for an ``ok`` row; :meth:`sync` is a no-op,
    which GPU cases override to wait for the device.
    """

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

    def __call__(self) -> None:
        raise NotImplementedError

    def result(self) -> np.ndarray:
        raise NotImplementedError


# The name before the contract covered GPU cases too; plugins written against it keep working.
HostPrepared = PreparedBase


@runtime_checkable
class Backend(Protocol):
    """One way of computing a convolution, registered under ``name``: see :class:`BackendBase`."""

    name: str
    method: str
    device: str

    def available(self) -> tuple[bool, str]: ...
    def supports(self, problem: Problem) -> tuple[bool, str]: ...
    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> Prepared: ...
    def options(self) -> dict: ...
    def check_options(self, values: dict) -> None: ...
    def configure(self, **values) -> None: ...
    def metadata(self) -> dict: ...
    def transforms(self, problem: Problem) -> tuple[int, tuple[int, int]]: ...
    def memory_bytes(self, problem: Problem) -> int: ...


class BackendBase:
    """Base of every backend, with the defaults of each optional capability.

    Class attributes
    ----------------
    name : str
        Registry name, e.g. ``"numba-cpu"``.
    method : {"direct", "fft", "gemm", "winograd"}
    device : {"cpu", "cuda"}
    requires : tuple of str
        Modules that must import for the backend to run; :meth:`available`
        checks them (any exception while importing counts as missing).
    install_hint : str
        What to install when one is missing, e.g. ``"pip install convbench[peers]"``.
    OPTIONS : dict
        Option name -> its acceptable values; the default of each is the class
        attribute of the same name. ``[backend_options.NAME]`` in a config sets them.
    takes_layers : bool
        Whether ``prepare`` takes CNN layer problems (:attr:`Problem.is_layer`:
        4-D inputs of :func:`kernels._layers.input_shapes`); False by default,
        and the harness records the others' layer rows as ``unsupported``.
    """

    name: str = ""
    method: str = "direct"
    device: str = "cpu"
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    OPTIONS: ClassVar[dict[str, tuple]] = {}
    takes_layers: ClassVar[bool] = False

    def available(self) -> tuple[bool, str]:
        """Whether the backend can run here: its modules import and :meth:`device_ready` agrees."""
        problem = import_problem(self.requires)
        if problem:
            hint = f"; {self.install_hint}" if self.install_hint else ""
            return False, problem + hint
        return self.device_ready()

    def device_ready(self) -> tuple[bool, str]:
        """Whether the device is usable (GPU backends check the driver here); ``(True, "")`` on the CPU."""
        return True, ""

    def supports(self, problem: Problem) -> tuple[bool, str]:
        """Whether the backend handles this problem; when not, the reason. Every problem by default."""
        return True, ""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> PreparedBase:
        """Make the case ready to run (not timed)."""
        raise NotImplementedError(f"backend {self.name!r} does not implement prepare()")

    def options(self) -> dict:
        """The options in force, as rows and metadata record them (``{}`` without options)."""
        return {key: getattr(self, key) for key in self.OPTIONS}

    def check_options(self, values: dict) -> None:
        """Raise ``ValueError`` naming the option and what is acceptable, unless ``values`` are all valid."""
        for key, value in values.items():
            if key not in self.OPTIONS:
                choices = allowed_list(self.OPTIONS) if self.OPTIONS else "none"
                raise ValueError(f"unknown option {key!r}{nearest(key, self.OPTIONS)}; {self.name} takes {choices}")
            if value not in self.OPTIONS[key]:
                raise ValueError(
                    f"{key}: {value!r}{nearest(value, self.OPTIONS[key])}; "
                    f"acceptable values are {allowed_list(self.OPTIONS[key])}"
                )

    def configure(self, **values) -> None:
        """Set options for later ``prepare`` calls (checked first: nothing changes on a bad value)."""
        self.check_options(values)
        for key, value in values.items():
            setattr(self, key, value)

    def metadata(self) -> dict:
        """The backend's account of itself for the run's sidecar (planner, wisdom...); ``{}`` by default."""
        return {}

    def transforms(self, problem: Problem) -> tuple[int, tuple[int, int]]:
        """``(count, shape)``: the image transforms one call makes, for the FFT cost model.

        One transform of :func:`kernels.fft_shape` by default; overlap-add
        backends return their block count and block transform shape.
        """
        return 1, fft_shape(problem)

    def memory_bytes(self, problem: Problem) -> int:
        """What a case will hold at once, for the memory guard.

        By default the inputs and output in the case's dtype and the float64
        reference (output plus padded image), plus a padded image for direct
        backends, or seven padded real arrays (three real buffers, two complex
        spectra) for FFT backends.
        """
        item = problem.np_dtype.itemsize
        if problem.is_layer:  # the float64 reference's output and padded images, and our own padded copy
            padded = problem.batch * max(problem.in_channels, problem.out_channels) * math.prod(problem.padded_shape)
            return problem.input_bytes() + 8 * (problem.input_bytes() // item + padded) + item * padded
        total = problem.input_bytes() + 8 * (problem.outputs + math.prod(problem.padded_shape))
        if self.method == "fft":
            return total + 7 * item * math.prod(fft_shape(problem))
        return total + item * math.prod(problem.padded_shape)


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
