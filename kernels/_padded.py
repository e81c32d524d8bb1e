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

import numba
import numpy as np

from ._direct_loops import _folds, block_sizes, kernel_for, uses_specialised
from ._problem import Problem

# Bytes of padded rows a band stages: well inside a 1 MiB L2 with room for the output rows.
BAND_BYTES = 256 * 1024
# Bands per thread at least, so uneven bands still balance.
BANDS_PER_THREAD = 4


def band_rows(kernel_shape, out_shape, itemsize: int, threads: int) -> int:
    """Output rows per band: a whole number of row blocks, sized for L2 and for balance."""
    (kh, kw), (out_h, out_w) = kernel_shape, out_shape
    rows = block_sizes(kh, kw)[0]
    fits = BAND_BYTES // ((out_w + kw - 1) * itemsize) - (kh - 1)
    balanced = -(-out_h // (BANDS_PER_THREAD * threads))
    return rows * max(1, min(fits, balanced) // rows)


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
        Threads the call will run on (sets the band size).
    """

    def __init__(self, image_shape, kernel_shape, out_shape, pad_before, dtype, threads: int):
        (kh, kw), (_, out_w) = kernel_shape, out_shape
        dtype = np.dtype(dtype)
        self.band = band_rows(kernel_shape, out_shape, dtype.itemsize, threads)
        # One slice per Numba worker: get_thread_id() ranges over all of them.
        self._scratch = np.empty((numba.config.NUMBA_NUM_THREADS, self.band + kh - 1, out_w + kw - 1), dtype)
        self._pad = pad_before
        self._run = kernel_for(kh, kw).padded_2d

    def __call__(self, image: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
        """Write the padded correlation of ``image`` with ``w`` into ``out``."""
        self._run(image, w, out, out.dtype.type(0), self._scratch, *self._pad, self.band)

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
