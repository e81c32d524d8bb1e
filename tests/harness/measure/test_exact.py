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
    sample_layer_positions,
    sample_positions,
)
from harness.plan.cases import Case, Timing
from harness.plan.inputs import make_inputs
from kernels import Problem
from kernels._layers import layer_inputs, output_shape, reference_layer


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
        "index": (np.array([0, 0]), np.array([0, 1])),
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


@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "same"), ("conv", "full"), ("conv", "valid")])
def test_exact_layer_reference_at_every_position_of_a_small_layer(pass_, op, mode):
    # Integer inputs: every sum is exact in float64, so the definition's float64 reference is exact too.
    problem = Problem(op, mode, (6, 5), (3, 2), "float64", 1, 2, 3, 4, pass_)
    rng = np.random.default_rng(0)
    first, second = (rng.integers(-9, 10, a.shape).astype(float) for a in layer_inputs(problem))
    exact = exact_reference(problem, first, second)
    expected = reference_layer(problem, first, second)
    assert exact["values"].size == expected.size  # small: every position
    assert np.array_equal(exact["values"], expected[exact["index"]])
    assert np.all(exact["scale"] >= np.abs(exact["values"]))


def test_exact_layer_reference_beats_float64_rounding_of_a_channel_sum():
    # Across channels: +big, the wanted small term, -big. A float64 channel sum loses the small term.
    problem = Problem("corr", "valid", (1, 1), (1, 1), "float64", 1, 1, 3, 1)
    x = np.array([1e16, 1.0, -1e16]).reshape(1, 3, 1, 1)
    w = np.ones((1, 3, 1, 1))
    assert reference_layer(problem, x, w).item() == 0.0
    assert exact_reference(problem, x, w)["values"].item() == 1.0


def test_large_layers_get_a_sample_with_the_corners_of_the_first_and_last_map():
    shape = (8, 512, 14, 14)
    index = sample_layer_positions(shape, terms=4608, seed=2)
    assert MIN_SAMPLES <= len(index) <= EXACT_BUDGET // 4608 + 8
    rows = set(map(tuple, index.tolist()))
    assert {(0, 0, 0, 0), (0, 0, 13, 13), (7, 511, 0, 13), (7, 511, 13, 0)} <= rows
    assert np.all(index < np.array(shape)) and np.all(index >= 0)


def test_fft_layer_errors_against_the_exact_reference_are_small_in_eps():
    from kernels._layer_fft import FftLayer

    problem = Problem("corr", "same", (12, 12), (5, 5), "float32", 1, 2, 8, 4, "backward-data")
    first, second = layer_inputs(problem, seed=3)
    prepared = FftLayer(problem, first, second, "FFTW_ESTIMATE")
    prepared()
    metrics = exact_error_metrics(prepared.result(), exact_reference(problem, first, second), "float32")
    assert metrics["err_positions"] == math.prod(output_shape(problem))
    assert 0 < metrics["err_max_scaled"] < 50  # rounding of an FFT of ~8x8 tiles, in eps of sum |f||g|
