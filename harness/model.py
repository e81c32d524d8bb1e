"""Crossover analysis: where FFT convolution starts to beat the direct loop.

Reads only a results table. For each image size (and each op, mode, dtype,
threads, dist group) it compares the best direct backend with the best FFT
backend kernel size by kernel size, and fits the textbook curve
``n^2 N^2 = c N^2 log2 N`` (so ``n = sqrt(c log2 N)``) through the crossovers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

GROUP = ["op", "mode", "dtype", "threads", "dist", "image_h", "image_w"]


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[frame["status"] == "ok"].copy()
    ok["image_n"] = np.sqrt(ok["image_h"].astype(float) * ok["image_w"].astype(float))
    ok["kernel_n"] = np.sqrt(ok["kernel_h"].astype(float) * ok["kernel_w"].astype(float))
    return ok


def best_by_method(frame: pd.DataFrame) -> pd.DataFrame:
    """Per case and method, the fastest backend's median time (columns direct_s, fft_s, and their backends)."""
    ok = _ok(frame)
    keys = GROUP + ["kernel_h", "kernel_w", "image_n", "kernel_n"]
    pieces = []
    for method in ("direct", "fft"):
        part = ok[ok["method"] == method]
        if part.empty:
            continue
        best = part.loc[part.groupby(keys)["median_s"].idxmin(), keys + ["median_s", "backend"]]
        pieces.append(best.rename(columns={"median_s": f"{method}_s", "backend": f"{method}_backend"}).set_index(keys))
    if len(pieces) < 2:
        return pd.DataFrame()
    return pieces[0].join(pieces[1], how="inner").reset_index().sort_values(GROUP + ["kernel_n"])


def crossovers(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per image-size group: the smallest kernel size at which FFT beats direct.

    Columns: the group, ``image_n``, ``crossover_n`` (first measured kernel size
    where FFT is faster; NaN when none in range), ``crossover_interp`` (where the
    log time ratio crosses zero, interpolated linearly in kernel size),
    ``ratio_below`` and ``ratio_above`` (FFT time / direct time at the sweep
    points either side), ``direct_backend`` and ``fft_backend`` at the crossover,
    ``bracketed`` (True when direct won at a smaller kernel, so the crossover
    lies inside the sweep) and ``note``.
    """
    best = best_by_method(frame)
    records = []
    if best.empty:
        return pd.DataFrame(
            columns=GROUP
            + [
                "image_n",
                "crossover_n",
                "crossover_interp",
                "ratio_below",
                "ratio_above",
                "direct_backend",
                "fft_backend",
                "bracketed",
                "note",
            ]
        )
    for key, part in best.groupby(GROUP, sort=True):
        part = part.sort_values("kernel_n")
        n = part["kernel_n"].to_numpy()
        ratio = (part["fft_s"] / part["direct_s"]).to_numpy()
        record = dict(zip(GROUP, key))
        record.update(
            image_n=float(part["image_n"].iloc[0]),
            crossover_n=np.nan,
            crossover_interp=np.nan,
            ratio_below=np.nan,
            ratio_above=np.nan,
            direct_backend="",
            fft_backend="",
            bracketed=False,
            note="",
        )
        wins = np.flatnonzero(ratio < 1.0)
        if wins.size == 0:
            record["note"] = "none in range: direct wins at every kernel size"
            record["ratio_below"] = float(ratio[-1])
        else:
            i = int(wins[0])
            record.update(
                crossover_n=float(n[i]),
                ratio_above=float(ratio[i]),
                direct_backend=part["direct_backend"].iloc[i],
                fft_backend=part["fft_backend"].iloc[i],
            )
            if i == 0:
                record["note"] = "none in range: FFT wins at every kernel size"
            else:
                record["bracketed"] = True
                record["ratio_below"] = float(ratio[i - 1])
                lo, hi = math.log(ratio[i - 1]), math.log(ratio[i])
                record["crossover_interp"] = float(n[i - 1] + (n[i] - n[i - 1]) * lo / (lo - hi))
        records.append(record)
    return pd.DataFrame.from_records(records)


def fit_crossover_constant(image_n, crossover_n) -> float:
    """Least-squares ``c`` in ``n^2 = c log2 N`` through measured crossovers (NaN if none)."""
    image_n = np.asarray(image_n, dtype=float)
    crossover_n = np.asarray(crossover_n, dtype=float)
    keep = np.isfinite(crossover_n) & (image_n > 1)
    if not keep.any():
        return float("nan")
    logs = np.log2(image_n[keep])
    return float(np.sum(crossover_n[keep] ** 2 * logs) / np.sum(logs**2))


def crossover_curve(c: float, image_n) -> np.ndarray:
    """Kernel size on the fitted curve ``n = sqrt(c log2 N)``."""
    return np.sqrt(c * np.log2(np.asarray(image_n, dtype=float)))
