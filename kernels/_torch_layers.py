"""A pass of a layer through PyTorch, on the CPU or a GPU: the calls PyTorch itself makes for ``conv2d``.

``forward`` is ``torch.nn.functional.conv2d``. The backward passes are
``torch.ops.aten.convolution_backward``, the operator autograd's
``ConvolutionBackward0`` node calls, with ``output_mask`` asking for the one
gradient the pass computes: so the timed call is what a training step spends
on that gradient, without autograd's bookkeeping or the other gradient.

``conv2d`` correlates with symmetric padding. A ``conv`` problem passes the
flipped filters (flipped in ``prepare``; the weight gradient is flipped back in
``result``, untimed). Asymmetric padding (``same`` with an even kernel side)
is what a PyTorch user writes as ``F.pad`` before the convolution: the forward
pass pads in the timed call, backward-weights gets the padded images (autograd
saves the padded tensor), and backward-data computes the gradient of the padded
images, cropped to the image as a view.
"""

from __future__ import annotations

import numpy as np

from ._base import PreparedBase
from ._layer_base import check_layer_inputs
from ._layers import oriented, output_shape, pad_images
from ._optional import optional_import
from ._problem import Problem

torch = optional_import("torch")


def torch_padding(problem: Problem) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``(top, left)`` and ``(bottom, right)`` zero rows and columns of the mode, or None if they are equal."""
    (top, left), (ph, pw), (h, w) = problem.pad_before, problem.padded_shape, problem.image_shape
    bottom, right = ph - h - top, pw - w - left
    return None if (top, left) == (bottom, right) else ((top, left), (bottom, right))


class TorchLayerPass(PreparedBase):
    """One pass of ``problem`` by PyTorch on ``device`` (``"cpu"`` or ``"cuda"``); the call is the timed work.

    Parameters
    ----------
    problem : Problem
        A layer (or one image and one kernel, as a 1 x 1 x 1 layer) and its pass.
    first, second : ndarray
        The pass's inputs, of :func:`kernels._layers.input_shapes`.
    device : str
        Where the tensors live; they are copied there here, untimed.
    """

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray, device: str):
        super().__init__()
        self.problem = problem
        first, second = check_layer_inputs(problem, first, second)
        uneven = torch_padding(problem)
        self._padding = [0, 0] if uneven else list(problem.pad_before)
        self._pad = None
        if uneven and problem.pass_ == "forward":
            (top, left), (bottom, right) = uneven
            self._pad = (left, right, top, bottom)  # F.pad's order: last axis first
        if uneven and problem.pass_ == "backward-weights":
            first = pad_images(problem, first)
        self._crop = None
        if problem.pass_ != "backward-weights":  # the filters; conv2d correlates
            second = oriented(problem, second)
        if problem.pass_ == "backward-data":
            # The gradient of the images as conv2d saw them: padded when PyTorch could not pad them itself.
            spatial = problem.padded_shape if uneven else problem.image_shape
            self._shape_of_input = (problem.batch, problem.in_channels, *spatial)
            if uneven:
                (top, left), (h, w) = problem.pad_before, problem.image_shape
                self._crop = (slice(top, top + h), slice(left, left + w))
        with self.stage("upload"):
            # Copies: a flipped 1 x 1 kernel is "contiguous" to numpy with negative strides, which torch refuses.
            self._first = torch.from_numpy(np.array(first, order="C")).to(device)
            self._second = torch.from_numpy(np.array(second, order="C")).to(device)
            if problem.pass_ == "backward-data":  # only its shape is read: the data gradient needs no images
                self._images = torch.empty(self._shape_of_input, dtype=self._first.dtype, device=device)
            if problem.pass_ == "backward-weights":
                self._filters = torch.empty(output_shape(problem), dtype=self._first.dtype, device=device)
        self._out = None

    def __call__(self) -> None:
        problem, padding = self.problem, self._padding
        if problem.pass_ == "forward":
            x = self._first if self._pad is None else torch.nn.functional.pad(self._first, self._pad)
            self._out = torch.nn.functional.conv2d(x, self._second, padding=padding)
        elif problem.pass_ == "backward-data":
            self._out = torch.ops.aten.convolution_backward(
                self._first, self._images, self._second, None, [1, 1], padding, [1, 1], False, [0, 0], 1,
                [True, False, False],
            )[0]  # fmt: skip
        else:
            self._out = torch.ops.aten.convolution_backward(
                self._second, self._first, self._filters, None, [1, 1], padding, [1, 1], False, [0, 0], 1,
                [False, True, False],
            )[1]  # fmt: skip

    def result(self) -> np.ndarray:
        out = self._out.cpu().numpy()
        if self._crop is not None:
            out = out[:, :, self._crop[0], self._crop[1]]
        if self.problem.pass_ == "backward-weights":
            out = oriented(self.problem, out)
        out = np.ascontiguousarray(out, dtype=self.problem.np_dtype)
        return out if self.problem.is_layer else out.reshape(self.problem.out_shape)
