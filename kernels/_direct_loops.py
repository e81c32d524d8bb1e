"""Register-blocked valid correlation loops for the CPU, specialised per kernel shape.

``valid_correlation(x, w, out)`` computes ``out[i, j] = sum_ab w[a, b] * x[i + a, j + b]``;
the generated ``padded_2d`` does the same over a zero-padded image (see ``_padded``).
How it reaches a large fraction of the FMA peak, and why it is shaped this way:

* The innermost loop runs along an output row (``j``), so LLVM vectorises it; the
  body is a fully unrolled block of ``R`` output rows x ``A`` kernel rows x ``B``
  kernel columns of multiply-adds. Each input vector is loaded once and fed at
  once to the ``min(R, A)`` output rows that use it, the ``A * B`` weights stay
  in registers, and the ``R`` partial sums are stored once per pass. (Written
  as loops over output rows, LLVM folded a fresh load into every multiply-add:
  one load per FMA, and 20-40% slower.)
* Kernels larger than one block are covered by several passes that add into the
  output rows; the first pass stores, so nothing is zeroed beforehand.
* Each kernel shape gets its own module, generated with the block sizes written
  in as numbers, stored in the user's cache directory and compiled with
  ``cache=True``, so the next process loads the machine code from disk.
  (Closures give constant block sizes too, but Numba's cache misses on closures
  that call other jitted closures.)
* Everything is inlined into the parallel loop's body, which Numba compiles
  with ``noalias`` arguments only while the body makes no array views; that is
  what lets LLVM vectorise without run-time overlap checks.
* Column offsets are unsigned and added outside the loop: with a signed runtime
  offset in the index, Numba's negative-index wraparound stops vectorisation.
  Nor are they compile-time constants: seeing ``x[j + b]`` with constant
  offsets, LLVM vectorises the shifted loads as a recurrence (vectors carried
  between iterations and spliced with permutes) and spills the weights, 25-50%
  slower at 3x3 and 5x5; so ``valid_2d`` takes its column origin (0) as an argument.
* A row runs in whole vectors, and any leftover columns as one more vector
  that overlaps the last; LLVM's scalar remainder loop never runs once a row
  is a vector wide. Edge strips of padded modes are at least a vector wide too.
* Work is split over blocks of whole rows; a 1-D signal is folded into many
  rows with a zero-copy strided view.
* Tiny outputs use one generic loop: compiling a specialisation per shape could
  never pay for itself there.

"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from numba import njit, prange

from ._cache import user_cache_dir

# Output columns per folded row of a 1-D signal.
FOLD_COLS = 4096
# Below this many outputs the generic loop runs instead of a specialised one.
SPECIALISE_MIN_OUTPUTS = 2048
# Up to this many kernel taps, padded modes read their interior straight from
# the image: staging every row would cost a large share of so little arithmetic.
# Above it all rows are staged, which saves compiling a third copy of the block.
DIRECT_INTERIOR_MAX_TAPS = 100
# Widest SIMD vector LLVM uses (AVX-512). Column ranges run in whole vectors of
# this many bytes, the leftover columns as one more, overlapping vector: a
# scalar remainder of up to 15 columns cost ~25% at 3x3 on 1024 columns.
VECTOR_BYTES = 64

_BLOCK = '''
@njit(fastmath=_FM, boundscheck=False, inline="always", cache=True)
def block_{rows}{tag}(x, {t}w, out, xi, oi, xj0, oj0, ncols0, zero):
    # Whole vectors of columns, then, if columns are left over, the last
    # VECTOR_BYTES of them again: every pass of the block reruns there and the
    # first one stores, so the overlap comes out right, and no column runs
    # through LLVM's scalar remainder loop.
    vec = {vector_bytes} // out.itemsize
    big = int(ncols0 >= vec)
    full = ncols0 - big * (ncols0 % vec)
    for part in range(1 + int(full < ncols0)):
        shift = part * (ncols0 - vec)
        xj = xj0 + shift
        oj = oj0 + shift
        ncols = full + part * (vec - full)
{body}
'''

_KERNEL = '''
@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def valid_2d(x, w, out, zero, col0):
    # Work items are blocks of {rows} rows, then the leftover rows one by one,
    # in one parallel loop (one launch); no two items write the same row.
    # col0 is a run-time 0 for the column origins (see the module docstring).
    nrows, ncols = out.shape
    blocks = nrows // {rows}
    for item in prange(blocks + nrows - blocks * {rows}):
        if item < blocks:
            block_{rows}(x, w, out, item * {rows}, item * {rows}, col0, col0, ncols, zero)
        else:
            i = item - blocks + blocks * {rows}
            block_1(x, w, out, i, i, col0, col0, ncols, zero)


@njit(parallel=True, fastmath=_FM, boundscheck=False, cache=True)
def padded_2d(image, w, out, zero, scratch, top, left, bands):
    # Valid correlation over the image zero-padded by (top, left) and whatever
    # the output needs below and right. Work items are `bands` bands of whole
    # blocks of {rows} output rows, their sizes within one block of each other
    # (the leftover rows go to the last): Numba hands each thread an equal run
    # of work items, so a band count that is a multiple of the thread count
    # gives every thread the same rows to within one block. For small kernels, a band whose windows stay
    # inside the image rows runs its interior columns straight from the image
    # and stages only its two edge strips; other bands (every band, for large
    # kernels) stage all their padded rows. Staging goes to the thread's slice
    # of `scratch`, indexed in place: a view would cost Numba's no-alias
    # promise, and with it vectorisation.
    out_h, out_w = out.shape
    h, width = image.shape
    padded_w = out_w + {kw} - 1
    # Inside bands run output columns [lo, hi) straight from the image: all
    # windows there lie within the image's columns (hi <= c1), and each edge
    # strip is at least a vector wide, so it runs vectorised as well.
    vec = {vector_bytes} // out.itemsize
    c1 = left + width - {kw} + 1  # first output column whose window passes the image's right edge
    lo = max(left, vec)
    hi = max(lo, min(c1, out_w - vec))
    left_w = lo + {kw} - 1  # padded columns the left edge strip reads
    right_w = padded_w - hi  # and the right one
    row_blocks = (out_h + {rows} - 1) // {rows}
    for b in prange(bands):
        t = get_thread_id()
        o0 = {rows} * (b * row_blocks // bands)
        n = min(out_h, {rows} * ((b + 1) * row_blocks // bands)) - o0
        # Numba counts the assignments hidden in `and` and `x if c else y` as
        # aliases and then drops the no-alias promise: plain arithmetic here.
        inside = {inside}
        for q in range(n + {kh} - 1):
            src = o0 + q - top
            if inside:
                for p in range(left):
                    scratch[t, q, p] = zero
                for p in range(np.uint64(left_w - left)):
                    scratch[t, q, p + np.uint64(left)] = image[src, p]
                for p in range(np.uint64(width - (hi - left))):
                    scratch[t, q, p + np.uint64(left_w)] = image[src, p + np.uint64(hi - left)]
                for p in range(np.uint64(left_w + width - (hi - left)), np.uint64(left_w + right_w)):
                    scratch[t, q, p] = zero
            elif 0 <= src < h:
                for p in range(left):
                    scratch[t, q, p] = zero
                for p in range(np.uint64(width)):
                    scratch[t, q, p + np.uint64(left)] = image[src, p]
                for p in range(np.uint64(left + width), np.uint64(padded_w)):
                    scratch[t, q, p] = zero
            else:
                for p in range(padded_w):
                    scratch[t, q, p] = zero
        blocks = n // {rows}
        for rb in range(blocks):
            oi = o0 + rb * {rows}
{interior}            # Edge strips of an inside band (segments 0 and 1), or every column of another.
            for seg in range(1 + inside):
                xj = seg * left_w
                oj = seg * hi
                ncols = inside * (lo + seg * (out_w - hi - lo)) + (1 - inside) * out_w
                block_{rows}_t(scratch, t, w, out, rb * {rows}, oi, xj, oj, ncols, zero)
        for i in range(blocks * {rows}, n):
            block_1_t(scratch, t, w, out, i, o0 + i, 0, 0, out_w, zero)
'''

_HEADER = '''"""Generated by convbench kernels/_direct_loops.py for a {kh}x{kw} kernel; safe to delete."""
import numpy as np
from numba import get_thread_id, njit, prange

_FM = {{"contract"}}  # FMA contraction only
'''


def block_sizes(kh: int, kw: int) -> tuple[int, int, int]:
    """``(R, A, B)``: output rows, kernel rows and kernel columns per unrolled block.

    Chosen by measurement on float32 and float64 AVX-512 (Zen 4) at 1024x1024:
    each input vector loaded feeds up to ``min(R, A)`` output rows, and the
    ``A * B`` weights plus ``R`` partial sums still fit the 32 vector
    registers. Kernels wider than 9 run in 5-column chunks.
    """
    if kw <= 7:
        r, a, b = 4, 3, kw
    elif kw <= 9:
        r, a, b = 3, 3, kw
    else:
        r, a, b = 4, 3, 5
    return r, min(a, kh), min(b, kw)


_PASS_HEAD = """
@njit(fastmath=_FM, boundscheck=False, inline="always", cache=True)
def pass_{rows}_{krows}_{kcols}_{first}{tag}(x, {t}w, out, xi, oi, xj, oj, ncols, a0, b0, zero):
"""


def _tags(threaded: bool) -> dict:
    return {"tag": "_t", "t": "t, "} if threaded else {"tag": "", "t": ""}


def pass_source(rows: int, krows: int, kcols: int, first: bool, threaded: bool = False) -> str:
    """Source of one pass: ``rows`` output rows += a ``krows`` x ``kcols`` corner of the kernel.

    ``threaded`` passes read ``x[t, row, col]``, a thread's slice of a 3-D scratch array.

    Within a kernel column ``b`` the body is written out statement by statement:
    each input row's vector is loaded once and fed at once to every output row
    that uses it, all partial sums stay live and are stored at the end, so LLVM
    keeps the load in a register instead of folding a fresh load into every
    multiply-add. The loop over ``b`` has a constant trip count and unrolls.
    Column indices are unsigned (``j`` plus offsets computed before the loop):
    a signed index gets Numba's negative-index wraparound, which stops LLVM
    vectorising once the offset is not a constant.
    """
    lines = [
        _PASS_HEAD.format(rows=rows, krows=krows, kcols=kcols, first=int(first), **_tags(threaded)).strip("\n"),
        "    cx = np.uint64(xj + b0)",
        "    cw = np.uint64(b0)",
        "    co = np.uint64(oj)",
        "    for j in range(np.uint64(ncols)):",
    ]
    for r in range(rows):
        lines.append(f"        s{r} = {'zero' if first else f'out[oi + {r}, j + co]'}")
    lines.append(f"        for b in range(np.uint64({kcols})):")
    for q in range(rows + krows - 1):
        lines.append(f"            v = x[{'t, ' if threaded else ''}xi + a0 + {q}, j + cx + b]")
        for r in range(max(0, q - krows + 1), min(rows, q + 1)):
            lines.append(f"            s{r} += w[a0 + {q - r}, cw + b] * v")
    for r in range(rows):
        lines.append(f"        out[oi + {r}, j + co] = s{r}")
    return "\n".join(lines) + "\n"


def generate_source(kh: int, kw: int) -> str:
    """Python source of the specialised module for a kh x kw kernel.

    A block of output rows runs one storing pass over the kernel's first
    ``A x B`` corner, then adding passes: a runtime loop over full ``A``-row
    and ``B``-column chunks, and constant-size passes for the leftovers.
    """
    rows, krows, kcols = block_sizes(kh, kw)
    full_a, rem_a = divmod(kh, krows)
    full_b, rem_b = divmod(kw, kcols)
    parts = [_HEADER.format(kh=kh, kw=kw)]
    defined = set()

    def call(block_rows, na, nb, first, a0, b0, indent):
        key = (block_rows, na, nb, first, threaded)
        tags = _tags(threaded)
        if key not in defined:
            defined.add(key)
            parts.append(pass_source(block_rows, na, nb, first, threaded))
        name = f"pass_{block_rows}_{na}_{nb}_{int(first)}{tags['tag']}"
        return f"{indent}{name}(x, {tags['t']}w, out, xi, oi, xj, oj, ncols, {a0}, {b0}, zero)"

    for block_rows, threaded in itertools.product(sorted({1, rows}), (False, True)):
        body = [call(block_rows, krows, kcols, True, 0, 0, "    ")]
        if full_a * full_b > 1:
            body += [
                f"    for a0 in range(0, {full_a * krows}, {krows}):",
                f"        for b0 in range(0, {full_b * kcols}, {kcols}):",
                "            if a0 > 0 or b0 > 0:",
                call(block_rows, krows, kcols, False, "a0", "b0", "                "),
            ]
        if rem_b:
            body += [f"    for a0 in range(0, {full_a * krows}, {krows}):",
                     call(block_rows, krows, rem_b, False, "a0", full_b * kcols, "        ")]
        if rem_a:
            body += [f"    for b0 in range(0, {full_b * kcols}, {kcols}):",
                     call(block_rows, rem_a, kcols, False, full_a * krows, "b0", "        ")]
        if rem_a and rem_b:
            body.append(call(block_rows, rem_a, rem_b, False, full_a * krows, full_b * kcols, "    "))
        body = "\n".join("    " + line for line in body)
        parts.append(_BLOCK.format(rows=block_rows, body=body, vector_bytes=VECTOR_BYTES, **_tags(threaded)))
    if kh * kw <= DIRECT_INTERIOR_MAX_TAPS:
        inside = f"int((n % {rows} == 0) & (o0 >= top) & (o0 + n + {kh} - 1 <= top + h) & (hi > lo))"
        interior = (f"            if inside:\n"
                    f"                block_{rows}(image, w, out, oi - top, oi, lo - left, lo, hi - lo, zero)\n")
    else:
        inside, interior = "0", ""
    parts.append(_KERNEL.format(rows=rows, kh=kh, kw=kw, inside=inside, interior=interior, vector_bytes=VECTOR_BYTES))
    return "\n".join(parts)


def cache_dir() -> Path:
    """Where generated kernel modules (and Numba's cache of them) live."""
    return user_cache_dir() / "direct_loops"


_kernels: dict[tuple[int, int], object] = {}


def kernel_for(kh: int, kw: int):
    """The generated module for a kh x kw kernel: ``valid_2d`` and ``padded_2d`` (compiled on first call)."""
    key = (kh, kw)
    if key not in _kernels:
        source = generate_source(kh, kw)
        digest = hashlib.sha1(source.encode()).hexdigest()[:10]  # noqa: S324
        name = f"direct_{kh}x{kw}_{digest}"
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.py"
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, path)  # atomic: concurrent processes never see half a file
        spec = importlib.util.spec_from_file_location(f"convbench_generated.{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _kernels[key] = module
    return _kernels[key]


@njit(parallel=True, fastmath={"contract"}, boundscheck=False, cache=True)
def _generic_valid(x, w, out):
    """Any kernel shape, one output row per work item; for outputs too small to specialise for."""
    kh, kw = w.shape
    for i in prange(out.shape[0]):
        acc = np.zeros(out.shape[1], dtype=out.dtype)
        for a in range(kh):
            for b in range(kw):
                weight = w[a, b]
                xs = x[i + a, b : b + out.shape[1]]
                for j in range(out.shape[1]):
                    acc[j] += weight * xs[j]
        out[i, :] = acc


def fold_1d(x: np.ndarray, out: np.ndarray, kw: int, cols: int = FOLD_COLS):
    """Views of a 1-row problem as many rows of ``cols`` outputs, plus the leftover tail.

    Row ``i`` of the folded input is ``x[i * cols : i * cols + cols + kw - 1]``
    (overlapping, zero-copy), so its valid correlation is ``out[i * cols : (i + 1) * cols]``.
    Returns ``(x_rows, out_rows, x_tail, out_tail)``; tails are 1-row views.
    """
    n = out.shape[1]
    rows = n // cols
    flat_x, flat_out = x[0], out[0]
    item = flat_x.strides[0]
    x_rows = np.lib.stride_tricks.as_strided(flat_x, shape=(rows, cols + kw - 1), strides=(cols * item, item))
    out_rows = flat_out[: rows * cols].reshape(rows, cols)
    start = rows * cols
    return x_rows, out_rows, flat_x[start:].reshape(1, -1), flat_out[start:].reshape(1, -1)


def uses_specialised(out_shape, kernel_shape) -> bool:
    """Whether :func:`valid_correlation` runs a shape-specialised loop for these shapes."""
    return out_shape[0] * out_shape[1] >= SPECIALISE_MIN_OUTPUTS


def _folds(kernel_shape, out_shape) -> bool:
    return kernel_shape[0] == 1 and out_shape[0] == 1 and out_shape[1] >= 2 * FOLD_COLS


def bind_valid_correlation(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> Callable[[], None]:
    """A call that writes the valid correlation of ``x`` with ``w`` into ``out``.

    The loop (generic, specialised or folded 1-D) and its arguments are chosen
    once, so a timed call pays only Numba's dispatch; the call reads whatever
    the arrays hold when it runs. Arrays: C-contiguous rows, one dtype.
    """
    kh, kw = w.shape
    zero = out.dtype.type(0)
    if not uses_specialised(out.shape, w.shape):
        return partial(_generic_valid, x, w, out)
    valid_2d = kernel_for(kh, kw).valid_2d
    if not _folds(w.shape, out.shape):
        return partial(valid_2d, x, w, out, zero, 0)
    x_rows, out_rows, x_tail, out_tail = fold_1d(x, out, kw)

    def folded() -> None:
        valid_2d(x_rows, w, out_rows, zero, 0)
        if out_tail.shape[1]:
            _generic_valid(x_tail, w, out_tail)

    return folded


def valid_correlation(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    """Write the valid correlation of ``x`` with ``w`` into ``out`` (C-contiguous rows, one dtype)."""
    bind_valid_correlation(x, w, out)()


def warm_up(kernel_shape, out_shape, dtype) -> None:
    """Compile (or load from disk) every loop the real shapes will run, on small arrays.

    The small arrays take the same path as the real shapes (generic, specialised,
    folded 1-D), so the time of a real-sized run never lands in the compile cost.
    """
    kh, kw = kernel_shape
    dtype = np.dtype(dtype)
    if _folds(kernel_shape, out_shape):
        small = (1, 2 * FOLD_COLS + 1)  # folded rows plus a tail
    elif uses_specialised(out_shape, kernel_shape):
        small = (5, 512)  # full row blocks plus leftover rows, above the specialising size
    else:
        small = (1, 1)
    out = np.empty(small, dtype)
    valid_correlation(np.zeros((small[0] + kh - 1, small[1] + kw - 1), dtype), np.zeros((kh, kw), dtype), out)
