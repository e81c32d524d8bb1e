"""Every available backend against the float64 reference, the worked examples and the identities."""

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kernels
from harness.measure.reference import TOLERANCE, reference
from kernels import Problem, convolve, correlate, get_backend

AVAILABLE = sorted(name for name, b in kernels.backends().items() if b.available()[0])
# GPU backends carry the gpu marker: `make test-gpu` selects them on a machine with a GPU.
AVAILABLE_MARKED = [
    pytest.param(name, marks=pytest.mark.gpu) if kernels.get_backend(name).device == "cuda" else name
    for name in AVAILABLE
]
BUILTIN = ["fftw", "numba-cpu", "numpy-fft"]
SHAPES = [
    ((9, 13), (3, 4)),  # non-square image, even kernel width
    ((12, 7), (5, 2)),
    ((8, 8), (8, 8)),  # kernel as large as the image
    ((17, 5), (1, 1)),
    ((1, 40), (1, 5)),  # 1-D
    ((1, 33), (1, 6)),  # 1-D, even kernel
]


# Peers and the distribution that brings each: installed means it must run, never drop out of AVAILABLE.
PEERS = {
    "opencv": "opencv-python-headless",
    "scipy-direct": "scipy",
    "scipy-fft": "scipy",
    "onnxruntime": "onnxruntime",
    "torch-cpu": "torch",
}


def test_builtin_backends_are_registered_and_available():
    for name in BUILTIN:
        assert name in AVAILABLE, kernels.get_backend(name).available()


@pytest.mark.parametrize("name, distribution", sorted(PEERS.items()))
def test_an_installed_peer_is_available(name, distribution):
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(distribution)
    except PackageNotFoundError:
        pytest.skip(f"{distribution} is not installed (the peers extra)")
    assert name in AVAILABLE, kernels.get_backend(name).available()


def test_every_cpu_backend_whose_packages_import_is_available():
    for name, backend in kernels.backends().items():
        # A module that fails to import becomes an UnavailableBackend: never for ours, whatever is missing.
        assert not isinstance(backend, kernels.UnavailableBackend), backend.available()
        if backend.device == "cpu" and name not in AVAILABLE:
            missing = [m for m in backend.requires if importlib.util.find_spec(m.split(".")[0]) is None]
            assert missing, f"{name} has its packages yet is unavailable: {backend.available()[1]}"


@pytest.mark.parametrize("backend", AVAILABLE_MARKED)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["corr", "conv"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_backend_matches_reference(backend, dtype, op, mode):
    chosen = kernels.get_backend(backend)
    rng = np.random.default_rng(7)
    for image_shape, kernel_shape in SHAPES:
        problem = Problem(op, mode, image_shape, kernel_shape, dtype, threads=2)
        if not chosen.supports(problem)[0]:
            continue
        image = (rng.random(image_shape) - 0.5).astype(dtype)
        kernel = (rng.random(kernel_shape) - 0.5).astype(dtype)
        prepared = chosen.prepare(problem, image, kernel)
        prepared()
        prepared.sync()
        got = prepared.result()
        want = reference(problem, image, kernel)
        assert got.shape == problem.out_shape
        assert got.dtype == np.dtype(dtype)
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert err < TOLERANCE[dtype], (image_shape, kernel_shape, err)


@pytest.mark.parametrize("backend", BUILTIN)
def test_reference_matches_scipy_signal(backend):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(3)
    x, h = rng.standard_normal((11, 9)), rng.standard_normal((4, 3))
    for mode in ("full", "same", "valid"):
        np.testing.assert_allclose(correlate(x, h, mode, backend), signal.correlate2d(x, h, mode), atol=1e-10)
        np.testing.assert_allclose(convolve(x, h, mode, backend), signal.convolve2d(x, h, mode), atol=1e-10)


F = [2, 1, 3, 5, 4]


@pytest.mark.parametrize("backend", BUILTIN)
def test_worked_example_derivative_kernel(backend):
    """h = [1, -1]: convolution and correlation differ by a sign (the kernel flip)."""
    np.testing.assert_allclose(convolve(F, [1, -1], "valid", backend), [-1, 2, 2, -1], atol=1e-12)
    np.testing.assert_allclose(correlate(F, [1, -1], "valid", backend), [1, -2, -2, 1], atol=1e-12)


@pytest.mark.parametrize("backend", BUILTIN)
def test_worked_example_symmetric_kernel(backend):
    """h = [-1, 2, -1] is its own flip, so both give [-3, 0, 3]."""
    np.testing.assert_allclose(convolve(F, [-1, 2, -1], "valid", backend), [-3, 0, 3], atol=1e-12)
    np.testing.assert_allclose(correlate(F, [-1, 2, -1], "valid", backend), [-3, 0, 3], atol=1e-12)


def test_even_kernel_same_mode_centres_differ_by_one():
    """scipy's convention: for even kernels conv-same is corr-same with the flipped kernel, shifted by one."""
    x = np.arange(1.0, 9.0)
    h = np.array([1.0, 2.0, 3.0, 4.0])
    conv_same = convolve(x, h, "same")
    corr_flipped_full = correlate(x, h[::-1], "full")
    np.testing.assert_allclose(conv_same, corr_flipped_full[1 : 1 + 8])
    np.testing.assert_allclose(correlate(x, h[::-1], "same"), corr_flipped_full[2 : 2 + 8])


small = st.integers(1, 9)
# Hundredths in [-4, 4]: ordinary magnitudes (subnormals make the norms underflow).
values = st.integers(-400, 400).map(lambda i: i / 100)


def _array(rows, cols):
    return arrays(np.float64, (rows, cols), elements=values)


@st.composite
def image_and_kernel(draw, max_kernel=5):
    h, w = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    return draw(_array(h, w)), draw(_array(kh, kw))


@settings(max_examples=40, deadline=None)
@given(image_and_kernel(), st.sampled_from(BUILTIN), st.sampled_from(["full", "valid", "same"]))
def test_conv_is_corr_with_flipped_kernel(pair, backend, mode):
    x, h = pair
    if mode == "valid" and (h.shape[0] > x.shape[0] or h.shape[1] > x.shape[1]):
        return
    if mode == "same" and (h.shape[0] % 2 == 0 or h.shape[1] % 2 == 0):
        return  # even kernels: the two 'same' centres differ (tested above)
    np.testing.assert_allclose(convolve(x, h, mode, backend), correlate(x, h[::-1, ::-1], mode, backend), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(image_and_kernel(max_kernel=10), st.sampled_from(BUILTIN))
def test_full_convolution_is_commutative(pair, backend):
    x, h = pair
    np.testing.assert_allclose(convolve(x, h, "full", backend), convolve(h, x, "full", backend), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(_array(4, 5), _array(3, 2), _array(2, 3), st.sampled_from(BUILTIN))
def test_full_convolution_is_associative(a, b, c, backend):
    left = convolve(convolve(a, b, "full", backend), c, "full", backend)
    right = convolve(a, convolve(b, c, "full", backend), "full", backend)
    np.testing.assert_allclose(left, right, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(image_and_kernel(max_kernel=8), st.sampled_from(["full", "same"]), st.sampled_from(["fftw", "numpy-fft"]))
def test_fft_equals_direct_within_error_bound(pair, mode, fft_backend):
    """|fft - direct| <= c * eps * log2(P) * ||x||_2 * ||h||_2: FFT error is relative to the global norm."""
    x, h = pair
    direct = correlate(x, h, mode, "numba-cpu")
    fft = correlate(x, h, mode, fft_backend)
    size = (x.shape[0] + h.shape[0]) * (x.shape[1] + h.shape[1])
    bound = 10 * np.finfo(np.float64).eps * np.log2(size + 1) * np.linalg.norm(x) * np.linalg.norm(h)
    assert np.max(np.abs(fft - direct)) <= bound + 1e-300


def test_float32_inputs_give_float32_output_and_1d_stays_1d():
    out = correlate(np.ones(6, np.float32), np.ones(3, np.float32), "valid")
    assert out.dtype == np.float32 and out.shape == (4,)
    np.testing.assert_allclose(out, 3)


def test_unavailable_backend_is_refused_with_reason():
    with pytest.raises(KeyError, match="known backends are"):
        correlate([1.0, 2.0], [1.0], backend="no-such-backend")


def test_scipy_peers_say_when_they_crop_and_when_they_ignore_threads():
    pytest.importorskip("scipy")
    problem = Problem("corr", "same", (20, 20), (4, 4), "float32", 2)
    image, kernel = np.ones((20, 20), np.float32), np.ones((4, 4), np.float32)
    crop = "even kernel in 'same' mode: computed 'full' and cropped"
    direct = get_backend("scipy-direct").prepare(problem, image, kernel)
    assert direct.notes == crop + "; scipy's direct method is single-threaded: ran on 1 thread"
    assert get_backend("scipy-fft").prepare(problem, image, kernel).notes == crop
