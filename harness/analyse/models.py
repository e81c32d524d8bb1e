"""Cost models per backend, computed from a results table only.

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

Crossovers between these models and the measured times are in
:mod:`harness.analyse.crossovers`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kernels import Problem, fft_shape, get_backend

from ..schema import IMAGE_SIZE, KERNEL_SIZE, KIND, LAYER, LAYER_DEFAULTS, row_problem
from .derived import linear_size, ok_rows, one_time_seconds

MODEL_GROUP = ["backend", "method", "device", *KIND]
SINGLE_IMAGE = tuple(LAYER_DEFAULTS[c] for c in LAYER)
CASE_SIZE = [*IMAGE_SIZE, *KERNEL_SIZE]
FORMULAS = {"direct": "a * n^2 * outputs + b", "fft": "c * P log2 P + d"}


def _p_log_p(blocks, fft_h, fft_w):
    size = np.asarray(fft_h, dtype=float) * np.asarray(fft_w, dtype=float)
    return np.asarray(blocks, dtype=float) * size * np.log2(np.maximum(size, 2.0))


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
        count, shape = get_backend(backend).transforms(problem)
    except KeyError:  # a table from elsewhere, backend not installed here
        count, shape = 1, fft_shape(problem)
    return float(_p_log_p(count, *shape))


# ---------------------------------------------------------------- fitting


def _fit_relative(x: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """``(slope, intercept) >= 0`` minimising sum(((slope*x + intercept) / t - 1)^2)."""
    slope, intercept = fit_relative_terms(np.column_stack([x, np.ones_like(x, dtype=float)]), t)
    return slope, intercept


def fit_relative_terms(terms: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Coefficients ``>= 0`` of the columns of ``terms`` minimising sum(((terms @ c) / t - 1)^2).

    Every subset of the columns is fitted by least squares and the best fit
    whose coefficients are all non-negative is kept: a negative coefficient
    means the data cannot support that term, so it is dropped (set to 0).
    """
    scaled = terms / t[:, None]
    target = np.ones_like(t, dtype=float)
    best, best_error = np.zeros(terms.shape[1]), np.inf
    for size in range(1, terms.shape[1] + 1):
        for columns in itertools.combinations(range(terms.shape[1]), size):
            if len(t) < size:
                continue
            coefficients, *_ = np.linalg.lstsq(scaled[:, columns], target, rcond=None)
            if np.any(coefficients < 0):
                continue
            error = float(np.mean((scaled[:, columns] @ coefficients - 1.0) ** 2))
            if error < best_error - 1e-15:
                best, best_error = np.zeros(terms.shape[1]), error
                best[list(columns)] = coefficients
    return best


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
    batch: int
    in_channels: int
    out_channels: int
    pass_: str
    slope: float
    intercept: float
    rms_rel: float
    r2_log: float
    points: int
    complexity: str
    complexity_rms: dict = field(default_factory=dict)
    residuals: tuple = ()  # (log2 image_n, log2 kernel_n, log(measured / model)) per calibration size
    one_time: tuple = ()  # (log2 image_n, log2 kernel_n, one-time seconds) per calibration size

    @property
    def formula(self) -> str:
        return FORMULAS.get(self.method, "slope * work + intercept")

    @property
    def kind(self) -> tuple:
        """What the model was fitted on besides sizes (:data:`harness.schema.KIND`'s values): see :func:`kind_of`."""
        return (self.op, self.mode, self.dtype, int(self.threads), *self.layer)

    @property
    def layer(self) -> tuple:
        """``(batch, in_channels, out_channels, pass)``: all ones and ``forward`` for single images."""
        return (int(self.batch), int(self.in_channels), int(self.out_channels), self.pass_)

    def problem(self, image_shape, kernel_shape) -> Problem:
        """The model's problem at other sizes."""
        return Problem(self.op, self.mode, image_shape, kernel_shape, self.dtype, int(self.threads), *self.layer)

    def predict(self, problem: Problem, local: bool = False) -> float:
        """Predicted seconds per call for ``problem``."""
        seconds = self.slope * problem_work(self.backend, self.method, problem) + self.intercept
        if local and self.residuals:
            seconds *= math.exp(self._local_correction(problem))
        return seconds

    def predict_one_time(self, problem: Problem) -> float:
        """One-time seconds (setup and first-call excess) at the calibrated size nearest ``problem`` (0 unknown)."""
        if not self.one_time:
            return 0.0
        points = np.asarray(self.one_time, dtype=float)
        query = np.log2([linear_size(*problem.image_shape), linear_size(*problem.kernel_shape)])
        return float(points[np.argmin(np.sum((points[:, :2] - query) ** 2, axis=1)), 2])

    def _local_correction(self, problem: Problem, neighbours: int = 4) -> float:
        points = np.asarray(self.residuals, dtype=float)
        query = np.log2([linear_size(*problem.image_shape), linear_size(*problem.kernel_shape)])
        distance2 = np.sum((points[:, :2] - query) ** 2, axis=1)
        nearest = np.argsort(distance2)[:neighbours]
        weights = 1.0 / (distance2[nearest] + 1e-6)
        return float(np.sum(weights * points[nearest, 2]) / np.sum(weights))


def kind_of(row) -> tuple:
    """The :attr:`CostModel.kind` of a row or a group's named key (a dict or a pandas row)."""
    return (row["op"], row["mode"], row["dtype"], int(row["threads"]), *(row[c] if c == "pass" else int(row[c])
            for c in ("batch", "in_channels", "out_channels", "pass")))  # fmt: skip


def case_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Successful rows reduced to one per backend and size (median over input distributions and seeds)."""
    ok = ok_rows(frame)
    if ok.empty:
        return ok
    ok["one_time_s"] = one_time_seconds(ok)
    extra = [c for c in ("fft_h", "fft_w", "fft_blocks") if c in ok]
    agg = {
        "median_s": "median",
        "one_time_s": "median",
        "image_n": "first",
        "kernel_n": "first",
        **{c: "first" for c in extra},
    }
    return ok.groupby(MODEL_GROUP + CASE_SIZE, as_index=False, sort=True).agg(agg)


def fit_models(frame: pd.DataFrame) -> list[CostModel]:
    """One :class:`CostModel` per backend and (op, mode, dtype, threads) with successful rows."""
    cases = case_medians(frame)
    models = []
    if cases.empty:
        return models
    for key, part in cases.groupby(MODEL_GROUP, sort=True):
        ident = dict(zip(MODEL_GROUP, key))
        ident["pass_"] = ident.pop("pass")  # a keyword in Python
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
                one_time=tuple(
                    zip(
                        np.log2(part["image_n"]).tolist(),
                        np.log2(part["kernel_n"]).tolist(),
                        part["one_time_s"].tolist(),
                    )
                ),
            )
        )
    return models


def model_table(models: list[CostModel]) -> pd.DataFrame:
    """The fits as a table: formula, coefficients, goodness of fit and best complexity per model.

    The layer columns are left out when every model is of single images.
    """
    single = all(m.layer == SINGLE_IMAGE for m in models)
    group = [k for k in MODEL_GROUP if not (single and k in LAYER)]
    records = [
        {
            **{k: vars(m)["pass_" if k == "pass" else k] for k in group},
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
    return pd.DataFrame.from_records(records, columns=group + [
        "formula", "slope", "intercept_s", "rms_rel", "r2_log", "points", "complexity", "complexity_rms"
    ])  # fmt: skip
