"""The CUDA direct loop: a valid correlation, register-blocked, generated per kernel chunk shape.

A block of ``tile_h`` x ``tile_w`` threads computes ``tile_h * rows`` rows by
``tile_w`` columns of output (:class:`Launch`). Each thread owns a column strip
of ``rows`` outputs, kept in registers. The kernel is walked in chunks
of at most ``CHUNK`` x ``CHUNK`` taps: per chunk, the block stages the chunk's
weights and the input tile it reads (tile plus a halo of the chunk size less
one) in shared memory, with consecutive threads reading consecutive columns
(coalesced). Then, per kernel column, every thread loads the
``rows + chunk rows - 1`` input values of its strip once into registers and
slides the chunk's weights down them: each value loaded feeds up to ``rows``
outputs. Chunking bounds shared memory whatever the
kernel size (no 48 KiB limit on the kernel), and the chunk shape is split
evenly (20 rows: two chunks of 10) so little of the last chunk is zeros.

The inner statements are generated as Python source for each (rows per thread,
chunk rows, chunk columns) and compiled with ``numba.cuda.jit``, so the strip
and the window are scalar registers, not a local-memory array indexed at run
time. 1-D problems (one output row) use one row of wide blocks instead.

Staging costs a loop, integer arithmetic and two barriers per chunk, which
small kernels cannot amortise: :func:`cached_source` instead reads the input
straight from global memory, through L1 (kernels of at most :data:`CHUNK`
rows). Which launch is fastest depends on the GPU and the kernel size, so a
prepared case can time the :func:`candidate_launches` on its own arrays and
keep the fastest, as cuDNN's benchmark mode does (:func:`fastest_launch`).

Nothing here imports from the sweep machinery: it is pure array code.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from ._cuda_source import jit_source, store_lines, strip_lines


class Launch(NamedTuple):
    """How a 2-D case is launched: where the strips read their input, and the block.

    ``loads`` is ``"staged"`` (the block's input tile copied to shared memory,
    :func:`kernel_source`) or ``"cached"`` (read from global memory through L1,
    :func:`cached_source`); ``tile_h`` x ``tile_w`` threads each compute ``rows``
    outputs of one column.
    """

    loads: str
    tile_h: int
    tile_w: int
    rows: int

    @property
    def block(self) -> tuple[int, int, int]:
        return self.tile_h, self.tile_w, self.rows

    def label(self) -> str:
        return f"{self.loads} {self.tile_h}x{self.tile_w}x{self.rows}"


# Block shapes (threads tall, threads wide, output rows per thread) the search times with both loads.
# On an H200 (bench/gpu-notes.md) 8x32x4 and 4x64x4 never won a case: 8 rows per thread did.
BLOCKS = ((4, 32, 8), (8, 32, 8))
# Without a search (small cases, the simulator, tune off): staged loads, the first block.
DEFAULT = Launch("staged", *BLOCKS[0])
LOADS = ("staged", "cached")
# Below this many outputs a launch takes a few microseconds whatever its shape: no search, the default.
TUNE_MIN_OUTPUTS = 256 * 256
# 1-D (one output row): one row of 128 threads, one output each.
TILE_W_1D = 128
# Largest chunk of kernel rows or columns staged at once.
CHUNK = 16


def chunk_length(n: int) -> int:
    """Taps per chunk along an axis of ``n`` taps: ``n`` split evenly into chunks of at most :data:`CHUNK`."""
    return -(-n // -(-n // CHUNK))


def launch_shape(out_shape, kernel_shape, block: tuple[int, int, int] = DEFAULT.block) -> dict:
    """Block geometry for a problem: threads per block, outputs per thread, chunk shape and the grid.

    ``block`` is (threads tall, threads wide, output rows per thread) for 2-D
    outputs; 1-D outputs (one row) always use one row of :data:`TILE_W_1D` threads.
    """
    oh, ow = out_shape
    one_row = oh == 1
    tile_h, tile_w, rows = (1, TILE_W_1D, 1) if one_row else block
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
    lines += strip_lines(rows, kch, 16, lambda t: f"tile[base + {t}, c]", lambda a: f"wts[{a}, b]")
    lines += [
        "            cuda.syncthreads()",
        "    j = col0 + tx",
        "    i = row0 + base",
        "    oh = out.shape[0]",
        "    ow = out.shape[1]",
    ]
    return "\n".join(lines + store_lines(rows, lambda r: f"out[i + {r}, j]")) + "\n"


@functools.cache
def compiled(rows: int, kch: int, kcw: int, tile_h: int, tile_w: int, dtype: str):
    """The jitted kernel for this geometry and dtype (compiled on first launch, kept per process)."""
    return jit_source(kernel_source(rows, kch, kcw, tile_h, tile_w), "corr", f"{kch}x{kcw}", dtype)


def bind(x, w, out, dtype: str, launch: Launch = DEFAULT):
    """A no-argument launcher of the valid correlation of device arrays ``x`` with ``w`` into ``out``."""
    if launch.loads == "cached":
        return bind_cached(x, w, out, dtype, launch.block)
    geometry = launch_shape(out.shape, w.shape, launch.block)
    kernel = compiled(
        geometry["rows"], geometry["kch"], geometry["kcw"], geometry["tile_h"], geometry["tile_w"], dtype
    )
    configured = kernel[geometry["grid"], (geometry["tile_w"], geometry["tile_h"])]
    zero = np.dtype(dtype).type(0)
    return functools.partial(configured, x, w, out, zero)


def cached_source(rows: int, kh: int, tile_h: int, tile_w: int) -> str:
    """Source of ``corr(x, xf, w, wf, out, zero)`` that reads the input from global memory, through L1.

    No shared memory, staging loop or barrier: per kernel column each thread
    loads its window of ``rows + kh - 1`` values from ``xf`` (the image
    flattened, so a load is one add from a row offset computed once) and
    slides the ``kh`` weights down it; neighbouring threads' loads coalesce and
    the overlap between kernel columns is served by L1. For kernels of at most
    :data:`CHUNK` rows (``kh`` is compiled in, the columns are a loop).
    """
    window = rows + kh - 1
    lines = [
        "def corr(x, xf, w, wf, out, zero):",
        f"    j = cuda.blockIdx.x * {tile_w} + cuda.threadIdx.x",
        f"    i = cuda.blockIdx.y * {tile_h * rows} + cuda.threadIdx.y * {rows}",
        "    oh = out.shape[0]",
        "    ow = out.shape[1]",
        "    xw = x.shape[1]",
        "    kw = w.shape[1]",
        "    last = x.shape[0] - 1",
        "    jc = min(j, ow - 1)",
    ]
    # Rows and columns past the output (the last blocks' overhang) read inside the image; never stored.
    lines += [f"    o{t} = min(i + {t}, last) * xw + jc" for t in range(window)]
    lines += [f"    acc{r} = zero" for r in range(rows)]
    lines += ["    for b in range(kw):"]
    lines += strip_lines(rows, kh, 8, lambda t: f"xf[o{t} + b]", lambda a: f"wf[{a} * kw + b]")
    return "\n".join(lines + store_lines(rows, lambda r: f"out[i + {r}, j]")) + "\n"


@functools.cache
def compiled_cached(rows: int, kh: int, tile_h: int, tile_w: int, dtype: str):
    """The jitted :func:`cached_source` kernel for this geometry and dtype."""
    return jit_source(cached_source(rows, kh, tile_h, tile_w), "corr", f"cached {kh}", dtype)


def bind_cached(x, w, out, dtype: str, block: tuple[int, int, int] = DEFAULT.block):
    """A no-argument launcher of :func:`cached_source`'s kernel (kernels of at most :data:`CHUNK` rows)."""
    if w.shape[0] > CHUNK:
        raise ValueError(f"the cached-load kernel takes at most {CHUNK} kernel rows, not {w.shape[0]}")
    tile_h, tile_w, rows = block
    oh, ow = out.shape
    grid = (math.ceil(ow / tile_w), math.ceil(oh / (tile_h * rows)))
    kernel = compiled_cached(rows, w.shape[0], tile_h, tile_w, dtype)
    zero = np.dtype(dtype).type(0)
    return functools.partial(kernel[grid, (tile_w, tile_h)], x, x.reshape(x.size), w, w.reshape(w.size), out, zero)


def candidate_launches(out_shape, kernel_shape, itemsize: int) -> list[Launch]:
    """The launches worth timing for a problem, :data:`DEFAULT` first.

    Staged loads at each of :data:`BLOCKS` that fits in 48 KiB of shared
    memory, and cached loads at each block for kernels of at most
    :data:`CHUNK` rows. A 1-D output has one launch shape, and a small one
    (under :data:`TUNE_MIN_OUTPUTS` outputs) is launch-bound: only the default.
    """
    if out_shape[0] == 1 or out_shape[0] * out_shape[1] < TUNE_MIN_OUTPUTS:
        return [DEFAULT]
    staged = [
        Launch("staged", *block)
        for block in BLOCKS
        if shared_bytes(launch_shape(out_shape, kernel_shape, block), itemsize) <= 48 * 1024
    ]
    cached = [Launch("cached", *block) for block in BLOCKS] if kernel_shape[0] <= CHUNK else []
    return [DEFAULT] + [launch for launch in staged + cached if launch != DEFAULT]


def fastest_launch(launches, seconds_of) -> tuple[Launch, dict]:
    """The launch of ``launches`` with the least ``seconds_of(launch)``, and every launch's seconds.

    ``seconds_of`` times one launch on the case's own arrays (see :func:`kernels._gpu.time_launch`).
    """
    seconds = {launch: seconds_of(launch) for launch in launches}
    return min(seconds, key=seconds.get), seconds
