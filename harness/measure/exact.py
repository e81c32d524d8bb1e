"""An exact reference: error-free transformations, evaluated where they are affordable.

For float32 inputs every product is exact in float64, and for float64 inputs
Dekker's TwoProduct recovers each product's rounding error. Summing products
and errors with Knuth's TwoSum (Ogita, Rump and Oishi's Dot2, "Accurate sum and
dot product", SIAM J. Sci. Comput. 2005) gives the dot product as if computed in
twice the working precision and rounded once: |dot2 - exact| <= eps64 |exact| +
gamma_n^2 sum |products|, far below any float32 or float64 rounding we measure.

A CNN layer's outputs are dot products too, over channels and taps (C n^2
terms; over images and output positions, B oh ow terms, for the weight
gradient), so the same transformations give its exact values at sampled
positions of the 4-D output.

Numba compiles these without fast-math, so LLVM neither reassociates nor
contracts the error-free transformations.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from kernels import Problem, effective_kernel
from kernels._layers import data_gradient_filters, data_gradient_padding, oriented, output_shape, pad_images

# Multiply-adds the exact reference may spend per case; above it, a sample of positions.
EXACT_BUDGET = 10_000_000
MIN_SAMPLES = 1024
EDGE_SAMPLES = 64  # per edge, besides the four corners
_SPLITTER = 134217729.0  # 2^27 + 1, Veltkamp's constant for float64


@njit(cache=True)
def _two_sum(a, b):
    s = a + b
    z = s - a
    return s, (a - (s - z)) + (b - z)


@njit(cache=True)
def _split(a):
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


@njit(cache=True)
def _two_product(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)


@njit(cache=True)
def _accumulate(p, s, absolute, w, x):
    """One Dot2 step: the running sum ``p``, its error terms ``s`` and sum |w||x|, after adding ``w * x``."""
    h, r = _two_product(w, x)
    p, q = _two_sum(p, h)
    return p, s + q + r, absolute + abs(w) * abs(x)


@njit(parallel=True, cache=True)
def _dot2_windows(padded, weights, rows, cols, values, scale):
    """At each (row, col): Dot2 of the window with the weights, and sum |w| |x| (the error scale)."""
    kh, kw = weights.shape
    for n in prange(rows.shape[0]):
        i, j = rows[n], cols[n]
        p = 0.0
        s = 0.0
        absolute = 0.0
        for a in range(kh):
            for b in range(kw):
                p, s, absolute = _accumulate(p, s, absolute, weights[a, b], padded[i + a, j + b])
        values[n] = p + s
        scale[n] = absolute


@njit(parallel=True, cache=True)
def _dot2_channel_windows(padded, filters, index, values, scale):
    """At each ``(b, k, y, x)``: Dot2 of ``padded[b, :, y:y+kh, x:x+kw]`` with ``filters[k]``, and its error scale."""
    channels, kh, kw = filters.shape[1], filters.shape[2], filters.shape[3]
    for n in prange(index.shape[0]):
        b, k, i, j = index[n, 0], index[n, 1], index[n, 2], index[n, 3]
        p = 0.0
        s = 0.0
        absolute = 0.0
        for c in range(channels):
            for a in range(kh):
                for d in range(kw):
                    p, s, absolute = _accumulate(p, s, absolute, filters[k, c, a, d], padded[b, c, i + a, j + d])
        values[n] = p + s
        scale[n] = absolute


@njit(parallel=True, cache=True)
def _dot2_weight_sums(padded, grads, index, values, scale):
    """At each ``(k, c, i, j)``: Dot2 over images and positions of ``padded[b, c, i+y, j+x] * grads[b, k, y, x]``."""
    batch, oh, ow = grads.shape[0], grads.shape[2], grads.shape[3]
    for n in prange(index.shape[0]):
        k, c, i, j = index[n, 0], index[n, 1], index[n, 2], index[n, 3]
        p = 0.0
        s = 0.0
        absolute = 0.0
        for b in range(batch):
            for y in range(oh):
                for x in range(ow):
                    p, s, absolute = _accumulate(p, s, absolute, grads[b, k, y, x], padded[b, c, i + y, j + x])
        values[n] = p + s
        scale[n] = absolute


def dot2(x, y) -> float:
    """The Dot2 dot product of two 1-D float64 arrays (for tests and users)."""
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(1, -1)
    y = np.ascontiguousarray(y, dtype=np.float64).reshape(1, -1)
    values, scale = np.empty(1), np.empty(1)
    _dot2_windows(x, y, np.zeros(1, np.int64), np.zeros(1, np.int64), values, scale)
    return float(values[0])


def sample_positions(out_shape, taps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Output positions for the exact reference: all of them if affordable, else a sample.

    The sample holds the four corners, ``EDGE_SAMPLES`` points along each edge
    (where padding enters), and seeded random interior points, at least
    ``MIN_SAMPLES`` in all and about ``EXACT_BUDGET / taps``.
    """
    h, w = out_shape
    if h * w * taps <= EXACT_BUDGET:
        rows, cols = np.indices((h, w))
        return rows.ravel(), cols.ravel()
    rng = np.random.default_rng([seed, h, w, taps])
    count = max(MIN_SAMPLES, EXACT_BUDGET // taps)
    picks = [np.array([[0, 0], [0, w - 1], [h - 1, 0], [h - 1, w - 1]])]
    along_w = np.linspace(0, w - 1, EDGE_SAMPLES).astype(np.int64)
    along_h = np.linspace(0, h - 1, EDGE_SAMPLES).astype(np.int64)
    for edge in (
        np.stack([np.zeros_like(along_w), along_w], 1),
        np.stack([np.full_like(along_w, h - 1), along_w], 1),
        np.stack([along_h, np.zeros_like(along_h)], 1),
        np.stack([along_h, np.full_like(along_h, w - 1)], 1),
    ):
        picks.append(edge)
    picks.append(np.stack([rng.integers(0, h, count), rng.integers(0, w, count)], 1))
    unique = np.unique(np.concatenate(picks), axis=0)
    return unique[:, 0].astype(np.int64), unique[:, 1].astype(np.int64)


def sample_layer_positions(shape, terms: int, seed: int = 0) -> np.ndarray:
    """Positions (rows of four indices) of a layer's 4-D output for the exact reference.

    All of them if affordable; else the corners of the first and last map
    (where padding enters) and seeded random positions, at least
    ``MIN_SAMPLES`` in all and about ``EXACT_BUDGET / terms``.
    """
    shape = tuple(int(s) for s in shape)
    size = math.prod(shape)
    if size * terms <= EXACT_BUDGET:
        return np.indices(shape).reshape(4, -1).T.astype(np.int64)
    rng = np.random.default_rng([seed, *shape, terms])
    count = max(MIN_SAMPLES, EXACT_BUDGET // terms)
    (b, k, h, w), picks = shape, []
    for first in ((0, 0), (b - 1, k - 1)):
        picks += [(*first, y, x) for y in (0, h - 1) for x in (0, w - 1)]
    random = np.stack([rng.integers(0, n, count) for n in shape], 1)
    return np.unique(np.concatenate([np.array(picks, np.int64), random]), axis=0)


def exact_reference(problem: Problem, first: np.ndarray, second: np.ndarray, seed: int = 0) -> dict:
    """Exact outputs at the sampled positions: ``index`` (a tuple of index arrays), ``values``, ``scale``.

    ``scale`` is sum |f||g| of each output's terms. A single image's inputs are
    image and kernel; a layer's are its pass's two inputs
    (:func:`kernels._layers.input_shapes`), and its positions index the 4-D output.
    """
    if problem.is_layer:
        return _exact_layer(problem, first, second, seed)
    k = np.ascontiguousarray(effective_kernel(problem.op, np.asarray(second, np.float64).reshape(problem.kernel_shape)))
    padded = problem.pad(first, np.float64)
    rows, cols = sample_positions(problem.out_shape, math.prod(problem.kernel_shape), seed)
    values, scale = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    _dot2_windows(padded, k, rows, cols, values, scale)
    return {"index": (rows, cols), "values": values, "scale": scale}


def _exact_layer(problem: Problem, first: np.ndarray, second: np.ndarray, seed: int) -> dict:
    """:func:`exact_reference` of a layer's pass: each output a Dot2 over its channels and taps (or images)."""
    kh, kw = problem.kernel_shape
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if problem.pass_ == "backward-weights":
        padded, grads = pad_images(problem, first), np.ascontiguousarray(second)
        index = sample_layer_positions(output_shape(problem), problem.batch * math.prod(problem.out_shape), seed)
        values, scale = np.empty(len(index)), np.empty(len(index))
        _dot2_weight_sums(padded, grads, index, values, scale)
        if problem.op == "conv":  # the gradient of flipped filters is the correlation's, flipped back
            index = index.copy()
            index[:, 2], index[:, 3] = kh - 1 - index[:, 2], kw - 1 - index[:, 3]
    else:
        if problem.pass_ == "forward":
            padded, filters = pad_images(problem, first), np.ascontiguousarray(oriented(problem, second))
        else:  # backward-data: the output gradients in their zero frame, the filters flipped and transposed
            (top, left), size = data_gradient_padding(problem)
            padded = np.zeros((*first.shape[:2], *size))
            padded[:, :, top : top + first.shape[2], left : left + first.shape[3]] = first
            filters = data_gradient_filters(problem, second)
        index = sample_layer_positions(output_shape(problem), filters.shape[1] * kh * kw, seed)
        values, scale = np.empty(len(index)), np.empty(len(index))
        _dot2_channel_windows(padded, filters, index, values, scale)
    return {"index": tuple(index.T), "values": values, "scale": scale}


def exact_error_metrics(result: np.ndarray, exact: dict, dtype: str) -> dict[str, float]:
    """Errors of ``result`` against the exact values, over the exact reference's positions.

    ``err_max_abs``: largest |result - exact|. ``err_rel_l2``: ||result - exact||_2 /
    ||exact||_2 over the positions. ``err_max_scaled``: largest |result - exact| /
    (sum |f||g|) in units of the dtype's eps, the scale of rounding-error bounds.
    ``err_positions``: how many positions (all outputs, or the sample).
    """
    got = np.asarray(result, dtype=np.float64)[exact["index"]]
    diff = np.abs(got - exact["values"])
    eps = float(np.finfo(dtype).eps)
    if not np.all(np.isfinite(diff)):
        inf = float("inf")
        return {"err_max_abs": inf, "err_rel_l2": inf, "err_max_scaled": inf, "err_positions": int(diff.size)}
    norm = math.sqrt(float(np.square(exact["values"]).sum()))
    rel = math.sqrt(float(np.square(diff).sum())) / norm if norm > 0 else (0.0 if not diff.any() else float("inf"))
    scale = exact["scale"]
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), np.where(diff > 0, np.inf, 0.0))
    return {
        "err_max_abs": float(diff.max()) if diff.size else 0.0,
        "err_rel_l2": rel,
        "err_max_scaled": float(scaled.max()) / eps if diff.size else 0.0,
        "err_positions": int(diff.size),
    }
