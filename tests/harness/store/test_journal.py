import json

import pytest

from harness.errors import UsageError
from harness.plan.cases import Case
from harness.schema import COLUMN_NAMES as COLUMNS
from harness.store.archive import prepare_out_dir
from harness.store.journal import Journal, read_journal
from harness.store.tables import load_results, rows_to_frame, write_table
from kernels import Problem


def test_journal_round_trip_and_truncated_last_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path) as j:
        j.append([{"backend": "a", "status": "ok"}, {"backend": "b", "status": "ok"}])
    with open(path, "a") as f:
        f.write('{"backend": "c", "sta')
    with pytest.warns(UserWarning, match="truncated"):
        rows = read_journal(path)
    assert [r["backend"] for r in rows] == ["a", "b"]


def test_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"backend": "a"}\nnot json\n{"backend": "b"}\n')
    with pytest.raises(UsageError, match="line 2 is not valid JSON"):
        read_journal(path)


def test_table_has_standard_columns_and_loads_back(tmp_path):
    write_table(tmp_path, rows_to_frame([{"backend": "a", "status": "ok", "samples_s": [1.0, 2.0]}]))
    frame = load_results(tmp_path)
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert list(frame.loc[0, "samples_s"]) == [1.0, 2.0]


def test_load_results_falls_back_to_journal_and_errors_when_empty(tmp_path):
    with pytest.raises(UsageError, match="holds no results"):
        load_results(tmp_path)
    identity = Case(Problem("corr", "same", (8, 8), (3, 3), "float32", 1)).identity()
    (tmp_path / "journal.jsonl").write_text(json.dumps({"backend": "x", **identity, "status": "ok"}) + "\n")
    frame = load_results(tmp_path)
    assert frame.loc[0, "backend"] == "x" and frame.loc[0, "visits"] == 1


def test_earlier_run_is_archived_not_overwritten(tmp_path):
    (tmp_path / "results.parquet").write_text("old")
    archive = prepare_out_dir(tmp_path, resume=False)
    assert (archive / "results.parquet").read_text() == "old"
    assert not (tmp_path / "results.parquet").exists()
    assert prepare_out_dir(tmp_path, resume=False) is None


def test_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write results"):
        prepare_out_dir(blocker / "sub", resume=False)
