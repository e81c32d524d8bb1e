"""The FFT layer with transform reuse in whole-array calls: numpy on the CPU, CuPy on the GPU.

The algorithm and tiles of :class:`~kernels._layer_fft.FftLayer` (its cost
model's :func:`~kernels._layer_fft.choose_tile`), written only with calls that
numpy and CuPy share, so that one code runs on either and the CPU's test suite
checks what the GPU runs:

- the pass's source maps (padded images, or padded output gradients for
  ``backward-data``) cut into overlapping overlap-save tiles by a strided view;
- one batched real-to-complex transform of all tiles, and one of all filters:
  ``rfftn`` over the last two axes, whose length ``s`` pads the filters (and
  the output-gradient tiles of ``backward-weights``) with zeros;
- the channel sum as one batched complex matrix product, frequency-major:
  ``Y[f] (rows x T) = X[f] (rows x S) @ conj(W[f]) (S x T)`` (cuBLAS batched
  ``cgemm`` on the GPU, BLAS under numpy's ``matmul`` on the CPU);
- one batched inverse (the library normalises it), the tiles cut to their
  valid outputs and put in place by one reshape.

Correlation is the product with the conjugate spectrum: the circular
correlation of a tile of ``n`` with a filter of ``k`` holds its ``n - k + 1``
valid outputs at the tile's start, so no filter is flipped or placed and no
output offset is cropped. The weight gradient is ``dW[f] (S x T) = X[f]^T @
conj(G[f])``, summed over images and tiles by the product.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ._layer_base import LayerPrepared
from ._layer_fft import choose_tile, overlapping_tiles, tile_geometry, transform_counts
from ._layers import correlation_filters, oriented, output_shape
from ._problem import Problem


@dataclass(frozen=True)
class ArrayModule:
    """Where a layer's arrays live: the array and FFT modules, and the copies to and from the host.

    Attributes
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    fft : module
        Its FFTs: ``rfftn`` and ``irfftn`` with ``s`` and ``axes`` (``numpy.fft``, ``cupyx.scipy.fft``).
    upload, download : callable
        A host array to the device, and back.
    sync : callable
        Waits for the device.
    """

    xp: ModuleType
    fft: ModuleType
    upload: Callable
    download: Callable
    sync: Callable[[], None]


def _no_wait() -> None:
    return None


NUMPY = ArrayModule(np, np.fft, np.asarray, np.asarray, _no_wait)
"""The host: numpy's pocketfft (one thread, no plans) and numpy's ``matmul``."""


def _frequency_major(xp: ModuleType, spectra, rows: int, maps: int, conjugate: bool):
    """Spectra ``(rows, maps, n, m)`` as a contiguous ``(frequencies, rows, maps)``, conjugated if asked."""
    out = xp.ascontiguousarray(spectra.reshape(rows, maps, -1).transpose(2, 0, 1))
    if conjugate:
        xp.conj(out, out=out)
    return out


class ArrayFftLayer(LayerPrepared):
    """One pass of a layer by FFTs with transform reuse, in numpy or CuPy calls (see the module docstring).

    Parameters
    ----------
    problem : Problem
        The layer and its pass.
    first, second : ndarray
        The pass's inputs (host arrays: uploaded in ``__init__``).
    arrays : ArrayModule
        Where the arrays live and what transforms them; :data:`NUMPY` by default.
    filters_once : bool
        Transform the filters here (fixed weights, as in inference); ``forward`` and ``backward-data`` only.
    fft : tuple of int, optional
        The transform shape; :func:`~kernels._layer_fft.choose_tile`'s by default.
    """

    def __init__(
        self,
        problem: Problem,
        first: np.ndarray,
        second: np.ndarray,
        arrays: ArrayModule = NUMPY,
        filters_once: bool = False,
        fft: tuple[int, int] | None = None,
    ):
        if filters_once and problem.pass_ == "backward-weights":
            raise ValueError("backward-weights has no fixed filters to transform once")
        super().__init__(problem, first, second)
        self.arrays, self.filters_once = arrays, filters_once
        self.fft = fft = tuple(fft or choose_tile(problem))
        geometry = tile_geometry(problem, fft)
        self._tiles, self._step = geometry.tiles, geometry.step
        xp, dtype = arrays.xp, problem.np_dtype
        sources = problem.out_channels if problem.pass_ == "backward-data" else problem.in_channels
        (top, left), (h, w) = geometry.offset, self.first.shape[2:]
        with self.stage("upload"):
            self._first = arrays.upload(self.first)
            self._second = arrays.upload(self.second)
            self._padded = xp.zeros((problem.batch, sources, *geometry.extent), dtype)
            if problem.pass_ == "backward-weights":  # the output gradients in whole tiles, zero past their end
                whole = tuple(t * s for t, s in zip(self._tiles, self._step))
                self._grads = xp.zeros((problem.batch, problem.out_channels, *whole), dtype)
            arrays.sync()
        self._corner = self._padded[:, :, top : top + h, left : left + w]
        per_image = self._tiles[0] * self._tiles[1]
        self.notes = f"transforms {fft[0]}x{fft[1]}, {per_image} tiles per image"
        self._w = None
        if filters_once:
            self.notes += "; filters transformed once, in prepare"
            with self.stage("kernel_spectrum"):
                self._w = self._filter_spectra()
                arrays.sync()
        self._out = None

    @property
    def _rows(self) -> int:
        return self.problem.batch * self._tiles[0] * self._tiles[1]

    def _filter_spectra(self):
        """The correlation filters' conjugate spectra, ``(frequencies, S, T)``."""
        xp, fft = self.arrays.xp, self.arrays.fft
        filters = correlation_filters(self.problem, self._second)  # (T, S, kh, kw), a view
        spectra = fft.rfftn(filters, s=self.fft, axes=(2, 3))
        targets, sources = filters.shape[:2]
        return _frequency_major(xp, spectra, targets, sources, conjugate=True).transpose(0, 2, 1)

    def _source_spectra(self):
        """The tiles' spectra, ``(frequencies, rows, S)``."""
        xp = self.arrays.xp
        self._corner[...] = self._first
        tiles = overlapping_tiles(xp, self._padded, self._tiles, self._step, self.fft)
        spectra = self.arrays.fft.rfftn(tiles, axes=(4, 5))
        return _frequency_major(xp, spectra, self._rows, self._padded.shape[1], conjugate=False)

    def _run(self) -> None:
        xp, fft, problem = self.arrays.xp, self.arrays.fft, self.problem
        (n, m), (sh, sw), (ty, tx) = self.fft, self._step, self._tiles
        x = self._source_spectra()
        if problem.pass_ == "backward-weights":
            batch, targets = self._grads.shape[:2]
            self._grads[:, :, : problem.out_shape[0], : problem.out_shape[1]] = self._second
            tiles = self._grads.reshape(batch, targets, ty, sh, tx, sw).transpose(0, 2, 4, 1, 3, 5)
            g = _frequency_major(xp, fft.rfftn(tiles, s=self.fft, axes=(4, 5)), self._rows, targets, conjugate=True)
            d = xp.matmul(x.transpose(0, 2, 1), g)  # (F, S, T)
            sources = d.shape[1]
            spatial = fft.irfftn(d.transpose(2, 1, 0).reshape(targets, sources, n, m // 2 + 1), s=self.fft, axes=(2, 3))
            kh, kw = problem.kernel_shape
            self._out = oriented(problem, spatial[:, :, :kh, :kw])
            return
        y = xp.matmul(x, self._w if self.filters_once else self._filter_spectra())  # (F, rows, T)
        targets = y.shape[2]
        spatial = fft.irfftn(y.transpose(1, 2, 0).reshape(self._rows, targets, n, m // 2 + 1), s=self.fft, axes=(2, 3))
        batch, _, oh, ow = output_shape(problem)
        tiles = spatial[:, :, :sh, :sw].reshape(batch, ty, tx, targets, sh, sw).transpose(0, 3, 1, 4, 2, 5)
        self._out = tiles.reshape(batch, targets, ty * sh, tx * sw)[:, :, :oh, :ow]

    def sync(self) -> None:
        self.arrays.sync()

    def _output(self) -> np.ndarray:
        return np.asarray(self.arrays.download(self._out), dtype=self.problem.np_dtype)


def array_layer_bytes(problem: Problem, fft: tuple[int, int] | None = None) -> int:
    """The most :class:`ArrayFftLayer` holds at once during a call, for the memory guard.

    The padded source; for each map (tile, filter, output), two real copies
    and five spectra: a 2-D ``rfftn`` holds its padded input and the spectrum
    of its last axis beside its output, and the product reads a frequency-major
    copy (numpy measured 4.6 spectra per filter at most, under ``tracemalloc``).
    """
    fft = tuple(fft or choose_tile(problem))
    tiles, _, _, extent = tile_geometry(problem, fft)
    maps = sum(transform_counts(problem, tiles[0] * tiles[1]))
    per_map = 2 * math.prod(fft) + 5 * 2 * fft[0] * (fft[1] // 2 + 1)
    padded = problem.batch * max(problem.in_channels, problem.out_channels) * math.prod(extent)
    return problem.np_dtype.itemsize * (padded + maps * per_map)
