"""``torch-cudnn``: cuDNN through ``torch.nn.functional.conv2d``, the GPU direct peer (``cuda`` extra).

A peer runs as its own users would run it: ``torch.backends.cudnn.benchmark``
on (cuDNN times its algorithms for the shape and keeps the fastest) and TF32
off when float32 is compared with float32 (on Ampere and later, TF32 rounds
the inputs to 10 mantissa bits). Both are options recorded in every row. The
zero-padded image (as ``numba-cuda`` gets it) and the weights are uploaded in
``prepare``, where the first call also lets cuDNN choose its algorithm; the
timed call is one ``conv2d`` on device-resident tensors (``conv2d`` correlates;
``conv`` passes the flipped kernel). Layers run every pass through
:class:`kernels._torch_layers.TorchLayerPass` on the GPU, as ``torch-cpu``
runs them on the host, in the same configuration.
"""

from __future__ import annotations

import numpy as np

from ._base import check_inputs
from ._gpu import GpuBackendBase, GpuPreparedBase, host_weights
from ._problem import Problem
from ._torch_layers import TorchLayerPass, torch


def _configure(benchmark: bool, allow_tf32: bool) -> None:
    torch.backends.cudnn.benchmark = benchmark
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32


class _TorchCudnnPrepared(GpuPreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray, benchmark: bool, allow_tf32: bool):
        super().__init__()
        self.problem = problem
        image, kernel = check_inputs(problem, image, kernel)
        _configure(benchmark, allow_tf32)
        with self.stage("upload"):
            self._x = torch.from_numpy(problem.pad(image))[None, None].cuda()
            self._w = torch.from_numpy(host_weights(problem, kernel))[None, None].cuda()
            torch.cuda.synchronize()
        self._conv = torch.nn.functional.conv2d
        self.finish_prepare("plan")  # cuDNN's algorithm search (benchmark mode) happens on the first call

    def __call__(self) -> None:
        self._out = self._conv(self._x, self._w)

    def sync(self) -> None:
        torch.cuda.synchronize()

    def result(self) -> np.ndarray:
        return self._out[0, 0].cpu().numpy().astype(self.problem.np_dtype, copy=False)


class _TorchCudnnLayer(TorchLayerPass, GpuPreparedBase):
    """A layer pass on the GPU; cuDNN's algorithm search runs in the first call, in ``prepare``."""

    def sync(self) -> None:
        torch.cuda.synchronize()


class TorchCudnnBackend(GpuBackendBase):
    """cuDNN via PyTorch's ``conv2d``, in its best configuration: algorithm search on, TF32 off."""

    name = "torch-cudnn"
    method = "direct"
    requires = ("torch",)
    install_hint = "pip install torch (a CUDA build)"
    OPTIONS = {"benchmark": (True, False), "allow_tf32": (False, True)}
    benchmark = True
    allow_tf32 = False
    takes_layers = True

    def gpu_count(self) -> int:
        if not torch.backends.cudnn.is_available():
            return 0
        return torch.cuda.device_count()

    def metadata(self) -> dict:
        if torch is None:
            return {}
        return {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), **self.options()}

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> GpuPreparedBase:
        if not problem.is_layer:
            return _TorchCudnnPrepared(problem, image, kernel, self.benchmark, self.allow_tf32)
        _configure(self.benchmark, self.allow_tf32)
        prepared = _TorchCudnnLayer(problem, image, kernel, "cuda")
        prepared.finish_prepare("plan")
        return prepared


BACKEND = TorchCudnnBackend()
