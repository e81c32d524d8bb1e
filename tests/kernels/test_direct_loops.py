"""The specialised numba-cpu loops, on sizes large enough to take every path.

Small cases elsewhere take the generic loop; these cover the row blocks and
leftover rows, the leftover kernel-row and kernel-column passes, staged
padding, padded copies and the folded 1-D path, in both dtypes.
"""

import numpy as np
import pytest

from harness.accuracy import TOLERANCE, reference
from kernels import Problem, get_backend
from kernels._direct_loops import (
    FOLD_COLS,
    _folds,
    block_sizes,
    generate_source,
    stages_padding,
    uses_specialised,
)

CASES = [
    ((37, 70), (3, 3)),  # one pass, 4-row blocks plus leftover rows
    ((37, 70), (5, 5)),  # leftover kernel rows (5 = 3 + 2)
    ((44, 70), (7, 7)),  # runtime pass loop plus a leftover row
    ((33, 80), (4, 6)),  # even sizes
    ((40, 70), (2, 13)),  # one kernel row per pass
    ((80, 90), (30, 27)),  # column chunks of 16 plus leftover columns
    ((45, 64), (1, 5)),  # one-row kernel on a 2-D image
]


@pytest.mark.parametrize("image_shape, kernel_shape", CASES)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
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


def test_staging_is_chosen_only_where_it_vectorised():
    assert stages_padding((3, 3), (1024, 1024))  # one pass
    assert stages_padding((15, 15), (1024, 1024))  # one kernel row per pass
    assert not stages_padding((7, 7), (1024, 1024))  # leftover passes: padded copy instead
    assert not stages_padding((3, 3), (8, 8))  # tiny: generic loop


def test_block_sizes_never_exceed_the_kernel():
    for kh in range(1, 45, 4):
        for kw in range(1, 45, 3):
            r, a, b = block_sizes(kh, kw)
            assert r >= 1 and 1 <= a <= kh and 1 <= b <= kw


def test_generated_source_is_deterministic_and_covers_leftovers():
    source = generate_source(41, 41)
    assert source == generate_source(41, 41)
    assert "pass_4_1_16_1" in source and "pass_4_1_9_0" in source  # first pass and leftover columns
    assert "def valid_2d" in source and "def padded_2d" in source
