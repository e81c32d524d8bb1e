"""Layer cost models, winners, the held-out chooser and the crossover surface, on tables from known laws."""

import math

import pandas as pd
import pytest

from harness.analyse.layer_models import (
    crossover_surface,
    fit_layer_models,
    held_out_choices,
    layer_bytes,
    layer_rows,
    layer_winners,
    layer_work,
    regret_summary,
    winograd_tile,
)
from kernels import Problem
from kernels._layer_fft import work_units

# Layers: (image, kernel, C = K); two batches, forward only.
LAYERS = [(28, 3, 32), (28, 3, 128), (14, 5, 64), (14, 7, 256), (56, 1, 64), (28, 9, 128)]
DIRECT_SLOPE, FFT_SLOPE, FFT_INTERCEPT = 1e-11, 2e-10, 1e-4


def _row(backend, method, problem, seconds, options=""):
    return {
        "backend": backend, "method": method, "device": "cpu", "op": problem.op, "mode": problem.mode,
        "dtype": problem.dtype, "threads": problem.threads, "image_h": problem.image_shape[0],
        "image_w": problem.image_shape[1], "kernel_h": problem.kernel_shape[0], "kernel_w": problem.kernel_shape[1],
        "batch": problem.batch, "in_channels": problem.in_channels, "out_channels": problem.out_channels,
        "pass": problem.pass_, "status": "ok", "median_s": seconds, "options": options,
    }  # fmt: skip


def _table() -> pd.DataFrame:
    rows = []
    for image, n, c in LAYERS:
        for batch in (1, 8):
            problem = Problem("corr", "same", (image, image), (n, n), "float32", 2, batch, c, c)
            rows.append(_row("numba-cpu", "direct", problem, DIRECT_SLOPE * problem.direct_flops / 2))
            rows.append(_row("fftw", "fft", problem, FFT_SLOPE * work_units(problem) + FFT_INTERCEPT))
    single = Problem("corr", "same", (28, 28), (3, 3), "float32", 2)
    rows.append(_row("numba-cpu", "direct", single, 1.0))  # a single image: not a layer, left out
    return pd.DataFrame(rows)


def test_layer_rows_keep_layers_only():
    rows = layer_rows(_table())
    assert len(rows) == 2 * 2 * len(LAYERS)
    assert not ((rows["in_channels"] == 1) & (rows["batch"] == 1)).any()


def test_models_recover_the_laws_across_channels():
    models = {m.backend: m for m in fit_layer_models(layer_rows(_table()))}
    assert models["numba-cpu"].slope == pytest.approx(DIRECT_SLOPE, rel=1e-9)
    assert models["fftw"].slope == pytest.approx(FFT_SLOPE, rel=1e-9)
    assert models["fftw"].intercept == pytest.approx(FFT_INTERCEPT, rel=1e-6)
    assert models["numba-cpu"].points == 12 and models["numba-cpu"].rms_rel < 1e-9


def test_a_backend_bound_by_memory_gets_a_per_byte_term():
    # A backend whose time is its bytes (im2col's columns written and read, say), not its multiply-adds:
    # the work term alone cannot fit it across layers; the bytes term recovers it exactly.
    rows = []
    for image, n, c in LAYERS:
        for batch in (1, 8):
            problem = Problem("corr", "same", (image, image), (n, n), "float32", 2, batch, c, c)
            rows.append(_row("im2col-gemm", "gemm", problem, 2e-10 * layer_bytes("gemm", problem) + 5e-5))
    (model,) = fit_layer_models(layer_rows(pd.DataFrame(rows)))
    assert model.per_byte == pytest.approx(2e-10, rel=1e-6) and model.intercept == pytest.approx(5e-5, rel=1e-4)
    assert model.slope == 0 and model.rms_rel < 1e-9
    problem = Problem("corr", "same", (28, 28), (3, 3), "float32", 2, 8, 64, 64)
    columns = 2 * 8 * 64 * 9 * 28 * 28  # written and read, beside the inputs and output
    assert layer_bytes("gemm", problem) == 4 * (8 * 64 * 28 * 28 * 2 + 64 * 64 * 9 + columns)


def test_held_out_layers_are_chosen_by_models_that_never_saw_them():
    choices = held_out_choices(layer_rows(_table()))
    assert len(choices) == 12  # every layer and batch, each predicted from the other five layers
    assert (choices["chosen"] == choices["fastest"]).all()
    summary = regret_summary(choices)
    assert summary["max"] == 1.0 and summary["fastest_share"] == 1.0


def test_a_chooser_that_picks_wrong_shows_its_regret():
    table = _table()
    # On one layer and batch, the backend its law makes fastest is measured 100x slower. Models fitted on the
    # other layers still pick it there; the regret is its measured time over the other backend's.
    case = (table["kernel_h"] == 5) & (table["batch"] == 8)
    law_winner = table[case].sort_values("median_s").index[0]
    table.loc[law_winner, "median_s"] *= 100
    choices = held_out_choices(layer_rows(table)).set_index(["kernel_h", "batch"])
    times = table[case].set_index("backend")["median_s"]
    assert choices.loc[(5, 8), "chosen"] == table.loc[law_winner, "backend"]
    assert choices.loc[(5, 8), "regret"] == pytest.approx(times.max() / times.min())
    assert (choices.drop(index=(5, 8))["regret"] == 1.0).all()


def test_winners_name_the_fastest_and_its_margin():
    winners = layer_winners(layer_rows(_table()))
    for record in winners.to_dict("records"):
        image, kernel = (record["image_h"], record["image_w"]), (record["kernel_h"], record["kernel_w"])
        problem = Problem("corr", "same", image, kernel, "float32", 2, record["batch"], record["in_channels"],
                          record["out_channels"])  # fmt: skip
        direct = DIRECT_SLOPE * problem.direct_flops / 2
        fft = FFT_SLOPE * work_units(problem) + FFT_INTERCEPT
        assert record["winner"] == ("numba-cpu" if direct < fft else "fftw")
        assert record["margin"] == pytest.approx(max(direct, fft) / min(direct, fft))


def test_crossover_surface_follows_the_models_and_winograd_only_at_3x3():
    rows = layer_rows(_table())
    models = fit_layer_models(rows)
    kind = {"op": "corr", "mode": "same", "dtype": "float32", "threads": 2}
    surface = crossover_surface(models, 28, 8, "forward", (1, 3, 9), (8, 256), **kind)
    assert len(surface) == 6
    for cell in surface.to_dict("records"):
        n, c = cell["kernel_n"], cell["channels"]
        problem = Problem("corr", "same", (28, 28), (n, n), "float32", 2, 8, c, c)
        direct = DIRECT_SLOPE * problem.direct_flops / 2
        fft = FFT_SLOPE * work_units(problem) + FFT_INTERCEPT
        assert cell["winner"] == ("numba-cpu" if direct < fft else "fftw")
    assert set(surface["winner"]) == {"numba-cpu", "fftw"}  # the table's laws do cross inside this grid


def test_layer_work_of_each_method():
    problem = Problem("corr", "same", (28, 28), (3, 3), "float32", 2, 2, 16, 32)
    assert layer_work("direct", problem) == 2 * 16 * 32 * 9 * 28 * 28
    assert layer_work("gemm", problem) == layer_work("direct", problem)
    tiles = 2 * math.ceil(28 / 4) ** 2
    assert layer_work("winograd", problem, "filters=per-call, tile=4") == (
        36 * tiles * 16 * 32 + 216 * tiles * 48 + 3 * 36 * 16 * 32
    )
    assert winograd_tile("filters=once, tile=2") == 2 and winograd_tile("") == 4
