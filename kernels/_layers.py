"""CNN layers: the shapes of each pass, the padding, and a float64 reference every layer algorithm is checked against.

A layer (a :class:`~kernels.Problem` with ``batch`` B, ``in_channels`` C,
``out_channels`` K) correlates B images of C maps (``x``: B x C x H x W) with
K filters of C kernels (``w``: K x C x kh x kw), summing over C, stride 1, the
padding from the mode as for one image:

- ``forward``: ``y[b, k] = sum_c corr_mode(x[b, c], w[k, c])``, B x K x oh x ow;
- ``backward-data``: the gradient of a loss with respect to ``x`` given
  ``dy = dL/dy``: ``dx[b, c] = sum_k`` the full convolution of ``dy[b, k]`` with
  ``w[k, c]``, cropped to the image (for ``valid`` nothing is cropped: "correlation
  forward, convolution backward", channels transposed);
- ``backward-weights``: ``dw[k, c] = sum_b`` the valid correlation of the padded
  ``x[b, c]`` with ``dy[b, k]``, K x C x kh x kw.

For ``op = "conv"`` the filters are flipped on both axes first (and the
weight gradient flipped back). The two inputs of a pass are, in order:
``(x, w)``, ``(dy, w)`` and ``(x, dy)``.
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem


def input_shapes(problem: Problem) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The shapes of a pass's two inputs, in the order the pass takes them (see the module docstring)."""
    b, c, k = problem.batch, problem.in_channels, problem.out_channels
    images = (b, c, *problem.image_shape)
    filters = (k, c, *problem.kernel_shape)
    grads = (b, k, *problem.out_shape)
    return {"forward": (images, filters), "backward-data": (grads, filters), "backward-weights": (images, grads)}[
        problem.pass_
    ]


def output_shape(problem: Problem) -> tuple[int, ...]:
    """The shape of a pass's result: ``y``, ``dx`` or ``dw``."""
    b, c, k = problem.batch, problem.in_channels, problem.out_channels
    return {
        "forward": (b, k, *problem.out_shape),
        "backward-data": (b, c, *problem.image_shape),
        "backward-weights": (k, c, *problem.kernel_shape),
    }[problem.pass_]


def pad_images(problem: Problem, x: np.ndarray, dtype=None) -> np.ndarray:
    """``x`` (B x C x H x W) zero-padded so that a valid correlation over it gives the mode's output."""
    (top, left), (h, w) = problem.pad_before, problem.image_shape
    padded = np.zeros((*x.shape[:2], *problem.padded_shape), dtype or x.dtype)
    padded[:, :, top : top + h, left : left + w] = x
    return padded


def oriented(problem: Problem, filters: np.ndarray) -> np.ndarray:
    """The filters a correlation uses: as given for ``corr``, flipped on both spatial axes for ``conv``."""
    return filters[:, :, ::-1, ::-1] if problem.op == "conv" else filters


def reference_layer(problem: Problem, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """A pass of the layer in float64 with numpy, straight from its definition (for checks, not for speed).

    Parameters
    ----------
    problem : Problem
        The layer and the pass.
    first, second : ndarray
        The pass's inputs, of :func:`input_shapes`.

    Returns
    -------
    ndarray
        float64, of :func:`output_shape`.
    """
    first, second = (np.asarray(a, np.float64).reshape(s) for a, s in zip((first, second), input_shapes(problem)))
    kh, kw = problem.kernel_shape
    oh, ow = problem.out_shape
    # Tap by tap: one float64 matrix product over channels each (tensordot: BLAS), nothing larger than the
    # output held at once beyond one shifted copy of the images.
    if problem.pass_ == "forward":
        padded, filters = pad_images(problem, first), oriented(problem, second)
        out = np.zeros((problem.out_channels, problem.batch, oh, ow))
        for i in range(kh):
            for j in range(kw):
                out += np.tensordot(filters[:, :, i, j], padded[:, :, i : i + oh, j : j + ow], axes=([1], [1]))
        return out.transpose(1, 0, 2, 3)
    if problem.pass_ == "backward-weights":
        padded = pad_images(problem, first)
        out = np.empty(output_shape(problem))
        for i in range(kh):
            for j in range(kw):
                window = padded[:, :, i : i + oh, j : j + ow]
                out[:, :, i, j] = np.tensordot(second, window, axes=([0, 2, 3], [0, 2, 3]))
        return oriented(problem, out)
    # backward-data: scatter each output gradient back through every tap (the forward's adjoint), then crop.
    filters = oriented(problem, second)
    grad = np.zeros((problem.batch, problem.in_channels, *problem.padded_shape))
    for i in range(kh):
        for j in range(kw):
            tap = np.tensordot(filters[:, :, i, j], first, axes=([0], [1]))  # (C, B, oh, ow)
            grad[:, :, i : i + oh, j : j + ow] += tap.transpose(1, 0, 2, 3)
    (top, left), (h, w) = problem.pad_before, problem.image_shape
    return grad[:, :, top : top + h, left : left + w]


def layer_inputs(problem: Problem, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random inputs of a pass in [-1, 1), in the problem's dtype, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(-1.0, 1.0, shape).astype(problem.np_dtype) for shape in input_shapes(problem))


def data_gradient_filters(problem: Problem, filters: np.ndarray) -> np.ndarray:
    """The filters of backward-data as a forward correlation: flipped, channels transposed (C x K x kh x kw)."""
    return np.ascontiguousarray(_flipped_transposed(oriented(problem, filters)))


def _flipped_transposed(filters: np.ndarray) -> np.ndarray:
    """``filters`` flipped in both axes, input and output channels swapped: a view."""
    return filters[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)


def correlation_filters(problem: Problem, filters: np.ndarray) -> np.ndarray:
    """The filters of ``forward`` or ``backward-data`` run as a valid correlation summed over channels: a view.

    ``forward``: :func:`oriented`; ``backward-data``: :func:`data_gradient_filters`, not copied (callers copy
    it into their own layout or read it in place: a copy of ResNet-50's 512-channel filters is 9.4 MB a call).
    """
    filters = oriented(problem, filters)
    return filters if problem.pass_ == "forward" else _flipped_transposed(filters)


def data_gradient_padding(problem: Problem) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where ``dy`` sits in the zero buffer that a valid correlation turns into ``dx``, and that buffer's size.

    Returns ``((top, left), (rows, cols))``: with ``dy`` at that offset in a
    ``rows x cols`` buffer, the valid correlation with
    :func:`data_gradient_filters` is ``dx`` (the full convolution, cropped by the mode).
    """
    (kh, kw), (h, w) = problem.kernel_shape, problem.image_shape
    top, left = problem.pad_before
    return (kh - 1 - top, kw - 1 - left), (h + kh - 1, w + kw - 1)
