"""An exact reference: error-free transformations, evaluated where they are affordable.

For float32 inputs every product is exact in float64, and for float64 inputs
Dekker's TwoProduct recovers each product's rounding error. Summing products
and errors with Knuth's TwoSum (Ogita, Rump and Oishi's Dot2, "Accurate sum and
dot product", SIAM J. Sci. Comput. 2005) gives the dot product as if computed in
twice the working precision and rounded once: |dot2 - exact| <= eps64 |exact| +
gamma_n^2 sum |products|, far below any float32 or float64 rounding we measure.

Numba compiles these without fast-math, so LLVM neither reassociates nor
contracts the error-free transformations.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from kernels import Problem, effective_kernel

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
                x = padded[i + a, j + b]
                w = weights[a, b]
                h, r = _two_product(w, x)
                p, q = _two_sum(p, h)
                s += q + r
                absolute += abs(w) * abs(x)
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


def exact_reference(problem: Problem, image: np.ndarray, kernel: np.ndarray, seed: int = 0) -> dict:
    """Exact outputs at the sampled positions: ``rows``, ``cols``, ``values``, ``scale`` (sum |f||g|)."""
    k = np.ascontiguousarray(effective_kernel(problem.op, np.asarray(kernel, np.float64).reshape(problem.kernel_shape)))
    padded = problem.pad(image, np.float64)
    rows, cols = sample_positions(problem.out_shape, math.prod(problem.kernel_shape), seed)
    values, scale = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    _dot2_windows(padded, k, rows, cols, values, scale)
    return {"rows": rows, "cols": cols, "values": values, "scale": scale}


def exact_error_metrics(result: np.ndarray, exact: dict, dtype: str) -> dict[str, float]:
    """Errors of ``result`` against the exact values, over the exact reference's positions.

    ``err_max_abs``: largest |result - exact|. ``err_rel_l2``: ||result - exact||_2 /
    ||exact||_2 over the positions. ``err_max_scaled``: largest |result - exact| /
    (sum |f||g|) in units of the dtype's eps, the scale of rounding-error bounds.
    ``err_positions``: how many positions (all outputs, or the sample).
    """
    got = np.asarray(result, dtype=np.float64)[exact["rows"], exact["cols"]]
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
