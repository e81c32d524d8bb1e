"""Crossovers: where the fastest FFT backend starts to beat the fastest direct one, measured and predicted.

Crossovers are found per image size: the smallest measured kernel size at
which an FFT backend beats a direct one (interpolated where the log time
ratio crosses zero), next to the size the fitted cost models predict
(:mod:`harness.analyse.models`), and the textbook curve
``n^2 N^2 = c N^2 log2 N`` (``n = sqrt(c log2 N)``) fitted through the
measured crossovers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..schema import IMAGE_SIZE, KERNEL_SIZE, KIND
from .derived import ok_rows
from .models import CostModel, fit_models, kind_of

GROUP = [*KIND, "dist", *IMAGE_SIZE]
CROSSOVER_COLUMNS = GROUP + [
    "image_n",
    "direct_backend",
    "fft_backend",
    "crossover_n",
    "crossover_interp",
    "n_below",
    "crossover_predicted",
    "ratio_below",
    "ratio_above",
    "bracketed",
    "note",
]


def _span(n: np.ndarray) -> str:
    """The kernel sizes a crossover was looked for over: ``3-15``, or ``7`` for one."""
    low, high = int(n[0]), int(n[-1])
    return f"{low}-{high}" if high != low else f"{low}"


def _crossing(n: np.ndarray, ratio: np.ndarray) -> dict:
    """Where ``ratio = fft time / direct time`` first drops below 1 along increasing kernel size ``n``."""
    out = dict(
        crossover_n=np.nan, crossover_interp=np.nan, n_below=np.nan, ratio_below=np.nan, ratio_above=np.nan,
        bracketed=False,
    )  # fmt: skip
    wins = np.flatnonzero(ratio < 1.0)
    if wins.size == 0:
        note = f"none in range: direct wins at every kernel size measured ({_span(n)})"
        out.update(note=note, ratio_below=float(ratio[-1]), index=None)
        return out
    i = int(wins[0])
    out.update(crossover_n=float(n[i]), ratio_above=float(ratio[i]), index=i, note="")
    if i == 0:
        out["note"] = f"none in range: FFT wins at every kernel size measured ({_span(n)})"
        return out
    lo, hi = math.log(ratio[i - 1]), math.log(ratio[i])
    out.update(
        bracketed=True,
        n_below=float(n[i - 1]),
        ratio_below=float(ratio[i - 1]),
        crossover_interp=float(n[i - 1] + (n[i] - n[i - 1]) * lo / (lo - hi)),
    )
    return out


def _square_kernel(image_shape, n: int) -> tuple[int, int]:
    return (1, n) if image_shape[0] == 1 else (n, n)


def predicted_crossover(direct: list[CostModel], fft: list[CostModel], image_shape, n_range) -> float:
    """Kernel size where the fastest FFT model first beats the fastest direct model (NaN if not in range).

    Scans square kernels over the integer range ``n_range = (lo, hi)`` and
    interpolates the log time ratio between the two sizes either side.
    """
    if not direct or not fft:
        return float("nan")
    lo, hi = int(math.floor(n_range[0])), int(math.ceil(n_range[1]))
    if direct[0].mode == "valid":
        hi = min(hi, min(s for s in image_shape if s > 1))
    sizes = np.arange(max(lo, 1), hi + 1)
    ratio = []
    for n in sizes:
        problem = direct[0].problem(image_shape, _square_kernel(image_shape, int(n)))
        best_fft = min(m.predict(problem) for m in fft)
        best_direct = min(m.predict(problem) for m in direct)
        ratio.append(best_fft / best_direct if best_direct > 0 else np.inf)
    found = _crossing(sizes.astype(float), np.asarray(ratio))
    if found["bracketed"]:
        return found["crossover_interp"]
    return float(sizes[0]) if found["index"] == 0 else float("nan")


def _models_by_group(models: list[CostModel]) -> dict:
    grouped: dict = {}
    for m in models:
        grouped.setdefault(m.kind, []).append(m)
    return grouped


def best_by_method(frame: pd.DataFrame) -> pd.DataFrame:
    """Per case and method, the fastest backend's median time (columns direct_s, fft_s, and their backends)."""
    ok = ok_rows(frame)
    keys = GROUP + [*KERNEL_SIZE, "image_n", "kernel_n"]
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


def _crossover_records(best: pd.DataFrame, models: dict, pair_names=None) -> list[dict]:
    records = []
    for key, part in best.groupby(GROUP, sort=True):
        part = part.sort_values("kernel_n")
        n = part["kernel_n"].to_numpy()
        found = _crossing(n, (part["fft_s"] / part["direct_s"]).to_numpy())
        i = found.pop("index")
        record = dict(zip(GROUP, key), image_n=float(part["image_n"].iloc[0]), **found)
        if pair_names:
            record["direct_backend"], record["fft_backend"] = pair_names
        elif i is not None:
            record["direct_backend"], record["fft_backend"] = (
                part["direct_backend"].iloc[i],
                part["fft_backend"].iloc[i],
            )
        else:
            record["direct_backend"] = record["fft_backend"] = ""
        named = dict(zip(GROUP, key))
        group = models.get(kind_of(named), [])
        chosen = [m for m in group if not pair_names or m.backend in pair_names]
        record["crossover_predicted"] = predicted_crossover(
            [m for m in chosen if m.method == "direct"],
            [m for m in chosen if m.method == "fft"],
            (int(named["image_h"]), int(named["image_w"])),
            (n.min(), n.max()),
        )
        records.append(record)
    return records


def crossovers(frame: pd.DataFrame, models: list[CostModel] | None = None) -> pd.DataFrame:
    """One row per image-size group: where the best FFT backend starts to beat the best direct one.

    Columns: the group, ``image_n``, ``crossover_n`` (first measured kernel size
    where FFT is faster; NaN when none in range), ``crossover_interp`` (where the
    log time ratio crosses zero, interpolated linearly in kernel size),
    ``crossover_predicted`` (the same from the fitted cost models),
    ``ratio_below`` and ``ratio_above`` (FFT time / direct time at the sweep
    points either side), ``direct_backend`` and ``fft_backend`` at the crossover,
    ``bracketed`` (True when direct won at a smaller kernel, so the crossover
    lies inside the sweep) and ``note``.
    """
    best = best_by_method(frame)
    if best.empty:
        return pd.DataFrame(columns=CROSSOVER_COLUMNS)
    models = fit_models(frame) if models is None else models
    return pd.DataFrame.from_records(_crossover_records(best, _models_by_group(models)), columns=CROSSOVER_COLUMNS)


def crossover_table(frame: pd.DataFrame, models: list[CostModel] | None = None) -> pd.DataFrame:
    """:func:`crossovers` for every (direct backend, FFT backend) pair, one row per pair and image size."""
    ok = ok_rows(frame)
    models = fit_models(frame) if models is None else models
    grouped = _models_by_group(models)
    keys = GROUP + [*KERNEL_SIZE, "image_n", "kernel_n"]
    medians = ok.groupby(keys + ["backend", "method"], as_index=False)["median_s"].median()
    records = []
    direct_names = sorted(medians.loc[medians["method"] == "direct", "backend"].unique())
    fft_names = sorted(medians.loc[medians["method"] == "fft", "backend"].unique())
    for d in direct_names:
        for f in fft_names:
            left = medians[medians["backend"] == d].set_index(keys)["median_s"].rename("direct_s")
            right = medians[medians["backend"] == f].set_index(keys)["median_s"].rename("fft_s")
            joined = pd.concat([left, right], axis=1, join="inner").reset_index()
            if not joined.empty:
                records.extend(_crossover_records(joined, grouped, pair_names=(d, f)))
    return pd.DataFrame.from_records(records, columns=CROSSOVER_COLUMNS)


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
