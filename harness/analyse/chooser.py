"""The chooser: which backend is fastest for a size, predicted from a calibration run.

Predictions come from the cost models of :mod:`harness.analyse.models`, corrected by the
calibration residuals nearest the query, so a query between calibrated sizes
gets the measured behaviour around it and a query outside them the fitted
trend. :func:`validate_choices` scores the chooser on a validation run whose
sizes the calibration never saw.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from kernels import Problem, get_backend

from ..errors import UsageError
from ..plan import configs
from ..plan.config import parse_config
from ..schema import row_problem
from ..store.tables import load_results
from .derived import linear_size
from .models import CASE_SIZE, CostModel, fit_models

TOLERANCE = 0.10  # a choice within 10 % of the fastest counts as right


def _match_score(model: CostModel, problem: Problem) -> tuple[int, int]:
    return (model.mode == problem.mode, model.op == problem.op)


def _select_models(models: list[CostModel], problem: Problem, threads: int | None) -> tuple[list[CostModel], str]:
    """Per backend the model closest to the query: same dtype and threads, same mode and op if calibrated."""
    same_dtype = [m for m in models if m.dtype == problem.dtype]
    if not same_dtype:
        have = sorted({m.dtype for m in models}) or ["none"]
        raise UsageError(f"the calibration has no {problem.dtype} results; calibrated dtypes: {', '.join(have)}")
    calibrated_threads = sorted({int(m.threads) for m in same_dtype})
    if threads is None:
        threads = max(calibrated_threads)
    elif threads not in calibrated_threads:
        raise UsageError(
            f"the calibration has no {problem.dtype} results on {threads} threads; "
            f"calibrated thread counts: {', '.join(map(str, calibrated_threads))}"
        )
    chosen: dict[str, CostModel] = {}
    for m in (m for m in same_dtype if int(m.threads) == threads):
        best = chosen.get(m.backend)
        if best is None or _match_score(m, problem) > _match_score(best, problem):
            chosen[m.backend] = m
    elsewhere: dict[tuple[str, str], list[str]] = {}
    for m in chosen.values():
        if _match_score(m, problem) != (1, 1):
            elsewhere.setdefault((m.op, m.mode), []).append(m.backend)
    notes = [
        f"{', '.join(sorted(names))} calibrated on {op} {mode}, not {problem.op} {problem.mode}"
        for (op, mode), names in sorted(elsewhere.items())
    ]
    return list(chosen.values()), "; ".join(notes)


def _supported(name: str, problem: Problem) -> bool:
    try:
        backend = get_backend(name)
    except KeyError:
        return True  # a table from elsewhere: trust that it ran there
    return backend.supports(problem)[0]


def predict_times(models: list[CostModel], problem: Problem, threads: int | None = None) -> pd.DataFrame:
    """Predicted seconds per call of every calibrated backend for ``problem``, fastest first.

    Columns: ``backend``, ``method``, ``device``, ``predicted_s`` (model with local
    correction), ``model_s`` (the two-parameter model alone), ``threads`` and
    ``note`` (set when the calibration did not have the query's op or mode).
    """
    selected, note = _select_models(models, problem, threads)
    records = []
    for m in selected:
        query = dataclasses.replace(problem, dtype=m.dtype, threads=int(m.threads))
        if not _supported(m.backend, query):
            continue
        records.append(
            dict(
                backend=m.backend,
                method=m.method,
                device=m.device,
                predicted_s=m.predict(query, local=True),
                model_s=m.predict(query),
                threads=int(m.threads),
                note=note,
            )
        )
    table = pd.DataFrame.from_records(
        records, columns=["backend", "method", "device", "predicted_s", "model_s", "threads", "note"]
    )
    return table.sort_values("predicted_s", kind="stable").reset_index(drop=True)


def choose(
    image_shape,
    kernel_shape,
    *,
    results: str | Path | pd.DataFrame,
    dtype: str = "float32",
    op: str = "corr",
    mode: str = "same",
    threads: int | None = None,
) -> pd.DataFrame:
    """Rank the calibrated backends by predicted time for one problem; row 0 is the choice.

    Parameters
    ----------
    image_shape, kernel_shape : int or tuple of int
        Sizes of the query (a 1-D length is a (1, L) signal).
    results : path or DataFrame
        A calibration run (a results directory or its table).
    dtype, op, mode : str
        As everywhere in convbench.
    threads : int, optional
        Thread count; defaults to the largest one calibrated.

    Returns
    -------
    pandas.DataFrame
        See :func:`predict_times`.
    """
    frame = _as_frame(results)
    try:
        problem = Problem(op, mode, image_shape, kernel_shape, dtype, threads or 1)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    models = fit_models(frame)
    if not models:
        raise UsageError("the calibration has no successful rows to fit")
    table = predict_times(models, problem, threads)
    if table.empty:
        raise UsageError("no calibrated backend supports this problem")
    return table


def outside_calibration(results, image_shape, kernel_shape) -> str:
    """A note when the query lies outside the calibrated image or kernel sizes (the models then extrapolate)."""
    ok = _as_frame(results)
    ok = ok[ok["status"] == "ok"]
    if ok.empty:
        return ""
    notes = []
    for what, shape, (rows, cols) in (
        ("image", image_shape, (ok["image_h"], ok["image_w"])),
        ("kernel", kernel_shape, (ok["kernel_h"], ok["kernel_w"])),
    ):
        sizes = linear_size(rows, cols)
        size = float(linear_size(*shape))
        if not sizes.min() <= size <= sizes.max():
            notes.append(f"{what} size {size:g} is outside the calibrated {sizes.min():g}..{sizes.max():g}")
    return "; ".join(notes) + ("; the models extrapolate" if notes else "")


def _as_frame(results) -> pd.DataFrame:
    if isinstance(results, pd.DataFrame):
        return results
    return load_results(results)


def calibration_config(op: str, mode: str, dtype: str, path: Path | None = None):
    """``configs/calibrate.toml`` (or ``path``) with the query's op, mode and dtype."""
    path = path or configs.config_path("calibrate.toml")
    if not path.exists():
        raise UsageError(f"no calibration config at {path}; pass --results DIR from a sweep")
    raw = tomllib.loads(path.read_text())
    raw["sweep"].update(op=op, mode=mode, dtype=dtype)
    raw["name"] = f"calibrate-{op}-{mode}-{dtype}"
    return parse_config(raw)


# ---------------------------------------------------------------- validation


def validate_choices(calibration, validation, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Score the chooser: per validation case, its pick against the measured fastest.

    Only backends present in both runs compete. Columns: the case, ``chosen``,
    ``fastest``, ``ratio`` (measured time of the pick / the fastest's, 1 when
    right), ``good`` (ratio <= 1 + tolerance) and ``calibrated_size`` (True
    when the size was also in the calibration, which a fair validation avoids).
    """
    cal, val = _as_frame(calibration), _as_frame(validation)
    models = fit_models(cal)
    cal_sizes = set(map(tuple, cal[CASE_SIZE].drop_duplicates().to_numpy().tolist()))
    ok = val[val["status"] == "ok"]
    calibrated = {m.backend for m in models}
    ok = ok[ok["backend"].isin(calibrated)]
    keys = ["op", "mode", "dtype", "threads"] + CASE_SIZE
    measured = ok.groupby(keys + ["backend"], as_index=False)["median_s"].median()
    records = []
    for key, part in measured.groupby(keys, sort=True):
        case = dict(zip(keys, key))
        ranked = predict_times(models, row_problem(case), int(case["threads"]))
        ranked = ranked[ranked["backend"].isin(set(part["backend"]))]
        if ranked.empty:
            continue
        times = part.set_index("backend")["median_s"]
        chosen, fastest = ranked["backend"].iloc[0], times.idxmin()
        ratio = float(times[chosen] / times[fastest])
        records.append(
            dict(
                case,
                chosen=chosen,
                fastest=fastest,
                predicted_s=float(ranked["predicted_s"].iloc[0]),
                chosen_s=float(times[chosen]),
                fastest_s=float(times[fastest]),
                ratio=ratio,
                good=bool(ratio <= 1.0 + tolerance),
                calibrated_size=tuple(int(case[c]) for c in CASE_SIZE) in cal_sizes,
            )
        )
    return pd.DataFrame.from_records(records)


def choice_quality(scores: pd.DataFrame) -> float:
    """Fraction of validation cases where the pick was the fastest or within the tolerance."""
    return float(np.mean(scores["good"])) if len(scores) else float("nan")
