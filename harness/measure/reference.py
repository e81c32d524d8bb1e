"""The float64 reference every output is checked against (right or wrong), and the metrics.

Right-or-wrong needs every output position, cheaply: a shift-and-add over the
zero-padded image in float64 for small cases, else a float64 FFT of the full
linear convolution (no circular tricks) cropped to the mode's window: scipy's,
on every core, where scipy is installed (an 8192^2 check took 5 s through
numpy's single-threaded FFT, longer than the timing it checks), else numpy's. The
error columns come from the exact reference in :mod:`harness.measure.exact`.
"""

from __future__ import annotations

import functools

import numpy as np

from kernels import Problem, effective_kernel, next_fast_len
from kernels._layers import reference_layer

# Largest err_rel_l2 that still counts as a correct result, per dtype: well above
# rounding (about sqrt(n^2) eps for direct sums, eps log N for FFT) and far below
# what an indexing or flip mistake gives (order 1).
TOLERANCE = {"float32": 1e-4, "float64": 1e-11}


def reference(problem: Problem, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The problem's output computed in float64 by shift-and-add."""
    padded = problem.pad(image, np.float64)
    k = effective_kernel(problem.op, np.asarray(kernel, dtype=np.float64).reshape(problem.kernel_shape))
    oh, ow = problem.out_shape
    out = np.zeros((oh, ow))
    kh, kw = problem.kernel_shape
    for a in range(kh):
        for b in range(kw):
            out += k[a, b] * padded[a : a + oh, b : b + ow]
    return out


# Multiply-adds below which the shift-and-add check reference is cheaper than an FFT.
SHIFT_ADD_BUDGET = 20_000_000


def check_reference(problem: Problem, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The float64 output at every position, by the cheaper of shift-and-add and a full-size FFT.

    A CNN layer's pass: :func:`kernels._layers.reference_layer`, tap by tap in float64.
    """
    if problem.is_layer:
        return reference_layer(problem, image, kernel)
    if problem.direct_flops // 2 <= SHIFT_ADD_BUDGET:
        return reference(problem, image, kernel)
    x = np.asarray(image, dtype=np.float64).reshape(problem.image_shape)
    k = effective_kernel(problem.op, np.asarray(kernel, dtype=np.float64).reshape(problem.kernel_shape))
    size = tuple(next_fast_len(n) for n in problem.full_shape)  # >= full size: nothing wraps
    rfft2, irfft2 = _real_fft2()
    full = irfft2(rfft2(x, size) * rfft2(k[::-1, ::-1], size), size)
    (si, sj), (oh, ow) = problem.window_start, problem.out_shape
    return full[si : si + oh, sj : sj + ow]


def _real_fft2():
    """``rfft2`` and ``irfft2``: scipy's on every core if scipy imports, else numpy's."""
    try:
        import scipy.fft
    except ImportError:
        return np.fft.rfft2, np.fft.irfft2
    return (
        functools.partial(scipy.fft.rfft2, workers=-1),
        functools.partial(scipy.fft.irfft2, workers=-1),
    )


def error_metrics(result: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """``err_max_abs`` and ``err_rel_l2`` (||result - ref||_2 / ||ref||_2) of ``result``.

    NaN or Inf anywhere in ``result`` gives infinite errors.
    """
    diff = np.asarray(result, dtype=np.float64) - ref
    if not np.all(np.isfinite(diff)):
        return {"err_max_abs": float("inf"), "err_rel_l2": float("inf")}
    max_abs = float(np.max(np.abs(diff))) if diff.size else 0.0
    norm_diff = _norm2(diff)
    norm_ref = _norm2(ref)
    if norm_ref > 0:
        rel = norm_diff / norm_ref
    else:
        rel = 0.0 if norm_diff == 0 else float("inf")
    return {"err_max_abs": max_abs, "err_rel_l2": rel}


def _norm2(a: np.ndarray) -> float:
    # Not np.linalg.norm: that goes through BLAS, whose worker threads busy-wait
    # after the call and steal cores from the next timed backend for ~100 ms.
    return float(np.sqrt(np.square(a).sum()))


def check_result(problem: Problem, result: np.ndarray, ref: np.ndarray) -> tuple[str, str, dict[str, float]]:
    """Status (``"ok"`` or ``"wrong"``), reason and metrics for one backend's output."""
    result = np.asarray(result)
    if result.shape != ref.shape:
        nan = {"err_max_abs": float("nan"), "err_rel_l2": float("nan")}
        return "wrong", f"output shape {result.shape}, expected {ref.shape}", nan
    metrics = error_metrics(result, ref)
    tol = TOLERANCE[problem.dtype]
    if not metrics["err_rel_l2"] <= tol:
        return "wrong", f"err_rel_l2 {metrics['err_rel_l2']:.3g} above the {problem.dtype} tolerance {tol:g}", metrics
    return "ok", "", metrics
