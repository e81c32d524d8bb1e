from harness.plan.config import parse_config
from harness.store.tables import load_results, read_metadata
from harness.sweep.orchestrate import run_sweep
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


def _small(**extra):
    raw = {
        "sweep": {"backends": ["numba-cpu"], "image_size": [16], "kernel_size": [3], "threads": 1},
        "timing": {"min_sample_seconds": 0.0},
    }
    return parse_config({**raw, **extra})


def test_an_empty_options_table_for_a_backend_without_options_runs(tmp_path):
    # Was: validation passed, then the sweep crashed calling options() that numba-cpu lacked.
    result = run_sweep(_small(backend_options={"numba-cpu": {}}), tmp_path, isolate=False)
    assert set(result.frame["status"]) == {"ok"}
    assert read_metadata(tmp_path)["backends"]["numba-cpu"]["options"] == {}


def test_a_second_run_into_a_directory_in_use_is_refused(tmp_path):
    import pytest

    from harness.errors import UsageError
    from harness.store.lock import DirectoryLock

    with DirectoryLock(tmp_path):
        with pytest.raises(UsageError, match=r"another convbench run \(pid \d+\) is writing to"):
            run_sweep(_small(), tmp_path, isolate=False)
    assert not (tmp_path / "journal.jsonl").exists()  # refused before touching anything
    run_sweep(_small(), tmp_path, isolate=False)  # free again once the first run is done
    assert (tmp_path / "results.parquet").exists()


def test_table_and_metadata_carry_the_schema_version(tmp_path):
    from harness.schema import SCHEMA_VERSION

    run_sweep(_small(), tmp_path, isolate=False)
    assert read_metadata(tmp_path)["schema_version"] == SCHEMA_VERSION
    first = (tmp_path / "journal.jsonl").read_text().splitlines()[0]
    assert f'"schema_version": {SCHEMA_VERSION}' in first


def test_visits_go_over_every_case_in_turn_and_resume_by_visit(tmp_path):
    import json

    from harness.store.journal import read_journal

    config = _small(
        sweep={"backends": ["numba-cpu", "numpy-fft"], "image_size": [16, 24], "kernel_size": [3], "threads": 1},
        timing={"min_sample_seconds": 0.0, "visits": 3, "ci_target": 0},
    )
    result = run_sweep(config, tmp_path, isolate=False)
    rows = read_journal(tmp_path / "journal.jsonl")
    # Both cases, then both again: the visits of a case are as far apart as the run allows.
    assert [(r["visit"], r["image_h"]) for r in rows][::2] == [(p, i) for p in range(3) for i in (16, 24)]
    assert result.cases_run == 6
    frame = result.frame.set_index(["backend", "image_h"])
    assert (frame["visits"] == 3).all() and frame["visit_medians_s"].map(len).eq(3).all()
    assert (frame["n"] == 15).all()  # 5 samples per visit, pooled

    # Killed during the last round of visits: the resumed run measures only the visits it lacks.
    lines = (tmp_path / "journal.jsonl").read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line).get("visit") != 2 or json.loads(line)["image_h"] == 16]
    (tmp_path / "journal.jsonl").write_text("".join(kept))
    resumed = run_sweep(config, tmp_path, resume=True, isolate=False)
    assert (resumed.cases_run, resumed.cases_skipped_as_done) == (1, 5)
    assert (resumed.frame["visits"] == 3).all() and len(resumed.frame) == 4
