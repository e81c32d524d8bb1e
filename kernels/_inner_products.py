"""Register-blocked products whose operands both run along the summed index, read in place from flat arrays.

``out[m, n] = sum over segments g of a[m, g] . b[n, g]``, where row ``m`` of
``a`` in segment ``g`` is ``length`` values of the flat array ``a`` from
``a0 + m * a_row + g * a_seg`` (and likewise for ``b``). One segment whose
rows follow each other is a matrix product ``a @ b.T``; the direct layer's is
its correlation, without an unfold: a filter (channels innermost) against
``kh`` runs of ``kw x C`` values of the channels-last image, one per filter
row, whose pixel rows overlap (:func:`direct_rows`); and its weight gradient,
one segment per image (:func:`direct_weight_rows`).

Nothing is packed: BLAS copies (packs) its operands on every call, which for
a product with few columns (Winograd's on a deep layer at batch 1: 512 x 512
transformed filters against 4-16 tiles) costs as much as the arithmetic, and
a stage-by-stage layer hands the cores from Numba's threads to BLAS's and
back. A 4 x 6 block of outputs keeps its 24 sums in registers across the
segments: each step of the summed index loads 10 values and does 24
multiply-adds, and LLVM vectorises the step along the summed index
(``fastmath`` reassociation lets it keep one partial sum per lane). Measured
on Winograd's deep ResNet-50 layers, 4 x 6 blocks ran 5-25 % faster than 4 x 4
and 2 x 8 ones; 4 x 8 (32 sums) spilled registers.

A geometry is the tuple ``(a_row, a_seg, b_row, b_seg, segments, length)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_FM = {"contract", "reassoc"}
# Rows of ``b`` per parallel task of :func:`stacked_products_abt`: 8 blocks of 6, a strip of outputs 48 wide.
TASK_ROWS = 48
# Filters per parallel task of :func:`direct_rows`: 8 blocks of 4. A 512-channel 3x3 layer's strip of 32
# filters is 590 KB, within a core's L2, for the output rows that follow it on the same thread.
TASK_FILTERS = 32
# Channels per parallel task of :func:`direct_weight_rows` (8 blocks of 6), and the summed values per chunk
# (whole images, or pieces of one). Measured on ResNet-50's 3x3 layers (2-core Zen 5 VM): chunks of 4096
# made batch 8 10-18 % faster than the whole sum per block, and batch 1 as fast; 1024 and 2048 cost batch 1
# 4-17 % (a reduction of every block's vector sums per chunk, and the streams restarted).
TASK_CHANNELS = 48
WEIGHT_CHUNK = 4096


@njit(inline="always")
def _rows4(flat, start, step, length):
    """Four rows of ``length`` values of ``flat``, ``step`` apart from ``start``: views."""
    second, third, fourth = start + step, start + 2 * step, start + 3 * step
    return flat[start : start + length], flat[second : second + length], flat[third : third + length], \
        flat[fourth : fourth + length]  # fmt: skip


@njit(inline="always")
def _rows6(flat, start, step, length):
    """Six rows of ``length`` values of ``flat``, ``step`` apart from ``start``: views."""
    r0, r1, r2, r3 = _rows4(flat, start, step, length)
    return r0, r1, r2, r3, flat[start + 4 * step : start + 4 * step + length], \
        flat[start + 5 * step : start + 5 * step + length]  # fmt: skip


@njit(boundscheck=False, inline="always")
def _store6(out, m, n0, s0, s1, s2, s3, s4, s5):
    """``out[m, n0:n0+6]`` = the six sums."""
    out[m, n0] = s0
    out[m, n0 + 1] = s1
    out[m, n0 + 2] = s2
    out[m, n0 + 3] = s3
    out[m, n0 + 4] = s4
    out[m, n0 + 5] = s5


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _block4x6(a, a0, b, b0, geometry, out, m0, n0):
    """``out[m0:m0+4, n0:n0+6]`` = the summed products of four rows of ``a`` and six of ``b``, 24 sums in registers."""
    a_row, a_seg, b_row, b_seg, segments, length = geometry
    zero = out.dtype.type(0)
    s00 = s01 = s02 = s03 = s04 = s05 = s10 = s11 = s12 = s13 = s14 = s15 = zero
    s20 = s21 = s22 = s23 = s24 = s25 = s30 = s31 = s32 = s33 = s34 = s35 = zero
    for g in range(segments):
        r0, r1, r2, r3 = _rows4(a, a0 + m0 * a_row + g * a_seg, a_row, length)
        q0, q1, q2, q3, q4, q5 = _rows6(b, b0 + n0 * b_row + g * b_seg, b_row, length)
        for r in range(length):
            x0, x1, x2, x3 = r0[r], r1[r], r2[r], r3[r]
            y0, y1, y2, y3, y4, y5 = q0[r], q1[r], q2[r], q3[r], q4[r], q5[r]
            s00 += x0 * y0
            s01 += x0 * y1
            s02 += x0 * y2
            s03 += x0 * y3
            s04 += x0 * y4
            s05 += x0 * y5
            s10 += x1 * y0
            s11 += x1 * y1
            s12 += x1 * y2
            s13 += x1 * y3
            s14 += x1 * y4
            s15 += x1 * y5
            s20 += x2 * y0
            s21 += x2 * y1
            s22 += x2 * y2
            s23 += x2 * y3
            s24 += x2 * y4
            s25 += x2 * y5
            s30 += x3 * y0
            s31 += x3 * y1
            s32 += x3 * y2
            s33 += x3 * y3
            s34 += x3 * y4
            s35 += x3 * y5
    _store6(out, m0, n0, s00, s01, s02, s03, s04, s05)
    _store6(out, m0 + 1, n0, s10, s11, s12, s13, s14, s15)
    _store6(out, m0 + 2, n0, s20, s21, s22, s23, s24, s25)
    _store6(out, m0 + 3, n0, s30, s31, s32, s33, s34, s35)


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _block1x6(a, a0, b, b0, geometry, out, m, n0):
    """``out[m, n0:n0+6]``: a row of ``a`` past the blocks of four, against six of ``b``."""
    a_row, a_seg, b_row, b_seg, segments, length = geometry
    zero = out.dtype.type(0)
    s0 = s1 = s2 = s3 = s4 = s5 = zero
    for g in range(segments):
        pa = a0 + m * a_row + g * a_seg
        row = a[pa : pa + length]
        q0, q1, q2, q3, q4, q5 = _rows6(b, b0 + n0 * b_row + g * b_seg, b_row, length)
        for r in range(length):
            x = row[r]
            s0 += x * q0[r]
            s1 += x * q1[r]
            s2 += x * q2[r]
            s3 += x * q3[r]
            s4 += x * q4[r]
            s5 += x * q5[r]
    _store6(out, m, n0, s0, s1, s2, s3, s4, s5)


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _block4x1(a, a0, b, b0, geometry, out, m0, n):
    """``out[m0:m0+4, n]``: four rows of ``a`` against a row of ``b`` past the blocks of six."""
    a_row, a_seg, b_row, b_seg, segments, length = geometry
    zero = out.dtype.type(0)
    s0 = s1 = s2 = s3 = zero
    for g in range(segments):
        r0, r1, r2, r3 = _rows4(a, a0 + m0 * a_row + g * a_seg, a_row, length)
        pb = b0 + n * b_row + g * b_seg
        column = b[pb : pb + length]
        for r in range(length):
            y = column[r]
            s0 += r0[r] * y
            s1 += r1[r] * y
            s2 += r2[r] * y
            s3 += r3[r] * y
    out[m0, n] = s0
    out[m0 + 1, n] = s1
    out[m0 + 2, n] = s2
    out[m0 + 3, n] = s3


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _dot(a, a0, b, b0, geometry, out, m, n):
    """``out[m, n]``: an output past both the blocks of four and of six."""
    a_row, a_seg, b_row, b_seg, segments, length = geometry
    total = out.dtype.type(0)
    for g in range(segments):
        pa, pb = a0 + m * a_row + g * a_seg, b0 + n * b_row + g * b_seg
        row_a, row_b = a[pa : pa + length], b[pb : pb + length]
        for r in range(length):
            total += row_a[r] * row_b[r]
    out[m, n] = total


@njit(fastmath=_FM, boundscheck=False, inline="always")
def _region(a, a0, b, b0, geometry, out, m_lo, m_hi, n_lo, n_hi):
    """``out[m_lo:m_hi, n_lo:n_hi]`` by blocks of 4 x 6; rows and columns past them by 1 x 6, 4 x 1 and 1 x 1."""
    full_m, full_n = m_lo + (m_hi - m_lo) // 4 * 4, n_lo + (n_hi - n_lo) // 6 * 6
    for m0 in range(m_lo, full_m, 4):
        for n0 in range(n_lo, full_n, 6):
            _block4x6(a, a0, b, b0, geometry, out, m0, n0)
        for n in range(full_n, n_hi):  # a 7-pixel row's last pixel is a seventh of the work: 4 sums at a time
            _block4x1(a, a0, b, b0, geometry, out, m0, n)
    for m in range(full_m, m_hi):
        for n0 in range(n_lo, full_n, 6):
            _block1x6(a, a0, b, b0, geometry, out, m, n0)
        for n in range(full_n, n_hi):
            _dot(a, a0, b, b0, geometry, out, m, n)


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def stacked_products_abt(a, b, out):
    """``out[s] = a[s] @ b[s].T`` for stacks of matrices whose rows run along the summed index.

    ``a`` is (S, M, R), ``b`` (S, N, R) and ``out`` (S, M, N), all
    C-contiguous. Parallel over the stack and strips of :data:`TASK_ROWS`
    rows of ``b``: each strip of ``b`` is read once, each ``a[s]`` once per strip.
    """
    stack, rows, columns, depth = a.shape[0], a.shape[1], b.shape[1], a.shape[2]
    geometry = (depth, 0, depth, 0, 1, depth)
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    strips = (columns + TASK_ROWS - 1) // TASK_ROWS
    for task in prange(stack * strips):
        s, n0 = task // strips, (task % strips) * TASK_ROWS
        n1 = min(n0 + TASK_ROWS, columns)
        _region(flat_a, s * rows * depth, flat_b, s * columns * depth, geometry, out[s], 0, rows, n0, n1)


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def direct_rows(xl, wl, out):
    """``out[b, k, y, x] = sum_(i, j, c) wl[k, i, j, c] * xl[b, y + i, x + j, c]``: the direct layer, register-blocked.

    ``xl`` is the padded images channels last (B x Hp x Wp x C), ``wl`` the
    filters channels last (K x kh x kw x C), ``out`` the valid correlation
    (B x K x oh x ow), all C-contiguous. Each output row is a product of the
    filters (rows of kh kw C values) and the row's pixels, whose ``kh``
    segments of ``kw C`` values lie in place in the image (pixel rows ``C``
    apart, overlapping): blocks of 4 filters x 6 pixels, no unfold. Parallel
    over (image, :data:`TASK_FILTERS` filters, output row), in that order, so
    that each thread reads its own strips of filters: on a deep layer with few
    pixels the filters are most of the bytes (split by rows, both threads read
    all 9.4 MB of a 512-channel layer's, 1.6x slower).
    """
    batch, hp, wp, channels = xl.shape
    filters, kh, kw = wl.shape[0], wl.shape[1], wl.shape[2]
    oh, ow = out.shape[2], out.shape[3]
    geometry = (kh * kw * channels, kw * channels, channels, wp * channels, kh, kw * channels)
    flat_x, flat_w = xl.reshape(-1), wl.reshape(-1)
    strips = (filters + TASK_FILTERS - 1) // TASK_FILTERS
    for task in prange(batch * strips * oh):
        b, k0, y = task // (strips * oh), ((task // oh) % strips) * TASK_FILTERS, task % oh
        k1 = min(k0 + TASK_FILTERS, filters)
        _region(flat_w, 0, flat_x, (b * hp + y) * wp * channels, geometry, out[b, :, y, :], k0, k1, 0, ow)


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def direct_weight_rows(flat_images, hp, wp, grads, out):
    """``out[k, c, i, j] = sum_(b, y, x) grads[b, k, y, x] * images[b, c, y + i, x + j]``: the weight gradient, blocked.

    ``flat_images`` holds the padded images (B x C x hp x wp, flat) and
    zeros after them; ``grads`` (B x K x L) each output-gradient map widened
    to the images' rows (``oh wp`` values, zero past ``ow`` in each row) and
    zero-padded to a length ``L`` (a whole number of vectors: 7 x 9 pixels
    summed as 63 ran a 15-value scalar tail in every run); ``out`` is the
    gradient (K x C x kh x kw). With both at the same row width, tap
    ``(i, j)`` of channel ``c`` is one run of ``L`` values per image starting
    ``i wp + j`` into the channel's plane; the products past a gradient row's
    end, or past its map, meet zeros (finite inputs assumed: the run reads
    into the next row, plane or image, or into the zeros after the last). The
    images need ``L - oh wp + kw`` zeros after them. So each tap is a product
    of the filters' gradients and the channels summed over the images, by
    blocks of 4 filters x 6 channels in registers. Parallel over (tap,
    :data:`TASK_FILTERS` filters, :data:`TASK_CHANNELS` channels); each task
    sums in chunks of about :data:`WEIGHT_CHUNK` values (whole images, or
    pieces of one), all its blocks per chunk, so that the chunk's runs are
    read from cache by every block of the task (one task's blocks over every
    image and channel read 1.3 MB per block of filters on ResNet-50's 7x7
    layer at batch 8).
    """
    batch, filters, length = grads.shape
    channels, kh, kw = out.shape[1], out.shape[2], out.shape[3]
    plane = hp * wp
    per, piece = max(1, WEIGHT_CHUNK // length), min(length, WEIGHT_CHUNK)
    flat_grads = grads.reshape(-1)
    strips, bands = (filters + TASK_FILTERS - 1) // TASK_FILTERS, (channels + TASK_CHANNELS - 1) // TASK_CHANNELS
    for task in prange(kh * kw * strips * bands):
        tap, strip, band = task // (strips * bands), (task // bands) % strips, task % bands
        i, j, k0, c0 = tap // kw, tap % kw, strip * TASK_FILTERS, band * TASK_CHANNELS
        k1, c1 = min(k0 + TASK_FILTERS, filters), min(c0 + TASK_CHANNELS, channels)
        target = out[:, :, i, j]
        partial = np.empty((k1 - k0, c1 - c0), out.dtype)
        first = True
        for g0 in range(0, batch, per):
            for r0 in range(0, length, piece):
                sizes = (min(per, batch - g0), min(piece, length - r0))
                geometry = (length, filters * length, plane, channels * plane, *sizes)
                a0, b0 = g0 * filters * length + r0, i * wp + j + g0 * channels * plane + r0
                if first:  # the first chunk straight into the gradient, the others summed into it
                    _region(flat_grads, a0, flat_images, b0, geometry, target, k0, k1, c0, c1)
                    first = False
                else:
                    a0, b0 = a0 + k0 * length, b0 + c0 * plane
                    _region(flat_grads, a0, flat_images, b0, geometry, partial, 0, k1 - k0, 0, c1 - c0)
                    target[k0:k1, c0:c1] += partial
