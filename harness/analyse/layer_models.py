"""Cost models of CNN layers in layer terms, the winner of each layer, and a chooser scored on held-out layers.

The single-image models of :mod:`harness.analyse.models` are fitted per
layer shape; these put the channels inside the work, so that one model per
backend and pass (and op, mode, dtype, threads) covers every layer:

- direct and im2col + GEMM: ``B K C n^2 oh ow`` multiply-adds;
- FFT with transform reuse: each call's transforms (``B C + K C + B K`` maps
  per tile) in units of one transform's predicted cost, plus its ``B K C P/2``
  complex multiply-adds weighted by what one costs against such a unit
  (:func:`kernels._layer_fft.work_units`);
- Winograd F(m x m, 3 x 3): by its tile counts, ``a^2`` products over
  channels per tile (``a = m + 2``) plus the input and output transforms
  (``a^3`` per tile and channel) and the filters' (``3 a^2`` per filter pair).

Each is ``t = slope * work + per_byte * bytes + intercept``, fitted for the
least *relative* error as the single-image models are, every coefficient
non-negative (a term the data cannot support is dropped). ``bytes``
(:func:`layer_bytes`) is the memory a call must move at least: the pass's
inputs and output, plus Winograd's transformed tiles and filters and
im2col's columns. Without it, a held-out Winograd weight gradient on 7 x 7
x 512 (36 planes of 512 x 512 sums, written and read) was predicted 10x too
fast; with it, the ResNet-50 run's chooser regret fell from 2.60 to 1.93
at the 95th percentile. :func:`held_out_choices` scores the
chooser as a user meets it: for each layer, models fitted on the *other*
layers of the run pick the backend, and the regret is the pick's measured
time over the fastest measured.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kernels import Problem
from kernels._layer_fft import work_units

from ..schema import row_problem
from .derived import ok_rows
from .models import _rms_relative, fit_relative_terms

# What a layer model is fitted over: every layer of one backend and pass.
LAYER_MODEL_GROUP = ["backend", "method", "op", "mode", "dtype", "threads", "pass"]
# What names one layer of a set, whatever its batch and pass.
LAYER_SHAPE = ["image_h", "image_w", "kernel_h", "kernel_w", "in_channels", "out_channels"]
LAYER_CASE = [*LAYER_SHAPE, "batch", "pass"]
DEFAULT_WINOGRAD_TILE = 4


def winograd_tile(options: str) -> int:
    """The output tile of a Winograd row, from its ``options`` (``tile=2``); 4 when not recorded."""
    found = re.search(r"\btile=(\d+)", options or "")
    return int(found.group(1)) if found else DEFAULT_WINOGRAD_TILE


def layer_work(method: str, problem: Problem, options: str = "") -> float:
    """A layer model's work for one call of ``problem`` by ``method`` (see the module docstring)."""
    b, c, k = problem.batch, problem.in_channels, problem.out_channels
    if method == "fft":
        return work_units(problem)
    if method == "winograd":
        m = winograd_tile(options)
        a = m + 2
        sources, targets = (k, c) if problem.pass_ == "backward-data" else (c, k)
        height, width = problem.image_shape if problem.pass_ == "backward-data" else problem.out_shape
        tiles = b * math.ceil(height / m) * math.ceil(width / m)
        return a * a * tiles * sources * targets + a**3 * tiles * (sources + targets) + 3 * a * a * c * k
    return problem.direct_flops / 2


def layer_bytes(method: str, problem: Problem, options: str = "") -> float:
    """The bytes one call of ``problem`` by ``method`` must move at least (see the module docstring)."""
    b, c, k = problem.batch, problem.in_channels, problem.out_channels
    (h, w), (oh, ow), (kh, kw) = problem.image_shape, problem.out_shape, problem.kernel_shape
    elements = b * c * h * w + k * c * kh * kw + b * k * oh * ow
    if method == "winograd":
        m = winograd_tile(options)
        a = m + 2
        tiles = b * math.ceil(oh / m) * math.ceil(ow / m)
        elements += a * a * (tiles * (c + k) + c * k)
    elif method == "gemm":
        elements += 2 * b * c * kh * kw * oh * ow  # the columns, written and read
    return float(elements * problem.np_dtype.itemsize)


@dataclass(frozen=True)
class LayerModel:
    """``t = slope * work + per_byte * bytes + intercept`` for one backend and pass over every layer measured."""

    backend: str
    method: str
    op: str
    mode: str
    dtype: str
    threads: int
    pass_: str
    options: str
    slope: float
    intercept: float
    rms_rel: float
    points: int
    per_byte: float = 0.0

    def predict(self, problem: Problem) -> float:
        """Predicted seconds per call."""
        work = self.slope * layer_work(self.method, problem, self.options)
        return work + self.per_byte * layer_bytes(self.method, problem, self.options) + self.intercept


def is_layer(frame: pd.DataFrame) -> pd.Series:
    """Which rows are layers (tables from before layers have none)."""
    if "in_channels" not in frame:
        return pd.Series(False, index=frame.index)
    single = (frame["batch"] == 1) & (frame["in_channels"] == 1) & (frame["out_channels"] == 1)
    return ~(single & (frame["pass"] == "forward"))


def layer_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Successful layer rows, one per backend and layer case (the median over visits, inputs and seeds)."""
    ok = ok_rows(frame)
    if ok.empty or "in_channels" not in ok:
        return ok.iloc[0:0]
    ok = ok[is_layer(ok)]
    keys = ["backend", "method", "op", "mode", "dtype", "threads", *LAYER_CASE]
    ok = ok.assign(options=ok["options"].fillna("") if "options" in ok else "")
    medians = ok.groupby(keys, as_index=False, sort=True)
    return medians.agg(median_s=("median_s", "median"), options=("options", "first"))


def fit_layer_models(rows: pd.DataFrame) -> list[LayerModel]:
    """One :class:`LayerModel` per backend, pass and (op, mode, dtype, threads), from :func:`layer_rows`' rows."""
    models = []
    for key, part in rows.groupby(LAYER_MODEL_GROUP, sort=True):
        ident = dict(zip(LAYER_MODEL_GROUP, key))
        ident["pass_"] = ident.pop("pass")
        options = str(part["options"].iloc[0])
        problems = [row_problem(r) for r in part.to_dict("records")]
        terms = np.array([
            (layer_work(ident["method"], p, options), layer_bytes(ident["method"], p, options), 1.0) for p in problems
        ])  # fmt: skip
        t = part["median_s"].to_numpy(float)
        slope, per_byte, intercept = fit_relative_terms(terms, t)
        models.append(
            LayerModel(**ident, options=options, slope=slope, intercept=intercept, per_byte=per_byte,
                       rms_rel=_rms_relative(terms @ (slope, per_byte, intercept), t), points=len(t))  # fmt: skip
        )
    return models


def layer_model_table(models: list[LayerModel]) -> pd.DataFrame:
    """The layer models as a table: group, slope, intercept, RMS relative error, points."""
    return pd.DataFrame([vars(m) for m in models]).rename(columns={"pass_": "pass"})


def layer_winners(rows: pd.DataFrame) -> pd.DataFrame:
    """Per layer case: the fastest backend, its time, the runner-up and how much slower it is."""
    out = []
    for key, part in rows.groupby(["op", "mode", "dtype", "threads", *LAYER_CASE], sort=True):
        ranked = part.sort_values("median_s")
        best = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        out.append({
            **dict(zip(["op", "mode", "dtype", "threads", *LAYER_CASE], key)),
            "winner": best["backend"], "winner_method": best["method"], "winner_s": best["median_s"],
            "runner_up": None if second is None else second["backend"],
            "margin": float("nan") if second is None else second["median_s"] / best["median_s"],
        })  # fmt: skip
    return pd.DataFrame(out)


def win_counts(winners: pd.DataFrame) -> pd.DataFrame:
    """Per pass and winning backend (of :func:`layer_winners`): the cases won and the margins' median, min and max."""
    margins = winners.groupby(["pass", "winner"], sort=True)["margin"]
    return margins.agg(cases="size", median_margin="median", min_margin="min", max_margin="max").reset_index()


def held_out_choices(rows: pd.DataFrame) -> pd.DataFrame:
    """Leave one layer out: models fitted on the other layers pick each case's backend; the pick's regret.

    Returns one row per layer case with ``chosen``, ``fastest`` and ``regret``
    (measured time of the pick over the fastest measured; 1 is a perfect pick).
    Layers whose backends have no model without them (a backend measured on
    that layer alone) are left out.
    """
    out = []
    layers = rows[LAYER_SHAPE].drop_duplicates().to_dict("records")
    for layer in layers:
        mine = np.logical_and.reduce([rows[c] == v for c, v in layer.items()])
        models = {(m.backend, m.pass_, m.op, m.mode, m.dtype, m.threads): m for m in fit_layer_models(rows[~mine])}
        for _, part in rows[mine].groupby(LAYER_CASE + ["op", "mode", "dtype", "threads"], sort=True):
            predictions, measured = {}, dict(zip(part["backend"], part["median_s"]))
            for r in part.to_dict("records"):
                model = models.get((r["backend"], r["pass"], r["op"], r["mode"], r["dtype"], r["threads"]))
                if model is not None:
                    predictions[r["backend"]] = model.predict(row_problem(r))
            if len(predictions) < len(measured):
                continue
            chosen, fastest = min(predictions, key=predictions.get), min(measured, key=measured.get)
            first = part.iloc[0]
            out.append({
                **{c: first[c] for c in LAYER_CASE}, "chosen": chosen, "fastest": fastest,
                "regret": measured[chosen] / measured[fastest],
            })  # fmt: skip
    return pd.DataFrame(out, columns=[*LAYER_CASE, "chosen", "fastest", "regret"])


def regret_summary(choices: pd.DataFrame) -> dict[str, float]:
    """Median, 95th percentile and largest regret, and the share of cases where the pick was the fastest."""
    regret = choices["regret"].to_numpy(float)
    if regret.size == 0:
        return {"cases": 0}
    return {
        "cases": int(regret.size),
        "median": float(np.median(regret)),
        "p95": float(np.percentile(regret, 95)),
        "max": float(regret.max()),
        "fastest_share": float(np.mean(choices["chosen"] == choices["fastest"])),
    }


def crossover_surface(
    models: list[LayerModel], image: int, batch: int, pass_: str, kernels, channels, **kind
) -> pd.DataFrame:
    """The predicted fastest backend over kernel sizes ``kernels`` and channel counts ``channels`` (C = K).

    ``kind`` fixes ``op``, ``mode``, ``dtype`` and ``threads``; a backend that
    cannot compute a size (Winograd beyond 3x3) is not a candidate there.
    """
    usable = [m for m in models if m.pass_ == pass_ and all(vars(m)[k] == v for k, v in kind.items())]
    out = []
    for n in kernels:
        for c in channels:
            problem = Problem(kind["op"], kind["mode"], (image, image), (n, n), kind["dtype"], kind["threads"],
                              batch, c, c, pass_)  # fmt: skip
            times = {m.backend: m.predict(problem) for m in usable if m.method != "winograd" or n == 3}
            if times:
                winner = min(times, key=times.get)
                ranked = sorted(times.values())
                margin = ranked[1] / ranked[0] if len(ranked) > 1 else float("nan")
                out.append({"kernel_n": n, "channels": c, "winner": winner, "margin": margin})
    return pd.DataFrame(out)
