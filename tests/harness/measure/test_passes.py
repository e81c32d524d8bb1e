import numpy as np
import pytest

from harness.measure.passes import pool_passes
from harness.plan.cases import Case
from kernels import Problem

IDENTITY = Case(Problem("corr", "same", (64, 64), (5, 5), "float32", 2)).identity()


def _pass(index, samples, **extra):
    samples = [float(s) for s in samples]
    row = {
        "backend": "fftw",
        **IDENTITY,
        "pass": index,
        "status": "ok",
        "reason": "",
        "plan_s": 0.5 if index == 0 else 0.001,  # later passes find the plan in the wisdom
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


def test_one_pass_passes_through_with_its_median():
    row = _pass(0, [1.0, 2.0, 3.0])
    (pooled,) = pool_passes([row])
    assert pooled["passes"] == 1 and pooled["pass_medians_s"] == [2.0]
    assert "pass" not in pooled and pooled["samples_s"] == [1.0, 2.0, 3.0]


def test_passes_pool_their_samples_and_the_interval_covers_the_drift_between_them():
    # Each pass is tight (+-0.1 %), but the machine drifted 10 % between them.
    rows = [_pass(i, level * np.array([0.999, 1.0, 1.001, 1.0, 1.0])) for i, level in enumerate([1.0, 1.1, 1.05])]
    (pooled,) = pool_passes(rows, ci_target=0.02)
    assert pooled["passes"] == 3 and pooled["n"] == 15 and len(pooled["samples_s"]) == 15
    assert pooled["pass_medians_s"] == pytest.approx([1.0, 1.1, 1.05])
    # The median's interval is that of the pass medians (with 3, their range), not the
    # +-0.1 % of the pooled samples, which would call the drift a known median.
    assert (pooled["ci_low_s"], pooled["ci_high_s"]) == pytest.approx((1.0, 1.1))
    assert "median known to +-4.8% after 3 passes (target 2%)" in pooled["warning"]
    # One-time costs and errors are the first pass's; noise the worst pass's; loops the fewest.
    assert pooled["plan_s"] == 0.5 and pooled["loops"] == 10 and pooled["other_cpu_frac"] == 0.03


def test_other_warnings_survive_pooling_with_their_pass_and_timing_ones_are_recomputed():
    rows = [
        _pass(0, [1.0] * 5, warning="samples shorter than 1 ms"),
        _pass(1, [1.0] * 5, warning="machine not quiet: other processes used 30% of the cores"),
    ]
    (pooled,) = pool_passes(rows)
    assert pooled["warning"] == "pass 2: machine not quiet: other processes used 30% of the cores"


def test_a_failed_pass_stands_for_the_row_and_names_itself():
    rows = [_pass(0, [1.0] * 5), _pass(1, [1.0] * 5, status="error", reason="MemoryError: "), _pass(2, [1.0] * 5)]
    (pooled,) = pool_passes(rows)
    assert pooled["status"] == "error" and pooled["reason"] == "pass 2 of 3; MemoryError: "
    assert pooled["passes"] == 3


def test_rows_of_other_backends_and_cases_stay_apart_in_first_seen_order():
    other = Case(Problem("corr", "same", (32, 32), (5, 5), "float32", 2)).identity()
    rows = [
        _pass(0, [1.0] * 5),
        _pass(0, [2.0] * 5, backend="numba-cpu"),
        _pass(0, [3.0] * 5, **other),
        _pass(1, [1.2] * 5),
        _pass(1, [2.2] * 5, backend="numba-cpu"),
    ]
    pooled = pool_passes(rows)
    assert [(r["backend"], r["image_h"], r["passes"]) for r in pooled] == [
        ("fftw", 64, 2),
        ("numba-cpu", 64, 2),
        ("fftw", 32, 1),
    ]
