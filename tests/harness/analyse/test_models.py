import math

import numpy as np
import pandas as pd
import pytest

from harness.analyse.crossovers import crossover_table, crossovers, fit_crossover_constant, predicted_crossover
from harness.analyse.derived import linear_size
from harness.analyse.models import complexity_fit, fit_models, model_table, row_work
from kernels import Problem
from tests.harness.synthetic import DIRECT_A, DIRECT_B, FFT_C, FFT_D, direct_law, fft_law, synthetic_run


def _rows(image_n, kernels, direct_rate, fft_time):
    rows = []
    for n in kernels:
        common = dict(
            op="corr",
            mode="same",
            dtype="float32",
            threads=1,
            dist="uniform",
            device="cpu",
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


def test_fits_recover_the_cost_laws_and_name_their_complexity():
    frame = synthetic_run([64, 128, 256, 512], [3, 5, 9, 15, 31])
    models = {m.backend: m for m in fit_models(frame)}
    direct, fft = models["numba-cpu"], models["fftw"]
    assert (direct.slope, direct.intercept) == pytest.approx((DIRECT_A, DIRECT_B), rel=1e-6)
    assert (fft.slope, fft.intercept) == pytest.approx((FFT_C, FFT_D), rel=1e-6)
    assert direct.rms_rel < 1e-9 and direct.r2_log == pytest.approx(1.0)
    assert direct.complexity == "n^2 N^2"
    table = model_table(list(models.values()))
    assert set(table["formula"]) == {"a * n^2 * outputs + b", "c * P log2 P + d"}
    problem = Problem("corr", "same", (200, 200), (7, 7), "float32", 2)
    assert direct.predict(problem) == pytest.approx(direct_law(problem))
    assert fft.predict(problem) == pytest.approx(fft_law(problem))


def test_fft_work_counts_every_overlap_add_block():
    frame = synthetic_run([256], [7], laws={"fftw-oa": ("fft", lambda p: fft_law(p, "fftw-oa"))})
    row = frame.iloc[0]
    assert row["fft_blocks"] > 1
    size = row["fft_h"] * row["fft_w"]
    assert row_work(frame)[0] == pytest.approx(row["fft_blocks"] * size * math.log2(size))


def test_complexity_check_prefers_the_generating_family():
    frame = synthetic_run([64, 128, 256, 512, 1024], [3, 7, 15])
    frame["median_s"] = 1e-9 * frame["image_h"] ** 2 * np.log2(frame["image_h"] ** 2)
    fits = complexity_fit(frame)
    assert min(fits, key=fits.get) == "N^2 log N" and fits["N^2 log N"] < 1e-9
    frame["median_s"] = 1e-9 * frame["kernel_h"] ** 2 * frame["image_h"] ** 2
    fits = complexity_fit(frame)
    assert min(fits, key=fits.get) == "n^2 N^2"


def test_negative_intercept_is_dropped_not_fitted():
    frame = synthetic_run([64, 128, 256], [3, 9, 15])
    direct = frame["method"] == "direct"
    frame.loc[direct, "median_s"] = DIRECT_A * frame.loc[direct, "kernel_h"] ** 2 * frame.loc[direct, "image_h"] ** 2
    frame.loc[direct, "median_s"] -= 1e-9  # a law no non-negative intercept can reach exactly
    model = next(m for m in fit_models(frame) if m.method == "direct")
    assert model.intercept >= 0 and model.slope > 0


def test_predicted_crossover_matches_the_laws_and_the_measured_one():
    kernels = [3, 5, 7, 9, 11, 15, 21, 31]
    frame = synthetic_run([128, 512], kernels)
    table = crossovers(frame)
    for row in table.to_dict("records"):
        # Scanning the laws themselves at every integer n gives the same answer.
        image = int(row["image_n"])
        ratio = [
            fft_law(Problem("corr", "same", (image, image), (n, n), "float32", 2))
            / direct_law(Problem("corr", "same", (image, image), (n, n), "float32", 2))
            for n in range(3, 32)
        ]
        first = 3 + next(i for i, r in enumerate(ratio) if r < 1)
        assert first - 1 <= row["crossover_predicted"] <= first
        assert row["bracketed"] and abs(row["crossover_predicted"] - row["crossover_interp"]) < 3


def test_predicted_crossover_is_nan_when_models_never_cross():
    frame = synthetic_run([64], [3, 5])
    direct, fft = (sorted(fit_models(frame), key=lambda m: m.method)[i] for i in (0, 1))
    assert math.isnan(predicted_crossover([direct], [fft], (64, 64), (3, 5)))
    assert math.isnan(predicted_crossover([], [fft], (64, 64), (3, 5)))


def test_crossover_table_has_a_row_per_pair_and_image():
    laws = {
        "numba-cpu": ("direct", direct_law),
        "opencv": ("direct", lambda p: 2 * direct_law(p)),
        "fftw": ("fft", fft_law),
    }
    frame = synthetic_run([128, 256], [3, 7, 15, 31, 63], laws=laws)
    table = crossover_table(frame)
    assert len(table) == 2 * 2
    assert set(zip(table["direct_backend"], table["fft_backend"])) == {("numba-cpu", "fftw"), ("opencv", "fftw")}
    slow = table[table["direct_backend"] == "opencv"].set_index("image_n")["crossover_interp"]
    fast = table[table["direct_backend"] == "numba-cpu"].set_index("image_n")["crossover_interp"]
    assert (slow < fast).all()  # a slower direct loop moves the crossover to smaller kernels


def test_linear_size_of_1d_signals_is_their_length():
    assert linear_size(1, 4096) == 4096 and linear_size(64, 64) == 64


def test_tables_from_before_fft_blocks_ask_the_transform_plan():
    frame = synthetic_run([256], [7, 31], laws={"fftw-oa": ("fft", lambda p: fft_law(p, "fftw-oa"))})
    assert row_work(frame.drop(columns="fft_blocks")) == pytest.approx(row_work(frame))


def test_a_crossover_out_of_range_names_the_kernel_sizes_it_was_looked_for_over():
    """A sweep cut short at 15 must not read as 'direct wins at every kernel size'."""
    import numpy as np

    from harness.analyse.crossovers import _crossing

    n = np.array([3.0, 5.0, 9.0, 15.0])
    assert _crossing(n, np.array([9.0, 4.0, 2.0, 1.5]))["note"].endswith("at every kernel size measured (3-15)")
    fft_wins = _crossing(n, np.array([0.9, 0.5, 0.4, 0.2]))["note"]
    assert fft_wins == "none in range: FFT wins at every kernel size measured (3-15)"
    assert _crossing(n, np.array([2.0, 0.5, 0.4, 0.2]))["note"] == ""
