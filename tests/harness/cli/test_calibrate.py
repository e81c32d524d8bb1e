"""convbench calibrate: a coarse grid, then rounds of sizes where the choice is close, all in one run."""

import json

import pandas as pd

from harness.cli import main


def test_calibrate_adds_rounds_of_close_sizes_to_one_run(tmp_path, monkeypatch, capsys):
    import harness.analyse.adaptive
    import harness.cli.calibrate
    import harness.plan.configs

    (tmp_path / "calibrate.toml").write_text(
        'name = "calibrate"\n[sweep]\nbackends = ["numba-cpu", "numpy-fft"]\nimage_size = [16, 48]\n'
        "kernel_size = [3, 15]\nthreads = 1\n[timing]\nsamples = 5\nmin_sample_seconds = 0.0005\n"
    )
    monkeypatch.setattr(harness.plan.configs, "config_dir", lambda: tmp_path)
    monkeypatch.setattr(harness.cli.calibrate, "COARSE_IMAGES", (16, 48))
    monkeypatch.setattr(harness.cli.calibrate, "COARSE_KERNELS", (3, 15))
    monkeypatch.setattr(harness.analyse.adaptive, "FINE_IMAGES", (16, 24, 32, 48, 64))
    monkeypatch.setattr(harness.analyse.adaptive, "FINE_KERNELS", (3, 5, 9, 15, 21))
    monkeypatch.setattr(harness.analyse.adaptive, "UNSURE_WITHIN", 100.0)  # every size is "close" here
    out = tmp_path / "cal"
    assert main(["calibrate", "--out", str(out), "--rounds", "2", "--points", "2"]) == 0
    frame = pd.read_parquet(out / "results.parquet")
    sizes = set(zip(frame["image_h"], frame["kernel_h"]))
    history = json.loads((out / "metadata.json").read_text())["config"]["adaptive"]
    assert [tuple(s) for s in history["coarse"]] == [(16, 3), (16, 15), (48, 3), (48, 15)]
    assert len(history["rounds"]) == 2 and all(len(r) == 2 for r in history["rounds"])
    assert sizes == {*map(tuple, history["coarse"]), *(tuple(s) for r in history["rounds"] for s in r)}
    assert all(16 <= i <= 48 and 3 <= k <= 15 for i, k in sizes)  # refined within the coarse grid
    assert len(frame) == 2 * len(sizes) and (frame["status"] == "ok").all()
    assert "use it with: convbench choose --results" in " ".join(capsys.readouterr().out.split())


def test_calibrate_refuses_nonsense_counts(capsys):
    assert main(["calibrate", "--rounds", "-1"]) == 2
    assert "--rounds must be >= 0" in capsys.readouterr().err


def test_the_coarse_grid_keeps_to_calibrate_toml_s_range_and_includes_its_ends():
    from harness.cli.calibrate import coarse_grid

    assert coarse_grid([64, 128, 256, 512, 1024, 2048], (64, 256, 1024, 2048)) == (64, 256, 1024, 2048)
    assert coarse_grid([32, 100, 600], (64, 256, 1024, 2048)) == (32, 64, 256, 600)
    assert coarse_grid([5, 5], (3, 9, 21, 63)) == (5,)
