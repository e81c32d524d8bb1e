"""The CUDA direct loop: a valid correlation, register-blocked, generated per kernel chunk shape.

A block of ``TILE_H`` x ``TILE_W`` threads computes ``TILE_H * ROWS_PER_THREAD``
rows by ``TILE_W`` columns of output. Each thread owns a column strip of
``ROWS_PER_THREAD`` outputs, kept in registers. The kernel is walked in chunks
of at most ``CHUNK`` x ``CHUNK`` taps: per chunk, the block stages the chunk's
weights and the input tile it reads (tile plus a halo of the chunk size less
one) in shared memory, with consecutive threads reading consecutive columns
(coalesced). Then, per kernel column, every thread loads the
``ROWS_PER_THREAD + chunk rows - 1`` input values of its strip once into
registers and slides the chunk's weights down them: each value loaded feeds up
to ``ROWS_PER_THREAD`` outputs. Chunking bounds shared memory whatever the
kernel size (no 48 KiB limit on the kernel), and the chunk shape is split
evenly (20 rows: two chunks of 10) so little of the last chunk is zeros.

The inner statements are generated as Python source for each (rows per thread,
chunk rows, chunk columns) and compiled with ``numba.cuda.jit``, so the strip
and the window are scalar registers, not a local-memory array indexed at run
time. 1-D problems (one output row) use one row of wide blocks instead.

Nothing here imports from the sweep machinery: it is pure array code.
"""

from __future__ import annotations

import functools
import math

import numpy as np

# 2-D: 8 x 32 threads, 4 output rows each: a 32 x 32 output tile per block.
TILE_H, TILE_W, ROWS_PER_THREAD = 8, 32, 4
# 1-D (one output row): one row of 128 threads, one output each.
TILE_W_1D = 128
# Largest chunk of kernel rows or columns staged at once.
CHUNK = 16


def chunk_length(n: int) -> int:
    """Taps per chunk along an axis of ``n`` taps: ``n`` split evenly into chunks of at most :data:`CHUNK`."""
    return -(-n // -(-n // CHUNK))


def launch_shape(out_shape, kernel_shape) -> dict:
    """Block geometry for a problem: threads per block, outputs per thread, chunk shape and the grid."""
    oh, ow = out_shape
    one_row = oh == 1
    tile_h, tile_w, rows = (1, TILE_W_1D, 1) if one_row else (TILE_H, TILE_W, ROWS_PER_THREAD)
    kch, kcw = chunk_length(kernel_shape[0]), chunk_length(kernel_shape[1])
    grid = (math.ceil(ow / tile_w), math.ceil(oh / (tile_h * rows)))
    return {"tile_h": tile_h, "tile_w": tile_w, "rows": rows, "kch": kch, "kcw": kcw, "grid": grid}


def shared_bytes(geometry: dict, itemsize: int) -> int:
    """Shared memory one block uses: the staged input tile and the weight chunk."""
    halo_h = geometry["tile_h"] * geometry["rows"] + geometry["kch"] - 1
    halo_w = geometry["tile_w"] + geometry["kcw"] - 1
    return itemsize * (halo_h * halo_w + geometry["kch"] * geometry["kcw"])


def kernel_source(rows: int, kch: int, kcw: int, tile_h: int, tile_w: int) -> str:
    """Source of ``corr(x, w, out, zero)`` for this geometry (``DT`` and ``cuda`` come from the namespace)."""
    halo_h, halo_w = tile_h * rows + kch - 1, tile_w + kcw - 1
    window = rows + kch - 1
    lines = [
        "def corr(x, w, out, zero):",
        f"    tile = cuda.shared.array(({halo_h}, {halo_w}), DT)",
        f"    wts = cuda.shared.array(({kch}, {kcw}), DT)",
        "    tx = cuda.threadIdx.x",
        "    ty = cuda.threadIdx.y",
        f"    flat = ty * {tile_w} + tx",
        f"    row0 = cuda.blockIdx.y * {tile_h * rows}",
        f"    col0 = cuda.blockIdx.x * {tile_w}",
        f"    base = ty * {rows}",
        "    kh = w.shape[0]",
        "    kw = w.shape[1]",
        "    xh = x.shape[0]",
        "    xw = x.shape[1]",
    ]
    lines += [f"    acc{r} = zero" for r in range(rows)]
    lines += [
        f"    for a0 in range(0, kh, {kch}):",
        f"        for b0 in range(0, kw, {kcw}):",
        f"            for n in range(flat, {kch * kcw}, {tile_h * tile_w}):",
        f"                a = n // {kcw}",
        f"                b = n - a * {kcw}",
        "                if a0 + a < kh and b0 + b < kw:",
        "                    wts[a, b] = w[a0 + a, b0 + b]",
        "                else:",
        "                    wts[a, b] = zero",
        f"            for n in range(flat, {halo_h * halo_w}, {tile_h * tile_w}):",
        f"                r = n // {halo_w}",
        f"                c = n - r * {halo_w}",
        "                gi = row0 + a0 + r",
        "                gj = col0 + b0 + c",
        "                if gi < xh and gj < xw:",
        "                    tile[r, c] = x[gi, gj]",
        "                else:",
        "                    tile[r, c] = zero",
        "            cuda.syncthreads()",
        f"            for b in range({kcw}):",
        "                c = tx + b",
    ]
    lines += [f"                v{t} = tile[base + {t}, c]" for t in range(window)]
    for a in range(kch):
        lines.append(f"                wt = wts[{a}, b]")
        lines += [f"                acc{r} += wt * v{r + a}" for r in range(rows)]
    lines += [
        "            cuda.syncthreads()",
        "    j = col0 + tx",
        "    if j < out.shape[1]:",
        "        i = row0 + base",
    ]
    for r in range(rows):
        lines += [f"        if i + {r} < out.shape[0]:", f"            out[i + {r}, j] = acc{r}"]
    return "\n".join(lines) + "\n"


@functools.cache
def compiled(rows: int, kch: int, kcw: int, tile_h: int, tile_w: int, dtype: str):
    """The jitted kernel for this geometry and dtype (compiled on first launch, kept per process)."""
    import numba
    from numba import cuda

    namespace = {"cuda": cuda, "DT": numba.from_dtype(np.dtype(dtype))}
    exec(compile(kernel_source(rows, kch, kcw, tile_h, tile_w), f"<numba-cuda {kch}x{kcw}>", "exec"), namespace)
    return cuda.jit(namespace["corr"])


def bind(x, w, out, dtype: str):
    """A no-argument launcher of the valid correlation of device arrays ``x`` with ``w`` into ``out``."""
    geometry = launch_shape(out.shape, w.shape)
    kernel = compiled(
        geometry["rows"], geometry["kch"], geometry["kcw"], geometry["tile_h"], geometry["tile_w"], dtype
    )
    launch = kernel[geometry["grid"], (geometry["tile_w"], geometry["tile_h"])]
    zero = np.dtype(dtype).type(0)
    return functools.partial(launch, x, w, out, zero)
