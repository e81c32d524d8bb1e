import numpy as np
import pytest

from harness.measure.visits import pool_visits
from harness.plan.cases import Case
from kernels import Problem

IDENTITY = Case(Problem("corr", "same", (64, 64), (5, 5), "float32", 2)).identity()


def _visit(index, samples, **extra):
    samples = [float(s) for s in samples]
    row = {
        "backend": "fftw",
        **IDENTITY,
        "visit": index,
        "status": "ok",
        "reason": "",
        "plan_s": 0.5 if index == 0 else 0.001,  # later visits find the plan in the wisdom
        "first_call_s": 2e-3,
        "loops": 10 + index,
        "samples_s": samples,
        "median_s": float(np.median(samples)),
        "other_cpu_frac": 0.01 * (index + 1),
        "steal_frac": 0.0,
        "warning": "",
        "err_max_abs": 1e-6,
    }
    return {**row, **extra}


def test_one_visit_passes_through_with_its_median():
    row = _visit(0, [1.0, 2.0, 3.0])
    (pooled,) = pool_visits([row])
    assert pooled["visits"] == 1 and pooled["visit_medians_s"] == [2.0]
    assert "visit" not in pooled and pooled["samples_s"] == [1.0, 2.0, 3.0]


def test_visits_pool_their_samples_and_the_interval_covers_the_drift_between_them():
    # Each visit is tight (+-0.1 %), but the machine drifted 10 % between them.
    rows = [_visit(i, level * np.array([0.999, 1.0, 1.001, 1.0, 1.0])) for i, level in enumerate([1.0, 1.1, 1.05])]
    (pooled,) = pool_visits(rows, ci_target=0.02)
    assert pooled["visits"] == 3 and pooled["n"] == 15 and len(pooled["samples_s"]) == 15
    assert pooled["visit_medians_s"] == pytest.approx([1.0, 1.1, 1.05])
    # The median's interval is that of the visit medians (with 3, their range), not the
    # +-0.1 % of the pooled samples, which would call the drift a known median.
    assert (pooled["ci_low_s"], pooled["ci_high_s"]) == pytest.approx((1.0, 1.1))
    assert "median known to +-4.8% after 3 visits (target 2%)" in pooled["warning"]
    # One-time costs and errors are the first visit's; noise the worst visit's; loops the fewest.
    assert pooled["plan_s"] == 0.5 and pooled["loops"] == 10 and pooled["other_cpu_frac"] == 0.03


def test_other_warnings_survive_pooling_with_their_visit_and_timing_ones_are_recomputed():
    rows = [
        _visit(0, [1.0] * 5, warning="samples shorter than 1 ms"),
        _visit(1, [1.0] * 5, warning="machine not quiet: other processes used 30% of the cores"),
    ]
    (pooled,) = pool_visits(rows)
    assert pooled["warning"] == "visit 2: machine not quiet: other processes used 30% of the cores"


def test_a_failed_visit_stands_for_the_row_and_names_itself():
    rows = [_visit(0, [1.0] * 5), _visit(1, [1.0] * 5, status="error", reason="MemoryError: "), _visit(2, [1.0] * 5)]
    (pooled,) = pool_visits(rows)
    assert pooled["status"] == "error" and pooled["reason"] == "visit 2 of 3; MemoryError: "
    assert pooled["visits"] == 3


def test_rows_of_other_backends_and_cases_stay_apart_in_first_seen_order():
    other = Case(Problem("corr", "same", (32, 32), (5, 5), "float32", 2)).identity()
    rows = [
        _visit(0, [1.0] * 5),
        _visit(0, [2.0] * 5, backend="numba-cpu"),
        _visit(0, [3.0] * 5, **other),
        _visit(1, [1.2] * 5),
        _visit(1, [2.2] * 5, backend="numba-cpu"),
    ]
    pooled = pool_visits(rows)
    assert [(r["backend"], r["image_h"], r["visits"]) for r in pooled] == [
        ("fftw", 64, 2),
        ("numba-cpu", 64, 2),
        ("fftw", 32, 1),
    ]
