"""Columns derived from the stored ones, in one place: rates, peak fractions, linear sizes.

``gflops`` and ``peak_fraction`` are written into the table when a sweep ends
(:func:`add_rates`); ``image_n`` and ``kernel_n`` are added by the analyses that
group or plot by size (:func:`with_sizes`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import LAYER_DEFAULTS, SETUP_COLUMNS


def linear_size(rows, cols):
    """One size per shape (array-friendly): ``sqrt(rows * cols)``, N for N x N, and the length L of a 1-D (1, L)."""
    rows, cols = np.asarray(rows, dtype=float), np.asarray(cols, dtype=float)
    return np.where(rows == 1, cols, np.sqrt(rows * cols))


def with_sizes(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with ``image_n`` and ``kernel_n`` (see :func:`linear_size`).

    Layer columns a frame lacks (one built by hand, or from before layers) get their single-image values.
    """
    out = frame.copy()
    out["image_n"] = linear_size(out["image_h"], out["image_w"])
    out["kernel_n"] = linear_size(out["kernel_h"], out["kernel_w"])
    for column, value in LAYER_DEFAULTS.items():
        if column not in out:
            out[column] = value
    return out


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The successful rows, with their linear sizes."""
    return with_sizes(frame[frame["status"] == "ok"])


def one_time_seconds(frame: pd.DataFrame) -> np.ndarray:
    """What a user pays once per size: every setup cost of ``prepare`` plus the first call's excess over the median.

    Missing setup columns count as zero (a backend without planning has no ``plan_s``).
    """
    total = np.zeros(len(frame))
    for column in SETUP_COLUMNS:
        if column in frame:
            total += pd.to_numeric(frame[column], errors="coerce").fillna(0.0).to_numpy(float)
    if "first_call_s" in frame:
        first = pd.to_numeric(frame["first_call_s"], errors="coerce").to_numpy(float)
        median = pd.to_numeric(frame["median_s"], errors="coerce").to_numpy(float)
        total += np.nan_to_num(np.maximum(first - median, 0.0))
    return total


def cost_of_calls(per_call, one_time, calls: int | None):
    """What ``calls`` calls cost, one-time costs included; per call alone when ``calls`` is None."""
    return per_call if calls is None else calls * per_call + one_time


def direct_flops(frame: pd.DataFrame) -> np.ndarray:
    """2 * kernel_h * kernel_w * outputs per row: the direct method's flops, whatever the row's method."""
    ih, iw = frame["image_h"].to_numpy(float), frame["image_w"].to_numpy(float)
    kh, kw = frame["kernel_h"].to_numpy(float), frame["kernel_w"].to_numpy(float)
    mode = frame["mode"].to_numpy()
    oh = np.select([mode == "full", mode == "same"], [ih + kh - 1, ih], ih - kh + 1)
    ow = np.select([mode == "full", mode == "same"], [iw + kw - 1, iw], iw - kw + 1)
    return 2.0 * kh * kw * oh * ow


def add_rates(frame: pd.DataFrame, peaks: dict | None = None, gpu_peaks: dict | None = None) -> pd.DataFrame:
    """Set ``gflops`` (direct-equivalent rate) and ``peak_fraction`` on every timed row; returns ``frame``.

    ``peak_fraction`` is ``gflops`` over the matmul rate at the row's dtype and
    threads (``peaks``: ``{dtype: {str(threads): GFLOP/s}}``, CPU rows) or over
    the GPU's measured FMA rate at the row's dtype (``gpu_peaks``, CUDA rows).
    """
    if frame.empty:
        frame["gflops"] = frame["peak_fraction"] = []
        return frame
    median = pd.to_numeric(frame["median_s"], errors="coerce").to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gflops = np.where(median > 0, direct_flops(frame) / median / 1e9, np.nan)
    frame["gflops"] = gflops
    peaks, gpu_peaks = peaks or {}, gpu_peaks or {}

    def peak(row) -> float:
        if row["device"] == "cuda":
            value = gpu_peaks.get("fp32_gflops" if row["dtype"] == "float32" else "fp64_gflops")
        else:
            value = peaks.get(row["dtype"], {}).get(str(row["threads"]))
        return float(value) if value else np.nan

    frame["peak_fraction"] = gflops / np.array([peak(r) for r in frame.to_dict("records")], dtype=float)
    return frame
