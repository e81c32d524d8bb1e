"""im2col + GEMM on the CPU: unfold the padded images into columns, then one BLAS matrix product per image.

The route most frameworks took; a 1x1 kernel skips the unfold (the images
are their own columns) and the fold. ``forward``: ``y[b] = W (K x C kh kw) @
cols[b] (C kh kw x oh ow)``; ``backward-data``: ``cols = W^T @ dy[b]``, folded
back onto the padded image (col2im) and cropped; ``backward-weights``:
``dW = sum_b dy[b] @ cols[b]^T``. The unfold and fold are Numba loops
(:mod:`kernels._layer_loops`); the products are numpy's ``matmul`` on the
BLAS it was built with, limited to the problem's threads with threadpoolctl.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from ._layer_base import LayerPrepared
from ._layer_loops import fold, pad_into, unfold, unfold_product, unfold_weights_product
from ._layers import oriented, output_shape
from ._parallel import numba_blas_available
from ._problem import Problem


def limit_blas(threads: int) -> str:
    """Give BLAS ``threads`` threads for the calls that follow (the limit is process-wide); returns which BLAS."""
    # Imported here: importing threadpoolctl sets KMP_DUPLICATE_LIB_OK, and importing kernels changes nothing.
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    found = [i for i in threadpool_info() if i["user_api"] == "blas"]
    numpy_own = [i for i in found if "numpy" in i.get("filepath", "")] or found  # others may be loaded beside it
    names = [f"{i['internal_api']} {i['version']} ({i.get('architecture') or 'kernels unknown'})" for i in numpy_own]
    return f"BLAS: {', '.join(names) or 'none found'}"


_pools: dict[int, ThreadPoolExecutor] = {}
_blas_controllers: list = []


def blas_controllers(refresh: bool = False) -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries, found once (finding them takes milliseconds).

    ``refresh`` finds them again: Numba loads SciPy's BLAS only when it first compiles an ``np.dot``.
    """
    if refresh:
        _blas_controllers.clear()
    if not _blas_controllers:
        from threadpoolctl import ThreadpoolController

        _blas_controllers.extend(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas_controllers


@contextmanager
def one_blas_thread(threads: int) -> Iterator[None]:
    """Every loaded BLAS on one thread inside the block (each caller's own), ``threads`` again after it."""
    controllers = blas_controllers()
    for controller in controllers:
        controller.set_num_threads(1)
    try:
        yield
    finally:
        for controller in controllers:
            controller.set_num_threads(threads)


def stacked_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int, split: bool = True) -> None:
    """``np.matmul(a, b, out=out)`` of stacked matrices, the stack split across ``threads`` threads.

    Each share runs on one BLAS thread, and BLAS gets ``threads`` back after.
    For many small products (an FFT layer's one per frequency) this measured
    2-4x faster than numpy's loop over the stack calling a two-thread BLAS,
    whose threads were woken and joined for every small product; with few
    large products (Winograd's on big images) BLAS's own threads can be
    faster: ``split=False`` is numpy's loop (:func:`faster_split` measures).
    """
    if not split or threads <= 1 or a.shape[0] < 2:
        np.matmul(a, b, out=out)
        return
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools[threads] = ThreadPoolExecutor(threads - 1, thread_name_prefix="convbench-matmul")
    with one_blas_thread(threads):
        bounds = np.linspace(0, a.shape[0], threads + 1).astype(int)
        pairs = zip(bounds[1:-1], bounds[2:])
        shares = [pool.submit(np.matmul, a[lo:hi], b[lo:hi], out=out[lo:hi]) for lo, hi in pairs]
        np.matmul(a[: bounds[1]], b[: bounds[1]], out=out[: bounds[1]])  # numpy lets go of the GIL in BLAS
        for share in shares:
            share.result()


def best_seconds(call, trials: int = 3) -> float:
    """The best of ``trials`` timed calls of ``call``, after one warm-up."""
    call()
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def keep_fastest(run: Callable[[], None], install: Callable[[object], None], candidates: dict) -> tuple[object, str]:
    """Time ``run`` with each of ``candidates`` (name -> state) installed; install the fastest and return its name.

    Each candidate's first call compiles (or loads) its Numba loop, which may
    load SciPy's BLAS for Numba, so the BLAS controllers are found again
    before it is timed (:func:`best_seconds`). Also returns the times, as
    ``"name: t ms, ..."`` for the row's ``reason``.
    """
    times = {}
    for name, state in candidates.items():
        install(state)
        run()
        blas_controllers(refresh=True)
        times[name] = best_seconds(run)
    best = min(times, key=times.get)
    install(candidates[best])
    return best, ", ".join(f"{name}: {seconds * 1e3:.3g} ms" for name, seconds in times.items())


def faster_split(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int, trials: int = 3) -> bool:
    """Whether :func:`stacked_matmul` is faster split across threads than as numpy's loop, on these arrays.

    Each way is run ``trials`` times after one warm-up; the best times are compared.
    """
    if threads <= 1 or a.shape[0] < 2:
        return False
    split = best_seconds(lambda: stacked_matmul(a, b, out, threads, True), trials)
    return split < best_seconds(lambda: stacked_matmul(a, b, out, threads, False), trials)


class StackedProducts:
    """A layer's stacked channel products ``out = a @ b``, split across threads or on threaded BLAS.

    Split until :meth:`choose` has measured which way is faster on the
    operands as they are (call it once they hold real data).
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int):
        self.operands, self.threads, self.split = (a, b, out), threads, True

    def choose(self) -> str:
        """Keep the faster way (:func:`faster_split`); returns a note saying which, for the row's ``reason``."""
        self.split = faster_split(*self.operands, self.threads)
        return f"; channel products {'split across threads' if self.split else 'on threaded BLAS'}"

    def __call__(self) -> None:
        stacked_matmul(*self.operands, self.threads, self.split)


def numpy_unfold(padded: np.ndarray, cols: np.ndarray, kh: int, kw: int) -> None:
    """:func:`kernels._layer_loops.unfold` by numpy on the calling thread: one copy from a sliding-window view."""
    b, c, oh, ow = padded.shape[0], padded.shape[1], padded.shape[2] - kh + 1, padded.shape[3] - kw + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))  # b, c, oh, ow, kh, kw
    np.copyto(cols.reshape(b, c, kh, kw, oh, ow), windows.transpose(0, 1, 4, 5, 2, 3))


def numpy_fold(cols: np.ndarray, grad: np.ndarray, kh: int, kw: int) -> None:
    """:func:`kernels._layer_loops.fold` by numpy on the calling thread: ``grad`` zeroed, then one add per tap."""
    b, c, oh, ow = grad.shape[0], grad.shape[1], grad.shape[2] - kh + 1, grad.shape[3] - kw + 1
    taps = cols.reshape(b, c, kh, kw, oh, ow)
    grad[...] = 0
    for i in range(kh):
        for j in range(kw):
            grad[:, :, i : i + oh, j : j + ow] += taps[:, :, i, j]


# Output pixels per block tried for im2col's forward pass by blocks (:func:`kernels._layer_loops.unfold_product`),
# rounded to whole output rows: a 64-channel 3x3 layer's block of 256 columns is 590 KB, within a core's L2.
BLOCK_PIXELS = (128, 256, 512)


class GemmLayer(LayerPrepared):
    """One pass of a layer by im2col and BLAS; the call is the timed work, the output stays in its buffer.

    The forward pass and the weight gradient may run by blocks of output
    rows, each unfolded and multiplied while in cache
    (:func:`kernels._layer_loops.unfold_product`, ``unfold_weights_product``):
    by default ``prepare`` times the whole unfold and one product per image
    against blocks of :data:`BLOCK_PIXELS` and keeps the fastest (the times
    are in ``notes``); ``rows`` = 0 keeps the whole unfold, a positive count
    runs blocks of that many output rows. The whole unfold (and
    backward-data's fold) is also timed done by numpy, on the calling thread
    (:func:`numpy_unfold`, :func:`numpy_fold`): on one image the cores'
    hand-over between Numba's threads and BLAS's costs more than the
    unfold's own threads save.
    """

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray, rows: int | None = None):
        super().__init__(problem, first, second)
        b, c, k = problem.batch, problem.in_channels, problem.out_channels
        taps, pixels = math.prod(problem.kernel_shape), problem.outputs
        dtype = problem.np_dtype
        # A 1x1 kernel needs no padding (every mode is the image) and its columns are the images themselves.
        self._pointwise = problem.kernel_shape == (1, 1)
        with self.stage("alloc"):
            self._padded = None if self._pointwise else np.zeros((b, c, *problem.padded_shape), dtype)
            if self._pointwise and problem.pass_ != "backward-data":
                self._cols = self.first.reshape(b, c, pixels)
            else:
                self._cols = np.empty((b, c * taps, pixels), dtype)
            self._out = np.empty(output_shape(problem) if problem.pass_ != "backward-weights" else (k, c * taps), dtype)
            self._matrix = np.empty((k, c * taps), dtype) if problem.op == "conv" else None
        self.notes = limit_blas(problem.threads)
        self._blocks = None  # the forward pass's work buffers by blocks, once blocks have won
        self._by_numpy = False  # the whole unfold or the fold by numpy, once that has won
        with self.stage("compile"):
            self._run()
        if not self._pointwise:
            with self.stage("plan"):
                self.notes += self._choose_blocks(rows) if problem.pass_ != "backward-data" else self._choose_fold()

    def _choose_blocks(self, rows: int | None) -> str:
        """Time the whole unfold against blocks of output rows (:data:`BLOCK_PIXELS`); keep the fastest.

        Returns the note for the row's ``reason``: which way won, with the times measured.
        """
        if rows is not None and not (isinstance(rows, int) and rows >= 0):
            raise ValueError(f"im2col rows per block {rows!r}; acceptable: 0 (the whole unfold) or a count > 0")
        if rows == 0:
            return "; whole unfold (as asked)"
        ok, why = numba_blas_available()  # the blocks call BLAS from Numba
        if not ok and rows is not None:
            return f"; whole unfold ({why})"
        problem, dtype = self.problem, self.problem.np_dtype
        (oh, ow), workers = problem.out_shape, problem.threads
        depth = problem.in_channels * math.prod(problem.kernel_shape)
        counts = sorted({min(oh, max(1, round(p / ow))) for p in BLOCK_PIXELS}) if rows is None else [rows]
        counts = counts if ok else []
        candidates = {"whole": (None, False), "numpy": (None, True)} if rows is None else {}
        for count in counts:
            # Each worker's columns, and its block of the products (forward) or of the output gradients.
            columns, block = (workers, depth, count * ow), (workers, problem.out_channels, count * ow)
            buffers = (np.empty(columns, dtype), np.empty(block, dtype))
            if problem.pass_ == "backward-weights":  # each worker's sum of products, and one product
                buffers += (np.empty((workers, 2, problem.out_channels, depth), dtype),)
            candidates[count] = (buffers, False)
        best, measured = keep_fastest(self._run, self._use, candidates)
        way = {"whole": "whole unfold", "numpy": "whole unfold by numpy"}.get(best, f"blocks of {best} output rows")
        return f"; {way} (timed in prepare, by rows per block: {measured})"

    def _choose_fold(self) -> str:
        """backward-data: time the fold by Numba's threads against numpy's; keep the faster, and say which."""
        best, measured = keep_fastest(self._run, self._use, {"numba": (None, False), "numpy": (None, True)})
        return f"; fold by {best} (timed in prepare: {measured})"

    def _use(self, way: tuple) -> None:
        """Run the way ``(blocks' buffers or None, the whole unfold or the fold by numpy)`` from the next call on."""
        self._blocks, self._by_numpy = way

    def _run(self) -> None:
        problem, kind = self.problem, self.problem.pass_
        (top, left), (kh, kw) = problem.pad_before, problem.kernel_shape
        b, k = problem.batch, problem.out_channels
        if kind == "forward" and self._blocks is not None:
            pad_into(self.first, self._padded, top, left)
            with one_blas_thread(problem.threads):
                unfold_product(self._padded, self._filter_matrix(), self._out, kh, kw, *self._blocks)
        elif kind == "forward":
            if not self._pointwise:
                self._unfold()
            np.matmul(self._filter_matrix(), self._cols, out=self._out.reshape(b, k, -1))
        elif kind == "backward-data":
            np.matmul(self._filter_matrix().T, self._output_grads(), out=self._cols)
            if not self._pointwise:
                (numpy_fold if self._by_numpy else fold)(self._cols, self._padded, kh, kw)
        elif self._blocks is not None:
            pad_into(self.first, self._padded, top, left)
            with one_blas_thread(problem.threads):
                unfold_weights_product(self._padded, self.second, self._out, kh, kw, *self._blocks)
        else:
            if not self._pointwise:
                self._unfold()
            grads = self.second.reshape(b, k, -1)
            np.matmul(grads[0], self._cols[0].T, out=self._out)
            for image in range(1, b):
                self._out += grads[image] @ self._cols[image].T

    def _unfold(self) -> None:
        """Pad the images and unfold them whole into ``_cols``: by Numba's threads, or by numpy once that has won."""
        (top, left), (kh, kw) = self.problem.pad_before, self.problem.kernel_shape
        if self._by_numpy:
            h, w = self.problem.image_shape
            self._padded[:, :, top : top + h, left : left + w] = self.first
            numpy_unfold(self._padded, self._cols, kh, kw)
        else:
            pad_into(self.first, self._padded, top, left)
            unfold(self._padded, self._cols, kh, kw)

    def _filter_matrix(self) -> np.ndarray:
        """The filters as a K x (C kh kw) matrix: a view for ``corr``; flipped into a buffer for ``conv``.

        The copy cost 1 ms a call on ResNet-50's 512-channel layer (9.4 MB of
        weights), a fifth of its matrix product, when ``corr`` needs none.
        """
        if self.problem.op == "corr":
            return self.second.reshape(self.problem.out_channels, -1)
        self._matrix[...] = oriented(self.problem, self.second).reshape(self.problem.out_channels, -1)
        return self._matrix

    def _output_grads(self) -> np.ndarray:
        """The output gradients of backward-data as (B, K, oh ow) matrices."""
        return self.first.reshape(self.problem.batch, self.problem.out_channels, -1)

    def _output(self) -> np.ndarray:
        problem = self.problem
        if problem.pass_ == "forward":
            return self._out
        if problem.pass_ == "backward-weights":
            return oriented(problem, self._out.reshape(output_shape(problem)))
        (top, left), (h, w) = problem.pad_before, problem.image_shape
        if self._pointwise:
            return self._cols.reshape(problem.batch, problem.in_channels, h, w)
        return self._padded[:, :, top : top + h, left : left + w]
