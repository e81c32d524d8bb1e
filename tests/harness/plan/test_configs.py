import subprocess
import sys
import zipfile
from pathlib import Path

from harness.plan.configs import config_dir, config_path

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_configs_are_found():
    assert config_path("calibrate.toml").is_file()
    assert {p.name for p in config_dir().glob("*.toml")} >= {"quick.toml", "calibrate.toml"}


def test_the_wheel_carries_the_configs_and_every_subpackage(tmp_path):
    # Was: configs/ stayed out of the wheel, so `convbench choose` without --results
    # failed outside an editable install; and a wheel must hold every stage of harness/.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    names = set(zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist())
    assert "harness/configs/calibrate.toml" in names and "harness/configs/quick.toml" in names
    stages = {p.parent.name for p in (ROOT / "harness").glob("*/__init__.py")}
    for stage in stages:
        assert f"harness/{stage}/__init__.py" in names, stage
