import numpy as np
import pandas as pd

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
