import json

import pandas as pd
import pytest

from harness.analyse.chooser import choose, outside_calibration
from harness.analyse.regret import regret_summary, validate_choices
from harness.cli import main
from harness.cli._console import parse_shape
from harness.errors import UsageError
from harness.store.tables import load_results
from kernels import Problem
from tests.harness.synthetic import direct_law, fft_law, synthetic_run

CAL_IMAGES, CAL_KERNELS = [64, 128, 256, 512, 1024], [3, 5, 7, 9, 11, 15, 21, 31, 45]


@pytest.fixture(scope="module")
def calibration():
    return synthetic_run(CAL_IMAGES, CAL_KERNELS, noise=0.02)


def test_choice_follows_the_laws_far_from_the_crossover(calibration):
    small = choose((300, 300), (3, 3), results=calibration)
    large = choose((300, 300), (41, 41), results=calibration)
    assert small["backend"].iloc[0] == "numba-cpu" and large["backend"].iloc[0] == "fftw"
    problem = Problem("corr", "same", (300, 300), (41, 41), "float32", 2)
    predicted = large.set_index("backend")["predicted_s"]
    assert predicted["fftw"] == pytest.approx(fft_law(problem), rel=0.05)
    assert predicted["numba-cpu"] == pytest.approx(direct_law(problem), rel=0.05)
    assert list(large.columns) == [
        "backend", "method", "device", "predicted_s", "model_s", "one_time_s", "total_s", "threads", "note"
    ]  # fmt: skip


def test_validation_on_unseen_sizes_meets_the_quality_bar(calibration):
    validation = synthetic_run([96, 192, 384, 768], [4, 6, 10, 13, 18, 25, 37], noise=0.02, seed=1)
    scores = validate_choices(calibration, validation)
    assert len(scores) == 4 * 7 and not scores["calibrated_size"].any()
    summary = regret_summary(scores).set_index("chooser")
    assert summary.loc["convbench", "max"] <= 1.05 and summary.loc["convbench", "median"] == 1.0
    assert (scores["convbench: regret"] >= 1.0).all()
    # The fixed choosers pay where their method is the wrong one: always FFT on small kernels.
    assert summary.loc["always FFT", "max"] > 2 and summary.loc["always direct", "max"] > 1.5


def test_validation_flags_sizes_the_calibration_saw(calibration):
    scores = validate_choices(calibration, synthetic_run([128], [5], seed=2))
    assert scores["calibrated_size"].all()


def test_local_correction_follows_what_the_two_parameter_model_misses():
    # A direct loop twice as slow per multiply-add at kernels >= 15 (say, a different code path).
    laws = {
        "numba-cpu": ("direct", lambda p: direct_law(p) * (2.0 if p.kernel_shape[0] >= 15 else 1.0)),
        "fftw": ("fft", fft_law),
    }
    frame = synthetic_run(CAL_IMAGES, CAL_KERNELS, laws=laws)
    problem = Problem("corr", "same", (384, 384), (21, 21), "float32", 2)
    ranked = choose((384, 384), (21, 21), results=frame).set_index("backend")
    truth = laws["numba-cpu"][1](problem)
    assert abs(ranked.loc["numba-cpu", "predicted_s"] / truth - 1) < abs(ranked.loc["numba-cpu", "model_s"] / truth - 1)
    assert ranked.loc["numba-cpu", "predicted_s"] == pytest.approx(truth, rel=0.05)


def test_missing_dtype_or_threads_is_a_clear_error(calibration):
    with pytest.raises(UsageError, match="no float64 results; calibrated dtypes: float32"):
        choose(256, 5, results=calibration, dtype="float64")
    with pytest.raises(UsageError, match="calibrated thread counts: 2"):
        choose(256, 5, results=calibration, threads=8)
    with pytest.raises(UsageError, match="acceptable modes"):
        choose(256, 5, results=calibration, mode="middle")


def test_other_op_and_mode_fall_back_with_a_note(calibration):
    ranked = choose((256, 256), (5, 5), results=calibration, op="conv", mode="full")
    assert "calibrated on corr same" in ranked["note"].iloc[0]
    assert ranked["backend"].iloc[0] == "numba-cpu"


def test_queries_outside_the_calibration_are_noted(calibration):
    assert outside_calibration(calibration, (256, 256), (5, 5)) == ""
    note = outside_calibration(calibration, (4096, 4096), (5, 5))
    assert "image size 4096 is outside the calibrated 64..1024" in note


def test_parse_shape():
    assert parse_shape("512", "image") == (512, 512)
    assert parse_shape("480x640", "image") == (480, 640)
    assert parse_shape("1x4096", "image") == (1, 4096)
    with pytest.raises(UsageError, match="--kernel: expected N, HxW or 1xL"):
        parse_shape("3x", "kernel")


def _write_run(frame: pd.DataFrame, directory):
    directory.mkdir()
    frame.to_parquet(directory / "results.parquet")
    return directory


def test_cli_choose_and_validate(calibration, tmp_path, capsys):
    cal = _write_run(calibration, tmp_path / "cal")
    val = _write_run(synthetic_run([96, 384], [4, 13, 37], seed=3), tmp_path / "val")
    assert main(["choose", "--image", "300", "--kernel", "41", "--results", str(cal)]) == 0
    out = capsys.readouterr().out
    assert "fastest: fftw (fft)" in out and "numba-cpu" in out
    assert main(["choose", "--results", str(cal), "--validate", str(val)]) == 0
    out = capsys.readouterr().out
    assert "regret per chooser on the same cases" in out and "OpenCV" in out
    assert main(["choose", "--image", "300", "--results", str(cal)]) == 2
    assert "needs --image and --kernel" in capsys.readouterr().err


def test_choose_on_a_small_real_calibration(tmp_path):
    """A real calibration and a validation at sizes it never ran: the chooser's pipeline end to end."""
    common = """
[sweep]
backends = ["numba-cpu", "numpy-fft"]
op = "corr"
mode = "same"
dtype = "float32"
threads = 1
[timing]
samples = 5
min_sample_seconds = 0.001
"""
    cal_cfg, val_cfg = tmp_path / "cal.toml", tmp_path / "val.toml"
    cal_cfg.write_text(
        'name = "cal"\n'
        + common.replace("threads = 1", "threads = 1\nimage_size = [32, 64, 128]\nkernel_size = [3, 7, 15, 31]")
    )
    val_cfg.write_text(
        'name = "val"\n'
        + common.replace("threads = 1", "threads = 1\nimage_size = [48, 96]\nkernel_size = [5, 11, 23]")
    )
    assert main(["run", str(cal_cfg), "--out", str(tmp_path / "cal"), "--no-isolate"]) == 0
    assert main(["run", str(val_cfg), "--out", str(tmp_path / "val"), "--no-isolate"]) == 0
    scores = validate_choices(tmp_path / "cal", tmp_path / "val")
    assert len(scores) == 6 and not scores["calibrated_size"].any()
    # Each score is the measured time of the pick over the measured fastest of the validation run.
    measured = load_results(tmp_path / "val").set_index(["image_h", "kernel_h", "backend"])["median_s"].sort_index()
    for r in scores.to_dict("records"):
        times = measured.loc[(r["image_h"], r["kernel_h"])]
        assert r["fastest"] == times.idxmin() and r["fastest_s"] == times.min()
        for chooser in ("convbench", "always direct", "always FFT"):
            pick = r[f"{chooser}: pick"]
            assert r[f"{chooser}: regret"] == pytest.approx(times[pick] / times.min())
            assert r[f"{chooser}: regret"] >= 1.0
    assert regret_summary(scores)["max"].min() >= 1.0
    # Direct at 3x3 and FFT at 31x31 are apart by far more than the noise of this machine.
    assert choose(96, 3, results=tmp_path / "cal", threads=1)["backend"].iloc[0] == "numba-cpu"


def test_choose_without_results_calibrates_once_then_reuses(tmp_path, monkeypatch, capsys):
    import harness.cli.choose
    import harness.plan.configs

    config = tmp_path / "calibrate.toml"
    config.write_text(
        'name = "calibrate"\n[sweep]\nbackends = ["numba-cpu", "numpy-fft"]\nimage_size = [16, 32]\n'
        "kernel_size = [3, 9]\nthreads = 1\n[timing]\nsamples = 5\nmin_sample_seconds = 0.0005\n"
    )
    monkeypatch.setattr(harness.plan.configs, "config_dir", lambda: tmp_path)
    monkeypatch.setattr(harness.cli.choose, "DEFAULT_RESULTS", tmp_path / "results")
    query = ["choose", "--image", "24", "--kernel", "5", "--mode", "valid", "--dtype", "float64"]
    assert main(query) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "no calibration for corr valid float64" in out and "fastest:" in out
    # The first calibration is the adaptive one, on calibrate.toml's backends and range of sizes.
    made = tmp_path / "results" / "calibrate-adaptive-corr-valid-float64"
    frame = pd.read_parquet(made / "results.parquet")
    assert set(frame["mode"]) == {"valid"} and set(frame["dtype"]) == {"float64"}
    assert set(frame["backend"]) == {"numba-cpu", "numpy-fft"}
    assert set(zip(frame["image_h"], frame["kernel_h"])) == {(16, 3), (16, 9), (32, 3), (32, 9)}
    assert json.loads((made / "metadata.json").read_text())["config"]["adaptive"]["coarse"]
    assert main(query) == 0
    assert "no calibration" not in capsys.readouterr().out
    # A fixed-grid run (convbench run configs/calibrate.toml --out ...) is used when there is no adaptive one.
    made.rename(tmp_path / "results" / "calibrate-corr-valid-float64")
    assert main(query) == 0
    assert "no calibration" not in capsys.readouterr().out and not made.exists()
