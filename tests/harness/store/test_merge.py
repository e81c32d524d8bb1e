"""convbench merge: runs of different machines side by side; the same measurement twice is refused."""

import json
import shutil
from pathlib import Path

import pytest

from harness.analyse.chooser import machine_rows
from harness.cli import main
from harness.errors import UsageError
from harness.machine.fingerprint import metadata_machine
from harness.store.merge import merge_runs
from harness.store.tables import load_results, read_metadata

CALIBRATE = Path(__file__).parents[3] / "results" / "calibrate"


def _as_other_machine(src: Path, dst: Path, cpu: str) -> Path:
    """A copy of a run whose metadata says it was measured on another CPU (a schema-2 table: no machine column)."""
    shutil.copytree(src, dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta["machine"]["cpu_model"] = cpu
    (dst / "metadata.json").write_text(json.dumps(meta))
    return dst


def test_merge_keeps_both_machines_and_refuses_the_same_measurement_twice(tmp_path):
    a = _as_other_machine(CALIBRATE, tmp_path / "a", "Intel Xeon")
    b = _as_other_machine(CALIBRATE, tmp_path / "b", "AMD EPYC 9004")
    frame, meta = merge_runs([a, b])
    assert frame["machine"].nunique() == 2 and len(frame) == 2 * len(load_results(CALIBRATE))
    assert set(meta["machines"]) == set(frame["machine"])
    with pytest.raises(UsageError, match="both measured the same cases"):
        merge_runs([a, _as_other_machine(CALIBRATE, tmp_path / "c", "Intel Xeon")])
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 0
    report = (tmp_path / "m" / "report.md").read_text()
    assert "## Crossover by machine" in report and "machines-crossover.png" in report
    assert len(load_results(tmp_path / "m")) == len(frame)


def test_chooser_refuses_another_machines_calibration_unless_named(tmp_path):
    other = _as_other_machine(CALIBRATE, tmp_path / "x", "Intel Xeon")
    frame, meta = load_results(other), read_metadata(other)
    here = metadata_machine(read_metadata(CALIBRATE))
    with pytest.raises(UsageError, match="another machine .*cpu_model Intel Xeon vs .*--machine"):
        machine_rows(frame, meta, here)
    named = frame["machine"].iloc[0]
    rows, note = machine_rows(frame, meta, here, machine=named)
    assert len(rows) == len(frame) and "not this one" in note
    rows, note = machine_rows(load_results(CALIBRATE), read_metadata(CALIBRATE), here)
    assert len(rows) == len(load_results(CALIBRATE)) and note == ""
