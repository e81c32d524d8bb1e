"""The specialised numba-cpu loops, on sizes large enough to take every path.

Small cases elsewhere take the generic loop; these cover the row blocks and
leftover rows, the leftover kernel-row and kernel-column passes, padded modes
in bands (interior from the image, or every row staged), padded copies and the
folded 1-D path, in both dtypes.
"""

import numpy as np
import pytest

from harness.measure.reference import TOLERANCE, reference
from kernels import Problem, get_backend
from kernels._direct_loops import (
    FOLD_COLS,
    _folds,
    block_sizes,
    generate_source,
    uses_specialised,
)
from kernels._padded import BAND_BYTES, PaddedCorrelation, band_count, band_rows

CASES = [
    ((37, 70), (3, 3)),  # one pass, 4-row blocks plus leftover rows
    ((37, 70), (5, 5)),  # leftover kernel rows (5 = 3 + 2)
    ((44, 70), (7, 7)),  # runtime pass loop plus a leftover row
    ((50, 90), (9, 8)),  # 3-row blocks
    ((33, 80), (4, 6)),  # even sizes
    ((40, 70), (2, 13)),  # two kernel rows, column chunks plus leftover columns
    ((80, 90), (30, 27)),  # row and column chunks plus leftovers of both
    ((120, 200), (35, 40)),  # padded modes: wide edge strips
    ((45, 64), (1, 5)),  # one-row kernel on a 2-D image
]


# Every case in float32; float64 takes the same code with half-width vectors,
# so a few cases cover it (each dtype is a separate compilation).
PARAMS = [(*case, "float32") for case in CASES] + [(*CASES[i], "float64") for i in (1, 3, 7)]
# Column counts around the vector width (16 float32, 8 float64): narrower than
# one vector, one vector plus an overlapping tail, and interiors of whole
# vectors plus a tail between vector-wide edge strips. Kernel shapes already
# compiled above, so these cost no compilation.
PARAMS += [((300, 12), (3, 3), "float32"), ((200, 21), (5, 5), "float32"), ((120, 45), (5, 5), "float64")]


@pytest.mark.parametrize("image_shape, kernel_shape, dtype", PARAMS)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_specialised_paths_match_reference(image_shape, kernel_shape, mode, dtype):
    problem = Problem("corr", mode, image_shape, kernel_shape, dtype, threads=2)
    assert uses_specialised(problem.out_shape, kernel_shape)
    rng = np.random.default_rng(11)
    image = (rng.random(image_shape) - 0.5).astype(dtype)
    kernel = (rng.random(kernel_shape) - 0.5).astype(dtype)
    prepared = get_backend("numba-cpu").prepare(problem, image, kernel)
    prepared()
    want = reference(problem, image, kernel)
    got = prepared.result()
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < TOLERANCE[dtype]


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("op", ["corr", "conv"])
def test_long_1d_signal_is_folded_into_rows(mode, op):
    length = 2 * FOLD_COLS + 123  # folded rows plus a tail
    problem = Problem(op, mode, length, 7, "float64", threads=2)
    if mode == "valid":
        assert _folds(problem.kernel_shape, problem.out_shape)
    rng = np.random.default_rng(5)
    image, kernel = rng.standard_normal(length), rng.standard_normal(7)
    prepared = get_backend("numba-cpu").prepare(problem, image, kernel)
    prepared()
    np.testing.assert_allclose(prepared.result(), reference(problem, image, kernel), atol=1e-10)


def _banded(mode, image_shape, kernel_shape, dtype="float32"):
    return PaddedCorrelation.for_problem(Problem("corr", mode, image_shape, kernel_shape, dtype))


def test_banded_padding_is_chosen_where_the_specialised_loops_run():
    assert _banded("same", (1024, 1024), (3, 3)) is not None
    assert _banded("full", (40, 900), (41, 3)) is not None  # no output row lies inside the image: all staged
    assert _banded("same", (8, 8), (3, 3)) is None  # tiny: generic loop on a padded copy
    assert _banded("same", 3 * FOLD_COLS, 9) is None  # 1-D: folded rows on a padded copy


def test_bands_split_the_rows_evenly_between_threads_and_fit_the_cache():
    for kernel_shape in [(3, 3), (9, 9), (41, 41)]:
        rows = block_sizes(*kernel_shape)[0]
        for out_shape in [(10, 5000), (512, 512), (1024, 1024), (4096, 64)]:
            row_blocks = -(-out_shape[0] // rows)
            bands = band_count(kernel_shape, out_shape, 4, threads=2)
            assert 1 <= bands <= row_blocks
            if row_blocks >= 8:
                assert bands % 2 == 0 and bands >= 8  # four or more per thread, the same number each
            band = band_rows(kernel_shape, out_shape, bands)
            assert band * bands >= out_shape[0]  # the scratch holds the largest band
            if band > rows:  # a band of more than one row block fits the cache
                assert (band + kernel_shape[0] - 1) * (out_shape[1] + kernel_shape[1] - 1) * 4 <= BAND_BYTES


@pytest.mark.parametrize("mode", ["same", "full"])
def test_banded_padding_restages_the_image_on_every_call(mode):
    # The scratch rows are reused between calls and must pick up new image data.
    problem = Problem("corr", mode, (60, 150), (7, 9), "float64", threads=2)
    banded = PaddedCorrelation.for_problem(problem)
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal(problem.kernel_shape)
    out = np.empty(problem.out_shape)
    for _ in range(2):
        image = rng.standard_normal(problem.image_shape)
        banded(image, kernel, out)
        np.testing.assert_allclose(out, reference(problem, image, kernel), atol=1e-10)


def test_block_sizes_fit_the_vector_registers():
    # The A*B weights and the R partial sums of a block live in registers: more than
    # the 32 vector registers of AVX-512 (16 of AVX2) spills them to the stack.
    for kh in range(1, 45):
        for kw in range(1, 45):
            r, a, b = block_sizes(kh, kw)
            assert a * b + r <= 32, (kh, kw, r, a, b)
            assert r >= 1 and a >= 1 and b >= 1


def test_generated_source_is_deterministic_and_covers_leftovers():
    source = generate_source(41, 41)
    assert source == generate_source(41, 41)
    assert "pass_4_3_5_1" in source  # first pass
    assert "pass_4_3_1_0" in source and "pass_4_2_5_0" in source  # leftover columns and rows
    assert "def valid_2d" in source
