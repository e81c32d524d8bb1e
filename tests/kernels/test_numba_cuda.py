"""numba-cuda against the reference: on a real GPU, or in Numba's CUDA simulator (tiny sizes)."""

import os
import warnings

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


def test_the_search_keeps_the_fastest_launch():
    from kernels._cuda_direct import Launch, fastest_launch

    times = {Launch("staged", 4, 32, 8): 3e-3, Launch("cached", 4, 32, 8): 1e-3, Launch("staged", 8, 32, 8): 2e-3}
    best, seconds = fastest_launch(list(times), times.get)
    assert best == Launch("cached", 4, 32, 8) and seconds == times


def test_candidate_launches_fit_in_shared_memory_and_cache_loads_only_short_kernels():
    from kernels._cuda_direct import CHUNK, DEFAULT, candidate_launches, launch_shape, shared_bytes

    for k in (3, CHUNK, CHUNK + 1, 63):
        launches = candidate_launches((4096, 4096), (k, k), 8)
        assert launches[0] == DEFAULT and len(set(launches)) == len(launches) > 1
        staged = [launch for launch in launches if launch.loads == "staged"]
        assert all(shared_bytes(launch_shape((4096, 4096), (k, k), s.block), 8) <= 48 * 1024 for s in staged)
        assert any(launch.loads == "cached" for launch in launches) == (k <= CHUNK), k
    assert candidate_launches((1, 4096**2), (1, 15), 4) == [DEFAULT]  # one row: one launch shape
    assert candidate_launches((64, 64), (3, 3), 4) == [DEFAULT]  # launch-bound: no search


@pytest.mark.parametrize("op", ["corr", "conv"])
def test_every_timed_launch_computes_the_same_answer(op):
    """The search launches each candidate on the case's arrays; the one it keeps must be right."""
    from kernels._cuda_direct import Launch
    from kernels.numba_cuda import _NumbaCudaPrepared

    problem = Problem(op, "same", (19, 13), (3, 4), "float32", threads=1)
    rng = np.random.default_rng(3)
    image, kernel = rng.standard_normal((19, 13)).astype("float32"), rng.standard_normal((3, 4)).astype("float32")
    for launches in ([Launch("staged", 4, 32, 8), Launch("cached", 8, 32, 8)], [Launch("cached", 4, 32, 8)] * 2):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Simulator timings are bogus")
            prepared = _NumbaCudaPrepared(problem, image, kernel, launches)
        assert prepared.launch in launches and "plan" in prepared.setup_seconds
        assert "loads, block" in prepared.notes and "timed" in prepared.notes
        prepared()
        np.testing.assert_allclose(prepared.result(), reference(problem, image, kernel), atol=1e-5)


@pytest.mark.parametrize("block", [(8, 32, 4), (4, 32, 8)])
@pytest.mark.parametrize("op, mode", [("corr", "same"), ("conv", "full"), ("corr", "valid")])
def test_the_cached_load_kernel_matches_the_reference(op, mode, block):
    """Reads the image through L1 instead of staging it: overhanging blocks clamp their reads, store nothing."""
    from kernels._cuda_direct import bind_cached
    from kernels._gpu import host_weights

    problem = Problem(op, mode, (37, 35), (5, 3), "float64", threads=1)
    rng = np.random.default_rng(8)
    image, kernel = rng.standard_normal((37, 35)), rng.standard_normal((5, 3))
    x, w = cuda.to_device(problem.pad(image)), cuda.to_device(host_weights(problem, kernel))
    out = cuda.to_device(np.full(problem.out_shape, np.nan))
    bind_cached(x, w, out, "float64", block)()
    np.testing.assert_allclose(out.copy_to_host(), reference(problem, image, kernel), atol=1e-12)


def test_the_cached_load_kernel_refuses_kernels_taller_than_a_chunk():
    from kernels._cuda_direct import CHUNK, bind_cached

    w = cuda.to_device(np.ones((CHUNK + 1, 3)))
    with pytest.raises(ValueError, match="kernel rows"):
        bind_cached(cuda.to_device(np.ones((40, 40))), w, cuda.to_device(np.ones((24, 38))), "float64")


def test_the_block_search_is_an_option_recorded_in_rows():
    backend = get_backend("numba-cuda")
    assert backend.options() == {"tune": True}
    with pytest.raises(ValueError, match="tune"):
        backend.check_options({"tune": "yes"})


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


@pytest.mark.parametrize("pass_", ["forward", "backward-data", "backward-weights"])
@pytest.mark.parametrize(("op", "mode"), [("corr", "valid"), ("corr", "same"), ("conv", "full")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_cuda_layers_match_the_reference(pass_, op, mode, dtype):
    from kernels._layers import layer_inputs, reference_layer

    # Odd sizes: blocks overhang every edge; an even kernel side; more taps than one weight-gradient block takes.
    problem = Problem(op, mode, (9, 7), (5, 4), dtype, 1, 2, 3, 2, pass_)
    first, second = layer_inputs(problem, seed=4)
    prepared = get_backend("numba-cuda").prepare(problem, first, second)
    prepared()
    got, expected = prepared.result(), reference_layer(problem, first, second)
    assert got.shape == expected.shape and got.dtype == np.dtype(dtype)
    terms = problem.in_channels * 20 if pass_ != "backward-weights" else problem.batch * problem.outputs
    assert np.abs(got - expected).max() <= terms * np.finfo(dtype).eps * 4
    assert {"upload", "compile", "download"} <= set(prepared.setup_seconds)


def test_numba_cuda_layer_kernels_taller_than_a_chunk_sum_every_row():
    """A 17-row kernel is two chunks of 9 rows; the last chunk's extra row must weigh nothing."""
    from kernels._layers import layer_inputs, reference_layer

    problem = Problem("corr", "valid", (19, 6), (17, 2), "float64", 1, 1, 2, 2, "forward")
    first, second = layer_inputs(problem, seed=5)
    prepared = get_backend("numba-cuda").prepare(problem, first, second)
    prepared()
    np.testing.assert_allclose(prepared.result(), reference_layer(problem, first, second), atol=1e-12)
