"""Sweeps that survive: plugins, crashes, hangs, SIGKILL and resume, full disks, memory."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness.errors import StorageError
from harness.plan.config import parse_config
from harness.store.journal import read_journal
from harness.store.tables import load_results
from harness.sweep import worker as worker_module
from harness.sweep.orchestrate import run_sweep
from tests.harness.sweep.conftest import plugin_env


def _config(tmp_path, backends, sizes, **timing):
    lines = [
        'name = "t"',
        "[sweep]",
        f"backends = {json.dumps(backends)}",
        f"image_size = {sizes}",
        "kernel_size = [3]",
        "threads = 1",
        "[timing]",
        "samples = 5",
    ] + [f"{k} = {v}" for k, v in timing.items()]
    path = tmp_path / "t.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _sweep_with_four_journal_lines(config, out, **popen) -> subprocess.Popen:
    """``convbench run config --out out`` started, returned once its journal has four lines (or after 120 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(config), "--out", str(out)], stdout=subprocess.DEVNULL, **popen
    )
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    return proc


def test_installed_plugin_is_listed_and_swept(plugin_site, tmp_path):
    env = plugin_env(plugin_site)
    listing = subprocess.run([sys.executable, "-m", "harness", "backends"], env=env, capture_output=True, text=True)
    assert listing.returncode == 0 and "demo-direct" in listing.stdout and "crashy" in listing.stdout
    config = _config(tmp_path, ["demo-direct"], [16], min_sample_seconds=0.0)
    run = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(config), "--out", str(tmp_path / "o")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    frame = load_results(tmp_path / "o")
    assert list(frame["backend"]) == ["demo-direct"] and (frame["status"] == "ok").all()


def test_segfaulting_backend_costs_only_its_own_row(with_plugin, tmp_path):
    config = parse_config(
        {
            "sweep": {
                "backends": ["numba-cpu", "crashy", "demo-direct"],
                "image_size": [16, 32, 48],
                "kernel_size": [3],
                "threads": 1,
            },
            "timing": {"min_sample_seconds": 0.0},
        }
    )
    run_sweep(config, tmp_path)
    frame = load_results(tmp_path).set_index(["image_h", "backend"])
    crash = frame.loc[(32, "crashy")]
    assert crash["status"] == "error" and "SIGSEGV" in crash["reason"]
    others = frame.drop(index=(32, "crashy"))
    assert (others["status"] == "ok").all() and len(others) == 8
    assert "timed alone" in frame.loc[(32, "numba-cpu"), "reason"]


def test_hanging_backend_is_stopped_at_the_hard_limit(with_plugin, tmp_path, monkeypatch):
    monkeypatch.setattr(worker_module, "_START_SECONDS", 30.0)
    config = parse_config(
        {
            "sweep": {"backends": ["demo-direct", "sleepy"], "image_size": [16, 48], "kernel_size": [3], "threads": 1},
            "timing": {"min_sample_seconds": 0.0, "case_timeout_seconds": 2},
        }
    )
    start = time.monotonic()
    run_sweep(config, tmp_path)
    frame = load_results(tmp_path).set_index(["image_h", "backend"])
    assert frame.loc[(48, "sleepy"), "status"] == "timeout"
    assert frame.loc[(48, "demo-direct"), "status"] == "ok" and frame.loc[(16, "sleepy"), "status"] == "ok"
    assert time.monotonic() - start < 120


def test_sigkill_then_resume_gives_exactly_the_uninterrupted_rows(tmp_path):
    config = _config(tmp_path, ["numba-cpu", "numpy-fft"], [8, 12, 16, 20, 24, 28, 32, 36], min_sample_seconds=0.05)
    out = tmp_path / "killed"
    proc = _sweep_with_four_journal_lines(config, out, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = out / "journal.jsonl"
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-way
    proc.wait()
    partial = read_journal(journal)
    assert 4 <= len(partial) < 16
    with open(journal, "a") as f:
        f.write('{"backend": "numba-cpu", "op": "co')  # as if killed in the middle of a write
    resumed = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(config), "--out", str(out), "--resume"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    clean = tmp_path / "clean"
    subprocess.run(
        [sys.executable, "-m", "harness", "run", str(config), "--out", str(clean)], check=True, capture_output=True
    )

    def keys(frame):
        return sorted(zip(frame["backend"], frame["image_h"], frame["kernel_h"], frame["op"], frame["status"]))

    killed_then_resumed, uninterrupted = load_results(out), load_results(clean)
    assert keys(killed_then_resumed) == keys(uninterrupted)
    assert len(killed_then_resumed) == len(set(keys(killed_then_resumed))) == 16


def test_full_disk_leaves_a_readable_journal_and_a_clear_error(tmp_path, monkeypatch):
    config = parse_config(
        {
            "sweep": {"backends": ["numpy-fft"], "image_size": [8, 12, 16], "kernel_size": [3], "threads": 1},
            "timing": {"min_sample_seconds": 0.0},
        }
    )
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 3:  # the journal's header, the first case, then the second case fails
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageError, match="No space left on device.*--resume"):
        run_sweep(config, tmp_path, isolate=False)
    rows = read_journal(tmp_path / "journal.jsonl")
    assert [r["image_h"] for r in rows] == [8]


def test_case_that_cannot_fit_in_memory_is_skipped_with_the_figures(tmp_path, monkeypatch):
    from harness.measure import budget

    monkeypatch.setattr(budget, "available_bytes", lambda: 1000)
    config = parse_config(
        {
            "sweep": {"backends": ["numba-cpu"], "image_size": [64], "kernel_size": [3], "threads": 1},
        }
    )
    run_sweep(config, tmp_path, isolate=False)
    row = load_results(tmp_path).iloc[0]
    assert row["status"] == "skipped" and "MiB available" in row["reason"]


def test_nan_output_is_wrong(monkeypatch):
    import numpy as np

    from harness.measure.case import run_case
    from harness.plan.cases import Case, Timing
    from kernels import Problem, get_backend

    backend = get_backend("numpy-fft")
    real_prepare = backend.prepare

    def nan_prepare(problem, image, kernel):
        prepared = real_prepare(problem, image, kernel)
        prepared.result = lambda: np.full(problem.out_shape, np.nan)
        return prepared

    monkeypatch.setattr(backend, "prepare", nan_prepare)
    row = run_case(Case(Problem("corr", "same", (8, 8), (3, 3), "float64", 1)), ["numpy-fft"], Timing())[0]
    assert row["status"] == "wrong" and row["err_rel_l2"] == float("inf")


def test_sigterm_writes_the_tables_of_the_finished_cases(tmp_path):
    """timeout, a batch system's end of job: the case in flight is abandoned, the finished ones tabled."""
    from harness.store.tables import read_metadata

    config = _config(tmp_path, ["numba-cpu", "numpy-fft"], [8, 12, 16, 20, 24, 28, 32, 36], min_sample_seconds=0.05)
    out = tmp_path / "terminated"
    proc = _sweep_with_four_journal_lines(config, out, stderr=subprocess.PIPE, text=True)
    journal = out / "journal.jsonl"
    proc.send_signal(signal.SIGTERM)  # the sweep only, as timeout sends it
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr  # interrupted, as after Ctrl-C
    frame = load_results(out)
    assert (out / "results.parquet").exists() and 2 <= len(frame) < 16
    assert len(frame) == len(read_journal(journal)) and (frame["status"] == "ok").all()
    meta = read_metadata(out)
    assert meta["interrupted"] and meta["terminated"] and meta["matmul_gflops"] == {}
