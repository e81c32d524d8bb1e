"""FFT layers with transform reuse: each map and filter transformed once, the channel sum a complex matrix product.

For a layer the FFT's cost per channel pair drops to a pointwise complex
multiply-accumulate (Mathieu, Henaff and LeCun, arXiv 1312.5851): each of the
B x C input maps and K x C filters is transformed once, and at every frequency
the sum over channels is one complex matrix product, ``Y[f] (B x K) = X[f]
(B x C) @ W[f] (C x K)``, which numpy's ``matmul`` runs on BLAS (``cgemm`` /
``zgemm``), the frequencies split across the threads
(:func:`~kernels._layer_gemm.stacked_matmul`); then one inverse per output map.

Large images are cut into overlap-save tiles: an output tile of ``t`` rows
needs ``t + kh - 1`` input rows, and a circular transform of that length
computes it without aliasing. The tiles become extra rows of the products
(``B`` becomes ``B x tiles``), so the filters' spectra are as small as the
tile's transform. :func:`choose_tile` picks the transform shape from a cost
model of transforms and products (the whole padded image is one candidate).

The transforms write their spectra frequency-major (FFTW's strided output), so
the products read them in place, and the source tiles' transform reads the
overlapping tiles in place from the padded images (a strided view,
:func:`overlapping_tiles`), so nothing gathers them. The filters are placed
taps-major, the K C filters innermost (:func:`place_taps_major`): their one
batched transform is vectorised by FFTW across filters and writes
frequency-major with unit stride (on 256 x 256 7x7 filters at 16 x 16, 8.6 ms
where 65 536 strided transforms and their placement took 15 ms). All three passes:

- ``forward`` and ``backward-data``: a valid correlation summed over channels,
  of the padded images (of the padded output gradients, with
  :func:`~kernels._layers.data_gradient_filters`);
- ``backward-weights``: ``dW[f] (C x K) = X[f]^T @ G[f]``, where ``G`` is the
  spectrum of each output-gradient tile reversed circularly (a correlation
  is a convolution with the reversed signal), summed over images and tiles
  by the same product; one inverse per filter and channel pair.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ._fft_geometry import fast_lengths, length_penalty, predicted_cost
from ._fftw_planning import make_plans, pyfftw
from ._layer_base import LayerPrepared
from ._layer_gemm import StackedProducts, limit_blas
from ._layer_loops import pad_into
from ._layers import data_gradient_padding, oriented, output_shape
from ._problem import Problem

_FM = {"contract"}

# Seconds per unit of the cost model, measured on a 2-core AMD Zen 5 VM (float32, 2 threads, 8x8 to 24x24
# transforms, 64 to 256 channels, OpenBLAS on Haswell kernels): a 2-D real-to-complex transform with
# frequency-major output takes 0.15 ns per unit of ``predicted_cost``; a complex multiply-add in numpy's
# batched cgemm 0.07 ns with 128 rows per frequency, 0.10 ns with 9 to 32, 0.29 ns with one (each
# frequency's C x K matrix then read for a single product): 0.065 ns x (1 + 4 / rows). Only their ratio
# matters to the choice of tiles; bench/fft_layers.py prints predicted over measured (0.4-1.7).
_TRANSFORM_UNIT = 0.15e-9
_PRODUCT_UNIT = 0.065e-9
_THIN_ROWS = 4.0


def _tile_lengths(extent: int, kernel: int) -> list[int]:
    """Transform lengths along one axis: FFT-friendly lengths from twice the kernel up to the whole padded extent."""
    if extent == 1:
        return [1]
    whole = min(fast_lengths(extent), key=lambda n: n * math.log2(n) * length_penalty(n))
    low = min(2 * kernel, whole)
    return [n for n in fast_lengths(low, whole) if length_penalty(n) <= 1.2] + [whole]


def tile_count(out_shape: tuple[int, int], kernel_shape: tuple[int, int], fft: tuple[int, int]) -> tuple[int, int]:
    """Overlap-save tiles per axis: outputs of ``n - k + 1`` per tile of transform length ``n``."""
    return tuple(-(-o // (n - k + 1)) for o, k, n in zip(out_shape, kernel_shape, fft))


def transform_counts(problem: Problem, tiles: int) -> tuple[int, int, int]:
    """``(sources, filters, outputs)``: the transforms one call makes at ``tiles`` tiles per image."""
    b, c, k = problem.batch, problem.in_channels, problem.out_channels
    if problem.pass_ == "forward":
        return b * tiles * c, k * c, b * tiles * k
    if problem.pass_ == "backward-data":
        return b * tiles * k, k * c, b * tiles * c
    return b * tiles * c, b * tiles * k, k * c


def work_units(problem: Problem, fft: tuple[int, int] | None = None) -> float:
    """One call's work in units of one 2-D transform's ``predicted_cost``: transforms plus weighted products.

    The products' weight is what a complex multiply-add costs against a unit of
    transform (:data:`_PRODUCT_UNIT` over :data:`_TRANSFORM_UNIT`); the cost
    models of :mod:`harness.analyse.layer_models` fit one slope to it.
    """
    return predicted_seconds(problem, fft or choose_tile(problem)) / _TRANSFORM_UNIT


def predicted_seconds(problem: Problem, fft: tuple[int, int]) -> float:
    """The cost model's seconds for one call with transforms of shape ``fft`` (for choosing, not reporting)."""
    ty, tx = tile_grid(problem, fft)
    rows = problem.batch * ty * tx
    transforms = sum(transform_counts(problem, ty * tx))
    frequencies = fft[0] * (fft[1] // 2 + 1)
    macs = rows * problem.in_channels * problem.out_channels * frequencies
    # backward-weights sums over the rows: its products are C x K, whatever the rows.
    thin = _THIN_ROWS / rows if problem.pass_ != "backward-weights" else 0.0
    return transforms * predicted_cost(fft) * _TRANSFORM_UNIT + macs * _PRODUCT_UNIT * (1.0 + thin)


def choose_tile(problem: Problem) -> tuple[int, int]:
    """The transform shape of least predicted cost: overlap-save tiles, or the whole padded image."""
    extent = _correlation_source(problem)
    options = [_tile_lengths(e, k) for e, k in zip(extent, problem.kernel_shape)]
    return min(((a, b) for a in options[0] for b in options[1]), key=lambda fft: predicted_seconds(problem, fft))


def _correlation_source(problem: Problem) -> tuple[int, int]:
    """The padded extent the pass's valid correlation runs over."""
    return data_gradient_padding(problem)[1] if problem.pass_ == "backward-data" else problem.padded_shape


def _correlation_out(problem: Problem) -> tuple[int, int]:
    """The valid correlation's output extent: the tiles cover it (the output gradients for backward-weights)."""
    return tuple(s - k + 1 for s, k in zip(_correlation_source(problem), problem.kernel_shape))


def tile_grid(problem: Problem, fft: tuple[int, int]) -> tuple[int, int]:
    """Overlap-save tiles per axis over the pass's valid correlation, at transforms of shape ``fft``."""
    return tile_count(_correlation_out(problem), problem.kernel_shape, fft)


class TileGeometry(NamedTuple):
    """Where a pass's overlap-save tiles lie (see :func:`tile_geometry`)."""

    tiles: tuple[int, int]
    step: tuple[int, int]
    offset: tuple[int, int]
    extent: tuple[int, int]


def tile_geometry(problem: Problem, fft: tuple[int, int]) -> TileGeometry:
    """Where a pass's overlap-save tiles lie, at transforms of shape ``fft``.

    Returns
    -------
    TileGeometry
        ``tiles`` per axis; ``step``, the outputs each tile gives per axis;
        ``offset``, where the pass's source sits in its zero buffer; ``extent``,
        that buffer's size rounded up to whole tiles (what lies past the
        padding stays zero).
    """
    tiles = tile_grid(problem, fft)
    step = tuple(n - k + 1 for n, k in zip(fft, problem.kernel_shape))
    offset = data_gradient_padding(problem)[0] if problem.pass_ == "backward-data" else problem.pad_before
    extent = tuple(t * s + k - 1 for t, s, k in zip(tiles, step, problem.kernel_shape))
    return TileGeometry(tiles, step, offset, extent)


def overlapping_tiles(xp, padded, tiles: tuple[int, int], step: tuple[int, int], fft: tuple[int, int]):
    """A view ``(B, ty, tx, S, n, m)`` of ``padded`` ``(B, S, H, W)``: tile ``(i, j)`` starts at ``(i, j) * step``.

    ``xp`` is the array module (numpy or CuPy). The tiles overlap by ``n - step``
    rows (``m - step`` columns): a transform may read them, nothing may write them.
    """
    sb, ss, sh, sw = padded.strides
    shape = (padded.shape[0], padded.shape[1], *tiles, *fft)
    view = xp.lib.stride_tricks.as_strided(padded, shape, (sb, ss, step[0] * sh, step[1] * sw, sh, sw))
    return view.transpose(0, 2, 3, 1, 4, 5)


@njit(cache=True)
def _tile_origin(t, maps, per_image, tiles_w, step_h, step_w):
    """Work item ``t`` of a loop over (tile, map): ``(tile row p, map, image, first row, first column)``."""
    p, k = t // maps, t % maps
    tile = p % per_image
    return p, k, p // per_image, (tile // tiles_w) * step_h, (tile % tiles_w) * step_w


# Filters per parallel task of :func:`place_taps_major`, and the padding between its planes.
PLACE_BLOCK = 16
PLANE_PAD = 16


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def place_taps_major(filters, maps, scale, flip):
    """``maps[i, j, k * C + c] = scale * filters[k, c, i', j']``, ``(i', j')`` flipped on both axes if ``flip``.

    ``filters`` is K x C x kh x kw, C-contiguous; ``maps`` is n x m x (K C),
    zero outside its ``kh x kw`` corner. Taps-major with the filters
    innermost, one 2-D transform of ``maps`` over its first two axes is a
    batch of K C transforms that FFTW vectorises across filters and writes
    frequency-major in place. Each filter is read whole and written across
    the planes, parallel over blocks of :data:`PLACE_BLOCK` filters. The
    planes must not lie a multiple of 4 KB apart (:data:`PLANE_PAD`): writes
    to 9-49 planes 256 KB apart ran 15x slower, their addresses aliasing.
    Written in the filters' order only: read transposed (C x K), the blocks
    ran 1.5-4x slower.
    """
    targets, sources, kh, kw = filters.shape
    count = targets * sources
    flat = filters.reshape(count, kh * kw)
    for t in prange((count + PLACE_BLOCK - 1) // PLACE_BLOCK):
        for f in range(t * PLACE_BLOCK, min(t * PLACE_BLOCK + PLACE_BLOCK, count)):
            for i in range(kh):
                for j in range(kw):
                    maps[i, j, f] = scale * flat[f, (kh - 1 - i) * kw + kw - 1 - j if flip else i * kw + j]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def gather_reversed(grads, tiles, step_h, step_w, tiles_w, scale):
    """Output-gradient tiles reversed circularly and scaled: ``tiles[p, k, -y mod n, -x mod m] = scale * g``.

    Each tile holds the ``step_h x step_w`` gradients it covers (fewer at the
    far edges); the rest of it is zero from allocation and never written.
    """
    batch, maps, oh, ow = grads.shape
    per_image, n, m = tiles.shape[0] // batch, tiles.shape[2], tiles.shape[3]
    for t in prange(batch * per_image * maps):
        p, k, b, y0, x0 = _tile_origin(t, maps, per_image, tiles_w, step_h, step_w)
        width = min(step_w, ow - x0)
        for y in range(min(step_h, oh - y0)):
            source, target = grads[b, k, y0 + y, x0 : x0 + width], tiles[p, k, n - y if y else 0]
            target[0] = scale * source[0]
            for x in range(1, width):  # no modulo in the loop: a reversed run (2x faster)
                target[m - x] = scale * source[x]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def scatter_tiles(tiles, out, top, left, tiles_w):
    """``out[b, k]``'s tile ``(ty, tx)`` from ``tiles[(b, ty, tx), k, top:, left:]``, cropped at the far edges."""
    batch, maps, oh, ow = out.shape
    per_image, n, m = tiles.shape[0] // batch, tiles.shape[2], tiles.shape[3]
    step_h, step_w = n - top, m - left
    for t in prange(batch * per_image * maps):
        p, k, b, y0, x0 = _tile_origin(t, maps, per_image, tiles_w, step_h, step_w)
        for y in range(min(step_h, oh - y0)):
            for x in range(min(step_w, ow - x0)):
                out[b, k, y0 + y, x0 + x] = tiles[p, k, top + y, left + x]


def _frequency_major(shape: tuple[int, int], rows: int, columns: int, dtype, transpose: bool = False):
    """A spectra buffer ``(fh, fw, rows, columns)`` and its view ``(rows, columns, fh, fw)`` for FFTW to write.

    With ``transpose`` the view is ``(columns, rows, fh, fw)``.
    """
    buffer = pyfftw.empty_aligned((shape[0], shape[1] // 2 + 1, rows, columns), dtype)
    return buffer, buffer.transpose((3, 2, 0, 1) if transpose else (2, 3, 0, 1))


class FftLayer(LayerPrepared):
    """One pass of a layer by FFTs with transform reuse (see the module docstring).

    Parameters
    ----------
    problem : Problem
        The layer and its pass.
    first, second : ndarray
        The pass's inputs.
    planner : str
        FFTW planner effort.
    filters_once : bool
        Transform the filters in ``prepare`` (fixed weights, as in inference);
        ``forward`` and ``backward-data`` only.
    fft : tuple of int, optional
        The transform shape; :func:`choose_tile`'s by default.
    """

    def __init__(
        self,
        problem: Problem,
        first: np.ndarray,
        second: np.ndarray,
        planner: str,
        filters_once: bool = False,
        fft: tuple[int, int] | None = None,
    ):
        if filters_once and problem.pass_ == "backward-weights":
            raise ValueError("backward-weights has no fixed filters to transform once")
        super().__init__(problem, first, second)
        self.filters_once = filters_once
        self.fft = fft = tuple(fft or choose_tile(problem))
        weights = problem.pass_ == "backward-weights"
        self._tiles, self._step, self._offset, extent = tile_geometry(problem, fft)
        per_image = self._tiles[0] * self._tiles[1]
        rows = problem.batch * per_image
        c, k = problem.in_channels, problem.out_channels
        sources, targets = (k, c) if problem.pass_ == "backward-data" else (c, k)
        real = problem.np_dtype
        cplx = np.result_type(real, np.complex64)
        scale = 1.0 / (fft[0] * fft[1])  # FFTW's inverse is unnormalised
        self._scale = real.type(scale)
        with self.stage("alloc"):
            self._padded = pyfftw.zeros_aligned((problem.batch, sources, *extent), real)
            self._x = _frequency_major(fft, rows, sources, cplx)[0]
            # FFTW reads the overlapping tiles in place (gathering them first cost as much as their transforms)
            # and writes their spectra frequency-major: (B, ty, tx, S, fh, fw) views of both.
            tiles = overlapping_tiles(np, self._padded, self._tiles, self._step, fft)
            x_view = self._x.reshape(*self._x.shape[:2], *tiles.shape[:4]).transpose(2, 3, 4, 5, 0, 1)
            if weights:
                self._grad_tiles = pyfftw.zeros_aligned((rows, targets, *fft), real)
                self._g, g_view = _frequency_major(fft, rows, targets, cplx)
                # dW's spectra frequency-major, (fh, fw, C, K): one batched inverse, vectorised across the C K
                # filters, writes them taps-major, (n, m, C K) (25-30 % faster than C K strided inverses).
                self._d = pyfftw.empty_aligned((fft[0], fft[1] // 2 + 1, sources, targets), cplx)
                d_view = self._d.reshape(*self._d.shape[:2], sources * targets)
                self._spatial = pyfftw.empty_aligned((*fft, sources * targets + PLANE_PAD), real)[:, :, :-PLANE_PAD]
                transforms = {
                    "sources": (tiles, x_view, (4, 5), False),
                    "second": (self._grad_tiles, g_view, (2, 3), False),
                    "inverse": (d_view, self._spatial, (0, 1), True),
                }
            else:
                # The filters taps-major: one batched transform writes their spectra frequency-major in the
                # filters' order, (fh, fw, K, C). Forward's products then run transposed, Y^T = W X^T, their
                # output (fh, fw, K, rows): reading W transposed instead cost its products 1.3-1.55x.
                self._filter_maps = pyfftw.zeros_aligned((*fft, k * c + PLANE_PAD), real)[:, :, : k * c]
                self._w = pyfftw.empty_aligned((fft[0], fft[1] // 2 + 1, k, c), cplx)
                w_view = self._w.reshape(*self._w.shape[:2], k * c)
                forward = problem.pass_ == "forward"
                self._y, y_view = _frequency_major(fft, *((targets, rows) if forward else (rows, targets)), cplx,
                                                   transpose=forward)  # fmt: skip
                self._spatial = pyfftw.empty_aligned((rows, targets, *fft), real)
                self._out = np.empty(output_shape(problem), real)
                transforms = {
                    "sources": (tiles, x_view, (4, 5), False),
                    "second": (self._filter_maps, w_view, (0, 1), False),
                    "inverse": (y_view, self._spatial, (2, 3), True),
                }
        # The products' operands, frequency-major: backward-data (F, rows, K) @ (F, K, C); forward transposed,
        # (F, K, C) @ (F, C, rows); the weights (F, sources, rows) @ (F, rows, targets).
        frequencies = self._x.shape[0] * self._x.shape[1]
        x = self._x.reshape(frequencies, rows, sources)
        if weights:
            operands = (x.transpose(0, 2, 1), self._g.reshape(frequencies, rows, targets),
                        self._d.reshape(frequencies, sources, targets))  # fmt: skip
        else:
            w, y = self._w.reshape(frequencies, k, c), self._y.reshape(frequencies, *self._y.shape[2:])
            operands = (w, x.transpose(0, 2, 1), y) if problem.pass_ == "forward" else (x, w, y)
        self._products = StackedProducts(*operands, problem.threads)
        with self.stage("plan"):
            self.plans = make_plans(transforms, planner, problem.threads)
        # Measuring planners scribble over their buffers: the zeros the tiles rely on are set after planning.
        self._padded[...] = 0
        if weights:
            self._grad_tiles[...] = 0
        else:
            self._filter_maps[...] = 0
        self.notes = limit_blas(problem.threads) + f"; transforms {fft[0]}x{fft[1]}, {per_image} tiles per image"
        if filters_once:
            self.notes += "; filters transformed once, in prepare"
        with self.stage("compile"):
            if filters_once:  # the calls skip the filters: their spectra must exist before the first
                self._transform_filters()
            self._run()
        with self.stage("plan"):  # on the spectra of the inputs, which the compiling call left in the buffers
            self.notes += self._products.choose()
        if filters_once:
            with self.stage("kernel_spectrum"):
                self._transform_filters()

    def _transform_filters(self) -> None:
        # Correlating is convolving with the reversed filter; the inverse's 1/size is folded in here (C K n^2).
        problem = self.problem
        flip = (problem.pass_ == "forward") == (problem.op == "corr")  # net of the op's and the pass's flips
        place_taps_major(self.second, self._filter_maps, self._scale, flip)
        self.plans["second"].execute()

    def _run(self) -> None:
        top, left = self._offset
        pad_into(self.first, self._padded, top, left)
        self.plans["sources"].execute()
        if self.problem.pass_ == "backward-weights":
            gather_reversed(self.second, self._grad_tiles, *self._step, self._tiles[1], self._scale)
            self.plans["second"].execute()
            self._products()
            self.plans["inverse"].execute()
            return
        if not self.filters_once:
            self._transform_filters()
        self._products()
        self.plans["inverse"].execute()
        kh, kw = self.problem.kernel_shape
        scatter_tiles(self._spatial, self._out, kh - 1, kw - 1, self._tiles[1])

    def _output(self) -> np.ndarray:
        if self.problem.pass_ == "backward-weights":
            kh, kw = self.problem.kernel_shape
            corner = self._spatial[:kh, :kw].reshape(kh, kw, *self._d.shape[2:])  # (kh, kw, C, K)
            return oriented(self.problem, corner.transpose(3, 2, 0, 1))
        return self._out


def call_transforms(problem: Problem, filters_once: bool = False) -> tuple[int, tuple[int, int]]:
    """``(count, shape)``: the transforms one call of :class:`FftLayer` makes, and their shape."""
    fft = choose_tile(problem)
    tiles = tile_grid(problem, fft)
    sources, second, outputs = transform_counts(problem, tiles[0] * tiles[1])
    return sources + outputs + (0 if filters_once else second), fft


def layer_bytes(problem: Problem, fft: tuple[int, int] | None = None) -> int:
    """The buffers :class:`FftLayer` allocates (each real map, its spectrum, the padded input), for the memory guard."""
    fft = tuple(fft or choose_tile(problem))
    tiles, _, _, extent = tile_geometry(problem, fft)
    maps = sum(transform_counts(problem, tiles[0] * tiles[1]))
    frequencies = fft[0] * (fft[1] // 2 + 1)
    padded = problem.batch * max(problem.in_channels, problem.out_channels) * math.prod(extent)
    return problem.np_dtype.itemsize * (maps * (math.prod(fft) + 2 * frequencies) + padded)
