import math

import numpy as np
import pandas as pd
import pytest

from harness import crossovers, fit_crossover_constant


def _rows(image_n, kernels, direct_rate, fft_time):
    rows = []
    for n in kernels:
        common = dict(
            op="corr",
            mode="same",
            dtype="float32",
            threads=1,
            dist="uniform",
            status="ok",
            image_h=image_n,
            image_w=image_n,
            kernel_h=n,
            kernel_w=n,
        )
        rows.append(dict(common, backend="d", method="direct", median_s=direct_rate * n * n))
        rows.append(dict(common, backend="f", method="fft", median_s=fft_time))
    return rows


def test_crossover_is_first_kernel_where_fft_wins_with_interpolation():
    frame = pd.DataFrame(_rows(64, [3, 5, 7, 9], direct_rate=1.0, fft_time=40.0))
    row = crossovers(frame).iloc[0]
    assert row["crossover_n"] == 7 and row["bracketed"]
    assert row["ratio_below"] == pytest.approx(40 / 25) and row["ratio_above"] == pytest.approx(40 / 49)
    lo, hi = math.log(40 / 25), math.log(40 / 49)
    assert row["crossover_interp"] == pytest.approx(5 + 2 * lo / (lo - hi))
    assert (row["fft_backend"], row["direct_backend"]) == ("f", "d")


def test_no_crossover_in_range_is_reported():
    never = crossovers(pd.DataFrame(_rows(64, [3, 5], 1.0, 1000.0))).iloc[0]
    assert np.isnan(never["crossover_n"]) and "direct wins" in never["note"]
    always = crossovers(pd.DataFrame(_rows(64, [3, 5], 1.0, 0.1))).iloc[0]
    assert always["crossover_n"] == 3 and not always["bracketed"] and "FFT wins" in always["note"]


def test_wrong_rows_never_count():
    rows = _rows(64, [3, 5, 7], 1.0, 20.0)
    for r in rows:
        if r["method"] == "fft" and r["kernel_h"] == 5:
            r["status"], r["median_s"] = "wrong", 1e-9
    assert crossovers(pd.DataFrame(rows)).iloc[0]["crossover_n"] == 7


def test_fit_recovers_the_constant():
    image_n = np.array([64, 256, 1024])
    c = 7.0
    assert fit_crossover_constant(image_n, np.sqrt(c * np.log2(image_n))) == pytest.approx(c)
    assert math.isnan(fit_crossover_constant([64], [np.nan]))
