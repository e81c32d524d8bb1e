"""Cost models and crossovers, computed from a results table only.

Per backend (and op, mode, dtype, threads) a two-parameter cost model is fitted
to the median times:

- direct: ``t = a * n^2 * outputs + b`` (``n^2 = kh*kw`` multiply-adds per output);
- FFT: ``t = c * P log2 P + d`` with ``P`` the padded transform size, summed over
  the backend's transforms (``fft_blocks`` of shape ``fft_h x fft_w``); the
  intercept and the slope absorb the per-pass copies, products and crops.

The fits minimise the *relative* error, because times span six decades and a
least-squares fit on raw seconds would only see the largest cases. Goodness of
fit is the RMS relative error and R^2 of log time. A complexity check in the
manner of Google Benchmark fits ``t = k * f`` for each textbook ``f`` (1, n^2,
N^2, N^2 log N, n^2 N^2, N^3) and names the one with the lowest RMS log error.

Crossovers are found per image size: the smallest measured kernel size at
which an FFT backend beats a direct one (interpolated where the log time
ratio crosses zero), next to the size the fitted models predict, and the
textbook curve ``n^2 N^2 = c N^2 log2 N`` (``n = sqrt(c log2 N)``) fitted
through the measured crossovers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kernels import Problem, fft_shape, get_backend, transform_plan

GROUP = ["op", "mode", "dtype", "threads", "dist", "image_h", "image_w"]
MODEL_GROUP = ["backend", "method", "device", "op", "mode", "dtype", "threads"]
CASE_SIZE = ["image_h", "image_w", "kernel_h", "kernel_w"]
FORMULAS = {"direct": "a * n^2 * outputs + b", "fft": "c * P log2 P + d"}
CROSSOVER_COLUMNS = GROUP + [
    "image_n",
    "direct_backend",
    "fft_backend",
    "crossover_n",
    "crossover_interp",
    "crossover_predicted",
    "ratio_below",
    "ratio_above",
    "bracketed",
    "note",
]


def linear_size(rows, cols):
    """One size per shape (array-friendly): ``sqrt(rows * cols)``, N for N x N, and the length L of a 1-D (1, L)."""
    rows, cols = np.asarray(rows, dtype=float), np.asarray(cols, dtype=float)
    return np.where(rows == 1, cols, np.sqrt(rows * cols))


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[frame["status"] == "ok"].copy()
    ok["image_n"] = linear_size(ok["image_h"], ok["image_w"])
    ok["kernel_n"] = linear_size(ok["kernel_h"], ok["kernel_w"])
    return ok


def _p_log_p(blocks, fft_h, fft_w):
    size = np.asarray(fft_h, dtype=float) * np.asarray(fft_w, dtype=float)
    return np.asarray(blocks, dtype=float) * size * np.log2(np.maximum(size, 2.0))


def row_problem(row) -> Problem:
    """The :class:`kernels.Problem` of a results row (a dict or a Series)."""
    return Problem(
        row["op"],
        row["mode"],
        (int(row["image_h"]), int(row["image_w"])),
        (int(row["kernel_h"]), int(row["kernel_w"])),
        row["dtype"],
        int(row["threads"]),
    )


def _outputs(rows: pd.DataFrame) -> np.ndarray:
    return np.array([math.prod(row_problem(r).out_shape) for r in rows.to_dict("records")], dtype=float)


def row_work(rows: pd.DataFrame) -> np.ndarray:
    """The cost model's work per row: ``n^2 * outputs`` (direct) or ``P log2 P`` (FFT).

    FFT rows carry their transforms (``fft_blocks`` of ``fft_h x fft_w``); rows
    from tables written before ``fft_blocks`` was recorded ask the backend's
    transform plan instead (see :func:`problem_work`).
    """
    work = np.empty(len(rows))
    for i, row in enumerate(rows.to_dict("records")):
        blocks = row.get("fft_blocks", np.nan)
        if row["method"] == "fft" and np.isfinite(blocks):
            work[i] = _p_log_p(blocks, row["fft_h"], row["fft_w"])
        else:
            work[i] = problem_work(row["backend"], row["method"], row_problem(row))
    return work


def problem_work(backend: str, method: str, problem: Problem) -> float:
    """The model's work for a problem that was not measured (transform plan asked of the backend)."""
    if method != "fft":
        kh, kw = problem.kernel_shape
        return float(kh * kw * math.prod(problem.out_shape))
    try:
        count, shape = transform_plan(get_backend(backend), problem)
    except KeyError:  # a table from elsewhere, backend not installed here
        count, shape = 1, fft_shape(problem)
    return float(_p_log_p(count, *shape))


# ---------------------------------------------------------------- fitting


def _fit_relative(x: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """``(slope, intercept) >= 0`` minimising sum(((slope*x + intercept) / t - 1)^2)."""
    design = np.column_stack([x / t, 1.0 / t])
    if len(t) >= 2:
        (slope, intercept), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
        if slope >= 0 and intercept >= 0:
            return float(slope), float(intercept)
    # A negative term means the data cannot support it: keep the other one alone.
    slope = float(np.sum(x / t) / np.sum((x / t) ** 2))
    intercept = float(len(t) / np.sum(1.0 / t))
    keep_slope = np.mean((slope * x / t - 1) ** 2) <= np.mean((intercept / t - 1) ** 2)
    return (slope, 0.0) if keep_slope else (0.0, intercept)


def _rms_relative(predicted: np.ndarray, t: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted / t - 1.0) ** 2)))


def _r2_log(predicted: np.ndarray, t: np.ndarray) -> float:
    log_t = np.log(t)
    total = np.sum((log_t - log_t.mean()) ** 2)
    if total == 0:
        return float("nan")
    return float(1.0 - np.sum((np.log(np.maximum(predicted, 1e-300)) - log_t) ** 2) / total)


COMPLEXITIES = {
    "1": lambda n2, big_n2, outputs: np.ones_like(n2),
    "n^2": lambda n2, big_n2, outputs: n2,
    "N^2": lambda n2, big_n2, outputs: big_n2,
    "N^2 log N": lambda n2, big_n2, outputs: big_n2 * np.log2(np.maximum(big_n2, 2.0)),
    "n^2 N^2": lambda n2, big_n2, outputs: n2 * outputs,
    "N^3": lambda n2, big_n2, outputs: big_n2**1.5,
}


def complexity_fit(rows: pd.DataFrame) -> dict[str, float]:
    """How well ``t = k * f`` fits, for each textbook complexity ``f``: RMS of ``ln(fit / measured)``.

    As in Google Benchmark each candidate has one coefficient; here it is fitted
    in log space (``ln k`` is the mean of ``ln(t / f)``), because times span
    decades and a relative error capped at -100 % below but unbounded above
    would favour the flattest candidate. 0 is a perfect fit; 0.1 is ~10 % scatter.
    """
    t = rows["median_s"].to_numpy(float)
    h, w = rows["image_h"].to_numpy(float), rows["image_w"].to_numpy(float)
    kh, kw = rows["kernel_h"].to_numpy(float), rows["kernel_w"].to_numpy(float)
    outputs = _outputs(rows)
    out = {}
    for name, feature in COMPLEXITIES.items():
        log_ratio = np.log(feature(kh * kw, h * w, outputs)) - np.log(t)
        out[name] = float(np.sqrt(np.mean((log_ratio - log_ratio.mean()) ** 2)))
    return out


@dataclass(frozen=True)
class CostModel:
    """A fitted cost model of one backend for one (op, mode, dtype, threads).

    ``predict`` evaluates ``slope * work + intercept``; with ``local=True`` it
    also applies the calibration residuals nearest the query (inverse-distance
    weighted in log image size and log kernel size), which captures what two
    parameters cannot, such as cache effects or the direct loop's efficiency
    changing with kernel width.
    """

    backend: str
    method: str
    device: str
    op: str
    mode: str
    dtype: str
    threads: int
    slope: float
    intercept: float
    rms_rel: float
    r2_log: float
    points: int
    complexity: str
    complexity_rms: dict = field(default_factory=dict)
    residuals: tuple = ()  # (log2 image_n, log2 kernel_n, log(measured / model)) per calibration size

    @property
    def formula(self) -> str:
        return FORMULAS.get(self.method, "slope * work + intercept")

    def problem(self, image_shape, kernel_shape) -> Problem:
        """The model's problem at other sizes."""
        return Problem(self.op, self.mode, image_shape, kernel_shape, self.dtype, int(self.threads))

    def predict(self, problem: Problem, local: bool = False) -> float:
        """Predicted seconds per call for ``problem``."""
        seconds = self.slope * problem_work(self.backend, self.method, problem) + self.intercept
        if local and self.residuals:
            seconds *= math.exp(self._local_correction(problem))
        return seconds

    def _local_correction(self, problem: Problem, neighbours: int = 4) -> float:
        points = np.asarray(self.residuals, dtype=float)
        query = np.log2([linear_size(*problem.image_shape), linear_size(*problem.kernel_shape)])
        distance2 = np.sum((points[:, :2] - query) ** 2, axis=1)
        nearest = np.argsort(distance2)[:neighbours]
        weights = 1.0 / (distance2[nearest] + 1e-6)
        return float(np.sum(weights * points[nearest, 2]) / np.sum(weights))


def case_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Successful rows reduced to one per backend and size (median over input distributions and seeds)."""
    ok = _ok(frame)
    if ok.empty:
        return ok
    extra = [c for c in ("fft_h", "fft_w", "fft_blocks") if c in ok]
    agg = {"median_s": "median", "image_n": "first", "kernel_n": "first", **{c: "first" for c in extra}}
    return ok.groupby(MODEL_GROUP + CASE_SIZE, as_index=False, sort=True).agg(agg)


def fit_models(frame: pd.DataFrame) -> list[CostModel]:
    """One :class:`CostModel` per backend and (op, mode, dtype, threads) with successful rows."""
    cases = case_medians(frame)
    models = []
    if cases.empty:
        return models
    for key, part in cases.groupby(MODEL_GROUP, sort=True):
        ident = dict(zip(MODEL_GROUP, key))
        t = part["median_s"].to_numpy(float)
        work = row_work(part)
        slope, intercept = _fit_relative(work, t)
        predicted = slope * work + intercept
        fits = complexity_fit(part)
        residuals = tuple(
            zip(
                np.log2(part["image_n"]).tolist(),
                np.log2(part["kernel_n"]).tolist(),
                np.log(t / np.maximum(predicted, 1e-300)).tolist(),
            )
        )
        models.append(
            CostModel(
                **ident,
                slope=slope,
                intercept=intercept,
                rms_rel=_rms_relative(predicted, t),
                r2_log=_r2_log(predicted, t),
                points=len(t),
                complexity=min(fits, key=fits.get),
                complexity_rms=fits,
                residuals=residuals,
            )
        )
    return models


def model_table(models: list[CostModel]) -> pd.DataFrame:
    """The fits as a table: formula, coefficients, goodness of fit and best complexity per model."""
    records = [
        {
            **{k: getattr(m, k) for k in MODEL_GROUP},
            "formula": m.formula,
            "slope": m.slope,
            "intercept_s": m.intercept,
            "rms_rel": m.rms_rel,
            "r2_log": m.r2_log,
            "points": m.points,
            "complexity": m.complexity,
            "complexity_rms": m.complexity_rms.get(m.complexity, float("nan")),
        }
        for m in models
    ]
    return pd.DataFrame.from_records(records, columns=MODEL_GROUP + [
        "formula", "slope", "intercept_s", "rms_rel", "r2_log", "points", "complexity", "complexity_rms"
    ])  # fmt: skip


# ---------------------------------------------------------------- crossovers


def _crossing(n: np.ndarray, ratio: np.ndarray) -> dict:
    """Where ``ratio = fft time / direct time`` first drops below 1 along increasing kernel size ``n``."""
    out = dict(crossover_n=np.nan, crossover_interp=np.nan, ratio_below=np.nan, ratio_above=np.nan, bracketed=False)
    wins = np.flatnonzero(ratio < 1.0)
    if wins.size == 0:
        out.update(note="none in range: direct wins at every kernel size", ratio_below=float(ratio[-1]), index=None)
        return out
    i = int(wins[0])
    out.update(crossover_n=float(n[i]), ratio_above=float(ratio[i]), index=i, note="")
    if i == 0:
        out["note"] = "none in range: FFT wins at every kernel size"
        return out
    lo, hi = math.log(ratio[i - 1]), math.log(ratio[i])
    out.update(
        bracketed=True,
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
        grouped.setdefault((m.op, m.mode, m.dtype, int(m.threads)), []).append(m)
    return grouped


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
        op, mode, dtype, threads = key[:4]
        group = models.get((op, mode, dtype, int(threads)), [])
        chosen = [m for m in group if not pair_names or m.backend in pair_names]
        record["crossover_predicted"] = predicted_crossover(
            [m for m in chosen if m.method == "direct"],
            [m for m in chosen if m.method == "fft"],
            (int(key[5]), int(key[6])),
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
    ok = _ok(frame)
    models = fit_models(frame) if models is None else models
    grouped = _models_by_group(models)
    keys = GROUP + ["kernel_h", "kernel_w", "image_n", "kernel_n"]
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
