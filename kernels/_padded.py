"""``same`` and ``full`` correlation in bands of rows, padded on the fly.

Each parallel work item is a band of output rows. It copies the zero-padded
rows it reads into its thread's slice of a scratch array (small enough to stay
in L2) and runs the specialised blocks over them; for small kernels, a band
whose windows lie inside the image rows copies only its two edge strips and
runs its interior straight from the image. Padding therefore costs a
cache-hot copy of a few rows or columns, spread over the threads and in the
same parallel launch as the arithmetic, and the hot loop never branches on
the border. The loop itself is ``padded_2d`` in the generated modules of
``_direct_loops``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numba
import numpy as np

from ._direct_loops import _folds, block_sizes, kernel_for, uses_specialised
from ._problem import Problem

# Bytes of padded rows a band stages: well inside a 1 MiB L2 with room for the output rows.
BAND_BYTES = 256 * 1024
# Bands per thread at least: the first and last bands stage all their rows
# (their windows pass the image's top or bottom), so they should be a small share.
BANDS_PER_THREAD = 4


def band_count(kernel_shape, out_shape, itemsize: int, threads: int) -> int:
    """How many bands of output rows to split a padded correlation into.

    A multiple of ``threads``: Numba gives each thread an equal run of work
    items, and ``padded_2d`` makes bands of whole row blocks whose sizes differ
    by at most one block, so every thread gets the same rows to within one
    block. (Bands of a fixed size left a short last band: at 512 rows, 9x9,
    one thread got 315 rows and the other 197.) At least
    :data:`BANDS_PER_THREAD` per thread, more where a band's padded rows would
    not fit :data:`BAND_BYTES`, and never more than there are row blocks.
    """
    (kh, kw), (out_h, out_w) = kernel_shape, out_shape
    rows = block_sizes(kh, kw)[0]
    row_blocks = -(-out_h // rows)
    fitting_blocks = max(1, (BAND_BYTES // ((out_w + kw - 1) * itemsize) - (kh - 1)) // rows)
    bands = max(BANDS_PER_THREAD * threads, -(-row_blocks // fitting_blocks))
    return min(row_blocks, threads * -(-bands // threads))


def band_rows(kernel_shape, out_shape, bands: int) -> int:
    """Output rows of the largest of ``bands`` bands (what the scratch must hold)."""
    rows = block_sizes(*kernel_shape)[0]
    row_blocks = -(-out_shape[0] // rows)
    return min(out_shape[0], rows * -(-row_blocks // bands))


class PaddedCorrelation:
    """Valid correlation over a zero-padded image, without a padded copy of it.

    Parameters
    ----------
    image_shape, kernel_shape, out_shape : tuple of int
        2-D shapes of the problem.
    pad_before : tuple of int
        Zero rows and columns before the image (``Problem.pad_before``).
    dtype : numpy dtype
        Element type of image, kernel and output.
    threads : int
        Threads the call will run on (sets the band count).
    """

    def __init__(self, image_shape, kernel_shape, out_shape, pad_before, dtype, threads: int):
        (kh, kw), (_, out_w) = kernel_shape, out_shape
        dtype = np.dtype(dtype)
        self.bands = band_count(kernel_shape, out_shape, dtype.itemsize, threads)
        band = band_rows(kernel_shape, out_shape, self.bands)
        # One slice per Numba worker: get_thread_id() ranges over all of them.
        self._scratch = np.empty((numba.config.NUMBA_NUM_THREADS, band + kh - 1, out_w + kw - 1), dtype)
        self._pad = pad_before
        self._run = kernel_for(kh, kw).padded_2d

    def __call__(self, image: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
        """Write the padded correlation of ``image`` with ``w`` into ``out``."""
        self.bind(image, w, out)()

    def bind(self, image: np.ndarray, w: np.ndarray, out: np.ndarray) -> Callable[[], None]:
        """A call that does what ``self(image, w, out)`` does with whatever the arrays hold when it runs."""
        return partial(self._run, image, w, out, out.dtype.type(0), self._scratch, *self._pad, self.bands)

    @classmethod
    def warm_up(cls, kernel_shape, dtype) -> None:
        """Compile (or load from disk) the banded loop for this kernel shape and dtype, on small arrays."""
        kh, kw = kernel_shape
        image_shape, out_shape = (3, 5), (kh + 2, kw + 4)  # full mode
        run = cls(image_shape, kernel_shape, out_shape, (kh - 1, kw - 1), dtype, threads=1)
        run(np.zeros(image_shape, dtype), np.zeros(kernel_shape, dtype), np.empty(out_shape, dtype))

    @classmethod
    def for_problem(cls, problem: Problem) -> PaddedCorrelation | None:
        """The banded loop for ``problem``, or None where the specialised loops do not run.

        Folded 1-D signals are left out too: they need the rows of a padded copy.
        """
        kernel_shape, out_shape = problem.kernel_shape, problem.out_shape
        if not uses_specialised(out_shape, kernel_shape) or _folds(kernel_shape, out_shape):
            return None
        return cls(problem.image_shape, kernel_shape, out_shape, problem.pad_before, problem.np_dtype, problem.threads)
