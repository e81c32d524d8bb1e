"""Where a backend's output array lies in memory relative to its input.

A store and a later load whose addresses agree in their low 12 bits make the
CPU assume the load depends on the store and wait for it ("4K aliasing").
With rows a power of two long (1024 float32 = 4 KiB), every row of an output
that starts just past the input modulo 4 KiB aliases the rows being read, and
whether it does is the allocator's luck: ``same`` 3x3 on 1024x1024 took
0.145 ms or 0.29 ms on 2 threads depending only on that offset, and 0.25 or
0.50 ms on one. Outputs placed half a page from the input never alias, and
starting on a cache line keeps vector stores from splitting across two lines.
"""

from __future__ import annotations

import numpy as np

PAGE_BYTES = 4096
CACHE_LINE_BYTES = 64


def empty_apart_from(partner: np.ndarray, shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array that starts half a page from ``partner``, on a cache line.

    Parameters
    ----------
    partner : numpy.ndarray
        The array the loops read while they write the new one (usually the image).
    shape : tuple of int
        Shape of the new array.
    dtype : numpy dtype
        Its element type.

    Returns
    -------
    numpy.ndarray
        A view into a slightly larger buffer whose address is ``partner``'s plus
        about ``PAGE_BYTES / 2`` modulo ``PAGE_BYTES``, rounded to a cache line.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(nbytes + 2 * PAGE_BYTES, np.uint8)
    target = (partner.ctypes.data + PAGE_BYTES // 2) % PAGE_BYTES
    target -= target % CACHE_LINE_BYTES
    start = (target - buffer.ctypes.data) % PAGE_BYTES
    return buffer[start : start + nbytes].view(dtype).reshape(shape)
