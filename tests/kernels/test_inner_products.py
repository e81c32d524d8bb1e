"""The register-blocked products of :mod:`kernels._inner_products` against numpy's, every edge of the blocks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels._inner_products import (
    TASK_CHANNELS,
    TASK_FILTERS,
    TASK_ROWS,
    WEIGHT_CHUNK,
    direct_rows,
    direct_weight_rows,
    stacked_products_abt,
)


def _check(stack, rows, columns, depth, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (stack, rows, depth)).astype(dtype)
    b = rng.uniform(-1, 1, (stack, columns, depth)).astype(dtype)
    out = np.full((stack, rows, columns), np.nan, dtype)  # every output must be written, none left over
    stacked_products_abt(a, b, out)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64).transpose(0, 2, 1))
    # A sum of `depth` products of numbers below 1, rounded: at most depth * eps in the worst case.
    bound = depth * np.finfo(dtype).eps
    assert np.abs(out - expected).max() <= bound


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("rows", "columns"),
    [
        (4, 6),  # one block
        (16, 2 * TASK_ROWS),  # whole blocks and whole strips
        (7, 6),  # three rows past the blocks of four
        (8, TASK_ROWS + 11),  # a partial last strip, with columns past its blocks of six
        (3, 5),  # no whole block at all
        (1, 1),
    ],
)
def test_products_match_numpy_at_every_edge_of_the_blocks(rows, columns, dtype):
    _check(3, rows, columns, 37, dtype)


@settings(max_examples=25, deadline=None)
@given(
    stack=st.integers(1, 3),
    rows=st.integers(1, 13),
    columns=st.integers(1, 2 * TASK_ROWS + 7),
    depth=st.integers(1, 70),
    seed=st.integers(0, 1000),
)
def test_products_match_numpy_for_any_shape(stack, rows, columns, depth, seed):
    _check(stack, rows, columns, depth, np.float64, seed)


def test_a_deep_sum_stays_within_the_rounding_bound_in_float32():
    _check(2, 8, 12, 4608, np.float32)  # im2col's depth on ResNet-50's 512-channel 3x3 layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("filters", "kernel", "width"),
    [
        (8, (3, 3), 12),  # whole blocks of four filters and six pixels
        (TASK_FILTERS + 7, (3, 3), 13),  # a second, partial task of filters, with filters and pixels past the blocks
        (5, (1, 1), 6),  # one tap: no overlap between pixel rows
        (3, (2, 5), 4),  # no whole block at all, an uneven kernel
    ],
)
def test_direct_rows_is_the_valid_correlation_summed_over_channels(filters, kernel, width, dtype):
    rng = np.random.default_rng(1)
    batch, channels, (kh, kw) = 2, 3, kernel
    images = rng.uniform(-1, 1, (batch, 5 + kh - 1, width + kw - 1, channels)).astype(dtype)  # channels last
    weights = rng.uniform(-1, 1, (filters, kh, kw, channels)).astype(dtype)
    out = np.full((batch, filters, 5, width), np.nan, dtype)
    direct_rows(images, weights, out)
    windows = np.lib.stride_tricks.sliding_window_view(images.astype(np.float64), (kh, kw), axis=(1, 2))
    expected = np.einsum("byxcij,kijc->bkyx", windows, weights.astype(np.float64))
    assert np.abs(out - expected).max() <= kh * kw * channels * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("filters", "channels", "kernel", "batch", "size"),
    [
        (8, 12, (3, 3), 2, (5, 6)),
        (TASK_FILTERS + 5, 7, (2, 4), 2, (5, 6)),
        (6, TASK_CHANNELS + 5, (3, 3), 2, (5, 6)),  # a band of channels and a partial one
        (5, 7, (3, 2), 3, (60, 80)),  # each image's runs longer than a chunk: summed in pieces
        # Runs of 5 x 8 + 3 values: whole images per chunk, in two groups and a partial one.
        (5, 7, (3, 3), 2 * (WEIGHT_CHUNK // 43) + 1, (5, 6)),
    ],
)
def test_direct_weight_rows_is_the_weight_gradient(filters, channels, kernel, batch, size, dtype):
    rng = np.random.default_rng(2)
    (kh, kw), (oh, ow) = kernel, size
    hp, wp = oh + kh - 1, ow + kw - 1
    length = oh * wp + 3  # past the widened rows: zeros
    assert batch == 2 or length > WEIGHT_CHUNK or batch > 2 * (WEIGHT_CHUNK // length)  # the chunks said above
    flat = np.zeros(batch * channels * hp * wp + 3 + kw, dtype)  # the images, then the zeros their runs reach
    images = flat[: batch * channels * hp * wp].reshape(batch, channels, hp, wp)
    images[...] = rng.uniform(-1, 1, images.shape)
    grads = np.zeros((batch, filters, length), dtype)
    widened = grads[:, :, : oh * wp].reshape(batch, filters, oh, wp)  # zero past ow in each row
    widened[..., :ow] = rng.uniform(-1, 1, (batch, filters, oh, ow))
    out = np.full((filters, channels, kh, kw), np.nan, dtype)
    direct_weight_rows(flat, hp, wp, grads, out)
    windows = np.lib.stride_tricks.sliding_window_view(images.astype(np.float64), (kh, kw), axis=(2, 3))
    expected = np.einsum("bkyx,bcyxij->kcij", widened[..., :ow].astype(np.float64), windows)
    assert np.abs(out - expected).max() <= batch * oh * ow * np.finfo(dtype).eps
