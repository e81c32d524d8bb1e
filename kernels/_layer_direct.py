"""The direct layer on the CPU: every pass as Numba loops over the channels (:mod:`kernels._layer_loops`).

``forward`` and ``backward-data`` run one loop, a valid correlation summed
over channels (backward-data over the zero-padded output gradients with the
filters flipped and transposed); ``backward-weights`` runs the weight
gradient's dot products. Padding is part of the timed call, as in the
single-channel ``numba-cpu``.

Every pass runs one of two ways, which ``prepare`` times and keeps the
faster of: ``loops``, the loops above (the correlation along output rows
for blocks of four filters, each output read and written per tap), or
``blocks``, register blocks of :mod:`kernels._inner_products`: the
correlation by 4 filters x 6 pixels on channels-last copies of the images
and filters (:func:`~kernels._inner_products.direct_rows`, the sums in
registers over every tap and channel), the weight gradient by 4 filters x 6
channels per tap, summed over every pixel of every image
(:func:`~kernels._inner_products.direct_weight_rows`).
"""

from __future__ import annotations

import numpy as np

from ._inner_products import direct_rows, direct_weight_rows
from ._layer_base import LayerPrepared
from ._layer_gemm import keep_fastest
from ._layer_loops import (
    direct_forward,
    direct_weights,
    filters_channels_last,
    pad_channels_last,
    pad_into,
    transposed_channels_last,
)
from ._layers import correlation_filters, data_gradient_padding, input_shapes, oriented, output_shape
from ._problem import Problem

# The ways the direct layer may run each pass (module docstring).
DIRECT_WAYS = ("loops", "blocks")
# The weight gradient's blocks sum runs of a whole number of 16 values (a float32 vector of AVX-512).
WEIGHT_RUN = 16


def widened_gradients(problem: Problem) -> tuple[int, int]:
    """The weight gradient's blocks: each filter's run of output gradients, and the zeros after the images.

    The blocks read each channel's padded images one after another, and each
    filter's output gradients as one run over the images, widened to the
    same rows (``hp x wp`` per image, zero past ``oh x ow``) but the last
    image's ``oh`` rows only, rounded up to whole :data:`WEIGHT_RUN` values.
    The last channel's runs read that far past its images' start, plus the
    last tap's offset.
    """
    (hp, wp), (kh, kw), oh = problem.padded_shape, problem.kernel_shape, problem.out_shape[0]
    images = problem.batch * hp * wp
    length = -(-(images - (hp - oh) * wp) // WEIGHT_RUN) * WEIGHT_RUN
    return length, length + (kh - 1) * wp + kw - images


class DirectLayer(LayerPrepared):
    """One pass of a layer by direct loops; the call is the timed work, the output stays in its buffer.

    ``way`` (one of :data:`DIRECT_WAYS`) runs the pass that way; by default
    ``prepare`` times both and keeps the faster, the times in ``notes``.

    Raises
    ------
    ValueError
        For a way not in :data:`DIRECT_WAYS`.
    """

    def __init__(self, problem: Problem, first: np.ndarray, second: np.ndarray, way: str | None = None):
        if way is not None and way not in DIRECT_WAYS:
            raise ValueError(f"direct layer way {way!r}; acceptable ways are {', '.join(map(repr, DIRECT_WAYS))}")
        super().__init__(problem, first, second)
        dtype, kind = problem.np_dtype, problem.pass_
        self._way = "loops"
        with self.stage("alloc"):
            self._out = np.empty(output_shape(problem), dtype)
            if kind == "backward-data":
                self._offset, size = data_gradient_padding(problem)
                self._padded = np.zeros((problem.batch, problem.out_channels, *size), dtype)
                self._filters = np.empty((problem.in_channels, problem.out_channels, *problem.kernel_shape), dtype)
            elif kind == "forward":
                self._offset, size = problem.pad_before, problem.padded_shape
                self._padded = np.zeros((problem.batch, problem.in_channels, *size), dtype)
                self._filters = np.empty(input_shapes(problem)[1], dtype)
            else:  # the blocks' operands (widened_gradients), and the loops' padded images
                self._offset, (hp, wp) = problem.pad_before, problem.padded_shape
                (b, c, k), oh = (problem.batch, problem.in_channels, problem.out_channels), problem.out_shape[0]
                length, tail = widened_gradients(problem)
                self._padded = np.zeros((b, c, hp, wp), dtype)
                self._flat_images = np.zeros(c * b * hp * wp + tail, dtype)
                by_channel = self._flat_images[: c * b * hp * wp].reshape(c, b, hp, wp)
                self._images_by_channel = by_channel.transpose(1, 0, 2, 3)  # (b, c) indices, channel-major memory
                self._grads = np.zeros((1, k, length), dtype)
                size = self._grads.itemsize
                self._widened = np.lib.stride_tricks.as_strided(
                    self._grads, (b, k, oh, wp), (hp * wp * size, length * size, wp * size, size)
                )
            if kind != "backward-weights":  # the blocks' channels-last copies
                (n, sources), filters = self._padded.shape[:2], self._filters.shape
                self._padded_last = np.zeros((n, *self._padded.shape[2:], sources), dtype)
                self._filters_last = np.empty((filters[0], *filters[2:], filters[1]), dtype)
        with self.stage("compile"):
            self._run()  # compiles (or loads from Numba's cache) for these dtypes; the output is recomputed anyway
        with self.stage("plan"):
            candidates = {name: name for name in (DIRECT_WAYS if way is None else (way,))}
            best, measured = keep_fastest(self._run, lambda name: setattr(self, "_way", name), candidates)
            self.notes = f"{kind} by {best} (timed in prepare: {measured})"

    def _run(self) -> None:
        top, left = self._offset
        if self.problem.pass_ == "backward-weights":
            if self._way == "blocks":  # one segment: every image of a channel in one run (far fewer sums of lanes)
                pad_into(self.first, self._images_by_channel, top, left)
                pad_into(self.second, self._widened, 0, 0)
                hp, wp = self._padded.shape[2:]
                direct_weight_rows(self._flat_images, self.problem.batch * hp, wp, self._grads, self._out)
            else:
                pad_into(self.first, self._padded, top, left)
                direct_weights(self._padded, self.second, self._out)
            return
        if self._way == "blocks":
            pad_channels_last(self.first, self._padded_last, top, left)
            if self.problem.pass_ == "backward-data":  # flipped twice for conv: by the op and by the pass
                transposed_channels_last(self.second, self._filters_last, self.problem.op == "corr")
            else:
                filters_channels_last(correlation_filters(self.problem, self.second), self._filters_last)
            direct_rows(self._padded_last, self._filters_last, self._out)
        else:
            pad_into(self.first, self._padded, top, left)
            self._filters[...] = correlation_filters(self.problem, self.second)
            direct_forward(self._padded, self._filters, self._out)

    def _output(self) -> np.ndarray:
        if self.problem.pass_ == "backward-weights":
            return oriented(self.problem, self._out)  # a conv layer's weights gradient, flipped back
        return self._out
