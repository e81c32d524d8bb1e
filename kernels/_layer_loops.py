"""Numba loops of the CPU layer algorithms: padding copies, the direct layer, and im2col's unfold, fold and blocks.

Every pass of a layer reduces to two loop shapes (see :mod:`kernels._layer_direct`):
a valid correlation summed over input channels (:func:`direct_forward`; the
backward-data pass is one too, over the padded output gradients with the
filters flipped and their channels transposed) and the weight gradient
(:func:`direct_weights`). The innermost loops run along an output row, so LLVM
vectorises them; only FMA contraction is allowed (``fastmath={"contract"}``),
except in the weight gradient's dot products, whose reassociation is what lets
a sum vectorise at all.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_FM = {"contract"}
# Output channels sharing each input row load in the direct layer.
CHANNEL_BLOCK = 4


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def pad_into(src, dst, top, left):
    """``dst[:, :, top:top+h, left:left+w] = src`` for 4-D arrays; the border of ``dst`` stays as it is (zeros)."""
    n, m, h, w = src.shape
    for t in prange(n * m):
        a, b = t // m, t % m
        for y in range(h):
            for x in range(w):
                dst[a, b, top + y, left + x] = src[a, b, y, x]


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
def filters_channels_last(w, wl):
    """``wl[k, i, j, c] = w[k, c, i, j]``: the channels innermost (``w`` may be any view); parallel over ``k``."""
    filters, channels, kh, kw = w.shape
    for k in prange(filters):
        for i in range(kh):
            for j in range(kw):
                for c in range(channels):  # written along c: 2.8x faster than read along (i, j)
                    wl[k, i, j, c] = w[k, c, i, j]


# Input and output channels per tile of :func:`transposed_channels_last`.
TRANSPOSE_TILE = 16


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def transposed_channels_last(w, wl, flip):
    """``wl[c, i, j, k] = w[k, c, i', j']``, ``(i', j')`` flipped on both axes if ``flip``: backward-data's filters.

    ``w`` is the stored filters (K x C x kh x kw, C-contiguous). By tiles of
    :data:`TRANSPOSE_TILE` x :data:`TRANSPOSE_TILE` channels, each read from
    L1 and written in runs of 16 (parallel over tiles of ``c``): on 512 x 512
    3x3 filters 0.7 ms, where :func:`filters_channels_last` on the flipped,
    transposed view read a cache line per value (1.5 ms).
    """
    filters, channels, kh, kw = w.shape
    for t in prange((channels + TRANSPOSE_TILE - 1) // TRANSPOSE_TILE):
        c0 = t * TRANSPOSE_TILE
        c1 = min(c0 + TRANSPOSE_TILE, channels)
        for k0 in range(0, filters, TRANSPOSE_TILE):
            k1 = min(k0 + TRANSPOSE_TILE, filters)
            for c in range(c0, c1):
                for i in range(kh):
                    for j in range(kw):
                        si, sj = (kh - 1 - i, kw - 1 - j) if flip else (i, j)
                        for k in range(k0, k1):
                            wl[c, i, j, k] = w[k, c, si, sj]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def direct_forward(xp, w, out):
    """``out[b, k] = sum_c valid_corr(xp[b, c], w[k, c])``; ``xp`` is already padded.

    Parallel over (image, block of output channels, output row); each input
    row is loaded once per tap for a block of :data:`CHANNEL_BLOCK` output channels.
    """
    batch, channels = xp.shape[0], xp.shape[1]
    filters, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    oh, ow = out.shape[2], out.shape[3]
    blocks = (filters + CHANNEL_BLOCK - 1) // CHANNEL_BLOCK
    for t in prange(batch * blocks * oh):
        b = t // (blocks * oh)
        k0 = ((t // oh) % blocks) * CHANNEL_BLOCK
        k1 = min(k0 + CHANNEL_BLOCK, filters)
        y = t % oh
        for k in range(k0, k1):
            for x in range(ow):
                out[b, k, y, x] = 0
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    for k in range(k0, k1):
                        weight = w[k, c, i, j]
                        for x in range(ow):
                            out[b, k, y, x] += weight * xp[b, c, y + i, x + j]


@njit(parallel=True, fastmath={"contract", "reassoc"}, boundscheck=False, cache=True)
def direct_weights(xp, dy, dw):
    """``dw[k, c, i, j] = sum_b sum_yx xp[b, c, y + i, x + j] * dy[b, k, y, x]``; parallel over (k, c).

    Row by row: each output-gradient row serves every tap while it is in L1
    (one dot product per tap along the row), and the taps' sums stay in a small
    local array. Tap by tap over whole images, as before, read the gradients
    kh·kw times from L2 and ran 2.5–4.4× slower, 2.3–3.7× the forward pass.
    """
    batch, channels = xp.shape[0], xp.shape[1]
    filters, kh, kw = dw.shape[0], dw.shape[2], dw.shape[3]
    oh, ow = dy.shape[2], dy.shape[3]
    for t in prange(filters * channels):
        k, c = t // channels, t % channels
        totals = np.zeros((kh, kw), dw.dtype)
        for b in range(batch):
            for y in range(oh):
                for i in range(kh):
                    for j in range(kw):
                        row = dw.dtype.type(0)
                        for x in range(ow):
                            row += xp[b, c, y + i, x + j] * dy[b, k, y, x]
                        totals[i, j] += row
        for i in range(kh):
            for j in range(kw):
                dw[k, c, i, j] = totals[i, j]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def unfold(xp, cols, kh, kw):
    """im2col: ``cols[b, (c, i, j), (y, x)] = xp[b, c, y + i, x + j]``, one row of ``cols`` per task."""
    batch, channels = xp.shape[0], xp.shape[1]
    oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    rows = channels * kh * kw
    for t in prange(batch * rows):
        b, r = t // rows, t % rows
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        for y in range(oh):  # row slices: 2-3.6x faster than an element loop, which Numba did not vectorise
            cols[b, r, y * ow : (y + 1) * ow] = xp[b, c, y + i, j : j + ow]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def fold(cols, grad, kh, kw):
    """col2im, the adjoint of :func:`unfold`: ``grad[b, c, y + i, x + j] += cols[b, (c, i, j), (y, x)]``.

    Parallel over (image, channel): the taps of one channel overlap, so they stay on one thread.
    ``grad`` is zeroed first.
    """
    batch, channels = grad.shape[0], grad.shape[1]
    oh, ow = grad.shape[2] - kh + 1, grad.shape[3] - kw + 1
    for t in prange(batch * channels):
        b, c = t // channels, t % channels
        grad[b, c, :, :] = 0
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                for y in range(oh):
                    grad[b, c, y + i, j : j + ow] += cols[b, r, y * ow : (y + 1) * ow]


@njit(inline="always")
def _unfold_block(xp, b, y0, count, kh, kw, cols):
    """``cols`` = the im2col columns of image ``b``'s output rows ``y0 .. y0 + count``; zero past them."""
    ow = xp.shape[3] - kw + 1
    for r in range(xp.shape[1] * kh * kw):
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        for y in range(count):
            cols[r, y * ow : (y + 1) * ow] = xp[b, c, y0 + y + i, j : j + ow]
        cols[r, count * ow :] = 0


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def unfold_product(xp, w, out, kh, kw, cols_work, product_work):
    """im2col forward by blocks of output rows: ``out[b, :, rows] = w @ unfold(xp[b])[:, rows]``.

    ``w`` is the K x (C kh kw) filter matrix. Each worker of ``cols_work``
    (workers x C kh kw x rows ow) and ``product_work`` (workers x K x rows ow)
    takes blocks ``worker``, ``worker + workers``, ... (image by image, ``rows``
    output rows each): it unfolds the block's columns, multiplies them by ``w``
    (BLAS from Numba; one thread per call, the caller's to set) and copies the
    product into ``out``, while the columns are in its cache. A last, partial
    block's columns past its rows are zero, and their products never copied out.
    """
    batch = xp.shape[0]
    filters, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    workers, rows = cols_work.shape[0], cols_work.shape[2] // ow
    per_image = (oh + rows - 1) // rows
    for worker in prange(workers):
        cols, product = cols_work[worker], product_work[worker]
        for q in range(worker, batch * per_image, workers):
            b, y0 = q // per_image, (q % per_image) * rows
            count = min(rows, oh - y0)
            _unfold_block(xp, b, y0, count, kh, kw, cols)
            np.dot(w, cols, product)
            for k in range(filters):
                for y in range(count):
                    out[b, k, y0 + y, :] = product[k, y * ow : (y + 1) * ow]


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def unfold_weights_product(xp, dy, dw, kh, kw, cols_work, grads_work, sums):
    """im2col's weight gradient by blocks of output rows: ``dw = sum over blocks of dy_block @ unfold_block^T``.

    ``dw`` is the K x (C kh kw) gradient. Each worker of ``cols_work``
    (workers x C kh kw x rows ow), ``grads_work`` (workers x K x rows ow) and
    ``sums`` (workers x 2 x K x C kh kw: its sum, and one product) takes blocks
    ``worker``, ``worker + workers``, ... as :func:`unfold_product` does,
    multiplies the block's output gradients by its columns (BLAS from Numba,
    one thread per call) and adds the product to its own sum; ``dw`` is the
    workers' total. A partial last block's columns and gradients past its rows
    are zeroed, so that they add nothing.
    """
    batch = xp.shape[0]
    filters, oh, ow = dy.shape[1], dy.shape[2], dy.shape[3]
    workers, rows = cols_work.shape[0], cols_work.shape[2] // ow
    per_image = (oh + rows - 1) // rows
    for worker in prange(workers):
        cols, grads, total, product = cols_work[worker], grads_work[worker], sums[worker, 0], sums[worker, 1]
        total[...] = 0
        for q in range(worker, batch * per_image, workers):
            b, y0 = q // per_image, (q % per_image) * rows
            count = min(rows, oh - y0)
            _unfold_block(xp, b, y0, count, kh, kw, cols)
            for k in range(filters):
                for y in range(count):
                    grads[k, y * ow : (y + 1) * ow] = dy[b, k, y0 + y, :]
                grads[k, count * ow :] = 0
            np.dot(grads, cols.T, product)
            total += product
    for k in prange(filters):
        dw[k, :] = sums[0, 0, k, :]
        for worker in range(1, workers):
            dw[k, :] += sums[worker, 0, k, :]
