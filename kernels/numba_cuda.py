"""``numba-cuda``: direct correlation on the GPU with Numba CUDA kernels.

The loop is in ``_cuda_direct``: register-blocked column strips per thread,
the kernel walked in chunks staged in shared memory with the input tile they
read, so any kernel size runs. As on the CPU, every op and mode is a valid
correlation of a zero-padded image with the effective kernel; the padded image
and the weights are uploaded in ``prepare`` and the kernel for the problem's
chunk shape is compiled there, so the timed call is one launch on
device-resident arrays. With ``tune`` (the default, recorded in the row's
options) ``prepare`` also times the candidate block shapes on the case's own
arrays and keeps the fastest, as cuDNN's benchmark mode does: two block
shapes, each with the input staged in shared memory and, for kernels of up to
16 rows, read through L1 instead. The search is the ``plan`` setup stage and
the choice, with every launch's time, is in the row's ``reason``.

CNN layers (every pass) run the kernels of ``_cuda_layers``: the channel sum
of valid correlations (forward, backward-data) and the weight gradient.

Under ``NUMBA_ENABLE_CUDASIM=1`` the kernels run in Numba's simulator: right
answers, meaningless times. The backend then reports itself unavailable to
sweeps, and the test suite prepares it directly to check correctness.
"""

from __future__ import annotations

import numpy as np

from ._base import check_inputs
from ._gpu import GpuBackendBase, GpuPreparedBase, host_copy, host_weights, simulator_active, time_launch
from ._optional import optional_import
from ._problem import Problem

cuda = optional_import("numba.cuda")


class _NumbaCudaPrepared(GpuPreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray, launches=None):
        super().__init__()
        self.problem = problem
        image, kernel = check_inputs(problem, image, kernel)
        dtype = problem.np_dtype
        with self.stage("upload"):
            self._x = cuda.to_device(problem.pad(image))
            self._w = cuda.to_device(host_weights(problem, kernel))
            self._out = cuda.device_array(problem.out_shape, dtype)
            cuda.synchronize()
        from ._cuda_direct import DEFAULT, bind

        launches = list(launches or [DEFAULT])
        if len(launches) > 1:
            with self.stage("plan"):
                self.launch = self._fastest(launches)
        else:
            self.launch = launches[0]
        self._run = bind(self._x, self._w, self._out, problem.dtype, self.launch)
        self.finish_prepare("compile")

    def _fastest(self, launches):
        """Compile and time each launch on this case's arrays; keep the fastest, say so in ``notes``."""
        from ._cuda_direct import bind, fastest_launch

        def seconds_of(launch):
            run = bind(self._x, self._w, self._out, self.problem.dtype, launch)
            run()  # compiles it, and warms the data
            cuda.synchronize()
            return time_launch(run)

        best, seconds = fastest_launch(launches, seconds_of)
        timed = ", ".join(f"{launch.label()} {1e3 * s:.3g} ms" for launch, s in seconds.items())
        self.notes = f"{best.loads} loads, block {best.tile_h}x{best.tile_w} x {best.rows} rows; timed {timed}"
        return best

    def __call__(self) -> None:
        self._run()

    def sync(self) -> None:
        cuda.synchronize()

    def result(self) -> np.ndarray:
        return self._out.copy_to_host()


class _NumbaCudaLayer(GpuPreparedBase):
    """One pass of a CNN layer (:mod:`kernels._cuda_layers`): padded inputs uploaded in ``prepare``, a call one launch.

    As for one image, the zero padding (of the images, or of the output
    gradients for backward-data) and the filters' flip and transpose are done
    once on the host; the timed call is the launch on device-resident arrays.
    """

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray):
        super().__init__()
        from ._cuda_layers import bind_channel_sum, bind_weight_gradient
        from ._layer_base import check_layer_inputs
        from ._layers import data_gradient_filters, data_gradient_padding, oriented, output_shape, pad_images

        self.problem = problem
        first, second = check_layer_inputs(problem, first, second)
        dtype, kind = problem.np_dtype, problem.pass_
        if kind == "backward-data":
            (top, left), size = data_gradient_padding(problem)
            padded = np.zeros((*first.shape[:2], *size), dtype)
            padded[:, :, top : top + first.shape[2], left : left + first.shape[3]] = first
            other = data_gradient_filters(problem, second)
        else:
            padded = pad_images(problem, first)
            other = second if kind == "backward-weights" else oriented(problem, second)
        with self.stage("upload"):
            self._x = cuda.to_device(padded)
            self._other = cuda.to_device(host_copy(other))
            self._out = cuda.device_array(output_shape(problem), dtype)
            cuda.synchronize()
        bind = bind_weight_gradient if kind == "backward-weights" else bind_channel_sum
        self._run = bind(self._x, self._other, self._out, problem.dtype)
        self._flip_back = oriented if kind == "backward-weights" else None
        self.finish_prepare("compile")

    def __call__(self) -> None:
        self._run()

    def sync(self) -> None:
        cuda.synchronize()

    def result(self) -> np.ndarray:
        out = self._out.copy_to_host()
        # A conv layer's weight gradient, computed for the flipped filters, flipped back.
        return np.ascontiguousarray(self._flip_back(self.problem, out)) if self._flip_back else out


class NumbaCudaBackend(GpuBackendBase):
    """Direct loops as Numba CUDA kernels: register-blocked strips fed from shared memory or L1; CNN layers too."""

    name = "numba-cuda"
    method = "direct"
    requires = ("numba.cuda",)
    OPTIONS = {"tune": (True, False)}
    tune = True
    takes_layers = True  # layers run the kernels of _cuda_layers

    _first_compile: str | None = None  # '' once a tiny case compiled and ran; else why it did not

    def gpu_count(self) -> int:
        return len(cuda.gpus) if cuda.is_available() else 0

    def device_ready(self) -> tuple[bool, str]:
        """The GPU is usable and the kernel compiles there (an incompatible numba-cuda fails only then)."""
        ok, reason = super().device_ready()
        if not ok:
            return ok, reason
        if NumbaCudaBackend._first_compile is None:
            try:
                tiny = Problem("corr", "valid", (4, 4), (3, 3), "float32")
                _NumbaCudaPrepared(tiny, np.ones((4, 4), np.float32), np.ones((3, 3), np.float32))
                NumbaCudaBackend._first_compile = ""
            except Exception as exc:  # noqa: BLE001 - whatever breaks the first compile makes it unusable
                NumbaCudaBackend._first_compile = f"first compile failed: {type(exc).__name__}: {exc}"
        return not NumbaCudaBackend._first_compile, NumbaCudaBackend._first_compile

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> GpuPreparedBase:
        if problem.is_layer:
            return _NumbaCudaLayer(problem, image, kernel)
        from ._cuda_direct import DEFAULT, candidate_launches

        # The simulator's timings mean nothing: it runs the default launch without a search.
        search = self.tune and not simulator_active()
        itemsize = problem.np_dtype.itemsize
        launches = candidate_launches(problem.out_shape, problem.kernel_shape, itemsize) if search else [DEFAULT]
        return _NumbaCudaPrepared(problem, image, kernel, launches)


BACKEND = NumbaCudaBackend()
