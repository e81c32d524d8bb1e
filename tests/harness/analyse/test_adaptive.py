"""Adaptive calibration: the next sizes are where the chooser's top two predictions are closest."""

import math

import pandas as pd
import pytest

from harness.analyse.adaptive import COARSE_IMAGES, COARSE_KERNELS, MIN_SPACING, unsure_sizes
from harness.analyse.chooser import choose
from kernels import Problem
from tests.harness.synthetic import direct_law, fft_law, synthetic_run


def _gap(image: int, kernel: int) -> float:
    problem = Problem("corr", "same", (image, image), (kernel, kernel), "float32", 2)
    a, b = direct_law(problem), fft_law(problem)
    return max(a, b) / min(a, b) - 1


def test_next_sizes_sit_on_the_crossover_and_spread_out():
    coarse = synthetic_run(COARSE_IMAGES, COARSE_KERNELS)
    sizes = unsure_sizes(coarse, op="corr", mode="same", dtype="float32", limit=6)
    assert 0 < len(sizes) <= 6
    measured = set(zip(coarse["image_h"], coarse["kernel_h"]))
    assert not measured & set(sizes)
    # Closer to the true crossover than the coarse grid's sizes are, on average.
    assert sum(map(lambda s: _gap(*s), sizes)) / len(sizes) < sum(_gap(i, k) for i, k in measured) / len(measured)
    for a in sizes:
        for b in sizes:
            if a != b:
                assert max(abs(math.log2(a[0] / b[0])), abs(math.log2(a[1] / b[1]))) >= MIN_SPACING


def _stepped_direct(problem: Problem) -> float:
    # A direct loop that gets 1.8x slower per multiply-add past 12-wide kernels (registers run out): a
    # feature two model parameters cannot capture, between the coarse grid's kernels 9 and 21.
    return direct_law(problem) * (1.8 if problem.kernel_shape[0] > 12 else 1.0)


def test_rounds_make_the_chooser_right_where_the_coarse_grid_is_wrong():
    laws = {"numba-cpu": ("direct", _stepped_direct), "fftw": ("fft", fft_law)}
    coarse = synthetic_run(COARSE_IMAGES, COARSE_KERNELS, laws=laws)
    frame = coarse
    for _ in range(3):
        sizes = unsure_sizes(frame, op="corr", mode="same", dtype="float32", limit=8)
        if not sizes:
            break
        frame = pd.concat([frame, *(synthetic_run([i], [k], laws=laws) for i, k in sizes)], ignore_index=True)
    queries = [(i, k) for i in (80, 160, 320, 640, 1280) for k in (4, 6, 10, 12, 14, 16, 18, 24, 30, 40)]

    def regret(calibration) -> float:
        worst = 1.0
        for i, k in queries:
            problem = Problem("corr", "same", (i, i), (k, k), "float32", 2)
            times = {"numba-cpu": _stepped_direct(problem), "fftw": fft_law(problem)}
            pick = choose((i, i), (k, k), results=calibration, threads=2)["backend"].iloc[0]
            worst = max(worst, times[pick] / min(times.values()))
        return worst

    assert regret(frame) < regret(coarse)


def test_nothing_left_to_refine_when_one_backend_always_wins():
    laws = {"numba-cpu": ("direct", direct_law), "fftw": ("fft", lambda p: 100 * fft_law(p))}
    frame = synthetic_run(COARSE_IMAGES, COARSE_KERNELS, laws=laws)
    assert unsure_sizes(frame, op="corr", mode="same", dtype="float32", limit=8) == []


@pytest.mark.parametrize("limit", [1, 3])
def test_limit_is_respected(limit):
    frame = synthetic_run(COARSE_IMAGES, COARSE_KERNELS)
    assert len(unsure_sizes(frame, op="corr", mode="same", dtype="float32", limit=limit)) == limit
