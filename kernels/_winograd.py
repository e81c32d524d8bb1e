"""Winograd minimal filtering for 3x3 layers, F(2x2, 3x3) and F(4x4, 3x3) (Lavin and Gray, arXiv 1509.09308).

An output tile of m x m is computed from an input tile of a x a (a = m + 2) as
``Y = A^T [ (G g G^T) * (B^T d B) ] A``: the products of all a^2 positions are
multiplications instead of the direct method's 9 m^2. Across channels the
pointwise products become a^2 matrix products, ``M[xi] = V[xi] (tiles x C)
@ U[xi] (C x K)``, which numpy's matmul runs on BLAS, or our own
register-blocked kernel on the filters transformed channels innermost
(:mod:`kernels._inner_products`; nothing packed, no BLAS). The three transforms are
Numba loops over channels-last data (the images are copied channels-last as
they are padded), so their innermost loops run along the channels and
vectorise; the filter transform is part of the timed call (in training the
weights change every step). It may run inside our own products, a block of
filters at a time in cache (:func:`products_by_filter_blocks`): on a deep
layer with few tiles, writing the a^2 planes of transformed filters and
reading them back cost more than the products.

``forward`` runs on the padded images; ``backward-data`` is the same
computation on the padded output gradients with the filters flipped and their
channels transposed (:func:`kernels._layers.data_gradient_filters`), as for the
direct layer. ``backward-weights`` is the same algorithm's adjoint in the
filters: differentiating ``Y = A^T [U * V] A`` with respect to the filter
gives ``dW = G^T [(A dY A^T) * V] G`` (Lavin and Gray's F(3x3, m x m) for the
weight gradient), so each m x m tile of output gradients is transformed with
``A``, each a x a input tile with ``B^T`` as in the forward pass, the a^2
products ``M[xi] = V[xi]^T (C x tiles) @ Q[xi] (tiles x K)`` sum over the
images and tiles, and ``G^T M G`` gives each 3x3 gradient.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._inner_products import _region, stacked_products_abt
from ._layer_base import LayerPrepared
from ._layer_gemm import StackedProducts, keep_fastest, limit_blas, one_blas_thread
from ._layer_loops import pad_channels_last
from ._layers import correlation_filters, data_gradient_padding, oriented, output_shape
from ._parallel import numba_blas_available
from ._problem import Problem
from ._winograd_fused import (
    OUTPUT_CHANNELS,
    fused_f4,
    fused_weights_f4,
    input_transform_f4,
    kernel_gradients_f4,
    kernel_transforms_f4,
    output_transform_f4,
    staged_f4,
    staged_weights_f4,
    weight_output_f4,
)

# Tiles per chunk tried for the chunked F(4x4) (:mod:`kernels._winograd_fused`): V and M of a 64 x 64 layer's
# chunk of 32 are 590 KB, within a core's L2 on the machines measured; fewer tiles keep both workers busy on
# small images.
FUSED_CHUNKS = (16, 32, 64)
# The other ways F(4x4) may run: numpy's stages (Numba transforms, then the products on BLAS's threads), the
# same stages in one Numba call with BLAS called from Numba's threads (no hand-over of the cores between pools), or
# the stages with the products by convbench's own kernels (no BLAS, nothing packed: forward and backward-data by
# :mod:`kernels._inner_products`, the weight gradient's summed in blocks by :func:`summed_weight_transform`), and,
# for forward and backward-data with the filters transformed in each call, the own products with the filter
# transform inside them, block by block (:func:`products_by_filter_blocks`).
WAYS = ("stages", "one call", "own products", "filter blocks")
# Ways whose filter transform runs inside the products: none for backward-weights or filters transformed once.
_PER_CALL_WAYS = ("filter blocks",)
# Ways that call BLAS from Numba (``np.dot``), which needs SciPy (:func:`kernels._parallel.numba_blas_available`).
_NUMBA_BLAS_WAYS = ("one call",)


def ways_of(tile: int) -> tuple[str, ...]:
    """The named ways F(tile x tile) may run (F(4x4) also by chunks of tiles): F(2x2) has no one-call way."""
    return WAYS if tile == 4 else tuple(w for w in WAYS if w != "one call")


def check_way(tile: int, pass_: str, way: str | int | None, filters_once: bool = False) -> None:
    """``ValueError`` naming the acceptable ways, unless ``way`` is ``None``, in :func:`ways_of` or an F(4x4) chunk.

    The ways of :data:`_PER_CALL_WAYS` transform the filters of forward and
    backward-data in every call: refused for backward-weights and with the
    filters transformed once.
    """
    if way in _PER_CALL_WAYS and (pass_ == "backward-weights" or filters_once):
        why = "backward-weights has no filters to transform" if pass_ == "backward-weights" else "filters once"
        raise ValueError(f"Winograd way {way!r} transforms the filters in every call, not for {why}; acceptable "
                         "there: 'stages', 'one call' (F(4x4)), 'own products' or a chunk (F(4x4))")  # fmt: skip
    names = ways_of(tile)
    chunk = tile == 4 and isinstance(way, int) and not isinstance(way, bool) and way > 0
    if way is not None and way not in names and not chunk:
        allowed = ", ".join(map(repr, names)) + (" or a chunk > 0" if tile == 4 else "")
        raise ValueError(f"Winograd way {way!r} for F({tile}x{tile}) {pass_}; acceptable ways are {allowed}")

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


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _kernel_transforms(kernels, q, g_matrix, half, u, p):
    """``u[(i, j), p, n] = (G kernels[q, :, :, n] G^T)[i, j]`` for the 3x3 kernels along ``n``; ``half`` is scratch.

    The innermost loops run along the kernels, so both products with ``G``
    vectorise (F(4x4)'s written out: :func:`kernels._winograd_fused.kernel_transforms_f4`).
    Whole arrays and indices, not views: Numba vectorised the
    loops on views of unknown strides 3-4x slower.
    """
    a, count = g_matrix.shape[0], kernels.shape[3]
    if a == 6:
        kernel_transforms_f4(kernels, q, g_matrix, half, u, p)
        return
    for i in range(a):
        g0, g1, g2 = g_matrix[i, 0], g_matrix[i, 1], g_matrix[i, 2]
        for j in range(3):
            for n in range(count):
                half[i, j, n] = g0 * kernels[q, 0, j, n] + g1 * kernels[q, 1, j, n] + g2 * kernels[q, 2, j, n]
    for i in range(a):
        for jj in range(a):
            g0, g1, g2 = g_matrix[jj, 0], g_matrix[jj, 1], g_matrix[jj, 2]
            for n in range(count):
                u[i * a + jj, p, n] = half[i, 0, n] * g0 + half[i, 1, n] * g1 + half[i, 2, n] * g2


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
        kernel = np.empty((1, 3, 3, filters), u.dtype)
        half = np.empty((a, 3, filters), u.dtype)
        for k in range(filters):
            for r in range(3):
                for j in range(3):
                    kernel[0, r, j, k] = w[k, c, r, j]
        _kernel_transforms(kernel, 0, g_matrix, half, u, c)


# Filters per block of the "filter blocks" way (:func:`products_by_filter_blocks`), and the zeros past the channels
# in each row of a block's transforms: 36 x 6 rows of 512 channels are 442 KB, within a core's L2 beside the
# tiles' transforms, and rows 2 KB apart put the 36 planes' stores 12 KB apart, on the same L1 sets (4K aliasing).
FILTER_BLOCK, ROW_PAD = 6, 16


@njit(parallel=True, fastmath={"contract", "reassoc"}, boundscheck=False, cache=True)  # reassoc: the products vectorise
def products_by_filter_blocks(v, w, g_matrix, m, kernels, halves, blocks):
    """``m[xi] = v[xi] @ U[xi]^T``, ``U[xi][k, c] = (G w[k, c] G^T)[xi]``, transforming the filters block by block.

    ``v`` (a^2 x tiles x C) holds the transformed tiles, ``w`` (K x C x 3 x 3,
    any strides) the correlation filters, ``m`` (a^2 x tiles x K) the
    products. Worker ``p`` of ``kernels`` (workers x block x 3 x 3 x C),
    ``halves`` (workers x a x 3 x C) and ``blocks`` (workers x a^2 x block x
    row, row >= C) takes blocks ``p``, ``p + workers``, ... of ``block``
    filters: it gathers their kernels channels last, transforms them into its
    block of ``U`` and multiplies the block against every tile
    (:mod:`kernels._inner_products`' 4 x 6 blocks) while it is in cache. The
    a^2 planes of transformed filters are never written whole: on ResNet-50's
    512-channel layer they are 38 MB, whose writing and reading back took
    longer than the products on few tiles.
    """
    planes, tiles, channels = v.shape
    filters = w.shape[0]
    workers, block, row = blocks.shape[0], blocks.shape[2], blocks.shape[3]
    geometry = (channels, 0, row, 0, 1, channels)
    flat_v = v.reshape(-1)
    tasks = (filters + block - 1) // block
    for p in prange(workers):
        kernel, half, ut = kernels[p], halves[p], blocks[p]
        flat_u = ut.reshape(-1)
        for task in range(p, tasks, workers):
            k0 = task * block
            count = min(block, filters - k0)
            for kk in range(count):
                for c in range(channels):
                    for r in range(3):
                        for j in range(3):
                            kernel[kk, r, j, c] = w[k0 + kk, c, r, j]
            for kk in range(count):
                _kernel_transforms(kernel, kk, g_matrix, half, ut, kk)
            for xi in range(planes):
                _region(flat_v, xi * tiles * channels, flat_u, xi * block * row, geometry, m[xi, :, k0 : k0 + count],
                        0, tiles, 0, count)  # fmt: skip


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def tile_transform(src, matrix, v, tiles_h, tiles_w, step):
    """``v[(i, j), (b, tile), c] = (T d T^T)[i, j]`` for every tile ``d`` of ``src`` (channels last), ``T = matrix``.

    Tiles start every ``step`` rows and columns and are ``matrix.shape[1]``
    wide: the a x a input tiles with ``B^T`` (step m, overlapping by 2), or
    the m x m output-gradient tiles with ``A`` (the weight gradient). Every
    innermost loop runs along the channels: it vectorises, and each tile's
    a^2 results are written as contiguous rows of ``v``. Zero coefficients
    (half of F(4x4, 3x3)'s) are skipped. Parallel over rows of tiles.
    """
    batch, channels = src.shape[0], src.shape[3]
    a, span = matrix.shape
    for t in prange(batch * tiles_h):
        b, th = t // tiles_h, t % tiles_h
        half = np.empty((a, span, channels), v.dtype)
        y0 = th * step
        for tw in range(tiles_w):
            x0 = tw * step
            for i in range(a):
                for x in range(span):
                    for c in range(channels):
                        half[i, x, c] = 0
                    for r in range(span):
                        coef = matrix[i, r]
                        if coef != 0:
                            for c in range(channels):
                                half[i, x, c] += coef * src[b, y0 + r, x0 + x, c]
            p = (b * tiles_h + th) * tiles_w + tw
            for i in range(a):
                for j in range(a):
                    xi = i * a + j
                    for c in range(channels):
                        v[xi, p, c] = 0
                    for r in range(span):
                        coef = matrix[j, r]
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


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _kernel_gradients(sums, g_matrix, half, grads, count):
    """``grads[r, s, :count] = (G^T S G)[r, s]``, ``S`` the a x a sums in the rows of ``sums`` (each ``count`` long).

    ``half`` (3 x a x at least ``count``) is the caller's scratch; the innermost loops run along the rows.
    """
    a = g_matrix.shape[0]
    for r in range(3):
        for j in range(a):
            half[r, j, :count] = 0
            for i in range(a):
                coef = g_matrix[i, r]
                if coef != 0:
                    for n in range(count):
                        half[r, j, n] += coef * sums[i * a + j, n]
    for r in range(3):
        for s in range(3):
            grads[r, s, :count] = 0
            for j in range(a):
                coef = g_matrix[j, s]
                if coef != 0:
                    for n in range(count):
                        grads[r, s, n] += coef * half[r, j, n]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def weight_output_transform(mm, g_matrix, out):
    """``out[k, c] = G^T M[:, c, k] G``: each 3x3 weight gradient from its a^2 summed products.

    Parallel over blocks of :data:`OUTPUT_CHANNELS` channels, the innermost
    loops along the filters. Each block's gradients are gathered in a buffer
    and written as whole rows of ``out[k]``: written channel by channel, each
    filter's nine values went to a different cache line, 2.7x slower on
    512 x 512 filters. F(4x4) has its own, written out
    (:func:`kernels._winograd_fused.weight_output_f4`), 4x faster again.
    """
    a = g_matrix.shape[0]
    sources, targets = mm.shape[1], mm.shape[2]
    for task in prange((sources + OUTPUT_CHANNELS - 1) // OUTPUT_CHANNELS):
        c0 = task * OUTPUT_CHANNELS
        count = min(OUTPUT_CHANNELS, sources - c0)
        half = np.empty((3, a, targets), out.dtype)
        grads = np.empty((3, 3, targets), out.dtype)
        block = np.empty((targets, OUTPUT_CHANNELS, 3, 3), out.dtype)
        for cc in range(count):
            _kernel_gradients(mm[:, c0 + cc, :], g_matrix, half, grads, targets)
            for r in range(3):
                for s in range(3):
                    for k in range(targets):
                        block[k, cc, r, s] = grads[r, s, k]
        for k in range(targets):
            out[k, c0 : c0 + count] = block[k, :count]


# Filters and channels per task of :func:`summed_weight_transform` (its loop is written for blocks of four
# filters): each task's a^2 sums of 4 filters x 128 channels are 74 KB for F(4x4). Measured on ResNet-50's deep
# layers, 128 channels ran 1.1-1.8x faster than 64 and were level with 256 and 512, which lose on wide images.
WEIGHT_BLOCK = (4, 128)


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _add_four_tiles(v, q, xi, t, k0, c0, count, s0, s1, s2, s3):
    """``s_kk[:count] += sum over tiles t..t+3 of q[xi, tile, k0 + kk] * v[xi, tile, c0:c0 + count]``, kk < 4.

    Four tiles per pass over the sums: each sum is loaded and stored once
    for 16 multiply-adds, not once for 4 as tile by tile (with
    :func:`kernels._winograd_fused.kernel_gradients_f4`, ResNet-50's
    512-channel 7 x 7 layer at batch 1 went from 2.1 to 0.94 ms).
    """
    r0, r1, r2, r3 = v[xi, t, c0 : c0 + count], v[xi, t + 1, c0 : c0 + count], v[xi, t + 2, c0 : c0 + count], \
        v[xi, t + 3, c0 : c0 + count]  # fmt: skip
    a00, a01, a02, a03 = q[xi, t, k0], q[xi, t, k0 + 1], q[xi, t, k0 + 2], q[xi, t, k0 + 3]
    a10, a11, a12, a13 = q[xi, t + 1, k0], q[xi, t + 1, k0 + 1], q[xi, t + 1, k0 + 2], q[xi, t + 1, k0 + 3]
    a20, a21, a22, a23 = q[xi, t + 2, k0], q[xi, t + 2, k0 + 1], q[xi, t + 2, k0 + 2], q[xi, t + 2, k0 + 3]
    a30, a31, a32, a33 = q[xi, t + 3, k0], q[xi, t + 3, k0 + 1], q[xi, t + 3, k0 + 2], q[xi, t + 3, k0 + 3]
    for c in range(count):
        x0, x1, x2, x3 = r0[c], r1[c], r2[c], r3[c]
        s0[c] += a00 * x0 + a10 * x1 + a20 * x2 + a30 * x3
        s1[c] += a01 * x0 + a11 * x1 + a21 * x2 + a31 * x3
        s2[c] += a02 * x0 + a12 * x1 + a22 * x2 + a32 * x3
        s3[c] += a03 * x0 + a13 * x1 + a23 * x2 + a33 * x3


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def summed_weight_transform(v, q, g_matrix, out):
    """``out[k, c] = G^T (sum_t V[:, t, c] Q[:, t, k]) G``: the weight gradient's products and output transform.

    ``v[xi, t, c]`` and ``q[xi, t, k]`` are the transformed input and
    output-gradient tiles. Parallel over blocks of :data:`WEIGHT_BLOCK`
    filters x channels: each block's a^2 sums stay in a small buffer, summed
    along the channels (vectorised) four tiles at a time, and go straight
    through ``G^T . G`` (F(4x4)'s written out,
    :func:`kernels._winograd_fused.kernel_gradients_f4`). The stage-by-stage
    products write a^2 planes of C x K sums and read them back: on a deep
    layer with few tiles (512 channels at 7 x 7, batch 1: 36 planes, 38 MB,
    for 4 tiles) that traffic is the whole cost.
    """
    planes, tiles, channels = v.shape
    filters, a = q.shape[2], g_matrix.shape[0]
    block_k, block_c = WEIGHT_BLOCK
    blocks_c = (channels + block_c - 1) // block_c
    whole = tiles // 4 * 4
    for task in prange(((filters + block_k - 1) // block_k) * blocks_c):
        k0, c0 = (task // blocks_c) * block_k, (task % blocks_c) * block_c
        nk, nc = min(block_k, filters - k0), min(block_c, channels - c0)
        sums = np.zeros((block_k, planes, block_c), out.dtype)
        half = np.empty((3, a, block_c), out.dtype)
        grads = np.empty((3, 3, block_c), out.dtype)
        for xi in range(planes):
            if nk == 4:  # each channel loaded once for the block's four filters: 1.5-2x the loop below
                s0, s1, s2, s3 = sums[0, xi], sums[1, xi], sums[2, xi], sums[3, xi]
                for t in range(0, whole, 4):
                    _add_four_tiles(v, q, xi, t, k0, c0, nc, s0, s1, s2, s3)
                for t in range(whole, tiles):
                    row = v[xi, t, c0 : c0 + nc]
                    w0, w1, w2, w3 = q[xi, t, k0], q[xi, t, k0 + 1], q[xi, t, k0 + 2], q[xi, t, k0 + 3]
                    for c in range(nc):
                        x = row[c]
                        s0[c] += w0 * x
                        s1[c] += w1 * x
                        s2[c] += w2 * x
                        s3[c] += w3 * x
                continue
            for t in range(tiles):
                row = v[xi, t, c0 : c0 + nc]
                for kk in range(nk):
                    weight = q[xi, t, k0 + kk]
                    total = sums[kk, xi]
                    for c in range(nc):
                        total[c] += weight * row[c]
        for kk in range(nk):
            if a == 6:
                kernel_gradients_f4(sums[kk], g_matrix, half, grads, nc)
            else:
                _kernel_gradients(sums[kk], g_matrix, half, grads, nc)
            for c in range(nc):
                for r in range(3):
                    for s in range(3):
                        out[k0 + kk, c0 + c, r, s] = grads[r, s, c]


class WinogradLayer(LayerPrepared):
    """A pass of a layer with 3x3 filters by F(tile x tile, 3x3) (see the module docstring for backward-weights).

    With ``filters_once`` the filter transform runs once, in ``prepare`` (its
    seconds in ``setup_seconds["kernel_spectrum"]``), as an inference engine
    prepacks constant weights; by default every call transforms them, as a
    training step must.

    F(4x4) may run, every pass, by numpy's stages, by the same stages in one
    Numba call, or in chunks of tiles (:mod:`kernels._winograd_fused`); both
    sizes may run the forward and backward-data products by convbench's own
    kernel (:mod:`kernels._inner_products`, on filters transformed channels
    innermost), and, with the filters transformed per call, with the filter
    transform inside them ("filter blocks"). By default ``prepare`` times every way (chunks of
    :data:`FUSED_CHUNKS` tiles) and keeps the fastest, the times in
    ``notes``; ``way`` (one of :func:`ways_of` or a chunk of tiles) runs that
    way alone (still timed, for the note).

    Raises
    ------
    ValueError
        For other kernel sizes, filters once for backward-weights, a tile other than 2 or 4, a way not
        :func:`ways_of` the tile and pass (nor, for F(4x4), a chunk of tiles), or "filter blocks" for
        backward-weights or with the filters transformed once.
    """

    def __init__(
        self,
        problem: Problem,
        first: np.ndarray,
        second: np.ndarray,
        tile: int = 4,
        filters_once: bool = False,
        way: str | int | None = None,
    ):
        if problem.kernel_shape != (3, 3):
            kh, kw = problem.kernel_shape
            raise ValueError(f"Winograd F(m, 3x3) needs 3x3 filters, got {kh}x{kw}")
        if problem.pass_ == "backward-weights" and filters_once:
            raise ValueError("backward-weights has no fixed filters to transform once")
        transforms(tile, problem.np_dtype)  # refuses other tiles before anything is allocated
        check_way(tile, problem.pass_, way, filters_once)
        super().__init__(problem, first, second)
        self.tile, self.filters_once = tile, filters_once
        dtype = problem.np_dtype
        self._bt, self._g, self._at = transforms(tile, dtype)
        a = tile + 2
        weights = problem.pass_ == "backward-weights"
        oh, ow = problem.out_shape if weights else output_shape(problem)[2:]  # the tiles cover the gradients
        self._tiles = (-(-oh // tile), -(-ow // tile))
        tiles = problem.batch * self._tiles[0] * self._tiles[1]
        self._way, self._fused = "stages", None  # how it runs (see _choose_way), and F(4x4)'s chunks' buffers
        if weights:
            self._weights_buffers(tiles, a, way)
            return
        if problem.pass_ == "forward":
            sources, targets, self._offset = problem.in_channels, problem.out_channels, problem.pad_before
        else:
            sources, targets = problem.out_channels, problem.in_channels
            self._offset = data_gradient_padding(problem)[0]
        with self.stage("alloc"):
            # The padded input, rounded up to whole tiles; the rows and columns past it stay zero.
            rows, cols = self._tiles[0] * tile + 2, self._tiles[1] * tile + 2
            self._padded = np.zeros((problem.batch, rows, cols, sources), dtype)  # channels last
            self._u = np.empty((a * a, sources, targets), dtype)
            # The filters transformed channels innermost, for the own products (freed if another way wins).
            self._ut = np.empty((a * a, targets, sources), dtype) if way in (None, "own products") else None
            # Each worker's block of filters for the "filter blocks" way: kernels, scratch, transforms.
            self._filter_blocks = None
            if way in (None, "filter blocks") and not filters_once:
                workers, block, row = problem.threads, FILTER_BLOCK, sources + ROW_PAD
                self._filter_blocks = (np.empty((workers, block, 3, 3, sources), dtype),
                                       np.empty((workers, a, 3, sources), dtype),
                                       np.zeros((workers, a * a, block, row), dtype))  # fmt: skip
            self._v = np.empty((a * a, tiles, sources), dtype)
            self._m = np.empty((a * a, tiles, targets), dtype)
            self._out = np.empty(output_shape(problem), dtype)
        self.notes = limit_blas(problem.threads) + ("; filters transformed once, in prepare" if filters_once else "")
        self._products = StackedProducts(self._v, self._u, self._m, problem.threads)
        with self.stage("compile"):
            self._transform_filters()
            self._run()
        with self.stage("plan"):
            self.notes += self._products.choose()
            self.notes += self._choose_way(sources, targets, tiles, way)
            # The other ways' buffers are not needed any more.
            if self._way in ("own products", "filter blocks"):
                self._u = self._products = None
            if self._way != "own products":
                self._ut = None
            if self._way != "filter blocks":
                self._filter_blocks = None
        if filters_once:
            with self.stage("kernel_spectrum"):
                self._transform_filters()

    def _choose_way(self, sources: int, targets: int, tiles: int, way: str | int | None) -> str:
        """Time the ways of running (:func:`ways_of`, F(4x4)'s chunks of :data:`FUSED_CHUNKS` tiles); keep the fastest.

        ``way`` given runs that way alone. Ways that call BLAS from Numba are
        left out where Numba cannot. Returns the note for the row's
        ``reason``: which way won, with the times measured.
        """
        name = f"F({self.tile}x{self.tile})"
        if way == "stages":
            return f"; {name} by stages (as asked)"
        ok, why = numba_blas_available()
        workers, dtype = self.problem.threads, self.problem.np_dtype
        asked = [*ways_of(self.tile), *(FUSED_CHUNKS if self.tile == 4 else ())]
        if self.filters_once or self.problem.pass_ == "backward-weights":
            asked = [w for w in asked if w not in _PER_CALL_WAYS]
        if not ok:
            asked = [w for w in asked if w not in _NUMBA_BLAS_WAYS and not isinstance(w, int)]
            if way is not None and way not in asked:
                return f"; {name} by stages ({why})"
        candidates = {}  # way -> (way, its chunks' buffers)
        for candidate in asked if way is None else [way]:
            if not isinstance(candidate, int):
                candidates[candidate] = (candidate, None)
                continue
            if way is None and candidate > max(FUSED_CHUNKS[0], -(-tiles // workers)):
                continue  # a chunk longer than a worker's share of the tiles would leave a worker idle
            shape = (workers, 36, candidate)
            buffers = (np.empty((*shape, sources), dtype), np.empty((*shape, targets), dtype))
            if self.problem.pass_ == "backward-weights":  # each worker's sums of products, and one product
                buffers += (np.empty((workers, 37, sources, targets), dtype),)
            candidates[candidate] = (candidate, buffers)

        if list(candidates) == ["stages"]:  # nothing to choose from
            return f"; {name} by stages" + (f" ({why})" if why else "")

        def install(state) -> None:
            self._way, self._fused = state
            if self.filters_once:  # each way reads the filters transformed in its own layout
                self._transform_filters()

        _, measured = keep_fastest(self._run, install, candidates)
        chosen = f"in chunks of {self._way} tiles" if isinstance(self._way, int) else self._way
        return f"; {name} {chosen} (timed in prepare: {measured})"

    def _weights_buffers(self, tiles: int, a: int, way: str | int | None) -> None:
        """backward-weights: the padded images and the output gradients channels last, their transforms, compiled."""
        problem, dtype, tile = self.problem, self.problem.np_dtype, self.tile
        c, k = problem.in_channels, problem.out_channels
        self._offset = problem.pad_before
        self._a = np.ascontiguousarray(self._at.T)
        with self.stage("alloc"):
            rows, cols = self._tiles[0] * tile, self._tiles[1] * tile
            self._padded = np.zeros((problem.batch, rows + 2, cols + 2, c), dtype)
            self._grads = np.zeros((problem.batch, rows, cols, k), dtype)  # past the gradients: zero
            self._v = np.empty((a * a, tiles, c), dtype)
            self._q = np.empty((a * a, tiles, k), dtype)
            self._m = np.empty((a * a, c, k), dtype)
            self._out = np.empty((k, c, 3, 3), dtype)
        self.notes = limit_blas(problem.threads)
        self._products = StackedProducts(self._v.transpose(0, 2, 1), self._q, self._m, problem.threads)
        with self.stage("compile"):
            self._run()
        with self.stage("plan"):
            self.notes += self._products.choose()
            self.notes += self._choose_way(c, k, tiles, way)
            if self._way == "own products":  # its sums never leave their blocks
                self._m = self._products = None

    def _transform_filters(self) -> None:
        # Straight from views of the given filters (Numba reads any strides): no copy of them, which on
        # ResNet-50's 512-channel layer was 9.4 MB a call, transposed for backward-data (2 ms of its 4).
        if self._way == "filter blocks":  # transformed inside the products, block by block
            return
        filters = correlation_filters(self.problem, self.second)
        if self._way == "own products":  # ut[xi, k, c]: the same loop, on the filters' channels and filters swapped
            filter_transform(filters.transpose(1, 0, 2, 3), self._g, self._ut)
        else:
            filter_transform(filters, self._g, self._u)

    def _input_tiles(self) -> None:
        """``_v`` = every input tile's ``B^T d B``, for the own products: F(4x4)'s transform written out."""
        if self.tile == 4:
            input_transform_f4(self._padded, self._v, *self._tiles)
        else:
            tile_transform(self._padded, self._bt, self._v, *self._tiles, self.tile)

    def _run(self) -> None:
        top, left = self._offset
        if self.problem.pass_ == "backward-weights":
            pad_channels_last(self.first, self._padded, top, left)
            pad_channels_last(self.second, self._grads, 0, 0)
            if self._way == "own products":  # no a^2 planes of sums: each block's go straight through G^T . G
                self._input_tiles()
                tile_transform(self._grads, self._a, self._q, *self._tiles, self.tile)
                summed_weight_transform(self._v, self._q, self._g, self._out)
                return
            if self._way == "one call":
                with one_blas_thread(self.problem.threads):
                    staged_weights_f4(self._padded, self._grads, self._m, *self._tiles, self._v, self._q)
            elif self._fused is not None:
                with one_blas_thread(self.problem.threads):
                    fused_weights_f4(self._padded, self._grads, self._m, *self._tiles, *self._fused)
            else:
                tile_transform(self._padded, self._bt, self._v, *self._tiles, self.tile)
                tile_transform(self._grads, self._a, self._q, *self._tiles, self.tile)
                self._products()
            if self.tile == 4:
                weight_output_f4(self._m, self._g, self._out.reshape(self._out.shape[0], -1))
            else:
                weight_output_transform(self._m, self._g, self._out)
            return
        pad_channels_last(self.first, self._padded, top, left)
        if not self.filters_once:
            self._transform_filters()
        if self._way in ("own products", "filter blocks"):  # every stage a Numba call on Numba's threads
            self._input_tiles()
            if self._way == "own products":
                stacked_products_abt(self._v, self._ut, self._m)
            else:
                filters = correlation_filters(self.problem, self.second)
                products_by_filter_blocks(self._v, filters, self._g, self._m, *self._filter_blocks)
            if self.tile == 4:
                output_transform_f4(self._m, self._out, *self._tiles)
            else:
                output_transform(self._m, self._at, self._out, *self._tiles)
            return
        if self._way == "one call":
            with one_blas_thread(self.problem.threads):
                staged_f4(self._padded, self._u, self._out, *self._tiles, self._v, self._m)
            return
        if self._fused is not None:
            with one_blas_thread(self.problem.threads):
                fused_f4(self._padded, self._u, self._out, *self._tiles, *self._fused)
            return
        tile_transform(self._padded, self._bt, self._v, *self._tiles, self.tile)
        self._products()
        output_transform(self._m, self._at, self._out, *self._tiles)

    def _output(self) -> np.ndarray:
        if self.problem.pass_ == "backward-weights":
            return oriented(self.problem, self._out)  # a conv layer's weights gradient, flipped back
        return self._out

