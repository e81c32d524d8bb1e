from harness import load_results, parse_config, read_metadata, run_sweep
from kernels import get_backend


def test_backend_options_apply_to_the_sweep_and_are_restored(tmp_path):
    raw = {
        "sweep": {"backends": ["fftw", "numpy-fft"], "image_size": [32], "kernel_size": [3], "threads": 1},
        "timing": {"min_sample_seconds": 0.0},
        "backend_options": {"fftw": {"planner": "FFTW_ESTIMATE"}},
    }
    result = run_sweep(parse_config(raw), tmp_path)
    frame = load_results(tmp_path).set_index("backend")
    assert frame.loc["fftw", "options"] == "planner=FFTW_ESTIMATE"
    assert frame.loc["numpy-fft", "options"] == ""
    meta = read_metadata(tmp_path)
    assert meta["backends"]["fftw"]["planner"] == "FFTW_ESTIMATE"
    assert "wisdom" in meta["backends"]["fftw"]
    assert get_backend("fftw").options() == {"planner": "FFTW_MEASURE"}
    assert not result.interrupted


def test_cases_run_cheapest_first(tmp_path):
    raw = {
        "sweep": {"backends": ["numba-cpu"], "image_size": [64, 16], "kernel_size": [5, 3], "threads": 1},
        "timing": {"min_sample_seconds": 0.0},
    }
    run_sweep(parse_config(raw), tmp_path)
    frame = load_results(tmp_path)
    sizes = list(zip(frame["image_h"], frame["kernel_h"]))
    assert sizes == [(16, 3), (16, 5), (64, 3), (64, 5)]


def test_metadata_has_the_threading_layer_of_the_worker_that_ran_the_kernels(tmp_path):
    # 64x64 outputs take numba-cpu's parallel path, which starts numba's thread pool in the
    # worker process only; the parent, which writes the metadata, never runs a kernel.
    config = parse_config(
        {
            "sweep": {"backends": ["numba-cpu"], "image_size": 64, "kernel_size": 3, "threads": 2},
            "timing": {"samples": 5, "min_sample_seconds": 0.0005},
        }
    )
    run_sweep(config, tmp_path)
    assert read_metadata(tmp_path)["numba"]["numba_threading_layer"] in ("omp", "tbb", "workqueue")
