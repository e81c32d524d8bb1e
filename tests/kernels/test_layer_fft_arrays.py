"""The FFT layer in whole-array calls: numpy-fft's layers on the CPU, and the code cupy-fft runs on the GPU."""

import tracemalloc

import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import Problem, get_backend
from kernels._layer_fft_arrays import NUMPY, ArrayFftLayer, ArrayModule
from kernels._layers import layer_inputs, reference_layer

# cupyx.scipy.fft has scipy.fft's signatures; uploads and downloads that copy, as the GPU's do, catch a result
# that would only be right while it aliases the caller's arrays.
SCIPY_COPIES = ArrayModule(np, scipy.fft, np.array, np.array, NUMPY.sync)
ARRAYS = [pytest.param(NUMPY, id="numpy"), pytest.param(SCIPY_COPIES, id="scipy-copies")]


def _tolerance(problem, fft) -> float:
    """An FFT's rounding: eps x log2 of the transform size x the terms summed per output (inputs in [-1, 1))."""
    terms = problem.in_channels * 12 if problem.pass_ != "backward-weights" else problem.batch * problem.outputs
    return float(np.finfo(problem.np_dtype).eps * np.log2(max(fft[0] * fft[1], 2)) * terms)


@pytest.mark.parametrize("arrays", ARRAYS)
@pytest.mark.parametrize("fft", [None, (8, 8), (6, 9), (16, 5)])
@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full"), ("conv", "same")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_array_fft_layer_matches_the_reference_whole_or_in_tiles(arrays, fft, pass_, op, mode, dtype):
    # An even kernel side; tiles whose last ones are partial along both axes, and a 16-row transform longer than
    # some padded extents (one tile).
    problem = Problem(op, mode, (11, 9), (3, 4), dtype, 2, 2, 3, 5, pass_)
    first, second = layer_inputs(problem, seed=5)
    kept = first.copy(), second.copy()
    prepared = ArrayFftLayer(problem, first, second, arrays, fft=fft)
    prepared()
    got = prepared.result()
    expected = reference_layer(problem, first, second)
    assert got.shape == expected.shape and got.dtype == np.dtype(dtype)
    assert np.abs(got - expected).max() <= _tolerance(problem, prepared.fft)
    assert np.array_equal(first, kept[0]) and np.array_equal(second, kept[1])  # the caller's inputs untouched


@settings(max_examples=30, deadline=None)
@given(
    pass_=st.sampled_from(["forward", "backward-data", "backward-weights"]),
    op=st.sampled_from(["corr", "conv"]),
    mode=st.sampled_from(["full", "same", "valid"]),
    image=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    channels=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    extra=st.tuples(st.integers(0, 6), st.integers(0, 6)),
)
def test_array_fft_layer_equals_the_reference_within_its_error_bound(pass_, op, mode, image, kernel, channels, extra):
    if mode == "valid" and (image[0] < kernel[0] or image[1] < kernel[1]):
        image = (max(image[0], kernel[0]), max(image[1], kernel[1]))
    problem = Problem(op, mode, image, kernel, "float64", 1, *channels, pass_)
    first, second = layer_inputs(problem, seed=1)
    fft = tuple(k + e for k, e in zip(problem.kernel_shape, extra))  # any transform at least the kernel long
    prepared = ArrayFftLayer(problem, first, second, fft=fft)
    prepared()
    assert np.abs(prepared.result() - reference_layer(problem, first, second)).max() <= _tolerance(problem, fft) + 1e-14


def test_array_fft_layer_of_one_dimensional_signals():
    for pass_ in ("forward", "backward-data", "backward-weights"):
        problem = Problem("conv", "full", 40, 5, "float64", 1, 2, 3, 2, pass_)
        first, second = layer_inputs(problem, seed=2)
        prepared = ArrayFftLayer(problem, first, second)
        prepared()
        assert prepared.fft[0] == 1
        assert np.abs(prepared.result() - reference_layer(problem, first, second)).max() < 1e-12


def test_array_fft_layer_transforms_filters_once_when_asked_and_never_for_weights():
    problem = Problem("corr", "same", (9, 9), (5, 5), "float32", 1, 2, 3, 4, "backward-data")
    dy, w = layer_inputs(problem)
    each, once = ArrayFftLayer(problem, dy, w), ArrayFftLayer(problem, dy, w, filters_once=True)
    each(), once()
    assert np.array_equal(each.result(), once.result())
    assert "kernel_spectrum" in once.setup_seconds and "kernel_spectrum" not in each.setup_seconds
    weights = Problem("corr", "same", (9, 9), (5, 5), "float32", 1, 2, 3, 4, "backward-weights")
    with pytest.raises(ValueError, match="no fixed filters"):
        ArrayFftLayer(weights, *layer_inputs(weights), filters_once=True)


@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("image", "channels"), [((8, 8), (2, 64, 64)), ((40, 40), (2, 8, 8)), ((13, 50), (3, 4, 6))])
def test_numpy_fft_layer_memory_estimate_covers_its_peak(pass_, image, channels):
    # numpy reports its arrays to tracemalloc: the peak of prepare and a call is what the guard must cover.
    backend = get_backend("numpy-fft")
    problem = Problem("corr", "same", image, (3, 3), "float32", 2, *channels, pass_)
    first, second = layer_inputs(problem)
    tracemalloc.start()
    try:
        prepared = backend.prepare(problem, first, second)
        prepared()
        prepared.result()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= backend.memory_bytes(problem)


def test_numpy_and_cupy_fft_take_layers_and_count_their_transforms():
    problem = Problem("corr", "same", (224, 224), (3, 3), "float32", 2, 8, 64, 64)
    fftw = get_backend("fftw").transforms(problem)
    for name in ("numpy-fft", "cupy-fft"):
        assert get_backend(name).takes_layers and get_backend(name).transforms(problem) == fftw
    cached = get_backend("cupy-fft-cached")
    assert cached.transforms(problem)[0] == fftw[0] - 64 * 64  # the filters, transformed in prepare
    weights = Problem("corr", "same", (9, 9), (5, 5), "float32", 1, 2, 3, 4, "backward-weights")
    ok, why = cached.supports(weights)
    assert not ok and "backward-weights" in why
    assert get_backend("cupy-fft").supports(weights)[0]


def test_numpy_fft_layer_says_where_its_work_runs():
    problem = Problem("corr", "same", (10, 9), (3, 3), "float32", 2, 2, 3, 4)
    prepared = get_backend("numpy-fft").prepare(problem, *layer_inputs(problem))
    assert prepared.notes.startswith("numpy.fft on 1 thread, products on BLAS") and "tiles per image" in prepared.notes
