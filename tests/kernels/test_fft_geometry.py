import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels import Problem, fft_shape, next_fast_len
from kernels._fft_geometry import min_circular_shape


def _smooth(n):
    for f in (2, 3, 5):
        while n % f == 0:
            n //= f
    return n == 1


@pytest.mark.parametrize("n, expected", [(1, 1), (7, 8), (1025, 1080), (1024, 1024), (31, 32), (97, 100)])
def test_next_fast_len(n, expected):
    assert next_fast_len(n) == expected


@given(st.integers(1, 5000))
def test_next_fast_len_is_smallest_smooth_at_or_above(n):
    m = next_fast_len(n)
    assert m >= n and _smooth(m)
    assert not any(_smooth(k) for k in range(n, m))


@given(
    st.sampled_from(["corr", "conv"]),
    st.sampled_from(["full", "same", "valid"]),
    st.integers(3, 12),
    st.integers(1, 6),
)
def test_minimal_circular_length_is_alias_free_and_tight(op, mode, size, k):
    """Circular correlation at the minimal length reproduces the window; one shorter does not."""
    if mode == "valid" and k > size:
        return
    p = Problem(op, mode, (1, size), (1, k))
    rng = np.random.default_rng(size * 31 + k)
    x, h = rng.standard_normal(size), rng.standard_normal(k)
    hk = h[::-1] if op == "conv" else h
    full = np.correlate(x, hk, mode="full")
    s, o = p.window_start[1], p.out_shape[1]
    want = full[s : s + o]

    def circular(length):
        spec = np.fft.rfft(x, length) * np.fft.rfft(hk[::-1], length)
        return np.fft.irfft(spec, length)[s : s + o]

    length = min_circular_shape(p)[1]
    assert np.allclose(circular(length), want)
    shorter = length - 1
    if shorter >= max(size, k) and shorter >= s + o:  # else the window itself would not fit
        assert not np.allclose(circular(shorter), want)
    assert fft_shape(p)[1] >= length


@pytest.mark.parametrize("name", ["fftw", "fftw-oa", "numpy-fft", "scipy-fft"])
@pytest.mark.parametrize("image, kernel", [((40, 50), (3, 3)), ((64, 64), (9, 5)), ((1, 300), (1, 7))])
def test_transform_plan_is_what_prepare_builds(name, image, kernel):
    """The cost models predict from ``Backend.transforms``: it must agree with the prepared backend."""
    from kernels import get_backend

    backend = get_backend(name)
    if not backend.available()[0]:
        pytest.skip(backend.available()[1])
    problem = Problem("corr", "same", image, kernel, "float32", 1)
    rng = np.random.default_rng(0)
    prepared = backend.prepare(problem, rng.random(image, dtype=np.float32), rng.random(kernel, dtype=np.float32))
    count, shape = backend.transforms(problem)
    if name == "scipy-fft":  # says nothing: one transform of the cost-chosen shape is assumed
        assert (count, shape) == (1, fft_shape(problem))
        return
    assert shape == tuple(prepared.fft_shape)
    if name == "fftw-oa":
        (bh, bw) = prepared.block_shape
        assert count == -(-image[0] // bh) * -(-image[1] // bw) and prepared._x.shape[0] == count
    else:
        assert count == 1
