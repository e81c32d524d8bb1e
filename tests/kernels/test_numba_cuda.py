"""numba-cuda against the reference: on a real GPU, or in Numba's CUDA simulator (tiny sizes)."""

import os

import numpy as np
import pytest

from harness.measure.reference import reference
from kernels import Problem, get_backend
from kernels._gpu import SIMULATOR_REASON

pytestmark = pytest.mark.gpu  # `make test-gpu` runs these on a real GPU
cuda = pytest.importorskip("numba.cuda")
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
if not SIMULATED and not cuda.is_available():
    pytest.skip("no GPU and no simulator", allow_module_level=True)

# Sizes that are not multiples of the 16x16 tile, so blocks overhang both edges; a 1x1 kernel,
# whose flipped view keeps negative strides through np.ascontiguousarray (a real GPU rejected it).
SHAPES = [((17, 18), (3, 2)), ((1, 20), (1, 3)), ((6, 5), (3, 3)), ((5, 7), (1, 1))]


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


@pytest.mark.parametrize("mode", ["full", "valid"])
def test_kernels_larger_than_a_chunk_run_in_chunks(mode):
    """A 20x17 kernel is walked in 2x2 chunks of 10x9 taps: no shared-memory limit on the kernel."""
    from kernels._cuda_direct import CHUNK, launch_shape

    problem = Problem("conv", mode, (22, 19), (20, 17), "float64", threads=1)
    geometry = launch_shape(problem.out_shape, problem.kernel_shape)
    assert (geometry["kch"], geometry["kcw"]) == (10, 9) and max(problem.kernel_shape) > CHUNK
    rng = np.random.default_rng(5)
    image, kernel = rng.standard_normal((22, 19)), rng.standard_normal((20, 17))
    prepared = get_backend("numba-cuda").prepare(problem, image, kernel)
    prepared()
    np.testing.assert_allclose(prepared.result(), reference(problem, image, kernel), atol=1e-11)


def test_chunks_split_the_kernel_evenly():
    from kernels._cuda_direct import CHUNK, chunk_length

    for n in range(1, 100):
        size = chunk_length(n)
        chunks = -(-n // size)
        assert size <= CHUNK and chunks == -(-n // CHUNK)  # as few chunks as the limit allows
        assert chunks * size - n < chunks  # and under one zero tap per chunk


def test_uploaded_weights_have_positive_strides_for_every_kernel():
    from kernels._gpu import host_weights

    for shape in ((1, 1), (1, 5), (3, 2)):
        kernel = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        weights = host_weights(Problem("conv", "same", (8, 8), shape, "float32"), kernel)
        assert weights.flags.c_contiguous and min(weights.strides) > 0, shape
        np.testing.assert_array_equal(weights, kernel[::-1, ::-1])


GPU_BACKENDS = ("numba-cuda", "cupy-fft", "cupy-fft-cached", "cupy-direct", "cupy-scipy-fft", "torch-cudnn")


def test_simulator_is_not_offered_to_sweeps():
    if not SIMULATED:
        pytest.skip("real GPU: the backend is available")
    for name in GPU_BACKENDS:
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


def test_every_kernel_size_is_supported_and_bounded_in_shared_memory():
    from kernels._cuda_direct import launch_shape, shared_bytes

    for k in (1, 3, 15, 31, 63, 99, 255):
        problem = Problem("corr", "same", (64, 64), (k, k), "float64")
        assert get_backend("numba-cuda").supports(problem)[0]
        assert shared_bytes(launch_shape(problem.out_shape, problem.kernel_shape), 8) <= 48 * 1024, k


def test_gpu_backends_are_registered_as_cuda_with_a_reason_when_they_cannot_run():
    for name in GPU_BACKENDS:
        backend = get_backend(name)
        assert backend.device == "cuda"
        ok, reason = backend.available()
        assert ok or reason, name


def test_cudnn_peer_runs_in_its_best_configuration_and_says_so():
    from harness.measure.case import new_row
    from harness.plan.cases import Case

    backend = get_backend("torch-cudnn")
    assert backend.options() == {"allow_tf32": False, "benchmark": True}
    row = new_row(Case(Problem("corr", "same", (8, 8), (3, 3), "float32")), backend, "r")
    assert row["options"] == "allow_tf32=False, benchmark=True"
