import pickle

import numpy as np
import pytest

from kernels import Problem, get_backend
from kernels._fft_geometry import best_shape, length_penalty

pyfftw = pytest.importorskip("pyfftw")


def test_wisdom_round_trips_through_the_cache_dir(tmp_path, monkeypatch):
    from kernels import _wisdom

    monkeypatch.setenv("CONVBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_wisdom, "_loaded", False)
    pyfftw.forget_wisdom()
    problem = Problem("corr", "same", (40, 40), (5, 5), "float32", 1)
    prepared = get_backend("fftw").prepare(problem, np.zeros((40, 40)), np.zeros((5, 5)))
    _wisdom.save()
    path = _wisdom.wisdom_path()
    assert path.parent == tmp_path

    def plan_from_wisdom_only():
        a = pyfftw.empty_aligned(prepared.fft_shape, "float32")
        b = pyfftw.empty_aligned((prepared.fft_shape[0], prepared.fft_shape[1] // 2 + 1), "complex64")
        pyfftw.FFTW(a, b, axes=(0, 1), flags=("FFTW_MEASURE", "FFTW_WISDOM_ONLY"))

    pyfftw.forget_wisdom()
    with pytest.raises(RuntimeError):  # no wisdom: FFTW refuses to plan
        plan_from_wisdom_only()
    monkeypatch.setattr(_wisdom, "_loaded", False)
    _wisdom.load_once()  # what the next process does before its first plan
    plan_from_wisdom_only()
    assert len(pickle.loads(path.read_bytes())[1]) > 0  # single-precision wisdom, as planned


def test_cached_spectrum_variant_times_only_the_image_transform():
    problem = Problem("corr", "same", (30, 30), (4, 4), "float64", 1)
    cached = get_backend("fftw-cached").prepare(problem, np.ones((30, 30)), np.ones((4, 4)))
    assert "kernel_spectrum" in cached.setup_seconds and cached.cache_kernel
    plain = get_backend("fftw").prepare(problem, np.ones((30, 30)), np.ones((4, 4)))
    cached()
    plain()
    np.testing.assert_allclose(cached.result(), plain.result(), atol=1e-12)


def test_padded_sizes_avoid_odd_and_seven_heavy_lengths():
    assert length_penalty(1024) == 1.0
    assert length_penalty(1125) > 3 and length_penalty(11) == float("inf")
    assert best_shape((1025, 1025)) == (1080, 1080)
    rows, cols = best_shape((1, 1031))
    assert rows == 1 and cols >= 1031 and length_penalty(cols) < 1.2  # 1-D: only the row axis is padded
