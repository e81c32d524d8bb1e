"""CNN layers on the GPU as Numba CUDA kernels: a valid correlation summed over channels, and the weight gradient.

Two kernels serve the three passes (:mod:`kernels._layers` has the shapes):

- :func:`channel_sum_source`: ``out[b, k] = sum_c`` the valid correlation of
  ``x[b, c]`` (zero-padded) with ``w[k, c]``. ``forward`` runs it on the padded
  images; ``backward-data`` on the padded output gradients with the filters
  flipped and transposed, as :mod:`kernels._layer_direct` does on the CPU.
  Each thread owns a strip of ``rows`` outputs of one column, in registers, and
  reads its input window through L1 (no staging), as ``numba-cuda``'s cached
  loads do for one image; kernel rows go in chunks of at most
  :data:`~kernels._cuda_direct.CHUNK`, unrolled. Blocks are laid out as
  (filters x column tiles, row tiles, batch).
- :func:`weight_gradient_source`: ``dw[k, c, a, b] = sum`` over images and
  output pixels of ``x[b, c, i + a, j + b] * dy[b, k, i, j]``. One block per
  (k, c) pair and chunk of up to :data:`TAPS` taps; its threads stride over the
  images' pixels (consecutive threads, consecutive columns), each keeping one
  sum per tap in registers, then the block adds its threads' sums in shared
  memory.

The sources are generated per shape and compiled with ``numba.cuda.jit``, so
the strip, the window and the per-tap sums are scalar registers. Nothing here
imports from the sweep machinery.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ._cuda_direct import chunk_length
from ._cuda_source import jit_source, store_lines, strip_lines

# Channel-sum kernel: 4 x 32 threads, 8 output rows each (the shape that won most single-image cases on an H200).
TILE_H, TILE_W, ROWS = 4, 32, 8
# Weight-gradient kernel: threads per block (a power of two, for the tree sum) and taps per block.
THREADS, TAPS = 128, 16


def channel_sum_source(rows: int, kch: int, tile_h: int, tile_w: int) -> str:
    """Source of ``corr(x, xf, w, wf, out, zero)`` for chunks of ``kch`` kernel rows (``DT``, ``cuda`` from outside).

    ``x`` is B x C x PH x PW (padded), ``w`` K x C x kh x kw, ``out`` B x K x oh x ow;
    ``xf`` and ``wf`` are the same arrays flattened, so a load is an add from a
    row offset computed once per channel.
    """
    window = rows + kch - 1
    lines = [
        "def corr(x, xf, w, wf, out, zero):",
        "    channels = x.shape[1]",
        "    ph = x.shape[2]",
        "    pw = x.shape[3]",
        "    kh = w.shape[2]",
        "    kw = w.shape[3]",
        "    oh = out.shape[2]",
        "    ow = out.shape[3]",
        f"    col_tiles = (ow + {tile_w - 1}) // {tile_w}",
        "    k = cuda.blockIdx.x // col_tiles",
        "    b = cuda.blockIdx.z",
        f"    j = (cuda.blockIdx.x - k * col_tiles) * {tile_w} + cuda.threadIdx.x",
        f"    i = cuda.blockIdx.y * {tile_h * rows} + cuda.threadIdx.y * {rows}",
        "    jc = min(j, ow - 1)",
    ]
    lines += [f"    acc{r} = zero" for r in range(rows)]
    lines += [
        "    for c in range(channels):",
        "        image = (b * channels + c) * ph",
        "        taps = (k * channels + c) * kh",
        f"        for a0 in range(0, kh, {kch}):",
    ]
    # Rows past the image (the last blocks' overhang) read its last row: their outputs are never stored.
    lines += [f"            o{t} = (image + min(i + a0 + {t}, ph - 1)) * pw + jc" for t in range(window)]
    lines += ["            for bb in range(kw):"]
    # The last chunk may run past the kernel (an even split): its extra rows weigh zero.
    weight = "wf[(taps + a0 + {a}) * kw + bb] if a0 + {a} < kh else zero"
    lines += strip_lines(rows, kch, 16, lambda t: f"xf[o{t} + bb]", lambda a: weight.format(a=a))
    return "\n".join(lines + store_lines(rows, lambda r: f"out[b, k, i + {r}, j]")) + "\n"


def weight_gradient_source(taps: int, threads: int) -> str:
    """Source of ``grad(x, xf, g, gf, out, outf, zero)``: ``taps`` taps of ``dw[k, c]`` per block.

    ``x`` is B x C x PH x PW (padded), ``g`` (the output gradient) B x K x oh x ow,
    ``out`` K x C x kh x kw; ``*f`` are the same arrays flattened. Block
    ``(k * C + c, tap chunk)``; thread ``t`` takes pixels ``t, t + threads, ...``
    of the B x oh x ow output gradient.
    """
    lines = [
        "def grad(x, xf, g, gf, out, outf, zero):",
        f"    sums = cuda.shared.array(({taps}, {threads}), DT)",
        "    channels = x.shape[1]",
        "    ph = x.shape[2]",
        "    pw = x.shape[3]",
        "    filters = g.shape[1]",
        "    oh = g.shape[2]",
        "    ow = g.shape[3]",
        "    kh = out.shape[2]",
        "    kw = out.shape[3]",
        "    pair = cuda.blockIdx.x",
        "    k = pair // channels",
        "    c = pair - k * channels",
        f"    first = cuda.blockIdx.y * {taps}",
        "    t = cuda.threadIdx.x",
        "    last = kh * kw - 1",
    ]
    # Each tap's offset in the padded image, once; taps past the kernel repeat the last and are never stored.
    for n in range(taps):
        lines += [
            f"    tap = min(first + {n}, last)",
            "    row = tap // kw",
            f"    off{n} = row * pw + tap - row * kw",
            f"    acc{n} = zero",
        ]
    lines += [
        "    pixels = oh * ow",
        f"    for p in range(t, g.shape[0] * pixels, {threads}):",
        "        b = p // pixels",
        "        rest = p - b * pixels",
        "        i = rest // ow",
        "        j = rest - i * ow",
        "        dy = gf[(b * filters + k) * pixels + rest]",
        "        base = ((b * channels + c) * ph + i) * pw + j",
    ]
    lines += [f"        acc{n} += xf[base + off{n}] * dy" for n in range(taps)]
    lines += [f"    sums[{n}, t] = acc{n}" for n in range(taps)]
    lines += ["    cuda.syncthreads()"]
    step = threads // 2
    while step >= 1:
        lines += [f"    if t < {step}:"]
        lines += [f"        sums[{n}, t] += sums[{n}, t + {step}]" for n in range(taps)]
        lines += ["    cuda.syncthreads()"]
        step //= 2
    lines += [
        f"    if t < {taps} and first + t <= last:",
        "        outf[pair * (last + 1) + first + t] = sums[t, 0]",
    ]
    return "\n".join(lines) + "\n"


@functools.cache
def compiled_channel_sum(rows: int, kch: int, tile_h: int, tile_w: int, dtype: str):
    """The jitted :func:`channel_sum_source` kernel (compiled on first launch, kept per process)."""
    return jit_source(channel_sum_source(rows, kch, tile_h, tile_w), "corr", f"layer sum {kch}", dtype)


@functools.cache
def compiled_weight_gradient(taps: int, threads: int, dtype: str):
    """The jitted :func:`weight_gradient_source` kernel."""
    return jit_source(weight_gradient_source(taps, threads), "grad", f"layer weights {taps}", dtype)


def bind_channel_sum(x, w, out, dtype: str, block: tuple[int, int, int] = (TILE_H, TILE_W, ROWS)):
    """A no-argument launcher of ``out[b, k] = sum_c corr_valid(x[b, c], w[k, c])`` on device arrays."""
    tile_h, tile_w, rows = block
    batch, filters, oh, ow = out.shape
    kch = chunk_length(w.shape[2])
    grid = (filters * math.ceil(ow / tile_w), math.ceil(oh / (tile_h * rows)), batch)
    kernel = compiled_channel_sum(rows, kch, tile_h, tile_w, dtype)
    zero = np.dtype(dtype).type(0)
    return functools.partial(kernel[grid, (tile_w, tile_h)], x, x.reshape(x.size), w, w.reshape(w.size), out, zero)


def bind_weight_gradient(x, g, out, dtype: str, threads: int = THREADS):
    """A no-argument launcher of ``out[k, c, a, b] = sum x[n, c, i + a, j + b] * g[n, k, i, j]`` on device arrays."""
    filters, channels, kh, kw = out.shape
    taps = min(TAPS, kh * kw)
    grid = (filters * channels, math.ceil(kh * kw / taps))
    kernel = compiled_weight_gradient(taps, threads, dtype)
    zero = np.dtype(dtype).type(0)
    flat = functools.partial(kernel[grid, threads], x, x.reshape(x.size), g, g.reshape(g.size))
    return functools.partial(flat, out, out.reshape(out.size), zero)

