"""``torch-cpu``: PyTorch's ``conv2d`` and its autograd passes on the CPU, the training-framework peer for layers.

A peer runs as its users run it: PyTorch's defaults choose the algorithm
(oneDNN, ``torch.backends.mkldnn``, for float32 where it is built in; its own
loops otherwise), and its intra-op pool has the case's threads
(``torch.set_num_threads``, set once and again only when a case asks for
another count). Forward, backward-data and backward-weights are the calls of
:class:`kernels._torch_layers.TorchLayerPass`; one image and one kernel run
as a 1 x 1 x 1 layer. Install a CPU build of PyTorch by hand
(``pip install torch`` from the PyTorch CPU index): the default wheel pulls
the CUDA libraries, which is why no extra of ours brings it.
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase
from ._problem import Problem
from ._torch_layers import TorchLayerPass, torch


class _TorchCpuPass(TorchLayerPass):
    def __call__(self) -> None:
        if torch.get_num_threads() != self.problem.threads:
            torch.set_num_threads(self.problem.threads)
        super().__call__()


class TorchCpuBackend(BackendBase):
    """PyTorch's convolution on the CPU, every pass, in its default configuration (recorded in ``metadata``)."""

    name = "torch-cpu"
    method = "direct"
    requires = ("torch",)
    install_hint = "pip install torch (a CPU build: the default wheel brings the CUDA libraries)"
    takes_layers = True

    def metadata(self) -> dict:
        if torch is None:
            return {}
        return {"torch": torch.__version__, "mkldnn": bool(torch.backends.mkldnn.is_available())}

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> TorchLayerPass:
        prepared = _TorchCpuPass(problem, image, kernel, "cpu")
        with prepared.stage("plan"):  # the first call: oneDNN picks and caches its primitive for the shape
            prepared()
        prepared.notes = f"torch {torch.__version__}, oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}"
        return prepared


BACKEND = TorchCpuBackend()
