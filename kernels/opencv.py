"""``opencv``: OpenCV's ``cv2.filter2D``, the peer the direct loops must beat (``peers`` extra).

``filter2D`` correlates, with the output the size of its input. Anchor and zero
border are set per mode so the output equals ours exactly: ``same`` anchors at
our centre; ``valid`` anchors at the corner and crops; ``full`` pads a copy of
the image by the kernel size less one first (in the timed call, as our
backends pay their padding). ``conv`` passes the flipped kernel. OpenCV uses
its direct SIMD path up to 11x11 kernels and a DFT above that, its own choice.
"""

from __future__ import annotations

import numpy as np

from ._base import BackendBase, PreparedBase, check_inputs
from ._optional import optional_import
from ._problem import Problem, effective_kernel

cv2 = optional_import("cv2")


class _OpenCvPrepared(PreparedBase):
    def __init__(self, problem: Problem, image: np.ndarray, kernel: np.ndarray):
        super().__init__()
        self.problem = problem
        self.image, kernel = check_inputs(problem, image, kernel)
        self.kernel = np.ascontiguousarray(effective_kernel(problem.op, kernel))
        kh, kw = problem.kernel_shape
        oh, ow = problem.out_shape
        if problem.mode == "same":
            top, left = problem.pad_before
            self._anchor = (left, top)  # OpenCV points are (x, y)
            self._pad = None
        else:
            self._anchor = (0, 0)
            self._pad = (kh - 1, kw - 1) if problem.mode == "full" else None
        self._crop = (slice(0, oh), slice(0, ow))
        self._out = None

    def __call__(self) -> None:
        # setNumThreads rebuilds OpenCV's pool: only when another case changed it.
        if cv2.getNumThreads() != self.problem.threads:
            cv2.setNumThreads(self.problem.threads)
        src = self.image
        if self._pad is not None:
            ph, pw = self._pad
            src = cv2.copyMakeBorder(src, ph, ph, pw, pw, cv2.BORDER_CONSTANT, value=0)
        dst = cv2.filter2D(src, -1, self.kernel, anchor=self._anchor, delta=0, borderType=cv2.BORDER_CONSTANT)
        self._out = dst[self._crop]

    def result(self) -> np.ndarray:
        return np.array(self._out, dtype=self.problem.np_dtype)


class OpenCvBackend(BackendBase):
    """``cv2.filter2D`` with anchor and border per mode; ``threads`` through ``cv2.setNumThreads``."""

    name = "opencv"
    method = "direct"
    requires = ("cv2",)
    install_hint = "pip install convbench[peers] (opencv-python-headless)"

    def prepare(self, problem: Problem, image: np.ndarray, kernel: np.ndarray) -> _OpenCvPrepared:
        return _OpenCvPrepared(problem, image, kernel)


BACKEND = OpenCvBackend()
