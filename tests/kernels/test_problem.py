import pytest

from kernels import Problem


def test_shapes_per_mode():
    full = Problem("corr", "full", (10, 12), (3, 4))
    same = Problem("corr", "same", (10, 12), (3, 4))
    valid = Problem("corr", "valid", (10, 12), (3, 4))
    assert full.out_shape == (12, 15)
    assert same.out_shape == (10, 12)
    assert valid.out_shape == (8, 9)
    assert valid.direct_flops == 2 * 3 * 4 * 8 * 9


def test_one_dimensional_lengths_become_single_rows():
    p = Problem("conv", "valid", 5, 2)
    assert p.image_shape == (1, 5) and p.kernel_shape == (1, 2) and p.is_1d
    assert p.out_shape == (1, 4)


@pytest.mark.parametrize("k, corr_start, conv_start", [(3, 1, 1), (4, 2, 1), (5, 2, 2), (2, 1, 0)])
def test_same_window_follows_scipy_correlate2d_and_convolve2d(k, corr_start, conv_start):
    assert Problem("corr", "same", (9, 9), (k, k)).window_start == (corr_start, corr_start)
    assert Problem("conv", "same", (9, 9), (k, k)).window_start == (conv_start, conv_start)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(op="xcorr"), "acceptable ops are 'corr', 'conv'"),
        (dict(mode="half"), "acceptable modes are 'full', 'same', 'valid'"),
        (dict(dtype="float16"), "acceptable dtypes are 'float32', 'float64'"),
        (dict(image_shape=(0, 4)), "must be positive"),
        (dict(kernel_shape=(1, 2, 3)), "1 or 2 dimensions"),
        (dict(mode="valid", kernel_shape=(9, 3)), "larger than image"),
        (dict(threads=0), "threads must be >= 1"),
    ],
)
def test_bad_problems_name_what_is_allowed(kwargs, message):
    args = dict(op="corr", mode="same", image_shape=(8, 8), kernel_shape=(3, 3), dtype="float32", threads=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Problem(**args)
