import numpy as np
import pandas as pd
import pytest

from harness.analyse.derived import add_rates, direct_flops, linear_size
from kernels import Problem


def _row(**values):
    base = dict(op="corr", mode="same", image_h=64, image_w=64, kernel_h=3, kernel_w=3, median_s=1e-3)
    return {**base, **values}


def test_peak_fraction_uses_the_rows_dtype_and_threads():
    frame = pd.DataFrame(
        [
            _row(device="cpu", dtype="float32", threads=2),
            _row(device="cpu", dtype="float64", threads=1),
            _row(device="cuda", dtype="float32", threads=2),
            _row(device="cpu", dtype="float32", threads=8),
        ]
    )
    add_rates(frame, {"float32": {"2": 200.0}, "float64": {"1": 40.0}})
    gflops = 2 * 9 * 64 * 64 / 1e-3 / 1e9
    assert np.allclose(frame["gflops"], gflops)
    assert np.allclose(frame["peak_fraction"][:2], [gflops / 200.0, gflops / 40.0])
    assert frame["peak_fraction"][2:].isna().all()  # no CPU peak for a GPU row, nor for unmeasured threads


def test_gpu_rows_use_the_gpu_rate_of_their_dtype():
    frame = pd.DataFrame([_row(device="cuda", dtype="float64", threads=1)])
    add_rates(frame, {}, {"fp32_gflops": 1000.0, "fp64_gflops": 100.0})
    assert np.isclose(frame["peak_fraction"][0], frame["gflops"][0] / 100.0)


def test_untimed_rows_get_no_rate():
    frame = pd.DataFrame([_row(device="cpu", dtype="float32", threads=1, median_s=None)])
    add_rates(frame, {"float32": {"1": 10.0}})
    assert frame[["gflops", "peak_fraction"]].isna().all(axis=None)


def test_direct_flops_agree_with_the_problem_for_every_mode():
    rows = []
    for mode in ("full", "same", "valid"):
        rows.append(_row(mode=mode, image_h=20, image_w=31, kernel_h=4, kernel_w=7))
    frame = pd.DataFrame(rows)
    want = [Problem("corr", m, (20, 31), (4, 7)).direct_flops for m in ("full", "same", "valid")]
    assert list(direct_flops(frame)) == want


def test_linear_size_of_square_rectangular_and_1d_shapes():
    assert list(linear_size([8, 4, 1], [8, 16, 100])) == [8.0, 8.0, 100.0]


def test_one_time_cost_is_setup_plus_the_first_calls_excess():
    from harness.analyse.derived import one_time_seconds

    frame = pd.DataFrame(
        [
            dict(plan_s=0.5, alloc_s=0.1, first_call_s=0.004, median_s=0.001),
            dict(compile_s=None, first_call_s=0.0005, median_s=0.001),  # a first call faster than the median
        ]
    )
    assert list(one_time_seconds(frame)) == pytest.approx([0.603, 0.0])


def test_break_even_calls_per_pair():
    from harness.analyse.break_even import break_even_calls

    rows = [
        dict(backend="fast", median_s=1e-3, plan_s=0.1, first_call_s=1e-3),
        dict(backend="cheap", median_s=2e-3, plan_s=0.0, first_call_s=2e-3),
    ]
    case = dict(op="corr", mode="same", image_h=8, image_w=8, kernel_h=3, kernel_w=3, dtype="float32",
                threads=1, batch=1, in_channels=1, out_channels=1, dist="uniform", seed=0, status="ok")
    case["pass"] = "forward"
    table = break_even_calls(pd.DataFrame([{**case, **r} for r in rows]))
    assert len(table) == 1 and table.loc[0, "faster"] == "fast" and table.loc[0, "cheaper_once"] == "cheap"
    assert table.loc[0, "median_calls"] == pytest.approx(100.0)  # 0.1 s of planning / 1 ms saved per call
