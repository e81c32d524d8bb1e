"""numba-cuda against the reference: on a real GPU, or in Numba's CUDA simulator (tiny sizes)."""

import os

import numpy as np
import pytest

from harness.measure.reference import reference
from kernels import Problem, get_backend
from kernels._gpu import SIMULATOR_REASON

cuda = pytest.importorskip("numba.cuda")
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
if not SIMULATED and not cuda.is_available():
    pytest.skip("no GPU and no simulator", allow_module_level=True)

# Sizes that are not multiples of the 16x16 tile, so blocks overhang both edges.
SHAPES = [((17, 18), (3, 2)), ((1, 20), (1, 3)), ((6, 5), (3, 3))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["corr", "conv"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_numba_cuda_matches_reference(dtype, op, mode):
    backend = get_backend("numba-cuda")
    rng = np.random.default_rng(2)
    for image_shape, kernel_shape in SHAPES:
        problem = Problem(op, mode, image_shape, kernel_shape, dtype, threads=1)
        image = (rng.random(image_shape) - 0.5).astype(dtype)
        kernel = (rng.random(kernel_shape) - 0.5).astype(dtype)
        prepared = backend.prepare(problem, image, kernel)
        prepared()
        prepared.sync()
        got = prepared.result()
        assert got.shape == problem.out_shape and got.dtype == np.dtype(dtype)
        tol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, reference(problem, image, kernel), atol=tol)
        assert {"upload", "compile", "download"} <= set(prepared.setup_seconds)


def test_simulator_is_not_offered_to_sweeps():
    if not SIMULATED:
        pytest.skip("real GPU: the backend is available")
    for name in ("numba-cuda", "cupy-fft"):
        ok, reason = get_backend(name).available()
        assert not ok and reason


def test_gpu_metadata_says_why_there_are_no_numbers():
    from harness.machine.gpu import collect_gpu, measure_gpu_peaks

    if SIMULATED:
        assert collect_gpu() == {"available": False, "reason": SIMULATOR_REASON}
        assert measure_gpu_peaks()["available"] is False
    else:
        peaks = measure_gpu_peaks()
        assert peaks["copy_gbytes_s"] > 0 and peaks["fp32_gflops"] > 0


def test_large_kernels_that_do_not_fit_shared_memory_are_unsupported():
    ok, reason = get_backend("numba-cuda").supports(Problem("corr", "same", (64, 64), (99, 99), "float64"))
    assert not ok and "shared memory" in reason
