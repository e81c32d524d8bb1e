import math

from harness.machine.peaks import measure_matmul_gflops


def test_matmul_rate_is_positive_and_finite():
    rate = measure_matmul_gflops("float64", threads=1, size=128, repeats=2)
    assert rate > 0 and math.isfinite(rate)
