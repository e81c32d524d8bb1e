import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import UsageError
from harness.plan.cases import Case
from harness.schema import (
    CASE_COLUMNS,
    COLUMN_NAMES,
    IDENTITY,
    SCHEMA_VERSION,
    STATUSES,
    case_key,
    markdown_table,
    row_key,
    row_problem,
)
from harness.store.tables import load_results, write_metadata, write_table
from kernels import Problem

ROOT = Path(__file__).resolve().parents[2]


def test_readme_column_table_is_the_schemas():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_every_column_is_named_once_and_identity_comes_first():
    assert len(COLUMN_NAMES) == len(set(COLUMN_NAMES))
    assert set(IDENTITY) <= set(COLUMN_NAMES)
    assert all(f"`{status}`" in markdown_table() for status in STATUSES)


def test_case_key_and_row_key_agree_for_resume():
    case = Case(Problem("conv", "valid", (1, 40), (1, 5), "float64", 2), "normal", 3)
    row = {"backend": "fftw", **case.identity(), "status": "ok"}
    assert row_key(row) == (case.key, "fftw", 0)  # a row from before visits is the first visit
    assert row_key({**row, "visit": 2}) == (case.key, "fftw", 2)
    assert case_key(row) == tuple(row[c] for c in CASE_COLUMNS)
    assert row_problem(row) == case.problem


def _write(tmp_path, version):
    write_table(tmp_path, pd.DataFrame([{"backend": "a", "status": "ok"}]))
    write_metadata(tmp_path, {"config_name": "t"})
    path = tmp_path / "metadata.json"
    meta = json.loads(path.read_text())
    assert meta["schema_version"] == SCHEMA_VERSION
    if version is None:
        del meta["schema_version"]
    else:
        meta["schema_version"] = version
    path.write_text(json.dumps(meta))


def test_current_table_loads_quietly(tmp_path):
    _write(tmp_path, SCHEMA_VERSION)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_results(tmp_path).loc[0, "backend"] == "a"


def test_older_table_loads_with_a_note(tmp_path):
    _write(tmp_path, None)
    assert "schema_version" not in (tmp_path / "metadata.json").read_text()
    with pytest.warns(UserWarning, match="results schema 1"):
        frame = load_results(tmp_path)
    assert list(frame.columns[: len(COLUMN_NAMES)]) == list(COLUMN_NAMES)


def test_newer_table_is_refused(tmp_path):
    _write(tmp_path, SCHEMA_VERSION + 1)
    with pytest.raises(UsageError, match="newer than this convbench"):
        load_results(tmp_path)


@pytest.mark.parametrize("run", sorted(p.parent.name for p in (ROOT / "results").glob("*/results.parquet")))
def test_committed_runs_load_with_the_current_schema(run):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = load_results(ROOT / "results" / run)
    assert (frame["status"] == "ok").any()
    assert list(frame.columns[: len(COLUMN_NAMES)]) == list(COLUMN_NAMES)
