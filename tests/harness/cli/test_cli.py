import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.schema import COLUMN_NAMES as COLUMNS
from harness.store.tables import load_results, read_metadata

TINY = """
name = "tiny"
[sweep]
backends = ["numba-cpu", "fftw", "numpy-fft"]
op = ["corr", "conv"]
mode = "same"
dtype = "float32"
image_size = [16, 32]
kernel_size = [3, 9]
threads = 1
[timing]
samples = 5
min_sample_seconds = 0.0005
"""


def _png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    config = root / "tiny.toml"
    config.write_text(TINY)
    out = root / "out"
    assert main(["run", str(config), "--out", str(out)]) == 0
    return config, out


def test_run_writes_parquet_metadata_and_real_pngs(tiny_run):
    _, out = tiny_run
    frame = load_results(out)
    assert set(COLUMNS) <= set(frame.columns)
    assert len(frame) == 2 * 2 * 2 * 3
    assert (frame["status"] == "ok").all()
    assert (frame["n"] >= 5).all() and (frame["median_s"] > 0).all()
    assert frame.loc[frame["backend"] == "fftw", "plan_s"].notna().all()
    assert frame.loc[frame["backend"] == "numba-cpu", "compile_s"].notna().all()
    meta = read_metadata(out)
    assert meta["config"]["name"] == "tiny" and meta["machine"]["cpu_model"]
    assert meta["matmul_gflops"]["float32"]["1"] > 0
    assert (frame["peak_fraction"] > 0).all()
    expected = frame["gflops"] / meta["matmul_gflops"]["float32"]["1"]
    assert frame["peak_fraction"].to_numpy() == pytest.approx(expected.to_numpy())
    for name in ("times.png", "crossover.png", "winner.png", "model.png"):
        assert _png(out / name)
    fft = frame[frame["method"] == "fft"]
    assert (fft["fft_blocks"] == 1).all() and (fft["fft_h"] >= fft["image_h"]).all()


def test_resume_skips_finished_cases(tiny_run, capsys):
    config, out = tiny_run
    before = len(load_results(out))
    assert main(["run", str(config), "--out", str(out), "--resume"]) == 0
    assert len(load_results(out)) == before


def test_plot_redraws_from_the_table(tiny_run):
    _, out = tiny_run
    (out / "times.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert _png(out / "times.png")


def test_backends_lists_every_backend(capsys):
    assert main(["backends"]) == 0
    text = capsys.readouterr().out
    for name in ("numba-cpu", "fftw", "numpy-fft"):
        assert name in text


@pytest.mark.parametrize(
    "body, message",
    [
        (
            '[sweep]\nbackends = ["numba-cpu"]\nimage_size = [8]\nkernel_size = [3]\nmdoe = "same"\n',
            "did you mean 'mode'",
        ),
        ('[sweep]\nbackends = ["nope"]\nimage_size = [8]\nkernel_size = [3]\n', "unknown backend 'nope'"),
        ("[sweep\n", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path, body, message):
    config = tmp_path / "bad.toml"
    config.write_text(body)
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(config), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


def test_missing_config_and_bad_subcommand_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_a_full_disk_is_a_storage_error_not_a_usage_error(tmp_path, monkeypatch, capsys):
    import errno
    import os

    cfg = tmp_path / "c.toml"
    cfg.write_text('[sweep]\nbackends = ["numba-cpu"]\nimage_size = 16\nkernel_size = 3\nthreads = 1\n')

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code = main(["run", str(cfg), "--out", str(tmp_path / "out"), "--no-isolate"])
    err = capsys.readouterr().err
    assert code == 1, err  # 2 is for bad input; the user typed nothing wrong
    assert "No space left on device" in err and "--resume" in err
