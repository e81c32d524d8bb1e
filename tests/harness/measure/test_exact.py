import math

import numpy as np
import pytest

from harness.measure.case import run_case
from harness.measure.exact import (
    EXACT_BUDGET,
    MIN_SAMPLES,
    dot2,
    exact_error_metrics,
    exact_reference,
    sample_positions,
)
from harness.plan.cases import Case, Timing
from harness.plan.inputs import make_inputs
from kernels import Problem


def test_dot2_survives_catastrophic_cancellation():
    x = np.array([1e16, 1.0, -1e16])
    assert np.dot(x, np.ones(3)) == 0.0  # what naive summation says
    assert dot2(x, np.ones(3)) == 1.0


def test_dot2_recovers_product_rounding_in_float64():
    # (1 + 2^-30)^2 = 1 + 2^-29 + 2^-60: the last term is lost by the product, kept by TwoProduct.
    a = 1.0 + 2.0**-30
    assert dot2([a, -1.0], [a, 1.0 + 2.0**-29]) == 2.0**-60


def test_dot2_matches_fsum_of_exact_float32_products():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(500) * 10.0 ** rng.integers(-8, 8, 500)).astype(np.float32).astype(np.float64)
    y = rng.standard_normal(500).astype(np.float32).astype(np.float64)
    assert dot2(x, y) == math.fsum(x * y)  # float32 products are exact in float64; fsum rounds once


def test_exact_reference_on_integer_inputs():
    p = Problem("conv", "valid", 5, 2, "float64")
    exact = exact_reference(p, np.array([2.0, 1, 3, 5, 4]), np.array([1.0, -1]))
    assert list(exact["values"]) == [-1.0, 2.0, 2.0, -1.0]
    assert list(exact["scale"]) == [3.0, 4.0, 8.0, 9.0]  # sum |f| |g| per position


def test_small_cases_use_every_position_large_ones_a_sample_with_edges():
    rows, cols = sample_positions((10, 12), taps=9)
    assert rows.size == 120
    rows, cols = sample_positions((1024, 1024), taps=961, seed=1)
    assert MIN_SAMPLES <= rows.size <= EXACT_BUDGET // 961 + 4 * 64 + 4
    corners = {(0, 0), (0, 1023), (1023, 0), (1023, 1023)}
    assert corners <= set(zip(rows.tolist(), cols.tolist()))
    assert (rows == 0).sum() >= 64 and (cols == 1023).sum() >= 64


def test_metrics_on_a_constructed_error():
    exact = {
        "rows": np.array([0, 0]),
        "cols": np.array([0, 1]),
        "values": np.array([3.0, 4.0]),
        "scale": np.array([6.0, 8.0]),
    }
    eps = np.finfo(np.float32).eps
    got = np.array([[3.0, 4.0 + 8.0 * 5 * eps]])  # 5 eps of the scale at the second position
    m = exact_error_metrics(got, exact, "float32")
    assert m["err_max_scaled"] == pytest.approx(5.0)
    assert m["err_max_abs"] == pytest.approx(40 * eps)
    assert m["err_rel_l2"] == pytest.approx(40 * eps / 5.0)
    assert m["err_positions"] == 2


def test_hdr_inputs_span_many_decades():
    image, kernel = make_inputs(Case(Problem("corr", "same", (64, 64), (5, 5), "float64"), dist="hdr"))
    assert image.min() > 0 and math.log10(image.max() / image.min()) > 7
    assert kernel.min() > 0 and kernel.sum() == pytest.approx(1.0)


def test_rows_carry_exact_error_columns():
    case = Case(Problem("corr", "same", (48, 48), (5, 5), "float32", 1))
    row = run_case(case, ["numba-cpu"], Timing(min_sample_seconds=0.0))[0]
    assert row["status"] == "ok" and row["err_positions"] == 48 * 48
    assert 0 <= row["err_max_scaled"] < 25  # direct float32 sums of 25 terms: a few eps at most
