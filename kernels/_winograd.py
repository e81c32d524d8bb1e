"""Winograd minimal filtering for 3x3 layers, F(2x2, 3x3) and F(4x4, 3x3) (Lavin and Gray, arXiv 1509.09308).

An output tile of m x m is computed from an input tile of a x a (a = m + 2) as
``Y = A^T [ (G g G^T) * (B^T d B) ] A``: the products of all a^2 positions are
multiplications instead of the direct method's 9 m^2. Across channels the
pointwise products become a^2 matrix products, ``M[xi] = V[xi] (tiles x C)
@ U[xi] (C x K)``, which numpy's matmul runs on BLAS. The three transforms are
Numba loops over channels-last data (the images are copied channels-last as
they are padded), so their innermost loops run along the channels and
vectorise; the filter transform is part of the timed call (in training the
weights change every step).

``forward`` runs on the padded images; ``backward-data`` is the same
computation on the padded output gradients with the filters flipped and their
channels transposed (:func:`kernels._layers.data_gradient_filters`), as for the
direct layer. ``backward-weights`` is not a 3x3 filter of the inputs and is not
done here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._layer_direct import LayerPrepared
from ._layer_gemm import limit_blas, stacked_matmul
from ._layers import correlation_filters, data_gradient_padding, output_shape
from ._problem import Problem

# The transforms of Lavin and Gray (their equations 7 and 9-11): B^T, G and A^T for each output tile size m.
_F2 = (
    [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
    [[1, 1, 1, 0], [0, 1, -1, -1]],
)
_F4 = (
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
)
TRANSFORMS = {2: _F2, 4: _F4}
_FM = {"contract"}


def transforms(tile: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(B^T, G, A^T)`` of F(tile x tile, 3x3) in ``dtype``."""
    if tile not in TRANSFORMS:
        raise ValueError(f"Winograd output tile {tile!r}; acceptable tiles are 2 and 4")
    return tuple(np.array(m, dtype=dtype) for m in TRANSFORMS[tile])


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def pad_channels_last(src, dst, top, left):
    """``dst[b, top + y, left + x, c] = src[b, c, y, x]``: the padded images with the channels innermost."""
    batch, channels, h, w = src.shape
    for t in prange(batch * h):
        b, y = t // h, t % h
        for x in range(w):
            for c in range(channels):
                dst[b, top + y, left + x, c] = src[b, c, y, x]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def filter_transform(w, g_matrix, u):
    """``u[(i, j), c, k] = (G w[k, c] G^T)[i, j]``; parallel over input channels.

    Each channel's kernels are first gathered filters-last, so both products
    with ``G`` run along the filters and vectorise, and ``u``'s rows are
    written whole (kernel by kernel, the transform of 512 x 512 kernels took
    longer than the channel products).
    """
    filters, channels = w.shape[0], w.shape[1]
    a = g_matrix.shape[0]
    for c in prange(channels):
        kernel = np.empty((3, 3, filters), u.dtype)
        half = np.empty((a, 3, filters), u.dtype)
        for k in range(filters):
            for r in range(3):
                for j in range(3):
                    kernel[r, j, k] = w[k, c, r, j]
        for i in range(a):
            g0, g1, g2 = g_matrix[i, 0], g_matrix[i, 1], g_matrix[i, 2]
            for j in range(3):
                for k in range(filters):
                    half[i, j, k] = g0 * kernel[0, j, k] + g1 * kernel[1, j, k] + g2 * kernel[2, j, k]
        for i in range(a):
            for jj in range(a):
                g0, g1, g2 = g_matrix[jj, 0], g_matrix[jj, 1], g_matrix[jj, 2]
                for k in range(filters):
                    u[i * a + jj, c, k] = half[i, 0, k] * g0 + half[i, 1, k] * g1 + half[i, 2, k] * g2


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def input_transform(xp, bt, v, tiles_h, tiles_w):
    """``v[(i, j), (b, tile), c] = (B^T d B)[i, j]`` for every a x a input tile ``d`` (tiles overlap by 2).

    The images are channels-last (:func:`pad_channels_last`), so every
    innermost loop runs along the channels: it vectorises, and each tile's
    a^2 results are written as contiguous rows of ``v``. Zero coefficients of
    ``B^T`` (half of F(4x4, 3x3)'s) are skipped. Parallel over rows of tiles.
    """
    batch, channels = xp.shape[0], xp.shape[3]
    a = bt.shape[0]
    m = a - 2
    for t in prange(batch * tiles_h):
        b, th = t // tiles_h, t % tiles_h
        half = np.empty((a, a, channels), v.dtype)
        y0 = th * m
        for tw in range(tiles_w):
            x0 = tw * m
            for i in range(a):
                for x in range(a):
                    for c in range(channels):
                        half[i, x, c] = 0
                    for r in range(a):
                        coef = bt[i, r]
                        if coef != 0:
                            for c in range(channels):
                                half[i, x, c] += coef * xp[b, y0 + r, x0 + x, c]
            p = (b * tiles_h + th) * tiles_w + tw
            for i in range(a):
                for j in range(a):
                    xi = i * a + j
                    for c in range(channels):
                        v[xi, p, c] = 0
                    for r in range(a):
                        coef = bt[j, r]
                        if coef != 0:
                            for c in range(channels):
                                v[xi, p, c] += coef * half[i, r, c]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def output_transform(mm, at, out, tiles_h, tiles_w):
    """``out[b, :, y, x]`` tile by tile: ``A^T M A`` of each tile's a x a product rows, cropped at the edges.

    ``mm[(i, j), (b, tile), k]`` holds the products; the innermost loops run
    along the filters ``k``. Parallel over rows of tiles.
    """
    batch, filters, oh, ow = out.shape
    m, a = at.shape
    for t in prange(batch * tiles_h):
        b, th = t // tiles_h, t % tiles_h
        half = np.empty((m, a, filters), out.dtype)
        pixel = np.empty(filters, out.dtype)
        for tw in range(tiles_w):
            p = (b * tiles_h + th) * tiles_w + tw
            for i in range(m):
                for j in range(a):
                    for k in range(filters):
                        half[i, j, k] = 0
                    for r in range(a):
                        coef = at[i, r]
                        if coef != 0:
                            for k in range(filters):
                                half[i, j, k] += coef * mm[r * a + j, p, k]
            for i in range(min(m, oh - th * m)):
                y = th * m + i
                for jj in range(min(m, ow - tw * m)):
                    x = tw * m + jj
                    for k in range(filters):
                        pixel[k] = 0
                    for r in range(a):
                        coef = at[jj, r]
                        if coef != 0:
                            for k in range(filters):
                                pixel[k] += coef * half[i, r, k]
                    for k in range(filters):
                        out[b, k, y, x] = pixel[k]


class WinogradLayer(LayerPrepared):
    """``forward`` or ``backward-data`` of a layer with 3x3 filters by F(tile x tile, 3x3).

    With ``filters_once`` the filter transform runs once, in ``prepare`` (its
    seconds in ``setup_seconds["filter_transform"]``), as an inference engine
    prepacks constant weights; by default every call transforms them, as a
    training step must.

    Raises
    ------
    ValueError
        For other kernel sizes, ``backward-weights``, or a tile other than 2 or 4.
    """

    def __init__(
        self, problem: Problem, first: np.ndarray, second: np.ndarray, tile: int = 4, filters_once: bool = False
    ):
        if problem.kernel_shape != (3, 3):
            kh, kw = problem.kernel_shape
            raise ValueError(f"Winograd F(m, 3x3) needs 3x3 filters, got {kh}x{kw}")
        if problem.pass_ == "backward-weights":
            raise ValueError("Winograd F(m, 3x3) does forward and backward-data; backward-weights is not a 3x3 filter")
        super().__init__(problem, first, second)
        self.tile, self.filters_once = tile, filters_once
        dtype = problem.np_dtype
        self._bt, self._g, self._at = transforms(tile, dtype)
        a = tile + 2
        oh, ow = output_shape(problem)[2:]
        self._tiles = (-(-oh // tile), -(-ow // tile))
        tiles = problem.batch * self._tiles[0] * self._tiles[1]
        if problem.pass_ == "forward":
            sources, targets, self._offset = problem.in_channels, problem.out_channels, problem.pad_before
        else:
            sources, targets = problem.out_channels, problem.in_channels
            self._offset = data_gradient_padding(problem)[0]
        with self.stage("alloc"):
            # The padded input, rounded up to whole tiles; the rows and columns past it stay zero.
            rows, cols = self._tiles[0] * tile + 2, self._tiles[1] * tile + 2
            self._padded = np.zeros((problem.batch, rows, cols, sources), dtype)  # channels last
            self._filters = np.empty((targets, sources, 3, 3), dtype)
            self._u = np.empty((a * a, sources, targets), dtype)
            self._v = np.empty((a * a, tiles, sources), dtype)
            self._m = np.empty((a * a, tiles, targets), dtype)
            self._out = np.empty(output_shape(problem), dtype)
        self.notes = limit_blas(problem.threads) + ("; filters transformed once, in prepare" if filters_once else "")
        with self.stage("compile"):
            self._transform_filters()
            self._run()
        if filters_once:
            with self.stage("filter_transform"):
                self._transform_filters()

    def _transform_filters(self) -> None:
        self._filters[...] = correlation_filters(self.problem, self.second)
        filter_transform(self._filters, self._g, self._u)

    def _run(self) -> None:
        top, left = self._offset
        pad_channels_last(self.first, self._padded, top, left)
        if not self.filters_once:
            self._transform_filters()
        input_transform(self._padded, self._bt, self._v, *self._tiles)
        stacked_matmul(self._v, self._u, self._m, self.problem.threads)
        output_transform(self._m, self._at, self._out, *self._tiles)

    def _output(self) -> np.ndarray:
        return self._out
