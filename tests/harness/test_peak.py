import math

import pandas as pd

from harness.peak import add_peak_fraction, measure_matmul_gflops


def test_matmul_rate_is_positive_and_finite():
    rate = measure_matmul_gflops("float64", threads=1, size=128, repeats=2)
    assert rate > 0 and math.isfinite(rate)


def test_peak_fraction_uses_the_rows_dtype_and_threads():
    frame = pd.DataFrame(
        [
            dict(device="cpu", dtype="float32", threads=2, gflops=50.0),
            dict(device="cpu", dtype="float64", threads=1, gflops=10.0),
            dict(device="cuda", dtype="float32", threads=2, gflops=50.0),
            dict(device="cpu", dtype="float32", threads=8, gflops=50.0),
        ]
    )
    add_peak_fraction(frame, {"float32": {"2": 200.0}, "float64": {"1": 40.0}})
    assert list(frame["peak_fraction"][:2]) == [0.25, 0.25]
    assert frame["peak_fraction"][2:].isna().all()  # no CPU peak for a GPU row, nor for unmeasured threads
