"""Choosers scored by their regret: the chosen backend's measured time over the fastest one measured.

A choice "within 10 %" hides how much a wrong pick costs; the regret does not.
:func:`validate_choices` scores convbench's chooser on a validation run whose
sizes the calibration never saw, beside the choosers users have today, on the
same cases:

- ``always direct`` and ``always FFT``;
- ``OpenCV threshold``: ``cv2.filter2D``'s fixed rule, a DFT from kernel area
  130 (float32) or 50 (float64) on;
- ``scipy static``: ``scipy.signal.choose_conv_method`` with its built-in
  constants (when scipy is installed);
- ``scipy measure``: the same with ``measure=True``, which times scipy's own
  direct and FFT convolutions on inputs of the case's size, here and now; the
  seconds it spends measuring are charged to its pick as convbench's are
  (once on top of ``calls`` calls; nothing per call).

These choose a *method*; each method stands for the backend its users would
have settled on, the one of that method that won most calibration cases.
convbench's chooser picks a backend from the cost models; where its two best
predictions are within :data:`~harness.analyse.chooser.MEASURE_WITHIN` it
measures both instead of guessing, which the validation scores as picking the
faster of the two as measured there, and charges the measuring (both
backends' one-time costs and their samples) to the pick. With ``calls``, each
backend's one-time costs count too: the regret is that of ``calls`` calls.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..schema import KIND, row_problem
from .chooser import predict_times, results_frame, too_close_to_call
from .derived import cost_of_calls, one_time_seconds
from .models import CASE_SIZE, fit_models

CHOOSERS = ("convbench", "always direct", "always FFT", "OpenCV threshold", "scipy static", "scipy measure")
# Kernel area from which cv2.filter2D switches to its DFT path (float32 with SSE3, and otherwise).
OPENCV_DFT_AREA = {"float32": 130, "float64": 50}
# Samples a measurement takes per backend: verification, warm-up and the timed samples of a default case.
MEASURE_CALLS = 8


def opencv_method(problem) -> str:
    """The method ``cv2.filter2D`` uses for this problem: DFT from a fixed kernel area on."""
    kh, kw = problem.kernel_shape
    return "fft" if kh * kw >= OPENCV_DFT_AREA[problem.dtype] else "direct"


def scipy_static_method(problem) -> str | None:
    """``scipy.signal.choose_conv_method``'s static pick (its constants, no timing), or None without scipy."""
    try:
        from scipy import signal
    except ImportError:
        return None
    image = np.zeros(problem.image_shape, problem.np_dtype)
    kernel = np.zeros(problem.kernel_shape, problem.np_dtype)
    return signal.choose_conv_method(image, kernel, mode=problem.mode)


def scipy_measured_method(problem, seed: int = 0) -> tuple[str, float] | None:
    """``choose_conv_method(..., measure=True)`` on random inputs of this size: its pick and the seconds it took.

    None without scipy. scipy times its own single-threaded direct and FFT
    convolutions; the seconds are what a user of it pays before the first call.
    """
    try:
        from scipy import signal
    except ImportError:
        return None
    rng = np.random.default_rng(seed)
    image = rng.uniform(-0.5, 0.5, problem.image_shape).astype(problem.np_dtype)
    kernel = rng.uniform(-0.5, 0.5, problem.kernel_shape).astype(problem.np_dtype)
    start = time.perf_counter()
    method, _ = signal.choose_conv_method(image, kernel, mode=problem.mode, measure=True)
    return method, time.perf_counter() - start


def method_backends(calibration: pd.DataFrame) -> dict[str, str]:
    """Per method, the backend that won most calibration cases among that method's backends."""
    ok = calibration[calibration["status"] == "ok"]
    keys = [*KIND, *CASE_SIZE]
    out = {}
    for method, part in ok.groupby("method"):
        winners = part.loc[part.groupby(keys)["median_s"].idxmin(), "backend"]
        out[method] = winners.value_counts().idxmax()
    return out


def validate_choices(
    calibration, validation, calls: int | None = None, scipy_measure: bool = False
) -> pd.DataFrame:
    """Every chooser's pick and regret per validation case.

    Only backends present in both runs compete. Columns: the case; ``fastest``
    and ``fastest_s``; per chooser ``C``, ``C: pick`` and ``C: regret``
    (measured cost of the pick over the fastest's; 1 when right); for
    convbench also ``measured`` (it measured instead of trusting close
    predictions); and ``calibrated_size`` (the size was also calibrated,
    which a fair validation avoids). With ``scipy_measure``, scipy's
    measuring chooser runs on every case here (so on the validation's
    machine only), with ``scipy measure: seconds`` it spent.
    """
    cal, val = results_frame(calibration), results_frame(validation)
    models = fit_models(cal)
    by_method = method_backends(cal)
    cal_sizes = set(map(tuple, cal[CASE_SIZE].drop_duplicates().to_numpy().tolist()))
    ok = val[(val["status"] == "ok") & val["backend"].isin({m.backend for m in models})].copy()
    ok["one_time_s"] = one_time_seconds(ok)
    keys = [*KIND, *CASE_SIZE]
    measured = ok.groupby(keys + ["backend"], as_index=False).agg(
        median_s=("median_s", "median"), one_time_s=("one_time_s", "median"), method=("method", "first")
    )
    records = []
    for key, part in measured.groupby(keys, sort=True):
        case = dict(zip(keys, key))
        problem = row_problem(case)
        times = part.set_index("backend")
        cost = cost_of_calls(times["median_s"], times["one_time_s"], calls)
        ranked = predict_times(models, problem, int(case["threads"]), calls)
        ranked = ranked[ranked["backend"].isin(set(times.index))]
        if ranked.empty:
            continue
        fastest = cost.idxmin()
        record = dict(case, fastest=fastest, fastest_s=float(cost[fastest]))
        pick, extra, measured_pick = _convbench_pick(ranked, times, cost, calls)
        record.update({"convbench: pick": pick, "convbench: regret": (cost[pick] + extra) / cost[fastest]})
        record["measured"] = measured_pick
        methods = {
            "always direct": "direct",
            "always FFT": "fft",
            "OpenCV threshold": opencv_method(problem),
            "scipy static": scipy_static_method(problem),
        }
        spent = {}
        if scipy_measure and (picked := scipy_measured_method(problem)):
            methods["scipy measure"], spent["scipy measure"] = picked
            record["scipy measure: seconds"] = picked[1]
        for chooser, method in methods.items():
            backend = by_method.get(method) if method else None
            if backend in cost.index:
                regret = float((cost[backend] + measuring_charge(spent.get(chooser, 0.0), calls)) / cost[fastest])
                record.update({f"{chooser}: pick": backend, f"{chooser}: regret": regret})
        record["calibrated_size"] = tuple(int(case[c]) for c in CASE_SIZE) in cal_sizes
        records.append(record)
    return pd.DataFrame.from_records(records)


def _convbench_pick(ranked: pd.DataFrame, times: pd.DataFrame, cost: pd.Series, calls) -> tuple[str, float, bool]:
    """convbench's pick, the cost of choosing it (measuring, when it measured), and whether it measured."""
    if not too_close_to_call(ranked):
        return ranked["backend"].iloc[0], 0.0, False
    pair = list(ranked["backend"].iloc[:2])
    # Measuring pays each backend's setup and a handful of calls, once, on top of the `calls` calls.
    spent = sum(float(times.loc[b, "one_time_s"]) + MEASURE_CALLS * float(times.loc[b, "median_s"]) for b in pair)
    return min(pair, key=lambda b: cost[b]), measuring_charge(spent, calls), True


def measuring_charge(seconds: float, calls: int | None) -> float:
    """What measuring before choosing adds to the cost of a pick: paid once on top of ``calls`` calls
    (a one-time cost like a plan); nothing when costs are per call (``calls`` None, measuring amortised away).
    """
    return seconds if calls else 0.0


def regret_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Median, 95th percentile and maximum regret per chooser, and on how many cases each was scored."""
    rows = []
    for chooser in CHOOSERS:
        column = f"{chooser}: regret"
        if column not in scores:
            continue
        regret = scores[column].dropna().to_numpy(float)
        rows.append(
            dict(
                chooser=chooser,
                cases=int(regret.size),
                median=float(np.median(regret)),
                p95=float(np.percentile(regret, 95)),
                max=float(regret.max()),
                fastest_share=float(np.mean(regret <= 1.0)),
            )
        )
    return pd.DataFrame.from_records(rows)
