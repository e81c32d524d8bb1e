"""The two parallel loops of overlap-add: scatter the image into blocks, add the block results back."""

from __future__ import annotations

from numba import njit, prange


@njit(parallel=True, boundscheck=False, cache=True)
def scatter(image, blocks, bh, bw, per_row):
    """Copy image block (i, j) into the corner of blocks[i * per_row + j]."""
    h, w = image.shape
    for n in prange(blocks.shape[0]):
        r0 = (n // per_row) * bh
        c0 = (n % per_row) * bw
        rows = min(bh, h - r0)
        cols = min(bw, w - c0)
        for r in range(rows):
            blocks[n, r, :cols] = image[r0 + r, c0 : c0 + cols]

@njit(parallel=True, boundscheck=False, cache=True)
def overlap_add(results, full, bh, bw, per_row, kh, kw):
    """full = sum of block results, each shifted to its block's origin.

    Block rows overlap only their neighbours (bh >= kh - 1), so even and then
    odd block rows run in parallel without two threads adding to one sample.
    """
    full[...] = 0
    out_h, out_w = full.shape
    block_rows = results.shape[0] // per_row
    for parity in range(2):
        for br in prange((block_rows - parity + 1) // 2):
            i = 2 * br + parity
            r0 = i * bh
            rows = min(bh + kh - 1, out_h - r0)
            for j in range(per_row):
                c0 = j * bw
                cols = min(bw + kw - 1, out_w - c0)
                block = results[i * per_row + j]
                for r in range(rows):
                    full[r0 + r, c0 : c0 + cols] += block[r, :cols]
