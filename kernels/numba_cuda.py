"""``numba-cuda``: direct correlation on the GPU with Numba CUDA kernels.

Each thread block computes a ``TILE_H`` x ``TILE_W`` tile of outputs. It first
stages the input tile plus its halo (kernel size less one on each axis) and the
weights in shared memory, so each input sample is read from global memory once
per block instead of once per tap; then every thread sums its window from
shared memory. Tiles that hang over the output's edge are guarded, so any size
works. As on the CPU, every op and mode is a valid correlation of a zero-padded
image with the effective kernel; the padded image and the weights are uploaded
in ``prepare``, so the timed call launches on device-resident arrays only.

Under ``NUMBA_ENABLE_CUDASIM=1`` the kernels run in Numba's simulator: right
answers, meaningless times. The backend then reports itself unavailable to
sweeps, and the test suite prepares it directly to check correctness.
"""

from __future__ import annotations

import numpy as np

from ._base import check_inputs
from ._gpu import GpuBackendBase, GpuPreparedBase
from ._optional import optional_import
from ._problem import Problem, effective_kernel

TILE_H = 16
TILE_W = 16

cuda = optional_import("numba.cuda")
if cuda is not None:

    @cuda.jit
    def _corr_valid_tiled(x, w, out, zero):
        """out[i, j] = sum_ab w[a, b] * x[i + a, j + b], one output per thread, tile + halo in shared memory."""
        kh, kw = w.shape
        halo_h = TILE_H + kh - 1
        halo_w = TILE_W + kw - 1
        shared = cuda.shared.array(0, dtype=out.dtype)  # dynamic: weights, then the input tile
        ty, tx = cuda.threadIdx.y, cuda.threadIdx.x
        flat = ty * TILE_W + tx
        threads = TILE_H * TILE_W
        for n in range(flat, kh * kw, threads):
            shared[n] = w[n // kw, n % kw]
        base = kh * kw
        row0 = cuda.blockIdx.y * TILE_H
        col0 = cuda.blockIdx.x * TILE_W
        for n in range(flat, halo_h * halo_w, threads):
            r = n // halo_w
            c = n % halo_w
            if row0 + r < x.shape[0] and col0 + c < x.shape[1]:
                shared[base + n] = x[row0 + r, col0 + c]
            else:
                shared[base + n] = 0
        cuda.syncthreads()
        i = row0 + ty
        j = col0 + tx
        if i < out.shape[0] and j < out.shape[1]:
            acc = zero
            for a in range(kh):
                for b in range(kw):
                    acc += shared[a * kw + b] * shared[base + (ty + a) * halo_w + tx + b]
            out[i, j] = acc


def host_weights(problem: Problem, kernel: np.ndarray) -> np.ndarray:
    """The effective kernel as a fresh C-ordered array, ready to upload.

    Not ``np.ascontiguousarray``: numpy flags a one-element array contiguous
    whatever its strides, so a flipped 1x1 kernel kept its negative strides and
    numba-cuda's ``to_device`` rejected it.
    """
    return np.array(effective_kernel(problem.op, kernel), order="C", copy=True)


class _NumbaCudaPrepared(GpuPreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        image, kernel = check_inputs(problem, image, kernel)
        dtype = problem.np_dtype
        with self.stage("upload"):
            self._x = cuda.to_device(problem.pad(image))
            self._w = cuda.to_device(host_weights(problem, kernel))
            self._out = cuda.device_array(problem.out_shape, dtype)
            cuda.synchronize()
        self._zero = dtype.type(0)
        oh, ow = problem.out_shape
        kh, kw = problem.kernel_shape
        self._grid = ((ow + TILE_W - 1) // TILE_W, (oh + TILE_H - 1) // TILE_H)
        self._block = (TILE_W, TILE_H)
        self._shared_bytes = dtype.itemsize * (kh * kw + (TILE_H + kh - 1) * (TILE_W + kw - 1))
        self.finish_prepare("compile")

    def __call__(self) -> None:
        _corr_valid_tiled[self._grid, self._block, 0, self._shared_bytes](self._x, self._w, self._out, self._zero)

    def sync(self) -> None:
        cuda.synchronize()

    def result(self) -> np.ndarray:
        return self._out.copy_to_host()


class NumbaCudaBackend(GpuBackendBase):
    """Direct loops as Numba CUDA kernels: shared-memory tiles with halos."""

    name = "numba-cuda"
    method = "direct"
    requires = ("numba.cuda",)

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

    def supports(self, problem: Problem) -> tuple[bool, str]:
        kh, kw = problem.kernel_shape
        need = problem.np_dtype.itemsize * (kh * kw + (TILE_H + kh - 1) * (TILE_W + kw - 1))
        if need > 48 * 1024:
            return False, f"kernel {kh}x{kw} needs {need} bytes of shared memory per block, more than 48 KiB"
        return True, ""

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _NumbaCudaPrepared:
        return _NumbaCudaPrepared(problem, image, kernel)


BACKEND = NumbaCudaBackend()
