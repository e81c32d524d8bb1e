"""The layer reference: one image and one kernel is the single-channel problem; the backward passes are adjoints."""

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import convolve2d, correlate2d

from kernels import Problem
from kernels._layers import input_shapes, layer_inputs, output_shape, reference_layer

# Small layers of every op and mode, for the properties of the backward passes.
SMALL_LAYERS = {
    "op": st.sampled_from(["corr", "conv"]),
    "mode": st.sampled_from(["full", "same", "valid"]),
    "image": st.tuples(st.integers(3, 9), st.integers(3, 9)),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "channels": st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    "seed": st.integers(0, 1000),
}


def _layer(op="corr", mode="valid", image=(7, 6), kernel=(3, 2), b=2, c=3, k=4, pass_="forward"):
    return Problem(op, mode, image, kernel, "float64", 1, b, c, k, pass_)


@pytest.mark.parametrize("op", ["corr", "conv"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_one_image_one_kernel_is_the_single_channel_problem(op, mode):
    problem = Problem(op, mode, (9, 8), (4, 3), "float64")
    x, w = layer_inputs(problem, seed=1)
    scipy = correlate2d if op == "corr" else convolve2d
    assert reference_layer(problem, x, w)[0, 0] == pytest.approx(scipy(x[0, 0], w[0, 0], mode=mode), abs=1e-12)
    assert not problem.is_layer and _layer().is_layer


def test_worked_example_as_a_layer():
    f, h = np.array([[[[2.0, 1, 3, 5, 4]]]]), np.array([[[[1.0, -1]]]])
    conv = Problem("conv", "valid", 5, 2)
    corr = Problem("corr", "valid", 5, 2)
    assert reference_layer(conv, f, h).ravel().tolist() == [-1, 2, 2, -1]
    assert reference_layer(corr, f, h).ravel().tolist() == [1, -2, -2, 1]


def test_forward_sums_over_input_channels():
    problem = _layer(mode="same")
    x, w = layer_inputs(problem)
    y = reference_layer(problem, x, w)
    assert y.shape == output_shape(problem) == (2, 4, 7, 6)
    expected = sum(correlate2d(x[1, c], w[3, c], mode="same") for c in range(3))
    assert y[1, 3] == pytest.approx(expected, abs=1e-12)


def test_backward_data_of_valid_is_the_full_convolution_with_channels_transposed():
    problem = _layer(pass_="backward-data")
    dy, w = layer_inputs(problem)
    dx = reference_layer(problem, dy, w)
    assert dx.shape == output_shape(problem) == (2, 3, 7, 6)
    expected = sum(convolve2d(dy[0, k], w[k, 2], mode="full") for k in range(4))
    assert dx[0, 2] == pytest.approx(expected, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(**SMALL_LAYERS)
def test_backward_passes_are_the_adjoints_of_the_forward_pass(op, mode, image, kernel, channels, seed):
    # <forward(x, w), dy> = <x, backward_data(dy, w)> = <w, backward_weights(x, dy)>: what autograd computes.
    b, c, k = channels
    forward = Problem(op, mode, image, kernel, "float64", 1, b, c, k)
    x, w = layer_inputs(forward, seed)
    dy = np.random.default_rng(seed + 1).uniform(-1, 1, output_shape(forward))
    y = reference_layer(forward, x, w)
    data = reference_layer(Problem(op, mode, image, kernel, "float64", 1, b, c, k, "backward-data"), dy, w)
    weights = reference_layer(Problem(op, mode, image, kernel, "float64", 1, b, c, k, "backward-weights"), x, dy)
    assert np.vdot(y, dy) == pytest.approx(np.vdot(x, data), rel=1e-10)
    assert np.vdot(y, dy) == pytest.approx(np.vdot(w, weights), rel=1e-10)


def test_shapes_flops_and_bad_layers():
    problem = _layer(mode="valid", pass_="backward-weights")
    assert input_shapes(problem) == ((2, 3, 7, 6), (2, 4, 5, 5))
    assert output_shape(problem) == (4, 3, 3, 2)
    assert problem.direct_flops == 2 * 2 * 4 * 3 * 3 * 2 * 5 * 5
    with pytest.raises(ValueError, match="unknown pass 'backwards'; acceptable passes are 'forward'"):
        _layer(pass_="backwards")
    with pytest.raises(ValueError, match="in_channels must be a whole number >= 1, got 0"):
        _layer(c=0)


@pytest.mark.parametrize("algorithm", ["direct loops", "direct blocks", "gemm"])
@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full"), ("conv", "same")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cpu_layer_algorithms_match_the_reference(algorithm, pass_, op, mode, dtype):
    from kernels._layer_direct import DirectLayer
    from kernels._layer_gemm import GemmLayer

    # Odd sizes and channel counts that leave a partial block of output channels (of four) and of pixels (of six:
    # 9 to 12 output columns); an even kernel side.
    problem = Problem(op, mode, (11, 9), (3, 4), dtype, 2, 2, 3, 5, pass_)
    first, second = layer_inputs(problem, seed=7)
    if algorithm == "gemm":
        prepared = GemmLayer(problem, first, second)
    else:
        way = algorithm.split()[1]
        prepared = DirectLayer(problem, first, second, way=way)
        assert prepared.notes.startswith(f"{pass_} by {way} ")
    prepared._out[...] = np.nan  # every output must be written
    prepared()
    expected = reference_layer(problem, first, second)
    got = prepared.result()
    assert got.shape == expected.shape and got.dtype == np.dtype(dtype)
    terms = problem.in_channels * 12 if pass_ != "backward-weights" else problem.batch * problem.outputs
    tolerance = terms * np.finfo(dtype).eps * 4
    assert np.abs(got - expected).max() <= tolerance


@pytest.mark.parametrize("rows", [1, 4, 40])
@pytest.mark.parametrize("pass_", ["forward", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full"), ("conv", "same")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_by_blocks_of_rows_matches_the_reference(rows, pass_, op, mode, dtype):
    from kernels._layer_gemm import GemmLayer

    # 9 to 13 output rows: blocks of 4 leave a partial last block; 40 is one block per image, longer than it.
    problem = Problem(op, mode, (11, 9), (3, 4), dtype, 2, 2, 3, 5, pass_)
    first, second = layer_inputs(problem, seed=8)
    prepared = GemmLayer(problem, first, second, rows=rows)
    assert f"blocks of {rows} output rows" in prepared.notes
    for buffer in prepared._blocks:  # poisoned: a partial block's stale columns must add nothing
        buffer[...] = np.nan
    prepared()
    terms = problem.in_channels * 12 if pass_ == "forward" else problem.batch * problem.outputs
    tolerance = terms * np.finfo(dtype).eps * 4
    assert np.abs(prepared.result() - reference_layer(problem, first, second)).max() <= tolerance


@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("conv", "full"), ("conv", "same")])
def test_gemm_with_the_unfold_or_fold_by_numpy_matches_the_reference(pass_, op, mode):
    from kernels._layer_gemm import GemmLayer

    problem = Problem(op, mode, (11, 9), (3, 4), "float64", 2, 2, 3, 5, pass_)
    first, second = layer_inputs(problem, seed=9)
    prepared = GemmLayer(problem, first, second, rows=0)
    prepared._use((None, True))
    # Every column must be unfolded again (forward, weights), and the whole image folded (backward-data).
    (prepared._cols if pass_ != "backward-data" else prepared._padded)[...] = np.nan
    prepared()
    assert np.abs(prepared.result() - reference_layer(problem, first, second)).max() < 1e-12


def test_gemm_forward_keeps_the_faster_of_the_whole_unfold_and_blocks():
    from kernels._layer_gemm import GemmLayer

    problem = Problem("corr", "same", (32, 32), (3, 3), "float32", 2, 2, 8, 8)
    layer = GemmLayer(problem, *layer_inputs(problem))
    times = {name: float(ms) for name, ms in re.findall(r"(\w+): ([\d.e+-]+) ms", layer.notes)}
    assert set(times) == {"whole", "numpy", "4", "8", "16"}  # 128, 256 and 512 pixels of 32-pixel rows
    fastest = min(times, key=times.get)
    assert (layer._blocks is None) == (fastest in ("whole", "numpy")) and layer._by_numpy == (fastest == "numpy")
    whole = GemmLayer(problem, *layer_inputs(problem), rows=0)
    assert whole._blocks is None and whole.notes.endswith("whole unfold (as asked)")
    backward = dataclasses.replace(problem, pass_="backward-data")
    folded = GemmLayer(backward, *layer_inputs(backward))
    assert "unfold" not in folded.notes and folded.notes.endswith(" ms)")  # its fold timed by Numba and numpy
    assert folded._by_numpy == (re.search(r"fold by (\w+)", folded.notes)[1] == "numpy")
    with pytest.raises(ValueError, match="rows per block -2; acceptable: 0 .* or a count > 0"):
        GemmLayer(problem, *layer_inputs(problem), rows=-2)


@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_gemm_layer_with_a_1x1_kernel_skips_the_unfold_and_stays_right(pass_, mode):
    from kernels._layer_gemm import GemmLayer

    problem = Problem("conv", mode, (5, 7), (1, 1), "float64", 1, 2, 3, 4, pass_)
    first, second = layer_inputs(problem, seed=4)
    prepared = GemmLayer(problem, first, second)
    prepared()
    assert np.abs(prepared.result() - reference_layer(problem, first, second)).max() < 1e-12
    if pass_ != "backward-data":
        assert np.shares_memory(prepared._cols, prepared.first)  # the images are the columns: no copy


def test_direct_layer_keeps_the_faster_way_and_refuses_unknown_ones():
    from kernels._layer_direct import DIRECT_WAYS, DirectLayer

    problem = Problem("corr", "same", (20, 20), (3, 3), "float32", 2, 2, 8, 8)
    layer = DirectLayer(problem, *layer_inputs(problem))
    times = {name: float(ms) for name, ms in re.findall(r"(\w+): ([\d.e+-]+) ms", layer.notes)}
    assert set(times) == set(DIRECT_WAYS) and layer._way == min(times, key=times.get)
    with pytest.raises(ValueError, match="direct layer way 'fast'; acceptable ways are 'loops', 'blocks'"):
        DirectLayer(problem, *layer_inputs(problem), way="fast")


@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize(("filters", "channels", "kernel"), [(37, 21, (3, 2)), (16, 32, (1, 1)), (3, 5, (2, 3))])
def test_backward_data_filters_are_transposed_channels_last_by_whole_and_partial_tiles(filters, channels, kernel, flip):
    from kernels._layer_loops import transposed_channels_last

    w = np.random.default_rng(3).standard_normal((filters, channels, *kernel)).astype(np.float32)
    out = np.full((channels, *kernel, filters), np.nan, np.float32)
    transposed_channels_last(w, out, flip)
    expected = (w[:, :, ::-1, ::-1] if flip else w).transpose(1, 2, 3, 0)
    assert np.array_equal(out, expected)


def test_cpu_layer_inputs_of_the_wrong_shape_are_refused():
    from kernels._layer_direct import DirectLayer

    problem = Problem("corr", "valid", (8, 8), (3, 3), "float32", 1, 2, 3, 4)
    x, w = layer_inputs(problem)
    expected = r"forward pass: second input has shape \(4, 2, 3, 3\), expected \(4, 3, 3, 3\)"
    with pytest.raises(ValueError, match=expected):
        DirectLayer(problem, x, w[:, :2])


# Every way each tile size may run: F(2x2) by stages and by our own products; F(4x4) by numpy's stages, one Numba
# call, our own products, and chunks of 5 tiles (a partial last chunk, several per worker) and 16 (more than a
# worker's share).
@pytest.mark.parametrize(
    ("tile", "way"),
    [(2, "stages"), (2, "own products"), (4, "stages"), (4, "one call"), (4, "own products"), (4, 5), (4, 16)],
)
@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_matches_the_reference(tile, way, pass_, op, mode, dtype):
    from kernels._winograd import WinogradLayer

    # 13 x 10 outputs in valid mode: partial tiles at the bottom and right for both tile sizes; 2 images of 4 x 3
    # tiles (valid) to 5 x 4 (full). Five filters: a block of four and one past it in the own products.
    # (Partial blocks of channels: test_winograd_weight_gradient_by_blocks_covers_partial_blocks.)
    problem = Problem(op, mode, (15, 12), (3, 3), dtype, 2, 2, 3, 5, pass_)
    first, second = layer_inputs(problem, seed=3)
    prepared = WinogradLayer(problem, first, second, tile=tile, way=way)
    named = {"stages": "by stages", "one call": "one call", "own products": "own products"}
    assert f"F({tile}x{tile}) {named.get(way, f'in chunks of {way} tiles')}" in prepared.notes
    # Poison every work buffer: prepare's first calls by stages fill them, which would hide a product never made.
    for buffer in (prepared._v, prepared._m, getattr(prepared, "_q", None), *(prepared._fused or ())):
        if buffer is not None:  # the own products free the planes of products they never use
            buffer[...] = np.nan
    prepared()
    expected = reference_layer(problem, first, second)
    error = np.abs(prepared.result() - expected).max()
    # Lavin and Gray's fp32 maxima were 1.5e-5..5.3e-5 for F(2x2) and 2.8e-4..1.1e-3 for F(4x4) on deep layers;
    # these layers sum far fewer terms.
    assert error <= {("float32", 2): 2e-5, ("float32", 4): 1e-4}.get((dtype, tile), 1e-12)


def _ways_timed(layer) -> dict[str, float]:
    """The ways ``prepare`` timed, from the layer's note, in ms."""
    timed = layer.notes.split("timed in prepare: ")[1]
    return {name: float(ms) for name, ms in re.findall(r"(\w+(?: call| products| blocks)?): ([\d.e+-]+) ms", timed)}


def test_winograd_keeps_the_fastest_way_and_refuses_unknown_ones():
    from kernels._winograd import FUSED_CHUNKS, WAYS, WinogradLayer

    problem = Problem("corr", "same", (40, 40), (3, 3), "float32", 2, 2, 8, 8)
    layer = WinogradLayer(problem, *layer_inputs(problem))
    times = _ways_timed(layer)
    assert set(times) == {*WAYS, *map(str, FUSED_CHUNKS)}  # 200 tiles: every chunk fits a worker's share
    assert str(layer._way) == min(times, key=times.get)
    small = WinogradLayer(problem, *layer_inputs(problem), tile=2)
    assert set(_ways_timed(small)) == {"stages", "own products", "filter blocks"}
    assert small.notes.count("F(4x4)") == 0
    every_way = "ways are 'stages', 'one call', 'own products', 'filter blocks' or a chunk > 0"
    with pytest.raises(ValueError, match=every_way):
        WinogradLayer(problem, *layer_inputs(problem), way="fast")
    only_f2 = "way 16 for F\\(2x2\\) forward; acceptable ways are 'stages', 'own products', 'filter blocks'$"
    with pytest.raises(ValueError, match=only_f2):
        WinogradLayer(problem, *layer_inputs(problem), tile=2, way=16)
    # The filters transformed inside the products: not a way for the weight gradient, nor with filters once.
    weights = dataclasses.replace(problem, pass_="backward-weights")
    every_other = {*WAYS, *map(str, FUSED_CHUNKS)} - {"filter blocks"}
    assert set(_ways_timed(WinogradLayer(weights, *layer_inputs(weights)))) == every_other
    assert set(_ways_timed(WinogradLayer(problem, *layer_inputs(problem), filters_once=True))) == every_other
    for refused, once in ((weights, False), (problem, True)):
        with pytest.raises(ValueError, match="'filter blocks' transforms the filters in every call, not for"):
            WinogradLayer(refused, *layer_inputs(refused), filters_once=once, way="filter blocks")


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("pass_", ["forward", "backward-data"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "same"), ("conv", "full")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_filter_blocks_match_the_reference(tile, pass_, op, mode, dtype):
    from kernels._winograd import FILTER_BLOCK, WinogradLayer

    # Two blocks of filters and a partial third (forward's filters, backward-data's channels), over two workers;
    # 13 x 10 images: partial tiles for both tile sizes.
    targets = 2 * FILTER_BLOCK + 1
    problem = Problem(op, mode, (13, 10), (3, 3), dtype, 2, 2, targets, targets, pass_)
    first, second = layer_inputs(problem, seed=8)
    prepared = WinogradLayer(problem, first, second, tile=tile, way="filter blocks")
    assert f"F({tile}x{tile}) filter blocks" in prepared.notes
    assert prepared._u is None and prepared._ut is None  # no planes of transformed filters are kept
    for buffer in (prepared._v, prepared._m, *prepared._filter_blocks):
        buffer[...] = np.nan
    prepared()
    error = np.abs(prepared.result() - reference_layer(problem, first, second)).max()
    assert error <= {("float32", 2): 2e-5, ("float32", 4): 1e-4}.get((dtype, tile), 1e-12)


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_weight_gradient_by_blocks_covers_partial_blocks(tile):
    from kernels._winograd import WEIGHT_BLOCK, WinogradLayer

    block_k, block_c = WEIGHT_BLOCK
    # One whole block of filters and channels and a partial one of each; tiles summed four at a time and one past
    # them (3 images of 2 x 3 tiles for F(4x4), of 3 x 5 for F(2x2)).
    problem = Problem("conv", "same", (6, 9), (3, 3), "float64", 1, 3, block_c + 3, block_k + 1, "backward-weights")
    first, second = layer_inputs(problem, seed=6)
    prepared = WinogradLayer(problem, first, second, tile=tile, way="own products")
    prepared._out[...] = np.nan
    prepared()
    assert np.abs(prepared.result() - reference_layer(problem, first, second)).max() < 1e-12


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_own_products_with_filters_once_read_the_filters_in_their_layout(tile):
    from kernels._winograd import WinogradLayer

    problem = Problem("conv", "same", (9, 9), (3, 3), "float64", 1, 2, 3, 4, "backward-data")
    first, second = layer_inputs(problem, seed=5)
    once = WinogradLayer(problem, first, second, tile=tile, filters_once=True, way="own products")
    assert once._u is None and once._ut is not None  # the other layout is freed once the way is chosen
    once._v[...] = np.nan
    once()
    assert np.abs(once.result() - reference_layer(problem, first, second)).max() < 1e-12


def _held_bytes(value, seen) -> int:
    """The bytes of the arrays ``value`` holds (in attributes, tuples, lists), each counted once."""
    if isinstance(value, np.ndarray):
        base = value if value.base is None else value.base
        if id(base) in seen or not isinstance(base, np.ndarray):
            return 0
        seen.add(id(base))
        return base.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_held_bytes(item, seen) for item in value)
    return sum(_held_bytes(item, seen) for item in vars(value).values()) if hasattr(value, "__dict__") else 0


@pytest.mark.parametrize("name", ["numba-cpu", "im2col-gemm", "winograd"])
@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
def test_memory_estimates_cover_what_a_prepared_layer_holds(name, pass_):
    from kernels import get_backend

    backend = get_backend(name)
    # Deep and small, so that the work buffers outweigh the default's inputs, outputs and reference.
    problem = Problem("corr", "same", (8, 8), (3, 3), "float32", 2, 2, 64, 64, pass_)
    prepared = backend.prepare(problem, *layer_inputs(problem))
    assert _held_bytes(prepared, set()) <= backend.memory_bytes(problem)


def test_memory_estimates_count_the_threads_sums_of_the_weight_gradient():
    from kernels import get_backend

    forward = Problem("corr", "same", (7, 7), (3, 3), "float32", 2, 1, 512, 512)
    weights = dataclasses.replace(forward, pass_="backward-weights")
    # Winograd: two threads' 37 planes of 512 x 512 sums, 77.6 MB that the forward pass does not need, while the
    # forward pass holds its 36 planes of transformed filters twice (both layouts, as prepare times its ways) and
    # each thread's block of them (the "filter blocks" way); im2col's blocks: two threads' sum and product of
    # 512 x 4608.
    from kernels._winograd import FILTER_BLOCK, ROW_PAD

    winograd, gemm = get_backend("winograd"), get_backend("im2col-gemm")
    plane = 512 * 512 * 4
    blocks = 2 * (512 + ROW_PAD) * (9 * FILTER_BLOCK + 3 * 6 + 36 * FILTER_BLOCK) * 4
    assert winograd.memory_bytes(forward) >= 2 * 36 * plane + blocks
    assert winograd.memory_bytes(weights) - (winograd.memory_bytes(forward) - blocks) >= (2 * 37 - 36) * plane
    assert gemm.memory_bytes(weights) - gemm.memory_bytes(forward) >= 2 * 2 * 512 * 4608 * 4


def test_winograd_with_filters_transformed_once_gives_the_same_output():
    from kernels._winograd import WinogradLayer

    problem = Problem("corr", "same", (9, 9), (3, 3), "float32", 1, 2, 3, 4)
    x, w = layer_inputs(problem)
    each, once = WinogradLayer(problem, x, w), WinogradLayer(problem, x, w, filters_once=True)
    each(), once()
    assert np.array_equal(each.result(), once.result())
    assert "kernel_spectrum" in once.setup_seconds and "kernel_spectrum" not in each.setup_seconds


def test_winograd_refuses_what_it_does_not_compute():
    from kernels._winograd import WinogradLayer

    problem = Problem("corr", "same", (8, 8), (5, 5), "float32", 1, 1, 2, 2)
    with pytest.raises(ValueError, match="needs 3x3 filters, got 5x5"):
        WinogradLayer(problem, *layer_inputs(problem))
    problem = Problem("corr", "same", (8, 8), (3, 3), "float32", 1, 1, 2, 2, "backward-weights")
    with pytest.raises(ValueError, match="no fixed filters to transform once"):
        WinogradLayer(problem, *layer_inputs(problem), filters_once=True)
    problem = Problem("corr", "same", (8, 8), (3, 3), "float32", 1, 1, 2, 2)
    with pytest.raises(ValueError, match="acceptable tiles are 2 and 4"):
        WinogradLayer(problem, *layer_inputs(problem), tile=6)


@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full")])
def test_onnxruntime_peer_computes_forward_layers(op, mode):
    pytest.importorskip("onnxruntime", reason="the onnx extra")
    pytest.importorskip("onnx", reason="the onnx extra")
    from kernels import get_backend

    backend = get_backend("onnxruntime")
    problem = Problem(op, mode, (11, 9), (3, 4), "float32", 2, 2, 3, 5)
    x, w = layer_inputs(problem, seed=2)
    prepared = backend.prepare(problem, x, w)
    prepared()
    assert np.abs(prepared.result() - reference_layer(problem, x, w)).max() < 1e-5
    assert not backend.supports(Problem(op, mode, (11, 9), (3, 4), "float32", 2, 2, 3, 5, "backward-data"))[0]
    assert not backend.supports(Problem(op, mode, (11, 9), (3, 4), "float64", 2, 2, 3, 5))[0]


@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full"), ("conv", "same")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_peer_computes_every_pass(pass_, op, mode, dtype):
    pytest.importorskip("torch", reason="PyTorch, installed by hand")
    from kernels import get_backend

    # A 3 x 4 kernel: `same` pads unevenly, which conv2d cannot do by itself.
    problem = Problem(op, mode, (11, 9), (3, 4), dtype, 2, 2, 3, 5, pass_)
    first, second = layer_inputs(problem, seed=6)
    prepared = get_backend("torch-cpu").prepare(problem, first, second)
    prepared()
    expected = reference_layer(problem, first, second)
    got = prepared.result()
    assert got.shape == expected.shape and got.dtype == np.dtype(dtype)
    assert np.abs(got - expected).max() <= {"float32": 1e-5, "float64": 1e-12}[dtype]
    assert "torch" in prepared.notes and "plan" in prepared.setup_seconds


@settings(max_examples=30, deadline=None)
@given(**SMALL_LAYERS)
def test_backward_passes_equal_autograd_of_the_forward_pass(op, mode, image, kernel, channels, seed):
    torch = pytest.importorskip("torch", reason="PyTorch, installed by hand")
    from kernels import get_backend

    # Autograd differentiates PyTorch's own forward pass (padding and flips as tensor operations), independently
    # of the reference's backward formulas; the torch-cpu peer's backward passes must agree with both.
    problem = Problem(op, mode, image, kernel, "float64", 1, *channels)
    x, w = layer_inputs(problem, seed)
    dy = np.random.default_rng(seed + 1).uniform(-1, 1, output_shape(problem))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (top, left), (ph, pw), (h, wd) = problem.pad_before, problem.padded_shape, problem.image_shape
    padded = torch.nn.functional.pad(tx, (left, pw - wd - left, top, ph - h - top))
    y = torch.nn.functional.conv2d(padded, tw if op == "corr" else tw.flip(2, 3))
    np.testing.assert_allclose(y.detach().numpy(), reference_layer(problem, x, w), atol=1e-12)
    dx, dw = torch.autograd.grad(y, (tx, tw), torch.tensor(dy))
    for pass_, inputs, expected in (("backward-data", (dy, w), dx), ("backward-weights", (x, dy), dw)):
        backward = Problem(op, mode, image, kernel, "float64", 1, *channels, pass_)
        np.testing.assert_allclose(reference_layer(backward, *inputs), expected.numpy(), atol=1e-12)
        peer = get_backend("torch-cpu").prepare(backward, *inputs)
        peer()
        np.testing.assert_allclose(peer.result(), expected.numpy(), atol=1e-12)


def _layer_backends():
    import kernels

    out = []
    for name, backend in sorted(kernels.backends().items()):
        if backend.takes_layers and backend.available()[0]:
            out.append(pytest.param(name, marks=pytest.mark.gpu) if backend.device == "cuda" else name)
    return out


@pytest.mark.parametrize("name", _layer_backends())
@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "same"), ("conv", "valid")])
def test_every_available_layer_backend_matches_the_reference(name, pass_, op, mode):
    from kernels import get_backend

    # 3x3: every layer backend takes it (Winograd only that). On a GPU this is the test of torch-cudnn's and
    # numba-cuda's layers; `make test` sees the CPU ones.
    backend = get_backend(name)
    problem = Problem(op, mode, (10, 9), (3, 3), "float32", 2, 2, 3, 4, pass_)
    if not backend.supports(problem)[0]:
        pytest.skip(backend.supports(problem)[1])
    first, second = layer_inputs(problem, seed=9)
    prepared = backend.prepare(problem, first, second)
    prepared()
    prepared.sync()
    got = prepared.result()
    expected = reference_layer(problem, first, second)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-4, name


def _fft_tolerance(problem, fft, dtype) -> float:
    """An FFT's rounding: eps x log2 of the transform size x the terms summed per output (inputs in [-1, 1))."""
    terms = problem.in_channels * 12 if problem.pass_ != "backward-weights" else problem.batch * problem.outputs
    return float(np.finfo(dtype).eps * np.log2(max(fft[0] * fft[1], 2)) * terms)


@pytest.mark.parametrize("fft", [None, (8, 8), (6, 9), (16, 5)])
@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full"), ("conv", "same")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fft_layer_matches_the_reference_whole_or_in_tiles(fft, pass_, op, mode, dtype):
    from kernels._layer_fft import FftLayer

    # An even kernel side; tile shapes whose last tiles are partial along both axes, and a 16-row transform
    # longer than some padded extents (one tile).
    problem = Problem(op, mode, (11, 9), (3, 4), dtype, 2, 2, 3, 5, pass_)
    first, second = layer_inputs(problem, seed=5)
    prepared = FftLayer(problem, first, second, "FFTW_ESTIMATE", fft=fft)
    prepared()
    expected = reference_layer(problem, first, second)
    got = prepared.result()
    assert got.shape == expected.shape and got.dtype == np.dtype(dtype)
    assert np.abs(got - expected).max() <= _fft_tolerance(problem, prepared.fft, dtype)


@settings(max_examples=25, deadline=None)
@given(
    pass_=st.sampled_from(["forward", "backward-data", "backward-weights"]),
    mode=st.sampled_from(["full", "same", "valid"]),
    image=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    channels=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    extra=st.tuples(st.integers(0, 6), st.integers(0, 6)),
)
def test_fft_layer_equals_the_direct_layer_within_its_error_bound(pass_, mode, image, kernel, channels, extra):
    from kernels._layer_direct import DirectLayer
    from kernels._layer_fft import FftLayer

    if mode == "valid" and (image[0] < kernel[0] or image[1] < kernel[1]):
        image = (max(image[0], kernel[0]), max(image[1], kernel[1]))
    problem = Problem("corr", mode, image, kernel, "float64", 1, *channels, pass_)
    first, second = layer_inputs(problem, seed=1)
    fft = tuple(k + e for k, e in zip(problem.kernel_shape, extra))  # any transform at least the kernel long
    fast, direct = FftLayer(problem, first, second, "FFTW_ESTIMATE", fft=fft), DirectLayer(problem, first, second)
    fast(), direct()
    assert np.abs(fast.result() - direct.result()).max() <= _fft_tolerance(problem, fft, "float64") + 1e-14


def test_fft_layer_transforms_filters_once_when_asked_and_never_for_weights():
    from kernels._layer_fft import FftLayer

    problem = Problem("corr", "same", (9, 9), (5, 5), "float32", 1, 2, 3, 4)
    x, w = layer_inputs(problem)
    each, once = FftLayer(problem, x, w, "FFTW_ESTIMATE"), FftLayer(problem, x, w, "FFTW_ESTIMATE", filters_once=True)
    each(), once()
    assert np.array_equal(each.result(), once.result())
    assert "kernel_spectrum" in once.setup_seconds and "kernel_spectrum" not in each.setup_seconds
    weights = Problem("corr", "same", (9, 9), (5, 5), "float32", 1, 2, 3, 4, "backward-weights")
    with pytest.raises(ValueError, match="no fixed filters"):
        FftLayer(weights, *layer_inputs(weights), "FFTW_ESTIMATE", filters_once=True)


def test_fft_layer_tiles_a_large_image_and_transforms_a_small_one_whole():
    from kernels._layer_fft import call_transforms, choose_tile, tile_count

    small = Problem("corr", "valid", (6, 6), (3, 3), "float32", 2, 8, 64, 64)
    assert tile_count(small.out_shape, small.kernel_shape, choose_tile(small)) == (1, 1)
    large = Problem("corr", "same", (224, 224), (3, 3), "float32", 2, 8, 64, 64)
    fft = choose_tile(large)
    assert max(fft) < 64  # the filters' spectra at 226 x 226 would be 50x the tile's
    tiles = tile_count(large.out_shape, large.kernel_shape, fft)
    count, shape = call_transforms(large)
    assert shape == fft and count == 8 * tiles[0] * tiles[1] * (64 + 64) + 64 * 64
    assert call_transforms(large, filters_once=True)[0] == count - 64 * 64


def test_fft_layer_of_one_dimensional_signals():
    from kernels._layer_fft import FftLayer

    for pass_ in ("forward", "backward-data", "backward-weights"):
        problem = Problem("conv", "full", 40, 5, "float64", 1, 2, 3, 2, pass_)
        first, second = layer_inputs(problem, seed=2)
        prepared = FftLayer(problem, first, second, "FFTW_ESTIMATE")
        prepared()
        assert prepared.fft[0] == 1
        assert np.abs(prepared.result() - reference_layer(problem, first, second)).max() < 1e-12


def test_fftw_backends_take_layers_and_the_cached_one_refuses_weights():
    from kernels import get_backend

    assert get_backend("fftw").takes_layers and get_backend("fftw-cached").takes_layers
    weights = Problem("corr", "same", (9, 9), (5, 5), "float32", 1, 2, 3, 4, "backward-weights")
    ok, why = get_backend("fftw-cached").supports(weights)
    assert not ok and "backward-weights" in why
    assert get_backend("fftw").supports(weights)[0]
