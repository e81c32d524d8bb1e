"""Winograd minimal filtering for 3x3 layers, F(2x2, 3x3) and F(4x4, 3x3) (Lavin and Gray, arXiv 1509.09308).

An output tile of m x m is computed from an input tile of a x a (a = m + 2) as
``Y = A^T [ (G g G^T) * (B^T d B) ] A``: the products of all a^2 positions are
multiplications instead of the direct method's 9 m^2. Across channels the
pointwise products become a^2 matrix products, ``M[xi] = U[xi] (K x C) @
V[xi] (C x tiles)``, which numpy's matmul runs on BLAS. The three transforms
are Numba loops, parallel over (image, channel) or (image, filter); the filter
transform is part of the timed call (in training the weights change every step).

``forward`` runs on the padded images; ``backward-data`` is the same
computation on the padded output gradients with the filters flipped and their
channels transposed (:func:`kernels._layers.data_gradient_filters`), as for the
direct layer. ``backward-weights`` is not a 3x3 filter of the inputs and is not
done here.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ._base import PreparedBase
from ._layer_direct import check_layer_inputs
from ._layer_gemm import limit_blas
from ._layer_loops import pad_into
from ._layers import data_gradient_filters, data_gradient_padding, oriented, output_shape
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
def filter_transform(w, g_matrix, u):
    """``u[(i, j), k, c] = (G w[k, c] G^T)[i, j]``; parallel over filters.

    One filter's a^2 x C values are gathered in a local block and written as
    a^2 contiguous rows: written in place, each kernel's a^2 values landed K x C
    elements apart, and the transform of 512 x 512 kernels took longer than the products.
    """
    filters, channels = w.shape[0], w.shape[1]
    a = g_matrix.shape[0]
    for k in prange(filters):
        half = np.empty((a, 3), u.dtype)
        block = np.empty((a * a, channels), u.dtype)
        for c in range(channels):
            for i in range(a):
                g0, g1, g2 = g_matrix[i, 0], g_matrix[i, 1], g_matrix[i, 2]
                for j in range(3):
                    half[i, j] = g0 * w[k, c, 0, j] + g1 * w[k, c, 1, j] + g2 * w[k, c, 2, j]
            for i in range(a):
                for j in range(a):
                    g0, g1, g2 = g_matrix[j, 0], g_matrix[j, 1], g_matrix[j, 2]
                    block[i * a + j, c] = half[i, 0] * g0 + half[i, 1] * g1 + half[i, 2] * g2
        for xi in range(a * a):
            for c in range(channels):
                u[xi, k, c] = block[xi, c]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def input_transform(xp, bt, v, tiles_h, tiles_w):
    """``v[(i, j), c, (b, tile)] = (B^T d B)[i, j]`` for every a x a input tile ``d`` (tiles overlap by 2).

    A row of tiles at a time: ``B^T`` runs down the columns of the whole row
    once (the overlapping tiles share it), then ``B`` across each tile. Every
    innermost loop runs along pixels or tiles, so it vectorises, and the zero
    coefficients of ``B^T`` are skipped (half of F(4x4, 3x3)'s).
    """
    batch, channels, width = xp.shape[0], xp.shape[1], xp.shape[3]
    a = bt.shape[0]
    m = a - 2
    for t in prange(batch * channels):
        b, c = t // channels, t % channels
        half = np.empty((a, width), v.dtype)
        row = np.empty(tiles_w, v.dtype)
        for th in range(tiles_h):
            y0 = th * m
            for i in range(a):
                half[i, :] = 0
                for r in range(a):
                    coef = bt[i, r]
                    if coef != 0:
                        for x in range(width):
                            half[i, x] += coef * xp[b, c, y0 + r, x]
            p0 = (b * tiles_h + th) * tiles_w
            for i in range(a):
                for j in range(a):
                    row[:] = 0
                    for r in range(a):
                        coef = bt[j, r]
                        if coef != 0:
                            for tw in range(tiles_w):
                                row[tw] += coef * half[i, tw * m + r]
                    for tw in range(tiles_w):
                        v[i * a + j, c, p0 + tw] = row[tw]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def output_transform(mm, at, out, tiles_h, tiles_w):
    """``out[b, k]`` a row of tiles at a time: ``A^T M A`` of each tile's a x a products, cropped at the edges.

    As in :func:`input_transform`, the innermost loops run along the tiles of a row and skip zero coefficients.
    """
    batch, filters, oh, ow = out.shape
    m, a = at.shape
    for t in prange(batch * filters):
        b, k = t // filters, t % filters
        half = np.empty((m, a, tiles_w), out.dtype)
        row = np.empty(tiles_w, out.dtype)
        for th in range(tiles_h):
            p0 = (b * tiles_h + th) * tiles_w
            for i in range(m):
                for j in range(a):
                    half[i, j, :] = 0
                    for r in range(a):
                        coef = at[i, r]
                        if coef != 0:
                            for tw in range(tiles_w):
                                half[i, j, tw] += coef * mm[r * a + j, k, p0 + tw]
            for i in range(min(m, oh - th * m)):
                y = th * m + i
                for jj in range(m):
                    row[:] = 0
                    for r in range(a):
                        coef = at[jj, r]
                        if coef != 0:
                            for tw in range(tiles_w):
                                row[tw] += coef * half[i, r, tw]
                    for tw in range(tiles_w):
                        x = tw * m + jj
                        if x < ow:
                            out[b, k, y, x] = row[tw]


class WinogradLayer(PreparedBase):
    """``forward`` or ``backward-data`` of a layer with 3x3 filters by F(tile x tile, 3x3).

    Raises
    ------
    ValueError
        For other kernel sizes, ``backward-weights``, or a tile other than 2 or 4.
    """

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray, tile: int = 4):
        super().__init__()
        if problem.kernel_shape != (3, 3):
            kh, kw = problem.kernel_shape
            raise ValueError(f"Winograd F(m, 3x3) needs 3x3 filters, got {kh}x{kw}")
        if problem.pass_ == "backward-weights":
            raise ValueError("Winograd F(m, 3x3) does forward and backward-data; backward-weights is not a 3x3 filter")
        self.problem, self.tile = problem, tile
        self.first, self.second = check_layer_inputs(problem, first, second)
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
            self._padded = np.zeros((problem.batch, sources, rows, cols), dtype)
            self._filters = np.empty((targets, sources, 3, 3), dtype)
            self._u = np.empty((a * a, targets, sources), dtype)
            self._v = np.empty((a * a, sources, tiles), dtype)
            self._m = np.empty((a * a, targets, tiles), dtype)
            self._out = np.empty(output_shape(problem), dtype)
        self.notes = limit_blas(problem.threads)
        with self.stage("compile"):
            self._run()

    def _run(self) -> None:
        top, left = self._offset
        pad_into(self.first, self._padded, top, left)
        if self.problem.pass_ == "forward":
            self._filters[...] = oriented(self.problem, self.second)
        else:
            self._filters[...] = data_gradient_filters(self.problem, self.second)
        filter_transform(self._filters, self._g, self._u)
        input_transform(self._padded, self._bt, self._v, *self._tiles)
        np.matmul(self._u, self._v, out=self._m)
        output_transform(self._m, self._at, self._out, *self._tiles)

    def __call__(self) -> None:
        if numba.get_num_threads() != self.problem.threads:
            numba.set_num_threads(self.problem.threads)
        self._run()

    def result(self) -> np.ndarray:
        return self._out.copy()
