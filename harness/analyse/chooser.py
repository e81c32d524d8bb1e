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

import pandas as pd

from kernels import Problem, get_backend

from ..errors import UsageError, allowed_list
from ..machine.fingerprint import differences, machines_of
from ..plan import configs
from ..plan.config import parse_config
from ..store.tables import load_results
from .derived import cost_of_calls, linear_size
from .models import CostModel, fit_models

# Predictions closer than this (relative) are within the models' uncertainty: measure instead of guessing.
MEASURE_WITHIN = 0.15


def _match_score(model: CostModel, problem: Problem) -> tuple[int, int]:
    return (model.mode == problem.mode, model.op == problem.op)


def _select_models(models: list[CostModel], problem: Problem, threads: int | None) -> tuple[list[CostModel], str]:
    """Per backend the model closest to the query: same dtype and threads, same mode and op if calibrated."""
    layer = (problem.batch, problem.in_channels, problem.out_channels, problem.pass_)
    same_dtype = [m for m in models if m.dtype == problem.dtype and m.layer == layer]
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


def predict_times(
    models: list[CostModel], problem: Problem, threads: int | None = None, calls: int | None = None
) -> pd.DataFrame:
    """Predicted seconds of every calibrated backend for ``problem``, fastest first.

    Columns: ``backend``, ``method``, ``device``, ``predicted_s`` (per call: model
    with local correction), ``model_s`` (the two-parameter model alone),
    ``one_time_s`` (setup and first-call excess at the nearest calibrated size),
    ``total_s`` (``calls`` calls plus the one-time cost; per call when ``calls``
    is None), ``threads`` and ``note`` (set when the calibration did not have the
    query's op or mode). Ranked by ``total_s``.
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
                one_time_s=m.predict_one_time(query),
                threads=int(m.threads),
                note=note,
            )
        )
    columns = ["backend", "method", "device", "predicted_s", "model_s", "one_time_s", "total_s", "threads", "note"]
    table = pd.DataFrame.from_records(records, columns=[c for c in columns if c != "total_s"])
    per_call = table["predicted_s"]
    table["total_s"] = cost_of_calls(per_call, table["one_time_s"], calls)
    return table[columns].sort_values("total_s", kind="stable").reset_index(drop=True)


def too_close_to_call(ranked: pd.DataFrame) -> bool:
    """Whether the two fastest predictions are within :data:`MEASURE_WITHIN` of each other."""
    if len(ranked) < 2:
        return False
    first, second = ranked["total_s"].iloc[0], ranked["total_s"].iloc[1]
    return bool(second <= first * (1.0 + MEASURE_WITHIN))


def choose(
    image_shape,
    kernel_shape,
    *,
    results: str | Path | pd.DataFrame,
    dtype: str = "float32",
    op: str = "corr",
    mode: str = "same",
    threads: int | None = None,
    calls: int | None = None,
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
    calls : int, optional
        How many calls the user will make at this size: one-time costs (compile,
        plan, first call) are then included. Per call alone when None.

    Returns
    -------
    pandas.DataFrame
        See :func:`predict_times`.
    """
    frame = results_frame(results)
    try:
        problem = Problem(op, mode, image_shape, kernel_shape, dtype, threads or 1)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    models = fit_models(frame)
    if not models:
        raise UsageError("the calibration has no successful rows to fit")
    table = predict_times(models, problem, threads, calls)
    if table.empty:
        raise UsageError("no calibrated backend supports this problem")
    return table


def outside_calibration(results, image_shape, kernel_shape) -> str:
    """A note when the query lies outside the calibrated image or kernel sizes (the models then extrapolate)."""
    ok = results_frame(results)
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


def machine_rows(
    frame: pd.DataFrame, meta: dict, here: tuple[str, dict], machine: str | None = None, where: str = "calibration"
) -> tuple[pd.DataFrame, str]:
    """The calibration rows that may serve a query on the machine ``here`` (its id and fingerprint).

    A calibration measures one machine; its models say nothing about another.
    With ``machine`` (the user named one, ``--machine``), that machine's rows
    are used wherever the query runs. Otherwise the rows of machines whose
    fingerprint matches ``here`` on every field both know; rows that name no
    machine are used with a note.

    Returns
    -------
    (pandas.DataFrame, str)
        The rows, and a note ('' when there is nothing to say).

    Raises
    ------
    UsageError
        When the calibration holds only other machines, or not the one named.
    """
    present = sorted(frame["machine"].dropna().unique()) if "machine" in frame else []
    if machine is not None:
        if machine not in present:
            raise UsageError(f"{where} has no rows of machine {machine!r}; it holds {allowed_list(present)}")
        note = "" if machine == here[0] else f"using the calibration of machine {machine}, not this one ({here[0]})"
        return frame[frame["machine"] == machine], note
    if not present:
        return frame, f"{where} does not record which machine measured it"
    prints = {m: e.get("fingerprint", {}) for m, e in machines_of(meta).items()}
    matching = [m for m in present if m == here[0] or (m in prints and not differences(prints[m], here[1]))]
    if matching:
        return frame[frame["machine"].isin(matching) | frame["machine"].isna()], ""
    other = present[0]
    what = "; ".join(differences(prints[other], here[1])) if other in prints else "no fingerprint recorded"
    raise UsageError(
        f"{where} was measured on another machine ({other}: {what}); this is {here[0]}. Calibrate here "
        f"(convbench run configs/calibrate.toml), or pass --machine {other} to use it anyway"
    )


def results_frame(results) -> pd.DataFrame:
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
