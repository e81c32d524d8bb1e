import numpy as np
import pytest

from kernels._placement import CACHE_LINE_BYTES, PAGE_BYTES, empty_apart_from


@pytest.mark.parametrize("offset", [0, 16, 48, 2048, 4080])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_output_starts_half_a_page_from_its_partner_on_a_cache_line(offset, dtype):
    raw = np.empty(64 * 1024 + 2 * PAGE_BYTES, np.uint8)
    start = (offset - raw.ctypes.data) % PAGE_BYTES
    partner = raw[start : start + 64 * 1024].view(np.float32)
    assert partner.ctypes.data % PAGE_BYTES == offset

    out = empty_apart_from(partner, (37, 45), dtype)

    assert out.shape == (37, 45) and out.dtype == np.dtype(dtype) and out.flags.c_contiguous
    assert out.ctypes.data % CACHE_LINE_BYTES == 0
    apart = (out.ctypes.data - partner.ctypes.data) % PAGE_BYTES
    assert PAGE_BYTES // 2 - CACHE_LINE_BYTES < apart <= PAGE_BYTES // 2 + CACHE_LINE_BYTES
    out[...] = 1  # the whole view lies inside its buffer
    assert out.sum() == 37 * 45


def test_numba_cpu_writes_its_output_apart_from_the_image():
    from kernels import Problem, get_backend

    problem = Problem("corr", "same", (64, 64), (3, 3), "float32", threads=1)
    image = np.ones((64, 64), np.float32)
    prepared = get_backend("numba-cpu").prepare(problem, image, np.ones((3, 3), np.float32))
    apart = (prepared._out.ctypes.data - prepared.image.ctypes.data) % PAGE_BYTES
    assert abs(apart - PAGE_BYTES // 2) <= CACHE_LINE_BYTES
